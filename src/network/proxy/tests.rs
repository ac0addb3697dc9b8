//! The proxy against real loopback sockets: servers and clients on `127.0.0.1:0`.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::*;
use crate::network::rules::{AddressClass, Rule};

fn rules(allow: &[String], deny: &[String]) -> Rules {
    let parse = |list: &[String]| {
        list.iter()
            .map(|text| Rule::parse(text).expect(text))
            .collect()
    };
    Rules {
        allow: parse(allow),
        deny: parse(deny),
    }
}

struct Running {
    proxy: Proxy,
    http: SocketAddr,
    socks: SocketAddr,
}

fn start_with(rules: Rules, upstream: Option<Upstream>) -> Running {
    let http = TcpListener::bind("127.0.0.1:0").unwrap();
    let socks = TcpListener::bind("127.0.0.1:0").unwrap();
    let (http_address, socks_address) = (http.local_addr().unwrap(), socks.local_addr().unwrap());
    let proxy = Proxy::start(
        ProxyConfig { rules, upstream },
        vec![Listener::Http(http), Listener::Socks5(socks)],
    )
    .unwrap();
    Running {
        proxy,
        http: http_address,
        socks: socks_address,
    }
}

fn start(allow: &[String], deny: &[String]) -> Running {
    start_with(rules(allow, deny), None)
}

/// A TCP echo server: each connection gets back what it sent, and end of file after it.
fn echo_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            thread::spawn(move || {
                let _ = std::io::copy(&mut &stream, &mut &stream);
                let _ = stream.shutdown(Shutdown::Write);
            });
        }
    });
    port
}

/// A one-request-per-connection HTTP server: sends each request's head and body on the
/// channel, answers `200` with `body` (or, for a POST, with the body it got), then closes.
fn http_server(body: Vec<u8>) -> (u16, mpsc::Receiver<(String, Vec<u8>)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                if stream.read(&mut byte).unwrap_or(0) == 0 {
                    break;
                }
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let length = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            let mut received = vec![0u8; length];
            let _ = stream.read_exact(&mut received);
            let answer = if head.starts_with("POST") {
                received.clone()
            } else {
                body.clone()
            };
            let _ = sender.send((head, received));
            let _ = stream.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                    answer.len()
                )
                .as_bytes(),
            );
            let _ = stream.write_all(&answer);
        }
    });
    (port, receiver)
}

fn read_all(mut stream: &TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    let _ = stream.read_to_end(&mut all);
    all
}

/// Sends `request` to the HTTP proxy and returns the whole answer.
fn ask(proxy: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(proxy).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(request).unwrap();
    read_all(&stream)
}

fn split_response(response: &[u8]) -> (String, Vec<u8>) {
    let end = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("a response head")
        + 4;
    (
        String::from_utf8_lossy(&response[..end]).into_owned(),
        response[end..].to_vec(),
    )
}

/// A SOCKS5 client's greeting and `CONNECT`: the stream and the reply code.
fn socks_connect(proxy: SocketAddr, address: &[u8], port: u16) -> (TcpStream, u8) {
    let mut stream = TcpStream::connect(proxy).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(&[5, 1, 0]).unwrap();
    let mut choice = [0u8; 2];
    stream.read_exact(&mut choice).unwrap();
    assert_eq!(choice, [5, 0]);
    let mut request = vec![5, 1, 0];
    request.extend_from_slice(address);
    request.extend_from_slice(&port.to_be_bytes());
    stream.write_all(&request).unwrap();
    let mut reply = [0u8; 10];
    stream.read_exact(&mut reply).unwrap();
    assert_eq!(reply[0], 5);
    (stream, reply[1])
}

fn domain(name: &str) -> Vec<u8> {
    let mut bytes = vec![3, name.len() as u8];
    bytes.extend_from_slice(name.as_bytes());
    bytes
}

/// Bytes with every value, in a pattern that does not repeat every 256.
fn pattern(length: usize) -> Vec<u8> {
    (0..length)
        .map(|index| (index ^ (index >> 8) ^ (index >> 16)) as u8)
        .collect()
}

/// Through a tunnel already open: `data` out, end of file, and everything echoed back.
fn echo_through(mut stream: TcpStream, data: &[u8]) -> Vec<u8> {
    let reader = {
        let stream = stream.try_clone().unwrap();
        thread::spawn(move || read_all(&stream))
    };
    stream.write_all(data).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    reader.join().unwrap()
}

fn loopback_rules(port: u16) -> Vec<String> {
    vec![format!("localhost:{port}"), format!("127.0.0.1:{port}")]
}

