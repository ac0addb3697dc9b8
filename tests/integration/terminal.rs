//! The terminal stays the user's, and boxpy's outputs are boxpy's.
//!
//! Terminal tests run boxpy under `terminal_driver.py`: a pseudo-terminal whose session
//! leader plays the interactive shell, with real job control (boxpy in its own process
//! group, in the foreground or the background). The driver types on the master side and
//! reads the terminal's settings and window size before and after the run. Every test runs
//! as the caller and as the unprivileged user.

use std::path::{Path, PathBuf};

use crate::harness::*;

const DRIVER: &str = include_str!("terminal_driver.py");

/// Writes the driver into the workspace (outside the workdir, readable by the runner).
fn driver(ws: &Workspace) -> PathBuf {
    ws.write("terminal_driver.py", DRIVER)
}

/// Runs `boxpy` under the driver in `scenario` and returns the driver's report.
fn under_terminal(
    ws: &Workspace,
    scenario: &str,
    ending: &str,
    boxpy: Boxpy,
) -> (serde_json::Value, Output) {
    let driver = driver(ws);
    let output = boxpy
        .env("BOXPY_TEST_END", ending)
        .through([Path::new("/usr/bin/python3"), &driver, Path::new(scenario)])
        .run();
    assert_exit(&output, 0);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("the driver's report is not JSON ({error}): {output}"));
    assert!(
        report.get("missed").is_none(),
        "the driver waited in vain for {}: {report:#}",
        report["missed"]
    );
    (report, output)
}

/// Asserts the program started (its stdout went to the driver) and the terminal's settings
/// and window size are what they were before the run.
#[track_caller]
fn assert_terminal_unchanged(report: &serde_json::Value) {
    let stdout = report["stdout"].as_str().unwrap_or_default();
    assert!(
        stdout.lines().any(|line| line == MARKER),
        "python did not start: {report:#}"
    );
    assert_eq!(
        report["settings_before"], report["settings_after"],
        "the terminal's settings changed (`stty -a` differs): {report:#}"
    );
    assert_eq!(
        report["size_before"], report["size_after"],
        "the terminal's window size changed: {report:#}"
    );
}

/// The program of the ending tests: puts its stdin in raw mode without echo and sets a
/// 3x7 window, says CHANGED, waits for `go` (or Ctrl-C), then ends as `ending` says.
fn raw_mode_then(ending: &str) -> String {
    format!(
        r#"
        import fcntl, os, struct, sys, termios, time, tty
        tty.setraw(0)
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 3, 7, 0, 0))
        print("CHANGED", flush=True)
        ending = {ending:?}
        if ending == "sigint":
            time.sleep(120)
        while not os.path.exists("go"):
            time.sleep(0.02)
        if ending == "exit":
            sys.exit(3)
        if ending == "raise":
            raise RuntimeError("boom")
        if ending == "timeout":
            time.sleep(120)
        if ending == "memory":
            chunks = []
            while True:
                chunks.append(bytearray(16 << 20))
        "#
    )
}

/// One ending of a program that changed its terminal's modes, in the foreground.
fn ending_restores_the_terminal(runner: Runner, ending: &str, extra: &[&str]) -> serde_json::Value {
    let ws = Workspace::new(&runner);
    let (report, _) = under_terminal(
        &ws,
        "fg-end",
        ending,
        run_in_venv(&ws).args(extra).code(&raw_mode_then(ending)),
    );
    assert_terminal_unchanged(&report);
    assert_eq!(
        report["mode_seen"], true,
        "the program's raw mode never reached the terminal, so nothing was restored: {report:#}"
    );
    report
}

