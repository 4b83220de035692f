//! A LAN made of Linux network namespaces: three hosts on one bridge,
//! addresses in 10.99.0.0/24 only inside the namespaces, no default
//! route, a multicast route on each host.
//!
//! ```text
//!   ns <p>-a (10.99.0.1) ─┐
//!   ns <p>-b (10.99.0.2) ─┼─ br0 in ns <p>-br
//!   ns <p>-c (10.99.0.3) ─┘
//! ```
//!
//! Hosts run either the real `swarm` binary or this test binary re-run
//! as a helper "role" (`SWARM_NETNS_ROLE`, see [`netns_role`]) that
//! exercises the discovery code alone (mDNS presence + catalogue + LSD).
//!
//! Needs root and `ip netns`. Without them the tests fail, unless
//! `SWARM_SKIP_NETNS=1` is set, in which case they are skipped with a
//! message. Namespaces are removed on drop, also when a test fails.

#[path = "../../tests/support/netns.rs"]
mod netns;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use netns::{require_netns, Lan, Proc, ROLE_ENV};

fn swarm_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_swarm"))
}

fn stdout_json(lines: &[String]) -> serde_json::Value {
    let l = lines
        .iter()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON in output:\n{}", lines.join("\n")));
    serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON {l}: {e}"))
}

/// Helper role run inside a namespace by the tests below (a no-op when
/// run normally). `SWARM_NETNS_ROLE=share:<name>:<40 hex>:<tcp port>`
/// serves a catalogue with that one share on the port, advertises it by
/// mDNS and announces it by LSD; prints `READY`, then `HINT <hash> <addr>`
/// for each LSD hint heard, until stdin closes or 60 s pass.
#[test]
fn netns_role() {
    let Ok(role) = std::env::var(ROLE_ENV) else {
        return;
    };
    let parts: Vec<&str> = role.split(':').collect();
    assert_eq!(parts.len(), 4, "bad role {role}");
    assert_eq!(parts[0], "share");
    let name = parts[1].to_string();
    let hash = piece_core::types::InfoHashV1::from_hex(parts[2]).expect("hash");
    let port: u16 = parts[3].parse().expect("port");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        use swarm::discovery::catalogue;
        use swarm::discovery::presence::{Presence, PresenceConfig};
        let ih = piece_core::types::InfoHashes {
            v1: Some(hash),
            v2: None,
        };
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let mut cfg = PresenceConfig::new(name.clone(), port);
        // re-announce often so late joiners hear us within the test
        cfg.lsd_interval = Duration::from_secs(1);
        let presence = std::sync::Arc::new(Presence::start(cfg, tx));
        assert!(presence.mdns_instance().is_some() && presence.lsd_running());
        assert!(presence.add_share(catalogue::Share::new(name, 1000, 1, ih)));
        let l = tokio::net::TcpListener::bind(("0.0.0.0", port))
            .await
            .unwrap();
        let p2 = presence.clone();
        tokio::spawn(async move {
            // stands in for the session's listener: read the handshake,
            // route the catalogue pseudo-hash
            while let Ok((mut s, _)) = l.accept().await {
                use tokio::io::AsyncReadExt;
                let mut hs = [0u8; 68];
                if s.read_exact(&mut hs).await.is_ok() && hs[28..48] == catalogue::CATALOGUE_HASH {
                    let _ = p2.serve_catalogue(&mut s, &[2; 20]).await;
                }
            }
        });
        println!("READY");
        let stdin_closed = tokio::task::spawn_blocking(|| {
            let mut s = String::new();
            while std::io::stdin()
                .read_line(&mut s)
                .map(|n| n > 0)
                .unwrap_or(false)
            {
                s.clear();
            }
        });
        let stop = tokio::time::sleep(Duration::from_secs(60));
        tokio::pin!(stop, stdin_closed);
        loop {
            tokio::select! {
                Some(h) = rx.recv() => println!("HINT {} {}", hex::encode(h.info_hash), h.addr),
                _ = &mut stop => break,
                _ = &mut stdin_closed => break,
            }
        }
    });
}

