//! mDNS / DNS-SD presence (RFC 6762 / RFC 6763) through `mdns-sd`.
//!
//! # Records
//!
//! Each sharing process registers one instance of [`SERVICE_TYPE`]
//! (`_swarm._tcp.local.`):
//!
//! - instance name: a human name, `"<what> on <host>-<4 hex>"`, e.g.
//!   `"zines on laptop-3f2a"` (at most 63 bytes);
//! - SRV: a per-process host name `<host>-<4 hex>.local.` and the
//!   BitTorrent TCP port;
//! - A/AAAA: the addresses of the LAN interfaces (kept up to date);
//! - TXT: `v=1`, `tcp=<port>`, optionally `quic=<port>` and
//!   `fp=<certificate SHA-256, hex, may be truncated>`.
//!
//! What a peer shares is never put in mDNS: ask it with
//! [`crate::discovery::catalogue::query`].
//!
//! `mdns-sd` runs its own thread and hands events over a blocking channel;
//! [`browse_stream`] drains it on a dedicated thread so no tokio worker
//! ever blocks. Everything read is bounded ([`MAX_PEERS`],
//! [`MAX_ADDRS_PER_PEER`], TXT value lengths) and only used as a hint.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use mdns_sd::{ServiceDaemon, ServiceEvent, ServiceInfo};
use tokio::sync::mpsc;

/// The DNS-SD service type.
pub const SERVICE_TYPE: &str = "_swarm._tcp.local.";
/// Most distinct instances one browse reports.
pub const MAX_PEERS: usize = 256;
/// Most addresses kept per instance.
pub const MAX_ADDRS_PER_PEER: usize = 8;
/// Most times one instance is reported (first sighting plus address updates).
pub const MAX_UPDATES_PER_PEER: usize = 4;
/// Longest `fp` TXT value kept.
pub const MAX_FP_LEN: usize = 128;

/// mDNS failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MdnsError {
    /// The mDNS daemon failed (no usable interface, socket trouble...).
    #[error("mDNS")]
    Daemon(#[from] mdns_sd::Error),
    /// The browse thread could not be started.
    #[error("mDNS: could not start the browse thread: {0}")]
    Thread(std::io::Error),
}

/// Settings for [`Advertiser::start`].
#[derive(Clone, Debug)]
pub struct AdvertiseConfig {
    /// What is shared, in a few words (e.g. the first share's name).
    pub label: String,
    /// The BitTorrent TCP port (SRV port).
    pub tcp_port: u16,
    /// The QUIC port, if any.
    pub quic_port: Option<u16>,
    /// Our TLS certificate SHA-256 fingerprint (hex, truncated ok).
    pub fingerprint: Option<String>,
}

/// A registered mDNS service; dropping it says goodbye and stops the
/// mDNS thread (waiting at most about a second for both, so drop it from
/// a blocking context or at shutdown).
pub struct Advertiser {
    daemon: ServiceDaemon,
    fullname: String,
    instance: String,
}

/// The machine's host name, made DNS-label-safe.
fn host_label() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    let mut s: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    s = s.trim_matches('-').to_string();
    if s.is_empty() {
        s = "swarm".into();
    }
    s
}

/// Truncate to at most `max` bytes on a char boundary.
fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The instance name for a label on this host with a given suffix.
pub fn instance_name(label: &str, host: &str, suffix: &str) -> String {
    let tail = format!(" on {host}-{suffix}");
    let label: String = label
        .chars()
        .map(|c| if c.is_control() || c == '.' { '-' } else { c })
        .collect();
    let room = 63usize.saturating_sub(tail.len());
    format!("{}{tail}", truncate(&label, room))
}

impl Advertiser {
    /// Register our service on all LAN interfaces.
    pub fn start(cfg: &AdvertiseConfig) -> Result<Advertiser, MdnsError> {
        let mut props = vec![("v".to_string(), "1".to_string())];
        props.push(("tcp".into(), cfg.tcp_port.to_string()));
        if let Some(q) = cfg.quic_port {
            props.push(("quic".into(), q.to_string()));
        }
        if let Some(fp) = &cfg.fingerprint {
            props.push(("fp".into(), truncate(fp, 64).to_string()));
        }
        Advertiser::start_service(SERVICE_TYPE, &cfg.label, cfg.tcp_port, &props)
    }

