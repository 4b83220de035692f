//! Being found on the LAN: [`Session::start_lan`] advertises the session
//! by mDNS, answers LAN catalogue requests on its TCP listener, announces
//! torrents by BEP 14 (LSD) and adds the LAN peers heard for them, all
//! behind one guard, [`LanPresence`].
//!
//! ```no_run
//! # async fn demo(session: swarm::Session, h: swarm::TorrentHandle) -> Result<(), Box<dyn std::error::Error>> {
//! use swarm::session::LanOptions;
//! let lan = session.start_lan(LanOptions::new("zines"))?;
//! lan.share(&h)?; // listed in the catalogue, announced by LSD
//! for p in lan.problems() {
//!     eprintln!("{}", swarm::ErrorChain(p)); // e.g. no multicast: LSD off
//! }
//! // ... dropping `lan` withdraws the mDNS service and stops LSD.
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{lock, LanSlot, Session, TorrentHandle};
use crate::discovery::catalogue::{Catalogue, MAX_SHARES};
use crate::discovery::presence::{Presence, PresenceConfig, PresenceError};
use crate::discovery::Share;
use crate::net::PeerAddr;

/// Settings for [`Session::start_lan`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LanOptions {
    /// Human label of the mDNS service ("zines" is seen as "zines on
    /// HOSTNAME").
    pub label: String,
    /// Advertise the session by mDNS (what `swarm ls` and
    /// [`crate::discovery::scan`] browse).
    pub mdns: bool,
    /// Announce torrents by BEP 14 and listen for other peers' announces.
    pub lsd: bool,
}

impl LanOptions {
    /// mDNS and LSD on.
    pub fn new(label: impl Into<String>) -> Self {
        LanOptions {
            label: label.into(),
            mdns: true,
            lsd: true,
        }
    }
}

/// Why [`Session::start_lan`] or [`LanPresence::share`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LanError {
    /// The session does not listen on TCP, so there is nothing to announce.
    #[error("the session has no TCP listener to announce")]
    NoListener,
    /// Neither mDNS nor LSD (those asked for) could start.
    #[error("nothing could start on the LAN: {}", list(.0))]
    NothingStarted(Vec<PresenceError>),
    /// The catalogue already lists [`MAX_SHARES`] torrents.
    #[error("the LAN catalogue is full ({MAX_SHARES} shares)")]
    CatalogueFull,
}

fn list(problems: &[PresenceError]) -> String {
    let v: Vec<String> = problems
        .iter()
        .map(|p| crate::ErrorChain(p).to_string())
        .collect();
    v.join("; ")
}

/// The session's presence on the LAN. Dropping it withdraws the mDNS
/// service, stops LSD and stops answering catalogue requests.
pub struct LanPresence {
    presence: Arc<Presence>,
    routes: Arc<Mutex<HashMap<[u8; 20], TorrentHandle>>>,
    forward: JoinHandle<()>,
    problems: Vec<PresenceError>,
    slot: LanSlot,
}

impl std::fmt::Debug for LanPresence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LanPresence")
            .field("mdns", &self.mdns_instance())
            .field("lsd", &self.lsd_running())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Makes this session findable on the LAN (see [`LanPresence`] and its
    /// module). Parts that cannot start (no multicast...) are reported by
    /// [`LanPresence::problems`] while the rest runs; it is an error only
    /// when nothing asked for could start. The mDNS record carries the
    /// session's TCP and QUIC ports and the first 16 bytes of its QUIC
    /// certificate fingerprint (hex), which swarm peers check when they
    /// dial QUIC. Must be called inside a tokio runtime.
    pub fn start_lan(&self, opts: LanOptions) -> Result<LanPresence, LanError> {
        let tcp = self.tcp_addr.ok_or(LanError::NoListener)?;
        let mut cfg = PresenceConfig::new(opts.label, tcp.port());
        cfg.mdns = opts.mdns;
        cfg.lsd = opts.lsd;
        cfg.quic_port = self.quic_addr.map(|a| a.port());
        cfg.fingerprint = self.fingerprint().map(|f| hex::encode(&f[..16]));
        let (tx, mut hints) = mpsc::channel(256);
        let (presence, problems) = Presence::start_reporting(cfg, tx);
        let asked = usize::from(opts.mdns) + usize::from(opts.lsd);
        if asked > 0 && problems.len() == asked {
            return Err(LanError::NothingStarted(problems));
        }
        let presence = Arc::new(presence);
        *lock(&self.lan) = Some(presence.clone());
        let routes: Arc<Mutex<HashMap<[u8; 20], TorrentHandle>>> = Arc::default();
        let r = routes.clone();
        let forward = tokio::spawn(async move {
            while let Some(hint) = hints.recv().await {
                let h = lock(&r).get(&hint.info_hash).cloned();
                if let Some(h) = h {
                    h.add_peer(PeerAddr::Tcp(hint.addr)).await;
                }
            }
        });
        Ok(LanPresence {
            presence,
            routes,
            forward,
            problems,
            slot: self.lan.clone(),
        })
    }
}

impl LanPresence {
    /// Lists `handle` in the catalogue, announces it by LSD and adds the
    /// LAN peers heard for it. Sharing it again updates its entry.
    pub fn share(&self, handle: &TorrentHandle) -> Result<(), LanError> {
        let (size, files) = handle
            .metainfo()
            .map(|m| {
                let real = m.info.files.iter().filter(|f| !f.pad);
                (real.clone().map(|f| f.length).sum(), real.count() as u32)
            })
            .unwrap_or((0, 0));
        let mut share = Share::new(handle.name(), size, files, handle.info_hashes());
        share.magnet = handle.magnet();
        if !self.presence.add_share(share) {
            return Err(LanError::CatalogueFull);
        }
        self.route(handle);
        Ok(())
    }

    /// Announces `handle` by LSD and adds the LAN peers heard for it,
    /// without listing it in the catalogue (for a download).
    pub fn look_for_peers(&self, handle: &TorrentHandle) {
        self.presence.look_for(&handle.info_hashes());
        self.route(handle);
    }

    /// Stops listing and announcing `handle`.
    pub fn unshare(&self, handle: &TorrentHandle) {
        let ih = handle.info_hashes();
        self.presence.remove_share(&ih);
        lock(&self.routes).remove(&ih.wire_id());
    }

    fn route(&self, handle: &TorrentHandle) {
        let id = handle.info_hashes().wire_id();
        lock(&self.routes).insert(id, handle.clone());
    }

    /// The parts that could not start (each with its cause).
    pub fn problems(&self) -> &[PresenceError] {
        &self.problems
    }

    /// The registered mDNS instance name, if mDNS runs.
    pub fn mdns_instance(&self) -> Option<&str> {
        self.presence.mdns_instance()
    }

    /// Is LSD running?
    pub fn lsd_running(&self) -> bool {
        self.presence.lsd_running()
    }

    /// What the catalogue lists now.
    pub fn catalogue(&self) -> Catalogue {
        self.presence.catalogue()
    }
}

impl Drop for LanPresence {
    fn drop(&mut self) {
        self.forward.abort();
        let mut slot = lock(&self.slot);
        if slot
            .as_ref()
            .is_some_and(|p| Arc::ptr_eq(p, &self.presence))
        {
            *slot = None;
        }
    }
}
