//! The state machine's piece picking: [`piece_core::picker::Picker`]
//! (rarest first, partial pieces first, end-game, priorities) plus what
//! hash-failure attribution needs:
//!
//! - **contributors**: which peers supplied blocks of each piece in
//!   progress;
//! - **parole exclusivity**: a peer on parole downloads whole pieces alone.
//!   A piece it starts is owned by it: nobody else gets blocks of it, and
//!   it gets no blocks of pieces that others started.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use piece_core::picker::{BlockReceived, Picker as Inner};
use piece_core::{Bitfield, BlockInfo, Layout, PieceIndex};

pub(crate) use piece_core::picker::PeerHas;

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

/// See the module docs.
pub(crate) struct Picker {
    inner: Inner,
    /// Pieces with blocks requested or received, not yet verified/failed.
    started: BTreeSet<u32>,
    /// Pieces downloaded by one peer on parole.
    owners: BTreeMap<u32, SocketAddr>,
    contributors: BTreeMap<u32, BTreeSet<SocketAddr>>,
    /// Pieces that cannot be verified yet (v2 piece layer missing): never
    /// requested.
    blocked: Option<Bitfield>,
}

impl Picker {
    pub(crate) fn new(layout: &Layout, have: Bitfield, seed: u64) -> Self {
        Picker {
            inner: Inner::with_seed(layout, &have, seed),
            started: BTreeSet::new(),
            owners: BTreeMap::new(),
            contributors: BTreeMap::new(),
            blocked: None,
        }
    }

    /// Keeps these pieces from being requested until [`Picker::unblock`].
    pub(crate) fn block(&mut self, pieces: Bitfield) {
        self.blocked = Some(pieces);
    }

    /// Opens a range of pieces to requests again.
    pub(crate) fn unblock(&mut self, range: std::ops::Range<u32>) {
        if let Some(b) = self.blocked.as_mut() {
            for i in range {
                if i < b.len() {
                    b.clear(i);
                }
            }
            if b.none() {
                self.blocked = None;
            }
        }
    }

    pub(crate) fn have(&self) -> &Bitfield {
        self.inner.have()
    }
    pub(crate) fn is_complete(&self) -> bool {
        self.inner.is_complete()
    }
    pub(crate) fn peer_bitfield(&mut self, b: &Bitfield) {
        self.inner.peer_bitfield(b);
    }
    pub(crate) fn peer_have(&mut self, p: PieceIndex) {
        self.inner.peer_have(p);
    }
    pub(crate) fn peer_have_all(&mut self) {
        self.inner.peer_have_all();
    }
    pub(crate) fn peer_disconnected(&mut self, b: Option<&Bitfield>, was_seed: bool) {
        match (b, was_seed) {
            (_, true) => self.inner.peer_disconnected(&Bitfield::new(0), true),
            (Some(b), false) => self.inner.peer_disconnected(b, false),
            (None, false) => {}
        }
    }

    /// Picks up to `max` blocks for a peer. `mine` says whether this peer
    /// already has the block requested; `parole` restricts the peer to
    /// pieces it downloads alone.
    pub(crate) fn pick(
        &mut self,
        has: &PeerHas<'_>,
        who: SocketAddr,
        parole: bool,
        max: usize,
        mine: &dyn Fn(BlockInfo) -> bool,
        out: &mut Vec<BlockInfo>,
    ) {
        let start = out.len();
        let (started, owners, blocked) = (&self.started, &self.owners, &self.blocked);
        let exclude = |b: BlockInfo| {
            mine(b)
                || blocked.as_ref().is_some_and(|x| x.has(b.piece))
                || match owners.get(&b.piece.get()) {
                    Some(o) => *o != who,
                    None => parole && started.contains(&b.piece.get()),
                }
        };
        self.inner.pick(has, max, &exclude, out);
        for b in &out[start..] {
            let p = b.piece.get();
            if self.started.insert(p) && parole {
                self.owners.insert(p, who);
            }
        }
    }

    /// A request we made will not be answered.
    pub(crate) fn cancel(&mut self, b: BlockInfo) {
        self.inner.cancel(b);
    }

    /// A peer left: pieces it downloaded alone are open to everyone again.
    pub(crate) fn release(&mut self, who: SocketAddr) {
        self.owners.retain(|_, o| *o != who);
    }

    pub(crate) fn block_received(&mut self, b: BlockInfo, from: SocketAddr) -> Received {
        match self.inner.block_received(b) {
            BlockReceived::New { piece_complete } => {
                let c = self.contributors.entry(b.piece.get()).or_default();
                // bounded by the peers that can connect
                c.insert(from);
                Received::New {
                    piece_done: piece_complete,
                }
            }
            BlockReceived::Duplicate => Received::Duplicate,
            BlockReceived::NotRequested => Received::NotWanted,
        }
    }

