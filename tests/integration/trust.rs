//! The trust model (SPEC §9 "Trust", issue 14 items 1 and 2): a policy found in the working
//! directory may only narrow the built-in default until `boxpy policy trust` records it;
//! nothing on the host is executed or resolved from the working directory or a relative
//! PATH entry.
//!
//! Every attack runs with a private `HOME` and `XDG_STATE_HOME` in the workspace, so a
//! regression damages the workspace, never the real home of the user running the tests.

use std::path::PathBuf;

use crate::harness::{
    assert_absent_on_host, assert_exit, assert_not_started, assert_started, boxpy, probe_then,
    py_path, run_in_venv, runner_tests, set_mode, Boxpy, Runner, Workspace,
};

/// A private home (`ws/home`) and state directory (`ws/state`) for the run.
struct Homes {
    home: PathBuf,
    state: PathBuf,
}

fn homes(ws: &Workspace) -> Homes {
    Homes {
        home: ws.dir("home"),
        state: ws.dir("state"),
    }
}

impl Homes {
    fn apply(&self, boxpy: Boxpy) -> Boxpy {
        boxpy
            .env("HOME", &self.home)
            .env("XDG_STATE_HOME", &self.state)
    }
}

/// `boxpy policy trust` in the workdir, which must succeed.
fn trust(ws: &Workspace, homes: &Homes) {
    let output = homes.apply(boxpy(ws)).args(["policy", "trust"]).run();
    assert_exit(&output, 0);
    assert!(output.stdout_text().contains("trusted `"), "{output}");
}

/// The refusal every widening gets: exit 125 before Python starts, the key named, and the
/// command that accepts it.
#[track_caller]
fn assert_untrusted_refusal(output: &crate::harness::Output, key: &str) {
    assert_exit(output, 125);
    assert_not_started(output);
    let stderr = output.stderr_text();
    assert!(stderr.contains("error: refusing the policy"), "{output}");
    assert!(
        stderr.contains(&format!("`{key}`")),
        "names `{key}`: {output}"
    );
    assert!(
        stderr.contains("hint:") && stderr.contains("boxpy policy trust"),
        "says how to accept it: {output}"
    );
}

