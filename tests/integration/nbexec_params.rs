//! `boxpy nbexec`'s parameters (every papermill source, landing as the right Python values),
//! `--help-notebook` against papermill's own, a notebook from stdin, the kernel's own
//! errors, and the reports of a failing cell (frames through another cell under every
//! `%xmode`, `input()`, `sys.exit`).

use crate::harness::{assert_exit, boxpy, require_venv, Runner, Venv, Workspace};
use crate::nbexec::{nbexec, notebook, printed, read};

/// A cell that prints `name repr type` for each name.
fn show(names: &[&str]) -> String {
    format!(
        "for _n in {names:?}:\n    _v = globals().get(_n, '<unset>')\n    print(_n, repr(_v), type(_v).__name__)\n"
    )
}

/// Each source (`-b`, `-f`, `-y`, `-p`, `-r`) in papermill's order; each value lands as the
/// Python value papermill would write.
#[test]
fn parameters_from_every_source_land_as_python_values() {
    let venv = require_venv!(Venv::Jupyter);
    let ws = Workspace::new(&Runner::Caller);
    ws.write(
        "work/p.ipynb",
        notebook(&[
            ("code", "a = b = None\n", &["parameters"]),
            (
                "code",
                &show(&["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"]),
                &[],
            ),
        ]),
    );
    ws.write("work/params.yaml", "c: [1, two, {x: .inf}]\nd: from-file\n");
    // base64 of "d: from-b64\ne: yes\n"
    let encoded = "ZDogZnJvbS1iNjQKZTogeWVzCg==";
    let output = nbexec(&ws, &venv)
        .args([
            "p.ipynb",
            "-o",
            "out.ipynb",
            "-b",
            encoded,
            "-f",
            "params.yaml",
        ])
        .args(["-y", "f: .nan\ng: 1e3\nh: 0x10"])
        .args(["-p", "a", "007", "-p", "b", "1e400", "-p", "i", "nan"])
        .args(["-p", "j", "[1, 'x']", "-p", "k", "None", "-r", "l", "007"])
        .run();
    assert_exit(&output, 0);
    let text = printed(&read(&ws.work().join("out.ipynb")));
    for expected in [
        "a 7 int",
        "b inf float",
        "c [1, 'two', {'x': inf}] list",
        "d 'from-file' str",
        "e True bool",
        "f nan float",
        "g '1e3' str",
        "h 16 int",
        "i nan float",
        "j [1, 'x'] list",
        "k None NoneType",
        "l '007' str",
    ] {
        assert!(text.contains(expected), "{expected} in:\n{text}\n{output}");
    }
    // c..l are not in the parameters cell: papermill's warning, in --json too.
    assert!(
        output.stderr_text().contains("unknown parameter `c`"),
        "{output}"
    );
    let output = nbexec(&ws, &venv)
        .args(["--json", "p.ipynb", "-p", "zz", "1"])
        .run();
    let json = output.json();
    assert!(
        json["warnings"]
            .to_string()
            .contains("unknown parameter `zz`"),
        "{json}"
    );
}

/// Bad sources stop boxpy before anything runs, naming the flag.
#[test]
fn bad_parameter_sources_are_usage_errors() {
    let venv = require_venv!(Venv::Jupyter);
    let ws = Workspace::new(&Runner::Caller);
    ws.write("work/p.ipynb", notebook(&[("code", "print(1)", &[])]));
    for (args, needle) in [
        (vec!["-y", "[1, 2]"], "-y: the YAML is not a mapping"),
        (vec!["-y", "a: [1"], "-y: not valid YAML"),
        (vec!["-b", "%%%"], "-b: not base64"),
        (vec!["-f", "missing.yaml"], "-f missing.yaml: cannot read"),
        (vec!["-p", "not-a-name", "1"], "is not a Python identifier"),
        (vec!["-r", "class", "1"], "is a Python keyword"),
    ] {
        let output = nbexec(&ws, &venv).arg("p.ipynb").args(&args).run();
        assert_exit(&output, 125);
        assert!(output.stderr_text().contains(needle), "{args:?}: {output}");
        assert!(output.stderr_text().contains("hint:"), "{output}");
    }
}

