//! swarm <-> libtorrent (python3-libtorrent 2.0), driven by
//! `tests/support/lt_tool.py`: explicit peers, TCP only, no DHT, LSD,
//! UPnP, NAT-PMP or uTP.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use piece_core::create::{create_torrent, CreateOptions};
use piece_core::metainfo::Version;
use swarm::net::PeerAddr;
use swarm::session::{AddOptions, Session};

use super::{
    assert_collection, require, swarm_config, swarm_seed, swarm_wait_complete, write_collection,
    Proc, PYTHON, TRANSFER_LIMIT,
};

const PIECE: u32 = 65536;

fn lt_tool() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/lt_tool.py")
}

pub(super) fn have_libtorrent() -> bool {
    require(
        "python3-libtorrent (/usr/bin/python3 -c 'import libtorrent')",
        &[PYTHON, "-c", "import libtorrent"],
    )
}

/// libtorrent makes a .torrent of `path` (`kind`: v1, v2 or hybrid).
fn lt_make(path: &Path, out: &Path, kind: &str) {
    let o = Command::new(PYTHON)
        .arg(lt_tool())
        .arg("make")
        .arg(path)
        .arg(out)
        .arg(kind)
        .arg(PIECE.to_string())
        .output()
        .expect("run lt_tool.py make");
    assert!(
        o.status.success(),
        "lt_tool.py make failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A libtorrent seeder of `torrent` over the data in `save`: its address
/// and magnet link, once it has checked the data.
pub(super) async fn lt_seed(
    torrent: &Path,
    save: &Path,
    logdir: &Path,
) -> (Proc, SocketAddr, String) {
    let mut cmd = Command::new(PYTHON);
    cmd.arg(lt_tool()).arg("seed").arg(torrent).arg(save);
    let mut p = Proc::spawn("libtorrent-seed", &mut cmd, logdir);
    let limit = Duration::from_secs(60);
    let magnet = p
        .wait_line("MAGNET line", limit, |l| l.starts_with("MAGNET "))
        .await;
    let ready = p
        .wait_line("READY line", limit, |l| l.starts_with("READY "))
        .await;
    let port: u16 = ready[6..].trim().parse().expect("READY <port>");
    let magnet = magnet["MAGNET ".len()..].trim().to_string();
    (p, SocketAddr::from(([127, 0, 0, 1], port)), magnet)
}

/// A libtorrent leecher of `src` (a .torrent path or a magnet link) into
/// `save`, from `peer` only.
fn lt_get(src: &str, save: &Path, peer: SocketAddr, logdir: &Path) -> Proc {
    let mut cmd = Command::new(PYTHON);
    cmd.arg(lt_tool())
        .arg("get")
        .arg(src)
        .arg(save)
        .arg(peer.to_string())
        .arg(TRANSFER_LIMIT.as_secs().to_string());
    Proc::spawn("libtorrent-get", &mut cmd, logdir)
}

/// Waits for a libtorrent leecher to finish and say DONE.
async fn lt_finish(lt: &mut Proc) {
    lt.wait_success(TRANSFER_LIMIT + Duration::from_secs(10))
        .await;
    lt.wait_line("DONE", Duration::from_secs(1), |l| l == "DONE")
        .await;
}

/// libtorrent makes the torrent and seeds it; swarm downloads it from the
/// .torrent file, or from the magnet link alone (BEP 9).
async fn libtorrent_seeds_swarm_gets(kind: &str, magnet_only: bool) {
    if !have_libtorrent() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    let files = write_collection(&src, "zines");
    let tfile = d.path().join("lt.torrent");
    lt_make(&src.join("zines"), &tfile, kind);
    let (mut seed, addr, magnet) = lt_seed(&tfile, &src, d.path()).await;
    if kind == "v1" {
        assert!(
            magnet.contains("btih") && !magnet.contains("btmh"),
            "{magnet}"
        );
    } else {
        assert!(magnet.contains("btmh"), "{magnet}");
    }
    let swarm = Session::new(swarm_config(&d.path().join("swarm")))
        .await
        .unwrap();
    let opts = AddOptions {
        peers: vec![PeerAddr::Tcp(addr)],
        ..Default::default()
    };
    let h = if magnet_only {
        swarm.add_magnet(&magnet, opts).await.unwrap()
    } else {
        swarm.add_torrent_file(&tfile, opts).await.unwrap()
    };
    swarm_wait_complete(&h, Some(addr), &mut [&mut seed]).await;
    assert_collection(&d.path().join("swarm/dl"), &files, "swarm from libtorrent");
    swarm.shutdown().await;
}

/// swarm makes the torrent (piece-core) and seeds it; libtorrent downloads
/// it from the .torrent file, or from the magnet link alone.
async fn swarm_seeds_libtorrent_gets(version: Version, magnet_only: bool) {
    if !have_libtorrent() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    let files = write_collection(&src, "zines");
    let opts = CreateOptions {
        version,
        piece_length: Some(PIECE),
        ..Default::default()
    };
    let t = create_torrent(&src.join("zines"), &opts, None).unwrap();
    let tfile = d.path().join("swarm.torrent");
    std::fs::write(&tfile, &t.bytes).unwrap();
    let (swarm, h) = swarm_seed(&d.path().join("swarm"), &t.bytes, &src).await;
    let addr = swarm.tcp_addr().unwrap();
    let out = d.path().join("lt");
    let source = if magnet_only {
        h.magnet()
    } else {
        tfile.to_str().unwrap().to_string()
    };
    let mut lt = lt_get(&source, &out, addr, d.path());
    lt_finish(&mut lt).await;
    assert_collection(&out, &files, "libtorrent from swarm");
    assert!(h.progress().uploaded > 0, "swarm uploaded nothing");
    swarm.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libtorrent_to_swarm_v1() {
    libtorrent_seeds_swarm_gets("v1", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libtorrent_to_swarm_v2() {
    libtorrent_seeds_swarm_gets("v2", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libtorrent_to_swarm_hybrid() {
    libtorrent_seeds_swarm_gets("hybrid", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_to_libtorrent_v1() {
    swarm_seeds_libtorrent_gets(Version::V1, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_to_libtorrent_v2() {
    swarm_seeds_libtorrent_gets(Version::V2, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_to_libtorrent_hybrid() {
    swarm_seeds_libtorrent_gets(Version::Hybrid, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magnet_libtorrent_to_swarm_v1() {
    libtorrent_seeds_swarm_gets("v1", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magnet_libtorrent_to_swarm_v2() {
    libtorrent_seeds_swarm_gets("v2", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magnet_libtorrent_to_swarm_hybrid() {
    libtorrent_seeds_swarm_gets("hybrid", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magnet_swarm_to_libtorrent_v1() {
    swarm_seeds_libtorrent_gets(Version::V1, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magnet_swarm_to_libtorrent_hybrid() {
    swarm_seeds_libtorrent_gets(Version::Hybrid, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magnet_swarm_to_libtorrent_v2() {
    swarm_seeds_libtorrent_gets(Version::V2, true).await;
}
