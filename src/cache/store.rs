//! Where cache entries live on the host: `$XDG_CACHE_HOME/boxpy` (an absolute one; else
//! `~/.cache/boxpy`), then `venvs/<venv id>/<library>-<key>/` holding `entry.json` and the
//! library's files.
//!
//! Every directory from `boxpy/` down is boxpy's own: created 0700 and, before anything
//! in it is read or written, checked to be a real directory (never a symlink) owned by the
//! caller and writable by nobody else; files are read without following links and must be
//! regular files owned by the caller. A symlink planted anywhere below `boxpy/` makes the
//! entry unused, never followed. The XDG directory itself is the user's (a `~/.cache`
//! that is a link to another disk is theirs to make): the root is resolved once (its
//! existing ancestors canonicalized), and that real path is what the "store inside a
//! writable area" check compares and what runs bind.
//!
//! An entry keeps at most one file per pattern of the table (the newest the library
//! wrote), at most [`MAX_ENTRY`] bytes in all, and never a sparse file (one whose
//! allocated blocks are far below its length: cheap to make in the staging directory,
//! dense when copied). A prime that failed leaves a marker (`.failed-<library>-<key>`)
//! so runs do not retry it until the key changes; `boxpy cache prime` retries.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::{Installed, Library, LIBRARIES};
use crate::settings::EnvLookup;

/// The most an entry keeps, all its files together (matplotlib's font list is ~100 KiB
/// on a desktop, a few MiB on a host with thousands of fonts).
pub(crate) const MAX_ENTRY: u64 = 16 << 20;
/// A file longer than this whose allocated blocks cover less than half its length is
/// sparse, and not kept.
const SPARSE_FROM: u64 = 64 << 10;
/// The largest `entry.json` read.
const MAX_ENTRY_RECORD: u64 = 1 << 20;
/// The name of an entry's record.
const RECORD: &str = "entry.json";

/// `$XDG_CACHE_HOME/boxpy` (absolute only, as the XDG specification says), else
/// `~/.cache/boxpy`.
/// The cache directory is resolved (see [`resolve`]): the store's real location, the one
/// checked against a run's writable areas and bound into runs.
pub(crate) fn root(env: EnvLookup, home: Option<&Path>) -> Option<PathBuf> {
    env("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|path| path.is_absolute())
        .or_else(|| home.map(|home| home.join(".cache")))
        .and_then(|cache| resolve(&cache))
        .map(|cache| cache.join("boxpy"))
}

/// `path` with its longest existing ancestor canonicalized (links in it resolved) and
/// the missing rest appended; `None` when the missing rest has a `..` (where it would
/// lead is not known until it exists).
pub(crate) fn resolve(path: &Path) -> Option<PathBuf> {
    let mut existing = path;
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            let mut resolved = real;
            for component in rest.iter().rev() {
                match component {
                    std::path::Component::Normal(name) => resolved.push(name),
                    std::path::Component::CurDir => {}
                    _ => return None,
                }
            }
            return Some(resolved);
        }
        let component = existing.components().next_back()?;
        rest.push(component);
        existing = existing.parent()?;
    }
}

/// The store, its root checked.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    root: PathBuf,
}

/// What `entry.json` records.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Record {
    pub library: String,
    /// The venv's canonical path.
    pub venv: PathBuf,
    pub version: Option<String>,
    /// The full key ([`super::Key`]).
    pub key: String,
    /// The kept files' names.
    pub files: Vec<String>,
}

/// One entry, checked.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub directory: PathBuf,
    pub files: Vec<String>,
    pub record: Record,
    /// The files' total size in bytes.
    pub size: u64,
}

/// The id of a venv's directory: the start of the SHA-256 of its canonical path.
pub(crate) fn venv_id(venv: &Path) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(venv.as_os_str().as_encoded_bytes());
    super::hex(&digest[..12])
}

