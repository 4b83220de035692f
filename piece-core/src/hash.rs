//! Piece hashing and verification (v1 SHA-1, v2 SHA-256 merkle, hybrid).
//!
//! # What is hashed
//! - **v1**: a piece's hash is `SHA-1` over the whole piece of the address
//!   space (`lengths.piece_len(p)` bytes), BEP 47 padding included as zeros.
//! - **v2** (BEP 52): data is split into 16 KiB blocks; each block's
//!   `SHA-256` is a *leaf* ([`block_leaf`]). A piece's node is the root of
//!   the subtree of `piece_len / 16 KiB` leaves over the piece's real data
//!   (`layout.piece_data_len(p)` bytes), padded with zero leaves
//!   ([`piece_root_v2`]). It is compared with the file's entry in the
//!   torrent's piece layers, or, for a file no larger than one piece, the
//!   file's root over its own leaves (`pieces root`, smallest power of two).
//! - **hybrid**: both, when both are available.
//!
//! SHA-1 and SHA-256 come from the RustCrypto `sha1`/`sha2` 0.10 crates,
//! which use the CPU's SHA extensions (SHA-NI, ARMv8 SHA) when present,
//! detected at run time.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::layout::Layout;
use crate::merkle::{self, Hash32};
use crate::metainfo::{FileInfo, Metainfo, Version};
use crate::storage::Storage;
use crate::types::{PieceIndex, BLOCK_SIZE};

/// SHA-1 of a whole v1 piece.
#[inline]
pub fn sha1_piece(piece: &[u8]) -> [u8; 20] {
    Sha1::digest(piece).into()
}

/// SHA-256 leaf of one v2 block (at most 16 KiB; the last block of a file
/// may be shorter and is hashed as is).
#[inline]
pub fn block_leaf(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Leaves of `data` split into 16 KiB blocks (the last may be short).
pub fn block_leaves(data: &[u8]) -> Vec<Hash32> {
    data.chunks(BLOCK_SIZE as usize).map(block_leaf).collect()
}

/// The v2 piece-layer node of a piece holding `data` (its real bytes only),
/// padded with zero leaves to `piece_len / 16 KiB` leaves.
pub fn piece_root_v2(data: &[u8], piece_len: u32) -> Hash32 {
    merkle::piece_hash_from_blocks(&block_leaves(data), piece_len)
}

/// What a v2 piece must hash to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum V2Expect {
    /// No v2 hash known (padding-only piece, empty data, or a missing layer).
    Unknown,
    /// The piece-layer entry: compare [`piece_root_v2`].
    Layer(Hash32),
    /// The file fits in this piece: compare the file root over its leaves.
    FileRoot(Hash32),
}

/// Why a [`PieceHashes`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashesError {
    /// `pieces` has a different number of hashes than the torrent has pieces.
    #[error("torrent has {got} v1 piece hashes but {expected} pieces")]
    V1Count {
        /// Hashes in `pieces`.
        got: usize,
        /// Pieces in the torrent.
        expected: u32,
    },
    /// A file's piece layer has the wrong number of hashes.
    #[error("piece layer of file {file} has {got} hashes, expected {expected}")]
    LayerLength {
        /// Index of the file.
        file: usize,
        /// Hashes in the layer.
        got: usize,
        /// Hashes its size needs.
        expected: usize,
    },
    /// A file whose pieces are not in the torrent's range (its index).
    #[error("file {0} lies outside the torrent's pieces")]
    FileOutOfRange(usize),
}

/// The expected hashes of every piece of a torrent: a verifier.
#[derive(Clone, Debug)]
pub struct PieceHashes {
    layout: Layout,
    pub(crate) v1: Option<Vec<[u8; 20]>>,
    v2: Option<Vec<V2Expect>>,
}

impl PieceHashes {
    /// Builds the verifier from a parsed torrent.
    pub fn new(meta: &Metainfo) -> Result<Self, HashesError> {
        Self::from_parts(
            meta.info.layout.clone(),
            meta.info.version,
            meta.info.pieces_v1.clone(),
            &meta.info.files,
            &meta.piece_layers,
        )
    }

