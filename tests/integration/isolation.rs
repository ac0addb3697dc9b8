//! What the program must not see or change (SPEC §4, "What the sandbox guarantees"): the
//! caller's home and environment, host paths outside the workdir, the venv, host `/tmp`,
//! host processes, `/etc/shadow`, SSH host keys and `/run` sockets.
//!
//! Every test runs as the caller and as an unprivileged user, proves Python started, then
//! that the attempt was refused (a specific error), then that the host did not change.

use std::path::{Path, PathBuf};

use crate::harness::{
    assert_absent_on_host, assert_exit, assert_started, assert_write_refused, assert_written,
    boxpy, is_root, non_tmp_work_dir, probe_then, py, py_path, run_in_venv, runner_tests, unique,
    venv, RemoveOnDrop, Runner, Venv, Workspace,
};

/// The errors a write outside every writable mount may fail with.
const REFUSED: &[&str] = &["EROFS", "EACCES", "ENOENT", "EPERM"];

/// A file only the runner's user may read, planted in a real host directory for this test.
fn plant_secret(runner: &Runner, dir: &Path, name: &str) -> RemoveOnDrop {
    let path = dir.join(name);
    std::fs::write(&path, "host secret, must stay invisible\n").expect("plant the secret");
    runner.chown(&path);
    RemoveOnDrop(path)
}

/// Python that tries to create each of `paths`.
fn attempt_writes(paths: &[&Path]) -> String {
    probe_then(
        &paths
            .iter()
            .map(|path| format!("attempt_write({})\n", py_path(path)))
            .collect::<String>(),
    )
}