    /// Register any DNS-SD service (e.g. `_http._tcp.local.` for a web
    /// page) as "`label` on `<host>-<suffix>`" on all LAN interfaces.
    pub fn start_service(
        service_type: &str,
        label: &str,
        port: u16,
        props: &[(String, String)],
    ) -> Result<Advertiser, MdnsError> {
        let daemon = ServiceDaemon::new()?;
        let host = host_label();
        let suffix = hex::encode(rand::random::<[u8; 2]>());
        let instance = instance_name(label, &host, &suffix);
        let hostname = format!("{host}-{suffix}.local.");
        let info = ServiceInfo::new(service_type, &instance, &hostname, "", port, props)?
            .enable_addr_auto();
        let fullname = info.get_fullname().to_string();
        daemon.register(info)?;
        Ok(Advertiser {
            daemon,
            fullname,
            instance,
        })
    }

    /// Our instance name, e.g. "zines on laptop-3f2a".
    pub fn instance(&self) -> &str {
        &self.instance
    }
}

impl Drop for Advertiser {
    fn drop(&mut self) {
        if let Ok(rx) = self.daemon.unregister(&self.fullname) {
            let _ = rx.recv_timeout(Duration::from_millis(500));
        }
        if let Ok(rx) = self.daemon.shutdown() {
            let _ = rx.recv_timeout(Duration::from_millis(500));
        }
    }
}

/// A resolved `_swarm._tcp` instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LanPeer {
    /// Full instance name, e.g. "zines on laptop-3f2a._swarm._tcp.local.".
    pub fullname: String,
    /// Addresses (IPv4 first), at most [`MAX_ADDRS_PER_PEER`].
    pub addrs: Vec<IpAddr>,
    /// BitTorrent TCP port (from SRV).
    pub tcp_port: u16,
    /// QUIC port from TXT, if any.
    pub quic_port: Option<u16>,
    /// Certificate fingerprint from TXT, if any.
    pub fingerprint: Option<String>,
}

impl LanPeer {
    /// The human part of the instance name ("zines on laptop-3f2a").
    pub fn instance(&self) -> &str {
        self.fullname
            .strip_suffix(&format!(".{SERVICE_TYPE}"))
            .unwrap_or(&self.fullname)
    }
}

/// IPv6 link-local addresses come without their interface (scope id), so
/// they cannot be dialled; skip them.
fn is_v6_link_local(a: &IpAddr) -> bool {
    matches!(a, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80)
}

