//! BEP 52 piece-layer fetching for v2-only torrents started from a magnet
//! link (the info dictionary carries only each file's `pieces root`).
//!
//! Until a file's piece layer is known its pieces cannot be verified, so
//! they are never requested (otherwise honest peers would be blamed for
//! failed checks). For each such file we request runs of the piece layer
//! (`base_layer = log2(piece_length / 16 KiB)`, up to 512 hashes, with the
//! uncle hashes up to the root) from peers that set the v2 reserved bit,
//! verify each run against the `pieces root`
//! ([`piece_core::merkle::verify_proof`]), and once the layer is whole emit
//! [`Event::PieceLayer`] (the glue adds it to its verifier) and open the
//! file's pieces to the picker.

use std::time::{Duration, Instant};

use piece_core::merkle::{self, Hash32};
use piece_core::metainfo::{Metainfo, Version};
use piece_core::Bitfield;

use super::{ConnId, Event, PeerMisbehaved, Torrent};
use crate::wire::{HashRequest, Message};

const MAX_RUN: usize = 512;
const LAYER_TIMEOUT: Duration = Duration::from_secs(10);
/// Outstanding hash requests per peer.
const MAX_PER_PEER: usize = 4;

#[derive(Debug)]
struct Need {
    root: Hash32,
    first_piece: u32,
    /// Pieces of the file.
    num: usize,
    /// Levels between the piece layer and the root.
    height: u32,
    run_len: usize,
    got: Vec<Option<Hash32>>,
    /// Per run: who was asked, when.
    asked: Vec<Option<(ConnId, Instant)>>,
    done: Vec<bool>,
}

/// Piece layers still to fetch.
#[derive(Debug, Default)]
pub(crate) struct LayerFetch {
    needs: Vec<Need>,
}

impl LayerFetch {
    /// The files of a v2-only torrent whose piece layer is missing, and the
    /// pieces that must wait for them.
    pub(crate) fn for_meta(meta: &Metainfo) -> Option<(LayerFetch, Bitfield)> {
        if meta.info.version != Version::V2 {
            return None;
        }
        let pl = meta.info.piece_length as u64;
        let n = meta.info.lengths.num_pieces();
        let mut blocked = Bitfield::new(n);
        let mut needs = Vec::new();
        for (i, f) in meta.info.files.iter().enumerate() {
            let Some(root) = f.pieces_root else { continue };
            if f.pad || f.length <= pl || meta.piece_layers.contains_key(&root) {
                continue;
            }
            let Some((first, last)) = meta.info.layout.file_pieces(i) else {
                continue;
            };
            let num = (last.get() - first.get() + 1) as usize;
            let width = num.next_power_of_two();
            let run_len = width.min(MAX_RUN);
            let runs = width.div_ceil(run_len).min(num.div_ceil(run_len));
            for p in first.get()..=last.get() {
                blocked.set(p);
            }
            needs.push(Need {
                root,
                first_piece: first.get(),
                num,
                height: width.trailing_zeros(),
                run_len,
                got: vec![None; num],
                asked: vec![None; runs],
                done: vec![false; runs],
            });
        }
        (!needs.is_empty()).then_some((LayerFetch { needs }, blocked))
    }

    pub(crate) fn peer_gone(&mut self, conn: ConnId) {
        for n in &mut self.needs {
            for a in n.asked.iter_mut() {
                if a.is_some_and(|(c, _)| c == conn) {
                    *a = None;
                }
            }
        }
    }
}

