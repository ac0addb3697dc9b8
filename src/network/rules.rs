//! The policy's host rules (`network.allow`, `network.deny`, `--allow-host`): parsed once,
//! matched for each connection the proxy is asked for. Pure.
//!
//! A rule is `HOST` or `HOST:PORT`: an exact name (`pypi.org`), a wildcard (`*.example.com`:
//! any name below `example.com`, not `example.com` itself), or an address (`10.0.0.5`,
//! `[fd00::1]:8080`). Names match case-insensitively and without a trailing dot. An
//! `allow` rule without a port allows 80 and 443; a `deny` rule without a port denies
//! every port. Deny wins over allow.
//!
//! A name that is allowed but resolves to a loopback, private, link-local, metadata or
//! otherwise special address ([`AddressClass`]) is refused unless an address rule allows
//! that address ([`Rules::check_address`]), and so is one of the host's own interface
//! addresses ([`Rules::check_resolved`]): an allowed name is not a way into the host's
//! own services or its LAN (DNS rebinding, SSRF).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::Reason;

/// The ports an `allow` rule without a port allows.
pub const DEFAULT_PORTS: [u16; 2] = [80, 443];

/// One host rule, as parsed from its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pattern: Pattern,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// An exact name, lower-case, without a trailing dot.
    Name(String),
    /// `*.suffix`: any name ending in `.suffix` (lower-case).
    Below(String),
    /// An address.
    Address(IpAddr),
}

/// Why a rule's text is not a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError(pub String);

impl fmt::Display for RuleError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl Rule {
    /// Parses `HOST`, `HOST:PORT`, `*.DOMAIN[:PORT]`, `ADDRESS`, `[IPV6]:PORT`.
    pub fn parse(text: &str) -> Result<Rule, RuleError> {
        let fail = |why: &str| Err(RuleError(why.to_owned()));
        if text.is_empty() {
            return fail("a host rule is empty");
        }
        if text.len() > 260 {
            return fail("a host rule is longer than a host name can be");
        }
        if text.contains("://") {
            return fail("a host rule is a host name, not a URL: drop the scheme");
        }
        if text.contains('/') {
            return fail("a host rule is a host name, not a URL or a network: drop the path");
        }
        // `[v6]` or `[v6]:port`
        if let Some(rest) = text.strip_prefix('[') {
            let Some((inside, after)) = rest.split_once(']') else {
                return fail("an IPv6 address in brackets misses its `]`");
            };
            let Ok(address) = inside.parse::<Ipv6Addr>() else {
                return fail("the text in brackets is not an IPv6 address");
            };
            let port = match after {
                "" => None,
                _ => match after.strip_prefix(':') {
                    Some(port) => Some(parse_port(port)?),
                    None => return fail("only `:PORT` may follow an IPv6 address's `]`"),
                },
            };
            return Ok(Rule {
                pattern: Pattern::Address(IpAddr::V6(address)),
                port,
            });
        }
        // A bare IPv6 address (more than one colon) has no port.
        if text.matches(':').count() > 1 {
            return match text.parse::<Ipv6Addr>() {
                Ok(address) => Ok(Rule {
                    pattern: Pattern::Address(IpAddr::V6(address)),
                    port: None,
                }),
                Err(_) => {
                    fail("not a host, and not an IPv6 address (write `[ADDRESS]:PORT` for a port)")
                }
            };
        }
        let (host, port) = match text.split_once(':') {
            Some((host, port)) => (host, Some(parse_port(port)?)),
            None => (text, None),
        };
        if let Ok(address) = host.parse::<Ipv4Addr>() {
            return Ok(Rule {
                pattern: Pattern::Address(IpAddr::V4(address)),
                port,
            });
        }
        let (below, name) = match host.strip_prefix("*.") {
            Some(name) => (true, name),
            None => (false, host),
        };
        let name = normalize(name).map_err(|why| RuleError(why.to_owned()))?;
        if below && !name.contains('.') {
            return fail("a wildcard must name a domain with at least two labels (`*.example.com`), not a whole top-level domain");
        }
        Ok(Rule {
            pattern: if below {
                Pattern::Below(name)
            } else {
                Pattern::Name(name)
            },
            port,
        })
    }