fn to_peer(info: &ServiceInfo) -> Option<LanPeer> {
    if info.get_property_val_str("v") != Some("1") || info.get_port() == 0 {
        return None;
    }
    let mut addrs: Vec<IpAddr> = info
        .get_addresses()
        .iter()
        .copied()
        .filter(|a| !a.is_unspecified() && !a.is_multicast() && !is_v6_link_local(a))
        .collect();
    addrs.sort_by_key(|a| (a.is_ipv6(), *a));
    addrs.truncate(MAX_ADDRS_PER_PEER);
    if addrs.is_empty() {
        return None;
    }
    let quic_port = info
        .get_property_val_str("quic")
        .and_then(|q| q.parse().ok())
        .filter(|&p| p != 0);
    let fingerprint = info
        .get_property_val_str("fp")
        .filter(|f| f.len() <= MAX_FP_LEN && f.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map(str::to_owned);
    Some(LanPeer {
        fullname: truncate(info.get_fullname(), 255).to_string(),
        addrs,
        tcp_port: info.get_port(),
        quic_port,
        fingerprint,
    })
}

/// Browse for `timeout`, sending each newly resolved instance on the
/// returned channel as soon as it is known, and again (at most
/// [`MAX_UPDATES_PER_PEER`] times in all) when new addresses for it appear. Runs on its own thread; the
/// channel closes when the time is up.
pub fn browse_stream(timeout: Duration) -> Result<mpsc::Receiver<LanPeer>, MdnsError> {
    let daemon = ServiceDaemon::new()?;
    let events = daemon.browse(SERVICE_TYPE)?;
    let (tx, rx) = mpsc::channel(MAX_PEERS);
    std::thread::Builder::new()
        .name("swarm-mdns-browse".into())
        .spawn(move || {
            let deadline = Instant::now() + timeout;
            // fullname -> (addresses sent so far, number of sends)
            let mut seen: HashMap<String, (HashSet<IpAddr>, usize)> = HashMap::new();
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() || tx.is_closed() {
                    break;
                }
                // Wake now and then to notice a receiver that went away.
                match events.recv_timeout(left.min(Duration::from_millis(250))) {
                    Ok(ServiceEvent::ServiceResolved(info)) => {
                        let Some(p) = to_peer(&info) else { continue };
                        let room = seen.len() < MAX_PEERS;
                        let fresh = match seen.get_mut(&p.fullname) {
                            None if room => {
                                seen.insert(
                                    p.fullname.clone(),
                                    (p.addrs.iter().copied().collect(), 1),
                                );
                                true
                            }
                            None => false,
                            // Addresses often arrive in pieces: send an
                            // update when new ones show up (a few times).
                            Some((addrs, sends)) if *sends < MAX_UPDATES_PER_PEER => {
                                let new = p.addrs.iter().any(|a| !addrs.contains(a));
                                if new {
                                    addrs.extend(p.addrs.iter().copied());
                                    *sends += 1;
                                }
                                new
                            }
                            Some(_) => false,
                        };
                        if fresh && tx.blocking_send(p).is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(_) if !events.is_disconnected() => {}
                    Err(_) => break,
                }
            }
            let _ = daemon.stop_browse(SERVICE_TYPE);
            if let Ok(rx) = daemon.shutdown() {
                let _ = rx.recv_timeout(Duration::from_millis(200));
            }
        })
        .map_err(MdnsError::Thread)?;
    Ok(rx)
}

/// Browse for `timeout` and return every resolved instance (async; the
/// work happens on a dedicated thread).
pub async fn browse(timeout: Duration) -> Result<Vec<LanPeer>, MdnsError> {
    let mut rx = browse_stream(timeout)?;
    let mut out = Vec::new();
    while let Some(p) = rx.recv().await {
        match out
            .iter_mut()
            .find(|o: &&mut LanPeer| o.fullname == p.fullname)
        {
            Some(o) => *o = p,
            None => out.push(p),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_names_are_bounded_and_human() {
        assert_eq!(
            instance_name("zines", "laptop", "3f2a"),
            "zines on laptop-3f2a"
        );
        let long = instance_name(&"é".repeat(100), "host", "0000");
        assert!(long.len() <= 63, "{}", long.len());
        assert!(long.ends_with(" on host-0000"));
        assert_eq!(instance_name("a.b\nc", "h", "1"), "a-b-c on h-1");
    }

    #[test]
    fn txt_and_addresses_are_checked() {
        let props = [("v", "1"), ("quic", "4433"), ("fp", "abc123")];
        let info = ServiceInfo::new(
            SERVICE_TYPE,
            "x on h-1",
            "h-1.local.",
            "10.0.0.2,fe80::1",
            6881,
            &props[..],
        )
        .unwrap();
        let p = to_peer(&info).unwrap();
        assert_eq!(p.tcp_port, 6881);
        assert_eq!(p.quic_port, Some(4433));
        assert_eq!(p.fingerprint.as_deref(), Some("abc123"));
        // the link-local IPv6 address has no scope id: dropped
        assert_eq!(p.addrs, vec!["10.0.0.2".parse::<IpAddr>().unwrap()]);
        assert_eq!(p.instance(), "x on h-1");
        let bad = [("v", "2")];
        let info =
            ServiceInfo::new(SERVICE_TYPE, "y", "h.local.", "10.0.0.2", 1, &bad[..]).unwrap();
        assert!(to_peer(&info).is_none());
        let v1 = [("v", "1"), ("fp", "not hex!")];
        let info = ServiceInfo::new(SERVICE_TYPE, "y", "h.local.", "", 1, &v1[..]).unwrap();
        assert!(to_peer(&info).is_none(), "no address");
    }
}
