//! Fuzz BEP 9 `ut_metadata`: the message decoder (what `proto` runs on
//! every metadata message) and the assembler fed with whatever decodes.
//! Never panics; what decodes re-encodes to the same message; the
//! assembler never accepts a piece of the wrong size or position.
#![no_main]

use libfuzzer_sys::fuzz_target;
use piece_core::types::{InfoHashV1, InfoHashes};
use swarm::wire::metadata::{MetadataAssembler, MetadataMsg, METADATA_PIECE_LEN};

fuzz_target!(|data: &[u8]| {
    let Ok(m) = MetadataMsg::decode(data) else {
        return;
    };
    assert_eq!(MetadataMsg::decode(&m.encode()), Ok(m));
    if let MetadataMsg::Data {
        piece,
        total_size,
        data,
    } = m
    {
        assert!(data.len() <= METADATA_PIECE_LEN);
        let h = InfoHashes {
            v1: Some(InfoHashV1([0; 20])),
            v2: None,
        };
        // Bounded: at most 64 KiB of metadata here.
        let size = u64::from(total_size % (64 * 1024));
        if let Ok(mut a) = MetadataAssembler::new(size, h) {
            let before = a.missing().count();
            if a.add_piece(piece, total_size, data).is_ok() {
                assert_eq!(u64::from(total_size), size);
                assert!(piece < a.num_pieces());
                assert_eq!(a.missing().count(), before - 1);
            }
        }
    }
});