runner_tests! {
    /// A file in the caller's real home is invisible; HOME inside is a private, writable
    /// directory whose writes never reach the real home.
    fn home_files_are_invisible_and_home_is_writable(runner) {
        let ws = Workspace::new(&runner);
        let home = runner.home();
        let secret = plant_secret(&runner, &home, &unique("boxpy-secret"));
        let probe_name = unique("boxpy-home-probe");
        let output = run_in_venv(&ws)
            .code(&probe_then(&format!(
                r#"
                import os
                secret = {secret}
                home = os.path.dirname(secret)
                print("exists", os.path.exists(secret))
                try:
                    listed = os.path.basename(secret) in os.listdir(home)
                except OSError as error:
                    listed = f"not listable: {{type(error).__name__}}"
                print("listed", listed)
                print("HOME", os.environ["HOME"])
                attempt_write(os.path.join(os.environ["HOME"], {probe}))
                "#,
                secret = py_path(&secret.0),
                probe = py(&probe_name),
            )))
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(output.line_after("exists "), "False", "{output}");
        assert_ne!(output.line_after("listed "), "True", "{output}");
        let inside_home = PathBuf::from(output.line_after("HOME "));
        assert_written(&output, &inside_home.join(&probe_name));
        assert_absent_on_host(&home.join(&probe_name));
        assert_absent_on_host(&inside_home.join(&probe_name));
    }

    /// A variable in boxpy's environment does not reach the program unless passed.
    fn secret_environment_variable_is_not_passed(runner) {
        let ws = Workspace::new(&runner);
        let secret = unique("s3cret-value");
        let output = run_in_venv(&ws)
            .env("BOXPY_TEST_SECRET", &secret)
            .code(&format!(
                r#"
                import os
                print("named", "BOXPY_TEST_SECRET" in os.environ)
                print("anywhere", any({value} in v for v in os.environ.values()))
                print("proc", {value}.encode() in open("/proc/self/environ", "rb").read())
                "#,
                value = py(&secret)
            ))
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(output.line_after("named "), "False", "{output}");
        assert_eq!(output.line_after("anywhere "), "False", "{output}");
        assert_eq!(output.line_after("proc "), "False", "{output}");
    }

    /// `--env KEY` passes the host's value; `--env KEY=VALUE` sets one.
    fn env_flag_passes_and_sets_variables(runner) {
        let ws = Workspace::new(&runner);
        let secret = unique("passed-on-purpose");
        let output = run_in_venv(&ws)
            .env("BOXPY_TEST_SECRET", &secret)
            .args(["--env", "BOXPY_TEST_SECRET", "--env", "BOXPY_TEST_SET=set by --env"])
            .code(
                r#"
                import os
                print("passed", os.environ.get("BOXPY_TEST_SECRET"))
                print("set", os.environ.get("BOXPY_TEST_SET"))
                "#,
            )
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(output.line_after("passed "), secret, "{output}");
        assert_eq!(output.line_after("set "), "set by --env", "{output}");
    }

    /// `/usr` is read-only.
    fn write_to_usr_is_refused(runner) {
        let ws = Workspace::new(&runner);
        let target = PathBuf::from("/usr").join(unique("boxpy-test"));
        let output = run_in_venv(&ws).code(&attempt_writes(&[&target])).run();
        assert_write_refused(&output, &target, REFUSED);
        assert_absent_on_host(&target);
    }

    /// `/etc` is not writable (inside the sandbox either: not a scratch area).
    fn write_to_etc_is_refused(runner) {
        let ws = Workspace::new(&runner);
        let target = PathBuf::from("/etc").join(unique("boxpy-test"));
        let output = run_in_venv(&ws).code(&attempt_writes(&[&target])).run();
        assert_absent_on_host(&target);
        assert_write_refused(&output, &target, REFUSED);
    }

    /// The workdir's parent (here outside /tmp, and owned by the user) is not writable.
    fn write_to_parent_of_workdir_is_refused(runner) {
        let ws = Workspace::new_in(&non_tmp_work_dir(), &runner);
        runner.chown(&ws.root());
        let target = ws.root().join("escaped.txt");
        let output = run_in_venv(&ws).code(&attempt_writes(&[&target])).run();
        assert_absent_on_host(&target);
        assert_write_refused(&output, &target, REFUSED);
    }

    /// A workdir under host /tmp: its parent inside is the private /tmp, so a write there
    /// may succeed but must never reach the host.
    fn write_to_parent_of_workdir_under_tmp_stays_private(runner) {
        let ws = Workspace::new(&runner);
        runner.chown(&ws.root());
        let target = ws.root().join("escaped.txt");
        let output = run_in_venv(&ws).code(&attempt_writes(&[&target])).run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_absent_on_host(&target);
    }

    /// The workdir is writable and the file appears on the host with its content.
    fn workdir_is_writable_and_changes_reach_the_host(runner) {
        let ws = Workspace::new(&runner);
        let target = ws.work().join("result.txt");
        let content = unique("written in the sandbox");
        let output = run_in_venv(&ws)
            .code(&probe_then(&format!(
                "attempt_write({}, {})",
                py_path(&target),
                py(&content)
            )))
            .run();
        assert_written(&output, &target);
        assert_eq!(std::fs::read_to_string(&target).expect("the file on the host"), content);
    }

    /// A venv outside the workdir (owned by the user) is read-only.
    fn venv_is_read_only(runner) {
        let ws = Workspace::new(&runner);
        let venv = ws.make_venv("venv");
        let site = venv.join("lib/python3.11/site-packages");
        let targets = [venv.join("planted.txt"), venv.join("pyvenv.cfg"), site.join("planted.py")];
        let config = std::fs::read(venv.join("pyvenv.cfg")).expect("pyvenv.cfg");
        let code = format!(
            "{}import sys\nprint('prefix', sys.prefix)\n",
            attempt_writes(&targets.iter().map(PathBuf::as_path).collect::<Vec<_>>())
        );
        let output = boxpy(&ws).arg("run").arg("--venv").arg(&venv).code(&code).run();
        assert_started(&output);
        assert_eq!(output.line_after("prefix "), venv.display().to_string(), "{output}");
        for target in &targets {
            assert_write_refused(&output, target, &["EROFS"]);
        }
        assert_absent_on_host(&targets[0]);
        assert_absent_on_host(&targets[2]);
        assert_eq!(std::fs::read(venv.join("pyvenv.cfg")).expect("pyvenv.cfg"), config);
    }

    /// `.venv` inside the (writable) workdir is still read-only.
    fn dot_venv_inside_workdir_is_read_only(runner) {
        let ws = Workspace::new(&runner);
        let venv = ws.make_venv("work/.venv");
        let targets = [venv.join("planted.txt"), venv.join("bin/python-planted")];
        let code = format!(
            "{}import sys\nprint('prefix', sys.prefix)\n",
            attempt_writes(&targets.iter().map(PathBuf::as_path).collect::<Vec<_>>())
        );
        let output = boxpy(&ws).arg("run").code(&code).run();
        assert_started(&output);
        assert_eq!(output.line_after("prefix "), venv.display().to_string(), "{output}");
        for target in &targets {
            assert_write_refused(&output, target, &["EROFS"]);
            assert_absent_on_host(target);
        }
    }

    /// /tmp inside is writable but private in both directions.
    fn tmp_is_private(runner) {
        let ws = Workspace::new(&runner);
        let host_file = plant_secret(&runner, Path::new("/tmp"), &unique("boxpy-host-tmp"));
        let sandbox_file = PathBuf::from("/tmp").join(unique("boxpy-sandbox-tmp"));
        let output = run_in_venv(&ws)
            .code(&probe_then(&format!(
                r#"
                import os
                print("host file visible", os.path.exists({host}))
                print("host file listed", os.path.basename({host}) in os.listdir("/tmp"))
                attempt_write({sandbox})
                "#,
                host = py_path(&host_file.0),
                sandbox = py_path(&sandbox_file),
            )))
            .run();
        assert_started(&output);
        assert_eq!(output.line_after("host file visible "), "False", "{output}");
        assert_eq!(output.line_after("host file listed "), "False", "{output}");
        assert_written(&output, &sandbox_file);
        assert_absent_on_host(&sandbox_file);
    }

    /// /proc shows the sandbox's own processes only: its init and the program.
    fn proc_shows_only_sandbox_processes(runner) {
        let ws = Workspace::new(&runner);
        let output = run_in_venv(&ws)
            .code(
                r#"
                import os, sys
                print("self", sys.executable)
                for pid in sorted(int(p) for p in os.listdir("/proc") if p.isdigit()):
                    try:
                        argv0 = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[0].decode()
                    except OSError as error:
                        argv0 = f"<{type(error).__name__}>"
                    print("pid", pid, argv0)
                "#,
            )
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        let program = output.line_after("self ");
        let processes: Vec<(String, String)> = output
            .stdout_text()
            .lines()
            .filter_map(|line| line.strip_prefix("pid "))
            .filter_map(|rest| rest.split_once(' '))
            .map(|(pid, argv0)| (pid.to_owned(), argv0.to_owned()))
            .collect();
        assert!(
            processes.iter().any(|(_, argv0)| *argv0 == program),
            "the program does not see itself in /proc: {output}"
        );
        for (pid, argv0) in &processes {
            assert!(
                argv0.starts_with("/proc/self/fd/") || *argv0 == program,
                "pid {pid} `{argv0}` is not a sandbox process: {output}"
            );
        }
        assert!(processes.len() <= 3, "too many processes visible: {output}");
    }

    /// /etc/shadow and /etc/gshadow cannot be read, even when boxpy runs as root.
    fn shadow_is_not_readable(runner) {
        assert!(Path::new("/etc/shadow").exists(), "the host has no /etc/shadow to hide");
        let ws = Workspace::new(&runner);
        let output = run_in_venv(&ws)
            .code(
                r#"
                for path in ["/etc/shadow", "/etc/gshadow"]:
                    try:
                        data = open(path).read()
                        print(path, "READ", len(data))
                    except OSError as error:
                        print(path, type(error).__name__)
                "#,
            )
            .run();
        assert_started(&output);
        for path in ["/etc/shadow ", "/etc/gshadow "] {
            let result = output.line_after(path);
            assert!(
                result == "FileNotFoundError" || result == "PermissionError",
                "{path}was readable: {output}"
            );
        }
    }

    /// SSH host keys are invisible (as root, a key file is planted in the host's /etc/ssh).
    fn ssh_host_keys_are_invisible(runner) {
        let ws = Workspace::new(&runner);
        let planted = (is_root() && Path::new("/etc/ssh").is_dir()).then(|| {
            let path = PathBuf::from(format!("/etc/ssh/ssh_host_{}_key", unique("boxpytest")));
            std::fs::write(&path, "-----BEGIN OPENSSH PRIVATE KEY----- (test)\n").expect("plant key");
            crate::harness::set_mode(&path, 0o644);
            RemoveOnDrop(path)
        });
        if planted.is_none() {
            eprintln!("note: not root or no /etc/ssh; only the host's existing keys are checked");
        }
        let key = planted
            .as_ref()
            .map(|guard| guard.0.clone())
            .unwrap_or_else(|| PathBuf::from("/etc/ssh/ssh_host_ed25519_key"));
        let output = run_in_venv(&ws)
            .code(&format!(
                r#"
                import glob
                print("visible keys", glob.glob("/etc/ssh/ssh_host_*"))
                try:
                    open({key}).read()
                    print("key READ")
                except OSError as error:
                    print("key", type(error).__name__)
                "#,
                key = py_path(&key)
            ))
            .run();
        assert_started(&output);
        assert_eq!(output.line_after("visible keys "), "[]", "{output}");
        let result = output.line_after("key ");
        assert!(
            result == "FileNotFoundError" || result == "PermissionError",
            "the host key was readable: {output}"
        );
    }

    /// Host sockets under /run are absent; a socket planted there (as root) is unreachable.
    fn run_sockets_are_invisible(runner) {
        if !Path::new("/run/dbus").exists() {
            eprintln!("note: the host has no /run/dbus; only the planted socket is checked");
        }
        let ws = Workspace::new(&runner);
        let planted = is_root().then(|| {
            let path = PathBuf::from("/run").join(format!("{}.sock", unique("boxpy-test")));
            let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind a socket");
            listener.set_nonblocking(true).expect("non-blocking");
            crate::harness::set_mode(&path, 0o777);
            (listener, RemoveOnDrop(path))
        });
        let socket = planted
            .as_ref()
            .map(|(_, guard)| guard.0.clone())
            .unwrap_or_else(|| PathBuf::from("/run/dbus/system_bus_socket"));
        let output = run_in_venv(&ws)
            .code(&format!(
                r#"
                import os, socket, stat
                client = socket.socket(socket.AF_UNIX)
                try:
                    client.connect({socket})
                    print("connect CONNECTED")
                except OSError as error:
                    print("connect", type(error).__name__)
                print("dbus", os.path.exists("/run/dbus"), os.path.exists("/var/run/dbus"))
                found = []
                for top in ["/run", "/var/run"]:
                    for directory, _, files in os.walk(top):
                        for name in files:
                            path = os.path.join(directory, name)
                            if stat.S_ISSOCK(os.lstat(path).st_mode):
                                found.append(path)
                print("sockets", found)
                "#,
                socket = py_path(&socket)
            ))
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(output.line_after("connect "), "FileNotFoundError", "{output}");
        assert_eq!(output.line_after("dbus "), "False False", "{output}");
        assert_eq!(output.line_after("sockets "), "[]", "{output}");
        if let Some((listener, _)) = &planted {
            assert!(listener.accept().is_err(), "the planted host socket got a connection");
        }
    }
}

/// The cached Debian venv (shared by every test) is read-only too, for the caller.
#[test]
fn shared_venv_is_read_only() {
    let ws = Workspace::new(&Runner::Caller);
    let venv = venv(Venv::Debian).expect("the Debian venv");
    let target = venv.join(unique("planted"));
    let output = run_in_venv(&ws).code(&attempt_writes(&[&target])).run();
    assert_write_refused(&output, &target, &["EROFS"]);
    assert_absent_on_host(&target);
}
