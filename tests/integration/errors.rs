//! boxpy's own failures (SPEC §5, §6): no bwrap, bwrap refused to create namespaces,
//! bwrap failed while building the sandbox, a missing script, and the `--json` form of a
//! failure. Each is exit 125 with a message and a hint, and never looks like the program's
//! own output or exit code.

use crate::harness::{assert_exit, assert_not_started, run_in_venv, set_mode, Runner, Workspace};

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
