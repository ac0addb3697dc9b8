//! Running a [`SeatbeltCommand`] on macOS: `/usr/bin/sandbox-exec -p PROFILE -D... --
//! boxpy __sandbox-start 3 -- python ...`, with the same output handling as Linux.
//!
//! macOS has no namespaces, cgroups or PID 1 of our own, so:
//! - the program runs in a new session (setsid), its own process group, with no
//!   controlling terminal (nothing can be typed into the user's terminal);
//! - limits are rlimits set just before exec ([`limits::plan`]; no cgroups, and macOS
//!   enforces no memory rlimit, which `plan` reports as not enforced);
//! - the wall-clock timeout kills the process group; when the program ends, whatever it
//!   left in its group is killed too. The group is killed while the program is still an
//!   unreaped zombie, so its id cannot have been reused by then;
//! - boxpy's own start helper ([`start`], inside the sandbox) tells boxpy that sandbox-exec
//!   applied the profile, exactly as the Linux init reports `started`: until then stderr is
//!   sandbox-exec's, held back and turned into boxpy's error report;
//! - resource usage comes from `wait4()` on the program.
//!
//! Stdout and stderr are pumped exactly as on Linux (`pump.rs`). Only the pumps' readers
//! differ: they give up once the process group is gone and nothing has arrived for a
//! moment, because a process that started its own session (`start_new_session=True`)
//! survives the group and could otherwise hold the pipes open for ever.
//!
//! This module is compiled on macOS, and in Linux test builds, whose tests run it against
//! a stand-in for sandbox-exec.

use std::ffi::{CString, OsString};
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::{limits, pump, ExecOptions, Outcome, Resources, Status};
use crate::error::{Error, Result};
use crate::sandbox::seatbelt::{SeatbeltCommand, START_REPORT_FD};

