//! Resume files: what was verified, so a restart does not rehash.
//!
//! # Format
//! One JSON file per torrent, `<state_dir>/<wire id hex>.resume.json`:
//!
//! ```json
//! { "version": 1,
//!   "info_hash": "<40 hex: v1 info-hash, or truncated v2>",
//!   "num_pieces": 12,
//!   "have": "<hex of the BEP 3 bitfield bytes>",
//!   "files": [ { "index": 0, "size": 1234, "mtime_ns": 1700000000000000000 } ] }
//! ```
//!
//! `files` holds, for every real file of the layout, its size and
//! modification time (nanoseconds since the Unix epoch, absent if
//! unknown) when the file was written.
//!
//! # Writing
//! Atomically: a temporary file in the same folder is written, fsynced,
//! renamed over the old one, and the folder is fsynced. A crash leaves
//! either the old or the new file, never a torn one.
//!
//! # Loading ([`restore`])
//! Pieces of files whose size and mtime are unchanged are taken from the
//! bitfield without rehashing. Every piece touching a file that changed
//! (or with no usable resume data at all, every piece of a file that
//! exists) is rehashed, and kept if it verifies, so data written after the
//! last save is not downloaded again.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use piece_core::hash::PieceHashes;
use piece_core::storage::{FileState, Storage, StorageError};
use piece_core::{Bitfield, PieceIndex};
use serde::{Deserialize, Serialize};

/// Largest resume file read (a bitfield for millions of pieces fits).
pub const MAX_RESUME_FILE: u64 = 16 * 1024 * 1024;

/// Errors reading or writing a resume file.
#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a valid resume file: {msg}")]
    Invalid { path: PathBuf, msg: String },
}

/// Size and mtime of one real file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub index: usize,
    pub size: u64,
    pub mtime_ns: Option<u128>,
}

/// The content of a resume file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeData {
    pub version: u32,
    /// Hex of the 20-byte wire id.
    pub info_hash: String,
    pub num_pieces: u32,
    /// Hex of the bitfield bytes.
    pub have: String,
    pub files: Vec<FileRecord>,
}

fn mtime_ns(t: Option<SystemTime>) -> Option<u128> {
    t.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
}

fn records(states: &[FileState]) -> Vec<FileRecord> {
    states
        .iter()
        .filter(|s| s.exists)
        .map(|s| FileRecord {
            index: s.index,
            size: s.size,
            mtime_ns: mtime_ns(s.mtime),
        })
        .collect()
}

impl ResumeData {
    /// A snapshot of `have` and the files' current sizes and mtimes.
    pub fn capture(wire_id: [u8; 20], have: &Bitfield, storage: &dyn Storage) -> Self {
        ResumeData {
            version: 1,
            info_hash: hex::encode(wire_id),
            num_pieces: have.len(),
            have: hex::encode(have.as_bytes()),
            files: records(&storage.check_files()),
        }
    }

    /// The saved bitfield, if it is consistent.
    pub fn bitfield(&self) -> Option<Bitfield> {
        let bytes = hex::decode(&self.have).ok()?;
        Bitfield::from_wire(&bytes, self.num_pieces).ok()
    }
}

/// The resume file path of a torrent in `state_dir`.
pub fn path_for(state_dir: &Path, wire_id: [u8; 20]) -> PathBuf {
    state_dir.join(format!("{}.resume.json", hex::encode(wire_id)))
}

