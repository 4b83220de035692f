//! Metainfo tests on torrents built here (the libtorrent corpus is in
//! `tests/conformance.rs`).

use sha1::{Digest as _, Sha1};
use sha2::Sha256;

use super::*;
use crate::bencode::{self, Encoder};
use crate::magnet::Magnet;
use crate::merkle;

const PL: u32 = 32768;

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// (pieces root, piece layer) of a file's data.
fn v2_hashes(d: &[u8]) -> ([u8; 32], Vec<[u8; 32]>) {
    let leaves: Vec<[u8; 32]> = d.chunks(16384).map(|c| Sha256::digest(c).into()).collect();
    let bpp = (PL / 16384) as usize;
    let layer: Vec<[u8; 32]> = leaves
        .chunks(bpp)
        .map(|c| merkle::piece_hash_from_blocks(c, PL))
        .collect();
    (merkle::file_root_from_blocks(&leaves), layer)
}

fn v1_pieces(stream: &[u8]) -> Vec<u8> {
    stream
        .chunks(PL as usize)
        .flat_map(|c| <[u8; 20]>::from(Sha1::digest(c)))
        .collect()
}

struct F {
    name: &'static str,
    data: Vec<u8>,
}

fn files() -> Vec<F> {
    vec![
        F {
            name: "a.pdf",
            data: data(40000, 1),
        },
        F {
            name: "b.txt",
            data: data(100, 2),
        },
    ]
}

/// A multi-file torrent: v1 (with pad files when `hybrid`), v2, or both.
fn build(fs: &[F], v1: bool, v2: bool, layers: bool) -> Vec<u8> {
    let mut e = Encoder::new();
    e.begin_dict();
    e.str("announce").str("http://127.0.0.1:1/announce");
    e.str("announce-list").begin_list();
    e.begin_list().str("http://127.0.0.1:1/announce").end();
    e.begin_list().str("http://127.0.0.1:2/announce").end();
    e.end();
    e.str("comment").str("hello");
    e.str("info").begin_dict();
    if v2 {
        e.str("file tree").begin_dict();
        for f in fs {
            let (root, _) = v2_hashes(&f.data);
            e.str(f.name).begin_dict().str("").begin_dict();
            e.str("length").int(f.data.len() as i64);
            e.str("pieces root").bytes(&root);
            e.end().end();
        }
        e.end();
    }
    let mut stream = Vec::new();
    if v1 {
        e.str("files").begin_list();
        for (i, f) in fs.iter().enumerate() {
            e.begin_dict().str("length").int(f.data.len() as i64);
            e.str("path").begin_list().str(f.name).end().end();
            stream.extend_from_slice(&f.data);
            let rem = f.data.len() % PL as usize;
            if v2 && rem != 0 && i + 1 < fs.len() {
                let pad = PL as usize - rem;
                e.begin_dict()
                    .str("attr")
                    .str("p")
                    .str("length")
                    .int(pad as i64);
                e.str("path")
                    .begin_list()
                    .str(".pad")
                    .str(&pad.to_string())
                    .end()
                    .end();
                stream.extend(std::iter::repeat_n(0, pad));
            }
        }
        e.end();
    }
    if v2 {
        e.str("meta version").int(2);
    }
    e.str("name").str("zines");
    e.str("piece length").int(PL as i64);
    if v1 {
        e.str("pieces").bytes(&v1_pieces(&stream));
    }
    e.end();
    if v2 && layers {
        e.str("piece layers").begin_dict();
        let mut ls: Vec<([u8; 32], Vec<[u8; 32]>)> = fs
            .iter()
            .filter(|f| f.data.len() > PL as usize)
            .map(|f| v2_hashes(&f.data))
            .collect();
        ls.sort();
        for (root, layer) in ls {
            e.bytes(&root).bytes(&layer.concat());
        }
        e.end();
    }
    e.end();
    e.finish()
}

fn info_raw(torrent: &[u8]) -> Vec<u8> {
    let v = bencode::decode(torrent).unwrap();
    v.get(b"info").unwrap().as_dict().unwrap().raw.to_vec()
}

