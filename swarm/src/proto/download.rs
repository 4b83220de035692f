//! Message handling, requesting blocks, receiving data and hash results.

use piece_core::{Bitfield, BlockInfo, PieceIndex};

use super::picker::{PeerHas, Received};
use super::{ConnId, DisconnectReason, Event, PeerMisbehaved, Torrent};
use crate::wire::Message;

/// Largest raw bitfield kept per peer for a magnet before the metadata is
/// known (8 Mi pieces); larger ones are ignored, not held against the peer
/// (they cannot be checked yet).
const MAX_PENDING_BITS: usize = 1024 * 1024;

type R = Result<(), PeerMisbehaved>;

impl Torrent {
    /// Checks a (piece, offset, len) triple from a peer.
    fn check_block(&self, piece: u32, offset: u32, len: u32) -> Result<BlockInfo, PeerMisbehaved> {
        let l = self
            .lengths
            .ok_or(PeerMisbehaved::ProtocolViolation("block before metadata"))?;
        if l.piece(piece).is_none() {
            return Err(PeerMisbehaved::IndexOutOfRange { index: piece });
        }
        l.block(piece, offset, len)
            .ok_or(PeerMisbehaved::RequestOutOfBounds { piece, offset, len })
    }

    pub(crate) fn on_message(&mut self, conn: ConnId, m: Message<'_>) -> R {
        let first = {
            let p = self
                .peers
                .get_mut(&conn)
                .ok_or(PeerMisbehaved::ProtocolViolation("gone"))?;
            let f = !p.got_first;
            // BEP 10 lets the extension handshake precede the bitfield
            if !matches!(
                m,
                Message::KeepAlive | Message::Extended { .. } | Message::Port(_)
            ) {
                p.got_first = true;
            }
            f
        };
        let fast = self.peers.get(&conn).is_some_and(|p| p.fast);
        match m {
            Message::KeepAlive => {}
            Message::Choke => self.on_choked(conn),
            Message::Unchoke => {
                if let Some(p) = self.peers.get_mut(&conn) {
                    p.peer_choking = false;
                }
            }
            Message::Interested => {
                if let Some(p) = self.peers.get_mut(&conn) {
                    p.peer_interested = true;
                }
                self.maybe_unchoke(conn);
            }
            Message::NotInterested => {
                if let Some(p) = self.peers.get_mut(&conn) {
                    p.peer_interested = false;
                }
            }
            Message::Have { piece } => self.on_have(conn, piece)?,
            Message::Bitfield(b) if first => self.on_bitfield(conn, b)?,
            Message::Bitfield(b) => self.on_late_bitfield(conn, b)?,
            Message::HaveAll | Message::HaveNone => {
                if !fast {
                    return Err(PeerMisbehaved::ProtocolViolation(
                        "have all/none without the fast extension",
                    ));
                }
                if !first {
                    // BEP 6 puts them first, but some clients (aria2) send
                    // them later: treated like a late bitfield, as
                    // libtorrent does, never as misbehaviour.
                    if let (Message::HaveAll, Some(l)) = (&m, self.lengths) {
                        for i in 0..l.num_pieces() {
                            self.on_have(conn, i)?;
                        }
                    }
                    return Ok(());
                }
                if matches!(m, Message::HaveAll) {
                    if self.is_complete() {
                        self.drop_peer(conn, DisconnectReason::BothSeeds);
                        return Ok(());
                    }
                    if let Some(p) = self.peers.get_mut(&conn) {
                        p.seed = true;
                    }
                    if let Some(pk) = self.picker.as_mut() {
                        pk.peer_have_all();
                    }
                } else if let (Some(l), Some(p)) = (self.lengths, self.peers.get_mut(&conn)) {
                    p.have = Some(Bitfield::new(l.num_pieces()));
                }
                self.update_interest(conn);
            }
            Message::Request { piece, offset, len } => self.on_request(conn, piece, offset, len)?,
            Message::Piece {
                piece,
                offset,
                data,
            } => {
                let b = self.check_block(piece, offset, data.len() as u32)?;
                self.on_block(conn, b, data)?;
            }
            Message::Cancel { piece, offset, len } => {
                if let Some(p) = self.peers.get_mut(&conn) {
                    p.incoming.retain(|b| {
                        !(b.piece.get() == piece && b.offset == offset && b.len == len)
                    });
                }
            }
            Message::RejectRequest { piece, offset, len } => {
                let Some(p) = self.peers.get_mut(&conn) else {
                    return Ok(());
                };
                if let Some(i) = p
                    .requests
                    .iter()
                    .position(|(b, _)| b.piece.get() == piece && b.offset == offset && b.len == len)
                {
                    let (b, _) = p.requests.remove(i);
                    if let Some(pk) = self.picker.as_mut() {
                        pk.cancel(b);
                    }
                }
            }
            Message::AllowedFast { .. } | Message::SuggestPiece { .. } | Message::Port(_) => {}
            Message::Extended { id, payload } => self.on_extended(conn, id, payload)?,
            Message::HashRequest(req) => self.pace(conn, super::pacing::Paced::Hashes(req)),
            Message::Hashes { req, hashes } => self.on_hashes(conn, req, hashes)?,
            Message::HashReject(req) => self.on_hash_reject(conn, req),
        }
        Ok(())
    }

