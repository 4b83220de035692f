//! Whom we dial: candidate addresses (from trackers, LAN discovery, the
//! user), bounded, paced, and retried when they were good peers.
//!
//! A hint is only a hint: LSD lets any LAN host name any address and port
//! (issue 14: 1,000 hints naming 1,000 ports of one host were all dialled
//! within 12 s). So:
//! - at most [`TorrentConfig::max_peers_per_ip`] addresses of one IP are
//!   candidates, being dialled or connected at a time, and at most as many
//!   dials go to one IP per [`DIAL_WINDOW`];
//! - at most [`TorrentConfig::max_dials_per_sec`] dials start per second,
//!   and at most [`MAX_CANDIDATES`] addresses wait;
//! - a failed dial is not misbehaviour (nothing is banned for it).
//!
//! A peer we dialled that completed its handshake is **known good**: when
//! its connection closes (it restarted, or refused us because it was
//! full) it is dialled again after [`RETRY_BASE`], doubling up to
//! [`RETRY_MAX`], at most [`MAX_RETRIES`] times in a row, while the
//! torrent is incomplete; so junk that fills a peer's slots for a while
//! does not cut us off it for good. An address we dialled that accepted
//! and closed before its handshake without ever being good (a peer that
//! was full, or whose handshake gate evicted us under a flood) is dialled
//! again the same way at most [`UNCONFIRMED_RETRIES`] times, and at most
//! [`MAX_UNCONFIRMED`] such addresses are remembered.
//!
//! [`TorrentConfig::max_peers_per_ip`]: super::TorrentConfig::max_peers_per_ip
//! [`TorrentConfig::max_dials_per_sec`]: super::TorrentConfig::max_dials_per_sec

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::{Direction, Torrent};

/// Most addresses waiting to be dialled.
pub const MAX_CANDIDATES: usize = 1000;
/// The period over which dials per IP are counted.
pub const DIAL_WINDOW: Duration = Duration::from_secs(60);
/// First delay before a known-good peer is dialled again.
pub const RETRY_BASE: Duration = Duration::from_secs(5);
/// Longest delay between two dials of a known-good peer.
pub const RETRY_MAX: Duration = Duration::from_secs(300);
/// Dials of a known-good peer in a row that may fail before it is given up.
pub const MAX_RETRIES: u32 = 8;
/// Dials again of an address never known good that closed before its
/// handshake.
pub const UNCONFIRMED_RETRIES: u32 = 3;
/// Most such addresses remembered for dialling again.
pub const MAX_UNCONFIRMED: usize = 64;

/// Dial bookkeeping of a torrent.
#[derive(Debug, Default)]
pub(crate) struct Dials {
    /// Dials started per IP in the current window: (window start, count).
    per_ip: BTreeMap<IpAddr, (Instant, usize)>,
    /// Dials left this second.
    tokens: u32,
    /// Known-good peers to dial again: when, and how many tries so far.
    retry: BTreeMap<SocketAddr, (Instant, u32)>,
    /// Addresses never known good that closed before their handshake:
    /// when to dial again, and how many tries so far.
    unconfirmed: BTreeMap<SocketAddr, (Instant, u32)>,
}

impl Dials {
    /// A full budget of `per_sec` dials for the first second.
    pub(crate) fn new(per_sec: u32) -> Self {
        Dials {
            tokens: per_sec,
            ..Default::default()
        }
    }
}

impl Torrent {
    /// Adds addresses to dial (from a tracker, LAN discovery, PEX...).
    /// Banned, known and connected addresses are skipped, and so is an
    /// address whose IP already has `max_peers_per_ip` candidates,
    /// dials or connections.
    pub fn add_peers(&mut self, now: Instant, addrs: &[SocketAddr]) {
        self.now = now;
        for &a in addrs {
            let connected = self.peers.values().any(|p| p.addr == a);
            if !self.is_banned(a)
                && !connected
                && !self.dialing.contains(&a)
                && !self.candidates.contains(&a)
                && self.candidates.len() < MAX_CANDIDATES
                && self.ip_load(a.ip()) < self.cfg.max_peers_per_ip
            {
                self.candidates.push_back(a);
            }
        }
    }

