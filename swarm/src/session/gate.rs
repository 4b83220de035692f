//! Incoming connections before their handshake: bounded in total and per
//! IP, so that one host cannot take every slot, and a newcomer is never
//! refused for a connection that stalls.
//!
//! Issue 14: 64 connections that never finished their handshake blocked
//! every other incoming connection for the 10 s deadline, and a host that
//! renewed them (70 half handshakes every 9 s) kept a real download out.
//! Now at most [`MAX_PENDING_HANDSHAKES`] connections may be in their
//! handshake at once, at most [`MAX_PENDING_PER_IP`] of them from one IP,
//! each for at most [`HANDSHAKE_TIMEOUT`]. A newcomer past a bound is let
//! in, and the **oldest** connection still in its handshake (from the same
//! IP if that IP is at its bound, else from any IP) is closed for it. An
//! honest peer sends its 68 bytes at once and leaves the gate within a
//! round trip, so it is never the oldest for long; junk that stalls is
//! what gets evicted, however fast it is renewed.
//!
//! [`MAX_PENDING_HANDSHAKES`]: super::MAX_PENDING_HANDSHAKES
//! [`MAX_PENDING_PER_IP`]: super::MAX_PENDING_PER_IP
//! [`HANDSHAKE_TIMEOUT`]: super::HANDSHAKE_TIMEOUT

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::{lock, MAX_PENDING_HANDSHAKES, MAX_PENDING_PER_IP};

/// Connections in their handshake, per IP.
#[derive(Clone, Default)]
pub(crate) struct Gate(Arc<Mutex<Pending>>);

#[derive(Default)]
struct Pending {
    next: u64,
    /// Per IP, its connections by age (oldest first): id and eviction signal.
    by_ip: HashMap<IpAddr, VecDeque<(u64, Arc<Notify>)>>,
    /// Every connection by age: id to IP.
    all: BTreeMap<u64, IpAddr>,
}

impl Pending {
    /// Removes connection `id` of `ip`; its eviction signal if it was there.
    fn remove(&mut self, ip: IpAddr, id: u64) -> Option<Arc<Notify>> {
        self.all.remove(&id);
        let q = self.by_ip.get_mut(&ip)?;
        let at = q.iter().position(|(i, _)| *i == id)?;
        let (_, n) = q.remove(at)?;
        if q.is_empty() {
            self.by_ip.remove(&ip);
        }
        Some(n)
    }
}

/// A connection's place at the gate, given back on drop.
pub(crate) struct Pass {
    gate: Gate,
    ip: IpAddr,
    id: u64,
    evicted: Arc<Notify>,
}

impl Gate {
    /// A place for a connection from `ip`. If a bound is reached, the
    /// oldest connection still in its handshake (of `ip` when `ip` is at
    /// its bound) is evicted to make room.
    pub(crate) fn enter(&self, ip: IpAddr) -> Pass {
        let mut p = lock(&self.0);
        let own = p.by_ip.get(&ip).map_or(0, VecDeque::len);
        let victim = if own >= MAX_PENDING_PER_IP {
            p.by_ip
                .get(&ip)
                .and_then(|q| q.front())
                .map(|(id, _)| (ip, *id))
        } else if p.all.len() >= MAX_PENDING_HANDSHAKES {
            p.all.first_key_value().map(|(id, ip)| (*ip, *id))
        } else {
            None
        };
        if let Some((vip, vid)) = victim {
            if let Some(n) = p.remove(vip, vid) {
                n.notify_one();
            }
        }
        let id = p.next;
        p.next += 1;
        let evicted = Arc::new(Notify::new());
        p.all.insert(id, ip);
        p.by_ip
            .entry(ip)
            .or_default()
            .push_back((id, evicted.clone()));
        Pass {
            gate: self.clone(),
            ip,
            id,
            evicted,
        }
    }
}

impl Pass {
    /// Runs `f` (the connection's handshake) until it ends or the
    /// connection is evicted for a newcomer; the place is given back then.
    pub(crate) async fn hold(self, f: impl Future<Output = ()>) {
        tokio::select! {
            biased; // a handshake already received is routed, not evicted
            () = f => {}
            () = self.evicted.notified() => {}
        }
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        lock(&self.gate.0).remove(self.ip, self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_evicted(p: &Pass) -> bool {
        use std::task::{Context, Poll, Waker};
        let f = std::pin::pin!(p.evicted.notified());
        let mut cx = Context::from_waker(Waker::noop());
        matches!(f.poll(&mut cx), Poll::Ready(()))
    }

    #[test]
    fn a_newcomer_evicts_the_oldest_of_its_ip() {
        let g = Gate::default();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let held: Vec<Pass> = (0..MAX_PENDING_PER_IP).map(|_| g.enter(a)).collect();
        assert!(held.iter().all(|p| !is_evicted(p)));
        let newcomer = g.enter(a);
        assert!(is_evicted(&held[0]), "the oldest of that IP makes room");
        assert!(held[1..].iter().all(|p| !is_evicted(p)));
        assert!(!is_evicted(&newcomer));
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let other = g.enter(b);
        assert!(
            held[1..].iter().all(|p| !is_evicted(p)),
            "other IPs evict nothing"
        );
        drop((held, newcomer, other));
        assert!(lock(&g.0).all.is_empty() && lock(&g.0).by_ip.is_empty());
    }

    #[test]
    fn in_total_the_oldest_of_all_makes_room() {
        let g = Gate::default();
        let many: Vec<Pass> = (0..MAX_PENDING_HANDSHAKES as u32)
            .map(|i| g.enter(IpAddr::from((0x0a01_0000 + i).to_be_bytes())))
            .collect();
        assert!(many.iter().all(|p| !is_evicted(p)));
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let newcomer = g.enter(b);
        assert!(is_evicted(&many[0]));
        assert!(many[1..].iter().all(|p| !is_evicted(p)));
        assert!(!is_evicted(&newcomer));
        assert_eq!(lock(&g.0).all.len(), MAX_PENDING_HANDSHAKES);
    }
}
