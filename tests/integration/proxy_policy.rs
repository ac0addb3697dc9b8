//! Network by name, the policy side (issue 17): `[network] mode = "proxy"` with `allow` and
//! `deny`, the `--allow-host`/`--deny-host` flags, the shipped `pypi` policy, what
//! `policy check`, `policy show` and `render` say about them, and the trust gate on a
//! repository's policy that allows hosts. (The proxy at run time is `network.rs`'s.)

use std::path::PathBuf;

use crate::harness::{
    assert_exit, assert_not_started, assert_started, boxpy, run_in_venv, runner_tests, venv,
    Runner, Venv, Workspace,
};

/// A bad rule on the command line: a usage error (exit 125, SPEC §5) before anything starts, naming the flag and the
/// rule, on every command that takes the flag.
#[test]
fn a_bad_host_rule_is_a_usage_error_naming_the_flag() {
    let ws = Workspace::new(&Runner::Caller);
    for (flag, rule) in [
        ("--allow-host", "https://pypi.org/simple"),
        ("--deny-host", "pypi.org:99999"),
        ("--allow-host", ""),
    ] {
        let run = run_in_venv(&ws)
            .arg(format!("{flag}={rule}"))
            .code("print('ran')")
            .run();
        assert_exit(&run, 125);
        assert_not_started(&run);
        let stderr = run.stderr_text();
        assert!(stderr.contains(flag), "names {flag}: {run}");
        assert!(stderr.contains(&format!("{flag} `{rule}`: ")), "{run}");
        assert!(stderr.contains("hint:"), "{run}");
        for command in [vec!["policy", "show"], vec!["render"], vec!["exec", "--"]] {
            let mut args: Vec<String> = command.iter().map(|part| (*part).to_owned()).collect();
            args.insert(1, format!("{flag}={rule}"));
            if args[0] == "exec" {
                args.push("true".to_owned());
            }
            let output = boxpy(&ws).args(&args).run();
            assert_exit(&output, 125);
            assert!(output.stderr_text().contains(flag), "{args:?}: {output}");
        }
    }
    // With --json: one JSON object, the usage error's exit code.
    let output = run_in_venv(&ws)
        .args(["--json", "--allow-host", "a b"])
        .code("print('ran')")
        .run();
    assert_exit(&output, 125);
    let json = output.json();
    assert!(json["error"]["message"]
        .as_str()
        .is_some_and(|message| message.contains("--allow-host")));
}

/// `--allow-host` narrows nothing with the host's whole network: refused, with the fix.
#[test]
fn allow_host_under_full_network_is_a_usage_error() {
    let ws = Workspace::new(&Runner::Caller);
    for args in [
        vec!["--network", "full", "--allow-host", "pypi.org"],
        vec!["-P", "net", "--deny-host", "pypi.org"],
    ] {
        let output = run_in_venv(&ws).args(&args).code("print('ran')").run();
        assert_exit(&output, 125);
        assert_not_started(&output);
        let stderr = output.stderr_text();
        assert!(
            stderr.contains("narrows nothing under"),
            "{args:?}: {output}"
        );
        assert!(stderr.contains("--network proxy"), "{args:?}: {output}");
    }
}

/// `policy show` prints `[network]` with its rules; flags add to them (and imply proxy
/// mode), and `--network none` drops them.
#[test]
fn policy_show_prints_the_rules_and_the_flags_change_them() {
    let ws = Workspace::new(&Runner::Caller);
    let shown = |args: &[&str]| -> String {
        let output = boxpy(&ws).args(["policy", "show"]).args(args).run();
        assert_exit(&output, 0);
        let text = output.stdout_text();
        text.split("[network]\n")
            .nth(1)
            .and_then(|rest| rest.split("\n\n").next())
            .unwrap_or_else(|| panic!("no [network]: {text}"))
            .to_owned()
    };
    assert_eq!(
        shown(&[]),
        "mode = \"none\"\nallow = []\ndeny = []",
        "the default"
    );
    assert_eq!(
        shown(&["-P", "pypi"]),
        "mode = \"proxy\"\nallow = [\"pypi.org\", \"files.pythonhosted.org\"]\ndeny = []"
    );
    assert_eq!(
        shown(&[
            "--allow-host",
            "Example.COM:8443",
            "--deny-host",
            "*.bad.example"
        ]),
        "mode = \"proxy\"\nallow = [\"example.com:8443\"]\ndeny = [\"*.bad.example\"]"
    );
    assert_eq!(
        shown(&["-P", "pypi", "--network", "none"]),
        "mode = \"none\"\nallow = []\ndeny = []"
    );
    assert_eq!(
        shown(&["--network", "proxy"]),
        "mode = \"proxy\"\nallow = []\ndeny = []"
    );
}

