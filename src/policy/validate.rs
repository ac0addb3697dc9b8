//! From one parsed policy file to a [`Layer`] (typed values, absolute paths, errors that
//! carry the file, line, column and a did-you-mean), and from layers to a [`Policy`].
//!
//! Pure: no filesystem access. Whether mounted paths exist is checked later, by settings.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::raw::{PyProject, RawMount, RawPolicy, SizeValue};
use super::schema::{self, ShapeError};
use super::units::{parse_duration, parse_size};
use super::{Layer, Mount, Policy, PythonPolicy};
use crate::error::{Error, PolicyLocation, Result};
use crate::network::rules::Rule;

/// What a host rule looks like (a policy's `network.allow`, `--allow-host`).
pub(crate) const RULE_HINT: &str =
    "a host rule is `HOST`, `HOST:PORT`, `*.DOMAIN` or an address, e.g. `pypi.org`, `*.example.com:8443`, `[fd00::1]:8080`";

/// Parses the TOML text of a policy file (or the `[tool.boxpy]` table of a pyproject.toml).
/// The shape (keys and value types) is checked first, so every mistake names its key.
pub(crate) fn parse(text: &str, display: &str, in_pyproject: bool) -> Result<RawPolicy> {
    let shape = |error: ShapeError| Error::Policy {
        location: locate(text, display, error.offset),
        message: error.message,
        hint: error.hint,
    };
    let document = schema::parse_document(text).map_err(shape)?;
    if in_pyproject {
        match schema::pyproject_policy(&document).map_err(shape)? {
            Some((table, offset)) => {
                schema::check_policy(&table, "tool.boxpy.", offset).map_err(shape)?
            }
            None => return Ok(RawPolicy::default()),
        }
    } else {
        schema::check_policy(document.as_table(), "", 0).map_err(shape)?;
    }
    // The document parsed once: its shape was checked above, serde reads it here.
    use serde::Deserialize;
    let deserializer = toml_edit::de::Deserializer::from(document);
    let parsed = if in_pyproject {
        PyProject::deserialize(deserializer).map(|pyproject| {
            pyproject
                .tool
                .and_then(|tool| tool.boxpy)
                .unwrap_or_default()
        })
    } else {
        RawPolicy::deserialize(deserializer)
    };
    parsed.map_err(|error| toml_error(text, display, &error))
}

fn toml_error(text: &str, display: &str, error: &toml_edit::de::Error) -> Error {
    let message = error.message().trim().to_owned();
    let location = match error.span() {
        Some(span) => locate(text, display, span.start),
        None => PolicyLocation {
            file: display.to_owned(),
            line: None,
            column: None,
        },
    };
    let hint = suggestion_from_serde_message(&message);
    Error::Policy {
        location,
        message,
        hint,
    }
}

/// serde says "unknown field `netwrk`, expected one of `a`, `b`" or
/// "unknown variant `ful`, expected one of ..."; turn that into a did-you-mean.
fn suggestion_from_serde_message(message: &str) -> Option<String> {
    let unknown = ["unknown field `", "unknown variant `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))?;
    let (word, rest) = unknown.split_once('`')?;
    let candidates: Vec<&str> = rest
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|candidate| !candidate.is_empty())
        .collect();
    match did_you_mean(word, candidates.iter().copied()) {
        Some(suggestion) => Some(format!("did you mean `{suggestion}`?")),
        None if !candidates.is_empty() => Some(format!(
            "expected one of {}",
            candidates
                .iter()
                .map(|candidate| format!("`{candidate}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        None => None,
    }
}

/// The closest candidate to `word`, if it is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(word, candidate), candidate))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

/// Converts a byte offset into a 1-based line and column.
pub(crate) fn locate(text: &str, display: &str, offset: usize) -> PolicyLocation {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|index| index + 1).unwrap_or(0);
    let column = before[line_start..].chars().count() + 1;
    PolicyLocation {
        file: display.to_owned(),
        line: Some(line),
        column: Some(column),
    }
}

/// Expands `~` and makes `text` absolute against `base`, then removes `.` and `..`
/// lexically (symlinks are left alone: paths inside are the same as outside).
pub(crate) fn expand_path(text: &str, base: &Path, home: Option<&Path>) -> PathBuf {
    let expanded = match (text.strip_prefix('~'), home) {
        (Some(""), Some(home)) => home.to_path_buf(),
        (Some(rest), Some(home)) if rest.starts_with('/') => home.join(&rest[1..]),
        _ => PathBuf::from(text),
    };
    let absolute = if expanded.is_absolute() {
        expanded
    } else {
        base.join(expanded)
    };
    normalize(&absolute)
}

/// Lexical normalisation of an absolute path.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(part) => out.push(part),
        }
    }
    out
}

