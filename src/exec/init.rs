//! boxpy's init: PID 1 inside the sandbox (bwrap `--as-pid-1`).
//!
//! bwrap's own PID-1 reaper does not pass the program's resource usage up, does not forward
//! signals and cannot say whether the program exited 137 or was killed by SIGKILL. This
//! init does all three, the way tini does for containers:
//! - it starts the program in its own process group and forwards SIGINT and SIGQUIT to that
//!   group (as a terminal would) and SIGTERM, SIGHUP and SIGUSR2 to the program;
//! - it reaps every orphan, so daemons do not pile up as zombies;
//! - on SIGUSR1 (boxpy's timeout) or when the program ends, it kills every other process in
//!   the PID namespace, reaps them, and reports the program's status with
//!   `getrusage(RUSAGE_CHILDREN)` on the report descriptor, one JSON object per line.
//!
//! The report descriptor is close-on-exec, and the init is not dumpable (its /proc/1/fd
//! needs CAP_SYS_PTRACE), so the program can neither inherit nor reopen it to forge a line.

use std::ffi::{CString, OsString};
use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use std::path::PathBuf;

use super::discarded::{self, Place};
use super::limits::Rlimit;
use super::protocol::ReportLine;

/// Runs the init. `args` are the process arguments after `__sandbox-init`:
/// `REPORT_FD [--executable FD] [--rlimit NAME=SOFT:HARD]... [--setup FD] -- PROGRAM [ARGS]...`.
///
/// With `--setup FD` the init first waits for boxpy's setup message on that socket (see
/// [`setup_message`]): more rlimits, and the cgroup files to join.
pub fn main(args: &[OsString]) -> i32 {
    // When the program ends the init kills every process it may signal (`kill(-1)`): only
    // safe as PID 1 of the sandbox's PID namespace, never in the host's (by hand, or on
    // macOS, which has no PID namespaces).
    if std::process::id() != 1 {
        eprintln!("boxpy: the sandbox init runs only as PID 1 inside boxpy's Linux sandbox");
        return 125;
    }
    // Not dumpable: the program runs as the same user, and could otherwise open the init's
    // descriptors through /proc/1/fd (the report pipe, to forge how it ended) or ptrace it.
    // A non-dumpable process's /proc entries need CAP_SYS_PTRACE, which nobody in the
    // sandbox has. The program itself is dumpable again after its exec.
    #[cfg(target_os = "linux")]
    if let Err(errno) = nix::sys::prctl::set_dumpable(false) {
        eprintln!("boxpy: the sandbox init cannot make itself non-dumpable: {errno}");
        return 125;
    }
    let report_fd: RawFd = match args.first().and_then(|fd| fd.to_str()?.parse().ok()) {
        Some(fd) => fd,
        None => {
            eprintln!("boxpy: the sandbox init needs a report descriptor");
            return 125;
        }
    };
    let mut limits: Vec<Rlimit> = Vec::new();
    let mut setup: Option<RawFd> = None;
    let mut hardening = Hardening::default();
    let mut rest = args.iter().skip(1);
    loop {
        match rest.next().and_then(|arg| arg.to_str()) {
            Some("--") => break,
            Some("--rlimit") => {
                let Some(limit) = rest
                    .next()
                    .and_then(|arg| Rlimit::from_argument(arg.to_str()?))
                else {
                    eprintln!("boxpy: the sandbox init's --rlimit takes NAME=SOFT:HARD");
                    return 125;
                };
                limits.push(limit);
            }
            Some("--executable") => {
                // boxpy's executable, which bwrap ran this init from: the program must not
                // inherit it.
                let Some(fd) = rest
                    .next()
                    .and_then(|arg| arg.to_str()?.parse::<RawFd>().ok())
                    .filter(|&fd| fd > 2 && fd != report_fd)
                else {
                    eprintln!("boxpy: the sandbox init's --executable takes a descriptor");
                    return 125;
                };
                let _ = nix::unistd::close(fd);
            }
            Some("--setup") => {
                let Some(fd) = rest.next().and_then(|arg| arg.to_str()?.parse().ok()) else {
                    eprintln!("boxpy: the sandbox init's --setup takes a descriptor");
                    return 125;
                };
                setup = Some(fd);
            }
            Some(flag @ ("--mask" | "--read-only")) => {
                let Some(path) = rest.next() else {
                    eprintln!("boxpy: the sandbox init's {flag} takes a path");
                    return 125;
                };
                if flag == "--mask" {
                    hardening.masks.push(path.into());
                } else {
                    hardening.read_only.push(path.into());
                }
            }
            Some("--seccomp") => {
                let Some(fd) = rest.next().and_then(|arg| arg.to_str()?.parse().ok()) else {
                    eprintln!("boxpy: the sandbox init's --seccomp takes a descriptor");
                    return 125;
                };
                hardening.seccomp = Some(fd);
            }
            _ => {
                eprintln!("boxpy: the sandbox init takes REPORT_FD [--executable FD] [--rlimit NAME=SOFT:HARD]... [--setup FD] -- PROGRAM");
                return 125;
            }
        }
    }
    let program: Vec<&OsString> = rest.collect();
    if program.is_empty() {
        eprintln!("boxpy: the sandbox init needs a program to run");
        return 125;
    }
    let _ = nix::fcntl::fcntl(
        report_fd,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    );
    // SAFETY: boxpy passed this descriptor to bwrap for exactly this use; nothing else owns it.
    let mut report = std::fs::File::from(unsafe { std::os::fd::OwnedFd::from_raw_fd(report_fd) });

    // What bwrap would do with a mount pass each (~0.15 ms apiece), done here with one
    // system call each while the init still has CAP_SYS_ADMIN in the sandbox's user
    // namespace: the kernel-state files covered, `/proc` and `/dev` read-only. Then the
    // sandbox's share of the user's per-user kernel counters, no capability left, and the
    // seccomp filter: all before the program exists.
    #[cfg(target_os = "linux")]
    {
        if let Err(detail) = bound_shared_counters() {
            return setup_failed(&mut report, &detail);
        }
        if let Err(detail) = hardening.mount() {
            return setup_failed(&mut report, &detail);
        }
        if let Err(detail) = drop_capabilities() {
            return setup_failed(&mut report, &detail);
        }
        if let Err(detail) = hardening.load_seccomp() {
            return setup_failed(&mut report, &detail);
        }
    }

    // Join the cgroups before the program exists, so it and everything it starts are
    // inside; then close the files (and the socket), which the program must never reach.
    // The program's own descriptors (stdout, stderr, channel) are handed to it at spawn;
    // boxpy's cgroup files are kept for the end.
    let mut leave: Vec<std::fs::File> = Vec::new();
    let mut count_places: Vec<(Place, PathBuf)> = Vec::new();
    let mut program_fds: Vec<(OwnedFd, RawFd)> = Vec::new();
    if let Some(fd) = setup {
        // SAFETY: boxpy passed this socket for exactly this use; the init owns it from here
        // and closes it once the message is read.
        let socket = unsafe { OwnedFd::from_raw_fd(fd) };
        let received = match receive_setup(&socket) {
            Ok(received) => received,
            Err(detail) => return setup_failed(&mut report, &detail),
        };
        // The network proxy's listeners, bound on the sandbox's loopback and handed to
        // boxpy, which accepts on them (before the terminal: boxpy reads them first).
        #[cfg(target_os = "linux")]
        if received.proxy {
            if let Err(detail) =
                bind_proxy_listeners().and_then(|listeners| send_listeners(&socket, &listeners))
            {
                return setup_failed(&mut report, &detail);
            }
        }
        // The program's pseudo-terminal, from the sandbox's own devpts: boxpy gets the
        // master, the program the slave (see [`TerminalRequest`]).
        #[cfg(target_os = "linux")]
        if let Some(request) = &received.terminal {
            let opened = open_terminal(request)
                .and_then(|(master, slave)| send_terminal(&socket, &master).map(|()| slave));
            match opened {
                Ok(slave) => program_fds.push((slave, 0)),
                Err(detail) => return setup_failed(&mut report, &detail),
            }
        }
        drop(socket);
        limits.extend(received.rlimits);
        count_places = received.count;
        for (role, file) in received.files {
            match role {
                Role::Join => {
                    if let Err(error) = std::fs::File::from(file).write_all(b"0") {
                        return limit_failed(
                            &mut report,
                            &format!("joining the limits' cgroup: {error}"),
                            None,
                        );
                    }
                }
                Role::Leave => leave.push(file.into()),
                Role::Stdin => program_fds.push((file, 0)),
                Role::Stdout => program_fds.push((file, 1)),
                Role::Stderr => program_fds.push((file, 2)),
                Role::Channel => program_fds.push((file, crate::sandbox::fds::CHANNEL)),
            }
        }
    }

    let mut handled = SigSet::empty();
    for signal in [
        Signal::SIGCHLD,
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
    ] {
        handled.add(signal);
    }
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&handled), None);

    // The limits are set on the init itself, which runs nothing else, and the program
    // inherits them: no fork, and no code of boxpy's between the program's clone and exec.
    for limit in &limits {
        let value = libc::rlimit {
            rlim_cur: limit.soft,
            rlim_max: limit.hard,
        };
        // SAFETY: setrlimit reads `value`, which lives across the call.
        if unsafe { libc::setrlimit(limit.resource as _, &value) } < 0 {
            let detail = format!(
                "setting the limit {}: {}",
                limit.to_argument(),
                Errno::last().desc()
            );
            return limit_failed(&mut report, &detail, limit.policy_key());
        }
    }

    let Ok(arguments) = program
        .iter()
        .map(|arg| CString::new(arg.as_bytes()))
        .collect::<Result<Vec<CString>, _>>()
    else {
        eprintln!("boxpy: the sandbox init's program arguments contain a NUL byte");
        return 125;
    };
    let Ok(variables) = std::env::vars_os()
        .map(|(key, value)| CString::new([key.as_bytes(), b"=", value.as_bytes()].concat()))
        .collect::<Result<Vec<CString>, _>>()
    else {
        eprintln!("boxpy: the sandbox init's environment contains a NUL byte");
        return 125;
    };
    report_line(&mut report, &ReportLine::Started);

    // posix_spawnp: found on PATH like execvp, in its own process group, with an empty
    // signal mask and SIGPIPE at its default.
    let dups: Vec<(RawFd, RawFd)> = program_fds
        .iter()
        .map(|(fd, target)| (std::os::fd::AsRawFd::as_raw_fd(fd), *target))
        .collect();
    let spawned = super::spawn(&arguments, &variables, &dups, true);
    // The program has its copies: from here only its processes hold its output pipes.
    drop(program_fds);
    let child = match spawned {
        Ok(pid) => Pid::from_raw(pid),
        Err(error) => {
            let errno = error.raw_os_error().unwrap_or(libc::EIO);
            let path = program[0].to_string_lossy().into_owned();
            report_line(&mut report, &ReportLine::ExecFailed { errno, path });
            return if errno == libc::ENOENT { 127 } else { 126 };
        }
    };

    let mut program_status: Option<WaitStatus> = None;
    while program_status.is_none() {
        let Ok(signal) = handled.wait() else { break };
        match signal {
            Signal::SIGCHLD => {
                reap(child, &mut program_status, WaitPidFlag::WNOHANG);
            }
            Signal::SIGUSR1 => break,
            Signal::SIGINT | Signal::SIGQUIT => {
                let _ = kill(Pid::from_raw(-child.as_raw()), signal);
            }
            other => {
                let _ = kill(child, other);
            }
        }
    }
    // Everything else in the namespace dies with the program (daemons included), and is
    // reaped so its usage is counted.
    let _ = kill(Pid::from_raw(-1), Signal::SIGKILL);
    reap(child, &mut program_status, WaitPidFlag::empty());

    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).ok();
    let (cpu_ms, max_rss_kib) = usage
        .map(|usage| {
            use nix::sys::time::TimeValLike;
            let micros =
                usage.user_time().num_microseconds() + usage.system_time().num_microseconds();
            (micros / 1000, usage.max_rss())
        })
        .unwrap_or((0, 0));
    // Nothing of the sandbox is left but this process: back to boxpy's own cgroups, so
    // boxpy can remove the sandbox's as soon as it reads the end (the init's own exit,
    // which tears down the namespaces, takes a while).
    for mut file in leave {
        let _ = file.write_all(b"0");
    }
    let (code, signal, exit_code) = match program_status {
        Some(WaitStatus::Exited(_, code)) => (Some(code), None, code),
        Some(WaitStatus::Signaled(_, signal, _)) => {
            (None, Some(signal as i32), 128 + signal as i32)
        }
        _ => (None, Some(libc::SIGKILL), 128 + libc::SIGKILL),
    };
    // What the program left in the places that end with the sandbox (its private HOME and
    // /tmp): counted now that nothing else runs, bounded, numbers only.
    let mut left = Vec::new();
    if !count_places.is_empty() {
        let mut budget = discarded::Budget::new();
        left = count_places
            .iter()
            .map(|(place, path)| {
                let count = discarded::count_tmpfs(path, *place, &mut budget);
                (count.files, count.capped)
            })
            .collect();
    }
    let ended = ReportLine::Ended {
        code,
        signal,
        cpu_ms: Some(u64::try_from(cpu_ms).unwrap_or(0)),
        max_rss_kib: Some(u64::try_from(max_rss_kib).unwrap_or(0)),
        left,
    };
    report_line(&mut report, &ended);
    exit_code
}

