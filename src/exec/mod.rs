//! The one module that spawns processes, handles signals and uses `unsafe`.
//!
//! boxpy cannot `exec` itself away: it must tee stderr for the report, count output for
//! `limits.output` and enforce `limits.timeout`. So it spawns bwrap, forwards SIGINT,
//! SIGTERM, SIGHUP and SIGQUIT, pumps both output pipes, waits, and reads two status
//! channels:
//! - bwrap's `--json-status-fd`: a `child-pid` record means the sandbox was created; its
//!   absence means bwrap failed during setup (bwrap exits 1 for that, like a program might).
//! - the report of boxpy's own init (PID 1 inside the sandbox, see [`init`]): when the
//!   program started, how it ended (code or signal) and its honest resource usage.
//!
//! The API (a run is a value):
//! - [`Runtime`], made once per process: [`Runtime::cli`] forwards the process's signals
//!   to its run and spawns from the main thread; [`Runtime::library`] (a server's) leaves
//!   signals alone and spawns from a thread of its own (see [`runtime`] for why).
//! - [`run_in`] (`runtime`, a rendered [`BwrapCommand`], [`ExecOptions`], the limits' plan)
//!   runs one sandbox and returns its [`Outcome`] (the CLI passes [`Runtime::cli`]).
//!   Runs may go at once from any threads; each one's cgroup is its own
//!   (`boxpy-PID-N`, see [`limits`]).
//! - [`ExecOptions`] carries everything of the caller a run uses: its [`Io`] (stdin:
//!   [`Input`]; stdout and stderr: [`Output`], streamed to a file or captured), the
//!   caller's [`Environment`] snapshotted once (where `EnvValue::FromHost` is looked up),
//!   and an [`Observer`] told each [`Notice`] as it happens. Exec itself never writes to
//!   fd 1 or 2, never reads `std::env`, and never calls `report`.
//! - The init's report lines are [`protocol::ReportLine`], one serde type for both ends.
//!
//! Invariants:
//! - Only the descriptors boxpy means to pass reach bwrap: every inherited descriptor above
//!   2 is marked close-on-exec when the runtime is made and again as each run starts.
//! - bwrap is spawned from a thread that lives as long as the runtime (its
//!   `--die-with-parent` is tied to the thread that spawned it) into its own process group,
//!   so a terminal's Ctrl-C reaches boxpy alone, which forwards it to the program.
//! - Output is always drained, so the program never blocks on a full pipe; what exceeds
//!   `limits.output` is dropped with one notice.
//! - The program's pipes reach the init over the setup socket, never through bwrap, so
//!   the run is complete when the init reports the end (see ARCHITECTURE.md, "Why an init
//!   of our own"); boxpy does not wait for the init's and bwrap's own exits.

#![allow(unsafe_code)]

pub mod discarded;
mod events;
pub(crate) mod init;
pub(crate) mod limits;
// macOS's executor; also compiled in Linux test builds, which run it against a stand-in
// for sandbox-exec.
#[cfg(all(test, target_os = "linux"))]
pub(crate) mod concurrent_tests;
#[cfg(any(target_os = "macos", test))]
pub(crate) mod macos;
mod protocol;
#[cfg(all(test, target_os = "linux"))]
mod proxy_tests;
mod pump;
pub(crate) use pump::write_patiently;
mod runtime;
mod terminal;
#[cfg(test)]
mod tests;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};

use crate::error::{Error, NamespaceCause, Result};
use crate::sandbox::{fds, BwrapCommand, EnvValue};
pub use pump::Captured;
pub use runtime::Runtime;

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// Where the program's stdin comes from and its output goes.
    pub io: Io,
    /// The caller's environment, snapshotted once: where `EnvValue::FromHost` variables
    /// take their values (exec never reads the process's own).
    pub env: Environment,
    /// Told of what happens during the run that the caller may want to say (exec writes
    /// nothing to the process's stdout or stderr itself).
    pub observer: Observer,
    /// Bytes of stdout+stderr forwarded before the rest is dropped.
    pub output_limit: Option<u64>,
    /// Wall-clock limit.
    pub timeout: Option<Duration>,
    /// A compiled seccomp program for bwrap's `--seccomp`.
    pub seccomp: Option<Vec<u8>>,
    /// Open [`fds::CHANNEL`] in the sandbox and send each line written to it here (the
    /// notebook driver's events). What arrives is untrusted: lines are bounded, and the
    /// queue is (the reader waits for the receiver, so boxpy holds a few lines at most).
    pub channel: Option<mpsc::SyncSender<String>>,
    /// The places the sandbox discards (its private HOME and `/tmp`) whose leftover files
    /// the init counts at the end ([`discarded`]); empty to count nothing.
    pub count_discarded: Vec<(discarded::Place, std::path::PathBuf)>,
    /// `network.mode = "proxy"`: the init binds the proxy's listeners on the sandbox's
    /// loopback, and boxpy runs [`crate::network::proxy::Proxy`] on them with this
    /// configuration for the length of the run.
    pub network: Option<crate::network::proxy::ProxyConfig>,
}

/// A run's I/O. The default reads nothing (`/dev/null`) and captures both streams.
#[derive(Debug, Clone, Default)]
pub struct Io {
    pub stdin: Input,
    pub stdout: Output,
    pub stderr: Output,
}

impl Io {
    /// The CLI's: the process's own stdin, and its stdout and stderr, or both captured
    /// (`--json`).
    pub fn inherited(capture: bool) -> Io {
        let stream = |fd| {
            if capture {
                Output::Capture
            } else {
                Output::inherit(fd)
            }
        };
        Io {
            stdin: Input::Inherit,
            stdout: stream(1),
            stderr: stream(2),
        }
    }
}

/// Where the program's stdin comes from.
#[derive(Debug, Clone, Default)]
pub enum Input {
    /// Nothing: the program reads end-of-file at once.
    #[default]
    Null,
    /// The process's own stdin, relayed as [`terminal`] decides (a terminal through a
    /// pseudo-terminal of the sandbox's, a pipe or a file through a relay).
    Inherit,
    /// This descriptor, relayed as the process's own stdin would be.
    #[allow(
        dead_code,
        reason = "the library API `boxpy serve` (issue 20) builds on"
    )]
    Fd(std::sync::Arc<OwnedFd>),
}

/// Where one of the program's output streams goes.
#[derive(Debug, Clone, Default)]
pub enum Output {
    /// Kept in [`Outcome::stdout`] / [`Outcome::stderr`].
    #[default]
    Capture,
    /// Written to this file as it comes.
    Stream(std::sync::Arc<std::fs::File>),
}

