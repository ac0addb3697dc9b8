//! Snapshot and invariant tests of the bwrap renderer over fixed host facts.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::*;
use crate::cli::SandboxArgs;
use crate::policy::{self, LoadContext, Mount, Policy, PolicySource};
use crate::sandbox::{EnvValue, SandboxSpec};
use crate::venv::{Interpreter, Origin};

fn load_builtin(name: &str) -> Policy {
    let context = LoadContext {
        cwd: PathBuf::from("/home/user/project"),
        home: Some(PathBuf::from("/home/user")),
    };
    policy::load(&PolicySource::Builtin(name.to_owned()), &context).expect("shipped policy loads")
}

fn pyenv_interpreter() -> Interpreter {
    Interpreter {
        venv: Some(PathBuf::from("/home/user/project/.venv")),
        executable: PathBuf::from("/home/user/project/.venv/bin/python"),
        read_only_paths: vec![
            PathBuf::from("/home/user/project/.venv"),
            PathBuf::from("/home/user/.pyenv/versions/3.11.7"),
        ],
        version: Some("3.11.7".to_owned()),
        origin: Origin::WorkdirDotVenv,
        warnings: Vec::new(),
    }
}

fn spec_for(policy: &Policy, mounts: Vec<Mount>) -> SandboxSpec {
    let interpreter = pyenv_interpreter();
    let home = PathBuf::from("/home/user");
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
        workdir: PathBuf::from("/home/user/project"),
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
        seccomp: true,
        disable_userns: true,
        hidden: Vec::new(),
        protected_names: crate::sandbox::protect::PROTECTED_NAMES
            .iter()
            .map(|name| (*name).to_owned())
            .collect(),
        fonts: false,
    }
}

fn rendered(name: &str) -> String {
    let policy = load_builtin(name);
    // The policy's limits as root's plan renders them without cgroups (deterministic: no
    // task counting), as `boxpy render` shows them.
    let setup =
        InitSetup::Inline(crate::exec::limits::plan_without_cgroups(&policy.limits, 0).rlimits);
    to_shell_lines(&render(
        &spec_for(&policy, Vec::new()),
        &HostFacts::fixture(),
        &setup,
    ))
}

#[test]
fn snapshot_default() {
    insta::assert_snapshot!("default", rendered("default"));
}

#[test]
fn snapshot_strict() {
    insta::assert_snapshot!("strict", rendered("strict"));
}

#[test]
fn snapshot_net() {
    insta::assert_snapshot!("net", rendered("net"));
}

fn args_of(command: &BwrapCommand) -> Vec<String> {
    command
        .args
        .iter()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect()
}

