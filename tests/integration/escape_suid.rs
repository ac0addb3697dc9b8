//! The escape suite, setuid class: what a file the program leaves in the workdir can do to
//! the next user who runs or opens it (issue 13, item 3; systemd's `RestrictSUIDSGID=`).
//!
//! A program running as root (CI) could `chmod 4755` a file it created in the host workdir;
//! `nosuid` holds only inside the sandbox, so any host user who ran it later was root. The
//! seccomp filter now refuses every way of setting S_ISUID or S_ISGID: `chmod`, `fchmod`,
//! `fchmodat`, `fchmodat2` with those bits in the mode, and `open`/`openat`/`creat`
//! (with `O_CREAT` or `O_TMPFILE`), `mkdir`/`mkdirat`, `mknod`/`mknodat` creating with them;
//! `openat2`, whose mode the filter cannot read, answers ENOSYS. Each test proves Python
//! started, that every attempt failed with the errno the filter promises, and stats the
//! files on the host afterwards. Each runs as the caller (root) and as `boxpy-test`: a
//! setuid file of an ordinary user is an escape too (the next user runs as that user).
//!
//! The rest of the class is held by other mechanisms, checked here so that a change to them
//! shows: file capabilities (`security.capability`) need CAP_SETFCAP, which `--cap-drop ALL`
//! takes away; device nodes need CAP_MKNOD; a hard link to a host file outside the workdir
//! crosses a mount (EXDEV). FIFOs and world-writable files stay possible (see SECURITY.md).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use crate::harness::{
    assert_exit, assert_started, dedent, py_path, run_in_venv, runner_tests, Output, Workspace,
};

const S_ISUID: u32 = 0o4000;
const S_ISGID: u32 = 0o2000;

/// Helpers every program here starts with: `attempt(label, action)` prints
/// `LABEL: ExceptionType ERRNO` or `LABEL: SUCCEEDED value`; `raw(label, nr, *args)` makes a
/// system call through ctypes and prints `LABEL: ERRNO` or `LABEL: SUCCEEDED value`.
const PRELUDE: &str = r#"
import ctypes, errno, os, platform, stat, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
X86_64 = platform.machine() == "x86_64"
AT_FDCWD = -100

def errname(number):
    return errno.errorcode.get(number, str(number))

def attempt(label, action):
    try:
        result = action()
    except OSError as error:
        print(f"{label}: {type(error).__name__} {errname(error.errno)}", flush=True)
    else:
        print(f"{label}: SUCCEEDED {result!r}", flush=True)

def c_arg(value):
    return ctypes.c_long(value) if isinstance(value, int) else value

def raw(label, number, *args):
    ctypes.set_errno(0)
    result = libc.syscall(ctypes.c_long(number), *map(c_arg, args))
    if result == -1:
        print(f"{label}: {errname(ctypes.get_errno())}", flush=True)
    else:
        print(f"{label}: SUCCEEDED {result}", flush=True)
"#;

/// A program: [`PRELUDE`], `WORK = <workdir>`, then `snippet`.
fn program(work: &Path, snippet: &str) -> String {
    format!(
        "{PRELUDE}\nWORK = {}\nos.chdir(WORK)\n{}",
        py_path(work),
        dedent(snippet)
    )
}

/// What the program printed for `label`.
fn result(output: &Output, label: &str) -> String {
    output.line_after(&format!("{label}: "))
}

/// Asserts that no file under `dir` (recursively, without following symlinks) has the
/// setuid or setgid bit, read on the host.
#[track_caller]
fn assert_no_setid_file(dir: &Path, output: &Output) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).expect("read the workdir on the host") {
            let path = entry.expect("a directory entry").path();
            let metadata = std::fs::symlink_metadata(&path).expect("stat on the host");
            assert_eq!(
                metadata.mode() & (S_ISUID | S_ISGID),
                0,
                "{} has mode {:o} on the host: {output}",
                path.display(),
                metadata.mode()
            );
            if metadata.is_dir() {
                stack.push(path);
            }
        }
    }
}

