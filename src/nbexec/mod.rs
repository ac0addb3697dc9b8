//! `boxpy nbexec`: execute a Jupyter notebook inside the same sandbox as `run` (SPEC §7).
//!
//! boxpy reads and checks the notebook on the host and sends its copy into the sandbox
//! (a file of the sandbox's own, never a mount of the notebook's directory: a notebook in
//! HOME must not show the kernel the home directory) together with a small driver program
//! ([`DRIVER`]) and its configuration, and runs the driver with the venv's interpreter. The
//! kernel runs in the workdir (in the notebook's directory when that is inside the workdir).
//! The driver executes the cells with the venv's own nbclient and ipykernel — kernel and
//! client talk over the sandbox's private loopback, so `network = "none"` works — and
//! reports events over a channel descriptor: progress, each cell's status and error, and
//! finally the executed notebook, in parts, which boxpy streams into a temporary file beside
//! the output and renames into place (`-o`, `--inplace`). Nothing the kernel writes lands
//! beside the notebook: Jupyter's and IPython's directories point into the sandbox's
//! private /tmp.
//!
//! The channel is untrusted input, bounded on boxpy's side: the reader holds one line of
//! at most [`crate::exec::CHANNEL_LINE_LIMIT`] and a few queued lines, the notebook may be
//! at most its budget ([`notebook_budget`]: `limits.output` plus the notebook's own size,
//! within `limits.file_size`), and the events must come in the driver's order. The driver
//! is not dumpable, so the kernel cannot open its channel; should anything malformed or out
//! of order arrive anyway, it is the program's failure (exit 1, a report), never "the
//! program never ran".

use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

use serde::Deserialize;

use crate::backend::{Backend, Notice, Session};
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

mod diagnosis;
pub mod parameters;
mod saving;

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
    /// The kernel's execution count of the cell (IPython's `In[N]`), as the driver saw it.
    #[serde(skip)]
    pub execution_count: Option<u64>,
}

/// The error a cell raised, as the kernel reported it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CellError {
    pub ename: String,
    pub evalue: String,
    #[serde(default)]
    pub traceback: String,
}

/// One line of the driver's channel (`driver.py` writes them; its header lists them): a
/// JSON object whose `event` names the kind. A line that is not one of these, whole, is
/// malformed.
#[derive(Debug, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Event {
    /// The code cells the driver will run (the injected-parameters cell not counted).
    Start {
        cells: usize,
    },
    CellStart {
        index: CellLabel,
    },
    CellEnd {
        index: CellLabel,
        status: CellStatus,
        duration_ms: u64,
        #[serde(default)]
        error: Option<CellError>,
        #[serde(default)]
        execution_count: Option<u64>,
    },
    /// The kernel could not start (before any cell ran).
    KernelError {
        kind: String,
        kernel: String,
        #[serde(default)]
        installed: Vec<String>,
        #[serde(default)]
        message: String,
    },
    /// The executed notebook follows in parts: this many bytes of UTF-8. A snapshot
    /// (`--request-save-on-cell-execute`) is saved as it ends, and cells go on.
    NotebookBegin {
        bytes: u64,
        #[serde(default)]
        snapshot: bool,
    },
    NotebookPart {
        text: String,
    },
    NotebookEnd {},
    /// Instead of the notebook: it was this many bytes, over its budget.
    NotebookTooLarge {
        bytes: u64,
    },
    /// The venv lacks this module (nbclient, ipykernel, nbformat).
    Missing {
        module: String,
    },
    /// The driver failed (before the kernel started, boxpy's setup failed).
    DriverError {
        message: String,
    },
}

/// Which cell an event is about: its number among the notebook's own code cells (1-based),
/// or the cell papermill-style parameters were injected into. Anything else the line holds
/// there (a negative or fractional number, another string, a list) is `Invalid`, for the
/// collector to refuse in its own words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CellLabel {
    Number(u64),
    Injected,
    Invalid,
}

impl<'de> Deserialize<'de> for CellLabel {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<CellLabel, D::Error> {
        struct Label;
        impl<'de> serde::de::Visitor<'de> for Label {
            type Value = CellLabel;
            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("a cell number or \"injected\"")
            }
            fn visit_u64<E>(self, number: u64) -> std::result::Result<CellLabel, E> {
                Ok(CellLabel::Number(number))
            }
            fn visit_i64<E>(self, number: i64) -> std::result::Result<CellLabel, E> {
                Ok(u64::try_from(number).map_or(CellLabel::Invalid, CellLabel::Number))
            }
            fn visit_f64<E>(self, _: f64) -> std::result::Result<CellLabel, E> {
                Ok(CellLabel::Invalid)
            }
            fn visit_bool<E>(self, _: bool) -> std::result::Result<CellLabel, E> {
                Ok(CellLabel::Invalid)
            }
            fn visit_unit<E>(self) -> std::result::Result<CellLabel, E> {
                Ok(CellLabel::Invalid)
            }
            fn visit_str<E>(self, text: &str) -> std::result::Result<CellLabel, E> {
                Ok(if text == "injected" {
                    CellLabel::Injected
                } else {
                    CellLabel::Invalid
                })
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut items: A,
            ) -> std::result::Result<CellLabel, A::Error> {
                while items.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(CellLabel::Invalid)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut entries: A,
            ) -> std::result::Result<CellLabel, A::Error> {
                while entries
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(CellLabel::Invalid)
            }
        }
        deserializer.deserialize_any(Label)
    }
}

/// How a cell ended; any other text is `Unknown`, which the collector refuses naming it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
enum CellStatus {
    Ok,
    Failed,
    Timeout,
    Dead,
    Skipped,
    /// Stopped by SIGINT or SIGTERM (the driver interrupted the kernel).
    Interrupted,
    Unknown(String),
}

impl From<String> for CellStatus {
    fn from(text: String) -> CellStatus {
        match text.as_str() {
            "ok" => CellStatus::Ok,
            "failed" => CellStatus::Failed,
            "timeout" => CellStatus::Timeout,
            "dead" => CellStatus::Dead,
            "skipped" => CellStatus::Skipped,
            "interrupted" => CellStatus::Interrupted,
            _ => CellStatus::Unknown(text),
        }
    }
}

impl CellStatus {
    /// The status as the driver wrote it and `--json` shows it.
    fn as_str(&self) -> &str {
        match self {
            CellStatus::Ok => "ok",
            CellStatus::Failed => "failed",
            CellStatus::Timeout => "timeout",
            CellStatus::Dead => "dead",
            CellStatus::Skipped => "skipped",
            CellStatus::Interrupted => "interrupted",
            CellStatus::Unknown(text) => text,
        }
    }
}

/// What the driver told boxpy.
#[derive(Debug, Default)]
struct Collected {
    total: usize,
    cells: Vec<CellResult>,
    injected_failure: Option<CellError>,
    /// The whole executed notebook arrived (and, with `-o`, waits in `saved`).
    complete: bool,
    /// The executed notebook, in a temporary file beside the output, to be renamed into place.
    saved: Option<tempfile::NamedTempFile>,
    /// The temporary file could not be created or written.
    write_error: Option<String>,
    /// The executed notebook was this many bytes, over its budget; nothing was saved.
    too_large: Option<u64>,
    /// The channel broke its protocol (after the driver started the kernel): why.
    broken: Option<String>,
    missing: Option<String>,
    driver_error: Option<String>,
    /// The cell that had started and not ended when the channel closed (0: the injected
    /// cell): the one running at a `--timeout` kill or a signal.
    running: Option<u64>,
    /// Snapshots saved to the output (`--request-save-on-cell-execute`).
    snapshots: usize,
    /// Why a snapshot could not be saved (the first failure; the run goes on).
    snapshot_error: Option<String>,
    kernel_error: Option<KernelError>,
}

/// Why the kernel could not start, as the driver told it.
#[derive(Debug, Clone, Default)]
struct KernelError {
    /// `not_installed`, `bad_kernelspec` or `died`.
    kind: String,
    kernel: String,
    installed: Vec<String>,
    message: String,
}

/// Where the collector is in the driver's protocol.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before `start`: the kernel does not exist yet.
    #[default]
    Setup,
    /// Cells run.
    Cells,
    /// The notebook (or a snapshot of it) arrives: this many bytes announced, this many
    /// received.
    Notebook {
        announced: u64,
        received: u64,
        snapshot: bool,
    },
    /// The notebook arrived, or was too large: nothing may follow.
    Done,
    /// `missing`: the venv lacks a module; nothing may follow.
    Missing,
}

/// The collector's bounds: the notebook's budget, the code cells it may report, and where
/// the notebook goes (`None`: it is counted, not kept).
#[derive(Debug, Clone, Default)]
struct Bounds {
    budget: Option<u64>,
    code_cells: usize,
    directory: Option<PathBuf>,
    /// The output, through the pinned directory, and as the user named it: where snapshots
    /// go (`--request-save-on-cell-execute`); `None`: no snapshot is expected.
    snapshots: Option<(PathBuf, PathBuf)>,
    /// The notebook goes to a private temporary file, for stdout (`-o -`).
    to_stdout: bool,
    /// The output's mode, fixed before the run ([`saving::check_output`]).
    output_mode: Option<u32>,
}

/// At most this much error text (names, messages, tracebacks) is kept for the report over
/// all cells; the rest keeps its name and message, cut short.
const ERROR_TEXT_BUDGET: usize = 8 << 20;

