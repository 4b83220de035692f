//! What a library shows of a file: title, authors, language, description,
//! tags, page count and cover, read from the file itself (EPUB, PDF), from
//! the collection's sidecar file ([`sidecar::FILE_NAME`]) where a librarian
//! set them, and otherwise a title made from the file name.
//!
//! Files face this module as untrusted input (a collection folder, or a
//! mirror's copy of another seedbox's): every parser reads a bounded number
//! of bytes ([`MAX_EPUB_ENTRY`], [`MAX_OPF`], [`pdf::WINDOW`], ...), never
//! recurses on input structure, and reports failure as "no metadata".
//!
//! Extraction runs when a version is listed, once per file content: the
//! result is kept in the state folder ([`Catalogue`], keyed by the file's
//! v2 pieces root, or its device/inode/size/mtime when it has none), so a
//! restart does not reparse. Cover thumbnails are written there too, never
//! under a shared folder.

pub mod epub;
pub mod pdf;
pub mod samples;
pub mod sidecar;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::library::FileIdentity;

/// Most bytes read (after decompression) of one EPUB member other than the
/// cover: `container.xml` and the package document.
pub const MAX_OPF: u64 = 1 << 20;
/// Most bytes of a cover image read from an EPUB.
pub const MAX_EPUB_ENTRY: u64 = 8 << 20;
/// Most characters kept of a description; most authors and tags kept.
const MAX_DESCRIPTION: usize = 2000;
const MAX_LIST: usize = 32;
const MAX_FIELD: usize = 500;
/// Largest side of a cover thumbnail, in pixels (width, height).
pub const THUMB_W: u32 = 300;
pub const THUMB_H: u32 = 450;

/// What a file says about itself (the part of [`FileMeta`] that depends on
/// its content only, and so can be cached by content).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extracted {
    pub title: Option<String>,
    #[serde(default)]
    pub authors: Vec<String>,
    pub language: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub pages: Option<u32>,
    /// The cover image as found in the file (not yet thumbnailed; never
    /// cached: only whether a thumbnail was written is).
    #[serde(skip)]
    pub cover: Option<Vec<u8>>,
    /// A thumbnail of the cover is in the catalogue's cover folder.
    #[serde(default)]
    pub has_cover: bool,
}

impl Extracted {
    /// Bounds every text field (lengths, counts) and drops empty ones.
    fn bounded(mut self) -> Extracted {
        self.title = self.title.and_then(|t| clean(&t, MAX_FIELD));
        self.language = self.language.and_then(|t| clean(&t, 35));
        self.description = self
            .description
            .and_then(|d| clean(&strip_tags(&d), MAX_DESCRIPTION));
        self.authors = clean_list(self.authors);
        self.tags = clean_list(self.tags);
        self
    }
}

fn clean_list(v: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in v {
        if let Some(s) = clean(&s, MAX_FIELD) {
            if !out.contains(&s) && out.len() < MAX_LIST {
                out.push(s);
            }
        }
    }
    out
}

/// Collapses whitespace, drops control characters, bounds the length;
/// `None` when nothing is left.
pub(crate) fn clean(s: &str, max_chars: usize) -> Option<String> {
    let mut out = String::new();
    for w in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(w.chars().filter(|c| !c.is_control()));
    }
    if out.chars().count() > max_chars {
        out = out.chars().take(max_chars).collect::<String>() + "…";
    }
    (!out.is_empty()).then_some(out)
}

/// Text of HTML markup (descriptions are often HTML): tags removed, the
/// common entities decoded.
fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// What the catalogue shows of one file of a version.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FileMeta {
    /// The title: the sidecar's, the file's own, or one made from the file
    /// name (without extension, `-` and `_` as spaces). Never empty.
    pub title: String,
    pub authors: Vec<String>,
    /// Language tag (BCP 47 as the file gives it, e.g. `en`, `fr-CA`).
    pub language: Option<String>,
    /// Plain text.
    pub description: Option<String>,
    /// Subjects and the librarian's tags.
    pub tags: Vec<String>,
    /// Page count (PDF).
    pub pages: Option<u32>,
    /// The cover thumbnail (JPEG) in the state folder, when the file has a
    /// cover. Not serialised.
    #[serde(skip)]
    pub cover: Option<PathBuf>,
    /// Folded words of title, authors, tags and path, for search.
    #[serde(skip)]
    pub(crate) haystack: String,
    /// Folded words of the title alone (search ranks title matches first).
    #[serde(skip)]
    pub(crate) title_folded: String,
}