runner_tests! {
    /// Setting S_ISUID or S_ISGID on an existing file, by every call that changes a mode,
    /// is refused with EPERM; the file's mode on the host is what it was.
    fn setuid_and_setgid_modes_are_refused(runner) {
        let ws = Workspace::new(&runner);
        let tool = ws.write("work/tool", "#!/bin/sh\nid\n");
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        let output = run_in_venv(&ws)
            .code(&program(
                ws.work(),
                r#"
                FCHMODAT = 268 if X86_64 else 53
                attempt("chmod 4755", lambda: os.chmod("tool", 0o4755))
                attempt("chmod 2755", lambda: os.chmod("tool", 0o2755))
                attempt("chmod 6777", lambda: os.chmod("tool", 0o6777))
                fd = os.open("tool", os.O_RDONLY)
                attempt("fchmod 4755", lambda: os.fchmod(fd, 0o4755))
                attempt("fchmod via /proc/self/fd", lambda: os.chmod(f"/proc/self/fd/{fd}", 0o4755))
                directory = os.open(WORK, os.O_RDONLY | os.O_DIRECTORY)
                attempt("fchmodat 2755", lambda: os.chmod("tool", 0o2755, dir_fd=directory))
                raw("fchmodat2 4755", 452, AT_FDCWD, b"tool", 0o4755, 0)
                # The kernel reads the mode as 16 bits: bits above 32 must not hide S_ISUID.
                raw("fchmodat 4755 high bits", FCHMODAT, AT_FDCWD, b"tool", (1 << 32) | 0o4755)
                if X86_64:
                    raw("chmod syscall 4755", 90, b"tool", 0o4755)
                    raw("fchmod syscall 2755", 91, fd, 0o2755)
                else:
                    print("chmod syscall 4755: EPERM")
                    print("fchmod syscall 2755: EPERM")
                print("mode", oct(os.stat("tool").st_mode), flush=True)
                "#,
            ))
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        for label in [
            "chmod 4755",
            "chmod 2755",
            "chmod 6777",
            "fchmod 4755",
            "fchmod via /proc/self/fd",
            "fchmodat 2755",
        ] {
            assert_eq!(result(&output, label), "PermissionError EPERM", "{label}: {output}");
        }
        for label in [
            "fchmodat2 4755",
            "fchmodat 4755 high bits",
            "chmod syscall 4755",
            "fchmod syscall 2755",
        ] {
            assert_eq!(result(&output, label), "EPERM", "{label}: {output}");
        }
        let mode = std::fs::metadata(&tool).unwrap().mode();
        assert_eq!(mode & 0o7777, 0o755, "host mode {mode:o}: {output}");
        assert_no_setid_file(ws.work(), &output);
    }

    /// Creating a file, directory or node with S_ISUID or S_ISGID in the mode is refused
    /// with EPERM (`openat2`, whose mode the filter cannot read, with ENOSYS); nothing is
    /// created on the host.
    fn creating_with_setuid_or_setgid_is_refused(runner) {
        let ws = Workspace::new(&runner);
        let output = run_in_venv(&ws)
            .code(&program(
                ws.work(),
                r#"
                OPENAT = 257 if X86_64 else 56
                MKDIRAT = 258 if X86_64 else 34
                MKNODAT = 259 if X86_64 else 33
                CREATE = os.O_CREAT | os.O_WRONLY
                attempt("open O_CREAT 4755", lambda: os.open("a", CREATE, 0o4755))
                attempt("open O_CREAT|O_EXCL 2755", lambda: os.open("b", CREATE | os.O_EXCL, 0o2755))
                attempt("open O_TMPFILE 4755", lambda: os.open(WORK, os.O_TMPFILE | os.O_WRONLY, 0o4755))
                ctypes.set_errno(0)
                fd = libc.creat(b"c", 0o4755)
                print("creat 4755:", errname(ctypes.get_errno()) if fd < 0 else f"SUCCEEDED {fd}", flush=True)
                raw("openat 6755 high bits", OPENAT, AT_FDCWD, b"d", (1 << 32) | CREATE, (1 << 32) | 0o6755)
                if X86_64:
                    raw("open syscall 4755", 2, b"e", CREATE, 0o4755)
                    raw("creat syscall 2755", 85, b"f", 0o2755)
                    raw("mkdir syscall 2775", 83, b"g", 0o2775)
                    raw("mknod syscall 4755", 133, b"h", stat.S_IFREG | 0o4755, 0)
                else:
                    for label in ["open syscall 4755", "creat syscall 2755", "mkdir syscall 2775", "mknod syscall 4755"]:
                        print(f"{label}: EPERM")
                attempt("mkdir 2775", lambda: os.mkdir("dir-sgid", 0o2775))
                attempt("mkdir 4775", lambda: os.mkdir("dir-suid", 0o4775))
                raw("mkdirat 2775", MKDIRAT, AT_FDCWD, b"dir-at", 0o2775)
                attempt("mknod 4755", lambda: os.mknod("node", stat.S_IFREG | 0o4755))
                attempt("mkfifo 2644", lambda: os.mkfifo("fifo", 0o2644))
                raw("mknodat 6755", MKNODAT, AT_FDCWD, b"node-at", stat.S_IFREG | 0o6755, 0)
                # struct open_how { u64 flags; u64 mode; u64 resolve; }
                how = (ctypes.c_uint64 * 3)(CREATE, 0o4755, 0)
                raw("openat2 4755", 437, AT_FDCWD, b"i", ctypes.byref(how), 24)
                print("left:", sorted(os.listdir(WORK)), flush=True)
                "#,
            ))
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        for label in [
            "open O_CREAT 4755",
            "open O_CREAT|O_EXCL 2755",
            "open O_TMPFILE 4755",
            "mkdir 2775",
            "mkdir 4775",
            "mknod 4755",
            "mkfifo 2644",
        ] {
            assert_eq!(result(&output, label), "PermissionError EPERM", "{label}: {output}");
        }
        for label in [
            "creat 4755",
            "openat 6755 high bits",
            "open syscall 4755",
            "creat syscall 2755",
            "mkdir syscall 2775",
            "mknod syscall 4755",
            "mkdirat 2775",
            "mknodat 6755",
        ] {
            assert_eq!(result(&output, label), "EPERM", "{label}: {output}");
        }
        assert_eq!(result(&output, "openat2 4755"), "ENOSYS", "{output}");
        assert_eq!(result(&output, "left"), "[]", "{output}");
        let left: Vec<_> = std::fs::read_dir(ws.work()).unwrap().collect();
        assert!(left.is_empty(), "created on the host: {left:?}: {output}");
    }

    /// What the rules must not break: ordinary modes, the sticky bit, opening an existing
    /// file whatever garbage is in the (unused) mode argument, `shutil.copy`/`copy2`,
    /// `tempfile`, and a pip-style wheel install (extract, then `chmod` the scripts).
    fn ordinary_modes_still_work(runner) {
        let ws = Workspace::new(&runner);
        let output = run_in_venv(&ws)
            .code(&program(
                ws.work(),
                r##"
                import io, shutil, tempfile, zipfile
                OPENAT = 257 if X86_64 else 56
                with open("plain", "w") as handle:
                    handle.write("text\n")
                attempt("chmod 755", lambda: os.chmod("plain", 0o755))
                attempt("chmod 600", lambda: os.chmod("plain", 0o600))
                attempt("mkdir 775", lambda: os.mkdir("dir", 0o775))
                attempt("chmod 1777", lambda: os.chmod("dir", 0o1777))
                attempt("open O_CREAT 644", lambda: os.close(os.open("created", os.O_CREAT | os.O_WRONLY, 0o644)))
                # Without O_CREAT the kernel ignores the mode: the filter must too.
                raw("openat O_RDONLY mode 6755", OPENAT, AT_FDCWD, b"plain", os.O_RDONLY, 0o6755)
                attempt("O_TMPFILE 600", lambda: os.close(os.open(WORK, os.O_TMPFILE | os.O_WRONLY, 0o600)))
                attempt("mkfifo 600", lambda: os.mkfifo("fifo", 0o600))
                attempt("shutil.copy", lambda: shutil.copy("plain", "copy"))
                attempt("shutil.copy2", lambda: shutil.copy2("plain", "copy2"))
                attempt("shutil.copytree", lambda: shutil.copytree("dir", "tree"))
                def temporary():
                    with tempfile.NamedTemporaryFile(dir=WORK) as handle:
                        handle.write(b"x")
                    return os.path.isdir(tempfile.mkdtemp(dir=WORK))
                attempt("tempfile", temporary)
                def wheel_install():
                    buffer = io.BytesIO()
                    with zipfile.ZipFile(buffer, "w") as wheel:
                        wheel.writestr("pkg/__init__.py", "VALUE = 42\n")
                        wheel.writestr("pkg-1.0.data/scripts/pkg-tool", "#!python\nprint(1)\n")
                    site = os.path.join(WORK, "site")
                    with zipfile.ZipFile(buffer) as wheel:
                        wheel.extractall(site)
                    script = os.path.join(site, "pkg-1.0.data/scripts/pkg-tool")
                    # pip: make scripts executable by everyone who can read them.
                    mode = os.stat(script).st_mode
                    os.chmod(script, mode | ((mode & 0o444) >> 2))
                    sys.path.insert(0, site)
                    import pkg
                    return pkg.VALUE
                attempt("wheel install", wheel_install)
                "##,
            ))
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        for label in [
            "chmod 755",
            "chmod 600",
            "mkdir 775",
            "chmod 1777",
            "open O_CREAT 644",
            "O_TMPFILE 600",
            "mkfifo 600",
            "shutil.copy",
            "shutil.copy2",
            "shutil.copytree",
            "tempfile",
            "wheel install",
            "openat O_RDONLY mode 6755",
        ] {
            assert!(result(&output, label).starts_with("SUCCEEDED"), "{label}: {output}");
        }
        let dir = std::fs::metadata(ws.work().join("dir")).unwrap().mode();
        assert_eq!(dir & 0o7777, 0o1777, "{output}");
        assert_no_setid_file(ws.work(), &output);
    }

    /// The rest of the class, held by other mechanisms: file capabilities need CAP_SETFCAP
    /// (`--cap-drop ALL`), device nodes need CAP_MKNOD, a hard link to a file outside the
    /// workdir crosses a mount. Nothing of it reaches the host.
    fn other_dangerous_files_are_refused(runner) {
        let ws = Workspace::new(&runner);
        let tool = ws.write("work/tool", "#!/bin/sh\nid\n");
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        let output = run_in_venv(&ws)
            .code(&program(
                ws.work(),
                r#"
                import struct
                # VFS_CAP_REVISION_2, effective; permitted = CAP_SETUID (7) | CAP_SYS_ADMIN (21).
                caps = struct.pack("<IIIII", 0x02000001, (1 << 7) | (1 << 21), 0, 0, 0)
                attempt("setxattr security.capability", lambda: os.setxattr("tool", "security.capability", caps))
                attempt("char device", lambda: os.mknod("null", stat.S_IFCHR | 0o666, os.makedev(1, 3)))
                attempt("block device", lambda: os.mknod("disk", stat.S_IFBLK | 0o666, os.makedev(8, 0)))
                attempt("hard link to the interpreter", lambda: os.link(os.path.realpath(sys.executable), "python-link"))
                attempt("hard link to /etc/passwd", lambda: os.link("/etc/passwd", "passwd-link"))
                "#,
            ))
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(
            result(&output, "setxattr security.capability"),
            "PermissionError EPERM",
            "{output}"
        );
        for label in ["char device", "block device"] {
            assert_eq!(result(&output, label), "PermissionError EPERM", "{label}: {output}");
        }
        for label in ["hard link to the interpreter", "hard link to /etc/passwd"] {
            let got = result(&output, label);
            assert!(
                got == "OSError EXDEV" || got == "PermissionError EPERM",
                "{label}: {got}: {output}"
            );
        }
        let names: Vec<String> = std::fs::read_dir(ws.work())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["tool"], "{output}");
        assert!(
            xattr_absent(&tool, "security.capability"),
            "the host file has file capabilities: {output}"
        );
    }
}

