//! What the web page and the admin API see of the daemon: an immutable
//! snapshot of every collection (published or mirrored), swapped atomically
//! whenever a collection gets a new version.
//!
//! The web layer never builds a filesystem path from a URL: it looks a file
//! up by `(collection name, file id)` in the snapshot and opens the
//! [`FileEntry::disk_path`] the daemon put there.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;

use crate::meta::FileMeta;

/// Where a collection comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A folder of this seedbox, published under its own key.
    Local,
    /// A copy that follows another seedbox's collection.
    Mirror,
}

/// One file of a collection.
#[derive(Clone, Debug, Serialize)]
pub struct FileEntry {
    /// Stable identifier within the collection, safe in a URL: lowercase hex
    /// (the file's v2 pieces root when it has one, otherwise a hash of its
    /// path). The web serves files only by this id.
    pub id: String,
    /// Path inside the collection, components joined by `/`, for display and
    /// search only (never joined onto a filesystem path by the web layer).
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification time on disk, when known.
    pub mtime: Option<SystemTime>,
    /// Whether every piece of this file is present and verified (a mirror
    /// that is still downloading has incomplete files; they are listed but
    /// not served).
    pub complete: bool,
    /// Where the daemon keeps the file. Not serialised.
    #[serde(skip)]
    pub disk_path: PathBuf,
    /// The file as the daemon saw it when it listed this version. The web
    /// serves a file only if the file it opens (without following a
    /// symlink) is this one; `None`: not served. Not serialised.
    #[serde(skip)]
    pub identity: Option<FileIdentity>,
    /// A hash of the file's content, when the torrent has one (its v2
    /// pieces root, hex): the web's entity tag, which so changes with this
    /// file's content and only with it. Not serialised.
    #[serde(skip)]
    pub content_hash: Option<String>,
    /// What the catalogue shows: title, authors, language, description,
    /// tags, pages, cover (see [`crate::meta`]). Serialised inline.
    #[serde(flatten)]
    pub meta: Arc<FileMeta>,
}

impl FileEntry {
    /// The title to show (never empty: made from the file name when the
    /// file has none).
    pub fn title(&self) -> &str {
        &self.meta.title
    }

    /// The first author, when known.
    pub fn first_author(&self) -> Option<&str> {
        self.meta.authors.first().map(String::as_str)
    }

    /// A key to sort files by title, then author (case and diacritics
    /// folded, as search compares them).
    pub fn sort_key(&self) -> (&str, String) {
        (
            &self.meta.title_folded,
            crate::meta::fold(self.first_author().unwrap_or("")),
        )
    }
}

/// Which file on disk, and in which state: what the web checks the file it
/// opened against before sending a byte of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileIdentity {
    /// Device and inode: the same file, not another one put at its path
    /// (a symlink, a rename, a hard link to something else).
    pub dev: u64,
    pub ino: u64,
    /// Size and modification time: the same contents.
    pub size: u64,
    pub mtime_ns: i128,
}

impl FileIdentity {
    /// The identity of a file's metadata (as `stat`/`fstat` give it).
    pub fn of(md: &std::fs::Metadata) -> FileIdentity {
        use std::os::unix::fs::MetadataExt;
        FileIdentity {
            dev: md.dev(),
            ino: md.ino(),
            size: md.len(),
            mtime_ns: i128::from(md.mtime()) * 1_000_000_000 + i128::from(md.mtime_nsec()),
        }
    }
}

/// A file of a collection folder that is not shared, and why (it could not
/// be read, its name is not UTF-8, it is a symbolic link...). Files left
/// out by the collection's exclude rules are not listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SkippedFile {
    /// Path inside the collection folder (`/`-separated; lossy for names
    /// that are not UTF-8).
    pub path: String,
    /// Why it is not shared.
    pub reason: String,
}

