//! Extra mounts (`--ro`, `--rw`, `SRC:DEST`, policy `read_only`/`read_write`) and the
//! mounts boxpy must refuse (SPEC §2, §4).

use std::path::Path;

use crate::harness::{
    assert_absent_on_host, assert_exit, assert_not_started, assert_started, assert_write_refused,
    assert_written, probe_then, py, py_path, run_in_venv, runner_tests, unique, Runner, Workspace,
};

/// A `data/` directory next to the workdir (outside it), holding `input.txt`.
fn data_dir(ws: &Workspace) -> std::path::PathBuf {
    let data = ws.dir("data");
    ws.write("data/input.txt", "read me\n");
    data
}

runner_tests! {
    /// `--ro DIR` is readable and not writable; the host copy is unchanged.
    fn ro_mount_is_readable_not_writable(runner) {
        let ws = Workspace::new(&runner);
        let data = data_dir(&ws);
        let (input, planted) = (data.join("input.txt"), data.join("planted.txt"));
        let output = run_in_venv(&ws)
            .arg("--ro")
            .arg(&data)
            .code(&probe_then(&format!(
                r#"
                print("read", open({input}).read().strip())
                attempt_write({input})
                attempt_write({planted})
                "#,
                input = py_path(&input),
                planted = py_path(&planted)
            )))
            .run();
        assert_started(&output);
        assert_eq!(output.line_after("read "), "read me", "{output}");
        assert_write_refused(&output, &input, &["EROFS"]);
        assert_write_refused(&output, &planted, &["EROFS"]);
        assert_eq!(std::fs::read_to_string(&input).unwrap(), "read me\n");
        assert_absent_on_host(&planted);
    }

    /// `--rw DIR` is writable and the change appears on the host.
    fn rw_mount_is_writable_and_reaches_the_host(runner) {
        let ws = Workspace::new(&runner);
        let out = ws.dir("out");
        let target = out.join("result.txt");
        let content = unique("written through --rw");
        let output = run_in_venv(&ws)
            .arg("--rw")
            .arg(&out)
            .code(&probe_then(&format!(
                "attempt_write({}, {})",
                py_path(&target),
                py(&content)
            )))
            .run();
        assert_written(&output, &target);
        assert_eq!(std::fs::read_to_string(&target).expect("the file on the host"), content);
    }

    /// `--ro SRC:/DEST` shows SRC at DEST (read-only), and not at SRC.
    fn ro_mount_with_destination(runner) {
        let ws = Workspace::new(&runner);
        let data = data_dir(&ws);
        let dest = Path::new("/opt/boxpy-data");
        let planted = dest.join("planted.txt");
        let output = run_in_venv(&ws)
            .arg("--ro")
            .arg(format!("{}:{}", data.display(), dest.display()))
            .code(&probe_then(&format!(
                r#"
                import os
                print("read", open("/opt/boxpy-data/input.txt").read().strip())
                print("source visible", os.path.exists({source}))
                attempt_write({planted})
                "#,
                source = py_path(&data.join("input.txt")),
                planted = py_path(&planted)
            )))
            .run();
        assert_started(&output);
        assert_eq!(output.line_after("read "), "read me", "{output}");
        assert_eq!(output.line_after("source visible "), "False", "{output}");
        assert_write_refused(&output, &planted, &["EROFS"]);
        assert_absent_on_host(&data.join("planted.txt"));
    }

    /// `--ro /etc` (an ancestor of protected paths) still never shows shadow or SSH keys.
    fn ro_mount_of_etc_still_hides_shadow(runner) {
        let ws = Workspace::new(&runner);
        let output = run_in_venv(&ws)
            .args(["--ro", "/etc"])
            .code(
                r#"
                import glob, os
                print("hostname visible", os.path.exists("/etc/hostname"))
                try:
                    print("shadow bytes", len(open("/etc/shadow").read()))
                except OSError as error:
                    print("shadow bytes", type(error).__name__)
                print("ssh keys", glob.glob("/etc/ssh/ssh_host_*"))
                "#,
            )
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        if Path::new("/etc/hostname").exists() {
            let visible = output.line_after("hostname visible ");
            assert_eq!(visible, "True", "`--ro /etc` should show /etc: {output}");
        }
        let shadow = output.line_after("shadow bytes ");
        assert!(
            ["0", "FileNotFoundError", "PermissionError"].contains(&shadow.as_str()),
            "/etc/shadow readable through `--ro /etc`: {output}"
        );
        assert_eq!(output.line_after("ssh keys "), "[]", "{output}");
    }
}