    fn on_have(&mut self, conn: ConnId, piece: u32) -> R {
        let Some(l) = self.lengths else {
            // magnet: remember it until the metadata arrives
            let byte = (piece / 8) as usize;
            if byte >= MAX_PENDING_BITS {
                return Ok(());
            }
            if let Some(p) = self.peers.get_mut(&conn) {
                if p.pending_bits.len() <= byte {
                    p.pending_bits.resize(byte + 1, 0);
                }
                p.pending_bits[byte] |= 0x80 >> (piece % 8);
            }
            return Ok(());
        };
        let idx = l
            .piece(piece)
            .ok_or(PeerMisbehaved::IndexOutOfRange { index: piece })?;
        let n = l.num_pieces();
        let Some(p) = self.peers.get_mut(&conn) else {
            return Ok(());
        };
        if p.seed {
            return Ok(());
        }
        let had = p
            .have
            .get_or_insert_with(|| Bitfield::new(n))
            .set(idx.get());
        if had {
            let wanted = self.picker.as_ref().is_some_and(|pk| !pk.have().has(idx));
            if wanted {
                p.wanted += 1;
            }
            if let Some(pk) = self.picker.as_mut() {
                pk.peer_have(idx);
            }
            self.update_interest(conn);
        }
        Ok(())
    }

    fn on_bitfield(&mut self, conn: ConnId, raw: &[u8]) -> R {
        let Some(l) = self.lengths else {
            if raw.len() > MAX_PENDING_BITS {
                return Ok(());
            }
            if let Some(p) = self.peers.get_mut(&conn) {
                p.pending_bits = raw.to_vec();
            }
            return Ok(());
        };
        let b = Bitfield::from_wire(raw, l.num_pieces())
            .map_err(|e| PeerMisbehaved::InvalidBitfield(e.to_string()))?;
        let mut wanted = 0;
        if let Some(pk) = self.picker.as_mut() {
            pk.peer_bitfield(&b);
            wanted = b.ones().filter(|&i| !pk.have().get(i)).count() as u32;
        }
        if let Some(p) = self.peers.get_mut(&conn) {
            p.have = Some(b);
            p.wanted = wanted;
        }
        self.update_interest(conn);
        Ok(())
    }

    /// A bitfield after other messages. BEP 3 allows it only first, but
    /// aria2 sends one (after HAVE NONE and HAVEs) to sum up what it has,
    /// and libtorrent accepts it. Peers do not lose pieces, so it counts as
    /// HAVEs for the pieces it lists; a wrong size is still misbehaviour.
    fn on_late_bitfield(&mut self, conn: ConnId, raw: &[u8]) -> R {
        let Some(l) = self.lengths else {
            // magnet: merge into what we keep until the metadata arrives
            if raw.len() > MAX_PENDING_BITS {
                return Ok(());
            }
            if let Some(p) = self.peers.get_mut(&conn) {
                if p.pending_bits.len() < raw.len() {
                    p.pending_bits.resize(raw.len(), 0);
                }
                for (mine, theirs) in p.pending_bits.iter_mut().zip(raw) {
                    *mine |= theirs;
                }
            }
            return Ok(());
        };
        let b = Bitfield::from_wire(raw, l.num_pieces())
            .map_err(|e| PeerMisbehaved::InvalidBitfield(e.to_string()))?;
        for i in b.ones() {
            self.on_have(conn, i)?;
        }
        Ok(())
    }

