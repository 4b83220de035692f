//! [`Torrent`]: connection lifecycle, outputs, timers and control.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use piece_core::metainfo::Metainfo;
use piece_core::{Bitfield, InfoHashes, Lengths};

use super::bans::BanList;
use super::layers::LayerFetch;
use super::metadata::MetadataFetch;
use super::peer::Peer;
use super::picker::Picker;
use super::{
    ConnId, Direction, DisconnectReason, Event, PeerMisbehaved, TorrentConfig, TorrentStats,
    Transmit, TransportKind,
};
use crate::wire::{self, Decoded, Handshake, Message, Reserved, MAX_MESSAGE_LEN};

/// Period of the internal housekeeping timer (rates, timeouts, choking).
pub(crate) const TICK: Duration = Duration::from_secs(1);

/// One torrent and all its peer connections, as a state machine without
/// I/O. See the [module documentation](super) for how the glue drives it.
pub struct Torrent {
    pub(crate) cfg: TorrentConfig,
    pub(crate) info_hashes: InfoHashes,
    pub(crate) meta: Option<Arc<Metainfo>>,
    pub(crate) lengths: Option<Lengths>,
    pub(crate) picker: Option<Picker>,
    pub(crate) peer_id: [u8; 20],
    pub(crate) peers: BTreeMap<ConnId, Peer>,
    pub(crate) events: VecDeque<Event>,
    /// Disk jobs and their bounds (`proto::disk`).
    pub(crate) disk: super::disk::DiskState,
    pub(crate) candidates: VecDeque<SocketAddr>,
    pub(crate) dialing: BTreeSet<SocketAddr>,
    pub(crate) dials: super::dials::Dials,
    pub(crate) banned: BanList,
    pub(crate) parole: BTreeSet<SocketAddr>,
    pub(crate) paused: bool,
    pub(crate) now: Instant,
    next_tick: Instant,
    pub(crate) next_choke: Instant,
    pub(crate) next_optimistic: Instant,
    pub(crate) optimistic: Option<ConnId>,
    pub(crate) stats: TorrentStats,
    down_tick: u64,
    up_tick: u64,
    pub(crate) upload_tokens: u64,
    pub(crate) md: Option<MetadataFetch>,
    pub(crate) layers: Option<LayerFetch>,
    pub(crate) complete_sent: bool,
    /// Hash trees of the files we serve hashes of.
    pub(crate) trees: super::trees::TreeCache,
    /// Bytes of the info dictionary copied into metadata answers (a test
    /// counts the work a request costs).
    pub(crate) metadata_copied: u64,
}

impl Torrent {
    /// A torrent. `meta` is `None` for a magnet link until
    /// [`Torrent::handle_metadata`]; `have` holds the pieces already
    /// verified (resume data or a seed), one bit per piece. The data is
    /// read and written by the glue ([`Torrent::poll_disk`]).
    pub fn new(
        cfg: TorrentConfig,
        info_hashes: InfoHashes,
        meta: Option<Arc<Metainfo>>,
        have: Bitfield,
        peer_id: [u8; 20],
        now: Instant,
    ) -> Self {
        let dials = super::dials::Dials::new(cfg.max_dials_per_sec);
        let mut t = Torrent {
            cfg,
            info_hashes,
            meta: None,
            lengths: None,
            picker: None,
            peer_id,
            peers: BTreeMap::new(),
            events: VecDeque::new(),
            disk: Default::default(),
            candidates: VecDeque::new(),
            dialing: BTreeSet::new(),
            dials,
            banned: BanList::default(),
            parole: BTreeSet::new(),
            paused: false,
            now,
            next_tick: now + TICK,
            next_choke: now + TICK,
            next_optimistic: now,
            optimistic: None,
            stats: TorrentStats::default(),
            down_tick: 0,
            up_tick: 0,
            upload_tokens: 0,
            md: None,
            layers: None,
            complete_sent: false,
            trees: Default::default(),
            metadata_copied: 0,
        };
        if let Some(m) = meta {
            t.install_metadata(m, have);
        }
        t
    }

