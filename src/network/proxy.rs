//! boxpy's proxy: HTTP (absolute-form requests), HTTPS through `CONNECT` and SOCKS5, on
//! listeners it is handed, deciding each connection by [`super::rules::Rules`].
//! (Interface; the implementation lands with issue 17.)

use std::net::TcpListener;

use super::rules::Rules;
use super::Refusal;

/// What the proxy decides by and where it connects.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    pub rules: Rules,
    /// The host's own proxy (`HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` where boxpy runs), which
    /// allowed connections go through.
    pub upstream: Option<Upstream>,
}

/// A proxy the host itself must go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub host: String,
    pub port: u16,
    /// `Proxy-Authorization`'s value, from the URL's user and password.
    pub authorization: Option<String>,
    /// The host's `NO_PROXY` entries: targets reached directly.
    pub no_proxy: Vec<String>,
}

/// A listening socket and the protocol spoken on it.
#[derive(Debug)]
pub enum Listener {
    Http(TcpListener),
    Socks5(TcpListener),
}

/// A running proxy; [`Proxy::finish`] stops it.
#[derive(Debug)]
pub struct Proxy {}

impl Proxy {
    /// Starts accepting on `listeners` (on threads of its own) and returns at once.
    pub fn start(config: ProxyConfig, listeners: Vec<Listener>) -> std::io::Result<Proxy> {
        let _ = (config, listeners);
        Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
    }

    /// Stops accepting, closes every connection still open, and returns the refusals, the
    /// most asked-for first.
    pub fn finish(self) -> Vec<Refusal> {
        Vec::new()
    }
}
