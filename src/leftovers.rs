//! The host side of protected and hidden paths (`sandbox::protect` has the lists and the
//! reasoning): before a run, which protected names exist at the top of the workdir and
//! each writable mount (mounted read-only) and which files match a hidden pattern (covered
//! inside); after the run, the protected names the program created or replaced, moved
//! aside to `.boxpy-quarantine/` so no host tool runs them, and reported.
//!
//! One directory listing per place, before and after: a repository of any size costs a
//! `getdents` of its top level, not a walk (patterns starting with `**/` walk, bounded).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::sandbox::protect::{self, CREATION_ALLOWED, PROTECTED_NAMES, QUARANTINE};

/// What a name was before the run: its file type and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    device: u64,
    inode: u64,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Directory,
    Symlink,
    Other,
}

fn identity(path: &Path) -> Option<Identity> {
    let metadata = path.symlink_metadata().ok()?;
    Some(Identity {
        device: metadata.dev(),
        inode: metadata.ino(),
        kind: match metadata.file_type() {
            kind if kind.is_symlink() => Kind::Symlink,
            kind if kind.is_dir() => Kind::Directory,
            kind if kind.is_file() => Kind::File,
            _ => Kind::Other,
        },
    })
}

/// One writable place and its protected names as they were before the run.
#[derive(Debug, Clone)]
pub struct Watch {
    pub area: PathBuf,
    before: Vec<(&'static str, Option<Identity>)>,
}

/// The names at the top of `area` (empty when it cannot be listed).
fn listing(area: &Path) -> Vec<String> {
    std::fs::read_dir(area)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Protected names that exist (not as symlinks) at the top of `area`, and the watch for
/// the sweep. A `.git` file's gitdir inside `writable` is protected too.
pub fn protected(area: &Path, writable: &[PathBuf]) -> (Vec<PathBuf>, Watch) {
    let names = listing(area);
    let mut existing = Vec::new();
    let mut before = Vec::new();
    for name in PROTECTED_NAMES {
        let present = names.iter().any(|listed| listed == name);
        let path = area.join(name);
        let id = if present { identity(&path) } else { None };
        if id.is_some_and(|id| id.kind != Kind::Symlink) {
            existing.push(path.clone());
            if *name == ".git" && id.is_some_and(|id| id.kind == Kind::File) {
                if let Some(gitdir) = gitdir_of(&path) {
                    if writable.iter().any(|area| gitdir.starts_with(area)) {
                        existing.push(gitdir);
                    }
                }
            }
        }
        before.push((*name, id));
    }
    (
        existing,
        Watch {
            area: area.to_path_buf(),
            before,
        },
    )
}

/// The directory a `.git` file points to (`gitdir: PATH`), resolved.
fn gitdir_of(file: &Path) -> Option<PathBuf> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(file)
        .ok()?
        .take(4096)
        .read_to_string(&mut text)
        .ok()?;
    let target = text.lines().next()?.strip_prefix("gitdir:")?.trim();
    let target = file.parent()?.join(target);
    target.canonicalize().ok()
}

/// Files and directories below `area` matching `patterns`; `dest_of` maps a host path to
/// where it appears inside. Symlinks are not covered themselves: one whose target lies in
/// a place the sandbox shows is covered at the target.
pub fn hidden(area: &Path, patterns: &[String], shown: &[PathBuf]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let consider = |found: &mut Vec<PathBuf>, path: PathBuf| {
        let Ok(metadata) = path.symlink_metadata() else {
            return;
        };
        if metadata.file_type().is_symlink() {
            if let Ok(target) = path.canonicalize() {
                if shown.iter().any(|area| target.starts_with(area)) {
                    found.push(target);
                }
            }
        } else if metadata.is_file() || metadata.is_dir() {
            found.push(path);
        }
    };
    let top: Vec<&String> = patterns
        .iter()
        .filter(|pattern| !pattern.contains('/'))
        .collect();
    if !top.is_empty() {
        for name in listing(area) {
            if top.iter().any(|pattern| protect::matches(pattern, &name)) {
                consider(&mut found, area.join(name));
            }
        }
    }
    for pattern in patterns {
        if let Some(rest) = pattern.strip_prefix("**/") {
            walk(area, rest, &mut found, &mut 0);
        } else if Path::new(pattern).is_absolute() {
            if Path::new(pattern).starts_with(area) {
                consider(&mut found, PathBuf::from(pattern));
            }
        } else if protect::is_nested(pattern) {
            consider(&mut found, area.join(pattern));
        }
    }
    found.sort();
    found.dedup();
    found
}

/// Directories a `**/` pattern does not descend into: build output, caches and
/// environments, which hold no credentials of the user's and many files.
const WALK_SKIPS: &[&str] = &[
    ".git",
    "node_modules",
    "target",
    ".venv",
    "venv",
    "__pycache__",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".pytest_cache",
    "build",
    "dist",
    QUARANTINE,
];

/// The most entries a `**/` pattern looks at per place.
const WALK_LIMIT: usize = 100_000;

fn walk(directory: &Path, pattern: &str, found: &mut Vec<PathBuf>, seen: &mut usize) {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    for entry in entries.flatten() {
        *seen += 1;
        if *seen > WALK_LIMIT {
            return;
        }
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if protect::matches(pattern, name) && !kind.is_symlink() {
            found.push(entry.path());
        }
        if kind.is_dir() && !WALK_SKIPS.contains(&name) {
            walk(&entry.path(), pattern, found, seen);
        }
    }
}

/// A protected name the program left, and where boxpy moved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub from: PathBuf,
    pub to: PathBuf,
}

