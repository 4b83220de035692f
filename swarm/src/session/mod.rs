//! The embedding API: a [`Session`] runs any number of torrents over TCP
//! and QUIC.
//!
//! ```no_run
//! # async fn demo() -> Result<(), swarm::session::SessionError> {
//! use swarm::session::{AddOptions, Session, SessionConfig};
//! let session = Session::new(SessionConfig::default()).await?;
//! let shared = session.share_path("zines/".as_ref(), AddOptions::default()).await?;
//! println!("{}", shared.magnet());
//! let got = session.add_magnet(&shared.magnet(), AddOptions::default()).await?;
//! got.wait_complete().await?;
//! session.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Each torrent is one tokio task (see [`driver`]) owning the protocol
//! state machine ([`crate::proto::Torrent`]). Incoming connections on the
//! shared listeners are routed to a torrent by the info-hash in their
//! handshake (v1, or truncated v2). Transport choice: see [`crate::net`];
//! two swarm peers that both have QUIC move to it (see [`driver`]).

mod announce;
pub(crate) mod disk;
pub mod driver;
mod error;
mod gate;
mod lan;
mod rate;
mod storage;

pub use error::{SessionError, TorrentError};
pub use lan::{LanError, LanOptions, LanPresence};
pub use rate::RATE_WINDOW;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use piece_core::create::{create_torrent, CreateError, CreateOptions};
use piece_core::hash::PieceHashes;
use piece_core::magnet::Magnet;
use piece_core::metainfo::Metainfo;
use piece_core::storage::Storage;
use piece_core::{Bitfield, InfoHashes};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::net::{
    read_handshake, Identity, NetError, PeerAddr, PeerConn, QuicEndpoint, TcpTransport,
};
use crate::proto::{DisconnectReason, PeerMisbehaved, Torrent, TorrentConfig, TransportKind};
use crate::resume;
use driver::{Cmd, Driver, DriverInit};
pub(crate) use storage::open_storage;
pub use storage::{
    default_storage, raise_file_limit, real_files, rooted_layout, rooted_storage, RealFile,
    StorageFactory,
};

/// Largest .torrent file read.
pub const MAX_TORRENT_FILE: u64 = 64 * 1024 * 1024;
/// Incoming connections that may be in their handshake at once (see
/// `session::gate`).
pub const MAX_PENDING_HANDSHAKES: usize = 256;
/// Incoming connections from one IP that may be in their handshake at once
/// (past either bound, a newcomer evicts the oldest, see `session::gate`).
pub const MAX_PENDING_PER_IP: usize = 16;
/// Time an incoming connection has to send its handshake (68 bytes; a LAN
/// peer sends it at once).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// [`TorrentHandle::add_swarm_peer`]: how long QUIC has before the TCP
/// address is dialled too (the policy is [`crate::proto::QuicPolicy`]).
pub use crate::proto::quic::QUIC_FALLBACK;

/// Session settings.
#[derive(Clone)]
pub struct SessionConfig {
    /// TCP listen address; `None` disables incoming TCP.
    pub listen_tcp: Option<SocketAddr>,
    /// QUIC (UDP) listen address; `None` disables QUIC entirely.
    pub listen_quic: Option<SocketAddr>,
    /// Default folder for downloads.
    pub download_dir: PathBuf,
    /// Where resume files go; `None`: no resume files.
    pub state_dir: Option<PathBuf>,
    /// Most peer connections per torrent.
    pub max_peers: usize,
    /// Protocol tunables (its `max_peers` is replaced by the one above).
    pub torrent: TorrentConfig,
    /// Seed data that is already there through memory maps
    /// ([`MmapStorage`](piece_core::storage::MmapStorage), the default, `true`), which installs a
    /// process-wide SIGBUS handler (see its docs). `false` reads with
    /// `pread` ([`PreadStorage`](piece_core::storage::PreadStorage)) instead and installs nothing. Downloads
    /// always use `pread`. A custom [`AddOptions::storage`] overrides both.
    pub seed_with_mmap: bool,
    /// Tracker announce limits (HTTP timeout, UDP retransmissions).
    pub tracker: crate::tracker::AnnounceOptions,
}

