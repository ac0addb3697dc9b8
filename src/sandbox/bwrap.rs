//! The Linux renderer: [`SandboxSpec`] + [`HostFacts`] + [`InitSetup`] -> a bwrap command
//! line. Pure.
//!
//! Invariants this function enforces (each has a test):
//! - Namespaces: `--unshare-all` (user, ipc, pid, net, uts, cgroup); `--share-net` only for
//!   `network = "full"` (`proxy` keeps its own namespace: loopback, where boxpy's init binds
//!   the proxy's listeners). `--die-with-parent`, `--new-session`, `--cap-drop ALL` always;
//!   `--disable-userns` (with an explicit `--unshare-user`) when bwrap supports it, and
//!   then `--cap-add CAP_SYS_RESOURCE --cap-add CAP_SETPCAP` for the init (capabilities in
//!   the sandbox's user namespace only; the init drops them before the program starts).
//! - Mount order: bwrap applies arguments in order, and a mount hides whatever an earlier
//!   mount put below it. Every mount is sorted by the depth of its destination (stable), so
//!   `--tmpfs /tmp` and the private HOME come before any bind under them, and the venv
//!   (read-only) comes after a workdir that contains it.
//! - Only allow-listed system paths are visible: `/usr` and its merged-/usr symlinks, an
//!   allow-list of `/etc` (never `shadow`, `gshadow`, `ssh/`), a fresh `/proc`, a minimal
//!   `/dev`, private `/tmp` and `/dev/shm`. Host `/tmp`, `/run`, `/var` and every home are
//!   absent unless a policy names them; protected paths
//!   ([`crate::host::PROTECTED_PATHS`]) are masked even then.
//! - `/etc/resolv.conf` and the host's `/etc/hosts` only with `network = "full"`; otherwise a
//!   generated `/etc/hosts` that knows `localhost`. CA certificates and the other
//!   [`crate::host::ETC_NETWORK_ONLY`] entries with `full` and `proxy` (TLS goes through the
//!   proxy end to end); `proxy` also sets the proxy variables ([`super::proxy_variables`]).
//! - `/etc` files are copied in (`--file`, mode 0644, read-only once `/` is remounted), links
//!   into `/usr` recreated, directories bound; a file is mounted only where a user's mount
//!   of `/etc` leaves nowhere to create it.
//! - No writable kernel interface: `/proc`, `/dev` and `/` are read-only before the
//!   program starts (by the init, one system call each, or by bwrap after every mount
//!   without a user namespace of the sandbox's own); the kernel-state files of
//!   [`crate::host::PROC_MASKED`] that exist are covered with empty files; every writable
//!   tmpfs (`/tmp`, `/dev/shm`, HOME) has `--size` `filesystem.tmp_size`. The seccomp
//!   filter is loaded by the init, after its own mounts, or by bwrap.
//! - `/etc/passwd` and `/etc/group` are generated: root, the caller and `nobody`.
//! - Hidden paths read as empty files or empty directories; `spec.files` (the guard, a
//!   sanitized `.git/config`) are read-only data over their destinations.
//! - A run (not `boxpy render`) mounts the user's paths by descriptor
//!   (`--bind-fd`/`--ro-bind-fd`), numbered after the copied files.
//! - The program runs under boxpy's own init as PID 1 (`--as-pid-1`), which joins the
//!   limits' cgroups, sets the rlimits, reaps, forwards signals and reports the program's
//!   exit status and resource usage.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::{
    fds, init_path, BwrapCommand, CopiedFile, DataFile, InitExecutable, InitSetup, PinnedSource,
    SandboxSpec, INIT_ARGUMENT,
};
use crate::host::{EtcEntry, HostFacts, SystemEntry};
use crate::policy::NetworkMode;

/// The hostname inside the sandbox (its own UTS namespace).
pub const HOSTNAME: &str = "boxpy";

const HOSTS_FILE: &str =
    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tboxpy\n";

