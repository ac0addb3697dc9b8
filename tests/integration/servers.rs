//! Upstream servers on the host's loopback for the proxy tests (issue 17): a plain HTTP
//! server, a TCP echo server and a TLS server (Python's `ssl`, as a child process, with a
//! self-signed certificate made by `openssl` at test time).
//!
//! Each counts the connections it accepted, so a refusal test can prove that nothing
//! reached it (the plain servers' counts wait for the listen queue to drain first). Every server stops when dropped (the threads' listener is woken and closed;
//! the TLS child is killed by its pid and also exits when its stdin closes).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a server waits on one connection before giving up on it.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// `length` bytes in which every byte value occurs and no short period repeats (a
/// reordered or duplicated chunk changes the content): a xorshift stream, fixed by `seed`.
pub fn pattern(length: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut bytes = Vec::with_capacity(length + 8);
    while bytes.len() < length {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(length);
    bytes
}

/// Where two byte strings first differ, for a failure message that says what went wrong.
pub fn first_difference(expected: &[u8], got: &[u8]) -> Option<String> {
    if expected == got {
        return None;
    }
    let offset = expected
        .iter()
        .zip(got)
        .position(|(a, b)| a != b)
        .unwrap_or(expected.len().min(got.len()));
    Some(format!(
        "expected {} bytes, got {}; first difference at offset {offset} (expected {:?}, got {:?})",
        expected.len(),
        got.len(),
        expected.get(offset..(offset + 8).min(expected.len())),
        got.get(offset..(offset + 8).min(got.len())),
    ))
}

/// A listener on 127.0.0.1:0 that hands each connection to `handle` on its own thread.
struct Acceptor {
    port: u16,
    stopping: Arc<AtomicBool>,
    /// The peer address of every connection accepted, in order.
    peers: Arc<Mutex<Vec<SocketAddr>>>,
    /// The test's own probes ([`Acceptor::connections`]), not counted.
    probes: Mutex<Vec<SocketAddr>>,
    thread: Option<JoinHandle<()>>,
}

impl Acceptor {
    fn start(handle: impl Fn(TcpStream) + Send + Sync + 'static) -> Acceptor {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local address").port();
        let stopping = Arc::new(AtomicBool::new(false));
        let peers = Arc::new(Mutex::new(Vec::new()));
        let handle = Arc::new(handle);
        let thread = {
            let stopping = Arc::clone(&stopping);
            let peers = Arc::clone(&peers);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stopping.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    if let Ok(peer) = stream.peer_addr() {
                        peers.lock().expect("peers").push(peer);
                    }
                    let handle = Arc::clone(&handle);
                    std::thread::spawn(move || {
                        let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
                        let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
                        handle(stream)
                    });
                }
            })
        };
        Acceptor {
            port,
            stopping,
            peers,
            probes: Mutex::new(Vec::new()),
            thread: Some(thread),
        }
    }

    /// How many connections (but the test's probes) were accepted, once every connection
    /// made so far has been: a probe connection goes to the back of the listen queue, so
    /// when it has been accepted, every earlier one has too (no sleeping, no race with a
    /// connection still waiting in the backlog).
    fn connections(&self) -> u64 {
        let probe = TcpStream::connect(("127.0.0.1", self.port)).expect("connect a probe");
        let address = probe.local_addr().expect("the probe's address");
        self.probes.lock().expect("probes").push(address);
        let accepted = crate::harness::wait_until(Duration::from_secs(30), || {
            self.peers
                .lock()
                .expect("peers")
                .contains(&address)
                .then_some(())
        });
        assert!(
            accepted.is_some(),
            "the server did not accept its probe connection within 30 s"
        );
        let probes = self.probes.lock().expect("probes");
        self.peers
            .lock()
            .expect("peers")
            .iter()
            .filter(|peer| !probes.contains(peer))
            .count() as u64
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag and drops the listener.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

// ---------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------

/// One request an [`HttpServer`] received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The request line, e.g. `GET /data HTTP/1.1`.
    pub line: String,
    /// The `Host` header's value.
    pub host: Option<String>,
}

