//! Nothing a run leaves behind may run later on the host, and what it must not read is
//! not in view (issue: leftovers and secrets). In a git repository, as root and as an
//! ordinary user: git's hooks and config cannot be written, `.envrc`, editor and
//! pre-commit config the program creates are moved aside after the run (and reported),
//! `git status` afterwards runs nothing the program planted, and credentials read as empty.

use std::path::Path;
use std::process::Command;

use crate::harness::{assert_exit, assert_started, run_in_venv, runner_tests, unique, Workspace};

/// `git` on the host, or `None` (the tests that need it say they were skipped).
fn git() -> Option<&'static str> {
    ["/usr/bin/git", "/usr/local/bin/git"]
        .into_iter()
        .find(|path| Path::new(path).is_file())
}

/// A workspace whose workdir is a fresh git repository, or `None` (with a message) when
/// git is not installed.
fn repository(runner: &crate::harness::Runner) -> Option<Workspace> {
    if git().is_none() {
        eprintln!("SKIPPED: git is not installed");
        return None;
    }
    let ws = Workspace::new(runner);
    let init = git_in(ws.work(), &["init", "-q"]);
    assert!(init.status.success(), "{init:?}");
    Some(ws)
}

fn git_in(directory: &Path, args: &[&str]) -> std::process::Output {
    Command::new(git().expect("git"))
        .arg("-c")
        .arg(format!("safe.directory={}", directory.display()))
        .args(args)
        .current_dir(directory)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", directory)
        .output()
        .expect("run git")
}

