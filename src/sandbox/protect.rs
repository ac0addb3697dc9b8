//! What the program may not leave for host tools, and what it may not read, in the places
//! it can see of the user's tree (the workdir and every mount). Pure: the lists, the
//! pattern matcher, and the names a leftover is moved aside under. The host side (which
//! of them exist, moving leftovers aside after a run) is in `crate::leftovers`.
//!
//! # Protected: what host tools later execute or obey
//! The workdir is writable by design. What the user runs on purpose afterwards (their
//! scripts, `make`, `pytest`) is the user's choice; what host tools run *without* the
//! user choosing to run the project's code is not: git runs hooks and `core.fsmonitor`
//! from `.git` at every `git status` (and every shell prompt that shows git state); direnv
//! runs `.envrc` on `cd`; editors run tasks and settings from `.vscode/`, `.idea/`,
//! `.devcontainer/`; pre-commit runs what `.pre-commit-config.yaml` names at the next
//! commit; mise and asdf run hooks from their files; yarn runs the `yarnPath` of
//! `.yarnrc.yml` on any `yarn`; Jupyter and IPython load config files from the current
//! directory; boxpy itself takes its policy, venv and interpreter from `boxpy.toml`,
//! `pyproject.toml`, `.venv` and `.python-version`. Those names, at the top of the workdir
//! and of every writable mount, are read-only inside when they exist (a link among them is
//! followed to its target when that lies in a writable place), and are never writable
//! themselves nor the workdir; one the program creates (or replaces) is moved aside after
//! the run to `.boxpy-quarantine/`, renamed without its leading dot so that no tool picks
//! it up, and reported. `.git/config` is read for what it points back into the worktree
//! (`core.hooksPath`, `include.path`), which is protected too, and `.gitmodules` for the
//! submodules' own `.git` files.
//!
//! # Hidden: credentials
//! Files that hold secrets the program has no business reading (`.env`, keys, token
//! files) read as empty, and such directories (`.ssh/`, `.aws/`) as empty directories.

use std::path::Path;

/// The lists are policy defaults (`filesystem.protect` and `filesystem.hide` add to them or
/// take names out), so they live with the policy; the reasoning above is theirs.
pub use crate::policy::defaults::{PROTECTED_NAMES, QUARANTINE};

/// `.env.*` files that are templates by convention, committed on purpose and holding no
/// secrets: not hidden.
const ENV_TEMPLATES: &[&str] = &[".env.example", ".env.sample", ".env.template", ".env.dist"];

/// Whether `name` (one path component, or a short relative path for patterns with `/`)
/// matches `pattern`: `*` any run of characters, `?` one character, everything else
/// literal.
pub fn matches(pattern: &str, name: &str) -> bool {
    // Case-insensitive (ASCII): `SERVER.KEY` and `.ENV` hold the same secrets, and on a
    // case-insensitive filesystem they are the same files.
    let (pattern, name) = (pattern.to_ascii_lowercase(), name.to_ascii_lowercase());
    if pattern == ".env.*" && ENV_TEMPLATES.contains(&name.as_str()) {
        return false;
    }
    glob(pattern.as_bytes(), name.as_bytes())
}

fn glob(pattern: &[u8], text: &[u8]) -> bool {
    // Iterative matcher with one backtrack point (the last `*`): linear in practice.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// The name a leftover gets in the quarantine: no leading dot, so no tool loads it.
pub fn quarantined_name(name: &str) -> String {
    name.trim_start_matches('.').to_owned()
}

/// A pattern that names a path below the top (`.docker/config.json`) rather than a name
/// at the top.
pub fn is_nested(pattern: &str) -> bool {
    pattern.contains('/') && !pattern.starts_with("**/") && !Path::new(pattern).is_absolute()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(matches(".env", ".env"));
        assert!(matches(".env.*", ".env.local"));
        assert!(!matches(".env.*", ".env.example"));
        assert!(!matches(".env", ".envrc"));
        assert!(matches("*.pem", "server.pem"));
        assert!(!matches("*.pem", "server.pem.txt"));
        assert!(matches("id_rsa*", "id_rsa.pub"));
        assert!(matches("a?c", "abc"));
        assert!(matches("*a*b*", "xxaxxbxx"));
        assert!(!matches("*a*b", "xxaxxbxx"));
        assert!(matches("*", ""));
        assert!(matches("*.key", "SERVER.KEY"));
        assert!(matches(".env", ".ENV"));
        assert!(matches("id_rsa*", "Id_Rsa"));
    }

    #[test]
    fn quarantined_names_are_inert() {
        assert_eq!(quarantined_name(".git"), "git");
        assert_eq!(quarantined_name(".envrc"), "envrc");
        assert_eq!(quarantined_name("boxpy.toml"), "boxpy.toml");
    }
}
