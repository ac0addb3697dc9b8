//! boxpy: run Python you did not write inside a kernel sandbox.
//!
//! `main` parses the command line, resolves settings, dispatches, and maps every outcome
//! to an exit code (SPEC §5). See ARCHITECTURE.md for the module map.

pub mod audit;
pub mod bounded;
pub mod cli;
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

use clap::CommandFactory;

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
    match dispatch(cli, color) {
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

fn dispatch(cli: Cli, color: cli::ColorChoice) -> Result<u8> {
    match cli.command {
        Command::Run(args) => run(args),
        Command::Nbexec(args) => nbexec::run(args, &linux_host()?),
        Command::Exec(args) => {
            let mut command = args.command.into_iter();
            let program = command.next().ok_or_else(|| Error::Usage {
                message: "nothing to run".to_owned(),
                hint: Some(
                    "e.g. `boxpy exec -- sh` or `boxpy exec -- python -m pip list`".to_owned(),
                ),
            })?;
            run_program(&args.sandbox, Program::Command(program, command.collect()))
        }
        Command::Policy(command) => policy_command(command, color),
        Command::Render(args) => render(args, color),
        Command::Doctor { json, venv } => {
            let host = HostFacts::probe(std::env::var_os("PATH").as_deref());
            let (policy, venv) = doctor_policy_and_venv(&host, venv);
            let facts = doctor::DoctorFacts::probe(&host, policy, venv);
            let checks = doctor::checks(&facts);
            report::doctor(&checks, json, color);
            let failed = checks
                .iter()
                .any(|check| check.level == doctor::Level::Error);
            Ok(if failed { exit::SANDBOX_FAILED } else { 0 })
        }
        Command::Completions { shell } => {
            report::stdout_text(&String::from_utf8_lossy(&cli::completions(shell)));
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
fn run_program(sandbox: &cli::SandboxArgs, program: Program) -> Result<u8> {
    let macos = cfg!(target_os = "macos");
    let host = if macos {
        HostFacts::probe(std::env::var_os("PATH").as_deref())
    } else {
        linux_host()?
    };
    let invocation = settings::resolve(sandbox, program, &host, &host_environment)?;
    if let Some(log) = &invocation.audit_log {
        audit::check_destination(log)?;
    }
    let outcome = if macos {
        execute_seatbelt(&invocation, &host)?
    } else {
        execute(&invocation, &host, None)?
    };
    if invocation.output.json {
        report::print_json(&report::json_outcome(&invocation, &outcome));
    } else {
        report::human_outcome(&invocation, &outcome);
    }
    let code = report::exit_code(&outcome);
    audit::log_run(&invocation, &outcome, code);
    Ok(code)
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
        capture: invocation.output.json,
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
fn execute_seatbelt(invocation: &settings::Invocation, host: &HostFacts) -> Result<exec::Outcome> {
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
        capture: invocation.output.json,
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

/// The policy and the venv `run` would use in this directory, for the doctor: the same
/// lookups, and the same errors, as `run`.
fn doctor_policy_and_venv(
    host: &HostFacts,
    flag: Option<std::path::PathBuf>,
) -> (
    std::result::Result<String, doctor::Refusal>,
    std::result::Result<doctor::VenvFacts, doctor::Refusal>,
) {
    let refusal = |error: Error| {
        let mut what = error.summary();
        for cause in error.causes() {
            what.push_str(": ");
            what.push_str(&cause);
        }
        let hints = error.hints();
        doctor::Refusal {
            what,
            hint: (!hints.is_empty()).then(|| hints.join("; ")),
        }
    };
    let args = cli::SandboxArgs {
        venv: flag,
        ..cli::SandboxArgs::default()
    };
    let cwd = match std::env::current_dir() {
        Ok(cwd) => cwd,
        Err(error) => {
            let refused = doctor::Refusal {
                what: format!("the current directory is not accessible: {error}"),
                hint: None,
            };
            return (Err(refused.clone()), Err(refused));
        }
    };
    let (policy, policy_result, search) =
        match settings::resolve_policy_explained(&args, host, &host_environment)
            .and_then(|(policy, trust, choice)| trust.into_result().map(|()| (policy, choice)))
        {
            Ok((policy, choice)) => (policy, Ok(choice.why), choice.search),
            Err(error) => {
                // The venv is still checked, as the built-in default would find it.
                let fallback = cli::SandboxArgs {
                    policy: Some("default".to_owned()),
                    venv: args.venv.clone(),
                    ..cli::SandboxArgs::default()
                };
                match settings::resolve_policy(&fallback, host, &host_environment) {
                    Ok(policy) => (policy, Err(refusal(error)), None),
                    Err(_) => {
                        let refused = refusal(error);
                        return (Err(refused.clone()), Err(refused));
                    }
                }
            }
        };
    let workdir = policy.filesystem.workdir.clone();
    let (interpreter, search) = settings::find_interpreter(
        &args,
        &policy,
        &cwd,
        &workdir,
        host,
        &host_environment,
        search.as_ref(),
    );
    let venv_result = interpreter.map_err(refusal).map(|interpreter| {
        let (has_nbclient, has_ipykernel) = match &interpreter.venv {
            Some(root) => (
                doctor::has_package(root, "nbclient"),
                doctor::has_package(root, "ipykernel"),
            ),
            None => (false, false),
        };
        doctor::VenvFacts {
            why: settings::explain_interpreter(&interpreter, &cwd, &search),
            base: interpreter
                .read_only_paths
                .iter()
                .filter(|path| Some(*path) != interpreter.venv.as_ref())
                .cloned()
                .collect(),
            executable: interpreter.executable,
            venv: interpreter.venv,
            version: interpreter.version,
            has_nbclient,
            has_ipykernel,
            notebooks_here: doctor::notebooks_in(&workdir),
        }
    });
    (policy_result, venv_result)
}

/// `boxpy policy list|show|check|init`.
fn policy_command(command: cli::PolicyCommand, color: cli::ColorChoice) -> Result<u8> {
    let host = HostFacts::probe(std::env::var_os("PATH").as_deref());
    let cwd = std::env::current_dir().map_err(anyhow::Error::from)?;
    match command {
        cli::PolicyCommand::List { workdir } => {
            let args = cli::SandboxArgs {
                workdir,
                ..cli::SandboxArgs::default()
            };
            let in_use = settings::policy_source(&args, &host, &host_environment)?;
            let workdir = args
                .workdir
                .as_ref()
                .map(|dir| cwd.join(dir))
                .unwrap_or(cwd);
            let search = settings::discovery::search_path(&workdir, host.home.as_deref());
            let config = settings::user_config_home(&host, &host_environment);
            report::stdout_text(&report::policy_list(&in_use, &search, config.as_deref()));
            Ok(0)
        }
        cli::PolicyCommand::Show { name, sandbox } => {
            let mut sandbox = sandbox.to_sandbox_args(color);
            if name.is_some() {
                sandbox.policy = name;
            }
            let (policy, trust) =
                settings::resolve_policy_assessed(&sandbox, &host, &host_environment)?;
            report::stdout_text(&format!(
                "{}{}",
                policy::render::trust_comment(&trust),
                policy::render::to_toml(&policy)
            ));
            Ok(0)
        }
        cli::PolicyCommand::Check { file } => {
            let context = policy::LoadContext {
                cwd,
                home: host.home.clone(),
            };
            // A shipped name (`strict`) or a file, as `--policy` takes it.
            let source = policy::PolicySource::from_argument(&file.to_string_lossy(), &context.cwd);
            let loaded = policy::load_with_files(&source, &context)?;
            // Every mount through the gate `run` uses, as `boxpy run -P FILE` would.
            let notices = settings::check_policy_mounts(&loaded.policy, &context.cwd, &host)?;
            let is_socket = |path: &std::path::Path| {
                use std::os::unix::fs::FileTypeExt;
                std::fs::metadata(path).is_ok_and(|metadata| metadata.file_type().is_socket())
            };
            let mut warnings =
                policy::render::warnings(&loaded.policy, host.home.as_deref(), &is_socket);
            warnings.extend(notices);
            // What it would need `boxpy policy trust` for, were it found in a project.
            let trust_context = policy::TrustContext::default();
            if let policy::TrustStatus::Refused { widenings, .. } =
                policy::assess(&loaded, &context, &trust_context)?
            {
                warnings.extend(widenings.iter().map(|widening| {
                    format!(
                        "widens the built-in default (found in a project, it needs `boxpy policy trust`): {widening}"
                    )
                }));
            }
            report::policy_check(&file, &warnings);
            Ok(0)
        }
        cli::PolicyCommand::Trust {
            file,
            workdir,
            revoke,
        } => policy_trust(&host, &cwd, file, workdir, revoke),
        cli::PolicyCommand::Init { force } => {
            let path = cwd.join("boxpy.toml");
            if path.exists() && !force {
                return Err(Error::Usage {
                    message: "`boxpy.toml` already exists".to_owned(),
                    hint: Some("pass `--force` to overwrite it, or edit it; `boxpy policy show` prints what it resolves to".to_owned()),
                });
            }
            let venv = cwd.join(".venv/pyvenv.cfg").is_file().then_some(".venv");
            hostfs::write_atomically(
                &path,
                policy::render::init_template(venv).as_bytes(),
                std::slice::from_ref(&cwd),
            )?;
            report::stdout_text(&format!(
                "wrote `boxpy.toml`{}; check it with `boxpy policy check boxpy.toml`\n",
                if venv.is_some() {
                    " (using `.venv`)"
                } else {
                    ""
                }
            ));
            Ok(0)
        }
    }
}

/// `boxpy policy trust [FILE] [--revoke]`: records (or forgets) a project's policy file in
/// the trust store.
fn policy_trust(
    host: &HostFacts,
    cwd: &std::path::Path,
    file: Option<std::path::PathBuf>,
    workdir: Option<std::path::PathBuf>,
    revoke: bool,
) -> Result<u8> {
    let args = cli::SandboxArgs::default();
    let store = settings::trust_context(&args, host, &host_environment)
        .store
        .ok_or_else(|| Error::Usage {
            message: "there is nowhere to keep the trust store: neither `$XDG_STATE_HOME` nor `$HOME` is set".to_owned(),
            hint: Some("set `XDG_STATE_HOME` to an absolute directory".to_owned()),
        })?;
    let workdir = workdir
        .map(|dir| cwd.join(dir))
        .unwrap_or_else(|| cwd.to_path_buf());
    let source = match file {
        Some(file)
            if file
                .file_name()
                .is_some_and(|name| name == "pyproject.toml") =>
        {
            policy::PolicySource::PyProject(cwd.join(file))
        }
        Some(file) => policy::PolicySource::Workdir(cwd.join(file)),
        None => match policy::PolicySource::discover(
            None,
            &settings::discovery::search_path(&workdir, host.home.as_deref()).directories,
            None,
            cwd,
        ) {
            source @ (policy::PolicySource::Workdir(_) | policy::PolicySource::PyProject(_)) => {
                source
            }
            _ => {
                return Err(Error::Usage {
                    message: format!(
                        "no `boxpy.toml` nor `[tool.boxpy]` in `pyproject.toml` in `{}`",
                        workdir.display()
                    ),
                    hint: Some("name the file: `boxpy policy trust FILE`".to_owned()),
                })
            }
        },
    };
    // Trust is for the user's own files: one another user owns (however it came to be
    // where the user looks) could be swapped for a copy that borrows the trust.
    if let Some(path) = source.file().filter(|path| {
        path.exists()
            && !settings::discovery::owned_by_caller_or_root(
                path,
                settings::discovery::Caller::current(),
            )
    }) {
        return Err(Error::Usage {
            message: format!(
                "`{}` belongs to another user; boxpy trusts only policies you (or root) own",
                report::escaped_path(path)
            ),
            hint: Some("copy it into a project of yours, read it, and trust the copy".to_owned()),
        });
    }
    let context = policy::LoadContext {
        cwd: cwd.to_path_buf(),
        home: host.home.clone(),
    };
    let store_error = |error: std::io::Error| Error::Usage {
        message: format!(
            "cannot update the trust store `{}`: {error}",
            store.display()
        ),
        hint: Some("check the directory's permissions, or set `XDG_STATE_HOME`".to_owned()),
    };
    if revoke {
        let path = source.file().map(policy::location);
        let forgotten = match &path {
            Some(path) => policy::trust::TrustStore::update(&store, |records| records.forget(path))
                .map_err(store_error)?,
            None => false,
        };
        report::stdout_text(&report::policy_trust_revoked(
            path.as_deref().unwrap_or(cwd),
            forgotten,
        ));
        return Ok(0);
    }
    let loaded = policy::load_with_files(&source, &context)?;
    let trust_context = policy::TrustContext::default();
    let widenings = match policy::assess(&loaded, &context, &trust_context)? {
        policy::TrustStatus::Refused { widenings, .. } => widenings,
        policy::TrustStatus::Stated
        | policy::TrustStatus::Recorded { .. }
        | policy::TrustStatus::NarrowsOnly { .. } => Vec::new(),
    };
    let Some((path, _)) = loaded.files.first() else {
        return Err(Error::Usage {
            message: "a shipped policy needs no trust".to_owned(),
            hint: None,
        });
    };
    if let Some(directory) = path.parent() {
        if policy::resolve_existing(&store).starts_with(directory) {
            return Err(Error::Usage {
                message: format!(
                    "the trust store `{}` lies inside the directory of `{}`, where a sandboxed run can write it",
                    store.display(),
                    path.display()
                ),
                hint: Some(
                    "set `XDG_STATE_HOME` to a directory outside your projects (the default is `~/.local/state`)"
                        .to_owned(),
                ),
            });
        }
    }
    let digest = policy::trust::digest(&loaded.files);
    policy::trust::TrustStore::update(&store, |records| records.record(path, &digest))
        .map_err(store_error)?;
    report::stdout_text(&report::policy_trusted(
        path,
        &digest,
        &widenings,
        &loaded.files[1..],
    ));
    Ok(0)
}

fn linux_host() -> Result<HostFacts> {
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

fn render(args: RenderArgs, color: cli::ColorChoice) -> Result<u8> {
    let host = HostFacts::probe(std::env::var_os("PATH").as_deref());
    let invocation = settings::resolve(
        &args.sandbox.to_sandbox_args(color),
        Program::Interpreter(args.args),
        &host,
        &host_environment,
    )?;
    if args.target == Target::Macos {
        if args.seccomp_out.is_some() {
            return Err(Error::Usage {
                message: "`--seccomp-out` is for `--target linux`: macOS has no seccomp".to_owned(),
                hint: None,
            });
        }
        // Placeholders for what each run creates: its directory and its violation tag.
        use sandbox::seatbelt;
        let facts = host::macos::probe(
            &invocation.spec,
            std::path::PathBuf::from(seatbelt::RUN_DIRECTORY_PLACEHOLDER),
            seatbelt::TAG_PLACEHOLDER.to_owned(),
            host.boxpy_executable.clone(),
        );
        let command = seatbelt::render(&invocation.spec, &facts)?;
        if args.sandbox.json {
            report::print_json_value(&seatbelt::to_json(&command));
        } else {
            report::stdout_text(&seatbelt::to_shell_script(&command));
        }
        return Ok(0);
    }
    // Changes nothing on the host: no cgroups, so every limit shows as its rlimit.
    let setup = sandbox::InitSetup::Inline(
        exec::limits::plan_without_cgroups(&invocation.policy.limits, host.uid).rlimits,
    );
    let command = sandbox::bwrap::render(&invocation.spec, &host, &setup);
    if let Some(path) = &args.seccomp_out {
        let program = seccomp_program(&invocation)?.unwrap_or_default();
        std::fs::write(path, program).map_err(|error| Error::Usage {
            message: format!("cannot write `{}`: {error}", path.display()),
            hint: None,
        })?;
    }
    if args.sandbox.json {
        report::print_json_value(&sandbox::bwrap::to_json(&command));
    } else {
        let seccomp_file = args.seccomp_out.as_ref().map(|path| {
            std::env::current_dir()
                .map(|cwd| cwd.join(path))
                .unwrap_or_else(|_| path.clone())
        });
        report::stdout_text(&sandbox::bwrap::to_bash_script(
            &command,
            seccomp_file.as_deref(),
        ));
    }
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