/// `policy show --json`: one object, the same keys and values as the TOML.
#[test]
fn policy_show_json_carries_the_rules() {
    let ws = Workspace::new(&Runner::Caller);
    let output = boxpy(&ws)
        .args([
            "policy",
            "show",
            "--json",
            "-P",
            "pypi",
            "--deny-host",
            "upload.pypi.org",
        ])
        .run();
    assert_exit(&output, 0);
    let json = output.json();
    assert_eq!(json["name"], "pypi", "{output}");
    assert_eq!(json["trusted"], true, "{output}");
    assert_eq!(
        json["policy"]["network"],
        serde_json::json!({
            "mode": "proxy",
            "allow": ["pypi.org", "files.pythonhosted.org"],
            "deny": ["upload.pypi.org"],
        }),
        "{output}"
    );
    assert_eq!(json["policy"]["limits"]["timeout"], "10m", "{output}");
}

/// `policy check` explains each rule and warns about the doubtful ones; rules under
/// another mode are an error located in the file.
#[test]
fn policy_check_explains_host_rules() {
    let ws = Workspace::new(&Runner::Caller);
    let file = ws.write(
        "work/rules.toml",
        "[network]\nmode = \"proxy\"\nallow = [\"pypi.org\", \"*.example.com\", \"169.254.169.254\"]\ndeny = [\"upload.pypi.org\"]\n",
    );
    let output = boxpy(&ws).args(["policy", "check"]).arg(&file).run();
    assert_exit(&output, 0);
    let stdout = output.stdout_text();
    for line in [
        "rule: `network.allow` `pypi.org`: allows `pypi.org` on ports 80 and 443",
        "rule: `network.allow` `*.example.com`: allows any name below `example.com` (not `example.com` itself) on ports 80 and 443",
        "rule: `network.deny` `upload.pypi.org`: refuses `upload.pypi.org` on every port",
    ] {
        assert!(stdout.lines().any(|shown| shown == line), "{line}: {output}");
    }
    assert!(
        stdout
            .contains("warning: `network.allow` `169.254.169.254` names a cloud metadata address"),
        "{output}"
    );
    assert!(
        stdout.contains("add `\"example.com\"` if the program needs it"),
        "{output}"
    );
    assert!(
        stdout.contains("needs `boxpy policy trust`): `network.allow`"),
        "what a project would need trust for: {output}"
    );
    let output = boxpy(&ws).args(["policy", "check", "pypi"]).run();
    assert_exit(&output, 0);
    assert!(
        output.stdout_text().contains("`pypi` is a valid policy"),
        "{output}"
    );

    let mixed = ws.write(
        "work/mixed.toml",
        "[network]\nmode = \"full\"\nallow = [\"pypi.org\"]\n",
    );
    let output = boxpy(&ws).args(["policy", "check"]).arg(&mixed).run();
    assert_exit(&output, 125);
    let stderr = output.stderr_text();
    assert!(
        stderr.contains("`network.allow` needs `network.mode = \"proxy\"`"),
        "{output}"
    );
    let bad = ws.write(
        "work/bad.toml",
        "[network]\nmode = \"proxy\"\nallow = [\"pypi.org/simple\"]\n",
    );
    let output = boxpy(&ws).args(["policy", "check"]).arg(&bad).run();
    assert_exit(&output, 125);
    assert!(
        output.stderr_text().contains("bad.toml:3:"),
        "located: {output}"
    );
    assert!(
        output
            .stderr_text()
            .contains("`network.allow` `pypi.org/simple`: a host rule is a host name"),
        "{output}"
    );
}