#[test]
fn v1_multi_file() {
    let t = build(&files(), true, false, false);
    let m = Metainfo::from_bytes(&t).unwrap();
    assert_eq!(m.info.version, Version::V1);
    assert_eq!(m.info.name, "zines");
    assert_eq!(m.info.files.len(), 2);
    assert_eq!(m.info.files[0].path, vec!["zines", "a.pdf"]);
    assert_eq!(m.info.files[1].offset, 40000);
    assert_eq!(m.info.lengths.num_pieces(), 2);
    assert_eq!(m.info.total_size(), 40100);
    assert_eq!(m.info.pieces_v1.as_ref().unwrap().len(), 2);
    assert_eq!(m.info_bytes, info_raw(&t));
    assert_eq!(
        m.info_hashes.v1.unwrap().0,
        <[u8; 20]>::from(Sha1::digest(&m.info_bytes))
    );
    assert!(m.info_hashes.v2.is_none());
    assert_eq!(m.trackers.len(), 2);
    assert_eq!(m.comment.as_deref(), Some("hello"));
    assert_eq!(
        m.info.layout.files()[1].path,
        std::path::Path::new("zines/b.txt")
    );
    let mag = Magnet::parse(&m.magnet()).unwrap();
    assert_eq!(mag.v1, m.info_hashes.v1);
    assert_eq!(mag.name.as_deref(), Some("zines"));
    assert_eq!(mag.trackers.len(), 2);
}

#[test]
fn v2_only_with_virtual_padding() {
    let fs = files();
    let t = build(&fs, false, true, true);
    let m = Metainfo::from_bytes(&t).unwrap();
    assert_eq!(m.info.version, Version::V2);
    assert!(m.info_hashes.v1.is_none());
    assert_eq!(
        m.info_hashes.v2.unwrap().0,
        <[u8; 32]>::from(Sha256::digest(&m.info_bytes))
    );
    let f = &m.info.files;
    assert_eq!(f.len(), 4, "{f:?}");
    assert!(f[1].pad && f[1].path.is_empty());
    assert_eq!(f[1].length, 2 * PL as u64 - 40000);
    assert_eq!(f[2].offset, 2 * PL as u64);
    // The last file is padded too (as libtorrent does): the last piece is
    // whole, and a peer may ask for a full block of it.
    assert!(f[3].pad && f[3].length == PL as u64 - 100);
    assert_eq!(m.info.lengths.total(), 3 * PL as u64);
    assert_eq!(m.info.total_size(), 40100);
    let last = m.info.lengths.piece(2).unwrap();
    assert_eq!(m.info.lengths.piece_len(last), PL);
    assert_eq!(m.info.layout.piece_data_len(last), 100);
    assert!(m.info.lengths.block(2, 0, 16384).is_some());
    let (root_a, layer_a) = v2_hashes(&fs[0].data);
    assert_eq!(f[0].pieces_root, Some(root_a));
    assert_eq!(m.piece_layer(&root_a), Some(&layer_a[..]));
    assert_eq!(m.piece_layers.len(), 1, "small files have no layer");
    let mag = Magnet::parse(&m.magnet()).unwrap();
    assert_eq!(mag.v2, m.info_hashes.v2);
    assert!(mag.v1.is_none());
}

#[test]
fn hybrid_agrees_and_disagreement_is_refused() {
    let fs = files();
    let t = build(&fs, true, true, true);
    let m = Metainfo::from_bytes(&t).unwrap();
    assert_eq!(m.info.version, Version::Hybrid);
    assert!(m.info_hashes.v1.is_some() && m.info_hashes.v2.is_some());
    assert_eq!(m.info.files.len(), 3);
    assert!(m.info.files[1].pad);
    assert_eq!(m.info.files[2].pieces_root, Some(v2_hashes(&fs[1].data).0));
    assert_eq!(m.info.lengths.num_pieces(), 3);

    // change one v1 length: the views disagree
    let needle = b"6:lengthi100e4:path";
    let at = t.windows(needle.len()).position(|w| w == needle).unwrap();
    let mut bad = t.clone();
    bad[at + 11] = b'1'; // 100 -> 101
    let err = Metainfo::from_bytes(&bad).unwrap_err();
    assert!(matches!(err, MetainfoError::InconsistentFiles(_)), "{err}");
}

#[test]
fn piece_layers_are_checked() {
    let fs = files();
    let t = build(&fs, false, true, true);
    let (_, layer) = v2_hashes(&fs[0].data);
    let hexlayer = layer.concat();
    let pos = t.windows(64).position(|w| w == &hexlayer[..]).unwrap();
    let mut bad = t.clone();
    bad[pos] ^= 1;
    let err = Metainfo::from_bytes(&bad).unwrap_err();
    assert!(matches!(err, MetainfoError::InvalidPieceLayer(_)), "{err}");
}

#[test]
fn info_bytes_only_and_late_layers() {
    let fs = files();
    let t = build(&fs, false, true, true);
    let raw = info_raw(&t);
    let mut m = Metainfo::from_info_bytes(&raw, vec![vec!["http://127.0.0.1:9/a".into()]]).unwrap();
    assert!(m.piece_layers.is_empty());
    assert_eq!(m.info_hashes, Metainfo::from_bytes(&t).unwrap().info_hashes);
    let (root, layer) = v2_hashes(&fs[0].data);
    let mut wrong = layer.clone();
    wrong[1][0] ^= 1;
    assert!(m.add_piece_layer(root, &wrong).is_err());
    assert!(m.add_piece_layer(root, &layer[..1]).is_err());
    assert!(m.add_piece_layer([7; 32], &layer).is_err());
    m.add_piece_layer(root, &layer).unwrap();
    assert_eq!(m.piece_layer(&root), Some(&layer[..]));
}

