//! Two daemons in one process on 127.0.0.1: B mirrors A's collection.
//! B gets a full verified copy; when A's folder changes, B fetches only
//! what changed (asserted on the bytes B downloads); a forger's collection
//! of the same name is not followed, nor is a catalogue that pairs A's
//! signed records with magnets of another torrent; B deletes only files it
//! downloaded itself; B shows A's signed title, not a relayed forgery.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use swarm::discovery::catalogue;
use tokio::io::AsyncReadExt;

use seedbox::config::Config;
use seedbox::daemon::Daemon;
use seedbox::library::{Library, Origin};

mod support;
use support::tree;

fn config(dir: &Path, body: &str) -> Config {
    config_with(dir, "listen = \"\"", "", body)
}

/// A config with `web` and `limits` lines of its own.
fn config_with(dir: &Path, web: &str, limits: &str, body: &str) -> Config {
    let text = format!(
        "state_dir = \"state\"\n[network]\nlisten = \"127.0.0.1:0\"\nquic_listen = \"127.0.0.1:0\"\nannounce = false\n[web]\n{web}\n[limits]\nrescan_secs = 2\n{limits}\n{body}"
    );
    let p = dir.join("seedbox.toml");
    std::fs::write(&p, &text).unwrap();
    Config::load(&p).unwrap()
}

/// Wait (bounded) until `lib` lists `name` at version >= `seq`.
async fn wait_seq(lib: &dyn Library, name: &str, seq: u64, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let s = lib.snapshot();
        if s.collection(name).is_some_and(|c| c.seq >= seq) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} did not reach version {seq} within {timeout:?}; have {:?}",
            s.collection(name).map(|c| c.seq)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Wait (bounded) until mirror folder `copy` holds what `lib` holds: a
/// version is listed first, then the folder is tidied (files it dropped
/// deleted, the marker rewritten through a temporary file).
async fn wait_same_tree(copy: &Path, lib: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tree(copy) != tree(lib) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(tree(copy), tree(lib));
}

