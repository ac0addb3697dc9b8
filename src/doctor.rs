//! `boxpy doctor`: can this machine sandbox, and how will each limit be enforced?
//!
//! Every check is a [`Check`] (ok, warning or error) with a hint; `report.rs` prints them.
//! The namespace check starts a real (tiny) sandbox, so it sees what `run` would see.

use std::process::{Command, Stdio};

use crate::exec::limits;
use crate::host::HostFacts;
use crate::policy::Limits;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warning,
    Error,
}

/// One line of the doctor's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub level: Level,
    pub what: String,
    pub hint: Option<String>,
}

fn check(level: Level, what: impl Into<String>, hint: Option<String>) -> Check {
    Check {
        level,
        what: what.into(),
        hint,
    }
}

/// Runs every check.
pub fn checks(host: &HostFacts) -> Vec<Check> {
    let mut out = Vec::new();
    if !cfg!(target_os = "linux") {
        out.push(check(
            Level::Error,
            "boxpy's sandbox needs Linux (bubblewrap); macOS support is planned",
            None,
        ));
        return out;
    }
    let Some(bwrap) = &host.bwrap else {
        out.push(check(
            Level::Error,
            "bubblewrap (`bwrap`) is not installed",
            crate::error::Error::BwrapMissing.hints().into_iter().next(),
        ));
        return out;
    };
    let version = Command::new(bwrap)
        .arg("--version")
        .stderr(Stdio::null())
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_default();
    out.push(check(
        Level::Ok,
        format!("{version} at `{}`", bwrap.display()),
        None,
    ));
    let probe = Command::new(bwrap)
        .args([
            "--unshare-all",
            "--unshare-user",
            "--disable-userns",
            "--die-with-parent",
            "--ro-bind",
            "/",
            "/",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--",
            "true",
        ])
        .stdout(Stdio::null())
        .output();
    match probe {
        Ok(output) if output.status.success() => out.push(check(
            Level::Ok,
            "namespaces: a test sandbox started (user, pid, net, ipc, uts, cgroup; no nested user namespaces)",
            None,
        )),
        Ok(output) => {
            let detail = String::from_utf8_lossy(&output.stderr).trim().to_owned();
            let error = crate::error::Error::NamespacesRefused {
                detail: detail.clone(),
                cause: crate::exec::detect_namespace_cause(),
            };
            out.push(check(
                Level::Error,
                format!("namespaces: bwrap could not start a sandbox: {detail}"),
                error.hints().into_iter().next(),
            ));
        }
        Err(error) => out.push(check(
            Level::Error,
            format!("namespaces: cannot run bwrap: {error}"),
            None,
        )),
    }

    #[cfg(target_os = "linux")]
    match crate::sandbox::seccomp::Arch::host() {
        Some(arch) => {
            let refused = crate::sandbox::seccomp::rules()
                .iter()
                .filter(|rule| rule.applies_to(arch))
                .count();
            out.push(check(
                Level::Ok,
                format!("seccomp: {refused} rules for {arch} (Docker's default refusals, io_uring, namespaces, TIOCSTI, foreign ABIs)"),
                None,
            ));
        }
        None => out.push(check(
            Level::Warning,
            "seccomp: no filter for this architecture; the sandbox runs without one",
            None,
        )),
    }

    let probe_limits = Limits {
        memory: Some(1 << 30),
        processes: Some(256),
        ..Limits::default()
    };
    let enforcement = limits::plan(&probe_limits, host.uid);
    let cgroup = enforcement.cgroup.as_ref();
    let memory = if cgroup.is_some_and(|cgroup| cgroup.memory) {
        check(
            Level::Ok,
            "limits.memory: a memory cgroup (all processes together, swap included)",
            None,
        )
    } else {
        check(
            Level::Warning,
            "limits.memory: RLIMIT_DATA (each process separately; no memory cgroup could be created)",
            Some("run boxpy as root, or in a cgroup v2 tree with the memory controller delegated, for a total limit".to_owned()),
        )
    };
    out.push(memory);
    let processes = if cgroup.is_some_and(|cgroup| cgroup.processes) {
        check(Level::Ok, "limits.processes: a pids cgroup", None)
    } else if host.uid == 0 {
        check(
            Level::Warning,
            "limits.processes: not enforced (root is exempt from RLIMIT_NPROC and no pids cgroup could be created)",
            Some("run boxpy as an ordinary user, or where the pids cgroup controller is writable".to_owned()),
        )
    } else {
        check(
            Level::Ok,
            "limits.processes: RLIMIT_NPROC (raised by the tasks you already run)",
            None,
        )
    };
    out.push(processes);
    out.push(check(
        Level::Ok,
        "limits.cpu, file_size, open_files: RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_NOFILE; timeout and output: enforced by boxpy",
        None,
    ));
    drop(enforcement);

    match which::which("python3") {
        Ok(path) => out.push(check(
            Level::Ok,
            format!("python3 on PATH: `{}`", path.display()),
            None,
        )),
        Err(_) => out.push(check(
            Level::Warning,
            "no python3 on PATH (fine when every run names a venv)",
            None,
        )),
    }
    out
}
