//! Everything boxpy needs to know about the host, probed once into plain data
//! ([`HostFacts`]) so the renderers stay pure and testable with fixed facts.
//!
//! This is the only module (besides venv resolution and the policy loader reading files)
//! that looks at the filesystem to decide what the sandbox will contain.

pub mod macos;

use std::path::{Path, PathBuf};

/// A top-level system path as it exists on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SystemEntry {
    /// A real directory, bound read-only at the same path.
    Directory(PathBuf),
    /// A symlink (merged /usr: `/bin -> usr/bin`), recreated as the same symlink.
    Symlink { path: PathBuf, target: PathBuf },
}

/// An allow-listed `/etc` entry, by how the sandbox shows it. Each bind mount costs bwrap a
/// mount, a remount and a pass over `/proc/self/mountinfo` (~0.15 ms), so only
/// directories are bound: files are copied (`--file`), links into the system directories
/// recreated (`--symlink`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtcEntry {
    /// A directory (or a link to one outside the system directories), bound read-only.
    Directory(PathBuf),
    /// A regular file (or a link to one outside the system directories), copied into the
    /// sandbox's read-only `/etc` when it starts.
    File(PathBuf),
    /// A link whose fully resolved target lies in a system directory the sandbox shows
    /// (`/etc/localtime -> /usr/share/zoneinfo/...`): a link to that resolved target.
    Symlink { path: PathBuf, target: PathBuf },
}

impl EtcEntry {
    /// The path inside the sandbox (the same as on the host).
    pub fn path(&self) -> &Path {
        match self {
            EtcEntry::Directory(path) | EtcEntry::File(path) | EtcEntry::Symlink { path, .. } => {
                path
            }
        }
    }

    fn probe(path: PathBuf, system_directories: &[&Path]) -> Option<EtcEntry> {
        let mut metadata = path.symlink_metadata().ok()?;
        if metadata.file_type().is_symlink() {
            let target = path.canonicalize().ok()?;
            if system_directories
                .iter()
                .any(|directory| target.starts_with(directory))
            {
                return Some(EtcEntry::Symlink { path, target });
            }
            metadata = path.metadata().ok()?;
        }
        if metadata.is_dir() {
            Some(EtcEntry::Directory(path))
        } else if metadata.is_file() {
            Some(EtcEntry::File(path))
        } else {
            None
        }
    }
}

/// The host, probed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    /// `bwrap` found on PATH (never in the working directory).
    pub bwrap: Option<PathBuf>,
    /// The caller's real uid (0 when boxpy runs as root).
    pub uid: u32,
    /// The caller's home, for `~` and for hiding it.
    pub home: Option<PathBuf>,
    /// `/usr`, `/bin`, `/lib`, ... that exist.
    pub system_entries: Vec<SystemEntry>,
    /// Allow-listed `/etc` entries that exist (see [`ETC_ALLOW_LIST`]).
    pub etc_entries: Vec<EtcEntry>,
    /// [`PROTECTED_PATHS`] that exist on this host as real files or directories.
    pub protected_paths: Vec<PathBuf>,
    /// boxpy's own executable, which bwrap runs as the sandbox's init (from a descriptor).
    pub boxpy_executable: PathBuf,
    /// The caller's account, for the sandbox's generated `/etc/passwd` and `/etc/group`.
    pub account: Account,
    /// [`PROC_MASKED`] entries that exist on this host and that the caller could read: each
    /// is covered with an empty file inside (a mount costs bwrap ~0.15 ms, so only what is
    /// there and readable).
    pub proc_masks: Vec<PathBuf>,
}

/// The caller's user and primary group, as the host's `/etc/passwd` and `/etc/group` name
/// them (numbers alone when they do not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub uid: u32,
    pub gid: u32,
    pub user_name: Option<String>,
    pub group_name: Option<String>,
    pub shell: Option<String>,
}

