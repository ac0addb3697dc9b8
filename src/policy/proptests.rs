//! Property tests: every valid policy round-trips exactly through `policy show`
//! ([`super::render::to_toml`]); every invalid one (a valid policy with one mistake) is
//! refused with a message that names the key, says what is expected, and carries no type
//! name of the serde mirror.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use toml::{Table, Value};

use super::render::to_toml;
use super::{load, LoadContext, Policy, PolicySource};
use crate::error::Error;

fn context(cwd: &Path) -> LoadContext {
    LoadContext {
        cwd: cwd.to_path_buf(),
        home: Some(PathBuf::from("/home/user")),
    }
}

fn load_text(text: &str) -> Result<Policy, Error> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.toml");
    std::fs::write(&file, text).unwrap();
    let mut policy = load(&PolicySource::File(file), &context(dir.path()))?;
    policy.name = "p".to_owned();
    Ok(policy)
}

fn identifier() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_]{0,12}"
}

fn path() -> impl Strategy<Value = String> {
    prop::collection::vec("[A-Za-z0-9_][A-Za-z0-9_.-]{0,8}", 1..4)
        .prop_map(|parts| format!("/{}", parts.join("/")))
}

/// Any string a variable may hold: no NUL, otherwise anything (controls, quotes, unicode).
fn variable_value() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::char::any().prop_filter("no NUL", |c| *c != '\0'),
        0..24,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

/// A size as a TOML value: a number of bytes, or a string in some unit.
fn size(min: u64) -> impl Strategy<Value = Value> {
    prop_oneof![
        (min..(1u64 << 50)).prop_map(|bytes| Value::Integer(bytes as i64)),
        (min.div_ceil(1 << 20).max(1)..4096u64)
            .prop_map(|count| Value::String(format!("{count}MiB"))),
        (min..(1u64 << 40)).prop_map(|bytes| Value::String(format!("{bytes}B"))),
        (min.div_ceil(1 << 10).max(1)..(1u64 << 30))
            .prop_map(|count| Value::String(format!("{count}K"))),
        Just(Value::String("unlimited".to_owned())),
    ]
}

fn duration(min_millis: u64) -> impl Strategy<Value = Value> {
    prop_oneof![
        (min_millis..86_400_000u64).prop_map(|millis| Value::String(format!("{millis}ms"))),
        (min_millis.div_ceil(1000).max(1)..86_400u64)
            .prop_map(|seconds| Value::String(format!("{seconds}s"))),
        (1u64..48).prop_map(|hours| Value::String(format!("{hours}h"))),
        (min_millis.div_ceil(100).max(1)..100_000u64).prop_map(|tenths| Value::String(format!(
            "{}.{}s",
            tenths / 10,
            tenths % 10
        ))),
        Just(Value::String("unlimited".to_owned())),
    ]
}

fn count() -> impl Strategy<Value = Value> {
    prop_oneof![
        (1i64..i64::MAX).prop_map(Value::Integer),
        Just(Value::String("unlimited".to_owned())),
    ]
}

fn mount() -> impl Strategy<Value = Value> {
    prop_oneof![
        path().prop_map(Value::String),
        (path(), path()).prop_map(|(source, dest)| Value::String(format!("{source}:{dest}"))),
        (path(), prop::option::of(path()), any::<bool>()).prop_map(|(source, dest, optional)| {
            let mut table = Table::new();
            table.insert("path".into(), Value::String(source));
            if let Some(dest) = dest {
                table.insert("dest".into(), Value::String(dest));
            }
            table.insert("optional".into(), Value::Boolean(optional));
            Value::Table(table)
        }),
    ]
}

fn strings(item: impl Strategy<Value = String>) -> impl Strategy<Value = Value> {
    prop::collection::vec(item, 0..4)
        .prop_map(|list| Value::Array(list.into_iter().map(Value::String).collect()))
}

/// Puts `value` at `table[section][key]` when it is `Some`.
fn put(root: &mut Table, section: &str, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        root.entry(section.to_owned())
            .or_insert_with(|| Value::Table(Table::new()))
            .as_table_mut()
            .unwrap()
            .insert(key.to_owned(), value);
    }
}

