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
    /// When to colour boxpy's own output: `auto` honours `NO_COLOR` and whether the output
    /// is a terminal
    #[arg(
        long,
        global = true,
        display_order = 900,
        value_enum,
        default_value_t = ColorChoice::Auto,
        value_name = "WHEN"
    )]
    pub color: ColorChoice,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Hands the global `--color` to the sandbox options `settings` reads it from.
    fn share_color(&mut self) {
        let color = self.color;
        match &mut self.command {
            Command::Run(args) => args.sandbox.color = color,
            Command::Nbexec(args) => args.sandbox.color = color,
            Command::Exec(args) => args.sandbox.color = color,
            Command::Policy(
                PolicyCommand::Show { .. }
                | PolicyCommand::List { .. }
                | PolicyCommand::Check { .. }
                | PolicyCommand::Trust { .. }
                | PolicyCommand::Init { .. },
            )
            | Command::Render(_)
            | Command::Doctor { .. }
            | Command::Cache(_)
            | Command::Completions { .. } => {}
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a Python script, `-c CODE`, `-m MODULE` or `-` (stdin) in the sandbox
    #[command(
        override_usage = "boxpy run [OPTIONS] <SCRIPT> [ARGS]...\n       boxpy run [OPTIONS] -c <CODE> [ARGS]...\n       boxpy run [OPTIONS] -m <MODULE> [ARGS]...",
        after_help = after_help("run")
    )]
    Run(RunArgs),
    /// Execute a Jupyter notebook in the sandbox (nbclient + ipykernel from the venv)
    #[command(
        after_help = after_help("nbexec")
    )]
    Nbexec(Box<NbexecArgs>),
    /// Run any program under the same policy (`boxpy exec -- sh` for a shell inside)
    #[command(
        override_usage = "boxpy exec [OPTIONS] -- <CMD> [ARGS]...",
        after_help = after_help("exec")
    )]
    Exec(ExecArgs),
    /// Print the sandbox a policy becomes, as a bash script that runs it by hand; runs nothing
    Render(RenderArgs),
    /// List, show, check or create policies
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Show, clear or prime the per-venv library caches (matplotlib's font list)
    #[command(subcommand)]
    Cache(CacheCommand),
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

/// `boxpy cache`: the library caches boxpy primes once per venv and shows read-only to
/// every run of it.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// List the cached entries: library, venv, key, size, and whether each is stale
    Show {
        /// Only this venv's entries
        #[arg(long, value_name = "DIR")]
        venv: Option<PathBuf>,
        /// Print one JSON object
        #[arg(long)]
        json: bool,
    },
    /// Remove every entry, or one venv's
    Clear {
        /// Only this venv's entries
        #[arg(long, value_name = "DIR")]
        venv: Option<PathBuf>,
        /// Print one JSON object
        #[arg(long)]
        json: bool,
    },
    /// Prime the caches of a venv now (for CI images), in a sandbox that can write nothing
    /// else; a fresh entry is kept
    Prime {
        /// The venv [default: the one `run` would use here]
        #[arg(long, value_name = "DIR")]
        venv: Option<PathBuf>,
        /// Print one JSON object
        #[arg(long)]
        json: bool,
    },
}

impl CacheCommand {
    /// Whether the command asked for `--json`.
    pub fn json(&self) -> bool {
        match self {
            CacheCommand::Show { json, .. }
            | CacheCommand::Clear { json, .. }
            | CacheCommand::Prime { json, .. } => *json,
        }
    }
}

/// A note on a command that its `--help` and its man page show.
fn note(command: &str) -> Option<&'static str> {
    match command {
        "run" => Some(
            "Everything after SCRIPT, -c CODE or -m MODULE goes to the program untouched: `boxpy run x.py --policy y` passes `--policy y` to x.py.",
        ),
        "nbexec" => Some(
            "Parameters follow papermill: a new cell tagged `injected-parameters` replaces an earlier one, else goes after the cell tagged `parameters` (or first). Their sources are merged in papermill's order, -b, -f, -y, -p, -r, a later value replacing an earlier one; a name must be a Python identifier. -p VALUE becomes `True`/`False`/`None`, an int (`007` is 7), a float (`1e400` is inf), a Python literal, or else the text; -r VALUE is always text; -y/-f/-b values are YAML's (`yes` is True, `.nan` a float). Nothing is saved unless -o or --inplace is given; the saved notebook carries papermill's metadata. Ctrl-C or SIGTERM interrupts the running cell and saves what ran.",
        ),
        "exec" => Some(
            "A bare CMD is looked up on the sandbox's PATH (the venv's `bin` first); the program gets the same mounts, limits, network and environment as `boxpy run`.",
        ),
        _ => None,
    }
}