#[test]
fn a_get_is_forwarded_in_origin_form_and_its_response_comes_back_byte_exact() {
    let body = pattern(8 << 20);
    let (port, requests) = http_server(body.clone());
    let running = start(&loopback_rules(port), &[]);
    let request = format!(
        "GET http://127.0.0.1:{port}/data?x=1#fragment HTTP/1.1\r\nHost: elsewhere.test\r\n\
         Proxy-Authorization: Basic c2VjcmV0\r\nProxy-Connection: keep-alive\r\n\
         Connection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: 5\r\nAccept: */*\r\n\r\n"
    );
    let response = ask(running.http, request.as_bytes());
    let (head, received) = split_response(&response);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert_eq!(received.len(), body.len());
    assert!(received == body, "the body changed on the way");
    let (forwarded, _) = requests.recv().unwrap();
    assert_eq!(
        forwarded,
        format!(
            "GET /data?x=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        )
    );
    assert_eq!(running.proxy.finish(), Vec::new());
}

#[test]
fn a_post_body_reaches_the_server() {
    let (port, requests) = http_server(Vec::new());
    let running = start(&loopback_rules(port), &[]);
    let body = pattern(1 << 20);
    let mut request = format!(
        "POST http://localhost:{port}/upload HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    let response = ask(running.http, &request);
    let (head, echoed) = split_response(&response);
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(echoed == body);
    let (forwarded, received) = requests.recv().unwrap();
    assert!(
        forwarded.starts_with("POST /upload HTTP/1.1\r\nHost: localhost:"),
        "{forwarded}"
    );
    assert!(received == body);
    running.proxy.finish();
}

#[test]
fn connect_tunnels_both_ways_and_half_closes() {
    let port = echo_server();
    let running = start(&loopback_rules(port), &[]);
    let mut stream = TcpStream::connect(running.http).unwrap();
    stream
        .write_all(
            format!("CONNECT localhost:{port} HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
    let established = b"HTTP/1.1 200 Connection established\r\n\r\n";
    let mut answer = vec![0u8; established.len()];
    stream.read_exact(&mut answer).unwrap();
    assert_eq!(answer, established);
    let data = pattern(3 << 20);
    assert!(echo_through(stream, &data) == data);
    running.proxy.finish();
}

#[test]
fn socks5_connects_by_domain_and_by_address() {
    let port = echo_server();
    let running = start(&loopback_rules(port), &[]);
    let data = pattern(1 << 20);
    let (stream, code) = socks_connect(running.socks, &domain("localhost"), port);
    assert_eq!(code, 0);
    assert!(echo_through(stream, &data) == data);
    let (stream, code) = socks_connect(running.socks, &[1, 127, 0, 0, 1], port);
    assert_eq!(code, 0);
    assert!(echo_through(stream, &data) == data);
    assert_eq!(running.proxy.finish(), Vec::new());
}

fn refused(host: &str, port: u16, reason: Reason, count: u64) -> Refusal {
    Refusal {
        host: host.to_owned(),
        port,
        reason,
        count,
    }
}

#[test]
fn each_refusal_is_answered_and_recorded_with_its_count() {
    let port = echo_server();
    let running = start(
        &[
            "localhost:1".to_owned(),
            format!("localhost:{port}"),
            "*.example.com".to_owned(),
        ],
        &["secret.example.com".to_owned()],
    );
    let connect = |target: &str| {
        ask(
            running.http,
            format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes(),
        )
    };
    // Not allowed, three times (once in capitals), then by SOCKS.
    for target in ["evil.test:443", "EVIL.test:443", "evil.test:443"] {
        let (head, body) = split_response(&connect(target));
        assert!(
            head.starts_with("HTTP/1.1 403 Forbidden by boxpy\r\n"),
            "{head}"
        );
        assert!(
            head.contains("\r\nX-Boxpy-Refused: not_allowed\r\n"),
            "{head}"
        );
        let body = String::from_utf8(body).unwrap();
        assert!(body.contains("evil.test:443"), "{body}");
        assert!(body.contains("--allow-host evil.test:443"), "{body}");
        assert!(body.contains("network.allow"), "{body}");
    }
    let (_, code) = socks_connect(running.socks, &domain("evil.test"), 443);
    assert_eq!(code, 2);
    // Denied (deny beats allow), on a plain GET.
    let (head, body) = split_response(&ask(
        running.http,
        b"GET http://secret.example.com/ HTTP/1.1\r\n\r\n",
    ));
    assert!(head.contains("X-Boxpy-Refused: denied"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("`secret.example.com`"));
    // The wrong port.
    let (head, body) = split_response(&connect("www.example.com:22"));
    assert!(head.contains("X-Boxpy-Refused: port"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("--allow-host www.example.com:22"));
    // An allowed name that resolves to loopback only.
    let (head, body) = split_response(&connect(&format!("localhost:{port}")));
    assert!(head.contains("X-Boxpy-Refused: address"), "{head}");
    let body = String::from_utf8_lossy(&body).into_owned();
    assert!(body.contains("a loopback address"), "{body}");
    let (_, code) = socks_connect(running.socks, &domain("localhost"), port);
    assert_eq!(code, 2);
    // Not a host at all.
    let (_, code) = socks_connect(running.socks, &domain("no host\n"), 443);
    assert_eq!(code, 2);

    let record = running.proxy.finish();
    let loopback = record
        .iter()
        .find(|refusal| matches!(refusal.reason, Reason::Address { .. }))
        .expect("the loopback refusal")
        .clone();
    let Reason::Address { address, class } = loopback.reason.clone() else {
        unreachable!()
    };
    assert!(address.is_loopback());
    assert_eq!(class, AddressClass::Loopback);
    assert_eq!(
        record,
        vec![
            // Refusals by address class and by deny rule first, then the most asked-for.
            refused("localhost", port, Reason::Address { address, class }, 2),
            refused(
                "secret.example.com",
                80,
                Reason::Denied {
                    rule: "secret.example.com".to_owned()
                },
                1
            ),
            refused("evil.test", 443, Reason::NotAllowed, 4),
            refused("www.example.com", 22, Reason::Port, 1),
            refused("no host\u{fffd}", 443, Reason::NotAllowed, 1),
        ]
    );
}

#[test]
fn a_loopback_address_rule_lets_the_name_through_and_a_deny_by_address_stops_it() {
    let port = echo_server();
    let running = start(&loopback_rules(port), &[]);
    let (_, code) = socks_connect(running.socks, &domain("localhost"), port);
    assert_eq!(code, 0);
    assert_eq!(running.proxy.finish(), Vec::new());
    let running = start(&loopback_rules(port), &[format!("127.0.0.1:{port}")]);
    let (_, code) = socks_connect(running.socks, &[1, 127, 0, 0, 1], port);
    assert_eq!(code, 2);
    let record = running.proxy.finish();
    assert_eq!(
        record,
        vec![refused(
            "127.0.0.1",
            port,
            Reason::Denied {
                rule: format!("127.0.0.1:{port}")
            },
            1
        )]
    );
}

#[test]
fn a_closed_port_answers_502_and_socks_connection_refused() {
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let running = start(&loopback_rules(closed), &[]);
    let (head, _) = split_response(&ask(
        running.http,
        format!("CONNECT 127.0.0.1:{closed} HTTP/1.1\r\n\r\n").as_bytes(),
    ));
    assert!(head.starts_with("HTTP/1.1 502 "), "{head}");
    let (_, code) = socks_connect(running.socks, &[1, 127, 0, 0, 1], closed);
    assert_eq!(code, 5);
    assert_eq!(running.proxy.finish(), Vec::new());
}

#[test]
fn two_hundred_concurrent_connections_lose_no_byte() {
    let port = echo_server();
    let running = start(&loopback_rules(port), &[]);
    let (http, socks) = (running.http, running.socks);
    let clients: Vec<_> = (0..200)
        .map(|index| {
            thread::spawn(move || {
                let data: Vec<u8> = pattern(64 * 1024 + index * 7)
                    .into_iter()
                    .map(|byte| byte.wrapping_add(index as u8))
                    .collect();
                let stream = if index % 2 == 0 {
                    let (stream, code) = socks_connect(socks, &[1, 127, 0, 0, 1], port);
                    assert_eq!(code, 0);
                    stream
                } else {
                    let mut stream = TcpStream::connect(http).unwrap();
                    stream
                        .write_all(format!("CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n").as_bytes())
                        .unwrap();
                    let mut answer = [0u8; 39];
                    stream.read_exact(&mut answer).unwrap();
                    assert_eq!(&answer, b"HTTP/1.1 200 Connection established\r\n\r\n");
                    stream
                };
                echo_through(stream, &data) == data
            })
        })
        .collect();
    let intact = clients
        .into_iter()
        .filter_map(|client| client.join().ok())
        .filter(|intact| *intact)
        .count();
    assert_eq!(intact, 200);
    assert_eq!(running.proxy.stop(), Finished::default());
}

/// A fake host proxy that wants `user:pass`: answers `CONNECT` with 200 and then echoes,
/// or with 407. Sends each request head on the channel.
fn fake_upstream() -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                if stream.read(&mut byte).unwrap_or(0) == 0 {
                    break;
                }
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let good = head.contains("\r\nProxy-Authorization: Basic dXNlcjpwQHNz\r\n");
            let _ = sender.send(head);
            if good {
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n\r\n");
                let _ = std::io::copy(&mut &stream, &mut &stream);
                let _ = stream.shutdown(Shutdown::Write);
            } else {
                let _ = stream.write_all(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n",
                );
            }
        }
    });
    (port, receiver)
}

#[test]
fn allowed_targets_go_through_the_host_proxy_with_its_credentials() {
    let (upstream_port, heads) = fake_upstream();
    let environment = |key: &str| match key {
        "https_proxy" => Some(format!("http://user:p%40ss@127.0.0.1:{upstream_port}/")),
        "NO_PROXY" => Some("direct.test, .internal".to_owned()),
        _ => None,
    };
    let upstream = Upstream::from_env(environment).unwrap().unwrap();
    assert_eq!(
        upstream.authorization.as_deref(),
        Some("Basic dXNlcjpwQHNz")
    );
    let running = start_with(
        rules(&["far.example.org:7000".to_owned()], &[]),
        Some(upstream.clone()),
    );
    let (stream, code) = socks_connect(running.socks, &domain("far.example.org"), 7000);
    assert_eq!(code, 0);
    let data = pattern(1 << 20);
    assert!(echo_through(stream, &data) == data);
    let head = heads.recv().unwrap();
    assert!(
        head.starts_with("CONNECT far.example.org:7000 HTTP/1.1\r\nHost: far.example.org:7000\r\n"),
        "{head}"
    );
    // The names rules still apply: nothing reaches the upstream for a refused host.
    let (_, code) = socks_connect(running.socks, &domain("other.example.org"), 7000);
    assert_eq!(code, 2);
    assert!(heads.try_recv().is_err());
    running.proxy.finish();

    // Wrong credentials: the upstream's 407 becomes a 502 naming it.
    let wrong = Upstream {
        authorization: Some("Basic d3Jvbmc6d3Jvbmc=".to_owned()),
        ..upstream
    };
    let running = start_with(
        rules(&["far.example.org:7000".to_owned()], &[]),
        Some(wrong),
    );
    let (head, body) = split_response(&ask(
        running.http,
        b"CONNECT far.example.org:7000 HTTP/1.1\r\n\r\n",
    ));
    assert!(head.starts_with("HTTP/1.1 502 "), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("407"));
    running.proxy.finish();
}

#[test]
fn through_the_host_proxy_a_name_leading_only_to_refused_addresses_is_refused() {
    let (upstream_port, heads) = fake_upstream();
    let upstream = Upstream::from_env(|key| {
        (key == "HTTPS_PROXY").then(|| format!("http://user:p%40ss@127.0.0.1:{upstream_port}"))
    })
    .unwrap()
    .unwrap();
    let running = start_with(
        rules(
            &[
                "localhost:7000".to_owned(),
                "nothing.invalid:7000".to_owned(),
            ],
            &[],
        ),
        Some(upstream),
    );
    // `localhost` resolves, on the host, to loopback only: refused as without the upstream.
    let (_, code) = socks_connect(running.socks, &domain("localhost"), 7000);
    assert_eq!(code, 2);
    let (head, body) = split_response(&ask(
        running.http,
        b"CONNECT localhost:7000 HTTP/1.1\r\n\r\n",
    ));
    assert!(head.contains("X-Boxpy-Refused: address"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("a loopback address"));
    // A name the host cannot resolve goes to the upstream by name (its DNS may be the
    // upstream's alone); it is the first thing the upstream gets.
    let (stream, code) = socks_connect(running.socks, &domain("nothing.invalid"), 7000);
    assert_eq!(code, 0);
    assert!(echo_through(stream, b"through") == b"through");
    let head = heads.recv().unwrap();
    assert!(
        head.starts_with("CONNECT nothing.invalid:7000 HTTP/1.1\r\n"),
        "{head}"
    );
    let stopped = running.proxy.stop();
    assert_eq!(stopped.refusals.len(), 1, "{:?}", stopped.refusals);
    let refusal = &stopped.refusals[0];
    assert_eq!((refusal.host.as_str(), refusal.count), ("localhost", 2));
    assert!(matches!(
        refusal.reason,
        Reason::Address {
            class: AddressClass::Loopback,
            ..
        }
    ));
}

#[test]
fn a_name_leading_to_the_host_own_interface_address_is_refused() {
    let own = own_addresses();
    let loopback: IpAddr = "127.0.0.1".parse().unwrap();
    assert!(own.contains(&loopback), "{own:?}");
    let rules = rules(&["api.example.test:8443".to_owned()], &[]);
    // Every ordinary address of this machine's interfaces (eth0's, say).
    for address in own
        .iter()
        .filter(|address| AddressClass::of(**address).is_none())
    {
        assert_eq!(
            sift(&rules, &own, &[*address], 8443),
            Err(Reason::Address {
                address: *address,
                class: AddressClass::ThisHost
            }),
            "{address}"
        );
    }
    // A host whose interface has a documentation address, as a name's DNS may point to.
    let interface: IpAddr = "192.0.2.2".parse().unwrap();
    let elsewhere: IpAddr = "198.51.100.7".parse().unwrap();
    assert_eq!(
        sift(&rules, &[loopback, interface], &[interface], 8443),
        Err(Reason::Address {
            address: interface,
            class: AddressClass::ThisHost
        })
    );
    assert_eq!(
        sift(
            &rules,
            &[loopback, interface],
            &[interface, elsewhere],
            8443
        ),
        Ok(vec![elsewhere])
    );
    assert_eq!(sift(&rules, &[], &[interface], 8443), Ok(vec![interface]));
}

#[test]
fn a_proxy_chains_through_another_boxpy_proxy() {
    let body = pattern(2 << 20);
    let (port, _requests) = http_server(body.clone());
    // The outer proxy (the host's) resolves the name and checks the address.
    let outer = start(&loopback_rules(port), &[]);
    let upstream =
        Upstream::from_env(|key| (key == "HTTP_PROXY").then(|| format!("{}", outer.http)))
            .unwrap()
            .unwrap();
    // Resolved on the inner proxy's host too: `localhost` needs its address allowed.
    let inner = start_with(
        rules(
            &[format!("localhost:{port}"), format!("127.0.0.1:{port}")],
            &[],
        ),
        Some(upstream),
    );
    let response = ask(
        inner.http,
        format!("GET http://localhost:{port}/file HTTP/1.1\r\n\r\n").as_bytes(),
    );
    let (head, received) = split_response(&response);
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(received == body);
    assert_eq!(inner.proxy.finish(), Vec::new());
    assert_eq!(outer.proxy.finish(), Vec::new());
}

#[test]
fn the_host_proxy_is_read_from_the_environment() {
    let from = |pairs: &[(&str, &str)]| {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        Upstream::from_env(move |key| {
            pairs
                .iter()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value.clone())
        })
    };
    assert_eq!(from(&[]), Ok(None));
    assert_eq!(from(&[("HTTPS_PROXY", "  ")]), Ok(None));
    let upstream = from(&[
        ("HTTP_PROXY", "http://ignored:1"),
        ("HTTPS_PROXY", "HTTP://Proxy.Corp:3128"),
        (
            "no_proxy",
            "localhost,10.0.0.0/8, *.corp ,[::1]:8080,example.org:8443",
        ),
    ])
    .unwrap()
    .unwrap();
    assert_eq!(
        upstream,
        Upstream {
            host: "proxy.corp".to_owned(),
            port: 3128,
            authorization: None,
            no_proxy: [
                "localhost",
                "10.0.0.0/8",
                "*.corp",
                "[::1]:8080",
                "example.org:8443"
            ]
            .map(str::to_owned)
            .to_vec(),
        }
    );
    let host = |text: &str| Host::parse(text).unwrap();
    assert!(upstream.bypasses(&host("localhost"), 80));
    assert!(upstream.bypasses(&host("10.9.8.7"), 443));
    assert!(!upstream.bypasses(&host("11.0.0.1"), 443));
    assert!(upstream.bypasses(&host("git.corp"), 443));
    assert!(!upstream.bypasses(&host("corpx"), 443));
    assert!(upstream.bypasses(&host("[::1]"), 8080));
    assert!(!upstream.bypasses(&host("[::1]"), 80));
    assert!(upstream.bypasses(&host("www.example.org"), 8443));
    assert!(!upstream.bypasses(&host("example.org"), 443));
    assert!(!upstream.bypasses(&host("pypi.org"), 443));

    let upstream = from(&[("http_proxy", "proxy:8080")]).unwrap().unwrap();
    assert_eq!((upstream.host.as_str(), upstream.port), ("proxy", 8080));
    let upstream = from(&[("http_proxy", "http://[fd00::1]")])
        .unwrap()
        .unwrap();
    assert_eq!((upstream.host.as_str(), upstream.port), ("[fd00::1]", 80));
    for (value, says) in [
        ("socks5://user:secret@proxy:1080", "`socks5` proxy"),
        ("https://proxy:443", "`https` proxy"),
        ("http://proxy:3128/path", "path"),
        ("http://proxy:99999", "HOST:PORT"),
        ("http://bad host:1", "not a host name"),
    ] {
        let error = from(&[("HTTPS_PROXY", value)]).unwrap_err();
        assert!(error.starts_with("`HTTPS_PROXY` is not usable"), "{error}");
        assert!(error.contains(says), "{value}: {error}");
        assert!(!error.contains("secret"), "{error}");
    }
}

#[test]
fn base64_matches_the_rfc_vectors() {
    for (plain, encoded) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(base64(plain.as_bytes()), encoded);
    }
    assert_eq!(base64(&[0xff, 0xfe, 0x00]), "//4A");
}

#[test]
fn the_record_is_bounded() {
    let mut record = Record::default();
    for index in 0..MAX_RECORDED + 10 {
        record.add(&format!("host{index}.test"), 443, &Reason::NotAllowed);
    }
    record.add("host0.test", 443, &Reason::NotAllowed);
    assert_eq!(record.entries.len(), MAX_RECORDED);
    assert_eq!(record.unrecorded, 10);
    assert_eq!(record.entries[0].count, 2);
}

#[test]
fn a_flood_of_junk_names_does_not_push_out_the_refusals_that_matter() {
    let mut record = Record::default();
    for index in 0..MAX_RECORDED + 500 {
        record.add(&format!("junk{index}.example"), 443, &Reason::NotAllowed);
        record.add(&format!("junk{index}.example"), 443, &Reason::NotAllowed);
    }
    let metadata: IpAddr = "169.254.169.254".parse().unwrap();
    let address = Reason::Address {
        address: metadata,
        class: AddressClass::Metadata,
    };
    record.add("metadata.example", 80, &address);
    record.add("127.0.0.1", 8001, &Reason::NotAllowed);
    let denied = Reason::Denied {
        rule: "secret.example".to_owned(),
    };
    record.add("secret.example", 443, &denied);
    assert_eq!(record.unrecorded, 1000);
    let refusals = record.take();
    assert_eq!(refusals.len(), MAX_RECORDED + 3);
    // Address and Denied first, whatever the counts; then the most asked-for.
    assert_eq!(refusals[0], refused("metadata.example", 80, address, 1));
    assert_eq!(refusals[1], refused("secret.example", 443, denied, 1));
    assert_eq!(refusals[2].count, 2);
    assert!(refusals.contains(&refused("127.0.0.1", 8001, Reason::NotAllowed, 1)));
    assert_eq!(refusals.last().unwrap().count, 1);
}

#[test]
fn finish_returns_promptly_with_connections_open_and_idle() {
    let port = echo_server();
    let running = start(&loopback_rules(port), &[]);
    // One client that never sends its head, one idle tunnel, one idle SOCKS greeting.
    let silent = TcpStream::connect(running.http).unwrap();
    let (tunnel, code) = socks_connect(running.socks, &[1, 127, 0, 0, 1], port);
    assert_eq!(code, 0);
    let mut greeting = TcpStream::connect(running.socks).unwrap();
    greeting.write_all(&[5, 1]).unwrap();
    thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    running.proxy.finish();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    // Every client sees its connection end.
    for stream in [&silent, &tunnel, &greeting] {
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert!(read_all(stream).is_empty());
    }
}

#[test]
fn malformed_requests_are_answered_or_closed_and_the_proxy_goes_on() {
    let port = echo_server();
    let running = start(&loopback_rules(port), &[]);
    let many_headers: String = (0..101).map(|index| format!("X-{index}: 1\r\n")).collect();
    let long_header = format!("X-Long: {}\r\n", "a".repeat(70 * 1024));
    let cases: Vec<(Vec<u8>, Option<&str>)> = vec![
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), Some("400")),
        (
            b"GET https://pypi.org/ HTTP/1.1\r\n\r\n".to_vec(),
            Some("400"),
        ),
        (
            b"GET ftp://pypi.org/ HTTP/1.1\r\n\r\n".to_vec(),
            Some("400"),
        ),
        (
            b"GET http://user@pypi.org/ HTTP/1.1\r\n\r\n".to_vec(),
            Some("400"),
        ),
        (b"CONNECT pypi.org HTTP/1.1\r\n\r\n".to_vec(), Some("400")),
        (b"CONNECT pypi.org:0 HTTP/1.1\r\n\r\n".to_vec(), Some("400")),
        (b"CONNECT [::1 HTTP/1.1\r\n\r\n".to_vec(), Some("400")),
        (b"\x00\x01\x02 garbage\r\n\r\n".to_vec(), Some("400")),
        (
            format!("GET http://a.test/ HTTP/1.1\r\n{many_headers}\r\n").into_bytes(),
            Some("431"),
        ),
        (
            format!("GET http://a.test/ HTTP/1.1\r\n{long_header}\r\n").into_bytes(),
            Some("431"),
        ),
        (b"GET http://a.test/ HTTP/1.1\r\n".to_vec(), None),
        (Vec::new(), None),
    ];
    for (request, status) in cases {
        let mut stream = TcpStream::connect(running.http).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let _ = stream.write_all(&request);
        let _ = stream.shutdown(Shutdown::Write);
        let answer = String::from_utf8_lossy(&read_all(&stream)).into_owned();
        match status {
            Some(status) => assert!(
                answer.starts_with(&format!("HTTP/1.1 {status} ")),
                "{:?}: {answer}",
                String::from_utf8_lossy(&request[..request.len().min(60)])
            ),
            None => assert!(answer.is_empty(), "{answer}"),
        }
    }
    let socks_cases: Vec<(&[u8], &[u8])> = vec![
        (b"\x04\x01\x00\x50", b""),
        (b"\x05\x01\x02", b"\x05\xff"),
        (b"\x05\x00", b"\x05\xff"),
        (
            b"\x05\x01\x00\x05\x02\x00\x01\x7f\x00\x00\x01\x00\x50",
            b"\x05\x00\x05\x07\x00\x01\x00\x00\x00\x00\x00\x00",
        ),
        (
            b"\x05\x01\x00\x05\x03\x00\x01\x7f\x00\x00\x01\x00\x50",
            b"\x05\x00\x05\x07\x00\x01\x00\x00\x00\x00\x00\x00",
        ),
        (
            b"\x05\x01\x00\x05\x01\x00\x09",
            b"\x05\x00\x05\x08\x00\x01\x00\x00\x00\x00\x00\x00",
        ),
        (b"\x05\x01\x00\x05\x01\x00\x03\x40abc", b"\x05\x00"),
        (
            b"\x05\x01\x00\x04\x01\x00\x01\x7f\x00\x00\x01\x00\x50",
            b"\x05\x00",
        ),
        (b"\x05", b""),
    ];
    for (request, expected) in socks_cases {
        let mut stream = TcpStream::connect(running.socks).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let _ = stream.write_all(request);
        let _ = stream.shutdown(Shutdown::Write);
        assert_eq!(read_all(&stream), expected, "{request:?}");
    }
    // Still serving.
    let (stream, code) = socks_connect(running.socks, &[1, 127, 0, 0, 1], port);
    assert_eq!(code, 0);
    assert_eq!(echo_through(stream, b"still here"), b"still here");
    assert_eq!(running.proxy.finish(), Vec::new());
}

