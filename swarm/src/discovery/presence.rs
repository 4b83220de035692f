//! Everything a sharing process does to be found on the LAN, in one
//! handle: the catalogue it answers with, its mDNS service and its BEP 14
//! announces.
//!
//! ```no_run
//! # async fn f(tcp_port: u16, share: swarm::discovery::Share) {
//! use swarm::discovery::presence::{Presence, PresenceConfig};
//! let (hints_tx, mut hints) = tokio::sync::mpsc::channel(256);
//! let p = Presence::start(PresenceConfig::new("zines", tcp_port), hints_tx);
//! p.add_share(share);
//! // in the TCP listener, for a handshake with CATALOGUE_HASH:
//! //     p.serve_catalogue(&mut stream, &our_peer_id).await
//! // and feed `hints` (info-hash, address) to the matching torrent.
//! # }
//! ```

use std::sync::{Arc, RwLock};
use std::time::Duration;

use piece_core::types::InfoHashes;
use tokio::io::AsyncWrite;
use tokio::sync::mpsc;

use super::catalogue::{self, Catalogue, CatalogueError, Share, MAX_SHARES};
use super::lsd::{Lsd, LsdConfig, LsdError, PeerHint, MIN_ANNOUNCE_GAP, REANNOUNCE_INTERVAL};
use super::mdns::{AdvertiseConfig, Advertiser, MdnsError};

