//! Where a torrent's data lives: the storage backends a session picks, and
//! storage rooted at a shared folder whose files keep their names on disk.
//!
//! Torrent paths are sanitised when the metainfo is parsed (`?`, `<`, `:`
//! and other characters some systems forbid become `_`, a trailing dot is
//! dropped), so the parsed names of a folder we share ourselves may not be
//! the names on disk. The sharer keeps the real names: [`rooted_layout`]
//! takes them from the files as listed on disk ([`real_files`]) when the
//! listing matches the torrent file for file (count and sizes). Used by
//! `Session::share_path` (and so `swarm share`) and by the seedbox for
//! its collections.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use piece_core::create::{list_files, CreateError};
use piece_core::layout::LayoutError;
use piece_core::metainfo::Metainfo;
use piece_core::storage::{MmapStorage, OpenMode, PreadStorage, Storage, StorageError};
use piece_core::{Layout, LayoutFile};

/// Builds the storage of a torrent: `(save_dir, metainfo, existing)`.
/// `existing` means the data must already be there (seeding). A test hook
/// (e.g. to wrap the storage in a `FaultStorage`); the default is
/// [`MmapStorage`].
pub type StorageFactory =
    Arc<dyn Fn(&Path, &Metainfo, bool) -> Result<Arc<dyn Storage>, StorageError> + Send + Sync>;

/// Opens a torrent's storage through `factory`, else [`default_storage`];
/// existing data read through `pread` instead of mmap when `seed_with_mmap`
/// is false (`SessionConfig::seed_with_mmap`: no SIGBUS handler).
pub(crate) fn open_storage(
    factory: &Option<StorageFactory>,
    save_dir: &Path,
    meta: &Metainfo,
    existing: bool,
    seed_with_mmap: bool,
) -> Result<Arc<dyn Storage>, StorageError> {
    match factory {
        Some(f) => f(save_dir, meta, existing),
        None => {
            let layout = meta.info.layout.clone();
            let s: Arc<dyn Storage> = if existing && !seed_with_mmap {
                Arc::new(PreadStorage::open(save_dir, layout, OpenMode::Existing)?)
            } else {
                default_storage(save_dir, layout, existing)?
            };
            if existing {
                s.ensure_files()?;
            }
            Ok(s)
        }
    }
}

/// The storage backend a session uses for `layout` under `root`: for data
/// that is already there (seeding), [`MmapStorage`], reads straight from
/// the page cache; for a download, [`PreadStorage`], positioned writes that
/// need no read-fault per new page and do not count the written data in
/// RSS, keeping one open file per torrent file when the file limit allows.
/// Nothing is opened yet; for existing data, [`Storage::ensure_files`]
/// checks every file.
pub fn default_storage(
    root: &Path,
    layout: Layout,
    existing: bool,
) -> Result<Arc<dyn Storage>, StorageError> {
    if existing {
        Ok(Arc::new(MmapStorage::open(
            root,
            layout,
            OpenMode::Existing,
        )?))
    } else {
        let handles = download_handles(layout.real_files().count());
        Ok(Arc::new(PreadStorage::with_max_handles(
            root,
            layout,
            OpenMode::Create,
            handles,
        )?))
    }
}

/// Open files a download may keep: one per file of the torrent (pieces
/// arrive in random order, so a smaller cache reopens files all the time),
/// at least the storage default, at most half the process's file limit
/// (sockets need the rest).
fn download_handles(files: usize) -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a valid out-pointer.
    let soft = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        lim.rlim_cur as usize
    } else {
        1024
    };
    let def = piece_core::storage::DEFAULT_MAX_HANDLES;
    files.clamp(def, (soft / 2).max(def))
}

/// Raise this process's soft limit on open files to its hard limit (at
/// most 65,536), as BitTorrent clients do: a library of thousands of files
/// plus peer sockets does not fit the usual 1,024. Call once at start.
pub fn raise_file_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid pointers; setrlimit only lowers/raises our own limit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            let want = lim.rlim_max.min(65_536);
            if want > lim.rlim_cur {
                lim.rlim_cur = want;
                let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            }
        }
    }
}

/// A file as found on disk: its path below the shared folder (components
/// joined by `/`; for a single shared file, its name) and its size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealFile {
    /// Path below the shared folder, components joined by `/`.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
}

/// The files of `path` as [`piece_core::create::create_torrent`] puts them
/// in a torrent, in its order, with their real names: every regular file
/// under a folder, or the file itself.
pub fn real_files(path: &Path) -> Result<Vec<RealFile>, CreateError> {
    let md = std::fs::metadata(path).map_err(|source| CreateError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if !md.is_dir() {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| CreateError::NotUtf8(path.to_path_buf()))?;
        return Ok(vec![RealFile {
            path: name.to_owned(),
            size: md.len(),
        }]);
    }
    Ok(list_files(path)?
        .into_iter()
        .map(|f| RealFile {
            path: f.rel.join("/"),
            size: f.metadata.len(),
        })
        .collect())
}

/// The torrent's layout with its files directly in the shared folder (for
/// a folder torrent, the leading `name/` is dropped; a single-file torrent
/// keeps its one path), named as they are on disk: `real` (in the same
/// order, see [`real_files`]) replaces the parsed paths when it matches
/// the torrent file for file (count and sizes).
pub fn rooted_layout(meta: &Metainfo, real: Option<&[RealFile]>) -> Result<Layout, LayoutError> {
    let layout = &meta.info.layout;
    let name = meta.info.name.as_str();
    let stored: Vec<&LayoutFile> = layout.files().iter().filter(|f| !f.pad).collect();
    let real = real.filter(|r| {
        r.len() == stored.len() && r.iter().zip(&stored).all(|(a, b)| a.size == b.length)
    });
    let mut next_real = real.map(|r| r.iter());
    let files = layout
        .files()
        .iter()
        .map(|f| {
            let path = if f.pad {
                f.path.clone()
            } else if let Some(r) = next_real.as_mut().and_then(Iterator::next) {
                PathBuf::from(&r.path)
            } else {
                let mut comps = f.path.components();
                match comps.next() {
                    Some(Component::Normal(first))
                        if first == std::ffi::OsStr::new(name)
                            && comps.clone().next().is_some() =>
                    {
                        comps.as_path().to_path_buf()
                    }
                    _ => f.path.clone(),
                }
            };
            LayoutFile { path, ..f.clone() }
        })
        .collect();
    Layout::new(*layout.lengths(), files)
}

/// A storage factory that puts the torrent's files directly in `folder`
/// under their real names (see [`rooted_layout`]); `save_dir` is ignored.
/// Files are not opened here: for data already there, missing or resized
/// files show in the resume check that follows (their pieces are not had).
pub fn rooted_storage(folder: PathBuf, real: Option<Arc<[RealFile]>>) -> StorageFactory {
    Arc::new(move |_save_dir: &Path, meta: &Metainfo, existing: bool| {
        let layout = rooted_layout(meta, real.as_deref()).map_err(|e| StorageError::Io {
            path: folder.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
        })?;
        default_storage(&folder, layout, existing)
    })
}
