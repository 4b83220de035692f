use super::*;
use crate::layout::LayoutFile;
use crate::types::Lengths;

const PL: u64 = 2 * BLOCK_SIZE as u64; // 2 blocks per piece

fn single(pieces: u64) -> Layout {
    Layout::single("f", pieces * PL, PL).unwrap()
}

fn no(_: BlockInfo) -> bool {
    false
}

fn pick(pk: &mut Picker, ph: PeerHas<'_>, max: usize) -> Vec<BlockInfo> {
    let mut v = Vec::new();
    pk.pick(&ph, max, &no, &mut v);
    v
}

fn bf(n: u32, ones: &[u32]) -> Bitfield {
    let mut b = Bitfield::new(n);
    for &i in ones {
        b.set(i);
    }
    b
}

fn pi(i: u32) -> PieceIndex {
    PieceIndex::new_unchecked(i)
}

#[test]
fn rarest_first_then_partial_preference() {
    let l = single(4);
    let mut pk = Picker::with_seed(&l, &Bitfield::new(4), 1);
    pk.peer_bitfield(&bf(4, &[0, 1, 2, 3]));
    pk.peer_bitfield(&bf(4, &[0, 1, 3]));
    pk.peer_bitfield(&bf(4, &[0, 3]));
    // piece 2 is the rarest (1 peer)
    let got = pick(&mut pk, PeerHas::All, 1);
    assert_eq!(got[0].piece, pi(2));
    assert_eq!(pk.availability(pi(2)), 1);
    // the next pick finishes piece 2 first (partial preference)
    let got = pick(&mut pk, PeerHas::All, 1);
    assert_eq!(got[0].piece, pi(2));
    assert_eq!(got[0].offset, BLOCK_SIZE);
    // then piece 1 (2 peers)
    let got = pick(&mut pk, PeerHas::All, 2);
    assert!(got.iter().all(|b| b.piece == pi(1)), "{got:?}");
    pk.peer_have_all();
    assert_eq!(pk.availability(pi(0)), 4);
}

#[test]
fn only_pieces_the_peer_has() {
    let l = single(8);
    let mut pk = Picker::with_seed(&l, &Bitfield::new(8), 2);
    let peer = bf(8, &[5]);
    pk.peer_bitfield(&peer);
    let got = pick(&mut pk, PeerHas::Some(&peer), 10);
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|b| b.piece == pi(5)));
    assert!(pick(&mut pk, PeerHas::Some(&peer), 10).is_empty());
    pk.peer_disconnected(&peer, false);
    assert_eq!(pk.availability(pi(5)), 0);
}

#[test]
fn endgame_duplicates_and_counts() {
    let l = single(1);
    let mut pk = Picker::with_seed(&l, &Bitfield::new(1), 3);
    pk.peer_have_all();
    let a = pick(&mut pk, PeerHas::All, 10);
    assert_eq!(a.len(), 2);
    assert!(pk.is_endgame());
    // second peer already has block a[0] outstanding: excluded
    let first = a[0];
    let mut b = Vec::new();
    pk.pick(&PeerHas::All, 10, &|x| x == first, &mut b);
    assert_eq!(b, vec![a[1]]);
    // one of the two requests for a[1] is lost: still requested
    pk.cancel(a[1]);
    assert!(pk.is_endgame());
    pk.cancel(a[1]);
    assert!(!pk.is_endgame());
    // a[1] is missing again; then end-game adds a[0] unless excluded
    let mut c = Vec::new();
    pk.pick(&PeerHas::All, 10, &|x| x == first, &mut c);
    assert_eq!(c, vec![a[1]]);
    assert_eq!(
        pk.block_received(a[0]),
        BlockReceived::New {
            piece_complete: false
        }
    );
    assert_eq!(pk.block_received(a[0]), BlockReceived::Duplicate);
    assert_eq!(
        pk.block_received(a[1]),
        BlockReceived::New {
            piece_complete: true
        }
    );
    pk.piece_verified(pi(0));
    assert!(pk.is_complete());
    assert!(!pk.is_endgame());
    assert_eq!(pk.block_received(a[1]), BlockReceived::Duplicate);
    assert!(pick(&mut pk, PeerHas::All, 10).is_empty());
}

#[test]
fn failed_piece_is_picked_again() {
    let l = single(1);
    let mut pk = Picker::with_seed(&l, &Bitfield::new(1), 4);
    let a = pick(&mut pk, PeerHas::All, 10);
    for b in &a {
        pk.block_received(*b);
    }
    pk.piece_failed(pi(0));
    assert!(!pk.is_complete());
    assert_eq!(pick(&mut pk, PeerHas::All, 10), a);
}

#[test]
fn not_requested_and_foreign_blocks() {
    let l = single(2);
    let mut pk = Picker::with_seed(&l, &Bitfield::new(2), 5);
    let b = BlockInfo {
        piece: pi(1),
        offset: 0,
        len: BLOCK_SIZE,
    };
    assert_eq!(pk.block_received(b), BlockReceived::NotRequested);
    let odd = BlockInfo {
        piece: pi(7),
        offset: 3,
        len: 1,
    };
    assert_eq!(pk.block_received(odd), BlockReceived::NotRequested);
    pk.cancel(odd);
    pk.peer_have(pi(9));
    pk.piece_verified(pi(9));
    assert_eq!(pk.availability(pi(9)), 0);
}

