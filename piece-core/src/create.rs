//! Creating .torrent files (v1, v2/BEP 52, hybrid) from a file or folder.
//!
//! # Layout (as libtorrent 2.0 writes it, so info-hashes match)
//! - Files are collected recursively, sorted by their path components
//!   (byte order); symlinks and special files are skipped, hidden files are
//!   included. An input without any data is refused.
//! - **v1**: `pieces` = SHA-1 of each piece over the files concatenated.
//!   A single file gives `length`; a folder gives `files` (`length`,
//!   `path`, and `attr: "x"` for executables).
//! - **v2**: `meta version: 2`, `file tree` (nested dicts, a file is
//!   `{"": {"attr"?, "length", "pieces root"?}}`, no `pieces root` for an
//!   empty file), and top-level `piece layers` (pieces root -> concatenated
//!   piece-layer hashes) for every file larger than one piece. Each file
//!   starts on a piece boundary.
//! - **hybrid**: both; the v1 `files` list gets a BEP 47 pad file after
//!   every file (the last one too, as libtorrent 2.0 does) whose length is
//!   not a multiple of the piece length: `{"attr": "p", "length": n, "path": [".pad", "<n>"]}`.
//!
//! All dictionaries are written with sorted keys.
//!
//! # Hashing
//! The piece address space (padding included) is split into runs of
//! pieces that worker threads claim in turn (`std::thread::scope`); each
//! worker reads its run with large positional reads, computes SHA-1 of the
//! whole piece (v1) and the SHA-256 merkle node of its real data (v2) in
//! one pass, so every byte is read once.
//!
//! # Reuse
//! With [`CreateOptions::reuse`], files the caller vouches are unchanged
//! since an earlier torrent of the same folder (same path and length, and
//! for the caller the same modification time) take their hashes from that
//! torrent instead of being read: with piece-aligned files (v2, hybrid),
//! every piece belongs to one file, so its SHA-1, piece-layer node and
//! root are known. Used by the seedbox to publish a new version of a large
//! collection in the time it takes to hash only what changed.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;

use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::bencode::Encoder;
use crate::hash::{block_leaves, effective_threads, sha1_piece};
use crate::layout::{Layout, LayoutFile};
use crate::merkle::{self, Hash32};
use crate::metainfo::Version;
use crate::types::{InfoHashV1, InfoHashV2, InfoHashes, Lengths, PieceIndex, BLOCK_SIZE};

/// Options for [`create_torrent`].
#[derive(Clone, Debug)]
pub struct CreateOptions {
    /// Which hashes to include (default: hybrid, like libtorrent 2.0).
    pub version: Version,
    /// Piece length in bytes: a power of two, 16 KiB..=16 MiB. `None`
    /// picks one (see [`auto_piece_length`]).
    pub piece_length: Option<u32>,
    /// Torrent name; defaults to the file or folder name.
    pub name: Option<String>,
    /// Tracker URLs, one tier each (`announce` is the first).
    pub trackers: Vec<String>,
    /// `comment`; omitted when `None`.
    pub comment: Option<String>,
    /// `created by`; defaults to `swarm <version>`.
    pub created_by: Option<String>,
    /// `creation date` (Unix seconds); omitted when `None`.
    pub creation_date: Option<i64>,
    /// BEP 27 private flag.
    pub private: bool,
    /// Hashing threads; `None` = every core.
    pub threads: Option<usize>,
    /// Hashes to reuse for unchanged files (see the module docs). Ignored
    /// for v1-only torrents and when the piece length differs.
    pub reuse: Option<std::sync::Arc<Reuse>>,
    /// For a folder: the files to put in the torrent, as the caller listed
    /// them (for example [`list_files`] with some files left out); they
    /// are sorted by path components like [`list_files`]. `None` takes
    /// every file [`list_files`] finds.
    pub files: Option<Vec<FoundFile>>,
}

