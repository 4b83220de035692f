//! The `swarm` binary's offline commands (`create`, `info`, `verify`),
//! checked against the reference implementations: libtorrent (Debian's
//! python3-libtorrent) and mktorrent. `scripts/install-deps.sh` installs
//! them; without them these tests fail unless `SWARM_SKIP_INTEROP=1`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn swarm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_swarm"))
        .args(args)
        .output()
        .expect("run swarm")
}

fn lt_tool() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/support/lt_tool.py")
}

/// Is the reference tooling here? Panics (test fails) when it is not,
/// unless the run opted out.
fn interop_available() -> bool {
    let ok = Command::new("/usr/bin/python3")
        .args(["-c", "import libtorrent"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
        && Command::new("mktorrent").arg("-h").output().is_ok();
    if !ok {
        if std::env::var("SWARM_SKIP_INTEROP").as_deref() == Ok("1") {
            eprintln!("SWARM_SKIP_INTEROP=1: skipping interop checks");
            return false;
        }
        panic!("python3-libtorrent and mktorrent are needed (run scripts/install-deps.sh, or set SWARM_SKIP_INTEROP=1)");
    }
    true
}

fn lt(args: &[&str]) -> serde_json::Value {
    let o = Command::new("/usr/bin/python3")
        .arg(lt_tool())
        .args(args)
        .output()
        .expect("run lt_tool.py");
    assert!(
        o.status.success(),
        "lt_tool {:?} failed: {}",
        args,
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("lt_tool json")
}

fn info_json(torrent: &Path) -> serde_json::Value {
    let o = swarm(&["info", "--json", torrent.to_str().unwrap()]);
    assert!(
        o.status.success(),
        "swarm info {}: {}",
        torrent.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("info json")
}

/// Deterministic pseudo-random bytes.
fn bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A folder with the awkward sizes: empty, 1 byte, piece-1, piece, piece+1,
/// several pieces, nested folders.
fn make_tree(root: &Path, piece: usize) -> PathBuf {
    let d = root.join("collection");
    std::fs::create_dir_all(d.join("sub/deeper")).unwrap();
    std::fs::write(d.join("a-empty.txt"), b"").unwrap();
    std::fs::write(d.join("b-one.txt"), b"x").unwrap();
    std::fs::write(d.join("c-piece-minus-1.bin"), bytes(piece - 1, 1)).unwrap();
    std::fs::write(d.join("sub/d-piece.bin"), bytes(piece, 2)).unwrap();
    std::fs::write(d.join("sub/e-piece-plus-1.bin"), bytes(piece + 1, 3)).unwrap();
    std::fs::write(d.join("sub/deeper/f-many.bin"), bytes(5 * piece + 123, 4)).unwrap();
    d
}

#[test]
fn created_torrents_load_and_check_in_libtorrent() {
    if !interop_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let piece = 16384;
    let tree = make_tree(tmp.path(), piece);
    let single = tmp.path().join("single.bin");
    std::fs::write(&single, bytes(3 * piece + 7, 9)).unwrap();
    for content in [&tree, &single] {
        for kind in ["v1", "v2", "hybrid"] {
            let out = tmp.path().join(format!(
                "{}-{kind}.torrent",
                content.file_name().unwrap().to_str().unwrap()
            ));
            let o = swarm(&[
                "create",
                content.to_str().unwrap(),
                &format!("--{kind}"),
                "--piece-size",
                &piece.to_string(),
                "-o",
                out.to_str().unwrap(),
            ]);
            assert!(
                o.status.success(),
                "create: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let ours = info_json(&out);
            let theirs = lt(&["info", out.to_str().unwrap()]);
            assert_eq!(
                ours["info_hash_v1"],
                theirs["v1"],
                "{kind} v1 hash of {}",
                content.display()
            );
            assert_eq!(
                ours["info_hash_v2"],
                theirs["v2"],
                "{kind} v2 hash of {}",
                content.display()
            );
            assert_eq!(ours["num_pieces"], theirs["num_pieces"]);
            let check = lt(&["check", out.to_str().unwrap(), tmp.path().to_str().unwrap()]);
            assert_eq!(
                check["have"], check["num_pieces"],
                "libtorrent check of our {kind} torrent: {check}"
            );
            // and our own verify agrees
            let v = swarm(&[
                "verify",
                out.to_str().unwrap(),
                tmp.path().to_str().unwrap(),
            ]);
            assert!(
                v.status.success(),
                "verify: {}",
                String::from_utf8_lossy(&v.stdout)
            );
        }
    }
}

#[test]
fn reference_torrents_give_the_same_info_hashes() {
    if !interop_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let tree = make_tree(tmp.path(), 32768);
    for piece in [16384usize, 65536] {
        for kind in ["v1", "v2", "hybrid"] {
            let out = tmp.path().join(format!("lt-{kind}-{piece}.torrent"));
            let theirs = lt(&[
                "make",
                tree.to_str().unwrap(),
                out.to_str().unwrap(),
                kind,
                &piece.to_string(),
            ]);
            let ours = info_json(&out);
            assert_eq!(
                ours["info_hash_v1"], theirs["v1"],
                "libtorrent {kind} {piece}"
            );
            assert_eq!(
                ours["info_hash_v2"], theirs["v2"],
                "libtorrent {kind} {piece}"
            );
        }
        let out = tmp.path().join(format!("mk-{piece}.torrent"));
        // mktorrent takes 2^15..2^28
        let lg = piece.trailing_zeros().max(15).to_string();
        let o = Command::new("mktorrent")
            .args([
                "-l",
                &lg,
                "-o",
                out.to_str().unwrap(),
                tree.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "mktorrent: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let theirs = lt(&["info", out.to_str().unwrap()]);
        let ours = info_json(&out);
        assert_eq!(ours["info_hash_v1"], theirs["v1"], "mktorrent {piece}");
        assert!(ours["info_hash_v2"].is_null());
        assert_eq!(ours["files"].as_array().unwrap().len(), 6);
    }
}

#[test]
fn info_json_has_the_documented_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = make_tree(tmp.path(), 16384);
    let out = tmp.path().join("t.torrent");
    let o = swarm(&[
        "create",
        tree.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j = info_json(&out);
    assert_eq!(j["name"], "collection");
    assert_eq!(j["info_hash_v1"].as_str().unwrap().len(), 40);
    assert_eq!(j["info_hash_v2"].as_str().unwrap().len(), 64);
    assert!(j["piece_length"].as_u64().unwrap() >= 16384);
    let total: u64 = [0u64, 1, 16383, 16384, 16385, 5 * 16384 + 123].iter().sum();
    assert_eq!(j["total_size"].as_u64().unwrap(), total);
    let files = j["files"].as_array().unwrap();
    assert_eq!(files.len(), 6, "pad files are not listed: {files:?}");
    assert!(
        files
            .iter()
            .any(|f| f["path"] == "collection/sub/deeper/f-many.bin"
                && f["length"] == 5 * 16384 + 123)
    );
    let magnet = j["magnet"].as_str().unwrap();
    assert!(magnet.starts_with("magnet:?"), "{magnet}");
    assert!(
        magnet.contains("urn:btih:") && magnet.contains("urn:btmh:1220"),
        "{magnet}"
    );
}

#[test]
fn verify_counts_failed_pieces() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data.bin");
    let piece = 16384;
    std::fs::write(&data, bytes(10 * piece, 5)).unwrap();
    let t = tmp.path().join("d.torrent");
    for kind in ["--v1", "--v2", "--hybrid"] {
        let o = swarm(&[
            "create",
            data.to_str().unwrap(),
            kind,
            "--piece-size",
            "16384",
            "-o",
            t.to_str().unwrap(),
        ]);
        assert!(o.status.success());
        let ok = swarm(&["verify", t.to_str().unwrap(), data.to_str().unwrap()]);
        assert_eq!(
            ok.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&ok.stdout)
        );
        // flip one byte in piece 3 and one in piece 7
        let mut b = std::fs::read(&data).unwrap();
        b[3 * piece + 5] ^= 1;
        b[7 * piece + 9] ^= 1;
        std::fs::write(&data, &b).unwrap();
        let bad = swarm(&["verify", t.to_str().unwrap(), data.to_str().unwrap()]);
        assert_eq!(bad.status.code(), Some(1));
        let out = String::from_utf8_lossy(&bad.stdout);
        assert!(out.contains("2 of 10"), "{kind}: {out}");
        b[3 * piece + 5] ^= 1;
        b[7 * piece + 9] ^= 1;
        std::fs::write(&data, &b).unwrap();
    }
    // data shorter than the torrent: the missing pieces fail, no crash
    std::fs::write(&data, bytes(4 * piece, 5)).unwrap();
    let short = swarm(&["verify", t.to_str().unwrap(), data.to_str().unwrap()]);
    assert_eq!(
        short.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&short.stderr)
    );
}

fn assert_clean_failure(o: &Output, what: &str) {
    assert!(!o.status.success(), "{what}: should fail");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{what}: {err}"
    );
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{what}: one line expected, got {err:?}"
    );
    assert!(err.starts_with("swarm: "), "{what}: {err}");
}

#[test]
fn bad_input_gets_one_clear_line() {
    let tmp = tempfile::tempdir().unwrap();
    let garbage = tmp.path().join("garbage.torrent");
    std::fs::write(&garbage, b"d4:infod6:lengthi-1e").unwrap();
    let empty = tmp.path().join("empty.torrent");
    std::fs::write(&empty, b"").unwrap();
    let missing = tmp.path().join("nope.torrent");
    for (args, what) in [
        (vec!["info", garbage.to_str().unwrap()], "truncated bencode"),
        (vec!["info", empty.to_str().unwrap()], "empty file"),
        (vec!["info", missing.to_str().unwrap()], "missing file"),
        (
            vec!["verify", missing.to_str().unwrap(), "/nonexistent"],
            "verify missing",
        ),
        (vec!["create", "/nonexistent/x"], "create missing"),
        (
            vec![
                "create",
                tmp.path().to_str().unwrap(),
                "--piece-size",
                "1000",
            ],
            "bad piece size",
        ),
    ] {
        assert_clean_failure(&swarm(&args), what);
    }
    // every malformed torrent of the conformance set
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../piece-core/tests/data/libtorrent-test-torrents");
    let table = std::fs::read_to_string(dir.join("EXPECTED.tsv"))
        .expect("the conformance folder piece-core/tests/data/libtorrent-test-torrents is missing");
    let mut n = 0;
    for line in table.lines().skip(1) {
        let cols: Vec<_> = line.split('\t').collect();
        if cols.get(1) == Some(&"fail") {
            let p = dir.join(cols[0]);
            assert_clean_failure(&swarm(&["info", p.to_str().unwrap()]), cols[0]);
            n += 1;
        }
    }
    assert!(n > 30, "only {n} fail rows found");
}
