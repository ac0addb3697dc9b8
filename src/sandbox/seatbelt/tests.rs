//! Snapshot and invariant tests of the Seatbelt renderer over fixed macOS facts.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::*;
use crate::cli::SandboxArgs;
use crate::policy::{self, LoadContext, Mount, NetworkMode, Policy, PolicySource};
use crate::sandbox::SandboxSpec;
use crate::venv::{Interpreter, Origin};

const WORKDIR: &str = "/Users/alice/project";
const VENV: &str = "/Users/alice/project/.venv";
const PYTHON_ORG: &str = "/Library/Frameworks/Python.framework/Versions/3.12";
const HOMEBREW: &str = "/opt/homebrew/opt/python@3.12/Frameworks/Python.framework/Versions/3.12";
const HOMEBREW_KEG: &str = "/opt/homebrew/Cellar/python@3.12/3.12.7";

fn load_builtin(name: &str) -> Policy {
    let context = LoadContext {
        cwd: PathBuf::from(WORKDIR),
        home: Some(PathBuf::from("/Users/alice")),
    };
    policy::load(&PolicySource::Builtin(name.to_owned()), &context).expect("shipped policy loads")
}

fn paths(list: &[&str]) -> Vec<PathBuf> {
    list.iter().map(PathBuf::from).collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(PathBuf, PathBuf)> {
    list.iter()
        .map(|(from, to)| (PathBuf::from(from), PathBuf::from(to)))
        .collect()
}

/// A venv made with python.org's framework Python.
fn python_org() -> (Interpreter, MacosFacts) {
    let interpreter = Interpreter {
        venv: Some(PathBuf::from(VENV)),
        executable: PathBuf::from(format!("{VENV}/bin/python")),
        read_only_paths: paths(&[VENV, PYTHON_ORG]),
        version: Some("3.12.7".to_owned()),
        origin: Origin::WorkdirDotVenv,
        warnings: Vec::new(),
    };
    let facts = MacosFacts {
        run_directory: PathBuf::from(
            "/private/var/folders/zz/zyxvpxvq6csfxvn_n0000000000000/T/boxpy-Q1w2E3",
        ),
        tag: "boxpy-0123456789ab".to_owned(),
        boxpy_executable: PathBuf::from("/Users/alice/.cargo/bin/boxpy"),
        resolved: pairs(&[(
            "/Users/alice/project/.venv/bin/python",
            "/Library/Frameworks/Python.framework/Versions/3.12/bin/python3.12",
        )]),
        interpreter_links: paths(&["/Users/alice/project/.venv/bin/python"]),
        interpreter_libraries: Vec::new(),
    };
    (interpreter, facts)
}

/// A venv made with Homebrew's Python, whose modules link OpenSSL, SQLite, xz and
/// mpdecimal from other kegs.
fn homebrew() -> (Interpreter, MacosFacts) {
    let interpreter = Interpreter {
        venv: Some(PathBuf::from(VENV)),
        executable: PathBuf::from(format!("{VENV}/bin/python")),
        read_only_paths: paths(&[
            VENV,
            "/opt/homebrew/opt/python@3.12",
            HOMEBREW_KEG,
            HOMEBREW,
        ]),
        version: Some("3.12.7".to_owned()),
        origin: Origin::WorkdirDotVenv,
        warnings: Vec::new(),
    };
    let facts = MacosFacts {
        run_directory: PathBuf::from("/private/var/folders/zz/zyxvpxvq6csfxvn_n0000000000000/T/boxpy-Q1w2E3"),
        tag: "boxpy-0123456789ab".to_owned(),
        boxpy_executable: PathBuf::from("/opt/homebrew/Cellar/boxpy/0.1.0/bin/boxpy"),
        resolved: pairs(&[
            ("/opt/homebrew/opt/python@3.12", HOMEBREW_KEG),
            (
                "/Users/alice/project/.venv/bin/python",
                "/opt/homebrew/Cellar/python@3.12/3.12.7/Frameworks/Python.framework/Versions/3.12/bin/python3.12",
            ),
            ("/opt/homebrew/opt/openssl@3", "/opt/homebrew/Cellar/openssl@3/3.3.2"),
            ("/opt/homebrew/opt/mpdecimal", "/opt/homebrew/Cellar/mpdecimal/4.0.0"),
            ("/opt/homebrew/opt/xz", "/opt/homebrew/Cellar/xz/5.6.3"),
            ("/opt/homebrew/opt/sqlite", "/opt/homebrew/Cellar/sqlite/3.47.0"),
        ]),
        interpreter_links: paths(&[
            "/Users/alice/project/.venv/bin/python",
            "/opt/homebrew/opt/python@3.12/bin/python3.12",
        ]),
        interpreter_libraries: paths(&[
            "/opt/homebrew/opt/openssl@3",
            "/opt/homebrew/opt/mpdecimal",
            "/opt/homebrew/opt/xz",
            "/opt/homebrew/opt/sqlite",
            "/opt/homebrew/etc/openssl@3",
            "/opt/homebrew/etc/ca-certificates",
        ]),
    };
    (interpreter, facts)
}

fn spec_for(policy: &Policy, interpreter: Interpreter, mounts: Vec<Mount>) -> SandboxSpec {
    let home = PathBuf::from("/Users/alice");
    let host_env = |name: &str| -> Option<OsString> {
        matches!(name, "LANG" | "TERM").then(|| OsString::from("x"))
    };
    let env = crate::settings::program_environment(
        policy,
        &SandboxArgs::default(),
        &interpreter,
        &home,
        &host_env,
    )
    .expect("environment");
    SandboxSpec {
        workdir: PathBuf::from(WORKDIR),
        mounts,
        command: vec![
            interpreter.executable.clone().into_os_string(),
            "analyze.py".into(),
        ],
        interpreter,
        script_mount: None,
        network: policy.network.mode,
        proxy: (policy.network.mode == crate::policy::NetworkMode::Proxy)
            .then(crate::sandbox::ProxyPorts::default),
        tmp_size: policy.filesystem.tmp_size,
        limits: policy.limits.clone(),
        home,
        env,
        files: Vec::new(),
        seccomp: false,
        disable_userns: false,
        hidden: Vec::new(),
        protected_names: crate::sandbox::protect::PROTECTED_NAMES
            .iter()
            .map(|name| (*name).to_owned())
            .collect(),
        fonts: false,
    }
}

fn mount(source: &str, dest: &str, writable: bool) -> Mount {
    Mount {
        source: source.into(),
        dest: dest.into(),
        optional: false,
        writable,
        origin: if writable { "--rw" } else { "--ro" }.to_owned(),
    }
}

fn rendered(policy: &str, network: Option<NetworkMode>) -> SeatbeltCommand {
    let mut policy = load_builtin(policy);
    if let Some(network) = network {
        policy.network.mode = network;
    }
    let (interpreter, facts) = python_org();
    render(&spec_for(&policy, interpreter, Vec::new()), &facts).expect("renders")
}

fn rendered_homebrew() -> SeatbeltCommand {
    let (interpreter, facts) = homebrew();
    render(
        &spec_for(&load_builtin("default"), interpreter, Vec::new()),
        &facts,
    )
    .expect("renders")
}

/// A spec with every kind of path: mounts (one inside the workdir), a script outside,
/// a deny_imports guard.
fn rendered_with_mounts() -> SeatbeltCommand {
    let mut policy = load_builtin("default");
    policy.guards.deny_imports = vec!["socket".to_owned()];
    let (interpreter, facts) = python_org();
    let mut spec = spec_for(
        &policy,
        interpreter,
        vec![
            mount("/Users/alice/project/out", "/Users/alice/project/out", true),
            mount("/Users/alice/data", "/Users/alice/data", false),
            mount(
                "/Users/alice/project/vendor/reference",
                "/Users/alice/project/vendor/reference",
                false,
            ),
        ],
    );
    spec.script_mount = Some(PathBuf::from("/Users/alice/tools/report.py"));
    spec.files = vec![(
        PathBuf::from("/run/boxpy/guards/sitecustomize.py"),
        crate::hints::guards::sitecustomize(&policy.guards.deny_imports).into_bytes(),
    )];
    spec.env.push((
        "PYTHONPATH".to_owned(),
        EnvValue::Literal("/run/boxpy/guards".to_owned()),
    ));
    render(&spec, &facts).expect("renders")
}

/// Every rendered case, for the invariant tests.
fn all_cases() -> Vec<(&'static str, SeatbeltCommand)> {
    vec![
        ("default", rendered("default", None)),
        ("strict", rendered("strict", None)),
        ("net", rendered("net", None)),
        ("pypi", rendered("pypi", None)),
        (
            "localhost",
            rendered("default", Some(NetworkMode::Localhost)),
        ),
        ("homebrew", rendered_homebrew()),
        ("mounts", rendered_with_mounts()),
    ]
}

#[test]
fn snapshot_default() {
    insta::assert_snapshot!("default", to_shell_script(&rendered("default", None)));
}

#[test]
fn snapshot_strict() {
    insta::assert_snapshot!("strict", to_shell_script(&rendered("strict", None)));
}

#[test]
fn snapshot_net() {
    insta::assert_snapshot!("net", to_shell_script(&rendered("net", None)));
}

#[test]
fn snapshot_pypi() {
    insta::assert_snapshot!("pypi", to_shell_script(&rendered("pypi", None)));
}

/// Proxy mode (issue 17): outbound to the proxy's two loopback ports only (those the
/// backend bound, else the defaults), no bind, no DNS socket; the proxy variables name
/// the same ports.
#[test]
fn proxy_mode_reaches_only_the_proxy_ports() {
    let ip_rules = |command: &SeatbeltCommand| -> Vec<String> {
        forms_of(&command.profile.text)
            .into_iter()
            .filter(|form| form.contains("(local ip") || form.contains("(remote ip"))
            .collect()
    };
    let pypi = rendered("pypi", None);
    assert_eq!(
        ip_rules(&pypi),
        [
            "(allow network-outbound (remote ip \"localhost:3128\"))",
            "(allow network-outbound (remote ip \"localhost:1080\"))",
        ]
    );
    assert!(param_value(&pypi, "DNS_SOCKET").is_none());
    assert!(param_value(&pypi, "RESOLV_CONF").is_none());
    let (interpreter, facts) = python_org();
    let mut spec = spec_for(&load_builtin("pypi"), interpreter, Vec::new());
    spec.proxy = Some(crate::sandbox::ProxyPorts {
        http: 50123,
        socks: 50124,
    });
    let bound = render(&spec, &facts).expect("renders");
    assert_eq!(
        ip_rules(&bound),
        [
            "(allow network-outbound (remote ip \"localhost:50123\"))",
            "(allow network-outbound (remote ip \"localhost:50124\"))",
        ]
    );
    assert!(bound.env.iter().any(|(key, value)| key == "HTTPS_PROXY"
        && *value == EnvValue::Literal("http://127.0.0.1:50123".to_owned())));
}

#[test]
fn snapshot_localhost() {
    insta::assert_snapshot!(
        "localhost",
        to_shell_script(&rendered("default", Some(NetworkMode::Localhost)))
    );
}

#[test]
fn snapshot_homebrew() {
    insta::assert_snapshot!("homebrew", to_shell_script(&rendered_homebrew()));
}

#[test]
fn snapshot_mounts_script_and_guard() {
    insta::assert_snapshot!("mounts", to_shell_script(&rendered_with_mounts()));
}

/// The profile without comments.
fn rules_of(text: &str) -> String {
    text.lines()
        .map(|line| match line.find(';') {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The rules as top-level s-expressions (comments removed), whitespace collapsed.
fn forms_of(text: &str) -> Vec<String> {
    let rules = rules_of(text);
    let mut forms = Vec::new();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut current = String::new();
    for character in rules.chars() {
        if depth > 0 || character == '(' {
            current.push(if character == '\n' { ' ' } else { character });
        }
        match character {
            '"' => in_string = !in_string,
            '(' if !in_string => depth += 1,
            ')' if !in_string => {
                depth -= 1;
                if depth == 0 {
                    forms.push(current.split_whitespace().collect::<Vec<_>>().join(" "));
                    current.clear();
                }
            }
            _ => {}
        }
    }
    assert_eq!(depth, 0, "unbalanced parentheses");
    forms
}

fn params_in(form: &str) -> Vec<String> {
    form.split("(param \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn deny_default_comes_first() {
    for (name, command) in all_cases() {
        let forms = forms_of(&command.profile.text);
        assert_eq!(forms[0], "(version 1)", "{name}");
        assert_eq!(
            forms[1],
            format!("(deny default (with message \"{}\"))", command.tag),
            "{name}"
        );
        assert!(command.tag.starts_with("boxpy-"));
    }
}

#[test]
fn no_path_is_spliced_into_the_profile() {
    for (name, command) in all_cases() {
        let text = &command.profile.text;
        assert!(
            !rules_of(text).contains('/'),
            "{name}: a `/` outside comments: a path in the profile text"
        );
        for (param, value) in &command.profile.params {
            let value = value.to_string_lossy();
            assert!(value.starts_with('/'), "{name}: {param} is not absolute");
            if value != "/" {
                assert!(
                    !text.contains(value.as_ref()),
                    "{name}: the value of {param} ({value}) appears in the profile text"
                );
            }
        }
    }
}

#[test]
fn every_param_is_declared_once_and_used() {
    for (name, command) in all_cases() {
        let declared: Vec<&String> = command.profile.params.iter().map(|(n, _)| n).collect();
        let unique: BTreeSet<&String> = declared.iter().copied().collect();
        assert_eq!(declared.len(), unique.len(), "{name}: a parameter twice");
        let used: BTreeSet<String> = forms_of(&command.profile.text)
            .iter()
            .flat_map(|form| params_in(form))
            .collect();
        let declared: BTreeSet<String> = unique.into_iter().cloned().collect();
        assert_eq!(
            used, declared,
            "{name}: declared and used parameters differ"
        );
    }
}

#[test]
fn writable_params_are_a_subset_of_readable_ones() {
    for (name, command) in all_cases() {
        let forms = forms_of(&command.profile.text);
        let of = |prefix: &str| -> BTreeSet<String> {
            forms
                .iter()
                .filter(|form| form.starts_with(prefix))
                .flat_map(|form| params_in(form))
                .collect()
        };
        let writable = of("(allow file-write*");
        let readable = of("(allow file-read*");
        assert!(!writable.is_empty(), "{name}");
        assert!(
            writable.is_subset(&readable),
            "{name}: writable but not readable: {:?}",
            writable.difference(&readable).collect::<Vec<_>>()
        );
        let expected: BTreeSet<String> = ["WORKDIR", "HOME", "TMPDIR"]
            .iter()
            .map(|name| name.to_string())
            .chain(
                command
                    .profile
                    .params
                    .iter()
                    .map(|(param, _)| param.clone())
                    .filter(|param| param.starts_with("RW_")),
            )
            .collect();
        assert_eq!(writable, expected, "{name}: only these are writable");
    }
}

fn param_value<'a>(command: &'a SeatbeltCommand, name: &str) -> Option<&'a Path> {
    command
        .profile
        .params
        .iter()
        .find(|(param, _)| param == name)
        .map(|(_, value)| value.as_path())
}

fn form_index(forms: &[String], predicate: impl Fn(&str) -> bool) -> Option<usize> {
    forms.iter().position(|form| predicate(form))
}

#[test]
fn protected_paths_are_denied_after_every_file_allow() {
    for (name, command) in all_cases() {
        let forms = forms_of(&command.profile.text);
        let protected = form_index(&forms, |form| {
            form.starts_with("(deny file-read* file-write*")
                && form.contains("PROTECTED_MASTER_PASSWD")
        })
        .unwrap_or_else(|| panic!("{name}: no protected rule"));
        let last_allow = forms
            .iter()
            .rposition(|form| {
                form.starts_with("(allow file-write*")
                    || (form.starts_with("(allow file-read*")
                        && !form.contains("ETC_HOSTS")
                        && !form.contains("RESOLV_CONF"))
            })
            .expect("allow rules");
        assert!(last_allow < protected, "{name}");
        for protected in PROTECTED {
            assert_eq!(
                param_value(&command, protected.name),
                Some(Path::new(protected.path)),
                "{name}"
            );
        }
    }
}

#[test]
fn home_and_temporary_files_stay_private() {
    let command = rendered("default", None);
    let values: Vec<&Path> = command
        .profile
        .params
        .iter()
        .map(|(_, value)| value.as_path())
        .collect();
    for hidden in [
        "/Users/alice",
        "/Users",
        "/private/tmp",
        "/tmp",
        "/private/var/folders/zz/zyxvpxvq6csfxvn_n0000000000000/T",
    ] {
        // Only metadata (the ANCESTOR_/…_LINK parameters) may name them.
        for (param, value) in &command.profile.params {
            if value == Path::new(hidden) {
                assert!(
                    param.starts_with("ANCESTOR_") || param.ends_with("_LINK"),
                    "{hidden} is {param}"
                );
            }
        }
    }
    assert!(values.contains(&Path::new(
        "/private/var/folders/zz/zyxvpxvq6csfxvn_n0000000000000/T/boxpy-Q1w2E3/home"
    )));
    let env = |key: &str| {
        command
            .env
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.clone())
    };
    assert_eq!(
        env("HOME"),
        Some(EnvValue::Literal(
            "/private/var/folders/zz/zyxvpxvq6csfxvn_n0000000000000/T/boxpy-Q1w2E3/home".to_owned()
        ))
    );
    assert_eq!(
        env("TMPDIR"),
        Some(EnvValue::Literal(
            "/private/var/folders/zz/zyxvpxvq6csfxvn_n0000000000000/T/boxpy-Q1w2E3/tmp".to_owned()
        ))
    );
    assert_eq!(
        command.directories,
        paths(&[
            "/private/var/folders/zz/zyxvpxvq6csfxvn_n0000000000000/T/boxpy-Q1w2E3/home",
            "/private/var/folders/zz/zyxvpxvq6csfxvn_n0000000000000/T/boxpy-Q1w2E3/tmp",
        ])
    );
}

#[test]
fn only_the_real_interpreter_prefix_is_readable() {
    let command = rendered_homebrew();
    assert_eq!(
        param_value(&command, "PYTHON_PREFIX_0"),
        Some(Path::new(
            "/opt/homebrew/Cellar/python@3.12/3.12.7/Frameworks/Python.framework/Versions/3.12"
        ))
    );
    assert_eq!(param_value(&command, "PYTHON_PREFIX_1"), None);
    let libraries: Vec<&Path> = command
        .profile
        .params
        .iter()
        .filter(|(param, _)| param.starts_with("PYTHON_LIBRARY_"))
        .map(|(_, value)| value.as_path())
        .collect();
    assert_eq!(
        libraries,
        [
            "/opt/homebrew/Cellar/openssl@3/3.3.2",
            "/opt/homebrew/Cellar/mpdecimal/4.0.0",
            "/opt/homebrew/Cellar/xz/5.6.3",
            "/opt/homebrew/Cellar/sqlite/3.47.0",
            "/opt/homebrew/etc/openssl@3",
            "/opt/homebrew/etc/ca-certificates",
        ]
        .map(Path::new)
    );
    // Neither Homebrew's prefix nor the keg above the framework is a readable root: at
    // most metadata on the way.
    let forms = forms_of(&command.profile.text);
    for broad in [
        "/opt",
        "/opt/homebrew",
        HOMEBREW_KEG,
        "/opt/homebrew/opt/python@3.12",
    ] {
        for (param, value) in &command.profile.params {
            if value == Path::new(broad) {
                assert!(param.starts_with("ANCESTOR_"), "{broad} is {param}");
                let granted = forms.iter().any(|form| {
                    form.contains(&format!("(param \"{param}\")"))
                        && !form.starts_with("(allow file-read-metadata")
                });
                assert!(!granted, "{broad} gets more than metadata");
            }
        }
    }
    // The symlink the venv's python goes through may be looked at.
    assert!(command.profile.params.iter().any(|(param, value)| {
        param.starts_with("ANCESTOR_")
            && value == Path::new("/opt/homebrew/Cellar/python@3.12/3.12.7/bin/python3.12")
    }));
}

#[test]
fn a_system_interpreter_does_not_open_usr() {
    let policy = load_builtin("default");
    let interpreter = Interpreter {
        venv: None,
        executable: PathBuf::from("/usr/bin/python3"),
        read_only_paths: paths(&["/usr"]),
        version: None,
        origin: Origin::Path,
        warnings: Vec::new(),
    };
    let (_, mut facts) = python_org();
    facts.resolved.clear();
    facts.interpreter_links.clear();
    let command = render(&spec_for(&policy, interpreter, Vec::new()), &facts).expect("renders");
    assert!(param_value(&command, "PYTHON_PREFIX_0").is_none());
    for (param, value) in &command.profile.params {
        if value == Path::new("/usr") {
            assert!(param.starts_with("ANCESTOR_"), "/usr is {param}");
        }
    }
}

#[test]
fn read_only_paths_inside_writable_ones_stay_read_only() {
    let command = rendered_with_mounts();
    let forms = forms_of(&command.profile.text);
    let position = |form: &str| {
        forms
            .iter()
            .position(|candidate| candidate == form)
            .unwrap_or_else(|| panic!("missing {form}"))
    };
    let workdir = position("(allow file-write* (subpath (param \"WORKDIR\")))");
    let venv = position(&format!(
        "(deny file-write* (subpath (param \"VENV_0\")) (with message \"{}\"))",
        command.tag
    ));
    let reference = position(&format!(
        "(deny file-write* (subpath (param \"RO_1\")) (with message \"{}\"))",
        command.tag
    ));
    let out = position("(allow file-write* (subpath (param \"RW_0\")))");
    assert!(workdir < venv && workdir < reference && workdir < out);
    assert_eq!(
        param_value(&command, "RO_1"),
        Some(Path::new("/Users/alice/project/vendor/reference"))
    );
    // The read-only mount outside the workdir needs no deny rule.
    assert!(!forms
        .iter()
        .any(|form| form.starts_with("(deny file-write* (subpath (param \"RO_0\"))")));
    // Neither the writable roots nor the directory holding a read-only mount can be
    // renamed away.
    let pinned = forms
        .iter()
        .find(|form| form.starts_with("(deny file-write-unlink"))
        .expect("pinned rule");
    assert_eq!(
        params_in(pinned),
        ["WORKDIR", "RW_0", "HOME", "TMPDIR", "PINNED_0"]
    );
    assert_eq!(
        param_value(&command, "PINNED_0"),
        Some(Path::new("/Users/alice/project/vendor"))
    );
}

#[test]
fn generated_files_move_into_the_run_directory() {
    let command = rendered_with_mounts();
    let files = "/private/var/folders/zz/zyxvpxvq6csfxvn_n0000000000000/T/boxpy-Q1w2E3/files";
    assert_eq!(command.files.len(), 1);
    assert_eq!(
        command.files[0].0,
        PathBuf::from(format!("{files}/run/boxpy/guards/sitecustomize.py"))
    );
    assert!(command.env.contains(&(
        "PYTHONPATH".to_owned(),
        EnvValue::Literal(format!("{files}/run/boxpy/guards"))
    )));
    assert_eq!(param_value(&command, "FILES"), Some(Path::new(files)));
    assert!(command
        .directories
        .contains(&PathBuf::from(format!("{files}/run/boxpy/guards"))));
    assert_eq!(
        param_value(&command, "SCRIPT"),
        Some(Path::new("/Users/alice/tools/report.py"))
    );
}

#[test]
fn network_modes() {
    let ip_rules = |command: &SeatbeltCommand| -> Vec<String> {
        forms_of(&command.profile.text)
            .into_iter()
            .filter(|form| form.contains("(local ip") || form.contains("(remote ip"))
            .collect()
    };
    assert!(ip_rules(&rendered("default", None)).is_empty());
    assert!(ip_rules(&rendered("strict", None)).is_empty());
    assert_eq!(
        ip_rules(&rendered("default", Some(NetworkMode::Localhost))),
        [
            "(allow network-bind (local ip \"localhost:*\"))",
            "(allow network-inbound (local ip \"localhost:*\"))",
            "(allow network-outbound (remote ip \"localhost:*\"))",
        ]
    );
    let net = rendered("net", None);
    assert_eq!(
        ip_rules(&net),
        [
            "(allow network-bind (local ip \"*:*\"))",
            "(allow network-inbound (local ip \"*:*\"))",
            "(allow network-outbound (remote ip \"*:*\"))",
        ]
    );
    assert_eq!(
        param_value(&net, "DNS_SOCKET"),
        Some(Path::new("/private/var/run/mDNSResponder"))
    );
    assert!(param_value(&rendered("default", None), "DNS_SOCKET").is_none());
    // No unrestricted network rule in any mode: a bare `network*` would also open every
    // Unix-domain socket on the host (docker, ssh-agent).
    for (name, command) in all_cases() {
        for form in forms_of(&command.profile.text) {
            if form.starts_with("(allow network") {
                assert!(
                    form.contains("(local ") || form.contains("(remote "),
                    "{name}: unfiltered {form}"
                );
            }
            if form.contains("unix-socket") && !form.contains("DNS_SOCKET") {
                for param in params_in(&form) {
                    assert!(
                        ["WORKDIR", "HOME", "TMPDIR"].contains(&param.as_str())
                            || param.starts_with("RW_"),
                        "{name}: a Unix socket at {param}"
                    );
                }
            }
        }
    }
}

#[test]
fn sandbox_exec_arguments() {
    let command = rendered("default", None);
    let args: Vec<String> = command
        .args()
        .iter()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    assert_eq!(args[0], "-p");
    assert_eq!(args[1], command.profile.text);
    assert_eq!(args[2], "-DUSR_LIB=/usr/lib");
    let separator = args.iter().position(|arg| arg == "--").expect("--");
    assert!(args[2..separator].iter().all(|arg| arg.starts_with("-D")));
    assert_eq!(
        &args[separator + 1..],
        [
            "/Users/alice/.cargo/bin/boxpy",
            START_ARGUMENT,
            "3",
            "--",
            "/Users/alice/project/.venv/bin/python",
            "analyze.py"
        ]
    );
    assert_eq!(command.program, Path::new(SANDBOX_EXEC));
}

#[test]
fn a_mount_at_another_path_is_an_error() {
    let (interpreter, facts) = python_org();
    for writable in [false, true] {
        let spec = spec_for(
            &load_builtin("default"),
            interpreter.clone(),
            vec![mount("/Users/alice/models", "/models", writable)],
        );
        let error = render(&spec, &facts).expect_err("SRC:DEST cannot be expressed");
        assert!(matches!(error, Error::Inexpressible { .. }), "{error:?}");
        let text = crate::report::format_error(&error, &crate::report::Styles::default());
        assert!(
            text.contains("`/Users/alice/models:/models`")
                && text.contains("cannot be enforced on macOS"),
            "{text}"
        );
        assert_eq!(error.exit_code(), crate::exit::SANDBOX_FAILED);
    }
}

#[test]
fn protected_mounts_and_system_workdirs_are_refused() {
    let (interpreter, facts) = python_org();
    let spec = spec_for(
        &load_builtin("default"),
        interpreter.clone(),
        vec![mount("/private/etc/ssh", "/private/etc/ssh", false)],
    );
    assert!(matches!(
        render(&spec, &facts),
        Err(Error::MountRefused { .. })
    ));
    let mut spec = spec_for(&load_builtin("default"), interpreter, Vec::new());
    spec.workdir = PathBuf::from("/Users");
    assert!(matches!(render(&spec, &facts), Err(Error::Workdir { .. })));
}

#[test]
fn canonical_paths_use_the_longest_prefix() {
    let (_, facts) = homebrew();
    assert_eq!(
        facts.canonical(Path::new("/opt/homebrew/opt/python@3.12/bin/python3.12")),
        Path::new("/opt/homebrew/Cellar/python@3.12/3.12.7/bin/python3.12")
    );
    assert_eq!(
        facts.physical(Path::new("/opt/homebrew/opt/python@3.12")),
        Path::new("/opt/homebrew/opt/python@3.12")
    );
    assert_eq!(
        facts.canonical(Path::new("/opt/homebrew/optional")),
        Path::new("/opt/homebrew/optional")
    );
}

#[test]
fn the_base_profile_names_no_path() {
    assert!(!BASE_PROFILE.contains('/'), "paths belong in -D parameters");
    let forms = forms_of(BASE_PROFILE);
    assert!(forms
        .iter()
        .all(|form| form.starts_with("(allow") || form.starts_with("(deny")));
}

#[test]
fn the_tag_cannot_break_out_of_its_string() {
    let (interpreter, mut facts) = python_org();
    facts.tag = "boxpy-1\"))(allow default)(\"".to_owned();
    let command = render(
        &spec_for(&load_builtin("default"), interpreter, Vec::new()),
        &facts,
    )
    .expect("renders");
    assert_eq!(command.tag, "boxpy-1allowdefault");
    assert!(!command.profile.text.contains("(allow default)"));
}

#[test]
fn a_command_found_on_path_inside() {
    // `boxpy exec -- sh` without a venv: the command is a bare name.
    let interpreter = Interpreter {
        venv: None,
        executable: PathBuf::from("sh"),
        read_only_paths: Vec::new(),
        version: None,
        origin: Origin::Path,
        warnings: Vec::new(),
    };
    let (_, facts) = python_org();
    let mut spec = spec_for(&load_builtin("default"), interpreter, Vec::new());
    spec.command = vec!["sh".into(), "-c".into(), "true".into()];
    let command = render(&spec, &facts).expect("renders");
    for (param, value) in &command.profile.params {
        assert!(value.is_absolute(), "{param}");
    }
    assert!(param_value(&command, "PYTHON_PREFIX_0").is_none());
    assert_eq!(
        command.command[4..],
        ["sh", "-c", "true"].map(OsString::from)
    );
}
