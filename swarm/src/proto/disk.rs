//! Disk I/O as outputs: the core asks for reads, writes and hash checks
//! ([`Torrent::poll_disk`]) and is told the results
//! ([`Torrent::handle_disk`]), like its other outputs. It never holds a
//! [`Storage`](piece_core::storage::Storage).
//!
//! - A received block becomes a [`DiskJob::Write`]; the glue writes it and
//!   feeds it to the piece's hasher (hash on receive,
//!   [`piece_core::hasher`]).
//! - Once every block of a piece is written, the piece goes to the verify
//!   queue; at most [`TorrentConfig::max_verify_jobs`] [`DiskJob::Verify`]
//!   are out at a time, in the order the pieces completed. The glue
//!   finishes the piece's hash (reading back only what was not hashed on
//!   arrival) and answers [`DiskDone::Verified`].
//! - A block a peer asked for becomes a [`DiskJob::Read`]; what waits to be
//!   read counts in the peer's queued bytes, so the send-buffer bounds of
//!   `proto::backpressure` also bound reads.
//!
//! **Backpressure**: while [`TorrentConfig::max_disk_queue`] bytes of
//! writes are out, no new block is requested from any peer, so a slow disk
//! holds the torrent's memory at that bound plus the requests already in
//! flight, instead of buffering without limit.
//!
//! A failed write pauses the torrent ([`Event::StorageFailed`]) and puts
//! the piece back to be downloaded again, blaming no peer; so does a failed
//! read during a hash check.
//!
//! [`TorrentConfig::max_verify_jobs`]: super::TorrentConfig::max_verify_jobs
//! [`TorrentConfig::max_disk_queue`]: super::TorrentConfig::max_disk_queue

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use piece_core::storage::StorageError;
use piece_core::{BlockInfo, PieceIndex};

use super::{ConnId, Torrent};
use crate::wire;

/// I/O the core asks of the glue. Jobs of one piece must be run in the
/// order they are polled (the glue's hasher sees the writes in order).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum DiskJob {
    /// Write a received block and feed it to its piece's hasher; answer
    /// [`DiskDone::Written`].
    Write {
        /// The block.
        block: BlockInfo,
        /// Its bytes (`block.len` of them).
        data: Bytes,
    },
    /// Every block of `piece` is written: finish its hash (reading back
    /// only what was not hashed as it arrived), answer
    /// [`DiskDone::Verified`].
    Verify {
        /// The piece.
        piece: PieceIndex,
    },
    /// Read a block to send to `conn`; answer [`DiskDone::Read`].
    Read {
        /// The connection that asked for it.
        conn: ConnId,
        /// The block.
        block: BlockInfo,
    },
}

impl DiskJob {
    /// The piece the job is about (the glue keeps jobs of one piece in
    /// order, e.g. on one worker).
    pub fn piece(&self) -> PieceIndex {
        match self {
            DiskJob::Write { block, .. } | DiskJob::Read { block, .. } => block.piece,
            DiskJob::Verify { piece } => *piece,
        }
    }
}

/// The result of a [`DiskJob`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum DiskDone {
    /// A [`DiskJob::Write`] finished.
    Written {
        /// The block written.
        block: BlockInfo,
        /// Why the write failed.
        result: Result<(), Arc<StorageError>>,
    },
    /// A [`DiskJob::Verify`] finished: does the piece match its hashes?
    Verified {
        /// The piece.
        piece: PieceIndex,
        /// Whether it matched, or why it could not be read back.
        result: Result<bool, Arc<StorageError>>,
    },
    /// A [`DiskJob::Read`] finished.
    Read {
        /// The connection it is for.
        conn: ConnId,
        /// The block.
        block: BlockInfo,
        /// Its bytes, or why they could not be read.
        result: Result<Bytes, Arc<StorageError>>,
    },
}

/// Disk work in flight for one torrent.
#[derive(Debug, Default)]
pub(crate) struct DiskState {
    /// Jobs not yet polled.
    pub jobs: std::collections::VecDeque<DiskJob>,
    /// Bytes of writes polled or queued and not yet answered.
    pub writing: usize,
    /// Unanswered writes per piece.
    pub pending: std::collections::BTreeMap<PieceIndex, u32>,
    /// Pieces whose blocks are all received, waiting for their writes.
    pub received: std::collections::BTreeSet<PieceIndex>,
    /// Pieces written and waiting for a verify slot, in completion order.
    pub to_verify: std::collections::VecDeque<PieceIndex>,
    /// Verify jobs out.
    pub verifying: usize,
}

