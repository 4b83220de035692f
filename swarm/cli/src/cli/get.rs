//! `swarm get MAGNET|FILE.torrent|NAME [-o DIR] [--peer ADDR]... [--seed]`
//!
//! Exits 0 only when everything is downloaded and verified. Progress: a
//! bar on a terminal, a plain line every few seconds otherwise. The last
//! line on stdout is `done: NAME, downloaded N bytes from peers` (N counts
//! this run only, so a resumed download shows what it did not redo).
//! `--seed` keeps seeding after completion until Ctrl-C.
//!
//! For a LAN share name, peers whose mDNS record carries a QUIC port are
//! dialled over QUIC first, over TCP only if QUIC fails or has not
//! connected within [`swarm::session::QUIC_FALLBACK`]. Each peer
//! connection is reported on stderr (`connected to ADDR over QUIC|TCP`).

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use swarm::net::PeerAddr;
use swarm::proto::TransportKind;
use swarm::session::{AddOptions, Session, SessionConfig, TorrentEvent, TorrentHandle};
use tokio::sync::broadcast;

use super::share::{any_port, default_state_dir, print_listen};

#[derive(clap::Args)]
pub struct Args {
    /// A magnet link, a .torrent file, or the name of a share on the LAN.
    pub target: String,
    /// Download folder.
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    pub output: PathBuf,
    /// Peer to connect to: IP:PORT (TCP) or quic://IP:PORT (repeatable).
    #[arg(long = "peer", value_name = "ADDR")]
    pub peers: Vec<PeerAddr>,
    /// Keep seeding after the download completes, until Ctrl-C.
    #[arg(long)]
    pub seed: bool,
    /// TCP listen address (default: every interface, any free port).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// QUIC (UDP) listen address (default: every interface, any free port).
    #[arg(long, value_name = "ADDR:PORT")]
    pub quic_listen: Option<SocketAddr>,
    /// No QUIC at all: every peer over TCP (swarm peers otherwise move to
    /// QUIC when both sides have it).
    #[arg(long, conflicts_with = "quic_listen")]
    pub no_quic: bool,
    /// Where resume files are kept (default: $XDG_STATE_HOME/swarm or ~/.local/state/swarm).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(get(a))
}

