//! Per-venv library caches (`boxpy cache`, issue 26): what a library builds on its first
//! import and would otherwise rebuild in every run's fresh HOME (matplotlib's font list),
//! primed once per venv in a sandbox of its own and shown read-only to every later run.
//!
//! The pieces, each a plain function so the rules are tested without a sandbox:
//! - [`LIBRARIES`]: one entry per library (how it is found in a venv, how its version is
//!   read, what primes it, which files are kept and where a run sees them). Adding a
//!   library is one entry here; nothing else changes.
//! - [`Key`]: what a cache entry depends on (the venv's real path, its interpreter, the
//!   library's version files, the host's font directories), hashed; an entry whose key no
//!   longer matches is stale and primed again.
//! - [`Store`]: `$XDG_CACHE_HOME/boxpy/venvs/<venv id>/<library>-<key>/` (else
//!   `~/.cache/boxpy`), every directory boxpy's own (created 0700, checked: owned by the
//!   caller, not a symlink, not writable by others); an entry is moved into place whole
//!   (`rename`), so a reader sees an entry complete or not at all, and of two concurrent
//!   primes one wins and the other's copy is dropped.
//! - [`prime`]: the library's own code, run by the venv's interpreter (`python -I -c
//!   "import matplotlib.font_manager"`) in a sandbox built from the built-in `default`
//!   policy (no network, no workdir of the user's: a fresh private staging directory is
//!   the only writable place); boxpy then copies the regular files the table names, bounded
//!   in size, into the store. Nothing the sandbox leaves is followed (links, FIFOs).
//! - [`attach`]: a run of that venv sees each cached file read-only at the path the library
//!   reads (a file bind inside the private HOME, so the library can still write beside it);
//!   the binds pass the mount gate like every other mount. A run that sets the library's
//!   own variable (`--env MPLCONFIGDIR=...`) gets no bind: the user's word wins.
//!
//! Linux only: Seatbelt has no bind mounts (a macOS run primes nothing and binds nothing).

pub(crate) mod store;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::backend::{Backend, Session};
use crate::error::Result;
use crate::policy::Mount;
use crate::sandbox::EnvValue;
use crate::settings::{self, Invocation, Program};

pub(crate) use store::{Entry, Store};

/// One library whose cache boxpy keeps (see the module doc and docs/caches.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Library {
    /// The name `boxpy cache` shows, and the entry's directory name.
    pub name: &'static str,
    /// A file whose presence in a venv's site-packages says the library is installed
    /// (checked on the host; nothing is run to find out).
    pub marker: &'static str,
    /// The prefix of its `*.dist-info` directory name (`matplotlib-3.9.2.dist-info`):
    /// the version shown, and part of the key.
    pub distribution: &'static str,
    /// Files in site-packages whose contents are part of the key (the version module).
    pub version_files: &'static [&'static str],
    /// The code that makes the library build its cache, run by the venv's interpreter
    /// with `-I` (no current directory on `sys.path`, no `PYTHON*` variables).
    pub prime_code: &'static str,
    /// The variable pointing the library at the staging directory while priming.
    pub prime_variable: &'static str,
    /// Which of the files priming leaves are kept: (prefix, suffix) of their names.
    pub keep: &'static [(&'static str, &'static str)],
    /// Where a run sees the kept files, relative to its private HOME (the directory the
    /// library reads when none of `overrides` is set).
    pub bind_under: &'static str,
    /// Variables that move the library's cache elsewhere: when the run sets one, its
    /// files are not bound.
    pub overrides: &'static [&'static str],
    /// The key includes the host's font directories (what the library lists).
    pub depends_on_fonts: bool,
}

/// The libraries boxpy primes. A second library is one more entry (docs/caches.md).
pub(crate) const LIBRARIES: &[Library] = &[Library {
    name: "matplotlib",
    marker: "matplotlib/__init__.py",
    distribution: "matplotlib",
    version_files: &["matplotlib/_version.py"],
    prime_code: "import matplotlib.font_manager",
    prime_variable: "MPLCONFIGDIR",
    keep: &[("fontlist-v", ".json")],
    bind_under: ".cache/matplotlib",
    overrides: &["MPLCONFIGDIR", "XDG_CACHE_HOME"],
    depends_on_fonts: true,
}];