    fn install_metadata(&mut self, meta: Arc<Metainfo>, have: Bitfield) {
        let lengths = meta.info.lengths;
        let have = if have.len() == lengths.num_pieces() {
            have
        } else {
            Bitfield::new(lengths.num_pieces())
        };
        self.complete_sent = have.is_full();
        let mut picker = Picker::new(&meta.info.layout, have, self.cfg.seed);
        self.layers = match LayerFetch::for_meta(&meta) {
            Some((lf, blocked)) => {
                picker.block(blocked);
                Some(lf)
            }
            None => None,
        };
        self.picker = Some(picker);
        self.lengths = Some(lengths);
        self.meta = Some(meta);
        self.md = None;
    }

    /// The verified pieces (for resume files).
    pub fn have(&self) -> Option<&Bitfield> {
        self.picker.as_ref().map(|p| p.have())
    }
    /// The torrent's info-hashes.
    pub fn info_hashes(&self) -> &InfoHashes {
        &self.info_hashes
    }
    /// The metainfo, once known.
    pub fn metainfo(&self) -> Option<&Arc<Metainfo>> {
        self.meta.as_ref()
    }
    /// Is every piece verified?
    pub fn is_complete(&self) -> bool {
        self.picker.as_ref().is_some_and(|p| p.is_complete())
    }
    /// Is this address (and port) banned?
    pub fn is_banned(&self, addr: SocketAddr) -> bool {
        self.banned.contains(addr, self.now)
    }

    /// Counters and rates.
    pub fn stats(&self) -> TorrentStats {
        let mut s = self.stats.clone();
        s.peers = self.peers.values().filter(|p| p.active).count();
        s.have_pieces = self.have().map_or(0, |h| h.count());
        s.num_pieces = self.lengths.map_or(0, |l| l.num_pieces());
        s.complete = self.is_complete();
        s.paused = self.paused;
        s.banned = self.banned.len();
        s.queued = self.queued_total();
        s.disk_queued = self.disk.writing;
        s
    }

    /// Stops the torrent: every connection is closed and no new one is
    /// accepted or dialled until [`Torrent::resume`].
    pub fn pause(&mut self, now: Instant) {
        self.now = now;
        self.paused = true;
        let conns: Vec<ConnId> = self.peers.keys().copied().collect();
        for c in conns {
            self.drop_peer(c, DisconnectReason::Paused);
        }
    }

    /// Restarts a paused torrent.
    pub fn resume(&mut self, now: Instant) {
        self.now = now;
        self.paused = false;
        self.next_tick = now;
    }

    /// A connection is open. For outgoing ones we send our handshake now;
    /// for incoming ones we wait for the peer's.
    pub fn handle_connected(
        &mut self,
        now: Instant,
        conn: ConnId,
        addr: SocketAddr,
        dir: Direction,
        transport: TransportKind,
    ) {
        self.now = now;
        self.dialing.remove(&addr);
        if !self.admit(conn, addr) {
            return;
        }
        let mut p = Peer::new(conn, addr, dir, transport, now);
        if dir == Direction::Outgoing {
            self.encode_handshake(&mut p.out);
        }
        self.peers.insert(conn, p);
    }

    /// An incoming connection whose handshake the glue already read (to
    /// route it by info-hash). `rest` is whatever followed the handshake.
    pub fn handle_incoming(
        &mut self,
        now: Instant,
        conn: ConnId,
        addr: SocketAddr,
        handshake: Handshake,
        rest: &[u8],
        transport: TransportKind,
    ) {
        self.now = now;
        if !self.admit(conn, addr) {
            return;
        }
        self.peers.insert(
            conn,
            Peer::new(conn, addr, Direction::Incoming, transport, now),
        );
        if self.on_handshake(conn, handshake) {
            self.handle_data(now, conn, rest);
        }
    }

    fn encode_handshake(&self, out: &mut BytesMut) {
        let v2 = self.info_hashes.v2.is_some();
        wire::encode_handshake(
            &Handshake {
                reserved: Reserved {
                    extended: true,
                    fast: true,
                    v2,
                },
                info_hash: self.info_hashes.wire_id(),
                peer_id: self.peer_id,
            },
            out,
        );
    }

    /// The connection closed (by the peer or the glue).
    pub fn handle_closed(&mut self, now: Instant, conn: ConnId) {
        self.now = now;
        if let Some(p) = self.peers.remove(&conn) {
            self.closed_by_peer(p.addr, p.dir, p.active);
            self.forget_peer(p);
            if !self.paused {
                self.fill_free_slots();
            }
        }
    }

