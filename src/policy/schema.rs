//! The shape of a policy file, checked before serde sees it: every key known, every value
//! of the right TOML type. Each mistake is answered with the key's dotted name
//! (`limits.memory`), the form it expects and an example; never with a type name of the
//! serde mirror (`RawLimits`) or an empty message. Pure: works on the text.

use std::ops::Range;

use toml_edit::{ImDocument, Item, Table, Value};

/// What one key holds.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// A table with these keys.
    Table(&'static [Field]),
    /// A table of string values under any key (`env.set`).
    StringMap,
    /// A string.
    Text,
    /// One of these strings.
    Choice(&'static [&'static str]),
    /// A string or a non-negative integer (a size or a count).
    StringOrInteger,
    /// An array of strings.
    StringList,
    /// An array of `"SRC[:DEST]"` strings or `{ path, dest, optional }` tables.
    MountList,
}

/// A key of the policy format: its name, kind, the form it expects (in words) and an
/// example line.
#[derive(Debug, Clone, Copy)]
struct Field {
    name: &'static str,
    kind: Kind,
    form: &'static str,
    example: &'static str,
}

const fn field(name: &'static str, kind: Kind, form: &'static str, example: &'static str) -> Field {
    Field {
        name,
        kind,
        form,
        example,
    }
}

const DURATION: &str =
    "a string like \"30s\" (a number with `ms`, `s`, `m` or `h`) or \"unlimited\"";
const SIZE: &str =
    "a size like \"512MiB\" (`K`, `M`, `G`, `KiB`, `MiB`, `GiB`), a number of bytes, or \"unlimited\"";
const COUNT: &str = "a whole number or \"unlimited\"";
const PATH: &str = "a path string";
const NAMES: &str = "an array of names";

const PYTHON: &[Field] = &[
    field("venv", Kind::Text, PATH, "venv = \".venv\""),
    field(
        "interpreter",
        Kind::Text,
        PATH,
        "interpreter = \"/usr/bin/python3\"",
    ),
];

const FILESYSTEM: &[Field] = &[
    field("workdir", Kind::Text, PATH, "workdir = \".\""),
    field(
        "read_only",
        Kind::MountList,
        "an array of \"SRC\", \"SRC:DEST\" or { path = \"SRC\", dest = \"DEST\", optional = true }",
        "read_only = [\"data\", { path = \"~/cache\", optional = true }]",
    ),
    field(
        "read_write",
        Kind::MountList,
        "an array of \"SRC\", \"SRC:DEST\" or { path = \"SRC\", dest = \"DEST\", optional = true }",
        "read_write = [\"out\"]",
    ),
    field(
        "tmp_size",
        Kind::StringOrInteger,
        SIZE,
        "tmp_size = \"1GiB\"",
    ),
    field(
        "hide",
        Kind::StringList,
        "an array of patterns",
        "hide = [\"*.pem\", \"!.env\"]",
    ),
    field("protect", Kind::StringList, NAMES, "protect = [\".hg\"]"),
];

const NETWORK: &[Field] = &[
    field(
        "mode",
        Kind::Choice(&["none", "localhost", "full", "proxy"]),
        "one of \"none\", \"localhost\", \"full\", \"proxy\"",
        "mode = \"none\"",
    ),
    field(
        "allow",
        Kind::StringList,
        "an array of host rules",
        "allow = [\"pypi.org\", \"*.example.com:8443\"]",
    ),
    field(
        "deny",
        Kind::StringList,
        "an array of host rules",
        "deny = [\"evil.example.com\"]",
    ),
];

const LIMITS: &[Field] = &[
    field("timeout", Kind::Text, DURATION, "timeout = \"30s\""),
    field("cpu", Kind::Text, DURATION, "cpu = \"5m\""),
    field("memory", Kind::StringOrInteger, SIZE, "memory = \"1GiB\""),
    field("processes", Kind::StringOrInteger, COUNT, "processes = 512"),
    field(
        "file_size",
        Kind::StringOrInteger,
        SIZE,
        "file_size = \"4GiB\"",
    ),
    field(
        "open_files",
        Kind::StringOrInteger,
        COUNT,
        "open_files = 4096",
    ),
    field("output", Kind::StringOrInteger, SIZE, "output = \"64MiB\""),
];

