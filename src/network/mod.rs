//! Network by name (issue 17): `[network] mode = "proxy"` gives the sandbox only loopback,
//! and boxpy's own proxy, on the host side, decides each connection by the policy's
//! `allow` and `deny` rules ([`rules`]) and records every refusal ([`Refusal`]).
//!
//! Inside the sandbox, boxpy's init binds the proxy's listeners on loopback (in the
//! sandbox's own network namespace) and hands the listening sockets to boxpy over its
//! setup socket; boxpy accepts on them directly ([`proxy`]), so the program's bytes cross
//! one proxy, with no relay inside and no socket path the program could reach.
//!
//! This module depends on nothing of boxpy's but `text`: the policy validates its rules with
//! [`rules::Rule::parse`], exec runs the [`proxy::Proxy`] for the length of a run.

pub(crate) mod proxy;
pub(crate) mod rules;

use std::net::IpAddr;

/// The port of the HTTP proxy (absolute-form requests and `CONNECT`) on the sandbox's
/// loopback: the program's `HTTP_PROXY` and `HTTPS_PROXY`.
pub const HTTP_PORT: u16 = 3128;
/// The port of the SOCKS5 proxy on the sandbox's loopback (`socks5h://127.0.0.1:1080`, for
/// programs that ask for it: `ALL_PROXY` names the HTTP proxy).
pub const SOCKS_PORT: u16 = 1080;

/// A connection the proxy refused, with how many times it was asked for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Refusal {
    /// The host as the program asked for it (a name, or an address).
    pub host: String,
    pub port: u16,
    pub reason: Reason,
    pub count: u64,
}

/// Why a connection was refused.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// No `allow` rule names the host.
    NotAllowed,
    /// An `allow` rule names the host, but not this port (rules without a port allow 80
    /// and 443).
    Port,
    /// A `deny` rule names it (deny wins over allow); `rule` is the rule as written.
    Denied { rule: String },
    /// The name is allowed but resolved only to addresses of `class` (`address` is the
    /// first), which are refused unless allowed explicitly (DNS rebinding, SSRF).
    Address {
        address: IpAddr,
        class: rules::AddressClass,
    },
}