/// Per-user kernel counters that the host user's own programs share with the sandbox: the
/// kernel charges them to every user namespace up the chain, so without a bound of its own
/// a sandboxed run could take all the host user's inotify instances (every `inotify_init`
/// of the user's editor or file watcher then fails with EMFILE until the run ends). Each
/// pair is the host's per-user limit (global, readable inside) and the sandbox user
/// namespace's own limit, set to [`SHARED_COUNTER_FRACTION`] of it.
///
/// Keys, user namespaces and fanotify groups are per-user too, but the seccomp filter
/// refuses `add_key`/`keyctl`, `unshare`/`clone(CLONE_NEWUSER)` and `fanotify_init`.
#[cfg(target_os = "linux")]
const SHARED_COUNTERS: [(&str, &str, u64); 2] = [
    (
        "/proc/sys/fs/inotify/max_user_instances",
        "/proc/sys/user/max_inotify_instances",
        128,
    ),
    (
        "/proc/sys/fs/inotify/max_user_watches",
        "/proc/sys/user/max_inotify_watches",
        8192,
    ),
];

/// Per-user budgets the kernel checks against the caller's rlimit, charged up the
/// user-namespace chain like the counters above: POSIX message queue bytes
/// (`RLIMIT_MSGQUEUE`, 800 KiB by default: nine queues of 10 × 8 KiB took all of it) and
/// queued signals (`RLIMIT_SIGPENDING`). The sandbox's processes share one count, checked
/// against their own rlimit, so lowering the rlimit (soft and hard: nobody inside can raise
/// a hard limit again) bounds the whole run.
#[cfg(target_os = "linux")]
// `RLIMIT_*` are `u32` with glibc and `c_int` with musl: the casts are needed on one.
#[allow(clippy::unnecessary_cast)]
const SHARED_RLIMITS: [(i32, &str); 2] = [
    (libc::RLIMIT_MSGQUEUE as i32, "RLIMIT_MSGQUEUE"),
    (libc::RLIMIT_SIGPENDING as i32, "RLIMIT_SIGPENDING"),
];