impl Torrent {
    /// Next disk job. Jobs of one piece must run in this order.
    #[must_use]
    pub fn poll_disk(&mut self) -> Option<DiskJob> {
        self.disk.jobs.pop_front()
    }

    /// The result of a [`DiskJob`].
    pub fn handle_disk(&mut self, now: Instant, done: DiskDone) {
        self.now = now;
        match done {
            DiskDone::Written { block, result } => {
                self.disk.writing = self.disk.writing.saturating_sub(block.len as usize);
                let left = match self.disk.pending.get_mut(&block.piece) {
                    Some(n) => {
                        *n = n.saturating_sub(1);
                        *n
                    }
                    None => 0,
                };
                if left == 0 {
                    self.disk.pending.remove(&block.piece);
                }
                match result {
                    Err(e) => {
                        self.disk.received.remove(&block.piece);
                        self.disk_failed(block.piece, e);
                    }
                    Ok(()) if left == 0 && self.disk.received.remove(&block.piece) => {
                        self.disk.to_verify.push_back(block.piece);
                    }
                    Ok(()) => {}
                }
            }
            DiskDone::Verified { piece, result } => {
                self.disk.verifying = self.disk.verifying.saturating_sub(1);
                match result {
                    Ok(ok) => self.on_verified(piece, ok),
                    Err(e) => self.disk_failed(piece, e),
                }
            }
            DiskDone::Read {
                conn,
                block,
                result,
            } => {
                let Some(p) = self.peers.get_mut(&conn) else {
                    return;
                };
                p.reading = p.reading.saturating_sub(wire_len(block));
                match result {
                    Ok(data) if data.len() == block.len as usize => {
                        // A block is at most 16 KiB: always within the wire limit.
                        let _ = wire::encode_piece_header(
                            block.piece.get(),
                            block.offset,
                            block.len,
                            &mut p.out,
                        );
                        p.out.extend_from_slice(&data);
                        p.last_sent = now;
                    }
                    Ok(_) => self.disk_failed(block.piece, Arc::new(StorageError::OutOfBounds)),
                    Err(e) => self.disk_failed(block.piece, e),
                }
            }
        }
        self.after_input();
    }

    /// Queues a received block's write.
    pub(crate) fn queue_write(&mut self, block: BlockInfo, data: &[u8]) {
        self.disk.writing += block.len as usize;
        *self.disk.pending.entry(block.piece).or_default() += 1;
        self.disk.jobs.push_back(DiskJob::Write {
            block,
            data: Bytes::copy_from_slice(data),
        });
    }

    /// Every block of `piece` was received: verify it once it is written.
    pub(crate) fn piece_received(&mut self, piece: PieceIndex) {
        if self.disk.pending.contains_key(&piece) {
            self.disk.received.insert(piece);
        } else {
            self.disk.to_verify.push_back(piece);
        }
    }

    /// Hands out verify jobs, oldest piece first, within the limit.
    pub(crate) fn schedule_verify(&mut self) {
        while self.disk.verifying < self.cfg.max_verify_jobs.max(1) {
            let Some(piece) = self.disk.to_verify.pop_front() else {
                return;
            };
            self.disk.verifying += 1;
            self.disk.jobs.push_back(DiskJob::Verify { piece });
        }
    }

    /// May more blocks be requested (are writes below their bound)?
    pub(crate) fn disk_room(&self) -> bool {
        self.disk.writing < self.cfg.max_disk_queue
    }

    /// Reading or writing failed: the piece is downloaded again (no peer is
    /// blamed) and the torrent pauses.
    fn disk_failed(&mut self, piece: PieceIndex, e: Arc<StorageError>) {
        if let Some(pk) = self.picker.as_mut() {
            if !pk.have().has(piece) {
                let _ = pk.piece_failed(piece);
            }
        }
        self.storage_failed(piece, e);
    }

    /// Pieces and writes still waiting for the disk (`poll_timeout` stays
    /// armed while any are out).
    pub(crate) fn disk_busy(&self) -> bool {
        !self.disk.jobs.is_empty() || self.disk.writing > 0 || self.disk.verifying > 0
    }
}

/// Bytes a served block takes in the peer's queue: header and data.
pub(crate) fn wire_len(b: BlockInfo) -> usize {
    13 + b.len as usize
}

/// Test helpers: the disk as a glue would run it, by hand.
#[cfg(test)]
pub(crate) mod test_io {
    use std::time::Instant;

    use piece_core::PieceIndex;

    use super::{DiskDone, DiskJob, Torrent};