/// One mount operation, before ordering.
#[derive(Debug, Clone, PartialEq, Eq)]
enum MountOp {
    Proc(PathBuf),
    Dev(PathBuf),
    Tmpfs {
        dest: PathBuf,
        size: Option<u64>,
    },
    ReadOnlyTmpfs(PathBuf),
    Symlink {
        target: PathBuf,
        dest: PathBuf,
    },
    Bind {
        source: PathBuf,
        dest: PathBuf,
    },
    ReadOnlyBind {
        source: PathBuf,
        dest: PathBuf,
    },
    ReadOnlyData {
        fd: i32,
        dest: PathBuf,
    },
    /// A file created in the sandbox's root tmpfs (read-only once `/` is remounted) from
    /// descriptor `fd`: no mount, so much cheaper than a bind.
    CopiedFile {
        fd: i32,
        dest: PathBuf,
    },
    /// A bind of the host path boxpy opened as descriptor `fd` (`--bind-fd`,
    /// `--ro-bind-fd`): what the gate checked is what is mounted, whatever a concurrent run
    /// does to the path in between.
    PinnedBind {
        fd: i32,
        dest: PathBuf,
        writable: bool,
    },
}

impl MountOp {
    fn dest(&self) -> &Path {
        match self {
            MountOp::Proc(dest) | MountOp::Dev(dest) | MountOp::ReadOnlyTmpfs(dest) => dest,
            MountOp::Tmpfs { dest, .. }
            | MountOp::Symlink { dest, .. }
            | MountOp::Bind { dest, .. }
            | MountOp::ReadOnlyBind { dest, .. }
            | MountOp::ReadOnlyData { dest, .. }
            | MountOp::CopiedFile { dest, .. }
            | MountOp::PinnedBind { dest, .. } => dest,
        }
    }

    fn push_args(&self, args: &mut Vec<OsString>) {
        let mut push =
            |parts: &[&std::ffi::OsStr]| args.extend(parts.iter().map(|p| p.to_os_string()));
        match self {
            MountOp::Proc(dest) => push(&["--proc".as_ref(), dest.as_os_str()]),
            MountOp::Dev(dest) => push(&["--dev".as_ref(), dest.as_os_str()]),
            MountOp::Tmpfs { dest, size } => {
                if let Some(size) = size {
                    let size = size.to_string();
                    push(&["--size".as_ref(), size.as_ref()]);
                }
                push(&["--tmpfs".as_ref(), dest.as_os_str()]);
            }
            MountOp::ReadOnlyTmpfs(dest) => push(&[
                "--perms".as_ref(),
                "0555".as_ref(),
                "--tmpfs".as_ref(),
                dest.as_os_str(),
                "--remount-ro".as_ref(),
                dest.as_os_str(),
            ]),
            MountOp::Symlink { target, dest } => {
                push(&["--symlink".as_ref(), target.as_os_str(), dest.as_os_str()])
            }
            MountOp::Bind { source, dest } => {
                push(&["--bind".as_ref(), source.as_os_str(), dest.as_os_str()])
            }
            MountOp::ReadOnlyBind { source, dest } => {
                push(&["--ro-bind".as_ref(), source.as_os_str(), dest.as_os_str()])
            }
            MountOp::ReadOnlyData { fd, dest } => {
                let fd = fd.to_string();
                push(&["--ro-bind-data".as_ref(), fd.as_ref(), dest.as_os_str()])
            }
            MountOp::PinnedBind { fd, dest, writable } => {
                let fd = fd.to_string();
                let flag = if *writable {
                    "--bind-fd"
                } else {
                    "--ro-bind-fd"
                };
                push(&[flag.as_ref(), fd.as_ref(), dest.as_os_str()])
            }
            MountOp::CopiedFile { fd, dest } => {
                let fd = fd.to_string();
                push(&[
                    "--perms".as_ref(),
                    "0644".as_ref(),
                    "--file".as_ref(),
                    fd.as_ref(),
                    dest.as_os_str(),
                ])
            }
        }
    }
}

fn depth(path: &Path) -> usize {
    path.components().count()
}

