//! Entry points for `benches/own_cost.rs` (case 2 of `bench/run`): each phase of boxpy's
//! own start-up work as a run does it. Not part of boxpy's interface.

use std::ffi::OsString;

use crate::cli::SandboxArgs;
use crate::host::HostFacts;
use crate::settings::{self, Invocation, Program};

/// A resolved `boxpy run -c CODE` and the host it was resolved on.
pub struct Resolved {
    host: HostFacts,
    invocation: Invocation,
}

/// Parses a command line as `main` does (the fast path for the everyday `run` line).
pub fn parse(argv: Vec<OsString>) {
    std::hint::black_box(crate::cli::parse(argv).expect("a valid command line"));
}

/// Probes the host and resolves `boxpy run -c CODE` in the current directory.
pub fn resolve(code: &str) -> Resolved {
    let host = HostFacts::probe(std::env::var_os("PATH").as_deref());
    let env = |name: &str| std::env::var_os(name);
    let invocation = settings::resolve(
        &SandboxArgs::default(),
        Program::Code(code.into(), Vec::new()),
        &host,
        &env,
    )
    .expect("a run that resolves");
    Resolved { host, invocation }
}

/// Renders the resolved run's bwrap command.
pub fn render(resolved: &Resolved) {
    std::hint::black_box(crate::sandbox::bwrap::render(
        &resolved.invocation.spec,
        &resolved.host,
        &crate::sandbox::InitSetup::default(),
    ));
}

/// Compiles the seccomp filter for this architecture (Linux; nothing elsewhere).
pub fn seccomp() {
    #[cfg(target_os = "linux")]
    {
        let arch = crate::sandbox::seccomp::Arch::host().expect("a supported architecture");
        std::hint::black_box(crate::sandbox::seccomp::build_filter(arch).expect("the filter"));
    }
}
