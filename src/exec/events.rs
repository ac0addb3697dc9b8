//! Waiting for a sandbox on boxpy's main thread: one `poll(2)` over bwrap's exit, the
//! forwarded signals, bwrap's status channel and the init's report, with the timeout as
//! the poll's deadline.
//!
//! On Linux bwrap's exit is a pidfd and the signals a signalfd, so a run starts no thread
//! for them (each thread costs a stack mapping, a clone and a wake-up hand-off on the
//! path from the program's exit to boxpy's). Where those are missing (an older kernel,
//! macOS builds) a small thread turns `waitpid` and `sigwait` into a readable pipe, and
//! the loop is the same.

use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::unistd::Pid;

use super::{pump, BwrapRecord, InitReport};

/// How long the init gets to kill everything and report before it is killed itself.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

/// What the wait saw.
pub(super) struct Waited {
    /// bwrap's own wait status; `None` when the run ended at the init's report, before
    /// bwrap exited.
    pub status: Option<std::io::Result<ExitStatus>>,
    /// What bwrap itself printed (its errors): the last [`pump::TAIL_BYTES`] of it.
    pub diagnostics: Vec<u8>,
    /// boxpy stopped the sandbox at the deadline.
    pub timed_out: bool,
    /// boxpy was sent a signal it forwarded to the program (it was asked to stop).
    pub signalled: bool,
    pub record: BwrapRecord,
    pub report: InitReport,
}

