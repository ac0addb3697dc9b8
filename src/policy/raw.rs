//! The serde mirror of the policy TOML, exactly as written by the user.
//!
//! Every table denies unknown fields so a misspelt key is an error, never silently ignored.
//! Values that need checking after parsing (sizes, durations, paths) keep their byte span
//! so errors can point at the line and column.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use toml::Spanned;

/// A whole policy file. Every field is optional: unset fields come from the policy it extends.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPolicy {
    pub extends: Option<Spanned<String>>,
    pub python: Option<RawPython>,
    pub filesystem: Option<RawFilesystem>,
    pub network: Option<RawNetwork>,
    pub limits: Option<RawLimits>,
    pub env: Option<RawEnv>,
    pub guards: Option<RawGuards>,
    pub audit: Option<RawAudit>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPython {
    pub venv: Option<Spanned<String>>,
    pub interpreter: Option<Spanned<String>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFilesystem {
    pub workdir: Option<Spanned<String>>,
    pub read_only: Option<Vec<Spanned<RawMount>>>,
    pub read_write: Option<Vec<Spanned<RawMount>>>,
    pub tmp_size: Option<Spanned<SizeValue>>,
    pub hide: Option<Vec<Spanned<String>>>,
    pub protect: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNetwork {
    pub mode: Option<Spanned<NetworkMode>>,
    pub allow: Option<Vec<Spanned<String>>>,
    pub deny: Option<Vec<Spanned<String>>>,
}

/// How much network the sandbox gets. (`--network` takes the same names: `cli.rs`
/// implements clap's `ValueEnum` for it, so the policy does not depend on clap.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// A private network namespace with only a loopback interface.
    None,
    /// On Linux the same as `none`: a private loopback for servers the program starts itself.
    Localhost,
    /// The host's network, plus resolv.conf, hosts and CA certificates.
    Full,
    /// A private loopback only, and boxpy's proxy (on the host side) as the only way out,
    /// deciding each connection by `network.allow` and `network.deny` (issue 17).
    Proxy,
}

impl NetworkMode {
    /// The name used in the policy file and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkMode::None => "none",
            NetworkMode::Localhost => "localhost",
            NetworkMode::Full => "full",
            NetworkMode::Proxy => "proxy",
        }
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimits {
    pub timeout: Option<Spanned<String>>,
    pub cpu: Option<Spanned<String>>,
    pub memory: Option<Spanned<SizeValue>>,
    pub processes: Option<Spanned<SizeValue>>,
    pub file_size: Option<Spanned<SizeValue>>,
    pub open_files: Option<Spanned<SizeValue>>,
    pub output: Option<Spanned<SizeValue>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEnv {
    pub pass: Option<Vec<Spanned<String>>>,
    pub set: Option<BTreeMap<String, Spanned<String>>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGuards {
    pub deny_imports: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAudit {
    pub log: Option<Spanned<String>>,
}

/// A size written either as a plain number of bytes or as a string such as `"512MiB"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SizeValue {
    Bytes(u64),
    Text(String),
}

impl<'de> Deserialize<'de> for SizeValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SizeVisitor;
        impl Visitor<'_> for SizeVisitor {
            type Value = SizeValue;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a size such as \"512MiB\" or a number of bytes")
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<SizeValue, E> {
                Ok(SizeValue::Bytes(value))
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<SizeValue, E> {
                u64::try_from(value)
                    .map(SizeValue::Bytes)
                    .map_err(|_| E::custom("a size cannot be negative"))
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<SizeValue, E> {
                Ok(SizeValue::Text(value.to_owned()))
            }
        }
        deserializer.deserialize_any(SizeVisitor)
    }
}

/// One entry of `read_only` / `read_write`: `"SRC"`, `"SRC:DEST"` or an inline table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawMount {
    pub path: String,
    pub dest: Option<String>,
    pub optional: bool,
}

impl RawMount {
    /// Parses the `SRC[:DEST]` short form used in policy strings and on the command line.
    pub fn parse_short(text: &str) -> RawMount {
        match text.split_once(':') {
            Some((path, dest)) if !dest.is_empty() => RawMount {
                path: path.to_owned(),
                dest: Some(dest.to_owned()),
                optional: false,
            },
            _ => RawMount {
                path: text.trim_end_matches(':').to_owned(),
                dest: None,
                optional: false,
            },
        }
    }
}

impl<'de> Deserialize<'de> for RawMount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MountVisitor;
        impl<'de> Visitor<'de> for MountVisitor {
            type Value = RawMount;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str(
                    "\"SRC\", \"SRC:DEST\" or { path = \"SRC\", dest = \"DEST\", optional = true }",
                )
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<RawMount, E> {
                Ok(RawMount::parse_short(value))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawMount, A::Error> {
                let mut path = None;
                let mut dest = None;
                let mut optional = false;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "path" => path = Some(map.next_value::<String>()?),
                        "dest" => dest = Some(map.next_value::<String>()?),
                        "optional" => optional = map.next_value::<bool>()?,
                        other => {
                            return Err(de::Error::unknown_field(
                                other,
                                &["path", "dest", "optional"],
                            ))
                        }
                    }
                }
                let path = path.ok_or_else(|| de::Error::missing_field("path"))?;
                Ok(RawMount {
                    path,
                    dest,
                    optional,
                })
            }
        }
        deserializer.deserialize_any(MountVisitor)
    }
}

/// The `[tool.boxpy]` table of a `pyproject.toml`; everything else in the file is ignored.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PyProject {
    pub tool: Option<PyProjectTool>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct PyProjectTool {
    pub boxpy: Option<RawPolicy>,
}