/// The share of a per-user counter a sandbox may take: a quarter (at least 1), so the host
/// user keeps three quarters while a run lasts (less with several runs at once).
#[cfg(target_os = "linux")]
const SHARED_COUNTER_FRACTION: u64 = 4;

/// Lowers [`SHARED_RLIMITS`] to a share of their current value. With CAP_SYS_RESOURCE in
/// the sandbox's user namespace (boxpy asks bwrap for it together
/// with `--unshare-user`), lowers that namespace's `/proc/sys/user/max_inotify_*` to a share
/// of the host's (nobody inside can raise them again: those files are read-only, root
/// included, without that capability). Then drops every capability (ambient, bounding,
/// effective, permitted, inheritable) and checks that none is left: the program must start
/// with none, as `--cap-drop ALL` promises.
#[cfg(target_os = "linux")]
fn bound_shared_counters() -> Result<(), String> {
    const CAP_SYS_RESOURCE: libc::c_ulong = 24;
    for (resource, name) in SHARED_RLIMITS {
        let mut current = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes `current`, which lives across the call.
        if unsafe { libc::getrlimit(resource as _, &mut current) } < 0 {
            return Err(format!("reading {name}: {}", Errno::last().desc()));
        }
        if current.rlim_cur == libc::RLIM_INFINITY {
            continue; // The host user has no such budget to exhaust.
        }
        let share = (current.rlim_cur / SHARED_COUNTER_FRACTION).max(1);
        let lowered = libc::rlimit {
            rlim_cur: share,
            rlim_max: share,
        };
        // SAFETY: setrlimit reads `lowered`, which lives across the call.
        if unsafe { libc::setrlimit(resource as _, &lowered) } < 0 {
            return Err(format!(
                "lowering {name} to {share}: {}",
                Errno::last().desc()
            ));
        }
    }
    let effective = capability_sets()?[0];
    if effective & (1 << CAP_SYS_RESOURCE) != 0 {
        for (host, ours, fallback) in SHARED_COUNTERS {
            let host_limit = std::fs::read_to_string(host)
                .ok()
                .and_then(|text| text.trim().parse::<u64>().ok())
                .unwrap_or(fallback);
            let share = (host_limit / SHARED_COUNTER_FRACTION).max(1);
            std::fs::write(ours, share.to_string())
                .map_err(|error| format!("bounding the sandbox's `{ours}`: {error}"))?;
        }
    }
    Ok(())
}

/// Drops every capability (ambient, bounding, effective, permitted, inheritable) and
/// checks that none is left: the program must start with none, as `--cap-drop ALL`
/// promises.
#[cfg(target_os = "linux")]
fn drop_capabilities() -> Result<(), String> {
    const CAP_SETPCAP: libc::c_ulong = 8;
    const CAP_SYS_ADMIN: libc::c_ulong = 21;
    const CAP_SYS_RESOURCE: libc::c_ulong = 24;
    // SAFETY: prctl with integer arguments only.
    if unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    } < 0
    {
        return Err(format!(
            "clearing the ambient capabilities: {}",
            Errno::last().desc()
        ));
    }
    // CAP_SETPCAP last: dropping a capability from the bounding set needs it.
    for capability in [CAP_SYS_ADMIN, CAP_SYS_RESOURCE, CAP_SETPCAP] {
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_CAPBSET_READ, capability, 0, 0, 0) } == 1
            && unsafe { libc::prctl(libc::PR_CAPBSET_DROP, capability, 0, 0, 0) } < 0
        {
            return Err(format!(
                "dropping capability {capability} from the bounding set: {}",
                Errno::last().desc()
            ));
        }
    }
    let header = CapabilityHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let none = [CapabilityData::default(); 2];
    // SAFETY: capset reads the header and two data structs, which live across the call.
    if unsafe { libc::syscall(libc::SYS_capset, &header, none.as_ptr()) } < 0 {
        return Err(format!(
            "dropping every capability: {}",
            Errno::last().desc()
        ));
    }
    let left = capability_sets()?;
    // Every capability the kernel knows, up to the first number it does not (EINVAL).
    let bounding = (0..64)
        // SAFETY: prctl with integer arguments only.
        .map(|capability: libc::c_ulong| unsafe {
            libc::prctl(libc::PR_CAPBSET_READ, capability, 0, 0, 0)
        })
        .take_while(|&answer| answer >= 0)
        .any(|answer| answer == 1);
    if left.iter().any(|&set| set != 0) || bounding {
        return Err("the sandbox's init still holds a capability".to_owned());
    }
    Ok(())
}

/// `_LINUX_CAPABILITY_VERSION_3`: 64-bit sets, as two 32-bit halves.
#[cfg(target_os = "linux")]
const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// `struct __user_cap_header_struct`.
#[cfg(target_os = "linux")]
#[repr(C)]
struct CapabilityHeader {
    version: u32,
    pid: libc::c_int,
}

