//! The storage suite, run on every backend, plus backend-specific tests
//! (symlinks, files truncated under a mapping, injected faults).

use std::path::{Path, PathBuf};

use piece_core::layout::{Layout, LayoutFile};
use piece_core::storage::{
    FaultConfig, FaultStorage, MemoryStorage, MmapOptions, MmapStorage, OpenMode, PreadStorage,
    Storage, StorageError,
};
use piece_core::{Lengths, PieceIndex};

const P: u64 = 32 * 1024;

fn lf(path: &str, offset: u64, length: u64, pad: bool) -> LayoutFile {
    LayoutFile {
        path: path.into(),
        length,
        offset,
        pad,
    }
}

/// Builds a layout from `(path, len, pad)` entries.
fn layout(entries: &[(&str, u64, bool)]) -> Layout {
    let mut off = 0;
    let mut files = vec![];
    for &(p, len, pad) in entries {
        files.push(lf(p, off, len, pad));
        off += len;
    }
    Layout::new(Lengths::new(off, P).unwrap(), files).unwrap()
}

fn layouts() -> Vec<(&'static str, Layout)> {
    vec![
        ("size0", layout(&[("f", 0, false)])),
        ("size1", layout(&[("f", 1, false)])),
        ("piece-1", layout(&[("f", P - 1, false)])),
        ("piece", layout(&[("f", P, false)])),
        ("piece+1", layout(&[("f", P + 1, false)])),
        ("short-last", layout(&[("d/f", 3 * P + 100, false)])),
        (
            "multi",
            layout(&[
                ("a", 30000, false),
                ("empty1", 0, false),
                ("sub/b", 70000, false),
                ("sub/deeper/empty2", 0, false),
                ("c", 1, false),
                ("d", P, false),
            ]),
        ),
        (
            "padded",
            layout(&[
                ("x/a", 20000, false),
                ("", P - 20000, true),
                ("x/empty", 0, false),
                ("x/b", P + 100, false),
                ("", P - 100, true),
                ("x/c", 5, false),
            ]),
        ),
    ]
}

/// The expected content of the address space: a pattern in real files,
/// zeros in padding.
fn model(l: &Layout, salt: u8) -> Vec<u8> {
    let mut v = vec![0u8; l.lengths().total() as usize];
    for f in l.files() {
        if !f.pad {
            for a in f.offset..f.end() {
                v[a as usize] = (a.wrapping_mul(31) as u8) ^ salt ^ ((a >> 8) as u8);
            }
        }
    }
    v
}

type Make = dyn Fn(&Path, Layout) -> Box<dyn Storage>;

fn backends() -> Vec<(&'static str, Box<Make>)> {
    vec![
        (
            "mmap",
            Box::new(|r: &Path, l| {
                Box::new(MmapStorage::open(r, l, OpenMode::Create).unwrap()) as Box<dyn Storage>
            }),
        ),
        (
            "mmap-small-windows",
            Box::new(|r: &Path, l| {
                let o = MmapOptions {
                    max_handles: 2,
                    max_maps: 2,
                    window: 4096,
                    ..Default::default()
                };
                Box::new(MmapStorage::with_options(r, l, OpenMode::Create, o).unwrap())
                    as Box<dyn Storage>
            }),
        ),
        (
            "pread",
            Box::new(|r: &Path, l| {
                Box::new(PreadStorage::open(r, l, OpenMode::Create).unwrap()) as Box<dyn Storage>
            }),
        ),
        (
            "pread-1-handle",
            Box::new(|r: &Path, l| {
                Box::new(PreadStorage::with_max_handles(r, l, OpenMode::Create, 1).unwrap())
                    as Box<dyn Storage>
            }),
        ),
        (
            "memory",
            Box::new(|_: &Path, l| Box::new(MemoryStorage::new(l)) as Box<dyn Storage>),
        ),
        (
            "fault(mmap)",
            Box::new(|r: &Path, l| {
                Box::new(FaultStorage::new(
                    MmapStorage::open(r, l, OpenMode::Create).unwrap(),
                )) as Box<dyn Storage>
            }),
        ),
    ]
}