fn position(args: &[String], window: &[&str]) -> Option<usize> {
    args.windows(window.len())
        .position(|candidate| candidate.iter().zip(window).all(|(a, b)| a == b))
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

#[test]
fn tmpfs_precedes_every_bind_under_it() {
    let policy = load_builtin("default");
    let mut spec = spec_for(&policy, vec![mount("/tmp/data", "/tmp/data", false)]);
    spec.workdir = "/tmp/work".into();
    spec.interpreter.read_only_paths = vec!["/tmp/work/.venv".into(), "/tmp/venvs/base".into()];
    let args = args_of(&render(&spec, &HostFacts::fixture(), &InitSetup::default()));
    let tmpfs = position(&args, &["--tmpfs", "/tmp"]).expect("tmpfs /tmp");
    for bind in [
        ["--bind", "/tmp/work", "/tmp/work"],
        ["--ro-bind", "/tmp/data", "/tmp/data"],
        ["--ro-bind", "/tmp/work/.venv", "/tmp/work/.venv"],
        ["--ro-bind", "/tmp/venvs/base", "/tmp/venvs/base"],
    ] {
        let at = position(&args, &bind).unwrap_or_else(|| panic!("missing {bind:?}"));
        assert!(tmpfs < at, "{bind:?} must come after --tmpfs /tmp");
    }
    // The venv inside the workdir is re-mounted read-only after the writable workdir.
    assert!(
        position(&args, &["--bind", "/tmp/work", "/tmp/work"])
            < position(&args, &["--ro-bind", "/tmp/work/.venv", "/tmp/work/.venv"])
    );
}

#[test]
fn private_home_precedes_binds_under_it() {
    let args = args_of(&render(
        &spec_for(&load_builtin("default"), Vec::new()),
        &HostFacts::fixture(),
        &InitSetup::default(),
    ));
    let home = position(&args, &["--tmpfs", "/home/user"]).expect("tmpfs home");
    let workdir = position(
        &args,
        &["--bind", "/home/user/project", "/home/user/project"],
    )
    .expect("workdir bind");
    let base = position(
        &args,
        &[
            "--ro-bind",
            "/home/user/.pyenv/versions/3.11.7",
            "/home/user/.pyenv/versions/3.11.7",
        ],
    )
    .expect("base interpreter bind");
    assert!(home < workdir && home < base);
}

#[test]
fn snapshot_pypi() {
    insta::assert_snapshot!("pypi", rendered("pypi"));
}

/// Proxy mode (issue 17): its own network namespace with only loopback (as `none`), CA
/// certificates as `full` shows them, the generated hosts file, no resolv.conf, and the
/// proxy variables, which win over the policy's own of the same name.
#[test]
fn proxy_mode_keeps_its_own_namespace_and_points_clients_at_the_proxy() {
    let mut policy = load_builtin("pypi");
    policy
        .env
        .set
        .insert("HTTPS_PROXY".to_owned(), "http://elsewhere:8080".to_owned());
    let command = render(
        &spec_for(&policy, Vec::new()),
        &HostFacts::fixture(),
        &InitSetup::default(),
    );
    let args = args_of(&command);
    assert!(args.contains(&"--unshare-all".to_owned()));
    assert!(!args.contains(&"--share-net".to_owned()));
    assert!(
        !command
            .copies
            .iter()
            .any(|copy| copy.source == Path::new("/etc/resolv.conf")),
        "no DNS inside"
    );
    let hosts = data_file(&command, "/etc/hosts");
    assert!(String::from_utf8_lossy(&hosts.contents).contains("localhost"));
    let env = |name: &str| -> Vec<&EnvValue> {
        command
            .env
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value)
            .collect()
    };
    let http = format!("http://127.0.0.1:{}", crate::network::HTTP_PORT);
    for name in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        assert_eq!(env(name), [&EnvValue::Literal(http.clone())], "{name}");
    }
    for name in ["NO_PROXY", "no_proxy"] {
        assert_eq!(
            env(name),
            [&EnvValue::Literal("localhost,127.0.0.1,::1".to_owned())],
            "{name}"
        );
    }
    // The CA certificates `full` shows, and no proxy variable in any other mode.
    let net = render(
        &spec_for(&load_builtin("net"), Vec::new()),
        &HostFacts::fixture(),
        &InitSetup::default(),
    );
    let network_only = |command: &BwrapCommand| -> Vec<String> {
        let args = args_of(command);
        crate::host::ETC_NETWORK_ONLY
            .iter()
            .map(|name| format!("/etc/{name}"))
            .filter(|path| {
                args.iter().any(|arg| arg == path)
                    || command
                        .copies
                        .iter()
                        .any(|copy| copy.dest == Path::new(path))
            })
            .collect()
    };
    assert!(!network_only(&net).is_empty());
    // Of `full`'s network files, proxy mode shows only the TLS ones.
    let tls: Vec<String> = network_only(&net)
        .into_iter()
        .filter(|path| {
            crate::host::ETC_TLS
                .iter()
                .any(|name| path == &format!("/etc/{name}"))
        })
        .collect();
    assert!(!tls.is_empty());
    assert_eq!(network_only(&command), tls);
    for name in ["default", "net"] {
        let other = render(
            &spec_for(&load_builtin(name), Vec::new()),
            &HostFacts::fixture(),
            &InitSetup::default(),
        );
        assert!(
            !other.env.iter().any(|(key, _)| key.ends_with("_PROXY")),
            "{name}"
        );
    }
}