/// A command's examples, as (what it does, the command line), for `--help` and the man
/// pages (as gh and uv show them).
pub fn examples(command: &str) -> &'static [(&'static str, &'static str)] {
    match command {
        "run" => &[
            (
                "Run a script with the project's `.venv` (or `$VIRTUAL_ENV`)",
                "boxpy run analyze.py",
            ),
            (
                "Run a code string",
                "boxpy run -c 'import sys; print(sys.version)'",
            ),
            (
                "Read `data/`, write `out/`; arguments after the script are the script's",
                "boxpy run --ro data --rw out train.py --epochs 3",
            ),
            (
                "Allow the network with the shipped `net` policy",
                "boxpy run -P net fetch.py",
            ),
            (
                "Tighter limits for code you do not trust",
                "boxpy run -P strict --timeout 30s --memory 1GiB untrusted.py",
            ),
            (
                "Read the program from stdin",
                "echo 'print(42)' | boxpy run -",
            ),
            (
                "One JSON result on stdout, for agents and CI",
                "boxpy run --json -c '1/0'",
            ),
        ],
        "nbexec" => &[
            (
                "Execute a notebook and save the result",
                "boxpy nbexec analysis.ipynb -o executed.ipynb",
            ),
            (
                "Pass parameters (papermill style) and save in place",
                "boxpy nbexec report.ipynb -p alpha 0.5 -r region west --inplace",
            ),
            (
                "Run every cell even after a failure, at most a minute each",
                "boxpy nbexec --allow-errors --cell-timeout 60s analysis.ipynb",
            ),
            (
                "One JSON result with each cell's status",
                "boxpy nbexec --json analysis.ipynb",
            ),
            (
                "Save after every cell, so a killed run keeps what ran",
                "boxpy nbexec long.ipynb -o out.ipynb --request-save-on-cell-execute",
            ),
        ],
        "exec" => &[
            ("A shell inside the sandbox", "boxpy exec -- sh"),
            (
                "What the venv has installed",
                "boxpy exec -- python -m pip list",
            ),
            (
                "What a program sees under the strict policy",
                "boxpy exec -P strict -- ls -la /",
            ),
        ],
        _ => &[],
    }
}

/// The text after a command's options in `--help`: its note, then its examples.
fn after_help(command: &str) -> String {
    let mut text = String::new();
    if let Some(note) = note(command) {
        text.push_str(note);
    }
    let examples = examples(command);
    if !examples.is_empty() {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str("Examples:");
        for (what, line) in examples {
            text.push_str(&format!("\n  # {what}\n  {line}\n"));
        }
    }
    text.trim_end().to_owned()
}

