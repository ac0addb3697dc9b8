//! Policies: what a sandbox may see and use, loaded from TOML (SPEC §4).
//!
//! `raw` mirrors the file; `validate` turns one file into a [`Layer`] with resolved paths
//! and located errors; this module finds the policy (lookup order), follows `extends`
//! and folds the layers into one [`Policy`]. Loading reads files; everything after the
//! read is pure so it is unit-tested on strings.

pub(crate) mod raw;
pub mod render;
pub(crate) mod units;
pub(crate) mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use raw::NetworkMode;

use crate::error::{Error, PolicyLocation, Result};
use validate::Layer;

/// The shipped policies, compiled into the binary: (name, TOML text, one-line summary).
pub const BUILTIN_POLICIES: &[(&str, &str, &str)] = &[
    (
        "default",
        include_str!("../../policies/default.toml"),
        "workdir read-write, no network, private /tmp and HOME, generous limits",
    ),
    (
        "strict",
        include_str!("../../policies/strict.toml"),
        "nothing but the workdir, no host variables, tight limits",
    ),
    (
        "net",
        include_str!("../../policies/net.toml"),
        "the default policy plus the host network, DNS and CA certificates",
    ),
];

/// The text of a shipped policy.
pub fn builtin(name: &str) -> Option<&'static str> {
    BUILTIN_POLICIES
        .iter()
        .find(|(builtin_name, _, _)| *builtin_name == name)
        .map(|(_, text, _)| *text)
}

/// A fully resolved policy: every path absolute, every size in bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// `default`, `strict`, `net`, or the policy file's path as the user gave it.
    pub name: String,
    pub python: PythonPolicy,
    pub filesystem: FilesystemPolicy,
    pub network: NetworkMode,
    pub limits: Limits,
    pub env: EnvPolicy,
    pub guards: Guards,
    pub audit_log: Option<PathBuf>,
}

/// `[python]`: which interpreter to run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PythonPolicy {
    pub venv: Option<PathBuf>,
    pub interpreter: Option<PathBuf>,
}

/// `[filesystem]`.
#[derive(Debug, Clone, PartialEq)]
pub struct FilesystemPolicy {
    pub workdir: PathBuf,
    pub read_only: Vec<Mount>,
    pub read_write: Vec<Mount>,
    pub tmp_size: Option<u64>,
}

/// One extra mount from the policy or a flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Absolute host path.
    pub source: PathBuf,
    /// Absolute path inside the sandbox (the same as `source` unless `SRC:DEST`).
    pub dest: PathBuf,
    /// A missing `source` is skipped instead of an error.
    pub optional: bool,
    /// Writable (`read_write`, `--rw`) or read-only.
    pub writable: bool,
    /// The policy key or flag it came from, for errors and hints (`filesystem.read_only`, `--ro`).
    pub origin: String,
}

/// `[limits]`. `None` means unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    pub timeout: Option<Duration>,
    pub cpu: Option<Duration>,
    pub memory: Option<u64>,
    pub processes: Option<u64>,
    pub file_size: Option<u64>,
    pub open_files: Option<u64>,
    pub output: Option<u64>,
}

/// `[env]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvPolicy {
    pub pass: Vec<String>,
    pub set: BTreeMap<String, String>,
}

/// `[guards]`: guardrails, not a security boundary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Guards {
    pub deny_imports: Vec<String>,
}

/// What the loader needs to know about the caller to resolve paths.
#[derive(Debug, Clone)]
pub struct LoadContext {
    /// Base for relative paths in built-in policies and for flags.
    pub cwd: PathBuf,
    /// Expansion of `~`.
    pub home: Option<PathBuf>,
}

/// Where the policy came from, in lookup order (SPEC §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    /// A shipped policy by name.
    Builtin(String),
    /// A policy file.
    File(PathBuf),
    /// The `[tool.boxpy]` table of a pyproject.toml.
    PyProject(PathBuf),
}