/// How long the pumps may keep reading after the program's process group is gone.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// Runs `command` (a rendered sandbox-exec command line) and waits for it. The run
/// directory (`command.directories`' parent) must exist; this creates what is inside it.
pub fn run(
    command: &SeatbeltCommand,
    options: &ExecOptions,
    enforcement: &limits::Enforcement,
) -> Result<Outcome> {
    let started = Instant::now();
    super::mark_inherited_descriptors_cloexec();
    prepare_run_directory(command)?;

    let (report_read, report_pipe) = super::pipe()?;
    // Above the descriptor it is moved to, so dup2 cannot clobber it; the original goes.
    let report_write = super::duplicate_above(&report_pipe, 64)?;
    drop(report_pipe);
    let report_raw = report_write.as_raw_fd();
    let rlimits: Vec<(i32, libc::rlimit)> = enforcement
        .rlimits
        .iter()
        .map(|limit| {
            (
                limit.resource,
                libc::rlimit {
                    rlim_cur: limit.soft,
                    rlim_max: limit.hard,
                },
            )
        })
        .collect();

    let mut process = Command::new(&command.program);
    process
        .args(command.args())
        .env_clear()
        .current_dir(&command.workdir)
        .stdin(match &options.io.stdin {
            super::Input::Inherit => Stdio::inherit(),
            super::Input::Null => Stdio::null(),
            super::Input::Fd(fd) => Stdio::from(fd.try_clone().context("duplicating stdin")?),
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    super::set_environment(&mut process, &command.env, &options.env);
    // SAFETY: the closure runs in the forked child before exec and only calls
    // async-signal-safe functions (setsid, setrlimit, dup2, pthread_sigmask) on plain data
    // it captured; it allocates nothing.
    unsafe {
        process.pre_exec(move || {
            // A new session: its own process group (the timeout kills it) and no
            // controlling terminal (no TIOCSTI into the user's shell).
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            for (resource, limit) in &rlimits {
                if libc::setrlimit(*resource as _, limit) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if libc::dup2(report_raw, START_REPORT_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
            Ok(())
        });
    }

    let spawned = super::spawn_with_signals_blocked(&mut process, &command.program);
    drop(report_write);
    let (mut child, forwarded) = spawned?;
    let pid = child.id() as i32;

    let gate = pump::Gate::new();
    let report_thread = {
        let gate = gate.clone();
        std::thread::spawn(move || {
            let report = super::read_init_report(report_read, &gate);
            gate.finish_setup();
            report
        })
    };
    let group_gone = Arc::new(AtomicBool::new(false));
    let stdout = Draining::new(child.stdout.take().context("child stdout")?, &group_gone);
    let stderr = Draining::new(child.stderr.take().context("child stderr")?, &group_gone);
    let budget = pump::Budget::new(options.output_limit);
    let (observer, said) = options.observer.recording();
    let stdout_thread = {
        let (budget, gate, out) = (budget.clone(), gate.clone(), options.io.stdout.file());
        let observer = observer.clone();
        std::thread::spawn(move || {
            let out = out.as_deref();
            pump::pump(stdout, pump::Stream::Stdout, out, &budget, &gate, &observer)
        })
    };
    let stderr_thread = {
        let (budget, gate, out) = (budget.clone(), gate.clone(), options.io.stderr.file());
        let observer = observer.clone();
        std::thread::spawn(move || {
            let out = out.as_deref();
            pump::pump(stderr, pump::Stream::Stderr, out, &budget, &gate, &observer)
        })
    };
    let finished = Arc::new(AtomicBool::new(false));
    {
        let finished = Arc::clone(&finished);
        std::thread::spawn(move || loop {
            let Ok(signal) = forwarded.wait() else { return };
            if finished.load(Ordering::SeqCst) {
                return;
            }
            // As a terminal would: interrupts to the whole group, the rest to the program.
            let _ = match signal {
                Signal::SIGINT | Signal::SIGQUIT => {
                    nix::sys::signal::killpg(Pid::from_raw(pid), signal)
                }
                _ => nix::sys::signal::kill(Pid::from_raw(pid), signal),
            };
        });
    }

    // Wait for the program to exit without reaping it, so its id (the group's) stays ours.
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(wait_exited(pid));
    });
    let mut timed_out = false;
    let exited = match options.timeout {
        Some(timeout) => match receiver.recv_timeout(timeout.saturating_sub(started.elapsed())) {
            Ok(result) => result,
            Err(_) => {
                timed_out = true;
                let _ = nix::sys::signal::killpg(Pid::from_raw(pid), Signal::SIGKILL);
                receiver
                    .recv()
                    .map_err(|_| std::io::Error::other("waiter thread ended"))
                    .and_then(|result| result)
            }
        },
        None => receiver
            .recv()
            .map_err(|_| std::io::Error::other("waiter thread ended"))
            .and_then(|result| result),
    };
    exited.context("waiting for sandbox-exec")?;
    // Whatever the program left in its group dies with it (as the Linux init kills the
    // rest of the PID namespace); then the program is reaped.
    let _ = nix::sys::signal::killpg(Pid::from_raw(pid), Signal::SIGKILL);
    let (wait_status, usage) = reap(pid).context("reaping sandbox-exec")?;
    finished.store(true, Ordering::SeqCst);
    drop(child);
    let duration = started.elapsed();

    let report = report_thread
        .join()
        .map_err(|_| anyhow::anyhow!("report reader panicked"))?;
    let drain_started = Instant::now();
    while !(stdout_thread.is_finished() && stderr_thread.is_finished())
        && drain_started.elapsed() < DRAIN_GRACE
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    let held_open = !(stdout_thread.is_finished() && stderr_thread.is_finished());
    group_gone.store(true, Ordering::SeqCst);
    let stdout = stdout_thread
        .join()
        .map_err(|_| anyhow::anyhow!("stdout pump panicked"))?;
    let stderr = stderr_thread
        .join()
        .map_err(|_| anyhow::anyhow!("stderr pump panicked"))?;
    if held_open {
        observer.notice(super::Notice::OutputHeldOpen);
    }

    if !report.started {
        return Err(classify_setup_failure(&stderr.tail));
    }
    if let Some(errno) = report.exec_errno {
        return Err(super::exec_failure(errno, &report.exec_path));
    }
    let status = if timed_out {
        Status::TimedOut
    } else if libc::WIFSIGNALED(wait_status) {
        Status::Signaled(libc::WTERMSIG(wait_status))
    } else {
        Status::Exited(libc::WEXITSTATUS(wait_status))
    };
    Ok(Outcome {
        status,
        duration,
        stderr_tail: stderr.tail.clone(),
        stdout: stdout.captured,
        stderr: stderr.captured,
        resources: Some(resources_of(&usage)),
        output_limit_reached: budget.exhausted(),
        memory_limit_reached: false,
        // Not counted on macOS: HOME and TMPDIR are directories of the run directory,
        // removed with it.
        discarded: Vec::new(),
        network: None,
        notices: said.take(),
    })
}

/// Creates HOME, TMPDIR and the generated files' directories (private to the user), and
/// writes the generated files read-only.
fn prepare_run_directory(command: &SeatbeltCommand) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    for directory in &command.directories {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(directory)
            .with_context(|| format!("creating `{}`", directory.display()))?;
    }
    for (path, contents) in &command.files {
        std::fs::write(path, contents).with_context(|| format!("writing `{}`", path.display()))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o400))
            .with_context(|| format!("protecting `{}`", path.display()))?;
    }
    Ok(())
}

