//! The state the collection tasks share with each other and with the web
//! page: the swarm [`Session`], the LAN presence, the signing key, and the
//! current version of every collection (the [`LibrarySnapshot`] the web
//! reads through [`Library`]).
//!
//! [`crate::local`] and [`crate::mirror`] publish versions here;
//! [`crate::daemon`] builds it and starts those tasks. Nothing here knows
//! about either kind of task.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, UNIX_EPOCH};

use piece_core::metainfo::Metainfo;
use piece_core::types::InfoHashes;
use swarm::discovery::lsd::PeerHint;
use swarm::discovery::presence::Presence;
use swarm::discovery::signed::{CollectionSig, Publisher};
use swarm::discovery::Share;
use swarm::net::PeerAddr;
use swarm::session::{AddOptions, Session, TorrentHandle};

use crate::config::Config;
use crate::library::{
    CollectionSnapshot, CollectionStatus, FileEntry, FileIdentity, Library, LibrarySnapshot,
    NoUpload, Origin, SkippedFile, Status,
};
use crate::store;

/// One collection as the daemon holds it.
struct Entry {
    snap: CollectionSnapshot,
    handle: Option<TorrentHandle>,
    /// Where the current version's files are, for its v1 companion.
    folder: PathBuf,
    real: Option<Arc<store::Manifest>>,
    /// The v1-only companion seeded beside the current version
    /// ([`crate::compat`]), with the info-hashes of the version it is of.
    companion: Option<(InfoHashes, TorrentHandle)>,
    /// The v1 .torrent made when someone first fetched it, with the
    /// info-hashes of the version it is of. Only such a version gets its
    /// companion seeded: each one is a second torrent of every file in
    /// memory (~15 MiB at 10,000 files), not worth paying unasked.
    v1: Option<(InfoHashes, Arc<Vec<u8>>)>,
    /// Transfer totals of earlier versions' handles (since start).
    uploaded_before: u64,
    downloaded_before: u64,
}

/// State shared by the collection tasks and the web page.
pub struct Shared {
    snapshot: RwLock<Arc<LibrarySnapshot>>,
    entries: Mutex<BTreeMap<String, Entry>>,
    /// Torrents by handshake id, to route LAN peer hints.
    by_wire: Mutex<HashMap<[u8; 20], TorrentHandle>>,
    /// v1 companions of collections withdrawn, to stop.
    orphans: Mutex<Vec<(String, TorrentHandle)>>,
    /// Per local collection, the files left out of its folder.
    skipped: Mutex<BTreeMap<String, Vec<SkippedFile>>>,
    started: Instant,
    /// Told when a version is listed or dropped: v1 companions to seed or
    /// stop ([`Shared::keep_companions`]).
    companions: tokio::sync::Notify,
    /// LAN hints for torrents the daemon does not have (see [`crate::push`]).
    news: tokio::sync::broadcast::Sender<PeerHint>,
    /// The state folder, resolved: nothing under it is ever listed.
    state_real: PathBuf,
    /// Metadata and covers extracted from files, cached in the state folder.
    catalogue: crate::meta::Catalogue,
    pub(crate) session: Arc<Session>,
    pub(crate) presence: Arc<Presence>,
    pub(crate) publisher: Publisher,
    pub(crate) config: Config,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A stable, URL-safe id for a file of a collection: the first 16 bytes of
/// SHA-256 of its path, in hex. Same path, same id, across versions.
pub fn file_id(path: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(path.as_bytes())[..16])
}

/// What a published or fetched version is, for [`Shared::publish`].
pub(crate) struct Version<'a> {
    /// The collection's name here (snapshot, web links).
    pub name: &'a str,
    /// Its name in the LAN catalogue: the publisher's name, which the
    /// signature covers (same as `name` for a local collection).
    pub share_name: &'a str,
    pub title: &'a str,
    pub origin: Origin,
    pub folder: &'a Path,
    /// A local folder: the files as on disk, listed and served under these
    /// paths, which parsing may have sanitised (see [`store::rooted_layout`]).
    pub real: Option<&'a store::Manifest>,
    /// Each file (by path) as the daemon saw it complete: the web serves
    /// only the very file named here; a file without one is listed as
    /// incomplete and not served.
    pub identities: &'a HashMap<String, FileIdentity>,
    pub meta: &'a Metainfo,
    pub torrent: Vec<u8>,
    pub sig: CollectionSig,
    pub updated: u64,
}

