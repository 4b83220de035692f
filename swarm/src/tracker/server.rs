//! A minimal in-memory HTTP tracker for tests and interop labs.
//!
//! Answers `GET /announce?...` (BEP 3) with compact peer lists (BEP 23,
//! `peers6` for IPv6 peers) or, when asked with `compact=0`, dictionary
//! lists. Any info-hash is accepted. `event=stopped` removes the peer; the
//! announcing peer is never in its own list.
//!
//! Transmission refuses peers on 127.0.0.0/8, so [`TrackerOptions::peer_ip`]
//! can list loopback announcers under another address (see
//! `/work/shared/lab/tracker.py`).
//!
//! Requests are bounded (head size, read timeout); a bad request gets a
//! `failure reason`, never a crash.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use piece_core::bencode::Encoder;

/// Largest request head the server reads.
const MAX_REQUEST: usize = 8 * 1024;

/// Server settings.
#[derive(Clone, Debug)]
pub struct TrackerOptions {
    /// `interval` sent to clients, seconds.
    pub interval: u32,
    /// List announcers from a loopback address under this address instead.
    pub peer_ip: Option<IpAddr>,
    /// Most peers in one answer.
    pub max_peers: usize,
}

impl Default for TrackerOptions {
    fn default() -> Self {
        TrackerOptions {
            interval: 30,
            peer_ip: None,
            max_peers: 200,
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub(super) struct PeerEntry {
    pub(super) addr: SocketAddr,
    pub(super) left: u64,
}

pub(super) type Swarms = HashMap<[u8; 20], HashMap<[u8; 20], PeerEntry>>;

/// A running tracker; stops when dropped.
pub struct TrackerServer {
    addr: SocketAddr,
    swarms: Arc<Mutex<Swarms>>,
    task: JoinHandle<()>,
}

impl Drop for TrackerServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TrackerServer {
    /// Binds with default options; returns the server and its announce URL.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<(TrackerServer, String)> {
        Self::bind_with(addr, TrackerOptions::default()).await
    }

    /// Binds with `opts`; returns the server and its announce URL.
    pub async fn bind_with(
        addr: SocketAddr,
        opts: TrackerOptions,
    ) -> std::io::Result<(TrackerServer, String)> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let swarms: Arc<Mutex<Swarms>> = Arc::default();
        let s2 = swarms.clone();
        let opts = Arc::new(opts);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else {
                    // e.g. too many open files: back off instead of spinning
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let swarms = s2.clone();
                let opts = opts.clone();
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(
                        Duration::from_secs(10),
                        serve(stream, peer, swarms, opts),
                    )
                    .await;
                });
            }
        });
        let url = format!("http://{addr}/announce");
        Ok((TrackerServer { addr, swarms, task }, url))
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Peers currently registered for an info-hash.
    pub fn num_peers(&self, info_hash: &[u8; 20]) -> usize {
        self.peers(info_hash).len()
    }

    /// The addresses registered for an info-hash, as announced.
    pub fn peers(&self, info_hash: &[u8; 20]) -> Vec<SocketAddr> {
        peers_of(&self.swarms, info_hash)
    }
}

pub(super) fn peers_of(swarms: &Mutex<Swarms>, info_hash: &[u8; 20]) -> Vec<SocketAddr> {
    let g = swarms.lock().unwrap_or_else(|e| e.into_inner());
    let mut v: Vec<SocketAddr> = g
        .get(info_hash)
        .map(|s| s.values().map(|p| p.addr).collect())
        .unwrap_or_default();
    v.sort();
    v
}

