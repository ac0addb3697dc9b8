//! The program's output on its way through boxpy (issue 19: spliced stderr with its tail
//! kept by `tee(2)`, pipes widened for large streams, the `limits.output` budget, a
//! non-blocking caller). Each of these hung, lost bytes or lost the report in a build.

use crate::harness::{
    assert_exit, boxpy, dedent, require_venv, run_in_venv, runner_tests, unique, Venv, Workspace,
};

/// The program writes each piece only once boxpy has taken the previous one out of its
/// stderr pipe (FIONREAD on fd 2 is 0), so every piece is a pipe buffer of its own.
const SMALL_STDERR_WRITES: &str = r#"
import fcntl, os, struct, termios, time
def queued():
    return struct.unpack("i", fcntl.ioctl(2, termios.FIONREAD, b"\0\0\0\0"))[0]
for i in range(40):
    os.write(2, b"line %d\n" % i)
    for _ in range(20000):
        if queued() == 0:
            break
        time.sleep(0.001)
print("all written", flush=True)
"#;

/// A wrapper that starts boxpy (its arguments follow) with stdout a pipe nobody ever reads,
/// waits for boxpy with no deadline of its own and prints how it ended. boxpy dies with the
/// wrapper (PR_SET_PDEATHSIG), so the harness's deadline cleans up a hang.
const NEVER_READS_STDOUT: &str = "import ctypes, os, signal, subprocess, sys\n\
    read, write = os.pipe()\n\
    def die_with_parent():\n    ctypes.CDLL(None).prctl(1, signal.SIGKILL)\n\
    child = subprocess.Popen(sys.argv[1:], stdout=write, preexec_fn=die_with_parent)\n\
    os.close(write)\n\
    print('boxpy exited', child.wait(), flush=True)\n";

/// [`NEVER_READS_STDOUT`], but after 3 s it sends boxpy SIGTERM (as a supervisor would to a
/// stuck job) before waiting for it.
const NEVER_READS_THEN_TERMINATES: &str = "import ctypes, os, signal, subprocess, sys, time\n\
    read, write = os.pipe()\n\
    def die_with_parent():\n    ctypes.CDLL(None).prctl(1, signal.SIGKILL)\n\
    child = subprocess.Popen(sys.argv[1:], stdout=write, preexec_fn=die_with_parent)\n\
    os.close(write)\n\
    time.sleep(3)\n\
    child.send_signal(signal.SIGTERM)\n\
    print('boxpy exited', child.wait(), flush=True)\n";

/// A wrapper that gives boxpy a non-blocking pipe for stdout (read at once), waits for it
/// and prints the CPU time boxpy and its children used (`wait4`).
const NON_BLOCKING_STDOUT_CPU: &str = "import ctypes, fcntl, os, signal, subprocess, sys, threading\n\
    read, write = os.pipe()\n\
    fcntl.fcntl(write, fcntl.F_SETFL, fcntl.fcntl(write, fcntl.F_GETFL) | os.O_NONBLOCK)\n\
    def die_with_parent():\n    ctypes.CDLL(None).prctl(1, signal.SIGKILL)\n\
    child = subprocess.Popen(sys.argv[1:], stdout=write, preexec_fn=die_with_parent)\n\
    os.close(write)\n\
    got = []\n\
    def drain():\n    while True:\n        chunk = os.read(read, 65536)\n        if not chunk: break\n        got.append(chunk)\n\
    reader = threading.Thread(target=drain); reader.start()\n\
    _, status, usage = os.wait4(child.pid, 0)\n\
    reader.join()\n\
    print('exit', os.waitstatus_to_exitcode(status), 'cpu-ms', int((usage.ru_utime + usage.ru_stime) * 1000), 'stdout', b''.join(got).count(b'tick'), flush=True)\n";

