//! Synchronous piece storage.
//!
//! The contract the rest of the code relies on:
//! - addresses are pieces and offsets in the torrent's [`Layout`]; a range
//!   may cross file boundaries ([`Layout::slices`]), and padding reads as
//!   zeros and is never written;
//! - files are created sparse and opened lazily; [`Storage::ensure_files`]
//!   creates every file, including empty ones;
//! - every failure is a [`StorageError`], never a panic or a signal; a range
//!   outside the piece is [`StorageError::OutOfBounds`].
//!
//! Backends:
//! - [`MmapStorage`] (the default): lazily mapped windows of each file, with
//!   a SIGBUS guard so a file truncated under us is an error, not a crash;
//! - [`PreadStorage`]: `pread`/`pwrite` on cached handles;
//! - [`MemoryStorage`]: in memory, for simulations and tests;
//! - [`FaultStorage`]: wraps another backend and injects failures.
//!
//! On-disk layout: every real (non-padding) file of the [`Layout`] is stored
//! at `root/<path>` with exactly its length; nothing is stored for padding.

use std::path::PathBuf;
use std::time::SystemTime;

use crate::layout::Layout;
use crate::types::PieceIndex;

mod fault;
pub(crate) mod files;
mod memory;
#[cfg(unix)]
mod mmap;
#[cfg(unix)]
mod pread;

pub use fault::{FaultConfig, FaultStorage};
pub use files::DEFAULT_MAX_HANDLES;
pub use memory::MemoryStorage;
#[cfg(unix)]
pub use mmap::{MmapOptions, MmapStorage};
#[cfg(unix)]
pub use pread::PreadStorage;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// An I/O error on a file.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The disk is full (ENOSPC).
    #[error("disk full while writing {path}")]
    NoSpace {
        /// The file being written.
        path: PathBuf,
    },
    /// The file was truncated or replaced behind our back.
    #[error("{path} changed size on disk (expected {expected} bytes, found {found})")]
    FileChanged {
        /// The file.
        path: PathBuf,
        /// Its size in the torrent.
        expected: u64,
        /// Its size on disk.
        found: u64,
    },
    /// The range is not inside a piece of this torrent.
    #[error("range out of bounds")]
    OutOfBounds,
    /// A symlink or non-regular file inside the download folder.
    #[error(
        "{path}: refusing to follow a symlink or use a non-regular file inside the download folder"
    )]
    UnsafePath {
        /// The path.
        path: PathBuf,
    },
}

/// Maps an I/O error on `path` to a [`StorageError`]: ENOSPC (and EDQUOT)
/// become [`StorageError::NoSpace`], anything else [`StorageError::Io`].
pub fn io_err(path: &std::path::Path, source: std::io::Error) -> StorageError {
    match source.raw_os_error() {
        #[cfg(unix)]
        Some(libc::ENOSPC) | Some(libc::EDQUOT) => StorageError::NoSpace {
            path: path.to_path_buf(),
        },
        _ if source.kind() == std::io::ErrorKind::StorageFull => StorageError::NoSpace {
            path: path.to_path_buf(),
        },
        _ => StorageError::Io {
            path: path.to_path_buf(),
            source,
        },
    }
}

/// Whether a disk backend may create missing files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// Downloading: missing files are created sparse on first write (and by
    /// [`Storage::ensure_files`]); a missing file reads as zeros.
    Create,
    /// Seeding: files must already exist; nothing is created. Files that
    /// cannot be opened for writing are served read-only.
    Existing,
}

/// What is on disk for one real file, for resume: an unchanged size and
/// mtime means the data need not be rehashed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileState {
    /// Index into [`Layout::files`].
    pub index: usize,
    /// Full path on disk.
    pub path: PathBuf,
    /// Whether the file exists.
    pub exists: bool,
    /// Size in bytes (0 if missing).
    pub size: u64,
    /// Last modification time, if known.
    pub mtime: Option<SystemTime>,
}

/// A torrent's data on some medium.
pub trait Storage: Send + Sync {
    /// The layout this storage serves.
    fn layout(&self) -> &Layout;
    /// Reads `buf.len()` bytes at `offset` in piece `piece`.
    fn read(&self, piece: PieceIndex, offset: u32, buf: &mut [u8]) -> Result<(), StorageError>;
    /// Writes `data` at `offset` in piece `piece`. Bytes that fall in
    /// padding are dropped.
    fn write(&self, piece: PieceIndex, offset: u32, data: &[u8]) -> Result<(), StorageError>;
    /// Makes written data durable.
    fn flush(&self) -> Result<(), StorageError>;

    /// Reads a whole piece into `buf` (resized to the piece length).
    fn read_piece(&self, piece: PieceIndex, buf: &mut Vec<u8>) -> Result<(), StorageError> {
        let len = self
            .layout()
            .lengths()
            .piece(piece.get())
            .map(|p| self.layout().lengths().piece_len(p))
            .ok_or(StorageError::OutOfBounds)?;
        buf.clear();
        buf.resize(len as usize, 0);
        self.read(piece, 0, buf)
    }
    /// Creates every real file, including empty ones (create mode), or
    /// checks that they all exist with their full length (existing mode).
    fn ensure_files(&self) -> Result<(), StorageError> {
        Ok(())
    }
    /// Size and mtime of every real file, for resume.
    fn check_files(&self) -> Vec<FileState>;
    /// Where file `i` of the layout lives on disk, if on disk.
    fn file_path(&self, _i: usize) -> Option<PathBuf> {
        None
    }
}

/// Checks that `len` bytes at `offset` lie inside `piece` of `layout`.
pub fn check_range(
    layout: &Layout,
    piece: PieceIndex,
    offset: u32,
    len: usize,
) -> Result<(), StorageError> {
    let l = layout.lengths();
    let p = l.piece(piece.get()).ok_or(StorageError::OutOfBounds)?;
    let end = (offset as u64)
        .checked_add(len as u64)
        .ok_or(StorageError::OutOfBounds)?;
    if end > l.piece_len(p) as u64 {
        return Err(StorageError::OutOfBounds);
    }
    Ok(())
}
