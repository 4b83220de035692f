//! Exact-byte vectors (hand-written from BEP 3/5/6/10/52) and framing tests.

use super::*;

fn enc(msg: &Message<'_>) -> Vec<u8> {
    let mut v = Vec::new();
    encode(msg, &mut v).unwrap();
    assert_eq!(v.len(), encoded_len(msg));
    v
}

fn dec(buf: &[u8]) -> (Message<'_>, usize) {
    match decode(buf).unwrap() {
        Decoded::Message(m, n) => (m, n),
        other => panic!("expected a message, got {other:?}"),
    }
}

fn req() -> HashRequest {
    HashRequest {
        pieces_root: [0x11; 32],
        base_layer: 0,
        index: 512,
        length: 512,
        proof_layers: 3,
    }
}

/// (message, hand-written bytes)
fn vectors() -> Vec<(Message<'static>, Vec<u8>)> {
    let mut hr = vec![0, 0, 0, 49, 21];
    hr.extend_from_slice(&[0x11; 32]);
    hr.extend_from_slice(&[0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0, 3]);
    let mut rej = hr.clone();
    rej[4] = 23;
    let mut hashes = hr.clone();
    hashes[3] = 49 + 64;
    hashes[4] = 22;
    hashes.extend_from_slice(&[0x22; 64]);
    vec![
        (Message::KeepAlive, vec![0, 0, 0, 0]),
        (Message::Choke, vec![0, 0, 0, 1, 0]),
        (Message::Unchoke, vec![0, 0, 0, 1, 1]),
        (Message::Interested, vec![0, 0, 0, 1, 2]),
        (Message::NotInterested, vec![0, 0, 0, 1, 3]),
        (
            Message::Have { piece: 0x01020304 },
            vec![0, 0, 0, 5, 4, 1, 2, 3, 4],
        ),
        (
            Message::Bitfield(&[0b1010_0000, 0x01]),
            vec![0, 0, 0, 3, 5, 0b1010_0000, 0x01],
        ),
        (
            Message::Request {
                piece: 1,
                offset: 0x4000,
                len: 0x4000,
            },
            vec![0, 0, 0, 13, 6, 0, 0, 0, 1, 0, 0, 0x40, 0, 0, 0, 0x40, 0],
        ),
        (
            Message::Piece {
                piece: 2,
                offset: 0x8000,
                data: b"abc",
            },
            vec![0, 0, 0, 12, 7, 0, 0, 0, 2, 0, 0, 0x80, 0, b'a', b'b', b'c'],
        ),
        (
            Message::Cancel {
                piece: 1,
                offset: 0,
                len: 0x4000,
            },
            vec![0, 0, 0, 13, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x40, 0],
        ),
        (Message::Port(6881), vec![0, 0, 0, 3, 9, 0x1a, 0xe1]),
        (
            Message::SuggestPiece { piece: 7 },
            vec![0, 0, 0, 5, 13, 0, 0, 0, 7],
        ),
        (Message::HaveAll, vec![0, 0, 0, 1, 14]),
        (Message::HaveNone, vec![0, 0, 0, 1, 15]),
        (
            Message::RejectRequest {
                piece: 3,
                offset: 0x4000,
                len: 100,
            },
            vec![0, 0, 0, 13, 16, 0, 0, 0, 3, 0, 0, 0x40, 0, 0, 0, 0, 100],
        ),
        (
            Message::AllowedFast { piece: 1000 },
            vec![0, 0, 0, 5, 17, 0, 0, 0x03, 0xe8],
        ),
        (
            Message::Extended {
                id: 0,
                payload: b"de",
            },
            vec![0, 0, 0, 4, 20, 0, b'd', b'e'],
        ),
        (Message::HashRequest(req()), hr),
        (Message::HashReject(req()), rej),
        (
            Message::Hashes {
                req: req(),
                hashes: &[0x22; 64],
            },
            hashes,
        ),
    ]
}

#[test]
fn exact_bytes_both_ways() {
    for (msg, bytes) in vectors() {
        assert_eq!(enc(&msg), bytes, "encode {msg:?}");
        assert_eq!(dec(&bytes), (msg.clone(), bytes.len()), "decode {msg:?}");
    }
}

