//! Every mount passes one gate (issues: the home directory; host-side trust): from the
//! home directory `run`, `nbexec` and `exec` refuse and change nothing; the home and the
//! directories guarding it are never writable; system directories are never writable by
//! any route; a symlink an earlier run planted in the workdir is not followed.

use std::path::Path;

use crate::harness::{
    assert_exit, assert_not_started, assert_started, boxpy, run_in_venv, runner_tests, unique,
    venv, RemoveOnDrop, Runner, Venv, Workspace,
};

/// A fresh directory for a fake home, owned by the runner, with a secret in `.ssh`.
fn fake_home(ws: &Workspace, runner: &Runner) -> std::path::PathBuf {
    let home = ws.dir("home");
    ws.write("home/.ssh/id_rsa", "secret-ssh-key\n");
    ws.write("home/.bashrc", "# rc\n");
    ws.write("home/analysis.py", "print('hello from home')\n");
    ws.write(
        "home/x.ipynb",
        r#"{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}"#,
    );
    runner.chown_tree(&home);
    home
}

runner_tests! {
    /// Red-team round: shell and editor startup directories run code at the next login or
    /// edit, so a run can never make them its writable working directory.
    fn startup_directories_are_never_writable(runner) {
        let ws = Workspace::new(&runner);
        let home = fake_home(&ws, &runner);
        for name in [".bashrc.d", ".zshrc.d", ".emacs.d", ".vim", ".oh-my-zsh"] {
            let dir = home.join(name);
            std::fs::create_dir_all(&dir).unwrap();
            runner.chown(&dir);
            let output = run_in_venv(&ws)
                .env("HOME", &home)
                .arg("-w")
                .arg(&dir)
                .code("open('evil.sh', 'w').write('echo pwned')")
                .run();
            assert_not_started(&output);
            assert_exit(&output, 125);
            assert!(!dir.join("evil.sh").exists(), "{name}: {output}");
        }
    }

    /// Red-team round: `-w ~/.ssh/x --mkdir` is refused by the gate before boxpy creates
    /// anything: `~/.ssh/x` does not appear on the host.
    fn mkdir_of_a_refused_workdir_creates_nothing(runner) {
        let ws = Workspace::new(&runner);
        let home = fake_home(&ws, &runner);
        let ssh = home.join(".ssh");
        std::fs::create_dir_all(&ssh).unwrap();
        runner.chown(&ssh);
        for target in [ssh.join("evil"), home.join(".cache/evil")] {
            let output = run_in_venv(&ws)
                .env("HOME", &home)
                .arg("-w")
                .arg(&target)
                .args(["--mkdir", "-c", "print(1)"])
                .run();
            assert_not_started(&output);
            assert_exit(&output, 125);
            assert!(!target.exists(), "{} was created: {output}", target.display());
        }
    }

    /// A notice (here: the whole home mounted read-only by the user's own flag) is in
    /// `--json` too, where no program output can scroll it away or erase it.
    fn notices_are_in_the_json_result(runner) {
        let ws = Workspace::new(&runner);
        let home = fake_home(&ws, &runner);
        let project = ws.dir("home/projects/y");
        runner.chown_tree(&home);
        let output = run_in_venv(&ws)
            .env("HOME", &home)
            .cwd(&project)
            .args(["-w", project.to_str().unwrap(), "--json", "--ro"])
            .arg(&home)
            .code("print('ran')")
            .run();
        assert_exit(&output, 0);
        let result = output.json();
        assert!(result["stdout"].as_str().unwrap_or_default().contains("ran"), "{result}");
        let notices = result["notices"].as_array().unwrap_or_else(|| panic!("{result}"));
        assert!(
            notices.iter().any(|notice| notice.as_str().unwrap_or_default().contains("home directory")),
            "{result}"
        );
    }

    /// `cd ~ && boxpy run` (and `exec`, `nbexec`) refuse with the hint, run nothing, and
    /// leave `~/.bashrc` as it was. From `~/projects/x` the same run works.
    fn the_home_directory_is_never_the_workdir(runner) {
        let ws = Workspace::new(&runner);
        let home = fake_home(&ws, &runner);
        let python = venv(Venv::Debian).unwrap();
        for command in [
            vec!["run", "--venv", python.to_str().unwrap(), "analysis.py"],
            vec!["exec", "--", "/bin/sh", "-c", "echo pwned >> .bashrc"],
            vec!["nbexec", "--venv", python.to_str().unwrap(), "x.ipynb"],
        ] {
            let output = boxpy(&ws).env("HOME", &home).cwd(&home).args(&command).run();
            assert_not_started(&output);
            assert_exit(&output, 125);
            let stderr = output.stderr_text();
            assert!(stderr.contains("is your home directory"), "{command:?}: {output}");
            assert!(stderr.contains("--mkdir"), "{command:?}: {output}");
        }
        assert_eq!(std::fs::read_to_string(home.join(".bashrc")).unwrap(), "# rc\n");
        // A project below the home works as before.
        let project = ws.dir("home/projects/x");
        runner.chown_tree(&home);
        let output = run_in_venv(&ws)
            .env("HOME", &home)
            .cwd(&project)
            .args(["-w", project.to_str().unwrap()])
            .code("import os; print('home-visible', os.path.exists(os.path.expanduser('~/.ssh/id_rsa')))")
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(output.line_after("home-visible "), "False", "{output}");
    }

    /// `--rw ~`, `--rw ~/.config`, `--rw ~/.local` (it holds `~/.local/bin`) and
    /// `read_write = ["~"]` in a policy are refused; `--ro ~/.ssh` works with a notice; a
    /// repository's own `boxpy.toml` cannot ask for `read_only = ["~/.ssh"]`.
    fn home_guards_are_never_writable_and_readable_only_on_the_users_word(runner) {
        let ws = Workspace::new(&runner);
        let home = fake_home(&ws, &runner);
        for guard in [".config", ".local/bin"] {
            std::fs::create_dir_all(home.join(guard)).unwrap();
        }
        runner.chown_tree(&home);
        for path in [home.clone(), home.join(".config"), home.join(".local"), home.join(".ssh")] {
            let output = run_in_venv(&ws)
                .env("HOME", &home)
                .arg("--rw")
                .arg(&path)
                .code("print('ran')")
                .run();
            assert_not_started(&output);
            assert_exit(&output, 125);
            assert!(output.stderr_text().contains("outside the sandbox"), "{output}");
        }
        let policy = ws.write("rw-home.toml", "[filesystem]\nread_write = [\"~\"]\n");
        let output = run_in_venv(&ws)
            .env("HOME", &home)
            .arg("-P")
            .arg(&policy)
            .code("print('ran')")
            .run();
        assert_not_started(&output);
        assert_exit(&output, 125);
        // Read-only on the user's word: works, with a notice.
        let output = run_in_venv(&ws)
            .env("HOME", &home)
            .arg("--ro")
            .arg(home.join(".ssh"))
            .code(&format!("print('key', open({:?}).read().strip())", home.join(".ssh/id_rsa").display().to_string()))
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(output.line_after("key "), "secret-ssh-key", "{output}");
        assert!(output.stderr_text().contains("notice:"), "{output}");
        // A repository's policy cannot.
        ws.write("work/boxpy.toml", "[filesystem]\nread_only = [\"~/.ssh\"]\n");
        let output = run_in_venv(&ws).env("HOME", &home).code("print('ran')").run();
        assert_not_started(&output);
        assert_exit(&output, 125);
        assert!(output.stderr_text().contains("boxpy policy trust"), "{output}");
    }

    /// System directories are never writable, by any route: `--rw /etc`, `--rw /usr/lib`,
    /// `--rw /var`, `-w /etc`, `--rw SRC:/etc/x`, and `read_write = ["/etc"]` in a policy.
    fn system_directories_are_never_writable(runner) {
        let ws = Workspace::new(&runner);
        let policy = ws.write("rw-etc.toml", "[filesystem]\nread_write = [\"/etc\"]\n");
        let data = ws.dir("data");
        let attempts: Vec<Vec<String>> = vec![
            vec!["--rw".into(), "/etc".into()],
            vec!["--rw".into(), "/usr/lib".into()],
            vec!["--rw".into(), "/var".into()],
            vec!["-w".into(), "/etc".into()],
            vec!["--rw".into(), format!("{}:/etc/boxpy", data.display())],
            vec!["-P".into(), policy.display().to_string()],
        ];
        for attempt in attempts {
            let output = run_in_venv(&ws).args(&attempt).code("print('ran')").run();
            assert_not_started(&output);
            assert_exit(&output, 125);
            assert!(output.stderr_text().contains("hint:"), "{attempt:?}: {output}");
        }
    }

    /// A run replaces `results/2024` (a `read_write` source of the user's own policy) with
    /// a symlink to the home directory; the next run refuses it, naming the link and its
    /// target, instead of mounting the home read-write. `--ro` on a planted link to `/etc`
    /// is refused the same way.
    fn a_planted_symlink_is_not_followed(runner) {
        let ws = Workspace::new(&runner);
        let home = fake_home(&ws, &runner);
        ws.dir("work/results");
        runner.chown_tree(ws.work());
        let output = run_in_venv(&ws)
            .env("HOME", &home)
            .code(&format!(
                "import os\nos.symlink({:?}, 'results/2024')\nos.symlink('/etc', 'etc-link')\nprint('planted')",
                home.display().to_string()
            ))
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        for flag in [["--rw", "results/2024"], ["--ro", "etc-link"]] {
            let output = run_in_venv(&ws)
                .env("HOME", &home)
                .args(flag)
                .code("print('ran')")
                .run();
            assert_not_started(&output);
            assert_exit(&output, 125);
            let stderr = output.stderr_text();
            assert!(stderr.contains("is a symbolic link to"), "{flag:?}: {output}");
        }
    }
}