/// Blocks until `pid` has exited, leaving it unreaped (`WNOWAIT`).
fn wait_exited(pid: i32) -> std::io::Result<()> {
    loop {
        // SAFETY: a zeroed siginfo_t is a valid out-parameter for waitid.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid only writes into `info`.
        let result = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if result == 0 {
            return Ok(());
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// Reaps `pid`: its wait status and resource usage (its own and its reaped children's).
fn reap(pid: i32) -> std::io::Result<(i32, libc::rusage)> {
    loop {
        let mut status = 0;
        // SAFETY: a zeroed rusage is a valid out-parameter for wait4.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: wait4 only writes into `status` and `usage`.
        let result = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if result == pid {
            return Ok((status, usage));
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

fn resources_of(usage: &libc::rusage) -> Resources {
    let millis = |time: libc::timeval| time.tv_sec as u64 * 1000 + time.tv_usec as u64 / 1000;
    // ru_maxrss is in bytes on macOS, in KiB on Linux.
    let max_rss_kib = if cfg!(target_os = "macos") {
        usage.ru_maxrss as u64 / 1024
    } else {
        usage.ru_maxrss as u64
    };
    Resources {
        cpu_ms: millis(usage.ru_utime) + millis(usage.ru_stime),
        max_rss_kib,
    }
}

/// sandbox-exec failed before the start helper ran: its message says why.
fn classify_setup_failure(stderr: &[u8]) -> Error {
    let text = String::from_utf8_lossy(stderr);
    let mut detail = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.trim_start_matches("sandbox-exec: ").to_owned())
        .collect::<Vec<_>>()
        .join("; ");
    if detail.is_empty() {
        detail = "sandbox-exec exited before starting the program, without a message".to_owned();
    }
    let lower = detail.to_lowercase();
    if lower.contains("operation not permitted") && lower.contains("sandbox") {
        detail.push_str(
            " (is boxpy itself running inside a sandbox? Seatbelt profiles cannot be nested)",
        );
    }
    Error::SandboxSetup { detail }
}

/// A pipe reader that ends (reads as end-of-file) once `group_gone` is set, instead of
/// waiting for every writer to close. It is set only after the program's group is dead and
/// [`DRAIN_GRACE`] has passed without the pipes closing.
struct Draining<R> {
    inner: R,
    group_gone: Arc<AtomicBool>,
}

impl<R: Read + AsFd> Draining<R> {
    fn new(inner: R, group_gone: &Arc<AtomicBool>) -> Draining<R> {
        Draining {
            inner,
            group_gone: Arc::clone(group_gone),
        }
    }
}

impl<R: Read + AsFd> Read for Draining<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        use nix::poll::{poll, PollFd, PollFlags};
        loop {
            if self.group_gone.load(Ordering::SeqCst) {
                return Ok(0);
            }
            let mut descriptors = [PollFd::new(self.inner.as_fd(), PollFlags::POLLIN)];
            match poll(&mut descriptors, 100u16) {
                Ok(0) | Err(nix::errno::Errno::EINTR) => {}
                Ok(_) => return self.inner.read(buffer),
                Err(errno) => return Err(std::io::Error::from(errno)),
            }
        }
    }
}

/// boxpy's start helper, which sandbox-exec runs inside the sandbox: it reports `started`
/// on the report descriptor (`{"event":"started"}`, as the Linux init does), then executes
/// the program in the same process, so the session, process group and limits stay. If the
/// program cannot be executed it reports `exec_failed` with the errno. `args` are the
/// process arguments after [`START_ARGUMENT`](crate::sandbox::seatbelt::START_ARGUMENT):
/// `REPORT_FD -- PROGRAM [ARGS]...`.
///
/// The report descriptor is close-on-exec, so the program never has it. Run by hand
/// (`boxpy render --target macos` pasted into a shell), the descriptor is not a pipe and
/// nothing is written to it.
pub fn start(args: &[OsString]) -> i32 {
    let report: Option<RawFd> = args
        .first()
        .and_then(|fd| fd.to_str()?.parse().ok())
        .filter(|fd| *fd > 2);
    let Some(report) = report else {
        eprintln!("boxpy: the start helper needs a report descriptor");
        return 125;
    };
    let program: Vec<&OsString> = args.iter().skip(1).skip_while(|arg| *arg == "--").collect();
    if program.is_empty() {
        eprintln!("boxpy: the start helper needs a program to run");
        return 125;
    }
    let is_pipe = nix::sys::stat::fstat(report)
        .is_ok_and(|stat| (stat.st_mode as libc::mode_t & libc::S_IFMT) == libc::S_IFIFO);
    let send = |line: &str| {
        if is_pipe {
            // SAFETY: writing a buffer we own to a descriptor we checked is a pipe.
            unsafe {
                libc::write(report, line.as_ptr().cast(), line.len());
            }
        }
    };
    if is_pipe {
        let _ = nix::fcntl::fcntl(
            report,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        );
    }
    let arguments: Vec<CString> = program
        .iter()
        .map(|arg| CString::new(arg.as_bytes()).unwrap_or_default())
        .collect();
    send(&super::protocol::ReportLine::Started.encode());
    // SAFETY: restoring the default SIGPIPE disposition the Rust runtime changed, so the
    // program starts as it would from a shell.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let errno = match nix::unistd::execvp(&arguments[0], &arguments) {
        Err(errno) => errno as i32,
        Ok(_) => 0,
    };
    send(
        &super::protocol::ReportLine::ExecFailed {
            errno,
            path: program[0].to_string_lossy().into_owned(),
        }
        .encode(),
    );
    eprintln!(
        "boxpy: cannot run `{}`: {}",
        program[0].to_string_lossy(),
        std::io::Error::from_raw_os_error(errno)
    );
    if errno == libc::ENOENT {
        127
    } else {
        126
    }
}

#[cfg(test)]
mod tests;
