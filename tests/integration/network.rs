//! Network modes (SPEC §4): `none` (the default) has only a private loopback, `localhost`
//! the same (servers the program starts itself work), `full` the host's network.
//!
//! The host side is a real listener on 127.0.0.1 that records whether anything connected.

use std::time::Duration;

use crate::harness::{
    assert_exit, assert_started, py, run_in_venv, runner_tests, unique, HostListener, Workspace,
};

/// Python that tries to connect to the host listener and prints `connect RESULT`.
fn connect_snippet(port: u16) -> String {
    format!(
        r#"
        import errno, socket
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=5)
            print("connect CONNECTED")
        except OSError as error:
            print("connect", type(error).__name__, errno.errorcode.get(error.errno, error.errno))
        "#
    )
}

/// The refusals that show the host's loopback is not reachable.
fn assert_connection_refused(result: &str, output: &crate::harness::Output) {
    assert!(
        ["ECONNREFUSED", "ENETUNREACH", "EHOSTUNREACH"]
            .iter()
            .any(|errno| result.ends_with(errno)),
        "connecting to the host listener should be refused, got `{result}`: {output}"
    );
}

runner_tests! {
    /// The default policy (`network = "none"`) cannot reach a listener on the host.
    fn default_network_cannot_reach_a_host_listener(runner) {
        let ws = Workspace::new(&runner);
        let listener = HostListener::new();
        let output = run_in_venv(&ws).code(&connect_snippet(listener.port())).run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_connection_refused(&output.line_after("connect "), &output);
        assert!(!listener.connection_arrived(), "a connection reached the host listener");
    }

    /// `--network none` cannot resolve names.
    fn no_network_cannot_resolve_names(runner) {
        let ws = Workspace::new(&runner);
        let output = run_in_venv(&ws)
            .args(["--network", "none"])
            .code(
                r#"
                import socket
                try:
                    print("resolve", socket.getaddrinfo("example.com", 443))
                except OSError as error:
                    print("resolve", type(error).__name__)
                "#,
            )
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(output.line_after("resolve "), "gaierror", "{output}");
    }

    /// `--network full` reaches the host listener; a line goes each way.
    fn full_network_talks_to_a_host_listener(runner) {
        let ws = Workspace::new(&runner);
        let listener = HostListener::new();
        let port = listener.port();
        let from_host = unique("hello from the host");
        let from_sandbox = unique("hello from the sandbox");
        let server = listener.serve_one_line(from_host.clone(), Duration::from_secs(30));
        let output = run_in_venv(&ws)
            .args(["--network", "full"])
            .code(&format!(
                r#"
                import socket
                connection = socket.create_connection(("127.0.0.1", {port}), timeout=10)
                connection.sendall({line}.encode() + b"\n")
                print("reply", connection.makefile().readline().strip())
                "#,
                line = py(&from_sandbox)
            ))
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(output.line_after("reply "), from_host, "{output}");
        let received = server.join().expect("the host listener thread");
        assert_eq!(received.as_deref(), Some(from_sandbox.as_str()), "{output}");
    }

    /// `--network localhost`: a server the program starts on 127.0.0.1 is reachable.
    fn localhost_network_serves_inside_the_sandbox(runner) {
        let ws = Workspace::new(&runner);
        let output = run_in_venv(&ws)
            .args(["--network", "localhost"])
            .code(
                r#"
                import socket, threading
                server = socket.create_server(("127.0.0.1", 0))
                def answer():
                    connection, _ = server.accept()
                    line = connection.makefile().readline()
                    connection.sendall(b"echo " + line.encode())
                threading.Thread(target=answer, daemon=True).start()
                client = socket.create_connection(server.getsockname(), timeout=10)
                client.sendall(b"ping inside\n")
                print("reply", client.makefile().readline().strip())
                "#,
            )
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(output.line_after("reply "), "echo ping inside", "{output}");
    }

    /// `--network localhost` is the sandbox's own loopback: the host listener is unreachable.
    fn localhost_network_cannot_reach_a_host_listener(runner) {
        let ws = Workspace::new(&runner);
        let listener = HostListener::new();
        let output = run_in_venv(&ws)
            .args(["--network", "localhost"])
            .code(&connect_snippet(listener.port()))
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_connection_refused(&output.line_after("connect "), &output);
        assert!(!listener.connection_arrived(), "a connection reached the host listener");
    }
}
