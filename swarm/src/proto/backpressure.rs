//! Bounded memory for what we send: peers that request and never read.
//!
//! Bytes leave the state machine through [`Torrent::poll_transmit`]; the
//! glue reports with [`Torrent::handle_sent`] how many of them it has
//! written to the transport. What is polled but not yet written, plus what
//! waits to be polled, is a peer's **queued** bytes. Blocks (and metadata
//! and hash answers) are served only while
//! - the peer has less than [`TorrentConfig::max_send_buffer`] queued, and
//! - all peers together have less than
//!   [`TorrentConfig::max_send_buffer_total`],
//!
//! so memory no longer grows with what a peer asks for but does not read
//! (issue 14: 20 such peers took `swarm share` from 11 MiB to 876 MiB).
//! A peer whose queued bytes do not drain for
//! [`TorrentConfig::stall_choke_after`] is choked (its requests are
//! rejected and its slot goes to another peer) and not unchoked again
//! until it has read everything; if nothing drains for
//! [`TorrentConfig::stall_drop_after`] it is dropped with
//! [`DisconnectReason::NotReading`], and the glue discards what it still
//! holds for it. A peer that makes us queue more than twice its bound
//! with small answers (rejects, for instance) is dropped at once.
//!
//! [`TorrentConfig::max_send_buffer`]: super::TorrentConfig::max_send_buffer
//! [`TorrentConfig::max_send_buffer_total`]: super::TorrentConfig::max_send_buffer_total
//! [`TorrentConfig::stall_choke_after`]: super::TorrentConfig::stall_choke_after
//! [`TorrentConfig::stall_drop_after`]: super::TorrentConfig::stall_drop_after

use std::time::Instant;

use super::peer::Peer;
use super::{ConnId, DisconnectReason, Torrent};

impl Peer {
    /// Bytes queued for the peer: being read from disk, not yet polled,
    /// or polled and not yet written.
    pub(crate) fn queued(&self) -> usize {
        self.out.len() + self.unsent + self.reading
    }
    /// Has data waiting that it does not read?
    pub(crate) fn stalled(&self) -> bool {
        self.stalled && self.unsent > 0
    }
}

impl Torrent {
    /// The glue wrote `n` more bytes of this connection's transmits to the
    /// transport (they no longer sit in our buffers).
    pub fn handle_sent(&mut self, now: Instant, conn: ConnId, n: usize) {
        self.now = now;
        let Some(p) = self.peers.get_mut(&conn) else {
            return;
        };
        p.unsent = p.unsent.saturating_sub(n);
        if n > 0 {
            p.last_drain = now;
        }
        if p.unsent == 0 {
            p.stalled = false;
        }
        // room again: this peer's queue, or the total that held others
        let conns: Vec<ConnId> = self.peers.keys().copied().collect();
        for c in conns {
            self.serve(c);
        }
    }

    /// Bytes queued for every peer together.
    pub(crate) fn queued_total(&self) -> usize {
        self.peers.values().map(Peer::queued).sum()
    }

    /// May more answers be queued for `conn` (blocks, metadata, hashes)?
    pub(crate) fn send_room(&self, conn: ConnId) -> bool {
        self.peers
            .get(&conn)
            .is_some_and(|p| p.queued() < self.cfg.max_send_buffer)
            && self.queued_total() < self.cfg.max_send_buffer_total
    }

    /// Counts bytes handed to the glue by `poll_transmit`.
    pub(crate) fn polled(&mut self, conn: ConnId, n: usize) {
        if let Some(p) = self.peers.get_mut(&conn) {
            if p.unsent == 0 {
                // the stall clock starts when something waits
                p.last_drain = self.now;
            }
            p.unsent += n;
        }
    }

    /// Every second: choke peers that do not read, drop those that still
    /// do not.
    pub(crate) fn stall_tick(&mut self) {
        let now = self.now;
        let (choke_after, drop_after) = (self.cfg.stall_choke_after, self.cfg.stall_drop_after);
        let mut choke = Vec::new();
        let mut drop = Vec::new();
        for p in self.peers.values_mut() {
            if p.unsent == 0 {
                continue;
            }
            let idle = now.saturating_duration_since(p.last_drain);
            if idle >= drop_after {
                drop.push(p.conn);
            } else if idle >= choke_after && !p.stalled {
                p.stalled = true;
                choke.push(p.conn);
            }
        }
        for c in choke {
            tracing::debug!(conn = c.0, "peer does not read what we send: choked");
            self.set_choke(c, true);
        }
        for c in drop {
            self.drop_peer(c, DisconnectReason::NotReading);
        }
    }

    /// Drops peers that made us queue more than twice their bound.
    pub(crate) fn drop_overfull(&mut self) {
        let hard = self.cfg.max_send_buffer.saturating_mul(2);
        let over: Vec<ConnId> = self
            .peers
            .values()
            .filter(|p| p.queued() > hard)
            .map(|p| p.conn)
            .collect();
        for c in over {
            self.drop_peer(c, DisconnectReason::NotReading);
        }
    }
}