/// `render` of proxy mode: its own network namespace (no `--share-net`), no resolv.conf,
/// and the proxy variables; for macOS, outbound to the proxy's ports only.
#[test]
fn render_shows_proxy_mode() {
    let ws = Workspace::new(&Runner::Caller);
    let venv: PathBuf = venv(Venv::Debian).unwrap_or_else(|error| panic!("{error}"));
    let output = boxpy(&ws)
        .args([
            "render", "--json", "--target", "linux", "-P", "pypi", "--venv",
        ])
        .arg(&venv)
        .run();
    assert_exit(&output, 0);
    let json = output.json();
    let args: Vec<&str> = json["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|arg| arg.as_str().unwrap())
        .collect();
    assert!(args.contains(&"--unshare-all"), "{output}");
    assert!(!args.contains(&"--share-net"), "{output}");
    assert!(!args.contains(&"/etc/resolv.conf"), "{output}");
    assert_eq!(
        json["env"]["HTTPS_PROXY"], "http://127.0.0.1:3128",
        "{output}"
    );
    assert_eq!(
        json["env"]["http_proxy"], "http://127.0.0.1:3128",
        "{output}"
    );
    // The HTTP proxy for ALL_PROXY too: a SOCKS URL there breaks httpx without socksio.
    assert_eq!(
        json["env"]["ALL_PROXY"], "http://127.0.0.1:3128",
        "{output}"
    );
    assert_eq!(
        json["env"]["NO_PROXY"], "localhost,127.0.0.1,::1",
        "{output}"
    );

    let output = boxpy(&ws)
        .args([
            "render",
            "--target",
            "macos",
            "--allow-host",
            "pypi.org",
            "--venv",
        ])
        .arg(&venv)
        .run();
    assert_exit(&output, 0);
    let text = output.stdout_text();
    assert!(
        text.contains("(allow network-outbound (remote ip \"localhost:3128\"))"),
        "{text}"
    );
    assert!(
        text.contains("(allow network-outbound (remote ip \"localhost:1080\"))"),
        "{text}"
    );
    assert!(
        !text.contains("(remote ip \"*:*\")") && !text.contains("localhost:*"),
        "{text}"
    );
}

runner_tests! {
    /// The attack of issue 17: a hostile repository's `boxpy.toml` lets the program reach
    /// the cloud metadata service, or the attacker's hosts, through boxpy's proxy. Refused
    /// until trusted, like `mode = "full"`, before Python starts; the same file with only
    /// deny rules (a narrowing) runs, which shows the refusal is the gate's.
    fn a_repository_policy_that_allows_hosts_needs_trust(runner) {
        let ws = Workspace::new(&runner);
        let home = ws.dir("home");
        let state = ws.dir("state");
        let run = |ws: &Workspace| {
            run_in_venv(ws)
                .env("HOME", &home)
                .env("XDG_STATE_HOME", &state)
                .code("print('ran')")
                .run()
        };
        ws.write(
            "work/boxpy.toml",
            "[network]\nmode = \"proxy\"\ndeny = [\"*.attacker.com\"]\n",
        );
        let output = run(&ws);
        assert_started(&output);
        for allow in ["\"169.254.169.254\"", "\"*.attacker.com\"", "\"pypi.org\", \"[fd00:ec2::254]:80\""] {
            ws.write(
                "work/boxpy.toml",
                format!("[network]\nmode = \"proxy\"\nallow = [{allow}]\n"),
            );
            let output = run(&ws);
            assert_exit(&output, 125);
            assert_not_started(&output);
            let stderr = output.stderr_text();
            assert!(stderr.contains("refusing the policy"), "{output}");
            assert!(stderr.contains("`network.allow`"), "{output}");
            assert!(stderr.contains("boxpy policy trust"), "{output}");
            // `--network proxy` replaces the mode, not the file's hosts.
            let output = run_in_venv(&ws)
                .env("HOME", &home)
                .env("XDG_STATE_HOME", &state)
                .args(["--network", "proxy"])
                .code("print('ran')")
                .run();
            assert_exit(&output, 125);
            assert_not_started(&output);
        }
        // `extends = "pypi"` from a repository widens too.
        ws.write("work/boxpy.toml", "extends = \"pypi\"\n");
        let output = run(&ws);
        assert_exit(&output, 125);
        assert!(output.stderr_text().contains("`network.allow`"), "{output}");
    }
}

/// In proxy mode, the certificate files the passed variables name (or `--env NAME=PATH`
/// sets) are mounted read-only where they are (a corporate CA for pip), and a certificate
/// directory's `*.pem` files are not covered as credentials; not in other modes, not for a
/// variable the policy does not pass, and a missing file is skipped.
#[test]
fn certificate_files_are_mounted_in_proxy_mode_only() {
    let ws = Workspace::new(&Runner::Caller);
    let venv: PathBuf = venv(Venv::Debian).unwrap_or_else(|error| panic!("{error}"));
    let ca = ws.write("certs/corporate-ca.pem", "-----BEGIN CERTIFICATE-----\n");
    let ca = ca.canonicalize().unwrap();
    let mounted = |args: &[&str], variable: &str, value: &std::path::Path| -> bool {
        let output = boxpy(&ws)
            .args(["render", "--json", "--target", "linux", "--venv"])
            .arg(&venv)
            .args(args)
            .env(variable, value)
            .run();
        assert_exit(&output, 0);
        let json = output.json();
        let args: Vec<&str> = json["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|arg| arg.as_str().unwrap())
            .collect();
        let path = value.to_str().unwrap();
        args.windows(3)
            .any(|window| window == ["--ro-bind", path, path])
    };
    assert!(mounted(&["-P", "pypi"], "PIP_CERT", &ca));
    assert!(mounted(&["-P", "pypi"], "REQUESTS_CA_BUNDLE", &ca));
    // A passed variable naming HOME or a directory holding it hands over no files of the
    // user's (the red team's `SSL_CERT_DIR=$HOME`).
    let home = ws.root().canonicalize().unwrap();
    let with_home = |args: &[&str], value: &std::path::Path| -> bool {
        let output = boxpy(&ws)
            .args(["render", "--json", "--target", "linux", "--venv"])
            .arg(&venv)
            .args(args)
            .env("HOME", &home)
            .env("SSL_CERT_DIR", value)
            .run();
        assert_exit(&output, 0);
        let json = output.json();
        let path = value.to_str().unwrap();
        json["args"]
            .as_array()
            .unwrap()
            .windows(3)
            .any(|window| window[0] == "--ro-bind" && window[1] == path && window[2] == path)
    };
    assert!(!with_home(&["-P", "pypi"], &home));
    assert!(!with_home(&["-P", "pypi"], home.parent().unwrap()));
    // Nor a directory inside a home, nor HOME through a symlink (the second red team's
    // `SSL_CERT_DIR=/tmp/x/homelink`), nor with `--env NAME` (the host's value too).
    assert!(!with_home(&["-P", "pypi"], ca.parent().unwrap()));
    let link = std::env::temp_dir().join(format!("boxpy-homelink-{}", std::process::id()));
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&home, &link).unwrap();
    let through_link = with_home(&["-P", "pypi"], &link);
    let with_flag = with_home(
        &["--allow-host", "pypi.org", "--env", "SSL_CERT_DIR"],
        &home,
    );
    std::fs::remove_file(&link).unwrap();
    assert!(!through_link && !with_flag);
    assert!(mounted(
        &["--allow-host", "pypi.org", "--env", "SSL_CERT_FILE"],
        "SSL_CERT_FILE",
        &ca
    ));
    let set = format!("SSL_CERT_FILE={}", ca.display());
    assert!(mounted(
        &["--allow-host", "pypi.org", "--env", &set],
        "UNRELATED",
        &ca
    ));
    // A certificate directory keeps its `*.pem` files (hiding them as credentials would
    // break TLS); the same directory mounted with `--ro` gets them covered.
    let dir = ca.parent().unwrap().to_path_buf();
    let covered = |args: &[&str]| -> bool {
        let output = boxpy(&ws)
            .args(["render", "--json", "--target", "linux", "--venv"])
            .arg(&venv)
            .args(args)
            .env("SSL_CERT_DIR", &dir)
            .run();
        assert_exit(&output, 0);
        output.json()["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|file| file["dest"] == ca.to_str().unwrap())
    };
    assert!(mounted(&["-P", "pypi"], "SSL_CERT_DIR", &dir));
    assert!(!covered(&["-P", "pypi"]));
    let ro = dir.to_str().unwrap();
    assert!(covered(&["--network", "none", "--ro", ro]));
    assert!(covered(&["-P", "pypi", "--ro", ro]));
    // Not passed, not proxy mode, or missing: nothing mounted.
    assert!(!mounted(&["--allow-host", "pypi.org"], "PIP_CERT", &ca));
    assert!(!mounted(
        &["-P", "pypi", "--network", "none"],
        "PIP_CERT",
        &ca
    ));
    assert!(!mounted(
        &["-P", "net", "--env", "PIP_CERT"],
        "PIP_CERT",
        &ca
    ));
    assert!(!mounted(
        &["-P", "pypi"],
        "PIP_CERT",
        &ws.root().join("certs/missing.pem")
    ));
}

/// F8: a certificate directory proxy mode mounts (`SSL_CERT_DIR`) shows its certificates
/// (`*.pem`, `*.crt`, hashed `*.0` links) but keeps hiding the credentials beside them
/// (`id_rsa`, `*.key`, `.env`, `*.p12`) and a `private` directory (`/etc/ssl/private`'s
/// TLS keys when the variable names `/etc/ssl`), as `--ro` of the same directory would;
/// the host's files stay as they were.
#[test]
fn a_certificate_directory_hides_the_keys_beside_its_certificates() {
    let ws = Workspace::new(&Runner::Caller);
    let venv: PathBuf = venv(Venv::Debian).unwrap_or_else(|error| panic!("{error}"));
    ws.write("certs/ca.pem", "CERT\n");
    ws.write("certs/ca.crt", "CERT\n");
    let secrets = [
        "id_rsa",
        "server.key",
        ".env",
        "client.p12",
        "private/host.key",
    ];
    for name in secrets {
        ws.write(&format!("certs/{name}"), "SECRET\n");
    }
    let dir = ws.root().join("certs");
    std::os::unix::fs::symlink("ca.pem", dir.join("abcd1234.0")).unwrap();
    let output = boxpy(&ws)
        .args(["run", "-P", "pypi", "--venv"])
        .arg(&venv)
        .env("SSL_CERT_DIR", &dir)
        .code(&format!(
            "import os\n\
             d = {:?}\n\
             print('started')\n\
             for name in ['ca.pem', 'ca.crt', 'abcd1234.0', 'id_rsa', 'server.key', '.env', 'client.p12']:\n\
             \x20   print(f'{{name}}={{open(os.path.join(d, name)).read()!r}}')\n\
             print('private=' + repr(sorted(os.listdir(os.path.join(d, 'private')))))\n",
            dir.to_str().unwrap()
        ))
        .run();
    assert_started(&output);
    let stdout = output.stdout_text();
    assert!(stdout.contains("started"), "{output}");
    for shown in ["ca.pem", "ca.crt", "abcd1234.0"] {
        assert!(stdout.contains(&format!("{shown}='CERT\\n'")), "{output}");
    }
    for hidden in ["id_rsa", "server.key", ".env", "client.p12"] {
        assert!(stdout.contains(&format!("{hidden}=''")), "{output}");
    }
    assert!(stdout.contains("private=[]"), "{output}");
    for name in secrets {
        assert_eq!(
            std::fs::read_to_string(dir.join(name)).unwrap(),
            "SECRET\n",
            "{name}"
        );
    }
}

/// The `pypi` policy's recipe: the venv stays read-only, so pip installs into the workdir
/// (`--target`), with its cache and build space in the private HOME and /tmp; a later run
/// imports from there. (From a local wheel, `--no-index`: the proxy at run time is
/// `network.rs`'s.)
#[test]
fn pip_installs_into_the_workdir_under_the_pypi_policy() {
    let ws = Workspace::new(&Runner::Caller);
    let venv: PathBuf = venv(Venv::Numpy).unwrap_or_else(|error| panic!("{error}"));
    let run = |args: &[&str]| {
        boxpy(&ws)
            .args(["run", "-P", "pypi", "--venv"])
            .arg(&venv)
            .args(args)
            .run()
    };
    let wheel = crate::harness::python(
        "import zipfile\n\
         files = {'boxpy_hello/__init__.py': 'X = 42\\n',\n\
           'boxpy_hello-0.1.dist-info/METADATA': 'Metadata-Version: 2.1\\nName: boxpy_hello\\nVersion: 0.1\\n',\n\
           'boxpy_hello-0.1.dist-info/WHEEL': 'Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n'}\n\
         files['boxpy_hello-0.1.dist-info/RECORD'] = ''.join(name + ',,\\n' for name in files) + 'boxpy_hello-0.1.dist-info/RECORD,,\\n'\n\
         import os; os.makedirs('wheels', exist_ok=True)\n\
         with zipfile.ZipFile('wheels/boxpy_hello-0.1-py3-none-any.whl', 'w') as z:\n\
         \x20   [z.writestr(name, text) for name, text in files.items()]\n\
         print('wheel written')\n",
    );
    let output = run(&["-c", &wheel]);
    assert_started(&output);
    assert!(output.stdout_text().contains("wheel written"), "{output}");
    let output = run(&[
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-index",
        "--find-links",
        "./wheels",
        "--target",
        "./vendor",
        "boxpy_hello",
    ]);
    assert_exit(&output, 0);
    assert!(
        ws.work().join("vendor/boxpy_hello/__init__.py").is_file(),
        "{output}"
    );
    let output = run(&[
        "--env",
        "PYTHONPATH=vendor",
        "-c",
        "import boxpy_hello; print('imported', boxpy_hello.X)",
    ]);
    assert_exit(&output, 0);
    assert_eq!(output.line_after("imported "), "42", "{output}");
}

/// F8: `/etc/ssl/private` (the host's TLS keys, which root reads) stays empty inside
/// wherever `/etc/ssl` is shown: the certificates of `proxy` and `full` mode, a
/// certificate variable naming `/etc/ssl`, `--ro /etc`.
#[test]
fn the_hosts_tls_private_keys_stay_hidden() {
    let private = std::path::Path::new("/etc/ssl/private");
    let on_host = std::fs::read_dir(private).map(|entries| entries.count());
    if !nix::unistd::geteuid().is_root() || !matches!(on_host, Ok(count) if count > 0) {
        eprintln!("skipped: needs root and a non-empty /etc/ssl/private");
        return;
    }
    let ws = Workspace::new(&Runner::Caller);
    let venv: PathBuf = venv(Venv::Debian).unwrap_or_else(|error| panic!("{error}"));
    let cases: [&[&str]; 4] = [
        &["-P", "pypi"],
        &["--network", "full"],
        &["-P", "pypi", "--env", "SSL_CERT_DIR=/etc/ssl"],
        &["--ro", "/etc"],
    ];
    for args in cases {
        let output = boxpy(&ws)
            .args(["run", "--venv"])
            .arg(&venv)
            .args(args)
            .code(
                "import os\n\
                 print('certs', len(os.listdir('/etc/ssl/certs')) > 0)\n\
                 print('private', os.listdir('/etc/ssl/private'))\n",
            )
            .run();
        assert_started(&output);
        let stdout = output.stdout_text();
        assert!(stdout.contains("certs True"), "{output}");
        assert!(stdout.contains("private []"), "{output}");
    }
    assert_eq!(
        std::fs::read_dir(private)
            .map(|entries| entries.count())
            .ok(),
        on_host.ok()
    );
}
