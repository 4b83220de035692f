//! A catalogue that reads like a library, through a real daemon: titles,
//! authors, languages and covers from EPUB and PDF files and from the
//! librarian's `catalogue.toml`; search by any word of title, author, tags
//! or file name, folded; covers as thumbnails; OPDS feeds that validate
//! against the OPDS 1.2 RELAX NG schema (jing), with stable unique ids,
//! conditional GETs and 404 for pages that do not exist; metadata kept in
//! the state folder across restarts.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use seedbox::meta::samples;

mod support;
use support::SeedboxProcess;

const BASE: &str = "[network]\nlisten = \"127.0.0.1:0\"\nquic_listen = \"127.0.0.1:0\"\nannounce = false\n[web]\nlisten = \"127.0.0.1:0\"\ntitle = \"Test Library\"\n[limits]\nrescan_secs = 300\n";

const SIDECAR: &str = r#"
[[file]]
path = "notes/minutes-2026.txt"
title = "Meeting Notes"
author = "The Collective"
tags = ["minutes", "assembly"]
"#;

fn put(root: &Path, rel: &str, data: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

fn get(url: &str) -> (u16, String) {
    match ureq::get(url).call() {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(s, r)) => (s, r.into_string().unwrap_or_default()),
        Err(e) => panic!("{url}: {e}"),
    }
}

fn get_bytes(url: &str) -> (String, Vec<u8>) {
    let r = ureq::get(url).call().unwrap();
    let ct = r.content_type().to_string();
    let mut b = Vec::new();
    std::io::Read::read_to_end(&mut r.into_reader(), &mut b).unwrap();
    (ct, b)
}

