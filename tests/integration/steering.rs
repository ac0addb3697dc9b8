//! A run must not be able to change what the *next* run in the same directory gets: the
//! files that choose the policy and the venv are read-only inside, and a `.venv` planted by
//! an earlier run cannot make boxpy mount the caller's home.

use crate::harness::{assert_exit, assert_started, boxpy, run_in_venv, runner_tests, Workspace};

runner_tests! {
    /// boxpy.toml and pyproject.toml in the workdir cannot be rewritten by the program.
    fn policy_files_in_the_workdir_are_read_only(runner) {
        let ws = Workspace::new(&runner);
        let policy = ws.write("work/boxpy.toml", "[network]\nmode = \"none\"\n");
        let pyproject = ws.write("work/pyproject.toml", "[project]\nname = \"demo\"\n");
        let output = run_in_venv(&ws)
            .code(
                r#"
                import errno
                for name in ("boxpy.toml", "pyproject.toml"):
                    try:
                        with open(name, "a") as handle:
                            handle.write('\n[tool.boxpy.network]\nmode = "full"\n')
                        print(name, "WRITTEN")
                    except OSError as error:
                        print(name, "refused", errno.errorcode[error.errno])
                open("result.txt", "w").write("the workdir itself stays writable")
                "#,
            )
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        let stdout = output.stdout_text();
        assert!(stdout.contains("boxpy.toml refused EROFS"), "{output}");
        assert!(stdout.contains("pyproject.toml refused EROFS"), "{output}");
        assert_eq!(std::fs::read_to_string(&policy).unwrap(), "[network]\nmode = \"none\"\n");
        assert_eq!(std::fs::read_to_string(&pyproject).unwrap(), "[project]\nname = \"demo\"\n");
        assert!(ws.work().join("result.txt").exists());
    }

    /// A `.venv` whose pyvenv.cfg names the caller's home (as a hostile earlier run could
    /// write it) does not get that home mounted.
    fn planted_venv_cannot_expose_the_home(runner) {
        let ws = Workspace::new(&runner);
        let home = runner.home();
        let secret = home.join(format!("boxpy-steering-secret-{}", std::process::id()));
        std::fs::write(&secret, "secret").unwrap();
        runner.chown(&secret);
        let _cleanup = crate::harness::RemoveOnDrop(secret.clone());
        ws.dir("work/.venv/bin");
        ws.write(
            "work/.venv/pyvenv.cfg",
            format!("home = {}\nversion = 3.11\n", home.display()),
        );
        std::os::unix::fs::symlink("/usr/bin/python3", ws.work().join(".venv/bin/python")).unwrap();
        let output = boxpy(&ws)
            .arg("run")
            .arg("-c")
            .arg(crate::harness::python(&format!(
                "import os\nprint('visible', os.path.exists({:?}))",
                secret.display().to_string()
            )))
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert!(output.stdout_text().contains("visible False"), "{output}");
    }
}
