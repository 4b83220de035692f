//! Deterministic swarm simulations of the protocol state machine.

use std::time::Duration;

use swarm::proto::{DisconnectReason, Event, PeerMisbehaved, TorrentConfig};
use swarm::sim::MemStorage;
use swarm::sim::{content, make_v1, NodeId, NodeOpts, Sim, SimConfig};
use swarm::wire::{DecodeError, ExtError, MetadataError, MetadataMsgError};

const PIECE: u32 = 32 * 1024;

fn seed_opts() -> NodeOpts {
    NodeOpts {
        seed: true,
        ..Default::default()
    }
}

fn banned(sim: &Sim, n: NodeId) -> Vec<(std::net::SocketAddr, PeerMisbehaved)> {
    sim.events(n)
        .iter()
        .filter_map(|(_, e)| match e {
            Event::PeerBanned { addr, reason, .. } => Some((*addr, reason.clone())),
            _ => None,
        })
        .collect()
}

/// 1 seeder, 20 leechers, one corrupt seeder: everyone completes with the
/// right bytes and only the corrupt peer is banned.
fn big_swarm(seed: u64) -> (Sim, Vec<String>) {
    let data = content(6 * 1024 * 1024, 42);
    let meta = make_v1("zine.pdf", &data, PIECE);
    let mut sim = Sim::new(SimConfig {
        seed,
        ..Default::default()
    });
    let seeder = sim.add_node(&meta, &data, seed_opts());
    let corrupt = sim.add_node(
        &meta,
        &data,
        NodeOpts {
            seed: true,
            corrupt: true,
            ..Default::default()
        },
    );
    let leechers: Vec<NodeId> = (0..20)
        .map(|_| sim.add_node(&meta, &data, NodeOpts::default()))
        .collect();
    for (k, &l) in leechers.iter().enumerate() {
        let mut peers = vec![seeder, corrupt];
        peers.extend(leechers[..k].iter().copied());
        sim.introduce(l, &peers);
    }
    let ls = leechers.clone();
    let ok = sim.run_until(Duration::from_secs(600), |s| {
        ls.iter().all(|&l| s.is_complete(l))
    });
    if !ok {
        for l in sim.trace().iter().take(60) {
            eprintln!("{l}");
        }
    }
    assert!(ok, "swarm did not complete by {:?}", sim.elapsed());
    let corrupt_addr = sim.addr(corrupt);
    for &l in &leechers {
        assert!(sim.data(l) == data, "leecher {l:?} has wrong bytes");
        for (addr, reason) in banned(&sim, l) {
            assert_eq!(addr, corrupt_addr, "honest peer banned by {l:?}: {reason}");
            assert!(
                matches!(reason, PeerMisbehaved::HashFailures { .. }),
                "{reason:?}"
            );
        }
    }
    assert!(banned(&sim, seeder).is_empty());
    let bans: usize = leechers.iter().map(|&l| banned(&sim, l).len()).sum();
    assert!(bans > 0, "no leecher noticed the corrupt peer");
    eprintln!(
        "completed at {:?}; {bans} leechers banned the corrupt peer",
        sim.elapsed()
    );
    let trace = sim.trace().to_vec();
    (sim, trace)
}

#[test]
fn swarm_with_corrupt_peer_completes_and_bans_only_it() {
    big_swarm(7);
}

#[test]
fn same_seed_same_trace() {
    let run = |seed| {
        let data = content(512 * 1024, 3);
        let meta = make_v1("a.pdf", &data, PIECE);
        let mut sim = Sim::new(SimConfig {
            seed,
            ..Default::default()
        });
        let s = sim.add_node(&meta, &data, seed_opts());
        let ls: Vec<NodeId> = (0..5)
            .map(|_| sim.add_node(&meta, &data, NodeOpts::default()))
            .collect();
        for (k, &l) in ls.iter().enumerate() {
            let mut p = vec![s];
            p.extend(&ls[..k]);
            sim.introduce(l, &p);
        }
        let l2 = ls.clone();
        assert!(sim.run_until(Duration::from_secs(120), |s| l2
            .iter()
            .all(|&l| s.is_complete(l))));
        sim.trace().to_vec()
    };
    let a = run(11);
    let b = run(11);
    assert!(a.len() > 50, "trace too short: {}", a.len());
    assert_eq!(a, b, "same seed must give the same trace");
    assert_ne!(a, run(12), "a different seed should change link timings");
}

