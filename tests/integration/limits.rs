//! `[limits]` and `filesystem.tmp_size` (SPEC §4, §5): every limit is shown to hold by a
//! pair of runs of the same program, a control without the limit (or with a generous one)
//! where it succeeds, and the limited run where it fails the expected way. See
//! `src/exec/limits.rs` for how each is enforced (rlimits; memory and pids cgroups when
//! boxpy can create them, which it can as root here).
//!
//! The last test shows that ordinary Python (numpy with OpenBLAS threads, threads,
//! multiprocessing with every start method, process pools, subprocesses, asyncio) still
//! works under the default policy, limits and seccomp filter included.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::escape::assert_host_can_fork;
use crate::harness::{
    assert_exit, assert_no_process_left, assert_started, boxpy, dedent, py, require_venv,
    run_in_venv, runner_tests, unique, Output, Runner, Venv, Workspace, MARKER,
};

/// A policy file in the workspace root (outside the workdir), for `--policy`.
fn policy(ws: &Workspace, text: &str) -> PathBuf {
    ws.write(&format!("{}.toml", unique("limits")), dedent(text))
}

/// The limited run of a pair: `run_in_venv` with `--policy FILE`.
fn with_policy(ws: &Workspace, text: &str) -> crate::harness::Boxpy {
    run_in_venv(ws).arg("--policy").arg(policy(ws, text))
}

/// How many bytes a stdout/stderr pair carried, without boxpy's `limits.output` notice
/// (and the blank line it starts with).
fn forwarded_bytes(output: &Output) -> usize {
    let stderr = output.stderr_text();
    let notice: usize = stderr
        .lines()
        .filter(|line| line.contains("limits.output"))
        .map(|line| line.len() + 2)
        .sum();
    output.stdout.len() + output.stderr.len() - notice.min(output.stderr.len())
}

/// Asserts a run ended at the memory limit: killed by SIGKILL (the memory cgroup, where
/// boxpy can create one: as root here) or a `MemoryError` (RLIMIT_DATA, for an ordinary
/// user), and either way boxpy's report names `limits.memory` (SPEC §6).
#[track_caller]
fn assert_memory_limit_hit(output: &Output) {
    match output.code {
        Some(137) => {}
        Some(1) => assert!(
            output.stderr_text().contains("MemoryError"),
            "exit 1 without a MemoryError: {output}"
        ),
        _ => panic!("the memory limit did not stop the program: {output}"),
    }
    assert!(
        output.stderr_text().contains("limits.memory"),
        "stopped at the memory limit, but the report does not name `limits.memory`: {output}"
    );
}

