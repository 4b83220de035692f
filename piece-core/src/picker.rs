//! The piece picker: decides which blocks to request from which peer.
//!
//! # Policy
//!
//! 1. **Partial pieces first.** Pieces that already have blocks requested or
//!    received are finished before new ones are started, so that pieces reach
//!    hash verification (and can be shared) quickly.
//! 2. **Rarest first** among fresh pieces, with a random tie-break: pieces are
//!    kept in buckets by availability and shuffled inside each bucket.
//! 3. **Priorities**: `High` pieces are started before `Normal` ones; `Skip`
//!    pieces are never picked (a piece shared with a wanted file stays wanted).
//! 4. **Sequential mode** (streaming) replaces 1–3 by lowest-index-first.
//! 5. **End-game**: once every missing block of the wanted pieces has been
//!    requested, blocks already requested from other peers (but not yet
//!    received) are handed out again, tracking a request count per block.
//!
//! # Cost
//!
//! Availability is counted per piece over the non-seed peers; seeds are a
//! single counter (`HAVE_ALL` is O(1)) because they raise every piece alike
//! and do not change the rarest-first order. Fresh pieces (wanted, missing,
//! not started) live in per-priority, per-availability buckets with an index
//! of each piece's position, so a change of availability is an O(1)
//! remove/insert. A pick walks the partial pieces, then the buckets from the
//! rarest, stopping at the first piece the peer has: its cost does not grow
//! with the number of pieces of the torrent (only with how many pieces of a
//! rare bucket the peer lacks). Per-block state exists only for pieces in
//! progress.
//!
//! # Contract with the caller
//!
//! Every peer whose [`PeerHas::Some`] bitfield is passed to [`Picker::pick`]
//! must have been counted with [`Picker::peer_bitfield`] /
//! [`Picker::peer_have`] (pieces nobody but the seeds has are not searched for
//! non-seed peers). A peer announced with [`Picker::peer_have_all`] must be
//! removed with `peer_disconnected(_, true)`, any other with its current
//! bitfield and `false`. Calls that break the contract (unknown pieces,
//! blocks of another geometry) are ignored, never a panic.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::bitfield::Bitfield;
use crate::layout::Layout;
use crate::types::{BlockInfo, PieceIndex, BLOCK_SIZE};

/// Download priority of a file (and, as the maximum over the files it
/// touches, of a piece).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Priority {
    /// Do not download.
    Skip,
    /// Download, rarest first.
    #[default]
    Normal,
    /// Download before `Normal` pieces.
    High,
}

/// What a peer has: a bitfield or everything (a seed), without copying.
#[derive(Clone, Copy, Debug)]
pub enum PeerHas<'a> {
    /// The peer is a seed.
    All,
    /// The peer's current bitfield.
    Some(&'a Bitfield),
}

impl PeerHas<'_> {
    #[inline]
    fn has(&self, p: u32) -> bool {
        match self {
            PeerHas::All => true,
            PeerHas::Some(bf) => bf.get(p),
        }
    }
}

/// Outcome of [`Picker::block_received`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockReceived {
    /// First copy of a block of a piece in progress: write it.
    /// `piece_complete`: every block of the piece is now here, verify it.
    New {
        /// Whether the piece now has every block.
        piece_complete: bool,
    },
    /// We already have this block (or its whole piece): drop it.
    Duplicate,
    /// A block of a piece we never started (or not a block of this
    /// torrent's geometry): drop it.
    NotRequested,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BlockState {
    Missing,
    /// Outstanding requests (more than one only in end-game).
    Requested(u32),
    Received,
}

#[derive(Debug)]
struct Partial {
    blocks: Vec<BlockState>,
    missing: u32,
    received: u32,
}

/// Where a piece stands, besides `have`.
const NOT_IN_BUCKET: u32 = u32::MAX;

