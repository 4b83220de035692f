//! In-memory storage and test torrents for the simulation.

use std::sync::{Arc, Mutex};

use piece_core::bencode::Encoder;
use piece_core::hash::PieceHashes;
use piece_core::layout::Layout;
use piece_core::metainfo::{FileInfo, Info, Metainfo, Version};
use piece_core::storage::{Storage, StorageError};
use piece_core::{InfoHashV1, InfoHashes, PieceIndex};
use sha1::{Digest, Sha1};

/// A torrent's data in memory. A corrupting store flips a byte in
/// everything it reads (a peer serving bad data).
pub struct MemStorage {
    layout: Layout,
    data: Mutex<Vec<u8>>,
    corrupt: bool,
    /// Writes fail with "no space" once this many bytes were written.
    capacity: Option<u64>,
    written: Mutex<u64>,
    /// Bytes read so far (tests count read-backs).
    read: std::sync::atomic::AtomicU64,
}

impl MemStorage {
    /// Zero-filled storage for a layout.
    pub fn new(layout: Layout) -> Self {
        let n = layout.lengths().total() as usize;
        Self::with_data(layout, vec![0; n])
    }
    /// Storage holding `data` (must be the layout's total size).
    pub fn with_data(layout: Layout, data: Vec<u8>) -> Self {
        MemStorage {
            layout,
            data: Mutex::new(data),
            corrupt: false,
            capacity: None,
            written: Mutex::new(0),
            read: Default::default(),
        }
    }
    /// Makes every read return corrupted bytes.
    pub fn corrupting(mut self) -> Self {
        self.corrupt = true;
        self
    }
    /// Makes writes fail with [`StorageError::NoSpace`] after `bytes`.
    pub fn with_capacity(mut self, bytes: u64) -> Self {
        self.capacity = Some(bytes);
        self
    }
    /// Bytes read from this storage so far.
    pub fn bytes_read(&self) -> u64 {
        self.read.load(std::sync::atomic::Ordering::Relaxed)
    }
    /// A copy of the whole content.
    pub fn contents(&self) -> Vec<u8> {
        self.data.lock().map(|d| d.clone()).unwrap_or_default()
    }
    fn range(
        &self,
        piece: PieceIndex,
        offset: u32,
        len: usize,
    ) -> Result<std::ops::Range<usize>, StorageError> {
        let l = self.layout.lengths();
        if l.piece(piece.get()).is_none() || offset as u64 + len as u64 > l.piece_len(piece) as u64
        {
            return Err(StorageError::OutOfBounds);
        }
        let start = (l.piece_offset(piece) + offset as u64) as usize;
        Ok(start..start + len)
    }
}

impl Storage for MemStorage {
    fn layout(&self) -> &Layout {
        &self.layout
    }
    fn read(&self, piece: PieceIndex, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        let r = self.range(piece, offset, buf.len())?;
        self.read
            .fetch_add(buf.len() as u64, std::sync::atomic::Ordering::Relaxed);
        let d = self.data.lock().map_err(|_| StorageError::OutOfBounds)?;
        buf.copy_from_slice(&d[r]);
        if self.corrupt && !buf.is_empty() {
            buf[0] ^= 0xff;
        }
        Ok(())
    }
    fn write(&self, piece: PieceIndex, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        let r = self.range(piece, offset, data.len())?;
        let mut w = self.written.lock().map_err(|_| StorageError::OutOfBounds)?;
        if let Some(c) = self.capacity {
            if *w + data.len() as u64 > c {
                return Err(StorageError::NoSpace {
                    path: "memory".into(),
                });
            }
        }
        *w += data.len() as u64;
        let mut d = self.data.lock().map_err(|_| StorageError::OutOfBounds)?;
        d[r].copy_from_slice(data);
        Ok(())
    }
    fn flush(&self) -> Result<(), StorageError> {
        Ok(())
    }
    fn check_files(&self) -> Vec<piece_core::storage::FileState> {
        Vec::new()
    }
}

/// Checks a piece in storage with a [`PieceHashes`] verifier (v1, v2 or
/// hybrid).
pub fn verify_piece(hashes: &PieceHashes, storage: &dyn Storage, piece: PieceIndex) -> bool {
    let len = hashes.layout().lengths().piece_len(piece) as usize;
    let mut buf = vec![0; len];
    if storage.read(piece, 0, &mut buf).is_err() {
        return false;
    }
    hashes.verify(piece, &buf)
}

/// The address-space bytes of a torrent made from `files` (name, content)
/// in torrent order: real files from the map, padding as zeros.
pub fn address_space(meta: &Metainfo, files: &dyn Fn(&[String]) -> Option<Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::with_capacity(meta.info.lengths.total() as usize);
    for f in &meta.info.files {
        match (f.pad, files(&f.path)) {
            (false, Some(d)) if d.len() as u64 == f.length => out.extend_from_slice(&d),
            _ => out.resize(out.len() + f.length as usize, 0),
        }
    }
    out
}

/// Deterministic pseudo-random content.
pub fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        })
        .collect()
}

/// A single-file v1 torrent of `data`.
pub fn make_v1(name: &str, data: &[u8], piece_len: u32) -> Arc<Metainfo> {
    let pieces: Vec<[u8; 20]> = data
        .chunks(piece_len as usize)
        .map(|c| Sha1::digest(c).into())
        .collect();
    let mut e = Encoder::new();
    e.begin_dict()
        .str("length")
        .int(data.len() as i64)
        .str("name")
        .str(name)
        .str("piece length")
        .int(i64::from(piece_len))
        .str("pieces")
        .bytes(&pieces.concat())
        .end();
    let info = e.finish();
    let ih: [u8; 20] = Sha1::digest(&info).into();
    let layout =
        Layout::single(name, data.len() as u64, piece_len as u64).expect("valid test layout");
    Arc::new(Metainfo {
        info: Info {
            name: name.into(),
            piece_length: piece_len,
            version: Version::V1,
            private: false,
            files: vec![FileInfo {
                path: vec![name.into()],
                length: data.len() as u64,
                offset: 0,
                pad: false,
                executable: false,
                hidden: false,
                symlink: None,
                pieces_root: None,
            }],
            pieces_v1: Some(pieces),
            lengths: *layout.lengths(),
            layout,
        },
        info_bytes: info,
        info_hashes: InfoHashes {
            v1: Some(InfoHashV1(ih)),
            v2: None,
        },
        trackers: vec![],
        piece_layers: Default::default(),
        comment: None,
        created_by: None,
        creation_date: None,
        url_list: vec![],
    })
}
