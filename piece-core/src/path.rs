//! Path sanitising: turning the path components a torrent names into a
//! relative path that can never resolve outside the download folder.
//!
//! Rules, applied component by component:
//! - bytes are decoded as UTF-8, lossily (invalid sequences become U+FFFD);
//! - `/` and `\` inside a component are separators: the component is split;
//! - empty components, `.` and `..` are dropped;
//! - NUL and other control characters are removed;
//! - characters Windows forbids (`<>:"|?*`) become `_`, and reserved device
//!   names (`CON`, `NUL`, `COM1`, ...) get a `_` appended;
//! - trailing spaces and dots are trimmed (Windows strips them silently);
//! - components longer than [`MAX_COMPONENT_BYTES`] are truncated on a
//!   character boundary, keeping a short extension.
//!
//! A path that ends up empty is the caller's business (the metainfo parser
//! names such a file `_`). Duplicate paths are made unique with
//! [`Deduper`], which appends `.1`, `.2`, ... before the extension.

use std::collections::{HashMap, HashSet};

/// Longest component we produce, in bytes (the common file-system limit).
pub const MAX_COMPONENT_BYTES: usize = 255;

/// Most path components one file may have (after splitting).
pub const MAX_PATH_DEPTH: usize = 256;

/// Most copies of one path [`Deduper`] renames before giving up.
pub const MAX_DUPLICATES: u32 = 100;

/// Longest extension kept when a component is truncated.
const MAX_EXT_BYTES: usize = 16;

/// Sanitises one raw component, which may split into several (at `/` or
/// `\`) or vanish (`..`, `.`, empty, only control characters).
pub fn sanitize_component(raw: &[u8]) -> Vec<String> {
    let s = String::from_utf8_lossy(raw);
    s.split(['/', '\\']).filter_map(clean_one).collect()
}

/// Sanitises a list of raw components into safe ones.
pub fn sanitize_path<'a>(raw: impl IntoIterator<Item = &'a [u8]>) -> Vec<String> {
    raw.into_iter().flat_map(sanitize_component).collect()
}

/// Sanitises a torrent name into one safe component (separators become
/// `_`). Returns `None` if nothing is left.
pub fn sanitize_name(raw: &[u8]) -> Option<String> {
    let s = String::from_utf8_lossy(raw).replace(['/', '\\'], "_");
    clean_one(&s)
}

/// Cleans a component that holds no separator.
fn clean_one(c: &str) -> Option<String> {
    let mut out: String = c
        .chars()
        .filter(|ch| !ch.is_control())
        .map(|ch| match ch {
            '<' | '>' | ':' | '"' | '|' | '?' | '*' => '_',
            ch => ch,
        })
        .collect();
    let trimmed = out.trim_end_matches([' ', '.']).len();
    out.truncate(trimmed);
    if out.is_empty() {
        // ".", "..", "...", " " and the like
        return None;
    }
    if is_reserved_windows_name(&out) {
        let at = out.find('.').unwrap_or(out.len());
        out.insert(at, '_');
    }
    Some(truncate_component(&out))
}

