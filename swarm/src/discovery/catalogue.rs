//! The share catalogue: what a peer on the LAN offers, asked over the
//! BitTorrent TCP port.
//!
//! # Wire format
//!
//! The asker connects to the peer's BitTorrent TCP port and sends an
//! ordinary 68-byte BitTorrent handshake (`\x13BitTorrent protocol`, 8
//! reserved bytes, info-hash, peer id) whose info-hash is the fixed
//! pseudo-hash [`CATALOGUE_HASH`] = SHA-1(`"swarm-catalogue-v1"`). A
//! listener that routes by info-hash hands such connections to
//! [`serve_after_handshake`], which answers with its own 68-byte handshake
//! carrying the same pseudo-hash, then one frame and closes:
//!
//! ```text
//! <u32 big-endian length> <bencoded catalogue of that length>
//! ```
//!
//! The catalogue is a bencoded dictionary:
//!
//! ```text
//! { "v": 1,
//!   "shares": [ { "name":   <utf-8 string>,
//!                 "size":   <total bytes>,
//!                 "files":  <number of files>,
//!                 "btih":   <40 hex, v1 info-hash>        (optional)
//!                 "btmh":   <64 hex, v2 info-hash>        (optional)
//!                 "magnet": <magnet link>,
//!                 "col":    { "key":   <64 hex, publisher key>,   (optional)
//!                             "seq":   <version number>,
//!                             "sig":   <128 hex, Ed25519 signature>,
//!                             "title": <utf-8 title> } } ... ] }  (optional)
//! ```
//!
//! At least one of `btih` / `btmh` is present in each entry. `col` is a
//! signed collection version (see [`super::signed`] for what it signs):
//! kept only if it verifies over the entry's name and info-hashes, else
//! the entry is kept as a plain share. The frame is
//! at most [`MAX_CATALOGUE_BYTES`] and holds at most [`MAX_SHARES`]
//! entries. Entries that break the rules (bad hash, control characters in
//! the name, over-long fields) are dropped on reading; a broken frame is an
//! error. Nothing here is trusted: the info-hash is what later verifies
//! the data.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use piece_core::types::{InfoHashV1, InfoHashV2, InfoHashes};
use sha1::{Digest, Sha1};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use piece_core::bencode::{self, BencodeError, Encoder, KeyOrder, Limits, Value};

use super::signed::{CollectionSig, PublisherKey};

/// Largest catalogue frame accepted or sent.
pub const MAX_CATALOGUE_BYTES: usize = 1024 * 1024;
/// Most entries in one catalogue.
pub const MAX_SHARES: usize = 10_000;
/// Longest share name kept (bytes).
pub const MAX_NAME_BYTES: usize = 1024;
/// Longest magnet link kept (bytes).
pub const MAX_MAGNET_BYTES: usize = 8 * 1024;
/// Bencode limits of a catalogue: [`MAX_CATALOGUE_BYTES`], nesting 8 (it
/// needs 4), 200,000 values, keys sorted (we write every catalogue).
pub const LIMITS: Limits = Limits {
    max_len: MAX_CATALOGUE_BYTES,
    max_depth: 8,
    max_tokens: 200_000,
    key_order: KeyOrder::Strict,
};

const PSTR: &[u8; 20] = b"\x13BitTorrent protocol";

/// The pseudo info-hash that asks for the catalogue instead of a torrent:
/// SHA-1 of `"swarm-catalogue-v1"`.
pub fn catalogue_hash() -> [u8; 20] {
    Sha1::digest(b"swarm-catalogue-v1").into()
}

/// [`catalogue_hash`] as a constant for matching (checked by a test).
pub const CATALOGUE_HASH: [u8; 20] = [
    0xa8, 0x91, 0xc6, 0xc6, 0x35, 0x36, 0xc6, 0xcb, 0x3b, 0x1d, 0x84, 0x54, 0xde, 0xa4, 0x44, 0xe8,
    0x4c, 0x88, 0xeb, 0x72,
];

