//! The errors of the embedding API: [`SessionError`] for session and
//! handle operations, [`TorrentError`] for what stops a running torrent
//! (carried by [`super::TorrentEvent::Error`]).
//!
//! Each `Display` says what failed at its own level; the cause is its
//! [`std::error::Error::source`] (print the chain with
//! [`crate::ErrorChain`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use piece_core::create::CreateError;
use piece_core::hash::HashesError;
use piece_core::magnet::MagnetError;
use piece_core::metainfo::MetainfoError;
use piece_core::storage::StorageError;

use super::MAX_TORRENT_FILE;
use crate::net::NetError;
use crate::resume::ResumeError;

/// Errors of session operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// Binding a listener or setting up QUIC failed.
    #[error(transparent)]
    Net(#[from] NetError),
    /// Reading a file (a .torrent, the folder to share) failed.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A .torrent file larger than [`MAX_TORRENT_FILE`].
    #[error("{path} is larger than {MAX_TORRENT_FILE} bytes; not a .torrent file")]
    TorrentTooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The .torrent does not parse.
    #[error("invalid torrent")]
    Metainfo(#[from] MetainfoError),
    /// The magnet link does not parse.
    #[error("invalid magnet link")]
    Magnet(#[from] MagnetError),
    /// Making a torrent of a file or folder failed.
    #[error("creating the torrent")]
    Create(#[from] CreateError),
    /// The torrent's piece hashes are inconsistent.
    #[error("torrent hashes")]
    Hashes(#[from] HashesError),
    /// Opening the data failed.
    #[error("opening the data")]
    Storage(#[from] StorageError),
    /// Seeding (`AddOptions::seed`) data that is not all there: only
    /// `have` of `total` pieces passed their hash check. Nothing was added.
    #[error("cannot seed: only {have} of {total} pieces of the data are present and valid")]
    IncompleteData {
        /// Pieces that passed their hash check.
        have: u32,
        /// Pieces of the torrent.
        total: u32,
    },
    /// A torrent with the same info-hash is already in the session.
    #[error("this torrent is already in the session")]
    Duplicate,
    /// The torrent stopped on an error (the same one its
    /// [`super::TorrentEvent::Error`] reported).
    #[error("the torrent stopped")]
    Torrent(#[from] TorrentError),
    /// A background task of the session panicked or was cancelled.
    #[error("a background task failed")]
    Task(#[from] tokio::task::JoinError),
    /// A wait with a time limit ran out (the torrent keeps running).
    #[error("not done within {0:?}")]
    Timeout(Duration),
    /// The session or torrent is shut down (or the torrent was removed).
    #[error("the session or torrent is shut down")]
    Closed,
}

/// What stopped or troubled a running torrent. Cheap to clone (sources
/// are shared).
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TorrentError {
    /// Reading or writing the data of `piece` failed; the torrent paused
    /// itself ([`super::TorrentHandle::resume`] retries).
    #[error("reading or writing piece {piece}")]
    Storage {
        /// The piece.
        piece: u32,
        /// Why.
        #[source]
        source: Arc<StorageError>,
    },
    /// Flushing the data to disk failed.
    #[error("flushing the data to disk")]
    Flush(#[source] Arc<StorageError>),
    /// Writing the resume file failed (the download goes on; a restart
    /// re-checks the data).
    #[error("saving resume data")]
    SaveResume(#[source] Arc<ResumeError>),
    /// Magnet: the metadata matched the info-hash but does not parse.
    #[error("the torrent's metadata is invalid")]
    Metadata(#[source] Arc<MetainfoError>),
    /// Magnet: the metadata's piece hashes are inconsistent.
    #[error("the torrent's piece hashes are invalid")]
    Hashes(#[source] Arc<HashesError>),
    /// Magnet: opening the storage for the fetched metadata failed.
    #[error("opening the data")]
    OpenStorage(#[source] Arc<StorageError>),
}
