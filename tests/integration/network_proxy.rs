//! Network by name (issue 17): `--network proxy` keeps the sandbox on its own loopback and
//! boxpy's proxy (HTTP absolute-form and `CONNECT` on 127.0.0.1:3128, SOCKS5 on
//! 127.0.0.1:1080, inside the sandbox) decides each connection by the `allow` and `deny`
//! rules, records each refusal and reports it.
//!
//! The upstreams are real servers on the host's loopback ([`crate::servers`]); they count
//! their connections, so a refusal test proves nothing reached them. The sandboxed scripts
//! speak to the proxy by hand (the proxy variables' `NO_PROXY` names localhost, so ordinary
//! clients would not use the proxy for these upstreams): every byte that crosses is
//! compared with what the server sent.
//!
//! Names: a server on the host's loopback is reached as `localhost` (allowed by name and by
//! its address `127.0.0.1`, since an allowed name that resolves to loopback is refused
//! without the address rule) or as `127.0.0.1` (allowed by address alone).

use std::path::Path;

use serde_json::Value;

use crate::harness::{
    assert_exit, assert_started, boxpy, dedent, python, require_venv, run_in_venv, runner_tests,
    venv, Boxpy, Output, Runner, Venv, Workspace, MARKER,
};
use crate::servers::{
    copy_into, first_difference, pattern, Certificate, EchoServer, HttpServer, TlsServer,
};

/// The Python every script starts with: the proxy spoken to by hand.
///
/// - `http_get(host, port, path)`: an absolute-form `GET` through 127.0.0.1:3128 →
///   `(status, headers, body)`.
/// - `http_connect(host, port)`: `CONNECT host:port` → `(status, headers, socket)`.
/// - `socks_connect(host, port)`: a SOCKS5 `CONNECT` (no authentication; the host sent as
///   an IPv4 or IPv6 address when it is one, else as a domain) → `(reply, socket)`.
/// - `echo_exact(socket, payload)`: sends `payload` while reading it back → the bytes read.
/// - `refusal(status, headers)` / `socks_refusal(reply)`: one `asked:` line for a test.
const CLIENT: &str = r#"
import socket, threading

HTTP_PROXY = ("127.0.0.1", 3128)
SOCKS_PROXY = ("127.0.0.1", 1080)

def recv_exact(sock, count):
    data = bytearray()
    while len(data) < count:
        chunk = sock.recv(min(count - len(data), 1 << 20))
        if not chunk:
            raise EOFError(f"the connection closed after {len(data)} of {count} bytes")
        data += chunk
    return bytes(data)

def read_head(sock):
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        byte = sock.recv(1)
        if not byte:
            raise EOFError(f"the connection closed in the response head: {head!r}")
        head += byte
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return status, headers

def read_to_end(sock):
    data = bytearray()
    while True:
        chunk = sock.recv(1 << 20)
        if not chunk:
            return bytes(data)
        data += chunk

def http_get(host, port, path="/data"):
    sock = socket.create_connection(HTTP_PROXY, timeout=60)
    target = f"{host}:{port}"
    sock.sendall(
        f"GET http://{target}{path} HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n".encode()
    )
    status, headers = read_head(sock)
    if status != 200:
        sock.close()
        return status, headers, b""
    if "content-length" in headers:
        body = recv_exact(sock, int(headers["content-length"]))
    else:
        body = read_to_end(sock)
    sock.close()
    return status, headers, body

def http_connect(host, port):
    sock = socket.create_connection(HTTP_PROXY, timeout=60)
    target = f"{host}:{port}"
    sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    status, headers = read_head(sock)
    return status, headers, sock

def socks_connect(host, port):
    sock = socket.create_connection(SOCKS_PROXY, timeout=60)
    sock.sendall(b"\x05\x01\x00")
    greeting = recv_exact(sock, 2)
    if greeting != b"\x05\x00":
        raise RuntimeError(f"the SOCKS5 proxy answered the greeting with {greeting!r}")
    for family, kind in ((socket.AF_INET, b"\x01"), (socket.AF_INET6, b"\x04")):
        try:
            address = kind + socket.inet_pton(family, host)
            break
        except OSError:
            pass
    else:
        address = b"\x03" + bytes([len(host)]) + host.encode()
    sock.sendall(b"\x05\x01\x00" + address + port.to_bytes(2, "big"))
    version, reply, _, kind = recv_exact(sock, 4)
    if version != 5:
        raise RuntimeError(f"the SOCKS5 reply has version {version}")
    try:
        if kind == 1:
            recv_exact(sock, 4 + 2)
        elif kind == 4:
            recv_exact(sock, 16 + 2)
        elif kind == 3:
            recv_exact(sock, recv_exact(sock, 1)[0] + 2)
    except (EOFError, OSError):
        if reply == 0:
            raise
    return reply, sock

