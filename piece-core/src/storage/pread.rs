//! `pread`/`pwrite` storage on a bounded cache of open handles.
//!
//! Reads past the end of a file that is shorter than the layout says fail
//! with [`StorageError::FileChanged`]; writes check the size (fstat) first,
//! so a file truncated behind our back is never silently re-extended.

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::files::{Handles, DEFAULT_MAX_HANDLES};
use super::{check_range, io_err, FileState, OpenMode, Storage, StorageError};
use crate::layout::Layout;
use crate::types::PieceIndex;

/// Storage using positioned reads and writes.
pub struct PreadStorage {
    layout: Layout,
    handles: Handles,
}

impl PreadStorage {
    /// Storage for `layout` under `root`, keeping at most
    /// [`DEFAULT_MAX_HANDLES`] files open. Nothing is opened yet; in
    /// [`OpenMode::Create`] the root directory is created.
    pub fn open(
        root: impl AsRef<Path>,
        layout: Layout,
        mode: OpenMode,
    ) -> Result<Self, StorageError> {
        Self::with_max_handles(root, layout, mode, DEFAULT_MAX_HANDLES)
    }

    /// Like [`PreadStorage::open`] with a chosen bound on open handles.
    pub fn with_max_handles(
        root: impl AsRef<Path>,
        layout: Layout,
        mode: OpenMode,
        max_handles: usize,
    ) -> Result<Self, StorageError> {
        let handles = Handles::new(root.as_ref(), &layout, mode, max_handles)?;
        Ok(PreadStorage { layout, handles })
    }
}

impl Storage for PreadStorage {
    fn layout(&self) -> &Layout {
        &self.layout
    }

    fn read(&self, piece: PieceIndex, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        check_range(&self.layout, piece, offset, buf.len())?;
        for s in self.layout.slices(piece, offset, buf.len()) {
            let out = &mut buf[s.buf_offset..s.buf_offset + s.len];
            if s.pad {
                out.fill(0);
                continue;
            }
            let Some(h) = self.handles.get(s.file, false)? else {
                out.fill(0);
                continue;
            };
            let mut done = 0;
            while done < out.len() {
                match h
                    .file
                    .read_at(&mut out[done..], s.file_offset + done as u64)
                {
                    Ok(0) => {
                        return Err(StorageError::FileChanged {
                            path: h.path.clone(),
                            expected: h.expected,
                            found: h.current_len().unwrap_or(0),
                        });
                    }
                    Ok(n) => done += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        self.handles.forget(s.file);
                        return Err(io_err(&h.path, e));
                    }
                }
            }
        }
        Ok(())
    }

    fn write(&self, piece: PieceIndex, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        check_range(&self.layout, piece, offset, data.len())?;
        for s in self.layout.slices(piece, offset, data.len()) {
            if s.pad {
                continue;
            }
            let Some(h) = self.handles.get(s.file, true)? else {
                continue; // unreachable: a write opens with create or fails
            };
            // fstat first: never silently re-extend a file truncated
            // behind our back.
            h.require_len(s.file_offset + s.len as u64)?;
            h.file
                .write_all_at(&data[s.buf_offset..s.buf_offset + s.len], s.file_offset)
                .map_err(|e| io_err(&h.path, e))?;
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), StorageError> {
        self.handles.sync_dirty()
    }

    fn ensure_files(&self) -> Result<(), StorageError> {
        self.handles.ensure_files(&self.layout)
    }

    fn check_files(&self) -> Vec<FileState> {
        self.handles.check_files(&self.layout)
    }

    fn file_path(&self, i: usize) -> Option<PathBuf> {
        let f = self.layout.files().get(i)?;
        (!f.pad).then(|| self.handles.full_path(i))
    }
}
