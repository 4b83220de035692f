//! Fuzz the bounded PDF metadata reader: never panics, whatever the
//! trailer, cross-reference table, strings or XMP packet say.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seedbox::meta::pdf;

fuzz_target!(|data: &[u8]| {
    let ex = pdf::read(std::io::Cursor::new(data));
    assert!(ex.authors.len() <= 65);
});