#[test]
fn magnet_leecher_fetches_metadata_then_completes() {
    // metadata larger than one 16 KiB ut_metadata piece
    let data = content(1200 * PIECE as usize, 5);
    let meta = make_v1("big.pdf", &data, PIECE);
    assert!(meta.info_bytes.len() > 16 * 1024);
    let mut sim = Sim::new(SimConfig {
        seed: 3,
        ..Default::default()
    });
    let s1 = sim.add_node(&meta, &data, seed_opts());
    let s2 = sim.add_node(&meta, &data, seed_opts());
    let m = sim.add_node(
        &meta,
        &data,
        NodeOpts {
            magnet: true,
            ..Default::default()
        },
    );
    assert!(sim.torrent(m).unwrap().metainfo().is_none());
    sim.introduce(m, &[s1, s2]);
    assert!(
        sim.run_until(Duration::from_secs(300), |s| s.is_complete(m)),
        "magnet did not complete"
    );
    let got_meta = sim
        .events(m)
        .iter()
        .any(|(_, e)| matches!(e, Event::MetadataReceived(b) if *b == meta.info_bytes));
    assert!(got_meta, "no verified MetadataReceived event");
    assert!(sim.data(m) == data);
    assert!(banned(&sim, m).is_empty());
}

#[test]
fn free_rider_finishes_thanks_to_optimistic_unchoke_and_round_robin() {
    let data = content(2 * 1024 * 1024, 9);
    let meta = make_v1("c.pdf", &data, PIECE);
    let mut sim = Sim::new(SimConfig {
        seed: 5,
        bandwidth: (500_000, 1_000_000),
        ..Default::default()
    });
    let seed_cfg = TorrentConfig {
        upload_slots: 2,
        ..Default::default()
    };
    let s = sim.add_node(
        &meta,
        &data,
        NodeOpts {
            seed: true,
            config: Some(seed_cfg.clone()),
            ..Default::default()
        },
    );
    let mut ls = vec![];
    for _ in 0..6 {
        ls.push(sim.add_node(
            &meta,
            &data,
            NodeOpts {
                config: Some(seed_cfg.clone()),
                ..Default::default()
            },
        ));
    }
    let rider_cfg = TorrentConfig {
        upload_slots: 0,
        ..Default::default()
    };
    let rider = sim.add_node(
        &meta,
        &data,
        NodeOpts {
            config: Some(rider_cfg),
            ..Default::default()
        },
    );
    for (k, &l) in ls.iter().enumerate() {
        let mut p = vec![s];
        p.extend(&ls[..k]);
        sim.introduce(l, &p);
    }
    let mut p = vec![s];
    p.extend(&ls);
    sim.introduce(rider, &p);
    assert!(
        sim.run_until(Duration::from_secs(600), |sim| sim.is_complete(rider)),
        "free rider starved"
    );
    assert!(sim.data(rider) == data);
    assert_eq!(
        sim.torrent(rider).unwrap().stats().uploaded,
        0,
        "the free rider uploaded"
    );
    let all = ls.clone();
    assert!(sim.run_until(Duration::from_secs(600), |sim| all
        .iter()
        .all(|&l| sim.is_complete(l))));
}

#[test]
fn killed_seeder_does_not_stop_the_swarm() {
    let data = content(3 * 1024 * 1024, 4);
    let meta = make_v1("d.pdf", &data, PIECE);
    let mut sim = Sim::new(SimConfig {
        seed: 8,
        ..Default::default()
    });
    let s1 = sim.add_node(&meta, &data, seed_opts());
    let s2 = sim.add_node(&meta, &data, seed_opts());
    let ls: Vec<NodeId> = (0..6)
        .map(|_| sim.add_node(&meta, &data, NodeOpts::default()))
        .collect();
    for (k, &l) in ls.iter().enumerate() {
        let mut p = vec![s1, s2];
        p.extend(&ls[..k]);
        sim.introduce(l, &p);
    }
    // run until some data moved, then SIGKILL the first seeder
    let first = ls[0];
    assert!(sim.run_until(Duration::from_secs(60), |s| s
        .torrent(first)
        .unwrap()
        .stats()
        .have_pieces
        >= 10));
    sim.kill(s1);
    let l2 = ls.clone();
    assert!(sim.run_until(Duration::from_secs(600), |s| l2
        .iter()
        .all(|&l| s.is_complete(l))));
    for &l in &ls {
        assert!(sim.data(l) == data);
        assert!(banned(&sim, l).is_empty());
    }
}