impl Output {
    /// The process's descriptor `fd` (1 or 2), duplicated; `/dev/null` when it is closed
    /// (what is written to a closed standard stream is dropped, as the standard library
    /// does).
    pub fn inherit(fd: RawFd) -> Output {
        let file = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3))
            .ok()
            // SAFETY: fcntl(F_DUPFD_CLOEXEC) returned a new descriptor nothing else owns.
            .map(|raw| std::fs::File::from(unsafe { OwnedFd::from_raw_fd(raw) }))
            .or_else(|| {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open("/dev/null")
                    .ok()
            });
        match file {
            Some(file) => Output::Stream(std::sync::Arc::new(file)),
            None => Output::Capture,
        }
    }

    fn file(&self) -> Option<std::sync::Arc<std::fs::File>> {
        match self {
            Output::Capture => None,
            Output::Stream(file) => Some(file.clone()),
        }
    }
}

/// Something a run says while it runs, for the caller to show (the CLI prints each
/// through `report`, at the moment it arrives).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// `limits.output` (this many bytes) was reached: the rest of the output is dropped.
    OutputLimitReached { limit: u64 },
    /// macOS: a process that left the program's process group (a new session) still held
    /// its output when the program ended; boxpy stopped reading it.
    #[cfg_attr(
        not(target_os = "macos"),
        allow(dead_code, reason = "sent by the macOS executor")
    )]
    OutputHeldOpen,
}

/// Receives a run's [`Notice`]s, from whichever of the run's threads sees them.
#[derive(Clone, Default)]
pub struct Observer(Option<std::sync::Arc<NoticeFn>>);

/// What an [`Observer`] calls.
type NoticeFn = dyn Fn(&Notice) + Send + Sync;

impl Observer {
    pub fn new(notice: impl Fn(&Notice) + Send + Sync + 'static) -> Observer {
        Observer(Some(std::sync::Arc::new(notice)))
    }

    pub(crate) fn notice(&self, notice: Notice) {
        if let Some(observer) = &self.0 {
            observer(&notice);
        }
    }

    /// This observer, also keeping each notice for the run's [`Outcome::notices`]: the
    /// notices as data, for a caller that reports them at the end (a server's reply).
    fn recording(&self) -> (Observer, Said) {
        let said = Said::default();
        let (inner, kept) = (self.clone(), said.clone());
        let observer = Observer::new(move |notice| {
            kept.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(notice.clone());
            inner.notice(notice.clone());
        });
        (observer, said)
    }
}

/// The notices a run's [`Observer::recording`] kept.
#[derive(Clone, Default)]
struct Said(std::sync::Arc<std::sync::Mutex<Vec<Notice>>>);

impl Said {
    fn take(&self) -> Vec<Notice> {
        std::mem::take(
            &mut self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

impl std::fmt::Debug for Observer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(if self.0.is_some() {
            "Observer(..)"
        } else {
            "Observer(none)"
        })
    }
}

/// The caller's environment variables, taken once.
#[derive(Debug, Clone, Default)]
pub struct Environment(
    std::sync::Arc<std::collections::HashMap<std::ffi::OsString, std::ffi::OsString>>,
);

impl Environment {
    /// This process's environment now (the CLI takes it once per run; a server takes the
    /// one each request names with [`Environment::from_pairs`]).
    pub fn of_process() -> Environment {
        Environment::from_pairs(std::env::vars_os())
    }

    /// A variable named twice keeps its first value: the one `getenv` (and so
    /// `std::env::var_os`, which the settings consulted) returns.
    pub fn from_pairs(
        pairs: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
    ) -> Environment {
        let mut variables = std::collections::HashMap::new();
        for (name, value) in pairs {
            variables.entry(name).or_insert(value);
        }
        Environment(std::sync::Arc::new(variables))
    }

    pub(crate) fn get(&self, name: &str) -> Option<&std::ffi::OsString> {
        self.0.get(std::ffi::OsStr::new(name))
    }
}

/// Files a run left in a place the sandbox discards (see [`discarded`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Discarded {
    /// The place, as the program saw it (`/tmp`, its HOME).
    pub path: std::path::PathBuf,
    #[serde(skip)]
    pub place: discarded::Place,
    /// How many files (not directories; what Python leaves on its own is not counted).
    pub files: u64,
    /// The count stopped at its budget: `files` is a lower bound.
    pub capped: bool,
}

/// The most a single channel line may hold: the notebook driver sends short events and the
/// executed notebook in parts of at most 128 Ki characters.
pub const CHANNEL_LINE_LIMIT: usize = 1 << 20;

/// What the channel reader sends in place of a line longer than [`CHANNEL_LINE_LIMIT`]
/// (not JSON, so no event can be mistaken for it).
pub const CHANNEL_OVERLONG: &str = "\u{0}over-long line";

/// How the program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// It exited with this code.
    Exited(i32),
    /// It was killed by this signal.
    Signaled(i32),
    /// boxpy stopped it at `limits.timeout`.
    TimedOut,
}

/// What the program used, from its init's `RUSAGE_CHILDREN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Resources {
    pub cpu_ms: u64,
    pub max_rss_kib: u64,
}

/// The result of a run whose sandbox started.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Status,
    pub duration: Duration,
    pub stdout: Captured,
    pub stderr: Captured,
    /// The last bytes of stderr, for the traceback parser.
    pub stderr_tail: Vec<u8>,
    pub resources: Option<Resources>,
    /// `limits.output` was reached and output was dropped.
    #[allow(
        dead_code,
        reason = "read by the concurrent tests and `boxpy serve` (issue 20)"
    )]
    pub output_limit_reached: bool,
    /// The kernel's OOM killer acted in the sandbox's memory cgroup.
    pub memory_limit_reached: bool,
    /// Files the program left in its private HOME and `/tmp`, discarded with the sandbox:
    /// the places with at least one.
    pub discarded: Vec<Discarded>,
    /// `network.mode = "proxy"`: the connections the proxy refused, the most asked-for
    /// first (`None` in the other modes).
    pub network: Option<crate::network::proxy::Finished>,
    /// What the observer was told during the run, in order.
    #[allow(
        dead_code,
        reason = "read by the concurrent tests and `boxpy serve` (issue 20)"
    )]
    pub notices: Vec<Notice>,
}

const FORWARDED_SIGNALS: [Signal; 4] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
];

