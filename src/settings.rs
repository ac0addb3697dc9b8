//! Command-line flags + environment + policy file -> one resolved [`Invocation`].
//!
//! This is where paths are checked against the host (mount sources exist, the workdir is a
//! directory, the script exists) so that everything after it — rendering — is pure.

pub mod discovery;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::cli::{ColorChoice, SandboxArgs};
use crate::error::{Error, Result};
use crate::hints::catalogue::HostFactsDisclosure;
use crate::host::HostFacts;
use crate::policy::raw::RawMount;
use crate::policy::units::parse_duration;
use crate::policy::validate::{mount_from_raw, normalize};
use crate::policy::{self, LoadContext, Mount, NetworkMode, Policy, PolicySource};
use crate::sandbox::{gate, EnvValue, SandboxSpec};
use crate::venv::{self, Interpreter};

/// What the interpreter is asked to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// A script file (absolute on the host) and its arguments.
    Script(PathBuf, Vec<OsString>),
    /// `-c CODE`.
    Code(String, Vec<OsString>),
    /// `-m MODULE`.
    Module(String, Vec<OsString>),
    /// `-`: the program is read from stdin.
    Stdin(Vec<OsString>),
    /// The bare interpreter with these arguments (`boxpy render`).
    Interpreter(Vec<OsString>),
    /// Any program and its arguments (`boxpy exec -- CMD ARGS`); a bare name is looked up
    /// on the sandbox's PATH.
    Command(OsString, Vec<OsString>),
}

/// How boxpy presents its own output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputOptions {
    pub json: bool,
    pub quiet: bool,
    pub verbose: bool,
    pub color: ColorChoice,
}

/// One fully resolved run.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The protected names of each writable place as they were before the run, for the
    /// sweep after it ([`crate::leftovers::sweep`]).
    pub watches: Vec<crate::leftovers::Watch>,
    /// Printed before every run: what the user asked for that weakens the sandbox (a
    /// read-only mount of the home or a directory guarding it).
    pub notices: Vec<String>,
    /// Printed with `-v`: which policy and which venv were used, and why.
    pub choices: Vec<String>,
    /// Printed as warnings once the run is resolved: what the lookups skipped.
    pub warnings: Vec<String>,
    pub policy: Policy,
    /// Where to append the audit line (`--audit-log`, else `[audit] log`).
    pub audit_log: Option<PathBuf>,
    pub spec: SandboxSpec,
    pub program: Program,
    pub output: OutputOptions,
    /// Whether reports may tell host facts (which host paths exist): the CLI reports to
    /// the local user; a remote caller (the service, MCP) sets
    /// [`HostFactsDisclosure::Withheld`].
    pub host_facts: HostFactsDisclosure,
}

impl Invocation {
    /// The run as the diagnosis reads it ([`crate::hints::diagnose`]).
    pub(crate) fn diagnosis_run(&self) -> crate::hints::diagnose::Run<'_> {
        use crate::hints::catalogue::ProgramKind;
        let program = match &self.program {
            Program::Script(path, _) => ProgramKind::Script(path),
            Program::Code(..) => ProgramKind::Code,
            Program::Stdin(_) => ProgramKind::Stdin,
            Program::Module(..) => ProgramKind::Module,
            Program::Interpreter(_) => ProgramKind::Other,
            Program::Command(command, arguments) => {
                crate::hints::diagnose::command_kind(command, arguments)
            }
        };
        crate::hints::diagnose::Run {
            spec: &self.spec,
            policy: &self.policy,
            program,
            code: match &self.program {
                Program::Code(code, _) => Some(code),
                _ => None,
            },
            host_facts: &self.host_facts,
        }
    }
}

/// The caller's environment, as a function so tests can supply their own.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<OsString>;

/// Resolves flags, environment and policy into an [`Invocation`].
pub fn resolve(
    args: &SandboxArgs,
    program: Program,
    host: &HostFacts,
    env: EnvLookup,
) -> Result<Invocation> {
    let cwd = current_directory()?;
    let flag_workdir = args.workdir.as_ref().map(|dir| normalize(&cwd.join(dir)));
    let (policy, trust, policy_choice) = resolve_policy_explained(args, host, env)?;
    let mut choices = vec![policy_choice.why.clone()];
    // Whether the policy is the user's own word: a flag, `$BOXPY_POLICY`, the user's
    // config, a shipped policy, or a project file they trusted (not one boxpy merely found,
    // which may have been written by anyone, or by an earlier run).
    let policy_is_users_word = matches!(
        trust,
        policy::TrustStatus::Stated | policy::TrustStatus::Recorded { .. }
    );
    trust.into_result()?;

    let protected_names = policy.filesystem.protected_names();
    let requested_workdir = flag_workdir
        .as_deref()
        .unwrap_or(&policy.filesystem.workdir)
        .to_path_buf();
    let keeper = Gatekeeper {
        home: gate::resolved_home(host.home.as_deref()),
        protected_names: &protected_names,
        writable: writable_places(&cwd, &requested_workdir, &policy),
    };
    if args.mkdir && requested_workdir.symlink_metadata().is_err() {
        // The gate first: `-w ~/.ssh/x --mkdir` must not leave `~/.ssh/x` behind.
        let parent = requested_workdir
            .parent()
            .map(|parent| cwd.join(parent))
            .and_then(|parent| parent.canonicalize().ok());
        if let (Some(parent), Some(name)) = (parent, requested_workdir.file_name()) {
            let candidate = parent.join(name);
            gate::check(
                keeper.request(&candidate, &candidate, gate::Role::Workdir, true),
                keeper.home.as_deref(),
            )
            .map_err(|refusal| Error::Workdir {
                path: candidate.clone(),
                reason: refusal.reason,
                hint: Some(refusal.hint),
            })?;
        }
        std::fs::create_dir(&requested_workdir).map_err(|source| Error::WorkdirIo {
            path: requested_workdir.clone(),
            action: crate::error::WorkdirAction::Create,
            source,
        })?;
    }
    let mut notices = Vec::new();
    // Mounts of the home or a directory guarding it that the user asked for by name: the
    // default credential patterns do not cover what they asked to see.
    let mut guarded = Vec::new();
    let workdir = keeper.workdir(&requested_workdir)?;
    let certificates = certificate_mounts(&policy, args, env);
    let mut mounts = if certificates.is_empty() {
        keeper.mounts(&policy, policy_is_users_word, &mut notices, &mut guarded)?
    } else {
        let mut with_certificates = policy.clone();
        with_certificates.filesystem.read_only.extend(certificates);
        keeper.mounts(
            &with_certificates,
            policy_is_users_word,
            &mut notices,
            &mut guarded,
        )?
    };
    // The interpreter is looked up here (its errors still come after the mounts' and the
    // hidden paths'): whether its venv uses fonts decides the font mounts.
    let (resolved, search) = find_interpreter(
        args,
        &policy,
        &cwd,
        &workdir,
        host,
        env,
        policy_choice.search.as_ref(),
    );
    // Packages from elsewhere (`PYTHONPATH`) are not looked through either.
    let packages_elsewhere = policy.env.set.contains_key("PYTHONPATH")
        || policy.env.pass.iter().any(|name| name == "PYTHONPATH")
        || args
            .env
            .iter()
            .any(|entry| entry.split('=').next() == Some("PYTHONPATH"));
    let fonts = match (&resolved, &program) {
        // `exec` runs any program, which may lay out text (`dot`, `fc-list`).
        (_, Program::Command(..)) | (Err(_), _) => true,
        _ if packages_elsewhere => true,
        (Ok(interpreter), _) => interpreter.venv.as_deref().is_none_or(venv::uses_fonts),
    };
    mounts.extend(system_caches(&keeper, &mounts, fonts)?);
    // bwrap runs on the host as the caller (checked after the gate, so a mount the gate
    // refuses, `--rw /`, is refused for what it is): never one a run could have written (an
    // absolute PATH entry inside the project, `PATH_add bin` in an `.envrc`).
    if let Some(bwrap) = &host.bwrap {
        let resolved = bwrap.canonicalize().unwrap_or_else(|_| bwrap.clone());
        if let Some(place) = keeper
            .writable
            .iter()
            .find(|place| resolved.starts_with(place))
        {
            return Err(Error::Usage {
                message: format!(
                    "refusing to run `{}`: it lies in `{}`, where a sandboxed run can write",
                    resolved.display(),
                    place.display()
                ),
                hint: Some(
                    "install bubblewrap as a system package, take that directory out of PATH, or point `BOXPY_BWRAP` at a bwrap outside the project".to_owned(),
                ),
            });
        }
    }
    let mut hidden_patterns = policy.filesystem.hidden_patterns();
    hidden_patterns.extend(args.hide.iter().cloned());
    let (mut hidden, watches, covered) = protect_and_hide(
        &workdir,
        &mut mounts,
        &protected_names,
        &hidden_patterns,
        &args.hide,
        &guarded,
    )?;

    let interpreter = match (resolved, &program) {
        (Ok(interpreter), _) => {
            choices.push(explain_interpreter(&interpreter, &cwd, &search));
            interpreter
        }
        // `exec` runs any program: without a Python to find (and no venv asked for by
        // name), it runs with no venv on the sandbox's PATH.
        (Err(Error::InterpreterNotFound { .. }), Program::Command(command, _))
            if args.venv.is_none() && policy.python.venv.is_none() =>
        {
            choices.push(format!(
                "no venv (no Python found: `{}` runs from the sandbox's PATH)",
                PathBuf::from(command).display()
            ));
            venv::Interpreter {
                venv: None,
                executable: PathBuf::from(command),
                read_only_paths: Vec::new(),
                version: None,
                origin: venv::Origin::Path,
                warnings: Vec::new(),
            }
        }
        (Err(error), _) => return Err(error),
    };
    // The interpreter's directories pass the gate like every other mount: a planted
    // `pyvenv.cfg` must not get the home directory shown.
    for path in &interpreter.read_only_paths {
        keeper.admit(path, path, gate::Role::ReadOnly, false, "the interpreter")?;
    }
    // The home's credentials inside a mount that shows more than them (`--ro ~`,
    // `--ro ~/.cargo`) read as empty; only a guard the user names itself is shown.
    cover_home_credentials(
        keeper.home.as_deref(),
        &workdir,
        &mounts,
        &interpreter.read_only_paths,
        &mut hidden,
    );

    check_destinations(&mounts, host)?;
    let (command, script_mount) = command_line(&program, &interpreter, &workdir, &mounts, &cwd)?;
    let home = private_home(host.home.as_deref());
    let mut environment = program_environment(&policy, args, &interpreter, &home, env)?;
    let mut files = covered;
    if !policy.guards.deny_imports.is_empty() {
        let directory = crate::hints::guards::GUARD_DIRECTORY;
        files.push((
            Path::new(directory).join("sitecustomize.py"),
            crate::hints::guards::sitecustomize(&policy.guards.deny_imports).into_bytes(),
        ));
        let python_path = match environment.iter().find(|(name, _)| name == "PYTHONPATH") {
            Some((_, EnvValue::Literal(existing))) => format!("{directory}:{existing}"),
            _ => directory.to_owned(),
        };
        environment.retain(|(name, _)| name != "PYTHONPATH");
        environment.push(("PYTHONPATH".to_owned(), EnvValue::Literal(python_path)));
    }

    let warnings = interpreter.warnings.clone();
    let spec = SandboxSpec {
        workdir,
        mounts,
        interpreter,
        script_mount,
        network: policy.network.mode,
        proxy: (policy.network.mode == NetworkMode::Proxy)
            .then(crate::sandbox::ProxyPorts::default),
        tmp_size: policy.filesystem.tmp_size,
        limits: policy.limits.clone(),
        home,
        env: environment,
        command,
        files,
        seccomp: seccomp_available(),
        disable_userns: true,
        hidden,
        protected_names,
        fonts,
    };
    let audit_log = args
        .audit_log
        .as_ref()
        .map(|path| normalize(&cwd.join(path)))
        .or_else(|| policy.audit_log.clone());
    Ok(Invocation {
        watches,
        notices,
        choices,
        warnings,
        audit_log,
        policy,
        spec,
        program,
        output: OutputOptions {
            json: args.json,
            quiet: args.quiet,
            verbose: args.verbose,
            color: args.color,
        },
        host_facts: HostFactsDisclosure::Local {
            caller_home: host.home.clone(),
        },
    })
}