impl FileMeta {
    /// The metadata of the file at collection path `path`: the sidecar's
    /// fields first, then the file's, then the title from its name.
    pub fn resolve(
        path: &str,
        file: Option<&Extracted>,
        side: Option<&sidecar::Entry>,
        cover: Option<PathBuf>,
    ) -> FileMeta {
        let none = Extracted::default();
        let file = file.unwrap_or(&none);
        let pick = |s: Option<&Option<String>>, f: &Option<String>| {
            s.and_then(|s| s.clone()).or_else(|| f.clone())
        };
        let side_list = |l: Option<&Vec<String>>| l.filter(|l| !l.is_empty()).cloned();
        let title = pick(side.map(|s| &s.title), &file.title)
            .and_then(|t| clean(&t, MAX_FIELD))
            .unwrap_or_else(|| title_from_name(path));
        let authors = side_list(side.map(|s| &s.authors)).unwrap_or_else(|| file.authors.clone());
        let mut tags = file.tags.clone();
        for t in side.map(|s| s.tags.clone()).unwrap_or_default() {
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
        let mut m = FileMeta {
            title,
            authors: clean_list(authors),
            language: pick(side.map(|s| &s.language), &file.language),
            description: pick(side.map(|s| &s.description), &file.description),
            tags: clean_list(tags),
            pages: file.pages,
            cover,
            haystack: String::new(),
            title_folded: String::new(),
        };
        m.title_folded = fold(&m.title);
        m.haystack = fold(&format!(
            "{} {} {} {}",
            m.title,
            m.authors.join(" "),
            m.tags.join(" "),
            path
        ));
        m
    }

    /// Metadata from the file name alone.
    pub fn from_path(path: &str) -> FileMeta {
        FileMeta::resolve(path, None, None, None)
    }
}

/// The title a file name gives: the last component without its extension,
/// `-` and `_` as spaces (`bike-repair_basics.pdf` → `bike repair basics`).
pub fn title_from_name(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    let stem = match base.rsplit_once('.') {
        Some((s, ext)) if !s.is_empty() && !ext.is_empty() && ext.len() <= 5 => s,
        _ => base,
    };
    let t: String = stem
        .chars()
        .map(|c| if c == '-' || c == '_' { ' ' } else { c })
        .collect();
    clean(&t, MAX_FIELD).unwrap_or_else(|| base.to_string())
}

/// Text as search compares it: diacritics removed (canonical
/// decomposition without combining marks), lowercase, every run of
/// characters other than letters and digits one space, with a space at
/// each end (so that `" word"` finds a word start).
pub fn fold(s: &str) -> String {
    use unicode_normalization::char::is_combining_mark;
    use unicode_normalization::UnicodeNormalization;
    let mut out = String::with_capacity(s.len() + 2);
    out.push(' ');
    for c in s.nfkd().filter(|c| !is_combining_mark(*c)) {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with(' ') {
            out.push(' ');
        }
    }
    if !out.ends_with(' ') {
        out.push(' ');
    }
    out
}

/// Which reader a file's extension calls for.
fn kind(path: &str) -> Option<&'static str> {
    let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
    match ext.as_str() {
        "epub" => Some("epub"),
        "pdf" => Some("pdf"),
        _ => None,
    }
}

/// The key a file's extracted metadata is cached under: its content hash
/// when the torrent has one, else what identifies its bytes on disk. Only
/// hex digits and `-` (safe in a file name).
pub fn cache_key(content_hash: Option<&str>, id: &FileIdentity) -> String {
    match content_hash.filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit())) {
        Some(h) => h.to_ascii_lowercase(),
        None => format!(
            "{:x}-{:x}-{:x}-{:x}",
            id.dev, id.ino, id.size, id.mtime_ns as u128
        ),
    }
}

/// Reads a file's own metadata (EPUB or PDF, by extension). The file must
/// be the one described by `want` (opened without following a symlink).
pub fn extract_file(disk_path: &Path, path: &str, want: &FileIdentity) -> Extracted {
    let Some(kind) = kind(path) else {
        return Extracted::default();
    };
    let Some(file) = open_exact(disk_path, want) else {
        return Extracted::default();
    };
    let got = match kind {
        "epub" => epub::read(file),
        _ => pdf::read(file),
    };
    got.bounded()
}

fn open_exact(p: &Path, want: &FileIdentity) -> Option<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(p)
        .ok()?;
    let md = f.metadata().ok()?;
    (md.is_file() && FileIdentity::of(&md) == *want).then_some(f)
}

