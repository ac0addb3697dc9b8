//! `boxpy nbexec` (SPEC §7) with a real venv holding nbclient and ipykernel (installed from
//! PyPI once, cached under the shared venv cache): execution, parameters, outputs written
//! atomically, nothing beside the notebook, failing-cell reports, limits, bad input.

use std::path::Path;

use crate::harness::{
    assert_exit, boxpy, require_venv, runner_tests, venv, Runner, Venv, Workspace,
};

/// A notebook (nbformat 4.5) from (cell type, source, tags).
pub(crate) fn notebook(cells: &[(&str, &str, &[&str])]) -> String {
    let cells: Vec<serde_json::Value> = cells
        .iter()
        .enumerate()
        .map(|(index, (kind, source, tags))| {
            let mut cell = serde_json::json!({
                "cell_type": kind,
                "id": format!("cell-{index}"),
                "metadata": {"tags": tags},
                "source": source,
            });
            if *kind == "code" {
                cell["outputs"] = serde_json::json!([]);
                cell["execution_count"] = serde_json::Value::Null;
            }
            cell
        })
        .collect();
    serde_json::json!({
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "cells": cells,
    })
    .to_string()
}

/// `boxpy nbexec --venv VENV` in the workspace.
pub(crate) fn nbexec(ws: &Workspace, venv: &Path) -> crate::harness::Boxpy {
    boxpy(ws).arg("nbexec").arg("--venv").arg(venv)
}

pub(crate) fn read(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read the notebook"))
        .expect("the written notebook is JSON")
}

/// All text a notebook's code cells printed.
pub(crate) fn printed(notebook: &serde_json::Value) -> String {
    let mut text = String::new();
    for cell in notebook["cells"].as_array().unwrap() {
        for output in cell["outputs"].as_array().into_iter().flatten() {
            match &output["text"] {
                serde_json::Value::String(part) => text.push_str(part),
                serde_json::Value::Array(parts) => parts
                    .iter()
                    .filter_map(|p| p.as_str())
                    .for_each(|p| text.push_str(p)),
                _ => {}
            }
        }
    }
    text
}

/// Names in the workdir (what a run left beside the notebook).
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

