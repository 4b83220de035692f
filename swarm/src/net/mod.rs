//! Transports: TCP and QUIC, and what both share.
//!
//! Both carry the same byte stream: the BEP 3 handshake then
//! length-prefixed messages. A [`PeerConn`] is a reader half and a writer
//! half plus where it came from.
//!
//! # Which transport is dialled (the rule)
//! An address given as `quic://IP:PORT` (or added with
//! [`PeerAddr::Quic`]) is known to be a swarm peer and is dialled over
//! QUIC; every other address (`IP:PORT`, `tcp://IP:PORT`, tracker and
//! discovery results) is dialled over TCP. If the QUIC dial fails and
//! the same address was also given as TCP, the TCP dial still happens
//! independently. Incoming connections are accepted on both.
//!
//! Two swarm peers prefer QUIC when both offer it: a TCP connection to a
//! peer that advertises `swarm_quic` in its extension handshake is moved
//! to QUIC, and a peer known by both addresses (mDNS) is dialled over QUIC
//! first with TCP as the fallback (see [`crate::session::driver`]).

pub mod cert;
pub mod quic;
pub mod tcp;

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

use crate::proto::TransportKind;
use crate::wire::handshake::{decode_handshake, HANDSHAKE_LEN};
use crate::wire::Handshake;

pub use cert::{Fingerprint, Identity};
pub use quic::{QuicEndpoint, QuicIncoming};
pub use tcp::TcpTransport;

/// Errors of the transports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// A listener could not bind.
    #[error("cannot listen on {addr} ({transport})")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// `"TCP"` or `"QUIC"`.
        transport: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Dialling a peer failed (refused, unreachable...).
    #[error("connecting to {addr}")]
    Connect {
        /// The address dialled.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Dialling a peer took longer than the connect timeout.
    #[error("connecting to {addr}: timed out")]
    Timeout {
        /// The address dialled.
        addr: SocketAddr,
    },
    /// A QUIC connection or stream failed.
    #[error("QUIC with {addr}: {msg}")]
    Quic {
        /// The peer's UDP address.
        addr: SocketAddr,
        /// What quinn reported.
        msg: String,
    },
    /// The peer's first bytes were not a BitTorrent handshake.
    #[error("{addr} did not send a valid BitTorrent handshake")]
    BadHandshake {
        /// The peer.
        addr: SocketAddr,
    },
    /// Making the QUIC identity failed.
    #[error("TLS setup")]
    Cert(#[from] cert::CertError),
    /// Another socket error.
    #[error(transparent)]
    Io(std::io::Error),
}

/// One open peer connection, before or after the handshake.
pub struct PeerConn {
    /// The receiving half.
    pub reader: Box<dyn AsyncRead + Send + Unpin>,
    /// The sending half.
    pub writer: Box<dyn AsyncWrite + Send + Unpin>,
    /// The remote address.
    pub addr: SocketAddr,
    /// TCP or QUIC.
    pub transport: TransportKind,
    /// QUIC: the peer's certificate fingerprint.
    pub fingerprint: Option<Fingerprint>,
    /// QUIC: the connection handle (closing it closes the stream).
    pub quic: Option<quinn::Connection>,
}

impl fmt::Debug for PeerConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerConn")
            .field("addr", &self.addr)
            .field("transport", &self.transport)
            .field("fingerprint", &self.fingerprint.map(hex::encode))
            .finish_non_exhaustive()
    }
}

/// Reads the peer's 68-byte handshake from an incoming connection (to
/// route it by info-hash), within `timeout`.
pub async fn read_handshake(conn: &mut PeerConn, timeout: Duration) -> Result<Handshake, NetError> {
    let addr = conn.addr;
    let mut buf = [0u8; HANDSHAKE_LEN];
    let mut got = 0;
    let fut = async {
        while got < HANDSHAKE_LEN {
            let n = conn
                .reader
                .read(&mut buf[got..])
                .await
                .map_err(|_| NetError::BadHandshake { addr })?;
            if n == 0 {
                return Err(NetError::BadHandshake { addr });
            }
            got += n;
            // Fail early on a wrong protocol string.
            decode_handshake(&buf[..got]).map_err(|_| NetError::BadHandshake { addr })?;
        }
        match decode_handshake(&buf) {
            Ok(Some((hs, _))) => Ok(hs),
            _ => Err(NetError::BadHandshake { addr }),
        }
    };
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| NetError::BadHandshake { addr })?
}

/// A peer address with the transport to dial it over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PeerAddr {
    /// Dial over TCP (any BitTorrent client).
    Tcp(SocketAddr),
    /// Dial over QUIC (swarm peers; the UDP address).
    Quic(SocketAddr),
}

impl PeerAddr {
    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        match *self {
            PeerAddr::Tcp(a) | PeerAddr::Quic(a) => a,
        }
    }
}

impl From<SocketAddr> for PeerAddr {
    fn from(a: SocketAddr) -> Self {
        PeerAddr::Tcp(a)
    }
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerAddr::Tcp(a) => write!(f, "{a}"),
            PeerAddr::Quic(a) => write!(f, "quic://{a}"),
        }
    }
}