    /// Bytes received on a connection.
    pub fn handle_data(&mut self, now: Instant, conn: ConnId, data: &[u8]) {
        self.now = now;
        let Some(p) = self.peers.get_mut(&conn) else {
            return;
        };
        p.last_recv = now;
        let mut buf = std::mem::take(&mut p.rbuf);
        buf.extend_from_slice(data);
        let mut pos = 0;
        if !p.active {
            match wire::decode_handshake(&buf) {
                Ok(None) => {
                    p.rbuf = buf;
                    return;
                }
                Err(e) => {
                    self.drop_peer(conn, DisconnectReason::HandshakeFailed(e.into()));
                    return;
                }
                Ok(Some((h, n))) => {
                    pos = n;
                    if !self.on_handshake(conn, h) {
                        return;
                    }
                }
            }
        }
        let limit = self.message_limit();
        loop {
            if !self.peers.contains_key(&conn) {
                return;
            }
            let r = match wire::decode_limited(&buf[pos..], limit) {
                Ok(Decoded::Incomplete { .. }) => break,
                Ok(Decoded::Unknown { frame_len, .. }) => {
                    pos += frame_len;
                    Ok(())
                }
                Ok(Decoded::Message(m, n)) => {
                    pos += n;
                    self.on_message(conn, m)
                }
                Err(e) => Err(e.into()),
            };
            if let Err(e) = r {
                self.misbehaved(conn, e);
                return;
            }
        }
        if let Some(p) = self.peers.get_mut(&conn) {
            buf.drain(..pos);
            p.rbuf = buf;
        }
        self.after_input();
    }

    /// Largest message length accepted: a block, our bitfield, or an
    /// extension message; anything while the size is unknown (magnet).
    fn message_limit(&self) -> u32 {
        match self.lengths {
            Some(l) => (l.num_pieces().div_ceil(8) + 1).max(256 * 1024),
            None => MAX_MESSAGE_LEN,
        }
    }

    /// The peer's handshake: checks it, answers it and sends our state.
    /// Returns false if the peer was dropped.
    fn on_handshake(&mut self, conn: ConnId, h: Handshake) -> bool {
        if !self.info_hashes.matches_wire_id(&h.info_hash) {
            let r = DisconnectReason::HandshakeFailed(PeerMisbehaved::WrongInfoHash);
            self.drop_peer(conn, r);
            return false;
        }
        if h.peer_id == self.peer_id {
            self.drop_peer(conn, DisconnectReason::SelfConnection);
            return false;
        }
        // duplicate connection: keep the QUIC one if only one is QUIC (a
        // TCP link moved to QUIC), else the one dialled by the lower peer id
        let dup = self
            .peers
            .values()
            .find(|p| p.active && p.peer_id == h.peer_id && p.conn != conn)
            .map(|p| (p.conn, p.dir, p.transport));
        if let Some((other, other_dir, other_kind)) = dup {
            let we_lower = self.peer_id < h.peer_id;
            let keep_ours = |d: Direction| (d == Direction::Outgoing) == we_lower;
            let this_dir = self.peers[&conn].dir;
            let quic = |k: TransportKind| k == TransportKind::Quic;
            let this_quic = quic(self.peers[&conn].transport);
            let victim = if this_quic != quic(other_kind) {
                if this_quic {
                    other
                } else {
                    conn
                }
            } else if keep_ours(other_dir) && !keep_ours(this_dir) {
                conn
            } else if keep_ours(this_dir) && !keep_ours(other_dir) {
                other
            } else {
                conn
            };
            self.drop_peer(victim, DisconnectReason::Duplicate);
            if victim == conn {
                return false;
            }
        }
        let mut hs = BytesMut::new();
        let incoming = self.peers[&conn].dir == Direction::Incoming;
        if incoming {
            self.encode_handshake(&mut hs);
        }
        let now = self.now;
        let Some(p) = self.peers.get_mut(&conn) else {
            return false;
        };
        p.out.extend_from_slice(&hs);
        p.active = true;
        p.peer_id = h.peer_id;
        p.fast = h.reserved.fast;
        p.ext = h.reserved.extended;
        // The BEP 52 bit only matters for hybrid torrents (a peer that
        // connected with the v1 hash says it could upgrade). A peer that
        // handshook with a v2-only torrent's hash speaks v2 without it:
        // libtorrent leaves the bit clear there.
        p.v2 = h.reserved.v2 || self.info_hashes.v1.is_none();
        p.last_sent = now;
        let (addr, ext, fast) = (p.addr, p.ext, p.fast);
        if p.dir == Direction::Outgoing {
            self.dial_succeeded(addr);
        }
        if ext {
            let hs = self.ext_handshake();
            self.send(
                conn,
                Message::Extended {
                    id: 0,
                    payload: &hs,
                },
            );
        }
        match self.have().cloned() {
            Some(h) if h.is_full() && fast => self.send(conn, Message::HaveAll),
            Some(h) if h.none() && fast => self.send(conn, Message::HaveNone),
            Some(h) if !h.none() => self.send(conn, Message::Bitfield(h.as_bytes())),
            None if fast => self.send(conn, Message::HaveNone),
            _ => {}
        }
        self.events.push_back(Event::PeerConnected {
            conn,
            addr,
            peer_id: h.peer_id,
        });
        true
    }

