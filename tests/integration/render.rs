//! `boxpy render` prints something that runs by hand (issue 15): a bash script that opens
//! every descriptor the bwrap command names and then becomes bwrap, so
//! `boxpy render --seccomp-out sc.bpf -- -c CODE > r.sh; bash r.sh` runs the sandbox, and
//! nothing it prints leaves an orphaned bwrap.

use std::process::Command;

use crate::harness::{
    assert_exit, assert_no_process_left, boxpy, python, unique, venv, Runner, Venv, Workspace,
    MARKER,
};

/// `bash script` with `extra` redirections, from the workdir; its output.
fn run_script(ws: &Workspace, script: &str, redirect: Option<&str>) -> std::process::Output {
    let line = match redirect {
        Some(redirect) => format!("bash {script} {redirect}"),
        None => format!("bash {script}"),
    };
    Command::new("bash")
        .arg("-c")
        .arg(line)
        .current_dir(ws.work())
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", "/nonexistent-home")
        .output()
        .expect("run bash")
}

/// The command from the issue, exactly: the script runs the program in the sandbox, with
/// the seccomp filter (given as `5<sc.bpf` or opened by the script itself), and no
/// process outlives it.
#[test]
fn the_rendered_script_runs_by_hand() {
    let ws = Workspace::new(&Runner::Caller);
    let venv = venv(Venv::Debian).unwrap_or_else(|error| panic!("{error}"));
    let token = unique("render-token");
    let code = python(&format!(
        "import os\nprint({token:?}, os.getpid())\nprint('seccomp', open('/proc/self/status').read().split('Seccomp:')[1].split()[0])"
    ));
    let rendered = boxpy(&ws)
        .args(["render", "--venv"])
        .arg(&venv)
        .args(["--seccomp-out", "sc.bpf", "--", "-c"])
        .arg(&code)
        .run();
    assert_exit(&rendered, 0);
    std::fs::write(ws.work().join("r.sh"), rendered.stdout_text()).unwrap();
    for redirect in [Some("5<sc.bpf"), None] {
        let output = run_script(&ws, "r.sh", redirect);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stdout.contains(MARKER), "{redirect:?}: {stdout}\n{stderr}");
        assert!(stdout.contains(&token), "{stdout}\n{stderr}");
        // The program is PID 2 (the init is 1): it ran inside a PID namespace.
        assert!(stdout.contains(&format!("{token} 2")), "{stdout}\n{stderr}");
        assert!(
            stdout.contains("seccomp 2"),
            "filter mode: {stdout}\n{stderr}"
        );
        assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
        assert!(!stderr.contains("Bad file descriptor"), "{stderr}");
        assert_no_process_left(&token);
    }
}

/// Without `--seccomp-out`, the script refuses to start (125) unless descriptor 5 holds
/// the filter, and says how to give it; no bwrap is started.
#[test]
fn the_rendered_script_without_a_filter_says_how_to_give_it() {
    let ws = Workspace::new(&Runner::Caller);
    let venv = venv(Venv::Debian).unwrap_or_else(|error| panic!("{error}"));
    let token = unique("render-token");
    let rendered = boxpy(&ws)
        .args(["render", "--venv"])
        .arg(&venv)
        .args(["--", "-c"])
        .arg(python(&format!("print({token:?})")))
        .run();
    assert_exit(&rendered, 0);
    std::fs::write(ws.work().join("r.sh"), rendered.stdout_text()).unwrap();
    let output = run_script(&ws, "r.sh", None);
    assert_eq!(output.status.code(), Some(125));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--seccomp-out FILE"), "{stderr}");
    assert!(!String::from_utf8_lossy(&output.stdout).contains(MARKER));
    assert_no_process_left(&token);
}
