//! `boxpy nbexec`'s saved notebook as papermill writes it (issue 18): parameters replace an
//! earlier injected cell and are written by papermill's translator, `metadata.papermill`
//! per notebook and per cell, papermill's error markers, no stale output after a failure,
//! `language_info` and widget state, Jupyter's own file format; `--prepare-only`, `-o -`,
//! `--log-output`, progressive saving; interruptions (SIGINT, SIGTERM, `--timeout`) that
//! report the running cell and save what ran; `-o` checked before anything runs.
//!
//! Every saved notebook is checked on the host with the test venv's own nbformat and
//! papermill (trusted: the test's venv, not the notebook's): `nbformat.validate`,
//! `papermill.inspect_notebook`, and byte equality with what `nbformat.write` writes.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::harness::{assert_exit, is_root, require_venv, Runner, Venv, Workspace};
use crate::nbexec::{nbexec, notebook, read};

/// The checks every saved notebook passes, run by the papermill venv's python on the host:
/// `nbformat.validate`, `papermill.inspect_notebook`, and the file is byte for byte what
/// `nbformat.write` writes for the same notebook (1-space indent, sources as line lists,
/// sorted keys, a final newline). Returns what `inspect_notebook` found (JSON).
fn papermill_reads(venv: &Path, path: &Path) -> serde_json::Value {
    const CHECK: &str = r#"
import io, json, sys
import nbformat, papermill
path = sys.argv[1]
text = open(path, encoding="utf-8").read()
notebook = nbformat.reads(text, as_version=4)
nbformat.validate(notebook)
written = io.StringIO()
nbformat.write(notebook, written)
if written.getvalue() != text:
    sys.exit("not in nbformat.write's format")
print(json.dumps(papermill.inspect_notebook(path)))
"#;
    let output = Command::new(venv.join("bin/python"))
        .args(["-c", CHECK])
        .arg(path)
        .output()
        .expect("run the papermill venv's python");
    assert!(
        output.status.success(),
        "{} fails papermill's and nbformat's checks: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("inspect_notebook's JSON")
}

/// Text of a cell's outputs (streams, text/plain results, error names).
fn outputs(cell: &serde_json::Value) -> String {
    let mut text = String::new();
    for output in cell["outputs"].as_array().into_iter().flatten() {
        for field in [&output["text"], &output["data"]["text/plain"]] {
            match field {
                serde_json::Value::String(part) => text.push_str(part),
                serde_json::Value::Array(parts) => parts
                    .iter()
                    .filter_map(|p| p.as_str())
                    .for_each(|p| text.push_str(p)),
                _ => {}
            }
        }
        if let Some(name) = output["ename"].as_str() {
            text.push_str(name);
        }
    }
    text
}

fn source(cell: &serde_json::Value) -> String {
    match &cell["source"] {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Array(parts) => parts.iter().filter_map(|p| p.as_str()).collect(),
        _ => String::new(),
    }
}

fn cells(notebook: &serde_json::Value) -> Vec<serde_json::Value> {
    notebook["cells"].as_array().unwrap().clone()
}

fn tagged(notebook: &serde_json::Value, tag: &str) -> Vec<usize> {
    cells(notebook)
        .iter()
        .enumerate()
        .filter(|(_, cell)| {
            cell["metadata"]["tags"]
                .as_array()
                .is_some_and(|tags| tags.iter().any(|t| t == tag))
        })
        .map(|(index, _)| index)
        .collect()
}

fn status(cell: &serde_json::Value) -> &str {
    cell["metadata"]["papermill"]["status"]
        .as_str()
        .unwrap_or("none")
}

/// Parameters over a notebook papermill (or boxpy) already ran: the earlier injected cell
/// is replaced, never stacked, and the new value wins; values are written as papermill's
/// translator writes them (`1e400` → `float('inf')`, `nan`, `007` → 7); `metadata.papermill`
/// records them with the paths and every cell's status and timing; `language_info` comes
/// from the kernel.
#[test]
fn parameters_replace_the_injected_cell_and_metadata_is_papermills() {
    let venv = require_venv!(Venv::Papermill);
    let ws = Workspace::new(&Runner::Caller);
    let path = ws.write(
        "work/params.ipynb",
        notebook(&[
            ("markdown", "# Report", &[]),
            ("code", "x = 1\ny = 'a'\nz = 0.5\ns = ''", &["parameters"]),
            (
                "code",
                "print(repr(x), repr(y), repr(z), s == 'say \"hi\"\\\\ \\u00e9')",
                &[],
            ),
        ]),
    );
    let output = nbexec(&ws, &venv)
        .args(["params.ipynb", "-o", "first.ipynb"])
        .args(["-p", "x", "1e400", "-p", "y", "007", "-p", "z", "nan"])
        .args(["-r", "s", "say \"hi\"\\ \u{e9}"])
        .run();
    assert_exit(&output, 0);
    let first = read(&ws.work().join("first.ipynb"));
    assert_eq!(tagged(&first, "injected-parameters"), [2]);
    assert_eq!(
        source(&cells(&first)[2]),
        "# Parameters\nx = float('inf')\ny = 7\nz = float('nan')\ns = \"say \\\"hi\\\"\\\\ \\xe9\"\n",
        "papermill's escaping"
    );
    assert_eq!(outputs(&cells(&first)[3]).trim(), "inf 7 nan True");
    let papermill = &first["metadata"]["papermill"];
    assert_eq!(
        papermill["parameters"],
        serde_json::json!({"x": "inf", "y": 7, "z": "nan", "s": "say \"hi\"\\ \u{e9}"})
    );
    assert_eq!(papermill["input_path"], "params.ipynb");
    assert_eq!(papermill["output_path"], "first.ipynb");
    assert_eq!(papermill["exception"], serde_json::Value::Null);
    assert!(papermill["duration"].as_f64().is_some() && papermill["end_time"].is_string());
    for cell in cells(&first) {
        assert_eq!(status(&cell), "completed", "{cell}");
        assert!(
            cell["metadata"]["papermill"]["start_time"].is_string(),
            "{cell}"
        );
    }
    assert_eq!(first["metadata"]["language_info"]["name"], "python");
    papermill_reads(&venv, &ws.work().join("first.ipynb"));

    // Again, on the executed notebook: one injected cell, the new value.
    let output = nbexec(&ws, &venv)
        .args(["first.ipynb", "--inplace", "-p", "x", "5"])
        .run();
    assert_exit(&output, 0);
    let second = read(&ws.work().join("first.ipynb"));
    assert_eq!(
        tagged(&second, "injected-parameters"),
        [2],
        "replaced, not stacked"
    );
    assert_eq!(
        cells(&second)[2]["id"],
        cells(&first)[2]["id"],
        "the same cell id"
    );
    assert_eq!(source(&cells(&second)[2]), "# Parameters\nx = 5\n");
    assert_eq!(outputs(&cells(&second)[3]).trim(), "5 'a' 0.5 False");
    assert_eq!(
        second["metadata"]["papermill"]["parameters"],
        serde_json::json!({"x": 5})
    );
    assert_eq!(cells(&second).len(), 4);
    let inspected = papermill_reads(&venv, &ws.work().join("first.ipynb"));
    assert_eq!(inspected["x"]["default"], "1", "{inspected}");
    // The original is untouched.
    assert_eq!(cells(&read(&path)).len(), 3);
}

/// A failure mid-notebook, on a notebook that still holds an earlier run's outputs and
/// papermill's markers: the cells after the failure keep no output and no count (the stale
/// ones are gone), the file their code would create does not exist, papermill's banner
/// (naming the failed cell's count) and anchor are there once, the statuses are
/// completed/failed/pending.
#[test]
fn a_failure_leaves_no_stale_output_and_papermills_markers() {
    let venv = require_venv!(Venv::Papermill);
    let ws = Workspace::new(&Runner::Caller);
    let mut stale: serde_json::Value = serde_json::from_str(&notebook(&[
        ("markdown", "old banner", &["papermill-error-cell-tag"]),
        ("code", "print('fine')", &[]),
        ("code", "raise ValueError('broken')", &[]),
        (
            "code",
            "open('after-the-failure', 'w').close()\nprint('after')",
            &[],
        ),
    ]))
    .unwrap();
    stale["cells"][3]["execution_count"] = 9.into();
    stale["cells"][3]["outputs"] = serde_json::json!([
        {"output_type": "stream", "name": "stdout", "text": "stale output\n"}
    ]);
    ws.write("work/fails.ipynb", stale.to_string());
    let output = nbexec(&ws, &venv)
        .args(["fails.ipynb", "-o", "out.ipynb"])
        .run();
    assert_exit(&output, 1);
    assert!(output.stderr_text().contains("ValueError"), "{output}");
    assert!(!ws.work().join("after-the-failure").exists());
    let saved = read(&ws.work().join("out.ipynb"));
    let all = cells(&saved);
    assert_eq!(
        tagged(&saved, "papermill-error-cell-tag"),
        [0, 2],
        "banner and anchor"
    );
    assert!(
        source(&all[0]).contains("In [2]"),
        "the banner names the count: {}",
        all[0]
    );
    assert!(source(&all[2]).contains("id=\"papermill-error-cell\""));
    assert_eq!(status(&all[1]), "completed");
    assert_eq!(status(&all[3]), "failed");
    assert_eq!(all[3]["metadata"]["papermill"]["exception"], true);
    assert!(outputs(&all[3]).contains("ValueError"));
    assert_eq!(status(&all[4]), "pending");
    assert_eq!(all[4]["execution_count"], serde_json::Value::Null);
    assert_eq!(all[4]["outputs"], serde_json::json!([]), "no stale output");
    assert_eq!(saved["metadata"]["papermill"]["exception"], true);
    papermill_reads(&venv, &ws.work().join("out.ipynb"));
}

/// Widgets and `--log-output`: the widget state is saved (`metadata.widgets`, as
/// `NotebookClient.execute()` saves it) and what the cells print reaches stderr as they run.
#[test]
fn widget_state_is_saved_and_log_output_streams() {
    let venv = require_venv!(Venv::Papermill);
    let ws = Workspace::new(&Runner::Caller);
    ws.write(
        "work/widgets.ipynb",
        notebook(&[
            ("code", "print('streamed line')", &[]),
            (
                "code",
                "import ipywidgets\nslider = ipywidgets.IntSlider(value=7)\nslider",
                &[],
            ),
            ("code", "6 * 7", &[]),
        ]),
    );
    let output = nbexec(&ws, &venv)
        .args(["widgets.ipynb", "-o", "out.ipynb", "--log-output"])
        .run();
    assert_exit(&output, 0);
    let stderr = output.stderr_text();
    assert!(
        stderr.contains("streamed line") && stderr.contains("42"),
        "{output}"
    );
    let saved = read(&ws.work().join("out.ipynb"));
    let state = &saved["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"];
    let models: Vec<&serde_json::Value> = state["state"].as_object().unwrap().values().collect();
    assert!(
        models
            .iter()
            .any(|model| model["model_name"] == "IntSliderModel" && model["state"]["value"] == 7),
        "{state}"
    );
    papermill_reads(&venv, &ws.work().join("out.ipynb"));
}

/// `--prepare-only`: the parameters injected and papermill's metadata written, no kernel
/// (a cell that would create a file did not run); `-o -` writes the notebook to stdout.
/// Without somewhere to write, and `-o -` with `--json`: usage errors, exit 125.
#[test]
fn prepare_only_writes_without_a_kernel_and_dash_is_stdout() {
    let venv = require_venv!(Venv::Papermill);
    let ws = Workspace::new(&Runner::Caller);
    ws.write(
        "work/prep.ipynb",
        notebook(&[
            ("code", "n = 1", &["parameters"]),
            ("code", "open('ran', 'w').close()", &[]),
        ]),
    );
    let output = nbexec(&ws, &venv)
        .args(["prep.ipynb", "--prepare-only", "-o", "-", "-p", "n", "3"])
        .run();
    assert_exit(&output, 0);
    let prepared: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("stdout is the notebook ({error}): {output}"));
    assert_eq!(tagged(&prepared, "injected-parameters"), [1]);
    assert_eq!(source(&cells(&prepared)[1]), "# Parameters\nn = 3\n");
    assert_eq!(prepared["metadata"]["papermill"]["parameters"]["n"], 3);
    assert_eq!(prepared["metadata"]["papermill"]["output_path"], "-");
    for cell in cells(&prepared) {
        assert_eq!(cell["execution_count"], serde_json::Value::Null);
        assert_eq!(status(&cell), "pending");
    }
    assert!(!ws.work().join("ran").exists(), "no kernel ran");
    let path = ws.write("work/prepared.ipynb", &output.stdout);
    papermill_reads(&venv, &path);

    // A run to stdout: what the kernel writes to its own stdout goes to stderr, so stdout is
    // the notebook alone.
    ws.write(
        "work/loud.ipynb",
        notebook(&[(
            "code",
            "import os\nos.system('echo raw-stdout')\nprint('cell output')",
            &[],
        )]),
    );
    let output = nbexec(&ws, &venv).args(["loud.ipynb", "-o", "-"]).run();
    assert_exit(&output, 0);
    let executed: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("stdout is the notebook alone ({error}): {output}"));
    assert!(outputs(&cells(&executed)[0]).contains("cell output"));
    assert!(output.stderr_text().contains("raw-stdout"), "{output}");

    for arguments in [
        &["prep.ipynb", "--prepare-only"][..],
        &["prep.ipynb", "-o", "-", "--json"],
        &["prep.ipynb", "--request-save-on-cell-execute"],
    ] {
        let output = nbexec(&ws, &venv).args(arguments).run();
        assert_exit(&output, 125);
    }
    assert!(!ws.work().join("ran").exists());
}

