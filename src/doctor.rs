//! `boxpy doctor`: can this machine sandbox, what is missing, and how each limit will be
//! enforced. The host is probed once into [`DoctorFacts`] (the namespace check starts a
//! real, tiny sandbox, so it sees what `run` would see); [`checks`] turns the facts into
//! one line each — ok, warning or error — with the fix. Pure, so it is snapshot-tested.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Serialize;

use crate::error::NamespaceCause;
use crate::exec::limits;
use crate::host::HostFacts;
use crate::policy::Limits;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warning,
    Error,
}

/// One line of the doctor's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub level: Level,
    /// What was checked, in a few words (`bwrap`, `namespaces`, `limits.memory`).
    pub topic: String,
    pub what: String,
    pub hint: Option<String>,
}

/// Why `run` would refuse here (the policy, the venv): its error's summary and causes, and
/// its hints, as `run` prints them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub what: String,
    pub hint: Option<String>,
}

/// The venv `run` would use here, as far as the doctor needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenvFacts {
    /// Which interpreter and why (the `-v` line of `run`).
    pub why: String,
    pub executable: PathBuf,
    pub venv: Option<PathBuf>,
    pub version: Option<String>,
    pub base: Vec<PathBuf>,
    pub has_nbclient: bool,
    pub has_ipykernel: bool,
    /// Whether the working directory holds a notebook (`*.ipynb`): the nbexec check is
    /// shown only where notebooks are used.
    pub notebooks_here: bool,
    /// The library caches of the venv (`boxpy cache`): one per library installed in it.
    pub caches: Vec<CacheFacts>,
}

/// One library cache of the doctor's venv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheFacts {
    pub library: String,
    pub state: CacheState,
}

/// Whether a library cache is ready for the next run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheState {
    Fresh,
    /// Never primed: the first run primes it.
    NotPrimed,
    /// Primed for another key (why); the next run primes it again.
    Stale(String),
}

/// Everything the checks look at, probed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoctorFacts {
    pub linux: bool,
    /// macOS: `Ok(())` when sandbox-exec applied a test profile; `None` elsewhere.
    pub seatbelt_probe: Option<Result<(), String>>,
    pub bwrap: Option<PathBuf>,
    /// `bwrap --version`'s (major, minor, patch).
    pub bwrap_version: Option<(u32, u32, u32)>,
    /// `Ok(())` when a test sandbox started; the error text otherwise.
    pub sandbox_probe: Result<(), String>,
    pub namespace_cause: NamespaceCause,
    pub apparmor_restricts_userns: bool,
    pub seccomp_rules: Option<(String, usize)>,
    pub uid: u32,
    pub memory_cgroup: bool,
    pub pids_cgroup: bool,
    /// The policy `run` would use here (the `-v` line), or why `run` would refuse it.
    pub policy: Result<String, Refusal>,
    pub venv: Result<VenvFacts, Refusal>,
    /// Why the current directory cannot be the workdir (the home directory, a system
    /// directory), as the gate says it: `(reason, hint)`.
    pub workdir_refusal: Option<(String, String)>,
}

impl DoctorFacts {
    /// Probes this machine.
    pub fn probe(
        host: &HostFacts,
        policy: Result<String, Refusal>,
        venv: Result<VenvFacts, Refusal>,
    ) -> DoctorFacts {
        let linux = cfg!(target_os = "linux");
        let bwrap_version = host.bwrap.as_ref().and_then(|bwrap| {
            let output = Command::new(bwrap)
                .arg("--version")
                .stderr(Stdio::null())
                .output()
                .ok()?;
            parse_version(&String::from_utf8_lossy(&output.stdout))
        });
        let sandbox_probe = match &host.bwrap {
            None => Err("bwrap is not installed".to_owned()),
            Some(bwrap) => probe_sandbox(bwrap, bwrap_version),
        };
        #[cfg(target_os = "linux")]
        let seccomp_rules = crate::sandbox::seccomp::Arch::host().map(|arch| {
            let count = crate::sandbox::seccomp::rules()
                .iter()
                .filter(|rule| rule.applies_to(arch))
                .count();
            (arch.to_string(), count)
        });
        #[cfg(not(target_os = "linux"))]
        let seccomp_rules = None;
        let probe_limits = Limits {
            memory: Some(1 << 30),
            processes: Some(256),
            ..Limits::default()
        };
        let enforcement = limits::plan(&probe_limits, host.uid);
        let memory_cgroup = enforcement
            .cgroup
            .as_ref()
            .is_some_and(|cgroup| cgroup.memory);
        let pids_cgroup = enforcement
            .cgroup
            .as_ref()
            .is_some_and(|cgroup| cgroup.processes);
        drop(enforcement);
        DoctorFacts {
            linux,
            seatbelt_probe: cfg!(target_os = "macos").then(probe_seatbelt),
            bwrap: host.bwrap.clone(),
            bwrap_version,
            sandbox_probe,
            namespace_cause: crate::exec::detect_namespace_cause(),
            apparmor_restricts_userns: std::fs::read_to_string(
                "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
            )
            .is_ok_and(|text| text.trim() == "1"),
            seccomp_rules,
            uid: host.uid,
            memory_cgroup,
            pids_cgroup,
            policy,
            venv,
            workdir_refusal: workdir_refusal(host),
        }
    }
}