/// One shared torrent as listed in a catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Share {
    /// Human name (the torrent's `name`).
    pub name: String,
    /// Total size in bytes.
    pub size: u64,
    /// Number of files.
    pub files: u32,
    /// v1 and/or v2 info-hash (at least one).
    pub info_hashes: InfoHashes,
    /// A magnet link for it.
    pub magnet: String,
    /// For a version of a signed collection (a seedbox's): the publisher's
    /// signature over (name, sequence number, info-hashes). Only records
    /// that verify are kept when reading a catalogue.
    pub collection: Option<CollectionSig>,
}

impl Share {
    /// A share entry whose magnet is built from the hashes and name.
    pub fn new(name: impl Into<String>, size: u64, files: u32, info_hashes: InfoHashes) -> Self {
        let name = name.into();
        let magnet = magnet_for(&name, &info_hashes);
        Share {
            name,
            size,
            files,
            info_hashes,
            magnet,
            collection: None,
        }
    }

    /// A stable key for grouping the same torrent offered by several
    /// peers: the v1 hash, or the v2 hash for v2-only torrents.
    pub fn key(&self) -> String {
        match (self.info_hashes.v1, self.info_hashes.v2) {
            (Some(h), _) => h.to_hex(),
            (None, Some(h)) => h.to_hex(),
            (None, None) => String::new(),
        }
    }
}

/// The list of shares one peer offers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Catalogue {
    /// The shares, in the order the peer lists them.
    pub shares: Vec<Share>,
}

