//! The web page under slow and idle connections (slowloris): they are
//! closed within a bounded time, capped per address and in all, and a
//! normal request from another address still gets its page meanwhile.

mod web_fixture;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use seedbox::web::{ConnLimits, WebConfig};
use web_fixture::*;

/// Short limits, so the test does not wait long.
fn cfg() -> WebConfig {
    WebConfig {
        site_title: "Infoshop".into(),
        limits: ConnLimits {
            max_connections: 32,
            per_address: 8,
            header_timeout: Duration::from_secs(1),
            stall_timeout: Duration::from_secs(3),
        },
        ..Default::default()
    }
}

/// A connection to `to` from the local address `from`.
fn connect_from(from: IpAddr, to: SocketAddr) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let s = tokio::net::TcpSocket::new_v4().unwrap();
        s.bind(SocketAddr::new(from, 0)).unwrap();
        let s = s.connect(to).await.unwrap();
        s.into_std().unwrap()
    })
}

/// A GET of `/` from `from`, answered within the (generous) bound.
fn page_from(from: IpAddr, to: SocketAddr) -> u16 {
    let mut s = connect_from(from, to);
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "GET / HTTP/1.1\r\nHost: {to}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    parse(&buf).status
}

/// Whether the server closes `s` before `deadline` (end of stream or a
/// reset; bytes it sends first, such as an error page, are read past).
fn closed_by(s: &mut TcpStream, deadline: Instant) -> bool {
    s.set_nonblocking(false).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn slow_and_idle_connections_are_closed_and_others_still_served() {
    let fx = Fixture::start(cfg());
    let to = fx.addr;
    let attacker = ip("127.0.0.1");
    // 100 connections that trickle a header, 100 that say nothing.
    let mut slow: Vec<TcpStream> = (0..100).map(|_| connect_from(attacker, to)).collect();
    let mut idle: Vec<TcpStream> = (0..100).map(|_| connect_from(attacker, to)).collect();
    for s in &mut slow {
        s.set_nonblocking(false).unwrap();
        let _ = s.write_all(b"GET / HTTP/1.1\r\nHo");
    }
    let trickle = std::thread::spawn({
        let mut socks: Vec<TcpStream> = slow.iter().map(|s| s.try_clone().unwrap()).collect();
        move || {
            // A byte every 200 ms, for up to 20 s, while the server keeps
            // the connection.
            for _ in 0..100 {
                socks.retain_mut(|s| s.write_all(b"x").is_ok());
                if socks.is_empty() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    });
    // Someone else on the LAN still gets the page.
    assert_eq!(page_from(ip("127.0.0.2"), to), 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    for (i, s) in slow.iter_mut().chain(idle.iter_mut()).enumerate() {
        assert!(closed_by(s, deadline), "connection {i} still open");
    }
    trickle.join().unwrap();

    // A kept-alive connection that goes quiet after a request is closed.
    let mut s = connect_from(ip("127.0.0.2"), to);
    s.set_nonblocking(false).unwrap();
    write!(s, "GET /static/style.css HTTP/1.1\r\nHost: {to}\r\n\r\n").unwrap();
    assert!(closed_by(&mut s, Instant::now() + Duration::from_secs(30)));
}

#[test]
fn the_connection_cap_holds_and_frees() {
    let fx = Fixture::start(cfg());
    let to = fx.addr;
    // 8 addresses with 8 idle connections each: twice the cap.
    let mut idle: Vec<TcpStream> = (3..11)
        .flat_map(|n| (0..8).map(move |_| ip(&format!("127.0.0.{n}"))))
        .map(|from| connect_from(from, to))
        .collect();
    // A newcomer waits for a slot (the idle ones time out), then is served.
    assert_eq!(page_from(ip("127.0.0.2"), to), 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    for (i, s) in idle.iter_mut().enumerate() {
        assert!(closed_by(s, deadline), "connection {i} still open");
    }
    assert_eq!(page_from(ip("127.0.0.2"), to), 200);
}
