//! BEP 9 `ut_metadata`: fetching the info dictionary from peers.
//!
//! # Wire format
//!
//! Sent as `Message::Extended { id, payload }` with the id the peer gave
//! for `ut_metadata` in its extension handshake. `payload` is a bencoded
//! dictionary, followed by raw bytes for `data` messages:
//!
//! ```text
//! request: d8:msg_typei0e5:piecei0ee
//! data:    d8:msg_typei1e5:piecei0e10:total_sizei34256ee<up to 16 KiB of info dict>
//! reject:  d8:msg_typei2e5:piecei0ee
//! ```
//!
//! The metadata is cut into 16 KiB pieces; every piece but the last is
//! exactly 16 KiB. [`MetadataAssembler`] collects them and checks the
//! result against the info-hash (SHA-1 for v1, SHA-256 for v2, both for
//! hybrid torrents).

use piece_core::bencode::{self, BencodeError, Encoder, KeyOrder, Limits};
use piece_core::types::InfoHashes;
use sha1::{Digest, Sha1};
use sha2::Sha256;

/// Size of a metadata piece.
pub const METADATA_PIECE_LEN: usize = 16 * 1024;
/// Largest metadata we fetch.
pub const MAX_METADATA_SIZE: u32 = 16 * 1024 * 1024;

/// Bencode limits of the dictionary at the front of a message: 1 KiB
/// (ours are under 64 bytes), nesting 8, 256 values, keys in any order.
pub const LIMITS: Limits = Limits {
    max_len: 1024,
    max_depth: 8,
    max_tokens: 256,
    key_order: KeyOrder::Lenient,
};

/// A decoded `ut_metadata` message. `Data` borrows the piece bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetadataMsg<'a> {
    /// `msg_type` 0: please send piece `piece`.
    Request {
        /// Piece index (16 KiB pieces).
        piece: u32,
    },
    /// `msg_type` 1: piece `piece` of a `total_size`-byte info dictionary.
    Data {
        /// Piece index.
        piece: u32,
        /// Size of the whole info dictionary in bytes.
        total_size: u32,
        /// This piece's bytes.
        data: &'a [u8],
    },
    /// `msg_type` 2: the peer will not send `piece`.
    Reject {
        /// Piece index.
        piece: u32,
    },
}

/// Why a `ut_metadata` message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataMsgError {
    /// The dictionary is not valid bencode or beyond [`LIMITS`].
    #[error("ut_metadata message is not valid bencode")]
    Bencode(#[from] BencodeError),
    /// Valid bencode, but not a dictionary.
    #[error("ut_metadata message is not a dictionary")]
    NotADict,
    /// A required key is missing or out of range.
    #[error("ut_metadata message has a missing or invalid `{0}`")]
    BadField(&'static str),
    /// A `msg_type` we do not know (BEP 9: ignore the message).
    #[error("unknown ut_metadata msg_type {0}")]
    UnknownType(i64),
    /// Bytes after the dictionary of a non-data message, or a data piece
    /// larger than 16 KiB.
    #[error("ut_metadata message has {0} unexpected trailing bytes")]
    BadData(usize),
}

impl MetadataMsg<'_> {
    /// Encode as an extension payload (dictionary, then data if any).
    pub fn encode(&self) -> Vec<u8> {
        let (ty, piece) = match self {
            MetadataMsg::Request { piece } => (0, *piece),
            MetadataMsg::Data { piece, .. } => (1, *piece),
            MetadataMsg::Reject { piece } => (2, *piece),
        };
        let data = match self {
            MetadataMsg::Data { data, .. } => data,
            _ => &[][..],
        };
        let mut e = Encoder::with_capacity(64 + data.len());
        e.begin_dict()
            .str("msg_type")
            .int(ty)
            .str("piece")
            .int(i64::from(piece));
        if let MetadataMsg::Data { total_size, .. } = self {
            e.str("total_size").int(i64::from(*total_size));
        }
        e.end().raw(data);
        e.finish()
    }

    /// Decode an extension payload.
    pub fn decode(buf: &[u8]) -> Result<MetadataMsg<'_>, MetadataMsgError> {
        let (v, end) = bencode::decode_prefix(buf, LIMITS)?;
        let d = v.as_dict().ok_or(MetadataMsgError::NotADict)?;
        let field = |name: &'static str| {
            d.get(name.as_bytes())
                .map(|v| v.as_int().ok_or(MetadataMsgError::BadField(name)))
                .transpose()
        };
        let ty = field("msg_type")?.ok_or(MetadataMsgError::BadField("msg_type"))?;
        let u = |name: &'static str| {
            field(name)?
                .and_then(|v| u32::try_from(v).ok())
                .ok_or(MetadataMsgError::BadField(name))
        };
        let rest = &buf[end..];
        let msg = match ty {
            0 => MetadataMsg::Request { piece: u("piece")? },
            1 => MetadataMsg::Data {
                piece: u("piece")?,
                total_size: u("total_size")?,
                data: rest,
            },
            2 => MetadataMsg::Reject { piece: u("piece")? },
            other => return Err(MetadataMsgError::UnknownType(other)),
        };
        let trailing_ok = match msg {
            MetadataMsg::Data { .. } => rest.len() <= METADATA_PIECE_LEN,
            _ => rest.is_empty(),
        };
        if !trailing_ok {
            return Err(MetadataMsgError::BadData(rest.len()));
        }
        Ok(msg)
    }
}

