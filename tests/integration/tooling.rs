//! The tool around the sandbox: `exec`, `policy list|show|check|init`, `doctor`, the audit
//! log under concurrency, completions.

use crate::harness::{assert_exit, boxpy, runner_tests, unique, venv, Runner, Venv, Workspace};

runner_tests! {
    /// `exec` runs any program under the same policy, with the program's exit code.
    fn exec_runs_any_program_under_the_policy(runner) {
        let ws = Workspace::new(&runner);
        let venv = venv(Venv::Debian).unwrap();
        let output = boxpy(&ws)
            .args(["exec", "--venv"])
            .arg(&venv)
            .args(["--", "sh", "-c", "echo in $(hostname) as $(id -u); ls $HOME | wc -l; exit 7"])
            .run();
        assert_exit(&output, 7);
        let stdout = output.stdout_text();
        assert!(stdout.contains("in boxpy"), "{output}");
        assert_eq!(stdout.lines().nth(1), Some("0"), "HOME is private and empty: {output}");
        let missing = boxpy(&ws).args(["exec", "--", "boxpy-no-such-program"]).run();
        assert_exit(&missing, 127);
        assert!(missing.stderr_text().contains("was not found inside the sandbox"), "{missing}");
    }
}

/// `exec -- python -c` gets the same report as `run -c`.
#[test]
fn exec_of_python_gets_the_report() {
    let ws = Workspace::new(&Runner::Caller);
    let venv = venv(Venv::Debian).unwrap();
    let output = boxpy(&ws)
        .args(["exec", "--venv"])
        .arg(&venv)
        .args(["--", "python", "-c", "import boxpy_not_here"])
        .run();
    assert_exit(&output, 1);
    let stderr = output.stderr_text();
    assert!(stderr.contains("error: ModuleNotFoundError"), "{output}");
    assert!(stderr.contains(" --> <string>:1"), "{output}");
    assert!(stderr.contains("-m pip install boxpy_not_here"), "{output}");
}

/// `policy show` prints a policy that `policy check` accepts and that means the same.
#[test]
fn policy_show_check_init() {
    let ws = Workspace::new(&Runner::Caller);
    let shown = boxpy(&ws).args(["policy", "show", "strict"]).run();
    assert_exit(&shown, 0);
    let text = shown.stdout_text();
    assert!(
        text.contains("memory = \"512MiB\"") && text.contains("mode = \"none\""),
        "{shown}"
    );
    let file = ws.write("work/shown.toml", &text);
    let checked = boxpy(&ws).args(["policy", "check"]).arg(&file).run();
    assert_exit(&checked, 0);
    assert!(
        checked.stdout_text().contains("is a valid policy"),
        "{checked}"
    );
    let again = boxpy(&ws).args(["policy", "show", "-P"]).arg(&file).run();
    assert_eq!(
        again.stdout_text().lines().skip(2).collect::<Vec<_>>(),
        text.lines().skip(2).collect::<Vec<_>>(),
        "the shown policy loads back to itself"
    );

    let risky = ws.write(
        "work/risky.toml",
        "extends = \"net\"\n[env]\npass = [\"OPENAI_API_KEY\"]\n",
    );
    let warned = boxpy(&ws).args(["policy", "check"]).arg(&risky).run();
    assert_exit(&warned, 0);
    assert!(
        warned
            .stdout_text()
            .contains("warning: `network.mode = \"full\"` with secrets"),
        "{warned}"
    );

    let broken = ws.write("work/broken.toml", "[network]\nmode = \"everything\"\n");
    let refused = boxpy(&ws).args(["policy", "check"]).arg(&broken).run();
    assert_exit(&refused, 125);
    assert!(
        refused.stderr_text().contains("broken.toml:2:"),
        "{refused}"
    );

    ws.make_venv("work/.venv");
    let init = boxpy(&ws).args(["policy", "init"]).run();
    assert_exit(&init, 0);
    let written = std::fs::read_to_string(ws.work().join("boxpy.toml")).unwrap();
    assert!(written.contains("venv = \".venv\""), "{written}");
    assert_exit(&boxpy(&ws).args(["policy", "init"]).run(), 125);
    let listed = boxpy(&ws).args(["policy", "list"]).run();
    assert_exit(&listed, 0);
    assert!(listed.stdout_text().contains("boxpy.toml"), "{listed}");
    assert!(listed.stdout_text().contains("* in use"), "{listed}");
}

