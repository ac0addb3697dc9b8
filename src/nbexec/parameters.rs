//! `boxpy nbexec`'s parameters, as papermill's command line takes them: their sources
//! (`-b BASE64`, `-f FILE.yaml`, `-y YAML`, `-p NAME VALUE`, `-r NAME VALUE`, merged in
//! that order, a later value replacing an earlier one at the place of its first), and
//! the parameters cell of a notebook, inspected as papermill's Python translator does
//! (`--help-notebook`, the warnings before a run).
//!
//! YAML is read as papermill reads it (PyYAML's `SafeLoader` without implicit dates):
//! YAML 1.1's plain scalars (`yes`/`no`/`on`/`off` are booleans, `0o17` is a string, `017`
//! octal, `1_000` an integer, `1e3` a string, `1.0e+3` a float, `.inf`/`.nan` floats) and
//! the explicit tags `!!str`, `!!int`, `!!float`, `!!bool`, `!!null`, `!!seq`, `!!map`.
//! What papermill's translator could only write as the text of a Python object (`!!binary`,
//! `!!timestamp`, `!!set`, `!!omap`, other tags), aliases (`*name`; an anchor alone is
//! ignored), several documents,
//! a key that is a list or mapping, an integer beyond 64 bits: refused, naming the flag.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::TScalarStyle;

use crate::error::{Error, Result};

/// The most a `-f` file may be.
pub const FILE_LIMIT: u64 = 4 << 20;
/// The most parameters a run takes, from all sources together (papermill's users pass tens).
pub const PARAMETER_LIMIT: usize = 100_000;
/// The deepest nesting of lists and mappings a YAML value may have.
const DEPTH_LIMIT: usize = 64;

/// How the driver reads a parameter's value (the config contract, `driver.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `-p`: the driver resolves the text as papermill's command line does.
    Papermill,
    /// `-r`: the text itself.
    Raw,
    /// `-y`/`-f`/`-b`: a value from YAML.
    Json,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Papermill => "papermill",
            Kind::Raw => "raw",
            Kind::Json => "json",
        }
    }
}

/// A value read from YAML, in the order it was written.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    List(Vec<Value>),
    Map(Vec<(String, Value)>),
}

impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(value) => serializer.serialize_bool(*value),
            Value::Int(value) => match i64::try_from(*value) {
                Ok(small) => serializer.serialize_i64(small),
                Err(_) => serializer.serialize_u64(*value as u64),
            },
            Value::Float(value) if value.is_finite() => serializer.serialize_f64(*value),
            Value::Float(value) => {
                let text = if value.is_nan() {
                    "nan"
                } else if *value < 0.0 {
                    "-inf"
                } else {
                    "inf"
                };
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("$float", text)?;
                map.end()
            }
            Value::Str(text) => serializer.serialize_str(text),
            Value::List(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

/// One parameter as the driver's configuration holds it: `[name, kind, value]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    pub name: String,
    pub kind: Kind,
    /// A string for `papermill` and `raw`.
    pub value: Value,
}

impl serde::Serialize for Parameter {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        (&self.name, self.kind.as_str(), &self.value).serialize(serializer)
    }
}

/// The command line's parameter flags, each in the order given.
#[derive(Debug, Default, Clone)]
pub struct Sources<'a> {
    pub base64: &'a [String],
    pub files: &'a [std::path::PathBuf],
    pub yaml: &'a [String],
    /// `-p NAME VALUE`, flattened.
    pub papermill: &'a [String],
    /// `-r NAME VALUE`, flattened.
    pub raw: &'a [String],
}

/// The parameters, final and ordered: papermill's order of sources (`-b`, `-f`, `-y`,
/// `-p`, `-r`), a later value replacing an earlier one where the first stood.
pub fn merge(sources: &Sources<'_>, cwd: &Path) -> Result<Vec<Parameter>> {
    merge_at_most(sources, cwd, PARAMETER_LIMIT)
}