#[test]
fn missing_ro_path_is_refused_naming_the_flag() {
    let ws = Workspace::new(&Runner::Caller);
    let missing = ws.root().join("missing");
    let output = run_in_venv(&ws)
        .arg("--ro")
        .arg(&missing)
        .code("print('ran')")
        .run();
    assert_exit(&output, 125);
    assert_not_started(&output);
    let stderr = output.stderr_text();
    assert!(
        stderr.contains("--ro"),
        "the error should name `--ro`: {output}"
    );
    assert!(
        stderr.contains(&missing.display().to_string()),
        "the error should name the path: {output}"
    );
}

#[test]
fn missing_policy_mount_is_refused_naming_the_key() {
    let ws = Workspace::new(&Runner::Caller);
    ws.write(
        "work/boxpy.toml",
        "[filesystem]\nread_only = [\"missing\"]\n",
    );
    let output = run_in_venv(&ws).code("print('ran')").run();
    assert_exit(&output, 125);
    assert_not_started(&output);
    assert!(
        output.stderr_text().contains("filesystem.read_only"),
        "the error should name `filesystem.read_only`: {output}"
    );
}

#[test]
fn optional_missing_policy_mount_is_skipped() {
    let ws = Workspace::new(&Runner::Caller);
    ws.write(
        "work/boxpy.toml",
        "[filesystem]\nread_only = [{ path = \"missing\", optional = true }]\n",
    );
    let output = run_in_venv(&ws).code("print('ran')").run();
    assert_started(&output);
    assert_exit(&output, 0);
}

#[test]
fn mounting_etc_shadow_is_refused() {
    let ws = Workspace::new(&Runner::Caller);
    for flag in ["--ro", "--rw"] {
        let output = run_in_venv(&ws)
            .args([flag, "/etc/shadow"])
            .code("print(open('/etc/shadow').read())")
            .run();
        assert_exit(&output, 125);
        assert_not_started(&output);
        assert!(output.stderr_text().contains("/etc/shadow"), "{output}");
    }
    let output = run_in_venv(&ws)
        .args(["--ro", "/etc/shadow:/home/shadow-copy"])
        .code("print(open('/home/shadow-copy').read())")
        .run();
    assert_exit(&output, 125);
    assert_not_started(&output);
}

#[test]
fn mounting_root_is_refused() {
    let ws = Workspace::new(&Runner::Caller);
    for flag in ["--ro", "--rw"] {
        let output = run_in_venv(&ws)
            .args([flag, "/"])
            .code("import os; print(os.listdir('/'))")
            .run();
        assert_exit(&output, 125);
        assert_not_started(&output);
        assert!(output.stderr_text().contains("`/`"), "{output}");
    }
}

runner_tests! {
    /// Issue 15: `--ro SRC:/usr/share/x` (a destination bwrap would have to create inside
    /// the read-only `/usr`) is refused up front (125) naming the flag and the fix, not
    /// with bwrap's raw "Can't mkdir"; a destination that exists there, or one outside,
    /// is fine.
    fn a_destination_inside_a_read_only_bind_is_refused_up_front(runner) {
        let ws = Workspace::new(&runner);
        let data = data_dir(&ws);
        let missing = format!("/usr/share/{}", unique("boxpy-dest"));
        let output = run_in_venv(&ws)
            .arg("--ro")
            .arg(format!("{}:{missing}", data.display()))
            .code("print('ran')")
            .run();
        assert_not_started(&output);
        assert_exit(&output, 125);
        let stderr = output.stderr_text();
        assert!(stderr.contains("(from `--ro`)"), "{output}");
        assert!(stderr.contains(&format!("`{missing}` does not exist inside `/usr`")), "{output}");
        assert!(stderr.contains("hint: choose a destination outside `/usr`"), "{output}");
        assert!(!stderr.contains("Can't mkdir"), "{output}");
        assert!(Path::new(&missing).symlink_metadata().is_err());

        let output = run_in_venv(&ws)
            .arg("--ro")
            .arg(format!("{}:/mnt/data", data.display()))
            .code("print(open('/mnt/data/input.txt').read())")
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert!(output.stdout_text().contains("read me"), "{output}");
    }
}