    /// The port this rule names, if any.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// Whether the rule names an address rather than a name.
    pub fn is_address(&self) -> bool {
        matches!(self.pattern, Pattern::Address(_))
    }

    /// Whether the rule's host part matches `host` (a normalized name or an address's
    /// text), whatever the port.
    fn matches_host(&self, host: &Host) -> bool {
        match (&self.pattern, host) {
            (Pattern::Name(name), Host::Name(asked)) => name == asked,
            (Pattern::Below(suffix), Host::Name(asked)) => asked
                .strip_suffix(suffix.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
            (Pattern::Address(address), Host::Address(asked)) => same_address(*address, *asked),
            _ => false,
        }
    }

    /// Whether this `allow` rule allows `port` (its own, or 80 and 443).
    fn allows_port(&self, port: u16) -> bool {
        match self.port {
            Some(own) => own == port,
            None => DEFAULT_PORTS.contains(&port),
        }
    }

    /// Whether this `deny` rule denies `port` (its own, or every port).
    fn denies_port(&self, port: u16) -> bool {
        self.port.is_none_or(|own| own == port)
    }

    /// What the rule means, in a sentence (`boxpy policy check`), for a rule of `list`
    /// (`allow` or `deny`).
    pub fn explain(&self, list: List) -> String {
        let hosts = match &self.pattern {
            Pattern::Name(name) => format!("`{name}`"),
            Pattern::Below(suffix) => format!("any name below `{suffix}` (not `{suffix}` itself)"),
            Pattern::Address(address) => format!("the address {address}"),
        };
        match (list, self.port) {
            (List::Allow, None) => format!("allows {hosts} on ports 80 and 443"),
            (List::Allow, Some(port)) => format!("allows {hosts} on port {port} only"),
            (List::Deny, None) => format!("refuses {hosts} on every port"),
            (List::Deny, Some(port)) => format!("refuses {hosts} on port {port}"),
        }
    }
}

/// Which list a rule is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    Allow,
    Deny,
}

impl fmt::Display for Rule {
    /// The rule in its canonical text (what `policy show` prints; parses back to itself).
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.pattern, self.port) {
            (Pattern::Name(name), port) => write!(formatter, "{name}")
                .and_then(|()| port.map_or(Ok(()), |port| write!(formatter, ":{port}"))),
            (Pattern::Below(suffix), port) => write!(formatter, "*.{suffix}")
                .and_then(|()| port.map_or(Ok(()), |port| write!(formatter, ":{port}"))),
            (Pattern::Address(IpAddr::V6(address)), Some(port)) => {
                write!(formatter, "[{address}]:{port}")
            }
            (Pattern::Address(address), Some(port)) => write!(formatter, "{address}:{port}"),
            (Pattern::Address(address), None) => write!(formatter, "{address}"),
        }
    }
}

fn parse_port(text: &str) -> Result<u16, RuleError> {
    match text.parse::<u16>() {
        Ok(port) if port > 0 && !text.starts_with('+') => Ok(port),
        _ => Err(RuleError(format!(
            "`{}` is not a port (1 to 65535)",
            crate::text::escape_control(text)
        ))),
    }
}

