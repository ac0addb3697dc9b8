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

// ---------------------------------------------------------------------------------------
// Bad input refused up front (issues 15 and 25): the key or flag named, exit 125, and the
// program never started; a value just inside the floor does start (so the refusal is the
// floor's, not something else's).
// ---------------------------------------------------------------------------------------

crate::harness::runner_tests! {
    fn memory_without_unit_zero_or_below_the_floor_is_refused(runner) {
        let ws = Workspace::new(&runner);
        for (value, names) in [
            ("10", "`--memory 10` has no unit"),
            ("0", "below the floor of 16MiB"),
            ("1M", "below the floor of 16MiB"),
        ] {
            let output = run_in_venv(&ws)
                .args(["--json", "--memory", value])
                .code("print('ran')")
                .run();
            assert_exit(&output, 125);
            assert!(!output.stdout_text().contains("ran"), "{output}");
            let report = output.json();
            assert_eq!(report["status"], "sandbox_error", "{output}");
            let message = report["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains("--memory"), "names the flag: {output}");
            assert!(message.contains(names), "{value}: {output}");
            let hint = report["error"]["hint"].as_str().unwrap_or_default();
            assert!(hint.contains("limits.memory"), "names the key: {output}");
        }
        // At the floor Python starts.
        let output = run_in_venv(&ws)
            .args(["--memory", "64MiB"])
            .code("print('ran')")
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
    }
}

#[test]
fn policy_memory_and_timeout_below_the_floor_are_refused_naming_the_key() {
    let ws = Workspace::new(&Runner::Caller);
    for (text, key) in [
        ("[limits]\nmemory = \"1M\"\n", "`limits.memory`"),
        ("[limits]\nmemory = 10\n", "`limits.memory`"),
        ("[limits]\ntimeout = \"0.4ms\"\n", "`limits.timeout`"),
        ("[limits]\ntimeout = \"50ms\"\n", "`limits.timeout`"),
        ("[limits]\ntimeout = 5\n", "`limits.timeout`"),
    ] {
        let policy = ws.write("p.toml", text);
        let check = boxpy(&ws).args(["policy", "check"]).arg(&policy).run();
        assert_exit(&check, 125);
        assert!(check.stderr_text().contains(key), "{text:?}: {check}");
        assert!(
            check.stderr_text().contains("p.toml:2:"),
            "{text:?}: {check}"
        );
        let output = run_in_venv(&ws)
            .arg("-P")
            .arg(&policy)
            .code("print('ran')")
            .run();
        assert_exit(&output, 125);
        assert_not_started(&output);
        assert!(output.stderr_text().contains(key), "{text:?}: {output}");
    }
    for (flag, value) in [("--timeout", "5ms"), ("--timeout", "0"), ("--cpu", "0")] {
        let output = run_in_venv(&ws)
            .args(["--json", flag, value])
            .code("print('ran')")
            .run();
        assert_exit(&output, 125);
        let message = output.json()["error"]["message"].to_string();
        assert!(message.contains(flag), "{output}");
    }
}

/// A timeout that fires while the sandbox is still being built is the timeout (124,
/// "timeout"), never "bubblewrap failed to set up the sandbox". 100ms is the floor: on a
/// loaded machine it often fires before Python runs, on an idle one after; either way the
/// answer is the same.
#[test]
fn a_timeout_at_the_floor_is_always_reported_as_a_timeout() {
    let ws = Workspace::new(&Runner::Caller);
    for _ in 0..4 {
        let output = run_in_venv(&ws)
            .args(["--json", "--timeout", "100ms"])
            .code("import time\nprint('ran', flush=True)\ntime.sleep(30)")
            .run();
        assert_exit(&output, 124);
        let report = output.json();
        assert_eq!(report["status"], "timeout", "{output}");
        assert_eq!(report["error"]["type"], "Timeout", "{output}");
    }
}

/// A NUL, or a value past the kernel's limit on one variable, is refused by `policy
/// check` naming the key, and by a run before bwrap sees it; a value just under the limit
/// reaches the program whole.
#[test]
fn values_that_cannot_reach_the_program_are_refused_by_check() {
    let ws = Workspace::new(&Runner::Caller);
    let long = "x".repeat(128 * 1024);
    for (text, key) in [
        (
            "[env]\nset = { A = \"a\\u0000b\" }\n".to_owned(),
            "`env.set.A` holds a NUL",
        ),
        (
            "[filesystem]\nread_only = [\"/usr\\u0000\"]\n".to_owned(),
            "`filesystem.read_only[0]` holds a NUL",
        ),
        (
            format!("[env]\nset = {{ A = \"{long}\" }}\n"),
            "`env.set.A` is 131072 bytes long",
        ),
    ] {
        let policy = ws.write("p.toml", &text);
        let check = boxpy(&ws).args(["policy", "check"]).arg(&policy).run();
        assert_exit(&check, 125);
        assert!(check.stderr_text().contains(key), "{check}");
        let output = run_in_venv(&ws)
            .arg("-P")
            .arg(&policy)
            .code("print('ran')")
            .run();
        assert_exit(&output, 125);
        assert_not_started(&output);
        assert!(!output.stderr_text().contains("bubblewrap"), "{output}");
    }
    // `A=` + value + NUL = 128 KiB exactly: accepted, and the program sees all of it.
    let fits = "y".repeat(128 * 1024 - 3);
    let policy = ws.write("p.toml", format!("[env]\nset = {{ A = \"{fits}\" }}\n"));
    let output = run_in_venv(&ws)
        .arg("-P")
        .arg(&policy)
        .code("import os; print('length', len(os.environ['A']))")
        .run();
    assert_started(&output);
    assert_eq!(output.line_after("length "), (128 * 1024 - 3).to_string());
}

#[test]
fn policy_check_takes_a_shipped_name() {
    let ws = Workspace::new(&Runner::Caller);
    for name in ["strict", "default", "net"] {
        let output = boxpy(&ws).args(["policy", "check", name]).run();
        assert_exit(&output, 0);
        assert!(
            output
                .stdout_text()
                .contains(&format!("`{name}` is a valid policy")),
            "{output}"
        );
    }
    let output = boxpy(&ws).args(["policy", "check", "stric"]).run();
    assert_exit(&output, 125);
    assert!(
        output.stderr_text().contains("did you mean `strict`"),
        "{output}"
    );
}

/// `policy init`'s file keeps the default's `env.pass`: a variable only the default's
/// list has (`NO_COLOR`, `COLUMNS`) still reaches the program.
#[test]
fn policy_init_keeps_the_default_variables() {
    let ws = Workspace::new(&Runner::Caller);
    let output = boxpy(&ws).args(["policy", "init"]).run();
    assert_exit(&output, 0);
    let written = std::fs::read_to_string(ws.work().join("boxpy.toml")).unwrap();
    for name in ["NO_COLOR", "COLUMNS", "LINES", "LC_CTYPE"] {
        assert!(
            written.contains(&format!("\"{name}\"")),
            "{name}: {written}"
        );
    }
    let output = run_in_venv(&ws)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "91")
        .code(&print_variables(&["NO_COLOR", "COLUMNS"]))
        .run();
    assert_started(&output);
    assert_eq!(output.line_after("NO_COLOR "), "1", "{output}");
    assert_eq!(output.line_after("COLUMNS "), "91", "{output}");
}