const ENV: &[Field] = &[
    field(
        "pass",
        Kind::StringList,
        "an array of variable names",
        "pass = [\"LANG\", \"TERM\"]",
    ),
    field(
        "set",
        Kind::StringMap,
        "a table of string values",
        "set = { MPLBACKEND = \"Agg\" }",
    ),
];

const GUARDS: &[Field] = &[field(
    "deny_imports",
    Kind::StringList,
    "an array of module names",
    "deny_imports = [\"requests\"]",
)];

const AUDIT: &[Field] = &[field(
    "log",
    Kind::Text,
    PATH,
    "log = \"~/boxpy-audit.jsonl\"",
)];

const ROOT: &[Field] = &[
    field(
        "extends",
        Kind::Text,
        "a shipped policy name (`default`, `strict`, `net`, `pypi`) or a path ending in `.toml`",
        "extends = \"strict\"",
    ),
    field(
        "python",
        Kind::Table(PYTHON),
        "a table",
        "[python]\nvenv = \".venv\"",
    ),
    field(
        "filesystem",
        Kind::Table(FILESYSTEM),
        "a table",
        "[filesystem]\nread_only = [\"data\"]",
    ),
    field(
        "network",
        Kind::Table(NETWORK),
        "a table",
        "[network]\nmode = \"none\"",
    ),
    field(
        "limits",
        Kind::Table(LIMITS),
        "a table",
        "[limits]\nmemory = \"1GiB\"",
    ),
    field(
        "env",
        Kind::Table(ENV),
        "a table",
        "[env]\npass = [\"LANG\"]",
    ),
    field(
        "guards",
        Kind::Table(GUARDS),
        "a table",
        "[guards]\ndeny_imports = [\"requests\"]",
    ),
    field(
        "audit",
        Kind::Table(AUDIT),
        "a table",
        "[audit]\nlog = \"~/boxpy-audit.jsonl\"",
    ),
];

/// Every key this checker knows, dotted (`limits.memory`), tables' keys only (not
/// `extends`): what `policy::tests::every_key_is_everywhere` holds against the policy.
#[cfg(test)]
pub(crate) fn known_keys() -> Vec<String> {
    ROOT.iter()
        .filter_map(|table| match table.kind {
            Kind::Table(fields) => Some(
                fields
                    .iter()
                    .map(move |field| format!("{}.{}", table.name, field.name)),
            ),
            _ => None,
        })
        .flatten()
        .collect()
}

/// A mistake in the shape of a policy: where, which key, what is wrong, and a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShapeError {
    pub offset: usize,
    pub message: String,
    pub hint: Option<String>,
}

/// Refuses a control character anywhere in the text (TOML allows none but tab, even in a
/// comment): names the character; the offset locates it.
pub(crate) fn control_character(text: &str) -> Option<ShapeError> {
    let mut chars = text.char_indices().peekable();
    while let Some((offset, c)) = chars.next() {
        let allowed = match c {
            '\t' | '\n' => true,
            '\r' => matches!(chars.peek(), Some((_, '\n'))),
            c => (c as u32) >= 0x20 && c != '\x7f',
        };
        if !allowed {
            return Some(ShapeError {
                offset,
                message: format!(
                    "the control character {} is not allowed in a TOML file, not even in a comment or a string",
                    describe_control(c)
                ),
                hint: Some(
                    "remove it; inside a string write it as an escape such as `\\u0001`"
                        .to_owned(),
                ),
            });
        }
    }
    None
}

fn describe_control(c: char) -> String {
    let name = match c {
        '\0' => " (NUL)",
        '\r' => " (a carriage return without a line feed)",
        '\x1b' => " (ESC)",
        '\x7f' => " (DEL)",
        '\x08' => " (backspace)",
        '\x0c' => " (form feed)",
        _ => "",
    };
    format!("`U+{:04X}`{name}", c as u32)
}

