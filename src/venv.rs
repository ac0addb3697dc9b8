//! Finding the Python to run (SPEC §3): a virtualenv and its base interpreter, or a plain
//! interpreter, and the host directories that must be visible (read-only) for it to start.
//!
//! A venv's `bin/python` is usually a symlink to a base interpreter somewhere else (pyenv,
//! uv-managed Pythons and Homebrew put it under the user's home, which the sandbox hides):
//! `home` in `pyvenv.cfg` names it. Every directory on the way from `bin/python` to the real
//! executable is collected so the same paths resolve inside the sandbox.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where the choice of interpreter came from, for errors and hints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Flag,
    PolicyVenv,
    PolicyInterpreter,
    VirtualEnvVariable,
    /// `$CONDA_PREFIX` naming an environment other than conda's base.
    CondaPrefix,
    /// `.venv` found by the upward search from the working directory.
    WorkdirDotVenv,
    /// `$CONDA_PREFIX` naming conda's base environment (after a project's `.venv`, as uv).
    CondaBase,
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
            Origin::CondaPrefix => "`$CONDA_PREFIX`",
            Origin::WorkdirDotVenv => "`.venv` found from the working directory",
            Origin::CondaBase => "`$CONDA_PREFIX`, conda's base environment",
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
    /// What the lookup skipped that the user should hear of (a relative PATH entry),
    /// printed by the command that resolved it.
    pub warnings: Vec<String>,
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
    /// `$CONDA_PREFIX` and whether it is conda's base environment ([`conda_is_base`]).
    pub conda_prefix: Option<(&'a Path, bool)>,
    /// The nearest `.venv` the upward search found ([`crate::settings::discovery`]).
    pub dot_venv: Option<&'a Path>,
    pub path_variable: Option<&'a std::ffi::OsStr>,
    /// The caller's home: no base prefix may contain it.
    pub home: Option<&'a Path>,
}

/// Resolves the interpreter: `--venv`, the policy, `$VIRTUAL_ENV`, `$CONDA_PREFIX` of an
/// environment other than conda's base, `.venv` found from the working directory,
/// `$CONDA_PREFIX` of conda's base, then `python3` on PATH (uv's order).
pub fn resolve(choice: &Choice) -> Result<Interpreter> {
    let mut interpreter = resolve_unchecked(choice)?;
    let venv = interpreter.venv.clone();
    if let Some(root) = &venv {
        let canonical = root.canonicalize().unwrap_or_else(|_| root.clone());
        if let Some(reason) = exposes_home(&canonical, choice.home) {
            return Err(Error::VenvBaseRefused {
                venv: root.clone(),
                prefix: canonical,
                reason,
            });
        }
    }
    let mut kept = Vec::new();
    for path in std::mem::take(&mut interpreter.read_only_paths) {
        if Some(&path) == venv.as_ref() {
            kept.push(path);
            continue;
        }
        match classify_prefix(&path, choice.home) {
            Prefix::Installation => kept.push(path),
            Prefix::NotAnInstallation => {}
            Prefix::Refused(reason) => {
                return Err(Error::VenvBaseRefused {
                    venv: venv
                        .clone()
                        .unwrap_or_else(|| interpreter.executable.clone()),
                    prefix: path,
                    reason,
                })
            }
        }
    }
    interpreter.read_only_paths = kept;
    Ok(interpreter)
}

/// What a directory named by `pyvenv.cfg`'s `home` or reached on the interpreter's symlink
/// chain is, as a base prefix to mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prefix {
    /// A Python installation: mounted read-only.
    Installation,
    /// Not an installation (a directory that merely holds a `python`, `~/.local`): not
    /// mounted.
    NotAnInstallation,
    /// An installation that would expose the caller's home or its credentials: the run is
    /// refused.
    Refused(String),
}

/// Directories under HOME that guard the user's accounts, as the mount gate has them,
/// and `~/.local/bin` (on PATH before the system's): no venv or base prefix mounted for the
/// interpreter may hold one.
fn home_guards() -> impl Iterator<Item = &'static str> {
    crate::host::HOME_CREDENTIALS
        .iter()
        .copied()
        .chain([".local/bin"])
}

