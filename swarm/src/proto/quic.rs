//! Moving swarm peers to QUIC, and back to TCP when QUIC does not work
//! out: the policy as a state machine without I/O, driven like
//! [`Torrent`](super::Torrent) (inputs with the current [`Instant`],
//! outputs polled), by the session's glue and by the simulator.
//!
//! - A TCP peer that offers QUIC (`swarm_quic` in its extension handshake,
//!   [`Event::QuicOffered`](super::Event::QuicOffered)) is dialled over
//!   QUIC at its IP and that port ([`QuicAction::DialQuic`]), once per TCP
//!   address, by the side that dialled the TCP connection (so both sides
//!   never do it at once) and only if we have QUIC. When the QUIC
//!   connection's handshake completes, the torrent sees the same peer id
//!   twice and closes the TCP connection (duplicate rule in
//!   [`crate::proto`]: QUIC stays; no ban, one peer). If the QUIC dial
//!   fails, the TCP connection simply stays.
//! - A swarm peer known by both addresses
//!   ([`QuicPolicy::handle_swarm_peer`], e.g. from mDNS) is dialled over
//!   QUIC first; its TCP address is added ([`QuicAction::AddTcpPeer`]) only
//!   if the QUIC dial fails, its connection closes before the handshake,
//!   or nothing connected within [`QUIC_FALLBACK`].
//! - A TCP address of a peer we reach over QUIC is not dialled (tracker or
//!   LAN hints would otherwise open a TCP link that the duplicate rule
//!   closes at once): the address we moved from, the one given with the
//!   QUIC address, or the listen port (`p`) a QUIC peer sent.
//!
//! Memory is bounded: each table holds at most [`MAX_QUIC_MEMORY`]
//! addresses and is cleared when full.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{Direction, TransportKind};

/// How long QUIC has, for a swarm peer known by both addresses, before its
/// TCP address is dialled too.
pub const QUIC_FALLBACK: Duration = Duration::from_secs(3);
/// Most addresses remembered per table (tried upgrades, TCP/QUIC address
/// pairs); a full table is cleared.
pub const MAX_QUIC_MEMORY: usize = 4096;

/// What the policy asks the glue to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum QuicAction {
    /// Dial this address over QUIC now (moving a TCP peer to QUIC), outside
    /// the torrent's dial queue; report the result like any dial.
    DialQuic(SocketAddr),
    /// Give this TCP address to the torrent (`Torrent::add_peers`): QUIC to
    /// the same peer did not work out.
    AddTcpPeer(SocketAddr),
}

/// The QUIC preference of one torrent. See the [module docs](self).
#[derive(Debug)]
pub struct QuicPolicy {
    enabled: bool,
    /// Addresses to dial over QUIC.
    quic_addrs: HashSet<SocketAddr>,
    /// TCP addresses whose move to QUIC was tried.
    upgrade_tried: HashSet<SocketAddr>,
    /// TCP address -> QUIC address of the same swarm peer.
    twins: HashMap<SocketAddr, SocketAddr>,
    /// QUIC address -> TCP address to dial if QUIC does not work out, and
    /// when to give up waiting (`None` once that passed).
    fallback: HashMap<SocketAddr, (SocketAddr, Option<Instant>)>,
    /// Open QUIC connections (in their handshake or not) by address.
    open_quic: HashMap<SocketAddr, u32>,
    actions: VecDeque<QuicAction>,
}

impl QuicPolicy {
    /// The policy of a torrent; `enabled`: this side has QUIC.
    pub fn new(enabled: bool) -> Self {
        QuicPolicy {
            enabled,
            quic_addrs: HashSet::new(),
            upgrade_tried: HashSet::new(),
            twins: HashMap::new(),
            fallback: HashMap::new(),
            open_quic: HashMap::new(),
            actions: VecDeque::new(),
        }
    }

    /// The transport to dial `addr` with.
    pub fn transport_for(&self, addr: SocketAddr) -> TransportKind {
        if self.enabled && self.quic_addrs.contains(&addr) {
            TransportKind::Quic
        } else {
            TransportKind::Tcp
        }
    }

