//! Sharing a folder on the LAN in a dozen lines: `swarm share` as a
//! library call. Seeds until Ctrl-C, or for `SWARM_SHARE_SECONDS` seconds.
//!
//! Run with `cargo run -p swarm --example share_folder -- FOLDER`.

use std::time::Duration;

use swarm::session::LanOptions;
use swarm::{AddOptions, Session, SessionConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let folder = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "samples/zines".into());
    let session = Session::new(SessionConfig::default()).await?;
    let shared = session
        .share_path(folder.as_ref(), AddOptions::default())
        .await?;
    let lan = session.start_lan(LanOptions::new(shared.name()))?;
    lan.share(&shared)?;
    println!(
        "sharing {} as {:?}: {}",
        folder,
        lan.mdns_instance(),
        shared.magnet()
    );
    assert!(shared.progress().complete, "every piece is seeded");
    match std::env::var("SWARM_SHARE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
        None => tokio::signal::ctrl_c().await?,
    }
    session.shutdown().await;
    Ok(())
}