def echo_exact(sock, payload):
    received = bytearray()
    def read():
        while len(received) < len(payload):
            chunk = sock.recv(1 << 16)
            if not chunk:
                return
            received.extend(chunk)
    reader = threading.Thread(target=read)
    reader.start()
    sock.sendall(payload)
    reader.join()
    return bytes(received)

def refusal(status, headers):
    marked = "x-boxpy-refused" if "x-boxpy-refused" in headers else "no-x-boxpy-refused-header"
    return f"http {status} {marked}"

def socks_refusal(reply):
    return f"socks reply {reply}"
"#;

/// The test's script: [`CLIENT`], then `snippet` (dedented).
fn script(snippet: &str) -> String {
    format!("{CLIENT}\n{}", dedent(snippet))
}

/// `--allow-host` for a server on the host's loopback reached as `localhost`: the name and
/// its address.
fn allow_localhost(port: u16) -> Vec<String> {
    vec![
        "--allow-host".into(),
        format!("localhost:{port}"),
        "--allow-host".into(),
        format!("127.0.0.1:{port}"),
    ]
}

/// Python that fetches `http://HOST:PORT/data` through the proxy, writes the body to
/// `fetched.bin` in the workdir and prints `fetched STATUS LENGTH`.
fn fetch_snippet(host: &str, port: u16) -> String {
    format!(
        r#"
        status, headers, body = http_get({host:?}, {port})
        with open("fetched.bin", "wb") as handle:
            handle.write(body)
        print("fetched", status, len(body), flush=True)
        "#
    )
}

/// Asserts that `fetched.bin` in the workdir holds exactly `expected`.
#[track_caller]
fn assert_fetched(ws: &Workspace, expected: &[u8], context: &dyn std::fmt::Display) {
    let path = ws.work().join("fetched.bin");
    let got = std::fs::read(&path)
        .unwrap_or_else(|error| panic!("{} was not written ({error}): {context}", path.display()));
    if let Some(difference) = first_difference(expected, &got) {
        panic!("the bytes fetched through the proxy differ: {difference}: {context}");
    }
}

/// The `--json` result's program stdout, checked for the marker (Python started).
#[track_caller]
fn json_stdout(json: &Value) -> String {
    let stdout = json["stdout"]
        .as_str()
        .unwrap_or_else(|| panic!("no `stdout` string in the --json result: {json}"))
        .to_owned();
    assert!(
        stdout.lines().any(|line| line == MARKER),
        "python did not start (no marker line in the --json stdout): {json}"
    );
    stdout
}

/// `network.refused` of a `--json` result.
#[track_caller]
fn refused_list(json: &Value) -> Vec<Value> {
    json["network"]["refused"]
        .as_array()
        .unwrap_or_else(|| panic!("no `network.refused` array in the --json result: {json}"))
        .clone()
}

/// The one `network.refused` entry for `host:port`.
#[track_caller]
fn refused_entry(json: &Value, host: &str, port: u16) -> Value {
    let list = refused_list(json);
    let matching: Vec<&Value> = list
        .iter()
        .filter(|entry| entry["host"] == host && entry["port"] == port)
        .collect();
    match matching.as_slice() {
        [entry] => (*entry).clone(),
        [] => panic!("`network.refused` has no entry for {host}:{port}: {list:?}"),
        _ => panic!("`network.refused` has several entries for {host}:{port}: {list:?}"),
    }
}

/// The program's `asked:` lines (one per connection it asked the proxy for).
fn asked_lines(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix("asked: ").map(str::to_owned))
        .collect()
}

/// What a refusal test expects.
struct Expected<'a> {
    /// The host and port the refused connection asked for.
    host: &'a str,
    port: u16,
    /// `network.refused[].reason.kind`.
    kind: &'a str,
    /// What the program saw on each of its (two) asks, e.g. `http 403 x-boxpy-refused`.
    seen: &'a [&'a str],
    /// Substrings the human report on stderr must contain (beside `host:port`).
    report: &'a [&'a str],
    /// The program's exit code (boxpy's exit code is the program's).
    exit: i32,
}

