//! Moving the program's output: stream it live (or capture it for `--json`), count it
//! against `limits.output`, keep a bounded tail of stderr for the report.
//!
//! A pump never stops reading before end-of-file, so the program never blocks on a full
//! pipe; bytes over the limit are read and dropped.
//!
//! On Linux a streamed stream moves with `splice(2)` (stderr's tail duplicated with
//! `tee(2)` into a private pipe), never through boxpy's memory. Invariants, each with a
//! test in `tests/integration/output.rs`:
//! - nothing here waits on a pipe only this thread could empty (the private pipe is teed
//!   into without blocking and compacted when its slots run out);
//! - a round reserves from `limits.output` only what the program's pipe holds, so an idle
//!   stream never holds budget the other needs;
//! - a non-blocking caller is waited for with `poll`, never spun on nor taken for gone;
//! - only a stream that has moved 256 KiB widens pipes ([`Widening`]).

use std::fs::File;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use super::{Notice, Observer};

/// How much of stderr is kept for the traceback parser.
pub const TAIL_BYTES: usize = 64 * 1024;

/// Which of the program's streams a pump moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Output captured for `--json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    pub bytes: Vec<u8>,
    /// Bytes were dropped at `limits.output`.
    pub truncated: bool,
}

/// What a pump hands back at end-of-file.
#[derive(Debug, Default)]
pub struct PumpResult {
    pub captured: Captured,
    pub tail: Vec<u8>,
}

/// The shared `limits.output` budget of stdout and stderr together.
#[derive(Debug, Clone)]
pub struct Budget {
    remaining: Arc<AtomicU64>,
    limit: Option<u64>,
    exhausted: Arc<AtomicBool>,
}

impl Budget {
    pub fn new(limit: Option<u64>) -> Budget {
        Budget {
            remaining: Arc::new(AtomicU64::new(limit.unwrap_or(u64::MAX))),
            limit,
            exhausted: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Takes up to `wanted` bytes from the budget; returns how many may be forwarded and
    /// whether this call is the one that ran out (to print the notice once).
    fn take(&self, wanted: usize) -> (usize, bool) {
        let wanted = wanted as u64;
        let mut granted = 0;
        let _ = self
            .remaining
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |remaining| {
                granted = remaining.min(wanted);
                Some(remaining - granted)
            });
        let first_to_run_out = granted < wanted && !self.exhausted.swap(true, Ordering::SeqCst);
        (granted as usize, first_to_run_out)
    }

    /// Reserves up to `wanted` bytes without marking the budget exhausted (for `splice`).
    #[cfg(target_os = "linux")]
    fn reserve(&self, wanted: usize) -> usize {
        let mut granted = 0;
        let _ = self
            .remaining
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |remaining| {
                granted = remaining.min(wanted as u64);
                Some(remaining - granted)
            });
        granted as usize
    }

    /// Returns bytes a reservation did not use.
    #[cfg(target_os = "linux")]
    fn give_back(&self, unused: usize) {
        self.remaining.fetch_add(unused as u64, Ordering::SeqCst);
    }

