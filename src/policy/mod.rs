//! Policies: what a sandbox may see and use, loaded from TOML (SPEC §4).
//!
//! `raw` mirrors the file; `validate` turns one file into a [`Layer`] with resolved paths
//! and located errors; this module finds the policy (lookup order), follows `extends`
//! and folds the layers into one [`Policy`]. Loading reads files; everything after the
//! read is pure so it is unit-tested on strings.

pub mod defaults;
pub(crate) mod merge;
pub(crate) mod raw;
pub mod render;
mod schema;
pub mod trust;
pub(crate) use crate::units;
pub(crate) mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use raw::NetworkMode;

use crate::error::{Error, PolicyLocation, Result};
use crate::network::rules::{Rule, Rules};

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
    (
        "pypi",
        include_str!("../../policies/pypi.toml"),
        "the default policy plus PyPI only, through boxpy's proxy (pip install --target)",
    ),
];

/// The text of a shipped policy.
pub fn builtin(name: &str) -> Option<&'static str> {
    BUILTIN_POLICIES
        .iter()
        .find(|(builtin_name, _, _)| *builtin_name == name)
        .map(|(_, text, _)| *text)
}

/// A fully resolved policy: every path absolute, every size in bytes. Serialised (with
/// serde) it is `boxpy policy show`'s TOML and what the audit log hashes; each table is
/// declared once, with each key's merge rule, by `merge::policy_table!`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Policy {
    /// `default`, `strict`, `net`, `pypi`, or the policy file's path as the user gave it.
    #[serde(skip)]
    pub name: String,
    pub python: PythonPolicy,
    pub filesystem: FilesystemPolicy,
    pub network: NetworkPolicy,
    pub limits: Limits,
    pub env: EnvPolicy,
    pub guards: Guards,
    #[serde(
        rename = "audit",
        serialize_with = "render::audit",
        skip_serializing_if = "Option::is_none"
    )]
    pub audit_log: Option<PathBuf>,
}

/// One file of an `extends` chain, validated: `None` (or an empty table layer) where the
/// file leaves a key to the policy it extends. `[python]` is replaced as a whole (`venv`
/// and `interpreter` exclude each other); the other tables key by key.
#[derive(Debug, Clone, Default)]
pub(crate) struct Layer {
    pub python: Option<PythonPolicy>,
    pub filesystem: FilesystemLayer,
    pub network: NetworkLayer,
    pub limits: LimitsLayer,
    pub env: EnvLayer,
    pub guards: GuardsLayer,
    pub audit_log: Option<PathBuf>,
}

impl Policy {
    /// The policy every chain starts from, before its first layer.
    fn empty(name: String) -> Policy {
        Policy {
            name,
            python: PythonPolicy::default(),
            filesystem: FilesystemPolicy::default(),
            network: NetworkPolicy::default(),
            limits: Limits::default(),
            env: EnvPolicy::default(),
            guards: Guards::default(),
            audit_log: None,
        }
    }

    /// Folds one layer over this policy (see [`Layer`]).
    fn apply(&mut self, layer: Layer) {
        if let Some(python) = layer.python {
            merge::replace(&mut self.python, python);
        }
        self.filesystem.apply(layer.filesystem);
        self.network.apply(layer.network);
        self.limits.apply(layer.limits);
        self.env.apply(layer.env);
        self.guards.apply(layer.guards);
        if let Some(log) = layer.audit_log {
            self.audit_log = Some(log);
        }
    }

    /// Folds layers, root first: a later layer's value replaces an earlier one's (lists
    /// are replaced, not appended; `env.set` merges key by key).
    pub(crate) fn fold(name: String, layers: Vec<Layer>) -> Policy {
        let mut policy = Policy::empty(name);
        for layer in layers {
            policy.apply(layer);
        }
        policy
    }

    /// Every key of the format, dotted (`limits.memory`), in `policy show`'s order.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn keys() -> Vec<String> {
        let tables: [(&str, &[&str]); 7] = [
            ("python", &["venv", "interpreter"]),
            ("filesystem", FilesystemPolicy::KEYS),
            ("network", NetworkPolicy::KEYS),
            ("limits", Limits::KEYS),
            ("env", EnvPolicy::KEYS),
            ("guards", Guards::KEYS),
            ("audit", &["log"]),
        ];
        tables
            .iter()
            .flat_map(|(table, keys)| keys.iter().map(move |key| format!("{table}.{key}")))
            .collect()
    }
}