/// The gate's verdict on the current directory as the workdir.
fn workdir_refusal(host: &HostFacts) -> Option<(String, String)> {
    let cwd = std::env::current_dir().ok()?.canonicalize().ok()?;
    let home = crate::sandbox::gate::resolved_home(host.home.as_deref());
    crate::sandbox::gate::check(
        crate::sandbox::gate::Request {
            source: &cwd,
            dest: &cwd,
            role: crate::sandbox::gate::Role::Workdir,
            users_word: true,
            protected_names: &crate::sandbox::protect::PROTECTED_NAMES
                .iter()
                .map(|name| (*name).to_owned())
                .collect::<Vec<_>>(),
        },
        home.as_deref(),
    )
    .err()
    .map(|refusal| (refusal.reason, refusal.hint))
}

fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let version = text.split_whitespace().last()?;
    let mut parts = version.split('.').map(|part| part.parse::<u32>().ok());
    Some((
        parts.next()??,
        parts.next()??,
        parts.next().flatten().unwrap_or(0),
    ))
}

fn probe_sandbox(bwrap: &Path, version: Option<(u32, u32, u32)>) -> Result<(), String> {
    let mut command = Command::new(bwrap);
    command.args(["--unshare-all", "--die-with-parent"]);
    if version.is_some_and(|version| version >= (0, 8, 0)) {
        command.args(["--unshare-user", "--disable-userns"]);
    }
    command
        .args([
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
        .stdout(Stdio::null());
    match command.output() {
        Ok(output) if output.status.success() => Ok(()),
        Ok(output) => Err(String::from_utf8_lossy(&output.stderr).trim().to_owned()),
        Err(error) => Err(format!("cannot run bwrap: {error}")),
    }
}

/// Applies a profile that allows everything: proves sandbox-exec exists and that this
/// process may be sandboxed (it is not inside another sandbox).
fn probe_seatbelt() -> Result<(), String> {
    let output = Command::new(crate::sandbox::seatbelt::SANDBOX_EXEC)
        .args(["-p", "(version 1)(allow default)", "/usr/bin/true"])
        .stdout(Stdio::null())
        .output()
        .map_err(|error| {
            format!(
                "cannot run `{}`: {error}",
                crate::sandbox::seatbelt::SANDBOX_EXEC
            )
        })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
    }
}

/// Whether `directory` holds a notebook (`*.ipynb`), looking at no more than 10,000
/// entries.
pub fn notebooks_in(directory: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return false;
    };
    entries.take(10_000).flatten().any(|entry| {
        Path::new(&entry.file_name())
            .extension()
            .is_some_and(|extension| extension == "ipynb")
    })
}

/// Whether a venv's site-packages holds `package`.
pub fn has_package(venv: &Path, package: &str) -> bool {
    let Ok(lib) = std::fs::read_dir(venv.join("lib")) else {
        return false;
    };
    lib.flatten()
        .any(|entry| entry.path().join("site-packages").join(package).is_dir())
}

fn check(level: Level, topic: &str, what: impl Into<String>, hint: Option<String>) -> Check {
    Check {
        level,
        topic: topic.to_owned(),
        what: what.into(),
        hint,
    }
}