/// Why mounting `path` (canonical) would expose the caller's home, if it would: `/`, HOME
/// or an ancestor of it, a directory holding one of [`home_guards`], or a protected
/// path.
fn exposes_home(path: &Path, home: Option<&Path>) -> Option<String> {
    if path == Path::new("/") {
        return Some("it is `/`".to_owned());
    }
    if let Some(home) = home {
        let homes: Vec<PathBuf> = std::iter::once(home.to_path_buf())
            .chain(home.canonicalize().ok())
            .collect();
        for home in &homes {
            if home.starts_with(path) {
                return Some(format!(
                    "it is your home directory `{}` or holds it",
                    home.display()
                ));
            }
            for credential in home_guards() {
                let guarded = home.join(credential);
                if guarded.starts_with(path) {
                    return Some(format!(
                        "it would expose `{}`, which guards your accounts",
                        guarded.display()
                    ));
                }
            }
        }
    }
    crate::host::PROTECTED_PATHS
        .iter()
        .find(|protected| path.starts_with(protected))
        .map(|protected| format!("it lies under `{protected}`, which boxpy never exposes"))
}

/// A base prefix is mounted only when it is a Python installation: `bin/pythonX.Y` and
/// `lib/pythonX.Y/os.py` (or `lib64/`, Fedora's) for the same `X.Y` (the layout of
/// pyenv's `versions/3.11.7`, uv's `cpython-3.12.x-…`, conda environments, Homebrew's
/// framework `Versions/3.12`, and Debian's `/usr`), judged on its canonical path. One that
/// is `/`, HOME or an ancestor of it, or holds a credential directory is refused.
///
/// Security: a sandboxed program can write `.venv/pyvenv.cfg` and `.venv/bin/python` in its
/// working directory; the next run that picks up that `.venv` must not mount
/// `home = ~/.local/bin` (which would expose `~/.local/share/keyrings`) nor `home = /root`.
/// The program cannot create a Python installation outside the working directory, and a
/// directory that merely contains `bin/python` (or `lib/python3.X/site-packages`, as
/// `~/.local` does) is not one.
pub fn classify_prefix(prefix: &Path, home: Option<&Path>) -> Prefix {
    let Ok(canonical) = prefix.canonicalize() else {
        return Prefix::NotAnInstallation;
    };
    let refusal = exposes_home(&canonical, home);
    if !is_installation(&canonical) {
        return Prefix::NotAnInstallation;
    }
    match refusal {
        Some(reason) => Prefix::Refused(reason),
        None => Prefix::Installation,
    }
}

/// `prefix/bin/pythonX.Y` (a file) and `prefix/lib/pythonX.Y/os.py` (or `lib64`).
fn is_installation(prefix: &Path) -> bool {
    ["lib", "lib64"].iter().any(|lib| {
        let Ok(entries) = std::fs::read_dir(prefix.join(lib)) else {
            return false;
        };
        entries.flatten().any(|entry| {
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                return false;
            };
            is_versioned_python(name)
                && entry.path().join("os.py").is_file()
                && prefix.join("bin").join(name).is_file()
        })
    })
}