fn role_proc(lan: &Lan, i: usize, name: &str, hash: &str, port: u16) -> Proc {
    let me = std::env::current_exe().unwrap();
    lan.spawn(
        i,
        &me,
        &["--exact", "netns_role", "--nocapture", "--test-threads=1"],
        &[(ROLE_ENV, format!("share:{name}:{hash}:{port}"))],
    )
}

/// Discovery alone: A and C offer the same share; B lists the LAN with
/// the real `swarm ls` and sees it once with two peers; A and C hear each
/// other's LSD announces.
#[test]
fn lan_discovery_in_namespaces() {
    if std::env::var(ROLE_ENV).is_ok() || !require_netns() {
        return;
    }
    let lan = Lan::new(3);
    let hash = hex::encode(rand::random::<[u8; 20]>());
    let mut a = role_proc(&lan, 0, "zines", &hash, 6881);
    let mut c = role_proc(&lan, 2, "zines", &hash, 6881);
    let t = Duration::from_secs(20);
    a.wait_line("READY", t, |l| l.ends_with("READY"));
    c.wait_line("READY", t, |l| l.ends_with("READY"));

    let ls = lan.spawn(1, swarm_bin(), &["ls", "--json", "--timeout", "4"], &[]);
    let (ok, out) = ls.finish(Duration::from_secs(20));
    assert!(ok, "swarm ls failed:\n{}", out.join("\n"));
    let v = stdout_json(&out);
    let shares = v["shares"].as_array().unwrap();
    assert_eq!(shares.len(), 1, "{v}");
    assert_eq!(shares[0]["name"], "zines");
    assert_eq!(shares[0]["btih"], hash.as_str());
    assert_eq!(shares[0]["peers"], 2, "{v}");
    let mut addrs: Vec<&str> = shares[0]["addrs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    addrs.sort();
    assert_eq!(addrs, vec!["10.99.0.1:6881", "10.99.0.3:6881"]);

    // LSD: each sharer hears the other (never itself).
    let from_c = format!("HINT {hash} {}:6881", Lan::ip(2));
    let from_a = format!("HINT {hash} {}:6881", Lan::ip(0));
    a.wait_line("LSD hint from C", t, |l| l == from_c);
    c.wait_line("LSD hint from A", t, |l| l == from_a);
    assert!(!a.seen.iter().any(|l| l == &from_a), "A heard itself");
}

/// `swarm ls` on a LAN where nobody shares: empty, exit 0, within its
/// timeout.
#[test]
fn empty_lan_lists_nothing() {
    if std::env::var(ROLE_ENV).is_ok() || !require_netns() {
        return;
    }
    let lan = Lan::new(1);
    let t0 = Instant::now();
    let ls = lan.spawn(0, swarm_bin(), &["ls", "--json", "--timeout", "1"], &[]);
    let (ok, out) = ls.finish(Duration::from_secs(15));
    assert!(ok);
    assert_eq!(
        stdout_json(&out)["shares"].as_array().map(Vec::len),
        Some(0)
    );
    assert!(t0.elapsed() < Duration::from_secs(15));
}

fn libtorrent_python() -> Option<&'static Path> {
    let py = Path::new("/usr/bin/python3");
    let ok = Command::new(py)
        .args(["-c", "import libtorrent"])
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    ok.then_some(py)
}