/// 20 runs appending to one audit log at once: 20 valid lines, none lost or interleaved.
#[test]
fn audit_log_under_concurrency() {
    let ws = Workspace::new(&Runner::Caller);
    let venv = venv(Venv::Debian).unwrap();
    let log = ws.dir("audit").join("runs.jsonl");
    let tokens: Vec<String> = (0..20)
        .map(|index| unique(&format!("audit{index}")))
        .collect();
    let running: Vec<_> = tokens
        .iter()
        .map(|token| {
            boxpy(&ws)
                .args(["run", "--venv"])
                .arg(&venv)
                .arg("--audit-log")
                .arg(&log)
                .args(["-c", &format!("print({token:?})")])
                .spawn()
        })
        .collect();
    for run in running {
        assert_exit(&run.finish(), 0);
    }
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 20, "{text}");
    for line in &lines {
        let record: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
        for field in [
            "time",
            "user",
            "cwd",
            "command",
            "policy",
            "mounts",
            "network",
            "limits",
            "status",
            "exit_code",
            "duration_ms",
            "resources",
        ] {
            assert!(record.get(field).is_some(), "missing {field}: {line}");
        }
        assert_eq!(record["status"], "ok");
        assert_eq!(record["policy"]["sha256"].as_str().unwrap().len(), 64);
    }
    for token in &tokens {
        assert_eq!(
            text.matches(token.as_str()).count(),
            1,
            "{token} logged once"
        );
    }
}

/// `doctor` says this machine can sandbox; `--json` is one object; without bwrap it
/// fails with the install hint.
#[test]
fn doctor_reports() {
    let ws = Workspace::new(&Runner::Caller);
    let output = boxpy(&ws).arg("doctor").run();
    assert_exit(&output, 0);
    let stdout = output.stdout_text();
    for topic in [
        "bwrap",
        "namespaces",
        "seccomp",
        "limits.memory",
        "limits.processes",
    ] {
        assert!(
            stdout.lines().any(|line| line.contains(topic)),
            "{topic}: {output}"
        );
    }
    let json = boxpy(&ws).args(["doctor", "--json"]).run().json();
    assert_eq!(json["ok"], true);
    assert!(json["checks"].as_array().unwrap().len() >= 5);
    let fake = ws.root().join("no-such-bwrap");
    let missing = boxpy(&ws).env("BOXPY_BWRAP", &fake).arg("doctor").run();
    assert_exit(&missing, 125);
    assert!(
        missing.stdout_text().contains("apt-get install bubblewrap"),
        "{missing}"
    );
}

/// Completions for every supported shell.
#[test]
fn completions_for_every_shell() {
    let ws = Workspace::new(&Runner::Caller);
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let output = boxpy(&ws).args(["completions", shell]).run();
        assert_exit(&output, 0);
        assert!(output.stdout_text().contains("nbexec"), "{shell}: {output}");
    }
}

