//! Push updates: a mirror on the LAN hears of a new version within
//! moments instead of at its next `poll_secs`.
//!
//! No new message is needed. A publisher lists a new version in its LAN
//! catalogue and at once announces its new info-hash by BEP 14 LSD (see
//! [`swarm::discovery::presence::Presence::add_share`]); every seedbox on
//! the LAN hears that announce. The daemon routes hints for torrents it
//! has to those torrents and hands the others (news) to its mirrors
//! (`Shared::lan_news`); a mirror then reads the
//! catalogue of the announcing address and follows it exactly as after a
//! poll ([`crate::mirror::choose`]): only a record signed by the pinned key
//! with a higher sequence number is taken. A hint is never trusted: it only
//! says where to look, and at most how often.
//!
//! [`Watch`] is the policy, with no I/O: which hints are worth a look and
//! when. Bounded against a chatty or hostile host on the LAN:
//! - an info-hash is news once for [`KNOWN_FOR`]: heard again (from any
//!   host) or seen in a catalogue read, it causes no new look;
//! - an address whose catalogue could not be read is left alone for
//!   [`SILENT_FOR`] (a plain BitTorrent client on the LAN);
//! - one address is looked at most once per [`ADDR_GAP`] (a later hint
//!   waits for the gap, it is not lost);
//! - at most [`MAX_PENDING`] addresses wait, [`MAX_REMEMBERED`] hashes and
//!   addresses are remembered.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use swarm::discovery::lsd::PeerHint;
use swarm::discovery::Catalogue;

/// How long an info-hash seen in a catalogue is not news.
pub const KNOWN_FOR: Duration = Duration::from_secs(30 * 60);
/// How long an address that served no catalogue is not asked again.
pub const SILENT_FOR: Duration = Duration::from_secs(10 * 60);
/// Smallest gap between two looks at one address.
pub const ADDR_GAP: Duration = Duration::from_secs(3);
/// Most addresses waiting for a look.
pub const MAX_PENDING: usize = 16;
/// Most info-hashes and addresses remembered (each).
pub const MAX_REMEMBERED: usize = 4096;

/// Which LAN hints a mirror looks into, and when (see the module docs).
#[derive(Debug, Default)]
pub struct Watch {
    /// Info-hashes (handshake ids) seen in catalogues, until when.
    known: HashMap<[u8; 20], Instant>,
    /// Addresses that served no catalogue, until when.
    silent: HashMap<SocketAddr, Instant>,
    /// Addresses looked at, when.
    looked: HashMap<SocketAddr, Instant>,
    /// Addresses to look at, from when.
    pending: HashMap<SocketAddr, Instant>,
}

/// Drop expired entries of a map of deadlines; whether there is room left.
fn room<K: std::hash::Hash + Eq>(m: &mut HashMap<K, Instant>, now: Instant) -> bool {
    if m.len() >= MAX_REMEMBERED {
        m.retain(|_, until| *until > now);
    }
    m.len() < MAX_REMEMBERED
}

impl Watch {
    /// A hint heard on the LAN for a torrent this daemon does not have.
    /// Its info-hash is news once: the look it causes (or the one already
    /// pending for that host) covers it, whatever the host's catalogue
    /// lists (a host also announces torrents it does not list, such as a
    /// seedbox's v1 companions).
    pub fn on_hint(&mut self, hint: PeerHint, now: Instant) {
        let addr = hint.addr;
        if self.known.get(&hint.info_hash).is_some_and(|t| *t > now)
            || self.silent.get(&addr).is_some_and(|t| *t > now)
            || !room(&mut self.known, now)
        {
            return;
        }
        self.known.insert(hint.info_hash, now + KNOWN_FOR);
        if self.pending.contains_key(&addr) || self.pending.len() >= MAX_PENDING {
            return;
        }
        let due = self
            .looked
            .get(&addr)
            .map_or(now, |t| (*t + ADDR_GAP).max(now));
        self.pending.insert(addr, due);
    }

    /// When the next look is due, if any is pending.
    pub fn next_due(&self) -> Option<Instant> {
        self.pending.values().min().copied()
    }