#[test]
fn doctor_warns_from_the_home_directory() {
    let runner = Runner::Caller;
    let ws = Workspace::new(&runner);
    let home = fake_home(&ws, &runner);
    let output = boxpy(&ws).env("HOME", &home).cwd(&home).arg("doctor").run();
    let text = format!("{}{}", output.stdout_text(), output.stderr_text());
    assert!(text.contains("home directory"), "{output}");
    let _ = RemoveOnDrop(ws.root().join(unique("unused")));
    assert!(Path::new(&home).is_dir());
}

runner_tests! {
    /// Found by an adversarial review: a repository's policy made `.git` writable
    /// (`read_write = [".git"]`, `workdir = ".git"`); a run planted `bwrap` in a PATH entry
    /// inside the project; an inner `--rw` listed before its outer one let a planted link
    /// through.
    fn what_an_adversarial_review_found_in_the_gate_is_closed(runner) {
        let ws = Workspace::new(&runner);
        ws.dir("work/.git/hooks");
        runner.chown_tree(ws.work());
        for policy in ["[filesystem]\nread_write = [\".git\"]\n", "[filesystem]\nworkdir = \".git\"\n"] {
            ws.write("work/boxpy.toml", policy);
            let output = run_in_venv(&ws).code("print('ran')").run();
            assert_not_started(&output);
            assert_exit(&output, 125);
        }
        std::fs::remove_file(ws.work().join("boxpy.toml")).unwrap();
        let output = run_in_venv(&ws).args(["--rw", ".git"]).code("print('ran')").run();
        assert_not_started(&output);
        assert!(output.stderr_text().contains("host tools run or obey"), "{output}");
        // bwrap from a place a run can write.
        ws.write("work/bin/bwrap", "#!/bin/sh\nexit 99\n");
        crate::harness::set_mode(&ws.work().join("bin/bwrap"), 0o755);
        runner.chown_tree(ws.work());
        let output = run_in_venv(&ws)
            .env("BOXPY_BWRAP", ws.work().join("bin/bwrap"))
            .code("print('ran')")
            .run();
        assert_not_started(&output);
        assert_exit(&output, 125);
        assert!(output.stderr_text().contains("where a sandboxed run can write"), "{output}");
        // An inner --rw through a planted link, given before its outer --rw.
        let outer = ws.dir("outer");
        let victim = ws.dir("victim");
        std::os::unix::fs::symlink(&victim, outer.join("link")).unwrap();
        runner.chown_tree(&outer);
        runner.chown_tree(&victim);
        let output = run_in_venv(&ws)
            .arg("--rw")
            .arg(outer.join("link"))
            .arg("--rw")
            .arg(&outer)
            .code("print('ran')")
            .run();
        assert_not_started(&output);
        assert!(output.stderr_text().contains("is a symbolic link to"), "{output}");
    }
}

