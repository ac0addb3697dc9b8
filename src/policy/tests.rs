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

/// The owner check `run` passes to [`PolicySource::discover`].
fn owned(path: &Path) -> bool {
    let caller = crate::settings::discovery::Caller::current();
    crate::settings::discovery::owned_by_caller_or_root(path, caller)
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
    assert_eq!(default.network.mode, NetworkMode::None);
    assert_eq!(strict.network.mode, NetworkMode::None);
    assert_eq!(net.network.mode, NetworkMode::Full);
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
    let read_only = layer.filesystem.read_only.unwrap();
    assert_eq!(read_only[0].source, Path::new("/proj/conf/data"));
    assert_eq!(read_only[1].dest, Path::new("/models"));
    assert_eq!(read_only[2].source, Path::new("/home/u/cache"));
    assert!(read_only[2].optional);
    assert_eq!(read_only[0].origin, "filesystem.read_only");
    let read_write = layer.filesystem.read_write.unwrap();
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
    assert_eq!(policy.network.mode, NetworkMode::Localhost);
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

/// Issue 17: `[network] allow`/`deny` are host rules, parsed where they are written.
#[test]
fn network_rules_parse_merge_and_need_proxy_mode() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        PolicySource::File(path)
    };
    let ctx = context(Path::new("/w"));
    let pypi = load(&PolicySource::Builtin("pypi".into()), &ctx).unwrap();
    assert_eq!(pypi.network.mode, NetworkMode::Proxy);
    let rules = pypi.network.rules();
    let shown = |rules: &[crate::network::rules::Rule]| -> Vec<String> {
        rules.iter().map(ToString::to_string).collect()
    };
    assert_eq!(shown(&rules.allow), ["pypi.org", "files.pythonhosted.org"]);
    assert!(rules.deny.is_empty());
    // A later layer replaces a list (and keeps the one it leaves alone); rules are kept in
    // their canonical text.
    let child = load(
        &write(
            "child.toml",
            "extends = \"pypi\"\n[network]\ndeny = [\"Files.PythonHosted.org.\"]\n",
        ),
        &ctx,
    )
    .unwrap();
    assert_eq!(shown(&child.network.allow), shown(&pypi.network.allow));
    assert_eq!(shown(&child.network.deny), ["files.pythonhosted.org"]);
    let replaced = load(
        &write(
            "replaced.toml",
            "extends = \"pypi\"\n[network]\nallow = [\"*.example.com:8443\"]\n",
        ),
        &ctx,
    )
    .unwrap();
    assert_eq!(shown(&replaced.network.allow), ["*.example.com:8443"]);
    // Proxy mode with nothing allowed is valid: every connection is refused (and reported).
    let empty = load(&write("empty.toml", "[network]\nmode = \"proxy\"\n"), &ctx).unwrap();
    assert_eq!(empty.network.mode, NetworkMode::Proxy);
    assert!(empty.network.allow.is_empty());
    // Rules under another mode: an error naming the key, with the fix.
    for (text, key) in [
        ("[network]\nallow = [\"pypi.org\"]\n", "network.allow"),
        (
            "[network]\nmode = \"full\"\ndeny = [\"pypi.org\"]\n",
            "network.deny",
        ),
        // The mode of a later layer, the rules of the policy it extends.
        (
            "extends = \"pypi\"\n[network]\nmode = \"none\"\n",
            "network.allow",
        ),
    ] {
        let error = load(&write("mixed.toml", text), &ctx).unwrap_err();
        let Error::Policy { message, hint, .. } = error else {
            panic!("{text}: {error:?}");
        };
        assert!(message.contains(&format!("`{key}` needs")), "{message}");
        assert!(message.contains("mode = \"proxy\""), "{message}");
        assert!(hint.unwrap().contains("to `[]`"), "{text}");
    }
}

