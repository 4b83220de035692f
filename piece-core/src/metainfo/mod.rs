//! Torrent metainfo: parsing, validation and the types the rest of the
//! crate works with. (Issue 2; parser owned by the metainfo work.)
//!
//! The shapes below are the shared interface: storage, hashing, the picker
//! and the swarm engine read them. Parsing fills them in.

use std::collections::HashMap;

use crate::layout::Layout;
use crate::types::{InfoHashes, Lengths};

/// Which hash schemes a torrent carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
    Hybrid,
}

/// One file as the torrent describes it (after sanitising), in torrent order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileInfo {
    /// Sanitised path components, relative to the download folder. For a
    /// multi-file torrent the first component is the torrent's name.
    pub path: Vec<String>,
    pub length: u64,
    /// Offset in the piece address space (see [`crate::layout`]).
    pub offset: u64,
    /// BEP 47 pad file (or v2 virtual alignment): not stored.
    pub pad: bool,
    pub executable: bool,
    pub hidden: bool,
    /// BEP 47 symlink target, sanitised; such a file is not stored.
    pub symlink: Option<Vec<String>>,
    /// v2: root of the file's merkle tree over 16 KiB blocks.
    pub pieces_root: Option<[u8; 32]>,
}

/// The parsed info dictionary.
#[derive(Clone, Debug)]
pub struct Info {
    /// Sanitised name: a single safe path component.
    pub name: String,
    pub piece_length: u32,
    pub version: Version,
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
    pub info: Info,
    /// The info dictionary's bytes exactly as they were in the file.
    pub info_bytes: Vec<u8>,
    pub info_hashes: InfoHashes,
    /// Tracker tiers (`announce-list`, or `announce` as one tier).
    pub trackers: Vec<Vec<String>>,
    /// BEP 52 piece layers: pieces root -> the layer's hashes.
    pub piece_layers: HashMap<[u8; 32], Vec<[u8; 32]>>,
    pub comment: Option<String>,
    pub created_by: Option<String>,
    pub creation_date: Option<i64>,
    pub url_list: Vec<String>,
}