/// `python3.11`, `python3.13t`, `python2.7`.
fn is_versioned_python(name: &str) -> bool {
    let Some(version) = name.strip_prefix("python") else {
        return false;
    };
    let version = version.strip_suffix('t').unwrap_or(version);
    let Some((major, minor)) = version.split_once('.') else {
        return false;
    };
    !major.is_empty()
        && !minor.is_empty()
        && major.chars().all(|c| c.is_ascii_digit())
        && minor.chars().all(|c| c.is_ascii_digit())
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
    let conda = choice
        .conda_prefix
        .filter(|(prefix, _)| !prefix.as_os_str().is_empty() && prefix.is_absolute());
    if let Some((prefix, false)) = conda {
        return from_venv(prefix, Origin::CondaPrefix);
    }
    if let Some(dot_venv) = choice.dot_venv {
        return from_venv(dot_venv, Origin::WorkdirDotVenv);
    }
    if let Some((prefix, true)) = conda {
        return from_venv(prefix, Origin::CondaBase);
    }
    let lookup = find_on_path("python3", choice.path_variable);
    let warnings: Vec<String> = match (&lookup.skipped, &lookup.found) {
        (Some(skipped), Some(_)) => vec![format!(
            "skipped `{}`: a relative PATH entry (`.` or an empty one) is never searched",
            skipped.display()
        )],
        _ => Vec::new(),
    };
    let Some(found) = lookup.found else {
        return Err(Error::InterpreterNotFound {
            path: PathBuf::from("python3"),
            detail: match &lookup.skipped {
                Some(skipped) => format!(
                    "no venv was given and there is no `python3` in an absolute PATH entry (`{}` was skipped: relative PATH entries are never searched)",
                    skipped.display()
                ),
                None => "no venv was given and there is no `python3` on PATH".to_owned(),
            },
            hint: Some(
                "pass `--venv DIR`, set `python.venv` in the policy, or install python3".to_owned(),
            ),
        });
    };
    let mut interpreter = from_path_lookup(&found, choice.path_variable)?;
    interpreter.warnings = warnings;
    Ok(interpreter)
}

/// The result of looking a program up on PATH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathLookup {
    /// The first match in an absolute PATH entry.
    pub found: Option<PathBuf>,
    /// A match in a relative entry (`.`, an empty entry, `bin`) before it, which was
    /// skipped.
    pub skipped: Option<PathBuf>,
}

/// Looks `name` up on PATH as Go's `exec.LookPath` does since Go 1.19 (`ErrDot`): relative
/// entries, including the empty one that means the current directory, are never
/// searched, so a program an earlier sandboxed run wrote into the working directory is
/// never picked up (and never run on the host).
pub fn find_on_path(name: &str, path_variable: Option<&std::ffi::OsStr>) -> PathLookup {
    let mut lookup = PathLookup {
        found: None,
        skipped: None,
    };
    let Some(path_variable) = path_variable else {
        return lookup;
    };
    for entry in std::env::split_paths(path_variable) {
        let candidate = if entry.as_os_str().is_empty() {
            PathBuf::from(".").join(name)
        } else {
            entry.join(name)
        };
        if !is_executable_file(&candidate) {
            continue;
        }
        if entry.is_absolute() {
            lookup.found = Some(candidate);
            break;
        }
        if lookup.skipped.is_none() {
            lookup.skipped = Some(candidate);
        }
    }
    lookup
}

fn is_executable_file(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
}

/// Reads `key = value` from pyvenv.cfg text.
pub fn pyvenv_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let (name, value) = line.split_once('=')?;
        (name.trim() == key).then(|| value.trim())
    })
}

/// Whether `venv` was made by uv (`uv = VERSION` in its `pyvenv.cfg`) without pip (`uv
/// venv` seeds none unless `--seed`): packages go in with `uv pip install --python VENV`,
/// and `VENV/bin/python -m pip` fails. Read only, bounded; for the missing-module hint.
pub fn made_by_uv_without_pip(venv: &Path) -> bool {
    let Ok(bytes) =
        crate::bounded::read(&venv.join("pyvenv.cfg"), crate::bounded::PYVENV_CFG_LIMIT)
    else {
        return false;
    };
    let config = String::from_utf8_lossy(&bytes);
    pyvenv_value(&config, "uv").is_some()
        && !["pip", "pip3"]
            .iter()
            .any(|pip| venv.join("bin").join(pip).symlink_metadata().is_ok())
}

/// The site-packages directories of a venv (`lib/python3.X/site-packages`, PyPy's
/// `lib/pypy3.X/site-packages`), sorted; none in an unusual venv ([`site_packages_bounded`]).
pub(crate) fn site_packages(venv: &Path) -> Vec<PathBuf> {
    site_packages_bounded(venv).unwrap_or_default()
}

/// At most this many entries of a venv's `lib/` are looked at: a real venv has one or two,
/// and a hostile one with 200,000 made every start take seconds.
const LIB_ENTRIES_LIMIT: usize = 64;

