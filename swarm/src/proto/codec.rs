//! The state machine's view of the wire codec ([`crate::wire`]): a
//! per-torrent length limit checked before decoding, unknown message ids
//! skipped, encoding into a connection's output buffer.
//!
//! Wire format: every message is `<u32 big-endian length><id: u8><payload>`;
//! a length of 0 is a keep-alive. The handshake is
//! `<19>"BitTorrent protocol"<8 reserved><20 info-hash><20 peer id>`.

use bytes::BytesMut;

use crate::wire::{self, DecodeError, Handshake, Message};

pub(crate) const HANDSHAKE_LEN: usize = wire::HANDSHAKE_LEN;

/// Result of decoding from the front of a buffer.
pub(crate) enum Decoded<'a> {
    Incomplete,
    Message(Message<'a>, usize),
    /// Length prefix larger than `limit`.
    Oversize(u32),
    /// A payload of the wrong size for its id.
    Malformed(&'static str),
    /// Unknown message id: skip this many bytes.
    Unknown(usize),
}

/// `None`: need more bytes; `Some(Err)`: not a BitTorrent handshake.
pub(crate) fn decode_handshake(b: &[u8]) -> Option<Result<Handshake, ()>> {
    match wire::decode_handshake(b) {
        Ok(None) => None,
        Ok(Some((h, _))) => Some(Ok(h)),
        Err(_) => Some(Err(())),
    }
}

pub(crate) fn encode_handshake(h: &Handshake, out: &mut BytesMut) {
    wire::encode_handshake(h, out);
}

/// Decodes one message from the front of `b`, refusing length prefixes
/// larger than `limit`.
pub(crate) fn decode(b: &[u8], limit: u32) -> Decoded<'_> {
    if b.len() >= 4 {
        let len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        if len > limit {
            return Decoded::Oversize(len);
        }
    }
    match wire::decode(b) {
        Ok(wire::Decoded::Incomplete { .. }) => Decoded::Incomplete,
        Ok(wire::Decoded::Message(m, n)) => Decoded::Message(m, n),
        Err(DecodeError::Oversize { len, .. }) => Decoded::Oversize(len),
        // the codec names unknown ids as soon as the header is in: skip
        // the frame only once all of it arrived
        Err(DecodeError::UnknownId { frame_len, .. }) if frame_len > b.len() => Decoded::Incomplete,
        Err(DecodeError::UnknownId { frame_len, .. }) => Decoded::Unknown(frame_len),
        Err(DecodeError::BadLength { .. }) => Decoded::Malformed("message of the wrong length"),
        Err(DecodeError::BadHashes { .. }) => Decoded::Malformed("malformed hashes message"),
        Err(DecodeError::BadHandshake) => Decoded::Malformed("unexpected handshake"),
    }
}

/// Appends the encoding of `m` to `out`. Our messages are always within
/// the wire limits; one that is not is dropped (never sent half-way).
pub(crate) fn encode(m: &Message<'_>, out: &mut BytesMut) {
    let _ = wire::encode(m, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Reserved;

    #[test]
    fn roundtrip_messages() {
        let msgs = [
            Message::KeepAlive,
            Message::Choke,
            Message::Have { piece: 7 },
            Message::Bitfield(&[0xf0, 0x80]),
            Message::Request {
                piece: 1,
                offset: 16384,
                len: 16384,
            },
            Message::Piece {
                piece: 2,
                offset: 0,
                data: b"hello",
            },
            Message::HaveAll,
            Message::RejectRequest {
                piece: 3,
                offset: 0,
                len: 5,
            },
            Message::Extended {
                id: 0,
                payload: b"de",
            },
            Message::Port(6881),
        ];
        let mut buf = BytesMut::new();
        for m in &msgs {
            encode(m, &mut buf);
        }
        let mut off = 0;
        for m in &msgs {
            match decode(&buf[off..], 1 << 20) {
                Decoded::Message(got, n) => {
                    assert_eq!(&got, m);
                    off += n;
                }
                _ => panic!("failed to decode {m:?}"),
            }
        }
        assert_eq!(off, buf.len());
        assert!(matches!(decode(&buf[..3], 100), Decoded::Incomplete));
        assert!(matches!(
            decode(&[0, 0, 1, 0, 7], 100),
            Decoded::Oversize(256)
        ));
        // an unknown id is skipped whole, once complete
        assert!(matches!(
            decode(&[0, 0, 0, 3, 99, 1], 100),
            Decoded::Incomplete
        ));
        assert!(matches!(
            decode(&[0, 0, 0, 3, 99, 1, 2], 100),
            Decoded::Unknown(7)
        ));
        assert!(matches!(
            decode(&[0, 0, 0, 2, 4, 1], 100),
            Decoded::Malformed(_)
        ));
    }

    #[test]
    fn handshake_roundtrip() {
        let h = Handshake {
            reserved: Reserved {
                extended: true,
                fast: true,
                v2: true,
            },
            info_hash: [1; 20],
            peer_id: [2; 20],
        };
        let mut b = BytesMut::new();
        encode_handshake(&h, &mut b);
        assert_eq!(b.len(), HANDSHAKE_LEN);
        assert_eq!(decode_handshake(&b), Some(Ok(h)));
        assert_eq!(decode_handshake(&b[..10]), None);
        assert_eq!(decode_handshake(b"\x13BitTorrent protocoX"), Some(Err(())));
        let mut bad = b.to_vec();
        bad[3] = b'x';
        assert_eq!(decode_handshake(&bad), Some(Err(())));
    }
}