#[test]
fn disk_full_pauses_with_a_typed_event() {
    let data = content(1024 * 1024, 6);
    let meta = make_v1("e.pdf", &data, PIECE);
    let mut sim = Sim::new(SimConfig {
        seed: 2,
        ..Default::default()
    });
    let s = sim.add_node(&meta, &data, seed_opts());
    let l = sim.add_node(
        &meta,
        &data,
        NodeOpts {
            capacity: Some(300 * 1024),
            ..Default::default()
        },
    );
    sim.introduce(l, &[s]);
    let failed = |sim: &Sim| {
        sim.events(l).iter().any(|(_, e)| {
            matches!(e, Event::StorageFailed { error, .. }
            if matches!(**error, piece_core::storage::StorageError::NoSpace { .. }))
        })
    };
    assert!(sim.run_until(Duration::from_secs(60), failed));
    let st = sim.torrent(l).unwrap().stats();
    assert!(st.paused && !st.complete && st.peers == 0);
    let msg = sim.events(l).iter().find_map(|(_, e)| match e {
        Event::StorageFailed { error, .. } => Some(error.to_string()),
        _ => None,
    });
    assert!(msg.unwrap().contains("disk full"));
}

// ---- hostile peers -------------------------------------------------------

fn handshake(info_hash: [u8; 20]) -> Vec<u8> {
    let mut h = vec![19];
    h.extend_from_slice(b"BitTorrent protocol");
    h.extend_from_slice(&[0, 0, 0, 0, 0, 0x10, 0, 0x04]);
    h.extend_from_slice(&info_hash);
    h.extend_from_slice(b"-EVIL01-000000000000");
    h
}

fn msg(id: u8, payload: &[u8]) -> Vec<u8> {
    let mut m = ((payload.len() + 1) as u32).to_be_bytes().to_vec();
    m.push(id);
    m.extend_from_slice(payload);
    m
}

fn request(piece: u32, offset: u32, len: u32) -> Vec<u8> {
    let mut p = piece.to_be_bytes().to_vec();
    p.extend_from_slice(&offset.to_be_bytes());
    p.extend_from_slice(&len.to_be_bytes());
    msg(6, &p)
}

/// A seeder, a leecher and a hostile raw peer talking to the seeder (or
/// the leecher). The hostile peer must be banned with the expected reason,
/// the leecher must still complete, nobody else is banned.
fn hostile(
    target_leecher: bool,
    script: impl FnOnce(&mut Sim, NodeId, u64, [u8; 20]),
    expect: impl Fn(&PeerMisbehaved) -> bool,
) {
    let data = content(40 * PIECE as usize, 8);
    let meta = make_v1("f.pdf", &data, PIECE);
    let mut sim = Sim::new(SimConfig {
        seed: 4,
        ..Default::default()
    });
    let s = sim.add_node(&meta, &data, seed_opts());
    let l = sim.add_node(&meta, &data, NodeOpts::default());
    let raw = sim.add_raw();
    let target = if target_leecher { l } else { s };
    let link = sim.connect_raw(raw, target);
    sim.introduce(l, &[s]);
    let ih = meta.info_hashes.v1.unwrap().0;
    script(&mut sim, raw, link, ih);
    assert!(sim.run_until(Duration::from_secs(120), |sim| sim.is_complete(l)));
    let bans = banned(&sim, target);
    assert_eq!(bans.len(), 1, "bans: {bans:?}");
    assert_eq!(bans[0].0, sim.addr(raw));
    assert!(expect(&bans[0].1), "unexpected reason {:?}", bans[0].1);
    assert!(!bans[0].1.to_string().is_empty());
    assert!(
        !sim.link_open(link),
        "connection to the hostile peer still open"
    );
    assert!(sim.torrent(target).unwrap().is_banned(sim.addr(raw)));
    assert!(sim.data(l) == data);
    let other = if target_leecher { s } else { l };
    assert!(banned(&sim, other).is_empty());
    // a banned address is refused at once
    let again = sim.connect_raw(raw, target);
    sim.run_until(sim.elapsed() + Duration::from_secs(1), |_| false);
    assert!(!sim.link_open(again));
    assert!(sim.events(target).iter().any(|(_, e)| matches!(
        e,
        Event::Disconnect {
            reason: DisconnectReason::Banned,
            ..
        }
    )));
}