/// The read-only mounts of [`policy::defaults::SYSTEM_CACHES`] that exist here as real
/// directories no other user can write, each through the gate; none where a mount of the
/// policy or the flags already shows that place (theirs wins), and none of the font
/// caches when the run does not use `fonts` ([`SandboxSpec::fonts`]).
fn system_caches(keeper: &Gatekeeper, mounts: &[Mount], fonts: bool) -> Result<Vec<Mount>> {
    use std::os::unix::fs::MetadataExt;
    let mut found = Vec::new();
    for path in policy::defaults::SYSTEM_CACHES {
        if !fonts && policy::defaults::FONT_CACHES.contains(path) {
            continue;
        }
        let path = Path::new(path);
        let usable = path
            .symlink_metadata()
            .is_ok_and(|metadata| metadata.is_dir() && metadata.mode() & 0o002 == 0);
        let covered = mounts
            .iter()
            .any(|mount| path.starts_with(&mount.dest) || mount.dest.starts_with(path));
        if !usable || covered {
            continue;
        }
        keeper.admit(
            path,
            path,
            gate::Role::ReadOnly,
            false,
            crate::sandbox::SYSTEM_CACHE_ORIGIN,
        )?;
        found.push(Mount {
            source: path.to_path_buf(),
            dest: path.to_path_buf(),
            optional: true,
            writable: false,
            origin: crate::sandbox::SYSTEM_CACHE_ORIGIN.to_owned(),
        });
    }
    Ok(found)
}

impl Invocation {
    /// Where a sandboxed run can write on the host (the workdir and the writable mounts):
    /// where an earlier run could have planted a symlink for boxpy to follow.
    pub fn writable_areas(&self) -> Vec<PathBuf> {
        let mut areas = vec![self.spec.workdir.clone()];
        areas.extend(
            self.spec
                .mounts
                .iter()
                .filter(|mount| mount.writable)
                .map(|mount| mount.source.clone()),
        );
        areas
    }
}

