//! Finding the Python to run (SPEC §3): a virtualenv and its base interpreter, or a plain
//! interpreter, and the host directories that must be visible (read-only) for it to start.
//!
//! A venv's `bin/python` is usually a symlink to a base interpreter somewhere else (pyenv,
//! uv-managed Pythons and Homebrew put it under the user's home, which the sandbox hides):
//! `home` in `pyvenv.cfg` names it. Every directory on the way from `bin/python` to the real
//! executable is collected so the same paths resolve inside the sandbox.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// Where the choice of interpreter came from, for errors and hints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Flag,
    PolicyVenv,
    PolicyInterpreter,
    VirtualEnvVariable,
    WorkdirDotVenv,
    Path,
}

impl Origin {
    /// How to name the origin in a message (`--venv`, `python.venv`, ...).
    pub fn describe(&self) -> &'static str {
        match self {
            Origin::Flag => "`--venv`",
            Origin::PolicyVenv => "`python.venv`",
            Origin::PolicyInterpreter => "`python.interpreter`",
            Origin::VirtualEnvVariable => "`$VIRTUAL_ENV`",
            Origin::WorkdirDotVenv => "`.venv` in the working directory",
            Origin::Path => "`python3` on PATH",
        }
    }
}

/// The interpreter boxpy will run, and what the sandbox must show for it to work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpreter {
    /// The venv's root, when there is one.
    pub venv: Option<PathBuf>,
    /// The path executed inside the sandbox (the same path as on the host).
    pub executable: PathBuf,
    /// Host directories to mount read-only at the same path (venv root, base prefixes).
    pub read_only_paths: Vec<PathBuf>,
    /// `version` from pyvenv.cfg, when known.
    pub version: Option<String>,
    /// How it was chosen.
    pub origin: Origin,
}

impl Interpreter {
    /// The directory holding the executable, first on PATH inside the sandbox.
    pub fn bin_dir(&self) -> Option<&Path> {
        self.executable.parent()
    }
}

/// The inputs to the lookup, in priority order.
#[derive(Debug, Clone)]
pub struct Choice<'a> {
    pub flag_venv: Option<&'a Path>,
    pub policy_venv: Option<&'a Path>,
    pub policy_interpreter: Option<&'a Path>,
    pub virtual_env: Option<&'a Path>,
    pub workdir: &'a Path,
    pub path_variable: Option<&'a std::ffi::OsStr>,
    /// The caller's home: no base prefix may contain it.
    pub home: Option<&'a Path>,
}

/// Resolves the interpreter: `--venv`, the policy, `$VIRTUAL_ENV`, `.venv` in the working
/// directory, then `python3` on PATH.
pub fn resolve(choice: &Choice) -> Result<Interpreter> {
    let mut interpreter = resolve_unchecked(choice)?;
    let venv = interpreter.venv.clone();
    interpreter
        .read_only_paths
        .retain(|path| Some(path) == venv.as_ref() || is_safe_base_prefix(path, choice.home));
    Ok(interpreter)
}

/// A base prefix named by `pyvenv.cfg` or reached through a symlink must look like a
/// Python installation (`lib/python3.X` or `lib/python2.X` inside) and must not be `/`,
/// contain the caller's home, or lie under a protected path.
///
/// Security: a sandboxed program can write `.venv/pyvenv.cfg` in its (writable) working
/// directory; the next run that picks up that `.venv` must not mount `home = /root`
/// or `home = ~/.ssh/bin` read-only. The program cannot create a Python installation
/// outside the working directory, so the shape check stops it.
pub fn is_safe_base_prefix(prefix: &Path, home: Option<&Path>) -> bool {
    if prefix == Path::new("/") || home.is_some_and(|home| home.starts_with(prefix)) {
        return false;
    }
    if crate::host::PROTECTED_PATHS
        .iter()
        .any(|protected| prefix.starts_with(protected))
    {
        return false;
    }
    let Ok(entries) = std::fs::read_dir(prefix.join("lib")) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        (name.starts_with("python3") || name.starts_with("python2")) && entry.path().is_dir()
    })
}