/// The piece picker. See the [module docs](self).
#[derive(Debug)]
pub struct Picker {
    layout: Layout,
    n: u32,
    have: Bitfield,
    /// Per piece: peers (not counting seeds) that have it.
    avail: Vec<u32>,
    seeds: u32,
    /// Per piece: its priority (max over the real files it touches).
    prio: Vec<Priority>,
    file_prio: Vec<Priority>,
    /// `buckets[0]` = Normal, `buckets[1]` = High; then by availability.
    buckets: [Vec<Vec<u32>>; 2],
    /// Per piece: index in its bucket, or `NOT_IN_BUCKET`.
    pos: Vec<u32>,
    num_fresh: usize,
    partials: BTreeMap<u32, Partial>,
    /// Wanted pieces we do not have yet.
    wanted_missing: u32,
    sequential: bool,
    /// Every piece below this one is had (sequential scan start).
    seq_cursor: u32,
    rng: StdRng,
}

fn bucket_set(p: Priority) -> Option<usize> {
    match p {
        Priority::Skip => None,
        Priority::Normal => Some(0),
        Priority::High => Some(1),
    }
}

impl Picker {
    /// A picker with a random seed. `have`: pieces we already have (bits
    /// past the layout's piece count are ignored). Pieces that are all
    /// padding count as had.
    pub fn new(layout: &Layout, have: &Bitfield) -> Picker {
        Self::with_seed(layout, have, rand::random())
    }

    /// Like [`Picker::new`], with a fixed seed for the random tie-break, for
    /// reproducible simulations and tests.
    pub fn with_seed(layout: &Layout, have: &Bitfield, seed: u64) -> Picker {
        let n = layout.lengths().num_pieces();
        let mut rng = StdRng::seed_from_u64(seed);
        let mut own = Bitfield::new(n);
        let mut fresh = Vec::new();
        for i in 0..n {
            let p = PieceIndex::new_unchecked(i);
            if have.get(i) || layout.piece_data_len(p) == 0 {
                own.set(i);
            } else {
                fresh.push(i);
            }
        }
        fresh.shuffle(&mut rng);
        let mut pos = vec![NOT_IN_BUCKET; n as usize];
        for (k, &p) in fresh.iter().enumerate() {
            pos[p as usize] = k as u32;
        }
        let wanted_missing = fresh.len() as u32;
        let num_fresh = fresh.len();
        let mut picker = Picker {
            layout: layout.clone(),
            n,
            have: own,
            avail: vec![0; n as usize],
            seeds: 0,
            prio: vec![Priority::Normal; n as usize],
            file_prio: vec![Priority::Normal; layout.files().len()],
            buckets: [vec![fresh], Vec::new()],
            pos,
            num_fresh,
            partials: BTreeMap::new(),
            wanted_missing,
            sequential: false,
            seq_cursor: 0,
            rng,
        };
        picker.advance_cursor();
        picker
    }

    /// Number of pieces of the torrent.
    pub fn num_pieces(&self) -> u32 {
        self.n
    }

    // ---- bucket plumbing ------------------------------------------------

    fn in_bucket(&self, p: u32) -> bool {
        self.pos[p as usize] != NOT_IN_BUCKET
    }

    fn bucket_remove(&mut self, p: u32) {
        let i = self.pos[p as usize];
        if i == NOT_IN_BUCKET {
            return;
        }
        let Some(set) = bucket_set(self.prio[p as usize]) else {
            return;
        };
        let a = self.avail[p as usize] as usize;
        let b = &mut self.buckets[set][a];
        b.swap_remove(i as usize);
        if let Some(&moved) = b.get(i as usize) {
            self.pos[moved as usize] = i;
        }
        self.pos[p as usize] = NOT_IN_BUCKET;
        self.num_fresh -= 1;
    }

    /// Inserts at a random position of its bucket (keeps ties shuffled).
    fn bucket_insert(&mut self, p: u32) {
        let Some(set) = bucket_set(self.prio[p as usize]) else {
            return;
        };
        if self.in_bucket(p) {
            return;
        }
        let a = self.avail[p as usize] as usize;
        let sets = &mut self.buckets[set];
        if sets.len() <= a {
            sets.resize_with(a + 1, Vec::new);
        }
        let b = &mut sets[a];
        b.push(p);
        let last = b.len() - 1;
        let j = self.rng.gen_range(0..=last);
        b.swap(j, last);
        self.pos[b[last] as usize] = last as u32;
        self.pos[b[j] as usize] = j as u32;
        self.num_fresh += 1;
    }