/// Parses `text` as TOML with spans; a syntax error becomes a [`ShapeError`].
pub(crate) fn parse_document(text: &str) -> Result<ImDocument<&str>, ShapeError> {
    if let Some(error) = control_character(text) {
        return Err(error);
    }
    ImDocument::parse(text).map_err(|error| {
        let offset = error.span().map(|span| span.start).unwrap_or(0);
        let message = error
            .message()
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        let message = if message.is_empty() {
            "this is not valid TOML".to_owned()
        } else {
            format!("not valid TOML: {message}")
        };
        // The key of a `key = value` line the error is on, when there is one.
        let line_start = text[..offset.min(text.len())]
            .rfind('\n')
            .map(|at| at + 1)
            .unwrap_or(0);
        let before = text.get(line_start..offset.min(text.len())).unwrap_or("");
        let key = before
            .split_once('=')
            .map(|(key, _)| key.trim())
            .filter(|key| !key.is_empty() && !key.contains(['"', '\'', '[', '#']));
        ShapeError {
            offset,
            message: match key {
                Some(key) => format!("`{key}`: {message}"),
                None => message,
            },
            hint: Some(match key {
                Some(_) => "a size, duration, path or name is a quoted string in TOML (`memory = \"1GiB\"`, `timeout = \"30s\"`); `man 5 boxpy.toml` has every key".to_owned(),
                None => "see `man 5 boxpy.toml` or `boxpy policy show` for the format".to_owned(),
            }),
        }
    })
}

/// Checks the shape of a whole policy file; `prefix` is the dotted path of the root
/// (`tool.boxpy.` in a pyproject.toml), `offset` where it starts.
pub(crate) fn check_policy(root: &Table, prefix: &str, offset: usize) -> Result<(), ShapeError> {
    check_table(root, ROOT, prefix, offset)?;
    check_strings(root, prefix, offset)
}

/// The kernel's limit on one argument or one environment string, terminating NUL
/// included (`MAX_ARG_STRLEN`: 32 pages of 4 KiB).
pub(crate) const MAX_ARG_STRLEN: usize = 128 * 1024;

/// Every string of the policy reaches the sandbox as an argument of bwrap or a variable of
/// the program: one holding a NUL, or longer than the kernel takes, cannot work.
fn check_strings(table: &Table, prefix: &str, fallback: usize) -> Result<(), ShapeError> {
    for (name, item) in table.iter() {
        let path = format!("{prefix}{name}");
        let offset = table
            .key(name)
            .and_then(|key| key.span())
            .map(|span| span.start)
            .unwrap_or(fallback);
        match item {
            Item::Table(inner) => check_strings(inner, &format!("{path}."), offset)?,
            Item::Value(value) => {
                check_value_strings(value, &path, offset, prefix.ends_with("env.set."))?
            }
            // `[[filesystem.read_only]]` mount tables.
            Item::ArrayOfTables(array) => {
                for (index, inner) in array.iter().enumerate() {
                    let at = span_start(inner.span(), offset);
                    check_strings(inner, &format!("{path}[{index}]."), at)?;
                }
            }
            Item::None => {}
        }
    }
    Ok(())
}

fn check_value_strings(
    value: &Value,
    path: &str,
    fallback: usize,
    variable: bool,
) -> Result<(), ShapeError> {
    let offset = span_start(value.span(), fallback);
    match value {
        Value::String(text) => {
            let text = text.value();
            if let Some(index) = text.find('\0') {
                return Err(ShapeError {
                    offset,
                    message: format!(
                        "`{path}` holds a NUL character (at byte {index}), which no path, argument or environment variable can carry"
                    ),
                    hint: Some("remove the `\\u0000`".to_owned()),
                });
            }
            // A variable reaches the program as `NAME=VALUE` plus the terminating NUL.
            let name = path.rsplit('.').next().unwrap_or(path);
            let length = if variable {
                name.len() + 1 + text.len() + 1
            } else {
                text.len() + 1
            };
            if length > MAX_ARG_STRLEN {
                return Err(ShapeError {
                    offset,
                    message: format!(
                        "`{path}` is {} bytes long: the kernel refuses an argument or environment variable over 128 KiB (MAX_ARG_STRLEN)",
                        text.len()
                    ),
                    hint: Some(if variable {
                        "pass large data in a file the program reads (`filesystem.read_only`), not in a variable".to_owned()
                    } else {
                        "shorten it".to_owned()
                    }),
                });
            }
            Ok(())
        }
        Value::Array(array) => {
            for (index, element) in array.iter().enumerate() {
                check_value_strings(element, &format!("{path}[{index}]"), offset, false)?;
            }
            Ok(())
        }
        Value::InlineTable(table) => {
            for (name, element) in table.iter() {
                let at = table
                    .key(name)
                    .and_then(|key| key.span())
                    .map(|span| span.start)
                    .unwrap_or(offset);
                let variable = path == "env.set" || path.ends_with(".env.set");
                check_value_strings(element, &format!("{path}.{name}"), at, variable)?;
            }
            Ok(())
        }
        Value::Integer(_) | Value::Float(_) | Value::Boolean(_) | Value::Datetime(_) => Ok(()),
    }
}

