//! Incoming connections before their handshake: bounded in total and per
//! IP, so that one host cannot take every slot.
//!
//! Issue 14: 64 connections that never finished their handshake blocked
//! every other incoming connection for the 10 s deadline, and a host that
//! renewed them kept a real download out. Now at most
//! [`MAX_PENDING_HANDSHAKES`] connections may be in their handshake at
//! once, at most [`MAX_PENDING_PER_IP`] of them from one IP, each for at
//! most [`HANDSHAKE_TIMEOUT`]; a connection past a bound is closed at once.
//!
//! [`MAX_PENDING_HANDSHAKES`]: super::MAX_PENDING_HANDSHAKES
//! [`MAX_PENDING_PER_IP`]: super::MAX_PENDING_PER_IP
//! [`HANDSHAKE_TIMEOUT`]: super::HANDSHAKE_TIMEOUT

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use super::{lock, MAX_PENDING_HANDSHAKES, MAX_PENDING_PER_IP};

/// Connections in their handshake, per IP.
#[derive(Clone, Default)]
pub(crate) struct Gate(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// A connection's place at the gate, given back on drop.
pub(crate) struct Pass {
    gate: Gate,
    ip: IpAddr,
}

impl Gate {
    /// A place for a connection from `ip`, if both bounds allow it.
    pub(crate) fn enter(&self, ip: IpAddr) -> Option<Pass> {
        let mut m = lock(&self.0);
        let total: usize = m.values().sum();
        let n = m.entry(ip).or_insert(0);
        if total >= MAX_PENDING_HANDSHAKES || *n >= MAX_PENDING_PER_IP {
            if *n == 0 {
                m.remove(&ip);
            }
            return None;
        }
        *n += 1;
        Some(Pass {
            gate: self.clone(),
            ip,
        })
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        let mut m = lock(&self.gate.0);
        if let Some(n) = m.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_per_ip_and_in_total() {
        let g = Gate::default();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let held: Vec<Pass> = (0..MAX_PENDING_PER_IP)
            .map(|_| g.enter(a).unwrap())
            .collect();
        assert!(g.enter(a).is_none(), "one IP holds at most its share");
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(g.enter(b).is_some(), "another IP still gets in");
        drop(held);
        assert!(g.enter(a).is_some(), "places are given back");
        let many: Vec<Pass> = (0..MAX_PENDING_HANDSHAKES as u32)
            .filter_map(|i| g.enter(IpAddr::from((0x0a01_0000 + i).to_be_bytes())))
            .collect();
        assert_eq!(many.len(), MAX_PENDING_HANDSHAKES);
        assert!(g.enter(b).is_none(), "bounded in total");
    }
}
