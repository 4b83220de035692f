//! A v1-only .torrent beside each hybrid version, for clients that cannot
//! read hybrid torrents.
//!
//! Why they cannot: a hybrid's info dictionary holds the BEP 52
//! `file tree`, whose file entries sit under an **empty key**
//! (`{"a.pdf": {"": {"length": .., "pieces root": ..}}}`).
//! - Transmission 3.00 (Debian 12, Raspberry Pi OS) refuses any bencoded
//!   dictionary with an empty key: "Error parsing .torrent file", whatever
//!   the key is for.
//! - aria2 1.36 parses it but drops the entries under empty keys, then
//!   computes the info-hash by encoding its parsed dictionary again: the
//!   hash it gets is of another dictionary (not the torrent's v1 hash), so
//!   no peer ever answers it.
//!
//! The companion is the hybrid with its v2 parts removed: the info
//! dictionary without `file tree` and `meta version`, the torrent without
//! `piece layers`. Its `files` (pad files included, BEP 47), `piece length`
//! and `pieces` are the hybrid's, so its pieces are the very pieces the
//! hybrid's v1 half already verified: it is seeded from the same folder
//! with nothing hashed again. It has an info-hash of its own (SHA-1 of the
//! smaller dictionary). Clients that ignore BEP 47 write the pad files
//! (zeros) into a `.pad` folder.
//!
//! The companion is seeded only once someone fetched its .torrent from the
//! page (`Library::v1_torrent`): it is a second torrent of every
//! file in memory, which a Pi should not carry for nobody.

use piece_core::bencode::{self, Encoder, Value};

/// Top-level torrent keys left out of the companion.
const V2_TORRENT_KEYS: &[&[u8]] = &[b"piece layers"];
/// Info keys left out of the companion.
const V2_INFO_KEYS: &[&[u8]] = &[b"file tree", b"meta version"];

/// Why no companion can be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompatError {
    #[error("the torrent is not valid bencode")]
    Bencode(#[from] bencode::BencodeError),
    #[error("the torrent has no info dictionary with v1 pieces (a v2-only torrent)")]
    NotV1,
}

/// The v1-only companion of a hybrid (or v1) torrent.
pub fn v1_torrent(torrent: &[u8]) -> Result<Vec<u8>, CompatError> {
    let top = bencode::decode(torrent)?;
    let (Some(top), Some(info)) = (top.as_dict(), top.get(b"info").and_then(Value::as_dict)) else {
        return Err(CompatError::NotV1);
    };
    if info.get(b"pieces").is_none() {
        return Err(CompatError::NotV1);
    }
    let mut e = Encoder::with_capacity(torrent.len());
    e.begin_dict();
    for (k, v) in &top.entries {
        if V2_TORRENT_KEYS.contains(k) {
            continue;
        }
        e.bytes(k);
        if *k == b"info" {
            e.begin_dict();
            for (ik, iv) in info
                .entries
                .iter()
                .filter(|(k, _)| !V2_INFO_KEYS.contains(k))
            {
                e.bytes(ik).value(iv);
            }
            e.end();
        } else {
            e.value(v);
        }
    }
    e.end();
    Ok(e.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use piece_core::metainfo::{Metainfo, Version};

    fn has_empty_key(v: &Value<'_>) -> bool {
        match v {
            Value::Dict(d) => d
                .entries
                .iter()
                .any(|(k, v)| k.is_empty() || has_empty_key(v)),
            Value::List(l) => l.iter().any(has_empty_key),
            _ => false,
        }
    }

    #[test]
    fn the_companion_is_the_hybrids_v1_half_without_empty_keys() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("zines");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("a.pdf"), vec![1u8; 100_000]).unwrap();
        std::fs::write(src.join("sub/b.txt"), vec![2u8; 30_000]).unwrap();
        let made = piece_core::create::create_torrent(&src, &Default::default(), None).unwrap();
        let hybrid = Metainfo::from_bytes(&made.bytes).unwrap();
        assert!(has_empty_key(&bencode::decode(&made.bytes).unwrap()));
        let bytes = v1_torrent(&made.bytes).unwrap();
        assert!(!has_empty_key(&bencode::decode(&bytes).unwrap()));
        let v1 = Metainfo::from_bytes(&bytes).unwrap();
        assert_eq!(v1.info.version, Version::V1);
        assert!(v1.info_hashes.v2.is_none());
        assert_ne!(
            v1.info_hashes.v1, hybrid.info_hashes.v1,
            "an info-hash of its own"
        );
        // The same files and pieces: seeded from the hybrid's data as is.
        let files = |m: &Metainfo| -> Vec<_> {
            m.info
                .files
                .iter()
                .map(|f| (f.path.clone(), f.length, f.pad))
                .collect()
        };
        assert_eq!(files(&v1), files(&hybrid));
        assert!(v1.info.pieces_v1.is_some());
        assert_eq!(v1.info.pieces_v1, hybrid.info.pieces_v1);
        assert_eq!(v1.info.piece_length, hybrid.info.piece_length);
        assert_eq!(v1.info.name, hybrid.info.name);
        // A v2-only torrent has no v1 half.
        let opts = piece_core::create::CreateOptions {
            version: Version::V2,
            ..Default::default()
        };
        let v2 = piece_core::create::create_torrent(&src, &opts, None).unwrap();
        assert!(matches!(v1_torrent(&v2.bytes), Err(CompatError::NotV1)));
        assert!(v1_torrent(b"garbage").is_err());
    }
}
