//! The command line, as clap derive structs. No logic here: `settings` interprets it.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::policy::NetworkMode;

/// Run Python you did not write inside a kernel sandbox.
#[derive(Debug, Parser)]
#[command(
    name = "boxpy",
    version,
    about = "Run Python you did not write inside a kernel sandbox",
    long_about = "Run Python you did not write inside a kernel sandbox.\n\nboxpy reads a TOML policy, renders it into bubblewrap arguments (Linux), runs the virtualenv's Python inside that sandbox, streams its output, and when the program fails, prints a short report of what failed, where, and which policy key or flag fixes it.",
    after_help = "Exit codes: the program's own code; 128+N killed by signal N; 124 timeout; 125 boxpy failed before the program ran; 126 interpreter not executable; 127 interpreter or venv not found.",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a Python script, `-c CODE`, `-m MODULE` or `-` (stdin) in the sandbox
    #[command(
        override_usage = "boxpy run [OPTIONS] <SCRIPT> [ARGS]...\n       boxpy run [OPTIONS] -c <CODE> [ARGS]...\n       boxpy run [OPTIONS] -m <MODULE> [ARGS]...",
        after_help = "Everything after SCRIPT, -c CODE or -m MODULE goes to the program untouched: `boxpy run x.py --policy y` passes `--policy y` to x.py."
    )]
    Run(RunArgs),
    /// Execute a Jupyter notebook in the sandbox (nbclient + ipykernel from the venv)
    #[command(
        after_help = "Parameters follow papermill: a new cell tagged `injected-parameters` goes after the cell tagged `parameters` (or first). Nothing is saved unless -o or --inplace is given."
    )]
    Nbexec(NbexecArgs),
    /// Run any program under the same policy (`boxpy exec -- sh` for a shell inside)
    #[command(override_usage = "boxpy exec [OPTIONS] -- <CMD> [ARGS]...")]
    Exec(ExecArgs),
    /// Print the sandbox command a policy becomes; runs nothing
    Render(RenderArgs),
    /// List, show, check or create policies
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Check whether this machine can sandbox, and how each limit is enforced
    Doctor {
        /// Print the checks as one JSON object
        #[arg(long)]
        json: bool,
        /// The venv to check (default: what `run` would use here)
        #[arg(long, value_name = "DIR")]
        venv: Option<PathBuf>,
    },
    /// Generate shell completions
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
}

/// Options shared by every command that builds a sandbox.
#[derive(Debug, Args, Clone, Default)]
pub struct SandboxArgs {
    /// A shipped policy name (default, strict, net) or a policy file
    #[arg(short = 'P', long, value_name = "NAME|FILE")]
    pub policy: Option<String>,
    /// The virtualenv to use
    #[arg(long, value_name = "DIR")]
    pub venv: Option<PathBuf>,
    /// Read-write working directory, the program's cwd [default: current directory]
    #[arg(short = 'w', long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Create the working directory (one level) when it does not exist
    #[arg(long)]
    pub mkdir: bool,
    /// Make matching files read as empty (directories as empty directories), on top of
    /// the default credential list: a name glob (`*.csv`), a path (`secrets/prod.yaml`),
    /// or `**/GLOB` for any depth; repeatable
    #[arg(long = "hide", value_name = "PATTERN")]
    pub hide: Vec<String>,
    /// Extra read-only mount (repeatable)
    #[arg(long = "ro", value_name = "PATH[:DEST]")]
    pub read_only: Vec<String>,
    /// Extra read-write mount (repeatable)
    #[arg(long = "rw", value_name = "PATH[:DEST]")]
    pub read_write: Vec<String>,
    /// Network mode
    #[arg(long, value_enum, value_name = "MODE")]
    pub network: Option<NetworkMode>,
    /// Pass KEY from the host, or set KEY=VALUE (repeatable)
    #[arg(long = "env", value_name = "KEY[=VALUE]")]
    pub env: Vec<String>,
    /// Wall-clock limit; the whole sandbox is killed (e.g. 30s, 5m)
    #[arg(long, value_name = "DUR")]
    pub timeout: Option<String>,
    /// CPU-time limit (e.g. 30s)
    #[arg(long, value_name = "DUR")]
    pub cpu: Option<String>,
    /// Memory limit (e.g. 512MiB, 2GiB)
    #[arg(long, value_name = "SIZE")]
    pub memory: Option<String>,
    /// Print one JSON result object on stdout instead of streaming
    #[arg(long)]
    pub json: bool,
    /// When to colour boxpy's own output
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
    /// No report of boxpy's own; only the program's output
    #[arg(short, long)]
    pub quiet: bool,
    /// Print the sandbox command line to stderr before running
    #[arg(short, long)]
    pub verbose: bool,
    /// Append one JSON line describing the run to FILE (also `[audit] log`)
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
}