runner_tests! {
    /// The program tries every way a host tool would later run its code: a git hook, git's
    /// `core.fsmonitor`, `.envrc`, VS Code and JetBrains settings, a dev container, a
    /// pre-commit config, `.gitattributes`. The `.git` writes are refused (read-only), the
    /// created files are gone from the workdir after the run (moved to
    /// `.boxpy-quarantine/`, without their leading dot) with a warning naming each, and
    /// `git status` afterwards runs nothing. git inside the sandbox can still read the
    /// repository.
    fn nothing_planted_runs_at_the_next_git_status(runner) {
        let Some(ws) = repository(&runner) else { return };
        let work = ws.work().to_path_buf();
        ws.write("work/tracked.txt", "tracked\n");
        let _ = git_in(&work, &["add", "tracked.txt"]);
        let commit = git_in(
            &work,
            &["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"],
        );
        assert!(commit.status.success(), "{commit:?}");
        runner.chown_tree(&work);
        let marker = ws.root().join(unique("fsmonitor-ran"));
        let config_before = std::fs::read(work.join(".git/config")).unwrap();
        let output = run_in_venv(&ws)
            .code(&format!(
                r##"
                import os, subprocess
                marker = {marker:?}
                def attempt(path, text, mode="w"):
                    try:
                        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
                        with open(path, mode) as f:
                            f.write(text)
                        if path.endswith("pre-commit"):
                            os.chmod(path, 0o755)
                        print(path, "WRITTEN")
                    except OSError as error:
                        print(path, "refused", error.errno)
                attempt(".git/hooks/pre-commit", "#!/bin/sh\ntouch " + marker + "\n")
                attempt(".git/config", "[core]\n\tfsmonitor = touch " + marker + "\n", "a")
                attempt(".envrc", "touch " + marker + "\n")
                attempt(".vscode/settings.json", "{{}}")
                attempt(".idea/workspace.xml", "<x/>")
                attempt(".devcontainer/devcontainer.json", "{{}}")
                attempt(".pre-commit-config.yaml", "repos: []\n")
                attempt(".gitattributes", "* filter=evil\n")
                attempt("result.txt", "ordinary output\n")
                log = subprocess.run(["git", "log", "--oneline"], capture_output=True, text=True)
                print("git-log", log.returncode, log.stdout.strip().endswith("init"))
                "##,
                marker = marker.display().to_string(),
            ))
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        let stdout = output.stdout_text();
        assert!(stdout.contains(".git/hooks/pre-commit refused 30"), "{output}");
        assert!(stdout.contains(".git/config refused 30"), "{output}");
        assert!(stdout.contains("result.txt WRITTEN"), "{output}");
        assert_eq!(output.line_after("git-log "), "0 True", "{output}");
        assert_eq!(std::fs::read(work.join(".git/config")).unwrap(), config_before);
        assert!(!work.join(".git/hooks/pre-commit").exists());
        let stderr = output.stderr_text();
        for name in [".envrc", ".vscode", ".idea", ".devcontainer", ".pre-commit-config.yaml", ".gitattributes"] {
            assert!(!work.join(name).exists(), "{name} left in the workdir: {output}");
            assert!(
                stderr.contains(&format!("created `{}`", work.join(name).display())),
                "{name} not reported: {output}"
            );
        }
        let quarantine = std::fs::read_dir(work.join(".boxpy-quarantine"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        assert!(quarantine.join("envrc").is_file());
        assert!(work.join("result.txt").is_file());
        // The host's next git status runs nothing.
        let status = git_in(&work, &["status", "--porcelain"]);
        assert!(status.status.success(), "{status:?}");
        assert!(!marker.exists(), "a planted command ran at git status");
    }

    /// A `.git` the program creates where there was none (a nested repository in a
    /// subdirectory workdir would make git run its config) is moved aside; a second run
    /// cannot move the quarantine back (it is read-only).
    fn a_created_git_directory_is_moved_aside_and_stays_there(runner) {
        let ws = Workspace::new(&runner);
        let work = ws.work().to_path_buf();
        let output = run_in_venv(&ws)
            .code(
                r#"
                import os
                os.makedirs(".git/hooks")
                open(".git/config", "w").write("[core]\n\tfsmonitor = true\n")
                print("created")
                "#,
            )
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert!(!work.join(".git").exists(), "{output}");
        let output = run_in_venv(&ws)
            .code(
                r#"
                import os
                moved = os.path.join(".boxpy-quarantine", os.listdir(".boxpy-quarantine")[0], "git")
                try:
                    os.rename(moved, ".git")
                    print("rename SUCCEEDED")
                except OSError as error:
                    print("rename", error.errno)
                "#,
            )
            .run();
        assert_started(&output);
        assert!(["16", "18", "30"].contains(&output.line_after("rename ").as_str()), "{output}");
        assert!(!work.join(".git").exists(), "{output}");
    }

    /// Credentials in the workdir read as empty by default (`.env`, a key file, an SSH
    /// directory); `--hide` adds a pattern at any depth; ordinary files are untouched and
    /// the host files are unchanged.
    fn credentials_read_as_empty(runner) {
        let ws = Workspace::new(&runner);
        ws.write("work/.env", "API_KEY=secret-env\n");
        ws.write("work/.env.example", "API_KEY=\n");
        ws.write("work/server.key", "secret-key\n");
        ws.write("work/.ssh/id_ed25519", "secret-ssh\n");
        ws.write("work/data/rows.csv", "a,b\n");
        ws.write("work/data/private/salaries.csv", "secret-csv\n");
        runner.chown_tree(ws.work());
        let output = run_in_venv(&ws)
            .args(["--hide", "**/salaries.csv"])
            .code(
                r#"
                import os
                for path in [".env", ".env.example", "server.key", "data/rows.csv", "data/private/salaries.csv"]:
                    print(path, repr(open(path).read()))
                print(".ssh", os.listdir(".ssh"))
                try:
                    open(".env", "w").write("overwritten")
                    print("write SUCCEEDED")
                except OSError as error:
                    print("write", error.errno)
                "#,
            )
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(output.line_after(".env "), "''", "{output}");
        assert_eq!(output.line_after(".env.example "), "'API_KEY=\\n'", "{output}");
        assert_eq!(output.line_after("server.key "), "''", "{output}");
        assert_eq!(output.line_after("data/rows.csv "), "'a,b\\n'", "{output}");
        assert_eq!(output.line_after("data/private/salaries.csv "), "''", "{output}");
        assert_eq!(output.line_after(".ssh "), "[]", "{output}");
        assert_eq!(output.line_after("write "), "30", "{output}");
        assert_eq!(std::fs::read_to_string(ws.work().join(".env")).unwrap(), "API_KEY=secret-env\n");
        assert!(!output.stdout_text().contains("secret-"), "{output}");
    }
}

runner_tests! {
    /// The user relaxes the rules in a policy of their own: `hide = ["!.env"]` shows `.env`
    /// again, `protect = ["!.vscode", "Makefile"]` lets the program create `.vscode/` and
    /// makes `Makefile` read-only. The same file found in the repository (untrusted) is
    /// refused: taking a default out is a widening.
    fn a_trusted_policy_relaxes_the_rules_and_a_repository_cannot(runner) {
        let ws = Workspace::new(&runner);
        ws.write("work/.env", "API_KEY=visible\n");
        ws.write("work/Makefile", "all:\n");
        runner.chown_tree(ws.work());
        let rules = "[filesystem]\nhide = [\"!.env\"]\nprotect = [\"!.vscode\", \"Makefile\"]\n";
        let policy = ws.write("relaxed.toml", rules);
        let output = run_in_venv(&ws)
            .arg("-P")
            .arg(&policy)
            .code(
                r#"
                import os
                print("env", open(".env").read().strip())
                os.makedirs(".vscode")
                open(".vscode/tasks.json", "w").write("{}")
                try:
                    open("Makefile", "a").write("evil:\n")
                    print("makefile SUCCEEDED")
                except OSError as error:
                    print("makefile", error.errno)
                "#,
            )
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(output.line_after("env "), "API_KEY=visible", "{output}");
        assert_eq!(output.line_after("makefile "), "30", "{output}");
        assert!(ws.work().join(".vscode/tasks.json").is_file(), "{output}");
        ws.write("work/boxpy.toml", rules);
        let output = run_in_venv(&ws).code("print('ran')").run();
        crate::harness::assert_not_started(&output);
        assert_exit(&output, 125);
        let stderr = output.stderr_text();
        assert!(stderr.contains("filesystem.hide"), "{output}");
        assert!(stderr.contains("filesystem.protect"), "{output}");
    }
}

runner_tests! {
    /// Found by an adversarial review: a run made its own workdir unreadable (mode 0311)
    /// so that the sweep listed nothing and left `.envrc` active; a repository's config
    /// pointed git at hooks and an include file inside the worktree (`core.hooksPath`,
    /// `include.path`); `actions/checkout` left a token in `.git/config`; a run planted a
    /// `.venv` and a hard link to `.env`.
    fn what_an_adversarial_review_found_in_the_workdir_is_closed(runner) {
        let Some(ws) = repository(&runner) else { return };
        let work = ws.work().to_path_buf();
        ws.write("work/.githooks/pre-commit", "#!/bin/sh\n");
        ws.write("work/shared.gitconfig", "[core]\n");
        for (key, value) in [
            ("core.hooksPath", ".githooks"),
            ("include.path", "../shared.gitconfig"),
            ("http.https://example.com/.extraheader", "AUTHORIZATION: basic c2VjcmV0LXRva2Vu"),
        ] {
            assert!(git_in(&work, &["config", key, value]).status.success());
        }
        runner.chown_tree(&work);
        let output = run_in_venv(&ws)
            .code(
                r#"
                import os
                for path in [".githooks/pre-commit", "shared.gitconfig"]:
                    try:
                        open(path, "a").write("touch /tmp/pwned\n")
                        print(path, "WRITTEN")
                    except OSError as error:
                        print(path, "refused", error.errno)
                print("token", "c2VjcmV0LXRva2Vu" in open(".git/config").read())
                os.makedirs(".venv/bin")
                open(".envrc", "w").write("echo pwned\n")
                os.chmod(".", 0o311)
                "#,
            )
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(output.line_after(".githooks/pre-commit "), "refused 30", "{output}");
        assert_eq!(output.line_after("shared.gitconfig "), "refused 30", "{output}");
        assert_eq!(output.line_after("token "), "False", "{output}");
        assert!(!work.join(".envrc").exists(), "{output}");
        assert!(!work.join(".venv").exists(), "{output}");
        assert!(std::fs::read_dir(&work).is_ok(), "the workdir's mode was not restored");
        // A hard link to a hidden name, planted for the next run (before the user writes
        // `.env`), stops that run.
        let output = run_in_venv(&ws)
            .code("import os\nopen('notes.txt', 'w').close()\nos.link('notes.txt', '.env')\nprint('linked')")
            .run();
        assert_started(&output);
        assert_eq!(output.line_after("linked"), "", "{output}");
        // The planted `.env` (a protected name) was moved aside; were it still there, the
        // run would be refused for its second name.
        assert!(!work.join(".env").exists(), "{output}");
        std::fs::write(work.join(".env"), "API_KEY=secret\n").unwrap();
        let output = run_in_venv(&ws).code("print(open('notes.txt').read())").run();
        assert!(!output.stdout_text().contains("API_KEY"), "{output}");
    }
}

runner_tests! {
    /// Found by a second adversarial review: a repository's policy showed the workdir a
    /// second time elsewhere (`read_only = [{ path = ".", dest = ... }]`), uncovering `.env`
    /// and `.git` there; a bare repository planted at the top (`HEAD`, `objects/`,
    /// `refs/`); a dangling link at a protected name that the program then filled; a
    /// virtualenv not named `.venv`; a default ACL on the workdir; a token in a
    /// submodule's config; a hard link below a hidden directory.
    fn what_a_second_review_found_is_closed(runner) {
        let Some(ws) = repository(&runner) else { return };
        let work = ws.work().to_path_buf();
        ws.write("work/.env", "API_KEY=secret-env\n");
        ws.write(
            "work/.git/modules/sub/config",
            "[http \"https://github.com/\"]\n\textraheader = AUTHORIZATION: basic c2VjcmV0LXN1Ym1vZHVsZQ==\n",
        );
        ws.write("work/venv/pyvenv.cfg", "home = /usr/bin\n");
        ws.write("work/venv/bin/activate", "# activate\n");
        runner.chown_tree(&work);
        let alias = work.join("alias");
        ws.write(
            "work/boxpy.toml",
            format!(
                "[filesystem]\nread_only = [{{ path = \".\", dest = \"{}\" }}]\n",
                alias.display()
            ),
        );
        runner.chown_tree(&work);
        let output = run_in_venv(&ws)
            .code(
                r##"
                import os, subprocess
                for where in [".", "alias"]:
                    print(where, "env", repr(open(os.path.join(where, ".env")).read()))
                    try:
                        open(os.path.join(where, ".git/hooks/post-checkout"), "w").write("#!/bin/sh\n")
                        print(where, "hook WRITTEN")
                    except OSError as error:
                        print(where, "hook", error.errno)
                print("module token", "c2VjcmV0" in open(".git/modules/sub/config").read())
                try:
                    open("venv/bin/activate", "a").write("touch /tmp/pwned\n")
                    print("venv WRITTEN")
                except OSError as error:
                    print("venv", error.errno)
                subprocess.run(["git", "init", "-q", "--bare", "bare"])
                for name in ["HEAD", "objects", "refs"]:
                    os.rename(os.path.join("bare", name), name)
                os.makedirs("venv2/bin")
                open("venv2/pyvenv.cfg", "w").write("home = /usr/bin\n")
                os.setxattr(".", "system.posix_acl_default", bytes.fromhex("02000000010007 00ffffffff 04000700ffffffff 20000700ffffffff".replace(" ", "")))
                print("planted")
                "##,
            )
            .run();
        assert_started(&output);
        assert_eq!(output.line_after(". env "), "''", "{output}");
        assert_eq!(output.line_after("alias env "), "''", "{output}");
        assert_eq!(output.line_after(". hook "), "30", "{output}");
        assert_eq!(output.line_after("alias hook "), "30", "{output}");
        assert_eq!(output.line_after("module token "), "False", "{output}");
        assert_eq!(output.line_after("venv "), "30", "{output}");
        assert!(!work.join("HEAD").exists(), "a planted bare repository stays: {output}");
        assert!(!work.join("venv2").exists(), "a planted venv stays: {output}");
        let acl = std::process::Command::new("/usr/bin/python3")
            .arg("-c")
            .arg("import os, sys; os.getxattr(sys.argv[1], 'system.posix_acl_default')")
            .arg(&work)
            .output()
            .expect("python3");
        assert!(!acl.status.success(), "the default ACL stayed: {output}");
        // A dangling link at a protected name, into the workdir, stops the run.
        std::fs::remove_file(work.join("boxpy.toml")).unwrap();
        std::os::unix::fs::symlink("ci/pc.yaml", work.join(".pre-commit-config.yaml")).unwrap();
        let output = run_in_venv(&ws).code("print('ran')").run();
        crate::harness::assert_not_started(&output);
        assert_exit(&output, 125);
        std::fs::remove_file(work.join(".pre-commit-config.yaml")).unwrap();
        // A hard link to a file below a hidden directory stops the run.
        ws.write("work/.aws/credentials", "aws_secret_access_key = x\n");
        std::fs::hard_link(work.join(".aws/credentials"), work.join("notes.txt")).unwrap();
        runner.chown_tree(&work);
        let output = run_in_venv(&ws).code("print(open('notes.txt').read())").run();
        crate::harness::assert_not_started(&output);
        assert_exit(&output, 125);
    }
}

runner_tests! {
    /// Found by a third adversarial review: credential patterns were case-sensitive
    /// (`SERVER.KEY`, `.ENV`), and a hint suggested mounting the home directory because the
    /// program named it in a faked error.
    fn credentials_in_any_case_and_no_hint_to_mount_the_home(runner) {
        let ws = Workspace::new(&runner);
        ws.write("work/SERVER.KEY", "secret-key\n");
        ws.write("work/.ENV", "API_KEY=secret\n");
        runner.chown_tree(ws.work());
        let home = runner.home();
        let output = run_in_venv(&ws)
            .code(&format!(
                "print(repr(open('SERVER.KEY').read()), repr(open('.ENV').read()))\nraise FileNotFoundError(2, 'No such file or directory', {:?})",
                home.display().to_string()
            ))
            .run();
        assert_started(&output);
        assert!(output.stdout_text().contains("'' ''"), "{output}");
        let stderr = output.stderr_text();
        assert!(!stderr.contains(&format!("--ro {}", home.display())), "{output}");
        assert!(!stderr.contains(&format!("--rw {}", home.display())), "{output}");
    }

    /// The sweep's warning quotes the path it moved: a working directory whose name holds
    /// a line break and terminal sequences (a cloned repository's name) cannot add a line
    /// of boxpy's or hide the warning.
    fn the_sweep_warning_is_one_line_whatever_the_path(runner) {
        let ws = Workspace::new(&runner);
        let name = "w\nboxpy: warning: nothing was moved\x1b[8m";
        let marker = ws.write(&format!("{name}/keep"), "");
        let hostile = marker.parent().unwrap().to_path_buf();
        let output = run_in_venv(&ws)
            .cwd(&hostile)
            .code(
                r#"
                open(".envrc", "w").write("echo pwned\n")
                print("created")
                "#,
            )
            .run();
        assert_started(&output);
        assert!(!hostile.join(".envrc").exists(), "{output}");
        let stderr = output.stderr_text();
        let warnings: Vec<&str> = stderr
            .lines()
            .filter(|line| line.starts_with("boxpy: warning:"))
            .collect();
        assert_eq!(warnings.len(), 1, "{output}");
        assert!(warnings[0].contains(r"w\nboxpy: warning: nothing was moved\x1b[8m/.envrc"), "{output}");
        assert!(!stderr.contains('\x1b'), "{output}");
    }
}
