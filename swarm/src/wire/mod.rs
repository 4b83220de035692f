//! The BitTorrent peer wire protocol: message types and a decoder that
//! borrows from the receive buffer. (Issue 3; codec owned by the wire work.)
//!
//! The shapes here are the shared interface between the codec and the
//! protocol state machine in [`crate::proto`].

/// Largest message we accept: a 16 KiB block plus header, or a bitfield
/// for [`piece_core::types::MAX_PIECES`] pieces, whichever is larger, and
/// a bound for extension messages (metadata pieces are 16 KiB).
pub const MAX_MESSAGE_LEN: u32 = 4 * 1024 * 1024 + 13;

/// Reserved-bit flags we set and read in the handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Reserved {
    /// BEP 10 extension protocol (reserved[5] & 0x10).
    pub extended: bool,
    /// BEP 6 fast extension (reserved[7] & 0x04).
    pub fast: bool,
    /// BEP 52 v2 upgrade bit (reserved[7] & 0x10).
    pub v2: bool,
}

/// The 68-byte handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handshake {
    pub reserved: Reserved,
    /// v1 info-hash, or the truncated v2 hash.
    pub info_hash: [u8; 20],
    pub peer_id: [u8; 20],
}

/// A decoded message. Payloads borrow from the receive buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    KeepAlive,
    Choke,
    Unchoke,
    Interested,
    NotInterested,
    Have {
        piece: u32,
    },
    Bitfield(&'a [u8]),
    Request {
        piece: u32,
        offset: u32,
        len: u32,
    },
    Piece {
        piece: u32,
        offset: u32,
        data: &'a [u8],
    },
    Cancel {
        piece: u32,
        offset: u32,
        len: u32,
    },
    /// BEP 5 DHT port (accepted and ignored).
    Port(u16),
    // BEP 6
    SuggestPiece {
        piece: u32,
    },
    HaveAll,
    HaveNone,
    RejectRequest {
        piece: u32,
        offset: u32,
        len: u32,
    },
    AllowedFast {
        piece: u32,
    },
    /// BEP 10: id 0 is the extension handshake, others as negotiated.
    Extended {
        id: u8,
        payload: &'a [u8],
    },
    // BEP 52
    HashRequest(HashRequest),
    Hashes {
        req: HashRequest,
        hashes: &'a [u8],
    },
    HashReject(HashRequest),
}

/// BEP 52 hash request / hashes / hash reject header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashRequest {
    pub pieces_root: [u8; 32],
    pub base_layer: u32,
    pub index: u32,
    pub length: u32,
    pub proof_layers: u32,
}

mod benc;
pub mod codec;
pub mod ext;
pub mod fast;
pub mod handshake;
pub mod metadata;

pub use codec::{
    decode, encode, encode_extended, encode_piece_header, encoded_len, DecodeError, Decoded,
    EncodeError, Out,
};
pub use ext::{ExtError, ExtHandshake};
pub use fast::allowed_fast_set;
pub use handshake::{decode_handshake, encode_handshake, HANDSHAKE_LEN};
pub use metadata::{MetadataAssembler, MetadataError, MetadataMsg, MetadataMsgError};
