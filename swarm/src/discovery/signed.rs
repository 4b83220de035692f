//! Signed collection versions: a stable identity for "the latest version
//! of this seedbox's zines collection".
//!
//! A publisher holds an Ed25519 key pair. Each version of a collection is a
//! different torrent (different info-hash); the publisher signs
//! *(collection name, title, sequence number, info-hashes)* with its key.
//! Followers
//! (mirrors) pin the public key, accept only records whose signature checks
//! and whose sequence number is higher than the one they hold, and so can
//! neither be fooled by a forged collection of the same name nor rolled back
//! to an old version, nor shown a collection under a title the publisher
//! did not give it.
//!
//! # Signed message
//!
//! A record with a title (what [`Publisher::sign`] makes):
//!
//! ```text
//! "swarm-collection-v2\0"
//! u16 big-endian name length, name bytes (UTF-8)
//! u16 big-endian title length, title bytes (UTF-8)
//! u64 big-endian sequence number
//! 20 bytes v1 info-hash, or 20 zero bytes when absent
//! 32 bytes v2 info-hash, or 32 zero bytes when absent
//! ```
//!
//! A record without a title (made by earlier versions; still verified, so
//! their collections can be followed) signs the same fields without the
//! title, after the prefix `"swarm-collection-v1\0"`. The two prefixes
//! keep the formats apart: a signature over one never verifies as the
//! other, so a titled record cannot be stripped of its title, nor an old
//! record given one. The title is 1 to [`MAX_TITLE`] bytes without control
//! characters ([`RecordError::BadTitle`]).
//!
//! An all-zero info-hash cannot be told apart from an absent one, so it is
//! never signed nor verified ([`RecordError::ZeroHash`]).
//!
//! # In the catalogue
//!
//! A catalogue entry (see [`super::catalogue`]) may carry the record as
//! `"col": { "key": <64 hex>, "seq": <int>, "sig": <128 hex>, "title":
//! <utf-8> }` (`title` absent in an untitled record); the name and
//! info-hashes are the entry's own. An entry whose record does not
//! verify is kept as a plain share without the record.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use piece_core::types::InfoHashes;

/// Prefix of an untitled (version 1) record's message.
const DOMAIN_V1: &[u8] = b"swarm-collection-v1\0";
/// Prefix of a titled (version 2) record's message.
const DOMAIN_V2: &[u8] = b"swarm-collection-v2\0";

/// Longest collection name that can be signed (bytes).
pub const MAX_COLLECTION_NAME: usize = 1024;
/// Longest collection title that can be signed (bytes).
pub const MAX_TITLE: usize = 256;
/// Highest sequence number that can be signed: the largest bencode
/// integer, so every record fits a catalogue entry unchanged.
pub const MAX_SEQ: u64 = i64::MAX as u64;

/// A publisher's public key: the collection's identity.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublisherKey(pub [u8; 32]);

impl PublisherKey {
    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    /// Parse 64 hex digits.
    pub fn from_hex(s: &str) -> Option<Self> {
        let mut k = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut k).ok()?;
        // Must be a valid curve point to ever verify anything.
        VerifyingKey::from_bytes(&k).ok()?;
        Some(PublisherKey(k))
    }
}

impl std::fmt::Debug for PublisherKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublisherKey({})", self.to_hex())
    }
}

impl std::fmt::Display for PublisherKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The signature part of a version record, as carried in a catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectionSig {
    /// The publisher's Ed25519 public key.
    pub key: PublisherKey,
    /// The version's sequence number (higher is newer).
    pub seq: u64,
    /// The Ed25519 signature of [`signed_message`].
    pub sig: [u8; 64],
    /// The collection's title as the publisher gave it (covered by the
    /// signature); `None` in a record of the untitled format.
    pub title: Option<String>,
}

/// Why a record was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordError {
    /// The collection name is empty or too long.
    #[error("collection name is empty or longer than {MAX_COLLECTION_NAME} bytes")]
    BadName,
    /// The title is empty, too long or has control characters.
    #[error("collection title is empty, longer than {MAX_TITLE} bytes or has control characters")]
    BadTitle,
    /// The record names neither a v1 nor a v2 info-hash.
    #[error("record names no info-hash")]
    NoHash,
    /// The sequence number is beyond [`MAX_SEQ`].
    #[error("sequence number is larger than {MAX_SEQ}")]
    BadSeq,
    /// An info-hash of all zeros.
    #[error("an all-zero info-hash reads as an absent one")]
    ZeroHash,
    /// The key is not a valid Ed25519 point.
    #[error("publisher key is not a valid Ed25519 key")]
    BadKey,
    /// The signature does not verify under the key.
    #[error("signature does not verify")]
    BadSignature,
}