    /// Candidates, dials and connections of one IP.
    fn ip_load(&self, ip: IpAddr) -> usize {
        self.candidates.iter().filter(|a| a.ip() == ip).count()
            + self.dialing.iter().filter(|a| a.ip() == ip).count()
            + self.peers.values().filter(|p| p.addr.ip() == ip).count()
    }

    /// Next address the glue should dial, while below `max_peers` (or an
    /// idle peer that dialled us can make room, see `proto::slots`).
    #[must_use]
    pub fn poll_connect(&mut self) -> Option<SocketAddr> {
        if self.paused || self.is_complete() && self.peers.len() >= self.cfg.max_peers / 2 {
            return None;
        }
        while self.dials.tokens > 0
            && self.peers.len() + self.dialing.len()
                < self.cfg.max_peers + self.evictable_count().min(1)
        {
            let a = self.candidates.pop_front()?;
            if self.is_banned(a) || self.peers.values().any(|p| p.addr == a) {
                continue;
            }
            let now = self.now;
            let (start, n) = self.dials.per_ip.entry(a.ip()).or_insert((now, 0));
            if now.saturating_duration_since(*start) >= DIAL_WINDOW {
                (*start, *n) = (now, 0);
            }
            if *n >= self.cfg.max_peers_per_ip {
                continue; // this IP had its dials for now
            }
            *n += 1;
            self.dials.tokens -= 1;
            self.dialing.insert(a);
            return Some(a);
        }
        None
    }

    /// A dial from [`Torrent::poll_connect`] failed. Not misbehaviour; a
    /// known-good peer is tried again later.
    pub fn handle_connect_failed(&mut self, now: Instant, addr: SocketAddr) {
        self.now = now;
        self.dialing.remove(&addr);
        if let Some((at, tries)) = self.dials.retry.get_mut(&addr) {
            *tries += 1;
            *at = now + retry_delay(*tries);
            if *tries > MAX_RETRIES {
                self.dials.retry.remove(&addr);
            }
        } else {
            // no longer listening: not worth another try
            self.dials.unconfirmed.remove(&addr);
        }
    }

    /// A peer we dialled completed its handshake: known good.
    pub(crate) fn dial_succeeded(&mut self, addr: SocketAddr) {
        self.dials.unconfirmed.remove(&addr);
        if self.dials.retry.len() < MAX_CANDIDATES || self.dials.retry.contains_key(&addr) {
            // tries reset; not due until its connection closes
            let later = self.now + RETRY_MAX;
            self.dials.retry.insert(addr, (later, 0));
        }
    }

    /// A connection closed by the peer: a known-good one we dialled is
    /// dialled again later (backing off if it closed before its
    /// handshake, as a full peer does).
    pub(crate) fn closed_by_peer(&mut self, addr: SocketAddr, dir: Direction, handshaken: bool) {
        if dir != Direction::Outgoing {
            return;
        }
        let now = self.now;
        let Some((at, tries)) = self.dials.retry.get_mut(&addr) else {
            if !handshaken {
                self.unconfirmed_closed(addr);
            }
            return;
        };
        if !handshaken {
            *tries += 1;
        }
        *at = now + retry_delay(*tries);
        if *tries > MAX_RETRIES {
            self.dials.retry.remove(&addr);
        }
    }

    /// An address never known good accepted our dial and closed it before
    /// its handshake: dialled again later, a few times.
    fn unconfirmed_closed(&mut self, addr: SocketAddr) {
        let now = self.now;
        let u = &mut self.dials.unconfirmed;
        let room = u.len() < MAX_UNCONFIRMED;
        match u.get_mut(&addr) {
            Some((_, tries)) if *tries >= UNCONFIRMED_RETRIES => {
                u.remove(&addr);
            }
            Some((at, tries)) => {
                *at = now + retry_delay(*tries);
                *tries += 1;
            }
            None if room => {
                u.insert(addr, (now + retry_delay(0), 1));
            }
            None => {}
        }
    }