impl Shared {
    /// Shared state over a started session and presence.
    pub(crate) fn new(
        session: Arc<Session>,
        presence: Arc<Presence>,
        publisher: Publisher,
        config: Config,
    ) -> Shared {
        Shared {
            snapshot: RwLock::default(),
            entries: Mutex::default(),
            by_wire: Mutex::default(),
            skipped: Mutex::default(),
            orphans: Mutex::default(),
            started: Instant::now(),
            companions: tokio::sync::Notify::new(),
            news: tokio::sync::broadcast::channel(64).0,
            state_real: std::fs::canonicalize(&config.state_dir)
                .unwrap_or_else(|_| config.state_dir.clone()),
            catalogue: crate::meta::Catalogue::open(&config.state_dir),
            session,
            presence,
            publisher,
            config,
        }
    }

    /// The torrent a LAN peer hint names (by its handshake id).
    fn handle_for_wire(&self, id: &[u8; 20]) -> Option<TorrentHandle> {
        lock(&self.by_wire).get(id).cloned()
    }

    /// A LAN hint: passed to the torrent it names, or, for a torrent not
    /// held here, to the mirrors as news (see [`crate::push`]).
    pub(crate) async fn on_hint(&self, hint: PeerHint) {
        match self.handle_for_wire(&hint.info_hash) {
            Some(h) => h.add_peer(PeerAddr::Tcp(hint.addr)).await,
            // No mirror listening: nobody to tell.
            None => drop(self.news.send(hint)),
        }
    }

    /// Hints for torrents not held here: a new version may be on offer.
    pub(crate) fn lan_news(&self) -> tokio::sync::broadcast::Receiver<PeerHint> {
        self.news.subscribe()
    }

    /// Every current version's handle, and their v1 companions'.
    pub(crate) fn handles(&self) -> Vec<TorrentHandle> {
        lock(&self.entries)
            .values()
            .flat_map(|e| e.handle.iter().chain(e.companion.iter().map(|c| &c.1)))
            .cloned()
            .collect()
    }

