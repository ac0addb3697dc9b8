//! `boxpy cache show | clear | prime`: the per-venv library caches ([`crate::cache`]).

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::backend;
use crate::cache::{self, Store};
use crate::cli::{self, CacheCommand};
use crate::error::{Error, Result};
use crate::report;
use crate::settings::{self, Program};

use super::host_environment;

/// Runs one `boxpy cache` command.
pub(crate) fn cache(command: CacheCommand) -> Result<u8> {
    match command {
        CacheCommand::Show { venv, json } => show(venv.as_deref(), json),
        CacheCommand::Clear { venv, json } => clear(venv.as_deref(), json),
        CacheCommand::Prime { venv, json } => prime(venv.as_deref(), json),
    }
}

/// The store's location, and the store when it exists (`create`: make it).
fn store(create: bool) -> Result<(PathBuf, Option<Store>)> {
    let host = crate::host::HostFacts::probe(std::env::var_os("PATH").as_deref());
    let root = cache::store::root(&host_environment, host.home.as_deref()).ok_or_else(|| {
        Error::Usage {
            message: "no cache directory: neither `XDG_CACHE_HOME` nor `HOME` is set".to_owned(),
            hint: Some("set `XDG_CACHE_HOME` to an absolute directory".to_owned()),
        }
    })?;
    let store = Store::open(&root, create).map_err(|problem| Error::Usage {
        message: format!("the cache directory cannot be used: {problem}"),
        hint: Some(format!(
            "remove `{}` (`boxpy cache clear` cannot: it does not trust it)",
            root.display()
        )),
    })?;
    Ok((root, store))
}

fn show(venv: Option<&Path>, json: bool) -> Result<u8> {
    let venv = venv.map(cache::venv_argument).transpose()?;
    let (root, store) = store(false)?;
    let mut entries = Vec::new();
    for (directory, checked) in store.map(|store| store.entries()).unwrap_or_default() {
        match checked {
            Ok(entry) => {
                if venv.as_ref().is_some_and(|venv| *venv != entry.record.venv) {
                    continue;
                }
                let stale = cache::staleness(&entry.record);
                entries.push(json!({
                    "library": entry.record.library,
                    "venv": entry.record.venv,
                    "version": entry.record.version,
                    "key": entry.record.key,
                    "files": entry.record.files,
                    "size": entry.size,
                    "path": directory,
                    "stale": stale.is_some(),
                    "reason": stale,
                }));
            }
            Err(problem) => {
                if venv.is_some() {
                    continue;
                }
                entries.push(json!({
                    "path": directory,
                    "error": problem,
                    "stale": true,
                }));
            }
        }
    }
    if json {
        report::print_json_value(&json!({ "root": root, "entries": entries }));
        return Ok(0);
    }
    let mut text = format!("library caches in `{}`\n", root.display());
    if entries.is_empty() {
        text.push_str("  (none)\n");
    }
    for entry in &entries {
        if let Some(problem) = entry["error"].as_str() {
            text.push_str(&format!(
                "  unusable: {problem} (`boxpy cache clear` removes it)\n"
            ));
            continue;
        }
        text.push_str(&format!(
            "  {} {} for `{}`: {} bytes, key {}, {}\n",
            entry["library"].as_str().unwrap_or(""),
            entry["version"].as_str().unwrap_or("(version unknown)"),
            entry["venv"].as_str().unwrap_or(""),
            entry["size"],
            &entry["key"].as_str().unwrap_or("")
                [..12.min(entry["key"].as_str().unwrap_or("").len())],
            match entry["reason"].as_str() {
                Some(reason) => format!("stale: {reason}"),
                None => "fresh".to_owned(),
            }
        ));
    }
    print_lines(&text);
    Ok(0)
}

fn clear(venv: Option<&Path>, json: bool) -> Result<u8> {
    // A venv that is gone is still named by its path: its entries are keyed by it.
    let venv = venv.map(|venv| {
        cache::venv_argument(venv)
            .unwrap_or_else(|_| std::path::absolute(venv).unwrap_or_else(|_| venv.to_path_buf()))
    });
    let (root, store) = store(false)?;
    let removed = store
        .map(|store| store.clear(venv.as_deref()))
        .unwrap_or_default();
    if json {
        report::print_json_value(&json!({ "root": root, "removed": removed }));
    } else {
        print_lines(&format!(
            "removed {} cached venv director{} from `{}`\n",
            removed.len(),
            if removed.len() == 1 { "y" } else { "ies" },
            root.display()
        ));
    }
    Ok(0)
}

fn prime(venv: Option<&Path>, json: bool) -> Result<u8> {
    let backend = backend::select(std::env::var_os("PATH").as_deref())?;
    let venv = match venv {
        Some(venv) => cache::venv_argument(venv)?,
        None => {
            let invocation = settings::resolve(
                &cli::SandboxArgs::default(),
                Program::Interpreter(Vec::new()),
                backend.host(),
                &host_environment,
            )?;
            invocation
                .spec
                .interpreter
                .venv
                .clone()
                .ok_or_else(|| Error::Usage {
                    message: "no venv here: `run` would use an interpreter without one".to_owned(),
                    hint: Some("name one with `boxpy cache prime --venv DIR`".to_owned()),
                })?
        }
    };
    let (root, store) = store(true)?;
    let store = store.ok_or_else(|| Error::Usage {
        message: format!(
            "the cache directory `{}` could not be created",
            root.display()
        ),
        hint: None,
    })?;
    let mut primed = Vec::new();
    let mut failed = false;
    for found in cache::installed(&venv) {
        let (entry, status) = match store.entry(&found) {
            Ok(Some(entry)) => (Ok(entry), "fresh"),
            Ok(None) | Err(_) => (cache::prime(&store, &found, &*backend), "primed"),
        };
        match entry {
            Ok(entry) => primed.push(json!({
                "library": found.library.name,
                "venv": found.venv,
                "version": entry.record.version,
                "key": entry.record.key,
                "files": entry.record.files,
                "size": entry.size,
                "status": status,
            })),
            Err(problem) => {
                failed = true;
                primed.push(json!({
                    "library": found.library.name,
                    "venv": found.venv,
                    "status": "failed",
                    "error": problem,
                }));
            }
        }
    }
    if json {
        report::print_json_value(&json!({ "root": root, "venv": venv, "libraries": primed }));
    } else {
        let mut text = String::new();
        if primed.is_empty() {
            text.push_str(&format!(
                "nothing to prime: no library boxpy caches is installed in `{}`\n",
                venv.display()
            ));
        }
        for entry in &primed {
            text.push_str(&format!(
                "{} for `{}`: {}{}\n",
                entry["library"].as_str().unwrap_or(""),
                venv.display(),
                entry["status"].as_str().unwrap_or(""),
                entry["error"]
                    .as_str()
                    .map(|error| format!(": {error}"))
                    .unwrap_or_default()
            ));
        }
        print_lines(&text);
    }
    Ok(if failed {
        crate::exit::SANDBOX_FAILED
    } else {
        0
    })
}

/// Prints `text` on stdout, each line escaped (a path or a library's error quoted in it
/// cannot start a line of its own).
fn print_lines(text: &str) {
    let mut escaped = String::new();
    for line in text.lines() {
        escaped.push_str(&crate::text::escape_control(line));
        escaped.push('\n');
    }
    report::stdout_text(&escaped);
}
