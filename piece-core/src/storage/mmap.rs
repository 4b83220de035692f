//! Memory-mapped storage (the default backend).
//!
//! # Mapping
//!
//! Each real file is mapped lazily in *windows* of [`MmapOptions::window`]
//! bytes (aligned in the file), on first touch, `MAP_SHARED` and writable
//! when the file could be opened for writing. At most
//! [`MmapOptions::max_maps`] windows and [`MmapOptions::max_handles`] file
//! handles stay open (LRU), so a library of 10,000 files, or a 32-bit
//! seedbox, does not run out of descriptors or address space: on 32-bit
//! targets the defaults keep a storage's mapped windows within 128 MiB of
//! the process's 2-3 GiB of address space (a seedbox holds one storage per
//! collection). File offsets are `u64` throughout (`mmap64`), so files
//! past 4 GiB work on 32-bit too. (QEMU's user-mode emulator before 8.1 truncated `mmap2`
//! offsets of 32-bit guests to 32 bits; scripts/install-deps.sh installs a
//! newer one and `tests/large_file.rs` catches an old one.) `flush`
//! msyncs every live writable window and fsyncs every file written since
//! the last flush (windows evicted meanwhile left their pages in the page
//! cache, which the fsync writes back).
//!
//! # Files changing under us (SIGBUS)
//!
//! Touching a page of a shared mapping beyond the end of its file raises
//! SIGBUS, which by default kills the process. Two defences:
//!
//! 1. Before mapping a window the file's current size is checked (fstat);
//!    a file shorter than the layout says gives
//!    [`StorageError::FileChanged`].
//! 2. For a file truncated *after* it was mapped, a process-wide SIGBUS
//!    handler is installed once (`sigaction` with `SA_SIGINFO`, guarded by
//!    a `std::sync::Once`). Every copy to or from a mapping runs inside
//!    [`guarded_copy`], which records the window's address range in a
//!    thread-local (SIGBUS from a memory access is delivered synchronously
//!    to the faulting thread). When the handler sees a fault address inside
//!    the current thread's guarded range, it maps an anonymous zero page
//!    over the faulting page (`mmap(MAP_FIXED | MAP_ANONYMOUS |
//!    MAP_PRIVATE)`), sets a thread-local "faulted" flag and returns, so
//!    the copy completes (reading zeros / writing into the throw-away page).
//!    After the copy the flag is checked: the operation returns
//!    `FileChanged` and the window is dropped from the cache (it is
//!    unmapped, anonymous page included, once no other thread uses it).
//!    (If the file still has its full size, the page could not be backed:
//!    a write then reports [`StorageError::NoSpace`], as writing into a
//!    sparse file on a full disk faults this way, and a read reports EIO.)
//!    A fault anywhere else is not ours: the handler hands it to the
//!    previously installed handler, or restores the default action and
//!    returns so that the faulting access re-raises it and the process
//!    dies as it would have without us.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};

use super::files::{Handle, Handles, Lru, DEFAULT_MAX_HANDLES};
use super::{check_range, io_err, FileState, OpenMode, Storage, StorageError};
use crate::layout::Layout;
use crate::types::PieceIndex;

/// Tuning of [`MmapStorage`].
#[derive(Clone, Copy, Debug)]
pub struct MmapOptions {
    /// Most file handles kept open.
    pub max_handles: usize,
    /// Most mapped windows kept.
    pub max_maps: usize,
    /// Size of a mapped window in bytes (rounded up to a multiple of the
    /// page size).
    pub window: usize,
    /// Install the process-wide SIGBUS handler (see [`MmapStorage`]) when
    /// the storage is opened; default `true`. With `false` nothing is
    /// installed, and a file truncated by another program while it is
    /// mapped raises SIGBUS, which kills the process unless the
    /// application handles it itself.
    pub sigbus_handler: bool,
}

impl Default for MmapOptions {
    fn default() -> Self {
        #[cfg(target_pointer_width = "64")]
        let (max_maps, window) = (256, 256 << 20);
        #[cfg(not(target_pointer_width = "64"))]
        let (max_maps, window) = (16, 8 << 20);
        MmapOptions {
            max_handles: DEFAULT_MAX_HANDLES,
            max_maps,
            window,
            sigbus_handler: true,
        }
    }
}

