//! Length-prefixed message framing (BEP 3, 5, 6, 10, 52): a decoder that
//! borrows from the receive buffer and encoders into `BytesMut`/`Vec<u8>`.
//!
//! # Wire format
//!
//! Every message after the handshake is `<len: u32 BE><id: u8><payload>`,
//! where `len` counts the id and the payload. `len == 0` is a keep-alive.
//!
//! | id | message          | payload                                          |
//! |----|------------------|--------------------------------------------------|
//! | 0  | choke            | (none)                                           |
//! | 1  | unchoke          | (none)                                           |
//! | 2  | interested       | (none)                                           |
//! | 3  | not interested   | (none)                                           |
//! | 4  | have             | piece u32                                        |
//! | 5  | bitfield         | bytes, high bit of byte 0 = piece 0              |
//! | 6  | request          | piece u32, offset u32, length u32                |
//! | 7  | piece            | piece u32, offset u32, block bytes               |
//! | 8  | cancel           | piece u32, offset u32, length u32                |
//! | 9  | port (BEP 5)     | port u16                                         |
//! | 13 | suggest (BEP 6)  | piece u32                                        |
//! | 14 | have all         | (none)                                           |
//! | 15 | have none        | (none)                                           |
//! | 16 | reject request   | piece u32, offset u32, length u32                |
//! | 17 | allowed fast     | piece u32                                        |
//! | 20 | extended (BEP 10)| ext id u8, payload                               |
//! | 21 | hash request     | pieces root (32 bytes), base layer, index, length, proof layers (u32 each) |
//! | 22 | hashes           | same 48-byte header, then 32-byte hashes         |
//! | 23 | hash reject      | same 48-byte header                              |
//!
//! All integers are big-endian. The decoder validates the length prefix
//! against [`MAX_MESSAGE_LEN`] as soon as the 4 prefix bytes are seen, and
//! fixed-size messages must have exactly their size. Whether a piece index or
//! block offset is in range is for the protocol state machine to decide.

use bytes::{BufMut, BytesMut};

use super::{HashRequest, Message, MAX_MESSAGE_LEN};

/// Message ids (the byte after the length prefix).
pub mod id {
    #![allow(missing_docs)]
    pub const CHOKE: u8 = 0;
    pub const UNCHOKE: u8 = 1;
    pub const INTERESTED: u8 = 2;
    pub const NOT_INTERESTED: u8 = 3;
    pub const HAVE: u8 = 4;
    pub const BITFIELD: u8 = 5;
    pub const REQUEST: u8 = 6;
    pub const PIECE: u8 = 7;
    pub const CANCEL: u8 = 8;
    pub const PORT: u8 = 9;
    pub const SUGGEST_PIECE: u8 = 13;
    pub const HAVE_ALL: u8 = 14;
    pub const HAVE_NONE: u8 = 15;
    pub const REJECT_REQUEST: u8 = 16;
    pub const ALLOWED_FAST: u8 = 17;
    pub const EXTENDED: u8 = 20;
    pub const HASH_REQUEST: u8 = 21;
    pub const HASHES: u8 = 22;
    pub const HASH_REJECT: u8 = 23;
}

/// Size of the BEP 52 hash request header (pieces root + 4 × u32).
pub const HASH_REQUEST_LEN: usize = 32 + 16;

/// Most 32-byte hashes we accept in one `hashes` message (a 512-hash
/// request plus its proof layers fits comfortably).
pub const MAX_HASHES_PER_MESSAGE: usize = 8192;

/// Result of a successful [`decode`] call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// Not enough bytes yet: read at least `need` more and call again.
    Incomplete {
        /// Bytes still missing.
        need: usize,
    },
    /// A whole message, and how many bytes of the buffer it used.
    Message(Message<'a>, usize),
    /// A whole, well-framed message with an id we do not know: skip its
    /// `frame_len` bytes (prefix included) and go on.
    Unknown {
        /// The message id.
        id: u8,
        /// Bytes to skip, length prefix included.
        frame_len: usize,
    },
}

