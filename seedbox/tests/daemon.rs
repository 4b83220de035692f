//! The daemon on 127.0.0.1: the real `seedbox` binary publishing a
//! collection, `swarm get` downloading it, new versions on change, restarts
//! without rehashing, config errors; and two daemons in one process, one
//! mirroring the other.

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use swarm::discovery::catalogue;

mod support;
use support::{seedbox_bin, swarm_bin, tree, SeedboxProcess};

fn write_config(dir: &Path, collections: &[(&str, &Path)]) -> PathBuf {
    let mut text = String::from(
        "state_dir = \"state\"\n[network]\nlisten = \"127.0.0.1:0\"\nquic_listen = \"127.0.0.1:0\"\nannounce = false\n[web]\nlisten = \"127.0.0.1:0\"\n[limits]\nrescan_secs = 2\n",
    );
    for (name, path) in collections {
        text += &format!(
            "[[collection]]\nname = \"{name}\"\npath = \"{}\"\n",
            path.display()
        );
    }
    let p = dir.join("seedbox.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn sample(dir: &Path) {
    std::fs::create_dir_all(dir.join("poetry")).unwrap();
    std::fs::write(dir.join("welcome.txt"), b"Welcome to the infoshop.\n").unwrap();
    let pdf: Vec<u8> = (0..700_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(dir.join("poetry/long-poem.pdf"), pdf).unwrap();
    std::fs::write(dir.join("poetry/empty.txt"), b"").unwrap();
}

fn assert_same_tree(a: &Path, b: &Path) {
    assert_eq!(
        tree(a),
        tree(b),
        "{} and {} differ",
        a.display(),
        b.display()
    );
}

/// The newest signed version the daemon at `addr` lists for `name`:
/// (seq, key hex, magnet). Polls until `pred` holds (bounded).
fn wait_version(
    addr: SocketAddr,
    name: &str,
    timeout: Duration,
    pred: impl Fn(u64) -> bool,
) -> (u64, String, String) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let deadline = Instant::now() + timeout;
    loop {
        let cat = rt.block_on(catalogue::query(addr, Duration::from_secs(5)));
        if let Ok(cat) = &cat {
            if let Some((s, c)) = cat
                .shares
                .iter()
                .filter(|s| s.name == name)
                .filter_map(|s| s.collection.as_ref().map(|c| (s, c)))
                .max_by_key(|(_, c)| c.seq)
            {
                if pred(c.seq) {
                    return (c.seq, c.key.to_hex(), s.magnet.clone());
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "no matching version of {name} at {addr} within {timeout:?}: {cat:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn swarm_get(magnet: &str, peer: SocketAddr, out: &Path) {
    let o = Command::new(swarm_bin())
        .args(["get", magnet, "--peer", &peer.to_string(), "-o"])
        .arg(out)
        .env("XDG_STATE_HOME", out.join(".state"))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "swarm get failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let _ = std::fs::remove_dir_all(out.join(".state"));
}

#[test]
fn swarm_get_downloads_a_collection_and_changes_make_signed_new_versions() {
    let d = tempfile::tempdir().unwrap();
    let zines = d.path().join("zines-folder");
    sample(&zines);
    let cfg = write_config(d.path(), &[("zines", &zines)]);
    let mut sb = SeedboxProcess::start(&cfg);
    let addr = sb.tcp_addr();
    let key = sb.wait_for("publisher key: ", Duration::from_secs(10));
    let key = key.rsplit(' ').next().unwrap().to_string();

    let (seq, k, magnet) = wait_version(addr, "zines", Duration::from_secs(30), |_| true);
    assert_eq!((seq, k.as_str()), (1, key.as_str()));

    // The web page of the real daemon: status, a download by id, the .torrent.
    let web = sb.web_url();
    let status: serde_json::Value = ureq::get(&format!("{web}/admin/api/status"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(status["collections"][0]["name"], "zines");
    assert_eq!(status["collections"][0]["seq"], 1);
    assert_eq!(status["collections"][0]["key"], key.as_str());
    let id = seedbox::shared::file_id("poetry/long-poem.pdf");
    let page = ureq::get(&format!("{web}/c/zines"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(page.contains(&format!("/c/zines/f/{id}")), "{page}");
    let mut body = Vec::new();
    ureq::get(&format!("{web}/c/zines/f/{id}"))
        .call()
        .unwrap()
        .into_reader()
        .read_to_end(&mut body)
        .unwrap();
    assert_eq!(
        body,
        std::fs::read(zines.join("poetry/long-poem.pdf")).unwrap()
    );
    let mut t = Vec::new();
    ureq::get(&format!("{web}/c/zines.torrent"))
        .call()
        .unwrap()
        .into_reader()
        .read_to_end(&mut t)
        .unwrap();
    let meta = piece_core::metainfo::Metainfo::from_bytes(&t).unwrap();
    assert_eq!(
        meta.magnet().split("&dn").next(),
        magnet.split("&dn").next()
    );

    let dl = d.path().join("dl1");
    swarm_get(&magnet, addr, &dl);
    // The torrent is named after the collection, whatever the folder is called.
    assert_same_tree(&zines, &dl.join("zines"));

    // A new file: a new version, signed with the same key, within seconds.
    std::fs::write(zines.join("poetry/new-zine.txt"), b"fresh off the press\n").unwrap();
    let (seq, k, magnet2) = wait_version(addr, "zines", Duration::from_secs(30), |s| s >= 2);
    assert_eq!((seq, k.as_str()), (2, key.as_str()));
    assert_ne!(magnet, magnet2);
    let dl = d.path().join("dl2");
    swarm_get(&magnet2, addr, &dl);
    assert_same_tree(&zines, &dl.join("zines"));

    // A removed file too.
    std::fs::remove_file(zines.join("welcome.txt")).unwrap();
    let (seq, _, _) = wait_version(addr, "zines", Duration::from_secs(30), |s| s >= 3);
    assert_eq!(seq, 3);
    sb.stop();
}

#[test]
fn restart_reuses_the_version_without_rehashing_and_rechecks_changes() {
    let d = tempfile::tempdir().unwrap();
    let zines = d.path().join("zines");
    sample(&zines);
    let cfg = write_config(d.path(), &[("zines", &zines)]);
    let mut sb = SeedboxProcess::start(&cfg);
    let addr = sb.tcp_addr();
    let (_, _, magnet) = wait_version(addr, "zines", Duration::from_secs(30), |_| true);
    sb.wait_for("version 1 published", Duration::from_secs(10));
    sb.stop();

    // Unchanged: the same version comes back without reading the files.
    let mut sb = SeedboxProcess::start(&cfg);
    let addr = sb.tcp_addr();
    sb.wait_for("version 1 seeding again", Duration::from_secs(30));
    let (seq, _, m) = wait_version(addr, "zines", Duration::from_secs(30), |_| true);
    assert_eq!((seq, m.as_str()), (1, magnet.as_str()));
    let dl = d.path().join("dl");
    swarm_get(&magnet, addr, &dl);
    assert_same_tree(&zines, &dl.join("zines"));
    sb.stop();

    // Touched while down (new mtime, same bytes): rechecked, same version.
    let p = zines.join("poetry/long-poem.pdf");
    let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
    f.set_modified(std::time::SystemTime::now() + Duration::from_secs(5))
        .unwrap();
    drop(f);
    let mut sb = SeedboxProcess::start(&cfg);
    let addr = sb.tcp_addr();
    sb.wait_for("files changed since version 1", Duration::from_secs(30));
    sb.wait_for(
        "version 1 seeding again after a recheck",
        Duration::from_secs(30),
    );
    let (seq, _, m) = wait_version(addr, "zines", Duration::from_secs(30), |_| true);
    assert_eq!((seq, m.as_str()), (1, magnet.as_str()));
    sb.stop();

    // Changed while down (same size, new bytes): a new version, and the
    // old one's bytes are never served as the new.
    let p = zines.join("poetry/long-poem.pdf");
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[12345] ^= 0xff;
    std::fs::write(&p, &bytes).unwrap();
    let mut sb = SeedboxProcess::start(&cfg);
    let addr = sb.tcp_addr();
    sb.wait_for("files changed since version 1", Duration::from_secs(30));
    let (seq, _, m2) = wait_version(addr, "zines", Duration::from_secs(30), |s| s >= 2);
    assert_eq!(seq, 2);
    let dl = d.path().join("dl2");
    swarm_get(&m2, addr, &dl);
    assert_same_tree(&zines, &dl.join("zines"));
    sb.stop();
}

#[test]
fn config_errors_name_the_line() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("seedbox.toml");
    std::fs::write(&p, "state_dir = \"s\"\n\n[limits]\nmax_peers = \"many\"\n").unwrap();
    let o = Command::new(seedbox_bin())
        .args(["check", "--config"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("seedbox.toml:4:"), "{err}");

    // init writes a config that names its problems too, and won't overwrite.
    let q = d.path().join("new.toml");
    let o = Command::new(seedbox_bin())
        .args(["init", "--config"])
        .arg(&q)
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(std::fs::read_to_string(&q)
        .unwrap()
        .contains("[[collection]]"));
    let o = Command::new(seedbox_bin())
        .args(["init", "--config"])
        .arg(&q)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let o = Command::new(seedbox_bin())
        .args(["run", "--config"])
        .arg(&q)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("new.toml:") && err.contains("not a folder"),
        "{err}"
    );
}