impl PolicySource {
    /// Interprets `--policy` / `$BOXPY_POLICY`: a shipped name unless it looks like a path.
    pub fn from_argument(argument: &str, cwd: &Path) -> PolicySource {
        let looks_like_path = argument.contains('/') || argument.ends_with(".toml");
        if !looks_like_path && builtin(argument).is_some() {
            PolicySource::Builtin(argument.to_owned())
        } else if !looks_like_path && !cwd.join(argument).exists() {
            // An unknown name: report it as a missing shipped policy (with a did-you-mean)
            // rather than as a missing file.
            PolicySource::Builtin(argument.to_owned())
        } else {
            PolicySource::File(PathBuf::from(argument))
        }
    }

    /// Finds the policy when `--policy` was not given: `$BOXPY_POLICY`, `boxpy.toml` in the
    /// working directory, `[tool.boxpy]` in its `pyproject.toml`, the user's config file,
    /// then the built-in `default`.
    pub fn discover(
        env_policy: Option<&str>,
        workdir: &Path,
        xdg_config_home: Option<&Path>,
        cwd: &Path,
    ) -> PolicySource {
        if let Some(value) = env_policy.filter(|value| !value.is_empty()) {
            return PolicySource::from_argument(value, cwd);
        }
        let local = workdir.join("boxpy.toml");
        if local.is_file() {
            return PolicySource::File(local);
        }
        let pyproject = workdir.join("pyproject.toml");
        if pyproject.is_file() {
            if let Ok(text) =
                crate::bounded::read_to_string(&pyproject, crate::bounded::PYPROJECT_LIMIT)
            {
                if pyproject_has_boxpy_table(&text) {
                    return PolicySource::PyProject(pyproject);
                }
            }
        }
        if let Some(config) = xdg_config_home {
            let user = config.join("boxpy").join("policy.toml");
            if user.is_file() {
                return PolicySource::File(user);
            }
        }
        PolicySource::Builtin("default".to_owned())
    }
}

/// A cheap check (no full parse) for a `[tool.boxpy]` table, so an unrelated broken
/// pyproject.toml does not stop boxpy.
fn pyproject_has_boxpy_table(text: &str) -> bool {
    text.lines().any(|line| {
        let line = line.trim();
        line.starts_with("[tool.boxpy")
            && (line[11..].starts_with(']') || line[11..].starts_with('.'))
    })
}

/// Loads a policy and everything it extends, and folds it into one [`Policy`].
pub fn load(source: &PolicySource, context: &LoadContext) -> Result<Policy> {
    let mut layers = Vec::new();
    let mut seen = Vec::new();
    collect_layers(source, context, &mut layers, &mut seen, 0)?;
    let name = match source {
        PolicySource::Builtin(name) => name.clone(),
        PolicySource::File(path) | PolicySource::PyProject(path) => path.display().to_string(),
    };
    Ok(validate::fold(name, layers))
}

const MAX_EXTENDS_DEPTH: usize = 16;

