//! Large file counts end to end (issue 14, finding 9): `swarm create --v2`
//! of a folder of 100,000 tiny files, `swarm share --torrent` of it,
//! `swarm get` of its magnet into `-o`, and the getter must finish, verify
//! and exit. (A hybrid torrent of 100,000 files, ~2.5 million bencoded
//! values, parses since torrents got their own 8 M bound, but its download
//! did not finish within this test's bound on a loaded machine: hybrid at
//! this scale is still open.)
//!
//! Before, such a download spent almost all its time saving resume data
//! (each save stats every file, once a second, on the torrent's own task)
//! and evicting open files (an O(n) scan per open): 219.7 s in a debug
//! build, and it "had not exited after 45 s" in the issue. Now ~19 s.
//! The bound here is generous (it never measures speed): it only catches
//! a download that stalls as it did. Files are a few bytes each, in a
//! temporary folder (tmpfs when there is one) removed at the end.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[path = "support/procs.rs"]
mod procs;
use procs::{swarm, Kill};

const DIRS: usize = 100;
const PER_DIR: usize = 1_000;
/// What a download of 100,000 files may take here, at most: ~10 times what
/// it takes now on a loaded 2-core machine, less than it took before.
const GET_LIMIT: Duration = Duration::from_secs(150);

fn body(d: usize, f: usize) -> String {
    format!("{d}/{f}\n")
}

/// The folder of `DIRS` × `PER_DIR` tiny files under `root`.
fn make_files(root: &Path) -> PathBuf {
    let src = root.join("many");
    for d in 0..DIRS {
        let dir = src.join(format!("d{d:03}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..PER_DIR {
            std::fs::write(dir.join(format!("f{f:04}.txt")), body(d, f)).unwrap();
        }
    }
    src
}

/// A temporary folder on tmpfs if the machine has one (100,000 inodes
/// cost no disk there), else the default temporary folder.
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    shm.is_dir()
        .then(|| tempfile::tempdir_in(shm).ok())
        .flatten()
        .unwrap_or_else(|| tempfile::tempdir().unwrap())
}

/// `swarm share src --torrent torrent` on loopback; its magnet and TCP
/// address once it is seeding, or a panic after `limit`.
fn share(src: &Path, torrent: &Path, state: &Path, limit: Duration) -> (Kill, String, String) {
    let mut child = swarm()
        .arg("share")
        .arg(src)
        .arg("--torrent")
        .arg(torrent)
        .args(["--listen", "127.0.0.1:0", "--no-announce", "--state-dir"])
        .arg(state)
        .args(["--quic-listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let guard = Kill(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut magnet, mut tcp) = (String::new(), String::new());
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if line.starts_with("magnet:") {
                magnet = line;
            } else if let Some(a) = line.strip_prefix("listening on tcp ") {
                tcp = a.to_string();
            } else if line.starts_with("seeding") {
                let _ = tx.send((magnet, tcp));
                return;
            }
        }
    });
    let (magnet, tcp) = rx
        .recv_timeout(limit)
        .expect("swarm share did not start seeding 100,000 files");
    (guard, magnet, tcp)
}

#[test]
fn a_hundred_thousand_files_download_and_the_getter_exits() {
    let d = scratch();
    let t = Instant::now();
    let src = make_files(d.path());
    eprintln!("made {} files in {:?}", DIRS * PER_DIR, t.elapsed());
    let t = Instant::now();
    let torrent = d.path().join("many.torrent");
    let st = swarm()
        .args(["create", "--v2", "-o"])
        .arg(&torrent)
        .arg(&src)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "swarm create --v2: {st}");
    let state = d.path().join("share-state");
    let (seeder, magnet, tcp) = share(&src, &torrent, &state, GET_LIMIT);
    eprintln!("swarm share seeding after {:?}", t.elapsed());

    let out = d.path().join("out");
    let t = Instant::now();
    let mut get = Kill(
        swarm()
            .args(["get", &magnet, "-o"])
            .arg(&out)
            .args(["--listen", "127.0.0.1:0", "--no-quic", "--peer", &tcp])
            .arg("--state-dir")
            .arg(d.path().join("get-state"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let status = loop {
        if let Some(st) = get.0.try_wait().unwrap() {
            break Some(st);
        }
        if t.elapsed() > GET_LIMIT {
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!(
        "swarm get of 100,000 files: {status:?} after {:?}",
        t.elapsed()
    );
    let status = status.expect("swarm get of 100,000 files did not exit in time");
    assert!(status.success(), "swarm get failed: {status}");
    drop(seeder);

    // every file, with its bytes, and nothing else written (no padding)
    let mut files = 0;
    let mut bytes = 0;
    for dir in std::fs::read_dir(out.join("many")).unwrap() {
        for f in std::fs::read_dir(dir.unwrap().path()).unwrap() {
            let f = f.unwrap();
            files += 1;
            bytes += f.metadata().unwrap().len();
        }
    }
    assert_eq!(files, DIRS * PER_DIR);
    let want: usize = (0..DIRS)
        .flat_map(|d| (0..PER_DIR).map(move |f| body(d, f).len()))
        .sum();
    assert_eq!(bytes, want as u64, "the download wrote more than the files");
    for (d, f) in [(0, 0), (42, 517), (DIRS - 1, PER_DIR - 1)] {
        let p = out.join(format!("many/d{d:03}/f{f:04}.txt"));
        assert_eq!(std::fs::read_to_string(p).unwrap(), body(d, f));
    }
}
