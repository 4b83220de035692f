//! Announcing a torrent to its trackers (HTTP and UDP) and feeding the
//! peers they return to the driver.
//!
//! One task per torrent with trackers. The tiers (BEP 12, see
//! [`TrackerTiers`]) are shuffled once; each round tries the trackers in
//! tier order until one answers, which moves to the front of its tier. The
//! next regular announce follows that tracker's `interval` (clamped to
//! 30 s .. 1 h, and never below `min interval`); after a round where every
//! tracker failed, it retries after [`RETRY`]. `started` is sent first,
//! `completed` once when the download completes; `stopped` is sent
//! best-effort by [`stop`](Announcer::stop) to the tracker that last
//! answered.
//!
//! The port announced is the one the session's TCP listener is bound to
//! (its real port when it was asked for port 0), never the QUIC one: other
//! clients dial trackers' peers over TCP.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::driver::Cmd;
use super::Progress;
use crate::net::PeerAddr;
use crate::tracker::{AnnounceOptions, AnnounceRequest, Client, Event, TrackerTiers};

/// Wait after a round where no tracker answered.
pub const RETRY: Duration = Duration::from_secs(60);

/// A running announce task.
pub(crate) struct Announcer {
    task: JoinHandle<()>,
    /// The tracker that answered last: it gets `stopped`.
    last: Arc<Mutex<Option<String>>>,
    opts: AnnounceOptions,
    req: AnnounceRequest,
    progress: watch::Receiver<Progress>,
}

fn request(base: &AnnounceRequest, p: &Progress, piece_len: u64, event: Event) -> AnnounceRequest {
    let left = if p.has_metadata {
        (p.num_pieces.saturating_sub(p.have_pieces) as u64).saturating_mul(piece_len)
    } else {
        // Unknown until the metadata arrives; any non-zero value says "leecher".
        u64::from(u32::MAX)
    };
    AnnounceRequest {
        uploaded: p.uploaded,
        downloaded: p.downloaded,
        left,
        event,
        ..base.clone()
    }
}

impl Announcer {
    /// Starts announcing `info_hash` (the wire id) on `port`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn start(
        tiers: Vec<Vec<String>>,
        opts: AnnounceOptions,
        info_hash: [u8; 20],
        peer_id: [u8; 20],
        port: u16,
        piece_len: u64,
        progress: watch::Receiver<Progress>,
        cmds: mpsc::Sender<Cmd>,
    ) -> Self {
        let base = AnnounceRequest {
            info_hash,
            peer_id,
            port,
            uploaded: 0,
            downloaded: 0,
            left: 0,
            event: Event::Started,
            numwant: Some(50),
        };
        let last: Arc<Mutex<Option<String>>> = Arc::default();
        let (b, mut pw, last2, o) = (base.clone(), progress.clone(), last.clone(), opts.clone());
        let task = tokio::spawn(async move {
            let mut tiers = TrackerTiers::new(tiers, &mut rand::thread_rng());
            let mut client = Client::new(o);
            let mut event = Event::Started;
            let mut was_complete = pw.borrow().complete;
            loop {
                let p = pw.borrow().clone();
                let mut wait = RETRY;
                for url in tiers.in_order() {
                    match client
                        .announce(&url, &request(&b, &p, piece_len, event))
                        .await
                    {
                        Ok(r) => {
                            tiers.answered(&url);
                            let peers: Vec<PeerAddr> =
                                r.peers.into_iter().map(PeerAddr::Tcp).collect();
                            for a in peers {
                                if cmds.send(Cmd::AddPeer(a)).await.is_err() {
                                    return;
                                }
                            }
                            let min = r.min_interval.unwrap_or(30).max(30);
                            wait = Duration::from_secs(u64::from(r.interval.clamp(min, 3600)));
                            event = Event::None;
                            *super::lock(&last2) = Some(url);
                            break;
                        }
                        Err(e) => tracing::debug!("announce to {url}: {}", crate::ErrorChain(&e)),
                    }
                }
                // Sleep until the interval passes, or announce `completed`
                // as soon as the download completes.
                let sleep = tokio::time::sleep(wait);
                tokio::pin!(sleep);
                loop {
                    tokio::select! {
                        _ = &mut sleep => break,
                        r = pw.changed() => {
                            if r.is_err() {
                                return;
                            }
                            let c = pw.borrow().complete;
                            if c && !was_complete {
                                was_complete = true;
                                event = Event::Completed;
                                break;
                            }
                        }
                    }
                }
            }
        });
        Announcer {
            task,
            last,
            opts,
            req: base,
            progress,
        }
    }

    /// Stops the task and sends `stopped` (at most a couple of seconds).
    pub(crate) async fn stop(self, piece_len: u64) {
        self.task.abort();
        let p = self.progress.borrow().clone();
        let req = request(&self.req, &p, piece_len, Event::Stopped);
        let last = super::lock(&self.last).take();
        if let Some(url) = last {
            let mut client = Client::new(self.opts);
            let _ = tokio::time::timeout(Duration::from_secs(2), client.announce(&url, &req)).await;
        }
    }
}