fn piece(l: &Layout, i: u32) -> PieceIndex {
    l.lengths().piece(i).unwrap()
}

/// Writes the model in chunks of `chunk` bytes (crossing file boundaries)
/// with garbage in padding, which must be dropped.
fn write_all(s: &dyn Storage, m: &[u8], chunk: usize) {
    let l = s.layout().clone();
    for p in l.lengths().pieces() {
        let start = l.lengths().piece_offset(p) as usize;
        let plen = l.lengths().piece_len(p) as usize;
        let mut data = m[start..start + plen].to_vec();
        for sl in l.slices(p, 0, plen) {
            if sl.pad {
                data[sl.buf_offset..sl.buf_offset + sl.len].fill(0xEE);
            }
        }
        let mut off = 0;
        while off < plen {
            let n = chunk.min(plen - off);
            s.write(p, off as u32, &data[off..off + n]).unwrap();
            off += n;
        }
    }
}

fn check_suite(name: &str, make: &Make, lname: &str, l: &Layout) {
    let ctx = format!("{name}/{lname}");
    let dir = tempfile::tempdir().unwrap();
    let s = make(dir.path(), l.clone());
    let m = model(l, 7);

    // Unwritten data reads as zeros (nothing on disk yet).
    for p in l.lengths().pieces() {
        let mut buf = vec![];
        s.read_piece(p, &mut buf).unwrap();
        assert!(
            buf.iter().all(|&b| b == 0),
            "{ctx}: fresh piece {p} not zero"
        );
    }

    write_all(&*s, &m, 5000);
    s.flush().unwrap();

    // Whole pieces read back.
    for p in l.lengths().pieces() {
        let start = l.lengths().piece_offset(p) as usize;
        let mut buf = vec![];
        s.read_piece(p, &mut buf).unwrap();
        assert_eq!(buf, m[start..start + buf.len()], "{ctx}: piece {p}");
    }
    // Odd sub-ranges read back, including one-byte reads at every file edge.
    for f in l.files() {
        for a in [f.offset, f.end().saturating_sub(1), f.end()] {
            if a >= l.lengths().total() {
                continue;
            }
            let p = piece(l, (a / P) as u32);
            let mut b = [9u8; 1];
            s.read(p, (a % P) as u32, &mut b).unwrap();
            assert_eq!(b[0], m[a as usize], "{ctx}: byte {a}");
        }
    }
    // Padding reads as zeros.
    for f in l.files().iter().filter(|f| f.pad && f.length > 0) {
        let p = piece(l, (f.offset / P) as u32);
        let mut b = vec![1u8; f.length as usize];
        s.read(p, (f.offset % P) as u32, &mut b).unwrap();
        assert!(b.iter().all(|&x| x == 0), "{ctx}: padding not zero");
    }

    // Out of range is an error, never a panic.
    let n = l.lengths().num_pieces();
    let mut b = [0u8; 4];
    assert!(
        matches!(
            s.read(PieceIndex::new_unchecked(n), 0, &mut b),
            Err(StorageError::OutOfBounds)
        ),
        "{ctx}"
    );
    assert!(
        matches!(
            s.write(PieceIndex::new_unchecked(n), 0, &b),
            Err(StorageError::OutOfBounds)
        ),
        "{ctx}"
    );
    if n > 0 {
        let last = piece(l, n - 1);
        let plen = l.lengths().piece_len(last);
        assert!(
            matches!(
                s.read(last, plen - 1, &mut b),
                Err(StorageError::OutOfBounds)
            ),
            "{ctx}"
        );
        assert!(
            matches!(s.write(last, u32::MAX, &b), Err(StorageError::OutOfBounds)),
            "{ctx}"
        );
        assert!(
            matches!(s.read(last, plen, &mut []), Ok(())),
            "{ctx}: empty read at end"
        );
    }

    // Every real file exists (empty ones too) with its length; no padding file.
    s.ensure_files().unwrap();
    let states = s.check_files();
    assert_eq!(states.len(), l.real_files().count(), "{ctx}");
    for st in &states {
        let f = &l.files()[st.index];
        assert!(st.exists, "{ctx}: {:?} missing", f.path);
        assert_eq!(st.size, f.length, "{ctx}");
    }
    if name != "memory" {
        for (i, f) in l.real_files() {
            let on_disk = std::fs::read(dir.path().join(&f.path)).unwrap();
            assert_eq!(
                on_disk,
                m[f.offset as usize..f.end() as usize],
                "{ctx}: file {i} on disk"
            );
            assert_eq!(s.file_path(i).unwrap(), dir.path().join(&f.path));
            assert!(st_mtime_known(&states, i), "{ctx}: mtime");
        }
        let entries = count_files(dir.path());
        assert_eq!(
            entries,
            l.real_files().count(),
            "{ctx}: stray files on disk"
        );
    }
}

