//! boxpy's own failures (SPEC §5, §6): no bwrap, bwrap refused to create namespaces,
//! bwrap failed while building the sandbox, a missing script, and the `--json` form of a
//! failure. Each is exit 125 with a message and a hint, and never looks like the program's
//! own output or exit code.

use crate::harness::{
    assert_exit, assert_not_started, boxpy, python, run_in_venv, set_mode, unique, Runner,
    Workspace, MARKER,
};

/// The line bwrap prints when the kernel refuses unprivileged user namespaces.
const NAMESPACE_REFUSED: &str = "bwrap: No permissions to create new namespace, likely because \
                                 the kernel does not allow non-privileged user namespaces.";

#[test]
fn missing_bwrap_exits_125_with_an_install_hint() {
    let ws = Workspace::new(&Runner::Caller);
    let output = run_in_venv(&ws)
        .env("BOXPY_BWRAP", "/nonexistent/bwrap")
        .code("print('ran')")
        .run();
    assert_exit(&output, 125);
    assert_not_started(&output);
    assert!(
        output.stderr_text().contains("apt-get install bubblewrap"),
        "the hint should say how to install bubblewrap: {output}"
    );
}

#[test]
fn refused_namespaces_are_reported_not_streamed() {
    let ws = Workspace::new(&Runner::Caller);
    let fake = ws.write(
        "fake/bwrap",
        format!("#!/bin/sh\necho '{NAMESPACE_REFUSED}' >&2\nexit 1\n"),
    );
    set_mode(&fake, 0o755);
    let output = run_in_venv(&ws)
        .env("BOXPY_BWRAP", &fake)
        .code("print('ran')")
        .run();
    assert_exit(&output, 125);
    assert_not_started(&output);
    let stderr = output.stderr_text();
    assert!(
        stderr.contains("refused") && stderr.contains("namespace"),
        "should say the namespaces were refused: {output}"
    );
    assert!(
        stderr.contains("boxpy doctor"),
        "should mention `boxpy doctor`: {output}"
    );
    assert!(
        !stderr.lines().any(|line| line.trim() == NAMESPACE_REFUSED),
        "bwrap's raw line was streamed as if the program printed it: {output}"
    );
    assert!(
        stderr.starts_with("error:"),
        "boxpy's report comes first: {output}"
    );
}

#[test]
fn refused_namespaces_in_json_are_a_sandbox_error() {
    let ws = Workspace::new(&Runner::Caller);
    let fake = ws.write(
        "fake/bwrap",
        format!("#!/bin/sh\necho '{NAMESPACE_REFUSED}' >&2\nexit 1\n"),
    );
    set_mode(&fake, 0o755);
    let output = run_in_venv(&ws)
        .env("BOXPY_BWRAP", &fake)
        .arg("--json")
        .code("print('ran')")
        .run();
    assert_exit(&output, 125);
    let json = output.json();
    assert_eq!(json["status"], "sandbox_error", "{json}");
    assert_eq!(json["exit_code"], 125, "{json}");
    assert_eq!(
        json["stderr"], "",
        "bwrap's line is not the program's stderr: {json}"
    );
}

/// bwrap can fail after it created the namespaces (and wrote `child-pid`), while building
/// the mounts. That is still boxpy's failure (125, with bwrap's reason), not the
/// program's exit 1.
#[test]
fn bwrap_mount_failure_is_not_the_programs_exit_1() {
    let ws = Workspace::new(&Runner::Caller);
    let file = ws.write("data.txt", "data\n");
    // A destination under the read-only /usr cannot be created by bwrap.
    let output = run_in_venv(&ws)
        .arg("--ro")
        .arg(format!("{}:/usr/boxpy-test-destination", file.display()))
        .code("print('ran')")
        .run();
    assert_not_started(&output);
    assert_exit(&output, 125);
    assert!(
        output.stderr_text().contains("/usr/boxpy-test-destination"),
        "bwrap's reason should be reported: {output}"
    );
}

#[test]
fn missing_script_exits_125() {
    let ws = Workspace::new(&Runner::Caller);
    let output = run_in_venv(&ws).arg("no-such-script.py").run();
    assert_exit(&output, 125);
    assert!(
        output.stderr_text().contains("no-such-script.py"),
        "{output}"
    );
}

