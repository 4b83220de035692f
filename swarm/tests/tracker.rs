//! Tracker clients on 127.0.0.1: HTTP against the test tracker and
//! hand-written misbehaving servers; UDP (BEP 15) against the UDP test
//! tracker, IPv4 and IPv6; sessions finding each other through tracker
//! tiers (BEP 12) with dead trackers first, and the port they announce.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use swarm::session::{AddOptions, Session, SessionConfig};
use swarm::tracker::server::{TrackerOptions, TrackerServer};
use swarm::tracker::udp_server::UdpTrackerServer;
use swarm::tracker::{
    announce, announce_with, AnnounceOptions, AnnounceRequest, Client, Event, TrackerError,
    UdpOptions,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn req(id: u8, port: u16, left: u64, event: Event) -> AnnounceRequest {
    AnnounceRequest {
        info_hash: [0xab; 20],
        peer_id: [id; 20],
        port,
        uploaded: 0,
        downloaded: 0,
        left,
        event,
        numwant: None,
    }
}

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

#[tokio::test]
async fn announce_roundtrip() {
    let (server, url) = TrackerServer::bind(localhost()).await.unwrap();
    let a = announce(&url, &req(1, 1111, 0, Event::Started))
        .await
        .unwrap();
    assert_eq!(a.interval, 30);
    assert!(a.peers.is_empty(), "the announcer is not in its own list");
    assert_eq!(a.complete, Some(1));
    let b = announce(&url, &req(2, 2222, 100, Event::Started))
        .await
        .unwrap();
    assert_eq!(b.peers, vec!["127.0.0.1:1111".parse().unwrap()]);
    assert_eq!((b.complete, b.incomplete), (Some(1), Some(1)));
    assert_eq!(server.num_peers(&[0xab; 20]), 2);
    // another torrent is a separate swarm
    let mut other = req(3, 3333, 1, Event::Started);
    other.info_hash = [0xcd; 20];
    assert!(announce(&url, &other).await.unwrap().peers.is_empty());
    // stopped removes the peer
    announce(&url, &req(1, 1111, 0, Event::Stopped))
        .await
        .unwrap();
    let b = announce(&url, &req(2, 2222, 100, Event::None))
        .await
        .unwrap();
    assert!(b.peers.is_empty());
    assert_eq!(server.num_peers(&[0xab; 20]), 1);
}

#[tokio::test]
async fn peer_ip_override_and_numwant() {
    let opts = TrackerOptions {
        peer_ip: Some(IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1))),
        ..Default::default()
    };
    let (_server, url) = TrackerServer::bind_with(localhost(), opts).await.unwrap();
    for i in 1..=5u8 {
        announce(&url, &req(i, 1000 + i as u16, 1, Event::Started))
            .await
            .unwrap();
    }
    let mut r = req(9, 9, 1, Event::Started);
    r.numwant = Some(2);
    let a = announce(&url, &r).await.unwrap();
    assert_eq!(a.peers.len(), 2);
    assert!(a
        .peers
        .iter()
        .all(|p| p.ip() == IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1))));
}

#[tokio::test]
async fn failure_reason() {
    let (_server, url) = TrackerServer::bind(localhost()).await.unwrap();
    let bad_url = url.replace("/announce", "/scrape");
    match announce(&bad_url, &req(1, 1, 1, Event::None)).await {
        Err(TrackerError::Failure(m)) => assert!(m.contains("announce"), "{m}"),
        other => panic!("expected a failure reason, got {other:?}"),
    }
}

/// A server that answers every connection with `answer`, once per accept.
async fn canned(answer: Vec<u8>) -> String {
    let l = TcpListener::bind(localhost()).await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(&answer).await;
                let _ = s.shutdown().await;
            });
        }
    });
    format!("http://{addr}/announce")
}

fn http(body: &[u8]) -> Vec<u8> {
    let mut v = format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    v.extend_from_slice(body);
    v
}

