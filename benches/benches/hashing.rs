//! SHA-1 / SHA-256 throughput on one core: 16 KiB blocks and 1 MiB pieces,
//! plus the v2 piece node (leaves + subtree) and a v1 piece verify.
//! Compare with `openssl speed -evp sha1 -bytes 16384` (see
//! benches/scripts/hash-compare.sh).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use piece_core::hash::{block_leaf, piece_root_v2, sha1_piece};

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 131 % 251) as u8).collect()
}

fn bench(c: &mut Criterion) {
    for (label, len) in [("16KiB", 16 * 1024), ("1MiB", 1 << 20)] {
        let d = data(len);
        let mut g = c.benchmark_group(format!("hash/{label}"));
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_function("sha1", |b| b.iter(|| sha1_piece(black_box(&d))));
        g.bench_function("sha256", |b| b.iter(|| block_leaf(black_box(&d))));
        if len > 16 * 1024 {
            g.bench_function("v2_piece_root", |b| {
                b.iter(|| piece_root_v2(black_box(&d), len as u32))
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