    /// Appends a message to a connection's output.
    pub(crate) fn send(&mut self, conn: ConnId, m: Message<'_>) {
        if let Some(p) = self.peers.get_mut(&conn) {
            // Our messages are always within the wire limits; one that is
            // not is dropped (never sent half-way).
            let _ = wire::encode(&m, &mut p.out);
            p.last_sent = self.now;
        }
    }

    /// Disconnects a peer for misbehaving and bans its address and port.
    pub(crate) fn misbehaved(&mut self, conn: ConnId, reason: PeerMisbehaved) {
        let Some(p) = self.peers.get(&conn) else {
            return;
        };
        let key = p.key;
        self.ban(key, reason);
    }

    /// Bans an address and port (a peer's key, see `proto::bans`) and drops
    /// every connection under it.
    pub(crate) fn ban(&mut self, key: SocketAddr, reason: PeerMisbehaved) {
        let duration = self.cfg.ban_duration;
        if self
            .banned
            .ban(key, self.now, duration, self.cfg.max_banned)
        {
            tracing::info!(%key, ?duration, %reason, "peer banned");
            self.events.push_back(Event::PeerBanned {
                addr: key,
                reason: reason.clone(),
                duration,
            });
        }
        self.candidates.retain(|a| *a != key);
        let conns: Vec<ConnId> = self
            .peers
            .values()
            .filter(|p| p.key == key)
            .map(|p| p.conn)
            .collect();
        for c in conns {
            self.drop_peer(c, DisconnectReason::Misbehaved(reason.clone()));
        }
    }

    /// Forgets a peer and tells the glue to close it.
    pub(crate) fn drop_peer(&mut self, conn: ConnId, reason: DisconnectReason) {
        if let Some(p) = self.peers.remove(&conn) {
            self.forget_peer(p);
            self.events.push_back(Event::Disconnect { conn, reason });
        }
    }

    fn forget_peer(&mut self, p: Peer) {
        if let Some(pk) = self.picker.as_mut() {
            for (b, _) in &p.requests {
                pk.cancel(*b);
            }
            if p.active {
                pk.peer_disconnected(p.have.as_ref(), p.seed);
            }
            pk.release(p.key);
        }
        if let Some(md) = self.md.as_mut() {
            md.peer_gone(p.conn);
        }
        if let Some(lf) = self.layers.as_mut() {
            lf.peer_gone(p.conn);
        }
    }

    /// Work common to every input: requests, uploads, metadata.
    pub(crate) fn after_input(&mut self) {
        self.schedule_verify();
        if self.paused {
            return;
        }
        self.drop_overfull();
        self.fill_free_slots();
        let conns: Vec<ConnId> = self.peers.keys().copied().collect();
        for c in conns {
            self.fill_requests(c);
            self.serve(c);
        }
        self.fill_metadata_requests();
        self.fill_layer_requests();
    }

