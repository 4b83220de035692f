//! Fuzz the BEP 14 LSD datagram parser: never panics, stays within its
//! bounds, and an announce that parses encodes to one that parses the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarm::discovery::lsd::{parse, Family, MAX_INFOHASHES};

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = parse(data) {
        assert!(!a.info_hashes.is_empty() && a.info_hashes.len() <= MAX_INFOHASHES);
        assert_ne!(a.port, 0);
        for family in [Family::V4, Family::V6] {
            let d = a.encode(family).expect("a parsed announce encodes");
            assert_eq!(parse(&d).expect("re-parses"), a);
        }
    }
});