/// `boxpy run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub sandbox: SandboxArgs,
    /// Run a code string
    #[arg(
        short = 'c',
        value_name = "CODE",
        allow_hyphen_values = true,
        conflicts_with = "module"
    )]
    pub code: Option<String>,
    /// Run a module as a script
    #[arg(short = 'm', value_name = "MODULE", allow_hyphen_values = true)]
    pub module: Option<String>,
    /// The script, or `-` to read the program from stdin; then its arguments
    #[arg(
        value_name = "SCRIPT|ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub args: Vec<OsString>,
}

/// `boxpy nbexec`.
#[derive(Debug, Args)]
pub struct NbexecArgs {
    #[command(flatten)]
    pub sandbox: SandboxArgs,
    /// The notebook to execute (nbformat 4)
    #[arg(value_name = "NOTEBOOK")]
    pub notebook: PathBuf,
    /// Write the executed notebook to OUT (atomically)
    #[arg(
        short = 'o',
        long = "output",
        value_name = "OUT.ipynb",
        conflicts_with = "inplace"
    )]
    pub output: Option<PathBuf>,
    /// Overwrite NOTEBOOK with the executed notebook (atomically)
    #[arg(long)]
    pub inplace: bool,
    /// A parameter; VALUE is parsed as a Python literal where it can be, else a string
    #[arg(short = 'p', long = "parameter", num_args = 2, value_names = ["NAME", "VALUE"], allow_hyphen_values = true)]
    pub parameters: Vec<String>,
    /// A parameter whose VALUE is always a string
    #[arg(short = 'r', long = "parameter-raw", num_args = 2, value_names = ["NAME", "VALUE"], allow_hyphen_values = true)]
    pub raw_parameters: Vec<String>,
    /// Limit for each cell (e.g. 60s); the policy's `limits.timeout` bounds the whole run
    #[arg(long, value_name = "DUR")]
    pub cell_timeout: Option<String>,
    /// Run every cell even after one fails; exit 1 at the end if any failed
    #[arg(long)]
    pub allow_errors: bool,
    /// The kernel to use (default: the notebook's kernelspec, else python3)
    #[arg(long, value_name = "NAME")]
    pub kernel: Option<String>,
    /// Run the kernel in DIR (for a notebook's relative paths): as it is inside the workdir,
    /// else mounted read-only; never HOME or above it, `/`, a system or protected directory
    #[arg(long = "cwd", value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// The largest notebook boxpy reads (default 256MiB)
    #[arg(long, value_name = "SIZE")]
    pub max_notebook_size: Option<String>,
}

/// `boxpy exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub sandbox: SandboxArgs,
    /// The program and its arguments (a bare name is looked up on the sandbox's PATH)
    #[arg(value_name = "CMD", last = true, required = true)]
    pub command: Vec<OsString>,
}

