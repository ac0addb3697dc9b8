//! Policies (SPEC §4): lookup order (`--policy`, `$BOXPY_POLICY`, `boxpy.toml`,
//! `[tool.boxpy]` in pyproject.toml), shipped policies, `extends`, relative paths, and
//! errors located as `FILE:LINE:COLUMN` with a did-you-mean.
//!
//! A policy's effect is observed from inside: a variable it sets (`env.set`), a mount it
//! adds, the network mode `--json` reports.

use crate::harness::{
    assert_exit, assert_not_started, assert_started, boxpy, py_path, run_in_venv, Runner, Workspace,
};

/// `boxpy policy trust` for the workdir's policy, with the trust store in the workspace
/// (`XDG_STATE_HOME=ws/state`): a repository policy that widens the default needs it.
fn trust_workdir_policy(ws: &Workspace) -> std::path::PathBuf {
    let state = ws.dir("state");
    let output = boxpy(ws)
        .env("XDG_STATE_HOME", &state)
        .args(["policy", "trust"])
        .run();
    assert_exit(&output, 0);
    state
}

/// Python that prints `VAR value` for each variable (or `None`).
fn print_variables(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| format!("import os; print({name:?}, os.environ.get({name:?}))\n"))
        .collect()
}

#[test]
fn misspelt_key_reports_file_line_and_suggestion() {
    let ws = Workspace::new(&Runner::Caller);
    let policy = ws.write(
        "work/boxpy.toml",
        "[filesystem]\nworkdir = \".\"\n\n[netwrk]\nmode = \"full\"\n",
    );
    let output = run_in_venv(&ws).code("print('ran')").run();
    assert_exit(&output, 125);
    assert_not_started(&output);
    let stderr = output.stderr_text();
    assert!(stderr.contains("boxpy.toml"), "names the file: {output}");
    assert!(
        stderr.contains(&format!("{}:4:", policy.display())) || stderr.contains("boxpy.toml:4:"),
        "locates line 4 as FILE:LINE:COLUMN: {output}"
    );
    assert!(stderr.contains("netwrk"), "names the bad key: {output}");
    assert!(
        stderr.contains("did you mean `network`"),
        "suggests `network`: {output}"
    );
}

#[test]
fn misspelt_value_suggests_the_right_one() {
    let ws = Workspace::new(&Runner::Caller);
    ws.write("work/boxpy.toml", "[network]\nmode = \"ful\"\n");
    let output = run_in_venv(&ws).code("print('ran')").run();
    assert_exit(&output, 125);
    assert_not_started(&output);
    let stderr = output.stderr_text();
    assert!(stderr.contains("boxpy.toml:2:"), "locates line 2: {output}");
    assert!(stderr.contains("did you mean `full`"), "{output}");
}

#[test]
fn shipped_strict_policy_is_applied() {
    let ws = Workspace::new(&Runner::Caller);
    // `default` passes LANG from the host; `strict` passes nothing.
    let default = run_in_venv(&ws)
        .env("LANG", "C.UTF-8")
        .code(&print_variables(&["LANG"]))
        .run();
    assert_started(&default);
    assert_eq!(default.line_after("LANG "), "C.UTF-8", "{default}");
    let output = run_in_venv(&ws)
        .env("LANG", "C.UTF-8")
        .args(["-P", "strict", "--json"])
        .code(&print_variables(&["LANG"]))
        .run();
    assert_exit(&output, 0);
    let json = output.json();
    assert_eq!(json["policy"]["name"], "strict", "{json}");
    assert_eq!(json["policy"]["network"], "none", "{json}");
    let stdout = json["stdout"].as_str().unwrap_or_default();
    assert!(
        stdout.contains("LANG None"),
        "strict passes no host variables: {json}"
    );
}

#[test]
fn shipped_net_policy_has_the_network() {
    let ws = Workspace::new(&Runner::Caller);
    let listener = crate::harness::HostListener::new();
    let output = run_in_venv(&ws)
        .args(["-P", "net", "--json"])
        .code(&format!(
            "import socket; socket.create_connection(('127.0.0.1', {})); print('connected')",
            listener.port()
        ))
        .run();
    assert_exit(&output, 0);
    let json = output.json();
    assert_eq!(json["policy"]["name"], "net", "{json}");
    assert_eq!(json["policy"]["network"], "full", "{json}");
    assert!(
        json["stdout"]
            .as_str()
            .unwrap_or_default()
            .contains("connected"),
        "{json}"
    );
    assert!(
        listener.connection_arrived(),
        "the host listener saw no connection"
    );
}

#[test]
fn boxpy_policy_variable_is_honoured() {
    let ws = Workspace::new(&Runner::Caller);
    let policy = ws.write(
        "elsewhere/policy.toml",
        "[env]\nset = { FROM_POLICY = \"BOXPY_POLICY file\" }\n",
    );
    let output = run_in_venv(&ws)
        .env("BOXPY_POLICY", &policy)
        .code(&print_variables(&["FROM_POLICY"]))
        .run();
    assert_started(&output);
    assert_exit(&output, 0);
    assert_eq!(
        output.line_after("FROM_POLICY "),
        "BOXPY_POLICY file",
        "{output}"
    );
}

