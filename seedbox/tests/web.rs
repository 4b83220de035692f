//! The patron page, downloads, OPDS and admin, against a real server on
//! 127.0.0.1 over real files, with raw TCP where exact bytes matter.

mod web_fixture;

use std::net::{IpAddr, SocketAddr, UdpSocket};

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;
use seedbox::web::{admin_allowed, WebConfig};
use web_fixture::*;

const ATOM: &str = "http://www.w3.org/2005/Atom";
const OPENSEARCH: &str = "http://a9.com/-/spec/opensearch/1.1/";
const ACQ: &str = "application/atom+xml;profile=opds-catalog;kind=acquisition";
const NAV: &str = "application/atom+xml;profile=opds-catalog;kind=navigation";

fn cfg() -> WebConfig {
    WebConfig {
        site_title: "Infoshop <Library>".into(),
        admin_token: None,
        extra_hosts: vec!["library.lan".into()],
        ..Default::default()
    }
}

fn count(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

// ---------- patron page ----------

#[test]
fn listing_shows_collections() {
    let fx = Fixture::start(cfg());
    let r = fx.get("/");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(
        r.header("content-security-policy"),
        Some("default-src 'self'; script-src 'self'")
    );
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    let t = r.text();
    assert!(
        t.contains("href=\"/c/zines\">Zines &amp; Pamphlets</a>"),
        "{t}"
    );
    assert!(t.contains("href=\"/c/books\">Big Library</a>"));
    assert!(
        t.contains("<td data-label=\"Files\">120</td>"),
        "books file count"
    );
    assert!(t.contains("Infoshop &lt;Library&gt;"), "site title escaped");
    assert!(t.contains("<form class=\"search\" method=\"get\" action=\"/search\""));
    assert!(t.contains("name=\"q\""));
    // The script and stylesheet the page refers to are served.
    assert_eq!(fx.get("/static/app.js").status, 200);
    assert_eq!(fx.get("/static/style.css").status, 200);
}

#[test]
fn collection_page_lists_files_magnet_and_torrent() {
    let fx = Fixture::start(cfg());
    let t = fx.get("/c/zines").text();
    let id = file_id("zines", PDF);
    assert!(
        t.contains(&format!(
            "href=\"/c/zines/f/{id}\" target=\"_blank\" rel=\"noopener\">Anarchy in the UK</a> <span class=\"path\">{PDF}</span>"
        )),
        "{t}"
    );
    assert!(t.contains("<td>4.9 KiB</td>"), "size shown");
    // Incomplete files are listed without a link.
    assert!(t.contains("unfinished.pdf</span>"));
    assert!(!t.contains(&file_id("zines", PARTIAL)));
    let m = magnet("zines").replace('&', "&amp;");
    assert!(t.contains(&format!("href=\"{m}\"")), "magnet link shown");
    assert!(t.contains("href=\"/c/zines.torrent\""));
    let tor = fx.get("/c/zines.torrent");
    assert_eq!(tor.status, 200);
    assert_eq!(tor.header("content-type"), Some("application/x-bittorrent"));
    assert_eq!(tor.body, torrent_bytes("zines"));
    assert_eq!(fx.get("/c/nope.torrent").status, 404);
    assert_eq!(fx.get("/c/nope").status, 404);
    // Trailing slash works too.
    assert_eq!(fx.get("/c/zines/").status, 200);
}

#[test]
fn search_by_title_and_file_name() {
    let fx = Fixture::start(cfg());
    // By collection title, case-insensitively.
    let t = fx.get("/search?q=bIG+library").text();
    assert!(t.contains("href=\"/c/books\">Big Library</a>"), "{t}");
    // By file name, case-insensitively, across collections.
    let t = fx.get("/search?q=MANIFESTO").text();
    let id = file_id("zines", EPUB);
    assert!(t.contains(&format!("href=\"/c/zines/f/{id}\"")), "{t}");
    assert!(t.contains("1 files match"));
    assert!(
        t.contains("value=\"MANIFESTO\""),
        "search box keeps the term"
    );
    // Inside one collection.
    let t = fx.get("/c/zines?q=readme").text();
    assert!(t.contains("notes/readme.txt"));
    assert!(!t.contains(PDF));
    let t = fx.get("/c/books?q=book-11").text();
    assert_eq!(count(&t, "class=\"dl\""), 10, "book-110..=book-119");
    // Nothing.
    let t = fx.get("/search?q=zzzznothing").text();
    assert!(t.contains("0 files match"));
    // The term is escaped when reflected.
    let t = fx.get("/search?q=%3Cscript%3Ex").text();
    assert!(!t.contains("<script>x"));
    assert!(t.contains("&lt;script&gt;x"));
}

#[test]
fn html_paging() {
    let fx = Fixture::start(cfg());
    let p1 = fx.get("/c/books").text();
    assert_eq!(count(&p1, "class=\"dl\""), 100);
    assert!(p1.contains("rel=\"next\" href=\"/c/books?page=2\""), "{p1}");
    assert!(!p1.contains("rel=\"prev\""));
    let p2 = fx.get("/c/books?page=2").text();
    assert_eq!(count(&p2, "class=\"dl\""), 20);
    assert!(p2.contains("rel=\"prev\" href=\"/c/books?page=1\""));
    assert!(p2.contains("book-120.txt") && !p2.contains("book-001.txt"));
    // Out of range pages clamp; junk is page 1.
    assert_eq!(
        count(&fx.get("/c/books?page=99").text(), "class=\"dl\""),
        20
    );
    assert_eq!(
        count(&fx.get("/c/books?page=abc").text(), "class=\"dl\""),
        100
    );
    // Search results page too, keeping the term.
    let s = fx.get("/search?q=book").text();
    assert_eq!(count(&s, "class=\"dl\""), 100);
    assert!(s.contains("href=\"/search?q=book&amp;page=2\""), "{s}");
}

// ---------- downloads ----------

#[test]
fn download_full_file() {
    let fx = Fixture::start(cfg());
    let id = file_id("zines", EPUB);
    let want = fx.bytes("zines", EPUB);
    let r = fx.get(&format!("/c/zines/f/{id}"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body, want);
    assert_eq!(r.header("content-length"), Some("300000"));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(r.header("content-type"), Some("application/epub+zip"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"Manifesto de la Cuisine.epub\"; filename*=UTF-8''Manifesto%20de%20la%20Cuisine.epub")
    );
    // An ordinary client agrees.
    let resp = ureq::get(&fx.url(&format!("/c/zines/f/{id}")))
        .call()
        .unwrap();
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut resp.into_reader(), &mut got).unwrap();
    assert_eq!(got, want);
    // HTML is never served as HTML.
    let r = fx.get(&format!("/c/zines/f/{}", file_id("zines", HTML)));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    let r = fx.get(&format!("/c/zines/f/{}", file_id("zines", SCRIPT_NAME)));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/pdf"));
    assert!(r
        .header("content-disposition")
        .unwrap()
        .contains("filename*=UTF-8''script%3E.pdf"));
}

#[test]
fn download_ranges() {
    let fx = Fixture::start(cfg());
    let path = format!("/c/zines/f/{}", file_id("zines", PDF));
    let all = fx.bytes("zines", PDF);
    assert_eq!(all.len(), 5000);
    let cases: [(&str, std::ops::Range<usize>); 4] = [
        ("bytes=0-9", 0..10),
        ("bytes=5-", 5..5000),
        ("bytes=-3", 4997..5000),
        ("bytes=4990-99999", 4990..5000),
    ];
    for (range, want) in cases {
        let r = fx.request("GET", &path, &[&format!("Range: {range}")]);
        assert_eq!(r.status, 206, "{range}");
        assert_eq!(r.body, &all[want.clone()], "{range}");
        assert_eq!(
            r.header("content-length"),
            Some(want.len().to_string().as_str())
        );
        let cr = format!("bytes {}-{}/5000", want.start, want.end - 1);
        assert_eq!(r.header("content-range"), Some(cr.as_str()), "{range}");
    }
    for bad in ["bytes=5000-", "bytes=6000-7000", "bytes=-0"] {
        let r = fx.request("GET", &path, &[&format!("Range: {bad}")]);
        assert_eq!(r.status, 416, "{bad}");
        assert_eq!(r.header("content-range"), Some("bytes */5000"));
    }
    // If-Range with our ETag resumes; with any other validator (a date,
    // an old tag) the whole file comes back.
    let full = fx.request("GET", &path, &[]);
    let etag = full.header("etag").expect("an ETag").to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let r = fx.request(
        "GET",
        &path,
        &["Range: bytes=10-19", &format!("If-Range: {etag}")],
    );
    assert_eq!((r.status, r.body.as_slice()), (206, &all[10..20]));
    for other in ["\"old-1-abc\"", "Tue, 01 Dec 2026 10:00:00 GMT"] {
        let r = fx.request(
            "GET",
            &path,
            &["Range: bytes=10-19", &format!("If-Range: {other}")],
        );
        assert_eq!((r.status, r.body.len()), (200, 5000), "{other}");
    }
    // Several ranges: the whole file.
    let r = fx.request("GET", &path, &["Range: bytes=0-1,3-4"]);
    assert_eq!((r.status, r.body.len()), (200, 5000));
    // A range across several body chunks of a bigger file.
    let big = fx.bytes("zines", EPUB);
    let r = fx.request(
        "GET",
        &format!("/c/zines/f/{}", file_id("zines", EPUB)),
        &["Range: bytes=65000-200000"],
    );
    assert_eq!(r.status, 206);
    assert_eq!(r.body, &big[65000..=200000]);
}

#[test]
fn head_has_headers_and_no_body() {
    let fx = Fixture::start(cfg());
    let r = fx.request(
        "HEAD",
        &format!("/c/zines/f/{}", file_id("zines", PDF)),
        &[],
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("5000"));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert!(r.body.is_empty());
    let r = fx.request("HEAD", "/", &[]);
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
}

#[test]
fn a_file_swapped_for_a_link_to_the_key_is_never_served() {
    let fx = Fixture::start(cfg());
    let url = format!("/c/zines/f/{}", file_id("zines", PDF));
    assert_eq!(fx.get(&url).status, 200);
    // The state folder's private key, the size of the published file.
    let state = fx.dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let key = vec![b'k'; 5000];
    std::fs::write(state.join("identity.key"), &key).unwrap();
    let published = fx.dir.path().join("zines").join(PDF);
    let leaked = |r: &Raw| r.body.windows(64).any(|w| w == &key[..64]);
    std::fs::remove_file(&published).unwrap();
    std::os::unix::fs::symlink(state.join("identity.key"), &published).unwrap();
    for _ in 0..3 {
        let r = fx.get(&url);
        assert!(!leaked(&r), "the key was served");
        assert_eq!(r.status, 409);
        let r = fx.request("GET", &url, &["Range: bytes=0-99"]);
        assert!(!leaked(&r) && r.status == 409);
    }
    // Another file of the same size renamed over it, and a hard link:
    // not the file the daemon listed either.
    std::fs::remove_file(&published).unwrap();
    std::fs::hard_link(state.join("identity.key"), &published).unwrap();
    let r = fx.get(&url);
    assert!(!leaked(&r) && r.status == 409);
    std::fs::remove_file(&published).unwrap();
    std::fs::write(published.with_extension("new"), content(PDF, 5000)).unwrap();
    std::fs::rename(published.with_extension("new"), &published).unwrap();
    assert_eq!(fx.get(&url).status, 409, "same bytes, another inode");
}

#[test]
fn downloads_refused_when_not_servable() {
    let fx = Fixture::start(cfg());
    // Still downloading.
    let r = fx.get(&format!("/c/zines/f/{}", file_id("zines", PARTIAL)));
    assert_eq!(r.status, 409);
    assert!(r.text().contains("still being downloaded"));
    // Shorter on disk than in the snapshot: an error, never padded bytes.
    let r = fx.get(&format!("/c/zines/f/{}", file_id("zines", SHRUNK)));
    assert_eq!(r.status, 409);
    assert!(!r.body.windows(50).any(|w| w == fx.bytes("zines", SHRUNK)));
    // Unknown id (valid hex), unknown collection, id from another collection.
    assert_eq!(
        fx.get(&format!("/c/zines/f/{}", "ab".repeat(32))).status,
        404
    );
    assert_eq!(
        fx.get(&format!("/c/nope/f/{}", file_id("zines", PDF)))
            .status,
        404
    );
    assert_eq!(
        fx.get(&format!("/c/books/f/{}", file_id("zines", PDF)))
            .status,
        404
    );
    // Not lowercase hex.
    assert_eq!(
        fx.get(&format!(
            "/c/zines/f/{}",
            file_id("zines", PDF).to_uppercase()
        ))
        .status,
        400
    );
    assert_eq!(fx.get("/c/zines/f/xyz").status, 400);
}

#[test]
fn download_refused_when_file_emptied_after_snapshot() {
    let fx = Fixture::start(cfg());
    let path = format!("/c/books/f/{}", file_id("books", "book-001.txt"));
    assert_eq!(fx.get(&path).status, 200);
    std::fs::write(fx.dir.path().join("books/book-001.txt"), b"").unwrap();
    let r = fx.get(&path);
    assert_eq!(r.status, 409);
    assert!(r.text().contains("changed on disk"));
    std::fs::remove_file(fx.dir.path().join("books/book-001.txt")).unwrap();
    assert_eq!(fx.get(&path).status, 404);
}

// ---------- OPDS ----------

/// A parsed XML element.
#[derive(Debug, Default)]
struct El {
    ns: String,
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<El>,
}

impl El {
    fn attr(&self, k: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.as_str())
    }
    fn child(&self, ns: &str, name: &str) -> Option<&El> {
        self.children.iter().find(|c| c.ns == ns && c.name == name)
    }
    fn all<'a>(&'a self, ns: &'a str, name: &'a str) -> impl Iterator<Item = &'a El> + 'a {
        self.children
            .iter()
            .filter(move |c| c.ns == ns && c.name == name)
    }
    fn link(&self, rel: &str) -> Option<&El> {
        self.all(ATOM, "link").find(|l| l.attr("rel") == Some(rel))
    }
}