/// A part of a [`Presence`] that could not start; the rest runs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PresenceError {
    /// The mDNS service could not be registered (no multicast...).
    #[error("not visible by mDNS")]
    Mdns(#[source] MdnsError),
    /// BEP 14 local service discovery could not start.
    #[error("local service discovery (BEP 14) is off")]
    Lsd(#[source] LsdError),
}

/// Settings for [`Presence::start`].
#[derive(Clone, Debug)]
pub struct PresenceConfig {
    /// Human label for the mDNS instance name ("zines" gives
    /// "zines on laptop-3f2a").
    pub label: String,
    /// Our BitTorrent TCP port.
    pub tcp_port: u16,
    /// Our QUIC port, if any.
    pub quic_port: Option<u16>,
    /// Our certificate fingerprint (hex), if any.
    pub fingerprint: Option<String>,
    /// Advertise by mDNS.
    pub mdns: bool,
    /// Announce and listen by BEP 14 LSD.
    pub lsd: bool,
    /// LSD re-announce period (default 5 min); the per-torrent rate limit
    /// is the smaller of this and 1 min.
    pub lsd_interval: Duration,
}

impl PresenceConfig {
    /// mDNS and LSD on, no QUIC, no fingerprint.
    pub fn new(label: impl Into<String>, tcp_port: u16) -> Self {
        PresenceConfig {
            label: label.into(),
            tcp_port,
            quic_port: None,
            fingerprint: None,
            mdns: true,
            lsd: true,
            lsd_interval: REANNOUNCE_INTERVAL,
        }
    }
}

/// A sharing process's LAN presence. Dropping it withdraws the mDNS
/// service and stops LSD.
pub struct Presence {
    catalogue: Arc<RwLock<Catalogue>>,
    advertiser: Option<Advertiser>,
    lsd: Option<Lsd>,
}

impl Presence {
    /// Start mDNS and LSD (each as configured). A part that cannot start
    /// (no multicast, port trouble) is logged and left out: sharing still
    /// works by magnet link. Must be called inside a tokio runtime.
    /// [`Presence::start_reporting`] returns those failures instead.
    pub fn start(cfg: PresenceConfig, hints: mpsc::Sender<PeerHint>) -> Presence {
        let (p, problems) = Presence::start_reporting(cfg, hints);
        for e in &problems {
            tracing::warn!("{}", crate::ErrorChain(e));
        }
        p
    }

    /// Like [`Presence::start`], returning what could not start.
    pub fn start_reporting(
        cfg: PresenceConfig,
        hints: mpsc::Sender<PeerHint>,
    ) -> (Presence, Vec<PresenceError>) {
        let mut problems = Vec::new();
        let advertiser = if cfg.mdns {
            let adv = AdvertiseConfig {
                label: cfg.label.clone(),
                tcp_port: cfg.tcp_port,
                quic_port: cfg.quic_port,
                fingerprint: cfg.fingerprint.clone(),
            };
            Advertiser::start(&adv)
                .map_err(|e| problems.push(PresenceError::Mdns(e)))
                .ok()
        } else {
            None
        };
        let lsd = if cfg.lsd {
            let mut lc = LsdConfig::new(cfg.tcp_port);
            lc.interval = cfg.lsd_interval;
            lc.min_gap = cfg.lsd_interval.min(MIN_ANNOUNCE_GAP);
            Lsd::start(lc, hints)
                .map_err(|e| problems.push(PresenceError::Lsd(e)))
                .ok()
        } else {
            None
        };
        let p = Presence {
            catalogue: Arc::default(),
            advertiser,
            lsd,
        };
        (p, problems)
    }

    /// Is the mDNS service registered?
    pub fn mdns_instance(&self) -> Option<&str> {
        self.advertiser.as_ref().map(Advertiser::instance)
    }

    /// Is LSD running?
    pub fn lsd_running(&self) -> bool {
        self.lsd.is_some()
    }

    /// List a share in the catalogue and announce it by LSD. Returns false
    /// (and changes nothing) if the catalogue is full.
    pub fn add_share(&self, share: Share) -> bool {
        let id = share.info_hashes.wire_id();
        {
            let mut c = self.catalogue.write().unwrap_or_else(|e| e.into_inner());
            if let Some(old) = c
                .shares
                .iter_mut()
                .find(|s| s.info_hashes == share.info_hashes)
            {
                *old = share;
            } else if c.shares.len() >= MAX_SHARES {
                return false;
            } else {
                c.shares.push(share);
            }
        }
        if let Some(l) = &self.lsd {
            l.add(id);
        }
        true
    }

    /// Announce a torrent by LSD only (to find LAN peers for a download),
    /// without listing it in the catalogue.
    pub fn look_for(&self, info_hashes: &InfoHashes) {
        if let Some(l) = &self.lsd {
            l.add(info_hashes.wire_id());
        }
    }

    /// Stop listing and announcing a torrent.
    pub fn remove_share(&self, info_hashes: &InfoHashes) {
        self.catalogue
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .shares
            .retain(|s| s.info_hashes != *info_hashes);
        if let Some(l) = &self.lsd {
            l.remove(info_hashes.wire_id());
        }
    }

    /// A snapshot of the catalogue.
    pub fn catalogue(&self) -> Catalogue {
        self.catalogue
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Answer a catalogue request whose handshake (info-hash
    /// [`catalogue::CATALOGUE_HASH`]) the listener already read.
    pub async fn serve_catalogue<S: AsyncWrite + Unpin>(
        &self,
        stream: &mut S,
        peer_id: &[u8; 20],
    ) -> Result<(), CatalogueError> {
        let snapshot = self.catalogue();
        catalogue::serve_after_handshake(stream, peer_id, &snapshot).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use piece_core::types::InfoHashV1;

    #[tokio::test]
    async fn catalogue_add_replace_remove_and_serve() {
        let (tx, _rx) = mpsc::channel(8);
        let mut cfg = PresenceConfig::new("t", 1);
        cfg.mdns = false;
        cfg.lsd = false;
        let p = Presence::start(cfg, tx);
        assert!(p.mdns_instance().is_none() && !p.lsd_running());
        let ih = InfoHashes {
            v1: Some(InfoHashV1([3; 20])),
            v2: None,
        };
        assert!(p.add_share(Share::new("a", 1, 1, ih)));
        assert!(p.add_share(Share::new("a2", 2, 1, ih)));
        assert_eq!(p.catalogue().shares.len(), 1);
        assert_eq!(p.catalogue().shares[0].name, "a2");
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        p.serve_catalogue(&mut b, &[0; 20]).await.unwrap();
        drop(b);
        let mut buf = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut a, &mut buf)
            .await
            .unwrap();
        assert_eq!(&buf[28..48], &catalogue::CATALOGUE_HASH);
        let got = Catalogue::decode(&buf[72..]).unwrap();
        assert_eq!(got, p.catalogue());
        p.remove_share(&ih);
        assert!(p.catalogue().shares.is_empty());
    }
}
