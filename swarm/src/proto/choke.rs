//! Uploading: incoming requests, serving blocks, choking.
//!
//! Choking runs every `choke_interval` (10 s):
//! - leeching: tit-for-tat, the `upload_slots` interested peers that sent
//!   us the most in the last round are unchoked;
//! - seeding: round robin, interested peers unchoked least recently come
//!   first, so every leecher gets a turn;
//! - plus one optimistic unchoke, rotated every `optimistic_interval`
//!   (30 s) to the choked interested peer that waited longest.
//!
//! Between rounds, a peer that becomes interested is unchoked at once if a
//! regular slot is free.

use super::{ConnId, PeerMisbehaved, Torrent};
use crate::wire::Message;

impl Torrent {
    pub(crate) fn on_request(
        &mut self,
        conn: ConnId,
        piece: u32,
        offset: u32,
        len: u32,
    ) -> Result<(), PeerMisbehaved> {
        let b = match self.lengths {
            Some(_) => self.check_request(piece, offset, len)?,
            None => {
                self.reject(conn, piece, offset, len);
                return Ok(());
            }
        };
        let have = self.have().is_some_and(|h| h.has(b.piece));
        let limit = self.cfg.max_incoming_requests;
        let Some(p) = self.peers.get_mut(&conn) else {
            return Ok(());
        };
        if !have || p.am_choking {
            self.reject(conn, piece, offset, len);
            return Ok(());
        }
        if p.incoming.len() as u32 >= limit {
            return Err(PeerMisbehaved::TooManyRequests { limit });
        }
        p.incoming.push_back(b);
        Ok(())
    }

    fn check_request(
        &self,
        piece: u32,
        offset: u32,
        len: u32,
    ) -> Result<piece_core::BlockInfo, PeerMisbehaved> {
        let l = self
            .lengths
            .ok_or(PeerMisbehaved::ProtocolViolation("request before metadata"))?;
        if l.piece(piece).is_none() {
            return Err(PeerMisbehaved::IndexOutOfRange { index: piece });
        }
        l.block(piece, offset, len)
            .ok_or(PeerMisbehaved::RequestOutOfBounds { piece, offset, len })
    }

    /// BEP 6: tell a fast peer we will not serve a request.
    fn reject(&mut self, conn: ConnId, piece: u32, offset: u32, len: u32) {
        if self.peers.get(&conn).is_some_and(|p| p.fast) {
            self.send(conn, Message::RejectRequest { piece, offset, len });
        }
    }

    /// Serves queued requests of an unchoked peer (within the upload
    /// limit and the send-buffer bounds): each becomes a disk read whose
    /// answer is sent (`proto::disk`).
    pub(crate) fn serve(&mut self, conn: ConnId) {
        if self.meta.is_none() {
            return;
        }
        let (max, max_total) = (self.cfg.max_send_buffer, self.cfg.max_send_buffer_total);
        let mut total = self.queued_total();
        loop {
            let limited = self.cfg.upload_rate_limit.is_some();
            let Some(p) = self.peers.get_mut(&conn) else {
                return;
            };
            if p.am_choking {
                return;
            }
            let Some(&b) = p.incoming.front() else { return };
            if p.queued() >= max || total >= max_total {
                return;
            }
            if limited && self.upload_tokens < b.len as u64 {
                return;
            }
            p.incoming.pop_front();
            let n = super::disk::wire_len(b);
            p.reading += n;
            total += n;
            p.last_sent = self.now;
            p.up_tick += b.len as u64;
            p.up_round += b.len as u64;
            if limited {
                self.upload_tokens -= b.len as u64;
            }
            self.count_up(b.len as u64);
            self.disk
                .jobs
                .push_back(super::disk::DiskJob::Read { conn, block: b });
        }
    }

