//! The BEP 3 handshake.
//!
//! # Wire format (68 bytes)
//!
//! | bytes  | content                                   |
//! |--------|-------------------------------------------|
//! | 0      | 19 (length of the protocol string)        |
//! | 1..20  | `BitTorrent protocol`                     |
//! | 20..28 | reserved bits (see [`Reserved`])          |
//! | 28..48 | info-hash (v1, or v2 SHA-256 truncated)   |
//! | 48..68 | peer id                                   |
//!
//! Reserved bits: `reserved[5] & 0x10` = BEP 10 extension protocol,
//! `reserved[7] & 0x04` = BEP 6 fast extension, `reserved[7] & 0x10` =
//! BEP 52 v2 upgrade. Other bits are ignored on decode and zero on encode.

use super::codec::{DecodeError, Out};
use super::{Handshake, Reserved};

/// The protocol string, with its length byte in front.
pub const PROTOCOL: &[u8; 20] = b"\x13BitTorrent protocol";

/// Size of an encoded handshake.
pub const HANDSHAKE_LEN: usize = 68;

impl Reserved {
    /// The 8 reserved bytes with our flags set.
    pub fn to_bytes(self) -> [u8; 8] {
        let mut r = [0u8; 8];
        if self.extended {
            r[5] |= 0x10;
        }
        if self.fast {
            r[7] |= 0x04;
        }
        if self.v2 {
            r[7] |= 0x10;
        }
        r
    }

    /// Read the flags we know from 8 reserved bytes.
    pub fn from_bytes(r: [u8; 8]) -> Self {
        Reserved {
            extended: r[5] & 0x10 != 0,
            fast: r[7] & 0x04 != 0,
            v2: r[7] & 0x10 != 0,
        }
    }
}

impl Handshake {
    /// The 68 bytes of this handshake.
    pub fn to_bytes(&self) -> [u8; HANDSHAKE_LEN] {
        let mut b = [0u8; HANDSHAKE_LEN];
        b[..20].copy_from_slice(PROTOCOL);
        b[20..28].copy_from_slice(&self.reserved.to_bytes());
        b[28..48].copy_from_slice(&self.info_hash);
        b[48..68].copy_from_slice(&self.peer_id);
        b
    }
}

/// Append the 68-byte handshake to `out`.
pub fn encode_handshake(hs: &Handshake, out: &mut impl Out) {
    out.reserve_more(HANDSHAKE_LEN);
    out.put(&hs.to_bytes());
}

/// Decode a handshake from the front of `buf`.
///
/// `Ok(None)` means more bytes are needed (at most [`HANDSHAKE_LEN`] in
/// total). A wrong protocol string is reported as soon as the first
/// differing byte arrives.
pub fn decode_handshake(buf: &[u8]) -> Result<Option<(Handshake, usize)>, DecodeError> {
    let seen = buf.len().min(PROTOCOL.len());
    if buf[..seen] != PROTOCOL[..seen] {
        return Err(DecodeError::BadHandshake);
    }
    if buf.len() < HANDSHAKE_LEN {
        return Ok(None);
    }
    let mut reserved = [0u8; 8];
    reserved.copy_from_slice(&buf[20..28]);
    let mut info_hash = [0u8; 20];
    info_hash.copy_from_slice(&buf[28..48]);
    let mut peer_id = [0u8; 20];
    peer_id.copy_from_slice(&buf[48..68]);
    Ok(Some((
        Handshake {
            reserved: Reserved::from_bytes(reserved),
            info_hash,
            peer_id,
        },
        HANDSHAKE_LEN,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Handshake {
        Handshake {
            reserved: Reserved {
                extended: true,
                fast: true,
                v2: false,
            },
            info_hash: [0xaa; 20],
            peer_id: *b"-SW0001-abcdefghijkl",
        }
    }

    #[test]
    fn exact_bytes() {
        let mut v = Vec::new();
        encode_handshake(&sample(), &mut v);
        let mut want = Vec::new();
        want.push(19u8);
        want.extend_from_slice(b"BitTorrent protocol");
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0x10, 0, 0x04]);
        want.extend_from_slice(&[0xaa; 20]);
        want.extend_from_slice(b"-SW0001-abcdefghijkl");
        assert_eq!(v, want);
        assert_eq!(decode_handshake(&v).unwrap(), Some((sample(), 68)));
    }

    #[test]
    fn reserved_bits() {
        let all = Reserved {
            extended: true,
            fast: true,
            v2: true,
        };
        assert_eq!(all.to_bytes(), [0, 0, 0, 0, 0, 0x10, 0, 0x14]);
        assert_eq!(Reserved::from_bytes([0xff; 8]), all);
        assert_eq!(Reserved::from_bytes([0; 8]), Reserved::default());
        // Unknown bits (e.g. DHT bit reserved[7] & 1) are ignored.
        assert_eq!(
            Reserved::from_bytes([0, 0, 0, 0, 0, 0, 0, 0x01]),
            Reserved::default()
        );
    }

    #[test]
    fn incomplete_at_every_split() {
        let b = sample().to_bytes();
        for i in 0..b.len() {
            assert_eq!(decode_handshake(&b[..i]).unwrap(), None, "split {i}");
        }
        // Trailing bytes are not consumed.
        let mut long = b.to_vec();
        long.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(decode_handshake(&long).unwrap().unwrap().1, 68);
    }

    #[test]
    fn bad_protocol_rejected_early() {
        assert_eq!(decode_handshake(b"\x14"), Err(DecodeError::BadHandshake));
        assert_eq!(
            decode_handshake(b"\x13BitTorrent protocoL"),
            Err(DecodeError::BadHandshake)
        );
        // HTTP request sent to a peer port.
        assert_eq!(decode_handshake(b"GET / "), Err(DecodeError::BadHandshake));
    }
}
