//! A deterministic in-memory swarm simulator for the protocol state machine.
//!
//! Nodes are [`Torrent`]s (or raw, scripted endpoints for hostile-peer
//! tests) joined by links with a latency and a bandwidth per direction.
//! Everything runs on a virtual clock (a fixed `Instant` base plus a
//! `Duration` offset) driven by an event queue ordered by (time, sequence
//! number), and randomness comes from one seeded RNG, so the same seed
//! gives the same run, event for event ([`Sim::trace`]).
//!
//! Delivery model: bytes sent on a link direction wait until the direction
//! is free, take `len / bandwidth` to transmit, then `latency` to arrive;
//! a direction's bytes arrive in order. The sender learns they were
//! written ([`Torrent::handle_sent`]) once transmitted. A raw endpoint can
//! stop reading a connection ([`Sim::stop_reading`]): it then takes in
//! [`STALLED_WINDOW`] more bytes (what kernel buffers would hold) and the
//! rest is never written. Disk jobs ([`crate::proto::DiskJob`]) run
//! against the node's [`MemStorage`] as the session's disk pool runs them
//! (hash on receive, the same code); their results come back at once, or,
//! for a node with a slow disk ([`NodeOpts::disk_rate`]), one after the
//! other at that rate in virtual time.
//!
//! Transports: links are [`TransportKind::Memory`] (standing for TCP)
//! unless dialled over QUIC. A node with [`NodeOpts::quic`] also listens
//! for QUIC at its IP and port [`QUIC_PORT`] and advertises it; every node
//! runs the session's QUIC policy ([`QuicPolicy`]): which transport to
//! dial, moving peers to QUIC, falling back to TCP. A QUIC dial to a node
//! without QUIC fails.

mod storage;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use piece_core::hash::PieceHashes;
use piece_core::metainfo::Metainfo;
use piece_core::Bitfield;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::proto::{
    ConnId, Direction, DiskDone, DiskJob, Event, QuicAction, QuicPolicy, Torrent, TorrentConfig,
    TransportKind,
};
use crate::session::disk::run_job;

pub use storage::{address_space, content, make_v1, verify_piece, MemStorage};

/// The UDP port of a node's QUIC endpoint ([`NodeOpts::quic`]).
pub const QUIC_PORT: u16 = 6882;

/// Bytes a connection whose reader stopped still takes in.
pub const STALLED_WINDOW: usize = 64 * 1024;

/// Index of a node in a [`Sim`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub usize);

/// Link properties, drawn per link from these ranges.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Seed of the random generator: one seed, one run.
    pub seed: u64,
    /// One-way latency per link, drawn from this range.
    pub latency: (Duration, Duration),
    /// Bytes per second.
    pub bandwidth: (u64, u64),
    /// Bound on processed steps (a guard against livelock).
    pub max_steps: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            latency: (Duration::from_millis(5), Duration::from_millis(50)),
            bandwidth: (1_000_000, 10_000_000),
            max_steps: 2_000_000,
        }
    }
}

enum Kind {
    Torrent {
        torrent: Box<Torrent>,
        storage: Arc<MemStorage>,
        /// The source metainfo (for magnet metadata: the trackers).
        meta: Arc<Metainfo>,
        /// The verifier, as the glue would build it: from the metainfo the
        /// node knows (for a magnet: after the metadata, then growing with
        /// fetched piece layers).
        hashes: Option<Arc<PieceHashes>>,
        parsed: Option<Box<Metainfo>>,
        /// Hash-on-receive state, as the disk pool keeps it.
        hashers: std::sync::Mutex<crate::session::disk::Hashers>,
        /// A slow disk: bytes per second, and when it is free again.
        disk_rate: Option<u64>,
        disk_free_at: Duration,
        /// The QUIC preference, as the session runs it.
        policy: Box<QuicPolicy>,
        /// Listens for QUIC.
        quic: bool,
        /// Connections whose handshake completed.
        handshaken: std::collections::BTreeSet<u64>,
    },
    /// A scripted endpoint: the test writes bytes, everything received is
    /// kept.
    Raw { received: BTreeMap<u64, Vec<u8>> },
}

