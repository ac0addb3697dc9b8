//! The macOS renderer: [`SandboxSpec`] + [`MacosFacts`] -> a Seatbelt profile and the
//! `/usr/bin/sandbox-exec` command that applies it ([`SeatbeltCommand`]). Pure, like
//! [`super::bwrap`]: it runs on every OS (`boxpy render --target macos` on Linux), and every
//! security-relevant change shows up as a snapshot diff (`seatbelt/tests.rs`).
//!
//! The profile is `(version 1)`, `(deny default (with message TAG))`, the commented base
//! rules of [`BASE_PROFILE`] (processes, sysctl, Mach services, POSIX IPC), then the rules
//! for files and the network generated here. Later rules win over earlier ones.
//!
//! Invariants this function enforces (each has a test):
//! - `(deny default …)` is the first rule and carries this run's unique tag, so
//!   `log stream --predicate 'eventMessage CONTAINS "TAG"'` shows this run's denials.
//! - No path is spliced into the profile text: every path is a `-D NAME=PATH` parameter,
//!   referenced as `(param "NAME")`. Outside comments the text holds no `/` at all, so no
//!   path (with quotes, parentheses or newlines in it) can change what the profile says.
//! - Paths are canonical: Seatbelt matches resolved paths (`/tmp` is `/private/tmp`), so
//!   every allowed path is its resolved form; the symlinks and directories on the way to
//!   it get metadata access only (stat, readlink: what realpath() and SQLite need).
//! - Reads: the fixed system paths of [`SYSTEM_CODE`], [`SYSTEM_DATA`] and [`DEVICES`]
//!   ([`NETWORK_DATA`] too with `network = "full"` or `"proxy"`);
//!   the venv; the base interpreter's own prefix (where its real executable lives, never
//!   the `/opt/homebrew` or `/usr/local` above it) and the library directories it links;
//!   `read_only` and `read_write` mounts, the workdir, the private HOME and TMPDIR. Not the
//!   user's home, other homes, the host's `/tmp`, or anything else.
//! - Writes: only the workdir, `read_write` mounts, HOME and TMPDIR. Write rules come in
//!   depth order, as bwrap's mounts do, so the deepest path decides: a venv or `read_only`
//!   mount inside the workdir stays read-only, and the directories above it cannot be
//!   renamed away. Every writable parameter is also readable.
//! - [`PROTECTED`] paths are denied after everything else, whatever a mount exposes;
//!   mounting them (or anything under them) is refused.
//! - Network: `none` allows no IP socket; `localhost` bind, accept and connect on loopback
//!   only; `full` any IP address plus DNS (the mDNSResponder socket) and the configuration
//!   and certificate-trust services; `proxy` connect to the two loopback ports of boxpy's
//!   proxy only (`SandboxSpec::proxy`), the hosts file and CA certificates, no DNS. In every mode Unix-domain sockets only inside writable
//!   paths, so no host service (docker, ssh-agent, launchd sockets) is reachable.
//! - A mount at another path (`SRC:DEST`) cannot be expressed with Seatbelt, which filters
//!   paths and cannot move them: an error, never a silent difference.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::{shell_quote, EnvValue, SandboxSpec};
use crate::error::Error;
use crate::policy::NetworkMode;
use crate::venv::prefix_of_bin_dir;

/// The pinned Seatbelt front end (never looked up on PATH).
pub const SANDBOX_EXEC: &str = "/usr/bin/sandbox-exec";

/// The commented base rules, compiled in.
pub const BASE_PROFILE: &str = include_str!("seatbelt/base.sbpl");

/// The argument that makes boxpy act as the start helper inside the sandbox: it reports
/// on [`START_REPORT_FD`] that the sandbox was applied, then executes the program.
pub const START_ARGUMENT: &str = "__sandbox-start";

/// The descriptor the start helper reports on (close-on-exec, so the program never has it).
pub const START_REPORT_FD: i32 = 3;

/// What `boxpy render` shows for the per-run directory boxpy creates under `$TMPDIR`.
pub const RUN_DIRECTORY_PLACEHOLDER: &str = "/private/var/folders/XX/XXXXXXXX/T/boxpy-XXXXXX";

/// What `boxpy render` shows for the per-run violation tag.
pub const TAG_PLACEHOLDER: &str = "boxpy-XXXXXXXXXXXX";

/// A fixed host path the profile opens, and why.
#[derive(Debug, Clone, Copy)]
pub struct SystemPath {
    /// The `-D` parameter name.
    pub name: &'static str,
    pub path: &'static str,
    /// A single file (`literal`) rather than a directory tree (`subpath`).
    pub file: bool,
    pub why: &'static str,
}

const fn tree(name: &'static str, path: &'static str, why: &'static str) -> SystemPath {
    SystemPath {
        name,
        path,
        file: false,
        why,
    }
}

const fn file(name: &'static str, path: &'static str, why: &'static str) -> SystemPath {
    SystemPath {
        name,
        path,
        file: true,
        why,
    }
}

/// System code: read, map as executable, run.
pub const SYSTEM_CODE: &[SystemPath] = &[
    tree(
        "USR_LIB",
        "/usr/lib",
        "dyld, libSystem and the C++ runtime every process maps",
    ),
    tree(
        "USR_LIBEXEC",
        "/usr/libexec",
        "helpers that the system's command-line tools start",
    ),
    tree(
        "USR_BIN",
        "/usr/bin",
        "command-line tools programs run (env, uname, which, compilers' shims)",
    ),
    tree(
        "BIN",
        "/bin",
        "the shell behind subprocess(shell=True) and os.system()",
    ),
    tree(
        "USR_SBIN",
        "/usr/sbin",
        "system tools some libraries run (sysctl, scutil)",
    ),
    tree(
        "SBIN",
        "/sbin",
        "ifconfig, which uuid.getnode() runs on older Pythons",
    ),
    tree(
        "SYSTEM_LIBRARY",
        "/System/Library",
        "system frameworks (CoreFoundation, Security, SystemConfiguration), the dyld shared cache before macOS 13, and the version file platform.mac_ver() reads",
    ),
    tree(
        "SYSTEM_CRYPTEX",
        "/System/Cryptexes/OS",
        "the dyld shared cache since macOS 13 (the OS Cryptex)",
    ),
    tree(
        "PREBOOT_CRYPTEX",
        "/System/Volumes/Preboot/Cryptexes/OS",
        "the same Cryptex at its mount point",
    ),
    tree(
        "PRIVATE_PREBOOT_CRYPTEX",
        "/private/preboot/Cryptexes/OS",
        "the same Cryptex as the kernel may name it",
    ),
    tree(
        "LIBRARY_APPLE",
        "/Library/Apple",
        "Apple-installed system libraries (the Rosetta 2 runtime)",
    ),
    tree(
        "DYLD_DB",
        "/private/var/db/dyld",
        "the dyld shared cache up to macOS 10.15",
    ),
];

