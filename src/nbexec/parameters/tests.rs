use super::*;

fn json(value: &Value) -> String {
    serde_json::to_string(value).unwrap()
}

fn one(text: &str) -> Value {
    let mut entries = yaml_mapping(&format!("x: {text}")).unwrap();
    assert_eq!(entries.len(), 1, "{text}");
    entries.remove(0).1
}

#[test]
fn yaml_scalars_resolve_as_pyyaml_safe_loader() {
    let cases: &[(&str, &str)] = &[
        ("1", "1"),
        ("-17", "-17"),
        ("1_000", "1000"),
        ("017", "15"),
        ("0o17", "\"0o17\""),
        ("0x1F", "31"),
        ("0b101", "5"),
        ("1:30", "90"),
        ("0", "0"),
        ("1.5", "1.5"),
        ("1.0e+3", "1000.0"),
        ("1e3", "\"1e3\""),
        ("1.", "1.0"),
        (".5", "0.5"),
        (".inf", "{\"$float\":\"inf\"}"),
        ("-.inf", "{\"$float\":\"-inf\"}"),
        (".nan", "{\"$float\":\"nan\"}"),
        ("yes", "true"),
        ("Off", "false"),
        ("TRUE", "true"),
        ("tRUE", "\"tRUE\""),
        ("~", "null"),
        ("null", "null"),
        ("", "null"),
        ("'1'", "\"1\""),
        ("\"yes\"", "\"yes\""),
        ("2024-01-02", "\"2024-01-02\""),
        ("!!str 12", "\"12\""),
        ("!!int '12'", "12"),
        ("!!float '2'", "2.0"),
        ("! '12'", "12"),
        ("&anchor 5", "5"),
        ("[1, a, {b: 2}]", "[1,\"a\",{\"b\":2}]"),
        (
            "{1: a, true: b, null: c, 1.5: d}",
            "{\"1\":\"a\",\"True\":\"b\",\"None\":\"c\",\"1.5\":\"d\"}",
        ),
        ("18446744073709551615", "18446744073709551615"),
    ];
    for (text, expected) in cases {
        assert_eq!(json(&one(text)), *expected, "YAML `{text}`");
    }
}

#[test]
fn yaml_refusals_name_the_problem() {
    for (text, fragment) in [
        ("x: !!binary aGk=", "!!binary"),
        ("x: !!timestamp 2024-01-01", "!!timestamp"),
        ("x: !!set {a, b}", "!!set"),
        ("x: &a 1\ny: *a", "aliases"),
        ("- 1\n- 2", "not a mapping"),
        ("x: 1\n---\ny: 2", "several"),
        ("x: [1", "not valid YAML"),
        ("x: 123456789012345678901234567890", "64 bits"),
        ("? [a]\n: 1", "list or a mapping"),
        ("x: !custom 1", "!custom"),
    ] {
        let error = yaml_mapping(text).unwrap_err();
        assert!(error.contains(fragment), "{text}: {error}");
    }
    let deep = format!("x: {}{}", "[".repeat(100), "]".repeat(100));
    assert!(yaml_mapping(&deep).unwrap_err().contains("deeper"));
    assert_eq!(yaml_mapping("").unwrap(), Vec::new());
    assert_eq!(yaml_mapping("# nothing\n").unwrap(), Vec::new());
}

#[test]
fn base64_decodes_standard_and_url_alphabets() {
    assert_eq!(decode_base64("YWxwaGE6IDAuNQ==").unwrap(), b"alpha: 0.5");
    assert_eq!(decode_base64("YWxwaGE6IDAuNQ").unwrap(), b"alpha: 0.5");
    assert_eq!(decode_base64("YW Jj\n").unwrap(), b"abc");
    assert_eq!(decode_base64("").unwrap(), b"");
    assert!(decode_base64("a").is_none());
    assert!(decode_base64("ab=c").is_none());
    assert!(decode_base64("a$b").is_none());
}

#[test]
fn sources_merge_in_papermill_order() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.yaml"), "a: from-file\nb: 2\nc: [1, 2]\n").unwrap();
    let files = vec![std::path::PathBuf::from("p.yaml")];
    let base64 = vec!["YTogZnJvbS1iNjQKejogMQ==".to_owned()]; // a: from-b64\nz: 1
    let yaml = vec!["b: 3".to_owned()];
    let papermill = vec!["c".to_owned(), "007".to_owned()];
    let raw = vec![
        "a".to_owned(),
        "raw".to_owned(),
        "d".to_owned(),
        "x".to_owned(),
    ];
    let merged = merge(
        &Sources {
            base64: &base64,
            files: &files,
            yaml: &yaml,
            papermill: &papermill,
            raw: &raw,
        },
        dir.path(),
    )
    .unwrap();
    insta::assert_snapshot!(serde_json::to_string(&merged).unwrap(), @r#"[["a","raw","raw"],["z","json",1],["b","json",3],["c","papermill","007"],["d","raw","x"]]"#);
}