fn resolve_unchecked(choice: &Choice) -> Result<Interpreter> {
    if let Some(venv) = choice.flag_venv {
        return from_venv(venv, Origin::Flag);
    }
    if let Some(venv) = choice.policy_venv {
        return from_venv(venv, Origin::PolicyVenv);
    }
    if let Some(interpreter) = choice.policy_interpreter {
        return from_executable(interpreter, Origin::PolicyInterpreter);
    }
    if let Some(venv) = choice
        .virtual_env
        .filter(|venv| !venv.as_os_str().is_empty())
    {
        return from_venv(venv, Origin::VirtualEnvVariable);
    }
    let dot_venv = choice.workdir.join(".venv");
    if dot_venv.join("pyvenv.cfg").is_file() {
        return from_venv(&dot_venv, Origin::WorkdirDotVenv);
    }
    let found = which::which_in("python3", choice.path_variable, choice.workdir).map_err(|_| {
        Error::InterpreterNotFound {
            path: PathBuf::from("python3"),
            detail: "no venv was given and there is no `python3` on PATH".to_owned(),
            hint: Some(
                "pass `--venv DIR`, set `python.venv` in the policy, or install python3".to_owned(),
            ),
        }
    })?;
    from_path_lookup(&found)
}

/// Reads `key = value` from pyvenv.cfg text.
pub fn pyvenv_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let (name, value) = line.split_once('=')?;
        (name.trim() == key).then(|| value.trim())
    })
}

/// Maps a `.../bin` directory to its prefix; any other directory stands for itself.
pub fn prefix_of_bin_dir(dir: &Path) -> PathBuf {
    if dir.file_name().is_some_and(|name| name == "bin") {
        if let Some(parent) = dir.parent() {
            if parent != Path::new("/") {
                return parent.to_path_buf();
            }
        }
    }
    dir.to_path_buf()
}

fn from_venv(venv: &Path, origin: Origin) -> Result<Interpreter> {
    let root = absolute(venv);
    if !root.is_dir() {
        return Err(Error::VenvNotFound {
            path: root,
            origin: origin.describe().to_owned(),
            reason: "no such directory".to_owned(),
        });
    }
    // Bounded, and only a regular file: a planted venv's `pyvenv.cfg` may be a FIFO or
    // a link to `/dev/zero`.
    let config =
        match crate::bounded::read(&root.join("pyvenv.cfg"), crate::bounded::PYVENV_CFG_LIMIT) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(error) => {
                return Err(Error::VenvNotFound {
                    path: root,
                    origin: origin.describe().to_owned(),
                    reason: if error.is_not_found() {
                        "it has no `pyvenv.cfg`, so it is not a virtualenv".to_owned()
                    } else {
                        format!("its `pyvenv.cfg` cannot be read: {error}")
                    },
                })
            }
        };
    let executable = ["python", "python3"]
        .iter()
        .map(|name| root.join("bin").join(name))
        .find(|candidate| candidate.symlink_metadata().is_ok())
        .ok_or_else(|| Error::InterpreterNotFound {
            path: root.join("bin/python"),
            detail: "the venv has no `bin/python`".to_owned(),
            hint: Some(format!(
                "recreate the venv: `python3 -m venv --clear {}`",
                root.display()
            )),
        })?;
    let mut read_only_paths = vec![root.clone()];
    if let Some(home) = pyvenv_value(&config, "home") {
        let home = PathBuf::from(home);
        push_prefix(&mut read_only_paths, &home);
        if let Ok(canonical) = home.canonicalize() {
            push_prefix(&mut read_only_paths, &canonical);
        }
    }
    check_executable(&executable, &mut read_only_paths, Some(&root))?;
    Ok(Interpreter {
        venv: Some(root),
        executable,
        read_only_paths,
        version: pyvenv_value(&config, "version")
            .or_else(|| pyvenv_value(&config, "version_info"))
            .map(str::to_owned),
        origin,
    })
}

fn from_executable(path: &Path, origin: Origin) -> Result<Interpreter> {
    let executable = absolute(path);
    let mut read_only_paths = Vec::new();
    if let Some(dir) = executable.parent() {
        push_prefix(&mut read_only_paths, dir);
    }
    check_executable(&executable, &mut read_only_paths, None)?;
    Ok(Interpreter {
        venv: None,
        executable,
        read_only_paths,
        version: None,
        origin,
    })
}