fn st_mtime_known(states: &[piece_core::storage::FileState], i: usize) -> bool {
    states.iter().any(|s| s.index == i && s.mtime.is_some())
}

fn count_files(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            n += count_files(&e.path());
        } else {
            n += 1;
        }
    }
    n
}

#[test]
fn suite_on_every_backend() {
    for (name, make) in backends() {
        for (lname, l) in layouts() {
            check_suite(name, &*make, lname, &l);
        }
    }
}

#[test]
fn reopen_existing_reads_data_and_missing_is_an_error() {
    let l = layout(&[("a", 40000, false), ("e", 0, false), ("b/c", 50000, false)]);
    let m = model(&l, 3);
    let dir = tempfile::tempdir().unwrap();
    {
        let s = MmapStorage::open(dir.path(), l.clone(), OpenMode::Create).unwrap();
        write_all(&s, &m, 16384);
        s.ensure_files().unwrap();
        s.flush().unwrap();
    }
    let seeds: Vec<Box<dyn Storage>> = vec![
        Box::new(MmapStorage::open(dir.path(), l.clone(), OpenMode::Existing).unwrap()),
        Box::new(PreadStorage::open(dir.path(), l.clone(), OpenMode::Existing).unwrap()),
    ];
    for s in &seeds {
        s.ensure_files().unwrap();
        let mut buf = vec![];
        for p in l.lengths().pieces() {
            s.read_piece(p, &mut buf).unwrap();
            let o = l.lengths().piece_offset(p) as usize;
            assert_eq!(buf, m[o..o + buf.len()]);
        }
    }
    std::fs::remove_file(dir.path().join("b/c")).unwrap();
    for s in [
        Box::new(MmapStorage::open(dir.path(), l.clone(), OpenMode::Existing).unwrap())
            as Box<dyn Storage>,
        Box::new(PreadStorage::open(dir.path(), l.clone(), OpenMode::Existing).unwrap()),
    ] {
        let mut buf = vec![0; 100];
        let e = s.read(piece(&l, 2), 0, &mut buf).unwrap_err();
        assert!(
            matches!(e, StorageError::Io { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound),
            "{e}"
        );
        assert!(e.to_string().contains("b/c"), "{e}");
        assert!(s.ensure_files().is_err());
        // Existing mode never creates anything.
        assert!(s.write(piece(&l, 2), 0, &buf).is_err());
        assert!(!dir.path().join("b/c").exists());
        let st = s.check_files();
        assert!(!st[2].exists && st[0].exists && st[1].exists);
    }
}

#[test]
fn create_mode_reads_missing_as_zeros_without_creating() {
    let l = layout(&[("d/a", 1000, false)]);
    let dir = tempfile::tempdir().unwrap();
    for s in [
        Box::new(MmapStorage::open(dir.path(), l.clone(), OpenMode::Create).unwrap())
            as Box<dyn Storage>,
        Box::new(PreadStorage::open(dir.path(), l.clone(), OpenMode::Create).unwrap()),
    ] {
        let mut b = vec![5u8; 1000];
        s.read(piece(&l, 0), 0, &mut b).unwrap();
        assert!(b.iter().all(|&x| x == 0));
        assert!(!dir.path().join("d").exists());
        assert!(!s.check_files()[0].exists);
    }
}

#[test]
fn files_are_sparse_and_sized_on_first_write() {
    let big = 64 << 20;
    let l = layout(&[("big", big, false)]);
    let dir = tempfile::tempdir().unwrap();
    let s = MmapStorage::open(dir.path(), l.clone(), OpenMode::Create).unwrap();
    s.write(piece(&l, 5), 0, &[1u8; 100]).unwrap();
    s.flush().unwrap();
    let md = std::fs::metadata(dir.path().join("big")).unwrap();
    assert_eq!(md.len(), big);
    use std::os::unix::fs::MetadataExt;
    assert!(
        md.blocks() * 512 < big / 4,
        "file is not sparse: {} blocks",
        md.blocks()
    );
}

#[cfg(unix)]
mod symlinks {
    use super::*;
    use std::os::unix::fs::symlink;

    fn disk_backends(root: &Path, l: &Layout) -> Vec<Box<dyn Storage>> {
        vec![
            Box::new(MmapStorage::open(root, l.clone(), OpenMode::Create).unwrap()),
            Box::new(PreadStorage::open(root, l.clone(), OpenMode::Create).unwrap()),
        ]
    }

    #[test]
    fn symlinked_directory_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        symlink(outside.path(), root.path().join("dir")).unwrap();
        let l = layout(&[("dir/evil", 100, false)]);
        for s in disk_backends(root.path(), &l) {
            let e = s.write(piece(&l, 0), 0, &[1u8; 100]).unwrap_err();
            assert!(matches!(e, StorageError::UnsafePath { .. }), "{e}");
            assert!(s.ensure_files().is_err());
            let mut b = [0u8; 10];
            assert!(matches!(
                s.read(piece(&l, 0), 0, &mut b),
                Err(StorageError::UnsafePath { .. })
            ));
            assert!(!s.check_files()[0].exists);
        }
        assert_eq!(
            std::fs::read_dir(outside.path()).unwrap().count(),
            0,
            "wrote outside the root"
        );
    }

    #[test]
    fn symlinked_file_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("victim");
        std::fs::write(&target, b"precious").unwrap();
        std::fs::create_dir(root.path().join("d")).unwrap();
        symlink(&target, root.path().join("d/f")).unwrap();
        let l = layout(&[("d/f", 100, false)]);
        for s in disk_backends(root.path(), &l) {
            let e = s.write(piece(&l, 0), 0, &[1u8; 100]).unwrap_err();
            assert!(matches!(e, StorageError::UnsafePath { .. }), "{e}");
            assert!(e.to_string().contains("symlink"));
        }
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");
    }

    #[test]
    fn symlink_deep_in_the_tree_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("a/b")).unwrap();
        symlink(outside.path(), root.path().join("a/b/c")).unwrap();
        let l = layout(&[("a/b/c/d/e", 10, false)]);
        for s in disk_backends(root.path(), &l) {
            assert!(matches!(
                s.write(piece(&l, 0), 0, &[1u8; 10]),
                Err(StorageError::UnsafePath { .. })
            ));
        }
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }

    #[test]
    fn symlinked_root_is_allowed() {
        let real = tempfile::tempdir().unwrap();
        let links = tempfile::tempdir().unwrap();
        let root = links.path().join("root");
        symlink(real.path(), &root).unwrap();
        let l = layout(&[("x/y", 10, false)]);
        for s in disk_backends(&root, &l) {
            s.write(piece(&l, 0), 0, &[2u8; 10]).unwrap();
        }
        assert_eq!(std::fs::read(real.path().join("x/y")).unwrap(), [2u8; 10]);
    }
}