    pub fn exhausted(&self) -> bool {
        self.exhausted.load(Ordering::SeqCst)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GateState {
    Pending,
    Open,
    Closed,
}

/// Holds back stderr until the sandbox init says the program started. If it never does,
/// whatever bwrap printed is kept for boxpy's own error report instead of being streamed.
#[derive(Debug, Clone)]
pub struct Gate {
    inner: Arc<(Mutex<GateState>, Condvar)>,
}

impl Gate {
    pub fn new() -> Gate {
        Gate {
            inner: Arc::new((Mutex::new(GateState::Pending), Condvar::new())),
        }
    }

    pub fn open(&self) {
        self.set(GateState::Open, true);
    }

    /// The init's report ended: a gate still pending closes.
    pub fn finish_setup(&self) {
        self.set(GateState::Closed, false);
    }

    fn set(&self, state: GateState, overwrite: bool) {
        let (lock, condvar) = &*self.inner;
        let mut current = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if overwrite || *current == GateState::Pending {
            *current = state;
        }
        condvar.notify_all();
    }

    pub(super) fn wait(&self) -> bool {
        let (lock, condvar) = &*self.inner;
        let mut current = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        while *current == GateState::Pending {
            current = condvar
                .wait(current)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        *current == GateState::Open
    }
}

#[cfg(target_os = "linux")]
enum Spliced {
    /// The stream reached end-of-file (or boxpy's stdout closed): nothing left to do.
    Done,
    /// boxpy's stdout cannot take `splice` (a terminal): copy instead.
    Unsupported,
}

/// Streams stdout with `splice(2)`: the kernel moves the bytes from the program's pipe to
/// boxpy's stdout without copying them through boxpy. Each round reserves its length from
/// the budget first ([`next_round`]), so `limits.output` is never overshot; once the budget
/// is spent, the ordinary pump reads and drops the rest.
#[cfg(target_os = "linux")]
fn splice_stdout(reader: &impl std::os::fd::AsFd, stdout: &File, budget: &Budget) -> Spliced {
    use nix::errno::Errno;
    use nix::fcntl::{splice, SpliceFFlags};
    use std::os::fd::AsFd;
    let mut widening = Widening::default();
    loop {
        let reserved = next_round(reader.as_fd(), budget, PIPE_BYTES as usize);
        if reserved == 0 {
            return Spliced::Unsupported;
        }
        let moved = splice(
            reader.as_fd(),
            None,
            stdout.as_fd(),
            None,
            reserved,
            SpliceFFlags::SPLICE_F_MOVE,
        );
        match moved {
            Ok(0) => {
                budget.give_back(reserved);
                return Spliced::Done;
            }
            Ok(count) => {
                budget.give_back(reserved - count);
                widening.moved(count, &[reader.as_fd(), stdout.as_fd()]);
            }
            Err(Errno::EINTR) => budget.give_back(reserved),
            // The caller's stdout is non-blocking: the kernel then treats both pipes as
            // non-blocking, so either the program's is empty or the caller's is full. Wait
            // for bytes, then for room, not in a spin.
            Err(Errno::EAGAIN) => {
                budget.give_back(reserved);
                wait_for(reader.as_fd(), nix::poll::PollFlags::POLLIN);
                wait_for(stdout.as_fd(), nix::poll::PollFlags::POLLOUT);
            }
            Err(Errno::EPIPE) => {
                budget.give_back(reserved);
                return Spliced::Done;
            }
            Err(_) => {
                budget.give_back(reserved);
                // Fall back to copying, from where splice stopped (no byte is lost or
                // repeated).
                return Spliced::Unsupported;
            }
        }
    }
}

/// The budget for the next round of a spliced stream: 0 when the stream ended or the
/// budget is spent (the ordinary pump takes over), else how many bytes the round may move.
///
/// Under a `limits.output` the round waits until the program's pipe holds something and
/// reserves exactly what it holds: a reservation taken before the wait would keep budget
/// from the other stream while this one is idle (a 1 MiB limit reached by a stream that had
/// printed nothing, and the notice printed while bytes still came). Without a limit the
/// budget cannot run out, and the round is up to `most` bytes with no extra system call.
#[cfg(target_os = "linux")]
fn next_round(reader: std::os::fd::BorrowedFd<'_>, budget: &Budget, most: usize) -> usize {
    if budget.limit.is_none() {
        return budget.reserve(most);
    }
    wait_for(reader, nix::poll::PollFlags::POLLIN);
    let mut available: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int, the bytes the pipe holds.
    let asked = unsafe {
        libc::ioctl(
            std::os::fd::AsRawFd::as_raw_fd(&reader),
            libc::FIONREAD,
            &mut available,
        )
    };
    let available = if asked < 0 {
        most
    } else {
        available.max(0) as usize
    };
    budget.reserve(available.min(most))
}

/// Waits until `fd` is ready for `events` (or hung up, or in error: the next call says
/// which).
pub(crate) fn wait_for(fd: std::os::fd::BorrowedFd<'_>, events: nix::poll::PollFlags) {
    let mut fds = [nix::poll::PollFd::new(fd, events)];
    while let Err(nix::errno::Errno::EINTR) =
        nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE)
    {}
}

/// How large boxpy makes the pipes a large output crosses: 1 MiB, the default
/// `/proc/sys/fs/pipe-max-size`.
#[cfg(target_os = "linux")]
const PIPE_BYTES: libc::c_int = 1 << 20;

/// Makes the pipe `fd` is an end of [`PIPE_BYTES`] large, if it is a pipe and smaller.
#[cfg(target_os = "linux")]
fn widen(fd: std::os::fd::BorrowedFd<'_>) {
    use std::os::fd::AsRawFd;
    // SAFETY: F_GETPIPE_SZ reads, F_SETPIPE_SZ only grows the pipe; on anything but a pipe
    // both fail with EBADF/EINVAL and change nothing.
    unsafe {
        let size = libc::fcntl(fd.as_raw_fd(), libc::F_GETPIPE_SZ);
        if size > 0 && size < PIPE_BYTES {
            libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_BYTES);
        }
    }
}

/// Widens the pipes of a stream once it has moved [`Widening::AFTER`] bytes.
///
/// Output crosses one pipe more through boxpy than in a sandbox run by hand (the program's
/// pipe, then the caller's), and with the default 64 KiB pipes each `splice(2)` moves 64
/// KiB a wake-up of boxpy and of the reader: 1.5-1.9x the time of the hand-run sandbox for
/// 500 MB on a quiet machine. With both pipes at 1 MiB the two hops cost what one does
/// (docs/performance.md, case 3).
///
/// Growing never changes what a pipe carries (a write of up to `PIPE_BUF` stays atomic).
/// The kernel charges the pages to the user who made the pipe, and an ordinary user who
/// has spent `fs.pipe-user-pages-soft` (16,384 pages) gets two-page pipes for every new
/// pipe, in every program: so only a stream that is large widens (a run that prints little,
/// most of them, costs the user's quota nothing), and where the kernel refuses (past
/// `pipe-max-size` or the soft quota), the pipe keeps its size, which is slower and
/// nothing else.
#[cfg(target_os = "linux")]
#[derive(Default)]
pub(super) struct Widening {
    moved: usize,
    done: bool,
}

#[cfg(target_os = "linux")]
impl Widening {
    const AFTER: usize = 256 * 1024;

