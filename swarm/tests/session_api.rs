//! The embedding API as an app uses it: handles, typed errors, events,
//! completion waits.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use piece_core::create::{create_torrent, CreateOptions};
use swarm::{AddOptions, PeerAddr, Session, SessionConfig, SessionError, TorrentEvent};

fn lo() -> Option<SocketAddr> {
    Some("127.0.0.1:0".parse().unwrap())
}

fn config(dir: &Path) -> SessionConfig {
    SessionConfig {
        listen_tcp: lo(),
        listen_quic: lo(),
        download_dir: dir.join("dl"),
        state_dir: None,
        ..Default::default()
    }
}

/// A seedbox publishing versions of a collection: each new version is
/// added and the old one removed. The session holds only the latest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_handles_leave_the_session() {
    let d = tempfile::tempdir().unwrap();
    let session = Session::new(lo_config(d.path())).await.unwrap();
    let file = d.path().join("catalogue.txt");
    let mut old = None;
    for v in 0..1_000u32 {
        std::fs::write(&file, format!("version {v}\n")).unwrap();
        let created = create_torrent(&file, &CreateOptions::default(), None).unwrap();
        let opts = AddOptions {
            save_dir: Some(d.path().to_path_buf()),
            ..Default::default()
        };
        let h = session.seed_created(created.bytes, opts).await.unwrap();
        if let Some(o) = old.replace(h) {
            o.remove().await;
        }
    }
    let left = session.torrents();
    assert_eq!(left.len(), 1, "the session still holds {}", left.len());
    assert_eq!(
        left[0].info_hashes(),
        old.as_ref().unwrap().info_hashes(),
        "the one left is the latest version"
    );
    session.shutdown().await;
}

fn lo_config(dir: &Path) -> SessionConfig {
    SessionConfig {
        listen_quic: None,
        ..config(dir)
    }
}

/// Pseudo-random bytes, repeatable.
fn bytes(n: usize, mut x: u32) -> Vec<u8> {
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// A file of `n` bytes in `dir` and its .torrent.
fn one_file(dir: &Path, n: usize) -> (std::path::PathBuf, Vec<u8>) {
    let f = dir.join("book.pdf");
    std::fs::write(&f, bytes(n, 0x9e37_79b9)).unwrap();
    let opts = CreateOptions {
        piece_length: Some(32 * 1024),
        ..Default::default()
    };
    (f.clone(), create_torrent(&f, &opts, None).unwrap().bytes)
}

/// Seeds `torrent` from the data in `dir`.
async fn seed_on_disk(session: &Session, dir: &Path, torrent: &[u8]) -> swarm::TorrentHandle {
    let opts = AddOptions {
        seed: true,
        save_dir: Some(dir.to_path_buf()),
        ..Default::default()
    };
    session.add_torrent_bytes(torrent, opts).await.unwrap()
}

/// Seeding from a custom storage that holds none of the data: a typed
/// error, and nothing is left in the session (it used to answer Ok and
/// seed 0 pieces).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeding_incomplete_data_is_a_typed_error() {
    let d = tempfile::tempdir().unwrap();
    let (_, torrent) = one_file(d.path(), 300_000);
    let session = Session::new(lo_config(d.path())).await.unwrap();
    let empty: swarm::StorageFactory = std::sync::Arc::new(|_, meta: &swarm::Metainfo, _| {
        Ok(std::sync::Arc::new(
            piece_core::storage::MemoryStorage::new(meta.info.layout.clone()),
        ))
    });
    let r = session
        .add_torrent_bytes(
            &torrent,
            AddOptions {
                seed: true,
                storage: Some(empty),
                ..Default::default()
            },
        )
        .await;
    match r {
        Err(SessionError::IncompleteData { have: 0, total: 10 }) => {}
        other => panic!("expected IncompleteData, got {other:?}"),
    }
    assert!(session.torrents().is_empty());
    // The same data on disk seeds.
    let h = seed_on_disk(&session, d.path(), &torrent).await;
    assert!(h.progress().complete);
    session.shutdown().await;
}