/// Waits until the init reports the end (the program's pipes never passed through bwrap):
/// by then every process of the program is gone and the init has left the run's cgroups,
/// and what remains (the init's exit, the namespaces' teardown, bwrap's exit) is none of
/// the caller's business. Without that report (bwrap or the init failed), until bwrap has
/// exited and its channels have ended. `diagnostics` is bwrap's own output. Forwards each signal in
/// `forwarded` (blocked in every thread of boxpy; none for a library runtime) to the init once bwrap has named it,
/// to bwrap's process group before; at `deadline`, asks the init to stop everything
/// (SIGUSR1) and kills it after a grace period.
pub(super) fn wait_for_sandbox(
    bwrap_pid: i32,
    status_read: OwnedFd,
    report_read: OwnedFd,
    diagnostics_read: OwnedFd,
    forwarded: Option<&SigSet>,
    gate: &pump::Gate,
    deadline: Option<Instant>,
) -> std::io::Result<Waited> {
    let exit = ExitWatch::new(bwrap_pid)?;
    // A library runtime forwards nothing: no signalfd for signals it did not block.
    let signals = forwarded.map(SignalWatch::new).transpose()?;
    let mut signalled = false;
    let mut status = Some(Channel::new(status_read));
    let mut report = Some(Channel::new(report_read));
    let mut diagnostics = Some(Channel::new(diagnostics_read));
    let mut record = BwrapRecord::default();
    let mut init_report = InitReport::default();
    let mut exited: Option<std::io::Result<ExitStatus>> = None;
    let mut diagnostics_text = Vec::new();
    let mut timed_out = false;
    let mut kill_at: Option<Instant> = None;
    let init_pid = |record: &BwrapRecord| record.child_pid.filter(|pid| *pid > 0);

    while !init_report.ended && (exited.is_none() || status.is_some() || report.is_some()) {
        let wake = match (&exited, kill_at) {
            (Some(_), _) => None,
            (None, Some(kill_at)) => Some(kill_at),
            (None, None) if timed_out => None,
            (None, None) => deadline,
        };
        let timeout = wake.map_or(PollTimeout::NONE, |wake| {
            let left = wake.saturating_duration_since(Instant::now());
            // Round up, so the loop never spins on a deadline less than 1 ms away.
            PollTimeout::try_from(left + Duration::from_micros(999)).unwrap_or(PollTimeout::MAX)
        });
        let readable = {
            let mut sources: Vec<(Source, PollFd)> = Vec::with_capacity(4);
            if exited.is_none() {
                sources.push((Source::Exit, PollFd::new(exit.fd(), PollFlags::POLLIN)));
            }
            if let Some(signals) = &signals {
                sources.push((Source::Signal, PollFd::new(signals.fd(), PollFlags::POLLIN)));
            }
            if let Some(channel) = &status {
                sources.push((Source::Status, PollFd::new(channel.fd(), PollFlags::POLLIN)));
            }
            if let Some(channel) = &report {
                sources.push((Source::Report, PollFd::new(channel.fd(), PollFlags::POLLIN)));
            }
            if let Some(channel) = &diagnostics {
                sources.push((
                    Source::Diagnostics,
                    PollFd::new(channel.fd(), PollFlags::POLLIN),
                ));
            }
            let mut polled: Vec<PollFd> = sources.iter().map(|(_, fd)| *fd).collect();
            match nix::poll::poll(&mut polled, timeout) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(errno) => return Err(errno.into()),
            }
            sources
                .iter()
                .zip(&polled)
                .filter(|(_, fd)| fd.any().unwrap_or(true))
                .map(|((source, _), _)| *source)
                .collect::<Vec<Source>>()
        };

        if exited.is_none() {
            let now = Instant::now();
            if kill_at.is_some_and(|at| now >= at) {
                if let Some(init) = init_pid(&record) {
                    let _ = kill(Pid::from_raw(init), Signal::SIGKILL);
                }
                let _ = kill(Pid::from_raw(-bwrap_pid), Signal::SIGKILL);
                kill_at = None;
            } else if !timed_out && deadline.is_some_and(|deadline| now >= deadline) {
                timed_out = true;
                match init_pid(&record) {
                    Some(init) => {
                        let _ = kill(Pid::from_raw(init), Signal::SIGUSR1);
                        kill_at = Some(now + SHUTDOWN_GRACE);
                    }
                    None => {
                        let _ = kill(Pid::from_raw(-bwrap_pid), Signal::SIGKILL);
                    }
                }
            }
        }
        for source in readable {
            match source {
                Source::Exit => exited = Some(exit.reap()),
                Source::Signal => {
                    if let Some(signal) = signals.as_ref().and_then(SignalWatch::take) {
                        signalled = true;
                        let target = init_pid(&record).unwrap_or(-bwrap_pid);
                        let _ = kill(Pid::from_raw(target), signal);
                    }
                }
                Source::Status => {
                    if let Some(channel) = &mut status {
                        let open = channel.read_more();
                        record.update(&channel.buffer);
                        if !open {
                            status = None;
                        }
                    }
                }
                Source::Report => {
                    if let Some(channel) = &mut report {
                        let open = channel.read_more();
                        for line in channel.complete_lines(!open) {
                            init_report.apply_line(&line, gate);
                        }
                        if !open {
                            report = None;
                            gate.finish_setup();
                        }
                    }
                }
                Source::Diagnostics => {
                    if let Some(channel) = &mut diagnostics {
                        let open = channel.read_more();
                        channel.keep_tail(pump::TAIL_BYTES);
                        if !open {
                            // Kept for the report; nothing more to wait for.
                            diagnostics_text = std::mem::take(&mut channel.buffer);
                            diagnostics = None;
                        }
                    }
                }
            }
        }
    }
    if exited.is_none() && report.is_some() {
        // Ended at the report: the gate was opened by `started`; nothing more to hold.
        gate.finish_setup();
    }
    let diagnostics = diagnostics.map_or(diagnostics_text, |channel| channel.buffer);
    Ok(Waited {
        status: exited,
        diagnostics,
        timed_out,
        signalled,
        record,
        report: init_report,
    })
}

#[derive(Debug, Clone, Copy)]
enum Source {
    Exit,
    Signal,
    Status,
    Report,
    Diagnostics,
}

/// A pipe read as it fills, kept whole (the status and the report are a few lines).
struct Channel {
    file: std::fs::File,
    buffer: Vec<u8>,
    consumed: usize,
}

impl Channel {
    fn new(fd: OwnedFd) -> Channel {
        Channel {
            file: std::fs::File::from(fd),
            buffer: Vec::new(),
            consumed: 0,
        }
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }

    /// Reads what is there (poll said it is readable); false at end-of-file or error.
    fn read_more(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        loop {
            match self.file.read(&mut chunk) {
                Ok(0) => return false,
                Ok(count) => {
                    self.buffer.extend_from_slice(&chunk[..count]);
                    return true;
                }
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
    }

    /// Drops all but the last `limit` bytes (a channel that is only kept, never split).
    fn keep_tail(&mut self, limit: usize) {
        if self.buffer.len() > limit {
            self.buffer.drain(..self.buffer.len() - limit);
        }
    }

    /// The lines not yet returned; with `all`, the unterminated rest too.
    fn complete_lines(&mut self, all: bool) -> Vec<String> {
        let rest = &self.buffer[self.consumed..];
        let end = if all {
            rest.len()
        } else {
            rest.iter()
                .rposition(|byte| *byte == b'\n')
                .map_or(0, |at| at + 1)
        };
        let lines = String::from_utf8_lossy(&rest[..end])
            .lines()
            .map(str::to_owned)
            .collect();
        self.consumed += end;
        lines
    }
}

/// bwrap's exit, as a readable descriptor.
enum ExitWatch {
    /// A pidfd: readable once the process has exited; then reaped with `waitpid`.
    #[cfg(target_os = "linux")]
    Pidfd { pid: i32, fd: OwnedFd },
    /// A thread that waits and writes the raw wait status into a pipe.
    Thread { read: std::fs::File },
}

impl ExitWatch {
    fn new(pid: i32) -> std::io::Result<ExitWatch> {
        #[cfg(target_os = "linux")]
        {
            // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
            let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
            if let Ok(fd) = i32::try_from(fd) {
                if fd >= 0 {
                    // SAFETY: the kernel just returned this descriptor; nothing else owns it.
                    let fd = unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) };
                    return Ok(ExitWatch::Pidfd { pid, fd });
                }
            }
        }
        let (read, write) = super::pipe().map_err(std::io::Error::other)?;
        super::helper_thread(move || {
            use std::io::Write;
            use std::os::unix::process::ExitStatusExt;
            let raw = super::wait_for(pid).map_or(-1, |status| status.into_raw());
            let _ = std::fs::File::from(write).write_all(&raw.to_ne_bytes());
        });
        Ok(ExitWatch::Thread {
            read: std::fs::File::from(read),
        })
    }

    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            #[cfg(target_os = "linux")]
            ExitWatch::Pidfd { fd, .. } => fd.as_fd(),
            ExitWatch::Thread { read } => read.as_fd(),
        }
    }

    /// The exit status, once [`ExitWatch::fd`] is readable.
    fn reap(&self) -> std::io::Result<ExitStatus> {
        use std::os::unix::process::ExitStatusExt;
        match self {
            #[cfg(target_os = "linux")]
            ExitWatch::Pidfd { pid, .. } => super::wait_for(*pid),
            ExitWatch::Thread { read } => {
                let mut raw = [0u8; 4];
                let mut reader: &std::fs::File = read;
                reader.read_exact(&mut raw)?;
                match i32::from_ne_bytes(raw) {
                    -1 => Err(std::io::Error::other("waiting for bwrap failed")),
                    raw => Ok(ExitStatus::from_raw(raw)),
                }
            }
        }
    }
}

/// The forwarded signals, as a readable descriptor.
enum SignalWatch {
    #[cfg(target_os = "linux")]
    Signalfd(nix::sys::signalfd::SignalFd),
    /// A thread that takes them with `sigwait` and writes their numbers into a pipe.
    Thread { read: std::fs::File },
}

impl SignalWatch {
    fn new(signals: &SigSet) -> std::io::Result<SignalWatch> {
        #[cfg(target_os = "linux")]
        {
            use nix::sys::signalfd::{SfdFlags, SignalFd};
            if let Ok(fd) =
                SignalFd::with_flags(signals, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            {
                return Ok(SignalWatch::Signalfd(fd));
            }
        }
        let (read, write) = super::pipe().map_err(std::io::Error::other)?;
        let signals = *signals;
        super::helper_thread(move || {
            use std::io::Write;
            let mut write = std::fs::File::from(write);
            while let Ok(signal) = signals.wait() {
                if write.write_all(&(signal as i32).to_ne_bytes()).is_err() {
                    return;
                }
            }
        });
        Ok(SignalWatch::Thread {
            read: std::fs::File::from(read),
        })
    }

    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            #[cfg(target_os = "linux")]
            SignalWatch::Signalfd(fd) => fd.as_fd(),
            SignalWatch::Thread { read } => read.as_fd(),
        }
    }

    /// The next pending signal, once [`SignalWatch::fd`] is readable.
    fn take(&self) -> Option<Signal> {
        match self {
            #[cfg(target_os = "linux")]
            SignalWatch::Signalfd(fd) => {
                let info = fd.read_signal().ok()??;
                Signal::try_from(info.ssi_signo as i32).ok()
            }
            SignalWatch::Thread { read } => {
                let mut raw = [0u8; 4];
                let mut reader: &std::fs::File = read;
                reader.read_exact(&mut raw).ok()?;
                Signal::try_from(i32::from_ne_bytes(raw)).ok()
            }
        }
    }
}
