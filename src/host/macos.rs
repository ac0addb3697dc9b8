//! What the Seatbelt renderer needs to know about the host, probed once into
//! [`MacosFacts`]: what the spec's paths resolve to (Seatbelt matches resolved paths), the
//! symlinks from the venv's `python` to the real interpreter, and the libraries that
//! interpreter links from outside its own prefix.
//!
//! A Homebrew or pyenv Python's `_ssl`, `_sqlite3`, `_lzma` and `_decimal` modules link
//! OpenSSL, SQLite, xz and mpdecimal from other Homebrew kegs (`/opt/homebrew/opt/openssl@3`).
//! Opening all of `/opt/homebrew` would open every installed package; instead the Mach-O
//! load commands of the interpreter, its library and its extension modules name exactly
//! the directories needed. OpenSSL's certificate directory (`OPENSSLDIR`, compiled into
//! libcrypto) is added too, so HTTPS verifies with the interpreter's own CA bundle.
//!
//! Runs on every OS: on Linux (`boxpy render --target macos`) the files are ELF and no
//! library is found; paths resolve as they do on this host.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::host::prefix_of_bin_dir;
use crate::policy::validate::normalize;

/// The most files the library scan reads (extension modules and the libraries they load).
const SCAN_LIMIT: usize = 256;
/// Files larger than this are not scanned (no Python library is near it).
const SCAN_SIZE_LIMIT: u64 = 64 << 20;

/// The paths of a sandbox the probe resolves (the spec gives them: `From<&SandboxSpec>`).
#[derive(Debug, Clone)]
pub struct ProbedPaths<'a> {
    pub workdir: &'a Path,
    /// The interpreter as the spec names it (its symlink chain is followed).
    pub executable: &'a Path,
    pub venv: Option<&'a Path>,
    /// The venv and base interpreter directories.
    pub read_only_paths: &'a [PathBuf],
    pub mount_sources: Vec<&'a Path>,
    pub script_mount: Option<&'a Path>,
}

/// Probes the host for a spec's paths. `run_directory` and `tag` are this run's (or `render`'s
/// placeholders); `boxpy_executable` runs inside the sandbox as the start helper.
pub fn probe<'a>(
    paths: impl Into<ProbedPaths<'a>>,
    run_directory: PathBuf,
    tag: String,
    boxpy_executable: PathBuf,
) -> MacosFacts {
    let paths = paths.into();
    let interpreter_links = symlink_chain(paths.executable);
    let interpreter_libraries = interpreter_libraries(paths.executable, paths.read_only_paths);
    let mut interesting: Vec<PathBuf> = vec![
        paths.workdir.to_path_buf(),
        paths.executable.to_path_buf(),
        run_directory.clone(),
        boxpy_executable.clone(),
    ];
    interesting.extend(paths.venv.map(Path::to_path_buf));
    interesting.extend(paths.read_only_paths.iter().cloned());
    interesting.extend(
        paths
            .mount_sources
            .iter()
            .map(|source| source.to_path_buf()),
    );
    interesting.extend(paths.script_mount.map(Path::to_path_buf));
    interesting.extend(interpreter_links.iter().cloned());
    interesting.extend(interpreter_libraries.iter().cloned());
    let mut seen = BTreeSet::new();
    let mut resolved = Vec::new();
    for path in &interesting {
        for prefix in path.ancestors() {
            if !seen.insert(prefix.to_path_buf()) {
                continue;
            }
            if let Ok(canonical) = prefix.canonicalize() {
                if canonical != prefix {
                    resolved.push((prefix.to_path_buf(), canonical));
                }
            }
        }
    }
    MacosFacts {
        run_directory,
        tag,
        boxpy_executable,
        resolved,
        interpreter_links,
        interpreter_libraries,
    }
}

/// What the renderer needs beyond the spec: the run's own directory and tag, and what
/// the host says about the spec's paths. Built by [`probe`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacosFacts {
    /// The run's private directory (canonical), created by boxpy under `$TMPDIR` and
    /// removed after the run: `home` (HOME), `tmp` (TMPDIR) and `files` (generated files).
    pub run_directory: PathBuf,
    /// Unique for each run; every denial of this profile is logged with it.
    pub tag: String,
    /// boxpy's own executable (canonical), run inside the sandbox as the start helper.
    pub boxpy_executable: PathBuf,
    /// Paths of this host that resolve elsewhere: (path, resolved). The longest matching
    /// prefix applies, so `/opt/homebrew/opt/x` covers everything below it.
    pub resolved: Vec<(PathBuf, PathBuf)>,
    /// The symlinks from the interpreter's path to its real executable, in order.
    pub interpreter_links: Vec<PathBuf>,
    /// Directories outside the interpreter's prefix that its libraries come from (a
    /// Homebrew Python's OpenSSL, SQLite, xz and mpdecimal kegs, OpenSSL's certificates).
    pub interpreter_libraries: Vec<PathBuf>,
}

