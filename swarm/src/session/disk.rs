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

/// Called with the result, on the disk thread.
pub(crate) type Reply = Box<dyn FnOnce(DiskDone) + Send>;

struct Task {
    disk: Arc<TorrentDisk>,
    job: DiskJob,
    reply: Reply,
}

struct Pool {
    workers: Vec<Mutex<mpsc::Sender<Task>>>,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let n = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(2, POOL_THREADS);
        let workers = (0..n)
            .filter_map(|i| {
                let (tx, rx) = mpsc::channel::<Task>();
                std::thread::Builder::new()
                    .name(format!("swarm-disk-{i}"))
                    .spawn(move || {
                        for t in rx {
                            let done = t.disk.run(t.job);
                            (t.reply)(done);
                        }
                    })
                    .ok()
                    .map(|_| Mutex::new(tx))
            })
            .collect();
        Pool { workers }
    })
}

/// Runs `job` on the pool; `reply` gets the result.
pub(crate) fn submit(disk: &Arc<TorrentDisk>, job: DiskJob, reply: Reply) {
    let p = pool();
    if p.workers.is_empty() {
        // no pool thread could be started: one thread for this job
        let disk = disk.clone();
        let _ = std::thread::Builder::new().spawn(move || reply(disk.run(job)));
        return;
    }
    let key = (Arc::as_ptr(disk) as *const u8 as usize / 64).wrapping_add(job.piece().idx());
    let task = Task {
        disk: disk.clone(),
        job,
        reply,
    };
    // a worker never stops while the pool exists: sending cannot fail
    let _ = lock(&p.workers[key % p.workers.len()]).send(task);
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
