//! boxpy: run Python you did not write inside a kernel sandbox.
//!
//! `main` parses the command line, resolves settings, dispatches, and maps every outcome
//! to an exit code (SPEC §5). See ARCHITECTURE.md for the module map.

pub mod audit;
pub mod bounded;
pub mod cli;
mod commands;
pub mod doctor;
pub mod error;
pub mod exec;
pub mod exit;
#[doc(hidden)]
pub mod fuzzing;
pub mod hints;
pub mod host;
pub mod hostfs;
pub mod leftovers;
pub mod nbexec;
pub mod policy;
pub mod report;
pub mod sandbox;
pub mod settings;
pub mod venv;

use std::ffi::OsString;
use std::process::ExitCode;

use cli::Command;
use error::{Error, Result};
use host::HostFacts;

/// The whole program; returns the process exit code.
pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|arg| arg == sandbox::INIT_ARGUMENT) {
        let code = exec::init::main(&args[2..]);
        return ExitCode::from(u8::try_from(code).unwrap_or(125));
    }
    #[cfg(target_os = "macos")]
    if args
        .get(1)
        .is_some_and(|arg| arg == sandbox::seatbelt::START_ARGUMENT)
    {
        let code = exec::macos::start(&args[2..]);
        return ExitCode::from(u8::try_from(code).unwrap_or(125));
    }
    // The fast path never builds clap's command: keep the line for an error's `--json` test.
    let cli = match cli::parse(args.clone()) {
        Ok(cli) => cli,
        Err(error) => return command_line_refused(&error, cli::json_requested(&args)),
    };
    let color = cli.color;
    let json = match &cli.command {
        Command::Run(args) => args.sandbox.json,
        Command::Nbexec(args) => args.sandbox.json,
        Command::Exec(args) => args.sandbox.json,
        Command::Policy(cli::PolicyCommand::Show { sandbox, .. }) => sandbox.json,
        Command::Policy(_) => false,
        Command::Render(args) => args.sandbox.json,
        Command::Completions { .. } => false,
        Command::Doctor { json, .. } => *json,
    };
    match commands::dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            // With `--json` the failure is one object on stdout; the text stays on stderr.
            if json {
                report::print_json(&report::json_error(&error));
            }
            report::error(&error, color);
            ExitCode::from(error.exit_code())
        }
    }
}

/// A command line clap refused (or `--help`/`--version`): clap's text as it prints it and,
/// when the line asked for `--json`, the failure as one JSON object on stdout as well.
fn command_line_refused(error: &clap::Error, json: bool) -> ExitCode {
    let _ = error.print();
    if !error.use_stderr() {
        return ExitCode::SUCCESS;
    }
    if json {
        report::print_json(&report::json_error(&usage_error(error)));
    }
    ExitCode::from(exit::SANDBOX_FAILED)
}

/// clap's refusal as a usage error: its first line is the message, its lists of possible
/// values and its tips the hint.
fn usage_error(error: &clap::Error) -> Error {
    let text = error.render().to_string();
    let mut lines = text.lines();
    let message = lines
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .to_owned();
    let mut hints: Vec<String> = Vec::new();
    for line in lines {
        let line = line.trim();
        if let Some(values) = line
            .strip_prefix('[')
            .and_then(|line| line.strip_suffix(']'))
        {
            hints.push(values.to_owned());
        } else if let Some(tip) = line.strip_prefix("tip: ") {
            hints.push(tip.to_owned());
        }
    }
    let help = match error.kind() {
        clap::error::ErrorKind::InvalidSubcommand => "`boxpy --help` lists the commands",
        _ => "`--help` lists the options",
    };
    hints.push(help.to_owned());
    Error::Usage {
        message,
        hint: Some(hints.join("; ")),
    }
}

