//! Interop with real BitTorrent clients, every socket on 127.0.0.1.
//!
//! - [`lt`]: libtorrent (Debian's python3-libtorrent, driven by
//!   `tests/support/lt_tool.py`) each direction for v1, v2 and hybrid
//!   torrents, with explicit peers; magnet-only downloads (BEP 9) both ways.
//! - [`clients`]: aria2c and Transmission (a private `transmission-daemon`
//!   driven by `transmission-remote`), v1, each direction, through the
//!   in-process HTTP tracker where a client cannot be given a peer.
//!
//! swarm runs in-process through the library API ([`Session`]). Every test
//! asserts the downloaded bytes equal the source: a small multi-file
//! collection whose last piece is short.
//!
//! A missing client fails the test, unless `SWARM_SKIP_INTEROP=1` is set, in
//! which case the test prints a `SKIPPED:` line and returns. Child processes
//! are killed when their guard drops, also when a test fails.
//!
//! Run: `cargo test -p swarm --locked --test interop`.

mod clients;
mod lt;
mod trackers;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use swarm::net::PeerAddr;
use swarm::session::{AddOptions, Session, SessionConfig, TorrentHandle};
use swarm::sim::content;

/// Set to `1` to skip (with a message) the tests whose client is missing.
pub const SKIP_ENV: &str = "SWARM_SKIP_INTEROP";

/// Longest a single transfer may take before the test fails.
pub const TRANSFER_LIMIT: Duration = Duration::from_secs(60);

/// Debian's Python, which has the libtorrent bindings (not pyenv's).
pub const PYTHON: &str = "/usr/bin/python3";