/// `--help-notebook` prints what papermill's prints after its usage line, with no kernel.
#[test]
fn help_notebook_matches_papermill() {
    let ws = Workspace::new(&Runner::Caller);
    let source = "# Parameters\nalpha = 0.1  # the learning rate\nname: str = 'west'\ncount = 3 # type: int how many\nitems = [\n  1,\n  2,\n]  # the items\na_rather_long_parameter_name = {'a': 1}  # shown below\nflag: \"bool\" = True\n";
    ws.write(
        "work/p.ipynb",
        notebook(&[("markdown", "# t", &[]), ("code", source, &["parameters"])]),
    );
    ws.write("work/none.ipynb", notebook(&[("code", "x = 1", &[])]));
    let ours = boxpy(&ws)
        .args(["nbexec", "--help-notebook", "p.ipynb"])
        .run();
    assert_exit(&ours, 0);
    let text = ours.stdout_text();
    assert!(
        text.contains("  alpha: Unknown type (default 0.1)"),
        "{ours}"
    );
    let none = boxpy(&ws)
        .args(["nbexec", "--help-notebook", "none.ipynb"])
        .run();
    assert_exit(&none, 0);
    assert!(
        none.stdout_text().contains("No cell tagged 'parameters'"),
        "{none}"
    );
    let json = boxpy(&ws)
        .args(["nbexec", "--help-notebook", "--json", "p.ipynb"])
        .run()
        .json();
    assert_eq!(json["parameters"][2]["inferred_type_name"], "int", "{json}");
    // Cells where papermill's rules are easy to get wrong: comments inside a multi-line
    // value, `#` in a string, two `=` on a line, unicode, tabs, CRLF, `# type:` forms,
    // the 30-column layout rule, a dotted annotation (not matched), an expression.
    let tricky = [
        "d = {\n  'a': 1,  # one\n  'b': 2,\n} # the dict",
        "s = 'a # b'  # tricky\ny = x == 1\nx : 'int' = 3 # type: float  help text ",
        "héllo = 'wörld'  # ünïcode\n\tt = 1\t# tab\r\nk = 1 #type:int\nk2 = 1 # type:",
        "u: Optional[List[int]] = None  # maybe\nv: np.ndarray = None\nf = lambda x: x  # fn",
        "abcdefghijklmnopq = 12  # exactly\nshort = 1  # hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh\np = 1 # a # b",
        "import os\npath = os.getcwd()\nq = (1,\n     2)  # tuple\nx = 1; y = 2",
    ];
    let mut names = vec!["p.ipynb".to_owned(), "none.ipynb".to_owned()];
    for (at, source) in tricky.iter().enumerate() {
        let name = format!("tricky{at}.ipynb");
        ws.write(
            &format!("work/{name}"),
            notebook(&[("code", source, &["parameters"])]),
        );
        names.push(name);
    }
    let papermill = require_venv!(Venv::Papermill);
    for name in &names {
        // `python -m papermill`: the cached venv was built elsewhere and renamed, so its
        // scripts' `#!` lines name a path that is gone.
        let theirs = std::process::Command::new(papermill.join("bin/python"))
            .args(["-m", "papermill", "--help-notebook", name.as_str()])
            .current_dir(ws.work())
            .output()
            .expect("run papermill");
        let theirs = String::from_utf8_lossy(&theirs.stdout).into_owned();
        let from = theirs
            .find("Parameters inferred")
            .unwrap_or_else(|| panic!("papermill printed: {theirs}"));
        let ours = boxpy(&ws)
            .args(["nbexec", "--help-notebook", name.as_str()])
            .run();
        assert_eq!(ours.stdout_text(), theirs[from..], "{name}");
    }
}

/// `-` reads the notebook from stdin, shown as `<stdin>`; `--inplace` with it is refused.
#[test]
fn a_notebook_from_stdin() {
    let venv = require_venv!(Venv::Jupyter);
    let ws = Workspace::new(&Runner::Caller);
    let text = notebook(&[("code", "print('from stdin')\n1/0", &[])]);
    let output = nbexec(&ws, &venv)
        .args(["-", "-o", "out.ipynb"])
        .stdin(text.clone())
        .run();
    assert_exit(&output, 1);
    assert!(
        output.stderr_text().contains("<stdin>, cell 1, line 2"),
        "{output}"
    );
    assert!(printed(&read(&ws.work().join("out.ipynb"))).contains("from stdin"));
    let output = nbexec(&ws, &venv)
        .args(["-", "--inplace"])
        .stdin(text)
        .run();
    assert_exit(&output, 125);
    assert!(output.stderr_text().contains("--inplace"), "{output}");
    let output = nbexec(&ws, &venv).arg("nothere.ipynb").run();
    assert_exit(&output, 125);
    assert!(
        output
            .stderr_text()
            .contains("notebook `nothere.ipynb` not found"),
        "{output}"
    );
}