impl Default for SessionConfig {
    /// Ephemeral ports on every interface, downloads in the current folder.
    fn default() -> Self {
        SessionConfig {
            listen_tcp: Some(SocketAddr::from(([0, 0, 0, 0], 0))),
            listen_quic: Some(SocketAddr::from(([0, 0, 0, 0], 0))),
            download_dir: PathBuf::from("."),
            state_dir: None,
            max_peers: 50,
            torrent: TorrentConfig::default(),
            seed_with_mmap: true,
            tracker: Default::default(),
        }
    }
}

/// Per-torrent options.
#[derive(Clone, Default)]
pub struct AddOptions {
    /// Where the data goes (default: the session's download folder). The
    /// torrent's files are at `save_dir/<their path>`.
    pub save_dir: Option<PathBuf>,
    /// The data is already there: open it read-mostly, never create files.
    pub seed: bool,
    /// Peers to dial right away.
    pub peers: Vec<PeerAddr>,
    /// Storage hook (tests); default [`default_storage`] (mmap to seed, pwrite to download).
    pub storage: Option<StorageFactory>,
    /// Start paused.
    pub paused: bool,
    /// Trackers (`http://`, `udp://`) to announce to, as a last tier after
    /// those of the torrent or magnet link (for [`Session::share_path`]: written into the torrent).
    pub trackers: Vec<String>,
}

/// What happens to a torrent ([`TorrentHandle::events`]).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum TorrentEvent {
    /// A peer completed its handshake.
    PeerConnected {
        /// Its address (for QUIC, its UDP address).
        addr: SocketAddr,
        /// The transport of the connection.
        transport: TransportKind,
    },
    /// A piece passed its hash check (zero-based index).
    PieceVerified(u32),
    /// A piece failed its hash check and is fetched again.
    PieceFailed(u32),
    /// Magnet: the metadata arrived; downloading starts.
    MetadataReceived {
        /// The torrent's name from the metadata.
        name: String,
    },
    /// Every piece is verified and flushed.
    Complete,
    /// A peer broke the protocol or sent corrupt data; its address is
    /// banned from this torrent.
    PeerBanned {
        /// The banned address.
        addr: SocketAddr,
        /// What it did.
        reason: PeerMisbehaved,
    },
    /// Something failed (disk full, unreadable data...). A storage error
    /// pauses the torrent; [`TorrentHandle::wait_complete`] returns it.
    Error(TorrentError),
    /// Dialling a peer failed (refused, unreachable, timed out). The
    /// torrent retries known peers later with a backoff.
    DialFailed {
        /// The address dialled.
        addr: SocketAddr,
        /// Why it failed.
        error: Arc<NetError>,
    },
    /// A connected peer (one that had sent [`TorrentEvent::PeerConnected`])
    /// is gone.
    PeerDisconnected {
        /// Its address.
        addr: SocketAddr,
        /// Why we closed it, or `None` when the peer or the network closed
        /// it.
        reason: Option<DisconnectReason>,
    },
}

/// A connected peer (its handshake completed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    /// The remote address (for QUIC, its UDP address).
    pub addr: SocketAddr,
    /// TCP or QUIC.
    pub transport: TransportKind,
    /// The peer id from its handshake.
    pub peer_id: [u8; 20],
}

/// A snapshot of a torrent's progress ([`TorrentHandle::progress`]).
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Progress {
    /// Pieces verified.
    pub have_pieces: u32,
    /// Pieces of the torrent (0 before a magnet's metadata arrives).
    pub num_pieces: u32,
    /// Payload bytes received this session (including wasted).
    pub downloaded: u64,
    /// Payload bytes sent this session.
    pub uploaded: u64,
    /// Payload bytes received per second, averaged over the last
    /// [`RATE_WINDOW`] (or since the torrent started, if that is shorter).
    pub download_rate: u64,
    /// Payload bytes sent per second, averaged like `download_rate`.
    pub upload_rate: u64,
    /// Peers connected (handshake done).
    pub peers: usize,
    /// Every piece is verified.
    pub complete: bool,
    /// Paused by [`TorrentHandle::pause`] or after an error.
    pub paused: bool,
    /// An error stopped the torrent ([`TorrentEvent::Error`]).
    pub failed: bool,
    /// The metadata is known (always, except for a magnet link still
    /// fetching it).
    pub has_metadata: bool,
}