/// A wrapper that gives boxpy a non-blocking pipe for stdout or stderr (`WHICH` in its
/// environment, default stdout), reads it only after a second, a few KiB at a time, and
/// prints what it got: its length, whether it is one JSON value, the report's first line.
const NON_BLOCKING_LATE_READER: &str = "import ctypes, fcntl, json, os, signal, subprocess, sys, time\n\
    read, write = os.pipe()\n\
    fcntl.fcntl(write, fcntl.F_SETFL, fcntl.fcntl(write, fcntl.F_GETFL) | os.O_NONBLOCK)\n\
    def die_with_parent():\n    ctypes.CDLL(None).prctl(1, signal.SIGKILL)\n\
    which = os.environ.get('WHICH', 'stdout')\n\
    streams = {'stdout': write} if which == 'stdout' else {'stdout': subprocess.DEVNULL, 'stderr': write}\n\
    child = subprocess.Popen(sys.argv[1:], preexec_fn=die_with_parent, **streams)\n\
    os.close(write)\n\
    time.sleep(1)\n\
    data = b''\n\
    while True:\n    chunk = os.read(read, 4096)\n    if not chunk: break\n    data += chunk\n    time.sleep(0.01)\n\
    child.wait()\n\
    try:\n    json.loads(data); valid = 'valid-json'\n\
    except ValueError:\n    valid = 'not-json'\n\
    report = [line for line in data.decode(errors='replace').splitlines() if line.startswith('error:')]\n\
    print('exit', child.returncode, 'bytes', len(data), valid, 'report', report[:1], flush=True)\n";

