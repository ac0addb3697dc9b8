//! Where `nbexec` saves the executed notebook: the output file, checked and reserved before
//! the run (a temporary sibling, so a read-only directory is found out before any cell runs),
//! stdout (`-o -`), and, when the final write fails after all, a file of boxpy's own where
//! the results are kept.

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A temporary file beside the output, in the pinned directory (`directory`, a
/// `/proc/self/fd/N` path): the executed notebook is written into it, then renamed into
/// place ([`super::persist`]). Made before the run: a directory boxpy cannot write is
/// reported before anything runs.
pub(super) fn reserve(directory: &Path, shown: &Path) -> Result<tempfile::NamedTempFile> {
    temporary_in(directory).map_err(|error| Error::Usage {
        message: format!(
            "cannot write `{}`: {}",
            shown.display(),
            error.to_string().to_lowercase()
        ),
        hint: Some("the directory is not writable: pass another `-o` (nothing was run)".to_owned()),
    })
}

/// A new temporary file in `directory` (the final notebook's, or a snapshot's).
pub(super) fn temporary_in(directory: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    tempfile::Builder::new()
        .prefix(".boxpy-nbexec-")
        .suffix(".ipynb")
        .tempfile_in(directory)
}

/// `-o OUT` that is an existing directory: refused before the run.
pub(super) fn refuse_directory(output: &Path) -> Result<()> {
    if std::fs::symlink_metadata(output).is_ok_and(|metadata| metadata.is_dir()) {
        return Err(Error::Usage {
            message: format!("cannot write `{}`: it is a directory", output.display()),
            hint: Some("name the notebook file to write: `-o DIR/out.ipynb`".to_owned()),
        });
    }
    Ok(())
}

/// `-o OUT` checked before the run: refused when it exists and is not a regular file (a
/// device, a FIFO, a socket: the rename would replace it, `-o /dev/null` as root the
/// host's own; a symlink is replaced, never followed, as the write-target check says) or
/// when its directory is a system directory (`system`, and [`crate::host::SYSTEM_PATHS`]).
/// Returns the mode the written notebook gets: the one the output has now, before anything
/// runs, or for a new file 0666 less the umask.
pub(super) fn check_output(output: &Path, system: &[&str]) -> Result<u32> {
    use std::os::unix::fs::PermissionsExt;
    let refuse = |reason: String| {
        Error::Usage {
        message: format!("cannot write `{}`: {reason}", output.display()),
        hint: Some(
            "name a notebook file in a project directory with `-o`; to run without keeping the executed notebook, leave `-o` out (nothing was run)"
                .to_owned(),
        ),
    }
    };
    let directory = output.parent().unwrap_or(Path::new("/"));
    let directory = directory
        .canonicalize()
        .unwrap_or_else(|_| directory.to_path_buf());
    if let Some(tree) = system
        .iter()
        .chain(crate::host::SYSTEM_PATHS)
        .find(|tree| directory.starts_with(tree))
    {
        return Err(refuse(format!(
            "`{tree}` is a system directory, boxpy does not write there"
        )));
    }
    let existing = match std::fs::symlink_metadata(output) {
        Ok(metadata) => metadata,
        Err(_) => return Ok(0o666 & !current_umask()),
    };
    let kind = existing.file_type();
    if kind.is_file() {
        return Ok(existing.permissions().mode() & 0o777);
    }
    if kind.is_symlink() || kind.is_dir() {
        // A symlink is replaced by the rename, not followed; a directory is refused apart.
        return Ok(0o666 & !current_umask());
    }
    Err(refuse(format!(
        "it is {}, not a regular file: writing the notebook would replace it",
        crate::bounded::describe(kind)
    )))
}

/// The process's umask. Read while boxpy has a single thread (before the run starts its
/// threads): setting it back at once leaves nothing changed.
// `mode_t` is a u32 on Linux, a u16 on macOS.
#[allow(clippy::useless_conversion)]
fn current_umask() -> u32 {
    use nix::sys::stat::{umask, Mode};
    let mask = umask(Mode::from_bits_truncate(0o022));
    umask(mask);
    u32::from(mask.bits()) & 0o777
}

/// The executed notebook, whose write to the output failed, copied into a new file of
/// boxpy's own: `$XDG_STATE_HOME/boxpy/` (or `~/.local/state/boxpy/`), else the system's
/// temporary directory; created exclusively, mode 0600. Returns where. A place that lies in
/// (or is reached through a link into) `writable`, the run's workdir and writable mounts,
/// is not boxpy's: the program could have planted it (`XDG_STATE_HOME` inside the project
/// and a link `boxpy -> elsewhere`), and is skipped.
pub(super) fn keep_elsewhere(
    notebook: &mut std::fs::File,
    name: &str,
    writable: &[PathBuf],
) -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|path| path.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".local/state")));
    let state = state.map(|state| state.join("boxpy"));
    let mut places: Vec<PathBuf> = state.iter().cloned().collect();
    places.push(std::env::temp_dir());
    let writable: Vec<PathBuf> = writable
        .iter()
        .map(|area| area.canonicalize().unwrap_or_else(|_| area.clone()))
        .collect();
    for place in places {
        let own = state.as_ref() == Some(&place);
        let Some(place) = private_place(&place, &writable) else {
            continue;
        };
        if let Some(path) = copy_into(notebook, &place, name) {
            // A program that fails the final save on every run cannot fill the disk:
            // boxpy's own directory keeps the newest few.
            if own {
                prune_kept(&place, &path, KEPT_NOTEBOOKS);
            }
            return Some(path);
        }
    }
    None
}

