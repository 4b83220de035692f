//! The admin page over real HTTP: the QR code of the page's address (decoded
//! from the SVG the page carries), and adding files from a browser (the
//! upload form's multipart POST): what is accepted, what is refused and
//! that a refusal writes nothing.

mod web_fixture;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use seedbox::web::WebConfig;
use web_fixture::*;

mod support;
use support::tree;

fn cfg() -> WebConfig {
    WebConfig {
        site_title: "Infoshop".into(),
        ..Default::default()
    }
}

/// Rasterises the SVG the `qrcode` crate writes (a white rect and one path
/// of `M x y h w v h H x V y` rectangles) and decodes it with `rqrr`.
fn decode_qr_svg(svg: &str) -> String {
    let attr = |name: &str| -> usize {
        let i = svg.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        svg[i..].split('"').next().unwrap().parse().unwrap()
    };
    let (w, h) = (attr("width"), attr("height"));
    let d = svg
        .split(" d=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let mut dark = vec![false; w * h];
    for rect in d.split('M').filter(|r| !r.is_empty()) {
        let nums: Vec<usize> = rect
            .split(|c: char| c.is_ascii_alphabetic() || c == ' ')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect();
        let (x, y, rw, rh) = (nums[0], nums[1], nums[2], nums[3]);
        for yy in y..y + rh {
            for xx in x..x + rw {
                dark[yy * w + xx] = true;
            }
        }
    }
    let mut img = rqrr::PreparedImage::prepare_from_bitmap(w, h, |x, y| dark[y * w + x]);
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code");
    grids[0].decode().unwrap().1
}

#[test]
fn admin_page_shows_a_qr_code_of_the_page_address() {
    let url = "http://192.168.1.20:8080/";
    let fx = Fixture::start(WebConfig {
        page_urls: vec![url.into(), "http://[fd00::20]:8080/".into()],
        ..cfg()
    });
    let t = fx.get("/admin").text();
    assert!(t.contains(&format!("<a href=\"{url}\">{url}</a>")), "{t}");
    let svg = t
        .split("<figure class=\"qr\" id=\"qr\">")
        .nth(1)
        .and_then(|s| s.split("<figcaption>").next())
        .expect("a QR code");
    assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
    assert_eq!(decode_qr_svg(svg), url);
    // The function the daemon uses, on its own.
    let svg = seedbox::web::qr_svg("http://10.0.0.7/").unwrap();
    assert_eq!(decode_qr_svg(&svg), "http://10.0.0.7/");
    // Without addresses (not served by the daemon), no section.
    let t = Fixture::start(cfg()).get("/admin").text();
    assert!(!t.contains("class=\"qr\""));
}

/// A multipart/form-data POST of `files` (name, bytes) as the upload form
/// sends it. The body is written from another thread and the response read
/// here, so a server that answers before reading it all (a refusal) is
/// seen as such.
fn post_files(addr: SocketAddr, path: &str, files: &[(&str, &[u8])], extra: &[&str]) -> Raw {
    let b = "----seedboxtestboundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, data) in files {
        write!(
            body,
            "--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .unwrap();
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    write!(body, "--{b}--\r\n").unwrap();
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: multipart/form-data; boundary={b}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for h in extra {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(&body);
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(&bytes);
    });
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let _ = writer.join();
    assert!(!buf.is_empty(), "no response to POST {path}");
    parse(&buf)
}

/// Every file under the fixture's folder, hidden temporary ones included.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    tree(dir)
}

#[test]
fn upload_adds_a_file_to_the_collection_folder() {
    let fx = Fixture::start(cfg());
    let data = content("new", 300_000);
    let r = post_files(
        fx.addr,
        "/admin/upload/zines",
        &[("Bike repair basics.pdf", &data), ("second.txt", b"two")],
        &[&format!("Origin: http://{}", fx.addr)],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("Bike repair basics.pdf"), "{}", r.text());
    let zines = fx.dir.path().join("zines");
    assert_eq!(
        std::fs::read(zines.join("Bike repair basics.pdf")).unwrap(),
        data
    );
    assert_eq!(std::fs::read(zines.join("second.txt")).unwrap(), b"two");
    // No temporary file left behind.
    let names: Vec<String> = snapshot(&zines).into_iter().map(|(p, _)| p).collect();
    assert!(
        names.iter().all(|n| !n.contains(".seedbox-upload")),
        "{names:?}"
    );
    // The admin page offers the form, per collection.
    let t = fx.get("/admin").text();
    assert!(
        t.contains("action=\"/admin/upload/zines\" enctype=\"multipart/form-data\""),
        "{t}"
    );
}