#[test]
fn hostile_paths_are_confined_and_deduplicated() {
    let mut e = Encoder::new();
    e.begin_dict()
        .str("info")
        .begin_dict()
        .str("files")
        .begin_list();
    let paths: [&[&str]; 5] = [
        &["..", "..", "etc", "passwd"],
        &["/abs"],
        &["a\\..\\..\\b"],
        &["etc", "passwd"],
        &["", "."],
    ];
    for p in paths {
        e.begin_dict()
            .str("length")
            .int(10)
            .str("path")
            .begin_list();
        for c in p {
            e.str(c);
        }
        e.end().end();
    }
    e.end()
        .str("name")
        .str("../x")
        .str("piece length")
        .int(16384);
    e.str("pieces").bytes(&[0; 20]).end().end();
    let m = Metainfo::from_bytes(&e.finish()).unwrap();
    let got: Vec<String> = m.info.files.iter().map(|f| f.path.join("/")).collect();
    assert_eq!(
        got,
        vec![
            ".._x/etc/passwd",
            ".._x/abs",
            ".._x/a/b",
            ".._x/etc/passwd.1",
            ".._x/_"
        ]
    );
    for f in m.info.layout.files() {
        assert!(crate::layout::is_safe_relative(&f.path));
    }
}

#[test]
fn typed_errors() {
    use MetainfoError as E;
    let err = |b: &[u8]| Metainfo::from_bytes(b).unwrap_err();
    assert!(matches!(err(b"i1e"), E::NotADict));
    assert!(matches!(err(b"d1:ai1ee"), E::MissingInfo));
    assert!(matches!(err(b"d4:infod4:name1:xee"), E::MissingPieceLength));
    assert!(matches!(
        err(b"d4:infod12:piece lengthi16384eee"),
        E::MissingName
    ));
    assert!(matches!(
        err(b"d4:infod6:lengthi5e4:name1:x12:piece lengthi16384eee"),
        E::MissingPieces
    ));
    assert!(matches!(
        err(b"d4:infod6:lengthi5e4:name1:x12:piece lengthi16384e6:pieces3:abcee"),
        E::InvalidPieces(_)
    ));
    assert!(matches!(
        err(b"d4:infod6:lengthi-5e4:name1:x12:piece lengthi16384e6:pieces0:ee"),
        E::InvalidLength(_)
    ));
    assert!(matches!(
        err(b"d4:infod5:filesle4:name1:x12:piece lengthi16384e6:pieces0:ee"),
        E::NoFiles
    ));
    // v2 piece length must be a power of two
    assert!(matches!(
        err(b"d4:infod9:file treed1:ad0:d6:lengthi1eeee12:meta versioni2e4:name1:x12:piece lengthi49152eee"),
        E::InvalidPieceLength(49152)
    ));
    // unsorted file tree
    assert!(matches!(
        err(b"d4:infod9:file treed1:bd0:d6:lengthi0eee1:ad0:d6:lengthi0eeee12:meta versioni2e4:name1:x12:piece lengthi16384eee"),
        E::UnorderedFileTree
    ));
    assert!(matches!(err(b"d4:infod"), E::Bencode(_)));
    let deep = [b"d4:info".to_vec(), vec![b'l'; 200], vec![b'e'; 201]].concat();
    assert!(matches!(err(&deep), E::DepthExceeded(_)));
    for e in [err(b"i1e"), err(b"d4:infod")] {
        assert!(e.to_string().len() > 10);
    }
}

/// Adds a `piece layers` entry (root -> bytes) to a torrent.
fn with_layer(t: &[u8], root: &[u8; 32], layer: &[u8]) -> Vec<u8> {
    let v = bencode::decode(t).unwrap();
    let top = v.as_dict().unwrap();
    let mut entries = top.entries.clone();
    let pl = entries
        .iter_mut()
        .find(|(k, _)| *k == b"piece layers")
        .unwrap();
    let bencode::Value::Dict(d) = &mut pl.1 else {
        panic!("piece layers is a dict")
    };
    d.entries.push((&root[..], bencode::Value::Bytes(layer)));
    bencode::Value::Dict(bencode::Dict {
        entries,
        raw: b"",
        in_order: true,
    })
    .to_bytes()
}

