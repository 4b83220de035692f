// Every public item is documented (an app embeds this crate).
#![warn(missing_docs)]
#![doc = include_str!("../../README.md")]
//!
//! # This crate
//!
//! `piece-core` is the synchronous, performance-critical core of swarm:
//! bencode, torrent metainfo (v1, v2/BEP 52, hybrid), magnet links,
//! hashing, storage backends and the piece picker. It has no async runtime
//! and no network code.

pub mod bencode;
pub mod bitfield;
pub mod create;
pub mod hash;
pub mod hasher;
pub mod layout;
pub mod magnet;
pub mod merkle;
pub mod metainfo;
pub mod path;
pub mod picker;
pub mod storage;
pub mod types;

pub use bitfield::Bitfield;
pub use layout::{Layout, LayoutFile};
pub use types::{BlockInfo, InfoHashV1, InfoHashV2, InfoHashes, Lengths, PieceIndex, BLOCK_SIZE};

/// Errors from constructing core types.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Invalid piece geometry.
    #[error(transparent)]
    Lengths(#[from] types::LengthsError),
    /// Files that do not tile the piece address space.
    #[error(transparent)]
    Layout(#[from] layout::LayoutError),
}
