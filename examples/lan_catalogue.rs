//! An app listing what the LAN shares.
//!
//! One session shares a folder and announces it ([`Session::start_lan`]);
//! the app then browses the LAN by mDNS ([`swarm::discovery::scan`]) and
//! reads the catalogue of the sharing host directly (what `scan` does for
//! every host it finds). mDNS needs multicast: where there is none, the
//! scan finds nothing and says so, and the direct read still works.
//!
//! Run with `cargo run -p swarm --example lan_catalogue`.

use std::path::Path;
use std::time::Duration;

use swarm::discovery::{catalogue, scan};
use swarm::session::LanOptions;
use swarm::{AddOptions, Session, SessionConfig};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Shares a folder on the LAN and lists it back; returns the share names.
pub async fn lan_catalogue(work: &Path) -> Result<Vec<String>> {
    let folder = work.join("recipes");
    std::fs::create_dir_all(&folder)?;
    std::fs::write(folder.join("bread.txt"), b"flour, water, salt, time\n")?;
    let cfg = SessionConfig {
        download_dir: work.to_path_buf(),
        ..Default::default()
    };
    let session = Session::new(cfg).await?;
    let h = session.share_path(&folder, AddOptions::default()).await?;
    let lan = session.start_lan(LanOptions::new("recipes"))?;
    lan.share(&h)?;
    for p in lan.problems() {
        println!("note: {}", swarm::ErrorChain(p));
    }

    let view = scan(Duration::from_secs(2)).await?;
    println!(
        "mDNS: {} host(s), {} share(s)",
        view.peers.len(),
        view.shares.len()
    );
    for s in &view.shares {
        println!(
            "  {} ({} bytes) from {} peer(s)",
            s.share.name,
            s.share.size,
            s.peers.len()
        );
    }

    let port = session.tcp_addr().ok_or("no listener")?.port();
    let here = (std::net::Ipv4Addr::LOCALHOST, port).into();
    let cat = catalogue::query(here, Duration::from_secs(10)).await?;
    let names: Vec<String> = cat.shares.iter().map(|s| s.name.clone()).collect();
    for s in &cat.shares {
        println!("catalogue: {} {} bytes {}", s.name, s.size, s.magnet);
    }
    if names != ["recipes"] {
        return Err(format!("expected the share \"recipes\", got {names:?}").into());
    }
    drop(lan);
    session.shutdown().await;
    Ok(names)
}

#[tokio::main]
pub async fn main() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("swarm-lan-{}", std::process::id()));
    let r = lan_catalogue(&dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    r.map(|_| println!("ok: the catalogue lists the share"))
}