/// Runs `command` (a rendered bwrap command line, with a setup socket:
/// [`crate::sandbox::InitSetup::Deferred`]) in `runtime` and waits for it. `plan` decides
/// how the limits are enforced (creating the cgroups): it runs once bwrap has started, and
/// its rlimits and cgroup files go to the init over the setup socket. The cgroups are
/// removed before this returns. Any number of runs may go at once, from any threads.
pub fn run_in(
    runtime: &Runtime,
    command: &BwrapCommand,
    options: &ExecOptions,
    plan: impl FnOnce() -> limits::Enforcement,
) -> Result<Outcome> {
    let started = Instant::now();
    // Every run, not only when the runtime is made: a library runtime's process opens
    // descriptors long after (a C library's, a `dup2`), and an inheritable one would pass
    // through bwrap and the init into the program.
    mark_inherited_descriptors_cloexec();

    let (status_read, status_write) = pipe()?;
    let (report_read, report_write) = pipe()?;
    let mut passed: Vec<(OwnedFd, RawFd)> = vec![
        (status_write, fds::STATUS),
        (report_write, fds::INIT_REPORT),
    ];
    if let Some(program) = &options.seccomp {
        passed.push((memory_file("boxpy-seccomp", program)?, fds::SECCOMP));
    }
    for data in &command.data {
        passed.push((memory_file("boxpy-data", &data.contents)?, data.fd));
    }
    for copy in &command.copies {
        passed.push((open_copied_file(&copy.source)?, copy.fd));
    }
    for pinned in &command.pinned {
        passed.push((open_pinned(&pinned.source)?, pinned.fd));
    }
    let executable =
        std::fs::File::open(&command.init.source).map_err(|error| Error::SandboxSetup {
            detail: format!(
                "cannot open boxpy's own executable `{}` to run it as the sandbox's init: {error}",
                command.init.source.display()
            ),
        })?;
    passed.push((executable.into(), command.init.fd));
    // The init takes its limits and the program's pipes over this socket.
    let setup_fd = command.setup_fd.ok_or_else(|| {
        anyhow::anyhow!(
            "a command boxpy runs gives its init a setup socket (`InitSetup::Deferred`)"
        )
    })?;
    let (setup_socket, theirs) =
        init::setup_socket_pair().context("creating the init's setup socket")?;
    passed.push((theirs, setup_fd));
    // The program's pipes go to the init in the setup message, never through bwrap: only
    // the program's processes hold them, so they reach end-of-file when its last process
    // ends, and the run is over when the init reports it, without waiting for the init's
    // and bwrap's own exits (the namespaces' teardown, ~0.5 ms). bwrap's own output (its
    // errors) goes to a pipe of its own.
    // The program's stdin: boxpy's own only when it is a read-only pipe or `/dev/null`;
    // a terminal (through a pseudo-terminal the init opens in the sandbox), a socket or a
    // file is relayed (see [`terminal`]).
    let (stdin_read, stdin_relay) = terminal::program_stdin(&options.io.stdin)?.split();
    let (stdout_read, stdout_write) = pipe()?;
    let (stderr_read, stderr_write) = pipe()?;
    let (channel_read, channel_write) = match &options.channel {
        Some(_) => {
            let (read, write) = pipe()?;
            (Some(read), Some(write))
        }
        None => (None, None),
    };
    let program_pipes = ProgramPipes {
        stdin: stdin_read,
        stdout: stdout_write,
        stderr: stderr_write,
        channel: channel_write,
    };
    let (diagnostics_read, bwrap_output) = pipe()?;
    // Move every source above the targets so no dup2 clobbers another source.
    let floor = passed
        .iter()
        .map(|(_, target)| target + 1)
        .max()
        .unwrap_or(0)
        .max(64);
    let mut mapping: Vec<(OwnedFd, RawFd)> = Vec::new();
    for (fd, target) in passed {
        mapping.push((duplicate_above(&fd, floor)?, target));
    }
    let raw_mapping: Vec<(RawFd, RawFd)> = mapping
        .iter()
        .map(|(fd, target)| (fd.as_raw_fd(), *target))
        .collect();

    let prepared = || {
        spawn_bwrap(
            command,
            &options.env,
            bwrap_output.as_raw_fd(),
            &raw_mapping,
        )
    };
    let spawned = if runtime.forwards_signals() {
        with_signals_blocked(&command.program, || prepared()?.spawn())
            .map(|(pid, forwarded)| (pid, Some(forwarded)))
    } else {
        prepared()
            .and_then(|prepared| runtime.spawn(move || prepared.spawn()))
            .map(|pid| (pid, None))
            .map_err(|error| Error::SandboxSetup {
                detail: format!("cannot start `{}`: {error}", command.program.display()),
            })
    };
    drop(mapping);
    drop(bwrap_output);
    let (bwrap_pid, forwarded) = spawned?;

    // While bwrap builds the sandbox: plan the limits and send them to the init, which
    // waits for them before it starts the program. A failure to send means bwrap or its
    // init is already gone, which the status channels report.
    let enforcement = plan();
    let sent = send_setup(
        &setup_socket,
        &enforcement,
        &program_pipes,
        &options.count_discarded,
        options.network.is_some(),
    );
    // The init has its copies (or never will): boxpy's must not keep the pipes open.
    drop(program_pipes);
    // The proxy's listeners come first on the setup socket (before a terminal's master),
    // from the init, before the program exists. Without them (the init failed), the
    // run's report says why.
    let mut proxy = RunningProxy(None);
    if let (Some(config), Ok(())) = (&options.network, &sent) {
        if let Some(listeners) = receive_listeners(&setup_socket) {
            let [http, socks] = listeners;
            use crate::network::proxy::{Listener, Proxy};
            match Proxy::start(
                config.clone(),
                vec![Listener::Http(http), Listener::Socks5(socks)],
            ) {
                Ok(started) => proxy.0 = Some(started),
                Err(error) => {
                    // No run without its proxy: bwrap goes, and with it (`--die-with-parent`)
                    // the init and the sandbox, before the program starts.
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(bwrap_pid),
                        Signal::SIGKILL,
                    );
                    let _ = wait_for(bwrap_pid);
                    return Err(Error::SandboxSetup {
                        detail: format!("starting boxpy's network proxy: {error}"),
                    });
                }
            }
        }
    }
    // Stopped, and the terminal's settings put back, when the run ends (or on drop, when
    // boxpy fails before that).
    let mut stdin_relay = stdin_relay.start(&setup_socket)?;

    let gate = pump::Gate::new();
    let channel_thread = match (channel_read, options.channel.clone()) {
        (Some(read), Some(sender)) => Some(helper_thread(move || read_channel(read, &sender))),
        _ => None,
    };
    let stdout = std::fs::File::from(stdout_read);
    let stderr = std::fs::File::from(stderr_read);
    let budget = pump::Budget::new(options.output_limit);
    let (observer, said) = options.observer.recording();
    let stdout_thread = {
        let (budget, gate, out) = (budget.clone(), gate.clone(), options.io.stdout.file());
        let observer = observer.clone();
        Pump::start(move || {
            let out = out.as_deref();
            pump::pump_spliced(stdout, pump::Stream::Stdout, out, &budget, &gate, &observer)
        })
    };
    let stderr_thread = {
        let (budget, gate, out) = (budget.clone(), gate.clone(), options.io.stderr.file());
        let observer = observer.clone();
        Pump::start(move || {
            let out = out.as_deref();
            pump::pump_spliced(stderr, pump::Stream::Stderr, out, &budget, &gate, &observer)
        })
    };

    // bwrap's exit, the forwarded signals, bwrap's status (child-pid: the sandbox was
    // created) and the init's report (started, exec failure, how the program ended), all
    // on this thread.
    let waited = events::wait_for_sandbox(
        bwrap_pid,
        status_read,
        report_read,
        diagnostics_read,
        forwarded.as_ref(),
        &gate,
        options.timeout.map(|timeout| started + timeout),
    )
    .context("waiting for bwrap")?;
    // The program is gone: nothing more to relay to it, and no connection of its left.
    stdin_relay.finish();
    let network = options.network.as_ref().map(|_| proxy.finish());
    let bwrap_status = waited.status.transpose().context("waiting for bwrap")?;
    let timed_out = waited.timed_out;
    let duration = started.elapsed();

    let bwrap_record = waited.record;
    let report = waited.report;
    // The program is gone, but its last output may still be on its way to a caller that
    // reads slowly, or never. After a timeout, or a signal boxpy forwarded (it was asked
    // to stop), the pumps get a grace period, then are left behind (what the caller has
    // not taken is lost): the run ends at its timeout. A pump that takes long has the
    // forwarded signals let through while boxpy waits for it ([`Pump::finish`]).
    let grace = (timed_out || waited.signalled).then(|| Instant::now() + PUMP_GRACE);
    let stdout = stdout_thread.finish(grace, "stdout", forwarded.as_ref())?;
    let stderr = stderr_thread.finish(grace, "stderr", forwarded.as_ref())?;
    if let Some(thread) = channel_thread {
        thread
            .join()
            .map_err(|_| anyhow::anyhow!("channel reader panicked"))?;
    }

    // bwrap reports `child-pid` before it sets up the mounts, so only the init's `started`
    // proves the sandbox was built; without it, stderr holds bwrap's own error. A timeout
    // that fired while the sandbox was being built is still the timeout (SPEC: 124), not a
    // setup failure: boxpy killed bwrap itself.
    let stopped_during_setup = timed_out && !report.started;
    if !stopped_during_setup {
        if let Some(detail) = report.setup_failed {
            return Err(Error::SandboxSetup { detail });
        }
        if let Some((detail, key)) = report.limit_failed {
            return Err(Error::LimitNotApplied { detail, key });
        }
        if !report.started {
            return Err(classify_setup_failure(&waited.diagnostics));
        }
    }
    if let Some(errno) = report.exec_errno {
        return Err(exec_failure(errno, &report.exec_path));
    }
    let status = if timed_out {
        Status::TimedOut
    } else if let Some(signal) = report.signal {
        Status::Signaled(signal)
    } else if let Some(code) = report.exit_code {
        Status::Exited(code)
    } else if let Some(code) = bwrap_record.exit_code {
        Status::Exited(code)
    } else {
        use std::os::unix::process::ExitStatusExt;
        match bwrap_status.map(|status| (status.code(), status.signal())) {
            Some((Some(code), _)) => Status::Exited(code),
            Some((None, Some(signal))) => Status::Signaled(signal),
            _ => Status::Exited(1),
        }
    };
    let output_limit_reached = budget.exhausted();
    // A program that exited 0 was not stopped by the memory limit (a notebook's dead
    // kernel makes its driver exit non-zero), so its run skips reading the cgroup.
    let memory_limit_reached = status != Status::Exited(0)
        && enforcement
            .cgroup
            .as_ref()
            .is_some_and(limits::Cgroup::oom_killed);
    let discarded = options
        .count_discarded
        .iter()
        .zip(&report.left)
        .filter(|(_, (files, _))| *files > 0)
        .map(|((place, path), (files, capped))| Discarded {
            path: path.clone(),
            place: *place,
            files: *files,
            capped: *capped,
        })
        .collect();
    Ok(Outcome {
        memory_limit_reached,
        discarded,
        status,
        duration,
        stderr_tail: stderr.tail.clone(),
        stdout: stdout.captured,
        stderr: stderr.captured,
        resources: report.resources,
        output_limit_reached,
        network,
        notices: said.take(),
    })
}