/// [`merge`] with at most `limit` distinct parameters (the tests use a small one).
fn merge_at_most(sources: &Sources<'_>, cwd: &Path, limit: usize) -> Result<Vec<Parameter>> {
    let mut merged: Vec<Parameter> = Vec::new();
    // Each name's place in `merged`: a later value replaces the first in one look-up.
    let mut places: HashMap<String, usize> = HashMap::new();
    let mut put = |flag: &str, name: String, kind: Kind, value: Value| -> Result<()> {
        check_name(flag, &name)?;
        match places.get(&name) {
            Some(&at) => {
                merged[at].kind = kind;
                merged[at].value = value;
            }
            None if merged.len() >= limit => {
                return Err(Error::Usage {
                    message: format!("{flag}: more than {limit} parameters"),
                    hint: Some(
                        "pass the parameters the notebook's parameters cell defines; put bulk data in a file the notebook reads".to_owned(),
                    ),
                })
            }
            None => {
                places.insert(name.clone(), merged.len());
                merged.push(Parameter { name, kind, value });
            }
        }
        Ok(())
    };
    let mapping = |flag: &str,
                   text: &str,
                   put: &mut dyn FnMut(&str, String, Kind, Value) -> Result<()>|
     -> Result<()> {
        for (name, value) in yaml_mapping(text).map_err(|why| yaml_error(flag, &why))? {
            put(flag, name, Kind::Json, value)?;
        }
        Ok(())
    };
    for encoded in sources.base64 {
        let bytes = decode_base64(encoded).ok_or_else(|| Error::Usage {
            message: "-b: not base64".to_owned(),
            hint: Some(
                "pass YAML encoded as base64, e.g. `-b \"$(printf 'alpha: 0.5' | base64 -w0)\"`"
                    .to_owned(),
            ),
        })?;
        let text = String::from_utf8(bytes).map_err(|_| Error::Usage {
            message: "-b: the decoded YAML is not UTF-8".to_owned(),
            hint: Some("encode UTF-8 YAML text".to_owned()),
        })?;
        mapping("-b", &text, &mut put)?;
    }
    for file in sources.files {
        let path = cwd.join(file);
        let flag = format!("-f {}", file.display());
        let text =
            crate::bounded::read_to_string(&path, FILE_LIMIT).map_err(|error| Error::Usage {
                message: format!("{flag}: cannot read it: {error}"),
                hint: Some("pass a YAML file of parameters (`name: value` lines)".to_owned()),
            })?;
        mapping(&flag, &text, &mut put)?;
    }
    for text in sources.yaml {
        mapping("-y", text, &mut put)?;
    }
    for (flag, values, kind) in [
        ("-p", sources.papermill, Kind::Papermill),
        ("-r", sources.raw, Kind::Raw),
    ] {
        for pair in values.chunks(2) {
            if let [name, value] = pair {
                put(flag, name.clone(), kind, Value::Str(value.clone()))?;
            }
        }
    }
    Ok(merged)
}

fn yaml_error(flag: &str, why: &str) -> Error {
    Error::Usage {
        message: format!("{flag}: {why}"),
        hint: Some("parameters in YAML are one mapping of names to values, e.g. `-y '{alpha: 0.5, regions: [west, east]}'`".to_owned()),
    }
}

/// Python's keywords (`keyword.kwlist`) and soft keywords that cannot be assigned to.
const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// A parameter's name must be a Python identifier (not a keyword): it becomes `name = …`.
fn check_name(flag: &str, name: &str) -> Result<()> {
    let mut chars = name.chars();
    let identifier = chars
        .next()
        .is_some_and(|first| first == '_' || first.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric());
    if identifier && !KEYWORDS.contains(&name) {
        return Ok(());
    }
    let why = if identifier {
        "is a Python keyword"
    } else {
        "is not a Python identifier"
    };
    Err(Error::Usage {
        message: format!("{flag}: the parameter name `{}` {why}", name.escape_debug()),
        hint: Some(
            "a parameter becomes `NAME = VALUE` in the notebook: use a variable name the parameters cell defines".to_owned(),
        ),
    })
}

/// Standard base64 (padding optional, whitespace ignored), or `None`.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut bits: u32 = 0;
    let mut count = 0;
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut padding = 0;
    for byte in text.bytes() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => {
                padding += 1;
                continue;
            }
            b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => return None,
        };
        if padding > 0 {
            return None;
        }
        bits = (bits << 6) | u32::from(value);
        count += 1;
        if count == 4 {
            out.extend_from_slice(&[(bits >> 16) as u8, (bits >> 8) as u8, bits as u8]);
            bits = 0;
            count = 0;
        }
    }
    match count {
        0 => {}
        2 => out.push((bits >> 4) as u8),
        3 => out.extend_from_slice(&[(bits >> 10) as u8, (bits >> 2) as u8]),
        _ => return None,
    }
    if padding > 2 || (padding > 0 && (count + padding) % 4 != 0) {
        return None;
    }
    Some(out)
}

/// A YAML text as a mapping of names to values; empty (or `null`) is an empty mapping.
pub fn yaml_mapping(text: &str) -> std::result::Result<Vec<(String, Value)>, String> {
    match yaml_value(text)? {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Map(entries)) => Ok(entries),
        Some(_) => Err("the YAML is not a mapping of parameter names to values".to_owned()),
    }
}