/// Number of 16 KiB pieces in `size` bytes of metadata.
pub fn metadata_pieces(size: usize) -> usize {
    size.div_ceil(METADATA_PIECE_LEN)
}

/// Piece `index` of `info_bytes` for serving a request, `None` if out of
/// range.
pub fn metadata_piece(info_bytes: &[u8], index: u32) -> Option<&[u8]> {
    let start = (index as usize).checked_mul(METADATA_PIECE_LEN)?;
    if start >= info_bytes.len() {
        return None;
    }
    let end = (start + METADATA_PIECE_LEN).min(info_bytes.len());
    Some(&info_bytes[start..end])
}

/// Why metadata could not be assembled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// Announced size is 0 or larger than [`MAX_METADATA_SIZE`].
    #[error("metadata size {size} is out of range (1..={max})")]
    BadSize {
        /// The announced size.
        size: u64,
        /// The largest size accepted.
        max: u32,
    },
    /// A data message disagrees with the size we are assembling.
    #[error("peer announced metadata size {got}, expected {expected}")]
    SizeMismatch {
        /// The size being assembled.
        expected: u32,
        /// The size this message announces.
        got: u32,
    },
    /// Piece index beyond the end of the metadata.
    #[error("metadata piece {index} out of range ({count} pieces)")]
    BadPiece {
        /// Piece index.
        index: u32,
        /// Number of pieces.
        count: u32,
    },
    /// Piece has the wrong length (all but the last must be 16 KiB).
    #[error("metadata piece {index} has {got} bytes, expected {expected}")]
    BadPieceLength {
        /// Piece index.
        index: u32,
        /// Bytes it should have.
        expected: usize,
        /// Bytes it has.
        got: usize,
    },
    /// [`MetadataAssembler::finish`] called with pieces still missing.
    #[error("metadata incomplete: {missing} pieces missing")]
    Incomplete {
        /// Number of pieces not received yet.
        missing: usize,
    },
    /// The assembled bytes do not hash to the info-hash. The assembler
    /// has been reset: fetch again (from other peers).
    #[error("metadata does not match the info-hash")]
    HashMismatch,
    /// [`MetadataAssembler::finish`] already returned the metadata.
    #[error("metadata already assembled and handed out")]
    Finished,
    /// No info-hash to check against.
    #[error("no info-hash to verify metadata against")]
    NoInfoHash,
}

