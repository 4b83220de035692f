//! Resume files: what was verified, so a restart does not rehash.
//!
//! # Format
//! One file per torrent, `<state_dir>/<wire id hex>.resume`, a bencoded
//! dictionary (keys sorted, read with [`KeyOrder::Strict`] and [`LIMITS`]):
//!
//! ```text
//! { "files":      <20 bytes per real file: u32 index, u64 size,
//!                  u64 mtime in ns since the Unix epoch (all ones: unknown)>,
//!   "have":       <the BEP 3 bitfield bytes>,
//!   "info_hash":  <20 bytes: v1 info-hash, or truncated v2>,
//!   "num_pieces": <int>,
//!   "version":    1 }
//! ```
//!
//! Integers in `files` are big-endian. `files` holds, for every real file
//! of the layout that exists, its size and modification time when the file
//! was written (packed, so a library of 100,000 files is one string, not
//! 700,000 bencode values). Unknown keys are ignored.
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

use piece_core::bencode::{self, BencodeError, Encoder, KeyOrder, Limits, Value};
use piece_core::hash::PieceHashes;
use piece_core::storage::{FileState, Storage, StorageError};
use piece_core::{Bitfield, PieceIndex};

/// Largest resume file read (a bitfield for millions of pieces and a
/// million file records fit).
pub const MAX_RESUME_FILE: usize = 32 * 1024 * 1024;

/// Bencode limits of a resume file: [`MAX_RESUME_FILE`] bytes, one flat
/// dictionary of a few values, keys sorted (we write every resume file).
pub const LIMITS: Limits = Limits {
    max_len: MAX_RESUME_FILE,
    max_depth: 2,
    max_tokens: 64,
    key_order: KeyOrder::Strict,
};

/// Bytes of one packed file record in `files`.
const FILE_RECORD_LEN: usize = 20;
/// `mtime_ns` of a file record whose mtime is unknown.
const UNKNOWN_MTIME: u64 = u64::MAX;

/// Errors reading or writing a resume file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResumeError {
    /// Reading or writing the file failed.
    #[error("{path}")]
    Io {
        /// The resume file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a resume file (it is then ignored).
    #[error("{path}: not a valid resume file: {error}")]
    Invalid {
        /// The resume file.
        path: PathBuf,
        /// What is wrong with it.
        error: ResumeFormatError,
    },
}

/// Why bytes are not a resume file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResumeFormatError {
    /// Not valid bencode, or beyond [`LIMITS`] (e.g. larger than
    /// [`MAX_RESUME_FILE`]).
    #[error(transparent)]
    Bencode(#[from] BencodeError),
    /// Valid bencode, but not a dictionary.
    #[error("not a dictionary")]
    NotADict,
    /// A required key is missing or has the wrong type or size.
    #[error("missing or invalid `{0}`")]
    BadField(&'static str),
}

/// Size and mtime of one real file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRecord {
    /// Index of the file in the torrent's layout.
    pub index: usize,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch, if known.
    pub mtime_ns: Option<u128>,
}

/// The content of a resume file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResumeData {
    /// Format version (1).
    pub version: u32,
    /// The 20-byte wire id.
    pub info_hash: [u8; 20],
    /// Pieces of the torrent.
    pub num_pieces: u32,
    /// The bitfield bytes.
    pub have: Vec<u8>,
    /// The files as they were when the bitfield was saved.
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
            info_hash: wire_id,
            num_pieces: have.len(),
            have: have.as_bytes().to_vec(),
            files: records(&storage.check_files()),
        }
    }

    /// The saved bitfield, if it is consistent.
    pub fn bitfield(&self) -> Option<Bitfield> {
        Bitfield::from_wire(&self.have, self.num_pieces).ok()
    }

    /// The file's bytes (see the [module documentation](self)).
    pub fn encode(&self) -> Vec<u8> {
        let mut files = Vec::with_capacity(self.files.len() * FILE_RECORD_LEN);
        for r in &self.files {
            // A layout has far fewer than 2^32 files.
            let Ok(index) = u32::try_from(r.index) else {
                continue;
            };
            let mtime = r
                .mtime_ns
                .and_then(|t| u64::try_from(t).ok())
                .filter(|&t| t != UNKNOWN_MTIME)
                .unwrap_or(UNKNOWN_MTIME);
            files.extend_from_slice(&index.to_be_bytes());
            files.extend_from_slice(&r.size.to_be_bytes());
            files.extend_from_slice(&mtime.to_be_bytes());
        }
        let mut e = Encoder::with_capacity(files.len() + self.have.len() + 96);
        e.begin_dict();
        e.str("files").bytes(&files);
        e.str("have").bytes(&self.have);
        e.str("info_hash").bytes(&self.info_hash);
        e.str("num_pieces").int(i64::from(self.num_pieces));
        e.str("version").int(i64::from(self.version));
        e.end();
        e.finish()
    }

    /// Reads a resume file's bytes.
    pub fn decode(buf: &[u8]) -> Result<ResumeData, ResumeFormatError> {
        let v = bencode::decode_with(buf, LIMITS)?;
        let d = v.as_dict().ok_or(ResumeFormatError::NotADict)?;
        let bytes = |k: &'static str| {
            d.get(k.as_bytes())
                .and_then(Value::as_bytes)
                .ok_or(ResumeFormatError::BadField(k))
        };
        let u32_of = |k: &'static str| {
            d.get(k.as_bytes())
                .and_then(Value::as_int)
                .and_then(|i| u32::try_from(i).ok())
                .ok_or(ResumeFormatError::BadField(k))
        };
        let packed = bytes("files")?;
        if packed.len() % FILE_RECORD_LEN != 0 {
            return Err(ResumeFormatError::BadField("files"));
        }
        let be64 = |b: &[u8]| u64::from_be_bytes(b.try_into().unwrap_or_default());
        let files = packed
            .chunks_exact(FILE_RECORD_LEN)
            .map(|r| FileRecord {
                index: u32::from_be_bytes([r[0], r[1], r[2], r[3]]) as usize,
                size: be64(&r[4..12]),
                mtime_ns: Some(be64(&r[12..20]))
                    .filter(|&t| t != UNKNOWN_MTIME)
                    .map(u128::from),
            })
            .collect();
        Ok(ResumeData {
            version: u32_of("version")?,
            info_hash: bytes("info_hash")?
                .try_into()
                .map_err(|_| ResumeFormatError::BadField("info_hash"))?,
            num_pieces: u32_of("num_pieces")?,
            have: bytes("have")?.to_vec(),
            files,
        })
    }
}

