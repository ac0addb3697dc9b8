//! `boxpy render`: the sandbox a run would use, as a script to run by hand or as JSON.

use crate::cli::{self, RenderArgs, Target};
use crate::error::{Error, Result};
use crate::host::HostFacts;
use crate::settings::{self, Program};
use crate::{exec, host, report, sandbox};

use super::host_environment;

pub(crate) fn render(args: RenderArgs, color: cli::ColorChoice) -> Result<u8> {
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
        let program = crate::seccomp_program(&invocation)?.unwrap_or_default();
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