/// Python run on the host as the runner's user: one `inotify_init1`, printing `ok` or the
/// errno's name.
const HOST_INOTIFY: &str = r#"
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(0)
print("ok" if fd >= 0 else errno.errorcode[ctypes.get_errno()])
"#;

/// Python for both sides of the POSIX message queue and queued signal test: `mq(label)`
/// opens queues of 10 messages of 8 KiB until one fails, `signals(label)` queues a blocked
/// real-time signal to itself until that fails; each prints `LABEL: COUNT ERRNO`.
const QUEUES: &str = r#"
import ctypes, errno, os, signal
libc = ctypes.CDLL(None, use_errno=True)
rt = ctypes.CDLL("librt.so.1", use_errno=True)
class Attr(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_long), ("maxmsg", ctypes.c_long), ("msgsize", ctypes.c_long),
                ("curmsgs", ctypes.c_long), ("reserved", ctypes.c_long * 4)]
class SigVal(ctypes.Union):
    _fields_ = [("sival_int", ctypes.c_int), ("sival_ptr", ctypes.c_void_p)]

def mq(label, prefix, most):
    count = 0
    while count < most:
        attr = Attr(0, 10, 8192, 0)
        name = f"/{prefix}{count}".encode()
        queue = rt.mq_open(name, os.O_CREAT | os.O_RDWR, 0o600, ctypes.byref(attr))
        if queue < 0:
            print(f"{label}: {count} {errno.errorcode[ctypes.get_errno()]}", flush=True)
            return
        rt.mq_unlink(name)  # the open descriptor keeps the queue (and its charge)
        count += 1
    print(f"{label}: {count} none", flush=True)

