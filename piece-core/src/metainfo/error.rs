//! Errors from parsing and validating metainfo.

use crate::bencode::BencodeError;

/// Why a torrent (or an info dictionary) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetainfoError {
    /// The file is larger than [`super::MAX_METAINFO_SIZE`] (its size).
    #[error("torrent file is {0} bytes, more than the limit of {max}", max = super::MAX_METAINFO_SIZE)]
    TooLarge(usize),
    /// The bytes are not valid bencode.
    #[error(transparent)]
    Bencode(#[from] BencodeError),
    /// Lists and dictionaries nest deeper than the limit (the byte where it happened).
    #[error("torrent is nested too deeply (at byte {0})")]
    DepthExceeded(usize),
    /// The top level is not a dictionary.
    #[error("torrent is not a bencoded dictionary")]
    NotADict,
    /// There is no `info` dictionary.
    #[error("torrent has no info dictionary")]
    MissingInfo,
    /// The info dictionary has no `name`.
    #[error("torrent has no name")]
    MissingName,
    /// The info dictionary has no `piece length`.
    #[error("torrent has no piece length")]
    MissingPieceLength,
    /// A piece length the format does not allow.
    #[error("invalid piece length {0} (must be a multiple of 16 KiB up to 128 MiB; a power of two for v2)")]
    InvalidPieceLength(i64),
    /// A file or total length that is negative, missing or too large (what was wrong).
    #[error("invalid length: {0}")]
    InvalidLength(String),
    /// A v1 or hybrid torrent without `pieces`.
    #[error("torrent has no v1 piece hashes (`pieces`)")]
    MissingPieces,
    /// `pieces` is not a whole number of SHA-1 hashes or does not match the size.
    #[error("invalid v1 piece hashes: {0}")]
    InvalidPieces(String),
    /// No file at all.
    #[error("torrent has no files")]
    NoFiles,
    /// More files than the parser allows (the limit).
    #[error("torrent has too many files (limit {0})")]
    TooManyFiles(usize),
    /// More pieces than the parser allows (the count).
    #[error("torrent has {0} pieces, more than the limit")]
    TooManyPieces(u64),
    /// A path that is empty, absolute, climbs out with `..` or has a bad component.
    #[error("invalid file path: {0}")]
    InvalidPath(String),
    /// A file entry that is not a valid dictionary.
    #[error("invalid file entry: {0}")]
    InvalidFile(String),
    /// A v2 `file tree` whose keys are not in bencode order.
    #[error("v2 file tree keys are not sorted")]
    UnorderedFileTree,
    /// The v1 file list and the v2 file tree of a hybrid describe different files.
    #[error("the v1 and v2 parts of the hybrid torrent disagree: {0}")]
    InconsistentFiles(String),
    /// A `piece layers` entry that is missing, the wrong size or does not hash to its root.
    #[error("invalid piece layer: {0}")]
    InvalidPieceLayer(String),
    /// A v2 file without a 32-byte `pieces root` (its path).
    #[error("file {0:?} has no valid `pieces root`")]
    MissingPiecesRoot(String),
    /// A pad file that is not where BEP 47 puts pad files.
    #[error("invalid pad file: {0}")]
    InvalidPadFile(String),
    /// More files with one name than the deduper can rename.
    #[error("too many files with the same name: {0}")]
    DuplicateFiles(String),
    /// A symlink entry (`attr l`) without a valid target.
    #[error("invalid symlink: {0}")]
    InvalidSymlink(String),
    /// A `meta version` other than 2.
    #[error("unsupported or invalid `meta version` {0}")]
    UnsupportedVersion(i64),
    /// The files do not tile the piece address space (a bug guard: the
    /// parser builds layouts that are valid by construction).
    #[error(transparent)]
    Layout(#[from] crate::layout::LayoutError),
}