/// Can this client run? Runs `probe` (program and arguments); when it does
/// not succeed the test fails, or, with `SWARM_SKIP_INTEROP=1`, prints a
/// skip line and the caller returns.
pub fn require(client: &str, probe: &[&str]) -> bool {
    let ok = Command::new(probe[0])
        .args(&probe[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if ok {
        return true;
    }
    if std::env::var(SKIP_ENV).as_deref() == Ok("1") {
        eprintln!("SKIPPED: {client} is not installed ({SKIP_ENV}=1)");
        return false;
    }
    panic!(
        "{client} is not installed (`{}` failed); run scripts/install-deps.sh, \
         or set {SKIP_ENV}=1 to skip",
        probe.join(" ")
    );
}

/// Files of the test collection, relative to its parent folder, with their
/// bytes. ~2.7 MB in five files (one empty) over three folders: with 64 KiB
/// pieces the last v1 piece is short, and so is each file's last v2 piece.
pub fn write_collection(parent: &Path, name: &str) -> Vec<(String, Vec<u8>)> {
    let files = vec![
        (format!("{name}/issue-1.pdf"), content(1_500_000, 11)),
        (format!("{name}/books/reader.epub"), content(1_048_577, 23)),
        (
            format!("{name}/books/notes/readme.txt"),
            content(123_457, 35),
        ),
        (format!("{name}/tiny.txt"), content(5, 47)),
        (format!("{name}/books/empty.txt"), Vec::new()),
    ];
    for (p, b) in &files {
        let p = parent.join(p);
        std::fs::create_dir_all(p.parent().expect("has a parent")).expect("mkdir");
        std::fs::write(p, b).expect("write source file");
    }
    files
}

/// Asserts every file of the collection under `parent` has the source bytes.
pub fn assert_collection(parent: &Path, files: &[(String, Vec<u8>)], who: &str) {
    for (p, want) in files {
        let got = std::fs::read(parent.join(p))
            .unwrap_or_else(|e| panic!("{who}: {p} not downloaded: {e}"));
        assert!(
            got.len() == want.len() && got == *want,
            "{who}: {p} differs from the source ({} bytes, want {})",
            got.len(),
            want.len()
        );
    }
}

/// A swarm session listening on 127.0.0.1 (TCP only), with its folders
/// under `dir`.
///
/// With `RUST_LOG` set, swarm's tracing output goes to the test's output.
pub fn swarm_config(dir: &Path) -> SessionConfig {
    if let Ok(filter) = std::env::var("RUST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_test_writer()
            .try_init();
    }
    SessionConfig {
        listen_tcp: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        listen_quic: None,
        download_dir: dir.join("dl"),
        state_dir: Some(dir.join("state")),
        ..Default::default()
    }
}

/// A swarm session (folders under `dir`) seeding the torrent `bytes` over
/// the data already in `save_dir`, once it has checked that data.
pub async fn swarm_seed(dir: &Path, bytes: &[u8], save_dir: &Path) -> (Session, TorrentHandle) {
    let s = Session::new(swarm_config(dir)).await.unwrap();
    let h = s
        .add_torrent_bytes(
            bytes,
            AddOptions {
                save_dir: Some(save_dir.to_path_buf()),
                seed: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), h.wait_complete())
        .await
        .expect("swarm checks its data in time")
        .expect("swarm's data checks out");
    (s, h)
}

/// A TCP port free on 127.0.0.1 right now, for clients that must be told
/// their port.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// Waits (at most [`TRANSFER_LIMIT`]) until `h` is complete. While it has
/// no peer, `peer` (if any) is dialled again every half second: a client
/// still checking its data may turn the first connection away. `watch`
/// is polled too, so a client that died fails the test at once.
pub async fn swarm_wait_complete(
    h: &TorrentHandle,
    peer: Option<SocketAddr>,
    watch: &mut [&mut Proc],
) {
    let deadline = Instant::now() + TRANSFER_LIMIT;
    let mut next_dial = Instant::now();
    let mut progress = h.progress_watch();
    loop {
        let p = progress.borrow_and_update().clone();
        if p.complete {
            break;
        }
        assert!(!p.failed, "swarm download failed: {p:?}");
        for w in watch.iter_mut() {
            w.assert_running();
        }
        if let Some(a) = peer {
            if p.peers == 0 && Instant::now() >= next_dial {
                h.add_peer(PeerAddr::Tcp(a)).await;
                next_dial = Instant::now() + Duration::from_millis(500);
            }
        }
        if Instant::now() > deadline {
            let logs: Vec<String> = watch.iter().map(|w| w.log()).collect();
            panic!(
                "swarm download timed out: {p:?}\n{}",
                logs.join("\n--------\n")
            );
        }
        let _ = tokio::time::timeout(Duration::from_millis(200), progress.changed()).await;
    }
    tokio::time::timeout(Duration::from_secs(5), h.wait_complete())
        .await
        .expect("complete stays complete")
        .expect("swarm download completes without error");
}

/// A child process (a reference client) that is killed when dropped.
/// Its stdout lines are collected; its stderr goes to a file, shown with
/// the stdout when the test fails.
pub struct Proc {
    name: String,
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    stderr_path: PathBuf,
}

impl Proc {
    /// Starts `cmd` with piped stdin (closed on drop) and stdout; stderr
    /// is written to `<logdir>/<name>.stderr`.
    pub fn spawn(name: &str, cmd: &mut Command, logdir: &Path) -> Proc {
        let stderr_path = logdir.join(format!("{name}.stderr"));
        let err = std::fs::File::create(&stderr_path).expect("create stderr log");
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let out = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines() {
                let Ok(l) = l else { break };
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Proc {
            name: name.to_string(),
            child,
            lines,
            seen: Vec::new(),
            stderr_path,
        }
    }

    fn pump(&mut self) {
        while let Ok(l) = self.lines.try_recv() {
            self.seen.push(l);
        }
    }

    /// The exit status once the process has exited; then every line it
    /// wrote has been collected (the reader thread reached EOF, waited for
    /// at most 2 s).
    fn exited(&mut self) -> Option<ExitStatus> {
        let st = self.child.try_wait().expect("try_wait")?;
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            match self.lines.recv_timeout(Duration::from_millis(50)) {
                Ok(l) => self.seen.push(l),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
        Some(st)
    }

    /// Everything the process said so far (stdout, then stderr).
    pub fn log(&self) -> String {
        let err = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
        let tail = |s: &str| {
            let lines: Vec<&str> = s.lines().collect();
            lines[lines.len().saturating_sub(60)..].join("\n")
        };
        format!(
            "== {} stdout:\n{}\n== {} stderr:\n{}",
            self.name,
            tail(&self.seen.join("\n")),
            self.name,
            tail(&err)
        )
    }

    /// Fails the test (with the process's output) if it has exited.
    pub fn assert_running(&mut self) {
        if let Some(st) = self.exited() {
            panic!("{} exited early ({st}):\n{}", self.name, self.log());
        }
    }

    /// Waits for a stdout line matching `pred`, at most `limit`.
    pub async fn wait_line(
        &mut self,
        what: &str,
        limit: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + limit;
        let mut checked = 0;
        loop {
            let exited = self.exited();
            self.pump();
            if let Some(l) = self.seen[checked..].iter().find(|l| pred(l)) {
                return l.clone();
            }
            checked = self.seen.len();
            if let Some(st) = exited {
                panic!("{} exited ({st}) before {what}:\n{}", self.name, self.log());
            }
            if Instant::now() > deadline {
                panic!("{}: no {what} within {limit:?}:\n{}", self.name, self.log());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for the process to exit, at most `limit`; fails the test
    /// (with its output) on timeout.
    pub async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(st) = self.exited() {
                return st;
            }
            if Instant::now() > deadline {
                self.pump();
                panic!(
                    "{} did not finish within {limit:?}:\n{}",
                    self.name,
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for the process to exit successfully; fails the test
    /// (with its output) otherwise.
    pub async fn wait_success(&mut self, limit: Duration) {
        let st = self.wait_exit(limit).await;
        assert!(st.success(), "{} failed ({st}):\n{}", self.name, self.log());
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
