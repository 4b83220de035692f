//! Files past 4 GiB, on every disk backend: what a 32-bit Pi (armv7) must
//! get right. scripts/cross-smoke.sh runs this file under qemu-arm.
//!
//! A sparse 6 GiB file and a small one after it: the last piece (16 MiB
//! pieces) holds the big file's tail and the whole small file, so it lies
//! past 6 GiB in the address space and past 6 GiB in the big file. The
//! piece is written block by block, as a download does, read back through
//! the storage, through a fresh storage in seeding mode, and checked on disk
//! with plain positioned reads: the bytes must be at their 64-bit offset and
//! nowhere else (a 32-bit truncation would put them 4 GiB lower, where the
//! file must still read as zeros).

use std::os::unix::fs::FileExt;
use std::path::Path;

use piece_core::layout::{Layout, LayoutFile};
use piece_core::storage::{MmapOptions, MmapStorage, OpenMode, PreadStorage, Storage};
use piece_core::{Lengths, PieceIndex, BLOCK_SIZE};

const GIB: u64 = 1 << 30;
const PIECE: u64 = 16 << 20;
const BIG: u64 = 6 * GIB + (20 << 20) + 7;
const SMALL: u64 = 100_000;

fn layout() -> Layout {
    let files = vec![
        LayoutFile {
            path: "big.bin".into(),
            length: BIG,
            offset: 0,
            pad: false,
        },
        LayoutFile {
            path: "after.bin".into(),
            length: SMALL,
            offset: BIG,
            pad: false,
        },
    ];
    Layout::new(Lengths::new(BIG + SMALL, PIECE).unwrap(), files).unwrap()
}

/// Deterministic bytes that differ at every offset that matters.
fn data(n: usize, seed: u32) -> Vec<u8> {
    use rand::{RngCore, SeedableRng};
    let mut b = vec![0u8; n];
    rand::rngs::StdRng::seed_from_u64(seed.into()).fill_bytes(&mut b);
    b
}

fn last_piece(l: &Layout) -> PieceIndex {
    let n = l.lengths().num_pieces();
    l.lengths().piece(n - 1).unwrap()
}

fn read_at(path: &Path, off: u64, len: usize) -> Vec<u8> {
    let f = std::fs::File::open(path).unwrap();
    let mut b = vec![0u8; len];
    f.read_exact_at(&mut b, off).unwrap();
    b
}

type Open = fn(&Path, Layout, OpenMode) -> Box<dyn Storage>;

fn backends() -> Vec<(&'static str, Open)> {
    vec![
        ("mmap", |d, l, m| {
            Box::new(MmapStorage::open(d, l, m).unwrap())
        }),
        ("mmap-small-windows", |d, l, m| {
            let opts = MmapOptions {
                max_handles: 4,
                max_maps: 2,
                window: 1 << 20,
                ..Default::default()
            };
            Box::new(MmapStorage::with_options(d, l, m, opts).unwrap())
        }),
        ("pread", |d, l, m| {
            Box::new(PreadStorage::open(d, l, m).unwrap())
        }),
    ]
}

#[test]
fn last_piece_of_a_6_gib_file_lands_at_its_64_bit_offset() {
    let l = layout();
    let p = last_piece(&l);
    let plen = l.lengths().piece_len(p) as usize;
    let start = l.lengths().piece_offset(p);
    assert_eq!(l.lengths().num_pieces(), 386);
    assert!(start > 6 * GIB && start < BIG);
    let want = data(plen, p.get());
    let in_big = (BIG - start) as usize;

    for (name, open) in backends() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        {
            let s = open(dir, l.clone(), OpenMode::Create);
            for (i, block) in want.chunks(BLOCK_SIZE as usize).enumerate() {
                s.write(p, i as u32 * BLOCK_SIZE, block)
                    .unwrap_or_else(|e| panic!("{name}: write block {i}: {e}"));
            }
            s.flush().unwrap();
            let mut got = Vec::new();
            s.read_piece(p, &mut got).unwrap();
            assert!(got == want, "{name}: read back differs");
        }
        let big = dir.join("big.bin");
        assert_eq!(std::fs::metadata(&big).unwrap().len(), BIG, "{name}");
        assert!(
            read_at(&big, start, in_big) == want[..in_big],
            "{name}: the piece is not at offset {start} of big.bin"
        );
        // 4 GiB lower is a hole: a truncated offset would have written there.
        let alias = start - 4 * GIB;
        assert!(
            read_at(&big, alias, in_big).iter().all(|&b| b == 0),
            "{name}: data landed at offset {alias} (the 64-bit offset truncated to 32 bits)"
        );
        assert!(
            read_at(&dir.join("after.bin"), 0, SMALL as usize) == want[in_big..],
            "{name}: after.bin differs"
        );
        // Seeding: a fresh storage over the existing files reads it back,
        // and a piece in the middle of the hole reads as zeros.
        let s = open(dir, l.clone(), OpenMode::Existing);
        let mut got = Vec::new();
        s.read_piece(p, &mut got).unwrap();
        assert!(got == want, "{name}: seeding read differs");
        let mid = l.lengths().piece(300).unwrap();
        s.read_piece(mid, &mut got).unwrap();
        assert!(got.iter().all(|&b| b == 0), "{name}: hole not zero");
    }
}

#[test]
fn geometry_past_4_gib_is_exact() {
    let l = layout();
    let p = last_piece(&l);
    assert_eq!(l.lengths().piece_offset(p), 385 * PIECE);
    assert_eq!(
        l.lengths().piece_len(p) as u64,
        BIG + SMALL - 385 * PIECE,
        "short last piece"
    );
    let slices: Vec<_> = l.slices(p, 0, l.lengths().piece_len(p) as usize).collect();
    assert_eq!(slices.len(), 2);
    assert_eq!(slices[0].file_offset, 385 * PIECE);
    assert_eq!((slices[1].file, slices[1].file_offset), (1, 0));
    // Sizes that do not fit are refused, not wrapped.
    assert!(Lengths::new(u64::MAX, PIECE).is_err());
    assert!(Lengths::new(PIECE * (1 << 25) + 1, PIECE).is_err());
}

/// On 32-bit a file past the address space cannot live in memory: the
/// in-memory backend says so instead of truncating the length (which
/// panicked, or would have aliased offsets).
#[cfg(target_pointer_width = "32")]
#[test]
fn memory_storage_refuses_a_file_larger_than_memory() {
    use piece_core::storage::{MemoryStorage, StorageError};
    let l = layout();
    let s = MemoryStorage::new(l.clone());
    let p = last_piece(&l);
    match s.write(p, 0, &[1u8; 100]) {
        Err(StorageError::Io { source, .. }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::OutOfMemory)
        }
        other => panic!("expected an out-of-memory error, got {other:?}"),
    }
    assert!(s.file_contents(0).is_none());
}