/// The handle's view of the driver's metadata.
pub(crate) type MetaSlot = Arc<Mutex<Option<Arc<Metainfo>>>>;
/// The error that stopped the torrent, set by the driver.
pub(crate) type ErrorSlot = Arc<Mutex<Option<TorrentError>>>;

type Registry = Arc<Mutex<HashMap<[u8; 20], mpsc::Sender<Cmd>>>>;

/// The session's torrents; each handle keeps a weak reference to take
/// itself out on [`TorrentHandle::remove`].
type Torrents = Arc<Mutex<Vec<TorrentHandle>>>;

/// A running set of torrents sharing listeners.
pub struct Session {
    cfg: SessionConfig,
    peer_id: [u8; 20],
    registry: Registry,
    quic: Option<QuicEndpoint>,
    tcp_addr: Option<SocketAddr>,
    quic_addr: Option<SocketAddr>,
    acceptors: Vec<JoinHandle<()>>,
    torrents: Torrents,
    lan: LanSlot,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn new_peer_id() -> [u8; 20] {
    use rand::Rng;
    let mut id = *b"-SW0010-000000000000";
    let mut r = rand::thread_rng();
    for b in &mut id[8..] {
        *b = r.sample(rand::distributions::Alphanumeric);
    }
    id
}

/// The LAN catalogue responder, set with [`Session::serve_lan_catalogue`]
/// or [`Session::start_lan`].
type LanSlot = Arc<Mutex<Option<Arc<crate::discovery::presence::Presence>>>>;

async fn route(registry: Registry, lan: LanSlot, mut conn: PeerConn) {
    let Ok(hs) = read_handshake(&mut conn, HANDSHAKE_TIMEOUT).await else {
        return;
    };
    if hs.info_hash == crate::discovery::catalogue::CATALOGUE_HASH {
        let p = lock(&lan).clone();
        if let Some(p) = p {
            let peer_id: [u8; 20] = rand::random();
            let serve = p.serve_catalogue(&mut conn.writer, &peer_id);
            let _ = tokio::time::timeout(HANDSHAKE_TIMEOUT, serve).await;
        }
        return;
    }
    let tx = lock(&registry).get(&hs.info_hash).cloned();
    if let Some(tx) = tx {
        // A full command queue means a busy torrent: refuse the peer.
        let _ = tx.try_send(Cmd::Incoming(conn, hs));
    }
}

impl Session {
    /// Starts the listeners.
    pub async fn new(cfg: SessionConfig) -> Result<Session, SessionError> {
        let registry: Registry = Arc::default();
        let lan: LanSlot = Arc::default();
        let gate = gate::Gate::default();
        let mut acceptors = Vec::new();
        let mut tcp_addr = None;
        if let Some(a) = cfg.listen_tcp {
            let l = TcpTransport::bind(a).await?;
            tcp_addr = Some(l.local_addr()?);
            let (reg, gate, lan) = (registry.clone(), gate.clone(), lan.clone());
            acceptors.push(tokio::spawn(async move {
                loop {
                    let Ok(c) = l.accept().await else {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    };
                    let pass = gate.enter(c.addr.ip());
                    let (reg, lan) = (reg.clone(), lan.clone());
                    tokio::spawn(pass.hold(route(reg, lan, c)));
                }
            }));
        }
        let mut quic = None;
        let mut quic_addr = None;
        if let Some(a) = cfg.listen_quic {
            let id = Arc::new(Identity::generate().map_err(NetError::from)?);
            let q = QuicEndpoint::bind(a, id)?;
            quic_addr = Some(q.local_addr()?);
            let (reg, gate, q2, lan) = (registry.clone(), gate.clone(), q.clone(), lan.clone());
            acceptors.push(tokio::spawn(async move {
                while let Some(incoming) = q2.accept().await {
                    let pass = gate.enter(incoming.remote_address().ip());
                    let (reg, lan) = (reg.clone(), lan.clone());
                    tokio::spawn(pass.hold(async move {
                        if let Ok(Ok(c)) =
                            tokio::time::timeout(HANDSHAKE_TIMEOUT, incoming.accept()).await
                        {
                            route(reg, lan, c).await;
                        }
                    }));
                }
            }));
            quic = Some(q);
        }
        Ok(Session {
            cfg,
            peer_id: new_peer_id(),
            registry,
            quic,
            tcp_addr,
            quic_addr,
            acceptors,
            torrents: Torrents::default(),
            lan,
        })
    }

