//! BEP 14 Local Service Discovery.
//!
//! # Wire format
//!
//! One UDP datagram to `239.192.152.143:6771` (IPv4) or
//! `[ff15::efc0:988f]:6771` (IPv6), TTL 1:
//!
//! ```text
//! BT-SEARCH * HTTP/1.1\r\n
//! Host: 239.192.152.143:6771\r\n
//! Port: <our BitTorrent TCP port>\r\n
//! Infohash: <40 hex>\r\n
//! [Infohash: <40 hex>\r\n ...]
//! cookie: <random token of the sender>\r\n
//! \r\n
//! \r\n
//! ```
//!
//! Header names are case-insensitive. The info-hash is the v1 hash, or for
//! a v2-only torrent the v2 hash truncated to 20 bytes. We read at most
//! [`MAX_DATAGRAM`] bytes, [`MAX_HEADERS`] header lines and
//! [`MAX_INFOHASHES`] info-hashes per message, and drop messages carrying
//! our own cookie. A parsed announce becomes a [`PeerHint`]: the source IP
//! of the datagram with the announced port. It is only a hint: the peer
//! must still prove it has the torrent in the handshake. The same hint is
//! passed on at most once per [`MIN_ANNOUNCE_GAP`] ([`HintFilter`]).
//!
//! [`Lsd`] runs the sockets on the tokio runtime: it announces each added
//! torrent at once and every [`REANNOUNCE_INTERVAL`], never more than once
//! per [`MIN_ANNOUNCE_GAP`] per torrent ([`RateLimiter`]).

use std::collections::{BTreeSet, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The LSD UDP port.
pub const LSD_PORT: u16 = 6771;
/// The IPv4 LSD multicast group.
pub const LSD_GROUP_V4: Ipv4Addr = Ipv4Addr::new(239, 192, 152, 143);
/// The IPv6 LSD multicast group.
pub const LSD_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff15, 0, 0, 0, 0, 0, 0xefc0, 0x988f);
/// Largest datagram read or sent.
pub const MAX_DATAGRAM: usize = 1400;
/// Most header lines read in one message.
pub const MAX_HEADERS: usize = 40;
/// Most info-hashes read from, or put in, one message.
pub const MAX_INFOHASHES: usize = 20;
/// Longest cookie accepted.
pub const MAX_COOKIE: usize = 64;
/// How often every torrent is announced again.
pub const REANNOUNCE_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// Shortest gap between two announces of the same torrent.
pub const MIN_ANNOUNCE_GAP: Duration = Duration::from_secs(60);

/// Which multicast group a message is for (it sets the `Host` header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// `239.192.152.143:6771`.
    V4,
    /// `[ff15::efc0:988f]:6771`.
    V6,
}

impl Family {
    fn host(self) -> &'static str {
        match self {
            Family::V4 => "239.192.152.143:6771",
            Family::V6 => "[ff15::efc0:988f]:6771",
        }
    }
}

/// A BT-SEARCH announce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announce {
    /// The sender's BitTorrent TCP port.
    pub port: u16,
    /// 1..=[`MAX_INFOHASHES`] info-hashes.
    pub info_hashes: Vec<[u8; 20]>,
    /// The sender's cookie, if it sent one.
    pub cookie: Option<String>,
}

/// Why a datagram is not a valid BT-SEARCH announce.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// Longer than the largest datagram accepted (its length).
    #[error("datagram of {0} bytes is larger than {MAX_DATAGRAM}")]
    TooLarge(usize),
    /// Not UTF-8 text.
    #[error("not text")]
    NotText,
    /// The first line is not the BT-SEARCH request line.
    #[error("does not start with \"BT-SEARCH * HTTP/1.1\"")]
    BadRequestLine,
    /// A header line without a colon.
    #[error("header line without ':'")]
    BadHeader,
    /// More header lines than the limit.
    #[error("more than {MAX_HEADERS} header lines")]
    TooManyHeaders,
    /// No `Port` header, or one that is not a port number.
    #[error("missing or invalid Port header")]
    BadPort,
    /// An `Infohash` header that is not 40 hex digits.
    #[error("invalid Infohash header (need 40 hex digits)")]
    BadInfohash,
    /// No `Infohash` header.
    #[error("no Infohash header")]
    NoInfohash,
    /// More `Infohash` headers than the limit.
    #[error("more than {MAX_INFOHASHES} Infohash headers")]
    TooManyInfohashes,
    /// A `cookie` header that is empty, too long or not printable ASCII.
    #[error("invalid cookie")]
    BadCookie,
    /// The headers do not end with an empty line.
    #[error("message not terminated by an empty line")]
    Unterminated,
}