/// A host name, lower-cased and without its trailing dot; refused when it is not a
/// plain DNS name (labels of letters, digits, `-` and `_`, each 1 to 63 long).
fn normalize(name: &str) -> Result<String, &'static str> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return Err("a host rule names no host");
    }
    if name.len() > 253 {
        return Err("a host name is at most 253 characters long");
    }
    if !name.is_ascii() {
        return Err("a host name must be ASCII (write an international name in its `xn--` form)");
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("each part of a host name between dots is 1 to 63 characters long");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a part of a host name neither starts nor ends with `-`");
        }
        if !label
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
        {
            return Err("a host name holds only letters, digits, `-`, `_` and dots (`*` only as `*.` at its start)");
        }
    }
    // A last label of digits is no top-level domain, and labels that are all numbers
    // (decimal, octal, `0x` hex) are an address to `inet_aton`: `127.1`, `2130706433`,
    // `0x7f.1`, `0xa9fea9fe` are IPv4 shorthands resolvers take as addresses, not names.
    let numeric = |label: &str| {
        let hex = label
            .strip_prefix("0x")
            .or_else(|| label.strip_prefix("0X"));
        match hex {
            Some(digits) => digits.bytes().all(|byte| byte.is_ascii_hexdigit()),
            None => label.bytes().all(|byte| byte.is_ascii_digit()),
        }
    };
    if name.rsplit('.').next().is_some_and(numeric)
        || (name.split('.').count() <= 4 && name.split('.').all(numeric))
    {
        return Err("a host name's last part is not all digits (write an address as four numbers, `10.0.0.1`)");
    }
    Ok(name.to_ascii_lowercase())
}

/// A host a connection asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Name(String),
    Address(IpAddr),
}

impl Host {
    /// The host of a request (`CONNECT host:port`, a URL's host, SOCKS5's domain or
    /// address): an address when it is one (brackets allowed), else a normalized name;
    /// `None` when it is neither.
    pub fn parse(text: &str) -> Option<Host> {
        let bare = text
            .strip_prefix('[')
            .and_then(|inner| inner.strip_suffix(']'))
            .unwrap_or(text);
        if let Ok(address) = bare.parse::<IpAddr>() {
            return Some(Host::Address(address));
        }
        normalize(text).ok().map(Host::Name)
    }
}

impl fmt::Display for Host {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(name) => formatter.write_str(name),
            Host::Address(address) => write!(formatter, "{address}"),
        }
    }
}

/// The allow and deny lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    pub allow: Vec<Rule>,
    pub deny: Vec<Rule>,
}

impl Rules {
    /// Whether a connection to `host:port` may go ahead before its name is resolved (an
    /// address is checked fully here; a name's addresses are checked by
    /// [`Rules::check_address`] once resolved).
    pub fn check_name(&self, host: &Host, port: u16) -> Result<(), Reason> {
        if let Some(rule) = self
            .deny
            .iter()
            .find(|rule| rule.matches_host(host) && rule.denies_port(port))
        {
            return Err(Reason::Denied {
                rule: rule.to_string(),
            });
        }
        let named: Vec<&Rule> = self
            .allow
            .iter()
            .filter(|rule| rule.matches_host(host))
            .collect();
        if named.is_empty() {
            return Err(Reason::NotAllowed);
        }
        if !named.iter().any(|rule| rule.allows_port(port)) {
            return Err(Reason::Port);
        }
        if let Host::Address(address) = host {
            // Asked for by address: the address rule that named it is the explicit allow.
            return self.check_address(*address, port);
        }
        Ok(())
    }

    /// Whether the proxy may connect to `address:port`, one of the addresses an allowed
    /// name resolved to: a denied address is refused; a special one
    /// ([`AddressClass::of`]) only when an address rule allows it on that port.
    pub fn check_address(&self, address: IpAddr, port: u16) -> Result<(), Reason> {
        let host = Host::Address(address);
        if let Some(rule) = self
            .deny
            .iter()
            .find(|rule| rule.matches_host(&host) && rule.denies_port(port))
        {
            return Err(Reason::Denied {
                rule: rule.to_string(),
            });
        }
        let Some(class) = AddressClass::of(address) else {
            return Ok(());
        };
        if self.allows_address(address, port) {
            Ok(())
        } else {
            Err(Reason::Address { address, class })
        }
    }

