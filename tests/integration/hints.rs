//! Hinted reports (SPEC §6) produced by real runs: every policy-aware hint case, the
//! report's shape on stderr, `--json`'s `error` object, `-q`, colour, and no report for a
//! program that succeeded.

use crate::harness::{
    assert_exit, assert_started, boxpy, non_tmp_work_dir, py_path, run_in_venv, runner_tests,
    unique, venv, Output, Venv, Workspace,
};

/// The text after `hint: ` in boxpy's report.
fn hint(output: &Output) -> String {
    output
        .stderr_text()
        .lines()
        .find_map(|line| line.strip_prefix("hint: ").map(str::to_owned))
        .unwrap_or_else(|| panic!("no hint in the report: {output}"))
}

/// The `error:` line of boxpy's report (after the program's own stderr).
fn error_line(output: &Output) -> String {
    output
        .stderr_text()
        .lines()
        .find_map(|line| line.strip_prefix("error: ").map(str::to_owned))
        .unwrap_or_else(|| panic!("no report: {output}"))
}

fn assert_hint_mentions(output: &Output, needles: &[&str]) {
    let hint = hint(output);
    for needle in needles {
        assert!(
            hint.contains(needle),
            "hint should mention {needle:?}, got {hint:?}: {output}"
        );
    }
}