/// Progressive saving (`--request-save-on-cell-execute`), killed at `--timeout` inside the
/// second cell: the output holds the first cell's output and the second as running (the
/// last snapshot), nothing temporary is left beside it, and the report names cell 2.
#[test]
fn progressive_saving_keeps_the_completed_cells_at_a_timeout() {
    let venv = require_venv!(Venv::Papermill);
    let ws = Workspace::new(&Runner::Caller);
    ws.write(
        "work/slow.ipynb",
        notebook(&[
            ("code", "print('first done')", &[]),
            (
                "code",
                "import time\nfor _ in range(6000):\n    time.sleep(0.1)",
                &[],
            ),
            ("code", "print('never')", &[]),
        ]),
    );
    let output = nbexec(&ws, &venv)
        .args([
            "slow.ipynb",
            "-o",
            "out.ipynb",
            "--json",
            "--timeout",
            "15s",
        ])
        .arg("--request-save-on-cell-execute")
        .run();
    assert_exit(&output, 124);
    let result = output.json();
    assert_eq!(result["status"], "timeout");
    assert_eq!(result["stopped_in_cell"], 2, "{result}");
    assert_eq!(result["error"]["cell"], 2, "{result}");
    assert!(
        result["error"]["hint"]
            .as_str()
            .is_some_and(|hint| hint.contains("limits.timeout") && hint.contains("out.ipynb")),
        "{result}"
    );
    assert_eq!(result["cells"][1]["status"], "killed", "{result}");
    // The kernel's connection file is Jupyter's private file, not the program's: a kill
    // leaves nothing in /tmp for the discarded-files notice to name.
    assert_eq!(result["discarded"], serde_json::json!([]), "{result}");
    let saved = read(&ws.work().join("out.ipynb"));
    let all = cells(&saved);
    assert_eq!(outputs(&all[0]).trim(), "first done");
    assert_eq!(status(&all[0]), "completed");
    assert_eq!(status(&all[1]), "running");
    assert_eq!(status(&all[2]), "pending");
    let leftovers: Vec<_> = std::fs::read_dir(ws.work())
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".boxpy-nbexec-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    papermill_reads(&venv, &ws.work().join("out.ipynb"));
}

