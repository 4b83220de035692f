//! The running daemon: one swarm [`Session`] for every collection, a LAN
//! presence that lists them (with their signed version records), the
//! [`Shared`] state, one task per local collection (see [`crate::local`])
//! and per mirror (see [`crate::mirror`]), and the web page.

use std::net::SocketAddr;
use std::sync::Arc;

use swarm::discovery::presence::{Presence, PresenceConfig};
use swarm::session::{Session, SessionConfig};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::library::Library;
use crate::shared::Shared;
use crate::store::{self, StoreError};

/// Start-up failures.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("starting the BitTorrent session: {0}")]
    Session(#[from] swarm::session::SessionError),
    #[error("web page: cannot listen on {addr}: {source}")]
    Web {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// File descriptors kept for everything but the web page: each torrent's
/// peers (and some slack for its files and dials), plus the daemon's own.
fn reserved_fds(config: &Config) -> u64 {
    let torrents = (config.collections.len() + config.mirrors.len()).max(1) as u64;
    torrents * (config.limits.max_peers as u64 + 16) + 256
}

/// `web.max_connections`, lowered if the file limit would otherwise let
/// web clients take descriptors the BitTorrent side needs.
fn web_connections(config: &Config) -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid out-pointer.
    let nofile = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        // rlim_t is u32 on armv7 (32-bit Raspberry Pi OS), u64 here
        #[allow(clippy::useless_conversion)]
        u64::from(lim.rlim_cur)
    } else {
        1024
    };
    let room = nofile.saturating_sub(reserved_fds(config));
    let want = config.web.max_connections;
    let n = want.min(usize::try_from(room).unwrap_or(usize::MAX)).max(4);
    if n < want {
        tracing::warn!(
            "web page: {n} connections at most, not {want}: the file limit is {nofile} and \
             {} are kept for BitTorrent (raise LimitNOFILE)",
            reserved_fds(config)
        );
    }
    n
}

/// The running daemon.
pub struct Daemon {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
    web_addr: Option<SocketAddr>,
    http_mdns: Option<swarm::discovery::mdns::Advertiser>,
}

impl Daemon {
    /// Start everything the config names. Returns once listening; the
    /// collections are then published in the background (logged).
    pub async fn start(config: Config) -> Result<Daemon, DaemonError> {
        std::fs::create_dir_all(&config.state_dir).map_err(|source| StoreError::Io {
            path: config.state_dir.clone(),
            source,
        })?;
        let publisher = store::load_or_create_identity(&config.state_dir)?;
        tracing::info!("publisher key {}", publisher.public());
        let mut torrent_cfg = swarm::session::SessionConfig::default().torrent;
        torrent_cfg.upload_rate_limit = config.limits.upload_rate;
        let session = Session::new(SessionConfig {
            listen_tcp: Some(config.network.listen),
            listen_quic: config.network.quic_listen,
            download_dir: config.state_dir.join("downloads"),
            state_dir: Some(config.state_dir.join("resume")),
            max_peers: config.limits.max_peers,
            torrent: torrent_cfg,
            ..Default::default()
        })
        .await?;
        let tcp_port = session.tcp_addr().map(|a| a.port()).unwrap_or(0);
        let mut pc = PresenceConfig::new(config.web.title.clone(), tcp_port);
        pc.quic_port = session.quic_addr().map(|a| a.port());
        pc.fingerprint = session.fingerprint().map(|f| hex::encode(&f[..16]));
        pc.mdns = config.network.announce;
        pc.lsd = config.network.announce;
        let (hint_tx, mut hints) = tokio::sync::mpsc::channel(256);
        let presence = Arc::new(Presence::start(pc, hint_tx));
        session.serve_lan_catalogue(presence.clone());
        let session = Arc::new(session);
        let shared = Arc::new(Shared::new(
            session.clone(),
            presence,
            publisher,
            config.clone(),
        ));
        let mut tasks = Vec::new();
        {
            let shared = shared.clone();
            tasks.push(tokio::spawn(async move {
                while let Some(hint) = hints.recv().await {
                    shared.on_hint(hint).await;
                }
            }));
        }
        let mut web_addr = None;
        let mut http_mdns = None;
        if let Some(addr) = config.web.listen {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| DaemonError::Web { addr, source })?;
            let local = listener
                .local_addr()
                .map_err(|source| DaemonError::Web { addr, source })?;
            web_addr = Some(local);
            if config.network.announce {
                http_mdns = crate::http_mdns::advertise(&config.web.title, local.port())
                    .map_err(|e| tracing::warn!("web page not announced by mDNS: {e}"))
                    .ok();
            }
            let lib: Arc<dyn Library> = shared.clone();
            let wc = crate::web::WebConfig {
                site_title: config.web.title.clone(),
                admin_token: config.web.admin_token.clone(),
                extra_hosts: config.web.hosts.clone(),
                limits: crate::web::ConnLimits::new(web_connections(&config)),
                page_urls: crate::web::page_urls(local),
                max_upload: config.web.max_upload,
            };
            tasks.push(tokio::spawn(async move {
                if let Err(e) = crate::web::serve(listener, lib, wc).await {
                    tracing::error!("web page stopped: {e}");
                }
            }));
        }
        for c in &config.collections {
            tasks.push(tokio::spawn(crate::local::run(shared.clone(), c.clone())));
        }
        tasks.push(tokio::spawn(shared.clone().keep_companions()));
        for m in &config.mirrors {
            tasks.push(tokio::spawn(crate::mirror::run(shared.clone(), m.clone())));
        }
        Ok(Daemon {
            shared,
            tasks,
            web_addr,
            http_mdns,
        })
    }

    /// The BitTorrent TCP address.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.shared.session.tcp_addr()
    }
    /// The QUIC address.
    pub fn quic_addr(&self) -> Option<SocketAddr> {
        self.shared.session.quic_addr()
    }
    /// The web page's address.
    pub fn web_addr(&self) -> Option<SocketAddr> {
        self.web_addr
    }
    /// The URLs patrons reach the web page at: its LAN addresses when it
    /// listens on every address (see [`crate::web::page_urls`]).
    pub fn page_urls(&self) -> Vec<String> {
        self.web_addr.map(crate::web::page_urls).unwrap_or_default()
    }
    /// The shared state (what the web page sees).
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }
    /// The info-hashes of every torrent the daemon runs now (versions, v1
    /// companions, fetches in progress).
    pub fn torrents(&self) -> Vec<piece_core::types::InfoHashes> {
        let all = self.shared.session.torrents();
        all.iter().map(|h| h.info_hashes()).collect()
    }
    /// The publisher key (hex).
    pub fn key(&self) -> String {
        self.shared.publisher.public().to_hex()
    }

    /// Stop the tasks, save resume data, withdraw from the LAN.
    pub async fn shutdown(self) {
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks {
            let _ = t.await;
        }
        for h in self.shared.handles() {
            h.remove().await;
        }
        drop(self.http_mdns);
    }
}