/// A node being built.
enum Open {
    List(Vec<Value>),
    /// The entries so far and the key waiting for its value.
    Map(Entries, Option<String>),
}

/// A mapping's entries in the order written, with each key's place: a repeated key
/// replaces the value where the key first stood (PyYAML builds a dict), in one look-up.
#[derive(Default)]
struct Entries {
    entries: Vec<(String, Value)>,
    places: HashMap<String, usize>,
}

impl Entries {
    fn put(&mut self, key: String, value: Value) {
        match self.places.get(&key) {
            Some(&at) => self.entries[at].1 = value,
            None => {
                self.places.insert(key.clone(), self.entries.len());
                self.entries.push((key, value));
            }
        }
    }
}

/// One YAML document's value (`None`: no document).
pub fn yaml_value(text: &str) -> std::result::Result<Option<Value>, String> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Open> = Vec::new();
    let mut result: Option<Value> = None;
    let mut documents = 0;
    loop {
        let (event, mark) = parser
            .next_token()
            .map_err(|error| format!("not valid YAML ({error})"))?;
        let at = || format!("line {}", mark.line());
        let value = match event {
            Event::StreamEnd => break,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err("several YAML documents; give one mapping".to_owned());
                }
                continue;
            }
            Event::Alias(_) => {
                return Err(format!(
                    "YAML aliases (`*name`) are not supported ({})",
                    at()
                ))
            }
            Event::Scalar(text, style, _anchor, tag) => {
                scalar(&text, style, tag.as_ref()).map_err(|why| format!("{why} ({})", at()))?
            }
            Event::SequenceStart(_, ref tag) | Event::MappingStart(_, ref tag) => {
                let is_map = matches!(event, Event::MappingStart(..));
                if let Some(tag) = tag {
                    let expected = if is_map { "map" } else { "seq" };
                    let known = matches!(tag.handle.as_str(), "!!" | "tag:yaml.org,2002:")
                        && tag.suffix == expected;
                    if !known {
                        return Err(format!(
                            "the YAML tag `{}` is not supported ({})",
                            show_tag(tag),
                            at()
                        ));
                    }
                }
                if stack.len() >= DEPTH_LIMIT {
                    return Err(format!("YAML nested deeper than {DEPTH_LIMIT} levels"));
                }
                stack.push(if is_map {
                    Open::Map(Entries::default(), None)
                } else {
                    Open::List(Vec::new())
                });
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Open::List(items)) => Value::List(items),
                _ => return Err("malformed YAML".to_owned()),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Open::Map(entries, None)) => Value::Map(entries.entries),
                _ => return Err("malformed YAML".to_owned()),
            },
            _ => continue,
        };
        match stack.last_mut() {
            None => result = Some(value),
            Some(Open::List(items)) => items.push(value),
            Some(Open::Map(entries, key)) => match key.take() {
                None => *key = Some(key_text(value).map_err(|why| format!("{why} ({})", at()))?),
                Some(name) => entries.put(name, value),
            },
        }
    }
    Ok(result)
}

fn show_tag(tag: &Tag) -> String {
    if tag.handle == "tag:yaml.org,2002:" {
        format!("!!{}", tag.suffix)
    } else {
        format!("{}{}", tag.handle, tag.suffix)
    }
}

/// A mapping key as papermill writes it into a dict: `str(key)` in quotes.
fn key_text(value: Value) -> std::result::Result<String, String> {
    Ok(match value {
        Value::Str(text) => text,
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Int(number) => number.to_string(),
        Value::Float(number) => python_float(number),
        Value::List(_) | Value::Map(_) => {
            return Err("a YAML key that is a list or a mapping".to_owned())
        }
    })
}

/// Python's `repr` of a float.
pub fn python_float(number: f64) -> String {
    if number.is_nan() {
        return "nan".to_owned();
    }
    if number.is_infinite() {
        return if number < 0.0 { "-inf" } else { "inf" }.to_owned();
    }
    let scientific = format!("{number:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..16).contains(&exponent) {
        let plain = format!("{number}");
        if plain.contains('.') {
            plain
        } else {
            format!("{plain}.0")
        }
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    }
}