    fn set_avail(&mut self, p: u32, a: u32) {
        if self.in_bucket(p) {
            self.bucket_remove(p);
            self.avail[p as usize] = a;
            self.bucket_insert(p);
        } else {
            self.avail[p as usize] = a;
        }
    }

    /// Re-sorts every fresh piece into the bucket of its current
    /// availability, keeping the relative (shuffled) order.
    fn rebuild_buckets(&mut self) {
        for set in 0..2 {
            let old = std::mem::take(&mut self.buckets[set]);
            let mut new: Vec<Vec<u32>> = Vec::new();
            for p in old.into_iter().flatten() {
                let a = self.avail[p as usize] as usize;
                if new.len() <= a {
                    new.resize_with(a + 1, Vec::new);
                }
                self.pos[p as usize] = new[a].len() as u32;
                new[a].push(p);
            }
            self.buckets[set] = new;
        }
    }

    fn advance_cursor(&mut self) {
        while self.seq_cursor < self.n && self.have.get(self.seq_cursor) {
            self.seq_cursor += 1;
        }
    }

    // ---- availability ---------------------------------------------------

    /// A peer's full bitfield arrived (counted per piece; bits past the
    /// piece count are ignored).
    pub fn peer_bitfield(&mut self, bf: &Bitfield) {
        if bf.count() as usize > self.num_fresh / 4 {
            // Many bits: one sequential pass and a bucket rebuild, O(pieces),
            // beat many random O(1) moves.
            for i in bf.ones() {
                if i >= self.n {
                    break;
                }
                let a = &mut self.avail[i as usize];
                *a = a.saturating_add(1);
            }
            self.rebuild_buckets();
            return;
        }
        for i in bf.ones() {
            if i >= self.n {
                break;
            }
            self.set_avail(i, self.avail[i as usize].saturating_add(1));
        }
    }

    /// A peer announced a piece (`HAVE`).
    pub fn peer_have(&mut self, p: PieceIndex) {
        if p.get() < self.n {
            self.set_avail(p.get(), self.avail[p.idx()].saturating_add(1));
        }
    }

    /// A seed arrived (`HAVE_ALL`, or a full bitfield the caller chose to
    /// count as a seed). O(1).
    pub fn peer_have_all(&mut self) {
        self.seeds = self.seeds.saturating_add(1);
    }

    /// A peer left. `was_seed`: it was counted with
    /// [`Picker::peer_have_all`] (then `bf` is ignored); otherwise `bf` is
    /// its bitfield as counted so far.
    pub fn peer_disconnected(&mut self, bf: &Bitfield, was_seed: bool) {
        if was_seed {
            self.seeds = self.seeds.saturating_sub(1);
            return;
        }
        for i in bf.ones() {
            if i >= self.n {
                break;
            }
            self.set_avail(i, self.avail[i as usize].saturating_sub(1));
        }
    }

    /// Peers (seeds included) that have piece `p`.
    pub fn availability(&self, p: PieceIndex) -> u32 {
        self.avail
            .get(p.idx())
            .map_or(0, |a| a.saturating_add(self.seeds))
    }

    // ---- picking --------------------------------------------------------

    fn block_of(&self, p: u32, data_len: u32, k: u32) -> BlockInfo {
        let offset = k * BLOCK_SIZE;
        BlockInfo {
            piece: PieceIndex::new_unchecked(p),
            offset,
            len: (data_len - offset).min(BLOCK_SIZE),
        }
    }