#[test]
fn request_targets_parse() {
    let target = |head: &str| parse_request_for_test(head);
    assert_eq!(
        target("GET http://Example.com HTTP/1.1\r\n\r\n"),
        http::RequestTarget::Http {
            host: "Example.com".to_owned(),
            port: 80,
            authority: "Example.com".to_owned(),
            path: "/".to_owned()
        }
    );
    assert_eq!(
        target("GET http://[::1]:8080?q HTTP/1.1\r\n\r\n"),
        http::RequestTarget::Http {
            host: "[::1]".to_owned(),
            port: 8080,
            authority: "[::1]:8080".to_owned(),
            path: "/?q".to_owned()
        }
    );
    assert_eq!(
        target("CONNECT [::1]:443 HTTP/1.1\r\n\r\n"),
        http::RequestTarget::Connect {
            host: "[::1]".to_owned(),
            port: 443
        }
    );
    assert_eq!(
        target("CONNECT ::1:443 HTTP/1.1\r\n\r\n"),
        http::RequestTarget::Invalid
    );
    assert_eq!(
        target("CONNECT a:+1 HTTP/1.1\r\n\r\n"),
        http::RequestTarget::Invalid
    );
    assert_eq!(
        target("OPTIONS * HTTP/1.1\r\n\r\n"),
        http::RequestTarget::Origin
    );
}