impl Account {
    /// Reads the caller's entries from the host's account files (each bounded to 1 MiB).
    fn probe(uid: u32, gid: u32) -> Account {
        let read = |path: &str| -> String {
            crate::bounded::read_to_string(Path::new(path), 16 << 20).unwrap_or_default()
        };
        let passwd = read("/etc/passwd");
        let user = find_account_line(&passwd, 2, uid);
        let groups = read("/etc/group");
        let group = find_account_line(&groups, 2, gid);
        let name = |fields: &Option<Vec<&str>>| -> Option<String> {
            fields
                .as_ref()
                .map(|fields| fields[0].to_owned())
                .filter(|name| is_account_name(name))
        };
        Account {
            uid,
            gid,
            user_name: name(&user),
            group_name: name(&group),
            shell: user
                .as_ref()
                .and_then(|fields| fields.get(6))
                .map(|shell| shell.to_string())
                .filter(|shell| shell.starts_with('/') && !shell.contains(':')),
        }
    }
}

/// The `:`-separated fields of the first line of an account file whose field `index` is
/// `id`.
fn find_account_line(text: &str, index: usize, id: u32) -> Option<Vec<&str>> {
    text.lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.len() > index && fields[index].parse::<u32>() == Ok(id))
}

/// A name safe to write into a generated account file.
fn is_account_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-$".contains(c))
}

/// `/proc` entries that expose the host kernel's state, other processes, the boot line or
/// kernel memory layout, and that Python has no use for: each one that exists is covered
/// with an empty file inside (anchors: Docker's masked paths, systemd's
/// `ProtectKernelLogs=`/`ProtectProc=`). Writable kernel interfaces (`/proc/sys`,
/// `/proc/sysrq-trigger`, ...) are handled as a class instead: the whole `/proc` is
/// remounted read-only.
pub const PROC_MASKED: &[&str] = &[
    "/proc/cmdline",
    "/proc/config.gz",
    "/proc/kcore",
    "/proc/keys",
    "/proc/key-users",
    "/proc/kallsyms",
    "/proc/kpagecgroup",
    "/proc/kpagecount",
    "/proc/kpageflags",
    "/proc/latency_stats",
    "/proc/pagetypeinfo",
    "/proc/sched_debug",
    "/proc/slabinfo",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/vmallocinfo",
];

/// Top-level directories Python needs, read-only. Anything else under `/` is invisible.
pub const SYSTEM_PATHS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
];

/// `/etc` entries the sandbox may see. An allow-list, not a deny-list: `/etc/shadow`,
/// `/etc/gshadow`, `/etc/ssh` (host keys), `/etc/sudoers`, private keys under `/etc/ssl`
/// and everything unknown stay hidden. Kept short on purpose: every entry is a mount, and
/// each costs start-up time (about 0.1 ms). [`ETC_NETWORK_ONLY`] entries are shown only
/// with `network = "full"`; `/etc/resolv.conf` and `/etc/hosts` follow the network mode.
pub const ETC_ALLOW_LIST: &[&str] = &[
    "alternatives",
    "ca-certificates",
    "ca-certificates.conf",
    "crypto-policies",
    "fonts",
    "gai.conf",
    "group",
    "host.conf",
    "ld.so.cache",
    "localtime",
    "matplotlibrc",
    "mime.types",
    "networks",
    "nsswitch.conf",
    "os-release",
    "passwd",
    "pki",
    "protocols",
    // Not `python3` (Debian's `debian_config`): only its byte-compiling tools read it.
    "python3.8",
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "rpc",
    "services",
    "ssl",
    "timezone",
];

/// `/etc` entries only a program with the host network needs: name resolution, services,
/// TLS certificates.
pub const ETC_NETWORK_ONLY: &[&str] = &[
    "ca-certificates",
    "ca-certificates.conf",
    "crypto-policies",
    "gai.conf",
    "host.conf",
    "networks",
    "pki",
    "protocols",
    "rpc",
    "services",
    "ssl",
];

/// The [`ETC_NETWORK_ONLY`] entries `network = "proxy"` shows: the TLS certificates and
/// their policies, for TLS end to end through the proxy. Not name resolution or the
/// services database: the program resolves nothing itself (the proxy does, on the host).
pub const ETC_TLS: &[&str] = &["crypto-policies", "pki", "ssl"];

