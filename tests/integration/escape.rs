//! The escape suite: hostile programs, each trying one way out of the sandbox (SPEC §4,
//! "What the sandbox guarantees"; TRAPS.md).
//!
//! Every test proves Python started (the marker), attempts one escape and asserts that it
//! failed with the specific error (errno, exception, signal or exit code), then proves the
//! host did not change. Each runs as the caller (root here) and as the unprivileged
//! `boxpy-test` user unless a comment says why one of them is meaningless. Escapes that
//! isolation.rs and network.rs already cover (the caller's home, `/usr` and `/etc` writes,
//! the venv, `/run` sockets, the host's 127.0.0.1 over TCP, the plain `/etc/shadow` read)
//! are not repeated here; this file adds what they leave out.
//!
//! Bombs (fork, memory, CPU, disk, daemons) run under short limits and end by asserting
//! that no process carrying the test's unique token is left on the host. The plain cases
//! of each limit (a spin stopped by `--cpu`, an allocation stopped by `--memory`, ...) are
//! in limits.rs, next to a control run without the limit; here are the hostile variants.

use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{
    assert_absent_on_host, assert_exit, assert_no_process_left, assert_started,
    assert_write_refused, dedent, host_processes_with, is_root, non_tmp_work_dir, py, py_path,
    run_in_venv, runner_tests, set_mode, unique, venv, wait_until, Output, RemoveOnDrop, Runner,
    Venv, Workspace, WRITE_PROBE,
};

/// Errors a write outside every writable mount may fail with.
const WRITE_REFUSED: &[&str] = &["EROFS", "EACCES", "ENOENT", "EPERM"];

/// How long a program may take to say it is ready.
const READY: Duration = Duration::from_secs(30);

/// Python every hostile program starts with: helpers that print one `LABEL: RESULT` line
/// per attempt, so a test asserts on exactly the error each attempt got.
///
/// - `attempt(label, action)`: `LABEL: ExceptionType ERRNO` or `LABEL: SUCCEEDED value`.
/// - `libc_call(label, name, *args)` / `raw_syscall(label, nr, *args)`: through ctypes,
///   `LABEL: ERRNO` when the call returned -1, `LABEL: SUCCEEDED value` otherwise.
/// - `attempt_write(path)` from the harness.
const PRELUDE: &str = r#"
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)

def errname(number):
    return errno.errorcode.get(number, str(number))

def attempt(label, action):
    try:
        result = action()
    except OSError as error:
        print(f"{label}: {type(error).__name__} {errname(error.errno)}", flush=True)
    except ValueError as error:
        print(f"{label}: ValueError {error}", flush=True)
    else:
        print(f"{label}: SUCCEEDED {result!r}", flush=True)

def c_arg(value):
    return ctypes.c_long(value) if isinstance(value, int) else value

def libc_call(label, name, *args):
    ctypes.set_errno(0)
    result = getattr(libc, name)(*map(c_arg, args))
    if result == -1:
        print(f"{label}: {errname(ctypes.get_errno())}", flush=True)
    else:
        print(f"{label}: SUCCEEDED {result}", flush=True)

def raw_syscall(label, number, *args):
    libc_call(label, "syscall", number, *args)
"#;

/// A hostile program: [`PRELUDE`], the harness's `attempt_write`, `NAME = value` for each
/// of `values` (Python literals), then `snippet` (dedented).
fn hostile(values: &[(&str, String)], snippet: &str) -> String {
    let mut text = format!("{PRELUDE}{WRITE_PROBE}");
    for (name, value) in values {
        text.push_str(&format!("{name} = {value}\n"));
    }
    text.push_str(&dedent(snippet));
    text
}

/// A Python expression for `text` that does not contain `text` (hex-encoded): for values
/// the program must know although they must not appear in any command line it sees.
fn py_hidden(text: &str) -> String {
    let hex: String = text.bytes().map(|byte| format!("{byte:02x}")).collect();
    format!("bytes.fromhex({}).decode()", py(&hex))
}

/// What the program printed for `label`.
fn result(output: &Output, label: &str) -> String {
    output.line_after(&format!("{label}: "))
}

/// Asserts that the attempt `label` failed and that its errno (the last word) is one of
/// `errnos`.
#[track_caller]
fn assert_refused(output: &Output, label: &str, errnos: &[&str]) {
    let result = result(output, label);
    let errno = result.rsplit(' ').next().unwrap_or_default();
    assert!(
        !result.starts_with("SUCCEEDED") && errnos.contains(&errno),
        "`{label}` should fail with one of {errnos:?}, got `{result}`: {output}"
    );
}

/// A policy file in the workspace root (outside the workdir), for `--policy`.
fn policy_file(ws: &Workspace, name: &str, text: &str) -> PathBuf {
    ws.write(name, dedent(text))
}

/// Asserts that the host can still start a process (a fork bomb did not exhaust it).
#[track_caller]
pub fn assert_host_can_fork() {
    let status = Command::new("true")
        .stdin(Stdio::null())
        .status()
        .expect("the host can no longer start `true`");
    assert!(status.success(), "`true` failed on the host: {status}");
}

/// A file only its owner may read, planted in a real host directory for this test.
fn plant_private_file(owner: &Runner, path: PathBuf, contents: &str) -> RemoveOnDrop {
    std::fs::write(&path, contents)
        .unwrap_or_else(|error| panic!("plant {}: {error}", path.display()));
    owner.chown(&path);
    set_mode(&path, 0o600);
    RemoveOnDrop(path)
}

/// A process on the host (`sleep 60` whose argv[0] is a token), killed on drop.
struct HostSleeper {
    child: Child,
    token: String,
}

