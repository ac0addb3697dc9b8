//! The integration tests' harness: run the real `boxpy` binary against real bwrap and real
//! venvs, as the caller or as an unprivileged user, from a private temporary workspace.
//!
//! - [`Runner`] says who runs boxpy. [`Runner::Unprivileged`] runs it through
//!   `setpriv --reuid --regid --init-groups --reset-env` as the `boxpy-test` user when the
//!   tests run as root (CI creates the user); otherwise it is the caller again.
//! - [`Workspace`] is one test's temporary directory: a root-owned, world-traversable
//!   `TempDir` holding `work/` (the workdir, owned by the runner's user) and whatever else
//!   the test puts next to it.
//! - [`Boxpy`] builds one invocation (`boxpy(&ws).args([...]).code("...").run()`) and
//!   returns an [`Output`]; [`Boxpy::spawn`] gives a [`Running`] process for signal tests.
//! - [`venv`] creates and caches the venvs under `target/test-venvs/<name>`, atomically
//!   (build in a temporary sibling, then `rename` into place), so parallel test threads and
//!   processes (`cargo nextest`) never see a half-made venv.
//! - Every Python snippet starts by printing [`MARKER`]; [`assert_started`] checks it, so a
//!   security test never passes because the sandbox failed to start.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The boxpy binary under test.
pub const BOXPY: &str = env!("CARGO_BIN_EXE_boxpy");

/// The line every snippet prints first: proof that Python started inside the sandbox.
pub const MARKER: &str = "boxpy-test: python started";

/// The user the unprivileged variants run as (CI: `useradd --create-home boxpy-test`).
pub const TEST_USER: &str = "boxpy-test";

/// How long one boxpy run may take before the harness kills it and fails the test.
const RUN_DEADLINE: Duration = Duration::from_secs(90);

/// `PATH` for the unprivileged user, as a login would set it.
const USER_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

// ---------------------------------------------------------------------------------------
// Who runs boxpy
// ---------------------------------------------------------------------------------------

/// An ordinary user account (uid, gid, home).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestUser {
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
}

/// Who runs boxpy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runner {
    /// The user running the tests (root in CI).
    Caller,
    /// The `boxpy-test` user, entered with `setpriv` (only when the tests run as root).
    Unprivileged(TestUser),
}

/// Whether the test process runs as root.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

impl Runner {
    /// The unprivileged runner, or `None` (with a printed reason) when it cannot be used.
    /// Not root: the tests already run unprivileged, so it is the caller.
    pub fn unprivileged() -> Option<Runner> {
        if !is_root() {
            eprintln!(
                "note: the tests do not run as root; the unprivileged variant runs as the current user"
            );
            return Some(Runner::Caller);
        }
        match nix::unistd::User::from_name(TEST_USER) {
            Ok(Some(user)) => Some(Runner::Unprivileged(TestUser {
                uid: user.uid.as_raw(),
                gid: user.gid.as_raw(),
                home: user.dir,
            })),
            _ => {
                eprintln!(
                    "SKIPPED: user `{TEST_USER}` does not exist, so the unprivileged variant cannot run \
                     (create it with `useradd --create-home {TEST_USER}`)"
                );
                None
            }
        }
    }

    /// The home directory of the user boxpy runs as.
    pub fn home(&self) -> PathBuf {
        match self {
            Runner::Caller => std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|home| home.is_absolute())
                .or_else(|| {
                    nix::unistd::User::from_uid(nix::unistd::getuid())
                        .ok()
                        .flatten()
                        .map(|user| user.dir)
                })
                .expect("the caller has a home directory"),
            Runner::Unprivileged(user) => user.home.clone(),
        }
    }

    /// Hands `path` to the runner's user (a no-op for the caller).
    /// The path itself: a symlink is given to the user, never what it points to (a test's
    /// `.venv -> /` once made the unprivileged user the owner of the host's `/`).
    pub fn chown(&self, path: &Path) {
        if let Runner::Unprivileged(user) = self {
            std::os::unix::fs::lchown(path, Some(user.uid), Some(user.gid))
                .unwrap_or_else(|error| panic!("chown {}: {error}", path.display()));
        }
    }

    /// [`Runner::chown`] for a whole tree (symlinks themselves, not their targets).
    pub fn chown_tree(&self, path: &Path) {
        let Runner::Unprivileged(user) = self else {
            return;
        };
        let status = Command::new("chown")
            .arg("-R")
            .arg("-h")
            .arg(format!("{}:{}", user.uid, user.gid))
            .arg(path)
            .status()
            .expect("run chown");
        assert!(status.success(), "chown -R {}", path.display());
    }

    /// A host command run as the runner's user (through `setpriv` for the unprivileged
    /// one; `setpriv` execs, so the spawned pid is the program's own).
    pub fn host_command(&self, program: impl AsRef<OsStr>) -> Command {
        match self {
            Runner::Caller => Command::new(program),
            Runner::Unprivileged(user) => {
                let mut command = Command::new("setpriv");
                command
                    .arg(format!("--reuid={}", user.uid))
                    .arg(format!("--regid={}", user.gid))
                    .args(["--init-groups", "--"])
                    .arg(program);
                command
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            Runner::Caller => format!("the caller (uid {})", nix::unistd::getuid()),
            Runner::Unprivileged(user) => format!("`{TEST_USER}` (uid {})", user.uid),
        }
    }
}

