//! `boxpy nbexec` against a hostile notebook (issue 13 item 6, issue 24): the driver's
//! channel cannot be forged from the kernel, nothing of the notebook's own directory is
//! mounted, and what a notebook displays cannot make boxpy itself use unbounded memory.

use std::path::Path;

use crate::harness::{
    assert_exit, boxpy, py_path, require_venv, runner_tests, Venv, Workspace, MARKER,
};

/// A notebook (nbformat 4.5) of code cells.
fn notebook(cells: &[&str]) -> String {
    let cells: Vec<(&str, &str, &[&str])> = cells
        .iter()
        .map(|source| ("code", *source, &[][..]))
        .collect();
    crate::nbexec::notebook(&cells)
}

use crate::nbexec::{printed, read as read_notebook};

/// What the forging cell writes into the driver's channel, by variant.
const FORGERIES: &[(&str, &str)] = &[
    // The reported attack: a driver error, which boxpy took for "the program never ran".
    (
        "driver_error",
        r#"line = json.dumps({"event": "driver_error", "message": "forged"}) + "\n""#,
    ),
    ("garbage", r#"line = "this is not an event\n""#),
    ("huge", r#"line = "x" * (64 << 20) + "\n""#),
    // An early end: a notebook event before any cell ended.
    (
        "early_end",
        r#"line = json.dumps({"event": "notebook", "content": {"nbformat": 4, "cells": []}}) + "\n""#,
    ),
];

runner_tests! {
    /// Notebook code finds the driver (its parent) and tries to write events into the
    /// driver's channel through `/proc/<driver>/fd/6`: a forged driver error, a garbage
    /// line, a huge line, an early end. The open is refused (the driver is not dumpable),
    /// the notebook's own result stands (exit 0, its outputs saved), and boxpy never says
    /// the program did not run.
    fn kernel_cannot_forge_driver_events(runner) {
        let venv = require_venv!(Venv::Jupyter);
        for (variant, forged) in FORGERIES {
            let ws = Workspace::new(&runner);
            let cell = format!(
                "import json, os\nprint({MARKER:?})\n{forged}\ndriver = os.getppid()\ntry:\n    fd = os.open(f'/proc/{{driver}}/fd/6', os.O_WRONLY)\nexcept OSError as error:\n    print('channel refused', error.errno)\nelse:\n    os.write(fd, line.encode())\n    os.close(fd)\n    print('channel opened')\n"
            );
            ws.write("work/forge.ipynb", notebook(&[&cell, "print('after the forgery')"]));
            let output = boxpy(&ws)
                .args(["nbexec", "--json", "--venv"])
                .arg(&venv)
                .args(["forge.ipynb", "-o", "out.ipynb"])
                .run();
            assert_ne!(output.code, Some(125), "{variant}: {output}");
            let result = output.json();
            assert_ne!(result["status"], "sandbox_error", "{variant}: {output}");
            let written = read_notebook(&ws.work().join("out.ipynb"));
            let text = printed(&written);
            assert!(text.contains(MARKER), "{variant}: the cell ran: {text}");
            assert!(text.contains("channel refused"), "{variant}: {text}\n{output}");
            assert!(text.contains("after the forgery"), "{variant}: {text}");
            assert_exit(&output, 0);
            assert_eq!(result["status"], "ok", "{variant}: {output}");
        }
    }

    /// Notebook code that kills the driver (its parent, which it may signal) ends the run as
    /// the program's failure, reported as a kill, never as a sandbox that did not start.
    fn killing_the_driver_is_the_programs_failure(runner) {
        let venv = require_venv!(Venv::Jupyter);
        let ws = Workspace::new(&runner);
        let cell = format!("import os, signal\nopen('ran.txt', 'w').write({MARKER:?})\nos.kill(os.getppid(), signal.SIGKILL)");
        ws.write("work/kill.ipynb", notebook(&[&cell]));
        let output = boxpy(&ws)
            .args(["nbexec", "--json", "--venv"])
            .arg(&venv)
            .arg("kill.ipynb")
            .run();
        let ran = std::fs::read_to_string(ws.work().join("ran.txt")).unwrap_or_default();
        assert_eq!(ran, MARKER, "the cell ran: {output}");
        assert_exit(&output, 137);
        assert_eq!(output.json()["status"], "killed", "{output}");
    }

    /// A notebook outside the workdir (in HOME, or any other directory) sees nothing of
    /// its own directory: the file beside it is as unreadable as it is to `boxpy run` from
    /// the same place, and the kernel runs in the workdir.
    fn notebook_directory_is_not_mounted(runner) {
        let venv = require_venv!(Venv::Jupyter);
        let ws = Workspace::new(&runner);
        let home = ws.dir("home");
        let elsewhere = ws.dir("elsewhere");
        for directory in [&home, &elsewhere] {
            let secret = directory.join("id_rsa");
            std::fs::write(&secret, "PRIVATE KEY").unwrap();
            runner.chown(&secret);
            let probe = format!(
                "import os\nprint({MARKER:?})\nprint('cwd', os.getcwd())\ntry:\n    print('read', open({}).read())\nexcept OSError as error:\n    print('unreadable', error.errno)\ntry:\n    print('listed', sorted(os.listdir({})))\nexcept OSError as error:\n    print('unlistable', error.errno)\n",
                py_path(&secret),
                py_path(directory),
            );
            let path = directory.join("analysis.ipynb");
            std::fs::write(&path, notebook(&[&probe])).unwrap();
            runner.chown(&path);
            let output = boxpy(&ws)
                .env("HOME", &home)
                .args(["nbexec", "--venv"])
                .arg(&venv)
                .arg(&path)
                .args(["-o", "out.ipynb"])
                .run();
            assert_exit(&output, 0);
            let text = printed(&read_notebook(&ws.work().join("out.ipynb")));
            assert!(text.contains(MARKER), "{text}\n{output}");
            assert!(text.contains("unreadable"), "{}: {text}", directory.display());
            assert!(!text.contains("PRIVATE KEY"), "{}: {text}", directory.display());
            assert!(!text.contains("analysis.ipynb"), "{}: {text}", directory.display());
            assert!(
                text.contains(&format!("cwd {}", ws.work().display())),
                "the kernel runs in the workdir: {text}"
            );
            // `boxpy run` from the same place sees the same.
            let run = boxpy(&ws)
                .env("HOME", &home)
                .args(["run", "--venv"])
                .arg(&venv)
                .arg("-c")
                .arg(&probe)
                .run();
            assert_exit(&run, 0);
            assert!(run.stdout_text().contains("unreadable"), "{run}");
        }
    }

    /// `--cwd DIR` (papermill's flag, for a notebook's relative paths) shows the kernel that
    /// directory read-only and nothing around it; HOME, a directory above it, a hidden
    /// directory in it, `/` and system directories are refused before anything runs.
    fn cwd_flag_shows_only_its_directory(runner) {
        let venv = require_venv!(Venv::Jupyter);
        let ws = Workspace::new(&runner);
        let home = ws.dir("home");
        let project = ws.dir("home/project");
        let hidden = ws.dir("home/.ssh");
        ws.write("home/id_rsa", "PRIVATE KEY");
        ws.write("home/project/data.csv", "a,b\n1,2\n");
        let probe = format!(
            "import os\nprint({MARKER:?})\nprint('cwd', os.getcwd())\nprint('data', open('data.csv').read().splitlines()[0])\ntry:\n    open({}).read()\n    print('secret read')\nexcept OSError as error:\n    print('secret unreadable', error.errno)\ntry:\n    open('written.txt', 'w').write('x')\n    print('project written')\nexcept OSError as error:\n    print('project read-only', error.errno)\n",
            py_path(&home.join("id_rsa")),
        );
        let path = ws.write("home/project/analysis.ipynb", notebook(&[&probe]));
        let output = boxpy(&ws)
            .env("HOME", &home)
            .args(["nbexec", "--venv"])
            .arg(&venv)
            .arg("--cwd")
            .arg(&project)
            .arg(&path)
            .args(["-o", "out.ipynb"])
            .run();
        assert_exit(&output, 0);
        let text = printed(&read_notebook(&ws.work().join("out.ipynb")));
        assert!(text.contains(MARKER), "{text}\n{output}");
        assert!(text.contains(&format!("cwd {}", project.display())), "{text}");
        assert!(text.contains("data a,b"), "{text}");
        assert!(text.contains("secret unreadable"), "{text}");
        assert!(text.contains("project read-only"), "{text}");
        assert!(!project.join("written.txt").exists(), "nothing written on the host");
        let root = ws.root();
        for (directory, needle) in [
            (home.as_path(), "home directory"),
            (root.as_path(), "home directory"),
            (hidden.as_path(), "hidden directory"),
            (Path::new("/"), "whole host"),
            (Path::new("/etc"), "system directory"),
            (Path::new("/usr/lib"), "system directory"),
        ] {
            let output = boxpy(&ws)
                .env("HOME", &home)
                .args(["nbexec", "--venv"])
                .arg(&venv)
                .arg("--cwd")
                .arg(directory)
                .arg(&path)
                .run();
            assert_exit(&output, 125);
            assert!(output.stderr_text().contains(needle), "{}: {output}", directory.display());
        }
    }

    /// A cell that displays a huge JSON value: over the notebook's budget (the policy's
    /// `limits.output` plus the notebook's own size) it is the program's failure, with a
    /// report naming `limits.output` and no `-o` file; under a larger budget it streams to
    /// the `-o` file. Either way boxpy's own peak memory stays under 64 MiB (read from
    /// `/proc/<boxpy>/status` while boxpy waits to print its JSON into a full pipe).
    fn huge_display_leaves_boxpy_small(runner) {
        let venv = require_venv!(Venv::Jupyter);
        let ws = Workspace::new(&runner);
        let wrapper = ws.write("peak.py", PEAK_WRAPPER);
        ws.write(
            "work/huge.ipynb",
            notebook(&[
                &format!("print({MARKER:?})"),
                "from IPython.display import JSON, display\ndisplay(JSON(list(range(2_000_000))))",
            ]),
        );
        // The notebook is ~30 MB: over a 16 MiB `limits.output`, within the default 64 MiB.
        ws.write("work/small.toml", "extends = \"default\"\n[limits]\noutput = \"16MiB\"\n");
        for (policy, saved) in [("small.toml", false), ("default", true)] {
            let output = boxpy(&ws)
                .through(["/usr/bin/python3", wrapper.to_str().unwrap()])
                .args(["nbexec", "--json", "-P", policy, "--venv"])
                .arg(&venv)
                .args(["huge.ipynb", "-o", "out.ipynb"])
                .run();
            let peak = output
                .stderr_text()
                .lines()
                .find_map(|line| line.strip_prefix("boxpy-peak-kib "))
                .and_then(|value| value.trim().parse::<u64>().ok())
                .unwrap_or_else(|| panic!("{policy}: no peak reported: {output}"));
            eprintln!("{policy}: boxpy's peak RSS {peak} KiB");
            assert!(peak < 64 * 1024, "{policy}: boxpy's peak RSS was {peak} KiB: {output}");
            let out = ws.work().join("out.ipynb");
            if saved {
                assert_exit(&output, 0);
                let size = std::fs::metadata(&out).unwrap().len();
                assert!(size > 24 << 20, "the whole notebook was saved ({size} bytes)");
                read_notebook(&out);
                std::fs::remove_file(&out).unwrap();
            } else {
                assert_exit(&output, 1);
                let result = output.json();
                assert_eq!(result["status"], "failed", "{output}");
                let hint = result["error"]["hint"].as_str().unwrap_or_default();
                assert!(hint.contains("limits.output"), "{output}");
                assert!(!out.exists(), "no partial notebook");
            }
            let leftovers: Vec<String> = std::fs::read_dir(ws.work())
                .unwrap()
                .flatten()
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with(".boxpy-nbexec"))
                .collect();
            assert!(leftovers.is_empty(), "{leftovers:?}");
        }
    }
}

/// Runs boxpy with its stdout a pipe the wrapper filled first, so boxpy blocks on its first
/// write there (the `--json` object, printed after the run): then boxpy's `VmHWM` is its
/// peak over the whole run. Prints `boxpy-peak-kib N` on stderr, then passes boxpy's
/// output and exit code on.
const PEAK_WRAPPER: &str = r#"
import os, sys, time

read, write = os.pipe()
os.set_blocking(write, False)
filled = 0
try:
    while True:
        filled += os.write(write, b"\0" * 4096)
except BlockingIOError:
    pass
os.set_blocking(write, True)
pid = os.fork()
if pid == 0:
    os.dup2(write, 1)
    os.close(read)
    os.close(write)
    os.execv(sys.argv[1], sys.argv[1:])
os.close(write)
peak = None
deadline = time.monotonic() + 600
while time.monotonic() < deadline:
    try:
        with open(f"/proc/{pid}/wchan") as handle:
            wchan = handle.read()
        with open(f"/proc/{pid}/status") as handle:
            status = handle.read()
    except OSError:
        break
    if wchan.endswith("pipe_write"):
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1])
        break
    if "State:\tZ" in status:
        break
    time.sleep(0.05)
