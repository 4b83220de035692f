//! Storage backends: mmap vs pread, 16 KiB blocks on a 64 MiB file under
//! the system temp dir: sequential write, sequential read and random-order
//! read. Compare the backends side by side in one run (report ratios).
//!
//! `cargo bench -p swarm-benches --bench storage -- --warm-up-time 1 --measurement-time 3`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use piece_core::layout::Layout;
use piece_core::storage::{MmapStorage, OpenMode, PreadStorage, Storage};
use piece_core::BLOCK_SIZE;
use rand::seq::SliceRandom;
use rand::SeedableRng;

const FILE: u64 = 64 << 20;
const PIECE: u64 = 1 << 20;

/// Every 16 KiB block of the file as (piece, offset).
fn blocks(l: &Layout) -> Vec<(piece_core::PieceIndex, u32)> {
    l.lengths()
        .pieces()
        .flat_map(|p| l.blocks(p).map(move |b| (p, b.offset)))
        .collect()
}

fn backends(dir: &std::path::Path) -> Vec<(&'static str, Box<dyn Storage>)> {
    let l = Layout::single("data.bin", FILE, PIECE).unwrap();
    vec![
        (
            "mmap",
            Box::new(MmapStorage::open(dir.join("m"), l.clone(), OpenMode::Create).unwrap()),
        ),
        (
            "pread",
            Box::new(PreadStorage::open(dir.join("p"), l, OpenMode::Create).unwrap()),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let stores = backends(dir.path());
    let block: Vec<u8> = (0..BLOCK_SIZE).map(|i| (i * 7) as u8).collect();
    let order = blocks(stores[0].1.layout());
    let mut shuffled = order.clone();
    shuffled.shuffle(&mut rand::rngs::StdRng::seed_from_u64(42));

    let mut g = c.benchmark_group("storage");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(FILE));
    for (name, s) in &stores {
        g.bench_function(BenchmarkId::new("seq_write_16k", name), |b| {
            b.iter(|| {
                for &(p, o) in &order {
                    s.write(p, o, &block).unwrap();
                }
            })
        });
    }
    for (_, s) in &stores {
        s.flush().unwrap();
    }
    let mut buf = vec![0u8; BLOCK_SIZE as usize];
    for (name, s) in &stores {
        g.bench_function(BenchmarkId::new("seq_read_16k", name), |b| {
            b.iter(|| {
                for &(p, o) in &order {
                    s.read(p, o, &mut buf).unwrap();
                }
                buf[0]
            })
        });
    }
    for (name, s) in &stores {
        g.bench_function(BenchmarkId::new("random_read_16k", name), |b| {
            b.iter(|| {
                for &(p, o) in &shuffled {
                    s.read(p, o, &mut buf).unwrap();
                }
                buf[0]
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
