//! Following another seedbox's collection.
//!
//! Every `poll_secs`, a mirror asks the addresses in its config and the LAN
//! (mDNS + catalogues) for entries named like the collection that carry a
//! signed version record (see [`swarm::discovery::signed`]). It keeps only
//! records signed by the pinned key (from the config, or else the first and
//! only key seen, remembered in the state folder) and newer than the
//! version it holds. A newer version is fetched by magnet link **into the
//! same folder**: files that did not change verify in place against the new
//! torrent's hashes and are not transferred again; only changed and new
//! pieces come over the network. Once complete, files the new version no
//! longer has are deleted (only regular files inside the mirror folder),
//! and the copy is seeded and listed on the LAN with the publisher's own
//! signature, so other mirrors can follow through this one.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use swarm::discovery::catalogue;
use swarm::discovery::signed::{CollectionSig, PublisherKey};
use swarm::discovery::Share;
use swarm::net::PeerAddr;
use swarm::session::{AddOptions, TorrentHandle};

use crate::config::Mirror;
use crate::library::Origin;
use crate::shared::{Shared, Version};
use crate::store::{self, CollectionFiles, CollectionState, Manifest};

/// Longest a version may take to download before the mirror gives up on
/// it and looks again.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(6 * 3600);
/// How long a LAN scan listens.
pub const SCAN_TIME: Duration = Duration::from_secs(3);

/// A version on offer.
#[derive(Clone, Debug)]
pub struct Offer {
    pub share: Share,
    pub sig: CollectionSig,
    pub peers: Vec<SocketAddr>,
}

