//! `boxpy nbexec`: execute a Jupyter notebook inside the same sandbox as `run` (SPEC §7).
//!
//! boxpy reads and checks the notebook on the host, mounts it read-only into the sandbox
//! together with a small driver program ([`DRIVER`]) and its configuration, and runs the
//! driver with the venv's interpreter. The driver executes the cells with the venv's own
//! nbclient and ipykernel — kernel and client talk over the sandbox's private loopback, so
//! `network = "none"` works — and reports events over a channel descriptor: progress, each
//! cell's status and error, and finally the executed notebook, which boxpy writes
//! atomically (`-o`, `--inplace`). Nothing the kernel writes lands beside the notebook:
//! Jupyter's and IPython's directories point into the sandbox's private /tmp.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

use serde::Deserialize;

use crate::cli::NbexecArgs;
use crate::error::{Error, Result};
use crate::exec::{Outcome, Status};
use crate::hints::catalogue::{self, Diagnosis, Place};
use crate::hints::traceback::{Frame, Traceback};
use crate::host::HostFacts;
use crate::policy::units::parse_duration;
use crate::policy::Mount;
use crate::report;
use crate::settings::{self, Invocation, Program};

/// The driver program run inside the sandbox.
pub const DRIVER: &str = include_str!("driver.py");
/// Where the driver's files are mounted inside the sandbox.
const DRIVER_DIRECTORY: &str = "/run/boxpy/nbexec";
/// The private directory for Jupyter's and IPython's state (inside the sandbox's /tmp).
const PRIVATE: &str = "/tmp/boxpy-jupyter";

/// One code cell's result, for `--json` and the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CellResult {
    /// The code cell's number (1-based, as a reader counts the notebook's code cells).
    pub index: usize,
    pub status: String,
    pub duration_ms: u64,
    #[serde(skip)]
    pub error: Option<CellError>,
}

/// The error a cell raised, as the kernel reported it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CellError {
    pub ename: String,
    pub evalue: String,
    #[serde(default)]
    pub traceback: String,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Event {
    Start {
        cells: usize,
    },
    CellStart {
        index: serde_json::Value,
    },
    CellEnd {
        index: serde_json::Value,
        status: String,
        duration_ms: u64,
        #[serde(default)]
        error: Option<CellError>,
    },
    Notebook {
        content: serde_json::Value,
    },
    Missing {
        module: String,
    },
    DriverError {
        message: String,
    },
}

/// What the driver told boxpy.
#[derive(Debug, Default)]
struct Collected {
    total: usize,
    cells: Vec<CellResult>,
    injected_failure: Option<CellError>,
    notebook: Option<serde_json::Value>,
    missing: Option<String>,
    driver_error: Option<String>,
}

