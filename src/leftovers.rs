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

use crate::sandbox::protect::{self, QUARANTINE};

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
    Some(Identity::of(
        metadata.dev(),
        metadata.ino(),
        metadata.mode(),
    ))
}

impl Identity {
    // `S_IF*` are `u32` on Linux and `u16` on macOS: the casts are needed on one.
    #[allow(clippy::unnecessary_cast)]
    fn of(device: u64, inode: u64, mode: u32) -> Identity {
        let kind = match mode & libc::S_IFMT as u32 {
            format if format == libc::S_IFLNK as u32 => Kind::Symlink,
            format if format == libc::S_IFDIR as u32 => Kind::Directory,
            format if format == libc::S_IFREG as u32 => Kind::File,
            _ => Kind::Other,
        };
        Identity {
            device,
            inode,
            kind,
        }
    }
}

/// What `name` in the directory `at` is now, without following a link.
fn identity_at(at: &std::os::fd::OwnedFd, name: &str) -> Option<Identity> {
    use std::os::fd::AsRawFd;
    let stat = nix::sys::stat::fstatat(
        Some(at.as_raw_fd()),
        name,
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .ok()?;
    #[allow(clippy::unnecessary_cast)] // the stat field types differ between libcs
    Some(Identity::of(
        stat.st_dev as u64,
        stat.st_ino as u64,
        stat.st_mode as u32,
    ))
}

/// One writable place and its protected names as they were before the run, with the
/// place itself opened then (the sweep works through that descriptor: a link a run
/// planted at the place's path, or above it, redirects nothing) and its mode (a run may
/// make its own workdir unreadable to hide what it left).
#[derive(Debug, Clone)]
pub struct Watch {
    pub area: PathBuf,
    directory: Option<std::sync::Arc<std::os::fd::OwnedFd>>,
    mode: Option<u32>,
    /// Which access-control lists the place had (`system.posix_acl_access`,
    /// `system.posix_acl_default`): one the program adds is removed after the run (a
    /// default ACL would make everything the user creates there later world-writable).
    acls: (bool, bool),
    /// Every name at the top of the place before the run (a new virtualenv is one the
    /// program made).
    names_before: Vec<String>,
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

/// The names in a directory opened earlier (`None` when it cannot be read).
fn listing_of(directory: &mut Dir) -> Option<Vec<String>> {
    let mut names = Vec::new();
    for entry in directory.iter() {
        let entry = entry.ok()?;
        if let Ok(name) = entry.file_name().to_str() {
            if name != "." && name != ".." {
                names.push(name.to_owned());
            }
        }
    }
    Some(names)
}

/// What the protected names of `area` lead to: the paths to mount read-only. A name that
/// exists is protected; a link among them is followed to its target when that lies in a
/// writable place (`.git -> .gitstore`, a repository's `.pre-commit-config.yaml ->
/// pc.yaml`); a `.git` file's gitdir; and what git's own files point back into the
/// worktree: `core.hooksPath`, `include.path`, and the `.git` file of each submodule
/// `.gitmodules` names. Returns them with the watch for the sweep.
/// What [`protected`] found in one writable place.
#[derive(Debug)]
pub struct Protection {
    /// The paths to mount read-only.
    pub existing: Vec<PathBuf>,
    /// The place's protected names before the run, for the sweep.
    pub watch: Watch,
    /// The repository's config files that hold credentials, as copies without them.
    pub sanitized: Vec<(PathBuf, Vec<u8>)>,
}

pub fn protected(
    area: &Path,
    protected: &[String],
    writable: &[PathBuf],
) -> crate::error::Result<Protection> {
    let names = listing(area);
    let mut existing = Vec::new();
    let inside_writable = |path: &Path| writable.iter().any(|place| path.starts_with(place));
    // The names to watch: the protected ones, what git's config points at directly below
    // the place (a `core.hooksPath` that does not exist yet is created by the program),
    // and every virtualenv at the top (any directory holding `pyvenv.cfg`: `venv/bin/python`
    // runs on the host when the user or a git filter, pre-commit or an editor uses it).
    let mut watched: Vec<String> = protected.to_vec();
    watched.extend(
        names
            .iter()
            .filter(|name| area.join(name).join("pyvenv.cfg").is_file())
            .cloned(),
    );
    let git_directory = match identity(&area.join(".git")) {
        Some(id) if id.kind == Kind::File => gitdir_of(&area.join(".git")),
        Some(id) if id.kind == Kind::Directory => Some(area.join(".git")),
        _ => None,
    };
    let mut sanitized = Vec::new();
    if let Some(git_directory) = &git_directory {
        // The repository's config, read once: what it points back into the worktree,
        // and whether it holds credentials.
        let config = small_text(&git_directory.join("config"));
        sanitized = sanitized_git_configs(git_directory, config.as_deref());
        for target in git_config_targets(area, git_directory, config.as_deref().unwrap_or("")) {
            match target
                .strip_prefix(area)
                .ok()
                .and_then(|rest| rest.to_str())
            {
                Some(rest) if !rest.contains('/') && !rest.is_empty() => {
                    watched.push(rest.to_owned())
                }
                _ => {}
            }
            if let Ok(resolved) = target.canonicalize() {
                if inside_writable(&resolved) {
                    existing.push(resolved);
                }
            }
        }
        // Hooks that are links into the worktree (`pre-commit -> ../../tools/hook`).
        if let Ok(hooks) = std::fs::read_dir(git_directory.join("hooks")) {
            for hook in hooks.flatten().take(200) {
                if hook.file_type().is_ok_and(|kind| kind.is_symlink()) {
                    if let Ok(target) = hook.path().canonicalize() {
                        if inside_writable(&target) {
                            existing.push(target);
                        }
                    }
                }
            }
        }
        if inside_writable(git_directory) {
            existing.push(git_directory.clone());
        }
        existing.extend(submodule_git_files(area));
    }
    watched.sort();
    watched.dedup();
    let mut before = Vec::new();
    for name in watched {
        let present = names.contains(&name);
        let path = area.join(&name);
        let id = if present { identity(&path) } else { None };
        before.push((name, id));
        let Some(id) = id else { continue };
        if id.kind != Kind::Symlink {
            existing.push(path);
            continue;
        }
        // A link among them: its target is what tools read. Inside a writable place it is
        // covered; one that does not exist yet there (a repository can ship the dangling
        // link) would be the program's to create: refused.
        let target = std::fs::read_link(&path).unwrap_or_default();
        let lexical = crate::policy::validate::normalize(&area.join(&target));
        match path.canonicalize() {
            Ok(resolved) if inside_writable(&resolved) => existing.push(resolved),
            Ok(_) => {}
            Err(_) if inside_writable(&lexical) => {
                return Err(crate::error::Error::MountRefused {
                    key: "filesystem.protect".to_owned(),
                    path: path.clone(),
                    reason: format!(
                        "`{}` is a link to `{}`, which does not exist: the program could create what host tools would then run",
                        path.display(),
                        target.display()
                    ),
                    hint: Some(format!(
                        "create `{}` (it is then read-only in the sandbox) or remove the link",
                        lexical.display()
                    )),
                });
            }
            Err(_) => {}
        }
    }
    existing.sort();
    existing.dedup();
    let directory = std::fs::File::open(area)
        .ok()
        .filter(|file| file.metadata().is_ok_and(|metadata| metadata.is_dir()))
        .map(|file| std::sync::Arc::new(std::os::fd::OwnedFd::from(file)));
    let mode = area
        .symlink_metadata()
        .ok()
        .map(|metadata| metadata.mode() & 0o7777);
    let acls = directory
        .as_deref()
        .map(crate::hostfs::access_control_lists)
        .unwrap_or_default();
    Ok(Protection {
        existing,
        watch: Watch {
            area: area.to_path_buf(),
            directory,
            mode,
            acls,
            names_before: names,
            before,
        },
        sanitized,
    })
}

/// Reads a small text file (at most 256 KiB), never through a link at its name nor from
/// a FIFO or a device; `None` for anything else.
fn small_text(path: &Path) -> Option<String> {
    crate::bounded::read_to_string_no_follow(path, 256 << 10).ok()
}

/// The values of `key` (`hookspath`, `path`) in a git config file, in any section.
fn git_config_values<'a>(text: &'a str, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    text.lines().filter_map(move |line| {
        let (name, value) = line.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case(key)
            .then(|| value.trim().trim_matches('"'))
            .filter(|value| !value.is_empty())
    })
}

/// What a repository's config points back into the worktree: `core.hooksPath` (relative
/// to the worktree) and `include.path`/`includeIf` files (relative to the git directory),
/// resolved, those that exist.
fn git_config_targets(worktree: &Path, git_directory: &Path, config: &str) -> Vec<PathBuf> {
    let mut targets = Vec::new();
    for hooks in git_config_values(config, "hookspath") {
        targets.extend(worktree.join(hooks).canonicalize().ok());
    }
    for include in git_config_values(config, "path") {
        targets.extend(git_directory.join(include).canonicalize().ok());
    }
    targets
}

/// The `.git` files of the submodules `.gitmodules` names, those that exist.
fn submodule_git_files(worktree: &Path) -> Vec<PathBuf> {
    let Some(modules) = small_text(&worktree.join(".gitmodules")) else {
        return Vec::new();
    };
    git_config_values(&modules, "path")
        .filter(|path| !path.split('/').any(|part| part == ".." || part.is_empty()))
        .map(|path| worktree.join(path).join(".git"))
        .filter(|git| {
            git.symlink_metadata()
                .is_ok_and(|metadata| !metadata.file_type().is_symlink())
        })
        .collect()
}

/// Copies of a repository's config files (`config`, `config.worktree`, and those of its
/// submodules under `modules/`) without what holds credentials (`http.*.extraheader`,
/// which `actions/checkout` writes, `Authorization` headers, user:password in URLs, a
/// credential helper that prints a password), for those that have any: the sandbox reads
/// the copies instead.
/// `config` is the repository's own config, read already.
fn sanitized_git_configs(git_directory: &Path, config: Option<&str>) -> Vec<(PathBuf, Vec<u8>)> {
    let mut found: Vec<(PathBuf, Vec<u8>)> = config
        .and_then(sanitized_git_config_text)
        .map(|contents| (git_directory.join("config"), contents))
        .into_iter()
        .collect();
    let mut configs = vec![git_directory.join("config.worktree")];
    let mut pending = vec![(git_directory.join("modules"), 0)];
    while let Some((directory, depth)) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&directory) else {
            continue;
        };
        for entry in entries.flatten().take(1000) {
            if entry.file_type().is_ok_and(|kind| kind.is_dir()) && depth < 4 {
                configs.push(entry.path().join("config"));
                configs.push(entry.path().join("config.worktree"));
                pending.push((entry.path().join("modules"), depth + 1));
            }
        }
    }
    found.extend(configs.into_iter().filter_map(|config| {
        let contents = sanitized_git_config_text(&small_text(&config)?)?;
        Some((config, contents))
    }));
    found
}

