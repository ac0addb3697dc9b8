//! boxpy's proxy: HTTP (absolute-form requests), HTTPS through `CONNECT` and SOCKS5, on
//! listeners it is handed, deciding each connection by [`super::rules::Rules`] and
//! recording every refusal.
//!
//! Everything that arrives on the listeners comes from the sandboxed program: every byte
//! is hostile. Heads are bounded (64 KiB, 100 headers, 30 s to arrive), nothing here
//! panics on input, nothing prints.
//!
//! **One thread per connection** (256 KiB stacks; one more of 64 KiB while a tunnel
//! relays, one thread per direction). Name resolution is blocking (`getaddrinfo`), so it
//! needs a thread of its own anyway, and a blocking relay with `splice(2)` is the
//! simplest fast one: a poll loop would buy nothing at the ≤ 1,024 live connections the
//! proxy admits ([`MAX_CONNECTIONS`]: at most ~2,048 threads, ~6 descriptors each).
//! Connections beyond the bound, or that come when boxpy is short of descriptors, are
//! turned away (a failure, counted in [`Finished::turned_away`], not a refusal); the proxy
//! raises boxpy's soft `RLIMIT_NOFILE` when it starts.
//!
//! **Deciding:** the target's host is parsed ([`Host::parse`]; unparsable: refused as
//! [`Reason::NotAllowed`]) and checked by name ([`Rules::check_name`]); a name is then
//! resolved here, on the host, and only the addresses [`Rules::check_resolved`] allows
//! (special classes and the host's own interface addresses only by an address rule) are
//! connected to: the proxy connects to the very address it checked, never resolving the
//! name again (DNS rebinding). Through the host's own proxy, see [`Upstream`].

mod http;
pub(crate) use http::REFUSED_PHRASE;
mod relay;
mod socks;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::rules::{Host, Rules};
use super::{Reason, Refusal};

/// Live connections the proxy serves at once; more are turned away.
pub const MAX_CONNECTIONS: usize = 1024;
/// Distinct refusals recorded, in each of two rooms: one for refusals by address class or
/// by deny rule and for targets asked for by address, one for the others (names not
/// allowed, ports); refusals of a further distinct (host, port, reason) are not recorded,
/// only counted ([`Finished::unrecorded`]): the program chooses what it asks for, so the
/// record must be bounded, and a flood of junk names must not push out what matters.
pub const MAX_RECORDED: usize = 1000;
/// How long a client has to send its request head (HTTP) or greeting and request (SOCKS5).
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a connection to one address may take to be accepted.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`Proxy::stop`] waits for the connections' threads once it has shut
/// their sockets down.
const FINISH_WAIT: Duration = Duration::from_millis(500);
const CONNECTION_STACK: usize = 256 * 1024;

/// What the proxy decides by and where it connects.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    pub rules: Rules,
    /// The host's own proxy (`HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` where boxpy runs), which
    /// allowed connections go through.
    pub upstream: Option<Upstream>,
}

/// A proxy the host itself must go through.
///
/// An allowed target not matched by [`Upstream::no_proxy`] is reached with `CONNECT
/// host:port` through this proxy (plain HTTP requests too: tunnel, then the origin-form
/// request). The rules by name apply to such targets, and an address asked for directly
/// is checked as an address. A name is resolved on the host first: when every address
/// it resolves to is refused ([`Rules::check_resolved`]), it is refused as without the
/// upstream; otherwise the upstream gets `CONNECT name:port` and resolves the name
/// itself. What remains open: the upstream's answer for the name is not the one checked
/// (a name whose DNS changes between the two, or differs between the host's resolver
/// and the upstream's, can still lead the upstream to a private address), and a name
/// the host cannot resolve at all (a corporate network whose DNS only the upstream has)
/// goes to the upstream unchecked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub host: String,
    pub port: u16,
    /// `Proxy-Authorization`'s value, from the URL's user and password.
    pub authorization: Option<String>,
    /// The host's `NO_PROXY` entries: targets reached directly.
    pub no_proxy: Vec<String>,
}