/// A file truncated under a live mapping: error, not SIGBUS.
#[test]
fn mmap_truncated_under_mapping_is_an_error() {
    let l = layout(&[("t", 16 * P, false)]);
    let m = model(&l, 1);
    let dir = tempfile::tempdir().unwrap();
    let s = FaultStorage::new(MmapStorage::open(dir.path(), l.clone(), OpenMode::Create).unwrap());
    write_all(&s, &m, 16384);
    let mut buf = vec![];
    s.read_piece(piece(&l, 10), &mut buf).unwrap(); // mapped now
    assert_eq!(s.inner().mapped_windows(), 1);

    s.truncate_file(0, 4096).unwrap();
    // Within the file's first page: still fine.
    let mut b = vec![0u8; 100];
    s.read(piece(&l, 0), 0, &mut b).unwrap();
    assert_eq!(b, m[..100]);
    // Past the new end: FileChanged, and the process is alive.
    let e = s.read(piece(&l, 10), 0, &mut b).unwrap_err();
    match &e {
        StorageError::FileChanged {
            path,
            expected,
            found,
        } => {
            assert_eq!(path, &dir.path().join("t"));
            assert_eq!(*expected, 16 * P);
            assert_eq!(*found, 4096);
        }
        e => panic!("unexpected {e}"),
    }
    assert!(e.to_string().contains("changed size"));
    // The broken window is gone; later accesses keep failing cleanly.
    assert!(matches!(
        s.read(piece(&l, 12), 0, &mut b),
        Err(StorageError::FileChanged { .. })
    ));
    assert!(matches!(
        s.write(piece(&l, 3), 0, &b),
        Err(StorageError::FileChanged { .. })
    ));
    // The file was not re-extended behind the user's back.
    assert_eq!(std::fs::metadata(dir.path().join("t")).unwrap().len(), 4096);
}