impl HostSleeper {
    /// Starts it as the runner's user, so only the sandbox (not permissions) protects it.
    fn start(runner: &Runner) -> HostSleeper {
        let token = unique("boxpy-escape-host-sleep");
        let child = runner
            .host_command("/bin/bash")
            .args(["-c", r#"exec -a "$0" sleep 60"#])
            .arg(&token)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a host sleep");
        let sleeper = HostSleeper { child, token };
        wait_until(Duration::from_secs(10), || {
            host_processes_with(&sleeper.token)
                .contains(&sleeper.pid())
                .then_some(())
        })
        .expect("the host sleep never showed its token");
        sleeper
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Whether it is still running (not exited, not a zombie).
    fn alive(&mut self) -> bool {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return false;
        }
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .next();
        matches!(state, Some("S") | Some("R") | Some("D"))
    }

    /// `TracerPid` from its `/proc/PID/status`.
    fn tracer(&self) -> String {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .unwrap_or_default()
            .lines()
            .find_map(|line| line.strip_prefix("TracerPid:"))
            .map(|value| value.trim().to_owned())
            .unwrap_or_default()
    }
}

impl Drop for HostSleeper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

runner_tests! {
    /// Another user's home is not there at all (not merely unreadable): for the caller
    /// (root) a private file in `/home/boxpy-test`, for `boxpy-test` one in `/root`. A file
    /// in the runner's own home is invisible too, and nothing can be written into either.
    fn other_users_home_is_invisible(runner) {
        // The other user owns the planted file; only root can plant it.
        let (other_home, other_owner) = match &runner {
            Runner::Caller => match Runner::unprivileged() {
                Some(user @ Runner::Unprivileged(_)) if user.home().is_dir() => (user.home(), user),
                _ => {
                    eprintln!(
                        "SKIPPED: needs root and the `boxpy-test` user with a home directory"
                    );
                    return;
                }
            },
            Runner::Unprivileged(_) => (PathBuf::from("/root"), Runner::Caller),
        };
        let ws = Workspace::new(&runner);
        let token = unique("escape-secret");
        let contents = format!("{token}: host secret, must stay invisible\n");
        let other = plant_private_file(&other_owner, other_home.join(&token), &contents);
        let own = plant_private_file(&runner, runner.home().join(&token), &contents);
        let written = other_home.join(format!("{token}-written"));
        let output = run_in_venv(&ws)
            .code(&hostile(
                &[
                    ("OTHER", py_path(&other.0)),
                    ("OWN", py_path(&own.0)),
                    ("OTHER_HOME", py_path(&other_home)),
                    ("WRITTEN", py_path(&written)),
                ],
                r#"
                for label, path in [("other", OTHER), ("own", OWN)]:
                    attempt(f"stat {label}", lambda: os.stat(path))
                    attempt(f"read {label}", lambda: open(path).read())
                attempt("stat other home", lambda: os.stat(OTHER_HOME))
                attempt("list other home", lambda: os.listdir(OTHER_HOME))
                print("homes", sorted(os.listdir("/home")) if os.path.isdir("/home") else [])
                attempt_write(WRITTEN)
                "#,
            ))
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        for label in [
            "stat other",
            "read other",
            "stat own",
            "read own",
            "stat other home",
            "list other home",
        ] {
            assert_eq!(
                result(&output, label),
                "FileNotFoundError ENOENT",
                "{label}: {output}"
            );
        }
        // /home shows at most the runner's own (private, empty) home.
        let own_name = runner
            .home()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        let homes = output.line_after("homes ");
        let other_name = other_home
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        assert!(
            !homes.contains(&format!("'{other_name}'")),
            "another user's home is in /home: {output}"
        );
        if let Some(own_name) = own_name {
            let allowed = if homes == "[]" {
                "[]".to_owned()
            } else {
                format!("['{own_name}']")
            };
            assert_eq!(
                homes, allowed,
                "/home shows more than the runner's own home: {output}"
            );
        }
        assert_write_refused(&output, &written, WRITE_REFUSED);
        // The host is unchanged.
        assert_absent_on_host(&written);
        for planted in [&other, &own] {
            assert_eq!(
                std::fs::read_to_string(&planted.0).expect("the planted file"),
                contents
            );
        }
    }

    /// `/etc/shadow` cannot be read even by uid 0: as root the program is uid 0 inside, so
    /// the file must be absent (root owns it; without the mount namespace uid 0 could read
    /// it with no capability at all). Every capability set is empty; `/proc/*/root` does
    /// not lead to the host's file; writing it is refused.
    fn shadow_is_unreadable_even_as_uid_0(runner) {
        let shadow = Path::new("/etc/shadow");
        let before = shadow.metadata().expect("the host has an /etc/shadow");
        let ws = Workspace::new(&runner);
        let output = run_in_venv(&ws)
            .code(&hostile(
                &[],
                r#"
                status = open("/proc/self/status").read().splitlines()
                print("uid", os.getuid(), os.geteuid())
                print("caps", " ".join(line.split()[1] for line in status if line.startswith("Cap")))
                for path in ["/etc/shadow", "/etc/gshadow", "/proc/self/root/etc/shadow", "/proc/1/root/etc/shadow"]:
                    attempt(f"read {path}", lambda: len(open(path).read()))
                attempt_write("/etc/shadow")
                "#,
            ))
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        let uid = match &runner {
            Runner::Caller => nix::unistd::getuid().as_raw(),
            Runner::Unprivileged(user) => user.uid,
        };
        assert_eq!(
            output.line_after("uid "),
            format!("{uid} {uid}"),
            "{output}"
        );
        // CapInh, CapPrm, CapEff, CapBnd, CapAmb.
        assert_eq!(
            output.line_after("caps "),
            ["0000000000000000"; 5].join(" "),
            "{output}"
        );
        for path in ["/etc/shadow", "/etc/gshadow", "/proc/self/root/etc/shadow"] {
            assert_eq!(
                result(&output, &format!("read {path}")),
                "FileNotFoundError ENOENT",
                "{output}"
            );
        }
        assert_refused(
            &output,
            "read /proc/1/root/etc/shadow",
            &["ENOENT", "EACCES"],
        );
        assert_write_refused(&output, shadow, WRITE_REFUSED);
        let after = shadow.metadata().expect("/etc/shadow");
        assert_eq!(
            (before.len(), before.mtime(), before.mtime_nsec()),
            (after.len(), after.mtime(), after.mtime_nsec())
        );
    }

    /// A listening Unix socket in host `/tmp` (open to everyone) is not even visible, and an
    /// abstract-namespace socket on the host (what X11 and some agents use) is unreachable:
    /// abstract sockets belong to the network namespace.
    fn unix_sockets_in_host_tmp_and_abstract_namespace_are_unreachable(runner) {
        use std::os::linux::net::SocketAddrExt;
        let ws = Workspace::new(&runner);
        let token = unique("boxpy-escape-sock");
        let path = PathBuf::from("/tmp").join(format!("{token}.sock"));
        let file_listener = UnixListener::bind(&path).expect("bind a socket in host /tmp");
        let _remove = RemoveOnDrop(path.clone());
        runner.chown(&path);
        set_mode(&path, 0o777);
        let abstract_address = std::os::unix::net::SocketAddr::from_abstract_name(token.as_bytes())
            .expect("an abstract address");
        let abstract_listener =
            UnixListener::bind_addr(&abstract_address).expect("bind an abstract socket");
        let output = run_in_venv(&ws)
            .code(&hostile(
                &[("PATH", py_path(&path)), ("NAME", py(&token))],
                r#"
                import socket
                def connect(address):
                    client = socket.socket(socket.AF_UNIX)
                    client.settimeout(5)
                    client.connect(address)
                    return "connected"
                print("visible", os.path.exists(PATH))
                attempt("connect file socket", lambda: connect(PATH))
                attempt("connect abstract socket", lambda: connect("\0" + NAME))
                "#,
            ))
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(output.line_after("visible "), "False", "{output}");
        assert_eq!(
            result(&output, "connect file socket"),
            "FileNotFoundError ENOENT",
            "{output}"
        );
        assert_eq!(
            result(&output, "connect abstract socket"),
            "ConnectionRefusedError ECONNREFUSED",
            "{output}"
        );
        for listener in [&file_listener, &abstract_listener] {
            listener.set_nonblocking(true).expect("non-blocking");
            match listener.accept() {
                Err(error) if error.kind() == ErrorKind::WouldBlock => {}
                other => panic!("a host socket got a connection ({other:?}): {output}"),
            }
        }
    }

    /// Writes outside the workdir that isolation.rs does not try: through a symlink in the
    /// workdir pointing at its (user-owned) parent, through a symlink the program makes to
    /// `/usr`, into `/` itself (file and directory), `/run` and `/var/tmp`.
    fn writes_outside_the_workdir_are_refused(runner) {
        let ws = Workspace::new_in(&non_tmp_work_dir(), &runner);
        runner.chown(&ws.root());
        let token = unique("escaped");
        std::os::unix::fs::symlink(ws.root(), ws.work().join("outside")).expect("symlink");
        let through_link = ws.work().join("outside").join(&token);
        let on_host = ws.root().join(&token);
        let targets = [
            through_link.clone(),
            ws.work().join("usr-link").join(&token),
            Path::new("/").join(&token),
            Path::new("/run").join(&token),
            Path::new("/var/tmp").join(&token),
        ];
        let directory = Path::new("/").join(format!("{token}-dir"));
        let output = run_in_venv(&ws)
            .code(&hostile(
                &[
                    (
                        "TARGETS",
                        format!(
                            "[{}]",
                            targets
                                .iter()
                                .map(|t| py_path(t))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ),
                    ("DIRECTORY", py_path(&directory)),
                ],
                r#"
                os.symlink("/usr", "usr-link")
                for target in TARGETS:
                    attempt_write(target)
                attempt("mkdir", lambda: os.mkdir(DIRECTORY))
                "#,
            ))
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        for target in &targets {
            assert_write_refused(&output, target, WRITE_REFUSED);
        }
        assert_refused(&output, "mkdir", WRITE_REFUSED);
        assert_absent_on_host(&on_host);
        assert_absent_on_host(&Path::new("/usr").join(&token));
        for target in &targets[2..] {
            assert_absent_on_host(target);
        }
        assert_absent_on_host(&directory);
    }

    /// With `network = "none"` the host's loopback is unreachable over UDP (to 127.0.0.1)
    /// and over IPv6 (`::1`, TCP and UDP); network.rs covers TCP to 127.0.0.1.
    fn host_loopback_is_unreachable_over_udp_and_ipv6(runner) {
        let ws = Workspace::new(&runner);
        let udp4 = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind UDP 127.0.0.1");
        let udp6 = std::net::UdpSocket::bind("[::1]:0").ok();
        let tcp6 = std::net::TcpListener::bind("[::1]:0").ok();
        if udp6.is_none() || tcp6.is_none() {
            eprintln!("note: the host has no IPv6 loopback; only UDP over 127.0.0.1 is checked");
        }
        let port =
            |address: std::io::Result<std::net::SocketAddr>| address.map(|a| a.port()).unwrap_or(0);
        let output = run_in_venv(&ws)
            .args(["--network", "none"])
            .code(&hostile(
                &[
                    ("UDP4", port(udp4.local_addr()).to_string()),
                    (
                        "UDP6",
                        udp6.as_ref()
                            .map(|s| port(s.local_addr()))
                            .unwrap_or(0)
                            .to_string(),
                    ),
                    (
                        "TCP6",
                        tcp6.as_ref()
                            .map(|s| port(s.local_addr()))
                            .unwrap_or(0)
                            .to_string(),
                    ),
                ],
                r#"
                import socket
                def udp(family, address):
                    client = socket.socket(family, socket.SOCK_DGRAM)
                    client.settimeout(3)
                    client.connect(address)
                    client.send(b"escaped")
                    return client.recv(100)
                attempt("udp 127.0.0.1", lambda: udp(socket.AF_INET, ("127.0.0.1", UDP4)))
                if UDP6:
                    attempt("udp ::1", lambda: udp(socket.AF_INET6, ("::1", UDP6)))
                if TCP6:
                    attempt("tcp ::1", lambda: socket.create_connection(("::1", TCP6), timeout=5))
                "#,
            ))
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        let unreachable = [
            "ECONNREFUSED",
            "ENETUNREACH",
            "EHOSTUNREACH",
            "EADDRNOTAVAIL",
        ];
        assert_refused(&output, "udp 127.0.0.1", &unreachable);
        let mut buffer = [0u8; 64];
        for socket in std::iter::once(&udp4).chain(udp6.as_ref()) {
            socket.set_nonblocking(true).expect("non-blocking");
            match socket.recv(&mut buffer) {
                Err(error) if error.kind() == ErrorKind::WouldBlock => {}
                other => panic!("a datagram reached the host ({other:?}): {output}"),
            }
        }
        if udp6.is_some() {
            assert_refused(&output, "udp ::1", &unreachable);
        }
        if let Some(listener) = &tcp6 {
            assert_refused(&output, "tcp ::1", &unreachable);
            listener.set_nonblocking(true).expect("non-blocking");
            assert!(
                matches!(listener.accept(), Err(error) if error.kind() == ErrorKind::WouldBlock),
                "a connection reached the host's ::1 listener: {output}"
            );
        }
    }

    /// A host process (running as the same user) cannot be seen, signalled, opened as a
    /// pidfd or traced: its pid does not exist in the sandbox's PID namespace. `kill(-1)`
    /// reaches nothing. Afterwards the host process is alive and untraced.
    fn host_processes_cannot_be_seen_or_signalled(runner) {
        let ws = Workspace::new(&runner);
        let mut sleeper = HostSleeper::start(&runner);
        let output = run_in_venv(&ws)
            .code(&hostile(
                &[
                    ("HOST", sleeper.pid().to_string()),
                    ("TOKEN", py_hidden(&sleeper.token)),
                ],
                r#"
                import signal
                visible = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
                print("visible", len(visible))
                def cmdline(pid):
                    try:
                        return open(f"/proc/{pid}/cmdline", "rb").read()
                    except OSError:
                        return b""
                print("token visible", any(TOKEN.encode() in cmdline(pid) for pid in visible))
                print("proc entry", os.path.exists(f"/proc/{HOST}"))
                attempt("kill 0", lambda: os.kill(HOST, 0))
                attempt("kill SIGKILL", lambda: os.kill(HOST, signal.SIGKILL))
                attempt("pidfd_open", lambda: os.pidfd_open(HOST))
                raw_syscall("ptrace attach", 101, 16, HOST, 0, 0)
                # kill(-1) hits every process this one may signal: only safe (and only
                # meaningful) when the sandbox shows nothing but its init and this program.
                if visible == sorted({1, os.getpid()}):
                    attempt("kill -1", lambda: os.kill(-1, signal.SIGKILL))
                else:
                    print("kill -1: skipped, more processes visible than the init and me")
                "#,
            ))
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(output.line_after("token visible "), "False", "{output}");
        assert_eq!(output.line_after("proc entry "), "False", "{output}");
        for label in ["kill 0", "kill SIGKILL", "pidfd_open", "kill -1"] {
            assert_eq!(
                result(&output, label),
                "ProcessLookupError ESRCH",
                "{label}: {output}"
            );
        }
        assert_refused(&output, "ptrace attach", &["EPERM", "ESRCH"]);
        assert!(sleeper.alive(), "the host process died: {output}");
        assert_eq!(sleeper.tracer(), "0", "the host process is being traced");
    }

    /// ptrace is refused inside too: `PTRACE_TRACEME`, attaching to (or seizing) the init
    /// and attaching to the program's own child all fail with EPERM, as does
    /// `process_vm_readv`; the child is still untraced afterwards.
    fn ptrace_is_refused(runner) {
        let ws = Workspace::new(&runner);
        let output = run_in_venv(&ws)
            .code(&hostile(
                &[],
                r#"
                import time
                raw_syscall("traceme", 101, 0, 0, 0, 0)
                raw_syscall("attach init", 101, 16, 1, 0, 0)
                raw_syscall("seize init", 101, 0x4206, 1, 0, 0)
                child = os.fork()
                if child == 0:
                    time.sleep(30)
                    os._exit(0)
                raw_syscall("attach child", 101, 16, child, 0, 0)
                raw_syscall("process_vm_readv init", 310, 1, 0, 0, 0, 0, 0)
                status = open(f"/proc/{child}/status").read()
                print("child tracer", [line.split()[1] for line in status.splitlines() if line.startswith("TracerPid")][0])
                print("self tracer", [line.split()[1] for line in open("/proc/self/status") if line.startswith("TracerPid")][0])
                os.kill(child, 9)
                os.waitpid(child, 0)
                "#,
            ))
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        for label in [
            "traceme",
            "attach init",
            "seize init",
            "attach child",
            "process_vm_readv init",
        ] {
            assert_eq!(result(&output, label), "EPERM", "{label}: {output}");
        }
        assert_eq!(output.line_after("child tracer "), "0", "{output}");
        assert_eq!(output.line_after("self tracer "), "0", "{output}");
    }

    /// The init (PID 1, boxpy's own, the program's parent) is out of the program's reach
    /// although both run as the same user: its open descriptors (the report pipe boxpy reads
    /// the program's fate from), its executable and its environment cannot be opened
    /// through /proc/1 (a forged "ended with 0" or "exec failed" line would otherwise reach
    /// boxpy). bwrap runs the init from a descriptor, so /proc/1/exe is the host's boxpy
    /// binary itself: it can be neither reopened for writing nor chmodded (as root the
    /// program's uid owns it), and the binary is unchanged afterwards. The program's own
    /// /proc/self is readable (the control), and its real exit code, 3, is what boxpy
    /// reports.
    fn the_init_is_out_of_the_programs_reach(runner) {
        let ws = Workspace::new(&runner);
        let binary = Path::new(crate::harness::BOXPY);
        let before = std::fs::metadata(binary).expect("the boxpy binary");
        let output = run_in_venv(&ws)
            .code(&hostile(
                &[],
                r#"
                attempt("own fds", lambda: len(os.listdir("/proc/self/fd")) > 0)
                forged = '{"event":"ended","code":0,"cpu_ms":0,"max_rss_kib":0}\n'
                for fd in range(3, 8):
                    def forge(fd=fd):
                        with open(f"/proc/1/fd/{fd}", "w") as pipe:
                            pipe.write(forged)
                        return fd
                    attempt(f"forge via fd {fd}", forge)
                attempt("init exe", lambda: os.readlink("/proc/1/exe"))
                attempt("init exe chmod", lambda: os.chmod("/proc/1/exe", 0o777))
                attempt("init exe write", lambda: open("/proc/1/exe", "r+b").close())
                attempt("init environ", lambda: open("/proc/1/environ", "rb").read())
                sys.stdout.flush()
                os._exit(3)
                "#,
            ))
            .run();
        assert_started(&output);
        assert_exit(&output, 3);
        assert_eq!(result(&output, "own fds"), "SUCCEEDED True", "{output}");
        // 4 is the init's report pipe (`__sandbox-init 4`): it exists, so only the
        // permission check can stop the forgery. Other numbers may simply not be open.
        assert_refused(&output, "forge via fd 4", &["EACCES", "EPERM"]);
        for fd in [3, 5, 6, 7] {
            assert_refused(&output, &format!("forge via fd {fd}"), &["EACCES", "EPERM", "ENOENT"]);
        }
        assert_refused(&output, "init exe", &["EACCES", "EPERM"]);
        assert_refused(&output, "init exe chmod", &["EACCES", "EPERM"]);
        assert_refused(&output, "init exe write", &["EACCES", "EPERM"]);
        assert_refused(&output, "init environ", &["EACCES", "EPERM"]);
        let after = std::fs::metadata(binary).expect("the boxpy binary");
        assert_eq!(
            (after.mode(), after.mtime(), after.mtime_nsec(), after.len()),
            (before.mode(), before.mtime(), before.mtime_nsec(), before.len()),
            "the host's boxpy binary changed"
        );
    }

    /// The program cannot make a new user (or mount, or network) namespace, join the init's,
    /// or use mounts to undo the read-only binds: remount `/usr` read-write, unmount it,
    /// detach `/tmp`, mount a tmpfs, use the new mount API. The mount table is unchanged
    /// and `/usr` is still read-only afterwards.
    fn namespaces_and_mounts_cannot_undo_the_sandbox(runner) {
        let ws = Workspace::new(&runner);
        let target = PathBuf::from("/usr").join(unique("boxpy-escape"));
        let output = run_in_venv(&ws)
            .code(&hostile(
                &[("TARGET", py_path(&target))],
                r#"
                import subprocess
                before = open("/proc/self/mountinfo").read()
                libc_call("unshare user", "unshare", 0x10000000)
                libc_call("unshare mount", "unshare", 0x00020000)
                libc_call("unshare net", "unshare", 0x40000000)
                if hasattr(os, "unshare"):
                    attempt("os.unshare", lambda: os.unshare(os.CLONE_NEWUSER))
                else:
                    print("os.unshare: skipped (Python < 3.12; ctypes above)")
                try:
                    fd = os.open("/proc/1/ns/mnt", os.O_RDONLY)
                except OSError:
                    fd = os.open("/proc/self/ns/mnt", os.O_RDONLY)
                libc_call("setns", "setns", fd, 0)
                if os.path.exists("/usr/bin/unshare"):
                    done = subprocess.run(["/usr/bin/unshare", "--user", "--map-root-user", "true"], capture_output=True, text=True)
                    print("unshare command:", done.returncode, done.stderr.strip().replace("\n", " "))
                MS_REMOUNT, MS_BIND, MS_RDONLY, MNT_DETACH = 32, 4096, 1, 2
                libc_call("remount /usr", "mount", b"none", b"/usr", None, MS_REMOUNT | MS_BIND, None)
                libc_call("bind /usr", "mount", b"/usr", b"/usr", None, MS_BIND, None)
                libc_call("mount tmpfs", "mount", b"tmpfs", b"/usr", b"tmpfs", 0, None)
                libc_call("umount /usr", "umount2", b"/usr", 0)
                libc_call("detach /tmp", "umount2", b"/tmp", MNT_DETACH)
                raw_syscall("fsopen", 430, b"tmpfs", 0)
                raw_syscall("open_tree", 428, -100, b"/usr", 1)
                print("mountinfo unchanged", open("/proc/self/mountinfo").read() == before)
                attempt_write(TARGET)
                "#,
            ))
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        for label in [
            "unshare user",
            "unshare mount",
            "unshare net",
            "setns",
            "remount /usr",
            "bind /usr",
            "mount tmpfs",
            "umount /usr",
            "detach /tmp",
            "fsopen",
            "open_tree",
        ] {
            assert_eq!(result(&output, label), "EPERM", "{label}: {output}");
        }
        let unshare = result(&output, "os.unshare");
        assert!(
            unshare == "PermissionError EPERM" || unshare.starts_with("skipped"),
            "{output}"
        );
        if let Some(line) = output
            .stdout_text()
            .lines()
            .find(|l| l.starts_with("unshare command: "))
        {
            assert!(
                !line.starts_with("unshare command: 0"),
                "`unshare --user` succeeded: {output}"
            );
            assert!(line.contains("Operation not permitted"), "{output}");
        }
        assert_eq!(
            output.line_after("mountinfo unchanged "),
            "True",
            "{output}"
        );
        assert_write_refused(&output, &target, &["EROFS"]);
        assert_absent_on_host(&target);
    }

    /// TIOCSTI cannot push input into the terminal boxpy runs in. boxpy is started with a
    /// real pty as its controlling terminal and stdin (by a host wrapper); inside, `/dev/tty`
    /// is not openable (new session) and TIOCSTI on fds 0-2, also with the request number's
    /// upper 32 bits set (CVE-2019-10063), fails. The wrapper then finds the pty's input queue
    /// empty. A control run without the sandbox shows the same probe does inject.
    fn tiocsti_cannot_type_into_the_terminal(runner) {
        let ws = Workspace::new(&runner);
        let wrapper = ws.write("tty-wrapper.py", TTY_WRAPPER);
        let probe = hostile(&[], TIOCSTI_PROBE);
        let script = ws.write("work/tiocsti.py", crate::harness::python(&probe));
        // Control: the same probe, same wrapper, no sandbox.
        let venv_python = venv(Venv::Debian)
            .expect("the Debian venv")
            .join("bin/python");
        let control = runner
            .host_command("/usr/bin/python3")
            .arg(&wrapper)
            .arg(&venv_python)
            .arg(&script)
            .current_dir(ws.work())
            .stdin(Stdio::null())
            .output()
            .expect("run the control");
        let control_out = String::from_utf8_lossy(&control.stdout);
        assert!(
            control_out.contains("tiocsti 0 0x5412: SUCCEEDED")
                && !control_out.contains("host: input queue 0"),
            "control: TIOCSTI outside the sandbox should inject (is dev.tty.legacy_tiocsti 0?):\n{control_out}{}",
            String::from_utf8_lossy(&control.stderr)
        );
        let output = run_in_venv(&ws)
            .through([Path::new("/usr/bin/python3"), &wrapper])
            .arg(&script)
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(
            output.line_after("stdin is a tty "),
            "True",
            "the probe had no pty: {output}"
        );
        assert_refused(&output, "open /dev/tty", &["ENXIO", "EIO"]);
        for fd in 0..3 {
            for request in ["0x5412", "0x100005412"] {
                assert_refused(
                    &output,
                    &format!("tiocsti {fd} {request}"),
                    &["EPERM", "ENXIO", "EIO", "ENOTTY"],
                );
            }
        }
        assert_refused(&output, "fcntl.ioctl TIOCSTI", &["EPERM", "ENXIO", "EIO"]);
        assert_eq!(
            output.line_after("host: input queue "),
            "0",
            "input reached the terminal: {output}"
        );
    }

    /// System calls the seccomp filter refuses (x86_64 numbers): the keyring, bpf,
    /// io_uring, perf events, userfaultfd → EPERM; clone3 → ENOSYS, after which threads
    /// still start (glibc falls back to clone). The key the program tried to add is not in
    /// the host's keyring listing.
    fn kernel_attack_surface_syscalls_are_refused(runner) {
        if !cfg!(target_arch = "x86_64") {
            eprintln!("SKIPPED: the syscall numbers here are x86_64's");
            return;
        }
        let ws = Workspace::new(&runner);
        let token = unique("boxpy-escape-key");
        let output = run_in_venv(&ws)
            .code(&hostile(
                &[("TOKEN", py(&token))],
                r#"
                import threading
                print("seccomp", [line.split()[1] for line in open("/proc/self/status") if line.startswith("Seccomp:")][0])
                raw_syscall("keyctl", 250, 0, -3, 0)
                raw_syscall("add_key", 248, b"user", TOKEN.encode(), b"payload", 7, -3)
                raw_syscall("bpf", 321, 0, 0, 0)
                raw_syscall("io_uring_setup", 425, 1, 0)
                raw_syscall("perf_event_open", 298, 0, 0, -1, -1, 0)
                raw_syscall("userfaultfd", 323, 0)
                raw_syscall("clone3", 435, 0, 0)
                done = []
                thread = threading.Thread(target=lambda: done.append(1))
                thread.start()
                thread.join()
                print("threads", done == [1])
                "#,
            ))
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(
            output.line_after("seccomp "),
            "2",
            "no seccomp filter: {output}"
        );
        for label in [
            "keyctl",
            "add_key",
            "bpf",
            "io_uring_setup",
            "perf_event_open",
            "userfaultfd",
        ] {
            assert_eq!(result(&output, label), "EPERM", "{label}: {output}");
        }
        assert_eq!(result(&output, "clone3"), "ENOSYS", "{output}");
        assert_eq!(output.line_after("threads "), "True", "{output}");
        if Path::new("/proc/keys").exists() {
            let keys = runner
                .host_command("cat")
                .arg("/proc/keys")
                .output()
                .expect("read /proc/keys");
            assert!(
                !String::from_utf8_lossy(&keys.stdout).contains(&token),
                "the sandbox added a key to the host's keyring"
            );
        }
    }

    /// A fork bomb under `processes = 32` is contained: forks fail with EAGAIN, the sandbox
    /// never holds more than the limit (for root, a pids cgroup; for an ordinary user,
    /// RLIMIT_NPROC, which also counts the user's other tasks), the host can still start a
    /// process during and after it, and nothing of it is left afterwards.
    fn fork_bomb_is_contained(runner) {
        let ws = Workspace::new(&runner);
        let token = unique("boxpy-escape-forkbomb");
        let policy = policy_file(
            &ws,
            "bomb.toml",
            "
            [limits]
            processes = 32
            timeout = \"15s\"
        ",
        );
        let mut running = run_in_venv(&ws)
            .arg("--policy")
            .arg(&policy)
            .code(&hostile(&[], FORK_BOMB))
            .arg(&token)
            .spawn();
        running.wait_for_stdout("bombing", READY);
        assert_host_can_fork();
        let output = running.finish();
        assert_host_can_fork();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(output.line_after("fork errors "), "['EAGAIN']", "{output}");
        let peak: u64 = output.line_after("peak ").parse().expect("a number");
        let limit: u64 = output.line_after("nproc ").parse().unwrap_or(u64::MAX);
        // As root the pids cgroup holds exactly 32 tasks (bwrap, the init and the bomb);
        // RLIMIT_NPROC for an ordinary user is 32 plus the tasks that user already ran
        // (other tests), so allow for those.
        let bound = if runner == Runner::Caller && is_root() {
            32
        } else {
            32 + 64
        };
        assert!(
            peak <= bound,
            "{peak} processes in the sandbox (limit 32): {output}"
        );
        assert!(
            peak >= 10,
            "the bomb never got going ({peak} processes): {output}"
        );
        if runner != Runner::Caller {
            assert!(limit <= bound, "RLIMIT_NPROC {limit} inside: {output}");
        }
        assert_no_process_left(&token);
    }

    /// A memory bomb (three threads allocating and touching 4 MiB blocks) under
    /// `--memory 128MiB` ends quickly: killed by the memory cgroup (137, the report names
    /// `limits.memory`) or `MemoryError` under RLIMIT_DATA. (The four threads' tracebacks
    /// interleave on stderr, so boxpy's report is not asserted for the `MemoryError` case;
    /// limits.rs does that with one thread.) The host can still fork and nothing is left.
    fn memory_bomb_is_contained(runner) {
        let ws = Workspace::new(&runner);
        let token = unique("boxpy-escape-membomb");
        let started = Instant::now();
        let output = run_in_venv(&ws)
            .args(["--memory", "128MiB", "--timeout", "20s"])
            .code(
                r#"
                import threading
                blocks = []
                def eat():
                    while True:
                        blocks.append(b"\x01" * (4 << 20))
                def eat_quietly():
                    # Only the main thread's traceback: four printed at once interleave
                    # (and the last is cut at exit), which no report can parse.
                    try:
                        eat()
                    except MemoryError:
                        pass
                print("allocating", flush=True)
                for _ in range(3):
                    threading.Thread(target=eat_quietly, daemon=True).start()
                eat()
                "#,
            )
            .arg(&token)
            .run();
        assert_started(&output);
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "took {:?}: {output}",
            started.elapsed()
        );
        match output.code {
            Some(137) => assert!(output.stderr_text().contains("limits.memory"), "{output}"),
            // Under RLIMIT_DATA (an ordinary user) a thread's stack counts too: the bomb may
            // already be stopped when the next thread cannot get its stack.
            Some(1) => {
                let stderr = output.stderr_text();
                assert!(
                    stderr.contains("MemoryError") || stderr.contains("can't start new thread"),
                    "{output}"
                );
                assert!(stderr.contains("limits.memory"), "the report names the memory limit: {output}");
            }
            _ => panic!("the memory limit did not stop the bomb: {output}"),
        }
        assert_host_can_fork();
        assert_no_process_left(&token);
    }

    /// A spin that ignores SIGXCPU is killed by the kernel at the hard limit (one second
    /// later): exit 137, and boxpy's report still says it was the CPU limit.
    fn cpu_spin_ignoring_sigxcpu_is_killed_at_the_hard_limit(runner) {
        let ws = Workspace::new(&runner);
        let token = unique("boxpy-escape-spin");
        let started = Instant::now();
        let output = run_in_venv(&ws)
            .args(["--cpu", "1s", "--timeout", "20s"])
            .code(
                r#"
                import signal
                signal.signal(signal.SIGXCPU, signal.SIG_IGN)
                print("spinning", flush=True)
                while True:
                    pass
                "#,
            )
            .arg(&token)
            .run();
        assert_started(&output);
        assert_exit(&output, 137);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "took {:?}",
            started.elapsed()
        );
        assert_no_process_left(&token);
        assert!(
            output.stderr_text().contains("limits.cpu"),
            "killed at the CPU limit, but the report does not name `limits.cpu`: {output}"
        );
    }

    /// RLIMIT_CPU is per process: a relay that hands the spin to a fresh child before each
    /// one reaches `--cpu 1s` is still stopped, by `--timeout 3s` (124), and no relay
    /// process is left.
    fn cpu_spin_relay_is_stopped_by_the_timeout(runner) {
        let ws = Workspace::new(&runner);
        let token = unique("boxpy-escape-relay");
        let started = Instant::now();
        let output = run_in_venv(&ws)
            .args(["--cpu", "1s", "--timeout", "3s"])
            .code(
                r#"
                import os, time
                def spin():
                    while True:
                        start = time.process_time()
                        while time.process_time() - start < 0.5:
                            pass
                        if os.fork() != 0:
                            os._exit(0)
                if os.fork() == 0:
                    spin()
                print("relaying", flush=True)
                while True:
                    time.sleep(0.1)
                "#,
            )
            .arg(&token)
            .run();
        assert_started(&output);
        assert_exit(&output, 124);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "took {:?}",
            started.elapsed()
        );
        assert_no_process_left(&token);
    }