/// Failures reading, writing or asking for a catalogue.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogueError {
    /// More shares than [`MAX_SHARES`].
    #[error("catalogue has {count} shares, more than the limit of {MAX_SHARES}")]
    TooManyShares {
        /// Shares in the catalogue.
        count: usize,
    },
    /// Larger than [`MAX_CATALOGUE_BYTES`].
    #[error("catalogue is {len} bytes, more than the limit of {MAX_CATALOGUE_BYTES}")]
    TooLarge {
        /// Catalogue size in bytes.
        len: usize,
    },
    /// The catalogue is not valid bencode.
    #[error("catalogue is not valid bencode")]
    Bencode(#[from] BencodeError),
    /// A field is missing or of the wrong type (which).
    #[error("catalogue is malformed: {0}")]
    Malformed(&'static str),
    /// A catalogue format version other than 1.
    #[error("catalogue version {0} is not supported (expected 1)")]
    Version(i64),
    /// The peer did not answer with a BitTorrent handshake.
    #[error("peer did not answer with a BitTorrent handshake")]
    BadHandshake,
    /// The peer answered for another info-hash: it serves no catalogue.
    #[error("peer does not serve a catalogue (it answered for another info-hash)")]
    NotServed,
    /// No answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The connection failed.
    #[error("catalogue connection failed")]
    Io(#[from] std::io::Error),
}

impl Catalogue {
    /// Bencode the catalogue (without the length prefix).
    pub fn encode(&self) -> Result<Vec<u8>, CatalogueError> {
        if self.shares.len() > MAX_SHARES {
            return Err(CatalogueError::TooManyShares {
                count: self.shares.len(),
            });
        }
        let mut e = Encoder::new();
        e.begin_dict().str("shares").begin_list();
        for s in &self.shares {
            encode_share(&mut e, s);
        }
        e.end().str("v").int(1).end();
        let out = e.finish();
        if out.len() > MAX_CATALOGUE_BYTES {
            return Err(CatalogueError::TooLarge { len: out.len() });
        }
        Ok(out)
    }

    /// Decode a bencoded catalogue; invalid entries are dropped.
    pub fn decode(buf: &[u8]) -> Result<Catalogue, CatalogueError> {
        if buf.len() > MAX_CATALOGUE_BYTES {
            return Err(CatalogueError::TooLarge { len: buf.len() });
        }
        let v = bencode::decode_with(buf, LIMITS)?;
        match v.get(b"v").and_then(Value::as_int) {
            Some(1) => {}
            Some(other) => return Err(CatalogueError::Version(other)),
            None => return Err(CatalogueError::Malformed("missing version \"v\"")),
        }
        let list = v
            .get(b"shares")
            .and_then(Value::as_list)
            .ok_or(CatalogueError::Malformed("missing list \"shares\""))?;
        if list.len() > MAX_SHARES {
            return Err(CatalogueError::TooManyShares { count: list.len() });
        }
        Ok(Catalogue {
            shares: list.iter().filter_map(share_from_value).collect(),
        })
    }
}

/// One share as a dictionary (keys in sorted order).
fn encode_share(e: &mut Encoder, s: &Share) {
    e.begin_dict();
    if let Some(h) = s.info_hashes.v1 {
        e.str("btih").str(&h.to_hex());
    }
    if let Some(h) = s.info_hashes.v2 {
        e.str("btmh").str(&h.to_hex());
    }
    if let Some(c) = &s.collection {
        e.str("col").begin_dict();
        e.str("key").str(&c.key.to_hex());
        e.str("seq").int(i64::try_from(c.seq).unwrap_or(i64::MAX));
        e.str("sig").str(&hex::encode(c.sig));
        if let Some(t) = &c.title {
            e.str("title").str(t);
        }
        e.end();
    }
    e.str("files").int(i64::from(s.files));
    e.str("magnet").str(&s.magnet);
    e.str("name").str(&s.name);
    e.str("size").int(i64::try_from(s.size).unwrap_or(i64::MAX));
    e.end();
}

fn share_from_value(v: &Value<'_>) -> Option<Share> {
    let name = v.get(b"name")?.as_str()?;
    if name.is_empty() || name.len() > MAX_NAME_BYTES || name.chars().any(char::is_control) {
        return None;
    }
    let size = u64::try_from(v.get(b"size")?.as_int()?).ok()?;
    let files = u32::try_from(v.get(b"files")?.as_int()?).ok()?;
    let v1 = match v.get(b"btih") {
        Some(h) => Some(InfoHashV1::from_hex(h.as_str()?)?),
        None => None,
    };
    let v2 = match v.get(b"btmh") {
        Some(h) => Some(InfoHashV2::from_hex(h.as_str()?)?),
        None => None,
    };
    if v1.is_none() && v2.is_none() {
        return None;
    }
    let info_hashes = InfoHashes { v1, v2 };
    // Keep the peer's magnet only if it is a bounded magnet link naming the
    // same torrent; otherwise build our own from the checked hashes.
    let magnet = v
        .get(b"magnet")
        .and_then(Value::as_str)
        .filter(|m| magnet_names(m, &info_hashes))
        .map(str::to_owned)
        .unwrap_or_else(|| magnet_for(name, &info_hashes));
    let collection = v
        .get(b"col")
        .and_then(|c| collection_from_value(c, name, &info_hashes));
    Some(Share {
        name: name.to_owned(),
        size,
        files,
        info_hashes,
        magnet,
        collection,
    })
}

/// A `col` record, kept only if its signature covers this entry.
fn collection_from_value(c: &Value<'_>, name: &str, h: &InfoHashes) -> Option<CollectionSig> {
    let key = PublisherKey::from_hex(c.get(b"key")?.as_str()?)?;
    let seq = u64::try_from(c.get(b"seq")?.as_int()?).ok()?;
    let mut sig = [0u8; 64];
    hex::decode_to_slice(c.get(b"sig")?.as_str()?, &mut sig).ok()?;
    let title = match c.get(b"title") {
        Some(t) => Some(t.as_str()?.to_owned()),
        None => None,
    };
    let rec = CollectionSig {
        key,
        seq,
        sig,
        title,
    };
    match rec.verify(name, h) {
        Ok(()) => Some(rec),
        Err(e) => {
            tracing::debug!("dropping collection record for {name:?}: {e}");
            None
        }
    }
}

/// Whether `m` is a bounded magnet link whose info-hashes, as a magnet
/// parser reads them, are exactly `h` (both v1 and v2: a link that names
/// another torrent, or only half of a hybrid, is not this entry's).
fn magnet_names(m: &str, h: &InfoHashes) -> bool {
    if m.len() > MAX_MAGNET_BYTES || !m.starts_with("magnet:?") || m.chars().any(char::is_control) {
        return false;
    }
    piece_core::magnet::Magnet::parse(m).is_ok_and(|p| p.v1 == h.v1 && p.v2 == h.v2)
}

/// A magnet link for a torrent: `magnet:?xt=urn:btih:<hex>&xt=urn:btmh:1220<hex>&dn=<name>`.
pub fn magnet_for(name: &str, h: &InfoHashes) -> String {
    let mut m = String::from("magnet:?");
    let mut sep = "";
    if let Some(v1) = h.v1 {
        let _ = write!(m, "xt=urn:btih:{}", v1.to_hex());
        sep = "&";
    }
    if let Some(v2) = h.v2 {
        let _ = write!(m, "{sep}xt=urn:btmh:1220{}", v2.to_hex());
    }
    m.push_str("&dn=");
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            m.push(b as char);
        } else {
            let _ = write!(m, "%{b:02X}");
        }
    }
    m
}

