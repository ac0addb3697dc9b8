//! `boxpy run` basics: exit codes and signals pass through (SPEC §5), arguments and stdin
//! reach the program untouched, output is byte-exact, and `--json` is one honest object.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::harness::{
    assert_exit, assert_started, host_process_with, python, run_in_venv, runner_tests, unique,
    Runner, Workspace, MARKER,
};

const READY: Duration = Duration::from_secs(20);

runner_tests! {
    /// A program that exits 0 gives 0.
    fn exit_zero_passes_through(runner) {
        let ws = Workspace::new(&runner);
        let output = run_in_venv(&ws).code("import sys; sys.exit(0)").run();
        assert_started(&output);
        assert_exit(&output, 0);
    }

    /// A program's own exit code passes through.
    fn exit_three_passes_through(runner) {
        let ws = Workspace::new(&runner);
        let output = run_in_venv(&ws).code("import sys; sys.exit(3)").run();
        assert_started(&output);
        assert_exit(&output, 3);
    }

    /// The program's exit 1 is 1, not mistaken for bwrap's own setup failure (also 1).
    fn program_exit_one_is_not_a_sandbox_failure(runner) {
        let ws = Workspace::new(&runner);
        let output = run_in_venv(&ws)
            .code("import sys; print('exiting 1', flush=True); sys.exit(1)")
            .run();
        assert_started(&output);
        assert_exit(&output, 1);
        assert!(
            !output.stderr_text().contains("error:"),
            "boxpy reported its own error for the program's exit 1: {output}"
        );
    }

    /// Killed by SIGKILL inside the sandbox: 128 + 9.
    fn program_killed_by_sigkill_exits_137(runner) {
        let ws = Workspace::new(&runner);
        let output = run_in_venv(&ws)
            .code("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
            .run();
        assert_started(&output);
        assert_exit(&output, 137);
    }

    /// Killed by SIGTERM inside the sandbox: 128 + 15.
    fn program_killed_by_sigterm_exits_143(runner) {
        let ws = Workspace::new(&runner);
        let output = run_in_venv(&ws)
            .code("import os, signal; os.kill(os.getpid(), signal.SIGTERM)")
            .run();
        assert_started(&output);
        assert_exit(&output, 143);
    }

    /// Ctrl-C (SIGINT to boxpy) reaches the program as KeyboardInterrupt; boxpy exits 130.
    fn sigint_to_boxpy_interrupts_the_program(runner) {
        let ws = Workspace::new(&runner);
        let mut running = run_in_venv(&ws)
            .code(
                r#"
                import time
                print("ready", flush=True)
                # Short sleeps: a SIGINT that lands after CPython's last check for pending
                # signals but before it enters clock_nanosleep does not interrupt that
                # sleep (a CPython race, not boxpy's); the next check raises it.
                for _ in range(600):
                    time.sleep(0.1)
                print("slept through the interrupt", flush=True)
                "#,
            )
            .spawn();
        running.wait_for_stdout("ready", READY);
        let sent = Instant::now();
        running.signal(Signal::SIGINT);
        let output = running.finish();
        assert_started(&output);
        assert_exit(&output, 130);
        let stderr = output.stderr_text();
        assert!(
            stderr.contains("Traceback") && stderr.contains("KeyboardInterrupt"),
            "the program's KeyboardInterrupt traceback is missing: {output}"
        );
        assert!(!output.stdout_text().contains("slept through"), "{output}");
        assert!(sent.elapsed() < Duration::from_secs(20), "took {:?}", sent.elapsed());
    }

    /// SIGTERM to boxpy is forwarded; the program dies of it and boxpy exits 143.
    fn sigterm_to_boxpy_terminates_the_program(runner) {
        let ws = Workspace::new(&runner);
        let mut running = run_in_venv(&ws)
            .code(
                r#"
                import time
                print("ready", flush=True)
                time.sleep(60)
                print("survived SIGTERM", flush=True)
                "#,
            )
            .spawn();
        running.wait_for_stdout("ready", READY);
        running.signal(Signal::SIGTERM);
        let output = running.finish();
        assert_started(&output);
        assert_exit(&output, 143);
        assert!(!output.stdout_text().contains("survived"), "{output}");
    }

    /// SIGKILL to boxpy (which cannot forward it) still takes down the program and a
    /// daemon it started (setsid + double fork).
    fn sigkill_to_boxpy_kills_every_sandboxed_process(runner) {
        let ws = Workspace::new(&runner);
        let token = unique("boxpy-sigkill-token");
        let mut running = run_in_venv(&ws).code(SPAWN_DAEMON).arg(&token).spawn();
        running.wait_for_stdout("ready", READY);
        wait_until(Duration::from_secs(10), || host_process_with(&format!("{token}-daemon")))
            .expect("the daemon's token should appear in host /proc while it runs");
        running.signal(Signal::SIGKILL);
        let output = running.finish();
        assert_eq!(output.signal, Some(9), "boxpy itself should die of SIGKILL: {output}");
        assert_no_process_left(&token);
    }

    /// At `--timeout` boxpy exits 124 and every process in the sandbox is gone.
    fn timeout_kills_every_sandboxed_process(runner) {
        let ws = Workspace::new(&runner);
        let token = unique("boxpy-timeout-token");
        let started = Instant::now();
        let output = run_in_venv(&ws)
            .args(["--timeout", "2s"])
            .code(SPAWN_DAEMON)
            .arg(&token)
            .run();
        assert_started(&output);
        assert_exit(&output, 124);
        assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
        assert_no_process_left(&token);
    }
}

/// Python that starts a daemon (setsid, double fork) whose argv carries `sys.argv[1]` +
/// `-daemon`, says `ready`, and sleeps.
const SPAWN_DAEMON: &str = r#"
import os, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        code = "import time; time.sleep(120)"
        os.execv(sys.executable, [sys.executable, "-c", code, sys.argv[1] + "-daemon"])
    os._exit(0)
os.wait()
print("ready", flush=True)
time.sleep(120)
"#;

/// Polls `probe` until it returns something or `within` passes.
fn wait_until<T>(within: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = probe() {
            return Some(found);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Fails (after killing it) if a host process still carries `token` 5 s from now.
#[track_caller]
fn assert_no_process_left(token: &str) {
    let gone = wait_until(Duration::from_secs(5), || {
        host_process_with(token).is_none().then_some(())
    });
    if gone.is_none() {
        let pid = host_process_with(token).unwrap_or(0);
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
        panic!(
            "pid {pid} ({}) outlived boxpy by 5 s",
            String::from_utf8_lossy(&cmdline).replace('\0', " ")
        );
    }
}

/// Python that prints its arguments as JSON: `argv [...]`.
const PRINT_ARGV: &str = "import json, sys; print('argv', json.dumps(sys.argv[1:]))";

#[test]
fn script_arguments_pass_through_untouched() {
    let ws = Workspace::new(&Runner::Caller);
    ws.write("work/x.py", python(PRINT_ARGV));
    let output = run_in_venv(&ws)
        .args(["x.py", "a", "--policy", "b", "--", "c"])
        .run();
    assert_started(&output);
    assert_exit(&output, 0);
    assert_eq!(
        output.line_after("argv "),
        r#"["a", "--policy", "b", "--", "c"]"#,
        "{output}"
    );
}

#[test]
fn code_string_arguments_pass_through_untouched() {
    let ws = Workspace::new(&Runner::Caller);
    let output = run_in_venv(&ws)
        .code("import json, sys; print('argv', json.dumps(sys.argv))")
        .args(["a", "--json", "-q", "--", "b"])
        .run();
    assert_started(&output);
    assert_exit(&output, 0);
    assert_eq!(
        output.line_after("argv "),
        r#"["-c", "a", "--json", "-q", "--", "b"]"#,
        "{output}"
    );
}

#[test]
fn module_arguments_pass_through_untouched() {
    let ws = Workspace::new(&Runner::Caller);
    ws.write("work/argmod.py", python(PRINT_ARGV));
    let output = run_in_venv(&ws)
        .args(["-m", "argmod", "x", "--venv", "-v"])
        .run();
    assert_started(&output);
    assert_exit(&output, 0);
    assert_eq!(
        output.line_after("argv "),
        r#"["x", "--venv", "-v"]"#,
        "{output}"
    );
}

#[test]
fn dash_reads_the_program_from_stdin() {
    let ws = Workspace::new(&Runner::Caller);
    let output = run_in_venv(&ws)
        .args(["-", "one", "--two"])
        .stdin(python(
            "import json, sys; print('argv', json.dumps(sys.argv))",
        ))
        .run();
    assert_started(&output);
    assert_exit(&output, 0);
    assert_eq!(
        output.line_after("argv "),
        r#"["-", "one", "--two"]"#,
        "{output}"
    );
}

#[test]
fn workdir_flag_sets_the_programs_cwd() {
    let ws = Workspace::new(&Runner::Caller);
    let output = run_in_venv(&ws)
        .cwd(&ws.root())
        .args(["-w", "work"])
        .code("import os; print('cwd', os.getcwd())")
        .run();
    assert_started(&output);
    assert_exit(&output, 0);
    assert_eq!(
        output.line_after("cwd "),
        ws.work().display().to_string(),
        "{output}"
    );
}

#[test]
fn stdin_is_inherited_by_the_program() {
    let ws = Workspace::new(&Runner::Caller);
    let output = run_in_venv(&ws)
        .code("line = input(); print('got', repr(line))")
        .stdin("hello from the host\nsecond line\n")
        .run();
    assert_started(&output);
    assert_exit(&output, 0);
    assert_eq!(
        output.line_after("got "),
        "'hello from the host'",
        "{output}"
    );
}

#[test]
fn stdout_and_stderr_are_byte_exact() {
    let ws = Workspace::new(&Runner::Caller);
    let output = run_in_venv(&ws)
        .code(
            r#"
            import sys
            sys.stdout.buffer.write(b"\x00\xff\xfe not utf-8 \xc3\x28\r\nno newline at the end")
            sys.stderr.buffer.write(b"err \x80\x81\x00 bytes\r\n\tand no newline")
            "#,
        )
        .run();
    assert_exit(&output, 0);
    let mut expected_stdout = format!("{MARKER}\n").into_bytes();
    expected_stdout.extend_from_slice(b"\x00\xff\xfe not utf-8 \xc3\x28\r\nno newline at the end");
    assert_eq!(output.stdout, expected_stdout, "{output}");
    assert_eq!(
        output.stderr,
        b"err \x80\x81\x00 bytes\r\n\tand no newline".to_vec(),
        "{output}"
    );
}

#[test]
fn large_output_arrives_complete() {
    let ws = Workspace::new(&Runner::Caller);
    const SIZE: usize = 5 * 1024 * 1024;
    let output = run_in_venv(&ws)
        .code(&format!(
            "import sys; sys.stdout.buffer.write(bytes(range(256)) * ({SIZE} // 256))"
        ))
        .run();
    assert_exit(&output, 0);
    let body = output
        .stdout
        .strip_prefix(format!("{MARKER}\n").as_bytes())
        .unwrap_or_else(|| panic!("no marker: {output}"));
    assert_eq!(body.len(), SIZE, "stdout length");
    let pattern: Vec<u8> = (0..=255u8).collect();
    assert!(
        body.chunks(256).all(|chunk| chunk == pattern.as_slice()),
        "the 5 MiB output arrived corrupted"
    );
}

/// A large stderr (streamed with splice, its tail kept in a kernel pipe for the report)
/// arrives byte-exact, and the failure report still finds the traceback after it.
#[test]
fn large_stderr_arrives_complete_and_the_report_finds_the_traceback() {
    let ws = Workspace::new(&Runner::Caller);
    const SIZE: usize = 3 * 1024 * 1024 + 123;
    let output = run_in_venv(&ws)
        .code(&format!(
            r#"
            import sys
            pattern = bytes(range(256))
            sys.stderr.buffer.write((pattern * ({SIZE} // 256 + 1))[:{SIZE}])
            sys.stderr.flush()
            raise LookupError("after the flood")
            "#
        ))
        .run();
    assert_started(&output);
    assert_exit(&output, 1);
    let pattern: Vec<u8> = (0..=255u8).cycle().take(SIZE).collect();
    assert!(
        output.stderr.starts_with(&pattern),
        "the first {SIZE} bytes of stderr are not the program's: {} bytes arrived",
        output.stderr.len()
    );
    let rest = String::from_utf8_lossy(&output.stderr[SIZE..]);
    assert!(
        rest.starts_with("Traceback (most recent call last):"),
        "{rest}"
    );
    assert!(
        rest.contains("error: LookupError: after the flood"),
        "boxpy's report should follow the traceback: {rest}"
    );
}

#[test]
fn json_result_is_one_object_with_every_field() {
    let ws = Workspace::new(&Runner::Caller);
    let output = run_in_venv(&ws)
        .arg("--json")
        .code(
            r#"
            import sys
            print("to stdout")
            print("to stderr", file=sys.stderr)
            sys.exit(3)
            "#,
        )
        .run();
    assert_exit(&output, 3);
    let text = output.stdout_text();
    assert_eq!(
        text.trim_end().lines().count(),
        1,
        "one line on stdout: {output}"
    );
    let json = output.json();
    let object = json.as_object().expect("a JSON object");
    for field in [
        "schema",
        "status",
        "exit_code",
        "signal",
        "duration_ms",
        "stdout",
        "stderr",
        "stdout_truncated",
        "stderr_truncated",
        "error",
        "resources",
        "policy",
    ] {
        assert!(object.contains_key(field), "missing `{field}`: {json}");
    }
    assert_eq!(json["schema"], 1);
    assert_eq!(json["status"], "failed");
    assert_eq!(json["exit_code"], 3);
    assert!(json["signal"].is_null(), "{json}");
    assert!(json["duration_ms"].is_u64(), "{json}");
    assert_eq!(json["stdout"], format!("{MARKER}\nto stdout\n"));
    assert_eq!(json["stderr"], "to stderr\n");
    assert_eq!(json["stdout_truncated"], false);
    assert_eq!(json["stderr_truncated"], false);
    assert!(json["resources"]["cpu_ms"].is_u64(), "{json}");
    assert!(
        json["resources"]["max_rss_kib"].as_u64() > Some(0),
        "{json}"
    );
    assert_eq!(json["policy"]["name"], "default");
    assert_eq!(json["policy"]["network"], "none");
    assert!(
        output.stderr.is_empty(),
        "--json leaves stderr to boxpy alone: {output}"
    );
}

#[test]
fn json_reports_a_killed_program() {
    let ws = Workspace::new(&Runner::Caller);
    let output = run_in_venv(&ws)
        .arg("--json")
        .code("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
        .run();
    assert_exit(&output, 137);
    let json = output.json();
    assert_eq!(json["status"], "killed", "{json}");
    assert_eq!(json["signal"], 9, "{json}");
    assert_eq!(json["exit_code"], 137, "{json}");
    assert_eq!(json["stdout"], format!("{MARKER}\n"), "{json}");
}

#[test]
fn json_reports_honest_memory_usage() {
    let ws = Workspace::new(&Runner::Caller);
    let output = run_in_venv(&ws)
        .arg("--json")
        .code(
            r#"
            block = b"\x01" * (200 * 1024 * 1024)
            print("allocated", len(block))
            "#,
        )
        .run();
    assert_exit(&output, 0);
    let json = output.json();
    assert_eq!(
        json["stdout"],
        format!("{MARKER}\nallocated 209715200\n"),
        "{json}"
    );
    let rss = json["resources"]["max_rss_kib"].as_u64().unwrap_or(0);
    assert!(
        rss > 150_000,
        "max_rss_kib {rss} for a 200 MiB program: {json}"
    );
}

/// A shell that runs boxpy with both streams into one pipe, read by the Python `reader`
/// (`boxpy ... 2>&1 | python3 -c READER`).
fn into_one_pipe_read_by(reader: &str) -> [String; 4] {
    [
        "/bin/sh".to_owned(),
        "-c".to_owned(),
        format!("\"$@\" 2>&1 | /usr/bin/python3 -c \"{reader}\""),
        "sh".to_owned(),
    ]
}

/// Both streams into one pipe of the caller's (`2>&1 | reader`), as a shell pipeline
/// gives them: every byte of each arrives, and boxpy has made the caller's 64 KiB pipe
/// 1 MiB large, as large as the program's own, so that the hop through boxpy moves as much
/// a wake-up as the program's writes do (docs/performance.md, bench/run case 3).
#[test]
fn both_streams_into_one_pipe_arrive_whole_and_the_pipe_is_widened() {
    let ws = Workspace::new(&Runner::Caller);
    const SIZE: usize = 3 * 1024 * 1024;
    let reader = "import fcntl, sys; data = sys.stdin.buffer.read(); \
                  print(len(data), data.count(b'O'), data.count(b'E'), fcntl.fcntl(0, 1032))";
    let output = run_in_venv(&ws)
        .through(into_one_pipe_read_by(reader))
        .code(&format!(
            r#"
            import os
            for _ in range({SIZE} // 65536):
                os.write(1, b"O" * 65536)
                os.write(2, b"E" * 65536)
            "#
        ))
        .run();
    assert_exit(&output, 0);
    let seen = output.stdout_text();
    let numbers: Vec<usize> = seen
        .split_whitespace()
        .map(|word| word.parse().unwrap_or(0))
        .collect();
    assert_eq!(numbers.len(), 4, "{output}");
    assert_eq!(numbers[1], SIZE, "stdout bytes: {output}");
    assert_eq!(numbers[2], SIZE, "stderr bytes: {output}");
    assert_eq!(numbers[3], 1 << 20, "the caller's pipe size: {output}");
}

/// A run that prints little leaves the caller's pipe as it was: only a large stream widens
/// pipes, whose pages count against an ordinary user's `fs.pipe-user-pages-soft`.
#[test]
fn a_small_output_leaves_the_callers_pipe_alone() {
    let ws = Workspace::new(&Runner::Caller);
    let reader = "import fcntl, sys; data = sys.stdin.buffer.read(); \
                  print(len(data), fcntl.fcntl(0, 1032))";
    let output = run_in_venv(&ws)
        .through(into_one_pipe_read_by(reader))
        .code("import sys; print('x' * 100_000); print('y' * 100_000, file=sys.stderr)")
        .run();
    assert_exit(&output, 0);
    assert!(
        output.stdout_text().trim_end().ends_with(" 65536"),
        "the caller's pipe should keep its 64 KiB: {output}"
    );
}
