//! One snapshot of the report of every [`Error`] variant: the human text (`error:`,
//! `Caused by:`, `hint:`) and the `--json` object, with the exit code. [`variant_index`]
//! matches every variant without a wildcard, so a new variant does not compile until it has
//! an index, and [`every_variant_has_a_snapshot`] fails until [`examples`] holds one of it.

use std::path::PathBuf;

use super::{Error, NamespaceCause, PolicyLocation, WorkdirAction};
use crate::report::{format_error, json_error, Styles};

/// How many variants [`variant_index`] knows.
const VARIANTS: usize = 21;

/// Each variant's place, from 0 to `VARIANTS - 1`. No wildcard: a new variant must be
/// given its own.
fn variant_index(error: &Error) -> usize {
    match error {
        Error::Usage { .. } => 0,
        Error::Policy { .. } => 1,
        Error::UntrustedPolicy { .. } => 2,
        Error::VenvBaseRefused { .. } => 3,
        Error::MountMissing { .. } => 4,
        Error::MountRefused { .. } => 5,
        Error::Workdir { .. } => 6,
        Error::WorkdirIo { .. } => 7,
        Error::BwrapMissing => 8,
        Error::NamespacesRefused { .. } => 9,
        Error::SandboxSetup { .. } => 10,
        Error::LimitNotApplied { .. } => 11,
        Error::VenvNotFound { .. } => 12,
        Error::VenvConfigUnreadable { .. } => 13,
        Error::InterpreterNotFound { .. } => 14,
        Error::InterpreterNotExecutable { .. } => 15,
        Error::ProgramNotStarted { .. } => 16,
        Error::ScriptNotFound { .. } => 17,
        Error::UnsupportedPlatform { .. } => 18,
        Error::Inexpressible { .. } => 19,
        Error::Internal(_) => 20,
    }
}

fn path(text: &str) -> PathBuf {
    PathBuf::from(text)
}