    /// Filling `/tmp` and `/dev/shm` with files stops at `filesystem.tmp_size` (8 MiB) with
    /// ENOSPC "No space left on device"; none of it reaches the host's `/tmp` or `/dev/shm`.
    fn tmp_fill_stops_at_tmp_size(runner) {
        let ws = Workspace::new(&runner);
        let token = unique("boxpy-escape-fill");
        let policy = policy_file(
            &ws,
            "fill.toml",
            "
            [filesystem]
            tmp_size = \"8MiB\"
            [limits]
            timeout = \"30s\"
        ",
        );
        let output = run_in_venv(&ws)
            .arg("--policy")
            .arg(&policy)
            .code(&hostile(
                &[("TOKEN", py(&token))],
                r#"
                block = b"\x01" * (512 << 10)
                for top in ["/tmp", "/dev/shm"]:
                    written = 0
                    try:
                        for index in range(64):
                            with open(f"{top}/{TOKEN}-{index}", "wb") as handle:
                                handle.write(block)
                                written += len(block)
                        print(f"{top}: SUCCEEDED {written}", flush=True)
                    except OSError as error:
                        print(f"{top}: {written} {error.strerror} {errname(error.errno)}", flush=True)
                "#,
            ))
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        for top in ["/tmp", "/dev/shm"] {
            let line = result(&output, top);
            assert!(
                line.ends_with("No space left on device ENOSPC"),
                "{top}: {output}"
            );
            let written: u64 = line
                .split(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .expect("a count");
            assert!(written <= 8 << 20, "{written} bytes in {top}: {output}");
        }
        for top in ["/tmp", "/dev/shm"] {
            let leaked = std::fs::read_dir(top)
                .map(|entries| {
                    entries
                        .flatten()
                        .any(|e| e.file_name().to_string_lossy().contains(&token))
                })
                .unwrap_or(false);
            assert!(!leaked, "the fill reached the host's {top}");
        }
    }

    /// Filling the workdir with one file stops at `limits.file_size` (1 MiB): first EFBIG
    /// "File too large" (Python ignores SIGXFSZ), then, with SIGXFSZ back to its default,
    /// the kernel kills the program: exit 153, and the report names `limits.file_size`. The
    /// limit cannot be raised from inside. On the host neither file exceeds 1 MiB.
    fn workdir_fill_stops_at_file_size(runner) {
        let ws = Workspace::new(&runner);
        let policy = policy_file(
            &ws,
            "fsize.toml",
            "
            [limits]
            file_size = \"1MiB\"
        ",
        );
        let output = run_in_venv(&ws)
            .arg("--policy")
            .arg(&policy)
            .code(&hostile(
                &[],
                r#"
                import resource, signal
                attempt("raise RLIMIT_FSIZE", lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY)))
                block = b"\x01" * (256 << 10)
                def fill(name):
                    with open(name, "wb", buffering=0) as handle:
                        for _ in range(16):
                            handle.write(block)
                attempt("fill ignored", lambda: fill("fill-1"))
                print("size", os.path.getsize("fill-1"), flush=True)
                signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
                fill("fill-2")
                print("fill-2 SURVIVED", flush=True)
                "#,
            ))
            .run();
        assert_started(&output);
        assert!(
            result(&output, "raise RLIMIT_FSIZE").starts_with("ValueError"),
            "{output}"
        );
        assert_eq!(result(&output, "fill ignored"), "OSError EFBIG", "{output}");
        assert_eq!(
            output.line_after("size "),
            (1u64 << 20).to_string(),
            "{output}"
        );
        assert_exit(&output, 153);
        assert!(!output.stdout_text().contains("SURVIVED"), "{output}");
        assert!(
            output.stderr_text().contains("limits.file_size"),
            "{output}"
        );
        for name in ["fill-1", "fill-2"] {
            let size = std::fs::metadata(ws.work().join(name))
                .map(|m| m.len())
                .unwrap_or(0);
            assert!(size <= 1 << 20, "{name} is {size} bytes on the host");
        }
    }

    /// A daemon (double fork, setsid, SIGTERM/SIGHUP/SIGINT ignored) plus a stopped
    /// (SIGSTOP) grandchild do not outlive `--timeout 2s`: exit 124 and no process with the
    /// token is left on the host.
    fn daemon_does_not_outlive_the_timeout(runner) {
        let ws = Workspace::new(&runner);
        let token = unique("boxpy-escape-daemon");
        let mut running = run_in_venv(&ws)
            .args(["--timeout", "2s"])
            .code(
                r#"
                import os, signal, sys, time
                for number in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                    signal.signal(number, signal.SIG_IGN)
                if os.fork() == 0:
                    os.setsid()
                    if os.fork() == 0:
                        if os.fork() == 0:
                            os.kill(os.getpid(), signal.SIGSTOP)
                            os._exit(0)
                        code = "import signal, time\nfor n in (1, 2, 15): signal.signal(n, signal.SIG_IGN)\ntime.sleep(120)"
                        os.execv(sys.executable, [sys.executable, "-c", code, sys.argv[1] + "-daemon"])
                    os._exit(0)
                os.wait()
                print("ready", flush=True)
                time.sleep(120)
                "#,
            )
            .arg(&token)
            .spawn();
        running.wait_for_stdout("ready", READY);
        wait_until(Duration::from_secs(10), || {
            (!host_processes_with(&format!("{token}-daemon")).is_empty()).then_some(())
        })
        .expect("the daemon should appear in host /proc while it runs");
        let output = running.finish();
        assert_started(&output);
        assert_exit(&output, 124);
        assert!(
            !output.pipes_left_open,
            "a sandboxed process kept boxpy's pipes open: {output}"
        );
        assert_no_process_left(&token);
    }

    /// Secrets in the caller's environment: one boxpy was not asked to pass is in neither
    /// `os.environ` nor any `/proc/*/environ` inside (the init's included); one passed with
    /// `--env SECRET=value` reaches the program but never a command line on the host (bwrap
    /// and the init get it through the environment): while the program runs, every host
    /// process carrying the token except boxpy itself (whose own argv the caller chose) is
    /// checked.
    fn environment_secrets_do_not_leak(runner) {
        let ws = Workspace::new(&runner);
        let token = unique("boxpy-escape-env");
        let hidden = unique("hidden-s3cret");
        let passed = unique("passed-s3cret");
        let mut running = run_in_venv(&ws)
            .env("BOXPY_ESCAPE_HIDDEN", &hidden)
            .arg("--env")
            .arg(format!("BOXPY_ESCAPE_PASSED={passed}"))
            .code(&hostile(
                &[("HIDDEN", py_hidden(&hidden)), ("PASSED", py_hidden(&passed))],
                r#"
                import time
                print("hidden in os.environ", any(HIDDEN in value for value in os.environ.values()))
                print("passed", os.environ.get("BOXPY_ESCAPE_PASSED") == PASSED)
                found, readable = [], 0
                for pid in sorted(p for p in os.listdir("/proc") if p.isdigit()) + ["self"]:
                    try:
                        data = open(f"/proc/{pid}/environ", "rb").read()
                    except OSError:
                        continue
                    readable += 1
                    if HIDDEN.encode() in data:
                        found.append(pid)
                print("environ files read", readable)
                print("hidden in /proc", found)
                try:
                    print("init environ readable", HIDDEN.encode() not in open("/proc/1/environ", "rb").read())
                except OSError as error:
                    print("init environ readable", type(error).__name__)
                print("ready", flush=True)
                while not os.path.exists("go"):
                    time.sleep(0.05)
                "#,
            ))
            .arg(&token)
            .spawn();
        running.wait_for_stdout("ready", READY);
        let boxpy_pid = running.pid().as_raw();
        let carriers: Vec<i32> = host_processes_with(&token)
            .into_iter()
            .filter(|pid| *pid != boxpy_pid)
            .collect();
        let mut leaked = Vec::new();
        for pid in &carriers {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(&passed) || cmdline.contains(&hidden) {
                leaked.push(format!("pid {pid}: {cmdline}"));
            }
        }
        ws.write("work/go", "");
        let output = running.finish();
        assert_started(&output);
        assert_exit(&output, 0);
        // bwrap and the init (and python) carry the program's arguments, so the scan saw them.
        assert!(
            carriers.len() >= 2,
            "only {carriers:?} carry the token besides boxpy: {output}"
        );
        assert!(
            leaked.is_empty(),
            "a secret is on a host command line: {leaked:?}"
        );
        assert_eq!(
            output.line_after("hidden in os.environ "),
            "False",
            "{output}"
        );
        assert_eq!(output.line_after("passed "), "True", "{output}");
        assert_ne!(output.line_after("environ files read "), "0", "{output}");
        assert_eq!(output.line_after("hidden in /proc "), "[]", "{output}");
        let init = output.line_after("init environ readable ");
        assert!(init == "True" || init == "PermissionError", "{output}");
    }

    /// Descriptors boxpy inherits do not reach the program: a wrapper opens `/` and a
    /// writable host directory outside the workdir without close-on-exec and execs boxpy.
    /// Inside, `/proc/self/fd` shows only 0, 1, 2 (and the listing's own descriptor), and
    /// `openat`-style use of those numbers (list, stat, create a file) fails with EBADF.
    /// A control run of the same wrapper without the sandbox shows the descriptors do leak.
    fn inherited_descriptors_do_not_reach_the_program(runner) {
        let ws = Workspace::new_in(&non_tmp_work_dir(), &runner);
        let outside = ws.dir("outside");
        let wrapper = ws.write("leak-wrapper.py", FD_LEAK_WRAPPER);
        let escaped = outside.join(unique("escaped"));
        let probe = hostile(
            &[(
                "NAME",
                py(escaped.file_name().expect("a name").to_string_lossy()),
            )],
            FD_LEAK_PROBE,
        );
        let script = ws.write("work/fd-probe.py", crate::harness::python(&probe));
        let control_escaped = outside.join("control");
        let control_probe = hostile(&[("NAME", py("control"))], FD_LEAK_PROBE);
        let control_script = ws.write("work/fd-control.py", crate::harness::python(&control_probe));
        let venv_python = venv(Venv::Debian)
            .expect("the Debian venv")
            .join("bin/python");
        let control = runner
            .host_command("/usr/bin/python3")
            .arg(&wrapper)
            .arg(&outside)
            .arg(&venv_python)
            .arg(&control_script)
            .current_dir(ws.work())
            .stdin(Stdio::null())
            .output()
            .expect("run the control");
        let control_out = String::from_utf8_lossy(&control.stdout);
        assert!(
            control_out.contains("create via leaked: SUCCEEDED") && control_escaped.exists(),
            "control: the wrapper's descriptors should be usable without the sandbox:\n{control_out}{}",
            String::from_utf8_lossy(&control.stderr)
        );
        let output = run_in_venv(&ws)
            .through([Path::new("/usr/bin/python3"), &wrapper, &outside])
            .arg(&script)
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        let leaked: Vec<String> = output
            .line_after("leaked ")
            .split(',')
            .map(str::to_owned)
            .collect();
        assert_eq!(
            leaked.len(),
            2,
            "the wrapper did not pass two descriptors: {output}"
        );
        let listed = output.line_after("fds ");
        // 0, 1, 2 and the descriptor the listing itself opened.
        let extra: Vec<&str> = listed
            .split(',')
            .filter(|fd| !["0", "1", "2"].contains(fd))
            .collect();
        assert!(
            extra.len() <= 1,
            "descriptors beyond 0-2 and the listing's own: {listed}: {output}"
        );
        for label in [
            "fstat leaked",
            "list via leaked",
            "stat via leaked",
            "create via leaked",
            "fchdir via leaked",
        ] {
            assert_refused(&output, label, &["EBADF"]);
        }
        assert_absent_on_host(&escaped);
    }
}

