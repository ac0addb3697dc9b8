//! Policy parsing, validation, `extends` and error locations.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::validate::{layer, parse};
use super::*;

fn context(cwd: &Path) -> LoadContext {
    LoadContext {
        cwd: cwd.to_path_buf(),
        home: Some(PathBuf::from("/home/user")),
    }
}

fn policy_error(text: &str) -> (PolicyLocation, String, Option<String>) {
    let raw = match parse(text, "boxpy.toml", false) {
        Ok(raw) => raw,
        Err(Error::Policy {
            location,
            message,
            hint,
        }) => return (location, message, hint),
        Err(other) => panic!("unexpected error {other:?}"),
    };
    match layer(&raw, text, "boxpy.toml", Path::new("/p"), None) {
        Err(Error::Policy {
            location,
            message,
            hint,
        }) => (location, message, hint),
        other => panic!("expected a policy error, got {other:?}"),
    }
}

#[test]
fn every_shipped_policy_loads() {
    for (name, _, _) in BUILTIN_POLICIES {
        let policy = load(
            &PolicySource::Builtin((*name).to_owned()),
            &context(Path::new("/w")),
        )
        .unwrap_or_else(|error| panic!("{name}: {error:?}"));
        assert_eq!(policy.name, *name);
        assert_eq!(policy.filesystem.workdir, Path::new("/w"));
    }
}

#[test]
fn shipped_policies_mean_what_they_say() {
    let ctx = context(Path::new("/w"));
    let default = load(&PolicySource::Builtin("default".into()), &ctx).unwrap();
    let strict = load(&PolicySource::Builtin("strict".into()), &ctx).unwrap();
    let net = load(&PolicySource::Builtin("net".into()), &ctx).unwrap();
    assert_eq!(default.network, NetworkMode::None);
    assert_eq!(strict.network, NetworkMode::None);
    assert_eq!(net.network, NetworkMode::Full);
    assert!(strict.env.pass.is_empty());
    assert!(strict.limits.memory < default.limits.memory);
    assert!(strict.limits.timeout < default.limits.timeout);
    assert_eq!(net.limits, default.limits);
    assert_eq!(default.limits.timeout, Some(Duration::from_secs(600)));
}

#[test]
fn unknown_key_has_location_and_suggestion() {
    let text = "[filesystem]\nworkdir = \".\"\n\n[netwrk]\nmode = \"full\"\n";
    let (location, message, hint) = policy_error(text);
    assert_eq!(location.line, Some(4), "{message}");
    assert!(message.contains("netwrk"), "{message}");
    assert_eq!(hint.as_deref(), Some("did you mean `network`?"));
}

#[test]
fn unknown_value_has_suggestion() {
    let (location, _, hint) = policy_error("[network]\nmode = \"ful\"\n");
    assert_eq!(location.line, Some(2));
    assert_eq!(hint.as_deref(), Some("did you mean `full`?"));
}

#[test]
fn unknown_nested_key() {
    let (location, _, hint) = policy_error("[limits]\nmemroy = \"1GiB\"\n");
    assert_eq!(location.line, Some(2));
    assert_eq!(hint.as_deref(), Some("did you mean `memory`?"));
}

#[test]
fn bad_size_and_duration_point_at_the_value() {
    let (location, message, _) = policy_error("[limits]\n\nmemory = \"2GB\"\n");
    assert_eq!((location.line, location.column), (Some(3), Some(10)));
    assert!(
        message.contains("limits.memory") && message.contains("2GiB"),
        "{message}"
    );
    let (location, message, _) = policy_error("[limits]\ntimeout = \"5 minutes\"\n");
    assert_eq!(location.line, Some(2));
    assert!(message.contains("limits.timeout"), "{message}");
}

#[test]
fn venv_and_interpreter_conflict() {
    let (_, message, _) =
        policy_error("[python]\nvenv = \".venv\"\ninterpreter = \"/usr/bin/python3\"\n");
    assert!(message.contains("both set"), "{message}");
}