#[test]
fn mmap_write_into_truncated_mapping_is_an_error() {
    let l = layout(&[("t", 8 * P, false)]);
    let dir = tempfile::tempdir().unwrap();
    let s = FaultStorage::new(MmapStorage::open(dir.path(), l.clone(), OpenMode::Create).unwrap());
    s.write(piece(&l, 0), 0, &[1u8; 100]).unwrap(); // maps the whole file
    s.truncate_file(0, 0).unwrap();
    let e = s.write(piece(&l, 6), 0, &[7u8; 16384]).unwrap_err();
    assert!(
        matches!(e, StorageError::FileChanged { found: 0, .. }),
        "{e}"
    );
    assert_eq!(std::fs::metadata(dir.path().join("t")).unwrap().len(), 0);
}

#[test]
fn truncated_before_open_is_caught_by_fstat() {
    let l = layout(&[("t", 4 * P, false)]);
    let dir = tempfile::tempdir().unwrap();
    {
        let s = MmapStorage::open(dir.path(), l.clone(), OpenMode::Create).unwrap();
        s.ensure_files().unwrap();
    }
    std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join("t"))
        .unwrap()
        .set_len(P)
        .unwrap();
    for s in [
        Box::new(MmapStorage::open(dir.path(), l.clone(), OpenMode::Existing).unwrap())
            as Box<dyn Storage>,
        Box::new(PreadStorage::open(dir.path(), l.clone(), OpenMode::Existing).unwrap()),
    ] {
        let mut b = vec![0u8; 10];
        assert!(
            matches!(s.read(piece(&l, 2), 0, &mut b), Err(StorageError::FileChanged { found, .. }) if found == P)
        );
        assert!(matches!(
            s.write(piece(&l, 2), 0, &b),
            Err(StorageError::FileChanged { .. })
        ));
        assert!(s.ensure_files().is_err());
    }
}

#[test]
fn enospc_maps_to_no_space_with_path() {
    let l = layout(&[("a", 10000, false), ("dir/b", 90000, false)]);
    let m = model(&l, 9);
    let dir = tempfile::tempdir().unwrap();
    let s = FaultStorage::with_config(
        PreadStorage::open(dir.path(), l.clone(), OpenMode::Create).unwrap(),
        FaultConfig {
            enospc_after: Some(50000),
            ..Default::default()
        },
    );
    let mut err = None;
    'outer: for p in l.lengths().pieces() {
        let o = l.lengths().piece_offset(p) as usize;
        for b in l.blocks(p) {
            let start = o + b.offset as usize;
            if let Err(e) = s.write(p, b.offset, &m[start..start + b.len as usize]) {
                err = Some(e);
                break 'outer;
            }
        }
    }
    match err {
        Some(StorageError::NoSpace { path }) => assert_eq!(path, dir.path().join("dir/b")),
        other => panic!("expected NoSpace, got {other:?}"),
    }
    assert_eq!(s.bytes_written(), 50000);
    // Everything before the budget is intact.
    let mut b = vec![0u8; 50000 - P as usize];
    s.read(piece(&l, 1), 0, &mut b).unwrap();
    assert_eq!(b, m[P as usize..50000]);
    let e = StorageError::NoSpace { path: "x".into() };
    assert_eq!(e.to_string(), "disk full while writing x");
}