/// Of the offers, the newest one this mirror may take: named `name`,
/// signed by `pinned` (or, with no pin, by the only key seen), newer than
/// `have`. Several keys for one name and no pin: none (ambiguous).
pub fn choose(
    offers: &[Offer],
    name: &str,
    pinned: Option<PublisherKey>,
    have: u64,
) -> Result<Option<Offer>, String> {
    let named: Vec<&Offer> = offers.iter().filter(|o| o.share.name == name).collect();
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

async fn gather(m: &Mirror, lan: bool) -> Vec<Offer> {
    let mut offers = Vec::new();
    for &addr in &m.peers {
        match catalogue::query(addr, Duration::from_secs(5)).await {
            Ok(cat) => offers.extend(cat.shares.into_iter().filter_map(|s| {
                let sig = s.collection.clone()?;
                Some(Offer {
                    share: s,
                    sig,
                    peers: vec![addr],
                })
            })),
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

fn add_options(m: &Mirror, peers: &[SocketAddr]) -> AddOptions {
    AddOptions {
        save_dir: Some(m.path.clone()),
        storage: Some(store::rooted_storage(m.path.clone(), None)),
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
    if let Err(e) = std::fs::create_dir_all(&m.path) {
        tracing::error!("mirror {}: {}: {e}", m.local_name, m.path.display());
        return;
    }
    let mut cur = resume_saved(&shared, &m, &files, &st).await;
    let poll = Duration::from_secs(m.poll_secs);
    loop {
        let offers = gather(&m, shared.config.network.announce).await;
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
                match fetch(&shared, &m, &files, &offer, cur.take()).await {
                    Ok((handle, new_state)) => {
                        cur = Some(handle);
                        st = new_state;
                    }
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
        tokio::time::sleep(poll).await;
    }
}

/// A version of the copy, as [`Shared::publish`] lists it: under the
/// local name, announced under the publisher's name with its signature.
fn version<'a>(
    m: &'a Mirror,
    st: &'a CollectionState,
    meta: &'a piece_core::metainfo::Metainfo,
    torrent: Vec<u8>,
    sig: CollectionSig,
) -> Version<'a> {
    Version {
        name: &m.local_name,
        share_name: &m.name,
        title: &m.local_name,
        origin: Origin::Mirror,
        folder: &m.path,
        manifest: &st.manifest,
        real_paths: false,
        meta,
        torrent,
        sig,
        updated: st.updated,
    }
}

/// Seed the copy held from a previous run (or finish it).
async fn resume_saved(
    shared: &Shared,
    m: &Mirror,
    files: &CollectionFiles,
    st: &CollectionState,
) -> Option<TorrentHandle> {
    let (_, torrent) = files.load().ok().flatten()?;
    let sig = decode_sig(st)?;
    let handle = match shared
        .session
        .add_torrent_bytes(&torrent, add_options(m, &[]))
        .await
    {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!("mirror {}: saved version not resumed: {e}", m.local_name);
            return None;
        }
    };
    let meta = handle.metainfo()?;
    tracing::info!(
        "mirror {}: version {} back ({} of {} pieces verified)",
        m.local_name,
        st.seq,
        handle.progress().have_pieces,
        handle.progress().num_pieces
    );
    shared.publish(version(m, st, &meta, torrent, sig), handle.clone());
    Some(handle)
}

fn decode_sig(st: &CollectionState) -> Option<CollectionSig> {
    let key = PublisherKey::from_hex(st.key.as_deref()?)?;
    let mut sig = [0u8; 64];
    hex::decode_to_slice(st.sig.as_deref()?, &mut sig).ok()?;
    Some(CollectionSig {
        key,
        seq: st.seq,
        sig,
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
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

async fn fetch(
    shared: &Shared,
    m: &Mirror,
    files: &CollectionFiles,
    offer: &Offer,
    old: Option<TorrentHandle>,
) -> Result<(TorrentHandle, CollectionState), FetchError> {
    tracing::info!(
        "mirror {}: fetching version {} from {:?}",
        m.local_name,
        offer.sig.seq,
        offer.peers
    );
    // The old version's files are the new one's starting point: stop
    // seeding them while they are being updated.
    if let Some(old) = old {
        shared.retire(&m.local_name, old).await;
    }
    let handle = shared
        .session
        .add_magnet(&offer.share.magnet, add_options(m, &offer.peers))
        .await?;
    match tokio::time::timeout(FETCH_TIMEOUT, handle.wait_complete()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            handle.remove().await;
            return Err(e.into());
        }
        Err(_) => {
            handle.remove().await;
            return Err(FetchError::Timeout(FETCH_TIMEOUT));
        }
    }
    let meta = handle.metainfo().ok_or(FetchError::NoMetadata)?;
    let layout = store::rooted_layout(&meta, None).map_err(|e| {
        FetchError::Store(store::StoreError::Corrupt {
            path: m.path.clone(),
            msg: e.to_string(),
        })
    })?;
    let keep: Vec<(PathBuf, u64)> = layout
        .real_files()
        .map(|(_, f)| (f.path.clone(), f.length))
        .collect();
    let folder = m.path.clone();
    let _ = tokio::task::spawn_blocking(move || tidy(&folder, &keep)).await;
    let torrent = meta.to_torrent_bytes();
    let st = CollectionState {
        seq: offer.sig.seq,
        key: Some(offer.sig.key.to_hex()),
        manifest: Manifest::scan(&m.path)?,
        updated: store::now_secs(),
        sig: Some(hex::encode(offer.sig.sig)),
    };
    files.save(&st, &torrent)?;
    let p = handle.progress();
    tracing::info!(
        "mirror {}: version {} complete ({} bytes downloaded for it)",
        m.local_name,
        offer.sig.seq,
        p.downloaded
    );
    shared.publish(
        version(m, &st, &meta, torrent, offer.sig.clone()),
        handle.clone(),
    );
    Ok((handle, st))
}

/// Make the folder hold exactly the version's files: cut files that were
/// longer in an older version to their new length, delete regular files
/// the version does not have, then empty folders. Never follows symlinks
/// and never leaves `folder`.
fn tidy(folder: &Path, keep: &[(PathBuf, u64)]) {
    for (rel, len) in keep {
        let p = folder.join(rel);
        if let Ok(md) = std::fs::symlink_metadata(&p) {
            if md.is_file() && md.len() > *len {
                if let Ok(f) = std::fs::OpenOptions::new().write(true).open(&p) {
                    let _ = f.set_len(*len);
                }
            }
        }
    }
    let wanted: BTreeSet<&Path> = keep.iter().map(|(p, _)| p.as_path()).collect();
    let mut dirs = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(folder.join(&rel)) else {
            continue;
        };
        for ent in rd.flatten() {
            let r = rel.join(ent.file_name());
            let Ok(md) = std::fs::symlink_metadata(folder.join(&r)) else {
                continue;
            };
            if md.is_dir() {
                dirs.push(r.clone());
                stack.push(r);
            } else if md.is_file() && !wanted.contains(r.as_path()) {
                tracing::info!("removing {} (not in the new version)", r.display());
                let _ = std::fs::remove_file(folder.join(&r));
            }
        }
    }
    // Deepest first; remove_dir fails (and is ignored) when not empty.
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for d in dirs {
        let _ = std::fs::remove_dir(folder.join(d));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use piece_core::types::{InfoHashV1, InfoHashes};
    use swarm::discovery::signed::Publisher;

    fn offer(p: &Publisher, name: &str, seq: u64, h: u8, peer: u16) -> Offer {
        let hashes = InfoHashes {
            v1: Some(InfoHashV1([h; 20])),
            v2: None,
        };
        let sig = p.sign(name, seq, &hashes).unwrap();
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
    fn tidy_keeps_only_the_version() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path();
        std::fs::create_dir_all(f.join("a/b")).unwrap();
        std::fs::write(f.join("a/b/keep.txt"), b"0123456789").unwrap();
        std::fs::write(f.join("a/b/gone.txt"), b"x").unwrap();
        std::fs::create_dir_all(f.join("old")).unwrap();
        std::fs::write(f.join("old/gone.txt"), b"x").unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("precious"), b"p").unwrap();
        std::os::unix::fs::symlink(outside.path(), f.join("link")).unwrap();
        tidy(f, &[(PathBuf::from("a/b/keep.txt"), 4)]);
        assert_eq!(std::fs::read(f.join("a/b/keep.txt")).unwrap(), b"0123");
        assert!(!f.join("a/b/gone.txt").exists());
        assert!(!f.join("old").exists());
        assert!(outside.path().join("precious").exists());
    }
}
