//! Which policies may widen the sandbox (SPEC §9 "Trust").
//!
//! What the user states is trusted: `--policy FILE`, flags, `$BOXPY_POLICY`, the user
//! config under `$XDG_CONFIG_HOME` and the shipped policies. A policy *found* in the working
//! directory (`boxpy.toml`, `[tool.boxpy]` in `pyproject.toml`) came with the repository,
//! or was written by an earlier sandboxed run: it may narrow the built-in `default` freely,
//! but everything that widens it or reaches outside its directory is refused
//! ([`widenings`]) until the user records the file with `boxpy policy trust`, as
//! `direnv allow`, `mise trust` and git's `safe.directory` do.
//!
//! The record ([`TrustStore`], `$XDG_STATE_HOME/boxpy/trusted.json`) holds the file's
//! canonical path and a SHA-256 over its text and the text of every file it extends; any
//! change to one of them needs trusting again. Only `boxpy policy trust` writes it
//! (atomically: a temporary file in the same directory, then `rename`). It lives under
//! the caller's home, which the sandbox replaces with a private tmpfs.
//!
//! [`widenings`] is pure: canonicalisation is a closure so unit tests need no files.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{NetworkMode, Policy};
use crate::network::rules::{List, Rule};

/// Variables the host side obeys before the sandbox exists: the sandbox's environment is
/// bwrap's environment, and bwrap runs on the host, so its dynamic loader and libc read
/// these (an `LD_PRELOAD` into the workdir would run the repository's code on the host).
/// Matched as prefixes where they end in `_`.
pub const HOST_SIDE_VARIABLES: &[&str] = &[
    "LD_",
    "GLIBC_TUNABLES",
    "GCONV_PATH",
    "LOCPATH",
    "NLSPATH",
    "MALLOC_",
    "HOSTALIASES",
    "RES_OPTIONS",
    "LOCALDOMAIN",
    "DYLD_",
];

/// Whether `name` is read by the host side of a run (see [`HOST_SIDE_VARIABLES`]).
pub fn is_host_side_variable(name: &str) -> bool {
    HOST_SIDE_VARIABLES.iter().any(|entry| {
        if entry.ends_with('_') {
            name.starts_with(entry)
        } else {
            name == *entry
        }
    })
}

/// One way a policy asks for more than the built-in `default` gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Widening {
    /// The policy key (`network.mode`, `filesystem.read_write`, `audit.log`, ...).
    pub key: String,
    /// What it asks for, in words.
    pub detail: String,
}

impl std::fmt::Display for Widening {
    fn fmt(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(formatter, "`{}`: {}", self.key, self.detail)
    }
}

