//! What a collection folder shares: the folder walk behind every version.
//!
//! A file is shared when it is a regular file (symlinks are never
//! followed), it can be opened for reading, its name is UTF-8, it is
//! neither the seedbox's state folder, its signing key nor its config
//! file (see [`Private`]), and the collection's [`Filter`] keeps it:
//!
//! - **Default exclusions** ([`DEFAULT_EXCLUDES`]): hidden files and
//!   folders (`.DS_Store`, `.git/`, `._*`), operating-system litter
//!   (`Thumbs.db`, `desktop.ini`, `$RECYCLE.BIN`, `lost+found`...) and the
//!   names of downloads and copies in progress (`*.part`, `*.crdownload`,
//!   `*.!qB`, `*~`, `~$*`...).
//! - **`exclude`**: more patterns to leave out.
//! - **`include`**: when given, only files matching one of these are
//!   shared (the exclusions still apply).
//!
//! Patterns are globs (`*`, `?`, `[abc]`, `**`), matched without regard to
//! case. A pattern without `/` matches a file or folder name at any depth
//! (`*.tmp`, `drafts`); a pattern with a `/` matches the path from the
//! collection folder (`scans/*.tif`, `/drafts`: only the top `drafts`). An
//! excluded folder is not entered.
//!
//! One bad file never blocks a collection: a file that cannot be read, a
//! name that is not UTF-8, a folder that cannot be listed, a symlink, or a
//! private file is left out and reported in [`Listing::skipped`] (shown on
//! the admin page); the rest is shared.

use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use piece_core::create::FoundFile;

use crate::library::{FileIdentity, SkippedFile};
use crate::store::{Manifest, ManifestFile, StoreError};

/// Left out of every collection unless the config says otherwise.
pub const DEFAULT_EXCLUDES: &[&str] = &[
    // hidden files and folders: .DS_Store, .git/, ._AppleDouble, .Trash-1000
    ".*",
    // operating-system litter
    "Thumbs.db",
    "ehthumbs.db",
    "desktop.ini",
    "Icon\r",
    "$RECYCLE.BIN",
    "System Volume Information",
    "lost+found",
    "__MACOSX",
    // downloads and copies in progress, editors' and office temporaries
    "*.part",
    "*.partial",
    "*.crdownload",
    "*.download",
    "*.opdownload",
    "*.filepart",
    "*.!qB",
    "*.!ut",
    "*.!bt",
    "*.aria2",
    "*.tmp",
    "*.temp",
    "*.swp",
    "*~",
    "~$*",
];

/// A glob that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("{pattern:?} is not a valid pattern: {source}")]
pub struct FilterError {
    /// Whether the pattern is one of `include` (else `exclude`).
    pub include: bool,
    /// Index of the pattern in its list.
    pub index: usize,
    pub pattern: String,
    #[source]
    pub source: globset::Error,
}

/// Patterns split by what they are matched against.
#[derive(Clone, Debug)]
struct Patterns {
    /// Without `/`: matched against a name.
    names: GlobSet,
    /// With a `/` (leading or inside): matched against the path in the
    /// collection.
    paths: GlobSet,
    len: usize,
}

impl Patterns {
    fn new<'a>(list: impl IntoIterator<Item = &'a str>) -> Result<Patterns, FilterError> {
        let (mut names, mut paths, mut len) = (GlobSetBuilder::new(), GlobSetBuilder::new(), 0);
        for (index, p) in list.into_iter().enumerate() {
            let err = |source| FilterError {
                include: false,
                index,
                pattern: p.to_string(),
                source,
            };
            let trimmed = p.trim_start_matches('/').trim_end_matches('/');
            let g = GlobBuilder::new(trimmed)
                .case_insensitive(true)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(err)?;
            if trimmed.contains('/') || p.starts_with('/') {
                paths.add(g);
            } else {
                names.add(g);
            }
            len += 1;
        }
        let build = |b: GlobSetBuilder| {
            b.build().map_err(|source| FilterError {
                include: false,
                index: 0,
                pattern: String::new(),
                source,
            })
        };
        Ok(Patterns {
            names: build(names)?,
            paths: build(paths)?,
            len,
        })
    }

    fn matches(&self, rel: &str, name: &str) -> bool {
        self.names.is_match(name) || self.paths.is_match(rel)
    }
}

/// Which files of a collection folder are shared (see the module docs).
#[derive(Clone, Debug)]
pub struct Filter {
    exclude: Patterns,
    include: Patterns,
}

