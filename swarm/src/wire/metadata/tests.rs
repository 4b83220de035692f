use super::*;
use piece_core::types::{InfoHashV1, InfoHashV2};

#[test]
fn message_vectors() {
    // From BEP 9.
    let req: &[u8] = b"d8:msg_typei0e5:piecei0ee";
    assert_eq!(
        MetadataMsg::decode(req).unwrap(),
        MetadataMsg::Request { piece: 0 }
    );
    assert_eq!(MetadataMsg::Request { piece: 0 }.encode(), req);

    let rej: &[u8] = b"d8:msg_typei2e5:piecei7ee";
    assert_eq!(
        MetadataMsg::decode(rej).unwrap(),
        MetadataMsg::Reject { piece: 7 }
    );
    assert_eq!(MetadataMsg::Reject { piece: 7 }.encode(), rej);

    let mut data = b"d8:msg_typei1e5:piecei1e10:total_sizei34256ee".to_vec();
    data.extend_from_slice(b"xxxx");
    let msg = MetadataMsg::Data {
        piece: 1,
        total_size: 34256,
        data: b"xxxx",
    };
    assert_eq!(MetadataMsg::decode(&data).unwrap(), msg);
    assert_eq!(msg.encode(), data);
}

#[test]
fn message_errors() {
    assert!(matches!(
        MetadataMsg::decode(b"d8:msg_typei0ee"),
        Err(MetadataMsgError::BadField("piece"))
    ));
    assert!(matches!(
        MetadataMsg::decode(b"d5:piecei0ee"),
        Err(MetadataMsgError::BadField("msg_type"))
    ));
    assert!(matches!(
        MetadataMsg::decode(b"d8:msg_typei1e5:piecei0ee"),
        Err(MetadataMsgError::BadField("total_size"))
    ));
    assert!(matches!(
        MetadataMsg::decode(b"d8:msg_typei0e5:piecei-1ee"),
        Err(MetadataMsgError::BadField("piece"))
    ));
    assert_eq!(
        MetadataMsg::decode(b"d8:msg_typei9e5:piecei0ee"),
        Err(MetadataMsgError::UnknownType(9))
    );
    assert_eq!(
        MetadataMsg::decode(b"d8:msg_typei0e5:piecei0eeXY"),
        Err(MetadataMsgError::BadData(2))
    );
    let mut big = b"d8:msg_typei1e5:piecei0e10:total_sizei99999ee".to_vec();
    big.resize(big.len() + METADATA_PIECE_LEN + 1, 0);
    assert_eq!(
        MetadataMsg::decode(&big),
        Err(MetadataMsgError::BadData(METADATA_PIECE_LEN + 1))
    );
    for b in [&b""[..], b"d8:msg_type", b"d5:piecei0e5:piecei0ee"] {
        assert!(matches!(
            MetadataMsg::decode(b),
            Err(MetadataMsgError::Bencode(_))
        ));
    }
    for b in [&b"i0e"[..], b"le"] {
        assert_eq!(MetadataMsg::decode(b), Err(MetadataMsgError::NotADict));
    }
    assert_eq!(
        MetadataMsg::decode(b"d8:msg_type1:x5:piecei0ee"),
        Err(MetadataMsgError::BadField("msg_type"))
    );
    // A dictionary larger than LIMITS is refused before the data is read.
    let mut long = b"d1:x2000:".to_vec();
    long.resize(long.len() + 2000, b'y');
    long.extend_from_slice(b"8:msg_typei0e5:piecei0ee");
    assert!(matches!(
        MetadataMsg::decode(&long),
        Err(MetadataMsgError::Bencode(_))
    ));
}

#[test]
fn unsorted_keys_and_unknown_keys_accepted() {
    assert_eq!(
        MetadataMsg::decode(b"d5:piecei3e8:msg_typei0e4:zzzzli1eee").unwrap(),
        MetadataMsg::Request { piece: 3 }
    );
}

