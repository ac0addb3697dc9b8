//! The one gate every host path the sandbox shows passes through: the workdir, the
//! policy's and the flags' mounts, the interpreter's directories, anything nbexec or a
//! later feature adds. Both renderers call [`check`] (Linux through `settings`, on paths
//! resolved on the host; macOS on the resolved paths of its facts), so a rule written here
//! holds for every route into the sandbox.
//!
//! The rules, each with the attack it answers:
//! - **`/` and the sandbox's own trees** (`/proc`, `/dev`, `/sys` as a destination) are
//!   never mounted.
//! - **Protected host paths** ([`crate::host::PROTECTED_PATHS`]: shadow files, SSH host
//!   keys, sudoers, `/run` sockets) are never shown, whatever the route.
//! - **System directories are never writable** ([`SYSTEM_DIRECTORIES`]): as root, `--rw
//!   /etc` let the program rewrite the host's `/etc`. Below `/var`, a directory at least two
//!   levels down (`/var/lib/app/data`) may be writable; `/var` and its first level not.
//! - **The home directory and what guards the user's accounts** ([`HOME_CREDENTIALS`],
//!   [`HOME_RUNS_CODE`]) are
//!   never the workdir nor writable: `cd ~ && boxpy run x.py` handed the program `~/.ssh`
//!   and a writable `~/.bashrc` (run by the next interactive shell). The rule covers the
//!   home itself, its ancestors (`/home`), every guard below it and every directory that
//!   contains a guard (`~/.local` holds `~/.local/bin`). Read-only, the home and the
//!   credentials need the user's own word (a flag, or a trusted policy) and print a notice
//!   on every run; a repository's policy cannot ask for them. Code the user runs later
//!   (`~/.pyenv`, `~/.local/bin`) is readable.
//! - **Protected names are never writable**: a writable path may not be or lie inside
//!   `.git`, `.vscode`, ... (`-w .git` handed git's hooks and config to the program).
//!
//! What is checked is the resolved path: a symlink planted in a writable place is
//! refused separately, by the caller, before the path is resolved (see
//! `settings::resolve_mount_source`).

use std::path::{Path, PathBuf};

/// What a path is mounted as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The read-write working directory.
    Workdir,
    /// A read-write mount (`--rw`, `filesystem.read_write`).
    ReadWrite,
    /// A read-only mount (`--ro`, `filesystem.read_only`, the interpreter, a script).
    ReadOnly,
}

impl Role {
    fn writable(self) -> bool {
        matches!(self, Role::Workdir | Role::ReadWrite)
    }
}

/// One path asking to be shown in the sandbox.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The host path, resolved (no symlink, no `..`).
    pub source: &'a Path,
    /// Where it appears inside (the same as `source` unless `SRC:DEST`).
    pub dest: &'a Path,
    pub role: Role,
    /// The user asked for it themselves: a flag, or a policy they wrote or trusted (not a
    /// policy found in a repository).
    pub users_word: bool,
    /// The names host tools run or obey (`sandbox::protect`, `filesystem.protect`): a
    /// writable path may not be one of them nor lie inside one (`--rw .git`, `-w .git`
    /// would hand git's hooks and config to the program).
    pub protected_names: &'a [String],
}

/// Why a path was refused, and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: String,
    pub hint: String,
}

/// What the gate admitted, with a notice for the user when it needs one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Admission {
    /// Printed on every run (a read-only mount of the home or a directory guarding it).
    pub notice: Option<String>,
}

/// Directories no route may make writable, nor any path inside them.
pub const SYSTEM_DIRECTORIES: &[&str] = &[
    "/etc",
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/boot",
    "/proc",
    "/sys",
    "/dev",
    "/run",
    "/snap",
    "/nix",
    // macOS
    "/System",
    "/Library",
    "/Applications",
    "/private/etc",
    "/private/var/db",
    "/opt/homebrew",
];