fn parse_request_for_test(head: &str) -> http::RequestTarget {
    http::parse_request(head.as_bytes()).expect(head).target
}

#[test]
fn refusal_texts_name_what_allows_them() {
    assert_eq!(
        refusal_text("pypi.org", 22, &Reason::Port),
        "boxpy refused the connection to pypi.org:22: `network.allow` names this host, but not port 22 (a rule without a port allows 80 and 443); to allow it, run boxpy with `--allow-host pypi.org:22` (or add \"pypi.org:22\" to `network.allow`).\n"
    );
    let address: IpAddr = "fd00:ec2::254".parse().unwrap();
    let text = refusal_text(
        "metadata.test",
        80,
        &Reason::Address {
            address,
            class: AddressClass::Metadata,
        },
    );
    assert!(
        text.contains("resolves to [fd00:ec2::254], a cloud metadata address"),
        "{text}"
    );
    assert!(text.contains("--allow-host [fd00:ec2::254]:80"), "{text}");
}

#[test]
fn fuzzing_entry_points_take_odd_input() {
    for bytes in [
        &b"GET http://pypi.org/ HTTP/1.1\r\nConnection: content-length, x\r\nContent-Length: 3\r\n\r\n"[..],
        b"CONNECT \xff\xfe:443 HTTP/1.1\r\n\r\n",
        b"GET http://a.example.com:99999/ HTTP/1.0\r\n\r\n",
        b"",
    ] {
        check_request_for_fuzzing(bytes);
    }
    for bytes in [
        &b"\x05\x01\x00\x05\x01\x00\x03\x03a\x00b\x00\x50"[..],
        b"\x05\x01\x00\x05\x01\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x7f\x00\x00\x01\x1f\x40",
        b"\x05\xff",
    ] {
        check_socks_for_fuzzing(bytes);
    }
}