impl Filter {
    /// The default exclusions plus `exclude`; only files matching
    /// `include` when it is not empty.
    pub fn new(include: &[String], exclude: &[String]) -> Result<Filter, FilterError> {
        let exclude = Patterns::new(
            DEFAULT_EXCLUDES
                .iter()
                .copied()
                .chain(exclude.iter().map(String::as_str)),
        )
        .map_err(|e| FilterError {
            index: e.index.saturating_sub(DEFAULT_EXCLUDES.len()),
            ..e
        })?;
        Ok(Filter {
            exclude,
            include: Patterns::new(include.iter().map(String::as_str))
                .map_err(|e| FilterError { include: true, ..e })?,
        })
    }

    /// Whether the folder at `rel` (named `name`) is walked.
    pub fn keeps_dir(&self, rel: &str, name: &str) -> bool {
        !self.exclude.matches(rel, name)
    }

    /// Whether the file at `rel` (named `name`) is shared.
    pub fn keeps_file(&self, rel: &str, name: &str) -> bool {
        !self.exclude.matches(rel, name)
            && (self.include.len == 0 || self.include.matches(rel, name))
    }
}

impl Default for Filter {
    /// The default exclusions only.
    fn default() -> Filter {
        Filter::new(&[], &[]).unwrap_or_else(|e| unreachable!("default excludes: {e}"))
    }
}

/// What is never shared, whatever the config says, recognised by device
/// and inode (so a symlink, a bind mount or a hard link cannot smuggle it
/// in): the state folder, the signing key inside it and the config file.
#[derive(Clone, Debug, Default)]
pub struct Private {
    dirs: Vec<(u64, u64)>,
    files: Vec<(u64, u64)>,
}

fn dev_ino(p: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

impl Private {
    /// The state folder (and its `identity.key`) and the config file.
    pub fn new(state_dir: &Path, config_file: Option<&Path>) -> Private {
        Private {
            dirs: dev_ino(state_dir).into_iter().collect(),
            files: [
                Some(state_dir.join("identity.key")),
                config_file.map(Path::to_path_buf),
            ]
            .into_iter()
            .flatten()
            .filter_map(|p| dev_ino(&p))
            .collect(),
        }
    }

    fn dir(&self, md: &std::fs::Metadata) -> bool {
        self.dirs.contains(&(md.dev(), md.ino()))
    }

    fn file(&self, md: &std::fs::Metadata) -> bool {
        self.files.contains(&(md.dev(), md.ino()))
    }
}

/// The shared files of a folder at one moment, and the ones left out.
#[derive(Clone, Debug, Default)]
pub struct Listing {
    /// Sorted by path components, as torrent creation takes them.
    pub files: Vec<FoundFile>,
    /// Sorted by path.
    pub skipped: Vec<SkippedFile>,
}

/// What tells two looks at a file apart: its identity, plus the change
/// time, which every write and every `touch -d` moves, so a file rewritten
/// with its old size and modification time put back is still seen.
fn stamp(f: &FoundFile) -> (FileIdentity, i128) {
    let md = &f.metadata;
    (
        FileIdentity::of(md),
        i128::from(md.ctime()) * 1_000_000_000 + i128::from(md.ctime_nsec()),
    )
}

impl Listing {
    /// Path, size and modification time of each file (what is saved and
    /// compared across restarts).
    pub fn manifest(&self) -> Manifest {
        Manifest {
            files: self
                .files
                .iter()
                .map(|f| ManifestFile {
                    path: f.rel.join("/"),
                    size: f.metadata.len(),
                    mtime_ns: FileIdentity::of(&f.metadata).mtime_ns,
                })
                .collect(),
        }
    }

    /// Each file's path and identity.
    pub fn identities(&self) -> impl Iterator<Item = (String, FileIdentity)> + '_ {
        self.files
            .iter()
            .map(|f| (f.rel.join("/"), FileIdentity::of(&f.metadata)))
    }

    /// The files of both listings whose identity or change time differs
    /// (replaced, rewritten, touched).
    pub fn moved_since(&self, before: &Listing) -> std::collections::HashSet<String> {
        let old: std::collections::HashMap<&[String], (FileIdentity, i128)> = before
            .files
            .iter()
            .map(|f| (f.rel.as_slice(), stamp(f)))
            .collect();
        self.files
            .iter()
            .filter(|f| old.get(f.rel.as_slice()).is_some_and(|s| *s != stamp(f)))
            .map(|f| f.rel.join("/"))
            .collect()
    }

    /// Whether both listings hold the very same files, untouched: same
    /// paths, devices, inodes, sizes, modification and change times.
    pub fn same_files(&self, other: &Listing) -> bool {
        self.files.len() == other.files.len()
            && self
                .files
                .iter()
                .zip(&other.files)
                .all(|(a, b)| a.rel == b.rel && stamp(a) == stamp(b))
    }
}

