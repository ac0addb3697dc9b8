//! The seam's pure parts: how limits are described and warned about, what each backend
//! can carry, and that every backend is reached through [`Backend`].

use super::*;
use crate::exec::limits::{Enforcement as Plan, Rlimit};

fn plan_with(unenforced: &[(&str, &str)]) -> Plan {
    Plan {
        rlimits: vec![
            Rlimit::from_argument("cpu=2:3").unwrap(),
            Rlimit::from_argument("nofile=64:64").unwrap(),
        ],
        cgroup: None,
        unenforced: unenforced
            .iter()
            .map(|(key, reason)| ((*key).to_owned(), (*reason).to_owned()))
            .collect(),
    }
}

#[test]
fn each_planned_limit_names_its_key_and_mechanism() {
    let limits = planned_limits(&plan_with(&[("limits.processes", "boxpy runs as root")]));
    let described: Vec<(&str, Option<&str>)> = limits
        .iter()
        .map(|limit| {
            let mechanism = match &limit.enforcement {
                Enforcement::By(mechanism) => Some(mechanism.as_str()),
                Enforcement::Not { .. } => None,
            };
            (limit.key.as_str(), mechanism)
        })
        .collect();
    assert_eq!(
        described,
        [
            ("limits.cpu", Some("RLIMIT_CPU")),
            ("limits.open_files", Some("RLIMIT_NOFILE")),
            ("limits.processes", None),
        ]
    );
}

/// The warnings are the ones `run` printed before the seam, word for word and in order.
#[test]
fn unenforced_limits_warn_as_before() {
    let plan = plan_with(&[
        (
            "limits.memory",
            "macOS enforces neither RLIMIT_DATA nor RLIMIT_AS",
        ),
        ("limits.processes", "boxpy runs as root"),
    ]);
    let warnings: Vec<String> = seatbelt::planned_limits(&plan, true)
        .iter()
        .filter_map(Limit::warning)
        .collect();
    assert_eq!(
        warnings,
        [
            "`limits.memory` is not enforced on this host: macOS enforces neither RLIMIT_DATA nor RLIMIT_AS",
            "`limits.processes` is not enforced on this host: boxpy runs as root",
            "`filesystem.tmp_size` is not enforced on macOS: TMPDIR is a private directory on the disk, not a tmpfs",
        ]
    );
    assert!(seatbelt::planned_limits(&plan_with(&[]), false)
        .iter()
        .all(|limit| limit.warning().is_none()));
}

#[test]
fn own_limits_are_boxpys() {
    let limits = crate::policy::Limits {
        timeout: Some(std::time::Duration::from_secs(5)),
        output: Some(10),
        ..crate::policy::Limits::default()
    };
    let keys: Vec<String> = own_limits(&limits)
        .into_iter()
        .map(|limit| limit.key)
        .collect();
    assert_eq!(keys, ["limits.timeout", "limits.output"]);
    assert!(own_limits(&crate::policy::Limits::default()).is_empty());
}

/// nbexec asks the backend for its channel: Seatbelt refuses with the text nbexec gave on
/// macOS before the seam; bwrap carries it.
#[test]
fn capabilities_say_what_each_backend_carries() {
    let bwrap = for_target(Kind::Bwrap, None);
    assert!(bwrap.capabilities().require_channel().is_ok());
    assert!(bwrap.capabilities().seccomp);
    let seatbelt = for_target(Kind::Seatbelt, None);
    assert!(!seatbelt.capabilities().seccomp);
    match seatbelt.capabilities().require_channel() {
        Err(Error::UnsupportedPlatform { detail }) => assert_eq!(
            detail,
            "this command needs Linux (bubblewrap) for now; on macOS `run`, `exec` and `render` use Seatbelt"
        ),
        other => panic!("{other:?}"),
    }
}