/// `struct __user_cap_data_struct`: one 32-bit half of each set.
#[cfg(target_os = "linux")]
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapabilityData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// The init's effective, permitted and inheritable capability sets (`capget`).
#[cfg(target_os = "linux")]
fn capability_sets() -> Result<[u64; 3], String> {
    let header = CapabilityHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapabilityData::default(); 2];
    // SAFETY: capget reads the header and writes two data structs, which live across the
    // call.
    if unsafe { libc::syscall(libc::SYS_capget, &header, data.as_mut_ptr()) } < 0 {
        return Err(format!(
            "reading the init's capabilities: {}",
            Errno::last().desc()
        ));
    }
    let join = |low: u32, high: u32| u64::from(low) | u64::from(high) << 32;
    Ok([
        join(data[0].effective, data[1].effective),
        join(data[0].permitted, data[1].permitted),
        join(data[0].inheritable, data[1].inheritable),
    ])
}

/// The socket pair boxpy and its init share for the setup message: `SOCK_SEQPACKET`, so
/// the message arrives whole (Linux: the init runs only in bwrap's sandbox).
pub fn setup_socket_pair() -> std::io::Result<(OwnedFd, OwnedFd)> {
    #[cfg(target_os = "linux")]
    {
        use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
        Ok(socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?)
    }
    #[cfg(not(target_os = "linux"))]
    {
        Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
    }
}

/// What a descriptor in the setup message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A `tasks`/`cgroup.procs` file of the sandbox's cgroup: the init writes `0` to it
    /// before the program exists.
    Join,
    /// The same file of boxpy's own cgroup: the init moves back there once everything else
    /// in the sandbox has ended, before it reports the end, so boxpy can remove the
    /// sandbox's cgroups without waiting for the init to exit.
    Leave,
    /// The program's stdin, stdout, stderr, and the notebook driver's channel
    /// ([`crate::sandbox::fds::CHANNEL`]). They travel here rather than through bwrap, so
    /// no process but the program's holds them: they reach end-of-file when its last
    /// process has ended, not when bwrap has, and bwrap (whose stdin is `/dev/null`) never
    /// holds the user's terminal.
    Stdin,
    Stdout,
    Stderr,
    Channel,
}

// The message is only built and parsed on Linux (the socket exists only there).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
impl Role {
    const ALL: [(Role, &'static str); 6] = [
        (Role::Join, "join"),
        (Role::Leave, "leave"),
        (Role::Stdin, "stdin"),
        (Role::Stdout, "stdout"),
        (Role::Stderr, "stderr"),
        (Role::Channel, "channel"),
    ];

    fn name(self) -> &'static str {
        Role::ALL
            .iter()
            .find(|(role, _)| *role == self)
            .map_or("?", |(_, name)| name)
    }

    fn from_name(name: &str) -> Option<Role> {
        Role::ALL
            .iter()
            .find(|(_, known)| *known == name)
            .map(|(role, _)| *role)
    }
}

/// The setup message: the rlimits, descriptors with their roles, the discarded places
/// whose leftover files the init counts at the end ([`super::discarded`]), and, when the
/// user's stdin is a terminal, the pseudo-terminal the init opens for the program.
#[derive(Debug, Default)]
pub struct Setup<F> {
    pub rlimits: Vec<Rlimit>,
    pub files: Vec<(Role, F)>,
    pub count: Vec<(Place, PathBuf)>,
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub terminal: Option<TerminalRequest>,
    /// The init binds the network proxy's listeners on the sandbox's loopback and sends
    /// them back ([`bind_proxy_listeners`]): `network.mode = "proxy"`.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub proxy: bool,
}

/// The program's pseudo-terminal, asked of the init: the settings and window size it
/// starts with. The init opens it from the sandbox's own devpts instance (bwrap's `--dev`
/// mounts a new one), never from the host's `/dev/ptmx`: the program's stdin is then a
/// node that exists only in the sandbox, and `fchmod`, `fchown` or `futimens` on it change
/// nothing the host sees. The init sends the master side back to boxpy over the setup
/// socket ([`send_terminal`]) and keeps only the slave, for the program's stdin.
#[derive(Clone, Copy)]
pub struct TerminalRequest {
    pub settings: libc::termios,
    pub size: libc::winsize,
}

impl std::fmt::Debug for TerminalRequest {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "TerminalRequest({})", self.words())
    }
}

impl PartialEq for TerminalRequest {
    fn eq(&self, other: &TerminalRequest) -> bool {
        self.words() == other.words()
    }
}

impl TerminalRequest {
    /// The request as the words of a `terminal` line: the four mode words, the line
    /// discipline, the input and output speeds, the control characters in hex, then rows,
    /// columns and the two pixel sizes.
    fn words(self) -> String {
        let settings = &self.settings;
        // SAFETY: cfget*speed only read the structure.
        let (input_speed, output_speed) =
            unsafe { (libc::cfgetispeed(settings), libc::cfgetospeed(settings)) };
        let characters: String = settings
            .c_cc
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        format!(
            "{} {} {} {} {} {input_speed} {output_speed} {characters} {} {} {} {}",
            settings.c_iflag,
            settings.c_oflag,
            settings.c_cflag,
            settings.c_lflag,
            line_discipline(settings),
            self.size.ws_row,
            self.size.ws_col,
            self.size.ws_xpixel,
            self.size.ws_ypixel,
        )
    }

    /// Parses [`TerminalRequest::words`]'s words; `None` when anything is off.
    ///
    /// (The line discipline is Linux's field; elsewhere it travels as 0.)
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    fn from_words(line: &str) -> Option<TerminalRequest> {
        let words: Vec<&str> = line.split(' ').collect();
        let [iflag, oflag, cflag, lflag, discipline, input_speed, output_speed, characters, rows, columns, xpixel, ypixel] =
            words[..]
        else {
            return None;
        };
        // SAFETY: an all-zero termios and winsize are valid values.
        let mut settings: libc::termios = unsafe { std::mem::zeroed() };
        settings.c_iflag = iflag.parse().ok()?;
        settings.c_oflag = oflag.parse().ok()?;
        settings.c_cflag = cflag.parse().ok()?;
        settings.c_lflag = lflag.parse().ok()?;
        set_line_discipline(&mut settings, discipline.parse().ok()?);
        if characters.len() != settings.c_cc.len() * 2 || !characters.is_ascii() {
            return None;
        }
        for (index, slot) in settings.c_cc.iter_mut().enumerate() {
            *slot = u8::from_str_radix(&characters[index * 2..index * 2 + 2], 16).ok()?;
        }
        let (input_speed, output_speed): (libc::speed_t, libc::speed_t) =
            (input_speed.parse().ok()?, output_speed.parse().ok()?);
        // SAFETY: cfset*speed write only to `settings`; they refuse an unknown speed.
        let speeds_set = unsafe {
            libc::cfsetispeed(&mut settings, input_speed) == 0
                && libc::cfsetospeed(&mut settings, output_speed) == 0
        };
        if !speeds_set {
            return None;
        }
        let size = libc::winsize {
            ws_row: rows.parse().ok()?,
            ws_col: columns.parse().ok()?,
            ws_xpixel: xpixel.parse().ok()?,
            ws_ypixel: ypixel.parse().ok()?,
        };
        Some(TerminalRequest { settings, size })
    }
}

