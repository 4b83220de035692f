//! An app downloading a torrent and showing progress from events.
//!
//! A seeder in the same process shares some bytes over 127.0.0.1; the
//! "app" adds the torrent with that peer, follows [`TorrentEvent`]s for a
//! progress line, waits for completion with a time limit, and checks that
//! every piece was reported and the bytes are right.
//!
//! Run with `cargo run -p swarm --example download_with_progress`.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use swarm::piece_core::create::{create_torrent, CreateOptions};
use swarm::{AddOptions, PeerAddr, Session, SessionConfig, TorrentEvent};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Loopback only: nothing outside this machine can reach these sessions.
fn loopback(dir: &Path) -> SessionConfig {
    let lo: SocketAddr = ([127, 0, 0, 1], 0).into();
    SessionConfig {
        listen_tcp: Some(lo),
        listen_quic: None,
        download_dir: dir.to_path_buf(),
        ..Default::default()
    }
}

/// Downloads a 1 MiB file; returns the number of pieces reported.
pub async fn download_with_progress(work: &Path) -> Result<u32> {
    let src = work.join("src");
    std::fs::create_dir_all(&src)?;
    let data: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
    std::fs::write(src.join("atlas.pdf"), &data)?;
    let torrent = create_torrent(&src.join("atlas.pdf"), &CreateOptions::default(), None)?;
    let seeder = Session::new(loopback(&src)).await?;
    let seeding = AddOptions {
        seed: true,
        save_dir: Some(src.clone()),
        ..Default::default()
    };
    seeder.add_torrent_bytes(&torrent.bytes, seeding).await?;
    let seeder_addr = seeder.tcp_addr().ok_or("no listener")?;

    // The app.
    let app = Session::new(loopback(&work.join("downloads"))).await?;
    let h = app
        .add_torrent_bytes(&torrent.bytes, AddOptions::default())
        .await?;
    let mut events = h.events();
    h.add_peer(PeerAddr::Tcp(seeder_addr)).await;
    let total = torrent.num_pieces;
    let progress = tokio::spawn(async move {
        let mut done = 0u32;
        while let Ok(e) = events.recv().await {
            match e {
                TorrentEvent::PeerConnected { addr, transport } => {
                    println!("connected to {addr} over {transport:?}")
                }
                TorrentEvent::PieceVerified(_) => {
                    done += 1;
                    println!("{done}/{total} pieces");
                }
                TorrentEvent::DialFailed { addr, error } => {
                    println!("could not reach {addr}: {}", swarm::ErrorChain(&*error))
                }
                TorrentEvent::Error(e) => println!("error: {}", swarm::ErrorChain(&e)),
                TorrentEvent::Complete => break,
                _ => {}
            }
        }
        done
    });
    h.wait_complete_timeout(Duration::from_secs(120)).await?;
    let reported = tokio::time::timeout(Duration::from_secs(30), progress).await??;
    let p = h.progress();
    println!(
        "done: {} bytes, {} bytes/s over the last seconds",
        p.downloaded, p.download_rate
    );
    if reported != total || std::fs::read(work.join("downloads/atlas.pdf"))? != data {
        return Err(format!("{reported} of {total} pieces reported, or the bytes differ").into());
    }
    app.shutdown().await;
    seeder.shutdown().await;
    Ok(reported)
}

#[tokio::main]
pub async fn main() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("swarm-download-{}", std::process::id()));
    let r = download_with_progress(&dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    println!("ok: every piece reported, the file is intact");
    r.map(|_| ())
}
