//! Issue 14, finding 7: the web page shares the daemon's file-descriptor
//! table with the BitTorrent side, so its connection cap is lowered to
//! leave descriptors for every torrent's peers (`daemon::web_connections`).
//!
//! Here the real `seedbox` runs with a file limit of 512 and a config
//! asking for 1,000 web connections; 600 idle web connections (renewed as
//! the server closes them) run while `swarm get` downloads the collection
//! from it over BitTorrent, which must complete, and the daemon's open
//! descriptors must stay below the limit less one torrent's peers (before,
//! the web page took every descriptor up to the limit).

use std::net::{IpAddr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use swarm::discovery::catalogue;

mod support;
use support::{seedbox_bin, swarm_bin, SeedboxProcess};

const NOFILE: libc::rlim_t = 512;
/// Descriptors one torrent's peers need (`limits.max_peers` 50 and slack).
const ONE_TORRENT: usize = 66;

/// The most descriptors process `pid` held, sampled until `stop`.
fn sample_fds(pid: u32, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut peak = 0;
        while !stop.load(Ordering::Relaxed) {
            let Ok(d) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
                break;
            };
            peak = peak.max(d.count());
            std::thread::sleep(Duration::from_millis(100));
        }
        peak
    })
}

/// The collection's magnet, from the daemon's catalogue (bounded wait).
fn magnet(rt: &tokio::runtime::Runtime, addr: SocketAddr, name: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(cat) = rt.block_on(catalogue::query(addr, Duration::from_secs(5))) {
            if let Some(s) = cat.shares.iter().find(|s| s.name == name) {
                return s.magnet.clone();
            }
        }
        assert!(Instant::now() < deadline, "{name} never listed at {addr}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// An idle web connection from `from`, renewed whenever the server closes
/// it, until `stop`; `open` counts those currently accepted.
async fn idle(from: IpAddr, to: SocketAddr, stop: Arc<AtomicBool>, open: Arc<AtomicUsize>) {
    use tokio::io::AsyncReadExt;
    while !stop.load(Ordering::Relaxed) {
        let s = tokio::net::TcpSocket::new_v4().unwrap();
        if s.bind(SocketAddr::new(from, 0)).is_err() {
            return;
        }
        let Ok(Ok(mut c)) = tokio::time::timeout(Duration::from_secs(5), s.connect(to)).await
        else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        open.fetch_add(1, Ordering::Relaxed);
        let mut b = [0u8; 512];
        loop {
            match tokio::time::timeout(Duration::from_millis(500), c.read(&mut b)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                _ if stop.load(Ordering::Relaxed) => break,
                _ => {}
            }
        }
        open.fetch_sub(1, Ordering::Relaxed);
    }
}

fn sample(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..20u32 {
        let body: Vec<u8> = (0..200_000u32).map(|b| (b * 7 + i) as u8).collect();
        std::fs::write(dir.join(format!("zine-{i:02}.pdf")), body).unwrap();
    }
}

#[test]
fn idle_web_connections_leave_descriptors_for_a_download() {
    let d = tempfile::tempdir().unwrap();
    let zines = d.path().join("zines");
    sample(&zines);
    let cfg = d.path().join("seedbox.toml");
    std::fs::write(
        &cfg,
        format!(
            "state_dir = \"state\"\n[network]\nlisten = \"127.0.0.1:0\"\nquic_listen = \"127.0.0.1:0\"\n\
             announce = false\n[web]\nlisten = \"127.0.0.1:0\"\nmax_connections = 1000\n\
             [[collection]]\nname = \"zines\"\npath = \"{}\"\n",
            zines.display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new(seedbox_bin());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: NOFILE,
                rlim_max: NOFILE,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut sb = SeedboxProcess::start_with(cmd, &cfg);
    let tcp = sb.tcp_addr();
    let web: SocketAddr = sb.web_url().trim_start_matches("http://").parse().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let magnet = magnet(&rt, tcp, "zines");

    // 600 idle web connections from 30 addresses
    let stop = Arc::new(AtomicBool::new(false));
    let fds = sample_fds(sb.pid(), stop.clone());
    let open = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..600)
        .map(|i| {
            let from = IpAddr::from([127, 0, 1, 10 + (i % 30) as u8]);
            rt.spawn(idle(from, web, stop.clone(), open.clone()))
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let held = open.load(Ordering::Relaxed);

    let out = d.path().join("out");
    let mut get = Command::new(swarm_bin())
        .args([
            "get",
            &magnet,
            "--no-quic",
            "--peer",
            &tcp.to_string(),
            "-o",
        ])
        .arg(&out)
        .args(["--listen", "127.0.0.1:0", "--state-dir"])
        .arg(d.path().join("get-state"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(st) = get.try_wait().unwrap() {
            break Some(st);
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = get.kill();
            let _ = get.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    stop.store(true, Ordering::Relaxed);
    rt.block_on(async {
        for t in tasks {
            let _ = t.await;
        }
    });
    let peak = fds.join().unwrap();
    eprintln!("{held} idle web connections made; seedbox peak {peak} fds; swarm get: {status:?}");
    assert!(
        peak + ONE_TORRENT <= NOFILE as usize,
        "the web page left {} descriptors of {NOFILE} for BitTorrent",
        NOFILE as usize - peak
    );
    assert!(
        status.is_some_and(|s| s.success()),
        "swarm get beside idle web connections: {status:?}"
    );
    for i in 0..20u32 {
        let name = format!("zine-{i:02}.pdf");
        assert!(
            std::fs::read(out.join("zines").join(&name)).unwrap()
                == std::fs::read(zines.join(&name)).unwrap(),
            "{name} differs"
        );
    }
    sb.stop();
}