impl Upstream {
    /// The host's proxy from its environment: the first set of `HTTPS_PROXY`,
    /// `https_proxy`, `HTTP_PROXY`, `http_proxy`, with `NO_PROXY` (or `no_proxy`). Only
    /// `http://[USER:PASSWORD@]HOST[:PORT]` (the scheme may be left out; the port is 80
    /// by default); anything else is an error the caller can warn with (it never quotes
    /// the value, which may hold a password).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Option<Upstream>, String> {
        let set = |key: &'static str| {
            get(key)
                .filter(|value| !value.trim().is_empty())
                .map(|value| (key, value))
        };
        let Some((key, url)) = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"]
            .into_iter()
            .find_map(set)
        else {
            return Ok(None);
        };
        let no_proxy = ["NO_PROXY", "no_proxy"]
            .into_iter()
            .find_map(set)
            .map(|(_, value)| {
                value
                    .split(',')
                    .map(|entry| entry.trim().to_ascii_lowercase())
                    .filter(|entry| !entry.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let mut upstream = Upstream::parse(url.trim())
            .map_err(|why| format!("`{key}` is not usable by boxpy's proxy: {why}"))?;
        upstream.no_proxy = no_proxy;
        Ok(Some(upstream))
    }

    fn parse(url: &str) -> Result<Upstream, String> {
        let rest = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) => {
                let scheme =
                    if scheme.len() <= 10 && scheme.bytes().all(|b| b.is_ascii_alphanumeric()) {
                        scheme.to_ascii_lowercase()
                    } else {
                        "this".to_owned()
                    };
                return Err(format!(
                    "a `{scheme}` proxy; boxpy's proxy chains only through an `http://HOST:PORT` proxy"
                ));
            }
            None => url,
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#']) {
            return Err("the URL has a path; write `http://[USER:PASSWORD@]HOST:PORT`".to_owned());
        }
        let (credentials, authority) = match rest.rsplit_once('@') {
            Some((credentials, authority)) => (Some(credentials), authority),
            None => (None, rest),
        };
        let Some((host, port)) = http::split_authority(authority, Some(80)) else {
            return Err("no `HOST:PORT` in the URL".to_owned());
        };
        let Some(host) = Host::parse(&host) else {
            return Err("the URL's host is not a host name or an address".to_owned());
        };
        let authorization = credentials.map(|credentials| {
            let (user, password) = credentials.split_once(':').unwrap_or((credentials, ""));
            let mut plain = percent_decode(user);
            plain.push(b':');
            plain.extend(percent_decode(password));
            format!("Basic {}", base64(&plain))
        });
        Ok(Upstream {
            host: authority_text(&host),
            port,
            authorization,
            no_proxy: Vec::new(),
        })
    }

    /// Whether `host:port` is reached directly (a `NO_PROXY` entry: `*`, a domain and
    /// the names below it, with or without a leading `.` or `*.`, an address, an address
    /// range `ADDRESS/BITS`, each with an optional `:PORT`).
    pub(crate) fn bypasses(&self, host: &Host, port: u16) -> bool {
        self.no_proxy
            .iter()
            .any(|entry| no_proxy_matches(entry, host, port))
    }
}

fn no_proxy_matches(entry: &str, host: &Host, port: u16) -> bool {
    if entry == "*" {
        return true;
    }
    let (pattern, entry_port) = match entry.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((inside, after)) => (inside, after.strip_prefix(':')),
            None => return false,
        },
        None if entry.matches(':').count() == 1 => match entry.split_once(':') {
            Some((pattern, port)) => (pattern, Some(port)),
            None => (entry, None),
        },
        None => (entry, None),
    };
    if let Some(entry_port) = entry_port {
        if entry_port.parse::<u16>().ok() != Some(port) {
            return false;
        }
    }
    match host {
        Host::Name(name) => {
            let domain = pattern
                .strip_prefix("*.")
                .or_else(|| pattern.strip_prefix('.'))
                .unwrap_or(pattern);
            let domain = domain.strip_suffix('.').unwrap_or(domain);
            !domain.is_empty()
                && (name == domain
                    || name
                        .strip_suffix(domain)
                        .is_some_and(|head| head.ends_with('.')))
        }
        Host::Address(address) => match pattern.split_once('/') {
            None => pattern
                .parse::<IpAddr>()
                .is_ok_and(|entry| entry == *address),
            Some((network, bits)) => {
                let (Ok(network), Ok(bits)) = (network.parse::<IpAddr>(), bits.parse::<u32>())
                else {
                    return false;
                };
                match (network, address) {
                    (IpAddr::V4(network), IpAddr::V4(address)) if bits <= 32 => {
                        let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
                        u32::from(network) & mask == u32::from(*address) & mask
                    }
                    (IpAddr::V6(network), IpAddr::V6(address)) if bits <= 128 => {
                        let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
                        u128::from(network) & mask == u128::from(*address) & mask
                    }
                    _ => false,
                }
            }
        },
    }
}

fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = |byte: u8| (byte as char).to_digit(16);
        if bytes[index] == b'%' && index + 2 < bytes.len() {
            if let (Some(high), Some(low)) = (hex(bytes[index + 1]), hex(bytes[index + 2])) {
                out.push((high * 16 + low) as u8);
                index += 3;
                continue;
            }
        }
        out.push(bytes[index]);
        index += 1;
    }
    out
}