/// Failures building or running LSD.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LsdError {
    /// An announce must carry 1 to [`MAX_INFOHASHES`] info-hashes.
    #[error("an announce needs 1 to {MAX_INFOHASHES} info-hashes, got {0}")]
    InfohashCount(usize),
    /// The cookie is empty, too long or not alphanumeric.
    #[error("cookie must be 1 to {MAX_COOKIE} letters or digits")]
    Cookie,
    /// The multicast socket of one family could not be opened.
    #[error("could not open the LSD socket for {family:?}")]
    Socket {
        /// IPv4 or IPv6.
        family: Family,
        /// Why.
        source: std::io::Error,
    },
    /// No LSD socket at all.
    #[error("neither the IPv4 nor the IPv6 LSD socket could be opened")]
    NoSocket,
}

impl Announce {
    /// The datagram for this announce.
    pub fn encode(&self, family: Family) -> Result<Vec<u8>, LsdError> {
        if self.info_hashes.is_empty() || self.info_hashes.len() > MAX_INFOHASHES {
            return Err(LsdError::InfohashCount(self.info_hashes.len()));
        }
        let mut s = format!(
            "BT-SEARCH * HTTP/1.1\r\nHost: {}\r\nPort: {}\r\n",
            family.host(),
            self.port
        );
        for h in &self.info_hashes {
            s.push_str("Infohash: ");
            s.push_str(&hex::encode(h));
            s.push_str("\r\n");
        }
        if let Some(c) = &self.cookie {
            if !valid_cookie(c) {
                return Err(LsdError::Cookie);
            }
            s.push_str("cookie: ");
            s.push_str(c);
            s.push_str("\r\n");
        }
        s.push_str("\r\n\r\n");
        Ok(s.into_bytes())
    }
}

fn valid_cookie(c: &str) -> bool {
    !c.is_empty() && c.len() <= MAX_COOKIE && c.bytes().all(|b| b.is_ascii_graphic())
}

/// Parse one datagram strictly and within fixed bounds.
pub fn parse(datagram: &[u8]) -> Result<Announce, ParseError> {
    if datagram.len() > MAX_DATAGRAM {
        return Err(ParseError::TooLarge(datagram.len()));
    }
    let text = std::str::from_utf8(datagram).map_err(|_| ParseError::NotText)?;
    // Only newline-terminated lines count; a trailing fragment is ignored.
    let mut lines = text
        .split_inclusive('\n')
        .filter_map(|l| l.strip_suffix('\n'))
        .map(|l| l.strip_suffix('\r').unwrap_or(l));
    if lines.next() != Some("BT-SEARCH * HTTP/1.1") {
        return Err(ParseError::BadRequestLine);
    }
    let mut port = None;
    let mut hashes: Vec<[u8; 20]> = Vec::new();
    let mut cookie = None;
    let mut terminated = false;
    for (n, line) in lines.enumerate() {
        if line.is_empty() {
            terminated = true;
            break;
        }
        if n >= MAX_HEADERS {
            return Err(ParseError::TooManyHeaders);
        }
        let (name, value) = line.split_once(':').ok_or(ParseError::BadHeader)?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("port") {
            let p: u16 = value.parse().map_err(|_| ParseError::BadPort)?;
            if p == 0 || port.is_some() {
                return Err(ParseError::BadPort);
            }
            port = Some(p);
        } else if name.eq_ignore_ascii_case("infohash") {
            let mut h = [0u8; 20];
            if value.len() != 40 {
                return Err(ParseError::BadInfohash);
            }
            hex::decode_to_slice(value, &mut h).map_err(|_| ParseError::BadInfohash)?;
            if hashes.len() >= MAX_INFOHASHES {
                return Err(ParseError::TooManyInfohashes);
            }
            if !hashes.contains(&h) {
                hashes.push(h);
            }
        } else if name.eq_ignore_ascii_case("cookie") {
            if !valid_cookie(value) {
                return Err(ParseError::BadCookie);
            }
            cookie = Some(value.to_owned());
        }
    }
    if !terminated {
        return Err(ParseError::Unterminated);
    }
    let port = port.ok_or(ParseError::BadPort)?;
    if hashes.is_empty() {
        return Err(ParseError::NoInfohash);
    }
    Ok(Announce {
        port,
        info_hashes: hashes,
        cookie,
    })
}