/// Runs `boxpy nbexec`.
pub fn run(args: NbexecArgs, host: &HostFacts) -> Result<u8> {
    let cwd = std::env::current_dir().map_err(anyhow::Error::from)?;
    let notebook_path = crate::policy::validate::normalize(&cwd.join(&args.notebook));
    let notebook_limit = match args.max_notebook_size.as_deref() {
        Some(text) => crate::policy::units::parse_size(text).map_err(|message| Error::Usage {
            message: format!("--max-notebook-size: {message}"),
            hint: Some("e.g. `--max-notebook-size 1GiB`".to_owned()),
        })?,
        None => crate::bounded::NOTEBOOK_LIMIT,
    };
    let notebook = read_notebook(&args.notebook, &notebook_path, notebook_limit)?;
    let cell_sources = code_cell_sources(&serde_json::from_slice(&notebook).unwrap_or_default());
    let output = match (&args.output, args.inplace) {
        (Some(output), _) => Some(crate::policy::validate::normalize(&cwd.join(output))),
        (None, true) => Some(notebook_path.clone()),
        (None, false) => None,
    };
    if let Some(output) = &output {
        let directory = output.parent().unwrap_or(Path::new("/"));
        if !directory.is_dir() {
            return Err(Error::Usage {
                message: format!("cannot write `{}`: no such directory", output.display()),
                hint: Some("create the directory first, or pass another `-o`".to_owned()),
            });
        }
    }
    let cell_timeout = args
        .cell_timeout
        .as_deref()
        .map(|text| {
            parse_duration(text).map_err(|message| Error::Usage {
                message: format!("--cell-timeout: {message}"),
                hint: Some("e.g. `--cell-timeout 60s`".to_owned()),
            })
        })
        .transpose()?;

    let mut invocation = settings::resolve(
        &args.sandbox,
        Program::Interpreter(vec![format!("{DRIVER_DIRECTORY}/driver.py").into()]),
        host,
        &|name| std::env::var_os(name),
    )?;
    let notebook_directory = notebook_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    let visible = notebook_directory.starts_with(&invocation.spec.workdir)
        || invocation.spec.mounts.iter().any(|mount| {
            mount.source == mount.dest && notebook_directory.starts_with(&mount.source)
        });
    if !visible {
        invocation.spec.mounts.push(Mount {
            source: notebook_directory.clone(),
            dest: notebook_directory.clone(),
            optional: false,
            writable: false,
            origin: "the notebook's directory".to_owned(),
        });
    }
    let config = driver_config(&args, &notebook_directory, cell_timeout);
    for (name, contents) in [
        ("driver.py", DRIVER.as_bytes().to_vec()),
        ("config.json", config.into_bytes()),
        ("input.ipynb", notebook),
    ] {
        invocation
            .spec
            .files
            .push((Path::new(DRIVER_DIRECTORY).join(name), contents));
    }

    let (sender, receiver) = mpsc::channel();
    let show_progress =
        !invocation.output.json && !invocation.output.quiet && std::io::stderr().is_terminal();
    let collector = std::thread::spawn(move || collect(receiver, show_progress));
    let outcome = crate::execute(&invocation, host, Some(sender));
    let collected = collector
        .join()
        .map_err(|_| anyhow::anyhow!("the notebook event reader panicked"))?;
    let outcome = outcome?;
    if show_progress {
        report::progress_done();
    }

    if let Some(module) = collected.missing {
        return Err(missing_module(&invocation, &module));
    }
    if let Some(message) = collected.driver_error {
        return Err(Error::SandboxSetup {
            detail: format!("the notebook driver failed: {message}"),
        });
    }
    if let (Some(output), Some(content)) = (&output, &collected.notebook) {
        write_atomically(output, content)?;
    }

    let display = args.notebook.display().to_string();
    let mut diagnoses: Vec<Diagnosis> = collected
        .cells
        .iter()
        .filter_map(|cell| {
            let error = cell.error.as_ref()?;
            let source = cell_sources.get(cell.index - 1).map(String::as_str);
            Some(cell_diagnosis(
                &invocation,
                &display,
                cell.index,
                source,
                error,
                &outcome,
            ))
        })
        .collect();
    if let Some(error) = &collected.injected_failure {
        diagnoses.push(cell_diagnosis(
            &invocation,
            &display,
            0,
            None,
            error,
            &outcome,
        ));
    }
    let any_failed = collected
        .cells
        .iter()
        .any(|cell| cell.status != "ok" && cell.status != "skipped")
        || collected.injected_failure.is_some();
    let code = match outcome.status {
        Status::Exited(0) if any_failed => 1,
        Status::Exited(0) if collected.notebook.is_none() => 1,
        _ => report::exit_code(&outcome),
    };
    if invocation.output.json {
        let mut result = report::json_outcome(&invocation, &outcome);
        if code == 1 && result.status == "ok" {
            result.status = "failed";
            result.exit_code = Some(1);
        }
        if let Some(diagnosis) = diagnoses.first().cloned() {
            result.error = Some(diagnosis.into());
        }
        let mut value = serde_json::to_value(&result).map_err(anyhow::Error::from)?;
        value["cells"] = serde_json::to_value(&collected.cells).map_err(anyhow::Error::from)?;
        report::print_json_value(&value);
    } else if !invocation.output.quiet {
        if diagnoses.is_empty() {
            report::human_outcome(&invocation, &outcome);
        }
        for diagnosis in &diagnoses {
            report::print_diagnosis(diagnosis, invocation.output.color);
        }
    }
    crate::audit::log_run(&invocation, &outcome, code);
    Ok(code)
}

/// Reads and checks the notebook: a regular file of at most `limit` bytes (never a FIFO
/// or a device, see [`crate::bounded`]), JSON, nbformat 4, a `cells` list.
fn read_notebook(shown: &Path, path: &Path, limit: u64) -> Result<Vec<u8>> {
    use crate::bounded::ReadError;
    let bytes = crate::bounded::read(path, limit).map_err(|error| match error {
        error if error.is_not_found() => Error::ScriptNotFound {
            path: shown.to_path_buf(),
        },
        ReadError::TooLarge(_) => Error::Usage {
            message: format!("cannot read `{}`: {error}", shown.display()),
            hint: Some("raise the limit with `--max-notebook-size SIZE`".to_owned()),
        },
        error => Error::Usage {
            message: format!("cannot read `{}`: {error}", shown.display()),
            hint: None,
        },
    })?;
    check_notebook(shown, &bytes)?;
    Ok(bytes)
}