/// System data: read only.
pub const SYSTEM_DATA: &[SystemPath] = &[
    tree(
        "USR_SHARE",
        "/usr/share",
        "zoneinfo, locale, terminfo and ICU data",
    ),
    tree(
        "TIMEZONE_DB",
        "/private/var/db/timezone",
        "the time zone database that the local time zone and zoneinfo point into",
    ),
    file(
        "ETC_LOCALTIME",
        "/private/etc/localtime",
        "the local time zone (time.localtime)",
    ),
];

/// `network = "full"`: what name resolution and TLS read (as on Linux, only then).
pub const NETWORK_DATA: &[SystemPath] = &[
    tree(
        "ETC_SSL",
        "/private/etc/ssl",
        "the system's CA certificates, which OpenSSL builds fall back to",
    ),
    file(
        "ETC_SERVICES",
        "/private/etc/services",
        "socket.getservbyname()",
    ),
    file(
        "ETC_PROTOCOLS",
        "/private/etc/protocols",
        "socket.getprotobyname()",
    ),
];

/// A device node and what may be done with it.
#[derive(Debug, Clone, Copy)]
pub struct Device {
    pub path: SystemPath,
    pub operations: &'static str,
}

/// Device nodes. `/dev/tty` has no `file-ioctl`: nothing can be pushed into a terminal's
/// input (TIOCSTI); boxpy also starts the program in a new session, without one.
pub const DEVICES: &[Device] = &[
    Device {
        path: file("DEV_NULL", "/dev/null", "subprocess.DEVNULL and os.devnull"),
        operations: "file-read* file-write-data file-ioctl",
    },
    Device {
        path: file("DEV_ZERO", "/dev/zero", "zero-filled reads and mappings"),
        operations: "file-read* file-write-data file-ioctl",
    },
    Device {
        path: file(
            "DEV_RANDOM",
            "/dev/random",
            "randomness for libraries that read the device instead of calling getentropy()",
        ),
        operations: "file-read* file-ioctl",
    },
    Device {
        path: file("DEV_URANDOM", "/dev/urandom", "the same, by its other name"),
        operations: "file-read* file-ioctl",
    },
    Device {
        path: file(
            "DEV_TTY",
            "/dev/tty",
            "the controlling terminal (getpass); read and write only, no ioctl",
        ),
        operations: "file-read* file-write-data",
    },
    Device {
        path: tree(
            "DEV_FD",
            "/dev/fd",
            "reopening a descriptor the program already holds (the standard streams by name)",
        ),
        operations: "file-read* file-write-data",
    },
    Device {
        path: file(
            "DEV_DTRACEHELPER",
            "/dev/dtracehelper",
            "dyld registers the DTrace probes of libraries that have them",
        ),
        operations: "file-read* file-write-data file-ioctl",
    },
    Device {
        path: file(
            "DEV_AUTOFS_NOWAIT",
            "/dev/autofs_nowait",
            "the C library's realpath() opens it so lookups never trigger an automount",
        ),
        operations: "file-read*",
    },
];

/// macOS's top-level symlinks (`/etc -> private/etc`, ...): metadata only, so a path
/// written the usual way resolves.
pub const SYSTEM_LINKS: &[SystemPath] = &[
    file(
        "ETC_LINK",
        "/etc",
        "the symlink to the system configuration",
    ),
    file("VAR_LINK", "/var", "the symlink to the variable data"),
    file(
        "TMP_LINK",
        "/tmp",
        "the symlink to the shared temporary directory",
    ),
];

/// Host paths no profile may open, whatever a mount exposes (the macOS side of SPEC §4).
pub const PROTECTED: &[SystemPath] = &[
    file(
        "PROTECTED_MASTER_PASSWD",
        "/private/etc/master.passwd",
        "password hashes",
    ),
    file("PROTECTED_SUDOERS", "/private/etc/sudoers", "sudo's rules"),
    tree(
        "PROTECTED_SUDOERS_D",
        "/private/etc/sudoers.d",
        "more of sudo's rules",
    ),
    tree("PROTECTED_SSH", "/private/etc/ssh", "SSH host keys"),
    tree(
        "PROTECTED_SUDO_DB",
        "/private/var/db/sudo",
        "sudo's timestamps",
    ),
    tree(
        "PROTECTED_DSLOCAL",
        "/private/var/db/dslocal",
        "local account records and their password hashes",
    ),
    tree("PROTECTED_ROOT_HOME", "/private/var/root", "root's home"),
    tree(
        "PROTECTED_KEYCHAINS",
        "/Library/Keychains",
        "the system keychains",
    ),
];

/// Directories that must never be the (read-write) working directory on macOS.
const FORBIDDEN_WORKDIRS: &[&str] = &[
    "/",
    "/System",
    "/Library",
    "/Applications",
    "/Users",
    "/Volumes",
    "/private",
    "/private/var",
    "/private/etc",
    "/usr",
    "/bin",
    "/sbin",
    "/dev",
    "/opt",
];

