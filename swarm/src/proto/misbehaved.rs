//! Typed reasons for dropping or banning a peer.

use std::fmt;

use crate::wire::{DecodeError, ExtError, MetadataError, MetadataMsgError};

/// Something a peer did that breaks the protocol or harms the swarm. Any of
/// these disconnects the peer and bans its address (see
/// [`crate::proto::Torrent`] for the ban rule).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerMisbehaved {
    /// The 68-byte handshake was malformed (wrong protocol string).
    #[error("malformed handshake")]
    BadHandshake,
    /// The handshake named a torrent other than this one.
    #[error("handshake is for a different torrent")]
    WrongInfoHash,
    /// A bitfield of the wrong size, with spare bits set, or sent twice.
    #[error("invalid bitfield: {0}")]
    InvalidBitfield(String),
    /// A piece index past the end of the torrent (in have, request, piece...).
    #[error("piece index {index} is out of range")]
    IndexOutOfRange {
        /// The piece index sent.
        index: u32,
    },
    /// A request or a block that does not fit inside its piece, or is
    /// longer than 16 KiB.
    #[error("request for piece {piece} offset {offset} length {len} is out of bounds")]
    RequestOutOfBounds {
        /// Piece index.
        piece: u32,
        /// Byte offset within the piece.
        offset: u32,
        /// Length in bytes.
        len: u32,
    },
    /// A message length prefix larger than we accept.
    #[error("message of {len} bytes is larger than the limit of {limit}")]
    OversizeMessage {
        /// The length prefix.
        len: u32,
        /// The limit.
        limit: u32,
    },
    /// More queued requests than the limit we advertised.
    #[error("more than {limit} outstanding requests")]
    TooManyRequests {
        /// Requests we allow to be queued.
        limit: u32,
    },
    /// Too many blocks we never asked for (or already have).
    #[error("sent {count} blocks we did not request")]
    UnrequestedData {
        /// Unrequested blocks received so far.
        count: u32,
    },
    /// Messages out of order or forbidden in the current state.
    #[error("protocol violation: {0}")]
    ProtocolViolation(&'static str),
    /// Supplied data that failed the hash check.
    #[error("sent corrupt data (failed the hash check of {pieces} piece(s) it supplied alone)")]
    HashFailures {
        /// Pieces this peer alone supplied that failed.
        pieces: u32,
    },
    /// A message the wire codec refused (wrong length for its id, a bad
    /// `hashes` payload); oversize ones are [`Self::OversizeMessage`].
    #[error("malformed message: {0}")]
    MalformedMessage(DecodeError),
    /// A BEP 10 extension handshake that does not decode.
    #[error("bad extension handshake")]
    BadExtHandshake(#[from] ExtError),
    /// A BEP 9 `ut_metadata` message that does not decode.
    #[error("bad ut_metadata message")]
    BadMetadataMessage(#[from] MetadataMsgError),
    /// Metadata (BEP 9) pieces that do not fit the announced size, or
    /// metadata that did not match the info-hash.
    #[error("bad metadata")]
    BadMetadata(#[from] MetadataError),
}

impl From<DecodeError> for PeerMisbehaved {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::Oversize { len, max } => {
                PeerMisbehaved::OversizeMessage { len, limit: max }
            }
            DecodeError::BadHandshake => PeerMisbehaved::BadHandshake,
            e => PeerMisbehaved::MalformedMessage(e),
        }
    }
}

/// Why the state machine asks the glue to close a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The peer broke the protocol; its address is now banned.
    Misbehaved(PeerMisbehaved),
    /// The address is banned from earlier misbehaviour.
    Banned,
    /// The handshake was not BitTorrent's, or named another torrent: the
    /// connection is closed without a ban (what answers at an address
    /// someone hinted at need not be a peer at all).
    HandshakeFailed(PeerMisbehaved),
    /// The torrent already has `max_peers` connections (or `max_peers_per_ip`
    /// from this IP) and none is idle enough to make room.
    TooManyPeers,
    /// An idle peer that dialled us, closed to make room for a new
    /// connection (`proto::slots`).
    Evicted,
    /// A second connection to the same peer (same peer id).
    Duplicate,
    /// We connected to ourselves.
    SelfConnection,
    /// No handshake within the handshake timeout.
    HandshakeTimeout,
    /// Nothing received for the peer timeout (3 minutes by default).
    Timeout,
    /// The torrent was paused (by the user or after a storage error).
    Paused,
    /// Both sides have every piece; the connection is useless.
    BothSeeds,
    /// The peer does not read what we send (`proto::backpressure`): the
    /// glue discards what it still holds for it instead of flushing.
    NotReading,
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::Misbehaved(m) => write!(f, "peer misbehaved: {m}"),
            DisconnectReason::Banned => f.write_str("address is banned"),
            DisconnectReason::HandshakeFailed(m) => write!(f, "handshake failed: {m}"),
            DisconnectReason::TooManyPeers => f.write_str("too many peers"),
            DisconnectReason::Evicted => f.write_str("idle; made room for another peer"),
            DisconnectReason::Duplicate => f.write_str("duplicate connection to the same peer"),
            DisconnectReason::SelfConnection => f.write_str("connected to ourselves"),
            DisconnectReason::HandshakeTimeout => f.write_str("no handshake in time"),
            DisconnectReason::Timeout => f.write_str("peer silent for too long"),
            DisconnectReason::Paused => f.write_str("torrent paused"),
            DisconnectReason::BothSeeds => f.write_str("both sides are seeds"),
            DisconnectReason::NotReading => f.write_str("peer does not read what we send"),
        }
    }
}