/// A kernel that is not installed, or whose kernelspec is broken: the driver's error,
/// exit 125, the way to `--kernel python3`, never bubblewrap's.
#[test]
fn kernel_errors_are_the_drivers() {
    let venv = require_venv!(Venv::Jupyter);
    let ws = Workspace::new(&Runner::Caller);
    let mut missing: serde_json::Value =
        serde_json::from_str(&notebook(&[("code", "print(1)", &[])])).unwrap();
    missing["metadata"]["kernelspec"]["name"] = "julia-1.9".into();
    ws.write("work/k.ipynb", missing.to_string());
    for json in [false, true] {
        let mut command = nbexec(&ws, &venv);
        if json {
            command = command.arg("--json");
        }
        let output = command.arg("k.ipynb").run();
        assert_exit(&output, 125);
        let all = format!("{}{}", output.stdout_text(), output.stderr_text());
        assert!(all.contains("`julia-1.9` is not installed"), "{output}");
        assert!(all.contains("--kernel python3"), "{output}");
        assert!(all.contains("python3"), "{output}");
        assert!(
            !all.contains("bubblewrap") && !all.contains("doctor"),
            "{output}"
        );
        if json {
            output.json();
        }
    }
    let output = nbexec(&ws, &venv)
        .args(["--kernel", "python3", "k.ipynb"])
        .run();
    assert_exit(&output, 0);
    // Kernelspecs of the workdir's own (through JUPYTER_PATH): one whose program does not
    // exist, one whose program exits at once.
    ws.write(
        "work/kernels/bad/kernel.json",
        r#"{"argv": ["/nonexistent/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"], "display_name": "Bad", "language": "python"}"#,
    );
    ws.write(
        "work/kernels/dies/kernel.json",
        r#"{"argv": ["python", "-c", "import sys; sys.exit(3)", "{connection_file}"], "display_name": "Dies", "language": "python"}"#,
    );
    let path = format!("JUPYTER_PATH={}", ws.work().display());
    for (kernel, needle) in [
        ("bad", "its kernelspec is broken"),
        ("dies", "`dies` died while starting"),
    ] {
        let output = nbexec(&ws, &venv)
            .args(["--env", &path, "--kernel", kernel, "k.ipynb"])
            .run();
        assert_exit(&output, 125);
        let stderr = output.stderr_text();
        assert!(stderr.contains(needle), "{kernel}: {output}");
        assert!(stderr.contains("--kernel python3"), "{output}");
        assert!(!stderr.contains("bubblewrap"), "{output}");
    }
}

/// A failure inside a function defined in another cell is located at that cell's line,
/// under every `%xmode` IPython has (Minimal prints no frame: the failing cell is named).
#[test]
fn the_users_frame_under_every_xmode() {
    let venv = require_venv!(Venv::Jupyter);
    let ws = Workspace::new(&Runner::Caller);
    for (mode, expected) in [
        ("Context", "cell 2, line 3"),
        ("Verbose", "cell 2, line 3"),
        ("Plain", "cell 2, line 3"),
        ("Docs", "cell 3, line 2"),
        ("Minimal", "cell 3"),
    ] {
        ws.write(
            "work/x.ipynb",
            notebook(&[
                ("code", &format!("%xmode {mode}"), &[]),
                ("code", "def func2(x):\n    y = 1\n    return y / x\n", &[]),
                ("code", "a = 1\nfunc2(0)\n", &[]),
            ]),
        );
        let output = nbexec(&ws, &venv).args(["--json", "x.ipynb"]).run();
        assert_exit(&output, 1);
        let json = output.json();
        let error = &json["error"];
        let place = format!(
            "cell {}{}",
            error["cell"],
            match error["line"].as_u64() {
                Some(line) => format!(", line {line}"),
                None => String::new(),
            }
        );
        assert_eq!(place, expected, "{mode}: {json}");
    }
}