/// `network = "localhost"` and `"full"`: the hosts file.
const ETC_HOSTS: SystemPath = file(
    "ETC_HOSTS",
    "/private/etc/hosts",
    "the hosts file, so `localhost` resolves",
);
/// `network = "full"`: the resolver configuration that DNS libraries read themselves.
const RESOLV_CONF: SystemPath = file(
    "RESOLV_CONF",
    "/private/var/run/resolv.conf",
    "the resolver configuration (dnspython, c-ares)",
);
/// `network = "full"`: getaddrinfo() asks mDNSResponder over this socket.
const DNS_SOCKET: SystemPath = tree(
    "DNS_SOCKET",
    "/private/var/run/mDNSResponder",
    "getaddrinfo() asks mDNSResponder over this socket",
);

/// Mach services `network = "full"` adds: name resolution, network configuration and
/// certificate trust (pip's truststore, Security.framework).
const NETWORK_SERVICES: &[(&str, &str)] = &[
    (
        "com.apple.dnssd.service",
        "DNS-SD, which getaddrinfo() may use",
    ),
    (
        "com.apple.SystemConfiguration.DNSConfiguration",
        "the resolver configuration",
    ),
    (
        "com.apple.SystemConfiguration.configd",
        "network configuration and proxy settings",
    ),
    ("com.apple.networkd", "the network stack's policy daemon"),
    (
        "com.apple.trustd.agent",
        "certificate trust evaluation (truststore, Security.framework)",
    ),
    ("com.apple.SecurityServer", "the keychain's trust settings"),
    ("com.apple.ocspd", "certificate revocation checks"),
];

pub use crate::host::macos::MacosFacts;

/// The profile text and its parameters (`-D NAME=VALUE`), in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatbeltProfile {
    pub text: String,
    pub params: Vec<(String, PathBuf)>,
}

/// The fully rendered macOS command: what the exec module runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatbeltCommand {
    /// [`SANDBOX_EXEC`].
    pub program: PathBuf,
    pub profile: SeatbeltProfile,
    /// What sandbox-exec executes: boxpy's start helper, then the program.
    pub command: Vec<OsString>,
    /// The environment sandbox-exec starts with (and passes on); nothing else.
    pub env: Vec<(String, EnvValue)>,
    /// The program's working directory.
    pub workdir: PathBuf,
    /// Directories boxpy creates before the run (inside the run directory).
    pub directories: Vec<PathBuf>,
    /// Files boxpy writes before the run (inside the run directory): (path, contents).
    pub files: Vec<(PathBuf, Vec<u8>)>,
    /// This run's violation tag.
    pub tag: String,
}

impl SeatbeltCommand {
    /// sandbox-exec's arguments: `-p PROFILE -DNAME=VALUE... -- COMMAND...`.
    #[cfg_attr(
        not(any(target_os = "macos", test)),
        allow(dead_code, reason = "run by the macOS executor")
    )]
    pub fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["-p".into(), self.profile.text.clone().into()];
        for (name, value) in &self.profile.params {
            let mut argument = OsString::from(format!("-D{name}="));
            argument.push(value.as_os_str());
            args.push(argument);
        }
        args.push("--".into());
        args.extend(self.command.iter().cloned());
        args
    }
}

/// The `log` command that shows the denials of the run tagged `tag`, live.
pub fn log_stream_command(tag: &str) -> String {
    format!("log stream --style compact --predicate 'eventMessage CONTAINS \"{tag}\"'")
}

/// Whether a readable root is one directory tree or one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Subpath,
    Literal,
}

/// One parameterised path the rules name.
#[derive(Debug, Clone)]
struct Root {
    name: String,
    path: PathBuf,
    scope: Scope,
    why: String,
}

impl Root {
    fn new(name: impl Into<String>, path: PathBuf, scope: Scope, why: impl Into<String>) -> Root {
        Root {
            name: name.into(),
            path,
            scope,
            why: why.into(),
        }
    }

    fn system(path: &SystemPath) -> Root {
        Root::new(
            path.name,
            PathBuf::from(path.path),
            if path.file {
                Scope::Literal
            } else {
                Scope::Subpath
            },
            path.why,
        )
    }

    fn filter(&self) -> String {
        let kind = match self.scope {
            Scope::Subpath => "subpath",
            Scope::Literal => "literal",
        };
        format!("({kind} (param \"{}\"))", self.name)
    }

    /// Whether `path` lies in this root (the root itself included).
    fn covers(&self, path: &Path) -> bool {
        match self.scope {
            Scope::Subpath => path.starts_with(&self.path),
            Scope::Literal => path == self.path,
        }
    }
}

/// Accumulates the profile text and its parameters.
struct Builder {
    text: String,
    params: Vec<(String, PathBuf)>,
    tag: String,
}

impl Builder {
    fn line(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
    }

    fn blank(&mut self) {
        self.text.push('\n');
    }

    fn section(&mut self, title: &str) {
        self.blank();
        self.line(";; ---------------------------------------------------------------------------------------");
        self.line(&format!(";; {title}"));
        self.line(";; ---------------------------------------------------------------------------------------");
    }

    fn comment(&mut self, text: &str) {
        for line in text.lines() {
            self.line(&format!(";; {line}"));
        }
    }

    fn declare(&mut self, root: &Root) {
        if !self.params.iter().any(|(name, _)| *name == root.name) {
            self.params.push((root.name.clone(), root.path.clone()));
        }
    }

    /// `(ACTION OPERATIONS FILTER...)`, each filter on its own line after its reason.
    fn rule(&mut self, action: &str, operations: &str, roots: &[&Root], deny_message: bool) {
        if roots.is_empty() {
            return;
        }
        self.line(&format!("({action} {operations}"));
        let last = roots.len() - 1;
        let mut previous_why = "";
        for (index, root) in roots.iter().enumerate() {
            self.declare(root);
            if !root.why.is_empty() && root.why != previous_why {
                self.comment_indented(&root.why);
            }
            previous_why = &root.why;
            let close = if index == last && !deny_message {
                ")"
            } else {
                ""
            };
            self.line(&format!("  {}{close}", root.filter()));
        }
        if deny_message {
            let tag = self.tag.clone();
            self.line(&format!("  (with message \"{tag}\"))"));
        }
    }

