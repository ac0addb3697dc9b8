//! The tool around the sandbox: `exec`, `policy list|show|check|init`, `doctor`, the audit
//! log under concurrency, completions.

use crate::harness::{assert_exit, boxpy, runner_tests, unique, venv, Runner, Venv, Workspace};

runner_tests! {
    /// `exec` runs any program under the same policy, with the program's exit code.
    fn exec_runs_any_program_under_the_policy(runner) {
        let ws = Workspace::new(&runner);
        let venv = venv(Venv::Debian).unwrap();
        let output = boxpy(&ws)
            .args(["exec", "--venv"])
            .arg(&venv)
            .args(["--", "sh", "-c", "echo in $(hostname) as $(id -u); ls $HOME | wc -l; exit 7"])
            .run();
        assert_exit(&output, 7);
        let stdout = output.stdout_text();
        assert!(stdout.contains("in boxpy"), "{output}");
        assert_eq!(stdout.lines().nth(1), Some("0"), "HOME is private and empty: {output}");
        let missing = boxpy(&ws).args(["exec", "--", "boxpy-no-such-program"]).run();
        assert_exit(&missing, 127);
        assert!(missing.stderr_text().contains("was not found inside the sandbox"), "{missing}");
    }
}

/// `exec -- python -c` gets the same report as `run -c`.
#[test]
fn exec_of_python_gets_the_report() {
    let ws = Workspace::new(&Runner::Caller);
    let venv = venv(Venv::Debian).unwrap();
    let output = boxpy(&ws)
        .args(["exec", "--venv"])
        .arg(&venv)
        .args(["--", "python", "-c", "import boxpy_not_here"])
        .run();
    assert_exit(&output, 1);
    let stderr = output.stderr_text();
    assert!(stderr.contains("error: ModuleNotFoundError"), "{output}");
    assert!(stderr.contains(" --> <string>:1"), "{output}");
    assert!(stderr.contains("-m pip install boxpy_not_here"), "{output}");
}

/// `policy show` prints a policy that `policy check` accepts and that means the same.
#[test]
fn policy_show_check_init() {
    let ws = Workspace::new(&Runner::Caller);
    let shown = boxpy(&ws).args(["policy", "show", "strict"]).run();
    assert_exit(&shown, 0);
    let text = shown.stdout_text();
    assert!(
        text.contains("memory = \"512MiB\"") && text.contains("mode = \"none\""),
        "{shown}"
    );
    let file = ws.write("work/shown.toml", &text);
    let checked = boxpy(&ws).args(["policy", "check"]).arg(&file).run();
    assert_exit(&checked, 0);
    assert!(
        checked.stdout_text().contains("is a valid policy"),
        "{checked}"
    );
    let again = boxpy(&ws).args(["policy", "show", "-P"]).arg(&file).run();
    assert_eq!(
        again.stdout_text().lines().skip(2).collect::<Vec<_>>(),
        text.lines().skip(2).collect::<Vec<_>>(),
        "the shown policy loads back to itself"
    );

    let risky = ws.write(
        "work/risky.toml",
        "extends = \"net\"\n[env]\npass = [\"OPENAI_API_KEY\"]\n",
    );
    let warned = boxpy(&ws).args(["policy", "check"]).arg(&risky).run();
    assert_exit(&warned, 0);
    assert!(
        warned
            .stdout_text()
            .contains("warning: `network.mode = \"full\"` with secrets"),
        "{warned}"
    );

    let broken = ws.write("work/broken.toml", "[network]\nmode = \"everything\"\n");
    let refused = boxpy(&ws).args(["policy", "check"]).arg(&broken).run();
    assert_exit(&refused, 125);
    assert!(
        refused.stderr_text().contains("broken.toml:2:"),
        "{refused}"
    );

    ws.make_venv("work/.venv");
    let init = boxpy(&ws).args(["policy", "init"]).run();
    assert_exit(&init, 0);
    let written = std::fs::read_to_string(ws.work().join("boxpy.toml")).unwrap();
    assert!(written.contains("venv = \".venv\""), "{written}");
    assert_exit(&boxpy(&ws).args(["policy", "init"]).run(), 125);
    let listed = boxpy(&ws).args(["policy", "list"]).run();
    assert_exit(&listed, 0);
    assert!(listed.stdout_text().contains("boxpy.toml"), "{listed}");
    assert!(listed.stdout_text().contains("* in use"), "{listed}");
}

/// 20 runs appending to one audit log at once: 20 valid lines, none lost or interleaved.
#[test]
fn audit_log_under_concurrency() {
    let ws = Workspace::new(&Runner::Caller);
    let venv = venv(Venv::Debian).unwrap();
    let log = ws.root().join("audit/runs.jsonl");
    let tokens: Vec<String> = (0..20)
        .map(|index| unique(&format!("audit{index}")))
        .collect();
    let running: Vec<_> = tokens
        .iter()
        .map(|token| {
            boxpy(&ws)
                .args(["run", "--venv"])
                .arg(&venv)
                .arg("--audit-log")
                .arg(&log)
                .args(["-c", &format!("print({token:?})")])
                .spawn()
        })
        .collect();
    for run in running {
        assert_exit(&run.finish(), 0);
    }
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 20, "{text}");
    for line in &lines {
        let record: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
        for field in [
            "time",
            "user",
            "cwd",
            "command",
            "policy",
            "mounts",
            "network",
            "limits",
            "status",
            "exit_code",
            "duration_ms",
            "resources",
        ] {
            assert!(record.get(field).is_some(), "missing {field}: {line}");
        }
        assert_eq!(record["status"], "ok");
        assert_eq!(record["policy"]["sha256"].as_str().unwrap().len(), 64);
    }
    for token in &tokens {
        assert_eq!(
            text.matches(token.as_str()).count(),
            1,
            "{token} logged once"
        );
    }
}

/// `doctor` says this machine can sandbox; `--json` is one object; without bwrap it
/// fails with the install hint.
#[test]
fn doctor_reports() {
    let ws = Workspace::new(&Runner::Caller);
    let output = boxpy(&ws).arg("doctor").run();
    assert_exit(&output, 0);
    let stdout = output.stdout_text();
    for topic in [
        "bwrap",
        "namespaces",
        "seccomp",
        "limits.memory",
        "limits.processes",
    ] {
        assert!(
            stdout.lines().any(|line| line.contains(topic)),
            "{topic}: {output}"
        );
    }
    let json = boxpy(&ws).args(["doctor", "--json"]).run().json();
    assert_eq!(json["ok"], true);
    assert!(json["checks"].as_array().unwrap().len() >= 5);
    let fake = ws.root().join("no-such-bwrap");
    let missing = boxpy(&ws).env("BOXPY_BWRAP", &fake).arg("doctor").run();
    assert_exit(&missing, 125);
    assert!(
        missing.stdout_text().contains("apt-get install bubblewrap"),
        "{missing}"
    );
}

/// Completions for every supported shell.
#[test]
fn completions_for_every_shell() {
    let ws = Workspace::new(&Runner::Caller);
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let output = boxpy(&ws).args(["completions", shell]).run();
        assert_exit(&output, 0);
        assert!(output.stdout_text().contains("nbexec"), "{shell}: {output}");
    }
}