/// Options shared by every command that builds a sandbox.
#[derive(Debug, Args, Clone, Default)]
pub struct SandboxArgs {
    /// A shipped policy name (default, strict, net, pypi) or a policy file
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
    /// Let the program reach HOST (`pypi.org`, `*.example.com`, an address; ports 80 and
    /// 443 unless `:PORT`) through boxpy's proxy; implies `--network proxy` (repeatable)
    #[arg(long = "allow-host", value_name = "HOST[:PORT]")]
    pub allow_host: Vec<String>,
    /// Refuse HOST even where an allow rule names it (needs proxy mode; repeatable)
    #[arg(long = "deny-host", value_name = "HOST[:PORT]")]
    pub deny_host: Vec<String>,
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
    /// The global `--color` (see [`Cli::color`]), copied here for `settings`.
    #[arg(skip)]
    pub color: ColorChoice,
    /// No report of boxpy's own; only the program's output
    #[arg(short, long)]
    pub quiet: bool,
    /// Print which policy and venv were used and why, and the sandbox command line, to
    /// stderr before running
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
    /// The notebook to execute (nbformat 4), or `-` to read it from stdin
    #[arg(value_name = "NOTEBOOK")]
    pub notebook: PathBuf,
    /// Write the executed notebook to OUT (atomically; `-` for stdout)
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
    /// Inject the parameters and write the notebook (with papermill's metadata, outputs
    /// cleared) without starting a kernel; needs `-o` or `--inplace`
    #[arg(long)]
    pub prepare_only: bool,
    /// Stream what each cell prints (and its text results) to stderr as it arrives
    #[arg(long)]
    pub log_output: bool,
    /// Save the notebook to OUT as each cell starts and ends (and every
    /// `--autosave-cell-every` seconds of a cell's output), so a run that is killed leaves
    /// its completed cells; needs `-o` or `--inplace`
    #[arg(long)]
    pub request_save_on_cell_execute: bool,
    /// With `--request-save-on-cell-execute`: save inside a long cell at most every SECS
    /// seconds, when it outputs (0: never) [default: 30]
    #[arg(long, value_name = "SECS", requires = "request_save_on_cell_execute")]
    pub autosave_cell_every: Option<u64>,
    /// A parameter, VALUE read as papermill reads it: `True`, `False`, `None`; else an int
    /// as Python's int() reads it (`007` is 7); else a float as float() reads it (`1e400`
    /// is inf, `nan`); else a Python literal (`[1, 2]`, `{'a': 1}`, `'text'`); else the
    /// text itself
    #[arg(short = 'p', long = "parameter", num_args = 2, value_names = ["NAME", "VALUE"], allow_hyphen_values = true)]
    pub parameters: Vec<String>,
    /// A parameter whose VALUE is always a string
    #[arg(short = 'r', long = "parameter-raw", num_args = 2, value_names = ["NAME", "VALUE"], allow_hyphen_values = true)]
    pub raw_parameters: Vec<String>,
    /// Parameters from YAML text, a mapping (as papermill's PyYAML reads it: `yes` is True,
    /// `1e3` a string, `1.0e+3` a float)
    #[arg(
        short = 'y',
        long = "parameters-yaml",
        value_name = "YAML",
        allow_hyphen_values = true
    )]
    pub yaml_parameters: Vec<String>,
    /// Parameters from a YAML file, a mapping
    #[arg(short = 'f', long = "parameters-file", value_name = "FILE.yaml")]
    pub file_parameters: Vec<PathBuf>,
    /// Parameters from base64-encoded YAML, a mapping
    #[arg(short = 'b', long = "parameters-base64", value_name = "BASE64")]
    pub base64_parameters: Vec<String>,
    /// Print the notebook's parameters (from its cell tagged `parameters`, as papermill
    /// infers them) and exit without running anything
    #[arg(long)]
    pub help_notebook: bool,
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
        sandbox: PolicyShowArgs,
    },
    /// Validate a policy file (or a shipped policy) and warn about risky choices
    Check {
        /// The policy file, or a shipped policy's name (`strict`)
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
        /// Working directory to look in, when no FILE is given [default: current directory]
        #[arg(short = 'w', long, value_name = "DIR", conflicts_with = "file")]
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

/// The options `render` reads: what shapes the sandbox, not how a run reports (no
/// `--quiet`, `--verbose`, `--audit-log`), and nothing that changes the host (`--mkdir`).
#[derive(Debug, Args, Clone, Default)]
pub struct RenderSandboxArgs {
    /// A shipped policy name (default, strict, net, pypi) or a policy file
    #[arg(short = 'P', long, value_name = "NAME|FILE")]
    pub policy: Option<String>,
    /// The virtualenv to use
    #[arg(long, value_name = "DIR")]
    pub venv: Option<PathBuf>,
    /// Read-write working directory, the program's cwd [default: current directory]
    #[arg(short = 'w', long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Make matching files read as empty, on top of the default credential list
    /// (repeatable; see `boxpy run --help`)
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
    /// Let the program reach HOST (`pypi.org`, `*.example.com`, an address; ports 80 and
    /// 443 unless `:PORT`) through boxpy's proxy; implies `--network proxy` (repeatable)
    #[arg(long = "allow-host", value_name = "HOST[:PORT]")]
    pub allow_host: Vec<String>,
    /// Refuse HOST even where an allow rule names it (needs proxy mode; repeatable)
    #[arg(long = "deny-host", value_name = "HOST[:PORT]")]
    pub deny_host: Vec<String>,
    /// Pass KEY from the host, or set KEY=VALUE (repeatable)
    #[arg(long = "env", value_name = "KEY[=VALUE]")]
    pub env: Vec<String>,
    /// Wall-clock limit (e.g. 30s, 5m)
    #[arg(long, value_name = "DUR")]
    pub timeout: Option<String>,
    /// CPU-time limit (e.g. 30s)
    #[arg(long, value_name = "DUR")]
    pub cpu: Option<String>,
    /// Memory limit (e.g. 512MiB, 2GiB)
    #[arg(long, value_name = "SIZE")]
    pub memory: Option<String>,
    /// Print the command (or the Seatbelt profile) as one JSON object
    #[arg(long)]
    pub json: bool,
}

impl RenderSandboxArgs {
    /// The same options as `settings` reads them for a run.
    pub fn to_sandbox_args(&self, color: ColorChoice) -> SandboxArgs {
        SandboxArgs {
            policy: self.policy.clone(),
            venv: self.venv.clone(),
            workdir: self.workdir.clone(),
            mkdir: false,
            hide: self.hide.clone(),
            read_only: self.read_only.clone(),
            read_write: self.read_write.clone(),
            network: self.network,
            allow_host: self.allow_host.clone(),
            deny_host: self.deny_host.clone(),
            env: self.env.clone(),
            timeout: self.timeout.clone(),
            cpu: self.cpu.clone(),
            memory: self.memory.clone(),
            json: self.json,
            color,
            quiet: false,
            verbose: false,
            audit_log: None,
        }
    }
}

/// The options `policy show` reads: those that change the policy it prints.
#[derive(Debug, Args, Clone, Default)]
pub struct PolicyShowArgs {
    /// A shipped policy name (default, strict, net, pypi) or a policy file
    #[arg(short = 'P', long, value_name = "NAME|FILE")]
    pub policy: Option<String>,
    /// Working directory (where the lookup starts; `filesystem.workdir`)
    #[arg(short = 'w', long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Extra read-only mount (repeatable)
    #[arg(long = "ro", value_name = "PATH[:DEST]")]
    pub read_only: Vec<String>,
    /// Extra read-write mount (repeatable)
    #[arg(long = "rw", value_name = "PATH[:DEST]")]
    pub read_write: Vec<String>,
    /// Network mode
    #[arg(long, value_enum, value_name = "MODE")]
    pub network: Option<NetworkMode>,
    /// Let the program reach HOST (`pypi.org`, `*.example.com`, an address; ports 80 and
    /// 443 unless `:PORT`) through boxpy's proxy; implies `--network proxy` (repeatable)
    #[arg(long = "allow-host", value_name = "HOST[:PORT]")]
    pub allow_host: Vec<String>,
    /// Refuse HOST even where an allow rule names it (needs proxy mode; repeatable)
    #[arg(long = "deny-host", value_name = "HOST[:PORT]")]
    pub deny_host: Vec<String>,
    /// Wall-clock limit (e.g. 30s, 5m)
    #[arg(long, value_name = "DUR")]
    pub timeout: Option<String>,
    /// CPU-time limit (e.g. 30s)
    #[arg(long, value_name = "DUR")]
    pub cpu: Option<String>,
    /// Memory limit (e.g. 512MiB, 2GiB)
    #[arg(long, value_name = "SIZE")]
    pub memory: Option<String>,
    /// Print the policy as one JSON object
    #[arg(long)]
    pub json: bool,
}

impl PolicyShowArgs {
    /// The same options as `settings` reads them.
    pub fn to_sandbox_args(&self, color: ColorChoice) -> SandboxArgs {
        SandboxArgs {
            policy: self.policy.clone(),
            workdir: self.workdir.clone(),
            read_only: self.read_only.clone(),
            read_write: self.read_write.clone(),
            network: self.network,
            allow_host: self.allow_host.clone(),
            deny_host: self.deny_host.clone(),
            timeout: self.timeout.clone(),
            cpu: self.cpu.clone(),
            memory: self.memory.clone(),
            json: self.json,
            color,
            ..SandboxArgs::default()
        }
    }
}

/// `boxpy render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub sandbox: RenderSandboxArgs,
    /// Which sandbox to render
    #[arg(long, value_enum, default_value_t = Target::host())]
    pub target: Target,
    /// Also write the compiled seccomp filter to FILE; the printed script opens it itself
    /// (`bash SCRIPT`), and without it needs `bash SCRIPT 5<FILE`
    #[arg(long, value_name = "FILE")]
    pub seccomp_out: Option<std::path::PathBuf>,
    /// What the interpreter would run (default: nothing, the bare interpreter)
    #[arg(value_name = "ARGS", last = true)]
    pub args: Vec<OsString>,
}