    fn comment_indented(&mut self, text: &str) {
        for line in text.lines() {
            self.line(&format!("  ;; {line}"));
        }
    }
}

/// The depth of a path (number of components), for ordering write rules as mounts.
fn depth(path: &Path) -> usize {
    path.components().count()
}

/// Every proper ancestor of `path` except `/`.
fn ancestors(path: &Path) -> impl Iterator<Item = &Path> {
    path.ancestors()
        .skip(1)
        .filter(|ancestor| ancestor.parent().is_some())
}

/// Renders the Seatbelt profile and sandbox-exec command for `spec` on a Mac described by
/// `facts`.
pub fn render(spec: &SandboxSpec, facts: &MacosFacts) -> Result<SeatbeltCommand, Error> {
    check_workdir(&spec.workdir)?;
    check_mounts(spec, facts)?;

    let run = &facts.run_directory;
    let home = run.join("home");
    let tmp = run.join("tmp");
    let files_directory = run.join("files");
    let generated = GeneratedFiles::new(spec, &files_directory);

    // ----- The roots the rules name -----
    let system_code: Vec<Root> = SYSTEM_CODE.iter().map(Root::system).collect();
    let system_data: Vec<Root> = SYSTEM_DATA.iter().map(Root::system).collect();
    let in_system_code = |path: &Path| system_code.iter().any(|root| root.covers(path));
    let opens_system = |path: &Path| {
        SYSTEM_CODE
            .iter()
            .chain(SYSTEM_DATA)
            .any(|system| Path::new(system.path).starts_with(path))
    };

    // The interpreter: the venv, and the prefix of the real executable (not the
    // directories its symlinks pass through, which get metadata only).
    let mut read_only: Vec<Root> = Vec::new();
    let venv = spec
        .interpreter
        .venv
        .as_deref()
        .map(|venv| facts.canonical(venv));
    if let Some(venv) = &venv {
        read_only.push(Root::new(
            "VENV_0",
            venv.clone(),
            Scope::Subpath,
            "the venv (read-only)",
        ));
    }
    let executable = facts.canonical(&spec.interpreter.executable);
    let executable_in_venv = venv
        .as_ref()
        .is_some_and(|venv| executable.starts_with(venv));
    let mut prefixes: Vec<PathBuf> = if executable_in_venv {
        // A copied interpreter: trust the venv's `home` and what it links to.
        spec.interpreter
            .read_only_paths
            .iter()
            .filter(|path| Some(path.as_path()) != spec.interpreter.venv.as_deref())
            .map(|path| facts.canonical(path))
            .collect()
    } else {
        executable
            .parent()
            .map(prefix_of_bin_dir)
            .into_iter()
            .collect()
    };
    prefixes
        .retain(|prefix| prefix.is_absolute() && !opens_system(prefix) && !in_system_code(prefix));
    let mut kept: Vec<PathBuf> = Vec::new();
    for prefix in prefixes {
        let inside_venv = venv.as_ref().is_some_and(|venv| prefix.starts_with(venv));
        if !inside_venv && !kept.iter().any(|earlier| prefix.starts_with(earlier)) {
            kept.retain(|earlier| !earlier.starts_with(&prefix));
            kept.push(prefix);
        }
    }
    for (index, prefix) in kept.iter().enumerate() {
        read_only.push(Root::new(
            format!("PYTHON_PREFIX_{index}"),
            prefix.clone(),
            Scope::Subpath,
            "the base interpreter's prefix (read-only)",
        ));
    }
    let mut libraries: Vec<PathBuf> = Vec::new();
    for library in &facts.interpreter_libraries {
        let library = facts.canonical(library);
        let covered = in_system_code(&library)
            || read_only.iter().any(|root| root.covers(&library))
            || libraries.iter().any(|earlier| library.starts_with(earlier));
        if !covered && !opens_system(&library) {
            libraries.push(library);
        }
    }
    for (index, library) in libraries.into_iter().enumerate() {
        read_only.push(Root::new(
            format!("PYTHON_LIBRARY_{index}"),
            library,
            Scope::Subpath,
            "libraries (or their data) the interpreter links from outside its prefix (read-only)",
        ));
    }

    let mut writable: Vec<Root> = vec![Root::new(
        "WORKDIR",
        spec.workdir.clone(),
        Scope::Subpath,
        "the working directory",
    )];
    let (mut read_only_mounts, mut read_write_mounts) = (0, 0);
    for mount in &spec.mounts {
        let source = facts.canonical(&mount.source);
        let why = format!("from `{}`", mount.origin);
        if mount.writable {
            writable.push(Root::new(
                format!("RW_{read_write_mounts}"),
                source,
                Scope::Subpath,
                why,
            ));
            read_write_mounts += 1;
        } else if !read_only.iter().any(|root| root.path == source) {
            read_only.push(Root::new(
                format!("RO_{read_only_mounts}"),
                source,
                Scope::Subpath,
                why,
            ));
            read_only_mounts += 1;
        }
    }
    writable.push(Root::new(
        "HOME",
        home.clone(),
        Scope::Subpath,
        "the private HOME (in the run directory)",
    ));
    writable.push(Root::new(
        "TMPDIR",
        tmp.clone(),
        Scope::Subpath,
        "the private TMPDIR (in the run directory)",
    ));
    if let Some(script) = &spec.script_mount {
        read_only.push(Root::new(
            "SCRIPT",
            facts.canonical(script),
            Scope::Literal,
            "the script, outside every other visible path",
        ));
    }
    if !generated.is_empty() {
        read_only.push(Root::new(
            "FILES",
            files_directory.clone(),
            Scope::Subpath,
            "files boxpy generates for this run (`guards.deny_imports`)",
        ));
    }
    read_only.push(Root::new(
        "BOXPY",
        facts.boxpy_executable.clone(),
        Scope::Literal,
        "boxpy's start helper, which reports that the sandbox is in place and runs the program",
    ));

    // ----- Metadata on the way to every path -----
    let root_directory = Root::new(
        "ROOT",
        PathBuf::from("/"),
        Scope::Literal,
        "the root directory: dyld opens it to find the shared cache (macOS 26)",
    );
    let devices: Vec<(Root, &str)> = DEVICES
        .iter()
        .map(|device| (Root::system(&device.path), device.operations))
        .collect();
    let links: Vec<Root> = SYSTEM_LINKS.iter().map(Root::system).collect();
    let network_files: Vec<Root> = match spec.network {
        NetworkMode::None => Vec::new(),
        NetworkMode::Localhost => vec![Root::system(&ETC_HOSTS)],
        NetworkMode::Full => [ETC_HOSTS, RESOLV_CONF, DNS_SOCKET]
            .iter()
            .chain(NETWORK_DATA)
            .map(Root::system)
            .collect(),
        // The proxy resolves names on the host: no resolver, no DNS socket.
        NetworkMode::Proxy => [ETC_HOSTS]
            .iter()
            .chain(NETWORK_DATA)
            .map(Root::system)
            .collect(),
    };
    let readable: Vec<&Root> = system_code
        .iter()
        .chain(&system_data)
        .chain(devices.iter().map(|(root, _)| root))
        .chain(&read_only)
        .chain(&writable)
        .chain(&network_files)
        .collect();

    let mut given: Vec<PathBuf> = vec![
        spec.interpreter.executable.clone(),
        facts.boxpy_executable.clone(),
        run.clone(),
    ];
    given.extend(spec.interpreter.read_only_paths.iter().cloned());
    given.extend(spec.interpreter.venv.iter().cloned());
    given.extend(facts.interpreter_links.iter().cloned());
    given.extend(facts.interpreter_libraries.iter().cloned());
    given.extend(spec.mounts.iter().map(|mount| mount.source.clone()));
    given.extend(spec.script_mount.iter().cloned());
    // `boxpy exec -- sh`: a command found on PATH inside has no path here.
    given.retain(|path| path.is_absolute());
    let mut metadata: BTreeSet<PathBuf> = BTreeSet::new();
    for path in &given {
        for prefix in path.ancestors() {
            metadata.insert(facts.physical(prefix));
        }
    }
    for root in &readable {
        metadata.extend(ancestors(&root.path).map(Path::to_path_buf));
    }
    let is_named = |path: &Path| {
        path == Path::new("/")
            || readable.iter().any(|root| root.covers(path))
            || links.iter().any(|link| link.path == path)
    };
    let ancestor_roots: Vec<Root> = metadata
        .into_iter()
        .filter(|path| !is_named(path))
        .enumerate()
        .map(|(index, path)| Root::new(format!("ANCESTOR_{index}"), path, Scope::Literal, ""))
        .collect();

    // ----- Write rules in depth order; read-only paths below writable ones -----
    let inside_writable = |path: &Path| writable.iter().any(|root| path.starts_with(&root.path));
    let mut write_rules: Vec<(&Root, bool)> = writable.iter().map(|root| (root, true)).collect();
    write_rules.extend(
        read_only
            .iter()
            .filter(|root| inside_writable(&root.path))
            .map(|root| (root, false)),
    );
    write_rules.sort_by_key(|(root, _)| depth(&root.path));
    // A writable root (bwrap's mount point) and the directories above a read-only path
    // inside one cannot be renamed or removed: moving the workdir into HOME, or the
    // directory holding the venv, would carry them out from under their rules.
    let mut pinned: BTreeSet<PathBuf> = BTreeSet::new();
    for root in read_only.iter().filter(|root| inside_writable(&root.path)) {
        pinned.extend(
            ancestors(&root.path)
                .filter(|ancestor| inside_writable(ancestor))
                .map(Path::to_path_buf),
        );
    }
    let mut pinned_roots: Vec<Root> = writable
        .iter()
        .map(|root| Root::new(root.name.clone(), root.path.clone(), Scope::Literal, ""))
        .collect();
    pinned_roots.extend(
        pinned
            .into_iter()
            .filter(|path| !writable.iter().any(|root| root.path == *path))
            .enumerate()
            .map(|(index, path)| Root::new(format!("PINNED_{index}"), path, Scope::Literal, "")),
    );
    let protected: Vec<Root> = PROTECTED.iter().map(Root::system).collect();

    // ----- The text -----
    let tag = clean_tag(&facts.tag);
    let mut profile = Builder {
        text: String::new(),
        params: Vec::new(),
        tag: tag.clone(),
    };
    profile
        .line(";;; boxpy's Seatbelt profile. Generated for one run; every path is a -D parameter.");
    profile.line("(version 1)");
    profile.comment("Everything not allowed below is denied, and logged with this run's tag.");
    profile.line(&format!("(deny default (with message \"{tag}\"))"));
    profile.blank();
    profile.text.push_str(BASE_PROFILE);

    profile.section("Files: generated for this run from the policy, the venv and the host");
    profile.blank();
    profile.comment("System code: read, map as executable and run.");
    let code_operations = "file-read* file-test-existence file-map-executable process-exec*";
    profile.rule(
        "allow",
        code_operations,
        &system_code.iter().collect::<Vec<_>>(),
        false,
    );
    profile.blank();
    profile.comment("System data: read only.");
    profile.rule(
        "allow",
        "file-read* file-test-existence",
        &system_data.iter().collect::<Vec<_>>(),
        false,
    );
    profile.blank();
    profile.comment("Devices.");
    for (device, operations) in &devices {
        profile.rule("allow", operations, &[device], false);
    }
    profile.blank();
    profile.comment(
        "The way to every allowed path: metadata only (stat, readlink), never a listing or\n\
         the contents, so realpath() and SQLite can resolve paths. The root directory may\n\
         also be listed.",
    );
    profile.rule(
        "allow",
        "file-read-metadata file-read-data file-test-existence",
        &[&root_directory],
        false,
    );
    profile.rule(
        "allow",
        "file-read-metadata file-test-existence",
        &links.iter().collect::<Vec<_>>(),
        false,
    );
    profile.rule(
        "allow",
        "file-read-metadata file-test-existence",
        &ancestor_roots.iter().collect::<Vec<_>>(),
        false,
    );
    profile.blank();
    profile.comment(
        "The interpreter, the venv, read-only mounts and boxpy's helper: read, map and run.",
    );
    let root_operations =
        "file-read* file-test-existence file-map-executable process-exec* file-ioctl";
    profile.rule(
        "allow",
        root_operations,
        &read_only.iter().collect::<Vec<_>>(),
        false,
    );
    profile.blank();
    profile.comment(
        "The working directory, read_write mounts, HOME and TMPDIR: read, map and run ...",
    );
    profile.rule(
        "allow",
        root_operations,
        &writable.iter().collect::<Vec<_>>(),
        false,
    );
    profile.comment(
        "... and write. In depth order, as bwrap mounts them: the deepest path decides, so a\n\
         read-only path inside a writable one stays read-only.",
    );
    for (root, allow) in &write_rules {
        let bare = Root {
            why: String::new(),
            ..(*root).clone()
        };
        if *allow {
            profile.rule("allow", "file-write*", &[&bare], false);
        } else {
            profile.rule("deny", "file-write*", &[&bare], true);
        }
    }
    profile.comment(
        "The writable roots themselves, and the directories above a read-only path inside\n\
         one, cannot be renamed or removed: moving them would carry what is below out from\n\
         under its rule (as bwrap's mount points cannot be moved).",
    );
    profile.rule(
        "deny",
        "file-write-unlink",
        &pinned_roots.iter().collect::<Vec<_>>(),
        true,
    );
    profile.blank();
    profile.comment("Never readable or writable, whatever a mount exposes.");
    profile.rule(
        "deny",
        "file-read* file-write*",
        &protected.iter().collect::<Vec<_>>(),
        true,
    );
    // What host tools run or obey after the run (`.git`, `.envrc`, editor config, ...), at
    // the top of the workdir and each writable mount: Seatbelt can forbid a name that does
    // not exist yet, so on macOS these cannot be created at all (Linux moves them aside).
    let user_writable = writable
        .iter()
        .filter(|root| root.name == "WORKDIR" || root.name.starts_with("RW_"));
    let mut guarded_names = Vec::new();
    for root in user_writable {
        for name in &spec.protected_names {
            guarded_names.push(Root::new(
                format!("PROTECTED_NAME_{}", guarded_names.len()),
                root.path.join(name),
                Scope::Subpath,
                "run or obeyed by host tools after the run (git, direnv, editors, pre-commit)",
            ));
        }
    }
    profile.blank();
    profile.comment("Never writable nor creatable: what host tools would run after the run.");
    profile.rule(
        "deny",
        "file-write*",
        &guarded_names.iter().collect::<Vec<_>>(),
        true,
    );
    let hidden: Vec<Root> = spec
        .hidden
        .iter()
        .enumerate()
        .map(|(index, hidden)| {
            Root::new(
                format!("HIDDEN_{index}"),
                facts.canonical(&hidden.dest),
                if hidden.directory {
                    Scope::Subpath
                } else {
                    Scope::Literal
                },
                "credentials (`filesystem.hide`, `--hide`, the defaults)",
            )
        })
        .collect();
    profile.blank();
    profile.comment("Credentials: not readable (Seatbelt cannot show them as empty).");
    profile.rule(
        "deny",
        "file-read-data",
        &hidden.iter().collect::<Vec<_>>(),
        true,
    );

    profile.section(&format!("Network: \"{}\"", spec.network.as_str()));
    profile.blank();
    profile.comment(
        "Unix-domain sockets by path only inside writable paths (multiprocessing managers,\n\
         Jupyter's ipc transport): no host service's socket is reachable.",
    );
    let sockets: Vec<Root> = writable
        .iter()
        .map(|root| Root {
            why: String::new(),
            ..root.clone()
        })
        .collect();
    let socket_filters = |direction: &str| -> Vec<String> {
        sockets
            .iter()
            .map(|root| format!("({direction} unix-socket {})", root.filter()))
            .collect()
    };
    profile.line("(allow network-bind");
    push_filters(&mut profile, &socket_filters("local"));
    profile.line("(allow network-outbound");
    push_filters(&mut profile, &socket_filters("remote"));
    profile.blank();
    match spec.network {
        NetworkMode::None => {
            profile.comment("No IP socket may bind, accept or connect.");
        }
        NetworkMode::Localhost => {
            profile.comment(
                "Loopback only: servers the program starts itself (Jupyter kernels, test\n\
                 servers) and connections to them. On macOS this is the host's loopback:\n\
                 services the host runs on it are reachable too (see macos.md under docs).",
            );
            profile.line("(allow network-bind (local ip \"localhost:*\"))");
            profile.line("(allow network-inbound (local ip \"localhost:*\"))");
            profile.line("(allow network-outbound (remote ip \"localhost:*\"))");
            profile.rule(
                "allow",
                "file-read* file-test-existence",
                &network_files.iter().collect::<Vec<_>>(),
                false,
            );
        }
        NetworkMode::Full => {
            profile
                .comment("Any IP address, both ways. Unix-domain sockets stay limited as above.");
            profile.line("(allow network-bind (local ip \"*:*\"))");
            profile.line("(allow network-inbound (local ip \"*:*\"))");
            profile.line("(allow network-outbound (remote ip \"*:*\"))");
            profile
                .comment("Routing sockets and interface lists (getifaddrs, SystemConfiguration).");
            profile.line("(allow system-socket)");
            profile.line("(allow sysctl-read (sysctl-name-prefix \"net.routetable.\"))");
            let dns_socket = Root::system(&DNS_SOCKET);
            profile.comment(DNS_SOCKET.why);
            profile.declare(&dns_socket);
            profile.line(&format!(
                "(allow network-outbound (remote unix-socket {}))",
                dns_socket.filter()
            ));
            profile
                .comment("Name resolution, network configuration and certificate trust services.");
            profile.line("(allow mach-lookup");
            let last = NETWORK_SERVICES.len() - 1;
            for (index, (service, why)) in NETWORK_SERVICES.iter().enumerate() {
                profile.line(&format!("  ;; {why}"));
                let close = if index == last { ")" } else { "" };
                profile.line(&format!("  (global-name \"{service}\"){close}"));
            }
            profile.comment("The hosts file, the resolver's configuration, CA certificates.");
            profile.rule(
                "allow",
                "file-read* file-test-existence",
                &network_files
                    .iter()
                    .filter(|root| root.name != DNS_SOCKET.name)
                    .collect::<Vec<_>>(),
                false,
            );
        }
        NetworkMode::Proxy => {
            let ports = spec.proxy.unwrap_or_default();
            profile.comment(
                "Only boxpy's proxy, on the host's loopback: it decides each connection by the\n\
                 policy's host rules. No other connection, no bind, no DNS.",
            );
            for port in [ports.http, ports.socks] {
                profile.line(&format!(
                    "(allow network-outbound (remote ip \"localhost:{port}\"))"
                ));
            }
            profile.comment(
                "The hosts file and CA certificates (TLS goes through the proxy end to end).",
            );
            profile.rule(
                "allow",
                "file-read* file-test-existence",
                &network_files.iter().collect::<Vec<_>>(),
                false,
            );
        }
    }

    // ----- The command -----
    let mut command: Vec<OsString> = vec![
        facts.boxpy_executable.clone().into_os_string(),
        START_ARGUMENT.into(),
        START_REPORT_FD.to_string().into(),
        "--".into(),
    ];
    command.extend(
        spec.command
            .iter()
            .map(|argument| generated.remap_argument(argument)),
    );
    let mut env = Vec::new();
    for (key, value) in &spec.program_env() {
        let value = match key.as_str() {
            "HOME" => EnvValue::Literal(home.to_string_lossy().into_owned()),
            "TMPDIR" => EnvValue::Literal(tmp.to_string_lossy().into_owned()),
            "PYTHONPATH" => match value {
                EnvValue::Literal(text) => EnvValue::Literal(generated.remap_path_list(text)),
                EnvValue::FromHost(_) => value.clone(),
            },
            _ => value.clone(),
        };
        env.push((key.clone(), value));
    }
    for (key, path) in [("HOME", &home), ("TMPDIR", &tmp)] {
        if !env.iter().any(|(name, _)| name == key) {
            env.push((
                key.to_owned(),
                EnvValue::Literal(path.to_string_lossy().into_owned()),
            ));
        }
    }
    let mut directories = vec![home, tmp];
    let files = generated.files();
    for (path, _) in &files {
        for parent in path.ancestors().skip(1) {
            if parent == run || !parent.starts_with(run) {
                break;
            }
            if !directories.iter().any(|directory| directory == parent) {
                directories.push(parent.to_path_buf());
            }
        }
    }
    directories.sort_by_key(|directory| depth(directory));

    Ok(SeatbeltCommand {
        program: PathBuf::from(SANDBOX_EXEC),
        profile: SeatbeltProfile {
            text: profile.text,
            params: profile.params,
        },
        command,
        env,
        workdir: spec.workdir.clone(),
        directories,
        files,
        tag,
    })
}

