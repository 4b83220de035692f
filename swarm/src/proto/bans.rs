//! Bans: per address and port, for a while, bounded in number.
//!
//! A peer that breaks the protocol ([`PeerMisbehaved`]) is banned under its
//! **address and listen port** ([`Peer::key`]): the address we dialled, or
//! for a peer that dialled us its IP with the listen port from its
//! extension handshake (`p`), else its source port. Never the whole IP: a
//! hint (LSD, a tracker, PEX) can name any host's port, and what answers
//! there (an ssh server, another program) says nothing about the
//! BitTorrent peers behind the same IP. For the same reason a connection
//! whose handshake fails (not BitTorrent, another torrent) is closed
//! without a ban ([`DisconnectReason::HandshakeFailed`]): only a peer that
//! proved it speaks for this torrent can misbehave in it.
//!
//! Bans last [`TorrentConfig::ban_duration`] (then the address may be
//! tried again; a peer that misbehaves again is banned again); at most
//! [`TorrentConfig::max_banned`] are kept (when full, the ban closest to
//! its end goes first). Bans and their end are logged (tracing, target
//! `swarm::proto::bans`) and reported as [`Event::PeerBanned`].
//!
//! [`Peer::key`]: super::peer::Peer
//! [`PeerMisbehaved`]: super::PeerMisbehaved
//! [`DisconnectReason::HandshakeFailed`]: super::DisconnectReason::HandshakeFailed
//! [`TorrentConfig::ban_duration`]: super::TorrentConfig::ban_duration
//! [`TorrentConfig::max_banned`]: super::TorrentConfig::max_banned
//! [`Event::PeerBanned`]: super::Event::PeerBanned

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{ConnId, Direction, DisconnectReason, Torrent};

/// Banned addresses and when each ban ends.
#[derive(Debug, Default)]
pub(crate) struct BanList {
    until: BTreeMap<SocketAddr, Instant>,
}

impl BanList {
    /// Bans `key` until `now + duration`, keeping at most `max` bans.
    /// Returns whether it was not banned already.
    pub(crate) fn ban(
        &mut self,
        key: SocketAddr,
        now: Instant,
        duration: Duration,
        max: usize,
    ) -> bool {
        let new = !self.contains(key, now);
        if new && !self.until.contains_key(&key) && self.until.len() >= max.max(1) {
            if let Some(first) = self.until.iter().min_by_key(|(_, t)| **t).map(|(k, _)| *k) {
                self.until.remove(&first);
            }
        }
        self.until.insert(key, now + duration);
        new
    }

    /// Is `key` banned at `now`?
    pub(crate) fn contains(&self, key: SocketAddr, now: Instant) -> bool {
        self.until.get(&key).is_some_and(|t| *t > now)
    }

    /// Forgets the bans that ended by `now`; returns them.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<SocketAddr> {
        let ended: Vec<SocketAddr> = self
            .until
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(k, _)| *k)
            .collect();
        for k in &ended {
            self.until.remove(k);
        }
        ended
    }

    /// Bans in force (not yet expired by [`BanList::expire`]).
    pub(crate) fn len(&self) -> usize {
        self.until.len()
    }
}

impl Torrent {
    /// A peer that dialled us gave its listen port (`p`): it is known (and
    /// banned) by that address from now on, if it has not been given work
    /// under its source address yet; a banned one is dropped.
    pub(crate) fn listen_port_learned(&mut self, conn: ConnId, port: Option<u16>) {
        let Some(port) = port else { return };
        let Some(p) = self.peers.get_mut(&conn) else {
            return;
        };
        if p.dir != Direction::Incoming || !p.requests.is_empty() || p.have.is_some() || p.seed {
            return;
        }
        p.key = SocketAddr::new(p.addr.ip(), port);
        if self.banned.contains(p.key, self.now) {
            self.drop_peer(conn, DisconnectReason::Banned);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bans_end_and_stay_bounded() {
        let t0 = Instant::now();
        let a: SocketAddr = "10.0.0.1:6881".parse().unwrap();
        let a22: SocketAddr = "10.0.0.1:22".parse().unwrap();
        let mut b = BanList::default();
        let hour = Duration::from_secs(3600);
        assert!(b.ban(a22, t0, hour, 3));
        assert!(!b.ban(a22, t0, hour, 3), "already banned");
        // per address and port: the same IP's other port is not banned
        assert!(b.contains(a22, t0) && !b.contains(a, t0));
        assert!(!b.contains(a22, t0 + hour), "ended");
        assert_eq!(b.expire(t0 + hour), vec![a22]);
        assert_eq!(b.len(), 0);
        // bounded: the ban closest to its end goes first
        for p in 1..=5u16 {
            let k = SocketAddr::new(a.ip(), p);
            b.ban(k, t0 + Duration::from_secs(p.into()), hour, 3);
        }
        assert_eq!(b.len(), 3);
        assert!(!b.contains(SocketAddr::new(a.ip(), 1), t0));
        assert!(b.contains(SocketAddr::new(a.ip(), 5), t0 + Duration::from_secs(6)));
    }
}