/// An earlier torrent of the same folder and the files that have not
/// changed since (paths relative to the torrent's root, as components).
#[derive(Clone, Debug)]
pub struct Reuse {
    /// The torrent made from the folder before.
    pub previous: crate::metainfo::Metainfo,
    /// Files whose hashes can be taken from `previous`.
    pub unchanged: std::collections::HashSet<Vec<String>>,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions {
            version: Version::Hybrid,
            piece_length: None,
            name: None,
            trackers: Vec::new(),
            comment: None,
            created_by: Some(concat!("swarm ", env!("CARGO_PKG_VERSION")).to_string()),
            creation_date: None,
            private: false,
            threads: None,
            reuse: None,
            files: None,
        }
    }
}

/// A created torrent.
#[derive(Clone, Debug)]
pub struct CreatedTorrent {
    /// The bencoded .torrent file.
    pub bytes: Vec<u8>,
    /// Its v1 and/or v2 info-hashes.
    pub info_hashes: InfoHashes,
    /// Number of pieces.
    pub num_pieces: u32,
    /// The piece length used.
    pub piece_length: u32,
}

/// Why a torrent could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// Reading a file or listing a folder failed.
    #[error("{path}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The folder holds no file with data.
    #[error("{0}: nothing to share (no files with data)")]
    Empty(PathBuf),
    /// A path is not valid UTF-8 (torrents carry UTF-8 names).
    #[error("{0}: file name is not valid UTF-8")]
    NotUtf8(PathBuf),
    /// The piece length asked for is not allowed.
    #[error("piece length {0} is not a power of two between 16 KiB and 16 MiB")]
    BadPieceLength(u32),
    /// A file's size or time changed while it was hashed: hash it again.
    #[error("{path} changed while it was being hashed")]
    FileChanged {
        /// The file.
        path: PathBuf,
    },
    /// The name is empty or contains a path separator.
    #[error("torrent name is empty or not a single path component")]
    BadName,
    /// The files do not form a valid piece geometry.
    #[error(transparent)]
    Geometry(#[from] crate::Error),
}

impl From<crate::types::LengthsError> for CreateError {
    fn from(e: crate::types::LengthsError) -> Self {
        CreateError::Geometry(e.into())
    }
}
impl From<crate::layout::LayoutError> for CreateError {
    fn from(e: crate::layout::LayoutError) -> Self {
        CreateError::Geometry(e.into())
    }
}

/// Smallest piece length [`auto_piece_length`] picks.
pub const MIN_AUTO_PIECE: u32 = 16 * 1024;
/// Largest piece length [`auto_piece_length`] picks (and we accept).
pub const MAX_CREATE_PIECE: u32 = 16 * 1024 * 1024;

/// A power-of-two piece length giving at most about 1,500 pieces, clamped
/// to 16 KiB..=16 MiB.
pub fn auto_piece_length(total: u64) -> u32 {
    let target = total / 1500;
    let p = target.max(1).next_power_of_two();
    p.clamp(MIN_AUTO_PIECE as u64, MAX_CREATE_PIECE as u64) as u32
}