async fn serve(
    mut stream: TcpStream,
    peer: SocketAddr,
    swarms: Arc<Mutex<Swarms>>,
    opts: Arc<TrackerOptions>,
) {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
        if buf.len() > MAX_REQUEST {
            let _ = respond(&mut stream, 431, b"").await;
            return;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = match handle(&buf, peer, &swarms, &opts) {
        Ok(b) => b,
        Err(msg) => {
            let mut e = Encoder::new();
            e.begin_dict().str("failure reason").str(&msg).end();
            e.finish()
        }
    };
    let _ = respond(&mut stream, 200, &body).await;
}

async fn respond(stream: &mut TcpStream, code: u16, body: &[u8]) -> std::io::Result<()> {
    let reason = if code == 200 { "OK" } else { "Error" };
    let head = format!(
        "HTTP/1.0 {code} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.shutdown().await
}

/// The address an announcer is listed under: IPv4-mapped addresses as
/// IPv4, loopback as [`TrackerOptions::peer_ip`] if set.
pub(super) fn listed_ip(mut ip: IpAddr, opts: &TrackerOptions) -> IpAddr {
    if let IpAddr::V6(v6) = ip {
        if let Some(v4) = v6.to_ipv4_mapped() {
            ip = IpAddr::V4(v4);
        }
    }
    match opts.peer_ip {
        Some(over) if ip.is_loopback() => over,
        _ => ip,
    }
}

/// Registers (or, `stopped`, removes) an announcer; returns the swarm's
/// seeds, leechers and up to `want` other peers.
pub(super) fn register(
    swarms: &Mutex<Swarms>,
    info_hash: [u8; 20],
    peer_id: [u8; 20],
    me: PeerEntry,
    stopped: bool,
    want: usize,
) -> (usize, usize, Vec<SocketAddr>) {
    let mut g = swarms.lock().unwrap_or_else(|e| e.into_inner());
    let swarm = g.entry(info_hash).or_default();
    if stopped {
        swarm.remove(&peer_id);
    } else {
        swarm.insert(peer_id, me);
    }
    let complete = swarm.values().filter(|p| p.left == 0).count();
    let incomplete = swarm.len() - complete;
    let others: Vec<SocketAddr> = swarm
        .iter()
        .filter(|(id, _)| **id != peer_id)
        .map(|(_, p)| p.addr)
        .take(want)
        .collect();
    if swarm.is_empty() {
        g.remove(&info_hash);
    }
    (complete, incomplete, others)
}

fn url_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(out)
}

fn handle(
    req: &[u8],
    peer: SocketAddr,
    swarms: &Mutex<Swarms>,
    opts: &TrackerOptions,
) -> Result<Vec<u8>, String> {
    let line_end = req
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or(req.len());
    let line = std::str::from_utf8(&req[..line_end]).map_err(|_| "request line is not text")?;
    let mut parts = line.split(' ');
    let (Some("GET"), Some(target)) = (parts.next(), parts.next()) else {
        return Err("only GET is supported".into());
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if !path.ends_with("/announce") {
        return Err("only /announce is supported".into());
    }
    let mut info_hash = None;
    let mut peer_id = None;
    let mut port = None;
    let mut left = 0u64;
    let mut event = Vec::new();
    let mut compact = true;
    let mut numwant = 50usize;
    for kv in query.split('&').filter(|s| !s.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        let v = url_decode(v).ok_or("bad percent-encoding")?;
        let num = || {
            std::str::from_utf8(&v)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
        };
        match k {
            "info_hash" => {
                info_hash =
                    Some(<[u8; 20]>::try_from(&v[..]).map_err(|_| "info_hash must be 20 bytes")?)
            }
            "peer_id" => {
                peer_id =
                    Some(<[u8; 20]>::try_from(&v[..]).map_err(|_| "peer_id must be 20 bytes")?)
            }
            "port" => {
                port = Some(
                    num()
                        .and_then(|n| u16::try_from(n).ok())
                        .ok_or("bad port")?,
                )
            }
            "left" => left = num().ok_or("bad left")?,
            "event" => event = v,
            "compact" => compact = v != b"0",
            "numwant" => numwant = num().ok_or("bad numwant")? as usize,
            _ => {}
        }
    }
    let (Some(info_hash), Some(peer_id), Some(port)) = (info_hash, peer_id, port) else {
        return Err("missing info_hash, peer_id or port".into());
    };
    let ip = listed_ip(peer.ip(), opts);
    let (complete, incomplete, others) = register(
        swarms,
        info_hash,
        peer_id,
        PeerEntry {
            addr: SocketAddr::new(ip, port),
            left,
        },
        event == b"stopped",
        numwant.min(opts.max_peers),
    );

    let mut e = Encoder::new();
    e.begin_dict();
    e.str("complete").int(complete as i64);
    e.str("incomplete").int(incomplete as i64);
    e.str("interval").int(i64::from(opts.interval));
    e.str("peers");
    if compact {
        let mut v4 = Vec::new();
        for a in &others {
            if let SocketAddr::V4(a) = a {
                v4.extend_from_slice(&a.ip().octets());
                v4.extend_from_slice(&a.port().to_be_bytes());
            }
        }
        e.bytes(&v4);
        let mut v6 = Vec::new();
        for a in &others {
            if let SocketAddr::V6(a) = a {
                v6.extend_from_slice(&a.ip().octets());
                v6.extend_from_slice(&a.port().to_be_bytes());
            }
        }
        if !v6.is_empty() {
            e.str("peers6").bytes(&v6);
        }
    } else {
        e.begin_list();
        for a in &others {
            e.begin_dict();
            e.str("ip").str(&a.ip().to_string());
            e.str("port").int(i64::from(a.port()));
            e.end();
        }
        e.end();
    }
    e.end();
    Ok(e.finish())
}
