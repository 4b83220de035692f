//! BEP 52 merkle trees over SHA-256.
//!
//! A v2 file is hashed in 16 KiB blocks; each block's SHA-256 is a *leaf*.
//! Leaves are padded with all-zero hashes (`[0; 32]`) up to a power of two
//! and combined pairwise with `sha256(left || right)` up to the file's
//! `pieces root`. The *piece layer* is the tree level where each node covers
//! one piece (`piece_len / 16 KiB` leaves). Past the file's last piece the
//! piece layer is padded with the root of an all-zero subtree of a piece
//! ([`pad_hash`]`(log2(piece_len / 16 KiB))`), not with zero hashes.
//!
//! [`verify_proof`] checks a run of hashes plus their uncle hashes (as in a
//! BEP 52 `hashes` message) against a known root.

use sha2::{Digest, Sha256};

use crate::types::BLOCK_SIZE;

/// A SHA-256 node hash.
pub type Hash32 = [u8; 32];

/// Highest tree height we compute (2^63 leaves is far past any real file).
const MAX_HEIGHT: u32 = 63;

/// `sha256(l || r)`: the parent of two nodes.
#[inline]
pub fn hash_pair(l: &Hash32, r: &Hash32) -> Hash32 {
    let mut h = Sha256::new();
    h.update(l);
    h.update(r);
    h.finalize().into()
}

/// Root of a tree of `2^height` all-zero leaves (`pad_hash(0) == [0; 32]`).
///
/// Heights above 63 are clamped to 63 (such a tree cannot describe a file).
pub fn pad_hash(height: u32) -> Hash32 {
    use std::sync::OnceLock;
    static PADS: OnceLock<[Hash32; MAX_HEIGHT as usize + 1]> = OnceLock::new();
    let pads = PADS.get_or_init(|| {
        let mut p = [[0u8; 32]; MAX_HEIGHT as usize + 1];
        for i in 1..p.len() {
            p[i] = hash_pair(&p[i - 1], &p[i - 1]);
        }
        p
    });
    pads[height.min(MAX_HEIGHT) as usize]
}

/// Smallest `h` with `2^h >= n` (0 for `n <= 1`).
#[inline]
pub fn ceil_log2(n: u64) -> u32 {
    if n <= 1 {
        0
    } else {
        64 - (n - 1).leading_zeros()
    }
}

/// Root of the tree whose leaves at height 0 are `leaves`, padded to
/// `2^height` with nodes equal to `pad_hash(leaf_height)`.
///
/// `leaf_height` is the height of the given leaves above the block level:
/// the padding of an incomplete level `k` is `pad_hash(leaf_height + k)`.
fn root_with_pad(leaves: &[Hash32], height: u32, leaf_height: u32) -> Hash32 {
    if leaves.is_empty() {
        return pad_hash(leaf_height + height);
    }
    let mut level: Vec<Hash32> = leaves.to_vec();
    for k in 0..height {
        let pad = pad_hash(leaf_height + k);
        let next_len = level.len().div_ceil(2);
        for i in 0..next_len {
            let l = level[2 * i];
            let r = level.get(2 * i + 1).copied().unwrap_or(pad);
            level[i] = hash_pair(&l, &r);
        }
        level.truncate(next_len);
    }
    level[0]
}

/// Root of a tree of `2^height` leaves, the given ones first and the rest
/// `[0; 32]`. If `leaves` has more than `2^height` entries, the extra ones
/// are ignored.
pub fn root(leaves: &[Hash32], height: u32) -> Hash32 {
    let height = height.min(MAX_HEIGHT);
    let cap = 1u64 << height;
    let n = (leaves.len() as u64).min(cap) as usize;
    root_with_pad(&leaves[..n], height, 0)
}

/// [`root`] with the smallest height that holds every leaf
/// (`ceil(log2(len))`). One leaf is its own root; no leaves give `[0; 32]`.
pub fn root_auto(leaves: &[Hash32]) -> Hash32 {
    root(leaves, ceil_log2(leaves.len() as u64))
}

/// `log2(piece_len / 16 KiB)`: the height of one piece's subtree. `piece_len`
/// should be a power of two >= 16 KiB; smaller values give 0.
#[inline]
pub fn piece_height(piece_len: u32) -> u32 {
    ceil_log2((piece_len / BLOCK_SIZE).max(1) as u64)
}

/// The file root (`pieces root`) from its piece layer: the per-piece subtree
/// roots, padded up to a power of two with [`pad_hash`] of a piece's height.
pub fn piece_layer_root(layer: &[Hash32], piece_len: u32) -> Hash32 {
    let ph = piece_height(piece_len);
    let h = ceil_log2(layer.len() as u64).min(MAX_HEIGHT - ph.min(MAX_HEIGHT));
    root_with_pad(layer, h, ph)
}