#[test]
fn a_name_that_does_not_resolve_answers_502_and_socks_host_unreachable() {
    let running = start(&["nothing.invalid:80".to_owned()], &[]);
    let (head, body) = split_response(&ask(
        running.http,
        b"GET http://nothing.invalid/ HTTP/1.1\r\n\r\n",
    ));
    assert!(head.starts_with("HTTP/1.1 502 "), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("could not resolve nothing.invalid"));
    let (_, code) = socks_connect(running.socks, &domain("nothing.invalid"), 80);
    assert_eq!(code, 4);
    // Not a refusal.
    assert_eq!(running.proxy.finish(), Vec::new());
}

#[test]
fn socks5_connects_to_an_ipv6_address() {
    let Ok(listener) = TcpListener::bind("[::1]:0") else {
        return; // No IPv6 loopback on this machine.
    };
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        if let Ok((stream, _)) = listener.accept() {
            let _ = std::io::copy(&mut &stream, &mut &stream);
            let _ = stream.shutdown(Shutdown::Write);
        }
    });
    let running = start(&[format!("[::1]:{port}")], &[]);
    let mut address = vec![4];
    address.extend_from_slice(&std::net::Ipv6Addr::LOCALHOST.octets());
    let (stream, code) = socks_connect(running.socks, &address, port);
    assert_eq!(code, 0);
    assert_eq!(echo_through(stream, b"over IPv6"), b"over IPv6");
    running.proxy.finish();
}

