//! The host kernel's interfaces inside the sandbox (issue: containment round 2), as
//! classes rather than listed files: nothing in `/proc` or `/dev` is writable, the kernel's
//! state and the host's boot line read as empty, every writable tmpfs is bounded by
//! `filesystem.tmp_size`, and the account files know only root, the caller and `nobody`.
//!
//! Each test runs under every shipped policy where the policy could matter, as the caller
//! (root in CI: the case that matters, sysctl writes are checked against uid 0) and as the
//! unprivileged user; proves Python started; then proves the attempt failed and the host
//! value did not change. No test ever writes a different value to a host setting: a
//! refused open for writing is the attempt (and where a write is attempted, it is the
//! current value again).

use std::path::Path;

use crate::harness::{assert_exit, assert_started, dedent, run_in_venv, runner_tests, Workspace};

const SHIPPED_POLICIES: &[&str] = &["default", "strict", "net"];

/// Host values a test reads before and after.
fn host_value(path: &str) -> Option<Vec<u8>> {
    std::fs::read(path).ok()
}

/// Python: for every file under `/proc` the program reaches (the whole of `/proc/sys`,
/// `/proc/sysrq-trigger`, `/proc/self`'s writable files, ...) whose mode has a write bit,
/// try to open it for writing, and for `core_pattern`, write its own value back. Prints
/// `OPENED PATH` for each success and `checked N` at the end.
const PROC_WRITE_CLASS: &str = r#"
import os, stat
opened = []
checked = 0
def try_open(path):
    global checked
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return
    if not stat.S_ISREG(mode) or not mode & 0o222:
        return
    checked += 1
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return
    os.close(fd)
    opened.append(path)
for top in ["/proc/sys", "/proc/fs", "/proc/bus", "/proc/irq", "/proc/driver"]:
    for root, dirs, files in os.walk(top):
        for name in files:
            try_open(os.path.join(root, name))
for name in ["sysrq-trigger", "self/oom_score_adj", "self/coredump_filter", "self/mem",
             "self/attr/current", "self/clear_refs", "self/setgroups", "1/oom_score_adj"]:
    try_open("/proc/" + name)
for path in opened:
    print("OPENED", path)
# The write that ran a program as host root: the current value, written back.
try:
    value = open("/proc/sys/kernel/core_pattern", "rb").read()
    with open("/proc/sys/kernel/core_pattern", "wb", buffering=0) as f:
        f.write(value)
    print("core_pattern: SUCCEEDED")
except OSError as error:
    print("core_pattern:", type(error).__name__, error.errno)
print("checked", checked)
"#;

