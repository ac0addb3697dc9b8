//! The upward search for a project's `.venv` and policy file (`boxpy.toml`, or
//! `pyproject.toml` with `[tool.boxpy]`), as uv and git search: from the working directory
//! up through its parents. One place, used by `run`, `nbexec`, `exec`, `render`, `doctor`
//! and `policy list|trust`.
//!
//! Security: a parent directory is searched only when nobody else could have put a file in
//! it. The search stops
//! - after a repository root (a directory holding `.git`): a project's files never come
//!   from the directory that holds the project;
//! - before the home directory and anything above it (`~/.venv`, `~/boxpy.toml` and
//!   `/home/boxpy.toml` are never picked up from a project below them);
//! - before a parent on another filesystem (a mount point is a boundary, as for git);
//! - before a parent owned by someone other than the caller or root, or writable by others
//!   (world-writable, or group-writable with a group that is not the caller's): `/tmp`,
//!   a shared directory, another user's tree, where anyone could plant `.venv` or a policy.
//!
//! The working directory itself is always searched (it is where the user chose to run).
//! A policy found by the search is untrusted exactly like one in the working directory
//! ([`crate::policy::trust`]): its own directory is its boundary, and it cannot widen the
//! sandbox until `boxpy policy trust` records it. A `.venv` found by it passes the same
//! checks as one in the working directory ([`crate::venv`]: no base prefix that exposes
//! the home, the venv and its interpreter mounted read-only through the gate).

use std::path::{Path, PathBuf};

/// What the search needs to know about one directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectoryFacts {
    /// The device it lives on (`st_dev`).
    pub device: u64,
    pub owner: u32,
    pub group: u32,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
    /// Whether it holds `.git` (a directory or a file, as a worktree's).
    pub repository_root: bool,
    /// Whether it has an access ACL (`system.posix_acl_access`): its group bits are then the
    /// ACL's mask, and named users or groups may write it whatever the mode says.
    pub acl: bool,
}

impl DirectoryFacts {
    /// Reads the facts of `directory` from the host (following no symlink: the search runs
    /// on canonical paths).
    pub fn probe(directory: &Path) -> Option<DirectoryFacts> {
        use std::os::unix::fs::MetadataExt;
        let metadata = std::fs::symlink_metadata(directory).ok()?;
        if !metadata.is_dir() {
            return None;
        }
        Some(DirectoryFacts {
            device: metadata.dev(),
            owner: metadata.uid(),
            group: metadata.gid(),
            mode: metadata.mode() & 0o7777,
            repository_root: directory.join(".git").symlink_metadata().is_ok(),
            acl: has_access_acl(directory),
        })
    }
}

/// Whether `path` carries an extended access ACL (a minimal ACL is the mode itself and is
/// not stored). Unknown (no such attribute support, an error) counts as none only when the
/// filesystem says it has no such attribute.
#[cfg(target_os = "linux")]
fn has_access_acl(path: &Path) -> bool {
    match xattr::get_deref(path, "system.posix_acl_access") {
        Ok(value) => value.is_some_and(|value| !value.is_empty()),
        // No support for extended attributes here: no ACL either.
        Err(error) => error.raw_os_error() != Some(libc::ENOTSUP),
    }
}

/// macOS: its ACLs are not POSIX ACLs, and boxpy does not read them (SECURITY.md).
#[cfg(not(target_os = "linux"))]
fn has_access_acl(_path: &Path) -> bool {
    false
}

/// Whether the file or directory at `path` (the link itself and what it leads to) belongs
/// to `caller` or root: a `.venv` or policy file another user made is never picked up, even
/// where a directory swap or a shared working directory put it in the search's way.
pub fn owned_by_caller_or_root(path: &Path, caller: Caller) -> bool {
    use std::os::unix::fs::MetadataExt;
    let mine = |uid: u32| uid == caller.uid || uid == 0;
    let Ok(link) = std::fs::symlink_metadata(path) else {
        return false;
    };
    let Ok(target) = std::fs::metadata(path) else {
        return false;
    };
    mine(link.uid()) && mine(target.uid())
}

/// Who is searching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub uid: u32,
    pub gid: u32,
    /// Whether `gid` is the caller's private group (named as the user, with no other
    /// members): only then is a directory its group may write the caller's alone. A
    /// primary group others share (`users`, `staff`, `nogroup`) is not.
    pub private_group: bool,
}

impl Caller {
    /// The real uid and gid of this process (the account database is read once per
    /// process: a run asks for it from the policy search, the venv search and trust).
    pub fn current() -> Caller {
        account().0
    }

