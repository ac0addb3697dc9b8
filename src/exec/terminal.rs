//! The program's stdin: never a descriptor of the user's terminal, of boxpy's output, or of
//! a file it could reopen for writing.
//!
//! What boxpy's own stdin is decides what the program gets as fd 0 (sent to the init in
//! the setup message, never through bwrap, whose own stdin is `/dev/null`):
//! - a pipe, anonymous or named: a pipe of one page that a thread fills
//!   with `tee(2)`, which copies without consuming; what the program has read is taken
//!   out of the FIFO only once its pipe is empty again, and at the end exactly what it
//!   read. `{ boxpy run x.py; cat; } < fifo`: `cat` gets everything the program did not
//!   read, and `... | while read f; do boxpy run x.py "$f"; done` keeps its lines. A
//!   descriptor of the FIFO itself would let the program `fchmod` the host's node, and one
//!   of any pipe reopens for writing through `/proc/self/fd/0` (the program would feed the
//!   caller's next reader). The price: bulk input through a pipe moves a page at a time.
//! - a regular file: a pipe that a thread fills with `splice(2)` from the file at an
//!   explicit offset. A descriptor of the file itself would let the program reopen it for
//!   writing through `/proc/self/fd/0` (the magic link checks only the file's permissions,
//!   not the mount namespace), and `boxpy run x.py < ~/.bashrc` would hand it `~/.bashrc`.
//!   When the run ends, the caller's offset is moved past what the program read (what was
//!   relayed, less what is still unread in its pipe), as if it had read the file itself.
//! - `/dev/null`: an empty pipe (the host's `/dev/null` is a host inode too).
//! - a terminal: the slave of a new pseudo-terminal that the init opens in the sandbox's
//!   own devpts instance (see [`Terminal`]), with boxpy relaying what the user types while
//!   boxpy is in the terminal's foreground. Never one of the host's `/dev/pts` nodes: the
//!   program could `fchmod`, `fchown` or `futimens` its stdin, and those would show there.
//! - anything else (a socket, a device): a pipe that a thread fills from it. A socket may
//!   also be boxpy's stdout (an agent framework's socketpair): with it the program could
//!   write its own `--json` object before boxpy's. This relay reads ahead (up to 64 KiB
//!   more than the program read). Peeking a stream socket instead, as a FIFO is teed, was
//!   tried and left: boxpy's copy, closed last with unread data in it, resets the agent's
//!   end (`ECONNRESET`) before it reads boxpy's report.
//!
//! Invariants:
//! - The program, its init and bwrap never hold a descriptor of the user's terminal, a
//!   socket boxpy was given, a regular file boxpy's caller opened, or a node of the host's
//!   devpts.
//! - boxpy reads the terminal only while its process group is the terminal's foreground
//!   group, with SIGTTIN and SIGTTOU blocked in the relay thread: a background run is never
//!   stopped by job control for input it did not need, and never takes what the user types
//!   at the shell.
//! - boxpy changes the terminal's settings only in the foreground, only after the program
//!   changed them on its own pseudo-terminal, and only the input modes (echo, canonical
//!   input, CR/NL mapping: what `getpass` and raw-mode readers need); it puts those back as
//!   it found them when the run ends, however it ends. The window size is never changed:
//!   the program's pseudo-terminal has its own.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};

use super::init::TerminalRequest;
use crate::error::Result;

/// How often a background run looks again whether it was brought to the foreground, while
/// the terminal holds input (someone else's, which it must not read).
const BACKGROUND_RECHECK: Duration = Duration::from_millis(100);

/// `EXTPROC` (Linux `c_lflag`): the pseudo-terminal's line discipline leaves echo and line
/// editing to the other side (the user's terminal) and reports every change of its settings
/// to the packet-mode master as `TIOCPKT_IOCTL`.
const EXTPROC: libc::tcflag_t = 0o200000;

/// The local modes the program may have mirrored onto the user's terminal.
const MIRRORED_LOCAL: libc::tcflag_t =
    libc::ECHO | libc::ECHOE | libc::ECHOK | libc::ECHONL | libc::ICANON;
/// The input modes mirrored likewise (a raw-mode reader wants Enter as `\r`).
const MIRRORED_INPUT: libc::tcflag_t = libc::ICRNL | libc::INLCR | libc::IGNCR;

/// The program's stdin, and the relay that feeds it when it is not boxpy's own.
pub(super) struct ProgramStdin {
    /// What the program gets as fd 0.
    pub stdin: InitStdin,
    relay: Option<Relay>,
}

/// What the init is given for the program's stdin.
pub(super) enum InitStdin {
    /// A descriptor, handed to the program as it is.
    Descriptor(OwnedFd),
    /// A pseudo-terminal the init opens in the sandbox's own devpts; its master comes back
    /// to boxpy's relay over the setup socket.
    Terminal(TerminalRequest),
}

