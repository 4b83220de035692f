//! Fuzz the resume file decoder: never panics, and a file that decodes
//! re-encodes to the same bytes (it is canonical bencode of a fixed shape).
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarm::resume::ResumeData;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = ResumeData::decode(data) {
        let again = ResumeData::decode(&r.encode()).expect("re-decodes");
        assert_eq!(again, r);
        let _ = r.bitfield();
    }
});