/// The caller's effective uid.
fn uid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// Checks that `path` is a directory of the caller's that nobody else can write, without
/// following a link; creates it (0700) when `create` and it is missing. `Ok(false)`: it
/// is missing and was not created.
fn private_directory(path: &Path, create: bool) -> Result<bool, String> {
    let metadata = match path.symlink_metadata() {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && create => {
            match fs::DirBuilder::new().mode(0o700).create(path) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(error) => return Err(format!("cannot create `{}`: {error}", path.display())),
            }
            path.symlink_metadata()
                .map_err(|error| format!("cannot read `{}`: {error}", path.display()))?
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(error) => return Err(format!("cannot read `{}`: {error}", path.display())),
    };
    if metadata.file_type().is_symlink() {
        return Err(format!("`{}` is a symlink", path.display()));
    }
    if !metadata.is_dir() {
        return Err(format!("`{}` is not a directory", path.display()));
    }
    if metadata.uid() != uid() {
        return Err(format!("`{}` is not yours", path.display()));
    }
    if metadata.mode() & 0o022 != 0 {
        return Err(format!("`{}` is writable by others", path.display()));
    }
    Ok(true)
}

/// Whether `name` is one of the files `library` keeps: a plain name with the table's
/// prefix and suffix.
pub(crate) fn keeps(library: &Library, name: &str) -> bool {
    pattern_of(library, name).is_some()
}

/// Which of `library.keep`'s patterns `name` matches (a plain name only).
fn pattern_of(library: &Library, name: &str) -> Option<usize> {
    if name.contains('/') || name.starts_with('.') {
        return None;
    }
    library.keep.iter().position(|(prefix, suffix)| {
        name.len() >= prefix.len() + suffix.len()
            && name.starts_with(prefix)
            && name.ends_with(suffix)
    })
}

/// Whether a file's allocated blocks are far below its length (a sparse file).
fn is_sparse(metadata: &fs::Metadata) -> bool {
    metadata.len() > SPARSE_FROM && metadata.blocks().saturating_mul(512) < metadata.len() / 2
}

/// A regular file of the caller's at `path`, opened without following a link.
fn open_regular(path: &Path) -> Result<(fs::File, u64), String> {
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|error| format!("cannot open `{}`: {error}", path.display()))?;
    let metadata = file
        .metadata()
        .map_err(|error| format!("cannot read `{}`: {error}", path.display()))?;
    if !metadata.is_file() {
        return Err(format!("`{}` is not a regular file", path.display()));
    }
    if metadata.uid() != uid() {
        return Err(format!("`{}` is not yours", path.display()));
    }
    if metadata.len() > MAX_ENTRY {
        return Err(format!(
            "`{}` is larger than {MAX_ENTRY} bytes",
            path.display()
        ));
    }
    if is_sparse(&metadata) {
        return Err(format!("`{}` is a sparse file", path.display()));
    }
    Ok((file, metadata.len()))
}

impl Store {
    /// The store at `root` (see [`root`]), its directory checked (and created, with its
    /// parents, when `create`). `Ok(None)`: there is none and `create` is false.
    pub fn open(root: &Path, create: bool) -> Result<Option<Store>, String> {
        if create {
            if let Some(parent) = root.parent() {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(parent)
                    .map_err(|error| format!("cannot create `{}`: {error}", parent.display()))?;
            }
        }
        if !private_directory(root, create)? {
            return Ok(None);
        }
        let store = Store {
            root: root.to_path_buf(),
        };
        if !private_directory(&store.venvs(), create)? {
            return Ok(None);
        }
        Ok(Some(store))
    }

    fn venvs(&self) -> PathBuf {
        self.root.join("venvs")
    }

    fn venv_directory(&self, venv: &Path) -> PathBuf {
        self.venvs().join(venv_id(venv))
    }

    fn entry_directory(&self, found: &Installed) -> PathBuf {
        self.venv_directory(&found.venv).join(format!(
            "{}-{}",
            found.library.name,
            &found.key.0[..32]
        ))
    }

    /// `found`'s current entry, checked, or `None` when it is missing (never primed, or
    /// primed for another key: stale).
    pub fn entry(&self, found: &Installed) -> Result<Option<Entry>, String> {
        if !private_directory(&self.venv_directory(&found.venv), false)? {
            return Ok(None);
        }
        let directory = self.entry_directory(found);
        if !private_directory(&directory, false)? {
            return Ok(None);
        }
        let entry = read_entry(&directory, found.library)?;
        if entry.record.key != found.key.0 || entry.record.venv != found.venv {
            return Ok(None);
        }
        Ok(Some(entry))
    }