/// Runs `boxpy nbexec` with `backend`, which must carry the driver's channel; `observer`
/// prints what the backend tells during the run.
pub(crate) fn run(
    args: NbexecArgs,
    backend: &dyn Backend,
    observer: &dyn Fn(&Invocation, &Notice<'_>),
) -> Result<u8> {
    let cwd = std::env::current_dir().map_err(anyhow::Error::from)?;
    let from_stdin = args.notebook.as_os_str() == "-";
    if from_stdin && args.inplace {
        return Err(Error::Usage {
            message:
                "--inplace: the notebook is read from stdin (`-`); there is no file to overwrite"
                    .to_owned(),
            hint: Some("write the executed notebook with `-o OUT.ipynb`".to_owned()),
        });
    }
    let notebook_path = crate::policy::validate::normalize(&cwd.join(&args.notebook));
    let notebook_limit = match args.max_notebook_size.as_deref() {
        Some(text) => crate::policy::units::parse_size(text).map_err(|message| Error::Usage {
            message: format!("--max-notebook-size: {message}"),
            hint: Some("e.g. `--max-notebook-size 1GiB`".to_owned()),
        })?,
        None => crate::bounded::NOTEBOOK_LIMIT,
    };
    let parameters = parameters::merge(
        &parameters::Sources {
            base64: &args.base64_parameters,
            files: &args.file_parameters,
            yaml: &args.yaml_parameters,
            papermill: &args.parameters,
            raw: &args.raw_parameters,
        },
        &cwd,
    )?;
    let notebook = if from_stdin {
        read_stdin_notebook(notebook_limit)?
    } else {
        // A notebook named through a link a run planted in the project would show the
        // kernel a file from outside it: checked against the current directory and the
        // `-w` flag's directory here, against the resolved workdir and writable mounts
        // again once the settings are resolved (before anything is sent to the sandbox).
        let mut places = vec![cwd.clone()];
        places.extend(
            args.sandbox
                .workdir
                .as_ref()
                .map(|workdir| cwd.join(workdir)),
        );
        refuse_planted_notebook_link(&args.notebook, &notebook_path, &places)?;
        read_notebook(&args.notebook, &notebook_path, notebook_limit)?
    };
    let shown_notebook = if from_stdin {
        "<stdin>".to_owned()
    } else {
        args.notebook.display().to_string()
    };
    let parsed: serde_json::Value = serde_json::from_slice(&notebook).unwrap_or_default();
    if args.help_notebook {
        return help_notebook(&shown_notebook, &parsed, args.sandbox.json);
    }
    backend.capabilities().require_channel()?;
    let host = backend.host();
    let cell_sources = code_cell_sources(&parsed);
    let parameter_warnings = parameters::warnings(&parameters, &parsed);
    drop(parsed);
    let to_stdout = args.output.as_deref() == Some(Path::new("-"));
    let output = match (&args.output, args.inplace) {
        _ if to_stdout => None,
        (Some(output), _) => Some(crate::policy::validate::normalize(&cwd.join(output))),
        (None, true) => Some(notebook_path.clone()),
        (None, false) => None,
    };
    let needs_output = |flag: &str, stdout: bool| Error::Usage {
        message: format!(
            "{flag} writes the notebook: it needs `-o OUT.ipynb`{} or `--inplace`",
            if stdout { ", `-o -`" } else { "" }
        ),
        hint: Some(format!("e.g. `boxpy nbexec {flag} NOTEBOOK -o out.ipynb`")),
    };
    if args.prepare_only && output.is_none() && !to_stdout {
        return Err(needs_output("--prepare-only", true));
    }
    if args.request_save_on_cell_execute && output.is_none() {
        return Err(needs_output("--request-save-on-cell-execute", false));
    }
    if let Some(output) = &output {
        let directory = output.parent().unwrap_or(Path::new("/"));
        if !directory.is_dir() {
            return Err(Error::Usage {
                message: format!("cannot write `{}`: no such directory", output.display()),
                hint: Some("create the directory first, or pass another `-o`".to_owned()),
            });
        }
        saving::refuse_directory(output)?;
    }
    // Refused before the run: an output that is a device, FIFO or socket, or lies in a
    // system directory. The mode the notebook gets is fixed now, from what the user has
    // there before the run (a program may plant its own file at the name while it runs).
    let output_mode = output
        .as_deref()
        .map(|output| saving::check_output(output, SYSTEM_TREES))
        .transpose()?;
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
    if to_stdout && invocation.output.json {
        return Err(Error::Usage {
            message: "`-o -` writes the notebook to stdout, where `--json` writes its result"
                .to_owned(),
            hint: Some("pass `-o OUT.ipynb` with `--json`".to_owned()),
        });
    }
    if !from_stdin {
        let mut places = invocation.writable_areas();
        places.push(cwd.clone());
        refuse_planted_notebook_link(&args.notebook, &notebook_path, &places)?;
    }
    invocation.warnings.extend(parameter_warnings);
    report::resolved_warnings(&invocation);
    let quiet = invocation.output.quiet;
    crate::cache::attach(
        &mut invocation,
        backend,
        crate::cache::Priming::IfNeeded,
        &|name| std::env::var_os(name),
        &|text| report::cache_note(text, quiet),
    )?;
    if let Some(log) = &invocation.audit_log {
        crate::audit::check_destination(log)?;
    }
    // `-o`/`--inplace` is written by boxpy on the host: no directory on its way may be a
    // link a run planted in the workdir or a writable mount.
    // Pinned now: the notebook runs before boxpy writes, and may swap the directory for
    // a link meanwhile; the write goes through this descriptor.
    let pinned_output = match &output {
        Some(output) => {
            let mut areas = invocation.writable_areas();
            areas.push(cwd.clone());
            crate::hostfs::check_write_target(output, &areas)?;
            let directory =
                crate::hostfs::pin_directory(output.parent().unwrap_or(Path::new("/")))?;
            let name = output.file_name().unwrap_or_default().to_owned();
            Some((crate::hostfs::in_pinned(&directory, &name), directory))
        }
        None => None,
    };
    // No mount of the notebook's directory: the kernel reads nothing of it but the copy
    // sent below, and runs in the workdir, or in the notebook's directory when the workdir
    // already holds it.
    let kernel_directory = match &args.cwd {
        Some(directory) => {
            let mut places = invocation.writable_areas();
            places.push(cwd.clone());
            kernel_cwd(&mut invocation, host, &cwd.join(directory), &places)?
        }
        None => notebook_path
            .parent()
            .filter(|directory| directory.starts_with(&invocation.spec.workdir))
            .map(Path::to_path_buf)
            .unwrap_or_else(|| invocation.spec.workdir.clone()),
    };
    // `--cwd` as the user typed it, for the read-only hint's `--rw`: only when no link
    // lies on its way (`--rw` is refused on a link's path, and a link's target is not
    // the user's word).
    let typed_cwd = args
        .cwd
        .as_ref()
        .filter(|directory| {
            crate::policy::validate::normalize(&cwd.join(directory)) == kernel_directory
        })
        .cloned();
    let budget = notebook_budget(&invocation.policy.limits, notebook.len() as u64);
    let directory = pinned_output
        .as_ref()
        .map(|(target, _)| target.parent().unwrap_or(Path::new("/")).to_path_buf());
    // The output's temporary sibling, made now: a directory boxpy cannot write is found
    // out before any cell runs, not after.
    let reserved = match (&directory, &output) {
        (Some(directory), Some(output)) => Some(saving::reserve(directory, output)?),
        _ => None,
    };
    let bounds = Bounds {
        budget: budget.map(|(bytes, _)| bytes),
        code_cells: cell_sources.len(),
        directory,
        snapshots: match (&pinned_output, &output) {
            (Some((target, _)), Some(output)) if args.request_save_on_cell_execute => {
                Some((target.clone(), output.clone()))
            }
            _ => None,
        },
        to_stdout,
        output_mode,
    };
    let paths = NotebookPaths {
        input: args.notebook.to_string_lossy().into_owned(),
        output: if to_stdout {
            Some("-".to_owned())
        } else {
            args.output
                .as_ref()
                .or(args.inplace.then_some(&args.notebook))
                .map(|path| path.to_string_lossy().into_owned())
        },
    };
    let config = driver_config(
        &args,
        &parameters,
        &kernel_directory,
        cell_timeout,
        bounds.budget,
        &paths,
    )?;
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

    // A short queue: the channel reader waits for the collector, so boxpy holds a few lines.
    let (sender, receiver) = mpsc::sync_channel(4);
    let show_progress =
        !invocation.output.json && !invocation.output.quiet && std::io::stderr().is_terminal();
    // The signals the run forwards are blocked before the channel's reader starts: a
    // thread that had them unblocked would take a Ctrl-C or a SIGTERM itself and boxpy
    // would die of it, with no report and nothing saved.
    let runtime = crate::exec::Runtime::cli();
    let blocked = runtime.block_forwarded_signals()?;
    let collector = std::thread::spawn(move || collect(receiver, show_progress, &bounds, reserved));
    report::notices(&invocation);
    // With `-o -` stdout holds the notebook: what the program writes there goes to stderr.
    let mut io = crate::exec::Io::inherited(invocation.output.json);
    if to_stdout {
        io.stdout = crate::exec::Output::inherit(2);
    }
    let outcome = backend.run(
        &invocation,
        Session {
            channel: Some(sender),
            observer: &|notice| observer(&invocation, notice),
            runtime,
            io,
            env: crate::exec::Environment::of_process(),
            output: report::output_observer(),
        },
    );
    if outcome.is_ok() {
        blocked.started();
    } else {
        drop(blocked);
    }
    let mut collected = collector
        .join()
        .map_err(|_| anyhow::anyhow!("the notebook event reader panicked"))?;
    let outcome = outcome?;
    if show_progress {
        report::progress_done();
    }

    if let Some(module) = &collected.missing {
        return Err(missing_module(&invocation, module));
    }
    if let Some(error) = &collected.kernel_error {
        return Err(kernel_error(&invocation, error));
    }
    if let Some(message) = &collected.driver_error {
        return Err(Error::Usage {
            message: format!(
                "the notebook driver failed before any cell ran: {}",
                snippet_long(message)
            ),
            hint: Some("the sandbox started; the notebook could not be prepared (nbformat could not read it, or the venv's Jupyter packages are broken): check that it opens with `jupyter nbconvert --to notebook` in the venv".to_owned()),
        });
    }
    if let (Some(output), Some(error)) = (&output, &collected.write_error) {
        return Err(Error::Usage {
            message: format!("cannot write `{}`: {error}", output.display()),
            hint: None,
        });
    }
    // Where the executed notebook went when `-o` could not take it: a file of boxpy's own.
    let mut kept_at: Option<(PathBuf, String)> = None;
    let mut wrote_output = false;
    if let (Some(output), Some((target, _)), true) =
        (&output, &pinned_output, collected.saved.is_some())
    {
        let saved = collected.saved.take().expect("checked");
        let mut copy = saved.as_file().try_clone().ok();
        let persisted = persist(saved, target, output, output_mode);
        wrote_output = persisted.is_ok();
        if let Err(error) = persisted {
            let name = output.file_name().unwrap_or_default().to_string_lossy();
            match copy
                .as_mut()
                .and_then(|copy| saving::keep_elsewhere(copy, &name, &invocation.writable_areas()))
            {
                Some(path) => kept_at = Some((path, error.summary())),
                None => return Err(error),
            }
        }
    }
    if let (true, Some(saved)) = (to_stdout, collected.saved.take()) {
        saving::to_stdout(&mut saved.as_file().try_clone().map_err(anyhow::Error::from)?).map_err(
            |error| Error::Usage {
                message: format!("cannot write the notebook to stdout: {error}"),
                hint: None,
            },
        )?;
    }

    let display = shown_notebook;
    // `sys.exit()` or `sys.exit(0)` ends the notebook successfully, as papermill decides:
    // the cell is `exited`, the cells after it were skipped.
    for cell in &mut collected.cells {
        if let Some(error) = &cell.error {
            if cell.status == "failed" && diagnosis::is_clean_exit(&error.ename, &error.evalue) {
                cell.status = "exited".to_owned();
                cell.error = None;
            }
        }
    }
    let mut diagnoses: Vec<Diagnosis> = collected
        .cells
        .iter()
        .filter_map(|cell| {
            let error = cell.error.as_ref()?;
            Some(cell_diagnosis(
                &invocation,
                &display,
                cell.index,
                NotebookCells {
                    sources: &cell_sources,
                    results: &collected.cells,
                },
                error,
                &outcome,
                (&kernel_directory, typed_cwd.as_deref()),
            ))
        })
        .collect();
    if let Some(error) = &collected.injected_failure {
        diagnoses.push(cell_diagnosis(
            &invocation,
            &display,
            0,
            NotebookCells {
                sources: &cell_sources,
                results: &collected.cells,
            },
            error,
            &outcome,
            (&kernel_directory, typed_cwd.as_deref()),
        ));
    }
    // The channel's own failures are reported when the program ended on its own; a
    // timeout or a signal has its own report.
    if let Status::Exited(_) = outcome.status {
        if let (Some(bytes), Some((limit, bound))) = (collected.too_large, budget) {
            diagnoses.push(too_large_diagnosis(bytes, limit, bound, output.is_some()));
        }
        if let Some(why) = &collected.broken {
            diagnoses.push(broken_channel_diagnosis(why));
        }
    }
    let any_failed = collected
        .cells
        .iter()
        .any(|cell| !matches!(cell.status.as_str(), "ok" | "skipped" | "exited"))
        || collected.injected_failure.is_some()
        || collected.too_large.is_some()
        || collected.broken.is_some();
    let code = match outcome.status {
        Status::Exited(0) if any_failed || kept_at.is_some() => 1,
        Status::Exited(0) if !collected.complete => 1,
        _ => report::exit_code(&outcome),
    };
    // The cell a signal or `--timeout` stopped: the one the driver marked interrupted, or
    // the one that had started and not ended when everything was killed.
    let stopped_in = stopped_cell(&mut collected, &outcome.status);
    // A run stopped from outside (a signal, `limits.timeout`) with no failed cell to report
    // is reported as stopped in the cell that was running, with what was saved.
    let stopped_report = match stopped_in {
        Some(cell) if diagnoses.is_empty() => report::diagnose(&invocation, &outcome).map(|run| {
            stopped_diagnosis(
                run,
                &Stopped {
                    cell,
                    total: collected.total,
                    notebook: &display,
                    status: &outcome.status,
                    output: args
                        .output
                        .as_deref()
                        .or(args.inplace.then_some(args.notebook.as_path())),
                    saved: wrote_output || collected.snapshots > 0,
                },
            )
        }),
        _ => None,
    };
    let stopped_reported = stopped_report.is_some();
    diagnoses.extend(stopped_report);
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
        if let Some(cell) = stopped_in {
            value["stopped_in_cell"] = cell.into();
        }
        if let Some((path, why)) = &kept_at {
            value["saved_to"] = path.to_string_lossy().into_owned().into();
            value["save_error"] = why.clone().into();
        }
        if let Some(why) = &collected.snapshot_error {
            value["snapshot_error"] = why.clone().into();
        }
        // The run's warnings (papermill's about parameters among them), added to the
        // object's own `warnings` when it has one.
        if !invocation.warnings.is_empty() {
            match value
                .get_mut("warnings")
                .and_then(serde_json::Value::as_array_mut)
            {
                Some(list) => {
                    for text in &invocation.warnings {
                        if !list.iter().any(|item| item == text.as_str()) {
                            list.push(text.as_str().into());
                        }
                    }
                }
                None => value["warnings"] = serde_json::json!(invocation.warnings),
            }
        }
        report::print_json_value(&value);
    } else if !invocation.output.quiet {
        if diagnoses.is_empty() {
            report::human_outcome(&invocation, &outcome);
        }
        for diagnosis in &diagnoses {
            report::print_diagnosis(diagnosis, invocation.output.color);
        }
        if !diagnoses.is_empty() {
            report::after_run_notices(&invocation, &outcome);
        }
        if let (Some(cell), false) = (stopped_in, stopped_reported) {
            report::warning(&stopped_message(
                cell,
                collected.total,
                &display,
                &outcome.status,
            ));
        }
        if let Some(why) = &collected.snapshot_error {
            report::warning(&format!("a progressive save failed: {why}"));
        }
        if let Some((path, why)) = &kept_at {
            report::warning(&format!(
                "{why}; the executed notebook is kept at `{}`",
                path.display()
            ));
        }
    }
    crate::audit::log_run(&invocation, &outcome, code);
    Ok(code)
}