async fn get(a: Args) -> anyhow::Result<ExitCode> {
    let mut a = a;
    // LAN swarm peers with QUIC: (tcp, quic), added once the torrent is.
    let mut swarm_peers = Vec::new();
    if super::ls::is_share_name(&a.target) {
        // A LAN share name: find it (mDNS + catalogues) within the timeout.
        let r = super::ls::resolve_name(&a.target, Duration::from_secs(4)).await?;
        eprintln!(
            "found \"{}\" on the LAN at {} peer(s)",
            r.name,
            r.peers.len()
        );
        for (i, tcp) in r.peers.iter().enumerate() {
            match r.quic.get(i).copied().flatten() {
                Some(quic) => swarm_peers.push((*tcp, quic)),
                None => a.peers.push(PeerAddr::Tcp(*tcp)),
            }
        }
        a.target = r.magnet;
    }
    let is_magnet = a.target.starts_with("magnet:");
    let path = PathBuf::from(&a.target);
    if !is_magnet && !path.is_file() {
        anyhow::bail!(
            "{:?} is not a magnet link, a .torrent file or a LAN share name",
            a.target
        );
    }
    std::fs::create_dir_all(&a.output)
        .with_context(|| format!("creating {}", a.output.display()))?;
    let cfg = SessionConfig {
        listen_tcp: Some(a.listen.unwrap_or_else(any_port)),
        listen_quic: (!a.no_quic).then(|| a.quic_listen.unwrap_or_else(any_port)),
        download_dir: a.output.clone(),
        state_dir: a.state_dir.clone().or_else(default_state_dir),
        ..Default::default()
    };
    let session = Session::new(cfg).await.context("starting the session")?;
    let opts = AddOptions {
        peers: a.peers.clone(),
        ..Default::default()
    };
    let h = if is_magnet {
        session
            .add_magnet(&a.target, opts)
            .await
            .context("adding the magnet link")?
    } else {
        session
            .add_torrent_file(&path, opts)
            .await
            .with_context(|| format!("adding {}", path.display()))?
    };
    let events = h.events();
    for (tcp, quic) in &swarm_peers {
        eprintln!("peer {tcp}: trying quic://{quic} first");
        h.add_swarm_peer(*tcp, *quic).await;
    }
    print_listen(&session);
    let _lsd = super::ls::lsd_for_download(&session, &h);
    if a.peers.is_empty() && swarm_peers.is_empty() && !a.target.contains("x.pe=") {
        eprintln!("note: no peers given (--peer); looking on the LAN (BEP 14) and waiting for incoming connections");
    }
    let res = tokio::select! {
        r = wait_with_progress(&h, events) => r,
        r = tokio::signal::ctrl_c() => {
            r.context("waiting for Ctrl-C")?;
            eprintln!("interrupted; progress is saved");
            session.shutdown().await;
            return Ok(ExitCode::from(130));
        }
    };
    if let Err(e) = res {
        session.shutdown().await;
        return Err(e).context("download failed");
    }
    let p = h.progress();
    println!(
        "done: {} in {}, downloaded {} bytes from peers",
        h.name(),
        a.output.display(),
        p.downloaded
    );
    if a.seed {
        println!("seeding; press Ctrl-C to stop");
        let _ = tokio::signal::ctrl_c().await;
    }
    session.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

async fn wait_with_progress(
    h: &TorrentHandle,
    mut events: broadcast::Receiver<TorrentEvent>,
) -> anyhow::Result<()> {
    let tty = std::io::stderr().is_terminal();
    let bar = tty.then(|| {
        let b = indicatif::ProgressBar::new(0);
        b.set_prefix(h.name().to_string());
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{prefix} [{bar:32.cyan/blue}] {percent:>3}% {pos}/{len} pieces  {msg}  eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        b
    });
    let mut tick = tokio::time::interval(if tty {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(2)
    });
    let done = h.wait_complete();
    tokio::pin!(done);
    let mut events_open = true;
    loop {
        tokio::select! {
            r = &mut done => {
                if let Some(b) = &bar {
                    let p = h.progress();
                    b.set_length(p.num_pieces as u64);
                    b.set_position(p.have_pieces as u64);
                    b.set_message("verified");
                    b.finish();
                }
                return r.map_err(anyhow::Error::from);
            }
            e = events.recv(), if events_open => {
                events_open = !matches!(e, Err(broadcast::error::RecvError::Closed));
                if let Ok(TorrentEvent::PeerConnected { addr, transport }) = e {
                    let over = match transport {
                        TransportKind::Quic => "QUIC",
                        _ => "TCP",
                    };
                    let line = format!("connected to {addr} over {over}");
                    match &bar {
                        Some(b) => b.println(line),
                        None => eprintln!("{line}"),
                    }
                }
            }
            _ = tick.tick() => {
                let p = h.progress();
                let msg = format!("{} peers, {}/s", p.peers, human(p.download_rate));
                match &bar {
                    Some(b) => {
                        b.set_length(p.num_pieces as u64);
                        b.set_position(p.have_pieces as u64);
                        b.set_message(msg);
                    }
                    None if !p.has_metadata => eprintln!("fetching metadata, {msg}"),
                    None => eprintln!("{}/{} pieces, {msg}", p.have_pieces, p.num_pieces),
                }
            }
        }
    }
}

fn human(n: u64) -> String {
    let mut v = n as f64;
    for unit in ["B", "KiB", "MiB", "GiB"] {
        if v < 1024.0 {
            return format!("{v:.1} {unit}");
        }
        v /= 1024.0;
    }
    format!("{v:.1} TiB")
}
