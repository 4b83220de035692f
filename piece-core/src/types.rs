//! Validated newtypes shared by every layer: piece indexes, block
//! addresses, torrent lengths and info-hashes.
//!
//! Indexes and lengths that come from a peer or a file are validated once,
//! by [`Lengths::piece`] / [`Lengths::block`], and carried as these types
//! afterwards, so that code further in never re-checks (or forgets to check)
//! a bound.

use std::fmt;

/// Size of a block: the unit of a request on the wire and of a v2 merkle leaf.
pub const BLOCK_SIZE: u32 = 16 * 1024;

/// Largest piece we accept (libtorrent's limit too).
pub const MAX_PIECE_LENGTH: u32 = 128 * 1024 * 1024;

/// Most pieces we accept in one torrent. Bounds every per-piece allocation
/// that a torrent file controls (bitfields, picker state, hash lists).
pub const MAX_PIECES: u32 = 1 << 25;

/// The index of a piece that is known to exist in its torrent.
///
/// Only [`Lengths::piece`] (and code that iterates a `Lengths`) makes one,
/// so holding a `PieceIndex` means the bound was checked.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PieceIndex(u32);

impl PieceIndex {
    /// The raw index, for the wire or for indexing a per-piece table.
    #[inline]
    pub fn get(self) -> u32 {
        self.0
    }
    /// The raw index as `usize`, for indexing per-piece vectors.
    #[inline]
    pub fn idx(self) -> usize {
        self.0 as usize
    }
    /// Builds an index without checking it. For code that has the bound in
    /// hand already (iterating `0..num_pieces`); never for peer input.
    #[inline]
    pub fn new_unchecked(i: u32) -> Self {
        PieceIndex(i)
    }
}

impl fmt::Debug for PieceIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "piece#{}", self.0)
    }
}
impl fmt::Display for PieceIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A byte range inside one piece (a request / a block of data), validated
/// against the torrent's [`Lengths`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct BlockInfo {
    /// The piece it belongs to.
    pub piece: PieceIndex,
    /// Byte offset within the piece.
    pub offset: u32,
    /// Length in bytes, `1..=BLOCK_SIZE` for blocks we make; requests
    /// from peers are accepted up to [`BLOCK_SIZE`] as well.
    pub len: u32,
}

impl BlockInfo {
    /// Index of this block within its piece (`offset / BLOCK_SIZE`).
    #[inline]
    pub fn block_index(&self) -> u32 {
        self.offset / BLOCK_SIZE
    }
}

/// Why a length or index was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LengthsError {
    /// A piece length that is zero, not a multiple of 16 KiB or over 128 MiB.
    #[error("piece length {0} is not valid (must be a multiple of 16 KiB, at most 128 MiB)")]
    BadPieceLength(u64),
    /// A total size that does not fit the address space.
    #[error("total size {0} is too large")]
    TooLarge(u64),
    /// More pieces than [`MAX_PIECES`].
    #[error("torrent has {0} pieces, more than the limit of {MAX_PIECES}")]
    TooManyPieces(u64),
}

/// The geometry of a torrent's piece address space: total size, piece
/// length, number of pieces and the size of the last one.
///
/// For v2 and hybrid torrents the address space includes the padding that
/// aligns each file to a piece boundary (see [`crate::layout::Layout`]);
/// `Lengths` itself is uniform: every piece but the last is `piece_len` long.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Lengths {
    total: u64,
    piece_len: u32,
    num_pieces: u32,
    last_piece_len: u32,
}

impl Lengths {
    /// Validates the geometry. `piece_len` must be a positive multiple of
    /// [`BLOCK_SIZE`] no larger than [`MAX_PIECE_LENGTH`]. A total of 0 gives
    /// zero pieces (a torrent of empty files).
    pub fn new(total: u64, piece_len: u64) -> Result<Self, LengthsError> {
        if piece_len == 0
            || piece_len % BLOCK_SIZE as u64 != 0
            || piece_len > MAX_PIECE_LENGTH as u64
        {
            return Err(LengthsError::BadPieceLength(piece_len));
        }
        if total > (1u64 << 60) {
            return Err(LengthsError::TooLarge(total));
        }
        let n = total.div_ceil(piece_len);
        if n > MAX_PIECES as u64 {
            return Err(LengthsError::TooManyPieces(n));
        }
        let last = if n == 0 {
            0
        } else {
            (total - (n - 1) * piece_len) as u32
        };
        Ok(Lengths {
            total,
            piece_len: piece_len as u32,
            num_pieces: n as u32,
            last_piece_len: last,
        })
    }

    /// Total size in bytes.
    #[inline]
    pub fn total(&self) -> u64 {
        self.total
    }
    /// Length of every piece but the last.
    #[inline]
    pub fn piece_length(&self) -> u32 {
        self.piece_len
    }
    /// Number of pieces.
    #[inline]
    pub fn num_pieces(&self) -> u32 {
        self.num_pieces
    }
    /// Blocks in a full piece.
    #[inline]
    pub fn blocks_per_piece(&self) -> u32 {
        self.piece_len / BLOCK_SIZE
    }

    /// Checks a raw index (from a peer or a file).
    #[inline]
    pub fn piece(&self, index: u32) -> Option<PieceIndex> {
        (index < self.num_pieces).then_some(PieceIndex(index))
    }

    /// Every piece, in order.
    pub fn pieces(&self) -> impl DoubleEndedIterator<Item = PieceIndex> + ExactSizeIterator {
        (0..self.num_pieces).map(PieceIndex)
    }

    /// Length of a piece in the address space (the last one may be short).
    #[inline]
    pub fn piece_len(&self, p: PieceIndex) -> u32 {
        if p.0 + 1 == self.num_pieces {
            self.last_piece_len
        } else {
            self.piece_len
        }
    }