/// Finds `[tool.boxpy]` in a pyproject.toml however it is spelt (TOML decides: `[tool]`
/// with `boxpy = { ... }`, dotted keys, quoted keys, spaces); `Ok(None)` when there is
/// none, an error when `tool` or `tool.boxpy` is not a table. Returns the table and the
/// offset of its key.
pub(crate) fn pyproject_policy(
    document: &ImDocument<&str>,
) -> Result<Option<(Table, usize)>, ShapeError> {
    let root = document.as_table();
    let Some(tool) = root.get("tool") else {
        return Ok(None);
    };
    let tool_offset = key_offset(root, "tool", tool);
    let not_a_table = |path: &str, item: &Item, offset: usize| ShapeError {
        offset,
        message: format!(
            "`{path}` must be a table (`[{path}]`), not {}",
            describe(item)
        ),
        hint: Some("e.g. `[tool.boxpy]` then `extends = \"strict\"` on the next line".to_owned()),
    };
    let tool_table = match tool {
        Item::Table(table) => table.clone(),
        Item::Value(Value::InlineTable(table)) => table.clone().into_table(),
        other => return Err(not_a_table("tool", other, tool_offset)),
    };
    let Some(boxpy) = tool_table.get("boxpy") else {
        return Ok(None);
    };
    let offset = key_offset(&tool_table, "boxpy", boxpy);
    match boxpy {
        Item::Table(table) => Ok(Some((table.clone(), offset))),
        Item::Value(Value::InlineTable(table)) => Ok(Some((table.clone().into_table(), offset))),
        other => Err(not_a_table("tool.boxpy", other, offset)),
    }
}

/// "e.g. `memory = \"1GiB\"`" for the key named first (in backticks) in `message`: the
/// hint of a value error that has none of its own.
pub(crate) fn example_hint(message: &str) -> Option<String> {
    let key = message.split('`').nth(1)?;
    let key = key.strip_prefix("tool.boxpy.").unwrap_or(key);
    let key = key.split('[').next().unwrap_or(key);
    let mut fields = ROOT;
    let mut found = None;
    for part in key.split('.') {
        let field = fields.iter().find(|field| field.name == part)?;
        found = Some(field);
        match field.kind {
            Kind::Table(inner) => fields = inner,
            _ => break,
        }
    }
    found.map(|field| format!("e.g. `{}`", field.example.replace('\n', "` then `")))
}

fn key_offset(table: &Table, name: &str, item: &Item) -> usize {
    table
        .key(name)
        .and_then(|key| key.span())
        .or_else(|| item.span())
        .map(|span| span.start)
        .unwrap_or(0)
}

/// What an item is, in a user's words.
fn describe(item: &Item) -> String {
    match item {
        Item::None => "nothing".to_owned(),
        Item::Table(_) => "a table".to_owned(),
        Item::ArrayOfTables(_) => "an array of tables (`[[...]]`)".to_owned(),
        Item::Value(value) => describe_value(value),
    }
}

fn describe_value(value: &Value) -> String {
    match value {
        Value::String(_) => "a string".to_owned(),
        Value::Integer(number) => format!("an integer (`{}`)", number.value()),
        Value::Float(number) => format!("a float (`{}`)", number.value()),
        Value::Boolean(flag) => format!("a boolean (`{}`)", flag.value()),
        Value::Datetime(_) => "a date-time".to_owned(),
        Value::Array(array) if array.is_empty() => "an empty array (`[]`)".to_owned(),
        Value::Array(_) => "an array".to_owned(),
        Value::InlineTable(_) => "a table".to_owned(),
    }
}

fn span_start(span: Option<Range<usize>>, fallback: usize) -> usize {
    span.map(|span| span.start).unwrap_or(fallback)
}

fn wrong_type(field: &Field, path: &str, actual: String, offset: usize) -> ShapeError {
    let example = field.example.replace('\n', "` then `");
    ShapeError {
        offset,
        message: format!("`{path}` must be {}, not {actual}", field.form),
        hint: Some(format!("e.g. `{example}`")),
    }
}

