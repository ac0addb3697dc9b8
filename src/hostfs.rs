//! Paths boxpy itself resolves, reads or writes on the host, where a sandboxed run may have
//! planted a symlink: inside the workdir and every writable mount. What boxpy writes there
//! (`nbexec -o`, the audit log, `policy init`) and every mount source is resolved without
//! following a link planted there, so an earlier run cannot redirect boxpy's own writes or
//! mounts outside the places the user gave it.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::policy::validate::normalize;

/// Resolves a path the sandbox will show, refusing a symlink on the way when the link
/// lies inside one of `writable` (the workdir and the writable mounts: where an earlier
/// run could have planted it). `Ok(None)`: the path does not exist.
pub fn resolve_without_planted_links(
    path: &Path,
    writable: &[PathBuf],
) -> std::result::Result<Option<PathBuf>, crate::sandbox::gate::Refusal> {
    let path = normalize(path);
    // Walk the components that lie inside a writable place with lstat.
    let mut walked = PathBuf::new();
    for component in path.components() {
        walked.push(component);
        let Ok(metadata) = walked.symlink_metadata() else {
            break;
        };
        if !metadata.file_type().is_symlink() {
            continue;
        }
        let parent = walked.parent().unwrap_or(Path::new("/"));
        let parent = parent
            .canonicalize()
            .unwrap_or_else(|_| parent.to_path_buf());
        let planted_area = writable
            .iter()
            .find(|area| parent.starts_with(area) || parent == **area);
        if let Some(area) = planted_area {
            let target = std::fs::read_link(&walked).unwrap_or_default();
            let resolved = walked.canonicalize().ok();
            return Err(crate::sandbox::gate::Refusal {
                reason: format!(
                    "`{}` is a symbolic link to `{}`, inside `{}`, where a sandboxed run can write: boxpy does not follow it",
                    walked.display(),
                    target.display(),
                    area.display()
                ),
                hint: match resolved {
                    Some(resolved) => format!(
                        "if the link is yours, name its target instead: `{}`",
                        resolved.display()
                    ),
                    None => "remove the link".to_owned(),
                },
            });
        }
    }
    match path.canonicalize() {
        Ok(canonical) => Ok(Some(canonical)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(crate::sandbox::gate::Refusal {
            reason: error.to_string().to_lowercase(),
            hint: "check the path and its permissions".to_owned(),
        }),
    }
}

/// Refuses a write to `path` when a directory on the way to it is a symlink inside one of
/// `writable` (the final name is replaced by a rename, never followed).
pub fn check_write_target(path: &Path, writable: &[PathBuf]) -> crate::error::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("/"));
    resolve_without_planted_links(parent, writable)
        .map(|_| ())
        .map_err(|refusal| crate::error::Error::Usage {
            message: format!("refusing to write `{}`: {}", path.display(), refusal.reason),
            hint: Some(refusal.hint),
        })
}

/// Writes `contents` to `path` through a temporary file in the same directory and a
/// rename: a reader never sees half a file, and a symlink at `path` is replaced, not
/// followed. The directory is checked with [`check_write_target`] first.
pub fn write_atomically(
    path: &Path,
    contents: &[u8],
    writable: &[PathBuf],
) -> crate::error::Result<()> {
    check_write_target(path, writable)?;
    let failed = |error: &dyn std::fmt::Display| crate::error::Error::Usage {
        message: format!("cannot write `{}`: {error}", path.display()),
        hint: None,
    };
    let directory = path.parent().unwrap_or(Path::new("/"));
    let mut file = tempfile::Builder::new()
        .prefix(".boxpy-")
        .tempfile_in(directory)
        .map_err(|error| failed(&error))?;
    file.write_all(contents).map_err(|error| failed(&error))?;
    file.as_file().sync_all().map_err(|error| failed(&error))?;
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::symlink_metadata(path)
            .ok()
            .filter(|metadata| metadata.is_file())
            .map(|metadata| metadata.permissions().mode() & 0o777)
            .unwrap_or(0o644);
        let _ = std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(mode));
    }
    file.persist(path).map_err(|error| failed(&error.error))?;
    Ok(())
}

