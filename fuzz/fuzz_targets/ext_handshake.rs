//! Fuzz the BEP 10 extension handshake decoder (`wire::ExtHandshake`, what
//! `proto` runs on every peer's handshake): never panics, stays within its
//! bounds, and what decodes re-encodes to bytes that decode to the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarm::wire::ext::{ExtHandshake, MAX_CLIENT_NAME, MAX_EXTENSIONS};

fuzz_target!(|data: &[u8]| {
    if let Ok(hs) = ExtHandshake::decode(data) {
        assert!(hs.m.len() <= MAX_EXTENSIONS);
        assert!(hs.v.as_ref().is_none_or(|v| v.len() <= MAX_CLIENT_NAME));
        assert!(hs
            .yourip
            .as_ref()
            .is_none_or(|ip| ip.len() == 4 || ip.len() == 16));
        assert_ne!(hs.p, Some(0));
        assert_ne!(hs.swarm_quic, Some(0));
        let re = hs.encode();
        assert_eq!(ExtHandshake::decode(&re).as_ref(), Ok(&hs));
    }
});
