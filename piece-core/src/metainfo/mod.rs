//! Torrent metainfo: parsing, validation and the types the rest of the
//! crate works with.
//!
//! The shapes below are the shared interface: storage, hashing, the picker
//! and the swarm engine read them. [`Metainfo::from_bytes`] fills them in.
//!
//! # Format
//! A `.torrent` is a bencoded dictionary (see [`crate::bencode`]):
//! - `info`: the info dictionary, hashed as it appears in the file: SHA-1
//!   for the v1 info-hash, SHA-256 for the v2 one;
//!   - `name`, `piece length`, `private`;
//!   - v1 (BEP 3): `pieces` (20-byte SHA-1 per piece) and either `length`
//!     (single file) or `files` (list of `{length, path, attr, symlink path}`;
//!     BEP 47 `attr`: `p` pad, `x` executable, `h` hidden, `l` symlink);
//!   - v2 (BEP 52): `meta version` 2 and `file tree` (see [`v2`]);
//!   - hybrid: both, and they must describe the same files, with v1 pad
//!     files aligning every file to a piece boundary;
//! - `piece layers` (v2): pieces root -> concatenated piece hashes;
//! - `announce`, `announce-list`, `url-list`, `comment`, `created by`,
//!   `creation date`.
//!
//! Every path is sanitised ([`crate::path`]); limits bound every
//! allocation ([`MAX_METAINFO_SIZE`], [`MAX_FILES`],
//! [`crate::types::MAX_PIECES`], [`crate::path::MAX_PATH_DEPTH`]).

use std::collections::HashMap;

mod error;
mod parse;
mod raw;
pub mod v2;

pub use error::MetainfoError;

/// Largest `.torrent` (or info dictionary) we parse.
pub const MAX_METAINFO_SIZE: usize = 64 * 1024 * 1024;
/// Most files (including pad files) in one torrent.
pub const MAX_FILES: usize = 1 << 20;

use crate::layout::Layout;
use crate::types::{InfoHashes, Lengths};

/// Which hash schemes a torrent carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// BEP 3: SHA-1 piece hashes only.
    V1,
    /// BEP 52: merkle trees only.
    V2,
    /// Both, describing the same files.
    Hybrid,
}

/// One file as the torrent describes it (after sanitising), in torrent order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileInfo {
    /// Sanitised path components, relative to the download folder. For a
    /// multi-file torrent the first component is the torrent's name.
    /// Empty for padding.
    pub path: Vec<String>,
    /// Size in bytes (0 for symlinks).
    pub length: u64,
    /// Offset in the piece address space (see [`crate::layout`]).
    pub offset: u64,
    /// BEP 47 pad file (or v2 virtual alignment): not stored.
    pub pad: bool,
    /// BEP 47 `attr` `x`.
    pub executable: bool,
    /// BEP 47 `attr` `h`.
    pub hidden: bool,
    /// BEP 47 symlink target (`attr` `l`, `symlink path`), sanitised,
    /// relative to the torrent's root; such a file is not stored and has
    /// length 0. A target that sanitises to nothing is dropped (`None`).
    pub symlink: Option<Vec<String>>,
    /// v2: root of the file's merkle tree over 16 KiB blocks.
    pub pieces_root: Option<[u8; 32]>,
}

/// The parsed info dictionary.
#[derive(Clone, Debug)]
pub struct Info {
    /// Sanitised name: a single safe path component.
    pub name: String,
    /// Bytes per piece (for an oversized one-piece v1 torrent, the data
    /// size rounded up to 16 KiB).
    pub piece_length: u32,
    /// Which hashes the torrent carries.
    pub version: Version,
    /// BEP 27 `private` flag.
    pub private: bool,
    /// Files including padding, in address-space order.
    pub files: Vec<FileInfo>,
    /// v1 piece hashes (v1 and hybrid).
    pub pieces_v1: Option<Vec<[u8; 20]>>,
    /// The geometry of the address space.
    pub lengths: Lengths,
    /// The file/piece mapping used by storage.
    pub layout: Layout,
}

/// A whole .torrent (or a magnet's metadata once fetched).
#[derive(Clone, Debug)]
pub struct Metainfo {
    /// The parsed info dictionary.
    pub info: Info,
    /// The info dictionary's bytes exactly as they were in the file.
    pub info_bytes: Vec<u8>,
    /// v1 (SHA-1) and/or v2 (SHA-256) hashes of `info_bytes`.
    pub info_hashes: InfoHashes,
    /// Tracker tiers (`announce-list`, or `announce` as one tier).
    pub trackers: Vec<Vec<String>>,
    /// BEP 52 piece layers: pieces root -> the layer's hashes.
    pub piece_layers: HashMap<[u8; 32], Vec<[u8; 32]>>,
    /// `comment` (or `comment.utf-8`).
    pub comment: Option<String>,
    /// `created by`.
    pub created_by: Option<String>,
    /// `creation date`, seconds since the Unix epoch.
    pub creation_date: Option<i64>,
    /// BEP 19 web seeds (`url-list`).
    pub url_list: Vec<String>,
}

