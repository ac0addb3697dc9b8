//! The rule that keeps boxpy's layers apart: a module imports only modules of a lower layer
//! (ARCHITECTURE.md, "What may import what"). Read from the sources: every `crate::NAME`
//! path and every name in a `use crate::{...}` group, outside comments and test code.
//!
//! ARCHITECTURE.md's import graph is this test's output: `BOXPY_UPDATE_DOCS=1 cargo test
//! --test integration layers::` rewrites it, and the test fails when it is out of date.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Low to high. A module may import the modules of the layers before its own, never its
/// own layer's other modules nor a later layer's.
const LAYERS: &[&[&str]] = &[
    &["units"],
    &["exit", "bounded", "text"],
    &["network"],
    &["error"],
    &["policy"],
    &["cli"],
    &["host"],
    &["venv"],
    &["sandbox"],
    &["hostfs"],
    &["leftovers"],
    &["hints"],
    &["settings"],
    &["exec"],
    &["backend"],
    &["cache"],
    &["doctor"],
    &["report"],
    &["audit"],
    &["nbexec"],
    &["commands"],
    &["lib"],
];

/// Modules outside the layering: the binary's `main`, and the entry points of the fuzz targets
/// and of the own-cost benchmark,
/// which reach each parser as boxpy reaches it.
const OUTSIDE: &[&str] = &["main", "fuzzing", "benching"];

/// Imports that still break the rule, each to be removed; none may be added.
const KNOWN: &[(&str, &str)] = &[];

fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            found.push(path);
        }
    }
}

/// The module a source file belongs to: `src/exec/init.rs` → `exec`, `src/lib.rs` → `lib`.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap();
    let first = relative.components().next().unwrap().as_os_str();
    Path::new(first)
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn is_test_file(file: &Path) -> bool {
    let name = file.file_name().unwrap().to_string_lossy();
    name == "tests.rs" || name == "proptests.rs" || name.ends_with("_tests.rs")
}

/// The code of a file without comments and without its test module (`#[cfg(test)]` followed
/// by `mod NAME {`, which runs to the end of the file by convention).
fn code_of(text: &str) -> String {
    let mut code = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]")
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod "))
        {
            break;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        // A trailing comment (a string holding `//` keeps its code; good enough here).
        let line = match line.find("// ") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        };
        code.push_str(line);
        code.push('\n');
    }
    code
}

/// The top-level modules a piece of code names through `crate::`.
fn imports_of(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `boxcrate::` or the like
        }
        if let Some(group) = rest.strip_prefix('{') {
            // `use crate::{a, b::{c, d}, e}`: the names at depth 0.
            let mut depth = 0;
            let mut name = String::new();
            let mut at_start = true;
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        if !name.is_empty() {
                            found.insert(std::mem::take(&mut name));
                        }
                        at_start = true;
                    }
                    c if depth == 0 && at_start && (c.is_alphanumeric() || c == '_') => {
                        name.push(c)
                    }
                    _ if depth == 0 && !name.is_empty() => {
                        found.insert(std::mem::take(&mut name));
                        at_start = false;
                    }
                    _ => {}
                }
            }
            if !name.is_empty() {
                found.insert(name);
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

/// The modules the crate root names as `NAME::` (its own modules need no `crate::`).
fn root_imports(code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    modules
        .iter()
        .filter(|module| {
            code.match_indices(&format!("{module}::")).any(|(at, _)| {
                !code[..at]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
            })
        })
        .cloned()
        .collect()
}

/// Module → the other modules it imports, for every module of the crate.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|file| module_of(&src, file)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let module = module_of(&src, file);
        let entry = graph.entry(module.clone()).or_default();
        if is_test_file(file) {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        let mut imports = imports_of(&code_of(&text));
        if module == "lib" {
            // The crate root names its modules without `crate::`.
            imports.extend(root_imports(&code_of(&text), &modules));
        }
        for import in imports {
            // Items of lib.rs (`crate::execute`) count as `lib`.
            let import = if modules.contains(&import) {
                import
            } else {
                "lib".to_owned()
            };
            if import != module {
                entry.insert(import);
            }
        }
    }
    graph
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The graph as ARCHITECTURE.md shows it: one line a module, lowest layer first.
fn rendered(graph: &BTreeMap<String, BTreeSet<String>>) -> String {
    let mut modules: Vec<&String> = graph
        .keys()
        .filter(|module| !OUTSIDE.contains(&module.as_str()))
        .collect();
    modules.sort_by_key(|module| (layer_of(module), module.as_str()));
    let mut text = String::new();
    for module in modules {
        let imports: Vec<&str> = graph[module].iter().map(String::as_str).collect();
        let imports = if imports.is_empty() {
            "(nothing)".to_owned()
        } else {
            imports.join(", ")
        };
        text.push_str(&format!("{module:<10} → {imports}\n"));
    }
    text
}

#[test]
fn every_module_imports_only_lower_layers() {
    let graph = graph();
    let mut broken = Vec::new();
    for (module, imports) in &graph {
        if OUTSIDE.contains(&module.as_str()) {
            continue;
        }
        let Some(layer) = layer_of(module) else {
            broken.push(format!(
                "`{module}` is in no layer: add it to LAYERS in tests/integration/layers.rs and to ARCHITECTURE.md"
            ));
            continue;
        };
        for import in imports {
            let allowed = layer_of(import).is_some_and(|other| other < layer);
            let known = KNOWN.contains(&(module.as_str(), import.as_str()));
            if !allowed && !known && !OUTSIDE.contains(&import.as_str()) {
                broken.push(format!(
                    "`{module}` imports `{import}`, a layer at or above its own"
                ));
            }
        }
    }
    for (module, import) in KNOWN {
        if !graph
            .get(*module)
            .is_some_and(|imports| imports.contains(*import))
        {
            broken.push(format!(
                "`{module}` no longer imports `{import}`: remove it from KNOWN"
            ));
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn architecture_shows_the_real_import_graph() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let (start, end) = (
        "<!-- imports: begin -->\n```text\n",
        "```\n<!-- imports: end -->",
    );
    let from = text
        .find(start)
        .expect("ARCHITECTURE.md has the imports block")
        + start.len();
    let to = from + text[from..].find(end).expect("the imports block ends");
    let expected = rendered(&graph());
    if std::env::var_os("BOXPY_UPDATE_DOCS").is_some() {
        let updated = format!("{}{}{}", &text[..from], expected, &text[to..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    assert_eq!(
        &text[from..to],
        expected,
        "ARCHITECTURE.md's import graph is out of date: run `BOXPY_UPDATE_DOCS=1 cargo test --test integration layers::`"
    );
}

#[test]
fn the_reader_finds_grouped_and_nested_imports() {
    let code = code_of(
        "use crate::{a, b::{c, d}, e::f};\n// crate::comment\nlet x = crate::g::h();\n#[cfg(test)]\nmod tests {\n use crate::z;\n}\n",
    );
    let found: Vec<String> = imports_of(&code).into_iter().collect();
    assert_eq!(found, ["a", "b", "e", "g"]);
}
