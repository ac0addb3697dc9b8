//! Policies back to text: the resolved policy as TOML (`boxpy policy show`), the risky
//! choices `boxpy policy check` warns about, and the starting `boxpy.toml` of
//! `boxpy policy init`. Pure.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use toml::Value;

use super::units::{format_duration, format_size};
use super::{Mount, NetworkMode, Policy};
use crate::network::rules::{AddressClass, List, Rule};

// Serializers of the resolved policy's values as a policy file writes them (see
// [`Policy`]'s `#[serde(serialize_with)]`): paths as text, sizes and durations with their
// unit, `"unlimited"` for no limit.

/// A path as text (lossy, as `Path::display`).
pub(crate) fn path<S: Serializer, P: PathLike>(
    value: &P,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value.as_path() {
        Some(path) => serializer.serialize_str(&path.display().to_string()),
        None => serializer.serialize_none(),
    }
}

/// A path or an optional path, for [`path`].
pub(crate) trait PathLike {
    fn as_path(&self) -> Option<&Path>;
}

impl PathLike for PathBuf {
    fn as_path(&self) -> Option<&Path> {
        Some(self)
    }
}

impl PathLike for Option<PathBuf> {
    fn as_path(&self) -> Option<&Path> {
        self.as_deref()
    }
}

fn unlimited<S: Serializer>(value: Option<String>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(value.as_deref().unwrap_or("unlimited"))
}

/// A size (`"512MiB"`) or `"unlimited"`.
pub(crate) fn size<S: Serializer>(value: &Option<u64>, serializer: S) -> Result<S::Ok, S::Error> {
    unlimited(value.map(format_size), serializer)
}

/// A duration (`"30s"`) or `"unlimited"`.
pub(crate) fn duration<S: Serializer>(
    value: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    unlimited(value.map(format_duration), serializer)
}

/// A count (an integer) or `"unlimited"`.
pub(crate) fn count<S: Serializer>(value: &Option<u64>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(count) => serializer.serialize_i64(*count as i64),
        None => unlimited(None, serializer),
    }
}

/// `network.mode` as its name.
pub(crate) fn mode<S: Serializer>(value: &NetworkMode, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(value.as_str())
}

/// Host rules (`network.allow`, `network.deny`) in their canonical text.
pub(crate) fn rules<S: Serializer>(value: &[Rule], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(value.iter().map(ToString::to_string))
}

/// `audit_log` as the table `[audit] log = "..."`.
pub(crate) fn audit<S: Serializer>(
    value: &Option<PathBuf>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut table = serializer.serialize_map(Some(1))?;
    if let Some(log) = value {
        table.serialize_entry("log", &log.display().to_string())?;
    }
    table.end()
}

/// A mount as a policy file writes it: `{ path, dest, optional }`, `dest` only when it
/// differs from `path`, `optional` only when true.
impl Serialize for Mount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut table = serializer.serialize_map(None)?;
        table.serialize_entry("path", &self.source.display().to_string())?;
        if self.dest != self.source {
            table.serialize_entry("dest", &self.dest.display().to_string())?;
        }
        if self.optional {
            table.serialize_entry("optional", &true)?;
        }
        table.end()
    }
}

/// Comment lines for the top of `boxpy policy show`: whether the policy in use is
/// trusted, and why. `escape` makes a repeated value safe for the terminal (control
/// characters written out: the report's `escape_control`), `shell_quote` quotes a path for
/// a shell command line; both are passed in so the policy depends on nothing above it.
pub fn trust_comment(
    status: &super::TrustStatus,
    escape: &dyn Fn(&str) -> String,
    shell_quote: &dyn Fn(&str) -> String,
) -> String {
    let escaped_path = |file: &Path| escape(&file.to_string_lossy());
    use super::TrustStatus;
    match status {
        TrustStatus::Stated => {
            "# trust: trusted (stated by you: a flag, `$BOXPY_POLICY`, your user config or a shipped policy)\n".to_owned()
        }
        TrustStatus::Recorded { file } => format!(
            "# trust: trusted (`{}` is recorded by `boxpy policy trust` with this content)\n",
            escaped_path(file)
        ),
        TrustStatus::NarrowsOnly { file } => format!(
            "# trust: not needed (`{}` was found in the working directory and does not widen the built-in default)\n",
            escaped_path(file)
        ),
        TrustStatus::Refused {
            file,
            widenings,
            changed,
        } => {
            let mut text = format!(
                "# trust: NOT TRUSTED: `{}` was found in the working directory{}; a run refuses it because it widens the built-in default:\n",
                escaped_path(file),
                if *changed {
                    " and changed since it was trusted"
                } else {
                    ""
                }
            );
            for widening in widenings {
                text.push_str(&format!(
                    "#   - {}\n",
                    escape(&widening.to_string())
                ));
            }
            text.push_str(&format!(
                "# trust it with `boxpy policy trust {}`\n",
                escape(&shell_quote(&file.to_string_lossy()))
            ));
            text
        }
    }
}

