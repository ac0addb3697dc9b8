//! Venv and interpreter resolution (SPEC §3): venvs made by `python -m venv` (pyenv's and
//! Debian's Python), `uv venv` and `virtualenv` all run with the right `sys.prefix`; the
//! lookup order `--venv`, `$VIRTUAL_ENV`, `.venv`, `python3` on PATH; and the exit codes
//! for missing (127) and non-executable (126) interpreters.

use std::path::{Path, PathBuf};

use crate::harness::{
    assert_exit, assert_not_started, assert_started, boxpy, is_root, runner_tests, set_mode,
    unique, venv, Output, Runner, Venv, Workspace, PYENV_PYTHON,
};

/// Python that prints `prefix ...`, `base ...` and `executable ...`.
const PREFIX_PROBE: &str = r#"
import sys
print("prefix", sys.prefix)
print("base", sys.base_prefix)
print("executable", sys.executable)
"#;

/// The venv of `kind`, or `None` after printing why it cannot be made here.
fn venv_or_skip(kind: Venv) -> Option<PathBuf> {
    match venv(kind) {
        Ok(path) => Some(path),
        Err(reason) => {
            eprintln!("SKIPPED: no {kind:?} venv: {reason}");
            None
        }
    }
}

/// Runs [`PREFIX_PROBE`] with `--venv venv` and checks it ran in that venv.
fn assert_runs_in(runner: &Runner, venv: &Path) -> Output {
    let ws = Workspace::new(runner);
    let output = boxpy(&ws)
        .arg("run")
        .arg("--venv")
        .arg(venv)
        .code(PREFIX_PROBE)
        .run();
    assert_started(&output);
    assert_exit(&output, 0);
    assert_eq!(
        output.line_after("prefix "),
        venv.display().to_string(),
        "{output}"
    );
    assert_ne!(
        output.line_after("base "),
        venv.display().to_string(),
        "{output}"
    );
    output
}

runner_tests! {
    /// `/usr/bin/python3 -m venv`.
    fn debian_venv_runs(runner) {
        let venv = venv(Venv::Debian).expect("the Debian venv");
        let output = assert_runs_in(&runner, &venv);
        assert_eq!(output.line_after("base "), "/usr", "{output}");
    }

    /// `uv venv --python /usr/bin/python3`.
    fn uv_venv_runs(runner) {
        let Some(venv) = venv_or_skip(Venv::Uv) else { return };
        assert!(std::fs::read_to_string(venv.join("pyvenv.cfg")).unwrap().contains("uv = "));
        assert_runs_in(&runner, &venv);
    }

    /// `virtualenv -p /usr/bin/python3`.
    fn virtualenv_venv_runs(runner) {
        let Some(venv) = venv_or_skip(Venv::Virtualenv) else { return };
        let config = std::fs::read_to_string(venv.join("pyvenv.cfg")).unwrap();
        assert!(config.contains("virtualenv = "), "{config}");
        assert_runs_in(&runner, &venv);
    }

    /// `.venv` in the workdir is used when nothing else names a venv.
    fn dot_venv_in_workdir_is_picked_up(runner) {
        let ws = Workspace::new(&runner);
        let venv = ws.make_venv("work/.venv");
        let output = boxpy(&ws).arg("run").code(PREFIX_PROBE).run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(output.line_after("prefix "), venv.display().to_string(), "{output}");
    }

    /// `$VIRTUAL_ENV` is honoured, and wins over `.venv` in the workdir.
    fn virtual_env_variable_is_honoured(runner) {
        let ws = Workspace::new(&runner);
        ws.make_venv("work/.venv");
        let venv = venv(Venv::Debian).expect("the Debian venv");
        let output = boxpy(&ws)
            .env("VIRTUAL_ENV", &venv)
            .arg("run")
            .code(PREFIX_PROBE)
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(output.line_after("prefix "), venv.display().to_string(), "{output}");
    }

    /// No venv anywhere: `python3` on PATH runs.
    fn without_a_venv_python3_on_path_runs(runner) {
        let ws = Workspace::new(&runner);
        let path = "/usr/local/bin:/usr/bin:/bin";
        let expected = std::env::split_paths(path)
            .map(|dir| dir.join("python3"))
            .find(|candidate| candidate.exists())
            .expect("python3 on PATH");
        let output = boxpy(&ws).env("PATH", path).arg("run").code(PREFIX_PROBE).run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(output.line_after("prefix "), output.line_after("base "), "{output}");
        let executable = PathBuf::from(output.line_after("executable "));
        assert_eq!(
            executable.canonicalize().ok(),
            expected.canonicalize().ok(),
            "{output}"
        );
    }
}