/// Found by a second adversarial review: run from `/` (cron, systemd units, containers),
/// boxpy counted `/` as a place a run can write and refused every bwrap.
#[test]
fn running_from_the_root_directory_works() {
    let runner = Runner::Caller;
    let ws = Workspace::new(&runner);
    let output = run_in_venv(&ws)
        .cwd(Path::new("/"))
        .arg("-w")
        .arg(ws.work())
        .code("print('ran')")
        .run();
    assert_started(&output);
    assert_exit(&output, 0);
}

runner_tests! {
    /// Found by a fourth adversarial review: `policy check` ran only some mounts through
    /// the gate, with the source as destination and without resolving links, and only
    /// warned. It runs every mount through the gate `run` uses now: what `run -P FILE`
    /// refuses, `policy check FILE` refuses with the same message, and what `run` accepts
    /// it accepts.
    fn policy_check_refuses_what_run_refuses(runner) {
        let ws = Workspace::new(&runner);
        let home = fake_home(&ws, &runner);
        // A link to `~/.ssh` outside the workdir (resolved, then refused for what it
        // shows), and one inside it (a run could have planted it: never followed).
        let links = ws.dir("links");
        std::os::unix::fs::symlink(home.join(".ssh"), links.join("keys")).unwrap();
        std::os::unix::fs::symlink(home.join(".ssh"), ws.work().join("planted")).unwrap();
        let ssh = home.join(".ssh");
        let ssh = ssh.to_str().unwrap();
        let keys = links.join("keys");
        let keys = keys.to_str().unwrap();
        let planted = ws.work().join("planted");
        let planted = planted.to_str().unwrap();
        let refused = [
            ("root", "[filesystem]\nread_write = [\"/\"]\n".to_owned(), "mounting `/` would expose the whole host"),
            ("proc", "[filesystem]\nread_only = [{ path = \"/tmp\", dest = \"/proc/x\" }]\n".to_owned(), "`/proc` is managed by the sandbox"),
            ("ssh", format!("[filesystem]\nread_write = [\"{ssh}\"]\n"), "holds your credentials"),
            ("link", format!("[filesystem]\nread_only = [{{ path = \"{keys}\", dest = \"/tmp/keys\" }}]\nread_write = [\"{keys}\"]\n"), "holds your credentials"),
            ("planted", format!("[filesystem]\nread_only = [\"{planted}\"]\n"), "boxpy does not follow it"),
            ("etc", "[filesystem]\nread_only = [{ path = \"/tmp\", dest = \"/etc/x\" }]\nread_write = [{ path = \"WORK\", dest = \"/etc/boxpy\" }]\n".replace("WORK", ws.work().to_str().unwrap()), "is a system directory"),
        ];
        // A venv shaped like an installation whose base prefix is `~/.local` (it would
        // show `~/.local/share`): `run` refuses it, and so does `policy check`.
        let version = crate::venvs::debian_python_version();
        ws.write(&format!("home/.local/lib/{version}/os.py"), "");
        ws.dir("home/.local/bin");
        std::os::unix::fs::symlink(format!("/usr/bin/{version}"), home.join(".local/bin").join(&version)).unwrap();
        ws.write(
            "planted/pyvenv.cfg",
            format!("home = {}/.local/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n", home.display()),
        );
        ws.dir("planted/bin");
        std::os::unix::fs::symlink("/usr/bin/python3", ws.root().join("planted/bin/python")).unwrap();
        runner.chown_tree(&home);
        let planted = ws.root().join("planted");
        let refused: Vec<(&str, String, &str)> = refused
            .into_iter()
            .chain(std::iter::once((
                "venv",
                format!("[python]\nvenv = \"{}\"\n", planted.display()),
                ".local",
            )))
            .collect();
        for (name, text, reason) in refused {
            let file = ws.write(&format!("policies/{name}.toml"), text);
            let checked = boxpy(&ws).env("HOME", &home).args(["policy", "check"]).arg(&file).run();
            let ran = if name == "venv" {
                boxpy(&ws).env("HOME", &home).arg("run").arg("-P").arg(&file).code("print('ran')").run()
            } else {
                run_in_venv(&ws).env("HOME", &home).arg("-P").arg(&file).code("print('ran')").run()
            };
            assert_not_started(&ran);
            assert_exit(&ran, 125);
            assert_exit(&checked, 125);
            assert!(checked.stderr_text().contains(reason), "{name}: {checked}");
            assert_eq!(checked.stderr_text(), ran.stderr_text(), "{name}: policy check and run differ: {checked}\n{ran}");
        }
        // Vice versa: read-only `~/.ssh` by the user's own word is shown (with a notice)
        // by both.
        let file = ws.write("policies/ssh-ro.toml", format!("[filesystem]\nread_only = [\"{ssh}\"]\n"));
        let checked = boxpy(&ws).env("HOME", &home).args(["policy", "check"]).arg(&file).run();
        let ran = run_in_venv(&ws).env("HOME", &home).arg("-P").arg(&file).code("print('ran')").run();
        assert_exit(&checked, 0);
        assert_started(&ran);
        assert_exit(&ran, 0);
        assert!(checked.stdout_text().contains("because you asked for it"), "{checked}");
    }
}