#[test]
fn bytesmut_and_vec_agree() {
    for (msg, bytes) in vectors() {
        let mut b = BytesMut::new();
        encode(&msg, &mut b).unwrap();
        assert_eq!(&b[..], &bytes[..]);
    }
}

#[test]
fn incomplete_at_every_split_point() {
    for (msg, bytes) in vectors() {
        for i in 0..bytes.len() {
            match decode(&bytes[..i]).unwrap() {
                Decoded::Incomplete { need } => {
                    assert!(need >= 1 && i + need <= bytes.len(), "{msg:?} split {i}");
                    if i >= 4 {
                        assert_eq!(i + need, bytes.len(), "{msg:?} split {i}");
                    }
                }
                other => panic!("{msg:?} split {i}: {other:?}"),
            }
        }
    }
}

#[test]
fn consumes_only_one_frame() {
    let mut buf = enc(&Message::Have { piece: 9 });
    buf.extend_from_slice(&enc(&Message::Unchoke));
    let (m, n) = dec(&buf);
    assert_eq!(m, Message::Have { piece: 9 });
    assert_eq!(n, 9);
    assert_eq!(dec(&buf[n..]), (Message::Unchoke, 5));
}

#[test]
fn oversize_prefix_rejected_with_four_bytes() {
    let len = MAX_MESSAGE_LEN + 1;
    assert_eq!(
        decode(&len.to_be_bytes()),
        Err(DecodeError::Oversize {
            len,
            max: MAX_MESSAGE_LEN
        })
    );
    assert!(matches!(
        decode(&[0xff, 0xff, 0xff, 0xff]),
        Err(DecodeError::Oversize { .. })
    ));
    // The limit itself is fine (a large bitfield): just incomplete.
    let mut b = MAX_MESSAGE_LEN.to_be_bytes().to_vec();
    b.push(5);
    assert_eq!(
        decode(&b).unwrap(),
        Decoded::Incomplete {
            need: MAX_MESSAGE_LEN as usize - 1
        }
    );
}

#[test]
fn fixed_sizes_enforced_on_seeing_the_id() {
    // Have with 8 payload bytes: rejected before the body arrives.
    assert_eq!(
        decode(&[0, 0, 0, 9, 4]),
        Err(DecodeError::BadLength { id: 4, len: 9 })
    );
    for (id, good) in [
        (0u8, 1u32),
        (1, 1),
        (2, 1),
        (3, 1),
        (4, 5),
        (6, 13),
        (8, 13),
        (9, 3),
        (13, 5),
        (14, 1),
        (15, 1),
        (16, 13),
        (17, 5),
        (21, 49),
        (23, 49),
    ] {
        for len in [good - 1, good + 1] {
            if len == 0 {
                continue;
            }
            let mut b = len.to_be_bytes().to_vec();
            b.push(id);
            assert_eq!(
                decode(&b),
                Err(DecodeError::BadLength { id, len }),
                "id {id}"
            );
        }
    }
    // Piece needs piece + offset; extended needs its id byte.
    assert_eq!(
        decode(&[0, 0, 0, 8, 7]),
        Err(DecodeError::BadLength { id: 7, len: 8 })
    );
    assert_eq!(
        decode(&[0, 0, 0, 1, 20]),
        Err(DecodeError::BadLength { id: 20, len: 1 })
    );
    // An empty piece block and an empty bitfield are well formed.
    assert_eq!(
        dec(&[0, 0, 0, 9, 7, 0, 0, 0, 1, 0, 0, 0, 0]).0,
        Message::Piece {
            piece: 1,
            offset: 0,
            data: &[]
        }
    );
    assert_eq!(dec(&[0, 0, 0, 1, 5]).0, Message::Bitfield(&[]));
}

#[test]
fn unknown_id_is_skippable() {
    let buf = [0, 0, 0, 3, 99, 1, 2, 0, 0, 0, 1, 1];
    // Incomplete until the whole frame is in, then skippable.
    assert_eq!(decode(&buf[..5]), Ok(Decoded::Incomplete { need: 2 }));
    assert_eq!(
        decode(&buf),
        Ok(Decoded::Unknown {
            id: 99,
            frame_len: 7
        })
    );
    assert_eq!(dec(&buf[7..]), (Message::Unchoke, 5));
    // Ids 10-12 and 18-19 are unassigned.
    for id in [10u8, 11, 12, 18, 19, 24, 255] {
        assert_eq!(
            decode(&[0, 0, 0, 1, id]),
            Ok(Decoded::Unknown { id, frame_len: 5 })
        );
    }
}