    /// Runs the disk jobs as a glue would, except hash checks, which stay
    /// queued for `poll_verify`: writes succeed, reads give zeros.
    pub(crate) fn run_disk(t: &mut Torrent) {
        let mut keep = std::collections::VecDeque::new();
        while let Some(j) = t.poll_disk() {
            let now = t.now;
            match j {
                DiskJob::Write { block, .. } => t.handle_disk(
                    now,
                    DiskDone::Written {
                        block,
                        result: Ok(()),
                    },
                ),
                DiskJob::Read { conn, block } => t.handle_disk(
                    now,
                    DiskDone::Read {
                        conn,
                        block,
                        result: Ok(vec![0; block.len as usize].into()),
                    },
                ),
                j => keep.push_back(j),
            }
        }
        keep.extend(t.disk.jobs.drain(..));
        t.disk.jobs = keep;
    }

    /// The next hash check the torrent asks for (after running the other
    /// disk jobs).
    pub(crate) fn poll_verify(t: &mut Torrent) -> Option<PieceIndex> {
        run_disk(t);
        let i = t
            .disk
            .jobs
            .iter()
            .position(|j| matches!(j, DiskJob::Verify { .. }))?;
        t.disk.jobs.remove(i).map(|j| j.piece())
    }

    /// Answers a hash check.
    pub(crate) fn verified(t: &mut Torrent, now: Instant, piece: PieceIndex, ok: bool) {
        t.handle_disk(
            now,
            DiskDone::Verified {
                piece,
                result: Ok(ok),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{addr, answer, connect_seed, rig, run_disk, verified};
    use super::super::TorrentConfig;
    use super::*;

    fn verify_jobs(t: &Torrent) -> Vec<u32> {
        t.disk
            .jobs
            .iter()
            .filter_map(|j| match j {
                DiskJob::Verify { piece } => Some(piece.get()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn verify_waits_for_writes_and_keeps_completion_order_within_the_limit() {
        let cfg = TorrentConfig {
            max_verify_jobs: 1,
            min_request_queue: 8,
            ..Default::default()
        };
        let mut r = rig(false, cfg);
        let c = ConnId(1);
        let reqs = connect_seed(&mut r, c, addr(1), 1);
        let mut pieces: Vec<u32> = reqs.iter().map(|q| q.0).collect();
        pieces.dedup();
        assert_eq!(pieces.len(), 4, "{reqs:?}");
        // complete them in reverse order
        pieces.reverse();
        for &p in &pieces {
            let of: Vec<_> = reqs.iter().copied().filter(|q| q.0 == p).collect();
            answer(&mut r, c, &of, false);
        }
        // nothing is verified before its blocks are written
        assert!(verify_jobs(&r.t).is_empty());
        assert_eq!(r.t.stats().disk_queued, 4 * 32 * 1024);
        let mut order = Vec::new();
        run_disk(&mut r.t);
        while let Some(&p) = verify_jobs(&r.t).first() {
            // one at a time (max_verify_jobs = 1)
            assert_eq!(verify_jobs(&r.t).len(), 1);
            r.t.disk
                .jobs
                .retain(|j| !matches!(j, DiskJob::Verify { .. }));
            order.push(p);
            let now = r.now;
            verified(&mut r.t, now, PieceIndex::new_unchecked(p), true);
            run_disk(&mut r.t);
        }
        assert_eq!(order, pieces);
        assert!(r.t.is_complete());
    }

    #[test]
    fn requests_stop_while_the_disk_is_behind() {
        let cfg = TorrentConfig {
            max_disk_queue: 32 * 1024,
            ..Default::default()
        };
        let mut r = rig(false, cfg);
        let c = ConnId(1);
        let reqs = connect_seed(&mut r, c, addr(1), 1);
        let p = reqs[0].0;
        let of: Vec<_> = reqs.iter().copied().filter(|q| q.0 == p).collect();
        answer(&mut r, c, &of[..1], false);
        while r.t.poll_transmit().is_some() {}
        answer(&mut r, c, &of[1..2], false);
        // a piece's worth of writes out: the bound is reached, nothing
        // more is asked for until the disk answers
        let mut out = Vec::new();
        while let Some(tx) = r.t.poll_transmit() {
            out.extend_from_slice(&tx.data);
        }
        assert!(out.is_empty(), "requested with the disk full: {out:?}");
        run_disk(&mut r.t);
        let mut out = Vec::new();
        while let Some(tx) = r.t.poll_transmit() {
            out.extend_from_slice(&tx.data);
        }
        assert!(!out.is_empty(), "no new requests once the disk caught up");
    }
}