/// The tag is the one piece of text (besides fixed rules) in the profile: only letters,
/// digits, `-` and `_` survive, so it can never end the string it is written in.
fn clean_tag(tag: &str) -> String {
    let clean: String = tag
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .collect();
    if clean.is_empty() {
        TAG_PLACEHOLDER.to_owned()
    } else {
        clean
    }
}

fn push_filters(profile: &mut Builder, filters: &[String]) {
    let last = filters.len().saturating_sub(1);
    for (index, filter) in filters.iter().enumerate() {
        let close = if index == last { ")" } else { "" };
        profile.line(&format!("  {filter}{close}"));
    }
}

/// Generated files (`spec.files`, mounted by bwrap at fixed paths) live in the run
/// directory on macOS; paths that name them are rewritten.
struct GeneratedFiles<'a> {
    spec: &'a SandboxSpec,
    directory: &'a Path,
}

impl<'a> GeneratedFiles<'a> {
    fn new(spec: &'a SandboxSpec, directory: &'a Path) -> GeneratedFiles<'a> {
        GeneratedFiles { spec, directory }
    }

    fn is_empty(&self) -> bool {
        self.spec.files.is_empty()
    }

    /// Where `path` (a generated file or a directory holding them) is on macOS.
    fn remap(&self, path: &Path) -> Option<PathBuf> {
        let generated = self.spec.files.iter().any(|(dest, _)| {
            dest.parent()
                .is_some_and(|parent| parent.parent().is_some() && path.starts_with(parent))
        });
        let relative = path.strip_prefix("/").ok()?;
        generated.then(|| self.directory.join(relative))
    }

    fn remap_argument(&self, argument: &OsString) -> OsString {
        let path = Path::new(argument);
        match path.is_absolute().then(|| self.remap(path)).flatten() {
            Some(remapped) => remapped.into_os_string(),
            None => argument.clone(),
        }
    }

    fn remap_path_list(&self, list: &str) -> String {
        list.split(':')
            .map(|entry| match self.remap(Path::new(entry)) {
                Some(remapped) if !entry.is_empty() => remapped.to_string_lossy().into_owned(),
                _ => entry.to_owned(),
            })
            .collect::<Vec<_>>()
            .join(":")
    }

    fn files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        self.spec
            .files
            .iter()
            .filter_map(|(dest, contents)| Some((self.remap(dest)?, contents.clone())))
            .collect()
    }
}