/// A plain HTTP/1.1 server: every `GET` gets `body` (with `Content-Length`), every
/// request with a body (`Content-Length`, e.g. a `POST`) gets its own body back; then the
/// connection closes.
pub struct HttpServer {
    acceptor: Acceptor,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl HttpServer {
    pub fn start(body: Vec<u8>) -> HttpServer {
        let body = Arc::new(body);
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requests);
        let acceptor = Acceptor::start(move |stream| {
            let Ok(reader) = stream.try_clone() else {
                return;
            };
            let mut reader = BufReader::new(reader);
            let Some((request, length)) = read_request_head(&mut reader) else {
                return;
            };
            log.lock().expect("request log").push(request);
            let answer = match length {
                Some(length) => {
                    let mut received = vec![0u8; length];
                    if reader.read_exact(&mut received).is_err() {
                        return;
                    }
                    Arc::new(received)
                }
                None => Arc::clone(&body),
            };
            let mut stream = stream;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                answer.len()
            );
            if stream.write_all(head.as_bytes()).is_ok() && stream.write_all(&answer).is_ok() {
                let _ = stream.flush();
            }
            let _ = stream.shutdown(Shutdown::Write);
        });
        HttpServer { acceptor, requests }
    }

    pub fn port(&self) -> u16 {
        self.acceptor.port
    }

    /// How many connections it accepted (see [`Acceptor::connections`]).
    pub fn connections(&self) -> u64 {
        self.acceptor.connections()
    }

    /// The requests it received.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("request log").clone()
    }
}

/// Reads a request's head (up to the blank line): its line and `Host`, and its
/// `Content-Length` if it has one (the body follows in `reader`).
fn read_request_head(reader: &mut impl BufRead) -> Option<(Request, Option<usize>)> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut host = None;
    let mut length = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("host") {
                host = Some(value.trim().to_owned());
            } else if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok();
            }
        }
    }
    let request = Request {
        line: line.trim_end().to_owned(),
        host,
    };
    Some((request, length))
}

// ---------------------------------------------------------------------------------------
// Echo
// ---------------------------------------------------------------------------------------

/// A TCP echo server: sends back every byte it receives until the client half-closes.
pub struct EchoServer {
    acceptor: Acceptor,
    bytes: Arc<AtomicU64>,
}