/// SIGINT and SIGTERM to boxpy while a cell runs: the driver interrupts the kernel, marks
/// the cell, skips the rest and saves the notebook; boxpy prints one JSON object naming the
/// interrupted cell and exits 130 / 143, as `boxpy run` does.
#[test]
fn sigint_and_sigterm_interrupt_the_running_cell_and_save() {
    let venv = require_venv!(Venv::Papermill);
    let ws = Workspace::new(&Runner::Caller);
    ws.write(
        "work/long.ipynb",
        notebook(&[
            ("code", "print('one')", &[]),
            (
                "code",
                "import time\nopen('cell-2-started', 'w').close()\nfor _ in range(6000):\n    time.sleep(0.1)",
                &[],
            ),
            ("code", "open('cell-3-ran', 'w').close()", &[]),
        ]),
    );
    for (signal, code) in [(Signal::SIGINT, 130), (Signal::SIGTERM, 143)] {
        let started = ws.work().join("cell-2-started");
        let _ = std::fs::remove_file(&started);
        let running = nbexec(&ws, &venv)
            .args(["long.ipynb", "-o", "out.ipynb", "--json"])
            .spawn();
        let deadline = Instant::now() + Duration::from_secs(90);
        while !started.exists() {
            assert!(Instant::now() < deadline, "cell 2 never started");
            std::thread::sleep(Duration::from_millis(50));
        }
        running.signal(signal);
        let output = running.finish();
        assert_exit(&output, code);
        let result = output.json();
        assert_eq!(result["exit_code"], code, "{result}");
        assert_eq!(result["stopped_in_cell"], 2, "{result}");
        // Reported as the interruption it is, in the cell that ran, with what was saved.
        assert_eq!(result["error"]["type"], "Interrupted", "{result}");
        assert_eq!(result["error"]["cell"], 2, "{result}");
        let hint = result["error"]["hint"].as_str().unwrap_or_default();
        assert!(
            hint.contains("`out.ipynb` holds the cells that ran"),
            "{result}"
        );
        let statuses: Vec<&str> = result["cells"]
            .as_array()
            .unwrap()
            .iter()
            .map(|cell| cell["status"].as_str().unwrap())
            .collect();
        assert_eq!(
            statuses,
            ["ok", "interrupted", "skipped"],
            "{signal}: {result}"
        );
        assert!(!ws.work().join("cell-3-ran").exists());
        let saved = read(&ws.work().join("out.ipynb"));
        let all = cells(&saved);
        assert_eq!(outputs(&all[1]).trim(), "one");
        // The banner and the anchor come first and before cell 2.
        assert_eq!(tagged(&saved, "papermill-error-cell-tag"), [0, 2]);
        assert_eq!(status(&all[3]), "failed");
        assert!(outputs(&all[3]).contains("KeyboardInterrupt"), "{}", all[3]);
        assert_eq!(status(&all[4]), "pending");
        papermill_reads(&venv, &ws.work().join("out.ipynb"));
        std::fs::remove_file(ws.work().join("out.ipynb")).unwrap();
    }
}

