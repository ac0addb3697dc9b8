//! `boxpy run` and `boxpy exec`: the program from the command line, resolved, run in the
//! sandbox, reported.

use clap::CommandFactory;

use crate::cli::{self, Cli, ExecArgs, RunArgs};
use crate::error::{Error, Result};
use crate::settings::{self, Program};
use crate::{audit, backend, report};

use super::host_environment;

/// `boxpy exec -- COMMAND [ARGS]...`: a command instead of Python.
pub(crate) fn exec(args: ExecArgs) -> Result<u8> {
    let mut command = args.command.into_iter();
    let program = command.next().ok_or_else(|| Error::Usage {
        message: "nothing to run".to_owned(),
        hint: Some("e.g. `boxpy exec -- sh` or `boxpy exec -- python -m pip list`".to_owned()),
    })?;
    run_program(&args.sandbox, Program::Command(program, command.collect()))
}

/// `boxpy run SCRIPT | -c CODE | -m MODULE | -`.
pub(crate) fn run(args: RunArgs) -> Result<u8> {
    let program = if let Some(code) = args.code {
        Program::Code(code, args.args)
    } else if let Some(module) = args.module {
        Program::Module(module, args.args)
    } else {
        let mut rest = args.args.into_iter();
        match rest.next() {
            Some(first) if first == "-" => Program::Stdin(rest.collect()),
            // clap hands an unknown option over as the script (it allows hyphen values
            // there so program arguments pass untouched): say what it is.
            Some(first) if first.to_string_lossy().starts_with('-') => {
                return Err(unknown_run_option(&first.to_string_lossy()));
            }
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
    run_program(&args.sandbox, program)
}

fn unknown_run_option(option: &str) -> Error {
    let command = Cli::command();
    let run_arguments = command
        .find_subcommand("run")
        .map(|run| run.get_arguments().collect::<Vec<_>>())
        .unwrap_or_default();
    let arguments = || run_arguments.iter().copied().chain(command.get_arguments());
    let names: Vec<String> = arguments()
        .filter_map(|argument| argument.get_long().map(|long| format!("--{long}")))
        .collect();
    let name = option.split('=').next().unwrap_or(option);
    // `--c` for `-c`: the short option the user doubled the dash of.
    let short = name
        .strip_prefix("--")
        .filter(|letter| letter.chars().count() == 1)
        .and_then(|letter| letter.chars().next())
        .filter(|letter| arguments().any(|argument| argument.get_short() == Some(*letter)))
        .map(|letter| format!("-{letter}"));
    let suggestion = short
        .as_deref()
        .or_else(|| cli::close_match(name, names.iter().map(String::as_str)));
    Error::Usage {
        message: format!("unexpected option `{option}` before the script"),
        hint: Some(match suggestion {
            Some(suggestion) => {
                format!("did you mean `{suggestion}`? (`boxpy run --help` lists the options)")
            }
            None => "options go before the script; `boxpy run --help` lists them".to_owned(),
        }),
    }
}

/// `run` and `exec`: resolve, run, report.
pub(crate) fn run_program(sandbox: &cli::SandboxArgs, program: Program) -> Result<u8> {
    let backend = backend::select(std::env::var_os("PATH").as_deref())?;
    let mut invocation = settings::resolve(sandbox, program, backend.host(), &host_environment)?;
    report::resolved_warnings(&invocation);
    let quiet = invocation.output.quiet;
    crate::cache::attach(
        &mut invocation,
        &*backend,
        crate::cache::Priming::IfNeeded,
        &host_environment,
        &|text| report::cache_note(text, quiet),
    )?;
    if let Some(log) = &invocation.audit_log {
        audit::check_destination(log)?;
    }
    report::notices(&invocation);
    let outcome = backend.run(
        &invocation,
        backend::Session {
            channel: None,
            observer: &|notice| super::print_notice(&invocation, notice),
            runtime: crate::exec::Runtime::cli(),
            io: crate::exec::Io::inherited(invocation.output.json),
            env: crate::exec::Environment::of_process(),
            output: report::output_observer(),
        },
    )?;
    if invocation.output.json {
        report::print_json(&report::json_outcome(&invocation, &outcome));
    } else {
        report::human_outcome(&invocation, &outcome);
    }
    let code = report::exit_code(&outcome);
    audit::log_run(&invocation, &outcome, code);
    Ok(code)
}
