//! The decisions of [`super`] without a run: boxpy's own findings, the exit code of each
//! ending, which `exec` commands get the locations of `run`.

use std::ffi::{OsStr, OsString};
use std::time::Duration;

use super::{command_kind, findings, Ended, Ending};
use crate::hints::catalogue::ProgramKind;
use crate::policy::Limits;

fn ended(ending: Ending) -> Ended<'static> {
    Ended {
        ending,
        stderr_tail: b"",
        memory_limit_reached: false,
        cpu_ms: None,
    }
}

fn limits() -> Limits {
    Limits {
        timeout: Some(Duration::from_secs(30)),
        cpu: Some(Duration::from_secs(2)),
        memory: Some(512 << 20),
        file_size: Some(1 << 20),
        ..Limits::default()
    }
}

#[test]
fn an_exit_is_no_finding_of_boxpys() {
    assert_eq!(findings(&limits(), &ended(Ending::Exited(0))), None);
    assert_eq!(findings(&limits(), &ended(Ending::Exited(3))), None);
}

#[test]
fn a_timeout_names_its_limit() {
    let finding = findings(&limits(), &ended(Ending::TimedOut)).unwrap();
    assert_eq!(finding.kind, "Timeout");
    assert_eq!(finding.message, "stopped after 30s at the wall-clock limit");
    assert!(finding.hint.unwrap().contains("`limits.timeout`"));
}

#[test]
fn each_limit_signal_gets_its_key() {
    let hint = |ended: Ended| findings(&limits(), &ended).unwrap().hint;
    assert!(hint(ended(Ending::Signaled(libc::SIGXCPU)))
        .unwrap()
        .contains("`limits.cpu`"));
    assert!(hint(ended(Ending::Signaled(libc::SIGXFSZ)))
        .unwrap()
        .contains("`limits.file_size`"));
    let oom = Ended {
        memory_limit_reached: true,
        ..ended(Ending::Signaled(libc::SIGKILL))
    };
    assert!(hint(oom).unwrap().contains("`limits.memory`"));
    // RLIMIT_CPU's hard limit kills with SIGKILL once the CPU time is (about) used.
    let cpu_used = Ended {
        cpu_ms: Some(1_960),
        ..ended(Ending::Signaled(libc::SIGKILL))
    };
    assert!(hint(cpu_used).unwrap().contains("ignored SIGXCPU"));
    let cpu_unused = Ended {
        cpu_ms: Some(100),
        ..ended(Ending::Signaled(libc::SIGKILL))
    };
    assert_eq!(hint(cpu_unused), None);
    let killed = findings(&limits(), &ended(Ending::Signaled(libc::SIGTERM))).unwrap();
    assert_eq!(killed.kind, "Killed");
    assert_eq!(
        killed.message,
        "the program was killed by SIGTERM (signal 15)"
    );
    assert_eq!(killed.hint, None);
}

#[test]
fn exit_codes_follow_the_spec() {
    assert_eq!(Ending::Exited(0).exit_code(), 0);
    assert_eq!(Ending::Exited(256 + 7).exit_code(), 7);
    assert_eq!(
        Ending::Signaled(libc::SIGKILL).exit_code(),
        crate::exit::for_signal(libc::SIGKILL)
    );
    assert_eq!(Ending::TimedOut.exit_code(), crate::exit::TIMEOUT);
}

#[test]
fn exec_of_python_gets_runs_locations() {
    let kind = |command: &str, arguments: &[&str]| {
        let arguments: Vec<OsString> = arguments.iter().map(OsString::from).collect();
        command_kind(OsStr::new(command), &arguments)
    };
    assert_eq!(kind("python3", &["-c", "x"]), ProgramKind::Code);
    assert_eq!(kind("/v/bin/python", &["-"]), ProgramKind::Stdin);
    assert_eq!(
        kind("python3.12", &["-m", "http.server"]),
        ProgramKind::Module
    );
    assert_eq!(kind("python3", &["main.py"]), ProgramKind::Other);
    assert_eq!(kind("bash", &["-c", "x"]), ProgramKind::Other);
}