/// The bytes that are signed for `(name, title, seq, hashes)`: the titled
/// format, or the untitled one for `title: None`.
pub fn signed_message(
    name: &str,
    title: Option<&str>,
    seq: u64,
    hashes: &InfoHashes,
) -> Result<Vec<u8>, RecordError> {
    if name.is_empty() || name.len() > MAX_COLLECTION_NAME {
        return Err(RecordError::BadName);
    }
    if title.is_some_and(|t| t.is_empty() || t.len() > MAX_TITLE || t.chars().any(char::is_control))
    {
        return Err(RecordError::BadTitle);
    }
    if hashes.v1.is_none() && hashes.v2.is_none() {
        return Err(RecordError::NoHash);
    }
    if seq > MAX_SEQ {
        return Err(RecordError::BadSeq);
    }
    if hashes.v1.is_some_and(|h| h.0 == [0; 20]) || hashes.v2.is_some_and(|h| h.0 == [0; 32]) {
        return Err(RecordError::ZeroHash);
    }
    let title_len = title.map_or(0, |t| 2 + t.len());
    let mut m = Vec::with_capacity(DOMAIN_V2.len() + 2 + name.len() + title_len + 8 + 52);
    m.extend_from_slice(if title.is_some() {
        DOMAIN_V2
    } else {
        DOMAIN_V1
    });
    m.extend_from_slice(&(name.len() as u16).to_be_bytes());
    m.extend_from_slice(name.as_bytes());
    if let Some(t) = title {
        m.extend_from_slice(&(t.len() as u16).to_be_bytes());
        m.extend_from_slice(t.as_bytes());
    }
    m.extend_from_slice(&seq.to_be_bytes());
    match hashes.v1 {
        Some(h) => m.extend_from_slice(&h.0),
        None => m.extend_from_slice(&[0; 20]),
    }
    match hashes.v2 {
        Some(h) => m.extend_from_slice(&h.0),
        None => m.extend_from_slice(&[0; 32]),
    }
    Ok(m)
}

/// A publisher's key pair.
pub struct Publisher {
    key: SigningKey,
}

impl Publisher {
    /// A new random key pair.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
        Publisher::from_seed(seed)
    }
    /// The key pair of a 32-byte secret seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Publisher {
            key: SigningKey::from_bytes(&seed),
        }
    }
    /// The secret seed (keep it private).
    pub fn seed(&self) -> [u8; 32] {
        self.key.to_bytes()
    }
    /// The public key.
    pub fn public(&self) -> PublisherKey {
        PublisherKey(self.key.verifying_key().to_bytes())
    }
    /// Sign version `seq` of collection `name`, titled `title`.
    pub fn sign(
        &self,
        name: &str,
        title: &str,
        seq: u64,
        hashes: &InfoHashes,
    ) -> Result<CollectionSig, RecordError> {
        let m = signed_message(name, Some(title), seq, hashes)?;
        Ok(CollectionSig {
            key: self.public(),
            seq,
            sig: self.key.sign(&m).to_bytes(),
            title: Some(title.to_owned()),
        })
    }
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Publisher({})", self.public())
    }
}

