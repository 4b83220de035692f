//! Fuzz the LAN catalogue decoder: never panics, stays within its bounds,
//! and a decoded catalogue re-encodes to one that decodes the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarm::discovery::catalogue::{Catalogue, MAX_NAME_BYTES, MAX_SHARES};

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = Catalogue::decode(data) {
        assert!(c.shares.len() <= MAX_SHARES);
        for s in &c.shares {
            assert!(!s.name.is_empty() && s.name.len() <= MAX_NAME_BYTES);
            assert!(s.info_hashes.v1.is_some() || s.info_hashes.v2.is_some());
            if let Some(col) = &s.collection {
                col.verify(&s.name, &s.info_hashes)
                    .expect("only records that verify are kept");
            }
        }
        let re = c.encode().expect("a decoded catalogue encodes");
        assert_eq!(Catalogue::decode(&re).expect("re-decodes"), c);
    }
});