    /// [`Rules::check_address`] for an address a name resolved to, knowing the addresses
    /// of the host's own interfaces (`own`): those lead to the host's services bound to
    /// `0.0.0.0` or `::` as loopback does, so they are refused the same way
    /// ([`AddressClass::ThisHost`]) unless an address rule allows that address on `port`.
    pub fn check_resolved(&self, address: IpAddr, port: u16, own: &[IpAddr]) -> Result<(), Reason> {
        self.check_address(address, port)?;
        let embedded = match address {
            IpAddr::V6(v6) => embedded_v4(v6).map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        let of_this_host = own.iter().any(|own| {
            same_address(*own, address) || embedded.is_some_and(|v4| same_address(*own, v4))
        });
        if of_this_host && !self.allows_address(address, port) {
            return Err(Reason::Address {
                address,
                class: AddressClass::ThisHost,
            });
        }
        Ok(())
    }

    /// Whether an address rule allows `address` on `port` (the explicit allow a special
    /// address needs).
    fn allows_address(&self, address: IpAddr, port: u16) -> bool {
        let host = Host::Address(address);
        self.allow
            .iter()
            .any(|rule| rule.is_address() && rule.matches_host(&host) && rule.allows_port(port))
    }
}

/// Addresses an allowed name must not lead to unless allowed by address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressClass {
    /// 127.0.0.0/8, ::1: the host's own services.
    Loopback,
    /// 10/8, 172.16/12, 192.168/16, 100.64/10 (carrier-grade NAT), fc00::/7.
    Private,
    /// 169.254/16, fe80::/10.
    LinkLocal,
    /// A cloud's instance metadata service: 169.254.169.254, fd00:ec2::254, 100.100.100.200.
    Metadata,
    /// 0.0.0.0/8, ::, multicast, 240.0.0.0/4 and broadcast.
    Reserved,
    /// An address of one of the host's own interfaces (a public or LAN address on its
    /// network card): it reaches the host's services bound to every address. Known only
    /// where the interfaces are ([`Rules::check_resolved`]), never from the address alone.
    ThisHost,
}

impl AddressClass {
    /// The class of `address`, `None` for an ordinary public address. An IPv4 address
    /// embedded in IPv6 (mapped, compatible, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) is
    /// classed by its IPv4 address.
    pub fn of(address: IpAddr) -> Option<AddressClass> {
        match address {
            IpAddr::V4(v4) => Self::of_v4(v4),
            IpAddr::V6(v6) => Self::of_v6(v6),
        }
    }

    fn of_v4(address: Ipv4Addr) -> Option<AddressClass> {
        let [a, b, _, _] = address.octets();
        if [
            Ipv4Addr::new(169, 254, 169, 254),
            Ipv4Addr::new(100, 100, 100, 200),
        ]
        .contains(&address)
        {
            return Some(AddressClass::Metadata);
        }
        if a == 127 {
            return Some(AddressClass::Loopback);
        }
        if a == 10 || (a == 172 && (16..32).contains(&b)) || (a == 192 && b == 168) {
            return Some(AddressClass::Private);
        }
        if a == 100 && (64..128).contains(&b) {
            return Some(AddressClass::Private);
        }
        if a == 169 && b == 254 {
            return Some(AddressClass::LinkLocal);
        }
        // "This network" (0/8: 0.0.0.0 reaches the host itself), multicast, 240/4 and
        // broadcast. Documentation and benchmarking ranges are not refused: some networks
        // route them (a registry mirror, a fake-IP resolver), and they reach nothing of the
        // host's.
        (a == 0 || a >= 224).then_some(AddressClass::Reserved)
    }

    fn of_v6(address: Ipv6Addr) -> Option<AddressClass> {
        if address == "fd00:ec2::254".parse::<Ipv6Addr>().expect("an address") {
            return Some(AddressClass::Metadata);
        }
        if let Some(v4) = embedded_v4(address) {
            return Self::of_v4(v4);
        }
        if address.is_loopback() {
            return Some(AddressClass::Loopback);
        }
        let first = address.segments()[0];
        if first & 0xfe00 == 0xfc00 {
            return Some(AddressClass::Private);
        }
        if first & 0xffc0 == 0xfe80 || first & 0xffc0 == 0xfec0 {
            return Some(AddressClass::LinkLocal);
        }
        let reserved = address.is_unspecified() || first & 0xff00 == 0xff00;
        reserved.then_some(AddressClass::Reserved)
    }

