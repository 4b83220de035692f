//! A mirror's folder: the marker that makes it the seedbox's own, and the
//! record of the files the mirror wrote there, which are the only files it
//! ever overwrites or deletes.
//!
//! ```text
//! <mirror folder>/.seedbox-mirror   {"seedbox_mirror": 1, "written": ["a.pdf", "sub/b.epub"]}
//! ```
//!
//! - A mirror starts only in a folder that does not exist yet, is empty
//!   (an empty `lost+found` aside), or holds the marker; anything else is
//!   refused by `seedbox check` and `seedbox run` alike ([`inspect`]), so a
//!   librarian's folder is never taken over.
//! - Before a version writes a byte, its files are added to the record
//!   ([`MirrorFolder::prepare`]); a file already there that the record does
//!   not list, or a path through a symlink, refuses the version.
//! - Once a version is complete, the recorded files it no longer has are
//!   deleted, and only those ([`MirrorFolder::tidy`]).
//! - A version is fetched into the mirror's staging folder and its files
//!   renamed into place once it is complete ([`crate::staging`]).
//!
//! The record lives with the files (not in the state folder) so that it
//! stays true for the folder whatever happens to the state folder. A
//! version can never write the marker: a file of that name refuses it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The marker and record file in a mirror's folder.
pub const MARKER: &str = ".seedbox-mirror";

/// The staging area's folder name in a mirror folder (a version being
/// fetched while the current one is served, see [`crate::staging`]).
pub const STAGING: &str = ".seedbox-staging";

/// What the marker holds.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Record {
    /// Format version (1).
    seedbox_mirror: u32,
    /// Files this mirror wrote: paths in the folder, `/`-separated.
    written: BTreeSet<String>,
}

/// Why a folder cannot be a mirror's, or a version cannot go in it.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    #[error(
        "{} already holds files ({}) and is not a seedbox mirror folder (no {MARKER} file): \
         a mirror needs a new or empty folder of its own; empty it or choose another path",
        folder.display(),
        examples.join(", ")
    )]
    NotEmpty {
        folder: PathBuf,
        examples: Vec<String>,
    },
    #[error("{} is not a folder", .0.display())]
    NotAFolder(PathBuf),
    #[error(
        "{}: damaged mirror marker ({msg}); delete it only if the folder holds nothing to keep",
        path.display()
    )]
    BadMarker { path: PathBuf, msg: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the version would write {path} in {}, which this mirror did not download; \
         move it out of the mirror folder",
        folder.display()
    )]
    Foreign { folder: PathBuf, path: String },
    #[error(
        "the version has a file named {MARKER} or {}, the mirror's own",
        STAGING
    )]
    MarkerInVersion,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FolderError + '_ {
    move |source| FolderError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The record in `folder`, if it has a marker.
fn read_record(folder: &Path) -> Result<Option<Record>, FolderError> {
    let path = folder.join(MARKER);
    match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| FolderError::BadMarker {
                path,
                msg: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(&path)(e)),
    }
}

/// Whether `folder` may be a mirror's: it does not exist, is empty, or
/// holds the marker. Changes nothing.
pub fn inspect(folder: &Path) -> Result<(), FolderError> {
    match std::fs::metadata(folder) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(folder)(e)),
        Ok(md) if !md.is_dir() => return Err(FolderError::NotAFolder(folder.to_path_buf())),
        Ok(_) => {}
    }
    if read_record(folder)?.is_some() {
        return Ok(());
    }
    let mut examples = Vec::new();
    for ent in std::fs::read_dir(folder).map_err(io(folder))? {
        let ent = ent.map_err(io(folder))?;
        let name = ent.file_name();
        let empty_lost_found = name == "lost+found"
            && std::fs::read_dir(ent.path()).is_ok_and(|mut d| d.next().is_none());
        if !empty_lost_found {
            examples.push(name.to_string_lossy().into_owned());
        }
        if examples.len() == 3 {
            break;
        }
    }
    if examples.is_empty() {
        Ok(())
    } else {
        examples.sort();
        Err(FolderError::NotEmpty {
            folder: folder.to_path_buf(),
            examples,
        })
    }
}

