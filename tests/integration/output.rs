//! The program's output on its way through boxpy (issue 19: spliced stderr with its tail
//! kept by `tee(2)`, pipes widened for large streams, the `limits.output` budget, a
//! non-blocking caller). Each of these hung, lost bytes or lost the report in a build.

use crate::harness::{assert_exit, dedent, run_in_venv, runner_tests, unique, Workspace};

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
}