/// `boxpy policy check FILE`: the policy's workdir (when it names one) and every mount
/// through the same gate, with the same resolution and real destinations, as
/// `boxpy run -P FILE` from `cwd`: a policy `run` would refuse is refused with the same
/// error. Returns the notices `run` would print.
pub fn check_policy_mounts(policy: &Policy, cwd: &Path, host: &HostFacts) -> Result<Vec<String>> {
    let protected_names = policy.filesystem.protected_names();
    let keeper = Gatekeeper {
        home: gate::resolved_home(host.home.as_deref()),
        protected_names: &protected_names,
        writable: writable_places(cwd, &cwd.join(&policy.filesystem.workdir), policy),
    };
    // An unnamed workdir is wherever `run` is started: not the policy's to answer for.
    if policy.filesystem.workdir.is_absolute() {
        keeper.workdir(&policy.filesystem.workdir)?;
    }
    let (mut notices, mut guarded) = (Vec::new(), Vec::new());
    keeper.mounts(policy, true, &mut notices, &mut guarded)?;
    // The policy's venv or interpreter, when it names one that exists: a base prefix that
    // would expose the home is refused, and its directories pass the gate, as in `run`.
    if policy.python.venv.is_some() || policy.python.interpreter.is_some() {
        let resolved = venv::resolve(&venv::Choice {
            flag_venv: None,
            policy_venv: policy.python.venv.as_deref(),
            policy_interpreter: policy.python.interpreter.as_deref(),
            virtual_env: None,
            conda_prefix: None,
            dot_venv: None,
            path_variable: None,
            home: host.home.as_deref(),
        });
        match resolved {
            Ok(interpreter) => {
                for path in &interpreter.read_only_paths {
                    keeper.admit(path, path, gate::Role::ReadOnly, false, "the interpreter")?;
                }
            }
            // Not created yet: nothing to check until it exists.
            Err(
                Error::VenvNotFound { .. }
                | Error::VenvConfigUnreadable { .. }
                | Error::InterpreterNotFound { .. }
                | Error::InterpreterNotExecutable { .. },
            ) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(notices)
}

/// Passes a mount a command adds on its own (nbexec's `--cwd`) through the gate, like the
/// policy's and the flags' mounts; `Ok` carries the notice to print, if any.
pub fn admit_mount(invocation: &mut Invocation, mount: Mount, home: Option<&Path>) -> Result<()> {
    let role = if mount.writable {
        gate::Role::ReadWrite
    } else {
        gate::Role::ReadOnly
    };
    let keeper = Gatekeeper {
        home: gate::resolved_home(home),
        protected_names: &invocation.spec.protected_names,
        writable: invocation.writable_areas(),
    };
    let admission = keeper.admit(
        &mount.source,
        &mount.dest,
        role,
        mount.origin.starts_with("--"),
        &mount.origin,
    )?;
    if let Some(notice) = admission.notice {
        invocation
            .notices
            .push(format!("{notice} (`{}`)", mount.origin));
    }
    invocation.spec.mounts.push(mount);
    let caller_home = keeper.home.clone();
    let spec = &mut invocation.spec;
    cover_home_credentials(
        caller_home.as_deref(),
        &spec.workdir,
        &spec.mounts,
        &spec.interpreter.read_only_paths,
        &mut spec.hidden,
    );
    Ok(())
}

/// Adds to `hidden` the covers of the home's credentials that the workdir, `mounts` and
/// the interpreter's paths show without naming them ([`hide_home_credentials`]): the
/// caller's home, and every other home such a place contains (`--ro /home` as root shows
/// every user's home: their `~/.ssh` reads as empty too).
fn cover_home_credentials(
    home: Option<&Path>,
    workdir: &Path,
    mounts: &[Mount],
    interpreter_paths: &[PathBuf],
    hidden: &mut Vec<crate::sandbox::HiddenPath>,
) {
    let mut areas: Vec<(PathBuf, PathBuf)> = vec![(workdir.to_path_buf(), workdir.to_path_buf())];
    areas.extend(
        mounts
            .iter()
            .map(|mount| (mount.source.clone(), mount.dest.clone())),
    );
    areas.extend(
        interpreter_paths
            .iter()
            .map(|path| (path.clone(), path.clone())),
    );
    // A home matters when a place shows it or something inside it.
    let shown = |candidate: &Path| {
        areas
            .iter()
            .any(|(source, _)| candidate.starts_with(source) || source.starts_with(candidate))
    };
    let mut homes: Vec<PathBuf> = home.map(Path::to_path_buf).into_iter().collect();
    for root in ["/home", "/Users"] {
        let root = Path::new(root);
        // Only `/home` itself, a place above it, or a home (`/home/NAME`) can contain one.
        let relevant = areas
            .iter()
            .any(|(source, _)| source.parent() == Some(root) || root.starts_with(source));
        if !relevant {
            continue;
        }
        if let Ok(entries) = std::fs::read_dir(root) {
            homes.extend(
                entries
                    .flatten()
                    .take(GUARD_ENTRIES)
                    .map(|entry| entry.path())
                    .filter(|path| path.is_dir()),
            );
        }
    }
    homes.push(PathBuf::from("/root"));
    homes.sort();
    homes.dedup();
    let entries: Vec<crate::sandbox::HiddenPath> = homes
        .iter()
        // The caller's own, always: one of its guards may be a link to a place shown.
        .filter(|candidate| Some(candidate.as_path()) == home || shown(candidate))
        .flat_map(|home| hide_home_credentials(home, &areas))
        .collect();
    for entry in entries {
        // Inside a directory already covered there is nothing to cover (and no place to
        // mount a cover on: the empty directory is read-only).
        let covered_above = hidden.iter().any(|other| {
            other.directory && entry.dest.starts_with(&other.dest) && entry.dest != other.dest
        });
        if !covered_above && !hidden.contains(&entry) {
            hidden.push(entry);
        }
    }
}

fn current_directory() -> Result<PathBuf> {
    std::env::current_dir().map_err(|source| Error::WorkdirIo {
        path: PathBuf::from("."),
        action: crate::error::WorkdirAction::ReadCurrent,
        source,
    })
}

/// Where the policy comes from: `--policy`, else the lookup order (SPEC §4).
pub fn policy_source(args: &SandboxArgs, host: &HostFacts, env: EnvLookup) -> Result<PolicySource> {
    Ok(policy_source_explained(args, host, env)?.source)
}

/// How the policy was found: the source, the `-v` line saying which and why, and the
/// upward search it looked along (none when `--policy` or `$BOXPY_POLICY` named it).
#[derive(Debug, Clone)]
pub struct PolicyChoice {
    pub source: PolicySource,
    pub why: String,
    pub search: Option<discovery::SearchPath>,
}

/// [`policy_source`] and how it was found.
pub fn policy_source_explained(
    args: &SandboxArgs,
    host: &HostFacts,
    env: EnvLookup,
) -> Result<PolicyChoice> {
    let cwd = current_directory()?;
    let flag_workdir = args.workdir.as_ref().map(|dir| normalize(&cwd.join(dir)));
    if let Some(policy) = &args.policy {
        let source = PolicySource::from_argument(policy, &cwd);
        let why = format!(
            "policy {} (from `--policy`)",
            describe_source(&source, &cwd)
        );
        return Ok(PolicyChoice {
            source,
            why,
            search: None,
        });
    }
    let env_policy = env("BOXPY_POLICY")
        .map(|value| value.to_string_lossy().into_owned())
        .filter(|value| !value.is_empty());
    if let Some(value) = &env_policy {
        let source = PolicySource::from_argument(value, &cwd);
        let why = format!(
            "policy {} (from `$BOXPY_POLICY`)",
            describe_source(&source, &cwd)
        );
        return Ok(PolicyChoice {
            source,
            why,
            search: None,
        });
    }
    let config = user_config_home(host, env);
    let search = discovery::search_path(
        flag_workdir.as_deref().unwrap_or(&cwd),
        host.home.as_deref(),
    );
    let caller = discovery::Caller::current();
    let source = PolicySource::discover(
        None,
        &search.directories,
        config.as_deref(),
        &cwd,
        &|path| discovery::owned_by_caller_or_root(path, caller),
    );
    let named = describe_source(&source, &cwd);
    let why = match &source {
        PolicySource::Workdir(path) | PolicySource::PyProject(path) => format!(
            "policy {named} (found at {}; a project's policy cannot widen the sandbox until `boxpy policy trust`)",
            discovery::relative_to(path, &cwd)
        ),
        PolicySource::File(_) => format!("policy {named} (your config file)"),
        PolicySource::Builtin(_) => format!(
            "policy {named} (built in: no `boxpy.toml` nor `[tool.boxpy]` found; {})",
            discovery::describe_stop(&search.stop)
        ),
    };
    Ok(PolicyChoice {
        source,
        why,
        search: Some(search),
    })
}

fn describe_source(source: &PolicySource, cwd: &Path) -> String {
    match source {
        PolicySource::Builtin(name) => format!("`{name}`"),
        PolicySource::PyProject(path) => {
            format!("`[tool.boxpy]` of `{}`", discovery::relative_to(path, cwd))
        }
        PolicySource::File(path) | PolicySource::Workdir(path) => {
            format!("`{}`", discovery::relative_to(&cwd.join(path), cwd))
        }
    }
}

/// The `-v` line saying which interpreter [`find_interpreter`] found, and why.
pub fn explain_interpreter(
    interpreter: &Interpreter,
    cwd: &Path,
    search: &discovery::SearchPath,
) -> String {
    let origin = &interpreter.origin;
    match (&interpreter.venv, origin) {
        (Some(venv), venv::Origin::WorkdirDotVenv) => format!(
            "venv `{}` (found at {})",
            venv.display(),
            discovery::find_dot_venv(search)
                .map(|found| discovery::relative_to(&found, cwd))
                .unwrap_or_else(|| discovery::relative_to(venv, cwd))
        ),
        (Some(venv), _) => format!("venv `{}` (from {})", venv.display(), origin.describe()),
        (None, venv::Origin::Path) => format!(
            "interpreter `{}` (`python3` on PATH: no venv named and no `.venv` found; {})",
            interpreter.executable.display(),
            discovery::describe_stop(&search.stop)
        ),
        (None, _) => format!(
            "interpreter `{}` (from {})",
            interpreter.executable.display(),
            origin.describe()
        ),
    }
}

/// The interpreter `run` uses with this policy from `cwd` (the upward search for `.venv`
/// starts at the workdir when `--workdir` or the policy names one, else at `cwd`), and the
/// search path it looked along.
pub fn find_interpreter(
    args: &SandboxArgs,
    policy: &Policy,
    cwd: &Path,
    workdir: &Path,
    host: &HostFacts,
    env: EnvLookup,
    known: Option<&discovery::SearchPath>,
) -> (Result<Interpreter>, discovery::SearchPath) {
    let environment_choice = EnvironmentChoice::read(env);
    let start = if args.workdir.is_some() || policy.filesystem.workdir != cwd {
        workdir
    } else {
        cwd
    };
    // The policy's search, when it started here, is this one: searched once.
    let search = match known {
        Some(search)
            if search.start.as_path() == start.canonicalize().as_deref().unwrap_or(start) =>
        {
            search.clone()
        }
        _ => discovery::search_path(start, host.home.as_deref()),
    };
    let dot_venv = discovery::find_dot_venv(&search);
    let resolved = venv::resolve(&environment_choice.choice(
        args.venv.as_deref(),
        policy,
        dot_venv.as_deref(),
        host.home.as_deref(),
    ));
    (resolved, search)
}

/// Refuses a mount whose destination bwrap would have to create inside a read-only bind
/// (`--ro SRC:/usr/share/x` where `/usr/share/x` does not exist): bwrap fails there with a
/// bare "Can't mkdir"; boxpy says which flag or key and what to do, before anything runs.
fn check_destinations(mounts: &[Mount], host: &HostFacts) -> Result<()> {
    // Where each read-only place shows inside -> what it shows from the host (a later
    // entry for the same place wins). Each mount looks its ancestors up, nearest first:
    // linear in the mounts, where comparing every pair was quadratic (2,000 `read_only`
    // entries took half a second).
    let mut read_only: std::collections::HashMap<PathBuf, PathBuf> =
        std::collections::HashMap::new();
    for entry in &host.system_entries {
        match entry {
            crate::host::SystemEntry::Directory(path) => {
                read_only.insert(path.clone(), path.clone());
            }
            crate::host::SystemEntry::Symlink { path, target } => {
                let target = normalize(&path.parent().unwrap_or(Path::new("/")).join(target));
                read_only.insert(path.clone(), target);
            }
        }
    }
    read_only.extend(
        mounts
            .iter()
            .filter(|mount| !mount.writable)
            .map(|mount| (mount.dest.clone(), mount.source.clone())),
    );
    for mount in mounts {
        let Some((inside, shown)) = mount
            .dest
            .ancestors()
            .skip(1)
            .find_map(|ancestor| read_only.get_key_value(ancestor))
        else {
            continue;
        };
        let relative = mount.dest.strip_prefix(inside).unwrap_or(&mount.dest);
        if shown.join(relative).symlink_metadata().is_ok() {
            continue;
        }
        return Err(Error::MountRefused {
            key: mount.origin.clone(),
            path: mount.source.clone(),
            reason: format!(
                "its destination `{}` does not exist inside `{}`, which the sandbox shows read-only, so it cannot be created there",
                mount.dest.display(),
                inside.display()
            ),
            hint: Some(format!(
                "choose a destination outside `{}` (e.g. `{}:/mnt/{}`), or one that already exists there",
                inside.display(),
                mount.source.display(),
                mount
                    .dest
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "data".to_owned())
            )),
        });
    }
    Ok(())
}

/// The caller's environment variables that choose a venv (`$VIRTUAL_ENV`, conda's), and
/// `PATH`, read once.
pub struct EnvironmentChoice {
    virtual_env: Option<PathBuf>,
    conda_prefix: Option<PathBuf>,
    conda_is_base: bool,
    path_variable: Option<OsString>,
}

impl EnvironmentChoice {
    pub fn read(env: EnvLookup) -> EnvironmentChoice {
        let conda_prefix = env("CONDA_PREFIX").map(PathBuf::from);
        let conda_is_base = conda_prefix
            .as_deref()
            .is_some_and(|prefix| venv::conda_is_base(prefix, env("CONDA_DEFAULT_ENV").as_deref()));
        EnvironmentChoice {
            virtual_env: env("VIRTUAL_ENV").map(PathBuf::from),
            conda_prefix,
            conda_is_base,
            path_variable: env("PATH"),
        }
    }

    /// The inputs of [`venv::resolve`].
    pub fn choice<'a>(
        &'a self,
        flag_venv: Option<&'a Path>,
        policy: &'a Policy,
        dot_venv: Option<&'a Path>,
        home: Option<&'a Path>,
    ) -> venv::Choice<'a> {
        venv::Choice {
            flag_venv,
            policy_venv: policy.python.venv.as_deref(),
            policy_interpreter: policy.python.interpreter.as_deref(),
            virtual_env: self.virtual_env.as_deref(),
            conda_prefix: self
                .conda_prefix
                .as_deref()
                .map(|prefix| (prefix, self.conda_is_base)),
            dot_venv,
            path_variable: self.path_variable.as_deref(),
            home,
        }
    }
}

