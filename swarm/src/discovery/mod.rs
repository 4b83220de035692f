//! LAN discovery: who on the local network shares what.
//!
//! Three pieces, all LAN-only (nothing waits for an Internet route, a
//! relay or DNS), and all only *hints* (integrity comes from the
//! info-hash):
//!
//! - [`mdns`]: each sharing process announces a `_swarm._tcp.local.`
//!   DNS-SD service with its TCP port; browsers resolve them.
//! - [`catalogue`]: ask a peer found that way what it shares (names,
//!   sizes, info-hashes, magnets) over its BitTorrent TCP port.
//! - [`lsd`]: BEP 14 Local Service Discovery, per-torrent multicast
//!   announces interoperable with libtorrent, Transmission and others.
//!
//! [`scan`] combines mDNS and catalogues into a [`LanView`] (what `swarm
//! ls` prints); [`resolve`] finds one share by name for `swarm get NAME`.
//!
//! # Embedding in a session
//!
//! A sharing process (all bundled in [`presence::Presence`]):
//! 1. answers connections whose handshake info-hash is
//!    [`catalogue::CATALOGUE_HASH`] with
//!    [`catalogue::serve_after_handshake`] and its [`Catalogue`];
//! 2. keeps a [`mdns::Advertiser`] alive while it shares;
//! 3. runs [`lsd::Lsd`], `add`s each torrent's handshake id and feeds the
//!    [`lsd::PeerHint`]s to the matching torrent as candidate peers.
//!
//! A downloading process (`swarm get NAME`) calls [`resolve`], then fetches
//! [`Resolved::magnet`] with [`Resolved::peers`] as initial peers; it may
//! also run [`lsd::Lsd`] for the torrent to hear other LAN sources.

pub mod catalogue;
pub mod lsd;
pub mod mdns;
pub mod presence;
pub mod signed;

use std::net::SocketAddr;
use std::time::Duration;

use piece_core::types::InfoHashes;
use tokio::task::JoinSet;
use tokio::time::Instant;

pub use catalogue::{Catalogue, CatalogueError, Share};
pub use mdns::LanPeer;

/// Discovery failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The mDNS browser could not start.
    #[error(transparent)]
    Mdns(#[from] mdns::MdnsError),
}

/// One torrent offered on the LAN, merged over every peer offering it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LanShare {
    /// The entry as the first peer listed it.
    pub share: Share,
    /// The peers offering it: one address + TCP port per distinct mDNS
    /// instance (sharing process).
    pub peers: Vec<SocketAddr>,
    /// Their mDNS instance names, in the same order.
    pub instances: Vec<String>,
}

/// The result of a [`scan`].
#[derive(Clone, Debug, Default)]
pub struct LanView {
    /// Shares by name then info-hash.
    pub shares: Vec<LanShare>,
    /// Peers found by mDNS.
    pub peers: Vec<LanPeer>,
    /// Instance names of peers whose catalogue was read.
    pub answered: Vec<String>,
    /// Peers whose catalogue could not be read, with the reason.
    pub failures: Vec<(String, String)>,
}

impl LanView {
    /// Merge one peer's catalogue, read from `from`.
    pub fn add_catalogue(&mut self, instance: &str, from: SocketAddr, cat: Catalogue) {
        for share in cat.shares {
            let key = share.key();
            match self.shares.iter_mut().find(|s| s.share.key() == key) {
                Some(s) => {
                    if !s.peers.contains(&from) && !s.instances.iter().any(|i| i == instance) {
                        s.peers.push(from);
                        s.instances.push(instance.to_owned());
                    }
                }
                None => self.shares.push(LanShare {
                    share,
                    peers: vec![from],
                    instances: vec![instance.to_owned()],
                }),
            }
        }
        self.shares
            .sort_by(|a, b| (&a.share.name, a.share.key()).cmp(&(&b.share.name, b.share.key())));
    }
}

/// Browse mDNS and read every peer's catalogue, all within `timeout`.
///
/// mDNS browsing runs until shortly before the deadline; each peer's
/// catalogue is asked for as soon as the peer resolves.
pub async fn scan(timeout: Duration) -> Result<LanView, DiscoveryError> {
    scan_until(timeout, Duration::ZERO, |_| false).await
}

