//! BEP 52 (v2) parts of the metainfo: the `file tree`, the top-level
//! `piece layers`, and the agreement check of hybrid torrents.
//!
//! # File tree
//! `file tree` is a dictionary of path components; a file is a node whose
//! only key is the empty string, mapping to `{length, pieces root, attr,
//! symlink path}`. Keys must be sorted (a tree with unsorted keys is
//! refused, like libtorrent does). A lone file at the top of the tree whose
//! name is the torrent's name is a single-file torrent; anything else is a
//! folder named after the torrent.
//!
//! # Piece layers
//! `piece layers` maps a file's `pieces root` to the concatenated SHA-256
//! hashes of its pieces (one per piece, `ceil(length / piece length)`).
//! Only files larger than one piece have a layer. A layer must hash up to
//! its root ([`crate::merkle::piece_layer_root`]). Missing layers are
//! allowed (they can be fetched from peers later).

use std::collections::HashMap;

use super::error::MetainfoError;
use super::raw::{parse_symlink, RawFile};
use super::{FileInfo, MAX_FILES};
use crate::bencode::{Dict, Value};
use crate::merkle;
use crate::path::{sanitize_path, MAX_PATH_DEPTH};
use crate::types::BLOCK_SIZE;

/// Largest v2 file: 2^30 blocks of 16 KiB (16 TiB), which bounds merkle trees.
pub const MAX_V2_FILE_SIZE: u64 = (BLOCK_SIZE as u64) << 30;

/// Parses `file tree`. Returns the files in tree order and whether the
/// torrent is a single file (one file at the top of the tree, named like
/// the torrent).
pub(super) fn parse_file_tree<'a>(
    tree: &Value<'a>,
    piece_len: i64,
    name_raw: &[u8],
) -> Result<(Vec<RawFile<'a>>, bool), MetainfoError> {
    if piece_len < BLOCK_SIZE as i64 || (piece_len as u64).count_ones() != 1 {
        return Err(MetainfoError::InvalidPieceLength(piece_len));
    }
    let tree = tree
        .as_dict()
        .ok_or_else(|| MetainfoError::InvalidFile("`file tree` is not a dictionary".into()))?;
    let mut out = Vec::new();
    let mut prefix = Vec::new();
    walk(tree, &mut prefix, &mut out)?;
    if out.is_empty() {
        return Err(MetainfoError::NoFiles);
    }
    let single = out.len() == 1 && out[0].raw == [name_raw];
    Ok((out, single))
}

fn walk<'a>(
    dir: &Dict<'a>,
    prefix: &mut Vec<&'a [u8]>,
    out: &mut Vec<RawFile<'a>>,
) -> Result<(), MetainfoError> {
    if !dir.in_order {
        return Err(MetainfoError::UnorderedFileTree);
    }
    if prefix.len() >= MAX_PATH_DEPTH {
        return Err(MetainfoError::InvalidPath("file tree is too deep".into()));
    }
    for (key, node) in &dir.entries {
        prefix.push(key);
        if key.is_empty() {
            return Err(MetainfoError::InvalidFile(format!(
                "empty file name in the file tree at {:?}",
                show(prefix)
            )));
        }
        let node = node.as_dict().ok_or_else(|| {
            MetainfoError::InvalidFile(format!(
                "file tree entry {:?} is not a dictionary",
                show(prefix)
            ))
        })?;
        if let Some(f) = node.get(b"") {
            if node.entries.len() != 1 {
                return Err(MetainfoError::InvalidFile(format!(
                    "{:?} is both a file and a directory",
                    show(prefix)
                )));
            }
            let f = f.as_dict().ok_or_else(|| {
                MetainfoError::InvalidFile(format!(
                    "file entry {:?} is not a dictionary",
                    show(prefix)
                ))
            })?;
            if out.len() >= MAX_FILES {
                return Err(MetainfoError::TooManyFiles(MAX_FILES));
            }
            out.push(parse_file(f, prefix)?);
        } else {
            walk(node, prefix, out)?;
        }
        prefix.pop();
    }
    Ok(())
}

