//! Shared by the web tests: a `Library` over real files in a temporary
//! directory, a real web server on 127.0.0.1, and a raw HTTP client.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use seedbox::library::{
    CollectionSnapshot, CollectionStatus, FileEntry, FileIdentity, Library, LibrarySnapshot,
    NoUpload, Origin, SkippedFile, Status,
};
use seedbox::meta::FileMeta;
use seedbox::web::{router, serve, WebConfig};
use sha2::{Digest, Sha256};

/// The file with a hostile name (a folder `<script>alert(1)<` holding
/// `script>.pdf`, as a path with `/` can only be).
pub const SCRIPT_NAME: &str = "<script>alert(1)</script>.pdf";
/// A file bigger than one body chunk.
pub const EPUB: &str = "sub/Manifesto de la Cuisine.epub";
/// A 5,000-byte file for range tests.
pub const PDF: &str = "Anarchy in the UK.pdf";
/// Listed but not complete.
pub const PARTIAL: &str = "partial/unfinished.pdf";
/// Its snapshot size is larger than the file on disk.
pub const SHRUNK: &str = "shrunk.txt";
/// An HTML file (served as text/plain).
pub const HTML: &str = "page.html";
/// Files in the "books" collection (more than one page everywhere).
pub const BOOKS: usize = 120;

/// A library whose snapshot never changes; uploads go to the folder of
/// the collection named.
pub struct TestLib {
    snap: Arc<LibrarySnapshot>,
    root: PathBuf,
}

impl Library for TestLib {
    fn seedbox_key(&self) -> String {
        hex::encode(Sha256::digest(b"the test seedbox"))
    }
    fn snapshot(&self) -> Arc<LibrarySnapshot> {
        self.snap.clone()
    }
    fn upload_folder(&self, collection: &str, _name: &str) -> Result<PathBuf, NoUpload> {
        match self.snap.collection(collection) {
            Some(_) => Ok(self.root.join(collection)),
            None => Err(NoUpload::Unknown(collection.to_string())),
        }
    }
    fn status(&self) -> Status {
        Status {
            uptime_secs: 4242,
            collections: self
                .snap
                .collections
                .iter()
                .map(|c| CollectionStatus {
                    name: c.name.clone(),
                    seq: c.seq,
                    peers: 3,
                    progress: 1.0,
                    upload_rate: 1000,
                    download_rate: 0,
                    uploaded: 123_456,
                    downloaded: 0,
                })
                .collect(),
            disk_used: self.snap.collections.iter().map(|c| c.total_size()).sum(),
            disk_free: 1 << 30,
            skipped: [(
                "zines".to_string(),
                vec![SkippedFile {
                    path: "private/locked.pdf".into(),
                    reason: "cannot be read: Permission denied (os error 13)".into(),
                }],
            )]
            .into_iter()
            .collect(),
        }
    }
}

/// The id of a file: hex of SHA-256 of `collection/path`.
pub fn file_id(collection: &str, path: &str) -> String {
    hex::encode(Sha256::digest(format!("{collection}/{path}").as_bytes()))
}

/// Deterministic content of a file.
pub fn content(path: &str, len: usize) -> Vec<u8> {
    let seed = Sha256::digest(path.as_bytes());
    (0..len)
        .map(|i| seed[i % 32] ^ (i as u8).wrapping_mul(31) ^ ((i >> 8) as u8))
        .collect()
}

/// The .torrent bytes served for a collection.
pub fn torrent_bytes(name: &str) -> Vec<u8> {
    format!(
        "d4:infod6:lengthi1e4:name{}:{}12:piece lengthi16384eee",
        name.len(),
        name
    )
    .into_bytes()
}

/// The magnet link of a collection.
pub fn magnet(name: &str) -> String {
    format!(
        "magnet:?xt=urn:btmh:1220{}&dn={name}",
        hex::encode(Sha256::digest(name.as_bytes()))
    )
}

/// A running server over a temporary library.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub addr: SocketAddr,
    rt: Option<tokio::runtime::Runtime>,
}

/// How the fixture serves the router.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Through `seedbox::web::serve` (peer addresses known).
    Serve,
    /// `axum::serve(router(..))` without connect info (every peer is remote).
    NoConnectInfo,
}

impl Fixture {
    /// Writes the files, builds the snapshot and starts the server on
    /// 127.0.0.1.
    pub fn start(cfg: WebConfig) -> Fixture {
        Self::start_on("127.0.0.1".parse().unwrap(), cfg, Mode::Serve)
    }

