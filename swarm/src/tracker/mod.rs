//! Tracker clients: HTTP (BEP 3, compact peers BEP 23, IPv6 peers BEP 7,
//! in [`http`]) and UDP (BEP 15, in [`udp`]), multi-tracker
//! tiers (BEP 12, in [`tiers`]), and small in-memory tracker servers for
//! tests (`server` and `udp_server`, with the `testkit` feature).
//!
//! [`Client`] announces to a tracker URL of either scheme and keeps what a
//! UDP tracker needs between announces (its connection id, the `key`).
//! [`announce`] and [`announce_with`] are one-off announces.
//! Each module documents its wire format and bounds.

pub mod http;
pub mod tiers;
pub mod udp;

#[cfg(any(test, feature = "testkit"))]
pub mod server;
#[cfg(any(test, feature = "testkit"))]
pub mod udp_server;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use piece_core::bencode::BencodeError;

pub use http::{parse_http, parse_response, url_encode, LIMITS, MAX_HEAD};
pub use tiers::TrackerTiers;
pub use udp::{UdpError, UdpOptions};

/// The announce event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Event {
    /// A regular re-announce.
    #[default]
    None,
    /// The first announce of a torrent.
    Started,
    /// The torrent is being removed or the client is quitting.
    Stopped,
    /// The download has just finished.
    Completed,
}

impl Event {
    /// The `event=` value, if any.
    pub fn as_str(self) -> Option<&'static str> {
        match self {
            Event::None => None,
            Event::Started => Some("started"),
            Event::Stopped => Some("stopped"),
            Event::Completed => Some("completed"),
        }
    }
}

/// What we tell the tracker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnounceRequest {
    /// v1 info-hash, or a v2 one truncated to 20 bytes.
    pub info_hash: [u8; 20],
    /// Our peer id.
    pub peer_id: [u8; 20],
    /// Port we accept peer connections on.
    pub port: u16,
    /// Bytes uploaded since the `started` announce.
    pub uploaded: u64,
    /// Bytes downloaded since the `started` announce.
    pub downloaded: u64,
    /// Bytes still missing.
    pub left: u64,
    /// Why we announce now.
    pub event: Event,
    /// How many peers we would like (tracker default if `None`).
    pub numwant: Option<u32>,
}

/// What the tracker answered.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AnnounceResponse {
    /// Seconds until the next regular announce.
    pub interval: u32,
    /// Seconds the tracker wants between announces at least, if it says.
    pub min_interval: Option<u32>,
    /// Seeds, if reported.
    pub complete: Option<u32>,
    /// Leechers, if reported.
    pub incomplete: Option<u32>,
    /// A message the tracker wants shown, if any.
    pub warning: Option<String>,
    /// IPv4 and IPv6 peers, in the tracker's order.
    pub peers: Vec<SocketAddr>,
}