/// `extends` of a missing file names the file whose `extends` it is; a cycle shows the
/// chain.
#[test]
fn extends_errors_name_the_extending_file_and_the_chain() {
    let ws = Workspace::new(&Runner::Caller);
    let child = ws.write("child.toml", "extends = \"./missing.toml\"\n");
    let output = boxpy(&ws).args(["policy", "check"]).arg(&child).run();
    assert_exit(&output, 125);
    let stderr = output.stderr_text();
    assert!(stderr.contains("child.toml:1:11"), "{output}");
    assert!(stderr.contains("missing.toml"), "{output}");
    ws.write("a.toml", "extends = \"./b.toml\"\n");
    ws.write("b.toml", "extends = \"./a.toml\"\n");
    let output = boxpy(&ws)
        .args(["policy", "check"])
        .arg(ws.root().join("a.toml"))
        .run();
    assert_exit(&output, 125);
    let stderr = output.stderr_text();
    assert!(stderr.contains("forms a cycle"), "{output}");
    assert!(
        stderr.contains("a.toml` extends `") && stderr.contains("b.toml` extends `"),
        "shows the chain: {output}"
    );
}

/// `[tool.boxpy]` spelt as `[tool]` + an inline table is used (the program sees its
/// variable), `policy list` says so; `[[tool.boxpy]]` is refused naming it.
#[test]
fn pyproject_spellings_are_found_and_wrong_types_refused() {
    let ws = Workspace::new(&Runner::Caller);
    ws.write(
        "work/pyproject.toml",
        "[project]\nname = \"x\"\n\n[tool]\nboxpy = { env = { set = { FROM_PYPROJECT = \"yes\" } } }\n",
    );
    let output = run_in_venv(&ws)
        .code(&print_variables(&["FROM_PYPROJECT"]))
        .run();
    assert_started(&output);
    assert_eq!(output.line_after("FROM_PYPROJECT "), "yes", "{output}");
    let list = boxpy(&ws).args(["policy", "list"]).run();
    assert_exit(&list, 0);
    assert!(
        list.stdout_text().contains("in use: `[tool.boxpy]` of"),
        "{list}"
    );
    ws.write("work/pyproject.toml", "[[tool.boxpy]]\nextends = \"net\"\n");
    let output = run_in_venv(&ws).code("print('ran')").run();
    assert_exit(&output, 125);
    assert_not_started(&output);
    assert!(
        output
            .stderr_text()
            .contains("`tool.boxpy` must be a table"),
        "{output}"
    );
    ws.write("work/pyproject.toml", "[project]\nname = \"x\"\n");
    let list = boxpy(&ws).args(["policy", "list"]).run();
    assert!(
        list.stdout_text()
            .contains("no `[tool.boxpy]` table: not used"),
        "{list}"
    );
    assert!(
        list.stdout_text()
            .contains("in use: the built-in `default`"),
        "{list}"
    );
}

