//! How each `[limits]` key is enforced on this host, and the cgroup that enforces some.
//!
//! | key | mechanism |
//! |---|---|
//! | `timeout` | boxpy's wall clock; the init kills the whole PID namespace (`exec/mod.rs`) |
//! | `cpu` | `RLIMIT_CPU` (per process: SIGXCPU at the limit, SIGKILL one second later) |
//! | `memory` | a memory cgroup (v2 `memory.max` or v1 `memory.limit_in_bytes`, swap included) when boxpy can create one; otherwise `RLIMIT_DATA` (per process: heap and private mappings, not virtual reservations, so threads and ipykernel still start); not enforced on macOS |
//! | `processes` | a pids cgroup when boxpy can create one; otherwise `RLIMIT_NPROC` (since Linux 5.14 it counts the tasks in the sandbox's user namespace only; before, all of the user's, so it is raised by the tasks the user already runs; it exempts root entirely, so root needs the cgroup) |
//! | `file_size` | `RLIMIT_FSIZE` (SIGXFSZ / `File too large`) |
//! | `open_files` | `RLIMIT_NOFILE` |
//! | `output` | counted by boxpy's pumps (`exec/pump.rs`) |
//! | `filesystem.tmp_size` | bwrap `--size` on the `/tmp` and `/dev/shm` tmpfs |
//!
//! On Linux both are applied by boxpy's init inside the sandbox, so bwrap itself is spawned
//! with a plain `posix_spawn` (no fork of boxpy). A run plans its limits only once bwrap is
//! running (creating the cgroups costs ~0.3 ms, bwrap's set-up several): it sends the init
//! the rlimits and the open cgroup files over a socket (`--setup FD`, see
//! [`super::init`]), and the init waits for them. The init joins the cgroups before the
//! program exists and sets the rlimits on itself before it spawns the program, so
//! everything the program starts inherits them; once everything has ended it moves back
//! to boxpy's own cgroups, so boxpy removes the run's at once. `boxpy render` shows the rlimits on the
//! init's command line instead (`--rlimit NAME=SOFT:HARD`; it creates no cgroups). A cgroup is
//! joined by writing `0`: on v1 to `tasks` (the init is single-threaded, and moving only the
//! current thread lets the kernel skip the global threadgroup lock, whose RCU grace period
//! cost ~7 ms a run); on v2 to `cgroup.procs` (v2 moves threads only inside a threaded
//! subtree). On macOS, which has no init, the rlimits are set before `sandbox-exec` runs.
//! What cannot be enforced is listed in [`Enforcement::unenforced`], which `boxpy` prints
//! as a warning (never silently skipped).

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::policy::Limits;

pub use crate::sandbox::rlimit::Rlimit;

/// The cgroup(s) a run is placed in. Removed on drop.
#[derive(Debug)]
pub struct Cgroup {
    directories: Vec<PathBuf>,
    /// Open `tasks` (v1) or `cgroup.procs` (v2) files; the init writes `0` to each
    /// before it starts the program.
    procs: Vec<File>,
    /// The same files of boxpy's own cgroups (the parents), where the init moves back
    /// once the program and everything it started have ended: the run's cgroups are then
    /// empty and removed at once, while the init's own exit (the sandbox's namespaces torn
    /// down) is still under way. A file boxpy cannot open here only means the removal
    /// waits for that exit.
    leave: Vec<File>,
    memory_events: Option<MemoryEvents>,
    pub memory: bool,
    pub processes: bool,
}

#[derive(Debug, Clone)]
enum MemoryEvents {
    V2(PathBuf),
    V1(PathBuf),
}

impl Cgroup {
    /// The run's cgroup directories (one per hierarchy), removed when it is dropped.
    #[cfg(all(test, target_os = "linux"))]
    pub(crate) fn directories(&self) -> &[PathBuf] {
        &self.directories
    }

    /// The open `tasks`/`cgroup.procs` files, passed to the init to join.
    pub fn join_files(&self) -> &[File] {
        &self.procs
    }

    /// The open files of boxpy's own cgroups, passed to the init to move back to.
    pub fn leave_files(&self) -> &[File] {
        &self.leave
    }

