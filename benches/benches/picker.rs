//! Piece picker costs at 10k and 1M pieces with 200 peers holding random
//! bitfields: `pick` of 16 blocks (one piece) and `peer_have`.
//!
//! Run: `cargo bench -p swarm-benches --bench picker -- --warm-up-time 1 --measurement-time 3`

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use piece_core::picker::{PeerHas, Picker};
use piece_core::{Bitfield, BlockInfo, Layout, PieceIndex};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const PIECE_LEN: u64 = 256 * 1024; // 16 blocks
const PEERS: usize = 200;

fn setup(pieces: u32) -> (Picker, Vec<Bitfield>) {
    let layout = Layout::single("f", pieces as u64 * PIECE_LEN, PIECE_LEN).unwrap();
    let mut pk = Picker::with_seed(&layout, &Bitfield::new(pieces), 7);
    let mut rng = StdRng::seed_from_u64(42);
    let mut peers = Vec::with_capacity(PEERS);
    for _ in 0..PEERS {
        // random bytes: each piece with probability 1/2 (pieces is a
        // multiple of 8, so no spare bits)
        let mut bytes = vec![0u8; pieces as usize / 8];
        rng.fill(&mut bytes[..]);
        let bf = Bitfield::from_wire(&bytes, pieces).unwrap();
        pk.peer_bitfield(&bf);
        peers.push(bf);
    }
    (pk, peers)
}

fn no(_: BlockInfo) -> bool {
    false
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("picker");
    for pieces in [10_000u32, 1_000_000] {
        let (mut pk, peers) = setup(pieces);
        let mut out = Vec::with_capacity(16);
        let mut k = 0usize;
        // pick one piece's 16 blocks for a rotating peer, then put the piece
        // back (hash failure) so that the state stays the same
        g.bench_function(BenchmarkId::new("pick16+fail", pieces), |b| {
            b.iter(|| {
                k = (k + 1) % PEERS;
                out.clear();
                pk.pick(&PeerHas::Some(&peers[k]), 16, &no, &mut out);
                for p in out
                    .iter()
                    .map(|b| b.piece)
                    .collect::<std::collections::BTreeSet<_>>()
                {
                    pk.piece_failed(p);
                }
                black_box(out.len())
            })
        });
        g.bench_function(BenchmarkId::new("pick16_seed+fail", pieces), |b| {
            b.iter(|| {
                out.clear();
                pk.pick(&PeerHas::All, 16, &no, &mut out);
                for p in out
                    .iter()
                    .map(|b| b.piece)
                    .collect::<std::collections::BTreeSet<_>>()
                {
                    pk.piece_failed(p);
                }
                black_box(out.len())
            })
        });
        let mut rng = StdRng::seed_from_u64(1);
        g.bench_function(BenchmarkId::new("peer_have", pieces), |b| {
            b.iter(|| {
                let p = PieceIndex::new_unchecked(rng.gen_range(0..pieces));
                pk.peer_have(p);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
