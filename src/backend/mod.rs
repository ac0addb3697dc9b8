//! The seam every sandbox backend goes through (issue 16): the commands (`run`, `exec`,
//! `nbexec`, `render`) pick a backend with [`select`] (the one place the host's platform
//! chooses the pipeline) or [`for_target`] (`boxpy render --target`), and then call only
//! [`Backend`]'s methods. bubblewrap ([`bwrap`]) and Seatbelt ([`seatbelt`]) are its two
//! implementations; another (Landlock on a host without user namespaces, bwrap nested in
//! a container) is one more file here and one more arm in [`select`], and no command
//! changes.
//!
//! A backend holds the host's facts, probed once when it is made; it validates a
//! [`crate::sandbox::SandboxSpec`] against them, renders a [`Launch`] (the pure renderers of
//! `sandbox/`), says how each limit is enforced ([`Limit`]), and runs. What it has to tell
//! the user while it runs (a limit it cannot enforce, what the program left behind, the
//! launch for `-v`) goes to the caller's observer as a [`Notice`]: this layer prints nothing.

pub(crate) mod bwrap;
pub(crate) mod seatbelt;

use std::path::Path;
use std::sync::mpsc;

use crate::error::{Error, Result};
use crate::exec::{self, Outcome};
use crate::host::HostFacts;
use crate::sandbox::seatbelt::SeatbeltCommand;
use crate::sandbox::BwrapCommand;
use crate::settings::Invocation;

/// One sandbox backend: the host's facts, and how to render and run a sandbox on it.
pub(crate) trait Backend {
    /// The host's facts, probed when the backend was made; the settings resolve against them.
    fn host(&self) -> &HostFacts;

    /// What this backend can do beyond running a program.
    fn capabilities(&self) -> Capabilities;

    /// Checks `invocation`'s sandbox against the host before anything is started (a
    /// backend also refuses, when it renders, what its renderer cannot express).
    fn validate(&self, invocation: &Invocation) -> Result<()>;

    /// How each of the invocation's limits is enforced by this backend, as `boxpy render`
    /// would plan it (nothing on the host changes: no cgroup is created).
    fn limits(&self, invocation: &Invocation) -> Vec<Limit>;

    /// The launch `boxpy render` shows: what a run would start, with placeholders for what
    /// each run creates; nothing on the host changes.
    fn render(&self, invocation: &Invocation) -> Result<Launch>;

    /// The compiled seccomp filter `invocation` asks for, when this backend has one.
    fn seccomp_program(&self, invocation: &Invocation) -> Result<Option<Vec<u8>>>;

    /// Renders and runs the invocation's sandbox, applies its limits, and waits for it.
    fn run(&self, invocation: &Invocation, session: Session<'_>) -> Result<Outcome>;
}

/// What a backend can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Capabilities {
    /// A channel from a boxpy helper inside to boxpy ([`Session::channel`]: `nbexec`'s
    /// events), or why not.
    pub channel: std::result::Result<(), &'static str>,
    /// A seccomp filter (`boxpy render --seccomp-out`).
    pub seccomp: bool,
}

impl Capabilities {
    /// The channel, or the error `nbexec` reports where there is none.
    pub(crate) fn require_channel(&self) -> Result<()> {
        self.channel.map_err(|detail| Error::UnsupportedPlatform {
            detail: detail.to_owned(),
        })
    }
}

/// One run's connections to its caller.
pub(crate) struct Session<'a> {
    /// Receives each line a boxpy helper inside writes to its channel (see
    /// [`Capabilities::channel`]).
    pub channel: Option<mpsc::SyncSender<String>>,
    /// Told what the user should hear while the run goes on, as it happens.
    pub observer: &'a dyn Fn(&Notice<'_>),
    /// The process's runtime: the CLI's ([`crate::exec::Runtime::cli`]) or a server's.
    pub runtime: &'a crate::exec::Runtime,
    /// The program's stdin, stdout and stderr.
    pub io: crate::exec::Io,
    /// The caller's environment, snapshotted once (`env.pass` takes its values here).
    pub env: crate::exec::Environment,
    /// Told, from the output pumps, what happens to the program's output (the output limit
    /// reached) as it happens.
    pub output: crate::exec::Observer,
}

impl Session<'_> {
    /// What exec takes for a run of `invocation` in this session: its I/O, environment,
    /// output observer and channel, the invocation's output limit and timeout.
    fn exec_options(
        self,
        invocation: &Invocation,
        seccomp: Option<Vec<u8>>,
        count_discarded: Vec<(exec::discarded::Place, std::path::PathBuf)>,
    ) -> exec::ExecOptions {
        let network = proxy_config(invocation, &self.env, self.observer);
        exec::ExecOptions {
            io: self.io,
            env: self.env,
            observer: self.output,
            output_limit: invocation.policy.limits.output,
            timeout: invocation.policy.limits.timeout,
            seccomp,
            network,
            channel: self.channel,
            count_discarded,
        }
    }
}