struct Node {
    addr: SocketAddr,
    alive: bool,
    kind: Kind,
    events: Vec<(Duration, Event)>,
}

struct Link {
    ends: [usize; 2],
    open: bool,
    latency: Duration,
    bandwidth: u64,
    busy_until: [Duration; 2],
    /// For an end that stopped reading: the bytes it still takes in.
    stalled: [Option<usize>; 2],
    kind: TransportKind,
    /// The address each end sees for the other.
    addrs: [SocketAddr; 2],
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    /// Deliver to `ends[side]`.
    Deliver {
        link: u64,
        side: usize,
        data: Vec<u8>,
    },
    Connected {
        link: u64,
        side: usize,
    },
    Closed {
        link: u64,
        side: usize,
    },
    /// `ends[side]`'s transport wrote `n` of its bytes.
    Sent {
        link: u64,
        side: usize,
        n: usize,
    },
    /// A slow disk finished the job whose result is kept under `id`.
    Disk {
        id: u64,
    },
}

/// The simulated swarm.
pub struct Sim {
    cfg: SimConfig,
    base: Instant,
    now: Duration,
    nodes: Vec<Node>,
    links: BTreeMap<u64, Link>,
    queue: BinaryHeap<Reverse<(Duration, u64, Ev)>>,
    seq: u64,
    rng: StdRng,
    trace: Vec<String>,
    steps: u64,
    /// Nodes that got input since they were last drained.
    dirty: std::collections::BTreeSet<usize>,
    /// Results of slow disks' jobs, by id, with their node.
    disk_done: BTreeMap<u64, (usize, DiskDone)>,
}

impl Sim {
    /// A simulation with no nodes yet.
    pub fn new(cfg: SimConfig) -> Self {
        Sim {
            rng: StdRng::seed_from_u64(cfg.seed),
            cfg,
            base: Instant::now(),
            now: Duration::ZERO,
            nodes: Vec::new(),
            links: BTreeMap::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            trace: Vec::new(),
            steps: 0,
            dirty: Default::default(),
            disk_done: BTreeMap::new(),
        }
    }

    /// Virtual time elapsed.
    pub fn elapsed(&self) -> Duration {
        self.now
    }
    fn instant(&self) -> Instant {
        self.base + self.now
    }
    fn next_addr(&self) -> SocketAddr {
        let i = self.nodes.len() + 1;
        SocketAddr::from(([10, 0, (i / 250) as u8, (i % 250) as u8 + 1], 6881))
    }

    /// Adds a node for `meta`. `seed` nodes start with all data; `magnet`
    /// nodes start without metadata; `corrupt` nodes serve bad bytes.
    pub fn add_node(&mut self, meta: &Arc<Metainfo>, data: &[u8], opts: NodeOpts) -> NodeId {
        let layout = meta.info.layout.clone();
        let n = meta.info.lengths.num_pieces();
        let mut st = if opts.seed {
            MemStorage::with_data(layout, data.to_vec())
        } else {
            MemStorage::new(layout)
        };
        if opts.corrupt {
            st = st.corrupting();
        }
        if let Some(c) = opts.capacity {
            st = st.with_capacity(c);
        }
        let storage = Arc::new(st);
        let have = if opts.seed {
            Bitfield::full(n)
        } else {
            Bitfield::new(n)
        };
        let mut cfg = opts.config.unwrap_or_default();
        if opts.quic {
            cfg.quic_port = Some(QUIC_PORT);
        }
        cfg.seed = self.nodes.len() as u64 ^ self.cfg.seed.rotate_left(17);
        let mut peer_id = [b'-'; 20];
        peer_id[..8].copy_from_slice(b"-SW0001-");
        peer_id[12..20].copy_from_slice(&(self.nodes.len() as u64).to_be_bytes());
        let m = (!opts.magnet).then(|| meta.clone());
        let torrent = Torrent::new(cfg, meta.info_hashes, m, have, peer_id, self.instant());
        let hashes = (!opts.magnet)
            .then(|| Arc::new(PieceHashes::new(meta).expect("test torrent has valid hashes")));
        let addr = self.next_addr();
        self.nodes.push(Node {
            addr,
            alive: true,
            kind: Kind::Torrent {
                torrent: Box::new(torrent),
                storage,
                meta: meta.clone(),
                hashes,
                parsed: None,
                hashers: Default::default(),
                disk_rate: opts.disk_rate,
                disk_free_at: Duration::ZERO,
                policy: Box::new(QuicPolicy::new(opts.quic)),
                quic: opts.quic,
                handshaken: Default::default(),
            },
            events: Vec::new(),
        });
        self.dirty.insert(self.nodes.len() - 1);
        NodeId(self.nodes.len() - 1)
    }