/// Each subcommand accepts exactly the options it uses: `render` prints a command and runs
/// nothing, so it takes no `-q`, `-v`, `--audit-log` nor `--mkdir` (which would create a
/// directory); `--color` is global, so `doctor` and `policy` take it too.
#[test]
fn each_command_accepts_only_what_it_uses() {
    let ws = Workspace::new(&Runner::Caller);
    for arguments in [
        vec!["render", "-q"],
        vec!["render", "--quiet"],
        vec!["render", "--verbose"],
        vec!["render", "--audit-log", "a.jsonl"],
        vec!["render", "--mkdir", "-w", "new-dir"],
        vec!["doctor", "--network", "full"],
        vec!["completions", "bash", "--json"],
        vec!["policy", "list", "--json"],
        vec!["policy", "show", "-q"],
        vec!["policy", "show", "--venv", "v"],
        vec!["policy", "show", "--audit-log", "a.jsonl"],
        vec!["policy", "show", "--mkdir"],
    ] {
        let output = boxpy(&ws).args(&arguments).run();
        assert_exit(&output, 125);
        assert!(
            output.stderr_text().contains("unexpected argument"),
            "{arguments:?}: {output}"
        );
    }
    assert!(!ws.work().join("new-dir").exists());
    for arguments in [
        vec!["doctor", "--color", "never"],
        vec!["--color", "never", "doctor"],
        vec!["policy", "list", "--color", "never"],
        vec!["render", "--color", "never", "--json"],
        vec![
            "policy",
            "show",
            "--color",
            "never",
            "--network",
            "full",
            "--memory",
            "1GiB",
        ],
    ] {
        let output = boxpy(&ws).args(&arguments).run();
        assert_exit(&output, 0);
        assert!(
            !output.stdout_text().contains('\x1b'),
            "{arguments:?}: {output}"
        );
    }
    let coloured = boxpy(&ws).args(["doctor", "--color", "always"]).run();
    assert!(coloured.stdout_text().contains('\x1b'), "{coloured}");
}

/// `run`, `nbexec` and `exec` show examples in `--help` and `-h`, as gh and uv do.
#[test]
fn help_shows_examples() {
    let ws = Workspace::new(&Runner::Caller);
    for (command, example) in [
        ("run", "boxpy run analyze.py"),
        ("nbexec", "boxpy nbexec analysis.ipynb -o executed.ipynb"),
        ("exec", "boxpy exec -- sh"),
    ] {
        for flag in ["--help", "-h"] {
            let output = boxpy(&ws).args([command, flag]).run();
            assert_exit(&output, 0);
            let stdout = output.stdout_text();
            assert!(
                stdout.contains("\nExamples:\n"),
                "{command} {flag}: {output}"
            );
            assert!(stdout.contains(example), "{command} {flag}: {output}");
        }
    }
}

/// The committed man pages: every `boxpy...(N)` page they name exists, the synopsis is
/// clap's usage (never `[-c  ]`), every page has EXIT STATUS and ENVIRONMENT, and the
/// commands with examples have an EXAMPLES section.
#[test]
fn man_pages_are_complete_and_reference_only_pages_that_exist() {
    let man = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let pages: Vec<String> = std::fs::read_dir(&man)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(pages.contains(&"boxpy.toml.5".to_owned()), "{pages:?}");
    for page in &pages {
        let text = std::fs::read_to_string(man.join(page)).unwrap();
        let plain = text
            .replace("\\-", "-")
            .replace("\\fB", "")
            .replace("\\fR", "");
        // Every reference to a boxpy page: `boxpy-run(1)`, `boxpy.toml(5)`.
        let mut rest = plain.as_str();
        while let Some(start) = rest.find("boxpy") {
            let candidate = &rest[start..];
            let end = candidate
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_'))
                .unwrap_or(candidate.len());
            let (name, after) = candidate.split_at(end);
            if let Some(section) = after
                .strip_prefix('(')
                .and_then(|after| after.get(..2))
                .and_then(|after| after.strip_suffix(')'))
            {
                let file = format!("{name}.{section}");
                assert!(
                    pages.contains(&file),
                    "{page} names {name}({section}), which does not exist"
                );
            }
            rest = &candidate[end.max(1)..];
        }
        assert!(
            !plain.contains("[-c  ]") && !plain.contains("-c ]"),
            "{page}: {text}"
        );
        assert!(!plain.contains("boxpy-help"), "{page}");
        if page.ends_with(".1") {
            for section in [
                ".SH SYNOPSIS",
                ".SH \"EXIT STATUS\"",
                ".SH ENVIRONMENT",
                ".SH \"SEE ALSO\"",
            ] {
                assert!(text.contains(section), "{page} has no {section}");
            }
        }
    }
    for page in ["boxpy-run.1", "boxpy-nbexec.1", "boxpy-exec.1"] {
        let text = std::fs::read_to_string(man.join(page)).unwrap();
        assert!(text.contains(".SH EXAMPLES"), "{page}");
    }
    let run = std::fs::read_to_string(man.join("boxpy-run.1")).unwrap();
    assert!(
        run.contains("boxpy run [OPTIONS] \\-c <CODE> [ARGS]..."),
        "the synopsis is clap's usage: {run}"
    );
}