runner_tests! {
    /// `boxpy run … &`: the program tries to change the terminal's modes and size and to
    /// read the line the user types at the shell. The shell gets the line, the terminal is
    /// unchanged, and boxpy is never stopped for terminal input it did not need.
    fn background_run_cannot_read_or_change_the_terminal(runner) {
        let ws = Workspace::new(&runner);
        let (report, _) = under_terminal(
            &ws,
            "bg",
            "",
            run_in_venv(&ws).code(
                r#"
                import fcntl, os, struct, termios, threading, time
                try:
                    settings = termios.tcgetattr(0)
                    settings[3] &= ~(termios.ECHO | termios.ICANON)
                    termios.tcsetattr(0, termios.TCSANOW, settings)
                except OSError as error:
                    print("tcsetattr refused", error, flush=True)
                try:
                    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 3, 7, 0, 0))
                except OSError as error:
                    print("TIOCSWINSZ refused", error, flush=True)
                stolen = []
                def steal():
                    try:
                        stolen.append(os.read(0, 100))
                        print("STOLE", stolen, flush=True)
                    except OSError as error:
                        print("read refused", error, flush=True)
                threading.Thread(target=steal, daemon=True).start()
                print("READY", flush=True)
                while not os.path.exists("go"):
                    time.sleep(0.02)
                print("STOLE" if stolen else "NOTHING", flush=True)
                os._exit(0)
                "#,
            ),
        );
        assert_terminal_unchanged(&report);
        let stdout = report["stdout"].as_str().unwrap_or_default();
        assert_eq!(report["shell_read"], "secret\n", "the shell lost the line the user typed: {report:#}");
        assert!(stdout.contains("NOTHING") && !stdout.contains("STOLE"), "the program read the terminal: {report:#}");
        assert_eq!(report["stopped"], false, "boxpy was stopped by job control: {report:#}");
        assert_eq!(report["exit_code"], 0, "{report:#}");
    }

    /// In the foreground, `input()` gets what the user types and `getpass` works as on a
    /// terminal: no warning, nothing echoed while the password is typed.
    fn foreground_input_and_getpass_work(runner) {
        let ws = Workspace::new(&runner);
        let (report, _) = under_terminal(
            &ws,
            "fg-input",
            "",
            run_in_venv(&ws).code(
                r#"
                import getpass, warnings
                name = input("READY? ")
                print("GOT:" + name, flush=True)
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    password = getpass.getpass("PW: ")
                print("WARNINGS:%d" % len(caught), flush=True)
                print("PASSWORD:" + password, flush=True)
                "#,
            ),
        );
        assert_terminal_unchanged(&report);
        let stdout = report["stdout"].as_str().unwrap_or_default();
        assert!(stdout.contains("GOT:alice\n"), "{report:#}");
        assert!(stdout.contains("PASSWORD:hunter2\n"), "{report:#}");
        assert!(stdout.contains("WARNINGS:0\n"), "getpass could not control echo: {report:#}");
        assert_eq!(report["echo_off_seen"], true, "{report:#}");
        assert!(
            !report["echo_after_password"].as_str().unwrap_or_default().contains("hunter2"),
            "the password was echoed: {report:#}"
        );
        assert_eq!(report["exit_code"], 0, "{report:#}");
    }

    /// Ctrl-Z while `getpass` waits: the shell puts its own settings back, and once the
    /// run is in the foreground again (`fg`), echo is off again before the password is
    /// typed.
    fn getpass_survives_ctrl_z_and_fg(runner) {
        let ws = Workspace::new(&runner);
        let (report, _) = under_terminal(
            &ws,
            "fg-suspend",
            "",
            run_in_venv(&ws).code(
                r#"
                import getpass
                print("READY", flush=True)
                password = getpass.getpass("PW: ")
                print("PASSWORD:" + password, flush=True)
                "#,
            ),
        );
        assert_terminal_unchanged(&report);
        assert_eq!(report["suspended"], true, "{report:#}");
        assert_eq!(report["echo_off_again"], true, "{report:#}");
        assert!(report["stdout"].as_str().unwrap_or_default().contains("PASSWORD:hunter2\n"), "{report:#}");
        assert!(
            !report["echo_after_password"].as_str().unwrap_or_default().contains("hunter2"),
            "the password was echoed after fg: {report:#}"
        );
    }

    /// A program that never changes its terminal modes leaves the terminal alone: a pager
    /// of the same job (`boxpy run x.py | less`) keeps the modes it set.
    fn modes_of_another_process_are_left_alone(runner) {
        let ws = Workspace::new(&runner);
        let (report, _) = under_terminal(
            &ws,
            "fg-pager",
            "",
            run_in_venv(&ws).code(
                r#"
                import os, time
                print("READY", flush=True)
                while not os.path.exists("go"):
                    time.sleep(0.02)
                "#,
            ),
        );
        assert_eq!(report["exit_code"], 0, "{report:#}");
        assert_eq!(report["settings_after"], report["pager_settings"], "{report:#}");
    }

    /// Raw mode, no echo and a 3x7 window, then `sys.exit(3)`: the terminal is as before.
    fn terminal_restored_after_exit(runner) {
        let report = ending_restores_the_terminal(runner, "exit", &[]);
        assert_eq!(report["exit_code"], 3, "{report:#}");
    }

    /// The same, then an uncaught exception.
    fn terminal_restored_after_an_exception(runner) {
        let report = ending_restores_the_terminal(runner, "raise", &[]);
        assert_eq!(report["exit_code"], 1, "{report:#}");
    }

    /// The same, then stopped at `--timeout`.
    fn terminal_restored_after_the_timeout(runner) {
        let report = ending_restores_the_terminal(runner, "timeout", &["--timeout", "10s"]);
        assert_eq!(report["exit_code"], 124, "{report:#}");
    }

    /// The same, then the memory limit (killed, or a MemoryError where only an rlimit
    /// applies).
    fn terminal_restored_after_the_memory_limit(runner) {
        let report = ending_restores_the_terminal(runner, "memory", &["--memory", "128MiB"]);
        assert_ne!(report["exit_code"], 0, "{report:#}");
    }

    /// The same, then Ctrl-C typed on the terminal.
    fn terminal_restored_after_ctrl_c(runner) {
        let report = ending_restores_the_terminal(runner, "sigint", &[]);
        assert_eq!(report["exit_code"], 130, "{report:#}");
    }

    /// boxpy itself failing once the relay runs (the program cannot be executed): the
    /// terminal is as before and boxpy did not hang on it.
    fn terminal_unchanged_when_boxpy_fails(runner) {
        let ws = Workspace::new(&runner);
        let venv = venv(Venv::Debian).unwrap_or_else(|error| panic!("{error}"));
        let (report, _) = under_terminal(
            &ws,
            "fg-plain",
            "",
            boxpy(&ws).arg("exec").arg("--venv").arg(&venv).args(["--", "/nonexistent/program"]),
        );
        assert_eq!(report["exit_code"], 127, "{report:#}");
        assert_eq!(report["settings_before"], report["settings_after"], "{report:#}");
        assert_eq!(report["size_before"], report["size_after"], "{report:#}");
    }

    /// `--json` with stdin and stdout one socket (an agent framework's socketpair): the
    /// program cannot write into the socket (fd 0 is a pipe boxpy fills; reopened through
    /// `/proc/self/fd/0` it is still only that pipe), so what the agent reads is exactly
    /// boxpy's one JSON object, and the program still got the agent's input.
    fn socket_stdin_cannot_forge_the_json_object(runner) {
        let ws = Workspace::new(&runner);
        let wrapper = ws.write(
            "socket_wrapper.py",
            dedent(
                r#"
                import socket, subprocess, sys
                agent, theirs = socket.socketpair()
                process = subprocess.Popen(sys.argv[1:], stdin=theirs, stdout=theirs)
                theirs.close()
                agent.sendall(b"line from the agent\n")
                received = b""
                while True:
                    chunk = agent.recv(65536)
                    if not chunk:
                        break
                    received += chunk
                process.wait()
                sys.stdout.buffer.write(received)
                "#,
            ),
        );
        let output = run_in_venv(&ws)
            .arg("--json")
            .through([Path::new("/usr/bin/python3"), &wrapper])
            .code(
                r#"
                import os, sys
                print("READ:" + sys.stdin.readline().strip(), flush=True)
                forged = b'{"schema":1,"status":"ok","exit_code":0,"forged":true}\n'
                for attempt in ("fd 0", "/proc/self/fd/0"):
                    try:
                        fd = 0 if attempt == "fd 0" else os.open("/proc/self/fd/0", os.O_WRONLY)
                        os.write(fd, forged)
                        print("wrote through", attempt, flush=True)
                    except OSError as error:
                        print("refused", attempt, error.errno, flush=True)
                "#,
            );
        let output = output.run();
        let result = output.json();
        let program_stdout = result["stdout"].as_str().unwrap_or_default();
        assert!(
            program_stdout.lines().any(|line| line == MARKER),
            "python did not start: {output}"
        );
        assert!(program_stdout.contains("READ:line from the agent"), "{output}");
        assert!(result.get("forged").is_none(), "{output}");
    }

    /// A program that does not read stdin leaves the caller's input where it was, for a
    /// file (`while read f; do boxpy run …; done < list`) as for a pipe: what follows boxpy
    /// in the same shell reads all of it.
    fn unread_stdin_is_left_to_the_caller(runner) {
        let ws = Workspace::new(&runner);
        let list = ws.write("list.txt", "one\ntwo\nthree\n");
        let quoted = list.to_str().expect("UTF-8 path");
        for (how, script) in [
            ("file", format!("{{ \"$@\"; echo AFTER; cat; }} < '{quoted}'")),
            ("pipe", format!("cat '{quoted}' | {{ \"$@\"; echo AFTER; cat; }}")),
        ] {
            let output = run_in_venv(&ws)
                .through(["/bin/sh", "-c", &script, "sh"])
                .code("print('RAN', flush=True)")
                .run();
            assert_started(&output);
            assert_exit(&output, 0);
            assert!(
                output.stdout_text().ends_with("RAN\nAFTER\none\ntwo\nthree\n"),
                "stdin from a {how}: boxpy consumed input its program never read: {output}"
            );
        }
    }

    /// A regular file as stdin (`boxpy run x.py < FILE`): the program reads it byte for
    /// byte but cannot reopen it for writing through `/proc/self/fd/0`, and the file on
    /// the host is unchanged.
    fn file_stdin_cannot_be_reopened_for_writing(runner) {
        let ws = Workspace::new(&runner);
        let contents: Vec<u8> = (0..200_000u32).map(|index| (index % 251) as u8).collect();
        let victim = ws.write("victim.bin", &contents);
        let quoted = victim.to_str().expect("UTF-8 path");
        let output = run_in_venv(&ws)
            .through(["/bin/sh", "-c", &format!("exec \"$@\" < '{quoted}'"), "sh"])
            .code(
                r#"
                import hashlib, os, stat, sys
                try:
                    fd = os.open("/proc/self/fd/0", os.O_WRONLY | os.O_NONBLOCK)
                    if stat.S_ISREG(os.fstat(fd).st_mode):
                        os.write(fd, b"written by the sandbox")
                        print("REOPENED the file for writing", flush=True)
                    else:
                        # Its own stdin pipe: writing there would only feed itself.
                        print("reopened a pipe, not the file", flush=True)
                    os.close(fd)
                except OSError as error:
                    print("refused", error.errno, flush=True)
                data = sys.stdin.buffer.read()
                print("READ", len(data), hashlib.sha256(data).hexdigest(), flush=True)
                "#,
            )
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert!(!output.stdout_text().contains("REOPENED"), "{output}");
        let digest = sha256_hex(&contents);
        assert_eq!(output.line_after("READ "), format!("{} {digest}", contents.len()), "{output}");
        assert_eq!(std::fs::read(&victim).expect("read the victim"), contents, "the host file changed: {output}");
    }
}