/// The run's network proxy, stopped when the run ends or, on an early return, on drop.
struct RunningProxy(Option<crate::network::proxy::Proxy>);

impl RunningProxy {
    /// Stops the proxy; what it recorded (nothing when it never started).
    fn finish(&mut self) -> crate::network::proxy::Finished {
        self.0.take().map(|proxy| proxy.stop()).unwrap_or_default()
    }
}

impl Drop for RunningProxy {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(target_os = "linux")]
fn receive_listeners(socket: &OwnedFd) -> Option<[std::net::TcpListener; 2]> {
    init::receive_listeners(socket)
}

#[cfg(not(target_os = "linux"))]
fn receive_listeners(_: &OwnedFd) -> Option<[std::net::TcpListener; 2]> {
    None
}

/// Runs a rendered Seatbelt command (`sandbox-exec`) and waits for it: macOS only.
pub fn run_seatbelt(
    command: &crate::sandbox::seatbelt::SeatbeltCommand,
    options: &ExecOptions,
    enforcement: &limits::Enforcement,
) -> Result<Outcome> {
    #[cfg(target_os = "macos")]
    {
        macos::run(command, options, enforcement)
    }
    #[cfg(not(target_os = "macos"))]
    {
        let _ = (command, options, enforcement);
        Err(Error::UnsupportedPlatform {
            detail: "Seatbelt (`sandbox-exec`) exists only on macOS; render it here with `boxpy render --target macos`".to_owned(),
        })
    }
}

/// The sandbox's environment: literal values, and the caller's values of `FromHost`
/// variables (from the run's snapshot) when set.
fn environment<'a>(
    env: &'a [(String, EnvValue)],
    caller: &Environment,
) -> Vec<(&'a str, std::ffi::OsString)> {
    env.iter()
        .filter_map(|(key, value)| match value {
            EnvValue::Literal(value) => Some((key.as_str(), value.into())),
            EnvValue::FromHost(name) => caller.get(name).map(|value| (key.as_str(), value.clone())),
        })
        .collect()
}

/// Gives `process` exactly the sandbox's environment; the caller clears the rest with
/// `env_clear`.
#[cfg(any(target_os = "macos", test))]
pub(crate) fn set_environment(
    process: &mut std::process::Command,
    env: &[(String, EnvValue)],
    caller: &Environment,
) {
    process.envs(environment(env, caller));
}

