//! Unit tests of the state machine driven by hand (no simulator).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use piece_core::{Bitfield, PieceIndex};

use super::*;
use crate::sim::{content, make_v1};
use crate::wire::{self, Handshake, Message, Reserved};

pub(super) const PIECE: u32 = 32 * 1024;

pub(super) struct Rig {
    pub(super) t: Torrent,
    pub(super) now: Instant,
    pub(super) data: Vec<u8>,
    pub(super) ih: [u8; 20],
}

pub(super) fn rig(seed: bool, cfg: TorrentConfig) -> Rig {
    let data = content(4 * PIECE as usize, 1);
    let meta = make_v1("x", &data, PIECE);
    let have = if seed {
        Bitfield::full(4)
    } else {
        Bitfield::new(4)
    };
    let now = Instant::now();
    let ih = meta.info_hashes.v1.unwrap().0;
    let t = Torrent::new(
        cfg,
        meta.info_hashes,
        Some(meta.clone()),
        have,
        [7; 20],
        now,
    );
    Rig { t, now, data, ih }
}

pub(super) fn addr(n: u8) -> SocketAddr {
    SocketAddr::from(([10, 1, 0, n], 6881))
}

/// The form in which bans and contributors are keyed: address and port
/// (here, the address dialled).
pub(super) fn key(n: u8) -> SocketAddr {
    addr(n)
}

pub(super) fn peer_hs(ih: [u8; 20], id: u8) -> Vec<u8> {
    let mut b = BytesMut::new();
    wire::encode_handshake(
        &Handshake {
            reserved: Reserved {
                extended: true,
                fast: true,
                v2: false,
            },
            info_hash: ih,
            peer_id: [id; 20],
        },
        &mut b,
    );
    b.to_vec()
}

