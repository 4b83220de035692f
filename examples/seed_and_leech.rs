//! A seeder and a leecher in one process over 127.0.0.1: the seeder shares
//! a folder, the leecher fetches it by magnet link (TCP), and the bytes are
//! compared.
//!
//! Run with `cargo run -p swarm --example seed_and_leech`.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use swarm::net::PeerAddr;
use swarm::session::{AddOptions, Session, SessionConfig};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn config(dir: &Path) -> SessionConfig {
    let lo: SocketAddr = ([127, 0, 0, 1], 0).into();
    SessionConfig {
        listen_tcp: Some(lo),
        listen_quic: Some(lo),
        download_dir: dir.to_path_buf(),
        state_dir: None,
        ..Default::default()
    }
}

/// Seeds a folder and downloads it again; fails if any byte differs.
pub async fn seed_and_leech(work: &Path) -> Result<()> {
    // Something to share: two "zines".
    let share = work.join("zines");
    std::fs::create_dir_all(&share)?;
    let a: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(share.join("issue-1.pdf"), &a)?;
    std::fs::write(share.join("README.txt"), b"Photocopy freely.\n")?;

    let seeder = Session::new(config(&work.join("seeder"))).await?;
    let shared = seeder.share_path(&share, AddOptions::default()).await?;
    println!("seeding {} at {:?}", shared.magnet(), seeder.tcp_addr());

    let leecher = Session::new(config(&work.join("leecher"))).await?;
    let peer = PeerAddr::Tcp(seeder.tcp_addr().ok_or("seeder has no TCP listener")?);
    let got = leecher
        .add_magnet(
            &shared.magnet(),
            AddOptions {
                peers: vec![peer],
                ..Default::default()
            },
        )
        .await?;
    tokio::time::timeout(Duration::from_secs(60), got.wait_complete()).await??;
    println!("downloaded {} bytes", got.progress().downloaded);

    for name in ["issue-1.pdf", "README.txt"] {
        let want = std::fs::read(share.join(name))?;
        let have = std::fs::read(work.join("leecher/zines").join(name))?;
        if want != have {
            return Err(format!("{name}: downloaded bytes differ from the source").into());
        }
    }
    println!("ok: the downloaded files equal the source");
    leecher.shutdown().await;
    seeder.shutdown().await;
    Ok(())
}

#[tokio::main]
pub async fn main() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("swarm-seed-and-leech-{}", std::process::id()));
    let r = seed_and_leech(&dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    r
}