/// Defines a test that runs twice: as the caller (`NAME::as_caller`) and as an
/// unprivileged user (`NAME::as_unprivileged`, skipped with a message when impossible).
///
/// ```ignore
/// runner_tests! {
///     /// What it checks.
///     fn home_is_private(runner) { ... }
/// }
/// ```
macro_rules! runner_tests {
    ($(
        $(#[$meta:meta])*
        fn $name:ident($runner:ident) $body:block
    )*) => {$(
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn body($runner: $crate::harness::Runner) $body

            #[test]
            fn as_caller() {
                body($crate::harness::Runner::Caller);
            }

            #[test]
            fn as_unprivileged() {
                if let Some(runner) = $crate::harness::Runner::unprivileged() {
                    body(runner);
                }
            }
        }
    )*};
}
pub(crate) use runner_tests;

/// The cached venv of `kind`, or return from the test with a `SKIPPED` line when it cannot
/// be made (no network for pip, say).
macro_rules! require_venv {
    ($kind:expr) => {
        match $crate::harness::venv($kind) {
            Ok(venv) => venv,
            Err(why) => {
                eprintln!("SKIPPED: no venv {:?} ({why})", $kind);
                return;
            }
        }
    };
}
pub(crate) use require_venv;

// ---------------------------------------------------------------------------------------
// Workspaces
// ---------------------------------------------------------------------------------------

/// One test's temporary directory. `work/` is the workdir; everything else in `root` is
/// outside the workdir (and so outside the sandbox unless mounted).
pub struct Workspace {
    root: tempfile::TempDir,
    work: PathBuf,
    runner: Runner,
}

impl Workspace {
    /// A workspace under the system temp dir (host `/tmp`).
    pub fn new(runner: &Runner) -> Workspace {
        Workspace::new_in(&std::env::temp_dir(), runner)
    }

    /// A workspace under `parent`.
    pub fn new_in(parent: &Path, runner: &Runner) -> Workspace {
        std::fs::create_dir_all(parent).expect("create the workspace parent");
        let root = tempfile::Builder::new()
            .prefix("boxpy-test-")
            .tempdir_in(parent)
            .expect("create a temporary directory");
        set_mode(root.path(), 0o755);
        let root_path = root.path().canonicalize().expect("canonical temp dir");
        let work = root_path.join("work");
        std::fs::create_dir(&work).expect("create work/");
        runner.chown(&work);
        let cache = root_path.join("xdg-cache");
        std::fs::create_dir(&cache).expect("create xdg-cache/");
        set_mode(&cache, 0o700);
        runner.chown(&cache);
        Workspace {
            root,
            work,
            runner: runner.clone(),
        }
    }

    /// The workspace root (the workdir's parent).
    pub fn root(&self) -> PathBuf {
        self.root.path().canonicalize().expect("canonical temp dir")
    }

    /// The workdir.
    pub fn work(&self) -> &Path {
        &self.work
    }

    /// Writes `contents` to `relative` (relative to the root, e.g. `work/x.py`), creating
    /// parent directories; everything created belongs to the runner's user.
    pub fn write(&self, relative: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.root().join(relative);
        self.create_parents(&path);
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("write {relative}: {e}"));
        self.runner.chown(&path);
        path
    }

    /// Creates the directory `relative` (relative to the root), owned by the runner's user.
    pub fn dir(&self, relative: &str) -> PathBuf {
        let path = self.root().join(relative);
        self.create_parents(&path);
        if !path.exists() {
            std::fs::create_dir(&path).unwrap_or_else(|e| panic!("mkdir {relative}: {e}"));
        }
        self.runner.chown(&path);
        path
    }

    fn create_parents(&self, path: &Path) {
        let root = self.root();
        let parent = path.parent().expect("a parent");
        let mut missing = Vec::new();
        let mut current = parent;
        while !current.exists() && current.starts_with(&root) {
            missing.push(current.to_path_buf());
            current = current.parent().expect("a parent");
        }
        for dir in missing.iter().rev() {
            std::fs::create_dir(dir).expect("create a directory");
            self.runner.chown(dir);
        }
    }

    /// A fresh venv (`python3 -m venv --without-pip`) at `relative`, owned by the runner's
    /// user, so only the sandbox (not file ownership) can stop writes into it.
    pub fn make_venv(&self, relative: &str) -> PathBuf {
        let path = self.root().join(relative);
        self.create_parents(&path);
        run_checked(
            Command::new("/usr/bin/python3")
                .args(["-m", "venv", "--without-pip"])
                .arg(&path),
        )
        .unwrap_or_else(|error| panic!("{error}"));
        self.runner.chown_tree(&path);
        path
    }
}