    /// Whether the kernel's OOM killer acted inside this cgroup.
    pub fn oom_killed(&self) -> bool {
        let count = |path: &Path, key: &str| {
            std::fs::read_to_string(path)
                .ok()
                .and_then(|text| {
                    text.lines().find_map(|line| {
                        let (name, value) = line.split_once(' ')?;
                        (name == key).then(|| value.trim().parse::<u64>().ok())?
                    })
                })
                .unwrap_or(0)
        };
        match &self.memory_events {
            Some(MemoryEvents::V2(path)) => count(path, "oom_kill") > 0,
            Some(MemoryEvents::V1(path)) => count(path, "oom_kill") > 0,
            None => false,
        }
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        self.procs.clear();
        self.leave.clear();
        for directory in self.directories.iter().rev() {
            // The init has killed and reaped everything; the kernel may need a moment to
            // release the last task.
            for _ in 0..50 {
                if std::fs::remove_dir(directory).is_ok() || !directory.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        }
    }
}

/// How this run's limits will be enforced.
#[derive(Debug, Default)]
pub struct Enforcement {
    pub rlimits: Vec<Rlimit>,
    pub cgroup: Option<Cgroup>,
    /// Limits that cannot be enforced here: (policy key, reason).
    pub unenforced: Vec<(String, String)>,
}

/// Decides the mechanism for every limit (probing cgroups and counting tasks).
// `RLIMIT_*` are `u32` on Linux and `c_int` on macOS: the casts are needed on one of them.
#[cfg_attr(target_os = "macos", allow(clippy::unnecessary_cast))]
pub fn plan(limits: &Limits, uid: u32) -> Enforcement {
    plan_with(limits, uid, true)
}

/// The plan without creating cgroups (`boxpy render`, which changes nothing on the host):
/// every limit falls back to its rlimit, as on a host without usable cgroups.
pub fn plan_without_cgroups(limits: &Limits, uid: u32) -> Enforcement {
    plan_with(limits, uid, false)
}

#[cfg_attr(target_os = "macos", allow(clippy::unnecessary_cast))]
fn plan_with(limits: &Limits, uid: u32, create_cgroups: bool) -> Enforcement {
    let mut enforcement = Enforcement::default();
    let wants_cgroup = limits.memory.is_some() || limits.processes.is_some();
    if wants_cgroup && create_cgroups {
        enforcement.cgroup = create_cgroup(limits);
    }
    let cgroup = enforcement.cgroup.as_ref();
    if let Some(cpu) = limits.cpu {
        let seconds = cpu.as_secs_f64().ceil().max(1.0) as u64;
        enforcement.rlimits.push(Rlimit {
            resource: libc::RLIMIT_CPU as i32,
            soft: seconds,
            hard: seconds + 1,
        });
    }
    if let Some(memory) = limits.memory {
        if cfg!(target_os = "macos") {
            enforcement.unenforced.push((
                "limits.memory".to_owned(),
                "macOS enforces neither RLIMIT_DATA nor RLIMIT_AS and has no memory cgroups"
                    .to_owned(),
            ));
        } else if !cgroup.is_some_and(|cgroup| cgroup.memory) {
            enforcement.rlimits.push(Rlimit {
                resource: libc::RLIMIT_DATA as i32,
                soft: memory,
                hard: memory,
            });
        }
    }
    if let Some(processes) = limits.processes {
        if !cgroup.is_some_and(|cgroup| cgroup.processes) {
            if uid == 0 {
                enforcement.unenforced.push((
                    "limits.processes".to_owned(),
                    "boxpy runs as root, which RLIMIT_NPROC does not apply to, and no pids cgroup could be created".to_owned(),
                ));
            } else {
                // Since Linux 5.14 the count is per user namespace: inside bwrap's, only the
                // sandbox's own tasks. Before, it was all of the user's tasks on the host.
                let existing = if nproc_counts_per_user_namespace() {
                    0
                } else {
                    count_user_tasks(uid)
                };
                let allowed = processes.saturating_add(existing);
                enforcement.rlimits.push(Rlimit {
                    resource: libc::RLIMIT_NPROC as i32,
                    soft: allowed,
                    hard: allowed,
                });
            }
        }
    }
    if let Some(size) = limits.file_size {
        enforcement.rlimits.push(Rlimit {
            resource: libc::RLIMIT_FSIZE as i32,
            soft: size,
            hard: size,
        });
    }
    if let Some(files) = limits.open_files {
        // macOS refuses a limit above OPEN_MAX: it gets the largest it takes.
        let files = if cfg!(target_os = "macos") {
            files.min(MACOS_OPEN_MAX)
        } else {
            files
        };
        enforcement.rlimits.push(Rlimit {
            resource: libc::RLIMIT_NOFILE as i32,
            soft: files,
            hard: files,
        });
    }
    enforcement
}

/// Whether `RLIMIT_NPROC` counts a user's tasks per user namespace, so that inside the
/// sandbox's only the sandbox's tasks count: Linux 5.14 and later ("ucounts"; checked:
/// with a limit of 4 inside a new user namespace, two forks succeed however many
/// processes the user runs outside). Then the limit needs no offset, and boxpy no scan of
/// `/proc` (a `stat` per process, ~0.3 ms). Never on macOS.
fn nproc_counts_per_user_namespace() -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: uname fills the struct it is given.
        let mut name: libc::utsname = unsafe { std::mem::zeroed() };
        if unsafe { libc::uname(&mut name) } != 0 {
            return false;
        }
        // SAFETY: the kernel NUL-terminates `release`.
        let release = unsafe { std::ffi::CStr::from_ptr(name.release.as_ptr()) };
        kernel_at_least(&release.to_string_lossy(), (5, 14))
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// Whether a kernel release (`6.1.0-13-amd64`) is `minimum` (major, minor) or later.
#[cfg_attr(not(any(target_os = "linux", test)), allow(dead_code))]
fn kernel_at_least(release: &str, minimum: (u32, u32)) -> bool {
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|part| part.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= minimum,
        _ => false,
    }
}