#[test]
fn boxpy_policy_variable_names_a_shipped_policy() {
    let ws = Workspace::new(&Runner::Caller);
    let output = run_in_venv(&ws)
        .env("BOXPY_POLICY", "net")
        .arg("--json")
        .code("pass")
        .run();
    assert_exit(&output, 0);
    assert_eq!(output.json()["policy"]["network"], "full", "{output}");
}

#[test]
fn workdir_boxpy_toml_is_honoured() {
    let ws = Workspace::new(&Runner::Caller);
    ws.write(
        "work/boxpy.toml",
        "[env]\nset = { FROM_POLICY = \"boxpy.toml\" }\n",
    );
    let output = run_in_venv(&ws)
        .code(&print_variables(&["FROM_POLICY"]))
        .run();
    assert_started(&output);
    assert_eq!(output.line_after("FROM_POLICY "), "boxpy.toml", "{output}");
}

#[test]
fn pyproject_tool_boxpy_is_honoured() {
    let ws = Workspace::new(&Runner::Caller);
    ws.write(
        "work/pyproject.toml",
        "[project]\nname = \"demo\"\nversion = \"0.1.0\"\n\n\
         [tool.boxpy.network]\nmode = \"localhost\"\n\n\
         [tool.boxpy.env]\nset = { FROM_POLICY = \"pyproject.toml\" }\n",
    );
    // `localhost` widens `none`: a repository's policy needs trust for it.
    let untrusted = run_in_venv(&ws).code("pass").run();
    assert_exit(&untrusted, 125);
    let state = trust_workdir_policy(&ws);
    let output = run_in_venv(&ws)
        .env("XDG_STATE_HOME", &state)
        .arg("--json")
        .code(&print_variables(&["FROM_POLICY"]))
        .run();
    assert_exit(&output, 0);
    let json = output.json();
    assert_eq!(json["policy"]["network"], "localhost", "{json}");
    let stdout = json["stdout"].as_str().unwrap_or_default();
    assert!(stdout.contains("FROM_POLICY pyproject.toml"), "{json}");
}

#[test]
fn relative_paths_are_relative_to_the_policy_file() {
    let ws = Workspace::new(&Runner::Caller);
    let policy = ws.write(
        "config/policy.toml",
        "[filesystem]\nread_only = [\"data\"]\n",
    );
    let beside_policy = ws.write("config/data/input.txt", "beside the policy\n");
    ws.write("work/data/input.txt", "in the workdir\n");
    let output = run_in_venv(&ws)
        .arg("-P")
        .arg(&policy)
        .code(&format!(
            "print('read', open({}).read().strip())",
            py_path(&beside_policy)
        ))
        .run();
    assert_started(&output);
    assert_exit(&output, 0);
    assert_eq!(output.line_after("read "), "beside the policy", "{output}");
}

#[test]
fn extends_a_shipped_policy() {
    let ws = Workspace::new(&Runner::Caller);
    ws.write(
        "work/boxpy.toml",
        "extends = \"strict\"\n\n[network]\nmode = \"localhost\"\n",
    );
    let state = trust_workdir_policy(&ws);
    let output = run_in_venv(&ws)
        .env("XDG_STATE_HOME", &state)
        .env("LANG", "C.UTF-8")
        .arg("--json")
        .code(&print_variables(&["LANG", "MPLBACKEND"]))
        .run();
    assert_exit(&output, 0);
    let json = output.json();
    assert_eq!(
        json["policy"]["network"], "localhost",
        "this file wins: {json}"
    );
    let stdout = json["stdout"].as_str().unwrap_or_default();
    assert!(
        stdout.contains("LANG None"),
        "strict's env.pass = [] is inherited: {json}"
    );
    assert!(
        stdout.contains("MPLBACKEND Agg"),
        "strict's env.set is inherited: {json}"
    );
}

#[test]
fn extends_a_policy_file_relative_to_the_extending_file() {
    let ws = Workspace::new(&Runner::Caller);
    ws.write(
        "shared/base.toml",
        "[network]\nmode = \"localhost\"\n\n[env]\nset = { FROM_BASE = \"base\" }\n",
    );
    ws.write("work/boxpy.toml", "extends = \"../shared/base.toml\"\n");
    let state = trust_workdir_policy(&ws);
    let output = run_in_venv(&ws)
        .env("XDG_STATE_HOME", &state)
        .arg("--json")
        .code(&print_variables(&["FROM_BASE"]))
        .run();
    assert_exit(&output, 0);
    let json = output.json();
    assert_eq!(json["policy"]["network"], "localhost", "{json}");
    let stdout = json["stdout"].as_str().unwrap_or_default();
    assert!(stdout.contains("FROM_BASE base"), "{json}");
}

#[test]
fn command_line_flags_override_the_policy() {
    let ws = Workspace::new(&Runner::Caller);
    ws.write("work/boxpy.toml", "[network]\nmode = \"full\"\n");
    let output = run_in_venv(&ws)
        .args(["--network", "none", "--json"])
        .code("pass")
        .run();
    assert_exit(&output, 0);
    assert_eq!(output.json()["policy"]["network"], "none", "{output}");
}