pub fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {:o} {}: {e}", mode, path.display()));
}

/// A name no other test (thread or process) uses: `PREFIX-PID-COUNTER-NANOS`.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// Removes a host file or directory when dropped (secrets planted in real system paths).
pub struct RemoveOnDrop(pub PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if self.0.is_dir() {
            let _ = std::fs::remove_dir_all(&self.0);
        } else {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Running boxpy
// ---------------------------------------------------------------------------------------

/// One boxpy invocation being built.
pub struct Boxpy {
    runner: Runner,
    args: Vec<OsString>,
    cwd: PathBuf,
    env: Vec<(OsString, OsString)>,
    stdin: Option<Vec<u8>>,
    xdg_config_home: PathBuf,
    xdg_cache_home: PathBuf,
    /// A program (and its arguments) that starts boxpy: it gets boxpy's path and arguments
    /// after its own (see [`Boxpy::through`]).
    wrapper: Vec<OsString>,
}

/// `boxpy` with no arguments yet, run by the workspace's runner from its workdir.
pub fn boxpy(workspace: &Workspace) -> Boxpy {
    Boxpy {
        runner: workspace.runner.clone(),
        args: Vec::new(),
        cwd: workspace.work.clone(),
        env: Vec::new(),
        stdin: None,
        // An empty config home, so a developer's own `~/.config/boxpy/policy.toml` never
        // changes what the tests see.
        xdg_config_home: workspace.root().join("no-xdg-config"),
        // The workspace's own cache directory, so a run that primes a library cache
        // (`boxpy cache`) never writes into the user's `~/.cache`.
        xdg_cache_home: workspace.root().join("xdg-cache"),
        wrapper: Vec::new(),
    }
}

/// `boxpy run --venv <the cached Debian venv>`: what most tests start from.
pub fn run_in_venv(workspace: &Workspace) -> Boxpy {
    let venv = venv(Venv::Debian).unwrap_or_else(|error| panic!("{error}"));
    boxpy(workspace)
        .arg("run")
        .arg("--venv")
        .arg(venv.as_os_str())
}

impl Boxpy {
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Boxpy {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Boxpy
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// `-c SNIPPET`, the snippet dedented and preceded by the [`MARKER`] line.
    pub fn code(self, snippet: &str) -> Boxpy {
        self.arg("-c").arg(python(snippet))
    }

    /// Sets a variable in boxpy's own environment.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Boxpy {
        self.env
            .push((key.as_ref().to_os_string(), value.as_ref().to_os_string()));
        self
    }

    /// Starts boxpy through `wrapper` (a program and its arguments, run as the runner's
    /// user with the same environment), which receives boxpy's path and arguments after its
    /// own: e.g. a Python script that opens descriptors and `execv`s boxpy.
    pub fn through<I, S>(mut self, wrapper: I) -> Boxpy
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.wrapper = wrapper
            .into_iter()
            .map(|a| a.as_ref().to_os_string())
            .collect();
        self
    }

    /// Runs boxpy from `dir` instead of the workdir.
    pub fn cwd(mut self, dir: &Path) -> Boxpy {
        self.cwd = dir.to_path_buf();
        self
    }

    /// Bytes for boxpy's stdin (default: empty, closed).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Boxpy {
        self.stdin = Some(bytes.into());
        self
    }

    /// The process to spawn: boxpy itself, or setpriv + env + boxpy for the unprivileged
    /// user. The environment is always explicit: HOME, PATH, an empty XDG_CONFIG_HOME and
    /// what the test set; nothing from the developer's shell (VIRTUAL_ENV, BOXPY_POLICY, ...).
    fn command(&self) -> Command {
        let mut env: Vec<(OsString, OsString)> = Vec::new();
        let mut set = |key: &str, value: OsString| env.push((key.into(), value));
        set("HOME", self.runner.home().into_os_string());
        match &self.runner {
            Runner::Caller => set(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| USER_PATH.into()),
            ),
            Runner::Unprivileged(_) => set("PATH", USER_PATH.into()),
        }
        set(
            "XDG_CONFIG_HOME",
            self.xdg_config_home.clone().into_os_string(),
        );
        set(
            "XDG_CACHE_HOME",
            self.xdg_cache_home.clone().into_os_string(),
        );
        for (key, value) in &self.env {
            env.retain(|(existing, _)| existing != key);
            env.push((key.clone(), value.clone()));
        }
        let mut command = match &self.runner {
            Runner::Caller => {
                let mut command = match self.wrapper.split_first() {
                    Some((program, arguments)) => {
                        let mut command = Command::new(program);
                        command.args(arguments).arg(BOXPY);
                        command
                    }
                    None => Command::new(BOXPY),
                };
                command.env_clear().envs(env);
                command
            }
            Runner::Unprivileged(user) => {
                // setpriv and env both exec, so the spawned pid is boxpy's own pid.
                let mut command = Command::new("setpriv");
                command
                    .env_clear()
                    .arg(format!("--reuid={}", user.uid))
                    .arg(format!("--regid={}", user.gid))
                    .args(["--init-groups", "--reset-env", "--", "/usr/bin/env", "-i"]);
                for (key, value) in env {
                    let mut assignment = key;
                    assignment.push("=");
                    assignment.push(value);
                    command.arg(assignment);
                }
                command.args(&self.wrapper).arg(unprivileged_binary());
                command
            }
        };
        command.args(&self.args).current_dir(&self.cwd);
        command
    }

    /// Runs boxpy to completion and returns what it did.
    pub fn run(self) -> Output {
        self.spawn().finish()
    }

    /// Starts boxpy with its stdout and stderr captured.
    pub fn spawn(self) -> Running {
        let mut command = self.command();
        command
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let description = format!(
            "boxpy {} (as {})",
            self.args
                .iter()
                .map(|arg| clip_argument(&arg.to_string_lossy()))
                .collect::<Vec<_>>()
                .join(" "),
            self.runner.describe()
        );
        let description = if self.wrapper.is_empty() {
            description
        } else {
            let wrapper: Vec<String> = self
                .wrapper
                .iter()
                .map(|arg| clip_argument(&arg.to_string_lossy()))
                .collect();
            format!("{description} through {}", wrapper.join(" "))
        };
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {description}: {error}"));
        if let Some(bytes) = self.stdin {
            let mut stdin = child.stdin.take().expect("stdin");
            std::thread::spawn(move || {
                let _ = stdin.write_all(&bytes);
            });
        }
        let stdout = read_in_background(child.stdout.take().expect("stdout"));
        let stderr = read_in_background(child.stderr.take().expect("stderr"));
        Running {
            child,
            description,
            started: Instant::now(),
            stdout,
            stdout_bytes: Vec::new(),
            stderr,
        }
    }
}