    fn on_choked(&mut self, conn: ConnId) {
        let Some(p) = self.peers.get_mut(&conn) else {
            return;
        };
        p.peer_choking = true;
        let reqs = std::mem::take(&mut p.requests);
        for (b, _) in &reqs {
            p.remember_cancelled(*b);
        }
        if let Some(pk) = self.picker.as_mut() {
            for (b, _) in reqs {
                pk.cancel(b);
            }
        }
    }

    /// Recounts, for every peer, the pieces it has that we lack.
    pub(crate) fn recompute_interest(&mut self) {
        let Some(pk) = self.picker.as_ref() else {
            return;
        };
        let missing = pk.have().len() - pk.have().count();
        for p in self.peers.values_mut() {
            p.wanted = if p.seed {
                missing
            } else {
                p.have.as_ref().map_or(0, |h| {
                    h.ones().filter(|&i| !pk.have().get(i)).count() as u32
                })
            };
        }
        let conns: Vec<ConnId> = self.peers.keys().copied().collect();
        for c in conns {
            self.update_interest(c);
        }
    }

    /// Sends interested / not interested when our interest changed.
    pub(crate) fn update_interest(&mut self, conn: ConnId) {
        let missing = self
            .picker
            .as_ref()
            .map_or(0, |pk| pk.have().len() - pk.have().count());
        let Some(p) = self.peers.get_mut(&conn) else {
            return;
        };
        if !p.active {
            return;
        }
        if p.seed {
            p.wanted = missing;
        }
        let want = p.wanted > 0 && !self.paused;
        if want != p.am_interested {
            p.am_interested = want;
            let m = if want {
                Message::Interested
            } else {
                Message::NotInterested
            };
            self.send(conn, m);
        }
    }

    /// Tops up the request pipeline of one peer.
    pub(crate) fn fill_requests(&mut self, conn: ConnId) {
        let Some(p) = self.peers.get(&conn) else {
            return;
        };
        if !p.active || p.peer_choking || !p.am_interested || self.picker.is_none() {
            return;
        }
        if !self.disk_room() {
            // backpressure: the disk is behind (proto::disk)
            return;
        }
        let target = if p.snubbed {
            1
        } else {
            let by_rate = (p.down_rate * 2 / piece_core::BLOCK_SIZE as u64) as u32;
            by_rate
                .max(self.cfg.min_request_queue)
                .min(self.cfg.max_request_queue)
                .min(p.reqq.max(1))
        } as usize;
        if p.requests.len() >= target {
            return;
        }
        let parole = self.parole.contains(&p.key);
        let mut out = Vec::new();
        let has = if p.seed {
            super::picker::PeerHas::All
        } else {
            match p.have.as_ref() {
                Some(b) => PeerHas::Some(b),
                None => return,
            }
        };
        let reqs = &p.requests;
        let mine = |b: BlockInfo| reqs.iter().any(|(r, _)| *r == b);
        if let Some(pk) = self.picker.as_mut() {
            pk.pick(
                &has,
                p.key,
                parole,
                target - p.requests.len(),
                &mine,
                &mut out,
            );
        }
        let now = self.now;
        for b in out {
            if let Some(p) = self.peers.get_mut(&conn) {
                p.requests.push((b, now));
            }
            self.send(
                conn,
                Message::Request {
                    piece: b.piece.get(),
                    offset: b.offset,
                    len: b.len,
                },
            );
        }
    }

    /// The peer sent nothing for the request timeout: its requests go back
    /// to the picker (and are cancelled); it gets one request at a time.
    pub(crate) fn snub(&mut self, conn: ConnId) {
        let Some(p) = self.peers.get_mut(&conn) else {
            return;
        };
        p.snubbed = true;
        let reqs = std::mem::take(&mut p.requests);
        for (b, _) in &reqs {
            p.remember_cancelled(*b);
        }
        for (b, _) in reqs {
            if let Some(pk) = self.picker.as_mut() {
                pk.cancel(b);
            }
            self.send(
                conn,
                Message::Cancel {
                    piece: b.piece.get(),
                    offset: b.offset,
                    len: b.len,
                },
            );
        }
    }