    /// Answer LAN catalogue requests (handshakes for
    /// [`crate::discovery::catalogue::CATALOGUE_HASH`]) from `presence`.
    /// A later call (or [`Session::start_lan`]) replaces it.
    pub fn serve_lan_catalogue(&self, presence: Arc<crate::discovery::presence::Presence>) {
        *lock(&self.lan) = Some(presence);
    }

    /// The bound TCP address, if listening.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp_addr
    }
    /// The bound QUIC address, if listening.
    pub fn quic_addr(&self) -> Option<SocketAddr> {
        self.quic_addr
    }
    /// Our QUIC certificate fingerprint.
    pub fn fingerprint(&self) -> Option<[u8; 32]> {
        self.quic.as_ref().map(|q| q.fingerprint())
    }

    /// Adds a .torrent file.
    pub async fn add_torrent_file(
        &self,
        path: &Path,
        opts: AddOptions,
    ) -> Result<TorrentHandle, SessionError> {
        let bytes = read_torrent_file(path)?;
        self.add_torrent_bytes(&bytes, opts).await
    }

    /// Adds a torrent from the bytes of a .torrent file. With
    /// `opts.seed` the data must be present; either way data already on
    /// disk is checked (using resume data when it is still valid).
    pub async fn add_torrent_bytes(
        &self,
        bytes: &[u8],
        opts: AddOptions,
    ) -> Result<TorrentHandle, SessionError> {
        let meta = Metainfo::from_bytes(bytes)?;
        self.add_meta(meta, None, opts).await
    }

    /// Adds a magnet link; the metadata is fetched from peers (BEP 9).
    /// Peers in the link (`x.pe`) are dialled over TCP.
    pub async fn add_magnet(
        &self,
        link: &str,
        mut opts: AddOptions,
    ) -> Result<TorrentHandle, SessionError> {
        let m = Magnet::parse(link)?;
        let hashes = InfoHashes { v1: m.v1, v2: m.v2 };
        for p in &m.peers {
            if let Ok(a) = p.parse::<PeerAddr>() {
                opts.peers.push(a);
            }
        }
        let wire = hashes.wire_id();
        let save_dir = opts
            .save_dir
            .clone()
            .unwrap_or_else(|| self.cfg.download_dir.clone());
        let resume_path = self
            .cfg
            .state_dir
            .as_ref()
            .map(|d| resume::path_for(d, wire));
        // Metadata saved by an earlier run (checked against the info-hash).
        if let Some(info) = resume_path
            .as_ref()
            .and_then(|p| std::fs::read(p.with_extension("info")).ok())
        {
            if let Ok(meta) = Metainfo::from_info_bytes(&info, tiers(&m.trackers)) {
                if meta.info_hashes.matches_wire_id(&wire)
                    && (m.v1.is_none() || meta.info_hashes.v1 == m.v1)
                {
                    return self.add_meta(meta, None, opts).await;
                }
            }
        }
        let torrent = Torrent::new(
            self.torrent_cfg(),
            hashes,
            None,
            Bitfield::new(0),
            self.peer_id,
            Instant::now(),
        );
        let name = m.name.clone().unwrap_or_else(|| hex::encode(wire));
        let mut trackers = tiers(&m.trackers);
        trackers.push(opts.trackers.clone());
        let announce = (trackers, u64::from(piece_core::BLOCK_SIZE));
        self.start(
            torrent,
            hashes,
            name,
            link.to_string(),
            save_dir,
            resume_path,
            None,
            None,
            announce,
            opts,
        )
    }

