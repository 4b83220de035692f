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
//! does not cut us off it for good.
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

/// Dial bookkeeping of a torrent.
#[derive(Debug, Default)]
pub(crate) struct Dials {
    /// Dials started per IP in the current window: (window start, count).
    per_ip: BTreeMap<IpAddr, (Instant, usize)>,
    /// Dials left this second.
    tokens: u32,
    /// Known-good peers to dial again: when, and how many tries so far.
    retry: BTreeMap<SocketAddr, (Instant, u32)>,
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
        }
    }

    /// A peer we dialled completed its handshake: known good.
    pub(crate) fn dial_succeeded(&mut self, addr: SocketAddr) {
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
        let due: Vec<SocketAddr> = self
            .dials
            .retry
            .iter()
            .filter(|(_, (at, _))| *at <= now)
            .map(|(a, _)| *a)
            .collect();
        for a in due {
            if let Some((at, _)) = self.dials.retry.get_mut(&a) {
                // if it does not connect, handle_connect_failed backs off
                *at = now + RETRY_MAX;
            }
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
        !self.candidates.is_empty() || !self.dials.retry.is_empty() && !self.is_complete()
    }
}

fn retry_delay(tries: u32) -> Duration {
    RETRY_BASE.saturating_mul(1 << tries.min(16)).min(RETRY_MAX)
}