runner_tests! {
    /// `limits.timeout`: a 0.3 s sleep finishes under `--timeout 10s`; a 30 s sleep under
    /// `--timeout 1s` is stopped: exit 124, `--json` says `status: "timeout"`.
    fn timeout_stops_the_program(runner) {
        let ws = Workspace::new(&runner);
        let program =
            "import sys, time\ntime.sleep(float(sys.argv[1]))\nprint('woke up', flush=True)";
        let control = run_in_venv(&ws)
            .args(["--json", "--timeout", "10s"])
            .code(program)
            .arg("0.3")
            .run();
        assert_exit(&control, 0);
        let json = control.json();
        assert_eq!(json["status"], "ok", "{control}");
        assert_eq!(json["stdout"], format!("{MARKER}\nwoke up\n"), "{control}");

        let started = Instant::now();
        let limited = run_in_venv(&ws)
            .args(["--json", "--timeout", "1s"])
            .code(program)
            .arg("30")
            .run();
        assert_exit(&limited, 124);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "took {:?}: {limited}",
            started.elapsed()
        );
        let json = limited.json();
        assert_eq!(json["status"], "timeout", "{limited}");
        assert_eq!(json["exit_code"], 124, "{limited}");
        assert_eq!(
            json["stdout"],
            format!("{MARKER}\n"),
            "python did not start, or woke up: {limited}"
        );
    }

    /// `limits.cpu`: 1 s of CPU runs to the end without `--cpu` (and `--json` reports
    /// `resources.cpu_ms` > 500 for it); under `--cpu 1s` a longer spin gets SIGXCPU: exit
    /// 152, and the report names `limits.cpu`.
    fn cpu_limit_stops_a_spin_with_sigxcpu(runner) {
        let ws = Workspace::new(&runner);
        let program = r#"
            import sys, time
            start = time.process_time()
            while time.process_time() - start < float(sys.argv[1]):
                pass
            print("spun", flush=True)
        "#;
        let control = run_in_venv(&ws)
            .arg("--json")
            .code(program)
            .arg("1.0")
            .run();
        assert_exit(&control, 0);
        let json = control.json();
        assert_eq!(json["stdout"], format!("{MARKER}\nspun\n"), "{control}");
        let cpu_ms = json["resources"]["cpu_ms"].as_u64().unwrap_or(0);
        assert!(cpu_ms > 500, "cpu_ms {cpu_ms} for a 1 s spin: {json}");

        let token = unique("boxpy-limits-cpu");
        let started = Instant::now();
        let limited = run_in_venv(&ws)
            .args(["--cpu", "1s"])
            .code(program)
            .args(["10", &token])
            .run();
        assert_started(&limited);
        assert_exit(&limited, 152);
        assert!(!limited.stdout_text().contains("spun"), "{limited}");
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "took {:?}",
            started.elapsed()
        );
        assert!(limited.stderr_text().contains("limits.cpu"), "{limited}");
        assert_no_process_left(&token);
    }

    /// `limits.memory`: 200 MiB (touched) fit under `--memory 512MiB`; 400 MiB under
    /// `--memory 128MiB` are stopped: killed (137) by the memory cgroup or `MemoryError`
    /// under RLIMIT_DATA, the report naming `limits.memory` either way.
    fn memory_limit_stops_an_allocation(runner) {
        let ws = Workspace::new(&runner);
        let program = r#"
            import sys
            blocks = [b"\x01" * (1 << 20) for _ in range(int(sys.argv[1]))]
            print("allocated", len(blocks), flush=True)
        "#;
        let control = run_in_venv(&ws)
            .args(["--memory", "512MiB"])
            .code(program)
            .arg("200")
            .run();
        assert_exit(&control, 0);
        assert_eq!(control.line_after("allocated "), "200", "{control}");

        let token = unique("boxpy-limits-memory");
        let limited = run_in_venv(&ws)
            .args(["--memory", "128MiB", "--timeout", "30s"])
            .code(program)
            .args(["400", &token])
            .run();
        assert_started(&limited);
        assert!(!limited.stdout_text().contains("allocated"), "{limited}");
        assert_memory_limit_hit(&limited);
        assert_no_process_left(&token);
    }

    /// `limits.processes`: 100 sleeping children start under the default policy (512);
    /// under `processes = 32` fork fails with EAGAIN (as root the pids cgroup counts
    /// the init and the program too; an ordinary user's RLIMIT_NPROC counts the tasks in the
    /// sandbox's user namespace since Linux 5.14, all the user's before, where boxpy raises
    /// it by those). The host can still fork and no child is left.
    fn process_limit_makes_fork_fail(runner) {
        let ws = Workspace::new(&runner);
        let program = r#"
            import errno, os, sys, time
            children, error = 0, None
            for _ in range(int(sys.argv[1])):
                try:
                    pid = os.fork()
                except OSError as failure:
                    error = errno.errorcode.get(failure.errno, failure.errno)
                    break
                if pid == 0:
                    time.sleep(60)
                    os._exit(0)
                children += 1
            print("forked", children, error, flush=True)
        "#;
        let token = unique("boxpy-limits-processes");
        let control = run_in_venv(&ws).code(program).args(["100", &token]).run();
        assert_exit(&control, 0);
        assert_eq!(control.line_after("forked "), "100 None", "{control}");
        assert_no_process_left(&token);

        let limited = with_policy(&ws, "[limits]\nprocesses = 32\ntimeout = \"30s\"")
            .code(program)
            .args(["100", &token])
            .run();
        assert_started(&limited);
        assert_exit(&limited, 0);
        let result = limited.line_after("forked ");
        let (count, error) = result.split_once(' ').expect("`forked N ERROR`");
        let count: u32 = count.parse().expect("a count");
        assert_eq!(error, "EAGAIN", "{limited}");
        let per_namespace = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .and_then(|release| {
                let mut parts = release.split(|c: char| !c.is_ascii_digit());
                let major: u32 = parts.next()?.parse().ok()?;
                let minor: u32 = parts.next()?.parse().ok()?;
                Some((major, minor) >= (5, 14))
            })
            .unwrap_or(false);
        let bound = if per_namespace || (runner == Runner::Caller && crate::harness::is_root()) {
            32
        } else {
            96
        };
        assert!(
            count < bound,
            "{count} children under `processes = 32`: {limited}"
        );
        assert_host_can_fork();
        assert_no_process_left(&token);
    }

    /// `limits.file_size`: a 2 MiB file is written under the default policy; under
    /// `file_size = "1MiB"` the write fails with EFBIG "File too large" (Python ignores
    /// SIGXFSZ; escape.rs shows the 153 exit when it does not) and the host file stops at
    /// exactly 1 MiB.
    fn file_size_limit_stops_a_write(runner) {
        let ws = Workspace::new(&runner);
        let program = r#"
            import errno, sys
            try:
                with open(sys.argv[1], "wb", buffering=0) as handle:
                    for _ in range(8):
                        handle.write(b"\x01" * (256 << 10))
                print("wrote", flush=True)
            except OSError as error:
                print("refused", errno.errorcode[error.errno], error.strerror, flush=True)
        "#;
        let control = run_in_venv(&ws).code(program).arg("control.bin").run();
        assert_exit(&control, 0);
        assert!(control.stdout_text().contains("\nwrote\n"), "{control}");
        assert_eq!(
            std::fs::metadata(ws.work().join("control.bin"))
                .expect("control.bin")
                .len(),
            2 << 20
        );

        let limited = with_policy(&ws, "[limits]\nfile_size = \"1MiB\"")
            .code(program)
            .arg("limited.bin")
            .run();
        assert_started(&limited);
        assert_exit(&limited, 0);
        assert_eq!(
            limited.line_after("refused "),
            "EFBIG File too large",
            "{limited}"
        );
        assert_eq!(
            std::fs::metadata(ws.work().join("limited.bin"))
                .expect("limited.bin")
                .len(),
            1 << 20
        );
    }

    /// A limit the kernel refuses (`open_files` above `fs.nr_open`, which not even root may
    /// exceed) stops the run before the program starts: exit 125, a heading that says a
    /// limit could not be applied (not a bwrap failure), the rlimit and errno as the cause,
    /// and a hint that names the policy key. The program never runs without its limit.
    fn a_limit_the_kernel_refuses_stops_the_run(runner) {
        let ws = Workspace::new(&runner);
        let nr_open: u64 = std::fs::read_to_string("/proc/sys/fs/nr_open")
            .expect("fs.nr_open")
            .trim()
            .parse()
            .expect("a number");
        let output = with_policy(&ws, &format!("[limits]\nopen_files = {}", nr_open + 1))
            .code("print('ran')")
            .run();
        assert_exit(&output, 125);
        assert!(!output.stdout_text().contains(MARKER), "the program ran: {output}");
        let stderr = output.stderr_text();
        assert!(
            stderr.contains("could not apply a limit") && !stderr.contains("bubblewrap failed"),
            "{output}"
        );
        assert!(stderr.contains(&format!("nofile={}", nr_open + 1)), "{output}");
        assert!(stderr.contains("`limits.open_files`"), "{output}");
    }

    /// `limits.open_files`: 100 files open under the default policy; under
    /// `open_files = 64` opening fails with EMFILE before 64, and the limit cannot be raised
    /// from inside.
    fn open_files_limit_gives_emfile(runner) {
        let ws = Workspace::new(&runner);
        let program = r#"
            import errno, resource
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (hard + 1, hard + 1))
                print("raise SUCCEEDED", flush=True)
            except ValueError as error:
                print("raise refused", error, flush=True)
            handles, error = [], None
            try:
                for _ in range(100):
                    handles.append(open("/dev/null"))
            except OSError as failure:
                error = errno.errorcode[failure.errno]
            print("opened", len(handles), error, flush=True)
        "#;
        let control = run_in_venv(&ws).code(program).run();
        assert_exit(&control, 0);
        assert_eq!(control.line_after("opened "), "100 None", "{control}");

        let limited = with_policy(&ws, "[limits]\nopen_files = 64")
            .code(program)
            .run();
        assert_started(&limited);
        assert_exit(&limited, 0);
        assert!(
            limited.line_after("raise ").starts_with("refused"),
            "{limited}"
        );
        let result = limited.line_after("opened ");
        let (count, error) = result.split_once(' ').expect("`opened N ERROR`");
        assert_eq!(error, "EMFILE", "{limited}");
        assert!(count.parse::<u32>().expect("a count") < 64, "{limited}");
    }

    /// `filesystem.tmp_size`: 16 MiB fit in `/tmp` under the default policy (1 GiB);
    /// under `tmp_size = "8MiB"` writing fails with ENOSPC "No space left on device" at
    /// 8 MiB. Nothing reaches the host's `/tmp`.
    fn tmp_size_limit_gives_enospc(runner) {
        let ws = Workspace::new(&runner);
        let token = unique("boxpy-limits-tmp");
        let program = format!(
            r#"
            import errno
            written = 0
            try:
                with open("/tmp/" + {token}, "wb", buffering=0) as handle:
                    for _ in range(32):
                        handle.write(b"\x01" * (512 << 10))
                        written += 512 << 10
                print("wrote", written, flush=True)
            except OSError as error:
                print("refused", written, errno.errorcode[error.errno], error.strerror, flush=True)
            "#,
            token = py(&token)
        );
        let control = run_in_venv(&ws).code(&program).run();
        assert_exit(&control, 0);
        assert_eq!(
            control.line_after("wrote "),
            (16u32 << 20).to_string(),
            "{control}"
        );

        let limited = with_policy(&ws, "[filesystem]\ntmp_size = \"8MiB\"")
            .code(&program)
            .run();
        assert_started(&limited);
        assert_exit(&limited, 0);
        let result = limited.line_after("refused ");
        let (written, error) = result.split_once(' ').expect("`refused N ERROR`");
        assert_eq!(error, "ENOSPC No space left on device", "{limited}");
        assert!(
            written.parse::<u64>().expect("a count") <= 8 << 20,
            "{limited}"
        );
        assert!(
            !PathBuf::from("/tmp").join(&token).exists(),
            "the file reached the host's /tmp"
        );
    }

    /// `limits.output`: 200 KiB of output arrive whole under the default policy; under
    /// `output = "10KiB"` a program writing 4 MiB to each of stdout and stderr still runs
    /// to its end quickly (it is never blocked), the forwarded output stops at the limit,
    /// stderr has exactly one notice naming `limits.output`, and `--json` reports
    /// `stdout_truncated: true`.
    fn output_limit_truncates_without_blocking(runner) {
        let ws = Workspace::new(&runner);
        // The pause lets boxpy forward the marker before the flood: the budget is shared by
        // two pumps racing each other, so without it stderr's flood may take all of it
        // before stdout's pump has read the marker (which was written first).
        let program = r#"
            import os, sys, time
            time.sleep(0.3)
            line = "x" * 1023 + "\n"
            for _ in range(int(sys.argv[1])):
                sys.stdout.write(line)
                sys.stderr.write(line)
            sys.stdout.flush()
            sys.stderr.flush()
            open("finished", "w").close()
        "#;
        let control = run_in_venv(&ws).code(program).arg("100").run();
        assert_exit(&control, 0);
        assert_eq!(
            control.stdout.len(),
            MARKER.len() + 1 + 100 * 1024,
            "{control}"
        );
        assert_eq!(control.stderr.len(), 100 * 1024, "{control}");
        std::fs::remove_file(ws.work().join("finished")).expect("the control finished");

        let limit = "[limits]\noutput = \"10KiB\"";
        let started = Instant::now();
        let limited = with_policy(&ws, limit).code(program).arg("4096").run();
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "took {:?}: {limited}",
            started.elapsed()
        );
        assert_started(&limited);
        assert_exit(&limited, 0);
        assert!(
            ws.work().join("finished").exists(),
            "the program did not run to its end: {limited}"
        );
        let forwarded = forwarded_bytes(&limited);
        assert!(
            (8 << 10..=10 << 10).contains(&forwarded),
            "{forwarded} bytes forwarded: {limited}"
        );
        let notices = limited
            .stderr_text()
            .lines()
            .filter(|l| l.contains("limits.output"))
            .count();
        assert_eq!(notices, 1, "{limited}");

        std::fs::remove_file(ws.work().join("finished")).expect("the limited run finished");
        let json_run = with_policy(&ws, limit)
            .arg("--json")
            .code(program)
            .arg("4096")
            .run();
        assert_exit(&json_run, 0);
        assert!(
            ws.work().join("finished").exists(),
            "the program did not run to its end: {json_run}"
        );
        let json = json_run.json();
        assert_eq!(json["stdout_truncated"], true, "{json}");
        let captured = json["stdout"].as_str().unwrap_or_default().len()
            + json["stderr"].as_str().unwrap_or_default().len();
        assert!(captured <= 10 << 10, "{captured} bytes captured: {json}");
        assert!(
            json["stdout"]
                .as_str()
                .unwrap_or_default()
                .starts_with(MARKER),
            "{json}"
        );
    }

    /// Ordinary Python works under the default policy (its limits and seccomp filter):
    /// numpy's `linalg` on a 300x300 matrix (OpenBLAS starts threads), threads,
    /// multiprocessing with fork, spawn and forkserver (from a script file: spawn re-imports
    /// `__main__`), `ProcessPoolExecutor`, `subprocess.run(["true"])` and asyncio with a
    /// subprocess.
    fn python_works_under_the_default_policy(runner) {
        let numpy_venv = require_venv!(Venv::Numpy);
        let ws = Workspace::new(&runner);
        let script = ws.write(
            "work/everyday.py",
            EVERYDAY_PYTHON.replace("MARKER", &py(MARKER)),
        );
        let output = boxpy(&ws)
            .arg("run")
            .arg("--venv")
            .arg(&numpy_venv)
            .arg(&script)
            .run();
        assert_started(&output);
        for check in [
            "numpy",
            "blas threads",
            "threads",
            "mp fork",
            "mp spawn",
            "mp forkserver",
            "process pool",
            "subprocess",
            "asyncio subprocess",
        ] {
            assert_eq!(
                output.line_after(&format!("{check}: ")),
                "ok",
                "{check}: {output}"
            );
        }
        assert_exit(&output, 0);
    }
}