/// Parses a whole document (namespace-aware); panics when not well-formed.
fn parse_xml(xml: &str) -> El {
    let mut r = NsReader::from_str(xml);
    let mut stack: Vec<El> = vec![El::default()];
    fn open(ns: ResolveResult<'_>, e: &quick_xml::events::BytesStart<'_>) -> El {
        let ns = match ns {
            ResolveResult::Bound(n) => String::from_utf8(n.0.to_vec()).unwrap(),
            _ => String::new(),
        };
        let attrs = e
            .attributes()
            .map(|a| {
                let a = a.unwrap();
                let key = String::from_utf8(a.key.as_ref().to_vec()).unwrap();
                (key, a.unescape_value().unwrap().into_owned())
            })
            .collect();
        El {
            ns,
            name: String::from_utf8(e.local_name().as_ref().to_vec()).unwrap(),
            attrs,
            ..El::default()
        }
    }
    loop {
        let (ns, ev) = r.read_resolved_event().expect("well-formed XML");
        match ev {
            Event::Start(e) => {
                let el = open(ns, &e);
                stack.push(el);
            }
            Event::Empty(e) => {
                let el = open(ns, &e);
                stack.last_mut().unwrap().children.push(el);
            }
            Event::End(_) => {
                let el = stack.pop().unwrap();
                stack.last_mut().expect("balanced").children.push(el);
            }
            Event::Text(t) => stack
                .last_mut()
                .unwrap()
                .text
                .push_str(&t.unescape().unwrap()),
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(stack.len(), 1, "unclosed elements");
    let mut doc = stack.pop().unwrap();
    assert_eq!(doc.children.len(), 1, "one root element");
    doc.children.pop().unwrap()
}

fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20 && b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':' && b[19] == b'Z'
}

/// Checks the Atom/OPDS feed basics and returns the parsed feed.
fn check_feed(fx: &Fixture, path: &str, kind: &str) -> El {
    let r = fx.get(path);
    assert_eq!(r.status, 200, "{path}");
    assert_eq!(r.header("content-type"), Some(kind), "{path}");
    let text = r.text();
    assert!(!text.contains("<script>"), "raw script tag in {path}");
    let feed = parse_xml(&text);
    assert_eq!(
        (feed.ns.as_str(), feed.name.as_str()),
        (ATOM, "feed"),
        "{path}"
    );
    for req in ["id", "title", "updated"] {
        let el = feed
            .child(ATOM, req)
            .unwrap_or_else(|| panic!("{path}: no {req}"));
        assert!(!el.text.trim().is_empty(), "{path}: empty {req}");
    }
    assert!(is_rfc3339(&feed.child(ATOM, "updated").unwrap().text));
    assert_eq!(feed.link("self").and_then(|l| l.attr("type")), Some(kind));
    assert_eq!(
        feed.link("start").and_then(|l| l.attr("href")),
        Some("/opds")
    );
    let search = feed.link("search").expect("search link");
    assert_eq!(search.attr("href"), Some("/opds/search.xml"));
    assert_eq!(
        search.attr("type"),
        Some("application/opensearchdescription+xml")
    );
    for e in feed.all(ATOM, "entry") {
        for req in ["id", "title", "updated"] {
            assert!(
                e.child(ATOM, req).is_some_and(|x| !x.text.is_empty()),
                "{path}: entry without {req}"
            );
        }
        assert!(is_rfc3339(&e.child(ATOM, "updated").unwrap().text));
    }
    feed
}

fn acquisition(e: &El) -> &El {
    e.link("http://opds-spec.org/acquisition")
        .expect("acquisition link")
}

#[test]
fn opds_root_and_collection_feeds() {
    let fx = Fixture::start(cfg());
    let root = check_feed(&fx, "/opds", NAV);
    let entries: Vec<&El> = root.all(ATOM, "entry").collect();
    assert_eq!(entries.len(), 2);
    for e in &entries {
        let sub = e.link("subsection").expect("subsection link");
        assert_eq!(sub.attr("type"), Some(ACQ));
        assert!(sub.attr("href").unwrap().starts_with("/opds/c/"));
    }
    assert_eq!(
        root.child(ATOM, "title").unwrap().text,
        "Infoshop <Library>"
    );

    let zines = check_feed(&fx, "/opds/c/zines", ACQ);
    assert_eq!(zines.link("up").and_then(|l| l.attr("href")), Some("/opds"));
    let entries: Vec<&El> = zines.all(ATOM, "entry").collect();
    assert_eq!(entries.len(), 6, "complete files only");
    let mut seen_script = false;
    for e in entries {
        let link = acquisition(e);
        let href = link.attr("href").unwrap();
        let id = href.rsplit('/').next().unwrap();
        let path = [
            "Anarchy in the UK.pdf",
            SCRIPT_NAME,
            EPUB,
            "notes/readme.txt",
            HTML,
            SHRUNK,
        ]
        .into_iter()
        .find(|p| file_id("zines", p) == id)
        .expect("href names a known file");
        let key = zines
            .child(ATOM, "id")
            .unwrap()
            .text
            .trim_start_matches("urn:swarm:")
            .to_string();
        assert_eq!(
            e.child(ATOM, "id").unwrap().text,
            format!("urn:swarm:{key}:{id}")
        );
        if path == SHRUNK {
            continue;
        }
        let r = fx.get(href);
        assert_eq!(r.status, 200, "{href}");
        assert_eq!(r.body, fx.bytes("zines", path), "{href}");
        // The type without parameters (what e-readers map to extensions).
        let served = r.header("content-type").unwrap();
        assert_eq!(link.attr("type"), served.split(';').next());
        assert_eq!(link.attr("length"), Some(r.body.len().to_string().as_str()));
        if path == SCRIPT_NAME {
            assert_eq!(e.child(ATOM, "title").unwrap().text, "script>");
            assert!(e
                .child(ATOM, "content")
                .unwrap()
                .text
                .starts_with(SCRIPT_NAME));
            seen_script = true;
        }
    }
    assert!(seen_script);
    assert_eq!(fx.get("/opds/c/nope").status, 404);
}

#[test]
fn opds_paging() {
    let fx = Fixture::start(cfg());
    let os = |f: &El, n: &str| f.child(OPENSEARCH, n).unwrap().text.clone();
    let p1 = check_feed(&fx, "/opds/c/books", ACQ);
    assert_eq!(p1.all(ATOM, "entry").count(), 50);
    assert_eq!(
        (
            os(&p1, "totalResults"),
            os(&p1, "itemsPerPage"),
            os(&p1, "startIndex")
        ),
        ("120".into(), "50".into(), "1".into())
    );
    assert_eq!(
        p1.link("first").unwrap().attr("href"),
        Some("/opds/c/books?page=1")
    );
    assert_eq!(
        p1.link("last").unwrap().attr("href"),
        Some("/opds/c/books?page=3")
    );
    assert!(p1.link("previous").is_none());
    let next = p1.link("next").unwrap().attr("href").unwrap().to_string();
    assert_eq!(p1.link("next").unwrap().attr("type"), Some(ACQ));
    let p2 = check_feed(&fx, &next, ACQ);
    assert_eq!(p2.all(ATOM, "entry").count(), 50);
    assert_eq!(os(&p2, "startIndex"), "51");
    assert_eq!(
        p2.link("previous").unwrap().attr("href"),
        Some("/opds/c/books?page=1")
    );
    let last = p1.link("last").unwrap().attr("href").unwrap().to_string();
    let p3 = check_feed(&fx, &last, ACQ);
    assert_eq!(p3.all(ATOM, "entry").count(), 20);
    assert!(p3.link("next").is_none());
    // Every file once across the pages.
    let mut ids: Vec<String> = [&p1, &p2, &p3]
        .iter()
        .flat_map(|f| {
            f.all(ATOM, "entry")
                .map(|e| e.child(ATOM, "id").unwrap().text.clone())
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), BOOKS);
}

#[test]
fn opensearch_description_and_template() {
    let fx = Fixture::start(cfg());
    let r = fx.get("/opds/search.xml");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/opensearchdescription+xml")
    );
    let osd = parse_xml(&r.text());
    assert_eq!(
        (osd.ns.as_str(), osd.name.as_str()),
        (OPENSEARCH, "OpenSearchDescription")
    );
    assert!(osd
        .child(OPENSEARCH, "ShortName")
        .is_some_and(|s| !s.text.is_empty() && s.text.len() <= 16));
    assert!(osd.child(OPENSEARCH, "Description").is_some());
    let url = osd
        .all(OPENSEARCH, "Url")
        .find(|u| u.attr("type") == Some(ACQ))
        .expect("acquisition Url");
    let template = url.attr("template").unwrap();
    assert_eq!(template, "/opds/search?q={searchTerms}");
    let feed = check_feed(&fx, &template.replace("{searchTerms}", "manifesto"), ACQ);
    let entries: Vec<&El> = feed.all(ATOM, "entry").collect();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0].child(ATOM, "title").unwrap().text,
        "Manifesto de la Cuisine"
    );
    let r = fx.get(acquisition(entries[0]).attr("href").unwrap());
    assert_eq!(r.body, fx.bytes("zines", EPUB));
    // Paged search, and search by collection title.
    let p1 = check_feed(&fx, "/opds/search?q=big%20library", ACQ);
    assert_eq!(p1.all(ATOM, "entry").count(), 50);
    assert_eq!(
        p1.link("next").unwrap().attr("href"),
        Some("/opds/search?q=big%20library&page=2")
    );
    let p3 = check_feed(&fx, "/opds/search?q=big%20library&page=3", ACQ);
    assert_eq!(p3.all(ATOM, "entry").count(), 20);
    // The hostile name is escaped in the raw XML, intact once parsed.
    let raw = fx.get("/opds/search?q=alert").text();
    assert!(
        raw.contains("&lt;script&gt;alert(1)&lt;/script&gt;.pdf ("),
        "{raw}"
    );
    let f = parse_xml(&raw);
    let e = f.all(ATOM, "entry").next().unwrap();
    assert!(e
        .child(ATOM, "content")
        .unwrap()
        .text
        .starts_with(SCRIPT_NAME));
}

