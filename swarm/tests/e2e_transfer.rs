//! swarm -> swarm transfers over real sockets on 127.0.0.1.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use swarm::net::PeerAddr;
use swarm::proto::TransportKind;
use swarm::session::{AddOptions, Session, SessionConfig, TorrentEvent};

fn lo() -> Option<SocketAddr> {
    Some("127.0.0.1:0".parse().unwrap())
}

fn config(dir: &Path) -> SessionConfig {
    SessionConfig {
        listen_tcp: lo(),
        listen_quic: lo(),
        download_dir: dir.join("dl"),
        state_dir: Some(dir.join("state")),
        ..Default::default()
    }
}

/// A folder with a few files of pseudo-random bytes (seeded, so runs repeat).
fn make_share(root: &Path) -> std::path::PathBuf {
    let share = root.join("zines");
    std::fs::create_dir_all(share.join("sub")).unwrap();
    let mut x = 0x1234_5678u32;
    let mut bytes = |n: usize| {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect::<Vec<u8>>()
    };
    std::fs::write(share.join("a.pdf"), bytes(700_000)).unwrap();
    std::fs::write(share.join("sub/b.txt"), bytes(33_333)).unwrap();
    std::fs::write(share.join("empty"), b"").unwrap();
    share
}

fn assert_same_tree(a: &Path, b: &Path) {
    for rel in ["a.pdf", "sub/b.txt", "empty"] {
        let x = std::fs::read(a.join(rel)).unwrap();
        let y = std::fs::read(b.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert!(x == y, "{rel} differs");
    }
}

async fn transfer(quic: bool) {
    let d = tempfile::tempdir().unwrap();
    let share = make_share(d.path());
    let seeder = Session::new(config(&d.path().join("s"))).await.unwrap();
    let shared = seeder
        .share_path(&share, AddOptions::default())
        .await
        .unwrap();
    assert!(shared.progress().complete && shared.progress().num_pieces > 0);
    let mut lcfg = config(&d.path().join("l"));
    if !quic {
        // Two swarm peers with QUIC move to it (see quic_pref.rs): a
        // leecher without QUIC keeps this transfer on TCP.
        lcfg.listen_quic = None;
    }
    let leecher = Session::new(lcfg).await.unwrap();
    let peer = if quic {
        PeerAddr::Quic(seeder.quic_addr().unwrap())
    } else {
        PeerAddr::Tcp(seeder.tcp_addr().unwrap())
    };
    let got = leecher
        .add_magnet(
            &shared.magnet(),
            AddOptions {
                peers: vec![peer],
                paused: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut ev = got.events();
    got.resume().await;
    tokio::time::timeout(Duration::from_secs(30), got.wait_complete())
        .await
        .expect("download timed out")
        .unwrap();
    let mut transports = Vec::new();
    while let Ok(e) = ev.try_recv() {
        if let TorrentEvent::PeerConnected { transport, .. } = e {
            transports.push(transport);
        }
    }
    let want = if quic {
        TransportKind::Quic
    } else {
        TransportKind::Tcp
    };
    assert!(transports.iter().all(|t| *t == want), "{transports:?}");
    assert!(!transports.is_empty());
    assert_same_tree(&share, &d.path().join("l/dl/zines"));
    let p = got.progress();
    assert!(p.complete && p.have_pieces == p.num_pieces && p.num_pieces > 0);
    leecher.shutdown().await;
    seeder.shutdown().await;
    // The leecher's resume file says it has everything.
    let rf = swarm::resume::path_for(&d.path().join("l/state"), shared.info_hashes().wire_id());
    let r = swarm::resume::load(&rf)
        .unwrap()
        .expect("resume file written");
    assert!(r.bitfield().unwrap().is_full());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_to_swarm_over_tcp() {
    transfer(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_to_swarm_over_quic() {
    transfer(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torrent_file_download_and_seed_existing_data() {
    let d = tempfile::tempdir().unwrap();
    let share = make_share(d.path());
    let seeder = Session::new(config(&d.path().join("s"))).await.unwrap();
    let shared = seeder
        .share_path(&share, AddOptions::default())
        .await
        .unwrap();
    let tbytes = shared.torrent_bytes().unwrap().to_vec();
    // A second seeder from the .torrent over a copy of the data.
    let copy = d.path().join("copy");
    std::fs::create_dir_all(copy.join("zines/sub")).unwrap();
    for rel in ["a.pdf", "sub/b.txt", "empty"] {
        std::fs::copy(share.join(rel), copy.join("zines").join(rel)).unwrap();
    }
    let seeder2 = Session::new(config(&d.path().join("s2"))).await.unwrap();
    let s2 = seeder2
        .add_torrent_bytes(
            &tbytes,
            AddOptions {
                save_dir: Some(copy),
                seed: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(
        s2.progress().complete || {
            tokio::time::timeout(Duration::from_secs(5), s2.wait_complete())
                .await
                .is_ok()
        }
    );
    let leecher = Session::new(config(&d.path().join("l"))).await.unwrap();
    let tf = d.path().join("t.torrent");
    std::fs::write(&tf, &tbytes).unwrap();
    let got = leecher
        .add_torrent_file(
            &tf,
            AddOptions {
                peers: vec![
                    PeerAddr::Tcp(seeder2.tcp_addr().unwrap()),
                    PeerAddr::Quic(seeder.quic_addr().unwrap()),
                ],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), got.wait_complete())
        .await
        .unwrap()
        .unwrap();
    assert_same_tree(&share, &d.path().join("l/dl/zines"));
    // Adding it twice is refused.
    assert!(leecher
        .add_torrent_file(&tf, AddOptions::default())
        .await
        .is_err());
    leecher.shutdown().await;
    seeder.shutdown().await;
    seeder2.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_only_torrent_over_quic() {
    use piece_core::create::{create_torrent, CreateOptions};
    use piece_core::metainfo::Version;
    let d = tempfile::tempdir().unwrap();
    let share = make_share(d.path());
    let opts = CreateOptions {
        version: Version::V2,
        piece_length: Some(32768),
        ..Default::default()
    };
    let t = create_torrent(&share, &opts, None).unwrap();
    let seeder = Session::new(config(&d.path().join("s"))).await.unwrap();
    let s = seeder
        .add_torrent_bytes(
            &t.bytes,
            AddOptions {
                save_dir: Some(d.path().into()),
                seed: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(s.progress().complete);
    let leecher = Session::new(config(&d.path().join("l"))).await.unwrap();
    let got = leecher
        .add_torrent_bytes(
            &t.bytes,
            AddOptions {
                peers: vec![PeerAddr::Quic(seeder.quic_addr().unwrap())],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), got.wait_complete())
        .await
        .unwrap()
        .unwrap();
    assert_same_tree(&share, &d.path().join("l/dl/zines"));
    leecher.shutdown().await;
    seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_only_magnet_fetches_piece_layers() {
    use piece_core::create::{create_torrent, CreateOptions};
    use piece_core::metainfo::{Metainfo, Version};
    let d = tempfile::tempdir().unwrap();
    let share = make_share(d.path());
    let opts = CreateOptions {
        version: Version::V2,
        piece_length: Some(32768),
        ..Default::default()
    };
    let t = create_torrent(&share, &opts, None).unwrap();
    let magnet = Metainfo::from_bytes(&t.bytes).unwrap().magnet();
    assert!(!magnet.contains("btih"));
    let seeder = Session::new(config(&d.path().join("s"))).await.unwrap();
    seeder
        .add_torrent_bytes(
            &t.bytes,
            AddOptions {
                save_dir: Some(d.path().into()),
                seed: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let leecher = Session::new(config(&d.path().join("l"))).await.unwrap();
    let got = leecher
        .add_magnet(
            &magnet,
            AddOptions {
                peers: vec![PeerAddr::Tcp(seeder.tcp_addr().unwrap())],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), got.wait_complete())
        .await
        .unwrap()
        .unwrap();
    assert_same_tree(&share, &d.path().join("l/dl/zines"));
    leecher.shutdown().await;
    seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_found_through_an_http_tracker() {
    use swarm::tracker::server::TrackerServer;
    let d = tempfile::tempdir().unwrap();
    let share = make_share(d.path());
    let (tracker, url) = TrackerServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let seeder = Session::new(config(&d.path().join("s"))).await.unwrap();
    let shared = seeder
        .share_path(
            &share,
            AddOptions {
                trackers: vec![url.clone()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // The seeder announces itself.
    let t0 = std::time::Instant::now();
    while tracker.num_peers(&shared.info_hashes().wire_id()) == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "seeder never announced"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The leecher knows no peer, only the tracker (from the magnet's tr=).
    let magnet = shared.magnet();
    assert!(magnet.contains("tr="), "{magnet}");
    let leecher = Session::new(config(&d.path().join("l"))).await.unwrap();
    let got = leecher
        .add_magnet(&magnet, AddOptions::default())
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), got.wait_complete())
        .await
        .unwrap()
        .unwrap();
    assert_same_tree(&share, &d.path().join("l/dl/zines"));
    leecher.shutdown().await;
    seeder.shutdown().await;
    // Both said goodbye (event=stopped).
    assert_eq!(tracker.num_peers(&shared.info_hashes().wire_id()), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_garbage_connections_do_not_block_peers() {
    use tokio::io::AsyncWriteExt;
    let d = tempfile::tempdir().unwrap();
    let share = make_share(d.path());
    let seeder = Session::new(config(&d.path().join("s"))).await.unwrap();
    let shared = seeder
        .share_path(&share, AddOptions::default())
        .await
        .unwrap();
    let tcp = seeder.tcp_addr().unwrap();
    // Connections that say nothing, and one that speaks HTTP.
    let mut junk = Vec::new();
    for _ in 0..10 {
        junk.push(tokio::net::TcpStream::connect(tcp).await.unwrap());
    }
    let mut g = tokio::net::TcpStream::connect(tcp).await.unwrap();
    g.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    // A QUIC endpoint that never opens a stream.
    let id = std::sync::Arc::new(swarm::net::Identity::generate().unwrap());
    let q = swarm::net::QuicEndpoint::bind("127.0.0.1:0".parse().unwrap(), id).unwrap();
    let stall = tokio::spawn({
        let q = q.clone();
        let a = seeder.quic_addr().unwrap();
        async move { q.connect(a, None).await }
    });
    let leecher = Session::new(config(&d.path().join("l"))).await.unwrap();
    let got = leecher
        .add_magnet(
            &shared.magnet(),
            AddOptions {
                peers: vec![PeerAddr::Quic(seeder.quic_addr().unwrap())],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), got.wait_complete())
        .await
        .unwrap()
        .unwrap();
    assert_same_tree(&share, &d.path().join("l/dl/zines"));
    stall.abort();
    leecher.shutdown().await;
    seeder.shutdown().await;
}
