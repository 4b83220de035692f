//! Fuzz magnet link parsing: never panics, and a link that parses prints
//! (Display) to a link that parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use piece_core::magnet::Magnet;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(m) = Magnet::parse(s) {
        let again = Magnet::parse(&m.to_string()).expect("our own magnet link parses");
        assert_eq!(again, m);
    }
});