// ---------- security ----------

#[test]
fn traversal_and_nul_refused() {
    let fx = Fixture::start(cfg());
    let passwd = ["root:", "daemon:"];
    for path in [
        "/c/x/f/..%2f..%2fetc%2fpasswd",
        "/c/zines/f/..%2f..%2fetc%2fpasswd",
        "/c/zines/f/%2e%2e/%2e%2e/etc/passwd",
        "/c/zines/f/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "/c/%2e%2e/",
        "/c/zines/f/../../../etc/passwd",
        "/c/zines/f/..%5c..%5cwin.ini",
        "/c/zines%00/",
        "/c/zines%00.torrent",
        "/opds/c/%2e%2e",
        "/static/..%2f..%2fCargo.toml",
    ] {
        let r = fx.get(path);
        assert_eq!(r.status, 400, "{path}");
        assert!(!passwd.iter().any(|p| r.text().contains(p)), "{path}");
    }
    let id = file_id("zines", PDF);
    assert_eq!(fx.get(&format!("/c/zines/f/{id}%00")).status, 400);
    // Double encoding survives the path check but not the id check.
    assert_eq!(
        fx.get("/c/zines/f/%252e%252e%252fetc%252fpasswd").status,
        400
    );
    assert_eq!(fx.get("/c/zi%20nes").status, 400);
    assert_eq!(fx.get("/c/zi%2fnes").status, 400);
    assert_eq!(fx.get("/nothing/here").status, 404);
}