/// Allows one announce per torrent per `gap`.
#[derive(Debug)]
pub struct RateLimiter {
    gap: Duration,
    last: HashMap<[u8; 20], Instant>,
}

impl RateLimiter {
    /// A limiter allowing one announce per torrent per `gap`.
    pub fn new(gap: Duration) -> Self {
        RateLimiter {
            gap,
            last: HashMap::new(),
        }
    }
    /// May `hash` be announced at `now`? If so, records it.
    pub fn allow(&mut self, hash: &[u8; 20], now: Instant) -> bool {
        match self.last.get(hash) {
            Some(t) if now.saturating_duration_since(*t) < self.gap => false,
            _ => {
                self.last.insert(*hash, now);
                true
            }
        }
    }
    /// Forget a torrent (stopped sharing it).
    pub fn forget(&mut self, hash: &[u8; 20]) {
        self.last.remove(hash);
    }
}

/// A peer announced on the LAN for a torrent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PeerHint {
    /// The 20-byte handshake id of the torrent.
    pub info_hash: [u8; 20],
    /// Source address of the announce with its announced port.
    pub addr: SocketAddr,
}

/// Settings for [`Lsd::start`].
#[derive(Clone, Debug)]
pub struct LsdConfig {
    /// Our BitTorrent TCP port (sent in `Port:`).
    pub port: u16,
    /// Use the IPv4 group.
    pub ipv4: bool,
    /// Use the IPv6 group.
    pub ipv6: bool,
    /// Re-announce period.
    pub interval: Duration,
    /// Smallest gap between announces of one torrent.
    pub min_gap: Duration,
}

impl LsdConfig {
    /// Defaults for our TCP port: both families, 5 min / 1 min.
    pub fn new(port: u16) -> Self {
        LsdConfig {
            port,
            ipv4: true,
            ipv6: true,
            interval: REANNOUNCE_INTERVAL,
            min_gap: MIN_ANNOUNCE_GAP,
        }
    }
}

enum Cmd {
    Add([u8; 20]),
    Remove([u8; 20]),
}

/// A running LSD announcer/listener. Dropping it stops it.
pub struct Lsd {
    cmd: mpsc::UnboundedSender<Cmd>,
    cookie: String,
    task: JoinHandle<()>,
}

impl Drop for Lsd {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn open_v4() -> std::io::Result<UdpSocket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, LSD_PORT)).into())?;
    s.set_multicast_loop_v4(true)?;
    s.set_multicast_ttl_v4(1)?;
    // Join on the default multicast interface; if there is none (no
    // route), join on every IPv4 interface we have.
    if s.join_multicast_v4(&LSD_GROUP_V4, &Ipv4Addr::UNSPECIFIED)
        .is_err()
    {
        let mut joined = false;
        for ifa in if_addrs::get_if_addrs().unwrap_or_default() {
            if let std::net::IpAddr::V4(a) = ifa.ip() {
                if !ifa.is_loopback() && s.join_multicast_v4(&LSD_GROUP_V4, &a).is_ok() {
                    if !joined {
                        let _ = s.set_multicast_if_v4(&a);
                    }
                    joined = true;
                }
            }
        }
        if !joined {
            return Err(std::io::Error::other(
                "no interface could join the LSD group",
            ));
        }
    }
    s.set_nonblocking(true)?;
    UdpSocket::from_std(s.into())
}

