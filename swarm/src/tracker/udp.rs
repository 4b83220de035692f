//! UDP tracker protocol (BEP 15): a sans-I/O exchange ([`Exchange`]: no
//! clock, no socket) and the tokio glue that moves its datagrams.
//!
//! # Wire format
//!
//! Every integer is big-endian. Each request carries a random 32-bit
//! transaction id that its answer repeats; answers with another id are
//! ignored (the socket is connected, so the kernel already drops datagrams
//! from other addresses).
//!
//! ```text
//! connect request    (16 bytes)  u64 protocol id 0x41727101980, u32 action 0, u32 transaction id
//! connect answer     (16 bytes)  u32 action 0, u32 transaction id, u64 connection id
//! announce request   (98 bytes)  u64 connection id, u32 action 1, u32 transaction id,
//!                                [20] info-hash, [20] peer id, u64 downloaded, u64 left,
//!                                u64 uploaded, u32 event (0 none, 1 completed, 2 started,
//!                                3 stopped), u32 IPv4 address (0: the sender's), u32 key,
//!                                i32 num_want (-1: tracker default), u16 port
//! announce answer    (20+ bytes) u32 action 1, u32 transaction id, u32 interval,
//!                                u32 leechers, u32 seeders, then peers: 6-byte entries
//!                                (IPv4, port) when the tracker was reached over IPv4,
//!                                18-byte entries (IPv6, port) over IPv6
//! scrape request     (16+20n)    u64 connection id, u32 action 2, u32 transaction id,
//!                                n <= 74 info-hashes
//! scrape answer      (8+12n)     u32 action 2, u32 transaction id, then per info-hash
//!                                u32 seeders, u32 completed, u32 leechers
//! error answer       (8+ bytes)  u32 action 3, u32 transaction id, message (text)
//! ```
//!
//! A connection id may be used for one minute after it was received
//! ([`UdpOptions::connection_ttl`]); after that, or after the tracker
//! answered with an error, the next request connects again.
//!
//! # Retransmission and bounds
//!
//! A request unanswered after `initial_timeout * 2^n` is sent again with
//! `n` one higher, up to [`UdpOptions::max_retransmits`]. BEP 15 suggests
//! 15 s and 8 retransmissions (over an hour); the default here stops after
//! 2 (15 + 30 + 60 s) so the next tracker of a tier gets its turn, and the
//! announce round is retried later. A datagram is read into a
//! buffer of [`MAX_DATAGRAM`] bytes; [`parse_answer`] reads at most one
//! peer per 6 (or 18) bytes of it and at most [`MAX_ERROR_MESSAGE`] bytes
//! of an error message.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use super::http::{parse_url_as, resolve};
use super::{AnnounceRequest, AnnounceResponse, Event, TrackerError};

/// The magic constant of a connect request.
pub const PROTOCOL_ID: u64 = 0x0417_2710_1980;
/// Most info-hashes in one scrape request.
pub const MAX_SCRAPE: usize = 74;
/// Receive buffer: the largest UDP payload.
pub const MAX_DATAGRAM: usize = 65_536;
/// Longest error message kept from an error answer.
pub const MAX_ERROR_MESSAGE: usize = 512;

const CONNECT: u32 = 0;
const ANNOUNCE: u32 = 1;
const SCRAPE: u32 = 2;
const ERROR: u32 = 3;

/// Retransmission and connection-id settings.
#[derive(Clone, Debug)]
pub struct UdpOptions {
    /// Wait before the first retransmission; doubled after each.
    pub initial_timeout: Duration,
    /// Retransmissions of one request before giving up.
    pub max_retransmits: u32,
    /// How long a connection id is reused.
    pub connection_ttl: Duration,
}

impl Default for UdpOptions {
    fn default() -> Self {
        UdpOptions {
            initial_timeout: Duration::from_secs(15),
            max_retransmits: 2,
            connection_ttl: Duration::from_secs(60),
        }
    }
}