struct LayerBuilder<'a> {
    text: &'a str,
    display: &'a str,
    base: &'a Path,
    home: Option<&'a Path>,
}

impl LayerBuilder<'_> {
    fn error<T>(&self, span_start: usize, message: String, hint: Option<String>) -> Result<T> {
        let hint = hint.or_else(|| schema::example_hint(&message));
        Err(Error::Policy {
            location: locate(self.text, self.display, span_start),
            message,
            hint,
        })
    }

    fn path(&self, value: &Spanned<String>, key: &str) -> Result<PathBuf> {
        if value.get_ref().trim().is_empty() {
            return self.error(
                value.span().start,
                format!("`{key}` is an empty path"),
                None,
            );
        }
        Ok(expand_path(value.get_ref(), self.base, self.home))
    }

    fn size(&self, value: &Spanned<SizeValue>, key: &str) -> Result<Option<u64>> {
        let bytes = match value.get_ref() {
            SizeValue::Bytes(bytes) => *bytes,
            SizeValue::Text(text) if is_unlimited(text) => return Ok(None),
            SizeValue::Text(text) => match parse_size(text) {
                Ok(bytes) => bytes,
                Err(message) => {
                    return self.error(value.span().start, format!("`{key}`: {message}"), None)
                }
            },
        };
        if bytes == 0 {
            return self.error(
                value.span().start,
                format!("`{key}` must be larger than zero"),
                Some("write `\"unlimited\"` to remove the limit".to_owned()),
            );
        }
        Ok(Some(bytes))
    }

    fn duration(&self, value: &Spanned<String>, key: &str) -> Result<Option<Duration>> {
        if is_unlimited(value.get_ref()) {
            return Ok(None);
        }
        match parse_duration(value.get_ref()) {
            Ok(duration) if duration.is_zero() => self.error(
                value.span().start,
                format!("`{key}` must be longer than zero"),
                Some("write `\"unlimited\"` to remove the limit".to_owned()),
            ),
            Ok(duration) => Ok(Some(duration)),
            Err(message) => self.error(value.span().start, format!("`{key}`: {message}"), None),
        }
    }

    fn count(&self, value: &Spanned<SizeValue>, key: &str) -> Result<Option<u64>> {
        match value.get_ref() {
            SizeValue::Bytes(0) => self.error(
                value.span().start,
                format!("`{key}` must be larger than zero"),
                Some("write `\"unlimited\"` to remove the limit".to_owned()),
            ),
            SizeValue::Bytes(count) => Ok(Some(*count)),
            SizeValue::Text(text) if is_unlimited(text) => Ok(None),
            SizeValue::Text(text) => self.error(
                value.span().start,
                format!("`{key}`: `{text}` is not a number"),
                Some(format!(
                    "write a whole number (`{key} = 256`) or `\"unlimited\"`"
                )),
            ),
        }
    }

    fn mounts(
        &self,
        entries: &[Spanned<RawMount>],
        key: &str,
        writable: bool,
    ) -> Result<Vec<Mount>> {
        entries
            .iter()
            .map(|entry| {
                let raw = entry.get_ref();
                mount_from_raw(raw, key, writable, self.base, self.home)
                    .or_else(|message| self.error(entry.span().start, message, None))
            })
            .collect()
    }

    /// `filesystem.hide` patterns (globs, `**/GLOB`, paths) or `filesystem.protect` names
    /// (one path component): each may start with `!` to take a default out.
    fn patterns(&self, entries: &[Spanned<String>], key: &str, paths: bool) -> Result<Vec<String>> {
        entries
            .iter()
            .map(|entry| {
                let text = entry.get_ref();
                let body = text.strip_prefix('!').unwrap_or(text);
                let problem = if body.is_empty() {
                    Some("is empty")
                } else if body.chars().any(char::is_control) {
                    Some("holds a control character")
                } else if !paths && (body.contains('/') || body == "." || body == "..") {
                    Some("is not one name (protected names are at the top of each writable place)")
                } else if body.split('/').any(|part| part == "..") {
                    Some("may not hold `..`")
                } else {
                    None
                };
                match problem {
                    Some(problem) => self.error(
                        entry.span().start,
                        format!("`{key}`: `{text}` {problem}"),
                        None,
                    ),
                    None => Ok(text.clone()),
                }
            })
            .collect()
    }

    /// Host rules (`network.allow`, `network.deny`), each parsed by [`Rule::parse`].
    fn rules(&self, entries: &[Spanned<String>], key: &str) -> Result<Vec<Rule>> {
        entries
            .iter()
            .map(|entry| {
                Rule::parse(entry.get_ref()).or_else(|error| {
                    self.error(
                        entry.span().start,
                        format!("`{key}` `{}`: {error}", entry.get_ref()),
                        Some(RULE_HINT.to_owned()),
                    )
                })
            })
            .collect()
    }

    fn names(&self, entries: &[Spanned<String>], key: &str, dotted: bool) -> Result<Vec<String>> {
        entries
            .iter()
            .map(|entry| {
                let name = entry.get_ref();
                let valid = if dotted {
                    name.split('.').all(is_identifier)
                } else {
                    is_identifier(name)
                };
                if valid {
                    Ok(name.clone())
                } else {
                    self.error(
                        entry.span().start,
                        format!("`{key}`: `{name}` is not a valid name"),
                        None,
                    )
                }
            })
            .collect()
    }
}

