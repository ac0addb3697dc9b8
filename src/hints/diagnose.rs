//! After a run: what boxpy has to say about how the program ended. A diagnosed traceback
//! ([`super::catalogue`]), or boxpy's own finding (stopped at a limit, killed by a signal),
//! or nothing. Decides only: `report.rs` formats what [`diagnose`] returns.
//!
//! It reads the run through two plain views, so it sits below the modules that make them:
//! [`Run`] (what was asked: the spec, the policy, the program; `settings` builds it from an
//! `Invocation`) and [`Ended`] (how it ended; built from exec's `Outcome`).

use std::ffi::{OsStr, OsString};
use std::path::Path;

use super::catalogue::{Diagnosis, HintContext, HostFactsDisclosure, ProgramKind};
use crate::policy::units::{format_duration, format_size};
use crate::policy::{Limits, Policy};
use crate::sandbox::SandboxSpec;

/// What the diagnosis knows of the run that was asked for.
pub(crate) struct Run<'a> {
    pub spec: &'a SandboxSpec,
    pub policy: &'a Policy,
    /// Which files are the user's: the script, `-c`, stdin, a module.
    pub program: ProgramKind<'a>,
    /// The code of `-c CODE` (Python prints no `-c` source line before 3.13; boxpy has it).
    pub code: Option<&'a str>,
    /// Whether the report may tell facts about the host.
    pub host_facts: &'a HostFactsDisclosure,
}

/// How the program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// It exited with this code.
    Exited(i32),
    /// It was killed by this signal.
    Signaled(i32),
    /// boxpy stopped it at `limits.timeout`.
    TimedOut,
}

impl Ending {
    /// The exit code boxpy returns for it (SPEC §5).
    pub fn exit_code(self) -> u8 {
        match self {
            Ending::Exited(code) => (code & 0xff) as u8,
            Ending::Signaled(signal) => crate::exit::for_signal(signal),
            Ending::TimedOut => crate::exit::TIMEOUT,
        }
    }
}

/// What the diagnosis reads of a finished run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ended<'a> {
    pub ending: Ending,
    /// The end of the program's stderr, where a traceback is.
    pub stderr_tail: &'a [u8],
    /// The memory cgroup counted an out-of-memory kill.
    pub memory_limit_reached: bool,
    /// The program's CPU time, when known.
    pub cpu_ms: Option<u64>,
}

/// What boxpy itself has to say about how the program ended (not a traceback report).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub kind: String,
    pub message: String,
    pub hint: Option<String>,
}

/// Whether the program's CPU time reached `limits.cpu` (so a SIGKILL was the hard limit).
fn cpu_limit_used(limits: &Limits, ended: &Ended) -> bool {
    match (limits.cpu, ended.cpu_ms) {
        (Some(cpu), Some(cpu_ms)) => cpu_ms as u128 + 50 >= cpu.as_millis(),
        _ => false,
    }
}

/// boxpy's own findings: stopped at a limit, killed by a signal.
pub(crate) fn findings(limits: &Limits, ended: &Ended) -> Option<Finding> {
    match ended.ending {
        Ending::TimedOut => Some(Finding {
            kind: "Timeout".to_owned(),
            message: format!(
                "stopped after {} at the wall-clock limit",
                limits.timeout.map(format_duration).unwrap_or_default()
            ),
            hint: Some("raise `limits.timeout` in the policy or pass `--timeout DUR`".to_owned()),
        }),
        Ending::Signaled(signal) => {
            let name = nix::sys::signal::Signal::try_from(signal)
                .map(|signal| signal.as_str().to_owned())
                .unwrap_or_else(|_| format!("signal {signal}"));
            let hint = match signal {
                libc::SIGXCPU => Some(format!(
                    "the program used its CPU-time limit ({}); raise `limits.cpu` or pass `--cpu DUR`",
                    limits.cpu.map(format_duration).unwrap_or_default()
                )),
                libc::SIGXFSZ => Some(format!(
                    "the program wrote a file larger than `limits.file_size` ({}); raise it in the policy",
                    limits.file_size.map(format_size).unwrap_or_default()
                )),
                libc::SIGKILL if ended.memory_limit_reached => Some(format!(
                    "the program reached the memory limit ({}); raise `limits.memory` or pass `--memory SIZE`",
                    limits.memory.map(format_size).unwrap_or_default()
                )),
                // RLIMIT_CPU's hard limit (a second after SIGXCPU, for a program that
                // ignores it) kills with SIGKILL.
                libc::SIGKILL if cpu_limit_used(limits, ended) => Some(format!(
                    "the program used its CPU-time limit ({}) and ignored SIGXCPU; raise `limits.cpu` or pass `--cpu DUR`",
                    limits.cpu.map(format_duration).unwrap_or_default()
                )),
                _ => None,
            };
            Some(Finding {
                kind: "Killed".to_owned(),
                message: format!("the program was killed by {name} (signal {signal})"),
                hint,
            })
        }
        Ending::Exited(_) => None,
    }
}