/// One argument for a test failure message: long snippets are cut, newlines shown as `⏎`.
fn clip_argument(argument: &str) -> String {
    const LIMIT: usize = 160;
    let marker_line = format!("print({MARKER:?}, flush=True)\n");
    let argument = argument.strip_prefix(&marker_line).unwrap_or(argument);
    let flat = argument.replace('\n', "⏎");
    if flat.chars().count() > LIMIT {
        format!("'{}…'", flat.chars().take(LIMIT).collect::<String>())
    } else if flat.contains(' ') {
        format!("'{flat}'")
    } else {
        flat
    }
}

/// Sends chunks of `reader` over a channel until end-of-file.
fn read_in_background(mut reader: impl Read + Send + 'static) -> Receiver<Vec<u8>> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match reader.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(count) => {
                    if sender.send(chunk[..count].to_vec()).is_err() {
                        return;
                    }
                }
            }
        }
    });
    receiver
}

/// Drains `receiver` into `into` until the sender is gone; false at the deadline.
fn drain(receiver: &Receiver<Vec<u8>>, into: &mut Vec<u8>, deadline: Instant) -> bool {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(left) {
            Ok(chunk) => into.extend_from_slice(&chunk),
            Err(RecvTimeoutError::Disconnected) => return true,
            Err(RecvTimeoutError::Timeout) => return false,
        }
    }
}

/// A boxpy process that is running.
pub struct Running {
    child: Child,
    description: String,
    started: Instant,
    stdout: Receiver<Vec<u8>>,
    stdout_bytes: Vec<u8>,
    stderr: Receiver<Vec<u8>>,
}

impl Running {
    /// boxpy's pid (setpriv and env exec into it).
    pub fn pid(&self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(self.child.id() as i32)
    }

