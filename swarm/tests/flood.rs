//! Issue 14 #4 on real sockets: junk connections that never finish (or
//! never start) their handshake do not keep a real download out.
//!
//! The junk comes from other loopback addresses (127.0.0.2, 127.0.0.3) than
//! the honest leecher (127.0.0.1), as other hosts on a LAN would.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use piece_core::create::{create_torrent, CreateOptions};
use swarm::discovery::catalogue;
use swarm::net::PeerAddr;
use swarm::session::{AddOptions, LanOptions, Session, SessionConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn cfg(dir: &std::path::Path) -> SessionConfig {
    SessionConfig {
        listen_tcp: Some("127.0.0.1:0".parse().unwrap()),
        listen_quic: None,
        download_dir: dir.into(),
        state_dir: None,
        ..Default::default()
    }
}

/// One junk connection from `from`, renewed `pause` after the seeder
/// closes it, until `stop`: it sends `first` (maybe nothing) and then
/// nothing.
async fn junk(
    from: IpAddr,
    to: SocketAddr,
    first: &'static [u8],
    pause: Duration,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        let s = tokio::net::TcpSocket::new_v4().unwrap();
        if s.bind(SocketAddr::new(from, 0)).is_err() {
            return;
        }
        let Ok(Ok(mut c)) = tokio::time::timeout(Duration::from_secs(5), s.connect(to)).await
        else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let _ = c.write_all(first).await;
        let mut b = [0u8; 256];
        // until the seeder closes it (or the test ends)
        loop {
            match tokio::time::timeout(Duration::from_millis(500), c.read(&mut b)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                _ if stop.load(Ordering::Relaxed) => return,
                _ => {}
            }
        }
        tokio::time::sleep(pause).await;
    }
}

/// The half handshake junk sends: the protocol string, then nothing.
const HALF: &[u8] = b"\x13BitTorrent protocol\0\0\0\0";

/// A seeder on 127.0.0.1 of a 2 MiB file (also in its LAN catalogue), and
/// a leecher that downloads it while `attack` runs (started with the
/// seeder's address a second before); the download's outcome within
/// `limit`, and how many of `queries` honest catalogue queries (from
/// 127.0.0.1, after the download, while the attack goes on) were answered.
async fn download_under<F>(attack: F, limit: Duration, queries: usize) -> Result<usize, String>
where
    F: FnOnce(SocketAddr, Arc<AtomicBool>) -> Vec<tokio::task::JoinHandle<()>>,
{
    swarm::session::raise_file_limit();
    let dir = tempfile::tempdir().unwrap();
    let (src, out) = (dir.path().join("src"), dir.path().join("out"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    let file = src.join("zine.pdf");
    std::fs::write(&file, swarm::sim::content(2 * 1024 * 1024, 14)).unwrap();
    let made = create_torrent(&file, &CreateOptions::default(), None).unwrap();
    let torrent = dir.path().join("zine.torrent");
    std::fs::write(&torrent, &made.bytes).unwrap();

    let seeder = Session::new(cfg(&src)).await.unwrap();
    let shared = seeder
        .add_torrent_file(
            &torrent,
            AddOptions {
                save_dir: Some(src.clone()),
                seed: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut lan = LanOptions::new("flooded");
    (lan.mdns, lan.lsd) = (false, false);
    let lan = seeder.start_lan(lan).unwrap();
    lan.share(&shared).unwrap();
    let to = seeder.tcp_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = attack(to, stop.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;

    let leecher = Session::new(cfg(&out)).await.unwrap();
    let h = leecher
        .add_torrent_file(
            &torrent,
            AddOptions {
                peers: vec![PeerAddr::Tcp(to)],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let done = tokio::time::timeout(limit, h.wait_complete()).await;
    let mut answered = 0;
    for _ in 0..queries {
        if let Ok(c) = catalogue::query(to, Duration::from_secs(10)).await {
            answered += usize::from(c.shares.len() == 1);
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    match done {
        Ok(Ok(())) => {}
        other => return Err(format!("{other:?}")),
    }
    assert_eq!(
        std::fs::read(out.join("zine.pdf")).unwrap(),
        std::fs::read(&file).unwrap()
    );
    Ok(answered)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_half_handshake_floods_leave_room_for_a_download() {
    // 300 idle sockets and 100 half handshakes, each renewed when closed
    let attack = |to, stop: Arc<AtomicBool>| {
        (0..400)
            .map(|i| {
                let (from, first): (IpAddr, &'static [u8]) = if i < 300 {
                    ([127, 0, 0, 2].into(), b"")
                } else {
                    ([127, 0, 0, 3].into(), HALF)
                };
                tokio::spawn(junk(from, to, first, Duration::ZERO, stop.clone()))
            })
            .collect()
    };
    let done = download_under(attack, Duration::from_secs(120), 0).await;
    assert!(done.is_ok(), "download under a flood: {done:?}");
}

/// Issue 14 #4: 70 half handshakes from the leecher's own IP (a host
/// behind the same address, or the same host), each renewed a second
/// after the seeder closes it. Before, they held all 16 places of that IP
/// at the gate and the leecher's one dial was refused (it never completed);
/// now a newcomer evicts the oldest stalled handshake of its IP, and a dial
/// closed before its handshake is tried again (`proto::dials`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_handshakes_from_the_same_ip_do_not_refuse_a_peer() {
    let attack = |to, stop: Arc<AtomicBool>| {
        (0..70)
            .map(|_| {
                let from = [127, 0, 0, 1].into();
                tokio::spawn(junk(from, to, HALF, Duration::from_secs(1), stop.clone()))
            })
            .collect()
    };
    let done = download_under(attack, Duration::from_secs(60), 0).await;
    assert!(
        done.is_ok(),
        "download beside 70 stalled handshakes: {done:?}"
    );
}

/// Issue 14 #4: "the catalogue answered 64 of 200 queries". 200 catalogue
/// queries at once, each repeated every half second, from 127.0.0.2 and 70 stalled
/// handshakes from 127.0.0.1: a download from 127.0.0.1 completes and 20
/// honest catalogue queries from 127.0.0.1 are all answered meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalogue_queries_are_answered_under_a_flood() {
    let attack = |to: SocketAddr, stop: Arc<AtomicBool>| {
        let mut tasks: Vec<_> = (0..70)
            .map(|_| {
                let from = [127, 0, 0, 1].into();
                tokio::spawn(junk(from, to, HALF, Duration::from_secs(1), stop.clone()))
            })
            .collect();
        tasks.extend((0..200).map(|_| {
            let stop = stop.clone();
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let s = tokio::net::TcpSocket::new_v4().unwrap();
                    if s.bind(SocketAddr::from(([127, 0, 0, 2], 0))).is_err() {
                        return;
                    }
                    if let Ok(Ok(mut c)) =
                        tokio::time::timeout(Duration::from_secs(5), s.connect(to)).await
                    {
                        let q = catalogue::query_on(&mut c);
                        let _ = tokio::time::timeout(Duration::from_secs(5), q).await;
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            })
        }));
        tasks
    };
    let done = download_under(attack, Duration::from_secs(60), 20).await;
    assert_eq!(done, Ok(20), "download and catalogue under a flood");
}
