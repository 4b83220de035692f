//! swarm <-> aria2c and swarm <-> Transmission 3.00, v1 torrents, each
//! direction, peers found through the in-process HTTP tracker
//! ([`TrackerServer`]) on 127.0.0.1.
//!
//! Transmission never dials addresses in 127.0.0.0/8 ("martian"), but it
//! accepts connections from them: when it downloads, swarm (the seeder)
//! dials it. Transmission decides interest and unchokes on its 10 s rechoke
//! timer, so its transfers take ~15 s however small.
//!
//! Only v1 torrents: these versions cannot use hybrid torrents, libtorrent's
//! no more than swarm's (the same bytes). Transmission 3.00 refuses them as
//! corrupt; aria2 1.36 derives a wrong v1 info-hash from them (also after
//! fetching the metadata of a `btih` magnet), so it never finds the swarm.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use piece_core::create::{create_torrent, CreateOptions};
use piece_core::metainfo::Version;
use swarm::net::PeerAddr;
use swarm::session::{AddOptions, Session, TorrentHandle};
use swarm::tracker::server::TrackerServer;

use super::{
    assert_collection, free_port, require, swarm_config, swarm_seed, swarm_wait_complete,
    write_collection, Proc, TRANSFER_LIMIT,
};

/// A source collection and its v1 torrent (made by swarm, announcing to
/// `tracker`), written to `<dir>/src` and `<dir>/v1.torrent`.
pub(super) struct Fixture {
    pub(super) files: Vec<(String, Vec<u8>)>,
    pub(super) src: PathBuf,
    pub(super) torrent: PathBuf,
    pub(super) bytes: Vec<u8>,
    pub(super) info_hash: [u8; 20],
}

pub(super) fn fixture(dir: &Path, tracker: &str) -> Fixture {
    let src = dir.join("src");
    let files = write_collection(&src, "zines");
    let opts = CreateOptions {
        version: Version::V1,
        piece_length: Some(65536),
        trackers: vec![tracker.to_string()],
        ..Default::default()
    };
    let t = create_torrent(&src.join("zines"), &opts, None).unwrap();
    let torrent = dir.join("v1.torrent");
    std::fs::write(&torrent, &t.bytes).unwrap();
    let meta = piece_core::metainfo::Metainfo::from_bytes(&t.bytes).unwrap();
    Fixture {
        files,
        src,
        torrent,
        info_hash: meta.info_hashes.wire_id(),
        bytes: t.bytes,
    }
}

async fn tracker() -> (TrackerServer, String) {
    TrackerServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .expect("bind the tracker")
}