    /// A peer address from a tracker, the LAN or the user (`quic`: a QUIC
    /// address). Returns whether to give it to the torrent: not if it is
    /// the TCP address of a peer reached over QUIC. (A QUIC address without
    /// QUIC here is given as is: its dial fails, which the user sees.)
    #[must_use]
    pub fn handle_peer(&mut self, addr: SocketAddr, quic: bool) -> bool {
        if quic {
            if self.enabled {
                remember(&mut self.quic_addrs, addr);
            }
            return true;
        }
        !self.reached_over_quic(addr)
    }

    /// A swarm peer at TCP `tcp` and QUIC `quic`. Returns the address to
    /// give the torrent: `quic` (with `tcp` as its fallback after
    /// [`QUIC_FALLBACK`]), or `tcp` without QUIC here.
    #[must_use]
    pub fn handle_swarm_peer(
        &mut self,
        now: Instant,
        tcp: SocketAddr,
        quic: SocketAddr,
    ) -> SocketAddr {
        if !self.enabled {
            return tcp;
        }
        remember(&mut self.quic_addrs, quic);
        remember_pair(&mut self.twins, tcp, quic);
        if self.fallback.len() >= MAX_QUIC_MEMORY && !self.fallback.contains_key(&quic) {
            self.fallback.clear();
        }
        self.fallback.insert(quic, (tcp, Some(now + QUIC_FALLBACK)));
        quic
    }

    /// The peer on a connection (of `kind`, opened in `dir`, to `addr`)
    /// offers QUIC on `port`, and sent its TCP listen port `tcp_port`.
    pub fn handle_quic_offered(
        &mut self,
        kind: TransportKind,
        dir: Direction,
        addr: SocketAddr,
        port: u16,
        tcp_port: Option<u16>,
    ) {
        if !self.enabled {
            return;
        }
        if kind == TransportKind::Quic {
            // hints with its TCP listen address are not dialled
            if let Some(p) = tcp_port {
                remember_pair(&mut self.twins, SocketAddr::new(addr.ip(), p), addr);
            }
            return;
        }
        if dir != Direction::Outgoing || !remember(&mut self.upgrade_tried, addr) {
            return;
        }
        let quic = SocketAddr::new(addr.ip(), port);
        remember_pair(&mut self.twins, addr, quic);
        remember(&mut self.quic_addrs, quic);
        self.actions.push_back(QuicAction::DialQuic(quic));
    }

    /// A connection to `addr` over `kind` is open (before its handshake).
    pub fn handle_open(&mut self, addr: SocketAddr, kind: TransportKind) {
        if kind == TransportKind::Quic {
            *self.open_quic.entry(addr).or_default() += 1;
        }
    }

    /// The handshake on a connection to `addr` over `kind` completed: a
    /// QUIC peer needs no fallback any more.
    pub fn handle_handshake(&mut self, addr: SocketAddr, kind: TransportKind) {
        if kind == TransportKind::Quic {
            self.fallback.remove(&addr);
        }
    }

    /// A connection to `addr` over `kind` closed; `handshaken`: its
    /// handshake had completed. A QUIC connection that closes before its
    /// handshake falls back to TCP.
    pub fn handle_closed(&mut self, addr: SocketAddr, kind: TransportKind, handshaken: bool) {
        if kind != TransportKind::Quic {
            return;
        }
        if let Some(n) = self.open_quic.get_mut(&addr) {
            *n -= 1;
            if *n == 0 {
                self.open_quic.remove(&addr);
            }
        }
        if !handshaken {
            self.fall_back(addr);
        }
    }

    /// Dialling `addr` failed (over QUIC: fall back to TCP).
    pub fn handle_dial_failed(&mut self, addr: SocketAddr) {
        self.fall_back(addr);
    }

    /// Call at [`QuicPolicy::poll_timeout`]: swarm peers that connected
    /// nothing over QUIC in time fall back to TCP (one whose QUIC
    /// connection is still in its handshake decides when that completes or
    /// closes).
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<SocketAddr> = self
            .fallback
            .iter()
            .filter(|(_, (_, at))| at.is_some_and(|t| t <= now))
            .map(|(q, _)| *q)
            .collect();
        for q in due {
            if self.open_quic.contains_key(&q) {
                if let Some((_, at)) = self.fallback.get_mut(&q) {
                    *at = None;
                }
            } else {
                self.fall_back(q);
            }
        }
    }

    /// When [`QuicPolicy::handle_timeout`] wants to be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.fallback.values().filter_map(|(_, at)| *at).min()
    }

    /// Next thing to do.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<QuicAction> {
        self.actions.pop_front()
    }

    /// If `quic` is a swarm peer still waiting for its QUIC connection,
    /// give up on QUIC and add its TCP address.
    fn fall_back(&mut self, quic: SocketAddr) {
        if let Some((tcp, _)) = self.fallback.remove(&quic) {
            self.twins.remove(&tcp);
            self.actions.push_back(QuicAction::AddTcpPeer(tcp));
        }
    }

    /// Is the peer at TCP address `tcp` connected (or being dialled) over
    /// QUIC?
    fn reached_over_quic(&self, tcp: SocketAddr) -> bool {
        self.twins
            .get(&tcp)
            .is_some_and(|q| self.fallback.contains_key(q) || self.open_quic.contains_key(q))
    }
}