/// Validates a feed with jing against the OPDS 1.2 schema kept in the repo.
fn jing(xml: &str, what: &str) {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/opds/opds_fixed.rnc");
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("feed.xml");
    std::fs::write(&f, xml).unwrap();
    let out = Command::new("jing")
        .arg("-c")
        .arg(&schema)
        .arg(&f)
        .output()
        .expect("jing (scripts/install-deps.sh installs it)");
    assert!(
        out.status.success(),
        "{what} does not validate:\n{}{}\n{xml}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every `<id>` of a feed.
fn ids(xml: &str) -> Vec<String> {
    xml.split("<id>")
        .skip(1)
        .map(|s| s.split("</id>").next().unwrap().to_string())
        .collect()
}

fn library(root: &Path) -> std::path::PathBuf {
    let lib = root.join("books");
    put(
        &lib,
        "fiction/cafe.epub",
        &samples::epub(
            "<dc:title>Le Café des Amis</dc:title><dc:creator>Zoë Durand</dc:creator>\
             <dc:language>fr</dc:language><dc:description>&lt;p&gt;Stories from a café.&lt;/p&gt;</dc:description>\
             <dc:subject>Fiction</dc:subject>",
            Some(&samples::png(600, 900)),
        ),
    );
    put(
        &lib,
        "manuals/sewing.pdf",
        &samples::pdf("Sewing Machines", "Ada Singer", 3, 0),
    );
    put(&lib, "zines/bike-repair-basics.pdf", b"not really a pdf\n");
    put(&lib, "notes/minutes-2026.txt", b"We met.\n");
    put(&lib, "catalogue.toml", SIDECAR.as_bytes());
    // A second collection: ids never shared between collections.
    put(&root.join("zines"), "zine.pdf", b"zine\n");
    let config = root.join("seedbox.toml");
    std::fs::write(
        &config,
        format!(
            "state_dir = \"{}\"\n{BASE}[[collection]]\nname = \"books\"\npath = \"{}\"\n\
             [[collection]]\nname = \"zines\"\npath = \"{}\"\n",
            root.join("state").display(),
            lib.display(),
            root.join("zines").display()
        ),
    )
    .unwrap();
    config
}

fn start(config: &Path) -> (SeedboxProcess, String) {
    let mut sb = SeedboxProcess::start(config);
    for c in ["books", "zines"] {
        sb.wait_for(&format!("collection {c}: version"), Duration::from_secs(60));
    }
    let web = sb.web_url();
    // Both collections listed.
    for _ in 0..200 {
        if get(&format!("{web}/opds")).1.matches("<entry>").count() == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    (sb, web)
}

/// The file rows of a search result page, in order (their titles).
fn titles(page: &str) -> Vec<String> {
    // `<a class="dl" href=... download>` or, for a PDF, `... target=...>`
    page.split("<a class=\"dl\"")
        .skip(1)
        .map(|s| {
            let s = &s[s.find('>').unwrap() + 1..];
            s.split("</a>").next().unwrap().to_string()
        })
        .collect()
}

#[test]
fn metadata_search_covers_and_opds() {
    let d = tempfile::tempdir().unwrap();
    let config = library(d.path());
    let (sb, web) = start(&config);

    // Titles and authors from the files, the sidecar and the file names.
    let page = get(&format!("{web}/c/books")).1;
    for shown in [
        "Le Café des Amis",
        "Zoë Durand",
        "Sewing Machines",
        "Ada Singer",
        "bike repair basics",
        "Meeting Notes",
        "The Collective",
    ] {
        assert!(page.contains(shown), "{shown} not on the page:\n{page}");
    }
    assert!(
        !page.contains(">catalogue.toml<"),
        "the sidecar is not a book"
    );

    // Search: every word, any order, folded, across title, author, tags, path.
    let search = |q: &str| titles(&get(&format!("{web}/search?q={q}")).1);
    assert_eq!(search("cafe"), ["Le Café des Amis"]);
    assert_eq!(search("zoe+durand"), ["Le Café des Amis"]);
    assert_eq!(search("DURAND+amis"), ["Le Café des Amis"]);
    assert_eq!(search("bike+repair"), ["bike repair basics"]);
    assert_eq!(search("repair+bike"), ["bike repair basics"]);
    assert_eq!(search("assembly"), ["Meeting Notes"]);
    assert_eq!(search("singer"), ["Sewing Machines"]);
    assert_eq!(search("fiction"), ["Le Café des Amis"]);
    assert!(search("cafe+singer").is_empty());
    assert_eq!(search("minutes"), ["Meeting Notes"]);
    // Inside one collection too.
    let t = titles(&get(&format!("{web}/c/books?q=ada")).1);
    assert_eq!(t, ["Sewing Machines"]);

    // The cover: a JPEG thumbnail from the state folder; a placeholder else.
    let cover = page
        .split("src=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
        .find(|s| s.contains("/cover/"))
        .expect("a cover on the page")
        .to_string();
    let (ct, jpg) = get_bytes(&format!("{web}{cover}"));
    assert_eq!(ct, "image/jpeg");
    let img = image::load_from_memory(&jpg).unwrap();
    assert!(img.width() <= 300 && img.height() <= 450 && img.height() > 100);
    assert!(page.contains("src=\"/static/nocover.png\""));
    let (ct, _) = get_bytes(&format!("{web}/static/nocover.png"));
    assert_eq!(ct, "image/png");
    let thumbs = d.path().join("state/catalogue/covers");
    assert_eq!(std::fs::read_dir(&thumbs).unwrap().count(), 1);
    assert!(!d.path().join("books").read_dir().unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .ends_with(".jpg")));

    // OPDS: every feed kind validates; ids unique across feeds' entries.
    let root = get(&format!("{web}/opds")).1;
    jing(&root, "navigation feed");
    let books = get(&format!("{web}/opds/c/books")).1;
    jing(&books, "acquisition feed");
    let zines = get(&format!("{web}/opds/c/zines")).1;
    jing(&zines, "acquisition feed (zines)");
    let found = get(&format!("{web}/opds/search?q=durand")).1;
    jing(&found, "search feed");
    jing(
        &get(&format!("{web}/opds/search?q=nothing")).1,
        "empty search",
    );
    let mut all = ids(&root);
    all.extend(ids(&books));
    all.extend(ids(&zines));
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!(
        all.len(),
        n - 2,
        "only a collection's entry and feed share an id"
    );
    // A book entry: title without extension, author, language, summary,
    // subject, cover links, a type for the acquisition link.
    let entry = books
        .split("<entry>")
        .find(|e| e.contains("Le Café des Amis"))
        .unwrap();
    for want in [
        "<title>Le Café des Amis</title>",
        "<author><name>Zoë Durand</name></author>",
        "<dc:language>fr</dc:language>",
        "<summary type=\"text\">Stories from a café.</summary>",
        "<category term=\"Fiction\"",
        "rel=\"http://opds-spec.org/image\"",
        "rel=\"http://opds-spec.org/image/thumbnail\"",
        "type=\"application/epub+zip\"",
    ] {
        assert!(entry.contains(want), "{want} not in\n{entry}");
    }
    assert!(!books.contains("<title>cafe.epub</title>"));
    let notes = books
        .split("<entry>")
        .find(|e| e.contains("Meeting Notes"))
        .unwrap();
    assert!(notes.contains("type=\"text/plain\""), "{notes}");
    assert!(books.contains("3 pages"));

    // Conditional GETs and pages that do not exist.
    let r = ureq::get(&format!("{web}/opds/c/books")).call().unwrap();
    let etag = r.header("etag").unwrap().to_string();
    let modified = r.header("last-modified").unwrap().to_string();
    let cond = |h: &str, v: &str| {
        ureq::get(&format!("{web}/opds/c/books"))
            .set(h, v)
            .call()
            .unwrap()
            .status()
    };
    assert_eq!(cond("If-None-Match", &etag), 304);
    assert_eq!(cond("If-None-Match", "\"other\""), 200);
    assert_eq!(cond("If-Modified-Since", &modified), 304);
    for p in ["2", "0", "x", "99"] {
        assert_eq!(get(&format!("{web}/opds/c/books?page={p}")).0, 404, "{p}");
        assert_eq!(get(&format!("{web}/opds?page={p}")).0, 404, "{p}");
    }
    assert_eq!(get(&format!("{web}/opds/c/books?page=1")).0, 200);
    sb.stop();

    // A restart reads the cached metadata, not the files: a changed cache
    // entry shows (the file itself still says "Le Café des Amis").
    let cache = d.path().join("state/catalogue/meta.json");
    let text = std::fs::read_to_string(&cache).unwrap();
    assert!(text.contains("Le Café des Amis"));
    std::fs::write(&cache, text.replace("Le Café des Amis", "From The Cache")).unwrap();
    let (sb, web) = start(&config);
    let page = get(&format!("{web}/c/books")).1;
    assert!(page.contains("From The Cache"), "{page}");
    sb.stop();
}

#[test]
fn two_seedboxes_never_share_an_id() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let (sa, wa) = start(&library(a.path()));
    let (sb, wb) = start(&library(b.path()));
    let ia = ids(&get(&format!("{wa}/opds/c/books")).1);
    let ib = ids(&get(&format!("{wb}/opds/c/books")).1);
    assert!(!ia.is_empty());
    assert!(ia.iter().all(|i| !ib.contains(i)), "{ia:?} {ib:?}");
    sa.stop();
    sb.stop();
}