    /// Every second: refill the dial budget, queue the retries that are
    /// due, forget old per-IP counts.
    pub(crate) fn dials_tick(&mut self) {
        let now = self.now;
        self.dials.tokens = self.cfg.max_dials_per_sec;
        self.dials
            .per_ip
            .retain(|_, (start, _)| now.saturating_duration_since(*start) < DIAL_WINDOW);
        if self.is_complete() {
            return;
        }
        let d = &mut self.dials;
        let mut due = Vec::new();
        for (a, (at, _)) in d.retry.iter_mut().chain(d.unconfirmed.iter_mut()) {
            if *at <= now {
                // if it does not connect, handle_connect_failed backs off
                *at = now + RETRY_MAX;
                due.push(*a);
            }
        }
        for a in due {
            let busy = self.peers.values().any(|p| p.addr == a)
                || self.dialing.contains(&a)
                || self.candidates.contains(&a);
            if !busy && !self.is_banned(a) {
                self.candidates.push_front(a);
            }
        }
    }

    /// Is anything waiting to be dialled (so the glue must keep calling
    /// `handle_timeout`)?
    pub(crate) fn wants_dials(&self) -> bool {
        let retries = !self.dials.retry.is_empty() || !self.dials.unconfirmed.is_empty();
        !self.candidates.is_empty() || retries && !self.is_complete()
    }
}

fn retry_delay(tries: u32) -> Duration {
    RETRY_BASE.saturating_mul(1 << tries.min(16)).min(RETRY_MAX)
}

#[cfg(test)]
mod tests {
    use super::super::tests::rig;
    use super::*;
    use crate::proto::TorrentConfig;

    /// Issue 14 #4/#5: one IP naming 1,000 ports every second (forged LSD
    /// hints) does not crowd out other IPs' dials: honest addresses hinted
    /// once in the middle are all dialled within a second, and the junk IP
    /// gets at most `max_peers_per_ip` dials a minute.
    #[test]
    fn one_ip_naming_a_thousand_ports_does_not_crowd_out_others() {
        let mut r = rig(false, TorrentConfig::default());
        let per_ip = r.t.cfg.max_peers_per_ip;
        let junk: Vec<SocketAddr> = (1..=1000u16)
            .map(|p| SocketAddr::from(([10, 9, 9, 9], p)))
            .collect();
        let honest: Vec<SocketAddr> = (1..=10u8)
            .map(|i| SocketAddr::from(([10, 2, 0, i], 6881)))
            .collect();
        let (mut junk_dials, mut dialled) = (0, Vec::new());
        for s in 0..30u64 {
            let now = r.now + Duration::from_secs(s);
            r.t.handle_timeout(now);
            r.t.add_peers(now, &junk);
            if s == 10 {
                r.t.add_peers(now, &honest);
            }
            while let Some(a) = r.t.poll_connect() {
                if a.ip() == junk[0].ip() {
                    junk_dials += 1;
                    r.t.handle_connect_failed(now, a); // not BitTorrent
                } else {
                    dialled.push((s, a));
                }
            }
        }
        assert!(junk_dials <= per_ip, "{junk_dials} dials of the junk IP");
        assert_eq!(dialled.len(), honest.len(), "{dialled:?}");
        assert!(dialled.iter().all(|(s, _)| *s == 10), "{dialled:?}");
        assert!(r.t.candidates.len() <= per_ip);
    }

    /// A peer we dialled that closed before its handshake (full, or its
    /// gate evicted us under a flood) is dialled again, a bounded number
    /// of times; before, an address never known good was given up at once.
    #[test]
    fn a_dial_closed_before_its_handshake_is_tried_again_a_few_times() {
        use crate::proto::{ConnId, Direction, TransportKind};
        let mut r = rig(false, TorrentConfig::default());
        let a = SocketAddr::from(([10, 2, 0, 1], 6881));
        r.t.add_peers(r.now, &[a]);
        let mut dials = 0;
        for s in 0..600u64 {
            let now = r.now + Duration::from_secs(s);
            r.t.handle_timeout(now);
            while let Some(d) = r.t.poll_connect() {
                assert_eq!(d, a);
                dials += 1;
                let c = ConnId(dials);
                r.t.handle_connected(now, c, a, Direction::Outgoing, TransportKind::Tcp);
                r.t.handle_closed(now, c);
            }
        }
        assert_eq!(dials, 1 + UNCONFIRMED_RETRIES as u64);
        assert!(!r.t.wants_dials());
    }
}