/// A `count` line's place name.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn place_name(place: Place) -> &'static str {
    match place {
        Place::Home => "home",
        Place::Tmp => "tmp",
    }
}

/// Sends the setup message: the rlimits and the roles as text, the descriptors as
/// `SCM_RIGHTS`, in the same order.
#[cfg(target_os = "linux")]
pub fn send_setup(socket: &OwnedFd, setup: &Setup<RawFd>) -> std::io::Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    use std::os::fd::AsRawFd;
    let roles: Vec<Role> = setup.files.iter().map(|(role, _)| *role).collect();
    let files: Vec<RawFd> = setup.files.iter().map(|(_, fd)| *fd).collect();
    let message = setup_message(
        &setup.rlimits,
        &roles,
        &setup.count,
        setup.terminal,
        setup.proxy,
    );
    let files = &files[..];
    let controls = if files.is_empty() {
        Vec::new()
    } else {
        vec![ControlMessage::ScmRights(files)]
    };
    sendmsg::<()>(
        socket.as_raw_fd(),
        &[std::io::IoSlice::new(message.as_bytes())],
        &controls,
        MsgFlags::MSG_NOSIGNAL,
        None,
    )?;
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub fn send_setup(_: &OwnedFd, _: &Setup<RawFd>) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

/// The setup message's text: one `rlimit NAME=SOFT:HARD` line per limit, one `file ROLE`
/// line per descriptor (in the order of the `SCM_RIGHTS` that travel with it), one
/// `count PLACE PATH` line per place to count (an absolute path without a line break;
/// others are left out), a `terminal ...` line when the init opens the program's
/// pseudo-terminal ([`TerminalRequest`]), a `proxy` line when it binds the network
/// proxy's listeners, then `end`.
#[cfg(target_os = "linux")]
fn setup_message(
    rlimits: &[Rlimit],
    roles: &[Role],
    count: &[(Place, PathBuf)],
    terminal: Option<TerminalRequest>,
    proxy: bool,
) -> String {
    let mut text = String::new();
    if proxy {
        text.push_str("proxy\n");
    }
    if let Some(terminal) = terminal {
        text.push_str("terminal ");
        text.push_str(&terminal.words());
        text.push('\n');
    }
    for (place, path) in count {
        if let Some(path) = path
            .to_str()
            .filter(|path| path.starts_with('/') && !path.contains(['\n', '\r']))
        {
            text.push_str("count ");
            text.push_str(place_name(*place));
            text.push(' ');
            text.push_str(path);
            text.push('\n');
        }
    }
    for limit in rlimits {
        text.push_str("rlimit ");
        text.push_str(&limit.to_argument());
        text.push('\n');
    }
    for role in roles {
        text.push_str("file ");
        text.push_str(role.name());
        text.push('\n');
    }
    text.push_str("end\n");
    text
}

/// [`parse_setup_message`] for the fuzzer.
#[cfg(target_os = "linux")]
pub(crate) fn decode_setup_for_fuzzing(text: &str) {
    let _ = parse_setup_message(text);
}

/// What a setup message's text says: rlimits, roles, places to count, the terminal,
/// whether to bind the proxy's listeners.
#[cfg(target_os = "linux")]
type SetupText = (
    Vec<Rlimit>,
    Vec<Role>,
    Vec<(Place, PathBuf)>,
    Option<TerminalRequest>,
    bool,
);

/// Parses [`setup_message`]'s text; `None` when it is malformed or cut short.
#[cfg(target_os = "linux")]
fn parse_setup_message(text: &str) -> Option<SetupText> {
    let (mut limits, mut roles, mut count) = (Vec::new(), Vec::new(), Vec::new());
    let mut terminal = None;
    let mut proxy = false;
    for line in text.lines() {
        if line == "end" {
            return Some((limits, roles, count, terminal, proxy));
        }
        if line == "proxy" {
            if proxy {
                return None;
            }
            proxy = true;
        } else if let Some(rest) = line.strip_prefix("terminal ") {
            if terminal.is_some() {
                return None;
            }
            terminal = Some(TerminalRequest::from_words(rest)?);
        } else if let Some(rest) = line.strip_prefix("count ") {
            let (name, path) = rest.split_once(' ')?;
            let place = [Place::Home, Place::Tmp]
                .into_iter()
                .find(|place| place_name(*place) == name)?;
            if !path.starts_with('/') {
                return None;
            }
            count.push((place, PathBuf::from(path)));
        } else if let Some(role) = line.strip_prefix("file ") {
            roles.push(Role::from_name(role)?);
        } else {
            limits.push(Rlimit::from_argument(line.strip_prefix("rlimit ")?)?);
        }
    }
    None
}

/// Waits for boxpy's setup message; returns its rlimits and its descriptors with their
/// roles (received close-on-exec, so none can reach the program unless the init hands it
/// over on purpose).
#[cfg(not(target_os = "linux"))]
fn receive_setup(_: &OwnedFd) -> Result<Setup<OwnedFd>, String> {
    Err("the setup socket exists only in the Linux sandbox".to_owned())
}

#[cfg(target_os = "linux")]
fn receive_setup(socket: &OwnedFd) -> Result<Setup<OwnedFd>, String> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::AsRawFd;
    // Room for more descriptors than a run sends (join and leave per controller, three
    // for the program).
    let mut buffer = [0u8; 4096];
    let mut space = nix::cmsg_space!([RawFd; 12]);
    let mut files = Vec::new();
    let (length, truncated) = loop {
        let mut slices = [std::io::IoSliceMut::new(&mut buffer)];
        match recvmsg::<()>(
            socket.as_raw_fd(),
            &mut slices,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(message) => {
                for control in message.cmsgs().into_iter().flatten() {
                    if let ControlMessageOwned::ScmRights(fds) = control {
                        // SAFETY: the kernel just installed these descriptors in this
                        // process for this message; nothing else owns them.
                        files.extend(
                            fds.into_iter()
                                .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                        );
                    }
                }
                let truncated = message
                    .flags
                    .intersects(MsgFlags::MSG_TRUNC | MsgFlags::MSG_CTRUNC);
                break (message.bytes, truncated);
            }
            Err(Errno::EINTR) => continue,
            Err(errno) => return Err(format!("reading boxpy's limits: {}", errno.desc())),
        }
    };
    let (rlimits, roles, count, terminal, proxy) = std::str::from_utf8(&buffer[..length])
        .ok()
        .filter(|_| !truncated)
        .and_then(parse_setup_message)
        .ok_or_else(|| "boxpy ended before it sent the limits".to_owned())?;
    if roles.len() != files.len() {
        return Err(format!(
            "boxpy's setup names {} descriptors but {} arrived",
            roles.len(),
            files.len()
        ));
    }
    Ok(Setup {
        rlimits,
        files: roles.into_iter().zip(files).collect(),
        count,
        terminal,
        proxy,
    })
}