#[test]
fn mounts_short_long_and_relative() {
    let text = r#"
[filesystem]
read_only = ["data", "/opt/models:/models", { path = "~/cache", optional = true }]
read_write = ["../out"]
"#;
    let raw = parse(text, "p.toml", false).unwrap();
    let layer = layer(
        &raw,
        text,
        "p.toml",
        Path::new("/proj/conf"),
        Some(Path::new("/home/u")),
    )
    .unwrap();
    let read_only = layer.read_only.unwrap();
    assert_eq!(read_only[0].source, Path::new("/proj/conf/data"));
    assert_eq!(read_only[1].dest, Path::new("/models"));
    assert_eq!(read_only[2].source, Path::new("/home/u/cache"));
    assert!(read_only[2].optional);
    assert_eq!(read_only[0].origin, "filesystem.read_only");
    let read_write = layer.read_write.unwrap();
    assert_eq!(read_write[0].source, Path::new("/proj/out"));
    assert!(read_write[0].writable);
}

#[test]
fn mount_table_rejects_unknown_keys() {
    let (location, message, _) =
        policy_error("[filesystem]\nread_only = [{ path = \"x\", dst = \"/y\" }]\n");
    assert_eq!(location.line, Some(2));
    assert!(message.contains("dst"), "{message}");
}

#[test]
fn extends_and_overrides() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("base.toml"),
        "extends = \"strict\"\n[network]\nmode = \"localhost\"\n[env]\nset = { A = \"1\" }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("child.toml"),
        "extends = \"./base.toml\"\n[limits]\ncpu = \"unlimited\"\n[env]\nset = { B = \"2\" }\n",
    )
    .unwrap();
    let policy = load(
        &PolicySource::File(dir.path().join("child.toml")),
        &context(Path::new("/elsewhere")),
    )
    .unwrap();
    assert_eq!(policy.network, NetworkMode::Localhost);
    assert_eq!(policy.limits.cpu, None);
    assert_eq!(policy.limits.memory, Some(512 << 20), "from strict");
    assert_eq!(policy.env.set.get("A").map(String::as_str), Some("1"));
    assert_eq!(policy.env.set.get("B").map(String::as_str), Some("2"));
    assert_eq!(
        policy.env.set.get("MPLBACKEND").map(String::as_str),
        Some("Agg")
    );
    // `workdir = "."` from the built-in default resolves against the caller's cwd.
    assert_eq!(policy.filesystem.workdir, Path::new("/elsewhere"));
}

#[test]
fn a_file_without_extends_starts_from_default() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.toml"), "[network]\nmode = \"full\"\n").unwrap();
    let policy = load(
        &PolicySource::File(dir.path().join("p.toml")),
        &context(Path::new("/w")),
    )
    .unwrap();
    assert_eq!(policy.network, NetworkMode::Full);
    assert_eq!(policy.limits.timeout, Some(Duration::from_secs(600)));
}

#[test]
fn extends_cycle_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.toml"), "extends = \"./b.toml\"\n").unwrap();
    std::fs::write(dir.path().join("b.toml"), "extends = \"./a.toml\"\n").unwrap();
    let error = load(
        &PolicySource::File(dir.path().join("a.toml")),
        &context(dir.path()),
    )
    .unwrap_err();
    assert!(format!("{error:?}").contains("cycle"), "{error:?}");
}

#[test]
fn unknown_shipped_name_suggests() {
    let error = load(
        &PolicySource::Builtin("strcit".into()),
        &context(Path::new("/w")),
    )
    .unwrap_err();
    assert_eq!(error.hints(), vec!["did you mean `strict`?".to_owned()]);
    assert_eq!(error.exit_code(), 125);
}

#[test]
fn pyproject_table() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pyproject.toml"),
        "[project]\nname = \"x\"\n\n[tool.boxpy]\nextends = \"net\"\n\n[tool.boxpy.limits]\ntimeout = \"7s\"\n",
    )
    .unwrap();
    let source = PolicySource::discover(None, &[dir.path().to_path_buf()], None, dir.path());
    assert!(matches!(source, PolicySource::PyProject(_)));
    let policy = load(&source, &context(dir.path())).unwrap();
    assert_eq!(policy.network, NetworkMode::Full);
    assert_eq!(policy.limits.timeout, Some(Duration::from_secs(7)));
}