/// Waits until `n` peers announced `info_hash` (failing at once if `who`
/// exits).
async fn wait_announced(
    t: &TrackerServer,
    info_hash: &[u8; 20],
    n: usize,
    mut who: Option<&mut Proc>,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while t.num_peers(info_hash) < n {
        if let Some(w) = who.as_mut() {
            w.assert_running();
        }
        assert!(
            Instant::now() < deadline,
            "{n} peer(s) never announced to the tracker:\n{}",
            who.as_ref().map(|w| w.log()).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// swarm seeding the fixture's data (announcing to its tracker).
async fn swarm_seeder(dir: &Path, fx: &Fixture) -> (Session, TorrentHandle) {
    swarm_seed(&dir.join("swarm"), &fx.bytes, &fx.src).await
}

/// swarm downloads the fixture's torrent with no peer given: it finds
/// `client` (already seeding and announced) through the tracker.
async fn swarm_leech_via_tracker(dir: &Path, fx: &Fixture, client: &mut Proc, who: &str) {
    let swarm = Session::new(swarm_config(&dir.join("swarm")))
        .await
        .unwrap();
    let h = swarm
        .add_torrent_file(&fx.torrent, AddOptions::default())
        .await
        .unwrap();
    swarm_wait_complete(&h, None, &mut [client]).await;
    assert_collection(&dir.join("swarm/dl"), &fx.files, who);
    swarm.shutdown().await;
}

// ---------------------------------------------------------------- aria2

fn have_aria2() -> bool {
    require("aria2c", &["aria2c", "--version"])
}

/// aria2c on `torrent` with everything but the tracker off.
fn aria2(torrent: &Path, dir: &Path, port: u16, extra: &[&str], logdir: &Path) -> Proc {
    let mut cmd = Command::new("aria2c");
    cmd.arg(format!("--dir={}", dir.display()))
        .arg(format!("--listen-port={port}"))
        .args([
            "--enable-dht=false",
            "--enable-dht6=false",
            "--bt-enable-lpd=false",
            "--enable-peer-exchange=false",
            "--disable-ipv6=true",
            "--interface=127.0.0.1",
            "--file-allocation=none",
            "--summary-interval=0",
            "--console-log-level=notice",
            "--no-conf=true",
        ])
        .args(extra)
        .arg(torrent);
    Proc::spawn("aria2c", &mut cmd, logdir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aria2_to_swarm_v1() {
    if !have_aria2() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let (tr, url) = tracker().await;
    let fx = fixture(d.path(), &url);
    let mut seed = aria2(
        &fx.torrent,
        &fx.src,
        free_port(),
        &["-V", "--bt-seed-unverified=false", "--seed-ratio=0.0"],
        d.path(),
    );
    // aria2 checked its data and told the tracker where it listens.
    wait_announced(&tr, &fx.info_hash, 1, Some(&mut seed)).await;
    swarm_leech_via_tracker(d.path(), &fx, &mut seed, "swarm from aria2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_to_aria2_v1() {
    if !have_aria2() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let (tr, url) = tracker().await;
    let fx = fixture(d.path(), &url);
    let (swarm, h) = swarm_seeder(d.path(), &fx).await;
    wait_announced(&tr, &fx.info_hash, 1, None).await;
    let out = d.path().join("aria2");
    // aria2 finds swarm through the tracker and exits once done.
    let mut get = aria2(&fx.torrent, &out, free_port(), &["--seed-time=0"], d.path());
    let st = get.wait_exit(TRANSFER_LIMIT).await;
    assert!(st.success(), "aria2c failed ({st}):\n{}", get.log());
    assert_collection(&out, &fx.files, "aria2 from swarm");
    assert!(h.progress().uploaded > 0, "swarm uploaded nothing");
    swarm.shutdown().await;
}

// ---------------------------------------------------------- Transmission

fn have_transmission() -> bool {
    require("transmission-daemon", &["transmission-daemon", "--version"])
        && require("transmission-remote", &["transmission-remote", "--version"])
}

/// A private transmission-daemon: its own config folder, ports on
/// 127.0.0.1, no DHT, LPD, PEX, uTP or port mapping. Killed on drop.
struct Transmission {
    proc: Proc,
    rpc: String,
    peer: SocketAddr,
}

impl Transmission {
    async fn start(dir: &Path, logdir: &Path) -> Transmission {
        let conf = dir.join("transmission");
        std::fs::create_dir_all(&conf).unwrap();
        let (rpc_port, peer_port) = (free_port(), free_port());
        let settings = serde_json::json!({
            "dht-enabled": false, "lpd-enabled": false, "pex-enabled": false,
            "utp-enabled": false, "port-forwarding-enabled": false,
            "peer-port": peer_port, "peer-port-random-on-start": false,
            "bind-address-ipv4": "127.0.0.1", "bind-address-ipv6": "::1",
            "rpc-port": rpc_port, "rpc-bind-address": "127.0.0.1",
            "rpc-authentication-required": false, "rpc-whitelist-enabled": true,
            "rpc-whitelist": "127.0.0.1", "rpc-host-whitelist-enabled": false,
            "encryption": 0, "blocklist-enabled": false, "watch-dir-enabled": false,
            "download-dir": dir.join("transmission-dl"), "incomplete-dir-enabled": false,
            "rename-partial-files": false, "start-added-torrents": true,
            "ratio-limit-enabled": false, "idle-seeding-limit-enabled": false,
            "cache-size-mb": 0, "message-level": 2,
        });
        std::fs::write(conf.join("settings.json"), settings.to_string()).unwrap();
        let mut cmd = Command::new("transmission-daemon");
        cmd.arg("-f").arg("-g").arg(&conf);
        let mut t = Transmission {
            proc: Proc::spawn("transmission-daemon", &mut cmd, logdir),
            rpc: format!("127.0.0.1:{rpc_port}"),
            peer: SocketAddr::from(([127, 0, 0, 1], peer_port)),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while t.try_remote(&["-l"]).is_err() {
            t.proc.assert_running();
            assert!(
                Instant::now() < deadline,
                "transmission RPC never answered:\n{}",
                t.proc.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        t
    }

    /// Runs transmission-remote (bounded by coreutils `timeout`).
    fn try_remote(&self, args: &[&str]) -> Result<String, String> {
        let o = Command::new("timeout")
            .arg("20")
            .arg("transmission-remote")
            .arg(&self.rpc)
            .args(args)
            .output()
            .map_err(|e| format!("transmission-remote: {e}"))?;
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        if o.status.success() {
            Ok(out)
        } else {
            Err(format!(
                "transmission-remote {args:?} failed: {out}{}",
                String::from_utf8_lossy(&o.stderr)
            ))
        }
    }

    fn remote(&self, args: &[&str]) -> String {
        self.try_remote(args)
            .unwrap_or_else(|e| panic!("{e}\n{}", self.proc.log()))
    }

    /// Adds a .torrent whose data is (or goes) under `dir`.
    fn add(&self, torrent: &Path, dir: &Path) {
        let out = self.remote(&["-a", torrent.to_str().unwrap(), "-w", dir.to_str().unwrap()]);
        assert!(out.contains("success"), "adding the torrent: {out}");
    }

    /// The torrent's "Percent Done" (0..=100), if listed.
    fn percent_done(&self) -> Option<f64> {
        let info = self.remote(&["-t", "all", "-i"]);
        info.lines()
            .find_map(|l| l.trim().strip_prefix("Percent Done:"))
            .and_then(|v| v.trim().trim_end_matches('%').parse().ok())
    }

    /// Waits until the torrent is 100% done, calling `each` between polls.
    async fn wait_done(&mut self, mut each: impl FnMut()) {
        let deadline = Instant::now() + TRANSFER_LIMIT;
        loop {
            self.proc.assert_running();
            if self.percent_done() == Some(100.0) {
                return;
            }
            if Instant::now() > deadline {
                let info = self.try_remote(&["-t", "all", "-i"]).unwrap_or_default();
                panic!(
                    "transmission not done in {TRANSFER_LIMIT:?}:\n{info}\n{}",
                    self.proc.log()
                );
            }
            each();
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transmission_to_swarm_v1() {
    if !have_transmission() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let (tr, url) = tracker().await;
    let fx = fixture(d.path(), &url);
    let mut tm = Transmission::start(d.path(), d.path()).await;
    tm.add(&fx.torrent, &fx.src);
    // Checked its data (100%) and announced where it listens.
    tm.wait_done(|| {}).await;
    wait_announced(&tr, &fx.info_hash, 1, Some(&mut tm.proc)).await;
    swarm_leech_via_tracker(d.path(), &fx, &mut tm.proc, "swarm from Transmission").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_to_transmission_v1() {
    if !have_transmission() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let (tr, url) = tracker().await;
    let fx = fixture(d.path(), &url);
    let (swarm, h) = swarm_seeder(d.path(), &fx).await;
    let mut tm = Transmission::start(d.path(), d.path()).await;
    let out = d.path().join("transmission-dl");
    tm.add(&fx.torrent, &out);
    // Both are on the tracker, but Transmission will not dial 127.0.0.1:
    // the seeder dials Transmission.
    wait_announced(&tr, &fx.info_hash, 2, Some(&mut tm.proc)).await;
    let peer = PeerAddr::Tcp(tm.peer);
    let handle = tokio::runtime::Handle::current();
    let mut last_dial: Option<Instant> = None;
    tm.wait_done(|| {
        let idle = h.progress().peers == 0;
        if idle && last_dial.is_none_or(|t| t.elapsed() > Duration::from_secs(1)) {
            last_dial = Some(Instant::now());
            let h = h.clone();
            handle.spawn(async move { h.add_peer(peer).await });
        }
    })
    .await;
    // Transmission 3.00 never creates empty files: check the others.
    let files: Vec<_> = fx
        .files
        .iter()
        .filter(|f| !f.1.is_empty())
        .cloned()
        .collect();
    assert!(
        files.len() < fx.files.len(),
        "the collection has an empty file"
    );
    // 100% done means verified; the bytes must be on disk.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline
        && files
            .iter()
            .any(|(p, b)| std::fs::read(out.join(p)).ok().as_ref() != Some(b))
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_collection(&out, &files, "Transmission from swarm");
    assert!(h.progress().uploaded > 0, "swarm uploaded nothing");
    swarm.shutdown().await;
}
