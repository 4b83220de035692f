//! The peer protocol as a state machine with no I/O inside (issue 3).
//!
//! [`Torrent`] drives one torrent and all of its peer connections, in the
//! style of `quinn-proto`: it never touches a socket, a file descriptor of
//! its own, a thread or the clock. The glue (the tokio session, or the
//! deterministic simulator in `sim`, behind the `testkit` feature) feeds it inputs
//! (`handle_*`, with the current [`Instant`]) and drains its outputs
//! (`poll_*`) until they are empty:
//!
//! | output | what the glue does |
//! |---|---|
//! | [`Torrent::poll_transmit`] | writes the bytes to that connection, in order, reporting each write with [`Torrent::handle_sent`] |
//! | [`Torrent::poll_event`] | reports it; on [`Event::Disconnect`] closes the socket |
//! | [`Torrent::poll_disk`] | runs the [`DiskJob`] off the protocol task (write a block and feed its piece's hasher, finish a piece's hash, read a block), answers [`Torrent::handle_disk`] |
//! | [`Torrent::poll_connect`] | dials the address, then [`Torrent::handle_connected`] (or [`Torrent::handle_connect_failed`]) |
//! | [`Torrent::poll_timeout`] | calls [`Torrent::handle_timeout`] at that instant |
//!
//! Which transport to dial, and moving swarm peers to QUIC or back to TCP,
//! is decided by [`QuicPolicy`], a state machine of the same kind.
//!
//! Incoming connections: [`Torrent::handle_connected`] with
//! [`Direction::Incoming`], or [`Torrent::handle_incoming`] when the glue
//! already read the handshake to route by info-hash. Magnet links:
//! [`Event::MetadataReceived`] then [`Torrent::handle_metadata`].
//! On [`Event::StorageFailed`] the torrent has paused itself
//! ([`Torrent::resume`] after fixing the cause).
//!
//! The core holds no [`Storage`]: received blocks leave as write jobs and
//! are hashed as they are written (hash on receive), served blocks come
//! back from read jobs, and the disk's backlog bounds how much is
//! requested (see `disk.rs`). A piece is marked as had, announced (HAVE)
//! and served only after its hash check passed.
//!
//! # Wire protocol
//! Every message is read and written by the codec in [`crate::wire`]
//! (where the formats are documented); what it refuses ends the
//! connection with a typed [`PeerMisbehaved`].
//! BEP 3 handshake and messages, BEP 6 fast extension (have all/none,
//! reject request), BEP 10 extension handshake (`m: {ut_metadata}`,
//! `metadata_size`, `reqq`, `v`, and our `swarm_quic`), BEP 9 metadata exchange (serving and, for
//! magnet links, fetching), BEP 52 (the v2 reserved bit, hash requests
//! served from piece layers; for v2-only magnets, piece layers fetched and
//! verified before any block of their files is requested: see
//! [`Event::PieceLayer`]).
//!
//! # Misbehaviour and banning
//! Invalid input from a peer ([`PeerMisbehaved`]) disconnects it and bans
//! its address and listen port for a while (not its whole IP; a failed
//! handshake bans nothing); banned addresses are refused on connect and
//! never dialled. See `bans.rs` for the rule and its bounds.
//!
//! # Duplicate connections
//! Two connections with the same peer id are one peer: when the second
//! completes its handshake, one is closed ([`DisconnectReason::Duplicate`],
//! never a ban). If exactly one of them runs over QUIC, that one stays (a
//! swarm peer moving a TCP link to QUIC, see [`Event::QuicOffered`]);
//! otherwise the one dialled by the side with the lower peer id stays, so
//! both ends pick the same.
//!
//! # Hash failures (attribution rule)
//! For every piece we record which peers supplied its blocks. When a piece
//! fails its hash check:
//! - if one peer supplied all of it, that peer is banned
//!   ([`PeerMisbehaved::HashFailures`]);
//! - otherwise every contributor is put **on parole**: from then on, each
//!   piece it downloads comes from it alone (whole pieces, never shared with
//!   another peer), so its next failure is pinned on it.
//!
//! An honest peer can only be banned if it alone sent a piece that failed,
//! which an honest peer never does; mixed failures never ban anyone.

mod backpressure;
mod bans;
mod choke;
mod config;
mod dials;
mod disk;
mod download;
mod hashes;
#[cfg(test)]
mod hostile_tests;
mod layers;
mod metadata;
mod misbehaved;
mod pacing;
mod peer;
mod picker;
pub mod quic;
mod slots;
#[cfg(test)]
mod tests;
mod torrent;
mod trees;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use piece_core::storage::StorageError;
use piece_core::PieceIndex;

pub use config::TorrentConfig;
pub use disk::{DiskDone, DiskJob};
pub use misbehaved::{DisconnectReason, PeerMisbehaved};
pub use quic::{QuicAction, QuicPolicy};
pub use torrent::Torrent;

