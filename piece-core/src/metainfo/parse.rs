//! Parsing a `.torrent`: the top-level dictionary and the v1 (BEP 3 /
//! BEP 47) part of the info dictionary. The v2 part is in [`super::v2`].

use std::collections::HashMap;
use std::path::PathBuf;

use sha1::{Digest as _, Sha1};
use sha2::Sha256;

use super::error::MetainfoError;
use super::raw::{parse_symlink, RawFile};
use super::v2;
use super::{FileInfo, Info, Metainfo, Version, MAX_FILES, MAX_METAINFO_SIZE};
use crate::bencode::{self, BencodeErrorKind, Dict, Limits, Value};
use crate::layout::{Layout, LayoutError, LayoutFile};
use crate::path::{sanitize_name, sanitize_path, Deduper, MAX_PATH_DEPTH};
use crate::types::{
    InfoHashV1, InfoHashV2, InfoHashes, Lengths, LengthsError, BLOCK_SIZE, MAX_PIECE_LENGTH,
};

pub(super) fn decode_err(e: bencode::BencodeError) -> MetainfoError {
    if e.kind == BencodeErrorKind::DepthExceeded {
        MetainfoError::DepthExceeded(e.offset)
    } else {
        MetainfoError::Bencode(e)
    }
}

/// Bencode limits for a torrent or an info dictionary: key order lenient
/// (many real torrents have unsorted keys) and room for 8,000,000 values.
/// A hybrid torrent needs about 25 values per file (its v1 entry, its pad
/// file, its `file tree` node), so 100,000 files take about 2.5 M values,
/// more than the 2,000,000 of [`Limits::strict`] (libtorrent's
/// `max_decode_tokens` is 3,000,000). The input is already capped at
/// [`MAX_METAINFO_SIZE`]; the tree of 8 M values is at most ~300 MB.
pub(super) const TORRENT_LIMITS: Limits = Limits {
    max_tokens: 8_000_000,
    ..Limits::lenient()
};

/// Parses a whole `.torrent` file.
pub(super) fn parse_torrent(bytes: &[u8]) -> Result<Metainfo, MetainfoError> {
    if bytes.len() > MAX_METAINFO_SIZE {
        return Err(MetainfoError::TooLarge(bytes.len()));
    }
    // Like libtorrent, bytes after the top-level dictionary are ignored
    // (many files end with a newline).
    let (root, _) = bencode::decode_prefix(bytes, TORRENT_LIMITS).map_err(decode_err)?;
    let root = root.as_dict().ok_or(MetainfoError::NotADict)?;
    let info = root
        .get(b"info")
        .and_then(Value::as_dict)
        .ok_or(MetainfoError::MissingInfo)?;
    let trackers = parse_trackers(root);
    let mut m = build(info, trackers, root.get(b"piece layers"))?;
    m.comment = text(root, b"comment");
    m.created_by = text(root, b"created by");
    m.creation_date = root.get(b"creation date").and_then(Value::as_int);
    m.url_list = match root.get(b"url-list") {
        Some(Value::Bytes(b)) => clean_url(b).into_iter().collect(),
        Some(Value::List(l)) => l
            .iter()
            .filter_map(Value::as_bytes)
            .filter_map(clean_url)
            .collect(),
        _ => Vec::new(),
    };
    Ok(m)
}

/// Parses a bare info dictionary (as fetched with `ut_metadata`).
pub(super) fn parse_info_only(
    info: &[u8],
    trackers: Vec<Vec<String>>,
) -> Result<Metainfo, MetainfoError> {
    if info.len() > MAX_METAINFO_SIZE {
        return Err(MetainfoError::TooLarge(info.len()));
    }
    let v = bencode::decode_with(info, TORRENT_LIMITS).map_err(decode_err)?;
    let d = v.as_dict().ok_or(MetainfoError::NotADict)?;
    build(d, trackers, None)
}