#[test]
fn a_bad_host_rule_is_located_and_named() {
    let (location, message, hint) = policy_error(
        "[network]\nmode = \"proxy\"\nallow = [\"pypi.org\",\n  \"https://pypi.org/simple\"]\n",
    );
    assert_eq!((location.line, location.column), (Some(4), Some(3)));
    assert!(message.contains("`network.allow`"), "{message}");
    assert!(message.contains("`https://pypi.org/simple`"), "{message}");
    assert!(hint.unwrap().contains("HOST:PORT"));
    let (location, message, _) =
        policy_error("[network]\nmode = \"proxy\"\ndeny = [\"a:99999\"]\n");
    assert_eq!(location.line, Some(3));
    assert!(message.contains("`network.deny`"), "{message}");
    let (_, message, hint) = policy_error("[network]\nmode = \"proxy\"\nallow = \"pypi.org\"\n");
    assert!(message.contains("network.allow"), "{message}");
    assert!(hint.is_some());
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
    assert_eq!(policy.network.mode, NetworkMode::Full);
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
    let source =
        PolicySource::discover(None, &[dir.path().to_path_buf()], None, dir.path(), &owned);
    assert!(matches!(source, PolicySource::PyProject(_)));
    let policy = load(&source, &context(dir.path())).unwrap();
    assert_eq!(policy.network.mode, NetworkMode::Full);
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
            &owned,
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

fn pyproject_file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pyproject.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn pyproject_without_our_table_is_ignored() {
    for text in [
        "[tool.boxpyx]\n[tool.ruff]\n",
        "[project]\nname = \"x\"\n",
        "# [tool.boxpy]\n[tool.ruff]\nx = \"[tool.boxpy]\"\n",
        // Broken, but not about boxpy: not boxpy's business.
        "[project\n",
    ] {
        let (_dir, path) = pyproject_file(text);
        assert!(!super::pyproject_names_boxpy(&path), "{text:?}");
    }
}

/// `[tool.boxpy]` in every spelling TOML allows is found and read; the same policy results.
#[test]
fn pyproject_table_in_every_spelling() {
    for text in [
        "[tool.boxpy]\nnetwork = { mode = \"localhost\" }\n",
        "[tool]\nboxpy = { network = { mode = \"localhost\" } }\n",
        "tool.boxpy.network.mode = \"localhost\"\n",
        "[tool]\nboxpy.network.mode = \"localhost\"\n",
        "[tool.\"boxpy\"]\nnetwork.mode = \"localhost\"\n",
        "['tool'.boxpy.network]\nmode = \"localhost\"\n",
        "[ tool . boxpy ]\nnetwork = {mode = \"localhost\"}\n",
        "\u{feff}[tool.boxpy.network]\nmode = \"localhost\"\n",
        "[project]\nname = \"x\"\n[tool.boxpy.network]\r\nmode = \"localhost\"\r\n",
    ] {
        let (dir, path) = pyproject_file(text);
        assert!(super::pyproject_names_boxpy(&path), "{text:?}");
        assert_eq!(
            PolicySource::discover(None, &[dir.path().to_path_buf()], None, dir.path(), &owned),
            PolicySource::PyProject(path.clone()),
            "{text:?}"
        );
        let policy = load(&PolicySource::PyProject(path), &context(dir.path()))
            .unwrap_or_else(|error| panic!("{text:?}: {error:?}"));
        assert_eq!(policy.network.mode, NetworkMode::Localhost, "{text:?}");
    }
}

/// A `tool.boxpy` that is not a table is used (so not silently replaced by the default)
/// and refused, naming it.
#[test]
fn pyproject_table_of_the_wrong_type_is_refused() {
    for (text, names) in [
        (
            "[[tool.boxpy]]\nnetwork = {}\n",
            "`tool.boxpy` must be a table",
        ),
        ("[tool]\nboxpy = 5\n", "`tool.boxpy` must be a table"),
        ("tool = 5\n", "`tool` must be a table"),
        (
            "[tool.boxpy]\nlimits = 5\n",
            "`tool.boxpy.limits` must be a table",
        ),
        (
            "[tool.boxpy.limits]\ntimeout = 5\n",
            "`tool.boxpy.limits.timeout` must be",
        ),
    ] {
        let (dir, path) = pyproject_file(text);
        if !text.starts_with("tool = ") {
            assert!(super::pyproject_names_boxpy(&path), "{text:?}");
        }
        let error = load(&PolicySource::PyProject(path), &context(dir.path())).unwrap_err();
        let Error::Policy {
            location, message, ..
        } = &error
        else {
            panic!("{text:?}: {error:?}");
        };
        assert!(message.contains(names), "{text:?}: {message}");
        assert!(location.line.is_some(), "{text:?}");
    }
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
        // Located at the `extends` that names it, in the file that says it.
        assert!(
            location.file.ends_with("boxpy.toml"),
            "{target}: {location:?}"
        );
        assert_eq!(location.line, Some(1), "{target}");
        assert!(message.contains(file), "{target}: {message}");
        assert!(message.ends_with(why), "{target}: {message}");
    }
}

