//! What a sandbox contains, as plain data ([`SandboxSpec`]), and the pure renderers that
//! turn it into a bwrap command line (Linux) or a Seatbelt profile (macOS).
//!
//! Nothing here touches the system: the spec is built by `settings` from the policy, the
//! venv and [`HostFacts`](crate::host::HostFacts), so every security-relevant change shows up
//! as a snapshot diff of the rendered command.

pub mod bwrap;
pub mod gate;
pub mod protect;
pub mod rlimit;
pub(crate) mod seatbelt;
#[cfg(target_os = "linux")]
pub mod seccomp;

use std::ffi::OsString;
use std::path::PathBuf;

use crate::policy::{Limits, Mount, NetworkMode};
use crate::venv::Interpreter;

pub use crate::text::shell_quote;

/// The file descriptor numbers the exec module arranges in bwrap's process.
pub mod fds {
    /// bwrap's `--json-status-fd`.
    pub const STATUS: i32 = 3;
    /// The sandbox init's report (exit status and resource usage of the program).
    pub const INIT_REPORT: i32 = 4;
    /// bwrap's `--seccomp`.
    pub const SECCOMP: i32 = 5;
    /// A channel from a boxpy helper program inside the sandbox (the notebook driver).
    pub const CHANNEL: i32 = 6;
    /// The first of the generated files (`--ro-bind-data`, `--file`); the host files
    /// copied in (`--file`) follow them, then the init's setup socket (when there is one),
    /// then boxpy's own executable, which bwrap runs as the init.
    pub const FIRST_DATA: i32 = 7;
}

/// How the init learns the limits it applies before it starts the program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitSetup {
    /// On its command line (`--rlimit NAME=SOFT:HARD`, set by the init on itself before it
    /// spawns the program): what `boxpy render` shows, and what a run by hand applies.
    Inline(Vec<rlimit::Rlimit>),
    /// On a socket (`--setup FD`), after bwrap has started: a run plans its limits
    /// (creating the cgroups, sweeping stale ones) while bwrap builds the sandbox, then
    /// sends the rlimits, the cgroup files and the program's pipes; the init waits for them.
    Deferred,
}

impl Default for InitSetup {
    fn default() -> InitSetup {
        InitSetup::Inline(Vec::new())
    }
}

/// How bwrap starts boxpy's own executable as PID 1: through the descriptor `fd` boxpy
/// passes, so the executable needs no mount (a bind costs bwrap a pass over the mount
/// table). The init closes the descriptor first thing (`--executable FD`).
pub fn init_path(fd: i32) -> String {
    format!("/proc/self/fd/{fd}")
}
/// The argument that makes boxpy act as the sandbox init.
pub const INIT_ARGUMENT: &str = "__sandbox-init";

/// The `origin` of the read-only mounts over protected names ([`protect`]).
pub const PROTECTED_ORIGIN: &str = "protected path";

/// The `origin` of the read-only mounts of system caches
/// ([`crate::policy::defaults::SYSTEM_CACHES`]).
pub const SYSTEM_CACHE_ORIGIN: &str = "system cache";

/// The start of the `origin` of a library cache's read-only file (`crate::cache`),
/// followed by the library's name.
pub const LIBRARY_CACHE_ORIGIN: &str = "library cache of this venv:";

/// A variable for the program's environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvValue {
    /// A value boxpy or the policy sets.
    Literal(String),
    /// The host's value of the same variable, passed through (`env.pass`, `--env KEY`).
    /// Rendered as `"$KEY"` so `boxpy render` never prints secrets.
    FromHost(String),
}

/// Everything the renderers need, resolved and absolute.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxSpec {
    /// Read-write, the program's cwd.
    pub workdir: PathBuf,
    /// Extra mounts from the policy and flags whose source exists.
    pub mounts: Vec<Mount>,
    /// The interpreter and the paths it needs.
    pub interpreter: Interpreter,
    /// A script outside every visible path, mounted read-only on its own.
    pub script_mount: Option<PathBuf>,
    pub network: NetworkMode,
    /// Where the program finds boxpy's proxy: `Some` exactly when `network` is `proxy`.
    pub proxy: Option<ProxyPorts>,
    pub tmp_size: Option<u64>,
    pub limits: Limits,
    /// The private HOME inside the sandbox.
    pub home: PathBuf,
    /// The program's environment, in order.
    pub env: Vec<(String, EnvValue)>,
    /// The program and its arguments (argv[0] is the interpreter or the command).
    pub command: Vec<OsString>,
    /// Generated files mounted read-only (e.g. the `deny_imports` guard): (path, contents).
    pub files: Vec<(PathBuf, Vec<u8>)>,
    /// Whether a seccomp filter is passed on [`fds::SECCOMP`].
    pub seccomp: bool,
    /// `--disable-userns` is available (bwrap >= 0.8).
    pub disable_userns: bool,
    /// Credentials covered inside (`filesystem.hide`, `--hide`, the defaults): files read
    /// as empty, directories as empty directories.
    pub hidden: Vec<HiddenPath>,
    /// The names host tools run or obey, at the top of the workdir and each writable mount
    /// (`filesystem.protect` and the defaults): Seatbelt forbids creating them.
    pub protected_names: Vec<String>,
    /// Whether the run sees the host's font configuration (`/etc/fonts`; settings adds
    /// fontconfig's cache, [`crate::policy::defaults::SYSTEM_CACHES`], on the same word):
    /// when the venv holds a library that reads it ([`crate::venv::uses_fonts`]), or
    /// boxpy cannot tell (no venv, a venv that sees the system's packages, `PYTHONPATH`,
    /// `exec`). Each is
    /// a bind mount, which costs bwrap a pass over its mount table at every start.
    pub fonts: bool,
}

