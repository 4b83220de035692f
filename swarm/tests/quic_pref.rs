//! Two swarm peers prefer QUIC when both offer it (real sockets on
//! 127.0.0.1).
//!
//! - given only the seeder's TCP address, the leecher moves to QUIC
//!   (`swarm_quic` in the extension handshake) and finishes there: the
//!   TCP connection is closed as a duplicate, nobody is banned, and each
//!   side counts one peer;
//! - with QUIC off on either side, the transfer completes over TCP;
//! - a swarm peer known by both addresses is dialled over QUIC first, and
//!   over TCP when its QUIC address does not answer;
//! - the TCP address of a peer reached over QUIC is not dialled.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use swarm::net::PeerAddr;
use swarm::proto::{TorrentConfig, TransportKind};
use swarm::session::{AddOptions, PeerInfo, Session, SessionConfig, TorrentEvent, TorrentHandle};
use tokio::sync::broadcast;

fn lo() -> Option<SocketAddr> {
    Some("127.0.0.1:0".parse().unwrap())
}

fn config(dir: &Path, quic: bool) -> SessionConfig {
    SessionConfig {
        listen_tcp: lo(),
        listen_quic: if quic { lo() } else { None },
        download_dir: dir.join("dl"),
        state_dir: None,
        ..Default::default()
    }
}

/// A seeder config whose uploads last a few seconds, so that the download
/// is still running when the peers have moved to QUIC.
fn slow_seeder(dir: &Path) -> SessionConfig {
    SessionConfig {
        torrent: TorrentConfig {
            upload_rate_limit: Some(1024 * 1024),
            ..Default::default()
        },
        ..config(dir, true)
    }
}

/// A folder with one file of pseudo-random bytes.
fn make_share(root: &Path, len: usize) -> PathBuf {
    let share = root.join("zines");
    std::fs::create_dir_all(&share).unwrap();
    let mut x = 0x9e37_79b9u32;
    let data: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    std::fs::write(share.join("book.pdf"), data).unwrap();
    share
}

fn assert_same(share: &Path, dl: &Path) {
    let a = std::fs::read(share.join("book.pdf")).unwrap();
    let b = std::fs::read(dl.join("zines/book.pdf")).unwrap();
    assert!(a == b, "downloaded bytes differ");
}

/// Every event received so far.
fn drain(ev: &mut broadcast::Receiver<TorrentEvent>) -> Vec<TorrentEvent> {
    std::iter::from_fn(|| ev.try_recv().ok()).collect()
}

fn transports(evs: &[TorrentEvent]) -> Vec<TransportKind> {
    evs.iter()
        .filter_map(|e| match e {
            TorrentEvent::PeerConnected { transport, .. } => Some(*transport),
            _ => None,
        })
        .collect()
}

fn no_bans(evs: &[TorrentEvent]) {
    assert!(
        !evs.iter()
            .any(|e| matches!(e, TorrentEvent::PeerBanned { .. })),
        "{evs:?}"
    );
}

