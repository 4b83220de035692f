//! What the daemon keeps in its state folder, and the on-disk view of a
//! collection folder.
//!
//! ```text
//! <state_dir>/identity.key            Ed25519 secret seed, hex, mode 0600
//! <state_dir>/resume/                 the swarm session's resume files
//! <state_dir>/collections/<name>.json CollectionState (seq, key, manifest)
//! <state_dir>/collections/<name>.torrent  the current version's .torrent
//! ```
//!
//! Every file is written atomically (temp file, fsync, rename), so a killed
//! daemon leaves either the old or the new version, never half of one.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use piece_core::metainfo::Metainfo;
use piece_core::Layout;
use serde::{Deserialize, Serialize};
use swarm::discovery::signed::Publisher;
use swarm::resume::write_atomically;
use swarm::session::StorageFactory;

/// State-folder failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {msg}")]
    Corrupt { path: PathBuf, msg: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The seedbox's signing identity: loaded from `identity.key`, or made and
/// saved (mode 0600) on first start.
pub fn load_or_create_identity(state_dir: &Path) -> Result<Publisher, StoreError> {
    let path = state_dir.join("identity.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let mut seed = [0u8; 32];
            hex::decode_to_slice(text.trim(), &mut seed).map_err(|_| StoreError::Corrupt {
                path: path.clone(),
                msg: "expected 64 hex digits (delete it to make a new identity; mirrors that pinned the old key will stop following)".into(),
            })?;
            Ok(Publisher::from_seed(seed))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(state_dir).map_err(io(state_dir))?;
            let p = Publisher::generate();
            let tmp = state_dir.join(".identity.key.tmp");
            {
                use std::io::Write;
                use std::os::unix::fs::OpenOptionsExt;
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(&tmp)
                    .map_err(io(&tmp))?;
                writeln!(f, "{}", hex::encode(p.seed())).map_err(io(&tmp))?;
                f.sync_all().map_err(io(&tmp))?;
            }
            std::fs::rename(&tmp, &path).map_err(io(&path))?;
            Ok(p)
        }
        Err(e) => Err(StoreError::Io { path, source: e }),
    }
}

/// One file of a collection folder as seen by `stat`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Path inside the folder, components joined by `/`.
    pub path: String,
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i128,
}

/// The files of a collection folder (sorted by path components, like
/// torrent creation), compared between scans to see whether anything
/// changed without reading a byte ([`crate::scan::Listing::manifest`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub files: Vec<ManifestFile>,
}

impl Manifest {
    /// The files' paths and sizes, for [`rooted_layout`].
    pub fn real_files(&self) -> Vec<swarm::session::RealFile> {
        self.files
            .iter()
            .map(|f| swarm::session::RealFile {
                path: f.path.clone(),
                size: f.size,
            })
            .collect()
    }

    /// Total bytes.
    pub fn total(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// What the daemon remembers of one collection (local or mirrored).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CollectionState {
    /// Sequence number of the current version (0: none yet).
    pub seq: u64,
    /// The publisher key (hex): ours for a local collection, the pinned
    /// one for a mirror.
    pub key: Option<String>,
    /// The folder as it was when the current version was made (local) or
    /// completed (mirror).
    pub manifest: Manifest,
    /// When the current version was published or fetched (Unix seconds).
    pub updated: u64,
    /// A mirror's copy of the publisher's signature over the current
    /// version (hex), so it can vouch for it to others after a restart.
    #[serde(default)]
    pub sig: Option<String>,
    /// A mirror's copy of the title that signature covers (none in a
    /// record of the untitled format).
    #[serde(default)]
    pub title: Option<String>,
}

/// Where one collection's state lives.
#[derive(Clone, Debug)]
pub struct CollectionFiles {
    pub json: PathBuf,
    pub torrent: PathBuf,
}

impl CollectionFiles {
    pub fn new(state_dir: &Path, name: &str) -> Self {
        let d = state_dir.join("collections");
        CollectionFiles {
            json: d.join(format!("{name}.json")),
            torrent: d.join(format!("{name}.torrent")),
        }
    }