/// The checks, from the facts. Pure.
pub fn checks(facts: &DoctorFacts) -> Vec<Check> {
    let mut out = Vec::new();
    if let Some((reason, hint)) = &facts.workdir_refusal {
        out.push(check(
            Level::Warning,
            "workdir",
            format!("`boxpy run` here would refuse this directory as the workdir: {reason}"),
            Some(hint.clone()),
        ));
    }
    if let Some(probe) = &facts.seatbelt_probe {
        macos_checks(probe, &mut out);
        python_checks(facts, &mut out);
        return out;
    }
    if !facts.linux {
        out.push(check(
            Level::Error,
            "platform",
            "boxpy's sandbox needs Linux (bubblewrap) or macOS (Seatbelt)",
            None,
        ));
        return out;
    }
    match (&facts.bwrap, facts.bwrap_version) {
        (None, _) => {
            out.push(check(
                Level::Error,
                "bwrap",
                "bubblewrap (`bwrap`) is not installed",
                crate::error::Error::BwrapMissing.hints().into_iter().next(),
            ));
            return out;
        }
        (Some(path), Some(version)) if version < (0, 8, 0) => out.push(check(
            Level::Warning,
            "bwrap",
            format!(
                "bubblewrap {}.{}.{} at `{}` lacks `--disable-userns` (0.8+): nested user namespaces are refused by the seccomp filter only",
                version.0, version.1, version.2,
                path.display()
            ),
            Some("upgrade bubblewrap to 0.8 or newer".to_owned()),
        )),
        (Some(path), Some(version)) => out.push(check(
            Level::Ok,
            "bwrap",
            format!(
                "bubblewrap {}.{}.{} at `{}`",
                version.0,
                version.1,
                version.2,
                path.display()
            ),
            None,
        )),
        (Some(path), None) => out.push(check(
            Level::Warning,
            "bwrap",
            format!("`{}` did not report its version", path.display()),
            None,
        )),
    }
    match &facts.sandbox_probe {
        Ok(()) => out.push(check(
            Level::Ok,
            "namespaces",
            "a test sandbox started (user, pid, net, ipc, uts, cgroup namespaces)",
            None,
        )),
        Err(detail) => {
            let error = crate::error::Error::NamespacesRefused {
                detail: detail.clone(),
                cause: facts.namespace_cause,
            };
            out.push(check(
                Level::Error,
                "namespaces",
                format!("bwrap could not start a sandbox: {detail}"),
                error.hints().into_iter().next(),
            ));
        }
    }
    if facts.apparmor_restricts_userns {
        out.push(check(
            if facts.sandbox_probe.is_ok() { Level::Ok } else { Level::Error },
            "apparmor",
            "AppArmor restricts unprivileged user namespaces (`kernel.apparmor_restrict_unprivileged_userns=1`)",
            facts.sandbox_probe.is_err().then(|| {
                "keep AppArmor on and allow bwrap: load the `bwrap-userns-restrict` profile (Ubuntu 24.04: `/usr/share/apparmor/extra-profiles/bwrap-userns-restrict` from apparmor-profiles, then `sudo apparmor_parser -r` it)".to_owned()
            }),
        ));
    }
    match &facts.seccomp_rules {
        Some((arch, count)) => out.push(check(
            Level::Ok,
            "seccomp",
            format!("{count} rules for {arch} (Docker's default refusals, io_uring, namespaces, TIOCSTI, foreign ABIs)"),
            None,
        )),
        None => out.push(check(
            Level::Warning,
            "seccomp",
            "no filter for this architecture; the sandbox runs without one",
            None,
        )),
    }
    out.push(if facts.memory_cgroup {
        check(Level::Ok, "limits.memory", "a memory cgroup (all processes together, swap included)", None)
    } else {
        check(
            Level::Warning,
            "limits.memory",
            "RLIMIT_DATA, each process separately (no memory cgroup could be created)",
            Some("run boxpy as root, or where a cgroup v2 tree delegates the memory controller to it, for one limit over all processes".to_owned()),
        )
    });
    out.push(if facts.pids_cgroup {
        check(Level::Ok, "limits.processes", "a pids cgroup", None)
    } else if facts.uid == 0 {
        check(
            Level::Warning,
            "limits.processes",
            "not enforced: root is exempt from RLIMIT_NPROC and no pids cgroup could be created",
            Some(
                "run boxpy as an ordinary user, or where the pids cgroup controller is writable"
                    .to_owned(),
            ),
        )
    } else {
        check(
            Level::Ok,
            "limits.processes",
            "RLIMIT_NPROC (on Linux before 5.14 raised by the tasks you already run)",
            None,
        )
    });
    out.push(check(
        Level::Ok,
        "limits",
        "cpu, file_size, open_files: RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_NOFILE; timeout and output: enforced by boxpy",
        None,
    ));
    python_checks(facts, &mut out);
    out
}

