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

use nix::dir::Dir;

use crate::sandbox::protect::{self, CREATION_ALLOWED, QUARANTINE};

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
    before: Vec<(String, Option<Identity>)>,
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
pub fn protected(area: &Path, protected: &[String], writable: &[PathBuf]) -> (Vec<PathBuf>, Watch) {
    let names = listing(area);
    let mut existing = Vec::new();
    let mut before = Vec::new();
    for name in protected {
        let name = name.as_str();
        let present = names.iter().any(|listed| listed == name);
        let path = area.join(name);
        let id = if present { identity(&path) } else { None };
        if id.is_some_and(|id| id.kind != Kind::Symlink) {
            existing.push(path.clone());
            if name == ".git" && id.is_some_and(|id| id.kind == Kind::File) {
                if let Some(gitdir) = gitdir_of(&path) {
                    if writable.iter().any(|area| gitdir.starts_with(area)) {
                        existing.push(gitdir);
                    }
                }
            }
        }
        before.push((name.to_owned(), id));
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
/// `AREA/.boxpy-quarantine/RUN/NAME-without-dot`. Every step is relative to a descriptor
/// of the directory it acts in and follows no link: renames move the name itself, whatever
/// it is, and a `.boxpy-quarantine` the program made (a link, a file) is itself moved
/// aside first. Where the quarantine cannot be used, the leftover is renamed in place to
/// `boxpy-quarantined-RUN-NAME` (never left active); what cannot be moved at all is
/// reported with `to` empty.
pub fn sweep(watches: &[Watch], run: &str) -> Vec<Moved> {
    let mut moved = Vec::new();
    for watch in watches {
        let names = listing(&watch.area);
        let changed: Vec<&str> = watch
            .before
            .iter()
            .filter(|(name, before)| {
                !CREATION_ALLOWED.contains(&name.as_str())
                    && names.iter().any(|listed| listed == name)
                    && identity(&watch.area.join(name)).is_some_and(|now| Some(now) != *before)
            })
            .map(|(name, _)| name.as_str())
            .collect();
        if changed.is_empty() {
            continue;
        }
        let Ok(area) = open_directory(None, &watch.area) else {
            moved.extend(changed.iter().map(|name| Moved {
                from: watch.area.join(name),
                to: PathBuf::new(),
            }));
            continue;
        };
        // The quarantine itself first: a new one is the program's, and goes aside inert.
        let mut order = changed.clone();
        order.sort_by_key(|name| *name != QUARANTINE);
        for name in order {
            let from = watch.area.join(name);
            let to = if name == QUARANTINE {
                rename_in_place(&area, &watch.area, name, run)
            } else {
                into_quarantine(&area, &watch.area, name, run)
                    .or_else(|_| rename_in_place(&area, &watch.area, name, run))
            };
            moved.push(Moved {
                from,
                to: to.unwrap_or_default(),
            });
        }
    }
    moved
}

/// Opens a directory (relative to `at` when given) without following a link at its name.
fn open_directory(at: Option<&Dir>, path: &Path) -> nix::Result<Dir> {
    use nix::fcntl::OFlag;
    use nix::sys::stat::Mode;
    use std::os::fd::AsRawFd;
    let flags = OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_RDONLY;
    match at {
        Some(directory) => Dir::openat(Some(directory.as_raw_fd()), path, flags, Mode::empty()),
        None => Dir::open(path, flags, Mode::empty()),
    }
}

fn into_quarantine(area: &Dir, area_path: &Path, name: &str, run: &str) -> nix::Result<PathBuf> {
    use nix::sys::stat::{mkdirat, Mode};
    use std::os::fd::AsRawFd;
    let mode = Mode::from_bits_truncate(0o700);
    match mkdirat(Some(area.as_raw_fd()), QUARANTINE, mode) {
        Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
        Err(error) => return Err(error),
    }
    let quarantine = open_directory(Some(area), Path::new(QUARANTINE))?;
    match mkdirat(Some(quarantine.as_raw_fd()), run, mode) {
        Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
        Err(error) => return Err(error),
    }
    let run_directory = open_directory(Some(&quarantine), Path::new(run))?;
    let inert = protect::quarantined_name(name);
    nix::fcntl::renameat(
        Some(area.as_raw_fd()),
        name,
        Some(run_directory.as_raw_fd()),
        inert.as_str(),
    )?;
    Ok(area_path.join(QUARANTINE).join(run).join(inert))
}

fn rename_in_place(area: &Dir, area_path: &Path, name: &str, run: &str) -> nix::Result<PathBuf> {
    use std::os::fd::AsRawFd;
    let inert = format!(
        "boxpy-quarantined-{run}-{}",
        protect::quarantined_name(name)
    );
    nix::fcntl::renameat(
        Some(area.as_raw_fd()),
        name,
        Some(area.as_raw_fd()),
        inert.as_str(),
    )?;
    Ok(area_path.join(inert))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Vec<String> {
        protect::PROTECTED_NAMES
            .iter()
            .map(|name| (*name).to_owned())
            .collect()
    }

    #[test]
    fn a_created_protected_name_is_moved_aside_and_an_existing_one_stays() {
        let dir = tempfile::tempdir().unwrap();
        let area = dir.path().canonicalize().unwrap();
        std::fs::create_dir(area.join(".git")).unwrap();
        let (existing, watch) = protected(&area, &defaults(), std::slice::from_ref(&area));
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
    fn a_planted_quarantine_is_moved_aside_first_and_nothing_is_written_through_it() {
        let dir = tempfile::tempdir().unwrap();
        let area = dir.path().canonicalize().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let (_, watch) = protected(&area, &defaults(), std::slice::from_ref(&area));
        std::os::unix::fs::symlink(elsewhere.path(), area.join(QUARANTINE)).unwrap();
        std::fs::write(area.join(".envrc"), "echo pwned").unwrap();
        let moved = sweep(std::slice::from_ref(&watch), "run-2");
        assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
        assert!(!area.join(".envrc").exists(), "{moved:?}");
        assert!(
            area.join(".boxpy-quarantine/run-2/envrc").is_file(),
            "{moved:?}"
        );
        assert!(area
            .join("boxpy-quarantined-run-2-boxpy-quarantine")
            .is_symlink());
        // A file where the quarantine should be: the leftover is renamed in place.
        let dir = tempfile::tempdir().unwrap();
        let area = dir.path().canonicalize().unwrap();
        std::fs::write(area.join(QUARANTINE), "").unwrap();
        let (_, watch) = protected(&area, &defaults(), std::slice::from_ref(&area));
        std::fs::write(area.join(".envrc"), "echo pwned").unwrap();
        let moved = sweep(&[watch], "run-3");
        assert_eq!(moved[0].to, area.join("boxpy-quarantined-run-3-envrc"));
        assert!(!area.join(".envrc").exists());
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