/// Standard base64 with padding (RFC 4648), for `Proxy-Authorization: Basic`.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let value = chunk.iter().enumerate().fold(0u32, |value, (index, byte)| {
            value | u32::from(*byte) << (16 - 8 * index)
        });
        for index in 0..4 {
            if index <= chunk.len() {
                out.push(ALPHABET[(value >> (18 - 6 * index) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A host as it goes into an authority: an IPv6 address in brackets.
fn authority_text(host: &Host) -> String {
    match host {
        Host::Address(IpAddr::V6(address)) => format!("[{address}]"),
        other => other.to_string(),
    }
}

/// A listening socket and the protocol spoken on it.
#[derive(Debug)]
pub enum Listener {
    Http(TcpListener),
    Socks5(TcpListener),
}

#[derive(Debug, Clone, Copy)]
enum Protocol {
    Http,
    Socks5,
}

/// What a stopped proxy recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Finished {
    /// The refusals: kinds `Address` and `Denied` first, then the most asked-for first
    /// (ties: the first asked for first).
    pub refusals: Vec<Refusal>,
    /// Refusals not in `refusals`: their (host, port, reason) came after
    /// [`MAX_RECORDED`] distinct ones of their room.
    pub unrecorded: u64,
    /// Connections turned away without a decision (a 503, or SOCKS5's general failure):
    /// beyond [`MAX_CONNECTIONS`], when boxpy was short of descriptors, or when the proxy
    /// could not start a thread for them.
    pub turned_away: u64,
}

/// A running proxy; [`Proxy::stop`] stops it.
#[derive(Debug)]
pub struct Proxy {
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Starts accepting on `listeners` (on threads of its own) and returns at once.
    ///
    /// Raises boxpy's soft `RLIMIT_NOFILE` (once per process) so that the proxy can serve
    /// [`MAX_CONNECTIONS`] tunnels.
    pub fn start(config: ProxyConfig, listeners: Vec<Listener>) -> io::Result<Proxy> {
        raise_descriptor_limit();
        let (wake_read, wake_write) = cloexec_pipe()?;
        let mut sockets = Vec::with_capacity(listeners.len());
        for listener in listeners {
            let (socket, protocol) = match listener {
                Listener::Http(socket) => (socket, Protocol::Http),
                Listener::Socks5(socket) => (socket, Protocol::Socks5),
            };
            socket.set_nonblocking(true)?;
            sockets.push((socket, protocol));
        }
        let shared = Arc::new(Shared {
            config,
            stopping: AtomicBool::new(false),
            wake_read,
            wake_write,
            record: Mutex::new(Record::default()),
            live: Mutex::new(Live::default()),
            own_addresses: own_addresses(),
            idle: Condvar::new(),
            turned_away: AtomicU64::new(0),
        });
        let acceptor = std::thread::Builder::new()
            .name("boxpy-proxy".to_owned())
            .stack_size(CONNECTION_STACK)
            .spawn({
                let shared = Arc::clone(&shared);
                move || accept_loop(&shared, &sockets)
            })?;
        Ok(Proxy {
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// [`Proxy::stop`]'s refusals alone (the tests' shorthand).
    #[cfg(test)]
    pub fn finish(self) -> Vec<Refusal> {
        self.stop().refusals
    }

    /// Stops accepting, closes every connection still open, and returns what the proxy
    /// recorded: the refusals (kinds `Address` and `Denied` first, then the most asked-for)
    /// and what it could not record or turned away.
    ///
    /// Returns within about half a second whatever the connections do: their sockets are
    /// shut down both ways, which ends every read, write and relay, and a connect in
    /// progress gives up (on Linux; elsewhere it ends within [`CONNECT_TIMEOUT`]); a
    /// thread still resolving a name is left to end on its own, and closes what it opens
    /// as soon as it sees the proxy stopped.
    pub fn stop(mut self) -> Finished {
        self.shut_down();
        let mut record = lock(&self.shared.record);
        Finished {
            refusals: record.take(),
            unrecorded: record.unrecorded,
            turned_away: self.shared.turned_away.load(Ordering::SeqCst),
        }
    }

    fn shut_down(&mut self) {
        let Some(acceptor) = self.acceptor.take() else {
            return;
        };
        let shared = &self.shared;
        shared.stopping.store(true, Ordering::SeqCst);
        let _ = nix::unistd::write(&shared.wake_write, &[1]);
        let _ = acceptor.join();
        let deadline = Instant::now() + FINISH_WAIT;
        let mut live = lock(&shared.live);
        for connection in live.connections.values() {
            connection.close();
        }
        while !live.connections.is_empty() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            live = match shared.idle.wait_timeout(live, deadline - now) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// A client's socket read with one deadline for a whole head (HTTP) or greeting and
/// request (SOCKS5), however slowly the bytes trickle in; the read timeout is cleared
/// when it is dropped.
struct Deadline<'a> {
    stream: &'a TcpStream,
    deadline: Instant,
}

impl<'a> Deadline<'a> {
    fn new(stream: &'a TcpStream) -> Deadline<'a> {
        Deadline {
            stream,
            deadline: Instant::now() + HEAD_TIMEOUT,
        }
    }
}

impl io::Read for Deadline<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left))?;
        let mut stream = self.stream;
        stream.read(buffer)
    }
}

impl io::Write for Deadline<'_> {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        let mut stream = self.stream;
        stream.write(buffer)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Deadline<'_> {
    fn drop(&mut self) {
        let _ = self.stream.set_read_timeout(None);
    }
}

/// What the acceptor and the connections share.
#[derive(Debug)]
struct Shared {
    config: ProxyConfig,
    stopping: AtomicBool,
    /// Readable once the proxy stops: wakes the acceptor's `poll`.
    wake_read: OwnedFd,
    wake_write: OwnedFd,
    record: Mutex<Record>,
    live: Mutex<Live>,
    /// Signalled when the last live connection ends.
    idle: Condvar,
    turned_away: AtomicU64,
    /// The addresses of the host's interfaces when the proxy started: a name resolving to
    /// one is refused like loopback ([`Rules::check_resolved`]).
    own_addresses: Vec<IpAddr>,
}

impl Shared {
    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Records a refusal of `host:port` (the host as the program asked for it,
    /// normalized when it parses).
    fn refuse(&self, host: &str, port: u16, reason: &Reason) {
        lock(&self.record).add(host, port, reason);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A connection thread that panicked holding a lock leaves plain data behind: go on.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Debug, Default)]
struct Record {
    entries: Vec<Refusal>,
    index: HashMap<(String, u16, String), usize>,
    /// Distinct entries recorded of each room: `[others, telling]` ([`telling`]).
    recorded: [usize; 2],
    unrecorded: u64,
}

/// Whether a refusal tells of an attempt on something that matters (an address class, a
/// deny rule, a target asked for by address): those have room of their own in the record,
/// so a flood of refused names cannot push them out, and come first in it.
fn telling(host: &str, reason: &Reason) -> bool {
    matches!(reason, Reason::Address { .. } | Reason::Denied { .. })
        || matches!(Host::parse(host), Some(Host::Address(_)))
}

impl Record {
    fn add(&mut self, host: &str, port: u16, reason: &Reason) {
        let key = (host.to_owned(), port, format!("{reason:?}"));
        let room = usize::from(telling(host, reason));
        if let Some(&index) = self.index.get(&key) {
            self.entries[index].count += 1;
        } else if self.recorded[room] < MAX_RECORDED {
            self.recorded[room] += 1;
            self.index.insert(key, self.entries.len());
            self.entries.push(Refusal {
                host: host.to_owned(),
                port,
                reason: reason.clone(),
                count: 1,
            });
        } else {
            self.unrecorded += 1;
        }
    }

    /// The refusals in the order reported: kinds `Address` and `Denied` first, then the
    /// most asked-for first (ties: the first asked for first).
    fn take(&mut self) -> Vec<Refusal> {
        let mut refusals = std::mem::take(&mut self.entries);
        self.index.clear();
        // Stable: ties stay in the order they were first asked for.
        refusals.sort_by_key(|refusal| {
            let first = matches!(
                refusal.reason,
                Reason::Address { .. } | Reason::Denied { .. }
            );
            (!first, std::cmp::Reverse(refusal.count))
        });
        refusals
    }
}

#[derive(Debug, Default)]
struct Live {
    next: u64,
    connections: HashMap<u64, Arc<Connection>>,
}

/// One accepted connection and, once connected, the server it is relayed to.
#[derive(Debug)]
struct Connection {
    client: TcpStream,
    server: OnceLock<TcpStream>,
}

impl Connection {
    /// Ends every read and write on both sockets (a blocked `splice` returns).
    fn close(&self) {
        let _ = self.client.shutdown(std::net::Shutdown::Both);
        if let Some(server) = self.server.get() {
            let _ = server.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// Removes its connection from the live set when its thread ends, however it ends.
struct LiveGuard {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        let mut live = lock(&self.shared.live);
        if let Some(connection) = live.connections.remove(&self.id) {
            connection.close();
        }
        if live.connections.is_empty() {
            self.shared.idle.notify_all();
        }
    }
}

fn cloexec_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(io::Error::from)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        use nix::fcntl::{fcntl, FcntlArg, FdFlag};
        use std::os::fd::AsRawFd;
        let (read, write) = nix::unistd::pipe().map_err(io::Error::from)?;
        for fd in [&read, &write] {
            fcntl(fd.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))
                .map_err(io::Error::from)?;
        }
        Ok((read, write))
    }
}

/// How long the acceptor waits, short of descriptors, before it accepts again (it polls
/// only its wake pipe meanwhile: the listeners stay readable, so polling them would spin).
const SHORT_BACK_OFF: Duration = Duration::from_millis(50);

/// Whether `accept` failed for want of descriptors (or memory for a socket).
fn short_of_descriptors(error: &io::Error) -> bool {
    use nix::errno::Errno;
    error.raw_os_error().is_some_and(|code| {
        [Errno::EMFILE, Errno::ENFILE, Errno::ENOBUFS, Errno::ENOMEM]
            .iter()
            .any(|errno| *errno as i32 == code)
    })
}

fn accept_loop(shared: &Arc<Shared>, sockets: &[(TcpListener, Protocol)]) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    // A descriptor held in reserve: short of descriptors, it is given up to accept what
    // waits and turn it away, so that no connection sits unanswered in the backlog.
    let mut reserve = shared.wake_read.try_clone().ok();
    let mut short = false;
    loop {
        if shared.stopping() {
            return;
        }
        if short {
            // Back off: only the wake pipe, for a little while.
            short = false;
            let mut wake = [PollFd::new(shared.wake_read.as_fd(), PollFlags::POLLIN)];
            let timeout = PollTimeout::try_from(SHORT_BACK_OFF).unwrap_or(PollTimeout::MAX);
            let _ = poll(&mut wake, timeout);
            continue;
        }
        if reserve.is_none() {
            reserve = shared.wake_read.try_clone().ok();
        }
        let mut fds: Vec<PollFd<'_>> = sockets
            .iter()
            .map(|(socket, _)| PollFd::new(socket.as_fd(), PollFlags::POLLIN))
            .collect();
        fds.push(PollFd::new(shared.wake_read.as_fd(), PollFlags::POLLIN));
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => {
                short = true;
                continue;
            }
        }
        if shared.stopping() {
            return;
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|fd| fd.revents().is_some_and(|events| !events.is_empty()))
            .collect();
        for ((socket, protocol), ready) in sockets.iter().zip(ready) {
            if !ready {
                continue;
            }
            // A bounded batch per wake-up, so one listener cannot starve the other.
            for _ in 0..64 {
                match socket.accept() {
                    Ok((stream, _)) => admit(shared, stream, *protocol),
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(error) if error.kind() == io::ErrorKind::ConnectionAborted => {}
                    Err(error) => {
                        if short_of_descriptors(&error) && reserve.take().is_some() {
                            turn_away_waiting(shared, socket, *protocol);
                        }
                        short = true;
                        break;
                    }
                }
            }
        }
    }
}

/// Short of descriptors, with one freed: accepts what waits on `socket` and turns it away,
/// one at a time (each closed before the next is accepted), until none waits or the
/// descriptor is taken by another thread.
fn turn_away_waiting(shared: &Shared, socket: &TcpListener, protocol: Protocol) {
    for _ in 0..MAX_CONNECTIONS {
        match socket.accept() {
            Ok((stream, _)) => turn_away(shared, &stream, protocol),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) if error.kind() == io::ErrorKind::ConnectionAborted => {}
            Err(_) => return,
        }
    }
}

/// Answers a connection the proxy does not serve (a 503, or SOCKS5's general failure) and
/// counts it in [`Finished::turned_away`]. Never waits: the socket is made non-blocking,
/// what the client sent already is read (so that closing does not reset the connection
/// before the answer is read), and the answer fits in a new socket's buffer.
fn turn_away(shared: &Shared, stream: &TcpStream, protocol: Protocol) {
    shared.turned_away.fetch_add(1, Ordering::SeqCst);
    let _ = stream.set_nonblocking(true);
    let mut sink = [0u8; 1024];
    let _ = (&*stream).read(&mut sink);
    let answer = match protocol {
        Protocol::Http => http::answer(
            503,
            "Service Unavailable",
            &[],
            "boxpy's proxy is serving as many connections as it can; retry later.\n",
        ),
        Protocol::Socks5 => socks::turned_away().to_vec(),
    };
    let _ = (&*stream).write(&answer);
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

fn admit(shared: &Arc<Shared>, stream: TcpStream, protocol: Protocol) {
    let mut live = lock(&shared.live);
    if live.connections.len() >= MAX_CONNECTIONS || shared.stopping() {
        drop(live);
        turn_away(shared, &stream, protocol);
        return;
    }
    if stream.set_nonblocking(false).is_err() {
        return;
    }
    let _ = stream.set_nodelay(true);
    let id = live.next;
    live.next += 1;
    let connection = Arc::new(Connection {
        client: stream,
        server: OnceLock::new(),
    });
    live.connections.insert(id, Arc::clone(&connection));
    drop(live);
    let guard = LiveGuard {
        shared: Arc::clone(shared),
        id,
    };
    let spawned = std::thread::Builder::new()
        .name("boxpy-proxy-connection".to_owned())
        .stack_size(CONNECTION_STACK)
        .spawn(move || {
            let guard = guard;
            let shared = &guard.shared;
            match protocol {
                Protocol::Http => http::serve(shared, &connection),
                Protocol::Socks5 => socks::serve(shared, &connection),
            }
        });
    if spawned.is_err() {
        // The closure, with the guard, was dropped: the connection left the live set.
        shared.turned_away.fetch_add(1, Ordering::SeqCst);
    }
}

/// Descriptors boxpy wants for the proxy: about 6 per tunnel (client, server, two splice
/// pipes) for [`MAX_CONNECTIONS`], and some to spare.
const DESCRIPTORS_WANTED: u64 = MAX_CONNECTIONS as u64 * 6 + 256;

/// The soft `RLIMIT_NOFILE` to raise to from `soft` (under `hard`): enough for
/// [`DESCRIPTORS_WANTED`], as far as `hard` allows; `None` when `soft` is enough already
/// (it is never lowered).
pub(crate) fn nofile_target(soft: u64, hard: u64) -> Option<u64> {
    let target = DESCRIPTORS_WANTED.min(hard);
    (target > soft).then_some(target)
}

/// Raises boxpy's soft `RLIMIT_NOFILE` towards its hard limit ([`nofile_target`]), once
/// per process: at the usual 1,024 the proxy runs out after ~170 tunnels.
fn raise_descriptor_limit() {
    static RAISED: std::sync::Once = std::sync::Once::new();
    RAISED.call_once(|| {
        use nix::sys::resource::{getrlimit, setrlimit, Resource};
        if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
            if let Some(target) = nofile_target(soft, hard) {
                let _ = setrlimit(Resource::RLIMIT_NOFILE, target, hard);
            }
        }
    });
}

/// Why the proxy did not connect a client to its target.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    /// Refused by the rules (and recorded); `host` as recorded.
    Refused { host: String, reason: Reason },
    /// The name did not resolve (or resolved to nothing).
    Unresolvable,
    /// Every allowed address refused or failed.
    Connect(io::ErrorKind),
    /// No allowed address answered in time.
    TimedOut,
    /// The host's own proxy did not open the tunnel; says how.
    Upstream(String),
    /// The proxy is stopping.
    Stopping,
}