runner_tests! {
    /// The attack from issue 14: a repository's `boxpy.toml` with `[audit] log =
    /// "~/.bashrc"` made `boxpy run hello.py` append to the user's `~/.bashrc`. Refused
    /// until trusted; once trusted, the (private) bashrc gets its line, which shows the
    /// refusal is what kept it unchanged.
    fn audit_log_from_a_repository_policy_is_refused(runner) {
        let ws = Workspace::new(&runner);
        let homes = homes(&ws);
        let bashrc = ws.write("home/.bashrc", "# the user's own\n");
        ws.write("work/boxpy.toml", "[audit]\nlog = \"~/.bashrc\"\n");
        ws.write("work/hello.py", "print('hello')\n");
        let output = homes.apply(run_in_venv(&ws)).code("print('ran')").run();
        assert_untrusted_refusal(&output, "audit.log");
        assert!(output.stderr_text().contains(".bashrc"), "{output}");
        assert_eq!(std::fs::read_to_string(&bashrc).unwrap(), "# the user's own\n");

        trust(&ws, &homes);
        let output = homes.apply(run_in_venv(&ws)).code("print('ran')").run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_ne!(
            std::fs::read_to_string(&bashrc).unwrap(),
            "# the user's own\n",
            "a trusted audit.log is honoured: {output}"
        );
    }

    /// `read_write = ["~"]` in a repository's policy: refused before anything runs.
    fn home_mount_from_a_repository_policy_is_refused(runner) {
        let ws = Workspace::new(&runner);
        let homes = homes(&ws);
        let dotfile = ws.write("home/.profile", "# mine\n");
        ws.write("work/boxpy.toml", "[filesystem]\nread_write = [\"~\"]\n");
        let output = homes
            .apply(run_in_venv(&ws))
            .code(&probe_then(&format!("attempt_write({})", py_path(&dotfile))))
            .run();
        assert_untrusted_refusal(&output, "filesystem.read_write");
        assert_eq!(std::fs::read_to_string(&dotfile).unwrap(), "# mine\n");
    }

    /// A mount outside the workdir through a symlink inside it counts as outside.
    fn mount_through_a_link_out_of_the_workdir_is_refused(runner) {
        let ws = Workspace::new(&runner);
        let homes = homes(&ws);
        let secret = ws.write("home/.aws/credentials", "SECRET-AWS-KEY\n");
        std::os::unix::fs::symlink(&homes.home, ws.work().join("data")).unwrap();
        ws.write("work/boxpy.toml", "[filesystem]\nread_only = [\"data\"]\n");
        let output = homes
            .apply(run_in_venv(&ws))
            .code("print(open('data/.aws/credentials').read())")
            .run();
        assert_untrusted_refusal(&output, "filesystem.read_only");
        assert!(!output.stdout_text().contains("SECRET-AWS-KEY"), "{output}");
        assert!(secret.exists());
    }

    /// `network.mode = "full"`: refused; a flag that replaces it (`--network none`) makes
    /// the file's value moot; trusted, the file's network is used.
    fn network_from_a_repository_policy_needs_trust(runner) {
        let ws = Workspace::new(&runner);
        let homes = homes(&ws);
        ws.write("work/boxpy.toml", "[network]\nmode = \"full\"\n");
        let output = homes.apply(run_in_venv(&ws)).code("print('ran')").run();
        assert_untrusted_refusal(&output, "network.mode");

        let output = homes
            .apply(run_in_venv(&ws))
            .args(["--network", "none", "--json"])
            .code("print('ran')")
            .run();
        assert_exit(&output, 0);
        assert_eq!(output.json()["policy"]["network"], "none", "{output}");

        trust(&ws, &homes);
        let output = homes
            .apply(run_in_venv(&ws))
            .arg("--json")
            .code("print('ran')")
            .run();
        assert_exit(&output, 0);
        assert_eq!(output.json()["policy"]["network"], "full", "{output}");
    }

    /// `env.pass = ["AWS_SECRET_ACCESS_KEY"]`: the host's secret never reaches the program.
    fn passing_a_host_secret_from_a_repository_policy_is_refused(runner) {
        let ws = Workspace::new(&runner);
        let homes = homes(&ws);
        ws.write("work/boxpy.toml", "[env]\npass = [\"AWS_SECRET_ACCESS_KEY\"]\n");
        let output = homes
            .apply(run_in_venv(&ws))
            .env("AWS_SECRET_ACCESS_KEY", "hunter2-secret")
            .code("import os; print(os.environ.get('AWS_SECRET_ACCESS_KEY'))")
            .run();
        assert_untrusted_refusal(&output, "env.pass");
        assert!(!output.stdout_text().contains("hunter2-secret"), "{output}");
    }

    /// `env.set = { LD_PRELOAD = ... }`: the sandbox's environment is bwrap's, and bwrap
    /// runs on the host, so the repository's library ran on the host, unsandboxed (found
    /// while building this). The library's constructor writes a file outside the workdir.
    fn loader_variables_from_a_repository_policy_are_refused(runner) {
        let ws = Workspace::new(&runner);
        let homes = homes(&ws);
        let pwned = ws.root().join("pwned-on-host");
        let source = ws.write(
            "evil.c",
            format!(
                "#include <stdio.h>\n__attribute__((constructor)) static void run(void) {{\n  FILE *f = fopen(\"{}\", \"w\");\n  if (f) {{ fputs(\"host code ran\\n\", f); fclose(f); }}\n}}\n",
                pwned.display()
            ),
        );
        let library = ws.work().join("evil.so");
        let compiled = std::process::Command::new("cc")
            .args(["-shared", "-fPIC", "-o"])
            .arg(&library)
            .arg(&source)
            .status();
        if !compiled.is_ok_and(|status| status.success()) {
            eprintln!("SKIPPED: no C compiler to build the preload library");
            return;
        }
        runner.chown(&library);
        set_mode(&library, 0o755);
        ws.write(
            "work/boxpy.toml",
            format!("[env]\nset = {{ LD_PRELOAD = \"{}\" }}\n", library.display()),
        );
        let output = homes.apply(run_in_venv(&ws)).code("print('ran')").run();
        assert_untrusted_refusal(&output, "env.set");
        assert!(output.stderr_text().contains("LD_PRELOAD"), "{output}");
        assert_absent_on_host(&pwned);
    }

    /// A sandboxed run can write a `boxpy.toml` for the next run when none exists; the
    /// next run refuses what it widens.
    fn a_policy_planted_by_a_run_cannot_widen_the_next(runner) {
        let ws = Workspace::new(&runner);
        let homes = homes(&ws);
        let output = homes
            .apply(run_in_venv(&ws))
            .code(
                "open('boxpy.toml', 'w').write('[network]\\nmode = \"full\"\\n[audit]\\nlog = \"~/.bashrc\"\\n')\nprint('planted')",
            )
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        // The planted policy is moved aside after the run (a protected name)...
        assert!(!ws.work().join("boxpy.toml").exists(), "{output}");
        assert!(output.stderr_text().contains("boxpy.toml"), "{output}");
        // ...and were it put back by hand, it could still only narrow the default.
        let planted = std::fs::read_dir(ws.work().join(".boxpy-quarantine"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
            .join("boxpy.toml");
        std::fs::copy(&planted, ws.work().join("boxpy.toml")).unwrap();
        let output = homes.apply(run_in_venv(&ws)).code("print('ran')").run();
        assert_untrusted_refusal(&output, "network.mode");
        assert_absent_on_host(&homes.home.join(".bashrc"));
    }

    /// The trust store lives under HOME, which the sandbox replaces: a program can neither
    /// read nor forge it.
    fn the_trust_store_is_not_visible_inside(runner) {
        let ws = Workspace::new(&runner);
        let homes = homes(&ws);
        ws.write("work/boxpy.toml", "[network]\nmode = \"localhost\"\n");
        // The default location: `$HOME/.local/state/boxpy/trusted.json`.
        let output = boxpy(&ws)
            .env("HOME", &homes.home)
            .args(["policy", "trust"])
            .run();
        assert_exit(&output, 0);
        let store = homes.home.join(".local/state/boxpy/trusted.json");
        let before = std::fs::read(&store).expect("the store was written");
        let output = run_in_venv(&ws)
            .env("HOME", &homes.home)
            .code(&probe_then(&format!(
                "import os\nprint('visible', os.path.exists({store}))\nattempt_write({store})",
                store = py_path(&store)
            )))
            .run();
        assert_started(&output);
        assert_eq!(output.line_after("visible "), "False", "{output}");
        assert_eq!(std::fs::read(&store).unwrap(), before, "the store changed");
    }
}

/// `extends` of a file is a widening (its text is not the working directory's); trusted,
/// the hash covers the extended file too, so changing it needs trusting again.
#[test]
fn extends_of_a_file_needs_trust_and_a_change_needs_it_again() {
    let ws = Workspace::new(&Runner::Caller);
    let homes = homes(&ws);
    let base = ws.write(
        "shared/base.toml",
        "[env]\nset = { FROM_BASE = \"base\" }\n",
    );
    ws.write("work/boxpy.toml", "extends = \"../shared/base.toml\"\n");
    let run = || {
        homes
            .apply(run_in_venv(&ws))
            .code("import os; print('from', os.environ.get('FROM_BASE'))")
            .run()
    };
    assert_untrusted_refusal(&run(), "extends");
    trust(&ws, &homes);
    let output = run();
    assert_started(&output);
    assert_eq!(output.line_after("from "), "base", "{output}");

    std::fs::write(&base, "[network]\nmode = \"full\"\n").unwrap();
    let output = run();
    assert_exit(&output, 125);
    assert!(
        output
            .stderr_text()
            .contains("changed since it was trusted"),
        "{output}"
    );
    // Revoked, it is refused again even unchanged.
    trust(&ws, &homes);
    let output = homes
        .apply(boxpy(&ws))
        .args(["policy", "trust", "--revoke"])
        .run();
    assert_exit(&output, 0);
    assert_untrusted_refusal(&run(), "extends");
}

/// A policy that only narrows the default needs no trust; `policy show` says which case
/// applies, and `policy check` lists the widenings.
#[test]
fn policy_show_and_check_report_trust() {
    let ws = Workspace::new(&Runner::Caller);
    let homes = homes(&ws);
    ws.write(
        "work/boxpy.toml",
        "[limits]\nmemory = \"1GiB\"\n[guards]\ndeny_imports = [\"socket\"]\n",
    );
    let output = homes.apply(run_in_venv(&ws)).code("print('ran')").run();
    assert_started(&output);
    assert_exit(&output, 0);
    let show = homes.apply(boxpy(&ws)).args(["policy", "show"]).run();
    assert_exit(&show, 0);
    assert!(show.stdout_text().contains("# trust: not needed"), "{show}");

    ws.write(
        "work/boxpy.toml",
        "[network]\nmode = \"full\"\n[limits]\nmemory = \"unlimited\"\n",
    );
    let show = homes.apply(boxpy(&ws)).args(["policy", "show"]).run();
    assert_exit(&show, 0);
    let text = show.stdout_text();
    assert!(text.contains("# trust: NOT TRUSTED"), "{show}");
    assert!(text.contains("`network.mode`"), "{show}");
    assert!(text.contains("`limits.memory`"), "{show}");
    let check = homes
        .apply(boxpy(&ws))
        .args(["policy", "check", "boxpy.toml"])
        .run();
    assert_exit(&check, 0);
    assert!(check.stdout_text().contains("`network.mode`"), "{check}");

    trust(&ws, &homes);
    let show = homes.apply(boxpy(&ws)).args(["policy", "show"]).run();
    assert!(show.stdout_text().contains("# trust: trusted"), "{show}");
    // A policy the user names is trusted as stated.
    let show = homes
        .apply(boxpy(&ws))
        .args(["policy", "show", "net"])
        .run();
    assert!(show.stdout_text().contains("stated by you"), "{show}");
}

runner_tests! {
    /// Issue 14: with `.` (or an empty entry) in PATH and no venv, boxpy found a `python3`
    /// an earlier run wrote into the workdir and executed it on the host, unsandboxed.
    /// Relative PATH entries are never searched; the planted one leaves a file outside the
    /// workdir when run.
    fn python3_in_a_relative_path_entry_is_never_run(runner) {
        let ws = Workspace::new(&runner);
        let ran = ws.root().join("ran-on-host");
        let planted = ws.write(
            "work/python3",
            format!(
                "#!/bin/sh\necho ran > '{}'\nexec /usr/bin/python3 \"$@\"\n",
                ran.display()
            ),
        );
        set_mode(&planted, 0o755);
        for path in [".:/usr/bin:/bin", ":/usr/bin:/bin", "/nonexistent::/usr/bin"] {
            let output = boxpy(&ws)
                .env("PATH", path)
                .arg("run")
                .code("import sys; print('executable', sys.executable)")
                .run();
            assert_started(&output);
            assert_exit(&output, 0);
            assert_eq!(output.line_after("executable "), "/usr/bin/python3", "{output}");
            assert_absent_on_host(&ran);
            assert!(
                output.stderr_text().contains("relative PATH entry"),
                "says it skipped one: {output}"
            );
        }
        // Only the relative entry has one: not found (127), and the error says why.
        let output = boxpy(&ws).env("PATH", ".").arg("run").code("print('ran')").run();
        assert_exit(&output, 127);
        assert_not_started(&output);
        assert!(output.stderr_text().contains("relative PATH entries"), "{output}");
        assert_absent_on_host(&ran);
    }

    /// A script on PATH that is not a pyenv shim boxpy can read is never run on the host
    /// to ask where the interpreter is.
    fn a_python3_script_on_path_is_never_run_on_the_host(runner) {
        let ws = Workspace::new(&runner);
        let ran = ws.root().join("ran-on-host");
        let bin = ws.dir("bin");
        let script = ws.write(
            "bin/python3",
            format!(
                "#!/bin/sh\necho ran > '{}'\nexec /usr/bin/python3 \"$@\"\n",
                ran.display()
            ),
        );
        set_mode(&script, 0o755);
        let output = boxpy(&ws)
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .arg("run")
            .code("print('ran')")
            .run();
        assert_exit(&output, 127);
        assert_not_started(&output);
        assert!(output.stderr_text().contains("--venv"), "{output}");
        assert_absent_on_host(&ran);
    }
}

/// The bwrap boxpy runs never comes from a relative PATH entry either.
#[test]
fn bwrap_in_a_relative_path_entry_is_never_used() {
    let ws = Workspace::new(&Runner::Caller);
    let ran = ws.root().join("bwrap-ran");
    let planted = ws.write(
        "work/bwrap",
        format!("#!/bin/sh\necho ran > '{}'\nexit 1\n", ran.display()),
    );
    set_mode(&planted, 0o755);
    let output = run_in_venv(&ws)
        .env("PATH", ".:/usr/bin:/bin")
        .code("print('ran')")
        .run();
    assert_started(&output);
    assert_exit(&output, 0);
    assert_absent_on_host(&ran);
    // Nor from a relative `BOXPY_BWRAP`.
    let output = run_in_venv(&ws)
        .env("BOXPY_BWRAP", "bwrap")
        .code("print('ran')")
        .run();
    assert_absent_on_host(&ran);
    assert_ne!(output.code, Some(0), "{output}");
}

/// A `boxpy.toml` that is a symlink to another project's trusted policy is not that
/// policy: trust is recorded for where a file sits, not where a link leads (its relative
/// paths resolve from where it sits).
#[test]
fn a_link_to_a_trusted_policy_is_not_trusted() {
    let ws = Workspace::new(&Runner::Caller);
    let homes = homes(&ws);
    let trusted = ws.write("other/boxpy.toml", "[network]\nmode = \"full\"\n");
    let output = homes
        .apply(boxpy(&ws))
        .args(["policy", "trust"])
        .arg(&trusted)
        .run();
    assert_exit(&output, 0);
    std::os::unix::fs::symlink(&trusted, ws.work().join("boxpy.toml")).unwrap();
    let output = homes.apply(run_in_venv(&ws)).code("print('ran')").run();
    assert_untrusted_refusal(&output, "network.mode");
    // Trusted where it sits, it runs; revoked there, it is refused again.
    trust(&ws, &homes);
    let output = homes.apply(run_in_venv(&ws)).code("print('ran')").run();
    assert_started(&output);
    let output = homes
        .apply(boxpy(&ws))
        .args(["policy", "trust", "--revoke"])
        .run();
    assert!(
        output.stdout_text().contains("no longer trusted"),
        "{output}"
    );
    let output = homes.apply(run_in_venv(&ws)).code("print('ran')").run();
    assert_untrusted_refusal(&output, "network.mode");
}

/// A trust store inside the project (`XDG_STATE_HOME` pointing into it) could be forged by
/// a sandboxed run: it is neither written nor used.
#[test]
fn a_trust_store_inside_the_workdir_is_refused() {
    let ws = Workspace::new(&Runner::Caller);
    ws.write("work/boxpy.toml", "[network]\nmode = \"full\"\n");
    let state = ws.dir("work/state");
    let output = boxpy(&ws)
        .env("XDG_STATE_HOME", &state)
        .args(["policy", "trust"])
        .run();
    assert_exit(&output, 125);
    assert!(output.stderr_text().contains("XDG_STATE_HOME"), "{output}");
    // Forged by hand (as a run could): still not used.
    let store = state.join("boxpy/trusted.json");
    std::fs::create_dir_all(store.parent().unwrap()).unwrap();
    std::fs::write(&store, "{\"version\": 1, \"trusted\": []}\n").unwrap();
    let output = run_in_venv(&ws)
        .env("XDG_STATE_HOME", &state)
        .code("print('ran')")
        .run();
    assert_exit(&output, 125);
    assert_not_started(&output);
    assert!(output.stderr_text().contains("XDG_STATE_HOME"), "{output}");
}

runner_tests! {
    /// Issue 15: from `proj/sub/`, `proj/boxpy.toml` is found; `-v` says where. A policy
    /// found this way narrows freely.
    fn a_policy_in_a_parent_is_found(runner) {
        let ws = Workspace::new(&runner);
        // The project beside the private home, not above it (the search never goes
        // above the home).
        let homes = homes(&ws);
        ws.write("proj/boxpy.toml", "[guards]\ndeny_imports = [\"sqlite3\"]\n");
        let sub = ws.dir("proj/sub");
        let output = homes
            .apply(run_in_venv(&ws))
            .cwd(&sub)
            .arg("-v")
            .code("import sqlite3")
            .run();
        assert_started(&output);
        assert_exit(&output, 1);
        let stderr = output.stderr_text();
        assert!(stderr.contains("guards.deny_imports"), "{output}");
        assert!(
            stderr.contains("boxpy: policy `../boxpy.toml` (found at ../boxpy.toml"),
            "{output}"
        );
    }

    /// Security: a policy found in a parent is untrusted exactly like one in the workdir:
    /// it cannot widen the sandbox (its own directory is its boundary).
    fn a_policy_in_a_parent_cannot_widen(runner) {
        let ws = Workspace::new(&runner);
        let homes = homes(&ws);
        ws.write("proj/pyproject.toml", "[tool.boxpy.network]\nmode = \"full\"\n");
        let sub = ws.dir("proj/sub");
        let output = homes.apply(run_in_venv(&ws)).cwd(&sub).code("print('ran')").run();
        assert_untrusted_refusal(&output, "network.mode");
    }

    /// Security: a policy in a parent others can write is never found (anyone could have
    /// put it there): the run uses the built-in default.
    fn a_policy_in_a_parent_writable_by_others_is_ignored(runner) {
        let ws = Workspace::new(&runner);
        let homes = homes(&ws);
        let shared = ws.dir("shared");
        ws.write("shared/boxpy.toml", "[guards]\ndeny_imports = [\"json\"]\n");
        let project = ws.dir("shared/project");
        set_mode(&shared, 0o777);
        let output = homes
            .apply(run_in_venv(&ws))
            .cwd(&project)
            .arg("-v")
            .code("import json\nprint('imported')")
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert!(output.stdout_text().contains("imported"), "{output}");
        assert!(output.stderr_text().contains("boxpy: policy `default` (built in"), "{output}");
    }

    /// Red-team round on discovery: a policy in a parent cannot make the repository above
    /// the working directory writable (`read_write = ["."]` from `proj/sub`): that is a
    /// widening, refused until trusted, and `../Makefile` is unchanged.
    fn a_policy_in_a_parent_cannot_make_the_parent_writable(runner) {
        let ws = Workspace::new(&runner);
        let homes = homes(&ws);
        ws.write("proj/boxpy.toml", "[filesystem]\nread_write = [\".\"]\n");
        let makefile = ws.write("proj/Makefile", "all:\n");
        let sub = ws.dir("proj/sub");
        let output = homes
            .apply(run_in_venv(&ws))
            .cwd(&sub)
            .code("open('../Makefile', 'a').write('pwned\\n')")
            .run();
        assert_untrusted_refusal(&output, "filesystem.read_write");
        assert_eq!(std::fs::read_to_string(&makefile).unwrap(), "all:\n");
    }

    /// Red-team round on discovery: a working directory others can write (a drop box)
    /// gives neither its policy nor its `.venv`: the run uses the built-in default.
    fn a_working_directory_others_can_write_gives_nothing(runner) {
        let ws = Workspace::new(&runner);
        let homes = homes(&ws);
        let drop = ws.dir("drop");
        ws.write("drop/boxpy.toml", "[guards]\ndeny_imports = [\"json\"]\n");
        set_mode(&drop, 0o1777);
        let output = homes
            .apply(run_in_venv(&ws))
            .cwd(&drop)
            .arg("-v")
            .code("import json\nprint('imported')")
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert!(output.stdout_text().contains("imported"), "{output}");
        assert!(output.stderr_text().contains("boxpy: policy `default` (built in"), "{output}");
    }
}

/// Red-team round on discovery: a `.venv` and a policy another user owns, in the caller's
/// own working directory (put there by a swap or a shared checkout), are not used, and
/// `policy trust` refuses a file another user owns (needs root to make one).
#[test]
fn files_of_another_user_are_not_picked_up_nor_trusted() {
    if !crate::harness::is_root() {
        eprintln!("SKIPPED: making a file of another user needs root");
        return;
    }
    let ws = Workspace::new(&Runner::Caller);
    let policy = ws.write("work/boxpy.toml", "[guards]\ndeny_imports = [\"json\"]\n");
    let planted = ws.make_venv("work/.venv");
    for path in [&policy, &planted] {
        nix::unistd::chown(path.as_path(), Some(nix::unistd::Uid::from_raw(4242)), None).unwrap();
    }
    let output = boxpy(&ws)
        .args(["run", "-v", "--venv"])
        .arg(crate::harness::venv(crate::harness::Venv::Debian).unwrap())
        .args(["-c", "import json, sys; print('imported', sys.prefix)"])
        .run();
    assert_exit(&output, 0);
    assert!(output.stdout_text().contains("imported"), "{output}");
    assert!(
        output
            .stderr_text()
            .contains("boxpy: policy `default` (built in"),
        "{output}"
    );
    let output = boxpy(&ws)
        .args(["run", "-v", "-c", "import sys; print('prefix', sys.prefix)"])
        .run();
    assert_exit(&output, 0);
    assert!(
        !output
            .stdout_text()
            .contains(&planted.display().to_string()),
        "{output}"
    );
    let output = boxpy(&ws).args(["policy", "trust", "boxpy.toml"]).run();
    assert_exit(&output, 125);
    assert!(
        output.stderr_text().contains("belongs to another user"),
        "{output}"
    );
}
