//! Helpers shared by the seedbox tests.
#![allow(dead_code)]

use std::io::BufRead;
use std::io::BufReader;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Every regular file under `dir`: (path relative to `dir`, bytes), sorted;
/// a mirror's marker file and staging folder aside.
pub fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name();
            if name == Some(seedbox::mirror_folder::MARKER.as_ref())
                || name == Some(seedbox::staging::STAGING.as_ref())
            {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                v.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    v.sort();
    v
}

/// The `swarm` binary of this workspace (built if the workspace build did
/// not build it yet).
pub fn swarm_bin() -> PathBuf {
    let me = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test>-xxxx -> target/<profile>/swarm
    let p = me.parent().and_then(Path::parent).unwrap().join("swarm");
    if !p.exists() {
        let st = std::process::Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", "swarm-cli", "--bin", "swarm"])
            .status()
            .unwrap();
        assert!(st.success(), "building swarm");
    }
    p
}

/// The `seedbox` binary of this package.
pub fn seedbox_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_seedbox"))
}

/// A running `seedbox run`; killed on drop.
pub struct SeedboxProcess {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl SeedboxProcess {
    /// `seedbox run --config CONFIG`.
    pub fn start(config: &Path) -> SeedboxProcess {
        Self::start_with(Command::new(seedbox_bin()), config)
    }

    /// `seedbox run --config CONFIG` through `cmd` (the seedbox binary, or
    /// a wrapper such as `setpriv` whose arguments end with it).
    pub fn start_with(mut cmd: Command, config: &Path) -> SeedboxProcess {
        let mut child = cmd
            .args(["run", "--config"])
            .arg(config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting seedbox");
        let (tx, rx) = mpsc::channel();
        let out = BufReader::new(child.stdout.take().unwrap());
        let err = BufReader::new(child.stderr.take().unwrap());
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for l in out.lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        std::thread::spawn(move || {
            for l in err.lines().map_while(Result::ok) {
                eprintln!("[seedbox] {l}");
                let _ = tx2.send(l);
            }
        });
        SeedboxProcess {
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// Wait (bounded) for an output line containing `needle`.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> String {
        if let Some(l) = self.seen.iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.contains(needle) {
                        return l;
                    }
                }
                Err(_) => panic!(
                    "no line with {needle:?} within {timeout:?}; output:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// The web page's base URL (without the final `/`).
    pub fn web_url(&mut self) -> String {
        let l = self.wait_for("web page: http://", Duration::from_secs(20));
        l.rsplit(' ')
            .next()
            .unwrap()
            .trim_end_matches('/')
            .to_string()
    }

    pub fn tcp_addr(&mut self) -> SocketAddr {
        let l = self.wait_for("peers: tcp ", Duration::from_secs(20));
        l.rsplit(' ').next().unwrap().parse().unwrap()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(mut self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                assert!(st.success(), "seedbox exited with {st}");
                return;
            }
            assert!(Instant::now() < deadline, "seedbox did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for SeedboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