#[test]
fn foreign_host_refused() {
    let fx = Fixture::start(cfg());
    let send = |host: Option<&str>, path: &str| {
        let h = host.map(|h| format!("Host: {h}\r\n")).unwrap_or_default();
        raw(
            fx.addr,
            format!("GET {path} HTTP/1.1\r\n{h}Connection: close\r\n\r\n").as_bytes(),
        )
        .status
    };
    for bad in [
        "evil.example",
        "evil.example:80",
        "127.0.0.1.evil.example",
        "localhost.evil.example",
    ] {
        assert_eq!(send(Some(bad), "/"), 421, "{bad}");
        assert_eq!(send(Some(bad), "/admin/api/status"), 421, "{bad}");
    }
    assert_eq!(send(None, "/"), 421);
    let port = fx.addr.port();
    for good in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "LIBRARY.lan".into(),
        "[::1]".into(),
    ] {
        assert_eq!(send(Some(&good), "/"), 200, "{good}");
    }
}

#[test]
fn methods_and_cross_origin_posts() {
    let fx = Fixture::start(cfg());
    let evil = "Origin: http://evil.example";
    let form = "Content-Type: application/x-www-form-urlencoded";
    for path in ["/admin", "/admin/api/status", "/admin/api/rescan"] {
        let r = fx.request("POST", path, &[evil, form, "Content-Length: 3", ""]);
        assert_eq!(r.status, 403, "{path}");
    }
    assert_eq!(
        fx.request("POST", "/", &[evil, "Content-Length: 0"]).status,
        403
    );
    assert_eq!(
        fx.request("POST", "/admin", &["Origin: null", "Content-Length: 0"])
            .status,
        403
    );
    // Same origin, from loopback: allowed through, but nothing takes a POST.
    let same = format!("Origin: http://{}", fx.addr);
    assert_eq!(
        fx.request("POST", "/admin", &[&same, "Content-Length: 0"])
            .status,
        405
    );
    assert_eq!(
        fx.request("POST", "/admin", &["Content-Length: 0"]).status,
        405
    );
    for m in ["POST", "PUT", "DELETE", "PATCH"] {
        let r = fx.request(m, "/c/zines", &["Content-Length: 0"]);
        assert_eq!(r.status, 405, "{m}");
        assert_eq!(r.header("allow"), Some("GET, HEAD"));
    }
    // A cross-origin GET is just a read (the browser keeps the answer from
    // the other site); it still needs a known Host.
    assert_eq!(fx.request("GET", "/", &[evil]).status, 200);
}