/// One input file.
#[derive(Clone, Debug)]
struct InFile {
    /// Components relative to the torrent root (empty for a single file).
    rel: Vec<String>,
    abs: PathBuf,
    length: u64,
    executable: bool,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CreateError + '_ {
    move |source| CreateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn utf8_name(p: &Path, s: &std::ffi::OsStr) -> Result<String, CreateError> {
    s.to_str()
        .map(str::to_string)
        .ok_or_else(|| CreateError::NotUtf8(p.to_path_buf()))
}

fn is_exec(md: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    md.permissions().mode() & 0o100 != 0
}

/// A regular file found by [`list_files`].
#[derive(Clone, Debug)]
pub struct FoundFile {
    /// Path components relative to the folder walked.
    pub rel: Vec<String>,
    /// Its path on disk.
    pub abs: PathBuf,
    /// Its metadata (not following symlinks).
    pub metadata: std::fs::Metadata,
}

/// The regular files under `dir`, sorted by path components (byte order):
/// exactly the files [`create_torrent`] puts in a torrent of `dir`, in its
/// order. Symlinks and special files are skipped; a name that is not
/// UTF-8 is an error.
pub fn list_files(dir: &Path) -> Result<Vec<FoundFile>, CreateError> {
    let mut out = Vec::new();
    let mut stack: Vec<(PathBuf, Vec<String>)> = vec![(dir.to_path_buf(), Vec::new())];
    while let Some((d, rel)) = stack.pop() {
        for ent in std::fs::read_dir(&d).map_err(io_err(&d))? {
            let ent = ent.map_err(io_err(&d))?;
            let path = ent.path();
            let md = std::fs::symlink_metadata(&path).map_err(io_err(&path))?;
            let name = utf8_name(&path, &ent.file_name())?;
            let mut r = rel.clone();
            r.push(name);
            if md.is_dir() {
                stack.push((path, r));
            } else if md.is_file() {
                out.push(FoundFile {
                    rel: r,
                    abs: path,
                    metadata: md,
                });
            }
            // symlinks, sockets, fifos, devices: skipped
        }
    }
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}

/// The input files of a folder torrent: `listed`, else every file.
fn walk(dir: &Path, listed: Option<&[FoundFile]>) -> Result<Vec<InFile>, CreateError> {
    let mut found = match listed {
        Some(l) => l.to_vec(),
        None => list_files(dir)?,
    };
    found.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(found
        .into_iter()
        .map(|f| InFile {
            length: f.metadata.len(),
            executable: is_exec(&f.metadata),
            rel: f.rel,
            abs: f.abs,
        })
        .collect())
}

/// The planned torrent: files (with padding) in address-space order.
struct Plan {
    single: bool,
    name: String,
    files: Vec<InFile>,
    layout: Layout,
    /// For each layout entry: index into `files`, or `None` for padding.
    entry_file: Vec<Option<usize>>,
}

fn plan(path: &Path, opts: &CreateOptions) -> Result<Plan, CreateError> {
    let md = std::fs::symlink_metadata(path).map_err(io_err(path))?;
    let abs = if path.file_name().is_none() || path.ends_with(".") {
        std::fs::canonicalize(path).map_err(io_err(path))?
    } else {
        path.to_path_buf()
    };
    let default_name = match abs.file_name() {
        Some(n) => utf8_name(&abs, n)?,
        None => return Err(CreateError::BadName),
    };
    let name = opts.name.clone().unwrap_or(default_name);
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(CreateError::BadName);
    }
    let (single, files): (bool, Vec<InFile>) = if md.is_file() {
        let f = InFile {
            rel: Vec::new(),
            abs: path.to_path_buf(),
            length: md.len(),
            executable: is_exec(&md),
        };
        (true, vec![f])
    } else if md.is_dir() {
        (false, walk(path, opts.files.as_deref())?)
    } else {
        return Err(CreateError::Empty(path.to_path_buf()));
    };
    let data: u64 = files.iter().map(|f| f.length).sum();
    if data == 0 {
        return Err(CreateError::Empty(path.to_path_buf()));
    }
    let pl = match opts.piece_length {
        Some(p) => {
            if !p.is_power_of_two() || !(BLOCK_SIZE..=MAX_CREATE_PIECE).contains(&p) {
                return Err(CreateError::BadPieceLength(p));
            }
            p
        }
        None => auto_piece_length(data),
    };
    let pl64 = pl as u64;
    let aligned = opts.version != Version::V1;
    let mut entries = Vec::new();
    let mut entry_file = Vec::new();
    let mut off = 0u64;
    let last = files.len() - 1;
    for (i, f) in files.iter().enumerate() {
        let mut p = PathBuf::from(&name);
        p.extend(&f.rel);
        entries.push(LayoutFile {
            path: p,
            length: f.length,
            offset: off,
            pad: false,
        });
        entry_file.push(Some(i));
        off += f.length;
        // libtorrent 2.0 pads after the last file too in a hybrid folder
        // (so the v1 piece count equals v2's); v2 alone needs no tail.
        let tail_pad = opts.version == Version::Hybrid && !single;
        if aligned && (i != last || tail_pad) && off % pl64 != 0 {
            let pad = pl64 - off % pl64;
            entries.push(LayoutFile {
                path: PathBuf::new(),
                length: pad,
                offset: off,
                pad: true,
            });
            entry_file.push(None);
            off += pad;
        }
    }
    let lengths = Lengths::new(off, pl64)?;
    let layout = Layout::new(lengths, entries)?;
    Ok(Plan {
        single,
        name,
        files,
        layout,
        entry_file,
    })
}