/// `boxpy policy ...`.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum PolicyCommand {
    /// List the shipped policies and the policy files found for this directory
    List {
        /// Working directory to look in [default: current directory]
        #[arg(short = 'w', long, value_name = "DIR")]
        workdir: Option<PathBuf>,
    },
    /// Print the fully resolved policy (after `extends`, lookup and flags) as TOML
    Show {
        /// A shipped policy name or a file (default: the lookup order)
        #[arg(value_name = "NAME|FILE")]
        name: Option<String>,
        #[command(flatten)]
        sandbox: SandboxArgs,
    },
    /// Validate a policy file and warn about risky choices
    Check {
        /// The policy file
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Trust a policy file found in a project (`boxpy.toml`, `pyproject.toml`) to widen the
    /// sandbox: records its path and content hash; any change needs trusting again
    Trust {
        /// The policy file [default: the `boxpy.toml` or `pyproject.toml` the lookup finds
        /// in the working directory]
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
        /// Working directory to look in [default: current directory]
        #[arg(short = 'w', long, value_name = "DIR")]
        workdir: Option<PathBuf>,
        /// Forget the file instead (a later run refuses it again if it widens the sandbox)
        #[arg(long)]
        revoke: bool,
    },
    /// Write a commented `boxpy.toml` for the current project
    Init {
        /// Overwrite an existing boxpy.toml
        #[arg(long)]
        force: bool,
    },
}

/// `boxpy render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub sandbox: SandboxArgs,
    /// Which sandbox to render
    #[arg(long, value_enum, default_value_t = Target::host())]
    pub target: Target,
    /// Also write the compiled seccomp filter to FILE, so the printed command can be run
    /// by hand with `5<FILE`
    #[arg(long, value_name = "FILE")]
    pub seccomp_out: Option<std::path::PathBuf>,
    /// What the interpreter would run (default: nothing, the bare interpreter)
    #[arg(value_name = "ARGS", last = true)]
    pub args: Vec<OsString>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    Linux,
    Macos,
}

impl Target {
    /// The target of the running OS.
    pub fn host() -> Target {
        if cfg!(target_os = "macos") {
            Target::Macos
        } else {
            Target::Linux
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

/// Parses boxpy's command line (without the binary's own `__sandbox-init` entry).
///
/// The everyday `boxpy run` line (`run [options] SCRIPT|-c CODE|-m MODULE [args]`) is read
/// by [`parse_run_fast`] without building clap's command, which is a quarter of a
/// millisecond of a ~15 ms run (most of it first-touch page faults in clap's code). Anything
/// that fast path does not recognise, including every error, `--help` and `--version`, goes
/// to clap, which then also builds its command once for both the argument split and the
/// parse. The tests check the two agree on every line the fast path accepts.
pub fn parse(args: Vec<OsString>) -> Result<Cli, clap::Error> {
    match parse_run_fast(&args) {
        Some(cli) => Ok(cli),
        None => parse_with_clap(args),
    }
}

/// Checks that where [`parse_run_fast`] answers, clap accepts the line and gives the same
/// [`Cli`]; panics otherwise. For the fuzzer (`fuzz/`) and the tests.
#[doc(hidden)]
pub fn check_fast_path_agrees(args: &[OsString]) {
    let Some(fast) = parse_run_fast(args) else {
        return;
    };
    let slow = parse_with_clap(args.to_vec())
        .unwrap_or_else(|error| panic!("fast path accepted {args:?}, clap says {error}"));
    assert_eq!(format!("{fast:?}"), format!("{slow:?}"), "for {args:?}");
}

/// The whole line through clap, after [`split_program_arguments`].
fn parse_with_clap(args: Vec<OsString>) -> Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let mut command = Cli::command();
    let args = split_program_arguments(&command, args);
    let mut matches = command.try_get_matches_from_mut(args)?;
    Cli::from_arg_matches_mut(&mut matches).map_err(|error| error.format(&mut Cli::command()))
}

/// `boxpy run` parsed by hand, for the options and shapes it knows; `None` hands the line
/// to clap (an unknown or repeated option, a glued short option, `--flag=value`, a value
/// that starts with `-` or is empty, text that is not UTF-8, help, version).
pub fn parse_run_fast(args: &[OsString]) -> Option<Cli> {
    if args.get(1)? != "run" {
        return None;
    }
    let mut sandbox = SandboxArgs::default();
    let (mut code, mut module) = (None, None);
    let mut seen: Vec<&str> = Vec::new();
    let mut tokens = args[2..].iter();
    let program_args: Vec<OsString> = loop {
        let Some(token) = tokens.next() else {
            break Vec::new();
        };
        let text = token.to_str()?;
        if text == "--" {
            break tokens.cloned().collect();
        }
        if text == "-" || !text.starts_with('-') {
            break std::iter::once(token).chain(tokens).cloned().collect();
        }
        let (name, inline) = match text.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name, Some(value)),
            _ => (text, None),
        };
        let long = match name {
            "-P" => "--policy",
            "-w" => "--workdir",
            "-q" => "--quiet",
            "-v" => "--verbose",
            other => other,
        };
        // Every option but the repeatable ones may appear once (clap's rule too).
        if !matches!(long, "--ro" | "--rw" | "--env") {
            if seen.contains(&long) {
                return None;
            }
            seen.push(long);
        }
        let flag = match long {
            "--json" => Some(&mut sandbox.json),
            "--quiet" => Some(&mut sandbox.quiet),
            "--verbose" => Some(&mut sandbox.verbose),
            _ => None,
        };
        if let Some(flag) = flag {
            if inline.is_some() {
                return None;
            }
            *flag = true;
            continue;
        }
        if long == "-c" || long == "-m" {
            // Their value may start with `-`; everything after it is the program's.
            let value = tokens.next()?.to_str()?.to_owned();
            if long == "-c" {
                code = Some(value);
            } else {
                module = Some(value);
            }
            break tokens.cloned().collect();
        }
        let value = match inline {
            Some(value) => value,
            None => tokens.next()?.to_str()?,
        };
        if value.is_empty() || value.starts_with('-') {
            return None;
        }
        match long {
            "--policy" => sandbox.policy = Some(value.to_owned()),
            "--venv" => sandbox.venv = Some(value.into()),
            "--workdir" => sandbox.workdir = Some(value.into()),
            "--ro" => sandbox.read_only.push(value.to_owned()),
            "--rw" => sandbox.read_write.push(value.to_owned()),
            "--network" => sandbox.network = Some(NetworkMode::from_str(value, false).ok()?),
            "--env" => sandbox.env.push(value.to_owned()),
            "--timeout" => sandbox.timeout = Some(value.to_owned()),
            "--cpu" => sandbox.cpu = Some(value.to_owned()),
            "--memory" => sandbox.memory = Some(value.to_owned()),
            "--color" => sandbox.color = ColorChoice::from_str(value, false).ok()?,
            "--audit-log" => sandbox.audit_log = Some(value.into()),
            _ => return None,
        }
    };
    Some(Cli {
        command: Command::Run(RunArgs {
            sandbox,
            code,
            module,
            args: program_args,
        }),
    })
}

