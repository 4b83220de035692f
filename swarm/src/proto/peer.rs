//! Per-connection state.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::BytesMut;
use piece_core::{Bitfield, BlockInfo};

use super::{ConnId, Direction, TransportKind};

/// Late blocks of cancelled requests we still accept without counting them
/// as unrequested (bounded memory).
pub(crate) const MAX_CANCELLED_MEMORY: usize = 512;
/// Outstanding metadata piece requests per peer.
pub(crate) const MAX_METADATA_REQUESTS: usize = 2;

#[derive(Debug)]
pub(crate) struct Peer {
    pub conn: ConnId,
    pub addr: SocketAddr,
    /// Its address and listen port, under which bans and hash-failure
    /// attribution are kept (`proto::bans`): the address dialled, or for an
    /// incoming peer its IP with the port from its extension handshake
    /// (`p`), else its source port.
    pub key: SocketAddr,
    pub dir: Direction,
    pub transport: TransportKind,
    /// Handshake received (and ours sent).
    pub active: bool,
    pub peer_id: [u8; 20],
    pub fast: bool,
    pub ext: bool,
    /// Set the BEP 52 bit (and did not reject our hash requests).
    pub v2: bool,
    pub rbuf: Vec<u8>,
    pub out: BytesMut,
    /// Bytes polled by the glue and not yet reported written
    /// (`proto::backpressure`).
    pub unsent: usize,
    /// Bytes of served blocks still being read from disk (header
    /// included, `proto::disk`).
    pub reading: usize,
    /// Last time some of them were written (or when they started waiting).
    pub last_drain: Instant,
    /// Choked for not reading; not unchoked until it has read everything.
    pub stalled: bool,
    pub connected_at: Instant,
    pub last_recv: Instant,
    pub last_sent: Instant,
    /// Last block received from it or served to it (or the connection
    /// time): how idle it is for eviction (`proto::slots`).
    pub last_active: Instant,
    /// Some message other than the handshake was received (bitfield,
    /// have all/none must come first).
    pub got_first: bool,

    // what the peer has
    pub have: Option<Bitfield>,
    pub seed: bool,
    /// Before metadata: the raw bitfield / haves, interpreted later.
    pub pending_bits: Vec<u8>,
    /// Pieces it has that we do not (interest).
    pub wanted: u32,

    pub peer_choking: bool,
    pub peer_interested: bool,
    pub am_choking: bool,
    pub am_interested: bool,

    /// Our outstanding requests to it, with the time sent.
    pub requests: Vec<(BlockInfo, Instant)>,
    pub cancelled: VecDeque<BlockInfo>,
    pub unrequested: u32,
    /// Its requests to us, in order.
    pub incoming: VecDeque<BlockInfo>,
    /// Its advertised request queue size.
    pub reqq: u32,

    // rates (payload bytes)
    pub down_tick: u64,
    pub up_tick: u64,
    pub down_rate: u64,
    pub up_rate: u64,
    pub down_round: u64,
    pub up_round: u64,
    pub last_block_at: Instant,
    pub snubbed: bool,
    pub last_unchoked: Option<Instant>,
    pub last_optimistic: Option<Instant>,

    // BEP 9/10
    pub ut_metadata: Option<u8>,
    pub metadata_size: Option<u32>,
    pub md_requests: Vec<(u32, Instant)>,
    /// Its QUIC port (`swarm_quic` in its extension handshake).
    pub quic_port: Option<u16>,
    /// Hash and metadata requests answered this second, and those waiting
    /// for the next (see `proto::pacing`).
    pub paced_used: u32,
    pub paced_queue: VecDeque<super::pacing::Paced>,
}

impl Peer {
    pub(crate) fn new(
        conn: ConnId,
        addr: SocketAddr,
        dir: Direction,
        transport: TransportKind,
        now: Instant,
    ) -> Self {
        Peer {
            conn,
            addr,
            key: addr,
            dir,
            transport,
            active: false,
            peer_id: [0; 20],
            fast: false,
            ext: false,
            v2: false,
            rbuf: Vec::new(),
            out: BytesMut::new(),
            unsent: 0,
            reading: 0,
            last_drain: now,
            stalled: false,
            connected_at: now,
            last_recv: now,
            last_sent: now,
            last_active: now,
            got_first: false,
            have: None,
            seed: false,
            pending_bits: Vec::new(),
            wanted: 0,
            peer_choking: true,
            peer_interested: false,
            am_choking: true,
            am_interested: false,
            requests: Vec::new(),
            cancelled: VecDeque::new(),
            unrequested: 0,
            incoming: VecDeque::new(),
            reqq: 250,
            down_tick: 0,
            up_tick: 0,
            down_rate: 0,
            up_rate: 0,
            down_round: 0,
            up_round: 0,
            last_block_at: now,
            snubbed: false,
            last_unchoked: None,
            last_optimistic: None,
            ut_metadata: None,
            metadata_size: None,
            md_requests: Vec::new(),
            quic_port: None,
            paced_used: 0,
            paced_queue: VecDeque::new(),
        }
    }

    /// Does the peer have piece `i`?
    pub(crate) fn has(&self, i: u32) -> bool {
        self.seed || self.have.as_ref().is_some_and(|b| b.get(i))
    }

    /// Remembers a cancelled request whose block may still arrive.
    pub(crate) fn remember_cancelled(&mut self, b: BlockInfo) {
        if self.cancelled.len() >= MAX_CANCELLED_MEMORY {
            self.cancelled.pop_front();
        }
        self.cancelled.push_back(b);
    }
}