/// The fully resolved policy as a TOML document that loads back to the same policy: the
/// header, then the policy serialised with serde (every key of every table, see
/// [`Policy`]).
pub fn to_toml(policy: &Policy) -> String {
    let body = Value::try_from(policy)
        .and_then(|value| toml::to_string(&value))
        .unwrap_or_default();
    format!(
        "# The resolved policy `{}`: every key, after `extends`, lookup and flags.\n# Saved as a file, it loads back to the same policy.\n#\n# Hidden in the workdir and every mount (read as empty): {}\n# Protected at the top of the workdir and each writable mount (read-only; moved aside\n# when the program creates them): {}\n# System caches shown read-only where they exist (data, never run; fontconfig's only to\n# a venv with a font library, or when boxpy cannot tell): {}\n\n{body}",
        policy.name,
        policy.filesystem.hidden_patterns().join(" "),
        policy.filesystem.protected_names().join(" "),
        super::defaults::SYSTEM_CACHES.join(" "),
    )
}

/// Variable names that look like credentials.
fn looks_secret(name: &str) -> bool {
    let upper = name.to_uppercase();
    [
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "API_KEY",
        "APIKEY",
        "CREDENTIAL",
        "PRIVATE_KEY",
        "AWS_ACCESS",
        "AWS_SESSION",
    ]
    .iter()
    .any(|needle| upper.contains(needle))
}