/// `boxpy.toml(5)` describes every key `policy show` prints, and its EXAMPLE is a valid
/// policy that sets each of them.
#[test]
fn policy_format_page_covers_every_key() {
    let ws = Workspace::new(&Runner::Caller);
    let page = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("man/boxpy.toml.5"),
    )
    .unwrap();
    let example = page
        .split(".SH EXAMPLE\n.nf\n")
        .nth(1)
        .and_then(|rest| rest.split("\n.fi").next())
        .expect("an EXAMPLE section")
        .replace("\\-", "-");
    let file = ws.write("work/example.toml", &example);
    let checked = boxpy(&ws).args(["policy", "check"]).arg(&file).run();
    assert_exit(&checked, 0);
    let shown = boxpy(&ws).args(["policy", "show", "-P"]).arg(&file).run();
    assert_exit(&shown, 0);
    let mut keys = vec![
        "extends".to_owned(),
        "log".to_owned(),
        "interpreter".to_owned(),
    ];
    let mut section = String::new();
    for line in shown.stdout_text().lines() {
        if let Some(name) = line
            .strip_prefix('[')
            .and_then(|line| line.strip_suffix(']'))
        {
            // `[[filesystem.read_only]]`: a mount's table (`path`, `dest`, `optional`),
            // described with its key.
            section = name.to_owned();
            assert!(
                page.contains(&format!(
                    ".SS [{}]",
                    section.trim_matches(['[', ']']).split('.').next().unwrap()
                )),
                "no section for [{section}]"
            );
        } else if let Some((key, _)) = line.split_once(" = ") {
            if section != "env.set" && !section.starts_with('[') {
                keys.push(key.to_owned());
            }
        }
    }
    assert!(keys.len() > 15, "{keys:?}: {shown}");
    for key in keys {
        assert!(
            page.contains(&format!("\\fB{key}\\fR (")),
            "{key} is not described"
        );
        if key != "extends" && key != "interpreter" && key != "log" {
            assert!(
                example.contains(&format!("{key} = ")),
                "the example does not set {key}"
            );
        }
    }
}

