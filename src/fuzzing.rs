//! Entry points for the fuzz targets in `fuzz/` (`cargo +nightly fuzz run TARGET`): every
//! parser of input boxpy does not control, each reached the way boxpy reaches it. Not part
//! of boxpy's interface; each function only has to return (never panic, never hang) on any
//! input.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::hints::catalogue::{self, HintContext, HostFactsDisclosure, ProgramKind};
use crate::policy::{Limits, Mount, NetworkMode};

/// The traceback parser (and the exhaustion fallback) over a program's stderr, then the
/// catalogue and the human report over what it found. The report must never carry a raw
/// control character, whatever the program printed.
pub fn traceback(stderr: &str) {
    let Some(traceback) = crate::hints::traceback::parse(stderr)
        .or_else(|| crate::hints::traceback::exhaustion(stderr))
    else {
        return;
    };
    let workdir = Path::new("/home/user/project");
    let interpreter_paths = vec![PathBuf::from("/home/user/project/.venv")];
    let mounts: Vec<Mount> = Vec::new();
    let deny = vec!["socket".to_owned()];
    let limits = Limits {
        memory: Some(1 << 30),
        processes: Some(64),
        ..Limits::default()
    };
    let exists = |path: &Path| path.as_os_str().len() % 2 == 0;
    let disclosure = HostFactsDisclosure::Local {
        caller_home: Some(PathBuf::from("/home/user")),
    };
    let context = HintContext {
        workdir,
        program: ProgramKind::Code,
        venv: Some(Path::new("/home/user/project/.venv")),
        python: Path::new("/home/user/project/.venv/bin/python"),
        network: NetworkMode::None,
        mounts: &mounts,
        interpreter_paths: &interpreter_paths,
        deny_imports: &deny,
        limits: &limits,
        tmp_size: Some(64 << 20),
        policy_name: "default",
        host_path_exists: &exists,
        workdir_file_exists: &exists,
        host_facts: &disclosure,
        hidden: &[],
        host_variable_set: &|_: &str| false,
        host_command_exists: &|_: &str| false,
        venv_made_by_uv: false,
        venv_is_conda: false,
    };
    let diagnosis = catalogue::diagnose(&traceback, &context);
    let text = crate::report::format_diagnosis(&diagnosis, &crate::report::Styles::default());
    assert!(
        !text
            .chars()
            .any(|c| c != '\n' && crate::report::needs_escape(c)),
        "raw control character in the report: {text:?}"
    );
    if let Some(hint) = &diagnosis.hint {
        assert!(!hint.contains('\n'), "hint over several lines: {hint:?}");
    }
}

/// The policy loader: `text` as a policy file, with `extends` followed (to shipped
/// policies, or to `base.toml`, which holds `base`).
pub fn policy(text: &[u8], base: &[u8]) {
    let directory = tempfile::tempdir().expect("temporary directory");
    let path = directory.path().join("boxpy.toml");
    std::fs::write(&path, text).expect("write");
    std::fs::write(directory.path().join("base.toml"), base).expect("write");
    let context = crate::policy::LoadContext {
        cwd: directory.path().to_path_buf(),
        home: Some(directory.path().join("home")),
    };
    let source = crate::policy::PolicySource::File(path.clone());
    match crate::policy::load(&source, &context) {
        // What `policy show` prints loads back to the same policy.
        Ok(policy) => {
            let shown = crate::policy::render::to_toml(&policy);
            std::fs::write(&path, &shown).expect("write");
            let mut again = crate::policy::load(&source, &context)
                .unwrap_or_else(|error| panic!("`policy show` output refused: {error:?}\n{shown}"));
            again.name = policy.name.clone();
            assert_eq!(again, policy, "`policy show` does not round-trip:\n{shown}");
        }
        // Every refusal says something, and nothing of the serde mirror's type names.
        Err(crate::error::Error::Policy { message, .. }) => {
            assert!(!message.trim().is_empty(), "empty policy error");
            assert!(!message.contains("Raw"), "internal type name: {message}");
        }
        Err(_) => {}
    }
}

/// `pyvenv.cfg` as boxpy reads it.
pub fn pyvenv_cfg(text: &str) {
    for key in [
        "home",
        "version",
        "version_info",
        "include-system-site-packages",
    ] {
        if let Some(value) = crate::venv::pyvenv_value(text, key) {
            let _ = crate::venv::prefix_of_bin_dir(Path::new(value));
        }
    }
}

/// The notebook check `boxpy nbexec` makes before running anything.
pub fn notebook(bytes: &[u8]) {
    crate::nbexec::check_for_fuzzing(bytes);
}

/// nbexec's parameters: the parameters cell inspected as papermill does (`--help-notebook`,
/// the warnings), and the YAML and base64 readers of `-y`/`-f`/`-b`.
pub fn nbexec_parameters(text: &str) {
    crate::nbexec::parameters::inspect_for_fuzzing(text);
}

/// nbexec's event decoding (the driver's JSON lines).
pub fn nbexec_events(text: &str) {
    crate::nbexec::decode_events_for_fuzzing(text);
}

/// The init's report lines (boxpy's side) and the setup message (the init's side).
pub fn init_report(text: &str) {
    crate::exec::decode_for_fuzzing(text);
}

/// The Mach-O reader (load commands of thin and universal files) and the OpenSSL
/// directory scan.
pub fn macho(bytes: &[u8]) {
    let _ = crate::host::macos::macho_dependencies(bytes);
    let _ = crate::host::macos::openssl_directory(bytes);
}

/// The `boxpy run` fast path against clap: wherever the fast path answers, clap must
/// accept the line and give the same result.
pub fn cli(arguments: Vec<OsString>) {
    let mut line = vec![OsString::from("boxpy"), OsString::from("run")];
    line.extend(arguments);
    crate::cli::check_fast_path_agrees(&line);
}

/// boxpy's proxy: an HTTP request head parsed, decided by fixed rules and rewritten for
/// the server as the proxy does (no name is resolved, nothing is connected).
pub fn proxy_request(bytes: &[u8]) {
    crate::network::proxy::check_request_for_fuzzing(bytes);
}

/// boxpy's proxy: a SOCKS5 greeting and request, answered and decided.
pub fn socks_request(bytes: &[u8]) {
    crate::network::proxy::check_socks_for_fuzzing(bytes);
}

/// A host rule (`network.allow`, `--allow-host`): what parses prints back to itself.
pub fn host_rule(text: &str) {
    if let Ok(rule) = crate::network::rules::Rule::parse(text) {
        let shown = rule.to_string();
        let again = crate::network::rules::Rule::parse(&shown)
            .unwrap_or_else(|error| panic!("{shown:?} does not parse back: {error}"));
        assert_eq!(again, rule, "{text:?} printed as {shown:?}");
        let _ = rule.explain(crate::network::rules::List::Allow);
    }
}
