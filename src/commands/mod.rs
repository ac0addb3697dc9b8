//! The commands, one module each (uv's shape): each takes its parsed arguments and returns
//! the process's exit status, or an [`Error`] that `lib.rs` reports and maps to one.

mod cache;
mod doctor;
mod policy;
mod render;
mod run;

use std::ffi::OsString;

use crate::backend::{self, Notice};
use crate::cli::{self, Cli, Command};
use crate::error::Result;
use crate::report;
use crate::settings::Invocation;

/// Runs the parsed command line's command.
pub(crate) fn dispatch(cli: Cli) -> Result<u8> {
    let color = cli.color;
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Exec(args) => run::exec(args),
        Command::Nbexec(args) => {
            let backend = backend::select(std::env::var_os("PATH").as_deref())?;
            crate::nbexec::run(*args, &*backend, &print_notice)
        }
        Command::Policy(command) => policy::policy_command(command, color),
        Command::Render(args) => render::render(args, color),
        Command::Doctor { json, venv } => doctor::doctor(json, venv, color),
        Command::Cache(command) => cache::cache(command),
        Command::Completions { shell } => {
            report::stdout_text(&String::from_utf8_lossy(&cli::completions(shell)));
            Ok(0)
        }
    }
}

/// The host's environment, as the commands read it (settings resolve through this).
pub(crate) fn host_environment(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

/// Prints what a backend tells during `invocation`'s run: the launch with `-v`, warnings,
/// the end of the program's output.
pub(crate) fn print_notice(invocation: &Invocation, notice: &Notice<'_>) {
    match notice {
        Notice::Launch(launch) => {
            if invocation.output.verbose {
                report::verbose_choices(&invocation.choices);
                report::verbose_command(&launch.to_verbose());
            }
        }
        Notice::Warning(warning) => report::warning(warning),
        Notice::ProgramOutputEnded => report::after_program_output(),
    }
}