#[test]
fn share_net_only_for_full() {
    for (name, expected) in [
        ("default", false),
        ("strict", false),
        ("net", true),
        ("pypi", false),
    ] {
        let command = render(
            &spec_for(&load_builtin(name), Vec::new()),
            &HostFacts::fixture(),
            &InitSetup::default(),
        );
        let args = args_of(&command);
        assert_eq!(args.contains(&"--share-net".to_owned()), expected, "{name}");
        assert!(args.contains(&"--unshare-all".to_owned()));
        let resolv = command
            .copies
            .iter()
            .find(|copy| copy.source == Path::new("/etc/resolv.conf"));
        assert_eq!(
            resolv.is_some(),
            expected,
            "{name}: resolv.conf only with full network"
        );
        if let Some(copy) = resolv {
            let fd = copy.fd.to_string();
            assert!(
                position(&args, &["--file", &fd, "/etc/resolv.conf"]).is_some(),
                "{name}: resolv.conf is copied from its descriptor"
            );
        }
    }
}

#[test]
fn always_hardened() {
    let args = args_of(&render(
        &spec_for(&load_builtin("default"), Vec::new()),
        &HostFacts::fixture(),
        &InitSetup::default(),
    ));
    for flag in [
        "--die-with-parent",
        "--new-session",
        "--as-pid-1",
        "--disable-userns",
    ] {
        assert!(args.contains(&flag.to_owned()), "{flag}");
    }
    assert!(position(&args, &["--cap-drop", "ALL"]).is_some());
    assert!(position(&args, &["--seccomp", "5"]).is_some());
    assert!(position(&args, &["--json-status-fd", "3"]).is_some());
}

/// The init's three capabilities (it covers the kernel-state files, makes `/proc` and
/// `/dev` read-only, lowers the sandbox user namespace's per-user counters, then drops
/// them) are added only with `--unshare-user`, where they mean that namespace only, after
/// `--cap-drop ALL`, and never any other capability.
#[test]
fn capabilities_only_in_the_sandbox_user_namespace() {
    let mut spec = spec_for(&load_builtin("default"), Vec::new());
    let args = args_of(&render(&spec, &HostFacts::fixture(), &InitSetup::default()));
    let added: Vec<&String> = args
        .iter()
        .zip(args.iter().skip(1))
        .filter(|(flag, _)| *flag == "--cap-add")
        .map(|(_, capability)| capability)
        .collect();
    assert_eq!(added, ["CAP_SYS_ADMIN", "CAP_SYS_RESOURCE", "CAP_SETPCAP"]);
    assert!(args.contains(&"--unshare-user".to_owned()));
    let drop = position(&args, &["--cap-drop", "ALL"]).unwrap();
    assert!(args.iter().position(|arg| arg == "--cap-add").unwrap() > drop);
    spec.disable_userns = false;
    let args = args_of(&render(&spec, &HostFacts::fixture(), &InitSetup::default()));
    assert!(!args.contains(&"--cap-add".to_owned()), "{args:?}");
    assert!(!args.contains(&"--unshare-user".to_owned()), "{args:?}");
    // Then bwrap hardens the sandbox itself.
    assert!(position(&args, &["--remount-ro", "/proc"]).is_some());
    assert!(position(&args, &["--remount-ro", "/"]).is_some());
    assert!(position(&args, &["--read-only", "/"]).is_none());
    assert!(position(&args, &["--seccomp", "5"]).is_some());
}

#[test]
fn secrets_never_mounted() {
    let args = args_of(&render(
        &spec_for(&load_builtin("default"), Vec::new()),
        &HostFacts::fixture(),
        &InitSetup::default(),
    ));
    for forbidden in [
        "/etc/shadow",
        "/etc/gshadow",
        "/etc/ssh",
        "/run",
        "/var/run",
        "/root",
    ] {
        assert!(
            !args.iter().any(|arg| arg == forbidden),
            "{forbidden} must not be mounted"
        );
    }
    assert!(position(&args, &["--ro-bind", "/etc", "/etc"]).is_none());
}

