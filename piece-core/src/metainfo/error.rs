//! Errors from parsing and validating metainfo.

use crate::bencode::BencodeError;

/// Why a torrent (or an info dictionary) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetainfoError {
    #[error("torrent file is {0} bytes, more than the limit of {max}", max = super::MAX_METAINFO_SIZE)]
    TooLarge(usize),
    #[error(transparent)]
    Bencode(#[from] BencodeError),
    #[error("torrent is nested too deeply (at byte {0})")]
    DepthExceeded(usize),
    #[error("torrent is not a bencoded dictionary")]
    NotADict,
    #[error("torrent has no info dictionary")]
    MissingInfo,
    #[error("torrent has no name")]
    MissingName,
    #[error("torrent has no piece length")]
    MissingPieceLength,
    #[error("invalid piece length {0} (must be a multiple of 16 KiB up to 128 MiB; a power of two for v2)")]
    InvalidPieceLength(i64),
    #[error("invalid length: {0}")]
    InvalidLength(String),
    #[error("torrent has no v1 piece hashes (`pieces`)")]
    MissingPieces,
    #[error("invalid v1 piece hashes: {0}")]
    InvalidPieces(String),
    #[error("torrent has no files")]
    NoFiles,
    #[error("torrent has too many files (limit {0})")]
    TooManyFiles(usize),
    #[error("torrent has {0} pieces, more than the limit")]
    TooManyPieces(u64),
    #[error("invalid file path: {0}")]
    InvalidPath(String),
    #[error("invalid file entry: {0}")]
    InvalidFile(String),
    #[error("v2 file tree keys are not sorted")]
    UnorderedFileTree,
    #[error("the v1 and v2 parts of the hybrid torrent disagree: {0}")]
    InconsistentFiles(String),
    #[error("invalid piece layer: {0}")]
    InvalidPieceLayer(String),
    #[error("file {0:?} has no valid `pieces root`")]
    MissingPiecesRoot(String),
    #[error("invalid pad file: {0}")]
    InvalidPadFile(String),
    #[error("too many files with the same name: {0}")]
    DuplicateFiles(String),
    #[error("invalid symlink: {0}")]
    InvalidSymlink(String),
    #[error("unsupported or invalid `meta version` {0}")]
    UnsupportedVersion(i64),
    /// The files do not tile the piece address space (a bug guard: the
    /// parser builds layouts that are valid by construction).
    #[error(transparent)]
    Layout(#[from] crate::layout::LayoutError),
}
