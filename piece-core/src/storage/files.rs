//! Helpers shared by the on-disk backends: opening files beneath the
//! download folder without following symlinks, and a bounded LRU cache of
//! open handles.
//!
//! # Path safety
//!
//! Paths in a [`Layout`] are sanitised relative paths, but the tree on disk
//! may contain symlinks planted by someone else. [`open_beneath`] therefore
//! opens the root directory once and then walks every directory component
//! with `openat(O_DIRECTORY | O_NOFOLLOW)`, creating missing directories
//! with `mkdirat`, and opens the final component with `O_NOFOLLOW`. A symlink
//! (or a non-directory) anywhere below the root is refused with
//! [`StorageError::UnsafePath`]; only the root itself may be a symlink,
//! because the user chose it. The final file must be a regular file.

use std::collections::HashMap;
use std::ffi::CString;
use std::fs::File;
use std::hash::Hash;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::{io_err, OpenMode, StorageError};
use crate::layout::Layout;

/// Default bound on cached open file handles per storage.
pub const DEFAULT_MAX_HANDLES: usize = 256;

/// How a file is opened by [`open_beneath`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct OpenFlags {
    /// Create the file (and its parent directories) if missing.
    pub create: bool,
    /// Open for reading and writing (otherwise read-only).
    pub write: bool,
}

fn cstr(name: &std::ffi::OsStr, full: &Path) -> Result<CString, StorageError> {
    CString::new(name.as_bytes()).map_err(|_| StorageError::UnsafePath {
        path: full.to_path_buf(),
    })
}

fn last_os_error() -> io::Error {
    io::Error::last_os_error()
}

/// Opens `rel` beneath `root` without following any symlink below `root`.
///
/// Returns `Ok(None)` if the file (or a directory on its way) does not
/// exist and `flags.create` is false.
pub(crate) fn open_beneath(
    root: &Path,
    rel: &Path,
    flags: OpenFlags,
) -> Result<Option<File>, StorageError> {
    let full = root.join(rel);
    let unsafe_path = || StorageError::UnsafePath { path: full.clone() };
    let comps: Vec<&std::ffi::OsStr> = rel
        .components()
        .map(|c| match c {
            Component::Normal(s) => Ok(s),
            _ => Err(unsafe_path()),
        })
        .collect::<Result<_, _>>()?;
    let Some((last, dirs)) = comps.split_last() else {
        return Err(unsafe_path());
    };

    let root_c = CString::new(root.as_os_str().as_bytes()).map_err(|_| unsafe_path())?;
    // SAFETY: plain syscall on a NUL-terminated path.
    let fd = unsafe {
        libc::open(
            root_c.as_ptr(),
            libc::O_DIRECTORY | libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        let e = last_os_error();
        if e.kind() == io::ErrorKind::NotFound && !flags.create {
            return Ok(None);
        }
        return Err(io_err(root, e));
    }
    // SAFETY: fd is a fresh, owned descriptor.
    let mut dir = unsafe { OwnedFd::from_raw_fd(fd) };

    for (i, name) in dirs.iter().enumerate() {
        let c = cstr(name, &full)?;
        let mut created = false;
        loop {
            // SAFETY: dir is a valid directory fd, c is NUL-terminated.
            let fd = unsafe {
                libc::openat(
                    dir.as_raw_fd(),
                    c.as_ptr(),
                    libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_RDONLY | libc::O_CLOEXEC,
                )
            };
            if fd >= 0 {
                // SAFETY: fresh owned descriptor.
                dir = unsafe { OwnedFd::from_raw_fd(fd) };
                break;
            }
            let e = last_os_error();
            match e.raw_os_error() {
                Some(libc::ELOOP) | Some(libc::ENOTDIR) => return Err(unsafe_path()),
                Some(libc::ENOENT) if flags.create && !created => {
                    // SAFETY: as above.
                    let r = unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), 0o755) };
                    if r < 0 {
                        let e = last_os_error();
                        if e.raw_os_error() != Some(libc::EEXIST) {
                            let p: PathBuf = root.join(dirs[..=i].iter().collect::<PathBuf>());
                            return Err(io_err(&p, e));
                        }
                    }
                    created = true;
                }
                Some(libc::ENOENT) if !flags.create => return Ok(None),
                _ => {
                    let p: PathBuf = root.join(dirs[..=i].iter().collect::<PathBuf>());
                    return Err(io_err(&p, e));
                }
            }
        }
    }

    let c = cstr(last, &full)?;
    let mut oflags = libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK;
    oflags |= if flags.write {
        libc::O_RDWR
    } else {
        libc::O_RDONLY
    };
    if flags.create {
        oflags |= libc::O_CREAT;
    }
    // SAFETY: as above; mode is passed as the variadic argument.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), c.as_ptr(), oflags, 0o644 as libc::c_uint) };
    if fd < 0 {
        let e = last_os_error();
        return match e.raw_os_error() {
            Some(libc::ELOOP) => Err(unsafe_path()),
            Some(libc::ENOENT) if !flags.create => Ok(None),
            _ => Err(io_err(&full, e)),
        };
    }
    // SAFETY: fresh owned descriptor.
    let file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let md = file.metadata().map_err(|e| io_err(&full, e))?;
    if !md.is_file() {
        return Err(unsafe_path());
    }
    Ok(Some(file))
}