#[test]
fn sequential_in_order() {
    let l = single(6);
    let mut pk = Picker::with_seed(&l, &bf(6, &[0]), 6);
    pk.set_sequential(true);
    let got = pick(&mut pk, PeerHas::All, 5);
    let pieces: Vec<u32> = got.iter().map(|b| b.piece.get()).collect();
    assert_eq!(pieces, vec![1, 1, 2, 2, 3]);
}

#[test]
fn priorities_skip_and_high() {
    // three files of 2 pieces each; file 1 straddles nothing
    let files = (0..3)
        .map(|i| LayoutFile {
            path: format!("f{i}").into(),
            length: 2 * PL,
            offset: i * 2 * PL,
            pad: false,
        })
        .collect();
    let l = Layout::new(Lengths::new(6 * PL, PL).unwrap(), files).unwrap();
    let mut pk = Picker::with_seed(&l, &Bitfield::new(6), 7);
    pk.set_file_priority(&l, 0, Priority::Skip);
    pk.set_file_priority(&l, 2, Priority::High);
    let got = pick(&mut pk, PeerHas::All, 4);
    assert!(got.iter().all(|b| b.piece.get() >= 4), "{got:?}");
    let got = pick(&mut pk, PeerHas::All, 100);
    // pieces 2, 3 then (end-game) duplicates of 4, 5; never 0, 1
    assert_eq!(got.len(), 8);
    assert!(
        got[..4].iter().all(|b| (2..4).contains(&b.piece.get())),
        "{got:?}"
    );
    assert!(got.iter().all(|b| b.piece.get() >= 2), "{got:?}");
    assert!(pk.is_endgame());
    for p in 2..6 {
        pk.piece_verified(pi(p));
    }
    assert!(pk.is_complete());
    pk.set_file_priority(&l, 0, Priority::Normal);
    assert!(!pk.is_complete());
    assert_eq!(pick(&mut pk, PeerHas::All, 100).len(), 4);
}

#[test]
fn shared_piece_stays_wanted() {
    // file a = 1.5 pieces, file b = 1.5 pieces: piece 1 is shared
    let half = PL / 2;
    let files = vec![
        LayoutFile {
            path: "a".into(),
            length: 3 * half,
            offset: 0,
            pad: false,
        },
        LayoutFile {
            path: "b".into(),
            length: 3 * half,
            offset: 3 * half,
            pad: false,
        },
    ];
    let l = Layout::new(Lengths::new(3 * PL, PL).unwrap(), files).unwrap();
    let mut pk = Picker::with_seed(&l, &Bitfield::new(3), 8);
    pk.set_file_priority(&l, 0, Priority::Skip);
    assert_eq!(pk.priority(pi(0)), Priority::Skip);
    assert_eq!(pk.priority(pi(1)), Priority::Normal);
    pk.set_file_priority(&l, 1, Priority::Skip);
    assert_eq!(pk.priority(pi(1)), Priority::Skip);
    assert!(pk.is_complete());
    assert!(pick(&mut pk, PeerHas::All, 100).is_empty());
}

#[test]
fn all_padding_piece_counts_as_had() {
    // file a: 1 block; pad to piece end; pad file covering a whole piece;
    // file b: 1 block.
    let files = vec![
        LayoutFile {
            path: "a".into(),
            length: BLOCK_SIZE as u64,
            offset: 0,
            pad: false,
        },
        LayoutFile {
            path: ".pad/1".into(),
            length: PL + BLOCK_SIZE as u64,
            offset: BLOCK_SIZE as u64,
            pad: true,
        },
        LayoutFile {
            path: "b".into(),
            length: BLOCK_SIZE as u64,
            offset: 2 * PL,
            pad: false,
        },
    ];
    let l = Layout::new(Lengths::new(2 * PL + BLOCK_SIZE as u64, PL).unwrap(), files).unwrap();
    let mut pk = Picker::with_seed(&l, &Bitfield::new(3), 9);
    assert!(pk.have().get(1));
    assert!(!pk.have().get(0));
    let got = pick(&mut pk, PeerHas::All, 100);
    // one real block in piece 0 (its second block is padding), one in piece 2
    assert_eq!(got.len(), 2, "{got:?}");
    for b in got {
        assert_eq!(b.len, BLOCK_SIZE);
        assert_eq!(
            pk.block_received(b),
            BlockReceived::New {
                piece_complete: true
            }
        );
        pk.piece_verified(b.piece);
    }
    assert!(pk.is_complete());
}

#[test]
fn same_seed_same_picks() {
    let l = single(200);
    let run = |seed| {
        let mut pk = Picker::with_seed(&l, &Bitfield::new(200), seed);
        pick(&mut pk, PeerHas::All, 20)
    };
    assert_eq!(run(11), run(11));
    assert_ne!(run(11), run(12));
}