    /// Where a failed prime of `found`'s current key is recorded.
    fn failure_marker(&self, found: &Installed) -> PathBuf {
        self.venv_directory(&found.venv).join(format!(
            ".failed-{}-{}",
            found.library.name,
            &found.key.0[..32]
        ))
    }

    /// Whether priming `found` failed for its current key (a run does not retry it).
    pub fn failed(&self, found: &Installed) -> bool {
        private_directory(&self.venv_directory(&found.venv), false) == Ok(true)
            && self
                .failure_marker(found)
                .symlink_metadata()
                .is_ok_and(|metadata| metadata.is_file())
    }

    /// Records that priming `found` failed for its current key (best effort).
    pub fn record_failure(&self, found: &Installed) {
        if private_directory(&self.venv_directory(&found.venv), true) != Ok(true) {
            return;
        }
        let _ = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(0o600)
            .open(self.failure_marker(found));
    }

    /// Forgets failed primes of `found`'s library and venv (any key).
    fn clear_failures(&self, found: &Installed) {
        let prefix = format!(".failed-{}-", found.library.name);
        let Ok(entries) = fs::read_dir(self.venv_directory(&found.venv)) else {
            return;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                remove(&entry.path());
            }
        }
    }

    /// Moves the files `found.library` keeps from `staging` (where the priming sandbox
    /// wrote) into a new entry: for each pattern of the table, the newest file matching
    /// it that is a regular file (links are never followed), not sparse, and fits in what
    /// is left of [`MAX_ENTRY`]; written into a private temporary directory beside the entry and renamed
    /// into place whole. A concurrent prime that renamed first wins: its entry is used.
    /// Older entries of the same library and venv are removed.
    pub fn install(&self, found: &Installed, staging: &Path) -> Result<Entry, String> {
        let venv_directory = self.venv_directory(&found.venv);
        private_directory(&venv_directory, true)?;
        let temporary = tempfile::Builder::new()
            .prefix(".prime-")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .tempdir_in(&venv_directory)
            .map_err(|error| format!("cannot create a temporary directory: {error}"))?;
        // Per pattern, the candidates, newest first.
        let mut candidates: Vec<Vec<(i128, String)>> = vec![Vec::new(); found.library.keep.len()];
        let names = fs::read_dir(staging)
            .map_err(|error| format!("cannot read `{}`: {error}", staging.display()))?;
        for entry in names.flatten() {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let Some(pattern) = pattern_of(found.library, &name) else {
                continue;
            };
            // Only regular files are candidates (a FIFO or a link is not even opened).
            let Ok(metadata) = entry.path().symlink_metadata() else {
                continue;
            };
            if !metadata.is_file() {
                continue;
            }
            candidates[pattern].push((super::mtime(&metadata), name));
        }
        let mut files = Vec::new();
        let mut total = 0u64;
        for mut names in candidates {
            names.sort_by(|a, b| b.cmp(a));
            for (_, name) in names {
                // A link, a FIFO, a sparse file or one too large is not kept (and never
                // followed); the next newest is tried.
                let Ok((mut source, length)) = open_regular(&staging.join(&name)) else {
                    continue;
                };
                if total + length > MAX_ENTRY {
                    continue;
                }
                let target = temporary.path().join(&name);
                let mut copy = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&target)
                    .map_err(|error| format!("cannot write `{}`: {error}", target.display()))?;
                let room = MAX_ENTRY - total;
                let copied =
                    std::io::copy(&mut std::io::Read::take(&mut source, room + 1), &mut copy)
                        .map_err(|error| format!("cannot copy `{name}`: {error}"))?;
                if copied > room {
                    return Err(format!("`{name}` grew past {MAX_ENTRY} bytes"));
                }
                total += copied;
                files.push(name);
                break;
            }
        }
        if files.is_empty() {
            return Err(format!(
                "`{}` left none of the files boxpy keeps (regular files, not sparse, at most 16 MiB)",
                found.library.prime_code
            ));
        }
        files.sort();
        let record = Record {
            library: found.library.name.to_owned(),
            venv: found.venv.clone(),
            version: found.inputs.version(found.library),
            key: found.key.0.clone(),
            files,
        };
        let text = serde_json::to_vec_pretty(&record)
            .map_err(|error| format!("cannot write the entry's record: {error}"))?;
        let mut handle = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(temporary.path().join(RECORD))
            .map_err(|error| format!("cannot write the entry's record: {error}"))?;
        handle
            .write_all(&text)
            .and_then(|()| handle.sync_all())
            .map_err(|error| format!("cannot write the entry's record: {error}"))?;
        let directory = self.entry_directory(found);
        match fs::rename(temporary.path(), &directory) {
            Ok(()) => {
                // Renamed: nothing is left for the guard to remove.
                let _ = temporary.keep();
            }
            // Another prime renamed first: ours is dropped with `temporary`.
            Err(error)
                if matches!(
                    error.raw_os_error(),
                    Some(libc::EEXIST) | Some(libc::ENOTEMPTY)
                ) => {}
            Err(error) => return Err(format!("cannot move the entry into place: {error}")),
        }
        self.remove_other_entries(found);
        self.clear_failures(found);
        private_directory(&directory, false)?;
        read_entry(&directory, found.library)
    }

    /// Removes the entries of `found`'s library and venv other than the current one.
    fn remove_other_entries(&self, found: &Installed) {
        let current = self.entry_directory(found);
        let prefix = format!("{}-", found.library.name);
        let Ok(entries) = fs::read_dir(self.venv_directory(&found.venv)) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path != current && name.to_string_lossy().starts_with(&prefix) {
                remove(&path);
            }
        }
    }

    /// Every entry in the store (each checked; one that fails a check is listed with
    /// `Err`, so `show` can say so and `clear` remove it).
    pub fn entries(&self) -> Vec<(PathBuf, Result<Entry, String>)> {
        let mut found = Vec::new();
        let Ok(venvs) = fs::read_dir(self.venvs()) else {
            return found;
        };
        let mut venvs: Vec<PathBuf> = venvs.flatten().map(|entry| entry.path()).collect();
        venvs.sort();
        for venv in venvs {
            if let Err(problem) = private_directory(&venv, false) {
                found.push((venv, Err(problem)));
                continue;
            }
            let Ok(entries) = fs::read_dir(&venv) else {
                continue;
            };
            let mut entries: Vec<PathBuf> = entries
                .flatten()
                .filter(|entry| !entry.file_name().to_string_lossy().starts_with('.'))
                .map(|entry| entry.path())
                .collect();
            entries.sort();
            for directory in entries {
                let name = directory
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let library = LIBRARIES
                    .iter()
                    .find(|library| name.starts_with(&format!("{}-", library.name)));
                let checked = match library {
                    Some(library) => private_directory(&directory, false)
                        .and_then(|_| read_entry(&directory, library)),
                    None => Err(format!("`{name}` is no library boxpy caches")),
                };
                found.push((directory, checked));
            }
        }
        found
    }

    /// Removes every entry (of `venv` only, when given). Returns the directories removed.
    pub fn clear(&self, venv: Option<&Path>) -> Vec<PathBuf> {
        let targets: Vec<PathBuf> = match venv {
            Some(venv) => vec![self.venv_directory(venv)],
            None => fs::read_dir(self.venvs())
                .into_iter()
                .flatten()
                .flatten()
                .map(|entry| entry.path())
                .collect(),
        };
        let mut removed = Vec::new();
        for target in targets {
            if target.symlink_metadata().is_ok() {
                remove(&target);
                removed.push(target);
            }
        }
        removed
    }
}

