//! The per-torrent task: owns the [`Torrent`] state machine and feeds it
//! from sockets, timers and hashing jobs.
//!
//! - every connection has a reader task (bytes go to the driver through
//!   one bounded channel: a slow driver slows the readers down) and a
//!   writer task, which reports every write to the state machine
//!   ([`Torrent::handle_sent`]): the state machine bounds what is queued
//!   per peer and in total, and drops a peer that does not read
//!   (`proto::backpressure`); the writer of a closed connection flushes
//!   for at most [`CLOSE_LINGER`], of one dropped for not reading not at
//!   all;
//! - timers come from [`Torrent::poll_timeout`];
//! - disk jobs ([`Torrent::poll_disk`]: writes, hash checks, reads) run on
//!   the process's disk pool (`session::disk`) and come back as
//!   [`Torrent::handle_disk`]; the state machine bounds what is out
//!   (`proto::disk`);
//! - the resume file is saved while pieces complete, in the background
//!   (one save at a time), at most every [`RESUME_DEBOUNCE`] and never
//!   more often than [`RESUME_COST_FACTOR`] times the last save took (a
//!   save stats every file: with 100,000 files it takes seconds, and
//!   saving every second would leave no time to download); and in the
//!   foreground on completion and on shutdown.
//!
//! - which transport to dial, moving TCP peers to QUIC and falling back
//!   to TCP are decided by [`QuicPolicy`] (`proto::quic`); the driver
//!   feeds it connection events and carries out its [`QuicAction`]s.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use piece_core::hash::PieceHashes;
use piece_core::metainfo::Metainfo;
use piece_core::storage::Storage;
use piece_core::Bitfield;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use super::disk::{self, Inbox, TorrentDisk};
use super::rate::RateMeter;
use super::{ErrorSlot, PeerInfo, Progress, StorageFactory, TorrentError, TorrentEvent};
use crate::net::{tcp, NetError, PeerAddr, PeerConn, QuicEndpoint};
use crate::proto::{
    ConnId, Direction, DisconnectReason, Event, QuicAction, QuicPolicy, Torrent, TransportKind,
};
use crate::resume;
use crate::wire::Handshake;

/// How long the writer of a closed connection may still flush.
pub const CLOSE_LINGER: Duration = Duration::from_secs(5);
/// Least time between two resume saves while downloading.
pub const RESUME_DEBOUNCE: Duration = Duration::from_secs(1);
/// While downloading, the gap between two resume saves is at least this
/// many times what the last one took (saves use at most ~5% of the time).
pub const RESUME_COST_FACTOR: u32 = 20;
/// Bytes read from a socket at a time.
const READ_CHUNK: usize = 64 * 1024;

/// Commands from the session and handles.
pub(crate) enum Cmd {
    AddPeer(PeerAddr),
    Incoming(PeerConn, Handshake),
    /// A swarm peer reachable over QUIC at `quic` and over TCP at `tcp`.
    AddSwarmPeer {
        tcp: SocketAddr,
        quic: SocketAddr,
    },
    /// The peers whose handshake completed.
    Peers(oneshot::Sender<Vec<PeerInfo>>),
    Pause,
    Resume,
    /// Save resume data and stop.
    Shutdown(oneshot::Sender<()>),
}

enum Internal {
    Data(ConnId, Bytes),
    /// The writer wrote this many bytes of the connection's transmits.
    Sent(ConnId, usize),
    Closed(ConnId),
    Dialed(SocketAddr, Result<PeerConn, NetError>),
    Metadata(Box<Result<MetadataReady, TorrentError>>),
    /// A background resume save finished.
    ResumeSaved(Result<Duration, resume::SaveError>),
}

/// A magnet's parsed metadata, its storage, hashes and verified pieces.
type MetadataReady = (Arc<Metainfo>, Arc<dyn Storage>, Arc<PieceHashes>, Bitfield);