/// `place` created and resolved, when neither its nearest existing ancestor nor the place
/// itself resolves into one of `writable`, and it is a real directory (never a link).
fn private_place(place: &Path, writable: &[PathBuf]) -> Option<PathBuf> {
    let inside = |path: &Path| writable.iter().any(|area| path.starts_with(area));
    let existing = place.ancestors().find(|ancestor| ancestor.exists())?;
    if inside(&existing.canonicalize().ok()?) {
        return None;
    }
    std::fs::create_dir_all(place).ok()?;
    if !std::fs::symlink_metadata(place).ok()?.is_dir() {
        return None;
    }
    let resolved = place.canonicalize().ok()?;
    (!inside(&resolved)).then_some(resolved)
}

/// How many kept notebooks boxpy's state directory holds at most.
pub(super) const KEPT_NOTEBOOKS: usize = 10;

/// Removes the oldest notebooks boxpy kept in `place` (regular files named
/// `nbexec-*.ipynb`, as [`copy_into`] names them) beyond the newest `keep`; `just_kept`
/// stays whatever its time.
fn prune_kept(place: &Path, just_kept: &Path, keep: usize) {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(place) else {
        return;
    };
    let mut kept: Vec<(i64, i64, PathBuf)> = entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let name = entry.file_name();
            let name = name.to_str()?;
            if !(name.starts_with("nbexec-") && name.ends_with(".ipynb")) {
                return None;
            }
            let metadata = std::fs::symlink_metadata(entry.path()).ok()?;
            metadata
                .is_file()
                .then(|| (metadata.mtime(), metadata.mtime_nsec(), entry.path()))
        })
        .filter(|(_, _, path)| path != just_kept)
        .collect();
    // Newest first.
    kept.sort_by(|a, b| b.cmp(a));
    for (_, _, path) in kept.into_iter().skip(keep.saturating_sub(1)) {
        let _ = std::fs::remove_file(path);
    }
}

fn copy_into(notebook: &mut std::fs::File, place: &Path, name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::OpenOptionsExt;
    let stem = Path::new(name)
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "notebook".to_owned());
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    for attempt in 0..100u32 {
        let path = place.join(format!(
            "nbexec-{stem}-{stamp}-{}-{attempt}.ipynb",
            std::process::id()
        ));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path);
        let mut file = match file {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(_) => return None,
        };
        let copied = notebook.seek(std::io::SeekFrom::Start(0)).and_then(|_| {
            let mut text = Vec::new();
            notebook.read_to_end(&mut text)?;
            file.write_all(&text)?;
            file.sync_all()
        });
        return match copied {
            Ok(()) => Some(path),
            Err(_) => {
                let _ = std::fs::remove_file(&path);
                None
            }
        };
    }
    None
}

