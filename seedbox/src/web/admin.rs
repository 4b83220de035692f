//! The admin status page and JSON API. Access is decided by
//! [`admin_allowed`] in the request guard, before routing.

use std::net::{IpAddr, SocketAddr};

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::{esc, human_size, human_time, rfc3339, Shared};
use crate::library::{CollectionSnapshot, Origin, Status};

/// Whether a request may use the admin page and API.
///
/// Allowed when the TCP `peer` is a loopback address (IPv4, IPv6 or
/// IPv4-mapped IPv6). Otherwise only when `token` is configured and
/// `authorization` is exactly `Bearer <token>` (compared in constant time).
/// An unknown peer counts as remote; no configured token (or an empty one)
/// means remote admin is always refused.
pub fn admin_allowed(
    peer: Option<SocketAddr>,
    authorization: Option<&HeaderValue>,
    token: Option<&str>,
) -> bool {
    if peer.is_some_and(|p| is_loopback(p.ip())) {
        return true;
    }
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return false;
    };
    let Some(given) = authorization.map(|v| v.as_bytes()) else {
        return false;
    };
    let Some(given) = strip_bearer(given) else {
        return false;
    };
    constant_time_eq(given, token.as_bytes())
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// `Bearer <credentials>` (scheme case-insensitive) → credentials.
fn strip_bearer(v: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = (v.get(..7)?, &v[7..]);
    scheme.eq_ignore_ascii_case(b"bearer ").then_some(rest)
}

/// Compares two byte strings without an early exit on the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

/// One collection in the admin JSON.
#[derive(Serialize)]
struct AdminCollection<'a> {
    name: &'a str,
    title: &'a str,
    origin: &'a Origin,
    seq: u64,
    key: &'a str,
    info_hash_v1: Option<&'a str>,
    info_hash_v2: Option<&'a str>,
    magnet: &'a str,
    files: usize,
    complete_files: usize,
    size: u64,
    updated: String,
}

impl<'a> From<&'a CollectionSnapshot> for AdminCollection<'a> {
    fn from(c: &'a CollectionSnapshot) -> Self {
        AdminCollection {
            name: &c.name,
            title: &c.title,
            origin: &c.origin,
            seq: c.seq,
            key: &c.key,
            info_hash_v1: c.info_hash_v1.as_deref(),
            info_hash_v2: c.info_hash_v2.as_deref(),
            magnet: &c.magnet,
            files: c.files.len(),
            complete_files: c.files.iter().filter(|f| f.complete).count(),
            size: c.total_size(),
            updated: rfc3339(c.updated),
        }
    }
}

/// The admin JSON document.
#[derive(Serialize)]
struct AdminStatus<'a> {
    status: &'a Status,
    collections: Vec<AdminCollection<'a>>,
}

fn no_store(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `/admin/api/status`: [`Status`] plus the snapshot's collections.
pub(super) async fn status_json(State(st): State<Shared>) -> Response {
    let status = st.lib.status();
    let snap = st.lib.snapshot();
    let doc = AdminStatus {
        status: &status,
        collections: snap.collections.iter().map(AdminCollection::from).collect(),
    };
    no_store(Json(doc).into_response())
}

fn rate(n: u64) -> String {
    format!("{}/s", human_size(n))
}

/// `/admin`: the status page. Its referrer policy is `same-origin`, not
/// the site's `no-referrer`: under `no-referrer` browsers send its upload
/// form with `Origin: null`, which the cross-origin check refuses.
pub(super) async fn page(State(st): State<Shared>) -> Response {
    let status = st.lib.status();
    let snap = st.lib.snapshot();
    let site = if st.cfg.site_title.is_empty() {
        "Seedbox"
    } else {
        &st.cfg.site_title
    };
    let mut b = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"referrer\" content=\"same-origin\">\
<title>Admin · {s}</title><link rel=\"stylesheet\" href=\"/static/style.css\">\
<link rel=\"icon\" href=\"/static/favicon.svg\" type=\"image/svg+xml\"></head>\n<body>\
<header><a class=\"site\" href=\"/\">{s}</a></header>\n<main>\n<h1>Status</h1>\n",
        s = esc(site)
    );
    b.push_str(&format!(
        "<p>Up for {}. Disk: {} used by collections, {} free. \
<a href=\"/admin/api/status\">JSON</a></p>\n",
        uptime(status.uptime_secs),
        human_size(status.disk_used),
        human_size(status.disk_free)
    ));
    address_section(&mut b, &st.cfg.page_urls);
    b.push_str(
        "<table class=\"admin cards\"><thead><tr><th>Collection</th><th>Origin</th><th>Version</th><th>Files</th>\
<th>Size</th><th>Updated</th><th>Peers</th><th>Verified</th><th>Up</th><th>Down</th>\
<th>Uploaded</th><th>Downloaded</th></tr></thead><tbody>\n",
    );
    for c in &snap.collections {
        let live = status.collections.iter().find(|s| s.name == c.name);
        let origin = match c.origin {
            Origin::Local => "local",
            Origin::Mirror => "mirror",
        };
        let (peers, progress, up, down, upl, dl) = match live {
            Some(s) => (
                s.peers.to_string(),
                format!("{:.1} %", (s.progress * 100.0).clamp(0.0, 100.0)),
                rate(s.upload_rate),
                rate(s.download_rate),
                human_size(s.uploaded),
                human_size(s.downloaded),
            ),
            None => Default::default(),
        };
        b.push_str(&format!(
            "<tr><td><a href=\"/c/{n}\">{t}</a><br><small class=\"hashes\">key {k}<br>v2 {h2}<br>v1 {h1}</small></td>\
<td data-label=\"Origin\">{origin}</td><td data-label=\"Version\">{seq}</td>\
<td data-label=\"Files\">{f}</td><td data-label=\"Size\">{sz}</td><td data-label=\"Updated\">{u}</td>\
<td data-label=\"Peers\">{peers}</td><td data-label=\"Verified\">{progress}</td>\
<td data-label=\"Up\">{up}</td><td data-label=\"Down\">{down}</td>\
<td data-label=\"Uploaded\">{upl}</td><td data-label=\"Downloaded\">{dl}</td></tr>\n",
            n = esc(&c.name),
            t = esc(&c.title),
            k = esc(&c.key),
            h2 = esc(c.info_hash_v2.as_deref().unwrap_or("-")),
            h1 = esc(c.info_hash_v1.as_deref().unwrap_or("-")),
            seq = c.seq,
            f = c.files.len(),
            sz = human_size(c.total_size()),
            u = human_time(c.updated),
        ));
    }
    b.push_str("</tbody></table>\n");
    upload_section(&mut b, &snap.collections, st.cfg.max_upload);
    skipped_section(&mut b, &status);
    b.push_str("</main></body></html>\n");
    let mut r = b.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    no_store(r)
}