/// The fork bomb: every process forks until a 3 s deadline; forks that fail are counted
/// by errno. The original process samples how many processes the sandbox holds and stops
/// the bomb early (a file in /tmp) should the limit not hold, so a broken limit cannot
/// take the host down.
const FORK_BOMB: &str = r#"
import resource, time
deadline = time.monotonic() + 3
original = os.getpid()
stop = "/tmp/stop-the-bomb"
errors, peak = set(), 0
print("nproc", resource.getrlimit(resource.RLIMIT_NPROC)[0], flush=True)
print("bombing", flush=True)
while time.monotonic() < deadline and not os.path.exists(stop):
    if os.getpid() == original:
        count = sum(1 for name in os.listdir("/proc") if name.isdigit())
        peak = max(peak, count)
        if count > 400:
            open(stop, "w").close()
    try:
        pid = os.fork()
    except OSError as error:
        errors.add(errname(error.errno))
        time.sleep(0.02)
        continue
    if pid == 0:
        errors = set()
if os.getpid() == original:
    print("peak", peak)
    print("fork errors", sorted(errors), flush=True)
os._exit(0)
"#;

/// A host wrapper that gives boxpy a real pty as controlling terminal and stdin, runs it,
/// then reports how many bytes wait in the pty's input queue (what TIOCSTI would push).
const TTY_WRAPPER: &str = r#"
import fcntl, os, pty, struct, sys, termios, tty
master, slave = pty.openpty()
tty.setraw(slave)
pid = os.fork()
if pid == 0:
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    os.dup2(slave, 0)
    os.close(master)
    os.execv(sys.argv[1], sys.argv[1:])
