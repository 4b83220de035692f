//! A mirror's staging area: where the next version is fetched while the
//! current one goes on being seeded and served, and how it then takes the
//! current one's place.
//!
//! ```text
//! <mirror folder>/.seedbox-staging/<wire id of the version, hex>/<its files>
//! ```
//!
//! - The staging folder is inside the mirror folder, so on the same file
//!   system: a file moves into place with one `rename`.
//! - Files the new version has unchanged (the same v2 pieces root and
//!   length as a file of the current version, whatever its path) are
//!   carried over: hard-linked into the staging folder, if the file on
//!   disk is still the very file the current version verified (device,
//!   inode, size, modification time), and their pieces are written as
//!   had into the new torrent's resume file ([`carry_over`]), so they are
//!   neither downloaded nor read again. Only files whose every piece is
//!   carried are linked: nothing is ever written through a link into the
//!   file being served.
//! - Once the version is complete and verified, and saved as the
//!   collection's version, its files are renamed into place one by one
//!   ([`swap_in`]): a patron's open download keeps the old file, a new one
//!   gets the whole new file, never half of either.
//! - A crash in the middle of the swap leaves a saved version whose
//!   staging folder still exists; the next start finishes the swap
//!   ([`swap_in`] again: files already moved are not in staging any
//!   more). A crash before the version was saved leaves the old version,
//!   which is seeded again; the staging folder is reused when the same
//!   version is fetched again and removed when another one is.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use piece_core::metainfo::Metainfo;
use piece_core::{Bitfield, InfoHashes, Layout};

use crate::library::FileIdentity;
pub use crate::mirror_folder::STAGING;
use crate::mirror_folder::{crosses_link, FolderError};
use crate::store;