/// The directories whose listing (every directory's mtime, recursively) is part of a
/// font-dependent key: the system font directories a sandboxed library can see (the
/// user's own `~/.fonts` is not visible inside).
pub(crate) const FONT_DIRECTORIES: &[&str] = &["/usr/share/fonts", "/usr/local/share/fonts"];

/// The longest a prime runs when a run primes (shorter when the run's own
/// `limits.timeout` is).
pub(crate) const PRIME_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
/// The longest `boxpy cache prime` lets a prime run (the user asked for it).
pub(crate) const EXPLICIT_PRIME_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// The most directories a font listing walks (a host with more is keyed by the first).
const MAX_FONT_DIRECTORIES: usize = 20_000;
/// The largest version file read into a key.
const MAX_VERSION_FILE: u64 = 1 << 20;

/// What an entry's key is computed from, as plain data (probed by [`KeyInputs::probe`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyInputs {
    /// The venv's canonical path.
    pub venv: PathBuf,
    /// The site-packages directory holding the library (its name has Python's version).
    pub site_packages: PathBuf,
    /// The library's `*.dist-info` directory names and their mtimes (a reinstall or a
    /// recreated venv changes them), sorted.
    pub distributions: Vec<(String, i128)>,
    /// Each version file's path (relative to site-packages) and contents.
    pub version_files: Vec<(String, Vec<u8>)>,
    /// Each font directory (recursively) and its mtime in nanoseconds, sorted.
    pub fonts: Vec<(PathBuf, i128)>,
}

/// An entry's key: the SHA-256 of its inputs, hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Key(pub String);

impl KeyInputs {
    /// Reads the inputs for `library` in the venv whose site-packages is `site_packages`.
    pub fn probe(library: &Library, venv: &Path, site_packages: &Path) -> KeyInputs {
        let mut distributions: Vec<(String, i128)> = std::fs::read_dir(site_packages)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                is_distribution_of(&name, library.distribution).then_some(())?;
                Some((name, mtime(&entry.path().symlink_metadata().ok()?)))
            })
            .collect();
        distributions.sort();
        let version_files = library
            .version_files
            .iter()
            .map(|relative| {
                // Never through a link: one that leads out of the venv (into the workdir)
                // would let the program change the key, and so force a prime, on every run.
                // A link is keyed by where it points, not by what it points to.
                let path = site_packages.join(relative);
                let contents = match std::fs::read_link(&path) {
                    Ok(target) => {
                        let mut keyed = b"link:".to_vec();
                        keyed.extend_from_slice(target.as_os_str().as_encoded_bytes());
                        keyed
                    }
                    Err(_) => {
                        crate::bounded::read_no_follow(&path, MAX_VERSION_FILE).unwrap_or_default()
                    }
                };
                ((*relative).to_owned(), contents)
            })
            .collect();
        let fonts = if library.depends_on_fonts {
            font_listing(FONT_DIRECTORIES)
        } else {
            Vec::new()
        };
        KeyInputs {
            venv: venv.to_path_buf(),
            site_packages: site_packages.to_path_buf(),
            distributions,
            version_files,
            fonts,
        }
    }

    /// The key: every input, length-prefixed so no two different sets hash alike.
    pub fn key(&self, library: &Library) -> Key {
        let mut hasher = Sha256::new();
        let mut field = |bytes: &[u8]| {
            hasher.update((bytes.len() as u64).to_le_bytes());
            hasher.update(bytes);
        };
        field(b"boxpy-cache-v1");
        field(library.name.as_bytes());
        field(self.venv.as_os_str().as_encoded_bytes());
        field(self.site_packages.as_os_str().as_encoded_bytes());
        for (name, mtime) in &self.distributions {
            field(name.as_bytes());
            field(&mtime.to_le_bytes());
        }
        field(b"--");
        for (path, contents) in &self.version_files {
            field(path.as_bytes());
            field(contents);
        }
        field(b"--");
        for (path, mtime) in &self.fonts {
            field(path.as_os_str().as_encoded_bytes());
            field(&mtime.to_le_bytes());
        }
        Key(hex(&hasher.finalize()))
    }

    /// The version `boxpy cache show` prints: from the `*.dist-info` name, when it reads
    /// as a version (PEP 440 characters, bounded: the venv chose that name), else
    /// `unknown`.
    pub fn version(&self, library: &Library) -> Option<String> {
        self.distributions.iter().find_map(|(name, _)| {
            let version = name
                .strip_prefix(library.distribution)?
                .strip_prefix('-')?
                .strip_suffix(".dist-info")?;
            Some(if is_version_like(version) {
                version.to_owned()
            } else {
                "unknown".to_owned()
            })
        })
    }
}