    /// How a report names the class.
    pub fn describe(self) -> &'static str {
        match self {
            AddressClass::Loopback => "a loopback address",
            AddressClass::Private => "a private-network address",
            AddressClass::LinkLocal => "a link-local address",
            AddressClass::Metadata => "a cloud metadata address",
            AddressClass::Reserved => "a reserved address",
            AddressClass::ThisHost => "an address of this host's own network interfaces",
        }
    }
}

/// The IPv4 address an IPv6 address carries: `::ffff:a.b.c.d`, `::a.b.c.d` (not `::` or
/// `::1`), `64:ff9b::a.b.c.d`, `2002:aabb:ccdd::/48`.
fn embedded_v4(address: Ipv6Addr) -> Option<Ipv4Addr> {
    let segments = address.segments();
    let low = Ipv4Addr::new(
        (segments[6] >> 8) as u8,
        segments[6] as u8,
        (segments[7] >> 8) as u8,
        segments[7] as u8,
    );
    if segments[..5] == [0; 5] && segments[5] == 0xffff {
        return Some(low);
    }
    if segments[..6] == [0; 6] && u32::from(low) > 1 {
        return Some(low);
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(low);
    }
    if segments[0] == 0x2002 {
        return Some(Ipv4Addr::new(
            (segments[1] >> 8) as u8,
            segments[1] as u8,
            (segments[2] >> 8) as u8,
            segments[2] as u8,
        ));
    }
    None
}

