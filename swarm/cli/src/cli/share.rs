//! `swarm share PATH [--torrent FILE.torrent] [--listen ADDR:PORT]
//! [--quic-listen ADDR:PORT] [--peer ADDR]... [--tracker URL]...`
//!
//! Shares PATH (a file or folder) in place: makes a hybrid torrent of it,
//! prints the magnet link and the listen addresses, and seeds until
//! Ctrl-C (then saves resume data and exits 0). With `--torrent`, PATH is
//! the data of that existing torrent (the file itself or the torrent's top
//! folder); every piece is verified first.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use swarm::net::PeerAddr;
use swarm::session::{AddOptions, Session, SessionConfig};

#[derive(clap::Args)]
pub struct Args {
    /// File or folder to share.
    pub path: PathBuf,
    /// Seed this existing .torrent; PATH is its data.
    #[arg(long, value_name = "FILE.torrent")]
    pub torrent: Option<PathBuf>,
    /// TCP listen address (default: every interface, any free port).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// QUIC (UDP) listen address (default: every interface, any free port).
    #[arg(long, value_name = "ADDR:PORT")]
    pub quic_listen: Option<SocketAddr>,
    /// Peer to connect to: IP:PORT (TCP) or quic://IP:PORT (repeatable).
    #[arg(long = "peer", value_name = "ADDR")]
    pub peers: Vec<PeerAddr>,
    /// Tracker to announce to (`http://` or `udp://`), written into the
    /// torrent, one tier each (repeatable).
    #[arg(long = "tracker", value_name = "URL")]
    pub trackers: Vec<String>,
    /// Where resume files are kept (default: $XDG_STATE_HOME/swarm or ~/.local/state/swarm).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Do not announce the share on the LAN (mDNS and BEP 14 local service
    /// discovery); peers must then be given its address.
    #[arg(long)]
    pub no_announce: bool,
}

/// The default folder for resume files.
pub fn default_state_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d).join("swarm"));
    }
    std::env::var_os("HOME")
        .filter(|d| !d.is_empty())
        .map(|h| PathBuf::from(h).join(".local/state/swarm"))
}

pub(crate) fn any_port() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 0))
}

pub(crate) fn print_listen(s: &Session) {
    if let Some(a) = s.tcp_addr() {
        println!("listening on tcp {a}");
    }
    if let Some(a) = s.quic_addr() {
        println!("listening on quic://{a}");
    }
    if let Some(f) = s.fingerprint() {
        println!("certificate fingerprint {}", hex::encode(f));
    }
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(share(a))
}

async fn share(a: Args) -> anyhow::Result<ExitCode> {
    if !a.path.exists() {
        anyhow::bail!("{}: no such file or folder", a.path.display());
    }
    let cfg = SessionConfig {
        listen_tcp: Some(a.listen.unwrap_or_else(any_port)),
        listen_quic: Some(a.quic_listen.unwrap_or_else(any_port)),
        download_dir: PathBuf::from("."),
        state_dir: a.state_dir.clone().or_else(default_state_dir),
        ..Default::default()
    };
    let session = Session::new(cfg).await.context("starting the session")?;
    let opts = AddOptions {
        peers: a.peers.clone(),
        trackers: a.trackers.clone(),
        ..Default::default()
    };
    let handle = match &a.torrent {
        None => session
            .share_path(&a.path, opts)
            .await
            .with_context(|| format!("sharing {}", a.path.display()))?,
        Some(t) => {
            let abs =
                std::fs::canonicalize(&a.path).with_context(|| a.path.display().to_string())?;
            let parent = abs
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("/"));
            let h = session
                .add_torrent_file(
                    t,
                    AddOptions {
                        save_dir: Some(parent),
                        seed: true,
                        ..opts
                    },
                )
                .await
                .with_context(|| format!("seeding {} from {}", t.display(), a.path.display()))?;
            if h.name()
                != abs
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            {
                eprintln!("note: the torrent's name is {:?}", h.name());
            }
            h
        }
    };
    println!("{}", handle.magnet());
    print_listen(&session);
    let lan = if a.no_announce {
        None
    } else {
        super::ls::announce_on_lan(&session, &handle)
    };
    if let Some(name) = lan.as_ref().and_then(|p| p.mdns_instance()) {
        println!("on the LAN as \"{name}\"");
    }
    println!("seeding {}; press Ctrl-C to stop", handle.name());
    let mut events = handle.events();
    loop {
        tokio::select! {
            r = tokio::signal::ctrl_c() => {
                r.context("waiting for Ctrl-C")?;
                break;
            }
            e = events.recv() => match e {
                Ok(swarm::session::TorrentEvent::Error(e)) => eprintln!("swarm: {}", swarm::ErrorChain(&e)),
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => break,
            }
        }
    }
    eprintln!("stopping");
    drop(lan);
    session.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