impl Torrent {
    /// Sends hash requests for missing piece-layer runs.
    pub(crate) fn fill_layer_requests(&mut self) {
        let Some(lf) = self.layers.as_mut() else {
            return;
        };
        let Some(meta) = self.meta.as_ref() else {
            return;
        };
        let ph = merkle::piece_height(meta.info.piece_length);
        let now = self.now;
        let mut sends = Vec::new();
        for p in self.peers.values() {
            if !p.active || !p.v2 || !(p.seed || p.have.as_ref().is_some_and(|h| !h.none())) {
                continue;
            }
            let mut mine = lf
                .needs
                .iter()
                .flat_map(|n| n.asked.iter())
                .filter(|a| a.is_some_and(|(c, _)| c == p.conn))
                .count();
            for n in lf.needs.iter_mut() {
                for r in 0..n.asked.len() {
                    if mine >= MAX_PER_PEER {
                        break;
                    }
                    if n.done[r] || n.asked[r].is_some() {
                        continue;
                    }
                    n.asked[r] = Some((p.conn, now));
                    mine += 1;
                    let run_h = n.run_len.trailing_zeros();
                    sends.push((
                        p.conn,
                        HashRequest {
                            pieces_root: n.root,
                            base_layer: ph,
                            index: (r * n.run_len) as u32,
                            length: n.run_len as u32,
                            proof_layers: n.height - run_h,
                        },
                    ));
                }
            }
        }
        for (c, req) in sends {
            self.send(c, Message::HashRequest(req));
        }
    }

    /// Frees runs whose request went unanswered.
    pub(crate) fn layer_timeouts(&mut self) {
        let now = self.now;
        let Some(lf) = self.layers.as_mut() else {
            return;
        };
        for n in &mut lf.needs {
            for a in n.asked.iter_mut() {
                if a.is_some_and(|(_, t)| now.saturating_duration_since(t) >= LAYER_TIMEOUT) {
                    *a = None;
                }
            }
        }
    }

    pub(crate) fn on_hash_reject(&mut self, conn: ConnId, req: HashRequest) {
        if let Some(p) = self.peers.get_mut(&conn) {
            // it cannot serve layers: do not ask it again
            p.v2 = false;
        }
        let Some(lf) = self.layers.as_mut() else {
            return;
        };
        for n in lf.needs.iter_mut().filter(|n| n.root == req.pieces_root) {
            for a in n.asked.iter_mut() {
                if a.is_some_and(|(c, _)| c == conn) {
                    *a = None;
                }
            }
        }
    }