/// Why an announce failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrackerError {
    /// A URL scheme other than `http://` and `udp://`.
    #[error("tracker URL {0:?} is not supported: only http:// and udp:// trackers are (https needs TLS, which this client does not do)")]
    UnsupportedScheme(String),
    /// A URL that does not parse.
    #[error("tracker URL {0:?} is malformed")]
    BadUrl(String),
    /// Name resolution of the tracker's host failed.
    #[error("could not resolve tracker host {host:?}")]
    Resolve {
        /// The host name.
        host: String,
        /// The resolver's error.
        source: std::io::Error,
    },
    /// The TCP connection to the tracker failed.
    #[error("could not connect to tracker at {addr}")]
    Connect {
        /// The tracker's address.
        addr: SocketAddr,
        /// The socket error.
        source: std::io::Error,
    },
    /// Sending or receiving failed.
    #[error("tracker connection failed")]
    Io(#[from] std::io::Error),
    /// No answer within the time allowed.
    #[error("tracker did not answer within {0:?}")]
    Timeout(Duration),
    /// The HTTP response head is larger than the limit.
    #[error("tracker response head is larger than {MAX_HEAD} bytes")]
    HeadTooLarge,
    /// The HTTP response body is larger than the limit (the limit).
    #[error("tracker response is larger than the limit of {0} bytes")]
    ResponseTooLarge(usize),
    /// The response is not valid HTTP (what was wrong).
    #[error("tracker sent a malformed HTTP response: {0}")]
    BadHttp(String),
    /// An HTTP status other than 200.
    #[error("tracker answered HTTP {code} {reason}")]
    HttpStatus {
        /// The status code.
        code: u16,
        /// The reason phrase.
        reason: String,
    },
    /// The body is not valid bencode.
    #[error("tracker sent a malformed bencoded answer")]
    BadBencode(#[from] BencodeError),
    /// The body is not a bencoded dictionary.
    #[error("tracker answer is not a dictionary")]
    NotADict,
    /// A field is missing or of the wrong type (its name).
    #[error("tracker answer is missing or has a bad {0:?} field")]
    BadField(&'static str),
    /// The tracker refused (its `failure reason`).
    #[error("tracker refused the announce: {0}")]
    Failure(String),
    /// A UDP tracker never answered.
    #[error("UDP tracker did not answer after {attempts} attempts")]
    UdpTimeout {
        /// Datagrams sent for the request that went unanswered.
        attempts: u32,
    },
    /// A UDP tracker's answer does not parse.
    #[error("UDP tracker sent a malformed answer")]
    BadUdp(#[from] UdpError),
}

/// Limits of one announce.
#[derive(Clone, Debug)]
pub struct AnnounceOptions {
    /// HTTP: for the whole exchange (connect, send, receive). UDP trackers
    /// are bounded by [`UdpOptions`] instead.
    pub timeout: Duration,
    /// HTTP: largest body accepted.
    pub max_response: usize,
    /// UDP: retransmission and connection-id settings.
    pub udp: UdpOptions,
}

impl Default for AnnounceOptions {
    fn default() -> Self {
        AnnounceOptions {
            timeout: Duration::from_secs(15),
            max_response: 1 << 20,
            udp: UdpOptions::default(),
        }
    }
}

/// Announces to a tracker (`http://` or `udp://`) with the default
/// [`AnnounceOptions`].
pub async fn announce(url: &str, req: &AnnounceRequest) -> Result<AnnounceResponse, TrackerError> {
    announce_with(url, req, &AnnounceOptions::default()).await
}

/// Announces once to a tracker (`http://` or `udp://`).
pub async fn announce_with(
    url: &str,
    req: &AnnounceRequest,
    opts: &AnnounceOptions,
) -> Result<AnnounceResponse, TrackerError> {
    Client::new(opts.clone()).announce(url, req).await
}

/// Announces to trackers of both schemes, keeping each UDP tracker's
/// socket and connection id (reused until [`UdpOptions::connection_ttl`]
/// passes) and one random `key` for all of them.
#[derive(Debug)]
pub struct Client {
    opts: AnnounceOptions,
    key: u32,
    udp: HashMap<String, udp::Session>,
}

impl Client {
    /// A client with these limits.
    pub fn new(opts: AnnounceOptions) -> Self {
        Client {
            opts,
            key: rand::random(),
            udp: HashMap::new(),
        }
    }

    /// Announces to `url`.
    pub async fn announce(
        &mut self,
        url: &str,
        req: &AnnounceRequest,
    ) -> Result<AnnounceResponse, TrackerError> {
        if !is_udp(url) {
            return http::announce(url, req, &self.opts).await;
        }
        let key = self.key;
        let q = udp::Query::Announce {
            req: req.clone(),
            key,
        };
        match self.udp(url, q).await? {
            udp::Answer::Announce(r) => Ok(r),
            udp::Answer::Scrape(_) => Err(mismatch()),
        }
    }

    /// Asks a UDP tracker for the swarm sizes of up to
    /// [`udp::MAX_SCRAPE`] info-hashes, in their order.
    pub async fn scrape_udp(
        &mut self,
        url: &str,
        info_hashes: &[[u8; 20]],
    ) -> Result<Vec<udp::ScrapeStats>, TrackerError> {
        match self
            .udp(url, udp::Query::Scrape(info_hashes.to_vec()))
            .await?
        {
            udp::Answer::Scrape(s) => Ok(s),
            udp::Answer::Announce(_) => Err(mismatch()),
        }
    }

    async fn udp(&mut self, url: &str, q: udp::Query) -> Result<udp::Answer, TrackerError> {
        let cached = self.udp.remove(url);
        let (kept, result) = udp::exchange(url, q, cached, &self.opts.udp).await;
        if let Some(s) = kept {
            self.udp.insert(url.to_string(), s);
        }
        result
    }
}

/// The exchange checks that the answer's action is the query's; this is
/// the error should that ever not hold.
fn mismatch() -> TrackerError {
    TrackerError::BadUdp(UdpError::UnknownAction(u32::MAX))
}

fn is_udp(url: &str) -> bool {
    url.split_once("://")
        .is_some_and(|(s, _)| s.eq_ignore_ascii_case("udp"))
}
