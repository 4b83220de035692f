//! Connections of the web page: bounded in number, in time and per
//! address, so that slow or idle clients cannot take the page (or the
//! file descriptors the BitTorrent side needs) away from everyone else.
//!
//! - At most [`ConnLimits::max_connections`] are open at once; beyond that
//!   the listener stops accepting and new clients wait in the kernel's
//!   backlog (holding no descriptor of ours) until a slot frees.
//! - At most [`ConnLimits::per_address`] from one IP address; more are
//!   closed as soon as they are accepted.
//! - A request's headers must arrive within [`ConnLimits::header_timeout`],
//!   counted from the moment the server waits for them, which includes
//!   the idle time of a kept-alive connection between two requests
//!   (hyper's `header_read_timeout`, which starts whenever a connection
//!   waits for a request head).
//! - A connection that moves no byte either way for
//!   [`ConnLimits::stall_timeout`] (a client that stopped reading its
//!   download) is closed.
//! - `TCP_NODELAY` is set: a response's last segment leaves at once instead
//!   of waiting for the client's delayed ACK (Nagle's algorithm), which
//!   otherwise costs up to 40 ms per small file on a kept-alive connection.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// Bounds on the web page's connections (see the module docs).
#[derive(Clone, Debug)]
pub struct ConnLimits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// Most connections from one IP address.
    pub per_address: usize,
    /// Time to send a request's headers (and to start the next request on
    /// a kept-alive connection).
    pub header_timeout: Duration,
    /// Time a connection may move no byte at all.
    pub stall_timeout: Duration,
}

impl ConnLimits {
    /// `max_connections` at once, a quarter of them (at least 4) per
    /// address, 10 s for headers or idling, 60 s without progress.
    pub fn new(max_connections: usize) -> ConnLimits {
        let max_connections = max_connections.max(1);
        ConnLimits {
            max_connections,
            per_address: (max_connections / 4).max(4).min(max_connections),
            header_timeout: Duration::from_secs(10),
            stall_timeout: Duration::from_secs(60),
        }
    }
}

impl Default for ConnLimits {
    fn default() -> ConnLimits {
        ConnLimits::new(crate::config::DEFAULT_WEB_CONNECTIONS)
    }
}

/// Open connections per address.
#[derive(Default)]
struct PerAddress(Mutex<HashMap<IpAddr, usize>>);

/// One connection counted in [`PerAddress`]; uncounted when dropped.
struct AddressSlot {
    table: Arc<PerAddress>,
    ip: IpAddr,
}

impl PerAddress {
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<AddressSlot> {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = t.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(AddressSlot {
            table: self.clone(),
            ip,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut t = self.table.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = t.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                t.remove(&self.ip);
            }
        }
    }
}

/// Serves `app` on `listener` within `limits` until the task is dropped or
/// aborted. Handlers see the peer address as [`ConnectInfo`].
pub(super) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let per_address = Arc::new(PerAddress::default());
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let http = Arc::new(http);
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return Ok(());
        };
        let (tcp, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // Out of descriptors, or a connection that died in the
                // backlog: wait a little rather than spin.
                tracing::debug!("web: accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(from) = per_address.take(peer.ip(), limits.per_address) else {
            tracing::debug!("web: {peer}: too many connections from this address");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let svc = app
            .clone()
            .map_request(move |mut req: axum::extract::Request| {
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                req
            });
        let http = http.clone();
        let stall = limits.stall_timeout;
        tokio::spawn(async move {
            let (io, moved) = Watched::new(tcp);
            let conn = http.serve_connection(
                TokioIo::new(io),
                TowerToHyperService::new(svc.map_request(
                    |r: hyper::Request<hyper::body::Incoming>| r.map(axum::body::Body::new),
                )),
            );
            tokio::select! {
                r = conn => if let Err(e) = r {
                    tracing::debug!("web: {peer}: {e}");
                },
                () = stalled(moved, stall) => tracing::debug!("web: {peer}: no progress for {stall:?}; closed"),
            }
            drop((slot, from));
        });
    }
}

/// The time of a connection's last byte, in milliseconds since `EPOCH`.
type Moved = Arc<AtomicU64>;

fn since_epoch() -> u64 {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// Resolves once no byte has moved for `limit`.
async fn stalled(moved: Moved, limit: Duration) {
    let limit_ms = limit.as_millis() as u64;
    loop {
        let idle = since_epoch().saturating_sub(moved.load(Ordering::Relaxed));
        if idle >= limit_ms {
            return;
        }
        tokio::time::sleep(Duration::from_millis(limit_ms - idle + 10)).await;
    }
}

/// A socket that notes when a byte last moved.
struct Watched {
    tcp: TcpStream,
    moved: Moved,
}

impl Watched {
    fn new(tcp: TcpStream) -> (Watched, Moved) {
        let moved = Arc::new(AtomicU64::new(since_epoch()));
        (
            Watched {
                tcp,
                moved: moved.clone(),
            },
            moved,
        )
    }

    fn note(&self, n: usize) {
        if n > 0 {
            self.moved.store(since_epoch(), Ordering::Relaxed);
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.tcp).poll_read(cx, buf);
        self.note(buf.filled().len() - before);
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.tcp).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            self.note(n);
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = r {
            self.note(n);
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}