#[test]
fn pyproject_errors_point_into_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pyproject.toml"),
        "[project]\nname = \"x\"\n\n[tool.boxpy.network]\nmod = \"full\"\n",
    )
    .unwrap();
    let error = load(
        &PolicySource::PyProject(dir.path().join("pyproject.toml")),
        &context(dir.path()),
    )
    .unwrap_err();
    match error {
        Error::Policy { location, hint, .. } => {
            assert_eq!(location.line, Some(5));
            assert_eq!(hint.as_deref(), Some("did you mean `mode`?"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn discovery_order() {
    let dir = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(config.path().join("boxpy")).unwrap();
    std::fs::write(config.path().join("boxpy/policy.toml"), "").unwrap();
    let discover = |env: Option<&str>| {
        PolicySource::discover(
            env,
            &[dir.path().to_path_buf()],
            Some(config.path()),
            dir.path(),
        )
    };
    assert!(
        matches!(discover(None), PolicySource::File(path) if path.ends_with("boxpy/policy.toml"))
    );
    std::fs::write(dir.path().join("pyproject.toml"), "[tool.boxpy]\n").unwrap();
    assert!(matches!(discover(None), PolicySource::PyProject(_)));
    std::fs::write(dir.path().join("boxpy.toml"), "").unwrap();
    // Found in the working directory: not stated by the user, so not trusted to widen.
    let found = discover(None);
    assert!(matches!(&found, PolicySource::Workdir(path) if path.ends_with("boxpy.toml")));
    assert!(!found.is_stated());
    assert!(!PolicySource::PyProject(dir.path().join("pyproject.toml")).is_stated());
    assert!(PolicySource::File(dir.path().join("boxpy.toml")).is_stated());
    assert!(PolicySource::Builtin("default".into()).is_stated());
    assert_eq!(
        discover(Some("strict")),
        PolicySource::Builtin("strict".into())
    );
}

#[test]
fn pyproject_without_our_table_is_ignored() {
    assert!(!super::pyproject_has_boxpy_table(
        "[tool.boxpyx]\n[tool.ruff]\n"
    ));
    assert!(super::pyproject_has_boxpy_table("[tool.boxpy.limits]\n"));
    assert!(super::pyproject_has_boxpy_table("[tool.boxpy]\n"));
}

/// Every file of an `extends` chain is read bounded and only when it is a regular file:
/// `/dev/zero` (which grew boxpy past 2 GB), a FIFO (which hung it), a directory, a file
/// over the limit; each an exit-125 policy error naming the file and what is wrong.
#[test]
fn extends_reads_only_bounded_regular_files() {
    let directory = tempfile::tempdir().unwrap();
    let fifo = directory.path().join("fifo.toml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let big = directory.path().join("big.toml");
    std::fs::write(
        &big,
        vec![b'#'; (crate::bounded::POLICY_LIMIT + 1) as usize],
    )
    .unwrap();
    for (target, file, why) in [
        (
            "/dev/zero",
            "/dev/zero",
            "it is a character device, not a regular file",
        ),
        (
            "./fifo.toml",
            "fifo.toml",
            "it is a FIFO, not a regular file",
        ),
        ("/tmp/", "/tmp", "it is a directory, not a regular file"),
        (
            "./big.toml",
            "big.toml",
            "it is larger than the limit of 1MiB",
        ),
    ] {
        let policy = directory.path().join("boxpy.toml");
        std::fs::write(&policy, format!("extends = \"{target}\"\n")).unwrap();
        let error = load(&PolicySource::File(policy), &context(directory.path())).unwrap_err();
        assert_eq!(error.exit_code(), 125, "{target}");
        let Error::Policy {
            location, message, ..
        } = &error
        else {
            panic!("{target}: {error:?}");
        };
        assert!(location.file.ends_with(file), "{target}: {location:?}");
        assert!(message.ends_with(why), "{target}: {message}");
    }
}
