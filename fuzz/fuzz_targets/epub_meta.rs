//! Fuzz the EPUB metadata reader (files in a shared folder, or a mirror's
//! copy of another seedbox's): never panics, reads within its bounds, and
//! what it returns is bounded once cleaned.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seedbox::meta::{epub, MAX_EPUB_ENTRY};

fuzz_target!(|data: &[u8]| {
    let ex = epub::read(std::io::Cursor::new(data));
    assert!(ex.cover.as_ref().is_none_or(|c| c.len() as u64 <= MAX_EPUB_ENTRY));
    // The package document parser on its own (most inputs are not zips).
    let (ex, _cover) = epub::parse_opf(data);
    assert!(ex.authors.len() <= 65 && ex.tags.len() <= 65);
});
