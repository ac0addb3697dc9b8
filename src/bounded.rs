//! Reading the files boxpy itself reads (policies and what they extend, `pyvenv.cfg`,
//! notebooks) with a size cap, and only when they are regular files.
//!
//! Any of these may have been written by someone else (a repository, an earlier run):
//! `extends = "/dev/zero"` must not grow boxpy without end, and a FIFO must not hang it.
//! Opening a device can itself act (arm a watchdog, reset a serial board, rewind a tape),
//! so on Linux a path is first opened with `O_PATH` (which opens nothing: no driver is
//! called, a FIFO waits for no writer), checked with `fstat` on that descriptor, refused
//! unless it is a regular file, and only then reopened for reading through
//! `/proc/self/fd/N` (`O_NONBLOCK | O_NOCTTY`), checked to be the same inode (what is
//! checked is what is read). Elsewhere the file is opened with `O_NONBLOCK` and checked
//! with `fstat` on the open descriptor. Either way it is read to at most its limit (a file
//! that grows while it is read is refused as too large, never read past the limit).

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use crate::units::format_size;

/// The largest policy file boxpy reads (each file of an `extends` chain).
pub const POLICY_LIMIT: u64 = 1 << 20;
/// The largest `pyproject.toml` boxpy reads to look for `[tool.boxpy]`.
pub const PYPROJECT_LIMIT: u64 = 4 << 20;
/// The largest `pyvenv.cfg` boxpy reads.
pub const PYVENV_CFG_LIMIT: u64 = 64 << 10;
/// The default largest notebook `boxpy nbexec` reads (`--max-notebook-size`).
pub const NOTEBOOK_LIMIT: u64 = 256 << 20;

/// Why a file was not read.
#[derive(Debug)]
pub enum ReadError {
    /// Opening or reading failed (no such file, permission, ...).
    Io(std::io::Error),
    /// Not a regular file: what it is instead (`a directory`, `a FIFO`, ...).
    NotRegular(&'static str),
    /// Larger than the limit (in bytes).
    TooLarge(u64),
}

impl ReadError {
    /// Whether the file does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io(error) if error.kind() == std::io::ErrorKind::NotFound)
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(error) => write!(formatter, "{error}"),
            ReadError::NotRegular(kind) => write!(formatter, "it is {kind}, not a regular file"),
            ReadError::TooLarge(limit) => {
                write!(
                    formatter,
                    "it is larger than the limit of {}",
                    format_size(*limit)
                )
            }
        }
    }
}

/// What a file that is not a regular file is, for an error ("a FIFO", "a character device", …).
pub(crate) fn describe(file_type: std::fs::FileType) -> &'static str {
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Reads a regular file of at most `limit` bytes. A FIFO, a device, a directory or a
/// socket is refused without blocking; so is a file larger than `limit`, before reading it
/// when its size says so, or as soon as more than `limit` bytes arrive.
pub fn read(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    read_with(path, limit, 0)
}

/// [`read_to_string`], refusing a symlink at `path` itself (`O_NOFOLLOW`): for files in
/// places a sandboxed run could write (a repository's git files), where a link would
/// make boxpy read something else.
pub fn read_to_string_no_follow(path: &Path, limit: u64) -> Result<String, ReadError> {
    text(read_with(path, limit, libc::O_NOFOLLOW)?)
}

/// [`read`], refusing a symlink at `path` itself (`O_NOFOLLOW`).
pub fn read_no_follow(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    read_with(path, limit, libc::O_NOFOLLOW)
}

fn read_with(path: &Path, limit: u64, flags: libc::c_int) -> Result<Vec<u8>, ReadError> {
    let (file, metadata) = open_regular(path, flags)?;
    if metadata.len() > limit {
        return Err(ReadError::TooLarge(limit));
    }
    read_capped(file, metadata.len(), limit)
}

/// Opens `path` for reading only when it is a regular file, without opening anything else
/// (see the module doc): `O_PATH`, `fstat`, then a reopen through `/proc/self/fd/N`
/// checked to be the same inode.
#[cfg(target_os = "linux")]
fn open_regular(path: &Path, flags: libc::c_int) -> Result<(File, std::fs::Metadata), ReadError> {
    use std::os::unix::fs::MetadataExt;
    let handle = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | flags)
        .open(path)
        .map_err(ReadError::Io)?;
    let metadata = handle.metadata().map_err(ReadError::Io)?;
    if metadata.file_type().is_symlink() {
        // `O_PATH | O_NOFOLLOW` opens the link itself: refused as opening it would be.
        return Err(ReadError::Io(std::io::Error::from_raw_os_error(
            libc::ELOOP,
        )));
    }
    if !metadata.file_type().is_file() {
        return Err(ReadError::NotRegular(describe(metadata.file_type())));
    }
    let reopened = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&handle));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(reopened)
        .map_err(ReadError::Io)?;
    let opened = file.metadata().map_err(ReadError::Io)?;
    if (opened.dev(), opened.ino()) != (metadata.dev(), metadata.ino()) || !opened.is_file() {
        return Err(ReadError::Io(std::io::Error::other(
            "the file changed while it was opened",
        )));
    }
    Ok((file, opened))
}

#[cfg(not(target_os = "linux"))]
fn open_regular(path: &Path, flags: libc::c_int) -> Result<(File, std::fs::Metadata), ReadError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | flags)
        .open(path)
        .map_err(ReadError::Io)?;
    let metadata = file.metadata().map_err(ReadError::Io)?;
    if !metadata.file_type().is_file() {
        return Err(ReadError::NotRegular(describe(metadata.file_type())));
    }
    Ok((file, metadata))
}