impl MacosFacts {
    /// `path` with every symlink resolved, as far as the host said.
    pub fn canonical(&self, path: &Path) -> PathBuf {
        let best = self
            .resolved
            .iter()
            .filter(|(from, _)| path.starts_with(from))
            .max_by_key(|(from, _)| from.components().count());
        match best {
            Some((from, to)) => match path.strip_prefix(from) {
                Ok(rest) if rest.as_os_str().is_empty() => to.clone(),
                Ok(rest) => to.join(rest),
                Err(_) => path.to_path_buf(),
            },
            None => path.to_path_buf(),
        }
    }

    /// `path` with its directories resolved but not its last component: what Seatbelt
    /// sees when `path` itself is a symlink being looked at (lstat, readlink).
    pub fn physical(&self, path: &Path) -> PathBuf {
        match (path.parent(), path.file_name()) {
            (Some(parent), Some(name)) => self.canonical(parent).join(name),
            _ => path.to_path_buf(),
        }
    }
}

/// A fresh tag for one run's profile: `boxpy-` and 12 hex digits.
pub fn run_tag() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or(0),
    );
    format!("boxpy-{:012x}", hasher.finish() & 0xffff_ffff_ffff)
}

/// The symlinks from `executable` to the real file, in order (the last one included).
pub fn symlink_chain(executable: &Path) -> Vec<PathBuf> {
    let mut chain = Vec::new();
    let mut current = executable.to_path_buf();
    for _ in 0..40 {
        let is_link = current
            .symlink_metadata()
            .is_ok_and(|metadata| metadata.file_type().is_symlink());
        if !is_link {
            break;
        }
        let Ok(target) = std::fs::read_link(&current) else {
            break;
        };
        chain.push(current.clone());
        let parent = current.parent().unwrap_or(Path::new("/")).to_path_buf();
        current = normalize(&parent.join(target));
    }
    chain
}

/// The directories outside the interpreter's prefixes that its libraries come from.
pub fn interpreter_libraries(executable: &Path, read_only_paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut prefixes: Vec<PathBuf> = read_only_paths
        .iter()
        .filter_map(|path| path.canonicalize().ok())
        .collect();
    let executable = executable.canonicalize().ok();
    if let Some(prefix) = executable
        .as_deref()
        .and_then(Path::parent)
        .map(prefix_of_bin_dir)
    {
        prefixes.push(prefix);
    }
    let mut queue: Vec<PathBuf> = executable.into_iter().collect();
    for prefix in &prefixes {
        queue.extend(prefix_binaries(prefix));
    }
    let mut scanned = BTreeSet::new();
    let mut found: Vec<PathBuf> = Vec::new();
    let push = |found: &mut Vec<PathBuf>, directory: PathBuf| {
        if !found.contains(&directory) {
            found.push(directory);
        }
    };
    while let Some(file) = queue.pop() {
        if scanned.len() >= SCAN_LIMIT || !scanned.insert(file.clone()) {
            continue;
        }
        let Some(bytes) = read_bounded(&file) else {
            continue;
        };
        if is_libcrypto(&file) {
            if let Some(directory) = openssl_directory(&bytes) {
                let directory = PathBuf::from(directory);
                if let Ok(certificates) = directory.join("cert.pem").canonicalize() {
                    if let Some(parent) = certificates.parent() {
                        push(&mut found, parent.to_path_buf());
                    }
                }
                push(&mut found, directory);
            }
        }
        for dependency in macho_dependencies(&bytes) {
            let dependency = PathBuf::from(dependency);
            if is_system_library(&dependency) {
                continue;
            }
            let canonical = dependency.canonicalize().unwrap_or(dependency.clone());
            if prefixes.iter().any(|prefix| canonical.starts_with(prefix)) {
                continue;
            }
            push(&mut found, library_directory(&dependency));
            queue.push(canonical);
        }
    }
    found
}

