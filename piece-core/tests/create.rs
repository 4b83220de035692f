//! Torrent creation round trips through the parser, and verification
//! (PieceHashes / verify_storage) of the created torrents' data, in every
//! version, on edge sizes.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use piece_core::create::{create_torrent, CreateError, CreateOptions};
use piece_core::hash::{verify_storage, PieceHashes};
use piece_core::metainfo::{Metainfo, Version};
use piece_core::storage::{FileState, Storage, StorageError};
use piece_core::types::PieceIndex;
use piece_core::Layout;

const PL: u32 = 32768;

/// A read-only Storage over files under `root`, following the layout.
struct DirStorage {
    root: PathBuf,
    layout: Layout,
}

impl Storage for DirStorage {
    fn layout(&self) -> &Layout {
        &self.layout
    }
    fn read(&self, piece: PieceIndex, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        for s in self.layout.slices(piece, offset, buf.len()) {
            let dst = &mut buf[s.buf_offset..s.buf_offset + s.len];
            if s.pad {
                dst.fill(0);
                continue;
            }
            let path = self.root.join(&self.layout.files()[s.file].path);
            let io = |source| StorageError::Io {
                path: path.clone(),
                source,
            };
            File::open(&path)
                .map_err(io)?
                .read_exact_at(dst, s.file_offset)
                .map_err(io)?;
        }
        Ok(())
    }
    fn write(&self, _: PieceIndex, _: u32, _: &[u8]) -> Result<(), StorageError> {
        Err(StorageError::OutOfBounds)
    }
    fn flush(&self) -> Result<(), StorageError> {
        Ok(())
    }
    fn check_files(&self) -> Vec<FileState> {
        Vec::new() // not used by verification
    }
}

fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn opts(v: Version) -> CreateOptions {
    CreateOptions {
        version: v,
        piece_length: Some(PL),
        threads: Some(3),
        ..Default::default()
    }
}

const VERSIONS: [Version; 3] = [Version::V1, Version::V2, Version::Hybrid];

/// Creates, parses back, checks the round trip, verifies all pieces, then
/// flips one byte of `flip` (a path under `parent`) and expects exactly the
/// piece(s) holding it to fail.
fn round_trip(parent: &Path, input: &Path, v: Version, expect_files: &[(&str, u64)], flip: &Path) {
    let made = create_torrent(input, &opts(v), None).unwrap();
    let meta = Metainfo::from_bytes(&made.bytes).unwrap();
    let what = format!("{} {v:?}", input.display());
    assert_eq!(meta.info_hashes, made.info_hashes, "{what}");
    assert_eq!(meta.info.version, v, "{what}");
    assert_eq!(meta.info.lengths.num_pieces(), made.num_pieces, "{what}");
    assert_eq!(meta.info.piece_length, PL, "{what}");
    let real: Vec<(String, u64)> = meta
        .info
        .files
        .iter()
        .filter(|f| !f.pad)
        .map(|f| (f.path.join("/"), f.length))
        .collect();
    let want: Vec<(String, u64)> = expect_files
        .iter()
        .map(|(p, l)| (p.to_string(), *l))
        .collect();
    assert_eq!(real, want, "{what}");
    let data: u64 = want.iter().map(|f| f.1).sum();
    assert!(meta.info.lengths.num_pieces() as u64 >= data.div_ceil(PL as u64));

    let hashes = PieceHashes::new(&meta).unwrap();
    let st = DirStorage {
        root: parent.to_path_buf(),
        layout: meta.info.layout.clone(),
    };
    let rep = verify_storage(&hashes, &st, 2, None);
    assert_eq!(rep.checked, made.num_pieces, "{what}");
    assert!(rep.failed.is_empty(), "{what}: {:?}", rep.failed);

    // flip the last byte of `flip`
    let mut b = std::fs::read(flip).unwrap();
    let last = b.len() - 1;
    b[last] ^= 0x40;
    std::fs::write(flip, &b).unwrap();
    let rep = verify_storage(&hashes, &st, 2, None);
    b[last] ^= 0x40;
    std::fs::write(flip, &b).unwrap();
    assert_eq!(rep.failed.len(), 1, "{what}: {:?}", rep.failed);
    // the failing piece is the one holding that byte
    let rel = flip.strip_prefix(parent).unwrap();
    let lf = meta
        .info
        .layout
        .files()
        .iter()
        .find(|f| f.path == rel)
        .unwrap();
    let byte = lf.offset + last as u64;
    assert_eq!(rep.failed[0].get() as u64, byte / PL as u64, "{what}");
}

