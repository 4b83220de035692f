//! Seeding from an app's own [`Storage`]: the data lives in memory (it
//! could be a database or an archive), never in a file the session opens.
//!
//! Run with `cargo run -p swarm --example seed_from_memory`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use swarm::piece_core::create::{create_torrent, CreateOptions};
use swarm::piece_core::metainfo::Version;
use swarm::piece_core::storage::{check_range, FileState};
use swarm::piece_core::{Layout, PieceIndex};
use swarm::{AddOptions, PeerAddr, Session, SessionConfig, Storage, StorageError};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// A read-only torrent of one file whose bytes are a `Vec` in memory.
struct InMemory {
    layout: Layout,
    bytes: Arc<Vec<u8>>,
}

impl Storage for InMemory {
    fn layout(&self) -> &Layout {
        &self.layout
    }
    fn read(
        &self,
        piece: PieceIndex,
        offset: u32,
        buf: &mut [u8],
    ) -> std::result::Result<(), StorageError> {
        check_range(&self.layout, piece, offset, buf.len())?;
        let at = (self.layout.lengths().piece_offset(piece) + u64::from(offset)) as usize;
        buf.copy_from_slice(&self.bytes[at..at + buf.len()]);
        Ok(())
    }
    fn write(&self, _: PieceIndex, _: u32, _: &[u8]) -> std::result::Result<(), StorageError> {
        Err(StorageError::OutOfBounds) // a seed never writes
    }
    fn flush(&self) -> std::result::Result<(), StorageError> {
        Ok(())
    }
    fn check_files(&self) -> Vec<FileState> {
        Vec::new() // not on disk: nothing for resume files
    }
}

fn loopback(dir: &Path) -> SessionConfig {
    let lo: SocketAddr = ([127, 0, 0, 1], 0).into();
    SessionConfig {
        listen_tcp: Some(lo),
        listen_quic: None,
        download_dir: dir.to_path_buf(),
        ..Default::default()
    }
}

/// Seeds 600 KB from memory and downloads it to disk.
pub async fn seed_from_memory(work: &Path) -> Result<()> {
    let bytes: Arc<Vec<u8>> = Arc::new((0..600_000u32).map(|i| (i * 7 % 256) as u8).collect());
    // Making the .torrent reads a file once; then the file goes.
    std::fs::create_dir_all(work)?;
    let tmp = work.join("notes.txt");
    std::fs::write(&tmp, &*bytes)?;
    let opts = CreateOptions {
        version: Version::V1,
        ..Default::default()
    };
    let torrent = create_torrent(&tmp, &opts, None)?.bytes;
    std::fs::remove_file(&tmp)?;

    let seeder = Session::new(loopback(&work.join("unused"))).await?;
    let b = bytes.clone();
    let memory: swarm::StorageFactory = Arc::new(move |_dir, meta: &swarm::Metainfo, _seed| {
        Ok(Arc::new(InMemory {
            layout: meta.info.layout.clone(),
            bytes: b.clone(),
        }))
    });
    let seed = AddOptions {
        seed: true,
        storage: Some(memory),
        ..Default::default()
    };
    // The data is hash-checked: a wrong byte would be SessionError::IncompleteData.
    let seeding = seeder.add_torrent_bytes(&torrent, seed).await?;
    println!("seeding {} from memory", seeding.name());

    let leecher = Session::new(loopback(&work.join("got"))).await?;
    let from = PeerAddr::Tcp(seeder.tcp_addr().ok_or("no listener")?);
    let get = AddOptions {
        peers: vec![from],
        ..Default::default()
    };
    let h = leecher.add_torrent_bytes(&torrent, get).await?;
    h.wait_complete_timeout(Duration::from_secs(120)).await?;
    if std::fs::read(work.join("got/notes.txt"))? != *bytes {
        return Err("the downloaded file differs from the bytes in memory".into());
    }
    println!("ok: downloaded {} bytes served from memory", bytes.len());
    leecher.shutdown().await;
    seeder.shutdown().await;
    Ok(())
}

#[tokio::main]
pub async fn main() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("swarm-memory-{}", std::process::id()));
    let r = seed_from_memory(&dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    r
}