fn after_handshake(extra: Vec<u8>) -> impl FnOnce(&mut Sim, NodeId, u64, [u8; 20]) {
    move |sim, raw, link, ih| {
        let mut b = handshake(ih);
        b.extend(extra);
        sim.raw_send(raw, link, &b);
    }
}

#[test]
fn hostile_wrong_bitfield_size() {
    // 40 pieces = 5 bytes; send 6
    hostile(false, after_handshake(msg(5, &[0xff; 6])), |r| {
        matches!(r, PeerMisbehaved::InvalidBitfield(_))
    });
}

#[test]
fn hostile_second_bitfield_of_wrong_size() {
    // a valid bitfield, then a second one of the wrong size (a second one
    // of the right size is taken as HAVEs: aria2 sends those)
    let mut b = msg(5, &[0xff; 5]);
    b.extend(msg(5, &[0xff; 6]));
    hostile(true, after_handshake(b), |r| {
        matches!(r, PeerMisbehaved::InvalidBitfield(_))
    });
}

#[test]
fn hostile_out_of_range_have() {
    hostile(true, after_handshake(msg(4, &40u32.to_be_bytes())), |r| {
        matches!(r, PeerMisbehaved::IndexOutOfRange { index: 40 })
    });
}

#[test]
fn hostile_request_past_piece_end() {
    hostile(
        false,
        after_handshake(request(3, PIECE - 100, 16384)),
        |r| matches!(r, PeerMisbehaved::RequestOutOfBounds { piece: 3, .. }),
    );
}

#[test]
fn hostile_oversize_message() {
    let mut b = 0x7fff_fff0u32.to_be_bytes().to_vec();
    b.push(7);
    hostile(false, after_handshake(b), |r| {
        matches!(r, PeerMisbehaved::OversizeMessage { .. })
    });
}

/// A connection whose handshake fails is closed without a ban (issue 14:
/// what answers at a hinted address need not be a peer), and the address
/// may connect again.
fn refused_without_ban(first: Vec<u8>, expect: PeerMisbehaved) {
    let data = content(8 * PIECE as usize, 8);
    let meta = make_v1("f.pdf", &data, PIECE);
    let mut sim = Sim::new(SimConfig {
        seed: 4,
        ..Default::default()
    });
    let s = sim.add_node(&meta, &data, seed_opts());
    let l = sim.add_node(&meta, &data, NodeOpts::default());
    let raw = sim.add_raw();
    let link = sim.connect_raw(raw, s);
    sim.introduce(l, &[s]);
    sim.raw_send(raw, link, &first);
    assert!(sim.run_until(Duration::from_secs(60), |sim| sim.is_complete(l)));
    assert!(!sim.link_open(link));
    assert!(banned(&sim, s).is_empty());
    let want = DisconnectReason::HandshakeFailed(expect);
    assert!(sim
        .events(s)
        .iter()
        .any(|(_, e)| matches!(e, Event::Disconnect { reason, .. } if *reason == want)));
    let again = sim.connect_raw(raw, s);
    let ih = meta.info_hashes.v1.unwrap().0;
    sim.raw_send(raw, again, &handshake(ih));
    sim.run_until(sim.elapsed() + Duration::from_secs(1), |_| false);
    assert!(sim.link_open(again), "a failed handshake must not ban");
}

#[test]
fn hostile_wrong_length_for_its_id() {
    // a HAVE with 8 payload bytes: refused by the wire codec, typed
    hostile(false, after_handshake(msg(4, &[0; 8])), |r| {
        *r == PeerMisbehaved::MalformedMessage(DecodeError::BadLength { id: 4, len: 9 })
    });
}

#[test]
fn hostile_extension_handshake_with_a_key_twice() {
    // Two readers could disagree on which value counts: refused.
    hostile(false, after_handshake(msg(20, b"\x00d1:mde1:mdee")), |r| {
        matches!(r, PeerMisbehaved::BadExtHandshake(ExtError::Bencode(_)))
    });
}