/// `config` without the lines that hold credentials, when it has any.
fn sanitized_git_config_text(config: &str) -> Option<Vec<u8>> {
    let secret = |line: &str| {
        let lower = line.to_ascii_lowercase();
        lower.contains("extraheader")
            || lower.contains("authorization")
            || (lower.contains("helper") && lower.contains("password"))
            || line.split_once("://").is_some_and(|(_, rest)| {
                rest.split('/')
                    .next()
                    .is_some_and(|host| host.contains('@'))
            })
    };
    if !config.lines().any(secret) {
        return None;
    }
    let kept: Vec<&str> = config.lines().filter(|line| !secret(line)).collect();
    Some((kept.join("\n") + "\n").into_bytes())
}

/// A regular file at `path`, or anywhere below it when it is a directory (at most 10,000
/// entries looked at), that has another name (a hard link): the file and its link count.
pub fn linked_elsewhere(path: &Path) -> Option<(PathBuf, u64)> {
    let mut pending = vec![path.to_path_buf()];
    let mut seen = 0;
    while let Some(current) = pending.pop() {
        let metadata = current.symlink_metadata().ok()?;
        if metadata.is_file() && metadata.nlink() > 1 {
            return Some((current, metadata.nlink()));
        }
        if metadata.is_dir() {
            for entry in std::fs::read_dir(&current).ok()?.flatten() {
                seen += 1;
                if seen > 10_000 {
                    return None;
                }
                pending.push(entry.path());
            }
        }
    }
    None
}

