//! `boxpy doctor`: the host probed once, the policy and venv `run` would use here, the
//! checks, the report.

use crate::cli;
use crate::doctor;
use crate::error::{Error, Result};
use crate::exit;
use crate::host::HostFacts;
use crate::report;
use crate::settings;

use super::host_environment;

/// `boxpy doctor [--json] [--venv DIR]`.
pub(crate) fn doctor(
    json: bool,
    venv: Option<std::path::PathBuf>,
    color: cli::ColorChoice,
) -> Result<u8> {
    let host = HostFacts::probe(std::env::var_os("PATH").as_deref());
    let (policy, venv) = doctor_policy_and_venv(&host, venv);
    let facts = doctor::DoctorFacts::probe(&host, policy, venv);
    let checks = doctor::checks(&facts);
    report::doctor(&checks, json, color);
    let failed = checks
        .iter()
        .any(|check| check.level == doctor::Level::Error);
    Ok(if failed { exit::SANDBOX_FAILED } else { 0 })
}

/// The policy and the venv `run` would use in this directory, for the doctor: the same
/// lookups, and the same errors, as `run`.
fn doctor_policy_and_venv(
    host: &HostFacts,
    flag: Option<std::path::PathBuf>,
) -> (
    std::result::Result<String, doctor::Refusal>,
    std::result::Result<doctor::VenvFacts, doctor::Refusal>,
) {
    let refusal = |error: Error| {
        let mut what = error.summary();
        for cause in error.causes() {
            what.push_str(": ");
            what.push_str(&cause);
        }
        let hints = error.hints();
        doctor::Refusal {
            what,
            hint: (!hints.is_empty()).then(|| hints.join("; ")),
        }
    };
    let args = cli::SandboxArgs {
        venv: flag,
        ..cli::SandboxArgs::default()
    };
    let cwd = match std::env::current_dir() {
        Ok(cwd) => cwd,
        Err(error) => {
            let refused = doctor::Refusal {
                what: format!("the current directory is not accessible: {error}"),
                hint: None,
            };
            return (Err(refused.clone()), Err(refused));
        }
    };
    let (policy, policy_result, search) =
        match settings::resolve_policy_explained(&args, host, &host_environment)
            .and_then(|(policy, trust, choice)| trust.into_result().map(|()| (policy, choice)))
        {
            Ok((policy, choice)) => (policy, Ok(choice.why), choice.search),
            Err(error) => {
                // The venv is still checked, as the built-in default would find it.
                let fallback = cli::SandboxArgs {
                    policy: Some("default".to_owned()),
                    venv: args.venv.clone(),
                    ..cli::SandboxArgs::default()
                };
                match settings::resolve_policy(&fallback, host, &host_environment) {
                    Ok(policy) => (policy, Err(refusal(error)), None),
                    Err(_) => {
                        let refused = refusal(error);
                        return (Err(refused.clone()), Err(refused));
                    }
                }
            }
        };
    let workdir = policy.filesystem.workdir.clone();
    let (interpreter, search) = settings::find_interpreter(
        &args,
        &policy,
        &cwd,
        &workdir,
        host,
        &host_environment,
        search.as_ref(),
    );
    if let Ok(interpreter) = &interpreter {
        for text in &interpreter.warnings {
            report::warning(text);
        }
    }
    let caches_of = interpreter
        .as_ref()
        .ok()
        .and_then(|interpreter| interpreter.venv.clone());
    let venv_result = interpreter.map_err(refusal).map(|interpreter| {
        let (has_nbclient, has_ipykernel) = match &interpreter.venv {
            Some(root) => (
                doctor::has_package(root, "nbclient"),
                doctor::has_package(root, "ipykernel"),
            ),
            None => (false, false),
        };
        doctor::VenvFacts {
            why: settings::explain_interpreter(&interpreter, &cwd, &search),
            base: interpreter
                .read_only_paths
                .iter()
                .filter(|path| Some(*path) != interpreter.venv.as_ref())
                .cloned()
                .collect(),
            executable: interpreter.executable,
            venv: interpreter.venv,
            version: interpreter.version,
            has_nbclient,
            has_ipykernel,
            notebooks_here: doctor::notebooks_in(&workdir),
            caches: cache_facts(host, caches_of.as_deref()),
        }
    });
    (policy_result, venv_result)
}

/// The state of each library cache of `venv` (`boxpy cache`), read without creating
/// anything.
fn cache_facts(host: &HostFacts, venv: Option<&std::path::Path>) -> Vec<doctor::CacheFacts> {
    let Some(venv) = venv.filter(|_| cfg!(target_os = "linux")) else {
        return Vec::new();
    };
    let store = crate::cache::store::root(&host_environment, host.home.as_deref())
        .and_then(|root| crate::cache::Store::open(&root, false).ok().flatten());
    crate::cache::installed(venv)
        .into_iter()
        .map(|found| {
            let state = match &store {
                Some(store) if matches!(store.entry(&found), Ok(Some(_))) => {
                    doctor::CacheState::Fresh
                }
                Some(store) => store
                    .entries()
                    .into_iter()
                    .filter_map(|(_, entry)| entry.ok())
                    .find(|entry| {
                        entry.record.venv == found.venv
                            && entry.record.library == found.library.name
                    })
                    .and_then(|entry| crate::cache::staleness(&entry.record))
                    .map_or(doctor::CacheState::NotPrimed, doctor::CacheState::Stale),
                None => doctor::CacheState::NotPrimed,
            };
            doctor::CacheFacts {
                library: found.library.name.to_owned(),
                state,
            }
        })
        .collect()
}
