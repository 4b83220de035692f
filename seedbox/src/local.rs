//! Publishing a local collection folder.
//!
//! The folder is shared as a hybrid (v1 + v2) torrent named after the
//! collection. Whenever its files change (seen by watching the folder, and
//! by a periodic rescan that catches what watching misses), a new torrent
//! is made once the folder has been quiet for [`QUIET`], numbered with the
//! next sequence number, signed with the seedbox's key and announced; the
//! previous version stops being seeded.
//!
//! Which files are shared is [`crate::scan`]'s business: one unreadable
//! file is skipped (and listed on the admin page), never a reason to share
//! nothing. A file that changes while it is hashed (seen by its size,
//! modification or change time, or inode moving) makes the version fail
//! and be tried again: a version is never published with hashes of data
//! that is no longer there.
//!
//! On start, a folder whose files (paths, sizes, modification times) are
//! exactly as recorded for the last version is seeded again from the saved
//! torrent and the session's resume data, without reading the files. A
//! folder that changed while the daemon was down gets a new version.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use piece_core::create::{
    auto_piece_length, create_torrent, CreateError, CreateOptions, CreatedTorrent, Reuse,
};
use piece_core::metainfo::{Metainfo, Version as TorrentVersion};
use swarm::discovery::signed::CollectionSig;
use swarm::session::{AddOptions, TorrentHandle};
use tokio::time::Instant;

use crate::config::Collection;
use crate::library::{FileIdentity, Origin};
use crate::scan::{self, Filter, Listing, Private};
use crate::shared::{Shared, Version};
use crate::store::{self, CollectionFiles, CollectionState, Manifest};

/// How long a folder must be quiet (no change events) before a new
/// version is made: copying a file in produces many events.
pub const QUIET: Duration = Duration::from_millis(1500);
/// Wait before trying again after a failure (a file changed while it was
/// hashed, an unreadable file...).
pub const RETRY: Duration = Duration::from_secs(10);

struct Current {
    manifest: Manifest,
    /// The files as listed for this version (identities, change times).
    listing: Listing,
    handle: TorrentHandle,
}

/// Why a version could not be made.
#[derive(Debug, thiserror::Error)]
enum PublishError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("making the torrent: {0}")]
    Create(#[from] CreateError),
    #[error("the folder changed while it was being hashed")]
    Changed,
    #[error(transparent)]
    Session(#[from] swarm::session::SessionError),
    #[error("signing: {0}")]
    Sign(#[from] swarm::discovery::signed::RecordError),
    #[error("{0}")]
    Task(String),
}

/// A collection's folder and what of it is shared.
struct Folder<'a> {
    c: &'a Collection,
    private: Private,
}

impl Folder<'_> {
    /// The folder's shared files now (off the async threads); files as
    /// `known` has them are not opened again.
    async fn list(
        &self,
        shared: &Shared,
        known: Option<&Listing>,
    ) -> Result<Listing, PublishError> {
        let (root, filter, private) = (
            self.c.path.clone(),
            self.c.filter.clone(),
            self.private.clone(),
        );
        let known = known.cloned();
        let listing = tokio::task::spawn_blocking(move || {
            scan::scan(&root, &filter, &private, known.as_ref())
        })
        .await
        .map_err(|e| PublishError::Task(e.to_string()))??;
        if shared.set_skipped(&self.c.name, listing.skipped.clone()) {
            for s in &listing.skipped {
                tracing::warn!(
                    "collection {}: {} not shared: {}",
                    self.c.name,
                    s.path,
                    s.reason
                );
            }
        }
        Ok(listing)
    }
}

/// Hash `listing`'s files into a torrent named `name`, then look at the
/// folder again: if any of those files moved in the meantime (written,
/// replaced, touched back to an old time), the hashes may not be the
/// data's, and the version is refused ([`PublishError::Changed`]).
/// `progress` is [`create_torrent`]'s.
fn hash_version(
    root: &Path,
    name: &str,
    (filter, private): (&Filter, &Private),
    listing: &Listing,
    reuse: Option<Arc<Reuse>>,
    progress: Option<&(dyn Fn(u64, u64) + Sync)>,
) -> Result<CreatedTorrent, PublishError> {
    let opts = CreateOptions {
        version: TorrentVersion::Hybrid,
        name: Some(name.to_string()),
        piece_length: reuse.as_ref().map(|r| r.previous.info.piece_length),
        reuse,
        files: Some(listing.files.clone()),
        ..Default::default()
    };
    let created = create_torrent(root, &opts, progress)?;
    if !scan::scan(root, filter, private, Some(listing))?.same_files(listing) {
        return Err(PublishError::Changed);
    }
    Ok(created)
}