/// Runs `invocation()` twice, plain and with `--json`: Python started, the program saw each
/// refusal, stderr names `host:port` and `expected.report`, and `network.refused` holds one
/// entry for it with the reason's kind and count 2. Returns the entry.
fn assert_refusal(invocation: impl Fn() -> Boxpy, snippet: &str, expected: &Expected) -> Value {
    let program = script(snippet);
    let target = format!("{}:{}", expected.host, expected.port);

    let output = invocation().code(&program).run();
    assert_started(&output);
    assert_exit(&output, expected.exit);
    assert_eq!(
        asked_lines(&output.stdout_text()),
        expected.seen,
        "what the program saw from the proxy: {output}"
    );
    let stderr = output.stderr_text();
    assert!(
        stderr.contains(&target),
        "the report on stderr does not name the refused {target}: {output}"
    );
    for needle in expected.report {
        assert!(
            stderr.contains(needle),
            "the report on stderr lacks {needle:?} (for {target}): {output}"
        );
    }

    let output = invocation().arg("--json").code(&program).run();
    assert_exit(&output, expected.exit);
    let json = output.json();
    let stdout = json_stdout(&json);
    assert_eq!(
        asked_lines(&stdout),
        expected.seen,
        "what the program saw (--json run): {json}"
    );
    let entry = refused_entry(&json, expected.host, expected.port);
    assert_eq!(
        refused_list(&json).len(),
        1,
        "only {target} was refused: {json}"
    );
    assert_eq!(
        entry["reason"]["kind"], expected.kind,
        "the reason for refusing {target}: {entry}"
    );
    assert_eq!(
        entry["count"], 2,
        "the program asked for {target} twice: {entry}"
    );
    entry
}

/// Asserts nothing connected to an upstream.
#[track_caller]
fn assert_untouched(connections: u64, what: &str) {
    assert_eq!(
        connections, 0,
        "{connections} connection(s) reached the {what} though the proxy refused"
    );
}