/// Opens the directory `path` and proves it is the directory at its resolved path (its
/// descriptor's link in `/proc/self/fd` names that path): writes made later through
/// `/proc/self/fd/N/NAME` land in this directory, whatever a run does to the path
/// meanwhile (`nbexec -o`: the notebook runs between the check and the write).
pub fn pin_directory(path: &Path) -> crate::error::Result<std::fs::File> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let failed = |reason: String| crate::error::Error::Usage {
        message: format!("cannot write into `{}`: {reason}", path.display()),
        hint: None,
    };
    let canonical = path
        .canonicalize()
        .map_err(|error| failed(error.to_string().to_lowercase()))?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&canonical)
        .map_err(|error| failed(error.to_string().to_lowercase()))?;
    let opened = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .map_err(|error| failed(error.to_string().to_lowercase()))?;
    if opened != canonical {
        return Err(failed(format!(
            "it changed while boxpy opened it (now `{}`)",
            opened.display()
        )));
    }
    Ok(file)
}

/// The path that reaches `name` in a directory [`pin_directory`] opened.
pub fn in_pinned(directory: &std::fs::File, name: &std::ffi::OsStr) -> PathBuf {
    use std::os::fd::AsRawFd;
    PathBuf::from(format!("/proc/self/fd/{}", directory.as_raw_fd())).join(name)
}

/// Opens `path` for appending without following a symlink at it, refusing anything but a
/// regular file (a FIFO would block, a device would take the line anywhere).
pub fn open_append(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok(file)
}

/// The POSIX ACLs a directory has, by the descriptor boxpy holds: an access ACL and a
/// default ACL (`system.posix_acl_access`, `system.posix_acl_default`). Neither where the
/// filesystem has none (or the descriptor cannot be read).
pub(crate) fn access_control_lists(directory: &std::os::fd::OwnedFd) -> (bool, bool) {
    use xattr::FileExt;
    let Ok(file) = directory.try_clone().map(std::fs::File::from) else {
        return (false, false);
    };
    let has = |name: &str| file.get_xattr(name).ok().flatten().is_some();
    (has(ACCESS_ACL), has(DEFAULT_ACL))
}

/// Removes the ACLs a directory has now but did not have (`before`), as
/// [`access_control_lists`] reported them.
pub(crate) fn remove_new_access_control_lists(
    directory: &std::os::fd::OwnedFd,
    before: (bool, bool),
) {
    use xattr::FileExt;
    let now = access_control_lists(directory);
    let Ok(file) = directory.try_clone().map(std::fs::File::from) else {
        return;
    };
    for (name, had, has) in [
        (ACCESS_ACL, before.0, now.0),
        (DEFAULT_ACL, before.1, now.1),
    ] {
        if has && !had {
            let _ = file.remove_xattr(name);
        }
    }
}

const ACCESS_ACL: &str = "system.posix_acl_access";
const DEFAULT_ACL: &str = "system.posix_acl_default";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_do_not_follow_planted_links() {
        let dir = tempfile::tempdir().unwrap();
        let area = dir.path().canonicalize().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), area.join("out")).unwrap();
        let refused = write_atomically(
            &area.join("out/x.ipynb"),
            b"{}",
            std::slice::from_ref(&area),
        );
        assert!(refused.is_err());
        assert!(!outside.path().join("x.ipynb").exists());
        // A link at the final name is replaced, not followed.
        let target = outside.path().join("target");
        std::fs::write(&target, "keep").unwrap();
        std::os::unix::fs::symlink(&target, area.join("boxpy.toml")).unwrap();
        write_atomically(
            &area.join("boxpy.toml"),
            b"new",
            std::slice::from_ref(&area),
        )
        .unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        assert_eq!(
            std::fs::read_to_string(area.join("boxpy.toml")).unwrap(),
            "new"
        );
        // Appending never follows a link.
        assert!(open_append(&area.join("boxpy.toml")).is_ok());
        std::os::unix::fs::symlink(&target, area.join("audit.jsonl")).unwrap();
        assert!(open_append(&area.join("audit.jsonl")).is_err());
    }
}
