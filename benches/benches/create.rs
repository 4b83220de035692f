//! `create_torrent` throughput (hybrid, every core) on generated data under
//! /tmp: one 64 MiB file and a 400-file folder (~64 MiB), warm page cache.
//! The full-size side-by-side against mktorrent and libtorrent (1 GiB file,
//! 2,000-file library) is benches/scripts/create-compare.sh.

use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use piece_core::create::{create_torrent, CreateOptions};
use piece_core::metainfo::Version;

fn fill(path: &Path, len: usize, seed: u64) {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let v: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(path, v).unwrap();
}

fn setup() -> (tempfile::TempDir, PathBuf, PathBuf, u64, u64) {
    let tmp = tempfile::tempdir_in("/tmp").unwrap();
    let single = tmp.path().join("single.bin");
    fill(&single, 64 << 20, 1);
    let dir = tmp.path().join("lib");
    let mut total = 0u64;
    for i in 0..400u64 {
        let d = dir.join(format!("vol-{:02}", i % 8));
        std::fs::create_dir_all(&d).unwrap();
        let len = 20_000 + (i * 7919 % 300_000);
        fill(&d.join(format!("zine-{i:04}.pdf")), len as usize, i);
        total += len;
    }
    (tmp, single, dir, 64 << 20, total)
}

fn bench(c: &mut Criterion) {
    let (_tmp, single, dir, single_len, dir_len) = setup();
    for (label, path, len) in [
        ("file64MiB", &single, single_len),
        ("folder400", &dir, dir_len),
    ] {
        let mut g = c.benchmark_group(format!("create/{label}"));
        g.sample_size(10);
        g.throughput(Throughput::Bytes(len));
        for v in [Version::V1, Version::Hybrid] {
            let o = CreateOptions {
                version: v,
                piece_length: Some(256 * 1024),
                ..Default::default()
            };
            g.bench_function(format!("{v:?}"), |b| {
                b.iter(|| create_torrent(path, &o, None).unwrap())
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