/// Directories that may not be writable themselves, though a directory far enough below
/// them may: `/var/lib/app/data` yes, `/var` or `/var/lib` no; `/home` no, `/home/me/x` yes
/// (unless it is a home or guards one, see [`HOME_CREDENTIALS`]).
const SHARED_ROOTS: &[&str] = &["/var", "/home", "/Users", "/tmp", "/private/var", "/opt"];

pub use crate::host::HOME_CREDENTIALS;

/// Paths below the home directory whose contents run as the user later: what shells and
/// desktop sessions execute at login, user-installed programs (`~/.local/bin` is on PATH
/// before `/usr/bin`) and libraries (`~/.local/lib/pythonX.Y/site-packages` and its `.pth`
/// files run in every Python), the interpreters boxpy and the user's tools run (pyenv, uv,
/// rustup, nvm), startup files of Python, IPython and Jupyter, and boxpy's own trust store
/// (`~/.local/state/boxpy`). Never writable; readable (a venv's base interpreter often
/// lives here).
pub const HOME_RUNS_CODE: &[&str] = &[
    ".local/bin",
    ".local/lib",
    // What venvs and their base interpreters need below the guards above: uv's, PDM's and
    // mise's interpreters, pipenv's, pipx's, Hatch's and Poetry's virtualenvs.
    ".local/share/uv",
    ".local/share/pdm/python",
    ".local/share/mise/installs",
    ".local/share/virtualenvs",
    ".local/share/pipx/venvs",
    ".local/share/hatch/env",
    ".cache/pypoetry/virtualenvs",
    ".local/share/systemd",
    ".local/state",
    // boxpy's library caches (`crate::cache`): every later run of a venv reads them, so
    // no run may write them.
    LIBRARY_CACHES,
    ".pyenv",
    ".rustup",
    ".cargo",
    ".nvm",
    ".ipython",
    ".jupyter",
    ".pythonrc",
    ".pdbrc",
    ".gitconfig",
    ".bashrc",
    ".bash_profile",
    ".bash_login",
    ".bash_logout",
    ".profile",
    ".zshrc",
    ".zshenv",
    ".zprofile",
    ".zlogin",
    ".cshrc",
    ".tcshrc",
    ".login",
    ".xprofile",
    ".xsession",
    ".xinitrc",
    ".bashrc.d",
    ".zshrc.d",
    ".oh-my-zsh",
    ".inputrc",
    ".tmux.conf",
    ".vimrc",
    ".vim",
    ".emacs",
    ".emacs.d",
    "bin",
];

/// boxpy's library caches below the home (`crate::cache`), in [`HOME_RUNS_CODE`]: read by
/// every later run, so never writable.
pub const LIBRARY_CACHES: &str = ".cache/boxpy";

/// How a refusal says what `guard` (a [`HOME_RUNS_CODE`] entry) is for.
fn runs_later(guard: &Path) -> String {
    if guard == Path::new(LIBRARY_CACHES) {
        format!("`~/{}`, boxpy's library caches", guard.display())
    } else {
        format!("`~/{}`, which runs as you later", guard.display())
    }
}