#[test]
fn connections_beyond_the_bound_are_turned_away_not_refused() {
    let running = start(&[], &[]);
    // Clients that never send their head hold their connections.
    let mut held = Vec::new();
    for _ in 0..MAX_CONNECTIONS {
        held.push(TcpStream::connect(running.http).unwrap());
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while lock(&running.proxy.shared.live).connections.len() < MAX_CONNECTIONS {
        assert!(
            Instant::now() < deadline,
            "the proxy did not admit them all"
        );
        thread::sleep(Duration::from_millis(20));
    }
    let answer = ask(running.http, b"CONNECT pypi.org:443 HTTP/1.1\r\n\r\n");
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 503 "),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let stopped = running.proxy.stop();
    assert_eq!(stopped.turned_away, 1);
    assert_eq!(stopped.refusals, Vec::new());
    drop(held);
}

#[test]
fn the_descriptor_limit_is_raised_towards_the_hard_limit_never_lowered() {
    let wanted = MAX_CONNECTIONS as u64 * 6 + 256;
    assert_eq!(nofile_target(1024, 20_000), Some(wanted));
    assert_eq!(nofile_target(1024, u64::MAX), Some(wanted));
    assert_eq!(nofile_target(1024, 4096), Some(4096));
    assert_eq!(nofile_target(1024, 1024), None);
    assert_eq!(nofile_target(65_536, 1_048_576), None);
    assert_eq!(nofile_target(wanted, wanted), None);
}

/// Set in the environment of [`short_of_descriptors_child`]'s process.
#[cfg(target_os = "linux")]
const NOFILE_CHILD: &str = "BOXPY_TEST_PROXY_NOFILE_CHILD";

/// Not a test on its own: run by
/// [`short_of_descriptors_connections_are_turned_away_not_left_waiting`] in a process of
/// its own (with [`NOFILE_CHILD`] set), where it runs a proxy under a soft
/// `RLIMIT_NOFILE` a few descriptors above what is open, prints its ports, and when its
/// standard input closes, what it turned away.
#[test]
#[cfg(target_os = "linux")]
fn short_of_descriptors_child() {
    if std::env::var_os(NOFILE_CHILD).is_none() {
        return;
    }
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let running = start(&[], &[]);
    // The acceptor's reserve descriptor exists once it runs.
    thread::sleep(Duration::from_millis(200));
    let open = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, open + 8, hard).unwrap();
    println!("ports {} {}", running.http.port(), running.socks.port());
    let mut line = String::new();
    while std::io::stdin().read_line(&mut line).unwrap_or(0) > 0 {}
    let stopped = running.proxy.stop();
    println!("turned_away {}", stopped.turned_away);
}