/// A cover image made into a JPEG thumbnail that fits in
/// [`THUMB_W`]×[`THUMB_H`]; `None` for an image that is not a JPEG or PNG,
/// is larger than 8,000 pixels a side, or would need more than 128 MiB.
pub fn thumbnail(bytes: &[u8]) -> Option<Vec<u8>> {
    use image::ImageReader;
    let mut r = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .ok()?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(8000);
    limits.max_image_height = Some(8000);
    limits.max_alloc = Some(128 << 20);
    r.limits(limits);
    let img = r.decode().ok()?;
    let small = img.thumbnail(THUMB_W, THUMB_H).to_rgb8();
    let mut out = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80);
    small.write_with_encoder(enc).ok()?;
    Some(out)
}

/// The cache of extracted metadata and cover thumbnails, in
/// `<state_dir>/catalogue/` (`meta.json`, `covers/<key>.jpg`).
pub struct Catalogue {
    dir: PathBuf,
    entries: Mutex<HashMap<String, Arc<Extracted>>>,
    dirty: AtomicBool,
}

/// The cache file's name in the catalogue folder.
const CACHE_FILE: &str = "meta.json";
/// Most bytes of cache file read (a corrupt or foreign one is ignored).
const MAX_CACHE_FILE: u64 = 256 << 20;

impl Catalogue {
    /// The catalogue in `state_dir`, with what earlier runs extracted.
    pub fn open(state_dir: &Path) -> Catalogue {
        let dir = state_dir.join("catalogue");
        let entries = read_bounded(&dir.join(CACHE_FILE), MAX_CACHE_FILE)
            .and_then(|b| serde_json::from_slice::<HashMap<String, Extracted>>(&b).ok())
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, Arc::new(v)))
            .collect();
        Catalogue {
            dir,
            entries: Mutex::new(entries),
            dirty: AtomicBool::new(false),
        }
    }

    /// Where the thumbnail of the file cached under `key` is.
    fn cover_path(&self, key: &str) -> PathBuf {
        self.dir.join("covers").join(format!("{key}.jpg"))
    }

    /// A file's extracted metadata and cover thumbnail: from the cache, or
    /// read from the file now (and cached).
    pub fn describe(
        &self,
        disk_path: &Path,
        path: &str,
        content_hash: Option<&str>,
        id: &FileIdentity,
    ) -> (Arc<Extracted>, Option<PathBuf>) {
        let key = cache_key(content_hash, id);
        let cached = self.lock().get(&key).cloned();
        let ex = match cached {
            Some(ex) => ex,
            None => {
                let mut ex = extract_file(disk_path, path, id);
                if let Some(img) = ex.cover.take() {
                    ex.has_cover = thumbnail(&img).is_some_and(|jpg| {
                        let p = self.cover_path(&key);
                        write_atomic(&p, &jpg)
                            .map_err(|e| tracing::warn!("cover {}: {e}", p.display()))
                            .is_ok()
                    });
                }
                let ex = Arc::new(ex);
                self.lock().insert(key.clone(), ex.clone());
                self.dirty.store(true, Ordering::Relaxed);
                ex
            }
        };
        let cover = ex.has_cover.then(|| self.cover_path(&key));
        (ex, cover)
    }

    /// Writes the cache file if anything was added since the last save.
    pub fn save(&self) {
        if !self.dirty.swap(false, Ordering::Relaxed) {
            return;
        }
        let json = {
            let all = self.lock();
            let plain: HashMap<&String, &Extracted> = all.iter().map(|(k, v)| (k, &**v)).collect();
            serde_json::to_vec(&plain)
        };
        let p = self.dir.join(CACHE_FILE);
        if let Err(e) = json
            .map_err(std::io::Error::other)
            .and_then(|j| write_atomic(&p, &j))
        {
            tracing::warn!("catalogue cache {}: {e}", p.display());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Extracted>>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Reads at most `max` bytes of a file; `None` if it is missing, larger, or
/// unreadable.
pub(crate) fn read_bounded(p: &Path, max: u64) -> Option<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(p).ok()?;
    let mut buf = Vec::new();
    f.take(max + 1).read_to_end(&mut buf).ok()?;
    (buf.len() as u64 <= max).then_some(buf)
}

/// Writes a file through a temporary name and a rename.
fn write_atomic(p: &Path, data: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = p.with_extension("tmp");
    std::fs::write(&tmp, data)?;
    std::fs::rename(&tmp, p)
}

#[cfg(test)]
mod tests;