/// The network proxy's configuration when `invocation`'s network goes through it: its
/// rules, and the host's own proxy from the caller's environment (when the host's proxy
/// variables name one boxpy cannot chain through, `observer` is warned and the proxy
/// connects directly).
fn proxy_config(
    invocation: &Invocation,
    env: &exec::Environment,
    observer: &dyn Fn(&Notice<'_>),
) -> Option<crate::network::proxy::ProxyConfig> {
    let network = &invocation.policy.network;
    if network.mode != crate::policy::NetworkMode::Proxy {
        return None;
    }
    let upstream = upstream_of(env).unwrap_or_else(|why| {
        observer(&Notice::Warning(format!(
            "{why}; boxpy's proxy connects to allowed hosts directly"
        )));
        None
    });
    Some(crate::network::proxy::ProxyConfig {
        rules: network.rules(),
        upstream,
    })
}

/// The host's own proxy, from the caller's environment (`HTTPS_PROXY`, `HTTP_PROXY`,
/// `NO_PROXY`), which boxpy's proxy connects through.
fn upstream_of(
    env: &exec::Environment,
) -> std::result::Result<Option<crate::network::proxy::Upstream>, String> {
    crate::network::proxy::Upstream::from_env(|name| {
        env.get(name)
            .map(|value| value.to_string_lossy().into_owned())
    })
}

/// What a backend tells its caller during a run.
#[derive(Debug)]
pub(crate) enum Notice<'a> {
    /// The launch is rendered and about to start (`-v` shows it).
    Launch(&'a Launch),
    /// A warning for the user, in boxpy's words (a limit not enforced here, an old bwrap).
    Warning(String),
    /// The program's output is over: what follows is boxpy's.
    ProgramOutputEnded,
}

/// How one limit is enforced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Limit {
    /// The policy key (`limits.memory`, `filesystem.tmp_size`).
    pub key: String,
    pub enforcement: Enforcement,
}

/// The mechanism behind a limit, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Enforcement {
    /// Enforced by this mechanism (`RLIMIT_CPU`, a memory cgroup, a tmpfs's size).
    By(String),
    /// Not enforced on `scope` ("this host", "macOS"), for this reason.
    Not { scope: &'static str, reason: String },
}

impl Limit {
    /// The warning a run prints for a limit it cannot enforce.
    pub(crate) fn warning(&self) -> Option<String> {
        match &self.enforcement {
            Enforcement::By(_) => None,
            Enforcement::Not { scope, reason } => Some(format!(
                "`{}` is not enforced on {scope}: {reason}",
                self.key
            )),
        }
    }
}

/// The limits `plan` decided, each with its mechanism, in the plan's order: the rlimits,
/// then the cgroup's, then what it could not enforce.
pub(crate) fn planned_limits(plan: &exec::limits::Enforcement) -> Vec<Limit> {
    let mut limits: Vec<Limit> = plan
        .rlimits
        .iter()
        .map(|rlimit| Limit {
            key: rlimit.policy_key().unwrap_or("limits").to_owned(),
            enforcement: Enforcement::By(rlimit_name(rlimit)),
        })
        .collect();
    if let Some(cgroup) = &plan.cgroup {
        for (enforced, key, mechanism) in [
            (cgroup.memory, "limits.memory", "a memory cgroup"),
            (cgroup.processes, "limits.processes", "a pids cgroup"),
        ] {
            if enforced {
                limits.push(Limit {
                    key: key.to_owned(),
                    enforcement: Enforcement::By(mechanism.to_owned()),
                });
            }
        }
    }
    limits.extend(plan.unenforced.iter().map(|(key, reason)| Limit {
        key: key.clone(),
        enforcement: Enforcement::Not {
            scope: "this host",
            reason: reason.clone(),
        },
    }));
    limits
}

/// `RLIMIT_CPU`, as the policy key's rlimit is named.
fn rlimit_name(rlimit: &exec::limits::Rlimit) -> String {
    let argument = rlimit.to_argument();
    let name = argument.split('=').next().unwrap_or_default();
    format!("RLIMIT_{}", name.to_uppercase())
}

/// The limits boxpy itself enforces on every backend: the wall clock and the output.
fn own_limits(limits: &crate::policy::Limits) -> Vec<Limit> {
    [
        (
            limits.timeout.is_some(),
            "limits.timeout",
            "boxpy's deadline",
        ),
        (
            limits.output.is_some(),
            "limits.output",
            "boxpy's output budget",
        ),
    ]
    .into_iter()
    .filter(|(set, _, _)| *set)
    .map(|(_, key, mechanism)| Limit {
        key: key.to_owned(),
        enforcement: Enforcement::By(mechanism.to_owned()),
    })
    .collect()
}