pub(super) fn enc(msgs: &[Message<'_>]) -> Vec<u8> {
    let mut b = BytesMut::new();
    for m in msgs {
        wire::encode(m, &mut b).unwrap();
    }
    b.to_vec()
}

pub(super) use super::disk::test_io::{poll_verify, run_disk, verified};

/// Everything the torrent sent on `conn`, decoded (handshake skipped);
/// everything polled is reported written, disk jobs run ([`run_disk`]).
pub(super) fn sent(t: &mut Torrent, conn: ConnId) -> Vec<String> {
    let mut raw = Vec::new();
    let mut other = Vec::new();
    loop {
        run_disk(t);
        let Some(tx) = t.poll_transmit() else { break };
        // as the glue does: written at once
        t.handle_sent(t.now, tx.conn, tx.data.len());
        if tx.conn == conn {
            raw.extend_from_slice(&tx.data);
        } else {
            other.push(tx);
        }
    }
    let mut pos = if raw.first() == Some(&19) { 68 } else { 0 };
    let mut out = Vec::new();
    while let Ok(wire::Decoded::Message(m, n)) = wire::decode(&raw[pos..]) {
        out.push(match m {
            Message::Piece {
                piece,
                offset,
                data,
            } => format!("Piece({piece},{offset},{})", data.len()),
            Message::Extended { id, .. } => format!("Extended({id})"),
            m => format!("{m:?}"),
        });
        pos += n;
    }
    out
}

pub(super) fn requests(msgs: &[String]) -> Vec<(u32, u32, u32)> {
    msgs.iter()
        .filter_map(|m| {
            let r = m.strip_prefix("Request { piece: ")?;
            let v: Vec<u32> = r
                .trim_end_matches(" }")
                .split(", ")
                .map(|x| {
                    x.rsplit(' ')
                        .next()
                        .unwrap()
                        .trim_start_matches(|c: char| !c.is_ascii_digit())
                        .parse()
                        .unwrap()
                })
                .collect();
            Some((v[0], v[1], v[2]))
        })
        .collect()
}

pub(super) fn events(t: &mut Torrent) -> Vec<Event> {
    std::iter::from_fn(|| t.poll_event()).collect()
}

/// Connects a seed peer to a leecher rig and returns the requests it got.
pub(super) fn connect_seed(
    r: &mut Rig,
    conn: ConnId,
    a: SocketAddr,
    id: u8,
) -> Vec<(u32, u32, u32)> {
    r.t.handle_connected(r.now, conn, a, Direction::Outgoing, TransportKind::Memory);
    let mut b = peer_hs(r.ih, id);
    b.extend(enc(&[Message::HaveAll, Message::Unchoke]));
    r.t.handle_data(r.now, conn, &b);
    let out = sent(&mut r.t, conn);
    assert!(out.contains(&"Interested".to_string()), "{out:?}");
    requests(&out)
}

pub(super) fn answer(r: &mut Rig, conn: ConnId, reqs: &[(u32, u32, u32)], corrupt: bool) {
    for &(p, o, l) in reqs {
        let start = (p * PIECE + o) as usize;
        let mut d = r.data[start..start + l as usize].to_vec();
        if corrupt {
            d[0] ^= 1;
        }
        let m = enc(&[Message::Piece {
            piece: p,
            offset: o,
            data: &d,
        }]);
        r.t.handle_data(r.now, conn, &m);
    }
}

#[test]
fn piece_is_announced_only_after_its_hash_passes() {
    let mut r = rig(false, TorrentConfig::default());
    let c = ConnId(1);
    let reqs = connect_seed(&mut r, c, addr(1), 1);
    assert!(reqs.len() >= 2);
    let piece = reqs[0].0;
    let of_piece: Vec<_> = reqs.iter().copied().filter(|q| q.0 == piece).collect();
    answer(&mut r, c, &of_piece, false);
    // the piece is complete but not verified: no HAVE, not had
    let out = sent(&mut r.t, c);
    assert!(!out.iter().any(|m| m.starts_with("Have")), "{out:?}");
    assert!(!r.t.have().unwrap().get(piece));
    let job = poll_verify(&mut r.t).expect("a verify job");
    assert_eq!(job.get(), piece);
    assert!(poll_verify(&mut r.t).is_none());
    verified(&mut r.t, r.now, job, true);
    assert!(r.t.have().unwrap().get(piece));
    let out = sent(&mut r.t, c);
    assert!(
        out.contains(&format!("Have {{ piece: {piece} }}")),
        "{out:?}"
    );
    assert!(events(&mut r.t)
        .iter()
        .any(|e| matches!(e, Event::PieceVerified(p) if p.get() == piece)));
    assert_eq!(r.t.stats().downloaded, PIECE as u64);
}

#[test]
fn sole_supplier_of_a_bad_piece_is_banned() {
    let mut r = rig(false, TorrentConfig::default());
    let c = ConnId(1);
    let reqs = connect_seed(&mut r, c, addr(1), 1);
    let piece = reqs[0].0;
    let of_piece: Vec<_> = reqs.iter().copied().filter(|q| q.0 == piece).collect();
    answer(&mut r, c, &of_piece, true);
    let job = poll_verify(&mut r.t).expect("a verify job");
    verified(&mut r.t, r.now, job, false);
    let ev = events(&mut r.t);
    assert!(ev.iter().any(
        |e| matches!(e, Event::PieceFailed { contributors, .. } if contributors == &[key(1)])
    ));
    assert!(ev.iter().any(|e| matches!(e, Event::PeerBanned { addr: a, reason: PeerMisbehaved::HashFailures { .. }, .. } if *a == addr(1))));
    assert!(ev
        .iter()
        .any(|e| matches!(e, Event::Disconnect { conn, .. } if *conn == c)));
    assert!(!r.t.have().unwrap().get(piece));
    assert!(r.t.is_banned(addr(1)));
    // it cannot come back
    r.t.handle_connected(
        r.now,
        ConnId(2),
        addr(1),
        Direction::Incoming,
        TransportKind::Tcp,
    );
    assert!(events(&mut r.t).iter().any(|e| matches!(
        e,
        Event::Disconnect {
            reason: DisconnectReason::Banned,
            ..
        }
    )));
}

#[test]
fn mixed_failure_puts_contributors_on_parole_without_ban() {
    let mut r = rig(false, TorrentConfig::default());
    let (a, b) = (ConnId(1), ConnId(2));
    let reqs_a = connect_seed(&mut r, a, addr(1), 1);
    let piece = reqs_a[0].0;
    // A sends one (corrupt) block of the piece, then chokes
    answer(&mut r, a, &reqs_a[..1], true);
    r.t.handle_data(r.now, a, &enc(&[Message::Choke]));
    // B gets the rest of that partial piece first
    let reqs_b = connect_seed(&mut r, b, addr(2), 2);
    let rest: Vec<_> = reqs_b.iter().copied().filter(|q| q.0 == piece).collect();
    assert!(
        !rest.is_empty(),
        "B was not asked for the partial piece: {reqs_b:?}"
    );
    answer(&mut r, b, &rest, false);
    let job = poll_verify(&mut r.t).expect("a verify job");
    assert_eq!(job.get(), piece);
    verified(&mut r.t, r.now, job, false);
    let ev = events(&mut r.t);
    let contributors = ev.iter().find_map(|e| match e {
        Event::PieceFailed { contributors, .. } => Some(contributors.clone()),
        _ => None,
    });
    assert_eq!(contributors, Some(vec![key(1), key(2)]));
    assert!(
        !ev.iter().any(|e| matches!(e, Event::PeerBanned { .. })),
        "{ev:?}"
    );
    assert!(r.t.parole.contains(&key(1)) && r.t.parole.contains(&key(2)));
    // A (on parole) alone supplies its next piece: a failure now pins it
    r.t.handle_data(r.now, a, &enc(&[Message::Unchoke]));
    let reqs = requests(&sent(&mut r.t, a));
    let p2 = reqs[0].0;
    let whole: Vec<_> = reqs.iter().copied().filter(|q| q.0 == p2).collect();
    assert_eq!(whole.len(), 2, "a parole peer gets whole pieces");
    answer(&mut r, a, &whole, true);
    let job = poll_verify(&mut r.t).expect("a verify job");
    verified(&mut r.t, r.now, job, false);
    let ev = events(&mut r.t);
    let bans: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::PeerBanned { addr, .. } => Some(*addr),
            _ => None,
        })
        .collect();
    assert_eq!(bans, vec![addr(1)]);
}