/// Checks one path against every rule. Pure: `home` is the caller's home, resolved.
pub fn check(request: Request, home: Option<&Path>) -> Result<Admission, Refusal> {
    let Request {
        source,
        dest,
        role,
        users_word,
        protected_names,
    } = request;
    if source == Path::new("/") || dest == Path::new("/") {
        return Err(Refusal {
            reason: "mounting `/` would expose the whole host".to_owned(),
            hint: "mount the specific files or directories the program needs instead".to_owned(),
        });
    }
    for managed in ["/proc", "/dev", "/sys"] {
        if dest.starts_with(managed) {
            return Err(Refusal {
                reason: format!("`{managed}` is managed by the sandbox"),
                hint: "mount the files the program needs somewhere else".to_owned(),
            });
        }
    }
    for protected in crate::host::PROTECTED_PATHS {
        if source.starts_with(protected) || dest.starts_with(protected) {
            return Err(Refusal {
                reason: format!("boxpy never exposes `{protected}`"),
                hint: "mount the specific files the program needs instead".to_owned(),
            });
        }
    }
    if role.writable() {
        let system = SYSTEM_DIRECTORIES
            .iter()
            .find(|directory| source.starts_with(directory) || dest.starts_with(directory));
        if let Some(directory) = system {
            return Err(Refusal {
                reason: format!(
                    "`{directory}` is a system directory: nothing in it can be writable in the sandbox"
                ),
                hint: writable_hint(role),
            });
        }
        let shared = |path: &Path| {
            SHARED_ROOTS.iter().any(|root| {
                path.strip_prefix(root).is_ok_and(|rest| {
                    rest.components().count() < if *root == "/var" { 2 } else { 1 }
                })
            })
        };
        if shared(source) || shared(dest) {
            return Err(Refusal {
                reason: format!(
                    "`{}` is shared by the whole system or its users: it cannot be writable in the sandbox",
                    source.display()
                ),
                hint: writable_hint(role),
            });
        }
    }
    let admission = home_verdict(source, role, users_word, home)?;
    if role.writable() {
        let protected = source
            .components()
            .chain(dest.components())
            .find_map(|part| {
                let part = part.as_os_str().to_str()?;
                protected_names.iter().find(|name| *name == part)
            });
        if let Some(name) = protected {
            return Err(Refusal {
                reason: format!(
                    "`{}` is or lies inside `{name}`, which host tools run or obey after the run: it cannot be writable",
                    source.display()
                ),
                hint: format!(
                    "mount the directory above it instead (`{name}` stays read-only there), or take `{name}` out of `filesystem.protect` in a policy of your own"
                ),
            });
        }
    }
    Ok(admission)
}

/// Whether `path` is the home directory, above it, or a place guarding the user's
/// accounts: a hint built from a program's words never suggests mounting such a path.
pub fn guards_the_home(path: &Path, home: Option<&Path>) -> bool {
    home.is_some_and(|home| home != Path::new("/") && home_relation(path, home).is_some())
}

/// The home directory's rules for `source` (see [`check`]).
fn home_verdict(
    source: &Path,
    role: Role,
    users_word: bool,
    home: Option<&Path>,
) -> Result<Admission, Refusal> {
    let Some(home) = home else {
        return Ok(Admission::default());
    };
    if home == Path::new("/") {
        return Ok(Admission::default());
    }
    let Some((relation, readable)) = home_relation(source, home) else {
        return Ok(Admission::default());
    };
    if role.writable() {
        return Err(Refusal {
            reason: format!(
                "`{}` {relation}: a program that can write it {}",
                source.display(),
                if relation.contains(LIBRARY_CACHES) {
                    "decides what later runs read"
                } else {
                    "runs code as you outside the sandbox"
                }
            ),
            hint: match role {
                Role::Workdir => format!(
                    "run boxpy from a project directory (`cd ~/projects/NAME`), or give the program a fresh one: `-w {}/boxpy-work --mkdir`",
                    home.display()
                ),
                Role::ReadWrite | Role::ReadOnly => {
                    "mount a project directory below it instead (`--rw ~/projects/NAME/out`)"
                        .to_owned()
                }
            },
        });
    }
    if readable {
        return Ok(Admission::default());
    }
    if users_word {
        return Ok(Admission {
            notice: Some(format!(
                "`{}` {relation}; it is readable in the sandbox because you asked for it",
                source.display()
            )),
        });
    }
    Err(Refusal {
        reason: format!(
            "`{}` {relation}; a policy found in the project cannot show it to the program",
            source.display()
        ),
        hint: format!(
            "pass `--ro {}` yourself, or trust the policy with `boxpy policy trust`",
            source.display()
        ),
    })
}