    pub(crate) fn on_hashes(
        &mut self,
        conn: ConnId,
        req: HashRequest,
        raw: &[u8],
    ) -> Result<(), PeerMisbehaved> {
        let Some(lf) = self.layers.as_mut() else {
            return Ok(());
        };
        let Some(ni) = lf.needs.iter().position(|n| n.root == req.pieces_root) else {
            return Ok(());
        };
        let n = &mut lf.needs[ni];
        let r = req.index as usize / n.run_len.max(1);
        let asked = n
            .asked
            .get(r)
            .is_some_and(|a| a.is_some_and(|(c, _)| c == conn));
        if !asked || req.index as usize % n.run_len != 0 || req.length as usize != n.run_len {
            // unsolicited or not the run we asked for: ignore
            return Ok(());
        }
        let hs: Vec<Hash32> = raw
            .chunks_exact(32)
            .map(|c| {
                let mut h = [0u8; 32];
                h.copy_from_slice(c);
                h
            })
            .collect();
        if hs.len() < n.run_len {
            return Err(PeerMisbehaved::ProtocolViolation("too few hashes"));
        }
        let (run, uncles) = hs.split_at(n.run_len);
        merkle::verify_proof(&n.root, run, req.index as u64, uncles, n.height).map_err(|_| {
            PeerMisbehaved::ProtocolViolation("hashes do not match the pieces root")
        })?;
        for (k, h) in run.iter().enumerate() {
            if let Some(slot) = n.got.get_mut(req.index as usize + k) {
                *slot = Some(*h);
            }
        }
        n.done[r] = true;
        n.asked[r] = None;
        if n.done.iter().all(|d| *d) {
            let layer: Vec<Hash32> = n.got.iter().map(|h| h.unwrap_or([0; 32])).collect();
            let (root, first, num) = (n.root, n.first_piece, n.num);
            lf.needs.remove(ni);
            if lf.needs.is_empty() {
                self.layers = None;
            }
            if let Some(meta) = self.meta.as_ref() {
                let mut m = Metainfo::clone(meta);
                if m.add_piece_layer(root, &layer).is_ok() {
                    self.meta = Some(std::sync::Arc::new(m));
                }
            }
            if let Some(pk) = self.picker.as_mut() {
                pk.unblock(first..first + num as u32);
            }
            self.events.push_back(Event::PieceLayer {
                pieces_root: root,
                hashes: layer,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use bytes::BytesMut;
    use piece_core::create::{create_torrent, CreateOptions};
    use piece_core::metainfo::{Metainfo, Version};
    use piece_core::Bitfield;

    use super::*;
    use crate::proto::{Direction, TorrentConfig, TransportKind};
    use crate::wire::{self, Handshake, Reserved};

    /// A v2-only torrent from a magnet (no piece layers) and one seeding
    /// peer whose handshake has the BEP 52 bit set or not: what we sent it.
    fn magnet_v2_with_seed(v2_bit: bool) -> (Torrent, ConnId, Vec<HashRequest>, usize) {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("big.bin");
        std::fs::write(&f, crate::sim::content(10 * 32768, 5)).unwrap();
        let opts = CreateOptions {
            version: Version::V2,
            piece_length: Some(32768),
            threads: Some(1),
            ..Default::default()
        };
        let full = Metainfo::from_bytes(&create_torrent(&f, &opts, None).unwrap().bytes).unwrap();
        // what a magnet gives: no piece layers
        let meta = Arc::new(Metainfo::from_info_bytes(&full.info_bytes, vec![]).unwrap());
        assert!(meta.piece_layers.is_empty());
        let now = Instant::now();
        let mut t = Torrent::new(
            TorrentConfig::default(),
            meta.info_hashes,
            Some(meta.clone()),
            Bitfield::new(10),
            [1; 20],
            now,
        );
        let c = ConnId(1);
        t.handle_connected(
            now,
            c,
            "10.0.0.1:1".parse().unwrap(),
            Direction::Outgoing,
            TransportKind::Tcp,
        );
        let mut b = BytesMut::new();
        let hs = Handshake {
            reserved: Reserved {
                extended: false,
                fast: true,
                v2: v2_bit,
            },
            info_hash: meta.info_hashes.wire_id(),
            peer_id: [2; 20],
        };
        wire::encode_handshake(&hs, &mut b);
        wire::encode(&Message::HaveAll, &mut b).unwrap();
        wire::encode(&Message::Unchoke, &mut b).unwrap();
        t.handle_data(now, c, &b);
        let mut out = Vec::new();
        while let Some(tx) = t.poll_transmit() {
            out.extend_from_slice(&tx.data);
        }
        let mut pos = 68;
        let mut reqs = Vec::new();
        let mut block_requests = 0;
        while let Ok(wire::Decoded::Message(m, n)) = wire::decode(&out[pos..]) {
            match m {
                Message::HashRequest(r) => reqs.push(r),
                Message::Request { .. } => block_requests += 1,
                _ => {}
            }
            pos += n;
        }
        (t, c, reqs, block_requests)
    }

    /// libtorrent does not set the BEP 52 bit on a v2-only torrent's
    /// connection; it serves hash requests all the same.
    #[test]
    fn v2_only_peers_are_asked_without_the_v2_bit() {
        let (_, _, reqs, block_requests) = magnet_v2_with_seed(false);
        assert_eq!(block_requests, 0);
        assert_eq!(reqs.len(), 1);
    }

    #[test]
    fn layer_runs_are_requested_and_forged_hashes_ban() {
        let (mut t, c, reqs, block_requests) = magnet_v2_with_seed(true);
        let now = Instant::now();
        // no block is requested before its hashes are known
        assert_eq!(block_requests, 0);
        assert_eq!(reqs.len(), 1);
        let r = reqs[0];
        assert_eq!(
            (r.base_layer, r.index, r.length, r.proof_layers),
            (1, 0, 16, 0)
        );
        // forged hashes: banned
        let forged = vec![7u8; 32 * 16];
        let mut b = BytesMut::new();
        wire::encode(
            &Message::Hashes {
                req: r,
                hashes: &forged,
            },
            &mut b,
        )
        .unwrap();
        t.handle_data(now, c, &b);
        let ev: Vec<Event> = std::iter::from_fn(|| t.poll_event()).collect();
        assert!(
            ev.iter().any(|e| matches!(
                e,
                Event::PeerBanned {
                    reason: PeerMisbehaved::ProtocolViolation(_),
                    ..
                }
            )),
            "{ev:?}"
        );
    }
}
