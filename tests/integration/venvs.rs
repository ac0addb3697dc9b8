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

/// A fake conda environment at `relative` in `ws`: `conda-meta/history`, no `pyvenv.cfg`,
/// `bin/python` linking to Debian's interpreter.
fn conda_environment(ws: &Workspace, relative: &str) -> PathBuf {
    let prefix = ws.dir(relative);
    ws.write(
        &format!("{relative}/conda-meta/history"),
        "==> 2026-01-01 <==\n",
    );
    ws.dir(&format!("{relative}/bin"));
    std::os::unix::fs::symlink("/usr/bin/python3", prefix.join("bin/python")).unwrap();
    prefix
}

/// The `-v` line boxpy printed for `what` (`venv`, `policy`, `interpreter`).
fn verbose_line(output: &Output, what: &str) -> String {
    output
        .stderr_text()
        .lines()
        .find(|line| line.starts_with(&format!("boxpy: {what} ")))
        .unwrap_or_else(|| panic!("no `boxpy: {what}` line: {output}"))
        .to_owned()
}

runner_tests! {
    /// Issue 15: from `proj/sub/`, `proj/.venv` is found (as uv finds it), and `-v` says
    /// where.
    fn a_dot_venv_in_a_parent_is_found(runner) {
        let ws = Workspace::new(&runner);
        let venv = ws.make_venv(".venv");
        let sub = ws.dir("work/sub");
        let output = boxpy(&ws).cwd(&sub).args(["run", "-v"]).code(PREFIX_PROBE).run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(output.line_after("prefix "), venv.display().to_string(), "{output}");
        let line = verbose_line(&output, "venv");
        assert!(line.contains("(found at ../../.venv)"), "{output}");
        // `exec` finds the same venv: its `python` is first on PATH.
        let exec = boxpy(&ws)
            .cwd(&sub)
            .args(["exec", "--", "python", "-c", "import sys; print('prefix', sys.prefix)"])
            .run();
        assert_exit(&exec, 0);
        assert_eq!(exec.line_after("prefix "), venv.display().to_string(), "{exec}");
    }

    /// The search stops at a repository root: `.venv` above the directory holding `.git`
    /// is not the project's.
    fn the_search_stops_at_the_repository_root(runner) {
        let ws = Workspace::new(&runner);
        let outside = ws.make_venv(".venv");
        ws.dir("work/.git");
        let sub = ws.dir("work/sub");
        let output = boxpy(&ws).cwd(&sub).args(["run", "-v"]).code(PREFIX_PROBE).run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_ne!(output.line_after("prefix "), outside.display().to_string(), "{output}");
        assert!(
            verbose_line(&output, "interpreter").contains("the search stops at the repository root"),
            "{output}"
        );
    }

    /// Security: a parent directory others can write (a shared directory, `/tmp`) is not
    /// searched, so nobody can plant a venv there for the runs below it.
    fn a_parent_writable_by_others_is_not_searched(runner) {
        let ws = Workspace::new(&runner);
        let shared = ws.dir("shared");
        let planted = ws.make_venv("shared/.venv");
        let project = ws.dir("shared/project");
        set_mode(&shared, 0o777);
        let output = boxpy(&ws).cwd(&project).args(["run", "-v"]).code(PREFIX_PROBE).run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_ne!(output.line_after("prefix "), planted.display().to_string(), "{output}");
        assert!(
            verbose_line(&output, "interpreter").contains("which others can write"),
            "{output}"
        );
    }

    /// The home directory itself (and above) is never searched: `~/.venv` is not every
    /// project's venv.
    fn the_home_directory_is_never_searched(runner) {
        let ws = Workspace::new(&runner);
        let home = ws.dir("home");
        let planted = ws.make_venv("home/.venv");
        let project = ws.dir("home/project");
        let output = boxpy(&ws)
            .env("HOME", &home)
            .cwd(&project)
            .args(["run", "-v"])
            .code(PREFIX_PROBE)
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_ne!(output.line_after("prefix "), planted.display().to_string(), "{output}");
        assert!(
            verbose_line(&output, "interpreter").contains("below the home directory"),
            "{output}"
        );
    }

    /// Issue 15: a `.venv` that is a symlink runs (bwrap used to fail with "Can't bind
    /// mount /oldroot/…", 125), mounted once at its resolved path.
    fn a_symlinked_dot_venv_runs_and_is_mounted_once(runner) {
        let ws = Workspace::new(&runner);
        let real = ws.make_venv("work/envs/real");
        std::os::unix::fs::symlink("envs/real", ws.work().join(".venv")).unwrap();
        runner.chown(&ws.work().join(".venv"));
        let output = boxpy(&ws).args(["run", "-v"]).code(PREFIX_PROBE).run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(output.line_after("prefix "), real.display().to_string(), "{output}");
        assert!(verbose_line(&output, "venv").contains("(found at .venv)"), "{output}");
        let rendered = boxpy(&ws).args(["render", "--json"]).run();
        assert_exit(&rendered, 0);
        let args: Vec<String> = rendered.json()["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|arg| arg.as_str().unwrap().to_owned())
            .collect();
        let binds = args
            .windows(2)
            .filter(|pair| pair[0] == "--ro-bind" && pair[1] == real.display().to_string())
            .count();
        assert_eq!(binds, 1, "{args:?}");
    }

    /// Security: `.venv -> /` (planted by a hostile repository or an earlier run) is no
    /// venv: `/` is never mounted, the run uses `python3` on PATH.
    fn a_dot_venv_linking_to_the_root_is_not_a_venv(runner) {
        let ws = Workspace::new(&runner);
        use std::os::unix::fs::MetadataExt;
        let root_owner = std::fs::metadata("/").unwrap().uid();
        std::os::unix::fs::symlink("/", ws.work().join(".venv")).unwrap();
        runner.chown(&ws.work().join(".venv"));
        assert_eq!(std::fs::metadata("/").unwrap().uid(), root_owner, "the test changed the owner of /");
        let output = boxpy(&ws)
            .args(["run", "-v"])
            .code("import os\nprint('root', os.path.exists('/root/.bashrc') or os.path.exists('/var/log'))")
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert!(output.stdout_text().contains("root False"), "{output}");
        assert!(verbose_line(&output, "interpreter").contains("`python3` on PATH"), "{output}");
    }

    /// Security: `.venv` linking to the home directory, dressed up as a venv
    /// (`pyvenv.cfg`, `bin/python`), is refused: the home and its `.ssh` are never
    /// mounted, and nothing runs.
    fn a_dot_venv_linking_to_the_home_is_refused(runner) {
        let ws = Workspace::new(&runner);
        let home = ws.dir("home");
        ws.write("home/.ssh/id_ed25519", "SECRET-KEY");
        ws.write("home/pyvenv.cfg", "home = /usr/bin\nversion = 3.11\n");
        ws.dir("home/bin");
        std::os::unix::fs::symlink("/usr/bin/python3", home.join("bin/python")).unwrap();
        std::os::unix::fs::symlink(&home, ws.work().join(".venv")).unwrap();
        runner.chown(&ws.work().join(".venv"));
        let output = boxpy(&ws)
            .env("HOME", &home)
            .arg("run")
            .code("print(open(__import__('os').environ['VIRTUAL_ENV'] + '/.ssh/id_ed25519').read())")
            .run();
        assert_not_started(&output);
        assert_exit(&output, 125);
        assert!(!output.stdout_text().contains("SECRET-KEY"), "{output}");
        assert!(output.stderr_text().contains("home directory"), "{output}");
    }

    /// Issue 15: `$CONDA_PREFIX` is honoured like `$VIRTUAL_ENV` (a conda environment has
    /// `conda-meta/`, no `pyvenv.cfg`) and wins over the project's `.venv`; conda's base
    /// environment comes after it (uv's order).
    fn conda_prefix_is_honoured_in_uvs_order(runner) {
        let ws = Workspace::new(&runner);
        let dot_venv = ws.make_venv("work/.venv");
        let conda = conda_environment(&ws, "conda/envs/ml");
        let output = boxpy(&ws)
            .env("CONDA_PREFIX", &conda)
            .env("CONDA_DEFAULT_ENV", "ml")
            .args(["run", "-v"])
            .code(PREFIX_PROBE)
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(
            output.line_after("executable "),
            conda.join("bin/python").display().to_string(),
            "{output}"
        );
        assert!(verbose_line(&output, "venv").contains("`$CONDA_PREFIX`"), "{output}");
        let base = boxpy(&ws)
            .env("CONDA_PREFIX", &conda)
            .env("CONDA_DEFAULT_ENV", "base")
            .arg("run")
            .code(PREFIX_PROBE)
            .run();
        assert_started(&base);
        assert_eq!(base.line_after("prefix "), dot_venv.display().to_string(), "{base}");
        std::fs::remove_dir_all(&dot_venv).unwrap();
        let base_only = boxpy(&ws)
            .env("CONDA_PREFIX", &conda)
            .env("CONDA_DEFAULT_ENV", "base")
            .arg("run")
            .code(PREFIX_PROBE)
            .run();
        assert_started(&base_only);
        assert_eq!(
            base_only.line_after("executable "),
            conda.join("bin/python").display().to_string(),
            "{base_only}"
        );
    }

    /// Issue 15: in a conda environment the missing-module hint is conda's.
    fn a_missing_module_in_a_conda_environment_gets_condas_command(runner) {
        let ws = Workspace::new(&runner);
        let conda = conda_environment(&ws, "conda/envs/ml");
        let output = boxpy(&ws)
            .env("CONDA_PREFIX", &conda)
            .arg("run")
            .code("import boxpy_surely_missing_module")
            .run();
        assert_started(&output);
        assert_exit(&output, 1);
        let stderr = output.stderr_text();
        assert!(
            stderr.contains(&format!(
                "`conda install -p {} boxpy_surely_missing_module`",
                conda.display()
            )),
            "{output}"
        );
    }

    /// Issue 15: an unusable venv gets a specific error (127) that mentions
    /// `python.interpreter`: a file is a file, a directory that is no environment says so.
    fn an_unusable_venv_gets_a_specific_error(runner) {
        let ws = Workspace::new(&runner);
        let file = ws.write("work/python-env", "not a venv");
        let output = boxpy(&ws).args(["run", "--venv"]).arg(&file).args(["-c", "pass"]).run();
        assert_not_started(&output);
        assert_exit(&output, 127);
        let stderr = output.stderr_text();
        assert!(stderr.contains("it is a file, not a directory"), "{output}");
        assert!(stderr.contains("python.interpreter"), "{output}");
        assert!(!stderr.contains("no such directory"), "{output}");

        let empty = ws.dir("work/empty-env");
        let output = boxpy(&ws).args(["run", "--venv"]).arg(&empty).args(["-c", "pass"]).run();
        assert_not_started(&output);
        assert_exit(&output, 127);
        let stderr = output.stderr_text();
        assert!(stderr.contains("cannot be used as the virtualenv"), "{output}");
        assert!(stderr.contains("neither `pyvenv.cfg`"), "{output}");
        assert!(stderr.contains("python.interpreter"), "{output}");

        let missing = ws.work().join("no-such-env");
        let output = boxpy(&ws).args(["run", "--venv"]).arg(&missing).args(["-c", "pass"]).run();
        assert_exit(&output, 127);
        assert!(output.stderr_text().contains("not found"), "{output}");
    }
}

/// Security: a parent directory that belongs to another user is not searched, even when
/// only the owner could write it (needs root to make one).
#[test]
fn a_parent_of_another_user_is_not_searched() {
    if !is_root() {
        eprintln!("SKIPPED: making a directory of another user needs root");
        return;
    }
    let ws = Workspace::new(&Runner::Caller);
    let theirs = ws.dir("theirs");
    let planted = ws.make_venv("theirs/.venv");
    let project = ws.dir("theirs/project");
    nix::unistd::chown(&theirs, Some(nix::unistd::Uid::from_raw(4242)), None).unwrap();
    let output = boxpy(&ws)
        .cwd(&project)
        .args(["run", "-v"])
        .code(PREFIX_PROBE)
        .run();
    assert_started(&output);
    assert_exit(&output, 0);
    assert_ne!(
        output.line_after("prefix "),
        planted.display().to_string(),
        "{output}"
    );
    assert!(
        verbose_line(&output, "interpreter").contains("belongs to another user"),
        "{output}"
    );
}