runner_tests! {
    /// Forty small writes to stderr, each taken by boxpy before the next, with stderr a
    /// pipe: each is a buffer of its own in the private tail pipe, whose slots run out
    /// long before its bytes do; boxpy compacts it instead of waiting for room there (it
    /// hung, even past `limits.timeout`).
    fn stderr_in_many_small_writes_does_not_hang_boxpy(runner) {
        let ws = Workspace::new(&runner);
        let output = run_in_venv(&ws).code(SMALL_STDERR_WRITES).run();
        assert_exit(&output, 0);
        let stderr = output.stderr_text();
        for i in 0..40 {
            assert!(stderr.contains(&format!("line {i}\n")), "line {i} missing: {output}");
        }
    }

    /// `limits.output = "1MiB"`: 16 bytes on stderr and nothing on stdout are far under the
    /// limit. Each stream reserves budget only for bytes its pipe holds (stdout's splice
    /// used to reserve the whole 1 MiB while it waited, and stderr's line was dropped with
    /// a false notice).
    fn stderr_under_the_output_limit_is_not_dropped(runner) {
        let ws = Workspace::new(&runner);
        let policy = ws.write(
            &format!("{}.toml", unique("rt-output")),
            dedent("[limits]\noutput = \"1MiB\"\n"),
        );
        let output = run_in_venv(&ws)
            .arg("--policy")
            .arg(policy)
            .code("import sys\nsys.stderr.write('hello-on-stderr\\n')")
            .run();
        assert_exit(&output, 0);
        let stderr = output.stderr_text();
        assert!(stderr.contains("hello-on-stderr"), "stderr dropped: {output}");
        assert!(!stderr.contains("limits.output"), "false notice: {output}");
    }

    /// A traceback of 40 KiB (a long exception message) streamed to a pipe: the report
    /// still names the exception: the tail keeps its whole 64 KiB however the stream's
    /// rounds fall (it was cut to 32 KiB in a build).
    fn a_traceback_under_64_kib_is_still_found(runner) {
        let ws = Workspace::new(&runner);
        let output = run_in_venv(&ws)
            .code("raise ValueError('v' * 40000)")
            .run();
        assert_exit(&output, 1);
        assert!(
            output.stderr_text().contains("error: ValueError"),
            "no report of the ValueError: {}",
            output.stderr_text().lines().filter(|l| !l.contains("vvvv")).collect::<Vec<_>>().join("\n")
        );
    }

    /// The same without any waiting: a pipe in packet mode (O_DIRECT, which the program
    /// may set on its own stderr) makes every write a buffer of its own, so 20 one-byte
    /// writes would fill the tail pipe's slots with 20 bytes.
    fn stderr_in_packet_mode_does_not_hang_boxpy(runner) {
        let ws = Workspace::new(&runner);
        let output = run_in_venv(&ws)
            .code(
                "import fcntl, os\n\
                 fcntl.fcntl(2, fcntl.F_SETFL, fcntl.fcntl(2, fcntl.F_GETFL) | os.O_DIRECT)\n\
                 for _ in range(20):\n    os.write(2, b'x')\n",
            )
            .run();
        assert_exit(&output, 0);
        assert_eq!(output.stderr_text().matches('x').count(), 20, "{output}");
    }

    /// The caller's stdout is non-blocking and read late: the `--json` object arrives
    /// whole and valid (it was cut at the pipe's size, exit 0), and so does streamed
    /// output, without boxpy spinning on EAGAIN.
    fn a_non_blocking_stdout_gets_the_whole_json_object_and_stream(runner) {
        let ws = Workspace::new(&runner);
        let wrapper = "import fcntl, json, os, subprocess, sys, time\n\
            read, write = os.pipe()\n\
            fcntl.fcntl(write, fcntl.F_SETFL, fcntl.fcntl(write, fcntl.F_GETFL) | os.O_NONBLOCK)\n\
            child = subprocess.Popen(sys.argv[1:], stdout=write)\n\
            os.close(write)\n\
            time.sleep(1)\n\
            data = b''.join(iter(lambda: os.read(read, 65536), b''))\n\
            child.wait()\n\
            if '--json' in sys.argv:\n    value = json.loads(data)\n    print('json', len(value['stdout']), child.returncode)\n\
            else:\n    print('stream', data.count(b'z'), child.returncode)\n";
        for json in [true, false] {
            let mut boxpy = run_in_venv(&ws).through(["/usr/bin/python3", "-c", wrapper]);
            if json {
                boxpy = boxpy.arg("--json");
            }
            let output = boxpy
                .code("import sys\nsys.stdout.write('z' * 300000)")
                .run();
            assert_exit(&output, 0);
            let expected = if json { "json" } else { "stream" };
            let line = output.stdout_text();
            let words: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(words.first(), Some(&expected), "{output}");
            let count: usize = words.get(1).and_then(|word| word.parse().ok()).unwrap_or(0);
            assert!(count >= 300_000, "{output}");
            assert_eq!(words.get(2), Some(&"0"), "{output}");
        }
    }

    /// The program puts its stderr in packet mode (O_DIRECT) and raises: the report still
    /// finds the traceback. `tee(2)` copies the packet flag into the private tail pipe, so
    /// it is read a whole pipe's size at a time (a shorter read throws a packet's rest away).
    fn a_traceback_on_a_packet_mode_stderr_is_still_reported(runner) {
        let ws = Workspace::new(&runner);
        let output = run_in_venv(&ws)
            .code(
                "import fcntl, os\n\
                 fcntl.fcntl(2, fcntl.F_SETFL, fcntl.fcntl(2, fcntl.F_GETFL) | os.O_DIRECT)\n\
                 raise ValueError('boom-in-packets')\n",
            )
            .run();
        assert_exit(&output, 1);
        let stderr = output.stderr_text();
        assert!(
            stderr.contains("Traceback (most recent call last):"),
            "the stream itself lost bytes: {output}"
        );
        assert!(
            stderr.contains("error: ValueError: boom-in-packets"),
            "no report of the ValueError: {output}"
        );
    }

    /// `limits.output = "unlimited"` and the caller's stdout a non-blocking pipe: while the
    /// program sleeps, boxpy waits in `poll` (a pipe-to-pipe `splice` is non-blocking on
    /// both sides then, and an empty program pipe gave EAGAIN: 3 s of CPU in a spin). CPU
    /// used, not time taken, is what is checked.
    fn a_non_blocking_stdout_without_an_output_limit_does_not_spin(runner) {
        let ws = Workspace::new(&runner);
        let policy = ws.write(
            &format!("{}.toml", unique("output")),
            dedent("[limits]\noutput = \"unlimited\"\n"),
        );
        let output = run_in_venv(&ws)
            .through(["/usr/bin/python3", "-c", NON_BLOCKING_STDOUT_CPU])
            .arg("--policy")
            .arg(&policy)
            .code("import sys, time\nprint('tick', flush=True)\ntime.sleep(3)\nprint('tick')\n")
            .run();
        assert_exit(&output, 0);
        let line = output.line_after("exit 0 cpu-ms ");
        let words: Vec<&str> = line.split_whitespace().collect();
        let cpu_ms: u64 = words.first().and_then(|word| word.parse().ok()).unwrap_or(u64::MAX);
        assert_eq!(words.get(2), Some(&"2"), "stdout lost: {output}");
        assert!(cpu_ms < 1000, "boxpy spun while the program slept ({cpu_ms} ms of CPU): {output}");
    }

    /// `nbexec -o -` with the caller's stdout a non-blocking pipe read late: the whole
    /// notebook arrives (it was cut at the pipe's 64 KiB, exit 125).
    fn nbexec_to_a_non_blocking_stdout_writes_the_whole_notebook(runner) {
        let venv = require_venv!(Venv::Jupyter);
        let ws = Workspace::new(&runner);
        ws.write(
            "work/loud.ipynb",
            crate::nbexec::notebook(&[("code", "print('n' * 300000)", &[])]),
        );
        let output = boxpy(&ws)
            .through(["/usr/bin/python3", "-c", NON_BLOCKING_LATE_READER])
            .arg("nbexec")
            .arg("--venv")
            .arg(&venv)
            .args(["loud.ipynb", "-o", "-"])
            .run();
        assert_exit(&output, 0);
        let line = output.stdout_text();
        assert!(line.starts_with("exit 0 "), "{output}");
        assert!(line.contains(" valid-json "), "notebook cut: {output}");
    }

    /// The caller's stderr is a non-blocking pipe read late and the program fails after
    /// 100 KB on stderr: the stream and boxpy's report both arrive (the report was written
    /// with a plain `write_all`, which failed with EAGAIN, unseen).
    fn the_report_reaches_a_non_blocking_stderr(runner) {
        let ws = Workspace::new(&runner);
        let output = run_in_venv(&ws)
            .through(["/usr/bin/python3", "-c", NON_BLOCKING_LATE_READER])
            .env("WHICH", "stderr")
            .code("import sys\nsys.stderr.write('z' * 100000)\nraise ValueError('r' * 3000)\n")
            .run();
        assert_exit(&output, 0);
        let line = output.stdout_text();
        assert!(line.starts_with("exit 1 "), "{output}");
        assert!(line.contains("'error: ValueError: rrr"), "no report: {output}");
    }

    /// The caller's stdout is a pipe nobody reads and the program prints forever under
    /// `--timeout 2s`: boxpy ends at its timeout (124), its pumps left behind after a short
    /// grace (it waited on the stdout pump, blocked on the full pipe, for ever).
    fn a_caller_that_never_reads_does_not_keep_boxpy_past_the_timeout(runner) {
        let ws = Workspace::new(&runner);
        let output = run_in_venv(&ws)
            .through(["/usr/bin/python3", "-c", NEVER_READS_STDOUT])
            .arg("--timeout")
            .arg("2s")
            .code("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n")
            .run();
        assert_exit(&output, 0);
        assert!(
            output.stdout_text().contains("boxpy exited 124"),
            "boxpy did not end at its timeout: {output}"
        );
    }

    /// The same stuck caller and no timeout: SIGTERM to boxpy is forwarded to the program,
    /// and boxpy then ends too (it stayed blocked in the pump with the signals blocked, so
    /// Ctrl-C, SIGTERM and SIGHUP did nothing more; only SIGKILL ended it).
    fn sigterm_ends_boxpy_whose_caller_never_reads(runner) {
        let ws = Workspace::new(&runner);
        let output = run_in_venv(&ws)
            .through(["/usr/bin/python3", "-c", NEVER_READS_THEN_TERMINATES])
            .code("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n")
            .run();
        assert_exit(&output, 0);
        assert!(
            output.stdout_text().contains("boxpy exited "),
            "boxpy ignored SIGTERM: {output}"
        );
    }
}