#[test]
fn bad_sources_are_usage_errors_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let check = |sources: Sources<'_>, fragment: &str| {
        let error = merge(&sources, dir.path()).unwrap_err();
        assert_eq!(error.exit_code(), 125);
        assert!(error.summary().contains(fragment), "{}", error.summary());
        assert!(!error.hints().is_empty());
    };
    let bad = vec!["not base64!".to_owned()];
    check(
        Sources {
            base64: &bad,
            ..Default::default()
        },
        "-b: not base64",
    );
    let files = vec![std::path::PathBuf::from("missing.yaml")];
    check(
        Sources {
            files: &files,
            ..Default::default()
        },
        "-f missing.yaml: cannot read",
    );
    let yaml = vec!["[1, 2]".to_owned()];
    check(
        Sources {
            yaml: &yaml,
            ..Default::default()
        },
        "-y: the YAML is not a mapping",
    );
    let names = vec!["1x".to_owned(), "1".to_owned()];
    check(
        Sources {
            papermill: &names,
            ..Default::default()
        },
        "-p: the parameter name `1x` is not a Python identifier",
    );
    let keyword = vec!["class".to_owned(), "1".to_owned()];
    check(
        Sources {
            raw: &keyword,
            ..Default::default()
        },
        "`class` is a Python keyword",
    );
    let yaml_key = vec!["a-b: 1".to_owned()];
    check(
        Sources {
            yaml: &yaml_key,
            ..Default::default()
        },
        "-y: the parameter name `a-b`",
    );
}

#[test]
fn parameters_are_capped_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = vec!["a: 1\nb: 2\na: 3".to_owned()];
    let sources = Sources {
        yaml: &yaml,
        ..Default::default()
    };
    // A repeated name is one parameter.
    let merged = merge_at_most(&sources, dir.path(), 2).unwrap();
    assert_eq!(
        serde_json::to_string(&merged).unwrap(),
        r#"[["a","json",3],["b","json",2]]"#
    );
    let error = merge_at_most(&sources, dir.path(), 1).unwrap_err();
    assert_eq!(error.exit_code(), 125);
    assert_eq!(error.summary(), "-y: more than 1 parameters");
    assert!(!error.hints().is_empty());
    // The real cap, from `-r`: 100,000 distinct names pass, one more is refused.
    let mut raw: Vec<String> = (0..PARAMETER_LIMIT)
        .flat_map(|i| [format!("p{i}"), String::new()])
        .collect();
    let sources = Sources {
        raw: &raw,
        ..Default::default()
    };
    assert_eq!(merge(&sources, dir.path()).unwrap().len(), PARAMETER_LIMIT);
    raw.extend(["one_more".to_owned(), String::new()]);
    let sources = Sources {
        raw: &raw,
        ..Default::default()
    };
    let error = merge(&sources, dir.path()).unwrap_err();
    assert_eq!(error.summary(), "-r: more than 100000 parameters");
}

#[test]
fn many_yaml_keys_keep_the_first_place() {
    // 50,000 keys, then the first again: the later value stands where the first did
    // (a look-up per key: a linear search per key took minutes at a 4 MiB file).
    let mut text: String = (0..50_000).map(|i| format!("k{i}: {i}\n")).collect();
    text.push_str("k0: last\nnested: {x: 1, y: 2, x: 3}\n");
    let entries = yaml_mapping(&text).unwrap();
    assert_eq!(entries.len(), 50_001);
    assert_eq!(entries[0], ("k0".to_owned(), Value::Str("last".to_owned())));
    assert_eq!(entries[49_999].0, "k49999");
    assert_eq!(
        entries[50_000].1,
        Value::Map(vec![
            ("x".to_owned(), Value::Int(3)),
            ("y".to_owned(), Value::Int(2))
        ])
    );
}

#[test]
fn python_float_repr() {
    for (value, text) in [
        (1.5, "1.5"),
        (2.0, "2.0"),
        (1e16, "1e+16"),
        (1e-5, "1e-05"),
        (0.0001, "0.0001"),
        (123456789.0, "123456789.0"),
        (-2.5e-7, "-2.5e-07"),
    ] {
        assert_eq!(python_float(value), text);
    }
}