/// A peer address that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid peer address {0:?} (expected IP:PORT, tcp://IP:PORT or quic://IP:PORT)")]
pub struct BadPeerAddr(pub String);

impl FromStr for PeerAddr {
    type Err = BadPeerAddr;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadPeerAddr(s.to_string());
        if let Some(rest) = s.strip_prefix("quic://") {
            rest.parse().map(PeerAddr::Quic).map_err(|_| bad())
        } else {
            let rest = s.strip_prefix("tcp://").unwrap_or(s);
            rest.parse().map(PeerAddr::Tcp).map_err(|_| bad())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tokio::io::AsyncWriteExt;

    #[test]
    fn peer_addr_parsing() {
        let a: SocketAddr = "127.0.0.1:6881".parse().unwrap();
        assert_eq!("127.0.0.1:6881".parse::<PeerAddr>(), Ok(PeerAddr::Tcp(a)));
        assert_eq!(
            "tcp://127.0.0.1:6881".parse::<PeerAddr>(),
            Ok(PeerAddr::Tcp(a))
        );
        assert_eq!(
            "quic://127.0.0.1:6881".parse::<PeerAddr>(),
            Ok(PeerAddr::Quic(a))
        );
        assert_eq!(
            "quic://[::1]:5".parse::<PeerAddr>().unwrap().addr().port(),
            5
        );
        assert!("quic://nope".parse::<PeerAddr>().is_err());
        assert!("http://127.0.0.1:1".parse::<PeerAddr>().is_err());
        assert_eq!(PeerAddr::Quic(a).to_string(), "quic://127.0.0.1:6881");
    }

    fn hs(b: u8) -> Handshake {
        Handshake {
            reserved: Default::default(),
            info_hash: [b; 20],
            peer_id: [b + 1; 20],
        }
    }

    #[tokio::test]
    async fn tcp_handshake_roundtrip_and_garbage_refused() {
        let l = TcpTransport::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let addr = l.local_addr().unwrap();
        let t = tokio::spawn(async move {
            let mut c = tcp::connect(addr).await.unwrap();
            // Dribble the handshake in two parts.
            let b = hs(7).to_bytes();
            c.writer.write_all(&b[..10]).await.unwrap();
            c.writer.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
            c.writer.write_all(&b[10..]).await.unwrap();
            let mut g = tcp::connect(addr).await.unwrap();
            g.writer.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
            (c, g)
        });
        let mut a = l.accept().await.unwrap();
        assert_eq!(
            read_handshake(&mut a, Duration::from_secs(5))
                .await
                .unwrap(),
            hs(7)
        );
        let mut b = l.accept().await.unwrap();
        assert!(matches!(
            read_handshake(&mut b, Duration::from_secs(5)).await,
            Err(NetError::BadHandshake { .. })
        ));
        let _keep = t.await.unwrap();
    }

    #[tokio::test]
    async fn quic_stream_carries_bytes_and_exposes_fingerprints() {
        let ida = Arc::new(Identity::generate().unwrap());
        let idb = Arc::new(Identity::generate().unwrap());
        let (fa, fb) = (ida.fingerprint(), idb.fingerprint());
        let lo = "127.0.0.1:0".parse().unwrap();
        let a = QuicEndpoint::bind(lo, ida).unwrap();
        let b = QuicEndpoint::bind(lo, idb).unwrap();
        let baddr = b.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let mut c = b.accept().await.unwrap().accept().await.unwrap();
            let h = read_handshake(&mut c, Duration::from_secs(5))
                .await
                .unwrap();
            let mut rest = vec![0u8; 100_000];
            c.reader.read_exact(&mut rest).await.unwrap();
            c.writer.write_all(b"pong").await.unwrap();
            c.writer.flush().await.unwrap();
            (h, rest, c.fingerprint, b, c)
        });
        let mut c = a.connect(baddr, Some(fb)).await.unwrap();
        assert_eq!(c.fingerprint, Some(fb));
        c.writer.write_all(&hs(3).to_bytes()).await.unwrap();
        let payload: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
        c.writer.write_all(&payload).await.unwrap();
        let mut pong = [0u8; 4];
        c.reader.read_exact(&mut pong).await.unwrap();
        assert_eq!(&pong, b"pong");
        let (h, rest, fp, b, _c) = server.await.unwrap();
        assert_eq!(h, hs(3));
        assert_eq!(rest, payload);
        assert_eq!(fp, Some(fa));
        // A wrong pin is refused.
        let acceptor = tokio::spawn(async move {
            let r = match b.accept().await {
                Some(i) => Some(i.accept().await.is_err()),
                None => None,
            };
            (r, b)
        });
        let wrong = [9u8; 32];
        let err = a.connect(baddr, Some(wrong)).await.unwrap_err();
        let (server_failed, _b) = acceptor.await.unwrap();
        assert_eq!(server_failed, Some(true));
        assert!(err.to_string().contains("QUIC"), "{err}");
    }
}