/// Paths below the home directory that hold the user's identity: SSH, GnuPG, cloud,
/// container and package-index credentials, keyrings, browser profiles, `~/.config`
/// (token files of `gh`, `gcloud`, ... live there, next to autostart entries and systemd
/// user units), coding agents' logins and state (`~/.claude`, `~/.codex`, `~/.gemini`),
/// caches that keep tokens and logs with them (`~/.cache`: Hugging Face's token; `~/.npm`),
/// `~/.local/share` (keyrings, application tokens), and the token files of package
/// managers and data tools (cargo, uv, npm, pip, twine, gem, Maven, Gradle, Yarn, conda,
/// Terraform, Vault, PostgreSQL, MySQL, boto, s3cmd, OCI, dbt, Databricks, Kaggle, Ollama,
/// editor agents), and shell and REPL histories (what was typed, passwords included). A program that reads them holds the user's identity;
/// one that writes them runs code as the user. Never writable; read-only only on the
/// user's own word, and hidden (read as empty) inside any other mount that contains them
/// (`--ro ~`). Where a guard and a [`HOME_RUNS_CODE`](crate::sandbox::gate::HOME_RUNS_CODE) entry nest, the deeper one decides
/// (`~/.local/share/uv` is readable, `~/.local/share/uv/credentials` is not).
pub const HOME_CREDENTIALS: &[&str] = &[
    ".claude",
    ".claude.json",
    ".codex",
    ".gemini",
    ".cache",
    ".npm",
    ".local/share",
    ".local/share/uv/credentials",
    ".cargo/credentials",
    ".cargo/credentials.toml",
    ".huggingface",
    ".pip",
    ".gem/credentials",
    ".m2/settings.xml",
    ".gradle/gradle.properties",
    ".yarnrc.yml",
    ".terraform.d",
    ".vault-token",
    ".boto",
    ".s3cfg",
    ".pgpass",
    ".my.cnf",
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".kube",
    ".docker",
    ".config",
    ".local/share/keyrings",
    ".password-store",
    ".pki",
    ".mozilla",
    ".netrc",
    ".pypirc",
    ".npmrc",
    ".git-credentials",
    "Library",
    ".bash_history",
    ".zsh_history",
    ".python_history",
    ".psql_history",
    ".mysql_history",
    ".node_repl_history",
    ".condarc",
    ".oci",
    ".dbt",
    ".databrickscfg",
    ".kaggle",
    ".ollama",
    ".cursor",
    ".continue",
    // What was typed at IPython's prompt (tokens pasted in); the rest of `.ipython` runs
    // code and stays readable.
    ".ipython/profile_default/history.sqlite",
];

/// Whether the existence of `path` on the host must never be told in a report: the
/// protected system paths (`/etc/shadow`, `/etc/gshadow`, `/etc/ssh`, ...), another
/// user's home (anything under `/home/NAME` or `/Users/NAME` that is not the caller's
/// home, and `/root` unless it is the caller's), and the credential directories under the
/// caller's own home (`~/.ssh`, `~/.gnupg`, `~/.aws`, ...). Pure: `path` is absolute and
/// normalised; callers also apply it to the path with its symlinks resolved.
pub fn is_protected_host_fact(path: &Path, caller_home: Option<&Path>) -> bool {
    if PROTECTED_PATHS
        .iter()
        .any(|protected| path.starts_with(protected))
    {
        return true;
    }
    let is_callers = |home: &Path| caller_home.is_some_and(|caller| caller == home);
    if path.starts_with("/root") && !is_callers(Path::new("/root")) {
        return true;
    }
    for users in ["/home", "/Users"] {
        if let Ok(rest) = path.strip_prefix(users) {
            if let Some(name) = rest.components().next() {
                let home = Path::new(users).join(name);
                if !caller_home.is_some_and(|caller| caller.starts_with(&home)) {
                    return true;
                }
            }
        }
    }
    if let Some(home) = caller_home {
        if let Ok(rest) = path.strip_prefix(home) {
            // What the mount gate treats as the user's credentials ([`HOME_CREDENTIALS`]).
            if HOME_CREDENTIALS
                .iter()
                .any(|credentials| rest.starts_with(credentials))
            {
                return true;
            }
        }
    }
    false
}