/// `--network`: the policy's network modes, with the help clap shows for each (the policy
/// module does not depend on clap, so the impl is here).
impl ValueEnum for NetworkMode {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            NetworkMode::None,
            NetworkMode::Localhost,
            NetworkMode::Full,
            NetworkMode::Proxy,
        ]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let help = match self {
            NetworkMode::None => "A private network namespace with only a loopback interface",
            NetworkMode::Localhost => {
                "On Linux the same as `none`: a private loopback for servers the program starts itself"
            }
            NetworkMode::Full => "The host's network, plus resolv.conf, hosts and CA certificates",
            NetworkMode::Proxy => {
                "Only the hosts the policy's `network.allow` and `--allow-host` name, through boxpy's proxy"
            }
        };
        Some(clap::builder::PossibleValue::new(self.as_str()).help(help))
    }
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
    // clap's own messages follow `--color` too (`auto`: clap's test of the terminal and
    // `NO_COLOR`).
    let color = requested_color(&command, &args);
    command = command.color(match color {
        Some(ColorChoice::Always) => clap::ColorChoice::Always,
        Some(ColorChoice::Never) => clap::ColorChoice::Never,
        Some(ColorChoice::Auto) | None => clap::ColorChoice::Auto,
    });
    let args = split_program_arguments(&command, args);
    let mut matches = command
        .try_get_matches_from_mut(args)
        .map_err(only_close_suggestions)?;
    let mut cli = Cli::from_arg_matches_mut(&mut matches)
        .map_err(|error| error.format(&mut Cli::command()))?;
    if let Command::Run(run) = &cli.command {
        // `boxpy run -c --` (or `-m --`): `--` is no code nor module, it ends boxpy's options.
        for (value, name) in [(&run.code, "-c <CODE>"), (&run.module, "-m <MODULE>")] {
            if value.as_deref() == Some("--") {
                return Err(missing_value(&command, name));
            }
        }
    }
    cli.share_color();
    Ok(cli)
}

/// clap's error for an option given no value (`boxpy run -c --`).
fn missing_value(command: &clap::Command, name: &str) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let mut run = command
        .find_subcommand("run")
        .cloned()
        .unwrap_or_else(|| command.clone());
    let mut error = clap::Error::new(ErrorKind::InvalidValue).with_cmd(&run);
    error.insert(
        ContextKind::InvalidArg,
        ContextValue::String(name.to_owned()),
    );
    error.insert(
        ContextKind::InvalidValue,
        ContextValue::String(String::new()),
    );
    error.insert(
        ContextKind::Suggested,
        ContextValue::StyledStrs(vec![format!(
            "the value goes right after the option, e.g. `boxpy run {}`",
            if name.starts_with("-c") {
                "-c 'print(1)'"
            } else {
                "-m http.server 8000"
            }
        )
        .into()]),
    );
    error.insert(
        ContextKind::Usage,
        ContextValue::StyledStr(run.render_usage()),
    );
    error
}

/// Whether `suggestion` is close enough to what the user typed to offer it: a typo or two
/// (`--jsn`, `--netwrok`), never a different word that shares letters (`--bogus` is not
/// `--verbose`, `--c` is not `--cpu`).
pub fn is_close_match(typed: &str, suggestion: &str) -> bool {
    let typed = typed
        .split('=')
        .next()
        .unwrap_or(typed)
        .trim_start_matches('-');
    let suggestion = suggestion.trim_start_matches('-');
    if typed.is_empty() || suggestion.is_empty() || typed == suggestion {
        return false;
    }
    let length = typed.chars().count().min(suggestion.chars().count());
    let allowed = match length {
        0..=2 => 0,
        3..=5 => 1,
        6..=9 => 2,
        _ => 3,
    };
    strsim::osa_distance(typed, suggestion) <= allowed
}

/// The closest of `candidates` to `typed`, when [`is_close_match`] allows one.
pub fn close_match<'a>(
    typed: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .filter(|candidate| is_close_match(typed, candidate))
        .min_by_key(|candidate| {
            strsim::osa_distance(
                typed.trim_start_matches('-'),
                candidate.trim_start_matches('-'),
            )
        })
}

