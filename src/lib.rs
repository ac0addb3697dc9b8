//! boxpy: run Python you did not write inside a kernel sandbox.
//!
//! `main` parses the command line, resolves settings, dispatches, and maps every outcome
//! to an exit code (SPEC §5). See ARCHITECTURE.md for the module map.

pub(crate) mod audit;
mod backend;
#[doc(hidden)]
pub mod benching;
pub(crate) mod bounded;
pub(crate) mod cache;
pub(crate) mod cli;
mod commands;
pub(crate) mod doctor;
pub(crate) mod error;
pub(crate) mod exec;
pub(crate) mod exit;
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod hints;
pub(crate) mod host;
pub(crate) mod hostfs;
pub(crate) mod leftovers;
pub(crate) mod nbexec;
pub(crate) mod network;
pub(crate) mod policy;
pub(crate) mod report;
pub(crate) mod sandbox;
pub(crate) mod settings;
pub(crate) mod text;
pub(crate) mod units;
pub(crate) mod venv;

use std::ffi::OsString;
use std::process::ExitCode;

use cli::Command;
use error::Error;

/// The whole program; returns the process exit code.
pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    if let Some(code) = backend::helper(&args) {
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
        Command::Cache(command) => command.json(),
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