/// Whether `/etc` entry `path` is one this run's program never reads, so that it costs a
/// mount for nothing (each bind costs bwrap a pass over its mount table, ~0.1-0.25 ms):
/// - `/etc/fonts` unless [`SandboxSpec::fonts`] (no library of the venv uses fontconfig);
/// - `/etc/pythonX.Y` (Debian's `sitecustomize.py`, linked from the system stdlib) unless
///   the interpreter is the system's Python X.Y: another version's, or one installed
///   outside the system directories (pyenv, uv, a build in the home), never reads it. An
///   interpreter whose version boxpy does not know keeps every one.
fn unread_by_this_run(path: &Path, spec: &SandboxSpec, system_roots: &[&Path]) -> bool {
    let Some(name) = path
        .strip_prefix("/etc")
        .ok()
        .and_then(|name| name.to_str())
    else {
        return false;
    };
    if name == "fonts" {
        return !spec.fonts;
    }
    let Some(version) = name.strip_prefix("python") else {
        return false;
    };
    let interpreter = &spec.interpreter;
    // Outside the system directories: a Python with a stdlib of its own (the venv's own
    // root is not a prefix).
    let own_installation = interpreter.read_only_paths.iter().any(|prefix| {
        Some(prefix) != interpreter.venv.as_ref()
            && !system_roots.iter().any(|root| prefix.starts_with(root))
    });
    if own_installation {
        return true;
    }
    let Some(known) = interpreter.version.as_deref() else {
        return false;
    };
    // `3.11.2` (or `3.13.0t`) is Python 3.11's; `version` is `X.Y`.
    let mut parts = known.trim().split('.');
    let major_minor = match (parts.next(), parts.next()) {
        (Some(major), Some(minor)) => {
            let minor: String = minor.chars().take_while(char::is_ascii_digit).collect();
            format!("{major}.{minor}")
        }
        _ => return false,
    };
    version != major_minor
}

/// `/etc` files the sandbox gets generated rather than copied from the host.
const GENERATED_ETC: &[&str] = &["/etc/passwd", "/etc/group", "/etc/hosts"];