runner_tests! {
    /// A connection error under `network = "none"` names `network.mode` and `--network full`.
    fn network_error_names_the_network_key(runner) {
        let ws = Workspace::new(&runner);
        let output = run_in_venv(&ws)
            .code("import urllib.request\nurllib.request.urlopen('http://example.com', timeout=5)")
            .run();
        assert_started(&output);
        assert_exit(&output, 1);
        assert!(error_line(&output).starts_with("urllib.error.URLError"), "{output}");
        assert_hint_mentions(&output, &["network.mode", "--network full"]);
    }

    /// A write into a `--ro` mount names that flag and the `--rw` that fixes it.
    fn read_only_mount_names_the_flag(runner) {
        let ws = Workspace::new(&runner);
        let data = ws.dir("data");
        let output = run_in_venv(&ws)
            .arg("--ro")
            .arg(&data)
            .code(&format!("open({} + '/out.txt', 'w')", py_path(&data)))
            .run();
        assert_started(&output);
        assert_exit(&output, 1);
        assert!(error_line(&output).contains("Read-only file system"), "{output}");
        assert_hint_mentions(&output, &["`--ro`", &format!("--rw {}", data.display())]);
        assert!(!data.join("out.txt").exists());
    }

    /// A write outside every writable path says which key makes a path writable.
    fn write_outside_the_workdir_names_read_write(runner) {
        let ws = Workspace::new(&runner);
        let outside = ws.dir("outside");
        let target = outside.join("result.txt");
        let output = run_in_venv(&ws)
            .code(&format!("open({}, 'w')", py_path(&target)))
            .run();
        assert_started(&output);
        assert_exit(&output, 1);
        assert_hint_mentions(&output, &["filesystem.read_write", "--rw"]);
        assert!(!target.exists());
    }

    /// A host file that exists but is not mounted: the hint says `--ro PATH`.
    fn unmounted_host_path_suggests_ro(runner) {
        let ws = Workspace::new(&runner);
        let secret = ws.write("elsewhere/input.csv", "a,b\n1,2\n");
        let output = run_in_venv(&ws)
            .code(&format!("open({}).read()", py_path(&secret)))
            .run();
        assert_started(&output);
        assert_exit(&output, 1);
        assert!(error_line(&output).starts_with("FileNotFoundError"), "{output}");
        assert_hint_mentions(&output, &[&format!("--ro {}", secret.display())]);
    }

    /// A missing module: the exact pip command for the venv in use.
    fn missing_module_gives_the_venvs_pip_command(runner) {
        let ws = Workspace::new(&runner);
        let venv = venv(Venv::Debian).unwrap();
        let output = run_in_venv(&ws).code("import boxpy_surely_not_installed").run();
        assert_started(&output);
        assert_exit(&output, 1);
        assert_hint_mentions(
            &output,
            &[
                "is not installed in",
                &format!("{}/bin/python -m pip install boxpy_surely_not_installed", venv.display()),
            ],
        );
    }

    /// `guards.deny_imports` raises ImportError naming the key; other imports still work,
    /// including a sitecustomize further down the path.
    fn denied_import_names_the_guard(runner) {
        let ws = Workspace::new(&runner);
        ws.write("work/boxpy.toml", "[guards]\ndeny_imports = [\"sqlite3\", \"xml.dom\"]\n");
        let output = run_in_venv(&ws)
            .code(
                r#"
                import json, xml.sax
                print("allowed imports work")
                try:
                    import xml.dom.minidom
                except ImportError as error:
                    print("blocked:", error)
                import sqlite3
                "#,
            )
            .run();
        assert_started(&output);
        assert_exit(&output, 1);
        let stdout = output.stdout_text();
        assert!(stdout.contains("allowed imports work"), "{output}");
        assert!(stdout.contains("blocked: import of 'xml.dom' is blocked by the boxpy policy (guards.deny_imports)"), "{output}");
        assert!(error_line(&output).starts_with("ImportError"), "{output}");
        assert_hint_mentions(&output, &["`sqlite3`", "guards.deny_imports"]);
    }

    /// A full /tmp names `filesystem.tmp_size`.
    fn full_tmp_names_tmp_size(runner) {
        let ws = Workspace::new(&runner);
        ws.write("work/boxpy.toml", "[filesystem]\ntmp_size = \"4MiB\"\n");
        let output = run_in_venv(&ws)
            .code("with open('/tmp/fill', 'wb') as f:\n    f.write(b'x' * (8 << 20))")
            .run();
        assert_started(&output);
        assert_exit(&output, 1);
        assert!(error_line(&output).contains("No space left on device"), "{output}");
        assert_hint_mentions(&output, &["filesystem.tmp_size", "4MiB"]);
    }

    /// A file over `limits.file_size` names that key (SIGXFSZ or EFBIG).
    fn large_file_names_file_size(runner) {
        let ws = Workspace::new(&runner);
        ws.write("work/boxpy.toml", "[limits]\nfile_size = \"1MiB\"\n");
        let output = run_in_venv(&ws)
            .code("with open('big.bin', 'wb') as f:\n    f.write(b'x' * (2 << 20))")
            .run();
        assert_started(&output);
        assert_ne!(output.code, Some(0), "{output}");
        assert_hint_mentions(&output, &["limits.file_size"]);
    }

    /// Fork failures name `limits.processes`.
    fn fork_failure_names_processes(runner) {
        let ws = Workspace::new(&runner);
        ws.write("work/boxpy.toml", "[limits]\nprocesses = 16\n");
        let output = run_in_venv(&ws)
            .code(
                r#"
                import os, time
                children = []
                for _ in range(64):
                    pid = os.fork()
                    if pid == 0:
                        time.sleep(2)
                        os._exit(0)
                    children.append(pid)
                "#,
            )
            .run();
        assert_started(&output);
        assert_exit(&output, 1);
        assert!(error_line(&output).starts_with("BlockingIOError"), "{output}");
        assert_hint_mentions(&output, &["limits.processes", "16"]);
    }

    /// Running out of memory names `limits.memory`, whether the memory cgroup killed the
    /// program (root) or RLIMIT_DATA made the allocation fail (ordinary user).
    fn memory_exhaustion_names_memory(runner) {
        let ws = Workspace::new(&runner);
        let output = run_in_venv(&ws)
            .args(["--memory", "64MiB"])
            .code("blocks = [bytearray(16 << 20) for _ in range(32)]")
            .run();
        assert_started(&output);
        assert_ne!(output.code, Some(0), "{output}");
        assert_hint_mentions(&output, &["limits.memory", "64MiB"]);
    }

    /// Threads that hit MemoryError together garble each other's report beyond parsing
    /// (this stderr was captured from a memory bomb with three worker threads): the report
    /// still names `limits.memory`. The same garble without a MemoryError gets no report.
    fn garbled_memory_errors_still_name_memory(runner) {
        let ws = Workspace::new(&runner);
        let garbled = "Exception in thread Thread-3 (eat)Traceback (most recent call last):\n  File \"<string>\", line 10, in <module>\n  File \"<string>\", line 6, in eat\nMemoryErrorException in thread Exception in thread Thread-2 (eat):\nTraceback (most recent call last):\n  File \"/usr/lib/python3.11/threading.py\", line 1038, in _bootstrap_inner\nThread-1 (eat)\n:\n:\nTraceback (most recent call last):\nTraceback (most recent call last):\n";
        // Writes `text` to stderr and fails, under a memory limit.
        let run_writing = |text: &str| {
            run_in_venv(&ws)
                .args(["--memory", "64MiB"])
                .code(&format!("import sys\nsys.stderr.write({text:?})\nsys.exit(1)"))
                .run()
        };
        let output = run_writing(garbled);
        assert_started(&output);
        assert_eq!(error_line(&output), "MemoryError", "{output}");
        // More captures: the exception line glued behind another thread's source line, and
        // a thread whose stack could not be had (RLIMIT_DATA counts it).
        let glued = "Exception in thread Traceback (most recent call last):\n  File \"<string>\", line 10, in <module>\nException in thread Thread-3 (eat):\nTraceback (most recent call last):\n  File \"/usr/lib/python3.11/threading.py\", line 1038, in _bootstrap_inner\nException in thread Thread-1 (eat)  File \"<string>\", line 6, in eat\n:\n    Traceback (most recent call last):\n  File \"/usr/lib/python3.11/threading.py\", line 1038, in _bootstrap_inner\nself.run()MemoryError\n";
        let no_thread = "Exception in thread Traceback (most recent call last):\nException in thread Thread-2 (eat):\nTraceback (most recent call last):\n  File \"<string>\", line 9, in <module>\n  File \"/usr/lib/python3.11/threading.py\", line 957, in start\n  File \"/usr/lib/python3.11/threading.py\", line 1038, in _bootstrap_inner\nThread-1 (eat):\n    _start_new_thread(self._bootstrap, ())\nRuntimeError: can't start new thread\n";
        for text in [garbled, glued, no_thread] {
            let output = run_writing(text);
            assert_exit(&output, 1);
            assert_hint_mentions(&output, &["limits.memory", "64MiB"]);
        }

        let control = run_writing(&garbled.replace("MemoryError", ""));
        assert_exit(&control, 1);
        assert!(!control.stderr_text().contains("\nerror: "), "{control}");
    }

    /// The CPU limit and the wall clock each name their key.
    fn cpu_and_timeout_name_their_keys(runner) {
        let ws = Workspace::new(&runner);
        let cpu = run_in_venv(&ws).args(["--cpu", "1s"]).code("while True: pass").run();
        assert_started(&cpu);
        assert_exit(&cpu, 128 + 24);
        assert_hint_mentions(&cpu, &["limits.cpu"]);
        let wall = run_in_venv(&ws)
            .args(["--timeout", "1s"])
            .code("import time\ntime.sleep(30)")
            .run();
        assert_started(&wall);
        assert_exit(&wall, 124);
        assert_hint_mentions(&wall, &["limits.timeout", "--timeout"]);
    }
}