/// The usage of the (sub)command a clap usage text names (`Usage: boxpy render ...`), as
/// clap prints it when nothing was given.
fn plain_usage(text: &str) -> Option<clap::builder::StyledStr> {
    use clap::CommandFactory;
    let mut command = Cli::command();
    command.build();
    let words = text.strip_prefix("Usage: boxpy")?.split_whitespace();
    let mut current = &mut command;
    for word in words {
        if current.find_subcommand(word).is_none() {
            break;
        }
        current = current.find_subcommand_mut(word)?;
    }
    Some(current.render_usage())
}

/// Drops clap's did-you-mean when it is not a close match (clap's own threshold offers
/// `--verbose` for `--bogus`).
fn only_close_suggestions(mut error: clap::Error) -> clap::Error {
    use clap::error::{ContextKind, ContextValue};
    let typed = match error
        .get(ContextKind::InvalidArg)
        .or_else(|| error.get(ContextKind::InvalidSubcommand))
    {
        Some(ContextValue::String(typed)) => typed.clone(),
        _ => return error,
    };
    let value = match error.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(value)) => Some(value.clone()),
        _ => None,
    };
    if let Some(ContextValue::String(suggested)) = error.get(ContextKind::SuggestedArg) {
        if !is_close_match(&typed, suggested) {
            error.remove(ContextKind::SuggestedArg);
            // clap's usage line shows the suggested option as if it had been given.
            if let Some(ContextValue::StyledStr(usage)) = error.get(ContextKind::Usage) {
                if let Some(usage) = plain_usage(&usage.to_string()) {
                    error.insert(ContextKind::Usage, ContextValue::StyledStr(usage));
                }
            }
        }
    }
    if let (Some(value), Some(ContextValue::String(suggested))) =
        (&value, error.get(ContextKind::SuggestedValue))
    {
        if !is_close_match(value, suggested) {
            error.remove(ContextKind::SuggestedValue);
        }
    }
    if let Some(ContextValue::Strings(suggested)) = error.get(ContextKind::SuggestedSubcommand) {
        let close: Vec<String> = suggested
            .iter()
            .filter(|name| is_close_match(&typed, name))
            .cloned()
            .collect();
        error.insert(
            ContextKind::SuggestedSubcommand,
            ContextValue::Strings(close),
        );
    }
    // "'SUBCOMMAND --flag' exists": only for the flag the user nearly typed.
    if let Some(ContextValue::StyledStrs(tips)) = error.get(ContextKind::Suggested) {
        let kept: Vec<clap::builder::StyledStr> = tips
            .iter()
            .filter(|tip| {
                let text = tip.to_string();
                match text.strip_suffix("' exists") {
                    Some(rest) => rest
                        .rsplit(' ')
                        .next()
                        .is_some_and(|flag| is_close_match(&typed, flag)),
                    None => true,
                }
            })
            .cloned()
            .collect();
        error.insert(ContextKind::Suggested, ContextValue::StyledStrs(kept));
    }
    error
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
        if !matches!(
            long,
            "--ro" | "--rw" | "--env" | "--allow-host" | "--deny-host"
        ) {
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
            if value == "--" {
                return None;
            }
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
            "--allow-host" => sandbox.allow_host.push(value.to_owned()),
            "--deny-host" => sandbox.deny_host.push(value.to_owned()),
            "--timeout" => sandbox.timeout = Some(value.to_owned()),
            "--cpu" => sandbox.cpu = Some(value.to_owned()),
            "--memory" => sandbox.memory = Some(value.to_owned()),
            "--color" => sandbox.color = ColorChoice::from_str(value, false).ok()?,
            "--audit-log" => sandbox.audit_log = Some(value.into()),
            _ => return None,
        }
    };
    Some(Cli {
        color: sandbox.color,
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
    match program_start(command, &args) {
        Some(ProgramStart::CodeOrModule(index)) => {
            let mut out = args[..index].to_vec();
            out.push("--".into());
            out.extend_from_slice(&args[index..]);
            out
        }
        Some(ProgramStart::Script(_)) | Some(ProgramStart::Separator(_)) | None => args,
    }
}

/// Where, in a `boxpy run` line, the program's own arguments begin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProgramStart {
    /// After `-c CODE` or `-m MODULE`: the index of the first program argument.
    CodeOrModule(usize),
    /// After the SCRIPT (or `-`) at this index.
    Script(usize),
    /// After a `--` at this index.
    Separator(usize),
}

