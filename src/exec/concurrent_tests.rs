//! Sixteen runs at once in one process, through the library API ([`Runtime::library`],
//! [`run_in`]): each one's output, exit status, limits, notices and cgroups are its own,
//! and no cgroup is left behind. Real bwrap, the system's Python.

use std::sync::{Arc, Mutex};

use super::*;
use crate::cli::SandboxArgs;
use crate::settings::Program;

const RUNS: usize = 16;

/// The host, with the boxpy binary built beside this test (the sandbox's init is boxpy's
/// own executable; this test's binary is not one); `None` (skip) without bwrap, Python or
/// that binary (`cargo test` builds it; `cargo test --lib` may not).
pub(crate) fn host() -> Option<crate::host::HostFacts> {
    use crate::backend::Backend;
    let mut host = crate::backend::bwrap::Bwrap::probe(std::env::var_os("PATH").as_deref())
        .ok()?
        .host()
        .clone();
    let boxpy = std::env::current_exe()
        .ok()?
        .parent()?
        .parent()?
        .join("boxpy");
    if !boxpy.is_file() || !std::path::Path::new("/usr/bin/python3").exists() {
        eprintln!("SKIPPED: no bwrap, /usr/bin/python3 or {}", boxpy.display());
        return None;
    }
    host.boxpy_executable = boxpy;
    Some(host)
}

/// `boxpy run -c CODE` under the default policy (`--json` when `json`), resolved and
/// rendered for a run boxpy starts.
pub(crate) fn code_run(
    host: &crate::host::HostFacts,
    code: &str,
    json: bool,
) -> (crate::settings::Invocation, crate::sandbox::BwrapCommand) {
    let args = SandboxArgs {
        policy: Some("default".to_owned()),
        quiet: true,
        json,
        ..SandboxArgs::default()
    };
    let lookup = |name: &str| std::env::var_os(name);
    let invocation = crate::settings::resolve(
        &args,
        Program::Code(code.to_owned(), Vec::new()),
        host,
        &lookup,
    )
    .expect("resolves");
    let command =
        crate::sandbox::bwrap::render(&invocation.spec, host, &crate::sandbox::InitSetup::Deferred);
    (invocation, command)
}

/// What run `index` is asked to do.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// Prints its number to stdout and stderr, exits with it.
    Plain,
    /// As Plain, then takes far more memory than its `limits.memory`.
    OverMemory,
    /// As Plain, then forks more than its `limits.processes`.
    OverProcesses,
    /// Prints past its `limits.output`.
    OverOutput,
    /// Sleeps past its `limits.timeout`.
    TimesOut,
}

fn kind(index: usize) -> Kind {
    match index {
        6 => Kind::TimesOut,
        index if index % 4 == 1 => Kind::OverMemory,
        index if index % 4 == 2 => Kind::OverProcesses,
        index if index % 4 == 3 => Kind::OverOutput,
        _ => Kind::Plain,
    }
}

fn code(index: usize) -> String {
    let start = format!(
        "import os, sys, time\nprint({index}, flush=True)\nprint('err', {index}, file=sys.stderr, flush=True)\n"
    );
    let rest = match kind(index) {
        Kind::Plain => format!("sys.exit({index})"),
        Kind::OverMemory => format!("hog = b'x' * (768 << 20)\nsys.exit({index})"),
        Kind::OverProcesses => format!(
            "try:\n    for _ in range(40):\n        if os.fork() == 0:\n            time.sleep(30)\n            os._exit(0)\nexcept OSError:\n    sys.exit({})\nsys.exit({index})",
            100 + index
        ),
        Kind::OverOutput => format!("sys.stdout.write('y' * 100000)\nsys.exit({index})"),
        Kind::TimesOut => "time.sleep(120)".to_owned(),
    };
    start + &rest
}

struct Ran {
    outcome: Result<Outcome>,
    notices: Vec<Notice>,
    /// The run's cgroup directories, while it ran (none: its limits were rlimits).
    cgroup: Vec<std::path::PathBuf>,
}

fn run_one(runtime: &Runtime, host: &crate::host::HostFacts, index: usize) -> Ran {
    let args = SandboxArgs {
        policy: Some("default".to_owned()),
        memory: (kind(index) == Kind::OverMemory).then(|| "96MiB".to_owned()),
        timeout: (kind(index) == Kind::TimesOut).then(|| "1s".to_owned()),
        quiet: true,
        json: true,
        ..SandboxArgs::default()
    };
    let lookup = |name: &str| std::env::var_os(name);
    let mut invocation =
        crate::settings::resolve(&args, Program::Code(code(index), Vec::new()), host, &lookup)
            .expect("the invocation resolves");
    if kind(index) == Kind::OverProcesses {
        invocation.policy.limits.processes = Some(12);
    }
    if kind(index) == Kind::OverOutput {
        invocation.policy.limits.output = Some(1000);
    }
    let command =
        crate::sandbox::bwrap::render(&invocation.spec, host, &crate::sandbox::InitSetup::Deferred);
    let notices = Arc::new(Mutex::new(Vec::new()));
    let options = ExecOptions {
        io: Io::default(),
        env: Environment::of_process(),
        observer: {
            let notices = notices.clone();
            Observer::new(move |notice| notices.lock().unwrap().push(notice.clone()))
        },
        output_limit: invocation.policy.limits.output,
        timeout: invocation.policy.limits.timeout,
        seccomp: crate::sandbox::seccomp::build_filter(
            crate::sandbox::seccomp::Arch::host().expect("a supported architecture"),
        )
        .ok(),
        channel: None,
        network: None,
        count_discarded: Vec::new(),
    };
    let mut cgroup = Vec::new();
    let outcome = run_in(runtime, &command, &options, || {
        let enforcement = limits::plan(&invocation.policy.limits, host.uid);
        if let Some(made) = &enforcement.cgroup {
            cgroup = made.directories().to_vec();
            assert!(cgroup.iter().all(|directory| directory.is_dir()));
        }
        enforcement
    });
    let notices = notices.lock().unwrap().clone();
    Ran {
        outcome,
        notices,
        cgroup,
    }
}