def signals(label, number, most):
    signal.pthread_sigmask(signal.SIG_BLOCK, [number])
    count = 0
    while count < most:
        if libc.sigqueue(os.getpid(), number, SigVal(0)) < 0:
            print(f"{label}: {count} {errno.errorcode[ctypes.get_errno()]}", flush=True)
            return
        count += 1
    print(f"{label}: {count} none", flush=True)
"#;

/// The host's per-user inotify limits (`fs.inotify.max_user_{instances,watches}`).
fn host_inotify_limits() -> (String, String) {
    let read = |name: &str| {
        std::fs::read_to_string(format!("/proc/sys/fs/inotify/{name}"))
            .expect("read a host inotify limit")
    };
    (read("max_user_instances"), read("max_user_watches"))
}

runner_tests! {
    /// Shared per-user kernel resources (issue 13, item 7): inotify instances are charged
    /// to the host user too (per-user counters go up the user-namespace chain), so a run
    /// that takes all it can must leave the host user able to `inotify_init` while it
    /// lasts. The sandbox's user namespace has its own, lower limit (a quarter of the
    /// host's); the host's limits are unchanged; the program cannot raise its own.
    fn inotify_instances_of_the_host_user_are_not_exhausted(runner) {
        let limits_before = host_inotify_limits();
        let ws = Workspace::new(&runner);
        let done = ws.work().join("done");
        let mut running = run_in_venv(&ws)
            .code(&program(
                ws.work(),
                r#"
                import time
                held = []
                while True:
                    fd = libc.inotify_init1(0)
                    if fd < 0:
                        print("stopped by:", errname(ctypes.get_errno()), flush=True)
                        break
                    held.append(fd)
                print("instances:", len(held), flush=True)
                directory = os.open(WORK, os.O_RDONLY)
                attempt("raise the limit", lambda: os.write(os.open("/proc/sys/user/max_inotify_instances", os.O_WRONLY), b"1000000"))
                print("limit:", open("/proc/sys/user/max_inotify_instances").read().strip(), flush=True)
                print("watches limit:", open("/proc/sys/user/max_inotify_watches").read().strip(), flush=True)
                print("caps:", " ".join(l.split()[1] for l in open("/proc/self/status") if l.startswith("Cap")), flush=True)
                print("holding", flush=True)
                deadline = time.monotonic() + 60
                while not os.path.exists("done") and time.monotonic() < deadline:
                    time.sleep(0.05)
                "#,
            ))
            .spawn();
        running.wait_for_stdout("holding", Duration::from_secs(60));
        // While the program holds every instance it could get: the host user's turn.
        let host = runner
            .host_command("/usr/bin/python3")
            .args(["-c", HOST_INOTIFY])
            .output()
            .expect("run python3 on the host");
        std::fs::write(&done, "").unwrap();
        let output = running.finish();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(
            String::from_utf8_lossy(&host.stdout).trim(),
            "ok",
            "the host user could not create an inotify instance while the run held its own: \
             {}{output}",
            String::from_utf8_lossy(&host.stderr)
        );
        let instances: u64 = result(&output, "instances").parse().unwrap();
        let host_limit: u64 = limits_before.0.trim().parse().unwrap();
        assert!(instances <= host_limit / 4 + 1, "{instances} of {host_limit}: {output}");
        assert!(instances >= 1, "{output}");
        assert_eq!(result(&output, "stopped by"), "EMFILE", "{output}");
        assert_eq!(result(&output, "limit"), (host_limit / 4).to_string(), "{output}");
        let host_watches: u64 = limits_before.1.trim().parse().unwrap();
        assert_eq!(
            result(&output, "watches limit"),
            (host_watches / 4).to_string(),
            "{output}"
        );
        let raised = result(&output, "raise the limit");
        assert!(!raised.starts_with("SUCCEEDED"), "{raised}: {output}");
        // CapInh, CapPrm, CapEff, CapBnd, CapAmb: the init's own capabilities are gone.
        assert_eq!(result(&output, "caps"), ["0000000000000000"; 5].join(" "), "{output}");
        assert_eq!(host_inotify_limits(), limits_before, "host limits changed");
    }
}