    /// Builds the verifier from the pieces of a torrent: its layout, the
    /// v1 piece hashes (v1/hybrid), its files (with `pieces_root` for v2)
    /// and its piece layers (pieces root -> layer). A v2 file larger than a
    /// piece whose layer is missing gets no v2 check (a magnet before the
    /// layers are fetched); in a v2-only torrent its pieces then never verify.
    pub fn from_parts(
        layout: Layout,
        version: Version,
        pieces_v1: Option<Vec<[u8; 20]>>,
        files: &[FileInfo],
        piece_layers: &std::collections::HashMap<Hash32, Vec<Hash32>>,
    ) -> Result<Self, HashesError> {
        let lengths = *layout.lengths();
        let n = lengths.num_pieces();
        let v1 = match version {
            Version::V1 | Version::Hybrid => {
                let v = pieces_v1.unwrap_or_default();
                if v.len() != n as usize {
                    return Err(HashesError::V1Count {
                        got: v.len(),
                        expected: n,
                    });
                }
                Some(v)
            }
            Version::V2 => None,
        };
        let v2 = match version {
            Version::V1 => None,
            Version::V2 | Version::Hybrid => {
                let pl = lengths.piece_length() as u64;
                let mut exp = vec![V2Expect::Unknown; n as usize];
                for (i, f) in files.iter().enumerate() {
                    if f.pad || f.length == 0 || f.symlink.is_some() {
                        continue;
                    }
                    let Some(root) = f.pieces_root else { continue };
                    let first = f.offset / pl;
                    let count = f.length.div_ceil(pl);
                    if first + count > n as u64 {
                        return Err(HashesError::FileOutOfRange(i));
                    }
                    if f.length <= pl {
                        exp[first as usize] = V2Expect::FileRoot(root);
                    } else if let Some(layer) = piece_layers.get(&root) {
                        if layer.len() as u64 != count {
                            return Err(HashesError::LayerLength {
                                file: i,
                                got: layer.len(),
                                expected: count as usize,
                            });
                        }
                        for (k, h) in layer.iter().enumerate() {
                            exp[first as usize + k] = V2Expect::Layer(*h);
                        }
                    }
                }
                Some(exp)
            }
        };
        Ok(PieceHashes { layout, v1, v2 })
    }

    /// The layout the hashes describe.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Does `piece` (the full address-space piece, `piece_len(p)` bytes,
    /// padding zero) match its hashes? v1: SHA-1 over all of it; v2: the
    /// merkle node over its real data; hybrid: both where known. A piece
    /// with no known hash, or of the wrong length, never verifies.
    pub fn verify(&self, p: PieceIndex, piece: &[u8]) -> bool {
        let lengths = self.layout.lengths();
        if p.get() >= lengths.num_pieces() || piece.len() != lengths.piece_len(p) as usize {
            return false;
        }
        let v1 = self.v1.is_some().then(|| sha1_piece(piece));
        let leaves = match self.v2_expect(p) {
            V2Expect::Unknown => None,
            _ => Some(block_leaves(
                &piece[..self.layout.piece_data_len(p) as usize],
            )),
        };
        self.check(p, v1, leaves.as_deref())
    }

    /// What a v2 piece must hash to (`Unknown` without v2 hashes).
    pub(crate) fn v2_expect(&self, p: PieceIndex) -> V2Expect {
        self.v2
            .as_ref()
            .and_then(|v| v.get(p.idx()).copied())
            .unwrap_or(V2Expect::Unknown)
    }

    /// Compares a piece's computed hashes with the expected ones: `v1` its
    /// SHA-1 (when the torrent has v1 hashes), `leaves` the v2 leaves of its
    /// real data (when [`Self::v2_expect`] knows a hash). A piece with no
    /// known hash never verifies.
    pub(crate) fn check(
        &self,
        p: PieceIndex,
        v1: Option<[u8; 20]>,
        leaves: Option<&[Hash32]>,
    ) -> bool {
        let mut checked = false;
        if let Some(want) = self.v1.as_ref().and_then(|v| v.get(p.idx())) {
            if v1.as_ref() != Some(want) {
                return false;
            }
            checked = true;
        }
        let piece_len = self.layout.lengths().piece_length();
        let got = match (self.v2_expect(p), leaves) {
            (V2Expect::Unknown, _) => return checked,
            (_, None) => return false,
            (V2Expect::Layer(h), Some(l)) => (h, merkle::piece_hash_from_blocks(l, piece_len)),
            (V2Expect::FileRoot(h), Some(l)) => (h, merkle::file_root_from_blocks(l)),
        };
        got.0 == got.1
    }

    /// A hasher for `p` that takes its blocks as they arrive
    /// ([`crate::hasher::PieceHasher`]).
    pub fn hasher(&self, p: PieceIndex) -> crate::hasher::PieceHasher {
        crate::hasher::PieceHasher::new(self, p)
    }

    /// Checks one v2 block against a leaf obtained elsewhere (e.g. from a
    /// verified `hashes` message): `block_leaf(data) == leaf`.
    pub fn verify_block(data: &[u8], leaf: &Hash32) -> bool {
        data.len() <= BLOCK_SIZE as usize && &block_leaf(data) == leaf
    }
}

/// Result of [`verify_storage`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Pieces that did not match (or could not be read), in order.
    pub failed: Vec<PieceIndex>,
    /// Pieces checked.
    pub checked: u32,
}

