//! Fuzz the one bencode decoder (piece-core): it never panics; whatever the
//! strict decoder accepts re-encodes to the same bytes; whatever the
//! lenient decoder accepts re-encodes canonically (to bytes the strict
//! decoder reads back as the same value); a length limit is never exceeded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use piece_core::bencode::{self, BencodeErrorKind, Limits};

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = bencode::decode(data) {
        assert_eq!(v.to_bytes(), data, "strict decode must be canonical");
    }
    if let Ok(v) = bencode::decode_with(data, Limits::lenient()) {
        let canon = v.to_bytes();
        let again = bencode::decode(&canon).expect("canonical output decodes strictly");
        assert_eq!(again.to_bytes(), canon);
    }
    // A limit cut at every length in the first bytes: the value is either
    // decoded within it or refused, never read past it.
    let first = data.first().copied().unwrap_or(0) as usize;
    let lim = Limits {
        max_len: first,
        max_depth: 8,
        max_tokens: 64,
        ..Limits::lenient()
    };
    match bencode::decode_prefix(data.get(1..).unwrap_or(&[]), lim) {
        Ok((_, n)) => assert!(n <= first),
        Err(e) => {
            if let BencodeErrorKind::TooLarge { max } = e.kind {
                assert_eq!(max, first);
            }
        }
    }
});