/// An LRU map: O(log n) hits and evictions (the bound may be tens of
/// thousands of open files for a torrent of many files, so eviction must
/// not scan).
pub(crate) struct Lru<K, V> {
    map: HashMap<K, (V, u64)>,
    /// Last use -> key, oldest first.
    order: std::collections::BTreeMap<u64, K>,
    tick: u64,
    cap: usize,
}

impl<K: Hash + Eq + Copy, V: Clone> Lru<K, V> {
    pub fn new(cap: usize) -> Self {
        Lru {
            map: HashMap::new(),
            order: std::collections::BTreeMap::new(),
            tick: 0,
            cap: cap.max(1),
        }
    }
    pub fn get(&mut self, k: &K) -> Option<V> {
        self.tick += 1;
        let t = self.tick;
        let (v, used) = self.map.get_mut(k)?;
        self.order.remove(used);
        *used = t;
        self.order.insert(t, *k);
        Some(v.clone())
    }
    /// Inserts, evicting the least recently used entry when full.
    pub fn insert(&mut self, k: K, v: V) {
        if !self.map.contains_key(&k) && self.map.len() >= self.cap {
            if let Some((_, old)) = self.order.pop_first() {
                self.map.remove(&old);
            }
        }
        self.tick += 1;
        if let Some((_, used)) = self.map.insert(k, (v, self.tick)) {
            self.order.remove(&used);
        }
        self.order.insert(self.tick, k);
    }
    pub fn remove(&mut self, k: &K) -> Option<V> {
        let (v, used) = self.map.remove(k)?;
        self.order.remove(&used);
        Some(v)
    }
    pub fn retain(&mut self, mut f: impl FnMut(&K, &V) -> bool) {
        let order = &mut self.order;
        self.map.retain(|k, (v, used)| {
            let keep = f(k, v);
            if !keep {
                order.remove(used);
            }
            keep
        });
    }
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.map.values().map(|(v, _)| v)
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
}

/// An open file of the torrent.
pub(crate) struct Handle {
    pub file: File,
    pub path: PathBuf,
    /// Expected length from the layout.
    pub expected: u64,
    pub writable: bool,
    /// Already grown to `expected` (create mode) on a first write.
    sized: AtomicBool,
}

impl Handle {
    /// Current size on disk (fstat).
    pub fn current_len(&self) -> Result<u64, StorageError> {
        self.file
            .metadata()
            .map(|m| m.len())
            .map_err(|e| io_err(&self.path, e))
    }
    /// Fails with `FileChanged` unless the file still holds `end` bytes.
    pub fn require_len(&self, end: u64) -> Result<(), StorageError> {
        let found = self.current_len()?;
        if found < end {
            return Err(StorageError::FileChanged {
                path: self.path.clone(),
                expected: self.expected,
                found,
            });
        }
        Ok(())
    }
}

/// Bounded cache of open handles, shared by the disk backends.
pub(crate) struct Handles {
    pub root: PathBuf,
    pub mode: OpenMode,
    paths: Vec<PathBuf>,
    lengths: Vec<u64>,
    lru: Mutex<Lru<usize, Arc<Handle>>>,
    /// Files written since the last flush.
    dirty: Mutex<std::collections::BTreeSet<usize>>,
}

impl Handles {
    pub fn new(
        root: &Path,
        layout: &Layout,
        mode: OpenMode,
        cap: usize,
    ) -> Result<Self, StorageError> {
        if mode == OpenMode::Create {
            std::fs::create_dir_all(root).map_err(|e| io_err(root, e))?;
        }
        Ok(Handles {
            root: root.to_path_buf(),
            mode,
            paths: layout.files().iter().map(|f| f.path.clone()).collect(),
            lengths: layout.files().iter().map(|f| f.length).collect(),
            lru: Mutex::new(Lru::new(cap)),
            dirty: Mutex::new(Default::default()),
        })
    }