/// The host a refusal is recorded under: the normalized host, or for a host that does
/// not parse, its text with anything unprintable replaced (at most 255 characters).
fn recorded_host(text: &str) -> String {
    match Host::parse(text) {
        Some(host) => host.to_string(),
        None => text
            .chars()
            .take(255)
            .map(|c| if c.is_control() { '\u{fffd}' } else { c })
            .collect(),
    }
}

/// The decision by name, without resolving anything: the host to connect to, or the
/// refusal (host as recorded, reason).
pub(crate) fn decide(rules: &Rules, host: &str, port: u16) -> Result<Host, (String, Reason)> {
    let Some(parsed) = Host::parse(host) else {
        return Err((recorded_host(host), Reason::NotAllowed));
    };
    match rules.check_name(&parsed, port) {
        Ok(()) => Ok(parsed),
        Err(reason) => Err((parsed.to_string(), reason)),
    }
}

/// Decides `host:port`, resolves, checks the addresses and connects (directly or through
/// the upstream). On success the server socket is in `connection.server`; returned are
/// the bytes the upstream sent after its answer (to go to the client).
fn open(
    shared: &Shared,
    connection: &Connection,
    host: &str,
    port: u16,
) -> Result<Vec<u8>, Failure> {
    let rules = &shared.config.rules;
    let parsed = match decide(rules, host, port) {
        Ok(parsed) => parsed,
        Err((recorded, reason)) => {
            shared.refuse(&recorded, port, &reason);
            return Err(Failure::Refused {
                host: recorded,
                reason,
            });
        }
    };
    let (server, early) = match &shared.config.upstream {
        Some(upstream) if !upstream.bypasses(&parsed, port) => {
            // The upstream resolves the name itself; resolved here first, a name that
            // leads only to refused addresses is refused as it is without the upstream.
            // One the host cannot resolve (its DNS may be the upstream's alone) goes by
            // name, unchecked: see [`Upstream`].
            if let Host::Name(name) = &parsed {
                if let Some(addresses) = resolve(name, port) {
                    checked(shared, &parsed, port, &addresses)?;
                }
            }
            through_upstream(shared, upstream, &parsed, port)?
        }
        _ => (connect_direct(shared, &parsed, port)?, Vec::new()),
    };
    let _ = server.set_nodelay(true);
    let _ = connection.server.set(server);
    // After `server` is visible to `finish`, which sets `stopping` before it looks.
    if shared.stopping() {
        connection.close();
        return Err(Failure::Stopping);
    }
    Ok(early)
}