    /// Counts `count` bytes moved; widens `pipes` when they reach [`Widening::AFTER`].
    /// True when this call widened them.
    pub(super) fn moved(&mut self, count: usize, pipes: &[std::os::fd::BorrowedFd<'_>]) -> bool {
        self.moved = self.moved.saturating_add(count);
        if self.done || self.moved < Self::AFTER {
            return false;
        }
        self.done = true;
        for pipe in pipes {
            widen(*pipe);
        }
        true
    }
}

/// [`pump`], but a streamed (not captured) stream moves with `splice(2)` while it can (see
/// [`splice_stdout`], [`splice_stderr`]), through pipes widened once it is large
/// ([`Widening`]).
#[cfg(target_os = "linux")]
pub fn pump_spliced(
    reader: impl Read + std::os::fd::AsFd,
    stream: Stream,
    out: Option<&File>,
    budget: &Budget,
    gate: &Gate,
    observer: &Observer,
) -> PumpResult {
    if let (Stream::Stdout, Some(stdout)) = (stream, out) {
        if let Spliced::Done = splice_stdout(&reader, stdout, budget) {
            return PumpResult::default();
        }
    }
    if let (Stream::Stderr, Some(stderr), true) = (stream, out, gate.wait()) {
        let (spliced, kept) = splice_stderr(&reader, stderr, budget);
        if let Spliced::Done = spliced {
            return PumpResult {
                tail: kept,
                ..PumpResult::default()
            };
        }
        // Copy the rest; what the kernel kept is the start of the tail.
        let mut result = pump(reader, stream, out, budget, gate, observer);
        let mut tail = kept;
        tail.append(&mut result.tail);
        keep_tail(&mut tail);
        result.tail = tail;
        return result;
    }
    pump(reader, stream, out, budget, gate, observer)
}

/// Streams stderr with `splice(2)` once the program has started, keeping the last bytes
/// for the traceback parser without copying the stream through boxpy: each chunk is first
/// duplicated with `tee(2)` into a private pipe that holds the tail (its oldest bytes are
/// spliced to `/dev/null` to make room), then moved to boxpy's stderr. Returns what the
/// private pipe holds (the tail so far) and whether the stream is done.
#[cfg(target_os = "linux")]
fn splice_stderr(
    reader: &impl std::os::fd::AsFd,
    stderr: &File,
    budget: &Budget,
) -> (Spliced, Vec<u8>) {
    use nix::errno::Errno;
    use nix::fcntl::{splice, tee, FcntlArg, SpliceFFlags};
    use std::os::fd::{AsFd, AsRawFd};
    let Ok((tail_read, tail_write)) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) else {
        return (Spliced::Unsupported, Vec::new());
    };
    // Room for the whole tail and as much again: the tail is never cut short of
    // TAIL_BYTES, however small the pipe's rounds.
    let capacity = nix::fcntl::fcntl(
        tail_write.as_raw_fd(),
        FcntlArg::F_SETPIPE_SZ(2 * TAIL_BYTES as i32),
    );
    let (Ok(capacity), Ok(null)) = (
        capacity,
        std::fs::OpenOptions::new().write(true).open("/dev/null"),
    ) else {
        return (Spliced::Unsupported, Vec::new());
    };
    // Rounds of up to the private pipe's size less the tail it keeps: widened with the
    // others once the stream is large ([`Widening`]).
    let mut capacity = capacity as usize;
    let mut widening = Widening::default();
    let keep = TAIL_BYTES.min(capacity / 2);
    let mut held = 0usize;
    // The private pipe is read without blocking: when it is compacted, and at the end.
    if nix::fcntl::fcntl(
        tail_read.as_raw_fd(),
        FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .is_err()
    {
        return (Spliced::Unsupported, Vec::new());
    }
    // Rounds in a row that found the private pipe full just after compacting it.
    let mut full_again = 0;
    // How it ended, and how many bytes at the end of the private pipe are still in the
    // program's pipe too (duplicated, not yet moved).
    let (spliced, pending) = 'stream: loop {
        // The private pipe keeps only the last `keep` bytes: the oldest go to /dev/null.
        if held > keep {
            match splice(
                tail_read.as_fd(),
                None,
                null.as_fd(),
                None,
                held - keep,
                SpliceFFlags::empty(),
            ) {
                Ok(count) => held -= count,
                Err(_) => break (Spliced::Unsupported, 0),
            }
        }
        // Waits for the program's next bytes, so the `tee` below never waits: it must not
        // wait for room in the private pipe either, which only this thread makes.
        let reserved = next_round(reader.as_fd(), budget, capacity - held);
        if reserved == 0 {
            break (Spliced::Unsupported, 0);
        }
        if budget.limit.is_none() {
            wait_for(reader.as_fd(), nix::poll::PollFlags::POLLIN);
        }
        let duplicated = match tee(
            reader.as_fd(),
            tail_write.as_fd(),
            reserved,
            SpliceFFlags::SPLICE_F_NONBLOCK,
        ) {
            Ok(0) => {
                budget.give_back(reserved);
                break (Spliced::Done, 0);
            }
            Ok(count) => count,
            Err(Errno::EINTR) => {
                budget.give_back(reserved);
                continue;
            }
            // The program's pipe holds bytes (the wait said so), so the private pipe is
            // out of room: not of bytes but of slots, one per buffer `tee` duplicated (a
            // program writing a few bytes at a time fills its 32 slots with a few bytes).
            // Copy the tail out and back in whole pages; twice in a row, give up splicing.
            Err(Errno::EAGAIN) => {
                budget.give_back(reserved);
                full_again += 1;
                if full_again > 1 {
                    break (Spliced::Unsupported, 0);
                }
                match compact(&tail_read, &tail_write, keep, capacity) {
                    Some(kept) => held = kept,
                    None => break (Spliced::Unsupported, 0),
                }
                continue;
            }
            Err(_) => {
                budget.give_back(reserved);
                break (Spliced::Unsupported, 0);
            }
        };
        full_again = 0;
        budget.give_back(reserved - duplicated);
        held += duplicated;
        let pipes = [reader.as_fd(), stderr.as_fd(), tail_write.as_fd()];
        if widening.moved(duplicated, &pipes) {
            if let Ok(size) = nix::fcntl::fcntl(tail_write.as_raw_fd(), FcntlArg::F_GETPIPE_SZ) {
                capacity = size as usize;
            }
        }
        let mut moved = 0;
        while moved < duplicated {
            match splice(
                reader.as_fd(),
                None,
                stderr.as_fd(),
                None,
                duplicated - moved,
                SpliceFFlags::SPLICE_F_MOVE,
            ) {
                Ok(0) => break,
                Ok(count) => moved += count,
                Err(Errno::EINTR) => {}
                // The caller's stderr is non-blocking and full (the program's pipe holds
                // the bytes `tee` saw): wait for room.
                Err(Errno::EAGAIN) => wait_for(stderr.as_fd(), nix::poll::PollFlags::POLLOUT),
                // boxpy's stderr cannot take splice (a terminal) or is gone.
                Err(_) => break 'stream (Spliced::Unsupported, duplicated - moved),
            }
        }
    };
    // Bytes duplicated but not moved are read from the program's pipe and written out (if
    // stderr takes them): none is lost, none is kept twice.
    if pending > 0 {
        let mut bytes = vec![0u8; pending];
        if let Ok(fd) = reader.as_fd().try_clone_to_owned() {
            if std::io::Read::read_exact(&mut std::fs::File::from(fd), &mut bytes).is_ok() {
                let _ = write_patiently(stderr, &bytes);
            }
        }
    }
    // What the private pipe holds is the tail (its write end stays open: read until empty).
    let mut kept = drain(&tail_read, capacity).unwrap_or_default();
    keep_tail(&mut kept);
    (spliced, kept)
}

/// Everything the (non-blocking) private tail pipe holds. Each read asks for the pipe's
/// whole size: `tee` copies a packet-mode buffer's flag (a program may set `O_DIRECT` on
/// its stderr), and a read shorter than such a buffer throws the rest of it away.
#[cfg(target_os = "linux")]
fn drain(tail_read: &std::os::fd::OwnedFd, capacity: usize) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut chunk = vec![0u8; capacity.max(TAIL_BYTES)];
    loop {
        match nix::unistd::read(std::os::fd::AsRawFd::as_raw_fd(tail_read), &mut chunk) {
            Ok(0) | Err(nix::errno::Errno::EAGAIN) => return Some(bytes),
            Ok(count) => bytes.extend_from_slice(&chunk[..count]),
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return None,
        }
    }
}