/// Per-piece results.
#[derive(Clone, Copy)]
struct PieceOut {
    v1: [u8; 20],
    /// v2 piece-layer node.
    node: Hash32,
    /// v2 root over the piece's own leaves (the file root for a file that
    /// fits in one piece).
    small_root: Hash32,
}

const ZERO_OUT: PieceOut = PieceOut {
    v1: [0; 20],
    node: [0; 32],
    small_root: [0; 32],
};

/// For each piece, its hashes when they can be taken from `reuse`.
fn known_pieces(plan: &Plan, version: Version, reuse: Option<&Reuse>) -> Vec<Option<PieceOut>> {
    let n = plan.layout.lengths().num_pieces() as usize;
    let mut known = vec![None; n];
    let Some(r) = reuse else {
        return known;
    };
    let prev = &r.previous;
    let pl = u64::from(plan.layout.lengths().piece_length());
    if version == Version::V1
        || prev.info.version != version
        || u64::from(prev.info.piece_length) != pl
    {
        return known;
    }
    for (li, lf) in plan.layout.files().iter().enumerate() {
        let Some(fi) = plan.entry_file[li] else {
            continue;
        };
        let f = &plan.files[fi];
        if f.length == 0 || !r.unchanged.contains(&f.rel) {
            continue;
        }
        // The same file in the previous torrent: path after the name.
        let Some(old) = prev.info.files.iter().find(|o| {
            !o.pad
                && o.length == f.length
                && o.path.len() == f.rel.len() + 1
                && o.path[1..] == f.rel[..]
        }) else {
            continue;
        };
        let Some(root) = old.pieces_root else {
            continue;
        };
        let first = (lf.offset / pl) as usize;
        let old_first = (old.offset / pl) as usize;
        let count = f.length.div_ceil(pl) as usize;
        let layer = if f.length > pl {
            match prev.piece_layer(&root) {
                Some(l) if l.len() == count => Some(l),
                _ => continue,
            }
        } else {
            None
        };
        let v1 = match (&prev.info.pieces_v1, version) {
            (Some(p), Version::Hybrid) if p.len() >= old_first + count => {
                Some(&p[old_first..old_first + count])
            }
            (_, Version::Hybrid) => continue,
            _ => None,
        };
        for k in 0..count {
            known[first + k] = Some(PieceOut {
                v1: v1.map_or([0; 20], |v| v[k]),
                node: layer.map_or([0; 32], |l| l[k]),
                small_root: if f.length <= pl { root } else { [0; 32] },
            });
        }
    }
    known
}