/// [`site_packages`], or None when `lib/` has more than [`LIB_ENTRIES_LIMIT`] entries
/// (boxpy cannot tell cheaply what the venv holds).
fn site_packages_bounded(venv: &Path) -> Option<Vec<PathBuf>> {
    let mut found = Vec::new();
    let entries = std::fs::read_dir(venv.join("lib"))
        .into_iter()
        .flatten()
        .flatten();
    for (index, entry) in entries.enumerate() {
        if index >= LIB_ENTRIES_LIMIT {
            return None;
        }
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("python") || name.starts_with("pypy") {
            let site = entry.path().join("site-packages");
            if site.is_dir() {
                found.push(site);
            }
        }
    }
    found.sort();
    Some(found)
}

/// The site-packages directory of `venv` that holds `marker` (a library's file, relative
/// to site-packages): how boxpy tells a library is installed, without running anything
/// (`crate::cache`'s libraries, the font users).
pub(crate) fn holding(venv: &Path, marker: &str) -> Option<PathBuf> {
    holding_in(site_packages(venv), marker)
}

/// Which of `sites` holds `marker` ([`holding`], for several markers in one listing).
fn holding_in(sites: impl IntoIterator<Item = PathBuf>, marker: &str) -> Option<PathBuf> {
    sites.into_iter().find(|site| site.join(marker).is_file())
}

/// Libraries that read the host's font configuration (`/etc/fonts`, fontconfig's cache),
/// by a file of each in site-packages: matplotlib (its font list runs `fc-list`; every
/// library of `crate::cache`'s table whose cache depends on fonts is here, a unit test
/// checks), fontconfig users (Qt, cairo, Pango, Kivy, SDL_ttf, wxWidgets, libvips, pyglet)
/// and wrappers of host programs that lay out text with it (Graphviz's `dot`, ImageMagick,
/// Poppler's `pdftoppm`, wkhtmltopdf, Chromium for Plotly's image export and browser
/// automation, ffmpeg for moviepy).
pub(crate) const FONTCONFIG_USERS: &[&str] = &[
    "matplotlib/__init__.py",
    "PyQt5/__init__.py",
    "PyQt6/__init__.py",
    "PySide2/__init__.py",
    "PySide6/__init__.py",
    "cairo/__init__.py",
    "cairocffi/__init__.py",
    "weasyprint/__init__.py",
    "manimpango/__init__.py",
    "kivy/__init__.py",
    "pygame/__init__.py",
    "wx/__init__.py",
    "graphviz/__init__.py",
    "pydot/__init__.py",
    "pygraphviz/__init__.py",
    "wand/__init__.py",
    "kaleido/__init__.py",
    "gi/__init__.py",
    "vl_convert/__init__.py",
    "playwright/__init__.py",
    "selenium/__init__.py",
    "pyppeteer/__init__.py",
    "html2image/__init__.py",
    "pdf2image/__init__.py",
    "pdfkit/__init__.py",
    "imgkit/__init__.py",
    "pyvips/__init__.py",
    "pyglet/__init__.py",
    "moviepy/__init__.py",
];

/// Whether a run of `venv` needs the host's font configuration: one of
/// [`FONTCONFIG_USERS`] is installed, or the venv also sees the system's packages (`include-system-site-packages`), which boxpy
/// does not look through. Without it, `/etc/fonts` and fontconfig's cache stay out of
/// the sandbox (two mounts fewer at every start; `--ro /etc/fonts` shows them).
pub(crate) fn uses_fonts(venv: &Path) -> bool {
    let system_packages =
        crate::bounded::read(&venv.join("pyvenv.cfg"), crate::bounded::PYVENV_CFG_LIMIT).is_ok_and(
            |bytes| {
                pyvenv_value(
                    &String::from_utf8_lossy(&bytes),
                    "include-system-site-packages",
                )
                .is_some_and(|value| value.eq_ignore_ascii_case("true"))
            },
        );
    if system_packages {
        return true;
    }
    let Some(sites) = site_packages_bounded(venv) else {
        return true;
    };
    FONTCONFIG_USERS
        .iter()
        .any(|marker| holding_in(sites.iter().cloned(), marker).is_some())
}

pub use crate::host::prefix_of_bin_dir;

