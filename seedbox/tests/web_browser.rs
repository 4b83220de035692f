//! A real headless Chromium, driven through chromedriver (W3C WebDriver),
//! as a phone (390x844 CSS pixels): the patron and admin pages never
//! scroll sideways, a librarian adds a file with the admin page's upload
//! form, a PDF opens in the browser, and a patron searches, clicks a
//! download link and the file it saves must equal the file on disk. Screenshots of every page are kept in
//! `target/web-screenshots/`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (scripts/install-deps.sh).
//! Without them the test fails, unless `SWARM_SKIP_BROWSER=1` is set.

mod web_fixture;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};
use web_fixture::*;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// An executable from an env override, or the first of `names` on PATH.
fn find_exe(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path).chain([PathBuf::from("/usr/lib/chromium")]) {
        for n in names {
            let p = dir.join(n);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// chromedriver as a child process, killed on drop.
struct Driver {
    child: Child,
    base: String,
    session: Option<String>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            let _ = ureq::delete(&format!("{}/session/{s}", self.base))
                .timeout(Duration::from_secs(10))
                .call();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn start(exe: &Path, log: &Path) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(exe)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let d = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            session: None,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = ureq::get(&format!("{}/status", d.base))
                .timeout(Duration::from_secs(5))
                .call()
                .ok()
                .and_then(|r| r.into_json::<Value>().ok())
                .is_some_and(|v| v["value"]["ready"] == true);
            if ready {
                return d;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let req = ureq::request(method, &url).timeout(Duration::from_secs(60));
        let res = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        match res {
            Ok(r) => r.into_json::<Value>().unwrap()["value"].clone(),
            Err(ureq::Error::Status(code, r)) => {
                panic!(
                    "{method} {path}: {code} {}",
                    r.into_string().unwrap_or_default()
                )
            }
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }

    fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let s = self.session.as_ref().expect("session");
        self.call(method, &format!("/session/{s}{path}"), body)
    }

    fn find(&self, css: &str) -> String {
        let v = self.session_call(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        v[ELEMENT].as_str().expect("element id").to_string()
    }

    fn find_all(&self, css: &str) -> Vec<String> {
        let v = self.session_call(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        );
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| e[ELEMENT].as_str().unwrap().to_string())
            .collect()
    }

    fn text(&self, el: &str) -> String {
        self.session_call("GET", &format!("/element/{el}/text"), None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn click(&self, el: &str) {
        self.session_call("POST", &format!("/element/{el}/click"), Some(json!({})));
    }

    /// Waits (bounded) until the page at a URL containing `part` has
    /// loaded.
    fn wait_for_url(&self, part: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let url = self.session_call("GET", "/url", None);
            let ready = self.session_call(
                "POST",
                "/execute/sync",
                Some(json!({"script": "return document.readyState;", "args": []})),
            );
            if url.as_str().unwrap_or_default().contains(part) && ready == "complete" {
                return;
            }
            assert!(Instant::now() < deadline, "{part} did not load: at {url}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A Chrome DevTools command (best effort: some builds lack it).
    fn cdp(&self, cmd: &str, params: Value) -> bool {
        let s = self.session.as_ref().expect("session");
        ureq::post(&format!("{}/session/{s}/goog/cdp/execute", self.base))
            .timeout(Duration::from_secs(20))
            .send_json(json!({"cmd": cmd, "params": params}))
            .is_ok()
    }

    /// Loads `url`, saves a screenshot as `shots/<name>.png` and checks
    /// that the page is no wider than the screen.
    fn no_sideways_scroll(&self, url: &str, name: &str, shots: &Path) {
        self.session_call("POST", "/url", Some(json!({"url": url})));
        let v = self.session_call(
            "POST",
            "/execute/sync",
            Some(json!({"script": "var e = document.documentElement; \
                return [e.scrollWidth, e.clientWidth, window.innerWidth];", "args": []})),
        );
        let (scroll, client) = (v[0].as_u64().unwrap(), v[1].as_u64().unwrap());
        let png = self.session_call("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        std::fs::write(shots.join(format!("{name}.png")), png).unwrap();
        eprintln!("{name}: scrollWidth {scroll}, clientWidth {client} ({url})");
        assert_eq!(client, 390, "{name}: the phone's width");
        assert_eq!(scroll, client, "{name}: the page scrolls sideways ({url})");
    }
}

/// `target/web-screenshots/` of this build (next to the test binary's
/// `target/<profile>/deps/`).
fn screenshot_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap_or(Path::new("."));
    let dir = target.join("web-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn chromium_searches_and_downloads() {
    let driver_exe = find_exe("SWARM_CHROMEDRIVER", &["chromedriver"]);
    let chromium = find_exe(
        "SWARM_CHROMIUM",
        &["chromium", "chromium-browser", "google-chrome"],
    );
    let (Some(driver_exe), Some(chromium)) = (driver_exe, chromium) else {
        if std::env::var("SWARM_SKIP_BROWSER").as_deref() == Ok("1") {
            eprintln!("chromium or chromedriver missing; skipped (SWARM_SKIP_BROWSER=1)");
            return;
        }
        panic!("chromium and chromedriver are needed (apt-get install chromium chromium-driver), or set SWARM_SKIP_BROWSER=1");
    };

    let fx = Fixture::start(seedbox::web::WebConfig {
        site_title: "Infoshop".into(),
        admin_token: None,
        extra_hosts: Vec::new(),
        page_urls: vec!["http://192.168.1.20:8080/".into()],
        ..Default::default()
    });
    let tmp = tempfile::tempdir().unwrap();
    let downloads = tmp.path().join("downloads");
    let profile = tmp.path().join("profile");
    std::fs::create_dir_all(&downloads).unwrap();
    let mut d = Driver::start(&driver_exe, &tmp.path().join("chromedriver.log"));

    let caps = json!({"capabilities": {"alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium.to_string_lossy(),
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=390,844", "--hide-scrollbars",
                format!("--user-data-dir={}", profile.display()),
            ],
            "prefs": {
                "download.default_directory": downloads.to_string_lossy(),
                "download.prompt_for_download": false,
                "download.directory_upgrade": true,
                "safebrowsing.enabled": false,
            },
        },
    }}});
    let v = d.call("POST", "/session", Some(caps));
    d.session = Some(v["sessionId"].as_str().expect("session id").to_string());
    d.session_call(
        "POST",
        "/timeouts",
        Some(json!({"implicit": 10_000, "pageLoad": 30_000})),
    );
    // Some headless builds only save downloads when told so over CDP.
    d.cdp(
        "Browser.setDownloadBehavior",
        json!({"behavior": "allow", "downloadPath": downloads.to_string_lossy()}),
    );
    // A phone: 390x844 CSS pixels, the viewport meta tag honoured.
    assert!(d.cdp(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true}),
    ));

    // No page scrolls sideways on the phone.
    let shots = screenshot_dir();
    for (path, name) in [
        ("/", "home"),
        ("/c/zines", "collection"),
        ("/c/books?sort=size", "collection-sorted"),
        ("/search?q=pdf", "search"),
        ("/admin", "admin"),
    ] {
        d.no_sideways_scroll(&fx.url(path), name, &shots);
    }

    // A librarian adds a file with the admin page's form, from the phone.
    let upload = tmp.path().join("Phone upload.pdf");
    let data = content("phone upload", 70_000);
    std::fs::write(&upload, &data).unwrap();
    d.session_call("POST", "/url", Some(json!({"url": fx.url("/admin")})));
    let input = d.find("form[action=\"/admin/upload/zines\"] input[type=file]");
    d.session_call(
        "POST",
        &format!("/element/{input}/value"),
        Some(json!({"text": upload.to_string_lossy()})),
    );
    d.click(&d.find("form[action=\"/admin/upload/zines\"] button[type=submit]"));
    d.wait_for_url("/admin/upload/zines");
    // (An error page is plain text, without a heading.)
    let headings = d.find_all("h1");
    assert_eq!(
        headings.len(),
        1,
        "upload answered {:?}",
        d.session_call("GET", "/source", None)
    );
    assert_eq!(d.text(&headings[0]), "Added");
    assert_eq!(
        std::fs::read(fx.dir.path().join("zines/Phone upload.pdf")).unwrap(),
        data
    );
    let answer = d.session_call("GET", "/url", None);
    d.no_sideways_scroll(answer.as_str().unwrap(), "uploaded", &shots);

    // A PDF opens in the browser's viewer (it is not saved).
    let pdf = fx.url(&format!("/c/zines/f/{}", file_id("zines", PDF)));
    d.session_call("POST", "/url", Some(json!({"url": pdf})));
    let ctype = d.session_call(
        "POST",
        "/execute/sync",
        Some(json!({"script": "return document.contentType;", "args": []})),
    );
    assert_eq!(ctype, "application/pdf", "the PDF is shown, not saved");

    // The front page, its search box, a search.
    d.session_call("POST", "/url", Some(json!({"url": fx.url("/")})));
    let title = d.session_call("GET", "/title", None);
    assert_eq!(title, "Collections · Infoshop");
    let body = d.text(&d.find("main"));
    assert!(body.contains("Zines & Pamphlets"), "{body}");
    let q = d.find("form.search input[name=q]");
    d.session_call(
        "POST",
        &format!("/element/{q}/value"),
        Some(json!({"text": "manifesto"})),
    );
    let submit = d.find("form.search button[type=submit]");
    d.click(&submit);

    // The results page lists the file; click its download link.
    d.wait_for_url("/search?q=manifesto");
    let links = d.find_all("a.dl");
    assert_eq!(links.len(), 1, "one result");
    // The link shows the title (the file name without its extension).
    assert_eq!(d.text(&links[0]), "Manifesto de la Cuisine");
    d.click(&links[0]);

    let want = fx.bytes("zines", EPUB);
    let target = downloads.join("Manifesto de la Cuisine.epub");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let partial = std::fs::read_dir(&downloads)
            .unwrap()
            .filter_map(|e| e.ok())
            .any(|e| e.file_name().to_string_lossy().ends_with(".crdownload"));
        if target.is_file() && !partial {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "download did not finish; directory holds {:?}",
            std::fs::read_dir(&downloads)
                .unwrap()
                .filter_map(|e| e.ok())
                .map(|e| e.file_name())
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        std::fs::read(&target).unwrap(),
        want,
        "downloaded bytes match"
    );

    // The hostile file name shows as text in the browser, not as markup.
    d.session_call("POST", "/url", Some(json!({"url": fx.url("/c/zines")})));
    let names: Vec<String> = d.find_all("span.path").iter().map(|l| d.text(l)).collect();
    assert!(names.iter().any(|n| n == SCRIPT_NAME), "{names:?}");
    let scripts = d.find_all("script");
    assert_eq!(scripts.len(), 1, "only the page's own script element");

    // The served script runs under the page's CSP: typing in the filter box
    // hides the rows that do not match, without a round trip.
    d.session_call("POST", "/url", Some(json!({"url": fx.url("/c/books")})));
    let rows = d.find_all("#files tbody tr");
    assert_eq!(rows.len(), 100);
    let filter = d.find("form.filter input[name=q]");
    d.session_call(
        "POST",
        &format!("/element/{filter}/value"),
        Some(json!({"text": "book-01"})),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let shown = rows
            .iter()
            .filter(|r| d.session_call("GET", &format!("/element/{r}/displayed"), None) == true)
            .count();
        if shown == 10 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "live filter shows {shown} rows, want 10"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
