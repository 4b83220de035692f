//! Resource attacks on a real `swarm share` process over loopback sockets
//! (issue 14): each while an honest `swarm get` downloads from it. Attack
//! connections come from their own loopback addresses (127.0.0.x), as
//! other hosts of a LAN would.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use socket2::{Domain, Socket, Type};
use swarm::wire::{self, Handshake, Message, Reserved};

#[path = "support/procs.rs"]
mod procs;
use procs::{share, swarm};

/// A TCP connection to `to` from loopback address `from`, with a small
/// receive buffer (what does not fit stays with the sender).
fn connect_from(from: [u8; 4], to: SocketAddr) -> std::io::Result<TcpStream> {
    let s = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    s.set_recv_buffer_size(4096)?;
    s.bind(&SocketAddr::from((from, 0)).into())?;
    s.connect_timeout(&to.into(), Duration::from_secs(10))?;
    Ok(s.into())
}

fn info_hash(magnet: &str) -> [u8; 20] {
    let hex = &magnet["magnet:?xt=urn:btih:".len()..][..40];
    let mut ih = [0; 20];
    hex::decode_to_slice(hex, &mut ih).unwrap();
    ih
}

fn handshake(ih: [u8; 20], id: u8) -> Vec<u8> {
    let mut b = BytesMut::new();
    wire::encode_handshake(
        &Handshake {
            reserved: Reserved {
                extended: false,
                fast: true,
                v2: false,
            },
            info_hash: ih,
            peer_id: [id; 20],
        },
        &mut b,
    );
    b.to_vec()
}

/// Peak anonymous memory (heap: what queued data costs; the shared file's
/// mapped pages are not counted) of process `pid`, sampled until `stop`.
fn sample_anon(pid: u32, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut peak = 0;
        while !stop.load(Ordering::SeqCst) {
            let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
                break;
            };
            let kb = s
                .lines()
                .find_map(|l| l.strip_prefix("RssAnon:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                .unwrap_or(0);
            peak = peak.max(kb * 1024);
            std::thread::sleep(Duration::from_millis(50));
        }
        peak
    })
}

/// Runs `swarm get` of `magnet` from `peer` into `dir`; true if it
/// completed within `limit`.
fn honest_get(magnet: &str, peer: &str, dir: &Path, limit: Duration) -> bool {
    let mut child = swarm()
        .args(["get", magnet, "-o"])
        .arg(dir.join("out"))
        .args(["--listen", "127.0.0.1:0", "--no-quic", "--peer", peer])
        .arg("--state-dir")
        .arg(dir.join("get-state"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(st) = child.try_wait().unwrap() {
            return st.success();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

/// Finding 3: 20 peers that request blocks and never read them. Before,
/// `swarm share` grew by hundreds of MiB (876 MiB in 45 s); its heap must
/// now stay under 64 MiB while an honest download completes.
#[test]
fn slow_readers_do_not_grow_memory() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("big.bin");
    std::fs::write(&src, swarm::sim::content(32 << 20, 7)).unwrap();
    let (seeder, magnet, tcp, _) = share(&src, &d.path().join("state"));
    let addr: SocketAddr = tcp.parse().unwrap();
    let ih = info_hash(&magnet);
    let stop = Arc::new(AtomicBool::new(false));
    let peak = sample_anon(seeder.0.id(), stop.clone());
    let closed = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..20u8)
        .map(|i| {
            let (stop, closed) = (stop.clone(), closed.clone());
            std::thread::spawn(move || {
                let Ok(mut s) = connect_from([127, 0, 0, 10 + i], addr) else {
                    return;
                };
                let mut first = handshake(ih, 100 + i);
                first.extend_from_slice(&[0, 0, 0, 1, 2]); // interested
                let mut block = 0u32;
                let mut msg = first;
                // ask for 400 blocks a second, read nothing
                while !stop.load(Ordering::SeqCst) {
                    for _ in 0..400 {
                        let m = Message::Request {
                            piece: block / 2 % 1024,
                            offset: block % 2 * 16384,
                            len: 16384,
                        };
                        let mut b = BytesMut::new();
                        wire::encode(&m, &mut b).unwrap();
                        msg.extend_from_slice(&b);
                        block += 1;
                    }
                    if s.write_all(&msg).is_err() {
                        closed.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                    msg.clear();
                    std::thread::sleep(Duration::from_secs(1));
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let ok = honest_get(&magnet, &tcp, d.path(), Duration::from_secs(180));
    stop.store(true, Ordering::SeqCst);
    let peak = peak.join().unwrap();
    for r in readers {
        r.join().unwrap();
    }
    eprintln!(
        "peak heap of swarm share: {} MiB; {} of 20 readers cut off",
        peak >> 20,
        closed.load(Ordering::SeqCst)
    );
    assert!(ok, "the honest download did not complete");
    assert!(
        peak < 64 << 20,
        "swarm share heap peaked at {} MiB",
        peak >> 20
    );
    let got = std::fs::read(d.path().join("out/big.bin")).unwrap();
    assert!(got == std::fs::read(&src).unwrap());
    drop(seeder);
}