/// Two addresses are the same when equal, or when one is the other's IPv4-mapped form.
fn same_address(one: IpAddr, other: IpAddr) -> bool {
    let canonical = |address: IpAddr| match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    };
    canonical(one) == canonical(other)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(allow: &[&str], deny: &[&str]) -> Rules {
        let parse = |list: &[&str]| {
            list.iter()
                .map(|text| Rule::parse(text).expect(text))
                .collect()
        };
        Rules {
            allow: parse(allow),
            deny: parse(deny),
        }
    }

    fn name(text: &str) -> Host {
        Host::parse(text).expect("a host")
    }

    #[test]
    fn rules_parse_and_print_back() {
        for (text, canonical) in [
            ("pypi.org", "pypi.org"),
            ("PyPI.org.", "pypi.org"),
            ("*.githubusercontent.com", "*.githubusercontent.com"),
            ("api.example.com:8443", "api.example.com:8443"),
            ("10.0.0.5", "10.0.0.5"),
            ("127.0.0.1:8080", "127.0.0.1:8080"),
            ("[::1]:8080", "[::1]:8080"),
            ("fd00::1", "fd00::1"),
            ("[fd00::1]", "fd00::1"),
            ("my_host.internal", "my_host.internal"),
        ] {
            let rule = Rule::parse(text).expect(text);
            assert_eq!(rule.to_string(), canonical, "{text}");
            assert_eq!(Rule::parse(canonical).expect(canonical), rule);
        }
    }

    #[test]
    fn bad_rules_say_why() {
        for text in [
            "",
            "https://pypi.org",
            "pypi.org/simple",
            "10.0.0.0/8",
            "*.com",
            "*",
            "a*.example.com",
            "pypi.org:0",
            "pypi.org:65536",
            "pypi.org:+1",
            "pypi.org:",
            "pypi .org",
            "pÿpi.org",
            "a..b",
            "[::1",
            "[::1]x",
            "[pypi.org]:80",
            "::1:80:zz",
            "-wtmp",
            "--rw",
            "a-.example.com",
            "127.1",
            "2130706433",
            "0x7f.1",
            "127.000.000.001",
            "0xa9fea9fe",
            "169.254.169.0xfe",
            "0x7f000001",
            "127.0.0.0x1",
        ] {
            let error = Rule::parse(text).expect_err(text);
            assert!(!error.0.is_empty(), "{text}");
        }
    }

    #[test]
    fn names_wildcards_and_ports() {
        let rules = rules(&["pypi.org", "*.example.com", "api.test:8443"], &[]);
        assert_eq!(rules.check_name(&name("pypi.org"), 443), Ok(()));
        assert_eq!(rules.check_name(&name("PYPI.ORG."), 80), Ok(()));
        assert_eq!(rules.check_name(&name("pypi.org"), 22), Err(Reason::Port));
        assert_eq!(
            rules.check_name(&name("evil.org"), 443),
            Err(Reason::NotAllowed)
        );
        assert_eq!(
            rules.check_name(&name("xpypi.org"), 443),
            Err(Reason::NotAllowed)
        );
        assert_eq!(rules.check_name(&name("a.example.com"), 443), Ok(()));
        assert_eq!(rules.check_name(&name("a.b.example.com"), 443), Ok(()));
        assert_eq!(
            rules.check_name(&name("example.com"), 443),
            Err(Reason::NotAllowed)
        );
        assert_eq!(
            rules.check_name(&name("badexample.com"), 443),
            Err(Reason::NotAllowed)
        );
        assert_eq!(rules.check_name(&name("api.test"), 8443), Ok(()));
        assert_eq!(rules.check_name(&name("api.test"), 443), Err(Reason::Port));
    }

    #[test]
    fn deny_wins_and_names_its_rule() {
        let rules = rules(
            &["*.example.com"],
            &["secret.example.com", "*.example.com:80"],
        );
        assert_eq!(
            rules.check_name(&name("secret.example.com"), 443),
            Err(Reason::Denied {
                rule: "secret.example.com".to_owned()
            })
        );
        assert_eq!(
            rules.check_name(&name("www.example.com"), 80),
            Err(Reason::Denied {
                rule: "*.example.com:80".to_owned()
            })
        );
        assert_eq!(rules.check_name(&name("www.example.com"), 443), Ok(()));
    }

    #[test]
    fn an_allowed_name_does_not_lead_to_special_addresses() {
        let rules = rules(&["localhost:8000", "pypi.org"], &[]);
        assert_eq!(rules.check_name(&name("localhost"), 8000), Ok(()));
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(
            rules.check_address(loopback, 8000),
            Err(Reason::Address {
                address: loopback,
                class: AddressClass::Loopback
            })
        );
        for (text, class) in [
            ("169.254.169.254", AddressClass::Metadata),
            ("fd00:ec2::254", AddressClass::Metadata),
            ("10.1.2.3", AddressClass::Private),
            ("172.31.0.1", AddressClass::Private),
            ("192.168.1.1", AddressClass::Private),
            ("100.64.0.1", AddressClass::Private),
            ("fd12::1", AddressClass::Private),
            ("169.254.1.1", AddressClass::LinkLocal),
            ("fe80::1", AddressClass::LinkLocal),
            ("::1", AddressClass::Loopback),
            ("::ffff:127.0.0.1", AddressClass::Loopback),
            ("::ffff:169.254.169.254", AddressClass::Metadata),
            ("64:ff9b::a00:1", AddressClass::Private),
            ("2002:7f00:1::", AddressClass::Loopback),
            ("0.0.0.0", AddressClass::Reserved),
            ("::", AddressClass::Reserved),
            ("224.0.0.1", AddressClass::Reserved),
            ("255.255.255.255", AddressClass::Reserved),
        ] {
            let address: IpAddr = text.parse().unwrap();
            assert_eq!(AddressClass::of(address), Some(class), "{text}");
            assert_eq!(
                rules.check_address(address, 443),
                Err(Reason::Address { address, class }),
                "{text}"
            );
        }
        for public in [
            "151.101.0.223",
            "2a04:4e42::223",
            "8.8.8.8",
            "172.32.0.1",
            "203.0.113.80",
            "198.18.0.1",
        ] {
            let address: IpAddr = public.parse().unwrap();
            assert_eq!(AddressClass::of(address), None, "{public}");
            assert_eq!(rules.check_address(address, 443), Ok(()), "{public}");
        }
    }

    #[test]
    fn an_address_rule_allows_that_special_address_on_its_port() {
        let rules = rules(&["localhost:8000", "127.0.0.1:8000"], &[]);
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(rules.check_address(loopback, 8000), Ok(()));
        assert_eq!(
            rules.check_address("::ffff:127.0.0.1".parse().unwrap(), 8000),
            Ok(())
        );
        assert!(rules.check_address(loopback, 8001).is_err());
        assert!(rules
            .check_address("127.0.0.2".parse().unwrap(), 8000)
            .is_err());
        // Asked for by address directly.
        assert_eq!(rules.check_name(&name("127.0.0.1"), 8000), Ok(()));
        assert_eq!(rules.check_name(&name("[::ffff:127.0.0.1]"), 8000), Ok(()));
        assert_eq!(
            rules.check_name(&name("127.0.0.2"), 8000),
            Err(Reason::NotAllowed)
        );
    }

    #[test]
    fn the_host_own_addresses_are_refused_like_loopback() {
        let own: Vec<IpAddr> = ["192.0.2.2", "2001:db8::2", "127.0.0.1"]
            .iter()
            .map(|text| text.parse().unwrap())
            .collect();
        let rules = rules(&["api.example.test:8443"], &[]);
        for text in [
            "192.0.2.2",
            "::ffff:192.0.2.2",
            "2001:db8::2",
            "2002:c000:202::1",
        ] {
            let address: IpAddr = text.parse().unwrap();
            // Not special in itself: only the host's interfaces make it so.
            assert_eq!(rules.check_address(address, 8443), Ok(()), "{text}");
            assert_eq!(
                rules.check_resolved(address, 8443, &own),
                Err(Reason::Address {
                    address,
                    class: AddressClass::ThisHost
                }),
                "{text}"
            );
        }
        // Loopback keeps its own class; another public address goes through.
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(
            rules.check_resolved(loopback, 8443, &own),
            Err(Reason::Address {
                address: loopback,
                class: AddressClass::Loopback
            })
        );
        assert_eq!(
            rules.check_resolved("192.0.2.3".parse().unwrap(), 8443, &own),
            Ok(())
        );
        // An address rule allows it, on its port only.
        let rules = self::rules(&["api.example.test:8443", "192.0.2.2:8443"], &[]);
        let address: IpAddr = "192.0.2.2".parse().unwrap();
        assert_eq!(rules.check_resolved(address, 8443, &own), Ok(()));
        assert!(rules.check_resolved(address, 443, &own).is_err());
        // "This host" as a destination: 0.0.0.0/8 and `::` are refused.
        for text in ["0.0.0.0", "0.1.2.3", "::", "::ffff:0.0.0.0"] {
            let address: IpAddr = text.parse().unwrap();
            assert!(rules.check_resolved(address, 8443, &[]).is_err(), "{text}");
        }
    }

    #[test]
    fn deny_by_address_applies_to_resolved_addresses() {
        let rules = rules(&["*.example.com"], &["93.184.215.14"]);
        assert_eq!(
            rules.check_address("93.184.215.14".parse().unwrap(), 443),
            Err(Reason::Denied {
                rule: "93.184.215.14".to_owned()
            })
        );
    }

    #[test]
    fn explanations_read_as_sentences() {
        let explain = |text: &str, list| Rule::parse(text).unwrap().explain(list);
        assert_eq!(
            explain("pypi.org", List::Allow),
            "allows `pypi.org` on ports 80 and 443"
        );
        assert_eq!(
            explain("*.example.com:8443", List::Allow),
            "allows any name below `example.com` (not `example.com` itself) on port 8443 only"
        );
        assert_eq!(
            explain("10.0.0.1", List::Deny),
            "refuses the address 10.0.0.1 on every port"
        );
    }
}