/// A malformed UDP tracker answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UdpError {
    /// Shorter than its action's fixed part.
    #[error("answer of {len} bytes is too short for action {action}")]
    TooShort {
        /// The action number.
        action: u32,
        /// Datagram length in bytes.
        len: usize,
    },
    /// An action other than the one the request asked for.
    #[error("answer has action {got}, expected {expected}")]
    UnexpectedAction {
        /// The action asked for.
        expected: u32,
        /// The action answered.
        got: u32,
    },
    /// A peer list that is not whole entries.
    #[error("peer list of {len} bytes is not a whole number of {entry}-byte entries")]
    BadPeerList {
        /// Peer list length in bytes.
        len: usize,
        /// Bytes per entry (6 for IPv4, 18 for IPv6).
        entry: usize,
    },
    /// A scrape answer with a different number of entries than asked.
    #[error("scrape answer has {got} entries, asked for {asked}")]
    BadScrape {
        /// Entries answered.
        got: usize,
        /// Info-hashes asked.
        asked: usize,
    },
    /// An action number BEP 15 does not define.
    #[error("answer has unknown action {0}")]
    UnknownAction(u32),
    /// A request datagram (as a tracker reads it) that does not parse.
    #[error("request of {len} bytes is malformed")]
    BadRequest {
        /// Datagram length in bytes.
        len: usize,
    },
}

/// A connection id and when it was received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionId {
    /// The id.
    pub id: u64,
    /// When the connect answer arrived.
    pub received: Instant,
}

/// Swarm sizes of one info-hash from a scrape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ScrapeStats {
    /// Peers with the whole torrent.
    pub seeders: u32,
    /// Downloads completed, as the tracker counts them.
    pub completed: u32,
    /// Peers still downloading.
    pub leechers: u32,
}

/// What to ask a tracker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    /// Announce, with the client's `key`.
    Announce {
        /// What to announce.
        req: AnnounceRequest,
        /// The client's key (stays the same across announces).
        key: u32,
    },
    /// Scrape up to [`MAX_SCRAPE`] info-hashes.
    Scrape(Vec<[u8; 20]>),
}

/// What the tracker answered to a [`Query`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The announce's answer.
    Announce(AnnounceResponse),
    /// One entry per info-hash asked, in order.
    Scrape(Vec<ScrapeStats>),
}

/// One parsed answer datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// The transaction id it answers.
    pub txid: u32,
    /// What it says.
    pub body: Body,
}

/// The body of an answer datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// A connection id (action 0).
    Connect(u64),
    /// An announce answer (action 1).
    Announce(AnnounceResponse),
    /// A scrape answer (action 2).
    Scrape(Vec<ScrapeStats>),
    /// The tracker's error message (action 3).
    Error(String),
}

fn u32_at(d: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]])
}

fn u64_at(d: &[u8], at: usize) -> u64 {
    (u64::from(u32_at(d, at)) << 32) | u64::from(u32_at(d, at + 4))
}

/// Parses an answer datagram; `v6` says the tracker was reached over IPv6
/// (18-byte peer entries instead of 6). Bounded by the input: at most one
/// peer per 6 bytes.
pub fn parse_answer(d: &[u8], v6: bool) -> Result<Parsed, UdpError> {
    let short = |action| UdpError::TooShort {
        action,
        len: d.len(),
    };
    if d.len() < 8 {
        return Err(short(u32::MAX));
    }
    let (action, txid) = (u32_at(d, 0), u32_at(d, 4));
    let body = match action {
        CONNECT if d.len() >= 16 => Body::Connect(u64_at(d, 8)),
        ANNOUNCE if d.len() >= 20 => {
            let entry = if v6 { 18 } else { 6 };
            let list = &d[20..];
            if list.len() % entry != 0 {
                return Err(UdpError::BadPeerList {
                    len: list.len(),
                    entry,
                });
            }
            let peers = list
                .chunks_exact(entry)
                .map(|e| {
                    let port = u16::from_be_bytes([e[entry - 2], e[entry - 1]]);
                    let ip = if v6 {
                        let mut a = [0u8; 16];
                        a.copy_from_slice(&e[..16]);
                        IpAddr::V6(Ipv6Addr::from(a))
                    } else {
                        IpAddr::V4(Ipv4Addr::new(e[0], e[1], e[2], e[3]))
                    };
                    SocketAddr::new(ip, port)
                })
                .collect();
            Body::Announce(AnnounceResponse {
                interval: u32_at(d, 8),
                min_interval: None,
                incomplete: Some(u32_at(d, 12)),
                complete: Some(u32_at(d, 16)),
                warning: None,
                peers,
            })
        }
        SCRAPE => {
            let list = &d[8..];
            if list.len() % 12 != 0 {
                return Err(short(SCRAPE));
            }
            Body::Scrape(
                list.chunks_exact(12)
                    .map(|e| ScrapeStats {
                        seeders: u32_at(e, 0),
                        completed: u32_at(e, 4),
                        leechers: u32_at(e, 8),
                    })
                    .collect(),
            )
        }
        ERROR => {
            let msg = &d[8..d.len().min(8 + MAX_ERROR_MESSAGE)];
            Body::Error(String::from_utf8_lossy(msg).into_owned())
        }
        CONNECT | ANNOUNCE => return Err(short(action)),
        got => return Err(UdpError::UnknownAction(got)),
    };
    Ok(Parsed { txid, body })
}