    fn finish(&mut self, p: PieceIndex) -> Vec<SocketAddr> {
        self.started.remove(&p.get());
        self.owners.remove(&p.get());
        self.contributors
            .remove(&p.get())
            .map(|c| c.into_iter().collect())
            .unwrap_or_default()
    }

    /// Marks the piece as had; returns its contributors.
    pub(crate) fn piece_verified(&mut self, p: PieceIndex) -> Vec<SocketAddr> {
        self.inner.piece_verified(p);
        self.finish(p)
    }

    /// The piece failed: it is downloaded again from scratch. Returns who
    /// contributed to it.
    pub(crate) fn piece_failed(&mut self, p: PieceIndex) -> Vec<SocketAddr> {
        self.inner.piece_failed(p);
        self.finish(p)
    }

    pub(crate) fn is_endgame(&self) -> bool {
        self.inner.is_endgame()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(n: u8) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, n], 1))
    }

    #[test]
    fn contributors_are_recorded() {
        let l = Layout::single("f", 4 * 32768, 32768).unwrap();
        let mut p = Picker::new(&l, Bitfield::new(4), 1);
        p.peer_have_all();
        let mut out = vec![];
        p.pick(&PeerHas::All, addr(1), false, 2, &|_| false, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].piece, out[1].piece, "partial piece first");
        assert_eq!(
            p.block_received(out[0], addr(1)),
            Received::New { piece_done: false }
        );
        assert_eq!(p.block_received(out[0], addr(1)), Received::Duplicate);
        assert_eq!(
            p.block_received(out[1], addr(2)),
            Received::New { piece_done: true }
        );
        assert_eq!(p.piece_failed(out[0].piece), vec![addr(1), addr(2)]);
        // downloaded again: only the new contributor counts
        let mut only = Bitfield::new(4);
        only.set(out[0].piece.get());
        p.peer_bitfield(&only);
        let mut again = vec![];
        p.pick(
            &PeerHas::Some(&only),
            addr(3),
            false,
            2,
            &|_| false,
            &mut again,
        );
        assert_eq!(again, out);
        for b in &again {
            p.block_received(*b, addr(3));
        }
        assert_eq!(p.piece_verified(out[0].piece), vec![addr(3)]);
        assert!(p.have().has(out[0].piece));
    }

    #[test]
    fn parole_pieces_are_exclusive() {
        let l = Layout::single("f", 2 * 32768, 32768).unwrap();
        let mut p = Picker::new(&l, Bitfield::new(2), 7);
        p.peer_have_all();
        let mut a = vec![];
        p.pick(&PeerHas::All, addr(1), true, 1, &|_| false, &mut a);
        assert_eq!(a.len(), 1);
        // another peer may not touch the parole peer's piece
        let mut b = vec![];
        p.pick(&PeerHas::All, addr(2), false, 10, &|_| false, &mut b);
        assert_eq!(b.len(), 2);
        assert!(b.iter().all(|x| x.piece != a[0].piece));
        // the parole peer may not join the other piece, even in end-game
        let mut a2 = vec![];
        let mine = a.clone();
        p.pick(
            &PeerHas::All,
            addr(1),
            true,
            10,
            &|x| mine.contains(&x),
            &mut a2,
        );
        assert_eq!(a2.len(), 1);
        assert_eq!(a2[0].piece, a[0].piece);
        assert!(p.is_endgame());
        let mut a3 = vec![];
        let mine: Vec<BlockInfo> = a.iter().chain(&a2).copied().collect();
        p.pick(
            &PeerHas::All,
            addr(1),
            true,
            10,
            &|x| mine.contains(&x),
            &mut a3,
        );
        assert!(a3.is_empty(), "parole peer got shared blocks: {a3:?}");
        // a free peer in end-game duplicates only the free peer's blocks
        let mut dup = vec![];
        p.pick(&PeerHas::All, addr(3), false, 10, &|_| false, &mut dup);
        assert_eq!(dup, b);
        // when the parole peer leaves, its piece opens up
        p.release(addr(1));
        let mut d2 = vec![];
        p.pick(
            &PeerHas::All,
            addr(3),
            false,
            10,
            &|x| dup.contains(&x),
            &mut d2,
        );
        assert_eq!(d2.len(), 2);
        assert!(d2.iter().all(|x| x.piece == a[0].piece));
    }
}