/// Why a message could not be decoded. After any error the stream is out
/// of sync and the connection should be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The length prefix is larger than the limit ([`MAX_MESSAGE_LEN`] or
    /// the one given to [`decode_limited`]).
    #[error("message length {len} exceeds the limit of {max} bytes")]
    Oversize {
        /// The length prefix.
        len: u32,
        /// The limit.
        max: u32,
    },
    /// A message whose size is fixed by its id has a different length.
    #[error("message id {id} has invalid length {len}")]
    BadLength {
        /// The message id.
        id: u8,
        /// The length prefix.
        len: u32,
    },
    /// The handshake does not start with `\x13BitTorrent protocol`.
    #[error("peer handshake does not announce the BitTorrent protocol")]
    BadHandshake,
    /// A BEP 52 `hashes` payload is not a whole number of 32-byte hashes
    /// or carries more than [`MAX_HASHES_PER_MESSAGE`].
    #[error("hashes payload of {len} bytes is not a bounded multiple of 32")]
    BadHashes {
        /// Payload length in bytes.
        len: usize,
    },
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn hash_request(b: &[u8]) -> HashRequest {
    let mut pieces_root = [0u8; 32];
    pieces_root.copy_from_slice(&b[..32]);
    HashRequest {
        pieces_root,
        base_layer: be32(b, 32),
        index: be32(b, 36),
        length: be32(b, 40),
        proof_layers: be32(b, 44),
    }
}

/// Decode one message from the front of `buf`.
///
/// Never panics and never asks for more than `4 + MAX_MESSAGE_LEN` bytes in
/// total: an oversize prefix is rejected as soon as its 4 bytes are seen.
pub fn decode(buf: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    decode_limited(buf, MAX_MESSAGE_LEN)
}

/// [`decode`] with a lower length limit `max` (at most [`MAX_MESSAGE_LEN`]),
/// e.g. sized for one torrent's bitfield and blocks.
pub fn decode_limited(buf: &[u8], max: u32) -> Result<Decoded<'_>, DecodeError> {
    let max = max.min(MAX_MESSAGE_LEN);
    if buf.len() < 4 {
        return Ok(Decoded::Incomplete {
            need: 4 - buf.len(),
        });
    }
    let len = be32(buf, 0);
    if len > max {
        return Err(DecodeError::Oversize { len, max });
    }
    if len == 0 {
        return Ok(Decoded::Message(Message::KeepAlive, 4));
    }
    // Check the id (and fixed sizes) as soon as it arrives, before the body.
    let known = buf.len() < 5 || check_len(buf[4], len)?;
    let frame = 4 + len as usize;
    if buf.len() < frame {
        return Ok(Decoded::Incomplete {
            need: frame - buf.len(),
        });
    }
    if !known {
        return Ok(Decoded::Unknown {
            id: buf[4],
            frame_len: frame,
        });
    }
    let id = buf[4];
    let p = &buf[5..frame];
    let msg = match id {
        id::CHOKE => Message::Choke,
        id::UNCHOKE => Message::Unchoke,
        id::INTERESTED => Message::Interested,
        id::NOT_INTERESTED => Message::NotInterested,
        id::HAVE => Message::Have { piece: be32(p, 0) },
        id::BITFIELD => Message::Bitfield(p),
        id::REQUEST => Message::Request {
            piece: be32(p, 0),
            offset: be32(p, 4),
            len: be32(p, 8),
        },
        id::PIECE => Message::Piece {
            piece: be32(p, 0),
            offset: be32(p, 4),
            data: &p[8..],
        },
        id::CANCEL => Message::Cancel {
            piece: be32(p, 0),
            offset: be32(p, 4),
            len: be32(p, 8),
        },
        id::PORT => Message::Port(u16::from_be_bytes([p[0], p[1]])),
        id::SUGGEST_PIECE => Message::SuggestPiece { piece: be32(p, 0) },
        id::HAVE_ALL => Message::HaveAll,
        id::HAVE_NONE => Message::HaveNone,
        id::REJECT_REQUEST => Message::RejectRequest {
            piece: be32(p, 0),
            offset: be32(p, 4),
            len: be32(p, 8),
        },
        id::ALLOWED_FAST => Message::AllowedFast { piece: be32(p, 0) },
        id::EXTENDED => Message::Extended {
            id: p[0],
            payload: &p[1..],
        },
        id::HASH_REQUEST => Message::HashRequest(hash_request(p)),
        id::HASHES => {
            let hashes = &p[HASH_REQUEST_LEN..];
            if hashes.len() % 32 != 0 {
                return Err(DecodeError::BadHashes { len: hashes.len() });
            }
            Message::Hashes {
                req: hash_request(p),
                hashes,
            }
        }
        id::HASH_REJECT => Message::HashReject(hash_request(p)),
        // check_len has returned false for every other id.
        other => {
            return Ok(Decoded::Unknown {
                id: other,
                frame_len: frame,
            })
        }
    };
    Ok(Decoded::Message(msg, frame))
}

