//! Following another seedbox's collection.
//!
//! Every `poll_secs`, a mirror asks the addresses in its config and the LAN
//! (mDNS + catalogues) for entries named like the collection that carry a
//! signed version record (see [`swarm::discovery::signed`]). It keeps only
//! records signed by the pinned key (from the config, or else the first and
//! only key seen, remembered in the state folder) and newer than the
//! version it holds. Between polls, a LAN announce of a torrent the
//! daemon does not have makes it read the announcer's catalogue at once
//! ([`crate::push`]): a publisher's new version reaches mirrors on its LAN
//! in moments, under the same rules.
//!
//! **The signed record is the only source of what a version is.** The
//! fetch is built from the signed info-hashes (v1 and v2), never from the
//! magnet text a catalogue offers; and the metadata that arrives must hash
//! to every signed info-hash before a byte of the version is written
//! (`gated_storage`, checked again on completion). A mismatch fails the
//! fetch: nothing is written, published or deleted.
//!
//! A newer version is fetched **beside the current one**, which goes on
//! being seeded and served meanwhile: into the mirror's staging folder
//! ([`crate::staging`]), where the files it has unchanged are carried over
//! (linked, their pieces taken as verified, neither read nor transferred
//! again); only changed and new pieces come over the network. Once it is
//! complete and verified, its files are renamed into place one by one.
//! The folder is the mirror's own ([`crate::mirror_folder`]): the mirror
//! writes only files it records as its own before writing them, and once a
//! version is complete deletes only recorded files the version no longer
//! has. The copy is then seeded and listed on the LAN with the publisher's
//! own signature, so other mirrors can follow through this one.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use piece_core::metainfo::Metainfo;
use piece_core::storage::StorageError;
use piece_core::types::InfoHashes;
use swarm::discovery::catalogue;
use swarm::discovery::signed::{CollectionSig, PublisherKey};
use swarm::discovery::{Catalogue, Share};
use swarm::net::PeerAddr;
use swarm::session::{AddOptions, StorageFactory, TorrentHandle};

use crate::config::Mirror;
use crate::library::{FileIdentity, Origin};
use crate::mirror_folder::{FolderError, MirrorFolder};
use crate::push::Watch;
use crate::shared::{Shared, Version};
use crate::staging::{self, Previous};
use crate::store::{self, CollectionFiles, CollectionState, Manifest, ManifestFile};

/// Longest a version may take to download before the mirror gives up on
/// it and looks again.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(6 * 3600);
/// How long a LAN scan listens.
pub const SCAN_TIME: Duration = Duration::from_secs(3);
/// How long one peer has to answer with its catalogue.
const CATALOGUE_TIMEOUT: Duration = Duration::from_secs(5);

/// A version on offer.
#[derive(Clone, Debug)]
pub struct Offer {
    pub share: Share,
    pub sig: CollectionSig,
    pub peers: Vec<SocketAddr>,
}

/// Of the offers, the newest one this mirror may take: named `name`, with
/// a record that verifies over its name and info-hashes, signed by
/// `pinned` (or, with no pin, by the only key seen), newer than `have`.
/// Several keys for one name and no pin: none (ambiguous).
pub fn choose(
    offers: &[Offer],
    name: &str,
    pinned: Option<PublisherKey>,
    have: u64,
) -> Result<Option<Offer>, String> {
    let named: Vec<&Offer> = offers
        .iter()
        .filter(|o| o.share.name == name && o.sig.verify(name, &o.share.info_hashes).is_ok())
        .collect();
    let key = match pinned {
        Some(k) => k,
        None => {
            let keys: BTreeSet<PublisherKey> = named.iter().map(|o| o.sig.key).collect();
            match keys.len() {
                0 => return Ok(None),
                1 => *keys.iter().next().unwrap_or(&named[0].sig.key),
                n => {
                    return Err(format!(
                        "{n} different publishers offer a collection named {name:?}; \
                         set `key` in the [[mirror]] entry to choose one"
                    ))
                }
            }
        }
    };
    let best = named
        .into_iter()
        .filter(|o| o.sig.key == key && o.sig.seq > have)
        .max_by_key(|o| o.sig.seq);
    // Merge the peers of every entry offering that same version.
    Ok(best.map(|b| {
        let mut b = b.clone();
        for o in offers {
            if o.share.info_hashes == b.share.info_hashes {
                for p in &o.peers {
                    if !b.peers.contains(p) {
                        b.peers.push(*p);
                    }
                }
            }
        }
        b
    }))
}

