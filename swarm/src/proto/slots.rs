//! Connection slots: who gets in when a torrent is full.
//!
//! A torrent holds at most [`TorrentConfig::max_peers`] connections, at
//! most [`TorrentConfig::max_peers_per_ip`] of them from one IP. When a
//! new connection would go past either bound, the least useful peer that
//! dialled us makes room ([`DisconnectReason::Evicted`]) if there is one;
//! otherwise the newcomer is refused ([`DisconnectReason::TooManyPeers`]).
//! Issue 14: 50 peers that connected and said nothing held every slot for
//! the 180 s of the peer timeout.
//!
//! Only peers that dialled us are ever evicted: peers we dialled, and so
//! outbound dials, are never pushed out by inbound junk (and a full
//! torrent may still dial one more peer when an idle one can make room,
//! see `proto::dials`). A peer is *idle* when it neither sent nor received
//! a block for a while:
//! - one that is of no use either way (it sent nothing after its
//!   handshake, or neither side is interested) after
//!   [`TorrentConfig::idle_evict_after`];
//! - any other (say a leecher waiting for an upload slot) after six times
//!   that.
//!
//! The most idle of them goes first, useless ones before the others.
//!
//! [`TorrentConfig::max_peers`]: super::TorrentConfig::max_peers
//! [`TorrentConfig::max_peers_per_ip`]: super::TorrentConfig::max_peers_per_ip
//! [`TorrentConfig::idle_evict_after`]: super::TorrentConfig::idle_evict_after
//! [`DisconnectReason::Evicted`]: super::DisconnectReason::Evicted
//! [`DisconnectReason::TooManyPeers`]: super::DisconnectReason::TooManyPeers

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::peer::Peer;
use super::{ConnId, Direction, DisconnectReason, Event, Torrent};

impl Torrent {
    /// How idle `p` is, if it may be evicted: (useless, idle time).
    fn eviction_rank(&self, p: &Peer) -> Option<(bool, Duration)> {
        if p.dir != Direction::Incoming {
            return None;
        }
        let idle = self.now.saturating_duration_since(p.last_active);
        let useless = !p.got_first || !p.peer_interested && !p.am_interested;
        let grace = if useless {
            self.cfg.idle_evict_after
        } else {
            self.cfg.idle_evict_after * 6
        };
        (idle >= grace).then_some((useless, idle))
    }

    /// The peer to evict (of `ip` only, if given).
    fn victim(&self, ip: Option<IpAddr>) -> Option<ConnId> {
        self.peers
            .values()
            .filter(|p| ip.is_none_or(|ip| p.addr.ip() == ip))
            .filter_map(|p| Some((self.eviction_rank(p)?, p.conn)))
            .max()
            .map(|(_, c)| c)
    }

    /// Peers that could make room now.
    pub(crate) fn evictable_count(&self) -> usize {
        self.peers
            .values()
            .filter(|p| self.eviction_rank(p).is_some())
            .count()
    }

    /// Gives a new connection a slot, evicting an idle peer if needed;
    /// false (and the connection is to be closed) if it may not have one.
    pub(crate) fn admit(&mut self, conn: ConnId, addr: SocketAddr) -> bool {
        let refuse = if self.paused {
            Some(DisconnectReason::Paused)
        } else if self.is_banned(addr) {
            Some(DisconnectReason::Banned)
        } else if !self.make_room(addr.ip()) {
            Some(DisconnectReason::TooManyPeers)
        } else {
            None
        };
        match refuse {
            Some(reason) => {
                self.events.push_back(Event::Disconnect { conn, reason });
                false
            }
            None => true,
        }
    }

    /// Frees a slot for a connection from `ip` if the bounds require it;
    /// false if none can be freed.
    fn make_room(&mut self, ip: IpAddr) -> bool {
        let same_ip = self.peers.values().filter(|p| p.addr.ip() == ip).count();
        if same_ip >= self.cfg.max_peers_per_ip {
            match self.victim(Some(ip)) {
                Some(v) => self.drop_peer(v, DisconnectReason::Evicted),
                None => return false,
            }
        }
        if self.peers.len() >= self.cfg.max_peers {
            match self.victim(None) {
                Some(v) => self.drop_peer(v, DisconnectReason::Evicted),
                None => return false,
            }
        }
        true
    }
}
