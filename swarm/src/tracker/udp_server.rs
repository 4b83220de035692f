//! A minimal in-memory UDP tracker (BEP 15) for tests and interop labs,
//! the counterpart of the HTTP one in [`server`](super::server) (same
//! swarm bookkeeping and [`TrackerOptions`]).
//!
//! Connection ids are random and valid for two minutes for the address
//! and port that connected (stricter than opentracker, which ties them to
//! the IP address only); an announce or scrape with another id gets an
//! error answer. Over IPv4 it lists IPv4 peers (6-byte entries), over IPv6 IPv6
//! peers (18-byte entries). [`UdpTrackerServer::drop_next`] makes it
//! ignore the next datagrams, to exercise retransmission.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use super::server::{listed_ip, peers_of, register, PeerEntry, Swarms, TrackerOptions};
use super::udp::{parse_request, Query, Request, MAX_SCRAPE};
use super::Event;

/// How long a connection id is accepted.
const CONNECTION_TTL: Duration = Duration::from_secs(120);
/// Most connection ids remembered (older ones are forgotten first).
const MAX_CONNECTIONS: usize = 10_000;

#[derive(Default)]
struct Counters {
    connects: AtomicUsize,
    announces: AtomicUsize,
    scrapes: AtomicUsize,
    drop_next: AtomicUsize,
}

/// A running UDP tracker; stops when dropped.
pub struct UdpTrackerServer {
    addr: SocketAddr,
    swarms: Arc<Mutex<Swarms>>,
    counters: Arc<Counters>,
    task: JoinHandle<()>,
}

impl Drop for UdpTrackerServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl UdpTrackerServer {
    /// Binds with default options; returns the server and its announce URL.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<(UdpTrackerServer, String)> {
        Self::bind_with(addr, TrackerOptions::default()).await
    }

    /// Binds with `opts`; returns the server and its announce URL
    /// (`udp://ADDR/announce`).
    pub async fn bind_with(
        addr: SocketAddr,
        opts: TrackerOptions,
    ) -> std::io::Result<(UdpTrackerServer, String)> {
        let sock = UdpSocket::bind(addr).await?;
        let addr = sock.local_addr()?;
        let swarms: Arc<Mutex<Swarms>> = Arc::default();
        let counters: Arc<Counters> = Arc::default();
        let (s2, c2) = (swarms.clone(), counters.clone());
        let task = tokio::spawn(async move {
            let mut conns: HashMap<u64, (SocketAddr, Instant)> = HashMap::new();
            let mut buf = vec![0u8; 2048];
            loop {
                let Ok((n, from)) = sock.recv_from(&mut buf).await else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let dropped = c2
                    .drop_next
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |d| d.checked_sub(1));
                if dropped.is_ok() {
                    continue;
                }
                if let Some(answer) = handle(&buf[..n], from, &mut conns, &s2, &c2, &opts) {
                    let _ = sock.send_to(&answer, from).await;
                }
            }
        });
        let url = format!("udp://{addr}/announce");
        Ok((
            UdpTrackerServer {
                addr,
                swarms,
                counters,
                task,
            },
            url,
        ))
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The addresses registered for an info-hash, as announced.
    pub fn peers(&self, info_hash: &[u8; 20]) -> Vec<SocketAddr> {
        peers_of(&self.swarms, info_hash)
    }

    /// Connect requests answered.
    pub fn connects(&self) -> usize {
        self.counters.connects.load(Ordering::SeqCst)
    }

    /// Announces answered.
    pub fn announces(&self) -> usize {
        self.counters.announces.load(Ordering::SeqCst)
    }

    /// Scrapes answered.
    pub fn scrapes(&self) -> usize {
        self.counters.scrapes.load(Ordering::SeqCst)
    }

    /// Ignores the next `n` datagrams received.
    pub fn drop_next(&self, n: usize) {
        self.counters.drop_next.store(n, Ordering::SeqCst);
    }
}