_, status = os.waitpid(pid, 0)
queued = struct.unpack("i", fcntl.ioctl(slave, termios.FIONREAD, b"\0\0\0\0"))[0]
print("host: input queue", queued, flush=True)
sys.exit(os.waitstatus_to_exitcode(status))
"#;

/// Inside: try to open the terminal and push a byte into it on fds 0-2 (with and without
/// bits above 32 in the request).
const TIOCSTI_PROBE: &str = r#"
import fcntl, termios
print("stdin is a tty", os.isatty(0), flush=True)
attempt("open /dev/tty", lambda: os.open("/dev/tty", os.O_RDWR))
byte = ctypes.c_char(b"X")
for fd in (0, 1, 2):
    for request in (0x5412, 0x5412 | 1 << 32):
        raw_syscall(f"tiocsti {fd} {request:#x}", 16, fd, request, ctypes.byref(byte))
attempt("fcntl.ioctl TIOCSTI", lambda: fcntl.ioctl(0, termios.TIOCSTI, b"Y"))
"#;

/// A host wrapper: opens `/` and the directory `argv[1]` without close-on-exec, then execs
/// `argv[2:]` with the two descriptor numbers appended as arguments.
const FD_LEAK_WRAPPER: &str = r#"
import os, sys
fds = [os.open("/", os.O_RDONLY | os.O_DIRECTORY), os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)]
for fd in fds:
    os.set_inheritable(fd, True)
os.execv(sys.argv[2], sys.argv[2:] + [str(fd) for fd in fds])
"#;

/// Inside: the descriptors it has, and `openat`-style use of the leaked numbers
/// (`sys.argv[-2]` is `/`, `sys.argv[-1]` the writable host directory).
const FD_LEAK_PROBE: &str = r#"
root_fd, outside_fd = int(sys.argv[-2]), int(sys.argv[-1])
print("leaked", f"{root_fd},{outside_fd}")
print("fds", ",".join(sorted(os.listdir("/proc/self/fd"), key=int)))
attempt("fstat leaked", lambda: [os.fstat(fd) for fd in (root_fd, outside_fd)])
attempt("list via leaked", lambda: os.listdir(root_fd))
attempt("stat via leaked", lambda: os.stat("etc/shadow", dir_fd=root_fd))
attempt("create via leaked", lambda: os.close(os.open(NAME, os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=outside_fd)))
attempt("fchdir via leaked", lambda: os.fchdir(root_fd))
"#;
