//! A LAN made of Linux network namespaces for tests: a bridge namespace
//! and hosts 10.99.0.1.. on it, with a multicast route and no other route.
//! Shared by swarm's and seedbox's tests (`#[path]`-included).
//!
//! Needs root and `ip netns`. Without them the tests fail, unless
//! `SWARM_SKIP_NETNS=1` is set, in which case they are skipped with a
//! message. Namespaces are removed on drop, also when a test fails.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const ROLE_ENV: &str = "SWARM_NETNS_ROLE";

/// Run a command, failing with its stderr.
pub fn sh(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Are we able to build namespaces? `Err(reason)` if not.
pub fn netns_available() -> Result<(), String> {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .unwrap_or_default();
    if uid != "0" {
        return Err("not running as root".into());
    }
    sh(&["ip", "netns", "list"]).map_err(|e| format!("`ip netns` unavailable: {e}"))
}

/// Returns false if the test should be skipped (and says why).
pub fn require_netns() -> bool {
    match netns_available() {
        Ok(()) => true,
        Err(why) if std::env::var("SWARM_SKIP_NETNS").as_deref() == Ok("1") => {
            eprintln!("SKIPPED: network-namespace LAN test: {why} (SWARM_SKIP_NETNS=1)");
            false
        }
        Err(why) => {
            panic!("network-namespace LAN test cannot run: {why}; set SWARM_SKIP_NETNS=1 to skip")
        }
    }
}

/// The namespaces of one test LAN; dropped = deleted.
pub struct Lan {
    pub prefix: String,
    pub hosts: Vec<String>,
    /// Per-host state folders (resume files), so hosts share nothing.
    pub state: tempfile::TempDir,
}

impl Lan {
    /// Build a bridge namespace and `n` hosts 10.99.0.1.. on it.
    pub fn new(n: usize) -> Lan {
        let prefix = format!(
            "swl{}{:04x}",
            std::process::id() % 100_000,
            rand::random::<u16>()
        );
        let mut lan = Lan {
            prefix: prefix.clone(),
            hosts: Vec::new(),
            state: tempfile::tempdir().expect("temp dir"),
        };
        let br = lan.bridge_ns();
        let setup = || -> Result<(), String> {
            sh(&["ip", "netns", "add", &br])?;
            sh(&["ip", "-n", &br, "link", "set", "lo", "up"])?;
            sh(&[
                "ip",
                "-n",
                &br,
                "link",
                "add",
                "br0",
                "type",
                "bridge",
                "mcast_snooping",
                "0",
            ])?;
            sh(&["ip", "-n", &br, "link", "set", "br0", "up"])?;
            Ok(())
        };
        setup().unwrap_or_else(|e| panic!("setting up the bridge: {e}"));
        for i in 0..n {
            let host = format!("{prefix}-{}", (b'a' + i as u8) as char);
            lan.hosts.push(host.clone());
            let port = format!("p{i}");
            let ip = format!("10.99.0.{}/24", i + 1);
            let setup = || -> Result<(), String> {
                sh(&["ip", "netns", "add", &host])?;
                for k in ["all", "default"] {
                    sh(&[
                        "ip",
                        "netns",
                        "exec",
                        &host,
                        "sysctl",
                        "-qw",
                        &format!("net.ipv6.conf.{k}.disable_ipv6=1"),
                    ])?;
                }
                sh(&["ip", "-n", &host, "link", "set", "lo", "up"])?;
                sh(&[
                    "ip", "-n", &br, "link", "add", &port, "type", "veth", "peer", "name", "eth0",
                    "netns", &host,
                ])?;
                sh(&["ip", "-n", &br, "link", "set", &port, "master", "br0", "up"])?;
                sh(&["ip", "-n", &host, "addr", "add", &ip, "dev", "eth0"])?;
                sh(&["ip", "-n", &host, "link", "set", "eth0", "up"])?;
                sh(&[
                    "ip",
                    "-n",
                    &host,
                    "route",
                    "add",
                    "224.0.0.0/4",
                    "dev",
                    "eth0",
                ])?;
                Ok(())
            };
            setup().unwrap_or_else(|e| panic!("setting up host {host}: {e}"));
        }
        lan
    }

    pub fn bridge_ns(&self) -> String {
        format!("{}-br", self.prefix)
    }

    /// The address of host `i` (0-based).
    pub fn ip(i: usize) -> String {
        format!("10.99.0.{}", i + 1)
    }

    /// Start `prog args` inside host `i`.
    pub fn spawn(&self, i: usize, prog: &Path, args: &[&str], env: &[(&str, String)]) -> Proc {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.hosts[i]])
            .arg(prog)
            .args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        c.env_remove(ROLE_ENV);
        c.env("XDG_STATE_HOME", self.state.path().join(&self.hosts[i]));
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {} in {}: {e}", prog.display(), self.hosts[i]));
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().map(BufReader::new);
        let err = child.stderr.take().map(BufReader::new);
        let tx2 = tx.clone();
        let label = format!("{}", (b'a' + i as u8) as char);
        let l2 = label.clone();
        std::thread::spawn(move || {
            for line in out
                .into_iter()
                .flat_map(|r| r.lines())
                .map_while(Result::ok)
            {
                let _ = tx.send(line);
            }
        });
        std::thread::spawn(move || {
            for line in err
                .into_iter()
                .flat_map(|r| r.lines())
                .map_while(Result::ok)
            {
                eprintln!("[{l2} stderr] {line}");
                let _ = tx2.send(format!("stderr: {line}"));
            }
        });
        Proc {
            child,
            lines: rx,
            label,
            seen: Vec::new(),
        }
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for h in self.hosts.iter().chain(std::iter::once(&self.bridge_ns())) {
            let _ = Command::new("ip").args(["netns", "del", h]).output();
        }
    }
}

/// A process in a namespace; killed on drop.
pub struct Proc {
    pub child: Child,
    pub lines: mpsc::Receiver<String>,
    pub label: String,
    pub seen: Vec<String>,
}

impl Proc {
    /// Wait (bounded) for a stdout line matching `pred`.
    pub fn wait_line(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        if let Some(l) = self.seen.iter().find(|l| pred(l)) {
            return l.clone();
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if pred(&l) {
                        return l;
                    }
                }
                Err(_) => panic!(
                    "host {}: no {what} within {timeout:?}; output so far:\n{}",
                    self.label,
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Wait (bounded) for exit; returns (success, stdout lines).
    pub fn finish(mut self, timeout: Duration) -> (bool, Vec<String>) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                // drain what is left
                while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(200)) {
                    self.seen.push(l);
                }
                return (st.success(), std::mem::take(&mut self.seen));
            }
            if Instant::now() > deadline {
                panic!(
                    "host {}: did not exit within {timeout:?}; output:\n{}",
                    self.label,
                    self.seen.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
