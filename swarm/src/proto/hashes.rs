//! BEP 52 `hash request` serving from the torrent's piece layers.
//!
//! We answer requests for runs of the **piece layer** (`base_layer ==
//! log2(piece_length / 16 KiB)`) of a file whose layer we have: `length` (a
//! power of two, at most 512) hashes starting at `index` (a multiple of
//! `length`), padded past the file's end with the hash of an all-zero piece,
//! followed by up to `proof_layers` uncle hashes (lowest first) proving the
//! run against the file's `pieces root`. Anything else gets a `hash reject`.

use piece_core::merkle::{self, Hash32};

use super::{ConnId, Torrent};
use crate::wire::{HashRequest, Message};

/// Largest run we serve in one message (BEP 52 suggests 512).
const MAX_RUN: u32 = 512;

impl Torrent {
    pub(crate) fn on_hash_request(&mut self, conn: ConnId, req: HashRequest) {
        let busy = !self.send_room(conn);
        match (!busy).then(|| self.hashes_for(&req)).flatten() {
            Some(h) => {
                let bytes: Vec<u8> = h.iter().flatten().copied().collect();
                self.send(
                    conn,
                    Message::Hashes {
                        req,
                        hashes: &bytes,
                    },
                );
            }
            None => self.send(conn, Message::HashReject(req)),
        }
    }

    fn hashes_for(&mut self, req: &HashRequest) -> Option<Vec<Hash32>> {
        let meta = self.meta.as_ref()?;
        let layer = meta.piece_layers.get(&req.pieces_root)?;
        let ph = merkle::piece_height(meta.info.piece_length);
        if req.base_layer != ph
            || req.length == 0
            || req.length > MAX_RUN
            || !req.length.is_power_of_two()
            || req.index % req.length != 0
        {
            return None;
        }
        let width = layer.len().max(1).next_power_of_two();
        let (index, len) = (req.index as usize, req.length as usize);
        if index + len > width.max(len) {
            return None;
        }
        // the tree above the layer is built once per file (super::trees)
        let pad = merkle::pad_hash(ph);
        let max = self.cfg.hash_tree_cache_bytes;
        let tree = self.trees.get(&req.pieces_root, layer, pad, max);
        let mut out: Vec<Hash32> = tree.layer()[index..(index + len).min(width)].to_vec();
        // a run wider than the padded layer is padded further; its root is
        // the top of the run itself: no uncles
        out.resize(len, pad);
        if len < width {
            let uncles = tree.uncles(index, len)?;
            out.extend(uncles.into_iter().take(req.proof_layers as usize));
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use piece_core::create::{create_torrent, CreateOptions};
    use piece_core::metainfo::{Metainfo, Version};
    use piece_core::Bitfield;

    use super::*;
    use crate::proto::{Direction, Event, TorrentConfig, TransportKind};
    use crate::wire::{self, Reserved};

    #[test]
    fn serves_piece_layer_runs_with_proofs() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("big.bin");
        std::fs::write(&f, crate::sim::content(20 * 32768 + 5, 3)).unwrap();
        let opts = CreateOptions {
            version: Version::V2,
            piece_length: Some(32768),
            threads: Some(1),
            ..Default::default()
        };
        let meta = Arc::new(
            Metainfo::from_bytes(&create_torrent(&f, &opts, None).unwrap().bytes).unwrap(),
        );
        let root = meta.info.files.iter().find_map(|f| f.pieces_root).unwrap();
        let layer = meta.piece_layers[&root].clone();
        assert_eq!(layer.len(), 21);
        let n = meta.info.lengths.num_pieces();
        let now = Instant::now();
        let mut t = Torrent::new(
            TorrentConfig::default(),
            meta.info_hashes,
            Some(meta.clone()),
            Bitfield::full(n),
            [1; 20],
            now,
        );
        let c = ConnId(1);
        t.handle_connected(
            now,
            c,
            "10.0.0.1:1".parse().unwrap(),
            Direction::Incoming,
            TransportKind::Tcp,
        );
        let mut b = bytes::BytesMut::new();
        let hs = wire::Handshake {
            reserved: Reserved {
                extended: false,
                fast: true,
                v2: true,
            },
            info_hash: meta.info_hashes.wire_id(),
            peer_id: [2; 20],
        };
        wire::encode_handshake(&hs, &mut b);
        let good = HashRequest {
            pieces_root: root,
            base_layer: 1,
            index: 16,
            length: 8,
            proof_layers: 10,
        };
        let bad = HashRequest {
            base_layer: 0,
            ..good
        };
        wire::encode(&Message::HashRequest(good), &mut b).unwrap();
        wire::encode(&Message::HashRequest(bad), &mut b).unwrap();
        t.handle_data(now, c, &b);
        assert!(
            std::iter::from_fn(|| t.poll_event()).all(|e| !matches!(e, Event::Disconnect { .. }))
        );
        let mut out = Vec::new();
        while let Some(tx) = t.poll_transmit() {
            out.extend_from_slice(&tx.data);
        }
        // v2 bit set in our handshake
        assert_eq!(out[27] & 0x10, 0x10);
        let mut pos = 68;
        let mut got = Vec::new();
        while let Ok(wire::Decoded::Message(m, used)) = wire::decode(&out[pos..]) {
            match m {
                Message::Hashes { req, hashes } => got.push(Ok((req, hashes.to_vec()))),
                Message::HashReject(req) => got.push(Err(req)),
                _ => {}
            }
            pos += used;
        }
        assert_eq!(got.len(), 2);
        let (req, hashes) = got[0].clone().unwrap();
        assert_eq!(req, good);
        let hs: Vec<Hash32> = hashes.chunks(32).map(|c| c.try_into().unwrap()).collect();
        // 8 hashes (5 real + 3 padding), then the uncles up to the root
        assert_eq!(&hs[..5], &layer[16..21]);
        let uncles = &hs[8..];
        assert_eq!(uncles.len(), 2);
        // run of 8 pieces in a 32-piece level: 2 levels of uncles, plus the piece height
        merkle::verify_proof(&root, &hs[..8], 16, uncles, 5).expect("proof verifies");
        assert_eq!(got[1], Err(bad));
    }
}