/// The interpreter's own binaries under `prefix`: the framework's `Python`, `libpython`,
/// and the extension modules in `lib-dynload`.
fn prefix_binaries(prefix: &Path) -> Vec<PathBuf> {
    let mut files = vec![prefix.join("Python")];
    let lib = prefix.join("lib");
    let entries = |directory: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(directory)
            .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
            .unwrap_or_default()
    };
    for entry in entries(&lib) {
        let name = entry
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with("libpython") && name.ends_with(".dylib") {
            files.push(entry.clone());
        }
        if name.starts_with("python3") {
            files.extend(
                entries(&entry.join("lib-dynload"))
                    .into_iter()
                    .filter(|path| path.extension().is_some_and(|extension| extension == "so")),
            );
        }
    }
    files.retain(|file| file.is_file());
    files.sort();
    files
}

fn read_bounded(file: &Path) -> Option<Vec<u8>> {
    crate::bounded::read(file, SCAN_SIZE_LIMIT).ok()
}

/// Libraries of the OS, readable through the fixed system paths.
fn is_system_library(path: &Path) -> bool {
    path.starts_with("/usr/lib")
        || path.starts_with("/System")
        || path.starts_with("/Library/Apple")
}

fn is_libcrypto(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|name| name.to_string_lossy().starts_with("libcrypto"))
}

/// The directory a library's package lives in: `/opt/homebrew/opt/openssl@3` for
/// `/opt/homebrew/opt/openssl@3/lib/libssl.3.dylib`; the library's own directory otherwise.
pub fn library_directory(library: &Path) -> PathBuf {
    let directory = library.parent().unwrap_or(Path::new("/"));
    match directory.file_name() {
        Some(name) if name == "lib" => match directory.parent() {
            Some(parent) if parent.parent().is_some() => parent.to_path_buf(),
            _ => directory.to_path_buf(),
        },
        _ => directory.to_path_buf(),
    }
}

/// `OPENSSLDIR: "/opt/homebrew/etc/openssl@3"`, as OpenSSL 1.1 and 3 compile it into
/// libcrypto for `OpenSSL_version(OPENSSL_DIR)`.
pub fn openssl_directory(bytes: &[u8]) -> Option<String> {
    let marker = b"OPENSSLDIR: \"";
    let start = bytes
        .windows(marker.len())
        .position(|window| window == marker)?
        + marker.len();
    let length = bytes[start..]
        .iter()
        .take(4096)
        .position(|byte| *byte == b'"')?;
    let directory = std::str::from_utf8(&bytes[start..start + length]).ok()?;
    directory.starts_with('/').then(|| directory.to_owned())
}

const FAT_MAGIC: u32 = 0xcafe_babe;
const FAT_MAGIC_64: u32 = 0xcafe_babf;
const MH_MAGIC: u32 = 0xfeed_face;
const MH_MAGIC_64: u32 = 0xfeed_facf;
const LC_REQ_DYLD: u32 = 0x8000_0000;
const LC_LOAD_DYLIB: u32 = 0xc;
const LC_LOAD_WEAK_DYLIB: u32 = 0x18 | LC_REQ_DYLD;
const LC_REEXPORT_DYLIB: u32 = 0x1f | LC_REQ_DYLD;
const LC_LAZY_LOAD_DYLIB: u32 = 0x20;
const LC_LOAD_UPWARD_DYLIB: u32 = 0x23 | LC_REQ_DYLD;

fn u32_at(bytes: &[u8], offset: usize, big_endian: bool) -> Option<u32> {
    let raw: [u8; 4] = bytes.get(offset..offset.checked_add(4)?)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(raw)
    } else {
        u32::from_le_bytes(raw)
    })
}

fn u64_at(bytes: &[u8], offset: usize) -> Option<u64> {
    let raw: [u8; 8] = bytes.get(offset..offset.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_be_bytes(raw))
}

/// The absolute paths of the libraries a Mach-O file (thin or universal) loads, in order,
/// each once. `@rpath`, `@loader_path` and `@executable_path` names are left out: they
/// resolve inside the file's own package.
pub fn macho_dependencies(bytes: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    match u32_at(bytes, 0, true) {
        Some(magic @ (FAT_MAGIC | FAT_MAGIC_64)) => {
            let count = u32_at(bytes, 4, true).unwrap_or(0).min(16) as usize;
            let (entry_size, wide) = if magic == FAT_MAGIC_64 {
                (32, true)
            } else {
                (20, false)
            };
            for index in 0..count {
                let entry = 8 + index * entry_size;
                let (offset, size) = if wide {
                    (u64_at(bytes, entry + 8), u64_at(bytes, entry + 16))
                } else {
                    (
                        u32_at(bytes, entry + 8, true).map(u64::from),
                        u32_at(bytes, entry + 12, true).map(u64::from),
                    )
                };
                let (Some(offset), Some(size)) = (offset, size) else {
                    break;
                };
                let (Ok(offset), Ok(size)) = (usize::try_from(offset), usize::try_from(size))
                else {
                    break;
                };
                if let Some(slice) = offset
                    .checked_add(size)
                    .and_then(|end| bytes.get(offset..end))
                {
                    thin_dependencies(slice, &mut found);
                }
            }
        }
        _ => thin_dependencies(bytes, &mut found),
    }
    found
}