/// One mapped window of a file.
struct Window {
    map: memmap2::MmapRaw,
    /// Offset of the window in its file.
    start: u64,
    handle: Arc<Handle>,
    writable: bool,
}

/// Storage through shared memory maps.
///
/// # Process-wide SIGBUS handler
///
/// A file truncated by another program while it is mapped makes the next
/// access to the lost pages raise SIGBUS, which kills the process by
/// default. So that this is an error ([`StorageError::FileChanged`]) and
/// not a crash, opening an `MmapStorage` installs, once per process, a
/// SIGBUS handler (`sigaction`). It handles only faults inside a mapping
/// this type is copying from or to on the faulting thread; any other
/// SIGBUS goes to the handler installed before it, or gets the default
/// action. An application that manages SIGBUS itself can opt out with
/// [`MmapOptions::sigbus_handler`] `= false`, or use
/// [`super::PreadStorage`], which maps nothing (the `swarm` session's
/// `SessionConfig::seed_with_mmap`).
pub struct MmapStorage {
    layout: Layout,
    handles: Handles,
    window: u64,
    maps: Mutex<Lru<(usize, u64), Arc<Window>>>,
}

fn page_size() -> usize {
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    let p = PAGE.load(Ordering::Relaxed);
    if p != 0 {
        return p;
    }
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let p = if p > 0 { p as usize } else { 4096 };
    PAGE.store(p, Ordering::Relaxed);
    p
}

impl MmapStorage {
    /// Storage for `layout` under `root` with default options. Nothing is
    /// opened or mapped yet; in [`OpenMode::Create`] the root directory is
    /// created.
    pub fn open(
        root: impl AsRef<Path>,
        layout: Layout,
        mode: OpenMode,
    ) -> Result<Self, StorageError> {
        Self::with_options(root, layout, mode, MmapOptions::default())
    }

    /// Like [`MmapStorage::open`] with explicit [`MmapOptions`].
    pub fn with_options(
        root: impl AsRef<Path>,
        layout: Layout,
        mode: OpenMode,
        opts: MmapOptions,
    ) -> Result<Self, StorageError> {
        if opts.sigbus_handler {
            sigbus::install();
        }
        let handles = Handles::new(root.as_ref(), &layout, mode, opts.max_handles)?;
        let page = page_size();
        let window = opts.window.max(page).div_ceil(page) * page;
        Ok(MmapStorage {
            layout,
            handles,
            window: window as u64,
            maps: Mutex::new(Lru::new(opts.max_maps)),
        })
    }