fn read_capped(file: File, size: u64, limit: u64) -> Result<Vec<u8>, ReadError> {
    let mut bytes = Vec::with_capacity(size.min(limit) as usize);
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge(limit));
    }
    Ok(bytes)
}

/// [`read`] as UTF-8 text; text that is not UTF-8 is an [`ReadError::Io`] of kind
/// `InvalidData`.
pub fn read_to_string(path: &Path, limit: u64) -> Result<String, ReadError> {
    text(read(path, limit)?)
}

fn text(bytes: Vec<u8>) -> Result<String, ReadError> {
    String::from_utf8(bytes).map_err(|_| {
        ReadError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_regular_file_up_to_its_limit() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("a.toml");
        std::fs::write(&path, "0123456789").unwrap();
        assert_eq!(read(&path, 10).unwrap(), b"0123456789");
        assert!(matches!(read(&path, 9), Err(ReadError::TooLarge(9))));
    }

    #[test]
    fn refuses_devices_directories_and_fifos_without_blocking() {
        assert!(matches!(
            read(Path::new("/dev/zero"), 1 << 20),
            Err(ReadError::NotRegular("a character device"))
        ));
        let directory = tempfile::tempdir().unwrap();
        assert!(matches!(
            read(directory.path(), 1 << 20),
            Err(ReadError::NotRegular("a directory"))
        ));
        let fifo = directory.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        // No writer: a blocking open would wait for ever.
        let error = read(&fifo, 1 << 20).unwrap_err();
        assert!(matches!(error, ReadError::NotRegular("a FIFO")));
        assert_eq!(error.to_string(), "it is a FIFO, not a regular file");
    }

    #[test]
    fn a_file_that_grows_past_the_limit_is_refused() {
        // The size said it fits; more arrived (here: the size is lied about by reading a
        // longer file through the capped reader).
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("grows");
        std::fs::write(&path, vec![b'x'; 100]).unwrap();
        let file = File::open(&path).unwrap();
        assert!(matches!(
            read_capped(file, 10, 50),
            Err(ReadError::TooLarge(50))
        ));
    }

    /// Watches `paths` for `IN_OPEN` (non-blocking).
    #[cfg(target_os = "linux")]
    fn watch_opens(paths: &[&Path]) -> nix::sys::inotify::Inotify {
        use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
        let watch = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).unwrap();
        for path in paths {
            watch
                .add_watch(
                    *path,
                    AddWatchFlags::IN_OPEN | AddWatchFlags::IN_DONT_FOLLOW,
                )
                .unwrap();
        }
        watch
    }

    #[cfg(target_os = "linux")]
    fn opens_seen(watch: &nix::sys::inotify::Inotify) -> usize {
        watch.read_events().map(|events| events.len()).unwrap_or(0)
    }

    /// A FIFO or a device reached through a link (a venv's `_version.py`, a `pyvenv.cfg`)
    /// is refused without being opened: opening a device can act (a watchdog, a serial
    /// port). The control: reading a regular file is seen as an open.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_fifo_or_a_device_is_refused_without_being_opened() {
        let directory = tempfile::tempdir().unwrap();
        let fifo = directory.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let regular = directory.path().join("regular");
        std::fs::write(&regular, "x").unwrap();
        let mut targets = vec![(fifo.clone(), "a FIFO")];
        if nix::unistd::geteuid().is_root() {
            // A null device of our own (never the host's /dev).
            let device = directory.path().join("null");
            nix::sys::stat::mknod(
                &device,
                nix::sys::stat::SFlag::S_IFCHR,
                nix::sys::stat::Mode::from_bits_truncate(0o600),
                nix::sys::stat::makedev(1, 3),
            )
            .unwrap();
            targets.push((device, "a character device"));
        }
        for (target, kind) in &targets {
            let link = directory.path().join("_version.py");
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(target, &link).unwrap();
            let watch = watch_opens(&[target.as_path()]);
            let error = read(&link, 1 << 20).unwrap_err();
            assert!(
                matches!(error, ReadError::NotRegular(found) if found == *kind),
                "{error}"
            );
            assert_eq!(opens_seen(&watch), 0, "{kind} was opened");
        }
        let watch = watch_opens(&[regular.as_path()]);
        assert_eq!(read(&regular, 10).unwrap(), b"x");
        assert!(opens_seen(&watch) > 0, "the control open is seen");
    }

    #[test]
    fn a_link_is_refused_when_links_are_not_followed() {
        let directory = tempfile::tempdir().unwrap();
        let regular = directory.path().join("regular");
        std::fs::write(&regular, "x").unwrap();
        let link = directory.path().join("link");
        std::os::unix::fs::symlink(&regular, &link).unwrap();
        assert_eq!(read_to_string_no_follow(&regular, 10).unwrap(), "x");
        let error = read_to_string_no_follow(&link, 10).unwrap_err();
        assert!(
            matches!(&error, ReadError::Io(io) if io.raw_os_error() == Some(libc::ELOOP)),
            "{error}"
        );
    }

    #[test]
    fn a_missing_file_says_so() {
        let error = read(Path::new("/nonexistent/boxpy.toml"), 10).unwrap_err();
        assert!(error.is_not_found());
    }
}