/// Blocks the forwarded signals in this thread (and so in every thread spawned after it;
/// a dedicated thread then takes them with `sigwait`) and spawns `process`. Returns the
/// child and the signal set to wait on. On failure the old mask is restored.
#[cfg(any(target_os = "macos", test))]
pub(crate) fn spawn_with_signals_blocked(
    process: &mut std::process::Command,
    program: &std::path::Path,
) -> Result<(std::process::Child, SigSet)> {
    with_signals_blocked(program, || process.spawn())
}

/// Blocks the forwarded signals in this thread (and so in every thread spawned after it;
/// the wait then takes them from a signalfd, see [`events`]) and runs `spawn`. Returns what it
/// spawned and the signal set to wait on. On failure the old mask is restored.
fn with_signals_blocked<T>(
    program: &std::path::Path,
    spawn: impl FnOnce() -> std::io::Result<T>,
) -> Result<(T, SigSet)> {
    let mut forwarded = SigSet::empty();
    for signal in FORWARDED_SIGNALS {
        forwarded.add(signal);
    }
    let mut previous_mask = SigSet::empty();
    nix::sys::signal::pthread_sigmask(
        SigmaskHow::SIG_BLOCK,
        Some(&forwarded),
        Some(&mut previous_mask),
    )
    .context("blocking signals")?;
    match spawn() {
        Ok(child) => Ok((child, forwarded)),
        Err(error) => {
            let _ = nix::sys::signal::pthread_sigmask(
                SigmaskHow::SIG_SETMASK,
                Some(&previous_mask),
                None,
            );
            Err(Error::SandboxSetup {
                detail: format!("cannot start `{}`: {error}", program.display()),
            })
        }
    }
}

/// Stack for boxpy's helper threads (the output pumps, the notebook channel, and the
/// fallbacks of [`events`] where pidfd or signalfd are missing): they hold
/// their buffers on the heap, and a small stack is quicker to map and, at exit, to unmap
/// (freeing a touched 2 MiB default stack costs TLB shootdowns across the cores).
const HELPER_STACK: usize = 256 * 1024;

/// Starts one of boxpy's helper threads.
fn helper_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    std::thread::Builder::new()
        .stack_size(HELPER_STACK)
        .spawn(work)
        .expect("starting a helper thread")
}

/// How long the output pumps may go on after a timeout killed the sandbox.
const PUMP_GRACE: Duration = Duration::from_secs(2);

/// How long a pump may take after the program ended before boxpy lets the forwarded
/// signals through while it waits for it (a caller that reads slowly, or not at all): a
/// signal now is not the program's, and its default action ends boxpy, so a stuck
/// caller's Ctrl-C or SIGTERM still works. Before that, a signal stays pending and is
/// dropped at boxpy's exit, as it always was.
const PUMP_PATIENCE: Duration = Duration::from_millis(200);

/// An output pump on a helper thread, whose result comes back over a channel so that it
/// can be waited for with a deadline.
struct Pump(mpsc::Receiver<pump::PumpResult>);

impl Pump {
    fn start(work: impl FnOnce() -> pump::PumpResult + Send + 'static) -> Pump {
        let (sender, receiver) = mpsc::sync_channel(1);
        helper_thread(move || {
            let _ = sender.send(work());
        });
        Pump(receiver)
    }

    /// The pump's result; by `deadline`, or nothing (a pump still blocked on a caller that
    /// does not read is left behind, and ends with boxpy).
    fn finish(
        self,
        deadline: Option<Instant>,
        name: &str,
        forwarded: Option<&SigSet>,
    ) -> Result<pump::PumpResult> {
        let patience = Instant::now() + PUMP_PATIENCE;
        let first_wait = deadline.map_or(patience, |deadline| deadline.min(patience));
        let mut received = self
            .0
            .recv_timeout(first_wait.saturating_duration_since(Instant::now()));
        let more_time = deadline.is_none_or(|deadline| deadline > Instant::now());
        if matches!(received, Err(mpsc::RecvTimeoutError::Timeout)) && more_time {
            let _unblocked = forwarded.map(SignalsLetThrough::new);
            received = match deadline {
                None => self
                    .0
                    .recv()
                    .map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                Some(deadline) => self
                    .0
                    .recv_timeout(deadline.saturating_duration_since(Instant::now())),
            };
        }
        match received {
            Ok(result) => Ok(result),
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(pump::PumpResult::default()),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err(anyhow::anyhow!("{name} pump panicked").into())
            }
        }
    }
}

/// Unblocks the forwarded signals in this thread until dropped, then blocks them again.
struct SignalsLetThrough(SigSet);

impl SignalsLetThrough {
    fn new(signals: &SigSet) -> SignalsLetThrough {
        let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(signals), None);
        SignalsLetThrough(*signals)
    }
}

impl Drop for SignalsLetThrough {
    fn drop(&mut self) {
        let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&self.0), None);
    }
}

/// The write ends of the program's pipes, for the init (see [`init::Role`]).
struct ProgramPipes {
    stdin: terminal::InitStdin,
    stdout: OwnedFd,
    stderr: OwnedFd,
    channel: Option<OwnedFd>,
}

/// Spawns bwrap with `posix_spawn` (glibc's is vfork + exec: nothing of boxpy's address
/// space is copied, which a fork with a pre-exec hook would; ~0.4 ms a run): an empty
/// signal mask, SIGPIPE back to its default, its own process group, stdin `/dev/null`
/// (the program's own stdin goes to the init in the setup message: bwrap never holds the
/// user's terminal), stdout and stderr both to `output`, each `(source, target)` of `mapping` duplicated to
/// its fixed number, and nothing else (every other descriptor is close-on-exec). This
/// prepares it; [`BwrapSpawn::spawn`] spawns it (on the runtime's spawning thread).
fn spawn_bwrap(
    command: &BwrapCommand,
    caller: &Environment,
    output: RawFd,
    mapping: &[(RawFd, RawFd)],
) -> std::io::Result<BwrapSpawn> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;

    fn c_string(bytes: &[u8]) -> std::io::Result<CString> {
        CString::new(bytes).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "an argument or variable contains a NUL byte",
            )
        })
    }
    let mut arguments = vec![c_string(command.program.as_os_str().as_bytes())?];
    for argument in &command.args {
        arguments.push(c_string(argument.as_bytes())?);
    }
    let mut variables = Vec::new();
    for (key, value) in environment(&command.env, caller) {
        variables.push(c_string(
            &[key.as_bytes(), b"=", value.as_bytes()].concat(),
        )?);
    }
    let null = terminal::open_null().map_err(std::io::Error::other)?;
    // Output first: its descriptors may carry numbers the mapping's targets overwrite.
    let mut dups = vec![(output, 1), (output, 2), (null.as_raw_fd(), 0)];
    dups.extend_from_slice(mapping);
    Ok(BwrapSpawn {
        arguments,
        variables,
        dups,
        _null: null,
    })
}