#[test]
fn single_file_edge_sizes_every_version() {
    for len in [
        1usize,
        PL as usize - 1,
        PL as usize,
        PL as usize + 1,
        5 * PL as usize + 77,
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("one.bin");
        std::fs::write(&f, bytes(len, len as u64)).unwrap();
        for v in VERSIONS {
            round_trip(tmp.path(), &f, v, &[("one.bin", len as u64)], &f);
        }
    }
}

#[test]
fn folder_with_edge_files_every_version() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("lib");
    std::fs::create_dir_all(d.join("b/c")).unwrap();
    let files: &[(&str, usize)] = &[
        ("lib/.dot", 3),
        ("lib/a", PL as usize + 1),
        ("lib/b/c/empty", 0),
        ("lib/b/c/exact", PL as usize),
        ("lib/b/small", 1),
        ("lib/z", PL as usize - 1),
    ];
    for (i, (p, l)) in files.iter().enumerate() {
        std::fs::write(tmp.path().join(p), bytes(*l, i as u64 + 10)).unwrap();
    }
    // a symlink is skipped
    std::os::unix::fs::symlink(tmp.path().join("lib/a"), d.join("link")).unwrap();
    let expect: Vec<(&str, u64)> = files.iter().map(|(p, l)| (*p, *l as u64)).collect();
    for v in VERSIONS {
        for flip in ["lib/a", "lib/b/small", "lib/z"] {
            round_trip(tmp.path(), &d, v, &expect, &tmp.path().join(flip));
        }
    }
}

#[test]
fn many_small_files() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("many");
    std::fs::create_dir_all(&d).unwrap();
    let mut expect = Vec::new();
    let names: Vec<String> = (0..150).map(|i| format!("many/f{i:03}")).collect();
    for (i, n) in names.iter().enumerate() {
        let len = 100 + i * 37;
        std::fs::write(tmp.path().join(n), bytes(len, i as u64)).unwrap();
        expect.push((n.as_str(), len as u64));
    }
    for v in VERSIONS {
        round_trip(tmp.path(), &d, v, &expect, &tmp.path().join("many/f077"));
    }
}

#[test]
fn threads_do_not_change_the_result() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("big.bin");
    std::fs::write(&f, bytes(3 << 20, 5)).unwrap();
    let mut first = None;
    for t in [1, 2, 5] {
        let o = CreateOptions {
            threads: Some(t),
            piece_length: Some(16384),
            ..Default::default()
        };
        let m = create_torrent(&f, &o, None).unwrap();
        match &first {
            None => first = Some(m.bytes),
            Some(b) => assert_eq!(b, &m.bytes, "threads {t}"),
        }
    }
}

#[test]
fn progress_reaches_total() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("p.bin");
    std::fs::write(&f, bytes(1 << 20, 1)).unwrap();
    let last = std::sync::Mutex::new((0u64, 0u64));
    let cb = |d: u64, t: u64| {
        let mut l = last.lock().unwrap();
        if d > l.0 {
            *l = (d, t);
        }
    };
    create_torrent(&f, &CreateOptions::default(), Some(&cb)).unwrap();
    let (d, t) = *last.lock().unwrap();
    assert_eq!((d, t), (1 << 20, 1 << 20));
}

#[test]
fn options_are_written() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("o.bin");
    std::fs::write(&f, bytes(1000, 1)).unwrap();
    let o = CreateOptions {
        name: Some("renamed".into()),
        trackers: vec!["http://127.0.0.1:1/a".into(), "http://127.0.0.1:2/b".into()],
        comment: Some("hello".into()),
        private: true,
        ..Default::default()
    };
    let m = Metainfo::from_bytes(&create_torrent(&f, &o, None).unwrap().bytes).unwrap();
    assert_eq!(m.info.name, "renamed");
    assert!(m.info.private);
    assert_eq!(m.comment.as_deref(), Some("hello"));
    assert_eq!(m.trackers.concat(), o.trackers);
}

