//! Expected failures: every way boxpy can refuse or fail before (or around) the program,
//! each with its exit code (SPEC §5) and the hints that tell the user what to change.
//!
//! Only `lib.rs` turns an [`Error`] into an exit code and only `report.rs` prints it.

use std::fmt;
use std::path::PathBuf;

use crate::exit;

/// Where in a policy file something went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyLocation {
    /// The file as the user named it (or `<built-in NAME>`).
    pub file: String,
    /// 1-based line and column, when known.
    pub line: Option<usize>,
    pub column: Option<usize>,
}

impl fmt::Display for PolicyLocation {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(formatter, "{}:{line}:{column}", self.file),
            (Some(line), None) => write!(formatter, "{}:{line}", self.file),
            _ => write!(formatter, "{}", self.file),
        }
    }
}

/// Why the kernel or the host refused to create the sandbox's namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamespaceCause {
    /// Ubuntu 23.10+ `kernel.apparmor_restrict_unprivileged_userns=1`.
    AppArmor,
    /// Debian/older kernels: `kernel.unprivileged_userns_clone=0`.
    UsernsCloneDisabled,
    /// `user.max_user_namespaces=0`.
    MaxUserNamespacesZero,
    /// Running inside a container whose seccomp/capabilities refuse namespaces.
    Container,
    /// None of the above could be identified.
    Unknown,
}

/// What boxpy was doing with the working directory when a call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkdirAction {
    /// Creating the directory `--workdir` (or the policy) named.
    Create,
    /// Reading the current directory (the default working directory).
    ReadCurrent,
}

/// An expected failure. `exit_code()` maps it onto SPEC §5, `hints()` says what fixes it.
#[derive(Debug)]
pub enum Error {
    /// Bad command-line usage that clap could not catch.
    Usage {
        message: String,
        hint: Option<String>,
    },
    /// The policy file cannot be read, parsed or validated.
    Policy {
        location: PolicyLocation,
        message: String,
        hint: Option<String>,
    },
    /// A policy found in the working directory widens the sandbox and is not trusted
    /// (`boxpy policy trust` records it).
    UntrustedPolicy {
        file: PathBuf,
        /// Each widening, as "`key`: what it asks for".
        widenings: Vec<String>,
        /// It was trusted once and has changed since.
        changed: bool,
    },
    /// A venv's base installation would expose the caller's home or its credentials.
    VenvBaseRefused {
        venv: PathBuf,
        prefix: PathBuf,
        reason: String,
    },
    /// A path named by a mount key or flag does not exist (and is not `optional`).
    MountMissing { key: String, path: PathBuf },
    /// A mount would break one of boxpy's guarantees (e.g. `/etc/shadow`).
    MountRefused {
        key: String,
        path: PathBuf,
        reason: String,
        /// What to do instead, when the rule that refused it knows better than the
        /// generic hint.
        hint: Option<String>,
    },
    /// The working directory does not exist or cannot be used.
    Workdir {
        path: PathBuf,
        reason: String,
        hint: Option<String>,
    },
    /// The working directory could not be created, or the current directory read: the
    /// failed call's path and its error.
    WorkdirIo {
        path: PathBuf,
        action: WorkdirAction,
        source: std::io::Error,
    },
    /// `bwrap` is not installed or not on PATH.
    BwrapMissing,
    /// bwrap could not create namespaces.
    NamespacesRefused {
        detail: String,
        cause: NamespaceCause,
    },
    /// bwrap failed for another reason before the program started.
    SandboxSetup { detail: String },
    /// The sandbox's init could not apply a limit (an rlimit above what the kernel allows,
    /// a cgroup it could not join): the program never runs without it.
    LimitNotApplied {
        detail: String,
        /// The policy key behind it (`limits.open_files`), when known.
        key: Option<String>,
    },
    /// The venv directory does not exist or is not a venv.
    VenvNotFound {
        path: PathBuf,
        origin: String,
        reason: String,
        /// Whether something is there (a file, a directory that is no environment): the
        /// summary then says it cannot be used rather than that it is missing.
        exists: bool,
    },
    /// A venv's `pyvenv.cfg` is there but cannot be read (permissions, not a regular file,
    /// too large).
    VenvConfigUnreadable {
        venv: PathBuf,
        origin: String,
        source: crate::bounded::ReadError,
    },
    /// The interpreter does not exist (or the venv's link to its base interpreter is broken).
    InterpreterNotFound {
        path: PathBuf,
        detail: String,
        hint: Option<String>,
    },
    /// The interpreter exists but cannot be executed.
    InterpreterNotExecutable { path: PathBuf, detail: String },
    /// The program could not be started inside the sandbox (not found there, or not
    /// executable).
    ProgramNotStarted {
        path: PathBuf,
        detail: String,
        not_found: bool,
    },
    /// The script to run does not exist.
    ScriptNotFound { path: PathBuf },
    /// This platform has no sandbox boxpy can use.
    UnsupportedPlatform { detail: String },
    /// The policy asks for something the target's sandbox cannot express (a mount at
    /// another path with Seatbelt): refused rather than silently enforced differently.
    Inexpressible {
        what: String,
        target: &'static str,
        reason: String,
        hint: String,
    },
    /// Something unexpected; the chain carries the context.
    Internal(anyhow::Error),
}