/// A scalar resolved as PyYAML's `SafeLoader` (without implicit timestamps) resolves it.
fn scalar(
    text: &str,
    style: TScalarStyle,
    tag: Option<&Tag>,
) -> std::result::Result<Value, String> {
    let tag = match tag {
        Some(tag) if tag.handle == "!!" || tag.handle == "tag:yaml.org,2002:" => {
            Some(tag.suffix.as_str())
        }
        // The non-specific tag `!`: resolved as a plain scalar, quoted or not (PyYAML's
        // parser and composer).
        Some(tag) if format!("{}{}", tag.handle, tag.suffix) == "!" => {
            return scalar(text, TScalarStyle::Plain, None)
        }
        Some(tag) => return Err(format!("the YAML tag `{}` is not supported", show_tag(tag))),
        None => None,
    };
    let plain = matches!(style, TScalarStyle::Plain);
    let invalid = |kind: &str| format!("`{}` is not a valid YAML {kind}", text.escape_debug());
    match tag {
        Some("str") => Ok(Value::Str(text.to_owned())),
        Some("null") => Ok(Value::Null),
        Some("bool") => yaml_bool(text)
            .map(Value::Bool)
            .ok_or_else(|| invalid("bool")),
        Some("int") => yaml_int(text)
            .ok_or_else(|| invalid("int"))?
            .map(Value::Int)
            .ok_or_else(|| "an integer beyond 64 bits".to_owned()),
        Some("float") => yaml_float(text)
            .map(Value::Float)
            .ok_or_else(|| invalid("float")),
        Some(other) => Err(format!(
            "the YAML tag `!!{other}` is not supported (papermill would write its value as text)"
        )),
        None if !plain => Ok(Value::Str(text.to_owned())),
        None => {
            if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
                Ok(Value::Null)
            } else if let Some(value) = yaml_bool(text) {
                Ok(Value::Bool(value))
            } else if is_yaml_int(text) {
                yaml_int(text)
                    .flatten()
                    .map(Value::Int)
                    .ok_or_else(|| format!("`{text}`: an integer beyond 64 bits"))
            } else if is_yaml_float(text) {
                yaml_float(text)
                    .map(Value::Float)
                    .ok_or_else(|| invalid("float"))
            } else if text == "=" {
                Err("the YAML value `=` is not supported".to_owned())
            } else {
                Ok(Value::Str(text.to_owned()))
            }
        }
    }
}