fn open_v6() -> std::io::Result<UdpSocket> {
    let s = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_only_v6(true)?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, LSD_PORT)).into())?;
    s.set_multicast_loop_v6(true)?;
    s.set_multicast_hops_v6(1)?;
    s.join_multicast_v6(&LSD_GROUP_V6, 0)?;
    s.set_nonblocking(true)?;
    UdpSocket::from_std(s.into())
}

impl Lsd {
    /// Open the LSD sockets and start announcing/listening on the current
    /// tokio runtime. Hints are sent on `hints` without waiting: if the
    /// receiver is full, hints are dropped.
    pub fn start(cfg: LsdConfig, hints: mpsc::Sender<PeerHint>) -> Result<Lsd, LsdError> {
        let v4 = if cfg.ipv4 {
            match open_v4() {
                Ok(s) => Some(s),
                Err(source) if !cfg.ipv6 => {
                    return Err(LsdError::Socket {
                        family: Family::V4,
                        source,
                    })
                }
                Err(e) => {
                    tracing::warn!("LSD over IPv4 unavailable: {}", crate::ErrorChain(&e));
                    None
                }
            }
        } else {
            None
        };
        let v6 = if cfg.ipv6 {
            match open_v6() {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::debug!("LSD over IPv6 unavailable: {}", crate::ErrorChain(&e));
                    None
                }
            }
        } else {
            None
        };
        if v4.is_none() && v6.is_none() {
            return Err(LsdError::NoSocket);
        }
        let cookie = hex::encode(rand::random::<[u8; 8]>());
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(cfg, cookie.clone(), v4, v6, rx, hints));
        Ok(Lsd {
            cmd: tx,
            cookie,
            task,
        })
    }

    /// Start announcing a torrent (its 20-byte handshake id); the first
    /// announce goes out at once unless rate-limited.
    pub fn add(&self, info_hash: [u8; 20]) {
        let _ = self.cmd.send(Cmd::Add(info_hash));
    }

    /// Stop announcing a torrent.
    pub fn remove(&self, info_hash: [u8; 20]) {
        let _ = self.cmd.send(Cmd::Remove(info_hash));
    }

    /// Our cookie (announces carrying it are ignored).
    pub fn cookie(&self) -> &str {
        &self.cookie
    }
}

