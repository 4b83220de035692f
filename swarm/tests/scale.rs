//! Large file counts (issue 14, finding 9): what grows with the number of
//! files must not stall a download.
//!
//! A 100,000-file download spent almost all its time saving resume data:
//! every save stats every file, and saves ran on the torrent's task once a
//! second, so the download itself barely moved (219.7 s, now 18.7 s; see
//! DESIGN.md). Here a save is made arbitrarily slow (the storage's
//! `check_files` blocks until the test lets it go) and the download must
//! still complete meanwhile.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use piece_core::layout::Layout;
use piece_core::metainfo::Metainfo;
use piece_core::storage::{FileState, Storage, StorageError};
use piece_core::PieceIndex;
use swarm::net::PeerAddr;
use swarm::proto::TorrentConfig;
use swarm::session::{AddOptions, Session, SessionConfig, StorageFactory, TorrentEvent};

/// A storage whose `check_files` (what a resume save does per file) blocks
/// while `hold` is set, and says whether it was entered then.
struct SlowCapture {
    inner: Arc<dyn Storage>,
    hold: Arc<AtomicBool>,
    entered: Arc<AtomicBool>,
}

impl Storage for SlowCapture {
    fn layout(&self) -> &Layout {
        self.inner.layout()
    }
    fn read(&self, piece: PieceIndex, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        self.inner.read(piece, offset, buf)
    }
    fn write(&self, piece: PieceIndex, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        self.inner.write(piece, offset, data)
    }
    fn flush(&self) -> Result<(), StorageError> {
        self.inner.flush()
    }
    fn ensure_files(&self) -> Result<(), StorageError> {
        self.inner.ensure_files()
    }
    fn check_files(&self) -> Vec<FileState> {
        if self.hold.load(Ordering::SeqCst) {
            self.entered.store(true, Ordering::SeqCst);
        }
        // bounded: the test releases it, or gives up after a minute
        for _ in 0..600 {
            if !self.hold.load(Ordering::SeqCst) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.inner.check_files()
    }
    fn file_path(&self, i: usize) -> Option<PathBuf> {
        self.inner.file_path(i)
    }
}

fn lo() -> Option<SocketAddr> {
    Some("127.0.0.1:0".parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_resume_save_does_not_stall_the_download() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("many");
    std::fs::create_dir(&src).unwrap();
    for i in 0..200 {
        let body = swarm::sim::content(20_000 + i * 7, i as u64);
        std::fs::write(src.join(format!("f{i:03}.bin")), body).unwrap();
    }
    // a seeder limited to ~1 MiB/s: the 4 MB download lasts a few seconds,
    // longer than the first resume save takes to start
    let seeder = Session::new(SessionConfig {
        listen_tcp: lo(),
        listen_quic: None,
        download_dir: d.path().into(),
        torrent: TorrentConfig {
            upload_rate_limit: Some(1 << 20),
            ..Default::default()
        },
        ..Default::default()
    })
    .await
    .unwrap();
    let shared = seeder
        .share_path(&src, AddOptions::default())
        .await
        .unwrap();
    let hold = Arc::new(AtomicBool::new(false));
    let entered = Arc::new(AtomicBool::new(false));
    let (h2, e2) = (hold.clone(), entered.clone());
    let factory: StorageFactory = Arc::new(move |root: &Path, meta: &Metainfo, existing| {
        let inner = swarm::session::default_storage(root, meta.info.layout.clone(), existing)?;
        Ok(Arc::new(SlowCapture {
            inner,
            hold: h2.clone(),
            entered: e2.clone(),
        }) as Arc<dyn Storage>)
    });
    let leecher = Session::new(SessionConfig {
        listen_tcp: lo(),
        listen_quic: None,
        download_dir: d.path().join("dl"),
        state_dir: Some(d.path().join("state")),
        ..Default::default()
    })
    .await
    .unwrap();
    let got = leecher
        .add_torrent_bytes(
            shared.torrent_bytes().unwrap(),
            AddOptions {
                peers: vec![PeerAddr::Tcp(seeder.tcp_addr().unwrap())],
                storage: Some(factory),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // from now on (the first save comes a second after the start), saves
    // hang until released
    hold.store(true, Ordering::SeqCst);
    let total = got.progress().num_pieces;
    let mut events = got.events();
    let mut verified = got.progress().have_pieces;
    let counted = tokio::time::timeout(Duration::from_secs(60), async {
        while verified < total {
            if let Ok(TorrentEvent::PieceVerified(_)) = events.recv().await {
                verified += 1;
            }
        }
    })
    .await;
    let save_started = entered.load(Ordering::SeqCst);
    hold.store(false, Ordering::SeqCst);
    assert!(
        counted.is_ok(),
        "only {verified} of {total} pieces verified while a resume save was running"
    );
    assert!(
        save_started,
        "the download ended before the first resume save (test too fast)"
    );
    tokio::time::timeout(Duration::from_secs(60), got.wait_complete())
        .await
        .expect("completes once the save is released")
        .unwrap();
    let data = |p: &Path| std::fs::read(p).unwrap();
    for i in [0, 99, 199] {
        let name = format!("many/f{i:03}.bin");
        assert!(data(&d.path().join(&name)) == data(&d.path().join("dl").join(&name)));
    }
    leecher.shutdown().await;
    seeder.shutdown().await;
}