/// Polls `h.peers()` (bounded) until `want` holds; returns that snapshot.
async fn wait_peers(h: &TorrentHandle, want: impl Fn(&[PeerInfo]) -> bool) -> Vec<PeerInfo> {
    let mut last = Vec::new();
    for _ in 0..400 {
        last = h.peers().await;
        if want(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("peers never reached the wanted state; last: {last:?}");
}

fn one_quic(p: &[PeerInfo]) -> bool {
    matches!(p, [one] if one.transport == TransportKind::Quic)
}

/// A session sharing a `len`-byte file: (session, handle, shared folder).
async fn start_seeder(
    root: &Path,
    cfg: SessionConfig,
    len: usize,
) -> (Session, TorrentHandle, PathBuf) {
    let share = make_share(root, len);
    let s = Session::new(cfg).await.unwrap();
    let h = s.share_path(&share, AddOptions::default()).await.unwrap();
    (s, h, share)
}

/// Adds `magnet` paused (the caller resumes it), with `peers`; returns the
/// handle and its events from the start.
async fn leech(
    s: &Session,
    magnet: &str,
    peers: Vec<PeerAddr>,
) -> (TorrentHandle, broadcast::Receiver<TorrentEvent>) {
    let opts = AddOptions {
        peers,
        paused: true,
        ..Default::default()
    };
    let h = s.add_magnet(magnet, opts).await.unwrap();
    let ev = h.events();
    (h, ev)
}

/// Resumes `h`, waits (bounded) until it completes, returns its events.
async fn finish(h: &TorrentHandle, mut ev: broadcast::Receiver<TorrentEvent>) -> Vec<TorrentEvent> {
    h.resume().await;
    tokio::time::timeout(Duration::from_secs(60), h.wait_complete())
        .await
        .expect("download timed out")
        .unwrap();
    let evs = drain(&mut ev);
    no_bans(&evs);
    evs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_peer_moves_to_quic_and_downloads_there() {
    let d = tempfile::tempdir().unwrap();
    // 4 MiB at 1 MiB/s: the download outlasts the move to QUIC.
    let (seeder, shared, share) =
        start_seeder(d.path(), slow_seeder(&d.path().join("s")), 4 << 20).await;
    let mut seed_ev = shared.events();
    let leecher = Session::new(config(&d.path().join("l"), true))
        .await
        .unwrap();
    let tcp = seeder.tcp_addr().unwrap();
    let (got, ev) = leech(&leecher, &shared.magnet(), vec![PeerAddr::Tcp(tcp)]).await;
    let done = tokio::spawn({
        let got = got.clone();
        async move { finish(&got, ev).await }
    });
    // While downloading: one connection on each side, over QUIC.
    let mine = wait_peers(&got, one_quic).await;
    assert_eq!(mine[0].addr, seeder.quic_addr().unwrap());
    let theirs = wait_peers(&shared, one_quic).await;
    assert_eq!(theirs[0].addr, leecher.quic_addr().unwrap());
    let p = got.progress();
    assert_eq!(p.peers, 1, "one peer, not two: {p:?}");
    let evs = done.await.unwrap();
    // TCP first (the only address given), then QUIC, before completion.
    let complete = evs
        .iter()
        .position(|e| matches!(e, TorrentEvent::Complete))
        .expect("complete event");
    assert_eq!(
        transports(&evs[..complete]),
        vec![TransportKind::Tcp, TransportKind::Quic],
        "{evs:?}"
    );
    let sevs = drain(&mut seed_ev);
    assert_eq!(
        transports(&sevs),
        vec![TransportKind::Tcp, TransportKind::Quic],
        "{sevs:?}"
    );
    no_bans(&sevs);
    assert_same(&share, &d.path().join("l/dl"));
    leecher.shutdown().await;
    seeder.shutdown().await;
}

/// One transfer given the seeder's TCP address; returns the leecher's
/// PeerConnected transports.
async fn tcp_only_transfer(seeder_quic: bool, leecher_quic: bool) -> Vec<TransportKind> {
    let d = tempfile::tempdir().unwrap();
    let cfg = config(&d.path().join("s"), seeder_quic);
    let (seeder, shared, share) = start_seeder(d.path(), cfg, 1 << 20).await;
    assert_eq!(seeder.quic_addr().is_some(), seeder_quic);
    let mut seed_ev = shared.events();
    let leecher = Session::new(config(&d.path().join("l"), leecher_quic))
        .await
        .unwrap();
    let tcp = PeerAddr::Tcp(seeder.tcp_addr().unwrap());
    let (got, ev) = leech(&leecher, &shared.magnet(), vec![tcp]).await;
    let evs = finish(&got, ev).await;
    assert_same(&share, &d.path().join("l/dl"));
    no_bans(&drain(&mut seed_ev));
    leecher.shutdown().await;
    seeder.shutdown().await;
    transports(&evs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_quic_on_either_side_the_transfer_stays_on_tcp() {
    // The leecher has no QUIC: it ignores the seeder's offer.
    assert_eq!(
        tcp_only_transfer(true, false).await,
        vec![TransportKind::Tcp]
    );
    // The seeder has no QUIC: nothing is offered.
    assert_eq!(
        tcp_only_transfer(false, true).await,
        vec![TransportKind::Tcp]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_peer_is_dialled_over_quic_first_with_tcp_fallback() {
    let d = tempfile::tempdir().unwrap();
    let cfg = config(&d.path().join("s"), true);
    let (seeder, shared, share) = start_seeder(d.path(), cfg, 1 << 20).await;
    let (tcp, quic) = (seeder.tcp_addr().unwrap(), seeder.quic_addr().unwrap());

    // QUIC works: only QUIC is used. The TCP address given with it is a
    // listener of ours, to see that nothing dials it, not even a later
    // hint with that address (tracker, LSD).
    let decoy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    decoy.set_nonblocking(true).unwrap();
    let decoy_addr = decoy.local_addr().unwrap();
    let l1 = Session::new(config(&d.path().join("l1"), true))
        .await
        .unwrap();
    let (got, ev) = leech(&l1, &shared.magnet(), Vec::new()).await;
    got.add_swarm_peer(decoy_addr, quic).await;
    got.add_peer(PeerAddr::Tcp(decoy_addr)).await;
    let evs = finish(&got, ev).await;
    assert_eq!(transports(&evs), vec![TransportKind::Quic], "{evs:?}");
    match decoy.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the TCP address was dialled: {other:?}"),
    }
    assert_same(&share, &d.path().join("l1/dl"));
    l1.shutdown().await;

    // The QUIC address is a UDP socket that never answers: TCP after the
    // fallback delay.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dead = silent.local_addr().unwrap();
    let l2 = Session::new(config(&d.path().join("l2"), true))
        .await
        .unwrap();
    let (got, ev) = leech(&l2, &shared.magnet(), Vec::new()).await;
    got.add_swarm_peer(tcp, dead).await;
    let evs = finish(&got, ev).await;
    // The first connection is the TCP fallback (the seeder then offers
    // its real QUIC port, which the leecher may move to).
    let first = evs
        .iter()
        .find_map(|e| match e {
            TorrentEvent::PeerConnected { addr, transport } => Some((*addr, *transport)),
            _ => None,
        })
        .expect("a peer connected");
    assert_eq!(first, (tcp, TransportKind::Tcp), "{evs:?}");
    assert!(
        !evs.iter()
            .any(|e| matches!(e, TorrentEvent::PeerConnected { addr, .. } if *addr == dead)),
        "{evs:?}"
    );
    assert_same(&share, &d.path().join("l2/dl"));
    l2.shutdown().await;
    seeder.shutdown().await;
}