struct ConnHandle {
    tx: mpsc::UnboundedSender<Bytes>,
    reader: tokio::task::JoinHandle<()>,
    writer: tokio::task::AbortHandle,
    kind: TransportKind,
    addr: SocketAddr,
    dir: Direction,
    /// Set when the handshake completed.
    peer_id: Option<[u8; 20]>,
}

/// Everything a driver needs to start.
pub(crate) struct DriverInit {
    pub meta_slot: super::MetaSlot,
    pub error_slot: ErrorSlot,
    pub torrent: Torrent,
    pub hashes: Option<Arc<PieceHashes>>,
    pub storage: Option<Arc<dyn Storage>>,
    pub save_dir: PathBuf,
    pub resume_path: Option<PathBuf>,
    pub quic: Option<QuicEndpoint>,
    pub storage_factory: Option<StorageFactory>,
    pub events: broadcast::Sender<TorrentEvent>,
    pub progress: watch::Sender<Progress>,
    pub cmds: mpsc::Receiver<Cmd>,
}

pub(crate) struct Driver {
    meta_slot: super::MetaSlot,
    /// The error that stopped the torrent, for `wait_complete`.
    error_slot: ErrorSlot,
    t: Torrent,
    hashes: Option<Arc<PieceHashes>>,
    storage: Option<Arc<dyn Storage>>,
    save_dir: PathBuf,
    resume_path: Option<PathBuf>,
    quic: Option<QuicEndpoint>,
    /// Which transport to dial; moves to QUIC and fallbacks to TCP.
    policy: QuicPolicy,
    storage_factory: Option<StorageFactory>,
    events: broadcast::Sender<TorrentEvent>,
    progress: watch::Sender<Progress>,
    cmds: mpsc::Receiver<Cmd>,
    int_tx: mpsc::Sender<Internal>,
    int_rx: mpsc::Receiver<Internal>,
    conns: HashMap<ConnId, ConnHandle>,
    next_conn: u64,
    /// The data as the disk pool sees it, once known.
    disk: Option<Arc<TorrentDisk>>,
    /// Disk jobs out.
    disk_out: usize,
    /// Where their results arrive.
    inbox: Arc<Inbox>,
    resume_dirty: bool,
    /// When the next background save may start.
    next_save: Instant,
    /// A background save is running.
    saving: bool,
    save_order: resume::SaveOrder,
    save_seq: u64,
    failed: bool,
    metadata_pending: bool,
    /// v2 magnets: the metainfo with the piece layers received so far.
    layered: Option<Metainfo>,
    /// Rates of [`Progress`], from the cumulative counters.
    down_meter: RateMeter,
    up_meter: RateMeter,
}

impl Driver {
    pub(crate) fn new(init: DriverInit) -> Self {
        let (int_tx, int_rx) = mpsc::channel(256);
        let disk = match (&init.storage, &init.hashes) {
            (Some(s), Some(h)) => Some(TorrentDisk::new(s.clone(), h.clone())),
            _ => None,
        };
        Driver {
            meta_slot: init.meta_slot,
            error_slot: init.error_slot,
            t: init.torrent,
            hashes: init.hashes,
            storage: init.storage,
            save_dir: init.save_dir,
            resume_path: init.resume_path,
            quic: init.quic.clone(),
            policy: QuicPolicy::new(init.quic.is_some()),
            storage_factory: init.storage_factory,
            events: init.events,
            progress: init.progress,
            cmds: init.cmds,
            int_tx,
            int_rx,
            conns: HashMap::new(),
            next_conn: 0,
            disk,
            disk_out: 0,
            inbox: Arc::default(),
            // Save soon after start: records what was found (or created)
            // so that a restart, even after SIGKILL, need not rehash.
            resume_dirty: true,
            next_save: Instant::now() + RESUME_DEBOUNCE,
            saving: false,
            save_order: resume::SaveOrder::default(),
            save_seq: 0,
            failed: false,
            metadata_pending: false,
            layered: None,
            down_meter: RateMeter::new(Instant::now(), 0),
            up_meter: RateMeter::new(Instant::now(), 0),
        }
    }