/// Everything a policy file found in the working directory asks for beyond `default`.
///
/// - `policy`: the folded policy of the file (its `extends` chain and `default` under it),
///   before flags; `default`: the built-in default, loaded with the same context.
/// - `boundary`: the file's directory (canonical); nothing may reach outside it.
/// - `extended_files`: files it `extends` (any is a widening: their text is not in the
///   working directory's keeping).
/// - `resolve`: canonicalises a path as far as it exists (symlinks followed), so a link in
///   the working directory that points outside counts as outside.
/// - `overridden`: keys a command-line flag replaces; the file's value for them is unused.
pub fn widenings(
    policy: &Policy,
    default: &Policy,
    boundary: &Path,
    extended_files: &[PathBuf],
    resolve: &dyn Fn(&Path) -> PathBuf,
    overridden: &[&str],
) -> Vec<Widening> {
    let mut out = Vec::new();
    let mut push = |key: &str, detail: String| {
        if !overridden.contains(&key) {
            out.push(Widening {
                key: key.to_owned(),
                detail,
            });
        }
    };
    let inside = |path: &Path| resolve(path).starts_with(boundary);

    for file in extended_files {
        push(
            "extends",
            format!(
                "extends the file `{}`, whose text is not part of this one",
                file.display()
            ),
        );
    }
    if let Some(venv) = &policy.python.venv {
        if !inside(venv) {
            push(
                "python.venv",
                format!("uses the venv `{}` outside this directory", venv.display()),
            );
        }
    }
    if let Some(interpreter) = &policy.python.interpreter {
        if !inside(interpreter) {
            push(
                "python.interpreter",
                format!(
                    "runs the interpreter `{}` outside this directory",
                    interpreter.display()
                ),
            );
        }
    }
    let workdir = &policy.filesystem.workdir;
    if *workdir != default.filesystem.workdir && !inside(workdir) {
        push(
            "filesystem.workdir",
            format!(
                "makes `{}` (outside this directory) the writable working directory",
                workdir.display()
            ),
        );
    }
    for mount in policy
        .filesystem
        .read_only
        .iter()
        .chain(&policy.filesystem.read_write)
    {
        let access = if mount.writable {
            "read-write"
        } else {
            "read-only"
        };
        if !inside(&mount.source) {
            let resolved = resolve(&mount.source);
            let through = if resolved != mount.source {
                format!(" (it resolves to `{}`)", resolved.display())
            } else {
                String::new()
            };
            push(
                &mount.origin,
                format!(
                    "mounts `{}` {access}, outside this directory{through}",
                    mount.source.display()
                ),
            );
        } else if mount.writable
            && !resolve(&mount.source).starts_with(resolve(&default.filesystem.workdir))
            && !resolve(&mount.source).starts_with(resolve(workdir))
        {
            // Inside the policy's directory but above where the run starts (a policy found
            // in a parent of the working directory): the default writes nowhere but the
            // working directory.
            push(
                &mount.origin,
                format!(
                    "mounts `{}` read-write, above the working directory",
                    mount.source.display()
                ),
            );
        } else if mount.dest != mount.source && !mount.dest.starts_with(boundary) {
            push(
                &mount.origin,
                format!(
                    "mounts `{}` at `{}`, outside this directory",
                    mount.source.display(),
                    mount.dest.display()
                ),
            );
        }
    }
    if wider(policy.filesystem.tmp_size, default.filesystem.tmp_size) {
        push(
            "filesystem.tmp_size",
            describe_raise(
                policy.filesystem.tmp_size.map(super::units::format_size),
                default.filesystem.tmp_size.map(super::units::format_size),
            ),
        );
    }
    let (network, base_network) = (&policy.network, &default.network);
    // `proxy` itself widens nothing (a private loopback, as `none`, with boxpy's proxy as
    // the only way out); each host it allows does, as `full` does from `none`. The
    // `"network.deny"` rules only narrow.
    if !matches!(network.mode, NetworkMode::None | NetworkMode::Proxy)
        && network.mode != base_network.mode
    {
        push(
            "network.mode",
            format!(
                "asks for network `{}` (the default is `{}`)",
                network.mode.as_str(),
                base_network.mode.as_str()
            ),
        );
    }
    let base_allow: &[Rule] = match base_network.mode {
        NetworkMode::Proxy => &base_network.allow,
        _ => &[],
    };
    for rule in network
        .allow
        .iter()
        .filter(|rule| !base_allow.contains(rule))
    {
        push(
            "network.allow",
            format!(
                "{} through boxpy's proxy (the default allows no host)",
                rule.explain(List::Allow)
            ),
        );
    }
    let (limits, base) = (&policy.limits, &default.limits);
    let seconds = |value: Option<std::time::Duration>| value.map(super::units::format_duration);
    let size = |value: Option<u64>| value.map(super::units::format_size);
    let count = |value: Option<u64>| value.map(|value| value.to_string());
    let checks: [(&str, bool, Option<String>, Option<String>); 7] = [
        (
            "limits.timeout",
            wider(limits.timeout, base.timeout),
            seconds(limits.timeout),
            seconds(base.timeout),
        ),
        (
            "limits.cpu",
            wider(limits.cpu, base.cpu),
            seconds(limits.cpu),
            seconds(base.cpu),
        ),
        (
            "limits.memory",
            wider(limits.memory, base.memory),
            size(limits.memory),
            size(base.memory),
        ),
        (
            "limits.processes",
            wider(limits.processes, base.processes),
            count(limits.processes),
            count(base.processes),
        ),
        (
            "limits.file_size",
            wider(limits.file_size, base.file_size),
            size(limits.file_size),
            size(base.file_size),
        ),
        (
            "limits.open_files",
            wider(limits.open_files, base.open_files),
            count(limits.open_files),
            count(base.open_files),
        ),
        (
            "limits.output",
            wider(limits.output, base.output),
            size(limits.output),
            size(base.output),
        ),
    ];
    for (key, is_wider, value, base_value) in checks {
        if is_wider {
            push(key, describe_raise(value, base_value));
        }
    }
    for name in &policy.env.pass {
        if !default.env.pass.contains(name) {
            push(
                "env.pass",
                format!("passes the host variable `{name}` into the sandbox"),
            );
        }
    }
    for name in policy.env.set.keys() {
        if is_host_side_variable(name) && default.env.set.get(name) != policy.env.set.get(name) {
            push(
                "env.set",
                format!("sets `{name}`, which boxpy's own host-side process (bwrap) obeys"),
            );
        }
    }
    for (key, entries) in [
        ("filesystem.hide", &policy.filesystem.hide),
        ("filesystem.protect", &policy.filesystem.protect),
    ] {
        for entry in entries.iter().filter(|entry| entry.starts_with('!')) {
            push(
                key,
                format!("takes `{}` out of the default list", &entry[1..]),
            );
        }
    }
    for name in &default.guards.deny_imports {
        if !policy.guards.deny_imports.contains(name) {
            push(
                "guards.deny_imports",
                format!("no longer denies importing `{name}`"),
            );
        }
    }
    if let Some(log) = &policy.audit_log {
        if default.audit_log.as_ref() != Some(log) {
            push(
                "audit.log",
                format!(
                    "makes boxpy append to `{}` on the host after every run",
                    log.display()
                ),
            );
        }
    }
    out
}