/// A relay not yet started.
enum Relay {
    /// Copy a stream (a socket, a device) into the program's pipe.
    Stream { source: OwnedFd, pipe: OwnedFd },
    /// `tee` a FIFO into the program's one-page pipe, consuming only what it read.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    Fifo { source: OwnedFd, pipe: OwnedFd },
    /// Splice a regular file into the program's pipe, from `offset` on; at the end, the
    /// caller's offset is moved past what the program read (`reader`, boxpy's copy of
    /// the program's end, says how much it left in the pipe).
    File {
        source: OwnedFd,
        pipe: OwnedFd,
        reader: OwnedFd,
        offset: i64,
    },
    /// Relay the user's terminal to the program's pseudo-terminal, once its master
    /// arrives from the init.
    Terminal(PendingTerminal),
}

/// The user's terminal and the pseudo-terminal the program reads instead.
///
/// The pseudo-terminal starts with the terminal's settings and window size, plus `EXTPROC`,
/// and its master is in packet mode: the user's terminal does the echo and line editing as
/// it always did, and when the program changes its own settings (`getpass` turning echo
/// off, `tty.setraw`) the master is told at once and boxpy, if it is in the foreground,
/// sets the same input modes on the user's terminal. The program has no controlling
/// terminal (bwrap's `--new-session`), so it gets no SIGTTIN of its own: a background run
/// that reads simply waits until boxpy is brought to the foreground and the user types.
struct Terminal {
    tty: OwnedFd,
    master: OwnedFd,
    saved: libc::termios,
    /// boxpy has set the program's modes on the terminal (so the end puts them back).
    changed: Arc<AtomicBool>,
}

/// The user's terminal, before the init has sent the master of the program's
/// pseudo-terminal.
struct PendingTerminal {
    tty: OwnedFd,
    saved: libc::termios,
    changed: Arc<AtomicBool>,
}

/// The modes boxpy mirrors, as the program's pseudo-terminal has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Modes {
    local: libc::tcflag_t,
    input: libc::tcflag_t,
}

impl Modes {
    fn of(settings: &libc::termios) -> Modes {
        Modes {
            local: settings.c_lflag & MIRRORED_LOCAL,
            input: settings.c_iflag & MIRRORED_INPUT,
        }
    }

    /// `settings` with these modes; in raw input (no canonical mode) reads return at each
    /// byte; back in canonical mode, `VMIN`/`VTIME` come from `original`.
    fn apply(self, settings: &libc::termios, original: &libc::termios) -> libc::termios {
        let mut result = *settings;
        result.c_lflag = (settings.c_lflag & !MIRRORED_LOCAL) | self.local;
        result.c_iflag = (settings.c_iflag & !MIRRORED_INPUT) | self.input;
        if self.local & libc::ICANON == 0 {
            result.c_cc[libc::VMIN] = 1;
            result.c_cc[libc::VTIME] = 0;
        } else {
            result.c_cc[libc::VMIN] = original.c_cc[libc::VMIN];
            result.c_cc[libc::VTIME] = original.c_cc[libc::VTIME];
        }
        result
    }
}

/// A started relay: stopped, joined and (for a terminal) undone by [`StdinRelay::finish`]
/// or on drop (boxpy failing mid-run).
pub(super) struct StdinRelay {
    stop: Option<OwnedFd>,
    thread: Option<JoinHandle<Option<FileEnd>>>,
    /// The user's terminal, the settings boxpy found, and whether it changed them.
    restore: Option<(OwnedFd, libc::termios, Arc<AtomicBool>)>,
}