/// The working directory is mounted read-write: never a system directory.
fn check_workdir(workdir: &Path) -> Result<(), Error> {
    if FORBIDDEN_WORKDIRS
        .iter()
        .any(|forbidden| workdir == Path::new(forbidden))
    {
        return Err(Error::Workdir {
            path: workdir.to_path_buf(),
            reason: "a system directory cannot be writable in the sandbox".to_owned(),
            hint: None,
        });
    }
    Ok(())
}

/// Seatbelt filters paths, it cannot show a directory at another path; and protected
/// paths are never opened.
fn check_mounts(spec: &SandboxSpec, facts: &MacosFacts) -> Result<(), Error> {
    for mount in &spec.mounts {
        if mount.dest != mount.source {
            let flag = if mount.writable { "--rw" } else { "--ro" };
            return Err(Error::Inexpressible {
                what: format!(
                    "`{}:{}` (from `{}`)",
                    mount.source.display(),
                    mount.dest.display(),
                    mount.origin
                ),
                target: "macOS",
                reason: format!(
                    "Seatbelt allows or denies paths as they are; it cannot show `{}` at `{}`",
                    mount.source.display(),
                    mount.dest.display()
                ),
                hint: format!(
                    "use the same path inside the sandbox (`{flag} {}`), and have the program read it there",
                    mount.source.display()
                ),
            });
        }
        let source = facts.canonical(&mount.source);
        // The same gate the Linux route passes, on the resolved path Seatbelt matches.
        if mount.origin != crate::sandbox::PROTECTED_ORIGIN {
            let role = if mount.writable {
                super::gate::Role::ReadWrite
            } else {
                super::gate::Role::ReadOnly
            };
            super::gate::check(
                super::gate::Request {
                    source: &source,
                    dest: &source,
                    role,
                    users_word: true,
                    protected_names: &spec.protected_names,
                },
                None,
            )
            .map_err(|refusal| Error::MountRefused {
                key: mount.origin.clone(),
                path: mount.source.clone(),
                reason: refusal.reason,
                hint: Some(refusal.hint),
            })?;
        }
        for protected in PROTECTED {
            if source.starts_with(protected.path) {
                return Err(Error::MountRefused {
                    key: mount.origin.clone(),
                    path: mount.source.clone(),
                    reason: format!(
                        "boxpy never exposes `{}` ({})",
                        protected.path, protected.why
                    ),
                    hint: None,
                });
            }
        }
        if source == Path::new("/") {
            return Err(Error::MountRefused {
                key: mount.origin.clone(),
                path: mount.source.clone(),
                reason: "mounting `/` would expose the whole host".to_owned(),
                hint: None,
            });
        }
    }
    Ok(())
}

