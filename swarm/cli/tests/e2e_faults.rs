//! Fault tests on 127.0.0.1: a leecher process killed with SIGKILL and
//! restarted, a seeder whose file is truncated under it, a full disk.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use piece_core::metainfo::Metainfo;
use piece_core::storage::{FaultConfig, FaultStorage, MmapStorage, OpenMode, Storage};
use swarm::net::PeerAddr;
use swarm::session::{AddOptions, Session, SessionConfig, StorageFactory, TorrentEvent};

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

fn data(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn swarm_get(magnet: &str, dir: &Path, peer: SocketAddr) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_swarm"));
    c.args(["get", magnet, "-o"])
        .arg(dir.join("dl"))
        .arg("--state-dir")
        .arg(dir.join("state"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--quic-listen",
            "127.0.0.1:0",
            "--peer",
        ])
        .arg(peer.to_string())
        .stdin(Stdio::null());
    c
}

fn resume_have(path: &Path) -> Option<u32> {
    swarm::resume::load(path)
        .ok()
        .flatten()?
        .bitfield()
        .map(|b| b.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_leecher_resumes_without_redownloading() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("big.bin");
    let bytes = data(4 << 20, 7);
    std::fs::write(&src, &bytes).unwrap();
    let mut cfg = config(&d.path().join("s"));
    cfg.torrent.upload_rate_limit = Some(1 << 20); // ~4 s for the whole file
    let seeder = Session::new(cfg).await.unwrap();
    let shared = seeder
        .share_path(&src, AddOptions::default())
        .await
        .unwrap();
    let n = shared.progress().num_pieces;
    let piece_len = Metainfo::from_bytes(shared.torrent_bytes().unwrap())
        .unwrap()
        .info
        .piece_length as u64;
    let ldir = d.path().join("l");
    let rf = swarm::resume::path_for(&ldir.join("state"), shared.info_hashes().wire_id());

    let mut child = swarm_get(&shared.magnet(), &ldir, seeder.tcp_addr().unwrap())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once the resume file records some, but not all, pieces.
    let t0 = Instant::now();
    let saved = loop {
        if let Some(k) = resume_have(&rf).filter(|&k| k > 0) {
            break k;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no resume file appeared"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(saved < n, "the download finished before it could be killed");
    let saved = resume_have(&rf).unwrap();

    let out = tokio::task::spawn_blocking({
        let (m, l, p) = (shared.magnet(), ldir.clone(), seeder.tcp_addr().unwrap());
        move || swarm_get(&m, &l, p).output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("done:"))
        .expect("a done line");
    let downloaded: u64 = line
        .split("downloaded ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no byte count in {line:?}"));
    let total = bytes.len() as u64;
    assert!(
        downloaded <= total - saved as u64 * piece_len,
        "downloaded {downloaded} bytes again; {saved} of {n} pieces were saved"
    );
    assert!(std::fs::read(ldir.join("dl/big.bin")).unwrap() == bytes);
    assert_eq!(resume_have(&rf), Some(n));
    seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_seed_file_serves_no_bad_data_and_seeder_survives() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("doc.pdf");
    let bytes = data(2 << 20, 3);
    std::fs::write(&src, &bytes).unwrap();
    let seeder = Session::new(config(&d.path().join("s"))).await.unwrap();
    let shared = seeder
        .share_path(&src, AddOptions::default())
        .await
        .unwrap();
    let mut seeder_events = shared.events();
    // Another program cuts the file in half.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&src)
        .unwrap()
        .set_len(1 << 20)
        .unwrap();

    let leecher = Session::new(config(&d.path().join("l"))).await.unwrap();
    let got = leecher
        .add_magnet(
            &shared.magnet(),
            AddOptions {
                peers: vec![PeerAddr::Tcp(seeder.tcp_addr().unwrap())],
                paused: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut ev = got.events();
    got.resume().await;
    let r = tokio::time::timeout(Duration::from_secs(4), got.wait_complete()).await;
    assert!(
        !matches!(r, Ok(Ok(()))),
        "download completed from a truncated file"
    );
    // Every piece the leecher accepted is the real data.
    let meta = Metainfo::from_bytes(shared.torrent_bytes().unwrap()).unwrap();
    let pl = meta.info.piece_length as usize;
    let mut verified = Vec::new();
    while let Ok(e) = ev.try_recv() {
        if let TorrentEvent::PieceVerified(p) = e {
            verified.push(p as usize);
        }
    }
    let file = std::fs::read(d.path().join("l/dl/doc.pdf")).unwrap_or_default();
    for p in &verified {
        let (a, b) = (p * pl, ((p + 1) * pl).min(bytes.len()));
        assert!(file.get(a..b) == Some(&bytes[a..b]), "piece {p} is wrong");
    }
    assert!(
        verified.iter().all(|&p| (p + 1) * pl <= 1 << 20),
        "a piece past the cut verified"
    );
    // The seeder reported the problem and is still alive.
    let mut saw_error = false;
    while let Ok(e) = seeder_events.try_recv() {
        saw_error |= matches!(e, TorrentEvent::Error(_));
    }
    assert!(saw_error, "the seeder did not report the truncated file");
    let _ = shared.progress();
    tokio::time::timeout(Duration::from_secs(5), seeder.shutdown())
        .await
        .expect("seeder shut down cleanly");
    leecher.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_is_a_clear_error() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("z.bin");
    std::fs::write(&src, data(1 << 20, 5)).unwrap();
    let seeder = Session::new(config(&d.path().join("s"))).await.unwrap();
    let shared = seeder
        .share_path(&src, AddOptions::default())
        .await
        .unwrap();
    let leecher = Session::new(config(&d.path().join("l"))).await.unwrap();
    let factory: StorageFactory = Arc::new(|root: &Path, meta: &Metainfo, _existing: bool| {
        let inner = MmapStorage::open(root, meta.info.layout.clone(), OpenMode::Create)?;
        let cfg = FaultConfig {
            enospc_after: Some(300_000),
            ..Default::default()
        };
        Ok(Arc::new(FaultStorage::with_config(inner, cfg)) as Arc<dyn Storage>)
    });
    let got = leecher
        .add_magnet(
            &shared.magnet(),
            AddOptions {
                peers: vec![PeerAddr::Tcp(seeder.tcp_addr().unwrap())],
                storage: Some(factory),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let err = tokio::time::timeout(Duration::from_secs(20), got.wait_complete())
        .await
        .expect("no error reported in time")
        .unwrap_err();
    let msg = swarm::ErrorChain(&err).to_string();
    assert!(msg.contains("disk full"), "{msg}");
    assert!(
        matches!(
            err,
            swarm::SessionError::Torrent(swarm::TorrentError::Storage { .. })
        ),
        "{err:?}"
    );
    leecher.shutdown().await;
    seeder.shutdown().await;
}