/// Which policy and which Python `run` would use here (or what `run` would say about
/// them), and, where notebooks are used, whether `nbexec` can run them.
fn python_checks(facts: &DoctorFacts, out: &mut Vec<Check>) {
    out.push(match &facts.policy {
        Ok(why) => check(Level::Ok, "policy", why.clone(), None),
        Err(refusal) => check(
            Level::Error,
            "policy",
            format!("`boxpy run` here fails: {}", refusal.what),
            refusal.hint.clone(),
        ),
    });
    match &facts.venv {
        Ok(venv) => {
            let base = venv
                .base
                .iter()
                .map(|path| format!("`{}`", path.display()))
                .collect::<Vec<_>>()
                .join(", ");
            let what = match &venv.venv {
                Some(_) => format!(
                    "{}: Python {}, base {base}",
                    venv.why,
                    venv.version.as_deref().unwrap_or("?")
                ),
                None => venv.why.clone(),
            };
            out.push(check(Level::Ok, "python", what, None));
            let missing: Vec<&str> = [
                ("nbclient", venv.has_nbclient),
                ("ipykernel", venv.has_ipykernel),
            ]
            .iter()
            .filter(|(_, present)| !present)
            .map(|(name, _)| *name)
            .collect();
            let notebooks_used = venv.notebooks_here || venv.has_nbclient || venv.has_ipykernel;
            if venv.venv.is_some() && notebooks_used {
                out.push(if missing.is_empty() {
                    check(
                        Level::Ok,
                        "nbexec",
                        "nbclient and ipykernel are installed in the venv",
                        None,
                    )
                } else {
                    check(
                        Level::Warning,
                        "nbexec",
                        format!("`boxpy nbexec` needs {} in the venv", missing.join(" and ")),
                        Some(format!(
                            "`{} -m pip install nbclient ipykernel`",
                            venv.executable.display()
                        )),
                    )
                });
            }
            for cache in &venv.caches {
                out.push(match &cache.state {
                    CacheState::Fresh => check(
                        Level::Ok,
                        "cache",
                        format!("{}'s cache for this venv is primed", cache.library),
                        None,
                    ),
                    CacheState::NotPrimed => check(
                        Level::Ok,
                        "cache",
                        format!(
                            "{}'s cache for this venv is not primed yet: the first run primes it",
                            cache.library
                        ),
                        Some("`boxpy cache prime` primes it now".to_owned()),
                    ),
                    CacheState::Stale(why) => check(
                        Level::Warning,
                        "cache",
                        format!("{}'s cache for this venv is stale: {why}", cache.library),
                        Some("`boxpy cache prime` primes it now".to_owned()),
                    ),
                });
            }
        }
        Err(refusal) => out.push(check(
            Level::Error,
            "python",
            format!("`boxpy run` here fails: {}", refusal.what),
            refusal.hint.clone().or_else(|| {
                Some("create a venv (`python3 -m venv .venv`) or pass `--venv DIR`".to_owned())
            }),
        )),
    }
}