/// The directory a `.git` file points to (`gitdir: PATH`), resolved.
fn gitdir_of(file: &Path) -> Option<PathBuf> {
    let text = small_text(file)?;
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

/// What the sweep found of one protected name the program left, or of a place it could
/// not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leftover {
    /// Moved aside to `to`.
    Moved { from: PathBuf, to: PathBuf },
    /// Could not be moved: still active.
    Stuck { from: PathBuf },
    /// The place could not be listed after the run (nothing could be checked there).
    Unreadable { area: PathBuf },
}

/// After the run: every protected name that is new or was replaced is moved to
/// `AREA/.boxpy-quarantine/RUN/NAME-without-dot`. The sweep works through the descriptor
/// of each place opened before the run, puts back the place's mode first (a program may
/// have made it unreadable), and follows no link: renames move the name itself, whatever
/// it is, and a `.boxpy-quarantine` the program made (a link, a file) is itself moved
/// aside first. Where the quarantine cannot be used, the leftover is renamed in place to
/// `boxpy-quarantined-RUN-NAME` (never left active).
pub fn sweep(watches: &[Watch], run: &str) -> Vec<Leftover> {
    use std::os::fd::AsRawFd;
    let mut found = Vec::new();
    for watch in watches {
        let Some(place) = &watch.directory else {
            continue;
        };
        if let Some(mode) = watch.mode {
            // `st_mode` is `u32` on Linux and `u16` on macOS.
            #[allow(clippy::useless_conversion)]
            let now = nix::sys::stat::fstat(place.as_raw_fd())
                .map(|stat| u32::from(stat.st_mode) & 0o7777)
                .unwrap_or(mode);
            if now != mode {
                let _ = nix::sys::stat::fchmod(
                    place.as_raw_fd(),
                    nix::sys::stat::Mode::from_bits_truncate(mode as _),
                );
            }
        }
        crate::hostfs::remove_new_access_control_lists(place, watch.acls);
        let names = Dir::openat(
            Some(place.as_raw_fd()),
            ".",
            nix::fcntl::OFlag::O_RDONLY
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .ok()
        .and_then(|mut directory| listing_of(&mut directory));
        let Some(names) = names else {
            found.push(Leftover::Unreadable {
                area: watch.area.clone(),
            });
            continue;
        };
        let mut changed: Vec<&str> = watch
            .before
            .iter()
            .filter(|(name, before)| {
                names.iter().any(|listed| listed == name)
                    && identity_at(place, name).is_some_and(|now| Some(now) != *before)
            })
            .map(|(name, _)| name.as_str())
            .collect();
        // A virtualenv the program made (any new directory holding `pyvenv.cfg`).
        for name in &names {
            let new = !watch.names_before.contains(name)
                && !changed.contains(&name.as_str())
                && identity_at(place, &format!("{name}/pyvenv.cfg"))
                    .is_some_and(|id| id.kind == Kind::File);
            if new {
                changed.push(name.as_str());
            }
        }
        // The quarantine itself first: a new one is the program's, and goes aside inert.
        changed.sort_by_key(|name| *name != QUARANTINE);
        for name in changed {
            let from = watch.area.join(name);
            let to = if name == QUARANTINE {
                rename_in_place(place, &watch.area, name, run)
            } else {
                into_quarantine(place, &watch.area, name, run)
                    .or_else(|_| rename_in_place(place, &watch.area, name, run))
            };
            found.push(match to {
                Ok(to) => Leftover::Moved { from, to },
                Err(_) => Leftover::Stuck { from },
            });
        }
    }
    found
}

/// Opens a directory relative to `at` without following a link at its name.
fn open_directory(at: &impl std::os::fd::AsRawFd, path: &Path) -> nix::Result<Dir> {
    use nix::fcntl::OFlag;
    let flags = OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_RDONLY;
    Dir::openat(
        Some(at.as_raw_fd()),
        path,
        flags,
        nix::sys::stat::Mode::empty(),
    )
}

fn into_quarantine(
    area: &std::os::fd::OwnedFd,
    area_path: &Path,
    name: &str,
    run: &str,
) -> nix::Result<PathBuf> {
    use nix::sys::stat::{mkdirat, Mode};
    use std::os::fd::AsRawFd;
    let mode = Mode::from_bits_truncate(0o700);
    match mkdirat(Some(area.as_raw_fd()), QUARANTINE, mode) {
        Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
        Err(error) => return Err(error),
    }
    let quarantine = open_directory(area, Path::new(QUARANTINE))?;
    match mkdirat(Some(quarantine.as_raw_fd()), run, mode) {
        Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
        Err(error) => return Err(error),
    }
    let run_directory = open_directory(&quarantine, Path::new(run))?;
    let inert = protect::quarantined_name(name);
    nix::fcntl::renameat(
        Some(area.as_raw_fd()),
        name,
        Some(run_directory.as_raw_fd()),
        inert.as_str(),
    )?;
    Ok(area_path.join(QUARANTINE).join(run).join(inert))
}

fn rename_in_place(
    area: &std::os::fd::OwnedFd,
    area_path: &Path,
    name: &str,
    run: &str,
) -> nix::Result<PathBuf> {
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
        let Protection {
            existing, watch, ..
        } = protected(&area, &defaults(), std::slice::from_ref(&area)).unwrap();
        assert_eq!(existing, vec![area.join(".git")]);
        std::fs::write(area.join(".envrc"), "echo pwned").unwrap();
        let moved = sweep(&[watch], "run-1");
        assert_eq!(
            moved,
            vec![Leftover::Moved {
                from: area.join(".envrc"),
                to: area.join(".boxpy-quarantine/run-1/envrc"),
            }]
        );
        assert!(!area.join(".envrc").exists());
        assert!(area.join(".git").is_dir());
    }

    #[test]
    fn a_planted_quarantine_is_moved_aside_first_and_nothing_is_written_through_it() {
        let dir = tempfile::tempdir().unwrap();
        let area = dir.path().canonicalize().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let Protection { watch, .. } =
            protected(&area, &defaults(), std::slice::from_ref(&area)).unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), area.join(QUARANTINE)).unwrap();
        std::fs::write(area.join(".envrc"), "echo pwned").unwrap();
        let moved = sweep(std::slice::from_ref(&watch), "run-2");
        assert!(!moved.is_empty());
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
        let Protection { watch, .. } =
            protected(&area, &defaults(), std::slice::from_ref(&area)).unwrap();
        std::fs::write(area.join(".envrc"), "echo pwned").unwrap();
        let moved = sweep(&[watch], "run-3");
        assert_eq!(
            moved[0],
            Leftover::Moved {
                from: area.join(".envrc"),
                to: area.join("boxpy-quarantined-run-3-envrc")
            }
        );
        assert!(!area.join(".envrc").exists());
    }

    #[test]
    fn a_place_made_unreadable_is_restored_and_swept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let area = dir.path().canonicalize().unwrap();
        let original = area.metadata().unwrap().permissions().mode() & 0o7777;
        let Protection { watch, .. } =
            protected(&area, &defaults(), std::slice::from_ref(&area)).unwrap();
        std::fs::write(area.join(".envrc"), "echo pwned").unwrap();
        std::fs::set_permissions(&area, std::fs::Permissions::from_mode(0o311)).unwrap();
        let moved = sweep(&[watch], "run-4");
        assert_eq!(
            moved,
            vec![Leftover::Moved {
                from: area.join(".envrc"),
                to: area.join(".boxpy-quarantine/run-4/envrc")
            }]
        );
        let mode = area.metadata().unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, original);
    }

    #[test]
    fn git_files_that_point_back_into_the_worktree_are_protected() {
        let dir = tempfile::tempdir().unwrap();
        let area = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(area.join(".git")).unwrap();
        std::fs::create_dir_all(area.join(".githooks")).unwrap();
        std::fs::write(area.join("shared.gitconfig"), "").unwrap();
        std::fs::write(
            area.join(".git/config"),
            "[core]\n\thooksPath = .githooks\n[include]\n\tpath = ../shared.gitconfig\n[http \"https://github.com/\"]\n\textraheader = AUTHORIZATION: basic c2VjcmV0\n",
        )
        .unwrap();
        std::fs::create_dir_all(area.join("lib")).unwrap();
        std::fs::write(area.join("lib/.git"), "gitdir: ../.git/modules/lib\n").unwrap();
        std::fs::write(
            area.join(".gitmodules"),
            "[submodule \"lib\"]\n\tpath = lib\n",
        )
        .unwrap();
        std::fs::create_dir(area.join(".gitstore")).unwrap();
        std::os::unix::fs::symlink(".gitstore", area.join(".hg")).unwrap();
        let Protection { existing, .. } =
            protected(&area, &defaults(), std::slice::from_ref(&area)).unwrap();
        for expected in [
            ".git",
            ".githooks",
            "shared.gitconfig",
            "lib/.git",
            ".gitmodules",
            ".gitstore",
        ] {
            assert!(
                existing.contains(&area.join(expected)),
                "{expected}: {existing:?}"
            );
        }
        let configs = sanitized_git_configs(
            &area.join(".git"),
            small_text(&area.join(".git/config")).as_deref(),
        );
        assert_eq!(configs.len(), 1, "{configs:?}");
        let sanitized = String::from_utf8(configs[0].1.clone()).unwrap();
        assert!(!sanitized.contains("extraheader"), "{sanitized}");
        assert!(sanitized.contains("hooksPath"), "{sanitized}");
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
        let defaults: Vec<String> = crate::policy::defaults::HIDDEN_DEFAULTS
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