/// `$XDG_CONFIG_HOME`, else `~/.config`.
pub fn user_config_home(host: &HostFacts, env: EnvLookup) -> Option<PathBuf> {
    env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|path| path.is_absolute())
        .or_else(|| host.home.as_ref().map(|home| home.join(".config")))
}

/// The policy after lookup, `extends` and flags (what `boxpy policy show` prints); a
/// policy found in the working directory that widens the sandbox without being trusted is
/// refused ([`policy::trust`]).
pub fn resolve_policy(args: &SandboxArgs, host: &HostFacts, env: EnvLookup) -> Result<Policy> {
    let (policy, trust) = resolve_policy_assessed(args, host, env)?;
    trust.into_result()?;
    Ok(policy)
}

/// [`resolve_policy`] without the refusal: the policy and how far it is trusted.
pub fn resolve_policy_assessed(
    args: &SandboxArgs,
    host: &HostFacts,
    env: EnvLookup,
) -> Result<(Policy, policy::TrustStatus)> {
    let (policy, trust, _) = resolve_policy_explained(args, host, env)?;
    Ok((policy, trust))
}

/// [`resolve_policy_assessed`] and how the policy was found ([`PolicyChoice`]).
pub fn resolve_policy_explained(
    args: &SandboxArgs,
    host: &HostFacts,
    env: EnvLookup,
) -> Result<(Policy, policy::TrustStatus, PolicyChoice)> {
    let cwd = current_directory()?;
    let context = LoadContext {
        cwd: cwd.clone(),
        home: host.home.clone(),
    };
    let trust_context = trust_context(args, host, env);
    let choice = policy_source_explained(args, host, env)?;
    let (mut policy, trust) = policy::load_assessed(&choice.source, &context, &trust_context)?;
    apply_flags(&mut policy, args, &cwd, host.home.as_deref())?;
    if let Some(workdir) = &args.workdir {
        policy.filesystem.workdir = normalize(&cwd.join(workdir));
    }
    Ok((policy, trust, choice))
}

/// Where the trust store is, and which policy keys the flags replace.
pub fn trust_context(args: &SandboxArgs, host: &HostFacts, env: EnvLookup) -> policy::TrustContext {
    let state_home = env("XDG_STATE_HOME").map(PathBuf::from);
    let mut overridden = Vec::new();
    for (flag, key) in [
        (args.network.is_some(), "network.mode"),
        // `--network none|localhost|full` drops the policy's host rules (they mean
        // something only in proxy mode); `--network proxy` keeps them.
        (
            args.network.is_some_and(|mode| mode != NetworkMode::Proxy),
            "network.allow",
        ),
        (
            args.network.is_some_and(|mode| mode != NetworkMode::Proxy),
            "network.deny",
        ),
        (args.timeout.is_some(), "limits.timeout"),
        (args.cpu.is_some(), "limits.cpu"),
        (args.memory.is_some(), "limits.memory"),
        (args.workdir.is_some(), "filesystem.workdir"),
    ] {
        if flag {
            overridden.push(key);
        }
    }
    policy::TrustContext {
        store: policy::trust::store_path(state_home.as_deref(), host.home.as_deref()),
        overridden,
    }
}

/// Flags override the policy.
fn apply_flags(
    policy: &mut Policy,
    args: &SandboxArgs,
    cwd: &Path,
    home: Option<&Path>,
) -> Result<()> {
    let usage = |message: String, hint: &str| Error::Usage {
        message,
        hint: Some(hint.to_owned()),
    };
    for (texts, writable, origin) in [
        (&args.read_only, false, "--ro"),
        (&args.read_write, true, "--rw"),
    ] {
        for text in texts {
            let mount = mount_from_raw(&RawMount::parse_short(text), origin, writable, cwd, home)
                .map_err(|message| {
                usage(message, "write `--ro PATH` or `--ro PATH:/ABSOLUTE/DEST`")
            })?;
            if writable {
                policy.filesystem.read_write.push(mount);
            } else {
                policy.filesystem.read_only.push(mount);
            }
        }
    }
    apply_network_flags(policy, args)?;
    if let Some(text) = &args.timeout {
        policy.limits.timeout = Some(
            crate::policy::validate::timeout_flag(text)
                .map_err(|(message, hint)| usage(message, &hint))?,
        );
    }
    if let Some(text) = &args.cpu {
        let cpu = parse_duration(text)
            .map_err(|message| usage(format!("--cpu: {message}"), "e.g. `--cpu 1m`"))?;
        if cpu.is_zero() {
            return Err(usage(
                format!("--cpu `{text}` must be longer than zero"),
                "e.g. `--cpu 1m`; the kernel counts CPU time in whole seconds",
            ));
        }
        policy.limits.cpu = Some(cpu);
    }
    if let Some(text) = &args.memory {
        policy.limits.memory = Some(
            crate::policy::validate::memory_flag(text)
                .map_err(|(message, hint)| usage(message, &hint))?,
        );
    }
    Ok(())
}