/// How `path` relates to the home directory, when it matters, and whether reading it is
/// harmless (code the user runs, not credentials): the home itself, an ancestor of it, a
/// guard (or inside one), or a directory holding a guard.
fn home_relation(path: &Path, home: &Path) -> Option<(String, bool)> {
    if path == home {
        return Some(("is your home directory".to_owned(), false));
    }
    if home.starts_with(path) {
        return Some(("contains your home directory".to_owned(), false));
    }
    let relative = path.strip_prefix(home).ok()?;
    let guards = || {
        HOME_CREDENTIALS
            .iter()
            .map(|guard| (Path::new(*guard), false))
            .chain(HOME_RUNS_CODE.iter().map(|guard| (Path::new(*guard), true)))
    };
    // A credential below `path` (not `path` itself) makes it a holder of credentials.
    let credential_below = HOME_CREDENTIALS
        .iter()
        .map(Path::new)
        .find(|guard| guard.starts_with(relative) && *guard != relative);
    let holds_credentials = |guard: &Path| {
        (
            format!(
                "contains `~/{}`, which holds your credentials",
                guard.display()
            ),
            false,
        )
    };
    // Inside a guard: the deepest one that holds `path` decides.
    let deepest = guards()
        .filter(|(guard, _)| relative.starts_with(guard))
        .max_by_key(|(guard, _)| guard.components().count());
    if let Some((guard, readable)) = deepest {
        if !readable {
            return Some((
                format!(
                    "is your `~/{}`, which holds your credentials",
                    guard.display()
                ),
                false,
            ));
        }
        if let Some(credential) = credential_below {
            return Some(holds_credentials(credential));
        }
        return Some((format!("is your {}", runs_later(guard)), true));
    }
    if let Some(credential) = credential_below {
        return Some(holds_credentials(credential));
    }
    guards()
        .find(|(guard, _)| guard.starts_with(relative))
        .map(|(guard, _)| (format!("contains {}", runs_later(guard)), true))
}

fn writable_hint(role: Role) -> String {
    match role {
        Role::Workdir => "run boxpy from a project directory, or pass one with `-w DIR`".to_owned(),
        Role::ReadWrite | Role::ReadOnly => {
            "mount it read-only (`--ro PATH`), or a directory of your own read-write".to_owned()
        }
    }
}