/// Rewrites the private tail pipe with its last `keep` bytes in whole pages (read out,
/// written back: at most `keep` bytes copied, only when `tee` found it out of slots).
/// Returns how many bytes it holds now, or None when the pipe failed.
#[cfg(target_os = "linux")]
fn compact(
    tail_read: &std::os::fd::OwnedFd,
    tail_write: &std::os::fd::OwnedFd,
    keep: usize,
    capacity: usize,
) -> Option<usize> {
    let bytes = drain(tail_read, capacity)?;
    let start = bytes.len().saturating_sub(keep);
    let mut writing = std::fs::File::from(tail_write.try_clone().ok()?);
    std::io::Write::write_all(&mut writing, &bytes[start..]).ok()?;
    Some(bytes.len() - start)
}

/// Elsewhere there is no `splice`: the ordinary pump.
#[cfg(not(target_os = "linux"))]
pub fn pump_spliced(
    reader: impl Read + std::os::fd::AsFd,
    stream: Stream,
    out: Option<&File>,
    budget: &Budget,
    gate: &Gate,
    observer: &Observer,
) -> PumpResult {
    pump(reader, stream, out, budget, gate, observer)
}

/// `write_all`, but a non-blocking output (the caller may hand boxpy one) that is full is
/// waited for instead of taken for gone: nothing is dropped or cut short.
pub(crate) fn write_patiently(mut out: &File, bytes: &[u8]) -> std::io::Result<()> {
    let mut rest = bytes;
    while !rest.is_empty() {
        match out.write(rest) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(count) => rest = &rest[count..],
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                wait_for(std::os::fd::AsFd::as_fd(out), nix::poll::PollFlags::POLLOUT);
            }
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Trims a stderr tail to its last [`TAIL_BYTES`].
fn keep_tail(tail: &mut Vec<u8>) {
    if tail.len() > TAIL_BYTES {
        tail.drain(..tail.len() - TAIL_BYTES);
    }
}

/// Moves one stream until end-of-file: to `out`, or captured when there is none. The
/// notice that `limits.output` was reached goes to `observer` when it is (after the
/// output forwarded so far).
pub fn pump(
    mut reader: impl Read,
    stream: Stream,
    out: Option<&File>,
    budget: &Budget,
    gate: &Gate,
    observer: &Observer,
) -> PumpResult {
    let capture = out.is_none();
    let mut result = PumpResult::default();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut forward = !capture;
    let mut gate_checked = stream == Stream::Stdout;
    loop {
        let count = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(count) => count,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let bytes = &chunk[..count];
        if stream == Stream::Stderr {
            result.tail.extend_from_slice(bytes);
            if result.tail.len() > 2 * TAIL_BYTES {
                let cut = result.tail.len() - TAIL_BYTES;
                result.tail.drain(..cut);
            }
        }
        if !gate_checked {
            gate_checked = true;
            if !gate.wait() {
                // The program never started: this is bwrap talking; keep it for the report.
                forward = false;
                continue;
            }
        }
        let (allowed, ran_out) = budget.take(count);
        if capture {
            result.captured.bytes.extend_from_slice(&bytes[..allowed]);
            if allowed < count {
                result.captured.truncated = true;
            }
        } else if let (true, true, Some(mut out)) = (forward, allowed > 0, out) {
            let written = write_patiently(out, &bytes[..allowed]).and_then(|()| out.flush());
            if written.is_err() && stream == Stream::Stdout {
                // Our stdout is gone (`boxpy run x.py | head`): close the program's end
                // too, as if it had been writing to the closed pipe itself.
                break;
            }
        }
        if ran_out && !capture {
            if let Some(limit) = budget.limit {
                observer.notice(Notice::OutputLimitReached { limit });
            }
        }
    }
    keep_tail(&mut result.tail);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_grants_up_to_its_limit_and_says_once_it_ran_out() {
        let budget = Budget::new(Some(10));
        assert_eq!(budget.take(4), (4, false));
        assert!(!budget.exhausted());
        assert_eq!(budget.take(4), (4, false));
        // The third asks for more than is left: granted the rest, and it is the first to
        // run out.
        assert_eq!(budget.take(4), (2, true));
        assert!(budget.exhausted());
        // After that: nothing, and never "first" again (one notice).
        assert_eq!(budget.take(4), (0, false));
        assert_eq!(budget.clone().take(1), (0, false));
    }

    #[test]
    fn budget_exactly_used_up_is_not_exhausted() {
        let budget = Budget::new(Some(8));
        assert_eq!(budget.take(8), (8, false));
        assert!(!budget.exhausted());
        assert_eq!(budget.take(0), (0, false));
        assert_eq!(budget.take(1), (0, true));
    }

    #[test]
    fn budget_without_limit_never_runs_out() {
        let budget = Budget::new(None);
        for _ in 0..4 {
            assert_eq!(budget.take(usize::MAX / 8), (usize::MAX / 8, false));
        }
        assert!(!budget.exhausted());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn budget_reservations_given_back_are_granted_again() {
        let budget = Budget::new(Some(10));
        assert_eq!(budget.reserve(6), 6);
        assert_eq!(budget.reserve(6), 4);
        budget.give_back(7);
        assert_eq!(budget.take(7), (7, false));
        assert!(!budget.exhausted());
        assert_eq!(budget.take(1), (0, true));
    }

    /// Clones share one budget (stdout and stderr draw from the same `limits.output`).
    #[test]
    fn budget_clones_share_the_limit() {
        let budget = Budget::new(Some(100));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let budget = budget.clone();
                std::thread::spawn(move || (0..50).map(|_| budget.take(1).0).sum::<usize>())
            })
            .collect();
        let granted: usize = threads
            .into_iter()
            .map(|thread| thread.join().unwrap())
            .sum();
        assert_eq!(granted, 100);
        assert!(budget.exhausted());
    }

    #[test]
    fn gate_opened_lets_waiters_through_and_setup_end_does_not_close_it() {
        let gate = Gate::new();
        let waiter = {
            let gate = gate.clone();
            std::thread::spawn(move || gate.wait())
        };
        gate.open();
        assert!(waiter.join().unwrap());
        gate.finish_setup();
        assert!(gate.wait());
    }

    #[test]
    fn gate_closed_when_setup_ends_without_a_start() {
        let gate = Gate::new();
        let waiter = {
            let gate = gate.clone();
            std::thread::spawn(move || gate.wait())
        };
        gate.finish_setup();
        assert!(!waiter.join().unwrap());
        // A late `started` still opens it (the report is read after bwrap's status).
        gate.open();
        assert!(gate.wait());
    }

    #[test]
    fn pump_captures_within_budget_and_keeps_the_stderr_tail() {
        let gate = Gate::new();
        gate.open();
        let budget = Budget::new(Some(5));
        let input: &[u8] = b"hello world";
        let result = pump(
            input,
            Stream::Stderr,
            None,
            &budget,
            &gate,
            &Observer::default(),
        );
        assert_eq!(result.captured.bytes, b"hello");
        assert!(result.captured.truncated);
        assert_eq!(result.tail, b"hello world");
        assert!(budget.exhausted());
    }

    #[test]
    fn pump_drops_stderr_of_a_run_that_never_started() {
        let gate = Gate::new();
        gate.finish_setup();
        let budget = Budget::new(None);
        let input: &[u8] = b"bwrap: setting up uid map: Permission denied\n";
        let result = pump(
            input,
            Stream::Stderr,
            None,
            &budget,
            &gate,
            &Observer::default(),
        );
        assert!(result.captured.bytes.is_empty());
        assert_eq!(result.tail, input);
    }

    #[test]
    fn keep_tail_keeps_the_last_bytes() {
        let mut tail: Vec<u8> = (0..(TAIL_BYTES + 10)).map(|index| index as u8).collect();
        let last = tail[tail.len() - TAIL_BYTES..].to_vec();
        keep_tail(&mut tail);
        assert_eq!(tail, last);
    }
}
