//! A storage wrapper that injects failures, for tests.
//!
//! [`FaultStorage`] forwards to another backend and, according to its
//! [`FaultConfig`] (changeable at any time), makes writes fail with ENOSPC
//! once a byte budget is used up, makes reads or writes touching chosen
//! address ranges fail with EIO, cuts the next write short, or truncates a
//! real file under the backend. Injected OS errors go through the same
//! mapping as real ones ([`super::io_err`]), so ENOSPC surfaces as
//! [`StorageError::NoSpace`] and EIO as [`StorageError::Io`].

use std::io;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Mutex;

use super::{check_range, io_err, FileState, Storage, StorageError};
use crate::layout::Layout;
use crate::types::PieceIndex;

#[cfg(unix)]
const ENOSPC: i32 = libc::ENOSPC;
#[cfg(not(unix))]
const ENOSPC: i32 = 28;
#[cfg(unix)]
const EIO: i32 = libc::EIO;
#[cfg(not(unix))]
const EIO: i32 = 5;

/// Which failures to inject. Ranges are in the torrent's address space.
#[derive(Clone, Debug, Default)]
pub struct FaultConfig {
    /// Writes succeed until this many bytes were written in total; the
    /// write that crosses the budget stores its prefix and fails with ENOSPC.
    pub enospc_after: Option<u64>,
    /// Reads touching any of these ranges fail with EIO.
    pub eio_read: Vec<Range<u64>>,
    /// Writes touching any of these ranges fail with EIO (nothing written).
    pub eio_write: Vec<Range<u64>>,
    /// The next write stores only this many bytes, then fails (one shot).
    pub short_next_write: Option<usize>,
}

/// Storage that injects failures into another one.
pub struct FaultStorage<S> {
    inner: S,
    state: Mutex<(FaultConfig, u64)>,
}

impl<S: Storage> FaultStorage<S> {
    /// Wraps `inner` with no faults configured.
    pub fn new(inner: S) -> Self {
        Self::with_config(inner, FaultConfig::default())
    }
    /// Wraps `inner` with `config`.
    pub fn with_config(inner: S, config: FaultConfig) -> Self {
        FaultStorage {
            inner,
            state: Mutex::new((config, 0)),
        }
    }
    /// The wrapped storage.
    pub fn inner(&self) -> &S {
        &self.inner
    }
    /// Replaces the fault configuration.
    pub fn set_config(&self, config: FaultConfig) {
        self.lock().0 = config;
    }
    /// Changes the fault configuration in place.
    pub fn configure(&self, f: impl FnOnce(&mut FaultConfig)) {
        f(&mut self.lock().0);
    }
    /// Bytes successfully written so far.
    pub fn bytes_written(&self) -> u64 {
        self.lock().1
    }
    /// Truncates (or extends) real file `i` on disk to `len` bytes behind
    /// the backend's back, as another program would.
    pub fn truncate_file(&self, i: usize, len: u64) -> Result<(), StorageError> {
        let path = self.inner.file_path(i).ok_or(StorageError::OutOfBounds)?;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|e| io_err(&path, e))?;
        f.set_len(len).map_err(|e| io_err(&path, e))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (FaultConfig, u64)> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn path_at(&self, abs: u64) -> PathBuf {
        let l = self.inner.layout();
        if abs >= l.lengths().total() {
            return PathBuf::new();
        }
        let i = l.file_at(abs);
        self.inner
            .file_path(i)
            .unwrap_or_else(|| l.files()[i].path.clone())
    }

    fn overlapping(ranges: &[Range<u64>], r: &Range<u64>) -> Option<u64> {
        ranges
            .iter()
            .filter(|x| x.start < r.end && r.start < x.end)
            .map(|x| x.start.max(r.start))
            .min()
    }
}

impl<S: Storage> Storage for FaultStorage<S> {
    fn layout(&self) -> &Layout {
        self.inner.layout()
    }

    fn read(&self, piece: PieceIndex, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        check_range(self.layout(), piece, offset, buf.len())?;
        let start = self.layout().lengths().piece_offset(piece) + offset as u64;
        let r = start..start + buf.len() as u64;
        if let Some(at) = Self::overlapping(&self.lock().0.eio_read, &r) {
            return Err(io_err(&self.path_at(at), io::Error::from_raw_os_error(EIO)));
        }
        self.inner.read(piece, offset, buf)
    }

    fn write(&self, piece: PieceIndex, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        check_range(self.layout(), piece, offset, data.len())?;
        let start = self.layout().lengths().piece_offset(piece) + offset as u64;
        let r = start..start + data.len() as u64;
        let mut st = self.lock();
        if let Some(at) = Self::overlapping(&st.0.eio_write, &r) {
            drop(st);
            return Err(io_err(&self.path_at(at), io::Error::from_raw_os_error(EIO)));
        }
        // How much of `data` may go through, and the error after it.
        let mut allowed = data.len();
        let mut fail: Option<io::Error> = None;
        if let Some(k) = st.0.short_next_write.take() {
            if k < allowed {
                allowed = k;
                fail = Some(io::Error::new(io::ErrorKind::WriteZero, "short write"));
            }
        }
        if let Some(budget) = st.0.enospc_after {
            let left = budget.saturating_sub(st.1);
            if left < allowed as u64 {
                allowed = left as usize;
                fail = Some(io::Error::from_raw_os_error(ENOSPC));
            }
        }
        drop(st);
        if allowed > 0 {
            self.inner.write(piece, offset, &data[..allowed])?;
            self.lock().1 += allowed as u64;
        }
        match fail {
            Some(e) => Err(io_err(&self.path_at(start + allowed as u64), e)),
            None => Ok(()),
        }
    }

    fn flush(&self) -> Result<(), StorageError> {
        self.inner.flush()
    }
    fn ensure_files(&self) -> Result<(), StorageError> {
        self.inner.ensure_files()
    }
    fn check_files(&self) -> Vec<FileState> {
        self.inner.check_files()
    }
    fn file_path(&self, i: usize) -> Option<PathBuf> {
        self.inner.file_path(i)
    }
}