/// `OPEN_MAX` of macOS's `<sys/syslimits.h>`: the largest `RLIMIT_NOFILE` it accepts.
const MACOS_OPEN_MAX: u64 = 10240;

/// Processes the user runs now: macOS's RLIMIT_NPROC counts them all (not threads).
#[cfg(target_os = "macos")]
fn count_user_tasks(uid: u32) -> u64 {
    // libproc.h's PROC_RUID_ONLY: processes whose real user is `uid`.
    const PROC_RUID_ONLY: u32 = 5;
    // SAFETY: a null buffer of size 0 asks only for the size the list needs, in bytes.
    let bytes = unsafe { libc::proc_listpids(PROC_RUID_ONLY, uid, std::ptr::null_mut(), 0) };
    // The size has room to spare, so this over-counts a little: a slightly larger limit,
    // never one that stops the program before it starts.
    u64::try_from(bytes).unwrap_or(0) / std::mem::size_of::<libc::pid_t>() as u64
}

/// Tasks (threads included) the user runs now: RLIMIT_NPROC counts them all.
#[cfg(not(target_os = "macos"))]
fn count_user_tasks(uid: u32) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut count = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name
            .to_string_lossy()
            .bytes()
            .all(|byte| byte.is_ascii_digit())
        {
            continue;
        }
        if entry.metadata().map(|metadata| metadata.uid()).ok() != Some(uid) {
            continue;
        }
        let threads = std::fs::read_dir(entry.path().join("task"))
            .map(|tasks| tasks.count() as u64)
            .unwrap_or(1);
        count += threads;
    }
    count
}

/// The cgroup directory of this process for a controller (v1) or the unified one (v2),
/// from the text of `/proc/self/cgroup`.
fn own_cgroup(text: &str, controller: Option<&str>) -> Option<String> {
    text.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let _id = parts.next()?;
        let controllers = parts.next()?;
        let path = parts.next()?;
        let matches = match controller {
            Some(name) => controllers.split(',').any(|c| c == name),
            None => controllers.is_empty(),
        };
        matches.then(|| path.to_owned())
    })
}

fn write(path: &Path, value: &str) -> bool {
    std::fs::write(path, value).is_ok()
}

fn open_procs(directory: &Path, file: &str) -> Option<File> {
    OpenOptions::new()
        .write(true)
        .open(directory.join(file))
        .ok()
}