runner_tests! {
    /// No file in `/proc` can be opened for writing, under every shipped policy: the class
    /// that held `/proc/sys/kernel/core_pattern` (a crash then ran a workdir script as host
    /// root), `/proc/sysrq-trigger`, `/proc/sys/vm/drop_caches`, and `/proc/PID` files.
    /// The host's `core_pattern` is unchanged.
    fn proc_is_not_writable(runner) {
        let before = host_value("/proc/sys/kernel/core_pattern");
        for policy in SHIPPED_POLICIES {
            let ws = Workspace::new(&runner);
            let output = run_in_venv(&ws).args(["-P", policy]).code(PROC_WRITE_CLASS).run();
            assert_started(&output);
            assert_exit(&output, 0);
            let checked: usize = output.line_after("checked ").parse().unwrap_or(0);
            assert!(checked > 100, "policy {policy}: too few /proc files seen: {output}");
            assert!(
                !output.stdout_text().contains("OPENED "),
                "policy {policy}: a /proc file opened for writing: {output}"
            );
            assert!(
                output.line_after("core_pattern: ").starts_with("OSError 30")
                    || output.line_after("core_pattern: ").starts_with("PermissionError"),
                "policy {policy}: {output}"
            );
        }
        assert_eq!(host_value("/proc/sys/kernel/core_pattern"), before);
    }

    /// The kernel's state and other processes' traces read as empty or are absent: the
    /// boot line, kernel timers (host processes' names), keys, symbol addresses, slab and
    /// page-frame information. `/sys` is not there at all.
    fn kernel_state_reads_as_empty(runner) {
        let ws = Workspace::new(&runner);
        let output = run_in_venv(&ws)
            .code(
                r#"
                import os
                for name in ["cmdline", "config.gz", "keys", "key-users", "kallsyms",
                             "timer_list", "sched_debug", "slabinfo", "kpageflags",
                             "kpagecount", "vmallocinfo", "pagetypeinfo", "kcore",
                             "latency_stats", "timer_stats"]:
                    try:
                        with open("/proc/" + name, "rb") as f:
                            data = f.read(4096)
                        print(name, "BYTES", len(data))
                    except OSError as error:
                        print(name, "REFUSED", error.errno)
                print("sys", os.path.exists("/sys"))
                print("uptime", len(open("/proc/uptime").read()) > 0)
                print("self", os.path.exists("/proc/self/status"))
                "#,
            )
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        for line in output.stdout_text().lines().filter(|line| line.contains(" BYTES ")) {
            assert!(line.ends_with(" BYTES 0"), "kernel state readable: {line}: {output}");
        }
        assert_eq!(output.line_after("cmdline "), "BYTES 0", "{output}");
        assert_eq!(output.line_after("sys "), "False", "{output}");
        // What Python and its libraries do read still works.
        assert_eq!(output.line_after("uptime "), "True", "{output}");
        assert_eq!(output.line_after("self "), "True", "{output}");
    }

    /// Every writable tmpfs inside (HOME, `/tmp`, `/dev/shm`, whatever else) is bounded by
    /// `filesystem.tmp_size`, as root and as an ordinary user: a class check over the
    /// mount table, then a write past the size into each. `/dev` itself and `/` are
    /// read-only.
    fn every_writable_tmpfs_is_bounded(runner) {
        let ws = Workspace::new(&runner);
        let policy = ws.write(
            "small-tmp.toml",
            dedent(
                r#"
                [filesystem]
                tmp_size = "8MiB"
                [limits]
                file_size = "1GiB"
                memory = "2GiB"
                "#,
            ),
        );
        let output = run_in_venv(&ws)
            .arg("-P")
            .arg(&policy)
            .code(
                r#"
                import os
                writable = []
                for line in open("/proc/self/mountinfo"):
                    fields, _, rest = line.partition(" - ")
                    fields = fields.split()
                    fstype = rest.split()[0]
                    mount_point, options = fields[4], fields[5].split(",")
                    if fstype == "tmpfs" and "rw" in options:
                        size = os.statvfs(mount_point)
                        total = size.f_blocks * size.f_frsize
                        print("tmpfs", mount_point, total)
                        writable.append(mount_point)
                    elif mount_point in ("/", "/dev", "/proc"):
                        print("mount", mount_point, options[0])
                for mount_point in writable:
                    path = os.path.join(mount_point, "fill")
                    try:
                        with open(path, "wb") as f:
                            for _ in range(16):
                                f.write(b"x" * (1 << 20))
                        print("filled", mount_point, "SUCCEEDED")
                    except OSError as error:
                        print("filled", mount_point, error.errno)
                    finally:
                        try:
                            os.unlink(path)
                        except OSError:
                            pass
                for path in ["/dev/made-by-program", "/made-by-program"]:
                    try:
                        open(path, "wb")
                        print("create", path, "SUCCEEDED")
                    except OSError as error:
                        print("create", path, error.errno)
                "#,
            )
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        let stdout = output.stdout_text();
        let tmpfs: Vec<&str> = stdout
            .lines()
            .filter(|line| line.starts_with("tmpfs "))
            .collect();
        for expected in ["/tmp", "/dev/shm"] {
            assert!(
                tmpfs.iter().any(|line| line.split(' ').nth(1) == Some(expected)),
                "{expected} is not a writable tmpfs: {output}"
            );
        }
        assert!(tmpfs.len() >= 3, "HOME is not a writable tmpfs: {output}");
        for line in &tmpfs {
            let size: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
            assert!(size <= 8 << 20, "unbounded tmpfs `{line}`: {output}");
        }
        for line in stdout.lines().filter(|line| line.starts_with("filled ")) {
            assert!(line.ends_with(" 28"), "not ENOSPC: `{line}`: {output}");
        }
        for mount_point in ["/", "/dev", "/proc"] {
            assert_eq!(output.line_after(&format!("mount {mount_point} ")), "ro", "{output}");
        }
        assert_eq!(output.line_after("create /dev/made-by-program "), "30", "{output}");
        assert_eq!(output.line_after("create /made-by-program "), "30", "{output}");
    }

    /// `/etc/passwd` and `/etc/group` are generated: at most three accounts (root, the
    /// caller, `nobody`), none of the host's others; what Python asks of them still works.
    fn account_files_know_only_three_users(runner) {
        let ws = Workspace::new(&runner);
        let output = run_in_venv(&ws)
            .code(
                r#"
                import getpass, grp, os, pwd
                users = [line.split(":")[0] for line in open("/etc/passwd") if line.strip()]
                print("users", len(users), ",".join(users))
                print("getuser", getpass.getuser())
                print("pwd-home", pwd.getpwuid(os.getuid()).pw_dir == os.environ["HOME"])
                print("expand", os.path.expanduser("~") == os.environ["HOME"])
                print("group", grp.getgrgid(os.getgid()).gr_name)
                "#,
            )
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        let count: usize = output
            .line_after("users ")
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(count <= 3, "{output}");
        let host_users = std::fs::read_to_string("/etc/passwd").unwrap();
        let expected_user = match &runner {
            crate::harness::Runner::Caller if crate::harness::is_root() => "root".to_owned(),
            crate::harness::Runner::Caller => std::env::var("USER").unwrap_or_default(),
            crate::harness::Runner::Unprivileged(_) => crate::harness::TEST_USER.to_owned(),
        };
        if host_users.lines().any(|line| line.starts_with(&format!("{expected_user}:"))) {
            assert_eq!(output.line_after("getuser "), expected_user, "{output}");
        }
        assert_eq!(output.line_after("pwd-home "), "True", "{output}");
        assert_eq!(output.line_after("expand "), "True", "{output}");
        assert!(!output.line_after("group ").is_empty(), "{output}");
        assert!(Path::new("/etc/passwd").exists());
    }
}