/// The shortest `limits.timeout` boxpy accepts. Building the sandbox and starting Python
/// takes ~14 ms on an idle machine (release build, `docs/performance.md`) and several
/// times that on a loaded one or with a debug build (`-c pass` timed out 2 runs in 6 at
/// 150 ms, every run at 100 ms): a shorter limit can only stop the program before it does
/// anything.
pub(crate) const MIN_TIMEOUT: Duration = Duration::from_millis(100);

/// The smallest `limits.memory` boxpy accepts: Python importing `json`, `re` and
/// `collections` needs 8 MiB under a memory cgroup (as root) and 6 MiB under
/// `RLIMIT_DATA` (as a user); less is killed (137), crashes (139) or fails to start. The
/// floor is twice that.
pub(crate) const MIN_MEMORY: u64 = 16 << 20;

/// Refuses a timeout below [`MIN_TIMEOUT`]; `key` is the policy key or the flag.
pub(crate) fn check_timeout(
    timeout: Option<Duration>,
    key: &str,
) -> std::result::Result<(), (String, String)> {
    match timeout {
        Some(timeout) if timeout < MIN_TIMEOUT => Err((
            format!(
                "`{key}` = {} is below the floor of {}: building the sandbox and starting Python takes longer",
                super::units::format_duration(timeout),
                super::units::format_duration(MIN_TIMEOUT)
            ),
            "give the program at least `100ms`: e.g. `--timeout 30s`, `limits.timeout = \"30s\"` (or `\"unlimited\"`)".to_owned(),
        )),
        _ => Ok(()),
    }
}

/// Refuses a memory limit below [`MIN_MEMORY`]; `key` is the policy key or the flag.
pub(crate) fn check_memory(
    memory: Option<u64>,
    key: &str,
) -> std::result::Result<(), (String, String)> {
    match memory {
        Some(memory) if memory < MIN_MEMORY => Err((
            format!(
                "`{key}` = {} is below the floor of {}: Python cannot start in less",
                super::units::format_size(memory),
                super::units::format_size(MIN_MEMORY)
            ),
            "write a size with a unit, at least `16MiB`: e.g. `--memory 512MiB`, `limits.memory = \"512MiB\"`".to_owned(),
        )),
        _ => Ok(()),
    }
}

/// `--memory SIZE`: a size with a unit (a bare number is refused rather than taken as
/// bytes), at least [`MIN_MEMORY`]. Errors are (message, hint).
pub(crate) fn memory_flag(text: &str) -> std::result::Result<u64, (String, String)> {
    let hint = "e.g. `--memory 512MiB` (the policy key is `limits.memory`)".to_owned();
    let trimmed = text.trim();
    let zero = trimmed.parse::<f64>() == Ok(0.0);
    if !zero && !trimmed.is_empty() && trimmed.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err((
            format!("`--memory {text}` has no unit: write `{trimmed}MiB` or `{trimmed}GiB`"),
            hint,
        ));
    }
    if trimmed.parse::<f64>() == Ok(0.0) {
        check_memory(Some(0), "--memory")?;
    }
    let bytes = parse_size(text).map_err(|message| (format!("--memory: {message}"), hint))?;
    check_memory(Some(bytes), "--memory")?;
    Ok(bytes)
}

/// `--timeout DURATION`: at least [`MIN_TIMEOUT`]. Errors are (message, hint).
pub(crate) fn timeout_flag(text: &str) -> std::result::Result<Duration, (String, String)> {
    let duration = parse_duration(text).map_err(|message| {
        (
            format!("--timeout: {message}"),
            "e.g. `--timeout 30s` (the policy key is `limits.timeout`)".to_owned(),
        )
    })?;
    check_timeout(Some(duration), "--timeout")?;
    Ok(duration)
}