#[test]
fn lower_limit() {
    let mut b = 300u32.to_be_bytes().to_vec();
    b.push(5);
    assert_eq!(
        decode_limited(&b, 299),
        Err(DecodeError::Oversize { len: 300, max: 299 })
    );
    assert_eq!(
        decode_limited(&b, 300),
        Ok(Decoded::Incomplete { need: 299 })
    );
    // Never above MAX_MESSAGE_LEN.
    let len = MAX_MESSAGE_LEN + 1;
    assert_eq!(
        decode_limited(&len.to_be_bytes(), u32::MAX),
        Err(DecodeError::Oversize {
            len,
            max: MAX_MESSAGE_LEN
        })
    );
}

#[test]
fn hashes_must_be_multiple_of_32() {
    let mut b = vec![0, 0, 0, 49 + 31, 22];
    b.extend_from_slice(&[0; 48 + 31]);
    assert_eq!(decode(&b), Err(DecodeError::BadHashes { len: 31 }));
    // Detected from the prefix alone.
    assert_eq!(decode(&b[..5]), Err(DecodeError::BadHashes { len: 31 }));
    let too_many = (1 + HASH_REQUEST_LEN + 32 * (MAX_HASHES_PER_MESSAGE + 1)) as u32;
    let mut b = too_many.to_be_bytes().to_vec();
    b.push(22);
    assert!(matches!(decode(&b), Err(DecodeError::BadHashes { .. })));
    // Too short for the header.
    assert_eq!(
        decode(&[0, 0, 0, 48, 22]),
        Err(DecodeError::BadLength { id: 22, len: 48 })
    );
    let mut v = Vec::new();
    assert_eq!(
        encode(
            &Message::Hashes {
                req: req(),
                hashes: &[0; 33]
            },
            &mut v
        ),
        Err(EncodeError::BadHashes { len: 33 })
    );
    assert!(v.is_empty());
    let many = vec![0u8; 32 * (MAX_HASHES_PER_MESSAGE + 1)];
    assert!(matches!(
        encode(
            &Message::Hashes {
                req: req(),
                hashes: &many
            },
            &mut v
        ),
        Err(EncodeError::BadHashes { .. })
    ));
    let max = &many[32..];
    encode(
        &Message::Hashes {
            req: req(),
            hashes: max,
        },
        &mut v,
    )
    .unwrap();
    assert_eq!(
        dec(&v),
        (
            Message::Hashes {
                req: req(),
                hashes: max
            },
            v.len()
        )
    );
}

#[test]
fn piece_header_matches_full_encoding() {
    let data = [7u8; 100];
    let mut full = Vec::new();
    encode(
        &Message::Piece {
            piece: 5,
            offset: 0x4000,
            data: &data,
        },
        &mut full,
    )
    .unwrap();
    let mut head = BytesMut::new();
    encode_piece_header(5, 0x4000, data.len() as u32, &mut head).unwrap();
    assert_eq!(head.len(), PIECE_HEADER_LEN);
    head.extend_from_slice(&data);
    assert_eq!(&head[..], &full[..]);
    assert!(matches!(
        encode_piece_header(0, 0, MAX_MESSAGE_LEN, &mut Vec::new()),
        Err(EncodeError::TooLarge { .. })
    ));
    assert!(encode_piece_header(0, 0, MAX_MESSAGE_LEN - 9, &mut Vec::new()).is_ok());
}

#[test]
fn encode_refuses_oversize() {
    let big = vec![0u8; MAX_MESSAGE_LEN as usize];
    let mut v = Vec::new();
    assert!(matches!(
        encode(&Message::Bitfield(&big), &mut v),
        Err(EncodeError::TooLarge { .. })
    ));
    assert!(v.is_empty());
    encode(&Message::Bitfield(&big[1..]), &mut v).unwrap();
    assert_eq!(dec(&v), (Message::Bitfield(&big[1..]), v.len()));
}