    /// Adds a scripted endpoint for hostile-peer tests.
    pub fn add_raw(&mut self) -> NodeId {
        let addr = self.next_addr();
        self.nodes.push(Node {
            addr,
            alive: true,
            kind: Kind::Raw {
                received: BTreeMap::new(),
            },
            events: Vec::new(),
        });
        NodeId(self.nodes.len() - 1)
    }

    /// Node `n`'s address.
    pub fn addr(&self, n: NodeId) -> SocketAddr {
        self.nodes[n.0].addr
    }

    /// Tells node `n` about the addresses of `peers` (it dials them).
    pub fn introduce(&mut self, n: NodeId, peers: &[NodeId]) {
        let addrs: Vec<SocketAddr> = peers.iter().map(|p| self.nodes[p.0].addr).collect();
        let now = self.instant();
        if let Kind::Torrent { torrent, .. } = &mut self.nodes[n.0].kind {
            torrent.add_peers(now, &addrs);
            self.dirty.insert(n.0);
        }
    }

    /// Tells node `n` that `peer` is a swarm peer listening on TCP and on
    /// QUIC (as mDNS would): the QUIC policy picks how to dial it.
    pub fn add_swarm_peer(&mut self, n: NodeId, peer: NodeId) {
        let tcp = self.nodes[peer.0].addr;
        let quic = SocketAddr::new(tcp.ip(), QUIC_PORT);
        let now = self.instant();
        if let Kind::Torrent {
            torrent, policy, ..
        } = &mut self.nodes[n.0].kind
        {
            let a = policy.handle_swarm_peer(now, tcp, quic);
            torrent.add_peers(now, &[a]);
            self.dirty.insert(n.0);
        }
    }

    /// The transports of node `n`'s open connections, in link order.
    pub fn transports(&self, n: NodeId) -> Vec<TransportKind> {
        self.links
            .values()
            .filter(|l| l.open && l.ends.contains(&n.0))
            .map(|l| l.kind)
            .collect()
    }

    /// Opens a connection from a raw endpoint to `to`; returns its id.
    pub fn connect_raw(&mut self, raw: NodeId, to: NodeId) -> u64 {
        self.open_link(raw.0, to.0, TransportKind::Memory)
    }

    /// Sends bytes from a raw endpoint on its connection.
    pub fn raw_send(&mut self, raw: NodeId, link: u64, data: &[u8]) {
        let side = match self.links.get(&link) {
            Some(l) if l.ends[0] == raw.0 => 0,
            Some(_) => 1,
            None => return,
        };
        self.transmit(link, side, data.to_vec());
    }

    /// Bytes a raw endpoint received on a connection.
    pub fn raw_received(&self, raw: NodeId, link: u64) -> &[u8] {
        match &self.nodes[raw.0].kind {
            Kind::Raw { received } => received.get(&link).map_or(&[], |v| v.as_slice()),
            _ => &[],
        }
    }

    /// The raw endpoint stops reading this connection (see the module
    /// docs).
    pub fn stop_reading(&mut self, raw: NodeId, link: u64) {
        if let Some(l) = self.links.get_mut(&link) {
            if let Some(side) = l.ends.iter().position(|&e| e == raw.0) {
                l.stalled[side] = Some(STALLED_WINDOW);
            }
        }
    }