/// What the kernel allows for a program's arguments and environment together
/// (`ARG_MAX`: a quarter of the default 8 MiB stack), less what boxpy's own arguments to
/// bwrap and the init take (system mounts, descriptors: under 16 KiB, counted generously).
pub(crate) const ARGUMENT_BUDGET: usize = (2 << 20) - (256 << 10);

/// The most mounts a policy may list: bubblewrap refuses more than 9,000 arguments
/// ("Exceeded maximum number of arguments 9000", measured at 3,100 mounts); each mount is
/// three, and boxpy's own system mounts, covers and flags take up to ~600.
pub(crate) const MAX_MOUNTS: usize = 2_800;

/// Refuses a policy with more than [`MAX_MOUNTS`] mounts, or whose variables and mounts
/// alone pass [`ARGUMENT_BUDGET`]: bwrap
/// would fail with "Argument list too long". Returns the key that takes the most, the
/// message and a hint.
pub(crate) fn check_argument_budget(
    policy: &Policy,
) -> std::result::Result<(), (&'static str, String, String)> {
    const POINTER: usize = std::mem::size_of::<usize>();
    let env: usize = policy
        .env
        .set
        .iter()
        .map(|(key, value)| key.len() + value.len() + 2 + POINTER)
        .sum();
    // Each mount is a flag, a source and a destination on bwrap's command line.
    let mounts = |list: &[Mount]| -> usize {
        list.iter()
            .map(|mount| {
                16 + mount.source.as_os_str().len() + mount.dest.as_os_str().len() + 3 * POINTER
            })
            .sum()
    };
    let read_only = mounts(&policy.filesystem.read_only);
    let read_write = mounts(&policy.filesystem.read_write);
    let mount_key = if read_only >= read_write {
        "filesystem.read_only"
    } else {
        "filesystem.read_write"
    };
    let mount_count = policy.filesystem.read_only.len() + policy.filesystem.read_write.len();
    if mount_count > MAX_MOUNTS {
        return Err((
            mount_key,
            format!(
                "`{mount_key}` is too long: the policy has {mount_count} mounts and boxpy takes at most {MAX_MOUNTS} (bubblewrap takes 9,000 arguments: three a mount, and boxpy's own)"
            ),
            "mount a common parent directory instead of each path in it".to_owned(),
        ));
    }
    let total = env + read_only + read_write;
    if total <= ARGUMENT_BUDGET {
        return Ok(());
    }
    let (key, hint) = if env >= read_only.max(read_write) {
        (
            "env.set",
            "pass large data in a file the program reads (`filesystem.read_only`), not in variables",
        )
    } else {
        (
            mount_key,
            "mount a common parent directory instead of each path in it",
        )
    };
    Err((
        key,
        format!(
            "`{key}` is too large: the policy's variables and mounts take {total} bytes of the {ARGUMENT_BUDGET} the kernel allows for the sandbox's arguments and environment (ARG_MAX)"
        ),
        hint.to_owned(),
    ))
}