    /// The saved state and torrent, if both are there and readable.
    pub fn load(&self) -> Result<Option<(CollectionState, Vec<u8>)>, StoreError> {
        let text = match std::fs::read(&self.json) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&self.json)(e)),
        };
        let st: CollectionState =
            serde_json::from_slice(&text).map_err(|e| StoreError::Corrupt {
                path: self.json.clone(),
                msg: e.to_string(),
            })?;
        match std::fs::read(&self.torrent) {
            Ok(t) => Ok(Some((st, t))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&self.torrent)(e)),
        }
    }

    /// Only the JSON state (a mirror's pinned key survives without a torrent).
    pub fn load_state(&self) -> Option<CollectionState> {
        serde_json::from_slice(&std::fs::read(&self.json).ok()?).ok()
    }

    /// Save a new version: the torrent first, then the state naming it, so
    /// a crash in between leaves a torrent the state does not vouch for
    /// (and the next start re-checks).
    pub fn save(&self, st: &CollectionState, torrent: &[u8]) -> Result<(), StoreError> {
        if let Some(d) = self.json.parent() {
            std::fs::create_dir_all(d).map_err(io(d))?;
        }
        write_atomically(&self.torrent, torrent).map_err(io(&self.torrent))?;
        self.save_state(st)
    }

    /// Save only the JSON state.
    pub fn save_state(&self, st: &CollectionState) -> Result<(), StoreError> {
        if let Some(d) = self.json.parent() {
            std::fs::create_dir_all(d).map_err(io(d))?;
        }
        let json = serde_json::to_vec_pretty(st).map_err(|e| StoreError::Corrupt {
            path: self.json.clone(),
            msg: e.to_string(),
        })?;
        write_atomically(&self.json, &json).map_err(io(&self.json))
    }
}

/// Unix seconds now.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A relative path as the collection lists it: components joined by `/`
/// (lossy for names that are not UTF-8).
pub fn slash_path(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The torrent's layout with its files directly in a folder of our
/// choosing, whatever the torrent is called, named as on disk when `real`
/// (for a folder we published ourselves: the [`Manifest`] the torrent was
/// made from) matches it: [`swarm::session::rooted_layout`], the mechanism
/// `swarm share` uses too.
pub fn rooted_layout(
    meta: &Metainfo,
    real: Option<&Manifest>,
) -> Result<Layout, piece_core::layout::LayoutError> {
    swarm::session::rooted_layout(meta, real.map(Manifest::real_files).as_deref())
}

/// A storage factory that puts the torrent's files directly in `folder`
/// ([`swarm::session::rooted_storage`]); `save_dir` is ignored.
pub fn rooted_storage(folder: PathBuf, real: Option<Arc<Manifest>>) -> StorageFactory {
    swarm::session::rooted_storage(folder, real.map(|m| m.real_files().into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_made_once_and_private() {
        let d = tempfile::tempdir().unwrap();
        let a = load_or_create_identity(d.path()).unwrap();
        let b = load_or_create_identity(d.path()).unwrap();
        assert_eq!(a.public(), b.public());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.path().join("identity.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(d.path().join("identity.key"), "garbage").unwrap();
        assert!(matches!(
            load_or_create_identity(d.path()),
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn state_round_trips() {
        let d = tempfile::tempdir().unwrap();
        let f = CollectionFiles::new(d.path(), "zines");
        assert!(f.load().unwrap().is_none());
        let st = CollectionState {
            seq: 4,
            key: Some("ab".into()),
            ..Default::default()
        };
        f.save(&st, b"torrent").unwrap();
        let (back, t) = f.load().unwrap().unwrap();
        assert_eq!(back.seq, 4);
        assert_eq!(t, b"torrent");
    }
}