#[test]
fn inspection_follows_papermill() {
    let source = "# Parameters\nalpha = 0.1  # the learning rate\nname: str = 'west' # type: ignored\ncount = 3 # type: int how many\nitems = [\n  1, # one\n  2,\n]  # the items\na = b = 1\nflag: \"bool\" = True\nshape: np.ndarray = None\nx=1#bare\ndata: Dict[str, int] = {}\n";
    insta::assert_json_snapshot!(listed(source), @r#"
    [
      {
        "name": "alpha",
        "inferred_type_name": "None",
        "default": "0.1",
        "help": "the learning rate",
        "value_type": "float"
      },
      {
        "name": "name",
        "inferred_type_name": "str",
        "default": "'west'",
        "help": "",
        "value_type": "str"
      },
      {
        "name": "count",
        "inferred_type_name": "int",
        "default": "3",
        "help": "how many",
        "value_type": "int"
      },
      {
        "name": "items",
        "inferred_type_name": "None",
        "default": "[1,2,]",
        "help": "the items",
        "value_type": "list"
      },
      {
        "name": "flag",
        "inferred_type_name": "bool",
        "default": "True",
        "help": "",
        "value_type": "bool"
      },
      {
        "name": "x",
        "inferred_type_name": "None",
        "default": "1",
        "help": "bare",
        "value_type": "int"
      },
      {
        "name": "data",
        "inferred_type_name": "Dict[str, int]",
        "default": "{}",
        "help": "",
        "value_type": "dict"
      }
    ]
    "#);
}

fn listed(source: &str) -> Vec<Inferred> {
    match inspect(source) {
        Inspection::Listed(inferred) => inferred,
        Inspection::NotListed(why) => panic!("{why}"),
    }
}

#[test]
fn a_huge_parameters_cell_is_summarised_not_listed() {
    let cell = |source: String| {
        serde_json::json!({"cells": [
            {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": source},
        ]})
    };
    let lines = |count: usize| -> String { (0..count).map(|i| format!("a{i}=1 # h\n")).collect() };
    // Over the byte cap (1 MiB): not inspected at all, a summary naming the size.
    let big = lines(200_000);
    assert!(big.len() > INSPECT_BYTES);
    let summary = format!(
        "the parameters cell is {} bytes, more than the 1048576 bytes boxpy inspects: its parameters are not listed (read the cell itself)",
        big.len()
    );
    assert_eq!(inspect(&big), Inspection::NotListed(summary.clone()));
    let notebook = cell(big.clone());
    let text = help_text("n.ipynb", &notebook);
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.contains("  The parameters cell is"), "{text}");
    let json = help_json("n.ipynb", &notebook);
    assert_eq!(json["parameters_cell"], true);
    assert!(json["parameters"].is_null());
    assert_eq!(json["not_listed"], summary.as_str());
    // Under the byte cap but over 10,000 definitions: the inspection stops at the cap.
    let many = lines(INSPECT_DEFINITIONS + 1);
    assert!(many.len() < INSPECT_BYTES);
    assert_eq!(
        inspect(&many),
        Inspection::NotListed(
            "the parameters cell defines more than 10000 parameters: they are not listed (read the cell itself)".to_owned()
        )
    );
    assert_eq!(
        listed(&lines(INSPECT_DEFINITIONS)).len(),
        INSPECT_DEFINITIONS
    );
    let json = help_json("n.ipynb", &cell(lines(3)));
    assert_eq!(json["parameters"].as_array().unwrap().len(), 3);
    assert!(json.get("not_listed").is_none());
    // The warnings read a cell of any size and keep only the given names; the pass over
    // the cell stops once every given name is found.
    let p = |name: &str| Parameter {
        name: name.to_owned(),
        kind: Kind::Raw,
        value: Value::Str(String::new()),
    };
    assert_eq!(
        warnings(&[p("a199999"), p("zz"), p("a0")], &notebook),
        vec!["unknown parameter `zz`: the notebook's parameters cell does not define it"]
    );
    assert!(warnings(&[p("a0"), p("a1")], &notebook).is_empty());
    let mut visited = 0;
    each_definition(&big, |definition| {
        visited += 1;
        definition.name != "a2"
    });
    assert_eq!(visited, 3);
    let mut visited = 0;
    each_definition(&big, |_| {
        visited += 1;
        true
    });
    assert_eq!(visited, 200_000);
}

#[test]
fn help_text_lays_out_as_papermill() {
    let notebook = serde_json::json!({"cells": [
        {"cell_type": "markdown", "source": "# t", "metadata": {}},
        {"cell_type": "code", "metadata": {"tags": ["parameters"]},
         "source": ["a = 1 # short\n", "a_long_parameter_name: float = 0.25 # help on the next line\n", "b = 'x'\n"]},
    ]});
    insta::assert_snapshot!(help_text("n.ipynb", &notebook), @r"
    Parameters inferred for notebook 'n.ipynb':
      a: Unknown type (default 1)     short
      a_long_parameter_name: float (default 0.25)
                                      help on the next line
      b: Unknown type (default 'x')
    ");
    let none = serde_json::json!({"cells": []});
    assert!(help_text("n.ipynb", &none).contains("No cell tagged 'parameters'"));
    let empty = serde_json::json!({"cells": [{"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": "print(1)"}]});
    assert!(help_text("n.ipynb", &empty).contains("Can't infer anything"));
}

#[test]
fn warnings_as_papermill() {
    let p = |name: &str| Parameter {
        name: name.to_owned(),
        kind: Kind::Raw,
        value: Value::Str(String::new()),
    };
    let notebook = serde_json::json!({"cells": [
        {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": "a = 1\n"},
    ]});
    assert!(warnings(&[], &notebook).is_empty());
    assert_eq!(
        warnings(&[p("a"), p("b")], &notebook),
        vec!["unknown parameter `b`: the notebook's parameters cell does not define it"]
    );
    let bare = serde_json::json!({"cells": []});
    assert!(warnings(&[p("a")], &bare)[0].contains("no cell tagged `parameters`"));
}

#[test]
fn split_lines_as_python() {
    let split = |text| split_lines(text).collect::<Vec<_>>();
    assert_eq!(split("a\r\nb\rc\n\nd"), vec!["a", "b", "c", "", "d"]);
    assert_eq!(split("a\n"), vec!["a"]);
    assert_eq!(split("a\n\n"), vec!["a", ""]);
    assert_eq!(split("é\u{2028}x"), vec!["é", "x"]);
    assert_eq!(split(""), Vec::<&str>::new());
}

#[test]
fn literal_types_by_form() {
    for (text, kind) in [
        ("1", Some("int")),
        ("-1_000", Some("int")),
        ("0x1F", Some("int")),
        ("1.5", Some("float")),
        ("1e3", Some("float")),
        (".5", Some("float")),
        ("'a'", Some("str")),
        ("f\"{x}\"", Some("str")),
        ("b'x'", Some("bytes")),
        ("True", Some("bool")),
        ("None", Some("NoneType")),
        ("[1, 2]", Some("list")),
        ("(1,)", Some("tuple")),
        ("{}", Some("dict")),
        ("{'a': 1}", Some("dict")),
        ("{1, 2}", Some("set")),
        ("{'a:b'}", Some("set")),
        ("np.zeros(3)", None),
        ("x", None),
        ("'open", None),
        ("{", None),
        ("[", None),
        ("'", None),
        ("", None),
    ] {
        assert_eq!(literal_type(text), kind, "{text}");
    }
}

/// The grouping as it was written first (a line list, a string per group), to check the
/// one-pass reader against it.
fn grouped_as_before(source: &str) -> Vec<Inferred> {
    let flatten = |lines: &[&str]| -> String {
        let mut flat = String::new();
        if let Some((last, head)) = lines.split_last() {
            for line in head {
                match line.find('#') {
                    Some(at) => flat.push_str(py_strip(&line[..at])),
                    None => flat.push_str(py_strip(line)),
                }
            }
            flat.push_str(py_strip(last));
        }
        flat
    };
    let mut groups = Vec::new();
    let mut accumulator: Vec<&str> = Vec::new();
    for line in split_lines(source) {
        let stripped = py_strip(line);
        if stripped.is_empty() || stripped.starts_with('#') {
            continue;
        }
        let equals = line.matches('=').count();
        if equals > 0 {
            groups.push(flatten(&accumulator));
            accumulator.clear();
            if equals > 1 {
                continue;
            }
        }
        accumulator.push(line);
    }
    groups.push(flatten(&accumulator));
    groups
        .iter()
        .filter_map(|group| match_definition(group).map(|found| found.inferred()))
        .collect()
}

proptest::proptest! {
    /// The one-pass reader finds what the grouping over a list of lines found.
    #[test]
    fn one_pass_inspection_matches_the_grouping(text in "[ a-c:\t\n\r\u{85}#=\\[\\],1'\"]{0,120}") {
        proptest::prop_assert_eq!(listed(&text), grouped_as_before(&text));
    }

    /// The inspection, the YAML reader and the base64 decoder return on any text (the
    /// notebook is untrusted; the fuzz target `nbexec_parameters` goes further).
    #[test]
    fn readers_never_panic(text in "[ -~\t\n\r\u{85}\u{2028}é#=:'\"\\[\\]{}()!&*|>-]{0,80}") {
        inspect_for_fuzzing(&text);
        let _ = literal_type(&text);
        for line in text.lines() {
            let _ = literal_type(line);
        }
    }
}