runner_tests! {
    /// A notebook runs (under the default policy: no network, so the kernel talks over the
    /// sandbox's private IPC), `-o` writes it with outputs, and nothing else appears.
    fn notebook_runs_and_writes_only_the_output(runner) {
        let venv = require_venv!(Venv::Jupyter);
        let ws = Workspace::new(&runner);
        ws.write(
            "work/analysis.ipynb",
            notebook(&[
                ("markdown", "# Analysis", &[]),
                ("code", "import socket\ntotal = sum(range(10))\nprint('total', total)", &[]),
                ("code", "print('host', socket.gethostname())", &[]),
            ]),
        );
        let before = listing(ws.work());
        let output = nbexec(&ws, &venv).args(["analysis.ipynb", "-o", "out.ipynb"]).run();
        assert_exit(&output, 0);
        let written = read(&ws.work().join("out.ipynb"));
        assert_eq!(written["nbformat"], 4);
        let text = printed(&written);
        assert!(text.contains("total 45") && text.contains("host boxpy"), "{text}");
        assert_eq!(written["cells"][1]["execution_count"], 1);
        let mut expected = before.clone();
        expected.push("out.ipynb".to_owned());
        expected.sort();
        assert_eq!(listing(ws.work()), expected, "only the output was written: {output}");
        assert!(!output.stderr_text().contains("Traceback"), "{output}");
    }

    /// The kernel is shut down gracefully before the run ends: a file the notebook left
    /// open is flushed by the kernel's own exit (a kernel killed instead would leave it
    /// empty), and an `atexit` handler of the notebook's runs.
    fn the_kernel_ends_gracefully(runner) {
        let venv = require_venv!(Venv::Jupyter);
        let ws = Workspace::new(&runner);
        ws.write(
            "work/leaves-open.ipynb",
            notebook(&[(
                "code",
                "import atexit
handle = open('left-open.txt', 'w')
handle.write('buffered, never closed')
atexit.register(lambda: open('atexit.txt', 'w').write('ran'))",
                &[],
            )]),
        );
        let output = nbexec(&ws, &venv).arg("leaves-open.ipynb").run();
        assert_exit(&output, 0);
        let read = |name: &str| std::fs::read_to_string(ws.work().join(name)).unwrap_or_default();
        assert_eq!(read("left-open.txt"), "buffered, never closed", "{output}");
        assert_eq!(read("atexit.txt"), "ran", "{output}");
    }

    /// A failing cell: exit 1, the report locates it as `NOTEBOOK, cell N, line L` (code
    /// cells counted from 1), with the cell's source line and a hint.
    fn failing_cell_is_located(runner) {
        let venv = require_venv!(Venv::Jupyter);
        let ws = Workspace::new(&runner);
        ws.write(
            "work/broken.ipynb",
            notebook(&[
                ("markdown", "intro", &[]),
                ("code", "x = 1", &[]),
                ("code", "values = {'a': 1}\nprint('before')\nvalues['b']", &[]),
                ("code", "print('never runs')", &[]),
            ]),
        );
        let output = nbexec(&ws, &venv).args(["broken.ipynb", "-o", "out.ipynb"]).run();
        assert_exit(&output, 1);
        let stderr = output.stderr_text();
        assert!(stderr.contains("error: KeyError: 'b'"), "{output}");
        assert!(stderr.contains("--> broken.ipynb, cell 2, line 3"), "{output}");
        assert!(stderr.contains("3 | values['b']"), "{output}");
        assert!(stderr.contains("hint: "), "{output}");
        // The notebook with the outputs up to the failure is still written.
        let written = read(&ws.work().join("out.ipynb"));
        assert!(printed(&written).contains("before"));
        assert!(!printed(&written).contains("never runs"));
        // --json: the SPEC object plus cells; --allow-errors runs on and still exits 1.
        let json = nbexec(&ws, &venv)
            .args(["broken.ipynb", "--json", "--allow-errors"])
            .run();
        assert_exit(&json, 1);
        let result = json.json();
        assert_eq!(result["status"], "failed");
        assert_eq!(result["error"]["type"], "KeyError");
        assert_eq!(result["error"]["cell"], 2);
        assert_eq!(result["error"]["line"], 3);
        let statuses: Vec<&str> = result["cells"]
            .as_array()
            .unwrap()
            .iter()
            .map(|cell| cell["status"].as_str().unwrap())
            .collect();
        assert_eq!(statuses, ["ok", "failed", "ok"]);
        assert_eq!(result["cells"][2]["index"], 3);
    }

    /// Parameters as papermill: typed `-p`, raw `-r`, a new `injected-parameters` cell after
    /// the `parameters` cell; `--inplace` rewrites the notebook.
    fn parameters_are_injected(runner) {
        let venv = require_venv!(Venv::Jupyter);
        let ws = Workspace::new(&runner);
        let path = ws.write(
            "work/params.ipynb",
            notebook(&[
                ("code", "import json", &[]),
                ("code", "count = 1\nratio = 0.5\nflag = False\nitems = []\nlabel = 'x'\nraw = 'y'", &["parameters"]),
                ("code", "print(json.dumps([type(v).__name__ for v in (count, ratio, flag, items, label, raw)]))\nprint(count, ratio, flag, items, label, raw)", &[]),
            ]),
        );
        let output = nbexec(&ws, &venv)
            .args(["params.ipynb", "--inplace"])
            .args(["-p", "count", "42", "-p", "ratio", "2.5", "-p", "flag", "True"])
            .args(["-p", "items", "[1, 'two', None]", "-p", "label", "hello world"])
            .args(["-r", "raw", "17"])
            .run();
        assert_exit(&output, 0);
        let written = read(&path);
        let cells = written["cells"].as_array().unwrap();
        assert_eq!(cells.len(), 4, "one injected cell");
        assert_eq!(cells[2]["metadata"]["tags"][0], "injected-parameters");
        let text = printed(&written);
        assert!(text.contains(r#"["int", "float", "bool", "list", "str", "str"]"#), "{text}");
        assert!(text.contains("42 2.5 True [1, 'two', None] hello world 17"), "{text}");
    }

    /// A kernel killed by the memory limit: a clear report naming `limits.memory` (or the
    /// MemoryError the allocation raised), exit 1, and no Python traceback from the driver.
    fn kernel_killed_by_the_memory_limit(runner) {
        let venv = require_venv!(Venv::Jupyter);
        let ws = Workspace::new(&runner);
        ws.write(
            "work/hog.ipynb",
            notebook(&[("code", "blocks = [bytearray(32 << 20) for _ in range(64)]", &[])]),
        );
        let output = nbexec(&ws, &venv).args(["--memory", "192MiB", "hog.ipynb"]).run();
        assert_exit(&output, 1);
        let stderr = output.stderr_text();
        assert!(stderr.contains("limits.memory"), "{output}");
        assert!(!stderr.contains("driver.py"), "{output}");
    }
}

/// Bad input: not a notebook, nbformat 3, a missing file, a venv without nbclient — each a
/// clear error with exit 125 and no traceback.
#[test]
fn bad_input_is_refused_clearly() {
    let ws = Workspace::new(&Runner::Caller);
    ws.write("work/notes.ipynb", "this is not json");
    ws.write(
        "work/old.ipynb",
        r#"{"nbformat": 3, "nbformat_minor": 0, "worksheets": []}"#,
    );
    let plain = venv(Venv::Debian).unwrap();
    for (file, needle) in [
        ("notes.ipynb", "is not a Jupyter notebook"),
        ("old.ipynb", "nbformat 3"),
        ("missing.ipynb", "not found"),
    ] {
        let output = nbexec(&ws, &plain).arg(file).run();
        assert_exit(&output, 125);
        assert!(output.stderr_text().contains(needle), "{file}: {output}");
        assert!(!output.stderr_text().contains("Traceback"), "{output}");
    }
    ws.write("work/ok.ipynb", notebook(&[("code", "print(1)", &[])]));
    let output = nbexec(&ws, &plain).arg("ok.ipynb").run();
    assert_exit(&output, 125);
    let stderr = output.stderr_text();
    assert!(stderr.contains("not installed in the venv"), "{output}");
    assert!(
        stderr.contains("-m pip install nbclient ipykernel"),
        "{output}"
    );
    assert!(!stderr.contains("Traceback"), "{output}");
}

/// `--cell-timeout` stops a cell that runs too long.
#[test]
fn cell_timeout_stops_a_cell() {
    let venv = require_venv!(Venv::Jupyter);
    let ws = Workspace::new(&Runner::Caller);
    ws.write(
        "work/slow.ipynb",
        notebook(&[("code", "import time\ntime.sleep(60)", &[])]),
    );
    let output = nbexec(&ws, &venv)
        .args(["--cell-timeout", "2s", "slow.ipynb"])
        .run();
    assert_exit(&output, 1);
    assert!(output.stderr_text().contains("--cell-timeout"), "{output}");
}
