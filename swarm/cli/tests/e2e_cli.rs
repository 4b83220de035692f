//! `swarm share` and `swarm get` as processes on 127.0.0.1.

use std::process::Command;

#[path = "support/procs.rs"]
mod procs;
use procs::{share, swarm};

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

/// Issue 14, finding 8: names that are legal on Linux but that torrent
/// parsing sanitises (`?`, `<>:"|*`, a trailing dot) are shared under
/// their real names, for a folder and for a single file.
#[test]
fn share_keeps_real_file_names_that_torrents_sanitise() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("odd: names?");
    std::fs::create_dir_all(dir.join("sub dir*")).unwrap();
    let files = [
        "what is anarchy?.pdf",
        "<>:\"|*.txt",
        "trailing dot.",
        "sub dir*/also?.txt",
    ];
    let mut want = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let body: Vec<u8> = (0..40_000 + i * 999).map(|k| (k * 7 + i) as u8).collect();
        std::fs::write(dir.join(f), &body).unwrap();
        want.push(body);
    }
    let single = d.path().join("flyer?.pdf");
    std::fs::write(&single, b"a single file with an odd name").unwrap();
    want.push(std::fs::read(&single).unwrap());
    for (k, path) in [dir, single].iter().enumerate() {
        let (_seeder, magnet, tcp, _) = share(path, &d.path().join(format!("s{k}")));
        let out_dir = d.path().join(format!("out{k}"));
        let out = swarm()
            .args(["get", &magnet, "-o"])
            .arg(&out_dir)
            .args(["--listen", "127.0.0.1:0", "--no-quic", "--peer", &tcp])
            .arg("--state-dir")
            .arg(d.path().join(format!("g{k}")))
            .output()
            .unwrap();
        let se = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{se}");
        // what the getter wrote (under the torrent's sanitised names) is
        // byte for byte what was shared
        let mut got: Vec<Vec<u8>> = piece_core::create::list_files(&out_dir)
            .unwrap()
            .iter()
            .map(|f| std::fs::read(&f.abs).unwrap())
            .collect();
        let mut expect = if k == 0 {
            want[..4].to_vec()
        } else {
            want[4..].to_vec()
        };
        got.sort();
        expect.sort();
        assert!(
            got == expect,
            "downloaded files differ from the shared ones"
        );
    }
}
