//! Trackers with real parts on 127.0.0.1: swarm's tracker client against
//! opentracker (Debian's, UDP and HTTP on one port, whitelist mode), and
//! libtorrent announcing to opentracker and to swarm's UDP test tracker,
//! with swarm then downloading from libtorrent through the tracker alone.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use swarm::session::{AddOptions, Session};
use swarm::tracker::udp_server::UdpTrackerServer;
use swarm::tracker::{AnnounceOptions, AnnounceRequest, Client, Event, TrackerError, UdpError};

use super::clients::{fixture, Fixture};
use super::lt::{have_libtorrent, lt_seed};
use super::{assert_collection, free_port, require, swarm_config, swarm_wait_complete, Proc};

/// opentracker on `port` of 127.0.0.1 (TCP and UDP), accepting only
/// `hashes`; running once it answers an announce.
async fn opentracker(dir: &Path, hashes: &[[u8; 20]], port: u16) -> Proc {
    let root = dir.join("opentracker");
    std::fs::create_dir_all(&root).unwrap();
    let list: String = hashes.iter().map(|h| hex::encode(h) + "\n").collect();
    std::fs::write(root.join("whitelist.txt"), list).unwrap();
    // it chroots to `root` and drops to `nobody`, who must read the list
    use std::os::unix::fs::PermissionsExt;
    for p in [dir, &root] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut cmd = Command::new("opentracker");
    cmd.args([
        "-i",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-P",
        &port.to_string(),
    ])
    .args(["-w", "/whitelist.txt", "-u", "nobody", "-d"])
    .arg(&root);
    let mut p = Proc::spawn("opentracker", &mut cmd, dir);
    let url = format!("http://127.0.0.1:{port}/announce");
    let probe = AnnounceRequest {
        info_hash: hashes[0],
        peer_id: [0xee; 20],
        port: 9,
        uploaded: 0,
        downloaded: 0,
        left: 1,
        event: Event::Stopped,
        numwant: Some(0),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while swarm::tracker::announce(&url, &probe).await.is_err() {
        p.assert_running();
        assert!(Instant::now() < deadline, "opentracker never answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    p
}

fn have_opentracker() -> bool {
    require("opentracker", &["sh", "-c", "command -v opentracker"])
}

fn req(id: u8, port: u16, left: u64) -> AnnounceRequest {
    AnnounceRequest {
        info_hash: [0xab; 20],
        peer_id: [id; 20],
        port,
        uploaded: 0,
        downloaded: 0,
        left,
        event: Event::Started,
        numwant: Some(50),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opentracker_answers_swarm_over_udp_and_http() {
    if !have_opentracker() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let port = free_port();
    let _ot = opentracker(d.path(), &[[0xab; 20]], port).await;
    let udp = format!("udp://127.0.0.1:{port}/announce");
    let http = format!("http://127.0.0.1:{port}/announce");
    let mut c = Client::new(AnnounceOptions::default());
    c.announce(&udp, &req(1, 1111, 0)).await.unwrap();
    let b = c.announce(&udp, &req(2, 2222, 5)).await.unwrap();
    assert!(
        b.peers.contains(&"127.0.0.1:1111".parse().unwrap()),
        "{b:?}"
    );
    assert!(b.interval > 0);
    // the same swarm over HTTP
    let h = c.announce(&http, &req(3, 3333, 5)).await.unwrap();
    for p in ["127.0.0.1:1111", "127.0.0.1:2222"] {
        assert!(h.peers.contains(&p.parse().unwrap()), "{h:?}");
    }
    let s = c.scrape_udp(&udp, &[[0xab; 20]]).await.unwrap();
    assert_eq!((s[0].seeders, s[0].leechers), (1, 2), "{s:?}");
    // a torrent not on its whitelist: over HTTP a failure reason; over
    // UDP opentracker sends a bare 8-byte announce header, refused as such
    let mut other = req(4, 4444, 5);
    other.info_hash = [0xcd; 20];
    let e = c.announce(&http, &other).await.unwrap_err();
    assert!(matches!(e, TrackerError::Failure(_)), "{e:?}");
    let e = c.announce(&udp, &other).await.unwrap_err();
    assert!(
        matches!(
            e,
            TrackerError::BadUdp(UdpError::TooShort { action: 1, len: 8 })
        ),
        "{e:?}"
    );
    // the connection id still works after that
    c.announce(&udp, &req(1, 1111, 0)).await.unwrap();
}

/// libtorrent seeds `torrent`; swarm, given no peer, finds it through the
/// torrent's tracker and downloads.
async fn swarm_from_libtorrent(dir: &Path, fx: &Fixture) {
    let (mut lt, _, _) = lt_seed(&fx.torrent, &fx.src, dir).await;
    let s = Session::new(swarm_config(&dir.join("swarm")))
        .await
        .unwrap();
    let h = s
        .add_torrent_file(&fx.torrent, AddOptions::default())
        .await
        .unwrap();
    swarm_wait_complete(&h, None, &mut [&mut lt]).await;
    assert_collection(&dir.join("swarm/dl"), &fx.files, "libtorrent via tracker");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_downloads_from_libtorrent_found_via_opentracker_udp() {
    if !have_opentracker() || !have_libtorrent() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    // the torrent names the port; opentracker's whitelist names the torrent
    let port = free_port();
    let fx = fixture(d.path(), &format!("udp://127.0.0.1:{port}/announce"));
    let _ot = opentracker(d.path(), &[fx.info_hash], port).await;
    swarm_from_libtorrent(d.path(), &fx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libtorrent_announces_to_the_udp_test_tracker() {
    if !have_libtorrent() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let (tracker, url) = UdpTrackerServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let fx = fixture(d.path(), &url);
    swarm_from_libtorrent(d.path(), &fx).await;
    // libtorrent and swarm announced their listening ports over UDP
    assert!(tracker.announces() >= 2);
    let peers: Vec<SocketAddr> = tracker.peers(&fx.info_hash);
    assert!(!peers.is_empty(), "{peers:?}");
}
