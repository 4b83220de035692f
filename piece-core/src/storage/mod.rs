//! Synchronous piece storage. (Issue 2; backends owned by the storage work.)
//!
//! The contract the rest of the code relies on:
//! - addresses are pieces and offsets in the torrent's [`Layout`]; a range
//!   may cross file boundaries, and padding reads as zeros and is never
//!   written;
//! - files are created sparse and opened lazily;
//! - every failure is a [`StorageError`], never a panic or a signal.

use crate::layout::Layout;
use crate::types::PieceIndex;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("disk full while writing {path}")]
    NoSpace { path: std::path::PathBuf },
    #[error("{path} changed size on disk (expected {expected} bytes, found {found})")]
    FileChanged {
        path: std::path::PathBuf,
        expected: u64,
        found: u64,
    },
    #[error("range out of bounds")]
    OutOfBounds,
}

/// A torrent's data on some medium.
pub trait Storage: Send + Sync {
    /// The layout this storage serves.
    fn layout(&self) -> &Layout;
    /// Reads `buf.len()` bytes at `offset` in piece `piece`.
    fn read(&self, piece: PieceIndex, offset: u32, buf: &mut [u8]) -> Result<(), StorageError>;
    /// Writes `data` at `offset` in piece `piece`.
    fn write(&self, piece: PieceIndex, offset: u32, data: &[u8]) -> Result<(), StorageError>;
    /// Makes written data durable.
    fn flush(&self) -> Result<(), StorageError>;
}