/// The cell a signal or `--timeout` stopped (0: the injected cell): the one the driver
/// marked `interrupted`, else, when the run did not end on its own, the one that had
/// started and not ended (added to the cells as `killed`).
fn stopped_cell(collected: &mut Collected, status: &Status) -> Option<u64> {
    if let Some(cell) = collected
        .cells
        .iter()
        .find(|cell| cell.status == "interrupted")
    {
        return Some(cell.index as u64);
    }
    if matches!(status, Status::Exited(_)) {
        return None;
    }
    let running = collected
        .running
        .filter(|&running| running <= collected.total as u64)?;
    if running > 0 {
        collected.cells.push(CellResult {
            index: usize::try_from(running).unwrap_or(usize::MAX),
            status: "killed".to_owned(),
            duration_ms: 0,
            error: None,
            execution_count: None,
        });
    }
    Some(running)
}

/// A run stopped from outside, for [`stopped_diagnosis`].
struct Stopped<'a> {
    cell: u64,
    total: usize,
    notebook: &'a str,
    status: &'a Status,
    /// `-o OUT` or the notebook itself with `--inplace`, as the user named it.
    output: Option<&'a Path>,
    /// Whether OUT holds the cells that ran (the final save or a progressive snapshot).
    saved: bool,
}

/// The report of a run a signal or `limits.timeout` stopped, from `run`'s own report of
/// it: located in the cell that was running, and saying what was saved.
fn stopped_diagnosis(mut run: Diagnosis, stopped: &Stopped<'_>) -> Diagnosis {
    let interrupted = matches!(stopped.status, Status::Signaled(2 | 15));
    if let (true, Status::Signaled(signal)) = (interrupted, stopped.status) {
        run.exception_type = "Interrupted".to_owned();
        let name = if *signal == 2 { "SIGINT" } else { "SIGTERM" };
        let which = if stopped.cell == 0 {
            "the injected-parameters cell".to_owned()
        } else {
            format!("cell {} of {}", stopped.cell, stopped.total)
        };
        run.message = format!("{name} stopped the notebook while {which} was running");
    }
    if !interrupted {
        let message = stopped_message(
            stopped.cell,
            stopped.total,
            stopped.notebook,
            stopped.status,
        );
        run.message = message
            .strip_prefix(&format!("{}: ", stopped.notebook))
            .unwrap_or(&message)
            .to_owned();
    }
    run.location = Some(Place {
        file: stopped.notebook.to_owned(),
        line: None,
        source: None,
        column: None,
        function: None,
        cell: usize::try_from(stopped.cell).ok().filter(|cell| *cell > 0),
    });
    run.raised_at = None;
    let saving = match (stopped.output, stopped.saved) {
        (Some(output), true) => format!(
            "`{}` holds the cells that ran (papermill's metadata marks where it stopped)",
            output.display()
        ),
        (Some(_), false) => "nothing was saved; `--request-save-on-cell-execute` saves the notebook as each cell ends".to_owned(),
        (None, _) => "nothing is saved without `-o OUT.ipynb` (with `--request-save-on-cell-execute`, as each cell ends)".to_owned(),
    };
    run.hint = Some(match run.hint.take() {
        Some(hint) if !interrupted => format!("{hint}; {saving}"),
        _ => saving,
    });
    run
}

/// "stopped in cell N of M" for the report.
fn stopped_message(cell: u64, total: usize, notebook: &str, status: &Status) -> String {
    let which = if cell == 0 {
        "the injected-parameters cell".to_owned()
    } else {
        format!("cell {cell} of {total}")
    };
    let how = match status {
        Status::TimedOut => "killed at `limits.timeout` while running".to_owned(),
        Status::Signaled(2 | 15) => "interrupted while running".to_owned(),
        Status::Signaled(signal) => format!("killed by signal {signal} while running"),
        Status::Exited(_) => "stopped while running".to_owned(),
    };
    format!("{notebook}: {how} {which}")
}

/// System directories: `--cwd` is refused in them and under them, and `-o` never writes
/// there (with [`crate::host::SYSTEM_PATHS`]).
const SYSTEM_TREES: &[&str] = &[
    "/usr",
    "/etc",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/proc",
    "/dev",
    "/sys",
    "/boot",
    "/run",
    "/snap",
    "/var/run",
    "/var/lib",
    "/var/log",
    "/var/cache",
    "/var/spool",
    "/var/mail",
];

