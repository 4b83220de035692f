//! Hash on receive: a piece's hashes computed while its blocks arrive, so
//! that a downloaded piece is normally verified without reading it back.
//!
//! A [`PieceHasher`] (from [`PieceHashes::hasher`]) is fed every block
//! written to the piece, in the order they were written:
//! - **v1**: SHA-1 runs over the piece from its start; a block that
//!   continues the hashed prefix extends it, a block after a gap is left
//!   for later, and a block that rewrites the hashed prefix resets it (the
//!   state always describes the bytes on disk);
//! - **v2**: each 16 KiB block's SHA-256 leaf is kept by its index (order
//!   does not matter); a write that is not one whole aligned block drops
//!   the leaves it touches.
//!
//! [`PieceHasher::finish`] reads back only what was not hashed on arrival
//! (the v1 rest after the first gap, the v2 blocks without a leaf), adds
//! the BEP 47 padding (zeros, never stored) and compares with the
//! torrent's hashes. Blocks that arrive in order, the common case, cost no
//! read at all. Memory is one SHA-1 state and one leaf slot per block.

use sha1::{Digest, Sha1};

use crate::hash::{block_leaf, PieceHashes, V2Expect};
use crate::merkle::Hash32;
use crate::storage::StorageError;
use crate::types::{PieceIndex, BLOCK_SIZE};

/// Reads `buf.len()` bytes of the piece at an offset (what
/// [`PieceHasher::finish`] reads back).
pub type ReadBack<'a> = dyn FnMut(u32, &mut [u8]) -> Result<(), StorageError> + 'a;

/// Bytes read back at a time by [`PieceHasher::finish`].
const READ_CHUNK: u32 = 16 * BLOCK_SIZE;

/// The hashes of one piece, computed from its blocks as they are written.
#[derive(Clone, Debug)]
pub struct PieceHasher {
    piece: PieceIndex,
    /// Real data in the piece (blocks are written only here).
    data_len: u32,
    /// The whole piece in the address space (v1 hashes the padding too).
    piece_len: u32,
    /// SHA-1 over `[0, hashed)` when the torrent has v1 hashes.
    v1: Option<(Sha1, u32)>,
    /// Leaf of each 16 KiB block of the data, when a v2 hash is known.
    v2: Option<Vec<Option<Hash32>>>,
}

impl PieceHasher {
    pub(crate) fn new(hashes: &PieceHashes, piece: PieceIndex) -> Self {
        let layout = hashes.layout();
        let piece_len = layout.lengths().piece_len(piece);
        let data_len = layout.piece_data_len(piece);
        let v2 = match hashes.v2_expect(piece) {
            V2Expect::Unknown => None,
            _ => Some(vec![None; data_len.div_ceil(BLOCK_SIZE) as usize]),
        };
        PieceHasher {
            piece,
            data_len,
            piece_len,
            v1: hashes.v1.is_some().then(|| (Sha1::new(), 0)),
            v2,
        }
    }

    /// The piece this hasher is for.
    pub fn piece(&self) -> PieceIndex {
        self.piece
    }

    /// `data` was written at `offset` in the piece.
    pub fn update(&mut self, offset: u32, data: &[u8]) {
        let len = data.len() as u32;
        let end = offset.saturating_add(len);
        if let Some((sha, hashed)) = &mut self.v1 {
            if offset == *hashed {
                sha.update(data);
                *hashed = end;
            } else if offset < *hashed {
                // the hashed prefix changed on disk: hash it again later
                *sha = Sha1::new();
                *hashed = 0;
            }
        }
        if let Some(leaves) = &mut self.v2 {
            let first = (offset / BLOCK_SIZE) as usize;
            let whole = offset % BLOCK_SIZE == 0
                && (len == BLOCK_SIZE || (len < BLOCK_SIZE && end == self.data_len));
            if whole && first < leaves.len() {
                leaves[first] = Some(block_leaf(data));
            } else if len > 0 {
                let last = ((end - 1) / BLOCK_SIZE) as usize;
                for l in leaves.iter_mut().take(last + 1).skip(first) {
                    *l = None;
                }
            }
        }
    }

