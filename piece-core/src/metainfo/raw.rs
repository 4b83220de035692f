//! A file entry as either parser reads it (v1 `files` list or v2 `file
//! tree`), before the torrent name is prefixed and duplicates renamed; shared
//! by [`super::parse`] and [`super::v2`] so neither imports the other.

use super::error::MetainfoError;
use crate::bencode::{Dict, Value};
use crate::path::{sanitize_path, MAX_PATH_DEPTH};

/// A file as parsed, before the name is prefixed and duplicates renamed.
#[derive(Clone, Debug)]
pub(super) struct RawFile<'a> {
    /// Raw path components as in the torrent (for comparing v1 and v2).
    pub raw: Vec<&'a [u8]>,
    /// Sanitised components (without the torrent name).
    pub path: Vec<String>,
    pub length: u64,
    pub pad: bool,
    pub executable: bool,
    pub hidden: bool,
    pub symlink: Option<Vec<String>>,
    pub pieces_root: Option<[u8; 32]>,
}

/// Parses the `symlink path` of a file whose `attr` has `l`.
pub(super) fn parse_symlink(
    d: &Dict<'_>,
    what: &str,
) -> Result<Option<Vec<String>>, MetainfoError> {
    let list = d
        .get(b"symlink path")
        .and_then(Value::as_list)
        .ok_or_else(|| MetainfoError::InvalidSymlink(format!("{what}: no symlink path list")))?;
    if list.len() > MAX_PATH_DEPTH {
        return Err(MetainfoError::InvalidSymlink(format!(
            "{what}: target too deep"
        )));
    }
    let mut raw = Vec::with_capacity(list.len());
    for c in list {
        raw.push(c.as_bytes().ok_or_else(|| {
            MetainfoError::InvalidSymlink(format!("{what}: target component is not a string"))
        })?);
    }
    let target = sanitize_path(raw);
    // A target that sanitises to nothing would point at the torrent root:
    // drop the link (the entry stays as an empty file).
    Ok((!target.is_empty()).then_some(target))
}