/// `--cwd DIR`: the kernel's directory. Inside the workdir (or a path the policy already
/// mounts where it is) it needs nothing; elsewhere it is mounted read-only through
/// the mount gate (`settings::admit_mount`), and refused when it is `/`, a system directory, HOME or a
/// directory above it, a hidden directory in HOME (`~/.ssh`, `~/.config`, …) or a
/// protected path.
///
/// A link on the way that lies in the current directory, the workdir or a writable mount
/// (`places`: where a run may have planted it) is refused, as `--ro` refuses it.
fn kernel_cwd(
    invocation: &mut Invocation,
    host: &HostFacts,
    directory: &Path,
    places: &[PathBuf],
) -> Result<PathBuf> {
    let refuse = |reason: String| {
        Error::Usage {
        message: format!("--cwd `{}`: {reason}", directory.display()),
        hint: Some(
            "pass the directory the notebook's relative paths need (a project directory), or copy its files into the workdir".to_owned(),
        ),
    }
    };
    let places: Vec<PathBuf> = places
        .iter()
        .map(|place| place.canonicalize().unwrap_or_else(|_| place.clone()))
        .collect();
    crate::hostfs::resolve_without_planted_links(directory, &places).map_err(|refusal| {
        Error::Usage {
            message: format!("--cwd `{}`: {}", directory.display(), refusal.reason),
            hint: Some(refusal.hint),
        }
    })?;
    // No link anywhere on the path as typed, walked component by component before any `..`
    // is folded: `data/..` through a link `data` would otherwise lead wherever the link
    // points, and a link a repository ships one directory up (`--cwd ../data`) is the
    // repository's choice, not the user's. The hint never names the link's target.
    let mut walked = PathBuf::new();
    for component in directory.components() {
        walked.push(component);
        if walked
            .symlink_metadata()
            .is_ok_and(|metadata| metadata.file_type().is_symlink())
        {
            return Err(Error::Usage {
                message: format!(
                    "--cwd `{}`: `{}` is a symbolic link; boxpy does not follow links to the kernel's directory",
                    crate::text::escaped_path(directory),
                    crate::text::escaped_path(&walked)
                ),
                hint: Some(
                    "name the directory itself, without a link on its way (if the link is yours, `realpath` shows where it leads)"
                        .to_owned(),
                ),
            });
        }
    }
    let canonical = directory
        .canonicalize()
        .map_err(|error| refuse(error.to_string().to_lowercase()))?;
    if !canonical.is_dir() {
        return Err(refuse("not a directory".to_owned()));
    }
    let spec = &invocation.spec;
    if canonical.starts_with(&spec.workdir)
        || spec
            .mounts
            .iter()
            .any(|mount| mount.source == mount.dest && canonical.starts_with(&mount.source))
    {
        return Ok(canonical);
    }
    if canonical == Path::new("/") {
        return Err(refuse(
            "`/` would show the kernel the whole host".to_owned(),
        ));
    }
    // Shared parents (where other users' and services' directories live) themselves only.
    const SHARED_PARENTS: &[&str] = &[
        "/tmp", "/var", "/var/tmp", "/home", "/opt", "/srv", "/mnt", "/media", "/Users",
    ];
    if let Some(system) = SYSTEM_TREES
        .iter()
        .chain(crate::host::SYSTEM_PATHS)
        .find(|system| canonical.starts_with(system))
        .or_else(|| {
            SHARED_PARENTS
                .iter()
                .find(|parent| canonical == Path::new(parent))
        })
    {
        return Err(refuse(format!("`{system}` is a system directory")));
    }
    if let Some(protected) = crate::host::PROTECTED_PATHS
        .iter()
        .map(Path::new)
        .chain(host.protected_paths.iter().map(PathBuf::as_path))
        .find(|protected| canonical.starts_with(protected) || protected.starts_with(&canonical))
    {
        return Err(refuse(format!(
            "it is or holds `{}`, which boxpy never exposes",
            protected.display()
        )));
    }
    let home = host
        .home
        .as_ref()
        .map(|home| home.canonicalize().unwrap_or_else(|_| home.clone()));
    // Another user's home: `/root`, or `/home/NAME` that is not the caller's.
    let other_home = match canonical.strip_prefix("/home") {
        Ok(inside) => inside
            .components()
            .next()
            .map(|name| Path::new("/home").join(name)),
        Err(_) => canonical
            .starts_with("/root")
            .then(|| PathBuf::from("/root")),
    };
    if let Some(owner) = other_home {
        if !home.as_ref().is_some_and(|home| home.starts_with(&owner)) {
            return Err(refuse(format!(
                "`{}` is another user's home directory",
                owner.display()
            )));
        }
    }
    if let Some(home) = &home {
        if home.starts_with(&canonical) {
            return Err(refuse(
                "it is or holds the home directory, which the sandbox never shows".to_owned(),
            ));
        }
        if let Ok(inside) = canonical.strip_prefix(home) {
            let hidden = inside
                .components()
                .next()
                .is_some_and(|first| first.as_os_str().to_string_lossy().starts_with('.'));
            if hidden {
                return Err(refuse(
                    "a hidden directory in HOME (`~/.ssh`, `~/.config`, …) guards the user's accounts"
                        .to_owned(),
                ));
            }
        }
    }
    settings::admit_mount(
        invocation,
        Mount {
            source: canonical.clone(),
            dest: canonical.clone(),
            optional: false,
            writable: false,
            origin: "--cwd".to_owned(),
        },
        host.home.as_deref(),
    )?;
    Ok(canonical)
}

/// Refuses a notebook named through a symlink that lies in one of `places` (the current
/// directory, the workdir, the writable mounts: where a run may have planted it).
fn refuse_planted_notebook_link(shown: &Path, path: &Path, places: &[PathBuf]) -> Result<()> {
    let places: Vec<PathBuf> = places
        .iter()
        .map(|place| place.canonicalize().unwrap_or_else(|_| place.clone()))
        .collect();
    crate::hostfs::resolve_without_planted_links(path, &places)
        .map(|_| ())
        .map_err(|refusal| Error::Usage {
            message: format!("refusing to read `{}`: {}", shown.display(), refusal.reason),
            hint: Some(refusal.hint),
        })
}

/// `--help-notebook`: the notebook's parameters as papermill infers them, without a
/// sandbox or a kernel (the notebook is only read). Exit 0, also when it has no
/// parameters cell (the text says so).
fn help_notebook(shown: &str, notebook: &serde_json::Value, json: bool) -> Result<u8> {
    if json {
        report::print_json_value(&parameters::help_json(shown, notebook));
    } else {
        print!("{}", parameters::help_text(shown, notebook));
    }
    Ok(0)
}

/// The notebook from stdin (`-`), at most `limit` bytes, checked as a file is.
fn read_stdin_notebook(limit: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|error| Error::Usage {
            message: format!("cannot read the notebook from stdin: {error}"),
            hint: None,
        })?;
    if bytes.len() as u64 > limit {
        return Err(Error::Usage {
            message: format!(
                "cannot read the notebook from stdin: larger than {}",
                crate::policy::units::format_size(limit)
            ),
            hint: Some("raise the limit with `--max-notebook-size SIZE`".to_owned()),
        });
    }
    check_notebook(Path::new("<stdin>"), &bytes)?;
    Ok(bytes)
}