fn create_cgroup(limits: &Limits) -> Option<Cgroup> {
    // Named after this process and a number of its own: two runs of one process (a
    // server's) never share a cgroup.
    let name = cgroup_name(std::process::id(), next_cgroup_number());
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let root = Path::new("/sys/fs/cgroup");
    let v2 = root.join("cgroup.controllers").exists();
    remove_stale_cgroups(root, &own, v2);
    if v2 {
        return create_cgroup_v2(root, &own, &name, limits);
    }
    create_cgroup_v1(root, &own, &name, limits)
}

/// The number of this process's next cgroup.
fn next_cgroup_number() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A run's cgroup: `boxpy-PID-N`, N unique in the process.
fn cgroup_name(pid: u32, number: u64) -> String {
    format!("boxpy-{pid}-{number}")
}

/// The pid in a cgroup's name that boxpy made: `boxpy-PID-N`, or `boxpy-PID` (before runs
/// were numbered); `None` for any other name.
fn cgroup_owner(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("boxpy-")?;
    let (pid, number) = rest.split_once('-').unwrap_or((rest, "0"));
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
    (digits(pid) && digits(number) && pid.parse::<u32>().is_ok()).then_some(pid)
}

/// A boxpy that was SIGKILLed could not remove its cgroups: remove the `boxpy-PID-N` (and
/// older `boxpy-PID`) directories whose process is gone (rmdir only succeeds on an empty
/// cgroup). A live process's are left alone, so a run never removes a concurrent run's.
fn remove_stale_cgroups(root: &Path, own: &str, v2: bool) {
    let parents: Vec<PathBuf> = if v2 {
        own_cgroup(own, None)
            .map(|own| root.join(own.trim_start_matches('/')))
            .into_iter()
            .collect()
    } else {
        ["memory", "pids"]
            .iter()
            .filter_map(|controller| {
                own_cgroup(own, Some(controller))
                    .map(|own| root.join(controller).join(own.trim_start_matches('/')))
            })
            .collect()
    };
    for parent in parents {
        let Ok(entries) = std::fs::read_dir(&parent) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(cgroup_owner) else {
                continue;
            };
            if !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir(entry.path());
            }
        }
    }
}

/// cgroup v2: a child of boxpy's own cgroup, when its controllers are delegated there.
fn create_cgroup_v2(root: &Path, own: &str, name: &str, limits: &Limits) -> Option<Cgroup> {
    let own = own_cgroup(own, None)?;
    let parent = root.join(own.trim_start_matches('/'));
    let enabled =
        std::fs::read_to_string(parent.join("cgroup.subtree_control")).unwrap_or_default();
    let has = |controller: &str| enabled.split_whitespace().any(|c| c == controller);
    if !(has("memory") || has("pids")) {
        return None;
    }
    let directory = parent.join(name);
    std::fs::create_dir(&directory).ok()?;
    let mut cgroup = Cgroup {
        directories: vec![directory.clone()],
        procs: Vec::new(),
        leave: open_procs(&parent, "cgroup.procs").into_iter().collect(),
        memory_events: None,
        memory: false,
        processes: false,
    };
    if let Some(memory) = limits.memory.filter(|_| has("memory")) {
        cgroup.memory = write(&directory.join("memory.max"), &memory.to_string());
        let _ = write(&directory.join("memory.swap.max"), "0");
        cgroup.memory_events = Some(MemoryEvents::V2(directory.join("memory.events")));
    }
    if let Some(processes) = limits.processes.filter(|_| has("pids")) {
        cgroup.processes = write(&directory.join("pids.max"), &processes.to_string());
    }
    cgroup.procs.push(open_procs(&directory, "cgroup.procs")?);
    Some(cgroup)
}