/// What to report about a finished run: a diagnosed traceback, or boxpy's own finding
/// (stopped at a limit, killed by a signal). `None` for a success, and for a failure
/// without a traceback that boxpy has nothing to add to.
pub(crate) fn diagnose(run: &Run, ended: &Ended) -> Option<Diagnosis> {
    let finding = findings(&run.policy.limits, ended);
    let failed = !matches!(ended.ending, Ending::Exited(0));
    if !failed {
        return None;
    }
    let limit_finding = matches!(ended.ending, Ending::TimedOut)
        || finding
            .as_ref()
            .is_some_and(|finding| finding.hint.is_some());
    let traceback = if limit_finding {
        None
    } else {
        super::traceback::parse(&String::from_utf8_lossy(ended.stderr_tail))
    };
    match (traceback, finding) {
        (Some(traceback), _) => {
            let mut diagnosis =
                run.with_context(|context| super::catalogue::diagnose(&traceback, context));
            // Python does not print `-c` source lines before 3.13; boxpy has the code.
            if let (Some(code), Some(place)) = (run.code, &mut diagnosis.location) {
                if place.file == "<string>" && place.source.is_none() {
                    place.source = place
                        .line
                        .and_then(|line| code.lines().nth(line.saturating_sub(1) as usize))
                        .map(|line| line.trim().to_owned());
                }
            }
            Some(diagnosis)
        }
        (None, Some(finding)) => Some(Diagnosis {
            exception_type: finding.kind,
            message: finding.message,
            location: None,
            raised_at: None,
            cause: None,
            hint: finding.hint,
        }),
        // Threads that fail at once can garble each other's report beyond parsing (a memory
        // bomb's workers all hit MemoryError, or cannot get a thread's stack, together; then
        // the interpreter exits mid-write): the resource a limit ran out of still deserves
        // that limit's hint.
        (None, None) => super::traceback::exhaustion(&String::from_utf8_lossy(ended.stderr_tail))
            .map(|traceback| {
                run.with_context(|context| super::catalogue::diagnose(&traceback, context))
            }),
    }
}

/// Which files of `boxpy exec -- COMMAND ARGS` are the user's: a Python started with
/// `-c`, `-` or `-m` gets the same locations as `run`.
pub(crate) fn command_kind<'a>(command: &OsStr, arguments: &[OsString]) -> ProgramKind<'a> {
    let is_python = Path::new(command)
        .file_name()
        .is_some_and(|name| name.to_string_lossy().starts_with("python"));
    match arguments.first().map(|first| first.to_string_lossy()) {
        Some(first) if is_python && first == "-c" => ProgramKind::Code,
        Some(first) if is_python && first == "-" => ProgramKind::Stdin,
        Some(first) if is_python && first == "-m" => ProgramKind::Module,
        _ => ProgramKind::Other,
    }
}

impl Run<'_> {
    /// Builds the catalogue's view of this run and calls `with` on it. The host is asked
    /// only through the context's closures, as [`HostFactsDisclosure`] allows.
    pub fn with_context<T>(&self, with: impl FnOnce(&HintContext) -> T) -> T {
        let spec = self.spec;
        let host_facts = self.host_facts;
        let caller_home = match host_facts {
            HostFactsDisclosure::Local { caller_home } => caller_home.as_deref(),
            HostFactsDisclosure::Withheld => None,
        };
        let host_path_exists = |path: &Path| crate::host::path_exists_for_report(path, caller_home);
        let context = HintContext {
            workdir: &spec.workdir,
            program: self.program,
            venv: spec.interpreter.venv.as_deref(),
            python: &spec.interpreter.executable,
            network: spec.network,
            mounts: &spec.mounts,
            interpreter_paths: &spec.interpreter.read_only_paths,
            deny_imports: &self.policy.guards.deny_imports,
            limits: &self.policy.limits,
            tmp_size: spec.tmp_size,
            policy_name: &self.policy.name,
            host_path_exists: &host_path_exists,
            workdir_file_exists: &|path: &Path| {
                path.starts_with(&spec.workdir) && path.symlink_metadata().is_ok()
            },
            host_facts,
            hidden: &spec.hidden,
            host_variable_set: &crate::host::variable_set_for_report,
            host_command_exists: &crate::host::command_exists_for_report,
            venv_made_by_uv: spec
                .interpreter
                .venv
                .as_deref()
                .is_some_and(crate::venv::made_by_uv_without_pip),
            venv_is_conda: spec
                .interpreter
                .venv
                .as_deref()
                .is_some_and(crate::venv::is_conda_environment),
        };
        with(&context)
    }
}

#[cfg(test)]
mod tests;