/// A peer that refuses the connection gives an event, and a completion
/// wait with a limit returns instead of waiting forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dial_failures_are_events_and_waits_time_out() {
    let d = tempfile::tempdir().unwrap();
    let (_, torrent) = one_file(d.path(), 100_000);
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let session = Session::new(lo_config(d.path())).await.unwrap();
    let h = session
        .add_torrent_bytes(
            &torrent,
            AddOptions {
                save_dir: Some(d.path().join("dl")),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut ev = h.events();
    h.add_peer(PeerAddr::Tcp(dead)).await;
    let got = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match ev.recv().await {
                Ok(TorrentEvent::DialFailed { addr, error }) => break (addr, error),
                Ok(_) => {}
                Err(e) => panic!("events ended: {e}"),
            }
        }
    })
    .await
    .expect("no DialFailed event within 60 s");
    assert_eq!(got.0, dead);
    assert!(
        matches!(*got.1, swarm::NetError::Connect { addr, .. } if addr == dead),
        "{:?}",
        got.1
    );
    match h.wait_complete_timeout(Duration::from_millis(300)).await {
        Err(SessionError::Timeout(t)) => assert_eq!(t, Duration::from_millis(300)),
        other => panic!("expected a timeout, got {other:?}"),
    }
    session.shutdown().await;
}

/// A fast loopback transfer: the rate at completion is not 0, both sides
/// see the disconnect when the leecher leaves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rates_and_disconnects_on_a_fast_transfer() {
    let d = tempfile::tempdir().unwrap();
    let (_, torrent) = one_file(d.path(), 2_000_000);
    let seeder = Session::new(lo_config(&d.path().join("s"))).await.unwrap();
    let s = seed_on_disk(&seeder, d.path(), &torrent).await;
    let mut seeder_events = s.events();
    let leecher = Session::new(lo_config(&d.path().join("l"))).await.unwrap();
    let l = leecher
        .add_torrent_bytes(
            &torrent,
            AddOptions {
                peers: vec![PeerAddr::Tcp(seeder.tcp_addr().unwrap())],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    l.wait_complete_timeout(Duration::from_secs(120))
        .await
        .unwrap();
    let p = l.progress();
    assert!(p.downloaded >= 2_000_000, "{p:?}");
    assert!(
        p.download_rate > 0,
        "download_rate reads 0 at completion: {p:?}"
    );
    l.remove().await;
    let gone = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match seeder_events.recv().await {
                Ok(TorrentEvent::PeerDisconnected { addr, .. }) => break addr,
                Ok(_) => {}
                Err(e) => panic!("events ended: {e}"),
            }
        }
    })
    .await
    .expect("the seeder saw no PeerDisconnected within 60 s");
    assert!(gone.ip().is_loopback());
    leecher.shutdown().await;
    seeder.shutdown().await;
}

/// An error chain names each cause once ("x.torrent: No such file or
/// directory (os error 2)", not the OS error twice).
#[tokio::test]
async fn error_chains_do_not_repeat_their_source() {
    let d = tempfile::tempdir().unwrap();
    let session = Session::new(lo_config(d.path())).await.unwrap();
    let e = session
        .add_torrent_file(&d.path().join("missing.torrent"), AddOptions::default())
        .await
        .unwrap_err();
    let chain = swarm::ErrorChain(&e).to_string();
    assert_eq!(chain.matches("os error 2").count(), 1, "{chain}");
    assert!(chain.contains("missing.torrent"), "{chain}");
    // a storage error wrapped twice
    let st = piece_core::storage::StorageError::Io {
        path: "a.pdf".into(),
        source: std::io::Error::from_raw_os_error(2),
    };
    let e = SessionError::from(st);
    let chain = swarm::ErrorChain(&e).to_string();
    assert_eq!(chain.matches("os error 2").count(), 1, "{chain}");
    assert_eq!(chain.matches("a.pdf").count(), 1, "{chain}");
    session.shutdown().await;
}

