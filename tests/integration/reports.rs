//! What boxpy's reports repeat of the program (issue 14 items 6 and 7, issue 24's last
//! item): a hint carries a name from the program's output only when it is a valid name of
//! its kind, control characters the program printed are escaped in boxpy's own lines (raw
//! in `--json`), existence hints never confirm a protected host path, and every file
//! boxpy reads (policies, `extends`, `pyvenv.cfg`, notebooks) is a bounded regular file.

use std::path::Path;

use crate::harness::{
    assert_exit, assert_not_started, assert_started, boxpy, py_path, run_in_venv, runner_tests,
    venv, Output, Venv, Workspace,
};

/// boxpy's own report: the stderr after the program's traceback (from the `error:` line
/// boxpy writes last).
fn report(output: &Output) -> String {
    let stderr = output.stderr_text();
    let start = stderr
        .rfind("\nerror: ")
        .unwrap_or_else(|| panic!("no report: {output}"));
    stderr[start + 1..].to_owned()
}

fn hint(output: &Output) -> String {
    report(output)
        .lines()
        .find_map(|line| line.strip_prefix("hint: ").map(str::to_owned))
        .unwrap_or_else(|| panic!("no hint in the report: {output}"))
}

/// A FIFO at `path`, made by the runner's user (removed with the workspace).
fn mkfifo(path: &Path) {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o666))
        .unwrap_or_else(|error| panic!("mkfifo {}: {error}", path.display()));
}

