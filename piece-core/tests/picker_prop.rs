//! Property tests of the piece picker against a simple model: random
//! sequences of peer events, picks, receives, cancels, verifications,
//! failures and priority changes.

use std::collections::{BTreeSet, HashSet};

use piece_core::layout::LayoutFile;
use piece_core::picker::{BlockReceived, PeerHas, Picker, Priority};
use piece_core::{Bitfield, BlockInfo, Layout, Lengths, PieceIndex, BLOCK_SIZE};
use proptest::prelude::*;

const PL: u64 = 2 * BLOCK_SIZE as u64;
const SLOTS: usize = 4;

#[derive(Clone, Debug)]
enum Op {
    Connect {
        slot: usize,
        seed: bool,
        bits: Vec<bool>,
    },
    Have {
        slot: usize,
        piece: u32,
    },
    Disconnect {
        slot: usize,
    },
    Pick {
        slot: usize,
        max: usize,
    },
    Receive {
        k: usize,
    },
    Cancel {
        k: usize,
    },
    Verify {
        k: usize,
        ok: bool,
    },
    Prio {
        file: usize,
        prio: u8,
    },
    Sequential(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..SLOTS, any::<bool>(), proptest::collection::vec(any::<bool>(), 40))
            .prop_map(|(slot, seed, bits)| Op::Connect { slot, seed: seed && bits[0], bits }),
        2 => (0..SLOTS, 0..40u32).prop_map(|(slot, piece)| Op::Have { slot, piece }),
        1 => (0..SLOTS).prop_map(|slot| Op::Disconnect { slot }),
        4 => (0..SLOTS, 0..8usize).prop_map(|(slot, max)| Op::Pick { slot, max }),
        4 => any::<usize>().prop_map(|k| Op::Receive { k }),
        1 => any::<usize>().prop_map(|k| Op::Cancel { k }),
        2 => (any::<usize>(), proptest::bool::weighted(0.8)).prop_map(|(k, ok)| Op::Verify { k, ok }),
        1 => (0..3usize, 0..3u8).prop_map(|(file, prio)| Op::Prio { file, prio }),
        1 => proptest::bool::weighted(0.2).prop_map(Op::Sequential),
    ]
}

/// Three files of arbitrary sizes (so pieces straddle files), sometimes
/// with an all-padding piece in between.
fn layout() -> impl Strategy<Value = Layout> {
    (proptest::collection::vec(1..5 * PL, 3), any::<bool>()).prop_map(|(sizes, pad)| {
        let mut files = Vec::new();
        let mut off = 0u64;
        for (i, len) in sizes.into_iter().enumerate() {
            files.push(LayoutFile {
                path: format!("f{i}").into(),
                length: len,
                offset: off,
                pad: false,
            });
            off += len;
            if pad && i == 0 {
                // pad to the piece end plus one whole piece of padding
                let pad_len = (PL - off % PL) % PL + PL;
                files.push(LayoutFile {
                    path: ".pad/0".into(),
                    length: pad_len,
                    offset: off,
                    pad: true,
                });
                off += pad_len;
            }
        }
        Layout::new(Lengths::new(off, PL).unwrap(), files).unwrap()
    })
}

#[derive(Clone)]
enum Peer {
    Seed,
    Bits(Bitfield),
}

struct Model {
    n: u32,
    peers: Vec<Option<Peer>>,
    /// (slot, block) requests in flight.
    outstanding: Vec<(usize, BlockInfo)>,
    received: HashSet<BlockInfo>,
    complete: BTreeSet<u32>,
    file_prio: [Priority; 3],
    sequential: bool,
}

fn prio_of(x: u8) -> Priority {
    [Priority::Skip, Priority::Normal, Priority::High][x as usize % 3]
}

fn pi(i: u32) -> PieceIndex {
    PieceIndex::new_unchecked(i)
}