/// Reads and checks the notebook: a regular file of at most `limit` bytes (never a FIFO
/// or a device, see [`crate::bounded`]), JSON, nbformat 4, a `cells` list.
fn read_notebook(shown: &Path, path: &Path, limit: u64) -> Result<Vec<u8>> {
    use crate::bounded::ReadError;
    let bytes = crate::bounded::read(path, limit).map_err(|error| match error {
        error if error.is_not_found() => Error::Usage {
            message: format!("notebook `{}` not found", shown.display()),
            hint: Some("pass the path of an `.ipynb` file (relative to the current directory), or `-` to read it from stdin".to_owned()),
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

/// The driver's configuration (`config.json`, mounted read-only), as `driver.py` reads it.
/// The fields are in alphabetical order, as the JSON always had them.
#[derive(Debug, serde::Serialize)]
struct DriverConfig<'a> {
    allow_errors: bool,
    /// `--autosave-cell-every`: seconds between snapshots inside a cell (0: never).
    autosave_every: u64,
    /// Seconds, rounded up.
    cell_timeout: Option<u64>,
    /// The kernel's working directory.
    cwd: &'a Path,
    /// Set in the driver's environment (and so the kernel's): Jupyter's and IPython's
    /// directories in the sandbox's private /tmp.
    env: std::collections::BTreeMap<&'static str, String>,
    /// The notebook's copy inside the sandbox.
    input: String,
    /// The notebook's and the output's paths as the user gave them (`-` for stdout), for
    /// `metadata.papermill`.
    input_path: &'a str,
    kernel: Option<&'a str>,
    /// `--log-output`: cells' output to stderr as it arrives.
    log_output: bool,
    notebook_budget: Option<u64>,
    output_path: Option<&'a str>,
    /// `[name, "papermill" | "raw" | "json", value]`, final and ordered
    /// ([`parameters::merge`]).
    parameters: &'a [parameters::Parameter],
    /// `--prepare-only`: parameters and metadata, no kernel.
    prepare_only: bool,
    /// Created by the driver before the kernel starts.
    private_dirs: Vec<String>,
    /// `--request-save-on-cell-execute`: snapshots as cells start and end.
    save_snapshots: bool,
}

/// The notebook's and the output's paths as the user named them.
struct NotebookPaths {
    input: String,
    output: Option<String>,
}

/// The driver's configuration (JSON, mounted read-only).
fn driver_config(
    args: &NbexecArgs,
    parameters: &[parameters::Parameter],
    cwd: &Path,
    cell_timeout: Option<std::time::Duration>,
    notebook_budget: Option<u64>,
    paths: &NotebookPaths,
) -> Result<String> {
    let private = |name: &str| format!("{PRIVATE}/{name}");
    // No `MPLCONFIGDIR`: matplotlib keeps its cache in the private HOME
    // (`~/.cache/matplotlib`), where `crate::cache` binds the venv's primed font list, and
    // a user's `--env MPLCONFIGDIR=...` is not overwritten.
    let private_dirs: Vec<String> = ["runtime", "data", "config", "ipython"]
        .iter()
        .map(|name| private(name))
        .collect();
    let config = DriverConfig {
        allow_errors: args.allow_errors,
        cell_timeout: cell_timeout.map(|timeout| timeout.as_secs_f64().ceil() as u64),
        cwd,
        env: [
            ("JUPYTER_RUNTIME_DIR", private("runtime")),
            ("JUPYTER_DATA_DIR", private("data")),
            ("JUPYTER_CONFIG_DIR", private("config")),
            ("JUPYTER_PLATFORM_DIRS", "1".to_owned()),
            ("IPYTHONDIR", private("ipython")),
            ("PYDEVD_DISABLE_FILE_VALIDATION", "1".to_owned()),
        ]
        .into_iter()
        .collect(),
        input: format!("{DRIVER_DIRECTORY}/input.ipynb"),
        kernel: args.kernel.as_deref(),
        notebook_budget,
        parameters,
        private_dirs,
        input_path: &paths.input,
        output_path: paths.output.as_deref(),
        prepare_only: args.prepare_only,
        log_output: args.log_output,
        save_snapshots: args.request_save_on_cell_execute,
        autosave_every: args.autosave_cell_every.unwrap_or(30),
    };
    // A directory whose name is not UTF-8 cannot be said in JSON.
    serde_json::to_string(&config).map_err(|error| {
        Error::Internal(anyhow::anyhow!(
            "writing the notebook driver's configuration: {error}"
        ))
    })
}

/// Which bound limits the executed notebook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    /// `limits.output` plus the notebook's own size.
    Output { output: u64, input: u64 },
    /// `limits.file_size` (the smaller).
    FileSize,
}

/// The most the executed notebook may be, in bytes, and which bound that is: what the cells
/// display is bounded by `limits.output` (as a script's output is), on top of the notebook's
/// own size; the file boxpy writes, by `limits.file_size` as well. `None`: unbounded.
fn notebook_budget(limits: &crate::policy::Limits, input: u64) -> Option<(u64, Bound)> {
    let output = limits.output.map(|output| {
        (
            output.saturating_add(input),
            Bound::Output { output, input },
        )
    });
    let file = limits.file_size.map(|size| (size, Bound::FileSize));
    match (output, file) {
        (Some(output), Some(file)) if file.0 < output.0 => Some(file),
        (Some(output), _) => Some(output),
        (None, file) => file,
    }
}

/// The notebook check and the cell sources, for the fuzzer (`fuzz/`).
pub(crate) fn check_for_fuzzing(bytes: &[u8]) {
    if check_notebook(Path::new("fuzz.ipynb"), bytes).is_ok() {
        let _ = code_cell_sources(&serde_json::from_slice(bytes).unwrap_or_default());
    }
}

/// The driver's event lines decoded as [`collect`] decodes them, for the fuzzer (`fuzz/`).
pub(crate) fn decode_events_for_fuzzing(text: &str) {
    let lines: Vec<&str> = text.lines().collect();
    let (sender, receiver) = mpsc::sync_channel(lines.len() + 1);
    for line in lines {
        let _ = sender.send(format!("{line}\n"));
    }
    drop(sender);
    let bounds = Bounds {
        budget: Some(1 << 20),
        code_cells: 64,
        ..Bounds::default()
    };
    let collected = collect(receiver, false, &bounds, None);
    for cell in &collected.cells {
        if let Some(error) = &cell.error {
            let _ = ipython_frames(&error.traceback);
        }
    }
}

/// Reads the driver's events: progress on a terminal, results for the report. Stops at the
/// first line that breaks the protocol or at a notebook over its budget; dropping the
/// receiver then closes the channel.
fn collect(
    receiver: mpsc::Receiver<String>,
    show_progress: bool,
    bounds: &Bounds,
    reserved: Option<tempfile::NamedTempFile>,
) -> Collected {
    let started = Instant::now();
    let mut collector = Collector {
        bounds: bounds.clone(),
        collected: Collected::default(),
        phase: Phase::Setup,
        sink: None,
        reserved,
        error_text: 0,
        starts: 0,
    };
    for line in receiver.iter() {
        let progress = match collector.take(&line) {
            Ok(progress) => progress,
            Err(why) => {
                // Nothing of a broken channel is kept, not even a notebook that came whole
                // before the line that broke it.
                collector.collected.broken = Some(why);
                collector.collected.complete = false;
                collector.collected.saved = None;
                collector.sink = None;
                break;
            }
        };
        if collector.collected.too_large.is_some() {
            collector.sink = None;
            break;
        }
        if let (true, Some(index)) = (show_progress, progress) {
            report::progress(&format!(
                "cell {index} of {} · {:.1}s",
                collector.collected.total,
                started.elapsed().as_secs_f64()
            ));
        }
    }
    collector.finish()
}

struct Collector {
    bounds: Bounds,
    collected: Collected,
    phase: Phase,
    /// Where the notebook's text goes while it arrives (with `-o`).
    sink: Option<BufWriter<tempfile::NamedTempFile>>,
    /// The temporary file reserved beside the output before the run, for the final notebook.
    reserved: Option<tempfile::NamedTempFile>,
    /// Error text kept so far (against [`ERROR_TEXT_BUDGET`]).
    error_text: usize,
    /// `cell_start` events so far.
    starts: usize,
}

impl Collector {
    /// Takes one line: `Ok(Some(N))` when cell N starts (for the progress line), `Err(why)`
    /// when the line breaks the driver's protocol.
    fn take(&mut self, line: &str) -> std::result::Result<Option<u64>, String> {
        if line == crate::exec::CHANNEL_OVERLONG {
            return Err(format!(
                "a line longer than {}",
                crate::policy::units::format_size(crate::exec::CHANNEL_LINE_LIMIT as u64)
            ));
        }
        let Some(text) = line.strip_suffix('\n') else {
            return Err("a line cut short".to_owned());
        };
        let event = serde_json::from_str::<Event>(text)
            .map_err(|_| format!("a malformed line ({})", snippet(text)))?;
        let out_of_order = |name: &str| format!("a `{name}` event out of order");
        match (event, self.phase) {
            (Event::Start { cells }, Phase::Setup) => {
                if cells > self.bounds.code_cells {
                    return Err(format!(
                        "{cells} cells announced, the notebook has {}",
                        self.bounds.code_cells
                    ));
                }
                self.collected.total = cells;
                self.phase = Phase::Cells;
            }
            (Event::Missing { module }, Phase::Setup) => {
                self.collected.missing = Some(module);
                self.phase = Phase::Missing;
            }
            (Event::DriverError { message }, Phase::Setup) => {
                self.collected.driver_error = Some(message);
                self.phase = Phase::Done;
            }
            (
                Event::KernelError {
                    kind,
                    kernel,
                    installed,
                    message,
                },
                Phase::Setup | Phase::Cells,
            ) if self.starts == 0 => {
                self.collected.kernel_error = Some(KernelError {
                    kind: cut(&kind, 40),
                    kernel: cut(&kernel, 200),
                    installed: installed
                        .iter()
                        .take(50)
                        .map(|name| cut(name, 200))
                        .collect(),
                    message: cut(&message, 2000),
                });
                self.phase = Phase::Done;
            }
            (Event::DriverError { message }, _) => {
                return Err(format!(
                    "the driver failed after the kernel started: {message}"
                ));
            }
            (Event::CellStart { index }, Phase::Cells) => {
                self.starts += 1;
                if self.starts > self.collected.total + 1 {
                    return Err("more cells started than announced".to_owned());
                }
                self.collected.running = match index {
                    CellLabel::Number(number) => Some(number),
                    CellLabel::Injected => Some(0),
                    CellLabel::Invalid => None,
                };
                return Ok(match index {
                    CellLabel::Number(number) => Some(number),
                    CellLabel::Injected | CellLabel::Invalid => None,
                });
            }
            (
                Event::CellEnd {
                    index,
                    status,
                    duration_ms,
                    error,
                    execution_count,
                },
                Phase::Cells,
            ) => {
                if let CellStatus::Unknown(text) = &status {
                    return Err(format!("a cell status `{}`", snippet(text)));
                }
                self.collected.running = None;
                let error = error.map(|error| self.keep(error));
                match index {
                    CellLabel::Number(number) => {
                        let number = usize::try_from(number).unwrap_or(usize::MAX);
                        let previous = self.collected.cells.last().map_or(0, |cell| cell.index);
                        if number <= previous || number > self.collected.total {
                            return Err(format!("a result for cell {number} out of order"));
                        }
                        self.collected.cells.push(CellResult {
                            index: number,
                            status: status.as_str().to_owned(),
                            duration_ms,
                            error,
                            execution_count,
                        });
                    }
                    CellLabel::Injected => {
                        if !matches!(status, CellStatus::Ok | CellStatus::Skipped) {
                            self.collected.injected_failure = Some(error.unwrap_or_default());
                        }
                    }
                    CellLabel::Invalid => {
                        return Err("a cell result without a cell number".to_owned())
                    }
                }
            }
            (Event::NotebookTooLarge { bytes }, Phase::Cells) => {
                self.collected.too_large = Some(bytes);
                self.phase = Phase::Done;
            }
            (Event::NotebookBegin { bytes, snapshot }, Phase::Cells) => {
                if snapshot {
                    // Snapshots come only when asked for, within the same budget.
                    let Some((_, _)) = &self.bounds.snapshots else {
                        return Err(out_of_order("notebook_begin"));
                    };
                    if self.bounds.budget.is_some_and(|budget| bytes > budget) {
                        return Err(format!("a snapshot of {bytes} bytes, over the budget"));
                    }
                    if let Some(directory) = &self.bounds.directory {
                        match saving::temporary_in(directory) {
                            Ok(file) => self.sink = Some(BufWriter::new(file)),
                            Err(error) => self.snapshot_failed(error.to_string()),
                        }
                    }
                    self.phase = Phase::Notebook {
                        announced: bytes,
                        received: 0,
                        snapshot: true,
                    };
                    return Ok(None);
                }
                if self.bounds.budget.is_some_and(|budget| bytes > budget) {
                    self.collected.too_large = Some(bytes);
                    self.phase = Phase::Done;
                    return Ok(None);
                }
                let file = match (self.reserved.take(), &self.bounds.directory) {
                    // The reserved file lay in the output's directory, which the program
                    // may write, for the whole run: whatever it holds goes first.
                    (Some(file), _) => Some(file.as_file().set_len(0).map(|()| file)),
                    (None, Some(directory)) => Some(saving::temporary_in(directory)),
                    (None, None) if self.bounds.to_stdout => Some(tempfile::NamedTempFile::new()),
                    (None, None) => None,
                };
                match file {
                    Some(Ok(file)) => self.sink = Some(BufWriter::new(file)),
                    Some(Err(error)) => self.collected.write_error = Some(error.to_string()),
                    None => {}
                }
                self.phase = Phase::Notebook {
                    announced: bytes,
                    received: 0,
                    snapshot: false,
                };
            }
            (
                Event::NotebookPart { text },
                Phase::Notebook {
                    announced,
                    received,
                    snapshot,
                },
            ) => {
                let received = received.saturating_add(text.len() as u64);
                if received > announced {
                    return Err("more of the notebook than announced".to_owned());
                }
                self.phase = Phase::Notebook {
                    announced,
                    received,
                    snapshot,
                };
                if let Some(sink) = &mut self.sink {
                    if let Err(error) = sink.write_all(text.as_bytes()) {
                        self.sink = None;
                        if snapshot {
                            self.snapshot_failed(error.to_string());
                        } else {
                            self.collected.write_error = Some(error.to_string());
                        }
                    }
                }
            }
            (
                Event::NotebookEnd {},
                Phase::Notebook {
                    announced,
                    received,
                    snapshot,
                },
            ) => {
                if received != announced {
                    return Err(format!(
                        "the notebook ended after {received} of {announced} bytes"
                    ));
                }
                if snapshot {
                    self.phase = Phase::Cells;
                    self.save_snapshot();
                    return Ok(None);
                }
                self.phase = Phase::Done;
                self.collected.complete = true;
                if let Some(sink) = self.sink.take() {
                    // Exactly the notebook's bytes (nothing another process appended).
                    let written = sink
                        .into_inner()
                        .map_err(|error| error.into_error())
                        .and_then(|file| file.as_file().set_len(received).map(|()| file));
                    match written {
                        Ok(file) => self.collected.saved = Some(file),
                        Err(error) => {
                            self.collected.write_error = Some(error.to_string());
                        }
                    }
                }
            }
            (event, _) => return Err(out_of_order(event.name())),
        }
        Ok(None)
    }

    /// A snapshot that arrived whole, renamed over the output as the final notebook is
    /// ([`persist`]): a run killed later leaves it.
    fn save_snapshot(&mut self) {
        let (Some(sink), Some((target, shown))) = (self.sink.take(), &self.bounds.snapshots) else {
            return;
        };
        let saved = sink
            .into_inner()
            .map_err(|error| error.error().to_string())
            .and_then(|file| {
                persist(file, target, shown, self.bounds.output_mode)
                    .map_err(|error| error.summary())
            });
        match saved {
            Ok(()) => self.collected.snapshots += 1,
            Err(why) => self.snapshot_failed(why),
        }
    }

    fn snapshot_failed(&mut self, why: String) {
        self.sink = None;
        self.collected.snapshot_error.get_or_insert(why);
    }

    /// The error as kept for the report: whole until [`ERROR_TEXT_BUDGET`] is spent, then
    /// its name and message cut short and no traceback.
    fn keep(&mut self, error: CellError) -> CellError {
        let size = error.ename.len() + error.evalue.len() + error.traceback.len();
        if self.error_text.saturating_add(size) <= ERROR_TEXT_BUDGET {
            self.error_text += size;
            return error;
        }
        CellError {
            ename: cut(&error.ename, 200),
            evalue: cut(&error.evalue, 200),
            traceback: String::new(),
        }
    }

    fn finish(mut self) -> Collected {
        if let Phase::Notebook { .. } = self.phase {
            if self.collected.broken.is_none() {
                self.collected.broken = Some("the channel ended inside the notebook".to_owned());
            }
            self.sink = None;
        }
        self.collected
    }
}

impl Event {
    fn name(&self) -> &'static str {
        match self {
            Event::Start { .. } => "start",
            Event::CellStart { .. } => "cell_start",
            Event::CellEnd { .. } => "cell_end",
            Event::NotebookBegin { .. } => "notebook_begin",
            Event::NotebookPart { .. } => "notebook_part",
            Event::NotebookEnd {} => "notebook_end",
            Event::NotebookTooLarge { .. } => "notebook_too_large",
            Event::Missing { .. } => "missing",
            Event::DriverError { .. } => "driver_error",
            Event::KernelError { .. } => "kernel_error",
        }
    }
}

/// At most `limit` bytes of `text`, on a character boundary.
fn cut(text: &str, limit: usize) -> String {
    let mut end = text.len().min(limit);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// A short, printable excerpt of an untrusted line for the report.
fn snippet(text: &str) -> String {
    let head = cut(text, 60);
    let mut shown: String = head.escape_debug().collect();
    if head.len() < text.len() {
        shown.push('…');
    }
    shown
}

/// The report for an executed notebook over its budget.
fn too_large_diagnosis(bytes: u64, budget: u64, bound: Bound, saving: bool) -> Diagnosis {
    let size = crate::policy::units::format_size;
    let (why, hint) = match bound {
        Bound::Output { output, input } => (
            format!(
                "its budget of {} (`limits.output`, {}, plus the notebook's own {})",
                size(budget),
                size(output),
                size(input)
            ),
            "what the cells display is bounded by `limits.output`; raise it in a policy (`[limits] output = \"1GiB\"`), or display less (a summary, not the whole value)".to_owned(),
        ),
        Bound::FileSize => (
            format!("`limits.file_size` ({})", size(budget)),
            "the notebook boxpy writes is bounded by `limits.file_size` (and what the cells display by `limits.output`); raise them in a policy, or display less".to_owned(),
        ),
    };
    Diagnosis {
        exception_type: "NotebookTooLarge".to_owned(),
        message: format!(
            "the executed notebook is {}, over {why}; {}",
            size(bytes),
            if saving {
                "nothing was saved"
            } else {
                "it was dropped"
            }
        ),
        location: None,
        raised_at: None,
        cause: None,
        hint: Some(hint),
    }
}

/// The report for a channel that broke the driver's protocol.
fn broken_channel_diagnosis(why: &str) -> Diagnosis {
    Diagnosis {
        exception_type: "NotebookDriverError".to_owned(),
        message: format!("the notebook driver's report broke off: {why}"),
        location: None,
        raised_at: None,
        cause: None,
        hint: Some("the notebook's code ran and may have disturbed boxpy's driver (killed it, exhausted its memory); the cells' results after that point are missing".to_owned()),
    }
}

/// An untrusted message for the report: its control characters escaped, cut short.
fn snippet_long(text: &str) -> String {
    let head = cut(text, 2000);
    head.chars()
        .flat_map(|c| {
            if c.is_control() && c != '\n' {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// The kernel could not start: the driver's own failure, exit 125 (no cell ran), with
/// the way to a kernel that works.
fn kernel_error(invocation: &Invocation, error: &KernelError) -> Error {
    let python = catalogue::display_path(
        &invocation.spec.interpreter.executable.to_string_lossy(),
        &invocation.spec.workdir,
    );
    // The venv's text (a hostile venv writes the channel): a kernel's name is shown only
    // when it is a plain kernelspec name.
    let kernel = if diagnosis::plain_kernel_name(&error.kernel) {
        format!(" `{}`", error.kernel)
    } else {
        String::new()
    };
    let plain: Vec<String> = error
        .installed
        .iter()
        .filter(|name| diagnosis::plain_kernel_name(name))
        .map(|name| format!("`{name}`"))
        .collect();
    let installed = match (plain.is_empty(), error.installed.len() - plain.len()) {
        (true, 0) => "none".to_owned(),
        (true, _) => "none with a plain kernelspec name".to_owned(),
        (false, 0) => plain.join(", "),
        (false, _) => format!(
            "{} (and names that are not kernelspec names)",
            plain.join(", ")
        ),
    };
    let (message, hint) = match error.kind.as_str() {
        "not_installed" => (
            format!("the notebook's kernel{kernel} is not installed in the venv (installed: {installed})"),
            format!("run it with the venv's Python kernel: `--kernel python3`; or install the notebook's kernel into the venv (for a Python kernel: `{python} -m ipykernel install --sys-prefix --name NAME`)"),
        ),
        "bad_kernelspec" => (
            format!(
                "the kernel{kernel} cannot start: its kernelspec is broken ({})",
                snippet_long(&error.message)
            ),
            format!("run it with the venv's Python kernel: `--kernel python3`; or reinstall the kernel in the venv (`{python} -m ipykernel install --sys-prefix`)"),
        ),
        _ => (
            format!(
                "the kernel{kernel} died while starting ({}; installed kernels: {installed})",
                snippet_long(&error.message)
            ),
            format!("check that the kernel starts in the sandbox: `boxpy exec -- {python} -m ipykernel_launcher --help`; `--kernel python3` uses the venv's own; a `limits.memory` too small for it kills it"),
        ),
    };
    Error::Usage {
        message,
        hint: Some(hint),
    }
}

fn missing_module(invocation: &Invocation, module: &str) -> Error {
    let python = catalogue::display_path(
        &invocation.spec.interpreter.executable.to_string_lossy(),
        &invocation.spec.workdir,
    );
    // The venv's text: a module's name only when it is a dotted Python identifier.
    let module = if diagnosis::dotted_identifier(module) {
        format!("`{module}`")
    } else {
        "a module nbexec needs".to_owned()
    };
    Error::Usage {
        message: format!("{module} is not installed in the venv; `boxpy nbexec` runs notebooks with the venv's own nbclient and ipykernel"),
        hint: Some(format!("install them: `{python} -m pip install nbclient ipykernel`")),
    }
}

/// Moves the executed notebook, complete in a temporary file beside `path`, into place:
/// synced, with `mode` (the mode the output had before the run, or 0666 less the umask:
/// [`saving::check_output`]; 0644 when none was fixed), renamed, so a failed or killed run
/// never leaves a truncated notebook.
fn persist(
    file: tempfile::NamedTempFile,
    path: &Path,
    shown: &Path,
    mode: Option<u32>,
) -> Result<()> {
    let failed = |error: &dyn std::fmt::Display| Error::Usage {
        message: format!("cannot write `{}`: {error}", shown.display()),
        hint: None,
    };
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    file.as_file().sync_all().map_err(|error| failed(&error))?;
    // The temporary file lay in a directory the program could write while it ran (a daemon
    // of its own could have swapped its name for a link): everything from here acts on the
    // descriptor, and the name is renamed only while it still is this very file. The
    // sandbox is gone by now, its last process with it.
    let ours = file.as_file().metadata().map_err(|error| failed(&error))?;
    let named = std::fs::symlink_metadata(file.path()).map_err(|error| failed(&error))?;
    if named.file_type().is_symlink() || named.dev() != ours.dev() || named.ino() != ours.ino() {
        return Err(failed(
            &"the temporary file was replaced while the notebook ran",
        ));
    }
    // Never the mode of what lies at `path` now (the program may have planted a 0777
    // file there), and never special bits.
    let mode = mode.unwrap_or(0o644) & 0o777;
    file.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|error| failed(&error))?;
    file.persist(path).map_err(|error| failed(&error.error))?;
    Ok(())
}

/// The notebook's code cells: their sources and the results the driver reported.
#[derive(Clone, Copy)]
struct NotebookCells<'a> {
    sources: &'a [String],
    results: &'a [CellResult],
}

/// The report for a failed cell: located as `notebook.ipynb, cell N, line L`, with the
/// catalogue's hint for the kernel's error.
///
/// The location is the user's deepest frame in a cell: IPython names it by its execution
/// count (`Cell In[2], line 7, in func2(x)`), which the driver's `cell_end` events map
/// back to the notebook's code cell (a function defined in an earlier cell fails there).
fn cell_diagnosis(
    invocation: &Invocation,
    notebook: &str,
    index: usize,
    cells: NotebookCells<'_>,
    error: &CellError,
    outcome: &Outcome,
    (kernel_directory, typed_cwd): (&Path, Option<&Path>),
) -> Diagnosis {
    let (cell_frame, frames) = diagnosis::ipython_traceback(&error.traceback);
    // The cell of the deepest frame, when it is another cell the kernel ran.
    let index = cell_frame
        .and_then(|frame| frame.execution_count)
        .and_then(|count| {
            cells
                .results
                .iter()
                .find(|cell| cell.execution_count == Some(count))
                .map(|cell| cell.index)
        })
        .filter(|_| index > 0)
        .unwrap_or(index);
    let source = index
        .checked_sub(1)
        .and_then(|at| cells.sources.get(at))
        .map(String::as_str);
    let mut line = cell_frame.and_then(|frame| frame.line);
    if error.ename == "SystemExit" && line.is_none() {
        line = source.and_then(diagnosis::exit_line);
    }
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
    } else if let Some(notebook_hint) = diagnosis::notebook_hint(&error.ename, &error.evalue) {
        hint = Some(notebook_hint);
    } else if diagnosis::relative_write_refused(&error.ename, &error.evalue)
        && !kernel_directory.starts_with(&invocation.spec.workdir)
    {
        // `--cwd` outside the workdir is mounted read-only: a relative path lands there,
        // not in the working directory the catalogue's hint would name.
        // `--rw` is offered with the path as the user typed it, and only when no link
        // lies on its way.
        let workdir = crate::text::escaped_path(&invocation.spec.workdir);
        hint = Some(match typed_cwd {
            Some(typed) => {
                let typed = crate::text::shell_quote(&typed.to_string_lossy());
                format!(
                    "the kernel runs in the `--cwd` directory, mounted read-only, where a relative path is written; write to an absolute path under the working directory (`{workdir}`), or make that directory writable too: `--rw {typed} --cwd {typed}`"
                )
            }
            None => format!(
                "the kernel runs in the `--cwd` directory, mounted read-only, where a relative path is written; write to an absolute path under the working directory (`{workdir}`)"
            ),
        });
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

/// From IPython's traceback text: the line in the deepest cell frame and the library
/// frames after it ([`diagnosis::ipython_traceback`]).
fn ipython_frames(traceback: &str) -> (Option<u32>, Vec<Frame>) {
    let (cell, frames) = diagnosis::ipython_traceback(traceback);
    (cell.and_then(|cell| cell.line), frames)
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
    fn help_notebook_escapes_the_notebooks_text() {
        let source = "alpha = 1  # \u{1b}]52;c;Y3VybA==\u{7}\u{1b}[2J run\u{202e}\nbeta = 'x\u{1b}[8m'  # \u{1b}]0;PWNED\u{7} hidden\n";
        let notebook = serde_json::json!({
            "cells": [{"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": source}]
        });
        let text = parameters::help_text("nb\u{1b}[31m.ipynb", &notebook);
        assert!(!text.contains('\u{1b}'), "{text:?}");
        assert!(!text.contains('\u{7}'), "{text:?}");
        assert!(!text.contains('\u{202e}'), "{text:?}");
        assert!(text.contains("(default 'x\\x1b[8m')"), "{text}");
        assert!(text.contains("\\x1b]0;PWNED\\x07 hidden"), "{text}");
    }

    #[test]
    fn persist_replaces_whole_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.ipynb");
        std::fs::write(&path, "old").unwrap();
        let mut file = tempfile::NamedTempFile::new_in(dir.path()).unwrap();
        file.write_all(b"{\"nbformat\": 4}\n").unwrap();
        persist(file, &path, &path, None).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"nbformat\": 4}\n"
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    /// Feeds `lines` (each gets its newline) to a collector of a 2-cell notebook.
    fn collect_lines(lines: &[&str], budget: Option<u64>, directory: Option<&Path>) -> Collected {
        let (sender, receiver) = mpsc::sync_channel(lines.len() + 1);
        for line in lines {
            let line = if *line == crate::exec::CHANNEL_OVERLONG {
                (*line).to_owned()
            } else {
                format!("{line}\n")
            };
            sender.send(line).unwrap();
        }
        drop(sender);
        let bounds = Bounds {
            budget,
            code_cells: 2,
            directory: directory.map(Path::to_path_buf),
            ..Bounds::default()
        };
        collect(receiver, false, &bounds, None)
    }

    const START: &str = r#"{"event": "start", "cells": 2}"#;
    const CELL_1: &str = r#"{"event": "cell_end", "index": 1, "status": "ok", "duration_ms": 3}"#;
    const CELL_2: &str = r#"{"event": "cell_end", "index": 2, "status": "ok", "duration_ms": 3}"#;

    #[test]
    fn a_well_formed_channel_saves_the_notebook() {
        let dir = tempfile::tempdir().unwrap();
        let collected = collect_lines(
            &[
                START,
                r#"{"event": "cell_start", "index": 1}"#,
                CELL_1,
                CELL_2,
                r#"{"event": "notebook_begin", "bytes": 7}"#,
                r#"{"event": "notebook_part", "text": "{\"a\""}"#,
                r#"{"event": "notebook_part", "text": ":1}"}"#,
                r#"{"event": "notebook_end"}"#,
            ],
            Some(100),
            Some(dir.path()),
        );
        assert!(collected.broken.is_none(), "{collected:?}");
        assert!(collected.complete);
        assert_eq!(collected.cells.len(), 2);
        let saved = collected
            .saved
            .expect("the notebook waits in a temporary file");
        assert_eq!(std::fs::read_to_string(saved.path()).unwrap(), "{\"a\":1}");
    }

    /// Progressive saving: each snapshot that arrives whole replaces the output at once
    /// (atomically) and the cells go on; the final notebook follows as usual. A snapshot
    /// nobody asked for, or one over the budget, breaks the protocol.
    #[test]
    fn snapshots_replace_the_output_and_cells_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.ipynb");
        let snapshot = |text: &str| {
            [
                format!(
                    r#"{{"event": "notebook_begin", "bytes": {}, "snapshot": true}}"#,
                    text.len()
                ),
                serde_json::json!({"event": "notebook_part", "text": text}).to_string(),
                r#"{"event": "notebook_end"}"#.to_owned(),
            ]
        };
        let mut lines: Vec<String> = vec![START.to_owned()];
        lines.extend(snapshot("{\"s\":1}"));
        lines.push(CELL_1.to_owned());
        lines.extend(snapshot("{\"s\":2}"));
        lines.push(r#"{"event": "cell_start", "index": 2}"#.to_owned());
        let (sender, receiver) = mpsc::sync_channel(lines.len() + 1);
        for line in &lines {
            sender.send(format!("{line}\n")).unwrap();
        }
        drop(sender);
        let bounds = Bounds {
            budget: Some(100),
            code_cells: 2,
            directory: Some(dir.path().to_path_buf()),
            snapshots: Some((target.clone(), target.clone())),
            to_stdout: false,
            output_mode: Some(0o640),
        };
        let collected = collect(receiver, false, &bounds, None);
        assert!(collected.broken.is_none(), "{collected:?}");
        assert_eq!(collected.snapshots, 2);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "{\"s\":2}");
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&target).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o640, "the mode fixed before the run");
        }
        assert_eq!(collected.running, Some(2), "cell 2 had started");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "nothing else"
        );

        let unasked: Vec<&str> = vec![
            START,
            r#"{"event": "notebook_begin", "bytes": 2, "snapshot": true}"#,
        ];
        let collected = collect_lines(&unasked, Some(100), Some(dir.path()));
        assert!(collected.broken.unwrap().contains("out of order"));
    }

    /// A cell stopped by a signal is `interrupted`; the running cell is forgotten once it
    /// ends.
    #[test]
    fn an_interrupted_cell_is_reported_as_such() {
        let collected = collect_lines(
            &[
                START,
                r#"{"event": "cell_start", "index": 1}"#,
                r#"{"event": "cell_end", "index": 1, "status": "interrupted", "duration_ms": 5}"#,
                r#"{"event": "cell_end", "index": 2, "status": "skipped", "duration_ms": 0}"#,
            ],
            None,
            None,
        );
        assert!(collected.broken.is_none(), "{collected:?}");
        assert_eq!(collected.cells[0].status, "interrupted");
        assert_eq!(collected.running, None);
        let mut collected = collected;
        assert_eq!(stopped_cell(&mut collected, &Status::Signaled(2)), Some(1));
        // A kill at `limits.timeout` inside cell 2: it is added as `killed`.
        let mut collected = collect_lines(
            &[START, CELL_1, r#"{"event": "cell_start", "index": 2}"#],
            None,
            None,
        );
        assert_eq!(stopped_cell(&mut collected, &Status::TimedOut), Some(2));
        assert_eq!(collected.cells.last().unwrap().status, "killed");
        assert_eq!(
            stopped_message(2, 2, "n.ipynb", &Status::TimedOut),
            "n.ipynb: killed at `limits.timeout` while running cell 2 of 2"
        );
    }

    /// Anything malformed or out of order is the program's failure (`broken`), never a
    /// setup error, and no notebook is kept.
    #[test]
    fn a_broken_channel_is_the_programs_failure() {
        let dir = tempfile::tempdir().unwrap();
        let driver_error = r#"{"event": "driver_error", "message": "forged"}"#;
        let early_end = r#"{"event": "notebook_end"}"#;
        let cases: &[(&[&str], &str)] = &[
            (&[START, "this is not an event"], "malformed"),
            (&[START, crate::exec::CHANNEL_OVERLONG], "longer than"),
            (
                &[START, driver_error],
                "driver failed after the kernel started",
            ),
            (&[START, early_end], "out of order"),
            (&[START, CELL_2, CELL_1], "out of order"),
            (&[START, CELL_1, CELL_1], "out of order"),
            (
                &[
                    START,
                    r#"{"event": "cell_end", "index": 7, "status": "ok", "duration_ms": 1}"#,
                ],
                "out of order",
            ),
            (
                &[
                    START,
                    r#"{"event": "cell_end", "index": 1, "status": "fine", "duration_ms": 1}"#,
                ],
                "status",
            ),
            (&[r#"{"event": "start", "cells": 9}"#], "announced"),
            (&[START, START], "out of order"),
            (
                &[
                    START,
                    r#"{"event": "notebook_begin", "bytes": 2}"#,
                    r#"{"event": "notebook_part", "text": "abc"}"#,
                ],
                "more of the notebook",
            ),
            (
                &[
                    START,
                    r#"{"event": "notebook_begin", "bytes": 4}"#,
                    r#"{"event": "notebook_part", "text": "ab"}"#,
                    early_end,
                ],
                "ended after 2 of 4",
            ),
            (
                &[
                    START,
                    r#"{"event": "notebook_begin", "bytes": 4}"#,
                    r#"{"event": "notebook_part", "text": "ab"}"#,
                ],
                "inside the notebook",
            ),
            (
                &[
                    START,
                    r#"{"event": "notebook_begin", "bytes": 0}"#,
                    early_end,
                    CELL_1,
                ],
                "out of order",
            ),
        ];
        for (lines, needle) in cases {
            let collected = collect_lines(lines, Some(100), Some(dir.path()));
            let broken = collected.broken.as_deref().unwrap_or_default();
            assert!(broken.contains(needle), "{lines:?}: {collected:?}");
            assert!(collected.driver_error.is_none(), "{lines:?}");
            assert!(
                collected.saved.is_none() && !collected.complete,
                "{lines:?}"
            );
        }
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "no temporary file is left"
        );
        // Before `start` no notebook code has run: a driver error there is boxpy's setup.
        let collected = collect_lines(&[driver_error], None, None);
        assert_eq!(collected.driver_error.as_deref(), Some("forged"));
        assert!(collected.broken.is_none());
        // A last line without its newline is cut short.
        let (sender, receiver) = mpsc::sync_channel(2);
        sender.send(format!("{START}\n")).unwrap();
        sender.send(CELL_1.to_owned()).unwrap();
        drop(sender);
        let bounds = Bounds {
            budget: None,
            code_cells: 2,
            ..Bounds::default()
        };
        assert!(collect(receiver, false, &bounds, None)
            .broken
            .unwrap()
            .contains("cut short"));
    }

    /// Over its budget the notebook is refused, whether the driver says so or only the size
    /// it announces does; nothing is kept.
    #[test]
    fn a_notebook_over_its_budget_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let too_large = collect_lines(
            &[
                START,
                CELL_1,
                CELL_2,
                r#"{"event": "notebook_too_large", "bytes": 500}"#,
            ],
            Some(100),
            Some(dir.path()),
        );
        assert_eq!(too_large.too_large, Some(500));
        assert!(too_large.broken.is_none() && !too_large.complete);
        let announced = collect_lines(
            &[
                START,
                r#"{"event": "notebook_begin", "bytes": 101}"#,
                r#"{"event": "notebook_part", "text": "x"}"#,
            ],
            Some(100),
            Some(dir.path()),
        );
        assert_eq!(announced.too_large, Some(101));
        assert!(announced.saved.is_none());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn the_budget_is_output_plus_the_notebook_within_file_size() {
        let mut limits = crate::policy::Limits::default();
        assert_eq!(notebook_budget(&limits, 10), None);
        limits.output = Some(100);
        assert_eq!(
            notebook_budget(&limits, 10),
            Some((
                110,
                Bound::Output {
                    output: 100,
                    input: 10
                }
            ))
        );
        limits.file_size = Some(50);
        assert_eq!(notebook_budget(&limits, 10), Some((50, Bound::FileSize)));
        limits.output = None;
        assert_eq!(notebook_budget(&limits, 10), Some((50, Bound::FileSize)));
        let diagnosis = too_large_diagnosis(
            180 << 20,
            64 << 20,
            Bound::Output {
                output: 64 << 20,
                input: 1000,
            },
            true,
        );
        assert!(
            diagnosis.message.contains("nothing was saved"),
            "{diagnosis:?}"
        );
        assert!(diagnosis.hint.unwrap().contains("limits.output"));
    }

    /// The events in `driver.py`: each `emit(event="KIND", field=...)` call and each
    /// `{"event": "KIND", "field": ...}` literal, as (kind, fields).
    /// `driver.py` without its comment lines (its header shows the events as examples).
    fn driver_code() -> String {
        DRIVER
            .lines()
            .filter(|line| !line.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn events_the_driver_writes() -> Vec<(String, Vec<String>)> {
        /// The text from `open` to its matching `close` (exclusive), over nested ones.
        fn balanced(text: &str, open: char, close: char) -> &str {
            let mut depth = 0;
            for (at, c) in text.char_indices() {
                if c == open {
                    depth += 1;
                } else if c == close {
                    if depth == 0 {
                        return &text[..at];
                    }
                    depth -= 1;
                }
            }
            panic!("unbalanced `{open}` in driver.py")
        }
        /// Splits at the commas outside brackets and strings of `text`.
        fn top_level(text: &str) -> Vec<&str> {
            let (mut parts, mut depth, mut quoted, mut start) = (Vec::new(), 0, None, 0);
            for (at, c) in text.char_indices() {
                match (quoted, c) {
                    (Some(quote), c) if c == quote => quoted = None,
                    (Some(_), _) => {}
                    (None, '"' | '\'') => quoted = Some(c),
                    (None, '(' | '[' | '{') => depth += 1,
                    (None, ')' | ']' | '}') => depth -= 1,
                    (None, ',') if depth == 0 => {
                        parts.push(text[start..at].trim());
                        start = at + 1;
                    }
                    _ => {}
                }
            }
            parts.push(text[start..].trim());
            parts.retain(|part| !part.is_empty());
            parts
        }
        let code = driver_code();
        let mut events = Vec::new();
        for (at, _) in code.match_indices("emit(event=") {
            let arguments = balanced(&code[at + "emit(".len()..], '(', ')');
            let mut kind = String::new();
            let mut fields = Vec::new();
            for argument in top_level(arguments) {
                let (name, value) = argument.split_once('=').expect("a keyword argument");
                if name == "event" {
                    kind = value.trim_matches('"').to_owned();
                } else {
                    fields.push(name.to_owned());
                }
            }
            events.push((kind, fields));
        }
        for (at, _) in code.match_indices("{\"event\": ") {
            let literal = balanced(&code[at + 1..], '{', '}');
            let mut kind = String::new();
            let mut fields = Vec::new();
            for entry in top_level(literal) {
                let (key, value) = entry.split_once(':').expect("a dict entry");
                let key = key.trim().trim_matches('"');
                if key == "event" {
                    kind = value.trim().trim_matches('"').to_owned();
                } else {
                    fields.push(key.to_owned());
                }
            }
            events.push((kind, fields));
        }
        events
    }

    /// Every event the driver writes, with the fields it writes, deserialises into
    /// [`Event`] as its kind; every kind [`Event`] knows is one the driver writes; every cell
    /// status the driver writes is a known [`CellStatus`].
    #[test]
    fn every_event_the_driver_writes_is_typed() {
        let sample = |field: &str| match field {
            "cells" | "bytes" | "duration_ms" => serde_json::json!(2),
            "index" => serde_json::json!(1),
            "status" => serde_json::json!("ok"),
            "error" => serde_json::json!({"ename": "E", "evalue": "v", "traceback": "t"}),
            "text" | "module" | "message" | "kind" | "kernel" => serde_json::json!("x"),
            "snapshot" => serde_json::json!(true),
            "installed" => serde_json::json!(["python3"]),
            "execution_count" => serde_json::json!(3),
            other => panic!("driver.py writes `{other}`, unknown here: type it in `Event`"),
        };
        let written = events_the_driver_writes();
        let mut kinds: Vec<&str> = written.iter().map(|(kind, _)| kind.as_str()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(
            kinds,
            [
                "cell_end",
                "cell_start",
                "driver_error",
                "kernel_error",
                "missing",
                "notebook_begin",
                "notebook_end",
                "notebook_part",
                "notebook_too_large",
                "start"
            ],
            "{written:?}"
        );
        for (kind, fields) in &written {
            let mut line = serde_json::Map::new();
            line.insert("event".to_owned(), serde_json::json!(kind));
            for field in fields {
                line.insert(field.clone(), sample(field));
            }
            let text = serde_json::Value::Object(line).to_string();
            let event = serde_json::from_str::<Event>(&text)
                .unwrap_or_else(|error| panic!("{text}: {error}"));
            assert_eq!(event.name(), kind);
            // The injected-parameters cell is labelled by name.
            if fields.iter().any(|field| field == "index") {
                let injected = text.replace("\"index\":1", "\"index\":\"injected\"");
                assert!(matches!(
                    serde_json::from_str::<Event>(&injected),
                    Ok(Event::CellStart {
                        index: CellLabel::Injected
                    } | Event::CellEnd {
                        index: CellLabel::Injected,
                        ..
                    })
                ));
            }
        }
        let code = driver_code();
        let mut statuses = 0;
        for pattern in ["status=\"", "status = \"", "status, error = \""] {
            for (at, _) in code.match_indices(pattern) {
                let rest = &code[at + pattern.len()..];
                let status = &rest[..rest.find('"').unwrap()];
                assert!(
                    !matches!(CellStatus::from(status.to_owned()), CellStatus::Unknown(_)),
                    "driver.py writes the cell status `{status}`"
                );
                statuses += 1;
            }
        }
        assert!(statuses >= 5, "found {statuses} statuses in driver.py");
    }

    /// The configuration is the JSON the driver always got (same keys, same order), and
    /// holds every key `driver.py` reads and no other.
    #[test]
    fn the_driver_config_is_what_the_driver_reads() {
        let args = NbexecArgs {
            sandbox: crate::cli::SandboxArgs::default(),
            notebook: PathBuf::from("n.ipynb"),
            output: None,
            inplace: false,
            parameters: vec!["alpha".into(), "0.1".into()],
            raw_parameters: vec!["name".into(), "x".into()],
            cell_timeout: None,
            allow_errors: true,
            kernel: Some("python3".into()),
            cwd: None,
            max_notebook_size: None,
            prepare_only: false,
            log_output: true,
            request_save_on_cell_execute: true,
            autosave_cell_every: None,
            yaml_parameters: vec!["beta: .nan".into()],
            file_parameters: Vec::new(),
            base64_parameters: Vec::new(),
            help_notebook: false,
        };
        let paths = NotebookPaths {
            input: "n.ipynb".to_owned(),
            output: Some("out.ipynb".to_owned()),
        };
        let parameters = parameters::merge(
            &parameters::Sources {
                yaml: &args.yaml_parameters,
                papermill: &args.parameters,
                raw: &args.raw_parameters,
                ..Default::default()
            },
            Path::new("/work"),
        )
        .unwrap();
        let text = driver_config(
            &args,
            &parameters,
            Path::new("/work"),
            Some(std::time::Duration::from_millis(1500)),
            Some(1000),
            &paths,
        )
        .unwrap();
        let private = |name: &str| format!("{PRIVATE}/{name}");
        let expected = serde_json::json!({
            "input": format!("{DRIVER_DIRECTORY}/input.ipynb"),
            "cwd": "/work",
            "parameters": [["beta", "json", {"$float": "nan"}], ["alpha", "papermill", "0.1"], ["name", "raw", "x"]],
            "cell_timeout": 2,
            "allow_errors": true,
            "notebook_budget": 1000,
            "kernel": "python3",
            "input_path": "n.ipynb",
            "output_path": "out.ipynb",
            "prepare_only": false,
            "log_output": true,
            "save_snapshots": true,
            "autosave_every": 30,
            "env": {
                "JUPYTER_RUNTIME_DIR": private("runtime"),
                "JUPYTER_DATA_DIR": private("data"),
                "JUPYTER_CONFIG_DIR": private("config"),
                "JUPYTER_PLATFORM_DIRS": "1",
                "IPYTHONDIR": private("ipython"),
                "PYDEVD_DISABLE_FILE_VALIDATION": "1",
            },
            "private_dirs": [
                private("runtime"),
                private("data"),
                private("config"),
                private("ipython"),
            ],
        });
        assert_eq!(text, expected.to_string());
        let mut read: Vec<String> = Vec::new();
        for pattern in ["config[\"", "config['", "config.get(\""] {
            for (at, _) in DRIVER.match_indices(pattern) {
                let rest = &DRIVER[at + pattern.len()..];
                read.push(rest[..rest.find(['"', '\'']).unwrap()].to_owned());
            }
        }
        read.sort();
        read.dedup();
        let written: Vec<String> = match serde_json::from_str(&text).unwrap() {
            serde_json::Value::Object(map) => map.keys().cloned().collect(),
            other => panic!("{other}"),
        };
        assert_eq!(read, written);
    }

    /// Labels and statuses the collector refuses in its own words, not as malformed lines.
    #[test]
    fn odd_labels_and_statuses_are_typed_not_malformed() {
        for label in [
            "-1",
            "1.5",
            "\"first\"",
            "null",
            "true",
            "[1]",
            "{\"a\": 1}",
        ] {
            let line = format!(
                r#"{{"event": "cell_end", "index": {label}, "status": "ok", "duration_ms": 1}}"#
            );
            let collected = collect_lines(&[START, &line], None, None);
            assert_eq!(
                collected.broken.as_deref(),
                Some("a cell result without a cell number"),
                "{line}"
            );
        }
        let start = r#"{"event": "cell_start", "index": "injected"}"#;
        assert!(collect_lines(&[START, start], None, None).broken.is_none());
        let missing = r#"{"event": "cell_start"}"#;
        assert!(collect_lines(&[START, missing], None, None)
            .broken
            .unwrap()
            .contains("malformed"));
        let unknown = r#"{"event": "cell_run", "index": 1}"#;
        assert!(collect_lines(&[START, unknown], None, None)
            .broken
            .unwrap()
            .contains("malformed"));
    }

    #[test]
    fn kept_error_text_is_bounded() {
        let mut collector = Collector {
            bounds: Bounds {
                budget: None,
                code_cells: 0,
                ..Bounds::default()
            },
            collected: Collected::default(),
            phase: Phase::Cells,
            sink: None,
            reserved: None,
            error_text: 0,
            starts: 0,
        };
        let big = CellError {
            ename: "E".repeat(300),
            evalue: "v".repeat(300),
            traceback: "t".repeat(ERROR_TEXT_BUDGET - 600),
        };
        assert_eq!(
            collector.keep(big.clone()).traceback.len(),
            ERROR_TEXT_BUDGET - 600
        );
        let cut = collector.keep(big);
        assert!(cut.traceback.is_empty() && cut.ename.len() == 200 && cut.evalue.len() == 200);
    }
}
