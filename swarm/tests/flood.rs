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
use swarm::net::PeerAddr;
use swarm::session::{AddOptions, Session, SessionConfig};
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

/// One junk connection from `from`, renewed as soon as the seeder closes
/// it, until `stop`: it sends `first` (maybe nothing) and then nothing.
async fn junk(from: IpAddr, to: SocketAddr, first: &'static [u8], stop: Arc<AtomicBool>) {
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
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_half_handshake_floods_leave_room_for_a_download() {
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
    seeder
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
    let to = seeder.tcp_addr().unwrap();
    // 300 idle sockets and 100 half handshakes, each renewed when closed
    let stop = Arc::new(AtomicBool::new(false));
    let half: &'static [u8] = b"\x13BitTorrent protocol\0\0\0\0";
    let mut tasks = Vec::new();
    for i in 0..400 {
        let (from, first): (IpAddr, &'static [u8]) = if i < 300 {
            ([127, 0, 0, 2].into(), b"")
        } else {
            ([127, 0, 0, 3].into(), half)
        };
        tasks.push(tokio::spawn(junk(from, to, first, stop.clone())));
    }
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
    let done = tokio::time::timeout(Duration::from_secs(120), h.wait_complete()).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    assert!(
        matches!(done, Ok(Ok(()))),
        "download under a flood: {done:?}"
    );
    assert_eq!(
        std::fs::read(out.join("zine.pdf")).unwrap(),
        std::fs::read(&file).unwrap()
    );
}