/// Whether some folder on the way to `rel` (`/`-separated, inside `root`)
/// is not a plain folder: a symlink, a file.
pub(crate) fn crosses_link(root: &Path, rel: &str) -> bool {
    let mut p = root.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        p.push(part);
        match std::fs::symlink_metadata(&p) {
            Ok(md) if md.is_dir() => {}
            Ok(_) => return true,
            Err(_) => return false,
        }
    }
    false
}

/// A mirror's folder, claimed: it carries the marker.
#[derive(Debug)]
pub struct MirrorFolder {
    root: PathBuf,
    record: Record,
}

impl MirrorFolder {
    /// Make `folder` the mirror's (creating it if needed) if [`inspect`]
    /// allows it, and read its record.
    pub fn claim(folder: &Path) -> Result<MirrorFolder, FolderError> {
        inspect(folder)?;
        std::fs::create_dir_all(folder).map_err(io(folder))?;
        let mut f = MirrorFolder {
            root: folder.to_path_buf(),
            record: Record {
                seedbox_mirror: 1,
                ..Default::default()
            },
        };
        match read_record(folder)? {
            Some(r) => f.record = r,
            None => f.save()?,
        }
        Ok(f)
    }

    /// Files the mirror wrote.
    pub fn written(&self) -> &BTreeSet<String> {
        &self.record.written
    }

    fn save(&self) -> Result<(), FolderError> {
        let path = self.root.join(MARKER);
        let json = serde_json::to_vec_pretty(&self.record).map_err(|e| FolderError::BadMarker {
            path: path.clone(),
            msg: e.to_string(),
        })?;
        swarm::resume::write_atomically(&path, &json).map_err(io(&path))
    }

    fn crosses_link(&self, rel: &str) -> bool {
        crosses_link(&self.root, rel)
    }