/// Decides the program's stdin from the run's input: boxpy's own fd 0 or a given
/// descriptor, judged the same way (see the module doc), or nothing.
pub(super) fn program_stdin(input: &super::Input) -> Result<ProgramStdin> {
    let source = match input {
        super::Input::Null => None,
        super::Input::Inherit => duplicate_stdin(),
        super::Input::Fd(fd) => Some(fd.try_clone().context("duplicating the run's stdin")?),
    };
    let Some(stdin) = source else {
        // No stdin at all: the program gets an empty one.
        return empty();
    };
    let status = nix::sys::stat::fstat(stdin.as_raw_fd()).context("inspecting stdin")?;
    let kind = status.st_mode & libc::S_IFMT;
    // Any pipe is relayed, without reading ahead: a named FIFO is a host inode the program
    // could chmod or touch through its descriptor, and even an anonymous pipe opened
    // read-only reopens for writing through `/proc/self/fd/0`, which would let the
    // program feed the caller's next reader (`producer | while read f; do boxpy ...`).
    #[cfg(target_os = "linux")]
    if kind == libc::S_IFIFO {
        let (read, write) = super::pipe()?;
        // One page: the pipe is writable again only once the program has read all of it.
        // SAFETY: F_SETPIPE_SZ only resizes the pipe (empty yet).
        if unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_PAGE) } >= 0 {
            return Ok(ProgramStdin {
                stdin: InitStdin::Descriptor(read),
                relay: Some(Relay::Fifo {
                    source: stdin,
                    pipe: write,
                }),
            });
        }
    }
    // The host's `/dev/null` is a host inode too (as root, `fchmod(0, 0)` would break it
    // for everyone): the program gets an empty pipe instead.
    if kind == libc::S_IFCHR && status.st_rdev == libc::makedev(1, 3) {
        return empty();
    }
    // SAFETY: isatty only inspects the descriptor.
    if unsafe { libc::isatty(stdin.as_raw_fd()) } == 1 {
        let (terminal, request) = PendingTerminal::new(stdin)?;
        return Ok(ProgramStdin {
            stdin: InitStdin::Terminal(request),
            relay: Some(Relay::Terminal(terminal)),
        });
    }
    let (read, write) = super::pipe()?;
    if kind == libc::S_IFREG {
        // SAFETY: lseek only reads the descriptor's offset.
        let offset = unsafe { libc::lseek(stdin.as_raw_fd(), 0, libc::SEEK_CUR) };
        if offset >= 0 {
            let reader = read
                .try_clone()
                .context("duplicating the program's stdin")?;
            return Ok(ProgramStdin {
                stdin: InitStdin::Descriptor(read),
                relay: Some(Relay::File {
                    source: stdin,
                    pipe: write,
                    reader,
                    offset,
                }),
            });
        }
    }
    Ok(ProgramStdin {
        stdin: InitStdin::Descriptor(read),
        relay: Some(Relay::Stream {
            source: stdin,
            pipe: write,
        }),
    })
}

/// A stdin that is at its end at once: a pipe whose write end is closed.
fn empty() -> Result<ProgramStdin> {
    let (read, write) = super::pipe()?;
    drop(write);
    direct(read)
}

fn direct(fd: OwnedFd) -> Result<ProgramStdin> {
    Ok(ProgramStdin {
        stdin: InitStdin::Descriptor(fd),
        relay: None,
    })
}