/// Each policy mistake of issues 15 and 25, and its whole answer: the key, the expected
/// form, an example; never a serde type name, never an empty message.
#[test]
fn every_mistake_is_answered_with_its_key() {
    let cases = [
        "[[limits]]\n",
        "limits = []\n",
        "limits = 5\n",
        "python = []\n",
        "[limits]\ntimeout = 5\n",
        "[limits]\ntimeout = \"0.4ms\"\n",
        "[limits]\ntimeout = \"99ms\"\n",
        "[limits]\nmemory = 10\n",
        "[limits]\nmemory = \"1M\"\n",
        "[limits]\nmemory = -1\n",
        "[limits]\nprocesses = \"many\"\n",
        "# a\u{1}b\n",
        "# a\0b\n",
        "# a\u{7f}b\n",
        "# a\u{1b}b\n",
        "x = \"a\rb\"\n",
        "[netwrk]\nmode = \"full\"\n",
        "[network]\nmode = \"ful\"\n",
        "[network]\nmode = 1\n",
        "[env]\nset = { A = 1 }\n",
        "[env]\nset = { A = \"a\\u0000b\" }\n",
        "[env]\npass = \"LANG\"\n",
        "[env]\npass = [\"A B\"]\n",
        "[filesystem]\nread_only = \"data\"\n",
        "[filesystem]\nread_only = [1]\n",
        "[filesystem]\nread_only = [{ path = \"a\", optinal = true }]\n",
        "[filesystem]\nread_only = [{ dest = \"/a\" }]\n",
        "[filesystem]\nworkdir = \"/a\\u0000\"\n",
        "[[filesystem.read_only]]\npath = \"/a\\u0000\"\n",
        "[filesystem]\nworkdir = \"\"\n",
        "[filesystem]\ntmp_size = \"2GB\"\n",
        "[guards]\ndeny_imports = [\"a-b\"]\n",
        "extends = 5\n",
        "[audit]\nlog = true\n",
        "unknown = 1\n",
        "[limits]\nzzz_qqq = 1\n",
        "[limits]\nmemory = 1GiB\n",
        "x = \n",
        "[limits\n",
    ];
    let mut out = String::new();
    for text in cases {
        let (location, message, hint) = policy_error(text);
        assert!(!message.trim().is_empty(), "{text:?}");
        for internal in ["Raw", "struct ", "Spanned", "SizeValue", "invalid type"] {
            assert!(!message.contains(internal), "{text:?}: {message}");
        }
        assert!(message.contains('`'), "{text:?}: names no key: {message}");
        assert!(hint.is_some(), "{text:?}: {message}");
        out.push_str(&format!(
            "{text:?}\n  {}:{}: {message}\n  hint: {}\n",
            location.line.unwrap_or(0),
            location.column.unwrap_or(0),
            hint.unwrap_or_default()
        ));
    }
    insta::assert_snapshot!("policy_mistakes", out);
}