/// The notebook's bytes are JSON, nbformat 4, with a `cells` list.
pub(crate) fn check_notebook(shown: &Path, bytes: &[u8]) -> Result<()> {
    let not_a_notebook = |why: String| Error::Usage {
        message: format!("`{}` is not a Jupyter notebook: {why}", shown.display()),
        hint: Some("pass an `.ipynb` file (nbformat 4)".to_owned()),
    };
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|error| not_a_notebook(format!("not JSON ({error})")))?;
    match value.get("nbformat").and_then(serde_json::Value::as_u64) {
        Some(4) => {}
        Some(version) => {
            return Err(Error::Usage {
                message: format!(
                    "`{}` is in nbformat {version}; boxpy runs nbformat 4",
                    shown.display()
                ),
                hint: Some(format!(
                    "convert it first: `jupyter nbconvert --to notebook --nbformat 4 --output converted.ipynb {}`",
                    shown.display()
                )),
            })
        }
        None => return Err(not_a_notebook("no `nbformat` field".to_owned())),
    }
    if !value.get("cells").is_some_and(serde_json::Value::is_array) {
        return Err(not_a_notebook("no `cells` list".to_owned()));
    }
    Ok(())
}

/// The source of every code cell of the original notebook, in order.
fn code_cell_sources(notebook: &serde_json::Value) -> Vec<String> {
    let Some(cells) = notebook.get("cells").and_then(serde_json::Value::as_array) else {
        return Vec::new();
    };
    cells
        .iter()
        .filter(|cell| cell.get("cell_type").and_then(serde_json::Value::as_str) == Some("code"))
        .map(|cell| match cell.get("source") {
            Some(serde_json::Value::String(text)) => text.clone(),
            Some(serde_json::Value::Array(parts)) => parts
                .iter()
                .filter_map(serde_json::Value::as_str)
                .collect::<String>(),
            _ => String::new(),
        })
        .collect()
}