fn yaml_bool(text: &str) -> Option<bool> {
    match text {
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => Some(true),
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

fn digits(text: &str, allowed: impl Fn(char) -> bool) -> bool {
    !text.is_empty() && text.chars().all(|c| c == '_' || allowed(c))
}

/// `[-+]?` then the rest.
fn unsigned(text: &str) -> (bool, &str) {
    match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    }
}

/// Sexagesimal `[1-9][0-9_]*(:[0-5]?[0-9])+` (after the sign), `tail` checking the last part.
fn is_sexagesimal(body: &str, last: impl Fn(&str) -> bool) -> bool {
    let mut parts = body.split(':');
    let Some(first) = parts.next() else {
        return false;
    };
    let rest: Vec<&str> = parts.collect();
    if rest.is_empty()
        || !first.starts_with(|c: char| ('1'..='9').contains(&c))
        || !digits(first, |c| c.is_ascii_digit())
    {
        return false;
    }
    let sixty = |part: &str| {
        let bytes = part.as_bytes();
        match bytes {
            [d] => d.is_ascii_digit(),
            [t, d] => (b'0'..=b'5').contains(t) && d.is_ascii_digit(),
            _ => false,
        }
    };
    let (tail, middle) = rest.split_last().unwrap_or((&"", &[]));
    middle.iter().all(|part| sixty(part)) && last(tail)
}

/// PyYAML's implicit int pattern.
fn is_yaml_int(text: &str) -> bool {
    let (_, body) = unsigned(text);
    if let Some(binary) = body.strip_prefix("0b") {
        return digits(binary, |c| c == '0' || c == '1');
    }
    if let Some(hex) = body.strip_prefix("0x") {
        return digits(hex, |c| c.is_ascii_hexdigit());
    }
    if let Some(octal) = body.strip_prefix('0') {
        return octal.is_empty() || digits(octal, |c| ('0'..='7').contains(&c));
    }
    if body.contains(':') {
        return is_sexagesimal(body, |part| {
            matches!(part.as_bytes(), [d] if d.is_ascii_digit())
                || matches!(part.as_bytes(), [t, d] if (b'0'..=b'5').contains(t) && d.is_ascii_digit())
        });
    }
    body.starts_with(|c: char| ('1'..='9').contains(&c)) && digits(body, |c| c.is_ascii_digit())
}

/// PyYAML's `construct_yaml_int`: `Some(None)` when the number needs more than 64 bits.
fn yaml_int(text: &str) -> Option<Option<i128>> {
    let cleaned: String = text.chars().filter(|&c| c != '_').collect();
    let (negative, body) = unsigned(&cleaned);
    let magnitude: Option<u128> = if body == "0" {
        Some(0)
    } else if let Some(binary) = body.strip_prefix("0b") {
        Some(u128::from_str_radix(binary, 2).ok()?)
    } else if let Some(hex) = body.strip_prefix("0x") {
        Some(u128::from_str_radix(hex, 16).ok()?)
    } else if let Some(octal) = body.strip_prefix('0') {
        Some(u128::from_str_radix(octal, 8).ok()?)
    } else if body.contains(':') {
        let mut total: u128 = 0;
        for part in body.split(':') {
            let part: u128 = part.parse().ok()?;
            total = total.checked_mul(60)?.checked_add(part)?;
        }
        Some(total)
    } else {
        if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        body.parse::<u128>().ok().or(Some(u128::MAX))
    };
    let magnitude = magnitude?;
    let value = i128::try_from(magnitude)
        .ok()
        .map(|m| if negative { -m } else { m });
    Some(value.filter(|v| *v >= i128::from(i64::MIN) && *v <= i128::from(u64::MAX)))
}

/// PyYAML's implicit float pattern.
fn is_yaml_float(text: &str) -> bool {
    let (_, body) = unsigned(text);
    if matches!(body, ".inf" | ".Inf" | ".INF") {
        return true;
    }
    if matches!(text, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    // `[0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)?` or (unsigned only) `\.[0-9_]+(…)?`
    let exponent_ok = |rest: &str| match rest.find(['e', 'E']) {
        None => digits(rest, |c| c.is_ascii_digit()) || rest.is_empty(),
        Some(at) => {
            let (fraction, exponent) = (&rest[..at], &rest[at + 1..]);
            (fraction.is_empty() || digits(fraction, |c| c.is_ascii_digit()))
                && exponent.len() >= 2
                && exponent.starts_with(['-', '+'])
                && exponent[1..].bytes().all(|b| b.is_ascii_digit())
        }
    };
    if let Some(fraction) = text.strip_prefix('.') {
        let end = fraction.find(['e', 'E']).unwrap_or(fraction.len());
        return end > 0 && exponent_ok(fraction);
    }
    if body.contains(':') {
        return is_sexagesimal(body, |part| {
            let Some((whole, fraction)) = part.split_once('.') else {
                return false;
            };
            let whole_ok = match whole.as_bytes() {
                [d] => d.is_ascii_digit(),
                [t, d] => (b'0'..=b'5').contains(t) && d.is_ascii_digit(),
                _ => false,
            };
            whole_ok && (fraction.is_empty() || digits(fraction, |c| c.is_ascii_digit()))
        });
    }
    match body.split_once('.') {
        Some((whole, rest)) => {
            whole.starts_with(|c: char| c.is_ascii_digit())
                && digits(whole, |c| c.is_ascii_digit())
                && exponent_ok(rest)
        }
        None => false,
    }
}

/// PyYAML's `construct_yaml_float`.
fn yaml_float(text: &str) -> Option<f64> {
    let cleaned: String = text
        .chars()
        .filter(|&c| c != '_')
        .collect::<String>()
        .to_lowercase();
    let (negative, body) = unsigned(&cleaned);
    let sign = if negative { -1.0 } else { 1.0 };
    if body == ".inf" {
        return Some(sign * f64::INFINITY);
    }
    if body == ".nan" {
        return Some(f64::NAN);
    }
    if body.contains(':') {
        let mut total = 0.0;
        for part in body.split(':') {
            total = total * 60.0 + part.parse::<f64>().ok()?;
        }
        return Some(sign * total);
    }
    let body = if body.ends_with('.') || body.contains(".e") {
        body.replacen('.', ".0", 1)
    } else {
        body.to_owned()
    };
    body.parse::<f64>().ok().map(|value| sign * value)
}

/// A parameter of a notebook's parameters cell, as papermill infers it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Inferred {
    pub name: String,
    /// The annotation, else the `# type:` comment, else `None` (papermill's text).
    pub inferred_type_name: String,
    pub default: String,
    pub help: String,
    /// The type of the default's Python literal (`int`, `float`, `str`, `bool`,
    /// `NoneType`, `list`, `dict`, `set`, `tuple`, `bytes`), when it is one; papermill
    /// does not infer this (its text output shows `Unknown type`; `--json` adds it).
    pub value_type: Option<&'static str>,
}

/// The type of a Python literal's text, by its form (nothing is evaluated).
pub fn literal_type(text: &str) -> Option<&'static str> {
    let text = text.trim();
    match text {
        "True" | "False" => return Some("bool"),
        "None" => return Some("NoneType"),
        _ => {}
    }
    let unsigned = text.trim_start_matches(['-', '+']);
    let number = |body: &str| {
        let lower = body.to_ascii_lowercase();
        for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
            if let Some(digits) = lower.strip_prefix(prefix) {
                return (!digits.is_empty()
                    && digits.chars().all(|c| c == '_' || c.is_digit(radix)))
                .then_some("int");
            }
        }
        if !body.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
            return None;
        }
        let cleaned: String = body.chars().filter(|&c| c != '_').collect();
        if cleaned.bytes().all(|b| b.is_ascii_digit()) {
            return Some("int");
        }
        cleaned.parse::<f64>().ok().map(|_| "float")
    };
    if let Some(kind) = number(unsigned) {
        return Some(kind);
    }
    let prefix_end = text
        .find(['\'', '"'])
        .filter(|&at| text[..at].chars().all(|c| "rRbBuUfF".contains(c)) && at <= 2);
    if let Some(at) = prefix_end {
        let quote = &text[at..at + 1];
        if text.len() > at + 1 && text.ends_with(quote) {
            return Some(if text[..at].contains(['b', 'B']) {
                "bytes"
            } else {
                "str"
            });
        }
        return None;
    }
    let closed = |open: char, close: char| {
        text.len() >= 2 && text.starts_with(open) && text.ends_with(close)
    };
    if closed('[', ']') {
        Some("list")
    } else if closed('(', ')') {
        Some("tuple")
    } else if closed('{', '}') {
        // `{}` and `{k: v}` are dicts; `{1, 2}` a set.
        Some(
            if text == "{}" || top_level_colon(&text[1..text.len() - 1]) {
                "dict"
            } else {
                "set"
            },
        )
    } else {
        None
    }
}

