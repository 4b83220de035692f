//! The `swarm` binary as a test process: start `swarm share`, read its
//! magnet and addresses. `#[path]`-included by the tests that need it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A child process killed (and reaped) on drop.
pub struct Kill(pub Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `swarm` binary, stdin closed.
pub fn swarm() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_swarm"));
    c.stdin(Stdio::null());
    c
}

/// Starts `swarm share` on 127.0.0.1 and returns it with its magnet, TCP
/// and QUIC addresses.
pub fn share(path: &Path, state: &Path) -> (Kill, String, String, String) {
    let mut child = swarm()
        .arg("share")
        .arg(path)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--quic-listen",
            "127.0.0.1:0",
            "--no-announce",
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