#[test]
fn uploads_refused_write_nothing() {
    let fx = Fixture::start(WebConfig {
        max_upload: 64 * 1024,
        ..cfg()
    });
    let root = fx.dir.path();
    let before = snapshot(root);
    let pdf = fx.bytes("zines", PDF);
    let cases: [(&str, &str, Vec<u8>, u16, &str); 8] = [
        (
            "zines",
            "../evil.pdf",
            b"x".to_vec(),
            400,
            "not a plain file name",
        ),
        ("zines", "..", b"x".to_vec(), 400, "not a plain file name"),
        (
            "zines",
            ".hidden.pdf",
            b"x".to_vec(),
            400,
            "not a plain file name",
        ),
        ("zines", PDF, b"replaced".to_vec(), 409, "already exists"),
        ("zines", "sub", b"x".to_vec(), 409, "already exists"),
        ("zines", "big.pdf", vec![7; 100 * 1024], 413, "larger than"),
        ("zines", "huge.pdf", vec![7; 2 << 20], 413, "larger than"),
        ("nowhere", "a.pdf", b"x".to_vec(), 404, "no collection"),
    ];
    for (coll, name, data, status, why) in cases {
        let r = post_files(
            fx.addr,
            &format!("/admin/upload/{coll}"),
            &[(name, &data)],
            &[],
        );
        assert_eq!(r.status, status, "{name}: {}", r.text());
        assert!(r.text().contains(why), "{name}: {}", r.text());
        assert!(
            r.text().contains("Nothing was added"),
            "{name}: {}",
            r.text()
        );
        assert_eq!(snapshot(root), before, "{name}: nothing written");
    }
    assert_eq!(fx.bytes("zines", PDF), pdf);
    // No file at all.
    let r = post_files(fx.addr, "/admin/upload/zines", &[], &[]);
    assert_eq!(r.status, 400, "{}", r.text());
    // A cross-site form post.
    let r = post_files(
        fx.addr,
        "/admin/upload/zines",
        &[("x.pdf", b"x")],
        &["Origin: http://evil.example"],
    );
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(snapshot(root), before);
}