/// The report's shape: the user's frame with its source line, where it was raised, and the
/// hint, after the program's own traceback.
#[test]
fn report_points_at_the_users_line_and_the_library_frame() {
    let ws = Workspace::new(&crate::harness::Runner::Caller);
    ws.write(
        "work/analyze.py",
        "import json\n\n\ndef load(text):\n    return json.loads(text)\n\n\nload('{')\n",
    );
    let output = run_in_venv(&ws).arg("analyze.py").run();
    assert_exit(&output, 1);
    let stderr = output.stderr_text();
    let traceback_end = stderr
        .find("json.decoder.JSONDecodeError")
        .expect("python's traceback");
    let report = stderr
        .find("error: json.decoder.JSONDecodeError")
        .expect("boxpy's report");
    assert!(
        traceback_end < report,
        "the report comes after the program's output"
    );
    assert!(stderr.contains(" --> analyze.py:5\n"), "{output}");
    assert!(stderr.contains("5 | return json.loads(text)"), "{output}");
    assert!(stderr.contains("= raised in /usr/lib/python3"), "{output}");
    assert!(stderr.contains("hint: "), "{output}");
}

/// `--json`: one object, the documented fields, the error located with its hint.
#[test]
fn json_error_object_has_the_documented_fields() {
    let ws = Workspace::new(&crate::harness::Runner::Caller);
    let output = run_in_venv(&ws)
        .arg("--json")
        .code("import socket\nsocket.create_connection(('127.0.0.1', 9), timeout=3)")
        .run();
    assert_exit(&output, 1);
    let result = output.json();
    for field in [
        "schema",
        "status",
        "exit_code",
        "signal",
        "duration_ms",
        "stdout",
        "stderr",
        "stdout_truncated",
        "stderr_truncated",
        "error",
        "resources",
        "policy",
        "discarded",
        "notices",
    ] {
        assert!(result.get(field).is_some(), "missing {field}: {result}");
    }
    assert_eq!(result["status"], "failed");
    assert_eq!(result["exit_code"], 1);
    let error = &result["error"];
    assert_eq!(error["type"], "ConnectionRefusedError", "{result}");
    assert_eq!(error["file"], "<string>");
    assert_eq!(error["line"], 3, "the harness's marker line comes first");
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("Connection refused"));
    assert!(
        error["hint"].as_str().unwrap().contains("network.mode"),
        "{result}"
    );
    assert!(
        result["stderr"].as_str().unwrap().contains("Traceback"),
        "program output captured"
    );
    assert!(result["resources"]["cpu_ms"].is_u64() && result["resources"]["max_rss_kib"].is_u64());
    assert_eq!(result["policy"]["network"], "none");
}