/// The first words of the init's answer that carries the master of the program's
/// pseudo-terminal.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub const TERMINAL_ANSWER: &[u8] = b"terminal\n";

/// Opens the program's pseudo-terminal in the sandbox's own devpts instance (see
/// [`TerminalRequest`]) with the settings and size asked for, the master in packet mode;
/// returns `(master, slave)`, both close-on-exec. The slave is found through the master
/// (`TIOCGPTPEER`), not by a path; kernels before 4.13 open `/dev/pts/N` in the sandbox's
/// own devpts, before the program exists.
#[cfg(target_os = "linux")]
fn open_terminal(request: &TerminalRequest) -> Result<(OwnedFd, OwnedFd), String> {
    use nix::fcntl::{open, OFlag};
    use nix::sys::stat::Mode;
    use std::os::fd::AsRawFd;
    let flags = OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
    let failed = |what: &str, errno: Errno| {
        format!(
            "opening the program's pseudo-terminal in the sandbox: {what}: {}",
            errno.desc()
        )
    };
    let master = open("/dev/pts/ptmx", flags | OFlag::O_NOFOLLOW, Mode::empty())
        .map_err(|errno| failed("/dev/pts/ptmx", errno))?;
    // SAFETY: open returned a new descriptor that nothing else owns.
    let master = unsafe { OwnedFd::from_raw_fd(master) };
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int, which lives across the call.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) } != 0 {
        return Err(failed("unlocking it", Errno::last()));
    }
    // SAFETY: TIOCGPTPEER takes open flags by value and returns a new descriptor.
    let peer = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, flags.bits()) };
    let slave = if peer >= 0 {
        peer
    } else {
        let mut number: libc::c_uint = 0;
        // SAFETY: TIOCGPTN writes one unsigned int, which lives across the call.
        if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut number) } != 0 {
            return Err(failed("finding its number", Errno::last()));
        }
        open(
            format!("/dev/pts/{number}").as_str(),
            flags | OFlag::O_NOFOLLOW,
            Mode::empty(),
        )
        .map_err(|errno| failed("opening its slave", errno))?
    };
    // SAFETY: the ioctl or open returned a new descriptor that nothing else owns.
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    // SAFETY: tcsetattr and TIOCSWINSZ read the request, which lives across the calls.
    if unsafe { libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &request.settings) } != 0 {
        return Err(failed("setting its modes", Errno::last()));
    }
    // SAFETY: as above.
    if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSWINSZ, &request.size) } != 0 {
        return Err(failed("setting its window size", Errno::last()));
    }
    let packet: libc::c_int = 1;
    // SAFETY: TIOCPKT reads one int, which lives across the call.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCPKT, &packet) } != 0 {
        return Err(failed("setting its packet mode", Errno::last()));
    }
    Ok((master, slave))
}

/// Sends the master of the program's pseudo-terminal to boxpy over the setup socket.
#[cfg(target_os = "linux")]
fn send_terminal(socket: &OwnedFd, master: &OwnedFd) -> Result<(), String> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    use std::os::fd::AsRawFd;
    let fds = [master.as_raw_fd()];
    sendmsg::<()>(
        socket.as_raw_fd(),
        &[std::io::IoSlice::new(TERMINAL_ANSWER)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map(drop)
    .map_err(|errno| {
        format!(
            "sending the program's pseudo-terminal to boxpy: {}",
            errno.desc()
        )
    })
}

/// The first words of the init's answer that carries the proxy's listeners.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub const LISTENERS_ANSWER: &[u8] = b"listeners http socks\n";

/// Binds the network proxy's listeners in the sandbox's network namespace: the HTTP
/// proxy on `127.0.0.1:3128` and SOCKS5 on `127.0.0.1:1080` ([`crate::network`]), before
/// the program exists, so no port of the program's can be in the way.
#[cfg(target_os = "linux")]
fn bind_proxy_listeners() -> Result<[std::net::TcpListener; 2], String> {
    let bind = |port: u16| {
        std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, port)).map_err(|error| {
            format!("binding the network proxy's port 127.0.0.1:{port} in the sandbox: {error}")
        })
    };
    Ok([
        bind(crate::network::HTTP_PORT)?,
        bind(crate::network::SOCKS_PORT)?,
    ])
}

/// Sends the proxy's listeners to boxpy over the setup socket, then closes the init's
/// copies: only boxpy accepts on them.
#[cfg(target_os = "linux")]
fn send_listeners(socket: &OwnedFd, listeners: &[std::net::TcpListener; 2]) -> Result<(), String> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    use std::os::fd::AsRawFd;
    let fds = [listeners[0].as_raw_fd(), listeners[1].as_raw_fd()];
    sendmsg::<()>(
        socket.as_raw_fd(),
        &[std::io::IoSlice::new(LISTENERS_ANSWER)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map(drop)
    .map_err(|errno| {
        format!(
            "sending the network proxy's listeners to boxpy: {}",
            errno.desc()
        )
    })
}

/// Receives one of the init's answers on the setup socket: the message must arrive whole
/// and be `expected`; its descriptors (at most two, received close-on-exec). `None` when
/// anything else arrives, or the init's end is closed.
#[cfg(target_os = "linux")]
pub(super) fn receive_answer(
    socket: &OwnedFd,
    expected: &[u8],
    flags: nix::sys::socket::MsgFlags,
) -> Option<Vec<OwnedFd>> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::AsRawFd;
    let mut buffer = [0u8; 64];
    let mut space = nix::cmsg_space!([RawFd; 2]);
    let mut slices = [std::io::IoSliceMut::new(&mut buffer)];
    let message = loop {
        match recvmsg::<()>(
            socket.as_raw_fd(),
            &mut slices,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC | flags,
        ) {
            Ok(message) => break message,
            Err(Errno::EINTR) => continue,
            Err(_) => return None,
        }
    };
    let mut files: Vec<OwnedFd> = Vec::new();
    for control in message.cmsgs().ok()? {
        if let ControlMessageOwned::ScmRights(fds) = control {
            // SAFETY: the kernel just installed these descriptors in this process for this
            // message; nothing else owns them.
            files.extend(
                fds.into_iter()
                    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
            );
        }
    }
    let whole = !message
        .flags
        .intersects(MsgFlags::MSG_TRUNC | MsgFlags::MSG_CTRUNC);
    let length = message.bytes;
    (whole && buffer[..length] == *expected).then_some(files)
}