    fn on_block(&mut self, conn: ConnId, b: BlockInfo, data: &[u8]) -> R {
        let now = self.now;
        let Some(p) = self.peers.get_mut(&conn) else {
            return Ok(());
        };
        let key = p.key;
        if let Some(i) = p.requests.iter().position(|(r, _)| *r == b) {
            p.requests.remove(i);
        } else if let Some(i) = p.cancelled.iter().position(|r| *r == b) {
            p.cancelled.remove(i);
        } else {
            p.unrequested += 1;
            if p.unrequested > self.cfg.max_unrequested_blocks {
                return Err(PeerMisbehaved::UnrequestedData {
                    count: p.unrequested,
                });
            }
            return Ok(());
        }
        p.last_block_at = now;
        p.snubbed = false;
        p.down_tick += b.len as u64;
        p.down_round += b.len as u64;
        self.count_down(b.len as u64);
        let Some(pk) = self.picker.as_mut() else {
            return Ok(());
        };
        match pk.block_received(b, key) {
            Received::New { piece_done } => {
                self.queue_write(b, data);
                // end-game: cancel the duplicates in flight elsewhere (only
                // then can a block be requested from several peers)
                let endgame = self.picker.as_ref().is_some_and(|pk| pk.is_endgame());
                let others: Vec<ConnId> = if endgame {
                    self.peers
                        .values()
                        .filter(|q| q.conn != conn && q.requests.iter().any(|(r, _)| *r == b))
                        .map(|q| q.conn)
                        .collect()
                } else {
                    Vec::new()
                };
                for o in others {
                    if let Some(q) = self.peers.get_mut(&o) {
                        q.requests.retain(|(r, _)| *r != b);
                        q.remember_cancelled(b);
                    }
                    self.send(
                        o,
                        Message::Cancel {
                            piece: b.piece.get(),
                            offset: b.offset,
                            len: b.len,
                        },
                    );
                }
                if piece_done {
                    self.piece_received(b.piece);
                }
            }
            Received::Duplicate | Received::NotWanted => {
                self.stats.wasted += b.len as u64;
            }
        }
        Ok(())
    }

    pub(crate) fn storage_failed(
        &mut self,
        piece: PieceIndex,
        error: std::sync::Arc<piece_core::storage::StorageError>,
    ) {
        self.events.push_back(Event::StorageFailed { piece, error });
        self.pause(self.now);
    }

    /// Cancels every request still in flight for a piece (end-game
    /// duplicates after it verified, or leftovers after it failed).
    fn cancel_piece_requests(&mut self, piece: PieceIndex) {
        let mut sends = Vec::new();
        for p in self.peers.values_mut() {
            let mut i = 0;
            while i < p.requests.len() {
                if p.requests[i].0.piece == piece {
                    let (b, _) = p.requests.remove(i);
                    p.remember_cancelled(b);
                    sends.push((p.conn, b));
                } else {
                    i += 1;
                }
            }
        }
        for (c, b) in sends {
            self.send(
                c,
                Message::Cancel {
                    piece: b.piece.get(),
                    offset: b.offset,
                    len: b.len,
                },
            );
        }
    }

    pub(crate) fn on_verified(&mut self, piece: PieceIndex, ok: bool) {
        let Some(pk) = self.picker.as_mut() else {
            return;
        };
        if pk.have().has(piece) {
            return;
        }
        if ok {
            pk.piece_verified(piece);
            self.cancel_piece_requests(piece);
            let Some(pk) = self.picker.as_mut() else {
                return;
            };
            let complete = pk.is_complete();
            self.events.push_back(Event::PieceVerified(piece));
            let conns: Vec<ConnId> = self.peers.keys().copied().collect();
            for c in conns {
                let Some(p) = self.peers.get_mut(&c) else {
                    continue;
                };
                if !p.active {
                    continue;
                }
                if p.has(piece.get()) {
                    p.wanted = p.wanted.saturating_sub(1);
                }
                self.send(c, Message::Have { piece: piece.get() });
                self.update_interest(c);
            }
            if complete && !self.complete_sent {
                self.complete_sent = true;
                self.events.push_back(Event::Complete);
                let seeds: Vec<ConnId> = self
                    .peers
                    .values()
                    .filter(|p| p.active && p.seed)
                    .map(|p| p.conn)
                    .collect();
                for c in seeds {
                    self.drop_peer(c, DisconnectReason::BothSeeds);
                }
            }
        } else {
            let contributors = pk.piece_failed(piece);
            self.cancel_piece_requests(piece);
            if let Some(l) = self.lengths {
                self.stats.wasted += l.piece_len(piece) as u64;
            }
            self.events.push_back(Event::PieceFailed {
                piece,
                contributors: contributors.clone(),
            });
            if let [only] = contributors[..] {
                // it alone supplied the piece: it sent corrupt data
                self.ban(only, PeerMisbehaved::HashFailures { pieces: 1 });
            } else {
                self.parole.extend(contributors);
            }
        }
    }
}