/// Risky choices in a valid policy, each a sentence that names the key.
pub fn warnings(
    policy: &Policy,
    home: Option<&Path>,
    is_socket: &dyn Fn(&Path) -> bool,
) -> Vec<String> {
    let mut out = Vec::new();
    // What the mount gate refuses is not a warning: `policy check` runs every mount
    // through the gate itself (`settings::check_policy_mounts`) and refuses as `run` does.
    if let Some(home) = home {
        for mount in &policy.filesystem.read_only {
            if home.starts_with(&mount.source) {
                out.push(format!(
                    "`{}` lists `{}`, which contains your home directory: the program can read your SSH keys and tokens; list the directories it needs instead",
                    mount.origin,
                    mount.source.display()
                ));
            }
        }
    }
    for mount in policy
        .filesystem
        .read_only
        .iter()
        .chain(&policy.filesystem.read_write)
    {
        if is_socket(&mount.source) || mount.source.to_string_lossy().ends_with(".sock") {
            out.push(format!(
                "`{}` mounts the socket `{}`: whoever can talk to it (e.g. Docker's) can usually take over the host; read-only does not stop `connect()`",
                mount.origin,
                mount.source.display()
            ));
        }
    }
    let reach = match policy.network.mode {
        NetworkMode::Full => Some(("full", "anywhere")),
        NetworkMode::Proxy if !policy.network.allow.is_empty() => {
            Some(("proxy", "to the hosts `network.allow` names"))
        }
        _ => None,
    };
    if let Some((mode, where_to)) = reach {
        let secrets: Vec<&str> = policy
            .env
            .pass
            .iter()
            .map(String::as_str)
            .chain(policy.env.set.keys().map(String::as_str))
            .filter(|name| looks_secret(name))
            .collect();
        if !secrets.is_empty() {
            out.push(format!(
                "`network.mode = \"{mode}\"` with secrets in the environment ({}): the program can send them {where_to}; pass them only to programs you trust, or drop the network",
                secrets
                    .iter()
                    .map(|name| format!("`{name}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    out.extend(network_warnings(&policy.network));
    if !policy.guards.deny_imports.is_empty() {
        out.push("`guards.deny_imports` is a guardrail against accidents, not a security boundary: a program can remove the import hook".to_owned());
    }
    if policy.limits.timeout.is_none() {
        out.push(
            "`limits.timeout` is unlimited: a program that never ends keeps its sandbox alive"
                .to_owned(),
        );
    }
    out
}

/// What each host rule means, a sentence each (`boxpy policy check`), in proxy mode.
pub fn network_rules(network: &super::NetworkPolicy) -> Vec<String> {
    if network.mode != NetworkMode::Proxy {
        return Vec::new();
    }
    let mut out = Vec::new();
    if network.allow.is_empty() {
        out.push("`network.allow` is empty: every connection is refused (and reported)".to_owned());
    }
    for (key, list, rules) in [
        ("network.allow", List::Allow, &network.allow),
        ("network.deny", List::Deny, &network.deny),
    ] {
        for rule in rules {
            out.push(format!("`{key}` `{rule}`: {}", rule.explain(list)));
        }
    }
    out
}

/// Allow rules that may not mean what they seem: an address of a special class (a
/// metadata service, the LAN, loopback: allowed, but only by this rule), and a wildcard
/// whose bare domain is not allowed too.
fn network_warnings(network: &super::NetworkPolicy) -> Vec<String> {
    let mut out = Vec::new();
    let host_of = |rule: &Rule| -> String {
        let text = rule.to_string();
        if let Some(bracketed) = text.strip_prefix('[') {
            return bracketed.split(']').next().unwrap_or_default().to_owned();
        }
        match (rule.port(), text.rsplit_once(':')) {
            (Some(_), Some((host, _))) => host.to_owned(),
            _ => text,
        }
    };
    let hosts: Vec<String> = network.allow.iter().map(host_of).collect();
    for (rule, host) in network.allow.iter().zip(&hosts) {
        if rule.is_address() {
            if let Some(class) = host
                .parse::<std::net::IpAddr>()
                .ok()
                .and_then(AddressClass::of)
            {
                out.push(format!(
                    "`network.allow` `{rule}` names {}: the program may reach it through the proxy (names that resolve there stay refused); fine if that is what you mean",
                    class.describe()
                ));
            }
        } else if let Some(domain) = host.strip_prefix("*.") {
            if !hosts.iter().any(|other| other == domain) {
                out.push(format!(
                    "`network.allow` `{rule}` allows names below `{domain}`, not `{domain}` itself; add `\"{domain}\"` if the program needs it"
                ));
            }
        }
    }
    out
}

/// The commented `boxpy.toml` that `boxpy policy init` writes.
pub fn init_template(venv: Option<&str>) -> String {
    let python = match venv {
        Some(venv) => format!("venv = \"{venv}\"                 # found in this directory\n"),
        None => "# venv = \".venv\"               # unset: --venv, $VIRTUAL_ENV, .venv, python3 on PATH\n".to_owned(),
    };
    // The default's own list, so a project's policy keeps what the default passes.
    let pass = super::builtin("default")
        .and_then(|text| toml::from_str::<super::raw::RawPolicy>(text).ok())
        .and_then(|raw| raw.env.and_then(|env| env.pass))
        .unwrap_or_default()
        .iter()
        .map(|name| format!("\"{}\"", name.get_ref()))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"# boxpy policy for this project. Keys you leave out come from the built-in `default`
# policy; `boxpy policy show` prints the result, `boxpy policy check boxpy.toml` checks it.
# Found in a project, this file may only narrow `default`: anything that widens it (paths
# outside this directory, network, host variables, higher limits, an audit log) needs
# `boxpy policy trust`, again after every change.
extends = "default"

[python]
{python}
[filesystem]
workdir = "."                   # read-write; the program's cwd
read_only = []                  # e.g. ["data", "/opt/models:/models", {{ path = "~/cache", optional = true }}]
read_write = []                 # e.g. ["out"]
tmp_size = "1GiB"               # private /tmp

[network]
mode = "none"                   # none | localhost | full | proxy
# allow = ["pypi.org"]          # proxy mode: the hosts reachable through boxpy's proxy

[limits]
timeout = "10m"
cpu = "5m"
memory = "4GiB"
processes = 512
file_size = "4GiB"
open_files = 4096
output = "64MiB"

[env]
pass = [{pass}]
set = {{ MPLBACKEND = "Agg" }}

[guards]
deny_imports = []               # a guardrail, not a security boundary
"#
    )
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::policy::{load, LoadContext, PolicySource, BUILTIN_POLICIES};

    fn context() -> LoadContext {
        LoadContext {
            cwd: PathBuf::from("/home/user/project"),
            home: Some(PathBuf::from("/home/user")),
        }
    }

    /// `policy show`'s trust comment quotes a repository's values: every line of it stays
    /// a comment (a line break in a mount path would add a TOML line, `extends` say, to
    /// what the user saves), and nothing in it reaches the terminal raw.
    #[test]
    fn the_trust_comment_stays_comments_whatever_the_values() {
        let file = PathBuf::from("/w/boxpy.toml\nextends = \"/tmp/evil.toml\"");
        let status = crate::policy::TrustStatus::Refused {
            file: file.clone(),
            widenings: vec![crate::policy::trust::Widening {
                key: "filesystem.read_only".to_owned(),
                detail: "mounts `/opt/data\nextends = \"/tmp/evil.toml\"\n#\x1b[8m\r`".to_owned(),
            }],
            changed: false,
        };
        for status in [
            status,
            crate::policy::TrustStatus::Recorded { file: file.clone() },
            crate::policy::TrustStatus::NarrowsOnly { file },
        ] {
            let text = trust_comment(
                &status,
                &|text| crate::report::escape_control(text).into_owned(),
                &crate::sandbox::shell_quote,
            );
            for line in text.lines() {
                assert!(line.starts_with('#'), "{line:?} in {text:?}");
            }
            assert!(!text.contains(['\x1b', '\r']), "{text:?}");
        }
    }

    #[test]
    fn shown_policies_load_back_to_themselves() {
        let dir = tempfile::tempdir().unwrap();
        for (name, _, _) in BUILTIN_POLICIES {
            let policy = load(&PolicySource::Builtin((*name).into()), &context()).unwrap();
            let file = dir.path().join(format!("{name}.toml"));
            std::fs::write(&file, to_toml(&policy)).unwrap();
            let mut again = load(&PolicySource::File(file.clone()), &context()).unwrap();
            again.name = policy.name.clone();
            assert_eq!(again, policy, "{name}");
        }
    }

    #[test]
    fn snapshot_show_default() {
        let policy = load(&PolicySource::Builtin("default".into()), &context()).unwrap();
        insta::assert_snapshot!("show_default", to_toml(&policy));
    }

    #[test]
    fn init_template_is_a_valid_policy() {
        let dir = tempfile::tempdir().unwrap();
        for venv in [None, Some(".venv")] {
            let file = dir.path().join("boxpy.toml");
            std::fs::write(&file, init_template(venv)).unwrap();
            let policy = load(&PolicySource::File(file), &context()).unwrap();
            assert_eq!(policy.python.venv.is_some(), venv.is_some());
            // It keeps what the default passes (`NO_COLOR`, `COLUMNS`, `LINES`, ...).
            let default = load(&PolicySource::Builtin("default".into()), &context()).unwrap();
            assert_eq!(policy.env, default.env);
            assert_eq!(policy.limits, default.limits);
        }
        insta::assert_snapshot!("init_template", init_template(Some(".venv")));
    }

    #[test]
    fn risky_choices_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("risky.toml");
        std::fs::write(
            &file,
            "extends = \"net\"\n[filesystem]\nworkdir = \"/home/user\"\nread_write = [\"/home\"]\nread_only = [{ path = \"/var/run/docker.sock\", optional = true }]\n[env]\npass = [\"GITHUB_TOKEN\"]\n[limits]\ntimeout = \"unlimited\"\n",
        )
        .unwrap();
        let policy = load(&PolicySource::File(file), &context()).unwrap();
        let found = warnings(&policy, Some(Path::new("/home/user")), &|_| false);
        insta::assert_snapshot!("check_risky", found.join("\n"));
        let default = load(&PolicySource::Builtin("default".into()), &context()).unwrap();
        assert!(warnings(&default, Some(Path::new("/home/user")), &|_| false).is_empty());
    }

    /// `policy check` on host rules (issue 17): each rule in a sentence; a special address
    /// allowed by address and a wildcard without its bare domain are warned about.
    #[test]
    fn host_rules_are_explained_and_doubtful_ones_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rules.toml");
        std::fs::write(
            &file,
            "[network]\nmode = \"proxy\"\nallow = [\"pypi.org\", \"*.example.com:8443\", \"*.pythonhosted.org\", \"pythonhosted.org\", \"169.254.169.254\", \"[fd00::1]:8080\", \"8.8.8.8:53\"]\ndeny = [\"upload.pypi.org\"]\n[env]\npass = [\"LANG\", \"PYPI_TOKEN\"]\n",
        )
        .unwrap();
        let policy = load(&PolicySource::File(file), &context()).unwrap();
        let rules = network_rules(&policy.network);
        let found = warnings(&policy, Some(Path::new("/home/user")), &|_| false);
        insta::assert_snapshot!(
            "check_host_rules",
            format!("{}\n--\n{}", rules.join("\n"), found.join("\n"))
        );
        assert_eq!(rules.len(), 8);
        let network: Vec<&String> = found
            .iter()
            .filter(|warning| warning.starts_with("`network.allow`"))
            .collect();
        assert_eq!(network.len(), 3, "{found:?}");
        assert!(
            found.iter().any(
                |warning| warning.contains("`network.mode = \"proxy\"` with secrets")
                    && warning.contains("`PYPI_TOKEN`")
            ),
            "{found:?}"
        );
        // Proxy mode with nothing allowed says so; other modes have no rules to explain.
        let empty = load(&PolicySource::Builtin("default".into()), &context()).unwrap();
        assert!(network_rules(&empty.network).is_empty());
        let mut proxy = empty.network.clone();
        proxy.mode = NetworkMode::Proxy;
        assert_eq!(network_rules(&proxy).len(), 1);
    }
}