/// The everyday-Python script (`MARKER` is replaced by the marker literal). Each check
/// prints `NAME: ok` or `NAME: FAILED ...`; only the main process prints the marker.
const EVERYDAY_PYTHON: &str = r#"
import asyncio, concurrent.futures, multiprocessing, os, subprocess, sys, threading

def square(value):
    return value * value

def put(queue):
    queue.put(os.getpid())

def check_numpy():
    import numpy
    rng = numpy.random.default_rng(0)
    matrix = rng.standard_normal((300, 300))
    inverse = numpy.linalg.inv(matrix)
    assert numpy.allclose(matrix @ inverse, numpy.eye(300), atol=1e-6)
    numpy.linalg.eigvals(matrix)
    numpy.linalg.svd(matrix)

def check_blas_threads():
    # OpenBLAS starts its worker threads on first use; one per core.
    threads = len(os.listdir("/proc/self/task"))
    assert threads > 1 or os.cpu_count() == 1, f"{threads} threads"

def check_threads():
    results = []
    workers = [threading.Thread(target=lambda i=i: results.append(square(i))) for i in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(results) == [square(i) for i in range(8)]

def check_mp(method):
    context = multiprocessing.get_context(method)
    with context.Pool(2) as pool:
        assert pool.map(square, range(10)) == [square(i) for i in range(10)]
    queue = context.Queue()
    process = context.Process(target=put, args=(queue,))
    process.start()
    assert queue.get(timeout=60) > 0
    process.join(60)
    assert process.exitcode == 0, process.exitcode

def check_process_pool():
    with concurrent.futures.ProcessPoolExecutor(2) as executor:
        assert list(executor.map(square, range(5), timeout=60)) == [0, 1, 4, 9, 16]

def check_subprocess():
    subprocess.run(["true"], check=True, timeout=60)

def check_asyncio_subprocess():
    async def main():
        process = await asyncio.create_subprocess_exec(
            "echo", "from a child", stdout=asyncio.subprocess.PIPE)
        out, _ = await process.communicate()
        assert out == b"from a child\n" and process.returncode == 0, (out, process.returncode)
    asyncio.run(main())

CHECKS = [
    ("numpy", check_numpy),
    ("blas threads", check_blas_threads),
    ("threads", check_threads),
    ("mp fork", lambda: check_mp("fork")),
    ("mp spawn", lambda: check_mp("spawn")),
    ("mp forkserver", lambda: check_mp("forkserver")),
    ("process pool", check_process_pool),
    ("subprocess", check_subprocess),
    ("asyncio subprocess", check_asyncio_subprocess),
]

if __name__ == "__main__":
    print(MARKER, flush=True)
    failed = False
    for name, check in CHECKS:
        try:
            check()
            print(f"{name}: ok", flush=True)
        except BaseException as error:
            failed = True
            print(f"{name}: FAILED {type(error).__name__}: {error}", flush=True)
    sys.exit(1 if failed else 0)
"#;

/// The cgroups boxpy creates for `limits.memory` / `limits.processes` do not pile up on the
/// host when boxpy itself is killed (SIGKILL: no destructor runs), at the latest once the
/// next boxpy run is over. Caller only: only root can create cgroups on this machine; an
/// ordinary user's limits are rlimits, which leave nothing behind.
#[test]
fn cgroups_of_a_killed_boxpy_do_not_pile_up() {
    if !crate::harness::is_root() {
        eprintln!("SKIPPED: boxpy only creates cgroups as root here");
        return;
    }
    let ws = Workspace::new(&Runner::Caller);
    let token = unique("boxpy-limits-cgroup");
    let mut running = run_in_venv(&ws)
        .args(["--memory", "256MiB"])
        .code("import time\nprint('ready', flush=True)\ntime.sleep(60)")
        .arg(&token)
        .spawn();
    running.wait_for_stdout("ready", Duration::from_secs(30));
    // The sandbox's cgroups (v1: one per controller; v2: one), as the kernel lists them for
    // any of its processes (bwrap joins them before exec; everything inherits them).
    let memberships = crate::harness::host_processes_with(&token)
        .into_iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok())
        .find(|text| text.contains("/boxpy-"))
        .unwrap_or_default();
    let directories: Vec<PathBuf> = memberships
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            if !path.contains("/boxpy-") {
                return None;
            }
            let root = PathBuf::from("/sys/fs/cgroup");
            let base = if controllers.is_empty() {
                root
            } else {
                root.join(controllers)
            };
            Some(base.join(path.trim_start_matches('/')))
        })
        .collect();
    if directories.is_empty() {
        eprintln!("SKIPPED: boxpy created no cgroup here (limits are rlimits): {memberships}");
        return;
    }
    assert!(directories.iter().all(|d| d.is_dir()), "{directories:?}");
    running.signal(nix::sys::signal::Signal::SIGKILL);
    let output = running.finish();
    assert_eq!(output.signal, Some(9), "{output}");
    assert_no_process_left(&token);
    // Another run with a cgroup-backed limit, which is over before the check.
    let next = run_in_venv(&ws)
        .args(["--memory", "256MiB"])
        .code("pass")
        .run();
    assert_exit(&next, 0);
    let left: Vec<&PathBuf> = directories.iter().filter(|d| d.exists()).collect();
    // This test's own leftovers go (they are empty once the sandbox is gone), pass or fail.
    for directory in &left {
        let _ = std::fs::remove_dir(directory);
    }
    assert!(
        left.is_empty(),
        "cgroups of a SIGKILLed boxpy are still on the host after the next run: {left:?}"
    );
}