/// `boxpy render --target macos`'s text: a shell script that sets `BOXPY_PROFILE` to the
/// profile and runs sandbox-exec with it, one argument per line, shell-quoted.
pub fn to_shell_script(command: &SeatbeltCommand) -> String {
    let mut text = String::new();
    text.push_str("# boxpy: the Seatbelt profile (passed with -p) and the sandbox-exec command.\n");
    text.push_str(
        "# Every path in the profile is a -D parameter. boxpy creates the run directory\n",
    );
    text.push_str("# (HOME, TMPDIR and generated files) for each run and removes it afterwards;\n");
    text.push_str(&format!(
        "# descriptor {START_REPORT_FD} is the start helper's report to boxpy. Denials are logged:\n"
    ));
    text.push_str(&format!("#   {}\n", log_stream_command(&command.tag)));
    text.push_str("BOXPY_PROFILE=$(cat <<'BOXPY_PROFILE_END'\n");
    text.push_str(&command.profile.text);
    if !command.profile.text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str("BOXPY_PROFILE_END\n)\n");

    let mut lines = vec![
        format!("cd {} &&", shell_quote(&command.workdir.to_string_lossy())),
        "env -i".to_owned(),
    ];
    for (key, value) in &command.env {
        lines.push(match value {
            EnvValue::Literal(value) => shell_quote(&format!("{key}={value}")),
            EnvValue::FromHost(name) => format!("\"{key}=${name}\""),
        });
    }
    lines.push(shell_quote(&command.program.to_string_lossy()));
    lines.push("-p".to_owned());
    lines.push("\"$BOXPY_PROFILE\"".to_owned());
    for (name, value) in &command.profile.params {
        lines.push(shell_quote(&format!(
            "-D{name}={}",
            value.to_string_lossy()
        )));
    }
    lines.push("--".to_owned());
    for argument in &command.command {
        lines.push(shell_quote(&argument.to_string_lossy()));
    }
    // `cd DIR &&` stands alone on the first line; the command continues from the second.
    text.push_str(&lines[0]);
    text.push('\n');
    let rest = &lines[1..];
    for (index, line) in rest.iter().enumerate() {
        if index > 0 {
            text.push_str("  ");
        }
        text.push_str(line);
        text.push_str(if index + 1 < rest.len() {
            " \\\n"
        } else {
            "\n"
        });
    }
    text
}