#[test]
fn json_with_a_bad_policy_is_one_sandbox_error_object() {
    let ws = Workspace::new(&Runner::Caller);
    ws.write("work/boxpy.toml", "[network]\nmode = \"ful\"\n");
    let output = run_in_venv(&ws).arg("--json").code("print('ran')").run();
    assert_exit(&output, 125);
    assert_not_started(&output);
    assert_eq!(
        output.stdout_text().trim_end().lines().count(),
        1,
        "{output}"
    );
    let json = output.json();
    assert_eq!(json["schema"], 1, "{json}");
    assert_eq!(json["status"], "sandbox_error", "{json}");
    assert_eq!(json["exit_code"], 125, "{json}");
    let message = json["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("boxpy.toml"),
        "names the policy file: {json}"
    );
}

#[test]
fn unknown_policy_name_exits_125_with_a_suggestion() {
    let ws = Workspace::new(&Runner::Caller);
    let output = run_in_venv(&ws)
        .args(["-P", "strikt"])
        .code("print('ran')")
        .run();
    assert_exit(&output, 125);
    assert_not_started(&output);
    assert!(
        output.stderr_text().contains("did you mean `strict`"),
        "{output}"
    );
}

/// `-c` and `-m` need their value: with none, or with `--` where it should be, boxpy
/// refuses the line (125) instead of running `--` as code or as a module.
#[test]
fn code_or_module_without_a_value_is_a_usage_error() {
    let ws = Workspace::new(&Runner::Caller);
    let marker = python("pass");
    for (arguments, option) in [
        (vec!["-c"], "-c <CODE>"),
        (vec!["-m"], "-m <MODULE>"),
        (vec!["-c", "--"], "-c <CODE>"),
        (vec!["-m", "--"], "-m <MODULE>"),
        (vec!["-c", "--", marker.as_str()], "-c <CODE>"),
        (vec!["--json", "-m", "--", "this"], "-m <MODULE>"),
    ] {
        let output = run_in_venv(&ws).args(&arguments).run();
        assert_exit(&output, 125);
        assert_not_started(&output);
        let stderr = output.stderr_text();
        assert!(
            stderr.contains(&format!("a value is required for '{option}'")),
            "{arguments:?}: {output}"
        );
        assert!(!stderr.contains("SyntaxError"), "{arguments:?}: {output}");
        assert!(
            !stderr.contains("No module named"),
            "{arguments:?}: {output}"
        );
    }
    // A value that merely starts with `-` is the program's own.
    let output = run_in_venv(&ws).args(["-c", &marker, "--", "-x"]).run();
    assert_exit(&output, 0);
    assert!(output.stdout_text().contains(MARKER), "{output}");
}

