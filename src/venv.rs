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
    let config = match std::fs::read_to_string(root.join("pyvenv.cfg")) {
        Ok(text) => text,
        Err(_) => {
            return Err(Error::VenvNotFound {
                path: root,
                origin: origin.describe().to_owned(),
                reason: "it has no `pyvenv.cfg`, so it is not a virtualenv".to_owned(),
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

/// `python3` found on PATH. pyenv puts a shell-script shim there; only Python itself knows
/// where the real interpreter is, so a script is asked once (on the host, as the user's
/// shell would run it).
fn from_path_lookup(found: &Path) -> Result<Interpreter> {
    let is_script = std::fs::read(found)
        .map(|bytes| bytes.starts_with(b"#!"))
        .unwrap_or(false);
    if !is_script {
        return from_executable(found, Origin::Path);
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