    /// Waits until stdout contains `needle` (e.g. the program saying it is ready).
    pub fn wait_for_stdout(&mut self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !String::from_utf8_lossy(&self.stdout_bytes).contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(chunk) => self.stdout_bytes.extend_from_slice(&chunk),
                Err(_) => {
                    let _ = self.child.kill();
                    let output = self.collect(Instant::now() + Duration::from_secs(5));
                    panic!("{needle:?} never appeared on stdout of {output}");
                }
            }
        }
    }

    /// Sends `signal` to boxpy.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(self.pid(), signal).expect("signal boxpy");
    }

    /// Waits for boxpy to exit (killing it at the harness deadline) and returns its output.
    pub fn finish(mut self) -> Output {
        let deadline = self.started + RUN_DEADLINE;
        let output = self.collect(deadline);
        if output.timed_out {
            panic!(
                "{} did not finish within {RUN_DEADLINE:?}: {output}",
                self.description
            );
        }
        output
    }

    fn collect(&mut self, deadline: Instant) -> Output {
        let mut timed_out = false;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for boxpy") {
                break status;
            }
            if Instant::now() >= deadline {
                timed_out = true;
                let _ = self.child.kill();
                break self.child.wait().expect("wait for boxpy");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        // A program that outlived boxpy could hold the pipes open: bound the wait.
        let pipes_deadline = Instant::now() + Duration::from_secs(5);
        let mut stdout = std::mem::take(&mut self.stdout_bytes);
        let stdout_closed = drain(&self.stdout, &mut stdout, pipes_deadline);
        let mut stderr = Vec::new();
        let stderr_closed = drain(&self.stderr, &mut stderr, pipes_deadline);
        use std::os::unix::process::ExitStatusExt;
        Output {
            description: self.description.clone(),
            code: status.code(),
            signal: status.signal(),
            stdout,
            stderr,
            timed_out,
            pipes_left_open: !(stdout_closed && stderr_closed),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A test that failed half-way must not leave boxpy running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What a boxpy run did.
pub struct Output {
    pub description: String,
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub timed_out: bool,
    /// Someone (a surviving sandboxed process?) kept boxpy's stdout or stderr open.
    pub pipes_left_open: bool,
}

impl Output {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// The stdout line that starts with `prefix`, without the prefix.
    pub fn line_after(&self, prefix: &str) -> String {
        self.stdout_text()
            .lines()
            .find_map(|line| line.strip_prefix(prefix).map(str::to_owned))
            .unwrap_or_else(|| panic!("no stdout line starts with {prefix:?}: {self}"))
    }

    /// The program's stdout parsed as exactly one JSON value (`--json`).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.stdout)
            .unwrap_or_else(|error| panic!("stdout is not one JSON value ({error}): {self}"))
    }
}

impl fmt::Display for Output {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        fn clip(bytes: &[u8]) -> String {
            const LIMIT: usize = 6000;
            let text = String::from_utf8_lossy(bytes);
            if text.len() > LIMIT {
                let mut end = LIMIT;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                format!("{}... [{} bytes in all]", &text[..end], bytes.len())
            } else {
                text.into_owned()
            }
        }
        write!(
            formatter,
            "{}\n  exit code: {:?}, signal: {:?}{}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--------------",
            self.description,
            self.code,
            self.signal,
            if self.pipes_left_open {
                " (pipes left open by a surviving process)"
            } else {
                ""
            },
            clip(&self.stdout),
            clip(&self.stderr)
        )
    }
}

impl fmt::Debug for Output {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        fmt::Display::fmt(self, formatter)
    }
}

/// A snippet as the program to run: dedented and preceded by the [`MARKER`] line.
pub fn python(snippet: &str) -> String {
    format!("print({MARKER:?}, flush=True)\n{}", dedent(snippet))
}