/// 20,000 `env.set` entries: the run starts and the program sees every one (render is
/// linear; `bench/run --case 8` measures the ratio).
#[test]
fn twenty_thousand_variables_reach_the_program() {
    let ws = Workspace::new(&Runner::Caller);
    let mut text = String::from("[env.set]\n");
    for index in 0..20_000 {
        text.push_str(&format!("BULK_{index:05} = \"{index}\"\n"));
    }
    let policy = ws.write("many.toml", text);
    let output = run_in_venv(&ws)
        .arg("-P")
        .arg(&policy)
        .code("import os; print('count', sum(1 for k in os.environ if k.startswith('BULK_')), os.environ['BULK_19999'])")
        .run();
    assert_started(&output);
    assert_eq!(output.line_after("count "), "20000 19999", "{output}");
}

/// `policy show` prints sizes and durations exactly: what it prints loads back to the same
/// policy and shows the same text (`1537` bytes stays `1537B`, not `1.5KiB`; `1.5s` is
/// `1500ms`; a mount with a destination stays one).
#[test]
fn policy_show_round_trips_exactly() {
    let ws = Workspace::new(&Runner::Caller);
    let policy = ws.write(
        "p.toml",
        "[limits]\nfile_size = 1537\ntimeout = \"1.5s\"\noutput = \"1.5K\"\n[filesystem]\nread_only = [{ path = \"/usr/share\", dest = \"/x\", optional = true }]\n[env]\nset = { TAB = \"a\\tb\", QUOTE = \"\\\"'\" }\n",
    );
    let show = |file: &std::path::Path| {
        let output = boxpy(&ws).args(["policy", "show", "-P"]).arg(file).run();
        assert_exit(&output, 0);
        // The body, without the header comments that name the policy.
        output
            .stdout_text()
            .lines()
            .skip_while(|line| line.starts_with('#') || line.is_empty())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let first = show(&policy);
    assert!(first.contains("file_size = \"1537B\""), "{first}");
    assert!(first.contains("timeout = \"1500ms\""), "{first}");
    assert!(first.contains("output = \"1536B\""), "{first}");
    let shown = ws.write("shown.toml", &first);
    assert_eq!(show(&shown), first);
}
