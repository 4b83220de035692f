//! A small, self-contained codec for the peer wire protocol used by the
//! state machine (BEP 3, 6, 10, 52 message framing).
//!
//! Wire format: every message is `<u32 big-endian length><id: u8><payload>`;
//! a length of 0 is a keep-alive. The handshake is
//! `<19>"BitTorrent protocol"<8 reserved><20 info-hash><20 peer id>`.

use bytes::{BufMut, BytesMut};

use crate::wire::{HashRequest, Handshake, Message, Reserved};

pub(crate) const PROTOCOL: &[u8; 19] = b"BitTorrent protocol";
pub(crate) const HANDSHAKE_LEN: usize = 68;

/// Result of decoding from the front of a buffer.
pub(crate) enum Decoded<'a> {
    Incomplete,
    Message(Message<'a>, usize),
    /// Length prefix larger than `limit`.
    Oversize(u32),
    /// Unknown id or a payload of the wrong size.
    Malformed(&'static str),
    /// Unknown message id: skipped.
    Unknown(usize),
}

pub(crate) fn decode_handshake(b: &[u8]) -> Option<Result<Handshake, ()>> {
    if b.len() < HANDSHAKE_LEN {
        // reject early on a wrong protocol string
        if !b.is_empty() && b[0] != 19 {
            return Some(Err(()));
        }
        return None;
    }
    if b[0] != 19 || &b[1..20] != PROTOCOL {
        return Some(Err(()));
    }
    let r = &b[20..28];
    let mut info_hash = [0; 20];
    info_hash.copy_from_slice(&b[28..48]);
    let mut peer_id = [0; 20];
    peer_id.copy_from_slice(&b[48..68]);
    Some(Ok(Handshake {
        reserved: Reserved {
            extended: r[5] & 0x10 != 0,
            fast: r[7] & 0x04 != 0,
            v2: r[7] & 0x10 != 0,
        },
        info_hash,
        peer_id,
    }))
}

pub(crate) fn encode_handshake(h: &Handshake, out: &mut BytesMut) {
    out.put_u8(19);
    out.put_slice(PROTOCOL);
    let mut r = [0u8; 8];
    if h.reserved.extended {
        r[5] |= 0x10;
    }
    if h.reserved.fast {
        r[7] |= 0x04;
    }
    if h.reserved.v2 {
        r[7] |= 0x10;
    }
    out.put_slice(&r);
    out.put_slice(&h.info_hash);
    out.put_slice(&h.peer_id);
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

fn hash_req(p: &[u8]) -> HashRequest {
    let mut pieces_root = [0; 32];
    pieces_root.copy_from_slice(&p[..32]);
    HashRequest {
        pieces_root,
        base_layer: u32_at(p, 32),
        index: u32_at(p, 36),
        length: u32_at(p, 40),
        proof_layers: u32_at(p, 44),
    }
}

/// Decodes one message from the front of `b`, refusing length prefixes
/// larger than `limit`.
pub(crate) fn decode(b: &[u8], limit: u32) -> Decoded<'_> {
    if b.len() < 4 {
        return Decoded::Incomplete;
    }
    let len = u32_at(b, 0);
    if len > limit {
        return Decoded::Oversize(len);
    }
    let total = 4 + len as usize;
    if len == 0 {
        return Decoded::Message(Message::KeepAlive, 4);
    }
    if b.len() < total {
        return Decoded::Incomplete;
    }
    let id = b[4];
    let p = &b[5..total];
    let fixed = |n: usize| p.len() == n;
    let m = match id {
        0..=3 | 14 | 15 if !fixed(0) => return Decoded::Malformed("payload on a bodiless message"),
        0 => Message::Choke,
        1 => Message::Unchoke,
        2 => Message::Interested,
        3 => Message::NotInterested,
        14 => Message::HaveAll,
        15 => Message::HaveNone,
        4 | 13 | 17 if !fixed(4) => return Decoded::Malformed("wrong length for have"),
        4 => Message::Have { piece: u32_at(p, 0) },
        13 => Message::SuggestPiece { piece: u32_at(p, 0) },
        17 => Message::AllowedFast { piece: u32_at(p, 0) },
        5 => Message::Bitfield(p),
        6 | 8 | 16 if !fixed(12) => return Decoded::Malformed("wrong length for request"),
        6 => Message::Request { piece: u32_at(p, 0), offset: u32_at(p, 4), len: u32_at(p, 8) },
        8 => Message::Cancel { piece: u32_at(p, 0), offset: u32_at(p, 4), len: u32_at(p, 8) },
        16 => Message::RejectRequest { piece: u32_at(p, 0), offset: u32_at(p, 4), len: u32_at(p, 8) },
        7 if p.len() < 8 => return Decoded::Malformed("short piece message"),
        7 => Message::Piece { piece: u32_at(p, 0), offset: u32_at(p, 4), data: &p[8..] },
        9 if !fixed(2) => return Decoded::Malformed("wrong length for port"),
        9 => Message::Port(u16::from_be_bytes([p[0], p[1]])),
        20 if p.is_empty() => return Decoded::Malformed("empty extended message"),
        20 => Message::Extended { id: p[0], payload: &p[1..] },
        21 | 23 if !fixed(48) => return Decoded::Malformed("wrong length for hash request"),
        21 => Message::HashRequest(hash_req(p)),
        23 => Message::HashReject(hash_req(p)),
        22 if p.len() < 48 || (p.len() - 48) % 32 != 0 => {
            return Decoded::Malformed("wrong length for hashes")
        }
        22 => Message::Hashes { req: hash_req(p), hashes: &p[48..] },
        _ => return Decoded::Unknown(total),
    };
    Decoded::Message(m, total)
}

fn put_hash_req(out: &mut BytesMut, r: &HashRequest) {
    out.put_slice(&r.pieces_root);
    out.put_u32(r.base_layer);
    out.put_u32(r.index);
    out.put_u32(r.length);
    out.put_u32(r.proof_layers);
}

/// Appends the encoding of `m` to `out`.
pub(crate) fn encode(m: &Message<'_>, out: &mut BytesMut) {
    let simple = |out: &mut BytesMut, id: u8| {
        out.put_u32(1);
        out.put_u8(id);
    };
    let three = |out: &mut BytesMut, id: u8, a: u32, b: u32, c: u32| {
        out.put_u32(13);
        out.put_u8(id);
        out.put_u32(a);
        out.put_u32(b);
        out.put_u32(c);
    };
    let one = |out: &mut BytesMut, id: u8, a: u32| {
        out.put_u32(5);
        out.put_u8(id);
        out.put_u32(a);
    };
    match *m {
        Message::KeepAlive => out.put_u32(0),
        Message::Choke => simple(out, 0),
        Message::Unchoke => simple(out, 1),
        Message::Interested => simple(out, 2),
        Message::NotInterested => simple(out, 3),
        Message::Have { piece } => one(out, 4, piece),
        Message::Bitfield(b) => {
            out.put_u32(1 + b.len() as u32);
            out.put_u8(5);
            out.put_slice(b);
        }
        Message::Request { piece, offset, len } => three(out, 6, piece, offset, len),
        Message::Piece { piece, offset, data } => {
            out.put_u32(9 + data.len() as u32);
            out.put_u8(7);
            out.put_u32(piece);
            out.put_u32(offset);
            out.put_slice(data);
        }
        Message::Cancel { piece, offset, len } => three(out, 8, piece, offset, len),
        Message::Port(p) => {
            out.put_u32(3);
            out.put_u8(9);
            out.put_u16(p);
        }
        Message::SuggestPiece { piece } => one(out, 13, piece),
        Message::HaveAll => simple(out, 14),
        Message::HaveNone => simple(out, 15),
        Message::RejectRequest { piece, offset, len } => three(out, 16, piece, offset, len),
        Message::AllowedFast { piece } => one(out, 17, piece),
        Message::Extended { id, payload } => {
            out.put_u32(2 + payload.len() as u32);
            out.put_u8(20);
            out.put_u8(id);
            out.put_slice(payload);
        }
        Message::HashRequest(r) => {
            out.put_u32(49);
            out.put_u8(21);
            put_hash_req(out, &r);
        }
        Message::Hashes { req, hashes } => {
            out.put_u32(49 + hashes.len() as u32);
            out.put_u8(22);
            put_hash_req(out, &req);
            out.put_slice(hashes);
        }
        Message::HashReject(r) => {
            out.put_u32(49);
            out.put_u8(23);
            put_hash_req(out, &r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_messages() {
        let msgs = [
            Message::KeepAlive,
            Message::Choke,
            Message::Have { piece: 7 },
            Message::Bitfield(&[0xf0, 0x80]),
            Message::Request { piece: 1, offset: 16384, len: 16384 },
            Message::Piece { piece: 2, offset: 0, data: b"hello" },
            Message::HaveAll,
            Message::RejectRequest { piece: 3, offset: 0, len: 5 },
            Message::Extended { id: 0, payload: b"de" },
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
        assert!(matches!(decode(&[0, 0, 1, 0, 7], 100), Decoded::Oversize(256)));
        assert!(matches!(decode(&[0, 0, 0, 2, 4, 1], 100), Decoded::Malformed(_)));
    }

    #[test]
    fn handshake_roundtrip() {
        let h = Handshake {
            reserved: Reserved { extended: true, fast: true, v2: true },
            info_hash: [1; 20],
            peer_id: [2; 20],
        };
        let mut b = BytesMut::new();
        encode_handshake(&h, &mut b);
        assert_eq!(b.len(), HANDSHAKE_LEN);
        assert_eq!(decode_handshake(&b), Some(Ok(h)));
        assert_eq!(decode_handshake(&b[..10]), None);
        assert_eq!(decode_handshake(b"\x13BitTorrent protocoX"), None);
        let mut bad = b.to_vec();
        bad[3] = b'x';
        assert_eq!(decode_handshake(&bad), Some(Err(())));
    }
}