#[tokio::test]
async fn garbage_is_a_typed_error() {
    let r = req(1, 1, 1, Event::None);
    type Check = fn(&TrackerError) -> bool;
    let cases: Vec<(Vec<u8>, Check)> = vec![
        (b"not http at all".to_vec(), |e| {
            matches!(e, TrackerError::BadHttp(_))
        }),
        (b"HTTP/1.0 500 Oops\r\n\r\n".to_vec(), |e| {
            matches!(e, TrackerError::HttpStatus { code: 500, .. })
        }),
        (http(b"d8:intervali3e5:peers5:abcdee"), |e| {
            matches!(e, TrackerError::BadField("peers"))
        }),
        (http(b"\xff\x00garbage"), |e| {
            matches!(e, TrackerError::BadBencode(_))
        }),
        (http(b"d8:interval"), |e| {
            matches!(e, TrackerError::BadBencode(_))
        }),
        (Vec::new(), |e| matches!(e, TrackerError::BadHttp(_))),
    ];
    for (answer, check) in cases {
        let url = canned(answer.clone()).await;
        let e = announce(&url, &r).await.unwrap_err();
        assert!(
            check(&e),
            "answer {:?} gave {e:?}",
            String::from_utf8_lossy(&answer)
        );
        assert!(!e.to_string().is_empty());
    }
    // a chunked answer is decoded
    let url = canned(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nd8:in\r\n9\r\ntervali7e\r\n1\r\ne\r\n0\r\n\r\n".to_vec()).await;
    assert_eq!(announce(&url, &r).await.unwrap().interval, 7);
}

#[tokio::test]
async fn keep_alive_server_does_not_stall() {
    // answers, then holds the connection open
    let l = TcpListener::bind(localhost()).await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut s, _)) = l.accept().await {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(&http(b"d8:intervali9ee")).await;
            held.push(s);
        }
    });
    let opts = AnnounceOptions {
        timeout: Duration::from_secs(5),
        ..Default::default()
    };
    let url = format!("http://{addr}/announce");
    let a = announce_with(&url, &req(1, 1, 1, Event::None), &opts)
        .await
        .unwrap();
    assert_eq!(a.interval, 9);
}

#[tokio::test]
async fn oversize_response_is_refused() {
    let r = req(1, 1, 1, Event::None);
    let opts = AnnounceOptions {
        max_response: 1000,
        timeout: Duration::from_secs(5),
        ..Default::default()
    };
    // declared too large
    let mut big = b"d8:intervali3e5:peers6000:".to_vec();
    big.extend(std::iter::repeat_n(1u8, 6000));
    big.push(b'e');
    let url = canned(http(&big)).await;
    assert!(matches!(
        announce_with(&url, &r, &opts).await,
        Err(TrackerError::ResponseTooLarge(1000))
    ));
    // no length, streams far past the limit
    let mut endless = b"HTTP/1.0 200 OK\r\n\r\n".to_vec();
    endless.extend(std::iter::repeat_n(b'x', 200_000));
    let url = canned(endless).await;
    assert!(matches!(
        announce_with(&url, &r, &opts).await,
        Err(TrackerError::ResponseTooLarge(1000))
    ));
}

#[tokio::test]
async fn silent_server_times_out_and_https_is_refused() {
    let l = TcpListener::bind(localhost()).await.unwrap();
    let addr = l.local_addr().unwrap();
    let _keep = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s); // never answer
        }
    });
    let opts = AnnounceOptions {
        timeout: Duration::from_millis(200),
        ..Default::default()
    };
    let url = format!("http://{addr}/announce");
    assert!(matches!(
        announce_with(&url, &req(1, 1, 1, Event::None), &opts).await,
        Err(TrackerError::Timeout(_))
    ));
    let e = announce("https://127.0.0.1:1/announce", &req(1, 1, 1, Event::None))
        .await
        .unwrap_err();
    assert!(matches!(e, TrackerError::UnsupportedScheme(_)));
    assert!(e.to_string().contains("http://"));
    // nothing listening
    let l = TcpListener::bind(localhost()).await.unwrap();
    let dead = l.local_addr().unwrap();
    drop(l);
    let e = announce(
        &format!("http://{dead}/announce"),
        &req(1, 1, 1, Event::None),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, TrackerError::Connect { .. }), "{e:?}");
}