/// pyenv's Python lives under /root (mode 700), so only root can use this venv.
#[test]
fn pyenv_venv_runs() {
    if !is_root() {
        eprintln!("SKIPPED: the pyenv venv needs root (pyenv lives under /root)");
        return;
    }
    let Some(venv) = venv_or_skip(Venv::Pyenv) else {
        return;
    };
    let output = assert_runs_in(&Runner::Caller, &venv);
    let base = Path::new(PYENV_PYTHON)
        .parent()
        .and_then(Path::parent)
        .unwrap();
    assert_eq!(
        output.line_after("base "),
        base.display().to_string(),
        "{output}"
    );
}

/// With pyenv's shims first on PATH (root's shell), the shim is resolved to the real
/// interpreter, which must then be visible inside.
#[test]
fn pyenv_shim_on_path_is_resolved() {
    let shims = Path::new("/root/.pyenv/shims");
    if !is_root() || !shims.join("python3").exists() {
        eprintln!("SKIPPED: needs root and pyenv's shims in /root/.pyenv/shims");
        return;
    }
    let ws = Workspace::new(&Runner::Caller);
    let path = format!(
        "{}:/root/.pyenv/bin:/usr/local/bin:/usr/bin:/bin",
        shims.display()
    );
    let output = boxpy(&ws)
        .env("PATH", path)
        .arg("run")
        .code(PREFIX_PROBE)
        .run();
    assert_started(&output);
    assert_exit(&output, 0);
    assert!(
        output
            .line_after("executable ")
            .starts_with("/root/.pyenv/versions/"),
        "{output}"
    );
}

/// A pyenv shim is resolved without running it (it would run on the host, outside the
/// sandbox; and pyenv's bash scripts cost ~100 ms a run): a stand-in pyenv whose
/// `libexec/pyenv` leaves a marker when run is not run for `PYENV_VERSION=3.11.7` nor for
/// `system`, and the program runs with that version's interpreter.
#[test]
fn pyenv_shim_is_resolved_without_running_it() {
    use std::os::unix::fs::PermissionsExt;
    // Outside /tmp: the sandbox's /tmp is its own, so an interpreter under the host's
    // would not be there.
    let ws = Workspace::new_in(&crate::harness::non_tmp_work_dir(), &Runner::Caller);
    let root = ws.dir("pyenv");
    let marker = ws.root().join("shim-ran");
    let executable = |path: &Path, text: String| {
        std::fs::write(path, text).expect("write a script");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    };
    std::fs::create_dir_all(root.join("shims")).expect("shims");
    std::fs::create_dir_all(root.join("libexec")).expect("libexec");
    std::fs::create_dir_all(root.join("versions/3.11.7/bin")).expect("versions");
    // The shape of a Python installation, which boxpy checks before it mounts a prefix:
    // `bin/python3.X` and `lib/python3.X/os.py` (here Debian's, through links).
    std::fs::create_dir_all(root.join("versions/3.11.7/lib")).expect("lib");
    let version = debian_python_version();
    std::os::unix::fs::symlink(
        format!("/usr/lib/{version}"),
        root.join("versions/3.11.7/lib").join(&version),
    )
    .expect("the version's standard library");
    std::os::unix::fs::symlink(
        format!("/usr/bin/{version}"),
        root.join("versions/3.11.7/bin").join(&version),
    )
    .expect("the version's python3.X");
    std::os::unix::fs::symlink("/usr/bin/python3", root.join("versions/3.11.7/bin/python3"))
        .expect("the version's python3");
    executable(
        &root.join("shims/python3"),
        format!(
            "#!/usr/bin/env bash\nset -e\nprogram=\"${{0##*/}}\"\nexport PYENV_ROOT=\"{root}\"\nexec \"{root}/libexec/pyenv\" exec \"$program\" \"$@\"\n",
            root = root.display()
        ),
    );
    executable(
        &root.join("libexec/pyenv"),
        format!(
            "#!/bin/sh\ntouch '{}'\nshift 2\nexec /usr/bin/python3 \"$@\"\n",
            marker.display()
        ),
    );
    let path = format!("{}:/usr/bin:/bin", root.join("shims").display());
    let run_with = |version: &str| {
        let output = boxpy(&ws)
            .env("PATH", &path)
            .env("PYENV_VERSION", version)
            .arg("run")
            .code(PREFIX_PROBE)
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        output
    };

    let output = run_with("3.11.7");
    assert_eq!(
        output.line_after("executable "),
        root.join("versions/3.11.7/bin/python3")
            .display()
            .to_string(),
        "{output}"
    );
    assert!(!marker.exists(), "the shim was run: {output}");

    // `system` is the first python3 on PATH outside the shims, read from PATH as pyenv
    // reads it: the shim is not run for it either (boxpy never runs a program on the host
    // to find the interpreter).
    let output = run_with("system");
    assert_eq!(
        output.line_after("executable "),
        "/usr/bin/python3",
        "{output}"
    );
    assert!(!marker.exists(), "the shim was run: {output}");
}