/// The end of a certificate mount's origin (`--env SSL_CERT_DIR (certificates, proxy
/// mode)`): what [`is_certificate_mount`] knows it by.
const CERTIFICATES: &str = " (certificates, proxy mode)";

/// A mount [`certificate_mounts`] added: read-only, and walked for the hidden credential
/// patterns less the certificate ones ([`certificate_directory_patterns`]).
fn is_certificate_mount(mount: &Mount) -> bool {
    !mount.writable && mount.origin.ends_with(CERTIFICATES)
}

/// Patterns a certificate directory's certificates match (a CA directory is `*.pem` files
/// and hashed `*.0` links to them; hiding them would break TLS).
const CERTIFICATE_PATTERNS: &[&str] = &["*.pem", "*.crt", "*.cer", "*.0"];

/// The patterns hidden in a certificate directory only a certificate variable shows:
/// every hidden pattern except the certificate ones (`id_*`, `*.key`, `.env`, `*.p12`
/// stay hidden), plus `private`, the directory beside the certificates with the host's
/// TLS keys (`/etc/ssl/private` when the variable names `/etc/ssl`). With `*.pem` left
/// out, `/etc/ssl/certs` matches next to nothing: its hundreds of links are not resolved.
fn certificate_directory_patterns(patterns: &[String]) -> Vec<String> {
    patterns
        .iter()
        .filter(|pattern| !CERTIFICATE_PATTERNS.contains(&pattern.as_str()))
        .cloned()
        .chain(std::iter::once("private".to_owned()))
        .collect()
}

/// In `proxy` mode, the certificate files the certificate variables name
/// ([`policy::defaults::CERTIFICATE_VARIABLES`]) when the host's value is passed in
/// (`env.pass`, `--env NAME`) or the user sets one (`--env NAME=PATH`), as an absolute
/// path: read-only mounts where they are, optional (a missing file is skipped), through
/// the gate like every other mount, a directory walked for the hidden credential patterns
/// less the certificate ones ([`certificate_directory_patterns`]). (Not for `env.set`: a repository's policy could name
/// any host file that way without the trust gate seeing a mount.)
fn certificate_mounts(policy: &Policy, args: &SandboxArgs, env: EnvLookup) -> Vec<Mount> {
    if policy.network.mode != NetworkMode::Proxy {
        return Vec::new();
    }
    let mut out: Vec<Mount> = Vec::new();
    for name in policy::defaults::CERTIFICATE_VARIABLES {
        let from_flag = args
            .env
            .iter()
            .rev()
            .find_map(|entry| match entry.split_once('=') {
                Some((key, value)) if key == *name => Some(Some(std::ffi::OsString::from(value))),
                None if entry == name => Some(env(name)),
                _ => None,
            });
        // `ambient`: the host's own value (`env.pass`, `--env NAME`), which the user may
        // never have looked at, as opposed to a path the user wrote (`--env NAME=PATH`).
        let explicit = args
            .env
            .iter()
            .rev()
            .find(|entry| entry.split_once('=').map_or(entry.as_str(), |(key, _)| key) == *name)
            .is_some_and(|entry| entry.contains('='));
        let (value, origin) = match from_flag {
            Some(value) => (value, format!("--env {name}{CERTIFICATES}")),
            None if policy.env.pass.iter().any(|passed| passed == name) => {
                (env(name), format!("env.pass {name}{CERTIFICATES}"))
            }
            None => continue,
        };
        let Some(path) = value.map(PathBuf::from).filter(|path| path.is_absolute()) else {
            continue;
        };
        let path = normalize(&path);
        let home = env("HOME")
            .map(PathBuf::from)
            .filter(|home| home.is_absolute());
        if !explicit && !ambient_certificate(&path, home.as_deref()) {
            continue;
        }
        if !out.iter().any(|mount| mount.source == path) {
            out.push(Mount {
                source: path.clone(),
                dest: path,
                optional: true,
                writable: false,
                origin,
            });
        }
    }
    out
}

/// Whether a certificate variable's host value (`SSL_CERT_DIR=...` where boxpy runs) may be
/// mounted without the user having written the path: resolved through its symlinks, a
/// directory only outside every home (`/home`, `/root`, `/Users`, HOME) and never `/` or
/// one holding HOME; a file only when named as a certificate (`.pem`, `.crt`, `.cer`,
/// `.der`) and not inside a credential directory (`.ssh`, `.aws`, ...). Anything else the
/// user can still show with `--env NAME=PATH` or `--ro`.
fn ambient_certificate(path: &Path, home: Option<&Path>) -> bool {
    const CREDENTIAL_DIRECTORIES: &[&str] = &[
        ".ssh", ".aws", ".gnupg", ".azure", ".kube", ".docker", ".config", ".netrc",
    ];
    let Ok(real) = std::fs::canonicalize(path) else {
        return false;
    };
    let home = home.and_then(|home| std::fs::canonicalize(home).ok());
    if real == Path::new("/") || home.as_ref().is_some_and(|home| home.starts_with(&real)) {
        return false;
    }
    let in_a_home = ["/home", "/root", "/Users"]
        .iter()
        .any(|root| real.starts_with(root))
        || home.as_ref().is_some_and(|home| real.starts_with(home));
    if real.is_dir() {
        return !in_a_home;
    }
    let certificate = real
        .extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| {
            ["pem", "crt", "cer", "der"].contains(&extension.to_ascii_lowercase().as_str())
        });
    let in_credentials = real.components().any(|component| {
        CREDENTIAL_DIRECTORIES
            .iter()
            .any(|name| component.as_os_str() == std::ffi::OsStr::new(name))
    });
    certificate && !in_credentials
}

/// `--network`, `--allow-host` and `--deny-host` over the policy's `[network]`: a
/// `--network` other than `proxy` replaces the mode and drops the policy's host rules;
/// `--allow-host`/`--deny-host` append rules and turn `none` or `localhost` into `proxy`
/// (under `full` they would narrow nothing, so they are refused).
fn apply_network_flags(policy: &mut Policy, args: &SandboxArgs) -> Result<()> {
    use crate::network::rules::Rule;
    if let Some(mode) = args.network {
        policy.network.mode = mode;
        if mode != NetworkMode::Proxy {
            policy.network.allow.clear();
            policy.network.deny.clear();
        }
    }
    let mut added = false;
    for (texts, flag, deny) in [
        (&args.allow_host, "--allow-host", false),
        (&args.deny_host, "--deny-host", true),
    ] {
        for text in texts {
            let rule = Rule::parse(text).map_err(|error| Error::Usage {
                message: format!("{flag} `{text}`: {error}"),
                hint: Some(crate::policy::validate::RULE_HINT.to_owned()),
            })?;
            if policy.network.mode == NetworkMode::Full {
                let under = if args.network.is_some() {
                    "`--network full`"
                } else {
                    "the policy's `network.mode = \"full\"`"
                };
                return Err(Error::Usage {
                    message: format!("{flag} narrows nothing under {under}"),
                    hint: Some(
                        "use `--network proxy`: only the hosts the rules allow are reachable"
                            .to_owned(),
                    ),
                });
            }
            let list = if deny {
                &mut policy.network.deny
            } else {
                &mut policy.network.allow
            };
            if !list.contains(&rule) {
                list.push(rule);
            }
            added = true;
        }
    }
    if added {
        policy.network.mode = NetworkMode::Proxy;
    }
    Ok(())
}

pub use crate::sandbox::PROTECTED_ORIGIN;

/// Protected names at the top of the workdir and each writable mount become read-only
/// mounts; hidden patterns (the defaults and `--hide`) are matched in the workdir and
/// every mount. Returns what to cover inside and the watches for the sweep after the run.
/// What [`protect_and_hide`] found: hidden paths, the sweep's watches, and files covered
/// with a copy (a repository's config without its credentials).
type Covers = (
    Vec<crate::sandbox::HiddenPath>,
    Vec<crate::leftovers::Watch>,
    Vec<(PathBuf, Vec<u8>)>,
);