/// Writes `bytes` to `path` atomically (temp file, fsync, rename, fsync dir).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), std::io::Error> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let res = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// Saves `data` to `path` atomically.
pub fn save(path: &Path, data: &ResumeData) -> Result<(), ResumeError> {
    let bytes = serde_json::to_vec_pretty(data).map_err(|e| ResumeError::Invalid {
        path: path.to_path_buf(),
        msg: e.to_string(),
    })?;
    write_atomically(path, &bytes).map_err(|source| ResumeError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Why a resume save failed.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("flushing data: {0}")]
    Flush(#[from] StorageError),
    #[error("saving resume data: {0}")]
    Save(#[from] ResumeError),
}

/// Orders the saves of one resume file made from several threads (the
/// torrent's task saves in the background while downloading, and in the
/// foreground on completion and shutdown): one save at a time, and a save
/// never overwrites a newer one.
#[derive(Clone, Debug, Default)]
pub(crate) struct SaveOrder(Arc<Mutex<u64>>);

impl SaveOrder {
    /// Flushes `storage` (the file must never claim data that is not
    /// durable), captures the files' state and saves, unless a save
    /// numbered above `seq` is already written. Returns how long it took:
    /// with many files (a capture stats every one), the caller spaces its
    /// saves by that.
    pub(crate) fn save(
        &self,
        seq: u64,
        path: &Path,
        wire_id: [u8; 20],
        have: &Bitfield,
        storage: &dyn Storage,
    ) -> Result<Duration, SaveError> {
        let start = Instant::now();
        let mut written = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if *written > seq {
            return Ok(start.elapsed());
        }
        storage.flush()?;
        save(path, &ResumeData::capture(wire_id, have, storage))?;
        *written = seq;
        Ok(start.elapsed())
    }
}

/// Loads a resume file; `Ok(None)` if there is none.
pub fn load(path: &Path) -> Result<Option<ResumeData>, ResumeError> {
    let io = |source| ResumeError::Io {
        path: path.to_path_buf(),
        source,
    };
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let mut buf = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(f, MAX_RESUME_FILE + 1), &mut buf)
        .map_err(io)?;
    if buf.len() as u64 > MAX_RESUME_FILE {
        return Err(ResumeError::Invalid {
            path: path.to_path_buf(),
            msg: "too large".into(),
        });
    }
    serde_json::from_slice(&buf)
        .map(Some)
        .map_err(|e| ResumeError::Invalid {
            path: path.to_path_buf(),
            msg: e.to_string(),
        })
}

/// What [`restore`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restored {
    /// Verified pieces.
    pub have: Bitfield,
    /// Pieces taken from the resume data without rehashing.
    pub trusted: u32,
    /// Pieces rehashed (because their files changed or were unknown).
    pub rechecked: u32,
}