/// Hashes every piece of the plan on `threads` threads (pieces already
/// `known` are not read).
fn hash_pieces(
    plan: &Plan,
    version: Version,
    threads: usize,
    known: &[Option<PieceOut>],
    progress: Option<&(dyn Fn(u64, u64) + Sync)>,
) -> Result<Vec<PieceOut>, CreateError> {
    let lengths = *plan.layout.lengths();
    let n = lengths.num_pieces();
    let pl = lengths.piece_length();
    let total = lengths.total();
    // Runs of ~2 MiB: large sequential reads that still fit in cache for
    // the hashing pass right after (measured faster than 16 MiB runs).
    let chunk = ((2u32 << 20) / pl).max(1);
    let threads = threads.min(n.div_ceil(chunk).max(1) as usize);
    let next = AtomicU32::new(0);
    let done = AtomicU64::new(0);
    let results: Mutex<Vec<(u32, Vec<PieceOut>)>> = Mutex::new(Vec::new());
    let first_err: Mutex<Option<CreateError>> = Mutex::new(None);
    let do_v1 = version != Version::V2;
    let do_v2 = version != Version::V1;

    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut buf = vec![0u8; (chunk as usize) * pl as usize];
                let mut open: Option<(usize, File)> = None;
                loop {
                    if first_err.lock().map(|e| e.is_some()).unwrap_or(true) {
                        return;
                    }
                    let start = next.fetch_add(chunk, Ordering::Relaxed);
                    if start >= n {
                        return;
                    }
                    let end = start.saturating_add(chunk).min(n);
                    let run_off = lengths.piece_offset(PieceIndex::new_unchecked(start));
                    let run_end = lengths.piece_offset(PieceIndex::new_unchecked(end - 1))
                        + lengths.piece_len(PieceIndex::new_unchecked(end - 1)) as u64;
                    let run_len = (run_end - run_off) as usize;
                    if known[start as usize..end as usize]
                        .iter()
                        .all(Option::is_some)
                    {
                        let outs = known[start as usize..end as usize]
                            .iter()
                            .flatten()
                            .copied()
                            .collect();
                        if let Ok(mut r) = results.lock() {
                            r.push((start, outs));
                        }
                        done.fetch_add(run_len as u64, Ordering::Relaxed);
                        continue;
                    }
                    let b = &mut buf[..run_len];
                    if let Err(e) = read_range(plan, run_off, b, &mut open) {
                        if let Ok(mut fe) = first_err.lock() {
                            fe.get_or_insert(e);
                        }
                        return;
                    }
                    let mut outs = Vec::with_capacity((end - start) as usize);
                    for i in start..end {
                        if let Some(k) = known[i as usize] {
                            outs.push(k);
                            continue;
                        }
                        let p = PieceIndex::new_unchecked(i);
                        let o = (lengths.piece_offset(p) - run_off) as usize;
                        let piece = &b[o..o + lengths.piece_len(p) as usize];
                        let mut out = ZERO_OUT;
                        if do_v1 {
                            out.v1 = sha1_piece(piece);
                        }
                        if do_v2 {
                            let data = &piece[..plan.layout.piece_data_len(p) as usize];
                            let leaves = block_leaves(data);
                            out.node = merkle::piece_hash_from_blocks(&leaves, pl);
                            out.small_root = merkle::file_root_from_blocks(&leaves);
                        }
                        outs.push(out);
                    }
                    if let Ok(mut r) = results.lock() {
                        r.push((start, outs));
                    }
                    let d = done.fetch_add(run_len as u64, Ordering::Relaxed) + run_len as u64;
                    if let Some(cb) = progress {
                        cb(d.min(total), total);
                    }
                }
            });
        }
    });
    if let Some(e) = first_err.into_inner().ok().flatten() {
        return Err(e);
    }
    let mut runs = results.into_inner().unwrap_or_default();
    runs.sort_unstable_by_key(|r| r.0);
    let all: Vec<PieceOut> = runs.into_iter().flat_map(|r| r.1).collect();
    if all.len() != n as usize {
        // a worker thread stopped without an error (poisoned lock)
        return Err(CreateError::FileChanged {
            path: PathBuf::from(&plan.name),
        });
    }
    Ok(all)
}

/// Fills `buf` from the address space at `off`: file data, zeros for padding.
fn read_range(
    plan: &Plan,
    off: u64,
    buf: &mut [u8],
    open: &mut Option<(usize, File)>,
) -> Result<(), CreateError> {
    for s in plan.layout.slices_abs(off, buf.len()) {
        let dst = &mut buf[s.buf_offset..s.buf_offset + s.len];
        let Some(fi) = plan.entry_file[s.file] else {
            dst.fill(0);
            continue;
        };
        let f = &plan.files[fi];
        if open.as_ref().map(|o| o.0) != Some(fi) {
            let file = File::open(&f.abs).map_err(io_err(&f.abs))?;
            *open = Some((fi, file));
        }
        let Some((_, file)) = open.as_ref() else {
            continue;
        };
        file.read_exact_at(dst, s.file_offset).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                CreateError::FileChanged {
                    path: f.abs.clone(),
                }
            } else {
                CreateError::Io {
                    path: f.abs.clone(),
                    source: e,
                }
            }
        })?;
    }
    Ok(())
}

/// v2 per-file results: root and (for files larger than a piece) layer.
struct FileV2 {
    root: Option<Hash32>,
    layer: Option<Vec<Hash32>>,
}