/// Walk `root` (see the module docs). Only a folder that cannot be read at
/// all is an error. A file that `known` (an earlier listing) holds with the
/// same identity and change time is not opened again to see that it reads
/// (a `chmod` or `chown` moves the change time).
pub fn scan(
    root: &Path,
    filter: &Filter,
    private: &Private,
    known: Option<&Listing>,
) -> Result<Listing, StoreError> {
    let known: std::collections::HashMap<&[String], (FileIdentity, i128)> = known
        .map(|l| {
            l.files
                .iter()
                .map(|f| (f.rel.as_slice(), stamp(f)))
                .collect()
        })
        .unwrap_or_default();
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StoreError::Io { path, source }
    };
    let mut out = Listing::default();
    let mut skip = |rel: &str, reason: String| {
        out.skipped.push(SkippedFile {
            path: rel.to_string(),
            reason,
        })
    };
    let mut files = Vec::new();
    let mut stack: Vec<(PathBuf, Vec<String>)> = vec![(root.to_path_buf(), Vec::new())];
    while let Some((dir, rel)) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if rel.is_empty() => return Err(io(root)(e)),
            Err(e) => {
                skip(
                    &format!("{}/", rel.join("/")),
                    format!("folder not read: {e}"),
                );
                continue;
            }
        };
        for ent in entries {
            let ent = match ent {
                Ok(ent) => ent,
                Err(e) => {
                    skip(
                        &format!("{}/", rel.join("/")),
                        format!("folder not read: {e}"),
                    );
                    break;
                }
            };
            let path = ent.path();
            let os_name = ent.file_name();
            let mut r = rel.clone();
            let Some(name) = os_name.to_str() else {
                r.push(os_name.to_string_lossy().into_owned());
                skip(
                    &r.join("/"),
                    "name is not UTF-8: rename it to share it".into(),
                );
                continue;
            };
            r.push(name.to_string());
            let rel_str = r.join("/");
            let md = match std::fs::symlink_metadata(&path) {
                Ok(md) => md,
                Err(e) => {
                    skip(&rel_str, e.to_string());
                    continue;
                }
            };
            if md.is_dir() {
                if private.dir(&md) {
                    skip(
                        &format!("{rel_str}/"),
                        "the seedbox's state folder is never shared".into(),
                    );
                } else if filter.keeps_dir(&rel_str, name) {
                    stack.push((path, r));
                }
            } else if md.is_file() {
                if private.file(&md) {
                    skip(
                        &rel_str,
                        "the seedbox's key or config is never shared".into(),
                    );
                } else if filter.keeps_file(&rel_str, name) {
                    let f = FoundFile {
                        rel: r,
                        abs: path,
                        metadata: md,
                    };
                    let seen = known.get(f.rel.as_slice()) == Some(&stamp(&f));
                    match if seen { Ok(()) } else { readable(&f.abs) } {
                        Ok(()) => files.push(f),
                        Err(e) => skip(&rel_str, format!("cannot be read: {e}")),
                    }
                }
            } else if md.file_type().is_symlink() && filter.keeps_file(&rel_str, name) {
                skip(&rel_str, "symbolic link: not followed".into());
            }
            // sockets, fifos, devices: never shared, not worth a line
        }
    }
    files.sort_by(|a, b| a.rel.cmp(&b.rel));
    out.files = files;
    out.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// Whether the file opens for reading (without following a symlink, and