    /// Is the connection still open?
    pub fn link_open(&self, link: u64) -> bool {
        self.links.get(&link).is_some_and(|l| l.open)
    }

    /// SIGKILL: the node vanishes, its connections close.
    pub fn kill(&mut self, n: NodeId) {
        self.nodes[n.0].alive = false;
        let ids: Vec<u64> = self
            .links
            .iter()
            .filter(|(_, l)| l.open && l.ends.contains(&n.0))
            .map(|(i, _)| *i)
            .collect();
        for id in ids {
            self.close_link(id, n.0);
        }
        self.trace.push(format!("{:?} n{} killed", self.now, n.0));
    }

    /// Node `n`'s torrent; `None` for a raw node (scripted bytes, no torrent).
    pub fn torrent(&self, n: NodeId) -> Option<&Torrent> {
        match &self.nodes[n.0].kind {
            Kind::Torrent { torrent, .. } => Some(torrent),
            _ => None,
        }
    }
    /// Mutable access (e.g. to pause a node); its outputs are drained at
    /// the next step.
    pub fn torrent_mut(&mut self, n: NodeId) -> Option<&mut Torrent> {
        self.dirty.insert(n.0);
        match &mut self.nodes[n.0].kind {
            Kind::Torrent { torrent, .. } => Some(torrent),
            _ => None,
        }
    }
    /// The node's storage.
    pub fn storage(&self, n: NodeId) -> Option<&Arc<MemStorage>> {
        match &self.nodes[n.0].kind {
            Kind::Torrent { storage, .. } => Some(storage),
            _ => None,
        }
    }
    /// The node's stored bytes.
    pub fn data(&self, n: NodeId) -> Vec<u8> {
        match &self.nodes[n.0].kind {
            Kind::Torrent { storage, .. } => storage.contents(),
            _ => Vec::new(),
        }
    }
    /// Events a node emitted, with their virtual time.
    pub fn events(&self, n: NodeId) -> &[(Duration, Event)] {
        &self.nodes[n.0].events
    }
    /// Every event of every node, as text, in order: equal for equal seeds.
    pub fn trace(&self) -> &[String] {
        &self.trace
    }
    /// Is the node complete?
    pub fn is_complete(&self, n: NodeId) -> bool {
        self.torrent(n).is_some_and(|t| t.is_complete())
    }

    fn open_link(&mut self, a: usize, b: usize, kind: TransportKind) -> u64 {
        let addr_b = match kind {
            TransportKind::Quic => SocketAddr::new(self.nodes[b].addr.ip(), QUIC_PORT),
            _ => self.nodes[b].addr,
        };
        let addrs = [addr_b, self.nodes[a].addr];
        let id = self.seq;
        self.seq += 1;
        let lat = self.rng.gen_range(self.cfg.latency.0..=self.cfg.latency.1);
        let bw = self
            .rng
            .gen_range(self.cfg.bandwidth.0..=self.cfg.bandwidth.1)
            .max(1);
        self.links.insert(
            id,
            Link {
                ends: [a, b],
                open: true,
                latency: lat,
                bandwidth: bw,
                busy_until: [self.now; 2],
                stalled: [None; 2],
                kind,
                addrs,
            },
        );
        // the dialler learns of the connection after a round trip, the
        // listener after one way
        self.push(self.now + lat * 2, Ev::Connected { link: id, side: 0 });
        self.push(self.now + lat, Ev::Connected { link: id, side: 1 });
        id
    }