fn blob(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

fn hashes(b: &[u8], v1: bool, v2: bool) -> InfoHashes {
    InfoHashes {
        v1: v1.then(|| InfoHashV1(Sha1::digest(b).into())),
        v2: v2.then(|| InfoHashV2(Sha256::digest(b).into())),
    }
}

#[test]
fn assemble_out_of_order_all_hash_kinds() {
    let info = blob(2 * METADATA_PIECE_LEN + 100);
    for (v1, v2) in [(true, false), (false, true), (true, true)] {
        let mut a = MetadataAssembler::new(info.len() as u64, hashes(&info, v1, v2)).unwrap();
        assert_eq!(a.num_pieces(), 3);
        for i in [2u32, 0] {
            a.add_piece(i, info.len() as u32, metadata_piece(&info, i).unwrap())
                .unwrap();
        }
        assert_eq!(a.missing().collect::<Vec<_>>(), vec![1]);
        assert_eq!(a.finish(), Err(MetadataError::Incomplete { missing: 1 }));
        a.add_piece(1, info.len() as u32, metadata_piece(&info, 1).unwrap())
            .unwrap();
        assert!(a.is_complete());
        assert_eq!(a.finish().unwrap(), info);
        assert_eq!(a.finish(), Err(MetadataError::Finished));
        assert_eq!(
            a.add_piece(0, info.len() as u32, &info[..METADATA_PIECE_LEN]),
            Err(MetadataError::Finished)
        );
    }
}

#[test]
fn hash_mismatch_resets() {
    let info = blob(100);
    let mut other = info.clone();
    other[5] ^= 1;
    // Hybrid: v1 matches, v2 does not -> mismatch.
    let h = InfoHashes {
        v1: hashes(&info, true, false).v1,
        v2: hashes(&other, false, true).v2,
    };
    let mut a = MetadataAssembler::new(100, h).unwrap();
    a.add_piece(0, 100, &info).unwrap();
    assert_eq!(a.finish(), Err(MetadataError::HashMismatch));
    assert!(!a.is_complete());
    assert_eq!(a.missing().collect::<Vec<_>>(), vec![0]);
}

#[test]
fn assembler_bounds() {
    let h = hashes(b"x", true, false);
    assert!(matches!(
        MetadataAssembler::new(0, h),
        Err(MetadataError::BadSize { .. })
    ));
    assert!(matches!(
        MetadataAssembler::new(MAX_METADATA_SIZE as u64 + 1, h),
        Err(MetadataError::BadSize { .. })
    ));
    assert_eq!(
        MetadataAssembler::new(1, InfoHashes { v1: None, v2: None }).unwrap_err(),
        MetadataError::NoInfoHash
    );
    let size = METADATA_PIECE_LEN as u32 + 10;
    let mut a = MetadataAssembler::new(size as u64, h).unwrap();
    assert_eq!(
        a.add_piece(0, size + 1, &[]),
        Err(MetadataError::SizeMismatch {
            expected: size,
            got: size + 1
        })
    );
    assert_eq!(
        a.add_piece(2, size, &[0; 10]),
        Err(MetadataError::BadPiece { index: 2, count: 2 })
    );
    assert_eq!(
        a.add_piece(1, size, &[0; 11]),
        Err(MetadataError::BadPieceLength {
            index: 1,
            expected: 10,
            got: 11
        })
    );
    assert_eq!(
        a.add_piece(0, size, &[0; 10]),
        Err(MetadataError::BadPieceLength {
            index: 0,
            expected: METADATA_PIECE_LEN,
            got: 10
        })
    );
    assert_eq!(a.missing().count(), 2);
}

#[test]
fn serving_pieces() {
    let info = blob(METADATA_PIECE_LEN * 2);
    assert_eq!(metadata_piece(&info, 0).unwrap().len(), METADATA_PIECE_LEN);
    assert_eq!(
        metadata_piece(&info, 1).unwrap(),
        &info[METADATA_PIECE_LEN..]
    );
    assert_eq!(metadata_piece(&info, 2), None);
    assert_eq!(metadata_piece(&info, u32::MAX), None);
    assert_eq!(metadata_piece(&[], 0), None);
    assert_eq!(metadata_pieces(1), 1);
    assert_eq!(metadata_pieces(METADATA_PIECE_LEN), 1);
    assert_eq!(metadata_pieces(METADATA_PIECE_LEN + 1), 2);
}
