//! How a torrent's files sit in its piece address space.
//!
//! The address space is the concatenation of the torrent's files in order.
//! Pad files (BEP 47, in hybrid torrents) and the virtual alignment that v2
//! puts after every file (in v2-only torrents the last one too, so the last
//! piece is a full piece, as in libtorrent) are entries with `pad: true`: they
//! occupy address space, read as zeros and are never stored on disk or
//! requested from peers. Because BEP 47/52 only pad a file up to the next
//! piece boundary, padding in a piece is always at its end: a piece holds
//! real data in `[0, piece_data_len)` and zeros after.

use std::path::{Path, PathBuf};

use crate::types::{BlockInfo, Lengths, PieceIndex, BLOCK_SIZE};

/// One file (or padding) in the address space.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayoutFile {
    /// Path relative to the download folder, already sanitised (no `..`,
    /// no root, no empty components). Empty for padding.
    pub path: PathBuf,
    /// Length in bytes (of padding too).
    pub length: u64,
    /// Offset of the first byte in the address space.
    pub offset: u64,
    /// Padding: not stored, reads as zeros.
    pub pad: bool,
}

impl LayoutFile {
    /// One past the last byte of the file in the address space.
    #[inline]
    pub fn end(&self) -> u64 {
        self.offset + self.length
    }
}

/// Why a list of files does not form a valid layout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// A file does not start where the one before it ends.
    #[error("file {index} starts at {offset}, expected {expected}")]
    NotContiguous {
        /// Index of the file.
        index: usize,
        /// Where it starts.
        offset: u64,
        /// Where the file before it ends.
        expected: u64,
    },
    /// The files do not add up to the torrent's total size.
    #[error("files cover {covered} bytes but the torrent is {total} bytes")]
    SizeMismatch {
        /// Bytes the files add up to.
        covered: u64,
        /// The torrent's total size.
        total: u64,
    },
    /// A file's path is absolute, empty or climbs out with `..` (its index).
    #[error("file {0} has an unsafe path")]
    UnsafePath(usize),
    /// A pad file does not end on a piece boundary (its index).
    #[error("padding at file {0} does not end on a piece boundary")]
    PadNotAligned(usize),
    /// A file's end does not fit in 64 bits (its index).
    #[error("file {0} ends past the largest possible offset")]
    Overflow(usize),
}

/// The validated mapping between pieces and files.
#[derive(Clone, Debug)]
pub struct Layout {
    lengths: Lengths,
    files: Vec<LayoutFile>,
}

/// A contiguous run of bytes of one file that a piece range covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileSlice {
    /// Index into [`Layout::files`].
    pub file: usize,
    /// Offset in that file.
    pub file_offset: u64,
    /// Offset in the caller's buffer.
    pub buf_offset: usize,
    /// Number of bytes.
    pub len: usize,
    /// Padding: nothing on disk.
    pub pad: bool,
}

impl Layout {
    /// Checks that `files` tile `[0, lengths.total())` in order, that every
    /// real path is relative and free of `..`, and that padding ends on a
    /// piece boundary (or at the end).
    pub fn new(lengths: Lengths, files: Vec<LayoutFile>) -> Result<Self, LayoutError> {
        let mut expected = 0u64;
        let pl = lengths.piece_length() as u64;
        for (i, f) in files.iter().enumerate() {
            if f.offset != expected {
                return Err(LayoutError::NotContiguous {
                    index: i,
                    offset: f.offset,
                    expected,
                });
            }
            if !f.pad && !is_safe_relative(&f.path) {
                return Err(LayoutError::UnsafePath(i));
            }
            expected = f
                .offset
                .checked_add(f.length)
                .ok_or(LayoutError::Overflow(i))?;
            if f.pad && f.length > 0 && expected % pl != 0 && expected != lengths.total() {
                return Err(LayoutError::PadNotAligned(i));
            }
        }
        if expected != lengths.total() {
            return Err(LayoutError::SizeMismatch {
                covered: expected,
                total: lengths.total(),
            });
        }
        Ok(Layout { lengths, files })
    }