/// A `:` outside brackets and strings.
fn top_level_colon(text: &str) -> bool {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in text.chars() {
        if let Some(open) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == open {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '[' | '(' | '{' => depth += 1,
            ']' | ')' | '}' => depth -= 1,
            ':' if depth == 0 => return true,
            _ => {}
        }
    }
    false
}

/// The first cell tagged `parameters` (any kind of cell, as papermill finds it): its
/// source, borrowed when the notebook holds it as one string.
pub fn parameters_cell(notebook: &serde_json::Value) -> Option<Cow<'_, str>> {
    let cells = notebook.get("cells")?.as_array()?;
    cells
        .iter()
        .find(|cell| {
            cell.pointer("/metadata/tags")
                .and_then(serde_json::Value::as_array)
                .is_some_and(|tags| tags.iter().any(|tag| tag == "parameters"))
        })
        .map(|cell| match cell.get("source") {
            Some(serde_json::Value::String(text)) => Cow::Borrowed(text.as_str()),
            Some(serde_json::Value::Array(parts)) => {
                Cow::Owned(parts.iter().filter_map(serde_json::Value::as_str).collect())
            }
            _ => Cow::Borrowed(""),
        })
}

/// Python's `str.splitlines()`, one line at a time.
fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let Some((at, c)) = rest.char_indices().find(|&(_, c)| {
            matches!(
                c,
                '\n' | '\r'
                    | '\x0b'
                    | '\x0c'
                    | '\x1c'
                    | '\x1d'
                    | '\x1e'
                    | '\u{85}'
                    | '\u{2028}'
                    | '\u{2029}'
            )
        }) else {
            let line = rest;
            rest = "";
            return Some(line);
        };
        let line = &rest[..at];
        let mut end = at + c.len_utf8();
        if c == '\r' && rest[end..].starts_with('\n') {
            end += 1;
        }
        rest = &rest[end..];
        Some(line)
    })
}

/// Python's `str.isspace()` for one character (as `strip()` and `\s` see it).
fn py_space(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\x1c'..='\x1f')
}

fn py_strip(text: &str) -> &str {
    text.trim_matches(py_space)
}

/// Python's `\w`.
fn word(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// The largest parameters cell `--help-notebook` inspects; a larger one is summarised.
pub const INSPECT_BYTES: usize = 1 << 20;
/// The most definitions `--help-notebook` lists; a cell with more is summarised.
pub const INSPECT_DEFINITIONS: usize = 10_000;

/// One definition of a parameters cell, borrowed from the text it was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Definition<'a> {
    name: &'a str,
    type_name: &'a str,
    default: &'a str,
    help: &'a str,
}

impl Definition<'_> {
    fn inferred(&self) -> Inferred {
        Inferred {
            name: self.name.to_owned(),
            inferred_type_name: self.type_name.to_owned(),
            default: self.default.to_owned(),
            help: self.help.to_owned(),
            value_type: literal_type(self.default),
        }
    }
}