#[test]
#[cfg(target_os = "linux")]
fn short_of_descriptors_connections_are_turned_away_not_left_waiting() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "network::proxy::tests::short_of_descriptors_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(NOFILE_CHILD, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = |prefix: &str| loop {
        let line = lines.next().expect("the child's output").unwrap();
        // libtest's own `test NAME ... ` may come first on the line.
        if let Some((_, rest)) = line.split_once(prefix) {
            return rest.to_owned();
        }
    };
    let ports: Vec<u16> = next("ports ")
        .split(' ')
        .map(|port| port.parse().unwrap())
        .collect();
    let (http, socks): (SocketAddr, SocketAddr) = (
        ([127, 0, 0, 1], ports[0]).into(),
        ([127, 0, 0, 1], ports[1]).into(),
    );
    // Clients that never send their head hold what the proxy has: far more than 8.
    let mut held = Vec::new();
    for _ in 0..30 {
        held.push(TcpStream::connect(http).unwrap());
    }
    // Every later one is answered at once (not left in the backlog).
    for _ in 0..5 {
        let answer = ask(http, b"CONNECT pypi.org:443 HTTP/1.1\r\n\r\n");
        assert!(
            String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 503 "),
            "{}",
            String::from_utf8_lossy(&answer)
        );
    }
    for _ in 0..3 {
        let (_, code) = socks_connect(socks, &[1, 1, 1, 1, 1], 443);
        assert_eq!(code, 1);
    }
    drop(child.stdin.take());
    let turned_away: u64 = next("turned_away ").parse().unwrap();
    // The 8 above and most of the 30 held.
    assert!(turned_away >= 8 + 10, "{turned_away}");
    assert!(child.wait().unwrap().success());
    drop(held);
}