/// After the run: every protected name that is new or was replaced is moved to
/// `AREA/.boxpy-quarantine/RUN/NAME-without-dot`. Renames never follow a link (the name
/// itself moves, whatever it is). What cannot be moved is reported with `to` empty.
pub fn sweep(watches: &[Watch], run: &str) -> Vec<Moved> {
    let mut moved = Vec::new();
    for watch in watches {
        let names = listing(&watch.area);
        for (name, before) in &watch.before {
            if CREATION_ALLOWED.contains(name) || !names.iter().any(|listed| listed == name) {
                continue;
            }
            let from = watch.area.join(name);
            let now = identity(&from);
            if now.is_none() || now == *before {
                continue;
            }
            let quarantine = watch.area.join(QUARANTINE).join(run);
            let to = quarantine.join(protect::quarantined_name(name));
            let result = std::fs::create_dir_all(&quarantine)
                .and_then(|()| refuse_symlinked(&watch.area.join(QUARANTINE)))
                .and_then(|()| std::fs::rename(&from, &to));
            moved.push(Moved {
                from,
                to: if result.is_ok() { to } else { PathBuf::new() },
            });
        }
    }
    moved
}

/// The quarantine must be a real directory (a link there would carry the leftovers
/// elsewhere).
fn refuse_symlinked(path: &Path) -> std::io::Result<()> {
    if path.symlink_metadata()?.file_type().is_symlink() {
        return Err(std::io::Error::other("the quarantine is a symbolic link"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_protected_name_is_moved_aside_and_an_existing_one_stays() {
        let dir = tempfile::tempdir().unwrap();
        let area = dir.path().canonicalize().unwrap();
        std::fs::create_dir(area.join(".git")).unwrap();
        let (existing, watch) = protected(&area, std::slice::from_ref(&area));
        assert_eq!(existing, vec![area.join(".git")]);
        std::fs::write(area.join(".envrc"), "echo pwned").unwrap();
        std::fs::write(area.join("boxpy.toml"), "").unwrap();
        let moved = sweep(&[watch], "run-1");
        assert_eq!(
            moved,
            vec![Moved {
                from: area.join(".envrc"),
                to: area.join(".boxpy-quarantine/run-1/envrc"),
            }]
        );
        assert!(!area.join(".envrc").exists());
        assert!(area.join(".git").is_dir());
        assert!(area.join("boxpy.toml").exists());
    }

    #[test]
    fn hidden_patterns_match_at_the_top_nested_and_below() {
        let dir = tempfile::tempdir().unwrap();
        let area = dir.path().canonicalize().unwrap();
        for file in [
            ".env",
            ".env.example",
            "server.pem",
            "notes.txt",
            "sub/deep.pem",
        ] {
            let path = area.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "x").unwrap();
        }
        std::fs::create_dir_all(area.join(".docker")).unwrap();
        std::fs::write(area.join(".docker/config.json"), "{}").unwrap();
        let defaults: Vec<String> = protect::HIDDEN_DEFAULTS
            .iter()
            .map(|p| p.to_string())
            .collect();
        let found = hidden(&area, &defaults, std::slice::from_ref(&area));
        assert_eq!(
            found,
            vec![
                area.join(".docker/config.json"),
                area.join(".env"),
                area.join("server.pem")
            ]
        );
        let found = hidden(&area, &["**/*.pem".to_owned()], std::slice::from_ref(&area));
        assert_eq!(
            found,
            vec![area.join("server.pem"), area.join("sub/deep.pem")]
        );
    }
}