    /// Shares a file or folder in place: makes a hybrid (v1 + v2) torrent
    /// of it and seeds it, reading each file under its own name even where
    /// the torrent's name for it is sanitised (see [`rooted_layout`]). The returned handle's [`TorrentHandle::torrent_bytes`]
    /// holds the .torrent.
    pub async fn share_path(
        &self,
        path: &Path,
        opts: AddOptions,
    ) -> Result<TorrentHandle, SessionError> {
        let p = path.to_path_buf();
        let copts = CreateOptions {
            trackers: opts.trackers.clone(),
            ..Default::default()
        };
        let (created, real) = tokio::task::spawn_blocking(move || {
            let created = create_torrent(&p, &copts, None)?;
            Ok::<_, CreateError>((created, real_files(&p)?))
        })
        .await??;
        let abs = std::fs::canonicalize(path).map_err(|source| SessionError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let parent = abs
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        // The files keep their names on disk, which the torrent's (parsed,
        // sanitised) paths may not be.
        let root = if abs.is_dir() { abs } else { parent.clone() };
        let storage = opts
            .storage
            .clone()
            .or_else(|| Some(rooted_storage(root, Some(real.into()))));
        // We just hashed every piece.
        let opts = AddOptions {
            save_dir: Some(parent),
            storage,
            ..opts
        };
        self.seed_created(created.bytes, opts).await
    }

    /// Seeds a torrent whose data the caller has just hashed (for example
    /// with [`piece_core::create::create_torrent`] over the files at
    /// `opts.save_dir`): every piece is taken as verified without reading
    /// the data again. The caller vouches for the data; peers still never
    /// get a byte that a later read finds changed, since a failed read
    /// stops serving it. For data of unknown provenance use
    /// [`Session::add_torrent_bytes`] with `seed: true`, which verifies.
    pub async fn seed_created(
        &self,
        torrent_bytes: Vec<u8>,
        opts: AddOptions,
    ) -> Result<TorrentHandle, SessionError> {
        let meta = Metainfo::from_bytes(&torrent_bytes)?;
        let have = Bitfield::full(meta.info.lengths.num_pieces());
        let opts = AddOptions { seed: true, ..opts };
        self.add_meta(meta, Some((have, torrent_bytes)), opts).await
    }

    async fn add_meta(
        &self,
        meta: Metainfo,
        known: Option<(Bitfield, Vec<u8>)>,
        opts: AddOptions,
    ) -> Result<TorrentHandle, SessionError> {
        let wire = meta.info_hashes.wire_id();
        if lock(&self.registry).contains_key(&wire) {
            return Err(SessionError::Duplicate);
        }
        let save_dir = opts
            .save_dir
            .clone()
            .unwrap_or_else(|| self.cfg.download_dir.clone());
        let resume_path = self
            .cfg
            .state_dir
            .as_ref()
            .map(|d| resume::path_for(d, wire));
        let hashes = Arc::new(PieceHashes::new(&meta)?);
        let storage = open_storage(
            &opts.storage,
            &save_dir,
            &meta,
            opts.seed,
            self.cfg.seed_with_mmap,
        )?;
        let (have, torrent_bytes) = match known {
            Some((have, bytes)) => (have, Some(bytes)),
            None => {
                let data = match &resume_path {
                    Some(p) => resume::load(p).unwrap_or_else(|e| {
                        tracing::warn!("ignoring resume data: {}", crate::ErrorChain(&e));
                        None
                    }),
                    None => None,
                };
                let (st, h) = (storage.clone(), hashes.clone());
                let r = tokio::task::spawn_blocking(move || {
                    resume::restore(data.as_ref(), wire, st.as_ref(), &h)
                })
                .await?;
                if opts.seed && !r.have.is_full() {
                    return Err(SessionError::IncompleteData {
                        have: r.have.count(),
                        total: r.have.len(),
                    });
                }
                (r.have, None)
            }
        };
        let info_hashes = meta.info_hashes;
        let magnet = meta.magnet();
        let name = meta.info.name.clone();
        let mut trackers = meta.trackers.clone();
        trackers.push(opts.trackers.clone());
        let announce = (trackers, u64::from(meta.info.piece_length));
        let meta = Arc::new(meta);
        let torrent = Torrent::new(
            self.torrent_cfg(),
            info_hashes,
            Some(meta),
            have,
            self.peer_id,
            Instant::now(),
        );
        let h = self.start(
            torrent,
            info_hashes,
            name,
            magnet,
            save_dir,
            resume_path,
            Some((storage, hashes)),
            torrent_bytes,
            announce,
            opts,
        )?;
        Ok(h)
    }

    fn torrent_cfg(&self) -> TorrentConfig {
        TorrentConfig {
            max_peers: self.cfg.max_peers,
            listen_port: self.tcp_addr.map(|a| a.port()),
            quic_port: self.quic_addr.map(|a| a.port()),
            ..self.cfg.torrent.clone()
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn start(
        &self,
        torrent: Torrent,
        info_hashes: InfoHashes,
        name: String,
        magnet: String,
        save_dir: PathBuf,
        resume_path: Option<PathBuf>,
        data: Option<(Arc<dyn Storage>, Arc<PieceHashes>)>,
        torrent_bytes: Option<Vec<u8>>,
        (trackers, piece_len): (Vec<Vec<String>>, u64),
        opts: AddOptions,
    ) -> Result<TorrentHandle, SessionError> {
        let (cmd_tx, cmd_rx) = mpsc::channel(64);
        let (ev_tx, _) = broadcast::channel(1024);
        let st = torrent.stats();
        let (pr_tx, pr_rx) = watch::channel(Progress {
            have_pieces: st.have_pieces,
            num_pieces: st.num_pieces,
            complete: st.complete,
            has_metadata: torrent.metainfo().is_some(),
            ..Default::default()
        });
        {
            let mut reg = lock(&self.registry);
            let ids: Vec<[u8; 20]> = [
                info_hashes.v1.map(|h| h.0),
                info_hashes.v2.map(|h| h.truncated()),
            ]
            .into_iter()
            .flatten()
            .collect();
            if ids.iter().any(|i| reg.contains_key(i)) {
                return Err(SessionError::Duplicate);
            }
            for i in ids {
                reg.insert(i, cmd_tx.clone());
            }
        }
        let (storage, hashes) = match data {
            Some((s, h)) => (Some(s), Some(h)),
            None => (None, None),
        };
        let meta_slot: MetaSlot = Arc::new(Mutex::new(torrent.metainfo().cloned()));
        let error_slot = ErrorSlot::default();
        let driver = Driver::new(DriverInit {
            meta_slot: meta_slot.clone(),
            error_slot: error_slot.clone(),
            torrent,
            hashes,
            storage,
            save_dir,
            resume_path,
            quic: self.quic.clone(),
            storage_factory: opts.storage.clone(),
            events: ev_tx.clone(),
            progress: pr_tx,
            cmds: cmd_rx,
        });
        let task = tokio::spawn(driver.run());
        if opts.paused {
            let _ = cmd_tx.try_send(Cmd::Pause);
        }
        for p in &opts.peers {
            let _ = cmd_tx.try_send(Cmd::AddPeer(*p));
        }
        let announcer = match (self.tcp_addr, trackers.iter().all(Vec::is_empty)) {
            (Some(a), false) => Some(announce::Announcer::start(
                trackers,
                self.cfg.tracker.clone(),
                info_hashes.wire_id(),
                self.peer_id,
                a.port(),
                piece_len,
                pr_rx.clone(),
                cmd_tx.clone(),
            )),
            _ => None,
        };
        let h = TorrentHandle {
            inner: Arc::new(HandleInner {
                meta: meta_slot,
                error: error_slot,
                cmd: cmd_tx,
                events: ev_tx,
                progress: pr_rx,
                info_hashes,
                name,
                magnet,
                torrent_bytes,
                registry: self.registry.clone(),
                torrents: Arc::downgrade(&self.torrents),
                task: Mutex::new(Some(task)),
                announcer: Mutex::new(announcer),
                piece_len,
            }),
        };
        lock(&self.torrents).push(h.clone());
        Ok(h)
    }

    /// The torrents in the session.
    pub fn torrents(&self) -> Vec<TorrentHandle> {
        lock(&self.torrents).clone()
    }

    /// Stops every torrent (saving resume data) and the listeners.
    pub async fn shutdown(self) {
        for a in &self.acceptors {
            a.abort();
        }
        let ts: Vec<TorrentHandle> = lock(&self.torrents).drain(..).collect();
        for t in ts {
            t.remove().await;
        }
        if let Some(q) = &self.quic {
            q.close();
        }
    }
}

/// Magnet trackers as one tier (none if there are none).
fn tiers(trackers: &[String]) -> Vec<Vec<String>> {
    if trackers.is_empty() {
        Vec::new()
    } else {
        vec![trackers.to_vec()]
    }
}

impl Drop for Session {
    /// Stops accepting connections. Torrents keep running until their
    /// handles are removed; call [`Session::shutdown`] to save resume data.
    fn drop(&mut self) {
        for a in &self.acceptors {
            a.abort();
        }
    }
}

fn read_torrent_file(path: &Path) -> Result<Vec<u8>, SessionError> {
    let io = |source| SessionError::Io {
        path: path.to_path_buf(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_TORRENT_FILE {
        return Err(SessionError::TorrentTooLarge {
            path: path.to_path_buf(),
        });
    }
    std::fs::read(path).map_err(io)
}

struct HandleInner {
    cmd: mpsc::Sender<Cmd>,
    meta: MetaSlot,
    error: ErrorSlot,
    events: broadcast::Sender<TorrentEvent>,
    progress: watch::Receiver<Progress>,
    info_hashes: InfoHashes,
    name: String,
    magnet: String,
    torrent_bytes: Option<Vec<u8>>,
    registry: Registry,
    torrents: std::sync::Weak<Mutex<Vec<TorrentHandle>>>,
    task: Mutex<Option<JoinHandle<()>>>,
    announcer: Mutex<Option<announce::Announcer>>,
    piece_len: u64,
}

/// A torrent in a [`Session`]. Cheap to clone.
#[derive(Clone)]
pub struct TorrentHandle {
    inner: Arc<HandleInner>,
}

impl std::fmt::Debug for TorrentHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TorrentHandle")
            .field("name", &self.inner.name)
            .finish_non_exhaustive()
    }
}

impl TorrentHandle {
    /// Events from now on. A receiver that falls more than 1024 events
    /// behind skips the oldest (`RecvError::Lagged`).
    pub fn events(&self) -> broadcast::Receiver<TorrentEvent> {
        self.inner.events.subscribe()
    }
    /// The latest progress snapshot.
    pub fn progress(&self) -> Progress {
        self.inner.progress.borrow().clone()
    }
    /// A receiver that changes with progress.
    pub fn progress_watch(&self) -> watch::Receiver<Progress> {
        self.inner.progress.clone()
    }
    /// Waits until every piece is verified. Fails with
    /// [`SessionError::Torrent`] if the torrent stops on an error, and
    /// [`SessionError::Closed`] if it is removed. It waits as long as it
    /// takes (a torrent nobody seeds never completes): race the future
    /// against your own timer, drop it to stop waiting, or use
    /// [`TorrentHandle::wait_complete_timeout`].
    pub async fn wait_complete(&self) -> Result<(), SessionError> {
        let mut w = self.inner.progress.clone();
        loop {
            {
                let p = w.borrow_and_update();
                if p.complete {
                    return Ok(());
                }
                if p.failed {
                    if let Some(e) = lock(&self.inner.error).clone() {
                        return Err(SessionError::Torrent(e));
                    }
                }
            }
            if w.changed().await.is_err() {
                return Err(SessionError::Closed);
            }
        }
    }
    /// [`TorrentHandle::wait_complete`] for at most `limit`; then
    /// [`SessionError::Timeout`] (the torrent keeps running).
    pub async fn wait_complete_timeout(&self, limit: Duration) -> Result<(), SessionError> {
        tokio::time::timeout(limit, self.wait_complete())
            .await
            .map_err(|_| SessionError::Timeout(limit))?
    }
    /// Closes every connection and stops until [`TorrentHandle::resume`].
    pub async fn pause(&self) {
        let _ = self.inner.cmd.send(Cmd::Pause).await;
    }
    /// Restarts a paused (or failed) torrent.
    pub async fn resume(&self) {
        let _ = self.inner.cmd.send(Cmd::Resume).await;
    }
    /// Adds a peer to dial.
    pub async fn add_peer(&self, addr: PeerAddr) {
        let _ = self.inner.cmd.send(Cmd::AddPeer(addr)).await;
    }
    /// Adds a swarm peer known to listen on both transports (e.g. from
    /// mDNS): dialled over QUIC at `quic` first, and over TCP at `tcp` if
    /// the QUIC dial fails or has not connected within [`QUIC_FALLBACK`].
    /// Without QUIC in this session, only `tcp` is dialled.
    pub async fn add_swarm_peer(&self, tcp: SocketAddr, quic: SocketAddr) {
        let _ = self.inner.cmd.send(Cmd::AddSwarmPeer { tcp, quic }).await;
    }
    /// The peers connected now (handshake done), by address.
    pub async fn peers(&self) -> Vec<PeerInfo> {
        let (tx, rx) = oneshot::channel();
        if self.inner.cmd.send(Cmd::Peers(tx)).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }
    /// Stops the torrent (saving resume data) and removes it from the
    /// session: its routing, and [`Session::torrents`], so the session no
    /// longer holds it (the torrent's memory goes with the last clone of
    /// this handle). Data stays on disk.
    pub async fn remove(&self) {
        if let Some(ts) = self.inner.torrents.upgrade() {
            lock(&ts).retain(|h| !Arc::ptr_eq(&h.inner, &self.inner));
        }
        let announcer = lock(&self.inner.announcer).take();
        if let Some(a) = announcer {
            a.stop(self.inner.piece_len).await;
        }
        {
            let mut reg = lock(&self.inner.registry);
            reg.retain(|_, tx| !tx.same_channel(&self.inner.cmd));
        }
        let (tx, rx) = oneshot::channel();
        if self.inner.cmd.send(Cmd::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
        let task = lock(&self.inner.task).take();
        if let Some(t) = task {
            let _ = t.await;
        }
    }
    /// A magnet link for the torrent.
    pub fn magnet(&self) -> String {
        self.inner.magnet.clone()
    }
    /// The torrent's info-hashes.
    pub fn info_hashes(&self) -> InfoHashes {
        self.inner.info_hashes
    }
    /// The torrent's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }
    /// The torrent's metadata once known (at once for a .torrent, when
    /// fetched for a magnet link); for a v2 magnet it gains the piece
    /// layers as they are fetched, and holds all of them once complete.
    /// [`Metainfo::to_torrent_bytes`] makes a .torrent file of it.
    pub fn metainfo(&self) -> Option<Arc<Metainfo>> {
        lock(&self.inner.meta).clone()
    }
    /// For [`Session::share_path`]: the .torrent file made.
    pub fn torrent_bytes(&self) -> Option<&[u8]> {
        self.inner.torrent_bytes.as_deref()
    }
}
