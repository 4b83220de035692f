//! Property tests: bencode round trip and robustness, path confinement,
//! metainfo parsing of mutated torrents never panics.

use std::collections::BTreeMap;
use std::path::PathBuf;

use piece_core::bencode::{self, Encoder, Limits};
use piece_core::layout::is_safe_relative;
use piece_core::magnet::Magnet;
use piece_core::metainfo::Metainfo;
use piece_core::path::{is_safe_component, sanitize_path, Deduper};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum T {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<T>),
    Dict(BTreeMap<Vec<u8>, T>),
}

fn tree() -> impl Strategy<Value = T> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(T::Int),
        proptest::collection::vec(any::<u8>(), 0..12).prop_map(T::Bytes),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(T::List),
            proptest::collection::btree_map(
                proptest::collection::vec(any::<u8>(), 0..6),
                inner,
                0..6
            )
            .prop_map(T::Dict),
        ]
    })
}

fn encode(t: &T, e: &mut Encoder) {
    match t {
        T::Int(i) => {
            e.int(*i);
        }
        T::Bytes(b) => {
            e.bytes(b);
        }
        T::List(l) => {
            e.begin_list();
            for x in l {
                encode(x, e);
            }
            e.end();
        }
        T::Dict(d) => {
            e.begin_dict();
            for (k, v) in d {
                e.bytes(k);
                encode(v, e);
            }
            e.end();
        }
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let dir = match std::env::var("SWARM_CONFORMANCE_DIR") {
        Ok(d) => PathBuf::from(d),
        Err(_) => {
            let m = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            std::iter::once(m.join("tests/data/libtorrent-test-torrents"))
                .chain(
                    ["../../shared", "../shared", "../../../shared"]
                        .iter()
                        .map(|p| m.join(p).join("conformance/libtorrent-test-torrents")),
                )
                .find(|p| p.is_dir())
                .unwrap_or_else(|| m.join("../../shared/conformance/libtorrent-test-torrents"))
        }
    };
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("fixture {name} missing: {e}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn bencode_round_trip(t in tree()) {
        let mut e = Encoder::new();
        encode(&t, &mut e);
        let bytes = e.finish();
        let v = bencode::decode(&bytes).expect("canonical input decodes");
        prop_assert_eq!(v.to_bytes(), bytes);
    }

    #[test]
    fn bencode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = bencode::decode(&bytes);
        let _ = bencode::decode_with(&bytes, Limits::lenient());
        let _ = Metainfo::from_bytes(&bytes);
        let _ = Metainfo::from_info_bytes(&bytes, Vec::new());
    }

    #[test]
    fn bencode_structured_noise_never_panics(
        bytes in proptest::collection::vec(prop_oneof![
            Just(b'd'), Just(b'l'), Just(b'e'), Just(b'i'), Just(b':'), Just(b'-'), Just(b'0'), Just(b'1'), Just(b'9'), any::<u8>()
        ], 0..128)
    ) {
        if let Ok(v) = bencode::decode(&bytes) {
            // strict decoding accepts only canonical input
            prop_assert_eq!(&v.to_bytes(), &bytes);
        }
        let _ = Metainfo::from_bytes(&bytes);
    }

    #[test]
    fn paths_are_confined(
        comps in proptest::collection::vec(
            prop_oneof![
                Just(b"..".to_vec()), Just(b".".to_vec()), Just(b"/".to_vec()), Just(b"\\".to_vec()),
                Just(b"".to_vec()), Just(b"a/../../b".to_vec()), Just(b"C:\\x".to_vec()), Just(b"\0".to_vec()),
                proptest::collection::vec(any::<u8>(), 0..300),
            ],
            0..8,
        )
    ) {
        let p = sanitize_path(comps.iter().map(Vec::as_slice));
        for c in &p {
            prop_assert!(is_safe_component(c), "unsafe component {:?}", c);
        }
        if !p.is_empty() {
            let pb: PathBuf = p.iter().collect();
            prop_assert!(is_safe_relative(&pb), "{:?}", pb);
            prop_assert_eq!(pb.components().count(), p.len());
        }
    }

    #[test]
    fn dedupe_makes_unique(names in proptest::collection::vec(prop_oneof![Just("a"), Just("A"), Just("a.1"), Just("b.txt")], 1..40)) {
        let mut d = Deduper::new();
        let mut seen = std::collections::HashSet::new();
        for n in names {
            let p = d.unique(vec!["t".to_string(), n.to_string()]).unwrap();
            prop_assert!(seen.insert(p.join("/").to_lowercase()));
        }
    }

    #[test]
    fn mutated_torrents_never_panic(
        which in 0usize..4,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let name = ["base.torrent", "v2_hybrid.torrent", "v2_multiple_files.torrent", "symlink1.torrent"][which];
        let mut t = fixture(name);
        for (i, b) in edits {
            let i = i.index(t.len());
            t[i] = b;
        }
        if truncate {
            t.truncate(cut.index(t.len()));
        }
        if let Ok(m) = Metainfo::from_bytes(&t) {
            for f in m.info.layout.files() {
                prop_assert!(f.pad || is_safe_relative(&f.path));
            }
            let _ = Magnet::parse(&m.magnet()).expect("our magnet parses");
        }
    }

    #[test]
    fn magnet_round_trips(name in "\\PC{0,20}", tr in proptest::collection::vec("\\PC{1,20}", 0..3), h in proptest::array::uniform20(any::<u8>())) {
        let m = Magnet {
            v1: Some(piece_core::InfoHashV1(h)),
            name: Some(name),
            trackers: tr,
            ..Magnet::default()
        };
        prop_assert_eq!(Magnet::parse(&m.to_string()).unwrap(), m);
    }

    #[test]
    fn magnet_parse_never_panics(s in "\\PC{0,200}") {
        let _ = Magnet::parse(&s);
        let _ = Magnet::parse(&format!("magnet:?{s}"));
    }
}