fn connect_direct(shared: &Shared, host: &Host, port: u16) -> Result<TcpStream, Failure> {
    let addresses = match host {
        // Checked as an address by `check_name` already.
        Host::Address(address) => vec![*address],
        Host::Name(name) => resolve(name, port).ok_or(Failure::Unresolvable)?,
    };
    let allowed = checked(shared, host, port, &addresses)?;
    connect_any(shared, &allowed, port)
}

/// The addresses `name` resolves to on the host; `None` when it does not resolve (or to
/// nothing).
fn resolve(name: &str, port: u16) -> Option<Vec<IpAddr>> {
    let addresses: Vec<IpAddr> = (name, port)
        .to_socket_addrs()
        .ok()?
        .map(|address| address.ip())
        .collect();
    (!addresses.is_empty()).then_some(addresses)
}

/// Of the `addresses` a target resolved to, those [`Rules::check_resolved`] allows (with
/// the host's own addresses); when none is, the first refusal.
pub(crate) fn sift(
    rules: &Rules,
    own: &[IpAddr],
    addresses: &[IpAddr],
    port: u16,
) -> Result<Vec<IpAddr>, Reason> {
    let mut first_refusal = None;
    let allowed: Vec<IpAddr> = addresses
        .iter()
        .copied()
        .filter(|address| match rules.check_resolved(*address, port, own) {
            Ok(()) => true,
            Err(reason) => {
                first_refusal.get_or_insert(reason);
                false
            }
        })
        .collect();
    if allowed.is_empty() {
        return Err(first_refusal.unwrap_or(Reason::NotAllowed));
    }
    Ok(allowed)
}