#[doc(no_inline)]
pub use piece_core::storage::Storage;
#[doc(no_inline)]
pub use std::time::Instant;

/// The glue's identifier of one connection. The glue picks the values; they
/// must be unique among live connections of a torrent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

/// Who opened the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// We dialled (we send our handshake first).
    Outgoing,
    /// The peer dialled us (we wait for its handshake).
    Incoming,
}

/// The transport under a connection (informational: stats and logs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportKind {
    /// The TCP peer wire (BEP 3).
    Tcp,
    /// QUIC, between swarm peers.
    Quic,
    /// In-memory links of the deterministic simulator (`testkit` feature).
    #[cfg(any(test, feature = "testkit"))]
    Memory,
}

/// Bytes to write to a connection. Transmits of one connection must be
/// written in the order they are polled.
#[derive(Clone, Debug)]
pub struct Transmit {
    /// The connection.
    pub conn: ConnId,
    /// The bytes, in order after the previous transmit of this connection.
    pub data: Bytes,
}

/// Things the glue and the user want to know.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Event {
    /// The handshake with a peer completed.
    PeerConnected {
        /// The connection.
        conn: ConnId,
        /// The peer's address.
        addr: SocketAddr,
        /// The peer id from its handshake.
        peer_id: [u8; 20],
    },
    /// A piece passed its hash check and is now served.
    PieceVerified(PieceIndex),
    /// A piece failed its hash check; `contributors` supplied its blocks
    /// (by address and listen port, as bans are keyed: see `proto::bans`).
    PieceFailed {
        /// The piece.
        piece: PieceIndex,
        /// Peers that sent blocks of it.
        contributors: Vec<SocketAddr>,
    },
    /// Every piece is verified.
    Complete,
    /// Magnet: the info dictionary, verified against the info-hash. The
    /// glue parses it, builds storage and calls [`Torrent::handle_metadata`].
    MetadataReceived(Vec<u8>),
    /// A peer misbehaved; its address and port are banned for `duration`.
    PeerBanned {
        /// The banned address and listen port.
        addr: SocketAddr,
        /// What it did.
        reason: PeerMisbehaved,
        /// How long the ban lasts.
        duration: std::time::Duration,
    },
    /// Close this connection (the state machine has forgotten it already;
    /// a later `handle_closed` for it is ignored).
    Disconnect {
        /// The connection to close.
        conn: ConnId,
        /// Why.
        reason: DisconnectReason,
    },
    /// v2 magnet: a file's piece layer was fetched and verified against its
    /// `pieces root`. The glue adds it to its verifier
    /// (`Metainfo::add_piece_layer`); the file's pieces are downloaded from
    /// now on.
    PieceLayer {
        /// The file's `pieces root`.
        pieces_root: [u8; 32],
        /// The file's piece hashes, in order.
        hashes: Vec<[u8; 32]>,
    },
    /// The peer on `conn` (at `addr`) advertised a QUIC endpoint on UDP
    /// `port` (`swarm_quic` in its extension handshake), and its TCP listen
    /// port `tcp_port` (`p`) if it sent one. Reported once per connection
    /// and port; whether to dial it is the glue's choice.
    QuicOffered {
        /// The connection it came on.
        conn: ConnId,
        /// The peer's address.
        addr: SocketAddr,
        /// The UDP port of its QUIC endpoint.
        port: u16,
        /// Its TCP listen port, if it sent one.
        tcp_port: Option<u16>,
    },
    /// Reading or writing the data failed; the torrent paused itself.
    StorageFailed {
        /// The piece being read or written.
        piece: PieceIndex,
        /// The storage's error.
        error: Arc<StorageError>,
    },
}

/// A snapshot of a torrent's counters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TorrentStats {
    /// Payload bytes received (blocks written), including wasted ones.
    pub downloaded: u64,
    /// Payload bytes sent.
    pub uploaded: u64,
    /// Bytes discarded: duplicates and pieces that failed the hash check.
    pub wasted: u64,
    /// Payload rates, bytes per second (smoothed over a few seconds).
    pub download_rate: u64,
    /// Upload rate, bytes per second (smoothed over a few seconds).
    pub upload_rate: u64,
    /// Connections that completed the handshake.
    pub peers: usize,
    /// Verified pieces / all pieces (0 of 0 before a magnet's metadata).
    pub have_pieces: u32,
    /// Number of pieces (0 before a magnet's metadata).
    pub num_pieces: u32,
    /// Whether every piece is verified.
    pub complete: bool,
    /// Whether the torrent is paused (by the user or after a storage error).
    pub paused: bool,
    /// Addresses banned so far.
    pub banned: usize,
    /// Bytes queued for peers: written by us, not yet by the transport
    /// (bounded by `TorrentConfig::max_send_buffer_total` plus one block).
    pub queued: usize,
    /// Bytes of received blocks handed to the disk and not yet written
    /// (bounded by `TorrentConfig::max_disk_queue` plus the requests in
    /// flight when the bound was reached).
    pub disk_queued: usize,
}