async fn recv_on(s: &Option<UdpSocket>, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
    match s {
        Some(s) => s.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

async fn run(
    cfg: LsdConfig,
    cookie: String,
    v4: Option<UdpSocket>,
    v6: Option<UdpSocket>,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
    hints: mpsc::Sender<PeerHint>,
) {
    let mut torrents: BTreeSet<[u8; 20]> = BTreeSet::new();
    let mut limiter = RateLimiter::new(cfg.min_gap);
    let mut filter = HintFilter::new(cfg.min_gap);
    let mut tick = tokio::time::interval(cfg.interval.max(Duration::from_secs(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate
                       // One extra byte so an over-long datagram is seen as such.
    let mut b4 = vec![0u8; MAX_DATAGRAM + 1];
    let mut b6 = vec![0u8; MAX_DATAGRAM + 1];
    loop {
        let due: Vec<[u8; 20]> = tokio::select! {
            cmd = cmds.recv() => match cmd {
                None => return,
                Some(Cmd::Add(h)) => { torrents.insert(h); vec![h] }
                Some(Cmd::Remove(h)) => { torrents.remove(&h); limiter.forget(&h); vec![] }
            },
            _ = tick.tick() => torrents.iter().copied().collect(),
            r = recv_on(&v4, &mut b4) => { on_datagram(r, &b4, &cookie, &mut filter, &hints); vec![] }
            r = recv_on(&v6, &mut b6) => { on_datagram(r, &b6, &cookie, &mut filter, &hints); vec![] }
        };
        let now = Instant::now();
        let due: Vec<[u8; 20]> = due.into_iter().filter(|h| limiter.allow(h, now)).collect();
        for chunk in due.chunks(MAX_INFOHASHES) {
            let a = Announce {
                port: cfg.port,
                info_hashes: chunk.to_vec(),
                cookie: Some(cookie.clone()),
            };
            if let (Some(s), Ok(msg)) = (&v4, a.encode(Family::V4)) {
                let to = SocketAddrV4::new(LSD_GROUP_V4, LSD_PORT);
                if let Err(e) = s.send_to(&msg, to).await {
                    tracing::debug!("LSD send (IPv4): {e}");
                }
            }
            if let (Some(s), Ok(msg)) = (&v6, a.encode(Family::V6)) {
                let to = SocketAddrV6::new(LSD_GROUP_V6, LSD_PORT, 0, 0);
                if let Err(e) = s.send_to(&msg, to).await {
                    tracing::debug!("LSD send (IPv6): {e}");
                }
            }
        }
    }
}

fn on_datagram(
    r: std::io::Result<(usize, SocketAddr)>,
    buf: &[u8],
    cookie: &str,
    filter: &mut HintFilter,
    hints: &mpsc::Sender<PeerHint>,
) {
    let Ok((n, src)) = r else { return };
    match parse(&buf[..n]) {
        Ok(a) if a.cookie.as_deref() == Some(cookie) => {}
        Ok(a) => {
            let now = Instant::now();
            for h in a.info_hashes {
                let hint = PeerHint {
                    info_hash: h,
                    addr: SocketAddr::new(src.ip(), a.port),
                };
                if filter.fresh(hint, now) {
                    let _ = hints.try_send(hint);
                }
            }
        }
        Err(e) => tracing::trace!("ignoring LSD datagram from {src}: {e}"),
    }
}

/// Passes each (info-hash, address) hint at most once per window, so a
/// chatty or hostile host cannot flood the session; remembers at most
/// [`HintFilter::CAPACITY`] hints (when full of unexpired ones, new hints
/// are dropped until entries expire).
#[derive(Debug)]
pub struct HintFilter {
    window: Duration,
    seen: HashMap<PeerHint, Instant>,
}

impl HintFilter {
    /// Most hints remembered.
    pub const CAPACITY: usize = 4096;

    /// A filter repeating a hint at most once per `window`.
    pub fn new(window: Duration) -> Self {
        HintFilter {
            window,
            seen: HashMap::new(),
        }
    }

    /// Should `hint`, heard at `now`, go to the session?
    pub fn fresh(&mut self, hint: PeerHint, now: Instant) -> bool {
        if let Some(t) = self.seen.get(&hint) {
            if now.saturating_duration_since(*t) < self.window {
                return false;
            }
        }
        if self.seen.len() >= Self::CAPACITY && !self.seen.contains_key(&hint) {
            let window = self.window;
            self.seen
                .retain(|_, t| now.saturating_duration_since(*t) < window);
            if self.seen.len() >= Self::CAPACITY {
                return false;
            }
        }
        self.seen.insert(hint, now);
        true
    }
}

/// Is this announce ours (same cookie)?
pub fn is_own(a: &Announce, our_cookie: &str) -> bool {
    a.cookie.as_deref() == Some(our_cookie)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const H1: [u8; 20] = [0xab; 20];
    const H2: [u8; 20] = [0x01; 20];

    #[test]
    fn format_is_bep14() {
        let a = Announce {
            port: 6881,
            info_hashes: vec![H1],
            cookie: Some("c00k1e".into()),
        };
        let m = String::from_utf8(a.encode(Family::V4).unwrap()).unwrap();
        assert_eq!(
            m,
            format!(
                "BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\nInfohash: {}\r\ncookie: c00k1e\r\n\r\n\r\n",
                "ab".repeat(20)
            )
        );
        let m6 = String::from_utf8(a.encode(Family::V6).unwrap()).unwrap();
        assert!(m6.contains("Host: [ff15::efc0:988f]:6771\r\n"));
        assert_eq!(parse(m.as_bytes()).unwrap(), a);
    }

    #[test]
    fn parses_libtorrent_style_and_several_hashes() {
        let m = format!(
            "BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nport: 51413\r\nINFOHASH: {}\r\nInfohash: {}\r\nX-Other: y\r\n\r\n\r\n",
            "AB".repeat(20),
            "01".repeat(20)
        );
        let a = parse(m.as_bytes()).unwrap();
        assert_eq!(a.port, 51413);
        assert_eq!(a.info_hashes, vec![H1, H2]);
        assert_eq!(a.cookie, None);
        let full = Announce {
            port: 1,
            info_hashes: vec![H1; MAX_INFOHASHES],
            cookie: Some("x".repeat(MAX_COOKIE)),
        };
        let enc = full.encode(Family::V6).unwrap();
        assert!(enc.len() <= MAX_DATAGRAM);
    }

    #[test]
    fn rejects_hostile_input() {
        let h = "ab".repeat(20);
        let cases: Vec<(String, ParseError)> = vec![
            ("GET / HTTP/1.1\r\n\r\n".into(), ParseError::BadRequestLine),
            (
                format!("BT-SEARCH * HTTP/1.1\r\nInfohash: {h}\r\n\r\n"),
                ParseError::BadPort,
            ),
            (
                format!("BT-SEARCH * HTTP/1.1\r\nPort: 0\r\nInfohash: {h}\r\n\r\n"),
                ParseError::BadPort,
            ),
            (
                format!("BT-SEARCH * HTTP/1.1\r\nPort: 70000\r\nInfohash: {h}\r\n\r\n"),
                ParseError::BadPort,
            ),
            (
                format!("BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nPort: 2\r\nInfohash: {h}\r\n\r\n"),
                ParseError::BadPort,
            ),
            (
                "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n\r\n".into(),
                ParseError::NoInfohash,
            ),
            (
                "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: zz\r\n\r\n".into(),
                ParseError::BadInfohash,
            ),
            (
                format!(
                    "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: {}\r\n\r\n",
                    "g".repeat(40)
                ),
                ParseError::BadInfohash,
            ),
            (
                format!("BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: {h}\r\n"),
                ParseError::Unterminated,
            ),
            (
                format!("BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: {h}\r\nnocolon\r\n\r\n"),
                ParseError::BadHeader,
            ),
            (
                format!("BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: {h}\r\ncookie: \x01\r\n\r\n"),
                ParseError::BadCookie,
            ),
        ];
        for (m, want) in cases {
            assert_eq!(parse(m.as_bytes()), Err(want), "{m:?}");
        }
        assert_eq!(parse(&[0xff, 0xfe]), Err(ParseError::NotText));
        assert_eq!(
            parse(&vec![b'a'; MAX_DATAGRAM + 1]),
            Err(ParseError::TooLarge(MAX_DATAGRAM + 1))
        );
        // too many distinct hashes
        let mut m = String::from("BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n");
        for i in 0..=MAX_INFOHASHES {
            m.push_str(&format!("Infohash: {:040x}\r\n", i));
        }
        m.push_str("\r\n");
        assert_eq!(parse(m.as_bytes()), Err(ParseError::TooManyInfohashes));
        // too many headers
        let mut m = String::from("BT-SEARCH * HTTP/1.1\r\n");
        for _ in 0..=MAX_HEADERS {
            m.push_str("a:b\r\n");
        }
        m.push_str("\r\n");
        assert_eq!(parse(m.as_bytes()), Err(ParseError::TooManyHeaders));
    }

    #[test]
    fn encode_bounds() {
        let a = Announce {
            port: 1,
            info_hashes: vec![],
            cookie: None,
        };
        assert!(matches!(
            a.encode(Family::V4),
            Err(LsdError::InfohashCount(0))
        ));
        let a = Announce {
            port: 1,
            info_hashes: vec![H1],
            cookie: Some("a b".into()),
        };
        assert!(matches!(a.encode(Family::V4), Err(LsdError::Cookie)));
    }

    #[test]
    fn own_cookie_is_recognised() {
        let a = Announce {
            port: 1,
            info_hashes: vec![H1],
            cookie: Some("mine".into()),
        };
        let b = parse(&a.encode(Family::V4).unwrap()).unwrap();
        assert!(is_own(&b, "mine"));
        assert!(!is_own(&b, "theirs"));
        let (tx, mut rx) = mpsc::channel(4);
        let src: SocketAddr = "10.0.0.5:6771".parse().unwrap();
        let buf = a.encode(Family::V4).unwrap();
        let mut f = HintFilter::new(Duration::from_secs(60));
        on_datagram(Ok((buf.len(), src)), &buf, "mine", &mut f, &tx);
        assert!(rx.try_recv().is_err());
        on_datagram(Ok((buf.len(), src)), &buf, "other", &mut f, &tx);
        // the same hint again is filtered
        on_datagram(Ok((buf.len(), src)), &buf, "other", &mut f, &tx);
        assert_eq!(
            rx.try_recv().unwrap(),
            PeerHint {
                info_hash: H1,
                addr: "10.0.0.5:1".parse().unwrap()
            }
        );
        assert!(rx.try_recv().is_err(), "repeated hint not filtered");
    }

    #[test]
    fn hint_filter_window_and_capacity() {
        let mut f = HintFilter::new(Duration::from_secs(60));
        let t0 = Instant::now();
        let hint = |i: u32| PeerHint {
            info_hash: H1,
            addr: SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 1)),
        };
        assert!(f.fresh(hint(0), t0));
        assert!(!f.fresh(hint(0), t0 + Duration::from_secs(59)));
        assert!(f.fresh(hint(0), t0 + Duration::from_secs(60)));
        for i in 1..HintFilter::CAPACITY as u32 {
            assert!(f.fresh(hint(i), t0 + Duration::from_secs(60)));
        }
        // full of live entries: new ones are dropped, memory stays bounded
        assert!(!f.fresh(hint(70_000), t0 + Duration::from_secs(61)));
        assert_eq!(f.seen.len(), HintFilter::CAPACITY);
        // once they expire, room is made again
        assert!(f.fresh(hint(70_000), t0 + Duration::from_secs(200)));
        assert_eq!(f.seen.len(), 1);
    }

    #[test]
    fn rate_limit() {
        let mut r = RateLimiter::new(Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(r.allow(&H1, t0));
        assert!(!r.allow(&H1, t0 + Duration::from_secs(59)));
        assert!(r.allow(&H2, t0 + Duration::from_secs(1)));
        assert!(r.allow(&H1, t0 + Duration::from_secs(60)));
        assert!(!r.allow(&H1, t0 + Duration::from_secs(61)));
        r.forget(&H1);
        assert!(r.allow(&H1, t0 + Duration::from_secs(62)));
    }

    proptest! {
        #[test]
        fn parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..1600)) {
            let _ = parse(&data);
        }

        #[test]
        fn parse_never_panics_on_near_valid(lines in proptest::collection::vec("[A-Za-z: 0-9a-f]{0,60}", 0..50)) {
            let mut m = String::from("BT-SEARCH * HTTP/1.1\r\n");
            for l in lines { m.push_str(&l); m.push_str("\r\n"); }
            if let Ok(a) = parse(m.as_bytes()) {
                prop_assert!(!a.info_hashes.is_empty() && a.info_hashes.len() <= MAX_INFOHASHES);
                prop_assert!(a.port != 0);
            }
        }

        #[test]
        fn round_trip(port in 1u16.., n in 1usize..=MAX_INFOHASHES, seed in any::<u8>()) {
            let hashes: Vec<[u8; 20]> = (0..n).map(|i| [seed.wrapping_add(i as u8); 20]).collect();
            let a = Announce { port, info_hashes: hashes, cookie: Some("abc".into()) };
            prop_assert_eq!(parse(&a.encode(Family::V4).unwrap()).unwrap(), a);
        }
    }
}