    /// Takes up to `room` missing blocks of partial piece `p`.
    fn take_missing(
        &mut self,
        p: u32,
        room: usize,
        exclude: &dyn Fn(BlockInfo) -> bool,
        out: &mut Vec<BlockInfo>,
    ) {
        let data_len = self.layout.piece_data_len(PieceIndex::new_unchecked(p));
        let Some(part) = self.partials.get_mut(&p) else {
            return;
        };
        let mut taken = 0;
        for (k, st) in part.blocks.iter_mut().enumerate() {
            if taken == room || part.missing == 0 {
                break;
            }
            if *st == BlockState::Missing {
                let offset = k as u32 * BLOCK_SIZE;
                let b = BlockInfo {
                    piece: PieceIndex::new_unchecked(p),
                    offset,
                    len: (data_len - offset).min(BLOCK_SIZE),
                };
                if exclude(b) {
                    continue;
                }
                *st = BlockState::Requested(1);
                part.missing -= 1;
                taken += 1;
                out.push(b);
            }
        }
    }

    /// Moves fresh piece `p` to the partial pieces.
    fn start_piece(&mut self, p: u32) {
        self.bucket_remove(p);
        let data_len = self.layout.piece_data_len(PieceIndex::new_unchecked(p));
        let nb = data_len.div_ceil(BLOCK_SIZE);
        self.partials.insert(
            p,
            Partial {
                blocks: vec![BlockState::Missing; nb as usize],
                missing: nb,
                received: 0,
            },
        );
    }

    fn wanted(&self, p: u32) -> bool {
        self.prio[p as usize] != Priority::Skip
    }

    /// Appends to `out` up to `max` blocks that the peer has and that are not
    /// requested yet, marking them requested. Partial pieces first, then
    /// fresh pieces by priority and rarity (or by index in sequential mode).
    /// In end-game, fills the rest with blocks requested from others but not
    /// received. Blocks for which `exclude` is true (blocks this peer
    /// already has outstanding) are never returned.
    pub fn pick(
        &mut self,
        peer_has: &PeerHas<'_>,
        max: usize,
        exclude: &dyn Fn(BlockInfo) -> bool,
        out: &mut Vec<BlockInfo>,
    ) {
        let start = out.len();
        if max == 0 {
            return;
        }
        if self.sequential {
            self.pick_sequential(peer_has, max, start, exclude, out);
        } else {
            self.pick_partials(peer_has, max, start, exclude, out);
            self.pick_fresh(peer_has, max, start, exclude, out);
        }
        if out.len() - start < max && self.is_endgame() {
            self.pick_endgame(peer_has, max, start, exclude, out);
        }
    }

    fn pick_partials(
        &mut self,
        peer_has: &PeerHas<'_>,
        max: usize,
        start: usize,
        exclude: &dyn Fn(BlockInfo) -> bool,
        out: &mut Vec<BlockInfo>,
    ) {
        // Collect first: `take_missing` needs `&mut self`. Bounded by the
        // number of partial pieces, not by the torrent size.
        let cands: Vec<u32> = self
            .partials
            .iter()
            .filter(|(&p, part)| part.missing > 0 && peer_has.has(p) && self.wanted(p))
            .map(|(&p, _)| p)
            .collect();
        for p in cands {
            let room = max - (out.len() - start);
            if room == 0 {
                return;
            }
            self.take_missing(p, room, exclude, out);
        }
    }

    fn pick_fresh(
        &mut self,
        peer_has: &PeerHas<'_>,
        max: usize,
        start: usize,
        exclude: &dyn Fn(BlockInfo) -> bool,
        out: &mut Vec<BlockInfo>,
    ) {
        // Pieces in bucket 0 are had by seeds only: a non-seed peer (whose
        // bitfield is counted) has none of them.
        let first = match peer_has {
            PeerHas::All => 0,
            PeerHas::Some(_) => 1,
        };
        for set in [1usize, 0] {
            let mut a = first;
            while a < self.buckets[set].len() {
                let mut i = 0;
                while i < self.buckets[set][a].len() {
                    if out.len() - start >= max {
                        return;
                    }
                    let p = self.buckets[set][a][i];
                    if peer_has.has(p) {
                        // removes p from the bucket: index i now holds another
                        self.start_piece(p);
                        self.take_missing(p, max - (out.len() - start), exclude, out);
                    } else {
                        i += 1;
                    }
                }
                a += 1;
            }
        }
    }

