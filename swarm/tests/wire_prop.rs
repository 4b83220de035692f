//! Property tests for the wire codec: encode→decode round trips, framing
//! at arbitrary split points, and decoders never panicking on junk.

use proptest::prelude::*;
use swarm::wire::ext::ExtHandshake;
use swarm::wire::metadata::MetadataMsg;
use swarm::wire::{
    decode, decode_handshake, encode, encode_handshake, Decoded, Handshake, HashRequest, Message,
    Reserved,
};

/// Owned form of a message so proptest can generate payloads.
#[derive(Clone, Debug)]
enum Owned {
    Simple(u8),
    Have(u32),
    Bitfield(Vec<u8>),
    Req(u8, u32, u32, u32),
    Piece(u32, u32, Vec<u8>),
    Port(u16),
    Ext(u8, Vec<u8>),
    Hash(u8, HashRequest, Vec<u8>),
}

impl Owned {
    fn msg(&self) -> Message<'_> {
        match self {
            Owned::Simple(k) => match k % 7 {
                0 => Message::KeepAlive,
                1 => Message::Choke,
                2 => Message::Unchoke,
                3 => Message::Interested,
                4 => Message::NotInterested,
                5 => Message::HaveAll,
                _ => Message::HaveNone,
            },
            Owned::Have(p) => match p % 3 {
                0 => Message::Have { piece: *p },
                1 => Message::SuggestPiece { piece: *p },
                _ => Message::AllowedFast { piece: *p },
            },
            Owned::Bitfield(b) => Message::Bitfield(b),
            Owned::Req(k, piece, offset, len) => {
                let (piece, offset, len) = (*piece, *offset, *len);
                match k % 3 {
                    0 => Message::Request { piece, offset, len },
                    1 => Message::Cancel { piece, offset, len },
                    _ => Message::RejectRequest { piece, offset, len },
                }
            }
            Owned::Piece(piece, offset, data) => Message::Piece {
                piece: *piece,
                offset: *offset,
                data,
            },
            Owned::Port(p) => Message::Port(*p),
            Owned::Ext(id, payload) => Message::Extended { id: *id, payload },
            Owned::Hash(k, req, hashes) => match k % 3 {
                0 => Message::HashRequest(*req),
                1 => Message::HashReject(*req),
                _ => Message::Hashes { req: *req, hashes },
            },
        }
    }
}