/// LAN presence is a library call: the guard lists the share in the
/// catalogue the session answers on its TCP port, and dropping it stops
/// that. Multicast parts off here (the netns tests cover them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lan_presence_is_a_guard() {
    use swarm::discovery::catalogue;
    use swarm::session::{LanError, LanOptions};
    let d = tempfile::tempdir().unwrap();
    let (_, torrent) = one_file(d.path(), 100_000);
    let session = Session::new(lo_config(d.path())).await.unwrap();
    let h = seed_on_disk(&session, d.path(), &torrent).await;
    let mut opts = LanOptions::new("books");
    opts.mdns = false;
    opts.lsd = false;
    let lan = session.start_lan(opts.clone()).unwrap();
    assert!(lan.problems().is_empty());
    lan.share(&h).unwrap();
    let addr = session.tcp_addr().unwrap();
    let cat = catalogue::query(addr, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(cat.shares.len(), 1);
    assert_eq!(cat.shares[0].name, "book.pdf");
    assert_eq!(cat.shares[0].size, 100_000);
    assert_eq!(cat.shares[0].info_hashes, h.info_hashes());
    drop(lan);
    assert!(
        catalogue::query(addr, Duration::from_secs(5))
            .await
            .is_err(),
        "still answering after the guard was dropped"
    );
    // no TCP listener: nothing to announce
    let quiet = Session::new(SessionConfig {
        listen_tcp: None,
        ..lo_config(&d.path().join("q"))
    })
    .await
    .unwrap();
    assert!(matches!(quiet.start_lan(opts), Err(LanError::NoListener)));
    session.shutdown().await;
}

/// A storage that is not on disk (its `check_files` reports nothing) but
/// holds all the data: seeding checks the data and seeds every piece (it
/// seeded 0 and said nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storage_not_on_disk_is_checked_and_seeds() {
    use piece_core::storage::{FileState, MemoryStorage, Storage, StorageError};
    use piece_core::PieceIndex;
    struct NotOnDisk(MemoryStorage);
    impl Storage for NotOnDisk {
        fn layout(&self) -> &piece_core::Layout {
            self.0.layout()
        }
        fn read(&self, p: PieceIndex, o: u32, b: &mut [u8]) -> Result<(), StorageError> {
            self.0.read(p, o, b)
        }
        fn write(&self, p: PieceIndex, o: u32, d: &[u8]) -> Result<(), StorageError> {
            self.0.write(p, o, d)
        }
        fn flush(&self) -> Result<(), StorageError> {
            Ok(())
        }
        fn check_files(&self) -> Vec<FileState> {
            Vec::new()
        }
    }
    let d = tempfile::tempdir().unwrap();
    let (file, torrent) = one_file(d.path(), 300_000);
    let data = std::fs::read(file).unwrap();
    let session = Session::new(lo_config(d.path())).await.unwrap();
    let factory: swarm::StorageFactory =
        std::sync::Arc::new(move |_, meta: &swarm::Metainfo, _| {
            let m = MemoryStorage::new(meta.info.layout.clone());
            let lengths = meta.info.layout.lengths();
            for p in lengths.pieces() {
                let at = lengths.piece_offset(p) as usize;
                let len = lengths.piece_len(p) as usize;
                m.write(p, 0, &data[at..at + len]).unwrap();
            }
            Ok(std::sync::Arc::new(NotOnDisk(m)))
        });
    let h = session
        .add_torrent_bytes(
            &torrent,
            AddOptions {
                seed: true,
                storage: Some(factory),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let p = h.progress();
    assert!(p.complete && p.have_pieces == 10, "{p:?}");
    session.shutdown().await;
}