/// Each definition of a parameters cell, in order, as papermill's
/// `PythonTranslator.inspect` infers them: assignments grouped over lines (a list or dict
/// may span several), a line with more than one `=` skipped, the comment on an
/// assignment's last line its help. `visit` returns `false` to stop. One pass over the
/// text into one reused buffer (at most the cell's size): nothing is kept per line or per
/// definition, so the work and the memory are linear in the cell by construction.
fn each_definition(source: &str, mut visit: impl FnMut(Definition<'_>) -> bool) {
    // The group's lines so far, flattened, but its last line (whose comment is kept).
    let mut flat = String::new();
    let mut last: Option<&str> = None;
    let mut finish = |flat: &mut String, last: &mut Option<&str>| -> bool {
        if let Some(line) = last.take() {
            flat.push_str(py_strip(line));
        }
        let going_on = flat.is_empty() || match_definition(flat).is_none_or(&mut visit);
        flat.clear();
        going_on
    };
    for line in split_lines(source) {
        let stripped = py_strip(line);
        if stripped.is_empty() || stripped.starts_with('#') {
            continue;
        }
        let equals = line.bytes().filter(|&b| b == b'=').count();
        if equals > 0 {
            if !finish(&mut flat, &mut last) {
                return;
            }
            if equals > 1 {
                continue;
            }
        }
        if let Some(previous) = last.replace(line) {
            match previous.find('#') {
                Some(at) => flat.push_str(py_strip(&previous[..at])),
                None => flat.push_str(py_strip(previous)),
            }
        }
    }
    finish(&mut flat, &mut last);
}

/// What `--help-notebook` shows of a parameters cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inspection {
    /// Its parameters, in order.
    Listed(Vec<Inferred>),
    /// Too large to list: why, in a sentence.
    NotListed(String),
}

/// The parameters a parameters cell defines, when it is at most [`INSPECT_BYTES`] long
/// and defines at most [`INSPECT_DEFINITIONS`]; else a summary.
pub fn inspect(source: &str) -> Inspection {
    inspect_within(source, INSPECT_BYTES, INSPECT_DEFINITIONS)
}

fn inspect_within(source: &str, bytes: usize, definitions: usize) -> Inspection {
    if source.len() > bytes {
        return Inspection::NotListed(format!(
            "the parameters cell is {} bytes, more than the {bytes} bytes boxpy inspects: its parameters are not listed (read the cell itself)",
            source.len()
        ));
    }
    let mut listed = Vec::new();
    let mut over = false;
    each_definition(source, |definition| {
        over = listed.len() >= definitions;
        if !over {
            listed.push(definition.inferred());
        }
        !over
    });
    if over {
        return Inspection::NotListed(format!(
            "the parameters cell defines more than {definitions} parameters: they are not listed (read the cell itself)"
        ));
    }
    Inspection::Listed(listed)
}

/// papermill's `PARAMETER_PATTERN` on one flattened definition.
fn match_definition(text: &str) -> Option<Definition<'_>> {
    // ^(?P<target>\w[\w_]*)
    let target_end = text
        .char_indices()
        .find(|&(_, c)| !word(c))
        .map_or(text.len(), |(at, _)| at);
    if target_end == 0 || text.starts_with(|c: char| !word(c)) {
        return None;
    }
    let target = &text[..target_end];
    let rest = text[target_end..].trim_start_matches(py_space);
    // (:\s*["']?(?P<annotation>\w[\w_\[\],\s]*)["']?\s*)?=
    let (annotation, rest) = match rest.strip_prefix(':') {
        Some(after) => {
            let after = after.trim_start_matches(py_space);
            let after = after.strip_prefix(['"', '\'']).unwrap_or(after);
            if !after.starts_with(word) {
                return None;
            }
            let end = after
                .char_indices()
                .find(|&(_, c)| !(word(c) || matches!(c, '[' | ']' | ',') || py_space(c)))
                .map_or(after.len(), |(at, _)| at);
            let annotation = &after[..end];
            let tail = &after[end..];
            let tail = tail.strip_prefix(['"', '\'']).unwrap_or(tail);
            let tail = tail.trim_start_matches(py_space);
            (Some(annotation), tail)
        }
        None => (None, rest),
    };
    let rest = rest.strip_prefix('=')?.trim_start_matches(py_space);
    // (?P<value>.*?)(\s*#\s*(type:\s*(?P<type_comment>[^\s]*)\s*)?(?P<help>.*))?$
    let (value, comment) = match rest.find('#') {
        Some(at) => (rest[..at].trim_end_matches(py_space), Some(&rest[at + 1..])),
        None => (rest, None),
    };
    let (type_comment, help) = match comment {
        Some(comment) => {
            let comment = comment.trim_start_matches(py_space);
            match comment.strip_prefix("type:") {
                Some(after) => {
                    let after = after.trim_start_matches(py_space);
                    let end = after.find(py_space).unwrap_or(after.len());
                    let kind = &after[..end];
                    (Some(kind), after[end..].trim_start_matches(py_space))
                }
                None => (None, comment),
            }
        }
        None => (None, ""),
    };
    let type_name = annotation
        .filter(|text| !text.is_empty())
        .or(type_comment.filter(|text| !text.is_empty()))
        .unwrap_or("None");
    Some(Definition {
        name: py_strip(target),
        type_name: py_strip(type_name),
        default: py_strip(value),
        help: py_strip(help),
    })
}