/// Watch `c`'s folder and keep its current version published. Runs until
/// aborted.
pub async fn run(shared: Arc<Shared>, c: Collection) {
    let files = CollectionFiles::new(shared.state_dir(), &c.name);
    let folder = Folder {
        c: &c,
        private: Private::new(shared.state_dir(), Some(&shared.config.file)),
    };
    let mut cur = match resume_saved(&shared, &folder, &files).await {
        Ok(cur) => cur,
        Err(e) => {
            tracing::warn!("collection {}: saved version not reused: {e}", c.name);
            None
        }
    };
    let (tx, mut changed) = tokio::sync::mpsc::channel::<()>(1);
    let _watcher = watch(&c, tx);
    let mut rescan = tokio::time::interval(Duration::from_secs(shared.config.limits.rescan_secs));
    rescan.tick().await;
    let mut due = cur.is_none().then(Instant::now);
    loop {
        let sleep = async {
            match due {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            Some(()) = changed.recv() => due = Some(Instant::now() + QUIET),
            _ = rescan.tick() => due = due.or(Some(Instant::now())),
            _ = sleep => {
                due = None;
                match update(&shared, &folder, &files, &mut cur).await {
                    Ok(()) => {}
                    Err(e) => {
                        tracing::warn!("collection {}: {e}; trying again in {RETRY:?}", c.name);
                        due = Some(Instant::now() + RETRY);
                    }
                }
            }
        }
    }
}

fn watch(c: &Collection, tx: tokio::sync::mpsc::Sender<()>) -> Option<notify::RecommendedWatcher> {
    use notify::{RecursiveMode, Watcher};
    let mut w = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
        if let Ok(ev) = ev {
            if !ev.kind.is_access() {
                // Full channel = a check is already pending.
                let _ = tx.try_send(());
            }
        }
    })
    .map_err(|e| tracing::warn!("collection {}: not watching for changes: {e}", c.name))
    .ok()?;
    match w.watch(&c.path, RecursiveMode::Recursive) {
        Ok(()) => Some(w),
        Err(e) => {
            tracing::warn!(
                "collection {}: not watching {} (changes are seen at the next rescan): {e}",
                c.name,
                c.path.display()
            );
            None
        }
    }
}

fn add_options(c: &Collection, real: &Manifest) -> AddOptions {
    AddOptions {
        save_dir: Some(c.path.clone()),
        storage: Some(store::rooted_storage(
            c.path.clone(),
            Some(Arc::new(real.clone())),
        )),
        seed: true,
        ..Default::default()
    }
}

/// List a version of this folder ([`Shared::publish`]) with its files as
/// `listing` saw them: `(torrent, sig, updated)` describe the version,
/// which `handle` seeds. Its metadata is the session's: a torrent of
/// 10,000 files is parsed once, not once more here (each parse is ~10 MiB
/// on top of the session's).
fn publish(
    shared: &Shared,
    c: &Collection,
    listing: &Listing,
    (torrent, sig, updated): (Vec<u8>, CollectionSig, u64),
    handle: &TorrentHandle,
) {
    let Some(meta) = handle.metainfo() else {
        // never: a handle added from a .torrent has its metadata at once
        tracing::error!("collection {}: no metadata; not listed", c.name);
        return;
    };
    let manifest = listing.manifest();
    let identities: HashMap<String, FileIdentity> = listing.identities().collect();
    let v = Version {
        name: &c.name,
        share_name: &c.name,
        title: &c.title,
        origin: Origin::Local,
        folder: &c.path,
        real: Some(&manifest),
        identities: &identities,
        meta: &meta,
        torrent,
        sig,
        updated,
    };
    shared.publish(v, handle.clone());
}