fn collect_layers(
    source: &PolicySource,
    context: &LoadContext,
    layers: &mut Vec<Layer>,
    seen: &mut Vec<String>,
    depth: usize,
) -> Result<()> {
    let (display, text, base_dir, in_pyproject) = match source {
        PolicySource::Builtin(name) => {
            let text = builtin(name).ok_or_else(|| unknown_builtin(name))?;
            (
                format!("<built-in {name}>"),
                text.to_owned(),
                context.cwd.clone(),
                false,
            )
        }
        PolicySource::File(path) | PolicySource::PyProject(path) => {
            let absolute = if path.is_absolute() {
                path.clone()
            } else {
                context.cwd.join(path)
            };
            let text = crate::bounded::read_to_string(&absolute, crate::bounded::POLICY_LIMIT)
                .map_err(|error| unreadable_policy(path, &error))?;
            let base = absolute
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| context.cwd.clone());
            (
                path.display().to_string(),
                text,
                base,
                matches!(source, PolicySource::PyProject(_)),
            )
        }
    };
    let key = match source {
        PolicySource::Builtin(name) => format!("builtin:{name}"),
        PolicySource::File(path) | PolicySource::PyProject(path) => {
            let absolute = context.cwd.join(path);
            format!(
                "file:{}",
                absolute.canonicalize().unwrap_or(absolute).display()
            )
        }
    };
    if seen.contains(&key) || depth > MAX_EXTENDS_DEPTH {
        return Err(Error::Policy {
            location: PolicyLocation {
                file: display,
                line: None,
                column: None,
            },
            message: "`extends` forms a cycle".to_owned(),
            hint: Some("remove the `extends` that points back to an earlier policy".to_owned()),
        });
    }
    seen.push(key);

    let raw = validate::parse(&text, &display, in_pyproject)?;
    let home = context.home.as_deref();
    let is_default = matches!(source, PolicySource::Builtin(name) if name == "default");
    match &raw.extends {
        Some(extends) => {
            let target = extends.get_ref();
            let parent = if target.contains('/') || target.ends_with(".toml") {
                let path = validate::expand_path(target, &base_dir, home);
                PolicySource::File(path)
            } else if builtin(target).is_some() {
                PolicySource::Builtin(target.clone())
            } else {
                return Err(Error::Policy {
                    location: validate::locate(&text, &display, extends.span().start),
                    message: format!("`extends` names an unknown policy `{target}`"),
                    hint: Some(match validate::did_you_mean(target, builtin_name_list()) {
                        Some(suggestion) => format!("did you mean `{suggestion}`?"),
                        None => format!(
                            "shipped policies are {}; a file must end in `.toml` or contain `/`",
                            builtin_names()
                        ),
                    }),
                });
            };
            collect_layers(&parent, context, layers, seen, depth + 1)?;
        }
        None if !is_default => {
            collect_layers(
                &PolicySource::Builtin("default".to_owned()),
                context,
                layers,
                seen,
                depth + 1,
            )?;
        }
        None => {}
    }
    layers.push(validate::layer(&raw, &text, &display, &base_dir, home)?);
    Ok(())
}

/// A policy file that could not be read: missing, not a regular file (a FIFO, a device, a
/// directory), or over [`crate::bounded::POLICY_LIMIT`].
fn unreadable_policy(path: &Path, error: &crate::bounded::ReadError) -> Error {
    use crate::bounded::ReadError;
    let hint = match error {
        ReadError::Io(_) => format!(
            "shipped policies are {}; `boxpy policy init` writes a starting `boxpy.toml`",
            builtin_names()
        ),
        ReadError::NotRegular(_) => {
            "a policy (and every file it `extends`) must be a regular TOML file".to_owned()
        }
        ReadError::TooLarge(_) => {
            "a policy is a short TOML file; check that the path names the policy you meant"
                .to_owned()
        }
    };
    Error::Policy {
        location: PolicyLocation {
            file: path.display().to_string(),
            line: None,
            column: None,
        },
        message: format!("cannot read the policy file: {error}"),
        hint: Some(hint),
    }
}

fn builtin_name_list() -> impl Iterator<Item = &'static str> {
    BUILTIN_POLICIES.iter().map(|(name, _, _)| *name)
}

fn builtin_names() -> String {
    builtin_name_list()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn unknown_builtin(name: &str) -> Error {
    Error::Policy {
        location: PolicyLocation {
            file: name.to_owned(),
            line: None,
            column: None,
        },
        message: format!("no shipped policy is called `{name}` and no such file exists"),
        hint: Some(match validate::did_you_mean(name, builtin_name_list()) {
            Some(suggestion) => format!("did you mean `{suggestion}`?"),
            None => format!(
                "shipped policies are {}; pass a file as `--policy ./{name}.toml`",
                builtin_names()
            ),
        }),
    }
}

#[cfg(test)]
mod tests;