/// bwrap's command line, environment and descriptors, ready to spawn (the descriptors of
/// `dups` other than `/dev/null` are the caller's, open until [`BwrapSpawn::spawn`] returns).
struct BwrapSpawn {
    arguments: Vec<std::ffi::CString>,
    variables: Vec<std::ffi::CString>,
    dups: Vec<(RawFd, RawFd)>,
    _null: OwnedFd,
}

impl BwrapSpawn {
    /// Spawns bwrap; returns its pid.
    fn spawn(self) -> std::io::Result<libc::pid_t> {
        spawn(&self.arguments, &self.variables, &self.dups, false)
    }
}

/// `posix_spawn` (or `posix_spawnp` with `search_path`, which looks a bare name up on this
/// process's `PATH` as `execvp` does) with what both of boxpy's children need: an empty
/// signal mask, SIGPIPE back to its default (the Rust runtime ignores it, and an ignored
/// signal stays ignored across exec), its own process group, and each `(source, target)`
/// of `dups` duplicated to its number. glibc's posix_spawn is a vfork + exec on its own
/// stack, so nothing of this address space is copied, and an exec failure comes back as
/// the returned error. `arguments[0]` is the program; `variables` are `KEY=VALUE`.
pub(crate) fn spawn(
    arguments: &[std::ffi::CString],
    variables: &[std::ffi::CString],
    dups: &[(RawFd, RawFd)],
    search_path: bool,
) -> std::io::Result<libc::pid_t> {
    fn check(result: libc::c_int) -> std::io::Result<()> {
        match result {
            0 => Ok(()),
            errno => Err(std::io::Error::from_raw_os_error(errno)),
        }
    }
    let null_terminated = |strings: &[std::ffi::CString]| -> Vec<*mut libc::c_char> {
        strings
            .iter()
            .map(|string| string.as_ptr().cast_mut())
            .chain(std::iter::once(std::ptr::null_mut()))
            .collect()
    };
    let program = arguments
        .first()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "nothing to spawn"))?;
    let (argv, envp) = (null_terminated(arguments), null_terminated(variables));
    // SAFETY: the attribute and file-action objects are initialised before use and
    // destroyed once; every pointer handed to posix_spawn (program, argv, envp, each
    // NUL-terminated, the arrays null-terminated) outlives the call, and the descriptors
    // are open.
    unsafe {
        let mut actions: libc::posix_spawn_file_actions_t = std::mem::zeroed();
        check(libc::posix_spawn_file_actions_init(&mut actions))?;
        let mut attributes: libc::posix_spawnattr_t = std::mem::zeroed();
        if let Err(error) = check(libc::posix_spawnattr_init(&mut attributes)) {
            libc::posix_spawn_file_actions_destroy(&mut actions);
            return Err(error);
        }
        let spawned = (|| -> std::io::Result<libc::pid_t> {
            for (source, target) in dups {
                check(libc::posix_spawn_file_actions_adddup2(
                    &mut actions,
                    *source,
                    *target,
                ))?;
            }
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            check(libc::posix_spawnattr_setsigmask(&mut attributes, &empty))?;
            let mut defaults: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut defaults);
            libc::sigaddset(&mut defaults, libc::SIGPIPE);
            check(libc::posix_spawnattr_setsigdefault(
                &mut attributes,
                &defaults,
            ))?;
            check(libc::posix_spawnattr_setpgroup(&mut attributes, 0))?;
            let flags = libc::POSIX_SPAWN_SETSIGMASK
                | libc::POSIX_SPAWN_SETSIGDEF
                | libc::POSIX_SPAWN_SETPGROUP;
            check(libc::posix_spawnattr_setflags(
                &mut attributes,
                flags as libc::c_short,
            ))?;
            let mut pid: libc::pid_t = 0;
            let call = if search_path {
                libc::posix_spawnp
            } else {
                libc::posix_spawn
            };
            check(call(
                &mut pid,
                program.as_ptr(),
                &actions,
                &attributes,
                argv.as_ptr(),
                envp.as_ptr(),
            ))?;
            Ok(pid)
        })();
        libc::posix_spawnattr_destroy(&mut attributes);
        libc::posix_spawn_file_actions_destroy(&mut actions);
        spawned
    }
}

/// Sends the init its setup message: the rlimits, the cgroup files to join and to move
/// back to at the end, and the program's pipes. The order matters to the init: the
/// channel, which it duplicates to a fixed number, comes last.
fn send_setup(
    socket: &OwnedFd,
    enforcement: &limits::Enforcement,
    pipes: &ProgramPipes,
    count: &[(discarded::Place, std::path::PathBuf)],
    proxy: bool,
) -> std::io::Result<()> {
    use init::Role;
    let mut files: Vec<(Role, RawFd)> = Vec::new();
    if let Some(cgroup) = &enforcement.cgroup {
        files.extend(
            cgroup
                .join_files()
                .iter()
                .map(|file| (Role::Join, file.as_raw_fd())),
        );
        files.extend(
            cgroup
                .leave_files()
                .iter()
                .map(|file| (Role::Leave, file.as_raw_fd())),
        );
    }
    let terminal = match &pipes.stdin {
        terminal::InitStdin::Descriptor(stdin) => {
            files.push((Role::Stdin, stdin.as_raw_fd()));
            None
        }
        terminal::InitStdin::Terminal(request) => Some(*request),
    };
    files.push((Role::Stdout, pipes.stdout.as_raw_fd()));
    files.push((Role::Stderr, pipes.stderr.as_raw_fd()));
    if let Some(channel) = &pipes.channel {
        files.push((Role::Channel, channel.as_raw_fd()));
    }
    init::send_setup(
        socket,
        &init::Setup {
            rlimits: enforcement.rlimits.clone(),
            files,
            count: count.to_vec(),
            terminal,
            proxy,
        },
    )
}

