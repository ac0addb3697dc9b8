//! `boxpy render`: the sandbox a run would use, as a script to run by hand or as JSON.

use crate::cli::{self, RenderArgs, Target};
use crate::error::{Error, Result};
use crate::settings::{self, Program};
use crate::{backend, report};

use super::host_environment;

pub(crate) fn render(args: RenderArgs, color: cli::ColorChoice) -> Result<u8> {
    let kind = match args.target {
        Target::Linux => backend::Kind::Bwrap,
        Target::Macos => backend::Kind::Seatbelt,
    };
    let backend = backend::for_target(kind, std::env::var_os("PATH").as_deref());
    let mut invocation = settings::resolve(
        &args.sandbox.to_sandbox_args(color),
        Program::Interpreter(args.args),
        backend.host(),
        &host_environment,
    )?;
    report::resolved_warnings(&invocation);
    // The library caches a run would bind, as they are now (nothing is primed).
    if kind == backend::Kind::Bwrap {
        crate::cache::attach(
            &mut invocation,
            &*backend,
            crate::cache::Priming::Never,
            &host_environment,
            &|_| {},
        )?;
    }
    if args.seccomp_out.is_some() && !backend.capabilities().seccomp {
        return Err(Error::Usage {
            message: "`--seccomp-out` is for `--target linux`: macOS has no seccomp".to_owned(),
            hint: None,
        });
    }
    let launch = backend.render(&invocation)?;
    if let Some(path) = &args.seccomp_out {
        let program = backend.seccomp_program(&invocation)?.unwrap_or_default();
        std::fs::write(path, program).map_err(|error| Error::Usage {
            message: format!("cannot write `{}`: {error}", path.display()),
            hint: None,
        })?;
    }
    if args.sandbox.json {
        report::print_json_value(&launch.to_json());
    } else {
        let seccomp_file = args.seccomp_out.as_ref().map(|path| {
            std::env::current_dir()
                .map(|cwd| cwd.join(path))
                .unwrap_or_else(|_| path.clone())
        });
        report::stdout_text(&launch.to_script(seccomp_file.as_deref()));
    }
    Ok(0)
}