/// Validate `len` (id + payload) for message `id`: `Ok(false)` for an
/// unknown id (any length is framed correctly).
fn check_len(id: u8, len: u32) -> Result<bool, DecodeError> {
    let ok = match id {
        id::CHOKE | id::UNCHOKE | id::INTERESTED | id::NOT_INTERESTED => len == 1,
        id::HAVE_ALL | id::HAVE_NONE => len == 1,
        id::HAVE | id::SUGGEST_PIECE | id::ALLOWED_FAST => len == 5,
        id::REQUEST | id::CANCEL | id::REJECT_REQUEST => len == 13,
        id::PORT => len == 3,
        // An empty bitfield is legal for a torrent of 0 pieces.
        id::BITFIELD => len >= 1,
        id::PIECE => len >= 9,
        id::EXTENDED => len >= 2,
        id::HASH_REQUEST | id::HASH_REJECT => len as usize == 1 + HASH_REQUEST_LEN,
        id::HASHES => {
            let min = 1 + HASH_REQUEST_LEN;
            if (len as usize) < min {
                false
            } else {
                let hashes = len as usize - min;
                if hashes % 32 != 0 || hashes / 32 > MAX_HASHES_PER_MESSAGE {
                    return Err(DecodeError::BadHashes { len: hashes });
                }
                true
            }
        }
        _ => return Ok(false),
    };
    if ok {
        Ok(true)
    } else {
        Err(DecodeError::BadLength { id, len })
    }
}

/// Where encoders write: implemented for `Vec<u8>` and `BytesMut`.
pub trait Out {
    /// Append bytes.
    fn put(&mut self, b: &[u8]);
    /// Reserve room for at least `n` more bytes.
    fn reserve_more(&mut self, n: usize);
}

impl Out for Vec<u8> {
    fn put(&mut self, b: &[u8]) {
        self.extend_from_slice(b);
    }
    fn reserve_more(&mut self, n: usize) {
        self.reserve(n);
    }
}

impl Out for BytesMut {
    fn put(&mut self, b: &[u8]) {
        self.put_slice(b);
    }
    fn reserve_more(&mut self, n: usize) {
        self.reserve(n);
    }
}

/// Why a message could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The message would be larger than [`MAX_MESSAGE_LEN`], so a peer
    /// running this codec would reject it.
    #[error("message of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Message length in bytes.
        len: usize,
        /// The limit.
        max: u32,
    },
    /// A `hashes` payload is not a multiple of 32 bytes or has more than
    /// [`MAX_HASHES_PER_MESSAGE`] hashes.
    #[error("hashes payload of {len} bytes is not a bounded multiple of 32")]
    BadHashes {
        /// Payload length in bytes.
        len: usize,
    },
}

/// Number of bytes [`encode`] writes for `msg` (prefix included).
pub fn encoded_len(msg: &Message<'_>) -> usize {
    4 + match msg {
        Message::KeepAlive => 0,
        Message::Choke
        | Message::Unchoke
        | Message::Interested
        | Message::NotInterested
        | Message::HaveAll
        | Message::HaveNone => 1,
        Message::Have { .. } | Message::SuggestPiece { .. } | Message::AllowedFast { .. } => 5,
        Message::Bitfield(b) => 1 + b.len(),
        Message::Request { .. } | Message::Cancel { .. } | Message::RejectRequest { .. } => 13,
        Message::Piece { data, .. } => 9 + data.len(),
        Message::Port(_) => 3,
        Message::Extended { payload, .. } => 2 + payload.len(),
        Message::HashRequest(_) | Message::HashReject(_) => 1 + HASH_REQUEST_LEN,
        Message::Hashes { hashes, .. } => 1 + HASH_REQUEST_LEN + hashes.len(),
    }
}

fn put_header(out: &mut impl Out, len: u32, id: u8) {
    out.put(&len.to_be_bytes());
    out.put(&[id]);
}

fn put_u32s(out: &mut impl Out, vals: &[u32]) {
    for v in vals {
        out.put(&v.to_be_bytes());
    }
}

fn put_hash_request(out: &mut impl Out, r: &HashRequest) {
    out.put(&r.pieces_root);
    put_u32s(out, &[r.base_layer, r.index, r.length, r.proof_layers]);
}