#[test]
fn upload_from_the_network_needs_the_admin_token() {
    // Served without connect info, every peer counts as remote.
    let fx = Fixture::start_on(
        "127.0.0.1".parse().unwrap(),
        WebConfig {
            admin_token: Some("s3cret-token-for-tests".into()),
            ..cfg()
        },
        Mode::NoConnectInfo,
    );
    let root = fx.dir.path();
    let before = snapshot(root);
    for auth in [None, Some("Authorization: Bearer wrong")] {
        let extra: Vec<&str> = auth.into_iter().collect();
        let r = post_files(fx.addr, "/admin/upload/zines", &[("x.pdf", b"x")], &extra);
        assert_eq!(r.status, 403, "{}", r.text());
        assert_eq!(snapshot(root), before, "nothing written");
    }
    let r = post_files(
        fx.addr,
        "/admin/upload/zines",
        &[("x.pdf", b"x")],
        &["Authorization: Bearer s3cret-token-for-tests"],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(std::fs::read(root.join("zines/x.pdf")).unwrap(), b"x");
}

#[test]
fn daemon_upload_makes_a_new_version_and_never_writes_into_a_mirror() {
    use support::SeedboxProcess;
    let d = tempfile::tempdir().unwrap();
    let zines = d.path().join("zines");
    let mirror = d.path().join("mirror");
    std::fs::create_dir_all(&zines).unwrap();
    std::fs::write(zines.join("welcome.txt"), b"Welcome.\n").unwrap();
    let cfg = d.path().join("seedbox.toml");
    std::fs::write(
        &cfg,
        format!(
            "state_dir = \"state\"\n[network]\nlisten = \"127.0.0.1:0\"\n\
             quic_listen = \"127.0.0.1:0\"\nannounce = false\n[web]\nlisten = \"127.0.0.1:0\"\n\
             max_upload_mb = 1\n[limits]\nrescan_secs = 2\n\
             [[collection]]\nname = \"zines\"\npath = \"{}\"\n\
             [[mirror]]\nname = \"elsewhere\"\npath = \"{}\"\n",
            zines.display(),
            mirror.display()
        ),
    )
    .unwrap();
    let mut sb = SeedboxProcess::start(&cfg);
    let web = sb.web_url();
    let addr: SocketAddr = web.trim_start_matches("http://").parse().unwrap();
    let status = || -> serde_json::Value {
        ureq::get(&format!("{web}/admin/api/status"))
            .call()
            .unwrap()
            .into_json()
            .unwrap()
    };
    let seq = |v: &serde_json::Value| {
        v["collections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "zines")
            .and_then(|c| c["seq"].as_u64())
    };
    let wait = |pred: &dyn Fn(&serde_json::Value) -> bool| {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let v = status();
            if pred(&v) {
                return v;
            }
            assert!(std::time::Instant::now() < deadline, "not reached: {v}");
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let v = wait(&|v| seq(v).is_some());
    let first = seq(&v).unwrap();

    // Refused: a mirror's folder, a name the collection would not share,
    // a file over web.max_upload_mb. Nothing is written anywhere.
    let folders = || {
        let m = if mirror.exists() {
            tree(&mirror)
        } else {
            Vec::new()
        };
        (tree(&zines), m)
    };
    let before = folders();
    for (coll, name, len, status, why) in [
        ("elsewhere", "a.pdf", 10, 409, "is a mirror"),
        ("zines", "Thumbs.db", 10, 409, "would not be shared"),
        ("zines", "draft.pdf.part", 10, 409, "would not be shared"),
        ("zines", "big.pdf", 1_100_000, 413, "larger than"),
    ] {
        let r = post_files(
            addr,
            &format!("/admin/upload/{coll}"),
            &[(name, &vec![1u8; len])],
            &[],
        );
        assert_eq!(r.status, status, "{coll}/{name}: {}", r.text());
        assert!(r.text().contains(why), "{coll}/{name}: {}", r.text());
        assert_eq!(folders(), before, "{coll}/{name}: nothing written");
    }

    // Accepted: the file is in the folder and a new version lists it.
    let data = content("uploaded", 200_000);
    let r = post_files(
        addr,
        "/admin/upload/zines",
        &[("Bike repair basics.pdf", &data)],
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        std::fs::read(zines.join("Bike repair basics.pdf")).unwrap(),
        data
    );
    wait(&|v| seq(v).is_some_and(|s| s > first));
    let page = ureq::get(&format!("{web}/c/zines"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(page.contains("Bike repair basics.pdf"), "{page}");
    let id = seedbox::shared::file_id("Bike repair basics.pdf");
    let mut got = Vec::new();
    ureq::get(&format!("{web}/c/zines/f/{id}"))
        .call()
        .unwrap()
        .into_reader()
        .read_to_end(&mut got)
        .unwrap();
    assert_eq!(got, data);
    sb.stop();
}

#[test]
fn run_prints_the_lan_addresses_of_the_page() {
    use support::SeedboxProcess;
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("seedbox.toml");
    std::fs::write(
        &cfg,
        "state_dir = \"state\"\n[network]\nlisten = \"127.0.0.1:0\"\n\
         quic_listen = \"127.0.0.1:0\"\nannounce = false\n[web]\nlisten = \"0.0.0.0:0\"\n",
    )
    .unwrap();
    let mut sb = SeedboxProcess::start(&cfg);
    let first = sb.wait_for("web page: ", Duration::from_secs(30));
    let url = first.rsplit(' ').next().unwrap().to_string();
    assert!(!url.contains("0.0.0.0"), "{first}");
    // The address printed is one this machine answers on.
    let page = ureq::get(&url)
        .timeout(Duration::from_secs(20))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(page.contains("<h1>Collections</h1>"), "{page}");
    // The admin page (from loopback) shows it with its QR code.
    let port = url.trim_end_matches('/').rsplit(':').next().unwrap();
    let admin = ureq::get(&format!("http://127.0.0.1:{port}/admin"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(admin.contains(&format!("<a href=\"{url}\">")), "{admin}");
    let svg = admin
        .split("<figure class=\"qr\" id=\"qr\">")
        .nth(1)
        .unwrap();
    let svg = svg.split("<figcaption>").next().unwrap();
    assert_eq!(decode_qr_svg(svg), url);
    sb.stop();
}
