//! Issue 14 #5 in network namespaces: LSD hints cannot poison bans.
//!
//! Any LAN host can send an LSD announce naming an address and port where
//! something other than a BitTorrent peer answers (an ssh server, say).
//! Dialling it and getting a non-BitTorrent reply used to ban that whole
//! IP, so the honest sharer behind the same IP was never used. Now a failed
//! handshake bans nothing, and bans are per address and port.
//!
//! ```text
//!   ns <p>-a (10.99.0.1): junk server on :2222, LSD hints naming it;
//!                         later `swarm share` (the honest host)
//!   ns <p>-c (10.99.0.3): `swarm get MAGNET` (LAN discovery only)
//! ```
//!
//! Needs root and `ip netns` (or `SWARM_SKIP_NETNS=1` to skip).

#[path = "../../tests/support/netns.rs"]
mod netns;

use std::path::Path;
use std::time::Duration;

use netns::{require_netns, Lan};

fn swarm_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_swarm"))
}

/// Answers every connection with an ssh-like banner (not a BitTorrent
/// handshake), then closes it.
const JUNK_SERVER: &str = r#"
import socket, threading, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.99.0.1", 2222)); s.listen(64)
print("READY", flush=True)
def serve(c):
    try:
        c.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n" + b"x" * 96)
        time.sleep(2)
    finally:
        c.close()
while True:
    c, a = s.accept()
    print("CONN", a[0], flush=True)
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;

/// Sends LSD announces for info-hash `argv[1]` naming port 2222, five a
/// second for a minute.
const HINTS: &str = r#"
import socket, sys, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
msg = ("BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 2222\r\n"
       "Infohash: %s\r\ncookie: attacker\r\n\r\n\r\n" % sys.argv[1]).encode()
print("READY", flush=True)
for _ in range(300):
    u.sendto(msg, ("239.192.152.143", 6771))
    time.sleep(0.2)
"#;

#[test]
fn lsd_hints_naming_a_junk_port_do_not_ban_the_honest_host() {
    if !require_netns() {
        return;
    }
    let lan = Lan::new(3);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("zine.pdf");
    let data = swarm::sim::content(3 * 1024 * 1024, 55);
    std::fs::write(&file, &data).unwrap();
    let state = dir.path().join("share-state");
    let t = Duration::from_secs(60);
    let share = |lan: &Lan| {
        lan.spawn(
            0,
            swarm_bin(),
            &[
                "share",
                file.to_str().unwrap(),
                "--state-dir",
                state.to_str().unwrap(),
            ],
            &[],
        )
    };
    // the magnet; the sharer then goes away until the getter was poisoned
    let mut a = share(&lan);
    let magnet = a.wait_line("magnet link", t, |l| l.starts_with("magnet:?"));
    drop(a);
    let hash = magnet
        .split("btih:")
        .nth(1)
        .map(|h| h[..40].to_string())
        .unwrap();

    let py = Path::new("python3");
    let mut junk = lan.spawn(0, py, &["-c", JUNK_SERVER], &[]);
    junk.wait_line("junk server", t, |l| l == "READY");
    let out = dir.path().join("out");
    let get = lan.spawn(
        2,
        swarm_bin(),
        &["get", &magnet, "-o", out.to_str().unwrap(), "--no-quic"],
        &[],
    );
    let mut hints = lan.spawn(0, py, &["-c", HINTS, &hash], &[]);
    hints.wait_line("hint sender", t, |l| l == "READY");
    // the getter dials the junk port (and, before, banned 10.99.0.1)
    std::thread::sleep(Duration::from_secs(4));
    // the honest sharer comes back at the same IP and announces itself
    let a = share(&lan);
    let (ok, lines) = get.finish(Duration::from_secs(120));
    drop((a, hints));
    // the hints were dialled (the poisoning was tried), and only a few
    // times: hinted dials per IP are bounded
    let dials = junk
        .lines
        .try_iter()
        .filter(|l| l == "CONN 10.99.0.3")
        .count();
    drop(junk);
    assert!(
        ok,
        "swarm get did not complete from the honest host:\n{}",
        lines.join("\n")
    );
    assert!(std::fs::read(out.join("zine.pdf")).unwrap() == data);
    assert!(
        (1..=8).contains(&dials),
        "{dials} dials of the hinted junk port (hints came 5 a second)"
    );
}