/// Append `msg` to `out`, length prefix included.
///
/// Fails (writing nothing) if the message is larger than
/// [`MAX_MESSAGE_LEN`] or a `hashes` payload is not a multiple of 32.
pub fn encode(msg: &Message<'_>, out: &mut impl Out) -> Result<(), EncodeError> {
    let total = encoded_len(msg);
    let len = total - 4;
    if len > MAX_MESSAGE_LEN as usize {
        return Err(EncodeError::TooLarge {
            len,
            max: MAX_MESSAGE_LEN,
        });
    }
    if let Message::Hashes { hashes, .. } = msg {
        if hashes.len() % 32 != 0 || hashes.len() / 32 > MAX_HASHES_PER_MESSAGE {
            return Err(EncodeError::BadHashes { len: hashes.len() });
        }
    }
    out.reserve_more(total);
    let len = len as u32;
    match msg {
        Message::KeepAlive => out.put(&[0, 0, 0, 0]),
        Message::Choke => put_header(out, 1, id::CHOKE),
        Message::Unchoke => put_header(out, 1, id::UNCHOKE),
        Message::Interested => put_header(out, 1, id::INTERESTED),
        Message::NotInterested => put_header(out, 1, id::NOT_INTERESTED),
        Message::HaveAll => put_header(out, 1, id::HAVE_ALL),
        Message::HaveNone => put_header(out, 1, id::HAVE_NONE),
        Message::Have { piece } => {
            put_header(out, 5, id::HAVE);
            out.put(&piece.to_be_bytes());
        }
        Message::SuggestPiece { piece } => {
            put_header(out, 5, id::SUGGEST_PIECE);
            out.put(&piece.to_be_bytes());
        }
        Message::AllowedFast { piece } => {
            put_header(out, 5, id::ALLOWED_FAST);
            out.put(&piece.to_be_bytes());
        }
        Message::Bitfield(b) => {
            put_header(out, len, id::BITFIELD);
            out.put(b);
        }
        Message::Request { piece, offset, len } => {
            put_header(out, 13, id::REQUEST);
            put_u32s(out, &[*piece, *offset, *len]);
        }
        Message::Cancel { piece, offset, len } => {
            put_header(out, 13, id::CANCEL);
            put_u32s(out, &[*piece, *offset, *len]);
        }
        Message::RejectRequest { piece, offset, len } => {
            put_header(out, 13, id::REJECT_REQUEST);
            put_u32s(out, &[*piece, *offset, *len]);
        }
        Message::Piece {
            piece,
            offset,
            data,
        } => {
            put_header(out, len, id::PIECE);
            out.put(&piece.to_be_bytes());
            out.put(&offset.to_be_bytes());
            out.put(data);
        }
        Message::Port(port) => {
            put_header(out, 3, id::PORT);
            out.put(&port.to_be_bytes());
        }
        Message::Extended { id: ext, payload } => {
            put_header(out, len, id::EXTENDED);
            out.put(&[*ext]);
            out.put(payload);
        }
        Message::HashRequest(r) => {
            put_header(out, len, id::HASH_REQUEST);
            put_hash_request(out, r);
        }
        Message::HashReject(r) => {
            put_header(out, len, id::HASH_REJECT);
            put_hash_request(out, r);
        }
        Message::Hashes { req, hashes } => {
            put_header(out, len, id::HASHES);
            put_hash_request(out, req);
            out.put(hashes);
        }
    }
    Ok(())
}

/// Length of the header written by [`encode_piece_header`].
pub const PIECE_HEADER_LEN: usize = 13;

/// Append the 13-byte header of a `piece` message carrying `len` bytes of
/// block data, so the block itself can be sent as a separate slice
/// (vectored write, `Bytes` chain) without copying it.
///
/// Fails if the resulting message would exceed [`MAX_MESSAGE_LEN`].
pub fn encode_piece_header(
    piece: u32,
    offset: u32,
    len: u32,
    out: &mut impl Out,
) -> Result<(), EncodeError> {
    let total = len as u64 + 9;
    if total > MAX_MESSAGE_LEN as u64 {
        return Err(EncodeError::TooLarge {
            len: total as usize,
            max: MAX_MESSAGE_LEN,
        });
    }
    out.reserve_more(PIECE_HEADER_LEN);
    put_header(out, total as u32, id::PIECE);
    out.put(&piece.to_be_bytes());
    out.put(&offset.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests;