/// [`sift`], recording and answering the refusal when every address is refused.
fn checked(
    shared: &Shared,
    host: &Host,
    port: u16,
    addresses: &[IpAddr],
) -> Result<Vec<IpAddr>, Failure> {
    sift(&shared.config.rules, &shared.own_addresses, addresses, port).map_err(|reason| {
        let recorded = host.to_string();
        shared.refuse(&recorded, port, &reason);
        Failure::Refused {
            host: recorded,
            reason,
        }
    })
}

/// The addresses of the host's network interfaces (both families), as far as they can be
/// read; none when they cannot (loopback and the special classes are refused anyway).
fn own_addresses() -> Vec<IpAddr> {
    let Ok(interfaces) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let mut addresses: Vec<IpAddr> = interfaces
        .filter_map(|interface| {
            let address = interface.address?;
            if let Some(v4) = address.as_sockaddr_in() {
                Some(IpAddr::V4(v4.ip()))
            } else {
                address.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
            }
        })
        .collect();
    addresses.sort();
    addresses.dedup();
    addresses
}

/// Connects to the first of `addresses` that answers: these very addresses, never the
/// name again.
fn connect_any(shared: &Shared, addresses: &[IpAddr], port: u16) -> Result<TcpStream, Failure> {
    let mut failure = Failure::Unresolvable;
    for address in addresses {
        if shared.stopping() {
            return Err(Failure::Stopping);
        }
        match connect_one(shared, SocketAddr::new(*address, port)) {
            Ok(stream) => return Ok(stream),
            Err(_) if shared.stopping() => return Err(Failure::Stopping),
            Err(error) if error.kind() == io::ErrorKind::TimedOut => failure = Failure::TimedOut,
            Err(error) => failure = Failure::Connect(error.kind()),
        }
    }
    Err(failure)
}