    /// Make `v` the current version of its collection: list it in the
    /// snapshot and in the LAN catalogue (replacing the previous one).
    pub(crate) fn publish(&self, v: Version<'_>, handle: TorrentHandle) {
        let rooted = store::rooted_layout(v.meta, v.real).ok();
        let mut files = Vec::new();
        // Folders resolved once each, not once per file.
        let mut private_dirs: HashMap<PathBuf, bool> = HashMap::new();
        let sidecar = crate::meta::sidecar::Sidecar::load(v.folder);
        if let Some(layout) = &rooted {
            let roots = v.meta.info.files.iter().filter(|f| !f.pad);
            for ((_, f), info) in layout.real_files().zip(roots) {
                let path = store::slash_path(&f.path);
                let disk_path = v.folder.join(&f.path);
                let identity = v.identities.get(&path).copied();
                let private = identity.is_some()
                    && disk_path.parent().is_some_and(|dir| {
                        *private_dirs
                            .entry(dir.to_path_buf())
                            .or_insert_with(|| self.under_state_dir(dir))
                    });
                if private {
                    tracing::error!(
                        "collection {}: {} is under the state folder; never listed",
                        v.name,
                        disk_path.display()
                    );
                    continue;
                }
                if path == crate::meta::sidecar::FILE_NAME {
                    continue; // the librarian's catalogue: data, not a book
                }
                let mtime = identity
                    .and_then(|i| u64::try_from(i.mtime_ns / 1_000_000_000).ok())
                    .map(|s| UNIX_EPOCH + Duration::from_secs(s));
                let content_hash = info.pieces_root.map(hex::encode);
                let (extracted, cover) = match &identity {
                    Some(id) => {
                        let (ex, cover) =
                            self.catalogue
                                .describe(&disk_path, &path, content_hash.as_deref(), id);
                        (Some(ex), cover)
                    }
                    None => (None, None),
                };
                let meta = crate::meta::FileMeta::resolve(
                    &path,
                    extracted.as_deref(),
                    sidecar.get(&path),
                    cover,
                );
                files.push(FileEntry {
                    id: file_id(&path),
                    disk_path,
                    path,
                    size: f.length,
                    mtime,
                    complete: identity.is_some(),
                    identity,
                    content_hash,
                    meta: Arc::new(meta),
                });
            }
        }
        self.catalogue.save();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let h = v.meta.info_hashes;
        let snap = CollectionSnapshot {
            name: v.name.to_string(),
            title: v.title.to_string(),
            origin: v.origin,
            key: v.sig.key.to_hex(),
            seq: v.sig.seq,
            info_hash_v1: h.v1.map(|x| x.to_hex()),
            info_hash_v2: h.v2.map(|x| x.to_hex()),
            magnet: handle.magnet(),
            v1_compatible: h.v1.is_some(),
            torrent: Arc::new(v.torrent),
            updated: UNIX_EPOCH + Duration::from_secs(v.updated),
            files,
        };
        // The LAN catalogue entry carries the signed record, so that others
        // can follow this collection, through us or through any mirror.
        let real = v.meta.info.files.iter().filter(|f| !f.pad);
        let mut share = Share::new(
            v.share_name,
            real.clone().map(|f| f.length).sum(),
            real.count() as u32,
            h,
        );
        share.magnet = handle.magnet();
        share.collection = Some(v.sig);
        let old = {
            let mut entries = lock(&self.entries);
            let e = entries.entry(v.name.to_string()).or_insert_with(|| Entry {
                snap: snap.clone(),
                handle: None,
                folder: PathBuf::new(),
                real: None,
                companion: None,
                v1: None,
                uploaded_before: 0,
                downloaded_before: 0,
            });
            e.snap = snap;
            e.folder = v.folder.to_path_buf();
            e.real = v.real.map(|m| Arc::new(m.clone()));
            e.handle.replace(handle.clone())
        };
        if let Some(old) = old {
            if old.info_hashes() != h {
                self.forget_handle(v.name, &old);
            }
        }
        lock(&self.by_wire).insert(h.wire_id(), handle);
        self.presence.add_share(share);
        self.rebuild_snapshot();
        self.companions.notify_one();
    }