fn hash_req() -> impl Strategy<Value = HashRequest> {
    (
        any::<[u8; 32]>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(
            |(pieces_root, base_layer, index, length, proof_layers)| HashRequest {
                pieces_root,
                base_layer,
                index,
                length,
                proof_layers,
            },
        )
}

fn owned() -> impl Strategy<Value = Owned> {
    let bytes = || proptest::collection::vec(any::<u8>(), 0..300);
    prop_oneof![
        any::<u8>().prop_map(Owned::Simple),
        any::<u32>().prop_map(Owned::Have),
        bytes().prop_map(Owned::Bitfield),
        (any::<u8>(), any::<u32>(), any::<u32>(), any::<u32>())
            .prop_map(|(k, a, b, c)| Owned::Req(k, a, b, c)),
        (any::<u32>(), any::<u32>(), bytes()).prop_map(|(a, b, d)| Owned::Piece(a, b, d)),
        any::<u16>().prop_map(Owned::Port),
        (any::<u8>(), bytes()).prop_map(|(i, p)| Owned::Ext(i, p)),
        (any::<u8>(), hash_req(), 0usize..8).prop_map(|(k, r, n)| Owned::Hash(
            k,
            r,
            (0..n * 32).map(|i| i as u8).collect()
        )),
    ]
}

proptest! {
    #[test]
    fn round_trip_stream(
        msgs in proptest::collection::vec(owned(), 1..8),
        split in any::<prop::sample::Index>(),
    ) {
        let mut buf = Vec::new();
        for m in &msgs {
            encode(&m.msg(), &mut buf).unwrap();
        }
        // Also feed a prefix cut at an arbitrary point: a message fully
        // inside it decodes identically, otherwise we get Incomplete with
        // a `need` that does not overshoot the real frame.
        let cut = split.index(buf.len() + 1);
        let mut pos = 0;
        for m in &msgs {
            let want = m.msg();
            let end = cut.max(pos);
            match decode(&buf[pos..end]).unwrap() {
                Decoded::Message(d, n) => {
                    prop_assert_eq!(&d, &want);
                    prop_assert!(pos + n <= end);
                }
                Decoded::Incomplete { need } => {
                    prop_assert!(need >= 1);
                    prop_assert!(end + need <= buf.len());
                }
                other => prop_assert!(false, "known message decoded as {:?}", other),
            }
            match decode(&buf[pos..]).unwrap() {
                Decoded::Message(d, n) => {
                    prop_assert_eq!(&d, &want);
                    pos += n;
                }
                other => prop_assert!(false, "incomplete on a whole stream: {:?}", other),
            }
        }
        prop_assert_eq!(pos, buf.len());
    }

    #[test]
    fn decode_never_panics(buf in proptest::collection::vec(any::<u8>(), 0..200)) {
        match decode(&buf) {
            Ok(Decoded::Message(_, n)) => prop_assert!(n <= buf.len()),
            Ok(Decoded::Incomplete { need }) => prop_assert!(need >= 1),
            Ok(Decoded::Unknown { frame_len, .. }) => prop_assert!(frame_len <= buf.len()),
            Err(_) => {}
        }
        let _ = decode_handshake(&buf);
        let _ = ExtHandshake::decode(&buf);
        let _ = MetadataMsg::decode(&buf);
    }

    #[test]
    fn framed_junk_never_panics_and_reencodes(
        id in any::<u8>(),
        body in proptest::collection::vec(any::<u8>(), 0..120),
    ) {
        let mut buf = ((body.len() + 1) as u32).to_be_bytes().to_vec();
        buf.push(id);
        buf.extend_from_slice(&body);
        if let Ok(Decoded::Message(m, n)) = decode(&buf) {
            prop_assert_eq!(n, buf.len());
            // Whatever decodes re-encodes to the same bytes.
            let mut again = Vec::new();
            encode(&m, &mut again).unwrap();
            prop_assert_eq!(again, buf);
        }
    }

    #[test]
    fn handshake_round_trip(
        ext: bool,
        fast: bool,
        v2: bool,
        info_hash: [u8; 20],
        peer_id: [u8; 20],
    ) {
        let hs = Handshake { reserved: Reserved { extended: ext, fast, v2 }, info_hash, peer_id };
        let mut buf = Vec::new();
        encode_handshake(&hs, &mut buf);
        prop_assert_eq!(decode_handshake(&buf).unwrap(), Some((hs, 68)));
    }

    #[test]
    fn ext_handshake_round_trip(
        m in proptest::collection::btree_map("[a-zA-Z_]{1,20}", any::<u8>(), 0..10),
        metadata_size: Option<u32>,
        v in proptest::option::of("[ -~]{0,40}"),
        reqq: Option<u32>,
        p in proptest::option::of(1u16..),
        ip4: Option<[u8; 4]>,
        upload_only: bool,
        swarm_quic in proptest::option::of(1u16..),
    ) {
        let hs = ExtHandshake {
            m,
            metadata_size,
            v,
            reqq,
            p,
            yourip: ip4.map(|b| b.to_vec()),
            upload_only,
            swarm_quic,
        };
        prop_assert_eq!(ExtHandshake::decode(&hs.encode()).unwrap(), hs);
    }

    #[test]
    fn metadata_msg_round_trip(
        kind in 0u8..3,
        piece: u32,
        total_size: u32,
        data in proptest::collection::vec(any::<u8>(), 0..100),
    ) {
        let msg = match kind {
            0 => MetadataMsg::Request { piece },
            1 => MetadataMsg::Data { piece, total_size, data: &data },
            _ => MetadataMsg::Reject { piece },
        };
        let bytes = msg.encode();
        prop_assert_eq!(MetadataMsg::decode(&bytes).unwrap(), msg);
    }
}
