//! Pacing of the requests that make us compute or copy on a peer's behalf
//! without it sending data in return: BEP 52 hash requests and BEP 9
//! metadata requests.
//!
//! Each peer may have [`TorrentConfig::max_metadata_requests_per_sec`]
//! of them answered per second (the budget refills every second). Beyond
//! that, requests wait in a per-peer queue of at most one more second's
//! worth and are answered as the budget refills, in order, so an honest
//! fetcher (a few requests outstanding) is only slowed, never refused;
//! past the queue, they are rejected at once (a `hash reject` or a
//! ut_metadata reject, which costs nothing to make). The work per answer
//! is bounded too: hash trees are cached ([`super::trees`]) and a
//! metadata answer copies only its 16 KiB piece.
//!
//! [`TorrentConfig::max_metadata_requests_per_sec`]: super::TorrentConfig::max_metadata_requests_per_sec

use super::{ConnId, Torrent};
use crate::wire::{HashRequest, Message};

/// A request that [`Torrent::pace`] answers within the peer's budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Paced {
    /// A BEP 52 hash request.
    Hashes(HashRequest),
    /// A BEP 9 request for this piece of the info dictionary.
    Metadata(u32),
}

impl Torrent {
    /// A hash or metadata request from the peer on `conn`: answered now if
    /// its budget allows, queued, or rejected (see the module docs).
    pub(crate) fn pace(&mut self, conn: ConnId, r: Paced) {
        let limit = self.cfg.max_metadata_requests_per_sec;
        let Some(p) = self.peers.get_mut(&conn) else {
            return;
        };
        if p.paced_used < limit && p.paced_queue.is_empty() {
            p.paced_used += 1;
            self.answer(conn, r, true);
        } else if p.paced_queue.len() < limit as usize {
            p.paced_queue.push_back(r);
        } else {
            self.answer(conn, r, false);
        }
    }

    /// Every second: refill the budgets and answer what waited.
    pub(crate) fn pace_tick(&mut self) {
        let limit = self.cfg.max_metadata_requests_per_sec;
        let conns: Vec<ConnId> = self.peers.keys().copied().collect();
        for c in conns {
            let Some(p) = self.peers.get_mut(&c) else {
                continue;
            };
            p.paced_used = 0;
            let n = p.paced_queue.len().min(limit as usize);
            let due: Vec<Paced> = p.paced_queue.drain(..n).collect();
            p.paced_used = n as u32;
            for r in due {
                self.answer(c, r, true);
            }
        }
    }

    fn answer(&mut self, conn: ConnId, r: Paced, serve: bool) {
        match (r, serve) {
            (Paced::Hashes(req), true) => self.on_hash_request(conn, req),
            (Paced::Hashes(req), false) => self.send(conn, Message::HashReject(req)),
            (Paced::Metadata(piece), serve) => self.send_metadata_piece(conn, piece, serve),
        }
    }
}
