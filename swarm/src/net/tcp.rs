//! TCP transport: the standard BitTorrent wire protocol, for interop with
//! every other client.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

use super::{NetError, PeerConn};
use crate::proto::TransportKind;

/// How long a TCP dial may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A TCP listening socket.
#[derive(Debug)]
pub struct TcpTransport {
    listener: TcpListener,
}

impl TcpTransport {
    /// Listens at `addr` (port 0: any free port).
    pub async fn bind(addr: SocketAddr) -> Result<Self, NetError> {
        let listener = TcpListener::bind(addr).await.map_err(|e| NetError::Bind {
            addr,
            transport: "TCP",
            source: e,
        })?;
        Ok(TcpTransport { listener })
    }
    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr, NetError> {
        self.listener.local_addr().map_err(NetError::Io)
    }
    /// Next incoming connection.
    pub async fn accept(&self) -> Result<PeerConn, NetError> {
        let (s, addr) = self.listener.accept().await.map_err(NetError::Io)?;
        Ok(wrap(s, addr))
    }
}

fn wrap(s: TcpStream, addr: SocketAddr) -> PeerConn {
    let _ = s.set_nodelay(true);
    let (r, w) = s.into_split();
    PeerConn {
        reader: Box::new(r),
        writer: Box::new(w),
        addr,
        transport: TransportKind::Tcp,
        fingerprint: None,
        quic: None,
    }
}

/// Dials `addr` over TCP (bounded by [`CONNECT_TIMEOUT`]).
pub async fn connect(addr: SocketAddr) -> Result<PeerConn, NetError> {
    let s = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| NetError::Timeout { addr })?
        .map_err(|e| NetError::Connect { addr, source: e })?;
    Ok(wrap(s, addr))
}
