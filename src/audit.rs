//! The audit log: one JSON line per run (`--audit-log FILE` or `[audit] log`), appended
//! so that many boxpy processes writing at once never interleave or lose lines: the file
//! is opened with `O_APPEND`, locked with `flock`, and each line is one `write`.

use std::io::Write;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::exec::{Outcome, Status};
use crate::settings::Invocation;

/// The line for one finished run.
pub fn record(invocation: &Invocation, outcome: &Outcome, exit_code: u8) -> serde_json::Value {
    let spec = &invocation.spec;
    let policy_text = crate::policy::render::to_toml(&invocation.policy);
    let digest = Sha256::digest(policy_text.as_bytes());
    let digest: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    let uid = nix::unistd::getuid();
    let user = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|user| user.name);
    let (status, signal) = match outcome.status {
        Status::Exited(0) if exit_code == 0 => ("ok", None),
        Status::Exited(_) => ("failed", None),
        Status::Signaled(signal) => ("killed", Some(signal)),
        Status::TimedOut => ("timeout", None),
    };
    let limits = &invocation.policy.limits;
    let seconds = |duration: Option<std::time::Duration>| duration.map(|d| d.as_secs_f64());
    serde_json::json!({
        "time": humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        "boxpy": env!("CARGO_PKG_VERSION"),
        "user": {"uid": uid.as_raw(), "name": user},
        "cwd": std::env::current_dir().ok(),
        "workdir": spec.workdir,
        "command": spec.command.iter().map(|arg| arg.to_string_lossy()).collect::<Vec<_>>(),
        "policy": {"name": invocation.policy.name, "sha256": digest},
        "network": invocation.policy.network.mode.as_str(),
        "mounts": spec.mounts.iter().map(|mount| serde_json::json!({
            "source": mount.source, "dest": mount.dest, "writable": mount.writable, "origin": mount.origin,
        })).collect::<Vec<_>>(),
        "limits": {
            "timeout_s": seconds(limits.timeout), "cpu_s": seconds(limits.cpu),
            "memory": limits.memory, "processes": limits.processes, "file_size": limits.file_size,
            "open_files": limits.open_files, "output": limits.output, "tmp_size": spec.tmp_size,
        },
        "status": status,
        "exit_code": exit_code,
        "signal": signal,
        "duration_ms": outcome.duration.as_millis() as u64,
        "resources": outcome.resources,
        // Proxy mode: what the proxy refused (`refusals`) and what it could not record.
        "proxy": outcome.network,
    })
}

/// Refuses, before anything runs, an audit log boxpy could not append to because its
/// directory does not exist: boxpy never creates directories for it (a mistyped
/// `--audit-log /nonexistent/dir/a.jsonl` must not make `/nonexistent/dir`, least of all
/// as root).
pub fn check_destination(path: &Path) -> crate::error::Result<()> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let refuse = |reason: &str| {
        crate::error::Error::Usage {
        message: format!(
            "cannot append to the audit log `{}`: `{}` {reason}",
            path.display(),
            parent.display()
        ),
        hint: Some(format!(
            "create the directory first (`mkdir -p {}`), or name a file in an existing directory with `--audit-log` or `audit.log`",
            parent.display()
        )),
    }
    };
    match std::fs::metadata(parent) {
        Ok(metadata) if metadata.is_dir() => {}
        Ok(_) => return Err(refuse("is not a directory")),
        Err(_) => return Err(refuse("does not exist")),
    }
    if std::fs::metadata(path).is_ok_and(|metadata| metadata.is_dir()) {
        return Err(crate::error::Error::Usage {
            message: format!(
                "cannot append to the audit log `{}`: it is a directory",
                path.display()
            ),
            hint: Some("name a file, e.g. `--audit-log runs.jsonl`".to_owned()),
        });
    }
    Ok(())
}

/// Appends `line` to the log at `path` as one locked write. The directory must exist
/// ([`check_destination`]); none is created.
pub fn append(path: &Path, line: &serde_json::Value) -> std::io::Result<()> {
    let file = crate::hostfs::open_append(path)?;
    let mut locked = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, errno)| std::io::Error::from(errno))?;
    let mut text = line.to_string();
    text.push('\n');
    locked.write_all(text.as_bytes())?;
    locked.flush()
}

/// Writes the audit line when the invocation asks for one; a failure is a warning, never
/// a change to the run's exit code.
pub fn log_run(invocation: &Invocation, outcome: &Outcome, exit_code: u8) {
    let Some(path) = invocation.audit_log.as_ref() else {
        return;
    };
    // The workdir and the writable mounts are where a run could have planted a link.
    let writable = invocation.writable_areas();
    let parent = path.parent().unwrap_or(std::path::Path::new("/"));
    if let Err(refusal) = crate::hostfs::resolve_without_planted_links(parent, &writable) {
        crate::report::warning(&format!(
            "not appending to the audit log `{}`: {}",
            path.display(),
            refusal.reason
        ));
        return;
    }
    if let Err(error) = append(path, &record(invocation, outcome, exit_code)) {
        crate::report::warning(&format!(
            "cannot append to the audit log `{}`: {error}",
            path.display()
        ));
    }
}