/// without blocking should it have become a fifo).
fn readable(path: &Path) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(l: &Listing) -> Vec<String> {
        l.files.iter().map(|f| f.rel.join("/")).collect()
    }

    fn put(root: &Path, rel: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, rel.as_bytes()).unwrap();
    }

    #[test]
    fn litter_hidden_and_partial_files_are_left_out() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        for f in [
            "zine.pdf",
            "sub/book.epub",
            ".DS_Store",
            "sub/.DS_Store",
            "Thumbs.db",
            "sub/DESKTOP.INI",
            ".git/config",
            ".git/objects/ab/cd",
            "draft.pdf.part",
            "film.mp4.crdownload",
            "big.iso.!qB",
            "notes.txt~",
            "~$report.docx",
            "._zine.pdf",
            "$RECYCLE.BIN/x",
            "__MACOSX/x",
        ] {
            put(r, f);
        }
        let l = scan(r, &Filter::default(), &Private::default(), None).unwrap();
        assert_eq!(paths(&l), ["sub/book.epub", "zine.pdf"]);
        assert!(l.skipped.is_empty(), "{:?}", l.skipped);
    }

    #[test]
    fn include_and_exclude_globs() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        for f in [
            "a.pdf",
            "b.PDF",
            "c.epub",
            "drafts/d.pdf",
            "x/drafts/e.pdf",
            "scans/f.tif",
        ] {
            put(r, f);
        }
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let f = Filter::new(&s(&["*.pdf", "*.tif"]), &s(&["drafts", "scans/*.tif"])).unwrap();
        let l = scan(r, &f, &Private::default(), None).unwrap();
        assert_eq!(paths(&l), ["a.pdf", "b.PDF"]);
        let f = Filter::new(&[], &s(&["/drafts/"])).unwrap();
        let l = scan(r, &f, &Private::default(), None).unwrap();
        assert_eq!(
            paths(&l),
            ["a.pdf", "b.PDF", "c.epub", "scans/f.tif", "x/drafts/e.pdf"]
        );
        let e = Filter::new(&[], &s(&["ok", "[oops"])).unwrap_err();
        assert_eq!(
            (e.include, e.index, e.pattern.as_str()),
            (false, 1, "[oops")
        );
        let e = Filter::new(&s(&["[oops"]), &[]).unwrap_err();
        assert_eq!((e.include, e.index), (true, 0));
    }

    #[test]
    fn private_files_links_and_bad_names_are_skipped_and_listed() {
        use std::os::unix::ffi::OsStrExt;
        let d = tempfile::tempdir().unwrap();
        let r = d.path().join("coll");
        put(&r, "ok.pdf");
        // The state folder inside the collection, whatever the config says,
        // and the key hard-linked elsewhere in it.
        let state = r.join("state");
        put(&state, "identity.key");
        put(&state, "resume/x.resume");
        std::fs::hard_link(state.join("identity.key"), r.join("key-copy.txt")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", r.join("passwd.pdf")).unwrap();
        let bad = std::ffi::OsStr::from_bytes(b"caf\xe9.pdf");
        std::fs::write(r.join(bad), b"latin-1 name").unwrap();
        let l = scan(&r, &Filter::default(), &Private::new(&state, None), None).unwrap();
        assert_eq!(paths(&l), ["ok.pdf"]);
        let skipped: Vec<&str> = l.skipped.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(
            skipped,
            ["caf\u{fffd}.pdf", "key-copy.txt", "passwd.pdf", "state/"],
            "{:?}",
            l.skipped
        );
    }

    #[test]
    fn same_files_sees_a_rewrite_with_its_old_time_put_back() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        put(r, "a.pdf");
        let f = Filter::default();
        let p = Private::default();
        let before = scan(r, &f, &p, None).unwrap();
        assert!(before.same_files(&scan(r, &f, &p, None).unwrap()));
        let md = std::fs::metadata(r.join("a.pdf")).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(r.join("a.pdf"), b"A.PDF").unwrap();
        let file = std::fs::File::options()
            .write(true)
            .open(r.join("a.pdf"))
            .unwrap();
        file.set_modified(md.modified().unwrap()).unwrap();
        let after = scan(r, &f, &p, None).unwrap();
        assert_eq!(
            after.manifest(),
            before.manifest(),
            "size and mtime as before"
        );
        assert!(!before.same_files(&after));
    }

    #[test]
    fn a_chmod_makes_a_known_file_checked_again() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        put(r, "a.pdf");
        put(r, "b.pdf");
        let (f, p) = (Filter::default(), Private::default());
        let before = scan(r, &f, &p, None).unwrap();
        let again = scan(r, &f, &p, Some(&before)).unwrap();
        assert!(again.same_files(&before) && again.moved_since(&before).is_empty());
        std::thread::sleep(std::time::Duration::from_millis(20));
        let perms = std::fs::Permissions::from_mode(0o000);
        std::fs::set_permissions(r.join("a.pdf"), perms).unwrap();
        let after = scan(r, &f, &p, Some(&before)).unwrap();
        let root = unsafe { libc::geteuid() } == 0;
        if root {
            // root reads it anyway: still shared, but seen as moved.
            let moved: Vec<String> = after.moved_since(&before).into_iter().collect();
            assert_eq!(moved, ["a.pdf"]);
        } else {
            assert_eq!(paths(&after), ["b.pdf"]);
            assert_eq!(after.skipped[0].path, "a.pdf");
        }
    }
}