/// The entries of `cat` (read from `addr`) that carry a version record.
fn offers_in(cat: Catalogue, addr: SocketAddr) -> impl Iterator<Item = Offer> {
    cat.shares.into_iter().filter_map(move |s| {
        let sig = s.collection.clone()?;
        Some(Offer {
            share: s,
            sig,
            peers: vec![addr],
        })
    })
}

/// Offers from the addresses in the config and, with `lan`, the LAN.
async fn gather(m: &Mirror, lan: bool) -> Vec<Offer> {
    let mut offers = Vec::new();
    for &addr in &m.peers {
        match catalogue::query(addr, CATALOGUE_TIMEOUT).await {
            Ok(cat) => offers.extend(offers_in(cat, addr)),
            Err(e) => tracing::debug!("mirror {}: {addr}: {e}", m.local_name),
        }
    }
    if lan {
        match swarm::discovery::scan(SCAN_TIME).await {
            Ok(view) => offers.extend(view.shares.into_iter().filter_map(|s| {
                let sig = s.share.collection.clone()?;
                Some(Offer {
                    share: s.share,
                    sig,
                    peers: s.peers,
                })
            })),
            Err(e) => tracing::debug!("mirror {}: LAN scan: {e}", m.local_name),
        }
    }
    offers
}

/// Offers from the catalogues of `addrs`, which announced torrents we do
/// not have (see [`crate::push`]); what each answered goes to `watch`.
async fn look(m: &Mirror, watch: &mut Watch, addrs: Vec<SocketAddr>) -> Vec<Offer> {
    let mut asks = tokio::task::JoinSet::new();
    for addr in addrs {
        asks.spawn(async move { (addr, catalogue::query(addr, CATALOGUE_TIMEOUT).await) });
    }
    let mut offers = Vec::new();
    while let Some(done) = asks.join_next().await {
        let Ok((addr, res)) = done else { continue };
        let now = std::time::Instant::now();
        match res {
            Ok(cat) => {
                watch.on_catalogue(addr, &cat, now);
                offers.extend(offers_in(cat, addr));
            }
            Err(e) => {
                tracing::debug!("mirror {}: announced by {addr}: {e}", m.local_name);
                watch.on_failure(addr, now);
            }
        }
    }
    offers
}

/// Where a version's files go.
#[derive(Clone, Debug)]
enum Target {
    /// The mirror folder: the version is the current one.
    Folder,
    /// Its staging folder, with the files it has unchanged from `prev`
    /// carried over; their pieces are written as had into the torrent's
    /// resume file `resume` (see [`crate::staging`]).
    Staging {
        prev: Option<Previous>,
        resume: PathBuf,
    },
}