prop_compose! {
    fn valid_policy()(
        network in prop::option::of(prop_oneof![Just("none"), Just("localhost"), Just("full"), Just("proxy")]).boxed(),
        allow in prop::option::of(strings("(\\*\\.)?[a-z]{1,6}\\.(org|com)(:[1-9][0-9]{0,3})?")).boxed(),
        deny_hosts in prop::option::of(strings("[a-z]{1,6}\\.(org|com)|10\\.[0-9]\\.0\\.1")).boxed(),
        venv in prop::option::of(path()).boxed(),
        workdir in prop::option::of(path()).boxed(),
        read_only in prop::option::of(prop::collection::vec(mount(), 0..4)).boxed(),
        read_write in prop::option::of(prop::collection::vec(mount(), 0..4)).boxed(),
        tmp_size in prop::option::of(size(1)).boxed(),
        hide in prop::option::of(strings("!?[a-z*][a-z*.]{0,5}")).boxed(),
        protect in prop::option::of(strings("!?[a-z.]{0,5}[a-z]")).boxed(),
        timeout in prop::option::of(duration(100)).boxed(),
        cpu in prop::option::of(duration(1)).boxed(),
        memory in prop::option::of(size(16 << 20)).boxed(),
        processes in prop::option::of(count()).boxed(),
        file_size in prop::option::of(size(1)).boxed(),
        open_files in prop::option::of(count()).boxed(),
        output in prop::option::of(size(1)).boxed(),
        pass in prop::option::of(strings(identifier())).boxed(),
        set in prop::option::of(prop::collection::btree_map(identifier(), variable_value(), 0..6)).boxed(),
        deny in prop::option::of(strings("[a-z_]{1,6}(\\.[a-z_]{1,6})?")).boxed(),
        log in prop::option::of(path()).boxed(),
    ) -> Table {
        let mut root = Table::new();
        // Host rules need proxy mode (anything else is a policy error).
        let rules = allow.is_some() || deny_hosts.is_some();
        let network = if rules { Some("proxy") } else { network };
        put(&mut root, "network", "mode", network.map(|mode| Value::String(mode.to_owned())));
        put(&mut root, "network", "allow", allow);
        put(&mut root, "network", "deny", deny_hosts);
        put(&mut root, "python", "venv", venv.map(Value::String));
        put(&mut root, "filesystem", "workdir", workdir.map(Value::String));
        put(&mut root, "filesystem", "read_only", read_only.map(Value::Array));
        put(&mut root, "filesystem", "read_write", read_write.map(Value::Array));
        put(&mut root, "filesystem", "tmp_size", tmp_size);
        put(&mut root, "filesystem", "hide", hide);
        put(&mut root, "filesystem", "protect", protect);
        put(&mut root, "limits", "timeout", timeout);
        put(&mut root, "limits", "cpu", cpu);
        put(&mut root, "limits", "memory", memory);
        put(&mut root, "limits", "processes", processes);
        put(&mut root, "limits", "file_size", file_size);
        put(&mut root, "limits", "open_files", open_files);
        put(&mut root, "limits", "output", output);
        put(&mut root, "env", "pass", pass);
        put(&mut root, "env", "set", set.map(|set| {
            Value::Table(set.into_iter().map(|(key, value)| (key, Value::String(value))).collect())
        }));
        put(&mut root, "guards", "deny_imports", deny);
        put(&mut root, "audit", "log", log.map(Value::String));
        root
    }
}

/// Every key of the format, as (section, key).
pub(super) const KEYS: &[(&str, &str)] = &[
    ("python", "venv"),
    ("python", "interpreter"),
    ("filesystem", "workdir"),
    ("filesystem", "read_only"),
    ("filesystem", "read_write"),
    ("filesystem", "tmp_size"),
    ("filesystem", "hide"),
    ("filesystem", "protect"),
    ("network", "mode"),
    ("network", "allow"),
    ("network", "deny"),
    ("limits", "timeout"),
    ("limits", "cpu"),
    ("limits", "memory"),
    ("limits", "processes"),
    ("limits", "file_size"),
    ("limits", "open_files"),
    ("limits", "output"),
    ("env", "pass"),
    ("env", "set"),
    ("guards", "deny_imports"),
    ("audit", "log"),
];

/// One mistake, and the key its error must name.
#[derive(Debug, Clone)]
enum Mistake {
    /// A value of a type the key never takes.
    WrongType(usize, u8),
    /// A whole section of the wrong type (`limits = 5`, `limits = []`, `[[limits]]`).
    WrongSection(usize, u8),
    /// A key the format does not have.
    UnknownKey(usize, String),
    /// A value that cannot work at run time.
    Unusable(u8),
}

fn mistake() -> impl Strategy<Value = Mistake> {
    prop_oneof![
        (0..KEYS.len(), 0u8..6).prop_map(|(key, kind)| Mistake::WrongType(key, kind)),
        (0..KEYS.len(), 0u8..5).prop_map(|(key, kind)| Mistake::WrongSection(key, kind)),
        (0..KEYS.len(), "[a-z]{1,3}_[a-z]{1,5}")
            .prop_filter("not a key of the format", |(_, name)| {
                !KEYS.iter().any(|(_, key)| key == name)
            })
            .prop_map(|(key, name)| Mistake::UnknownKey(key, name)),
        (0u8..8).prop_map(Mistake::Unusable),
    ]
}

/// A TOML value of a type `key` never takes.
fn wrong_value(key: &str, kind: u8) -> Value {
    let text_key = matches!(
        key,
        "venv" | "interpreter" | "workdir" | "mode" | "timeout" | "cpu" | "log"
    );
    let list_key = matches!(
        key,
        "read_only"
            | "read_write"
            | "hide"
            | "protect"
            | "pass"
            | "deny_imports"
            | "allow"
            | "deny"
    );
    match kind {
        0 => Value::Boolean(true),
        1 => Value::Float(1.5),
        2 if text_key => Value::Integer(5),
        2 => Value::Boolean(false),
        3 if list_key => Value::Array(vec![Value::Integer(3)]),
        3 => Value::Array(Vec::new()),
        4 if key == "set" => Value::Array(Vec::new()),
        4 => Value::Table(Table::new()),
        _ if key == "set" => {
            let mut table = Table::new();
            table.insert("A".into(), Value::Integer(1));
            Value::Table(table)
        }
        _ => Value::Integer(-1),
    }
}