/// Like [`scan`], but once `enough(&view)` first holds, keep looking for
/// only `settle` more (never past `timeout`) and return. Used by
/// [`resolve`] to answer as soon as the name is found, while still giving
/// other peers with the same (or a clashing) share a moment to answer.
pub async fn scan_until(
    timeout: Duration,
    settle: Duration,
    mut enough: impl FnMut(&LanView) -> bool,
) -> Result<LanView, DiscoveryError> {
    let mut deadline = Instant::now() + timeout;
    let mut settling = false;
    // Leave time at the end to read catalogues of late peers.
    let browse_for = timeout.saturating_sub((timeout / 4).min(Duration::from_secs(1)));
    let mut found = Some(mdns::browse_stream(browse_for)?);
    let mut queries = JoinSet::new();
    let mut view = LanView::default();
    loop {
        tokio::select! {
            p = async { found.as_mut()?.recv().await }, if found.is_some() => match p {
                Some(peer) => {
                    // First sighting or new addresses for a peer whose
                    // catalogue we do not have yet: (re)try.
                    let answered = view.answered.iter().any(|i| i == peer.instance());
                    match view.peers.iter_mut().find(|p| p.fullname == peer.fullname) {
                        Some(p) => *p = peer.clone(),
                        None => view.peers.push(peer.clone()),
                    }
                    if !answered {
                        queries.spawn(query_peer(peer, deadline));
                    }
                }
                None => found = None,
            },
            Some(r) = queries.join_next(), if !queries.is_empty() => {
                if let Ok((peer, res)) = r {
                    merge(&mut view, peer, res);
                }
            }
            _ = tokio::time::sleep_until(deadline) => break,
        }
        if found.is_none() && queries.is_empty() {
            break;
        }
        if !settling && enough(&view) {
            settling = true;
            deadline = deadline.min(Instant::now() + settle);
        }
    }
    queries.abort_all();
    Ok(view)
}

type QueryResult = Result<(SocketAddr, Catalogue), String>;

fn merge(view: &mut LanView, peer: LanPeer, res: QueryResult) {
    let who = peer.instance().to_owned();
    match res {
        Ok((addr, cat)) => {
            view.failures.retain(|(w, _)| *w != who);
            if !view.answered.contains(&who) {
                view.add_catalogue(&who, addr, cat);
                view.answered.push(who);
            }
        }
        // A later failure (retry on another address) does not hide an answer.
        Err(_) if view.answered.contains(&who) => {}
        Err(e) => {
            view.failures.retain(|(w, _)| *w != who);
            view.failures.push((who, e));
        }
    }
}

/// Try the peer's addresses in turn until one answers with a catalogue.
async fn query_peer(peer: LanPeer, deadline: Instant) -> (LanPeer, QueryResult) {
    let mut last = String::from("no address");
    for ip in &peer.addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let addr = SocketAddr::new(*ip, peer.tcp_port);
        match catalogue::query(addr, left).await {
            Ok(cat) => return (peer, Ok((addr, cat))),
            Err(e) => last = format!("{addr}: {}", crate::ErrorChain(&e)),
        }
    }
    (peer, Err(last))
}

/// How long [`resolve`] keeps listening after the name is first found.
pub const RESOLVE_SETTLE: Duration = Duration::from_millis(750);

/// A share found by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// Its name.
    pub name: String,
    /// Its info-hashes.
    pub info_hashes: InfoHashes,
    /// A magnet link for it.
    pub magnet: String,
    /// Peers offering it (TCP addresses).
    pub peers: Vec<SocketAddr>,
    /// For each of `peers`, the same peer's QUIC address (its IP and the
    /// `quic=` port of its mDNS TXT record), if it has one.
    pub quic: Vec<Option<SocketAddr>>,
}

/// Why a name could not be resolved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// No host on the LAN lists a share of that name.
    #[error("no share named \"{name}\" found on the LAN within {}s ({peers} peer(s) answered)", timeout.as_secs_f32())]
    NotFound {
        /// The name looked for.
        name: String,
        /// How long we looked.
        timeout: Duration,
        /// Hosts whose catalogue was read.
        peers: usize,
    },
    /// Different torrents share that name.
    #[error("several different shares are named \"{name}\"; pick one by magnet link:\n{}", choices.join("\n"))]
    Ambiguous {
        /// The name looked for.
        name: String,
        /// One line per candidate (name, size, magnet link).
        choices: Vec<String>,
    },
    /// Browsing the LAN failed.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
}

/// Find the share called `name` in a view: exact match first, else a
/// case-insensitive one. Two different info-hashes under that name is an
/// error listing them.
pub fn resolve_in(view: &LanView, name: &str, timeout: Duration) -> Result<Resolved, ResolveError> {
    let mut hits: Vec<&LanShare> = view
        .shares
        .iter()
        .filter(|s| s.share.name == name)
        .collect();
    if hits.is_empty() {
        hits = view
            .shares
            .iter()
            .filter(|s| s.share.name.to_lowercase() == name.to_lowercase())
            .collect();
    }
    match hits.as_slice() {
        [] => Err(ResolveError::NotFound {
            name: name.to_owned(),
            timeout,
            peers: view.peers.len(),
        }),
        [one] => Ok(Resolved {
            name: one.share.name.clone(),
            info_hashes: one.share.info_hashes,
            magnet: one.share.magnet.clone(),
            peers: one.peers.clone(),
            quic: quic_addrs(view, one),
        }),
        many => Err(ResolveError::Ambiguous {
            name: name.to_owned(),
            choices: many
                .iter()
                .map(|s| {
                    format!(
                        "  {} ({} bytes, {} peer(s)) {}",
                        s.share.name,
                        s.share.size,
                        s.peers.len(),
                        s.share.magnet
                    )
                })
                .collect(),
        }),
    }
}