    /// Whether only the caller (or root) can have put a file in a directory with `facts`:
    /// `None` when so, else why not.
    fn admits(&self, directory: &Path, facts: &DirectoryFacts) -> Option<Stop> {
        if facts.owner != self.uid && facts.owner != 0 {
            return Some(Stop::ForeignOwner(directory.to_path_buf()));
        }
        let world_writable = facts.mode & 0o002 != 0;
        let group_writable =
            facts.mode & 0o020 != 0 && !(facts.group == self.gid && self.private_group);
        if world_writable || group_writable || facts.acl {
            return Some(Stop::WritableByOthers(directory.to_path_buf()));
        }
        None
    }
}

/// The caller and its home in the account database, read once.
fn account() -> &'static (Caller, Option<PathBuf>) {
    static ACCOUNT: std::sync::OnceLock<(Caller, Option<PathBuf>)> = std::sync::OnceLock::new();
    ACCOUNT.get_or_init(|| {
        let uid = nix::unistd::getuid();
        let gid = nix::unistd::getgid();
        let user = nix::unistd::User::from_uid(uid).ok().flatten();
        let group = nix::unistd::Group::from_gid(gid).ok().flatten();
        let private_group = match (&user, group) {
            (Some(user), Some(group)) => {
                group.name == user.name && group.mem.iter().all(|member| *member == user.name)
            }
            _ => false,
        };
        let home = user
            .map(|user| user.dir)
            .filter(|dir| dir.is_absolute() && dir != Path::new("/"));
        let caller = Caller {
            uid: uid.as_raw(),
            gid: gid.as_raw(),
            private_group,
        };
        (caller, home)
    })
}

/// Why the search went no higher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The last directory searched holds `.git`.
    RepositoryRoot,
    /// The next parent is the home directory or above it.
    Home,
    /// The next parent is on another filesystem.
    FilesystemBoundary(PathBuf),
    /// The next parent belongs to another user.
    ForeignOwner(PathBuf),
    /// Others can write the next parent.
    WritableByOthers(PathBuf),
    /// The next parent could not be read.
    Unreadable(PathBuf),
    /// `/` was searched.
    FilesystemRoot,
    /// The working directory itself is another user's or others can write it: nothing in
    /// it is picked up (the reason is [`Stop::ForeignOwner`] or [`Stop::WritableByOthers`]).
    WorkdirNotSearched(Box<Stop>),
}

/// The directories to search, nearest first, and why the search stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPath {
    /// Where the search started (the working directory), searched or not.
    pub start: PathBuf,
    pub directories: Vec<PathBuf>,
    pub stop: Stop,
}

impl SearchPath {}

/// The search path from `start` on the host. The home is `home` (`$HOME`) and the
/// caller's home in the password database: the search stops below both (an unset or
/// relative `$HOME` does not open the home to it).
pub fn search_path(start: &Path, home: Option<&Path>) -> SearchPath {
    let start = start.canonicalize().unwrap_or_else(|_| start.to_path_buf());
    let canonical = |home: &Path| home.canonicalize().unwrap_or_else(|_| home.to_path_buf());
    let mut homes: Vec<PathBuf> = home
        .filter(|home| home.is_absolute())
        .map(canonical)
        .into_iter()
        .collect();
    let (caller, account_home) = account();
    homes.extend(account_home.as_deref().map(canonical));
    search_path_with(&start, &homes, *caller, &DirectoryFacts::probe)
}

/// [`search_path`] over supplied facts (pure; `start` and `home` canonical).
pub fn search_path_with(
    start: &Path,
    homes: &[PathBuf],
    caller: Caller,
    facts: &dyn Fn(&Path) -> Option<DirectoryFacts>,
) -> SearchPath {
    let done = |directories: Vec<PathBuf>, stop: Stop| SearchPath {
        start: start.to_path_buf(),
        directories,
        stop,
    };
    let Some(start_facts) = facts(start) else {
        return done(Vec::new(), Stop::Unreadable(start.to_path_buf()));
    };
    // The working directory is searched like its parents: a shared or foreign directory
    // (`/tmp/x` of another user, a world-writable drop box) gives nothing it holds.
    if let Some(why) = caller.admits(start, &start_facts) {
        return done(Vec::new(), Stop::WorkdirNotSearched(Box::new(why)));
    }
    let mut directories = vec![start.to_path_buf()];
    if start_facts.repository_root {
        return done(directories, Stop::RepositoryRoot);
    }
    let mut current = start;
    let stop = loop {
        let Some(parent) = current.parent() else {
            break Stop::FilesystemRoot;
        };
        if homes.iter().any(|home| home.starts_with(parent)) {
            break Stop::Home;
        }
        let Some(parent_facts) = facts(parent) else {
            break Stop::Unreadable(parent.to_path_buf());
        };
        if parent_facts.device != start_facts.device {
            break Stop::FilesystemBoundary(parent.to_path_buf());
        }
        if let Some(why) = caller.admits(parent, &parent_facts) {
            break why;
        }
        directories.push(parent.to_path_buf());
        if parent_facts.repository_root {
            break Stop::RepositoryRoot;
        }
        current = parent;
    };
    done(directories, stop)
}