    /// The addresses to look at now (taken off the pending list).
    #[must_use]
    pub fn poll_due(&mut self, now: Instant) -> Vec<SocketAddr> {
        let due: Vec<SocketAddr> = self
            .pending
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(a, _)| *a)
            .collect();
        for a in &due {
            self.pending.remove(a);
            if room(&mut self.looked, now.checked_sub(ADDR_GAP).unwrap_or(now)) {
                self.looked.insert(*a, now);
            }
        }
        due
    }

    /// The catalogue read from `addr`: its torrents are no longer news.
    pub fn on_catalogue(&mut self, addr: SocketAddr, cat: &Catalogue, now: Instant) {
        self.silent.remove(&addr);
        for s in &cat.shares {
            if !room(&mut self.known, now) {
                break;
            }
            self.known.insert(s.info_hashes.wire_id(), now + KNOWN_FOR);
        }
    }

    /// `addr` served no catalogue.
    pub fn on_failure(&mut self, addr: SocketAddr, now: Instant) {
        if room(&mut self.silent, now) {
            self.silent.insert(addr, now + SILENT_FOR);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use piece_core::types::{InfoHashV1, InfoHashes};
    use swarm::discovery::Share;

    fn hint(h: u8, port: u16) -> PeerHint {
        PeerHint {
            info_hash: [h; 20],
            addr: SocketAddr::from(([10, 0, 0, 1], port)),
        }
    }

    fn catalogue(h: u8) -> Catalogue {
        let ih = InfoHashes {
            v1: Some(InfoHashV1([h; 20])),
            v2: None,
        };
        Catalogue {
            shares: vec![Share::new("zines", 1, 1, ih)],
        }
    }

    #[test]
    fn a_new_hash_is_looked_at_once_and_then_is_not_news() {
        let t0 = Instant::now();
        let mut w = Watch::default();
        w.on_hint(hint(1, 6881), t0);
        w.on_hint(hint(2, 6881), t0);
        assert_eq!(w.next_due(), Some(t0));
        assert_eq!(w.poll_due(t0), [hint(1, 6881).addr]);
        assert_eq!(w.next_due(), None);
        w.on_catalogue(hint(1, 6881).addr, &catalogue(1), t0);
        // Heard again (from it or from another mirror): not news.
        w.on_hint(hint(1, 6881), t0 + ADDR_GAP * 2);
        w.on_hint(hint(1, 7000), t0 + ADDR_GAP * 2);
        assert_eq!(w.next_due(), None);
        // A new version right after a look waits for the gap, and is kept.
        let t1 = t0 + Duration::from_millis(100);
        w.on_hint(hint(3, 6881), t1);
        assert_eq!(w.next_due(), Some(t0 + ADDR_GAP));
        assert!(w.poll_due(t1).is_empty());
        assert_eq!(w.poll_due(t0 + ADDR_GAP), [hint(3, 6881).addr]);
        // A hash announced but not listed (a v1 companion) is news once.
        let t2 = t0 + ADDR_GAP * 3;
        w.on_hint(hint(4, 6881), t2);
        assert_eq!(w.poll_due(t2), [hint(4, 6881).addr]);
        w.on_catalogue(hint(4, 6881).addr, &catalogue(1), t2);
        w.on_hint(hint(4, 6881), t2 + ADDR_GAP * 2);
        assert_eq!(w.next_due(), None);
        // Long after, an old hash is news again.
        let later = t0 + KNOWN_FOR + ADDR_GAP * 4;
        w.on_hint(hint(1, 6881), later);
        assert_eq!(w.poll_due(later), [hint(1, 6881).addr]);
    }

    #[test]
    fn a_host_without_a_catalogue_and_a_flood_are_bounded() {
        let t0 = Instant::now();
        let mut w = Watch::default();
        w.on_hint(hint(1, 1), t0);
        let a = w.poll_due(t0);
        w.on_failure(a[0], t0);
        for h in 2..100 {
            w.on_hint(hint(h, 1), t0 + ADDR_GAP * 2);
        }
        assert_eq!(w.next_due(), None, "a silent host is left alone");
        w.on_hint(hint(100, 1), t0 + SILENT_FOR + ADDR_GAP);
        assert!(w.next_due().is_some(), "and asked again later");
        // Many addresses: at most MAX_PENDING wait.
        let mut w = Watch::default();
        for p in 0..1000u16 {
            let mut h = hint(9, p + 1);
            h.info_hash[..2].copy_from_slice(&p.to_be_bytes());
            w.on_hint(h, t0);
        }
        assert_eq!(w.poll_due(t0).len(), MAX_PENDING);
        // Remembered sets stay bounded.
        for p in 0..(MAX_REMEMBERED as u16 + 100) {
            w.on_failure(SocketAddr::from(([10, 0, 0, 2], p)), t0);
        }
        assert!(w.silent.len() <= MAX_REMEMBERED);
    }
}
