//! The SOCKS5 side of the proxy (RFC 1928): no authentication, `CONNECT` only, to an
//! IPv4 or IPv6 address or to a domain the proxy resolves itself (`socks5h`), so the
//! sandbox needs no DNS.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use super::relay::{self, Mode};
use super::{open, Connection, Deadline, Failure, Shared};

const VERSION: u8 = 5;
const NO_AUTHENTICATION: u8 = 0;
const NO_ACCEPTABLE_METHOD: u8 = 0xff;
const CONNECT: u8 = 1;

/// SOCKS5 reply codes.
mod reply {
    pub const SUCCEEDED: u8 = 0;
    pub const GENERAL_FAILURE: u8 = 1;
    pub const NOT_ALLOWED: u8 = 2;
    pub const NETWORK_UNREACHABLE: u8 = 3;
    pub const HOST_UNREACHABLE: u8 = 4;
    pub const CONNECTION_REFUSED: u8 = 5;
    pub const COMMAND_NOT_SUPPORTED: u8 = 7;
    pub const ADDRESS_TYPE_NOT_SUPPORTED: u8 = 8;
}

/// A request's target: the host as text (an address, or the domain as sent, lossily
/// decoded) and the port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) host: String,
    pub(crate) port: u16,
}

/// The greeting and the request, answering what the protocol answers before a decision
/// (the method chosen; a reply for an unsupported command or address type). `None` when
/// the client is not served (it was answered, or it closed, or it spoke another protocol).
pub(crate) fn handshake(stream: &mut (impl Read + Write)) -> Option<Target> {
    let mut header = [0u8; 2];
    stream.read_exact(&mut header).ok()?;
    let [version, count] = header;
    if version != VERSION {
        return None;
    }
    let mut methods = vec![0u8; usize::from(count)];
    stream.read_exact(&mut methods).ok()?;
    if !methods.contains(&NO_AUTHENTICATION) {
        let _ = stream.write_all(&[VERSION, NO_ACCEPTABLE_METHOD]);
        return None;
    }
    stream.write_all(&[VERSION, NO_AUTHENTICATION]).ok()?;
    let mut request = [0u8; 4];
    stream.read_exact(&mut request).ok()?;
    let [version, command, _reserved, address_type] = request;
    if version != VERSION {
        return None;
    }
    if command != CONNECT {
        let _ = stream.write_all(&reply_bytes(reply::COMMAND_NOT_SUPPORTED));
        return None;
    }
    let host = match address_type {
        1 => {
            let mut octets = [0u8; 4];
            stream.read_exact(&mut octets).ok()?;
            Ipv4Addr::from(octets).to_string()
        }
        3 => {
            let mut length = [0u8; 1];
            stream.read_exact(&mut length).ok()?;
            let mut name = vec![0u8; usize::from(length[0])];
            stream.read_exact(&mut name).ok()?;
            String::from_utf8_lossy(&name).into_owned()
        }
        4 => {
            let mut octets = [0u8; 16];
            stream.read_exact(&mut octets).ok()?;
            format!("[{}]", Ipv6Addr::from(octets))
        }
        _ => {
            let _ = stream.write_all(&reply_bytes(reply::ADDRESS_TYPE_NOT_SUPPORTED));
            return None;
        }
    };
    let mut port = [0u8; 2];
    stream.read_exact(&mut port).ok()?;
    Some(Target {
        host,
        port: u16::from_be_bytes(port),
    })
}

/// The answer to a client the proxy turns away without reading its greeting: the method
/// chosen (no authentication), then a general failure for the request it will send.
pub(super) fn turned_away() -> [u8; 12] {
    let mut answer = [0u8; 12];
    answer[..2].copy_from_slice(&[VERSION, NO_AUTHENTICATION]);
    answer[2..].copy_from_slice(&reply_bytes(reply::GENERAL_FAILURE));
    answer
}

/// A reply with `code`; the bound address is left as 0.0.0.0:0 (the sandbox has no use
/// for the host's address).
fn reply_bytes(code: u8) -> [u8; 10] {
    [VERSION, code, 0, 1, 0, 0, 0, 0, 0, 0]
}

fn failure_code(failure: &Failure) -> Option<u8> {
    Some(match failure {
        Failure::Refused { .. } => reply::NOT_ALLOWED,
        Failure::Unresolvable | Failure::TimedOut => reply::HOST_UNREACHABLE,
        Failure::Connect(io::ErrorKind::ConnectionRefused) => reply::CONNECTION_REFUSED,
        Failure::Connect(io::ErrorKind::NetworkUnreachable) => reply::NETWORK_UNREACHABLE,
        Failure::Connect(io::ErrorKind::HostUnreachable) => reply::HOST_UNREACHABLE,
        Failure::Connect(_) | Failure::Upstream(_) => reply::GENERAL_FAILURE,
        Failure::Stopping => return None,
    })
}

/// Serves one connection on the SOCKS5 listener.
pub(super) fn serve(shared: &Shared, connection: &Arc<Connection>) {
    let client = &connection.client;
    let Some(target) = handshake(&mut Deadline::new(client)) else {
        return;
    };
    let mut stream = client;
    match open(shared, connection, &target.host, target.port) {
        Ok(early) => {
            if stream
                .write_all(&reply_bytes(reply::SUCCEEDED))
                .and_then(|()| stream.write_all(&early))
                .is_ok()
            {
                relay::relay(connection, &[], Mode::Tunnel);
            }
        }
        Err(failure) => {
            if let Some(code) = failure_code(&failure) {
                let _ = stream.write_all(&reply_bytes(code));
            }
        }
    }
}