/// Collects the pieces of a metadata blob of announced size.
#[derive(Debug)]
pub struct MetadataAssembler {
    expected: InfoHashes,
    size: u32,
    buf: Vec<u8>,
    have: Vec<bool>,
    missing: usize,
    finished: bool,
}

impl MetadataAssembler {
    /// Start assembling `size` bytes (from a peer's `metadata_size`) that
    /// must hash to `expected`. Refuses 0 and sizes above
    /// [`MAX_METADATA_SIZE`]. Allocates `size` bytes.
    pub fn new(size: u64, expected: InfoHashes) -> Result<Self, MetadataError> {
        if size == 0 || size > MAX_METADATA_SIZE as u64 {
            return Err(MetadataError::BadSize {
                size,
                max: MAX_METADATA_SIZE,
            });
        }
        if expected.v1.is_none() && expected.v2.is_none() {
            return Err(MetadataError::NoInfoHash);
        }
        let n = metadata_pieces(size as usize);
        Ok(MetadataAssembler {
            expected,
            size: size as u32,
            buf: vec![0; size as usize],
            have: vec![false; n],
            missing: n,
            finished: false,
        })
    }

    /// Total size in bytes.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Number of pieces.
    pub fn num_pieces(&self) -> u32 {
        self.have.len() as u32
    }

    /// Pieces not yet received, in order.
    pub fn missing(&self) -> impl Iterator<Item = u32> + '_ {
        self.have
            .iter()
            .enumerate()
            .filter(|(_, h)| !**h)
            .map(|(i, _)| i as u32)
    }

    /// Have all pieces arrived?
    pub fn is_complete(&self) -> bool {
        self.missing == 0
    }

    /// Store a received piece. `total_size` is the value from the data
    /// message and must match. Receiving a piece twice overwrites it.
    pub fn add_piece(
        &mut self,
        index: u32,
        total_size: u32,
        data: &[u8],
    ) -> Result<(), MetadataError> {
        if self.finished {
            return Err(MetadataError::Finished);
        }
        if total_size != self.size {
            return Err(MetadataError::SizeMismatch {
                expected: self.size,
                got: total_size,
            });
        }
        let count = self.num_pieces();
        if index >= count {
            return Err(MetadataError::BadPiece { index, count });
        }
        let start = index as usize * METADATA_PIECE_LEN;
        let expected = (self.size as usize - start).min(METADATA_PIECE_LEN);
        if data.len() != expected {
            return Err(MetadataError::BadPieceLength {
                index,
                expected,
                got: data.len(),
            });
        }
        self.buf[start..start + expected].copy_from_slice(data);
        if !self.have[index as usize] {
            self.have[index as usize] = true;
            self.missing -= 1;
        }
        Ok(())
    }

    /// Verify and return the info dictionary bytes (once: later calls and
    /// pieces get [`MetadataError::Finished`]). On a hash mismatch every
    /// piece is marked missing again so the fetch can restart.
    pub fn finish(&mut self) -> Result<Vec<u8>, MetadataError> {
        if self.finished {
            return Err(MetadataError::Finished);
        }
        if self.missing != 0 {
            return Err(MetadataError::Incomplete {
                missing: self.missing,
            });
        }
        let v1_ok = self
            .expected
            .v1
            .is_none_or(|h| Sha1::digest(&self.buf).as_slice() == h.0);
        let v2_ok = self
            .expected
            .v2
            .is_none_or(|h| Sha256::digest(&self.buf).as_slice() == h.0);
        if !(v1_ok && v2_ok) {
            self.have.iter_mut().for_each(|h| *h = false);
            self.missing = self.have.len();
            return Err(MetadataError::HashMismatch);
        }
        self.finished = true;
        Ok(std::mem::take(&mut self.buf))
    }
}

#[cfg(test)]
mod tests;