/// Renders the invocation's sandbox, applies its limits and runs it (shared by `run` and
/// `nbexec`); `channel` receives the lines a boxpy helper inside writes to its channel.
pub(crate) fn execute(
    invocation: &settings::Invocation,
    host: &HostFacts,
    channel: Option<std::sync::mpsc::SyncSender<String>>,
) -> Result<exec::Outcome> {
    report::notices(invocation);
    // The limits are planned (cgroups created) once bwrap is running; the init waits for
    // them before it starts the program. A retry plans them again, and warns once.
    let warned = std::cell::Cell::new(false);
    let plan = || {
        let enforcement = exec::limits::plan(&invocation.policy.limits, host.uid);
        if !warned.replace(true) {
            for (key, reason) in &enforcement.unenforced {
                report::warning(&format!("`{key}` is not enforced on this host: {reason}"));
            }
        }
        enforcement
    };
    let setup = sandbox::InitSetup::Deferred;
    let command = sandbox::bwrap::render(&invocation.spec, host, &setup);
    if invocation.output.verbose {
        report::verbose_choices(&invocation.choices);
        report::verbose_command(&sandbox::bwrap::to_shell_lines(&command));
    }
    let options = exec::ExecOptions {
        io: exec::Io::inherited(invocation.output.json),
        env: exec::Environment::of_process(),
        observer: cli_observer(),
        output_limit: invocation.policy.limits.output,
        timeout: invocation.policy.limits.timeout,
        seccomp: seccomp_program(invocation)?,
        channel,
        count_discarded: discarded_places(invocation),
    };
    let result = match exec::run(&command, &options, plan) {
        // bwrap older than 0.8 has no `--disable-userns`: say so, and run without it (the
        // seccomp filter still refuses unshare/clone with namespace flags).
        Err(Error::SandboxSetup { detail }) if detail.contains("--disable-userns") => {
            report::warning(
                "this bwrap is older than 0.8: it cannot forbid nested user namespaces with `--disable-userns` (relying on the seccomp filter), and the sandbox gets no user namespace of its own, so the run's share of your inotify budget is not bounded; install bubblewrap 0.8 or newer",
            );
            let mut spec = invocation.spec.clone();
            spec.disable_userns = false;
            exec::run(&sandbox::bwrap::render(&spec, host, &setup), &options, plan)
        }
        result => result,
    };
    sweep_leftovers(invocation);
    result
}

/// The places the sandbox discards whose leftover files the init counts (issue 15: a
/// program that writes its results to `~` or `/tmp` exits 0 and they are gone): the
/// private `/tmp` and HOME, each unless a mount of the user's covers it (then it is not the
/// sandbox's tmpfs). Nothing with `-q` (no notice to print) unless `--json` wants it.
fn discarded_places(
    invocation: &settings::Invocation,
) -> Vec<(exec::discarded::Place, std::path::PathBuf)> {
    use exec::discarded::Place;
    if invocation.output.quiet && !invocation.output.json {
        return Vec::new();
    }
    let spec = &invocation.spec;
    let covered = |path: &std::path::Path| {
        spec.mounts
            .iter()
            .any(|mount| path.starts_with(&mount.dest))
            || path.starts_with(&spec.workdir)
    };
    [
        (Place::Tmp, std::path::PathBuf::from("/tmp")),
        (Place::Home, spec.home.clone()),
    ]
    .into_iter()
    .filter(|(_, path)| path != std::path::Path::new("/") && !covered(path))
    .collect()
}

/// Moves aside the protected names the program created or replaced (`.git`, `.envrc`,
/// editor config, ...), so no host tool runs them, and says so.
fn sweep_leftovers(invocation: &settings::Invocation) {
    let run = format!(
        "{}-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or(0),
        std::process::id()
    );
    let found = leftovers::sweep(&invocation.watches, &run);
    if !found.is_empty() {
        report::after_program_output();
    }
    for leftover in found {
        report::warning(&match leftover {
            leftovers::Leftover::Moved { from, to } => format!(
                "the program created `{}`, which host tools would run or obey; boxpy moved it to `{}`",
                from.display(),
                to.display()
            ),
            leftovers::Leftover::Stuck { from } => format!(
                "the program created `{}`, which host tools would run or obey, and boxpy could not move it aside: remove it before using git or your editor here",
                from.display()
            ),
            leftovers::Leftover::Unreadable { area } => format!(
                "`{}` could not be read after the run, so boxpy could not check what the program left there: inspect it before using git or your editor there",
                area.display()
            ),
        });
    }
}