/// A close-on-exec copy of fd 0, or `None` when boxpy has no stdin.
fn duplicate_stdin() -> Option<OwnedFd> {
    let raw = nix::fcntl::fcntl(0, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3)).ok()?;
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) returned a new descriptor that nothing else owns.
    Some(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// `/dev/null`, read-only and close-on-exec: bwrap's stdin, and the program's when boxpy
/// has none.
pub(super) fn open_null() -> Result<OwnedFd> {
    let file = std::fs::File::open("/dev/null").context("opening `/dev/null`")?;
    Ok(file.into())
}

impl ProgramStdin {
    /// Splits off the relay, to start once the program's end has been sent.
    pub(super) fn split(self) -> (InitStdin, PendingRelay) {
        (self.stdin, PendingRelay(self.relay))
    }
}

/// A relay to start with [`PendingRelay::start`] (nothing to do for a direct stdin).
pub(super) struct PendingRelay(Option<Relay>);

impl PendingRelay {
    /// Starts the relay's thread. A terminal's relay first waits on `setup_socket` (boxpy's
    /// end of the init's setup socket) for the master of the program's pseudo-terminal.
    pub(super) fn start(self, setup_socket: &OwnedFd) -> Result<StdinRelay> {
        let Some(relay) = self.0 else {
            return Ok(StdinRelay {
                stop: None,
                thread: None,
                restore: None,
            });
        };
        let (stop_read, stop_write) = super::pipe()?;
        let restore = match &relay {
            Relay::Terminal(terminal) => Some((
                terminal
                    .tty
                    .try_clone()
                    .context("duplicating the terminal")?,
                terminal.saved,
                Arc::clone(&terminal.changed),
            )),
            Relay::Stream { .. } | Relay::Fifo { .. } | Relay::File { .. } => None,
        };
        let socket = match &relay {
            Relay::Terminal(_) => Some(
                setup_socket
                    .try_clone()
                    .context("duplicating the setup socket")?,
            ),
            Relay::Stream { .. } | Relay::Fifo { .. } | Relay::File { .. } => None,
        };
        let thread = super::helper_thread(move || match relay {
            Relay::Stream { source, pipe } => {
                copy_into_pipe(Source::Stream(source), pipe, stop_read);
                None
            }
            Relay::Fifo { source, pipe } => {
                tee_into_pipe(source, pipe, stop_read);
                None
            }
            Relay::File {
                source,
                pipe,
                reader,
                offset,
            } => {
                let start = offset;
                let Ok(copy) = source.try_clone() else {
                    return None;
                };
                let end = copy_into_pipe(Source::File(copy, offset), pipe, stop_read);
                Some(FileEnd {
                    source,
                    reader,
                    start,
                    relayed: end.saturating_sub(start),
                })
            }
            Relay::Terminal(pending) => {
                let terminal = socket.and_then(|socket| pending.connect(&socket, &stop_read));
                if let Some(terminal) = terminal {
                    terminal.relay(stop_read);
                }
                None
            }
        });
        Ok(StdinRelay {
            stop: Some(stop_write),
            thread: Some(thread),
            restore,
        })
    }
}

impl StdinRelay {
    /// Stops the relay (what was not relayed yet is left where it is), waits for it, and
    /// puts the terminal's settings back if boxpy changed them and holds its foreground.
    pub(super) fn finish(&mut self) {
        // Closing the stop pipe's write end wakes the relay's poll.
        self.stop = None;
        if let Some(thread) = self.thread.take() {
            if let Ok(Some(file)) = thread.join() {
                file.settle();
            }
        }
        if let Some((tty, saved, changed)) = self.restore.take() {
            if changed.load(Ordering::SeqCst) {
                restore_settings(tty.as_fd(), &saved);
            }
        }
    }
}

impl Drop for StdinRelay {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Puts the modes boxpy mirrored back as they were in `saved` (anything else on the
/// terminal is left as it is now: another process of the same job, a pager, may hold it),
/// when boxpy's process group is the terminal's foreground group (in the background, the
/// terminal is the shell's, which restores its own settings when it takes it back). SIGTTOU
/// is blocked around the call, so a race with the shell taking the terminal back never
/// stops boxpy.
fn restore_settings(tty: BorrowedFd<'_>, saved: &libc::termios) {
    with_job_control_signals_blocked(|| {
        if !foreground(tty) {
            return;
        }
        let Some(current) = get_settings(tty) else {
            return;
        };
        let restored = Modes::of(saved).apply(&current, saved);
        if !same_settings(&current, &restored) {
            // SAFETY: tcsetattr reads `restored`, which lives across the call.
            unsafe { libc::tcsetattr(tty.as_raw_fd(), libc::TCSADRAIN, &restored) };
        }
    });
}

/// Runs `work` with SIGTTIN and SIGTTOU blocked in this thread: a terminal read from the
/// background then fails with EIO and a settings change goes through, instead of stopping
/// all of boxpy. The callers check the foreground themselves.
fn with_job_control_signals_blocked<T>(work: impl FnOnce() -> T) -> T {
    use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow, Signal};
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGTTIN);
    signals.add(Signal::SIGTTOU);
    let mut previous = SigSet::empty();
    let _ = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&signals), Some(&mut previous));
    let result = work();
    let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&previous), None);
    result
}

/// Whether boxpy's process group holds the terminal's foreground. A terminal that is not
/// boxpy's controlling terminal has no job control: boxpy may read it.
fn foreground(tty: BorrowedFd<'_>) -> bool {
    // SAFETY: tcgetpgrp and getpgrp only read process state.
    let group = unsafe { libc::tcgetpgrp(tty.as_raw_fd()) };
    if group < 0 {
        return Errno::last() == Errno::ENOTTY;
    }
    // SAFETY: as above.
    group == unsafe { libc::getpgrp() }
}

fn get_settings(tty: BorrowedFd<'_>) -> Option<libc::termios> {
    // SAFETY: an all-zero termios is a valid value for tcgetattr to overwrite.
    let mut settings: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: tcgetattr writes only to `settings`, which lives across the call.
    (unsafe { libc::tcgetattr(tty.as_raw_fd(), &mut settings) } == 0).then_some(settings)
}

fn same_settings(one: &libc::termios, other: &libc::termios) -> bool {
    one.c_iflag == other.c_iflag
        && one.c_oflag == other.c_oflag
        && one.c_cflag == other.c_cflag
        && one.c_lflag == other.c_lflag
        && one.c_cc == other.c_cc
        // SAFETY: cfget*speed only read the structure.
        && unsafe { libc::cfgetispeed(one) == libc::cfgetispeed(other) }
        && unsafe { libc::cfgetospeed(one) == libc::cfgetospeed(other) }
}

/// A regular file relayed: what is needed, once the program is gone, to move the caller's
/// offset past what the program read.
struct FileEnd {
    /// boxpy's copy of the caller's stdin (the same open file, so the same offset).
    source: OwnedFd,
    /// boxpy's copy of the program's end of its pipe: what is left there was not read.
    reader: OwnedFd,
    start: i64,
    relayed: i64,
}