mod properties {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_request_head_is_parsed_decided_and_rewritten_without_panic(
            method in "(GET|CONNECT|POST|[A-Z]{1,6})",
            target in "(http://|https://|/|)[a-zA-Z0-9.:\\[\\]@?#/%*_-]{0,40}",
            headers in prop::collection::vec(("[A-Za-z-]{1,12}", "[ -~\u{80}-\u{ff}]{0,20}"), 0..6),
            tail in prop::collection::vec(any::<u8>(), 0..16),
        ) {
            let mut head = format!("{method} {target} HTTP/1.1\r\n").into_bytes();
            for (name, value) in headers {
                head.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
            }
            head.extend_from_slice(b"\r\n");
            head.extend_from_slice(&tail);
            super::check_request_for_fuzzing(&head);
        }

        #[test]
        fn any_socks_request_is_answered_without_panic(
            methods in prop::collection::vec(any::<u8>(), 0..4),
            command in 0u8..4,
            address_type in 0u8..6,
            address in prop::collection::vec(any::<u8>(), 0..40),
        ) {
            let mut bytes = vec![5, methods.len() as u8];
            bytes.extend_from_slice(&methods);
            bytes.extend_from_slice(&[5, command, 0, address_type]);
            bytes.extend_from_slice(&address);
            super::check_socks_for_fuzzing(&bytes);
        }
    }
}

#[test]
fn finish_returns_promptly_with_a_connect_in_progress() {
    // A documentation address: where packets to it are dropped, the connect hangs until
    // `finish` (where there is no route it fails at once, and the test proves less).
    let running = start(&["192.0.2.1:80".to_owned()], &[]);
    let mut stream = TcpStream::connect(running.socks).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
        .write_all(&[5, 1, 0, 5, 1, 0, 1, 192, 0, 2, 1, 0, 80])
        .unwrap();
    let mut choice = [0u8; 2];
    stream.read_exact(&mut choice).unwrap();
    thread::sleep(Duration::from_millis(200));
    let shared = Arc::clone(&running.proxy.shared);
    let started = Instant::now();
    let stopped = running.proxy.stop();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(stopped, Finished::default());
    // No thread is left behind: the connect gave up.
    assert!(lock(&shared.live).connections.is_empty());
    let reply = read_all(&stream);
    assert!(reply.is_empty() || reply[1] != 0, "{reply:?}");
}