/// Seed the saved version again if the folder is exactly as it was.
async fn resume_saved(
    shared: &Shared,
    folder: &Folder<'_>,
    files: &CollectionFiles,
) -> Result<Option<Current>, PublishError> {
    let c = folder.c;
    let Some((st, torrent)) = files.load()? else {
        return Ok(None);
    };
    let listing = folder.list(shared, None).await?;
    let manifest = listing.manifest();
    if manifest != st.manifest {
        tracing::info!(
            "collection {}: files changed since version {}; making a new version",
            c.name,
            st.seq
        );
        return Ok(None);
    }
    let handle = match shared
        .session
        .add_torrent_bytes(&torrent, add_options(c, &manifest))
        .await
    {
        Ok(h) => h,
        Err(swarm::session::SessionError::IncompleteData { have, total }) => {
            tracing::warn!(
                "collection {}: saved version {} does not verify ({have} of {total} pieces); making a new one",
                c.name,
                st.seq
            );
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    let sig = shared
        .publisher
        .sign(&c.name, &c.title, st.seq, &handle.info_hashes())?;
    tracing::info!(
        "collection {}: version {} seeding again ({} files, {} bytes) without rehashing",
        c.name,
        st.seq,
        manifest.files.len(),
        manifest.total()
    );
    publish(shared, c, &listing, (torrent, sig, st.updated), &handle);
    Ok(Some(Current {
        manifest,
        listing,
        handle,
    }))
}

/// The previous version's hashes for the files that did not change since
/// (same path, size and modification time, and not in `moved`), when its
/// piece length still suits the collection's size (within a factor of 4 of
/// what would be picked now); `None` means hash everything.
fn reuse_for(
    saved: &CollectionState,
    previous: Metainfo,
    now: &Manifest,
    moved: &HashSet<String>,
) -> Option<Arc<Reuse>> {
    let pl = previous.info.piece_length;
    let auto = auto_piece_length(now.total());
    if auto > pl.saturating_mul(4) || pl > auto.saturating_mul(4) {
        return None;
    }
    let before: std::collections::HashMap<&str, &store::ManifestFile> = saved
        .manifest
        .files
        .iter()
        .map(|f| (f.path.as_str(), f))
        .collect();
    let unchanged = now
        .files
        .iter()
        .filter(|f| before.get(f.path.as_str()).is_some_and(|o| *o == *f))
        .filter(|f| !moved.contains(&f.path))
        .map(|f| f.path.split('/').map(str::to_owned).collect())
        .collect();
    Some(Arc::new(Reuse {
        previous,
        unchanged,
    }))
}

/// Publish a new version if the folder changed.
async fn update(
    shared: &Shared,
    folder: &Folder<'_>,
    files: &CollectionFiles,
    cur: &mut Option<Current>,
) -> Result<(), PublishError> {
    let c = folder.c;
    let listing = folder
        .list(shared, cur.as_ref().map(|k| &k.listing))
        .await?;
    let manifest = listing.manifest();
    // Files replaced or rewritten since they were listed although their
    // size and mtime are as before (`cp -p`, `rsync -a`, `touch -d`):
    // hashed again, and listed again with what is on disk now.
    let moved = cur
        .as_ref()
        .map(|k| listing.moved_since(&k.listing))
        .unwrap_or_default();
    if cur
        .as_ref()
        .is_some_and(|k| k.manifest == manifest && moved.is_empty())
    {
        return Ok(());
    }
    if manifest.total() == 0 {
        if let Some(old) = cur.take() {
            tracing::info!("collection {}: folder is empty; no longer shared", c.name);
            shared.retire(&c.name, old.handle).await;
            shared.withdraw(&c.name);
        }
        return Ok(());
    }
    // The saved version (state and torrent), read once: its hashes are
    // reused for unchanged files, and its info-hashes tell whether the
    // content really changed.
    let (mut st, saved) = match files.load() {
        Ok(Some((st, t))) => {
            let m = Metainfo::from_bytes(&t).ok();
            (st, m)
        }
        _ => (files.load_state().unwrap_or_default(), None),
    };
    let saved_hashes = saved.as_ref().map(|m| m.info_hashes);
    let reuse = saved.and_then(|m| reuse_for(&st, m, &manifest, &moved));
    let created = {
        let (root, name) = (c.path.clone(), c.name.clone());
        let (filter, private) = (c.filter.clone(), folder.private.clone());
        let listing = listing.clone();
        tokio::task::spawn_blocking(move || {
            hash_version(&root, &name, (&filter, &private), &listing, reuse, None)
        })
        .await
        .map_err(|e| PublishError::Task(e.to_string()))??
    };
    let hashes = created.info_hashes;
    if let Some(k) = cur.as_mut() {
        if k.handle.info_hashes() == hashes {
            // Same content (only times changed): same version, listed
            // again with the files as they are now (the web serves only
            // files it knows as they are).
            st.manifest = manifest.clone();
            files.save_state(&st)?;
            let sig = shared.publisher.sign(&c.name, &c.title, st.seq, &hashes)?;
            publish(
                shared,
                c,
                &listing,
                (created.bytes, sig, st.updated),
                &k.handle,
            );
            k.manifest = manifest;
            k.listing = listing;
            return Ok(());
        }
    }
    // Same content as the saved version (files touched while we were
    // down): same version number, no new publication.
    let same_as_saved = saved_hashes == Some(hashes);
    let seq = if same_as_saved && st.seq > 0 {
        st.seq
    } else {
        st.seq + 1
    };
    let sig = shared.publisher.sign(&c.name, &c.title, seq, &hashes)?;
    st = CollectionState {
        seq,
        key: Some(shared.publisher.public().to_hex()),
        manifest: manifest.clone(),
        updated: if seq == st.seq {
            st.updated
        } else {
            store::now_secs()
        },
        sig: None,
        title: None,
    };
    files.save(&st, &created.bytes)?;
    if let Some(old) = cur.take() {
        shared.retire(&c.name, old.handle).await;
    }
    let handle = shared
        .session
        .seed_created(created.bytes.clone(), add_options(c, &manifest))
        .await?;
    if same_as_saved {
        tracing::info!(
            "collection {}: version {seq} seeding again after a recheck (files were touched, content is the same)",
            c.name
        );
    } else {
        tracing::info!(
            "collection {}: version {seq} published ({} files, {} bytes) {}",
            c.name,
            manifest.files.len(),
            manifest.total(),
            handle.magnet()
        );
    }
    publish(
        shared,
        c,
        &listing,
        (created.bytes, sig, st.updated),
        &handle,
    );
    *cur = Some(Current {
        manifest,
        listing,
        handle,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn a_file_rewritten_while_hashed_refuses_the_version() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("zines");
        std::fs::create_dir(&root).unwrap();
        let book = root.join("book.pdf");
        std::fs::write(&book, vec![1u8; 4 << 20]).unwrap();
        std::fs::write(root.join("small.txt"), b"small").unwrap();
        let (filter, private) = (Filter::default(), Private::default());
        let listing = scan::scan(&root, &filter, &private, None).unwrap();
        let made = hash_version(&root, "z", (&filter, &private), &listing, None, None);
        assert!(made.is_ok(), "an untouched folder makes a version");

        // Rewritten mid-hash with its size and modification time put back
        // (as `cp -p` or `rsync -t` over it would): size and mtime match,
        // the hashes would not be the data's.
        let listing = scan::scan(&root, &filter, &private, None).unwrap();
        let mtime = std::fs::metadata(&book).unwrap().modified().unwrap();
        let done = AtomicBool::new(false);
        let rewrite = |_: u64, _: u64| {
            if !done.swap(true, Ordering::SeqCst) {
                std::fs::write(&book, vec![2u8; 4 << 20]).unwrap();
                let f = std::fs::File::options().write(true).open(&book).unwrap();
                f.set_modified(mtime).unwrap();
            }
        };
        let made = hash_version(
            &root,
            "z",
            (&filter, &private),
            &listing,
            None,
            Some(&rewrite),
        );
        assert!(done.load(Ordering::SeqCst));
        assert!(
            matches!(made, Err(PublishError::Changed)),
            "a version with stale hashes was made"
        );
        assert_eq!(
            scan::scan(&root, &filter, &private, None)
                .unwrap()
                .manifest(),
            listing.manifest(),
            "the manifest alone (size, mtime) cannot see it"
        );
    }
}