#[test]
fn hostile_ut_metadata_message_with_a_bad_field() {
    // our ut_metadata id is 1; msg_type must be an integer
    hostile(
        false,
        after_handshake(msg(20, b"\x01d8:msg_type1:x5:piecei0ee")),
        |r| *r == PeerMisbehaved::BadMetadataMessage(MetadataMsgError::BadField("msg_type")),
    );
}

#[test]
fn magnet_refuses_metadata_piece_with_another_total_size() {
    let data = content(40 * PIECE as usize, 8);
    let meta = make_v1("f.pdf", &data, PIECE);
    let size = meta.info_bytes.len();
    assert!(size <= 16 * 1024, "one metadata piece");
    let mut sim = Sim::new(SimConfig {
        seed: 5,
        ..Default::default()
    });
    let m = sim.add_node(
        &meta,
        &data,
        NodeOpts {
            magnet: true,
            ..Default::default()
        },
    );
    let raw = sim.add_raw();
    let link = sim.connect_raw(raw, m);
    let mut b = handshake(meta.info_hashes.v1.unwrap().0);
    let ext = format!("\x00d1:md11:ut_metadatai3ee13:metadata_sizei{size}ee");
    b.extend(msg(20, ext.as_bytes()));
    sim.raw_send(raw, link, &b);
    let want = msg(20, b"\x03d8:msg_typei0e5:piecei0ee");
    let asked = sim.run_until(Duration::from_secs(5), |sim| {
        sim.raw_received(raw, link)
            .windows(want.len())
            .any(|w| w == want)
    });
    assert!(asked, "the magnet never asked for metadata piece 0");
    // (the magnet's own ut_metadata id is 1)
    let mut p = format!("\x01d8:msg_typei1e5:piecei0e10:total_sizei{}ee", size + 1).into_bytes();
    p.extend_from_slice(&meta.info_bytes);
    sim.raw_send(raw, link, &msg(20, &p));
    sim.run_until(sim.elapsed() + Duration::from_secs(1), |_| false);
    let bans = banned(&sim, m);
    let mismatch = MetadataError::SizeMismatch {
        expected: size as u32,
        got: size as u32 + 1,
    };
    assert_eq!(
        bans,
        vec![(sim.addr(raw), PeerMisbehaved::BadMetadata(mismatch))]
    );
    assert!(sim.torrent(m).unwrap().metainfo().is_none());
}

#[test]
fn hostile_wrong_info_hash() {
    refused_without_ban(handshake([9; 20]), PeerMisbehaved::WrongInfoHash);
}

#[test]
fn hostile_bad_handshake() {
    refused_without_ban(
        b"GET / HTTP/1.1\r\n\r\n".to_vec(),
        PeerMisbehaved::BadHandshake,
    );
}

#[test]
fn hostile_request_flood() {
    hostile(
        false,
        |sim, raw, link, ih| {
            let mut b = handshake(ih);
            b.extend(msg(15, &[])); // have none
            b.extend(msg(2, &[])); // interested
            sim.raw_send(raw, link, &b);
            // wait to be unchoked
            sim.run_until(sim.elapsed() + Duration::from_millis(500), |_| false);
            let got = sim.raw_received(raw, link).to_vec();
            assert!(
                got.windows(5).any(|w| w == [0, 0, 0, 1, 1]),
                "never unchoked"
            );
            let mut flood = Vec::new();
            for i in 0..600u32 {
                flood.extend(request(i % 40, 0, 16384));
            }
            sim.raw_send(raw, link, &flood);
        },
        |r| matches!(r, PeerMisbehaved::TooManyRequests { limit: 500 }),
    );
}

#[test]
fn hostile_unrequested_data() {
    hostile(
        true,
        |sim, raw, link, ih| {
            let mut b = handshake(ih);
            b.extend(msg(15, &[]));
            for i in 0..40u32 {
                let mut p = i.to_be_bytes().to_vec();
                p.extend_from_slice(&0u32.to_be_bytes());
                p.extend_from_slice(&[0xaa; 1024]);
                b.extend(msg(7, &p));
            }
            sim.raw_send(raw, link, &b);
        },
        |r| matches!(r, PeerMisbehaved::UnrequestedData { .. }),
    );
}