impl FileEnd {
    /// Moves the caller's offset to where the program stopped reading.
    fn settle(self) {
        let left = unread(self.reader.as_fd()).unwrap_or(0);
        let read = self.relayed.saturating_sub(left).max(0);
        // SAFETY: lseek only moves the open file's offset.
        unsafe { libc::lseek(self.source.as_raw_fd(), self.start + read, libc::SEEK_SET) };
    }
}

/// The bytes waiting in a pipe (FIONREAD, from either end).
fn unread(pipe: BorrowedFd<'_>) -> Option<i64> {
    let mut count: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int, which lives across the call.
    (unsafe { libc::ioctl(pipe.as_raw_fd(), libc::FIONREAD, &mut count) } == 0)
        .then_some(i64::from(count))
}

/// The size of the program's pipe for a FIFO relay: one page, one slot, so "writable" means
/// "empty" (`poll`'s POLLOUT on a pipe is "a slot is free").
#[cfg(target_os = "linux")]
const PIPE_PAGE: libc::c_int = 4096;

/// Relays a FIFO (or any pipe) without consuming more of it than the program reads:
/// `tee(2)` copies the FIFO's first bytes into the program's one-page pipe without taking
/// them out; once the program has read all of them (its pipe is empty again), they are
/// taken out of the FIFO and the next are copied. When the run ends (`stop`), exactly what
/// the program read of the last copy is taken out. End-of-file of the FIFO closes the
/// program's pipe.
#[cfg(target_os = "linux")]
fn tee_into_pipe(source: OwnedFd, pipe: OwnedFd, stop: OwnedFd) {
    use nix::fcntl::SpliceFFlags;
    let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") else {
        return;
    };
    // Bytes copied into the program's pipe and still in the FIFO.
    let mut outstanding: usize = 0;
    let take_out = |count: usize| {
        let mut left = count;
        while left > 0 {
            match nix::fcntl::splice(
                source.as_fd(),
                None,
                null.as_fd(),
                None,
                left,
                SpliceFFlags::SPLICE_F_NONBLOCK,
            ) {
                Ok(0) => return,
                Ok(taken) => left -= taken.min(left),
                Err(Errno::EINTR) => {}
                Err(_) => return,
            }
        }
    };
    loop {
        let watched = if outstanding == 0 {
            PollFd::new(source.as_fd(), PollFlags::POLLIN)
        } else {
            PollFd::new(pipe.as_fd(), PollFlags::POLLOUT)
        };
        let mut fds = [PollFd::new(stop.as_fd(), PollFlags::POLLIN), watched];
        match nix::poll::poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => break,
        }
        if fds[0].any().unwrap_or(true) {
            break;
        }
        let ready = fds[1].revents().unwrap_or(PollFlags::empty());
        if outstanding > 0 {
            if ready.contains(PollFlags::POLLERR) {
                // The program closed its stdin: what it read of the copy is settled below.
                break;
            }
            if ready.contains(PollFlags::POLLOUT) {
                take_out(outstanding);
                outstanding = 0;
            }
            continue;
        }
        if ready.is_empty() {
            continue;
        }
        match nix::fcntl::tee(
            source.as_fd(),
            pipe.as_fd(),
            PIPE_PAGE as usize,
            SpliceFFlags::SPLICE_F_NONBLOCK,
        ) {
            // End of file: the program's pipe closes when this returns.
            Ok(0) => return,
            Ok(copied) => outstanding = copied,
            Err(Errno::EAGAIN | Errno::EINTR) => {
                if ready.contains(PollFlags::POLLHUP) && !ready.contains(PollFlags::POLLIN) {
                    return;
                }
            }
            Err(_) => return,
        }
    }
    // Take out what the program read of the last copy; leave the rest in the FIFO.
    let left = unread(pipe.as_fd()).unwrap_or(0).max(0) as usize;
    take_out(outstanding.saturating_sub(left));
}

#[cfg(not(target_os = "linux"))]
fn tee_into_pipe(source: OwnedFd, pipe: OwnedFd, stop: OwnedFd) {
    copy_into_pipe(Source::Stream(source), pipe, stop);
}

/// What a stream relay reads from.
enum Source {
    Stream(OwnedFd),
    /// A regular file, read at its own offset (the caller's stays where it is).
    File(OwnedFd, i64),
}