/// Whether `$CONDA_PREFIX` is conda's base environment: `$CONDA_DEFAULT_ENV` says `base`
/// (or `root`, older condas), or the prefix is an installation's root (it holds `condabin/`
/// or `envs/`, which environments under `envs/` never do).
pub fn conda_is_base(prefix: &Path, default_env: Option<&std::ffi::OsStr>) -> bool {
    if let Some(name) = default_env {
        if name == "base" || name == "root" {
            return true;
        }
    }
    prefix.join("condabin").is_dir() || prefix.join("envs").is_dir()
}

/// A venv (`pyvenv.cfg`) or a conda environment (`conda-meta/`) at `venv`. A symlinked
/// venv is used at its resolved path (bwrap mounts it once, at the path Python sees).
fn from_venv(venv: &Path, origin: Origin) -> Result<Interpreter> {
    let given = absolute(venv);
    let unusable = |path: &Path, reason: String| Error::VenvNotFound {
        path: path.to_path_buf(),
        origin: origin.describe().to_owned(),
        reason,
        exists: true,
    };
    match std::fs::metadata(&given) {
        Err(_) if given.symlink_metadata().is_ok() => {
            return Err(unusable(
                &given,
                "it is a symbolic link to something that does not exist".to_owned(),
            ))
        }
        Err(_) => {
            return Err(Error::VenvNotFound {
                path: given,
                origin: origin.describe().to_owned(),
                reason: "no such directory".to_owned(),
                exists: false,
            })
        }
        Ok(metadata) if !metadata.is_dir() => {
            return Err(unusable(
                &given,
                "it is a file, not a directory: name the venv's directory (the one holding `pyvenv.cfg`), or a Python executable with `python.interpreter`".to_owned(),
            ))
        }
        Ok(_) => {}
    }
    let root = given.canonicalize().unwrap_or(given);
    if !root.join("pyvenv.cfg").exists() && root.join("conda-meta").is_dir() {
        return from_conda(&root, origin);
    }
    // Bounded, and only a regular file: a planted venv's `pyvenv.cfg` may be a FIFO or
    // a link to `/dev/zero`.
    let config = match crate::bounded::read(
        &root.join("pyvenv.cfg"),
        crate::bounded::PYVENV_CFG_LIMIT,
    ) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(error) if error.is_not_found() => {
            return Err(unusable(
                &root,
                "the directory exists but holds neither `pyvenv.cfg` (a virtualenv) nor `conda-meta/` (a conda environment)".to_owned(),
            ))
        }
        Err(source) => {
            return Err(Error::VenvConfigUnreadable {
                venv: root,
                origin: origin.describe().to_owned(),
                source,
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
        warnings: Vec::new(),
    })
}

/// A conda environment: a whole Python installation (`bin/python`, `lib/pythonX.Y`), no
/// `pyvenv.cfg`; mounted read-only as the venv is.
fn from_conda(root: &Path, origin: Origin) -> Result<Interpreter> {
    let executable = ["python", "python3"]
        .iter()
        .map(|name| root.join("bin").join(name))
        .find(|candidate| candidate.symlink_metadata().is_ok())
        .ok_or_else(|| Error::InterpreterNotFound {
            path: root.join("bin/python"),
            detail: "the conda environment has no `bin/python` (install Python into it, or name an interpreter with `python.interpreter`)".to_owned(),
            hint: Some(format!("`conda install -p {} python`", root.display())),
        })?;
    let mut read_only_paths = vec![root.to_path_buf()];
    check_executable(&executable, &mut read_only_paths, Some(root))?;
    let version = std::fs::read_dir(root.join("lib"))
        .ok()
        .and_then(|entries| {
            entries.flatten().find_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                (is_versioned_python(&name) && entry.path().join("os.py").is_file())
                    .then(|| name.trim_start_matches("python").to_owned())
            })
        });
    Ok(Interpreter {
        venv: Some(root.to_path_buf()),
        executable,
        read_only_paths,
        version,
        origin,
        warnings: Vec::new(),
    })
}

