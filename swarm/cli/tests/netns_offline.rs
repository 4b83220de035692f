//! The offline guarantee: with no tracker and no DHT configured, `swarm
//! share` and `swarm get` send nothing beyond the LAN.
//!
//! Two hosts on a namespace LAN (10.99.0.0/24 and multicast on `eth0`),
//! each with a default route through `wan0`, a veth to a sink namespace
//! (a gateway address with a fixed neighbour entry, so packets go out
//! without ARP): every packet for anywhere else leaves through it and is
//! counted in its TX counter. A
//! whole share / find-by-name / download runs; then the counters must be
//! zero. One ping to a TEST-NET address afterwards shows the counter does
//! count.

#[path = "../../tests/support/netns.rs"]
mod netns;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use netns::{require_netns, sh, Lan, ROLE_ENV};

fn swarm_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_swarm"))
}

/// Packets sent through `wan0` in namespace `ns`.
fn wan_tx(ns: &str) -> u64 {
    let out = Command::new("ip")
        .args(["-n", ns, "-s", "-j", "link", "show", "dev", "wan0"])
        .output()
        .expect("ip -s link");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("ip -j output: {e}: {:?}", out));
    v[0]["stats64"]["tx"]["packets"]
        .as_u64()
        .unwrap_or_else(|| panic!("no tx counter in {v}"))
}

#[test]
fn share_and_get_send_nothing_beyond_the_lan() {
    if std::env::var(ROLE_ENV).is_ok() || !require_netns() {
        return;
    }
    let lan = Lan::new(2);
    let sink = Sink(format!("{}-wan", lan.prefix));
    sh(&["ip", "netns", "add", &sink.0]).unwrap_or_else(|e| panic!("{e}"));
    for (i, h) in lan.hosts.iter().enumerate() {
        let peer = format!("w{i}");
        for cmd in [
            &[
                "ip", "-n", h, "link", "add", "wan0", "type", "veth", "peer", "name", &peer,
                "netns", &sink.0,
            ][..],
            &["ip", "-n", &sink.0, "link", "set", &peer, "up"],
            &["ip", "-n", h, "link", "set", "wan0", "up"],
            &[
                "ip",
                "-n",
                h,
                "neigh",
                "add",
                "169.254.0.1",
                "lladdr",
                "02:00:00:00:00:01",
                "dev",
                "wan0",
                "nud",
                "permanent",
            ],
            &[
                "ip",
                "-n",
                h,
                "route",
                "add",
                "default",
                "via",
                "169.254.0.1",
                "dev",
                "wan0",
                "onlink",
            ],
        ] {
            sh(cmd).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    // a link coming up may send IPv6 or other chatter of its own: the
    // baseline is taken once the links are up
    std::thread::sleep(Duration::from_millis(500));
    let base: Vec<u64> = lan.hosts.iter().map(|h| wan_tx(h)).collect();
    let dir = tempfile::tempdir().unwrap();
    let zines = dir.path().join("zines");
    std::fs::create_dir_all(&zines).unwrap();
    let data: Vec<u8> = (0..400_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    std::fs::write(zines.join("issue-1.pdf"), &data).unwrap();
    let out = dir.path().join("out");
    let t = Duration::from_secs(60);
    let mut a = lan.spawn(0, swarm_bin(), &["share", zines.to_str().unwrap()], &[]);
    a.wait_line("magnet link from A", t, |l| l.contains("magnet:?"));
    let get = lan.spawn(
        1,
        swarm_bin(),
        &["get", "zines", "-o", out.to_str().unwrap()],
        &[],
    );
    let (ok, lines) = get.finish(Duration::from_secs(120));
    assert!(ok, "swarm get zines failed:\n{}", lines.join("\n"));
    assert!(std::fs::read(out.join("zines/issue-1.pdf")).unwrap() == data);
    // the sharer keeps running a little longer (re-announces, LSD)
    std::thread::sleep(Duration::from_secs(2));
    for (h, b) in lan.hosts.iter().zip(&base) {
        assert_eq!(wan_tx(h), *b, "{h} sent packets beyond the LAN");
    }
    drop(a);
    // the counter counts: a ping to TEST-NET-1 leaves through wan0
    let host = &lan.hosts[0];
    let _ = Command::new("ip")
        .args(["netns", "exec", host, "ping", "-c", "1", "-W", "1"])
        .arg("192.0.2.1")
        .output();
    assert!(
        wan_tx(host) > base[0],
        "the wan0 counter did not count a ping"
    );
}

/// The sink namespace; deleted on drop.
struct Sink(String);

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}