/// Computes the verified pieces from resume data (if any) and the files on
/// disk. See the [module documentation](self) for the rule.
pub fn restore(
    data: Option<&ResumeData>,
    wire_id: [u8; 20],
    storage: &dyn Storage,
    hashes: &PieceHashes,
) -> Restored {
    let layout = storage.layout();
    let n = layout.lengths().num_pieces();
    let saved = data
        .filter(|d| d.version == 1 && d.info_hash == hex::encode(wire_id) && d.num_pieces == n)
        .and_then(|d| d.bitfield().map(|b| (d, b)));
    let now = records(&storage.check_files());
    let mut have = Bitfield::new(n);
    let mut suspect: BTreeSet<u32> = BTreeSet::new();
    let mut trusted = 0;
    match &saved {
        Some((d, bits)) => {
            have = bits.clone();
            // By file index (O(n), libraries have 10,000s of files).
            let before_by: std::collections::HashMap<usize, &FileRecord> =
                d.files.iter().map(|r| (r.index, r)).collect();
            let after_by: std::collections::HashMap<usize, &FileRecord> =
                now.iter().map(|r| (r.index, r)).collect();
            for (i, _) in layout.real_files() {
                let before = before_by.get(&i).copied();
                let after = after_by.get(&i).copied();
                if before != after {
                    if let Some((a, b)) = layout.file_pieces(i) {
                        suspect.extend(a.get()..=b.get());
                    }
                }
            }
        }
        None => {
            for r in &now {
                if r.size > 0 {
                    if let Some((a, b)) = layout.file_pieces(r.index) {
                        suspect.extend(a.get()..=b.get());
                    }
                }
            }
        }
    }
    let mut buf = Vec::new();
    for &i in &suspect {
        let p = PieceIndex::new_unchecked(i);
        let ok = storage.read_piece(p, &mut buf).is_ok() && hashes.verify(p, &buf);
        if ok {
            have.set(i);
        } else {
            have.clear(i);
        }
    }
    if saved.is_some() {
        trusted = have.ones().filter(|i| !suspect.contains(i)).count() as u32;
    }
    Restored {
        have,
        trusted,
        rechecked: suspect.len() as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use piece_core::create::{create_torrent, CreateOptions};
    use piece_core::metainfo::Metainfo;
    use piece_core::storage::{MmapStorage, OpenMode};

    fn setup(dir: &Path) -> (Metainfo, MmapStorage, PieceHashes) {
        let data = dir.join("share");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(
            data.join("a.bin"),
            (0..100_000u32).map(|i| i as u8).collect::<Vec<_>>(),
        )
        .unwrap();
        std::fs::write(data.join("b.bin"), vec![7u8; 70_000]).unwrap();
        let opts = CreateOptions {
            piece_length: Some(16384),
            threads: Some(1),
            ..Default::default()
        };
        let t = create_torrent(&data, &opts, None).unwrap();
        let meta = Metainfo::from_bytes(&t.bytes).unwrap();
        let st = MmapStorage::open(dir, meta.info.layout.clone(), OpenMode::Existing).unwrap();
        let h = PieceHashes::new(&meta).unwrap();
        (meta, st, h)
    }

    #[test]
    fn save_load_roundtrip_and_atomic_overwrite() {
        let d = tempfile::tempdir().unwrap();
        let p = path_for(d.path(), [1; 20]);
        assert!(load(&p).unwrap().is_none());
        let mut bits = Bitfield::new(10);
        bits.set(3);
        let data = ResumeData {
            version: 1,
            info_hash: hex::encode([1u8; 20]),
            num_pieces: 10,
            have: hex::encode(bits.as_bytes()),
            files: vec![FileRecord {
                index: 0,
                size: 5,
                mtime_ns: Some(9),
            }],
        };
        save(&p, &data).unwrap();
        save(&p, &data).unwrap();
        assert_eq!(load(&p).unwrap(), Some(data.clone()));
        assert_eq!(data.bitfield(), Some(bits));
        // Only the resume file is left in the folder (no temp files).
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
        std::fs::write(&p, b"{ nope").unwrap();
        assert!(matches!(load(&p), Err(ResumeError::Invalid { .. })));
    }

    #[test]
    fn unchanged_files_are_trusted_changed_file_is_rechecked() {
        let d = tempfile::tempdir().unwrap();
        let (meta, st, h) = setup(d.path());
        let id = meta.info_hashes.wire_id();
        let n = meta.info.lengths.num_pieces();
        // No resume data: everything present is rechecked.
        let r = restore(None, id, &st, &h);
        assert!(r.have.is_full());
        assert_eq!(r.rechecked, n);
        let saved = ResumeData::capture(id, &r.have, &st);
        // Unchanged: nothing rehashed.
        let r = restore(Some(&saved), id, &st, &h);
        assert_eq!((r.trusted, r.rechecked), (n, 0));
        assert!(r.have.is_full());
        // Corrupt b.bin (same size, new mtime): only its pieces are rehashed.
        let b = d.path().join("share/b.bin");
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&b, vec![8u8; 70_000]).unwrap();
        let st = MmapStorage::open(d.path(), meta.info.layout.clone(), OpenMode::Existing).unwrap();
        let bi = meta
            .info
            .layout
            .real_files()
            .find(|(_, f)| f.path.ends_with("b.bin"))
            .unwrap()
            .0;
        let (lo, hi) = meta.info.layout.file_pieces(bi).unwrap();
        let r = restore(Some(&saved), id, &st, &h);
        assert_eq!(r.rechecked, hi.get() - lo.get() + 1);
        for i in 0..n {
            assert_eq!(r.have.get(i), i < lo.get(), "piece {i}");
        }
        // Resume data of another torrent is ignored (full recheck).
        let r = restore(Some(&saved), [0; 20], &st, &h);
        assert_eq!(r.rechecked, n);
    }
}
