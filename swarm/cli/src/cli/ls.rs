//! `swarm ls`: list what the LAN shares.
//!
//! Browses mDNS for `_swarm._tcp` peers, reads each one's catalogue and
//! prints one line per torrent: name, size, number of peers offering it,
//! magnet link. `--json` prints
//! `{"shares":[{"name","size","files","peers","addrs","btih","btmh","magnet"}],"hosts":N}`.
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use swarm::discovery;

#[derive(clap::Args)]
pub struct Args {
    /// How long to look around the LAN, in seconds.
    #[arg(long, default_value_t = 3.0)]
    pub timeout: f64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Human size: 1.5 MiB.
fn human(n: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}

/// Parse `--timeout` into a bounded duration (0.1 s to 1 h).
pub fn timeout_arg(secs: f64) -> anyhow::Result<Duration> {
    if !secs.is_finite() || !(0.1..=3600.0).contains(&secs) {
        anyhow::bail!("--timeout must be between 0.1 and 3600 seconds");
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Does a `swarm get` argument name a LAN share (not a magnet link, a
/// .torrent file or an existing path)? (For `swarm get`.)
pub fn is_share_name(arg: &str) -> bool {
    !arg.starts_with("magnet:")
        && !arg.to_ascii_lowercase().ends_with(".torrent")
        && !std::path::Path::new(arg).exists()
}

/// For `swarm get NAME`: find the share on the LAN within `timeout`, with
/// a clear error ("no share named \"x\" found on the LAN within 3s",
/// or the list of clashing shares).
#[allow(dead_code)]
pub fn resolve_for_get(name: &str, timeout: Duration) -> anyhow::Result<discovery::Resolved> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    Ok(rt.block_on(discovery::resolve(name, timeout))?)
}

/// Async [`resolve_for_get`].
pub async fn resolve_name(name: &str, timeout: Duration) -> anyhow::Result<discovery::Resolved> {
    Ok(discovery::resolve(name, timeout).await?)
}

/// For `swarm share`: make `handle` findable on the LAN (mDNS service,
/// catalogue answered on the session's listener, BEP 14 announces, LSD
/// peer hints fed to the torrent). Keep the returned guard alive while
/// sharing. What could not start is printed; sharing still works by magnet.
pub fn announce_on_lan(
    session: &swarm::Session,
    handle: &swarm::TorrentHandle,
) -> Option<swarm::session::LanPresence> {
    let lan = start_lan(session, swarm::session::LanOptions::new(handle.name()))?;
    if let Err(e) = lan.share(handle) {
        eprintln!("swarm: {}", swarm::ErrorChain(&e));
    }
    Some(lan)
}

/// For `swarm get`: announce the torrent by BEP 14 and add the LAN peers
/// heard for it. Keep the returned guard alive while downloading.
pub fn lsd_for_download(
    session: &swarm::Session,
    handle: &swarm::TorrentHandle,
) -> Option<swarm::session::LanPresence> {
    let mut opts = swarm::session::LanOptions::new(handle.name());
    opts.mdns = false;
    let lan = start_lan(session, opts)?;
    lan.look_for_peers(handle);
    Some(lan)
}

fn start_lan(
    session: &swarm::Session,
    opts: swarm::session::LanOptions,
) -> Option<swarm::session::LanPresence> {
    match session.start_lan(opts) {
        Ok(lan) => {
            for p in lan.problems() {
                eprintln!("swarm: {}", swarm::ErrorChain(p));
            }
            Some(lan)
        }
        Err(e) => {
            eprintln!("swarm: {}", swarm::ErrorChain(&e));
            None
        }
    }
}

/// Run `swarm ls`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let timeout = timeout_arg(a.timeout)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let view = rt
        .block_on(discovery::scan(timeout))
        .context("looking around the LAN")?;
    if a.json {
        let shares: Vec<serde_json::Value> = view
            .shares
            .iter()
            .map(|s| {
                serde_json::json!({
                    "name": s.share.name,
                    "size": s.share.size,
                    "files": s.share.files,
                    "peers": s.peers.len(),
                    "addrs": s.peers.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
                    "btih": s.share.info_hashes.v1.map(|h| h.to_hex()),
                    "btmh": s.share.info_hashes.v2.map(|h| h.to_hex()),
                    "magnet": s.share.magnet,
                })
            })
            .collect();
        let out = serde_json::json!({ "shares": shares, "hosts": view.peers.len() });
        println!("{out}");
    } else if view.shares.is_empty() {
        eprintln!(
            "nothing shared on the LAN found within {}s ({} peer(s) seen)",
            timeout.as_secs_f32(),
            view.peers.len()
        );
    } else {
        let w = view
            .shares
            .iter()
            .map(|s| s.share.name.chars().count())
            .max()
            .unwrap_or(4)
            .clamp(4, 40);
        println!("{:<w$}  {:>10}  {:>5}  MAGNET", "NAME", "SIZE", "PEERS");
        for s in &view.shares {
            println!(
                "{:<w$}  {:>10}  {:>5}  {}",
                s.share.name,
                human(s.share.size),
                s.peers.len(),
                s.share.magnet
            );
        }
    }
    for (who, why) in &view.failures {
        eprintln!("swarm: could not read what \"{who}\" shares: {why}");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_timeouts() {
        assert_eq!(human(12), "12 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(3 * 1024 * 1024), "3.0 MiB");
        assert!(timeout_arg(0.0).is_err());
        assert!(timeout_arg(f64::NAN).is_err());
        assert_eq!(timeout_arg(2.5).unwrap(), Duration::from_millis(2500));
        assert!(is_share_name("zines"));
        assert!(!is_share_name("magnet:?xt=urn:btih:00"));
        assert!(!is_share_name("x.TORRENT"));
        assert!(!is_share_name("/"));
    }

    #[test]
    fn unknown_name_is_a_clear_error() {
        let e = resolve_for_get("nosuchname-3b1c", Duration::from_millis(500)).unwrap_err();
        let msg = crate::cli::one_line(&e);
        assert!(
            msg.starts_with("no share named \"nosuchname-3b1c\" found on the LAN"),
            "{msg}"
        );
    }
}
