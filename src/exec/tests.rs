//! Tests of exec's pure parts: the init report's reader, the setup-failure classifier and
//! the environment snapshot.

use super::*;

fn read(lines: &[&str]) -> (InitReport, pump::Gate) {
    let gate = pump::Gate::new();
    let mut report = InitReport::default();
    for line in lines {
        report.apply_line(line, &gate);
    }
    (report, gate)
}

#[test]
fn init_report_of_a_run_that_exited() {
    let (report, gate) = read(&[
        "{\"event\":\"started\"}\n",
        "{\"event\":\"ended\",\"code\":3,\"cpu_ms\":12,\"max_rss_kib\":3456,\"left\":[[2,false],[0,true]]}\n",
    ]);
    assert!(report.started && report.ended);
    gate.finish_setup();
    assert!(gate.wait(), "`started` opens the gate");
    assert_eq!((report.exit_code, report.signal), (Some(3), None));
    assert_eq!(
        report.resources,
        Some(Resources {
            cpu_ms: 12,
            max_rss_kib: 3456
        })
    );
    assert_eq!(report.left, [(2, false), (0, true)]);
    assert!(report.setup_failed.is_none() && report.limit_failed.is_none());
}

#[test]
fn init_report_of_a_signalled_run_without_usage() {
    let (report, _) = read(&[
        "{\"event\":\"started\"}",
        "{\"event\":\"ended\",\"signal\":9}",
    ]);
    assert_eq!((report.exit_code, report.signal), (None, Some(9)));
    assert_eq!(report.resources, None);
    assert!(report.left.is_empty());
}

#[test]
fn init_report_of_failures() {
    let (report, gate) =
        read(&["{\"event\":\"exec_failed\",\"errno\":2,\"path\":\"/usr/bin/nope\"}"]);
    assert_eq!(report.exec_errno, Some(2));
    assert_eq!(report.exec_path, "/usr/bin/nope");
    assert!(!report.started);
    gate.finish_setup();
    assert!(!gate.wait());

    let (report, _) = read(&["{\"event\":\"setup_failed\",\"detail\":\"no message\"}"]);
    assert_eq!(report.setup_failed.as_deref(), Some("no message"));

    let (report, _) =
        read(&["{\"event\":\"limit_failed\",\"detail\":\"joining\",\"key\":\"limits.memory\"}"]);
    assert_eq!(
        report.limit_failed,
        Some(("joining".to_owned(), Some("limits.memory".to_owned())))
    );
    let (report, _) = read(&["{\"event\":\"limit_failed\",\"detail\":\"rlimit\",\"key\":null}"]);
    assert_eq!(report.limit_failed, Some(("rlimit".to_owned(), None)));
}

/// What is not a report line changes nothing (the reader never panics on it).
#[test]
fn init_report_ignores_junk() {
    let (report, _) = read(&[
        "",
        "not json",
        "{\"event\":\"ended\",\"code\":\"three\"}",
        "{\"event\":\"unknown\"}",
        "[1,2]",
        "{\"code\":1}",
    ]);
    assert!(!report.started && !report.ended);
    assert_eq!(report.exit_code, None);
    decode_for_fuzzing("{\"event\":\"ended\"\n\u{0}\nrlimit x\nfile y\nend\n");
}

/// The typed writer and the reader agree.
#[test]
fn init_report_reads_what_the_init_writes() {
    let line = protocol::ReportLine::Ended {
        code: None,
        signal: Some(15),
        cpu_ms: Some(1),
        max_rss_kib: Some(2),
        left: vec![(7, true)],
    };
    let (report, _) = read(&[&protocol::ReportLine::Started.encode(), &line.encode()]);
    assert!(report.started);
    assert_eq!(report.signal, Some(15));
    assert_eq!(report.left, [(7, true)]);
}

/// bwrap's setup messages: which become "namespaces refused" (with a cause) and which a
/// plain setup failure; the detail joins the lines without bwrap's prefix.
#[test]
fn setup_failures_are_classified() {
    let namespace = [
        "bwrap: No permissions to create new namespace, likely because the kernel does not allow non-privileged user namespaces.",
        "bwrap: No permissions to create a new namespace",
        "bwrap: setting up uid map: Permission denied",
        "bwrap: Creating new namespace failed: Operation not permitted",
        "bwrap: loopback: Failed RTM_NEWADDR: Operation not permitted",
        "bwrap: loopback: failed to bring up lo",
        "bwrap: unshare: Operation not permitted (new namespace)",
        "bwrap: Can't mount proc on /newroot/proc: Operation not permitted",
    ];
    for message in namespace {
        match classify_setup_failure(message.as_bytes()) {
            Error::NamespacesRefused { detail, .. } => {
                assert!(!detail.starts_with("bwrap: "), "{detail}");
            }
            other => panic!("{message}: {other:?}"),
        }
    }
    let other = [
        (
            "bwrap: Can't find source path /nope: No such file or directory\n",
            "Can't find source path /nope: No such file or directory",
        ),
        ("bwrap: one\n\n  \nbwrap: two\n", "one; two"),
        (
            "",
            "bwrap exited before starting the program, without a message",
        ),
        (
            "bwrap: Operation not permitted\n",
            "Operation not permitted",
        ),
    ];
    for (message, expected) in other {
        match classify_setup_failure(message.as_bytes()) {
            Error::SandboxSetup { detail } => assert_eq!(detail, expected),
            other => panic!("{message}: {other:?}"),
        }
    }
}

/// bwrap's status records: the child pid, then the exit code, other fields ignored.
#[test]
fn bwrap_status_records_are_read() {
    let mut record = BwrapRecord::default();
    record.update(b"{ \"child-pid\": 4242, \"cgroup-namespace\": 1 }\n");
    assert_eq!((record.child_pid, record.exit_code), (Some(4242), None));
    record.update(b"{ \"child-pid\": 4242 }\n{ \"exit-code\": 3 }\n");
    assert_eq!((record.child_pid, record.exit_code), (Some(4242), Some(3)));
    let mut record = BwrapRecord::default();
    record.update(b"{ \"child-pid\": 99999999999 }");
    assert_eq!(record.child_pid, None);
    record.update(b"garbage");
    assert_eq!(record.exit_code, None);
}

/// An environment that names a variable twice (execve allows it) gives the sandbox the
/// value `getenv` returns, the first, as `std::env::var_os` did before the snapshot.
#[test]
fn a_variable_named_twice_keeps_its_first_value() {
    let pairs = [("LANG", "first"), ("LANG", "second"), ("TERM", "xterm")]
        .map(|(name, value)| (name.into(), value.into()));
    let env = Environment::from_pairs(pairs);
    let asked = [
        ("LANG".to_owned(), EnvValue::FromHost("LANG".to_owned())),
        ("TERM".to_owned(), EnvValue::FromHost("TERM".to_owned())),
    ];
    let passed = environment(&asked, &env);
    assert_eq!(passed, [("LANG", "first".into()), ("TERM", "xterm".into())]);
}