fn file_v2(plan: &Plan, pieces: &[PieceOut]) -> Vec<FileV2> {
    let pl = plan.layout.lengths().piece_length() as u64;
    let mut out = Vec::with_capacity(plan.files.len());
    for (li, lf) in plan.layout.files().iter().enumerate() {
        if plan.entry_file[li].is_none() {
            continue;
        }
        if lf.length == 0 {
            out.push(FileV2 {
                root: None,
                layer: None,
            });
            continue;
        }
        let first = (lf.offset / pl) as usize;
        let count = lf.length.div_ceil(pl) as usize;
        if lf.length <= pl {
            out.push(FileV2 {
                root: Some(pieces[first].small_root),
                layer: None,
            });
        } else {
            let layer: Vec<Hash32> = pieces[first..first + count]
                .iter()
                .map(|p| p.node)
                .collect();
            let root = merkle::piece_layer_root(&layer, pl as u32);
            out.push(FileV2 {
                root: Some(root),
                layer: Some(layer),
            });
        }
    }
    out
}

/// A node of the v2 file tree.
enum TreeNode<'a> {
    Dir(BTreeMap<&'a str, TreeNode<'a>>),
    File(usize),
}

fn encode_tree(e: &mut Encoder, node: &BTreeMap<&str, TreeNode<'_>>, plan: &Plan, v2: &[FileV2]) {
    e.begin_dict();
    for (k, v) in node {
        e.str(k);
        match v {
            TreeNode::Dir(d) => encode_tree(e, d, plan, v2),
            TreeNode::File(i) => {
                let f = &plan.files[*i];
                e.begin_dict().str("").begin_dict();
                if f.executable {
                    e.str("attr").str("x");
                }
                e.str("length").int(f.length as i64);
                if let Some(r) = &v2[*i].root {
                    e.str("pieces root").bytes(r);
                }
                e.end().end();
            }
        }
    }
    e.end();
}

fn insert_path<'a>(node: &mut BTreeMap<&'a str, TreeNode<'a>>, rel: &'a [String], i: usize) {
    match rel {
        [] => {}
        [last] => {
            node.insert(last.as_str(), TreeNode::File(i));
        }
        [dir, rest @ ..] => {
            let ent = node
                .entry(dir.as_str())
                .or_insert_with(|| TreeNode::Dir(BTreeMap::new()));
            // a file and a folder cannot share a name on one disk
            if let TreeNode::Dir(m) = ent {
                insert_path(m, rest, i);
            }
        }
    }
}

fn build_tree(plan: &Plan) -> BTreeMap<&str, TreeNode<'_>> {
    let mut root: BTreeMap<&str, TreeNode<'_>> = BTreeMap::new();
    if plan.single {
        root.insert(&plan.name, TreeNode::File(0));
        return root;
    }
    for (i, f) in plan.files.iter().enumerate() {
        insert_path(&mut root, &f.rel, i);
    }
    root
}

fn encode_info(plan: &Plan, opts: &CreateOptions, pieces: &[PieceOut], v2: &[FileV2]) -> Vec<u8> {
    let do_v1 = opts.version != Version::V2;
    let do_v2 = opts.version != Version::V1;
    let pl = plan.layout.lengths().piece_length();
    let mut e = Encoder::new();
    e.begin_dict();
    if do_v2 {
        e.str("file tree");
        let tree = build_tree(plan);
        encode_tree(&mut e, &tree, plan, v2);
    }
    if do_v1 {
        if plan.single {
            e.str("length").int(plan.files[0].length as i64);
        } else {
            e.str("files").begin_list();
            for (li, lf) in plan.layout.files().iter().enumerate() {
                e.begin_dict();
                match plan.entry_file[li] {
                    None => {
                        let n = lf.length.to_string();
                        e.str("attr").str("p");
                        e.str("length").int(lf.length as i64);
                        e.str("path").begin_list().str(".pad").str(&n).end();
                    }
                    Some(fi) => {
                        let f = &plan.files[fi];
                        if f.executable {
                            e.str("attr").str("x");
                        }
                        e.str("length").int(f.length as i64);
                        e.str("path").begin_list();
                        for c in &f.rel {
                            e.str(c);
                        }
                        e.end();
                    }
                }
                e.end();
            }
            e.end();
        }
    }
    if do_v2 {
        e.str("meta version").int(2);
    }
    e.str("name").str(&plan.name);
    e.str("piece length").int(pl as i64);
    if do_v1 {
        let mut all = Vec::with_capacity(pieces.len() * 20);
        for p in pieces {
            all.extend_from_slice(&p.v1);
        }
        e.str("pieces").bytes(&all);
    }
    if opts.private {
        e.str("private").int(1);
    }
    e.end();
    e.finish()
}