/// A raw path for error messages.
fn show(raw: &[&[u8]]) -> String {
    raw.iter()
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn parse_file<'a>(f: &Dict<'a>, raw: &[&'a [u8]]) -> Result<RawFile<'a>, MetainfoError> {
    let shown = &show(raw);
    let attr = f.get(b"attr").and_then(Value::as_bytes).unwrap_or(b"");
    if attr.contains(&b'p') {
        return Err(MetainfoError::InvalidPadFile(format!(
            "{shown:?}: pad files are not allowed in a v2 file tree"
        )));
    }
    let link = attr.contains(&b'l');
    let length = match f.get(b"length") {
        Some(Value::Int(n)) if *n >= 0 => *n as u64,
        None if link => 0,
        _ => {
            return Err(MetainfoError::InvalidLength(format!(
                "{shown:?} has a missing or negative length"
            )))
        }
    };
    if length > MAX_V2_FILE_SIZE {
        return Err(MetainfoError::InvalidLength(format!(
            "{shown:?} is {length} bytes, larger than the v2 limit of {MAX_V2_FILE_SIZE}"
        )));
    }
    let symlink = if link { parse_symlink(f, shown)? } else { None };
    let pieces_root = if link || length == 0 {
        None
    } else {
        match f.get(b"pieces root").and_then(Value::as_bytes) {
            Some(r) if r.len() == 32 && r.iter().any(|b| *b != 0) => {
                Some(r.try_into().expect("32 bytes"))
            }
            _ => return Err(MetainfoError::MissingPiecesRoot(shown.to_string())),
        }
    };
    Ok(RawFile {
        raw: raw.to_vec(),
        path: sanitize_path(raw.iter().copied()),
        length: if link { 0 } else { length },
        pad: false,
        executable: attr.contains(&b'x'),
        hidden: attr.contains(&b'h'),
        symlink,
        pieces_root,
    })
}

/// Inserts virtual padding after every file (but the last one holding
/// data, unless `tail`) so that each file starts on a piece boundary.
///
/// `tail` pads the last file too, so that the last piece is a full piece:
/// that is how libtorrent (the reference BEP 52 implementation) lays out a
/// v2-only torrent, and it requests whole 16 KiB blocks of that piece. The
/// v1 part of a hybrid torrent has no tail padding (its file list says so).
pub(super) fn add_alignment<'a>(
    files: Vec<RawFile<'a>>,
    piece_len: u64,
    tail: bool,
) -> Vec<RawFile<'a>> {
    let last_data = files.iter().rposition(|f| f.length > 0);
    let mut out = Vec::with_capacity(files.len() * 2);
    for (i, f) in files.into_iter().enumerate() {
        let rem = f.length % piece_len;
        out.push(f);
        if rem != 0 && (tail || Some(i) != last_data) {
            out.push(pad_file(piece_len - rem));
        }
    }
    out
}

fn pad_file<'a>(length: u64) -> RawFile<'a> {
    RawFile {
        raw: Vec::new(),
        path: Vec::new(),
        length,
        pad: true,
        executable: false,
        hidden: false,
        symlink: None,
        pieces_root: None,
    }
}