#[test]
fn serving_requires_unchoke_and_a_verified_piece() {
    let mut r = rig(true, TorrentConfig::default());
    let c = ConnId(5);
    r.t.handle_connected(r.now, c, addr(5), Direction::Incoming, TransportKind::Tcp);
    let mut b = peer_hs(r.ih, 5);
    b.extend(enc(&[
        Message::HaveNone,
        Message::Request {
            piece: 0,
            offset: 0,
            len: 16384,
        },
    ]));
    r.t.handle_data(r.now, c, &b);
    let out = sent(&mut r.t, c);
    assert!(out.contains(&"HaveAll".to_string()), "{out:?}");
    assert!(
        out.iter().any(|m| m.starts_with("RejectRequest")),
        "choked request not rejected: {out:?}"
    );
    r.t.handle_data(
        r.now,
        c,
        &enc(&[
            Message::Interested,
            Message::Request {
                piece: 1,
                offset: 16384,
                len: 16384,
            },
        ]),
    );
    let out = sent(&mut r.t, c);
    assert_eq!(
        out,
        vec!["Unchoke".to_string(), "Piece(1,16384,16384)".to_string()]
    );
    assert_eq!(r.t.stats().uploaded, 16384);
}

#[test]
fn leecher_rejects_requests_for_pieces_it_lacks() {
    let mut r = rig(false, TorrentConfig::default());
    let c = ConnId(1);
    r.t.handle_connected(r.now, c, addr(1), Direction::Incoming, TransportKind::Tcp);
    let mut b = peer_hs(r.ih, 1);
    b.extend(enc(&[
        Message::HaveNone,
        Message::Interested,
        Message::Request {
            piece: 0,
            offset: 0,
            len: 16384,
        },
    ]));
    r.t.handle_data(r.now, c, &b);
    let out = sent(&mut r.t, c);
    assert!(!out.iter().any(|m| m.starts_with("Piece")), "{out:?}");
    assert!(
        out.iter().any(|m| m.starts_with("RejectRequest")),
        "{out:?}"
    );
}

#[test]
fn keepalive_then_timeout() {
    let mut r = rig(true, TorrentConfig::default());
    let c = ConnId(1);
    r.t.handle_connected(r.now, c, addr(1), Direction::Incoming, TransportKind::Tcp);
    r.t.handle_data(r.now, c, &peer_hs(r.ih, 1));
    sent(&mut r.t, c);
    let mut now = r.now;
    let mut keepalives = 0;
    let mut dropped = None;
    for _ in 0..200 {
        now += Duration::from_secs(1);
        r.t.handle_timeout(now);
        keepalives += sent(&mut r.t, c)
            .iter()
            .filter(|m| *m == "KeepAlive")
            .count();
        if let Some(e) = events(&mut r.t)
            .into_iter()
            .find(|e| matches!(e, Event::Disconnect { .. }))
        {
            dropped = Some((now - r.now, e));
            break;
        }
    }
    assert!(keepalives >= 1);
    let (after, e) = dropped.expect("silent peer never dropped");
    assert!(matches!(
        e,
        Event::Disconnect {
            reason: DisconnectReason::Timeout,
            ..
        }
    ));
    assert_eq!(after, Duration::from_secs(180));
}