/// BEP 14 interop with libtorrent: our LSD and libtorrent's, in two
/// namespaces, hear each other's announces for the same info-hash.
#[test]
fn libtorrent_lsd_interop() {
    if std::env::var(ROLE_ENV).is_ok() || !require_netns() {
        return;
    }
    let Some(py) = libtorrent_python() else {
        eprintln!("SKIPPED: python3-libtorrent not installed");
        return;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/netns-lt-lsd.py");
    let lan = Lan::new(2);
    let hash = hex::encode(rand::random::<[u8; 20]>());
    let t = Duration::from_secs(30);
    let mut lt = lan.spawn(1, py, &[script, "probe", &hash, "6882"], &[]);
    lt.wait_line("libtorrent READY", t, |l| l.ends_with("READY"));
    let mut a = role_proc(&lan, 0, "zines", &hash, 6881);
    a.wait_line("READY", t, |l| l.ends_with("READY"));
    // libtorrent heard us ...
    lt.wait_line("libtorrent lsd_peer alert for us", t, |l| {
        l == "LSD_PEER 10.99.0.1:6881"
    });
    // ... and we heard libtorrent.
    let want = format!("HINT {hash} 10.99.0.2:6882");
    a.wait_line("LSD hint from libtorrent", t, |l| l == want);
}

/// Write the test collection: a few files with fixed pseudo-random bytes.
fn write_zines(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut x: u32 = 0x1234_5678;
    let mut bytes = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    };
    let files = vec![
        ("zines/issue-1.pdf".to_string(), bytes(300_000)),
        ("zines/notes/readme.txt".to_string(), bytes(20_000)),
        ("zines/tiny.txt".to_string(), bytes(1)),
    ];
    for (p, b) in &files {
        let p = root.join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b).unwrap();
    }
    files
}

/// The whole story with the real binary: A shares ./zines, C shares the
/// same data, B finds it by name with no address given and downloads it
/// from both, over QUIC. Needs `swarm share` / `swarm get NAME`
#[test]
fn share_and_get_by_name_in_namespaces() {
    if std::env::var(ROLE_ENV).is_ok() || !require_netns() {
        return;
    }
    let lan = Lan::new(3);
    let dir_a = tempfile::tempdir().unwrap();
    let dir_c = tempfile::tempdir().unwrap();
    let out_b = tempfile::tempdir().unwrap();
    let files = write_zines(dir_a.path());
    write_zines(dir_c.path());
    let t = Duration::from_secs(60);
    let zines_a = dir_a.path().join("zines");
    let zines_c = dir_c.path().join("zines");
    let mut a = lan.spawn(0, swarm_bin(), &["share", zines_a.to_str().unwrap()], &[]);
    let magnet_a = a.wait_line("magnet link from A", t, |l| l.contains("magnet:?"));
    let mut c = lan.spawn(2, swarm_bin(), &["share", zines_c.to_str().unwrap()], &[]);
    let magnet_c = c.wait_line("magnet link from C", t, |l| l.contains("magnet:?"));
    let xt = |m: &str| {
        let i = m.find("xt=urn:").unwrap_or(0);
        m[i..].split('&').next().unwrap_or("").to_string()
    };
    assert_eq!(
        xt(&magnet_a),
        xt(&magnet_c),
        "A and C must share the same torrent"
    );

    // B sees one share named "zines" offered by two peers.
    let deadline = Instant::now() + t;
    loop {
        let (ok, out) = lan
            .spawn(1, swarm_bin(), &["ls", "--json", "--timeout", "3"], &[])
            .finish(t);
        assert!(ok, "swarm ls failed:\n{}", out.join("\n"));
        let v = stdout_json(&out);
        let peers = v["shares"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["name"] == "zines"))
            .and_then(|s| s["peers"].as_u64());
        if peers == Some(2) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "B never saw zines from 2 peers: {v}"
        );
    }

    // B downloads it by name, no address given.
    let get = lan.spawn(
        1,
        swarm_bin(),
        &["get", "zines", "-o", out_b.path().to_str().unwrap()],
        &[],
    );
    let (ok, out) = get.finish(Duration::from_secs(120));
    assert!(ok, "swarm get zines failed:\n{}", out.join("\n"));
    // Both sharers put `quic=` in their mDNS TXT: B dials each over QUIC
    // first, and gets there. (The sharers may also dial B over TCP after
    // hearing its LSD announce; those links give way to QUIC.)
    let quic: Vec<&str> = out
        .iter()
        .filter_map(|l| l.split("trying quic://").nth(1))
        .map(|rest| rest.split(' ').next().unwrap_or(""))
        .collect();
    assert_eq!(quic.len(), 2, "{}", out.join("\n"));
    for q in quic {
        let line = format!("connected to {q} over QUIC");
        assert!(
            out.iter().any(|l| l.ends_with(&line)),
            "no `{line}`:\n{}",
            out.join("\n")
        );
    }
    for (p, want) in &files {
        let got = std::fs::read(out_b.path().join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
        assert!(got == *want, "{p} differs");
    }
    drop((a, c));
}