/// macOS: Seatbelt instead of bwrap, and the limits macOS can enforce.
fn macos_checks(probe: &Result<(), String>, out: &mut Vec<Check>) {
    out.push(match probe {
        Ok(()) => check(
            Level::Ok,
            "seatbelt",
            format!(
                "a test profile applied with `{}`",
                crate::sandbox::seatbelt::SANDBOX_EXEC
            ),
            None,
        ),
        Err(why) => check(
            Level::Error,
            "seatbelt",
            format!("Seatbelt could not apply a test profile: {why}"),
            Some("profiles cannot be nested: run boxpy outside other sandboxes (App Sandbox, another sandbox-exec)".to_owned()),
        ),
    });
    out.push(check(
        Level::Ok,
        "seatbelt",
        format!(
            "denials are logged: `{}`",
            crate::sandbox::seatbelt::log_stream_command("boxpy-")
        ),
        None,
    ));
    out.push(check(
        Level::Warning,
        "limits.memory",
        "not enforced: macOS enforces neither RLIMIT_DATA nor RLIMIT_AS and has no memory cgroups",
        None,
    ));
    out.push(check(
        Level::Warning,
        "filesystem.tmp_size",
        "not enforced: TMPDIR is a private directory on the disk, not a tmpfs",
        None,
    ));
    out.push(check(
        Level::Ok,
        "limits",
        "cpu, processes, file_size, open_files: rlimits; timeout: the program's process group is killed; output: enforced by boxpy",
        None,
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy() -> DoctorFacts {
        DoctorFacts {
            linux: true,
            seatbelt_probe: None,
            bwrap: Some(PathBuf::from("/usr/bin/bwrap")),
            bwrap_version: Some((0, 8, 0)),
            sandbox_probe: Ok(()),
            namespace_cause: NamespaceCause::Unknown,
            apparmor_restricts_userns: false,
            seccomp_rules: Some(("x86_64".to_owned(), 62)),
            uid: 1000,
            memory_cgroup: false,
            pids_cgroup: false,
            policy: Ok("policy `default` (built in: no `boxpy.toml` nor `[tool.boxpy]` found; the search stops at the repository root)".to_owned()),
            venv: Ok(VenvFacts {
                why: "venv `/home/user/project/.venv` (found at ../.venv)".to_owned(),
                executable: PathBuf::from("/home/user/project/.venv/bin/python"),
                venv: Some(PathBuf::from("/home/user/project/.venv")),
                version: Some("3.12.3".to_owned()),
                base: vec![PathBuf::from("/usr")],
                has_nbclient: false,
                has_ipykernel: true,
                notebooks_here: true,
                caches: vec![CacheFacts {
                    library: "matplotlib".to_owned(),
                    state: CacheState::Stale("its key changed".to_owned()),
                }],
            }),
            workdir_refusal: None,
        }
    }

    fn render(facts: &DoctorFacts) -> String {
        crate::report::format_doctor(&checks(facts), &crate::report::Styles::default())
    }

    #[test]
    fn snapshot_healthy_user() {
        insta::assert_snapshot!("healthy_user", render(&healthy()));
    }

    #[test]
    fn snapshot_ubuntu_apparmor() {
        let facts = DoctorFacts {
            sandbox_probe: Err("bwrap: setting up uid map: Permission denied".to_owned()),
            namespace_cause: NamespaceCause::AppArmor,
            apparmor_restricts_userns: true,
            ..healthy()
        };
        let text = render(&facts);
        assert!(text.contains("bwrap-userns-restrict"));
        insta::assert_snapshot!("ubuntu_apparmor", text);
    }

    #[test]
    fn snapshot_root_with_cgroups_old_bwrap() {
        let facts = DoctorFacts {
            bwrap_version: Some((0, 6, 1)),
            uid: 0,
            memory_cgroup: true,
            pids_cgroup: true,
            venv: Err(Refusal {
                what: "python interpreter `python3` not found: no venv was given and there is no `python3` on PATH".to_owned(),
                hint: Some("pass `--venv DIR`, set `python.venv` in the policy, or install python3".to_owned()),
            }),
            ..healthy()
        };
        insta::assert_snapshot!("root_old_bwrap", render(&facts));
    }

    /// `doctor` says what `run` says: a broken `boxpy.toml` here is an error, not "ok".
    #[test]
    fn a_policy_run_refuses_is_an_error() {
        let facts = DoctorFacts {
            policy: Err(Refusal {
                what: "failed to load policy `boxpy.toml`: unknown field `netwrk`".to_owned(),
                hint: Some("did you mean `network`?".to_owned()),
            }),
            ..healthy()
        };
        let found = checks(&facts);
        let policy = found.iter().find(|check| check.topic == "policy").unwrap();
        assert_eq!(policy.level, Level::Error);
        assert!(policy.what.contains("unknown field `netwrk`"), "{policy:?}");
        assert_eq!(policy.hint.as_deref(), Some("did you mean `network`?"));
    }

    /// The nbexec line shows only where notebooks are used.
    #[test]
    fn the_notebook_check_appears_only_where_notebooks_are_used() {
        let mut facts = healthy();
        if let Ok(venv) = &mut facts.venv {
            venv.notebooks_here = false;
            venv.has_ipykernel = false;
        }
        assert!(!checks(&facts).iter().any(|check| check.topic == "nbexec"));
        if let Ok(venv) = &mut facts.venv {
            venv.notebooks_here = true;
        }
        assert!(checks(&facts).iter().any(|check| check.topic == "nbexec"));
    }

    #[test]
    fn snapshot_macos() {
        let facts = DoctorFacts {
            linux: false,
            seatbelt_probe: Some(Ok(())),
            bwrap: None,
            bwrap_version: None,
            seccomp_rules: None,
            ..healthy()
        };
        let text = render(&facts);
        assert!(!text.contains("bwrap"), "{text}");
        insta::assert_snapshot!("macos", text);
    }

    #[test]
    fn no_bwrap_stops_early() {
        let facts = DoctorFacts {
            bwrap: None,
            bwrap_version: None,
            ..healthy()
        };
        let found = checks(&facts);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].level, Level::Error);
        assert!(found[0]
            .hint
            .as_deref()
            .unwrap()
            .contains("apt-get install bubblewrap"));
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("bubblewrap 0.8.0\n"), Some((0, 8, 0)));
        assert_eq!(parse_version("bubblewrap 0.11"), Some((0, 11, 0)));
        assert_eq!(parse_version("nonsense"), None);
    }
}