fn event_code(e: Event) -> u32 {
    match e {
        Event::None => 0,
        Event::Completed => 1,
        Event::Started => 2,
        Event::Stopped => 3,
    }
}

/// The connect request.
pub fn connect_request(txid: u32) -> Vec<u8> {
    let mut p = Vec::with_capacity(16);
    p.extend_from_slice(&PROTOCOL_ID.to_be_bytes());
    p.extend_from_slice(&CONNECT.to_be_bytes());
    p.extend_from_slice(&txid.to_be_bytes());
    p
}

/// The announce or scrape request for `q` on connection `conn`.
pub fn query_request(conn: u64, txid: u32, q: &Query) -> Vec<u8> {
    let mut p = Vec::with_capacity(98);
    p.extend_from_slice(&conn.to_be_bytes());
    match q {
        Query::Announce { req, key } => {
            p.extend_from_slice(&ANNOUNCE.to_be_bytes());
            p.extend_from_slice(&txid.to_be_bytes());
            p.extend_from_slice(&req.info_hash);
            p.extend_from_slice(&req.peer_id);
            p.extend_from_slice(&req.downloaded.to_be_bytes());
            p.extend_from_slice(&req.left.to_be_bytes());
            p.extend_from_slice(&req.uploaded.to_be_bytes());
            p.extend_from_slice(&event_code(req.event).to_be_bytes());
            p.extend_from_slice(&0u32.to_be_bytes());
            p.extend_from_slice(&key.to_be_bytes());
            let want = req
                .numwant
                .map_or(-1, |n| i32::try_from(n).unwrap_or(i32::MAX));
            p.extend_from_slice(&want.to_be_bytes());
            p.extend_from_slice(&req.port.to_be_bytes());
        }
        Query::Scrape(hashes) => {
            p.extend_from_slice(&SCRAPE.to_be_bytes());
            p.extend_from_slice(&txid.to_be_bytes());
            for h in hashes.iter().take(MAX_SCRAPE) {
                p.extend_from_slice(h);
            }
        }
    }
    p
}

/// A request as a tracker reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Action 0: asks for a connection id.
    Connect {
        /// Transaction id.
        txid: u32,
    },
    /// Action 1 or 2 under a connection id.
    Query {
        /// The connection id.
        conn: u64,
        /// Transaction id.
        txid: u32,
        /// What is asked.
        query: Query,
    },
}

