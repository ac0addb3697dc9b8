//! The README's examples run as written.
//!
//! Each ```` ```console ```` block preceded by `<!-- readme-test: dir=DIR -->` is run in a
//! copy of the repository's `DIR` (the examples have no venv, so Debian's `python3` on
//! `PATH` runs them, as it would on a fresh machine). `$ cd X` changes the directory
//! (for the blocks after it too, as for a reader);
//! every other `$ ` line runs through `sh -c` with the built `boxpy` first on `PATH`.
//! The lines shown under a command must appear in its output, in order, after the
//! machine's own paths and Python version are put back to the README's placeholders
//! (`/home/you/boxpy`, `/home/you`, `3.11.7`); `…` stands for lines left out.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{Runner, Workspace, BOXPY};

/// One `$ command` and the output lines the README shows for it.
#[derive(Debug)]
struct Step {
    command: String,
    shown: Vec<String>,
}

/// The tested blocks of `readme`: the directory each runs in, and its steps.
fn tested_blocks(readme: &str) -> Vec<(String, Vec<Step>)> {
    let mut blocks = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        let Some(dir) = line
            .strip_prefix("<!-- readme-test: dir=")
            .and_then(|rest| rest.strip_suffix(" -->"))
        else {
            continue;
        };
        assert_eq!(
            lines.next(),
            Some("```console"),
            "a readme-test marker must be followed by a console block"
        );
        let mut steps: Vec<Step> = Vec::new();
        for line in lines.by_ref() {
            if line == "```" {
                break;
            }
            if let Some(command) = line.strip_prefix("$ ") {
                steps.push(Step {
                    command: command.to_owned(),
                    shown: Vec::new(),
                });
            } else if let Some(step) = steps.last_mut() {
                step.shown.push(line.to_owned());
            }
        }
        blocks.push((dir.to_owned(), steps));
    }
    blocks
}

/// The machine's paths and Python version, put back to the README's placeholders.
fn normalize(text: &str, repository: &Path, home: &Path) -> String {
    let mut text = text.replace(&*repository.to_string_lossy(), "/home/you/boxpy");
    text = text.replace(&*home.to_string_lossy(), "/home/you");
    regex_lite_replace(&text, "Python 3.", |rest| {
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        (end, "11.7".to_owned())
    })
}

/// Replaces, after each `marker`, the prefix of the rest that `replace` measures.
fn regex_lite_replace(
    text: &str,
    marker: &str,
    replace: impl Fn(&str) -> (usize, String),
) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(marker) {
        out.push_str(&rest[..at + marker.len()]);
        rest = &rest[at + marker.len()..];
        let (skip, with) = replace(rest);
        out.push_str(&with);
        rest = &rest[skip..];
    }
    out.push_str(rest);
    out
}

fn copy_tree(from: &Path, to: &Path, runner: &Runner) {
    std::fs::create_dir_all(to).expect("create the copy");
    runner.chown(to);
    for entry in std::fs::read_dir(from).expect("read the directory") {
        let entry = entry.expect("an entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a type").is_dir() {
            copy_tree(&entry.path(), &target, runner);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a file");
            runner.chown(&target);
        }
    }
}

#[test]
fn the_readme_examples_run_as_written() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(source.join("README.md")).expect("read README.md");
    let blocks = tested_blocks(&readme);
    assert!(blocks.len() >= 3, "the README's tested blocks: {blocks:?}");

    let runner = Runner::Caller;
    let workspace = Workspace::new(&runner);
    let repository = workspace.root().join("boxpy");
    let home = runner.home();
    let boxpy_dir = PathBuf::from(BOXPY)
        .parent()
        .expect("boxpy's directory")
        .to_path_buf();
    let jq = Path::new("/usr/bin/jq").exists();

    // One shell session: a `cd` in one block holds for the next, as for a reader.
    let mut cwd = repository.clone();
    for (dir, steps) in blocks {
        if !repository.join(&dir).exists() {
            copy_tree(&source.join(&dir), &repository.join(&dir), &runner);
        }
        for step in steps {
            if let Some(target) = step.command.strip_prefix("cd ") {
                cwd = cwd.join(target);
                continue;
            }
            if step.command.contains("| jq") && !jq {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "jq is missing: .ci/run installs it"
                );
                eprintln!("SKIPPED (no jq): {}", step.command);
                continue;
            }
            let output = Command::new("sh")
                .arg("-c")
                .arg(&step.command)
                .current_dir(&cwd)
                .env_clear()
                .env("PATH", format!("{}:/usr/bin:/bin", boxpy_dir.display()))
                .env("HOME", &home)
                .env("LANG", "C.UTF-8")
                .output()
                .expect("run the README's command");
            let code = output.status.code();
            assert!(
                !matches!(code, Some(2 | 125 | 126 | 127) | None),
                "`{}` exited {code:?}:\n{}",
                step.command,
                String::from_utf8_lossy(&output.stderr)
            );
            let mut both = String::from_utf8_lossy(&output.stdout).into_owned();
            both.push_str(&String::from_utf8_lossy(&output.stderr));
            let actual = normalize(&both, &repository, &home);
            let mut from = 0;
            for shown in step.shown.iter().filter(|l| !l.is_empty() && *l != "…") {
                let at = actual[from..]
                    .lines()
                    .position(|line| line == shown)
                    .unwrap_or_else(|| {
                        panic!(
                            "`{}`: the README shows\n  {shown}\nbut the output (from byte {from}) is\n{actual}",
                            step.command
                        )
                    });
                from += actual[from..]
                    .lines()
                    .take(at + 1)
                    .map(|l| l.len() + 1)
                    .sum::<usize>();
                from = from.min(actual.len());
            }
        }
    }
}

#[test]
fn normalize_puts_back_the_placeholders() {
    let text = "hello from Python 3.12.1 in /tmp/x/boxpy/examples\nHOME is /root\n";
    assert_eq!(
        normalize(text, Path::new("/tmp/x/boxpy"), Path::new("/root")),
        "hello from Python 3.11.7 in /home/you/boxpy/examples\nHOME is /home/you\n"
    );
}