    /// Runs until shutdown (or every handle is gone).
    pub(crate) async fn run(mut self) {
        let mut shutdown_ack = None;
        loop {
            self.drain();
            let now = Instant::now();
            let mut deadline = self
                .t
                .poll_timeout()
                .unwrap_or(now + Duration::from_secs(3600));
            if self.resume_dirty && !self.saving {
                deadline = deadline.min(self.next_save);
            }
            if let Some(t) = self.policy.poll_timeout() {
                deadline = deadline.min(t);
            }
            let sleep = tokio::time::sleep_until(deadline.max(now).into());
            tokio::select! {
                cmd = self.cmds.recv() => match cmd {
                    None => break,
                    Some(Cmd::Shutdown(ack)) => { shutdown_ack = Some(ack); break; }
                    Some(c) => self.on_cmd(c),
                },
                Some(m) = self.int_rx.recv() => self.on_internal(m),
                _ = self.inbox.notify.notified() => self.on_disk_done(),
                _ = sleep => {
                    let now = Instant::now();
                    if self.t.poll_timeout().is_some_and(|d| d <= now) {
                        self.t.handle_timeout(now);
                    }
                    if self.policy.poll_timeout().is_some_and(|d| d <= now) {
                        self.policy.handle_timeout(now);
                    }
                    if self.resume_dirty && !self.saving && self.next_save <= now {
                        self.save_resume_in_background();
                    }
                }
            }
        }
        // Shutdown: stop the peers, wait for the disk jobs out (writes,
        // hash checks), save.
        self.t.pause(Instant::now());
        self.drain();
        for (_, c) in self.conns.drain() {
            c.reader.abort();
        }
        while self.disk_out > 0 {
            self.inbox.notify.notified().await;
            self.on_disk_done();
            self.submit_disk_jobs();
        }
        self.drain_events();
        if let Some(s) = &self.storage {
            let _ = s.flush();
        }
        self.save_resume();
        self.publish();
        if let Some(ack) = shutdown_ack {
            let _ = ack.send(());
        }
    }

    fn on_cmd(&mut self, c: Cmd) {
        let now = Instant::now();
        match c {
            Cmd::AddPeer(a) => {
                if self
                    .policy
                    .handle_peer(a.addr(), matches!(a, PeerAddr::Quic(_)))
                {
                    self.t.add_peers(now, &[a.addr()]);
                }
            }
            Cmd::AddSwarmPeer { tcp, quic } => {
                let a = self.policy.handle_swarm_peer(now, tcp, quic);
                self.t.add_peers(now, &[a]);
            }
            Cmd::Peers(tx) => {
                let mut v: Vec<PeerInfo> = self
                    .conns
                    .values()
                    .filter_map(|h| {
                        Some(PeerInfo {
                            addr: h.addr,
                            transport: h.kind,
                            peer_id: h.peer_id?,
                        })
                    })
                    .collect();
                v.sort_by_key(|p| p.addr);
                let _ = tx.send(v);
            }
            Cmd::Incoming(conn, hs) => {
                let id = self.new_conn_id();
                let (addr, kind) = (conn.addr, conn.transport);
                self.start_conn(id, conn, Direction::Incoming);
                self.t.handle_incoming(now, id, addr, hs, &[], kind);
            }
            Cmd::Pause => self.t.pause(now),
            Cmd::Resume => {
                self.failed = false;
                *super::lock(&self.error_slot) = None;
                self.t.resume(now)
            }
            Cmd::Shutdown(_) => {}
        }
    }