/// The home's credentials of every class, each file holding `SECRET-…`, next to files a
/// program may read (`notes.txt`, `~/.cargo/config.toml`, uv's interpreters).
fn home_with_credentials(ws: &Workspace, runner: &Runner) -> std::path::PathBuf {
    let home = fake_home(ws, runner);
    for (path, contents) in [
        // Coding agents' logins.
        ("home/.claude/.credentials.json", "SECRET-claude"),
        ("home/.claude.json", "SECRET-claude-json"),
        ("home/.codex/auth.json", "SECRET-codex"),
        ("home/.gemini/oauth_creds.json", "SECRET-gemini"),
        // Caches that keep tokens.
        ("home/.cache/huggingface/token", "SECRET-huggingface"),
        ("home/.npm/_logs/debug.log", "SECRET-npm-log"),
        // `~/.local/share`, but what venvs need.
        ("home/.local/share/app/token", "SECRET-local-share"),
        (
            "home/.local/share/uv/credentials/credentials.toml",
            "SECRET-uv",
        ),
        ("home/.local/share/uv/python/marker", "uv-python"),
        // Package managers' token files.
        ("home/.cargo/credentials.toml", "SECRET-cargo-toml"),
        ("home/.cargo/credentials", "SECRET-cargo"),
        ("home/.cargo/config.toml", "cargo-config"),
        ("home/.npmrc", "SECRET-npmrc"),
        ("home/.pypirc", "SECRET-pypirc"),
        ("home/.netrc", "SECRET-netrc"),
        // Data tools' keys and what was typed.
        ("home/.kaggle/kaggle.json", "SECRET-kaggle"),
        ("home/.bash_history", "SECRET-history"),
        (
            "home/.ipython/profile_default/history.sqlite",
            "SECRET-ipython-history",
        ),
        ("home/notes.txt", "visible"),
    ] {
        ws.write(path, contents);
    }
    runner.chown_tree(&home);
    home
}