fn check_table(
    table: &Table,
    fields: &'static [Field],
    prefix: &str,
    fallback: usize,
) -> Result<(), ShapeError> {
    let entries: Vec<(&str, Option<usize>, &Item)> = table
        .iter()
        .map(|(name, item)| {
            let offset = table.key(name).and_then(|key| key.span()).map(|s| s.start);
            (name, offset, item)
        })
        .collect();
    check_entries(&entries, fields, prefix, fallback)
}

fn check_inline(
    table: &toml_edit::InlineTable,
    fields: &'static [Field],
    prefix: &str,
    fallback: usize,
) -> Result<(), ShapeError> {
    let items: Vec<(String, Option<usize>, Item)> = table
        .iter()
        .map(|(name, value)| {
            let offset = table.key(name).and_then(|key| key.span()).map(|s| s.start);
            (name.to_owned(), offset, Item::Value(value.clone()))
        })
        .collect();
    let entries: Vec<(&str, Option<usize>, &Item)> = items
        .iter()
        .map(|(name, offset, item)| (name.as_str(), *offset, item))
        .collect();
    check_entries(&entries, fields, prefix, fallback)
}

fn check_entries(
    entries: &[(&str, Option<usize>, &Item)],
    fields: &'static [Field],
    prefix: &str,
    fallback: usize,
) -> Result<(), ShapeError> {
    for (name, key_offset, item) in entries {
        let path = format!("{prefix}{name}");
        let offset = key_offset.unwrap_or(fallback);
        let Some(field) = fields.iter().find(|field| field.name == *name) else {
            let known: Vec<&str> = fields.iter().map(|field| field.name).collect();
            let parent = prefix.trim_end_matches('.');
            let place = if parent.is_empty() {
                "at the top of a policy".to_owned()
            } else {
                format!("in `{parent}`")
            };
            return Err(ShapeError {
                offset,
                message: format!(
                    "unknown key `{path}`: {place} the keys are {}",
                    list(&known)
                ),
                hint: Some(
                    match super::validate::did_you_mean(name, known.iter().copied()) {
                        Some(suggestion) => format!("did you mean `{suggestion}`?"),
                        None => "remove it; `man 5 boxpy.toml` describes every key".to_owned(),
                    },
                ),
            });
        };
        check_item(field, &path, item, offset)?;
    }
    Ok(())
}

fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_item(field: &Field, path: &str, item: &Item, key_offset: usize) -> Result<(), ShapeError> {
    let value_offset = span_start(item.span(), key_offset);
    let wrong = |actual: String| Err(wrong_type(field, path, actual, value_offset));
    match (field.kind, item) {
        (Kind::Table(fields), Item::Table(table)) => {
            check_table(table, fields, &format!("{path}."), key_offset)
        }
        (Kind::Table(fields), Item::Value(Value::InlineTable(table))) => {
            check_inline(table, fields, &format!("{path}."), key_offset)
        }
        (Kind::Table(_), Item::ArrayOfTables(_)) => Err(ShapeError {
            offset: key_offset,
            message: format!(
                "`{path}` must be a table (`[{path}]`, once), not an array of tables (`[[{path}]]`)"
            ),
            hint: Some(format!(
                "e.g. `{}`",
                field.example.replace('\n', "` then `")
            )),
        }),
        // `[[filesystem.read_only]]` blocks: the same array, spelt as tables.
        (Kind::MountList, Item::ArrayOfTables(array)) => {
            for (index, table) in array.iter().enumerate() {
                let offset = span_start(table.span(), key_offset);
                let inline = table.clone().into_inline_table();
                check_mount(&inline, &format!("{path}[{index}]"), offset)?;
            }
            Ok(())
        }
        (Kind::StringMap, Item::Table(table)) => {
            for (name, item) in table.iter() {
                let offset = table
                    .key(name)
                    .and_then(|key| key.span())
                    .map(|span| span.start)
                    .unwrap_or(key_offset);
                if !matches!(item, Item::Value(Value::String(_))) {
                    return Err(map_value_error(path, name, item, offset));
                }
            }
            Ok(())
        }
        (Kind::StringMap, Item::Value(Value::InlineTable(table))) => {
            for (name, value) in table.iter() {
                if !matches!(value, Value::String(_)) {
                    let offset = table
                        .key(name)
                        .and_then(|key| key.span())
                        .map(|span| span.start)
                        .unwrap_or(key_offset);
                    return Err(map_value_error(
                        path,
                        name,
                        &Item::Value(value.clone()),
                        offset,
                    ));
                }
            }
            Ok(())
        }
        (Kind::Text, Item::Value(Value::String(_))) => Ok(()),
        (Kind::Choice(choices), Item::Value(Value::String(text))) => {
            let text = text.value();
            if choices.contains(&text.as_str()) {
                return Ok(());
            }
            Err(ShapeError {
                offset: value_offset,
                message: format!("`{path}` must be {}, not `{text}`", field.form),
                hint: Some(
                    match super::validate::did_you_mean(text, choices.iter().copied()) {
                        Some(suggestion) => format!("did you mean `{suggestion}`?"),
                        None => format!("e.g. `{}`", field.example),
                    },
                ),
            })
        }
        (Kind::StringOrInteger, Item::Value(Value::String(_))) => Ok(()),
        (Kind::StringOrInteger, Item::Value(Value::Integer(number))) if *number.value() < 0 => {
            wrong(format!("a negative number (`{}`)", number.value()))
        }
        (Kind::StringOrInteger, Item::Value(Value::Integer(_))) => Ok(()),
        (Kind::StringList | Kind::MountList, Item::Value(Value::Array(array))) => {
            for (index, value) in array.iter().enumerate() {
                let element = format!("{path}[{index}]");
                let offset = span_start(value.span(), value_offset);
                match (field.kind, value) {
                    (_, Value::String(_)) => {}
                    (Kind::MountList, Value::InlineTable(table)) => {
                        check_mount(table, &element, offset)?
                    }
                    _ => {
                        return Err(ShapeError {
                            offset,
                            message: format!(
                                "`{element}` must be {}, not {}",
                                match field.kind {
                                    Kind::MountList => "\"SRC\", \"SRC:DEST\" or { path = \"SRC\", dest = \"DEST\", optional = true }",
                                    _ => "a string",
                                },
                                describe_value(value)
                            ),
                            hint: Some(format!("e.g. `{}`", field.example)),
                        })
                    }
                }
            }
            Ok(())
        }
        (_, item) => wrong(describe(item)),
    }
}

fn map_value_error(path: &str, name: &str, item: &Item, offset: usize) -> ShapeError {
    ShapeError {
        offset,
        message: format!("`{path}.{name}` must be a string, not {}", describe(item)),
        hint: Some(format!(
            "quote the value: e.g. `{name} = \"1\"` (every variable's value is a string)"
        )),
    }
}

const MOUNT_KEYS: &[&str] = &["path", "dest", "optional"];

fn check_mount(
    table: &toml_edit::InlineTable,
    path: &str,
    offset: usize,
) -> Result<(), ShapeError> {
    let example = "{ path = \"~/cache\", dest = \"/cache\", optional = true }";
    for (name, value) in table.iter() {
        let at = table
            .key(name)
            .and_then(|key| key.span())
            .map(|span| span.start)
            .unwrap_or(offset);
        let ok = match name {
            "path" | "dest" => matches!(value, Value::String(_)),
            "optional" => matches!(value, Value::Boolean(_)),
            _ => {
                return Err(ShapeError {
                    offset: at,
                    message: format!(
                        "unknown key `{path}.{name}`: a mount's keys are {}",
                        list(MOUNT_KEYS)
                    ),
                    hint: Some(
                        match super::validate::did_you_mean(name, MOUNT_KEYS.iter().copied()) {
                            Some(suggestion) => format!("did you mean `{suggestion}`?"),
                            None => format!("e.g. `{example}`"),
                        },
                    ),
                })
            }
        };
        if !ok {
            let form = if name == "optional" {
                "a boolean (`true` or `false`)"
            } else {
                PATH
            };
            return Err(ShapeError {
                offset: at,
                message: format!(
                    "`{path}.{name}` must be {form}, not {}",
                    describe_value(value)
                ),
                hint: Some(format!("e.g. `{example}`")),
            });
        }
    }
    if table.get("path").is_none() {
        return Err(ShapeError {
            offset,
            message: format!("`{path}` has no `path`: a mount table needs one"),
            hint: Some(format!("e.g. `{example}`")),
        });
    }
    Ok(())
}