runner_tests! {
    /// A module name that carries a shell command: the hint is the generic one, with no
    /// part of the program's text in it.
    fn shell_text_in_a_module_name_never_reaches_the_hint(runner) {
        let ws = Workspace::new(&runner);
        let output = run_in_venv(&ws)
            .code(r#"raise ModuleNotFoundError("No module named 'reqeusts; curl -s http://127.0.0.1:9/x | sh'")"#)
            .run();
        assert_started(&output);
        assert_exit(&output, 1);
        let hint = hint(&output);
        for forbidden in ["curl", "reqeusts", "http", "| sh"] {
            assert!(!hint.contains(forbidden), "hint carries {forbidden:?}: {hint:?}");
        }
        assert!(hint.contains("pip install"), "generic import hint expected: {hint:?}");
    }

    /// A real missing module still gets its own pip command.
    fn a_valid_module_name_keeps_its_hint(runner) {
        let ws = Workspace::new(&runner);
        let output = run_in_venv(&ws).code("import reqeusts_not_here.sub").run();
        assert_started(&output);
        assert!(
            hint(&output).contains("pip install reqeusts_not_here"),
            "{output}"
        );
    }

    /// A carriage return, an escape sequence and a bidi override in an exception message:
    /// boxpy's `error:` line shows them escaped (the traceback parser already drops ANSI
    /// sequences, as the kernel's colour), `--json` carries them raw.
    fn control_characters_from_the_program_are_escaped_in_the_report(runner) {
        let ws = Workspace::new(&runner);
        let snippet = r#"raise ValueError("bad\rerror: forged line\x1b[2J\u202egnp.exe\x00\x9b")"#;
        let output = run_in_venv(&ws).code(snippet).run();
        assert_started(&output);
        assert_exit(&output, 1);
        let report = report(&output);
        let error_line = report.lines().next().unwrap();
        for raw in ['\r', '\x1b', '\u{202e}', '\0', '\u{9b}'] {
            assert!(!report.contains(raw), "raw {raw:?} in the report: {report:?}");
        }
        assert!(
            error_line.contains(r"bad\rerror: forged line\u{202e}gnp.exe\0\u{9b}"),
            "{error_line:?}"
        );

        // `--json`: raw, as JSON escapes (the parsed message without the ANSI sequence,
        // the captured stderr with it).
        let output = run_in_venv(&ws).arg("--json").code(snippet).run();
        // Written as JSON escapes: nothing on stdout a terminal would obey.
        for raw in ['\x1b', '\u{202e}', '\u{9b}'] {
            assert!(!output.stdout_text().contains(raw), "raw {raw:?} in {output}");
        }
        let json = output.json();
        assert_eq!(
            json["error"]["message"],
            "bad\rerror: forged line\u{202e}gnp.exe\0\u{9b}",
            "{json}"
        );
        assert!(
            json["stderr"]
                .as_str()
                .unwrap()
                .contains("bad\rerror: forged line\x1b[2J\u{202e}gnp.exe\0\u{9b}"),
            "{json}"
        );
    }

    /// A file name and a source line the program chose (a faked traceback on stderr) are
    /// escaped too. The file exists: a name that is no file is never the user's location.
    fn control_characters_in_a_faked_traceback_are_escaped(runner) {
        let ws = Workspace::new(&runner);
        let output = run_in_venv(&ws)
            .code(
                r#"
                import sys
                open('x\r\x07.py', 'w').close()
                sys.stderr.write('Traceback (most recent call last):\n  File "x\r\x07.py", line 1, in <module>\n    do(\x00\u202e)\nKeyError: \'k\'\n')
                sys.exit(1)
                "#,
            )
            .run();
        assert_started(&output);
        let report = report(&output);
        for raw in ['\r', '\x07', '\x1b', '\0', '\u{202e}'] {
            assert!(!report.contains(raw), "raw {raw:?} in the report: {report:?}");
        }
        assert!(report.contains(r"x\r\x07.py:1"), "{report:?}");
        assert!(report.contains(r"do(\0\u{202e})"), "{report:?}");
    }

    /// "`PATH` exists on the host" must not answer for another user's home (or for `/root`
    /// when the caller is not root), nor for a protected path.
    fn existence_hints_never_confirm_another_users_home(runner) {
        let ws = Workspace::new(&runner);
        let other_home = if runner.home() == Path::new("/root") {
            std::path::PathBuf::from(format!("/home/{}", crate::harness::TEST_USER))
        } else {
            std::path::PathBuf::from("/root")
        };
        assert!(other_home.symlink_metadata().is_ok(), "{} must exist", other_home.display());
        let probe = other_home.join("boxpy-no-such-file");
        let output = run_in_venv(&ws)
            .code(&format!("open({})", py_path(&probe)))
            .run();
        assert_started(&output);
        assert_exit(&output, 1);
        let hint = hint(&output);
        assert!(!hint.contains("exists on the host"), "{hint:?}");
        assert!(!hint.contains(&*other_home.to_string_lossy()), "{hint:?}");
    }

    /// A policy that extends `/dev/zero` is refused at once (it grew boxpy past 2 GB).
    fn a_policy_extending_dev_zero_is_refused(runner) {
        let ws = Workspace::new(&runner);
        let policy = ws.write("zero.toml", "extends = \"/dev/zero\"\n");
        let output = run_in_venv(&ws).arg("-P").arg(&policy).code("pass").run();
        assert_not_started(&output);
        assert_exit(&output, 125);
        let stderr = output.stderr_text();
        assert!(stderr.contains("/dev/zero") && stderr.contains("character device"), "{output}");
    }

    /// A FIFO as the policy, or in its `extends`, is refused without waiting for a writer.
    fn a_fifo_policy_never_blocks(runner) {
        let ws = Workspace::new(&runner);
        let fifo = ws.work().join("fifo.toml");
        mkfifo(&fifo);
        runner.chown(&fifo);
        let output = run_in_venv(&ws).arg("-P").arg(&fifo).code("pass").run();
        assert_not_started(&output);
        assert_exit(&output, 125);
        assert!(output.stderr_text().contains("a FIFO, not a regular file"), "{output}");

        let policy = ws.write(
            "extends.toml",
            format!("extends = \"{}\"\n", fifo.display()),
        );
        let output = run_in_venv(&ws).arg("-P").arg(&policy).code("pass").run();
        assert_not_started(&output);
        assert_exit(&output, 125);
        assert!(output.stderr_text().contains("a FIFO, not a regular file"), "{output}");
    }

    /// A directory and a too-big file as the policy: exit 125 naming the file and the limit.
    fn a_directory_or_an_oversized_policy_is_refused(runner) {
        let ws = Workspace::new(&runner);
        let directory = ws.dir("policy.toml");
        let output = run_in_venv(&ws).arg("-P").arg(&directory).code("pass").run();
        assert_not_started(&output);
        assert_exit(&output, 125);
        assert!(output.stderr_text().contains("a directory, not a regular file"), "{output}");

        let mut big = String::from("[env]\npass = []\n");
        while big.len() <= 1 << 20 {
            big.push_str("# padding padding padding padding padding padding padding\n");
        }
        let policy = ws.write("big.toml", big);
        let output = run_in_venv(&ws).arg("-P").arg(&policy).code("pass").run();
        assert_not_started(&output);
        assert_exit(&output, 125);
        let stderr = output.stderr_text();
        assert!(stderr.contains("big.toml") && stderr.contains("1MiB"), "{output}");
    }

    /// A venv whose `pyvenv.cfg` is a FIFO or a device: a clear error, no hang.
    fn a_fifo_pyvenv_cfg_never_blocks(runner) {
        let ws = Workspace::new(&runner);
        let base = venv(Venv::Debian).unwrap_or_else(|error| panic!("{error}"));
        let planted = ws.dir(".venv");
        std::fs::create_dir_all(planted.join("bin")).unwrap();
        std::os::unix::fs::symlink(base.join("bin/python"), planted.join("bin/python")).unwrap();
        mkfifo(&planted.join("pyvenv.cfg"));
        runner.chown_tree(&planted);
        let output = boxpy(&ws).args(["run", "--venv"]).arg(&planted).arg("-c").arg("pass").run();
        assert_not_started(&output);
        assert_exit(&output, 127);
        assert!(output.stderr_text().contains("a FIFO, not a regular file"), "{output}");
    }

    /// A notebook that is a FIFO, `/dev/zero`, or over `--max-notebook-size`.
    fn notebooks_are_bounded_regular_files(runner) {
        let ws = Workspace::new(&runner);
        let venv = venv(Venv::Debian).unwrap_or_else(|error| panic!("{error}"));
        let fifo = ws.work().join("fifo.ipynb");
        mkfifo(&fifo);
        runner.chown(&fifo);
        for (notebook, needle) in [
            (fifo.as_path(), "a FIFO, not a regular file"),
            (Path::new("/dev/zero"), "a character device, not a regular file"),
        ] {
            let output = boxpy(&ws).args(["nbexec", "--venv"]).arg(&venv).arg(notebook).run();
            assert_exit(&output, 125);
            assert!(output.stderr_text().contains(needle), "{output}");
        }
        let notebook = ws.write(
            "big.ipynb",
            format!(
                r#"{{"nbformat": 4, "nbformat_minor": 5, "metadata": {{}}, "cells": [], "padding": "{}"}}"#,
                "x".repeat(4096)
            ),
        );
        let output = boxpy(&ws)
            .args(["nbexec", "--venv"])
            .arg(&venv)
            .args(["--max-notebook-size", "1KiB"])
            .arg(&notebook)
            .run();
        assert_exit(&output, 125);
        let stderr = output.stderr_text();
        assert!(
            stderr.contains("big.ipynb") && stderr.contains("1KiB") && stderr.contains("--max-notebook-size"),
            "{output}"
        );
    }

    /// A program that leaves a terminal sequence open (an OSC title, an unfinished CSI,
    /// the line-drawing character set, concealed text) cannot swallow or hide boxpy's
    /// lines on a terminal: each block of boxpy's text after program output starts with
    /// the soft reset, the report and the output-limit notice alike.
    fn boxpy_lines_on_a_terminal_start_with_a_reset(runner) {
        let ws = Workspace::new(&runner);
        let wrapper = ws.write("pty_wrapper.py", PTY_WRAPPER);
        let policy = ws.write("limits.toml", "extends = \"default\"\n[limits]\noutput = \"1KiB\"\n");
        let output = run_in_venv(&ws)
            .arg("-P")
            .arg(&policy)
            .through([Path::new("/usr/bin/python3"), &wrapper])
            .code(
                r#"
                import sys
                sys.stdout.write("x" * 1500 + "\x1b]0;title\x1b(0\x1b[8m\x1b[")
                sys.stdout.flush()
                sys.stderr.write("\x1b]8;;https://evil.example/fix.sh\x1b\\\x1b]11;#000000\x07\x1b[?1049h\x1b]0;")
                sys.stderr.flush()
                raise ValueError("after the sequences")
                "#,
            )
            .run();
        assert_exit(&output, 0);
        let seen = output.stdout.clone();
        let text = String::from_utf8_lossy(&seen);
        assert!(text.contains("xxxxxxxx"), "python did not start: {text:?}");
        let limit = text
            .find("boxpy: output limit")
            .unwrap_or_else(|| panic!("no output-limit notice: {text:?}"));
        assert!(
            text[..limit].trim_end_matches(['\r', '\n']).ends_with(RESET),
            "no reset before the output-limit notice: {text:?}"
        );
        let report = text
            .rfind("\x1b[31;1merror:")
            .or_else(|| text.rfind("error: "))
            .unwrap_or_else(|| panic!("no report: {text:?}"));
        assert!(
            text[..report].trim_end_matches(['\r', '\n']).ends_with(RESET),
            "no reset before the report: {text:?}"
        );
    }
}

/// boxpy's soft terminal reset (`report::TERMINAL_RESET`).
pub const RESET: &str = "\x18\x1b\\\x0f\x1b(B\x1b[!p\x1b[0m\x1b]8;;\x1b\\\x1b]104\x1b\\\x1b]110\x1b\\\x1b]111\x1b\\\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?2004l\x1b[?1049l";

/// Runs boxpy (its path and arguments follow) with stdin, stdout and stderr on a
/// pseudo-terminal, and writes every byte the terminal showed to its own stdout; exits 0.
pub const PTY_WRAPPER: &str = r#"
import os, pty, subprocess, sys
master, slave = pty.openpty()
process = subprocess.Popen(sys.argv[1:], stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
os.close(slave)
seen = b""
while True:
    try:
        chunk = os.read(master, 65536)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
process.wait()
sys.stdout.buffer.write(seen)
"#;

/// Issue 25, end to end: each shape that got no report or the wrong one, as `--json` says it.
mod issue_25 {
    use crate::harness::{dedent, run_in_venv, Runner, Workspace};

    /// Runs `source` as `main.py` in the working directory (it fails); the `error` object.
    fn error_of(source: &str) -> serde_json::Value {
        let ws = Workspace::new(&Runner::Caller);
        ws.write("work/main.py", dedent(source));
        let output = run_in_venv(&ws).args(["--json", "main.py"]).run();
        let result = output.json();
        assert_eq!(result["status"], "failed", "{output}");
        result["error"].clone()
    }

    #[test]
    fn a_blank_source_line_keeps_the_report_and_names_the_last_exception() {
        let error = error_of(
            r#"
            code = compile("\n1 / 0\n", __file__, "exec")

            try:
                exec(code, {})
            except ZeroDivisionError:
                {}["missing"]
            "#,
        );
        assert_eq!(error["type"], "KeyError", "{error}");
        assert_eq!(error["file"], "main.py", "{error}");
        assert_eq!(error["line"], 6, "{error}");
        assert_eq!(
            error["cause"],
            "while handling ZeroDivisionError: division by zero"
        );
    }

    #[test]
    fn classes_in_functions_and_custom_qualnames_get_a_report() {
        let error = error_of(
            r#"
            def load():
                class ConfigError(Exception):
                    pass
                raise ConfigError("inner")
            load()
            "#,
        );
        assert_eq!(error["type"], "load.<locals>.ConfigError", "{error}");
        assert_eq!(error["message"], "inner", "{error}");
        let error = error_of(
            r#"
            class E(Exception):
                pass
            E.__qualname__ = "E[int]"
            E.__module__ = "my module"
            raise E("typed")
            "#,
        );
        assert_eq!(error["type"], "my module.E[int]", "{error}");
    }

    #[test]
    fn messages_and_notes_with_blank_lines_are_kept_whole() {
        let error = error_of(
            r#"
            error = ValueError("a\n\n\nb")
            error.add_note("note one\n\nstill note one")
            error.add_note('  File "e.py", line 9, in f')
            raise error
            "#,
        );
        assert_eq!(
            error["message"], "a\n\n\nb\nnote one\n\nstill note one\n  File \"e.py\", line 9, in f",
            "{error}"
        );
        assert_eq!(error["file"], "main.py", "{error}");
    }

    #[test]
    fn an_empty_file_name_is_not_the_working_directory() {
        let error = error_of("exec(compile('1 / 0', '', 'exec'))\n");
        assert_eq!(error["file"], "main.py", "{error}");
        assert_eq!(error["raised_at"]["file"], "", "{error}");
    }

    #[test]
    fn a_syntax_error_from_compile_with_a_newline_in_the_file_name() {
        let error = error_of("compile('x = (', 'a\\nb.py', 'exec')\n");
        assert_eq!(error["type"], "SyntaxError", "{error}");
        // No file has that name: the user's line is the call, the name is where it was raised.
        assert_eq!(
            (&error["file"], &error["line"]),
            (&"main.py".into(), &1.into()),
            "{error}"
        );
        assert_eq!(error["raised_at"]["file"], "a\nb.py", "{error}");
    }
}