/// Applies `mistake` to the TOML text of `root`; returns the text and what its error must
/// contain.
fn apply(root: &Table, mistake: &Mistake) -> (String, String) {
    let mut root = root.clone();
    match mistake {
        Mistake::WrongType(index, kind) => {
            let (section, key) = KEYS[*index];
            put(&mut root, section, key, Some(wrong_value(key, *kind)));
            let wanted = format!("`{section}.{key}");
            (toml::to_string(&root).unwrap(), wanted)
        }
        Mistake::WrongSection(index, kind) => {
            let (section, _) = KEYS[*index];
            root.remove(section);
            let body = toml::to_string(&root).unwrap();
            let text = match kind {
                0 => format!("{section} = 5\n{body}"),
                1 => format!("{section} = []\n{body}"),
                2 => format!("{section} = \"x\"\n{body}"),
                3 => format!("{body}\n[[{section}]]\n"),
                _ => format!("{section} = [{{}}]\n{body}"),
            };
            (text, format!("`{section}`"))
        }
        Mistake::UnknownKey(index, name) => {
            let (section, _) = KEYS[*index];
            put(&mut root, section, name, Some(Value::Integer(1)));
            let wanted = format!("`{section}.{name}`");
            (toml::to_string(&root).unwrap(), wanted)
        }
        Mistake::Unusable(kind) => {
            let (section, key, value) = match kind {
                0 => ("limits", "timeout", Value::String("99ms".into())),
                1 => ("limits", "timeout", Value::String("0.4ms".into())),
                2 => ("limits", "memory", Value::Integer(10)),
                3 => ("limits", "memory", Value::String("1M".into())),
                4 => ("filesystem", "workdir", Value::String("/a\0b".into())),
                5 => (
                    "filesystem",
                    "read_only",
                    Value::Array(vec![Value::String("/x\0".into())]),
                ),
                6 => ("audit", "log", Value::String("x".repeat(128 * 1024))),
                _ => ("limits", "memory", Value::Integer(0)),
            };
            put(&mut root, section, key, Some(value));
            (toml::to_string(&root).unwrap(), format!("`{section}.{key}"))
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    /// A valid policy, shown and loaded back, is the same policy; shown again, the same
    /// text.
    #[test]
    fn valid_policies_round_trip_through_show(root in valid_policy()) {
        let text = toml::to_string(&root).unwrap();
        let policy = load_text(&text).unwrap_or_else(|error| panic!("{text}\n{error:?}"));
        let shown = to_toml(&policy);
        let again = load_text(&shown).unwrap_or_else(|error| panic!("{shown}\n{error:?}"));
        prop_assert_eq!(&again, &policy, "{}", shown);
        prop_assert_eq!(to_toml(&again), shown);
    }

    /// A valid policy with one mistake is refused with an error naming the key, the
    /// expected form, and no Rust type name.
    #[test]
    fn invalid_policies_name_the_key(root in valid_policy(), mistake in mistake()) {
        let (text, wanted) = apply(&root, &mistake);
        let error = load_text(&text).expect_err(&text);
        let Error::Policy { message, hint, location } = &error else {
            panic!("{text}\n{error:?}");
        };
        prop_assert!(message.contains(&wanted), "{:?}: wanted {} in {}\n{}", mistake, wanted, message, text);
        prop_assert!(location.line.is_some(), "{:?}: {}", mistake, message);
        prop_assert!(hint.is_some(), "{:?}: {}", mistake, message);
        for internal in ["Raw", "struct ", "Spanned", "SizeValue", "invalid type"] {
            prop_assert!(!message.contains(internal), "{}", message);
        }
    }
}

/// The fuzzer's stored policy corpus (`fuzz/corpus/policy`, inputs that reached new code)
/// replayed through its target, which checks that a loaded policy round-trips through
/// `policy show` and that every refusal says something without a serde type name.
#[test]
fn fuzz_corpus_keeps_the_invariants() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/policy");
    let Ok(entries) = std::fs::read_dir(&corpus) else {
        return;
    };
    let separator = b"\n#---\n";
    for entry in entries.flatten() {
        let data = std::fs::read(entry.path()).unwrap();
        let (text, base) = match data
            .windows(separator.len())
            .position(|window| window == separator)
        {
            Some(at) => (&data[..at], &data[at + separator.len()..]),
            None => (&data[..], &b""[..]),
        };
        let outcome = std::panic::catch_unwind(|| crate::fuzzing::policy(text, base));
        assert!(outcome.is_ok(), "{}", entry.path().display());
    }
}