    fn on_internal(&mut self, m: Internal) {
        let now = Instant::now();
        match m {
            Internal::Data(c, b) => self.t.handle_data(now, c, &b),
            Internal::Sent(c, n) => self.t.handle_sent(now, c, n),
            Internal::Closed(c) => {
                self.conn_gone(c, None);
                self.t.handle_closed(now, c);
            }
            Internal::Dialed(addr, Ok(conn)) => {
                let id = self.new_conn_id();
                let kind = conn.transport;
                self.start_conn(id, conn, Direction::Outgoing);
                self.t
                    .handle_connected(now, id, addr, Direction::Outgoing, kind);
            }
            Internal::Dialed(addr, Err(e)) => {
                self.emit(TorrentEvent::DialFailed {
                    addr,
                    error: Arc::new(e),
                });
                self.t.handle_connect_failed(now, addr);
                self.policy.handle_dial_failed(addr);
            }
            Internal::Metadata(r) => self.on_metadata_ready(*r),
            Internal::ResumeSaved(r) => {
                self.saving = false;
                let took = r.unwrap_or_else(|e| {
                    self.emit(TorrentEvent::Error(save_error(e)));
                    Duration::ZERO
                });
                self.next_save = now + RESUME_DEBOUNCE.max(took * RESUME_COST_FACTOR);
            }
        }
    }

    fn new_conn_id(&mut self) -> ConnId {
        self.next_conn += 1;
        ConnId(self.next_conn)
    }

    fn start_conn(&mut self, id: ConnId, conn: PeerConn, dir: Direction) {
        let PeerConn {
            mut reader,
            mut writer,
            quic,
            transport: kind,
            addr,
            ..
        } = conn;
        self.policy.handle_open(addr, kind);
        let int = self.int_tx.clone();
        let reader_task = tokio::spawn(async move {
            let mut buf = BytesMut::with_capacity(READ_CHUNK);
            loop {
                buf.reserve(READ_CHUNK);
                match reader.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if int
                            .send(Internal::Data(id, buf.split().freeze()))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            }
            let _ = int.send(Internal::Closed(id)).await;
        });
        // Unbounded: the state machine bounds what it queues (it is told of
        // every write).
        let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
        let int = self.int_tx.clone();
        let writer_task = tokio::spawn(async move {
            let _quic = quic; // keeps the QUIC connection open while writing
            while let Some(b) = rx.recv().await {
                let mut pos = 0;
                while pos < b.len() {
                    match writer.write(&b[pos..]).await {
                        Ok(n) if n > 0 => {
                            pos += n;
                            let _ = int.send(Internal::Sent(id, n)).await;
                        }
                        _ => {
                            let _ = int.send(Internal::Closed(id)).await;
                            return;
                        }
                    }
                }
            }
            let _ = writer.shutdown().await;
            if let Some(c) = &_quic {
                // Give the peer a moment to read what we sent.
                let _ = tokio::time::timeout(Duration::from_secs(2), c.closed()).await;
            }
        });
        self.conns.insert(
            id,
            ConnHandle {
                tx,
                reader: reader_task,
                writer: writer_task.abort_handle(),
                kind,
                addr,
                dir,
                peer_id: None,
            },
        );
    }

