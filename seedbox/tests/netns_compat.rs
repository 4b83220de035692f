//! Issue 15 §3: Transmission 3.00 and aria2 1.36 (the Debian 12 / Pi OS
//! versions) cannot use the collection's hybrid .torrent, so the patron
//! page offers a v1-only one beside it (`/c/NAME.v1.torrent`, see
//! `seedbox::compat`), which the seedbox seeds too. Here a patron's laptop
//! (10.99.0.2) takes that file from the page of a seedbox (10.99.0.1) and
//! downloads the collection with each client, peers found on the LAN by
//! BEP 14 alone (no tracker); the bytes are compared.
//!
//! Needs root and `ip netns` (else fails unless `SWARM_SKIP_NETNS=1`) and
//! the reference clients (else fails unless `SWARM_SKIP_INTEROP=1`).

#[path = "../../swarm/tests/support/netns.rs"]
mod netns;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use netns::{require_netns, Lan};

mod support;
use support::{seedbox_bin, tree};

/// Is `probe` runnable? If not, skip with `SWARM_SKIP_INTEROP=1`, else fail.
fn require(probe: &[&str]) -> bool {
    let ok = Command::new(probe[0])
        .args(&probe[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok && std::env::var("SWARM_SKIP_INTEROP").as_deref() == Ok("1") {
        eprintln!("SKIPPED: {} is not installed", probe[0]);
        return false;
    }
    assert!(
        ok,
        "{} is not installed; run scripts/install-deps.sh or set SWARM_SKIP_INTEROP=1",
        probe[0]
    );
    true
}

/// `tree(dir)` without the BEP 47 pad files that clients which ignore
/// them write into `.pad/`; empty while `dir` does not exist.
fn data_tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    if !dir.is_dir() {
        return Vec::new();
    }
    let mut t = tree(dir);
    t.retain(|(p, _)| !p.starts_with(".pad/"));
    t
}

/// The collection: nested folders, a file of several pieces and small ones.
fn collection(lib: &Path) {
    std::fs::create_dir_all(lib.join("issues/2024")).unwrap();
    let big: Vec<u8> = (0..1_500_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(lib.join("issues/2024/anthology.pdf"), big).unwrap();
    std::fs::write(lib.join("issues/flyer.txt"), b"saturday: zine fair\n").unwrap();
    std::fs::write(lib.join("index.txt"), b"zines of the infoshop\n").unwrap();
}

fn seedbox_config(dir: &Path, lib: &Path) -> PathBuf {
    let p = dir.join("seedbox.toml");
    std::fs::write(
        &p,
        format!(
            "state_dir = \"state\"\n[network]\nlisten = \"0.0.0.0:6881\"\nquic_listen = \"0.0.0.0:6881\"\n\
             announce = true\n[web]\nlisten = \"0.0.0.0:8080\"\n[[collection]]\nname = \"zines\"\npath = \"{}\"\n",
            lib.display()
        ),
    )
    .unwrap();
    p
}

#[test]
fn transmission_and_aria2_download_a_collection_with_the_v1_torrent() {
    if !require_netns()
        || !require(&["aria2c", "--version"])
        || !require(&["transmission-cli", "--version"])
        || !require(&["curl", "--version"])
    {
        return;
    }
    let lan = Lan::new(2);
    let work = tempfile::tempdir().unwrap();
    let shop = work.path().join("shop");
    let lib = shop.join("zines");
    collection(&lib);
    let cfg = seedbox_config(&shop, &lib);
    let cfg_s = cfg.to_string_lossy().into_owned();
    let mut sb = lan.spawn(
        0,
        seedbox_bin(),
        &["run", "--config", &cfg_s],
        &[("RUST_LOG", "info".to_string())],
    );
    sb.wait_line("version 1 published", Duration::from_secs(60), |l| {
        l.contains("collection zines: version 1 published")
    });

    // Both files, from the page, as a patron's browser gets them.
    let laptop = work.path().join("laptop");
    std::fs::create_dir_all(&laptop).unwrap();
    let fetch = |what: &str| -> PathBuf {
        let to = laptop.join(what);
        let url = format!("http://{}:8080/c/{what}", Lan::ip(0));
        let to_s = to.to_string_lossy().into_owned();
        // (the page lists the version a moment after the log line)
        for attempt in 1.. {
            let curl = lan.spawn(1, Path::new("curl"), &["-sSf", "-o", &to_s, &url], &[]);
            let (ok, out) = curl.finish(Duration::from_secs(30));
            if ok {
                break;
            }
            assert!(attempt < 30, "curl {url}: {out:?}");
            std::thread::sleep(Duration::from_secs(1));
        }
        to
    };
    let hybrid = fetch("zines.torrent");
    let v1 = fetch("zines.v1.torrent");
    // The companion is seeded once its .torrent was asked for.
    sb.wait_line("v1 .torrent seeded", Duration::from_secs(60), |l| {
        l.contains("collection zines: v1 .torrent seeded")
    });
    // Why the second file exists: Transmission 3.00 cannot parse the
    // hybrid (its empty `file tree` keys); the v1 one it reads.
    let show = |t: &Path| {
        Command::new("transmission-show")
            .arg(t)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    eprintln!(
        "transmission-show, hybrid: {}",
        show(&hybrid).lines().next().unwrap_or("")
    );
    assert!(show(&v1).contains("Name: zines"), "{}", show(&v1));
    let v1_s = v1.to_string_lossy().into_owned();
    let want = data_tree(&lib);

    // aria2 exits once it has everything (--seed-time=0).
    let out = laptop.join("aria2");
    let out_s = out.to_string_lossy().into_owned();
    let aria = lan.spawn(
        1,
        Path::new("aria2c"),
        &[
            "--bt-enable-lpd=true",
            "--enable-dht=false",
            "--seed-time=0",
            "--listen-port=6882",
            "--summary-interval=0",
            "--console-log-level=warn",
            "--dir",
            &out_s,
            &v1_s,
        ],
        &[],
    );
    let (ok, lines) = aria.finish(Duration::from_secs(180));
    assert!(ok, "aria2c failed: {lines:?}");
    assert_eq!(data_tree(&out.join("zines")), want, "aria2's copy");

    // Transmission seeds on after finishing: wait (bounded) for the bytes.
    let conf = laptop.join("transmission-conf");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(
        conf.join("settings.json"),
        r#"{"lpd-enabled": true, "dht-enabled": false, "pex-enabled": false,
            "utp-enabled": false, "port-forwarding-enabled": false,
            "rename-partial-files": false}"#,
    )
    .unwrap();
    let out = laptop.join("transmission");
    let (conf_s, out_s) = (
        conf.to_string_lossy().into_owned(),
        out.to_string_lossy().into_owned(),
    );
    let _tr = lan.spawn(
        1,
        Path::new("transmission-cli"),
        &["-g", &conf_s, "-w", &out_s, "-p", "51413", &v1_s],
        &[],
    );
    let deadline = Instant::now() + Duration::from_secs(180);
    while data_tree(&out.join("zines")) != want {
        assert!(
            Instant::now() < deadline,
            "Transmission did not get the collection; it has {:?}",
            data_tree(&out.join("zines"))
                .iter()
                .map(|(p, b)| (p, b.len()))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}