    pub(crate) fn set_choke(&mut self, conn: ConnId, choke: bool) {
        let now = self.now;
        let Some(p) = self.peers.get_mut(&conn) else {
            return;
        };
        if p.am_choking == choke {
            return;
        }
        p.am_choking = choke;
        if choke {
            let q = std::mem::take(&mut p.incoming);
            self.send(conn, Message::Choke);
            for b in q {
                self.reject(conn, b.piece.get(), b.offset, b.len);
            }
        } else {
            p.last_unchoked = Some(now);
            self.send(conn, Message::Unchoke);
        }
    }

    fn regular_unchoked(&self) -> usize {
        self.peers.values().filter(|p| !p.am_choking).count()
    }

    /// A peer became interested: unchoke at once if a slot is free.
    pub(crate) fn maybe_unchoke(&mut self, conn: ConnId) {
        if self.cfg.upload_slots == 0 || self.paused || self.meta.is_none() {
            return;
        }
        let stalled = self.peers.get(&conn).is_some_and(|p| p.stalled());
        if !stalled && self.regular_unchoked() < self.cfg.upload_slots {
            self.set_choke(conn, false);
        }
    }

    /// Between rounds: slots freed by peers that left, finished or lost
    /// interest go at once to the interested peers that waited longest
    /// (without this, a seeder with more leechers than slots idles until
    /// the next round every time a leecher completes).
    pub(crate) fn fill_free_slots(&mut self) {
        let slots = self.cfg.upload_slots;
        if slots == 0 || self.paused || self.meta.is_none() {
            return;
        }
        let busy = self
            .peers
            .values()
            .filter(|p| !p.am_choking && p.peer_interested && !p.seed)
            .count();
        if busy >= slots {
            return;
        }
        let mut waiting: Vec<(Option<super::Instant>, ConnId)> = self
            .peers
            .values()
            .filter(|p| p.active && p.am_choking && p.peer_interested && !p.seed && !p.stalled())
            .map(|p| (p.last_unchoked, p.conn))
            .collect();
        if waiting.is_empty() {
            return;
        }
        waiting.sort();
        for (_, c) in waiting.into_iter().take(slots - busy) {
            self.set_choke(c, false);
        }
    }

    /// The periodic choke decision.
    pub(crate) fn choke_round(&mut self) {
        let now = self.now;
        self.next_choke = now + self.cfg.choke_interval;
        let slots = self.cfg.upload_slots;
        let seeding = self.is_complete();
        let mut cands: Vec<&super::peer::Peer> = self
            .peers
            .values()
            .filter(|p| p.active && p.peer_interested && !p.seed && !p.stalled())
            .collect();
        if seeding {
            // round robin: choked peers that waited longest first
            cands.sort_by_key(|p| (!p.am_choking, p.last_unchoked, p.conn));
        } else {
            // tit-for-tat: best uploaders to us first
            cands.sort_by_key(|p| (std::cmp::Reverse(p.down_round), p.last_unchoked, p.conn));
        }
        let regular: Vec<ConnId> = cands.iter().take(slots).map(|p| p.conn).collect();
        let current_ok = self.optimistic.is_some_and(|o| {
            !regular.contains(&o) && self.peers.get(&o).is_some_and(|p| p.peer_interested)
        });
        if now >= self.next_optimistic || !current_ok {
            let pick = cands
                .iter()
                .filter(|p| !regular.contains(&p.conn))
                .min_by_key(|p| (p.last_optimistic, p.conn))
                .map(|p| p.conn);
            self.optimistic = pick;
            if let Some(p) = pick.and_then(|c| self.peers.get_mut(&c)) {
                p.last_optimistic = Some(now);
            }
            self.next_optimistic = now + self.cfg.optimistic_interval;
        }
        if slots == 0 {
            self.optimistic = None;
        }
        let optimistic = self.optimistic;
        for p in self.peers.values_mut() {
            p.down_round = 0;
            p.up_round = 0;
        }
        let conns: Vec<ConnId> = self.peers.keys().copied().collect();
        for c in conns {
            let unchoke = regular.contains(&c) || Some(c) == optimistic;
            self.set_choke(c, !unchoke);
        }
    }
}