/// A successful program gets no report, even when its output looks like an error.
#[test]
fn success_is_never_reported() {
    let ws = Workspace::new(&crate::harness::Runner::Caller);
    let snippet = r#"
        import sys, traceback
        print("Error: this is just a message", file=sys.stderr)
        try:
            {}["missing"]
        except KeyError:
            traceback.print_exc()
        "#;
    let output = run_in_venv(&ws).code(snippet).run();
    assert_started(&output);
    assert_exit(&output, 0);
    assert!(
        !output.stderr_text().contains("error: KeyError"),
        "{output}"
    );
    assert!(!output.stderr_text().contains("hint:"), "{output}");
    let json = run_in_venv(&ws).arg("--json").code(snippet).run().json();
    assert_eq!(json["status"], "ok");
    assert!(json["error"].is_null(), "{json}");
}

/// `-q` keeps only the program's output; `--color always` colours the report; `NO_COLOR`
/// turns `auto` off.
#[test]
fn quiet_and_colour() {
    let ws = Workspace::new(&crate::harness::Runner::Caller);
    let failing = "raise ValueError('nope')";
    let quiet = run_in_venv(&ws).arg("-q").code(failing).run();
    assert_exit(&quiet, 1);
    assert!(
        quiet.stderr_text().contains("ValueError: nope"),
        "the program's own traceback stays"
    );
    assert!(
        !quiet.stderr_text().contains("error: ValueError"),
        "{quiet}"
    );
    let coloured = run_in_venv(&ws)
        .args(["--color", "always"])
        .code(failing)
        .run();
    assert!(coloured.stderr_text().contains("\u{1b}["), "{coloured}");
    let plain = run_in_venv(&ws)
        .args(["--color", "auto"])
        .env("NO_COLOR", "1")
        .code(failing)
        .run();
    assert!(
        plain.stderr_text().contains("error: ValueError: nope"),
        "{plain}"
    );
    assert!(!plain.stderr_text().contains("\u{1b}["), "{plain}");
}

/// Namespace refusal is reported by `boxpy` itself with host advice (fake bwrap).
#[test]
fn namespace_refusal_hint_mentions_doctor() {
    let ws = Workspace::new(&crate::harness::Runner::Caller);
    let fake = ws.write(
        "fake-bwrap",
        "#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n",
    );
    crate::harness::set_mode(&fake, 0o755);
    let output = boxpy(&ws)
        .env("BOXPY_BWRAP", &fake)
        .args(["run", "-c", "pass"])
        .run();
    assert_exit(&output, 125);
    let stderr = output.stderr_text();
    assert!(stderr.contains("namespaces"), "{output}");
    assert!(stderr.contains("boxpy doctor"), "{output}");
}