fn build(
    info: &Dict<'_>,
    trackers: Vec<Vec<String>>,
    layers: Option<&Value<'_>>,
) -> Result<Metainfo, MetainfoError> {
    let parsed = parse_info(info)?;
    let piece_layers = match (&parsed.version, layers) {
        (Version::V1, _) | (_, None) => HashMap::new(),
        (_, Some(l)) => v2::parse_piece_layers(l, &parsed.files, parsed.piece_length)?,
    };
    let info_hashes = InfoHashes {
        v1: (parsed.version != Version::V2).then(|| InfoHashV1(Sha1::digest(info.raw).into())),
        v2: (parsed.version != Version::V1).then(|| InfoHashV2(Sha256::digest(info.raw).into())),
    };
    Ok(Metainfo {
        info: parsed,
        info_bytes: info.raw.to_vec(),
        info_hashes,
        trackers,
        piece_layers,
        comment: None,
        created_by: None,
        creation_date: None,
        url_list: Vec::new(),
    })
}

fn text(d: &Dict<'_>, key: &[u8]) -> Option<String> {
    let mut k8 = key.to_vec();
    k8.extend_from_slice(b".utf-8");
    d.get(&k8)
        .or_else(|| d.get(key))
        .and_then(Value::as_bytes)
        .map(|b| String::from_utf8_lossy(b).into_owned())
}

fn clean_url(b: &[u8]) -> Option<String> {
    let s = String::from_utf8_lossy(b).trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn parse_trackers(root: &Dict<'_>) -> Vec<Vec<String>> {
    let mut tiers: Vec<Vec<String>> = Vec::new();
    if let Some(list) = root.get(b"announce-list").and_then(Value::as_list) {
        for tier in list {
            let t: Vec<String> = match tier {
                Value::List(l) => l
                    .iter()
                    .filter_map(Value::as_bytes)
                    .filter_map(clean_url)
                    .collect(),
                Value::Bytes(b) => clean_url(b).into_iter().collect(),
                _ => Vec::new(),
            };
            if !t.is_empty() {
                tiers.push(t);
            }
        }
    }
    if tiers.is_empty() {
        if let Some(a) = root
            .get(b"announce")
            .and_then(Value::as_bytes)
            .and_then(clean_url)
        {
            tiers.push(vec![a]);
        }
    }
    tiers
}

fn attr_flags(d: &Dict<'_>) -> (bool, bool, bool, bool) {
    let a = d.get(b"attr").and_then(Value::as_bytes).unwrap_or(b"");
    (
        a.contains(&b'p'),
        a.contains(&b'x'),
        a.contains(&b'h'),
        a.contains(&b'l'),
    )
}

fn get_len(d: &Dict<'_>, what: &str) -> Result<u64, MetainfoError> {
    match d.get(b"length") {
        Some(Value::Int(n)) if *n >= 0 => Ok(*n as u64),
        Some(Value::Int(n)) => Err(MetainfoError::InvalidLength(format!(
            "{what} has negative length {n}"
        ))),
        Some(_) => Err(MetainfoError::InvalidLength(format!(
            "{what} has a non-integer length"
        ))),
        None => Err(MetainfoError::InvalidLength(format!(
            "{what} has no length"
        ))),
    }
}

/// The v1 file list (`files` or `length`).
fn parse_v1_files<'a>(
    info: &Dict<'a>,
    name_raw: &'a [u8],
) -> Result<(Vec<RawFile<'a>>, bool), MetainfoError> {
    let Some(files) = info.get(b"files") else {
        let length = get_len(info, "the torrent")?;
        return Ok((
            vec![RawFile {
                raw: vec![name_raw],
                path: Vec::new(),
                length,
                pad: false,
                executable: false,
                hidden: false,
                symlink: None,
                pieces_root: None,
            }],
            false,
        ));
    };
    let files = files
        .as_list()
        .ok_or_else(|| MetainfoError::InvalidFile("`files` is not a list".into()))?;
    if files.is_empty() {
        return Err(MetainfoError::NoFiles);
    }
    if files.len() > MAX_FILES {
        return Err(MetainfoError::TooManyFiles(MAX_FILES));
    }
    let mut out = Vec::with_capacity(files.len());
    for (i, f) in files.iter().enumerate() {
        let what = format!("file {i}");
        let d = f
            .as_dict()
            .ok_or_else(|| MetainfoError::InvalidFile(format!("{what} is not a dictionary")))?;
        let (pad, executable, hidden, link) = attr_flags(d);
        let symlink = if link && !pad {
            parse_symlink(d, &what)?
        } else {
            None
        };
        let length = if link && d.get(b"length").is_none() {
            0
        } else {
            get_len(d, &what)?
        };
        let path_v = match d.get(b"path.utf-8").filter(|v| v.as_list().is_some()) {
            Some(p) => Some(p),
            None => d.get(b"path"),
        };
        let raw: Vec<&[u8]> = match path_v {
            Some(Value::List(l)) => {
                if l.len() > MAX_PATH_DEPTH {
                    return Err(MetainfoError::InvalidPath(format!("{what}: path too deep")));
                }
                l.iter()
                    .map(|c| {
                        c.as_bytes().ok_or_else(|| {
                            MetainfoError::InvalidPath(format!(
                                "{what}: path component is not a string"
                            ))
                        })
                    })
                    .collect::<Result<_, _>>()?
            }
            Some(_) => {
                return Err(MetainfoError::InvalidPath(format!(
                    "{what}: path is not a list"
                )))
            }
            None if pad => Vec::new(),
            None => return Err(MetainfoError::InvalidPath(format!("{what} has no path"))),
        };
        let path = if pad {
            Vec::new()
        } else {
            sanitize_path(raw.iter().copied())
        };
        out.push(RawFile {
            raw,
            path,
            // BEP 47: a symlink takes no space in the torrent
            length: if symlink.is_some() { 0 } else { length },
            pad,
            executable,
            hidden,
            symlink,
            pieces_root: None,
        });
    }
    Ok((out, true))
}