/// One collection, at one version.
#[derive(Clone, Debug, Serialize)]
pub struct CollectionSnapshot {
    /// The collection's name (unique within a seedbox; URL-safe slug).
    pub name: String,
    /// Human title (defaults to the name).
    pub title: String,
    /// Local or mirrored.
    pub origin: Origin,
    /// The publisher's public key (hex), the collection's stable identity.
    pub key: String,
    /// Version sequence number (grows with every publication).
    pub seq: u64,
    /// Info-hashes of this version's torrent (hex; v1 absent for v2-only).
    pub info_hash_v1: Option<String>,
    pub info_hash_v2: Option<String>,
    /// Magnet link of this version.
    pub magnet: String,
    /// The .torrent file of this version. Not serialised.
    #[serde(skip)]
    pub torrent: Arc<Vec<u8>>,
    /// Whether a v1-only companion can be offered, for clients that cannot
    /// read hybrid torrents ([`crate::compat`]): not for a v2-only torrent.
    /// It is made when first asked for ([`Library::v1_torrent`]). Not
    /// serialised.
    #[serde(skip)]
    pub v1_compatible: bool,
    /// When this version was published (or fetched, for a mirror).
    pub updated: SystemTime,
    /// Files, sorted by path.
    pub files: Vec<FileEntry>,
}

impl CollectionSnapshot {
    /// Total size of the collection's files.
    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
    /// A file by its id.
    pub fn file(&self, id: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.id == id)
    }
}

/// Every collection of the seedbox, at one moment.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LibrarySnapshot {
    /// Sorted by name.
    pub collections: Vec<CollectionSnapshot>,
}

impl LibrarySnapshot {
    /// A collection by name.
    pub fn collection(&self, name: &str) -> Option<&CollectionSnapshot> {
        self.collections.iter().find(|c| c.name == name)
    }
}

/// Live figures for the admin page and JSON API.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Status {
    /// Seconds since the daemon started.
    pub uptime_secs: u64,
    /// Per collection (same order as the snapshot).
    pub collections: Vec<CollectionStatus>,
    /// Bytes used by the collections on disk.
    pub disk_used: u64,
    /// Free bytes on the state directory's file system.
    pub disk_free: u64,
    /// Per local collection: the files of its folder that are not shared.
    pub skipped: BTreeMap<String, Vec<SkippedFile>>,
}

/// Transfer figures of one collection.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CollectionStatus {
    pub name: String,
    pub seq: u64,
    /// Connected peers.
    pub peers: usize,
    /// Fraction verified, 0.0..=1.0.
    pub progress: f64,
    /// Bytes per second, averaged over the last few seconds.
    pub upload_rate: u64,
    pub download_rate: u64,
    /// Totals since the daemon started.
    pub uploaded: u64,
    pub downloaded: u64,
}

/// The daemon side, as the web layer needs it.
pub trait Library: Send + Sync + 'static {
    /// The current snapshot (cheap: an `Arc` clone).
    fn snapshot(&self) -> Arc<LibrarySnapshot>;
    /// Live figures.
    fn status(&self) -> Status;
    /// This seedbox's stable identity (its publisher key, hex): what makes
    /// its OPDS ids differ from every other seedbox's.
    fn seedbox_key(&self) -> String;
    /// Collection `collection`'s v1-only .torrent ([`crate::compat`]), made
    /// on the first request and seeded from then on: each companion is a
    /// second torrent of every file in memory, which a Pi should not carry
    /// until someone asks. `None` when there is none. By default none.
    fn v1_torrent(&self, collection: &str) -> Option<Arc<Vec<u8>>> {
        let _ = collection;
        None
    }
    /// The folder that file `name` (one path component, already checked by
    /// the web layer) is added to in collection `collection` by an upload
    /// from the admin page, if the collection takes it. By default no
    /// collection does.
    fn upload_folder(&self, collection: &str, name: &str) -> Result<PathBuf, NoUpload> {
        let _ = (collection, name);
        Err(NoUpload::Unsupported)
    }
}

/// Why a file cannot be added to a collection from the admin page
/// ([`Library::upload_folder`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NoUpload {
    #[error("there is no collection named “{0}” on this seedbox")]
    Unknown(String),
    #[error(
        "“{0}” is a mirror of another seedbox's collection: add files at the seedbox that \
         publishes it (this one would delete them with its next version)"
    )]
    Mirror(String),
    #[error(
        "“{name}” would not be shared: the collection “{collection}” leaves such files out \
         (hidden, temporary or excluded names)"
    )]
    Excluded { collection: String, name: String },
    #[error("this seedbox takes no uploads")]
    Unsupported,
}