/// The storage of a version of `m` signed as `signed`: refuses metadata
/// that does not hash to every signed info-hash, and a version that would
/// write over a file the mirror did not write; records the version's
/// files as the mirror's before anything is written.
fn gated_storage(
    m: &Mirror,
    folder: Arc<Mutex<MirrorFolder>>,
    signed: InfoHashes,
    target: Target,
) -> StorageFactory {
    let root = m.path.clone();
    let name = m.local_name.clone();
    let inner = store::rooted_storage(root.clone(), None);
    Arc::new(move |save_dir, meta: &Metainfo, existing| {
        let refuse = |msg: String| StorageError::Io {
            path: root.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, msg),
        };
        if meta.info_hashes != signed {
            return Err(refuse(format!(
                "the metadata received ({}) is not the signed version ({})",
                hashes_text(&meta.info_hashes),
                hashes_text(&signed)
            )));
        }
        let files = version_files(meta).map_err(|e| refuse(e.to_string()))?;
        folder
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .prepare(files.iter().map(|(p, _)| p.as_str()))
            .map_err(|e| refuse(e.to_string()))?;
        let Target::Staging { prev, resume } = &target else {
            return inner(save_dir, meta, existing);
        };
        let layout = store::rooted_layout(meta, None).map_err(|e| refuse(e.to_string()))?;
        let have = staging::carry_over(&root, prev.as_ref(), meta, &layout)
            .map_err(|e| refuse(e.to_string()))?;
        let st = swarm::session::default_storage(
            &staging::dir(&root, &meta.info_hashes),
            layout,
            existing,
        )?;
        let data = swarm::resume::ResumeData::capture(meta.info_hashes.wire_id(), &have, &*st);
        swarm::resume::save(resume, &data).map_err(|e| refuse(e.to_string()))?;
        tracing::info!(
            "mirror {name}: {} of {} pieces carried over from the current version (not read again)",
            have.count(),
            have.len()
        );
        Ok(st)
    })
}

fn hashes_text(h: &InfoHashes) -> String {
    let v1 = h.v1.map_or("-".into(), |x| x.to_hex());
    let v2 = h.v2.map_or("-".into(), |x| x.to_hex());
    format!("v1 {v1}, v2 {v2}")
}

/// A version's files in the mirror folder: (path, length).
fn version_files(meta: &Metainfo) -> Result<Vec<(String, u64)>, piece_core::layout::LayoutError> {
    let layout = store::rooted_layout(meta, None)?;
    Ok(layout
        .real_files()
        .map(|(_, f)| (store::slash_path(&f.path), f.length))
        .collect())
}

fn add_options(
    m: &Mirror,
    folder: &Arc<Mutex<MirrorFolder>>,
    signed: InfoHashes,
    peers: &[SocketAddr],
    target: Target,
) -> AddOptions {
    AddOptions {
        save_dir: Some(m.path.clone()),
        storage: Some(gated_storage(m, folder.clone(), signed, target)),
        peers: peers.iter().map(|&a| PeerAddr::Tcp(a)).collect(),
        ..Default::default()
    }
}