fn is_reserved_windows_name(s: &str) -> bool {
    let stem = s.split('.').next().unwrap_or("").to_ascii_uppercase();
    matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ((stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit())
}

/// Truncates to [`MAX_COMPONENT_BYTES`], keeping an extension of up to 16
/// bytes, on character boundaries.
fn truncate_component(s: &str) -> String {
    if s.len() <= MAX_COMPONENT_BYTES {
        return s.to_string();
    }
    let ext = match s.rfind('.') {
        Some(i) if i > 0 && s.len() - i <= MAX_EXT_BYTES => &s[i..],
        _ => "",
    };
    let mut keep = MAX_COMPONENT_BYTES - ext.len();
    while !s.is_char_boundary(keep) {
        keep -= 1;
    }
    let mut out = s[..keep].to_string();
    out.push_str(ext);
    out
}

/// Is every component safe (what [`sanitize_component`] produces)?
pub fn is_safe_component(c: &str) -> bool {
    !c.is_empty()
        && c != "."
        && c != ".."
        && c.len() <= MAX_COMPONENT_BYTES
        && !c.contains(['/', '\\'])
        && !c.chars().any(char::is_control)
}

/// Error from [`Deduper::unique`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("more than {MAX_DUPLICATES} files named {path:?}")]
pub struct TooManyDuplicates {
    /// The path that has too many duplicates.
    pub path: String,
}

/// Makes file paths unique (case-insensitively, so they also stay distinct
/// on Windows and macOS) by appending `.1`, `.2`, ... before the extension.
/// A path is also kept apart from the directories of the paths before it.
#[derive(Default, Debug)]
pub struct Deduper {
    seen: HashSet<String>,
    dirs: HashSet<String>,
    /// Next suffix to try per original path, so renaming stays linear.
    next: HashMap<String, u32>,
}

impl Deduper {
    /// A deduper that has seen no path yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn key(path: &[String]) -> String {
        path.join("/").to_lowercase()
    }

    /// Returns `path` or a renamed copy not seen before, and records it.
    /// `path` must not be empty.
    pub fn unique(&mut self, mut path: Vec<String>) -> Result<Vec<String>, TooManyDuplicates> {
        let Some(last) = path.last().cloned() else {
            return Ok(path);
        };
        let taken = |d: &Self, p: &[String]| {
            let k = Self::key(p);
            d.seen.contains(&k) || d.dirs.contains(&k)
        };
        if taken(self, &path) {
            let (stem, ext) = match last.rfind('.') {
                Some(i) if i > 0 => (&last[..i], &last[i..]),
                _ => (&last[..], ""),
            };
            let orig = Self::key(&path);
            let shown = path.join("/");
            let mut n = self.next.get(&orig).copied().unwrap_or(1);
            loop {
                if n > MAX_DUPLICATES {
                    return Err(TooManyDuplicates { path: shown });
                }
                let cand = truncate_component(&format!("{stem}.{n}{ext}"));
                *path.last_mut().expect("non-empty") = cand;
                n += 1;
                if !taken(self, &path) {
                    break;
                }
            }
            self.next.insert(orig, n);
        }
        for i in 1..path.len() {
            self.dirs.insert(Self::key(&path[..i]));
        }
        self.seen.insert(Self::key(&path));
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn drops_traversal_and_roots() {
        assert_eq!(
            sanitize_path([&b".."[..], b"etc", b"passwd"]),
            s(&["etc", "passwd"])
        );
        assert_eq!(sanitize_path([&b"/foobar"[..]]), s(&["foobar"]));
        assert_eq!(sanitize_path([&b"\\"[..], b"\\", b"bar"]), s(&["bar"]));
        assert_eq!(sanitize_path([&b"a\\..\\..\\b"[..]]), s(&["a", "b"]));
        assert_eq!(
            sanitize_path([&b""[..], b".", b"..."]),
            Vec::<String>::new()
        );
        assert_eq!(sanitize_path([&b"C:"[..], b"x"]), s(&["C_", "x"]));
    }

    #[test]
    fn cleans_characters() {
        assert_eq!(sanitize_component(b"a\0b\x01c\x7f"), s(&["abc"]));
        assert_eq!(sanitize_component(b"\0\0"), Vec::<String>::new());
        assert_eq!(sanitize_component(b"a?b*c"), s(&["a_b_c"]));
        assert_eq!(sanitize_component(b"name. . "), s(&["name"]));
        assert_eq!(sanitize_component(b"CON"), s(&["CON_"]));
        assert_eq!(sanitize_component(b"com1.txt"), s(&["com1_.txt"]));
        assert_eq!(
            sanitize_component(b"\xff\xfeok"),
            s(&["\u{fffd}\u{fffd}ok"])
        );
        assert_eq!(sanitize_name(b"a/b\\c").as_deref(), Some("a_b_c"));
        assert_eq!(sanitize_name(b"..").as_deref(), None);
    }

    #[test]
    fn truncates_long_components() {
        let long = format!("{}.pdf", "x".repeat(400));
        let c = &sanitize_component(long.as_bytes())[0];
        assert_eq!(c.len(), 255);
        assert!(c.ends_with(".pdf"));
        let multi = "é".repeat(200); // 400 bytes
        let c = &sanitize_component(multi.as_bytes())[0];
        assert!(c.len() <= 255 && c.len() >= 253);
        assert!(is_safe_component(c));
    }

    #[test]
    fn dedupes() {
        let mut d = Deduper::new();
        assert_eq!(d.unique(s(&["t", "a.txt"])).unwrap(), s(&["t", "a.txt"]));
        assert_eq!(d.unique(s(&["t", "a.txt"])).unwrap(), s(&["t", "a.1.txt"]));
        assert_eq!(d.unique(s(&["t", "A.TXT"])).unwrap(), s(&["t", "A.2.TXT"]));
        // a file may not take the name of a directory already used
        assert_eq!(d.unique(s(&["t"])).unwrap(), s(&["t.1"]));
        for _ in 3..=MAX_DUPLICATES {
            d.unique(s(&["t", "a.txt"])).unwrap();
        }
        assert!(d.unique(s(&["t", "a.txt"])).is_err());
    }
}