/// `-P`/`--policy` completes the shipped policy names as well as files: bash (run for
/// real), zsh and fish (the generated specs).
#[test]
fn completions_offer_the_shipped_policies() {
    let ws = Workspace::new(&Runner::Caller);
    ws.write("work/mine.toml", "");
    let bash = boxpy(&ws).args(["completions", "bash"]).run();
    assert_exit(&bash, 0);
    let script = ws.write("completion.bash", bash.stdout_text());
    for (line, expected) in [
        (
            "boxpy run -P ",
            vec!["default", "strict", "net", "pypi", "mine.toml"],
        ),
        ("boxpy run --policy st", vec!["strict"]),
        ("boxpy exec -P n", vec!["net"]),
    ] {
        let words: Vec<&str> = line.split(' ').collect();
        let program = format!(
            "source {}; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; _boxpy boxpy '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display(),
            words.iter().map(|word| format!("'{word}'")).collect::<Vec<_>>().join(" "),
            words.len() - 1,
            words[words.len() - 1],
            words[words.len() - 2],
        );
        let output = std::process::Command::new("bash")
            .args(["-c", &program])
            .current_dir(ws.work())
            .output()
            .unwrap();
        let offered = String::from_utf8_lossy(&output.stdout).into_owned();
        for word in expected {
            assert!(
                offered.lines().any(|line| line == word),
                "{line}: {word} not offered: {offered:?} {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    let zsh = boxpy(&ws).args(["completions", "zsh"]).run().stdout_text();
    assert!(
        zsh.contains("'-P+[A shipped policy name (default, strict, net, pypi) or a policy file]:NAME|FILE:_alternative \"policies:shipped policy:(default strict net pypi)\" \"files:policy file:_files\"'"),
        "{zsh}"
    );
    let fish = boxpy(&ws).args(["completions", "fish"]).run().stdout_text();
    let policy_lines: Vec<&str> = fish
        .lines()
        .filter(|line| line.contains("-l policy"))
        .collect();
    assert!(!policy_lines.is_empty(), "{fish}");
    for line in policy_lines {
        assert!(
            line.ends_with("-r -a \"default strict net pypi\""),
            "{line}"
        );
    }
}

/// Issue 15: `doctor` checks the policy and the venv `run` would use here and says what
/// `run` says: an invalid `boxpy.toml` is an error (125, the same cause), a symlinked
/// `.venv` found in a parent is fine (as `run` finds it), and the notebook check appears
/// only where notebooks are used.
#[test]
fn doctor_checks_what_run_would_use_here() {
    let ws = Workspace::new(&Runner::Caller);
    let project = ws.dir("proj");
    let real = ws.make_venv("proj/envs/real");
    std::os::unix::fs::symlink("envs/real", project.join(".venv")).unwrap();
    let sub = ws.dir("proj/sub");

    let output = boxpy(&ws).cwd(&sub).arg("doctor").run();
    assert_exit(&output, 0);
    let stdout = output.stdout_text();
    let python = stdout
        .lines()
        .find(|line| line.contains(" python "))
        .unwrap_or_else(|| panic!("{output}"));
    assert!(python.starts_with("ok"), "{output}");
    assert!(
        python.contains(&format!("venv `{}` (found at ../.venv)", real.display())),
        "{output}"
    );
    assert!(
        !stdout.contains("nbexec"),
        "no notebooks here, no notebook check: {output}"
    );
    let run = boxpy(&ws)
        .cwd(&sub)
        .arg("run")
        .code("import sys; print('prefix', sys.prefix)")
        .run();
    assert_exit(&run, 0);
    assert_eq!(
        run.line_after("prefix "),
        real.display().to_string(),
        "{run}"
    );

    ws.write("proj/sub/analysis.ipynb", "{}");
    let output = boxpy(&ws).cwd(&sub).arg("doctor").run();
    assert!(output.stdout_text().contains("nbexec"), "{output}");

    ws.write("proj/boxpy.toml", "[network]\nmod = \"none\"\n");
    let run = boxpy(&ws).cwd(&sub).arg("run").arg("-c").arg("pass").run();
    assert_exit(&run, 125);
    let output = boxpy(&ws).cwd(&sub).arg("doctor").run();
    assert_exit(&output, 125);
    let stdout = output.stdout_text();
    let policy = stdout
        .lines()
        .find(|line| line.contains(" policy "))
        .unwrap_or_else(|| panic!("{output}"));
    assert!(policy.starts_with("error"), "{output}");
    assert!(policy.contains("`boxpy run` here fails"), "{output}");
    assert!(
        stdout.contains("unknown key `network.mod`")
            && run.stderr_text().contains("unknown key `network.mod`"),
        "doctor and run give the same cause: {output}\n{run}"
    );
    let json = boxpy(&ws).cwd(&sub).args(["doctor", "--json"]).run().json();
    assert_eq!(json["ok"], false);
}