/// `value` allows more than `base` (`None` is unlimited).
fn wider<T: PartialOrd>(value: Option<T>, base: Option<T>) -> bool {
    match (value, base) {
        (None, Some(_)) => true,
        (Some(value), Some(base)) => value > base,
        (_, None) => false,
    }
}

fn describe_raise(value: Option<String>, base: Option<String>) -> String {
    match (value, base) {
        (None, Some(base)) => format!("removes the limit (the default is {base})"),
        (Some(value), Some(base)) => format!("raises it to {value} (the default is {base})"),
        (value, None) => format!("sets {}", value.unwrap_or_else(|| "unlimited".to_owned())),
    }
}

/// The SHA-256 (hex) a trust record holds: over each file of the policy (the file itself,
/// then every file it extends), its canonical path and its text, length-prefixed so no
/// two different sets of files hash alike.
pub fn digest(files: &[(PathBuf, String)]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"boxpy-policy-trust-v1\0");
    for (path, text) in files {
        let path = path.to_string_lossy();
        hasher.update((path.len() as u64).to_le_bytes());
        hasher.update(path.as_bytes());
        hasher.update((text.len() as u64).to_le_bytes());
        hasher.update(text.as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// One trusted policy file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TrustRecord {
    /// The file's canonical path.
    pub path: PathBuf,
    /// [`digest`] of the file and what it extends when it was trusted.
    pub sha256: String,
}

/// `$XDG_STATE_HOME/boxpy/trusted.json`: the policy files the user has trusted.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TrustStore {
    pub version: u32,
    pub trusted: Vec<TrustRecord>,
}

/// What the store says about one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Trusted with exactly this text.
    Yes,
    /// Trusted once, but it (or a file it extends) has changed since.
    Changed,
    /// Never trusted.
    No,
}

/// The store's location: `$XDG_STATE_HOME/boxpy/trusted.json`, else
/// `~/.local/state/boxpy/trusted.json` (a relative `XDG_STATE_HOME` is ignored, as the
/// XDG specification says).
pub fn store_path(xdg_state_home: Option<&Path>, home: Option<&Path>) -> Option<PathBuf> {
    xdg_state_home
        .filter(|path| path.is_absolute())
        .map(Path::to_path_buf)
        .or_else(|| home.map(|home| home.join(".local/state")))
        .map(|state| state.join("boxpy").join("trusted.json"))
}

/// The largest store boxpy reads (a store is a few hundred bytes a record).
const MAX_STORE_BYTES: u64 = 4 << 20;