fn handshake(peer_id: &[u8; 20]) -> [u8; 68] {
    let mut h = [0u8; 68];
    h[..20].copy_from_slice(PSTR);
    h[28..48].copy_from_slice(&CATALOGUE_HASH);
    h[48..].copy_from_slice(peer_id);
    h
}

/// Answer a catalogue request whose 68-byte handshake the caller has
/// already read and routed by [`CATALOGUE_HASH`]: send our handshake, the
/// length-prefixed catalogue, then shut the write side down.
pub async fn serve_after_handshake<S>(
    stream: &mut S,
    peer_id: &[u8; 20],
    catalogue: &Catalogue,
) -> Result<(), CatalogueError>
where
    S: AsyncWrite + Unpin,
{
    let body = catalogue.encode()?;
    let mut out = Vec::with_capacity(68 + 4 + body.len());
    out.extend_from_slice(&handshake(peer_id));
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    stream.write_all(&out).await?;
    stream.shutdown().await?;
    Ok(())
}

/// Read the asker's handshake, check it asks for the catalogue, then answer
/// as [`serve_after_handshake`]. For a listener of its own; a BitTorrent
/// listener that already read the handshake uses
/// [`serve_after_handshake`].
pub async fn serve<S>(
    stream: &mut S,
    peer_id: &[u8; 20],
    catalogue: &Catalogue,
) -> Result<(), CatalogueError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut hs = [0u8; 68];
    stream.read_exact(&mut hs).await?;
    if &hs[..20] != PSTR {
        return Err(CatalogueError::BadHandshake);
    }
    if hs[28..48] != CATALOGUE_HASH {
        return Err(CatalogueError::NotServed);
    }
    serve_after_handshake(stream, peer_id, catalogue).await
}

/// Ask the peer at `addr` for its catalogue, all within `timeout`.
pub async fn query(addr: SocketAddr, timeout: Duration) -> Result<Catalogue, CatalogueError> {
    tokio::time::timeout(timeout, async {
        let mut s = TcpStream::connect(addr).await?;
        query_on(&mut s).await
    })
    .await
    .map_err(|_| CatalogueError::Timeout(timeout))?
}