#[test]
fn script_file_name_escaped_everywhere() {
    let fx = Fixture::start(cfg());
    for path in ["/c/zines", "/search?q=alert", "/search?q=script"] {
        let t = fx.get(path).text();
        assert!(t.contains("&lt;script&gt;alert(1)&lt;"), "{path}: {t}");
        assert!(!t.contains("<script>alert"), "{path}");
    }
    for path in ["/opds/c/zines", "/opds/search?q=alert"] {
        let t = fx.get(path).text();
        assert!(t.contains("&lt;script&gt;alert(1)&lt;"), "{path}");
        assert!(!t.contains("<script>"), "{path}");
    }
    let t = fx.get("/admin").text();
    assert!(!t.contains("<Library>") && t.contains("Infoshop &lt;Library&gt;"));
}

#[test]
fn admin_from_loopback() {
    let fx = Fixture::start(cfg());
    let r = fx.get("/admin");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let t = r.text();
    assert!(t.contains("Zines &amp; Pamphlets") && t.contains("Big Library"));
    assert!(t.contains("1 h 10 min"), "uptime shown");
    assert!(
        t.contains("Files not shared")
            && t.contains(
                "<td>zines</td><td data-label=\"File\">private/locked.pdf</td>\
<td data-label=\"Why\">cannot be read"
            ),
        "skipped files listed: {t}"
    );
    let r = fx.get("/admin/api/status");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["status"]["uptime_secs"], 4242);
    assert_eq!(v["status"]["collections"][0]["peers"], 3);
    assert_eq!(
        v["status"]["skipped"]["zines"][0]["path"],
        "private/locked.pdf"
    );
    let colls = v["collections"].as_array().unwrap();
    assert_eq!(colls.len(), 2);
    let books = &colls[0];
    assert_eq!(books["name"], "books");
    assert_eq!(books["seq"], 7);
    assert_eq!(books["files"], 120);
    assert_eq!(books["size"], (11..=130).sum::<u64>());
    assert_eq!(books["key"].as_str().unwrap().len(), 64);
    assert_eq!(books["info_hash_v2"].as_str().unwrap().len(), 64);
    assert_eq!(books["info_hash_v1"].as_str().unwrap().len(), 40);
    // ureq (a normal client) gets the same.
    let v: serde_json::Value = ureq::get(&fx.url("/admin/api/status"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(v["collections"][1]["name"], "zines");
}

#[test]
fn admin_access_rule() {
    let lan: SocketAddr = "192.168.1.20:40000".parse().unwrap();
    let lo: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let bearer = |s: &'static str| axum::http::HeaderValue::from_static(s);
    assert!(admin_allowed(Some(lo), None, None));
    assert!(
        !admin_allowed(Some(lan), None, None),
        "remote, no token configured"
    );
    assert!(
        !admin_allowed(Some(lan), Some(&bearer("Bearer tok")), None),
        "no token configured"
    );
    assert!(!admin_allowed(Some(lan), None, Some("tok")));
    assert!(!admin_allowed(
        Some(lan),
        Some(&bearer("Bearer tak")),
        Some("tok")
    ));
    assert!(admin_allowed(
        Some(lan),
        Some(&bearer("Bearer tok")),
        Some("tok")
    ));
}

fn admin_status(addr: SocketAddr, auth: Option<&str>) -> u16 {
    let a = auth
        .map(|t| format!("Authorization: {t}\r\n"))
        .unwrap_or_default();
    raw(
        addr,
        format!("GET /admin/api/status HTTP/1.1\r\nHost: {addr}\r\n{a}Connection: close\r\n\r\n")
            .as_bytes(),
    )
    .status
}

#[test]
fn admin_bearer_token_over_the_network() {
    // Served without connect info, every peer counts as remote: only the
    // token opens the admin API.
    let with_token = WebConfig {
        admin_token: Some("s3cret-token".into()),
        ..cfg()
    };
    let fx = Fixture::start_on(
        "127.0.0.1".parse().unwrap(),
        with_token,
        Mode::NoConnectInfo,
    );
    assert_eq!(admin_status(fx.addr, None), 403);
    assert_eq!(admin_status(fx.addr, Some("Bearer wrong")), 403);
    assert_eq!(
        admin_status(fx.addr, Some("Bearer s3cret-token-and-more")),
        403
    );
    assert_eq!(admin_status(fx.addr, Some("Basic s3cret-token")), 403);
    assert_eq!(admin_status(fx.addr, Some("Bearer s3cret-token")), 200);
    let fx = Fixture::start_on("127.0.0.1".parse().unwrap(), cfg(), Mode::NoConnectInfo);
    assert_eq!(
        admin_status(fx.addr, Some("Bearer s3cret-token")),
        403,
        "no token configured"
    );
    // With the peer address known, loopback needs no token.
    let fx = Fixture::start(WebConfig {
        admin_token: Some("s3cret-token".into()),
        ..cfg()
    });
    assert_eq!(admin_status(fx.addr, None), 200);
}

/// A non-loopback address of this machine, when it has one.
fn lan_ip() -> Option<IpAddr> {
    let s = UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[test]
fn admin_refused_from_a_lan_address() {
    // Connecting to the machine's own LAN address makes the peer address
    // non-loopback. Machines without one (an isolated namespace) rely on
    // the NoConnectInfo test above and the pure rule.
    let Some(ip) = lan_ip() else {
        eprintln!("no non-loopback address here; covered by admin_bearer_token_over_the_network");
        return;
    };
    let fx = Fixture::start_on(
        ip,
        WebConfig {
            admin_token: Some("tok".into()),
            ..cfg()
        },
        Mode::Serve,
    );
    assert_eq!(admin_status(fx.addr, None), 403);
    assert_eq!(admin_status(fx.addr, Some("Bearer nope")), 403);
    assert_eq!(admin_status(fx.addr, Some("Bearer tok")), 200);
    assert_eq!(fx.get("/").status, 200, "patrons are welcome from the LAN");
    let fx = Fixture::start_on(ip, cfg(), Mode::Serve);
    assert_eq!(admin_status(fx.addr, Some("Bearer tok")), 403);
}
