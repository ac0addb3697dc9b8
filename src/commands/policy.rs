//! `boxpy policy list|show|check|trust|init`.

use crate::cli;
use crate::error::{Error, Result};
use crate::host::HostFacts;
use crate::{hostfs, policy, report, settings};

use super::host_environment;

/// `boxpy policy list|show|check|init`.
pub(crate) fn policy_command(command: cli::PolicyCommand, color: cli::ColorChoice) -> Result<u8> {
    let host = HostFacts::probe(std::env::var_os("PATH").as_deref());
    let cwd = std::env::current_dir().map_err(anyhow::Error::from)?;
    match command {
        cli::PolicyCommand::List { workdir } => {
            let args = cli::SandboxArgs {
                workdir,
                ..cli::SandboxArgs::default()
            };
            let in_use = settings::policy_source(&args, &host, &host_environment)?;
            let workdir = args
                .workdir
                .as_ref()
                .map(|dir| cwd.join(dir))
                .unwrap_or(cwd);
            let search = settings::discovery::search_path(&workdir, host.home.as_deref());
            let config = settings::user_config_home(&host, &host_environment);
            report::stdout_text(&report::policy_list(&in_use, &search, config.as_deref()));
            Ok(0)
        }
        cli::PolicyCommand::Show { name, sandbox } => {
            let mut sandbox = sandbox.to_sandbox_args(color);
            if name.is_some() {
                sandbox.policy = name;
            }
            let (policy, trust) =
                settings::resolve_policy_assessed(&sandbox, &host, &host_environment)?;
            if sandbox.json {
                // The same keys and values as the TOML (one serde serialisation), as one
                // object: `{"name", "trusted", "policy": {"python", "filesystem", ...}}`.
                let value = serde_json::json!({
                    "name": policy.name,
                    "trusted": trust.clone().into_result().is_ok(),
                    "policy": serde_json::to_value(&policy).map_err(anyhow::Error::from)?,
                });
                report::print_json_value(&value);
                return Ok(0);
            }
            report::stdout_text(&format!(
                "{}{}",
                policy::render::trust_comment(
                    &trust,
                    &|text| report::escape_control(text).into_owned(),
                    &crate::sandbox::shell_quote,
                ),
                policy::render::to_toml(&policy)
            ));
            Ok(0)
        }
        cli::PolicyCommand::Check { file } => {
            let context = policy::LoadContext {
                cwd,
                home: host.home.clone(),
            };
            // A shipped name (`strict`) or a file, as `--policy` takes it.
            let source = policy::PolicySource::from_argument(&file.to_string_lossy(), &context.cwd);
            let loaded = policy::load_with_files(&source, &context)?;
            // Every mount through the gate `run` uses, as `boxpy run -P FILE` would.
            let notices = settings::check_policy_mounts(&loaded.policy, &context.cwd, &host)?;
            let is_socket = |path: &std::path::Path| {
                use std::os::unix::fs::FileTypeExt;
                std::fs::metadata(path).is_ok_and(|metadata| metadata.file_type().is_socket())
            };
            let mut warnings =
                policy::render::warnings(&loaded.policy, host.home.as_deref(), &is_socket);
            warnings.extend(notices);
            // What it would need `boxpy policy trust` for, were it found in a project.
            let trust_context = policy::TrustContext::default();
            if let policy::TrustStatus::Refused { widenings, .. } =
                policy::assess(&loaded, &context, &trust_context)?
            {
                warnings.extend(widenings.iter().map(|widening| {
                    format!(
                        "widens the built-in default (found in a project, it needs `boxpy policy trust`): {widening}"
                    )
                }));
            }
            let rules = policy::render::network_rules(&loaded.policy.network);
            report::policy_check(&file, &rules, &warnings);
            Ok(0)
        }
        cli::PolicyCommand::Trust {
            file,
            workdir,
            revoke,
        } => policy_trust(&host, &cwd, file, workdir, revoke),
        cli::PolicyCommand::Init { force } => {
            let path = cwd.join("boxpy.toml");
            if path.exists() && !force {
                return Err(Error::Usage {
                    message: "`boxpy.toml` already exists".to_owned(),
                    hint: Some("pass `--force` to overwrite it, or edit it; `boxpy policy show` prints what it resolves to".to_owned()),
                });
            }
            let venv = cwd.join(".venv/pyvenv.cfg").is_file().then_some(".venv");
            hostfs::write_atomically(
                &path,
                policy::render::init_template(venv).as_bytes(),
                std::slice::from_ref(&cwd),
            )?;
            report::stdout_text(&format!(
                "wrote `boxpy.toml`{}; check it with `boxpy policy check boxpy.toml`\n",
                if venv.is_some() {
                    " (using `.venv`)"
                } else {
                    ""
                }
            ));
            Ok(0)
        }
    }
}