    /// Seed each complete current version's v1 companion
    /// ([`crate::compat`]) once its v1 .torrent was fetched, and stop those of versions that are gone. Runs
    /// until aborted, woken by [`Shared::publish`] and
    /// [`Shared::withdraw`]. The companion's pieces are the version's own,
    /// already verified: it is added as complete, nothing is read.
    pub(crate) async fn keep_companions(self: Arc<Self>) {
        loop {
            self.companions.notified().await;
            let (stale, wanted) = self.companion_work();
            for (name, old) in stale {
                lock(&self.by_wire).remove(&old.info_hashes().wire_id());
                self.presence.remove_share(&old.info_hashes());
                self.credit(&name, &old.progress());
                old.remove().await;
                self.forget_resume(&old);
            }
            for (name, of, torrent, opts) in wanted {
                let c = match self.session.seed_created(torrent.to_vec(), opts).await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!("collection {name}: v1 .torrent not seeded: {e}");
                        continue;
                    }
                };
                let current = {
                    let mut entries = lock(&self.entries);
                    match entries.get_mut(&name) {
                        Some(e)
                            if e.companion.is_none()
                                && e.handle.as_ref().is_some_and(|h| h.info_hashes() == of) =>
                        {
                            e.companion = Some((of, c.clone()));
                            true
                        }
                        _ => false,
                    }
                };
                if current {
                    lock(&self.by_wire).insert(c.info_hashes().wire_id(), c.clone());
                    self.presence.look_for(&c.info_hashes());
                    tracing::info!("collection {name}: v1 .torrent seeded beside the version");
                } else {
                    c.remove().await;
                    self.forget_resume(&c);
                }
            }
        }
    }

    /// Companions to stop (their version is gone) and to start (a complete
    /// version without one): (name, version's hashes, torrent, options).
    #[allow(clippy::type_complexity)]
    fn companion_work(
        &self,
    ) -> (
        Vec<(String, TorrentHandle)>,
        Vec<(String, InfoHashes, Arc<Vec<u8>>, AddOptions)>,
    ) {
        let mut entries = lock(&self.entries);
        let mut stale: Vec<(String, TorrentHandle)> = std::mem::take(&mut *lock(&self.orphans));
        let mut wanted = Vec::new();
        for (name, e) in entries.iter_mut() {
            let cur = e.handle.as_ref().map(|h| h.info_hashes());
            if e.companion.as_ref().is_some_and(|(of, _)| Some(*of) != cur) {
                if let Some((_, c)) = e.companion.take() {
                    stale.push((name.clone(), c));
                }
            }
            let (Some(h), Some((of, torrent))) = (&e.handle, &e.v1) else {
                continue;
            };
            if e.companion.is_none() && *of == h.info_hashes() && h.progress().complete {
                let opts = AddOptions {
                    save_dir: Some(e.folder.clone()),
                    storage: Some(store::rooted_storage(e.folder.clone(), e.real.clone())),
                    seed: true,
                    ..Default::default()
                };
                wanted.push((name.clone(), h.info_hashes(), torrent.clone(), opts));
            }
        }
        (stale, wanted)
    }

    /// Delete the resume files of a handle that was removed for good.
    fn forget_resume(&self, old: &TorrentHandle) {
        let resume = swarm::resume::path_for(
            &self.config.state_dir.join("resume"),
            old.info_hashes().wire_id(),
        );
        let _ = std::fs::remove_file(resume.with_extension("info"));
        let _ = std::fs::remove_file(resume);
    }

    /// Whether folder `p` resolves to a place inside the state folder (a
    /// listed file is a regular file, not a link, so its folder decides).
    fn under_state_dir(&self, p: &Path) -> bool {
        std::fs::canonicalize(p).is_ok_and(|r| r.starts_with(&self.state_real))
    }

    /// The files of collection `name`'s folder that are left out; `true`
    /// when that list changed.
    pub(crate) fn set_skipped(&self, name: &str, files: Vec<SkippedFile>) -> bool {
        let mut all = lock(&self.skipped);
        if all.get(name) == Some(&files) || (files.is_empty() && !all.contains_key(name)) {
            return false;
        }
        if files.is_empty() {
            all.remove(name);
        } else {
            all.insert(name.to_string(), files);
        }
        true
    }

    /// The transfer totals of a handle that is gone count for collection
    /// `name` (a mirror's fetch into its staging folder).
    pub(crate) fn credit(&self, name: &str, p: &swarm::session::Progress) {
        if let Some(e) = lock(&self.entries).get_mut(name) {
            e.uploaded_before += p.uploaded;
            e.downloaded_before += p.downloaded;
        }
    }

    /// A handle is going away (a newer version replaces it): keep its
    /// totals and stop listing it.
    pub(crate) fn forget_handle(&self, name: &str, old: &TorrentHandle) {
        self.credit(name, &old.progress());
        if let Some(e) = lock(&self.entries).get_mut(name) {
            if e.handle
                .as_ref()
                .is_some_and(|h| h.info_hashes() == old.info_hashes())
            {
                e.handle = None;
            }
        }
        lock(&self.by_wire).remove(&old.info_hashes().wire_id());
        self.presence.remove_share(&old.info_hashes());
        self.companions.notify_one();
    }

    /// Stop seeding an old version for good: unlist it, stop it, and
    /// delete its resume files (its data stays: the new version uses it).
    pub(crate) async fn retire(&self, name: &str, old: TorrentHandle) {
        self.forget_handle(name, &old);
        old.remove().await;
        self.forget_resume(&old);
    }

    /// Drop a collection from the snapshot (its folder became empty; its
    /// handle was [`Shared::retire`]d).
    pub(crate) fn withdraw(&self, name: &str) {
        let companion = lock(&self.entries).remove(name).and_then(|e| e.companion);
        if let Some((_, c)) = companion {
            lock(&self.orphans).push((name.to_string(), c));
        }
        self.rebuild_snapshot();
        self.companions.notify_one();
    }

    fn rebuild_snapshot(&self) {
        let collections = lock(&self.entries)
            .values()
            .map(|e| e.snap.clone())
            .collect();
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) =
            Arc::new(LibrarySnapshot { collections });
    }

    /// Bytes downloaded for collection `name` since the daemon started
    /// (every version).
    pub fn downloaded(&self, name: &str) -> u64 {
        lock(&self.entries)
            .get(name)
            .map(|e| e.downloaded_before + e.handle.as_ref().map_or(0, |h| h.progress().downloaded))
            .unwrap_or(0)
    }

    /// The state folder.
    pub fn state_dir(&self) -> &Path {
        &self.config.state_dir
    }
}