/// Removes the common indentation of `text` and its leading blank line.
pub fn dedent(text: &str) -> String {
    let text = text.strip_prefix('\n').unwrap_or(text);
    let indent = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    text.lines()
        .map(|line| line.get(indent..).unwrap_or("").trim_end())
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// A Python string literal for `text` (JSON strings are valid Python literals).
pub fn py(text: impl AsRef<str>) -> String {
    serde_json::to_string(text.as_ref()).expect("a string serializes")
}

/// A Python string literal for a path.
pub fn py_path(path: &Path) -> String {
    py(path.to_str().expect("UTF-8 test paths"))
}

/// Python for `attempt_write(path)`: tries to create `path` and prints
/// `write PATH: refused ERRNO-NAME` or `write PATH: WRITTEN`. See [`assert_write_refused`].
pub const WRITE_PROBE: &str = r#"
def attempt_write(path, text="written by the sandbox"):
    import errno
    try:
        with open(path, "w") as handle:
            handle.write(text)
    except OSError as error:
        print(f"write {path}: refused {errno.errorcode.get(error.errno, error.errno)}", flush=True)
    else:
        print(f"write {path}: WRITTEN", flush=True)
"#;

/// Python that defines `attempt_write` (see [`WRITE_PROBE`]) and then runs `snippet`.
pub fn probe_then(snippet: &str) -> String {
    format!("{WRITE_PROBE}\n{}", dedent(snippet))
}

/// Asserts that the marker line is on stdout: Python really started in the sandbox.
#[track_caller]
pub fn assert_started(output: &Output) {
    assert!(
        output.stdout_text().lines().any(|line| line == MARKER),
        "python did not start (no marker line on stdout): {output}"
    );
}

/// Asserts that Python did not start (boxpy refused before running anything).
#[track_caller]
pub fn assert_not_started(output: &Output) {
    assert!(
        !output.stdout_text().contains(MARKER),
        "python started although boxpy should have refused: {output}"
    );
}

/// Asserts boxpy's exit code.
#[track_caller]
pub fn assert_exit(output: &Output, code: i32) {
    assert_eq!(output.code, Some(code), "unexpected exit code: {output}");
}

/// Asserts that `attempt_write(path)` ran and was refused with one of `errnos`.
#[track_caller]
pub fn assert_write_refused(output: &Output, path: &Path, errnos: &[&str]) {
    assert_started(output);
    let result = output.line_after(&format!("write {}: ", path.display()));
    let refused = result
        .strip_prefix("refused ")
        .is_some_and(|errno| errnos.contains(&errno));
    assert!(
        refused,
        "writing {} should fail with one of {errnos:?}, got `{result}`: {output}",
        path.display()
    );
}

/// Asserts that `attempt_write(path)` ran and succeeded.
#[track_caller]
pub fn assert_written(output: &Output, path: &Path) {
    assert_started(output);
    let result = output.line_after(&format!("write {}: ", path.display()));
    assert_eq!(
        result,
        "WRITTEN",
        "writing {} should succeed: {output}",
        path.display()
    );
}

/// Asserts that nothing exists at `path` on the host.
#[track_caller]
pub fn assert_absent_on_host(path: &Path) {
    assert!(
        path.symlink_metadata().is_err(),
        "{} appeared on the host",
        path.display()
    );
}

/// Every process on the host (but the test itself) with `token` in its command line.
pub fn host_processes_with(token: &str) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != std::process::id() as i32)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains(token))
        })
        .collect()
}

/// Polls `probe` every 50 ms until it returns something or `within` passes.
pub fn wait_until<T>(within: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = probe() {
            return Some(found);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Fails if a host process still carries `token` 5 s from now (killing what is left, by
/// pid, so a failed test leaves nothing behind).
#[track_caller]
pub fn assert_no_process_left(token: &str) {
    let gone = wait_until(Duration::from_secs(5), || {
        host_processes_with(token).is_empty().then_some(())
    });
    if gone.is_none() {
        let left: Vec<String> = host_processes_with(token)
            .into_iter()
            .map(|pid| {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
                format!(
                    "pid {pid} ({})",
                    String::from_utf8_lossy(&cmdline).replace('\0', " ")
                )
            })
            .collect();
        panic!("outlived boxpy by 5 s: {}", left.join(", "));
    }
}

/// Whether any process on the host has `token` in its command line.
pub fn host_process_with(token: &str) -> Option<i32> {
    let entries = std::fs::read_dir("/proc").ok()?;
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() as i32 {
            continue;
        }
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            if String::from_utf8_lossy(&cmdline).contains(token) {
                return Some(pid);
            }
        }
    }
    None
}

// ---------------------------------------------------------------------------------------
// A TCP listener on the host
// ---------------------------------------------------------------------------------------

/// A real listener on the host's 127.0.0.1 that records every connection.
pub struct HostListener {
    listener: std::net::TcpListener,
}

impl HostListener {
    pub fn new() -> HostListener {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        HostListener { listener }
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().expect("local address").port()
    }

    /// Whether a connection is waiting (connections queue in the backlog even unaccepted).
    pub fn connection_arrived(&self) -> bool {
        self.listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let arrived = match self.listener.accept() {
            Ok(_) => true,
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => false,
            Err(error) => panic!("accept: {error}"),
        };
        self.listener
            .set_nonblocking(false)
            .expect("blocking listener");
        arrived
    }

    /// In the background: accepts one connection, reads one line, answers with `reply`
    /// and a newline. The handle yields the line received (None: nobody connected).
    pub fn serve_one_line(
        self,
        reply: String,
        timeout: Duration,
    ) -> std::thread::JoinHandle<Option<String>> {
        std::thread::spawn(move || {
            self.listener.set_nonblocking(true).ok()?;
            let deadline = Instant::now() + timeout;
            let (stream, _) = loop {
                match self.listener.accept() {
                    Ok(connection) => break connection,
                    Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                        if Instant::now() > deadline {
                            return None;
                        }
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(_) => return None,
                }
            };
            stream.set_nonblocking(false).ok()?;
            stream.set_read_timeout(Some(timeout)).ok()?;
            let mut reader = std::io::BufReader::new(stream.try_clone().ok()?);
            let mut line = String::new();
            std::io::BufRead::read_line(&mut reader, &mut line).ok()?;
            let mut stream = stream;
            stream.write_all(format!("{reply}\n").as_bytes()).ok()?;
            Some(line.trim_end().to_owned())
        })
    }
}

// ---------------------------------------------------------------------------------------
// Cached venvs
// ---------------------------------------------------------------------------------------

/// The venvs the harness provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Venv {
    /// `python -m venv` from pyenv's 3.11.7 (under /root: only usable by root).
    Pyenv,
    /// `/usr/bin/python3 -m venv` (Debian's python3): usable by every user.
    Debian,
    /// `uv venv --python /usr/bin/python3`.
    Uv,
    /// `virtualenv -p /usr/bin/python3`.
    Virtualenv,
    /// `/usr/bin/python3 -m venv` with numpy installed by pip (from PyPI).
    Numpy,
    /// `/usr/bin/python3 -m venv` with nbclient, ipykernel and nbformat (for `nbexec`).
    Jupyter,
    /// `/usr/bin/python3 -m venv` with matplotlib (for the library caches, `boxpy cache`).
    Matplotlib,
    /// `/usr/bin/python3 -m venv` with papermill, nbclient, ipykernel, nbformat,
    /// ipywidgets and matplotlib (nbexec's papermill parity; a plotting notebook).
    Papermill,
}