#[test]
fn empty_and_missing_inputs_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("d");
    std::fs::create_dir_all(d.join("sub")).unwrap();
    assert!(matches!(
        create_torrent(&d, &CreateOptions::default(), None),
        Err(CreateError::Empty(_))
    ));
    let e = create_torrent(&tmp.path().join("nope"), &CreateOptions::default(), None).unwrap_err();
    assert!(matches!(e, CreateError::Io { .. }));
    assert!(e.to_string().contains("nope"), "{e}");
}

/// Reusing an earlier torrent's hashes for unchanged files gives exactly
/// the torrent a full rehash gives, and really skips reading them.
#[test]
fn reuse_of_unchanged_files_matches_a_full_rehash() {
    use piece_core::create::Reuse;
    use piece_core::metainfo::{Metainfo, Version};
    use std::collections::HashSet;
    for version in [Version::Hybrid, Version::V2] {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("lib");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(root.join("sub/big.pdf"), &big).unwrap();
        std::fs::write(root.join("small.txt"), b"small").unwrap();
        std::fs::write(root.join("edited.txt"), vec![1u8; 40_000]).unwrap();
        let opts = CreateOptions {
            version,
            piece_length: Some(16 * 1024),
            ..Default::default()
        };
        let first = create_torrent(&root, &opts, None).unwrap();
        let previous = Metainfo::from_bytes(&first.bytes).unwrap();
        std::fs::write(root.join("edited.txt"), vec![2u8; 50_000]).unwrap();
        std::fs::write(root.join("sub/new.epub"), vec![3u8; 30_000]).unwrap();
        let unchanged: HashSet<Vec<String>> = [
            vec!["sub".to_string(), "big.pdf".to_string()],
            vec!["small.txt".to_string()],
        ]
        .into_iter()
        .collect();
        let reuse = std::sync::Arc::new(Reuse {
            previous: previous.clone(),
            unchanged: unchanged.clone(),
        });
        let with = create_torrent(
            &root,
            &CreateOptions {
                reuse: Some(reuse),
                ..opts.clone()
            },
            None,
        )
        .unwrap();
        let full = create_torrent(&root, &opts, None).unwrap();
        assert_eq!(with.bytes, full.bytes, "{version:?}");
        // Proof that the unchanged files were not read: change one behind
        // the caller's back (same length) and reuse still gives the old hashes.
        let mut sneaky = big.clone();
        sneaky[5] ^= 1;
        std::fs::write(root.join("sub/big.pdf"), &sneaky).unwrap();
        let stale = create_torrent(
            &root,
            &CreateOptions {
                reuse: Some(std::sync::Arc::new(Reuse {
                    previous: Metainfo::from_bytes(&full.bytes).unwrap(),
                    unchanged,
                })),
                ..opts.clone()
            },
            None,
        )
        .unwrap();
        assert_eq!(
            stale.info_hashes, full.info_hashes,
            "{version:?}: reused, not reread"
        );
        let fresh = create_torrent(&root, &opts, None).unwrap();
        assert_ne!(fresh.info_hashes, full.info_hashes);
    }
}

#[test]
fn only_the_listed_files_of_a_folder() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("lib");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("b.pdf"), bytes(40_000, 1)).unwrap();
    std::fs::write(root.join("sub/a.pdf"), bytes(10, 2)).unwrap();
    std::fs::write(root.join("secret.key"), bytes(64, 3)).unwrap();
    let listed: Vec<_> = piece_core::create::list_files(&root)
        .unwrap()
        .into_iter()
        .filter(|f| f.rel != ["secret.key"])
        .rev()
        .collect();
    let o = CreateOptions {
        files: Some(listed),
        ..opts(Version::Hybrid)
    };
    let made = create_torrent(&root, &o, None).unwrap();
    let meta = Metainfo::from_bytes(&made.bytes).unwrap();
    let real: Vec<String> = meta
        .info
        .files
        .iter()
        .filter(|f| !f.pad)
        .map(|f| f.path.join("/"))
        .collect();
    assert_eq!(real, ["lib/b.pdf", "lib/sub/a.pdf"], "listed files, sorted");
}