/// `[python]`: which interpreter to run (replaced as a whole by a layer that sets it).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct PythonPolicy {
    #[serde(
        serialize_with = "render::path",
        skip_serializing_if = "Option::is_none"
    )]
    pub venv: Option<PathBuf>,
    #[serde(
        serialize_with = "render::path",
        skip_serializing_if = "Option::is_none"
    )]
    pub interpreter: Option<PathBuf>,
}

merge::policy_table! {
    /// `[filesystem]`.
    #[derive(Debug, Clone, PartialEq, serde::Serialize)]
    pub struct FilesystemPolicy, layer FilesystemLayer {
        #[serde(serialize_with = "render::path")]
        pub workdir: PathBuf => replace,
        pub read_only: Vec<Mount> => replace,
        pub read_write: Vec<Mount> => replace,
        #[serde(serialize_with = "render::size")]
        pub tmp_size: Option<u64> => replace,
        /// Patterns hidden on top of the defaults (`HIDDEN_DEFAULTS`); an entry `!PATTERN`
        /// takes a default out (a widening: trusted policies only). `policy show` prints
        /// what the policy says (the lists in force, defaults included, are in its header).
        pub hide: Vec<String> => replace,
        /// Names protected on top of the defaults (`PROTECTED_NAMES`); an entry `!NAME`
        /// takes a default out (a widening: trusted policies only).
        pub protect: Vec<String> => replace,
    }
}

impl Default for FilesystemPolicy {
    fn default() -> Self {
        FilesystemPolicy {
            workdir: PathBuf::from("."),
            read_only: Vec::new(),
            read_write: Vec::new(),
            tmp_size: None,
            hide: Vec::new(),
            protect: Vec::new(),
        }
    }
}

impl FilesystemPolicy {
    /// The hidden patterns in force: the defaults, less each `!PATTERN`, plus the others.
    pub fn hidden_patterns(&self) -> Vec<String> {
        effective(defaults::HIDDEN_DEFAULTS, &self.hide)
    }

    /// The protected names in force: the defaults, less each `!NAME`, plus the others.
    pub fn protected_names(&self) -> Vec<String> {
        effective(defaults::PROTECTED_NAMES, &self.protect)
    }
}