/// The staging folder of the version with info-hashes `h`.
pub fn dir(root: &Path, h: &InfoHashes) -> PathBuf {
    root.join(STAGING).join(hex::encode(h.wire_id()))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FolderError + '_ {
    move |source| FolderError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The version a mirror holds, which the next one may take files from.
#[derive(Clone, Debug)]
pub struct Previous {
    pub meta: std::sync::Arc<Metainfo>,
    /// Its files as they were when it was verified, by path.
    pub identities: HashMap<String, FileIdentity>,
}

/// Make the staging folder of version `meta` (with `layout`, its rooted
/// layout), removing those of other versions, and carry over the files of
/// `prev` it has unchanged. Returns the pieces the carried files hold
/// (every other piece is to be fetched).
pub fn carry_over(
    root: &Path,
    prev: Option<&Previous>,
    meta: &Metainfo,
    layout: &Layout,
) -> Result<Bitfield, FolderError> {
    let area = root.join(STAGING);
    let own = dir(root, &meta.info_hashes);
    match std::fs::symlink_metadata(&area) {
        Ok(md) if !md.is_dir() => {
            return Err(FolderError::Foreign {
                folder: root.to_path_buf(),
                path: STAGING.into(),
            })
        }
        Ok(_) => {
            for e in std::fs::read_dir(&area).map_err(io(&area))? {
                let p = e.map_err(io(&area))?.path();
                if p != own {
                    std::fs::remove_dir_all(&p).map_err(io(&p))?;
                }
            }
        }
        Err(_) => {}
    }
    std::fs::create_dir_all(&own).map_err(io(&own))?;
    let mut have = Bitfield::new(layout.lengths().num_pieces());
    let carried = prev
        .map(|p| carried_files(root, p, meta, layout))
        .unwrap_or_default();
    for (i, f) in layout.real_files() {
        let dst = own.join(&f.path);
        let src = carried.get(&i);
        let held = std::fs::symlink_metadata(&dst).ok();
        if let Some(src) = src {
            let same = held.as_ref().is_some_and(|h| {
                std::fs::symlink_metadata(src)
                    .is_ok_and(|s| FileIdentity::of(h) == FileIdentity::of(&s))
            });
            if !same {
                if held.is_some() {
                    std::fs::remove_file(&dst).map_err(io(&dst))?;
                }
                if let Some(d) = dst.parent() {
                    std::fs::create_dir_all(d).map_err(io(d))?;
                }
                std::fs::hard_link(src, &dst).map_err(io(&dst))?;
            }
            if let Some((a, b)) = layout.file_pieces(i) {
                for p in a.get()..=b.get() {
                    have.set(p);
                }
            }
        } else if held.is_some_and(|h| {
            use std::os::unix::fs::MetadataExt;
            h.nlink() > 1 || !h.is_file()
        }) {
            // A link left from an earlier attempt whose source is no longer
            // carried: never written through.
            std::fs::remove_file(&dst).map_err(io(&dst))?;
        }
    }
    Ok(have)
}

/// The files of `meta` (by layout index) to carry over from `prev`: the
/// path of a file of `prev` with the same v2 pieces root and length,
/// still on disk as verified, for files all of whose pieces would be
/// carried (a piece shared with a file that is fetched would be written).
fn carried_files(
    root: &Path,
    prev: &Previous,
    meta: &Metainfo,
    layout: &Layout,
) -> HashMap<usize, PathBuf> {
    let Ok(old_layout) = store::rooted_layout(&prev.meta, None) else {
        return HashMap::new();
    };
    let mut old: HashMap<([u8; 32], u64), PathBuf> = HashMap::new();
    for ((_, lf), fi) in old_layout
        .real_files()
        .zip(prev.meta.info.files.iter().filter(|f| !f.pad))
    {
        let (Some(r), rel) = (fi.pieces_root, store::slash_path(&lf.path)) else {
            continue;
        };
        let disk = root.join(&lf.path);
        let intact = !crosses_link(root, &rel)
            && std::fs::symlink_metadata(&disk).is_ok_and(|md| {
                md.is_file() && prev.identities.get(&rel) == Some(&FileIdentity::of(&md))
            });
        if intact {
            old.insert((r, lf.length), disk);
        }
    }
    let mut carried: HashMap<usize, PathBuf> = layout
        .real_files()
        .zip(meta.info.files.iter().filter(|f| !f.pad))
        .filter_map(|((i, lf), fi)| {
            let src = old.get(&(fi.pieces_root?, lf.length))?;
            Some((i, src.clone()))
        })
        .collect();
    // Drop files sharing a piece with a file that is not carried, until
    // none does (v1 torrents without padding).
    loop {
        let mut fetched = std::collections::HashSet::new();
        for (i, _) in layout.real_files() {
            if !carried.contains_key(&i) {
                if let Some((a, b)) = layout.file_pieces(i) {
                    fetched.extend(a.get()..=b.get());
                }
            }
        }
        let before = carried.len();
        carried.retain(|&i, _| {
            layout
                .file_pieces(i)
                .is_none_or(|(a, b)| !(a.get()..=b.get()).any(|p| fetched.contains(&p)))
        });
        if carried.len() == before {
            return carried;
        }
    }
}

/// Move the files of the complete version `meta` from its staging folder
/// into `root`, each with one rename, then remove the staging folder.
/// Files no longer in the staging folder (moved before a crash) are left
/// as they are. Returns how many files were moved.
pub fn swap_in(root: &Path, meta: &Metainfo) -> Result<usize, FolderError> {
    let own = dir(root, &meta.info_hashes);
    if !std::fs::symlink_metadata(&own).is_ok_and(|m| m.is_dir()) {
        return Ok(0);
    }
    let layout = store::rooted_layout(meta, None).map_err(|e| FolderError::BadMarker {
        path: own.clone(),
        msg: e.to_string(),
    })?;
    let mut moved = 0;
    for (_, f) in layout.real_files() {
        let src = own.join(&f.path);
        if !std::fs::symlink_metadata(&src).is_ok_and(|m| m.is_file()) {
            continue;
        }
        let rel = store::slash_path(&f.path);
        let dst = root.join(&f.path);
        if crosses_link(root, &rel) || std::fs::symlink_metadata(&dst).is_ok_and(|m| !m.is_file()) {
            return Err(FolderError::Foreign {
                folder: root.to_path_buf(),
                path: rel,
            });
        }
        if let Some(d) = dst.parent() {
            std::fs::create_dir_all(d).map_err(io(d))?;
        }
        std::fs::rename(&src, &dst).map_err(io(&dst))?;
        moved += 1;
    }
    if let Ok(d) = std::fs::File::open(root) {
        let _ = d.sync_all();
    }
    std::fs::remove_dir_all(&own).map_err(io(&own))?;
    let _ = std::fs::remove_dir(root.join(STAGING));
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mirror_folder::tests::put;
    use std::sync::Arc;

    fn torrent(src: &Path) -> Metainfo {
        let made = piece_core::create::create_torrent(src, &Default::default(), None).unwrap();
        Metainfo::from_bytes(&made.bytes).unwrap()
    }

    fn ids(root: &Path, meta: &Metainfo) -> HashMap<String, FileIdentity> {
        let l = store::rooted_layout(meta, None).unwrap();
        l.real_files()
            .map(|(_, f)| {
                let md = std::fs::symlink_metadata(root.join(&f.path)).unwrap();
                (store::slash_path(&f.path), FileIdentity::of(&md))
            })
            .collect()
    }

    /// Version 1 in a mirror folder, version 2 made from a changed source.
    fn two_versions(d: &Path) -> (PathBuf, Previous, Metainfo) {
        let src = d.join("zines");
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        put(&src, "big.pdf", &big);
        put(&src, "flyer.txt", b"old flyer");
        let v1 = torrent(&src);
        let root = d.join("copy");
        put(&root, "big.pdf", &big);
        put(&root, "flyer.txt", b"old flyer");
        let prev = Previous {
            identities: ids(&root, &v1),
            meta: Arc::new(v1),
        };
        std::fs::remove_file(src.join("flyer.txt")).unwrap();
        put(&src, "moved/big-renamed.pdf", &big);
        std::fs::remove_file(src.join("big.pdf")).unwrap();
        put(&src, "new.txt", b"this month");
        (root, prev, torrent(&src))
    }

    #[test]
    fn unchanged_files_are_carried_whole_and_never_shared_with_a_fetched_piece() {
        let d = tempfile::tempdir().unwrap();
        let (root, prev, v2) = two_versions(d.path());
        let layout = store::rooted_layout(&v2, None).unwrap();
        let have = carry_over(&root, Some(&prev), &v2, &layout).unwrap();
        // The book (renamed in v2) is carried: linked, its pieces had.
        let own = dir(&root, &v2.info_hashes);
        use std::os::unix::fs::MetadataExt;
        let linked = std::fs::metadata(own.join("moved/big-renamed.pdf")).unwrap();
        assert_eq!(
            linked.ino(),
            std::fs::metadata(root.join("big.pdf")).unwrap().ino()
        );
        let (book, new) = {
            let mut b = None;
            let mut n = None;
            for (i, f) in layout.real_files() {
                match store::slash_path(&f.path).as_str() {
                    "moved/big-renamed.pdf" => b = Some(i),
                    "new.txt" => n = Some(i),
                    _ => {}
                }
            }
            (b.unwrap(), n.unwrap())
        };
        let (a, b) = layout.file_pieces(book).unwrap();
        assert!((a.get()..=b.get()).all(|p| have.get(p)));
        let (a, b) = layout.file_pieces(new).unwrap();
        assert!((a.get()..=b.get()).all(|p| !have.get(p)));
        assert!(!own.join("new.txt").exists());

        // The served book changed since it was verified: not carried, and
        // the link made earlier is removed (never written through).
        put(&root, "big.pdf", b"edited by hand");
        let have = carry_over(&root, Some(&prev), &v2, &layout).unwrap();
        assert_eq!(have.count(), 0);
        assert!(!own.join("moved/big-renamed.pdf").exists());
    }

    #[test]
    fn the_swap_moves_each_file_and_finishes_after_a_crash() {
        let d = tempfile::tempdir().unwrap();
        let (root, prev, v2) = two_versions(d.path());
        let layout = store::rooted_layout(&v2, None).unwrap();
        carry_over(&root, Some(&prev), &v2, &layout).unwrap();
        let own = dir(&root, &v2.info_hashes);
        put(&own, "new.txt", b"this month");
        // A stale staging folder of another version goes when one starts.
        put(&root, &format!("{STAGING}/00ff/x"), b"stale");
        carry_over(&root, Some(&prev), &v2, &layout).unwrap();
        assert!(!root.join(STAGING).join("00ff").exists());
        // Crash after the first rename: the next start finishes.
        std::fs::rename(own.join("new.txt"), root.join("new.txt")).unwrap();
        assert_eq!(swap_in(&root, &v2).unwrap(), 1);
        assert!(!root.join(STAGING).exists());
        assert_eq!(std::fs::read(root.join("new.txt")).unwrap(), b"this month");
        assert_eq!(
            std::fs::read(root.join("moved/big-renamed.pdf"))
                .unwrap()
                .len(),
            300_000
        );
        // Done: nothing more to do.
        assert_eq!(swap_in(&root, &v2).unwrap(), 0);
    }
}