impl CollectionSig {
    /// Check that this signature covers `(name, self.title, self.seq,
    /// hashes)`.
    pub fn verify(&self, name: &str, hashes: &InfoHashes) -> Result<(), RecordError> {
        let m = signed_message(name, self.title.as_deref(), self.seq, hashes)?;
        let key = VerifyingKey::from_bytes(&self.key.0).map_err(|_| RecordError::BadKey)?;
        key.verify_strict(&m, &Signature::from_bytes(&self.sig))
            .map_err(|_| RecordError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use piece_core::types::{InfoHashV1, InfoHashV2};

    fn hashes(b: u8) -> InfoHashes {
        InfoHashes {
            v1: Some(InfoHashV1([b; 20])),
            v2: Some(InfoHashV2([b; 32])),
        }
    }

    #[test]
    fn sign_and_verify() {
        let p = Publisher::from_seed([7; 32]);
        let s = p.sign("zines", "Zines", 3, &hashes(1)).unwrap();
        assert_eq!(s.verify("zines", &hashes(1)), Ok(()));
        assert_eq!(s.seq, 3);
        assert_eq!(PublisherKey::from_hex(&s.key.to_hex()), Some(s.key));
    }

    #[test]
    fn forgeries_are_refused() {
        let p = Publisher::from_seed([7; 32]);
        let s = p.sign("zines", "Zines", 3, &hashes(1)).unwrap();
        // Other name, other torrent, other seq, other key.
        assert_eq!(s.verify("zine", &hashes(1)), Err(RecordError::BadSignature));
        assert_eq!(
            s.verify("zines", &hashes(2)),
            Err(RecordError::BadSignature)
        );
        let mut t = s.clone();
        t.seq = 4;
        assert_eq!(
            t.verify("zines", &hashes(1)),
            Err(RecordError::BadSignature)
        );
        let mut u = s.clone();
        u.key = Publisher::from_seed([8; 32]).public();
        assert_eq!(
            u.verify("zines", &hashes(1)),
            Err(RecordError::BadSignature)
        );
        let mut v = s;
        v.sig[0] ^= 1;
        assert_eq!(
            v.verify("zines", &hashes(1)),
            Err(RecordError::BadSignature)
        );
    }

    #[test]
    fn the_title_is_signed_and_formats_do_not_mix() {
        let p = Publisher::from_seed([7; 32]);
        let s = p
            .sign("zines", "Zines of the Northside", 3, &hashes(1))
            .unwrap();
        assert_eq!(s.title.as_deref(), Some("Zines of the Northside"));
        // A hostile peer renames the collection: refused.
        let mut renamed = s.clone();
        renamed.title = Some("Buy pills here".into());
        assert_eq!(
            renamed.verify("zines", &hashes(1)),
            Err(RecordError::BadSignature)
        );
        // Stripping the title does not leave an untitled record that verifies.
        let mut stripped = s.clone();
        stripped.title = None;
        assert_eq!(
            stripped.verify("zines", &hashes(1)),
            Err(RecordError::BadSignature)
        );
        // An untitled record (earlier format) still verifies, and cannot
        // be given a title.
        let m = signed_message("zines", None, 3, &hashes(1)).unwrap();
        assert!(m.starts_with(DOMAIN_V1));
        let old = CollectionSig {
            key: p.public(),
            seq: 3,
            sig: p.key.sign(&m).to_bytes(),
            title: None,
        };
        assert_eq!(old.verify("zines", &hashes(1)), Ok(()));
        let mut titled = old;
        titled.title = Some("zines".into());
        assert_eq!(
            titled.verify("zines", &hashes(1)),
            Err(RecordError::BadSignature)
        );
        // Name and title are length-prefixed: moving bytes between them
        // is another message.
        let a = signed_message("ab", Some("c"), 1, &hashes(1)).unwrap();
        let b = signed_message("a", Some("bc"), 1, &hashes(1)).unwrap();
        assert_ne!(a, b);
        // Title limits.
        for bad in ["", "line\nbreak", &"t".repeat(MAX_TITLE + 1)] {
            assert_eq!(
                p.sign("zines", bad, 1, &hashes(1)),
                Err(RecordError::BadTitle),
                "{bad:?}"
            );
        }
        assert!(p
            .sign("zines", &"é".repeat(MAX_TITLE / 2), 1, &hashes(1))
            .is_ok());
    }

    #[test]
    fn bad_inputs() {
        let p = Publisher::generate();
        assert_eq!(p.sign("", "t", 1, &hashes(1)), Err(RecordError::BadName));
        let none = InfoHashes { v1: None, v2: None };
        assert_eq!(p.sign("a", "t", 1, &none), Err(RecordError::NoHash));
        // Found by the `signed` fuzz target: a record with a sequence
        // number beyond i64 was signed but could not cross a catalogue
        // (bencode integers are i64) and was silently dropped there.
        assert_eq!(
            p.sign("a", "t", MAX_SEQ + 1, &hashes(1)),
            Err(RecordError::BadSeq)
        );
        let top = p.sign("a", "t", MAX_SEQ, &hashes(1)).unwrap();
        let mut over = top.clone();
        over.seq = MAX_SEQ + 1;
        assert_eq!(over.verify("a", &hashes(1)), Err(RecordError::BadSeq));
        let mut share = crate::discovery::catalogue::Share::new("a", 1, 1, hashes(1));
        share.collection = Some(top.clone());
        let cat = crate::discovery::catalogue::Catalogue {
            shares: vec![share],
        };
        let back = crate::discovery::catalogue::Catalogue::decode(&cat.encode().unwrap()).unwrap();
        assert_eq!(back.shares[0].collection, Some(top));
        // Also found by fuzzing: absent hashes are signed as zeros, so a
        // v2-only record also verified for "v1 = 000...0". Zero hashes are
        // refused both ways now.
        let v2_only = InfoHashes {
            v1: None,
            v2: Some(InfoHashV2([5; 32])),
        };
        let rec = p.sign("a", "t", 1, &v2_only).unwrap();
        let claimed = InfoHashes {
            v1: Some(InfoHashV1([0; 20])),
            ..v2_only
        };
        assert_eq!(rec.verify("a", &claimed), Err(RecordError::ZeroHash));
        assert_eq!(p.sign("a", "t", 1, &claimed), Err(RecordError::ZeroHash));
        assert_eq!(PublisherKey::from_hex("zz"), None);
        assert_eq!(PublisherKey::from_hex(&"00".repeat(31)), None);
    }
}