/// pyenv's interpreter for [`Venv::Pyenv`].
pub const PYENV_PYTHON: &str = "/root/.pyenv/versions/3.11.7/bin/python3";

/// Whether every directory above `path` lets other users through (mode o+x), so the
/// unprivileged test user can reach it.
fn others_can_reach(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.ancestors().skip(1).all(|dir| {
        dir.metadata()
            .map(|metadata| metadata.permissions().mode() & 0o001 != 0)
            .unwrap_or(false)
    })
}

/// The root for cached venvs and non-/tmp workspaces: `target/` when the unprivileged user
/// can reach it (the normal case), otherwise `/var/tmp/boxpy-test-shared` (a clone under
/// `/root`, which is mode 700). Never under `/tmp`: some tests need a path outside it.
pub fn shared_root() -> PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
        // Not under /tmp: the sandbox's /tmp is private, so "outside /tmp" tests (a write
        // to the workdir's parent is refused) need their work there (a checkout in /tmp).
        if !target.starts_with("/tmp") && others_can_reach(&target.join("x")) {
            return target;
        }
        let fallback = PathBuf::from("/var/tmp/boxpy-test-shared");
        std::fs::create_dir_all(&fallback).expect("create /var/tmp/boxpy-test-shared");
        set_mode(&fallback, 0o755);
        fallback
    })
    .clone()
}

/// The boxpy binary as the unprivileged user can run it: the build output itself, or a
/// copy under [`shared_root`] when the build directory is private.
pub fn unprivileged_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let built = PathBuf::from(BOXPY);
            if others_can_reach(&built) {
                return built;
            }
            let directory = shared_root().join("bin");
            std::fs::create_dir_all(&directory).expect("create the shared bin dir");
            set_mode(&directory, 0o755);
            // Named after the build, so test processes (nextest runs one per test) share it.
            let stamp = std::fs::metadata(&built)
                .and_then(|metadata| metadata.modified())
                .ok()
                .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|since| since.as_nanos())
                .unwrap_or_default();
            let copy = directory.join(format!("boxpy-{stamp}"));
            if copy.exists() {
                return copy;
            }
            let staging = directory.join(format!(".boxpy-{}", std::process::id()));
            std::fs::copy(&built, &staging).expect("copy the boxpy binary");
            set_mode(&staging, 0o755);
            std::fs::rename(&staging, &copy).expect("install the boxpy binary copy");
            copy
        })
        .clone()
}

/// Where cached venvs live.
pub fn venv_cache_dir() -> PathBuf {
    shared_root().join("test-venvs")
}

/// A place for workspaces outside host `/tmp` (whose parents are not the private /tmp).
pub fn non_tmp_work_dir() -> PathBuf {
    shared_root().join("test-work")
}