/// Reads every file below the directories given as arguments (what the program can see of
/// the home) and prints each one's contents.
const READ_EVERYTHING: &str = r#"
import os, sys
for top in sys.argv[1:]:
    for directory, _, files in os.walk(top):
        for name in files:
            path = os.path.join(directory, name)
            try:
                with open(path) as file:
                    print("READ", path, repr(file.read(200)), flush=True)
            except OSError as error:
                print("REFUSED", path, error.errno, flush=True)
"#;

runner_tests! {
    /// Found by a fourth adversarial review: `--ro ~` (and `--ro ~/.cargo`, a directory
    /// that only runs code) showed agents' logins, caches with tokens, `~/.local/share`
    /// and package managers' token files. They read as empty now, whatever mount shows
    /// them, while the rest of the mount stays readable; run from the home, nothing runs.
    fn home_credentials_of_every_class_stay_hidden(runner) {
        let ws = Workspace::new(&runner);
        let home = home_with_credentials(&ws, &runner);
        let at = |relative: &str| home.join(relative).to_str().unwrap().to_owned();
        for (mounts, shown) in [
            (vec![at("")], vec!["visible", "cargo-config"]),
            (vec![at(".cargo"), at(".local/share/uv")], vec!["cargo-config", "uv-python"]),
            (vec![at(".local")], vec![]),
        ] {
            let mut command = run_in_venv(&ws).env("HOME", &home);
            for mount in &mounts {
                command = command.arg("--ro").arg(mount);
            }
            let output = command
                .code(READ_EVERYTHING)
                .args(&mounts)
                .run();
            assert_started(&output);
            assert_exit(&output, 0);
            let stdout = output.stdout_text();
            assert!(!stdout.contains("SECRET"), "{mounts:?} showed a credential: {output}");
            for text in shown {
                assert!(stdout.contains(text), "{mounts:?} should show {text}: {output}");
            }
        }
        // From the home itself nothing runs.
        let output = run_in_venv(&ws).env("HOME", &home).cwd(&home).code("print('ran')").run();
        assert_not_started(&output);
        assert_exit(&output, 125);
        // A guard that is a link (`~/.cache -> /data/cache`) guards what it points to:
        // `--ro /data` does not show the token.
        ws.write("data/cache/huggingface/token", "SECRET-linked-cache");
        ws.write("data/readme.txt", "data-visible");
        let data = ws.root().join("data");
        runner.chown_tree(&data);
        std::fs::remove_dir_all(home.join(".cache")).unwrap();
        std::os::unix::fs::symlink(data.join("cache"), home.join(".cache")).unwrap();
        let output = run_in_venv(&ws)
            .env("HOME", &home)
            .arg("--ro")
            .arg(&data)
            .code(READ_EVERYTHING)
            .arg(&data)
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert!(output.stdout_text().contains("data-visible"), "{output}");
        assert!(!output.stdout_text().contains("SECRET"), "a linked guard showed its token: {output}");
    }

    /// The new guards need the user's word like `~/.ssh`: a repository's policy cannot
    /// show `~/.claude`, `~/.cache` or `~/.local/share`, and no flag makes them writable.
    fn new_home_guards_need_the_users_word(runner) {
        let ws = Workspace::new(&runner);
        let home = home_with_credentials(&ws, &runner);
        for guard in [".claude", ".codex", ".gemini", ".cache", ".npm", ".local/share", ".cargo/credentials.toml"] {
            let path = home.join(guard);
            let path = path.to_str().unwrap();
            ws.write("work/boxpy.toml", format!("[filesystem]\nread_only = [\"{path}\"]\n"));
            let output = run_in_venv(&ws).env("HOME", &home).code("print('ran')").run();
            assert_not_started(&output);
            assert_exit(&output, 125);
            let output = run_in_venv(&ws).env("HOME", &home).arg("-P").arg("default").arg("--rw").arg(path).code("print('ran')").run();
            assert_not_started(&output);
            assert!(output.stderr_text().contains("holds your credentials"), "{guard}: {output}");
        }
    }
}