/// macOS: renders the invocation to a Seatbelt profile in a private run directory (HOME,
/// TMPDIR, generated files; removed afterwards), applies the limits macOS has, and runs
/// it with the pinned `/usr/bin/sandbox-exec`.
pub(crate) fn execute_seatbelt(
    invocation: &settings::Invocation,
    host: &HostFacts,
) -> Result<exec::Outcome> {
    use sandbox::seatbelt;
    report::notices(invocation);
    if !std::path::Path::new(seatbelt::SANDBOX_EXEC).is_file() {
        return Err(Error::UnsupportedPlatform {
            detail: format!("`{}` is missing", seatbelt::SANDBOX_EXEC),
        });
    }
    let run_directory = tempfile::Builder::new()
        .prefix("boxpy-")
        .tempdir()
        .map_err(|error| anyhow::anyhow!("creating the run directory: {error}"))?;
    // Seatbelt matches resolved paths: `$TMPDIR` is under `/var`, really `/private/var`.
    let run_path = run_directory
        .path()
        .canonicalize()
        .map_err(|error| anyhow::anyhow!("resolving the run directory: {error}"))?;
    let facts = host::macos::probe(
        &invocation.spec,
        run_path,
        host::macos::run_tag(),
        host.boxpy_executable.clone(),
    );
    let command = seatbelt::render(&invocation.spec, &facts)?;
    if invocation.output.verbose {
        report::verbose_choices(&invocation.choices);
        report::verbose_command(&seatbelt::to_shell_script(&command));
    }
    let options = exec::ExecOptions {
        io: exec::Io::inherited(invocation.output.json),
        env: exec::Environment::of_process(),
        observer: cli_observer(),
        output_limit: invocation.policy.limits.output,
        timeout: invocation.policy.limits.timeout,
        seccomp: None,
        channel: None,
        count_discarded: Vec::new(),
    };
    let enforcement = exec::limits::plan(&invocation.policy.limits, host.uid);
    for (key, reason) in &enforcement.unenforced {
        report::warning(&format!("`{key}` is not enforced on this host: {reason}"));
    }
    if invocation.spec.tmp_size.is_some() {
        report::warning(
            "`filesystem.tmp_size` is not enforced on macOS: TMPDIR is a private directory on the disk, not a tmpfs",
        );
    }
    let outcome = exec::run_seatbelt(&command, &options, &enforcement);
    drop(run_directory);
    sweep_leftovers(invocation);
    outcome
}

/// Prints a run's notices through `report`, as they arrive.
fn cli_observer() -> exec::Observer {
    exec::Observer::new(|notice| {
        match notice {
        exec::Notice::OutputLimitReached { limit } => report::output_limit_notice(*limit),
        exec::Notice::OutputHeldOpen => report::warning(
            "a process that left the program's process group (a new session) still holds its output; boxpy stopped reading it",
        ),
    }
    })
}

pub(crate) fn linux_host() -> Result<HostFacts> {
    if !cfg!(target_os = "linux") {
        return Err(Error::UnsupportedPlatform {
            detail: if cfg!(target_os = "macos") {
                "this command needs Linux (bubblewrap) for now; on macOS `run`, `exec` and `render` use Seatbelt"
            } else {
                "boxpy needs Linux (bubblewrap) or macOS (Seatbelt)"
            }
            .to_owned(),
        });
    }
    let host = HostFacts::probe(std::env::var_os("PATH").as_deref());
    if host.bwrap.is_none() {
        return Err(Error::BwrapMissing);
    }
    Ok(host)
}

/// The compiled seccomp filter, when the spec asks for one.
pub(crate) fn seccomp_program(invocation: &settings::Invocation) -> Result<Option<Vec<u8>>> {
    if !invocation.spec.seccomp {
        return Ok(None);
    }
    #[cfg(target_os = "linux")]
    {
        let arch = sandbox::seccomp::Arch::host().ok_or_else(|| Error::UnsupportedPlatform {
            detail: "no seccomp filter for this architecture".to_owned(),
        })?;
        let program = sandbox::seccomp::build_filter(arch).map_err(|error| {
            Error::Internal(anyhow::anyhow!("building the seccomp filter: {error}"))
        })?;
        Ok(Some(program))
    }
    #[cfg(not(target_os = "linux"))]
    {
        Ok(None)
    }
}