    /// Offset of the first byte of a piece in the address space.
    #[inline]
    pub fn piece_offset(&self, p: PieceIndex) -> u64 {
        p.0 as u64 * self.piece_len as u64
    }

    /// Checks a request or a block of data from a peer: it must lie inside
    /// the piece and be at most [`BLOCK_SIZE`] long and not empty.
    pub fn block(&self, index: u32, offset: u32, len: u32) -> Option<BlockInfo> {
        let piece = self.piece(index)?;
        if len == 0 || len > BLOCK_SIZE {
            return None;
        }
        let end = offset.checked_add(len)?;
        if end > self.piece_len(piece) {
            return None;
        }
        Some(BlockInfo { piece, offset, len })
    }

    /// The `n`th block of a piece (the last one may be short), or `None`
    /// past the end.
    pub fn nth_block(&self, p: PieceIndex, n: u32) -> Option<BlockInfo> {
        let plen = self.piece_len(p);
        let offset = n.checked_mul(BLOCK_SIZE)?;
        if offset >= plen {
            return None;
        }
        Some(BlockInfo {
            piece: p,
            offset,
            len: (plen - offset).min(BLOCK_SIZE),
        })
    }

    /// Number of blocks in a piece.
    #[inline]
    pub fn blocks_in(&self, p: PieceIndex) -> u32 {
        self.piece_len(p).div_ceil(BLOCK_SIZE)
    }
}

/// A v1 info-hash: SHA-1 of the bencoded info dictionary.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InfoHashV1(pub [u8; 20]);

/// A v2 info-hash: SHA-256 of the bencoded info dictionary.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InfoHashV2(pub [u8; 32]);

impl InfoHashV1 {
    /// Lowercase hex, 40 characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    /// From 40 hex characters (either case); `None` otherwise.
    pub fn from_hex(s: &str) -> Option<Self> {
        let mut b = [0u8; 20];
        hex::decode_to_slice(s, &mut b).ok()?;
        Some(Self(b))
    }
}
impl InfoHashV2 {
    /// Lowercase hex, 64 characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    /// From 64 hex characters (either case); `None` otherwise.
    pub fn from_hex(s: &str) -> Option<Self> {
        let mut b = [0u8; 32];
        hex::decode_to_slice(s, &mut b).ok()?;
        Some(Self(b))
    }
    /// The 20-byte form used in the v2 handshake and by trackers/DHT
    /// (BEP 52: the hash truncated to 20 bytes).
    pub fn truncated(&self) -> [u8; 20] {
        let mut t = [0u8; 20];
        t.copy_from_slice(&self.0[..20]);
        t
    }
}
impl fmt::Debug for InfoHashV1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v1:{}", self.to_hex())
    }
}
impl fmt::Debug for InfoHashV2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v2:{}", self.to_hex())
    }
}

/// The info-hashes of a torrent: v1, v2 or both (hybrid). At least one is
/// present.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct InfoHashes {
    /// SHA-1 of the info dictionary, for v1 and hybrid torrents.
    pub v1: Option<InfoHashV1>,
    /// SHA-256 of the info dictionary, for v2 and hybrid torrents.
    pub v2: Option<InfoHashV2>,
}

impl InfoHashes {
    /// The 20 bytes that identify the torrent in a handshake: the v1 hash,
    /// or the truncated v2 hash for a v2-only torrent.
    pub fn wire_id(&self) -> [u8; 20] {
        match (self.v1, self.v2) {
            (Some(v1), _) => v1.0,
            (None, Some(v2)) => v2.truncated(),
            (None, None) => [0; 20],
        }
    }
    /// Does a 20-byte handshake id name this torrent (v1 or truncated v2)?
    pub fn matches_wire_id(&self, id: &[u8; 20]) -> bool {
        self.v1.map(|h| &h.0 == id).unwrap_or(false)
            || self.v2.map(|h| &h.truncated() == id).unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_edge_cases() {
        let p = 32 * 1024u64;
        for (total, n, last) in [
            (0u64, 0u32, 0u32),
            (1, 1, 1),
            (p - 1, 1, (p - 1) as u32),
            (p, 1, p as u32),
            (p + 1, 2, 1),
            (3 * p + 100, 4, 100),
        ] {
            let l = Lengths::new(total, p).unwrap();
            assert_eq!(l.num_pieces(), n, "total {total}");
            if n > 0 {
                let lp = l.piece(n - 1).unwrap();
                assert_eq!(l.piece_len(lp), last);
                let sum: u64 = l.pieces().map(|q| l.piece_len(q) as u64).sum();
                assert_eq!(sum, total);
            }
            assert!(l.piece(n).is_none());
        }
        assert!(Lengths::new(10, 1000).is_err());
        assert!(Lengths::new(10, 0).is_err());
        assert!(Lengths::new(u64::MAX, 16384).is_err());
    }

    #[test]
    fn block_validation() {
        let l = Lengths::new(40000, 32768).unwrap();
        assert!(l.block(0, 0, 16384).is_some());
        assert!(l.block(0, 16384, 16384).is_some());
        assert!(l.block(0, 16385, 16384).is_none());
        assert!(l.block(1, 0, 7232).is_some());
        assert!(l.block(1, 0, 7233).is_none());
        assert!(l.block(2, 0, 1).is_none());
        assert!(l.block(0, u32::MAX, 2).is_none());
        assert!(l.block(0, 0, 0).is_none());
        assert_eq!(l.blocks_in(l.piece(1).unwrap()), 1);
        assert_eq!(l.nth_block(l.piece(1).unwrap(), 0).unwrap().len, 7232);
        assert!(l.nth_block(l.piece(1).unwrap(), 1).is_none());
    }
}