/// Host paths no policy may mount and no mount may expose (SPEC §4).
pub const PROTECTED_PATHS: &[&str] = &[
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/ssh",
    // The host's TLS private keys (Debian's `ssl-cert`; root reads them), beside the
    // certificates `/etc/ssl` shows.
    "/etc/ssl/private",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/run",
    "/var/run",
];

impl HostFacts {
    /// Probes the running host.
    pub fn probe(path_variable: Option<&std::ffi::OsStr>) -> HostFacts {
        let bwrap = match std::env::var_os("BOXPY_BWRAP") {
            // Absolute only: a relative value would name a file in the working directory.
            Some(path) if !path.is_empty() => Some(PathBuf::from(path))
                .filter(|path| path.is_absolute() && is_executable_file(path)),
            _ => find_bwrap(path_variable),
        };
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .filter(|home| home.is_absolute());
        let system_entries: Vec<SystemEntry> = SYSTEM_PATHS
            .iter()
            .filter_map(|path| {
                let path = Path::new(path);
                let metadata = path.symlink_metadata().ok()?;
                if metadata.file_type().is_symlink() {
                    let target = std::fs::read_link(path).ok()?;
                    // Only keep links whose target is visible too (merged /usr).
                    path.metadata().ok()?;
                    Some(SystemEntry::Symlink {
                        path: path.to_path_buf(),
                        target,
                    })
                } else if metadata.is_dir() {
                    Some(SystemEntry::Directory(path.to_path_buf()))
                } else {
                    None
                }
            })
            .collect();
        let system_directories: Vec<&Path> = system_entries
            .iter()
            .filter_map(|entry| match entry {
                SystemEntry::Directory(path) => Some(path.as_path()),
                SystemEntry::Symlink { .. } => None,
            })
            .collect();
        let etc_entries = ETC_ALLOW_LIST
            .iter()
            .filter_map(|name| EtcEntry::probe(Path::new("/etc").join(name), &system_directories))
            .collect();
        let protected_paths = PROTECTED_PATHS
            .iter()
            .map(PathBuf::from)
            .filter(|path| {
                path.symlink_metadata()
                    .is_ok_and(|metadata| !metadata.file_type().is_symlink())
            })
            .collect();
        let uid = nix::unistd::getuid().as_raw();
        let proc_masks = PROC_MASKED
            .iter()
            .map(PathBuf::from)
            .filter(|path| {
                nix::unistd::access(path.as_path(), nix::unistd::AccessFlags::R_OK).is_ok()
            })
            .collect();
        HostFacts {
            bwrap,
            uid,
            home,
            system_entries,
            etc_entries,
            protected_paths,
            boxpy_executable: own_executable(),
            account: Account::probe(uid, nix::unistd::getgid().as_raw()),
            proc_masks,
        }
    }

    /// Fixed facts of a typical merged-/usr Debian host, for snapshot tests.
    #[cfg(test)]
    pub fn fixture() -> HostFacts {
        let symlink = |path: &str, target: &str| SystemEntry::Symlink {
            path: PathBuf::from(path),
            target: PathBuf::from(target),
        };
        HostFacts {
            bwrap: Some(PathBuf::from("/usr/bin/bwrap")),
            uid: 1000,
            home: Some(PathBuf::from("/home/user")),
            system_entries: vec![
                SystemEntry::Directory(PathBuf::from("/usr")),
                symlink("/bin", "usr/bin"),
                symlink("/sbin", "usr/sbin"),
                symlink("/lib", "usr/lib"),
                symlink("/lib64", "usr/lib64"),
            ],
            etc_entries: vec![
                EtcEntry::Directory(PathBuf::from("/etc/alternatives")),
                EtcEntry::Directory(PathBuf::from("/etc/ca-certificates")),
                EtcEntry::File(PathBuf::from("/etc/group")),
                EtcEntry::File(PathBuf::from("/etc/ld.so.cache")),
                EtcEntry::Symlink {
                    path: PathBuf::from("/etc/localtime"),
                    target: PathBuf::from("/usr/share/zoneinfo/Etc/UTC"),
                },
                EtcEntry::File(PathBuf::from("/etc/nsswitch.conf")),
                EtcEntry::File(PathBuf::from("/etc/passwd")),
                EtcEntry::Directory(PathBuf::from("/etc/python3.11")),
                EtcEntry::Directory(PathBuf::from("/etc/ssl")),
            ],
            protected_paths: ["/etc/shadow", "/etc/gshadow", "/etc/ssh", "/run"]
                .iter()
                .map(PathBuf::from)
                .collect(),
            boxpy_executable: PathBuf::from("/usr/local/bin/boxpy"),
            account: Account {
                uid: 1000,
                gid: 1000,
                user_name: Some("user".to_owned()),
                group_name: Some("user".to_owned()),
                shell: Some("/bin/bash".to_owned()),
            },
            proc_masks: ["/proc/cmdline", "/proc/keys", "/proc/timer_list"]
                .iter()
                .map(PathBuf::from)
                .collect(),
        }
    }
}