impl Metainfo {
    /// A `.torrent` file for this torrent: the info dictionary exactly as
    /// it was (so the info-hashes are unchanged), the trackers and the v2
    /// piece layers known so far. Comments and other optional keys are not
    /// kept.
    pub fn to_torrent_bytes(&self) -> Vec<u8> {
        let mut e = crate::bencode::Encoder::new();
        e.begin_dict();
        let tiers: Vec<&Vec<String>> = self.trackers.iter().filter(|t| !t.is_empty()).collect();
        if let Some(first) = tiers.first().and_then(|t| t.first()) {
            e.str("announce").str(first);
            e.str("announce-list").begin_list();
            for t in &tiers {
                e.begin_list();
                for u in t.iter() {
                    e.str(u);
                }
                e.end();
            }
            e.end();
        }
        e.str("info").raw(&self.info_bytes);
        if !self.piece_layers.is_empty() {
            let mut roots: Vec<&[u8; 32]> = self.piece_layers.keys().collect();
            roots.sort();
            e.str("piece layers").begin_dict();
            for r in roots {
                let layer = &self.piece_layers[r];
                let mut flat = Vec::with_capacity(layer.len() * 32);
                for h in layer {
                    flat.extend_from_slice(h);
                }
                e.bytes(r).bytes(&flat);
            }
            e.end();
        }
        e.end();
        e.finish()
    }

    /// Parses and validates a `.torrent` file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Metainfo, MetainfoError> {
        parse::parse_torrent(bytes)
    }

    /// Builds a torrent from a bare info dictionary (fetched from peers with
    /// `ut_metadata`) and the trackers known from elsewhere (a magnet link).
    /// v2 piece layers are then empty; add them with
    /// [`Metainfo::add_piece_layer`].
    pub fn from_info_bytes(
        info: &[u8],
        trackers: Vec<Vec<String>>,
    ) -> Result<Metainfo, MetainfoError> {
        parse::parse_info_only(info, trackers)
    }

    /// Validates a piece layer (e.g. received in `hashes` messages) for the
    /// file with this `pieces root` and stores it.
    pub fn add_piece_layer(
        &mut self,
        root: [u8; 32],
        hashes: &[[u8; 32]],
    ) -> Result<(), MetainfoError> {
        let pl = self.info.piece_length;
        let file = self
            .info
            .files
            .iter()
            .find(|f| f.pieces_root == Some(root) && f.length > pl as u64)
            .ok_or_else(|| {
                MetainfoError::InvalidPieceLayer(format!(
                    "no file larger than a piece has pieces root {}",
                    hex::encode(root)
                ))
            })?;
        let bytes: Vec<u8> = hashes.iter().flatten().copied().collect();
        let layer = v2::check_layer(&root, Some(&bytes), file.length, pl)?;
        self.piece_layers.insert(root, layer);
        Ok(())
    }

    /// The piece layer of a file, if known. Files of at most one piece have
    /// none: their `pieces root` is their only piece hash.
    pub fn piece_layer(&self, root: &[u8; 32]) -> Option<&[[u8; 32]]> {
        self.piece_layers.get(root).map(Vec::as_slice)
    }

    /// A magnet link for this torrent (info-hashes, name, trackers).
    pub fn magnet(&self) -> String {
        crate::magnet::Magnet {
            v1: self.info_hashes.v1,
            v2: self.info_hashes.v2,
            name: Some(self.info.name.clone()),
            trackers: self.trackers.iter().flatten().cloned().collect(),
            web_seeds: self.url_list.clone(),
            peers: Vec::new(),
            select_only: Vec::new(),
        }
        .to_string()
    }
}

impl Info {
    /// Bytes of file data (padding excluded).
    pub fn total_size(&self) -> u64 {
        self.files.iter().filter(|f| !f.pad).map(|f| f.length).sum()
    }

    /// Size of the piece address space (padding included).
    pub fn address_space(&self) -> u64 {
        self.lengths.total()
    }

    /// Does the torrent carry v1 piece hashes?
    pub fn has_v1(&self) -> bool {
        self.version != Version::V2
    }

    /// Does the torrent carry v2 merkle roots?
    pub fn has_v2(&self) -> bool {
        self.version != Version::V1
    }
}

#[cfg(test)]
mod tests;