#[test]
fn sixteen_concurrent_runs_keep_to_themselves() {
    let Some(host) = host() else { return };
    let runtime = Runtime::library().expect("the runtime starts");
    // Whether this host gives a run a cgroup at all (root, or delegated v2): then every
    // concurrent run must get its own.
    let cgroups_here = limits::plan(
        &crate::policy::Limits {
            memory: Some(256 << 20),
            ..crate::policy::Limits::default()
        },
        host.uid,
    )
    .cgroup
    .is_some();
    let ran: Vec<Ran> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..RUNS)
            .map(|index| {
                let (runtime, host) = (&runtime, &host);
                scope.spawn(move || run_one(runtime, host, index))
            })
            .collect();
        threads
            .into_iter()
            .map(|thread| thread.join().expect("a run's thread"))
            .collect()
    });
    let cgroups = ran.iter().filter(|ran| !ran.cgroup.is_empty()).count();
    eprintln!("{cgroups} of {RUNS} runs had a cgroup");
    if cgroups_here {
        assert_eq!(cgroups, RUNS, "a run went without its cgroup");
    }
    // Each run's cgroups were its own, and none is left.
    let mut all: Vec<&std::path::PathBuf> = ran.iter().flat_map(|ran| &ran.cgroup).collect();
    let count = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), count, "two runs shared a cgroup");
    let left: Vec<_> = all.iter().filter(|directory| directory.exists()).collect();
    assert!(left.is_empty(), "cgroups left behind: {left:?}");
    for (index, ran) in ran.into_iter().enumerate() {
        let outcome = ran
            .outcome
            .unwrap_or_else(|error| panic!("run {index}: {error:?}"));
        let stdout = String::from_utf8_lossy(&outcome.stdout.bytes).into_owned();
        let stderr = String::from_utf8_lossy(&outcome.stderr.bytes).into_owned();
        let context = format!(
            "run {index} ({:?}): {:?}\nstdout: {stdout:.200}\nstderr: {stderr:.2000}",
            kind(index),
            outcome.status
        );
        assert!(stdout.starts_with(&format!("{index}\n")), "{context}");
        // stdout and stderr share `limits.output`: the over-output run's stdout may take
        // all of it, or all but a few bytes, before its stderr is read.
        let own_stderr = format!("err {index}\n");
        if kind(index) == Kind::OverOutput {
            assert!(own_stderr.starts_with(&stderr), "{context}");
        } else {
            assert!(stderr.starts_with(&own_stderr), "{context}");
        }
        let output_notices = ran
            .notices
            .iter()
            .filter(|notice| matches!(notice, Notice::OutputLimitReached { .. }))
            .count();
        match kind(index) {
            Kind::Plain => {
                assert_eq!(outcome.status, Status::Exited(index as i32), "{context}");
                assert_eq!(stdout, format!("{index}\n"), "{context}");
                assert_eq!(stderr, format!("err {index}\n"), "{context}");
                assert!(!outcome.memory_limit_reached && !outcome.output_limit_reached);
                assert!(ran.notices.is_empty(), "{context}: {:?}", ran.notices);
            }
            Kind::OverMemory => {
                // Killed by the memory cgroup, or MemoryError under the address-space
                // rlimit: never the exit of a program that got its memory.
                assert_ne!(outcome.status, Status::Exited(index as i32), "{context}");
                if !ran.cgroup.is_empty() {
                    assert_eq!(outcome.status, Status::Signaled(9), "{context}");
                    assert!(outcome.memory_limit_reached, "{context}");
                }
                assert!(!outcome.output_limit_reached, "{context}");
            }
            Kind::OverProcesses => {
                if !ran.cgroup.is_empty() {
                    assert_eq!(
                        outcome.status,
                        Status::Exited(100 + index as i32),
                        "{context}"
                    );
                }
                assert!(!outcome.memory_limit_reached, "{context}");
            }
            Kind::OverOutput => {
                assert_eq!(outcome.status, Status::Exited(index as i32), "{context}");
                assert!(outcome.output_limit_reached, "{context}");
                assert!(outcome.stdout.truncated, "{context}");
                assert_eq!(
                    outcome.stdout.bytes.len() + outcome.stderr.bytes.len(),
                    1000,
                    "{context}"
                );
                assert_eq!(output_notices, 0, "captured output prints no notice");
            }
            Kind::TimesOut => {
                assert_eq!(outcome.status, Status::TimedOut, "{context}");
                assert!(!outcome.output_limit_reached, "{context}");
            }
        }
        if kind(index) != Kind::OverOutput {
            assert!(!outcome.stdout.truncated, "{context}");
        }
    }
}