#[test]
fn eio_and_short_writes() {
    let l = layout(&[("a", 3 * P, false)]);
    let dir = tempfile::tempdir().unwrap();
    let s = FaultStorage::new(MmapStorage::open(dir.path(), l.clone(), OpenMode::Create).unwrap());
    s.write(piece(&l, 1), 0, &[3u8; 1000]).unwrap();
    s.configure(|c| c.eio_read.push(P + 500..P + 501));
    let mut b = vec![0u8; 1000];
    let e = s.read(piece(&l, 1), 0, &mut b).unwrap_err();
    match &e {
        StorageError::Io { source, path } => {
            assert_eq!(source.raw_os_error(), Some(libc::EIO));
            assert_eq!(path, &dir.path().join("a"));
        }
        e => panic!("{e}"),
    }
    s.read(piece(&l, 1), 501, &mut b[..499]).unwrap(); // next to the bad byte
    s.configure(|c| c.eio_write.push(0..10));
    assert!(matches!(
        s.write(piece(&l, 0), 5, &[1]),
        Err(StorageError::Io { .. })
    ));
    s.set_config(FaultConfig {
        short_next_write: Some(10),
        ..Default::default()
    });
    let e = s.write(piece(&l, 2), 0, &[9u8; 100]).unwrap_err();
    assert!(
        matches!(e, StorageError::Io { ref source, .. } if source.kind() == std::io::ErrorKind::WriteZero)
    );
    s.read(piece(&l, 2), 0, &mut b[..100]).unwrap();
    assert_eq!(&b[..10], &[9u8; 10]);
    assert_eq!(&b[10..100], &[0u8; 90]);
    // one shot
    s.write(piece(&l, 2), 0, &[9u8; 100]).unwrap();
}

#[test]
fn many_files_with_bounded_handles_and_maps() {
    let names: Vec<String> = (0..300).map(|i| format!("lib/{}/{i}.pdf", i % 7)).collect();
    let entries: Vec<(&str, u64, bool)> =
        names.iter().map(|n| (n.as_str(), 1000u64, false)).collect();
    let l = layout(&entries);
    let m = model(&l, 4);
    let dir = tempfile::tempdir().unwrap();
    let o = MmapOptions {
        max_handles: 16,
        max_maps: 8,
        ..Default::default()
    };
    let s = MmapStorage::with_options(dir.path(), l.clone(), OpenMode::Create, o).unwrap();
    write_all(&s, &m, 7000);
    assert!(s.mapped_windows() <= 8);
    s.flush().unwrap();
    let p = PreadStorage::with_max_handles(dir.path(), l.clone(), OpenMode::Existing, 4).unwrap();
    let mut buf = vec![];
    for q in l.lengths().pieces() {
        p.read_piece(q, &mut buf).unwrap();
        let o = l.lengths().piece_offset(q) as usize;
        assert_eq!(buf, m[o..o + buf.len()]);
    }
}

#[test]
fn concurrent_writers() {
    let l = layout(&[("a", 20 * P + 7, false), ("b", 3 * P, false)]);
    let m = model(&l, 5);
    let dir = tempfile::tempdir().unwrap();
    let s = MmapStorage::with_options(
        dir.path(),
        l.clone(),
        OpenMode::Create,
        MmapOptions {
            window: 3 * P as usize,
            max_maps: 3,
            ..Default::default()
        },
    )
    .unwrap();
    std::thread::scope(|sc| {
        for t in 0..4u32 {
            let (s, l, m) = (&s, &l, &m);
            sc.spawn(move || {
                for p in l.lengths().pieces().filter(|p| p.get() % 4 == t) {
                    let o = l.lengths().piece_offset(p) as usize;
                    let n = l.lengths().piece_len(p) as usize;
                    s.write(p, 0, &m[o..o + n]).unwrap();
                }
            });
        }
    });
    let mut buf = vec![];
    for p in l.lengths().pieces() {
        s.read_piece(p, &mut buf).unwrap();
        let o = l.lengths().piece_offset(p) as usize;
        assert_eq!(buf, m[o..o + buf.len()]);
    }
}