/// `boxpy render --target macos --json`: the same command as one JSON object.
pub fn to_json(command: &SeatbeltCommand) -> serde_json::Value {
    let env: serde_json::Map<String, serde_json::Value> = command
        .env
        .iter()
        .map(|(key, value)| {
            let value = match value {
                EnvValue::Literal(value) => serde_json::Value::String(value.clone()),
                EnvValue::FromHost(name) => serde_json::json!({ "from_host": name }),
            };
            (key.clone(), value)
        })
        .collect();
    serde_json::json!({
        "target": "macos",
        "program": command.program,
        "profile": command.profile.text,
        "params": command.profile.params.iter().map(|(name, value)| serde_json::json!({
            "name": name,
            "value": value,
        })).collect::<Vec<_>>(),
        "command": command.command.iter().map(|arg| arg.to_string_lossy()).collect::<Vec<_>>(),
        "env": env,
        "workdir": command.workdir,
        "directories": command.directories,
        "files": command.files.iter().map(|(path, contents)| serde_json::json!({
            "path": path,
            "contents": String::from_utf8_lossy(contents),
        })).collect::<Vec<_>>(),
        "tag": command.tag,
        "log_stream": log_stream_command(&command.tag),
        "fds": {"start_report": START_REPORT_FD},
    })
}

#[cfg(test)]
mod tests;