    /// About to write a version with files `paths`: refuse it if it would
    /// write over a file the mirror did not write (or through a symlink, or
    /// over the marker); otherwise record its files as the mirror's.
    pub fn prepare<'a>(
        &mut self,
        paths: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), FolderError> {
        let paths: Vec<&str> = paths.into_iter().collect();
        for &p in &paths {
            let first = p.split('/').next().unwrap_or(p);
            if first.eq_ignore_ascii_case(MARKER) || first.eq_ignore_ascii_case(STAGING) {
                return Err(FolderError::MarkerInVersion);
            }
            let foreign = !self.record.written.contains(p)
                && std::fs::symlink_metadata(self.root.join(p)).is_ok();
            if foreign || self.crosses_link(p) {
                return Err(FolderError::Foreign {
                    folder: self.root.clone(),
                    path: p.to_string(),
                });
            }
        }
        let before = self.record.written.len();
        self.record
            .written
            .extend(paths.iter().map(|p| p.to_string()));
        if self.record.written.len() != before {
            self.save()?;
        }
        Ok(())
    }

    /// A version is complete with files `keep` (path, length): cut files
    /// that were longer in an older version, delete the recorded files it
    /// does not have (regular files only, never through a symlink), then
    /// the folders that emptied. Files the mirror did not write are never
    /// touched.
    pub fn tidy(&mut self, keep: &[(String, u64)]) -> Result<(), FolderError> {
        for (rel, len) in keep {
            if !self.record.written.contains(rel) || self.crosses_link(rel) {
                continue;
            }
            let p = self.root.join(rel);
            if let Ok(md) = std::fs::symlink_metadata(&p) {
                if md.is_file() && md.len() > *len {
                    if let Ok(f) = std::fs::OpenOptions::new().write(true).open(&p) {
                        let _ = f.set_len(*len);
                    }
                }
            }
        }
        let wanted: BTreeSet<&str> = keep.iter().map(|(p, _)| p.as_str()).collect();
        let gone: Vec<String> = self
            .record
            .written
            .iter()
            .filter(|p| !wanted.contains(p.as_str()))
            .cloned()
            .collect();
        let mut dirs = BTreeSet::new();
        for rel in &gone {
            if self.crosses_link(rel) {
                continue;
            }
            let p = self.root.join(rel);
            if std::fs::symlink_metadata(&p).is_ok_and(|md| md.is_file()) {
                tracing::info!(
                    "{}: removing {rel} (not in the new version)",
                    self.root.display()
                );
                let _ = std::fs::remove_file(&p);
            }
            let mut d = Path::new(rel.as_str()).parent();
            while let Some(x) = d.filter(|x| !x.as_os_str().is_empty()) {
                dirs.insert(x.to_path_buf());
                d = x.parent();
            }
        }
        // Deepest first; remove_dir fails (and is ignored) when not empty.
        let mut dirs: Vec<PathBuf> = dirs.into_iter().collect();
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for d in dirs {
            let _ = std::fs::remove_dir(self.root.join(d));
        }
        self.record.written = wanted.into_iter().map(str::to_owned).collect();
        self.save()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn put(root: &Path, rel: &str, data: &[u8]) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }

    #[test]
    fn only_new_empty_or_marked_folders() {
        let d = tempfile::tempdir().unwrap();
        assert!(inspect(&d.path().join("new")).is_ok());
        assert!(inspect(d.path()).is_ok(), "empty");
        std::fs::create_dir(d.path().join("lost+found")).unwrap();
        assert!(inspect(d.path()).is_ok(), "an empty lost+found is fine");
        put(d.path(), "my-own-zine.pdf", b"precious");
        let e = inspect(d.path()).unwrap_err().to_string();
        assert!(e.contains("my-own-zine.pdf") && e.contains(MARKER), "{e}");
        assert!(MirrorFolder::claim(d.path()).is_err());
        assert!(d.path().join("my-own-zine.pdf").exists());
        put(d.path(), "file", b"x");
        assert!(matches!(
            inspect(&d.path().join("file")),
            Err(FolderError::NotAFolder(_))
        ));
        // Claimed once, it is the mirror's from then on.
        let m = d.path().join("m");
        MirrorFolder::claim(&m).unwrap();
        assert!(m.join(MARKER).is_file());
        put(&m, "later.pdf", b"x");
        assert!(inspect(&m).is_ok());
        std::fs::write(m.join(MARKER), b"{not json").unwrap();
        assert!(matches!(inspect(&m), Err(FolderError::BadMarker { .. })));
    }

    #[test]
    fn deletes_and_overwrites_only_what_it_wrote() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("m");
        let mut f = MirrorFolder::claim(&root).unwrap();
        f.prepare(["a.pdf", "sub/b.pdf"]).unwrap();
        put(&root, "a.pdf", b"0123456789");
        put(&root, "sub/b.pdf", b"b");
        // The librarian drops a file in later: never deleted, never
        // overwritten by a version.
        put(&root, "sub/mine.pdf", b"mine");
        put(&root, "own/notes.txt", b"notes");
        let e = f.prepare(["sub/mine.pdf"]).unwrap_err();
        assert!(matches!(e, FolderError::Foreign { .. }), "{e}");
        assert!(matches!(
            f.prepare([".SEEDBOX-MIRROR"]),
            Err(FolderError::MarkerInVersion)
        ));
        let outside = d.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
        assert!(matches!(
            f.prepare(["link/x.pdf"]),
            Err(FolderError::Foreign { .. })
        ));
        f.tidy(&[("a.pdf".into(), 4)]).unwrap();
        assert_eq!(std::fs::read(root.join("a.pdf")).unwrap(), b"0123");
        assert!(!root.join("sub/b.pdf").exists());
        assert_eq!(std::fs::read(root.join("sub/mine.pdf")).unwrap(), b"mine");
        assert!(root.join("own/notes.txt").exists());
        assert_eq!(f.written().iter().collect::<Vec<_>>(), ["a.pdf"]);
        // The record survives a restart.
        let again = MirrorFolder::claim(&root).unwrap();
        assert_eq!(again.written().iter().collect::<Vec<_>>(), ["a.pdf"]);
    }
}
