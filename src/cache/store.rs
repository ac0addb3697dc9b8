//! Where cache entries live on the host: `$XDG_CACHE_HOME/boxpy` (an absolute one; else
//! `~/.cache/boxpy`), then `venvs/<venv id>/<library>-<key>/` holding `entry.json` and the
//! library's files.
//!
//! Every directory from `boxpy/` down is boxpy's own: created 0700 and, before anything
//! in it is read or written, checked to be a real directory (never a symlink) owned by the
//! caller and writable by nobody else; files are read without following links and must be
//! regular files owned by the caller. A symlink planted anywhere below `boxpy/` makes the
//! entry unused, never followed. The XDG directory itself is the user's (a `~/.cache`
//! that is a link to another disk is theirs to make).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::{Installed, Library, LIBRARIES};
use crate::settings::EnvLookup;

/// The largest file an entry keeps (matplotlib's font list is ~100 KiB on a desktop).
const MAX_FILE: u64 = 64 << 20;
/// The largest `entry.json` read.
const MAX_ENTRY_RECORD: u64 = 1 << 20;
/// The name of an entry's record.
const RECORD: &str = "entry.json";

/// `$XDG_CACHE_HOME/boxpy` (absolute only, as the XDG specification says), else
/// `~/.cache/boxpy`.
pub(crate) fn root(env: EnvLookup, home: Option<&Path>) -> Option<PathBuf> {
    env("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|path| path.is_absolute())
        .or_else(|| home.map(|home| home.join(".cache")))
        .map(|cache| cache.join("boxpy"))
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
    !name.contains('/')
        && !name.starts_with('.')
        && library.keep.iter().any(|(prefix, suffix)| {
            name.len() >= prefix.len() + suffix.len()
                && name.starts_with(prefix)
                && name.ends_with(suffix)
        })
}

/// A regular file of the caller's at `path`, opened without following a link.
fn open_regular(path: &Path) -> Result<(fs::File, u64), String> {
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
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
    if metadata.len() > MAX_FILE {
        return Err(format!(
            "`{}` is larger than {MAX_FILE} bytes",
            path.display()
        ));
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

    /// Moves the files `found.library` keeps from `staging` (where the priming sandbox
    /// wrote) into a new entry: copied without following links, regular files only,
    /// bounded; written into a private temporary directory beside the entry and renamed
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
        let mut files = Vec::new();
        let names = fs::read_dir(staging)
            .map_err(|error| format!("cannot read `{}`: {error}", staging.display()))?;
        for entry in names.flatten() {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if !keeps(found.library, &name) {
                continue;
            }
            // A link, a FIFO or a file too large is not kept (and never followed).
            let Ok((mut source, _)) = open_regular(&entry.path()) else {
                continue;
            };
            let target = temporary.path().join(&name);
            let mut copy = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&target)
                .map_err(|error| format!("cannot write `{}`: {error}", target.display()))?;
            let copied = std::io::copy(&mut std::io::Read::take(&mut source, MAX_FILE), &mut copy)
                .map_err(|error| format!("cannot copy `{name}`: {error}"))?;
            if copied >= MAX_FILE {
                return Err(format!("`{name}` is larger than {MAX_FILE} bytes"));
            }
            files.push(name);
        }
        if files.is_empty() {
            return Err(format!(
                "`{}` left none of the files boxpy keeps",
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