/// Receives the init's [`LISTENERS_ANSWER`]: the HTTP and SOCKS5 listeners, each checked
/// to be a listening TCP socket (received close-on-exec). Blocks until the init sends
/// them or its end of the socket is closed (`None`).
#[cfg(target_os = "linux")]
pub fn receive_listeners(socket: &OwnedFd) -> Option<[std::net::TcpListener; 2]> {
    use nix::sys::socket::{getsockopt, sockopt, MsgFlags};
    let files = receive_answer(socket, LISTENERS_ANSWER, MsgFlags::empty())?;
    let listening = |fd: &OwnedFd| {
        getsockopt(fd, sockopt::AcceptConn).unwrap_or(false)
            && getsockopt(fd, sockopt::SockType).ok() == Some(nix::sys::socket::SockType::Stream)
    };
    let [http, socks]: [OwnedFd; 2] = files.try_into().ok()?;
    if !listening(&http) || !listening(&socks) {
        return None;
    }
    Some([http.into(), socks.into()])
}

/// Writes one line of the report with a single `write` (under `PIPE_BUF`, so boxpy reads it
/// whole, never a piece per formatted argument).
fn report_line(report: &mut std::fs::File, line: &ReportLine) {
    let _ = report.write_all(line.encode().as_bytes());
}

/// Reports that the init's set-up failed (boxpy's setup message never came whole) and
/// returns the init's exit code; boxpy exits 125 for it.
/// What the init does to the sandbox itself before the program exists (a run under bwrap
/// with its own user namespace; see `sandbox::bwrap`): files to cover with `/dev/null`,
/// mounts to make read-only, and the seccomp filter to load.
#[derive(Debug, Default)]
struct Hardening {
    masks: Vec<std::path::PathBuf>,
    read_only: Vec<std::path::PathBuf>,
    seccomp: Option<RawFd>,
}

#[cfg(target_os = "linux")]
impl Hardening {
    /// Covers each mask with `/dev/null` (bwrap's own `/dev/null` mount is not `nodev`, so
    /// the cover reads as empty) and remounts each read-only path read-only, keeping the
    /// flags it has (the kernel refuses to drop `nosuid`, `nodev`, `noexec` in a user
    /// namespace).
    fn mount(&self) -> Result<(), String> {
        use nix::mount::{mount, MsFlags};
        if self.masks.is_empty() && self.read_only.is_empty() {
            return Ok(());
        }
        // With `--disable-userns` bwrap leaves the init in a user namespace nested in the
        // one that owns the sandbox's mount namespace: a mount namespace of its own (a copy,
        // its mounts locked as they are) is one it may change. The program inherits it.
        // SAFETY: unshare with a flag only.
        if unsafe { libc::unshare(libc::CLONE_NEWNS) } < 0 {
            return Err(format!(
                "creating the init's mount namespace: {}",
                Errno::last().desc()
            ));
        }
        // bwrap's `--dev` binds the host's own device nodes: read-only first (reads and
        // writes of a device ignore it; chmod, chown and utime of the host inode do not),
        // so every cover below, a bind of `/dev/null`, is read-only too.
        for device in DEVICE_BINDS {
            let path = std::path::Path::new(device);
            if path.exists() {
                remount_read_only(path)?;
            }
        }
        for path in &self.masks {
            mount(
                Some("/dev/null"),
                path.as_path(),
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(|errno| format!("covering `{}`: {}", path.display(), errno.desc()))?;
            // Not remounted read-only: what is written there goes to `/dev/null` (a
            // device ignores its mount's read-only flag anyway), and each remount is one
            // more system call a run.
        }
        for path in &self.read_only {
            remount_read_only(path)?;
        }
        Ok(())
    }

    /// Loads the filter boxpy compiled (bwrap's `--seccomp` format: an array of
    /// `sock_filter`) on this process, which the program inherits; `no_new_privs` first,
    /// so no capability is needed.
    fn load_seccomp(&self) -> Result<(), String> {
        use std::io::Read;
        let Some(fd) = self.seccomp else {
            return Ok(());
        };
        // SAFETY: boxpy passed this descriptor for exactly this use; the init owns it and
        // closes it here, before the program exists.
        let mut file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        let mut program = Vec::new();
        file.read_to_end(&mut program)
            .map_err(|error| format!("reading the seccomp filter: {error}"))?;
        drop(file);
        if program.is_empty() || program.len() % 8 != 0 || program.len() / 8 > 4096 {
            return Err(format!(
                "the seccomp filter has a wrong size ({} bytes)",
                program.len()
            ));
        }
        let filter = libc::sock_fprog {
            len: (program.len() / 8) as u16,
            filter: program.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } < 0 {
            return Err(format!("setting no_new_privs: {}", Errno::last().desc()));
        }
        // SAFETY: `filter` points at `program`'s bytes, a whole number of 8-byte
        // `sock_filter`s that live across the call; the kernel copies them.
        if unsafe {
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &filter as *const libc::sock_fprog,
                0,
                0,
            )
        } < 0
        {
            return Err(format!(
                "loading the seccomp filter: {}",
                Errno::last().desc()
            ));
        }
        Ok(())
    }
}

/// The device nodes bwrap's `--dev` binds from the host.
#[cfg(target_os = "linux")]
const DEVICE_BINDS: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
];

/// Remounts the mount at `path` read-only, keeping the flags it has (the kernel refuses to
/// drop `nosuid`, `nodev`, `noexec` in a user namespace).
#[cfg(target_os = "linux")]
fn remount_read_only(path: &std::path::Path) -> Result<(), String> {
    use nix::mount::{mount, MsFlags};
    let current = nix::sys::statvfs::statvfs(path)
        .map_err(|errno| {
            format!(
                "reading the flags of `{}`: {}",
                path.display(),
                errno.desc()
            )
        })?
        .flags();
    use nix::sys::statvfs::FsFlags;
    let mut flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY;
    for (has, keep) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
    ] {
        if current.contains(has) {
            flags |= keep;
        }
    }
    // `ST_RELATIME` (4096 on every Linux arch) has no name in nix on musl.
    if current.bits() & 4096 != 0 {
        flags |= MsFlags::MS_RELATIME;
    }
    mount(None::<&str>, path, None::<&str>, flags, None::<&str>)
        .map_err(|errno| format!("making `{}` read-only: {}", path.display(), errno.desc()))?;
    Ok(())
}

fn setup_failed(report: &mut std::fs::File, detail: &str) -> i32 {
    report_line(
        report,
        &ReportLine::SetupFailed {
            detail: detail.to_owned(),
        },
    );
    125
}

/// Reports that a limit could not be applied, with the policy key behind it when one is
/// (boxpy exits 125 for it, never runs the program without it), and returns the init's
/// exit code.
fn limit_failed(report: &mut std::fs::File, detail: &str, key: Option<&str>) -> i32 {
    report_line(
        report,
        &ReportLine::LimitFailed {
            detail: detail.to_owned(),
            key: key.map(str::to_owned),
        },
    );
    125
}