/// Short retransmission timeouts: a lost datagram costs 100 ms, not 15 s.
fn quick() -> AnnounceOptions {
    AnnounceOptions {
        udp: UdpOptions {
            initial_timeout: Duration::from_millis(100),
            max_retransmits: 4,
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test]
async fn udp_announce_roundtrip_ipv4_and_scrape() {
    let (server, url) = UdpTrackerServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut c = Client::new(quick());
    let a = c
        .announce(&url, &req(1, 1111, 0, Event::Started))
        .await
        .unwrap();
    assert_eq!(a.interval, 30);
    assert!(a.peers.is_empty(), "the announcer is not in its own list");
    let b = c
        .announce(&url, &req(2, 2222, 100, Event::Started))
        .await
        .unwrap();
    assert_eq!(b.peers, vec!["127.0.0.1:1111".parse().unwrap()]);
    assert_eq!((b.complete, b.incomplete), (Some(1), Some(1)));
    let s = c.scrape_udp(&url, &[[0xab; 20], [0xcd; 20]]).await.unwrap();
    assert_eq!((s[0].seeders, s[0].leechers), (1, 1));
    assert_eq!((s[1].seeders, s[1].leechers), (0, 0));
    // one connect served the three requests (the id is reused for a minute)
    assert_eq!(server.connects(), 1);
    assert_eq!((server.announces(), server.scrapes()), (2, 1));
    c.announce(&url, &req(1, 1111, 0, Event::Stopped))
        .await
        .unwrap();
    assert_eq!(
        server.peers(&[0xab; 20]),
        vec!["127.0.0.1:2222".parse().unwrap()]
    );
}

#[tokio::test]
async fn udp_announce_over_ipv6_lists_ipv6_peers() {
    let Ok((server, url)) = UdpTrackerServer::bind("[::1]:0".parse().unwrap()).await else {
        eprintln!("no IPv6 loopback: skipped");
        return;
    };
    announce_with(&url, &req(1, 1111, 0, Event::Started), &quick())
        .await
        .unwrap();
    let b = announce_with(&url, &req(2, 2222, 1, Event::Started), &quick())
        .await
        .unwrap();
    assert_eq!(b.peers, vec!["[::1]:1111".parse().unwrap()]);
    assert_eq!(server.peers(&[0xab; 20]).len(), 2);
}

#[tokio::test]
async fn lost_datagrams_are_retransmitted_and_expired_ids_renewed() {
    let (server, url) = UdpTrackerServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    // the connect and its first retransmission are lost
    server.drop_next(2);
    let mut c = Client::new(quick());
    c.announce(&url, &req(1, 1111, 0, Event::Started))
        .await
        .unwrap();
    assert_eq!((server.connects(), server.announces()), (1, 1));
    // every request lost: a typed timeout after 1 + max_retransmits sends
    server.drop_next(1000);
    let e = c
        .announce(&url, &req(1, 1111, 0, Event::None))
        .await
        .unwrap_err();
    assert!(
        matches!(e, TrackerError::UdpTimeout { attempts: 5 }),
        "{e:?}"
    );
    server.drop_next(0);
    // with no reuse, each announce connects first
    let mut o = quick();
    o.udp.connection_ttl = Duration::ZERO;
    let mut c = Client::new(o);
    for _ in 0..2 {
        c.announce(&url, &req(1, 1111, 0, Event::None))
            .await
            .unwrap();
    }
    assert_eq!((server.connects(), server.announces()), (3, 3));
}

#[tokio::test]
async fn dead_and_bad_udp_trackers_are_typed_errors() {
    // nothing listens: the ICMP port unreachable ends it early
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dead = s.local_addr().unwrap();
    drop(s);
    let e = announce_with(
        &format!("udp://{dead}/announce"),
        &req(1, 1, 1, Event::None),
        &quick(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            TrackerError::Connect { .. } | TrackerError::UdpTimeout { .. }
        ),
        "{e:?}"
    );
    // the test tracker refuses port 0 with an error answer
    let (_server, url) = UdpTrackerServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let e = announce_with(&url, &req(1, 0, 1, Event::None), &quick())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, TrackerError::Failure(m) if m == "port 0"),
        "{e:?}"
    );
    for bad in ["udp://127.0.0.1/announce", "udp://[::1/x", "udp://"] {
        let e = announce_with(bad, &req(1, 1, 1, Event::None), &quick())
            .await
            .unwrap_err();
        assert!(matches!(e, TrackerError::BadUrl(_)), "{bad}: {e:?}");
    }
}