#[test]
fn connection_limit_and_handshake_checks() {
    let cfg = TorrentConfig {
        max_peers: 2,
        ..Default::default()
    };
    let mut r = rig(true, cfg);
    for i in 1..=3u8 {
        r.t.handle_connected(
            r.now,
            ConnId(i as u64),
            addr(i),
            Direction::Incoming,
            TransportKind::Tcp,
        );
    }
    let ev = events(&mut r.t);
    assert!(
        matches!(
            ev[..],
            [Event::Disconnect {
                conn: ConnId(3),
                reason: DisconnectReason::TooManyPeers
            }]
        ),
        "{ev:?}"
    );
    // a connection to ourselves
    r.t.handle_data(r.now, ConnId(1), &peer_hs(r.ih, 7));
    assert!(events(&mut r.t).iter().any(|e| matches!(
        e,
        Event::Disconnect {
            reason: DisconnectReason::SelfConnection,
            ..
        }
    )));
    // the same peer twice: one connection is dropped, nobody banned
    r.t.handle_connected(
        r.now,
        ConnId(4),
        addr(4),
        Direction::Outgoing,
        TransportKind::Tcp,
    );
    r.t.handle_data(r.now, ConnId(2), &peer_hs(r.ih, 9));
    r.t.handle_data(r.now, ConnId(4), &peer_hs(r.ih, 9));
    let ev = events(&mut r.t);
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(
                e,
                Event::Disconnect {
                    reason: DisconnectReason::Duplicate,
                    ..
                }
            ))
            .count(),
        1,
        "{ev:?}"
    );
    assert_eq!(r.t.stats().peers, 1);
    assert_eq!(r.t.stats().banned, 0);
}

#[test]
fn pause_closes_everything_and_resume_accepts_again() {
    let mut r = rig(true, TorrentConfig::default());
    r.t.handle_connected(
        r.now,
        ConnId(1),
        addr(1),
        Direction::Incoming,
        TransportKind::Tcp,
    );
    r.t.pause(r.now);
    assert!(events(&mut r.t).iter().any(|e| matches!(
        e,
        Event::Disconnect {
            reason: DisconnectReason::Paused,
            ..
        }
    )));
    r.t.add_peers(r.now, &[addr(9)]);
    assert!(r.t.poll_connect().is_none());
    r.t.resume(r.now);
    assert_eq!(r.t.poll_connect(), Some(addr(9)));
    assert!(r.t.stats().complete && !r.t.stats().paused);
}

#[test]
fn extension_handshake_advertises_metadata() {
    let mut r = rig(true, TorrentConfig::default());
    let p = r.t.ext_handshake();
    // Canonical: the strict decoder (sorted keys) reads it.
    let v = piece_core::bencode::decode(&p).unwrap();
    let int = |k: &[u8]| v.get(k).and_then(|x| x.as_int());
    assert_eq!(
        v.get(b"m")
            .and_then(|m| m.get(b"ut_metadata"))
            .and_then(|x| x.as_int()),
        Some(1)
    );
    let size = r.t.metainfo().unwrap().info_bytes.len() as i64;
    assert_eq!(int(b"metadata_size"), Some(size));
    assert_eq!(int(b"reqq"), Some(500));
    assert_eq!(v.get(b"v").and_then(|x| x.as_str()), Some("swarm/0.1"));
    let _ = PieceIndex::new_unchecked(0);
    let _ = &mut r;
}

#[test]
fn bitfield_with_wanted_pieces_makes_us_interested() {
    let mut r = rig(false, TorrentConfig::default());
    let c = ConnId(1);
    r.t.handle_connected(r.now, c, addr(1), Direction::Outgoing, TransportKind::Tcp);
    let mut b = peer_hs(r.ih, 1);
    b.extend(enc(&[Message::Bitfield(&[0b0100_0000])]));
    r.t.handle_data(r.now, c, &b);
    let out = sent(&mut r.t, c);
    assert!(out.contains(&"Interested".to_string()), "{out:?}");
    // unchoked: it is asked only for the piece it has
    r.t.handle_data(r.now, c, &enc(&[Message::Unchoke]));
    let reqs = requests(&sent(&mut r.t, c));
    assert_eq!(reqs, vec![(1, 0, 16384), (1, 16384, 16384)]);
}

/// aria2 sends HAVE NONE, then HAVEs, then a bitfield summing them up:
/// the late bitfield adds pieces (like HAVEs) instead of getting it banned.
#[test]
fn late_bitfield_counts_as_haves() {
    let mut r = rig(false, TorrentConfig::default());
    let c = ConnId(1);
    r.t.handle_connected(r.now, c, addr(1), Direction::Outgoing, TransportKind::Tcp);
    let mut b = peer_hs(r.ih, 1);
    b.extend(enc(&[
        Message::HaveNone,
        Message::Have { piece: 3 },
        Message::Bitfield(&[0b0011_0000]),
        Message::Unchoke,
    ]));
    r.t.handle_data(r.now, c, &b);
    let out = sent(&mut r.t, c);
    assert!(out.contains(&"Interested".to_string()), "{out:?}");
    let mut pieces: Vec<u32> = requests(&out).iter().map(|q| q.0).collect();
    pieces.sort();
    pieces.dedup();
    assert_eq!(pieces, vec![2, 3], "{out:?}");
    assert!(!r.t.is_banned(addr(1)));
    // a late bitfield of the wrong size is still misbehaviour
    r.t.handle_data(r.now, c, &enc(&[Message::Bitfield(&[0xf0, 0])]));
    assert!(r.t.is_banned(addr(1)));
}