/// cgroup v1: a child in the memory and pids hierarchies (root, or a delegated tree).
fn create_cgroup_v1(root: &Path, own: &str, name: &str, limits: &Limits) -> Option<Cgroup> {
    let mut cgroup = Cgroup {
        directories: Vec::new(),
        procs: Vec::new(),
        leave: Vec::new(),
        memory_events: None,
        memory: false,
        processes: false,
    };
    if let Some(memory) = limits.memory {
        if let Some(own) = own_cgroup(own, Some("memory")) {
            let directory = root
                .join("memory")
                .join(own.trim_start_matches('/'))
                .join(name);
            if std::fs::create_dir(&directory).is_ok() {
                cgroup.directories.push(directory.clone());
                let limited = write(
                    &directory.join("memory.limit_in_bytes"),
                    &memory.to_string(),
                );
                let swap = directory.join("memory.memsw.limit_in_bytes");
                if swap.exists() {
                    let _ = write(&swap, &memory.to_string());
                }
                if let (true, Some(procs)) = (limited, open_procs(&directory, "tasks")) {
                    cgroup.procs.push(procs);
                    cgroup
                        .leave
                        .extend(directory.parent().and_then(|own| open_procs(own, "tasks")));
                    cgroup.memory = true;
                    cgroup.memory_events =
                        Some(MemoryEvents::V1(directory.join("memory.oom_control")));
                }
            }
        }
    }
    if let Some(processes) = limits.processes {
        if let Some(own) = own_cgroup(own, Some("pids")) {
            let directory = root
                .join("pids")
                .join(own.trim_start_matches('/'))
                .join(name);
            if std::fs::create_dir(&directory).is_ok() {
                cgroup.directories.push(directory.clone());
                let limited = write(&directory.join("pids.max"), &processes.to_string());
                if let (true, Some(procs)) = (limited, open_procs(&directory, "tasks")) {
                    cgroup.procs.push(procs);
                    cgroup
                        .leave
                        .extend(directory.parent().and_then(|own| open_procs(own, "tasks")));
                    cgroup.processes = true;
                }
            }
        }
    }
    (!cgroup.directories.is_empty()).then_some(cgroup)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two runs of one process get two cgroups, and the sweep reads the owner of both
    /// kinds of name (and of nothing else).
    #[test]
    fn cgroup_names_carry_the_process_and_the_run() {
        let (first, second) = (next_cgroup_number(), next_cgroup_number());
        assert_ne!(cgroup_name(7, first), cgroup_name(7, second));
        assert_eq!(cgroup_name(42, 3), "boxpy-42-3");
        assert_eq!(cgroup_owner("boxpy-42-3"), Some("42"));
        assert_eq!(cgroup_owner("boxpy-42"), Some("42"));
        for other in [
            "boxpy-",
            "boxpy-x",
            "boxpy-42-",
            "boxpy-42-x",
            "boxpy--3",
            "boxpy-42-3-1",
            "boxpy-99999999999",
            "user.slice",
        ] {
            assert_eq!(cgroup_owner(other), None, "{other}");
        }
    }

    #[test]
    fn every_rlimit_names_its_policy_key() {
        for (name, resource, key) in crate::sandbox::rlimit::RLIMIT_NAMES {
            let limit = Rlimit {
                resource,
                soft: 1,
                hard: 2,
            };
            assert_eq!(limit.policy_key(), Some(key), "{name}");
        }
        let nofile = Rlimit::from_argument("nofile=1:1").expect("nofile");
        assert_eq!(nofile.policy_key(), Some("limits.open_files"));
    }

    #[test]
    fn kernel_releases_compare_by_major_and_minor() {
        for (release, expected) in [
            ("5.14.0-362.8.1.el9_3.x86_64", true),
            ("6.1.0-13-amd64", true),
            ("6.18.44-fc-v657", true),
            ("5.13.19", false),
            ("5.4.0-150-generic", false),
            ("4.19.0", false),
            ("", false),
            ("garbage", false),
        ] {
            assert_eq!(kernel_at_least(release, (5, 14)), expected, "{release}");
        }
    }

    #[test]
    fn rlimit_arguments_round_trip() {
        for (name, resource, _) in crate::sandbox::rlimit::RLIMIT_NAMES {
            let limit = Rlimit {
                resource,
                soft: 10,
                hard: 11,
            };
            assert_eq!(limit.to_argument(), format!("{name}=10:11"));
            assert_eq!(Rlimit::from_argument(&limit.to_argument()), Some(limit));
        }
        for bad in [
            "",
            "cpu",
            "cpu=1",
            "cpu=1:",
            "stack=1:1",
            "cpu=-1:2",
            "cpu=1:2:3",
        ] {
            assert_eq!(Rlimit::from_argument(bad), None, "{bad:?}");
        }
    }
}