/// Where patrons find the page, with a QR code of the first address to
/// print and pin up.
fn address_section(b: &mut String, urls: &[String]) {
    let Some(first) = urls.first() else {
        return;
    };
    b.push_str("<section class=\"address\"><h2>The patron page</h2>\n<p>On this network: ");
    let links: Vec<String> = urls
        .iter()
        .map(|u| format!("<a href=\"{0}\">{0}</a>", esc(u)))
        .collect();
    b.push_str(&links.join(" · "));
    b.push_str("</p>\n");
    if let Some(svg) = super::qr_svg(first) {
        b.push_str(&format!(
            "<figure class=\"qr\" id=\"qr\">{svg}<figcaption>Scan to open {}. \
Print this page and pin it up.</figcaption></figure>\n",
            esc(first)
        ));
    }
    b.push_str("</section>\n");
}

/// A form per local collection to add files from this browser.
fn upload_section(b: &mut String, collections: &[CollectionSnapshot], max: u64) {
    let local: Vec<&CollectionSnapshot> = collections
        .iter()
        .filter(|c| c.origin == Origin::Local)
        .collect();
    if local.is_empty() {
        return;
    }
    b.push_str(&format!(
        "<section class=\"upload noprint\"><h2>Add files</h2>\n<p>Files are added to the \
collection's folder (never replacing a file of the same name) and shared with its next version. \
Up to {} at a time.</p>\n",
        human_size(max)
    ));
    for c in local {
        b.push_str(&format!(
            "<form class=\"upload\" method=\"post\" action=\"/admin/upload/{n}\" \
enctype=\"multipart/form-data\"><label>{t}: <input type=\"file\" name=\"file\" multiple \
required></label> <button type=\"submit\">Add to {t}</button></form>\n",
            n = esc(&c.name),
            t = esc(&c.title)
        ));
    }
    b.push_str("</section>\n");
}

/// The files of collection folders that are not shared, and why.
fn skipped_section(b: &mut String, status: &Status) {
    if status.skipped.is_empty() {
        return;
    }
    b.push_str(
        "<h2 id=\"skipped\">Files not shared</h2>\n<p>These files are in a collection folder \
but are not shared. Fix them (for example make them readable by the seedbox) and they are \
shared with the next version.</p>\n<table class=\"cards\"><thead><tr><th>Collection</th><th>File</th>\
<th>Why</th></tr></thead><tbody>\n",
    );
    for (name, files) in &status.skipped {
        for f in files {
            b.push_str(&format!(
                "<tr><td>{}</td><td data-label=\"File\">{}</td><td data-label=\"Why\">{}</td></tr>\n",
                esc(name),
                esc(&f.path),
                esc(&f.reason)
            ));
        }
    }
    b.push_str("</tbody></table>\n");
}

fn uptime(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, (secs % 86_400) / 3600, (secs % 3600) / 60);
    if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m} min")
    } else {
        format!("{m} min {} s", secs % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access() {
        let lo: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let lo6: SocketAddr = "[::1]:5000".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:5000".parse().unwrap();
        let lan: SocketAddr = "192.168.1.20:5000".parse().unwrap();
        let good = HeaderValue::from_static("Bearer s3cret");
        let bad = HeaderValue::from_static("Bearer s3cres");
        for p in [lo, lo6, mapped] {
            assert!(admin_allowed(Some(p), None, None));
        }
        assert!(!admin_allowed(Some(lan), None, None));
        assert!(!admin_allowed(None, None, Some("s3cret")));
        assert!(!admin_allowed(Some(lan), Some(&good), None));
        assert!(!admin_allowed(Some(lan), Some(&good), Some("")));
        assert!(admin_allowed(Some(lan), Some(&good), Some("s3cret")));
        assert!(admin_allowed(
            None,
            Some(&HeaderValue::from_static("bearer s3cret")),
            Some("s3cret")
        ));
        assert!(!admin_allowed(Some(lan), Some(&bad), Some("s3cret")));
        assert!(!admin_allowed(
            Some(lan),
            Some(&HeaderValue::from_static("Bearer s3cre")),
            Some("s3cret")
        ));
        assert!(!admin_allowed(
            Some(lan),
            Some(&HeaderValue::from_static("Basic s3cret")),
            Some("s3cret")
        ));
        assert!(!admin_allowed(
            Some(lan),
            Some(&HeaderValue::from_static("s3cret")),
            Some("s3cret")
        ));
    }
}