/// Inserts into a bounded set; returns whether `v` is new.
fn remember(set: &mut HashSet<SocketAddr>, v: SocketAddr) -> bool {
    if set.len() >= MAX_QUIC_MEMORY && !set.contains(&v) {
        set.clear();
    }
    set.insert(v)
}

/// Inserts into a bounded map.
fn remember_pair(map: &mut HashMap<SocketAddr, SocketAddr>, k: SocketAddr, v: SocketAddr) {
    if map.len() >= MAX_QUIC_MEMORY && !map.contains_key(&k) {
        map.clear();
    }
    map.insert(k, v);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(port: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 2], port))
    }

    #[test]
    fn swarm_peer_falls_back_after_the_timeout_unless_quic_is_connecting() {
        let t0 = Instant::now();
        let mut p = QuicPolicy::new(true);
        assert_eq!(p.handle_swarm_peer(t0, a(6881), a(6882)), a(6882));
        assert_eq!(p.transport_for(a(6882)), TransportKind::Quic);
        // while QUIC is pending its TCP address is not dialled
        assert!(!p.handle_peer(a(6881), false));
        assert_eq!(p.poll_timeout(), Some(t0 + QUIC_FALLBACK));
        p.handle_timeout(t0 + QUIC_FALLBACK);
        assert_eq!(p.poll_action(), Some(QuicAction::AddTcpPeer(a(6881))));
        assert_eq!(p.poll_timeout(), None);

        // a QUIC connection in its handshake when the time is up decides:
        // it completes (no fallback) ...
        let mut p = QuicPolicy::new(true);
        let _ = p.handle_swarm_peer(t0, a(6881), a(6882));
        p.handle_open(a(6882), TransportKind::Quic);
        p.handle_timeout(t0 + QUIC_FALLBACK);
        assert_eq!(p.poll_action(), None);
        p.handle_handshake(a(6882), TransportKind::Quic);
        assert!(!p.handle_peer(a(6881), false), "reached over QUIC");
        p.handle_closed(a(6882), TransportKind::Quic, true);
        assert_eq!(p.poll_action(), None);
        // ... or closes before its handshake (fallback)
        let mut p = QuicPolicy::new(true);
        let _ = p.handle_swarm_peer(t0, a(6881), a(6882));
        p.handle_open(a(6882), TransportKind::Quic);
        p.handle_closed(a(6882), TransportKind::Quic, false);
        assert_eq!(p.poll_action(), Some(QuicAction::AddTcpPeer(a(6881))));
        assert!(p.handle_peer(a(6881), false));
    }

    #[test]
    fn only_the_tcp_dialler_moves_to_quic_once() {
        let mut p = QuicPolicy::new(true);
        p.handle_quic_offered(TransportKind::Tcp, Direction::Incoming, a(6881), 6882, None);
        assert_eq!(p.poll_action(), None);
        p.handle_quic_offered(TransportKind::Tcp, Direction::Outgoing, a(6881), 6882, None);
        assert_eq!(p.poll_action(), Some(QuicAction::DialQuic(a(6882))));
        p.handle_quic_offered(TransportKind::Tcp, Direction::Outgoing, a(6881), 6882, None);
        assert_eq!(p.poll_action(), None);
        // without QUIC here nothing moves
        let mut p = QuicPolicy::new(false);
        p.handle_quic_offered(TransportKind::Tcp, Direction::Outgoing, a(6881), 6882, None);
        assert_eq!(p.poll_action(), None);
        assert_eq!(p.transport_for(a(6882)), TransportKind::Tcp);
    }
}