/// `python3` found on PATH. pyenv puts a shell-script shim there. A pyenv shim whose
/// version is plain (one installed version named by `PYENV_VERSION`, a `.python-version`
/// or pyenv's global `version` file) is resolved the way pyenv does, without running it
/// ([`pyenv_shim_target`]); any other script is asked once where the real interpreter is
/// (on the host, as the user's shell would run it: ~100 ms through pyenv's bash scripts).
fn from_path_lookup(found: &Path) -> Result<Interpreter> {
    let head = std::fs::File::open(found)
        .and_then(|file| {
            let mut head = Vec::new();
            std::io::Read::read_to_end(&mut std::io::Read::take(file, 4096), &mut head)?;
            Ok(head)
        })
        .unwrap_or_default();
    if !head.starts_with(b"#!") {
        return from_executable(found, Origin::Path);
    }
    // pyenv searches from `$PWD` (the logical directory, through symlinks) upwards.
    let cwd = std::env::current_dir().unwrap_or_default();
    let cwd = std::env::var_os("PWD")
        .map(PathBuf::from)
        .filter(|pwd| pwd.is_absolute() && same_file(pwd, &cwd))
        .unwrap_or(cwd);
    if let Some(real) = pyenv_shim_target(
        &String::from_utf8_lossy(&head),
        std::env::var_os("PYENV_VERSION").as_deref(),
        std::env::var_os("PYENV_DIR").is_some(),
        &cwd,
    ) {
        return from_executable(&real, Origin::Path);
    }
    let output = Command::new(found)
        .args(["-c", "import sys; print(sys.executable)"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    match output {
        Ok(output) if output.status.success() => {
            let real = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            if real.is_empty() {
                return from_executable(found, Origin::Path);
            }
            from_executable(Path::new(&real), Origin::Path)
        }
        _ => Err(Error::InterpreterNotFound {
            path: found.to_path_buf(),
            detail: "`python3` on PATH is a script (a pyenv shim?) that did not run".to_owned(),
            hint: Some("pass `--venv DIR` or set `python.interpreter` in the policy".to_owned()),
        }),
    }
}

/// The interpreter a pyenv shim (`shim`'s text) would run, when pyenv would pick it
/// without doubt: the shim names its `PYENV_ROOT`; the version is `PYENV_VERSION`, else
/// the first `.python-version` from `cwd` upwards, else `$PYENV_ROOT/version`; it must be
/// exactly one version (not `system`, no prefix to expand, no list) whose
/// `versions/VERSION/bin/python3` exists. `None` (run the shim instead) for anything else,
/// including `PYENV_DIR` (which moves the `.python-version` search).
fn pyenv_shim_target(
    shim: &str,
    pyenv_version: Option<&std::ffi::OsStr>,
    pyenv_dir_set: bool,
    cwd: &Path,
) -> Option<PathBuf> {
    // pyenv's shim: `export PYENV_ROOT="ROOT"` ... `exec "ROOT/libexec/pyenv" exec "$program" "$@"`.
    let root = shim.lines().find_map(|line| {
        line.trim()
            .strip_prefix("export PYENV_ROOT=\"")?
            .strip_suffix('"')
            .map(PathBuf::from)
    })?;
    let exec_line = format!(
        "exec \"{}/libexec/pyenv\" exec \"$program\"",
        root.display()
    );
    if !shim.lines().any(|line| line.trim().starts_with(&exec_line)) || !root.is_absolute() {
        return None;
    }
    let version = match pyenv_version.filter(|version| !version.is_empty()) {
        Some(version) => version.to_str()?.trim().to_owned(),
        None if pyenv_dir_set => return None,
        None => {
            let file = cwd
                .ancestors()
                .map(|dir| dir.join(".python-version"))
                .find(|file| file.is_file())
                .unwrap_or_else(|| root.join("version"));
            single_version(&crate::bounded::read_to_string(&file, 4096).ok()?)?
        }
    };
    let plain = !version.is_empty()
        && version != "system"
        && version != ".."
        && !version.contains(['/', ':'])
        && !version.contains(char::is_whitespace);
    if !plain {
        return None;
    }
    let python = root.join("versions").join(&version).join("bin/python3");
    python.exists().then_some(python)
}

fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (a.metadata(), b.metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// The one version a pyenv version file names (first word of each line, blank lines and
/// `#` comments skipped, as pyenv reads it); `None` for none or several.
fn single_version(text: &str) -> Option<String> {
    let mut versions = text
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|word| !word.starts_with('#'));
    let first = versions.next()?;
    versions.next().is_none().then(|| first.to_owned())
}

fn push_prefix(paths: &mut Vec<PathBuf>, dir: &Path) {
    let prefix = prefix_of_bin_dir(dir);
    if !paths.contains(&prefix) {
        paths.push(prefix);
    }
}

/// Follows the symlink chain from `executable`, adding each hop's prefix, and checks that
/// the final file exists (127) and is executable (126).
fn check_executable(
    executable: &Path,
    read_only_paths: &mut Vec<PathBuf>,
    venv: Option<&Path>,
) -> Result<()> {
    let mut current = executable.to_path_buf();
    for _ in 0..40 {
        let metadata = match current.symlink_metadata() {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == std::io::ErrorKind::PermissionDenied => {
                return Err(Error::InterpreterNotExecutable {
                    path: executable.to_path_buf(),
                    detail: format!(
                        "`{}` cannot be read by this user (a venv made from another user's Python?)",
                        current.display()
                    ),
                });
            }
            Err(_) => {
                let (detail, hint) = match venv {
                    Some(venv) if current != executable => (
                        format!(
                            "the venv's interpreter links to `{}`, which does not exist (was its base Python removed or upgraded?)",
                            current.display()
                        ),
                        format!("recreate the venv: `python3 -m venv --clear {}`", venv.display()),
                    ),
                    _ => (
                        "no such file".to_owned(),
                        "pass `--venv DIR` or set `python.interpreter` to an existing interpreter"
                            .to_owned(),
                    ),
                };
                return Err(Error::InterpreterNotFound {
                    path: executable.to_path_buf(),
                    detail,
                    hint: Some(hint),
                });
            }
        };
        if metadata.file_type().is_symlink() {
            let target = std::fs::read_link(&current).map_err(anyhow::Error::from)?;
            let parent = current.parent().unwrap_or(Path::new("/"));
            current = crate::policy::validate::normalize(&parent.join(target));
            if let Some(dir) = current.parent() {
                push_prefix(read_only_paths, dir);
            }
            continue;
        }
        use std::os::unix::fs::PermissionsExt;
        if !metadata.is_file() || metadata.permissions().mode() & 0o111 == 0 {
            return Err(Error::InterpreterNotExecutable {
                path: executable.to_path_buf(),
                detail: if metadata.is_file() {
                    format!("`{}` is not executable", current.display())
                } else {
                    format!("`{}` is not a regular file", current.display())
                },
            });
        }
        return Ok(());
    }
    Err(Error::InterpreterNotFound {
        path: executable.to_path_buf(),
        detail: "too many levels of symbolic links".to_owned(),
        hint: None,
    })
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        crate::policy::validate::normalize(path)
    } else {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        crate::policy::validate::normalize(&cwd.join(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// pyenv's shim as `pyenv rehash` writes it, for `root`.
    fn pyenv_shim(root: &Path) -> String {
        format!(
            "#!/usr/bin/env bash\nset -e\n[ -n \"$PYENV_DEBUG\" ] && set -x\n\nprogram=\"${{0##*/}}\"\n\nexport PYENV_ROOT=\"{root}\"\nSHIM_PATH=${{0%/*}}\nif [[ $SHIM_PATH != \"{root}/shims\" ]]; then\n  export _PYENV_SHIM_PATH=\"$SHIM_PATH\"\nfi\nexec \"{root}/libexec/pyenv\" exec \"$program\" \"$@\"\n",
            root = root.display()
        )
    }

    #[test]
    fn pyenv_shims_resolve_like_pyenv_or_not_at_all() {
        let temp = tempfile::tempdir().expect("tempdir");
        let root = temp.path().join("pyenv");
        let python = root.join("versions/3.11.7/bin/python3");
        std::fs::create_dir_all(python.parent().unwrap()).unwrap();
        std::fs::write(&python, "").unwrap();
        std::fs::create_dir_all(root.join("versions/3.12.1/bin")).unwrap();
        let project = temp.path().join("project");
        let deep = project.join("src/pkg");
        std::fs::create_dir_all(&deep).unwrap();
        let shim = pyenv_shim(&root);
        let resolve = |version: Option<&str>, dir_set: bool, cwd: &Path| {
            pyenv_shim_target(&shim, version.map(std::ffi::OsStr::new), dir_set, cwd)
        };

        // No version anywhere: pyenv would use `system`; the shim is run instead.
        assert_eq!(resolve(None, false, &deep), None);
        // The global version file.
        std::fs::write(root.join("version"), "3.11.7\n").unwrap();
        assert_eq!(resolve(None, false, &deep), Some(python.clone()));
        // A `.python-version` above the directory wins over it; comments and blank lines
        // are skipped as pyenv skips them.
        std::fs::write(project.join(".python-version"), "# pinned\n\n3.11.7\n").unwrap();
        assert_eq!(resolve(None, false, &deep), Some(python.clone()));
        // PYENV_VERSION wins over both.
        std::fs::write(project.join(".python-version"), "3.12.1\n").unwrap();
        assert_eq!(resolve(None, false, &deep), None, "3.12.1 has no python3");
        assert_eq!(resolve(Some("3.11.7"), false, &deep), Some(python.clone()));

        // Anything pyenv would resolve in a way of its own: run the shim.
        for version in [
            "system",
            "3.11",
            "3.11.7:3.12.1",
            "../3.11.7",
            "3.11.7 3.12.1",
        ] {
            assert_eq!(resolve(Some(version), false, &deep), None, "{version:?}");
        }
        std::fs::write(project.join(".python-version"), "3.11.7\n3.12.1\n").unwrap();
        assert_eq!(resolve(None, false, &deep), None, "two versions");
        std::fs::write(project.join(".python-version"), "3.11.7\n").unwrap();
        assert_eq!(
            resolve(None, true, &deep),
            None,
            "PYENV_DIR moves the search"
        );
        // Not pyenv's shim (another version manager, a wrapper script).
        let other = "#!/bin/sh\nexec /usr/bin/python3 \"$@\"\n";
        assert_eq!(
            pyenv_shim_target(other, Some(std::ffi::OsStr::new("3.11.7")), false, &deep),
            None
        );
        // A shim that names one root but execs another's pyenv.
        let mixed = shim.replace(
            &format!("exec \"{}/libexec", root.display()),
            "exec \"/elsewhere/libexec",
        );
        assert_eq!(
            pyenv_shim_target(&mixed, Some(std::ffi::OsStr::new("3.11.7")), false, &deep),
            None
        );
    }

    #[test]
    fn reads_pyvenv_cfg() {
        let text = "home = /root/.pyenv/versions/3.11.7/bin\ninclude-system-site-packages = false\nversion = 3.11.7\n";
        assert_eq!(
            pyvenv_value(text, "home"),
            Some("/root/.pyenv/versions/3.11.7/bin")
        );
        assert_eq!(pyvenv_value(text, "version"), Some("3.11.7"));
        assert_eq!(pyvenv_value(text, "missing"), None);
    }

    #[test]
    fn prefixes() {
        assert_eq!(
            prefix_of_bin_dir(Path::new("/root/.pyenv/versions/3.11.7/bin")),
            PathBuf::from("/root/.pyenv/versions/3.11.7")
        );
        assert_eq!(
            prefix_of_bin_dir(Path::new("/usr/bin")),
            PathBuf::from("/usr")
        );
        assert_eq!(prefix_of_bin_dir(Path::new("/bin")), PathBuf::from("/bin"));
        assert_eq!(
            prefix_of_bin_dir(Path::new("/opt/py")),
            PathBuf::from("/opt/py")
        );
    }
}