    /// A torrent of one file.
    pub fn single(
        path: impl Into<PathBuf>,
        length: u64,
        piece_len: u64,
    ) -> Result<Self, crate::Error> {
        let lengths = Lengths::new(length, piece_len)?;
        Ok(Layout::new(
            lengths,
            vec![LayoutFile {
                path: path.into(),
                length,
                offset: 0,
                pad: false,
            }],
        )?)
    }

    /// The piece geometry this layout covers.
    #[inline]
    pub fn lengths(&self) -> &Lengths {
        &self.lengths
    }
    /// The files and pad files, in address-space order.
    #[inline]
    pub fn files(&self) -> &[LayoutFile] {
        &self.files
    }
    /// Files that are stored on disk (not padding), with their index.
    pub fn real_files(&self) -> impl Iterator<Item = (usize, &LayoutFile)> {
        self.files.iter().enumerate().filter(|(_, f)| !f.pad)
    }

    /// Index of the file holding address `off` (skipping empty files).
    /// `off` must be `< total`.
    pub fn file_at(&self, off: u64) -> usize {
        // first file whose end is > off
        self.files.partition_point(|f| f.end() <= off)
    }

    /// The file a v2 piece belongs to (the file holding its first byte).
    pub fn file_for_piece(&self, p: PieceIndex) -> usize {
        self.file_at(self.lengths.piece_offset(p))
    }

    /// Bytes of real (non-padding) data at the start of piece `p`.
    pub fn piece_data_len(&self, p: PieceIndex) -> u32 {
        let start = self.lengths.piece_offset(p);
        let plen = self.lengths.piece_len(p) as u64;
        let end = start + plen;
        // walk back from the file holding the last byte while it is padding
        let mut i = self.file_at(end - 1);
        let mut data_end = end;
        loop {
            let f = &self.files[i];
            if f.pad {
                data_end = f.offset.max(start);
            } else if f.length > 0 {
                break;
            }
            if i == 0 || f.offset <= start {
                break;
            }
            i -= 1;
        }
        (data_end - start) as u32
    }

    /// The blocks of piece `p` that carry real data (the last may be short).
    /// A piece that is all padding has none.
    pub fn blocks(&self, p: PieceIndex) -> impl Iterator<Item = BlockInfo> {
        let data = self.piece_data_len(p);
        (0..data.div_ceil(BLOCK_SIZE)).map(move |n| {
            let offset = n * BLOCK_SIZE;
            BlockInfo {
                piece: p,
                offset,
                len: (data - offset).min(BLOCK_SIZE),
            }
        })
    }

    /// Splits `len` bytes at `offset` within piece `p` into per-file runs,
    /// in order. The range must lie inside the piece.
    pub fn slices(&self, p: PieceIndex, offset: u32, len: usize) -> Slices<'_> {
        let start = self.lengths.piece_offset(p) + offset as u64;
        debug_assert!(offset as u64 + len as u64 <= self.lengths.piece_len(p) as u64);
        Slices {
            layout: self,
            file: if len == 0 {
                self.files.len()
            } else {
                self.file_at(start)
            },
            pos: start,
            end: start + len as u64,
            buf_offset: 0,
        }
    }

    /// Like [`Layout::slices`] for an absolute range of the address space.
    pub fn slices_abs(&self, start: u64, len: usize) -> Slices<'_> {
        Slices {
            layout: self,
            file: if len == 0 {
                self.files.len()
            } else {
                self.file_at(start)
            },
            pos: start,
            end: start + len as u64,
            buf_offset: 0,
        }
    }

    /// First and last piece (inclusive) that a file touches, or `None` for
    /// an empty file.
    pub fn file_pieces(&self, file: usize) -> Option<(PieceIndex, PieceIndex)> {
        let f = &self.files[file];
        if f.length == 0 {
            return None;
        }
        let pl = self.lengths.piece_length() as u64;
        Some((
            PieceIndex::new_unchecked((f.offset / pl) as u32),
            PieceIndex::new_unchecked(((f.end() - 1) / pl) as u32),
        ))
    }
}

