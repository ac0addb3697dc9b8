//! What a run leaves in the places the sandbox discards: its private HOME and `/tmp`
//! (tmpfs that end with the sandbox). A program that writes its results there exits 0 and
//! the files are gone; boxpy says so (issue 15). The init counts them once the program and
//! everything it started are dead (nothing can race the walk), before it reports the end.
//!
//! What counts: every entry that is not a directory (a regular file, a symlink, a socket,
//! ...) on the place's own filesystem. Not counted:
//! - directories themselves (bwrap creates the directories that hold mount points, and an
//!   empty directory holds no data);
//! - anything on another filesystem: the workdir, the venv and every mount under HOME or
//!   `/tmp` are binds from the host, whose files persist (a bind shows its own device);
//! - what Python and its tools leave on their own, which nobody asked for: any
//!   `__pycache__`, in HOME `.cache` (pip, matplotlib's font list, Hugging Face
//!   downloads: caches, fetched again), `.python_history`, `.ipython`, `.jupyter`,
//!   `.local/share/jupyter`, `.config/matplotlib`, `.matplotlib`, and in `/tmp`
//!   multiprocessing's `pymp-*` and nbexec's own `boxpy-jupyter`.
//!
//! Bounded: the walk stops after [`ENTRY_BUDGET`] entries or [`TIME_BUDGET`], and then
//! says the count is a lower bound. It never follows a symlink, and reports only numbers:
//! no name the program chose leaves the sandbox.

// The count runs in the Linux init; macOS has no private tmpfs to count.
#![cfg_attr(not(target_os = "linux"), allow(dead_code))]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The most entries one run's walk visits (all places together).
pub const ENTRY_BUDGET: usize = 10_000;

/// The longest one run's walk may take: far below the init's shutdown grace (boxpy kills
/// an init that has not reported 500 ms after a timeout).
pub const TIME_BUDGET: Duration = Duration::from_millis(100);

/// Names ignored at any depth.
const NOISE_ANYWHERE: &[&str] = &["__pycache__"];

/// Paths (relative to HOME) that Python and its tools write on their own.
const NOISE_IN_HOME: &[&str] = &[
    ".cache",
    ".python_history",
    ".ipython",
    ".jupyter",
    ".local/share/jupyter",
    ".config/matplotlib",
    ".matplotlib",
];

/// Name prefixes at the top of `/tmp` that Python and boxpy write on their own.
const NOISE_IN_TMP: &[&str] = &["pymp-", "boxpy-jupyter"];

/// Which discarded place a path is, for its noise list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Home,
    Tmp,
}

/// The files left in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Count {
    pub files: u64,
    /// The walk stopped at its budget (or could not read a directory): `files` is a lower
    /// bound.
    pub capped: bool,
}

/// The walk's budget, shared by the places of one run.
pub struct Budget {
    entries: usize,
    deadline: Instant,
}

impl Budget {
    pub fn new() -> Budget {
        Budget {
            entries: ENTRY_BUDGET,
            deadline: Instant::now() + TIME_BUDGET,
        }
    }

    #[cfg(test)]
    fn with_entries(entries: usize) -> Budget {
        Budget {
            entries,
            deadline: Instant::now() + TIME_BUDGET,
        }
    }

    /// Takes one entry; `false` when the budget is spent.
    fn take(&mut self) -> bool {
        if self.entries == 0 {
            return false;
        }
        self.entries -= 1;
        // The clock is read every 64 entries: a walk of a few entries costs no syscall.
        !(self.entries % 64 == 0 && Instant::now() >= self.deadline)
    }
}

impl Default for Budget {
    fn default() -> Budget {
        Budget::new()
    }
}