fn protect_and_hide(
    workdir: &Path,
    mounts: &mut Vec<Mount>,
    protected_names: &[String],
    patterns: &[String],
    flag_patterns: &[String],
    guarded: &[PathBuf],
) -> Result<Covers> {
    // (host source, destination inside, writable) of every place the program sees.
    let mut areas = vec![(workdir.to_path_buf(), workdir.to_path_buf(), true)];
    areas.extend(
        mounts
            .iter()
            .map(|mount| (mount.source.clone(), mount.dest.clone(), mount.writable)),
    );
    let writable: Vec<PathBuf> = areas
        .iter()
        .filter(|(_, _, writable)| *writable)
        .map(|(source, _, _)| source.clone())
        .collect();
    let shown: Vec<PathBuf> = areas.iter().map(|(source, _, _)| source.clone()).collect();
    // Every place a host path appears inside: each area that contains it shows it, so a
    // directory mounted twice (`--ro .:/elsewhere`) is covered at both.
    let inside = |host: &Path| -> Vec<PathBuf> {
        let mut dests: Vec<PathBuf> = areas
            .iter()
            .filter(|(source, _, _)| host.starts_with(source))
            .map(|(source, dest, _)| dest.join(host.strip_prefix(source).unwrap_or(host)))
            .collect();
        dests.sort();
        dests.dedup();
        dests
    };
    let mut watches = Vec::new();
    let mut protected = Vec::new();
    let mut sanitized = Vec::new();
    for area in &writable {
        if !area.is_dir() {
            continue;
        }
        let found = crate::leftovers::protected(area, protected_names, &writable)?;
        protected.extend(found.existing);
        watches.push(found.watch);
        sanitized.extend(found.sanitized);
    }
    let mut hidden = Vec::new();
    // What `hidden` holds, for a constant-time check (thousands of hidden files stay linear).
    let mut covered_once = std::collections::HashSet::new();
    // A certificate directory proxy mode mounts (`SSL_CERT_DIR`) is shown for its
    // certificates: walked for the other patterns, unless another mount shows the same
    // place (then for all of them).
    let certificates_only = |source: &PathBuf| {
        source != workdir
            && !mounts
                .iter()
                .any(|mount| mount.source == *source && !is_certificate_mount(mount))
    };
    let certificate_patterns = certificate_directory_patterns(patterns);
    for (source, _, _) in &areas {
        if !source.is_dir() {
            continue;
        }
        let patterns = if certificates_only(source) {
            &certificate_patterns
        } else if guarded.contains(source) {
            flag_patterns
        } else {
            patterns
        };
        for path in crate::leftovers::hidden(source, patterns, &shown) {
            // A second name for a hidden file, or for a file in a hidden directory (a hard
            // link an earlier run made: `ln .env notes.txt`), would show what it hides.
            if let Some((file, names)) = crate::leftovers::linked_elsewhere(&path) {
                return Err(Error::MountRefused {
                    key: "filesystem.hide".to_owned(),
                    path: file.clone(),
                    reason: format!(
                        "`{}` is hidden from the program but has {names} names (hard links): another name would show it",
                        file.display(),
                    ),
                    hint: Some("find its other names with `find . -samefile FILE` and remove the ones you did not make".to_owned()),
                });
            }
            let directory = path.is_dir();
            for dest in inside(&path) {
                if covered_once.insert((dest.clone(), directory)) {
                    hidden.push(crate::sandbox::HiddenPath { dest, directory });
                }
            }
        }
    }
    for path in protected {
        for dest in inside(&path) {
            // Already read-only where it appears, or hidden there (a cover that must stay
            // on top).
            let shown_read_only = mounts
                .iter()
                .any(|mount| mount.source == path && mount.dest == dest && !mount.writable);
            let hidden_there = hidden
                .iter()
                .any(|entry: &crate::sandbox::HiddenPath| dest.starts_with(&entry.dest));
            if shown_read_only || hidden_there {
                continue;
            }
            mounts.push(Mount {
                source: path.clone(),
                dest,
                optional: true,
                writable: false,
                origin: PROTECTED_ORIGIN.to_owned(),
            });
        }
    }
    // A repository's config files with credentials in them (`actions/checkout`'s
    // extraheader, a password in a remote's URL or a credential helper): the sandbox
    // reads copies without them.
    let mut covered = Vec::new();
    for (config, contents) in sanitized {
        for dest in inside(&config) {
            covered.push((dest, contents.clone()));
        }
    }
    Ok((hidden, watches, covered))
}

/// How deep below a credential guard boxpy looks for a mount inside it (the venv of
/// `~/.cache/pypoetry/virtualenvs/NAME` is three levels down).
const GUARD_DEPTH: usize = 6;
/// How many entries of one directory inside a guard boxpy covers one by one.
const GUARD_ENTRIES: usize = 1024;

/// The covers for the home's credentials ([`gate::HOME_CREDENTIALS`]) that `areas`
/// (host source, destination inside) show without naming them: each guard strictly inside
/// an area is hidden at every destination that shows it (an empty directory or file). A
/// guard that is itself an area was named (the gate asked for the user's word) and stays.
/// When another area lies inside a guard (a venv below `~/.cache`), the guard's other
/// entries are covered one by one, so that area's own mount still has a writable place to
/// land. A guard that is a link is followed: what it points to is covered where it shows.
fn hide_home_credentials(
    home: &Path,
    areas: &[(PathBuf, PathBuf)],
) -> Vec<crate::sandbox::HiddenPath> {
    let mut hidden = Vec::new();
    // Outer guards first, so an inner one (`~/.local/share/uv/credentials`) is left out
    // when an outer one (`~/.local/share`) is covered whole.
    let mut guards: Vec<&str> = gate::HOME_CREDENTIALS.to_vec();
    guards.sort_by_key(|guard| Path::new(guard).components().count());
    for guard in guards {
        let path = home.join(guard);
        // A guard that is a link (`~/.cache -> /data/cache`) guards what it points to,
        // wherever a mount shows that (`--ro /data`).
        let is_link = path
            .symlink_metadata()
            .is_ok_and(|metadata| metadata.file_type().is_symlink());
        let target = is_link
            .then(|| path.canonicalize().ok())
            .flatten()
            .filter(|target| *target != path);
        for path in std::iter::once(path).chain(target) {
            let shown_by_another = areas
                .iter()
                .any(|(source, _)| path.starts_with(source) && path != *source);
            if shown_by_another {
                cover_credential(&path, areas, 0, &mut hidden);
            }
        }
    }
    hidden
}

fn cover_credential(
    path: &Path,
    areas: &[(PathBuf, PathBuf)],
    depth: usize,
    hidden: &mut Vec<crate::sandbox::HiddenPath>,
) {
    let Ok(metadata) = path.symlink_metadata() else {
        return;
    };
    let covered_above = |hidden: &[crate::sandbox::HiddenPath], dest: &Path| {
        hidden
            .iter()
            .any(|other| other.directory && dest.starts_with(&other.dest) && dest != other.dest)
    };
    if areas.iter().any(|(source, _)| source == path) {
        return;
    }
    if metadata.file_type().is_symlink() {
        if let Ok(target) = path.canonicalize() {
            let shown = areas
                .iter()
                .any(|(source, _)| target.starts_with(source) && target != *source);
            if shown && depth < GUARD_DEPTH {
                cover_credential(&target, areas, depth + 1, hidden);
            }
        }
        return;
    }
    let holds_an_area = areas
        .iter()
        .any(|(source, _)| source.starts_with(path) && source != path);
    if holds_an_area && metadata.is_dir() && depth < GUARD_DEPTH {
        if let Ok(entries) = std::fs::read_dir(path) {
            for entry in entries.flatten().take(GUARD_ENTRIES) {
                cover_credential(&entry.path(), areas, depth + 1, hidden);
            }
        }
        return;
    }
    for (source, dest) in areas {
        if let Ok(relative) = path.strip_prefix(source) {
            let entry = crate::sandbox::HiddenPath {
                dest: dest.join(relative),
                directory: metadata.is_dir(),
            };
            if !covered_above(hidden, &entry.dest) && !hidden.contains(&entry) {
                hidden.push(entry);
            }
        }
    }
}