    fn pick_sequential(
        &mut self,
        peer_has: &PeerHas<'_>,
        max: usize,
        start: usize,
        exclude: &dyn Fn(BlockInfo) -> bool,
        out: &mut Vec<BlockInfo>,
    ) {
        self.advance_cursor();
        let mut p = self.seq_cursor;
        while p < self.n && out.len() - start < max {
            if !self.have.get(p) && self.wanted(p) && peer_has.has(p) {
                if self.in_bucket(p) {
                    self.start_piece(p);
                }
                self.take_missing(p, max - (out.len() - start), exclude, out);
            }
            p += 1;
        }
    }

    fn pick_endgame(
        &mut self,
        peer_has: &PeerHas<'_>,
        max: usize,
        start: usize,
        exclude: &dyn Fn(BlockInfo) -> bool,
        out: &mut Vec<BlockInfo>,
    ) {
        let cands: Vec<u32> = self
            .partials
            .keys()
            .copied()
            .filter(|&p| peer_has.has(p) && self.wanted(p))
            .collect();
        for p in cands {
            let data_len = self.layout.piece_data_len(PieceIndex::new_unchecked(p));
            let nblocks = match self.partials.get(&p) {
                Some(part) => part.blocks.len(),
                None => continue,
            };
            for k in 0..nblocks {
                if out.len() - start >= max {
                    return;
                }
                let b = self.block_of(p, data_len, k as u32);
                let Some(part) = self.partials.get_mut(&p) else {
                    break;
                };
                if let BlockState::Requested(c) = part.blocks[k] {
                    if !exclude(b) && !out[start..].contains(&b) {
                        part.blocks[k] = BlockState::Requested(c.saturating_add(1));
                        out.push(b);
                    }
                }
            }
        }
    }

    /// True once every missing block of every wanted piece has been
    /// requested (and something is still missing).
    pub fn is_endgame(&self) -> bool {
        self.wanted_missing > 0
            && self.num_fresh == 0
            && !self
                .partials
                .iter()
                .any(|(&p, part)| part.missing > 0 && self.wanted(p))
    }

    // ---- block and piece events -----------------------------------------

    /// Looks up the partial piece and block index of `b`, checking that it
    /// is exactly one of our blocks.
    fn locate(&self, b: BlockInfo) -> Option<usize> {
        let p = b.piece.get();
        if p >= self.n || b.offset % BLOCK_SIZE != 0 {
            return None;
        }
        let data_len = self.layout.piece_data_len(b.piece);
        let k = b.offset / BLOCK_SIZE;
        if b.offset >= data_len || b.len != (data_len - b.offset).min(BLOCK_SIZE) {
            return None;
        }
        Some(k as usize)
    }

    /// A block arrived. A block of a started piece is accepted even if its
    /// request was cancelled meanwhile (late data is still good data).
    pub fn block_received(&mut self, b: BlockInfo) -> BlockReceived {
        let Some(k) = self.locate(b) else {
            return BlockReceived::NotRequested;
        };
        let p = b.piece.get();
        if self.have.get(p) {
            return BlockReceived::Duplicate;
        }
        let Some(part) = self.partials.get_mut(&p) else {
            return BlockReceived::NotRequested;
        };
        match part.blocks[k] {
            BlockState::Received => BlockReceived::Duplicate,
            st => {
                if st == BlockState::Missing {
                    part.missing -= 1;
                }
                part.blocks[k] = BlockState::Received;
                part.received += 1;
                BlockReceived::New {
                    piece_complete: part.received as usize == part.blocks.len(),
                }
            }
        }
    }

    /// A request was lost (choke, reject, timeout, disconnect): the block
    /// goes back to missing unless other requests for it remain (end-game).
    pub fn cancel(&mut self, b: BlockInfo) {
        let Some(k) = self.locate(b) else {
            return;
        };
        if let Some(part) = self.partials.get_mut(&b.piece.get()) {
            match part.blocks[k] {
                BlockState::Requested(c) if c > 1 => part.blocks[k] = BlockState::Requested(c - 1),
                BlockState::Requested(_) => {
                    part.blocks[k] = BlockState::Missing;
                    part.missing += 1;
                }
                _ => {}
            }
        }
    }

