//! The commands, one module each (uv's shape): each takes its parsed arguments and returns
//! the process's exit status, or an [`Error`] that `lib.rs` reports and maps to one.

mod doctor;
mod policy;
mod render;
mod run;

use std::ffi::OsString;

use crate::cli::{self, Cli, Command};
use crate::error::Result;
use crate::report;

/// Runs the parsed command line's command.
pub(crate) fn dispatch(cli: Cli) -> Result<u8> {
    let color = cli.color;
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Exec(args) => run::exec(args),
        Command::Nbexec(args) => crate::nbexec::run(args, &crate::linux_host()?),
        Command::Policy(command) => policy::policy_command(command, color),
        Command::Render(args) => render::render(args, color),
        Command::Doctor { json, venv } => doctor::doctor(json, venv, color),
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