/// The driver's configuration (JSON, mounted read-only).
fn driver_config(
    args: &NbexecArgs,
    cwd: &Path,
    cell_timeout: Option<std::time::Duration>,
) -> String {
    let mut parameters = Vec::new();
    for (values, kind) in [(&args.parameters, "literal"), (&args.raw_parameters, "raw")] {
        for pair in values.chunks(2) {
            if let [name, value] = pair {
                parameters.push(serde_json::json!([name, kind, value]));
            }
        }
    }
    let private = |name: &str| format!("{PRIVATE}/{name}");
    let private_dirs: Vec<String> = ["runtime", "data", "config", "ipython", "matplotlib"]
        .iter()
        .map(|name| private(name))
        .collect();
    let config = serde_json::json!({
        "input": format!("{DRIVER_DIRECTORY}/input.ipynb"),
        "cwd": cwd,
        "parameters": parameters,
        "cell_timeout": cell_timeout.map(|timeout| timeout.as_secs_f64().ceil() as u64),
        "allow_errors": args.allow_errors,
        "kernel": args.kernel,
        "env": {
            "JUPYTER_RUNTIME_DIR": private("runtime"),
            "JUPYTER_DATA_DIR": private("data"),
            "JUPYTER_CONFIG_DIR": private("config"),
            "JUPYTER_PLATFORM_DIRS": "1",
            "IPYTHONDIR": private("ipython"),
            "MPLCONFIGDIR": private("matplotlib"),
            "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        },
        "private_dirs": private_dirs,
    });
    config.to_string()
}

/// The notebook check and the cell sources, for the fuzzer (`fuzz/`).
pub(crate) fn check_for_fuzzing(bytes: &[u8]) {
    if check_notebook(Path::new("fuzz.ipynb"), bytes).is_ok() {
        let _ = code_cell_sources(&serde_json::from_slice(bytes).unwrap_or_default());
    }
}

/// The driver's event lines decoded as [`collect`] decodes them, for the fuzzer (`fuzz/`).
pub(crate) fn decode_events_for_fuzzing(text: &str) {
    let (sender, receiver) = mpsc::channel();
    for line in text.lines() {
        let _ = sender.send(line.to_owned());
    }
    drop(sender);
    let collected = collect(receiver, false);
    for cell in &collected.cells {
        if let Some(error) = &cell.error {
            let _ = ipython_frames(&error.traceback);
        }
    }
}

/// Reads the driver's events: progress on a terminal, results for the report.
fn collect(receiver: mpsc::Receiver<String>, show_progress: bool) -> Collected {
    let started = Instant::now();
    let mut collected = Collected::default();
    for line in receiver {
        let Ok(event) = serde_json::from_str::<Event>(&line) else {
            continue;
        };
        match event {
            Event::Start { cells } => collected.total = cells,
            Event::CellStart { index } => {
                if let (true, Some(index)) = (show_progress, index.as_u64()) {
                    report::progress(&format!(
                        "cell {index} of {} · {:.1}s",
                        collected.total,
                        started.elapsed().as_secs_f64()
                    ));
                }
            }
            Event::CellEnd {
                index,
                status,
                duration_ms,
                error,
            } => match index.as_u64() {
                Some(index) => collected.cells.push(CellResult {
                    index: index as usize,
                    status,
                    duration_ms,
                    error,
                }),
                None if status != "ok" && status != "skipped" => {
                    collected.injected_failure = error.or_else(|| Some(CellError::default()));
                }
                None => {}
            },
            Event::Notebook { content } => collected.notebook = Some(content),
            Event::Missing { module } => collected.missing = Some(module),
            Event::DriverError { message } => collected.driver_error = Some(message),
        }
    }
    collected
}

fn missing_module(invocation: &Invocation, module: &str) -> Error {
    let python = catalogue::display_path(
        &invocation.spec.interpreter.executable.to_string_lossy(),
        &invocation.spec.workdir,
    );
    Error::Usage {
        message: format!("`{module}` is not installed in the venv; `boxpy nbexec` runs notebooks with the venv's own nbclient and ipykernel"),
        hint: Some(format!("install them: `{python} -m pip install nbclient ipykernel`")),
    }
}

/// Writes `content` to `path` through a temporary file in the same directory and a rename,
/// so a failed or killed run never leaves a truncated notebook.
fn write_atomically(path: &Path, content: &serde_json::Value) -> Result<()> {
    let directory = path.parent().unwrap_or(Path::new("/"));
    let failed = |error: &dyn std::fmt::Display| Error::Usage {
        message: format!("cannot write `{}`: {error}", path.display()),
        hint: None,
    };
    let mut file = tempfile::Builder::new()
        .prefix(".boxpy-nbexec-")
        .suffix(".ipynb")
        .tempfile_in(directory)
        .map_err(|error| failed(&error))?;
    let mut text = serde_json::to_string_pretty(content).map_err(|error| failed(&error))?;
    text.push('\n');
    file.write_all(text.as_bytes())
        .map_err(|error| failed(&error))?;
    file.as_file().sync_all().map_err(|error| failed(&error))?;
    if let Ok(metadata) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(file.path(), metadata.permissions());
    } else {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o644));
    }
    file.persist(path).map_err(|error| failed(&error.error))?;
    Ok(())
}

/// The report for a failed cell: located as `notebook.ipynb, cell N, line L`, with the
/// catalogue's hint for the kernel's error.
fn cell_diagnosis(
    invocation: &Invocation,
    notebook: &str,
    index: usize,
    source: Option<&str>,
    error: &CellError,
    outcome: &Outcome,
) -> Diagnosis {
    let (line, frames) = ipython_frames(&error.traceback);
    let traceback = Traceback {
        exception_type: error.ename.clone(),
        message: error.evalue.clone(),
        frames,
        notes: Vec::new(),
        cause: None,
        syntax: None,
        group: Vec::new(),
    };
    let mut hint =
        report::with_hint_context(invocation, |context| catalogue::hint(&traceback, context));
    if error.ename == "DeadKernelError" {
        hint = Some(if outcome.memory_limit_reached {
            format!(
                "the kernel was killed at the memory limit ({}); raise `limits.memory` or pass `--memory SIZE`",
                invocation
                    .policy
                    .limits
                    .memory
                    .map(crate::policy::units::format_size)
                    .unwrap_or_default()
            )
        } else {
            "the kernel process died (out of memory, a crash in native code, or `os._exit`); `limits.memory` and `limits.cpu` can kill it".to_owned()
        });
    } else if error.ename == "CellTimeoutError" {
        hint = Some("raise `--cell-timeout`, or make the cell faster".to_owned());
    }
    let raised_at = traceback.frames.last().map(|frame| Place {
        file: frame.file.clone(),
        line: frame.line,
        source: None,
        column: None,
        function: Some(frame.function.clone()),
        cell: None,
    });
    let location = (index > 0).then(|| Place {
        file: notebook.to_owned(),
        line,
        source: line
            .and_then(|line| source?.lines().nth(line.saturating_sub(1) as usize))
            .map(|text| text.trim().to_owned()),
        column: None,
        function: None,
        cell: Some(index),
    });
    Diagnosis {
        exception_type: error.ename.clone(),
        message: error.evalue.clone(),
        location: location.or_else(|| {
            Some(Place {
                file: format!("{notebook} (injected-parameters cell)"),
                line,
                source: None,
                column: None,
                function: None,
                cell: None,
            })
        }),
        raised_at,
        cause: None,
        hint,
    }
}