/// The QUIC address of each peer of `share`: the mDNS instance's `quic=`
/// port at the address its catalogue answered on.
fn quic_addrs(view: &LanView, share: &LanShare) -> Vec<Option<SocketAddr>> {
    share
        .peers
        .iter()
        .zip(&share.instances)
        .map(|(addr, inst)| {
            let lp = view.peers.iter().find(|p| p.instance() == inst)?;
            Some(SocketAddr::new(addr.ip(), lp.quic_port?))
        })
        .collect()
}

/// Look the LAN over for `timeout` and find the share called `name`
/// (for `swarm get NAME`).
///
/// Returns about [`RESOLVE_SETTLE`] after the name is first seen, or when
/// `timeout` is up.
pub async fn resolve(name: &str, timeout: Duration) -> Result<Resolved, ResolveError> {
    let lower = name.to_lowercase();
    let view = scan_until(timeout, RESOLVE_SETTLE, |v| {
        v.shares
            .iter()
            .any(|s| s.share.name.to_lowercase() == lower)
    })
    .await?;
    resolve_in(&view, name, timeout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use piece_core::types::InfoHashV1;

    fn share(name: &str, h: u8) -> Share {
        Share::new(
            name,
            10,
            1,
            InfoHashes {
                v1: Some(InfoHashV1([h; 20])),
                v2: None,
            },
        )
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn merges_peers_and_resolves() {
        let mut v = LanView::default();
        v.add_catalogue(
            "a",
            addr("10.0.0.1:1"),
            Catalogue {
                shares: vec![share("zines", 1), share("Dup", 2)],
            },
        );
        v.add_catalogue(
            "c",
            addr("10.0.0.3:1"),
            Catalogue {
                shares: vec![share("zines", 1), share("dup", 3)],
            },
        );
        v.add_catalogue(
            "c",
            addr("10.0.0.3:1"),
            Catalogue {
                shares: vec![share("zines", 1)],
            },
        );
        let t = Duration::from_secs(1);
        let r = resolve_in(&v, "zines", t).unwrap();
        assert_eq!(r.peers, vec![addr("10.0.0.1:1"), addr("10.0.0.3:1")]);
        assert!(r.magnet.contains(&"01".repeat(20)));
        // case-insensitive fallback only when no exact match
        assert_eq!(resolve_in(&v, "ZINES", t).unwrap().name, "zines");
        assert_eq!(
            resolve_in(&v, "Dup", t).unwrap().info_hashes.v1,
            Some(InfoHashV1([2; 20]))
        );
        match resolve_in(&v, "DUP", t) {
            Err(ResolveError::Ambiguous { choices, .. }) => assert_eq!(choices.len(), 2),
            other => panic!("{other:?}"),
        }
        // No mDNS record seen for these instances: no QUIC addresses.
        assert_eq!(r.quic, vec![None, None]);
        let e = resolve_in(&v, "nosuchname", t).unwrap_err();
        assert!(matches!(e, ResolveError::NotFound { .. }));
        assert!(
            e.to_string().contains("no share named \"nosuchname\""),
            "{e}"
        );
    }

    #[test]
    fn quic_address_comes_from_the_mdns_txt_of_the_same_instance() {
        let lan_peer = |inst: &str, quic_port: Option<u16>| LanPeer {
            fullname: format!("{inst}.{}", mdns::SERVICE_TYPE),
            addrs: vec!["10.0.0.9".parse().unwrap()],
            tcp_port: 1,
            quic_port,
            fingerprint: None,
        };
        let mut v = LanView::default();
        for (inst, ip) in [
            ("a", "10.0.0.1:6881"),
            ("b", "10.0.0.2:6881"),
            ("c", "10.0.0.3:7"),
        ] {
            v.add_catalogue(
                inst,
                addr(ip),
                Catalogue {
                    shares: vec![share("zines", 1)],
                },
            );
        }
        v.peers = vec![lan_peer("b", None), lan_peer("a", Some(4433))];
        let r = resolve_in(&v, "zines", Duration::from_secs(1)).unwrap();
        assert_eq!(
            r.peers,
            vec![
                addr("10.0.0.1:6881"),
                addr("10.0.0.2:6881"),
                addr("10.0.0.3:7")
            ]
        );
        // The IP the catalogue answered on, the port from TXT; "b" has no
        // QUIC, "c" was never seen by mDNS.
        assert_eq!(r.quic, vec![Some(addr("10.0.0.1:4433")), None, None]);
    }
}