/// `--help-notebook`'s lines, as papermill prints them after its usage line.
pub fn help_text(shown: &str, notebook: &serde_json::Value) -> String {
    let mut text = format!(
        "Parameters inferred for notebook '{}':\n",
        crate::text::escape_control(shown)
    );
    let Some(source) = parameters_cell(notebook) else {
        text.push_str("\n  No cell tagged 'parameters'\n");
        return text;
    };
    let inferred = match inspect(&source) {
        Inspection::Listed(inferred) => inferred,
        Inspection::NotListed(why) => {
            text.push_str(&format!("\n  {}\n", capitalised(&why)));
            return text;
        }
    };
    if inferred.is_empty() {
        text.push_str("\n  Can't infer anything about this notebook's parameters. It may not have any parameter defined.\n");
        return text;
    }
    // The notebook's text, escaped as a report escapes program text: a default or a
    // comment cannot reach the terminal as ESC/OSC sequences or start a line of its own.
    use crate::text::escape_control;
    for parameter in inferred {
        let shown_type = if parameter.inferred_type_name == "None" {
            "Unknown type"
        } else {
            &parameter.inferred_type_name
        };
        let definition = format!(
            "  {}: {} (default {})",
            escape_control(&parameter.name),
            escape_control(shown_type),
            escape_control(&parameter.default)
        );
        let length = definition.chars().count();
        if length > 30 {
            text.push_str(&definition);
            if !parameter.help.is_empty() {
                text.push('\n');
                text.push_str(&" ".repeat(34));
                text.push_str(&escape_control(&parameter.help));
            }
        } else {
            text.push_str(&definition);
            text.push_str(&" ".repeat(34 - length));
            text.push_str(&escape_control(&parameter.help));
        }
        text.push('\n');
    }
    text
}

/// `--help-notebook --json`'s object: `parameters` is `null` and `not_listed` says why
/// when the cell is too large to list.
pub fn help_json(shown: &str, notebook: &serde_json::Value) -> serde_json::Value {
    let cell = parameters_cell(notebook);
    let (listed, not_listed) = match cell.as_deref().map(inspect) {
        None => (Some(Vec::new()), None),
        Some(Inspection::Listed(inferred)) => (Some(inferred), None),
        Some(Inspection::NotListed(why)) => (None, Some(why)),
    };
    let mut value = serde_json::json!({
        "notebook": shown,
        "parameters_cell": cell.is_some(),
        "parameters": listed,
    });
    if let Some(why) = not_listed {
        value["not_listed"] = serde_json::Value::String(why);
    }
    value
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// papermill's warnings before a run: parameters but no parameters cell, and each
/// parameter the parameters cell does not define.
pub fn warnings(parameters: &[Parameter], notebook: &serde_json::Value) -> Vec<String> {
    if parameters.is_empty() {
        return Vec::new();
    }
    let Some(source) = parameters_cell(notebook) else {
        return vec![
            "the notebook has no cell tagged `parameters`: the parameters go into a new cell at its top".to_owned(),
        ];
    };
    // Only the given names are looked for: one pass, nothing kept per definition.
    let mut defined: HashMap<&str, bool> = parameters
        .iter()
        .map(|parameter| (parameter.name.as_str(), false))
        .collect();
    let mut missing = defined.len();
    each_definition(&source, |definition| {
        if let Some(found) = defined.get_mut(definition.name) {
            if !*found {
                *found = true;
                missing -= 1;
            }
        }
        missing > 0
    });
    parameters
        .iter()
        .filter(|parameter| !defined[parameter.name.as_str()])
        .map(|parameter| {
            format!(
                "unknown parameter `{}`: the notebook's parameters cell does not define it",
                parameter.name
            )
        })
        .collect()
}

/// The inspection and the YAML reader, for the fuzzer (`fuzz/`).
pub fn inspect_for_fuzzing(text: &str) {
    let _ = inspect(text);
    each_definition(text, |_| true);
    let _ = yaml_value(text);
    let _ = decode_base64(text);
}

#[cfg(test)]
mod tests;