/// Every place a run can write on the host, resolved (links followed): the current
/// directory (the usual workdir of earlier runs), the workdir and every writable mount. A
/// link inside any of them may have been planted, so no path boxpy mounts or writes may
/// pass through one, whatever the order the paths were given in.
fn writable_places(cwd: &Path, workdir: &Path, policy: &Policy) -> Vec<PathBuf> {
    // The current directory counts when it could have been a workdir (`/`, a system
    // directory or the home directory never is one: nothing planted there by a run).
    let could_be_workdir = gate::check(
        gate::Request {
            source: cwd,
            dest: cwd,
            role: gate::Role::Workdir,
            users_word: true,
            protected_names: &[],
        },
        None,
    )
    .is_ok();
    let mut places: Vec<PathBuf> = could_be_workdir
        .then(|| cwd.to_path_buf())
        .into_iter()
        .collect();
    places.extend(workdir.canonicalize().ok());
    places.extend(
        policy
            .filesystem
            .read_write
            .iter()
            .filter_map(|mount| mount.source.canonicalize().ok()),
    );
    places.sort();
    places.dedup();
    places
}

/// The gate with what it needs to know of this run: the home, the protected names, and
/// the places a run can write.
struct Gatekeeper<'a> {
    home: Option<PathBuf>,
    protected_names: &'a [String],
    writable: Vec<PathBuf>,
}

impl Gatekeeper<'_> {
    /// The working directory: resolved, no link planted in a writable place on the way,
    /// and through the gate (never a system directory, the home directory or one guarding
    /// it, nor a protected name).
    fn workdir(&self, path: &Path) -> Result<PathBuf> {
        let canonical = crate::hostfs::resolve_without_planted_links(path, &self.writable)
            .map_err(|refusal| Error::Workdir {
                path: path.to_path_buf(),
                reason: refusal.reason,
                hint: Some(refusal.hint),
            })?;
        let canonical = canonical.ok_or_else(|| Error::Workdir {
            path: path.to_path_buf(),
            reason: "no such file or directory".to_owned(),
            hint: Some(format!(
                "create it, or pass `--mkdir` to let boxpy create `{}`",
                path.display()
            )),
        })?;
        if !canonical.is_dir() {
            return Err(Error::Workdir {
                path: path.to_path_buf(),
                reason: "not a directory".to_owned(),
                hint: None,
            });
        }
        gate::check(
            self.request(&canonical, &canonical, gate::Role::Workdir, true),
            self.home.as_deref(),
        )
        .map_err(|refusal| Error::Workdir {
            path: canonical.clone(),
            reason: refusal.reason,
            hint: Some(refusal.hint),
        })?;
        Ok(canonical)
    }

    fn request<'b>(
        &'b self,
        source: &'b Path,
        dest: &'b Path,
        role: gate::Role,
        users_word: bool,
    ) -> gate::Request<'b> {
        gate::Request {
            source,
            dest,
            role,
            users_word,
            protected_names: self.protected_names,
        }
    }

    /// Passes one resolved path through the gate, as an error that names where it came
    /// from.
    fn admit(
        &self,
        source: &Path,
        dest: &Path,
        role: gate::Role,
        users_word: bool,
        origin: &str,
    ) -> Result<gate::Admission> {
        gate::check(
            self.request(source, dest, role, users_word),
            self.home.as_deref(),
        )
        .map_err(|refusal| Error::MountRefused {
            key: origin.to_owned(),
            path: source.to_path_buf(),
            reason: refusal.reason,
            hint: Some(refusal.hint),
        })
    }

    /// Checks every policy and flag mount: sources exist (unless optional), no link
    /// planted in a writable place is followed, and each passes the gate. Mounts are
    /// returned with their sources resolved: what was checked is what is mounted.
    fn mounts(
        &self,
        policy: &Policy,
        policy_is_users_word: bool,
        notices: &mut Vec<String>,
        guarded: &mut Vec<PathBuf>,
    ) -> Result<Vec<Mount>> {
        let mut mounts = Vec::new();
        let all = policy
            .filesystem
            .read_write
            .iter()
            .chain(policy.filesystem.read_only.iter());
        for mount in all {
            let refused = |refusal: gate::Refusal| Error::MountRefused {
                key: mount.origin.clone(),
                path: mount.source.clone(),
                reason: refusal.reason,
                hint: Some(refusal.hint),
            };
            let canonical =
                match crate::hostfs::resolve_without_planted_links(&mount.source, &self.writable)
                    .map_err(refused)?
                {
                    Some(canonical) => canonical,
                    None if mount.optional => continue,
                    None => {
                        return Err(Error::MountMissing {
                            key: mount.origin.clone(),
                            path: mount.source.clone(),
                        })
                    }
                };
            let users_word = mount.origin.starts_with("--") || policy_is_users_word;
            let role = if mount.writable {
                gate::Role::ReadWrite
            } else {
                gate::Role::ReadOnly
            };
            let admission = self.admit(&canonical, &mount.dest, role, users_word, &mount.origin)?;
            if let Some(notice) = admission.notice {
                notices.push(format!("{notice} (`{}`)", mount.origin));
                guarded.push(canonical.clone());
            }
            let dest = if mount.dest == mount.source {
                canonical.clone()
            } else {
                mount.dest.clone()
            };
            mounts.push(Mount {
                source: canonical,
                dest,
                ..mount.clone()
            });
        }
        Ok(mounts)
    }
}

/// The interpreter's argv and, for a script outside every visible path, the file to mount.
fn command_line(
    program: &Program,
    interpreter: &Interpreter,
    workdir: &Path,
    mounts: &[Mount],
    cwd: &Path,
) -> Result<(Vec<OsString>, Option<PathBuf>)> {
    if let Program::Command(program, rest) = program {
        let mut command = vec![program.clone()];
        command.extend(rest.iter().cloned());
        return Ok((command, None));
    }
    let mut command = vec![interpreter.executable.clone().into_os_string()];
    let mut script_mount = None;
    let rest = match program {
        Program::Script(path, rest) => {
            let absolute = normalize(&cwd.join(path));
            if absolute.symlink_metadata().is_err() {
                return Err(Error::ScriptNotFound { path: path.clone() });
            }
            let visible = absolute.starts_with(workdir)
                || mounts
                    .iter()
                    .any(|mount| mount.source == mount.dest && absolute.starts_with(&mount.source));
            let argument = match absolute.strip_prefix(workdir) {
                Ok(relative) if !relative.as_os_str().is_empty() => relative.to_path_buf(),
                _ => absolute.clone(),
            };
            if !visible {
                script_mount = Some(absolute);
            }
            command.push(argument.into_os_string());
            rest
        }
        Program::Code(code, rest) => {
            command.push("-c".into());
            command.push(code.into());
            rest
        }
        Program::Module(module, rest) => {
            command.push("-m".into());
            command.push(module.into());
            rest
        }
        Program::Stdin(rest) => {
            command.push("-".into());
            rest
        }
        Program::Interpreter(rest) => rest,
        // Handled above; a command has no interpreter to put first.
        Program::Command(_, rest) => rest,
    };
    command.extend(rest.iter().cloned());
    Ok((command, script_mount))
}

/// The sandbox's private HOME: a tmpfs at the caller's home path (hiding the real one),
/// unless that path lies under a read-only system directory; then `/home/boxpy`.
fn private_home(home: Option<&Path>) -> PathBuf {
    const UNUSABLE: &[&str] = &[
        "/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/dev",
        "/sys",
    ];
    match home {
        Some(home)
            if home.is_absolute()
                && home.components().count() >= 2
                && !UNUSABLE.iter().any(|dir| home.starts_with(dir)) =>
        {
            normalize(home)
        }
        _ => PathBuf::from("/home/boxpy"),
    }
}