    fn push(&mut self, at: Duration, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse((at, self.seq, ev)));
    }

    /// Queues bytes from `ends[side]` to the other end.
    fn transmit(&mut self, link: u64, side: usize, data: Vec<u8>) {
        let now = self.now;
        let Some(l) = self.links.get_mut(&link) else {
            return;
        };
        if !l.open {
            return;
        }
        if let Some(room) = l.stalled[1 - side].as_mut() {
            // the reader stopped: its buffers fill, then nothing is written
            let n = data.len().min(*room);
            *room -= n;
            if n > 0 {
                self.push(now, Ev::Sent { link, side, n });
            }
            return;
        }
        let start = l.busy_until[side].max(now);
        let tx =
            Duration::from_nanos((data.len() as u128 * 1_000_000_000 / l.bandwidth as u128) as u64);
        l.busy_until[side] = start + tx;
        let at = start + tx + l.latency;
        let n = data.len();
        self.push(start + tx, Ev::Sent { link, side, n });
        self.push(
            at,
            Ev::Deliver {
                link,
                side: 1 - side,
                data,
            },
        );
    }

    /// Closes a link from node `by`'s side: the other end learns of it
    /// after the latency.
    fn close_link(&mut self, link: u64, by: usize) {
        let Some(l) = self.links.get_mut(&link) else {
            return;
        };
        if !l.open {
            return;
        }
        l.open = false;
        let other = if l.ends[0] == by { 1 } else { 0 };
        let at = self.now + l.latency;
        self.push(at, Ev::Closed { link, side: other });
    }

    /// Runs until `done` holds (true) or time/steps run out (false).
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Sim) -> bool) -> bool {
        loop {
            self.pump();
            if done(self) {
                return true;
            }
            self.steps += 1;
            if self.steps > self.cfg.max_steps {
                return false;
            }
            let mut next = self.queue.peek().map(|Reverse((t, _, _))| *t);
            for n in &self.nodes {
                if let (
                    true,
                    Kind::Torrent {
                        torrent, policy, ..
                    },
                ) = (n.alive, &n.kind)
                {
                    for t in [torrent.poll_timeout(), policy.poll_timeout()]
                        .into_iter()
                        .flatten()
                    {
                        let d = t.saturating_duration_since(self.base);
                        next = Some(next.map_or(d, |x| x.min(d)));
                    }
                }
            }
            let Some(next) = next else { return false };
            if next > limit {
                return false;
            }
            self.now = self.now.max(next);
            while let Some(Reverse((t, _, _))) = self.queue.peek() {
                if *t > self.now {
                    break;
                }
                let Some(Reverse((_, _, ev))) = self.queue.pop() else {
                    break;
                };
                self.dispatch(ev);
            }
            let now = self.instant();
            for (i, n) in self.nodes.iter_mut().enumerate() {
                if let (
                    true,
                    Kind::Torrent {
                        torrent, policy, ..
                    },
                ) = (n.alive, &mut n.kind)
                {
                    if torrent.poll_timeout().is_some_and(|t| t <= now) {
                        torrent.handle_timeout(now);
                        self.dirty.insert(i);
                    }
                    if policy.poll_timeout().is_some_and(|t| t <= now) {
                        policy.handle_timeout(now);
                        self.dirty.insert(i);
                    }
                }
            }
        }
    }

    fn dispatch(&mut self, ev: Ev) {
        let now = self.instant();
        if let Ev::Disk { id } = ev {
            if let Some((i, done)) = self.disk_done.remove(&id) {
                if let (true, Kind::Torrent { torrent, .. }) =
                    (self.nodes[i].alive, &mut self.nodes[i].kind)
                {
                    torrent.handle_disk(now, done);
                    self.dirty.insert(i);
                }
            }
            return;
        }
        let (link, side) = match &ev {
            Ev::Deliver { link, side, .. }
            | Ev::Connected { link, side }
            | Ev::Closed { link, side }
            | Ev::Sent { link, side, .. } => (*link, *side),
            Ev::Disk { .. } => return,
        };
        let Some(l) = self.links.get(&link) else {
            return;
        };
        let node = l.ends[side];
        self.dirty.insert(node);
        let peer_addr = l.addrs[side];
        let (open, kind) = (l.open, l.kind);
        let n = &mut self.nodes[node];
        if !n.alive {
            return;
        }
        match (&mut n.kind, ev) {
            (
                Kind::Torrent {
                    torrent, policy, ..
                },
                Ev::Connected { .. },
            ) if open => {
                let dir = if side == 0 {
                    Direction::Outgoing
                } else {
                    Direction::Incoming
                };
                policy.handle_open(peer_addr, kind);
                torrent.handle_connected(now, ConnId(link), peer_addr, dir, kind);
            }
            (Kind::Torrent { torrent, .. }, Ev::Deliver { data, .. }) if open => {
                torrent.handle_data(now, ConnId(link), &data);
            }
            (
                Kind::Torrent {
                    torrent,
                    policy,
                    handshaken,
                    ..
                },
                Ev::Closed { .. },
            ) => {
                policy.handle_closed(peer_addr, kind, handshaken.remove(&link));
                torrent.handle_closed(now, ConnId(link))
            }
            (Kind::Torrent { torrent, .. }, Ev::Sent { n, .. }) if open => {
                torrent.handle_sent(now, ConnId(link), n)
            }
            (Kind::Raw { received }, Ev::Deliver { data, .. }) if open => {
                let r = received.entry(link).or_default();
                if r.len() < 64 << 20 {
                    r.extend_from_slice(&data);
                }
            }
            _ => {}
        }
    }

    /// Drains every node's outputs until all are quiet.
    fn pump(&mut self) {
        // draining a node only schedules future events, so each node that
        // got input is drained once
        while let Some(i) = self.dirty.pop_first() {
            self.pump_node(i);
        }
    }

    fn pump_node(&mut self, i: usize) -> bool {
        if !self.nodes[i].alive {
            return false;
        }
        let now = self.instant();
        let mut sends: Vec<(u64, Bytes)> = Vec::new();
        let mut closes = Vec::new();
        let mut dials = Vec::new();
        let mut slow_disk = Vec::new();
        let mut busy = false;
        let node = &mut self.nodes[i];
        let Kind::Torrent {
            torrent,
            storage,
            meta,
            hashes,
            parsed,
            hashers,
            disk_rate,
            disk_free_at,
            policy,
            quic: _,
            handshaken,
        } = &mut node.kind
        else {
            return false;
        };
        loop {
            let mut any = false;
            while let Some(t) = torrent.poll_transmit() {
                sends.push((t.conn.0, t.data));
                any = true;
            }
            while let Some(j) = torrent.poll_disk() {
                let cost = match &j {
                    DiskJob::Write { block, .. } | DiskJob::Read { block, .. } => block.len,
                    DiskJob::Verify { .. } => 0,
                } as u64;
                let done = run_job(j, storage.as_ref(), hashes.as_deref(), hashers);
                match *disk_rate {
                    None => torrent.handle_disk(now, done),
                    Some(rate) => {
                        // one job after the other at the disk's rate
                        let took = Duration::from_nanos(cost * 1_000_000_000 / rate.max(1));
                        *disk_free_at = (*disk_free_at).max(self.now) + took;
                        slow_disk.push((*disk_free_at, done));
                    }
                }
                any = true;
            }
            while let Some(a) = torrent.poll_connect() {
                dials.push((a, policy.transport_for(a)));
                any = true;
            }
            while let Some(a) = policy.poll_action() {
                match a {
                    QuicAction::DialQuic(q) => dials.push((q, TransportKind::Quic)),
                    QuicAction::AddTcpPeer(t) => torrent.add_peers(now, &[t]),
                }
                any = true;
            }
            while let Some(e) = torrent.poll_event() {
                self.trace.push(format!("{:?} n{} {:?}", self.now, i, e));
                let link = |c: &ConnId| self.links.get(&c.0).map(|l| (l.kind, l.ends[0] == i));
                match &e {
                    Event::Disconnect { conn, .. } => {
                        closes.push(conn.0);
                        if let Some((kind, _)) = link(conn) {
                            let l = &self.links[&conn.0];
                            let peer = l.addrs[if l.ends[0] == i { 0 } else { 1 }];
                            policy.handle_closed(peer, kind, handshaken.remove(&conn.0));
                        }
                    }
                    Event::PeerConnected { conn, addr, .. } => {
                        handshaken.insert(conn.0);
                        if let Some((kind, _)) = link(conn) {
                            policy.handle_handshake(*addr, kind);
                        }
                    }
                    Event::QuicOffered {
                        conn,
                        addr,
                        port,
                        tcp_port,
                    } => {
                        if let Some((kind, outgoing)) = link(conn) {
                            let dir = if outgoing {
                                Direction::Outgoing
                            } else {
                                Direction::Incoming
                            };
                            policy.handle_quic_offered(kind, dir, *addr, *port, *tcp_port);
                        }
                    }
                    Event::MetadataReceived(bytes) => {
                        // what the glue does: parse, build storage, resume
                        match Metainfo::from_info_bytes(bytes, meta.trackers.clone()) {
                            Ok(m) => {
                                let n = m.info.lengths.num_pieces();
                                *hashes = PieceHashes::new(&m).ok().map(Arc::new);
                                torrent.handle_metadata(now, Arc::new(m.clone()), Bitfield::new(n));
                                *parsed = Some(Box::new(m));
                            }
                            Err(e) => self
                                .trace
                                .push(format!("{:?} n{} bad metadata: {e}", self.now, i)),
                        }
                    }
                    Event::PieceLayer {
                        pieces_root,
                        hashes: layer,
                    } => {
                        if let Some(m) = parsed.as_mut() {
                            if m.add_piece_layer(*pieces_root, layer).is_ok() {
                                *hashes = PieceHashes::new(m).ok().map(Arc::new);
                            }
                        }
                    }
                    _ => {}
                }
                node.events.push((self.now, e));
                any = true;
            }
            if !any {
                break;
            }
            busy = true;
        }
        for (link, data) in sends {
            let side = match self.links.get(&link) {
                Some(l) if l.ends[0] == i => 0,
                Some(_) => 1,
                None => continue,
            };
            self.transmit(link, side, data.to_vec());
        }
        for link in closes {
            self.close_link(link, i);
        }
        for (at, done) in slow_disk {
            let id = self.seq;
            self.disk_done.insert(id, (i, done));
            self.push(at, Ev::Disk { id });
        }
        for (a, kind) in dials {
            let quic = kind == TransportKind::Quic;
            let to = self.nodes.iter().position(|n| {
                n.alive
                    && match (&n.kind, quic) {
                        (Kind::Torrent { quic: true, .. }, true) => {
                            a == SocketAddr::new(n.addr.ip(), QUIC_PORT)
                        }
                        (_, true) => false,
                        (_, false) => n.addr == a,
                    }
            });
            match to {
                Some(j) => {
                    let kind = if quic { kind } else { TransportKind::Memory };
                    self.open_link(i, j, kind);
                }
                None => {
                    if let Kind::Torrent {
                        torrent, policy, ..
                    } = &mut self.nodes[i].kind
                    {
                        torrent.handle_connect_failed(now, a);
                        policy.handle_dial_failed(a);
                        self.dirty.insert(i);
                    }
                }
            }
        }
        busy
    }
}

/// How to start a node.
#[derive(Clone, Debug, Default)]
pub struct NodeOpts {
    /// Starts with all the data.
    pub seed: bool,
    /// Starts from the info-hash alone and fetches the metadata from peers.
    pub magnet: bool,
    /// Serves corrupt bytes (its pieces fail the hash check).
    pub corrupt: bool,
    /// Storage that fails with "no space" after this many bytes.
    pub capacity: Option<u64>,
    /// A slow disk: jobs finish one after the other at this many bytes per
    /// second of virtual time (`None`: at once).
    pub disk_rate: Option<u64>,
    /// Listens for QUIC too (at port [`QUIC_PORT`]) and advertises it.
    pub quic: bool,
    /// The torrent's settings (the default when `None`).
    pub config: Option<TorrentConfig>,
}