/// From IPython's traceback text: the line in the cell (the last `Cell In[N], line L`) and
/// the library frames after it (`File /path/x.py:12, in func()`).
fn ipython_frames(traceback: &str) -> (Option<u32>, Vec<Frame>) {
    let mut line = None;
    let mut frames = Vec::new();
    for text in traceback.lines() {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix("Cell In[") {
            if let Some((_, after)) = rest.split_once("], line ") {
                line = after.trim().trim_end_matches(':').parse().ok();
                frames.clear();
            }
        } else if let Some(rest) = text.strip_prefix("File ") {
            if let Some((location, function)) = rest.rsplit_once(", in ") {
                if let Some((file, number)) = location.rsplit_once(':') {
                    frames.push(Frame {
                        file: file.to_owned(),
                        line: number.parse().ok(),
                        function: function
                            .split('(')
                            .next()
                            .unwrap_or(function)
                            .trim_end_matches(':')
                            .to_owned(),
                        source: None,
                    });
                }
            }
        }
    }
    (line, frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipython_traceback_lines() {
        let text = "---------------------------------------------------------------------------\nZeroDivisionError                         Traceback (most recent call last)\nCell In[3], line 2\n      1 x = 0\n----> 2 1 / x\n\nZeroDivisionError: division by zero";
        let (line, frames) = ipython_frames(text);
        assert_eq!(line, Some(2));
        assert!(frames.is_empty());
        let text = "Cell In[1], line 4\n----> 4 json.loads('{')\nFile /usr/lib/python3.11/json/__init__.py:346, in loads(s, cls)\n--> 346 return _default_decoder.decode(s)\n";
        let (line, frames) = ipython_frames(text);
        assert_eq!(line, Some(4));
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].line, Some(346));
        assert!(frames[0].file.ends_with("json/__init__.py"));
    }

    #[test]
    fn notebooks_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let good = write(
            "good.ipynb",
            r#"{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}"#,
        );
        assert!(read_notebook(&good, &good, crate::bounded::NOTEBOOK_LIMIT).is_ok());
        let v3 = write("old.ipynb", r#"{"nbformat": 3, "worksheets": []}"#);
        let error = read_notebook(&v3, &v3, crate::bounded::NOTEBOOK_LIMIT).unwrap_err();
        assert!(error.summary().contains("nbformat 3"), "{error:?}");
        assert!(error.hints()[0].contains("nbconvert"));
        let text = write("notes.txt", "hello");
        assert!(read_notebook(&text, &text, crate::bounded::NOTEBOOK_LIMIT)
            .unwrap_err()
            .summary()
            .contains("not a Jupyter notebook"));
        let missing = dir.path().join("missing.ipynb");
        assert_eq!(
            read_notebook(&missing, &missing, crate::bounded::NOTEBOOK_LIMIT)
                .unwrap_err()
                .exit_code(),
            125
        );
    }

    #[test]
    fn cell_sources_join_lists() {
        let notebook = serde_json::json!({"cells": [
            {"cell_type": "markdown", "source": "# title"},
            {"cell_type": "code", "source": ["a = 1\n", "b = 2\n"]},
            {"cell_type": "code", "source": "c = 3"},
        ]});
        assert_eq!(
            code_cell_sources(&notebook),
            vec!["a = 1\nb = 2\n", "c = 3"]
        );
    }

    #[test]
    fn atomic_write_replaces_whole_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.ipynb");
        std::fs::write(&path, "old").unwrap();
        write_atomically(&path, &serde_json::json!({"nbformat": 4})).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with('{') && text.ends_with("}\n"));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }
}