/// `-o -`: the executed notebook, complete in a private temporary file, to stdout.
pub(super) fn to_stdout(file: &mut std::fs::File) -> std::io::Result<()> {
    use std::io::Read;
    use std::os::fd::AsFd;
    file.seek(std::io::SeekFrom::Start(0))?;
    let mut standard = std::io::stdout();
    standard.flush()?;
    // A copy of descriptor 1, written with waits for room: a non-blocking stdout that is
    // full (the caller's choice) is not taken for a failed one.
    let out = std::fs::File::from(standard.as_fd().try_clone_to_owned()?);
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let count = match file.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(count) => count,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        crate::exec::write_patiently(&out, &chunk[..count])?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_notebook_is_a_new_private_file_with_the_whole_text() {
        use std::os::unix::fs::PermissionsExt;
        let place = tempfile::tempdir().unwrap();
        let mut source = tempfile::tempfile().unwrap();
        source.write_all(b"{\"cells\": []}\n").unwrap();
        let first = copy_into(&mut source, place.path(), "analysis.ipynb").unwrap();
        let second = copy_into(&mut source, place.path(), "analysis.ipynb").unwrap();
        assert_ne!(first, second, "never over an existing file");
        for path in [&first, &second] {
            assert_eq!(std::fs::read(path).unwrap(), b"{\"cells\": []}\n");
            let mode = std::fs::metadata(path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            assert!(path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("nbexec-analysis-"));
        }
    }

    #[test]
    fn boxpy_keeps_the_newest_few_notebooks() {
        let place = tempfile::tempdir().unwrap();
        let mut source = tempfile::tempfile().unwrap();
        source.write_all(b"{}").unwrap();
        std::fs::write(place.path().join("notes.txt"), "the user's").unwrap();
        let mut last = PathBuf::new();
        for _ in 0..(KEPT_NOTEBOOKS + 5) {
            last = copy_into(&mut source, place.path(), "a.ipynb").unwrap();
            prune_kept(place.path(), &last, KEPT_NOTEBOOKS);
        }
        let names: Vec<String> = std::fs::read_dir(place.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let notebooks = names
            .iter()
            .filter(|name| name.starts_with("nbexec-"))
            .count();
        assert_eq!(notebooks, KEPT_NOTEBOOKS, "{names:?}");
        assert!(last.exists(), "the newest is kept");
        assert!(names.contains(&"notes.txt".to_owned()), "other files stay");
    }

    #[test]
    fn an_output_that_is_not_a_regular_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let place = tempfile::tempdir().unwrap();
        let fifo = place.path().join("out.fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let error = check_output(&fifo, &[]).unwrap_err();
        assert!(error.summary().contains("a FIFO"), "{}", error.summary());
        let socket = place.path().join("out.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        assert!(check_output(&socket, &[]).is_err());
        for system in [
            "/dev/null",
            "/proc/self/x.ipynb",
            "/sys/x.ipynb",
            "/etc/x.ipynb",
        ] {
            let error =
                check_output(Path::new(system), &["/dev", "/proc", "/sys", "/etc"]).unwrap_err();
            assert!(error.summary().contains("system directory"), "{system}");
        }
        let existing = place.path().join("existing.ipynb");
        std::fs::write(&existing, "{}").unwrap();
        std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert_eq!(check_output(&existing, &[]).unwrap(), 0o640);
        let new = check_output(&place.path().join("new.ipynb"), &[]).unwrap();
        assert_eq!(new, 0o666 & !current_umask());
        let link = place.path().join("link.ipynb");
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        assert!(
            check_output(&link, &[]).is_ok(),
            "a link is replaced, never followed"
        );
    }

    #[test]
    fn a_directory_as_the_output_is_refused() {
        let place = tempfile::tempdir().unwrap();
        assert!(refuse_directory(place.path()).is_err());
        assert!(refuse_directory(&place.path().join("out.ipynb")).is_ok());
    }
}