fn effective(defaults: &[&str], entries: &[String]) -> Vec<String> {
    use std::collections::HashSet;
    let removed: HashSet<&str> = entries
        .iter()
        .filter_map(|entry| entry.strip_prefix('!'))
        .collect();
    let mut list: Vec<String> = defaults
        .iter()
        .filter(|name| !removed.contains(*name))
        .map(|name| (*name).to_owned())
        .collect();
    // Linear in the entries: a set of what is listed, not a search of the list.
    let mut listed: HashSet<String> = list.iter().cloned().collect();
    for entry in entries.iter().filter(|entry| !entry.starts_with('!')) {
        if listed.insert(entry.clone()) {
            list.push(entry.clone());
        }
    }
    list
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

merge::policy_table! {
    /// `[network]`: the mode, and in `proxy` mode the host rules boxpy's proxy decides by
    /// (see [`crate::network::rules`]).
    #[derive(Debug, Clone, PartialEq, serde::Serialize)]
    pub struct NetworkPolicy, layer NetworkLayer {
        #[serde(serialize_with = "render::mode")]
        pub mode: NetworkMode => replace,
        #[serde(serialize_with = "render::rules")]
        pub allow: Vec<Rule> => replace,
        #[serde(serialize_with = "render::rules")]
        pub deny: Vec<Rule> => replace,
    }
}

impl Default for NetworkPolicy {
    fn default() -> Self {
        NetworkPolicy {
            mode: NetworkMode::None,
            allow: Vec::new(),
            deny: Vec::new(),
        }
    }
}

impl NetworkPolicy {
    /// The rules boxpy's proxy decides by (exec starts the proxy with them).
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn rules(&self) -> Rules {
        Rules {
            allow: self.allow.clone(),
            deny: self.deny.clone(),
        }
    }

    /// Whether the rules are consistent with the mode: `allow` and `deny` mean something
    /// only in `proxy` mode. On failure: the key at fault, the message and the hint.
    pub(crate) fn check(&self) -> std::result::Result<(), (&'static str, String, String)> {
        if self.mode == NetworkMode::Proxy {
            return Ok(());
        }
        let key = match (self.allow.is_empty(), self.deny.is_empty()) {
            (true, true) => return Ok(()),
            (false, _) => "network.allow",
            (true, false) => "network.deny",
        };
        Err((
            key,
            format!(
                "`{key}` needs `network.mode = \"proxy\"`, but the mode is `{}`",
                self.mode.as_str()
            ),
            format!(
                "set `mode = \"proxy\"` in `[network]` to reach only the hosts the rules allow, or set `{}` to `[]`",
                key.trim_start_matches("network.")
            ),
        ))
    }
}

merge::policy_table! {
    /// `[limits]`. `None` means unlimited.
    #[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
    pub struct Limits, layer LimitsLayer {
        #[serde(serialize_with = "render::duration")]
        pub timeout: Option<Duration> => replace,
        #[serde(serialize_with = "render::duration")]
        pub cpu: Option<Duration> => replace,
        #[serde(serialize_with = "render::size")]
        pub memory: Option<u64> => replace,
        #[serde(serialize_with = "render::count")]
        pub processes: Option<u64> => replace,
        #[serde(serialize_with = "render::size")]
        pub file_size: Option<u64> => replace,
        #[serde(serialize_with = "render::count")]
        pub open_files: Option<u64> => replace,
        #[serde(serialize_with = "render::size")]
        pub output: Option<u64> => replace,
    }
}

merge::policy_table! {
    /// `[env]`.
    #[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
    pub struct EnvPolicy, layer EnvLayer {
        pub pass: Vec<String> => replace,
        pub set: BTreeMap<String, String> => extend,
    }
}

merge::policy_table! {
    /// `[guards]`: guardrails, not a security boundary.
    #[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
    pub struct Guards, layer GuardsLayer {
        pub deny_imports: Vec<String> => replace,
    }
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
    /// A policy file the user named (`--policy`, `$BOXPY_POLICY`, the user config).
    File(PathBuf),
    /// `boxpy.toml` found by the lookup in the working directory: it came with the
    /// repository (or an earlier run wrote it), so it is not trusted to widen the sandbox
    /// ([`trust`]).
    Workdir(PathBuf),
    /// The `[tool.boxpy]` table of a pyproject.toml found in the working directory (not
    /// trusted either).
    PyProject(PathBuf),
}

impl PolicySource {
    /// The policy file, for a source that is a file.
    pub fn file(&self) -> Option<&Path> {
        match self {
            PolicySource::Builtin(_) => None,
            PolicySource::File(path)
            | PolicySource::Workdir(path)
            | PolicySource::PyProject(path) => Some(path),
        }
    }

    /// Whether the user stated this policy (trusted) rather than boxpy finding it in the
    /// working directory (see [`trust`]).
    pub fn is_stated(&self) -> bool {
        match self {
            PolicySource::Builtin(_) | PolicySource::File(_) => true,
            PolicySource::Workdir(_) | PolicySource::PyProject(_) => false,
        }
    }

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

    /// Finds the policy when `--policy` was not given: `$BOXPY_POLICY`, then, in each of
    /// `directories` nearest first (the working directory and the parents the upward search
    /// admits, `settings::discovery`), `boxpy.toml` or `[tool.boxpy]` in its
    /// `pyproject.toml`, then the user's config file, then the built-in `default`.
    ///
    /// Only a file `owned` admits is taken: the caller passes the owner check (the caller
    /// or root, `settings::discovery::owned_by_caller_or_root`), so the policy module
    /// depends on nothing above it.
    pub fn discover(
        env_policy: Option<&str>,
        directories: &[PathBuf],
        xdg_config_home: Option<&Path>,
        cwd: &Path,
        owned: &dyn Fn(&Path) -> bool,
    ) -> PolicySource {
        if let Some(value) = env_policy.filter(|value| !value.is_empty()) {
            return PolicySource::from_argument(value, cwd);
        }
        // Only a file the caller or root owns: another user's, put in the way by a shared
        // directory or a swap, is not the project's.
        for directory in directories {
            let local = directory.join("boxpy.toml");
            if local.is_file() && owned(&local) {
                return PolicySource::Workdir(local);
            }
            let pyproject = directory.join("pyproject.toml");
            if owned(&pyproject) && pyproject_names_boxpy(&pyproject) {
                return PolicySource::PyProject(pyproject);
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

/// Whether `path` is a pyproject.toml with a `tool.boxpy` key, however TOML lets it be
/// spelt (`[tool.boxpy]`, `[tool]` with `boxpy = { ... }`, dotted or quoted keys, a BOM).
/// A `tool.boxpy` that is not a table counts (loading it says what is wrong); so does a
/// file that is not valid TOML but mentions `boxpy` (loading it says where). Any other
/// pyproject.toml is not boxpy's business, broken or not.
pub fn pyproject_names_boxpy(path: &Path) -> bool {
    if !path.is_file() {
        return false;
    }
    let Ok(text) = crate::bounded::read_to_string(path, crate::bounded::PYPROJECT_LIMIT) else {
        return false;
    };
    match schema::parse_document(&text) {
        Ok(document) => !matches!(schema::pyproject_policy(&document), Ok(None)),
        Err(_) => text.contains("boxpy"),
    }
}

/// Loads a policy and everything it extends, and folds it into one [`Policy`].
pub fn load(source: &PolicySource, context: &LoadContext) -> Result<Policy> {
    load_with_files(source, context).map(|loaded| loaded.policy)
}

/// A loaded policy and the files it was read from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub policy: Policy,
    /// Each file read, the policy's own first, then what it extends, in order:
    /// (path, text). The policy's own file is its canonical directory joined with its name
    /// (a symlink at that name is not followed); extended files are canonical. Shipped
    /// policies are not files.
    pub files: Vec<(PathBuf, String)>,
}

/// [`load`], keeping the files read (for [`trust`]).
pub fn load_with_files(source: &PolicySource, context: &LoadContext) -> Result<Loaded> {
    let mut layers = Vec::new();
    let mut seen = Vec::new();
    let mut files = Vec::new();
    collect_layers(source, context, &mut layers, &mut seen, &mut files, None)?;
    let name = match source {
        PolicySource::Builtin(name) => name.clone(),
        PolicySource::File(path) | PolicySource::Workdir(path) | PolicySource::PyProject(path) => {
            path.display().to_string()
        }
    };
    let policy = Policy::fold(name, layers);
    if let Err((_, message, hint)) = policy.network.check() {
        return Err(Error::Policy {
            location: PolicyLocation {
                file: policy.name.clone(),
                line: None,
                column: None,
            },
            message,
            hint: Some(hint),
        });
    }
    if let Err((_, message, hint)) = validate::check_argument_budget(&policy) {
        return Err(Error::Policy {
            location: PolicyLocation {
                file: policy.name.clone(),
                line: None,
                column: None,
            },
            message,
            hint: Some(hint),
        });
    }
    Ok(Loaded { policy, files })
}

/// How far a policy may be trusted (see [`trust`]), as `boxpy policy show` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustStatus {
    /// Stated by the user (a flag, `$BOXPY_POLICY`, the user config) or shipped.
    Stated,
    /// Found in the working directory and recorded by `boxpy policy trust`.
    Recorded { file: PathBuf },
    /// Found in the working directory; it does not widen the default, so it needs no trust.
    NarrowsOnly { file: PathBuf },
    /// Found in the working directory, widens the default, and is not (or no longer)
    /// recorded: a run refuses it.
    Refused {
        file: PathBuf,
        widenings: Vec<trust::Widening>,
        /// It was trusted once and has changed since.
        changed: bool,
    },
}

impl TrustStatus {
    /// The refusal, for a status that refuses the policy.
    pub fn into_result(self) -> Result<()> {
        match self {
            TrustStatus::Refused {
                file,
                widenings,
                changed,
            } => Err(Error::UntrustedPolicy {
                file,
                widenings: widenings.iter().map(ToString::to_string).collect(),
                changed,
            }),
            TrustStatus::Stated
            | TrustStatus::Recorded { .. }
            | TrustStatus::NarrowsOnly { .. } => Ok(()),
        }
    }
}

/// What decides trust besides the policy itself.
#[derive(Debug, Clone, Default)]
pub struct TrustContext {
    /// The trust store (`$XDG_STATE_HOME/boxpy/trusted.json`).
    pub store: Option<PathBuf>,
    /// Policy keys a command-line flag replaces (`network.mode` for `--network`).
    pub overridden: Vec<&'static str>,
}

/// Loads a policy and decides whether it may be used as it is (see [`trust`]).
pub fn load_assessed(
    source: &PolicySource,
    context: &LoadContext,
    trust_context: &TrustContext,
) -> Result<(Policy, TrustStatus)> {
    let loaded = load_with_files(source, context)?;
    if source.is_stated() {
        return Ok((loaded.policy, TrustStatus::Stated));
    }
    let status = assess(&loaded, context, trust_context)?;
    Ok((loaded.policy, status))
}

/// The trust status of a policy found in the working directory.
pub fn assess(
    loaded: &Loaded,
    context: &LoadContext,
    trust_context: &TrustContext,
) -> Result<TrustStatus> {
    let Some((file, _)) = loaded.files.first() else {
        return Ok(TrustStatus::Stated);
    };
    let file = file.clone();
    let default = load(&PolicySource::Builtin("default".to_owned()), context)?;
    let boundary = file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    let extended: Vec<PathBuf> = loaded.files[1..]
        .iter()
        .map(|(path, _)| path.clone())
        .collect();
    let widenings = trust::widenings(
        &loaded.policy,
        &default,
        &boundary,
        &extended,
        &resolve_existing,
        &trust_context.overridden,
    );
    if widenings.is_empty() {
        return Ok(TrustStatus::NarrowsOnly { file });
    }
    let digest = trust::digest(&loaded.files);
    let recorded = match &trust_context.store {
        // A store a sandboxed run could write is no store.
        Some(store) if resolve_existing(store).starts_with(&boundary) => {
            return Err(Error::Usage {
                message: format!(
                    "the trust store `{}` lies inside the directory of `{}`, where a sandboxed run can write it",
                    store.display(),
                    file.display()
                ),
                hint: Some(
                    "set `XDG_STATE_HOME` to a directory outside your projects (the default is `~/.local/state`)"
                        .to_owned(),
                ),
            })
        }
        Some(store) => trust::TrustStore::load(store)
            .map_err(|error| Error::Usage {
                message: format!("cannot read the trust store `{}`: {error}", store.display()),
                hint: Some(
                    "remove it and trust the policy again with `boxpy policy trust`".to_owned(),
                ),
            })?
            .lookup(&file, &digest),
        None => trust::Recorded::No,
    };
    Ok(match recorded {
        trust::Recorded::Yes => TrustStatus::Recorded { file },
        trust::Recorded::Changed => TrustStatus::Refused {
            file,
            widenings,
            changed: true,
        },
        trust::Recorded::No => TrustStatus::Refused {
            file,
            widenings,
            changed: false,
        },
    })
}

/// A file's canonical directory joined with its own name (a symlink is not followed): how
/// the trust store knows a policy found in a project.
pub(crate) fn location(absolute: &Path) -> PathBuf {
    let absolute = validate::normalize(absolute);
    match (absolute.parent(), absolute.file_name()) {
        (Some(parent), Some(name)) => parent
            .canonicalize()
            .unwrap_or_else(|_| parent.to_path_buf())
            .join(name),
        _ => absolute,
    }
}

/// `path` with symlinks resolved as far as it exists, the rest appended lexically: a link
/// planted in the working directory that points outside resolves outside.
pub(crate) fn resolve_existing(path: &Path) -> PathBuf {
    let mut missing = Vec::new();
    let mut current = path.to_path_buf();
    loop {
        if let Ok(canonical) = current.canonicalize() {
            let mut out = canonical;
            for part in missing.iter().rev() {
                out.push(part);
            }
            return validate::normalize(&out);
        }
        match (current.file_name(), current.parent()) {
            (Some(name), Some(parent)) => {
                missing.push(name.to_os_string());
                current = parent.to_path_buf();
            }
            _ => return path.to_path_buf(),
        }
    }
}

const MAX_EXTENDS_DEPTH: usize = 16;

/// The policy whose `extends` led to the one being loaded: errors about the extended one
/// (missing, a cycle) point at that `extends`.
struct ExtendedBy<'a> {
    display: &'a str,
    text: &'a str,
    offset: usize,
}

/// One policy of an `extends` chain, for cycle errors: its key and its name as shown.
type Seen = Vec<(String, String)>;

fn collect_layers(
    source: &PolicySource,
    context: &LoadContext,
    layers: &mut Vec<Layer>,
    seen: &mut Seen,
    files: &mut Vec<(PathBuf, String)>,
    extended_by: Option<ExtendedBy<'_>>,
) -> Result<()> {
    let depth = seen.len();
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
        PolicySource::File(path) | PolicySource::Workdir(path) | PolicySource::PyProject(path) => {
            let absolute = if path.is_absolute() {
                path.clone()
            } else {
                context.cwd.join(path)
            };
            let text = crate::bounded::read_to_string(&absolute, crate::bounded::POLICY_LIMIT)
                .map_err(|error| match &extended_by {
                    Some(by) => Error::Policy {
                        location: validate::locate(by.text, by.display, by.offset),
                        message: format!(
                            "`extends` names `{}`, which cannot be read: {error}",
                            path.display()
                        ),
                        hint: Some(match error {
                            crate::bounded::ReadError::Io(_) => {
                                "a relative path in `extends` is relative to the file that names it"
                                    .to_owned()
                            }
                            _ => unreadable_hint(&error),
                        }),
                    },
                    None => unreadable_policy(path, &error),
                })?;
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
        PolicySource::File(path) | PolicySource::Workdir(path) | PolicySource::PyProject(path) => {
            let absolute = context.cwd.join(path);
            let canonical = absolute.canonicalize().unwrap_or_else(|_| absolute.clone());
            // The policy's own file is known by where it sits (its directory, canonical),
            // not by where a symlink leads: its relative paths resolve from there, and a
            // `boxpy.toml` linked to another project's trusted one is not that one.
            let known_as = if depth == 0 {
                location(&absolute)
            } else {
                canonical.clone()
            };
            files.push((known_as, text.clone()));
            format!("file:{}", canonical.display())
        }
    };
    let cycle = seen.iter().position(|(seen_key, _)| *seen_key == key);
    if cycle.is_some() || depth > MAX_EXTENDS_DEPTH {
        let chain = seen
            .iter()
            .map(|(_, shown)| format!("`{shown}`"))
            .chain(std::iter::once(format!("`{display}`")))
            .collect::<Vec<_>>()
            .join(" extends ");
        let (message, hint) = match cycle {
            Some(_) => (
                format!("`extends` forms a cycle: {chain}"),
                "remove the `extends` that points back to an earlier policy",
            ),
            None => (
                format!("`extends` goes deeper than {MAX_EXTENDS_DEPTH} policies: {chain}"),
                "extend a shipped policy or a file that does not extend others",
            ),
        };
        let location = match &extended_by {
            Some(by) => validate::locate(by.text, by.display, by.offset),
            None => PolicyLocation {
                file: display,
                line: None,
                column: None,
            },
        };
        return Err(Error::Policy {
            location,
            message,
            hint: Some(hint.to_owned()),
        });
    }
    seen.push((key, display.clone()));

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
            let by = ExtendedBy {
                display: &display,
                text: &text,
                offset: extends.span().start,
            };
            collect_layers(&parent, context, layers, seen, files, Some(by))?;
        }
        None if !is_default => {
            collect_layers(
                &PolicySource::Builtin("default".to_owned()),
                context,
                layers,
                seen,
                files,
                None,
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
    Error::Policy {
        location: PolicyLocation {
            file: path.display().to_string(),
            line: None,
            column: None,
        },
        message: format!("cannot read the policy file: {error}"),
        hint: Some(unreadable_hint(error)),
    }
}

fn unreadable_hint(error: &crate::bounded::ReadError) -> String {
    use crate::bounded::ReadError;
    match error {
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
mod proptests;
#[cfg(test)]
mod tests;