impl EchoServer {
    pub fn start() -> EchoServer {
        let bytes = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&bytes);
        let acceptor = Acceptor::start(move |stream| {
            let mut reader = match stream.try_clone() {
                Ok(reader) => reader,
                Err(_) => return,
            };
            let mut writer = stream;
            let mut buffer = vec![0u8; 64 * 1024];
            loop {
                match reader.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(count) => {
                        // Counted before it is sent back: a client that has its bytes back
                        // finds them counted.
                        counted.fetch_add(count as u64, Ordering::SeqCst);
                        if writer.write_all(&buffer[..count]).is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = writer.shutdown(Shutdown::Write);
        });
        EchoServer { acceptor, bytes }
    }

    pub fn port(&self) -> u16 {
        self.acceptor.port
    }

    /// How many connections it accepted (see [`Acceptor::connections`]).
    pub fn connections(&self) -> u64 {
        self.acceptor.connections()
    }

    /// How many bytes it received (and echoed, or tried to).
    pub fn bytes_echoed(&self) -> u64 {
        self.bytes.load(Ordering::SeqCst)
    }
}

// ---------------------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------------------

/// A self-signed certificate for `localhost` (and 127.0.0.1) with its key, in a temp dir.
pub struct Certificate {
    dir: tempfile::TempDir,
}

impl Certificate {
    /// `openssl req -x509` (an EC key, valid for a day); `Err` says why it could not.
    pub fn localhost() -> Result<Certificate, String> {
        let dir = tempfile::Builder::new()
            .prefix("boxpy-test-tls-")
            .tempdir()
            .map_err(|error| format!("temporary dir: {error}"))?;
        let output = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .arg("ec_paramgen_curve:prime256v1")
            .args(["-nodes", "-days", "1", "-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            .arg("-keyout")
            .arg(dir.path().join("key.pem"))
            .arg("-out")
            .arg(dir.path().join("cert.pem"))
            .stdin(Stdio::null())
            .output()
            .map_err(|error| format!("cannot run openssl: {error}"))?;
        if !output.status.success() {
            return Err(format!(
                "openssl req failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(Certificate { dir })
    }

    /// The certificate (PEM): what a client trusts.
    pub fn cert(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    fn key(&self) -> PathBuf {
        self.dir.path().join("key.pem")
    }
}

/// The TLS server: Python's `ssl` on 127.0.0.1:0; every request gets the body file's
/// bytes; it prints its port, then one `connection` line per connection accepted, and
/// exits when its stdin closes.
const TLS_SERVER: &str = r#"
import os, socket, ssl, sys, threading
cert, key, body_path = sys.argv[1:4]
with open(body_path, "rb") as handle:
    body = handle.read()
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server = socket.create_server(("127.0.0.1", 0))
print("port", server.getsockname()[1], flush=True)
threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
def serve(connection):
    try:
        connection.settimeout(60)
        with context.wrap_socket(connection, server_side=True) as tls:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = tls.recv(4096)
                if not chunk:
                    return
                head += chunk
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
            tls.sendall(body)
    except OSError as error:
        print("error", error, flush=True)
while True:
    connection, _ = server.accept()
    print("connection", flush=True)
    threading.Thread(target=serve, args=(connection,), daemon=True).start()
"#;

/// An HTTPS server (a Python child process) answering every request with one body.
pub struct TlsServer {
    child: Child,
    stdin: Option<ChildStdin>,
    port: u16,
    lines: Arc<Mutex<Vec<String>>>,
    _body: tempfile::NamedTempFile,
}

impl TlsServer {
    pub fn start(certificate: &Certificate, body: &[u8]) -> Result<TlsServer, String> {
        let mut body_file =
            tempfile::NamedTempFile::new().map_err(|error| format!("body file: {error}"))?;
        body_file
            .write_all(body)
            .map_err(|error| format!("body file: {error}"))?;
        let mut child = Command::new("/usr/bin/python3")
            .arg("-c")
            .arg(TLS_SERVER)
            .arg(certificate.cert())
            .arg(certificate.key())
            .arg(body_file.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|error| format!("cannot start the TLS server: {error}"))?;
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        let _ = stdout.read_line(&mut first);
        let Some(port) = first
            .trim()
            .strip_prefix("port ")
            .and_then(|port| port.parse().ok())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("the TLS server did not start (it said {first:?})"));
        };
        let lines = Arc::new(Mutex::new(Vec::new()));
        let collected = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                collected.lock().expect("server lines").push(line);
            }
        });
        Ok(TlsServer {
            child,
            stdin,
            port,
            lines,
            _body: body_file,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many connections it accepted.
    pub fn connections(&self) -> usize {
        self.lines
            .lock()
            .expect("server lines")
            .iter()
            .filter(|line| *line == "connection")
            .count()
    }

    /// What it printed (errors of failed handshakes included).
    pub fn log(&self) -> Vec<String> {
        self.lines.lock().expect("server lines").clone()
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copies `source` into `directory` under `name`, readable by everyone (for the workdir).
pub fn copy_into(source: &Path, directory: &Path, name: &str) -> PathBuf {
    let destination = directory.join(name);
    std::fs::copy(source, &destination)
        .unwrap_or_else(|error| panic!("copy {}: {error}", source.display()));
    crate::harness::set_mode(&destination, 0o644);
    destination
}