/// Parses a request datagram (the tracker's side; the test server uses it).
pub fn parse_request(d: &[u8]) -> Result<Request, UdpError> {
    let bad = UdpError::BadRequest { len: d.len() };
    if d.len() < 16 {
        return Err(bad);
    }
    let (conn, action, txid) = (u64_at(d, 0), u32_at(d, 8), u32_at(d, 12));
    match action {
        CONNECT if conn == PROTOCOL_ID => Ok(Request::Connect { txid }),
        ANNOUNCE if d.len() >= 98 => {
            let h = |at: usize| <[u8; 20]>::try_from(&d[at..at + 20]).unwrap_or_default();
            let event = match u32_at(d, 80) {
                1 => Event::Completed,
                2 => Event::Started,
                3 => Event::Stopped,
                _ => Event::None,
            };
            let want = u32_at(d, 92) as i32;
            let req = AnnounceRequest {
                info_hash: h(16),
                peer_id: h(36),
                downloaded: u64_at(d, 56),
                left: u64_at(d, 64),
                uploaded: u64_at(d, 72),
                event,
                numwant: u32::try_from(want).ok(),
                port: u16::from_be_bytes([d[96], d[97]]),
            };
            let key = u32_at(d, 88);
            Ok(Request::Query {
                conn,
                txid,
                query: Query::Announce { req, key },
            })
        }
        SCRAPE if (d.len() - 16) % 20 == 0 && d.len() - 16 <= 20 * MAX_SCRAPE => {
            let hashes = d[16..]
                .chunks_exact(20)
                .map(|c| <[u8; 20]>::try_from(c).unwrap_or_default())
                .collect();
            Ok(Request::Query {
                conn,
                txid,
                query: Query::Scrape(hashes),
            })
        }
        _ => Err(bad),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Connect,
    Query(u64),
    Done,
}

/// One UDP tracker exchange (connect if needed, then the query), with
/// retransmissions, as a state machine: feed it datagrams and timeouts,
/// take datagrams to send and, once, its result.
#[derive(Debug)]
pub struct Exchange {
    query: Query,
    v6: bool,
    opts: UdpOptions,
    conn: Option<ConnectionId>,
    step: Step,
    txid: u32,
    /// Retransmission exponent of the current request.
    n: u32,
    deadline: Instant,
    out: Option<Vec<u8>>,
    result: Option<Result<Answer, TrackerError>>,
}

impl Exchange {
    /// Starts an exchange at `now`, reusing `cached` if it is still valid.
    /// `v6`: the tracker is reached over IPv6.
    pub fn new(
        now: Instant,
        query: Query,
        v6: bool,
        cached: Option<ConnectionId>,
        opts: UdpOptions,
    ) -> Self {
        let mut x = Exchange {
            query,
            v6,
            conn: None,
            step: Step::Connect,
            txid: 0,
            n: 0,
            deadline: now,
            out: None,
            result: None,
            opts,
        };
        if let Some(c) = cached.filter(|c| x.valid(c, now)) {
            x.conn = Some(c);
            x.step = Step::Query(c.id);
        }
        x.send(now);
        x
    }

    fn valid(&self, c: &ConnectionId, now: Instant) -> bool {
        now.saturating_duration_since(c.received) < self.opts.connection_ttl
    }

    fn send(&mut self, now: Instant) {
        self.txid = rand::random();
        self.out = Some(match self.step {
            Step::Connect => connect_request(self.txid),
            Step::Query(id) => query_request(id, self.txid, &self.query),
            Step::Done => return,
        });
        let backoff = 1u32.checked_shl(self.n).unwrap_or(u32::MAX);
        self.deadline = now + self.opts.initial_timeout.saturating_mul(backoff);
    }

    fn finish(&mut self, r: Result<Answer, TrackerError>) {
        self.step = Step::Done;
        self.out = None;
        self.result = Some(r);
    }

    /// The next datagram to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.out.take()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is due, while running.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        (self.step != Step::Done).then_some(self.deadline)
    }

    /// The result, once.
    #[must_use]
    pub fn poll_result(&mut self) -> Option<Result<Answer, TrackerError>> {
        self.result.take()
    }

    /// The connection id to reuse next time (none after an error answer).
    pub fn connection(&self) -> Option<ConnectionId> {
        self.conn
    }

    /// Retransmits (or gives up) if the deadline passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.step == Step::Done || now < self.deadline {
            return;
        }
        if self.n >= self.opts.max_retransmits {
            let attempts = self.n + 1;
            return self.finish(Err(TrackerError::UdpTimeout { attempts }));
        }
        self.n += 1;
        if let (Step::Query(_), Some(c)) = (self.step, self.conn) {
            if !self.valid(&c, now) {
                self.conn = None;
                self.step = Step::Connect;
            }
        }
        self.send(now);
    }

    /// Reads an answer datagram: one with another transaction id is
    /// ignored; a malformed one ends the exchange with an error.
    pub fn handle_datagram(&mut self, now: Instant, d: &[u8]) {
        if self.step == Step::Done || d.len() < 8 || u32_at(d, 4) != self.txid {
            return;
        }
        let parsed = match parse_answer(d, self.v6) {
            Ok(p) => p,
            Err(e) => return self.finish(Err(e.into())),
        };
        let expected = match (self.step, &self.query) {
            (Step::Connect, _) => CONNECT,
            (_, Query::Announce { .. }) => ANNOUNCE,
            (_, Query::Scrape(_)) => SCRAPE,
        };
        match (self.step, parsed.body) {
            (_, Body::Error(msg)) => {
                self.conn = None;
                self.finish(Err(TrackerError::Failure(msg)))
            }
            (Step::Connect, Body::Connect(id)) => {
                self.conn = Some(ConnectionId { id, received: now });
                self.step = Step::Query(id);
                self.n = 0;
                self.send(now);
            }
            (Step::Query(_), Body::Announce(r)) if expected == ANNOUNCE => {
                self.finish(Ok(Answer::Announce(r)))
            }
            (Step::Query(_), Body::Scrape(s)) if expected == SCRAPE => {
                let asked = match &self.query {
                    Query::Scrape(h) => h.len().min(MAX_SCRAPE),
                    Query::Announce { .. } => 0,
                };
                if s.len() != asked {
                    let got = s.len();
                    return self.finish(Err(UdpError::BadScrape { got, asked }.into()));
                }
                self.finish(Ok(Answer::Scrape(s)))
            }
            (_, _) => {
                let got = u32_at(d, 0);
                self.finish(Err(UdpError::UnexpectedAction { expected, got }.into()))
            }
        }
    }
}