/// The program's environment: boxpy's own settings, then `env.pass`, `env.set`, `--env`.
pub(crate) fn program_environment(
    policy: &Policy,
    args: &SandboxArgs,
    interpreter: &Interpreter,
    home: &Path,
    env: EnvLookup,
) -> Result<Vec<(String, EnvValue)>> {
    let mut out: Vec<(String, EnvValue)> = Vec::new();
    // Where each name is in `out`: a later setting replaces an earlier one in place, in
    // constant time (20,000 `env.set` entries stay linear).
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut set = |key: &str, value: EnvValue| match index.get(key) {
        Some(&at) => out[at].1 = value,
        None => {
            index.insert(key.to_owned(), out.len());
            out.push((key.to_owned(), value));
        }
    };
    let mut path = String::new();
    if let Some(bin) = interpreter.bin_dir() {
        path.push_str(&bin.to_string_lossy());
        path.push(':');
    }
    path.push_str("/usr/local/bin:/usr/bin:/bin");
    set("PATH", EnvValue::Literal(path));
    set(
        "HOME",
        EnvValue::Literal(home.to_string_lossy().into_owned()),
    );
    set("TMPDIR", EnvValue::Literal("/tmp".to_owned()));
    set("PYTHONUNBUFFERED", EnvValue::Literal("1".to_owned()));
    if let Some(venv) = &interpreter.venv {
        set(
            "VIRTUAL_ENV",
            EnvValue::Literal(venv.to_string_lossy().into_owned()),
        );
    }
    for name in &policy.env.pass {
        if env(name).is_some() {
            set(name, EnvValue::FromHost(name.clone()));
        }
    }
    for (name, value) in &policy.env.set {
        set(name, EnvValue::Literal(value.clone()));
    }
    for entry in &args.env {
        match entry.split_once('=') {
            Some((name, value)) if is_variable_name(name) => {
                set(name, EnvValue::Literal(value.to_owned()))
            }
            None if is_variable_name(entry) => {
                if env(entry).is_some() {
                    set(entry, EnvValue::FromHost(entry.clone()));
                }
            }
            _ => {
                return Err(Error::Usage {
                    message: format!("--env `{entry}` is not KEY or KEY=VALUE"),
                    hint: Some(
                        "e.g. `--env API_URL=http://localhost:8000` or `--env LANG`".to_owned(),
                    ),
                })
            }
        }
    }
    Ok(out)
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether this build can give the sandbox a seccomp filter (Linux on x86_64 or aarch64).
fn seccomp_available() -> bool {
    #[cfg(target_os = "linux")]
    {
        crate::sandbox::seccomp::Arch::host().is_some()
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate directory (F8): the certificate patterns are left out, every other
    /// credential pattern (defaults and `--hide`) stays, and `private` is added.
    #[test]
    fn a_certificate_directory_keeps_every_pattern_but_the_certificate_ones() {
        let mut patterns: Vec<String> = policy::defaults::HIDDEN_DEFAULTS
            .iter()
            .map(|pattern| (*pattern).to_owned())
            .collect();
        patterns.extend(["*.crt".to_owned(), "secret.txt".to_owned()]);
        let kept = certificate_directory_patterns(&patterns);
        for certificate in CERTIFICATE_PATTERNS {
            assert!(
                !kept.iter().any(|pattern| pattern == certificate),
                "{certificate}"
            );
        }
        for credential in ["*.key", "id_rsa*", ".env", "*.p12", "secret.txt", "private"] {
            assert!(
                kept.iter().any(|pattern| pattern == credential),
                "{credential}"
            );
        }
        assert_eq!(kept.len(), patterns.len() - 2 + 1);
    }

    /// `--ro ~` with a venv in `~/.cache/pypoetry/virtualenvs/NAME`: the venv's own mount
    /// keeps a place to land (its guard's other entries are covered one by one), inner
    /// guards under an outer covered one are left out, and a guard the user named stays.
    #[test]
    fn home_credentials_are_covered_around_mounts_inside_them() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().canonicalize().unwrap();
        for file in [
            ".cache/huggingface/token",
            ".cache/pypoetry/virtualenvs/app/pyvenv.cfg",
            ".cache/pypoetry/cache/x",
            ".local/share/uv/credentials/credentials.toml",
            ".ssh/id_rsa",
            ".cargo/credentials.toml",
        ] {
            let path = home.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "secret").unwrap();
        }
        let venv = home.join(".cache/pypoetry/virtualenvs/app");
        let ssh = home.join(".ssh");
        let areas = vec![
            (home.clone(), home.clone()),
            (venv.clone(), venv.clone()),
            (ssh.clone(), PathBuf::from("/keys")),
        ];
        let hidden = hide_home_credentials(&home, &areas);
        let dests: Vec<(String, bool)> = hidden
            .iter()
            .map(|entry| {
                (
                    entry
                        .dest
                        .strip_prefix(&home)
                        .unwrap_or(&entry.dest)
                        .display()
                        .to_string(),
                    entry.directory,
                )
            })
            .collect();
        let expect = |path: &str, directory: bool| {
            assert!(
                dests.contains(&(path.to_owned(), directory)),
                "{path} not covered: {dests:?}"
            );
        };
        expect(".cache/huggingface", true);
        expect(".cache/pypoetry/cache", true);
        expect(".local/share", true);
        expect(".cargo/credentials.toml", false);
        // The venv, the inner uv guard and `~/.ssh`, which the user named (mounted at
        // `/keys`), are left alone.
        for (dest, _) in &dests {
            assert!(
                !dest.starts_with(".cache/pypoetry/virtualenvs")
                    && !dest.starts_with(".ssh")
                    && !dest.starts_with(".local/share/uv")
                    && !dest.starts_with("/keys")
                    && dest != ".cache",
                "{dest} should not be covered: {dests:?}"
            );
        }
    }

    /// `--network`, `--allow-host`, `--deny-host` over a policy's `[network]` (issue 17).
    #[test]
    fn network_flags_over_the_policy() {
        let context = LoadContext {
            cwd: PathBuf::from("/w"),
            home: None,
        };
        let load =
            |name: &str| policy::load(&PolicySource::Builtin(name.into()), &context).unwrap();
        let apply = |name: &str, args: SandboxArgs| -> Result<Policy> {
            let mut policy = load(name);
            apply_network_flags(&mut policy, &args)?;
            Ok(policy)
        };
        let shown = |rules: &[crate::network::rules::Rule]| -> Vec<String> {
            rules.iter().map(ToString::to_string).collect()
        };
        let hosts =
            |list: &[&str]| -> Vec<String> { list.iter().map(|host| (*host).to_owned()).collect() };
        // `--allow-host` turns `none` and `localhost` into `proxy`, appends, keeps one copy.
        for (policy, network) in [("default", None), ("default", Some(NetworkMode::Localhost))] {
            let policy = apply(
                policy,
                SandboxArgs {
                    network,
                    allow_host: hosts(&["pypi.org", "PyPI.org.", "*.example.com:8443"]),
                    ..SandboxArgs::default()
                },
            )
            .unwrap();
            assert_eq!(policy.network.mode, NetworkMode::Proxy);
            assert_eq!(
                shown(&policy.network.allow),
                ["pypi.org", "*.example.com:8443"]
            );
        }
        // `--deny-host` alone: proxy mode, nothing allowed.
        let policy = apply(
            "default",
            SandboxArgs {
                deny_host: hosts(&["evil.example"]),
                ..SandboxArgs::default()
            },
        )
        .unwrap();
        assert_eq!(policy.network.mode, NetworkMode::Proxy);
        assert!(policy.network.allow.is_empty());
        // Added to a proxy policy's own rules.
        let policy = apply(
            "pypi",
            SandboxArgs {
                allow_host: hosts(&["example.org"]),
                ..SandboxArgs::default()
            },
        )
        .unwrap();
        assert_eq!(
            shown(&policy.network.allow),
            ["pypi.org", "files.pythonhosted.org", "example.org"]
        );
        // `--network` other than proxy drops the rules; `--network proxy` keeps them.
        for (network, kept) in [(NetworkMode::None, false), (NetworkMode::Proxy, true)] {
            let policy = apply(
                "pypi",
                SandboxArgs {
                    network: Some(network),
                    ..SandboxArgs::default()
                },
            )
            .unwrap();
            assert_eq!(policy.network.mode, network);
            assert_eq!(!policy.network.allow.is_empty(), kept);
            assert!(policy.network.check().is_ok());
        }
        // Under `full` (the flag's or the policy's) the flags are refused; so is a bad rule.
        for (name, network, flag) in [
            ("default", Some(NetworkMode::Full), "--allow-host"),
            ("net", None, "--deny-host"),
        ] {
            let mut args = SandboxArgs {
                network,
                ..SandboxArgs::default()
            };
            if flag == "--allow-host" {
                args.allow_host = hosts(&["pypi.org"]);
            } else {
                args.deny_host = hosts(&["pypi.org"]);
            }
            let Err(Error::Usage { message, hint }) = apply(name, args) else {
                panic!("{name} {flag}: not refused");
            };
            assert!(
                message.starts_with(&format!("{flag} narrows nothing")),
                "{message}"
            );
            assert!(hint.unwrap().contains("--network proxy"));
        }
        let Err(Error::Usage { message, .. }) = apply(
            "default",
            SandboxArgs {
                allow_host: hosts(&["https://pypi.org"]),
                ..SandboxArgs::default()
            },
        ) else {
            panic!("a URL is not a rule");
        };
        assert!(
            message.starts_with("--allow-host `https://pypi.org`: "),
            "{message}"
        );
    }
}
