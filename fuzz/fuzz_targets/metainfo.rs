//! Fuzz metainfo parsing: never panic, and a torrent that loads has only
//! safe paths and a magnet link that parses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use piece_core::layout::is_safe_relative;
use piece_core::magnet::Magnet;
use piece_core::metainfo::Metainfo;

fuzz_target!(|data: &[u8]| {
    for m in [
        Metainfo::from_bytes(data),
        Metainfo::from_info_bytes(data, Vec::new()),
    ]
    .into_iter()
    .flatten()
    {
        for f in m.info.layout.files() {
            assert!(
                f.pad || is_safe_relative(&f.path),
                "unsafe path {:?}",
                f.path
            );
        }
        Magnet::parse(&m.magnet()).expect("our own magnet link parses");
    }
});