/// Copies `source` into the program's pipe until end-of-file, the program closing its
/// stdin, or `stop` (the run ended). The pipe's write end is boxpy's own and non-blocking,
/// so a program that never reads cannot hold the relay past the run. Returns a file's
/// offset after the last byte relayed (0 for a stream).
fn copy_into_pipe(mut source: Source, pipe: OwnedFd, stop: OwnedFd) -> i64 {
    relay_source(&mut source, pipe, stop);
    match source {
        Source::File(_, offset) => offset,
        Source::Stream(_) => 0,
    }
}

fn relay_source(source: &mut Source, pipe: OwnedFd, stop: OwnedFd) {
    let _ = nix::fcntl::fcntl(
        pipe.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    );
    let mut pending: Vec<u8> = Vec::new();
    let mut buffer = vec![0u8; 64 * 1024];
    #[cfg(target_os = "linux")]
    let mut splice_works = true;
    loop {
        // A stream is polled for input when nothing is pending; a file is always readable.
        let want_input = pending.is_empty() && matches!(*source, Source::Stream(_));
        let (stop_ready, ready) = {
            let watched = match &*source {
                Source::Stream(fd) if want_input => PollFd::new(fd.as_fd(), PollFlags::POLLIN),
                Source::Stream(_) | Source::File(..) => {
                    PollFd::new(pipe.as_fd(), PollFlags::POLLOUT)
                }
            };
            let mut fds = [PollFd::new(stop.as_fd(), PollFlags::POLLIN), watched];
            match nix::poll::poll(&mut fds, PollTimeout::NONE) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(_) => return,
            }
            (
                fds[0].any().unwrap_or(true),
                fds[1].revents().unwrap_or(PollFlags::empty()),
            )
        };
        if stop_ready {
            return;
        }
        if !want_input && ready.contains(PollFlags::POLLERR) {
            // The program closed its stdin.
            return;
        }
        if ready.is_empty() {
            continue;
        }
        if pending.is_empty() {
            match source {
                #[cfg(target_os = "linux")]
                Source::File(file, offset) if splice_works => {
                    match nix::fcntl::splice(
                        file.as_fd(),
                        Some(offset),
                        pipe.as_fd(),
                        None,
                        1 << 20,
                        nix::fcntl::SpliceFFlags::SPLICE_F_NONBLOCK,
                    ) {
                        Ok(0) => return,
                        Ok(_) | Err(Errno::EAGAIN | Errno::EINTR) => {}
                        Err(Errno::EINVAL | Errno::ENOSYS) => splice_works = false,
                        Err(_) => return,
                    }
                    continue;
                }
                Source::File(file, offset) => {
                    match nix::sys::uio::pread(file.as_fd(), &mut buffer, *offset) {
                        Ok(0) | Err(_) => return,
                        Ok(count) => {
                            *offset += count as i64;
                            pending.extend_from_slice(&buffer[..count]);
                        }
                    }
                }
                Source::Stream(fd) => match nix::unistd::read(fd.as_raw_fd(), &mut buffer) {
                    Ok(0) => return,
                    Ok(count) => pending.extend_from_slice(&buffer[..count]),
                    Err(Errno::EINTR | Errno::EAGAIN) => continue,
                    Err(_) => return,
                },
            }
        }
        match nix::unistd::write(&pipe, &pending) {
            Ok(count) => {
                pending.drain(..count);
            }
            Err(Errno::EAGAIN | Errno::EINTR) => {}
            Err(_) => return,
        }
    }
}

impl PendingTerminal {
    /// Reads the terminal's settings and size; returns the pending relay and what the init
    /// needs to open the program's pseudo-terminal: the same settings plus `EXTPROC`, and
    /// the same size.
    fn new(tty: OwnedFd) -> Result<(PendingTerminal, TerminalRequest)> {
        let saved = get_settings(tty.as_fd())
            .ok_or_else(|| anyhow::anyhow!("reading the terminal's settings: {}", Errno::last()))?;
        // SAFETY: an all-zero winsize is valid; TIOCGWINSZ writes only to it.
        let mut size: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: as above; on failure the size stays zero (unknown).
        unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCGWINSZ, &mut size) };
        let mut inner = saved;
        inner.c_lflag |= EXTPROC;
        Ok((
            PendingTerminal {
                tty,
                saved,
                changed: Arc::new(AtomicBool::new(false)),
            },
            TerminalRequest {
                settings: inner,
                size,
            },
        ))
    }

    /// Waits for the init's answer on the setup socket: the master of the program's
    /// pseudo-terminal, which the init opened in the sandbox's own devpts, in packet mode.
    /// `None` when the run ends first (`stop`), or the answer is anything else (the init
    /// failed, and says so in its report).
    fn connect(self, socket: &OwnedFd, stop: &OwnedFd) -> Option<Terminal> {
        loop {
            let mut fds = [
                PollFd::new(stop.as_fd(), PollFlags::POLLIN),
                PollFd::new(socket.as_fd(), PollFlags::POLLIN),
            ];
            match nix::poll::poll(&mut fds, PollTimeout::NONE) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(_) => return None,
            }
            if fds[0].any().unwrap_or(true) {
                return None;
            }
            if fds[1].any().unwrap_or(false) {
                break;
            }
        }
        let master = receive_master(socket)?;
        nix::fcntl::fcntl(
            master.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .ok()?;
        Some(Terminal {
            tty: self.tty,
            master,
            saved: self.saved,
            changed: self.changed,
        })
    }
}