/// The longest version text shown.
const MAX_VERSION_TEXT: usize = 64;

/// Whether `text` looks like a PEP 440 version: its characters only, bounded.
fn is_version_like(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_VERSION_TEXT
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b".+!_-".contains(&byte))
}

/// `matplotlib-3.9.2.dist-info` is `matplotlib`'s (but `matplotlib_inline-...` is not).
fn is_distribution_of(name: &str, distribution: &str) -> bool {
    name.strip_prefix(distribution)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|rest| rest.ends_with(".dist-info"))
}

/// Every directory below `roots` (and the roots) with its mtime, without following links,
/// sorted, bounded by [`MAX_FONT_DIRECTORIES`]. A root that is missing is absent.
pub(crate) fn font_listing(roots: &[&str]) -> Vec<(PathBuf, i128)> {
    let mut listing = Vec::new();
    let mut pending: Vec<PathBuf> = roots.iter().map(PathBuf::from).collect();
    while let Some(directory) = pending.pop() {
        if listing.len() >= MAX_FONT_DIRECTORIES {
            break;
        }
        let Ok(metadata) = directory.symlink_metadata() else {
            continue;
        };
        if !metadata.is_dir() {
            continue;
        }
        let modified = mtime(&metadata);
        if let Ok(entries) = std::fs::read_dir(&directory) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                    pending.push(entry.path());
                }
            }
        }
        listing.push((directory, modified));
    }
    listing.sort();
    listing
}

/// A file's mtime in nanoseconds.
fn mtime(metadata: &std::fs::Metadata) -> i128 {
    use std::os::unix::fs::MetadataExt;
    i128::from(metadata.mtime()) * 1_000_000_000 + i128::from(metadata.mtime_nsec())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// One library installed in one venv, with its current key.
#[derive(Debug, Clone)]
pub(crate) struct Installed {
    pub library: &'static Library,
    pub venv: PathBuf,
    pub inputs: KeyInputs,
    pub key: Key,
}

/// The libraries of [`LIBRARIES`] installed in `venv` (a file check of its site-packages;
/// nothing is run). `venv` is canonicalized (a symlinked venv is keyed by its real path).
pub(crate) fn installed(venv: &Path) -> Vec<Installed> {
    let venv = venv.canonicalize().unwrap_or_else(|_| venv.to_path_buf());
    let mut found = Vec::new();
    for library in LIBRARIES {
        if let Some(site) = crate::venv::holding(&venv, library.marker) {
            let inputs = KeyInputs::probe(library, &venv, &site);
            let key = inputs.key(library);
            found.push(Installed {
                library,
                venv: venv.clone(),
                inputs,
                key,
            });
        }
    }
    found
}

/// Whether a run may use (and prime) caches, and what to do about a missing entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Priming {
    /// Prime a missing or stale entry now, in the run's own time (`run`, `exec`, `nbexec`).
    IfNeeded,
    /// Bind what is there; prime nothing (`boxpy render`).
    Never,
}