impl<'a> From<&'a SandboxSpec> for crate::host::macos::ProbedPaths<'a> {
    fn from(spec: &'a SandboxSpec) -> Self {
        crate::host::macos::ProbedPaths {
            workdir: &spec.workdir,
            executable: &spec.interpreter.executable,
            venv: spec.interpreter.venv.as_deref(),
            read_only_paths: &spec.interpreter.read_only_paths,
            mount_sources: spec
                .mounts
                .iter()
                .map(|mount| mount.source.as_path())
                .collect(),
            script_mount: spec.script_mount.as_deref(),
        }
    }
}

/// The ports of boxpy's proxy as the program reaches them on loopback. On Linux the
/// fixed [`crate::network::HTTP_PORT`] and [`crate::network::SOCKS_PORT`] in the sandbox's
/// own network namespace; on macOS the host loopback ports the backend binds for the run
/// (`boxpy render` shows the defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyPorts {
    pub http: u16,
    pub socks: u16,
}

impl Default for ProxyPorts {
    fn default() -> ProxyPorts {
        ProxyPorts {
            http: crate::network::HTTP_PORT,
            socks: crate::network::SOCKS_PORT,
        }
    }
}

/// The variables that point clients at boxpy's proxy: `HTTP_PROXY`, `HTTPS_PROXY`,
/// `ALL_PROXY` and their lower-case twins (pip, requests, httpx, urllib, aiohttp with
/// `trust_env`, git, curl) name the HTTP proxy, `NO_PROXY` keeps loopback direct.
/// `ALL_PROXY` names the HTTP proxy too, not the SOCKS5 one: httpx refuses to build any
/// client when it names a SOCKS proxy and the optional `socksio` is missing. The SOCKS5
/// port is there for programs that ask for it.
pub fn proxy_variables(ports: ProxyPorts) -> Vec<(&'static str, String)> {
    let http = format!("http://127.0.0.1:{}", ports.http);
    let no_proxy = "localhost,127.0.0.1,::1".to_owned();
    vec![
        ("HTTP_PROXY", http.clone()),
        ("HTTPS_PROXY", http.clone()),
        ("ALL_PROXY", http.clone()),
        ("http_proxy", http.clone()),
        ("https_proxy", http.clone()),
        ("all_proxy", http),
        ("NO_PROXY", no_proxy.clone()),
        ("no_proxy", no_proxy),
    ]
}

impl SandboxSpec {
    /// The program's environment: `env`, and in proxy mode [`proxy_variables`] in place of
    /// any variable of the same name (they say where boxpy's proxy listens, which only boxpy
    /// knows; a program can still unset them, but the proxy is its only way out anyway).
    pub fn program_env(&self) -> Vec<(String, EnvValue)> {
        let Some(ports) = self.proxy else {
            return self.env.clone();
        };
        let proxy = proxy_variables(ports);
        let mut env: Vec<(String, EnvValue)> = self
            .env
            .iter()
            .filter(|(name, _)| !proxy.iter().any(|(proxy_name, _)| proxy_name == name))
            .cloned()
            .collect();
        env.extend(
            proxy
                .into_iter()
                .map(|(name, value)| (name.to_owned(), EnvValue::Literal(value))),
        );
        env
    }
}

/// A path covered inside the sandbox (see [`protect`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HiddenPath {
    /// Where it appears inside.
    pub dest: PathBuf,
    pub directory: bool,
}

/// A file whose contents bwrap copies into the sandbox from a pipe (`--ro-bind-data`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    pub fd: i32,
    pub dest: PathBuf,
    pub contents: Vec<u8>,
}

/// A host file bwrap copies into the sandbox (`--file FD DEST`): boxpy opens `source`
/// read-only when it runs the command and passes it as descriptor `fd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopiedFile {
    pub fd: i32,
    pub source: PathBuf,
    pub dest: PathBuf,
}

/// A host path the user's side chose to mount (the workdir, a mount, the interpreter):
/// boxpy opens `source` with `O_PATH`, following no symlink anywhere on the way (the path
/// is resolved already), and passes it as `fd` for `--bind-fd`/`--ro-bind-fd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedSource {
    pub fd: i32,
    pub source: PathBuf,
}

/// The fully rendered Linux command: what the exec module spawns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BwrapCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// The environment bwrap starts with (and passes into the sandbox); nothing else.
    pub env: Vec<(String, EnvValue)>,
    pub data: Vec<DataFile>,
    /// Host files copied in, numbered after the data files.
    pub copies: Vec<CopiedFile>,
    /// The user's mounts as descriptors (a run, not `boxpy render`), numbered after the
    /// copies.
    pub pinned: Vec<PinnedSource>,
    /// Where the init reads its limits ([`InitSetup::Deferred`]): a socket boxpy passes.
    pub setup_fd: Option<i32>,
    /// boxpy's own executable, opened read-only and passed as descriptor `fd`: bwrap runs
    /// it as the init through [`init_path`].
    pub init: InitExecutable,
}

/// boxpy's executable as the sandbox's init: `source` opened read-only as descriptor `fd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitExecutable {
    pub fd: i32,
    pub source: PathBuf,
}