/// Follow `m`. Runs until aborted.
pub async fn run(shared: Arc<Shared>, m: Mirror) {
    let files = CollectionFiles::new(shared.state_dir(), &m.local_name);
    let mut st = files.load_state().unwrap_or_default();
    let saved_key = st.key.as_deref().and_then(PublisherKey::from_hex);
    if let (Some(k), Some(s)) = (m.key, saved_key) {
        if k != s {
            tracing::info!(
                "mirror {}: the configured key changed; following {k} from scratch",
                m.local_name
            );
            st = CollectionState::default();
        }
    }
    let mut pinned = m.key.or(saved_key);
    let folder = match tokio::task::spawn_blocking({
        let p = m.path.clone();
        move || MirrorFolder::claim(&p)
    })
    .await
    {
        Ok(Ok(f)) => Arc::new(Mutex::new(f)),
        Ok(Err(e)) => {
            tracing::error!("mirror {}: {e}; not following it", m.local_name);
            return;
        }
        Err(e) => {
            tracing::error!("mirror {}: {e}", m.local_name);
            return;
        }
    };
    let mut cur = resume_saved(&shared, &m, &files, &folder, &st).await;
    let poll = Duration::from_secs(m.poll_secs);
    let lan = shared.config.network.announce;
    // Pushed news: LAN announces of torrents this daemon does not have.
    let mut news = shared.lan_news();
    let mut watch = Watch::default();
    let mut next_poll = tokio::time::Instant::now();
    loop {
        let due = watch.next_due().map(tokio::time::Instant::from_std);
        let offers = tokio::select! {
            _ = tokio::time::sleep_until(next_poll) => {
                next_poll = tokio::time::Instant::now() + poll;
                gather(&m, lan).await
            }
            hint = news.recv(), if lan => {
                // Lagged: the hints missed were only hints; the poll remains.
                // (Never closed: `shared` holds the sender.)
                if let Ok(h) = hint {
                    watch.on_hint(h, std::time::Instant::now());
                }
                continue;
            }
            _ = tokio::time::sleep_until(due.unwrap_or(next_poll)), if due.is_some() => {
                let addrs = watch.poll_due(std::time::Instant::now());
                tracing::debug!("mirror {}: LAN news from {addrs:?}", m.local_name);
                look(&m, &mut watch, addrs).await
            }
        };
        match choose(&offers, &m.name, pinned, st.seq) {
            Ok(Some(offer)) => {
                if pinned.is_none() {
                    tracing::info!(
                        "mirror {}: following publisher {} (first seen)",
                        m.local_name,
                        offer.sig.key
                    );
                    pinned = Some(offer.sig.key);
                }
                match fetch(&shared, &m, &files, &folder, &offer, &mut cur).await {
                    Ok(new_state) => st = new_state,
                    Err(e) => tracing::warn!(
                        "mirror {}: version {} not fetched: {e}",
                        m.local_name,
                        offer.sig.seq
                    ),
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("mirror {}: {e}", m.local_name),
        }
    }
}

/// A version of the copy, as [`Shared::publish`] lists it: under the
/// local name, announced under the publisher's name with its signature;
/// titled as the `[[mirror]]` says, else as the publisher signed it, else
/// (an untitled record) by the local name.
fn version<'a>(
    m: &'a Mirror,
    st: &'a CollectionState,
    identities: &'a HashMap<String, FileIdentity>,
    (meta, torrent): (&'a Metainfo, Vec<u8>),
    sig: &'a CollectionSig,
) -> Version<'a> {
    let title = m.title.as_deref().or(sig.title.as_deref());
    Version {
        name: &m.local_name,
        share_name: &m.name,
        title: title.unwrap_or(&m.local_name),
        origin: Origin::Mirror,
        folder: &m.path,
        real: None,
        identities,
        meta,
        torrent,
        sig: sig.clone(),
        updated: st.updated,
    }
}

/// The version's files in `root` as they are on disk now (regular files
/// only).
fn identities(root: &Path, files: &[(String, u64)]) -> HashMap<String, FileIdentity> {
    files
        .iter()
        .filter_map(|(p, len)| {
            let md = std::fs::symlink_metadata(root.join(p)).ok()?;
            (md.is_file() && md.len() == *len).then(|| (p.clone(), FileIdentity::of(&md)))
        })
        .collect()
}

/// The version a mirror seeds, and what the next one may carry over.
struct Current {
    handle: TorrentHandle,
    prev: Previous,
}

/// Seed the copy held from a previous run (or finish it), if its saved
/// torrent is the version its saved record signs. A swap that a crash
/// interrupted is finished first.
async fn resume_saved(
    shared: &Shared,
    m: &Mirror,
    files: &CollectionFiles,
    folder: &Arc<Mutex<MirrorFolder>>,
    st: &CollectionState,
) -> Option<Current> {
    let (_, torrent) = files.load().ok().flatten()?;
    let sig = decode_sig(st)?;
    let meta = Metainfo::from_bytes(&torrent).ok()?;
    if let Err(e) = sig.verify(&m.name, &meta.info_hashes) {
        tracing::warn!(
            "mirror {}: saved version {} not resumed: its record does not sign it ({e})",
            m.local_name,
            st.seq
        );
        return None;
    }
    match staging::swap_in(&m.path, &meta) {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            "mirror {}: version {}: finished moving it into place ({n} files)",
            m.local_name,
            st.seq
        ),
        Err(e) => {
            tracing::warn!("mirror {}: saved version not resumed: {e}", m.local_name);
            return None;
        }
    }
    let handle = match shared
        .session
        .add_torrent_bytes(
            &torrent,
            add_options(m, folder, meta.info_hashes, &[], Target::Folder),
        )
        .await
    {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!("mirror {}: saved version not resumed: {e}", m.local_name);
            return None;
        }
    };
    let p = handle.progress();
    tracing::info!(
        "mirror {}: version {} back ({} of {} pieces verified)",
        m.local_name,
        st.seq,
        p.have_pieces,
        p.num_pieces
    );
    let ids = match (p.complete, version_files(&meta)) {
        (true, Ok(f)) => {
            // Finish a tidy a crash may have cut short.
            let tidied = lock(folder).tidy(&f);
            if let Err(e) = tidied {
                tracing::warn!("mirror {}: {e}", m.local_name);
            }
            identities(&m.path, &f)
        }
        _ => HashMap::new(),
    };
    shared.publish(version(m, st, &ids, (&meta, torrent), &sig), handle.clone());
    Some(Current {
        handle,
        prev: Previous {
            meta: Arc::new(meta),
            identities: ids,
        },
    })
}

