//! The bubblewrap backend (Linux): the host probed into [`HostFacts`] with `bwrap` found,
//! the pure renderer of `sandbox/bwrap.rs`, boxpy's init as PID 1 applying the limits
//! `exec::limits::plan` decides once bwrap is running, the seccomp filter, and the counts
//! of what the run left in the places the sandbox discards.

use std::path::{Path, PathBuf};

use super::{Backend, Capabilities, Enforcement, Launch, Limit, Notice, Session};
use crate::error::{Error, Result};
use crate::exec::{self, Outcome};
use crate::host::HostFacts;
use crate::sandbox::{self, InitSetup};
use crate::settings::Invocation;

/// Sandboxes made with bubblewrap.
pub(crate) struct Bwrap {
    pub(super) host: HostFacts,
}

impl Bwrap {
    /// Probes the host; `bwrap` must be there.
    pub(crate) fn probe(path_variable: Option<&std::ffi::OsStr>) -> Result<Bwrap> {
        let host = HostFacts::probe(path_variable);
        if host.bwrap.is_none() {
            return Err(Error::BwrapMissing);
        }
        Ok(Bwrap { host })
    }
}

impl Backend for Bwrap {
    fn host(&self) -> &HostFacts {
        &self.host
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            channel: Ok(()),
            seccomp: true,
        }
    }

    /// The seccomp filter needs a rule table for this architecture.
    fn validate(&self, invocation: &Invocation) -> Result<()> {
        // Elsewhere the filter is not built (`render --target linux` on a Mac).
        let buildable = !cfg!(target_os = "linux") || seccomp_arch_known();
        if invocation.spec.seccomp && !buildable {
            return Err(Error::UnsupportedPlatform {
                detail: "no seccomp filter for this architecture".to_owned(),
            });
        }
        Ok(())
    }

    fn limits(&self, invocation: &Invocation) -> Vec<Limit> {
        let limits = &invocation.policy.limits;
        let mut planned =
            super::planned_limits(&exec::limits::plan_without_cgroups(limits, self.host.uid));
        // At run time a delegated cgroup takes over from the rlimit.
        for limit in &mut planned {
            if let Enforcement::By(mechanism) = &mut limit.enforcement {
                match limit.key.as_str() {
                    "limits.memory" => *mechanism = format!("a memory cgroup, or {mechanism}"),
                    "limits.processes" => *mechanism = format!("a pids cgroup, or {mechanism}"),
                    _ => {}
                }
            }
        }
        planned.extend(super::own_limits(limits));
        if invocation.spec.tmp_size.is_some() {
            planned.push(Limit {
                key: "filesystem.tmp_size".to_owned(),
                enforcement: Enforcement::By("the size of /tmp's tmpfs".to_owned()),
            });
        }
        planned
    }

    fn render(&self, invocation: &Invocation) -> Result<Launch> {
        // Changes nothing on the host: no cgroups, so every limit shows as its rlimit.
        let setup = InitSetup::Inline(
            exec::limits::plan_without_cgroups(&invocation.policy.limits, self.host.uid).rlimits,
        );
        Ok(Launch::Bwrap(sandbox::bwrap::render(
            &invocation.spec,
            &self.host,
            &setup,
        )))
    }

    fn seccomp_program(&self, invocation: &Invocation) -> Result<Option<Vec<u8>>> {
        if !invocation.spec.seccomp {
            return Ok(None);
        }
        self.validate(invocation)?;
        #[cfg(target_os = "linux")]
        {
            let Some(arch) = sandbox::seccomp::Arch::host() else {
                return Ok(None);
            };
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

    fn run(&self, invocation: &Invocation, session: Session<'_>) -> Result<Outcome> {
        let observer = session.observer;
        let session_runtime = session.runtime;
        let host = &self.host;
        // The limits are planned (cgroups created) once bwrap is running; the init waits
        // for them before it starts the program. A retry plans them again, and warns once.
        let warned = std::cell::Cell::new(false);
        let plan = || {
            let enforcement = exec::limits::plan(&invocation.policy.limits, host.uid);
            if !warned.replace(true) {
                for warning in super::planned_limits(&enforcement)
                    .iter()
                    .filter_map(Limit::warning)
                {
                    observer(&Notice::Warning(warning));
                }
            }
            enforcement
        };
        let setup = InitSetup::Deferred;
        let launch = Launch::Bwrap(sandbox::bwrap::render(&invocation.spec, host, &setup));
        observer(&Notice::Launch(&launch));
        let Launch::Bwrap(command) = launch else {
            unreachable!("the bwrap backend renders bwrap commands")
        };
        let options = session.exec_options(
            invocation,
            self.seccomp_program(invocation)?,
            discarded_places(invocation),
        );
        let result = match exec::run_in(session_runtime, &command, &options, plan) {
            // bwrap older than 0.8 has no `--disable-userns`: say so, and run without it (the
            // seccomp filter still refuses unshare/clone with namespace flags).
            Err(Error::SandboxSetup { detail }) if detail.contains("--disable-userns") => {
                observer(&Notice::Warning(
                    "this bwrap is older than 0.8: it cannot forbid nested user namespaces with `--disable-userns` (relying on the seccomp filter), and the sandbox gets no user namespace of its own, so the run's share of your inotify budget is not bounded; install bubblewrap 0.8 or newer".to_owned(),
                ));
                let mut spec = invocation.spec.clone();
                spec.disable_userns = false;
                exec::run_in(
                    session_runtime,
                    &sandbox::bwrap::render(&spec, host, &setup),
                    &options,
                    plan,
                )
            }
            result => result,
        };
        super::sweep_leftovers(invocation, observer);
        result
    }
}

/// Whether the seccomp rule table knows this host's architecture.
fn seccomp_arch_known() -> bool {
    #[cfg(target_os = "linux")]
    {
        sandbox::seccomp::Arch::host().is_some()
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// The places the sandbox discards whose leftover files the init counts (issue 15: a
/// program that writes its results to `~` or `/tmp` exits 0 and they are gone): the
/// private `/tmp` and HOME, each unless a mount of the user's covers it (then it is not the
/// sandbox's tmpfs). Nothing with `-q` (no notice to print) unless `--json` wants it.
fn discarded_places(invocation: &Invocation) -> Vec<(exec::discarded::Place, PathBuf)> {
    use exec::discarded::Place;
    if invocation.output.quiet && !invocation.output.json {
        return Vec::new();
    }
    let spec = &invocation.spec;
    let covered = |path: &Path| {
        spec.mounts
            .iter()
            .any(|mount| path.starts_with(&mount.dest))
            || path.starts_with(&spec.workdir)
    };
    [
        (Place::Tmp, PathBuf::from("/tmp")),
        (Place::Home, spec.home.clone()),
    ]
    .into_iter()
    .filter(|(_, path)| path != Path::new("/") && !covered(path))
    .collect()
}