/// Waits for the process `pid` (a child of this one) to end.
fn wait_for(pid: i32) -> std::io::Result<std::process::ExitStatus> {
    use std::os::unix::process::ExitStatusExt;
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: waitpid writes only to `status`, which lives across the call.
        if unsafe { libc::waitpid(pid, &mut status, 0) } >= 0 {
            return Ok(std::process::ExitStatus::from_raw(status));
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// Forwards the channel's lines until end-of-file or until the receiver is gone (which
/// closes the channel: the writer gets EPIPE). An over-long line is skipped without being
/// held, and [`CHANNEL_OVERLONG`] is sent in its place; a last line without a newline is
/// sent as it is (the receiver judges it).
fn read_channel(read: OwnedFd, sender: &mpsc::SyncSender<String>) {
    let mut reader = std::io::BufReader::new(std::fs::File::from(read));
    let mut line = Vec::new();
    // A notebook of many megabytes comes this way (nbexec): its pipe is widened as a
    // large output's are, never for a small run.
    #[cfg(target_os = "linux")]
    let mut widening = pump::Widening::default();
    loop {
        line.clear();
        let mut limited = std::io::Read::take(&mut reader, CHANNEL_LINE_LIMIT as u64);
        match std::io::BufRead::read_until(&mut limited, b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        #[cfg(target_os = "linux")]
        widening.moved(line.len(), &[std::os::fd::AsFd::as_fd(reader.get_ref())]);
        let text = if line.last() != Some(&b'\n') && line.len() >= CHANNEL_LINE_LIMIT {
            skip_line(&mut reader);
            CHANNEL_OVERLONG.to_owned()
        } else {
            String::from_utf8_lossy(&line).into_owned()
        };
        if sender.send(text).is_err() {
            return;
        }
    }
}

/// Discards input up to and including the next newline, without holding it in memory.
fn skip_line(reader: &mut impl std::io::BufRead) {
    loop {
        let (consumed, done) = match reader.fill_buf() {
            Ok(buffer) if !buffer.is_empty() => match buffer.iter().position(|byte| *byte == b'\n')
            {
                Some(position) => (position + 1, true),
                None => (buffer.len(), false),
            },
            _ => return,
        };
        reader.consume(consumed);
        if done {
            return;
        }
    }
}

#[cfg(test)]
mod channel_tests {
    use super::*;
    use std::io::Write;

    /// Lines pass whole; an over-long one becomes [`CHANNEL_OVERLONG`] without being held,
    /// and the lines after it still arrive; a last line without a newline is passed as is.
    #[test]
    fn channel_lines_are_bounded() {
        let (read, write) = pipe().unwrap();
        let writer = std::thread::spawn(move || {
            let mut file = std::fs::File::from(write);
            file.write_all(b"{\"event\": \"start\"}\n").unwrap();
            file.write_all(&vec![b'x'; 3 * CHANNEL_LINE_LIMIT]).unwrap();
            file.write_all(b"\nafter\ncut").unwrap();
        });
        let (sender, receiver) = mpsc::sync_channel(1);
        let reader = std::thread::spawn(move || read_channel(read, &sender));
        let lines: Vec<String> = receiver.iter().collect();
        writer.join().unwrap();
        reader.join().unwrap();
        assert_eq!(
            lines,
            [
                "{\"event\": \"start\"}\n",
                CHANNEL_OVERLONG,
                "after\n",
                "cut"
            ]
        );
    }
}

#[derive(Debug, Default)]
struct BwrapRecord {
    child_pid: Option<i32>,
    exit_code: Option<i32>,
}

/// One record of bwrap's `--json-status-fd` (bwrap's protocol): the fields boxpy reads.
#[derive(Debug, serde::Deserialize)]
struct BwrapStatusRecord {
    #[serde(rename = "child-pid")]
    child_pid: Option<i64>,
    #[serde(rename = "exit-code")]
    exit_code: Option<i64>,
}

impl BwrapRecord {
    /// bwrap writes one JSON object per event: keep the child pid and the exit code.
    fn update(&mut self, text: &[u8]) {
        let stream = serde_json::Deserializer::from_slice(text).into_iter::<BwrapStatusRecord>();
        for record in stream.flatten() {
            if let Some(pid) = record.child_pid {
                self.child_pid = i32::try_from(pid).ok();
            }
            if let Some(code) = record.exit_code {
                self.exit_code = i32::try_from(code).ok();
            }
        }
    }
}

#[derive(Debug, Default)]
struct InitReport {
    started: bool,
    /// The init reported how the program ended (and has killed everything else).
    ended: bool,
    exit_code: Option<i32>,
    signal: Option<i32>,
    exec_errno: Option<i32>,
    exec_path: String,
    resources: Option<Resources>,
    /// The init's set-up failed (the setup message).
    setup_failed: Option<String>,
    /// The init could not apply a limit (join a cgroup, set an rlimit): the detail, and
    /// the policy key behind it when the init named one.
    limit_failed: Option<(String, Option<String>)>,
    /// Per place asked to count, in order: the files left and whether the count stopped
    /// at its budget.
    left: Vec<(u64, bool)>,
}

impl InitReport {
    /// Takes one line of the init's report ([`protocol::ReportLine`]); a line that does
    /// not decode is ignored.
    fn apply_line(&mut self, line: &str, gate: &pump::Gate) {
        use protocol::ReportLine;
        let Some(line) = ReportLine::decode(line) else {
            return;
        };
        match line {
            ReportLine::Started => {
                self.started = true;
                gate.open();
            }
            ReportLine::ExecFailed { errno, path } => {
                self.exec_errno = Some(errno);
                self.exec_path = path;
            }
            ReportLine::SetupFailed { detail } => self.setup_failed = Some(detail),
            ReportLine::LimitFailed { detail, key } => self.limit_failed = Some((detail, key)),
            ReportLine::Ended {
                code,
                signal,
                cpu_ms,
                max_rss_kib,
                left,
            } => {
                self.ended = true;
                self.exit_code = code;
                self.signal = signal;
                if let (Some(cpu_ms), Some(max_rss_kib)) = (cpu_ms, max_rss_kib) {
                    self.resources = Some(Resources {
                        cpu_ms,
                        max_rss_kib,
                    });
                }
                self.left = left;
            }
        }
    }
}

/// The init's report lines and the setup message decoded as boxpy and the init decode
/// them, for the fuzzer (`fuzz/`): never panics, whatever the text.
pub(crate) fn decode_for_fuzzing(text: &str) {
    let gate = pump::Gate::new();
    let mut report = InitReport::default();
    for line in text.lines() {
        report.apply_line(line, &gate);
    }
    #[cfg(target_os = "linux")]
    init::decode_setup_for_fuzzing(text);
}

/// Reads the init's whole report (macOS, where a thread waits on it).
#[cfg(any(target_os = "macos", test))]
fn read_init_report(read: OwnedFd, gate: &pump::Gate) -> InitReport {
    let mut reader = std::io::BufReader::new(std::fs::File::from(read));
    let mut report = InitReport::default();
    let mut line = String::new();
    loop {
        line.clear();
        match std::io::BufRead::read_line(&mut reader, &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => report.apply_line(&line, gate),
        }
    }
    report
}

fn exec_failure(errno: i32, path: &str) -> Error {
    Error::ProgramNotStarted {
        path: std::path::PathBuf::from(path),
        detail: nix::errno::Errno::from_raw(errno).desc().to_lowercase(),
        not_found: errno == libc::ENOENT || errno == libc::ENOTDIR,
    }
}

/// Turns bwrap's own setup error into a typed error with the right hint.
fn classify_setup_failure(stderr: &[u8]) -> Error {
    let text = String::from_utf8_lossy(stderr);
    let detail = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.trim_start_matches("bwrap: ").to_owned())
        .collect::<Vec<_>>()
        .join("; ");
    let detail = if detail.is_empty() {
        "bwrap exited before starting the program, without a message".to_owned()
    } else {
        detail
    };
    let lower = detail.to_lowercase();
    let namespace_problem = lower.contains("no permissions to create new namespace")
        || lower.contains("no permissions to create a new namespace")
        || lower.contains("setting up uid map")
        || lower.contains("creating new namespace failed")
        || lower.contains("rtm_newaddr")
        || lower.contains("loopback: failed")
        || (lower.contains("operation not permitted") && lower.contains("namespace"))
        || lower.contains("can't mount proc");
    if namespace_problem {
        Error::NamespacesRefused {
            detail,
            cause: detect_namespace_cause(),
        }
    } else {
        Error::SandboxSetup { detail }
    }
}

/// Reads the sysctls that explain a namespace refusal.
pub fn detect_namespace_cause() -> NamespaceCause {
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .map(|text| text.trim().to_owned())
            .ok()
    };
    if read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        NamespaceCause::AppArmor
    } else if read("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        NamespaceCause::UsernsCloneDisabled
    } else if read("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        NamespaceCause::MaxUserNamespacesZero
    } else if std::path::Path::new("/.dockerenv").exists()
        || std::path::Path::new("/run/.containerenv").exists()
        || read("/proc/1/cgroup")
            .is_some_and(|text| text.contains("docker") || text.contains("kubepods"))
    {
        NamespaceCause::Container
    } else {
        NamespaceCause::Unknown
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    #[cfg(target_os = "linux")]
    {
        Ok(nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("creating a pipe")?)
    }
    // No pipe2() on macOS: boxpy spawns from one thread at a time, so setting the flag
    // right after creating the pipe cannot leak it into another child.
    #[cfg(not(target_os = "linux"))]
    {
        let (read, write) = nix::unistd::pipe().context("creating a pipe")?;
        for fd in [&read, &write] {
            nix::fcntl::fcntl(
                fd.as_raw_fd(),
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            )
            .context("marking a pipe close-on-exec")?;
        }
        Ok((read, write))
    }
}

/// An anonymous in-memory file holding `contents`, positioned at its start.
fn memory_file(name: &str, contents: &[u8]) -> Result<OwnedFd> {
    use std::io::{Seek, Write};
    #[cfg(target_os = "linux")]
    let mut file = {
        let name = std::ffi::CString::new(name).map_err(anyhow::Error::from)?;
        let fd =
            nix::sys::memfd::memfd_create(&name, nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC)
                .context("memfd_create")?;
        std::fs::File::from(fd)
    };
    // Elsewhere (only bwrap uses these, so this is for compiling): an unlinked temporary file.
    #[cfg(not(target_os = "linux"))]
    let mut file = {
        let _ = name;
        tempfile::tempfile().context("creating a temporary file")?
    };
    file.write_all(contents).context("writing a memfd")?;
    file.seek(std::io::SeekFrom::Start(0))
        .context("seeking a memfd")?;
    Ok(OwnedFd::from(file))
}

/// A host file for bwrap's `--file`: opened read-only, never blocking (a FIFO planted in
/// its place must not hang the run), and only if it is a regular file.
fn open_copied_file(path: &std::path::Path) -> Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|error| Error::SandboxSetup {
            detail: format!(
                "cannot open `{}` to copy it into the sandbox: {error}",
                path.display()
            ),
        })?;
    let regular = file.metadata().is_ok_and(|metadata| metadata.is_file());
    if !regular {
        return Err(Error::SandboxSetup {
            detail: format!("`{}` is not a regular file", path.display()),
        });
    }
    Ok(OwnedFd::from(file))
}