/// A rendered sandbox launch: what a backend starts (argv, environment, descriptors,
/// files), one variant per renderer.
#[derive(Debug)]
pub(crate) enum Launch {
    Bwrap(BwrapCommand),
    Seatbelt(SeatbeltCommand),
}

impl Launch {
    /// `boxpy render --json`.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        match self {
            Launch::Bwrap(command) => crate::sandbox::bwrap::to_json(command),
            Launch::Seatbelt(command) => crate::sandbox::seatbelt::to_json(command),
        }
    }

    /// `boxpy render`'s script; `seccomp_file` is where `--seccomp-out` wrote the filter.
    pub(crate) fn to_script(&self, seccomp_file: Option<&Path>) -> String {
        match self {
            Launch::Bwrap(command) => crate::sandbox::bwrap::to_bash_script(command, seccomp_file),
            Launch::Seatbelt(command) => crate::sandbox::seatbelt::to_shell_script(command),
        }
    }

    /// The command as `-v` shows it.
    pub(crate) fn to_verbose(&self) -> String {
        match self {
            Launch::Bwrap(command) => crate::sandbox::bwrap::to_shell_lines(command),
            Launch::Seatbelt(command) => crate::sandbox::seatbelt::to_shell_script(command),
        }
    }
}

/// The backends `boxpy render --target` renders for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Bwrap,
    Seatbelt,
}

/// The backend that runs sandboxes on this host, its facts probed (`path_variable` is
/// where `bwrap` is looked for): the one place the platform chooses the pipeline.
pub(crate) fn select(path_variable: Option<&std::ffi::OsStr>) -> Result<Box<dyn Backend>> {
    if cfg!(target_os = "macos") {
        return Ok(Box::new(seatbelt::Seatbelt::probe(path_variable)));
    }
    if !cfg!(target_os = "linux") {
        return Err(Error::UnsupportedPlatform {
            detail: "boxpy needs Linux (bubblewrap) or macOS (Seatbelt)".to_owned(),
        });
    }
    Ok(Box::new(bwrap::Bwrap::probe(path_variable)?))
}

/// The backend of `kind`, for rendering only (`boxpy render --target`): on any host, and
/// without requiring what running would (`bwrap` itself, `sandbox-exec`).
pub(crate) fn for_target(kind: Kind, path_variable: Option<&std::ffi::OsStr>) -> Box<dyn Backend> {
    let host = HostFacts::probe(path_variable);
    match kind {
        Kind::Bwrap => Box::new(bwrap::Bwrap { host }),
        Kind::Seatbelt => Box::new(seatbelt::Seatbelt { host }),
    }
}

/// When boxpy's own binary was started as a backend's helper inside a sandbox (`args` as
/// the process got them): the helper's exit code. bwrap runs boxpy's init as PID 1
/// (`__sandbox-init`), Seatbelt its start helper (`__sandbox-start`, macOS only).
pub(crate) fn helper(args: &[std::ffi::OsString]) -> Option<i32> {
    let role = args.get(1)?;
    if role == crate::sandbox::INIT_ARGUMENT {
        return Some(exec::init::main(&args[2..]));
    }
    #[cfg(target_os = "macos")]
    if role == crate::sandbox::seatbelt::START_ARGUMENT {
        return Some(exec::macos::start(&args[2..]));
    }
    None
}

/// Moves aside the protected names the program created or replaced (`.git`, `.envrc`,
/// editor config, ...), so no host tool runs them, and tells the observer.
/// The sweeps this process has made: a run's quarantine directory is its own even when
/// runs go at once in one process (a server).
static SWEEPS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// `<seconds>-<pid>` for a process's first sweep (the CLI's only one), `<seconds>-<pid>-<n>`
/// for the n-th after it.
fn quarantine_name(seconds: u64, pid: u32, sweep: u64) -> String {
    match sweep {
        0 => format!("{seconds}-{pid}"),
        n => format!("{seconds}-{pid}-{n}"),
    }
}

fn sweep_leftovers(invocation: &Invocation, observer: &dyn Fn(&Notice<'_>)) {
    use crate::leftovers::{self, Leftover};
    let run = quarantine_name(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or(0),
        std::process::id(),
        SWEEPS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
    );
    let found = leftovers::sweep(&invocation.watches, &run);
    if !found.is_empty() {
        observer(&Notice::ProgramOutputEnded);
    }
    for leftover in found {
        observer(&Notice::Warning(match leftover {
            Leftover::Moved { from, to } => format!(
                "the program created `{}`, which host tools would run or obey; boxpy moved it to `{}`",
                from.display(),
                to.display()
            ),
            Leftover::Stuck { from } => format!(
                "the program created `{}`, which host tools would run or obey, and boxpy could not move it aside: remove it before using git or your editor here",
                from.display()
            ),
            Leftover::Unreadable { area } => format!(
                "`{}` could not be read after the run, so boxpy could not check what the program left there: inspect it before using git or your editor there",
                area.display()
            ),
        }));
    }
}

#[cfg(test)]
mod tests;