/// Mounts written as `[[filesystem.read_only]]` tables (as `policy show` prints a mount
/// with a destination) are the same array.
#[test]
fn mounts_as_arrays_of_tables() {
    let text = "[[filesystem.read_only]]\npath = \"/a\"\ndest = \"/b\"\n[[filesystem.read_only]]\npath = \"/c\"\noptional = true\n";
    let raw = parse(text, "boxpy.toml", false).unwrap();
    let built = layer(&raw, text, "boxpy.toml", Path::new("/p"), None).unwrap();
    let mounts = built.filesystem.read_only.unwrap();
    assert_eq!(mounts.len(), 2);
    assert_eq!(mounts[0].dest, Path::new("/b"));
    assert!(mounts[1].optional);
    let (_, message, _) = policy_error("[[filesystem.read_only]]\ndest = \"/b\"\n");
    assert!(
        message.contains("`filesystem.read_only[0]` has no `path`"),
        "{message}"
    );
}

/// Variables and mounts past what the kernel and bubblewrap take are refused naming the
/// key that takes the most; just inside the limits they load.
#[test]
fn argument_budget_and_mount_count() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(dir.path());
    let write = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        PolicySource::File(path)
    };
    let mounts = |count: usize| {
        let list: Vec<String> = (0..count).map(|index| format!("\"/d{index}\"")).collect();
        format!("[filesystem]\nread_only = [{}]\n", list.join(", "))
    };
    assert!(load(&write("fits.toml", mounts(validate::MAX_MOUNTS)), &ctx).is_ok());
    let error = load(&write("many.toml", mounts(validate::MAX_MOUNTS + 1)), &ctx).unwrap_err();
    assert!(
        format!("{error:?}").contains("`filesystem.read_only` is too long"),
        "{error:?}"
    );
    // Three files of 0.9 MiB of variables each (one file is at most 1 MiB).
    let big = "x".repeat(100_000);
    for index in 1..=3 {
        let mut text = if index > 1 {
            format!("extends = \"./e{}.toml\"\n", index - 1)
        } else {
            String::new()
        };
        text.push_str("[env.set]\n");
        for entry in 0..9 {
            text.push_str(&format!("A{index}_{entry} = \"{big}\"\n"));
        }
        write(&format!("e{index}.toml"), text);
    }
    assert!(load(&write("two.toml", "extends = \"./e2.toml\"\n".into()), &ctx).is_ok());
    let error = load(
        &write("three.toml", "extends = \"./e3.toml\"\n".into()),
        &ctx,
    )
    .unwrap_err();
    let message = format!("{error:?}");
    assert!(message.contains("`env.set` is too large"), "{message}");
    assert!(message.contains("ARG_MAX"), "{message}");
}

/// Policies that, between them, set every key to something other than the empty policy's
/// value (`python.venv` and `python.interpreter` exclude each other).
const EVERY_KEY_SET: &[&str] = &[
    r#"
[python]
venv = "/opt/venv"
[filesystem]
workdir = "/p/work"
read_only = ["/data", { path = "/cache", dest = "/c", optional = true }]
read_write = ["/out"]
tmp_size = "2GiB"
hide = ["*.secret", "!.env"]
protect = [".hg2"]
[network]
mode = "proxy"
allow = ["pypi.org", "*.example.com:8443"]
deny = ["10.0.0.1"]
[limits]
timeout = "90s"
cpu = "2m"
memory = "3GiB"
processes = 77
file_size = "5GiB"
open_files = 99
output = "3MiB"
[env]
pass = ["LANG"]
set = { A = "1" }
[guards]
deny_imports = ["requests"]
[audit]
log = "/var/log/boxpy.jsonl"
"#,
    "[python]\ninterpreter = \"/usr/bin/python3\"\n",
];

/// The dotted keys of a serialised policy and their values (a table's keys, not a
/// table's own entries: `env.set` is one key).
fn shown_keys(policy: &Policy) -> Vec<(String, toml::Value)> {
    let value = toml::Value::try_from(policy).unwrap();
    let root = value.as_table().unwrap();
    root.iter()
        .flat_map(|(table, keys)| {
            keys.as_table()
                .unwrap()
                .iter()
                .map(move |(key, value)| (format!("{table}.{key}"), value.clone()))
        })
        .collect()
}

