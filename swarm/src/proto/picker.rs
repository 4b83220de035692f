//! Block picker used by the state machine: rarest first with a seeded
//! random tie-break, in-progress pieces first, whole-piece exclusivity for
//! peers on parole, end-game duplicates.
//!
//! Also records which peers contributed to each piece (hash-failure
//! attribution). This is a self-contained stand-in with the same shape as
//! `piece_core::picker` and can be swapped for it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use piece_core::{Bitfield, BlockInfo, Layout, Lengths, PieceIndex, BLOCK_SIZE};

/// What the peer has, for picking.
pub(crate) enum PeerHas<'a> {
    All,
    Some(&'a Bitfield),
}

impl PeerHas<'_> {
    fn has(&self, i: u32) -> bool {
        match self {
            PeerHas::All => true,
            PeerHas::Some(b) => b.get(i),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Block {
    Free,
    /// Requested from this many peers (more than one in end-game).
    Requested(u8),
    Received,
}

#[derive(Debug)]
struct Partial {
    blocks: Vec<Block>,
    received: u32,
    verifying: bool,
    /// Downloaded from this peer alone (it is on parole).
    exclusive: Option<SocketAddr>,
    contributors: BTreeSet<SocketAddr>,
}

/// Result of [`Picker::block_received`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Received {
    /// A block we needed; `piece_done` says every block of its piece is in
    /// and the piece should be hash-checked.
    New { piece_done: bool },
    /// We already had this block (end-game duplicate).
    Duplicate,
    /// The piece is not being downloaded (we have it or never asked).
    NotWanted,
}

/// Where the downloading stands, piece by piece.
pub(crate) struct Picker {
    lengths: Lengths,
    /// Real (non-padding) bytes per piece: padding is never requested.
    data_len: Vec<u32>,
    have: Bitfield,
    avail: Vec<u32>,
    /// Random tie-break key per piece (seeded).
    tiebreak: Vec<u32>,
    partial: BTreeMap<u32, Partial>,
    seeds: u32,
}

/// The `n`th block of real data of a piece.
fn self_nth(data_len: &[u32], p: PieceIndex, n: u32) -> Option<BlockInfo> {
    let d = *data_len.get(p.idx())?;
    let offset = n.checked_mul(BLOCK_SIZE)?;
    (offset < d).then(|| BlockInfo { piece: p, offset, len: (d - offset).min(BLOCK_SIZE) })
}

/// Most peers we ask for the same block in end-game.
const ENDGAME_DUPLICATES: u8 = 2;

impl Picker {
    pub(crate) fn new(layout: &Layout, have: Bitfield, seed: u64) -> Self {
        let lengths = *layout.lengths();
        let n = lengths.num_pieces();
        let data_len = lengths.pieces().map(|p| layout.piece_data_len(p)).collect();
        // xorshift: cheap, seeded, deterministic
        let mut s = seed ^ 0x9E37_79B9_7F4A_7C15;
        let tiebreak = (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s as u32
            })
            .collect();
        Picker {
            lengths,
            data_len,
            have,
            avail: vec![0; n as usize],
            tiebreak,
            partial: BTreeMap::new(),
            seeds: 0,
        }
    }

    pub(crate) fn have(&self) -> &Bitfield {
        &self.have
    }
    pub(crate) fn is_complete(&self) -> bool {
        self.have.is_full()
    }

    pub(crate) fn peer_bitfield(&mut self, b: &Bitfield) {
        for i in b.ones() {
            self.avail[i as usize] += 1;
        }
    }
    pub(crate) fn peer_have(&mut self, p: PieceIndex) {
        self.avail[p.idx()] += 1;
    }
    pub(crate) fn peer_have_all(&mut self) {
        self.seeds += 1;
    }
    pub(crate) fn peer_disconnected(&mut self, b: Option<&Bitfield>, was_seed: bool) {
        if was_seed {
            self.seeds = self.seeds.saturating_sub(1);
        } else if let Some(b) = b {
            for i in b.ones() {
                let a = &mut self.avail[i as usize];
                *a = a.saturating_sub(1);
            }
        }
    }

    /// Is the piece wanted and not complete/being verified?
    #[allow(dead_code)]
    pub(crate) fn wants(&self, i: u32) -> bool {
        !self.have.get(i) && self.partial.get(&i).is_none_or(|p| !p.verifying)
    }

    /// Picks up to `max - out.len()` blocks for a peer. `mine` says whether
    /// this peer already has the block requested; `parole` restricts the
    /// peer to pieces it downloads alone.
    pub(crate) fn pick(
        &mut self,
        has: &PeerHas<'_>,
        who: SocketAddr,
        parole: bool,
        max: usize,
        mine: &dyn Fn(BlockInfo) -> bool,
        out: &mut Vec<BlockInfo>,
    ) {
        let lengths = self.lengths;
        let allowed = |p: &Partial| match p.exclusive {
            Some(e) => e == who,
            None => !parole,
        };
        // 1. pieces in progress
        for (&i, p) in self.partial.iter_mut() {
            if out.len() >= max {
                return;
            }
            if p.verifying || !has.has(i) || !allowed(p) {
                continue;
            }
            let piece = PieceIndex::new_unchecked(i);
            for (n, st) in p.blocks.iter_mut().enumerate() {
                if out.len() >= max {
                    break;
                }
                if *st == Block::Free {
                    if let Some(b) = self_nth(&self.data_len, piece, n as u32) {
                        if !mine(b) {
                            *st = Block::Requested(1);
                            out.push(b);
                        }
                    }
                }
            }
        }
        // 2. new pieces, rarest first
        if out.len() < max {
            let mut cands: Vec<u32> = self
                .have
                .zeros()
                .filter(|&i| has.has(i) && !self.partial.contains_key(&i))
                .collect();
            cands.sort_by_key(|&i| (self.avail[i as usize], self.tiebreak[i as usize]));
            for i in cands {
                if out.len() >= max {
                    return;
                }
                let piece = PieceIndex::new_unchecked(i);
                let nb = self.data_len[piece.idx()].div_ceil(BLOCK_SIZE);
                let mut p = Partial {
                    blocks: vec![Block::Free; nb as usize],
                    received: 0,
                    verifying: false,
                    exclusive: parole.then_some(who),
                    contributors: BTreeSet::new(),
                };
                for n in 0..nb {
                    if out.len() >= max {
                        break;
                    }
                    if let Some(b) = self_nth(&self.data_len, piece, n) {
                        p.blocks[n as usize] = Block::Requested(1);
                        out.push(b);
                    }
                }
                self.partial.insert(i, p);
            }
        }
        // 3. end-game: every missing piece is in progress and fully
        // requested: ask for blocks others already have in flight.
        if out.is_empty() && self.have.count() as usize + self.partial.len() == lengths.num_pieces() as usize {
            for (&i, p) in self.partial.iter_mut() {
                if out.len() >= max {
                    return;
                }
                if p.verifying || !has.has(i) || !allowed(p) {
                    continue;
                }
                let piece = PieceIndex::new_unchecked(i);
                for (n, st) in p.blocks.iter_mut().enumerate() {
                    if out.len() >= max {
                        break;
                    }
                    if let Block::Requested(k) = *st {
                        if k < ENDGAME_DUPLICATES {
                            if let Some(b) = self_nth(&self.data_len, piece, n as u32) {
                                if !mine(b) {
                                    *st = Block::Requested(k + 1);
                                    out.push(b);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// A request we made will not be answered (cancelled, rejected, peer
    /// gone).
    pub(crate) fn cancel(&mut self, b: BlockInfo) {
        if let Some(p) = self.partial.get_mut(&b.piece.get()) {
            if let Some(st) = p.blocks.get_mut(b.block_index() as usize) {
                *st = match *st {
                    Block::Requested(k) if k > 1 => Block::Requested(k - 1),
                    Block::Requested(_) => Block::Free,
                    s => s,
                };
            }
        }
    }

    /// A peer left: pieces it downloaded alone are open to everyone again.
    pub(crate) fn release(&mut self, who: SocketAddr) {
        for p in self.partial.values_mut() {
            if p.exclusive == Some(who) {
                p.exclusive = None;
            }
        }
    }

    pub(crate) fn block_received(&mut self, b: BlockInfo, from: SocketAddr) -> Received {
        let Some(p) = self.partial.get_mut(&b.piece.get()) else {
            return Received::NotWanted;
        };
        let Some(st) = p.blocks.get_mut(b.block_index() as usize) else {
            return Received::NotWanted;
        };
        if *st == Block::Received {
            return Received::Duplicate;
        }
        *st = Block::Received;
        p.received += 1;
        p.contributors.insert(from);
        let done = p.received as usize == p.blocks.len();
        if done {
            p.verifying = true;
        }
        Received::New { piece_done: done }
    }

    /// Is the block still wanted (not received)?
    #[allow(dead_code)]
    pub(crate) fn block_wanted(&self, b: BlockInfo) -> bool {
        self.partial
            .get(&b.piece.get())
            .and_then(|p| p.blocks.get(b.block_index() as usize))
            .is_some_and(|s| *s != Block::Received)
    }

    /// Marks the piece as had; returns its contributors.
    pub(crate) fn piece_verified(&mut self, p: PieceIndex) -> Vec<SocketAddr> {
        self.have.set(p.get());
        self.partial
            .remove(&p.get())
            .map(|x| x.contributors.into_iter().collect())
            .unwrap_or_default()
    }

    /// The piece failed: it is downloaded again from scratch. Returns who
    /// contributed to it.
    pub(crate) fn piece_failed(&mut self, p: PieceIndex) -> Vec<SocketAddr> {
        self.partial
            .remove(&p.get())
            .map(|x| x.contributors.into_iter().collect())
            .unwrap_or_default()
    }

    #[allow(dead_code)]
    pub(crate) fn is_endgame(&self) -> bool {
        self.have.count() as usize + self.partial.len() == self.lengths.num_pieces() as usize
            && self.partial.values().all(|p| !p.blocks.contains(&Block::Free))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(n: u8) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, n], 1))
    }

    #[test]
    fn picks_rarest_and_completes() {
        let l = Layout::single("f", 4 * 32768, 32768).unwrap();
        let mut p = Picker::new(&l, Bitfield::new(4), 1);
        let mut b = Bitfield::new(4);
        b.set(2);
        p.peer_bitfield(&b);
        p.peer_have_all();
        let mut out = vec![];
        // a peer with everything: rarest first means pieces 0,1,3 before 2
        p.pick(&PeerHas::All, addr(1), false, 6, &|_| false, &mut out);
        assert_eq!(out.len(), 6);
        assert!(out.iter().all(|b| b.piece.get() != 2));
        for blk in &out[..2] {
            let r = p.block_received(*blk, addr(1));
            assert!(matches!(r, Received::New { .. }));
        }
        assert_eq!(p.block_received(out[0], addr(1)), Received::Duplicate);
        assert_eq!(p.piece_verified(out[0].piece), vec![addr(1)]);
        assert!(p.have().has(out[0].piece));
    }

    #[test]
    fn parole_pieces_are_exclusive_and_endgame_duplicates() {
        let l = Layout::single("f", 2 * 32768, 32768).unwrap();
        let mut p = Picker::new(&l, Bitfield::new(2), 7);
        let mut a = vec![];
        p.pick(&PeerHas::All, addr(1), true, 1, &|_| false, &mut a);
        assert_eq!(a.len(), 1);
        // another peer may not touch the parole peer's piece
        let mut b = vec![];
        p.pick(&PeerHas::All, addr(2), false, 10, &|_| false, &mut b);
        assert!(b.iter().all(|x| x.piece != a[0].piece));
        assert_eq!(b.len(), 2);
        assert!(!p.is_endgame());
        // parole peer finishes its piece, then end-game
        let mut a2 = vec![];
        let mine = a.clone();
        p.pick(&PeerHas::All, addr(1), true, 10, &|x| mine.contains(&x), &mut a2);
        assert_eq!(a2.len(), 1);
        assert!(p.is_endgame());
        let mut dup = vec![];
        p.pick(&PeerHas::All, addr(3), false, 10, &|_| false, &mut dup);
        assert_eq!(dup, b, "end-game duplicates of peer 2's blocks");
        // a third request of the same block is not made
        let mut more = vec![];
        p.pick(&PeerHas::All, addr(4), false, 10, &|_| false, &mut more);
        assert!(more.is_empty());
        for x in &b {
            p.block_received(*x, addr(2));
        }
        assert_eq!(p.piece_failed(b[0].piece), vec![addr(2)]);
        assert!(p.wants(b[0].piece.get()));
    }
}