#[test]
fn one_piece_file_layer_only_if_it_is_the_root() {
    let fs = files();
    let t = build(&fs, false, true, true);
    let (root_b, _) = v2_hashes(&fs[1].data);
    let ok = with_layer(&t, &root_b, &root_b);
    let m = Metainfo::from_bytes(&ok).unwrap();
    assert_eq!(m.piece_layers.len(), 1);
    let bad = with_layer(&t, &root_b, &[9; 32]);
    assert!(matches!(
        Metainfo::from_bytes(&bad),
        Err(MetainfoError::InvalidPieceLayer(_))
    ));
    let unknown = with_layer(&t, &[5; 32], &root_b);
    assert!(matches!(
        Metainfo::from_bytes(&unknown),
        Err(MetainfoError::InvalidPieceLayer(_))
    ));
}

#[test]
fn many_duplicates_and_many_files_stay_bounded() {
    // 20,000 files in 200 groups of 100 same-named files: all renamed.
    let mut e = Encoder::new();
    e.begin_dict()
        .str("info")
        .begin_dict()
        .str("files")
        .begin_list();
    for i in 0..20_000 {
        e.begin_dict().str("length").int(1).str("path").begin_list();
        e.str(&format!("d{}", i % 200)).str("f.txt").end().end();
    }
    e.end()
        .str("name")
        .str("t")
        .str("piece length")
        .int(1 << 20);
    e.str("pieces").bytes(&[0; 20]).end().end();
    let m = Metainfo::from_bytes(&e.finish()).unwrap();
    assert_eq!(m.info.files.len(), 20_000);
    assert_eq!(m.info.files[200].path, vec!["t", "d0", "f.1.txt"]);
    // one more copy of a name that has 100 already is refused
    let mut e = Encoder::new();
    e.begin_dict()
        .str("info")
        .begin_dict()
        .str("files")
        .begin_list();
    for _ in 0..=crate::path::MAX_DUPLICATES + 1 {
        e.begin_dict().str("length").int(1).str("path").begin_list();
        e.str("same").end().end();
    }
    e.end()
        .str("name")
        .str("t")
        .str("piece length")
        .int(1 << 20);
    e.str("pieces").bytes(&[0; 20]).end().end();
    assert!(matches!(
        Metainfo::from_bytes(&e.finish()),
        Err(MetainfoError::DuplicateFiles(_))
    ));
}

#[test]
fn single_file_versus_folder_of_one() {
    let one = |name: &'static str| {
        vec![F {
            name,
            data: data(40000, 3),
        }]
    };
    // v2: a lone top-level file named like the torrent is a single file
    let m = Metainfo::from_bytes(&build(&one("zines"), false, true, true)).unwrap();
    assert_eq!(m.info.files[0].path, vec!["zines"]);
    // ... otherwise it sits in a folder named after the torrent
    let m = Metainfo::from_bytes(&build(&one("other"), false, true, true)).unwrap();
    assert_eq!(m.info.files[0].path, vec!["zines", "other"]);
    // hybrid: the v1 `files` list makes it a folder, and both parts agree
    let m = Metainfo::from_bytes(&build(&one("zines"), true, true, true)).unwrap();
    assert_eq!(m.info.version, Version::Hybrid);
    assert_eq!(m.info.files[0].path, vec!["zines", "zines"]);
}

#[test]
fn to_torrent_bytes_round_trips_hashes_and_piece_layers() {
    use crate::create::{create_torrent, CreateOptions};
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("t");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("big"), vec![7u8; 100_000]).unwrap();
    std::fs::write(root.join("small"), b"hi").unwrap();
    let opts = CreateOptions {
        piece_length: Some(16 * 1024),
        trackers: vec!["http://127.0.0.1:1/announce".into()],
        ..Default::default()
    };
    let made = create_torrent(&root, &opts, None).unwrap();
    let m = Metainfo::from_bytes(&made.bytes).unwrap();
    let again = Metainfo::from_bytes(&m.to_torrent_bytes()).unwrap();
    assert_eq!(again.info_hashes, m.info_hashes);
    assert_eq!(again.piece_layers, m.piece_layers);
    assert!(!again.piece_layers.is_empty());
    assert_eq!(again.trackers, m.trackers);
}

/// A hybrid torrent of 100,000 files has about 2.5 M bencoded values, more
/// than the generic limit of 2 M: a torrent with 3 M values still parses
/// (`swarm share` of a 100,000-file folder failed with "too many values").
#[test]
fn torrents_with_millions_of_values_parse() {
    let d = data(1000, 7);
    let mut e = Encoder::new();
    e.begin_dict().str("info").begin_dict();
    e.str("length").int(d.len() as i64).str("name").str("a");
    e.str("piece length").int(i64::from(PL));
    e.str("pieces").bytes(&v1_pieces(&d)).end();
    e.str("x-padding").begin_list();
    for _ in 0..3_000_000 {
        e.int(0);
    }
    e.end().end();
    let m = Metainfo::from_bytes(&e.finish()).expect("parses");
    assert_eq!(m.info.files.len(), 1);
}