runner_tests! {
    /// Found by a third adversarial review: bwrap binds the host's own device nodes, and the
    /// covers of kernel files were binds of the host's `/dev/null`: as root the program
    /// could chmod them (and anyone could touch their times) on the host. Also a FIFO or
    /// `/dev/null` given as stdin reached the host inode.
    fn host_device_nodes_and_stdin_inodes_cannot_be_changed(runner) {
        let ws = Workspace::new(&runner);
        let before = std::fs::metadata("/dev/null").unwrap();
        let output = run_in_venv(&ws)
            .code(
                r#"
                import os
                for path in ["/proc/cmdline", "/dev/null", "/dev/urandom", "/dev/tty"]:
                    mode = os.stat(path).st_mode & 0o777
                    for label, action in [("chmod", lambda: os.chmod(path, mode)), ("utime", lambda: os.utime(path))]:
                        try:
                            action()
                            print(path, label, "SUCCEEDED")
                        except OSError as error:
                            print(path, label, error.errno)
                # Whatever stdin is (an empty pipe of its own here), changing it changes
                # nothing on the host: checked below on the host's /dev/null.
                try:
                    os.fchmod(0, 0o600)
                except OSError:
                    pass
                print("urandom", len(open("/dev/urandom", "rb").read(8)))
                "#,
            )
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert!(!output.stdout_text().contains(" SUCCEEDED"), "{output}");
        assert_eq!(output.line_after("urandom "), "8", "{output}");
        let after = std::fs::metadata("/dev/null").unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(before.mode(), after.mode());
        assert_eq!(before.mtime(), after.mtime());
    }
}