/// Counts the files left under `root` (see the module's doc). `root` that is missing, not
/// a directory, or a symlink counts nothing.
pub fn count(root: &Path, place: Place, budget: &mut Budget) -> Count {
    use std::os::unix::fs::MetadataExt;
    let mut result = Count::default();
    let Ok(metadata) = root.symlink_metadata() else {
        return result;
    };
    if !metadata.is_dir() {
        return result;
    }
    let device = metadata.dev();
    let mut pending: Vec<PathBuf> = vec![root.to_path_buf()];
    while let Some(directory) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&directory) else {
            // Unreadable (a mode the program set): what is inside is unknown.
            result.capped = true;
            continue;
        };
        for entry in entries {
            let Ok(entry) = entry else {
                result.capped = true;
                break;
            };
            if !budget.take() {
                result.capped = true;
                return result;
            }
            let path = entry.path();
            if is_noise(root, &path, place) {
                continue;
            }
            // lstat: never follows a symlink, but does cross into a mount on this path,
            // whose device is then not the place's.
            let Ok(metadata) = path.symlink_metadata() else {
                continue;
            };
            if metadata.dev() != device {
                continue;
            }
            if metadata.is_dir() {
                pending.push(path);
            } else {
                result.files += 1;
            }
        }
    }
    result
}

/// [`count`] for a place that must be a tmpfs of the sandbox's own: anything else (a
/// host directory mounted there) counts nothing, since its files persist. (Only Linux's
/// init counts: macOS has no init, and removes its run directory itself.)
pub fn count_tmpfs(root: &Path, place: Place, budget: &mut Budget) -> Count {
    #[cfg(target_os = "linux")]
    {
        use nix::sys::statfs::{statfs, TMPFS_MAGIC};
        match statfs(root) {
            Ok(filesystem) if filesystem.filesystem_type() == TMPFS_MAGIC => {
                count(root, place, budget)
            }
            _ => Count::default(),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (root, place, budget);
        Count::default()
    }
}

fn is_noise(root: &Path, path: &Path, place: Place) -> bool {
    if path
        .file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| NOISE_ANYWHERE.contains(&name))
    {
        return true;
    }
    let Ok(relative) = path.strip_prefix(root) else {
        return false;
    };
    match place {
        Place::Home => NOISE_IN_HOME
            .iter()
            .any(|noise| relative == Path::new(noise)),
        Place::Tmp => {
            relative.components().count() == 1
                && relative
                    .to_str()
                    .is_some_and(|name| NOISE_IN_TMP.iter().any(|noise| name.starts_with(noise)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"x").unwrap();
    }

    #[test]
    fn counts_files_not_directories_nor_noise() {
        let root = tempfile::tempdir().unwrap();
        let home = root.path();
        touch(&home.join("results.csv"));
        touch(&home.join("out/a/b.txt"));
        std::fs::create_dir_all(home.join("empty/dir")).unwrap();
        touch(&home.join(".cache/pip/wheel"));
        touch(&home.join("pkg/__pycache__/m.cpython-312.pyc"));
        touch(&home.join(".local/share/jupyter/runtime/kernel.json"));
        touch(&home.join(".local/share/other.db"));
        std::os::unix::fs::symlink("/etc/passwd", home.join("link")).unwrap();
        let count = super::count(home, Place::Home, &mut Budget::new());
        assert_eq!(
            count,
            Count {
                files: 4,
                capped: false
            }
        );
        // The same names in /tmp: `.cache` is not noise there; `pymp-*` is.
        touch(&home.join("pymp-abc/listener"));
        touch(&home.join("boxpy-jupyter/runtime/x"));
        let count = super::count(home, Place::Tmp, &mut Budget::new());
        assert_eq!(count.files, 6);
    }

    #[test]
    fn stops_at_its_budget_and_says_so() {
        let root = tempfile::tempdir().unwrap();
        for index in 0..50 {
            touch(&root.path().join(format!("f{index}")));
        }
        let count = super::count(root.path(), Place::Tmp, &mut Budget::with_entries(10));
        assert_eq!(
            count,
            Count {
                files: 10,
                capped: true
            }
        );
    }

    #[test]
    fn a_missing_or_symlinked_place_counts_nothing() {
        let root = tempfile::tempdir().unwrap();
        touch(&root.path().join("real/f"));
        std::os::unix::fs::symlink(root.path().join("real"), root.path().join("link")).unwrap();
        assert_eq!(
            super::count(&root.path().join("link"), Place::Home, &mut Budget::new()),
            Count::default()
        );
        assert_eq!(
            super::count(
                &root.path().join("missing"),
                Place::Home,
                &mut Budget::new()
            ),
            Count::default()
        );
    }
}