fn is_unlimited(text: &str) -> bool {
    matches!(text.trim(), "unlimited" | "none" | "off")
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Turns a `SRC[:DEST]` mount into a [`Mount`]; used for policy entries and `--ro`/`--rw`.
pub(crate) fn mount_from_raw(
    raw: &RawMount,
    origin: &str,
    writable: bool,
    base: &Path,
    home: Option<&Path>,
) -> std::result::Result<Mount, String> {
    if raw.path.trim().is_empty() {
        return Err(format!("`{origin}`: empty path"));
    }
    let source = expand_path(&raw.path, base, home);
    let dest = match &raw.dest {
        None => source.clone(),
        Some(dest) if dest.starts_with('/') || dest.starts_with('~') => {
            expand_path(dest, base, home)
        }
        Some(dest) => {
            return Err(format!(
                "`{origin}`: the destination `{dest}` must be an absolute path"
            ))
        }
    };
    Ok(Mount {
        source,
        dest,
        optional: raw.optional,
        writable,
        origin: origin.to_owned(),
    })
}

/// Validates one parsed file into a [`Layer`].
pub(crate) fn layer(
    raw: &RawPolicy,
    text: &str,
    display: &str,
    base: &Path,
    home: Option<&Path>,
) -> Result<Layer> {
    let builder = LayerBuilder {
        text,
        display,
        base,
        home,
    };
    let mut layer = Layer::default();

    if let Some(python) = &raw.python {
        if let (Some(_), Some(interpreter)) = (&python.venv, &python.interpreter) {
            return builder.error(
                interpreter.span().start,
                "`python.venv` and `python.interpreter` are both set".to_owned(),
                Some("keep one: a venv brings its own interpreter".to_owned()),
            );
        }
        let venv = python
            .venv
            .as_ref()
            .map(|venv| builder.path(venv, "python.venv"))
            .transpose()?;
        let interpreter = python
            .interpreter
            .as_ref()
            .map(|interpreter| builder.path(interpreter, "python.interpreter"))
            .transpose()?;
        if venv.is_some() || interpreter.is_some() {
            layer.python = Some(PythonPolicy { venv, interpreter });
        }
    }

    if let Some(filesystem) = &raw.filesystem {
        layer.filesystem.workdir = filesystem
            .workdir
            .as_ref()
            .map(|workdir| builder.path(workdir, "filesystem.workdir"))
            .transpose()?;
        if let Some(entries) = &filesystem.read_only {
            layer.filesystem.read_only =
                Some(builder.mounts(entries, "filesystem.read_only", false)?);
        }
        if let Some(entries) = &filesystem.read_write {
            layer.filesystem.read_write =
                Some(builder.mounts(entries, "filesystem.read_write", true)?);
        }
        if let Some(size) = &filesystem.tmp_size {
            layer.filesystem.tmp_size = Some(builder.size(size, "filesystem.tmp_size")?);
        }
        if let Some(entries) = &filesystem.hide {
            layer.filesystem.hide = Some(builder.patterns(entries, "filesystem.hide", true)?);
        }
        if let Some(entries) = &filesystem.protect {
            layer.filesystem.protect =
                Some(builder.patterns(entries, "filesystem.protect", false)?);
        }
    }

    if let Some(network) = &raw.network {
        layer.network.mode = network.mode.as_ref().map(|mode| *mode.get_ref());
        if let Some(entries) = &network.allow {
            layer.network.allow = Some(builder.rules(entries, "network.allow")?);
        }
        if let Some(entries) = &network.deny {
            layer.network.deny = Some(builder.rules(entries, "network.deny")?);
        }
    }

    if let Some(limits) = &raw.limits {
        if let Some(value) = &limits.timeout {
            let timeout = builder.duration(value, "limits.timeout")?;
            if let Err((message, hint)) = check_timeout(timeout, "limits.timeout") {
                return builder.error(value.span().start, message, Some(hint));
            }
            layer.limits.timeout = Some(timeout);
        }
        if let Some(value) = &limits.cpu {
            layer.limits.cpu = Some(builder.duration(value, "limits.cpu")?);
        }
        if let Some(value) = &limits.memory {
            let memory = builder.size(value, "limits.memory")?;
            if let Err((message, hint)) = check_memory(memory, "limits.memory") {
                return builder.error(value.span().start, message, Some(hint));
            }
            layer.limits.memory = Some(memory);
        }
        if let Some(value) = &limits.processes {
            layer.limits.processes = Some(builder.count(value, "limits.processes")?);
        }
        if let Some(value) = &limits.file_size {
            layer.limits.file_size = Some(builder.size(value, "limits.file_size")?);
        }
        if let Some(value) = &limits.open_files {
            layer.limits.open_files = Some(builder.count(value, "limits.open_files")?);
        }
        if let Some(value) = &limits.output {
            layer.limits.output = Some(builder.size(value, "limits.output")?);
        }
    }

    if let Some(env) = &raw.env {
        if let Some(pass) = &env.pass {
            layer.env.pass = Some(builder.names(pass, "env.pass", false)?);
        }
        if let Some(set) = &env.set {
            let mut values = BTreeMap::new();
            for (key, value) in set {
                if !is_identifier(key) {
                    return builder.error(
                        value.span().start,
                        format!("`env.set`: `{key}` is not a valid variable name"),
                        None,
                    );
                }
                values.insert(key.clone(), value.get_ref().clone());
            }
            layer.env.set = Some(values);
        }
    }

    if let Some(guards) = &raw.guards {
        if let Some(deny) = &guards.deny_imports {
            layer.guards.deny_imports = Some(builder.names(deny, "guards.deny_imports", true)?);
        }
    }

    if let Some(audit) = &raw.audit {
        layer.audit_log = audit
            .log
            .as_ref()
            .map(|log| builder.path(log, "audit.log"))
            .transpose()?;
    }
    Ok(layer)
}