impl Error {
    /// The process exit code for this failure (SPEC §5).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage { .. }
            | Error::Policy { .. }
            | Error::UntrustedPolicy { .. }
            | Error::VenvBaseRefused { .. }
            | Error::MountMissing { .. }
            | Error::MountRefused { .. }
            | Error::Workdir { .. }
            | Error::WorkdirIo { .. }
            | Error::BwrapMissing
            | Error::NamespacesRefused { .. }
            | Error::SandboxSetup { .. }
            | Error::LimitNotApplied { .. }
            | Error::ScriptNotFound { .. }
            | Error::UnsupportedPlatform { .. }
            | Error::Inexpressible { .. }
            | Error::Internal(_) => exit::SANDBOX_FAILED,
            Error::InterpreterNotExecutable { .. } => exit::NOT_EXECUTABLE,
            Error::ProgramNotStarted { not_found, .. } => {
                if *not_found {
                    exit::NOT_FOUND
                } else {
                    exit::NOT_EXECUTABLE
                }
            }
            Error::VenvNotFound { .. }
            | Error::VenvConfigUnreadable { .. }
            | Error::InterpreterNotFound { .. } => exit::NOT_FOUND,
        }
    }

    /// The one-line summary printed after `error: `.
    pub fn summary(&self) -> String {
        match self {
            Error::Usage { message, .. } => message.clone(),
            Error::Policy { location, .. } => format!("invalid policy `{}`", location.file),
            Error::UntrustedPolicy { file, changed, .. } => {
                if *changed {
                    format!(
                        "the policy `{}` changed since it was trusted, and it widens the sandbox",
                        file.display()
                    )
                } else {
                    format!(
                        "refusing the policy `{}` found in the working directory: it widens the sandbox and is not trusted",
                        file.display()
                    )
                }
            }
            Error::VenvBaseRefused { venv, prefix, .. } => format!(
                "refusing to mount `{}`, the base installation named by the venv `{}`",
                prefix.display(),
                venv.display()
            ),
            Error::MountMissing { key, path } => {
                format!("`{}` (from `{key}`) does not exist", path.display())
            }
            Error::MountRefused { key, path, .. } => {
                format!("refusing to mount `{}` (from `{key}`)", path.display())
            }
            Error::Workdir { path, .. } | Error::WorkdirIo { path, .. } => {
                format!("cannot use `{}` as the working directory", path.display())
            }
            Error::BwrapMissing => "bubblewrap (`bwrap`) is not installed".to_owned(),
            Error::NamespacesRefused { .. } => {
                "the kernel refused to create the sandbox's namespaces".to_owned()
            }
            Error::SandboxSetup { .. } => if cfg!(target_os = "macos") {
                "sandbox-exec failed to set up the sandbox"
            } else {
                "bubblewrap failed to set up the sandbox"
            }
            .to_owned(),
            Error::LimitNotApplied { .. } => {
                "the sandbox could not apply a limit, so the program did not run".to_owned()
            }
            Error::VenvNotFound {
                path, exists: true, ..
            }
            | Error::VenvConfigUnreadable { venv: path, .. } => {
                format!("`{}` cannot be used as the virtualenv", path.display())
            }
            Error::VenvNotFound { path, .. } => {
                format!("virtualenv `{}` not found", path.display())
            }
            Error::InterpreterNotFound { path, .. } => {
                format!("python interpreter `{}` not found", path.display())
            }
            Error::InterpreterNotExecutable { path, .. } => {
                format!("python interpreter `{}` cannot be executed", path.display())
            }
            Error::ScriptNotFound { path } => format!("script `{}` not found", path.display()),
            Error::ProgramNotStarted {
                path, not_found, ..
            } => {
                if *not_found {
                    format!("`{}` was not found inside the sandbox", path.display())
                } else {
                    format!("`{}` cannot be executed inside the sandbox", path.display())
                }
            }
            Error::UnsupportedPlatform { .. } => "this platform cannot be sandboxed".to_owned(),
            Error::Inexpressible { what, target, .. } => {
                format!("{what} cannot be enforced on {target}")
            }
            Error::Internal(error) => format!("{error}"),
        }
    }

    /// The `Caused by:` lines.
    pub fn causes(&self) -> Vec<String> {
        match self {
            Error::Policy {
                location, message, ..
            } => {
                if location.line.is_some() {
                    vec![format!("{message} at {location}")]
                } else {
                    vec![message.clone()]
                }
            }
            Error::MountRefused { reason, .. } => vec![reason.clone()],
            Error::UntrustedPolicy { widenings, .. } => widenings.clone(),
            Error::VenvBaseRefused { reason, .. } => vec![reason.clone()],
            Error::Workdir { reason, .. } => vec![reason.clone()],
            Error::WorkdirIo { action, source, .. } => vec![match action {
                WorkdirAction::Create => {
                    format!("could not create it: {}", source.to_string().to_lowercase())
                }
                WorkdirAction::ReadCurrent => {
                    format!("the current directory is not accessible: {source}")
                }
            }],
            Error::NamespacesRefused { detail, .. }
            | Error::SandboxSetup { detail }
            | Error::LimitNotApplied { detail, .. } => vec![detail.clone()],
            Error::VenvNotFound { reason, .. } => vec![reason.clone()],
            Error::VenvConfigUnreadable { source, .. } => {
                vec![format!("its `pyvenv.cfg` cannot be read: {source}")]
            }
            Error::InterpreterNotFound { detail, .. }
            | Error::InterpreterNotExecutable { detail, .. }
            | Error::ProgramNotStarted { detail, .. } => vec![detail.clone()],
            Error::UnsupportedPlatform { detail } => vec![detail.clone()],
            Error::Inexpressible { reason, .. } => vec![reason.clone()],
            Error::Internal(error) => error.chain().skip(1).map(|c| c.to_string()).collect(),
            Error::Usage { .. }
            | Error::MountMissing { .. }
            | Error::BwrapMissing
            | Error::ScriptNotFound { .. } => Vec::new(),
        }
    }

    /// What the user can do about it: a key, a flag or a command.
    pub fn hints(&self) -> Vec<String> {
        match self {
            Error::Usage { hint, .. } | Error::Policy { hint, .. } => {
                hint.iter().cloned().collect()
            }
            Error::MountMissing { key, path } => vec![format!(
                "create `{}`, remove it from `{key}`, or mark it `{{ path = \"{}\", optional = true }}` in the policy",
                path.display(),
                path.display()
            )],
            Error::MountRefused { hint, .. } => vec![hint.clone().unwrap_or_else(|| {
                "mount the specific files or directories the program needs instead".to_owned()
            })],
            Error::Workdir { hint, .. } => vec![hint.clone().unwrap_or_else(|| {
                "pass an existing project directory with `--workdir DIR`".to_owned()
            })],
            Error::WorkdirIo { .. } => {
                vec!["pass an existing project directory with `--workdir DIR`".to_owned()]
            }
            Error::UntrustedPolicy { file, .. } => vec![
                format!(
                    "if you wrote or reviewed it, trust it with `boxpy policy trust {}` (any later change needs trusting again); or run with the built-in policy: `--policy default`",
                    crate::text::shell_quote(&file.to_string_lossy())
                ),
            ],
            Error::VenvBaseRefused { venv, .. } => vec![format!(
                "recreate the venv from a Python installation (`python3 -m venv --clear {}`), or pass another with `--venv DIR`",
                venv.display()
            )],
            Error::BwrapMissing => vec![
                "install it: `sudo apt-get install bubblewrap` (Debian/Ubuntu), `sudo dnf install bubblewrap` (Fedora), `sudo pacman -S bubblewrap` (Arch); then run `boxpy doctor`".to_owned(),
            ],
            Error::NamespacesRefused { cause, .. } => namespace_hints(*cause),
            Error::SandboxSetup { .. } => vec![if cfg!(target_os = "macos") {
                "run `boxpy render` to see the Seatbelt profile and `boxpy doctor` to check the host"
            } else {
                "run `boxpy render` to see the bwrap command line and `boxpy doctor` to check the host"
            }
            .to_owned()],
            Error::LimitNotApplied { key, .. } => vec![format!(
                "lower {} in the policy (`boxpy policy show` prints the resolved values); `boxpy doctor` shows how each limit is enforced on this host",
                key.as_ref()
                    .map_or("it under `[limits]`".to_owned(), |key| format!("`{key}`"))
            )],
            Error::VenvNotFound { origin, .. } | Error::VenvConfigUnreadable { origin, .. } => vec![format!(
                "create it with `python3 -m venv DIR` (or `uv venv DIR`), point {origin} at an existing venv or conda environment, or name the interpreter itself with `python.interpreter` in the policy"
            )],
            Error::InterpreterNotFound { hint, .. } => hint.iter().cloned().collect(),
            Error::InterpreterNotExecutable { path, .. } => vec![format!(
                "check the file's permissions: `ls -l {}`",
                path.display()
            )],
            Error::ProgramNotStarted { .. } => vec![
                "a program must be on the sandbox's PATH (the venv's bin, /usr/local/bin, /usr/bin, /bin) or under a mounted path; `boxpy render` shows the mounts".to_owned(),
            ],
            Error::ScriptNotFound { .. } => vec![
                "check the path; it is resolved against the current directory".to_owned(),
            ],
            Error::UnsupportedPlatform { .. } => Vec::new(),
            Error::Inexpressible { hint, .. } => vec![hint.clone()],
            Error::Internal(_) => Vec::new(),
        }
    }
}