fn lock(folder: &Mutex<MirrorFolder>) -> std::sync::MutexGuard<'_, MirrorFolder> {
    folder.lock().unwrap_or_else(|e| e.into_inner())
}

fn decode_sig(st: &CollectionState) -> Option<CollectionSig> {
    let key = PublisherKey::from_hex(st.key.as_deref()?)?;
    let mut sig = [0u8; 64];
    hex::decode_to_slice(st.sig.as_deref()?, &mut sig).ok()?;
    Some(CollectionSig {
        key,
        seq: st.seq,
        sig,
        title: st.title.clone(),
    })
}

/// Why a version could not be fetched.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error(transparent)]
    Session(#[from] swarm::session::SessionError),
    #[error("no complete copy after {0:?}")]
    Timeout(Duration),
    #[error("metadata missing after completion")]
    NoMetadata,
    #[error("the torrent completed is not the signed version")]
    NotSigned,
    #[error(transparent)]
    Folder(#[from] FolderError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("{0}")]
    Task(String),
}

/// Fetch `offer` into the staging folder while the current version
/// (`cur`) goes on being seeded and served, then swap it in: save it as
/// the collection's version, rename its files into place, seed it from
/// there, retire the old one and delete the files only it had.
async fn fetch(
    shared: &Shared,
    m: &Mirror,
    files: &CollectionFiles,
    folder: &Arc<Mutex<MirrorFolder>>,
    offer: &Offer,
    cur: &mut Option<Current>,
) -> Result<CollectionState, FetchError> {
    // What `offer.sig` signs (checked in `choose`): the only description
    // of the version that is used.
    let signed = offer.share.info_hashes;
    let link = catalogue::magnet_for(&offer.share.name, &signed);
    tracing::info!(
        "mirror {}: fetching version {} ({}) from {:?}",
        m.local_name,
        offer.sig.seq,
        hashes_text(&signed),
        offer.peers
    );
    let target = Target::Staging {
        prev: cur.as_ref().map(|c| c.prev.clone()),
        resume: swarm::resume::path_for(&shared.state_dir().join("resume"), signed.wire_id()),
    };
    let handle = shared
        .session
        .add_magnet(&link, add_options(m, folder, signed, &offer.peers, target))
        .await?;
    let done = tokio::time::timeout(FETCH_TIMEOUT, handle.wait_complete()).await;
    let meta = match done {
        Ok(Ok(())) => handle.metainfo().ok_or(FetchError::NoMetadata),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(FetchError::Timeout(FETCH_TIMEOUT)),
    }
    .and_then(|meta| {
        if meta.info_hashes == signed {
            Ok(meta)
        } else {
            Err(FetchError::NotSigned)
        }
    });
    // Its resume file (saved by `remove`) lets the copy in place start
    // without a recheck; its totals count once the version is listed.
    handle.remove().await;
    let fetched = handle.progress();
    let meta = meta?;
    let corrupt = |msg: String| {
        FetchError::Store(store::StoreError::Corrupt {
            path: m.path.clone(),
            msg,
        })
    };
    let keep = version_files(&meta).map_err(|e| corrupt(e.to_string()))?;
    let staged = identities(&staging::dir(&m.path, &signed), &keep);
    let mut manifest: Vec<ManifestFile> = staged
        .iter()
        .map(|(path, i)| ManifestFile {
            path: path.clone(),
            size: i.size,
            mtime_ns: i.mtime_ns,
        })
        .collect();
    manifest.sort_by(|a, b| a.path.cmp(&b.path));
    let st = CollectionState {
        seq: offer.sig.seq,
        key: Some(offer.sig.key.to_hex()),
        manifest: Manifest { files: manifest },
        updated: store::now_secs(),
        sig: Some(hex::encode(offer.sig.sig)),
        title: offer.sig.title.clone(),
    };
    let torrent = meta.to_torrent_bytes();
    // Saved before the first rename: from here, a restart finishes the
    // swap (`resume_saved`).
    files.save(&st, &torrent)?;
    {
        let (root, meta) = (m.path.clone(), meta.clone());
        tokio::task::spawn_blocking(move || staging::swap_in(&root, &meta))
            .await
            .map_err(|e| FetchError::Task(e.to_string()))??;
    }
    let handle = shared
        .session
        .add_torrent_bytes(
            &torrent,
            add_options(m, folder, signed, &offer.peers, Target::Folder),
        )
        .await?;
    if !handle.progress().complete {
        tracing::warn!(
            "mirror {}: version {} moved into place incomplete; fetching the rest there",
            m.local_name,
            offer.sig.seq
        );
    }
    let ids = identities(&m.path, &keep);
    if let Some(old) = cur.take() {
        shared.retire(&m.local_name, old.handle).await;
    }
    shared.publish(
        version(m, &st, &ids, (&meta, torrent), &offer.sig),
        handle.clone(),
    );
    shared.credit(&m.local_name, &fetched);
    {
        let (folder, keep) = (folder.clone(), keep.clone());
        tokio::task::spawn_blocking(move || lock(&folder).tidy(&keep))
            .await
            .map_err(|e| FetchError::Task(e.to_string()))??;
    }
    // Logged once the folder holds exactly this version (tidied, marker
    // written): tests and librarians read it as "done".
    tracing::info!(
        "mirror {}: version {} complete ({} bytes downloaded for it), in place",
        m.local_name,
        offer.sig.seq,
        fetched.downloaded
    );
    *cur = Some(Current {
        handle,
        prev: Previous {
            meta,
            identities: ids,
        },
    });
    Ok(st)
}

#[cfg(test)]
mod tests {
    use super::*;
    use piece_core::types::{InfoHashV1, InfoHashV2};
    use swarm::discovery::signed::Publisher;

    fn offer(p: &Publisher, name: &str, seq: u64, h: u8, peer: u16) -> Offer {
        let hashes = InfoHashes {
            v1: Some(InfoHashV1([h; 20])),
            v2: None,
        };
        let sig = p.sign(name, "Zines", seq, &hashes).unwrap();
        let mut share = Share::new(name, 1, 1, hashes);
        share.collection = Some(sig.clone());
        Offer {
            share,
            sig,
            peers: vec![SocketAddr::from(([127, 0, 0, 1], peer))],
        }
    }

    #[test]
    fn choose_newest_of_the_pinned_key() {
        let a = Publisher::from_seed([1; 32]);
        let b = Publisher::from_seed([2; 32]);
        let offers = vec![
            offer(&a, "zines", 2, 2, 1),
            offer(&a, "zines", 3, 3, 2),
            offer(&a, "zines", 3, 3, 5),
            offer(&b, "zines", 9, 9, 3),
            offer(&a, "other", 7, 7, 4),
        ];
        let got = choose(&offers, "zines", Some(a.public()), 0)
            .unwrap()
            .unwrap();
        assert_eq!(got.sig.seq, 3);
        assert_eq!(got.peers.len(), 2, "peers of the same version are merged");
        // Nothing newer than what we hold.
        assert!(choose(&offers, "zines", Some(a.public()), 3)
            .unwrap()
            .is_none());
        // The forger's higher seq is ignored under a pin, ambiguous without.
        assert!(choose(&offers, "zines", None, 0).is_err());
        let only_a: Vec<Offer> = offers[..3].to_vec();
        assert_eq!(
            choose(&only_a, "zines", None, 0).unwrap().unwrap().sig.seq,
            3
        );
        assert!(choose(&offers, "nope", None, 0).unwrap().is_none());
    }

    #[test]
    fn choose_ignores_records_that_do_not_sign_the_entry() {
        let a = Publisher::from_seed([1; 32]);
        let mut forged = offer(&a, "zines", 9, 9, 1);
        // The record of version 9 pasted onto another torrent.
        forged.share.info_hashes.v1 = Some(InfoHashV1([6; 20]));
        let offers = vec![offer(&a, "zines", 2, 2, 2), forged];
        let got = choose(&offers, "zines", Some(a.public()), 0)
            .unwrap()
            .unwrap();
        assert_eq!(got.sig.seq, 2);
    }

    #[test]
    fn metadata_that_is_not_the_signed_version_writes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        std::fs::create_dir(&src).unwrap();
        std::fs::write(src.join("zine.pdf"), vec![7u8; 100_000]).unwrap();
        let made = piece_core::create::create_torrent(&src, &Default::default(), None).unwrap();
        let meta = Metainfo::from_bytes(&made.bytes).unwrap();
        let signed = meta.info_hashes;
        assert!(signed.v1.is_some() && signed.v2.is_some(), "a hybrid");
        let m = Mirror {
            name: "zines".into(),
            key: None,
            path: d.path().join("copy"),
            local_name: "zines".into(),
            title: None,
            peers: Vec::new(),
            poll_secs: 30,
        };
        let folder = Arc::new(Mutex::new(MirrorFolder::claim(&m.path).unwrap()));
        let listing = || {
            let mut v: Vec<String> = std::fs::read_dir(&m.path)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        let written = |f: &Arc<Mutex<MirrorFolder>>| f.lock().unwrap().written().len();
        // Another torrent altogether, and the same torrent with only one of
        // its two signed hashes matching: both refused before any write.
        let other = InfoHashes {
            v1: Some(InfoHashV1([1; 20])),
            v2: Some(InfoHashV2([2; 32])),
        };
        let mut half = meta.clone();
        half.info_hashes.v2 = Some(InfoHashV2([3; 32]));
        for (sig, got) in [(other, &meta), (signed, &half)] {
            let gate = gated_storage(&m, folder.clone(), sig, Target::Folder);
            let e = gate(&m.path, got, false).err().expect("refused");
            let msg = swarm::ErrorChain(&e).to_string();
            assert!(msg.contains("not the signed version"), "{msg}");
            assert_eq!(listing(), [crate::mirror_folder::MARKER]);
            assert_eq!(written(&folder), 0);
        }
        // The signed version: its files are the mirror's before any write.
        let gate = gated_storage(&m, folder.clone(), signed, Target::Folder);
        assert!(gate(&m.path, &meta, false).is_ok());
        assert_eq!(written(&folder), 1);
    }
}
