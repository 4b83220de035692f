//! Fuzz the peer wire decoders: message framing, handshake, BEP 10
//! extension handshake and BEP 9 metadata messages. Whatever decodes must
//! re-encode to the same bytes (framing) or decode again to the same value
//! (bencoded payloads). Run: `cargo +nightly fuzz run wire`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarm::wire::ext::ExtHandshake;
use swarm::wire::metadata::MetadataMsg;
use swarm::wire::{decode, decode_handshake, encode, Decoded};

fuzz_target!(|data: &[u8]| {
    // A stream of messages, as the receive loop would see it.
    let mut rest = data;
    loop {
        match decode(rest) {
            Ok(Decoded::Message(msg, n)) => {
                assert!(n >= 4 && n <= rest.len());
                let mut again = Vec::new();
                encode(&msg, &mut again).expect("decoded message re-encodes");
                assert_eq!(&again[..], &rest[..n]);
                if let swarm::wire::Message::Extended { payload, .. } = msg {
                    fuzz_payload(payload);
                }
                rest = &rest[n..];
            }
            Ok(Decoded::Incomplete { need }) => {
                assert!(need >= 1);
                break;
            }
            Ok(Decoded::Unknown { frame_len, .. }) => {
                assert!(frame_len >= 5 && frame_len <= rest.len());
                rest = &rest[frame_len..];
            }
            Err(_) => break,
        }
    }
    let _ = decode_handshake(data);
    fuzz_payload(data);
});

fn fuzz_payload(p: &[u8]) {
    if let Ok(hs) = ExtHandshake::decode(p) {
        let re = hs.encode();
        assert_eq!(ExtHandshake::decode(&re).as_ref(), Ok(&hs));
    }
    if let Ok(m) = MetadataMsg::decode(p) {
        let re = m.encode();
        assert_eq!(MetadataMsg::decode(&re), Ok(m));
    }
}