/// Checks that the v1 file list of a hybrid torrent describes the same files
/// as its v2 file tree (names, sizes, order, alignment) and copies the
/// `pieces root`s into the v1 entries.
pub(super) fn check_hybrid(
    v1: &mut [RawFile<'_>],
    v2: &[RawFile<'_>],
    piece_len: u64,
) -> Result<(), MetainfoError> {
    // The v1 part decides single-file vs folder; the raw paths (the name for
    // a single file, the components below the name otherwise) must match.
    let bad = |m: String| Err(MetainfoError::InconsistentFiles(m));
    let aligned = add_alignment(v2.to_vec(), piece_len, false);
    let mut v2_off = Vec::with_capacity(v2.len());
    let mut off = 0u64;
    for f in &aligned {
        if !f.pad {
            v2_off.push(off);
        }
        off += f.length;
    }
    let mut off = 0u64;
    let mut j = 0;
    for f in v1.iter_mut() {
        let here = off;
        off += f.length;
        if f.pad {
            continue;
        }
        let Some(g) = v2.get(j) else {
            return bad(format!("v1 has more files than v2 ({} in v2)", v2.len()));
        };
        if f.raw != g.raw {
            return bad(format!(
                "file {j} is {:?} in v1 but {:?} in v2",
                show(&f.raw),
                show(&g.raw)
            ));
        }
        if f.length != g.length {
            return bad(format!(
                "file {j} is {} bytes in v1 but {} in v2",
                f.length, g.length
            ));
        }
        if here != v2_off[j] && f.length > 0 {
            return bad(format!("file {j} is not aligned to a piece boundary in v1"));
        }
        f.pieces_root = g.pieces_root;
        j += 1;
    }
    if j != v2.len() {
        return bad(format!("v1 has {j} files but v2 has {}", v2.len()));
    }
    Ok(())
}

/// Validates the top-level `piece layers` against the files.
pub(super) fn parse_piece_layers(
    layers: &Value<'_>,
    files: &[FileInfo],
    piece_len: u32,
) -> Result<HashMap<[u8; 32], Vec<[u8; 32]>>, MetainfoError> {
    let bad = |m: String| MetainfoError::InvalidPieceLayer(m);
    let d = layers
        .as_dict()
        .ok_or_else(|| bad("`piece layers` is not a dictionary".into()))?;
    // pieces root -> file length, for files with a layer
    let mut need: HashMap<[u8; 32], u64> = HashMap::new();
    let mut small: std::collections::HashSet<[u8; 32]> = Default::default();
    for f in files {
        if let Some(r) = f.pieces_root {
            if f.length > piece_len as u64 {
                need.insert(r, f.length);
            } else {
                small.insert(r);
            }
        }
    }
    let mut out = HashMap::with_capacity(d.entries.len().min(need.len()));
    for (key, val) in &d.entries {
        let root: [u8; 32] = (*key).try_into().map_err(|_| {
            bad(format!(
                "key of {} bytes is not a 32-byte pieces root",
                key.len()
            ))
        })?;
        if !need.contains_key(&root) && small.contains(&root) {
            // Some creators list a layer for a one-piece file too: it can
            // only be the root itself; accept it and keep nothing.
            if val.as_bytes() == Some(&root[..]) {
                continue;
            }
            return Err(bad(format!(
                "layer {} of a one-piece file is not its root",
                hex::encode(root)
            )));
        }
        let len = *need.get(&root).ok_or_else(|| {
            bad(format!(
                "layer {} belongs to no file larger than a piece",
                hex::encode(root)
            ))
        })?;
        let hashes = check_layer(&root, val.as_bytes(), len, piece_len)?;
        out.insert(root, hashes);
    }
    Ok(out)
}

/// Checks one piece layer for a file of `len` bytes with `root`, returning
/// the hashes.
pub fn check_layer(
    root: &[u8; 32],
    bytes: Option<&[u8]>,
    len: u64,
    piece_len: u32,
) -> Result<Vec<[u8; 32]>, MetainfoError> {
    let bad = |m: String| MetainfoError::InvalidPieceLayer(m);
    let name = hex::encode(root);
    let b = bytes.ok_or_else(|| bad(format!("layer {name} is not a string")))?;
    if b.len() % 32 != 0 {
        return Err(bad(format!(
            "layer {name} is {} bytes, not a multiple of 32",
            b.len()
        )));
    }
    let want = len.div_ceil(piece_len as u64);
    if b.len() as u64 / 32 != want {
        return Err(bad(format!(
            "layer {name} has {} hashes, expected {want}",
            b.len() / 32
        )));
    }
    let hashes: Vec<[u8; 32]> = b
        .chunks_exact(32)
        .map(|c| c.try_into().expect("32 bytes"))
        .collect();
    if &merkle::piece_layer_root(&hashes, piece_len) != root {
        return Err(bad(format!(
            "layer {name} does not hash to its pieces root"
        )));
    }
    Ok(hashes)
}