/// The nearest `.venv` on the search path that is a virtualenv (`pyvenv.cfg`) or a conda
/// environment (`conda-meta/`), followed through a symlink.
/// Only one the caller or root owns (the link, the directory and its marker).
pub fn find_dot_venv(search: &SearchPath) -> Option<PathBuf> {
    let caller = Caller::current();
    search.directories.iter().find_map(|directory| {
        let candidate = directory.join(".venv");
        let marker = [candidate.join("pyvenv.cfg"), candidate.join("conda-meta")]
            .into_iter()
            .find(|marker| marker.exists())?;
        let is_environment = marker.is_file() || marker.is_dir();
        (is_environment
            && owned_by_caller_or_root(&candidate, caller)
            && owned_by_caller_or_root(&marker, caller))
        .then_some(candidate)
    })
}

/// `path` as the user would write it from `cwd` (canonical, as `getcwd` gives it):
/// `.venv`, `../.venv`, `../../boxpy.toml`, else absolute.
pub fn relative_to(path: &Path, cwd: &Path) -> String {
    let mut up = String::new();
    for ancestor in cwd.ancestors() {
        if let Ok(rest) = path.strip_prefix(ancestor) {
            if ancestor == Path::new("/") {
                break;
            }
            return format!("{up}{}", rest.display());
        }
        up.push_str("../");
    }
    path.display().to_string()
}