fn namespace_hints(cause: NamespaceCause) -> Vec<String> {
    let specific = match cause {
        NamespaceCause::AppArmor => "this host restricts unprivileged user namespaces with AppArmor (`kernel.apparmor_restrict_unprivileged_userns=1`); install the `bwrap-userns-restrict` AppArmor profile (Ubuntu 24.04: `sudo apt install apparmor-profiles` and load `/usr/share/apparmor/extra-profiles/bwrap-userns-restrict`), or as a last resort `sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0`",
        NamespaceCause::UsernsCloneDisabled => "unprivileged user namespaces are disabled; enable them with `sudo sysctl kernel.unprivileged_userns_clone=1`",
        NamespaceCause::MaxUserNamespacesZero => "user namespaces are disabled (`user.max_user_namespaces=0`); enable them with `sudo sysctl user.max_user_namespaces=15000`",
        NamespaceCause::Container => "boxpy seems to run inside a container that refuses new namespaces; run the container with `--security-opt seccomp=unconfined --security-opt apparmor=unconfined --security-opt systempaths=unconfined` (Docker) or run boxpy on the host",
        NamespaceCause::Unknown => "the host refuses unprivileged user namespaces; check `sysctl kernel.unprivileged_userns_clone`, `user.max_user_namespaces` and AppArmor",
    };
    vec![
        specific.to_owned(),
        "run `boxpy doctor` for a full check of this machine".to_owned(),
    ]
}

impl fmt::Display for Error {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str(&self.summary())
    }
}

impl std::error::Error for Error {
    /// The io error a variant keeps (`WorkdirIo`, `VenvConfigUnreadable`); the rest carry
    /// their cause in their own fields.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::WorkdirIo { source, .. } => Some(source),
            Error::VenvConfigUnreadable {
                source: crate::bounded::ReadError::Io(source),
                ..
            } => Some(source),
            _ => None,
        }
    }
}

impl From<anyhow::Error> for Error {
    fn from(error: anyhow::Error) -> Self {
        match error.downcast::<Error>() {
            Ok(error) => error,
            Err(error) => Error::Internal(error),
        }
    }
}

/// Convenience alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests;