fn config(dir: &Path) -> SessionConfig {
    SessionConfig {
        listen_tcp: Some("127.0.0.1:0".parse().unwrap()),
        listen_quic: Some("127.0.0.1:0".parse().unwrap()),
        download_dir: dir.join("dl"),
        tracker: quick(),
        ..Default::default()
    }
}

fn make_share(root: &Path) -> std::path::PathBuf {
    let share = root.join("zines");
    std::fs::create_dir_all(&share).unwrap();
    let data: Vec<u8> = (0..600_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(share.join("a.pdf"), &data).unwrap();
    std::fs::write(share.join("b.txt"), b"a small zine\n").unwrap();
    share
}

async fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let t0 = std::time::Instant::now();
    while !ok() {
        assert!(t0.elapsed() < Duration::from_secs(30), "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The first two tiers are dead (a UDP port and an HTTP port nothing
/// listens on); the third is a UDP tracker: both sessions get through to
/// it, the leecher finds the seeder there and downloads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_through_udp_tracker_after_dead_tiers() {
    let d = tempfile::tempdir().unwrap();
    let share = make_share(d.path());
    let (tracker, url) = UdpTrackerServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dead_udp = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap()
    };
    let dead_http = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let seeder = Session::new(config(&d.path().join("s"))).await.unwrap();
    let shared = seeder
        .share_path(
            &share,
            AddOptions {
                // one tier each, in this order
                trackers: vec![
                    format!("udp://{dead_udp}/announce"),
                    format!("http://{dead_http}/announce"),
                    url.clone(),
                ],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let wire = shared.info_hashes().wire_id();
    let meta = swarm::Metainfo::from_bytes(shared.torrent_bytes().unwrap()).unwrap();
    assert_eq!(meta.trackers.len(), 3, "three tiers");
    wait_for("the seeder never announced", || {
        tracker.peers(&wire).len() == 1
    })
    .await;
    let leecher = Session::new(config(&d.path().join("l"))).await.unwrap();
    let got = leecher
        .add_torrent_bytes(shared.torrent_bytes().unwrap(), AddOptions::default())
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(60), got.wait_complete())
        .await
        .expect("download timed out")
        .unwrap();
    assert_eq!(
        std::fs::read(d.path().join("l/dl/zines/a.pdf")).unwrap(),
        std::fs::read(share.join("a.pdf")).unwrap()
    );
    // each session announced its TCP listening port
    let mut ports: Vec<u16> = tracker.peers(&wire).iter().map(SocketAddr::port).collect();
    ports.sort();
    let mut want = vec![
        seeder.tcp_addr().unwrap().port(),
        leecher.tcp_addr().unwrap().port(),
    ];
    want.sort();
    assert_eq!(ports, want);
    leecher.shutdown().await;
    seeder.shutdown().await;
    // both said goodbye (stopped) to the tracker that answered
    assert!(tracker.peers(&wire).is_empty());
}

/// The port sent to trackers is the TCP port the session is bound to
/// (asked for port 0), not the QUIC one and not 0; the same over HTTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announces_carry_the_bound_tcp_port() {
    let d = tempfile::tempdir().unwrap();
    let share = make_share(d.path());
    let (udp, udp_url) = UdpTrackerServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (http, http_url) = TrackerServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    for (url, peers) in [
        (
            udp_url,
            &(|w: &[u8; 20]| udp.peers(w)) as &dyn Fn(&[u8; 20]) -> Vec<SocketAddr>,
        ),
        (http_url, &|w: &[u8; 20]| http.peers(w)),
    ] {
        let s = Session::new(config(&d.path().join("s"))).await.unwrap();
        let tcp = s.tcp_addr().unwrap();
        assert_ne!(tcp.port(), 0);
        let h = s
            .share_path(
                &share,
                AddOptions {
                    trackers: vec![url.clone()],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let wire = h.info_hashes().wire_id();
        wait_for("no announce", || !peers(&wire).is_empty()).await;
        assert_eq!(peers(&wire), vec![tcp], "{url}");
        s.shutdown().await;
    }
}