impl Model {
    fn peer_has(&self, slot: usize) -> Option<PeerHas<'_>> {
        self.peers[slot].as_ref().map(|p| match p {
            Peer::Seed => PeerHas::All,
            Peer::Bits(b) => PeerHas::Some(b),
        })
    }

    fn availability(&self, p: u32) -> u32 {
        self.peers
            .iter()
            .flatten()
            .filter(|peer| match peer {
                Peer::Seed => true,
                Peer::Bits(b) => b.get(p),
            })
            .count() as u32
    }

    fn disconnect(&mut self, pk: &mut Picker, slot: usize) {
        if let Some(peer) = self.peers[slot].take() {
            match &peer {
                Peer::Seed => pk.peer_disconnected(&Bitfield::new(self.n), true),
                Peer::Bits(b) => pk.peer_disconnected(b, false),
            }
        }
        let (gone, keep): (Vec<_>, Vec<_>) =
            self.outstanding.drain(..).partition(|(s, _)| *s == slot);
        self.outstanding = keep;
        for (_, b) in gone {
            pk.cancel(b);
        }
    }

    fn receive(&mut self, pk: &mut Picker, b: BlockInfo) -> Result<(), TestCaseError> {
        let had = pk.have().get(b.piece.get());
        let dup = had || self.received.contains(&b);
        let partial = pk.is_partial(b.piece);
        let r = pk.block_received(b);
        if dup {
            prop_assert_eq!(r, BlockReceived::Duplicate);
        } else if partial {
            let BlockReceived::New { piece_complete } = r else {
                return Err(TestCaseError::fail(format!(
                    "expected New for {b:?}, got {r:?}"
                )));
            };
            self.received.insert(b);
            if piece_complete {
                self.complete.insert(b.piece.get());
            }
        } else {
            prop_assert_eq!(r, BlockReceived::NotRequested);
        }
        Ok(())
    }

    fn pick(&mut self, pk: &mut Picker, slot: usize, max: usize) -> Result<(), TestCaseError> {
        let Some(ph) = self.peer_has(slot) else {
            return Ok(());
        };
        let no_partial = pk.num_partial() == 0;
        let have_before = pk.have().clone();
        let mine: HashSet<BlockInfo> = self
            .outstanding
            .iter()
            .filter(|(s, _)| *s == slot)
            .map(|(_, b)| *b)
            .collect();
        let mut out = Vec::new();
        pk.pick(&ph, max, &|b| mine.contains(&b), &mut out);
        prop_assert!(out.len() <= max);
        let endgame = pk.is_endgame();
        let mut seen = HashSet::new();
        for b in &out {
            let p = b.piece.get();
            prop_assert!(!have_before.get(p), "picked a had piece {:?}", b);
            prop_assert!(
                pk.priority(b.piece) != Priority::Skip,
                "picked a Skip piece {:?}",
                b
            );
            prop_assert!(ph_has(&ph, p), "peer does not have {:?}", b);
            prop_assert!(seen.insert(*b), "block twice in one pick {:?}", b);
            prop_assert!(
                !self.received.contains(b),
                "picked a received block {:?}",
                b
            );
            prop_assert!(
                !mine.contains(b),
                "picked a block the peer has outstanding {:?}",
                b
            );
            let requested = self.outstanding.iter().any(|(_, o)| o == b);
            prop_assert!(
                !requested || endgame,
                "duplicate request outside end-game {:?}",
                b
            );
        }
        if no_partial && !self.sequential {
            if let Some(first) = out.first() {
                // rarest among eligible fresh pieces of the highest priority
                let eligible: Vec<u32> = (0..self.n)
                    .filter(|&q| {
                        !have_before.get(q)
                            && ph_has(&ph, q)
                            && pk.priority(pi(q)) != Priority::Skip
                    })
                    .collect();
                let top = eligible.iter().map(|&q| pk.priority(pi(q))).max().unwrap();
                let min = eligible
                    .iter()
                    .filter(|&&q| pk.priority(pi(q)) == top)
                    .map(|&q| pk.availability(pi(q)))
                    .min()
                    .unwrap();
                prop_assert_eq!(pk.priority(first.piece), top);
                prop_assert_eq!(pk.availability(first.piece), min, "not rarest first");
            }
        }
        self.outstanding.extend(out.into_iter().map(|b| (slot, b)));
        Ok(())
    }

    fn verify(&mut self, pk: &mut Picker, p: u32, ok: bool) {
        self.complete.remove(&p);
        self.received.retain(|b| b.piece.get() != p);
        // the engine cancels requests of a finished or failed piece
        self.outstanding.retain(|(_, b)| b.piece.get() != p);
        if ok {
            pk.piece_verified(pi(p));
        } else {
            pk.piece_failed(pi(p));
        }
    }
}