#[test]
fn check_files_sees_size_and_mtime_changes() {
    let l = layout(&[("a", 100, false), ("b", 0, false)]);
    let dir = tempfile::tempdir().unwrap();
    let s = PreadStorage::open(dir.path(), l.clone(), OpenMode::Create).unwrap();
    assert!(s.check_files().iter().all(|f| !f.exists));
    s.ensure_files().unwrap();
    let before = s.check_files();
    assert!(before.iter().all(|f| f.exists));
    assert_eq!(before[0].size, 100);
    assert_eq!(before[1].size, 0);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join("a"))
        .unwrap();
    f.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1000))
        .unwrap();
    f.set_len(50).unwrap();
    let after = s.check_files();
    assert_eq!(after[0].size, 50);
    assert_ne!(after[0].mtime, before[0].mtime);
    assert_eq!(after[1], before[1]);
    let _: PathBuf = after[0].path.clone();
}

/// A SIGBUS that is not in one of our mappings still kills the process (our
/// handler must not swallow other code's faults). Runs itself as a child.
#[cfg(unix)]
#[test]
fn foreign_sigbus_is_not_swallowed() {
    use std::os::unix::process::ExitStatusExt;
    if std::env::var_os("SWARM_SIGBUS_CHILD").is_some() {
        // SAFETY: plain syscall; no core file for the expected crash.
        unsafe {
            let lim = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &lim);
        }
        let dir = tempfile::tempdir().unwrap();
        let l = layout(&[("a", 100, false)]);
        let s = MmapStorage::open(dir.path(), l.clone(), OpenMode::Create).unwrap(); // installs the handler
        s.write(piece(&l, 0), 0, &[1u8; 100]).unwrap();
        let f = tempfile::tempfile().unwrap();
        f.set_len(3 * 4096).unwrap();
        // SAFETY: deliberately touching a mapping past the end of its file.
        let m = unsafe { memmap2::Mmap::map(&f).unwrap() };
        f.set_len(0).unwrap();
        let v = unsafe { std::ptr::read_volatile(m.as_ptr().add(2 * 4096)) };
        println!("survived with {v}");
        std::process::exit(0);
    }
    let st = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "foreign_sigbus_is_not_swallowed",
            "--test-threads=1",
        ])
        .env("SWARM_SIGBUS_CHILD", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert_eq!(st.signal(), Some(libc::SIGBUS), "child exited with {st:?}");
}

/// A real full filesystem: a 256 KiB tmpfs (needs root and mount(2); the
/// test is skipped when mounting is not possible).
#[cfg(target_os = "linux")]
#[test]
fn real_enospc_on_tiny_tmpfs() {
    struct Mount(PathBuf);
    impl Drop for Mount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(dir.path())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("skipping: cannot mount a tmpfs here");
        return;
    }
    let _m = Mount(dir.path().to_path_buf());
    let l = layout(&[("big", 2 << 20, false)]);
    let block = vec![0x5Au8; 16384];
    for (name, s) in [
        (
            "pread",
            Box::new(PreadStorage::open(dir.path().join("p"), l.clone(), OpenMode::Create).unwrap())
                as Box<dyn Storage>,
        ),
        (
            "mmap",
            Box::new(MmapStorage::open(dir.path().join("m"), l.clone(), OpenMode::Create).unwrap()),
        ),
    ] {
        let mut err = None;
        'w: for p in l.lengths().pieces() {
            for b in l.blocks(p) {
                if let Err(e) = s.write(p, b.offset, &block) {
                    err = Some(e);
                    break 'w;
                }
            }
        }
        match err {
            Some(StorageError::NoSpace { path }) => {
                assert!(path.ends_with("big"), "{name}: {path:?}")
            }
            other => panic!("{name}: expected NoSpace, got {other:?}"),
        }
        drop(s);
        let _ = std::fs::remove_dir_all(dir.path().join(name.chars().next().unwrap().to_string()));
    }
}