#[test]
fn metadata_request_flood_is_bounded() {
    // info dictionary of ~20 KB: two metadata pieces
    let data = content(1000 * 16384, 2);
    let meta = make_v1("m", &data, 16384);
    assert!(meta.info_bytes.len() > 16384);
    let now = Instant::now();
    let ih = meta.info_hashes.v1.unwrap().0;
    let mut r = Rig {
        t: Torrent::new(
            TorrentConfig::default(),
            meta.info_hashes,
            Some(meta.clone()),
            Bitfield::full(1000),
            [7; 20],
            now,
        ),
        now,
        data: Vec::new(),
        ih,
    };
    let c = ConnId(1);
    r.t.handle_connected(r.now, c, addr(1), Direction::Incoming, TransportKind::Tcp);
    let mut b = peer_hs(r.ih, 1);
    b.extend(enc(&[Message::Extended {
        id: 0,
        payload: b"d1:md11:ut_metadatai3eee",
    }]));
    let req = b"d8:msg_typei0e5:piecei0ee";
    for _ in 0..400 {
        b.extend(enc(&[Message::Extended {
            id: 1,
            payload: req,
        }]));
    }
    r.t.handle_data(r.now, c, &b);
    let mut data_msgs = 0;
    let mut rejects = 0;
    let mut raw = Vec::new();
    while let Some(tx) = r.t.poll_transmit() {
        raw.extend_from_slice(&tx.data);
    }
    let total = raw.len();
    // paced: what did not fit this second's budget is answered in the next
    r.t.handle_timeout(r.now + Duration::from_secs(1));
    while let Some(tx) = r.t.poll_transmit() {
        raw.extend_from_slice(&tx.data);
    }
    let mut pos = 68;
    while let Ok(wire::Decoded::Message(m, n)) = wire::decode(&raw[pos..]) {
        if let Message::Extended { id: 3, payload } = m {
            if payload.starts_with(b"d8:msg_typei1e") {
                data_msgs += 1;
            } else if payload.starts_with(b"d8:msg_typei2e") {
                rejects += 1;
            }
        }
        pos += n;
    }
    assert_eq!(data_msgs + rejects, 400);
    assert!(
        rejects > 0 && total < 4 * 1024 * 1024,
        "{data_msgs} data, {rejects} rejects, {total} bytes"
    );
}

#[test]
fn incoming_routed_by_the_glue() {
    let mut r = rig(true, TorrentConfig::default());
    let c = ConnId(3);
    let hs = Handshake {
        reserved: Reserved {
            extended: false,
            fast: true,
            v2: false,
        },
        info_hash: r.ih,
        peer_id: [3; 20],
    };
    let rest = enc(&[Message::HaveNone, Message::Interested]);
    r.t.handle_incoming(r.now, c, addr(3), hs, &rest, TransportKind::Quic);
    let out = sent(&mut r.t, c);
    // our handshake went first (skipped by `sent`), then have-all, unchoke
    assert_eq!(out, vec!["HaveAll".to_string(), "Unchoke".to_string()]);
    assert!(events(&mut r.t)
        .iter()
        .any(|e| matches!(e, Event::PeerConnected { conn, .. } if *conn == c)));
    // wrong torrent
    let other = Handshake {
        info_hash: [0; 20],
        ..hs
    };
    r.t.handle_incoming(r.now, ConnId(4), addr(4), other, &[], TransportKind::Tcp);
    // closed, not banned: a failed handshake is no misbehaviour
    assert!(events(&mut r.t).iter().any(|e| matches!(
        e,
        Event::Disconnect {
            reason: DisconnectReason::HandshakeFailed(PeerMisbehaved::WrongInfoHash),
            ..
        }
    )));
    assert_eq!(r.t.stats().banned, 0);
}

mod fuzz {
    use proptest::prelude::*;

    use super::*;