/// The guard's sitecustomize works with a Python that has no sitecustomize of its own to
/// chain to (pyenv's): no `Error in sitecustomize` noise on every run.
#[test]
fn deny_imports_without_a_sitecustomize_to_chain() {
    let Ok(pyenv) = venv(Venv::Pyenv) else {
        eprintln!("SKIPPED: no pyenv venv here");
        return;
    };
    let ws = Workspace::new(&crate::harness::Runner::Caller);
    ws.write(
        "work/boxpy.toml",
        "[guards]\ndeny_imports = [\"sqlite3\"]\n",
    );
    let output = boxpy(&ws)
        .args(["run", "--venv"])
        .arg(&pyenv)
        .args(["-c", "import json\nprint('fine')\nimport sqlite3"])
        .run();
    assert_exit(&output, 1);
    assert!(output.stdout_text().contains("fine"), "{output}");
    assert!(
        !output.stderr_text().contains("Error in sitecustomize"),
        "{output}"
    );
    assert!(hint(&output).contains("guards.deny_imports"), "{output}");
}

/// Issue 15: the hints that sent a new user the wrong way, each with the real binary.
mod first_hour {
    use super::*;

    /// boxpy's own lines after the program's output (its notices), without the prefix.
    fn notices(output: &Output) -> Vec<String> {
        output
            .stderr_text()
            .lines()
            .filter_map(|line| line.strip_prefix("boxpy: notice: ").map(str::to_owned))
            .collect()
    }