/// Wait (bounded) until `d` runs exactly collection `name`'s current
/// version and its v1 companion: the previous version's are stopped.
async fn wait_seeding_current(d: &Daemon, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let snap = d.shared().snapshot();
        let c = snap.collection(name).unwrap();
        // made and seeded once asked for, as the page does
        let companion = d.shared().v1_torrent(name).expect("a v1 companion");
        let companion = piece_core::metainfo::Metainfo::from_bytes(&companion).unwrap();
        let mut want = vec![
            c.info_hash_v1.clone(),
            companion.info_hashes.v1.map(|h| h.to_hex()),
        ];
        want.sort();
        let mut have: Vec<Option<String>> = d
            .torrents()
            .iter()
            .map(|h| h.v1.map(|h| h.to_hex()))
            .collect();
        have.sort();
        if have == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name}: running {have:?}, want {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A daemon in `dir` publishing `lib` as collection `name`, at version 1.
async fn publisher(dir: &Path, name: &str, lib: &Path) -> Daemon {
    publisher_with(dir, name, lib, ("listen = \"\"", "")).await
}

/// [`publisher`] with `web` and `limits` lines of its own.
async fn publisher_with(dir: &Path, name: &str, lib: &Path, (web, limits): (&str, &str)) -> Daemon {
    let body = format!(
        "[[collection]]\nname = \"{name}\"\npath = \"{}\"\n",
        lib.display()
    );
    let d = Daemon::start(config_with(dir, web, limits, &body))
        .await
        .unwrap();
    wait_seq(&*d.shared(), name, 1, Duration::from_secs(30)).await;
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_follows_and_fetches_only_what_changed() {
    let a_dir = tempfile::tempdir().unwrap();
    let b_dir = tempfile::tempdir().unwrap();
    let lib_a = a_dir.path().join("library");
    std::fs::create_dir_all(lib_a.join("ebooks")).unwrap();
    // 3 MB that never changes, plus small files.
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(lib_a.join("ebooks/big-book.epub"), &big).unwrap();
    std::fs::write(lib_a.join("readme.txt"), b"read me\n").unwrap();
    std::fs::write(lib_a.join("old-flyer.txt"), b"last month's events\n").unwrap();
    let a = publisher(a_dir.path(), "zines", &lib_a).await;
    let a_addr = a.tcp_addr().unwrap();

    let copy = b_dir.path().join("zines-copy");
    let b = Daemon::start(config(
        b_dir.path(),
        &format!(
            "[[mirror]]\nname = \"zines\"\nlocal_name = \"zines-north\"\ntitle = \"Zines from the North\"\npath = \"{}\"\npeers = [\"{a_addr}\"]\npoll_secs = 1\n",
            copy.display()
        ),
    ))
    .await
    .unwrap();
    let lib_b = b.shared();
    wait_seq(&*lib_b, "zines-north", 1, Duration::from_secs(60)).await;
    wait_same_tree(&copy, &lib_a).await;
    let snap = lib_b.snapshot();
    let c = snap.collection("zines-north").unwrap();
    assert_eq!(c.origin, Origin::Mirror);
    assert_eq!(c.title, "Zines from the North", "[[mirror]] title");
    assert_eq!(c.key, a.key(), "the copy carries the publisher's key");
    assert!(c.files.iter().all(|f| f.complete));
    let first = lib_b.downloaded("zines-north");
    use std::os::unix::fs::MetadataExt;
    let book_inode = std::fs::metadata(copy.join("ebooks/big-book.epub"))
        .unwrap()
        .ino();
    assert!(
        first >= big.len() as u64,
        "first copy downloaded {first} bytes"
    );

    // A adds a zine and drops a flyer: B follows, fetching only the change.
    let new_zine: Vec<u8> = (0..40_000u32).map(|i| (i % 7) as u8).collect();
    std::fs::write(lib_a.join("ebooks/new-zine.pdf"), &new_zine).unwrap();
    std::fs::remove_file(lib_a.join("old-flyer.txt")).unwrap();
    wait_seq(&*a.shared(), "zines", 2, Duration::from_secs(30)).await;
    wait_seq(&*lib_b, "zines-north", 2, Duration::from_secs(60)).await;
    wait_same_tree(&copy, &lib_a).await;
    // The unchanged book was carried over (linked into the staging folder
    // and renamed back): the very file that was verified, not a copy.
    let after = std::fs::metadata(copy.join("ebooks/big-book.epub")).unwrap();
    assert_eq!(after.ino(), book_inode);
    let second = lib_b.downloaded("zines-north") - first;
    eprintln!(
        "mirror: first copy {first} bytes, second version {second} bytes for a {}-byte new file",
        new_zine.len()
    );
    // The new file's pieces (and at most a piece of slack per changed
    // file), never the unchanged 3 MB book again.
    assert!(second >= new_zine.len() as u64, "downloaded {second} bytes");
    assert!(
        second < new_zine.len() as u64 + 600_000,
        "downloaded {second} bytes for a {}-byte change: unchanged files were transferred again",
        new_zine.len()
    );
    wait_seeding_current(&a, "zines").await;
    wait_seeding_current(&b, "zines-north").await;

    b.shutdown().await;
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_collection_is_not_followed() {
    // Two publishers call their collection "zines"; the mirror pins A's key
    // and must copy A's files, never the forger's, even at a higher version.
    let a_dir = tempfile::tempdir().unwrap();
    let f_dir = tempfile::tempdir().unwrap();
    let b_dir = tempfile::tempdir().unwrap();
    let lib_a = a_dir.path().join("z");
    let lib_f = f_dir.path().join("z");
    std::fs::create_dir_all(&lib_a).unwrap();
    std::fs::create_dir_all(&lib_f).unwrap();
    std::fs::write(lib_a.join("real.txt"), b"the real zine\n").unwrap();
    std::fs::write(lib_f.join("fake.txt"), b"a forgery\n").unwrap();
    let coll = |p: &Path| {
        format!(
            "[[collection]]\nname = \"zines\"\npath = \"{}\"\n",
            p.display()
        )
    };
    let a = Daemon::start(config(a_dir.path(), &coll(&lib_a)))
        .await
        .unwrap();
    let f = Daemon::start(config(f_dir.path(), &coll(&lib_f)))
        .await
        .unwrap();
    // The forger publishes a few versions to get a higher number.
    wait_seq(&*f.shared(), "zines", 1, Duration::from_secs(30)).await;
    for i in 0..2 {
        std::fs::write(lib_f.join(format!("more{i}.txt")), b"x").unwrap();
        wait_seq(&*f.shared(), "zines", 2 + i, Duration::from_secs(30)).await;
    }
    wait_seq(&*a.shared(), "zines", 1, Duration::from_secs(30)).await;
    let copy = b_dir.path().join("copy");
    let b = Daemon::start(config(
        b_dir.path(),
        &format!(
            "[[mirror]]\nname = \"zines\"\nkey = \"{}\"\npath = \"{}\"\npeers = [\"{}\", \"{}\"]\npoll_secs = 1\n",
            a.key(),
            copy.display(),
            f.tcp_addr().unwrap(),
            a.tcp_addr().unwrap()
        ),
    ))
    .await
    .unwrap();
    wait_seq(&*b.shared(), "zines", 1, Duration::from_secs(60)).await;
    wait_same_tree(&copy, &lib_a).await;
    assert_eq!(b.shared().snapshot().collection("zines").unwrap().seq, 1);
    b.shutdown().await;
    f.shutdown().await;
    a.shutdown().await;
}

/// Issue 15 §2: a mirrored collection keeps the publisher's title, which
/// its signature covers: a catalogue that renames it is not believed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_shows_the_publishers_signed_title_not_a_forged_one() {
    let a_dir = tempfile::tempdir().unwrap();
    let b_dir = tempfile::tempdir().unwrap();
    let lib = a_dir.path().join("zines");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::write(lib.join("a.txt"), b"a zine\n").unwrap();
    let a = Daemon::start(config(
        a_dir.path(),
        &format!(
            "[[collection]]\nname = \"zines\"\ntitle = \"Zines of the Northside\"\npath = \"{}\"\n",
            lib.display()
        ),
    ))
    .await
    .unwrap();
    wait_seq(&*a.shared(), "zines", 1, Duration::from_secs(30)).await;
    // A host that relays A's catalogue with the title changed (the rest
    // of each record intact), listed first.
    let publisher = a.tcp_addr().unwrap();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let renamer = l.local_addr().unwrap();
    let relayed = Arc::new(AtomicUsize::new(0));
    let count = relayed.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let mut hs = [0u8; 68];
            if s.read_exact(&mut hs).await.is_err() {
                continue;
            }
            let Ok(mut cat) = catalogue::query(publisher, Duration::from_secs(5)).await else {
                continue;
            };
            for sh in &mut cat.shares {
                if let Some(c) = sh.collection.as_mut() {
                    c.title = Some("Renamed by a stranger".into());
                }
            }
            if catalogue::serve_after_handshake(&mut s, &[7; 20], &cat)
                .await
                .is_ok()
            {
                count.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    let b = Daemon::start(config(
        b_dir.path(),
        &format!(
            "[[mirror]]\nname = \"zines\"\nlocal_name = \"north\"\npath = \"{}\"\npeers = [\"{renamer}\", \"{publisher}\"]\npoll_secs = 1\n",
            b_dir.path().join("copy").display()
        ),
    ))
    .await
    .unwrap();
    wait_seq(&*b.shared(), "north", 1, Duration::from_secs(60)).await;
    assert!(relayed.load(Ordering::SeqCst) > 0, "the renamer was asked");
    let snap = b.shared().snapshot();
    assert_eq!(
        snap.collection("north").unwrap().title,
        "Zines of the Northside"
    );
    b.shutdown().await;
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_other_systems_forbid_are_published_and_mirrored() {
    // `<`, `>`, `?`, `:` are fine on Linux but sanitised out of torrent
    // paths when parsed: the publisher must still find its files, and the
    // mirror stores the bytes under the sanitised names.
    let a_dir = tempfile::tempdir().unwrap();
    let b_dir = tempfile::tempdir().unwrap();
    let lib = a_dir.path().join("odd");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::write(lib.join("<script>alert(1)<script>.pdf"), b"not a script\n").unwrap();
    std::fs::write(lib.join("what?: a zine.txt"), b"questions\n").unwrap();
    let a = publisher(a_dir.path(), "odd", &lib).await;
    let snap = a.shared().snapshot();
    let paths: Vec<&str> = snap
        .collection("odd")
        .unwrap()
        .files
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(paths, ["<script>alert(1)<script>.pdf", "what?: a zine.txt"]);
    for f in &snap.collection("odd").unwrap().files {
        assert!(
            f.disk_path.starts_with(&lib) && f.disk_path.is_file(),
            "{:?}",
            f.disk_path
        );
    }
    let copy = b_dir.path().join("copy");
    let b = Daemon::start(config(
        b_dir.path(),
        &format!(
            "[[mirror]]\nname = \"odd\"\npath = \"{}\"\npeers = [\"{}\"]\npoll_secs = 1\n",
            copy.display(),
            a.tcp_addr().unwrap()
        ),
    ))
    .await
    .unwrap();
    wait_seq(&*b.shared(), "odd", 1, Duration::from_secs(60)).await;
    let got: Vec<Vec<u8>> = tree(&copy).into_iter().map(|(_, b)| b).collect();
    let want: Vec<Vec<u8>> = tree(&lib).into_iter().map(|(_, b)| b).collect();
    assert_eq!(got, want);
    b.shutdown().await;
    a.shutdown().await;
}

/// A LAN host that answers catalogue queries with `publisher`'s own entries
/// (their signed records intact) but each magnet rewritten to fetch
/// `evil_v1` from `evil_peer`, naming the signed hashes only as text in
/// unknown keys. It answers nothing else. Returns its address and the
/// number of catalogues it served.
async fn hostile_catalogue(
    publisher: SocketAddr,
    evil_v1: String,
    evil_peer: SocketAddr,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let served = Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let (evil_v1, count) = (evil_v1.clone(), count.clone());
            tokio::spawn(async move {
                let mut hs = [0u8; 68];
                if s.read_exact(&mut hs).await.is_err() || hs[28..48] != catalogue::CATALOGUE_HASH {
                    return;
                }
                let Ok(mut cat) = catalogue::query(publisher, Duration::from_secs(5)).await else {
                    return;
                };
                for sh in &mut cat.shares {
                    let h = sh.info_hashes;
                    let (v1, v2) = (h.v1.unwrap().to_hex(), h.v2.unwrap().to_hex());
                    sh.magnet = format!(
                        "magnet:?xt=urn:btih:{evil_v1}&zz=xt=urn:btih:{v1}&yy=xt=urn:btmh:1220{v2}&x.pe={evil_peer}"
                    );
                }
                if catalogue::serve_after_handshake(&mut s, &[7; 20], &cat)
                    .await
                    .is_ok()
                {
                    count.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    (addr, served)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_catalogue_cannot_swap_the_signed_version() {
    let a_dir = tempfile::tempdir().unwrap();
    let e_dir = tempfile::tempdir().unwrap();
    let b_dir = tempfile::tempdir().unwrap();
    let lib_a = a_dir.path().join("zines");
    std::fs::create_dir_all(&lib_a).unwrap();
    std::fs::write(lib_a.join("real.txt"), b"the real zine\n").unwrap();
    std::fs::write(lib_a.join("keep.txt"), b"another real zine\n").unwrap();
    let a = publisher(a_dir.path(), "zines", &lib_a).await;

    // The attacker seeds its own torrent and serves a catalogue of A's
    // records whose magnets point at it.
    let evil_src = e_dir.path().join("zines");
    std::fs::create_dir_all(&evil_src).unwrap();
    std::fs::write(evil_src.join("real.txt"), b"a forgery\n").unwrap();
    std::fs::write(evil_src.join("evil.txt"), b"malware\n").unwrap();
    let evil = swarm::session::Session::new(swarm::session::SessionConfig {
        listen_tcp: Some("127.0.0.1:0".parse().unwrap()),
        listen_quic: None,
        ..Default::default()
    })
    .await
    .unwrap();
    let evil_torrent = evil
        .share_path(&evil_src, Default::default())
        .await
        .unwrap();
    let evil_v1 = evil_torrent.info_hashes().v1.unwrap().to_hex();
    let (hostile, served) =
        hostile_catalogue(a.tcp_addr().unwrap(), evil_v1, evil.tcp_addr().unwrap()).await;

    // The mirror asks A, then the hostile host: both offer version 1 under
    // A's key; the hostile entry is the one seen last.
    let copy = b_dir.path().join("copy");
    let b = Daemon::start(config(
        b_dir.path(),
        &format!(
            "[[mirror]]\nname = \"zines\"\nkey = \"{}\"\npath = \"{}\"\npeers = [\"{}\", \"{hostile}\"]\npoll_secs = 1\n",
            a.key(),
            copy.display(),
            a.tcp_addr().unwrap(),
        ),
    ))
    .await
    .unwrap();
    wait_seq(&*b.shared(), "zines", 1, Duration::from_secs(60)).await;
    assert!(
        served.load(Ordering::SeqCst) >= 1,
        "the hostile catalogue was asked"
    );
    // The signed version, not the attacker's.
    wait_same_tree(&copy, &lib_a).await;

    // Version 2: the hostile catalogue offers its record too. The mirror
    // takes the signed torrent, and its tidy step deletes nothing real.
    std::fs::write(lib_a.join("new.txt"), b"this month\n").unwrap();
    wait_seq(&*a.shared(), "zines", 2, Duration::from_secs(30)).await;
    wait_seq(&*b.shared(), "zines", 2, Duration::from_secs(60)).await;
    wait_same_tree(&copy, &lib_a).await;
    let snap = b.shared().snapshot();
    let c = snap.collection("zines").unwrap();
    let a_snap = a.shared().snapshot();
    let real = a_snap.collection("zines").unwrap();
    assert_eq!(
        (&c.info_hash_v1, &c.info_hash_v2),
        (&real.info_hash_v1, &real.info_hash_v2)
    );
    assert!(c.files.iter().all(|f| f.path != "evil.txt"));
    b.shutdown().await;
    a.shutdown().await;
    evil.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_deletes_only_files_it_downloaded() {
    let a_dir = tempfile::tempdir().unwrap();
    let b_dir = tempfile::tempdir().unwrap();
    let lib_a = a_dir.path().join("zines");
    std::fs::create_dir_all(lib_a.join("sub")).unwrap();
    std::fs::write(lib_a.join("flyer.txt"), b"last month\n").unwrap();
    std::fs::write(lib_a.join("sub/zine.txt"), b"a zine\n").unwrap();
    let a = publisher(a_dir.path(), "zines", &lib_a).await;

    // A folder that already holds the librarian's files is refused,
    // by the config check and by the daemon, and stays as it was.
    let full = b_dir.path().join("books");
    std::fs::create_dir_all(&full).unwrap();
    std::fs::write(full.join("my-own.pdf"), b"the librarian's\n").unwrap();
    let mirror = |path: &Path| {
        format!(
            "[[mirror]]\nname = \"zines\"\npath = \"{}\"\npeers = [\"{}\"]\npoll_secs = 1\n",
            path.display(),
            a.tcp_addr().unwrap()
        )
    };
    let p = b_dir.path().join("seedbox.toml");
    std::fs::write(&p, format!("state_dir = \"state\"\n{}", mirror(&full))).unwrap();
    let e = Config::load(&p).unwrap_err().to_string();
    assert!(
        e.contains(&full.display().to_string()) && e.contains("my-own.pdf"),
        "{e}"
    );
    let mut bypass = config(b_dir.path(), &mirror(&b_dir.path().join("copy")));
    bypass.mirrors[0].path = full.clone();
    let b = Daemon::start(bypass).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(b.shared().snapshot().collection("zines").is_none());
    assert_eq!(
        tree(&full),
        [("my-own.pdf".to_string(), b"the librarian's\n".to_vec())]
    );
    b.shutdown().await;

    // A new folder: the mirror's own. A file the librarian drops in later
    // is never deleted, though no version lists it.
    let copy = b_dir.path().join("copy");
    let b = Daemon::start(config(b_dir.path(), &mirror(&copy)))
        .await
        .unwrap();
    wait_seq(&*b.shared(), "zines", 1, Duration::from_secs(60)).await;
    std::fs::write(copy.join("sub/notes.txt"), b"mine\n").unwrap();
    std::fs::remove_file(lib_a.join("flyer.txt")).unwrap();
    std::fs::write(lib_a.join("sub/zine.txt"), b"a zine, second edition\n").unwrap();
    wait_seq(&*a.shared(), "zines", 2, Duration::from_secs(30)).await;
    wait_seq(&*b.shared(), "zines", 2, Duration::from_secs(60)).await;
    let mut want = tree(&lib_a);
    want.push(("sub/notes.txt".into(), b"mine\n".to_vec()));
    want.sort();
    assert_eq!(tree(&copy), want, "flyer.txt deleted, notes.txt kept");
    b.shutdown().await;
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_serves_its_version_while_it_fetches_the_next() {
    // A's uploads are slow (20 KB/s per collection), so B's fetch of
    // version 2 (a 2 MB new file, a changed book) takes a while; all that
    // time B seeds, lists and serves version 1, whole.
    let a_dir = tempfile::tempdir().unwrap();
    let b_dir = tempfile::tempdir().unwrap();
    let lib_a = a_dir.path().join("zines");
    std::fs::create_dir_all(&lib_a).unwrap();
    let book_v1: Vec<u8> = (0..60_000u32).map(|i| (i % 241) as u8).collect();
    std::fs::write(lib_a.join("book.pdf"), &book_v1).unwrap();
    std::fs::write(lib_a.join("flyer.txt"), b"this week\n").unwrap();
    let a = publisher_with(
        a_dir.path(),
        "zines",
        &lib_a,
        ("listen = \"\"", "upload_rate = 20000"),
    )
    .await;
    let copy = b_dir.path().join("copy");
    let b = Daemon::start(config_with(
        b_dir.path(),
        "listen = \"127.0.0.1:0\"",
        "",
        &format!(
            "[[mirror]]\nname = \"zines\"\npath = \"{}\"\npeers = [\"{}\"]\npoll_secs = 1\n",
            copy.display(),
            a.tcp_addr().unwrap()
        ),
    ))
    .await
    .unwrap();
    wait_seq(&*b.shared(), "zines", 1, Duration::from_secs(60)).await;
    let v1_tree = tree(&lib_a);
    assert_eq!(tree(&copy), v1_tree);
    let v1 = b.shared().snapshot().collection("zines").unwrap().clone();
    let uploaded = || {
        let st = a.shared().status();
        st.collections.iter().map(|c| c.uploaded).sum::<u64>()
    };
    let first = uploaded();

    let book_v2: Vec<u8> = (0..60_000u32).map(|i| (i % 239) as u8).collect();
    std::fs::write(lib_a.join("book.pdf"), &book_v2).unwrap();
    let big: Vec<u8> = (0..2_000_000u32).map(|i| (i % 233) as u8).collect();
    std::fs::write(lib_a.join("big.pdf"), &big).unwrap();
    wait_seq(&*a.shared(), "zines", 2, Duration::from_secs(30)).await;
    // B is fetching version 2 (A has sent some of it).
    let deadline = Instant::now() + Duration::from_secs(90);
    while uploaded() < first + 40_000 {
        assert!(
            Instant::now() < deadline,
            "B did not start fetching version 2"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let url = format!(
        "http://{}/c/zines/f/{}",
        b.web_addr().unwrap(),
        seedbox::shared::file_id("book.pdf")
    );
    let b_tcp = b.tcp_addr().unwrap();
    for _ in 0..3 {
        let snap = b.shared().snapshot();
        let c = snap.collection("zines").unwrap();
        assert!(
            c.seq == 1 && c.files.iter().all(|f| f.complete),
            "B lists version {} while fetching",
            c.seq
        );
        assert_eq!(tree(&copy), v1_tree, "B's folder holds version 1, whole");
        let cat = catalogue::query(b_tcp, Duration::from_secs(10))
            .await
            .unwrap();
        assert!(
            cat.shares
                .iter()
                .any(|s| s.info_hashes.v1.map(|h| h.to_hex()) == v1.info_hash_v1),
            "B no longer offers version 1 on the LAN while fetching version 2"
        );
        let got = tokio::task::spawn_blocking({
            let url = url.clone();
            move || {
                let mut got = Vec::new();
                let r = ureq::get(&url).call().expect("the book is served");
                std::io::Read::read_to_end(&mut r.into_reader(), &mut got).unwrap();
                got
            }
        })
        .await
        .unwrap();
        assert_eq!(got, book_v1, "a patron gets version 1's book, whole");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        b.shared().snapshot().collection("zines").unwrap().seq == 1,
        "the test needs the fetch to be still running"
    );
    b.shutdown().await;
    a.shutdown().await;
}

/// GET `url` with extra headers: (status, ETag, body).
async fn get(url: String, headers: &[(&str, &str)]) -> (u16, String, Vec<u8>) {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let mut req = ureq::get(&url);
        for (k, v) in &headers {
            req = req.set(k, v);
        }
        let r = req.call().unwrap();
        let (status, etag) = (r.status(), r.header("etag").unwrap_or("").to_string());
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut r.into_reader(), &mut body).unwrap();
        (status, etag, body)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_files_etag_changes_with_its_content_only() {
    // A phone resuming a large PDF (Range + If-Range) is not sent back to
    // zero because another file of the collection changed.
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("zines");
    std::fs::create_dir_all(&lib).unwrap();
    let book: Vec<u8> = (0..200_000u32).map(|i| (i % 247) as u8).collect();
    std::fs::write(lib.join("book.pdf"), &book).unwrap();
    std::fs::write(lib.join("flyer.txt"), b"this week\n").unwrap();
    let a = publisher_with(dir.path(), "zines", &lib, ("listen = \"127.0.0.1:0\"", "")).await;
    let url = format!(
        "http://{}/c/zines/f/{}",
        a.web_addr().unwrap(),
        seedbox::shared::file_id("book.pdf")
    );
    let (status, e1, body) = get(url.clone(), &[]).await;
    assert_eq!((status, body.len()), (200, book.len()));
    assert!(e1.starts_with('"') && e1.len() > 2, "{e1:?}");

    std::fs::write(lib.join("flyer.txt"), b"next week\n").unwrap();
    wait_seq(&*a.shared(), "zines", 2, Duration::from_secs(30)).await;
    let (status, e2, body) = get(
        url.clone(),
        &[("Range", "bytes=150000-"), ("If-Range", e1.as_str())],
    )
    .await;
    assert_eq!(e2, e1, "another file's change altered the book's ETag");
    assert_eq!(status, 206, "the resumed download was sent back to zero");
    assert_eq!(body, book[150_000..]);

    let mut book2 = book.clone();
    book2[0] ^= 1;
    std::fs::write(lib.join("book.pdf"), &book2).unwrap();
    wait_seq(&*a.shared(), "zines", 3, Duration::from_secs(30)).await;
    let (status, e3, body) = get(
        url.clone(),
        &[("Range", "bytes=150000-"), ("If-Range", e1.as_str())],
    )
    .await;
    assert_ne!(e3, e1, "the book changed, its ETag must too");
    assert_eq!((status, body), (200, book2));
    a.shutdown().await;
}