runner_tests! {
    /// Shared per-user kernel resources, the rlimit-counted ones: POSIX message queue bytes
    /// (`RLIMIT_MSGQUEUE`) and queued signals (`RLIMIT_SIGPENDING`) are charged to the host
    /// user too. A run that takes all it can must leave the host user able to open a queue
    /// and queue a signal while it lasts.
    fn message_queues_and_queued_signals_of_the_host_user_are_not_exhausted(runner) {
        let ws = Workspace::new(&runner);
        let done = ws.work().join("done");
        let mut running = run_in_venv(&ws)
            .code(&program(
                ws.work(),
                &format!(
                    "{QUEUES}\n{}",
                    dedent(r#"
                    import time, resource
                    mq("sandbox queues", "boxpy-sandbox-q", 100000)
                    signals("sandbox signals", signal.SIGRTMIN, 10000000)
                    print("holding", flush=True)
                    deadline = time.monotonic() + 60
                    while not os.path.exists("done") and time.monotonic() < deadline:
                        time.sleep(0.05)
                    "#)
                ),
            ))
            .spawn();
        running.wait_for_stdout("holding", Duration::from_secs(60));
        let host = runner
            .host_command("/usr/bin/python3")
            .args([
                "-c",
                &format!(
                    "{QUEUES}\nmq('host queues', 'boxpy-host-q-{}', 1)\nsignals('host signals', signal.SIGRTMIN + 1, 1)\n",
                    std::process::id()
                ),
            ])
            .output()
            .expect("run python3 on the host");
        std::fs::write(&done, "").unwrap();
        let output = running.finish();
        assert_started(&output);
        assert_exit(&output, 0);
        let host_text = String::from_utf8_lossy(&host.stdout);
        for line in ["host queues: 1 none", "host signals: 1 none"] {
            assert!(
                host_text.lines().any(|l| l == line),
                "the host user was starved while the run held its share: {host_text}{}{output}",
                String::from_utf8_lossy(&host.stderr)
            );
        }
        // The program did take what it could: it was stopped by its own limit.
        for label in ["sandbox queues", "sandbox signals"] {
            let got = result(&output, label);
            assert!(
                got.ends_with(" EMFILE") || got.ends_with(" EAGAIN") || got.ends_with(" ENOMEM"),
                "{label}: {got}: {output}"
            );
        }
    }
}

/// Whether `path` has no extended attribute `name`, read on the host with `getfattr`'s
/// syscall (`lgetxattr` through nix is not available, so through Python).
fn xattr_absent(path: &Path, name: &str) -> bool {
    let status = std::process::Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import os, sys\ntry:\n    os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False)\nexcept OSError:\n    sys.exit(0)\nsys.exit(1)",
        ])
        .arg(path)
        .arg(name)
        .status()
        .expect("run python3 on the host");
    status.success()
}
