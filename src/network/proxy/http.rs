//! The HTTP side of the proxy: `CONNECT host:port` opens a tunnel; an absolute-form
//! `http://` request is forwarded in origin form with `Connection: close`, then the body
//! and the response are relayed raw. Every other request is answered with a status and a
//! short `text/plain` body saying why.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use super::relay::{self, Mode};
use super::{open, reason_kind, refusal_text, Connection, Deadline, Failure, Shared};

/// The longest request head read (request line and headers).
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// The most headers a head may have.
pub(crate) const MAX_HEADERS: usize = 100;

/// Headers never forwarded: hop-by-hop (RFC 9110 §7.6.1) and the proxy's own. `Host` is
/// rewritten from the URL. `Transfer-Encoding` stays: the body is relayed as it came.
const DROPPED: [&str; 9] = [
    "host",
    "connection",
    "proxy-connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-authenticate",
    "te",
    "trailer",
    "upgrade",
];

/// Whether a head read so far is complete.
pub(crate) enum HeadStatus {
    Complete(usize),
    Partial,
    Invalid,
}

/// Why a head could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeadError {
    /// The peer closed (or reset) before a whole head.
    Closed,
    TimedOut,
    /// Longer than [`MAX_HEAD`], or more than [`MAX_HEADERS`] headers.
    TooLarge,
    Invalid,
}

/// Reads from `stream` until `status` says the head is complete: the bytes read (possibly
/// more than the head) and the head's length.
pub(crate) fn read_head(
    mut stream: impl Read,
    status: impl Fn(&[u8]) -> HeadStatus,
) -> Result<(Vec<u8>, usize), HeadError> {
    let mut buffer = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let read = match stream.read(&mut chunk) {
            Ok(0) => return Err(HeadError::Closed),
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(HeadError::TimedOut)
            }
            Err(_) => return Err(HeadError::Closed),
        };
        buffer.extend_from_slice(&chunk[..read]);
        match status(&buffer) {
            HeadStatus::Complete(length) if length <= MAX_HEAD => return Ok((buffer, length)),
            HeadStatus::Complete(_) => return Err(HeadError::TooLarge),
            HeadStatus::Invalid => return Err(HeadError::Invalid),
            HeadStatus::Partial if buffer.len() >= MAX_HEAD => return Err(HeadError::TooLarge),
            HeadStatus::Partial => {}
        }
    }
}

fn request_status(bytes: &[u8]) -> HeadStatus {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    match httparse::Request::new(&mut headers).parse(bytes) {
        Ok(httparse::Status::Complete(length)) => HeadStatus::Complete(length),
        Ok(httparse::Status::Partial) => HeadStatus::Partial,
        // Too many headers is "too large", not malformed; told apart by the parse itself.
        Err(httparse::Error::TooManyHeaders) => HeadStatus::Complete(usize::MAX),
        Err(_) => HeadStatus::Invalid,
    }
}

/// What a request asks the proxy for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RequestTarget {
    /// `CONNECT host:port`: `host` as written (brackets kept).
    Connect {
        host: String,
        port: u16,
    },
    /// `http://host[:port]/path`: `authority` as the `Host` header gets it, `path` in
    /// origin form (with its query, without a fragment).
    Http {
        host: String,
        port: u16,
        authority: String,
        path: String,
    },
    /// `https://...` in absolute form: clients use `CONNECT` for those.
    Https,
    /// Another scheme (`ftp://`, ...).
    OtherScheme,
    /// `/path` or `*`: a client that takes the proxy for the server.
    Origin,
    Invalid,
}

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    pub(crate) method: String,
    pub(crate) target: RequestTarget,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub(crate) version: u8,
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    /// The head's length in the bytes parsed.
    pub(crate) length: usize,
}

/// Parses a complete request head at the start of `bytes`.
pub(crate) fn parse_request(bytes: &[u8]) -> Result<Request, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let length = match request.parse(bytes) {
        Ok(httparse::Status::Complete(length)) if length <= MAX_HEAD => length,
        Ok(httparse::Status::Complete(_)) | Err(httparse::Error::TooManyHeaders) => {
            return Err(HeadError::TooLarge)
        }
        Ok(httparse::Status::Partial) => return Err(HeadError::Closed),
        Err(_) => return Err(HeadError::Invalid),
    };
    let (Some(method), Some(path), Some(version)) = (request.method, request.path, request.version)
    else {
        return Err(HeadError::Invalid);
    };
    let target = if method.eq_ignore_ascii_case("CONNECT") {
        match split_authority(path, None) {
            Some((host, port)) => RequestTarget::Connect { host, port },
            None => RequestTarget::Invalid,
        }
    } else {
        absolute_target(path)
    };
    Ok(Request {
        method: method.to_owned(),
        target,
        version,
        headers: request
            .headers
            .iter()
            .map(|header| (header.name.to_owned(), header.value.to_vec()))
            .collect(),
        length,
    })
}