/// A connection to `address` within [`CONNECT_TIMEOUT`], given up as soon as the proxy
/// stops (a non-blocking `connect` polled with the wake pipe).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn connect_one(shared: &Shared, address: SocketAddr) -> io::Result<TcpStream> {
    use nix::errno::Errno;
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use nix::sys::socket::{
        connect, getsockopt, socket, sockopt, AddressFamily, SockFlag, SockType, SockaddrStorage,
    };
    use std::os::fd::AsRawFd;
    let family = match address {
        SocketAddr::V4(_) => AddressFamily::Inet,
        SocketAddr::V6(_) => AddressFamily::Inet6,
    };
    let socket = socket(
        family,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )?;
    match connect(socket.as_raw_fd(), &SockaddrStorage::from(address)) {
        Ok(()) => {}
        Err(Errno::EINPROGRESS) => {
            let deadline = Instant::now() + CONNECT_TIMEOUT;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::ErrorKind::TimedOut.into());
                }
                let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
                let mut fds = [
                    PollFd::new(socket.as_fd(), PollFlags::POLLOUT),
                    PollFd::new(shared.wake_read.as_fd(), PollFlags::POLLIN),
                ];
                match poll(&mut fds, timeout) {
                    Ok(_) | Err(Errno::EINTR) => {}
                    Err(error) => return Err(error.into()),
                }
                let ready = |fd: &PollFd<'_>| fd.revents().is_some_and(|events| !events.is_empty());
                if ready(&fds[1]) {
                    return Err(io::ErrorKind::Interrupted.into());
                }
                if ready(&fds[0]) {
                    break;
                }
            }
            match getsockopt(&socket, sockopt::SocketError)? {
                0 => {}
                error => return Err(io::Error::from_raw_os_error(error)),
            }
        }
        Err(error) => return Err(error.into()),
    }
    let stream = TcpStream::from(socket);
    stream.set_nonblocking(false)?;
    Ok(stream)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn connect_one(_: &Shared, address: SocketAddr) -> io::Result<TcpStream> {
    TcpStream::connect_timeout(&address, CONNECT_TIMEOUT)
}

/// A tunnel to `host:port` through the host's own proxy (`CONNECT`).
fn through_upstream(
    shared: &Shared,
    upstream: &Upstream,
    host: &Host,
    port: u16,
) -> Result<(TcpStream, Vec<u8>), Failure> {
    let proxy = format!("the host's proxy {}:{}", upstream.host, upstream.port);
    let addresses: Vec<IpAddr> = match Host::parse(&upstream.host) {
        Some(Host::Address(address)) => vec![address],
        _ => match (upstream.host.as_str(), upstream.port).to_socket_addrs() {
            Ok(found) => found.map(|address| address.ip()).collect(),
            Err(_) => return Err(Failure::Upstream(format!("{proxy} does not resolve"))),
        },
    };
    let stream = match connect_any(shared, &addresses, upstream.port) {
        Ok(stream) => stream,
        Err(Failure::Stopping) => return Err(Failure::Stopping),
        Err(_) => return Err(Failure::Upstream(format!("{proxy} does not answer"))),
    };
    let authority = format!("{}:{port}", authority_text(host));
    let mut request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some(authorization) = &upstream.authorization {
        request.push_str(&format!("Proxy-Authorization: {authorization}\r\n"));
    }
    request.push_str("\r\n");
    let failed = |what: &str| Failure::Upstream(format!("{proxy} {what}"));
    (&stream)
        .write_all(request.as_bytes())
        .map_err(|_| failed("closed the connection"))?;
    let (buffer, length) = http::read_head(Deadline::new(&stream), |bytes| {
        let mut headers = [httparse::EMPTY_HEADER; http::MAX_HEADERS];
        match httparse::Response::new(&mut headers).parse(bytes) {
            Ok(httparse::Status::Complete(length)) => http::HeadStatus::Complete(length),
            Ok(httparse::Status::Partial) => http::HeadStatus::Partial,
            Err(_) => http::HeadStatus::Invalid,
        }
    })
    .map_err(|_| failed("sent no answer to `CONNECT`"))?;
    let mut headers = [httparse::EMPTY_HEADER; http::MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let code = match response.parse(&buffer) {
        Ok(_) => response.code.unwrap_or(0),
        Err(_) => 0,
    };
    if !(200..300).contains(&code) {
        return Err(failed(&format!(
            "answered `CONNECT {authority}` with {code}"
        )));
    }
    Ok((stream, buffer[length..].to_vec()))
}

/// The kind of a refusal as `X-Boxpy-Refused` names it (the `kind` of [`Reason`]'s JSON).
pub(crate) fn reason_kind(reason: &Reason) -> &'static str {
    match reason {
        Reason::NotAllowed => "not_allowed",
        Reason::Port => "port",
        Reason::Denied { .. } => "denied",
        Reason::Address { .. } => "address",
    }
}