/// Everything after the point where the program starts (SCRIPT, `-c CODE`, `-m MODULE`)
/// belongs to the program. After a SCRIPT clap's `trailing_var_arg` does that; but clap
/// cannot stop parsing options after an option's value, so for `-c CODE` and `-m MODULE`
/// a `--` is inserted where the program's own arguments begin.
fn split_program_arguments(command: &clap::Command, args: Vec<OsString>) -> Vec<OsString> {
    let Some(run) = command.find_subcommand("run") else {
        return args;
    };
    let takes_value = |token: &str| -> Option<bool> {
        // Some(true): option with a value; Some(false): flag; None: unknown
        for argument in run.get_arguments() {
            let expects = argument.get_action().takes_values();
            if let Some(long) = token.strip_prefix("--") {
                if argument.get_long() == Some(long) {
                    return Some(expects);
                }
            } else if let Some(short) = token.strip_prefix('-') {
                let mut chars = short.chars();
                if let (Some(first), None) = (chars.next(), chars.next()) {
                    if argument.get_short() == Some(first) {
                        return Some(expects);
                    }
                }
            }
        }
        None
    };
    // Find `run` (the first non-option argument after the binary name).
    let Some(run_index) = args
        .iter()
        .skip(1)
        .position(|arg| arg == "run")
        .map(|i| i + 1)
    else {
        return args;
    };
    if args[1..run_index]
        .iter()
        .any(|arg| !arg.to_string_lossy().starts_with('-'))
    {
        return args;
    }
    let mut index = run_index + 1;
    while index < args.len() {
        let token = args[index].to_string_lossy().into_owned();
        if token == "--" {
            return args;
        }
        if token == "-c" || token == "-m" {
            index += 2;
            break;
        }
        if (token.starts_with("-c") || token.starts_with("-m")) && !token.starts_with("--") {
            index += 1;
            break;
        }
        if token == "-" || !token.starts_with('-') {
            // A script: clap's trailing_var_arg keeps everything after it untouched.
            return args;
        }
        let name = token.split('=').next().unwrap_or(&token);
        match takes_value(name) {
            Some(true) if !token.contains('=') && token.starts_with("--") => index += 2,
            Some(true) if token.starts_with("--") => index += 1,
            Some(true) => index += if token.len() > 2 { 1 } else { 2 },
            Some(false) | None => {
                // Short flags glued together (`-qv`) or a short option with its value glued on.
                index += 1;
            }
        }
    }
    let index = index.min(args.len());
    let mut out = args[..index].to_vec();
    out.push("--".into());
    out.extend_from_slice(&args[index..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &str) -> Vec<String> {
        let args: Vec<OsString> = line.split(' ').map(OsString::from).collect();
        split_program_arguments(&<Cli as clap::CommandFactory>::command(), args)
            .into_iter()
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn program_arguments_are_untouched() {
        assert_eq!(
            split("boxpy run x.py --policy y"),
            ["boxpy", "run", "x.py", "--policy", "y"]
        );
        assert_eq!(
            split("boxpy run -P strict --json x.py -q"),
            ["boxpy", "run", "-P", "strict", "--json", "x.py", "-q"]
        );
        assert_eq!(
            split("boxpy run -c print(1) --json"),
            ["boxpy", "run", "-c", "print(1)", "--", "--json"]
        );
        assert_eq!(
            split("boxpy run --network=full -m http.server 8000"),
            [
                "boxpy",
                "run",
                "--network=full",
                "-m",
                "http.server",
                "--",
                "8000"
            ]
        );
        assert_eq!(split("boxpy run - a"), ["boxpy", "run", "-", "a"]);
        assert_eq!(split("boxpy run -- x.py"), ["boxpy", "run", "--", "x.py"]);
        assert_eq!(
            split("boxpy run -c pass -- a"),
            ["boxpy", "run", "-c", "pass", "--", "--", "a"]
        );
    }

    fn os(tokens: &[&str]) -> Vec<OsString> {
        tokens.iter().map(OsString::from).collect()
    }

    /// The fast path either declines or gives exactly what clap gives.
    fn agrees(args: &[OsString]) -> bool {
        let Some(fast) = parse_run_fast(args) else {
            return false;
        };
        let slow = parse_with_clap(args.to_vec())
            .unwrap_or_else(|error| panic!("fast path accepted {args:?}, clap says {error}"));
        assert_eq!(format!("{fast:?}"), format!("{slow:?}"), "for {args:?}");
        true
    }

    #[test]
    fn fast_path_takes_the_everyday_lines_and_matches_clap() {
        for line in [
            "boxpy run x.py",
            "boxpy run -c pass",
            "boxpy run --venv /v -c pass",
            "boxpy run --venv=/v -P strict --json -q -v -m http.server 8000",
            "boxpy run -c print(1) --json -- a",
            "boxpy run -w /tmp --ro /a --ro=/b:/c --rw /d --env A --env B=1 x.py --policy y",
            "boxpy run --network full --color never --timeout 5s --cpu 1s --memory 1GiB -",
            "boxpy run --audit-log /tmp/a.jsonl -- x.py -c",
            "boxpy run -c -x",
            "boxpy run -m -x a b",
            "boxpy run",
            "boxpy run --",
        ] {
            let args = os(&line.split(' ').collect::<Vec<_>>());
            assert!(agrees(&args), "fast path declined {line}");
        }
        // Not UTF-8 after the program starts: passed through untouched.
        use std::os::unix::ffi::OsStringExt;
        let mut args = os(&["boxpy", "run", "x.py"]);
        args.push(OsString::from_vec(vec![0xff, b'a']));
        assert!(agrees(&args));
    }

    #[test]
    fn fast_path_leaves_help_errors_and_odd_shapes_to_clap() {
        for line in [
            "boxpy --version",
            "boxpy run --help",
            "boxpy run -h",
            "boxpy run -V",
            "boxpy run --json --json x.py",
            "boxpy run --venv /a --venv /b x.py",
            "boxpy run --json=true x.py",
            "boxpy run -qv x.py",
            "boxpy run -cpass",
            "boxpy run --venv",
            "boxpy run --venv -c pass",
            "boxpy run --venv= x.py",
            "boxpy run --network bogus x.py",
            "boxpy run --bogus x.py",
            "boxpy run -c",
            "boxpy exec -- sh",
            "boxpy nbexec n.ipynb",
        ] {
            let args = os(&line.split(' ').collect::<Vec<_>>());
            assert!(parse_run_fast(&args).is_none(), "fast path took {line}");
        }
    }

    /// Random lines from a pool of tokens: wherever the fast path answers, clap agrees.
    #[test]
    fn fast_path_matches_clap_on_random_lines() {
        let pool = [
            "-c",
            "-m",
            "pass",
            "x.py",
            "-",
            "--",
            "--json",
            "-q",
            "--quiet",
            "-v",
            "--venv",
            "/v",
            "--venv=/w",
            "-P",
            "strict",
            "--policy=net",
            "-w",
            "/tmp",
            "--ro",
            "/a",
            "--rw=/b",
            "--env",
            "K=V",
            "--network",
            "none",
            "--network=full",
            "--color",
            "always",
            "--timeout",
            "5s",
            "--cpu=2s",
            "--memory",
            "1GiB",
            "--audit-log",
            "/l",
            "-x",
            "",
            "--color=bogus",
            "-h",
            "a b",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
        let mut accepted = 0;
        for _ in 0..20_000 {
            let mut args = os(&["boxpy", "run"]);
            for _ in 0..next(8) {
                args.push(pool[next(pool.len())].into());
            }
            if agrees(&args) {
                accepted += 1;
            }
        }
        // The generator must exercise the fast path, not only its refusals.
        assert!(accepted > 2_000, "only {accepted} lines took the fast path");
    }

    #[test]
    fn clap_definition_is_valid() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}

/// The generated files committed under `completions/` and `man/`: (path, contents).
pub fn generated_docs() -> Vec<(String, Vec<u8>)> {
    use clap::CommandFactory;
    let mut files = Vec::new();
    for (shell, name) in [
        (clap_complete::Shell::Bash, "boxpy.bash"),
        (clap_complete::Shell::Zsh, "_boxpy"),
        (clap_complete::Shell::Fish, "boxpy.fish"),
        (clap_complete::Shell::Elvish, "boxpy.elv"),
        (clap_complete::Shell::PowerShell, "_boxpy.ps1"),
    ] {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "boxpy", &mut out);
        files.push((format!("completions/{name}"), out));
    }
    let command = Cli::command();
    let mut out = Vec::new();
    let _ = clap_mangen::Man::new(command.clone()).render(&mut out);
    files.push(("man/boxpy.1".to_owned(), out));
    for subcommand in command.get_subcommands() {
        let name = format!("boxpy-{}", subcommand.get_name());
        let mut out = Vec::new();
        let page = subcommand.clone().name(name.clone());
        let _ = clap_mangen::Man::new(page).render(&mut out);
        files.push((format!("man/{name}.1"), out));
    }
    files
}

#[cfg(test)]
mod docs_tests {
    /// completions/ and man/ are generated from the clap definitions; this fails when they
    /// are stale. `BOXPY_UPDATE_DOCS=1 cargo test generated_docs` rewrites them.
    #[test]
    fn generated_docs_are_up_to_date() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let update = std::env::var_os("BOXPY_UPDATE_DOCS").is_some();
        let mut stale = Vec::new();
        for (path, contents) in super::generated_docs() {
            let full = root.join(&path);
            if update {
                std::fs::create_dir_all(full.parent().unwrap()).unwrap();
                std::fs::write(&full, &contents).unwrap();
            } else if std::fs::read(&full).ok().as_deref() != Some(&contents[..]) {
                stale.push(path);
            }
        }
        assert!(
            stale.is_empty(),
            "stale generated files {stale:?}; run `BOXPY_UPDATE_DOCS=1 cargo test generated_docs`"
        );
    }
}