#[test]
fn missing_venv_directory_exits_127() {
    let ws = Workspace::new(&Runner::Caller);
    let missing = ws.root().join("no-such-venv");
    let output = boxpy(&ws)
        .arg("run")
        .arg("--venv")
        .arg(&missing)
        .code("print('ran')")
        .run();
    assert_exit(&output, 127);
    assert_not_started(&output);
    assert!(
        output
            .stderr_text()
            .contains(&missing.display().to_string()),
        "{output}"
    );
}

#[test]
fn venv_whose_base_interpreter_is_gone_exits_127_with_a_hint() {
    let ws = Workspace::new(&Runner::Caller);
    let source = venv(Venv::Debian).expect("the Debian venv");
    let broken = ws.dir("broken-venv");
    std::fs::copy(source.join("pyvenv.cfg"), broken.join("pyvenv.cfg")).unwrap();
    std::fs::create_dir(broken.join("bin")).unwrap();
    let gone = PathBuf::from("/opt")
        .join(unique("removed-python"))
        .join("bin/python3");
    std::os::unix::fs::symlink(&gone, broken.join("bin/python")).unwrap();
    let output = boxpy(&ws)
        .arg("run")
        .arg("--venv")
        .arg(&broken)
        .code("print('ran')")
        .run();
    assert_exit(&output, 127);
    assert_not_started(&output);
    let stderr = output.stderr_text();
    assert!(
        stderr.contains(&gone.display().to_string()),
        "names the missing target: {output}"
    );
    assert!(stderr.contains("hint:"), "gives a hint: {output}");
}

#[test]
fn interpreter_without_execute_permission_exits_126() {
    let ws = Workspace::new(&Runner::Caller);
    let interpreter = ws.write("work/python-not-executable", "#!/bin/sh\nexit 0\n");
    set_mode(&interpreter, 0o644);
    ws.write(
        "work/boxpy.toml",
        "[python]\ninterpreter = \"python-not-executable\"\n",
    );
    let output = boxpy(&ws).arg("run").code("print('ran')").run();
    assert_exit(&output, 126);
    assert_not_started(&output);
    assert!(
        output.stderr_text().contains("python-not-executable"),
        "{output}"
    );
}

/// `python3.X` of the host's `/usr/bin/python3` (Debian's).
pub(crate) fn debian_python_version() -> String {
    let target = std::fs::canonicalize("/usr/bin/python3").expect("/usr/bin/python3");
    target
        .file_name()
        .and_then(|name| name.to_str())
        .filter(|name| name.starts_with("python3."))
        .expect("/usr/bin/python3 links to python3.X")
        .to_owned()
}

runner_tests! {
    /// Issue 14: a planted `.venv` whose `pyvenv.cfg` says `home = ~/.local/bin` mounted
    /// `~/.local` (it has `lib/python3.X/site-packages` from `pip install --user`),
    /// exposing `~/.local/share/keyrings`. A venv is mounted by what it is: `~/.local` is
    /// not a Python installation, so it is not mounted; and were it shaped like one, it
    /// holds a credential directory, so the run is refused.
    fn a_planted_venv_cannot_expose_the_home_directory(runner) {
        let ws = Workspace::new(&runner);
        let home = ws.dir("home");
        let version = debian_python_version();
        ws.dir(&format!("home/.local/lib/{version}/site-packages"));
        let keyring = ws.write("home/.local/share/keyrings/login.keyring", "SECRET-KEYRING\n");
        ws.dir("home/.local/bin");
        std::os::unix::fs::symlink("/usr/bin/python3", home.join(".local/bin/python3")).unwrap();
        ws.write(
            "work/.venv/pyvenv.cfg",
            format!(
                "home = {}/.local/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n",
                home.display()
            ),
        );
        ws.dir("work/.venv/bin");
        std::os::unix::fs::symlink("/usr/bin/python3", ws.work().join(".venv/bin/python")).unwrap();
        let snippet = format!(
            "try:\n    print('read', open({}).read())\nexcept OSError as error:\n    print('refused', type(error).__name__)\n",
            crate::harness::py_path(&keyring)
        );
        let output = boxpy(&ws)
            .env("HOME", &home)
            .arg("run")
            .code(&snippet)
            .run();
        assert_started(&output);
        assert!(!output.stdout_text().contains("SECRET-KEYRING"), "{output}");
        assert_eq!(output.line_after("refused "), "FileNotFoundError", "{output}");

        // Shaped like an installation (`bin/python3.X`, `lib/python3.X/os.py`): refused,
        // naming what it would expose.
        ws.write(&format!("home/.local/lib/{version}/os.py"), "");
        std::os::unix::fs::symlink(
            format!("/usr/bin/{version}"),
            home.join(".local/bin").join(&version),
        )
        .unwrap();
        let output = boxpy(&ws)
            .env("HOME", &home)
            .arg("run")
            .code(&snippet)
            .run();
        assert_exit(&output, 125);
        assert_not_started(&output);
        let stderr = output.stderr_text();
        assert!(stderr.contains("refusing to mount"), "{output}");
        assert!(stderr.contains(".local"), "{output}");
        assert!(stderr.contains("hint:"), "{output}");
    }
}