#[test]
fn binding_an_ancestor_of_a_protected_path_masks_it() {
    let policy = load_builtin("default");
    let spec = spec_for(&policy, vec![mount("/etc", "/etc", false)]);
    let args = args_of(&render(&spec, &HostFacts::fixture(), &InitSetup::default()));
    let etc = position(&args, &["--ro-bind", "/etc", "/etc"]).expect("etc bind");
    let shadow = position(&args, &["--ro-bind", "/dev/null", "/etc/shadow"]).expect("shadow mask");
    let ssh = position(&args, &["--tmpfs", "/etc/ssh"]).expect("ssh mask");
    assert!(etc < shadow && etc < ssh);
}

#[test]
fn no_network_gets_a_generated_hosts_file() {
    let command = render(
        &spec_for(&load_builtin("default"), Vec::new()),
        &HostFacts::fixture(),
        &InitSetup::default(),
    );
    let hosts = data_file(&command, "/etc/hosts");
    assert!(String::from_utf8_lossy(&hosts.contents).contains("localhost"));
}

fn data_file<'a>(command: &'a BwrapCommand, dest: &str) -> &'a crate::sandbox::DataFile {
    command
        .data
        .iter()
        .find(|data| data.dest == Path::new(dest))
        .unwrap_or_else(|| panic!("no generated {dest}"))
}