/// `swarm get nosuchname` on a LAN: exits non-zero with a clear message
/// within its timeout.
#[test]
fn get_unknown_name_fails_clearly() {
    if std::env::var(ROLE_ENV).is_ok() || !require_netns() {
        return;
    }
    let lan = Lan::new(1);
    let get = lan.spawn(0, swarm_bin(), &["get", "nosuchname"], &[]);
    let (ok, out) = get.finish(Duration::from_secs(60));
    assert!(!ok, "swarm get nosuchname succeeded");
    let msg = out.join("\n");
    assert!(
        msg.contains("nosuchname") && msg.contains("no share named"),
        "unclear message:\n{msg}"
    );
}

fn magnet_in(line: &str) -> String {
    let i = line
        .find("magnet:?")
        .unwrap_or_else(|| panic!("no magnet in {line:?}"));
    line[i..]
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// libtorrent finds `swarm share` by LSD alone (no tracker, no DHT, no
/// peer address) and downloads from it.
#[test]
fn libtorrent_downloads_from_swarm_share_via_lsd() {
    if std::env::var(ROLE_ENV).is_ok() || !require_netns() {
        return;
    }
    let Some(py) = libtorrent_python() else {
        eprintln!("SKIPPED: python3-libtorrent not installed");
        return;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/netns-lt-lsd.py");
    let lan = Lan::new(2);
    let src = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let files = write_zines(src.path());
    let zines = src.path().join("zines");
    let t = Duration::from_secs(60);
    let mut a = lan.spawn(0, swarm_bin(), &["share", zines.to_str().unwrap()], &[]);
    let magnet = magnet_in(&a.wait_line("magnet link", t, |l| l.contains("magnet:?")));
    let lt = lan.spawn(
        1,
        py,
        &[script, "get", &magnet, out.path().to_str().unwrap(), "6882"],
        &[],
    );
    let (ok, lines) = lt.finish(Duration::from_secs(130));
    assert!(
        ok && lines.iter().any(|l| l == "DONE"),
        "libtorrent did not finish:\n{}",
        lines.join("\n")
    );
    for (p, want) in &files {
        assert!(
            std::fs::read(out.path().join(p)).ok().as_ref() == Some(want),
            "{p} differs"
        );
    }
}

/// `swarm get MAGNET` finds a libtorrent seeder by LSD alone and
/// downloads from it.
#[test]
fn swarm_gets_from_libtorrent_via_lsd() {
    if std::env::var(ROLE_ENV).is_ok() || !require_netns() {
        return;
    }
    let Some(py) = libtorrent_python() else {
        eprintln!("SKIPPED: python3-libtorrent not installed");
        return;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/netns-lt-lsd.py");
    let lan = Lan::new(2);
    let src = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let files = write_zines(src.path());
    let zines = src.path().join("zines");
    let t = Duration::from_secs(60);
    let mut lt = lan.spawn(
        0,
        py,
        &[script, "seed", zines.to_str().unwrap(), "6881"],
        &[],
    );
    let magnet = magnet_in(&lt.wait_line("libtorrent magnet", t, |l| l.starts_with("MAGNET ")));
    lt.wait_line("libtorrent READY", t, |l| l.ends_with("READY"));
    let get = lan.spawn(
        1,
        swarm_bin(),
        &["get", &magnet, "-o", out.path().to_str().unwrap()],
        &[],
    );
    let (ok, lines) = get.finish(Duration::from_secs(130));
    assert!(ok, "swarm get failed:\n{}", lines.join("\n"));
    for (p, want) in &files {
        assert!(
            std::fs::read(out.path().join(p)).ok().as_ref() == Some(want),
            "{p} differs"
        );
    }
}