#[test]
fn storage_contents_compare() {
    // sanity check of the simulator's storage helper
    let data = content(100_000, 1);
    let meta = make_v1("g", &data, PIECE);
    let hashes = piece_core::hash::PieceHashes::new(&meta).unwrap();
    let st = MemStorage::with_data(meta.info.layout.clone(), data.clone());
    assert!(swarm::sim::verify_piece(
        &hashes,
        &st,
        meta.info.lengths.piece(3).unwrap()
    ));
    let bad = MemStorage::with_data(meta.info.layout.clone(), data).corrupting();
    assert!(!swarm::sim::verify_piece(
        &hashes,
        &bad,
        meta.info.lengths.piece(3).unwrap()
    ));
    // the hand-made info dictionary parses like a real one
    let parsed = piece_core::metainfo::Metainfo::from_info_bytes(&meta.info_bytes, vec![]).unwrap();
    assert_eq!(parsed.info_hashes, meta.info_hashes);
}

// ---- v2 and hybrid torrents (made by piece_core::create) ------------------

fn made_torrent(
    version: piece_core::metainfo::Version,
) -> (std::sync::Arc<piece_core::metainfo::Metainfo>, Vec<u8>) {
    use piece_core::create::{create_torrent, CreateOptions};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("zines");
    std::fs::create_dir(&root).unwrap();
    // odd sizes: hybrid torrents get pad files, v2 aligns every file
    let files = [
        ("a.pdf", 300_001usize, 1u64),
        ("b.pdf", 70_000, 2),
        ("c.txt", 5, 3),
        ("d.pdf", 1_000_000, 4),
    ];
    let mut contents = std::collections::BTreeMap::new();
    for (name, len, seed) in files {
        let d = content(len, seed);
        std::fs::write(root.join(name), &d).unwrap();
        contents.insert(name.to_string(), d);
    }
    let opts = CreateOptions {
        version,
        piece_length: Some(PIECE),
        threads: Some(1),
        ..Default::default()
    };
    let t = create_torrent(&root, &opts, None).unwrap();
    let meta = piece_core::metainfo::Metainfo::from_bytes(&t.bytes).unwrap();
    assert_eq!(meta.info.version, version);
    let data = swarm::sim::address_space(&meta, &|path| contents.get(path.last()?).cloned());
    assert_eq!(data.len() as u64, meta.info.lengths.total());
    (std::sync::Arc::new(meta), data)
}

fn small_swarm_completes(meta: &std::sync::Arc<piece_core::metainfo::Metainfo>, data: &[u8]) {
    let mut sim = Sim::new(SimConfig {
        seed: 21,
        ..Default::default()
    });
    let s = sim.add_node(meta, data, seed_opts());
    let ls: Vec<NodeId> = (0..4)
        .map(|_| sim.add_node(meta, data, NodeOpts::default()))
        .collect();
    for (k, &l) in ls.iter().enumerate() {
        let mut p = vec![s];
        p.extend(&ls[..k]);
        sim.introduce(l, &p);
    }
    let l2 = ls.clone();
    assert!(sim.run_until(Duration::from_secs(120), |s| l2
        .iter()
        .all(|&l| s.is_complete(l))));
    for &l in &ls {
        assert!(sim.data(l) == data, "wrong bytes");
        assert!(banned(&sim, l).is_empty());
        let failed = sim
            .events(l)
            .iter()
            .filter(|(_, e)| matches!(e, Event::PieceFailed { .. }))
            .count();
        assert_eq!(failed, 0);
    }
}

#[test]
fn hybrid_torrent_with_pad_files_completes() {
    let (meta, data) = made_torrent(piece_core::metainfo::Version::Hybrid);
    assert!(meta.info.files.iter().any(|f| f.pad), "expected pad files");
    assert!(meta.info_hashes.v1.is_some() && meta.info_hashes.v2.is_some());
    small_swarm_completes(&meta, &data);
}

#[test]
fn v2_torrent_completes() {
    let (meta, data) = made_torrent(piece_core::metainfo::Version::V2);
    assert!(meta.info_hashes.v1.is_none());
    small_swarm_completes(&meta, &data);
}