/// The resume file path of a torrent in `state_dir`.
pub fn path_for(state_dir: &Path, wire_id: [u8; 20]) -> PathBuf {
    state_dir.join(format!("{}.resume", hex::encode(wire_id)))
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
    write_atomically(path, &data.encode()).map_err(|source| ResumeError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Why a resume save failed.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// Writing the torrent's data to disk failed.
    #[error("flushing data")]
    Flush(#[from] StorageError),
    /// Writing the resume file failed.
    #[error("saving resume data")]
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
    // One byte over the limit is enough for the decoder to say "too large".
    let mut buf = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(f, MAX_RESUME_FILE as u64 + 1),
        &mut buf,
    )
    .map_err(io)?;
    ResumeData::decode(&buf)
        .map(Some)
        .map_err(|error| ResumeError::Invalid {
            path: path.to_path_buf(),
            error,
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
        .filter(|d| d.version == 1 && d.info_hash == wire_id && d.num_pieces == n)
        .and_then(|d| d.bitfield().map(|b| (d, b)));
    let states = storage.check_files();
    let now = records(&states);
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
            // A storage that does not report a file (not on disk: memory,
            // a database...) may still hold its data: check it.
            let reported: BTreeSet<usize> = states.iter().map(|s| s.index).collect();
            for (i, _) in layout.real_files() {
                if !reported.contains(&i) {
                    if let Some((a, b)) = layout.file_pieces(i) {
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
            info_hash: [1; 20],
            num_pieces: 10,
            have: bits.as_bytes().to_vec(),
            files: vec![
                FileRecord {
                    index: 0,
                    size: 5,
                    mtime_ns: Some(9),
                },
                FileRecord {
                    index: 3,
                    size: u64::MAX,
                    mtime_ns: None,
                },
            ],
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
    fn exact_bytes_and_bad_files() {
        let data = ResumeData {
            version: 1,
            info_hash: [0x61; 20],
            num_pieces: 3,
            have: vec![0xa0],
            files: vec![FileRecord {
                index: 1,
                size: 2,
                mtime_ns: Some(3),
            }],
        };
        let mut want = b"d5:files20:\0\0\0\x01".to_vec();
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3]);
        want.extend_from_slice(b"4:have1:\xa09:info_hash20:aaaaaaaaaaaaaaaaaaaa");
        want.extend_from_slice(b"10:num_piecesi3e7:versioni1ee");
        assert_eq!(data.encode(), want);
        assert_eq!(ResumeData::decode(&want), Ok(data.clone()));
        // An mtime past 2554 (beyond u64 ns) is saved as unknown.
        let mut far = data.clone();
        far.files[0].mtime_ns = Some(u128::from(u64::MAX) + 1);
        let back = ResumeData::decode(&far.encode()).unwrap();
        assert_eq!(back.files[0].mtime_ns, None);
        use ResumeFormatError::*;
        let bad = |b: &[u8]| ResumeData::decode(b).unwrap_err();
        assert_eq!(bad(b"le"), NotADict);
        assert_eq!(
            bad(b"d5:files3:abc4:have0:9:info_hash20:aaaaaaaaaaaaaaaaaaaa10:num_piecesi0e7:versioni1ee"),
            BadField("files")
        );
        assert_eq!(
            bad(b"d5:files0:4:have0:9:info_hash2:aa10:num_piecesi0e7:versioni1ee"),
            BadField("info_hash")
        );
        assert_eq!(
            bad(b"d5:files0:4:have0:9:info_hash20:aaaaaaaaaaaaaaaaaaaa10:num_piecesi-1e7:versioni1ee"),
            BadField("num_pieces")
        );
        // Keys out of order: not a file we wrote.
        assert!(matches!(bad(b"d4:have0:5:files0:e"), Bencode(_)));
        let big = vec![b'0'; MAX_RESUME_FILE + 1];
        assert!(matches!(bad(&big), Bencode(_)));
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