/// Whether `venv` is a conda environment (`conda-meta/`, no `pyvenv.cfg`): packages go in
/// with `conda install -p VENV`. For the missing-module hint.
pub fn is_conda_environment(venv: &Path) -> bool {
    venv.join("conda-meta").is_dir() && !venv.join("pyvenv.cfg").exists()
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
        warnings: Vec::new(),
    })
}

/// `python3` found on PATH. pyenv puts a shell-script shim there; it is resolved the way
/// pyenv does, from files ([`pyenv_shim_target`]), never run: finding the interpreter
/// never runs a program outside the sandbox. Any other script is refused with a hint.
fn from_path_lookup(found: &Path, path_variable: Option<&std::ffi::OsStr>) -> Result<Interpreter> {
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
    let shim = String::from_utf8_lossy(&head);
    if let Some(real) = pyenv_shim_target(
        &shim,
        std::env::var_os("PYENV_VERSION").as_deref(),
        std::env::var_os("PYENV_DIR").is_some(),
        &cwd,
        path_variable,
    ) {
        return from_executable(&real, Origin::Path);
    }
    Err(Error::InterpreterNotFound {
        path: found.to_path_buf(),
        detail: if pyenv_root(&shim).is_some() {
            "`python3` on PATH is a pyenv shim whose version boxpy cannot resolve from pyenv's files (no installed version named by `PYENV_VERSION`, `.python-version` or pyenv's `version` file), and boxpy never runs it outside the sandbox".to_owned()
        } else {
            "`python3` on PATH is a script, and boxpy never runs a program outside the sandbox to find the interpreter".to_owned()
        },
        hint: Some(
            "pass `--venv DIR`, set `python.interpreter` in the policy, or (pyenv) set `PYENV_VERSION` to an installed version".to_owned(),
        ),
    })
}

/// The `PYENV_ROOT` a pyenv shim names, when `shim` is pyenv's shim.
fn pyenv_root(shim: &str) -> Option<PathBuf> {
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
    (shim.lines().any(|line| line.trim().starts_with(&exec_line)) && root.is_absolute())
        .then_some(root)
}

/// The interpreter a pyenv shim (`shim`'s text) would run, read from pyenv's files as
/// pyenv reads them: the shim names its `PYENV_ROOT`; the versions are `PYENV_VERSION`
/// (`:`-separated), else the first `.python-version` from `cwd` upwards, else
/// `$PYENV_ROOT/version` (one version a line); the first of them that provides `python3`
/// wins: `system` is the first `python3` in an absolute PATH entry outside pyenv's shims, a
/// plain version is `versions/VERSION/bin/python3`. `None` when pyenv would resolve it in
/// a way of its own (a prefix such as `3.11`, `PYENV_DIR`, nothing installed).
fn pyenv_shim_target(
    shim: &str,
    pyenv_version: Option<&std::ffi::OsStr>,
    pyenv_dir_set: bool,
    cwd: &Path,
    path_variable: Option<&std::ffi::OsStr>,
) -> Option<PathBuf> {
    let root = pyenv_root(shim)?;
    let versions: Vec<String> = match pyenv_version.filter(|version| !version.is_empty()) {
        Some(version) => version
            .to_str()?
            .split(':')
            .map(|version| version.trim().to_owned())
            .collect(),
        None if pyenv_dir_set => return None,
        None => {
            let file = cwd
                .ancestors()
                .map(|dir| dir.join(".python-version"))
                .find(|file| file.is_file())
                .unwrap_or_else(|| root.join("version"));
            version_file_entries(&crate::bounded::read_to_string(&file, 4096).ok()?)
        }
    };
    let shims = root.join("shims");
    versions.iter().find_map(|version| {
        if version == "system" {
            let without_shims: Vec<PathBuf> = std::env::split_paths(path_variable?)
                .filter(|dir| dir.is_absolute() && *dir != shims)
                .collect();
            let joined = std::env::join_paths(without_shims).ok()?;
            return find_on_path("python3", Some(&joined)).found;
        }
        let plain = !version.is_empty()
            && version != ".."
            && version != "."
            && !version.contains(['/', ':'])
            && !version.contains(char::is_whitespace);
        if !plain {
            return None;
        }
        let python = root.join("versions").join(version).join("bin/python3");
        python.exists().then_some(python)
    })
}

fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (a.metadata(), b.metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// The versions a pyenv version file names (first word of each line, blank lines and
/// `#` comments skipped, as pyenv reads it).
fn version_file_entries(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|word| !word.starts_with('#'))
        .map(str::to_owned)
        .collect()
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

    /// conda's base environment: `CONDA_DEFAULT_ENV=base` (or `root`), or an installation
    /// root (`condabin/`, `envs/`); an environment under `envs/` is not.
    #[test]
    fn conda_base_is_told_from_other_environments() {
        let temp = tempfile::tempdir().expect("tempdir");
        let root = temp.path().join("miniconda3");
        let env = root.join("envs/ml");
        std::fs::create_dir_all(root.join("condabin")).unwrap();
        std::fs::create_dir_all(&env).unwrap();
        assert!(conda_is_base(&root, None));
        assert!(!conda_is_base(&env, None));
        assert!(!conda_is_base(&env, Some(std::ffi::OsStr::new("ml"))));
        assert!(conda_is_base(&env, Some(std::ffi::OsStr::new("base"))));
        assert!(conda_is_base(&env, Some(std::ffi::OsStr::new("root"))));
    }

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
            pyenv_shim_target(&shim, version.map(std::ffi::OsStr::new), dir_set, cwd, None)
        };

        // No version anywhere: pyenv would use `system`, which needs a PATH.
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
        // Several versions: the first that provides python3, as pyenv picks.
        assert_eq!(
            resolve(Some("3.12.1:3.11.7"), false, &deep),
            Some(python.clone())
        );
        std::fs::write(project.join(".python-version"), "3.12.1\n3.11.7\n").unwrap();
        assert_eq!(resolve(None, false, &deep), Some(python.clone()));

        // `system`: the first python3 in an absolute PATH entry outside the shims.
        let system = temp.path().join("system-bin");
        std::fs::create_dir_all(&system).unwrap();
        let system_python = system.join("python3");
        std::fs::write(&system_python, "").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&system_python, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir_all(root.join("shims")).unwrap();
        std::fs::write(root.join("shims/python3"), &shim).unwrap();
        std::fs::set_permissions(
            root.join("shims/python3"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        let path = std::env::join_paths([root.join("shims"), PathBuf::from("."), system]).unwrap();
        assert_eq!(
            pyenv_shim_target(
                &shim,
                Some(std::ffi::OsStr::new("system")),
                false,
                &deep,
                Some(&path)
            ),
            Some(system_python)
        );

        // Anything pyenv would resolve in a way of its own: refused, never run.
        for version in ["system", "3.11", "../3.11.7", "3.11.7 3.12.1"] {
            assert_eq!(resolve(Some(version), false, &deep), None, "{version:?}");
        }
        std::fs::write(project.join(".python-version"), "3.11.7\n").unwrap();
        assert_eq!(
            resolve(None, true, &deep),
            None,
            "PYENV_DIR moves the search"
        );
        // Not pyenv's shim (another version manager, a wrapper script).
        let other = "#!/bin/sh\nexec /usr/bin/python3 \"$@\"\n";
        assert_eq!(
            pyenv_shim_target(
                other,
                Some(std::ffi::OsStr::new("3.11.7")),
                false,
                &deep,
                None
            ),
            None
        );
        // A shim that names one root but execs another's pyenv.
        let mixed = shim.replace(
            &format!("exec \"{}/libexec", root.display()),
            "exec \"/elsewhere/libexec",
        );
        assert_eq!(
            pyenv_shim_target(
                &mixed,
                Some(std::ffi::OsStr::new("3.11.7")),
                false,
                &deep,
                None
            ),
            None
        );
    }

    #[test]
    fn relative_path_entries_are_never_searched() {
        use std::os::unix::fs::PermissionsExt;
        let temp = tempfile::tempdir().expect("tempdir");
        let absolute = temp.path().join("bin");
        std::fs::create_dir_all(&absolute).unwrap();
        let program = absolute.join("python3");
        std::fs::write(&program, "").unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        // The same directory named relative to the current one: `../../tmp/.../bin`.
        let cwd = std::env::current_dir().unwrap();
        let mut relative = PathBuf::new();
        for _ in cwd.ancestors().skip(1) {
            relative.push("..");
        }
        relative.push(absolute.strip_prefix("/").unwrap());
        assert!(relative.join("python3").is_file(), "{}", relative.display());
        // `.`, an empty entry and a relative path are skipped even when they hold a
        // `python3`; the absolute entry is found, and the skipped match is reported.
        let path = std::env::join_paths([
            PathBuf::from("."),
            PathBuf::new(),
            relative.clone(),
            absolute.clone(),
        ])
        .unwrap();
        let lookup = find_on_path("python3", Some(&path));
        assert_eq!(lookup.found, Some(absolute.join("python3")));
        assert_eq!(lookup.skipped, Some(relative.join("python3")));
        let only_relative =
            std::env::join_paths([PathBuf::from("."), PathBuf::new(), relative]).unwrap();
        assert_eq!(find_on_path("python3", Some(&only_relative)).found, None);
    }

    #[test]
    fn base_prefixes_are_mounted_by_what_they_are() {
        use std::os::unix::fs::PermissionsExt;
        let temp = tempfile::tempdir().expect("tempdir");
        let root = temp.path().canonicalize().unwrap();
        let home = root.join("home/user");
        let make = |prefix: &Path, version: &str, os_py: bool, lib: &str| {
            std::fs::create_dir_all(prefix.join("bin")).unwrap();
            std::fs::create_dir_all(prefix.join(lib).join(version)).unwrap();
            let python = prefix.join("bin").join(version);
            std::fs::write(&python, "").unwrap();
            std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
            if os_py {
                std::fs::write(prefix.join(lib).join(version).join("os.py"), "").unwrap();
            }
        };
        // pyenv, uv, conda, a free-threaded build, Fedora's lib64: installations.
        let pyenv = home.join(".pyenv/versions/3.11.7");
        make(&pyenv, "python3.11", true, "lib");
        let uv = home.join(".local/share/uv/python/cpython-3.12.4-linux-x86_64-gnu");
        make(&uv, "python3.12", true, "lib");
        let conda = root.join("opt/conda/envs/data");
        make(&conda, "python3.10", true, "lib");
        let threaded = root.join("opt/py313t");
        make(&threaded, "python3.13t", true, "lib");
        let fedora = root.join("fedora/usr");
        make(&fedora, "python3.12", true, "lib64");
        for prefix in [&pyenv, &uv, &conda, &threaded, &fedora] {
            assert_eq!(
                classify_prefix(prefix, Some(&home)),
                Prefix::Installation,
                "{}",
                prefix.display()
            );
        }
        // `~/.local` with `pip install --user`'s site-packages (the planted-venv attack):
        // not an installation. A directory with only `bin/python`: not one either.
        let local = home.join(".local");
        std::fs::create_dir_all(local.join("lib/python3.11/site-packages")).unwrap();
        std::fs::create_dir_all(local.join("bin")).unwrap();
        std::fs::write(local.join("bin/python3.11"), "").unwrap();
        let bare = root.join("bare");
        std::fs::create_dir_all(bare.join("bin")).unwrap();
        std::fs::write(bare.join("bin/python"), "").unwrap();
        for prefix in [&local, &bare, &root.join("missing")] {
            assert_eq!(
                classify_prefix(prefix, Some(&home)),
                Prefix::NotAnInstallation,
                "{}",
                prefix.display()
            );
        }
        // An installation at HOME, at `~/.local` (it holds `~/.local/share/keyrings`) or
        // holding HOME: refused.
        make(&local, "python3.11", true, "lib");
        make(&home, "python3.11", true, "lib");
        for prefix in [&local, &home] {
            assert!(
                matches!(classify_prefix(prefix, Some(&home)), Prefix::Refused(_)),
                "{}",
                prefix.display()
            );
        }
        // Through a symlink: judged by where it leads.
        let link = root.join("link-to-home");
        std::os::unix::fs::symlink(&home, &link).unwrap();
        assert!(matches!(
            classify_prefix(&link, Some(&home)),
            Prefix::Refused(_)
        ));
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