impl Library for Shared {
    fn v1_torrent(&self, collection: &str) -> Option<Arc<Vec<u8>>> {
        let mut entries = lock(&self.entries);
        let e = entries.get_mut(collection)?;
        let cur = e.handle.as_ref()?.info_hashes();
        if !e.snap.v1_compatible {
            return None;
        }
        if !e.v1.as_ref().is_some_and(|(of, _)| *of == cur) {
            let bytes = crate::compat::v1_torrent(&e.snap.torrent).ok()?;
            e.v1 = Some((cur, Arc::new(bytes)));
        }
        self.companions.notify_one();
        e.v1.as_ref().map(|(_, b)| b.clone())
    }

    fn seedbox_key(&self) -> String {
        self.publisher.public().to_hex()
    }

    fn snapshot(&self) -> Arc<LibrarySnapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn status(&self) -> Status {
        let entries = lock(&self.entries);
        let mut disk_used = 0;
        let collections = entries
            .values()
            .map(|e| {
                disk_used += e.snap.total_size();
                let p = e.handle.as_ref().map(|h| h.progress()).unwrap_or_default();
                CollectionStatus {
                    name: e.snap.name.clone(),
                    seq: e.snap.seq,
                    peers: p.peers,
                    progress: if p.num_pieces == 0 {
                        0.0
                    } else {
                        f64::from(p.have_pieces) / f64::from(p.num_pieces)
                    },
                    upload_rate: p.upload_rate,
                    download_rate: p.download_rate,
                    uploaded: e.uploaded_before + p.uploaded,
                    downloaded: e.downloaded_before + p.downloaded,
                }
            })
            .collect();
        Status {
            uptime_secs: self.started.elapsed().as_secs(),
            collections,
            disk_used,
            disk_free: disk_free(&self.config.state_dir),
            skipped: lock(&self.skipped).clone(),
        }
    }

    fn upload_folder(&self, collection: &str, name: &str) -> Result<PathBuf, NoUpload> {
        let cfg = &self.config;
        if cfg.mirrors.iter().any(|m| m.local_name == collection) {
            return Err(NoUpload::Mirror(collection.to_string()));
        }
        let c = cfg
            .collections
            .iter()
            .find(|c| c.name == collection)
            .ok_or_else(|| NoUpload::Unknown(collection.to_string()))?;
        if !c.filter.keeps_file(name, name) {
            return Err(NoUpload::Excluded {
                collection: collection.to_string(),
                name: name.to_string(),
            });
        }
        Ok(c.path.clone())
    }
}

/// Free bytes on the file system holding `path` (0 if unknown).
fn disk_free(path: &Path) -> u64 {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return 0;
    };
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is a valid NUL-terminated path, st a valid out-pointer.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return 0;
    }
    (st.f_bavail as u64).saturating_mul(st.f_frsize as u64)
}