    /// Bytes [`Self::finish`] would read back now.
    pub fn missing(&self) -> u64 {
        let v1 = self
            .v1
            .as_ref()
            .map_or(0, |(_, h)| self.data_len.saturating_sub(*h) as u64);
        let v2 = self.v2.as_ref().map_or(0, |leaves| {
            leaves
                .iter()
                .enumerate()
                .filter(|(_, l)| l.is_none())
                .map(|(i, _)| self.block_len(i) as u64)
                .sum()
        });
        v1.max(v2)
    }

    fn block_len(&self, i: usize) -> u32 {
        let start = i as u32 * BLOCK_SIZE;
        BLOCK_SIZE.min(self.data_len - start)
    }

    /// Completes the hashes, reading back with `read(offset, buf)` only
    /// what was not hashed on arrival, and compares them with `hashes`.
    /// A piece with no known hash never verifies; a read error is returned
    /// as is (it says nothing about the peers that sent the piece).
    pub fn finish(
        mut self,
        hashes: &PieceHashes,
        read: &mut ReadBack<'_>,
    ) -> Result<bool, StorageError> {
        let mut buf = Vec::new();
        let mut v1 = None;
        if let Some((mut sha, hashed)) = self.v1.take() {
            let mut at = hashed;
            while at < self.data_len {
                let n = READ_CHUNK.min(self.data_len - at);
                buf.resize(n as usize, 0);
                read(at, &mut buf)?;
                sha.update(&buf);
                if let Some(leaves) = &mut self.v2 {
                    // the same bytes give the v2 leaves they cover
                    for (k, block) in buf.chunks(BLOCK_SIZE as usize).enumerate() {
                        let i = ((at / BLOCK_SIZE) as usize) + k;
                        if at % BLOCK_SIZE == 0 && leaves.get(i).is_some_and(Option::is_none) {
                            leaves[i] = Some(block_leaf(block));
                        }
                    }
                }
                at += n;
            }
            // padding: zeros, never stored
            let zeros = [0u8; 4096];
            while at < self.piece_len {
                let n = (self.piece_len - at).min(zeros.len() as u32);
                sha.update(&zeros[..n as usize]);
                at += n;
            }
            v1 = Some(sha.finalize().into());
        }
        let mut leaves = None;
        if let Some(mut ls) = self.v2.take() {
            for (i, leaf) in ls.iter_mut().enumerate() {
                if leaf.is_none() {
                    let start = i as u32 * BLOCK_SIZE;
                    buf.resize(BLOCK_SIZE.min(self.data_len - start) as usize, 0);
                    read(start, &mut buf)?;
                    *leaf = Some(block_leaf(&buf));
                }
            }
            leaves = Some(ls.into_iter().flatten().collect::<Vec<_>>());
        }
        Ok(hashes.check(self.piece, v1, leaves.as_deref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{Layout, LayoutFile};
    use crate::merkle;
    use crate::metainfo::{FileInfo, Version};
    use crate::types::Lengths;
    use std::collections::HashMap;

    /// A one-file torrent of `len` bytes with v1 and v2 hashes (hybrid).
    fn hybrid(len: usize, pl: u32) -> (Vec<u8>, PieceHashes) {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 253) as u8).collect();
        let lengths = Lengths::new(len as u64, pl as u64).unwrap();
        let layout = Layout::new(
            lengths,
            vec![LayoutFile {
                path: "f".into(),
                length: len as u64,
                offset: 0,
                pad: false,
            }],
        )
        .unwrap();
        let layer: Vec<Hash32> = data
            .chunks(pl as usize)
            .map(|c| crate::hash::piece_root_v2(c, pl))
            .collect();
        let root = if len as u64 <= pl as u64 {
            merkle::file_root_from_blocks(&crate::hash::block_leaves(&data))
        } else {
            merkle::piece_layer_root(&layer, pl)
        };
        let v1 = data
            .chunks(pl as usize)
            .map(crate::hash::sha1_piece)
            .collect();
        let files = vec![FileInfo {
            path: vec!["f".into()],
            length: len as u64,
            offset: 0,
            pad: false,
            executable: false,
            hidden: false,
            symlink: None,
            pieces_root: Some(root),
        }];
        let layers = HashMap::from([(root, layer)]);
        let h =
            PieceHashes::from_parts(layout, Version::Hybrid, Some(v1), &files, &layers).unwrap();
        (data, h)
    }

    /// Feeds the blocks of piece `p` in `order`; returns (verified, bytes
    /// read back).
    fn run(data: &[u8], h: &PieceHashes, p: u32, order: &[usize]) -> (bool, u64) {
        let pl = h.layout().lengths().piece_length() as usize;
        let piece = PieceIndex::new_unchecked(p);
        let bytes = &data[p as usize * pl..data.len().min((p as usize + 1) * pl)];
        let blocks: Vec<&[u8]> = bytes.chunks(BLOCK_SIZE as usize).collect();
        let mut hasher = h.hasher(piece);
        for &i in order {
            hasher.update(i as u32 * BLOCK_SIZE, blocks[i]);
        }
        let mut read = 0u64;
        let ok = hasher
            .finish(h, &mut |off, buf| {
                read += buf.len() as u64;
                buf.copy_from_slice(&bytes[off as usize..off as usize + buf.len()]);
                Ok(())
            })
            .unwrap();
        (ok, read)
    }

    #[test]
    fn in_order_blocks_verify_without_reading() {
        for len in [1usize, 16384, 40000, 65536, 65537, 200_000] {
            let (data, h) = hybrid(len, 65536);
            for p in 0..h.layout().lengths().num_pieces() {
                let n = h.layout().piece_data_len(PieceIndex::new_unchecked(p));
                let order: Vec<usize> = (0..n.div_ceil(BLOCK_SIZE) as usize).collect();
                assert_eq!(run(&data, &h, p, &order), (true, 0), "len {len} piece {p}");
            }
        }
    }

    #[test]
    fn out_of_order_blocks_read_back_only_the_rest() {
        let (data, h) = hybrid(65536, 65536);
        // block 1 before block 0: v1 hashes nothing on arrival past the gap
        let (ok, read) = run(&data, &h, 0, &[1, 0, 2, 3]);
        assert!(ok);
        assert_eq!(read, 3 * BLOCK_SIZE as u64);
        // a missing block is read back (and fails if it differs)
        let (ok, read) = run(&data, &h, 0, &[0, 1, 3]);
        assert!(ok);
        assert_eq!(read, 2 * BLOCK_SIZE as u64);
    }

    #[test]
    fn corrupt_block_fails_and_rewrite_resets() {
        let (data, h) = hybrid(65536, 65536);
        let piece = PieceIndex::new_unchecked(0);
        let mut bad = data[..16384].to_vec();
        bad[5] ^= 1;
        let mut hasher = h.hasher(piece);
        hasher.update(0, &bad);
        for i in 1..4 {
            let o = i * 16384;
            hasher.update(o as u32, &data[o..o + 16384]);
        }
        let ok = hasher
            .clone()
            .finish(&h, &mut |_, _| panic!("nothing to read"))
            .unwrap();
        assert!(!ok);
        // the bad block is written again with the right bytes: the v1 state
        // starts over and reads the piece back; the v2 leaf is replaced
        hasher.update(0, &data[..16384]);
        assert_eq!(hasher.missing(), 65536);
        let ok = hasher
            .finish(&h, &mut |off, buf| {
                buf.copy_from_slice(&data[off as usize..off as usize + buf.len()]);
                Ok(())
            })
            .unwrap();
        assert!(ok);
    }
}
