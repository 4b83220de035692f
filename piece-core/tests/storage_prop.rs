//! Property tests: random layouts (empty files, files crossing pieces,
//! hybrid-style padding) and random writes/reads on every backend, checked
//! against a reference model that is one big `Vec<u8>` of the address space
//! (padding stays zero).

use piece_core::layout::{Layout, LayoutFile};
use piece_core::storage::{
    MemoryStorage, MmapOptions, MmapStorage, OpenMode, PreadStorage, Storage,
};
use piece_core::Lengths;
use proptest::prelude::*;

const P: u64 = 16 * 1024;

/// A file: (length, pad the following gap to the next piece boundary).
fn arb_files() -> impl Strategy<Value = Vec<(u64, bool)>> {
    prop::collection::vec(
        (
            prop_oneof![
                Just(0u64),
                Just(1),
                Just(P - 1),
                Just(P),
                Just(P + 1),
                0..3 * P
            ],
            any::<bool>(),
        ),
        1..6,
    )
}

fn build(files: &[(u64, bool)]) -> Layout {
    let mut out = vec![];
    let mut off = 0u64;
    for (i, &(len, pad)) in files.iter().enumerate() {
        out.push(LayoutFile {
            path: format!("d{}/f{i}", i % 2).into(),
            length: len,
            offset: off,
            pad: false,
        });
        off += len;
        let gap = (P - off % P) % P;
        if pad && gap > 0 && i + 1 < files.len() {
            out.push(LayoutFile {
                path: "".into(),
                length: gap,
                offset: off,
                pad: true,
            });
            off += gap;
        }
    }
    Layout::new(Lengths::new(off, P).unwrap(), out).unwrap()
}

/// An operation at a fraction of the address space: (start, len, write?, seed).
fn arb_ops() -> impl Strategy<Value = Vec<(f64, u32, bool, u8)>> {
    prop::collection::vec(
        (
            0.0f64..1.0,
            0u32..(2 * P as u32),
            any::<bool>(),
            any::<u8>(),
        ),
        1..25,
    )
}

fn run(s: &dyn Storage, ops: &[(f64, u32, bool, u8)]) -> Result<(), TestCaseError> {
    let l = s.layout().clone();
    let total = l.lengths().total();
    let mut model = vec![0u8; total as usize];
    if total == 0 {
        return Ok(());
    }
    for &(frac, len, write, seed) in ops {
        let start = ((total as f64 * frac) as u64).min(total - 1);
        let p = l.lengths().piece((start / P) as u32).unwrap();
        let off = (start % P) as u32;
        let room = l.lengths().piece_len(p) - off;
        let len = len.min(room) as usize;
        if write {
            let data: Vec<u8> = (0..len).map(|i| seed.wrapping_add(i as u8) | 1).collect();
            s.write(p, off, &data).unwrap();
            for sl in l.slices(p, off, len) {
                if !sl.pad {
                    let a = (start as usize) + sl.buf_offset;
                    model[a..a + sl.len]
                        .copy_from_slice(&data[sl.buf_offset..sl.buf_offset + sl.len]);
                }
            }
        } else {
            let mut buf = vec![0xAAu8; len];
            s.read(p, off, &mut buf).unwrap();
            prop_assert_eq!(&buf[..], &model[start as usize..start as usize + len]);
        }
        // Ranges past the piece end are refused.
        let mut b = vec![0u8; room as usize + 1];
        prop_assert!(s.read(p, off, &mut b).is_err());
    }
    let mut buf = vec![];
    for p in l.lengths().pieces() {
        s.read_piece(p, &mut buf).unwrap();
        let o = l.lengths().piece_offset(p) as usize;
        prop_assert_eq!(&buf[..], &model[o..o + buf.len()]);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn backends_match_reference_model(files in arb_files(), ops in arb_ops()) {
        let l = build(&files);
        run(&MemoryStorage::new(l.clone()), &ops)?;
        let dir = tempfile::tempdir().unwrap();
        let o = MmapOptions { max_handles: 2, max_maps: 2, window: 8192, ..Default::default() };
        run(&MmapStorage::with_options(dir.path().join("m"), l.clone(), OpenMode::Create, o).unwrap(), &ops)?;
        run(&PreadStorage::with_max_handles(dir.path().join("p"), l.clone(), OpenMode::Create, 2).unwrap(), &ops)?;
    }

    #[test]
    fn slices_tile_the_range(files in arb_files(), frac in 0.0f64..1.0, len in 0u32..(2 * P as u32)) {
        let l = build(&files);
        let total = l.lengths().total();
        prop_assume!(total > 0);
        let start = ((total as f64 * frac) as u64).min(total - 1);
        let p = l.lengths().piece((start / P) as u32).unwrap();
        let off = (start % P) as u32;
        let len = len.min(l.lengths().piece_len(p) - off) as usize;
        let mut pos = 0usize;
        for s in l.slices(p, off, len) {
            prop_assert_eq!(s.buf_offset, pos);
            prop_assert!(s.len > 0);
            let f = &l.files()[s.file];
            prop_assert_eq!(f.offset + s.file_offset, start + pos as u64);
            prop_assert!(s.file_offset + s.len as u64 <= f.length);
            pos += s.len;
        }
        prop_assert_eq!(pos, len);
    }
}