/// `input()` gets a hint to pass a parameter; `sys.exit(3)` is located with a hint;
/// `sys.exit(0)` ends the notebook successfully (papermill's rule), the rest skipped.
#[test]
fn input_and_sys_exit() {
    let venv = require_venv!(Venv::Jupyter);
    let ws = Workspace::new(&Runner::Caller);
    ws.write(
        "work/i.ipynb",
        notebook(&[("code", "x = 1\nname = input('name? ')", &[])]),
    );
    let output = nbexec(&ws, &venv).arg("i.ipynb").run();
    assert_exit(&output, 1);
    let stderr = output.stderr_text();
    assert!(stderr.contains("i.ipynb, cell 1, line 2"), "{output}");
    assert!(stderr.contains("-p NAME VALUE"), "{output}");
    ws.write(
        "work/e.ipynb",
        notebook(&[("code", "import sys\nprint('ran')\nsys.exit(3)", &[])]),
    );
    let output = nbexec(&ws, &venv).arg("e.ipynb").run();
    assert_exit(&output, 1);
    assert!(
        output.stderr_text().contains("e.ipynb, cell 1, line 3"),
        "{output}"
    );
    ws.write(
        "work/z.ipynb",
        notebook(&[
            ("code", "import sys\nsys.exit(0)", &[]),
            ("code", "print('after')", &[]),
        ]),
    );
    let output = nbexec(&ws, &venv).args(["--json", "z.ipynb"]).run();
    assert_exit(&output, 0);
    let json = output.json();
    assert_eq!(json["cells"][0]["status"], "exited", "{json}");
    assert_eq!(json["cells"][1]["status"], "skipped", "{json}");
}

/// A relative write in a read-only `--cwd` outside the workdir names that directory and
/// the `--rw` that makes it writable, which works.
#[test]
fn a_relative_write_in_a_read_only_cwd() {
    let venv = require_venv!(Venv::Jupyter);
    let ws = Workspace::new(&Runner::Caller);
    let outside = ws.write(
        "elsewhere/w.ipynb",
        notebook(&[("code", "%%writefile data.txt\nhello\n", &[])]),
    );
    let directory = outside.parent().unwrap().to_path_buf();
    let output = nbexec(&ws, &venv)
        .arg(&outside)
        .arg("--cwd")
        .arg(&directory)
        .run();
    assert_exit(&output, 1);
    let stderr = output.stderr_text();
    let shown = directory.display().to_string();
    assert!(
        stderr.contains(&format!("--rw {shown} --cwd {shown}")),
        "{output}"
    );
    let output = nbexec(&ws, &venv)
        .arg(&outside)
        .arg("--rw")
        .arg(&directory)
        .arg("--cwd")
        .arg(&directory)
        .run();
    assert_exit(&output, 0);
    assert_eq!(
        std::fs::read_to_string(directory.join("data.txt")).unwrap(),
        "hello\n"
    );
}

/// The driver failing before the kernel starts (here: nbformat's reading of a cell that is
/// not an object) is the notebook's preparation failing, exit 125, never bubblewrap's.
#[test]
fn a_driver_failure_before_any_cell_is_not_bubblewraps() {
    let venv = require_venv!(Venv::Jupyter);
    let ws = Workspace::new(&Runner::Caller);
    ws.write(
        "work/w.ipynb",
        r#"{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [1]}"#,
    );
    let output = nbexec(&ws, &venv).arg("w.ipynb").run();
    assert_exit(&output, 125);
    let stderr = output.stderr_text();
    assert!(
        stderr.contains("the notebook driver failed before any cell ran"),
        "{output}"
    );
    assert!(
        !stderr.contains("bubblewrap") && !stderr.contains("doctor"),
        "{output}"
    );
}

/// `--help-notebook` reads `-` from stdin too, and runs nothing (no venv needed).
#[test]
fn help_notebook_from_stdin() {
    let ws = Workspace::new(&Runner::Caller);
    let text = notebook(&[("code", "n: int = 3  # how many\n", &["parameters"])]);
    let output = boxpy(&ws)
        .args(["nbexec", "--help-notebook", "-"])
        .stdin(text)
        .run();
    assert_exit(&output, 0);
    assert_eq!(
        output.stdout_text(),
        "Parameters inferred for notebook '<stdin>':\n  n: int (default 3)              how many\n"
    );
}