fn absolute_target(path: &str) -> RequestTarget {
    let scheme_end = path.find("://");
    let Some(scheme_end) = scheme_end else {
        return if path.starts_with('/') || path == "*" {
            RequestTarget::Origin
        } else {
            RequestTarget::Invalid
        };
    };
    let scheme = &path[..scheme_end];
    let rest = &path[scheme_end + 3..];
    if scheme.eq_ignore_ascii_case("https") {
        return RequestTarget::Https;
    }
    if !scheme.eq_ignore_ascii_case("http") {
        return RequestTarget::OtherScheme;
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    if authority.contains('@') {
        // Credentials in the URL: not a form clients send to a proxy.
        return RequestTarget::Invalid;
    }
    let rest = &rest[authority_end..];
    let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
    let path = if rest.starts_with('/') {
        rest.to_owned()
    } else {
        format!("/{rest}")
    };
    match split_authority(authority, Some(80)) {
        Some((host, port)) => RequestTarget::Http {
            authority: authority.to_owned(),
            host,
            port,
            path,
        },
        None => RequestTarget::Invalid,
    }
}

/// `host:port` or `[v6]:port` (the port may be left out when `default` is given): the
/// host as written (brackets kept) and the port.
pub(crate) fn split_authority(text: &str, default: Option<u16>) -> Option<(String, u16)> {
    let (host, port) = if text.starts_with('[') {
        let end = text.find(']')?;
        let (host, after) = text.split_at(end + 1);
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    if host.is_empty() || host.contains(':') && !host.starts_with('[') {
        return None;
    }
    let port = match port {
        Some(port) => {
            if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            port.parse::<u16>().ok().filter(|port| *port > 0)?
        }
        None => default?,
    };
    Some((host.to_owned(), port))
}

/// The head forwarded to the server for an absolute-form request: origin form, `Host`
/// from the URL, without the proxy's and the hop-by-hop headers (and those `Connection`
/// names, except the ones framing the body), with `Connection: close`.
pub(crate) fn forwarded_head(request: &Request) -> Option<Vec<u8>> {
    let RequestTarget::Http {
        authority, path, ..
    } = &request.target
    else {
        return None;
    };
    let named: Vec<String> = request
        .headers
        .iter()
        .filter(|(name, _)| {
            name.eq_ignore_ascii_case("connection") || name.eq_ignore_ascii_case("proxy-connection")
        })
        .flat_map(|(_, value)| {
            String::from_utf8_lossy(value)
                .split(',')
                .map(|token| token.trim().to_ascii_lowercase())
                .collect::<Vec<_>>()
        })
        .filter(|token| token != "content-length" && token != "transfer-encoding")
        .collect();
    let mut head = Vec::with_capacity(request.length + 64);
    head.extend_from_slice(request.method.as_bytes());
    head.push(b' ');
    head.extend_from_slice(path.as_bytes());
    head.extend_from_slice(if request.version == 0 {
        b" HTTP/1.0\r\n"
    } else {
        b" HTTP/1.1\r\n"
    });
    head.extend_from_slice(b"Host: ");
    head.extend_from_slice(authority.as_bytes());
    head.extend_from_slice(b"\r\n");
    for (name, value) in &request.headers {
        let lower = name.to_ascii_lowercase();
        if DROPPED.contains(&lower.as_str()) || named.contains(&lower) {
            continue;
        }
        head.extend_from_slice(name.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"Connection: close\r\n\r\n");
    Some(head)
}

/// A complete response the proxy makes itself (it closes the connection after it).
pub(crate) fn answer(code: u16, phrase: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut text = format!("HTTP/1.1 {code} {phrase}\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str(&format!(
        "Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    text.into_bytes()
}

/// Sends a response of the proxy's own and ends the connection gently: the client's
/// unread bytes are read (a little while, a bounded amount) so that closing does not
/// reset the connection before the client has read the response.
fn respond(client: &TcpStream, response: &[u8]) {
    let mut writer = client;
    let _ = client.set_write_timeout(Some(Duration::from_secs(5)));
    if writer.write_all(response).is_err() {
        return;
    }
    let _ = client.shutdown(std::net::Shutdown::Write);
    let _ = client.set_read_timeout(Some(Duration::from_millis(200)));
    let mut reader = client;
    let mut sink = [0u8; 4096];
    let mut drained = 0;
    while drained < 256 * 1024 {
        match reader.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(read) => drained += read,
        }
    }
}

/// The reason phrase of the proxy's refusals.
pub(crate) const REFUSED_PHRASE: &str = "Forbidden by boxpy";

fn respond_failure(client: &TcpStream, port: u16, host: &str, failure: &Failure) {
    let response = match failure {
        // The reason phrase is boxpy's own, so a client's error message (`Tunnel connection
        // failed: 403 Forbidden by boxpy`, `HTTP Error 403: Forbidden by boxpy`) tells the
        // report the proxy refused, not the server.
        Failure::Refused { host, reason } => answer(
            403,
            REFUSED_PHRASE,
            &[("X-Boxpy-Refused", reason_kind(reason))],
            &refusal_text(host, port, reason),
        ),
        Failure::Unresolvable => answer(
            502,
            "Bad Gateway",
            &[],
            &format!(
                "boxpy's proxy could not resolve {}.\n",
                super::recorded_host(host)
            ),
        ),
        Failure::Connect(kind) => answer(
            502,
            "Bad Gateway",
            &[],
            &format!(
                "boxpy's proxy could not connect to {}:{port}: {}.\n",
                super::recorded_host(host),
                io::Error::from(*kind)
            ),
        ),
        Failure::TimedOut => answer(
            504,
            "Gateway Timeout",
            &[],
            &format!(
                "boxpy's proxy could not connect to {}:{port}: no answer in time.\n",
                super::recorded_host(host)
            ),
        ),
        Failure::Upstream(why) => answer(
            502,
            "Bad Gateway",
            &[],
            &format!("boxpy's proxy could not open the connection: {why}.\n"),
        ),
        Failure::Stopping => return,
    };
    respond(client, &response);
}

/// Serves one connection on the HTTP listener.
pub(super) fn serve(shared: &Shared, connection: &Arc<Connection>) {
    let client = &connection.client;
    let (buffer, _) = match read_head(Deadline::new(client), request_status) {
        Ok(read) => read,
        Err(error) => return respond_head_error(client, error),
    };
    let request = match parse_request(&buffer) {
        Ok(request) => request,
        Err(error) => return respond_head_error(client, error),
    };
    let rest = &buffer[request.length..];
    match &request.target {
        RequestTarget::Connect { host, port } => match open(shared, connection, host, *port) {
            Ok(early) => {
                let mut writer = client;
                if writer
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .and_then(|()| writer.write_all(&early))
                    .is_ok()
                {
                    relay::relay(connection, rest, Mode::Tunnel);
                }
            }
            Err(failure) => respond_failure(client, *port, host, &failure),
        },
        RequestTarget::Http { host, port, .. } => match open(shared, connection, host, *port) {
            Ok(early) => {
                let mut writer = client;
                if writer.write_all(&early).is_err() {
                    return;
                }
                let Some(mut head) = forwarded_head(&request) else {
                    return;
                };
                head.extend_from_slice(rest);
                relay::relay(connection, &head, Mode::Response);
            }
            Err(failure) => respond_failure(client, *port, host, &failure),
        },
        RequestTarget::Https => respond(
            client,
            &answer(
                400,
                "Bad Request",
                &[],
                "boxpy's proxy takes https:// URLs through CONNECT only: use the proxy as an HTTPS proxy (HTTPS_PROXY).\n",
            ),
        ),
        RequestTarget::OtherScheme => respond(
            client,
            &answer(
                400,
                "Bad Request",
                &[],
                "boxpy's proxy forwards http:// requests and CONNECT tunnels only.\n",
            ),
        ),
        RequestTarget::Origin => respond(
            client,
            &answer(
                400,
                "Bad Request",
                &[],
                "this is boxpy's proxy, not a web server: the sandbox reaches the network through it; set HTTP_PROXY and HTTPS_PROXY (boxpy sets them) and let the client use them.\n",
            ),
        ),
        RequestTarget::Invalid => respond(
            client,
            &answer(
                400,
                "Bad Request",
                &[],
                "boxpy's proxy could not read the request's target: CONNECT HOST:PORT or an http:// URL.\n",
            ),
        ),
    }
}

fn respond_head_error(client: &TcpStream, error: HeadError) {
    let response = match error {
        HeadError::Closed => return,
        HeadError::TimedOut => answer(
            408,
            "Request Timeout",
            &[],
            "boxpy's proxy waited too long for the request.\n",
        ),
        HeadError::TooLarge => answer(
            431,
            "Request Header Fields Too Large",
            &[],
            "boxpy's proxy reads request heads up to 64 KiB and 100 headers.\n",
        ),
        HeadError::Invalid => answer(
            400,
            "Bad Request",
            &[],
            "boxpy's proxy could not parse the request.\n",
        ),
    };
    respond(client, &response);
}