/// Adds to `invocation` the read-only binds of its venv's cached files, priming a missing
/// or stale entry first when `priming` says so. `say` tells the user (once) that a cache
/// is being primed, or why one could not be; a failed prime never fails the run.
pub(crate) fn attach(
    invocation: &mut Invocation,
    backend: &dyn Backend,
    priming: Priming,
    env: settings::EnvLookup,
    say: &dyn Fn(&str),
) -> Result<()> {
    if !cfg!(target_os = "linux") {
        return Ok(());
    }
    let host = backend.host();
    let Some(root) = store::root(env, host.home.as_deref()) else {
        return Ok(());
    };
    // A run that could write the store would decide what later runs of every venv read:
    // refused while the store exists (the gate already refuses `~/.cache/boxpy`; this
    // covers an `XDG_CACHE_HOME` elsewhere); while it does not, the run gets no cache and
    // primes none (so it never creates a store it could write).
    let writable = invocation.writable_areas();
    if let Some(area) = writable
        .iter()
        .find(|area| root.starts_with(area) || area.starts_with(&root))
    {
        if root.symlink_metadata().is_err() {
            return Ok(());
        }
        return Err(crate::error::Error::Usage {
            message: format!(
                "refusing to run: the program could write `{}`, which holds boxpy's library caches that later runs read",
                area.display()
            ),
            hint: Some(format!(
                "mount a directory that does not hold `{}` writable, or point `XDG_CACHE_HOME` elsewhere",
                root.display()
            )),
        });
    }
    let Some(venv) = invocation.spec.interpreter.venv.clone() else {
        return Ok(());
    };
    let libraries = installed(&venv);
    if libraries.is_empty() {
        return Ok(());
    }
    for found in libraries {
        let overridden = found.library.overrides.iter().any(|name| {
            invocation
                .spec
                .env
                .iter()
                .any(|(variable, _)| variable == name)
        });
        if overridden {
            continue;
        }
        let store = match Store::open(&root, priming == Priming::IfNeeded) {
            Ok(Some(store)) => store,
            Ok(None) => return Ok(()),
            Err(problem) => {
                say(&format!("the library cache is not used: {problem}"));
                return Ok(());
            }
        };
        let entry = match store.entry(&found) {
            Ok(Some(entry)) => entry,
            Ok(None) if priming == Priming::IfNeeded && store.failed(&found) => {
                say(&format!(
                    "{}'s cache is not used: priming it failed for this venv (`boxpy cache prime` tries again)",
                    found.library.name
                ));
                continue;
            }
            Ok(None) if priming == Priming::IfNeeded => {
                say(&format!(
                    "priming {}'s cache for this venv (once; `boxpy cache show` lists it)",
                    found.library.name
                ));
                let timeout = invocation
                    .policy
                    .limits
                    .timeout
                    .map_or(PRIME_TIMEOUT, |timeout| timeout.min(PRIME_TIMEOUT));
                match prime_within(&store, &found, backend, timeout) {
                    Ok(entry) => entry,
                    Err(problem) => {
                        say(&format!(
                            "{}'s cache was not primed: {problem}",
                            found.library.name
                        ));
                        continue;
                    }
                }
            }
            Ok(None) => continue,
            Err(problem) => {
                say(&format!(
                    "{}'s cache is not used: {problem}",
                    found.library.name
                ));
                continue;
            }
        };
        let home = invocation.spec.home.clone();
        for file in &entry.files {
            let mount = Mount {
                source: entry.directory.join(file),
                dest: home.join(found.library.bind_under).join(file),
                optional: false,
                writable: false,
                origin: format!(
                    "{} {}",
                    crate::sandbox::LIBRARY_CACHE_ORIGIN,
                    found.library.name
                ),
            };
            settings::admit_mount(invocation, mount, host.home.as_deref())?;
        }
    }
    Ok(())
}