fn thin_dependencies(bytes: &[u8], found: &mut Vec<String>) {
    let header_size = match u32_at(bytes, 0, false) {
        Some(MH_MAGIC_64) => 32,
        Some(MH_MAGIC) => 28,
        _ => return,
    };
    let commands = u32_at(bytes, 16, false).unwrap_or(0).min(4096);
    let mut offset = header_size;
    for _ in 0..commands {
        let (Some(command), Some(size)) = (
            u32_at(bytes, offset, false),
            u32_at(bytes, offset + 4, false),
        ) else {
            return;
        };
        let size = size as usize;
        if size < 8 {
            return;
        }
        if matches!(
            command,
            LC_LOAD_DYLIB
                | LC_LOAD_WEAK_DYLIB
                | LC_REEXPORT_DYLIB
                | LC_LAZY_LOAD_DYLIB
                | LC_LOAD_UPWARD_DYLIB
        ) {
            let name = u32_at(bytes, offset + 8, false).map(|at| at as usize);
            let body = bytes.get(offset..offset.saturating_add(size));
            if let (Some(name), Some(body)) = (name, body) {
                if let Some(text) = body.get(name..) {
                    let end = text
                        .iter()
                        .position(|byte| *byte == 0)
                        .unwrap_or(text.len());
                    if let Ok(path) = std::str::from_utf8(&text[..end]) {
                        if path.starts_with('/') && !found.iter().any(|known| known == path) {
                            found.push(path.to_owned());
                        }
                    }
                }
            }
        }
        offset = match offset.checked_add(size) {
            Some(next) => next,
            None => return,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A thin 64-bit little-endian Mach-O with the given load commands.
    fn thin(dylibs: &[(u32, &str)]) -> Vec<u8> {
        let mut commands = Vec::new();
        for (command, name) in dylibs {
            let mut body = Vec::new();
            body.extend_from_slice(&command.to_le_bytes());
            let name_bytes = name.as_bytes();
            let size = (24 + name_bytes.len() + 1).div_ceil(8) * 8;
            body.extend_from_slice(&(size as u32).to_le_bytes());
            body.extend_from_slice(&24u32.to_le_bytes()); // name offset
            body.extend_from_slice(&[0; 12]); // timestamp, versions
            body.extend_from_slice(name_bytes);
            body.resize(size, 0);
            commands.push(body);
        }
        // An LC_RPATH (0x8000001c) that must be skipped.
        let mut rpath = Vec::new();
        rpath.extend_from_slice(&0x8000_001cu32.to_le_bytes());
        rpath.extend_from_slice(&24u32.to_le_bytes());
        rpath.extend_from_slice(&12u32.to_le_bytes());
        rpath.extend_from_slice(b"/opt/x\0\0\0\0\0\0");
        commands.push(rpath);
        let total: usize = commands.iter().map(Vec::len).sum();
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&MH_MAGIC_64.to_le_bytes());
        bytes.extend_from_slice(&0x0100_000cu32.to_le_bytes()); // arm64
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend_from_slice(&8u32.to_le_bytes()); // MH_BUNDLE
        bytes.extend_from_slice(&(commands.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&(total as u32).to_le_bytes());
        bytes.extend_from_slice(&[0; 8]);
        for command in commands {
            bytes.extend_from_slice(&command);
        }
        bytes
    }

    #[test]
    fn reads_the_libraries_a_thin_file_loads() {
        let bytes = thin(&[
            (
                LC_LOAD_DYLIB,
                "/opt/homebrew/opt/openssl@3/lib/libssl.3.dylib",
            ),
            (LC_LOAD_DYLIB, "/usr/lib/libSystem.B.dylib"),
            (LC_LOAD_WEAK_DYLIB, "@rpath/libfoo.dylib"),
            (
                LC_REEXPORT_DYLIB,
                "/opt/homebrew/opt/openssl@3/lib/libcrypto.3.dylib",
            ),
            (LC_LOAD_DYLIB, "/usr/lib/libSystem.B.dylib"),
        ]);
        assert_eq!(
            macho_dependencies(&bytes),
            [
                "/opt/homebrew/opt/openssl@3/lib/libssl.3.dylib",
                "/usr/lib/libSystem.B.dylib",
                "/opt/homebrew/opt/openssl@3/lib/libcrypto.3.dylib",
            ]
        );
    }

    #[test]
    fn reads_every_slice_of_a_universal_file() {
        let arm = thin(&[(LC_LOAD_DYLIB, "/opt/homebrew/opt/xz/lib/liblzma.5.dylib")]);
        let intel = thin(&[(LC_LOAD_DYLIB, "/usr/local/opt/xz/lib/liblzma.5.dylib")]);
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&FAT_MAGIC.to_be_bytes());
        bytes.extend_from_slice(&2u32.to_be_bytes());
        let first = 64u32;
        let second = first + arm.len() as u32;
        for (offset, slice) in [(first, &arm), (second, &intel)] {
            bytes.extend_from_slice(&[0; 8]); // cputype, cpusubtype
            bytes.extend_from_slice(&offset.to_be_bytes());
            bytes.extend_from_slice(&(slice.len() as u32).to_be_bytes());
            bytes.extend_from_slice(&0u32.to_be_bytes());
        }
        bytes.resize(first as usize, 0);
        bytes.extend_from_slice(&arm);
        bytes.extend_from_slice(&intel);
        assert_eq!(
            macho_dependencies(&bytes),
            [
                "/opt/homebrew/opt/xz/lib/liblzma.5.dylib",
                "/usr/local/opt/xz/lib/liblzma.5.dylib",
            ]
        );
    }

    #[test]
    fn garbage_is_not_a_library() {
        assert!(macho_dependencies(b"\x7fELF\x02\x01\x01").is_empty());
        assert!(macho_dependencies(&[]).is_empty());
        let mut truncated = thin(&[(LC_LOAD_DYLIB, "/opt/a/lib/liba.dylib")]);
        truncated.truncate(40);
        assert!(macho_dependencies(&truncated).is_empty());
    }

    #[test]
    fn library_directories_are_packages() {
        assert_eq!(
            library_directory(Path::new("/opt/homebrew/opt/openssl@3/lib/libssl.3.dylib")),
            Path::new("/opt/homebrew/opt/openssl@3")
        );
        assert_eq!(
            library_directory(Path::new("/opt/local/libexec/x/libz.dylib")),
            Path::new("/opt/local/libexec/x")
        );
        assert_eq!(
            library_directory(Path::new("/lib/libz.dylib")),
            Path::new("/lib")
        );
    }

    #[test]
    fn finds_the_openssl_directory() {
        let bytes = b"\0\0OpenSSL 3.3.2\0OPENSSLDIR: \"/opt/homebrew/etc/openssl@3\"\0ENGINESDIR";
        assert_eq!(
            openssl_directory(bytes).as_deref(),
            Some("/opt/homebrew/etc/openssl@3")
        );
        assert_eq!(openssl_directory(b"OPENSSLDIR: \"relative\""), None);
        assert_eq!(openssl_directory(b"nothing"), None);
    }

    #[test]
    fn tags_are_unique() {
        let first = run_tag();
        let second = run_tag();
        assert!(first.starts_with("boxpy-") && first.len() == 18, "{first}");
        assert_ne!(first, second);
    }

    #[test]
    fn follows_the_interpreter_symlinks() {
        let root = tempfile::tempdir().expect("tempdir");
        let root = root.path().canonicalize().expect("canonical");
        let real = root.join("python/bin/python3.12");
        std::fs::create_dir_all(real.parent().unwrap()).unwrap();
        std::fs::write(&real, b"").unwrap();
        std::fs::create_dir_all(root.join("venv/bin")).unwrap();
        std::os::unix::fs::symlink("python3.12", root.join("python/bin/python3")).unwrap();
        std::os::unix::fs::symlink(
            root.join("python/bin/python3"),
            root.join("venv/bin/python"),
        )
        .unwrap();
        assert_eq!(
            symlink_chain(&root.join("venv/bin/python")),
            [
                root.join("venv/bin/python"),
                root.join("python/bin/python3")
            ]
        );
        assert!(symlink_chain(&real).is_empty());
    }
}
