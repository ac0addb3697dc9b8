//! The macOS executor, run on Linux against a stand-in for sandbox-exec: a shell script
//! that skips sandbox-exec's options and does what boxpy's start helper does (report
//! `started` on descriptor 3, then execute the program). What is tested is everything
//! but Seatbelt itself: environment, session, rlimits, timeout, leftovers, output,
//! status, and the handling of sandbox-exec's own failures.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::exec::limits::{Enforcement, Rlimit};
use crate::sandbox::seatbelt::{SeatbeltCommand, SeatbeltProfile, START_ARGUMENT};
use crate::sandbox::EnvValue;

const STAND_IN: &str = r#"#!/bin/sh
# Stand-in for /usr/bin/sandbox-exec: skip -p PROFILE and -D parameters up to `--`.
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done
shift
# Now: BOXPY __sandbox-start 3 -- PROGRAM...; act as the start helper.
shift 4
printf '{"event":"started"}\n' >&3
exec 3>&-
exec "$@"
"#;

const FAILING: &str = r#"#!/bin/sh
echo "sandbox-exec: syntax error in profile: unbound variable" >&2
exit 65
"#;

struct Fixture {
    directory: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            directory: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.directory.path().join(name)
    }

    fn script(&self, name: &str, text: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.path(name);
        std::fs::write(&path, text).expect("write script");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path
    }

    fn command(&self, program: &Path, shell: &str) -> SeatbeltCommand {
        let run = self.path("run");
        std::fs::create_dir_all(&run).expect("run directory");
        let home = run.join("home");
        SeatbeltCommand {
            program: program.to_path_buf(),
            profile: SeatbeltProfile {
                text: "(version 1)\n(deny default)\n".to_owned(),
                params: vec![("WORKDIR".to_owned(), self.directory.path().to_path_buf())],
            },
            command: vec![
                OsString::from("/usr/local/bin/boxpy"),
                START_ARGUMENT.into(),
                "3".into(),
                "--".into(),
                "/bin/sh".into(),
                "-c".into(),
                shell.into(),
            ],
            env: vec![
                (
                    "PATH".to_owned(),
                    EnvValue::Literal("/usr/bin:/bin".to_owned()),
                ),
                (
                    "HOME".to_owned(),
                    EnvValue::Literal(home.to_string_lossy().into_owned()),
                ),
                ("TERM".to_owned(), EnvValue::FromHost("TERM".to_owned())),
            ],
            workdir: self.directory.path().to_path_buf(),
            directories: vec![home, run.join("tmp"), run.join("files")],
            files: vec![(run.join("files/generated.txt"), b"generated\n".to_vec())],
            tag: "boxpy-test".to_owned(),
        }
    }

    fn run(&self, shell: &str, timeout: Option<Duration>, rlimits: Vec<Rlimit>) -> Result<Outcome> {
        let program = self.script("sandbox-exec", STAND_IN);
        let command = self.command(&program, shell);
        let options = ExecOptions {
            io: super::super::Io {
                stdin: super::super::Input::Inherit,
                ..super::super::Io::default()
            },
            timeout,
            ..ExecOptions::default()
        };
        let enforcement = Enforcement {
            rlimits,
            ..Enforcement::default()
        };
        run(&command, &options, &enforcement)
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Whether `pid` is gone or a zombie (killed, not yet reaped by its new parent).
fn dead(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn output_status_and_environment() {
    let fixture = Fixture::new();
    let outcome = fixture
        .run(
            "echo \"out $HOME\"; echo err >&2; cat \"$HOME/../files/generated.txt\"; \
             pwd; test -z \"$CARGO\" && echo cleared; exit 3",
            None,
            Vec::new(),
        )
        .expect("runs");
    assert_eq!(outcome.status, Status::Exited(3));
    let home = fixture.path("run/home");
    assert_eq!(
        text(&outcome.stdout.bytes),
        format!(
            "out {}\ngenerated\n{}\ncleared\n",
            home.display(),
            fixture.directory.path().display()
        )
    );
    assert_eq!(text(&outcome.stderr.bytes), "err\n");
    assert_eq!(text(&outcome.stderr_tail), "err\n");
    assert!(outcome.resources.is_some());
    assert!(home.is_dir() && fixture.path("run/tmp").is_dir());
}

#[test]
#[cfg_attr(target_os = "macos", allow(clippy::unnecessary_cast))]
fn a_new_session_with_the_limits() {
    let fixture = Fixture::new();
    let outcome = fixture
        .run(
            "read pid comm state ppid group session rest < /proc/$$/stat; \
             test \"$pid\" = \"$group\" && test \"$pid\" = \"$session\" && echo leader; ulimit -n",
            None,
            vec![Rlimit {
                resource: libc::RLIMIT_NOFILE as i32,
                soft: 64,
                hard: 64,
            }],
        )
        .expect("runs");
    assert_eq!(text(&outcome.stdout.bytes), "leader\n64\n");
}

#[test]
fn the_timeout_kills_the_whole_group() {
    let fixture = Fixture::new();
    let pidfile = fixture.path("background.pid");
    let started = std::time::Instant::now();
    let outcome = fixture
        .run(
            &format!("sleep 30 & echo $! > {}; sleep 30", pidfile.display()),
            Some(Duration::from_millis(400)),
            Vec::new(),
        )
        .expect("runs");
    assert_eq!(outcome.status, Status::TimedOut);
    assert!(started.elapsed() < Duration::from_secs(10));
    let pid = std::fs::read_to_string(&pidfile).expect("pid");
    assert!(dead(&pid), "the background process survived the timeout");
}

#[test]
fn leftovers_die_with_the_program() {
    let fixture = Fixture::new();
    let pidfile = fixture.path("leftover.pid");
    let outcome = fixture
        .run(
            &format!("sleep 30 & echo $! > {}; echo done", pidfile.display()),
            None,
            Vec::new(),
        )
        .expect("runs");
    assert_eq!(outcome.status, Status::Exited(0));
    assert_eq!(text(&outcome.stdout.bytes), "done\n");
    let pid = std::fs::read_to_string(&pidfile).expect("pid");
    assert!(dead(&pid), "a leftover in the program's group survived it");
}

#[test]
fn a_new_session_inside_cannot_hold_boxpy_for_ever() {
    let fixture = Fixture::new();
    let pidfile = fixture.path("escaped.pid");
    let started = std::time::Instant::now();
    let outcome = fixture
        .run(
            &format!(
                "setsid sh -c 'echo $$ > {}; exec sleep 30' & sleep 0.3; echo done",
                pidfile.display()
            ),
            None,
            Vec::new(),
        )
        .expect("runs");
    assert_eq!(outcome.status, Status::Exited(0));
    assert_eq!(text(&outcome.stdout.bytes), "done\n");
    assert!(started.elapsed() < DRAIN_GRACE + Duration::from_secs(3));
    if let Ok(pid) = std::fs::read_to_string(&pidfile) {
        let _ = nix::sys::signal::kill(
            Pid::from_raw(pid.trim().parse().expect("pid")),
            Signal::SIGKILL,
        );
    }
}

#[test]
fn signals_are_reported() {
    let fixture = Fixture::new();
    let outcome = fixture
        .run("kill -TERM $$", None, Vec::new())
        .expect("runs");
    assert_eq!(outcome.status, Status::Signaled(libc::SIGTERM));
}

#[test]
fn sandbox_exec_failures_are_boxpy_errors() {
    let fixture = Fixture::new();
    let program = fixture.script("failing-sandbox-exec", FAILING);
    let command = fixture.command(&program, "echo never");
    let error = run(
        &command,
        &ExecOptions {
            io: super::super::Io::inherited(false),
            ..ExecOptions::default()
        },
        &Enforcement::default(),
    )
    .expect_err("sandbox-exec failed");
    match error {
        Error::SandboxSetup { detail } => {
            assert_eq!(detail, "syntax error in profile: unbound variable")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_start_helper_refuses_bad_arguments() {
    assert_eq!(start(&[]), 125);
    assert_eq!(start(&["1".into(), "--".into(), "x".into()]), 125);
    assert_eq!(start(&["3".into(), "--".into()]), 125);
}