/// boxpy's own executable, resolved (Seatbelt matches resolved paths; the init is opened from it).
fn own_executable() -> PathBuf {
    let exe = std::env::current_exe();
    // Linux's /proc/self/exe link is already absolute and resolved (a replaced or deleted
    // binary, " (deleted)", no longer exists at it); macOS's answer may hold symlinks.
    let resolved = if cfg!(target_os = "linux") {
        exe.ok().filter(|exe| exe.is_absolute() && exe.exists())
    } else {
        exe.and_then(|exe| exe.canonicalize()).ok()
    };
    resolved.unwrap_or_else(|| PathBuf::from("/proc/self/exe"))
}

/// `bwrap` from PATH, skipping relative PATH entries so a `bwrap` planted in the working
/// directory is never picked up; falls back to the usual system locations.
pub fn find_bwrap(path_variable: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    // Only system locations: a PATH entry in a project (`PATH_add bin` in an `.envrc`)
    // could hold a `bwrap` an earlier run wrote, which boxpy would run on the host.
    // `BOXPY_BWRAP` names any other.
    const SYSTEM_PREFIXES: &[&str] = &["/usr/", "/bin", "/sbin", "/opt/", "/nix/store/", "/snap/"];
    let from_path = path_variable.and_then(|path| {
        std::env::split_paths(path)
            .filter(|dir| dir.is_absolute())
            .filter(|dir| {
                let dir = dir.to_string_lossy();
                SYSTEM_PREFIXES.iter().any(|prefix| dir.starts_with(prefix))
            })
            .map(|dir| dir.join("bwrap"))
            .find(|candidate| is_executable_file(candidate))
    });
    from_path.or_else(|| {
        ["/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap"]
            .iter()
            .map(PathBuf::from)
            .find(|candidate| is_executable_file(candidate))
    })
}

fn is_executable_file(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Maps a `.../bin` directory to its prefix; any other directory stands for itself.
pub fn prefix_of_bin_dir(dir: &Path) -> PathBuf {
    if dir.file_name().is_some_and(|name| name == "bin") {
        if let Some(parent) = dir.parent() {
            if parent != Path::new("/") {
                return parent.to_path_buf();
            }
        }
    }
    dir.to_path_buf()
}

/// Whether `path` exists on the host, for a report's hint: `false` for a path that exists
/// only through a symlink to a protected one (the catalogue checks the path as named; this
/// also checks where it leads), see [`is_protected_host_fact`].
pub fn path_exists_for_report(path: &Path, caller_home: Option<&Path>) -> bool {
    if path.symlink_metadata().is_err() {
        return false;
    }
    match path.canonicalize() {
        Ok(real) => !is_protected_host_fact(&real, caller_home),
        Err(_) => true,
    }
}

/// Whether boxpy's own environment (the host's) has `name` set, for a report's hint. Only
/// presence: the value is never read into a report.
pub fn variable_set_for_report(name: &str) -> bool {
    std::env::var_os(name).is_some()
}

/// Whether the host's PATH has an executable `name`, for a report's hint.
pub fn command_exists_for_report(name: &str) -> bool {
    which::which(name).is_ok()
}