/// Every key of the policy (as its tables declare them, `Policy::keys`) is printed by
/// `policy show` (and so hashed by the audit log), reaches the resolved policy from a file
/// (validate), and is known to the schema checker, the raw serde mirror, the man page,
/// the trust assessment and the proptest generator: a key added to a table cannot be
/// forgotten in any of them.
#[test]
fn every_key_is_everywhere() {
    let keys = Policy::keys();
    let dir = tempfile::tempdir().unwrap();
    let empty = shown_keys(&Policy::fold("empty".to_owned(), Vec::new()));
    let mut set = std::collections::BTreeSet::new();
    for (index, text) in EVERY_KEY_SET.iter().enumerate() {
        let file = dir.path().join(format!("{index}.toml"));
        std::fs::write(&file, text).unwrap();
        let policy = load(&PolicySource::File(file), &context(Path::new("/p"))).unwrap();
        let shown = shown_keys(&policy);
        // `policy show` prints every key of the tables (`audit.log` when set), in order.
        let names: Vec<&String> = shown.iter().map(|(key, _)| key).collect();
        let expected: Vec<&String> = keys
            .iter()
            .filter(|key| *key != "audit.log" || policy.audit_log.is_some())
            .filter(|key| !key.starts_with("python.") || names.contains(key))
            .collect();
        assert_eq!(names, expected, "{text}");
        for (key, value) in &shown {
            if empty
                .iter()
                .all(|(other, empty)| other != key || empty != value)
            {
                set.insert(key.clone());
            }
            // The raw mirror takes the key as `policy show` prints it.
            let (table, name) = key.split_once('.').unwrap();
            let mut inner = toml::Table::new();
            inner.insert(name.to_owned(), value.clone());
            let mut root = toml::Table::new();
            root.insert(table.to_owned(), toml::Value::Table(inner));
            let text = toml::to_string(&root).unwrap();
            if let Err(error) = toml::from_str::<raw::RawPolicy>(&text) {
                panic!("the raw mirror refuses `{key}`: {error}\n{text}");
            }
        }
        let text = render::to_toml(&policy);
        for key in &names {
            let (table, name) = key.split_once('.').unwrap();
            let section = text
                .split(&format!("\n[{table}]\n"))
                .nth(1)
                .unwrap_or_else(|| panic!("policy show has no [{table}]"));
            assert!(
                section.contains(&format!("\n{name} = "))
                    || section.starts_with(&format!("{name} = "))
                    || section.contains(&format!("[{table}.{name}]")),
                "policy show does not print `{key}`:\n{text}"
            );
        }
    }
    let all: Vec<String> = keys.clone();
    assert_eq!(
        set.into_iter().collect::<Vec<_>>(),
        {
            let mut sorted = all.clone();
            sorted.sort();
            sorted
        },
        "EVERY_KEY_SET must set each key to a value other than the empty policy's"
    );
    assert_eq!(schema::known_keys(), keys, "the schema checker's keys");
    let proptest_keys: Vec<String> = proptests::KEYS
        .iter()
        .map(|(table, key)| format!("{table}.{key}"))
        .collect();
    assert_eq!(proptest_keys, keys, "the proptest generator's keys");
    let page = include_str!("../../man/boxpy.toml.5");
    let trust = include_str!("trust.rs");
    for key in &keys {
        let (table, name) = key.split_once('.').unwrap();
        let section = page
            .split(&format!(".SS [{table}]\n"))
            .nth(1)
            .unwrap_or_else(|| panic!("man/boxpy.toml.5 has no section [{table}]"));
        let section = section.split("\n.SS ").next().unwrap();
        assert!(
            section.contains(&format!("\\fB{name}\\fR")),
            "man/boxpy.toml.5 does not describe `{key}`"
        );
        assert!(
            trust.contains(&format!("\"{key}\"")),
            "trust.rs never names `{key}`: does setting it widen the default?"
        );
    }
}