/// Iterator of [`FileSlice`]s; see [`Layout::slices`].
pub struct Slices<'a> {
    layout: &'a Layout,
    file: usize,
    pos: u64,
    end: u64,
    buf_offset: usize,
}

impl Iterator for Slices<'_> {
    type Item = FileSlice;
    fn next(&mut self) -> Option<FileSlice> {
        while self.pos < self.end && self.file < self.layout.files.len() {
            let f = &self.layout.files[self.file];
            self.file += 1;
            if f.end() <= self.pos {
                continue; // empty file at this offset
            }
            let n = (f.end().min(self.end) - self.pos) as usize;
            let s = FileSlice {
                file: self.file - 1,
                file_offset: self.pos - f.offset,
                buf_offset: self.buf_offset,
                len: n,
                pad: f.pad,
            };
            self.pos += n as u64;
            self.buf_offset += n;
            return Some(s);
        }
        None
    }
}

/// A relative path whose components are all normal (no root, prefix, `.`
/// or `..`) and that is not empty.
pub fn is_safe_relative(p: &Path) -> bool {
    use std::path::Component;
    let mut any = false;
    for c in p.components() {
        match c {
            Component::Normal(_) => any = true,
            _ => return false,
        }
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, offset: u64, length: u64, pad: bool) -> LayoutFile {
        LayoutFile {
            path: path.into(),
            length,
            offset,
            pad,
        }
    }

    #[test]
    fn slices_cross_files() {
        let l = Lengths::new(100_000, 32768).unwrap();
        let lay = Layout::new(
            l,
            vec![
                file("a", 0, 30000, false),
                file("e", 30000, 0, false),
                file("b", 30000, 70000, false),
            ],
        )
        .unwrap();
        let s: Vec<_> = lay.slices(l.piece(0).unwrap(), 0, 32768).collect();
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].file, s[0].file_offset, s[0].len), (0, 0, 30000));
        assert_eq!(
            (s[1].file, s[1].file_offset, s[1].buf_offset, s[1].len),
            (2, 0, 30000, 2768)
        );
        assert_eq!(lay.piece_data_len(l.piece(3).unwrap()), 100_000 - 3 * 32768);
    }

    #[test]
    fn padding_is_trailing() {
        let l = Lengths::new(32768 + 100, 32768).unwrap();
        let lay = Layout::new(
            l,
            vec![
                file("a", 0, 20000, false),
                file("", 20000, 12768, true),
                file("b", 32768, 100, false),
            ],
        )
        .unwrap();
        let p0 = l.piece(0).unwrap();
        assert_eq!(lay.piece_data_len(p0), 20000);
        let b: Vec<_> = lay.blocks(p0).collect();
        assert_eq!(b.len(), 2);
        assert_eq!(b[1].len, 20000 - 16384);
        assert_eq!(lay.piece_data_len(l.piece(1).unwrap()), 100);
        assert_eq!(lay.file_for_piece(l.piece(1).unwrap()), 2);
        assert_eq!(
            lay.file_pieces(2),
            Some((l.piece(1).unwrap(), l.piece(1).unwrap()))
        );
    }

    #[test]
    fn rejects_bad_layouts() {
        let l = Lengths::new(100, 16384).unwrap();
        assert!(Layout::new(l, vec![file("../x", 0, 100, false)]).is_err());
        assert!(Layout::new(l, vec![file("/x", 0, 100, false)]).is_err());
        assert!(Layout::new(l, vec![file("x", 0, 99, false)]).is_err());
        assert!(Layout::new(l, vec![file("x", 1, 99, false)]).is_err());
        assert!(Layout::new(l, vec![file("x", 0, 100, false)]).is_ok());
        let two = vec![
            file("x", 0, 100, false),
            file("y", 100, u64::MAX - 50, false),
        ];
        assert_eq!(Layout::new(l, two).unwrap_err(), LayoutError::Overflow(1));
    }
}