/// The hash of one piece (its node in the piece layer) from its blocks'
/// leaves. A short last piece is padded with zero leaves to the full
/// `piece_len / 16 KiB`.
pub fn piece_hash_from_blocks(block_leaves: &[Hash32], piece_len: u32) -> Hash32 {
    root(block_leaves, piece_height(piece_len))
}

/// The root of a whole file straight from its block leaves (the v2
/// `pieces root`): BEP 52 (and libtorrent) use the smallest power of two of
/// leaves that holds every block, `ceil(log2(blocks))`. For a file larger
/// than a piece this equals [`piece_layer_root`] of its piece layer.
pub fn file_root_from_blocks(block_leaves: &[Hash32]) -> Hash32 {
    root_auto(block_leaves)
}

/// Why a run of hashes did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// Nothing to verify.
    #[error("no hashes to verify")]
    Empty,
    /// The run of hashes is not a power of two long.
    #[error("hash count {0} is not a power of two")]
    NotPowerOfTwo(usize),
    /// The run does not start at a multiple of its length.
    #[error("index {index} is not aligned to the run length {len}")]
    Misaligned {
        /// Index of the first hash.
        index: u64,
        /// Number of hashes.
        len: usize,
    },
    /// The proof has the wrong number of uncle hashes.
    #[error("expected {expected} uncle hashes, got {got}")]
    WrongProofLength {
        /// Uncle hashes needed.
        expected: usize,
        /// Uncle hashes given.
        got: usize,
    },
    /// The hashes and proof do not hash to the root.
    #[error("the hashes do not match the root")]
    Mismatch,
}

/// Checks a run of nodes at one tree level against `root` (BEP 52 `hashes`).
///
/// `hashes` are the `2^k` consecutive nodes starting at node `index` of their
/// level (`index` a multiple of `hashes.len()`); `uncles` are the sibling
/// hashes on the path from the run's subtree root up to (not including) the
/// root, lowest first; `tree_height` is the number of levels between the
/// run's level and the root. Returns the subtree root of the run on success.
///
/// For a BEP 52 `hashes` message at `base layer` `b` of a file whose tree
/// has `2^h` leaves, `tree_height = h - b`. When the sender omitted the
/// upper uncles (fewer `proof layers`), pass the already-verified ancestor
/// node as `root` and the correspondingly smaller `tree_height`.
pub fn verify_proof(
    root: &Hash32,
    hashes: &[Hash32],
    index: u64,
    uncles: &[Hash32],
    tree_height: u32,
) -> Result<Hash32, ProofError> {
    if hashes.is_empty() {
        return Err(ProofError::Empty);
    }
    if !hashes.len().is_power_of_two() {
        return Err(ProofError::NotPowerOfTwo(hashes.len()));
    }
    let run_h = hashes.len().trailing_zeros();
    if index % hashes.len() as u64 != 0 {
        return Err(ProofError::Misaligned {
            index,
            len: hashes.len(),
        });
    }
    let need = tree_height.saturating_sub(run_h) as usize;
    if run_h > tree_height || uncles.len() != need {
        return Err(ProofError::WrongProofLength {
            expected: need,
            got: uncles.len(),
        });
    }
    // subtree root of the run
    let mut level: Vec<Hash32> = hashes.to_vec();
    while level.len() > 1 {
        let n = level.len() / 2;
        for i in 0..n {
            level[i] = hash_pair(&level[2 * i], &level[2 * i + 1]);
        }
        level.truncate(n);
    }
    let sub = level[0];
    let mut node = sub;
    let mut pos = index >> run_h;
    for u in uncles {
        node = if pos & 1 == 0 {
            hash_pair(&node, u)
        } else {
            hash_pair(u, &node)
        };
        pos >>= 1;
    }
    if pos != 0 || &node != root {
        return Err(ProofError::Mismatch);
    }
    Ok(sub)
}

