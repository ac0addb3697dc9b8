//! The network proxy through a real sandbox, at exec's level: the init's listeners reach
//! boxpy, the program's connections through them reach a server on the host's loopback
//! only when a rule allows it, and each refusal comes back in the outcome.

use std::io::{Read, Write};
use std::net::TcpListener;

use super::concurrent_tests::{code_run, host};
use super::*;
use crate::network::proxy::ProxyConfig;
use crate::network::rules::{Rule, Rules};
use crate::network::Reason;

/// A TCP echo server on the host's loopback for `connections` connections; its port.
fn echo_server(connections: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut buffer = [0u8; 4096];
                while let Ok(read) = stream.read(&mut buffer) {
                    if read == 0 || stream.write_all(&buffer[..read]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

/// Python that asks the sandbox's HTTP proxy for `CONNECT target`, prints the status
/// line, and on 200 sends `payload` and prints what came back.
fn connect_script(target: &str) -> String {
    format!(
        r#"
import socket
s = socket.create_connection(("127.0.0.1", 3128))
s.sendall(b"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n")
head = b""
while b"\r\n\r\n" not in head:
    chunk = s.recv(1)
    if not chunk:
        break
    head += chunk
status = head.split(b"\r\n")[0].decode()
print(status)
if " 200 " in status:
    s.sendall(b"through the proxy")
    got = b""
    while len(got) < 17:
        got += s.recv(100)
    print(got.decode())
"#
    )
}

/// The filter the rendered command's init expects on its descriptor.
fn seccomp() -> Option<Vec<u8>> {
    crate::sandbox::seccomp::build_filter(
        crate::sandbox::seccomp::Arch::host().expect("a supported architecture"),
    )
    .ok()
}

fn run_with_rules(code: &str, allow: &[String]) -> Outcome {
    let host = host().expect("bwrap");
    let (invocation, command) = code_run(&host, code, true);
    let rules = Rules {
        allow: allow
            .iter()
            .map(|rule| Rule::parse(rule).expect("a rule"))
            .collect(),
        deny: Vec::new(),
    };
    let options = ExecOptions {
        timeout: Some(Duration::from_secs(60)),
        seccomp: seccomp(),
        network: Some(ProxyConfig {
            rules,
            upstream: None,
        }),
        ..ExecOptions::default()
    };
    let _ = invocation;
    run_in(
        &Runtime::library().expect("a runtime"),
        &command,
        &options,
        limits::Enforcement::default,
    )
    .expect("the sandbox runs")
}

#[test]
fn an_allowed_connect_goes_through_and_a_refused_one_is_recorded() {
    if host().is_none() {
        return;
    }
    let port = echo_server(4);
    let allowed = format!("127.0.0.1:{port}");
    let code = format!(
        "{}\n{}",
        connect_script(&allowed),
        connect_script(&format!("127.0.0.1:{}", port.wrapping_add(1).max(1)))
    );
    let outcome = run_with_rules(&code, std::slice::from_ref(&allowed));
    let stdout = String::from_utf8_lossy(&outcome.stdout.bytes).into_owned();
    let stderr = String::from_utf8_lossy(&outcome.stderr.bytes).into_owned();
    assert_eq!(outcome.status, Status::Exited(0), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].contains(" 200 "), "{stdout}");
    assert_eq!(lines[1], "through the proxy", "{stdout}");
    assert!(lines[2].contains(" 403 "), "{stdout}");
    let refused = outcome
        .network
        .expect("proxy mode records refusals")
        .refusals;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].host, "127.0.0.1");
    assert_eq!(refused[0].port, port.wrapping_add(1).max(1));
    assert_eq!(refused[0].reason, Reason::Port);
    assert_eq!(refused[0].count, 1);
}

#[test]
fn without_the_proxy_the_ports_are_the_programs() {
    if host().is_none() {
        return;
    }
    // Not in proxy mode: nothing listens on the proxy's ports, and the program may bind
    // them itself.
    let host = host().expect("bwrap");
    let code = "import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 3128))\nprint('bound')";
    let (_, command) = code_run(&host, code, true);
    let options = ExecOptions {
        seccomp: seccomp(),
        ..ExecOptions::default()
    };
    let outcome = run_in(
        &Runtime::library().expect("a runtime"),
        &command,
        &options,
        limits::Enforcement::default,
    )
    .expect("runs");
    assert_eq!(outcome.status, Status::Exited(0));
    assert_eq!(outcome.network, None);
}