/// A connected socket to a UDP tracker and the connection id it got: a
/// tracker may tie the id to the address and port that connected, so the
/// id is reused only from the same socket.
#[derive(Debug)]
pub(super) struct Session {
    sock: UdpSocket,
    addr: SocketAddr,
    conn: Option<ConnectionId>,
}

/// Runs one exchange with the tracker at `url` (`udp://host:port[/...]`),
/// on the socket of `cached` if there is one. Returns the socket and
/// connection id to reuse, and the result.
pub(super) async fn exchange(
    url: &str,
    query: Query,
    cached: Option<Session>,
    opts: &UdpOptions,
) -> (Option<Session>, Result<Answer, TrackerError>) {
    let mut s = match cached {
        Some(s) => s,
        None => match open(url).await {
            Ok(s) => s,
            Err(e) => return (None, Err(e)),
        },
    };
    let r = run(&mut s, query, opts).await;
    let keep = !matches!(r, Err(TrackerError::Connect { .. }));
    (keep.then_some(s), r)
}

async fn open(url: &str) -> Result<Session, TrackerError> {
    let target = parse_url_as(url, "udp", None)?;
    let addr = resolve(&target).await?[0];
    let local: SocketAddr = if addr.is_ipv6() {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(local).await?;
    sock.connect(addr)
        .await
        .map_err(|source| TrackerError::Connect { addr, source })?;
    Ok(Session {
        sock,
        addr,
        conn: None,
    })
}

async fn run(s: &mut Session, query: Query, opts: &UdpOptions) -> Result<Answer, TrackerError> {
    let addr = s.addr;
    let connect_err = |source| TrackerError::Connect { addr, source };
    let mut x = Exchange::new(Instant::now(), query, addr.is_ipv6(), s.conn, opts.clone());
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        while let Some(p) = x.poll_transmit() {
            // a refused earlier datagram (ICMP port unreachable) shows here
            s.sock.send(&p).await.map_err(connect_err)?;
        }
        s.conn = x.connection();
        if let Some(r) = x.poll_result() {
            return r;
        }
        let Some(deadline) = x.poll_timeout() else {
            return Err(TrackerError::UdpTimeout { attempts: 0 });
        };
        tokio::select! {
            r = s.sock.recv(&mut buf) => {
                let n = r.map_err(connect_err)?;
                x.handle_datagram(Instant::now(), &buf[..n]);
            }
            _ = tokio::time::sleep_until(deadline.into()) => x.handle_timeout(Instant::now()),
        }
    }
}

#[cfg(test)]
mod tests;