/// Removes a path: a directory tree without following links in it (a link itself is
/// removed, never its target), or a file.
fn remove(path: &Path) {
    match path.symlink_metadata() {
        Ok(metadata) if metadata.is_dir() => {
            let _ = fs::remove_dir_all(path);
        }
        Ok(_) => {
            let _ = fs::remove_file(path);
        }
        Err(_) => {}
    }
}

/// Reads and checks an entry: its record, and each file it names (a regular file of the
/// caller's, not a link, one the library keeps).
fn read_entry(directory: &Path, library: &Library) -> Result<Entry, String> {
    let record_path = directory.join(RECORD);
    let text = crate::bounded::read_to_string_no_follow(&record_path, MAX_ENTRY_RECORD)
        .map_err(|error| format!("cannot read `{}`: {error:?}", record_path.display()))?;
    let record: Record = serde_json::from_str(&text).map_err(|error| {
        format!(
            "`{}` is not an entry record: {error}",
            record_path.display()
        )
    })?;
    if record.library != library.name {
        return Err(format!("`{}` names another library", record_path.display()));
    }
    if record.files.len() > library.keep.len() {
        return Err(format!(
            "`{}` names more files than boxpy keeps",
            record_path.display()
        ));
    }
    let mut size = 0;
    for name in &record.files {
        if !keeps(library, name) {
            return Err(format!(
                "`{}` names a file boxpy does not keep",
                record_path.display()
            ));
        }
        let (_, length) = open_regular(&directory.join(name))?;
        size += length;
    }
    if size > MAX_ENTRY {
        return Err(format!(
            "`{}` is larger than {MAX_ENTRY} bytes",
            directory.display()
        ));
    }
    Ok(Entry {
        directory: directory.to_path_buf(),
        files: record.files.clone(),
        record,
        size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_follows_xdg_and_ignores_a_relative_one() {
        let home = Path::new("/home/me");
        let with = |value: Option<&'static str>| {
            move |name: &str| (name == "XDG_CACHE_HOME").then_some(value?.into())
        };
        assert_eq!(
            root(&with(Some("/data/cache")), Some(home)),
            Some(PathBuf::from("/data/cache/boxpy"))
        );
        assert_eq!(
            root(&with(Some("relative")), Some(home)),
            Some(PathBuf::from("/home/me/.cache/boxpy"))
        );
        assert_eq!(
            root(&with(None), Some(home)),
            Some(PathBuf::from("/home/me/.cache/boxpy"))
        );
        assert_eq!(root(&with(None), None), None);
    }

    #[test]
    fn the_root_is_resolved_through_links_of_its_existing_ancestors() {
        let base = tempfile::tempdir().unwrap();
        let real = base.path().canonicalize().unwrap().join("disk/cache");
        fs::create_dir_all(&real).unwrap();
        let link = base.path().join("cache-link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(resolve(&link), Some(real.clone()));
        assert_eq!(
            resolve(&link.join("not/yet")),
            Some(real.join("not/yet")),
            "the missing rest is appended"
        );
        assert_eq!(resolve(&link.join("missing/../..")), None);
        let from_xdg = |name: &str| (name == "XDG_CACHE_HOME").then(|| link.clone().into());
        assert_eq!(root(&from_xdg, None), Some(real.join("boxpy")));
    }

    #[test]
    fn sparse_files_are_told_apart() {
        let base = tempfile::tempdir().unwrap();
        let sparse = base.path().join("sparse");
        fs::File::create(&sparse).unwrap().set_len(8 << 20).unwrap();
        let dense = base.path().join("dense");
        fs::write(&dense, vec![b'x'; 1 << 20]).unwrap();
        fs::File::open(&dense).unwrap().sync_all().unwrap();
        assert!(is_sparse(&sparse.metadata().unwrap()));
        assert!(!is_sparse(&dense.metadata().unwrap()));
        assert!(open_regular(&sparse).unwrap_err().contains("sparse"));
    }

    #[test]
    fn only_plain_names_of_the_table_are_kept() {
        let matplotlib = &LIBRARIES[0];
        assert!(keeps(matplotlib, "fontlist-v390.json"));
        for name in [
            "fontlist-v390.json.lock",
            "../fontlist-v390.json",
            "a/fontlist-v390.json",
            ".fontlist-v390.json",
            "fontlist-v.json.tmp",
            "matplotlibrc",
            "tex.cache",
        ] {
            assert!(!keeps(matplotlib, name), "{name}");
        }
    }

    #[test]
    fn a_symlinked_or_shared_directory_is_refused() {
        let base = tempfile::tempdir().unwrap();
        let real = base.path().join("real");
        fs::create_dir(&real).unwrap();
        fs::set_permissions(&real, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        let link = base.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(private_directory(&real, false), Ok(true));
        assert!(private_directory(&link, true)
            .unwrap_err()
            .contains("is a symlink"));
        fs::set_permissions(&real, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
        assert!(private_directory(&real, false)
            .unwrap_err()
            .contains("writable by others"));
        let created = base.path().join("created");
        assert_eq!(private_directory(&created, false), Ok(false));
        assert_eq!(private_directory(&created, true), Ok(true));
        assert_eq!(created.symlink_metadata().unwrap().mode() & 0o777, 0o700);
    }
}