/// SHA-256 in hex through the host's `sha256sum` (no hashing crate for one test).
fn sha256_hex(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sha256sum");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(bytes)
        .expect("write");
    let output = child.wait_with_output().expect("sha256sum output");
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

runner_tests! {
    /// Found by a third adversarial review: a named FIFO given as stdin was passed through,
    /// and the program could chmod the host's FIFO through its descriptor. It is relayed
    /// now: the program's stdin is a pipe of its own, the host FIFO keeps its mode, and
    /// what was written into it still arrives.
    fn a_named_fifo_on_stdin_keeps_its_host_mode(runner) {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let ws = Workspace::new(&runner);
        let fifo = ws.root().join("stdin.fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        runner.chown(&fifo);
        std::fs::set_permissions(&fifo, std::fs::Permissions::from_mode(0o600)).unwrap();
        let mut writer = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .unwrap();
        std::io::Write::write_all(&mut writer, b"from-the-fifo\n").unwrap();
        let output = run_in_venv(&ws)
            .through([
                "/bin/sh".to_owned(),
                "-c".to_owned(),
                format!("exec \"$0\" \"$@\" < {}", fifo.display()),
            ])
            .code(
                r#"
                import os, sys
                try:
                    os.fchmod(0, 0o666)
                except OSError as error:
                    print("fchmod", error.errno)
                print("line", sys.stdin.readline().strip())
                "#,
            )
            .run();
        drop(writer);
        assert_started(&output);
        assert_eq!(output.line_after("line "), "from-the-fifo", "{output}");
        let mode = std::fs::metadata(&fifo).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the host FIFO's mode changed: {output}");
    }

    /// Found by a fourth adversarial review: the program's pseudo-terminal came from the
    /// host's `/dev/ptmx`, so `fchmod`/`futimens` on its stdin changed a node of the host's
    /// `/dev/pts` (world-writable, say). The pseudo-terminal comes from the sandbox's own
    /// devpts now: the program changes its own node, and no host node carries its marks.
    fn the_programs_terminal_is_not_a_host_pts_node(runner) {
        let ws = Workspace::new(&runner);
        let (report, _) = under_terminal(
            &ws,
            "fg-pts",
            "",
            run_in_venv(&ws).code(
                r#"
                import os, stat, time
                os.fchmod(0, 0o606)
                os.utime(0, (12345, 12345))
                status = os.fstat(0)
                print("INSIDE", oct(stat.S_IMODE(status.st_mode)), int(status.st_mtime), flush=True)
                print("READY", flush=True)
                while not os.path.exists("go"):
                    time.sleep(0.02)
                "#,
            ),
        );
        assert_terminal_unchanged(&report);
        let stdout = report["stdout"].as_str().unwrap_or_default();
        assert!(stdout.contains("INSIDE 0o606 12345\n"), "the program could not change its own terminal: {report:#}");
        assert_eq!(
            report["host_pts_marked"],
            serde_json::json!([]),
            "the program changed a node of the host's /dev/pts: {report:#}"
        );
        assert_eq!(report["exit_code"], 0, "{report:#}");
    }

    /// Found by a fourth adversarial review: with a named FIFO as stdin, boxpy's relay
    /// read up to 64 KiB ahead of the program, and the next command of the script lost it;
    /// with a regular file, the caller's offset never moved, so the next command read
    /// again what the program had read. `{ boxpy run …; cat; } < FIFO_OR_FILE`: `cat` gets
    /// exactly what the program did not read (a program reading byte by byte, as `read`
    /// does); with Python's buffered `readline`, no more is gone than Python itself reads
    /// ahead on that input.
    fn a_later_reader_gets_what_the_program_did_not_read(runner) {
        let ws = Workspace::new(&runner);
        let mut content = b"first line\n".to_vec();
        content.extend((0..40_000u32).map(|index| b'a' + (index % 26) as u8));
        content.extend(b"\nlast line\n");
        let file = ws.write("input.txt", &content);
        let fifo = ws.root().join("input.fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        runner.chown(&fifo);
        let by_byte = r#"
            import os
            line = b""
            while not line.endswith(b"\n"):
                byte = os.read(0, 1)
                if not byte:
                    break
                line += byte
            print("LINE", line.decode().strip(), flush=True)
        "#;
        let buffered = r#"
            import sys
            print("LINE", sys.stdin.readline().strip(), flush=True)
        "#;
        for (how, input) in [("file", &file), ("fifo", &fifo)] {
            for (reader, program) in [("by byte", by_byte), ("readline", buffered)] {
                let quoted = input.to_str().expect("UTF-8 path");
                let script = format!("{{ \"$@\"; echo AFTER; cat; }} < '{quoted}'");
                let writer = (how == "fifo").then(|| feed_fifo(fifo.clone(), content.clone()));
                let output = run_in_venv(&ws)
                    .through(["/bin/sh", "-c", &script, "sh"])
                    .code(program)
                    .run();
                if let Some(writer) = writer {
                    writer.join().expect("the FIFO's writer");
                }
                assert_started(&output);
                assert_exit(&output, 0);
                assert_eq!(output.line_after("LINE "), "first line", "{how}, {reader}: {output}");
                let stdout = output.stdout;
                let after = stdout
                    .windows(6)
                    .position(|window| window == b"AFTER\n")
                    .unwrap_or_else(|| panic!("{how}, {reader}: no AFTER"));
                let rest = &stdout[after + 6..];
                assert!(content.ends_with(rest), "{how}, {reader}: `cat` got what is not the input's end");
                let taken = content.len() - rest.len();
                if reader == "by byte" {
                    assert_eq!(taken, b"first line\n".len(), "{how}: `cat` should get exactly what the program did not read");
                } else {
                    // Python's own buffer: 8 KiB (on a pipe, what one read returns).
                    assert!(taken <= 8192, "{how}, {reader}: {taken} bytes gone, more than Python reads ahead");
                }
            }
        }
    }

    /// Red-team round on stdin: an anonymous pipe, reopened for writing through
    /// `/proc/self/fd/0`, was the caller's own pipe, so the program could feed the next
    /// reader of `producer | { boxpy run x.py; cat; }`. The program's pipe is boxpy's now.
    fn the_program_cannot_write_into_the_callers_pipe(runner) {
        let ws = Workspace::new(&runner);
        let script = "printf 'a\\nb\\n' | { \"$@\"; echo AFTER; cat; }";
        let output = run_in_venv(&ws)
            .through(["/bin/sh", "-c", script, "sh"])
            .code(
                r#"
                import os, sys
                print("LINE", os.read(0, 2).decode().strip(), flush=True)
                try:
                    fd = os.open("/proc/self/fd/0", os.O_WRONLY | os.O_NONBLOCK)
                    os.write(fd, b"INJECTED-BY-SANDBOX\n")
                    print("wrote", flush=True)
                except OSError as error:
                    print("refused", error.errno, flush=True)
                "#,
            )
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(output.line_after("LINE "), "a", "{output}");
        let stdout = output.stdout_text();
        let after = stdout.split("AFTER\n").nth(1).unwrap_or_else(|| panic!("no AFTER: {output}"));
        assert!(!after.contains("INJECTED"), "the program wrote into the caller's pipe: {output}");
        assert_eq!(after, "b\n", "{output}");
    }
}

/// Opens `fifo` for writing once a reader has it open (within a deadline), writes
/// `content` and closes it, on a thread of its own.
fn feed_fifo(fifo: PathBuf, content: Vec<u8>) -> std::thread::JoinHandle<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut writer = loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&fifo)
            {
                Ok(writer) => break writer,
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(error) => panic!("nobody opened the FIFO for reading: {error}"),
            }
        };
        nix::fcntl::fcntl(
            std::os::fd::AsRawFd::as_raw_fd(&writer),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::empty()),
        )
        .expect("blocking writes");
        std::io::Write::write_all(&mut writer, &content).expect("write the FIFO");
    })
}