    /// Same, on a given local address and serving mode.
    pub fn start_on(ip: std::net::IpAddr, cfg: WebConfig, mode: Mode) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let updated = UNIX_EPOCH + Duration::from_secs(1_790_000_000);
        let mut zines: Vec<FileEntry> = Vec::new();
        let specs: [(&str, usize, bool); 7] = [
            (PDF, 5000, true),
            (SCRIPT_NAME, 64, true),
            (EPUB, 300_000, true),
            ("notes/readme.txt", 100, true),
            (PARTIAL, 2000, false),
            (HTML, 40, true),
            (SHRUNK, 50, true),
        ];
        for (path, len, complete) in specs {
            let disk = write(&dir.path().join("zines"), path, &content(path, len));
            let size = if path == SHRUNK {
                len as u64 + 10
            } else {
                len as u64
            };
            zines.push(entry("zines", path, size, complete, disk));
        }
        zines.sort_by(|a, b| a.path.cmp(&b.path));
        let mut books = Vec::new();
        for i in 1..=BOOKS {
            let path = format!("book-{i:03}.txt");
            let disk = write(&dir.path().join("books"), &path, &content(&path, 10 + i));
            books.push(entry("books", &path, 10 + i as u64, true, disk));
        }
        let snap = LibrarySnapshot {
            collections: vec![
                collection("books", "Big Library", books, updated),
                collection("zines", "Zines & Pamphlets", zines, updated),
            ],
        };
        let lib: Arc<dyn Library> = Arc::new(TestLib {
            snap: Arc::new(snap),
            root: dir.path().to_path_buf(),
        });

        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let std_listener = std::net::TcpListener::bind((ip, 0)).unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        {
            let _g = rt.enter();
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            match mode {
                Mode::Serve => {
                    rt.spawn(serve(listener, lib, cfg));
                }
                Mode::NoConnectInfo => {
                    rt.spawn(async move { axum::serve(listener, router(lib, cfg)).await });
                }
            }
        }
        Fixture {
            dir,
            addr,
            rt: Some(rt),
        }
    }

    /// Bytes of a file as written.
    pub fn bytes(&self, collection: &str, path: &str) -> Vec<u8> {
        std::fs::read(self.dir.path().join(collection).join(disk_name(path))).unwrap()
    }

    /// `http://127.0.0.1:port{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A GET with the right Host.
    pub fn get(&self, path: &str) -> Raw {
        self.request("GET", path, &[])
    }

    /// A request with the right Host and extra header lines.
    pub fn request(&self, method: &str, path: &str, headers: &[&str]) -> Raw {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        for h in headers {
            req.push_str(h);
            req.push_str("\r\n");
        }
        req.push_str("\r\n");
        raw(self.addr, req.as_bytes())
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// Where a file is stored, relative to its collection folder.
fn disk_name(path: &str) -> &str {
    if path == SCRIPT_NAME {
        "script-name.pdf"
    } else {
        path
    }
}

fn write(root: &std::path::Path, path: &str, data: &[u8]) -> PathBuf {
    // The hostile name is stored under a safe disk name: the web layer only
    // ever uses `disk_path`, never `path`.
    let p = root.join(disk_name(path));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, data).unwrap();
    p
}

fn entry(collection: &str, path: &str, size: u64, complete: bool, disk: PathBuf) -> FileEntry {
    // As the daemon lists a file: what it saw on disk (a complete file).
    let identity = complete.then(|| FileIdentity::of(&std::fs::metadata(&disk).unwrap()));
    FileEntry {
        id: file_id(collection, path),
        path: path.to_string(),
        size,
        mtime: Some(UNIX_EPOCH + Duration::from_secs(1_780_000_000)),
        complete,
        disk_path: disk,
        identity,
        content_hash: None,
        meta: Arc::new(FileMeta::from_path(path)),
    }
}

fn collection(
    name: &str,
    title: &str,
    files: Vec<FileEntry>,
    updated: SystemTime,
) -> CollectionSnapshot {
    CollectionSnapshot {
        name: name.into(),
        title: title.into(),
        origin: Origin::Local,
        key: hex::encode(Sha256::digest(format!("key of {name}").as_bytes())),
        seq: 7,
        info_hash_v1: Some(hex::encode(&Sha256::digest(name.as_bytes())[..20])),
        info_hash_v2: Some(hex::encode(Sha256::digest(name.as_bytes()))),
        magnet: magnet(name),
        torrent: Arc::new(torrent_bytes(name)),
        v1_compatible: false,
        updated,
        files,
    }
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Raw {
    /// A header value (first one, name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends raw request bytes and reads the response until the server closes.
pub fn raw(addr: SocketAddr, request: &[u8]) -> Raw {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    parse(&buf)
}

/// Parses a full HTTP/1.1 response (Content-Length, chunked or until close).
pub fn parse(buf: &[u8]) -> Raw {
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = std::str::from_utf8(&buf[..end]).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let rest = &buf[end + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    Raw {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..1_000_000 {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            break;
        };
        let size =
            usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
    out
}