fn lengths(total: u64, piece_len: u64) -> Result<Lengths, MetainfoError> {
    if total == 0 {
        return Err(MetainfoError::InvalidLength(
            "the torrent holds no data (total size 0)".into(),
        ));
    }
    Lengths::new(total, piece_len).map_err(|e| match e {
        LengthsError::BadPieceLength(p) => MetainfoError::InvalidPieceLength(p as i64),
        LengthsError::TooLarge(t) => {
            MetainfoError::InvalidLength(format!("total size {t} is too large"))
        }
        LengthsError::TooManyPieces(n) => MetainfoError::TooManyPieces(n),
    })
}

/// Assigns offsets, sums the total, checking for overflow.
fn total_of(files: &[RawFile<'_>]) -> Result<u64, MetainfoError> {
    files.iter().try_fold(0u64, |acc, f| {
        acc.checked_add(f.length)
            .filter(|t| *t <= 1 << 60)
            .ok_or_else(|| MetainfoError::InvalidLength("total size overflows".into()))
    })
}

/// Parses and validates an info dictionary.
pub(super) fn parse_info(info: &Dict<'_>) -> Result<Info, MetainfoError> {
    let name_raw = info
        .get(b"name.utf-8")
        .and_then(Value::as_bytes)
        .or_else(|| info.get(b"name").and_then(Value::as_bytes))
        .ok_or(MetainfoError::MissingName)?;
    let name = match sanitize_name(name_raw) {
        Some(n) => n,
        None if name_raw.iter().all(|b| b.is_ascii_control()) => {
            return Err(MetainfoError::MissingName)
        }
        // a name like ".." is replaced by the info-hash, as libtorrent does
        None => hex::encode(Sha1::digest(info.raw)),
    };
    let piece_len = match info.get(b"piece length") {
        Some(Value::Int(n)) => *n,
        _ => return Err(MetainfoError::MissingPieceLength),
    };
    if piece_len <= 0 || piece_len > u32::MAX as i64 {
        return Err(MetainfoError::InvalidPieceLength(piece_len));
    }
    let mut piece_len = piece_len;
    let is_v2 = match info.get(b"meta version") {
        None => false,
        Some(Value::Int(1)) => false,
        Some(Value::Int(2)) => true,
        Some(Value::Int(n)) => return Err(MetainfoError::UnsupportedVersion(*n)),
        Some(_) => return Err(MetainfoError::UnsupportedVersion(-1)),
    };
    if is_v2 && info.get(b"file tree").is_none() {
        return Err(MetainfoError::InvalidFile(
            "`meta version` 2 without a `file tree`".into(),
        ));
    }
    let has_v1 = !is_v2 || info.get(b"pieces").is_some();
    let private = matches!(info.get(b"private"), Some(Value::Int(1)));

    let v2_files = if is_v2 {
        let tree = info.get(b"file tree").ok_or_else(|| {
            MetainfoError::InvalidFile("`meta version` 2 without a `file tree`".into())
        })?;
        Some(v2::parse_file_tree(tree, piece_len, name_raw)?)
    } else {
        None
    };

    #[allow(clippy::type_complexity)]
    let (mut files, lengths, pieces_v1, version) = if has_v1 {
        let (mut v1, multi) = parse_v1_files(info, name_raw)?;
        let total = total_of(&v1)?;
        if !is_v2 && piece_len > MAX_PIECE_LENGTH as i64 && total <= piece_len as u64 {
            // A one-piece v1 torrent with an oversized nominal piece length
            // (libtorrent loads these): the piece is only as long as the
            // data, so use the data size rounded up to a block.
            piece_len = total.div_ceil(BLOCK_SIZE as u64).max(1) as i64 * BLOCK_SIZE as i64;
        }
        let lengths = lengths(total, piece_len as u64)?;
        let version = if let Some((v2f, _)) = &v2_files {
            v2::check_hybrid(&mut v1, v2f, piece_len as u64)?;
            Version::Hybrid
        } else {
            Version::V1
        };
        let pieces = match info.get(b"pieces") {
            Some(Value::Bytes(b)) => *b,
            Some(_) => return Err(MetainfoError::MissingPieces),
            None => return Err(MetainfoError::MissingPieces),
        };
        if pieces.len() % 20 != 0 {
            return Err(MetainfoError::InvalidPieces(format!(
                "length {} is not a multiple of 20",
                pieces.len()
            )));
        }
        if pieces.len() / 20 != lengths.num_pieces() as usize {
            return Err(MetainfoError::InvalidPieces(format!(
                "{} hashes for {} pieces",
                pieces.len() / 20,
                lengths.num_pieces()
            )));
        }
        let hashes: Vec<[u8; 20]> = pieces
            .chunks_exact(20)
            .map(|c| c.try_into().expect("20 bytes"))
            .collect();
        (
            finish_files(v1, &name, multi)?,
            lengths,
            Some(hashes),
            version,
        )
    } else {
        let Some((v2f, single)) = v2_files else {
            return Err(MetainfoError::MissingPieces);
        };
        let with_pads = v2::add_alignment(v2f, piece_len as u64, true);
        let total = total_of(&with_pads)?;
        let lengths = lengths(total, piece_len as u64)?;
        (
            finish_files(with_pads, &name, !single)?,
            lengths,
            None,
            Version::V2,
        )
    };

    // offsets
    let mut off = 0u64;
    for f in &mut files {
        f.offset = off;
        off += f.length;
    }
    let layout_files = files
        .iter()
        .map(|f| LayoutFile {
            path: f.path.iter().collect::<PathBuf>(),
            length: f.length,
            offset: f.offset,
            pad: f.pad,
        })
        .collect();
    let layout = Layout::new(lengths, layout_files).map_err(|e| match e {
        LayoutError::PadNotAligned(i) => {
            MetainfoError::InvalidPadFile(format!("pad file {i} does not end on a piece boundary"))
        }
        e => MetainfoError::Layout(e),
    })?;
    Ok(Info {
        name,
        piece_length: piece_len as u32,
        version,
        private,
        files,
        pieces_v1,
        lengths,
        layout,
    })
}

/// Prefixes the name, names empty paths `_`, renames duplicates.
fn finish_files(
    raw: Vec<RawFile<'_>>,
    name: &str,
    multi: bool,
) -> Result<Vec<FileInfo>, MetainfoError> {
    let mut dedupe = Deduper::new();
    let mut out = Vec::with_capacity(raw.len());
    for f in raw {
        let path = if f.pad {
            Vec::new()
        } else {
            let mut p = Vec::with_capacity(f.path.len() + 1);
            p.push(name.to_string());
            if multi {
                if f.path.is_empty() {
                    p.push("_".to_string());
                } else {
                    p.extend(f.path);
                }
            }
            dedupe
                .unique(p)
                .map_err(|e| MetainfoError::DuplicateFiles(e.path))?
        };
        out.push(FileInfo {
            path,
            length: f.length,
            offset: 0,
            pad: f.pad,
            executable: f.executable,
            hidden: f.hidden,
            symlink: f.symlink,
            pieces_root: f.pieces_root,
        });
    }
    Ok(out)
}
