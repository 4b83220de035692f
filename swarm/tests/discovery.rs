//! LAN discovery on this host: mDNS advertise + scan + catalogue, LSD
//! between two listeners, name resolution failures.
//!
//! These use the host's real interfaces with multicast loopback; the
//! namespace-isolated LAN test is `swarm/cli/tests/netns_lan.rs`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use piece_core::types::{InfoHashV1, InfoHashV2, InfoHashes};
use swarm::discovery::catalogue::{self, Catalogue, Share};
use swarm::discovery::lsd::{Lsd, LsdConfig, PeerHint};
use swarm::discovery::mdns::{AdvertiseConfig, Advertiser};
use swarm::discovery::{self, ResolveError};

fn unique_hash() -> [u8; 20] {
    rand::random()
}

/// Serve a catalogue on an ephemeral TCP port on all interfaces.
async fn catalogue_server(cat: Catalogue) -> u16 {
    let l = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let cat = Arc::new(cat);
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let cat = cat.clone();
            tokio::spawn(async move {
                let _ = catalogue::serve(&mut s, &[1; 20], &cat).await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mdns_advertise_scan_and_resolve() {
    let name = format!("zines-{}", hex::encode(rand::random::<[u8; 4]>()));
    let ih = InfoHashes {
        v1: Some(InfoHashV1(unique_hash())),
        v2: Some(InfoHashV2(rand::random())),
    };
    let cat = Catalogue {
        shares: vec![Share::new(name.clone(), 4242, 2, ih)],
    };
    let port = catalogue_server(cat).await;
    let adv = Advertiser::start(&AdvertiseConfig {
        label: name.clone(),
        tcp_port: port,
        quic_port: Some(port),
        fingerprint: Some("ab12".into()),
    })
    .unwrap();
    assert!(adv.instance().starts_with(&format!("{name} on ")));

    let view = discovery::scan(Duration::from_secs(4)).await.unwrap();
    let peer = view
        .peers
        .iter()
        .find(|p| p.instance() == adv.instance())
        .unwrap_or_else(|| panic!("own instance not browsed: {:?}", view.peers));
    assert_eq!(peer.tcp_port, port);
    assert_eq!(peer.quic_port, Some(port));
    assert_eq!(peer.fingerprint.as_deref(), Some("ab12"));
    let s = view
        .shares
        .iter()
        .find(|s| s.share.name == name)
        .unwrap_or_else(|| panic!("not listed: {:?} failures {:?}", view.shares, view.failures));
    assert_eq!(s.share.size, 4242);
    assert_eq!(s.share.info_hashes, ih);
    assert!(!s.peers.is_empty() && s.peers.iter().all(|p| p.port() == port));

    let r = discovery::resolve_in(&view, &name, Duration::from_secs(4)).unwrap();
    assert_eq!(r.info_hashes, ih);
    assert!(r.magnet.contains(&ih.v1.unwrap().to_hex()));

    // resolve() answers once the name is seen (plus a short settle), not
    // at the end of its timeout.
    let t0 = Instant::now();
    let limit = Duration::from_secs(15);
    let r = discovery::resolve(&name.to_uppercase(), limit)
        .await
        .unwrap();
    assert_eq!(r.name, name);
    assert_eq!(r.peers.len(), s.peers.len());
    assert!(t0.elapsed() < limit, "resolve waited its whole timeout");
    drop(adv);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_unknown_name_fails_within_timeout() {
    let t0 = Instant::now();
    let e = discovery::resolve("nosuchname-7f3e9a", Duration::from_millis(1500))
        .await
        .unwrap_err();
    let took = t0.elapsed();
    assert!(matches!(e, ResolveError::NotFound { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("no share named \"nosuchname-7f3e9a\""),
        "{e}"
    );
    // bounded: the timeout plus scheduling slack on a loaded machine
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lsd_two_listeners_on_one_host() {
    let h = unique_hash();
    let (tx_a, _rx_a) = tokio::sync::mpsc::channel(64);
    let (tx_b, mut rx_b) = tokio::sync::mpsc::channel(64);
    let mut cfg = LsdConfig::new(40001);
    cfg.ipv6 = false;
    let a = Lsd::start(cfg, tx_a).unwrap();
    let mut cfg = LsdConfig::new(40002);
    cfg.ipv6 = false;
    let b = Lsd::start(cfg, tx_b).unwrap();
    assert_ne!(a.cookie(), b.cookie());
    a.add(h);
    let hint: PeerHint = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let hint = rx_b.recv().await.expect("lsd stopped");
            if hint.info_hash == h {
                return hint;
            }
        }
    })
    .await
    .expect("B heard A's announce");
    assert_eq!(hint.addr.port(), 40001);
    assert!(!hint.addr.ip().is_unspecified());
    // B must not hear itself: announce from B, then a distinct hash from A;
    // B sees A's second hash but never its own.
    let own = unique_hash();
    b.add(own);
    let h2 = unique_hash();
    tokio::time::sleep(Duration::from_millis(200)).await;
    a.add(h2);
    let seen: Vec<SocketAddr> = tokio::time::timeout(Duration::from_secs(5), async {
        let mut v = Vec::new();
        loop {
            let hint = rx_b.recv().await.expect("lsd stopped");
            assert_ne!(hint.info_hash, own, "B heard its own announce");
            if hint.info_hash == h2 {
                v.push(hint.addr);
                return v;
            }
        }
    })
    .await
    .expect("B heard A's second announce");
    assert_eq!(seen[0].port(), 40001);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lsd_over_ipv6() {
    let h = unique_hash();
    let (tx_a, _rx_a) = tokio::sync::mpsc::channel(64);
    let (tx_b, mut rx_b) = tokio::sync::mpsc::channel(64);
    let mut cfg = LsdConfig::new(40011);
    cfg.ipv4 = false;
    let a = Lsd::start(cfg, tx_a).unwrap();
    let mut cfg = LsdConfig::new(40012);
    cfg.ipv4 = false;
    let _b = Lsd::start(cfg, tx_b).unwrap();
    a.add(h);
    let hint = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let hint = rx_b.recv().await.expect("lsd stopped");
            if hint.info_hash == h {
                return hint;
            }
        }
    })
    .await
    .expect("B heard A's IPv6 announce");
    assert!(hint.addr.is_ipv6(), "{hint:?}");
    assert_eq!(hint.addr.port(), 40011);
}
