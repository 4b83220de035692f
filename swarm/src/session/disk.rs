//! The disk pool: runs the protocol core's [`DiskJob`]s off the async
//! threads.
//!
//! One pool per process, [`POOL_THREADS`] threads at most (like tokio's
//! blocking pool or rayon's global pool), shared by every torrent of every
//! session. Each job goes to a worker chosen by its torrent and piece, so
//! the jobs of one piece run in the order the core issued them: a piece's
//! writes reach its hasher in order (hash on receive, no read-back) and
//! its verify job runs after them. The queues need no bound of their own:
//! what a torrent has out is bounded by its core (writes by
//! `TorrentConfig::max_disk_queue`, reads by the send-buffer bounds,
//! verifies by `TorrentConfig::max_verify_jobs`).

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use piece_core::hash::PieceHashes;
use piece_core::hasher::PieceHasher;
use piece_core::storage::Storage;
use piece_core::PieceIndex;

use crate::proto::{DiskDone, DiskJob};

use super::lock;

/// Most disk threads in the process.
pub const POOL_THREADS: usize = 4;

/// One torrent's data as the disk threads see it.
pub(crate) struct TorrentDisk {
    pub storage: Arc<dyn Storage>,
    /// The verifier; replaced as a v2 magnet's piece layers arrive.
    pub hashes: Mutex<Arc<PieceHashes>>,
    hashers: Mutex<Hashers>,
}

impl TorrentDisk {
    pub(crate) fn new(storage: Arc<dyn Storage>, hashes: Arc<PieceHashes>) -> Arc<Self> {
        Arc::new(TorrentDisk {
            storage,
            hashes: Mutex::new(hashes),
            hashers: Mutex::default(),
        })
    }

    /// Runs a job here, on this thread.
    fn run(&self, job: DiskJob) -> DiskDone {
        let hashes = lock(&self.hashes).clone();
        run_job(job, self.storage.as_ref(), Some(&hashes), &self.hashers)
    }
}

/// Where a torrent's finished jobs wait for its driver: one wake-up for
/// any number of results (not one message per 16 KiB block).
#[derive(Default)]
pub(crate) struct Inbox {
    done: Mutex<Vec<DiskDone>>,
    /// Notified when results arrive in an empty inbox.
    pub notify: tokio::sync::Notify,
}

impl Inbox {
    /// The results so far.
    pub(crate) fn take(&self) -> Vec<DiskDone> {
        std::mem::take(&mut *lock(&self.done))
    }

    fn push(&self, d: DiskDone) {
        let mut v = lock(&self.done);
        let wake = v.is_empty();
        v.push(d);
        drop(v);
        if wake {
            self.notify.notify_one();
        }
    }
}

struct Task {
    disk: Arc<TorrentDisk>,
    job: DiskJob,
}

/// Jobs for one worker, and where their results go.
type Batch = (Vec<Task>, Arc<Inbox>);

struct Pool {
    workers: Vec<Mutex<mpsc::Sender<Batch>>>,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let n = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(2, POOL_THREADS);
        let workers = (0..n)
            .filter_map(|i| {
                let (tx, rx) = mpsc::channel::<Batch>();
                std::thread::Builder::new()
                    .name(format!("swarm-disk-{i}"))
                    .spawn(move || {
                        for (batch, inbox) in rx {
                            run_batch(batch, &inbox);
                        }
                    })
                    .ok()
                    .map(|_| Mutex::new(tx))
            })
            .collect();
        Pool { workers }
    })
}

fn run_batch(batch: Vec<Task>, inbox: &Inbox) {
    for t in batch {
        inbox.push(t.disk.run(t.job));
    }
}

/// Runs `jobs` of the torrent `disk` on the pool, in order per piece;
/// their results go to `inbox`.
pub(crate) fn submit(disk: &Arc<TorrentDisk>, jobs: Vec<DiskJob>, inbox: &Arc<Inbox>) {
    let p = pool();
    let n = p.workers.len().max(1);
    let mut batches: Vec<Vec<Task>> = (0..n).map(|_| Vec::new()).collect();
    let base = Arc::as_ptr(disk) as *const u8 as usize / 64;
    for job in jobs {
        let w = base.wrapping_add(job.piece().idx()) % n;
        batches[w].push(Task {
            disk: disk.clone(),
            job,
        });
    }
    for (w, batch) in batches.into_iter().enumerate() {
        if batch.is_empty() {
            continue;
        }
        match p.workers.get(w) {
            // a worker never stops while the pool exists: sending cannot fail
            Some(tx) => {
                let _ = lock(tx).send((batch, inbox.clone()));
            }
            None => {
                // no pool thread could be started: one thread for these jobs
                let inbox = inbox.clone();
                let _ = std::thread::Builder::new().spawn(move || run_batch(batch, &inbox));
            }
        }
    }
}

/// Hashers of the pieces being received.
pub(crate) type Hashers = HashMap<PieceIndex, PieceHasher>;

/// Runs one job synchronously: what the pool's threads and the simulator
/// both do. `hashes` is `None` before a magnet's metadata (no writes
/// happen then). A piece's hasher is taken out of the table while it works,
/// so threads hashing other pieces do not wait for it.
pub(crate) fn run_job(
    job: DiskJob,
    storage: &dyn Storage,
    hashes: Option<&PieceHashes>,
    hashers: &Mutex<Hashers>,
) -> DiskDone {
    match job {
        DiskJob::Write { block, data } => {
            let result = storage
                .write(block.piece, block.offset, &data)
                .map_err(Arc::new);
            let hasher = lock(hashers).remove(&block.piece);
            if let (Ok(()), Some(h)) = (&result, hashes) {
                // after a failed write what is on disk is unknown: the
                // piece is then hashed from disk
                let mut hasher = hasher.unwrap_or_else(|| h.hasher(block.piece));
                hasher.update(block.offset, &data);
                lock(hashers).insert(block.piece, hasher);
            }
            DiskDone::Written { block, result }
        }
        DiskJob::Verify { piece } => {
            let hasher = lock(hashers).remove(&piece);
            let result = match hashes {
                None => Ok(false),
                Some(h) => hasher
                    .unwrap_or_else(|| h.hasher(piece))
                    .finish(h, &mut |off, buf| storage.read(piece, off, buf)),
            };
            DiskDone::Verified {
                piece,
                result: result.map_err(Arc::new),
            }
        }
        DiskJob::Read { conn, block } => {
            let mut buf = vec![0; block.len as usize];
            let result = storage
                .read(block.piece, block.offset, &mut buf)
                .map(|_| Bytes::from(buf))
                .map_err(Arc::new);
            DiskDone::Read {
                conn,
                block,
                result,
            }
        }
    }
}