    runner_tests! {
        /// `os.environ["NAME"]` for a variable the host has: the sandbox cleared it, pass
        /// it with `--env`; its value never appears. A credential-looking name says so.
        /// Unset on the host: the `.get(...)` hint.
        fn environ_key_error_names_env_when_the_host_has_it(runner) {
            let ws = Workspace::new(&runner);
            let value = "boxpy-test-value-never-shown";
            let lookup = |name: &str| {
                run_in_venv(&ws)
                    .env("BOXPY_TEST_REGION", value)
                    .env("BOXPY_TEST_API_KEY", value)
                    .code(&format!("import os\nos.environ[{name:?}]"))
                    .run()
            };
            let output = lookup("BOXPY_TEST_REGION");
            assert_started(&output);
            assert_exit(&output, 1);
            assert_eq!(
                hint(&output),
                "`BOXPY_TEST_REGION` is set on the host, but the sandbox starts with a cleared environment; pass it with `--env BOXPY_TEST_REGION` (or list it in `env.pass`)"
            );
            assert!(!output.stderr_text().contains(value), "{output}");

            let output = lookup("BOXPY_TEST_API_KEY");
            assert_started(&output);
            assert_hint_mentions(&output, &["`--env BOXPY_TEST_API_KEY`", "env.pass", "looks like a credential"]);
            assert!(!output.stderr_text().contains(value), "{output}");

            let output = lookup("BOXPY_TEST_NOT_SET_ANYWHERE");
            assert_started(&output);
            assert_eq!(
                hint(&output),
                "`BOXPY_TEST_NOT_SET_ANYWHERE` is not set, on the host either; use `os.environ.get('BOXPY_TEST_NOT_SET_ANYWHERE')` for an optional variable, or set it with `--env BOXPY_TEST_NOT_SET_ANYWHERE=VALUE` (or `env.set`)"
            );

            // Passed as the hint says: the program sees it.
            let output = run_in_venv(&ws)
                .env("BOXPY_TEST_REGION", value)
                .args(["--env", "BOXPY_TEST_REGION"])
                .code("import os\nprint(len(os.environ['BOXPY_TEST_REGION']))")
                .run();
            assert_exit(&output, 0);
            assert!(output.stdout_text().contains(&value.len().to_string()), "{output}");
        }

        /// `os.makedirs("/data/out")` outside every mount: never `--rw /` (refused) nor
        /// `/tmp` (discarded); the workdir or `-w`. Under an existing directory the gate
        /// would admit, still no directory named: the program chose the path, and the user
        /// chooses what is writable. Nothing appears on the host.
        fn makedirs_outside_every_mount_never_suggests_rw_root(runner) {
            let ws = Workspace::new_in(&non_tmp_work_dir(), &runner);
            let top = std::path::PathBuf::from("/").join(unique("boxpy-test-data"));
            let output = run_in_venv(&ws)
                .code(&format!("import os\nos.makedirs({})", py_path(&top.join("out"))))
                .run();
            assert_started(&output);
            assert_exit(&output, 1);
            let text = hint(&output);
            assert_eq!(
                text,
                format!(
                    "only the working directory (`{}`) and `filesystem.read_write` are writable; write under the working directory (or choose another with `-w DIR`), or mount a host directory you choose with `--rw DIR`",
                    ws.work().display()
                )
            );
            assert!(!top.exists(), "{} was created on the host", top.display());

            // Below an existing directory outside the workdir: not named.
            let outside = ws.root().join("results");
            let output = run_in_venv(&ws)
                .code(&format!("import os\nos.makedirs({})", py_path(&outside.join("2026/run"))))
                .run();
            assert_started(&output);
            assert_exit(&output, 1);
            assert_hint_mentions(&output, &["`--rw DIR`"]);
            assert!(!hint(&output).contains(&format!("--rw {}", ws.root().display())), "{output}");
            // Never the sandbox's `/tmp` (the workspace itself may lie under `/var/tmp`).
            assert!(!hint(&output).contains("`/tmp") && !hint(&output).contains("--rw /tmp"), "{output}");
            assert!(!outside.exists());
        }

        /// Reading `/etc/shadow` with `--ro /etc`: hidden by design, a read hint, not a
        /// write hint.
        fn reading_etc_shadow_gets_a_read_hint(runner) {
            let ws = Workspace::new(&runner);
            let output = run_in_venv(&ws)
                .args(["--ro", "/etc"])
                .code("print(open('/etc/shadow').read())")
                .run();
            assert_started(&output);
            assert_exit(&output, 1);
            assert_eq!(
                hint(&output),
                "boxpy never lets a sandboxed program read or write `/etc/shadow` (hidden by design, whatever the policy or `--ro` says); the program must do without it"
            );
        }

        /// A missing module in a venv uv made (no pip): uv's install command.
        fn missing_module_in_a_uv_venv_gives_uv_pip(runner) {
            let Ok(uv_venv) = venv(Venv::Uv) else {
                eprintln!("skipped: no uv venv on this machine");
                return;
            };
            let ws = Workspace::new(&runner);
            let output = boxpy(&ws)
                .arg("run")
                .arg("--venv")
                .arg(&uv_venv)
                .code("import boxpy_surely_not_installed")
                .run();
            assert_started(&output);
            assert_exit(&output, 1);
            assert_eq!(
                hint(&output),
                format!(
                    "`boxpy_surely_not_installed` is not installed in `{venv}`; install it with `uv pip install --python {venv} boxpy_surely_not_installed`",
                    venv = uv_venv.display()
                )
            );
        }

        /// A command `subprocess` cannot find: not installed when the host lacks it too;
        /// outside the sandbox's PATH when the host has it elsewhere. Never "only /usr is
        /// visible".
        fn missing_command_says_whether_the_host_has_it(runner) {
            let ws = Workspace::new(&runner);
            let bin = ws.dir("bin");
            let tool = ws.write("bin/boxpy-test-host-tool", "#!/bin/sh\necho hi\n");
            crate::harness::set_mode(&tool, 0o755);
            let path = format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display());
            let run = |command: &str| {
                run_in_venv(&ws)
                    .env("PATH", &path)
                    .code(&format!("import subprocess\nsubprocess.run([{command:?}])"))
                    .run()
            };
            let output = run("boxpy-test-no-such-tool");
            assert_started(&output);
            assert_exit(&output, 1);
            assert_eq!(
                hint(&output),
                "`boxpy-test-no-such-tool` is not installed (not on the host's PATH either); install it on the host (the sandbox sees /usr) or, if it is a Python tool, into the venv"
            );
            let output = run("boxpy-test-host-tool");
            assert_started(&output);
            assert_exit(&output, 1);
            assert_hint_mentions(&output, &["`boxpy-test-host-tool` is on the host's PATH but not on the sandbox's", "--ro DIR"]);
            assert!(!hint(&output).contains("only /usr"), "{output}");
        }