    /// Number of windows currently mapped (for tests and diagnostics).
    pub fn mapped_windows(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lru<(usize, u64), Arc<Window>>> {
        self.maps.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The window `w` of file `i`, mapping it if needed. `None`: the file
    /// does not exist yet (create mode, read) and reads as zeros.
    fn window(
        &self,
        i: usize,
        w: u64,
        for_write: bool,
    ) -> Result<Option<Arc<Window>>, StorageError> {
        if let Some(win) = self.lock().get(&(i, w)) {
            if !for_write || win.writable {
                if for_write {
                    // keep the file in the dirty set for flush
                    self.handles.get(i, true)?;
                }
                return Ok(Some(win));
            }
        }
        let Some(h) = self.handles.get(i, for_write)? else {
            return Ok(None);
        };
        let start = w * self.window;
        let len = (h.expected - start).min(self.window);
        // Keep the handle cached even on failure: it remembers that the
        // file was already sized, so a truncated file is never re-extended.
        h.require_len(start + len)?;
        let mut opts = memmap2::MmapOptions::new();
        opts.offset(start).len(len as usize);
        let map = if h.writable {
            opts.map_raw(&h.file)
        } else {
            opts.map_raw_read_only(&h.file)
        }
        .map_err(|e| io_err(&h.path, e))?;
        let win = Arc::new(Window {
            map,
            start,
            writable: h.writable,
            handle: h,
        });
        self.lock().insert((i, w), win.clone());
        Ok(Some(win))
    }

    /// Copies between `buf` and file `i` at `file_offset`, window by window.
    fn copy(&self, i: usize, file_offset: u64, buf: Buf) -> Result<(), StorageError> {
        let for_write = matches!(buf, Buf::Write(..));
        let total = buf.len();
        let mut done = 0usize;
        while done < total {
            let pos = file_offset + done as u64;
            let w = pos / self.window;
            let in_win = (pos - w * self.window) as usize;
            let win = match self.window(i, w, for_write)? {
                Some(win) => win,
                None => {
                    if let Buf::Read(b, _) = &buf {
                        // SAFETY: b is a live exclusive buffer of `total` bytes.
                        unsafe { std::ptr::write_bytes(b.add(done), 0, total - done) };
                    }
                    return Ok(());
                }
            };
            let n = (win.map.len() - in_win).min(total - done);
            // SAFETY: [in_win, in_win + n) lies inside the mapping, and the
            // caller's buffer holds `total` bytes.
            let faulted = unsafe {
                match &buf {
                    Buf::Read(b, _) => {
                        guarded_copy(&win, win.map.as_ptr().add(in_win), b.add(done), n)
                    }
                    Buf::Write(b, _) => {
                        guarded_copy(&win, b.add(done), win.map.as_mut_ptr().add(in_win), n)
                    }
                }
            };
            if faulted {
                self.lock().retain(|(f, _), _| *f != i);
                let h = &win.handle;
                let found = h.current_len().unwrap_or(0);
                if found >= window_end(&win) {
                    // The file is still long enough: the kernel could not
                    // back the page. On a write to a sparse file that is a
                    // full disk; otherwise an I/O error.
                    return Err(if for_write {
                        StorageError::NoSpace {
                            path: h.path.clone(),
                        }
                    } else {
                        io_err(&h.path, std::io::Error::from_raw_os_error(libc::EIO))
                    });
                }
                return Err(StorageError::FileChanged {
                    path: h.path.clone(),
                    expected: h.expected,
                    found,
                });
            }
            done += n;
        }
        Ok(())
    }
}

/// File offset just past the end of a window.
fn window_end(w: &Window) -> u64 {
    w.start + w.map.len() as u64
}

/// Raw view of a caller buffer (pointer and length), so that no Rust
/// reference to mapped memory is ever formed.
enum Buf {
    Read(*mut u8, usize),
    Write(*const u8, usize),
}

impl Buf {
    fn len(&self) -> usize {
        match self {
            Buf::Read(_, n) | Buf::Write(_, n) => *n,
        }
    }
}

/// Copies `n` bytes from `src` to `dst`, one of which lies in `win`,
/// under the SIGBUS guard. Returns whether a fault was absorbed.
///
/// # Safety
/// `src` and `dst` must be valid for `n` bytes and not overlap.
unsafe fn guarded_copy(win: &Window, src: *const u8, dst: *mut u8, n: usize) -> bool {
    let base = win.map.as_ptr() as usize;
    sigbus::GUARD.with(|g| g.set((base, base + win.map.len())));
    sigbus::FAULTED.with(|f| f.set(false));
    std::sync::atomic::compiler_fence(Ordering::SeqCst);
    // SAFETY: the caller guarantees both ranges are valid and disjoint.
    unsafe { std::ptr::copy_nonoverlapping(src, dst, n) };
    std::sync::atomic::compiler_fence(Ordering::SeqCst);
    sigbus::GUARD.with(|g| g.set((0, 0)));
    sigbus::FAULTED.with(|f| f.replace(false))
}

impl Storage for MmapStorage {
    fn layout(&self) -> &Layout {
        &self.layout
    }

    fn read(&self, piece: PieceIndex, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        check_range(&self.layout, piece, offset, buf.len())?;
        for s in self.layout.slices(piece, offset, buf.len()) {
            let out = &mut buf[s.buf_offset..s.buf_offset + s.len];
            if s.pad {
                out.fill(0);
                continue;
            }
            self.copy(
                s.file,
                s.file_offset,
                Buf::Read(out.as_mut_ptr(), out.len()),
            )?;
        }
        Ok(())
    }

    fn write(&self, piece: PieceIndex, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        check_range(&self.layout, piece, offset, data.len())?;
        for s in self.layout.slices(piece, offset, data.len()) {
            if s.pad {
                continue;
            }
            let src = &data[s.buf_offset..s.buf_offset + s.len];
            self.copy(s.file, s.file_offset, Buf::Write(src.as_ptr(), src.len()))?;
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), StorageError> {
        let wins: Vec<Arc<Window>> = self
            .lock()
            .values()
            .filter(|w| w.writable)
            .cloned()
            .collect();
        for w in wins {
            w.map.flush().map_err(|e| io_err(&w.handle.path, e))?;
        }
        self.handles.sync_dirty()
    }

    fn ensure_files(&self) -> Result<(), StorageError> {
        self.handles.ensure_files(&self.layout)
    }

    fn check_files(&self) -> Vec<FileState> {
        self.handles.check_files(&self.layout)
    }

    fn file_path(&self, i: usize) -> Option<PathBuf> {
        let f = self.layout.files().get(i)?;
        (!f.pad).then(|| self.handles.full_path(i))
    }
}

/// The process-wide SIGBUS handler; see the module docs.
mod sigbus {
    use super::*;
    use std::mem::MaybeUninit;
    use std::sync::atomic::AtomicBool;

    thread_local! {
        /// Address range `[start, end)` of the mapping being copied on this
        /// thread, or `(0, 0)`.
        pub(super) static GUARD: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
        /// Set by the handler when it absorbed a fault in `GUARD`.
        pub(super) static FAULTED: Cell<bool> = const { Cell::new(false) };
    }

    static INSTALL: Once = Once::new();
    static mut OLD: MaybeUninit<libc::sigaction> = MaybeUninit::uninit();
    static HAVE_OLD: AtomicBool = AtomicBool::new(false);

    /// Installs the handler once per process.
    pub(super) fn install() {
        INSTALL.call_once(|| {
            PAGE_CACHE.store(page_size(), Ordering::Relaxed);
            // SAFETY: sigaction with a zeroed, then filled, struct; OLD is
            // written once here, before the handler can run, and only read
            // afterwards.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = handler as *const () as usize;
                sa.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER | libc::SA_ONSTACK;
                libc::sigemptyset(&mut sa.sa_mask);
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(libc::SIGBUS, &sa, &mut old) == 0 {
                    std::ptr::addr_of_mut!(OLD).write(MaybeUninit::new(old));
                    HAVE_OLD.store(true, Ordering::Release);
                }
            }
        });
    }

    extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
        let addr = unsafe { (*info).si_addr() } as usize;
        let (start, end) = GUARD.try_with(|g| g.get()).unwrap_or((0, 0));
        if addr >= start && addr < end {
            let page = PAGE_CACHE.load(Ordering::Relaxed).max(1);
            let p = addr & !(page - 1);
            // SAFETY: replaces one page inside our own mapping.
            let r = unsafe {
                libc::mmap(
                    p as *mut libc::c_void,
                    page,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_FIXED | libc::MAP_ANONYMOUS | libc::MAP_PRIVATE,
                    -1,
                    0,
                )
            };
            if r != libc::MAP_FAILED {
                let _ = FAULTED.try_with(|f| f.set(true));
                return;
            }
        }
        // Not ours: chain to the previous handler or die as by default.
        // SAFETY: OLD was initialised before the handler was installed.
        unsafe {
            if HAVE_OLD.load(Ordering::Acquire) {
                let old = (*std::ptr::addr_of!(OLD)).assume_init_ref();
                let h = old.sa_sigaction;
                if h != libc::SIG_DFL && h != libc::SIG_IGN {
                    if old.sa_flags & libc::SA_SIGINFO != 0 {
                        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                            std::mem::transmute(h);
                        f(sig, info, ctx);
                    } else {
                        let f: extern "C" fn(libc::c_int) = std::mem::transmute(h);
                        f(sig);
                    }
                    return;
                }
            }
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = libc::SIG_DFL;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut());
        }
    }

    pub(super) static PAGE_CACHE: AtomicUsize = AtomicUsize::new(4096);
}