/// `-o` that cannot be written is refused before anything runs (a cell that would create a
/// file did not): an existing directory, a directory that does not exist, and (for a user
/// without root's override) a read-only directory.
#[test]
fn the_output_is_checked_before_running() {
    let venv = require_venv!(Venv::Papermill);
    let runners: Vec<Runner> = std::iter::once(Runner::Caller)
        .chain(Runner::unprivileged())
        .collect();
    for runner in runners {
        let ws = Workspace::new(&runner);
        ws.write(
            "work/marks.ipynb",
            notebook(&[("code", "open('ran', 'w').close()", &[])]),
        );
        ws.dir("work/existing");
        let mut targets = vec!["existing", "missing/out.ipynb"];
        let locked = ws.dir("work/locked");
        if !matches!(runner, Runner::Caller) || !is_root() {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
            targets.push("locked/out.ipynb");
        }
        for target in targets {
            let output = nbexec(&ws, &venv).args(["marks.ipynb", "-o", target]).run();
            assert_exit(&output, 125);
            assert!(output.stderr_text().contains("cannot write"), "{output}");
            assert!(!ws.work().join("ran").exists(), "{target}: a cell ran");
        }
    }
}

/// The final write fails after all (the notebook made the output's directory read-only
/// while it ran): the executed notebook is kept in a new file under `$XDG_STATE_HOME/boxpy/`,
/// which the report and `--json` (`saved_to`) name.
#[test]
fn a_notebook_whose_write_fails_is_kept_elsewhere() {
    let venv = require_venv!(Venv::Papermill);
    let Some(runner) = Runner::unprivileged() else {
        return;
    };
    if matches!(runner, Runner::Caller) && is_root() {
        return; // root writes a read-only directory anyway
    }
    let ws = Workspace::new(&runner);
    ws.dir("work/results");
    ws.write(
        "work/lock.ipynb",
        notebook(&[(
            "code",
            "import os\nos.chmod('results', 0o555)\nprint('ran')",
            &[],
        )]),
    );
    let state = ws.dir("state");
    let output = nbexec(&ws, &venv)
        .env("XDG_STATE_HOME", &state)
        .args(["lock.ipynb", "-o", "results/out.ipynb", "--json"])
        .run();
    assert_exit(&output, 1);
    let result = output.json();
    let kept = Path::new(
        result["saved_to"]
            .as_str()
            .unwrap_or_else(|| panic!("{result}")),
    )
    .to_path_buf();
    assert!(kept.starts_with(state.join("boxpy")), "{}", kept.display());
    let saved = read(&kept);
    assert_eq!(outputs(&cells(&saved)[0]).trim(), "ran");
    assert!(!ws.work().join("results/out.ipynb").exists());

    // A state directory the program could write (inside the workdir) where it planted
    // `boxpy -> elsewhere`: the kept copy goes to boxpy's next place, never through the link.
    let elsewhere = ws.dir("elsewhere");
    ws.dir("work/results2");
    ws.write(
        "work/plant.ipynb",
        notebook(&[(
            "code",
            &format!(
                "import os\nos.makedirs('state', exist_ok=True)\nos.symlink({:?}, 'state/boxpy')\nos.chmod('results2', 0o555)\nprint('ran')",
                elsewhere.display().to_string()
            ),
            &[],
        )]),
    );
    let output = nbexec(&ws, &venv)
        .env("XDG_STATE_HOME", ws.work().join("state"))
        .args(["plant.ipynb", "-o", "results2/out.ipynb", "--json"])
        .run();
    assert_exit(&output, 1);
    let result = output.json();
    let kept = result["saved_to"]
        .as_str()
        .unwrap_or_else(|| panic!("{result}"));
    assert!(
        !kept.starts_with(ws.work().to_str().unwrap())
            && !kept.starts_with(elsewhere.to_str().unwrap()),
        "{kept}"
    );
    assert_eq!(
        std::fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "{result}"
    );
    let _ = std::fs::remove_file(kept);
}

