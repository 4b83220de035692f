//! BEP 10 extension protocol handshake.
//!
//! # Wire format
//!
//! Sent as `Message::Extended { id: 0, payload }` where `payload` is one
//! bencoded dictionary, for example
//!
//! ```text
//! d1:md11:ut_metadatai3e6:ut_pexi1ee13:metadata_sizei31235e1:pi6881e
//!  4:reqqi250e11:upload_onlyi1e1:v13:swarm 0.1.0 6:yourip4:<4 bytes>e
//! ```
//!
//! - `m`: extension name → the id the *sender* wants to receive that
//!   extension's messages with; id 0 means "disabled".
//! - `metadata_size` (BEP 9): size of the info dictionary in bytes.
//! - `p`: listen port; `v`: client name; `reqq`: request queue depth;
//!   `yourip`: our address as the peer sees it (4 or 16 bytes);
//!   `upload_only` (BEP 21): the peer is a seed/partial seed not downloading.
//! - `swarm_quic` (ours): the UDP port of the sender's QUIC endpoint, an
//!   integer 1..=65535 (see [`SWARM_QUIC`]). Swarm peers use it to move a
//!   TCP connection to QUIC; other clients ignore the unknown key.
//!
//! Unknown keys are ignored, and so are known keys with values of the wrong
//! type or out of range (clients disagree in details); integers must fit
//! 64 bits, as everywhere in our bencode. Keys may come in any
//! order (bencode [`KeyOrder::Lenient`]: some clients do not sort them) but
//! not twice; we write them sorted. Decoding is bounded by [`LIMITS`].

use std::collections::BTreeMap;

use piece_core::bencode::{self, BencodeError, Encoder, KeyOrder, Limits, Value};

/// Largest extension handshake payload we parse.
pub const MAX_EXT_HANDSHAKE_LEN: usize = 64 * 1024;
/// Most entries we keep from the `m` dictionary.
pub const MAX_EXTENSIONS: usize = 64;
/// Longest extension name we keep (longer ones are skipped).
pub const MAX_EXTENSION_NAME: usize = 64;
/// Longest client name (`v`) we keep, in bytes; longer ones are cut.
pub const MAX_CLIENT_NAME: usize = 128;

/// Bencode limits of a handshake payload: [`MAX_EXT_HANDSHAKE_LEN`] bytes,
/// nesting 16 (the known fields need 2; unknown keys get some slack),
/// 8,192 values, keys in any order.
pub const LIMITS: Limits = Limits {
    max_len: MAX_EXT_HANDSHAKE_LEN,
    max_depth: 16,
    max_tokens: 8192,
    key_order: KeyOrder::Lenient,
};

/// Name of the BEP 9 metadata extension in `m`.
pub const UT_METADATA: &str = "ut_metadata";
/// Handshake key carrying the sender's QUIC (UDP) port.
pub const SWARM_QUIC: &str = "swarm_quic";

/// A `p` or `swarm_quic` value as a port: only integers 1..=65535 are
/// ports.
pub fn port(v: i64) -> Option<u16> {
    u16::try_from(v).ok().filter(|&p| p != 0)
}

/// The BEP 10 handshake dictionary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtHandshake {
    /// Extension name → message id to use when sending it to this peer
    /// (0 = disabled). At most [`MAX_EXTENSIONS`] entries.
    pub m: BTreeMap<String, u8>,
    /// BEP 9 size of the info dictionary.
    pub metadata_size: Option<u32>,
    /// Client name and version.
    pub v: Option<String>,
    /// Number of outstanding requests the peer accepts.
    pub reqq: Option<u32>,
    /// The peer's listen port.
    pub p: Option<u16>,
    /// Our IP as the peer sees it: 4 (IPv4) or 16 (IPv6) bytes.
    pub yourip: Option<Vec<u8>>,
    /// BEP 21: the peer does not download.
    pub upload_only: bool,
    /// `swarm_quic`: the peer's QUIC (UDP) port.
    pub swarm_quic: Option<u16>,
}

