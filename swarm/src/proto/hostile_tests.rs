//! Unit tests of the state machine against hostile peers (issue 14):
//! work per request, memory per peer, slots, bans.

use std::sync::Arc;
use std::time::{Duration, Instant};

use piece_core::create::{create_torrent, CreateOptions};
use piece_core::metainfo::{Metainfo, Version};
use piece_core::Bitfield;

use super::tests::{addr, enc, ext_hs, peer_hs, Rig};
use super::*;
use crate::wire::{self, HashRequest, Message};

/// A seeder of a v2 torrent of one file of `pieces` 32 KiB pieces.
fn v2_seeder(pieces: usize, cfg: TorrentConfig) -> (Rig, Arc<Metainfo>) {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("big.bin");
    let data = crate::sim::content(pieces * 32768, 9);
    std::fs::write(&f, &data).unwrap();
    let opts = CreateOptions {
        version: Version::V2,
        piece_length: Some(32768),
        threads: Some(1),
        ..Default::default()
    };
    let meta =
        Arc::new(Metainfo::from_bytes(&create_torrent(&f, &opts, None).unwrap().bytes).unwrap());
    let now = Instant::now();
    let n = meta.info.lengths.num_pieces();
    let t = Torrent::new(
        cfg,
        meta.info_hashes,
        Some(meta.clone()),
        Bitfield::full(n),
        [7; 20],
        now,
    );
    let ih = meta.info_hashes.wire_id();
    (Rig { t, now, data, ih }, meta)
}

/// Counts of what the torrent answered on its connections.
#[derive(Debug, Default, PartialEq)]
struct Answers {
    hashes: usize,
    hash_rejects: usize,
    metadata: usize,
    metadata_rejects: usize,
}

fn answers(t: &mut Torrent) -> Answers {
    let mut raw = Vec::new();
    while let Some(tx) = t.poll_transmit() {
        raw.extend_from_slice(&tx.data);
    }
    let mut a = Answers::default();
    let mut pos = if raw.first() == Some(&19) { 68 } else { 0 };
    while let Ok(wire::Decoded::Message(m, n)) = wire::decode(&raw[pos..]) {
        match m {
            Message::Hashes { .. } => a.hashes += 1,
            Message::HashReject(_) => a.hash_rejects += 1,
            Message::Extended { id: 3, payload } if payload.starts_with(b"d8:msg_typei1e") => {
                a.metadata += 1
            }
            Message::Extended { id: 3, payload } if payload.starts_with(b"d8:msg_typei2e") => {
                a.metadata_rejects += 1
            }
            _ => {}
        }
        pos += n;
    }
    a
}

/// Finding 6: 3,000 hash requests and 3,000 metadata requests build the
/// file's Merkle tree once and copy only the metadata pieces answered;
/// a peer gets `max_metadata_requests_per_sec` answers a second, as many
/// wait for the next second, the rest are rejected at once.
#[test]
fn hash_and_metadata_requests_cost_bounded_work() {
    let cfg = TorrentConfig::default();
    let per_sec = cfg.max_metadata_requests_per_sec as usize;
    let (mut r, meta) = v2_seeder(64, cfg);
    let root = meta.info.files.iter().find_map(|f| f.pieces_root).unwrap();
    let c = ConnId(1);
    r.t.handle_connected(r.now, c, addr(1), Direction::Incoming, TransportKind::Tcp);
    let mut b = peer_hs(r.ih, 1);
    b.extend(ext_hs(b"d1:md11:ut_metadatai3eee"));
    r.t.handle_data(r.now, c, &b);
    answers(&mut r.t);
    let mut b = Vec::new();
    for i in 0..3000u32 {
        b.extend(enc(&[Message::HashRequest(HashRequest {
            pieces_root: root,
            base_layer: 1,
            index: (i % 8) * 8,
            length: 8,
            proof_layers: 3,
        })]));
        // piece 0 exists, the others do not (rejects)
        let req = format!("d8:msg_typei0e5:piecei{}ee", i % 2);
        b.extend(enc(&[Message::Extended {
            id: 1,
            payload: req.as_bytes(),
        }]));
    }
    r.t.handle_data(r.now, c, &b);
    let first = answers(&mut r.t);
    let total = |a: &Answers| a.hashes + a.hash_rejects + a.metadata + a.metadata_rejects;
    // a second's worth answered (half of them hash requests), a second's
    // worth waiting, the rest rejected
    assert_eq!(total(&first), 6000 - per_sec, "{first:?}");
    assert_eq!(first.hashes, per_sec / 2, "{first:?}");
    assert_eq!(first.hash_rejects, 3000 - per_sec, "{first:?}");
    r.t.handle_timeout(r.now + Duration::from_secs(1));
    let second = answers(&mut r.t);
    assert_eq!(total(&second), per_sec, "{second:?}");
    assert_eq!(second.hashes, per_sec / 2, "{second:?}");
    assert_eq!(r.t.trees.builds, 1, "the tree is built once");
    let info = meta.info_bytes.len() as u64;
    assert_eq!(
        r.t.metadata_copied,
        (first.metadata + second.metadata) as u64 * info,
        "only answered metadata pieces are copied"
    );
    assert_eq!(r.t.stats().banned, 0);
}