/// Creates a torrent of the file or folder at `path`. `progress(done,
/// total)` gets bytes hashed so far, from worker threads.
pub fn create_torrent(
    path: &Path,
    opts: &CreateOptions,
    progress: Option<&(dyn Fn(u64, u64) + Sync)>,
) -> Result<CreatedTorrent, CreateError> {
    let plan = plan(path, opts)?;
    let threads = effective_threads(opts.threads.unwrap_or(0));
    let known = known_pieces(&plan, opts.version, opts.reuse.as_deref());
    let pieces = hash_pieces(&plan, opts.version, threads, &known, progress)?;
    let v2 = if opts.version != Version::V1 {
        file_v2(&plan, &pieces)
    } else {
        Vec::new()
    };
    let info = encode_info(&plan, opts, &pieces, &v2);
    let info_hashes = InfoHashes {
        v1: (opts.version != Version::V2).then(|| InfoHashV1(Sha1::digest(&info).into())),
        v2: (opts.version != Version::V1).then(|| InfoHashV2(Sha256::digest(&info).into())),
    };

    let mut e = Encoder::new();
    e.begin_dict();
    if let Some(first) = opts.trackers.first() {
        e.str("announce").str(first);
        if opts.trackers.len() > 1 {
            e.str("announce-list").begin_list();
            for t in &opts.trackers {
                e.begin_list().str(t).end();
            }
            e.end();
        }
    }
    if let Some(c) = &opts.comment {
        e.str("comment").str(c);
    }
    if let Some(c) = &opts.created_by {
        e.str("created by").str(c);
    }
    if let Some(d) = opts.creation_date {
        e.str("creation date").int(d);
    }
    e.str("info").raw(&info);
    if opts.version != Version::V1 {
        let mut layers: BTreeMap<Hash32, &Vec<Hash32>> = BTreeMap::new();
        for f in &v2 {
            if let (Some(r), Some(l)) = (&f.root, &f.layer) {
                layers.insert(*r, l);
            }
        }
        e.str("piece layers").begin_dict();
        for (root, layer) in layers {
            let mut b = Vec::with_capacity(layer.len() * 32);
            for h in layer {
                b.extend_from_slice(h);
            }
            e.bytes(&root).bytes(&b);
        }
        e.end();
    }
    e.end();
    let mut bytes = e.finish();
    // kept for the torrent's lifetime (a seedbox serves it): no slack
    bytes.shrink_to_fit();
    Ok(CreatedTorrent {
        bytes,
        info_hashes,
        num_pieces: plan.layout.lengths().num_pieces(),
        piece_length: plan.layout.lengths().piece_length(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_piece_is_bounded_power_of_two() {
        assert_eq!(auto_piece_length(1), 16384);
        assert_eq!(auto_piece_length(1 << 30), 1 << 20);
        assert_eq!(auto_piece_length(u64::MAX / 2), MAX_CREATE_PIECE);
        for t in [1u64, 12345, 1 << 27, 3 << 33] {
            assert!(auto_piece_length(t).is_power_of_two());
        }
    }

    #[test]
    fn refuses_empty_input() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("empty"), b"").unwrap();
        let e = create_torrent(d.path(), &CreateOptions::default(), None).unwrap_err();
        assert!(matches!(e, CreateError::Empty(_)), "{e}");
    }

    #[test]
    fn bad_piece_length_refused() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a"), b"x").unwrap();
        let o = CreateOptions {
            piece_length: Some(20000),
            ..Default::default()
        };
        assert!(matches!(
            create_torrent(d.path(), &o, None),
            Err(CreateError::BadPieceLength(20000))
        ));
    }
}