    /// A message with arbitrary (often invalid) fields, or raw garbage.
    fn any_frame() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            (0u8..=23, 0u32..8, 0u32..70_000, 0u32..20_000).prop_map(|(id, a, b, c)| {
                let mut p = a.to_be_bytes().to_vec();
                p.extend_from_slice(&b.to_be_bytes());
                p.extend_from_slice(&c.to_be_bytes());
                let keep = match id {
                    0..=3 | 14 | 15 => 0,
                    4 | 13 | 17 => 4,
                    9 => 2,
                    _ => 12,
                };
                p.truncate(keep);
                msg_bytes(id, &p)
            }),
            (
                0u32..6,
                0u32..2,
                proptest::collection::vec(any::<u8>(), 0..300)
            )
                .prop_map(|(piece, off, d)| {
                    let mut p = piece.to_be_bytes().to_vec();
                    p.extend_from_slice(&(off * 16384).to_be_bytes());
                    p.extend_from_slice(&d);
                    msg_bytes(7, &p)
                }),
            proptest::collection::vec(any::<u8>(), 0..8).prop_map(|b| msg_bytes(5, &b)),
            proptest::collection::vec(any::<u8>(), 0..60).prop_map(|mut b| {
                b.insert(0, 1);
                msg_bytes(20, &b)
            }),
            proptest::collection::vec(any::<u8>(), 0..40),
        ]
    }

    fn msg_bytes(id: u8, p: &[u8]) -> Vec<u8> {
        let mut m = ((p.len() + 1) as u32).to_be_bytes().to_vec();
        m.push(id);
        m.extend_from_slice(p);
        m
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// Whatever a peer sends, the state machine neither panics nor
        /// grows without bound, and a bad peer ends up disconnected rather
        /// than half-handled.
        #[test]
        fn arbitrary_peer_input_never_panics(
            seed in any::<bool>(),
            magnet in any::<bool>(),
            frames in proptest::collection::vec(any_frame(), 0..40),
            split in 1usize..64,
        ) {
            let mut r = rig(seed, TorrentConfig::default());
            if magnet {
                let hashes = *r.t.info_hashes();
                r.t = Torrent::new(TorrentConfig::default(), hashes, None, Bitfield::new(0), [7; 20], r.now);
            }
            let c = ConnId(1);
            r.t.handle_connected(r.now, c, addr(1), Direction::Incoming, TransportKind::Tcp);
            let mut stream = peer_hs(r.ih, 1);
            for f in &frames {
                stream.extend_from_slice(f);
            }
            let mut now = r.now;
            for chunk in stream.chunks(split) {
                r.t.handle_data(now, c, chunk);
                now += Duration::from_millis(300);
                r.t.handle_timeout(now);
                while let Some(j) = poll_verify(&mut r.t) {
                    verified(&mut r.t, now, j, false);
                }
                let mut out = 0;
                while let Some(tx) = r.t.poll_transmit() {
                    out += tx.data.len();
                }
                prop_assert!(out < 16 * 1024 * 1024);
                let _ = events(&mut r.t);
            }
            let st = r.t.stats();
            prop_assert!(st.peers <= 1);
            prop_assert!(st.have_pieces <= 4);
            if !seed || magnet {
                // nothing was verified: nothing may be had
                prop_assert_eq!(st.have_pieces, 0);
            }
        }
    }
}

#[test]
fn two_seeds_part() {
    let mut r = rig(true, TorrentConfig::default());
    let c = ConnId(1);
    r.t.handle_connected(r.now, c, addr(1), Direction::Incoming, TransportKind::Tcp);
    let mut b = peer_hs(r.ih, 1);
    b.extend(enc(&[Message::HaveAll]));
    r.t.handle_data(r.now, c, &b);
    let ev = events(&mut r.t);
    assert!(
        ev.iter().any(|e| matches!(
            e,
            Event::Disconnect {
                reason: DisconnectReason::BothSeeds,
                ..
            }
        )),
        "{ev:?}"
    );
    assert_eq!(r.t.stats().banned, 0);
}

#[test]
fn tit_for_tat_unchokes_the_best_uploaders_plus_one_optimistic() {
    let cfg = TorrentConfig {
        upload_slots: 2,
        ..Default::default()
    };
    let mut r = rig(false, cfg);
    let mut reqs = std::collections::BTreeMap::new();
    for i in 1..=5u8 {
        let c = ConnId(i as u64);
        r.t.handle_connected(r.now, c, addr(i), Direction::Outgoing, TransportKind::Tcp);
        let mut b = peer_hs(r.ih, i);
        b.extend(enc(&[
            Message::Bitfield(&[0xf0]),
            Message::Interested,
            Message::Unchoke,
        ]));
        r.t.handle_data(r.now, c, &b);
        reqs.insert(i, requests(&sent(&mut r.t, c)));
    }
    // first come, first unchoked
    let unchoked = |t: &Torrent| -> Vec<u64> {
        t.peers
            .values()
            .filter(|p| !p.am_choking)
            .map(|p| p.conn.0)
            .collect()
    };
    assert_eq!(unchoked(&r.t), vec![1, 2]);
    // peers 4 and 5 upload to us
    for i in [4u8, 5] {
        let q = reqs[&i].clone();
        answer(&mut r, ConnId(i as u64), &q[..1], false);
    }
    let now = r.now + Duration::from_secs(11);
    r.t.handle_timeout(now);
    let mut u = unchoked(&r.t);
    u.sort();
    assert_eq!(u, vec![1, 4, 5], "best uploaders 4, 5 and one optimistic");
    // 4 and 5 keep uploading; the optimistic slot rotates after 30 s
    for i in [4u8, 5] {
        let q = reqs[&i].clone();
        answer(&mut r, ConnId(i as u64), &q[1..2], false);
    }
    let later = now + Duration::from_secs(31);
    r.t.handle_timeout(later);
    let u = unchoked(&r.t);
    assert!(u.contains(&4) && u.contains(&5), "{u:?}");
    assert!(!u.contains(&1), "optimistic unchoke did not rotate: {u:?}");
    assert_eq!(u.len(), 3);
}