/// The uncle hashes that prove the run of `run_len` nodes at `index` of
/// `level` (a full level of a tree, already padded to a power of two).
/// Counterpart of [`verify_proof`], mainly for tests and for serving
/// `hashes` requests. Returns `None` if the run does not fit the level.
pub fn proof_for(level: &[Hash32], index: usize, run_len: usize) -> Option<Vec<Hash32>> {
    if !level.len().is_power_of_two()
        || !run_len.is_power_of_two()
        || index % run_len != 0
        || index + run_len > level.len()
    {
        return None;
    }
    let mut cur: Vec<Hash32> = level.to_vec();
    // climb to the run's level
    let mut pos = index;
    let mut width = 1;
    while width < run_len {
        cur = cur.chunks(2).map(|c| hash_pair(&c[0], &c[1])).collect();
        pos /= 2;
        width *= 2;
    }
    let mut uncles = Vec::new();
    while cur.len() > 1 {
        uncles.push(cur[pos ^ 1]);
        cur = cur.chunks(2).map(|c| hash_pair(&c[0], &c[1])).collect();
        pos /= 2;
    }
    Some(uncles)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(b: u8) -> Hash32 {
        [b; 32]
    }
    fn sha(data: &[u8]) -> Hash32 {
        Sha256::digest(data).into()
    }

    #[test]
    fn hash_pair_is_sha256_of_concat() {
        let mut cat = [0u8; 64];
        cat[..32].copy_from_slice(&h(1));
        cat[32..].copy_from_slice(&h(2));
        assert_eq!(hash_pair(&h(1), &h(2)), sha(&cat));
        assert_ne!(hash_pair(&h(1), &h(2)), hash_pair(&h(2), &h(1)));
    }

    #[test]
    fn pad_hashes() {
        assert_eq!(pad_hash(0), [0; 32]);
        assert_eq!(pad_hash(1), sha(&[0u8; 64]));
        // well-known: sha256 of 64 zero bytes
        assert_eq!(
            hex::encode(pad_hash(1)),
            "f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b"
        );
        assert_eq!(pad_hash(2), hash_pair(&pad_hash(1), &pad_hash(1)));
        assert_eq!(pad_hash(1000), pad_hash(63));
    }

    #[test]
    fn roots_by_hand() {
        let (a, b, c) = (h(1), h(2), h(3));
        assert_eq!(root(&[a], 0), a);
        assert_eq!(root_auto(&[a]), a);
        assert_eq!(root(&[a, b], 1), hash_pair(&a, &b));
        assert_eq!(root(&[a], 1), hash_pair(&a, &[0; 32]));
        let ab = hash_pair(&a, &b);
        let c0 = hash_pair(&c, &[0; 32]);
        assert_eq!(root_auto(&[a, b, c]), hash_pair(&ab, &c0));
        assert_eq!(root(&[a, b, c], 2), hash_pair(&ab, &c0));
        // height 3: right half is all zero
        assert_eq!(
            root(&[a, b, c], 3),
            hash_pair(&hash_pair(&ab, &c0), &pad_hash(2))
        );
        assert_eq!(root(&[], 3), pad_hash(3));
        assert_eq!(root_auto(&[]), [0; 32]);
    }

    #[test]
    fn piece_layer_matches_leaf_tree() {
        // piece = 4 blocks (64 KiB); file of 9 blocks -> 3 pieces
        let leaves: Vec<Hash32> = (1..=9).map(h).collect();
        let pl = 4 * BLOCK_SIZE;
        let layer: Vec<Hash32> = leaves
            .chunks(4)
            .map(|c| piece_hash_from_blocks(c, pl))
            .collect();
        assert_eq!(layer.len(), 3);
        assert_eq!(layer[2], root(&[h(9)], 2));
        // the file's root from leaves (height 4 = 16 leaves) equals the
        // root from the piece layer padded with pad_hash(2)
        let from_leaves = root(&leaves, 4);
        assert_eq!(piece_layer_root(&layer, pl), from_leaves);
        assert_eq!(
            piece_layer_root(&layer, pl),
            hash_pair(
                &hash_pair(&layer[0], &layer[1]),
                &hash_pair(&layer[2], &pad_hash(2))
            )
        );
        assert_eq!(file_root_from_blocks(&leaves), from_leaves);
        // one piece: the layer root is the piece hash
        assert_eq!(piece_layer_root(&layer[..1], pl), layer[0]);
    }

    #[test]
    fn proofs_verify_and_reject() {
        let level: Vec<Hash32> = (1..=8).map(h).collect();
        let r = root(&level, 3);
        for run in [1usize, 2, 4, 8] {
            for idx in (0..8).step_by(run) {
                let u = proof_for(&level, idx, run).unwrap();
                assert_eq!(u.len(), 3 - run.trailing_zeros() as usize);
                let sub = verify_proof(&r, &level[idx..idx + run], idx as u64, &u, 3).unwrap();
                assert_eq!(sub, root(&level[idx..idx + run], run.trailing_zeros()));
                // tamper
                let mut bad = level[idx..idx + run].to_vec();
                bad[0][0] ^= 1;
                assert_eq!(
                    verify_proof(&r, &bad, idx as u64, &u, 3),
                    Err(ProofError::Mismatch)
                );
                // wrong position
                if run < 8 {
                    let other = (idx + run) % 8;
                    assert!(verify_proof(&r, &level[idx..idx + run], other as u64, &u, 3).is_err());
                }
            }
        }
        assert_eq!(verify_proof(&r, &[], 0, &[], 3), Err(ProofError::Empty));
        assert_eq!(
            verify_proof(&r, &level[..3], 0, &[], 3),
            Err(ProofError::NotPowerOfTwo(3))
        );
        assert!(matches!(
            verify_proof(&r, &level[..2], 1, &[], 3),
            Err(ProofError::Misaligned { .. })
        ));
        assert!(matches!(
            verify_proof(&r, &level[..2], 0, &[], 3),
            Err(ProofError::WrongProofLength {
                expected: 2,
                got: 0
            })
        ));
    }
}