/// With `--json`, a line clap refuses is one JSON object on stdout (status
/// `sandbox_error`, exit 125), and clap's own text stays on stderr.
#[test]
fn json_reports_every_command_line_failure() {
    let ws = Workspace::new(&Runner::Caller);
    for (arguments, says) in [
        (
            vec!["run", "--json", "--network", "bogus", "-c", "pass"],
            "invalid value 'bogus' for '--network <MODE>'",
        ),
        (
            vec!["run", "--json", "--color", "bogus", "-c", "pass"],
            "invalid value 'bogus' for '--color <WHEN>'",
        ),
        (
            vec!["run", "--json", "--venv"],
            "a value is required for '--venv <DIR>'",
        ),
        (
            vec!["run", "--json", "-c"],
            "a value is required for '-c <CODE>'",
        ),
        (
            vec!["run", "--json", "--bogus", "x.py"],
            "unexpected option `--bogus`",
        ),
        (
            vec!["exec", "--json", "--bogus", "--", "sh"],
            "unexpected argument '--bogus'",
        ),
        (
            vec!["nbexec", "--json", "--memory"],
            "a value is required for '--memory <SIZE>'",
        ),
        (
            vec!["render", "--json", "--network", "bogus"],
            "invalid value 'bogus'",
        ),
        (
            vec!["doctor", "--json", "--bogus"],
            "unexpected argument '--bogus'",
        ),
        (
            vec!["--color", "never", "run", "--json", "--timeout"],
            "a value is required for '--timeout <DUR>'",
        ),
    ] {
        let output = boxpy(&ws).args(&arguments).run();
        assert_exit(&output, 125);
        assert_eq!(
            output.stdout_text().trim_end().lines().count(),
            1,
            "{arguments:?}: one line on stdout: {output}"
        );
        let json = output.json();
        assert_eq!(json["schema"], 1, "{arguments:?}: {json}");
        assert_eq!(json["status"], "sandbox_error", "{arguments:?}: {json}");
        assert_eq!(json["exit_code"], 125, "{arguments:?}: {json}");
        let message = json["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{arguments:?}: {json}");
        assert!(
            output.stderr_text().starts_with("error:"),
            "{arguments:?}: the human text stays on stderr: {output}"
        );
    }
    // Possible values travel in the hint.
    let output = boxpy(&ws)
        .args(["run", "--json", "--network", "bogus", "x.py"])
        .run();
    let hint = output.json()["error"]["hint"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(hint.contains("none, localhost, full"), "{output}");
    // `--json` among the program's arguments is the program's: no JSON from boxpy.
    let output = boxpy(&ws)
        .args(["run", "--network", "bogus", "x.py", "--json"])
        .run();
    assert_exit(&output, 125);
    assert_eq!(output.stdout_text(), "", "{output}");
}

/// Did-you-mean only for a near miss: `--bogus` is not `--verbose`, `--c` is not `--cpu`.
#[test]
fn suggestions_only_for_close_matches() {
    let ws = Workspace::new(&Runner::Caller);
    for arguments in [
        vec!["run", "--bogus", "x.py"],
        vec!["exec", "--bogus", "--", "sh"],
        vec!["exec", "--c", "1", "--", "sh"],
        vec!["render", "--verbos"],
        vec!["nbexec", "--bogus", "n.ipynb"],
        vec!["run", "--network", "bogus", "x.py"],
    ] {
        let output = boxpy(&ws).args(&arguments).run();
        assert_exit(&output, 125);
        let stderr = output.stderr_text();
        for wrong in ["did you mean", "similar", "--verbose", "--cpu", "--version"] {
            assert!(
                !stderr.contains(wrong),
                "{arguments:?} offers {wrong}: {output}"
            );
        }
    }
    for (arguments, suggestion) in [
        (vec!["run", "--jsn", "x.py"], "did you mean `--json`?"),
        (vec!["run", "--c", "pass"], "did you mean `-c`?"),
        (
            vec!["run", "--colr", "never", "x.py"],
            "did you mean `--color`?",
        ),
        (
            vec!["run", "--netwrok", "full", "x.py"],
            "did you mean `--network`?",
        ),
        (
            vec!["exec", "--netwrk", "full", "--", "sh"],
            "similar argument exists: '--network'",
        ),
        (
            vec!["run", "--network", "ful", "x.py"],
            "similar value exists: 'full'",
        ),
    ] {
        let output = boxpy(&ws).args(&arguments).run();
        assert_exit(&output, 125);
        assert!(
            output.stderr_text().contains(suggestion),
            "{arguments:?}: {output}"
        );
        assert!(
            !output.stderr_text().contains("--cpu"),
            "{arguments:?}: {output}"
        );
    }
}

/// `--audit-log` in a directory that does not exist is refused before anything runs, and
/// the directory is not created (as root, boxpy could create it anywhere).
#[test]
fn audit_log_in_a_missing_directory_is_refused_and_not_created() {
    let ws = Workspace::new(&Runner::Caller);
    let top = std::path::PathBuf::from(format!("/{}", unique("boxpy-no-such-dir")));
    let inside_workspace = ws.root().join("missing/dir");
    for directory in [top.join("dir"), inside_workspace.clone()] {
        let log = directory.join("a.jsonl");
        let output = run_in_venv(&ws)
            .arg("--audit-log")
            .arg(&log)
            .code("pass")
            .run();
        assert_exit(&output, 125);
        assert_not_started(&output);
        assert!(
            output
                .stderr_text()
                .contains(&format!("`{}` does not exist", directory.display())),
            "{output}"
        );
        assert!(output.stderr_text().contains("mkdir -p"), "{output}");
        assert!(!directory.exists(), "boxpy created {}", directory.display());
    }
    assert!(!top.exists(), "boxpy created {}", top.display());
    assert!(!inside_workspace.parent().unwrap().exists());
    // A policy's `[audit] log` the same way.
    let policy = ws.write(
        "policy.toml",
        format!(
            "[audit]\nlog = \"{}\"\n",
            inside_workspace.join("b.jsonl").display()
        ),
    );
    let output = run_in_venv(&ws).arg("-P").arg(&policy).code("pass").run();
    assert_exit(&output, 125);
    assert_not_started(&output);
    assert!(!inside_workspace.parent().unwrap().exists());
}