/// The one dispatch point: on Linux the bwrap backend (when bwrap is there), on macOS
/// Seatbelt, elsewhere the refusal `run` always gave.
#[test]
fn select_picks_the_hosts_backend() {
    let selected = select(std::env::var_os("PATH").as_deref());
    if cfg!(target_os = "macos") {
        assert!(selected.unwrap().capabilities().channel.is_err());
    } else if cfg!(target_os = "linux") {
        match selected {
            Ok(backend) => assert!(backend.host().bwrap.is_some()),
            Err(error) => assert!(matches!(error, Error::BwrapMissing), "{error:?}"),
        }
    } else {
        assert!(matches!(selected, Err(Error::UnsupportedPlatform { .. })));
    }
}

/// Two runs of one process (a server's) never share a quarantine directory; the CLI's one
/// run keeps the documented `<seconds>-<pid>`.
#[test]
fn each_sweep_of_a_process_has_its_own_quarantine() {
    assert_eq!(quarantine_name(1700000000, 42, 0), "1700000000-42");
    let names: std::collections::BTreeSet<String> = (0..16)
        .map(|sweep| quarantine_name(1700000000, 42, sweep))
        .collect();
    assert_eq!(names.len(), 16);
}

/// A server's shape: runs at once through the seam, in one process, with a library
/// runtime; each one's captured output, exit status and environment (the snapshot it was
/// given, not the process's) are its own.
#[cfg(target_os = "linux")]
#[test]
fn runs_at_once_through_the_seam_keep_to_themselves() {
    use crate::cli::SandboxArgs;
    use crate::exec::{Environment, Io, Observer, Runtime, Status};
    use crate::settings::Program;
    // bwrap, and boxpy's own executable (the sandbox's init) built beside this test's.
    let Some(host) = crate::exec::concurrent_tests::host() else {
        return;
    };
    let backend = bwrap::Bwrap { host };
    let runtime = Runtime::library().expect("a library runtime");
    let work = tempfile::tempdir().expect("a work directory");
    let variable = "BOXPY_SEAM_TEST_RUN";
    std::thread::scope(|scope| {
        let runs: Vec<_> = (0..8)
            .map(|index| {
                let (backend, runtime, work) = (&backend, &runtime, work.path());
                scope.spawn(move || {
                    let value = format!("run-{index}");
                    let args = SandboxArgs {
                        policy: Some("default".to_owned()),
                        workdir: Some(work.to_path_buf()),
                        env: vec![variable.to_owned()],
                        quiet: true,
                        json: true,
                        ..SandboxArgs::default()
                    };
                    let lookup = |name: &str| match name {
                        name if name == variable => Some(value.clone().into()),
                        name => std::env::var_os(name),
                    };
                    let code = format!(
                        "import os, sys\nprint(os.environ[{variable:?}])\nprint('err', {index}, file=sys.stderr)\nsys.exit({index})"
                    );
                    let invocation = crate::settings::resolve(
                        &args,
                        Program::Code(code, Vec::new()),
                        backend.host(),
                        &lookup,
                    )
                    .expect("the run resolves");
                    let mut environment: Vec<(std::ffi::OsString, std::ffi::OsString)> =
                        std::env::vars_os().collect();
                    environment.push((variable.into(), value.clone().into()));
                    let outcome = backend
                        .run(
                            &invocation,
                            Session {
                                channel: None,
                                observer: &|_| {},
                                runtime,
                                io: Io::default(),
                                env: Environment::from_pairs(environment),
                                output: Observer::default(),
                            },
                        )
                        .expect("the run ends");
                    (index, value, outcome)
                })
            })
            .collect();
        for run in runs {
            let (index, value, outcome) = run.join().expect("the run's thread");
            assert_eq!(outcome.status, Status::Exited(index), "run {index}");
            assert_eq!(
                String::from_utf8_lossy(&outcome.stdout.bytes),
                format!("{value}\n"),
                "run {index}"
            );
            assert_eq!(
                String::from_utf8_lossy(&outcome.stderr.bytes),
                format!("err {index}\n"),
                "run {index}"
            );
        }
    });
}