/// Receives the init's terminal answer: [`super::init::TERMINAL_ANSWER`] with exactly one
/// descriptor, a terminal (received close-on-exec).
#[cfg(target_os = "linux")]
fn receive_master(socket: &OwnedFd) -> Option<OwnedFd> {
    let mut files = super::init::receive_answer(
        socket,
        super::init::TERMINAL_ANSWER,
        nix::sys::socket::MsgFlags::MSG_DONTWAIT,
    )?;
    let master = files.pop().filter(|_| files.is_empty())?;
    // SAFETY: isatty only inspects the descriptor.
    let terminal = unsafe { libc::isatty(master.as_raw_fd()) } == 1;
    terminal.then_some(master)
}

#[cfg(not(target_os = "linux"))]
fn receive_master(_: &OwnedFd) -> Option<OwnedFd> {
    None
}

impl Terminal {
    /// Relays until `stop`, or until the program's side of the pseudo-terminal is closed
    /// everywhere (nothing can read what the user types any more).
    fn relay(self, stop: OwnedFd) {
        with_job_control_signals_blocked(|| self.relay_blocked(&stop));
    }

    fn relay_blocked(&self, stop: &OwnedFd) {
        let tty = self.tty.as_fd();
        let mut pending: Vec<u8> = Vec::new();
        let mut buffer = vec![0u8; 4096];
        // In the background with input waiting (the shell's), or while the program has
        // modes of its own (to set them again when boxpy is brought back to the
        // foreground after a Ctrl-Z, the shell having put its own back): look again
        // later rather than spin on a terminal that stays readable, or miss that moment.
        let mut backing_off = false;
        let mut tty_open = true;
        loop {
            let own_modes = self
                .program_modes()
                .is_some_and(|modes| modes != Modes::of(&self.saved));
            let watch_tty = tty_open && pending.is_empty() && !backing_off;
            let master_flags = if pending.is_empty() {
                PollFlags::POLLIN
            } else {
                PollFlags::POLLIN | PollFlags::POLLOUT
            };
            let mut fds = vec![
                PollFd::new(stop.as_fd(), PollFlags::POLLIN),
                PollFd::new(self.master.as_fd(), master_flags),
            ];
            if watch_tty {
                fds.push(PollFd::new(tty, PollFlags::POLLIN));
            }
            let timeout = if backing_off || own_modes {
                PollTimeout::try_from(BACKGROUND_RECHECK).unwrap_or(PollTimeout::MAX)
            } else {
                PollTimeout::NONE
            };
            match nix::poll::poll(&mut fds, timeout) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(_) => return,
            }
            let events: Vec<PollFlags> = fds
                .iter()
                .map(|fd| fd.revents().unwrap_or(PollFlags::empty()))
                .collect();
            if !events[0].is_empty() {
                return;
            }
            let master_events = events[1];
            if master_events.contains(PollFlags::POLLIN) {
                // A control packet says the program changed its settings (handled below,
                // on every pass); data is what the program wrote to its own stdin, which
                // is not the user's terminal's.
                match nix::unistd::read(self.master.as_raw_fd(), &mut buffer) {
                    Ok(_) | Err(Errno::EAGAIN | Errno::EINTR) => {}
                    Err(_) => return,
                }
            } else if master_events.intersects(PollFlags::POLLHUP | PollFlags::POLLERR) {
                // Every holder of the slave is gone.
                return;
            }
            if !pending.is_empty() && master_events.contains(PollFlags::POLLOUT) {
                match nix::unistd::write(&self.master, &pending) {
                    Ok(count) => {
                        pending.drain(..count);
                    }
                    Err(Errno::EAGAIN | Errno::EINTR) => {}
                    Err(_) => return,
                }
            }
            let in_foreground = foreground(tty);
            if in_foreground {
                self.mirror();
            }
            if backing_off {
                // Looked again: in the foreground, or the input waiting was taken by
                // whoever holds the terminal; either way, watch the terminal again.
                if in_foreground || !readable_now(tty) {
                    backing_off = false;
                }
                continue;
            }
            let Some(tty_events) = events.get(2).copied() else {
                continue;
            };
            if tty_events.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL)
            {
                // Hung up: the program gets end-of-file.
                tty_open = false;
                pending.extend(self.end_of_file());
                continue;
            }
            if !tty_events.contains(PollFlags::POLLIN) {
                continue;
            }
            if !in_foreground {
                backing_off = true;
                continue;
            }
            match nix::unistd::read(tty.as_raw_fd(), &mut buffer) {
                // Ctrl-D at the start of a line.
                Ok(0) => pending.extend(self.end_of_file()),
                Ok(count) => pending.extend_from_slice(&buffer[..count]),
                Err(Errno::EINTR | Errno::EAGAIN) => {}
                // Sent to the background between the check and the read.
                Err(_) => backing_off = true,
            }
        }
    }

    /// The mirrored modes of the program's pseudo-terminal (tcgetattr on a master reads
    /// its slave's settings).
    fn program_modes(&self) -> Option<Modes> {
        get_settings(self.master.as_fd()).map(|settings| Modes::of(&settings))
    }

    /// What tells the program's line discipline "end of file": its EOF character, in
    /// canonical mode (in raw mode the user's Ctrl-D arrives as a byte already).
    fn end_of_file(&self) -> Option<u8> {
        let inner = get_settings(self.master.as_fd())?;
        (inner.c_lflag & libc::ICANON != 0).then_some(inner.c_cc[libc::VEOF])
    }

    /// Sets the program's modes (echo, canonical input, CR/NL mapping) on the user's
    /// terminal when the terminal does not have them, leaving the rest of its current
    /// settings alone. Called only in the foreground. While the program keeps the modes it
    /// started with nothing is set (unless boxpy set others before), so boxpy never fights
    /// another process of its job (a pager) over the terminal.
    fn mirror(&self) {
        let Some(modes) = self.program_modes() else {
            return;
        };
        if modes == Modes::of(&self.saved) && !self.changed.load(Ordering::SeqCst) {
            return;
        }
        let tty = self.tty.as_fd();
        let Some(current) = get_settings(tty) else {
            return;
        };
        if Modes::of(&current) == modes {
            return;
        }
        let wanted = modes.apply(&current, &self.saved);
        // SAFETY: tcsetattr reads `wanted`, which lives across the call.
        if unsafe { libc::tcsetattr(tty.as_raw_fd(), libc::TCSANOW, &wanted) } == 0 {
            self.changed.store(true, Ordering::SeqCst);
        }
    }
}