/// `boxpy policy trust [FILE] [--revoke]`: records (or forgets) a project's policy file in
/// the trust store.
fn policy_trust(
    host: &HostFacts,
    cwd: &std::path::Path,
    file: Option<std::path::PathBuf>,
    workdir: Option<std::path::PathBuf>,
    revoke: bool,
) -> Result<u8> {
    let args = cli::SandboxArgs::default();
    let store = settings::trust_context(&args, host, &host_environment)
        .store
        .ok_or_else(|| Error::Usage {
            message: "there is nowhere to keep the trust store: neither `$XDG_STATE_HOME` nor `$HOME` is set".to_owned(),
            hint: Some("set `XDG_STATE_HOME` to an absolute directory".to_owned()),
        })?;
    let workdir = workdir
        .map(|dir| cwd.join(dir))
        .unwrap_or_else(|| cwd.to_path_buf());
    let source = match file {
        Some(file)
            if file
                .file_name()
                .is_some_and(|name| name == "pyproject.toml") =>
        {
            policy::PolicySource::PyProject(cwd.join(file))
        }
        Some(file) => policy::PolicySource::Workdir(cwd.join(file)),
        None => match policy::PolicySource::discover(
            None,
            &settings::discovery::search_path(&workdir, host.home.as_deref()).directories,
            None,
            cwd,
            &|path| {
                let caller = settings::discovery::Caller::current();
                settings::discovery::owned_by_caller_or_root(path, caller)
            },
        ) {
            source @ (policy::PolicySource::Workdir(_) | policy::PolicySource::PyProject(_)) => {
                source
            }
            _ => {
                return Err(Error::Usage {
                    message: format!(
                        "no `boxpy.toml` nor `[tool.boxpy]` in `pyproject.toml` in `{}`",
                        workdir.display()
                    ),
                    hint: Some("name the file: `boxpy policy trust FILE`".to_owned()),
                })
            }
        },
    };
    // Trust is for the user's own files: one another user owns (however it came to be
    // where the user looks) could be swapped for a copy that borrows the trust.
    if let Some(path) = source.file().filter(|path| {
        path.exists()
            && !settings::discovery::owned_by_caller_or_root(
                path,
                settings::discovery::Caller::current(),
            )
    }) {
        return Err(Error::Usage {
            message: format!(
                "`{}` belongs to another user; boxpy trusts only policies you (or root) own",
                report::escaped_path(path)
            ),
            hint: Some("copy it into a project of yours, read it, and trust the copy".to_owned()),
        });
    }
    let context = policy::LoadContext {
        cwd: cwd.to_path_buf(),
        home: host.home.clone(),
    };
    let store_error = |error: std::io::Error| Error::Usage {
        message: format!(
            "cannot update the trust store `{}`: {error}",
            store.display()
        ),
        hint: Some("check the directory's permissions, or set `XDG_STATE_HOME`".to_owned()),
    };
    if revoke {
        let path = source.file().map(policy::location);
        let forgotten = match &path {
            Some(path) => policy::trust::TrustStore::update(&store, |records| records.forget(path))
                .map_err(store_error)?,
            None => false,
        };
        report::stdout_text(&report::policy_trust_revoked(
            path.as_deref().unwrap_or(cwd),
            forgotten,
        ));
        return Ok(0);
    }
    let loaded = policy::load_with_files(&source, &context)?;
    let trust_context = policy::TrustContext::default();
    let widenings = match policy::assess(&loaded, &context, &trust_context)? {
        policy::TrustStatus::Refused { widenings, .. } => widenings,
        policy::TrustStatus::Stated
        | policy::TrustStatus::Recorded { .. }
        | policy::TrustStatus::NarrowsOnly { .. } => Vec::new(),
    };
    let Some((path, _)) = loaded.files.first() else {
        return Err(Error::Usage {
            message: "a shipped policy needs no trust".to_owned(),
            hint: None,
        });
    };
    if let Some(directory) = path.parent() {
        if policy::resolve_existing(&store).starts_with(directory) {
            return Err(Error::Usage {
                message: format!(
                    "the trust store `{}` lies inside the directory of `{}`, where a sandboxed run can write it",
                    store.display(),
                    path.display()
                ),
                hint: Some(
                    "set `XDG_STATE_HOME` to a directory outside your projects (the default is `~/.local/state`)"
                        .to_owned(),
                ),
            });
        }
    }
    let digest = policy::trust::digest(&loaded.files);
    policy::trust::TrustStore::update(&store, |records| records.record(path, &digest))
        .map_err(store_error)?;
    report::stdout_text(&report::policy_trusted(
        path,
        &digest,
        &widenings,
        &loaded.files[1..],
    ));
    Ok(0)
}