pub(super) fn ext_hs(payload: &[u8]) -> Vec<u8> {
    enc(&[Message::Extended { id: 0, payload }])
}

fn quic_offers(ev: &[Event]) -> Vec<(ConnId, u16)> {
    ev.iter()
        .filter_map(|e| match e {
            Event::QuicOffered { conn, port, .. } => Some((*conn, *port)),
            _ => None,
        })
        .collect()
}

#[test]
fn extension_handshake_advertises_quic_port_only_when_set() {
    let r = rig(true, TorrentConfig::default());
    let p = r.t.ext_handshake();
    let hs = crate::wire::ExtHandshake::decode(&p).unwrap();
    assert_eq!((hs.swarm_quic, hs.p), (None, None));
    let cfg = TorrentConfig {
        quic_port: Some(4433),
        listen_port: Some(6881),
        ..Default::default()
    };
    let r = rig(true, cfg);
    let p = r.t.ext_handshake();
    // Canonical (sorted) keys: the strict decoder reads it back.
    assert!(piece_core::bencode::decode(&p).is_ok());
    let hs = crate::wire::ExtHandshake::decode(&p).unwrap();
    assert_eq!(hs.swarm_quic, Some(4433));
    assert_eq!(hs.p, Some(6881));
    assert_eq!(hs.reqq, Some(500));
}

#[test]
fn peer_quic_port_is_reported_once_and_garbage_ignored() {
    let mut r = rig(true, TorrentConfig::default());
    let c = ConnId(1);
    r.t.handle_connected(r.now, c, addr(1), Direction::Incoming, TransportKind::Tcp);
    let mut b = peer_hs(r.ih, 1);
    b.extend(ext_hs(b"d1:md11:ut_metadatai3ee10:swarm_quici70000ee"));
    r.t.handle_data(r.now, c, &b);
    let ev = events(&mut r.t);
    assert!(quic_offers(&ev).is_empty(), "{ev:?}");
    for bad in [
        &b"d1:mde10:swarm_quici0ee"[..],
        b"d1:mde10:swarm_quici-7ee",
        b"d1:mde10:swarm_quic4:4433e",
        b"d1:mde10:swarm_quicli1eee",
    ] {
        r.t.handle_data(r.now, c, &ext_hs(bad));
    }
    let ev = events(&mut r.t);
    assert!(quic_offers(&ev).is_empty(), "{ev:?}");
    assert!(
        !ev.iter().any(|e| matches!(e, Event::Disconnect { .. })),
        "garbage in an unknown-to-others key is not misbehaviour: {ev:?}"
    );
    r.t.handle_data(r.now, c, &ext_hs(b"d1:mde1:pi6881e10:swarm_quici4433ee"));
    let ev = events(&mut r.t);
    match ev.as_slice() {
        [Event::QuicOffered {
            conn,
            addr: a,
            port,
            tcp_port,
        }] => {
            let got = (*conn, *a, *port, *tcp_port);
            assert_eq!(got, (c, addr(1), 4433, Some(6881)));
        }
        other => panic!("{other:?}"),
    }
    // The same port again: nothing new; a new port: reported.
    r.t.handle_data(r.now, c, &ext_hs(b"d1:mde10:swarm_quici4433ee"));
    assert!(quic_offers(&events(&mut r.t)).is_empty());
    r.t.handle_data(r.now, c, &ext_hs(b"d1:mde10:swarm_quici4434ee"));
    assert_eq!(quic_offers(&events(&mut r.t)), vec![(c, 4434)]);
    assert_eq!(r.t.stats().peers, 1);
}