/// The sandbox's `/etc/passwd` and `/etc/group`: root, the caller and `nobody`, and their
/// groups: enough for `getpass.getuser()`, `pwd`, `~` expansion and pip, and nothing of the
/// host's other accounts. The caller's home is the sandbox's private HOME.
fn account_files(spec: &SandboxSpec, host: &HostFacts) -> (String, String) {
    let account = &host.account;
    let home = spec.home.to_string_lossy();
    let shell = account.shell.as_deref().unwrap_or("/bin/sh");
    let mut passwd = String::new();
    let mut group = String::new();
    if account.uid == 0 {
        passwd.push_str(&format!("root:x:0:0:root:{home}:{shell}\n"));
    } else {
        passwd.push_str("root:x:0:0:root:/root:/bin/sh\n");
        let name = account.user_name.as_deref().unwrap_or("user");
        let uid = account.uid;
        let gid = account.gid;
        passwd.push_str(&format!("{name}:x:{uid}:{gid}:{name}:{home}:{shell}\n"));
    }
    if account.uid != NOBODY {
        passwd.push_str("nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
    }
    group.push_str("root:x:0:\n");
    if account.gid != 0 && account.gid != NOBODY {
        let name = account.group_name.as_deref().unwrap_or("user");
        group.push_str(&format!("{name}:x:{}:\n", account.gid));
    }
    group.push_str("nogroup:x:65534:\n");
    (passwd, group)
}

/// The overflow id: what every host user and group outside the user namespace's map
/// appears as inside.
const NOBODY: u32 = 65534;

/// Renders the bwrap command for `spec` on a host described by `host`.
pub fn render(spec: &SandboxSpec, host: &HostFacts, setup: &InitSetup) -> BwrapCommand {
    let mut args: Vec<OsString> = Vec::new();
    let mut flag = |text: &str| args.push(text.into());
    flag("--unshare-all");
    if spec.network == NetworkMode::Full {
        flag("--share-net");
    }
    if spec.disable_userns {
        flag("--unshare-user");
        flag("--disable-userns");
    }
    flag("--die-with-parent");
    flag("--new-session");
    flag("--as-pid-1");
    flag("--cap-drop");
    flag("ALL");
    // With its own user namespace the sandbox is hardened by the init (`InitHardening`):
    // each of bwrap's mounts costs a pass over the mount table (~0.15 ms), the init's a
    // system call. It gets, in the sandbox's user namespace only (never the host's: only
    // with `--unshare-user`), CAP_SYS_ADMIN to cover the kernel-state files and make
    // `/proc` and `/dev` read-only, CAP_SYS_RESOURCE to lower that namespace's per-user
    // counters (`/proc/sys/user/max_inotify_*`, which host-wide ones are charged up the
    // chain) and CAP_SETPCAP to take them out of the bounding set; it drops every
    // capability, checks they are gone, and loads the seccomp filter before the program
    // exists. Without a user namespace of its own (bwrap before 0.8) bwrap does all of it.
    let init_hardens = spec.disable_userns;
    if init_hardens {
        for capability in ["CAP_SYS_ADMIN", "CAP_SYS_RESOURCE", "CAP_SETPCAP"] {
            flag("--cap-add");
            flag(capability);
        }
    }
    flag("--hostname");
    flag(HOSTNAME);

    let mut data = Vec::new();
    let mut ops = vec![
        MountOp::Proc("/proc".into()),
        MountOp::Dev("/dev".into()),
        MountOp::Tmpfs {
            dest: "/tmp".into(),
            size: spec.tmp_size,
        },
        MountOp::Tmpfs {
            dest: "/dev/shm".into(),
            size: spec.tmp_size,
        },
        MountOp::Tmpfs {
            dest: spec.home.clone(),
            size: spec.tmp_size,
        },
    ];
    // Kernel state, other processes' timers, the boot line: covered with an empty file
    // (the init binds `/dev/null`; bwrap a generated file, its `/dev/null` bind being
    // `nodev` there).
    for path in host.proc_masks.iter().filter(|_| !init_hardens) {
        let fd = fds::FIRST_DATA + data.len() as i32;
        data.push(DataFile {
            fd,
            dest: path.clone(),
            contents: Vec::new(),
        });
        ops.push(MountOp::ReadOnlyData {
            fd,
            dest: path.clone(),
        });
    }

    // System directories, read-only.
    let mut read_only_roots: Vec<&Path> = Vec::new();
    for entry in &host.system_entries {
        match entry {
            SystemEntry::Directory(path) => {
                read_only_roots.push(path);
                ops.push(MountOp::ReadOnlyBind {
                    source: path.clone(),
                    dest: path.clone(),
                });
            }
            SystemEntry::Symlink { path, target } => ops.push(MountOp::Symlink {
                target: target.clone(),
                dest: path.clone(),
            }),
        }
    }
    // A user mount of `/etc` (or `/`-like ancestors) already shows these entries.
    let under_user_mount = |path: &Path| {
        spec.mounts
            .iter()
            .any(|mount| path.starts_with(&mount.dest))
    };
    // Hidden unless the network mode needs them: all of them with `full`, the TLS ones
    // with `proxy` (each entry is a mount or a copy: start-up time).
    let network_only = |path: &Path| {
        let named = |list: &[&str]| {
            path.file_name()
                .is_some_and(|name| list.iter().any(|entry| name == std::ffi::OsStr::new(entry)))
        };
        match spec.network {
            NetworkMode::Full => false,
            NetworkMode::Proxy => {
                named(crate::host::ETC_NETWORK_ONLY) && !named(crate::host::ETC_TLS)
            }
            NetworkMode::None | NetworkMode::Localhost => named(crate::host::ETC_NETWORK_ONLY),
        }
    };
    // Host files to copy in: numbered once every generated file has its number.
    let mut to_copy: Vec<PathBuf> = Vec::new();
    let generated = |path: &Path| GENERATED_ETC.iter().any(|name| path == Path::new(name));
    let unread = |path: &Path| unread_by_this_run(path, spec, &read_only_roots);
    for entry in host.etc_entries.iter().filter(|entry| {
        !under_user_mount(entry.path())
            && !network_only(entry.path())
            && !generated(entry.path())
            && !unread(entry.path())
    }) {
        match entry {
            EtcEntry::Directory(path) => ops.push(MountOp::ReadOnlyBind {
                source: path.clone(),
                dest: path.clone(),
            }),
            EtcEntry::File(path) => to_copy.push(path.clone()),
            EtcEntry::Symlink { path, target } => ops.push(MountOp::Symlink {
                target: target.clone(),
                dest: path.clone(),
            }),
        }
    }
    // Generated files: from a descriptor boxpy fills; inside a user's read-only mount of
    // /etc a file cannot be created, so there it is mounted.
    let mut generate = |ops: &mut Vec<MountOp>, dest: PathBuf, contents: Vec<u8>| {
        let fd = fds::FIRST_DATA + data.len() as i32;
        ops.push(if under_user_mount(&dest) {
            MountOp::ReadOnlyData {
                fd,
                dest: dest.clone(),
            }
        } else {
            MountOp::CopiedFile {
                fd,
                dest: dest.clone(),
            }
        });
        data.push(DataFile { fd, dest, contents });
    };
    let (passwd, group) = account_files(spec, host);
    generate(&mut ops, "/etc/passwd".into(), passwd.into_bytes());
    generate(&mut ops, "/etc/group".into(), group.into_bytes());
    match spec.network {
        NetworkMode::Full => {
            // Copied like the other files; a user mount of /etc already shows them.
            to_copy.extend(
                ["/etc/resolv.conf", "/etc/hosts"]
                    .map(PathBuf::from)
                    .into_iter()
                    .filter(|path| !under_user_mount(path)),
            );
        }
        // Proxy mode: no DNS inside (the proxy resolves on the host), so no resolv.conf.
        NetworkMode::None | NetworkMode::Localhost | NetworkMode::Proxy => generate(
            &mut ops,
            "/etc/hosts".into(),
            HOSTS_FILE.as_bytes().to_vec(),
        ),
    }

    for (dest, contents) in &spec.files {
        let fd = fds::FIRST_DATA + data.len() as i32;
        data.push(DataFile {
            fd,
            dest: dest.clone(),
            contents: contents.clone(),
        });
        ops.push(MountOp::ReadOnlyData {
            fd,
            dest: dest.clone(),
        });
    }

    // Credentials: files covered with an empty file, directories with an empty one.
    for hidden in &spec.hidden {
        if hidden.directory {
            ops.push(MountOp::ReadOnlyTmpfs(hidden.dest.clone()));
        } else {
            let fd = fds::FIRST_DATA + data.len() as i32;
            data.push(DataFile {
                fd,
                dest: hidden.dest.clone(),
                contents: Vec::new(),
            });
            ops.push(MountOp::ReadOnlyData {
                fd,
                dest: hidden.dest.clone(),
            });
        }
    }

    let mut copies = Vec::new();
    for source in to_copy {
        let fd = fds::FIRST_DATA + (data.len() + copies.len()) as i32;
        ops.push(MountOp::CopiedFile {
            fd,
            dest: source.clone(),
        });
        copies.push(CopiedFile {
            fd,
            dest: source.clone(),
            source,
        });
    }

    // The interpreter: venv and base prefixes, read-only, unless a system mount already
    // shows them read-only.
    let covered_by_system = |path: &Path| read_only_roots.iter().any(|root| path.starts_with(root));
    let mut interpreter_paths: Vec<&PathBuf> = Vec::new();
    // A venv in the workdir is already shown read-only by the cover of its protected
    // name (`.venv`): mounted once.
    let mounted_read_only = |path: &Path| {
        spec.mounts
            .iter()
            .any(|mount| !mount.writable && mount.source == path && mount.dest == path)
    };
    for path in &spec.interpreter.read_only_paths {
        let redundant = covered_by_system(path)
            || mounted_read_only(path)
            || interpreter_paths
                .iter()
                .any(|earlier| path.starts_with(earlier) && !spec.workdir.starts_with(earlier));
        if !redundant {
            interpreter_paths.push(path);
        }
    }

    // Writable binds first, read-only after, so at an equal destination read-only wins.
    ops.push(MountOp::Bind {
        source: spec.workdir.clone(),
        dest: spec.workdir.clone(),
    });
    for mount in spec.mounts.iter().filter(|mount| mount.writable) {
        ops.push(MountOp::Bind {
            source: mount.source.clone(),
            dest: mount.dest.clone(),
        });
    }
    for mount in spec.mounts.iter().filter(|mount| !mount.writable) {
        ops.push(MountOp::ReadOnlyBind {
            source: mount.source.clone(),
            dest: mount.dest.clone(),
        });
    }
    for path in interpreter_paths {
        ops.push(MountOp::ReadOnlyBind {
            source: path.clone(),
            dest: path.clone(),
        });
    }
    if let Some(script) = &spec.script_mount {
        ops.push(MountOp::ReadOnlyBind {
            source: script.clone(),
            dest: script.clone(),
        });
    }

    // A user bind of an ancestor of a protected path (`--ro /etc`) would expose it: mask it.
    let mut masks = Vec::new();
    for op in &ops {
        let (source, dest) = match op {
            MountOp::Bind { source, dest } | MountOp::ReadOnlyBind { source, dest } => {
                (source, dest)
            }
            _ => continue,
        };
        for protected in &host.protected_paths {
            if let Ok(relative) = protected.strip_prefix(source) {
                let masked = dest.join(relative);
                let is_directory = matches!(
                    protected.to_str(),
                    Some("/etc/ssh" | "/etc/ssl/private" | "/etc/sudoers.d" | "/run" | "/var/run")
                );
                masks.push(if is_directory {
                    MountOp::ReadOnlyTmpfs(masked)
                } else {
                    MountOp::ReadOnlyBind {
                        source: "/dev/null".into(),
                        dest: masked,
                    }
                });
            }
        }
    }
    ops.extend(masks);

    // A run pins every path the user's side chose (the workdir, the mounts, the
    // interpreter, the script): boxpy opens each without following a link and bwrap
    // mounts the descriptor. `boxpy render` prints the paths, so its command runs by hand.
    let mut pinned = Vec::new();
    if *setup == InitSetup::Deferred {
        // A set: one look-up per mount, so 20,000 mounts stay linear.
        let chosen: std::collections::HashSet<&Path> = std::iter::once(spec.workdir.as_path())
            .chain(spec.mounts.iter().map(|mount| mount.source.as_path()))
            .chain(
                spec.interpreter
                    .read_only_paths
                    .iter()
                    .map(PathBuf::as_path),
            )
            .chain(spec.script_mount.as_deref())
            .collect();
        let first = fds::FIRST_DATA + (data.len() + copies.len()) as i32;
        for op in &mut ops {
            let (source, dest, writable) = match op {
                MountOp::Bind { source, dest } => (source, dest, true),
                MountOp::ReadOnlyBind { source, dest } => (source, dest, false),
                _ => continue,
            };
            if !chosen.contains(source.as_path()) {
                continue;
            }
            let fd = first + pinned.len() as i32;
            pinned.push(PinnedSource {
                fd,
                source: source.clone(),
            });
            *op = MountOp::PinnedBind {
                fd,
                dest: dest.clone(),
                writable,
            };
        }
    }

    ops.sort_by_key(|op| depth(op.dest()));
    for op in &ops {
        op.push_args(&mut args);
    }
    // No writable kernel interface: `/proc/sys` (as root, sysctl writes are checked against
    // uid 0, not capabilities: `core_pattern` would run a program as host root),
    // `/proc/sysrq-trigger`, `/proc/PID/mem` and the rest of `/proc` are read-only as a
    // class; bwrap 0.8 covers only `/proc/irq` and `/proc/bus`. `/dev` itself is read-only
    // (its tmpfs has no size): device nodes still work, `/dev/shm` and `/dev/pts` are
    // mounts of their own. bwrap's root is a tmpfs: without the last one, `/`, `/etc` and
    // every directory created for a mount point would be writable (and unbounded).
    // The init makes them read-only itself when it hardens the sandbox (it writes the
    // inotify budget into `/proc/sys/user` first), with one `mount` call each, where
    // bwrap's `--remount-ro` costs a pass over the mount table. The root comes last:
    // bwrap creates every mount point and copied file in it before the init runs.
    let read_only_at_start = ["/proc", "/dev", "/"];
    for read_only in read_only_at_start.iter().filter(|_| !init_hardens) {
        args.push("--remount-ro".into());
        args.push((*read_only).into());
    }

    args.push("--chdir".into());
    args.push(spec.workdir.clone().into());
    args.push("--json-status-fd".into());
    args.push(fds::STATUS.to_string().into());
    if spec.seccomp && !init_hardens {
        args.push("--seccomp".into());
        args.push(fds::SECCOMP.to_string().into());
    }
    // Descriptors after the copied files: the setup socket (deferred limits), then the
    // init's executable.
    let after_copies = fds::FIRST_DATA + (data.len() + copies.len() + pinned.len()) as i32;
    let (setup_fd, init_fd) = match setup {
        InitSetup::Deferred => (Some(after_copies), after_copies + 1),
        InitSetup::Inline(_) => (None, after_copies),
    };
    let init = InitExecutable {
        fd: init_fd,
        source: host.boxpy_executable.clone(),
    };
    args.push("--".into());
    args.push(init_path(init.fd).into());
    args.push(INIT_ARGUMENT.into());
    args.push(fds::INIT_REPORT.to_string().into());
    args.push("--executable".into());
    args.push(init.fd.to_string().into());
    if let InitSetup::Inline(rlimits) = setup {
        for limit in rlimits {
            args.push("--rlimit".into());
            args.push(limit.to_argument().into());
        }
    }
    if let Some(fd) = setup_fd {
        args.push("--setup".into());
        args.push(fd.to_string().into());
    }
    if init_hardens {
        for path in &host.proc_masks {
            args.push("--mask".into());
            args.push(path.clone().into());
        }
        for path in read_only_at_start {
            args.push("--read-only".into());
            args.push(path.into());
        }
        if spec.seccomp {
            args.push("--seccomp".into());
            args.push(fds::SECCOMP.to_string().into());
        }
    }
    args.push("--".into());
    args.extend(spec.command.iter().cloned());

    BwrapCommand {
        program: host.bwrap.clone().unwrap_or_else(|| PathBuf::from("bwrap")),
        args,
        env: spec.program_env(),
        data,
        copies,
        pinned,
        setup_fd,
        init,
    }
}

/// `boxpy render`: the command as a bash script that runs by hand (`bash FILE`). It opens
/// every descriptor the command names itself — 3 and 4 (bwrap's status, the init's report)
/// on `/dev/null`, 5 the seccomp filter (`seccomp_file`, from `--seccomp-out`; without it
/// the script refuses to start unless the caller opened 5: `bash FILE 5<FILTER`), the
/// generated files from `printf`, the copied host files and boxpy's own executable by
/// path — then replaces itself with `env -i ... bwrap` (`exec`), so no shell is left
/// between the caller and bwrap, which dies with its caller (`--die-with-parent`).
pub fn to_bash_script(command: &BwrapCommand, seccomp_file: Option<&Path>) -> String {
    let mut text = String::from(
        "#!/bin/bash\n# The sandbox `boxpy run` would start, printed by `boxpy render`: run it with `bash FILE`.\n# It opens the descriptors the bwrap command names, then becomes bwrap (`exec`).\n",
    );
    text.push_str(&format!(
        "exec {}>/dev/null  # --json-status-fd: bwrap's status lines (boxpy reads them)\n",
        fds::STATUS
    ));
    text.push_str(&format!(
        "exec {}>/dev/null  # the init's report: exit status and usage (boxpy reads it)\n",
        fds::INIT_REPORT
    ));
    let names_seccomp = command
        .args
        .windows(2)
        .any(|pair| pair[0] == "--seccomp" && pair[1] == fds::SECCOMP.to_string().as_str());
    if names_seccomp {
        match seccomp_file {
            Some(file) => text.push_str(&format!(
                "exec {}<{}  # --seccomp: the filter `--seccomp-out` wrote\n",
                fds::SECCOMP,
                super::shell_quote(&file.to_string_lossy())
            )),
            None => text.push_str(&format!(
                "if ! {{ : <&{fd}; }} 2>/dev/null; then\n  echo 'boxpy render: the seccomp filter goes on descriptor {fd}: write it with `boxpy render --seccomp-out FILE` and run `bash SCRIPT {fd}<FILE`' >&2\n  exit 125\nfi\n",
                fd = fds::SECCOMP
            )),
        }
    }
    for data in &command.data {
        text.push_str(&format!(
            "exec {}< <(printf {})  # {}\n",
            data.fd,
            printf_format(&data.contents),
            comment_text(&data.dest)
        ));
    }
    for copy in &command.copies {
        text.push_str(&format!(
            "exec {}<{}  # copied to {}\n",
            copy.fd,
            super::shell_quote(&copy.source.to_string_lossy()),
            comment_text(&copy.dest)
        ));
    }
    for pinned in &command.pinned {
        text.push_str(&format!(
            "exec {}<{}\n",
            pinned.fd,
            super::shell_quote(&pinned.source.to_string_lossy())
        ));
    }
    text.push_str(&format!(
        "exec {}<{}  # boxpy itself: bwrap runs it as the sandbox's init\n",
        command.init.fd,
        super::shell_quote(&command.init.source.to_string_lossy())
    ));
    text.push_str("exec ");
    text.push_str(&to_shell_lines(command));
    text
}

/// A path for a `#` comment of the script: a line break or other control character in a
/// file name (a repository chooses its file names) would end the comment and start a
/// command, so each becomes `?`.
fn comment_text(path: &Path) -> String {
    path.to_string_lossy()
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// `bytes` as a single-quoted `printf` format that prints exactly them: `%` doubled,
/// backslashes, quotes and every byte outside printable ASCII as an octal escape.
fn printf_format(bytes: &[u8]) -> String {
    let mut out = String::from("'");
    for &byte in bytes {
        match byte {
            b'%' => out.push_str("%%"),
            b'\\' | b'\'' => out.push_str(&format!("\\{byte:03o}")),
            b' '..=b'~' => out.push(byte as char),
            _ => out.push_str(&format!("\\{byte:03o}")),
        }
    }
    out.push('\'');
    out
}

/// `boxpy render --json`: the command as data, for tools (and `bench/`) that run it
/// themselves. Variables passed from the host appear as `{"from_host": NAME}`; generated
/// files as their text; descriptors 3 (status) and 4 (init report) are the caller's to
/// provide, 5 is the seccomp filter (`--seccomp-out FILE`), and `init_executable` is boxpy's
/// own binary, opened read-only on its descriptor.
pub fn to_json(command: &BwrapCommand) -> serde_json::Value {
    let env: serde_json::Map<String, serde_json::Value> = command
        .env
        .iter()
        .map(|(key, value)| {
            let value = match value {
                super::EnvValue::Literal(value) => serde_json::Value::String(value.clone()),
                super::EnvValue::FromHost(name) => serde_json::json!({ "from_host": name }),
            };
            (key.clone(), value)
        })
        .collect();
    serde_json::json!({
        "program": command.program,
        "args": command.args.iter().map(|arg| arg.to_string_lossy()).collect::<Vec<_>>(),
        "env": env,
        "files": command.data.iter().map(|data| serde_json::json!({
            "fd": data.fd,
            "dest": data.dest,
            "contents": String::from_utf8_lossy(&data.contents),
        })).collect::<Vec<_>>(),
        "copies": command.copies.iter().map(|copy| serde_json::json!({
            "fd": copy.fd,
            "source": copy.source,
            "dest": copy.dest,
        })).collect::<Vec<_>>(),
        "init_executable": {"fd": command.init.fd, "source": command.init.source},
        "fds": {"status": fds::STATUS, "init_report": fds::INIT_REPORT, "seccomp": fds::SECCOMP},
    })
}

/// `boxpy render`'s text: the environment and the command, one argument per line,
/// shell-quoted, as a pasteable `env -i ... bwrap ...` command.
pub fn to_shell_lines(command: &BwrapCommand) -> String {
    let mut lines = vec!["env -i".to_owned()];
    for (key, value) in &command.env {
        lines.push(match value {
            super::EnvValue::Literal(value) => super::shell_quote(&format!("{key}={value}")),
            super::EnvValue::FromHost(name) => format!("\"{key}=${name}\""),
        });
    }
    lines.push(super::shell_quote(&command.program.to_string_lossy()));
    for arg in &command.args {
        lines.push(super::shell_quote(&arg.to_string_lossy()));
    }
    let mut text = String::new();
    for (index, line) in lines.iter().enumerate() {
        if index > 0 {
            text.push_str("  ");
        }
        text.push_str(line);
        text.push_str(if index + 1 < lines.len() {
            " \\\n"
        } else {
            "\n"
        });
    }
    text
}

#[cfg(test)]
mod tests;
