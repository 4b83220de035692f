//! `swarm share` and `swarm get` as processes on 127.0.0.1.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn swarm() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_swarm"));
    c.stdin(Stdio::null());
    c
}

/// Starts `swarm share` and returns it with its magnet, TCP and QUIC addresses.
fn share(path: &Path, state: &Path) -> (Kill, String, String, String) {
    let mut child = swarm()
        .arg("share")
        .arg(path)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--quic-listen",
            "127.0.0.1:0",
            "--state-dir",
        ])
        .arg(state)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let guard = Kill(child);
    let (mut magnet, mut tcp, mut quic) = (String::new(), String::new(), String::new());
    for line in BufReader::new(out).lines() {
        let line = line.unwrap();
        if line.starts_with("magnet:") {
            magnet = line;
        } else if let Some(a) = line.strip_prefix("listening on tcp ") {
            tcp = a.to_string();
        } else if let Some(a) = line.strip_prefix("listening on ") {
            quic = a.to_string();
        } else if line.starts_with("seeding") {
            break;
        }
    }
    assert!(magnet.starts_with("magnet:?xt=urn:btih:"), "{magnet}");
    assert!(quic.starts_with("quic://127.0.0.1:"), "{quic}");
    (guard, magnet, tcp, quic)
}

#[test]
fn share_then_get_over_quic_and_tcp() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("flyer.pdf");
    let bytes: Vec<u8> = (0..500_000u32).map(|i| (i * 31 + i / 7) as u8).collect();
    std::fs::write(&src, &bytes).unwrap();
    let (mut seeder, magnet, tcp, quic) = share(&src, &d.path().join("s"));
    // Over TCP, the getter has no QUIC (`--no-quic`), or it would move to
    // the QUIC port the sharer offers.
    let runs: [(String, &[&str], &str, &str); 2] = [
        (
            quic,
            &["--quic-listen", "127.0.0.1:0"],
            "over QUIC",
            "over TCP",
        ),
        (tcp, &["--no-quic"], "over TCP", "over QUIC"),
    ];
    for (i, (peer, quic_args, want, never)) in runs.iter().enumerate() {
        let out_dir = d.path().join(format!("out{i}"));
        let out = swarm()
            .args(["get", &magnet, "-o"])
            .arg(&out_dir)
            .args(["--listen", "127.0.0.1:0", "--peer", peer])
            .args(*quic_args)
            .arg("--state-dir")
            .arg(d.path().join(format!("state{i}")))
            .output()
            .unwrap();
        let so = String::from_utf8_lossy(&out.stdout);
        let se = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{so}\n{se}");
        assert!(so.contains("done: flyer.pdf"), "{so}");
        assert!(se.contains(want) && !se.contains(never), "{se}");
        assert!(std::fs::read(out_dir.join("flyer.pdf")).unwrap() == bytes);
    }
    // Ctrl-C: clean exit, resume data saved.
    let pid = seeder.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let st = seeder.0.wait().unwrap();
    assert!(st.success(), "{st:?}");
    let saved = std::fs::read_dir(d.path().join("s")).unwrap().count();
    assert!(saved >= 1, "no resume file");
}

#[test]
fn get_unknown_lan_name_is_a_clear_error() {
    let d = tempfile::tempdir().unwrap();
    let out = swarm()
        .args(["get", "some-share-name", "-o"])
        .arg(d.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    // Not a magnet or a file: looked up as a LAN share name, not found.
    assert!(
        err.contains("no share named \"some-share-name\" found on the LAN"),
        "{err}"
    );
    // A bad --peer is a clear usage error too.
    let out = swarm()
        .args(["get", "magnet:?xt=urn:btih:00", "--peer", "nope"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid peer address"));
}

#[test]
fn share_of_a_missing_path_fails_clearly() {
    let out = swarm()
        .args([
            "share",
            "/nonexistent/zines",
            "--listen",
            "127.0.0.1:0",
            "--quic-listen",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such file or folder"));
}