/// Finds where the program's arguments begin in a `boxpy run` line; `None` for another
/// command, or a `run` line where `-c`/`-m` has no value (clap then says so).
fn program_start(command: &clap::Command, args: &[OsString]) -> Option<ProgramStart> {
    let run = command.find_subcommand("run")?;
    let takes_value = |token: &str| -> Option<bool> {
        // Some(true): option with a value; Some(false): flag; None: unknown
        for argument in run.get_arguments().chain(command.get_arguments()) {
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
    // Find `run`: the first argument after the binary name that is not an option or the
    // value of one (`boxpy --color never run`).
    let mut run_index = 1;
    loop {
        let token = args.get(run_index)?.to_string_lossy();
        if token == "run" {
            break;
        }
        if !token.starts_with('-') || token == "--" {
            return None;
        }
        let name = token.split('=').next().unwrap_or(&token);
        run_index += match takes_value(name) {
            Some(true) if !token.contains('=') => 2,
            _ => 1,
        };
    }
    let mut index = run_index + 1;
    while index < args.len() {
        let token = args[index].to_string_lossy().into_owned();
        if token == "--" {
            return Some(ProgramStart::Separator(index));
        }
        if token == "-c" || token == "-m" {
            // Without its value, clap reports the missing value.
            return (index + 1 < args.len()).then_some(ProgramStart::CodeOrModule(index + 2));
        }
        if (token.starts_with("-c") || token.starts_with("-m")) && !token.starts_with("--") {
            return Some(ProgramStart::CodeOrModule(index + 1));
        }
        if token == "-" || !token.starts_with('-') {
            // A script: clap's trailing_var_arg keeps everything after it untouched.
            return Some(ProgramStart::Script(index));
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
    Some(ProgramStart::CodeOrModule(index.min(args.len())))
}

/// The last valid `--color WHEN` among boxpy's own options, read before clap parses the
/// line (so that clap's refusal of it follows it).
fn requested_color(command: &clap::Command, args: &[OsString]) -> Option<ColorChoice> {
    let options = &args[..boxpy_options_end(command, args)];
    let mut choice = None;
    for (index, arg) in options.iter().enumerate() {
        let text = arg.to_string_lossy();
        let value = match text.strip_prefix("--color") {
            Some("") => options.get(index + 1).map(|value| value.to_string_lossy()),
            Some(inline) => inline
                .strip_prefix('=')
                .map(|value| value.to_owned().into()),
            None => None,
        };
        if let Some(parsed) = value.and_then(|value| ColorChoice::from_str(&value, false).ok()) {
            choice = Some(parsed);
        }
    }
    choice
}

/// Where boxpy's own options end: the program's arguments, or a `--`, begin there.
fn boxpy_options_end(command: &clap::Command, args: &[OsString]) -> usize {
    let end = match program_start(command, args) {
        Some(ProgramStart::CodeOrModule(index)) => index,
        Some(ProgramStart::Script(index)) | Some(ProgramStart::Separator(index)) => index,
        None => args.len(),
    };
    let end = end.min(args.len());
    args[..end]
        .iter()
        .skip(1)
        .position(|arg| arg == "--")
        .map_or(end, |separator| separator + 1)
}

/// Whether the line asks for `--json` among boxpy's own options (not the program's), so
/// that a line clap refuses can still be answered with one JSON object.
pub fn json_requested(args: &[OsString]) -> bool {
    use clap::CommandFactory;
    let command = Cli::command();
    args[..boxpy_options_end(&command, args)]
        .iter()
        .skip(1)
        .any(|arg| arg == "--json" || arg.to_string_lossy().starts_with("--json="))
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
            "--network=proxy",
            "--allow-host",
            "pypi.org",
            "--deny-host=*.example.com:8443",
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

    fn parse_line(line: &str) -> Result<Cli, clap::Error> {
        parse(os(&line.split(' ').collect::<Vec<_>>()))
    }

    #[test]
    fn code_or_module_without_a_value_is_a_usage_error() {
        for line in [
            "boxpy run -c",
            "boxpy run -m",
            "boxpy run -c --",
            "boxpy run -m --",
            "boxpy run --json -c -- print(1)",
            "boxpy run -P strict -m -- x",
        ] {
            let error = parse_line(line).expect_err(line);
            assert_eq!(
                error.kind(),
                clap::error::ErrorKind::InvalidValue,
                "{line}: {error}"
            );
            assert!(
                error.to_string().contains("a value is required for '-"),
                "{line}: {error}"
            );
        }
        // A value that merely starts with `-` is still the program's.
        assert!(parse_line("boxpy run -c -x").is_ok());
        assert!(parse_line("boxpy run -m -x a").is_ok());
    }

    #[test]
    fn suggestions_only_for_close_matches() {
        for (typed, candidate) in [
            ("--jsn", "--json"),
            ("--netwrok", "--network"),
            ("--verbos", "--verbose"),
            ("--policcy", "--policy"),
            ("ful", "full"),
        ] {
            assert!(is_close_match(typed, candidate), "{typed} ~ {candidate}");
        }
        for (typed, candidate) in [
            ("--bogus", "--verbose"),
            ("--c", "--cpu"),
            ("--c", "--color"),
            ("--x", "--rw"),
            ("bogus", "full"),
            ("--json", "--json"),
        ] {
            assert!(!is_close_match(typed, candidate), "{typed} !~ {candidate}");
        }
        for (line, suggestion) in [
            ("boxpy render --bogus", None),
            ("boxpy render --verbos", None),
            ("boxpy exec --c 1 -- sh", None),
            ("boxpy doctor --jsno", Some("--json")),
            ("boxpy exec --netwrk full -- sh", Some("--network")),
            ("boxpy run --network bogus x.py", None),
            ("boxpy run --network ful x.py", Some("full")),
        ] {
            let text = parse_line(line).expect_err(line).to_string();
            match suggestion {
                Some(suggestion) => assert!(
                    text.contains(&format!("similar value exists: '{suggestion}'"))
                        || text.contains(&format!("similar argument exists: '{suggestion}'")),
                    "{line}: {text}"
                ),
                None => assert!(!text.contains("similar"), "{line}: {text}"),
            }
            // The usage line never shows an option the user did not give.
            assert!(!text.contains("--version"), "{line}: {text}");
        }
    }

    #[test]
    fn json_is_requested_only_among_boxpys_options() {
        for (line, expected) in [
            ("boxpy run --json --network bogus -c 1", true),
            ("boxpy run --network bogus --json x.py", true),
            ("boxpy --color never run --json --bogus", true),
            ("boxpy doctor --json --bogus", true),
            ("boxpy exec --json --bogus -- sh", true),
            ("boxpy run --network bogus x.py --json", false),
            ("boxpy run --network bogus -c 1 --json", false),
            ("boxpy exec --bogus -- sh --json", false),
            ("boxpy run --env --json x.py", true),
        ] {
            let args = os(&line.split(' ').collect::<Vec<_>>());
            assert_eq!(json_requested(&args), expected, "{line}");
        }
    }

    #[test]
    fn clap_messages_follow_the_color_option() {
        for (line, expected) in [
            ("boxpy --color never rnu", Some(ColorChoice::Never)),
            (
                "boxpy run --color=always --network bogus x.py",
                Some(ColorChoice::Always),
            ),
            ("boxpy run --color never -c", Some(ColorChoice::Never)),
            ("boxpy run --network bogus x.py --color never", None),
            ("boxpy exec --bogus -- sh --color never", None),
            ("boxpy doctor --color bogus", None),
        ] {
            let args = os(&line.split(' ').collect::<Vec<_>>());
            use clap::CommandFactory;
            assert_eq!(requested_color(&Cli::command(), &args), expected, "{line}");
        }
    }

    #[test]
    fn color_is_global_and_reaches_the_sandbox_options() {
        for line in [
            "boxpy --color never run -c pass",
            "boxpy run --color never -c pass",
            "boxpy run --color=never x.py",
        ] {
            let cli = parse_line(line).expect(line);
            assert_eq!(cli.color, ColorChoice::Never, "{line}");
            let Command::Run(run) = cli.command else {
                panic!("{line}")
            };
            assert_eq!(run.sandbox.color, ColorChoice::Never, "{line}");
        }
        for line in [
            "boxpy doctor --color always",
            "boxpy policy list --color never",
            "boxpy render --color never",
        ] {
            assert!(parse_line(line).is_ok(), "{line}");
        }
    }

    #[test]
    fn each_command_takes_only_the_options_it_uses() {
        for line in [
            "boxpy render -q",
            "boxpy render --verbose",
            "boxpy render --audit-log a.jsonl",
            "boxpy render --mkdir",
            "boxpy doctor --network full",
            "boxpy completions bash --json",
            "boxpy policy show -q",
            "boxpy policy show --venv v",
            "boxpy policy show --mkdir",
            "boxpy policy trust boxpy.toml -w elsewhere",
        ] {
            assert!(parse_line(line).is_err(), "{line} should be refused");
        }
        for line in [
            "boxpy render --json -P strict --ro /a --hide *.csv --memory 1GiB",
            "boxpy exec -q -v --audit-log a.jsonl --json -- sh",
            "boxpy nbexec -q -v --audit-log a.jsonl --json n.ipynb",
            "boxpy policy show strict --ro /a --rw /b --network full --timeout 1s --cpu 1s --memory 1GiB",
        ] {
            assert!(parse_line(line).is_ok(), "{line} should be accepted");
        }
    }

    #[test]
    fn clap_definition_is_valid() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}

#[cfg(test)]
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
        files.push((format!("completions/{name}"), completions(shell)));
    }
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    man_pages(&command, "boxpy", None, &mut files);
    files
}

/// Shell completions for `shell`, with `-P`/`--policy` completing the shipped policy names
/// as well as files (clap's generators know only files there).
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    use clap::CommandFactory;
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "boxpy", &mut out);
    let script = String::from_utf8_lossy(&out).into_owned();
    let names: Vec<&str> = crate::policy::BUILTIN_POLICIES
        .iter()
        .map(|(name, _, _)| *name)
        .collect();
    let words = names.join(" ");
    let script = match shell {
        clap_complete::Shell::Bash => script
            .replace(
                "                --policy)\n                    COMPREPLY=($(compgen -f \"${cur}\"))",
                &format!("                --policy)\n                    COMPREPLY=($(compgen -W \"{words}\" -- \"${{cur}}\") $(compgen -f \"${{cur}}\"))"),
            )
            .replace(
                "                -P)\n                    COMPREPLY=($(compgen -f \"${cur}\"))",
                &format!("                -P)\n                    COMPREPLY=($(compgen -W \"{words}\" -- \"${{cur}}\") $(compgen -f \"${{cur}}\"))"),
            ),
        clap_complete::Shell::Zsh => script.replace(
            ":NAME|FILE:_default' \\",
            &format!(":NAME|FILE:_alternative \"policies:shipped policy:({words})\" \"files:policy file:_files\"' \\"),
        ),
        clap_complete::Shell::Fish => script
            .lines()
            .map(|line| {
                if line.contains(" -s P -l policy ") {
                    format!("{line} -a \"{words}\"")
                } else {
                    line.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n",
        _ => script,
    };
    script.into_bytes()
}

#[cfg(test)]
/// Escapes text for roff: backslashes, hyphens (so they stay ASCII `-` to copy and
/// search), and a leading `.` or `'`.
fn roff_escape(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

#[cfg(test)]
/// The man page of `command` (named `name`, e.g. `boxpy-policy`) and of each of its
/// subcommands: clap_mangen's sections, with boxpy's own SYNOPSIS (clap's usage lines;
/// clap_mangen prints a short option's value as `[-c  ]`), EXAMPLES, EXIT STATUS,
/// ENVIRONMENT and SEE ALSO (only pages that exist).
fn man_pages(
    command: &clap::Command,
    name: &str,
    parent: Option<&str>,
    files: &mut Vec<(String, Vec<u8>)>,
) {
    use std::fmt::Write as _;
    let page = command.clone().name(name.to_owned());
    let man = clap_mangen::Man::new(page.clone());
    let mut out = Vec::new();
    let _ = man.render_title(&mut out);
    let _ = man.render_name_section(&mut out);
    let mut text = String::from(".SH SYNOPSIS\n");
    let usage = command.clone().render_usage().to_string();
    for line in usage.lines() {
        let line = line.trim().trim_start_matches("Usage:").trim();
        let _ = writeln!(text, ".br\n\\fB{}\\fR", roff_escape(line));
    }
    out.extend_from_slice(text.as_bytes());
    let _ = man.render_description_section(&mut out);
    if command
        .get_arguments()
        .any(|argument| !argument.is_hide_set())
    {
        let _ = man.render_options_section(&mut out);
    }
    if command.has_subcommands() {
        let _ = man.render_subcommands_section(&mut out);
    }
    let short_name = command.get_name();
    let mut text = String::new();
    if let Some(note) = note(short_name) {
        let _ = writeln!(text, ".SH NOTES\n{}", roff_escape(note));
    }
    let examples = examples(short_name);
    if !examples.is_empty() {
        text.push_str(".SH EXAMPLES\n");
        for (what, line) in examples {
            let _ = writeln!(
                text,
                ".PP\n{}:\n.PP\n.RS 4\n.nf\n{}\n.fi\n.RE",
                roff_escape(what),
                roff_escape(line)
            );
        }
    }
    text.push_str(&roff_escape_lines(EXIT_STATUS));
    text.push_str(&roff_escape_lines(ENVIRONMENT));
    let mut see_also: Vec<String> = Vec::new();
    if name != "boxpy" {
        see_also.push("boxpy(1)".to_owned());
    }
    if let Some(parent) = parent.filter(|parent| *parent != "boxpy") {
        see_also.push(format!("{parent}(1)"));
    }
    see_also.push("boxpy.toml(5)".to_owned());
    see_also.push("bwrap(1)".to_owned());
    let _ = writeln!(
        text,
        ".SH \"SEE ALSO\"\n{}",
        see_also
            .iter()
            .map(|page| format!("\\fB{}\\fR", roff_escape(page)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    out.extend_from_slice(text.as_bytes());
    let _ = man.render_version_section(&mut out);
    files.push((format!("man/{name}.1"), out));
    for subcommand in command.get_subcommands() {
        let sub_name = format!("{name}-{}", subcommand.get_name());
        man_pages(subcommand, &sub_name, Some(name), files);
    }
}

#[cfg(test)]
/// A section's source: `.SH` lines and `.TP` items are roff, the rest is text to escape.
fn roff_escape_lines(source: &str) -> String {
    let mut text = String::new();
    for line in source.lines() {
        if line.starts_with(".SH") || line.starts_with(".TP") || line.starts_with(".PP") {
            text.push_str(line);
        } else if let Some(bold) = line.strip_prefix("**") {
            text.push_str(&format!("\\fB{}\\fR", roff_escape(bold)));
        } else {
            text.push_str(&roff_escape(line));
        }
        text.push('\n');
    }
    text
}

#[cfg(test)]
/// The EXIT STATUS section of every page (SPEC §5).
const EXIT_STATUS: &str = ".SH \"EXIT STATUS\"
.TP
**the program's own code
when it exited normally.
.TP
**128+N
the program was killed by signal N.
.TP
**124
boxpy stopped it at limits.timeout (--timeout).
.TP
**125
boxpy failed before the program ran: a usage error, a bad policy, no bwrap, namespaces refused. With --json the failure is one JSON object on stdout.
.TP
**126
the interpreter exists but cannot be executed.
.TP
**127
the interpreter (or the venv) was not found.
";

#[cfg(test)]
/// The ENVIRONMENT section of every page: what boxpy itself reads (the program's own
/// environment is cleared; see env.pass in boxpy.toml(5)).
const ENVIRONMENT: &str = ".SH ENVIRONMENT
.TP
**BOXPY_POLICY
the policy (a shipped name or a file) when no -P/--policy is given; it comes before boxpy.toml found from the working directory.
.TP
**VIRTUAL_ENV
the venv to use when neither --venv nor python.venv names one.
.TP
**CONDA_PREFIX
the conda environment to use after VIRTUAL_ENV (before .venv; conda's base environment, as CONDA_DEFAULT_ENV=base says, after .venv).
.TP
**PATH
where boxpy finds bwrap and, with no venv, python3.
.TP
**BOXPY_BWRAP
the bwrap binary to use instead of the one on PATH.
.TP
**XDG_CONFIG_HOME
the user's policy is $XDG_CONFIG_HOME/boxpy/policy.toml (default ~/.config/boxpy/policy.toml).
.TP
**XDG_STATE_HOME
where boxpy policy trust keeps its records (default ~/.local/state/boxpy).
.TP
**NO_COLOR
when set and not empty, --color auto prints no colour.
.TP
**HOME
the caller's home: ~ in policies and flags; never visible inside the sandbox unless a policy names a path in it.
";

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