runner_tests! {
    /// HTTP through the proxy (absolute-form `GET`): 4 MB of every byte value arrive
    /// byte-exact, by name (`localhost`, with its address allowed) and by address.
    fn http_through_the_proxy_is_byte_exact(runner) {
        let ws = Workspace::new(&runner);
        let body = pattern(4 << 20, 17);
        let server = HttpServer::start(body.clone());
        let port = server.port();
        let output = run_in_venv(&ws)
            .args(["--network", "proxy"])
            .args(allow_localhost(port))
            .code(&script(&fetch_snippet("localhost", port)))
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(output.line_after("fetched "), format!("200 {}", body.len()), "{output}");
        assert_fetched(&ws, &body, &output);
        // Forwarded in origin form, `Host` from the URL (a plain server knows no other).
        assert_eq!(
            server.requests(),
            [crate::servers::Request {
                line: "GET /data HTTP/1.1".into(),
                host: Some(format!("localhost:{port}")),
            }],
            "what the server received: {output}"
        );

        let output = run_in_venv(&ws)
            .args(["--network", "proxy", "--allow-host"])
            .arg(format!("127.0.0.1:{port}"))
            .code(&script(&fetch_snippet("127.0.0.1", port)))
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(output.line_after("fetched "), format!("200 {}", body.len()), "{output}");
        assert_fetched(&ws, &body, &output);
    }

    /// A request body goes up byte-exact too: 1 MiB `POST`ed in absolute form to a server
    /// that answers with the body it received.
    fn http_upload_through_the_proxy_is_byte_exact(runner) {
        let ws = Workspace::new(&runner);
        let server = HttpServer::start(Vec::new());
        let port = server.port();
        let output = run_in_venv(&ws)
            .args(["--network", "proxy", "--allow-host"])
            .arg(format!("127.0.0.1:{port}"))
            .code(&script(&format!(
                r#"
                import random
                payload = random.Random(3).randbytes(1 << 20)
                sock = socket.create_connection(HTTP_PROXY, timeout=60)
                sock.sendall(
                    b"POST http://127.0.0.1:{port}/upload HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                    + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(payload)
                )
                sock.sendall(payload)
                status, headers = read_head(sock)
                body = recv_exact(sock, int(headers.get("content-length", 0)))
                same = "same" if body == payload else "DIFFERENT"
                print("uploaded", status, len(body), same, flush=True)
                "#
            )))
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(
            output.line_after("uploaded "),
            format!("200 {} same", 1 << 20),
            "the server echoes the body it received: {output}"
        );
        assert_eq!(
            server.requests().first().map(|request| request.line.clone()).as_deref(),
            Some("POST /upload HTTP/1.1"),
            "{output}"
        );
    }

    /// HTTPS through `CONNECT`, no interception: `http.client` tunnels to a TLS server for
    /// `localhost` whose self-signed certificate the script trusts; the body is byte-exact.
    fn https_through_connect_is_byte_exact(runner) {
        let certificate = match Certificate::localhost() {
            Ok(certificate) => certificate,
            Err(why) => panic!("cannot make a certificate (is openssl installed?): {why}"),
        };
        let body = pattern(2 << 20, 23);
        let server = TlsServer::start(&certificate, &body).unwrap_or_else(|why| panic!("{why}"));
        let port = server.port();
        let ws = Workspace::new(&runner);
        // Not `*.pem`: boxpy hides those in the workdir (read as empty) by default.
        let cafile = copy_into(&certificate.cert(), ws.work(), "server-cert.crt");
        runner.chown(&cafile);
        let output = run_in_venv(&ws)
            .args(["--network", "proxy"])
            .args(allow_localhost(port))
            .code(&script(&format!(
                r#"
                import http.client, ssl
                context = ssl.create_default_context(cafile="server-cert.crt")
                connection = http.client.HTTPSConnection("127.0.0.1", 3128, context=context, timeout=60)
                connection.set_tunnel("localhost", {port})
                connection.request("GET", "/secure")
                response = connection.getresponse()
                body = response.read()
                with open("fetched.bin", "wb") as handle:
                    handle.write(body)
                print("fetched", response.status, len(body), flush=True)
                "#
            )))
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(
            output.line_after("fetched "),
            format!("200 {}", body.len()),
            "{output}\nTLS server: {:?}",
            server.log()
        );
        assert_fetched(&ws, &body, &output);
        // The server's lines arrive on a thread of their own: wait for the one expected.
        crate::harness::wait_until(std::time::Duration::from_secs(10), || {
            (server.connections() >= 1).then_some(())
        });
        assert_eq!(server.connections(), 1, "one tunnel: {:?}", server.log());
    }

    /// SOCKS5 by hand (no PySocks): to an echo server by domain (`localhost`) and by IPv4
    /// address; 1 MiB each way, byte-exact.
    fn socks5_echo_is_byte_exact(runner) {
        let ws = Workspace::new(&runner);
        let server = EchoServer::start();
        let port = server.port();
        let output = run_in_venv(&ws)
            .args(["--network", "proxy"])
            .args(allow_localhost(port))
            .code(&script(&format!(
                r#"
                import random
                for host in ("localhost", "127.0.0.1"):
                    reply, sock = socks_connect(host, {port})
                    payload = random.Random(host).randbytes(1 << 20)
                    received = echo_exact(sock, payload) if reply == 0 else b""
                    sock.close()
                    same = "same" if received == payload else "DIFFERENT"
                    print(f"echo {{host}}: reply {{reply}}, {{len(received)}} bytes, {{same}}", flush=True)
                "#
            )))
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        for host in ["localhost", "127.0.0.1"] {
            assert_eq!(
                output.line_after(&format!("echo {host}: ")),
                format!("reply 0, {} bytes, same", 1 << 20),
                "{output}"
            );
        }
        assert_eq!(server.connections(), 2, "{output}");
        assert_eq!(server.bytes_echoed(), 2 << 20, "{output}");
    }

    /// Inside: only loopback, the proxy variables as documented; `--allow-host` alone (the
    /// mode is `none` by default) turns the proxy on; `--json` has an empty `network.refused`.
    fn allow_host_alone_gives_the_proxy_and_only_loopback(runner) {
        let ws = Workspace::new(&runner);
        let body = pattern(64 << 10, 5);
        let server = HttpServer::start(body.clone());
        let port = server.port();
        let snippet = format!(
            r#"
            import os, socket
            for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
                print(f"env {{name}}={{os.environ.get(name)}}")
            print("interfaces", sorted(name for _, name in socket.if_nameindex()))
            {fetch}
            "#,
            fetch = dedent(&fetch_snippet("127.0.0.1", port)).replace('\n', "\n            "),
        );
        let invocation = || {
            run_in_venv(&ws).arg("--allow-host").arg(format!("127.0.0.1:{port}"))
        };
        let output = invocation().code(&script(&snippet)).run();
        assert_started(&output);
        assert_exit(&output, 0);
        for (name, value) in [
            ("HTTP_PROXY", "http://127.0.0.1:3128"),
            ("HTTPS_PROXY", "http://127.0.0.1:3128"),
            ("http_proxy", "http://127.0.0.1:3128"),
            ("https_proxy", "http://127.0.0.1:3128"),
            ("NO_PROXY", "localhost,127.0.0.1,::1"),
        ] {
            assert_eq!(output.line_after(&format!("env {name}=")), value, "{output}");
        }
        // `ALL_PROXY` names the HTTP proxy too (httpx refuses to build any client when it
        // names a SOCKS proxy and `socksio` is missing).
        for name in ["ALL_PROXY", "all_proxy"] {
            assert_eq!(
                output.line_after(&format!("env {name}=")),
                "http://127.0.0.1:3128",
                "{output}"
            );
        }
        let lower = output.line_after("env no_proxy=");
        assert!(
            lower == "None" || lower == "localhost,127.0.0.1,::1",
            "no_proxy is {lower:?}: {output}"
        );
        assert_eq!(output.line_after("interfaces "), "['lo']", "{output}");
        assert_eq!(output.line_after("fetched "), format!("200 {}", body.len()), "{output}");
        assert_fetched(&ws, &body, &output);

        let json = invocation().arg("--json").code(&script(&snippet)).run().json();
        json_stdout(&json);
        assert_eq!(json["status"], "ok", "{json}");
        assert_eq!(json["policy"]["network"], "proxy", "--allow-host implies proxy mode: {json}");
        assert_eq!(refused_list(&json), Vec::<Value>::new(), "nothing was refused: {json}");
    }

    /// A name on no `allow` rule: 403 with `X-Boxpy-Refused` (CONNECT and absolute-form),
    /// reported with `--allow-host HOST:PORT`, counted twice; the server saw nothing; boxpy
    /// exits with the program's code.
    fn a_name_not_on_the_list_is_refused(runner) {
        let ws = Workspace::new(&runner);
        let server = HttpServer::start(b"never sent".to_vec());
        let port = server.port();
        // Only the address is allowed, not the name `localhost`.
        let invocation = || {
            run_in_venv(&ws)
                .args(["--network", "proxy", "--allow-host"])
                .arg(format!("127.0.0.1:{port}"))
        };
        let hint = format!("--allow-host localhost:{port}");
        assert_refusal(
            invocation,
            &format!(
                r#"
                status, headers, sock = http_connect("localhost", {port})
                print("asked:", refusal(status, headers), flush=True)
                status, headers, body = http_get("localhost", {port})
                print("asked:", refusal(status, headers), flush=True)
                raise SystemExit(7)
                "#
            ),
            &Expected {
                host: "localhost",
                port,
                kind: "not_allowed",
                seen: &["http 403 x-boxpy-refused", "http 403 x-boxpy-refused"],
                report: &[&hint],
                exit: 7,
            },
        );
        assert_untouched(server.connections(), "HTTP server");
    }

    /// `deny` wins over `allow` (a policy file: `mode = "proxy"`, `allow`, `deny`): SOCKS5
    /// answers 0x02 (not allowed by ruleset), the entry names the deny rule.
    fn a_denied_name_is_refused_though_allowed(runner) {
        let ws = Workspace::new(&runner);
        let server = EchoServer::start();
        let port = server.port();
        let policy = ws.write(
            "denying.toml",
            format!(
                "[network]\nmode = \"proxy\"\nallow = [\"localhost:{port}\", \"127.0.0.1:{port}\"]\ndeny = [\"localhost\"]\n"
            ),
        );
        let invocation = || run_in_venv(&ws).arg("-P").arg(&policy);
        let entry = assert_refusal(
            invocation,
            &format!(
                r#"
                for _ in range(2):
                    reply, sock = socks_connect("localhost", {port})
                    print("asked:", socks_refusal(reply), flush=True)
                    sock.close()
                "#
            ),
            &Expected {
                host: "localhost",
                port,
                kind: "denied",
                seen: &["socks reply 2", "socks reply 2"],
                report: &["deny"],
                exit: 0,
            },
        );
        assert_eq!(entry["reason"]["rule"], "localhost", "the deny rule as written: {entry}");

        // The same with flags: `--deny-host` wins over `--allow-host` (CONNECT this time).
        let json = run_in_venv(&ws)
            .args(["--json", "--network", "proxy"])
            .args(allow_localhost(port))
            .arg("--deny-host")
            .arg(format!("localhost:{port}"))
            .code(&script(&format!(
                r#"
                status, headers, sock = http_connect("localhost", {port})
                print("asked:", refusal(status, headers), flush=True)
                "#
            )))
            .run()
            .json();
        let stdout = json_stdout(&json);
        assert_eq!(asked_lines(&stdout), ["http 403 x-boxpy-refused"], "{json}");
        let entry = refused_entry(&json, "localhost", port);
        assert_eq!(entry["reason"]["kind"], "denied", "{entry}");
        assert_eq!(entry["reason"]["rule"], format!("localhost:{port}"), "{entry}");
        assert_eq!(entry["count"], 1, "{entry}");
        assert_untouched(server.connections(), "echo server");
    }

    /// An allowed name on a port no rule names (a rule with a port allows only that port).
    fn a_wrong_port_is_refused(runner) {
        let ws = Workspace::new(&runner);
        let allowed = HttpServer::start(b"allowed".to_vec());
        let other = HttpServer::start(b"other".to_vec());
        let (allowed_port, other_port) = (allowed.port(), other.port());
        let invocation = || {
            run_in_venv(&ws)
                .args(["--network", "proxy"])
                .args(allow_localhost(allowed_port))
        };
        let hint = format!("--allow-host localhost:{other_port}");
        assert_refusal(
            invocation,
            &format!(
                r#"
                for _ in range(2):
                    status, headers, sock = http_connect("localhost", {other_port})
                    print("asked:", refusal(status, headers), flush=True)
                    sock.close()
                "#
            ),
            &Expected {
                host: "localhost",
                port: other_port,
                kind: "port",
                seen: &["http 403 x-boxpy-refused", "http 403 x-boxpy-refused"],
                report: &[&hint],
                exit: 0,
            },
        );
        assert_untouched(other.connections(), "HTTP server on the other port");
        assert_untouched(allowed.connections(), "HTTP server on the allowed port");
    }

    /// An allowed name that resolves to loopback, without an address rule for it, is
    /// refused (DNS rebinding, SSRF): the entry gives the address and its class.
    fn an_allowed_name_resolving_to_loopback_is_refused(runner) {
        let ws = Workspace::new(&runner);
        let server = HttpServer::start(b"never sent".to_vec());
        let port = server.port();
        let invocation = || {
            run_in_venv(&ws)
                .args(["--network", "proxy", "--allow-host"])
                .arg(format!("localhost:{port}"))
        };
        let entry = assert_refusal(
            invocation,
            &format!(
                r#"
                for _ in range(2):
                    status, headers, body = http_get("localhost", {port})
                    print("asked:", refusal(status, headers), flush=True)
                "#
            ),
            &Expected {
                host: "localhost",
                port,
                kind: "address",
                seen: &["http 403 x-boxpy-refused", "http 403 x-boxpy-refused"],
                report: &["--allow-host"],
                exit: 0,
            },
        );
        assert_eq!(entry["reason"]["class"], "loopback", "{entry}");
        let address = entry["reason"]["address"].as_str().unwrap_or_default();
        assert!(
            address.starts_with("127.") || address == "::1",
            "the loopback address `localhost` resolved to: {entry}"
        );
        assert_untouched(server.connections(), "HTTP server");
    }

    /// A program that bypasses the proxy (a direct connection, or its own name lookup)
    /// fails inside, reaches nothing on the host, and its report's hint names the proxy
    /// variables; nothing went through the proxy, so nothing is listed as refused.
    fn a_direct_connection_gets_the_proxy_hint(runner) {
        let ws = Workspace::new(&runner);
        let server = HttpServer::start(b"never sent".to_vec());
        let port = server.port();
        let invocation = || {
            run_in_venv(&ws)
                .args(["--network", "proxy"])
                .args(allow_localhost(port))
        };
        let direct = format!(
            r#"
            import errno, socket
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=5)
                print("direct CONNECTED", flush=True)
            except OSError as error:
                print("direct", errno.errorcode.get(error.errno, error.errno), flush=True)
            socket.create_connection(("93.184.215.14", 80), timeout=5)
            "#
        );
        let lookup = r#"
            import socket
            socket.getaddrinfo("example.com", 443)
            "#;
        for snippet in [direct.as_str(), lookup] {
            let output = invocation().code(snippet).run();
            assert_started(&output);
            assert_exit(&output, 1);
            if snippet == direct {
                let result = output.line_after("direct ");
                assert_ne!(result, "CONNECTED", "a direct connection reached the host: {output}");
            }
            assert!(
                output.stderr_text().contains("HTTPS_PROXY"),
                "the report's hint should name the proxy variables: {output}"
            );
            let json = invocation().arg("--json").code(snippet).run().json();
            json_stdout(&json);
            assert_eq!(json["status"], "failed", "{json}");
            let hint = json["error"]["hint"].as_str().unwrap_or_default();
            assert!(hint.contains("HTTPS_PROXY"), "the hint should name the proxy variables: {json}");
            assert_eq!(refused_list(&json), Vec::<Value>::new(), "nothing asked the proxy: {json}");
        }
        assert_untouched(server.connections(), "HTTP server");
    }

    /// 200 connections open at once through `CONNECT`, 64 KiB each way on each: all succeed
    /// and not one byte is lost or changed.
    fn two_hundred_concurrent_connections_lose_no_byte(runner) {
        let ws = Workspace::new(&runner);
        let server = EchoServer::start();
        let port = server.port();
        let output = run_in_venv(&ws)
            .args(["--network", "proxy", "--allow-host"])
            .arg(format!("127.0.0.1:{port}"))
            .code(&script(&format!(
                r#"
                import random, threading
                COUNT, SIZE = 200, 64 * 1024
                barrier = threading.Barrier(COUNT)
                results = [None] * COUNT
                def one(index):
                    sock = None
                    try:
                        status, headers, sock = http_connect("127.0.0.1", {port})
                        if status != 200:
                            barrier.abort()
                            results[index] = f"CONNECT answered {{status}}"
                            return
                        barrier.wait(timeout=120)  # all 200 tunnels are open at once
                        payload = random.Random(index).randbytes(SIZE)
                        received = echo_exact(sock, payload)
                        if received == payload:
                            results[index] = "ok"
                        else:
                            results[index] = f"received {{len(received)}} of {{SIZE}} bytes, or different ones"
                    except Exception as error:
                        barrier.abort()
                        results[index] = f"{{type(error).__name__}}: {{error}}"
                    finally:
                        if sock is not None:
                            sock.close()
                threads = [threading.Thread(target=one, args=(index,)) for index in range(COUNT)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                print("succeeded", sum(result == "ok" for result in results), flush=True)
                for index, result in enumerate(results):
                    if result != "ok":
                        print("failed", index, result, flush=True)
                "#
            )))
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(output.line_after("succeeded "), "200", "{output}");
        assert_eq!(server.connections(), 200, "{output}");
        assert_eq!(server.bytes_echoed(), 200 * 64 * 1024, "{output}");
    }

    /// `boxpy exec --network proxy -- python -c ...` gets the same network as `run`.
    fn exec_gets_the_same_network(runner) {
        let ws = Workspace::new(&runner);
        let body = pattern(256 << 10, 31);
        let server = HttpServer::start(body.clone());
        let port = server.port();
        let other = HttpServer::start(b"never sent".to_vec());
        let venv = venv(Venv::Debian).unwrap_or_else(|error| panic!("{error}"));
        let program = python(&script(&format!(
            r#"
            {fetch}
            status, headers, sock = http_connect("localhost", {other})
            print("asked:", refusal(status, headers), flush=True)
            "#,
            fetch = dedent(&fetch_snippet("127.0.0.1", port)).replace('\n', "\n            "),
            other = other.port(),
        )));
        let output = boxpy(&ws)
            .args(["exec", "--venv"])
            .arg(&venv)
            .args(["--network", "proxy", "--allow-host"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["--", "python", "-c"])
            .arg(&program)
            .run();
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(output.line_after("fetched "), format!("200 {}", body.len()), "{output}");
        assert_fetched(&ws, &body, &output);
        assert_eq!(output.line_after("asked: "), "http 403 x-boxpy-refused", "{output}");
        assert!(
            output.stderr_text().contains(&format!("localhost:{}", other.port())),
            "exec's report names the refused host: {output}"
        );
        assert_untouched(other.connections(), "HTTP server that was not allowed");
    }

    /// `boxpy nbexec --network proxy`: a one-cell notebook fetches through the proxy.
    fn nbexec_gets_the_same_network(runner) {
        let venv = require_venv!(Venv::Jupyter);
        let ws = Workspace::new(&runner);
        let body = pattern(256 << 10, 37);
        let server = HttpServer::start(body.clone());
        let port = server.port();
        let cell = script(&fetch_snippet("127.0.0.1", port));
        ws.write(
            "work/fetch.ipynb",
            crate::nbexec::notebook(&[("code", cell.as_str(), &[])]),
        );
        let output = boxpy(&ws)
            .args(["nbexec", "--venv"])
            .arg(&venv)
            .args(["--network", "proxy", "--allow-host"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["fetch.ipynb", "-o", "out.ipynb"])
            .run();
        assert_exit(&output, 0);
        let written = crate::nbexec::read(&ws.work().join("out.ipynb"));
        let printed = crate::nbexec::printed(&written);
        assert!(
            printed.contains(&format!("fetched 200 {}", body.len())),
            "the cell printed {printed:?}: {output}"
        );
        assert_fetched(&ws, &body, &output);
    }

    /// The shipped `pypi` policy: pip installs a small pure wheel from PyPI (into
    /// `./pkgs`, importable afterwards), and a host that is not PyPI's is refused in the
    /// same run. Skipped only when this machine cannot reach pypi.org itself.
    fn pip_installs_from_pypi_under_the_pypi_policy(runner) {
        if let Err(why) = reachable("pypi.org", 443) {
            eprintln!("SKIPPED: this machine cannot reach pypi.org:443 ({why})");
            return;
        }
        let venv = require_venv!(Venv::Numpy);
        let ws = Workspace::new(&runner);
        let output = run_pip(&ws, &venv);
        assert_started(&output);
        assert_exit(&output, 0);
        assert_eq!(output.line_after("pip exit "), "0", "{output}");
        assert_eq!(output.line_after("six from "), "pkgs/six.py", "{output}");
        assert!(ws.work().join("pkgs/six.py").is_file(), "pip wrote ./pkgs/six.py: {output}");
        assert_eq!(output.line_after("asked: "), "http 403 x-boxpy-refused", "{output}");
        let stderr = output.stderr_text();
        assert!(
            stderr.contains("example.com:443") && stderr.contains("--allow-host example.com"),
            "the report names the refused example.com:443 and its flag: {output}"
        );
    }
}

/// Whether this machine reaches `host:port` within 3 s (a TCP connect).
fn reachable(host: &str, port: u16) -> Result<(), String> {
    use std::net::ToSocketAddrs;
    let addresses = (host, port)
        .to_socket_addrs()
        .map_err(|error| format!("cannot resolve {host}: {error}"))?;
    let mut last = format!("{host} resolved to no address");
    for address in addresses {
        match std::net::TcpStream::connect_timeout(&address, std::time::Duration::from_secs(3)) {
            Ok(_) => return Ok(()),
            Err(error) => last = format!("{address}: {error}"),
        }
    }
    Err(last)
}

/// `-P pypi`: pip installs `six` into ./pkgs, imports it, then asks for example.com.
fn run_pip(ws: &Workspace, venv: &Path) -> Output {
    boxpy(ws)
        .args(["run", "-P", "pypi", "--venv"])
        .arg(venv)
        .code(&script(
            r#"
            import os, subprocess, sys
            pip = subprocess.run(
                [sys.executable, "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check",
                 "--no-input", "--timeout", "30", "--target", "./pkgs", "six"],
                capture_output=True, text=True,
            )
            print("pip exit", pip.returncode, flush=True)
            if pip.returncode:
                print(pip.stdout[-4000:], pip.stderr[-4000:], flush=True)
            sys.path.insert(0, "pkgs")
            import six
            print("six from", os.path.relpath(six.__file__), flush=True)
            status, headers, sock = http_connect("example.com", 443)
            print("asked:", refusal(status, headers), flush=True)
            "#,
        ))
        .run()
}

/// A policy that is not valid: rules are checked before Python starts.
#[test]
fn a_bad_host_rule_is_refused_before_python_starts() {
    let ws = Workspace::new(&Runner::Caller);
    let output = run_in_venv(&ws)
        .args(["--network", "proxy", "--allow-host", "exa mple.com"])
        .code("print('ran')")
        .run();
    crate::harness::assert_not_started(&output);
    assert_ne!(output.code, Some(0), "{output}");
    assert!(
        output.stderr_text().contains("--allow-host"),
        "the error names the flag: {output}"
    );
}