print(f"boxpy-peak-kib {peak}", file=sys.stderr, flush=True)
skipped = 0
while skipped < filled:
    skipped += len(os.read(read, filled - skipped))
while True:
    chunk = os.read(read, 65536)
    if not chunk:
        break
    sys.stdout.buffer.write(chunk)
sys.stdout.flush()
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status) % 256)
"#;

runner_tests! {
    /// Found by an adversarial review: the notebook swapped `-o`'s directory for a link
    /// while it ran, and boxpy wrote the saved notebook through it; a link left at `-o`'s
    /// name to a setuid program lent its mode to the saved file.
    fn the_saved_notebook_lands_where_it_was_checked(runner) {
        let venv = require_venv!(Venv::Jupyter);
        let ws = Workspace::new(&runner);
        let victim = ws.dir("victim");
        ws.dir("work/sub");
        runner.chown_tree(ws.work());
        runner.chown(&victim);
        let swap = format!(
            "import os, shutil\nprint({MARKER:?})\nos.rename('sub', 'sub.old')\nos.symlink({}, 'sub')\nos.symlink('/usr/bin/passwd', 'res.ipynb')\nprint('swapped')",
            py_path(&victim)
        );
        let path = ws.write("work/nb.ipynb", notebook(&[&swap]));
        runner.chown(&path);
        let output = boxpy(&ws)
            .args(["nbexec", "--venv"])
            .arg(&venv)
            .arg(&path)
            .args(["-o", "sub/out.ipynb"])
            .run();
        assert!(output.stderr_text().is_empty() || output.code.is_some(), "{output}");
        assert!(
            std::fs::read_dir(&victim).unwrap().next().is_none(),
            "boxpy wrote through the swapped link: {output}"
        );
        assert!(ws.work().join("sub.old/out.ipynb").is_file(), "{output}");
        // The name `res.ipynb` is now a link to a setuid program: saving over it gives a
        // plain file.
        let output = boxpy(&ws)
            .args(["nbexec", "--venv"])
            .arg(&venv)
            .arg(&path)
            .args(["-o", "res.ipynb"])
            .run();
        let _ = output;
        use std::os::unix::fs::PermissionsExt;
        let saved = ws.work().join("res.ipynb");
        if let Ok(metadata) = saved.symlink_metadata() {
            if metadata.is_file() {
                assert_eq!(metadata.permissions().mode() & 0o7000, 0, "a setuid or setgid notebook");
            }
        }
    }

    /// The kernel writes straight to the terminal (fd 1 and 2 are the pseudo-terminal):
    /// a sequence it leaves open cannot conceal or restyle boxpy's cell progress and
    /// report, which each start with the soft reset.
    fn the_kernel_cannot_hide_boxpys_report_on_a_terminal(runner) {
        let venv = require_venv!(Venv::Jupyter);
        let ws = Workspace::new(&runner);
        let wrapper = ws.write("pty_wrapper.py", crate::reports::PTY_WRAPPER);
        let path = ws.write(
            "work/hostile.ipynb",
            notebook(&[
                "import os\nprint('STARTED', flush=True)\nos.write(1, b'ok: all cells passed\\n\\x1b(0\\x1b[8m\\x1b]8;;https://evil.example\\x1b\\\\')\n",
                "import missing_module_for_the_test\n",
            ]),
        );
        runner.chown(&path);
        let output = boxpy(&ws)
            .args(["nbexec", "--color", "never", "--venv"])
            .arg(&venv)
            .arg(&path)
            .through([Path::new("/usr/bin/python3"), &wrapper])
            .run();
        assert_exit(&output, 0);
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let kernel = text
            .find("ok: all cells passed")
            .unwrap_or_else(|| panic!("the kernel did not run: {text:?}"));
        let report = text[kernel..]
            .find("error: ")
            .map(|at| kernel + at)
            .unwrap_or_else(|| panic!("no report: {text:?}"));
        let reset = crate::reports::RESET;
        let before = &text[kernel..report];
        assert!(before.contains(reset), "no reset between the kernel's output and the report: {text:?}");
        assert!(
            text[kernel..].rfind(reset).unwrap() > before.rfind("\x1b]8;;https").unwrap_or(0),
            "{text:?}"
        );
    }
}