/// Why an extension handshake could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtError {
    /// Not valid bencode, or beyond [`LIMITS`] (larger than
    /// [`MAX_EXT_HANDSHAKE_LEN`], too deep, too many values).
    #[error("extension handshake is not valid bencode")]
    Bencode(#[from] BencodeError),
    /// Valid bencode, but not a dictionary.
    #[error("extension handshake is not a dictionary")]
    NotADict,
    /// The `m` dictionary has more than [`MAX_EXTENSIONS`] entries.
    #[error("extension handshake lists more than {max} extensions")]
    TooManyExtensions {
        /// [`MAX_EXTENSIONS`].
        max: usize,
    },
}

/// `v` cut to [`MAX_CLIENT_NAME`] bytes of (lossy) UTF-8.
fn client_name(b: &[u8]) -> String {
    let b = &b[..b.len().min(MAX_CLIENT_NAME)];
    let mut v = String::from_utf8_lossy(b).into_owned();
    // Replacement characters can make it longer again.
    let mut cut = v.len().min(MAX_CLIENT_NAME);
    while !v.is_char_boundary(cut) {
        cut -= 1;
    }
    v.truncate(cut);
    v
}

impl ExtHandshake {
    /// The id the peer wants for extension `name`, if enabled (non-zero).
    pub fn id_of(&self, name: &str) -> Option<u8> {
        self.m.get(name).copied().filter(|&id| id != 0)
    }