impl VerifyReport {
    /// Did every piece match?
    pub fn all_ok(&self) -> bool {
        self.failed.is_empty()
    }
}

/// Pieces a worker claims at a time: about 8 MiB of reading.
fn chunk_pieces(piece_len: u32) -> u32 {
    ((8u32 << 20) / piece_len.max(1)).max(1)
}

/// Reads every piece of `storage` and checks it against `hashes`, on
/// `threads` threads (0 = all cores). Pieces that cannot be read count as
/// failed. `progress(done, total)` is called from worker threads as pieces
/// complete. Each worker claims runs of consecutive pieces so that reads
/// stay sequential; memory is one piece buffer per thread.
pub fn verify_storage(
    hashes: &PieceHashes,
    storage: &dyn Storage,
    threads: usize,
    progress: Option<&(dyn Fn(u32, u32) + Sync)>,
) -> VerifyReport {
    let lengths = *hashes.layout().lengths();
    let n = lengths.num_pieces();
    let threads = effective_threads(threads).min(n.max(1) as usize);
    let next = AtomicU32::new(0);
    let done = AtomicU32::new(0);
    let failed = Mutex::new(Vec::new());
    let chunk = chunk_pieces(lengths.piece_length());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut buf = vec![0u8; lengths.piece_length() as usize];
                let mut bad = Vec::new();
                loop {
                    let start = next.fetch_add(chunk, Ordering::Relaxed);
                    if start >= n {
                        break;
                    }
                    let end = start.saturating_add(chunk).min(n);
                    for i in start..end {
                        let p = PieceIndex::new_unchecked(i);
                        let b = &mut buf[..lengths.piece_len(p) as usize];
                        let ok = storage.read(p, 0, b).is_ok() && hashes.verify(p, b);
                        if !ok {
                            bad.push(p);
                        }
                    }
                    let d = done.fetch_add(end - start, Ordering::Relaxed) + (end - start);
                    if let Some(cb) = progress {
                        cb(d, n);
                    }
                }
                if let Ok(mut f) = failed.lock() {
                    f.extend(bad);
                }
            });
        }
    });
    let mut failed = failed.into_inner().unwrap_or_default();
    failed.sort_unstable();
    VerifyReport { failed, checked: n }
}

/// Verifies a parsed torrent's data; see [`verify_storage`].
pub fn verify_metainfo_storage(
    meta: &Metainfo,
    storage: &dyn Storage,
    threads: usize,
    progress: Option<&(dyn Fn(u32, u32) + Sync)>,
) -> Result<VerifyReport, HashesError> {
    let h = PieceHashes::new(meta)?;
    Ok(verify_storage(&h, storage, threads, progress))
}

/// `threads`, or every core when 0.
pub(crate) fn effective_threads(threads: usize) -> usize {
    if threads > 0 {
        threads
    } else {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::LayoutFile;
    use crate::types::Lengths;
    use std::collections::HashMap;

    #[test]
    fn known_digests() {
        assert_eq!(
            hex::encode(sha1_piece(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hex::encode(block_leaf(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn piece_root_pads_with_zero_leaves() {
        let data = vec![7u8; 20000];
        let l0 = block_leaf(&data[..16384]);
        let l1 = block_leaf(&data[16384..]);
        let want = merkle::hash_pair(
            &merkle::hash_pair(&l0, &l1),
            &merkle::hash_pair(&[0; 32], &[0; 32]),
        );
        assert_eq!(piece_root_v2(&data, 65536), want);
    }

    fn v2_single(len: usize, pl: u32) -> (Vec<u8>, PieceHashes) {
        let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
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
            .map(|c| piece_root_v2(c, pl))
            .collect();
        let root = if len as u64 <= pl as u64 {
            merkle::file_root_from_blocks(&block_leaves(&data))
        } else {
            merkle::piece_layer_root(&layer, pl)
        };
        let mut layers = HashMap::new();
        layers.insert(root, layer);
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
        let h = PieceHashes::from_parts(layout, Version::V2, None, &files, &layers).unwrap();
        (data, h)
    }

    #[test]
    fn v2_verify_detects_flips() {
        for len in [1usize, 16384, 40000, 65536, 65537, 200_000] {
            let (mut data, h) = v2_single(len, 65536);
            for (i, c) in data.chunks(65536).enumerate() {
                assert!(
                    h.verify(PieceIndex::new_unchecked(i as u32), c),
                    "len {len} piece {i}"
                );
            }
            let last = data.len() - 1;
            data[last] ^= 1;
            let lp = (last / 65536) as u32;
            let c = &data[lp as usize * 65536..];
            assert!(!h.verify(PieceIndex::new_unchecked(lp), c));
            // wrong length never verifies
            assert!(!h.verify(PieceIndex::new_unchecked(0), &data[..0]));
        }
    }
}