/// Found reviewing the home guards: as root, `--ro /home` showed every user's `~/.ssh`
/// (only the caller's home was guarded). Every home a mount contains is guarded now.
#[test]
fn other_users_credentials_stay_hidden_under_a_mount_of_home() {
    let runner = Runner::Caller;
    if !nix::unistd::Uid::effective().is_root() || !Path::new("/home").is_dir() {
        eprintln!("skipped: needs root and /home");
        return;
    }
    let ws = Workspace::new(&runner);
    let other = Path::new("/home").join(unique("boxpy-sec-other"));
    let _cleanup = RemoveOnDrop(other.clone());
    for (file, contents) in [
        (".ssh/id_rsa", "SECRET-other-ssh"),
        (".config/gh/hosts.yml", "SECRET-other-gh"),
        (".cache/huggingface/token", "SECRET-other-hf"),
        (".claude/.credentials.json", "SECRET-other-claude"),
        ("notes.txt", "other-visible"),
    ] {
        std::fs::create_dir_all(other.join(file).parent().unwrap()).unwrap();
        std::fs::write(other.join(file), contents).unwrap();
    }
    for mount in [Path::new("/home"), other.as_path()] {
        let output = run_in_venv(&ws)
            .arg("--ro")
            .arg(mount)
            .code(READ_EVERYTHING)
            .arg(&other)
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert!(output.stdout_text().contains("other-visible"), "{output}");
        assert!(
            !output.stdout_text().contains("SECRET"),
            "another user's credentials showed: {output}"
        );
    }
}