    /// The piece's hash passed: we have it. Requests still in flight for
    /// the piece are forgotten (the caller cancels them on the wire).
    pub fn piece_verified(&mut self, p: PieceIndex) {
        let i = p.get();
        if i >= self.n || self.have.get(i) {
            return;
        }
        self.bucket_remove(i);
        self.partials.remove(&i);
        self.have.set(i);
        if self.wanted(i) {
            self.wanted_missing -= 1;
        }
        self.advance_cursor();
    }

    /// The piece's hash failed: all its blocks are missing again. Requests
    /// still in flight for the piece are forgotten (the caller cancels them
    /// on the wire and drops their data).
    pub fn piece_failed(&mut self, p: PieceIndex) {
        let i = p.get();
        if i >= self.n || self.have.get(i) {
            return;
        }
        if self.partials.remove(&i).is_some() {
            self.bucket_insert(i);
        }
    }

    // ---- priorities and modes --------------------------------------------

    /// Sets a file's priority and recomputes the pieces it touches (a
    /// piece's priority is the highest of its real files). `layout` must be
    /// the one the picker was built with; an unknown file is ignored.
    pub fn set_file_priority(&mut self, layout: &Layout, file: usize, prio: Priority) {
        let _ = layout; // the picker keeps its own copy; kept for the API
        if file >= self.file_prio.len() {
            return;
        }
        self.file_prio[file] = prio;
        let Some((first, last)) = self.layout.file_pieces(file) else {
            return;
        };
        for i in first.get()..=last.get().min(self.n.saturating_sub(1)) {
            let new = self.piece_priority(i);
            let old = self.prio[i as usize];
            if new == old {
                continue;
            }
            let fresh = self.in_bucket(i);
            if fresh {
                self.bucket_remove(i);
            }
            self.prio[i as usize] = new;
            if fresh
                || (!self.have.get(i) && old == Priority::Skip && !self.partials.contains_key(&i))
            {
                self.bucket_insert(i);
            }
            if !self.have.get(i) {
                match (old == Priority::Skip, new == Priority::Skip) {
                    (true, false) => self.wanted_missing += 1,
                    (false, true) => self.wanted_missing -= 1,
                    _ => {}
                }
            }
        }
    }

    fn piece_priority(&self, i: u32) -> Priority {
        let files = self.layout.files();
        let l = self.layout.lengths();
        let p = PieceIndex::new_unchecked(i);
        let start = l.piece_offset(p);
        let end = start + l.piece_len(p) as u64;
        let mut best = None::<Priority>;
        let mut f = self.layout.file_at(start);
        while f < files.len() && files[f].offset < end {
            if !files[f].pad && files[f].length > 0 {
                best = Some(best.map_or(self.file_prio[f], |b| b.max(self.file_prio[f])));
            }
            f += 1;
        }
        best.unwrap_or(Priority::Skip)
    }

    /// The priority of a piece.
    pub fn priority(&self, p: PieceIndex) -> Priority {
        self.prio.get(p.idx()).copied().unwrap_or(Priority::Skip)
    }

    /// In-order picking (for streaming) instead of rarest-first.
    pub fn set_sequential(&mut self, on: bool) {
        self.sequential = on;
    }

    // ---- state ------------------------------------------------------------

    /// The pieces we have (verified, or all padding).
    pub fn have(&self) -> &Bitfield {
        &self.have
    }

    /// Whether every wanted piece is had.
    pub fn is_complete(&self) -> bool {
        self.wanted_missing == 0
    }

    /// Number of pieces in progress (started, not yet verified).
    pub fn num_partial(&self) -> usize {
        self.partials.len()
    }

    /// Whether piece `p` is in progress.
    pub fn is_partial(&self, p: PieceIndex) -> bool {
        self.partials.contains_key(&p.get())
    }
}

#[cfg(test)]
#[path = "picker_tests.rs"]
mod tests;