    pub fn full_path(&self, i: usize) -> PathBuf {
        self.root.join(&self.paths[i])
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lru<usize, Arc<Handle>>> {
        self.lru.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The handle of file `i`. For a read in create mode a missing file
    /// gives `Ok(None)` (it reads as zeros); in existing mode it is an error.
    /// For a write in create mode the file is created and grown (sparse) to
    /// its length on first use.
    pub fn get(&self, i: usize, for_write: bool) -> Result<Option<Arc<Handle>>, StorageError> {
        let h = {
            let mut lru = self.lock();
            match lru.get(&i) {
                Some(h) => Some(h),
                None => {
                    let create = self.mode == OpenMode::Create && for_write;
                    let rel = &self.paths[i];
                    let mut opened = open_beneath(
                        &self.root,
                        rel,
                        OpenFlags {
                            create,
                            write: true,
                        },
                    );
                    let mut writable = true;
                    if let Err(StorageError::Io { source, .. }) = &opened {
                        let ro = matches!(
                            source.raw_os_error(),
                            Some(libc::EACCES) | Some(libc::EROFS)
                        );
                        if ro && self.mode == OpenMode::Existing {
                            writable = false;
                            opened = open_beneath(
                                &self.root,
                                rel,
                                OpenFlags {
                                    create,
                                    write: false,
                                },
                            );
                        }
                    }
                    match opened? {
                        None => None,
                        Some(file) => {
                            let h = Arc::new(Handle {
                                file,
                                path: self.full_path(i),
                                expected: self.lengths[i],
                                writable,
                                sized: AtomicBool::new(false),
                            });
                            lru.insert(i, h.clone());
                            Some(h)
                        }
                    }
                }
            }
        };
        let Some(h) = h else {
            if self.mode == OpenMode::Existing {
                return Err(io_err(
                    &self.full_path(i),
                    io::Error::new(io::ErrorKind::NotFound, "file is missing"),
                ));
            }
            return Ok(None);
        };
        if for_write {
            if !h.writable {
                return Err(io_err(
                    &h.path,
                    io::Error::new(io::ErrorKind::PermissionDenied, "file is read-only"),
                ));
            }
            if self.mode == OpenMode::Create && !h.sized.load(Ordering::Acquire) {
                let len = h.current_len()?;
                if len < h.expected {
                    h.file.set_len(h.expected).map_err(|e| io_err(&h.path, e))?;
                }
                h.sized.store(true, Ordering::Release);
            }
            self.dirty
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(i);
        }
        Ok(Some(h))
    }

    /// Forgets a cached handle (after an error, so the next use reopens).
    pub fn forget(&self, i: usize) {
        self.lock().remove(&i);
    }

    /// fsyncs every file written since the last call.
    pub fn sync_dirty(&self) -> Result<(), StorageError> {
        let dirty = std::mem::take(&mut *self.dirty.lock().unwrap_or_else(|p| p.into_inner()));
        for i in dirty {
            if let Some(h) = self.get(i, false)? {
                h.file.sync_data().map_err(|e| io_err(&h.path, e))?;
            }
        }
        Ok(())
    }

    /// Creates every real file (create mode) or checks that each exists with
    /// its full length (existing mode).
    pub fn ensure_files(&self, layout: &Layout) -> Result<(), StorageError> {
        for (i, f) in layout.real_files() {
            match self.mode {
                OpenMode::Create => {
                    self.get(i, true)?;
                }
                OpenMode::Existing => {
                    if let Some(h) = self.get(i, false)? {
                        h.require_len(f.length)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Size and mtime of every real file, without opening through symlinks.
    pub fn check_files(&self, layout: &Layout) -> Vec<super::FileState> {
        layout
            .real_files()
            .map(|(i, f)| {
                let path = self.full_path(i);
                let opened = open_beneath(
                    &self.root,
                    &f.path,
                    OpenFlags {
                        create: false,
                        write: false,
                    },
                );
                let md = match opened {
                    Ok(Some(file)) => file.metadata().ok(),
                    _ => None,
                };
                super::FileState {
                    index: i,
                    path,
                    exists: md.is_some(),
                    size: md.as_ref().map(|m| m.len()).unwrap_or(0),
                    mtime: md.and_then(|m| m.modified().ok()),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Lru;

    #[test]
    fn lru_evicts_the_least_recently_used() {
        let mut l = Lru::new(3);
        for k in 0..3 {
            l.insert(k, k * 10);
        }
        assert_eq!(l.get(&0), Some(0)); // 1 is now the oldest
        l.insert(3, 30);
        assert_eq!(l.get(&1), None);
        assert_eq!(l.len(), 3);
        l.insert(0, 1); // replacing keeps the size
        assert_eq!(l.len(), 3);
        assert_eq!(l.remove(&2), Some(20));
        l.retain(|k, _| *k != 3);
        l.insert(4, 40);
        l.insert(5, 50);
        l.insert(6, 60);
        assert_eq!(l.get(&0), None, "0 was the oldest");
        assert_eq!(l.values().count(), 3);
        assert_eq!((l.get(&4), l.get(&6)), (Some(40), Some(60)));
    }
}
