//! A librarian's ordinary folders and mistakes: nothing lost, nothing
//! leaked. An unreadable file is skipped and listed, the rest published;
//! litter, partial downloads and the state folder are never published;
//! configs that could lose or leak a file are refused by `check` and `run`
//! with their file and line; `init` writes a private config.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use seedbox::config::Config;
use seedbox::library::Library;

mod support;
use support::{seedbox_bin, tree, SeedboxProcess};

const BASE: &str = "[network]\nlisten = \"127.0.0.1:0\"\nquic_listen = \"127.0.0.1:0\"\nannounce = false\n[web]\nlisten = \"127.0.0.1:0\"\n[limits]\nrescan_secs = 2\n";

fn put(root: &Path, rel: &str, data: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn is_root() -> bool {
    // SAFETY: no arguments, no memory.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn an_unreadable_file_is_skipped_and_listed_and_the_rest_published() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    let lib = root.join("zines");
    put(&lib, "welcome.txt", b"Welcome.\n");
    put(&lib, "poetry/poem.pdf", b"a poem\n");
    put(&lib, "private/locked.pdf", b"copied in by scp as root\n");
    let config = root.join("seedbox.toml");
    std::fs::write(
        &config,
        format!(
            "state_dir = \"state\"\n{BASE}[[collection]]\nname = \"zines\"\npath = \"{}\"\n",
            lib.display()
        ),
    )
    .unwrap();
    // As root (the usual test run), the daemon runs as `nobody` and the
    // file is root's, mode 0600 (as after scp or Samba); otherwise the
    // file is made unreadable to its owner.
    let cmd = if is_root() {
        for p in [root, &lib, &lib.join("poetry"), &lib.join("private")] {
            chmod(p, 0o755);
        }
        for p in [
            &config,
            &lib.join("welcome.txt"),
            &lib.join("poetry/poem.pdf"),
        ] {
            chmod(p, 0o644);
        }
        std::fs::create_dir(root.join("state")).unwrap();
        std::os::unix::fs::chown(root.join("state"), Some(65534), Some(65534)).unwrap();
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(seedbox_bin());
        c
    } else {
        Command::new(seedbox_bin())
    };
    chmod(
        &lib.join("private/locked.pdf"),
        if is_root() { 0o600 } else { 0 },
    );
    let mut sb = SeedboxProcess::start_with(cmd, &config);
    sb.wait_for("version 1 published", Duration::from_secs(60));
    let web = sb.web_url();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        let status: serde_json::Value = ureq::get(&format!("{web}/admin/api/status"))
            .call()
            .unwrap()
            .into_json()
            .unwrap();
        if status["collections"][0]["seq"] == 1 || Instant::now() > deadline {
            break status;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status["collections"][0]["files"], 2, "{status}");
    let skipped = &status["status"]["skipped"]["zines"];
    assert_eq!(skipped[0]["path"], "private/locked.pdf", "{status}");
    assert!(
        skipped[0]["reason"]
            .as_str()
            .unwrap()
            .contains("Permission denied"),
        "{status}"
    );
    let admin = ureq::get(&format!("{web}/admin"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(admin.contains("private/locked.pdf"), "{admin}");
    let page = ureq::get(&format!("{web}/c/zines"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(page.contains("poetry/poem.pdf") && page.contains("welcome.txt"));
    assert!(!page.contains("locked.pdf"));
    sb.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn litter_partial_downloads_and_the_state_folder_are_never_published() {
    let d = tempfile::tempdir().unwrap();
    let lib = d.path().join("zines");
    for f in [
        "zine.pdf",
        "sub/book.epub",
        ".DS_Store",
        "sub/Thumbs.db",
        "desktop.ini",
        ".git/config",
        "draft.pdf.part",
        "film.mp4.crdownload",
        "iso.!qB",
        "notes.txt~",
        "drafts/unfinished.pdf",
        "scans/page.tif",
    ] {
        put(&lib, f, f.as_bytes());
    }
    let file = d.path().join("seedbox.toml");
    std::fs::write(
        &file,
        format!(
            "state_dir = \"state\"\n{BASE}[[collection]]\nname = \"zines\"\npath = \"{}\"\nexclude = [\"drafts\", \"*.tif\"]\n",
            lib.display()
        ),
    )
    .unwrap();
    let mut config = Config::load(&file).unwrap();
    // A state folder inside the collection gets past no `check`; whatever
    // the config says, nothing in it is published.
    config.state_dir = lib.join("seedbox-state");
    let daemon = seedbox::daemon::Daemon::start(config).await.unwrap();
    let lib_view = daemon.shared();
    let deadline = Instant::now() + Duration::from_secs(30);
    while lib_view.snapshot().collection("zines").is_none() {
        assert!(Instant::now() < deadline, "not published");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let files = |l: &dyn Library| -> Vec<String> {
        let s = l.snapshot();
        s.collection("zines")
            .unwrap()
            .files
            .iter()
            .map(|f| f.path.clone())
            .collect()
    };
    assert_eq!(files(&*lib_view), ["sub/book.epub", "zine.pdf"]);
    assert!(lib_view.state_dir().join("identity.key").is_file());
    let skipped = lib_view.status().skipped;
    assert_eq!(skipped["zines"][0].path, "seedbox-state/", "{skipped:?}");
    // The daemon writes its state (resume data) all along: that is not a
    // change of the collection, so no new version.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let snap = lib_view.snapshot();
    assert_eq!(snap.collection("zines").unwrap().seq, 1);
    assert_eq!(files(&*lib_view), ["sub/book.epub", "zine.pdf"]);
    daemon.shutdown().await;
}

/// `seedbox check` and `seedbox run` on `config`: both must refuse it,
/// naming `needle`; returns check's message.
fn refused(config: &Path, needle: &str) -> String {
    let mut first = String::new();
    for verb in ["check", "run"] {
        let o = Command::new(seedbox_bin())
            .args([verb, "--config"])
            .arg(config)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(!o.status.success(), "{verb} accepted it: {err}");
        assert!(err.contains(needle), "{verb}: {err}");
        if first.is_empty() {
            first = err;
        }
    }
    first
}

#[test]
fn check_and_run_refuse_what_could_lose_or_leak() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    let cfg = root.join("seedbox.toml");
    let write =
        |body: &str| std::fs::write(&cfg, format!("state_dir = \"state\"\n{BASE}{body}")).unwrap();
    put(root, "zines/zine.pdf", b"zine");
    put(root, "lib/books/my-own.pdf", b"the librarian's own");

    // A mirror pointed at a folder around a collection, or at one that
    // holds files: both refused, naming the mirror's `path` line.
    write("[[collection]]\nname = \"books\"\npath = \"lib/books\"\n[[mirror]]\nname = \"zines\"\npath = \"lib\"\n");
    let e = refused(&cfg, "seedbox.toml:15: mirror \"zines\"");
    assert!(e.contains("contains collection \"books\""), "{e}");
    write("[[mirror]]\nname = \"zines\"\npath = \"lib/books\"\n");
    let e = refused(&cfg, "seedbox.toml:12:");
    let books = root.join("lib/books");
    assert!(
        e.contains("my-own.pdf") && e.contains(&books.display().to_string()),
        "{e}"
    );
    assert_eq!(
        tree(&books),
        [("my-own.pdf".into(), b"the librarian's own".to_vec())]
    );

    // Nested collections; the state folder inside a collection; one port.
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::write(
        &cfg,
        format!(
            "state_dir = \"{}\"\n{BASE}[[collection]]\nname = \"a\"\npath = \".\"\n",
            elsewhere.path().join("state").display()
        ),
    )
    .unwrap();
    refused(&cfg, "seedbox.toml:12: collection \"a\"");
    std::fs::create_dir_all(root.join("zines/sub")).unwrap();
    write("[[collection]]\nname = \"a\"\npath = \"zines\"\n[[collection]]\nname = \"b\"\npath = \"zines/sub\"\n");
    refused(&cfg, "seedbox.toml:15: collection \"b\"");
    std::fs::write(
        &cfg,
        format!(
            "state_dir = \"zines/.state\"\n{BASE}[[collection]]\nname = \"a\"\npath = \"zines\"\n"
        ),
    )
    .unwrap();
    refused(&cfg, "seedbox.toml:1: state_dir");
    std::fs::write(
        &cfg,
        "state_dir = \"state\"\n[network]\nlisten = \"0.0.0.0:8080\"\n",
    )
    .unwrap();
    refused(&cfg, "seedbox.toml:3:");

    // `init` writes the config for its owner only, even over an old one.
    let new = root.join("etc/seedbox.toml");
    let o = Command::new(seedbox_bin())
        .args(["init", "--config"])
        .arg(&new)
        .output()
        .unwrap();
    assert!(o.status.success());
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&new), 0o600);
    chmod(&new, 0o644);
    let o = Command::new(seedbox_bin())
        .args(["init", "--force", "--config"])
        .arg(&new)
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(mode(&new), 0o600);
}

/// GET `url` (off the async threads): status and body.
async fn get(url: String) -> (u16, Vec<u8>) {
    tokio::task::spawn_blocking(move || match ureq::get(&url).call() {
        Ok(r) => {
            let status = r.status();
            let mut body = Vec::new();
            std::io::Read::read_to_end(&mut r.into_reader(), &mut body).unwrap();
            (status, body)
        }
        Err(ureq::Error::Status(code, _)) => (code, Vec::new()),
        Err(e) => panic!("{e}"),
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_replaced_with_its_old_size_and_time_is_seen() {
    let d = tempfile::tempdir().unwrap();
    let lib = d.path().join("zines");
    let first: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    put(&lib, "book.pdf", &first);
    put(&lib, "other.txt", b"other");
    let file = d.path().join("seedbox.toml");
    std::fs::write(
        &file,
        format!(
            "state_dir = \"state\"\n{BASE}[[collection]]\nname = \"zines\"\npath = \"{}\"\n",
            lib.display()
        ),
    )
    .unwrap();
    let daemon = seedbox::daemon::Daemon::start(Config::load(&file).unwrap())
        .await
        .unwrap();
    let view = daemon.shared();
    let seq = || view.snapshot().collection("zines").map_or(0, |c| c.seq);
    let url = format!(
        "http://{}/c/zines/f/{}",
        daemon.web_addr().unwrap(),
        seedbox::shared::file_id("book.pdf")
    );
    let wait = |what: &'static str| {
        let deadline = Instant::now() + Duration::from_secs(30);
        move || assert!(Instant::now() < deadline, "{what}")
    };
    let bound = wait("version 1");
    while seq() < 1 {
        bound();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(get(url.clone()).await, (200, first.clone()));
    let book = lib.join("book.pdf");
    let mtime = std::fs::metadata(&book).unwrap().modified().unwrap();

    // An identical copy renamed over it, its time kept (`rsync -a`, `cp -p`):
    // a new inode, the same content. Served again, same version.
    put(&lib, ".book.pdf.tmp", &first);
    std::fs::File::options()
        .write(true)
        .open(lib.join(".book.pdf.tmp"))
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    std::fs::rename(lib.join(".book.pdf.tmp"), &book).unwrap();
    let bound = wait("the replaced file is served again");
    while get(url.clone()).await.0 != 200 {
        bound();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(seq(), 1);

    // Rewritten in place with its size and time put back: a new version,
    // whose hashes and bytes are the new data's.
    let second: Vec<u8> = first.iter().map(|b| b ^ 0x5a).collect();
    std::fs::write(&book, &second).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&book)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let bound = wait("a new version for the rewritten file");
    while seq() < 2 {
        bound();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(get(url.clone()).await, (200, second));
    let snap = view.snapshot();
    let meta =
        piece_core::metainfo::Metainfo::from_bytes(&snap.collection("zines").unwrap().torrent)
            .unwrap();
    let hashes = piece_core::hash::PieceHashes::new(&meta).unwrap();
    let data: Vec<u8> = std::fs::read(&book).unwrap();
    assert!(
        (meta.info.piece_length as usize) < data.len(),
        "book.pdf spans pieces"
    );
    assert!(hashes.verify(
        piece_core::types::PieceIndex::new_unchecked(0),
        &data[..meta.info.piece_length as usize]
    ));
    daemon.shutdown().await;
}