/// Ask for the catalogue on an open stream (no timeout of its own).
pub async fn query_on<S>(stream: &mut S) -> Result<Catalogue, CatalogueError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let peer_id: [u8; 20] = rand::random();
    stream.write_all(&handshake(&peer_id)).await?;
    let mut hs = [0u8; 68];
    stream
        .read_exact(&mut hs)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => CatalogueError::NotServed,
            _ => CatalogueError::Io(e),
        })?;
    if &hs[..20] != PSTR {
        return Err(CatalogueError::BadHandshake);
    }
    if hs[28..48] != CATALOGUE_HASH {
        return Err(CatalogueError::NotServed);
    }
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_CATALOGUE_BYTES {
        return Err(CatalogueError::TooLarge { len });
    }
    // Grow with the data actually received, not with the announced length.
    let mut body = Vec::with_capacity(len.min(64 * 1024));
    let got = (&mut *stream)
        .take(len as u64)
        .read_to_end(&mut body)
        .await?;
    if got != len {
        return Err(CatalogueError::Io(std::io::ErrorKind::UnexpectedEof.into()));
    }
    Catalogue::decode(&body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn signed_collection_records_round_trip_and_forgeries_are_dropped() {
        use crate::discovery::signed::Publisher;
        let h = InfoHashes {
            v1: Some(InfoHashV1([3; 20])),
            v2: Some(InfoHashV2([4; 32])),
        };
        let p = Publisher::from_seed([9; 32]);
        let mut good = Share::new("zines", 10, 2, h);
        good.collection = Some(p.sign("zines", "Zines", 5, &h).unwrap());
        // Same record pasted onto another torrent: must not survive.
        let other = InfoHashes {
            v1: Some(InfoHashV1([5; 20])),
            v2: None,
        };
        let mut forged = Share::new("zines", 10, 2, other);
        forged.collection = good.collection.clone();
        // The right torrent under another title: must not survive either.
        let mut renamed = good.clone();
        if let Some(c) = renamed.collection.as_mut() {
            c.title = Some("Renamed by a stranger".into());
        }
        let cat = Catalogue {
            shares: vec![good.clone(), forged, renamed],
        };
        let back = Catalogue::decode(&cat.encode().unwrap()).unwrap();
        assert_eq!(back.shares.len(), 3);
        assert_eq!(back.shares[0], good);
        let col = back.shares[0].collection.as_ref().unwrap();
        assert_eq!((col.seq, col.title.as_deref()), (5, Some("Zines")));
        assert_eq!(back.shares[1].collection, None);
        assert_eq!(back.shares[2].collection, None);
    }

    fn sample() -> Catalogue {
        Catalogue {
            shares: vec![
                Share::new(
                    "zines",
                    12345,
                    3,
                    InfoHashes {
                        v1: Some(InfoHashV1([1; 20])),
                        v2: Some(InfoHashV2([2; 32])),
                    },
                ),
                Share::new(
                    "v2 only ü",
                    0,
                    1,
                    InfoHashes {
                        v1: None,
                        v2: Some(InfoHashV2([9; 32])),
                    },
                ),
            ],
        }
    }

    #[test]
    fn pseudo_hash_constant_matches() {
        assert_eq!(catalogue_hash(), CATALOGUE_HASH);
    }

    #[test]
    fn round_trip() {
        let c = sample();
        let enc = c.encode().unwrap();
        assert_eq!(Catalogue::decode(&enc).unwrap(), c);
        assert!(c.shares[1].magnet.ends_with("&dn=v2%20only%20%C3%BC"));
        assert!(c.shares[1].magnet.starts_with("magnet:?xt=urn:btmh:1220"));
    }

    #[test]
    fn bad_entries_are_dropped_and_bad_magnets_replaced() {
        let mut c = sample();
        c.shares[0].name = "evil\nname".into();
        c.shares[1].magnet = "magnet:?xt=urn:btih:0000000000000000000000000000000000000000".into();
        let enc = c.encode().unwrap();
        let d = Catalogue::decode(&enc).unwrap();
        assert_eq!(d.shares.len(), 1);
        assert_eq!(
            d.shares[0].magnet,
            magnet_for("v2 only ü", &d.shares[0].info_hashes)
        );
        // no hash at all
        let raw = b"d6:sharesld5:filesi1e4:name1:x4:sizei1eee1:vi1ee";
        assert_eq!(Catalogue::decode(raw).unwrap().shares.len(), 0);
    }

    #[test]
    fn a_magnet_naming_another_torrent_is_replaced() {
        // The signed hashes appear only as text inside an unknown key: a
        // magnet parser fetches EVIL. The entry must carry its own link.
        let real = sample().shares[0].info_hashes;
        let (v1, v2) = (real.v1.unwrap().to_hex(), real.v2.unwrap().to_hex());
        let evil = "e".repeat(40);
        for m in [
            format!("magnet:?xt=urn:btih:{evil}&zz=xt=urn:btih:{v1}&yy=xt=urn:btmh:1220{v2}"),
            format!("magnet:?xt=urn:btih:{v1}"),
            format!("magnet:?xt=urn:btmh:1220{v2}&dn=x"),
            format!("magnet:?xt=urn:btih:{v1}&xt=urn:btmh:1220{v2}&xt=urn:btih:{evil}"),
        ] {
            let mut c = sample();
            c.shares[0].magnet = m.clone();
            let d = Catalogue::decode(&c.encode().unwrap()).unwrap();
            assert_eq!(d.shares[0].magnet, magnet_for("zines", &real), "{m}");
        }
        // The same torrent in another spelling (peers, name) is kept.
        let mut c = sample();
        let ok = format!(
            "magnet:?xt=urn:btmh:1220{v2}&xt=urn:btih:{}&x.pe=10.0.0.1:6881",
            v1.to_uppercase()
        );
        c.shares[0].magnet = ok.clone();
        assert_eq!(
            Catalogue::decode(&c.encode().unwrap()).unwrap().shares[0].magnet,
            ok
        );
    }

    #[test]
    fn bounds() {
        let one = sample().shares[0].clone();
        let big = Catalogue {
            shares: vec![one; MAX_SHARES + 1],
        };
        assert!(matches!(
            big.encode(),
            Err(CatalogueError::TooManyShares { .. })
        ));
        let long = Share::new("x".repeat(200_000), 1, 1, sample().shares[0].info_hashes);
        let big = Catalogue {
            shares: vec![long; 6],
        };
        assert!(matches!(big.encode(), Err(CatalogueError::TooLarge { .. })));
        assert!(matches!(
            Catalogue::decode(&vec![b'0'; MAX_CATALOGUE_BYTES + 1]),
            Err(CatalogueError::TooLarge { .. })
        ));
        assert!(matches!(
            Catalogue::decode(b"d6:sharesle1:vi2ee"),
            Err(CatalogueError::Version(2))
        ));
    }

    #[tokio::test]
    async fn serve_and_query_over_loopback() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let cat = sample();
        let served = cat.clone();
        let server = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            serve(&mut s, &[7; 20], &served).await
        });
        let got = query(addr, Duration::from_secs(5)).await.unwrap();
        assert_eq!(got, cat);
        server.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn query_rejects_oversized_frame_and_times_out() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut hs = [0u8; 68];
            s.read_exact(&mut hs).await.unwrap();
            s.write_all(&hs).await.unwrap();
            s.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
            // a second connection that never answers
            let (_s2, _) = l.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(10)).await;
        });
        let e = query(addr, Duration::from_secs(5)).await.unwrap_err();
        assert!(matches!(e, CatalogueError::TooLarge { .. }), "{e}");
        let e = query(addr, Duration::from_millis(200)).await.unwrap_err();
        assert!(matches!(e, CatalogueError::Timeout(_)), "{e}");
    }

    #[tokio::test]
    async fn serve_refuses_other_hashes() {
        let (mut a, mut b) = tokio::io::duplex(4096);
        let mut hs = handshake(&[0; 20]);
        hs[28] ^= 1;
        a.write_all(&hs).await.unwrap();
        let e = serve(&mut b, &[0; 20], &sample()).await.unwrap_err();
        assert!(matches!(e, CatalogueError::NotServed));
    }

    proptest! {
        #[test]
        fn decode_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Catalogue::decode(&data);
        }

        #[test]
        fn round_trip_any(names in proptest::collection::vec("[a-zA-Z0-9 ._ü-]{1,40}", 0..20),
                          size in any::<u32>()) {
            let shares = names.iter().enumerate().map(|(i, n)| {
                let mut h = [0u8; 20];
                h[0] = i as u8;
                Share::new(n.clone(), u64::from(size) * 7, i as u32, InfoHashes { v1: Some(InfoHashV1(h)), v2: None })
            }).collect();
            let c = Catalogue { shares };
            prop_assert_eq!(Catalogue::decode(&c.encode().unwrap()).unwrap(), c);
        }
    }
}