/// Reaps children; records the program's status when it is among them. With `WNOHANG`
/// it returns when nothing more is ready; without, when no child is left.
fn reap(child: Pid, program_status: &mut Option<WaitStatus>, flags: WaitPidFlag) {
    loop {
        match waitpid(Pid::from_raw(-1), Some(flags)) {
            Ok(WaitStatus::StillAlive) => return,
            Ok(status) => {
                if status.pid() == Some(child)
                    && matches!(status, WaitStatus::Exited(..) | WaitStatus::Signaled(..))
                {
                    *program_status = Some(status);
                }
            }
            Err(Errno::EINTR) => continue,
            Err(_) => return,
        }
    }
}

// The setup socket exists only on Linux.
#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn setup_messages_round_trip_and_refuse_what_is_cut_short() {
        let limits = vec![
            Rlimit {
                resource: libc::RLIMIT_CPU as i32,
                soft: 30,
                hard: 31,
            },
            Rlimit {
                resource: libc::RLIMIT_NOFILE as i32,
                soft: 64,
                hard: 64,
            },
        ];
        let roles = [
            Role::Join,
            Role::Leave,
            Role::Stdout,
            Role::Stderr,
            Role::Channel,
        ];
        let count = vec![
            (Place::Home, PathBuf::from("/home/a b")),
            (Place::Tmp, PathBuf::from("/tmp")),
        ];
        let mut asked = count.clone();
        // Not a path a line can carry: left out, never a broken message.
        asked.push((Place::Tmp, PathBuf::from("/x\nend")));
        asked.push((Place::Tmp, PathBuf::from("relative")));
        let text = setup_message(&limits, &roles, &asked, None, false);
        assert_eq!(
            text,
            "count home /home/a b\ncount tmp /tmp\nrlimit cpu=30:31\nrlimit nofile=64:64\nfile join\nfile leave\nfile stdout\nfile stderr\nfile channel\nend\n"
        );
        assert_eq!(
            parse_setup_message(&text),
            Some((limits, roles.to_vec(), count, None, false))
        );
        assert_eq!(
            parse_setup_message("end\n"),
            Some((Vec::new(), Vec::new(), Vec::new(), None, false))
        );
        let text = setup_message(&[], &[], &[], None, true);
        assert_eq!(text, "proxy\nend\n");
        assert_eq!(
            parse_setup_message(&text),
            Some((Vec::new(), Vec::new(), Vec::new(), None, true))
        );
        // A terminal request travels whole: modes, control characters, speeds, size.
        // SAFETY: an all-zero termios is a valid value.
        let mut settings: libc::termios = unsafe { std::mem::zeroed() };
        settings.c_iflag = libc::ICRNL | libc::IXON;
        settings.c_lflag = libc::ICANON | libc::ECHO | libc::ISIG;
        settings.c_cc[libc::VEOF] = 4;
        settings.c_cc[libc::VMIN] = 1;
        // SAFETY: cfset*speed write only to `settings`.
        unsafe {
            libc::cfsetispeed(&mut settings, libc::B38400);
            libc::cfsetospeed(&mut settings, libc::B9600);
        }
        let terminal = TerminalRequest {
            settings,
            size: libc::winsize {
                ws_row: 40,
                ws_col: 100,
                ws_xpixel: 0,
                ws_ypixel: 7,
            },
        };
        let text = setup_message(&[], &[Role::Stdout], &[], Some(terminal), false);
        assert!(text.starts_with("terminal "), "{text}");
        let (_, _, _, parsed, _) = parse_setup_message(&text).expect("parses");
        let parsed = parsed.expect("the terminal request");
        assert_eq!(parsed, terminal);
        assert_eq!(parsed.settings.c_cc, settings.c_cc);
        assert_eq!(parsed.size.ws_ypixel, 7);
        for bad in [
            "",
            "rlimit cpu=30:31\n",
            "rlimit stack=1:1\nend\n",
            "cpu=1:1\nend\n",
            "file stdout2\nend\n",
            "file join\n",
            "count home\nend\n",
            "count var /var\nend\n",
            "count tmp tmp\nend\n",
            "terminal 1 2 3\nend\n",
            "terminal x\nend\n",
            "proxy\nproxy\nend\n",
        ] {
            assert_eq!(parse_setup_message(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_setup_arrives_with_its_files_over_a_socket_pair() {
        let (ours, theirs) = setup_socket_pair().expect("socketpair");
        let file = tempfile::tempfile().expect("a file to pass");
        let limit = Rlimit {
            resource: libc::RLIMIT_FSIZE as i32,
            soft: 1,
            hard: 2,
        };
        let (read, write) = super::super::pipe().expect("a pipe to pass");
        use std::os::fd::AsRawFd;
        let setup = Setup {
            rlimits: vec![limit],
            files: vec![
                (Role::Join, file.as_raw_fd()),
                (Role::Stdout, write.as_raw_fd()),
            ],
            count: vec![(Place::Tmp, PathBuf::from("/tmp"))],
            terminal: None,
            proxy: false,
        };
        send_setup(&ours, &setup).expect("sendmsg");
        drop(write);
        let received = receive_setup(&theirs).expect("the setup arrives");
        assert_eq!(received.rlimits, vec![limit]);
        assert_eq!(received.count, vec![(Place::Tmp, PathBuf::from("/tmp"))]);
        let roles: Vec<Role> = received.files.iter().map(|(role, _)| *role).collect();
        assert_eq!(roles, [Role::Join, Role::Stdout]);
        // Received close-on-exec: never inherited by the program unless handed over.
        for (_, fd) in &received.files {
            let flags =
                nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFD).expect("F_GETFD");
            assert_ne!(flags & libc::FD_CLOEXEC, 0);
        }
        // The pipe really travelled: what is written to the received end arrives.
        let (_, stdout) = received.files.into_iter().nth(1).expect("stdout");
        std::fs::File::from(stdout)
            .write_all(b"hello")
            .expect("write");
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::fs::File::from(read), &mut text).expect("read");
        assert_eq!(text, "hello");
        // boxpy gone before it sent anything: an error, never an init without limits.
        drop(ours);
        assert!(receive_setup(&theirs).is_err());
    }
}

/// The terminal's line discipline (`c_line`, Linux only; 0 elsewhere).
fn line_discipline(settings: &libc::termios) -> u8 {
    #[cfg(target_os = "linux")]
    {
        settings.c_line
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = settings;
        0
    }
}

/// Sets [`line_discipline`] where the platform has it.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn set_line_discipline(settings: &mut libc::termios, discipline: u8) {
    #[cfg(target_os = "linux")]
    {
        settings.c_line = discipline;
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (settings, discipline);
    }
}