/// Streamed output goes to the run's own sink, and the output-limit notice to its own
/// observer once, after the output forwarded so far.
#[test]
fn a_run_streams_to_its_own_sinks_and_observer() {
    let Some(host) = host() else { return };
    let runtime = Runtime::library().expect("the runtime starts");
    let code = "import sys\nsys.stdout.write('a' * 3000)\nsys.stdout.flush()\nsys.exit(3)";
    let (invocation, command) = code_run(&host, code, false);
    let sink = tempfile::tempfile().expect("a file");
    let sink = Arc::new(sink);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let options = ExecOptions {
        io: Io {
            stdin: Input::Null,
            stdout: Output::Stream(sink.clone()),
            stderr: Output::Capture,
        },
        env: Environment::default(),
        observer: {
            let (seen, sink) = (seen.clone(), sink.clone());
            Observer::new(move |notice| {
                let written = sink.metadata().map(|metadata| metadata.len()).unwrap_or(0);
                seen.lock().unwrap().push((notice.clone(), written));
            })
        },
        output_limit: Some(1000),
        seccomp: crate::sandbox::seccomp::build_filter(
            crate::sandbox::seccomp::Arch::host().expect("a supported architecture"),
        )
        .ok(),
        ..ExecOptions::default()
    };
    let outcome = run_in(&runtime, &command, &options, || {
        limits::plan(&invocation.policy.limits, host.uid)
    })
    .expect("runs");
    assert_eq!(outcome.status, Status::Exited(3));
    assert!(outcome.output_limit_reached);
    assert!(outcome.stdout.bytes.is_empty(), "streamed, not captured");
    assert_eq!(sink.metadata().expect("metadata").len(), 1000);
    assert_eq!(
        *seen.lock().unwrap(),
        [(Notice::OutputLimitReached { limit: 1000 }, 1000)]
    );
    assert_eq!(
        outcome.notices,
        [Notice::OutputLimitReached { limit: 1000 }]
    );
}

/// A descriptor the embedding process opens without close-on-exec after its runtime was
/// made (a C library's, a `dup2`) never reaches a run's program: every run marks the
/// inherited descriptors, as `exec::run` did before the runtime (marking once, when the
/// runtime is made, let this one through bwrap and the init into the program).
#[test]
fn a_descriptor_opened_after_the_runtime_does_not_reach_the_program() {
    use std::os::fd::{AsRawFd, FromRawFd};
    let Some(host) = host() else { return };
    let runtime = Runtime::library().expect("the runtime starts");
    // Opened after the runtime, inheritable, at a number nothing else uses.
    const LEAKED: RawFd = 917;
    let file = std::fs::File::open("/etc/hostname").expect("a file to hold open");
    // SAFETY: dup2 onto a free number; the new descriptor is owned (closed) below.
    let raw = unsafe { libc::dup2(file.as_raw_fd(), LEAKED) };
    assert_eq!(raw, LEAKED);
    // SAFETY: dup2 returned a descriptor nothing else owns.
    let leaked = unsafe { OwnedFd::from_raw_fd(raw) };
    let flags = nix::fcntl::fcntl(LEAKED, nix::fcntl::FcntlArg::F_GETFD).expect("flags");
    assert_eq!(flags & libc::FD_CLOEXEC, 0, "the descriptor is inheritable");
    let code = "import os\nprint('started', sorted(int(fd) for fd in os.listdir('/proc/self/fd')))";
    let (invocation, command) = code_run(&host, code, true);
    let options = ExecOptions {
        io: Io::default(),
        seccomp: crate::sandbox::seccomp::build_filter(
            crate::sandbox::seccomp::Arch::host().expect("a supported architecture"),
        )
        .ok(),
        ..ExecOptions::default()
    };
    let outcome = run_in(&runtime, &command, &options, || {
        limits::plan(&invocation.policy.limits, host.uid)
    })
    .expect("runs");
    drop(leaked);
    let stdout = String::from_utf8_lossy(&outcome.stdout.bytes).into_owned();
    // Python started and listed its descriptors.
    assert!(
        stdout.starts_with("started ["),
        "{stdout:?} {:?}",
        outcome.status
    );
    assert_eq!(outcome.status, Status::Exited(0), "{stdout}");
    let listed: Vec<RawFd> = stdout
        .trim()
        .trim_start_matches("started [")
        .trim_end_matches(']')
        .split(", ")
        .filter_map(|fd| fd.parse().ok())
        .collect();
    assert!(
        !listed.contains(&LEAKED),
        "the program inherited descriptor {LEAKED}: {listed:?}"
    );
}