/// Whether the terminal has input waiting now.
fn readable_now(tty: BorrowedFd<'_>) -> bool {
    let mut fds = [PollFd::new(tty, PollFlags::POLLIN)];
    nix::poll::poll(&mut fds, PollTimeout::ZERO).is_ok_and(|count| count > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(local: libc::tcflag_t, input: libc::tcflag_t, min: u8, time: u8) -> libc::termios {
        // SAFETY: an all-zero termios is a valid value.
        let mut settings: libc::termios = unsafe { std::mem::zeroed() };
        settings.c_lflag = local;
        settings.c_iflag = input;
        settings.c_oflag = libc::OPOST | libc::ONLCR;
        settings.c_cc[libc::VMIN] = min;
        settings.c_cc[libc::VTIME] = time;
        settings
    }

    #[test]
    fn modes_set_only_the_mirrored_flags_and_read_timing() {
        let cooked = settings(
            libc::ISIG | libc::ICANON | libc::ECHO | libc::ECHOE | libc::IEXTEN,
            libc::ICRNL | libc::IXON,
            1,
            0,
        );
        // What `tty.setraw` leaves on the program's side.
        let raw_program = settings(0, 0, 1, 0);
        let mut current = cooked;
        current.c_cc[libc::VMIN] = 4;
        let mirrored = Modes::of(&raw_program).apply(&current, &cooked);
        // Echo, canonical input and CR mapping follow the program; signals (Ctrl-C reaches
        // boxpy), output processing and flow control stay the terminal's.
        assert_eq!(mirrored.c_lflag, libc::ISIG | libc::IEXTEN);
        assert_eq!(mirrored.c_iflag, libc::IXON);
        assert_eq!(mirrored.c_oflag, libc::OPOST | libc::ONLCR);
        assert_eq!(mirrored.c_cc[libc::VMIN], 1);
        // Back to the modes boxpy found: exactly the original settings.
        let back = Modes::of(&cooked).apply(&mirrored, &cooked);
        assert!(same_settings(&back, &cooked));
        // getpass: only echo goes.
        let mut no_echo = cooked;
        no_echo.c_lflag &= !libc::ECHO;
        let mirrored = Modes::of(&no_echo).apply(&cooked, &cooked);
        assert!(same_settings(&mirrored, &no_echo));
    }
}
