//! Fuzz the bencode decoder: it must never panic, and whatever the strict
//! decoder accepts must re-encode to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use piece_core::bencode::{self, Limits};

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = bencode::decode(data) {
        assert_eq!(v.to_bytes(), data, "strict decode must be canonical");
    }
    let _ = bencode::decode_with(data, Limits::lenient());
    let _ = bencode::decode_prefix(data, Limits::default());
});