#[test]
fn upload_rate_limit_is_respected() {
    let data = content(1024 * 1024, 12);
    let meta = make_v1("h.pdf", &data, PIECE);
    let run = |limit: Option<u64>| {
        let mut sim = Sim::new(SimConfig {
            seed: 6,
            bandwidth: (10_000_000, 10_000_000),
            ..Default::default()
        });
        let cfg = TorrentConfig {
            upload_rate_limit: limit,
            ..Default::default()
        };
        let s = sim.add_node(
            &meta,
            &data,
            NodeOpts {
                seed: true,
                config: Some(cfg),
                ..Default::default()
            },
        );
        let l = sim.add_node(&meta, &data, NodeOpts::default());
        sim.introduce(l, &[s]);
        assert!(sim.run_until(Duration::from_secs(120), |sim| sim.is_complete(l)));
        assert!(sim.data(l) == data);
        sim.elapsed()
    };
    let fast = run(None);
    let slow = run(Some(256 * 1024));
    // 1 MiB at 256 KiB/s takes about 4 s of virtual time (a first burst
    // may come before the first refill)
    assert!(slow >= Duration::from_secs(3), "limited run took {slow:?}");
    assert!(fast < Duration::from_secs(1), "unlimited run took {fast:?}");
}

/// The ban rule across several seeds, with a corrupt *leecher-like* peer
/// too: honest peers are never banned, whatever the interleaving.
#[test]
fn corrupt_peer_is_pinned_for_many_seeds() {
    let data = content(2 * 1024 * 1024, 77);
    let meta = make_v1("k.pdf", &data, PIECE);
    for seed in 100..104 {
        let mut sim = Sim::new(SimConfig {
            seed,
            ..Default::default()
        });
        let s = sim.add_node(&meta, &data, seed_opts());
        let bad = sim.add_node(
            &meta,
            &data,
            NodeOpts {
                seed: true,
                corrupt: true,
                ..Default::default()
            },
        );
        let ls: Vec<NodeId> = (0..8)
            .map(|_| sim.add_node(&meta, &data, NodeOpts::default()))
            .collect();
        for (k, &l) in ls.iter().enumerate() {
            let mut p = vec![bad, s];
            p.extend(&ls[..k]);
            sim.introduce(l, &p);
        }
        let l2 = ls.clone();
        assert!(
            sim.run_until(Duration::from_secs(300), |s| l2
                .iter()
                .all(|&l| s.is_complete(l))),
            "seed {seed}"
        );
        for &l in &ls {
            assert!(sim.data(l) == data, "seed {seed}");
            for (a, r) in banned(&sim, l) {
                assert_eq!(a, sim.addr(bad), "seed {seed}: honest peer banned: {r}");
            }
        }
    }
}

#[test]
fn v2_magnet_fetches_metadata_and_piece_layers_then_completes() {
    let (meta, data) = made_torrent(piece_core::metainfo::Version::V2);
    assert!(!meta.piece_layers.is_empty());
    let mut sim = Sim::new(SimConfig {
        seed: 31,
        ..Default::default()
    });
    let s1 = sim.add_node(&meta, &data, seed_opts());
    let s2 = sim.add_node(&meta, &data, seed_opts());
    let m = sim.add_node(
        &meta,
        &data,
        NodeOpts {
            magnet: true,
            ..Default::default()
        },
    );
    sim.introduce(m, &[s1, s2]);
    assert!(
        sim.run_until(Duration::from_secs(120), |s| s.is_complete(m)),
        "v2 magnet did not complete"
    );
    assert!(sim.data(m) == data);
    let layers: Vec<_> = sim
        .events(m)
        .iter()
        .filter_map(|(_, e)| match e {
            Event::PieceLayer {
                pieces_root,
                hashes,
            } => Some((*pieces_root, hashes.clone())),
            _ => None,
        })
        .collect();
    // every file larger than a piece needed its layer, and got the right one
    assert_eq!(layers.len(), meta.piece_layers.len());
    for (root, hashes) in layers {
        assert_eq!(meta.piece_layers.get(&root), Some(&hashes));
    }
    assert!(banned(&sim, m).is_empty());
    let failed = sim
        .events(m)
        .iter()
        .any(|(_, e)| matches!(e, Event::PieceFailed { .. }));
    assert!(!failed);
}
