//! Fuzz the peer wire framing, as `proto` runs it on every connection: the
//! 68-byte handshake, then a stream of length-prefixed messages (BEP 3, 5,
//! 6, 10, 52) under a per-torrent length limit. Never panics; whatever
//! decodes re-encodes to the same bytes; unknown ids are skipped whole.
//! The BEP 10 / BEP 9 payloads have their own targets (`ext_handshake`,
//! `ut_metadata`); a whole torrent is driven by `torrent`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarm::wire::{decode_handshake, decode_limited, encode, encode_handshake, Decoded};

fuzz_target!(|data: &[u8]| {
    let Some((&limit_byte, data)) = data.split_first() else {
        return;
    };
    let mut rest = data;
    match decode_handshake(rest) {
        Ok(Some((hs, n))) => {
            assert_eq!(n, 68);
            let mut again = Vec::new();
            encode_handshake(&hs, &mut again);
            // Reserved bits we do not know are dropped; the rest is kept.
            assert_eq!(again[28..], rest[28..68]);
            rest = &rest[n..];
        }
        Ok(None) => return,
        Err(_) => {}
    }
    // Limits from tiny to the protocol maximum.
    let limit = 1u32 << (limit_byte % 24);
    loop {
        match decode_limited(rest, limit) {
            Ok(Decoded::Message(msg, n)) => {
                assert!(n >= 4 && n <= rest.len() && n - 4 <= limit as usize);
                let mut again = Vec::new();
                encode(&msg, &mut again).expect("decoded message re-encodes");
                assert_eq!(&again[..], &rest[..n]);
                rest = &rest[n..];
            }
            Ok(Decoded::Unknown { frame_len, .. }) => {
                assert!(frame_len >= 5 && frame_len <= rest.len());
                rest = &rest[frame_len..];
            }
            Ok(Decoded::Incomplete { need }) => {
                assert!(need >= 1 && rest.len() + need <= 4 + limit as usize);
                break;
            }
            Err(_) => break,
        }
    }
});