/// The resolved home, for [`check`].
pub fn resolved_home(home: Option<&Path>) -> Option<PathBuf> {
    let home = home?;
    Some(home.canonicalize().unwrap_or_else(|_| home.to_path_buf()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn protected() -> Vec<String> {
        crate::sandbox::protect::PROTECTED_NAMES
            .iter()
            .map(|name| (*name).to_owned())
            .collect()
    }

    fn verdict(source: &str, role: Role, users_word: bool) -> Result<Admission, Refusal> {
        let path = Path::new(source);
        check(
            Request {
                source: path,
                dest: path,
                role,
                users_word,
                protected_names: &protected(),
            },
            Some(Path::new("/home/user")),
        )
    }

    #[test]
    fn boxpys_library_caches_are_readable_and_never_writable() {
        for role in [Role::ReadWrite, Role::Workdir] {
            for path in ["/home/user/.cache/boxpy", "/home/user/.cache/boxpy/venvs/x"] {
                let refusal = verdict(path, role, true).unwrap_err();
                assert!(
                    refusal.reason.contains("boxpy's library caches")
                        && refusal.reason.contains("decides what later runs read"),
                    "{path}: {}",
                    refusal.reason
                );
            }
        }
        let read = verdict(
            "/home/user/.cache/boxpy/venvs/x/matplotlib-k/fontlist-v390.json",
            Role::ReadOnly,
            false,
        )
        .unwrap();
        assert_eq!(read.notice, None, "read without a notice, as the venv is");
    }

    #[test]
    fn protected_names_are_never_writable() {
        for path in [
            "/srv/repo/.git",
            "/srv/repo/.git/hooks",
            "/srv/repo/.vscode",
        ] {
            for role in [Role::Workdir, Role::ReadWrite] {
                assert!(verdict(path, role, true).is_err(), "{path}");
            }
            assert!(verdict(path, Role::ReadOnly, false).is_ok(), "{path}");
        }
        assert!(verdict("/srv/repo/.venv", Role::ReadWrite, true).is_err());
        assert!(verdict("/srv/repo/.github", Role::ReadWrite, true).is_ok());
    }

    #[test]
    fn code_the_user_runs_is_readable_but_never_writable() {
        for path in [
            "/home/user/.pyenv/versions/3.11.7",
            "/home/user/.local/share/uv/python/cpython-3.12",
            "/home/user/.local/state/boxpy",
            "/home/user/.local/lib/python3.11",
        ] {
            assert!(
                verdict(path, Role::ReadOnly, false)
                    .unwrap()
                    .notice
                    .is_none(),
                "{path}"
            );
            assert!(verdict(path, Role::ReadWrite, true).is_err(), "{path}");
        }
        // `~/.local` and `~/.local/share` hold the keyrings: the user's word.
        assert!(verdict("/home/user/.local", Role::ReadOnly, false).is_err());
        assert!(verdict("/home/user/.local/share", Role::ReadOnly, false).is_err());
    }

    #[test]
    fn system_directories_are_never_writable() {
        for path in [
            "/etc",
            "/etc/apt",
            "/usr",
            "/usr/local",
            "/boot",
            "/run/user/1000",
            "/var",
            "/var/lib",
            "/home",
            "/tmp",
            "/",
        ] {
            for role in [Role::Workdir, Role::ReadWrite] {
                assert!(verdict(path, role, true).is_err(), "{path} {role:?}");
            }
        }
        assert!(verdict("/var/lib/app", Role::ReadWrite, true).is_ok());
        assert!(verdict("/tmp/project", Role::Workdir, true).is_ok());
        assert!(verdict("/etc", Role::ReadOnly, true).is_ok());
        assert!(verdict("/usr/share/data", Role::ReadOnly, false).is_ok());
    }

    #[test]
    fn home_and_its_guards_are_never_writable() {
        for path in [
            "/home/user",
            "/home/user/.ssh",
            "/home/user/.config",
            "/home/user/.config/git",
            "/home/user/.local",
            "/home/user/.local/bin",
            "/home/user/.local/state",
            "/home/user/.bashrc",
            "/home/user/Library",
        ] {
            for role in [Role::Workdir, Role::ReadWrite] {
                let refusal = verdict(path, role, true).unwrap_err();
                assert!(
                    refusal.reason.contains("outside the sandbox"),
                    "{refusal:?}"
                );
            }
        }
        let refusal = verdict("/home/user", Role::Workdir, true).unwrap_err();
        assert!(refusal.hint.contains("--mkdir"), "{refusal:?}");
        for path in [
            "/home/user/projects/x",
            "/home/user/.local/share/uv/python/cpython-3.12",
            "/home/user/.pyenv/versions/3.11.7",
        ] {
            assert!(verdict(path, Role::ReadOnly, false).is_ok(), "{path}");
        }
        assert!(verdict("/home/user/projects/x", Role::Workdir, true).is_ok());
        assert!(verdict("/home/user/.pyenv/versions/3.11.7", Role::Workdir, true).is_err());
    }

    #[test]
    fn reading_the_home_needs_the_users_word_and_says_so() {
        for path in [
            "/home/user",
            "/home/user/.ssh",
            "/home/user/.local",
            "/home",
        ] {
            let admitted = verdict(path, Role::ReadOnly, true).expect("the user's word");
            assert!(admitted.notice.is_some(), "{path}");
            let refusal = verdict(path, Role::ReadOnly, false).unwrap_err();
            assert!(refusal.hint.contains("boxpy policy trust"), "{refusal:?}");
        }
    }

    #[test]
    fn protected_and_managed_paths_are_never_shown() {
        for path in ["/etc/shadow", "/etc/ssh", "/run/docker.sock", "/var/run"] {
            assert!(verdict(path, Role::ReadOnly, true).is_err(), "{path}");
        }
        let refused = check(
            Request {
                source: Path::new("/srv/data"),
                dest: Path::new("/proc/x"),
                role: Role::ReadOnly,
                users_word: true,
                protected_names: &[],
            },
            None,
        );
        assert!(refused.is_err());
    }
}
