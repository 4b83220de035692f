//! The BitTorrent peer wire protocol: message types and the one codec,
//! which borrows from the receive buffer. [`crate::proto`] reads and writes
//! every peer message through it; its errors are typed and become
//! [`crate::proto::PeerMisbehaved`] reasons. Each module documents its wire
//! format.
//!
//! - [`codec`]: length-prefixed messages (BEP 3, 5, 6, 10, 52), the wire
//!   format table is there; [`decode`] / [`decode_limited`] / [`encode`] /
//!   [`encode_piece_header`].
//! - [`handshake`]: the 68-byte handshake and reserved bits.
//! - [`ext`]: the BEP 10 extension handshake dictionary.
//! - [`metadata`]: BEP 9 `ut_metadata` messages and [`MetadataAssembler`].
//!
//! Bencoded payloads are read with `piece_core::bencode` under the limits
//! each module states ([`ext::LIMITS`], [`metadata::LIMITS`]). The codec
//! checks form only (lengths, ids, the protocol string, field types);
//! whether a piece index, offset or length is valid for the torrent is the
//! state machine's decision.

/// Largest message we accept: a 16 KiB block plus header, or a bitfield
/// for [`piece_core::types::MAX_PIECES`] pieces, whichever is larger, and
/// a bound for extension messages (metadata pieces are 16 KiB).
pub const MAX_MESSAGE_LEN: u32 = 4 * 1024 * 1024 + 13;

/// Reserved-bit flags we set and read in the handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Reserved {
    /// BEP 10 extension protocol (`reserved[5] & 0x10`).
    pub extended: bool,
    /// BEP 6 fast extension (`reserved[7] & 0x04`).
    pub fast: bool,
    /// BEP 52 v2 upgrade bit (`reserved[7] & 0x10`).
    pub v2: bool,
}

/// The 68-byte handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handshake {
    /// Extension bits.
    pub reserved: Reserved,
    /// v1 info-hash, or the truncated v2 hash.
    pub info_hash: [u8; 20],
    /// The sender's peer id.
    pub peer_id: [u8; 20],
}

/// A decoded message. Payloads borrow from the receive buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    /// Zero-length message.
    KeepAlive,
    /// id 0: we will not serve the receiver's requests.
    Choke,
    /// id 1: requests will be served.
    Unchoke,
    /// id 2: the sender wants pieces the receiver has.
    Interested,
    /// id 3.
    NotInterested,
    /// id 4: the sender now has `piece`.
    Have {
        /// Piece index.
        piece: u32,
    },
    /// id 5: pieces the sender has, high bit of byte 0 = piece 0.
    Bitfield(&'a [u8]),
    /// id 6: ask for a block.
    Request {
        /// Piece index.
        piece: u32,
        /// Byte offset within the piece.
        offset: u32,
        /// Length in bytes (at most 16 KiB).
        len: u32,
    },
    /// id 7: a block of data.
    Piece {
        /// Piece index.
        piece: u32,
        /// Byte offset of the block within the piece.
        offset: u32,
        /// The block's bytes (borrowed from the receive buffer).
        data: &'a [u8],
    },
    /// id 8: withdraw a request.
    Cancel {
        /// Piece index.
        piece: u32,
        /// Byte offset within the piece.
        offset: u32,
        /// Length in bytes.
        len: u32,
    },
    /// BEP 5 DHT port (accepted and ignored).
    Port(u16),
    // BEP 6
    /// id 13: the sender suggests downloading `piece`.
    SuggestPiece {
        /// Piece index.
        piece: u32,
    },
    /// id 14: the sender has every piece (instead of a bitfield).
    HaveAll,
    /// id 15: the sender has no pieces.
    HaveNone,
    /// id 16: a request will not be served.
    RejectRequest {
        /// Piece index.
        piece: u32,
        /// Byte offset within the piece.
        offset: u32,
        /// Length in bytes.
        len: u32,
    },
    /// id 17: `piece` may be requested even while choked.
    AllowedFast {
        /// Piece index.
        piece: u32,
    },
    /// BEP 10: id 0 is the extension handshake, others as negotiated.
    Extended {
        /// Extension message id (0: the handshake).
        id: u8,
        /// The message after the id byte.
        payload: &'a [u8],
    },
    // BEP 52
    /// id 21: ask for merkle hashes of a file tree.
    HashRequest(HashRequest),
    /// id 22: the hashes asked for (32 bytes each) plus proof.
    Hashes {
        /// The request these hashes answer.
        req: HashRequest,
        /// The hashes then the proof, 32 bytes each.
        hashes: &'a [u8],
    },
    /// id 23: hashes will not be sent.
    HashReject(HashRequest),
}

/// BEP 52 hash request / hashes / hash reject header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashRequest {
    /// Merkle root of the file the hashes belong to.
    pub pieces_root: [u8; 32],
    /// Layer of the requested hashes (0 = 16 KiB block layer).
    pub base_layer: u32,
    /// Offset (in hashes) of the first requested hash in that layer.
    pub index: u32,
    /// Number of hashes requested (a power of two).
    pub length: u32,
    /// Number of uncle-hash layers wanted for the proof.
    pub proof_layers: u32,
}

pub mod codec;
pub mod ext;
pub mod handshake;
pub mod metadata;

pub use codec::{
    decode, decode_limited, encode, encode_piece_header, encoded_len, DecodeError, Decoded,
    EncodeError, Out, PIECE_HEADER_LEN,
};
pub use ext::{ExtError, ExtHandshake};
pub use handshake::{decode_handshake, encode_handshake, HANDSHAKE_LEN};
pub use metadata::{MetadataAssembler, MetadataError, MetadataMsg, MetadataMsgError};