/// Jupyter's own format: the saved file is what `nbformat.write` writes (checked in
/// [`papermill_reads`]), and rerunning an executed notebook `--inplace` changes no more
/// lines than `jupyter execute --inplace` does, apart from papermill's own timing and paths
/// (`start_time`, `end_time`, `duration`, `input_path`, `output_path`), which change on
/// every run as papermill's do.
#[test]
fn an_inplace_rerun_diffs_like_jupyter_execute() {
    let venv = require_venv!(Venv::Papermill);
    let ws = Workspace::new(&Runner::Caller);
    ws.write(
        "work/report.ipynb",
        notebook(&[
            ("markdown", "# Report\nSome text.", &[]),
            ("code", "x = 1", &["parameters"]),
            ("code", "print(x)\nx * 2", &[]),
            ("code", "import sys\nprint('warn', file=sys.stderr)", &[]),
        ]),
    );
    let output = nbexec(&ws, &venv)
        .args(["report.ipynb", "-o", "executed.ipynb"])
        .run();
    assert_exit(&output, 0);
    let executed = ws.work().join("executed.ipynb");
    papermill_reads(&venv, &executed);
    let ours = ws.work().join("ours.ipynb");
    let jupyters = ws.work().join("jupyters.ipynb");
    std::fs::copy(&executed, &ours).unwrap();
    std::fs::copy(&executed, &jupyters).unwrap();
    let output = nbexec(&ws, &venv).args(["ours.ipynb", "--inplace"]).run();
    assert_exit(&output, 0);
    // `jupyter execute --inplace` (nbclient's own command), on the host with the test's venv.
    let status = Command::new(venv.join("bin/python"))
        .args(["-c", "from nbclient.cli import main; main()", "--inplace"])
        .arg(&jupyters)
        .current_dir(ws.work())
        .output()
        .expect("run jupyter execute");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let before = std::fs::read_to_string(&executed).unwrap();
    let changed = |after: &Path, ignore: &[&str]| -> usize {
        let after = std::fs::read_to_string(after).unwrap();
        let (old, new): (Vec<&str>, Vec<&str>) =
            (before.lines().collect(), after.lines().collect());
        assert_eq!(old.len(), new.len(), "the same shape:\n{after}");
        old.iter()
            .zip(&new)
            .filter(|(old, new)| old != new)
            .filter(|(old, _)| !ignore.iter().any(|key| old.contains(key)))
            .count()
    };
    let papermill_timing = [
        "\"start_time\"",
        "\"end_time\"",
        "\"duration\"",
        "\"input_path\"",
        "\"output_path\"",
    ];
    let jupyter = changed(&jupyters, &[]);
    let boxpy = changed(&ours, &papermill_timing);
    assert!(jupyter > 0, "jupyter execute changed nothing?");
    assert!(
        boxpy <= jupyter,
        "boxpy changed {boxpy} lines, jupyter execute {jupyter}"
    );
}