/// One example of each variant (a few twice, for a field that changes the wording), named
/// for its snapshot.
fn examples() -> Vec<(&'static str, Error)> {
    vec![
        (
            "usage",
            Error::Usage {
                message: "`--memory 10` has no unit".to_owned(),
                hint: Some("pass a size such as `--memory 512M`".to_owned()),
            },
        ),
        (
            "policy",
            Error::Policy {
                location: PolicyLocation {
                    file: "/w/boxpy.toml".to_owned(),
                    line: Some(4),
                    column: Some(1),
                },
                message: "unknown key `netwrk`".to_owned(),
                hint: Some("did you mean `network`?".to_owned()),
            },
        ),
        (
            "policy_without_line",
            Error::Policy {
                location: PolicyLocation {
                    file: "<built-in strict>".to_owned(),
                    line: None,
                    column: None,
                },
                message: "`extends` names itself".to_owned(),
                hint: None,
            },
        ),
        (
            "untrusted_policy",
            Error::UntrustedPolicy {
                file: path("/w/my project/boxpy.toml"),
                widenings: vec!["`network.mode`: `full`".to_owned()],
                changed: false,
            },
        ),
        (
            "untrusted_policy_changed",
            Error::UntrustedPolicy {
                file: path("/w/boxpy.toml"),
                widenings: vec![
                    "`network.mode`: `full`".to_owned(),
                    "`filesystem.read_write`: `/data`".to_owned(),
                ],
                changed: true,
            },
        ),
        (
            "venv_base_refused",
            Error::VenvBaseRefused {
                venv: path("/w/.venv"),
                prefix: path("/home/u"),
                reason: "it is the home directory".to_owned(),
            },
        ),
        (
            "mount_missing",
            Error::MountMissing {
                key: "filesystem.read_only".to_owned(),
                path: path("/data/set"),
            },
        ),
        (
            "mount_refused",
            Error::MountRefused {
                key: "--rw".to_owned(),
                path: path("/etc"),
                reason: "a system directory cannot be writable".to_owned(),
                hint: None,
            },
        ),
        (
            "workdir",
            Error::Workdir {
                path: path("/"),
                reason: "a system directory cannot be writable in the sandbox".to_owned(),
                hint: None,
            },
        ),
        (
            "workdir_io_create",
            Error::WorkdirIo {
                path: path("/w/new"),
                action: WorkdirAction::Create,
                source: std::io::Error::from_raw_os_error(libc::EACCES),
            },
        ),
        (
            "workdir_io_current",
            Error::WorkdirIo {
                path: path("."),
                action: WorkdirAction::ReadCurrent,
                source: std::io::Error::from_raw_os_error(libc::ENOENT),
            },
        ),
        ("bwrap_missing", Error::BwrapMissing),
        (
            "namespaces_refused",
            Error::NamespacesRefused {
                detail: "bwrap: setting up uid map: Permission denied".to_owned(),
                cause: NamespaceCause::AppArmor,
            },
        ),
        (
            "sandbox_setup",
            Error::SandboxSetup {
                detail: "bwrap: Can't mount proc on /newroot/proc: Operation not permitted"
                    .to_owned(),
            },
        ),
        (
            "limit_not_applied",
            Error::LimitNotApplied {
                detail: "setrlimit(RLIMIT_NOFILE): Operation not permitted".to_owned(),
                key: Some("limits.open_files".to_owned()),
            },
        ),
        (
            "venv_not_found",
            Error::VenvNotFound {
                path: path("/w/.venv"),
                origin: "`--venv`".to_owned(),
                reason: "no such directory".to_owned(),
                exists: false,
            },
        ),
        (
            "venv_not_found_exists",
            Error::VenvNotFound {
                path: path("/w/env.txt"),
                origin: "`--venv`".to_owned(),
                reason: "it is a file, not a directory".to_owned(),
                exists: true,
            },
        ),
        (
            "venv_config_unreadable",
            Error::VenvConfigUnreadable {
                venv: path("/w/.venv"),
                origin: "`python.venv`".to_owned(),
                source: crate::bounded::ReadError::Io(std::io::Error::from_raw_os_error(
                    libc::EACCES,
                )),
            },
        ),
        (
            "interpreter_not_found",
            Error::InterpreterNotFound {
                path: path("/w/.venv/bin/python"),
                detail: "the venv has no `bin/python`".to_owned(),
                hint: Some("recreate the venv: `python3 -m venv --clear /w/.venv`".to_owned()),
            },
        ),
        (
            "interpreter_not_executable",
            Error::InterpreterNotExecutable {
                path: path("/w/.venv/bin/python"),
                detail: "`/usr/bin/python3.12` is not executable".to_owned(),
            },
        ),
        (
            "program_not_started",
            Error::ProgramNotStarted {
                path: path("nosuchtool"),
                detail: "no such file or directory".to_owned(),
                not_found: true,
            },
        ),
        (
            "program_not_started_not_executable",
            Error::ProgramNotStarted {
                path: path("/w/run.sh"),
                detail: "permission denied".to_owned(),
                not_found: false,
            },
        ),
        (
            "script_not_found",
            Error::ScriptNotFound {
                path: path("/w/main.py"),
            },
        ),
        (
            "unsupported_platform",
            Error::UnsupportedPlatform {
                detail: "boxpy needs Linux (bubblewrap) or macOS (Seatbelt)".to_owned(),
            },
        ),
        (
            "inexpressible",
            Error::Inexpressible {
                what: "the mount `/data:/mnt/data`".to_owned(),
                target: "macOS",
                reason: "Seatbelt cannot show a path at another place".to_owned(),
                hint: "mount it at the same path".to_owned(),
            },
        ),
        (
            "internal",
            Error::Internal(
                anyhow::anyhow!("permission denied").context("reading the trust store"),
            ),
        ),
    ]
}

/// The report of `error` as a user sees it: the exit code, the human text, the JSON object.
fn report(error: &Error) -> String {
    let json = serde_json::to_string_pretty(&json_error(error)).unwrap();
    format!(
        "exit code: {}\n--- human (stderr)\n{}--- json (stdout)\n{json}\n",
        error.exit_code(),
        format_error(error, &Styles::default())
    )
}

#[test]
fn every_variant_has_a_snapshot() {
    let mut seen = [false; VARIANTS];
    for (_, error) in examples() {
        seen[variant_index(&error)] = true;
    }
    let missing: Vec<usize> = (0..VARIANTS).filter(|index| !seen[*index]).collect();
    assert!(
        missing.is_empty(),
        "no example (and so no snapshot) of the variants at {missing:?} of `variant_index`: add one to `examples`"
    );
}

#[test]
fn each_variants_report() {
    let mut names = std::collections::BTreeSet::new();
    for (name, error) in examples() {
        assert!(names.insert(name), "two examples named {name}");
        insta::assert_snapshot!(name, report(&error));
    }
}

/// The io error a variant keeps is its `source()`, for a caller that walks the chain.
#[test]
fn io_errors_keep_their_source() {
    use std::error::Error as _;
    for (name, error) in examples() {
        let kept = matches!(
            error,
            Error::WorkdirIo { .. }
                | Error::VenvConfigUnreadable {
                    source: crate::bounded::ReadError::Io(_),
                    ..
                }
        );
        assert_eq!(error.source().is_some(), kept, "{name}");
    }
}