    /// Periodic work: call at [`Torrent::poll_timeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if now < self.next_tick {
            self.after_input();
            return;
        }
        self.next_tick = now + TICK;
        // rates: smoothed bytes per second
        self.stats.download_rate = (self.stats.download_rate * 3 + self.down_tick) / 4;
        self.stats.upload_rate = (self.stats.upload_rate * 3 + self.up_tick) / 4;
        self.down_tick = 0;
        self.up_tick = 0;
        if let Some(limit) = self.cfg.upload_rate_limit {
            self.upload_tokens = limit;
        }
        let mut drops = Vec::new();
        let mut snubbed = Vec::new();
        let mut keepalive = Vec::new();
        for p in self.peers.values_mut() {
            p.down_rate = (p.down_rate * 3 + p.down_tick) / 4;
            p.up_rate = (p.up_rate * 3 + p.up_tick) / 4;
            p.down_tick = 0;
            p.up_tick = 0;
            if !p.active {
                if now.saturating_duration_since(p.connected_at) >= self.cfg.handshake_timeout {
                    drops.push((p.conn, DisconnectReason::HandshakeTimeout));
                }
                continue;
            }
            if now.saturating_duration_since(p.last_recv) >= self.cfg.peer_timeout {
                drops.push((p.conn, DisconnectReason::Timeout));
                continue;
            }
            if now.saturating_duration_since(p.last_sent) >= self.cfg.keepalive_interval {
                keepalive.push(p.conn);
            }
            let waited = now.saturating_duration_since(p.last_block_at);
            let oldest = p
                .requests
                .first()
                .map(|(_, t)| now.saturating_duration_since(*t));
            if oldest.is_some_and(|o| o >= self.cfg.request_timeout)
                && waited >= self.cfg.request_timeout
            {
                snubbed.push(p.conn);
            }
        }
        for (c, r) in drops {
            self.drop_peer(c, r);
        }
        for c in keepalive {
            self.send(c, Message::KeepAlive);
        }
        for c in snubbed {
            self.snub(c);
        }
        self.stall_tick();
        self.dials_tick();
        for key in self.banned.expire(now) {
            tracing::info!(%key, "ban ended");
        }
        self.metadata_timeouts();
        self.layer_timeouts();
        self.pace_tick();
        if now >= self.next_choke {
            self.choke_round();
        }
        self.after_input();
    }

    /// Counts payload received.
    pub(crate) fn count_down(&mut self, n: u64) {
        self.stats.downloaded += n;
        self.down_tick += n;
    }
    /// Counts payload sent.
    pub(crate) fn count_up(&mut self, n: u64) {
        self.stats.uploaded += n;
        self.up_tick += n;
    }

    /// When [`Torrent::handle_timeout`] wants to be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.peers.is_empty() && !self.disk_busy() && !self.wants_dials() {
            return None;
        }
        Some(self.next_tick)
    }

    /// Next bytes to write. All data of one connection comes out in order.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let p = self.peers.values_mut().find(|p| !p.out.is_empty())?;
        let conn = p.conn;
        let data = p.out.split().freeze();
        self.polled(conn, data.len());
        // refill within the send-buffer bounds (super::backpressure)
        self.serve(conn);
        Some(Transmit { conn, data })
    }

    /// Next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Magnet links: the glue parsed the info bytes from
    /// [`Event::MetadataReceived`] and opened storage; downloading starts.
    pub fn handle_metadata(&mut self, now: Instant, meta: Arc<Metainfo>, have: Bitfield) {
        self.now = now;
        if self.meta.is_some() {
            return;
        }
        self.install_metadata(meta, have);
        let n = self.lengths.map_or(0, |l| l.num_pieces());
        let conns: Vec<ConnId> = self.peers.keys().copied().collect();
        for c in conns {
            let Some(p) = self.peers.get_mut(&c) else {
                continue;
            };
            if !p.active {
                continue;
            }
            if p.seed {
                if let Some(pk) = self.picker.as_mut() {
                    pk.peer_have_all();
                }
                continue;
            }
            let raw = std::mem::take(&mut p.pending_bits);
            let mut bits = raw.clone();
            bits.resize(n.div_ceil(8) as usize, 0);
            let bad = raw.len() > bits.len() || raw.iter().skip(bits.len()).any(|&b| b != 0);
            match Bitfield::from_wire(&bits, n) {
                Ok(b) if !bad => {
                    if let Some(pk) = self.picker.as_mut() {
                        pk.peer_bitfield(&b);
                    }
                    p.have = Some(b);
                }
                _ => {
                    self.misbehaved(
                        c,
                        PeerMisbehaved::InvalidBitfield("does not match the torrent's size".into()),
                    );
                }
            }
        }
        self.recompute_interest();
        self.after_input();
    }
}