/// How the search ended, for `-v`: ` (searched up to ...)`.
pub fn describe_stop(stop: &Stop) -> String {
    match stop {
        Stop::RepositoryRoot => "the search stops at the repository root".to_owned(),
        Stop::Home => "the search stops below the home directory".to_owned(),
        Stop::FilesystemBoundary(path) => {
            format!(
                "the search stops at a filesystem boundary (`{}`)",
                path.display()
            )
        }
        Stop::ForeignOwner(path) => format!(
            "the search stops below `{}`, which belongs to another user",
            path.display()
        ),
        Stop::WritableByOthers(path) => format!(
            "the search stops below `{}`, which others can write",
            path.display()
        ),
        Stop::Unreadable(path) => {
            format!(
                "the search stops below `{}`, which cannot be read",
                path.display()
            )
        }
        Stop::FilesystemRoot => "the search reached `/`".to_owned(),
        Stop::WorkdirNotSearched(why) => match why.as_ref() {
            Stop::ForeignOwner(path) => format!(
                "nothing in `{}` is used: it belongs to another user",
                path.display()
            ),
            Stop::WritableByOthers(path) => format!(
                "nothing in `{}` is used: others can write it",
                path.display()
            ),
            other => describe_stop(other),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const ME: Caller = Caller {
        uid: 1000,
        gid: 1000,
        private_group: true,
    };

    fn dir(owner: u32, mode: u32) -> DirectoryFacts {
        DirectoryFacts {
            device: 1,
            owner,
            group: owner,
            mode,
            repository_root: false,
            acl: false,
        }
    }

    fn search(start: &str, home: Option<&str>, table: &[(&str, DirectoryFacts)]) -> SearchPath {
        let table: HashMap<PathBuf, DirectoryFacts> = table
            .iter()
            .map(|(path, facts)| (PathBuf::from(path), *facts))
            .collect();
        let homes: Vec<PathBuf> = home.map(PathBuf::from).into_iter().collect();
        search_path_with(Path::new(start), &homes, ME, &|path: &Path| {
            table.get(path).copied()
        })
    }

    fn names(search: &SearchPath) -> Vec<String> {
        search
            .directories
            .iter()
            .map(|path| path.display().to_string())
            .collect()
    }

    #[test]
    fn stops_at_the_repository_root() {
        let mut root = dir(1000, 0o755);
        root.repository_root = true;
        let found = search(
            "/srv/proj/sub/deeper",
            None,
            &[
                ("/srv/proj/sub/deeper", dir(1000, 0o755)),
                ("/srv/proj/sub", dir(1000, 0o755)),
                ("/srv/proj", root),
                ("/srv", dir(0, 0o755)),
                ("/", dir(0, 0o755)),
            ],
        );
        assert_eq!(
            names(&found),
            ["/srv/proj/sub/deeper", "/srv/proj/sub", "/srv/proj"]
        );
        assert_eq!(found.stop, Stop::RepositoryRoot);
    }

    #[test]
    fn never_searches_the_home_directory_or_above() {
        let found = search(
            "/home/me/proj/sub",
            Some("/home/me"),
            &[
                ("/home/me/proj/sub", dir(1000, 0o755)),
                ("/home/me/proj", dir(1000, 0o755)),
                ("/home/me", dir(1000, 0o755)),
                ("/home", dir(0, 0o755)),
                ("/", dir(0, 0o755)),
            ],
        );
        assert_eq!(names(&found), ["/home/me/proj/sub", "/home/me/proj"]);
        assert_eq!(found.stop, Stop::Home);
    }

    #[test]
    fn the_working_directory_itself_is_always_searched() {
        let found = search(
            "/home/me",
            Some("/home/me"),
            &[("/home/me", dir(1000, 0o755)), ("/home", dir(0, 0o755))],
        );
        assert_eq!(names(&found), ["/home/me"]);
    }

    #[test]
    fn stops_at_a_filesystem_boundary() {
        let mut other = dir(0, 0o755);
        other.device = 2;
        let found = search(
            "/mnt/data/proj",
            None,
            &[
                ("/mnt/data/proj", dir(1000, 0o755)),
                ("/mnt/data", dir(1000, 0o755)),
                ("/mnt", other),
            ],
        );
        assert_eq!(names(&found), ["/mnt/data/proj", "/mnt/data"]);
        assert_eq!(found.stop, Stop::FilesystemBoundary("/mnt".into()));
    }

    #[test]
    fn stops_below_a_parent_of_another_user_or_writable_by_others() {
        let found = search(
            "/srv/x/proj",
            None,
            &[
                ("/srv/x/proj", dir(1000, 0o755)),
                ("/srv/x", dir(1001, 0o755)),
            ],
        );
        assert_eq!(names(&found), ["/srv/x/proj"]);
        assert_eq!(found.stop, Stop::ForeignOwner("/srv/x".into()));

        let found = search(
            "/tmp/proj",
            None,
            &[("/tmp/proj", dir(1000, 0o755)), ("/tmp", dir(0, 0o1777))],
        );
        assert_eq!(names(&found), ["/tmp/proj"]);
        assert_eq!(found.stop, Stop::WritableByOthers("/tmp".into()));

        // Group-writable: only the caller's own group may write it.
        let mut shared = dir(0, 0o775);
        shared.group = 50;
        let found = search(
            "/srv/shared/proj",
            None,
            &[
                ("/srv/shared/proj", dir(1000, 0o755)),
                ("/srv/shared", shared),
            ],
        );
        assert_eq!(found.stop, Stop::WritableByOthers("/srv/shared".into()));
        let found = search(
            "/srv/mine/proj",
            None,
            &[
                ("/srv/mine/proj", dir(1000, 0o755)),
                ("/srv/mine", dir(1000, 0o775)),
                ("/srv", dir(0, 0o755)),
                ("/", dir(0, 0o755)),
            ],
        );
        assert_eq!(names(&found), ["/srv/mine/proj", "/srv/mine", "/srv", "/"]);
        assert_eq!(found.stop, Stop::FilesystemRoot);
    }

    /// Red-team round on discovery: an ACL that lets another user write, a primary group
    /// others share, and a working directory others can write or own.
    #[test]
    fn acls_shared_groups_and_the_working_directory_itself() {
        let mut acl = dir(1000, 0o775);
        acl.acl = true;
        let found = search(
            "/srv/acl/proj",
            None,
            &[("/srv/acl/proj", dir(1000, 0o755)), ("/srv/acl", acl)],
        );
        assert_eq!(found.stop, Stop::WritableByOthers("/srv/acl".into()));

        let shared_primary = Caller {
            private_group: false,
            ..ME
        };
        let table: HashMap<PathBuf, DirectoryFacts> = [
            (PathBuf::from("/srv/grp/proj"), dir(1000, 0o755)),
            (PathBuf::from("/srv/grp"), dir(1000, 0o775)),
        ]
        .into_iter()
        .collect();
        let found = search_path_with(Path::new("/srv/grp/proj"), &[], shared_primary, &|path| {
            table.get(path).copied()
        });
        assert_eq!(found.stop, Stop::WritableByOthers("/srv/grp".into()));

        for start in [dir(1000, 0o1777), dir(1001, 0o755)] {
            let found = search("/srv/drop", None, &[("/srv/drop", start)]);
            assert!(found.directories.is_empty(), "{found:?}");
            assert!(
                matches!(found.stop, Stop::WorkdirNotSearched(_)),
                "{found:?}"
            );
            assert!(describe_stop(&found.stop).starts_with("nothing in `/srv/drop` is used"));
        }
    }

    #[test]
    fn relative_names() {
        let cwd = Path::new("/nonexistent-boxpy/proj/sub");
        assert_eq!(
            relative_to(Path::new("/nonexistent-boxpy/proj/sub/.venv"), cwd),
            ".venv"
        );
        assert_eq!(
            relative_to(Path::new("/nonexistent-boxpy/proj/.venv"), cwd),
            "../.venv"
        );
        assert_eq!(relative_to(Path::new("/opt/env"), cwd), "/opt/env");
    }
}