/// The sandbox priming runs in: the built-in `default` policy, no network, the staging
/// directory as its only writable place (and its working directory), the venv's
/// interpreter running the library's own code with `-I`; the caller's environment is
/// not consulted (no `$BOXPY_POLICY`, no user config, no passed variables).
pub(crate) fn prime_invocation(
    found: &Installed,
    staging: &Path,
    backend: &dyn Backend,
    timeout: std::time::Duration,
) -> Result<Invocation> {
    let args = crate::cli::SandboxArgs {
        policy: Some("default".to_owned()),
        venv: Some(found.venv.clone()),
        workdir: Some(staging.to_path_buf()),
        network: Some(crate::policy::NetworkMode::None),
        env: vec![format!(
            "{}={}",
            found.library.prime_variable,
            staging.display()
        )],
        quiet: true,
        ..crate::cli::SandboxArgs::default()
    };
    let program = Program::Interpreter(vec![
        OsString::from("-I"),
        OsString::from("-c"),
        OsString::from(found.library.prime_code),
    ]);
    let mut invocation = settings::resolve(&args, program, backend.host(), &|_| None)?;
    invocation.policy.limits.timeout = Some(timeout);
    // `-I` ignores `PYTHON*` variables anyway; the policy's own settings stay.
    invocation
        .spec
        .env
        .retain(|(name, _)| !name.starts_with("PYTHON") || name == "PYTHONUNBUFFERED");
    debug_assert!(invocation
        .spec
        .env
        .iter()
        .any(|(name, value)| name == found.library.prime_variable
            && matches!(value, EnvValue::Literal(_))));
    Ok(invocation)
}

/// Primes `found`'s entry in `store` (`boxpy cache prime`: retried even after a failure,
/// within [`EXPLICIT_PRIME_TIMEOUT`]); see [`prime_within`].
pub(crate) fn prime(
    store: &Store,
    found: &Installed,
    backend: &dyn Backend,
) -> std::result::Result<Entry, String> {
    prime_within(store, found, backend, EXPLICIT_PRIME_TIMEOUT)
}

/// Primes `found`'s entry in `store`: runs the library in its own sandbox (see
/// [`prime_invocation`]) for at most `timeout`, keeps the files the table names, moves
/// the entry into place. Returns the entry (the one a concurrent prime put there first,
/// if it won). A failure is recorded for the current key (runs do not retry it); its
/// text never carries the program's output (the venv chose it).
pub(crate) fn prime_within(
    store: &Store,
    found: &Installed,
    backend: &dyn Backend,
    timeout: std::time::Duration,
) -> std::result::Result<Entry, String> {
    let primed = prime_once(store, found, backend, timeout);
    if primed.is_err() {
        store.record_failure(found);
    }
    primed
}