    /// Bencode this handshake (canonical: sorted keys, absent fields omitted).
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::with_capacity(128);
        e.begin_dict().str("m").begin_dict();
        for (name, id) in &self.m {
            e.str(name).int(i64::from(*id));
        }
        e.end();
        if let Some(s) = self.metadata_size {
            e.str("metadata_size").int(i64::from(s));
        }
        if let Some(p) = self.p {
            e.str("p").int(i64::from(p));
        }
        if let Some(q) = self.reqq {
            e.str("reqq").int(i64::from(q));
        }
        if let Some(q) = self.swarm_quic {
            e.str(SWARM_QUIC).int(i64::from(q));
        }
        if self.upload_only {
            e.str("upload_only").int(1);
        }
        if let Some(v) = &self.v {
            e.str("v").str(v);
        }
        if let Some(ip) = &self.yourip {
            e.str("yourip").bytes(ip);
        }
        e.end();
        e.finish()
    }

    /// Parse a handshake payload (the bytes after the extended id 0).
    pub fn decode(buf: &[u8]) -> Result<ExtHandshake, ExtError> {
        let v = bencode::decode_with(buf, LIMITS)?;
        let d = v.as_dict().ok_or(ExtError::NotADict)?;
        let int = |k: &str| d.get(k.as_bytes()).and_then(Value::as_int);
        let mut hs = ExtHandshake::default();
        if let Some(m) = d.get(b"m").and_then(Value::as_dict) {
            for (name, id) in &m.entries {
                let id = id.as_int().and_then(|i| u8::try_from(i).ok());
                let name = std::str::from_utf8(name).ok();
                let (Some(name), Some(id)) = (name, id) else {
                    continue;
                };
                if name.len() > MAX_EXTENSION_NAME {
                    continue;
                }
                if hs.m.len() >= MAX_EXTENSIONS {
                    return Err(ExtError::TooManyExtensions {
                        max: MAX_EXTENSIONS,
                    });
                }
                hs.m.insert(name.to_owned(), id);
            }
        }
        hs.metadata_size = int("metadata_size").and_then(|i| u32::try_from(i).ok());
        hs.p = int("p").and_then(port);
        hs.reqq = int("reqq").and_then(|i| u32::try_from(i).ok());
        hs.swarm_quic = int(SWARM_QUIC).and_then(port);
        hs.upload_only = int("upload_only").is_some_and(|i| i != 0);
        hs.v = d.get(b"v").and_then(Value::as_bytes).map(client_name);
        hs.yourip = d
            .get(b"yourip")
            .and_then(Value::as_bytes)
            .filter(|b| b.len() == 4 || b.len() == 16)
            .map(<[u8]>::to_vec);
        Ok(hs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> ExtHandshake {
        let mut m = BTreeMap::new();
        m.insert("ut_metadata".to_string(), 3);
        m.insert("ut_pex".to_string(), 1);
        ExtHandshake {
            m,
            metadata_size: Some(31235),
            v: Some("swarm 0.1.0".into()),
            reqq: Some(250),
            p: Some(6881),
            yourip: Some(vec![127, 0, 0, 1]),
            upload_only: true,
            swarm_quic: None,
        }
    }

    #[test]
    fn exact_bytes() {
        let want: &[u8] = b"d1:md11:ut_metadatai3e6:ut_pexi1ee13:metadata_sizei31235e\
1:pi6881e4:reqqi250e11:upload_onlyi1e1:v11:swarm 0.1.06:yourip4:\x7f\x00\x00\x01e";
        assert_eq!(full().encode(), want);
        assert_eq!(ExtHandshake::decode(want).unwrap(), full());
        assert_eq!(ExtHandshake::default().encode(), b"d1:mdee");
        assert_eq!(
            ExtHandshake::decode(b"d1:mdee").unwrap(),
            ExtHandshake::default()
        );
    }

    #[test]
    fn bep10_example_and_unknown_keys() {
        // From BEP 10 (with an unknown nested key and a libtorrent-style
        // "complete_ago").
        let b = b"d12:complete_agoi-1e1:md11:LT_metadatai1e7:ut_holei0e6:ut_pexi2ee\
1:pi6881e1:v13:\xc2\xb5Torrent 1.2e";
        let hs = ExtHandshake::decode(b).unwrap();
        assert_eq!(hs.p, Some(6881));
        assert_eq!(hs.v.as_deref(), Some("µTorrent 1.2"));
        assert_eq!(hs.id_of("ut_pex"), Some(2));
        assert_eq!(hs.id_of("LT_metadata"), Some(1));
        assert_eq!(hs.id_of("ut_hole"), None, "id 0 = disabled");
        assert_eq!(hs.m.get("ut_hole"), Some(&0));
        assert_eq!(hs.metadata_size, None);
        assert!(!hs.upload_only);
    }

    #[test]
    fn wrong_types_and_ranges_ignored() {
        let b = b"d1:md1:ai300e1:bi-1e1:c3:xyz1:di7ee13:metadata_sizei-5e1:pi70000e\
4:reqq3:abc6:yourip3:abce";
        let hs = ExtHandshake::decode(b).unwrap();
        assert_eq!(hs.m.len(), 1);
        assert_eq!(hs.m.get("d"), Some(&7));
        assert_eq!(hs.metadata_size, None);
        assert_eq!(hs.p, None);
        assert_eq!(hs.reqq, None);
        assert_eq!(hs.yourip, None);
    }

    #[test]
    fn malformed_rejected() {
        use piece_core::bencode::BencodeErrorKind;
        let kind = |b: &[u8]| match ExtHandshake::decode(b) {
            Err(ExtError::Bencode(e)) => e.kind,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(b)),
        };
        for b in [
            &b""[..],
            b"d1:m",
            b"d1:mde",
            b"d1:mdi1ei2eee",
            b"d1:mde1:mdee", // the same key twice
        ] {
            kind(b);
        }
        assert_eq!(ExtHandshake::decode(b"le"), Err(ExtError::NotADict));
        assert_eq!(ExtHandshake::decode(b"i1e"), Err(ExtError::NotADict));
        let deep = format!("d1:x{}{}e", "l".repeat(100), "e".repeat(100));
        assert_eq!(kind(deep.as_bytes()), BencodeErrorKind::DepthExceeded);
        let mut big = b"d1:v65536:".to_vec();
        big.resize(big.len() + 65536, b'x');
        big.push(b'e');
        assert_eq!(
            kind(&big),
            BencodeErrorKind::TooLarge {
                max: MAX_EXT_HANDSHAKE_LEN
            }
        );
    }

    #[test]
    fn unsorted_keys_accepted() {
        // Some clients do not sort their keys; the old hand-written parser
        // in proto accepted them, and so does this one.
        let hs = ExtHandshake::decode(b"d1:pi6881e1:md11:ut_metadatai3eee").unwrap();
        assert_eq!((hs.p, hs.id_of(UT_METADATA)), (Some(6881), Some(3)));
    }

    #[test]
    fn client_name_bounded_and_stable() {
        let mut b = b"d1:mde1:v200:".to_vec();
        b.extend(std::iter::repeat_n(0xffu8, 200));
        b.push(b'e');
        let hs = ExtHandshake::decode(&b).unwrap();
        let v = hs.v.clone().unwrap();
        assert!(v.len() <= MAX_CLIENT_NAME && v.starts_with('\u{fffd}'));
        assert_eq!(ExtHandshake::decode(&hs.encode()).unwrap(), hs);
    }

    #[test]
    fn swarm_quic_port_bounds_and_garbage() {
        let quic_of = |b: &[u8]| {
            ExtHandshake::decode(b)
                .unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(b)))
                .swarm_quic
        };
        assert_eq!(quic_of(b"d1:mde10:swarm_quici4433ee"), Some(4433));
        assert_eq!(quic_of(b"d1:mde10:swarm_quici1ee"), Some(1));
        assert_eq!(quic_of(b"d1:mde10:swarm_quici65535ee"), Some(65535));
        for bad in [
            &b"d1:mde10:swarm_quici0ee"[..],
            b"d1:mde10:swarm_quici65536ee",
            b"d1:mde10:swarm_quici-1ee",
            b"d1:mde10:swarm_quici9223372036854775807ee",
            b"d1:mde10:swarm_quic4:4433e",
            b"d1:mde10:swarm_quicli4433eee",
            b"d1:mde10:swarm_quicdee",
            b"d1:mdee",
        ] {
            assert_eq!(quic_of(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        // Integers beyond 64 bits are not bencode we read (anywhere).
        assert!(matches!(
            ExtHandshake::decode(b"d1:mde10:swarm_quici99999999999999999999ee"),
            Err(ExtError::Bencode(_))
        ));
        // Garbage in the value does not spoil the other keys.
        let hs =
            ExtHandshake::decode(b"d1:md11:ut_metadatai3ee1:pi6881e10:swarm_quic3:abce").unwrap();
        assert_eq!(
            (hs.id_of(UT_METADATA), hs.p, hs.swarm_quic),
            (Some(3), Some(6881), None)
        );
        // Encoded where canonical order wants it, and read back.
        let hs = ExtHandshake {
            swarm_quic: Some(4433),
            reqq: Some(250),
            upload_only: true,
            ..Default::default()
        };
        let b = hs.encode();
        assert_eq!(b, b"d1:mde4:reqqi250e10:swarm_quici4433e11:upload_onlyi1ee");
        assert_eq!(ExtHandshake::decode(&b).unwrap(), hs);
        assert_eq!(port(i64::MIN), None);
        assert_eq!(port(i64::MAX), None);
    }

    #[test]
    fn too_many_extensions() {
        let mut hs = ExtHandshake::default();
        for i in 0..=MAX_EXTENSIONS {
            hs.m.insert(format!("ext{i:03}"), 1);
        }
        assert_eq!(
            ExtHandshake::decode(&hs.encode()),
            Err(ExtError::TooManyExtensions {
                max: MAX_EXTENSIONS
            })
        );
        hs.m.pop_last();
        assert_eq!(ExtHandshake::decode(&hs.encode()).unwrap(), hs);
    }
}
