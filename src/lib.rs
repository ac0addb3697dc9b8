//! boxpy: run Python you did not write inside a kernel sandbox.
//!
//! `main` parses the command line, resolves settings, dispatches, and maps every outcome
//! to an exit code (SPEC §5). See ARCHITECTURE.md for the module map.

pub mod cli;
pub mod doctor;
pub mod error;
pub mod exec;
pub mod exit;
pub mod hints;
pub mod host;
pub mod nbexec;
pub mod policy;
pub mod report;
pub mod sandbox;
pub mod settings;
pub mod venv;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use cli::{Cli, Command, RenderArgs, RunArgs, Target};
use error::{Error, Result};
use host::HostFacts;
use settings::Program;

/// The whole program; returns the process exit code.
pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|arg| arg == sandbox::INIT_ARGUMENT) {
        let code = exec::init::main(&args[2..]);
        return ExitCode::from(u8::try_from(code).unwrap_or(125));
    }
    let args = cli::split_program_arguments(args);
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() {
                exit::SANDBOX_FAILED
            } else {
                0
            });
        }
    };
    let (json, color) = match &cli.command {
        Command::Run(args) => (args.sandbox.json, args.sandbox.color),
        Command::Nbexec(args) => (args.sandbox.json, args.sandbox.color),
        Command::Render(args) => (false, args.sandbox.color),
        Command::Completions { .. } | Command::Doctor => (false, cli::ColorChoice::Auto),
    };
    match dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            if json {
                report::print_json(&report::json_error(&error));
            } else {
                report::error(&error, color);
            }
            ExitCode::from(error.exit_code())
        }
    }
}

fn dispatch(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Run(args) => run(args),
        Command::Nbexec(args) => nbexec::run(args, &linux_host()?),
        Command::Render(args) => render(args),
        Command::Doctor => {
            let host = HostFacts::probe(std::env::var_os("PATH").as_deref());
            let checks = doctor::checks(&host);
            report::doctor(&checks);
            let failed = checks
                .iter()
                .any(|check| check.level == doctor::Level::Error);
            Ok(if failed { exit::SANDBOX_FAILED } else { 0 })
        }
        Command::Completions { shell } => {
            let mut command = Cli::command();
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut command, "boxpy", &mut out);
            report::stdout_text(&String::from_utf8_lossy(&out));
            Ok(0)
        }
    }
}

fn host_environment(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

fn run(args: RunArgs) -> Result<u8> {
    let program = if let Some(code) = args.code {
        Program::Code(code, args.args)
    } else if let Some(module) = args.module {
        Program::Module(module, args.args)
    } else {
        let mut rest = args.args.into_iter();
        match rest.next() {
            Some(first) if first == "-" => Program::Stdin(rest.collect()),
            Some(script) => Program::Script(script.into(), rest.collect()),
            None => return Err(Error::Usage {
                message: "nothing to run".to_owned(),
                hint: Some(
                    "give a script (`boxpy run x.py`), `-c CODE`, `-m MODULE`, or `-` for stdin"
                        .to_owned(),
                ),
            }),
        }
    };
    let host = linux_host()?;
    let invocation = settings::resolve(&args.sandbox, program, &host, &host_environment)?;
    let outcome = execute(&invocation, &host, None)?;
    if invocation.output.json {
        report::print_json(&report::json_outcome(&invocation, &outcome));
    } else {
        report::human_outcome(&invocation, &outcome);
    }
    Ok(report::exit_code(&outcome))
}

/// Renders the invocation's sandbox, applies its limits and runs it (shared by `run` and
/// `nbexec`); `channel` receives the lines a boxpy helper inside writes to its channel.
pub(crate) fn execute(
    invocation: &settings::Invocation,
    host: &HostFacts,
    channel: Option<std::sync::mpsc::Sender<String>>,
) -> Result<exec::Outcome> {
    let command = sandbox::bwrap::render(&invocation.spec, host);
    if invocation.output.verbose {
        report::verbose_command(&sandbox::bwrap::to_shell_lines(&command));
    }
    let options = exec::ExecOptions {
        capture: invocation.output.json,
        output_limit: invocation.policy.limits.output,
        timeout: invocation.policy.limits.timeout,
        seccomp: seccomp_program(invocation)?,
        channel,
    };
    let enforcement = exec::limits::plan(&invocation.policy.limits, host.uid);
    for (key, reason) in &enforcement.unenforced {
        report::warning(&format!("`{key}` is not enforced on this host: {reason}"));
    }
    match exec::run(&command, &options, &enforcement) {
        // bwrap older than 0.8 has no `--disable-userns`: say so, and run without it (the
        // seccomp filter still refuses unshare/clone with namespace flags).
        Err(Error::SandboxSetup { detail }) if detail.contains("--disable-userns") => {
            report::warning(
                "this bwrap is older than 0.8 and cannot forbid nested user namespaces with `--disable-userns`; relying on the seccomp filter",
            );
            let mut spec = invocation.spec.clone();
            spec.disable_userns = false;
            exec::run(&sandbox::bwrap::render(&spec, host), &options, &enforcement)
        }
        result => result,
    }
}

fn linux_host() -> Result<HostFacts> {
    if !cfg!(target_os = "linux") {
        return Err(Error::UnsupportedPlatform {
            detail: "`boxpy run` needs Linux (bubblewrap); macOS support is planned".to_owned(),
        });
    }
    let host = HostFacts::probe(std::env::var_os("PATH").as_deref());
    if host.bwrap.is_none() {
        return Err(Error::BwrapMissing);
    }
    Ok(host)
}

fn render(args: RenderArgs) -> Result<u8> {
    if args.target == Target::Macos {
        return Err(Error::UnsupportedPlatform {
            detail: "rendering a Seatbelt profile (`--target macos`) is not implemented yet"
                .to_owned(),
        });
    }
    let host = HostFacts::probe(std::env::var_os("PATH").as_deref());
    let invocation = settings::resolve(
        &args.sandbox,
        Program::Interpreter(args.args),
        &host,
        &host_environment,
    )?;
    let command = sandbox::bwrap::render(&invocation.spec, &host);
    if let Some(path) = &args.seccomp_out {
        let program = seccomp_program(&invocation)?.unwrap_or_default();
        std::fs::write(path, program).map_err(|error| Error::Usage {
            message: format!("cannot write `{}`: {error}", path.display()),
            hint: None,
        })?;
    }
    report::stdout_text(&sandbox::bwrap::to_shell_lines(&command));
    Ok(0)
}

/// The compiled seccomp filter, when the spec asks for one.
fn seccomp_program(invocation: &settings::Invocation) -> Result<Option<Vec<u8>>> {
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