impl TrustStore {
    /// Reads the store; a missing one is empty. Refuses anything but a regular file.
    pub fn load(path: &Path) -> std::io::Result<TrustStore> {
        let file = match std::fs::File::open(path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(TrustStore::default())
            }
            Err(error) => return Err(error),
        };
        let metadata = file.metadata()?;
        if !metadata.is_file() || metadata.len() > MAX_STORE_BYTES {
            return Err(std::io::Error::other(
                "not a regular file of reasonable size",
            ));
        }
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::Read::take(file, MAX_STORE_BYTES), &mut text)?;
        serde_json::from_str(&text).map_err(std::io::Error::other)
    }

    /// What the store says about the file at `path` (canonical) with this `sha256`.
    pub fn lookup(&self, path: &Path, sha256: &str) -> Recorded {
        match self.trusted.iter().find(|record| record.path == path) {
            Some(record) if record.sha256 == sha256 => Recorded::Yes,
            Some(_) => Recorded::Changed,
            None => Recorded::No,
        }
    }

    /// Records `path` with `sha256`, replacing an earlier record of it.
    pub fn record(&mut self, path: &Path, sha256: &str) {
        self.trusted.retain(|record| record.path != path);
        self.trusted.push(TrustRecord {
            path: path.to_path_buf(),
            sha256: sha256.to_owned(),
        });
        self.version = 1;
    }

    /// Forgets `path`; whether it was there.
    pub fn forget(&mut self, path: &Path) -> bool {
        let before = self.trusted.len();
        self.trusted.retain(|record| record.path != path);
        self.version = 1;
        before != self.trusted.len()
    }

    /// Reads, changes and writes back the store at `path` under an exclusive `flock` of a
    /// lock file beside it, so two `boxpy policy trust` at once lose no record.
    pub fn update<T>(path: &Path, change: impl FnOnce(&mut TrustStore) -> T) -> std::io::Result<T> {
        use std::os::unix::fs::OpenOptionsExt;
        let directory = create_directory(path)?;
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(directory.join(".trusted.json.lock"))?;
        let _locked = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, errno)| std::io::Error::from(errno))?;
        let mut store = TrustStore::load(path)?;
        let result = change(&mut store);
        store.save(path)?;
        Ok(result)
    }

    /// Writes the store atomically (a temporary file in the same directory, then
    /// `rename`), creating the directory private to the user.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        use std::io::Write;
        let directory = create_directory(path)?;
        let mut file = tempfile::Builder::new()
            .prefix(".trusted.json.")
            .tempfile_in(directory)?;
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        file.write_all(text.as_bytes())?;
        file.write_all(b"\n")?;
        file.as_file().sync_all()?;
        file.persist(path).map_err(|error| error.error)?;
        Ok(())
    }
}

