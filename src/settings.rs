//! Command-line flags + environment + policy file -> one resolved [`Invocation`].
//!
//! This is where paths are checked against the host (mount sources exist, the workdir is a
//! directory, the script exists) so that everything after it — rendering — is pure.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::cli::{ColorChoice, SandboxArgs};
use crate::error::{Error, Result};
use crate::hints::catalogue::HostFactsDisclosure;
use crate::host::{HostFacts, PROTECTED_PATHS};
use crate::policy::raw::RawMount;
use crate::policy::units::{parse_duration, parse_size};
use crate::policy::validate::{mount_from_raw, normalize};
use crate::policy::{self, LoadContext, Mount, Policy, PolicySource};
use crate::sandbox::{EnvValue, SandboxSpec};
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
    let policy = resolve_policy(args, host, env)?;

    let workdir = check_workdir(
        flag_workdir
            .as_deref()
            .unwrap_or(&policy.filesystem.workdir),
    )?;
    let mut mounts = check_mounts(&policy)?;
    protect_steering_files(&workdir, &mut mounts);

    let virtual_env = env("VIRTUAL_ENV").map(PathBuf::from);
    let path_variable = env("PATH");
    let resolved = venv::resolve(&venv::Choice {
        flag_venv: args.venv.as_deref(),
        policy_venv: policy.python.venv.as_deref(),
        policy_interpreter: policy.python.interpreter.as_deref(),
        virtual_env: virtual_env.as_deref(),
        workdir: &workdir,
        path_variable: path_variable.as_deref(),
        home: host.home.as_deref(),
    });
    let interpreter = match (resolved, &program) {
        (Ok(interpreter), _) => interpreter,
        // `exec` runs any program: without a Python to find (and no venv asked for by
        // name), it runs with no venv on the sandbox's PATH.
        (Err(Error::InterpreterNotFound { .. }), Program::Command(command, _))
            if args.venv.is_none() && policy.python.venv.is_none() =>
        {
            venv::Interpreter {
                venv: None,
                executable: PathBuf::from(command),
                read_only_paths: Vec::new(),
                version: None,
                origin: venv::Origin::Path,
            }
        }
        (Err(error), _) => return Err(error),
    };

    let (command, script_mount) = command_line(&program, &interpreter, &workdir, &mounts, &cwd)?;
    let home = private_home(host.home.as_deref());
    let mut environment = program_environment(&policy, args, &interpreter, &home, env)?;
    let mut files = Vec::new();
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

    let spec = SandboxSpec {
        workdir,
        mounts,
        interpreter,
        script_mount,
        network: policy.network,
        tmp_size: policy.filesystem.tmp_size,
        limits: policy.limits.clone(),
        home,
        env: environment,
        command,
        files,
        seccomp: seccomp_available(),
        disable_userns: true,
    };
    let audit_log = args
        .audit_log
        .as_ref()
        .map(|path| normalize(&cwd.join(path)))
        .or_else(|| policy.audit_log.clone());
    Ok(Invocation {
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

fn current_directory() -> Result<PathBuf> {
    std::env::current_dir().map_err(|error| Error::Workdir {
        path: PathBuf::from("."),
        reason: format!("the current directory is not accessible: {error}"),
    })
}

/// Where the policy comes from: `--policy`, else the lookup order (SPEC §4).
pub fn policy_source(args: &SandboxArgs, host: &HostFacts, env: EnvLookup) -> Result<PolicySource> {
    let cwd = current_directory()?;
    let flag_workdir = args.workdir.as_ref().map(|dir| normalize(&cwd.join(dir)));
    Ok(match &args.policy {
        Some(policy) => PolicySource::from_argument(policy, &cwd),
        None => {
            let env_policy = env("BOXPY_POLICY").map(|value| value.to_string_lossy().into_owned());
            PolicySource::discover(
                env_policy.as_deref(),
                flag_workdir.as_deref().unwrap_or(&cwd),
                user_config_home(host, env).as_deref(),
                &cwd,
            )
        }
    })
}

/// `$XDG_CONFIG_HOME`, else `~/.config`.
pub fn user_config_home(host: &HostFacts, env: EnvLookup) -> Option<PathBuf> {
    env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|path| path.is_absolute())
        .or_else(|| host.home.as_ref().map(|home| home.join(".config")))
}

/// The policy after lookup, `extends` and flags (what `boxpy policy show` prints).
pub fn resolve_policy(args: &SandboxArgs, host: &HostFacts, env: EnvLookup) -> Result<Policy> {
    let cwd = current_directory()?;
    let context = LoadContext {
        cwd: cwd.clone(),
        home: host.home.clone(),
    };
    let mut policy = policy::load(&policy_source(args, host, env)?, &context)?;
    apply_flags(&mut policy, args, &cwd, host.home.as_deref())?;
    if let Some(workdir) = &args.workdir {
        policy.filesystem.workdir = normalize(&cwd.join(workdir));
    }
    Ok(policy)
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
    if let Some(network) = args.network {
        policy.network = network;
    }
    if let Some(text) = &args.timeout {
        policy.limits.timeout =
            Some(parse_duration(text).map_err(|message| {
                usage(format!("--timeout: {message}"), "e.g. `--timeout 30s`")
            })?);
    }
    if let Some(text) = &args.cpu {
        policy.limits.cpu = Some(
            parse_duration(text)
                .map_err(|message| usage(format!("--cpu: {message}"), "e.g. `--cpu 1m`"))?,
        );
    }
    if let Some(text) = &args.memory {
        policy.limits.memory =
            Some(parse_size(text).map_err(|message| {
                usage(format!("--memory: {message}"), "e.g. `--memory 512MiB`")
            })?);
    }
    Ok(())
}

/// Files in the working directory that choose the *next* run's policy and interpreter
/// (`boxpy.toml`, `pyproject.toml`, `.venv`) are mounted read-only when they exist, so a
/// program cannot loosen the policy of the run after it. (It can still create them when
/// they are absent: for untrusted code, pass `--policy` and `--venv` explicitly.)
/// The `origin` of those protective mounts.
pub const STEERING_ORIGIN: &str = "steering file";

fn protect_steering_files(workdir: &Path, mounts: &mut Vec<Mount>) {
    for name in ["boxpy.toml", "pyproject.toml", ".venv"] {
        let path = workdir.join(name);
        let exists = path
            .symlink_metadata()
            .is_ok_and(|metadata| !metadata.file_type().is_symlink());
        if exists && !mounts.iter().any(|mount| mount.dest == path) {
            mounts.push(Mount {
                source: path.clone(),
                dest: path,
                optional: true,
                writable: false,
                origin: STEERING_ORIGIN.to_owned(),
            });
        }
    }
}

/// Directories that must never be the (read-write) working directory.
const FORBIDDEN_WORKDIRS: &[&str] = &[
    "/", "/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/dev",
    "/sys", "/boot", "/var", "/run", "/home",
];

fn check_workdir(path: &Path) -> Result<PathBuf> {
    let canonical = path.canonicalize().map_err(|error| Error::Workdir {
        path: path.to_path_buf(),
        reason: error.to_string().to_lowercase(),
    })?;
    if !canonical.is_dir() {
        return Err(Error::Workdir {
            path: path.to_path_buf(),
            reason: "not a directory".to_owned(),
        });
    }
    if FORBIDDEN_WORKDIRS
        .iter()
        .any(|forbidden| canonical == Path::new(forbidden))
    {
        return Err(Error::Workdir {
            path: canonical,
            reason: "a system directory cannot be mounted read-write into the sandbox".to_owned(),
        });
    }
    Ok(canonical)
}

/// Checks every policy and flag mount: sources exist (unless optional) and nothing
/// exposes a protected path or replaces `/`, `/proc` or `/dev`.
fn check_mounts(policy: &Policy) -> Result<Vec<Mount>> {
    let mut mounts = Vec::new();
    let all = policy
        .filesystem
        .read_write
        .iter()
        .chain(policy.filesystem.read_only.iter());
    for mount in all {
        let canonical = match mount.source.canonicalize() {
            Ok(canonical) => canonical,
            Err(_) if mount.optional => continue,
            Err(_) => {
                return Err(Error::MountMissing {
                    key: mount.origin.clone(),
                    path: mount.source.clone(),
                })
            }
        };
        let refuse = |reason: &str| Error::MountRefused {
            key: mount.origin.clone(),
            path: mount.source.clone(),
            reason: reason.to_owned(),
        };
        if canonical == Path::new("/") || mount.dest == Path::new("/") {
            return Err(refuse("mounting `/` would expose the whole host"));
        }
        for managed in ["/proc", "/dev", "/sys"] {
            if mount.dest.starts_with(managed) {
                return Err(refuse(&format!("`{managed}` is managed by the sandbox")));
            }
        }
        for protected in PROTECTED_PATHS {
            if canonical.starts_with(protected) || mount.dest.starts_with(protected) {
                return Err(refuse(&format!(
                    "boxpy never exposes `{protected}` (SPEC guarantee)"
                )));
            }
        }
        mounts.push(mount.clone());
    }
    Ok(mounts)
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
    let mut set = |key: &str, value: EnvValue| {
        if let Some(existing) = out.iter_mut().find(|(name, _)| name == key) {
            existing.1 = value;
        } else {
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