#[test]
fn account_files_are_generated_with_three_accounts() {
    let command = render(
        &spec_for(&load_builtin("default"), Vec::new()),
        &HostFacts::fixture(),
        &InitSetup::default(),
    );
    let passwd = String::from_utf8_lossy(&data_file(&command, "/etc/passwd").contents).into_owned();
    assert_eq!(
        passwd,
        "root:x:0:0:root:/root:/bin/sh\n\
         user:x:1000:1000:user:/home/user:/bin/bash\n\
         nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    );
    let group = String::from_utf8_lossy(&data_file(&command, "/etc/group").contents).into_owned();
    assert_eq!(group, "root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n");
    assert!(command.copies.iter().all(|copy| {
        copy.dest != Path::new("/etc/passwd") && copy.dest != Path::new("/etc/group")
    }));
    // Root: one root line, with the private HOME.
    let mut host = HostFacts::fixture();
    host.account = crate::host::Account {
        uid: 0,
        gid: 0,
        user_name: Some("root".to_owned()),
        group_name: Some("root".to_owned()),
        shell: None,
    };
    let command = render(
        &spec_for(&load_builtin("default"), Vec::new()),
        &host,
        &InitSetup::default(),
    );
    let passwd = String::from_utf8_lossy(&data_file(&command, "/etc/passwd").contents).into_owned();
    assert_eq!(passwd.lines().count(), 2, "{passwd}");
    assert!(passwd.starts_with("root:x:0:0:root:/home/user:/bin/sh\n"));
}

#[test]
fn proc_dev_and_root_are_remounted_read_only_after_every_mount() {
    for name in ["default", "strict", "net"] {
        let args = args_of(&render(
            &spec_for(&load_builtin(name), Vec::new()),
            &HostFacts::fixture(),
            &InitSetup::default(),
        ));
        let chdir = position(&args, &["--chdir"]).expect("chdir");
        let last_mount = args[..chdir]
            .iter()
            .rposition(|arg| {
                matches!(
                    arg.as_str(),
                    "--bind" | "--ro-bind" | "--tmpfs" | "--ro-bind-data" | "--file" | "--symlink"
                )
            })
            .expect("mounts");
        // `/proc`, `/dev` and `/` by the init, after bwrap's mounts, before the program.
        assert!(last_mount < chdir, "{name}");
        let separator = args.iter().rposition(|arg| arg == "--").unwrap();
        for dest in ["/proc", "/dev", "/"] {
            let at = position(&args, &["--read-only", dest])
                .unwrap_or_else(|| panic!("{name}: the init does not make {dest} read-only"));
            assert!(at > chdir && at < separator);
            assert!(position(&args, &["--remount-ro", dest]).is_none());
        }
        // The seccomp filter goes to the init, not to bwrap (which would refuse the
        // init's mounts).
        let seccomp = position(&args, &["--seccomp", "5"]).expect("seccomp");
        assert!(seccomp > chdir && seccomp < separator, "{name}");
    }
}

#[test]
fn kernel_state_in_proc_is_covered_with_empty_files() {
    let command = render(
        &spec_for(&load_builtin("default"), Vec::new()),
        &HostFacts::fixture(),
        &InitSetup::default(),
    );
    let args = args_of(&command);
    for path in &HostFacts::fixture().proc_masks {
        assert!(
            position(&args, &["--mask", &path.to_string_lossy()]).is_some(),
            "the init covers {}",
            path.display()
        );
    }
    // Without a user namespace of its own, bwrap covers them with empty files.
    let mut spec = spec_for(&load_builtin("default"), Vec::new());
    spec.disable_userns = false;
    let command = render(&spec, &HostFacts::fixture(), &InitSetup::default());
    let args = args_of(&command);
    let proc = position(&args, &["--proc", "/proc"]).expect("proc");
    for path in &HostFacts::fixture().proc_masks {
        let data = data_file(&command, &path.to_string_lossy());
        assert!(data.contents.is_empty());
        let fd = data.fd.to_string();
        let at = position(&args, &["--ro-bind-data", &fd, &path.to_string_lossy()])
            .expect("mask mounted");
        assert!(at > proc);
    }
}

#[test]
fn every_writable_tmpfs_has_the_policy_size() {
    let policy = load_builtin("strict");
    let args = args_of(&render(
        &spec_for(&policy, Vec::new()),
        &HostFacts::fixture(),
        &InitSetup::default(),
    ));
    let size = policy
        .filesystem
        .tmp_size
        .expect("strict sets tmp_size")
        .to_string();
    for (index, arg) in args.iter().enumerate() {
        if arg == "--tmpfs" {
            let read_only = args.get(index + 2).map(String::as_str) == Some("--remount-ro");
            let sized = index >= 2 && args[index - 2] == "--size" && args[index - 1] == size;
            assert!(
                read_only || sized,
                "unbounded writable tmpfs at {}",
                args[index + 1]
            );
        }
    }
}

#[test]
fn program_comes_last_after_separator() {
    let command = render(
        &spec_for(&load_builtin("default"), Vec::new()),
        &HostFacts::fixture(),
        &InitSetup::default(),
    );
    // Inline limits: the executable is the first descriptor after the copied files.
    let last_copy = command.copies.iter().map(|copy| copy.fd).max().unwrap_or(0);
    assert_eq!(command.init.fd, last_copy + 1);
    let args = args_of(&command);
    let fd = command.init.fd.to_string();
    let init = position(
        &args,
        &[
            &format!("/proc/self/fd/{fd}"),
            INIT_ARGUMENT,
            "4",
            "--executable",
            &fd,
        ],
    )
    .expect("the init and its report descriptor");
    let tail: Vec<&str> = args[args.len() - 3..].iter().map(String::as_str).collect();
    assert_eq!(
        tail,
        ["--", "/home/user/project/.venv/bin/python", "analyze.py"]
    );
    assert!(init < args.len() - 3);
}

#[test]
fn etc_files_are_copied_links_recreated_directories_bound() {
    let command = render(
        &spec_for(&load_builtin("default"), Vec::new()),
        &HostFacts::fixture(),
        &InitSetup::Deferred,
    );
    let args = args_of(&command);
    // Files: copied from descriptors numbered after the generated files, read-only once /
    // is remounted, and never bound.
    let copied = command
        .copies
        .iter()
        .find(|copy| copy.dest == Path::new("/etc/ld.so.cache"))
        .expect("ld.so.cache is copied");
    assert_eq!(copied.source, Path::new("/etc/ld.so.cache"));
    let last_data = command.data.iter().map(|data| data.fd).max().unwrap();
    assert!(command.copies.iter().all(|copy| copy.fd > last_data));
    let fd = copied.fd.to_string();
    assert!(position(
        &args,
        &["--perms", "0644", "--file", &fd, "/etc/ld.so.cache"]
    )
    .is_some());
    assert!(position(
        &args,
        &["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    )
    .is_none());
    // The generated hosts file is copied too, not mounted.
    let hosts = data_file(&command, "/etc/hosts").fd.to_string();
    assert!(position(&args, &["--file", &hosts, "/etc/hosts"]).is_some());
    // A link into /usr stays a link; a directory stays a bind.
    assert!(position(
        &args,
        &["--symlink", "/usr/share/zoneinfo/Etc/UTC", "/etc/localtime"]
    )
    .is_some());
    assert!(position(
        &args,
        &["--ro-bind", "/etc/alternatives", "/etc/alternatives"]
    )
    .is_some());
    // The user's mounts are pinned descriptors after the copies (a run, not `render`).
    let workdir = command
        .pinned
        .iter()
        .find(|pinned| pinned.source == Path::new("/home/user/project"))
        .expect("the workdir is pinned");
    let pinned_fd = workdir.fd.to_string();
    assert!(position(&args, &["--bind-fd", &pinned_fd, "/home/user/project"]).is_some());
    assert!(position(
        &args,
        &["--bind", "/home/user/project", "/home/user/project"]
    )
    .is_none());
    assert!(command
        .pinned
        .iter()
        .all(|pinned| command.copies.iter().all(|copy| copy.fd < pinned.fd)));
    // The init's setup socket comes after every copied file and pinned mount, and no limit
    // is inline.
    let last_copy = command
        .copies
        .iter()
        .map(|copy| copy.fd)
        .chain(command.pinned.iter().map(|pinned| pinned.fd))
        .max()
        .unwrap_or(0);
    assert_eq!(command.setup_fd, Some(last_copy + 1));
    let setup = (last_copy + 1).to_string();
    // Then boxpy's own executable, which bwrap runs from its descriptor: no mount.
    let executable = (last_copy + 2).to_string();
    assert_eq!(command.init.fd, last_copy + 2);
    assert_eq!(command.init.source, HostFacts::fixture().boxpy_executable);
    assert!(position(
        &args,
        &[
            &format!("/proc/self/fd/{executable}"),
            "__sandbox-init",
            "4",
            "--executable",
            &executable,
            "--setup",
            &setup,
        ]
    )
    .is_some());
    assert!(!args
        .iter()
        .any(|arg| *arg == HostFacts::fixture().boxpy_executable.to_string_lossy()));
    assert!(!args.iter().any(|arg| arg == "--rlimit"));
    // `/` becomes read-only in the init, after bwrap has copied every file.
    let remount = position(&args, &["--read-only", "/"]).expect("remount");
    let copy = position(&args, &["--file", &fd, "/etc/ld.so.cache"]).expect("copy");
    assert!(
        copy < remount,
        "files are copied before / becomes read-only"
    );
}

/// What `boxpy render` prints for the default policy: a script that opens every
/// descriptor the command names, then execs bwrap.
#[test]
fn snapshot_render_script() {
    let policy = load_builtin("default");
    let setup =
        InitSetup::Inline(crate::exec::limits::plan_without_cgroups(&policy.limits, 0).rlimits);
    let command = render(
        &spec_for(&policy, Vec::new()),
        &HostFacts::fixture(),
        &setup,
    );
    let script = to_bash_script(&command, Some(Path::new("/home/user/project/sc.bpf")));
    // Every descriptor the arguments name is opened before bwrap starts.
    let opened: Vec<String> = script
        .lines()
        .filter_map(|line| line.strip_prefix("exec ")?.split(['<', '>']).next())
        .map(str::to_owned)
        .collect();
    let args = args_of(&command);
    for (index, arg) in args.iter().enumerate() {
        let names_fd = matches!(
            arg.as_str(),
            "--json-status-fd" | "--seccomp" | "--file" | "--ro-bind-data" | "--executable"
        );
        if names_fd {
            let fd = &args[index + 1];
            assert!(opened.contains(fd), "{arg} {fd} is not opened: {script}");
        }
    }
    // The script becomes bwrap: no shell stays behind.
    assert!(script.contains("\nexec env -i \\\n"), "{script}");
    insta::assert_snapshot!("render_script", script);
}

/// The generated files reach bwrap byte for byte through the script's `printf`.
#[test]
fn printf_formats_reproduce_every_byte() {
    let bytes: Vec<u8> = (0..=255u8)
        .chain(b"%s %% \\n '\"$HOME `id`".iter().copied())
        .collect();
    let output = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("printf {}", printf_format(&bytes)))
        .output()
        .expect("bash");
    assert_eq!(output.stdout, bytes);
}

/// A file name with a line break (a repository chooses its file names) cannot end a
/// comment of the script and start a command.
#[test]
fn comments_in_the_script_stay_comments() {
    assert_eq!(
        comment_text(Path::new("/w/.env\ntouch /tmp/pwned")),
        "/w/.env?touch /tmp/pwned"
    );
}

/// A host with two system Pythons' `/etc/pythonX.Y` and the font configuration.
fn host_with_python_and_font_etc() -> HostFacts {
    let mut host = HostFacts::fixture();
    for directory in ["/etc/fonts", "/etc/python3.12"] {
        host.etc_entries
            .push(crate::host::EtcEntry::Directory(PathBuf::from(directory)));
    }
    host
}

/// A venv of the system's Python 3.11 (`home = /usr/bin`).
fn system_interpreter() -> Interpreter {
    Interpreter {
        venv: Some(PathBuf::from("/home/user/project/.venv")),
        executable: PathBuf::from("/home/user/project/.venv/bin/python"),
        read_only_paths: vec![
            PathBuf::from("/home/user/project/.venv"),
            PathBuf::from("/usr"),
        ],
        version: Some("3.11.2".to_owned()),
        origin: Origin::WorkdirDotVenv,
        warnings: Vec::new(),
    }
}

fn binds(args: &[String], dest: &str) -> bool {
    position(args, &["--ro-bind", dest, dest]).is_some()
}

#[test]
fn etc_python_is_mounted_only_for_the_system_python_of_its_version() {
    let policy = load_builtin("default");
    let host = host_with_python_and_font_etc();
    let mut spec = spec_for(&policy, Vec::new());
    spec.interpreter = system_interpreter();
    let args = args_of(&render(&spec, &host, &InitSetup::default()));
    assert!(binds(&args, "/etc/python3.11"), "{args:?}");
    assert!(!binds(&args, "/etc/python3.12"), "{args:?}");
    // A Python of its own (pyenv) reads neither.
    let args = args_of(&render(
        &spec_for(&policy, Vec::new()),
        &host,
        &InitSetup::default(),
    ));
    assert!(!binds(&args, "/etc/python3.11"), "{args:?}");
    assert!(!binds(&args, "/etc/python3.12"), "{args:?}");
    // A system interpreter of unknown version keeps every one.
    spec.interpreter.version = None;
    let args = args_of(&render(&spec, &host, &InitSetup::default()));
    assert!(binds(&args, "/etc/python3.11"), "{args:?}");
    assert!(binds(&args, "/etc/python3.12"), "{args:?}");
    // A free-threaded build's version reads as its X.Y.
    spec.interpreter.version = Some("3.12.0t".to_owned());
    let args = args_of(&render(&spec, &host, &InitSetup::default()));
    assert!(!binds(&args, "/etc/python3.11"), "{args:?}");
    assert!(binds(&args, "/etc/python3.12"), "{args:?}");
}

#[test]
fn etc_fonts_is_mounted_only_when_the_run_uses_fonts() {
    let policy = load_builtin("default");
    let host = host_with_python_and_font_etc();
    let mut spec = spec_for(&policy, Vec::new());
    let args = args_of(&render(&spec, &host, &InitSetup::default()));
    assert!(!binds(&args, "/etc/fonts"), "{args:?}");
    spec.fonts = true;
    let args = args_of(&render(&spec, &host, &InitSetup::default()));
    assert!(binds(&args, "/etc/fonts"), "{args:?}");
}

#[test]
fn etc_python3_is_not_on_the_allow_list() {
    assert!(!crate::host::ETC_ALLOW_LIST.contains(&"python3"));
}