/// Creates the store's directory (private to the user) and returns it.
fn create_directory(path: &Path) -> std::io::Result<&Path> {
    use std::os::unix::fs::DirBuilderExt;
    let directory = path
        .parent()
        .ok_or_else(|| std::io::Error::other("the store has no directory"))?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(directory)?;
    Ok(directory)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{load, LoadContext, PolicySource};

    fn context() -> LoadContext {
        LoadContext {
            cwd: PathBuf::from("/project"),
            home: Some(PathBuf::from("/home/user")),
        }
    }

    fn policy_from(text: &str) -> Policy {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("boxpy.toml");
        std::fs::write(&file, text).unwrap();
        let mut policy = load(&PolicySource::File(file), &context()).unwrap();
        // Re-anchor the temporary directory's paths at /project for readable asserts.
        let fix = |path: &mut PathBuf| {
            if let Ok(rest) = path.strip_prefix(dir.path()) {
                *path = Path::new("/project").join(rest);
            }
        };
        for mount in policy
            .filesystem
            .read_only
            .iter_mut()
            .chain(policy.filesystem.read_write.iter_mut())
        {
            fix(&mut mount.source);
            fix(&mut mount.dest);
        }
        if let Some(log) = policy.audit_log.as_mut() {
            fix(log);
        }
        policy
    }

    fn keys(text: &str) -> Vec<String> {
        let default = load(&PolicySource::Builtin("default".into()), &context()).unwrap();
        let policy = policy_from(text);
        widenings(
            &policy,
            &default,
            Path::new("/project"),
            &[],
            &|path| path.to_path_buf(),
            &[],
        )
        .into_iter()
        .map(|widening| widening.key)
        .collect()
    }

    #[test]
    fn narrowing_is_not_a_widening() {
        assert!(keys("").is_empty());
        assert!(keys(
            "extends = \"strict\"\n[limits]\nmemory = \"1GiB\"\ntimeout = \"1m\"\n\
             [filesystem]\nread_only = [\"data\"]\nread_write = [\"out\"]\ntmp_size = \"64MiB\"\n\
             [env]\npass = [\"LANG\"]\nset = { PYTHONPATH = \"src\", MPLBACKEND = \"svg\" }\n\
             [guards]\ndeny_imports = [\"socket\"]\n[network]\nmode = \"none\"\n"
        )
        .is_empty());
    }

    #[test]
    fn each_widening_is_named_by_its_key() {
        assert_eq!(keys("[audit]\nlog = \"~/.bashrc\"\n"), ["audit.log"]);
        assert_eq!(keys("[audit]\nlog = \"audit.jsonl\"\n"), ["audit.log"]);
        assert_eq!(
            keys("[filesystem]\nread_write = [\"~\"]\n"),
            ["filesystem.read_write"]
        );
        assert_eq!(
            keys("[filesystem]\nread_only = [\"/opt/data\"]\n"),
            ["filesystem.read_only"]
        );
        assert_eq!(
            keys("[filesystem]\nread_only = [\"data:/usr/lib/python3/x\"]\n"),
            ["filesystem.read_only"]
        );
        assert_eq!(keys("[network]\nmode = \"full\"\n"), ["network.mode"]);
        assert_eq!(keys("[network]\nmode = \"localhost\"\n"), ["network.mode"]);
        assert_eq!(keys("extends = \"net\"\n"), ["network.mode"]);
        assert_eq!(
            keys("[env]\npass = [\"AWS_SECRET_ACCESS_KEY\"]\n"),
            ["env.pass"]
        );
        assert_eq!(
            keys("[env]\nset = { LD_PRELOAD = \"/project/evil.so\" }\n"),
            ["env.set"]
        );
        assert_eq!(keys("[limits]\nmemory = \"64GiB\"\n"), ["limits.memory"]);
        assert_eq!(
            keys("[limits]\ntimeout = \"unlimited\"\n"),
            ["limits.timeout"]
        );
        assert_eq!(keys("[limits]\nprocesses = 100000\n"), ["limits.processes"]);
        assert_eq!(
            keys("[filesystem]\ntmp_size = \"unlimited\"\n"),
            ["filesystem.tmp_size"]
        );
        assert_eq!(keys("[python]\nvenv = \"/opt/venv\"\n"), ["python.venv"]);
        assert_eq!(
            keys("[python]\ninterpreter = \"/usr/bin/python3\"\n"),
            ["python.interpreter"]
        );
        assert_eq!(
            keys("[filesystem]\nworkdir = \"..\"\n"),
            ["filesystem.workdir"]
        );
    }

    /// The attack of issue 17: a hostile repository's boxpy.toml lets the program reach
    /// the cloud metadata service or the attacker's hosts through boxpy's proxy.
    #[test]
    fn a_found_policy_that_allows_hosts_widens_as_full_does() {
        let hostile =
            "[network]\nmode = \"proxy\"\nallow = [\"169.254.169.254\", \"*.attacker.com\"]\n";
        assert_eq!(keys(hostile), ["network.allow", "network.allow"]);
        let default = load(&PolicySource::Builtin("default".into()), &context()).unwrap();
        let found = widenings(
            &policy_from(hostile),
            &default,
            Path::new("/project"),
            &[],
            &|path| path.to_path_buf(),
            &[],
        );
        assert!(found[0].detail.contains("169.254.169.254"), "{found:?}");
        assert!(found[1].detail.contains("attacker.com"), "{found:?}");
        // `--network proxy` replaces the mode, not the file's hosts.
        let found = widenings(
            &policy_from(hostile),
            &default,
            Path::new("/project"),
            &[],
            &|path| path.to_path_buf(),
            &["network.mode"],
        );
        assert_eq!(found.len(), 2, "{found:?}");
        // The shipped `pypi` policy, extended from a project, widens too.
        let pypi = keys("extends = \"pypi\"\n");
        assert_eq!(
            pypi.iter()
                .filter(|key| key.starts_with("network."))
                .collect::<Vec<_>>(),
            ["network.allow", "network.allow"]
        );
    }

    #[test]
    fn proxy_mode_without_hosts_and_deny_rules_only_narrow() {
        assert!(keys("[network]\nmode = \"proxy\"\n").is_empty());
        assert!(
            keys("[network]\nmode = \"proxy\"\nallow = []\ndeny = [\"*.example.com\"]\n")
                .is_empty()
        );
    }

    #[test]
    fn a_link_out_of_the_directory_counts_as_outside() {
        let default = load(&PolicySource::Builtin("default".into()), &context()).unwrap();
        let policy = policy_from("[filesystem]\nread_only = [\"data\"]\n");
        let resolve = |path: &Path| {
            if path == Path::new("/project/data") {
                PathBuf::from("/home/user")
            } else {
                path.to_path_buf()
            }
        };
        let found = widenings(&policy, &default, Path::new("/project"), &[], &resolve, &[]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].detail.contains("/home/user"), "{found:?}");
    }

    #[test]
    fn flags_override_what_they_replace() {
        let default = load(&PolicySource::Builtin("default".into()), &context()).unwrap();
        let policy = policy_from("[network]\nmode = \"full\"\n");
        let found = widenings(
            &policy,
            &default,
            Path::new("/project"),
            &[],
            &|path| path.to_path_buf(),
            &["network.mode"],
        );
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn host_side_variables() {
        for name in [
            "LD_PRELOAD",
            "LD_AUDIT",
            "GLIBC_TUNABLES",
            "DYLD_INSERT_LIBRARIES",
        ] {
            assert!(is_host_side_variable(name), "{name}");
        }
        for name in ["PYTHONPATH", "MPLBACKEND", "OLD_PRELOAD", "HOME"] {
            assert!(!is_host_side_variable(name), "{name}");
        }
    }

    #[test]
    fn the_digest_covers_paths_and_texts() {
        let one = digest(&[(PathBuf::from("/p/boxpy.toml"), "a".into())]);
        assert_eq!(one.len(), 64);
        assert_ne!(one, digest(&[(PathBuf::from("/p/boxpy.toml"), "b".into())]));
        assert_ne!(one, digest(&[(PathBuf::from("/q/boxpy.toml"), "a".into())]));
        assert_ne!(
            digest(&[
                (PathBuf::from("/p/a"), "bc".into()),
                (PathBuf::from("/p/d"), "".into())
            ]),
            digest(&[
                (PathBuf::from("/p/a"), "b".into()),
                (PathBuf::from("/p/d"), "c".into())
            ])
        );
    }

    #[test]
    fn the_store_round_trips_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = store_path(Some(dir.path()), None).unwrap();
        let mut store = TrustStore::load(&path).unwrap();
        assert_eq!(store.lookup(Path::new("/p/boxpy.toml"), "aa"), Recorded::No);
        store.record(Path::new("/p/boxpy.toml"), "aa");
        store.save(&path).unwrap();
        let store = TrustStore::load(&path).unwrap();
        assert_eq!(
            store.lookup(Path::new("/p/boxpy.toml"), "aa"),
            Recorded::Yes
        );
        assert_eq!(
            store.lookup(Path::new("/p/boxpy.toml"), "bb"),
            Recorded::Changed
        );
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .flatten()
            .map(|entry| entry.file_name())
            .collect();
        assert_eq!(leftovers, ["trusted.json"]);
        // Updates under the lock keep every record.
        std::thread::scope(|scope| {
            for index in 0..8 {
                let path = &path;
                scope.spawn(move || {
                    TrustStore::update(path, |store| {
                        store.record(&PathBuf::from(format!("/p{index}/boxpy.toml")), "cc")
                    })
                    .unwrap()
                });
            }
        });
        let store = TrustStore::load(&path).unwrap();
        assert_eq!(store.trusted.len(), 9, "{store:?}");
        assert_eq!(
            store_path(Some(Path::new("relative")), Some(Path::new("/home/u"))),
            Some(PathBuf::from("/home/u/.local/state/boxpy/trusted.json"))
        );
    }
}