/// Connects `conn` (handshake from peer id `id`) and returns the
/// duplicate-disconnects that followed.
fn dup_drops(
    r: &mut Rig,
    conn: ConnId,
    a: SocketAddr,
    dir: Direction,
    kind: TransportKind,
    id: u8,
) -> Vec<ConnId> {
    r.t.handle_connected(r.now, conn, a, dir, kind);
    r.t.handle_data(r.now, conn, &peer_hs(r.ih, id));
    events(&mut r.t)
        .iter()
        .filter_map(|e| match e {
            Event::Disconnect {
                conn,
                reason: DisconnectReason::Duplicate,
            } => Some(*conn),
            _ => None,
        })
        .collect()
}

#[test]
fn duplicate_of_a_tcp_peer_over_quic_keeps_the_quic_link() {
    use Direction::{Incoming, Outgoing};
    use TransportKind::{Quic, Tcp};
    // Our peer id is [7; 20]: peer 9 is higher, peer 3 lower; the QUIC
    // link wins whichever side dialled.
    for (dir, id) in [(Outgoing, 9), (Outgoing, 3), (Incoming, 9), (Incoming, 3)] {
        let mut r = rig(true, TorrentConfig::default());
        let quic_addr = SocketAddr::from(([10, 1, 0, 1], 4433));
        assert!(dup_drops(&mut r, ConnId(1), addr(1), dir, Tcp, id).is_empty());
        let dropped = dup_drops(&mut r, ConnId(2), quic_addr, dir, Quic, id);
        assert_eq!(dropped, vec![ConnId(1)], "{dir:?} {id}");
        assert_eq!(r.t.stats().peers, 1);
        assert_eq!(r.t.stats().banned, 0);
        // A late TCP connection from the same peer loses to the QUIC one.
        let dropped = dup_drops(&mut r, ConnId(3), addr(1), dir, Tcp, id);
        assert_eq!(dropped, vec![ConnId(3)], "{dir:?} {id}");
        assert_eq!(r.t.stats().peers, 1);
        assert!(!r.t.is_banned(addr(1)) && !r.t.is_banned(quic_addr));
        // The QUIC connection still works.
        r.t.handle_data(r.now, ConnId(2), &enc(&[Message::Interested]));
        assert_eq!(r.t.stats().peers, 1);
    }
}

#[test]
fn a_freed_upload_slot_goes_to_a_waiting_peer_at_once() {
    let cfg = TorrentConfig {
        upload_slots: 1,
        ..Default::default()
    };
    let mut r = rig(true, cfg);
    for i in 1..=3u8 {
        let c = ConnId(i as u64);
        r.t.handle_connected(r.now, c, addr(i), Direction::Incoming, TransportKind::Tcp);
        let mut b = peer_hs(r.ih, i);
        b.extend(enc(&[Message::HaveNone, Message::Interested]));
        r.t.handle_data(r.now, c, &b);
    }
    let unchoked = |t: &Torrent| -> Vec<u64> {
        let mut v: Vec<u64> = t
            .peers
            .values()
            .filter(|p| !p.am_choking)
            .map(|p| p.conn.0)
            .collect();
        v.sort();
        v
    };
    assert_eq!(unchoked(&r.t), vec![1]);
    // Peer 1 leaves (a leecher that finished): 2 gets the slot now, not at
    // the next choke round.
    r.t.handle_closed(r.now, ConnId(1));
    assert_eq!(unchoked(&r.t), vec![2]);
    // Peer 2 loses interest: 3 gets it.
    r.t.handle_data(r.now, ConnId(2), &enc(&[Message::NotInterested]));
    assert_eq!(unchoked(&r.t), vec![2, 3]);
    assert!(sent(&mut r.t, ConnId(3)).contains(&"Unchoke".to_string()));
}

/// aria2 sends have-all/have-none after other messages (BEP 6 puts them
/// first): the late one counts like a late bitfield and bans nobody (it
/// had banned aria2 for an hour in the v1 .torrent interop test).
#[test]
fn a_late_have_all_counts_and_bans_nobody() {
    let mut r = rig(false, TorrentConfig::default());
    let c = ConnId(1);
    r.t.handle_connected(
        r.now,
        c,
        addr(1),
        Direction::Outgoing,
        TransportKind::Memory,
    );
    let mut b = peer_hs(r.ih, 1);
    b.extend(enc(&[
        Message::Unchoke,
        Message::HaveNone,
        Message::HaveAll,
    ]));
    r.t.handle_data(r.now, c, &b);
    let out = sent(&mut r.t, c);
    assert!(out.contains(&"Interested".to_string()), "{out:?}");
    assert!(!requests(&out).is_empty(), "{out:?}");
    let ev = events(&mut r.t);
    assert!(
        !ev.iter().any(|e| matches!(e, Event::Disconnect { .. })),
        "{ev:?}"
    );
    assert_eq!(r.t.stats().banned, 0);
}