/// The cached venv of `kind`, created on first use; `Err` says why it cannot exist here.
pub fn venv(kind: Venv) -> Result<PathBuf, String> {
    static PYENV: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    static DEBIAN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    static UV: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    static VIRTUALENV: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    static NUMPY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    static JUPYTER: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    static MATPLOTLIB: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    static PAPERMILL: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match kind {
        Venv::Pyenv => PYENV
            .get_or_init(|| {
                if !Path::new(PYENV_PYTHON).exists() {
                    return Err(format!("{PYENV_PYTHON} is not present (or not readable)"));
                }
                cached("pyenv", |dest| {
                    run_checked(
                        Command::new(PYENV_PYTHON)
                            .args(["-m", "venv", "--without-pip"])
                            .arg(dest),
                    )
                })
            })
            .clone(),
        Venv::Debian => DEBIAN
            .get_or_init(|| {
                cached("debian", |dest| {
                    run_checked(
                        Command::new("/usr/bin/python3")
                            .args(["-m", "venv", "--without-pip"])
                            .arg(dest),
                    )
                })
            })
            .clone(),
        Venv::Uv => UV
            .get_or_init(|| {
                let tools = tools()?;
                cached("uv", |dest| {
                    run_checked(
                        Command::new(tools.join("bin/uv"))
                            .args(["venv", "--quiet", "--python", "/usr/bin/python3"])
                            .arg(dest)
                            .env("UV_CACHE_DIR", venv_cache_dir().join("uv-cache"))
                            .env("UV_PYTHON_DOWNLOADS", "never"),
                    )
                })
            })
            .clone(),
        Venv::Virtualenv => VIRTUALENV
            .get_or_init(|| {
                let tools = tools()?;
                cached("virtualenv", |dest| {
                    run_checked(
                        Command::new(tools.join("bin/python"))
                            .args(["-m", "virtualenv", "--quiet", "--no-seed", "-p"])
                            .arg("/usr/bin/python3")
                            .arg(dest)
                            .env(
                                "VIRTUALENV_OVERRIDE_APP_DATA",
                                venv_cache_dir().join("virtualenv-app-data"),
                            ),
                    )
                })
            })
            .clone(),
        Venv::Numpy => NUMPY
            .get_or_init(|| debian_venv_with("numpy", &["numpy"]))
            .clone(),
        Venv::Jupyter => JUPYTER
            .get_or_init(|| debian_venv_with("jupyter", &["nbclient", "ipykernel", "nbformat"]))
            .clone(),
        Venv::Matplotlib => MATPLOTLIB
            .get_or_init(|| debian_venv_with("matplotlib", &["matplotlib"]))
            .clone(),
        Venv::Papermill => PAPERMILL
            .get_or_init(|| {
                debian_venv_with(
                    "papermill",
                    &[
                        "papermill",
                        "nbclient",
                        "ipykernel",
                        "nbformat",
                        "ipywidgets",
                        "matplotlib",
                    ],
                )
            })
            .clone(),
    }
}

/// A cached venv of Debian's python3 with `packages` installed by pip (from PyPI).
fn debian_venv_with(name: &str, packages: &[&str]) -> Result<PathBuf, String> {
    cached(name, |dest| {
        run_checked(
            Command::new("/usr/bin/python3")
                .args(["-m", "venv"])
                .arg(dest),
        )?;
        run_checked(
            Command::new(dest.join("bin/python"))
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(["--timeout", "20"])
                .args(packages)
                .env("PIP_NO_INPUT", "1"),
        )
        .map_err(|error| format!("pip could not install {}: {error}", packages.join(", ")))
    })
}

/// The tools venv: Debian's python3 with `uv` and `virtualenv` installed by pip.
fn tools() -> Result<PathBuf, String> {
    static TOOLS: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    TOOLS
        .get_or_init(|| debian_venv_with("tools", &["uv", "virtualenv"]))
        .clone()
}

/// `target/test-venvs/NAME`, made by `create` in a temporary sibling and renamed into
/// place; a lost race deletes ours and uses the winner's.
fn cached(name: &str, create: impl FnOnce(&Path) -> Result<(), String>) -> Result<PathBuf, String> {
    let cache = venv_cache_dir();
    let dest = cache.join(name);
    if dest.join("pyvenv.cfg").is_file() {
        return Ok(dest);
    }
    std::fs::create_dir_all(&cache).map_err(|e| format!("create {}: {e}", cache.display()))?;
    set_mode(&cache, 0o755);
    let scratch = tempfile::Builder::new()
        .prefix(&format!(".{name}-"))
        .tempdir_in(&cache)
        .map_err(|e| format!("temporary dir in {}: {e}", cache.display()))?;
    set_mode(scratch.path(), 0o755);
    let building = scratch.path().join(name);
    create(&building)?;
    match std::fs::rename(&building, &dest) {
        Ok(()) => Ok(dest),
        Err(_) if dest.join("pyvenv.cfg").is_file() => Ok(dest), // another process won
        Err(error) => Err(format!(
            "rename {} -> {}: {error}",
            building.display(),
            dest.display()
        )),
    }
}

/// Runs a setup command; `Err` carries its output.
pub fn run_checked(command: &mut Command) -> Result<(), String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("cannot run {command:?}: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}