    /// A connection closed: by the peer or the network (`reason` `None`),
    /// or by the state machine. Its writer flushes for at most
    /// [`CLOSE_LINGER`] (not at all for a peer dropped for not reading),
    /// then closes. The QUIC policy hears of it (a QUIC connection that
    /// closes before its handshake falls back to TCP).
    fn conn_gone(&mut self, c: ConnId, reason: Option<DisconnectReason>) {
        if let Some(h) = self.conns.remove(&c) {
            h.reader.abort();
            if reason != Some(DisconnectReason::NotReading) {
                let w = h.writer.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(CLOSE_LINGER).await;
                    w.abort();
                });
            } else {
                h.writer.abort();
            }
            if h.peer_id.is_some() {
                self.emit(TorrentEvent::PeerDisconnected {
                    addr: h.addr,
                    reason,
                });
            }
            self.policy
                .handle_closed(h.addr, h.kind, h.peer_id.is_some());
        }
    }

    /// Drains every output of the state machine.
    fn drain(&mut self) {
        loop {
            let mut any = false;
            while let Some(tr) = self.t.poll_transmit() {
                any = true;
                self.send(tr.conn, tr.data);
            }
            any |= self.drain_events();
            any |= self.submit_disk_jobs();
            while let Some(addr) = self.t.poll_connect() {
                any = true;
                self.dial(addr);
            }
            while let Some(a) = self.policy.poll_action() {
                any = true;
                match a {
                    QuicAction::DialQuic(q) => {
                        tracing::debug!("moving a peer to QUIC: dialling quic://{q}");
                        self.spawn_dial(q, self.quic.clone());
                    }
                    QuicAction::AddTcpPeer(tcp) => {
                        tracing::debug!("QUIC did not work out; dialling {tcp} over TCP");
                        self.t.add_peers(Instant::now(), &[tcp]);
                    }
                }
            }
            if !any {
                break;
            }
        }
        self.publish();
    }

    fn send(&mut self, conn: ConnId, data: Bytes) {
        let Some(h) = self.conns.get(&conn) else {
            return;
        };
        if h.tx.send(data).is_err() {
            self.conn_gone(conn, None);
            self.t.handle_closed(Instant::now(), conn);
        }
    }

    fn dial(&mut self, addr: SocketAddr) {
        let quic = match self.policy.transport_for(addr) {
            TransportKind::Quic => self.quic.clone(),
            _ => None,
        };
        self.spawn_dial(addr, quic);
    }

    /// Dials `addr`, over QUIC with `quic`, else TCP.
    fn spawn_dial(&self, addr: SocketAddr, quic: Option<QuicEndpoint>) {
        let int = self.int_tx.clone();
        tokio::spawn(async move {
            let r = match quic {
                Some(q) => {
                    match tokio::time::timeout(tcp::CONNECT_TIMEOUT, q.connect(addr, None)).await {
                        Ok(r) => r,
                        Err(_) => Err(NetError::Timeout { addr }),
                    }
                }
                None => tcp::connect(addr).await,
            };
            let _ = int.send(Internal::Dialed(addr, r)).await;
        });
    }

    /// Hands the state machine's disk jobs to the pool (one batch per
    /// drain); returns whether there were any.
    fn submit_disk_jobs(&mut self) -> bool {
        let mut jobs = Vec::new();
        while let Some(job) = self.t.poll_disk() {
            jobs.push(job);
        }
        let any = !jobs.is_empty();
        // no data yet: cannot happen (jobs need metadata)
        if let (Some(d), true) = (self.disk.as_ref(), any) {
            self.disk_out += jobs.len();
            disk::submit(d, jobs, &self.inbox);
        }
        any
    }

    /// Disk jobs finished: their results go to the state machine.
    fn on_disk_done(&mut self) {
        let now = Instant::now();
        for d in self.inbox.take() {
            self.disk_out = self.disk_out.saturating_sub(1);
            self.t.handle_disk(now, d);
        }
    }

    /// Returns whether anything was drained.
    fn drain_events(&mut self) -> bool {
        let mut any = false;
        while let Some(e) = self.t.poll_event() {
            any = true;
            match e {
                Event::PeerConnected {
                    addr,
                    conn,
                    peer_id,
                } => {
                    let transport = self.conn_kind(conn);
                    if let Some(h) = self.conns.get_mut(&conn) {
                        h.peer_id = Some(peer_id);
                        self.policy.handle_handshake(h.addr, h.kind);
                    }
                    self.emit(TorrentEvent::PeerConnected { addr, transport });
                }
                Event::QuicOffered {
                    conn,
                    addr,
                    port,
                    tcp_port,
                } => {
                    if let Some(h) = self.conns.get(&conn) {
                        let (kind, dir) = (h.kind, h.dir);
                        self.policy
                            .handle_quic_offered(kind, dir, addr, port, tcp_port);
                    }
                }
                Event::PieceVerified(p) => {
                    self.resume_dirty = true;
                    self.emit(TorrentEvent::PieceVerified(p.get()));
                }
                Event::PieceFailed { piece, .. } => {
                    self.emit(TorrentEvent::PieceFailed(piece.get()))
                }
                Event::Complete => {
                    if let Some(s) = &self.storage {
                        // Creates empty files too.
                        if let Err(e) = s.ensure_files().and_then(|_| s.flush()) {
                            self.emit(TorrentEvent::Error(TorrentError::Flush(Arc::new(e))));
                        }
                    }
                    self.save_resume();
                    if let Some(m) = &self.layered {
                        // Every piece layer is known now.
                        *super::lock(&self.meta_slot) = Some(Arc::new(m.clone()));
                    }
                    self.emit(TorrentEvent::Complete);
                }
                Event::MetadataReceived(info) => self.on_metadata(info),
                Event::PeerBanned { addr, reason, .. } => {
                    self.emit(TorrentEvent::PeerBanned { addr, reason })
                }
                Event::Disconnect { conn, reason } => {
                    tracing::debug!(conn = conn.0, %reason, "disconnecting peer");
                    // Dropping the sender lets the writer flush what is
                    // queued (briefly), then close; a peer that does not
                    // read gets nothing more.
                    self.conn_gone(conn, Some(reason));
                }
                Event::PieceLayer {
                    pieces_root,
                    hashes,
                } => self.on_piece_layer(pieces_root, &hashes),
                Event::StorageFailed { piece, error } => self.fail(TorrentError::Storage {
                    piece: piece.get(),
                    source: error,
                }),
            }
        }
        any
    }

    fn conn_kind(&self, conn: ConnId) -> TransportKind {
        self.conns.get(&conn).map_or(TransportKind::Tcp, |h| h.kind)
    }

    /// Magnet metadata arrived: parse it, open storage and check data
    /// already on disk off the async threads.
    fn on_metadata(&mut self, info: Vec<u8>) {
        if self.metadata_pending || self.t.metainfo().is_some() {
            return;
        }
        self.metadata_pending = true;
        let factory = self.storage_factory.clone();
        let save_dir = self.save_dir.clone();
        let resume_path = self.resume_path.clone();
        let wire = self.t.info_hashes().wire_id();
        let int = self.int_tx.clone();
        tokio::task::spawn_blocking(move || {
            let r = (|| -> Result<MetadataReady, TorrentError> {
                let meta = Metainfo::from_info_bytes(&info, Vec::new())
                    .map_err(|e| TorrentError::Metadata(Arc::new(e)))?;
                let hashes =
                    PieceHashes::new(&meta).map_err(|e| TorrentError::Hashes(Arc::new(e)))?;
                // A download: the mmap choice for seeding does not apply.
                let st = super::open_storage(&factory, &save_dir, &meta, false, true)
                    .map_err(|e| TorrentError::OpenStorage(Arc::new(e)))?;
                if let Some(p) = &resume_path {
                    // Lets a restart skip fetching the metadata again.
                    let _ = resume::write_atomically(&p.with_extension("info"), &info);
                }
                let data = resume_path
                    .as_ref()
                    .and_then(|p| resume::load(p).ok().flatten());
                let have = resume::restore(data.as_ref(), wire, st.as_ref(), &hashes).have;
                Ok((Arc::new(meta), st, Arc::new(hashes), have))
            })();
            let _ = int.blocking_send(Internal::Metadata(Box::new(r)));
        });
    }

    /// v2 magnets: a verified piece layer; piece checks of that file can
    /// now use it.
    fn on_piece_layer(&mut self, root: [u8; 32], layer: &[[u8; 32]]) {
        if self.layered.is_none() {
            self.layered = self.t.metainfo().map(|m| (**m).clone());
        }
        let Some(m) = self.layered.as_mut() else {
            return;
        };
        match m
            .add_piece_layer(root, layer)
            .map_err(|e| e.to_string())
            .and_then(|_| PieceHashes::new(m).map_err(|e| e.to_string()))
        {
            Ok(h) => {
                let h = Arc::new(h);
                if let Some(d) = &self.disk {
                    *super::lock(&d.hashes) = h.clone();
                }
                self.hashes = Some(h);
            }
            Err(e) => tracing::warn!("piece layer refused: {e}"),
        }
    }

    fn on_metadata_ready(&mut self, r: Result<MetadataReady, TorrentError>) {
        self.metadata_pending = false;
        match r {
            Ok((meta, st, hashes, have)) => {
                self.disk = Some(TorrentDisk::new(st.clone(), hashes.clone()));
                self.storage = Some(st);
                self.hashes = Some(hashes);
                *super::lock(&self.meta_slot) = Some(meta.clone());
                self.t.handle_metadata(Instant::now(), meta.clone(), have);
                self.emit(TorrentEvent::MetadataReceived {
                    name: meta.info.name.clone(),
                });
            }
            Err(e) => self.fail(e),
        }
    }

    /// What a resume save needs, numbered; `None` without a resume file
    /// or data.
    #[allow(clippy::type_complexity)]
    fn resume_job(&mut self) -> Option<(u64, PathBuf, [u8; 20], Bitfield, Arc<dyn Storage>)> {
        self.resume_dirty = false;
        let (Some(path), Some(st), Some(have)) = (&self.resume_path, &self.storage, self.t.have())
        else {
            return None;
        };
        self.save_seq += 1;
        let wire = self.t.info_hashes().wire_id();
        Some((self.save_seq, path.clone(), wire, have.clone(), st.clone()))
    }

    /// Saves now, in the foreground (completion, shutdown).
    fn save_resume(&mut self) {
        if let Some((seq, path, wire, have, st)) = self.resume_job() {
            if let Err(e) = self.save_order.save(seq, &path, wire, &have, st.as_ref()) {
                self.emit(TorrentEvent::Error(save_error(e)));
            }
        }
    }

    fn save_resume_in_background(&mut self) {
        let Some((seq, path, wire, have, st)) = self.resume_job() else {
            return;
        };
        self.saving = true;
        let (order, int) = (self.save_order.clone(), self.int_tx.clone());
        tokio::task::spawn_blocking(move || {
            let r = order.save(seq, &path, wire, &have, st.as_ref());
            let _ = int.blocking_send(Internal::ResumeSaved(r));
        });
    }

    fn emit(&self, e: TorrentEvent) {
        let _ = self.events.send(e);
    }

    /// The torrent stops on `e` (until resumed).
    fn fail(&mut self, e: TorrentError) {
        self.failed = true;
        *super::lock(&self.error_slot) = Some(e.clone());
        self.emit(TorrentEvent::Error(e));
    }

    fn publish(&mut self) {
        let s = self.t.stats();
        let now = Instant::now();
        let p = Progress {
            have_pieces: s.have_pieces,
            num_pieces: s.num_pieces,
            downloaded: s.downloaded,
            uploaded: s.uploaded,
            download_rate: self.down_meter.update(now, s.downloaded),
            upload_rate: self.up_meter.update(now, s.uploaded),
            peers: s.peers,
            complete: s.complete,
            paused: s.paused,
            failed: self.failed,
            has_metadata: self.t.metainfo().is_some(),
        };
        self.progress.send_if_modified(|old| {
            if *old != p {
                *old = p;
                true
            } else {
                false
            }
        });
    }
}

/// The typed event error of a failed resume save.
fn save_error(e: resume::SaveError) -> TorrentError {
    match e {
        resume::SaveError::Flush(e) => TorrentError::Flush(Arc::new(e)),
        resume::SaveError::Save(e) => TorrentError::SaveResume(Arc::new(e)),
    }
}