fn prime_once(
    store: &Store,
    found: &Installed,
    backend: &dyn Backend,
    timeout: std::time::Duration,
) -> std::result::Result<Entry, String> {
    let staging = tempfile::Builder::new()
        .prefix("boxpy-prime-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir()
        .map_err(|error| format!("cannot create a staging directory: {error}"))?;
    let staging_path = staging
        .path()
        .canonicalize()
        .map_err(|error| format!("cannot resolve the staging directory: {error}"))?;
    let invocation = prime_invocation(found, &staging_path, backend, timeout)
        .map_err(|error| error.summary())?;
    let outcome = backend
        .run(
            &invocation,
            Session {
                channel: None,
                observer: &|_| {},
                runtime: crate::exec::Runtime::cli(),
                io: crate::exec::Io::default(),
                env: crate::exec::Environment::from_pairs(std::iter::empty()),
                output: crate::exec::Observer::default(),
            },
        )
        .map_err(|error| error.summary())?;
    if outcome.status != crate::exec::Status::Exited(0) {
        return Err(format!(
            "`python -c \"{}\"` failed in its sandbox ({})",
            found.library.prime_code,
            describe_status(outcome.status, timeout)
        ));
    }
    store.install(found, &staging_path)
}

/// How a prime ended, in boxpy's words only (the program's output is not quoted).
fn describe_status(status: crate::exec::Status, timeout: std::time::Duration) -> String {
    match status {
        crate::exec::Status::Exited(code) => format!("exit status {code}"),
        crate::exec::Status::Signaled(signal) => format!("killed by signal {signal}"),
        crate::exec::Status::TimedOut => format!("stopped after {}", humantime_seconds(timeout)),
    }
}

fn humantime_seconds(duration: std::time::Duration) -> String {
    format!("{} s", duration.as_secs().max(1))
}

/// Why `record`'s entry is stale (`None`: it is the current entry of its venv): the venv
/// is gone, the library is no longer installed in it, or the key changed (a new version,
/// a reinstalled venv, new fonts on the host).
pub(crate) fn staleness(record: &store::Record) -> Option<String> {
    if !record.venv.join("pyvenv.cfg").is_file() {
        return Some("the venv is gone".to_owned());
    }
    let current = installed(&record.venv)
        .into_iter()
        .find(|found| found.library.name == record.library);
    match current {
        None => Some(format!("{} is no longer installed", record.library)),
        Some(found) if found.key.0 != record.key => Some(
            "its key changed (another version, a reinstalled venv or new fonts); the next run primes it again"
                .to_owned(),
        ),
        Some(_) => None,
    }
}

/// A venv named on the command line (`--venv DIR`): its canonical path, when it is one.
pub(crate) fn venv_argument(venv: &Path) -> Result<PathBuf> {
    let resolved = venv
        .canonicalize()
        .ok()
        .filter(|path| path.join("pyvenv.cfg").is_file())
        .ok_or_else(|| crate::error::Error::Usage {
            message: format!("`{}` is not a venv (no `pyvenv.cfg`)", venv.display()),
            hint: Some("pass the venv's directory with `--venv DIR`".to_owned()),
        })?;
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> KeyInputs {
        KeyInputs {
            venv: PathBuf::from("/work/.venv"),
            site_packages: PathBuf::from("/work/.venv/lib/python3.12/site-packages"),
            distributions: vec![("matplotlib-3.9.2.dist-info".to_owned(), 1)],
            version_files: vec![(
                "matplotlib/_version.py".to_owned(),
                b"version = '3.9.2'\n".to_vec(),
            )],
            fonts: vec![(PathBuf::from("/usr/share/fonts"), 7)],
        }
    }

    /// A version file that is a link (into the workdir, say, where the program rewrites
    /// it) is keyed by where it points: rewriting the target does not change the key, so a
    /// run cannot force a prime on every run.
    #[test]
    fn a_linked_version_file_is_keyed_by_its_target_path() {
        let root = tempfile::tempdir().unwrap();
        let site = root.path().join("site-packages");
        std::fs::create_dir_all(site.join("matplotlib")).unwrap();
        let outside = root.path().join("outside.py");
        std::fs::write(&outside, "version = '1'\n").unwrap();
        std::os::unix::fs::symlink(&outside, site.join("matplotlib/_version.py")).unwrap();
        let library = &LIBRARIES[0];
        let first = KeyInputs::probe(library, root.path(), &site).key(library);
        std::fs::write(&outside, "version = '2'\n").unwrap();
        let second = KeyInputs::probe(library, root.path(), &site);
        assert_eq!(second.key(library), first);
        assert!(second.version_files[0].1.starts_with(b"link:"));
        // A regular file is keyed by its contents.
        std::fs::remove_file(site.join("matplotlib/_version.py")).unwrap();
        std::fs::write(site.join("matplotlib/_version.py"), "version = '1'\n").unwrap();
        let plain = KeyInputs::probe(library, root.path(), &site);
        assert_eq!(plain.version_files[0].1, b"version = '1'\n");
    }

    #[test]
    fn every_input_changes_the_key() {
        let library = &LIBRARIES[0];
        let base = inputs().key(library);
        assert_eq!(base, inputs().key(library), "the key is a pure function");
        type Change = Box<dyn Fn(&mut KeyInputs)>;
        let changes: Vec<(&str, Change)> = vec![
            ("venv", Box::new(|i| i.venv = PathBuf::from("/other/.venv"))),
            (
                "python",
                Box::new(|i| {
                    i.site_packages = PathBuf::from("/work/.venv/lib/python3.13/site-packages")
                }),
            ),
            (
                "version",
                Box::new(|i| i.distributions[0].0 = "matplotlib-3.10.0.dist-info".to_owned()),
            ),
            ("reinstall", Box::new(|i| i.distributions[0].1 = 2)),
            (
                "version file",
                Box::new(|i| i.version_files[0].1.push(b'#')),
            ),
            ("font mtime", Box::new(|i| i.fonts[0].1 = 8)),
            (
                "new font directory",
                Box::new(|i| i.fonts.push((PathBuf::from("/usr/share/fonts/new"), 9))),
            ),
        ];
        for (what, change) in changes {
            let mut changed = inputs();
            change(&mut changed);
            assert_ne!(changed.key(library), base, "{what} must change the key");
        }
        // Fields are length-prefixed: moving a byte from one to the next changes the key.
        let mut shifted = inputs();
        shifted.venv = PathBuf::from("/work/.venv/lib");
        shifted.site_packages = PathBuf::from("/python3.12/site-packages");
        assert_ne!(shifted.key(library), base);
    }

    #[test]
    fn the_version_comes_from_the_library_own_dist_info() {
        let library = &LIBRARIES[0];
        assert!(is_distribution_of(
            "matplotlib-3.9.2.dist-info",
            "matplotlib"
        ));
        assert!(!is_distribution_of(
            "matplotlib_inline-0.1.7.dist-info",
            "matplotlib"
        ));
        assert!(!is_distribution_of(
            "matplotlib-3.9.2.egg-info",
            "matplotlib"
        ));
        assert_eq!(inputs().version(library).as_deref(), Some("3.9.2"));
    }

    #[test]
    fn a_version_is_shown_only_when_it_reads_as_one() {
        let library = &LIBRARIES[0];
        let with = |name: &str| {
            let mut inputs = inputs();
            inputs.distributions[0].0 = name.to_owned();
            inputs.version(library)
        };
        for good in ["3.9.2", "1!2.0.post1+local_7", "3.10.0rc1", "1.0-1"] {
            assert_eq!(
                with(&format!("matplotlib-{good}.dist-info")).as_deref(),
                Some(good)
            );
        }
        let long = "9".repeat(MAX_VERSION_TEXT + 1);
        for bad in [
            "3.9 is outdated, run curl",
            "3.9`; fix it",
            "3.9\u{1b}]52;c;",
            long.as_str(),
        ] {
            assert_eq!(
                with(&format!("matplotlib-{bad}.dist-info")).as_deref(),
                Some("unknown"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_table_binds_only_inside_the_private_home_and_keeps_plain_names() {
        for library in LIBRARIES {
            let bind = Path::new(library.bind_under);
            assert!(bind.is_relative() && !library.bind_under.contains(".."));
            assert!(!library.keep.is_empty() && !library.overrides.is_empty());
            assert!(library.overrides.contains(&library.prime_variable));
            assert!(!library.marker.starts_with('/') && !library.marker.contains(".."));
            assert!(!library.prime_code.contains('\n'));
        }
        let names: std::collections::HashSet<_> = LIBRARIES.iter().map(|l| l.name).collect();
        assert_eq!(names.len(), LIBRARIES.len(), "one entry per library");
    }

    #[test]
    fn a_library_is_found_by_a_file_in_site_packages_and_keyed_by_the_real_path() {
        let base = tempfile::tempdir().unwrap();
        let venv = base.path().join("venv");
        let site = venv.join("lib/python3.12/site-packages");
        std::fs::create_dir_all(&site).unwrap();
        std::fs::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        assert!(
            installed(&venv).is_empty(),
            "nothing installed, nothing found"
        );
        std::fs::create_dir_all(site.join("matplotlib")).unwrap();
        std::fs::write(site.join("matplotlib/__init__.py"), "").unwrap();
        std::fs::create_dir(site.join("matplotlib-3.9.2.dist-info")).unwrap();
        let found = installed(&venv);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].library.name, "matplotlib");
        assert_eq!(
            found[0].inputs.version(found[0].library).as_deref(),
            Some("3.9.2")
        );
        let link = base.path().join("link");
        std::os::unix::fs::symlink(&venv, &link).unwrap();
        let through_link = installed(&link);
        assert_eq!(through_link[0].key, found[0].key);
        assert_eq!(through_link[0].venv, venv.canonicalize().unwrap());
    }

    #[test]
    fn the_font_listing_walks_directories_without_following_links() {
        let base = tempfile::tempdir().unwrap();
        let fonts = base.path().join("fonts");
        std::fs::create_dir_all(fonts.join("truetype/dejavu")).unwrap();
        std::fs::write(fonts.join("truetype/dejavu/a.ttf"), "").unwrap();
        std::os::unix::fs::symlink("/etc", fonts.join("elsewhere")).unwrap();
        let root = fonts.to_str().unwrap();
        let listing = font_listing(&[root, "/nonexistent-boxpy-fonts"]);
        let paths: Vec<_> = listing.iter().map(|(path, _)| path.clone()).collect();
        assert_eq!(
            paths,
            vec![
                fonts.clone(),
                fonts.join("truetype"),
                fonts.join("truetype/dejavu")
            ]
        );
    }

    /// A library whose cache depends on fonts is one of the font users that decide
    /// whether a run sees the font configuration.
    #[test]
    fn every_font_dependent_library_counts_as_a_font_user() {
        for library in LIBRARIES.iter().filter(|library| library.depends_on_fonts) {
            assert!(
                crate::venv::FONTCONFIG_USERS.contains(&library.marker),
                "{}",
                library.name
            );
        }
    }

    /// A venv uses fonts when it holds a font library (matplotlib, or another of
    /// `venv::FONTCONFIG_USERS`) or sees the system's packages; not otherwise.
    #[test]
    fn a_venv_uses_fonts_only_with_a_font_library_or_the_system_packages() {
        let root = tempfile::tempdir().unwrap();
        let venv = root.path();
        let site = venv.join("lib/python3.11/site-packages");
        std::fs::create_dir_all(site.join("numpy")).unwrap();
        std::fs::write(site.join("numpy/__init__.py"), "").unwrap();
        std::fs::write(
            venv.join("pyvenv.cfg"),
            "home = /usr/bin\ninclude-system-site-packages = false\n",
        )
        .unwrap();
        assert!(!crate::venv::uses_fonts(venv));
        for marker in ["matplotlib/__init__.py", "PyQt6/__init__.py"] {
            let file = site.join(marker);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, "").unwrap();
            assert!(crate::venv::uses_fonts(venv), "{marker}");
            std::fs::remove_file(&file).unwrap();
        }
        assert!(!crate::venv::uses_fonts(venv));
        std::fs::write(
            venv.join("pyvenv.cfg"),
            "home = /usr/bin\ninclude-system-site-packages = true\n",
        )
        .unwrap();
        assert!(crate::venv::uses_fonts(venv));
    }

    /// A venv with more entries in `lib/` than boxpy looks through (a hostile one had
    /// 200,000, each looked at at every start) is one boxpy cannot tell about: fonts shown.
    #[test]
    fn a_venv_with_a_crowded_lib_is_taken_to_use_fonts() {
        let root = tempfile::tempdir().unwrap();
        let venv = root.path();
        std::fs::write(
            venv.join("pyvenv.cfg"),
            "home = /usr/bin
",
        )
        .unwrap();
        std::fs::create_dir_all(venv.join("lib/python3.11/site-packages")).unwrap();
        assert!(!crate::venv::uses_fonts(venv));
        for index in 0..64 {
            std::fs::create_dir_all(venv.join(format!("lib/python0.{index}"))).unwrap();
        }
        assert!(crate::venv::uses_fonts(venv));
    }
}