fn ph_has(ph: &PeerHas<'_>, p: u32) -> bool {
    match ph {
        PeerHas::All => true,
        PeerHas::Some(b) => b.get(p),
    }
}

fn run(layout: Layout, ops: Vec<Op>, seed: u64) -> Result<(), TestCaseError> {
    let n = layout.lengths().num_pieces();
    let mut pk = Picker::with_seed(&layout, &Bitfield::new(n), seed);
    let mut m = Model {
        n,
        peers: vec![None; SLOTS],
        outstanding: Vec::new(),
        received: HashSet::new(),
        complete: BTreeSet::new(),
        file_prio: [Priority::Normal; 3],
        sequential: false,
    };
    for op in ops {
        match op {
            Op::Connect { slot, seed, bits } => {
                m.disconnect(&mut pk, slot);
                if seed {
                    pk.peer_have_all();
                    m.peers[slot] = Some(Peer::Seed);
                } else {
                    let mut b = Bitfield::new(n);
                    for i in 0..n {
                        if bits[i as usize % bits.len()] {
                            b.set(i);
                        }
                    }
                    pk.peer_bitfield(&b);
                    m.peers[slot] = Some(Peer::Bits(b));
                }
            }
            Op::Have { slot, piece } => {
                if let Some(Peer::Bits(b)) = &mut m.peers[slot] {
                    if piece < n && b.set(piece) {
                        pk.peer_have(pi(piece));
                    }
                }
            }
            Op::Disconnect { slot } => m.disconnect(&mut pk, slot),
            Op::Pick { slot, max } => m.pick(&mut pk, slot, max)?,
            Op::Receive { k } => {
                if !m.outstanding.is_empty() {
                    let (_, b) = m.outstanding.remove(k % m.outstanding.len());
                    m.receive(&mut pk, b)?;
                }
            }
            Op::Cancel { k } => {
                if !m.outstanding.is_empty() {
                    let (_, b) = m.outstanding.remove(k % m.outstanding.len());
                    pk.cancel(b);
                }
            }
            Op::Verify { k, ok } => {
                if !m.complete.is_empty() {
                    let p = *m.complete.iter().nth(k % m.complete.len()).unwrap();
                    m.verify(&mut pk, p, ok);
                }
            }
            Op::Prio { file, prio } => {
                // the layout may hold a pad file: map to real files
                let real: Vec<usize> = layout.real_files().map(|(i, _)| i).collect();
                let f = real[file % real.len()];
                m.file_prio[file % 3] = prio_of(prio);
                pk.set_file_priority(&layout, f, prio_of(prio));
            }
            Op::Sequential(on) => {
                m.sequential = on;
                pk.set_sequential(on);
            }
        }
        for p in 0..n {
            prop_assert_eq!(
                pk.availability(pi(p)),
                m.availability(p),
                "availability of {}",
                p
            );
        }
    }

    // Everything wanted completes when fed a seed.
    m.disconnect(&mut pk, 0);
    pk.peer_have_all();
    m.peers[0] = Some(Peer::Seed);
    let mut rounds = 0;
    while !pk.is_complete() {
        rounds += 1;
        prop_assert!(rounds < 4 * n as usize + 10, "did not complete");
        m.pick(&mut pk, 0, 7)?;
        for (_, b) in std::mem::take(&mut m.outstanding) {
            m.receive(&mut pk, b)?;
        }
        for p in std::mem::take(&mut m.complete) {
            m.verify(&mut pk, p, true);
        }
    }
    for p in 0..n {
        if pk.priority(pi(p)) != Priority::Skip {
            prop_assert!(pk.have().get(p));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]
    #[test]
    fn picker_invariants(layout in layout(), ops in proptest::collection::vec(op(), 1..120), seed in any::<u64>()) {
        run(layout, ops, seed)?;
    }
}