/// Opens a mount source (resolved already) as an `O_PATH` descriptor, refusing a symlink
/// anywhere on the way (`openat2` `RESOLVE_NO_SYMLINKS`): a link a concurrent run put in
/// the path since the gate checked it fails the run instead of redirecting the mount.
/// Kernels without `openat2` (before 5.6) refuse a link at the last component only.
#[cfg(target_os = "linux")]
fn open_pinned(path: &std::path::Path) -> Result<OwnedFd> {
    use nix::fcntl::OFlag;
    let flags = OFlag::O_PATH | OFlag::O_CLOEXEC;
    let how = nix::fcntl::OpenHow::new()
        .flags(flags)
        .resolve(nix::fcntl::ResolveFlag::RESOLVE_NO_SYMLINKS);
    let opened = match nix::fcntl::openat2(libc::AT_FDCWD, path, how) {
        Err(nix::errno::Errno::ENOSYS) => nix::fcntl::open(
            path,
            flags | OFlag::O_NOFOLLOW,
            nix::sys::stat::Mode::empty(),
        ),
        other => other,
    };
    let fd = opened.map_err(|errno| Error::SandboxSetup {
        detail: match errno {
            nix::errno::Errno::ELOOP => format!(
                "`{}` holds a symbolic link that was not there when boxpy checked it (another run changed it): not mounted",
                path.display()
            ),
            errno => format!("cannot open `{}` to mount it: {}", path.display(), errno.desc()),
        },
    })?;
    // SAFETY: openat2/open returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The bwrap command is Linux's: elsewhere nothing is pinned.
#[cfg(not(target_os = "linux"))]
fn open_pinned(path: &std::path::Path) -> Result<OwnedFd> {
    Err(Error::SandboxSetup {
        detail: format!("`{}`: bwrap runs on Linux only", path.display()),
    })
}

fn duplicate_above(fd: &impl AsRawFd, minimum: RawFd) -> Result<OwnedFd> {
    let raw = nix::fcntl::fcntl(
        fd.as_raw_fd(),
        nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(minimum),
    )
    .context("duplicating a descriptor")?;
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Descriptors boxpy inherited (from a shell, a CI runner, an agent framework) must not
/// leak into the sandbox: an open directory descriptor would let the program walk out of
/// its mount namespace.
fn mark_inherited_descriptors_cloexec() {
    // One call on Linux 5.11 and later: close_range(3, ~0, CLOSE_RANGE_CLOEXEC).
    #[cfg(target_os = "linux")]
    {
        const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
        // SAFETY: close_range only changes descriptor flags here; no memory is passed.
        let marked = unsafe {
            libc::syscall(
                libc::SYS_close_range,
                3,
                libc::c_uint::MAX,
                CLOSE_RANGE_CLOEXEC,
            )
        };
        if marked == 0 {
            return;
        }
    }
    let directory = if cfg!(target_os = "linux") {
        "/proc/self/fd"
    } else {
        "/dev/fd"
    };
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    let descriptors: Vec<RawFd> = entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd > 2)
        .collect();
    for fd in descriptors {
        let _ = nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        );
    }
}