fn error(txid: u32, msg: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(8 + msg.len());
    p.extend_from_slice(&3u32.to_be_bytes());
    p.extend_from_slice(&txid.to_be_bytes());
    p.extend_from_slice(msg.as_bytes());
    p
}

fn handle(
    d: &[u8],
    from: SocketAddr,
    conns: &mut HashMap<u64, (SocketAddr, Instant)>,
    swarms: &Mutex<Swarms>,
    counters: &Counters,
    opts: &TrackerOptions,
) -> Option<Vec<u8>> {
    let now = Instant::now();
    let (conn, txid, query) = match parse_request(d).ok()? {
        Request::Connect { txid } => {
            conns.retain(|_, (_, t)| now.duration_since(*t) < CONNECTION_TTL);
            if conns.len() >= MAX_CONNECTIONS {
                let oldest = conns.iter().min_by_key(|(_, (_, t))| *t).map(|(k, _)| *k);
                conns.remove(&oldest?);
            }
            let id: u64 = rand::random();
            conns.insert(id, (from, now));
            counters.connects.fetch_add(1, Ordering::SeqCst);
            let mut p = Vec::with_capacity(16);
            p.extend_from_slice(&0u32.to_be_bytes());
            p.extend_from_slice(&txid.to_be_bytes());
            p.extend_from_slice(&id.to_be_bytes());
            return Some(p);
        }
        Request::Query { conn, txid, query } => (conn, txid, query),
    };
    match conns.get(&conn) {
        Some((a, t)) if *a == from && now.duration_since(*t) < CONNECTION_TTL => {}
        _ => return Some(error(txid, "unknown connection id")),
    }
    match query {
        Query::Announce { req, .. } => {
            if req.port == 0 {
                return Some(error(txid, "port 0"));
            }
            counters.announces.fetch_add(1, Ordering::SeqCst);
            let me = PeerEntry {
                addr: SocketAddr::new(listed_ip(from.ip(), opts), req.port),
                left: req.left,
            };
            let want = req.numwant.map_or(50, |n| n as usize).min(opts.max_peers);
            let stopped = req.event == Event::Stopped;
            let (complete, incomplete, others) =
                register(swarms, req.info_hash, req.peer_id, me, stopped, want);
            let mut p = Vec::with_capacity(20 + others.len() * 18);
            p.extend_from_slice(&1u32.to_be_bytes());
            p.extend_from_slice(&txid.to_be_bytes());
            p.extend_from_slice(&opts.interval.to_be_bytes());
            for n in [incomplete, complete] {
                p.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes());
            }
            // peers of the family the tracker was reached over
            let v6 = from.is_ipv6()
                && !matches!(from.ip(), std::net::IpAddr::V6(a) if a.to_ipv4_mapped().is_some());
            for a in others.iter().filter(|a| a.is_ipv6() == v6) {
                match a {
                    SocketAddr::V4(a) => p.extend_from_slice(&a.ip().octets()),
                    SocketAddr::V6(a) => p.extend_from_slice(&a.ip().octets()),
                }
                p.extend_from_slice(&a.port().to_be_bytes());
            }
            Some(p)
        }
        Query::Scrape(hashes) => {
            counters.scrapes.fetch_add(1, Ordering::SeqCst);
            let g = swarms.lock().unwrap_or_else(|e| e.into_inner());
            let mut p = Vec::with_capacity(8 + 12 * hashes.len());
            p.extend_from_slice(&2u32.to_be_bytes());
            p.extend_from_slice(&txid.to_be_bytes());
            for h in hashes.iter().take(MAX_SCRAPE) {
                let (seeds, all) = g.get(h).map_or((0, 0), |s| {
                    (s.values().filter(|p| p.left == 0).count(), s.len())
                });
                for n in [seeds, 0, all - seeds] {
                    p.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes());
                }
            }
            Some(p)
        }
    }
}
