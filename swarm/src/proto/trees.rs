//! The Merkle trees above the piece layers we serve (BEP 52 hash
//! requests), built once per file and kept in a bounded cache.
//!
//! Answering a hash request needs the uncle hashes from the requested run
//! up to the file's `pieces root`, that is the whole tree above the piece
//! layer. Building it costs one SHA-256 per piece of the file; doing that
//! per request let a peer make us hash a whole file's layer for every
//! 53-byte request (issue 14: 3,000 requests cost a seeder 3.9 s of CPU).
//! Trees are built on first use and kept, least recently used first out,
//! within [`crate::proto::TorrentConfig::hash_tree_cache_bytes`] (the most
//! recent tree always stays, so a file larger than the bound is not
//! rebuilt for every request).

use std::collections::HashMap;
use std::sync::Arc;

use piece_core::merkle::{self, Hash32};

/// A file's tree: `levels[0]` is the piece layer padded to a power of two
/// with the hash of an all-zero piece, each next level hashes pairs of the
/// one below, the last is the root alone.
#[derive(Debug)]
pub(crate) struct Tree {
    levels: Vec<Vec<Hash32>>,
}

impl Tree {
    fn build(layer: &[Hash32], pad: Hash32) -> Tree {
        let width = layer.len().max(1).next_power_of_two();
        let mut level = layer.to_vec();
        level.resize(width, pad);
        let mut levels = vec![level];
        while let Some(top) = levels.last().filter(|l| l.len() > 1) {
            let next = top
                .chunks(2)
                .map(|c| merkle::hash_pair(&c[0], &c[1]))
                .collect();
            levels.push(next);
        }
        Tree { levels }
    }

    fn bytes(&self) -> usize {
        self.levels.iter().map(|l| l.len() * 32).sum()
    }

    /// The padded piece layer.
    pub(crate) fn layer(&self) -> &[Hash32] {
        &self.levels[0]
    }

    /// The uncle hashes proving the run of `len` hashes at `index` of the
    /// piece layer, lowest first (none for a run as wide as the layer);
    /// `None` if the run is not aligned or does not fit.
    pub(crate) fn uncles(&self, index: usize, len: usize) -> Option<Vec<Hash32>> {
        if !len.is_power_of_two() || index % len != 0 || index + len > self.layer().len() {
            return None;
        }
        let first = len.trailing_zeros() as usize;
        let mut pos = index / len;
        let mut out = Vec::new();
        for level in &self.levels[first..self.levels.len() - 1] {
            out.push(level[pos ^ 1]);
            pos /= 2;
        }
        Some(out)
    }
}

/// Trees by `pieces root`, bounded in bytes.
#[derive(Debug, Default)]
pub(crate) struct TreeCache {
    trees: HashMap<Hash32, (Arc<Tree>, u64)>,
    bytes: usize,
    tick: u64,
    /// Trees built so far (a test counts the work a request costs).
    pub(crate) builds: u64,
}

impl TreeCache {
    /// The tree of the file whose piece layer is `layer`, built if needed.
    /// `pad` is the hash of an all-zero piece; `max_bytes` bounds what is
    /// kept besides this tree.
    pub(crate) fn get(
        &mut self,
        root: &Hash32,
        layer: &[Hash32],
        pad: Hash32,
        max_bytes: usize,
    ) -> Arc<Tree> {
        self.tick += 1;
        if let Some((t, used)) = self.trees.get_mut(root) {
            *used = self.tick;
            return t.clone();
        }
        let tree = Arc::new(Tree::build(layer, pad));
        self.builds += 1;
        let size = tree.bytes();
        while self.bytes + size > max_bytes {
            let Some(oldest) = self
                .trees
                .iter()
                .min_by_key(|(_, (_, u))| *u)
                .map(|(k, _)| *k)
            else {
                break;
            };
            if let Some((t, _)) = self.trees.remove(&oldest) {
                self.bytes -= t.bytes();
            }
        }
        self.bytes += size;
        self.trees.insert(*root, (tree.clone(), self.tick));
        tree
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncles_match_the_reference_proof() {
        let layer: Vec<Hash32> = (0..21u8).map(|i| [i; 32]).collect();
        let pad = merkle::pad_hash(1);
        let tree = Tree::build(&layer, pad);
        let mut level = layer.clone();
        level.resize(32, pad);
        for (index, len) in [(0, 1), (16, 8), (4, 4), (0, 32), (20, 1)] {
            assert_eq!(
                tree.uncles(index, len),
                merkle::proof_for(&level, index, len),
                "run {index}+{len}"
            );
        }
        assert_eq!(tree.uncles(3, 2), None);
        assert_eq!(tree.uncles(0, 64), None);
    }

    #[test]
    fn cache_builds_once_and_stays_within_its_bound() {
        let mut c = TreeCache::default();
        let a: Vec<Hash32> = vec![[1; 32]; 100];
        let b: Vec<Hash32> = vec![[2; 32]; 100];
        let bound = Tree::build(&a, [0; 32]).bytes();
        for _ in 0..10 {
            c.get(&[1; 32], &a, [0; 32], bound);
        }
        assert_eq!(c.builds, 1);
        // a second tree pushes the first out (only one fits)
        c.get(&[2; 32], &b, [0; 32], bound);
        c.get(&[2; 32], &b, [0; 32], bound);
        assert_eq!((c.builds, c.trees.len()), (2, 1));
        assert!(c.bytes <= bound);
        // a tree larger than the bound is still kept alone
        c.get(&[3; 32], &vec![[3; 32]; 1000], [0; 32], bound);
        c.get(&[3; 32], &[], [0; 32], bound);
        assert_eq!((c.builds, c.trees.len()), (3, 1));
    }
}