/// The refusal in a few lines for the program's client: what, why, and what allows it.
/// `host` is as recorded (normalized, or its unprintable characters replaced).
pub(crate) fn refusal_text(host: &str, port: u16, reason: &Reason) -> String {
    let target = match Host::parse(host) {
        Some(parsed) => format!("{}:{port}", authority_text(&parsed)),
        None => format!("{host}:{port}"),
    };
    let allow = |what: &str| {
        format!("to allow it, run boxpy with `--allow-host {what}` (or add \"{what}\" to `network.allow`)")
    };
    let why = match reason {
        Reason::NotAllowed if Host::parse(host).is_none() => {
            "this is not a host name or an address".to_owned()
        }
        Reason::NotAllowed => format!("no `network.allow` rule names this host; {}", allow(&target)),
        Reason::Port => format!(
            "`network.allow` names this host, but not port {port} (a rule without a port allows 80 and 443); {}",
            allow(&target)
        ),
        Reason::Denied { rule } => format!(
            "the `network.deny` rule `{rule}` refuses it (deny wins over allow); remove that rule to allow it"
        ),
        Reason::Address { address, class } => {
            let address = authority_text(&Host::Address(*address));
            format!(
                "the name resolves to {address}, {}, which an allowed name does not lead to; {}",
                class.describe(),
                allow(&format!("{address}:{port}"))
            )
        }
    };
    format!("boxpy refused the connection to {target}: {why}.\n")
}

/// The rules the fuzz targets decide by.
fn fuzzing_rules() -> Rules {
    use super::rules::Rule;
    let parse = |list: &[&str]| {
        list.iter()
            .filter_map(|text| Rule::parse(text).ok())
            .collect()
    };
    Rules {
        allow: parse(&[
            "pypi.org",
            "*.example.com",
            "api.test:8443",
            "127.0.0.1:8000",
        ]),
        deny: parse(&["secret.example.com", "10.0.0.1"]),
    }
}

fn check_decision_for_fuzzing(rules: &Rules, host: &str, port: u16) {
    if let Err((recorded, reason)) = decide(rules, host, port) {
        let text = refusal_text(&recorded, port, &reason);
        assert!(
            !text.chars().any(|c| c != '\n' && c.is_control()),
            "control character in a refusal: {text:?}"
        );
        let _ = reason_kind(&reason);
    }
}

/// Fuzzing: an HTTP request head parsed and decided as the proxy does (no resolution, no
/// connection); a forwarded head must parse back, without the proxy's headers.
pub(crate) fn check_request_for_fuzzing(bytes: &[u8]) {
    let rules = fuzzing_rules();
    let Ok(request) = http::parse_request(bytes) else {
        return;
    };
    match &request.target {
        http::RequestTarget::Connect { host, port } => {
            check_decision_for_fuzzing(&rules, host, *port)
        }
        http::RequestTarget::Http { host, port, .. } => {
            check_decision_for_fuzzing(&rules, host, *port);
            let head = http::forwarded_head(&request).expect("a forwarded head");
            let mut headers = [httparse::EMPTY_HEADER; http::MAX_HEADERS + 2];
            let mut parsed = httparse::Request::new(&mut headers);
            assert_eq!(
                parsed.parse(&head).ok(),
                Some(httparse::Status::Complete(head.len())),
                "the forwarded head does not parse: {:?}",
                String::from_utf8_lossy(&head)
            );
            for header in parsed.headers.iter() {
                assert!(
                    !header.name.eq_ignore_ascii_case("proxy-authorization")
                        && !header.name.eq_ignore_ascii_case("proxy-connection"),
                    "forwarded: {}",
                    header.name
                );
            }
            let last = parsed.headers.last().expect("headers");
            assert!(last.name == "Connection" && last.value == b"close");
        }
        http::RequestTarget::Https
        | http::RequestTarget::OtherScheme
        | http::RequestTarget::Origin
        | http::RequestTarget::Invalid => {}
    }
}

/// Fuzzing: a SOCKS5 greeting and request read from `bytes`, answered into a buffer, and
/// the target decided.
pub(crate) fn check_socks_for_fuzzing(bytes: &[u8]) {
    struct Scripted<'a> {
        input: &'a [u8],
        output: Vec<u8>,
    }
    impl io::Read for Scripted<'_> {
        fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
            self.input.read(buffer)
        }
    }
    impl io::Write for Scripted<'_> {
        fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
            self.output.extend_from_slice(buffer);
            Ok(buffer.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut stream = Scripted {
        input: bytes,
        output: Vec::new(),
    };
    let target = socks::handshake(&mut stream);
    assert!(stream.output.len() <= 12, "answered {:?}", stream.output);
    if let Some(target) = target {
        check_decision_for_fuzzing(&fuzzing_rules(), &target.host, target.port);
    }
}
