//! In-memory storage, for the swarm simulation and unit tests.
//!
//! Each real file is a `Vec<u8>` allocated on its first write (until then
//! it reads as zeros), so a torrent only costs memory for what was written.

use std::path::PathBuf;
use std::sync::RwLock;
use std::time::SystemTime;

use super::{check_range, FileState, Storage, StorageError};
use crate::layout::Layout;
use crate::types::PieceIndex;

/// A torrent's data held in memory.
pub struct MemoryStorage {
    layout: Layout,
    files: Vec<RwLock<Option<Vec<u8>>>>,
}

impl MemoryStorage {
    /// Empty storage (everything reads as zeros) for `layout`.
    pub fn new(layout: Layout) -> Self {
        let files = layout.files().iter().map(|_| RwLock::new(None)).collect();
        MemoryStorage { layout, files }
    }

    /// The bytes of real file `i` (zeros if never written), or `None` for
    /// padding, an index out of range or a file too large for memory.
    pub fn file_contents(&self, i: usize) -> Option<Vec<u8>> {
        let f = self.layout.files().get(i)?;
        if f.pad {
            return None;
        }
        let g = self.files[i].read().unwrap_or_else(|p| p.into_inner());
        match &*g {
            Some(v) => Some(v.clone()),
            None => Some(vec![0; in_memory_len(f.length).ok()?]),
        }
    }
}

/// A file's length as a `Vec` length: a file larger than the address space
/// (over 2 GiB on a 32-bit target) cannot be held in memory.
fn in_memory_len(length: u64) -> Result<usize, std::io::Error> {
    usize::try_from(length)
        .ok()
        .filter(|&n| n <= isize::MAX as usize)
        .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::OutOfMemory))
}

impl Storage for MemoryStorage {
    fn layout(&self) -> &Layout {
        &self.layout
    }

    fn read(&self, piece: PieceIndex, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        check_range(&self.layout, piece, offset, buf.len())?;
        for s in self.layout.slices(piece, offset, buf.len()) {
            let out = &mut buf[s.buf_offset..s.buf_offset + s.len];
            let g = self.files[s.file].read().unwrap_or_else(|p| p.into_inner());
            match (&*g, s.pad) {
                (Some(data), false) => {
                    let o = s.file_offset as usize;
                    out.copy_from_slice(&data[o..o + s.len]);
                }
                _ => out.fill(0),
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
            let f = &self.layout.files()[s.file];
            let len = in_memory_len(f.length).map_err(|e| super::io_err(&f.path, e))?;
            let mut g = self.files[s.file]
                .write()
                .unwrap_or_else(|p| p.into_inner());
            let v = g.get_or_insert_with(|| vec![0; len]);
            let o = s.file_offset as usize;
            v[o..o + s.len].copy_from_slice(&data[s.buf_offset..s.buf_offset + s.len]);
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), StorageError> {
        Ok(())
    }

    fn check_files(&self) -> Vec<FileState> {
        self.layout
            .real_files()
            .map(|(i, f)| FileState {
                index: i,
                path: PathBuf::from(&f.path),
                exists: true,
                size: f.length,
                mtime: None::<SystemTime>,
            })
            .collect()
    }
}