        /// A NameError with Python's own "Did you mean": the report does not repeat it.
        fn name_error_with_pythons_suggestion_has_no_hint(runner) {
            let ws = Workspace::new(&runner);
            let output = run_in_venv(&ws).code("pritn(1)").run();
            assert_started(&output);
            assert_exit(&output, 1);
            assert!(error_line(&output).contains("Did you mean: 'print'?"), "{output}");
            assert!(
                !output.stderr_text().lines().any(|line| line.starts_with("hint: ")),
                "{output}"
            );
        }

        /// Files written to the private HOME and /tmp are counted and reported (stderr
        /// notice and `--json`'s `discarded`), without a name the program chose; what
        /// Python leaves on its own, directories, and the workdir (under the host's /tmp
        /// here) are not counted; `-q` is quiet; a run that leaves nothing says nothing.
        fn files_left_in_home_and_tmp_are_reported(runner) {
            let ws = Workspace::new(&runner);
            let code = r#"
                import os
                home = os.path.expanduser("~")
                print("HOME=" + home)
                open(os.path.join(home, "results.csv"), "w").write("a,b\n")
                os.makedirs("/tmp/out/run")
                open("/tmp/out/run/model.bin", "wb").write(b"x")
                open("/tmp/\x1b]0;evil\x07name", "w").write("x")
                os.makedirs("/tmp/empty/dir")
                os.makedirs(os.path.join(home, ".cache/pip"))
                open(os.path.join(home, ".cache/pip/x"), "w").write("x")
                os.makedirs("/tmp/pkg/__pycache__")
                open("/tmp/pkg/__pycache__/m.pyc", "w").write("x")
                open("kept.txt", "w").write("kept")
                "#;
            let output = run_in_venv(&ws).code(code).run();
            assert_started(&output);
            assert_exit(&output, 0);
            let home = output
                .stdout_text()
                .lines()
                .find_map(|line| line.strip_prefix("HOME=").map(str::to_owned))
                .expect("HOME printed");
            assert_eq!(
                notices(&output),
                [format!(
                    "the program left 2 files in the sandbox's private /tmp and 1 file in its private HOME (`{home}`), discarded when the run ended; to keep files, write them under the working directory (`{}`, or choose one with `-w DIR`) or a host directory mounted with `--rw DIR`",
                    ws.work().display()
                )]
            );
            assert!(!output.stderr_text().contains("evil"), "{output}");
            assert!(ws.work().join("kept.txt").exists());

            let json = run_in_venv(&ws).arg("--json").code(code).run().json();
            assert_eq!(json["status"], "ok", "{json}");
            assert_eq!(
                json["discarded"],
                serde_json::json!([
                    {"path": "/tmp", "files": 2, "capped": false},
                    {"path": home, "files": 1, "capped": false},
                ])
            );

            let quiet = run_in_venv(&ws).arg("-q").code(code).run();
            assert_exit(&quiet, 0);
            assert!(!quiet.stderr_text().contains("boxpy:"), "{quiet}");

            let clean = run_in_venv(&ws).code("open('kept2.txt', 'w').write('x')").run();
            assert_exit(&clean, 0);
            assert!(notices(&clean).is_empty(), "{clean}");
            let json = run_in_venv(&ws).arg("--json").code("print(1)").run().json();
            assert_eq!(json["discarded"], serde_json::json!([]), "{json}");
        }

        /// The count is bounded: past 10,000 entries it stops and says "at least".
        fn a_huge_tmp_is_counted_within_a_bound(runner) {
            let ws = Workspace::new(&runner);
            let output = run_in_venv(&ws)
                .code("for i in range(12000):\n    open('/tmp/f%d' % i, 'w').close()")
                .run();
            assert_started(&output);
            assert_exit(&output, 0);
            let notices = notices(&output);
            assert_eq!(notices.len(), 1, "{output}");
            assert!(
                notices[0].starts_with("the program left at least ")
                    && notices[0].contains(" files in the sandbox's private /tmp,"),
                "{output}"
            );
        }
    }
}
