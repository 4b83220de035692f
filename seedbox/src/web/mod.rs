//! The seedbox's web side: a read-only patron page (browse, search,
//! download single files with range requests, .torrent and magnet links),
//! an OPDS 1.2 catalogue for ebook readers, and an admin status page with a
//! JSON API.
//!
//! The web layer only reads the daemon's [`Library`] snapshot. It never
//! builds a filesystem path from a URL: a download looks the file up by
//! `(collection name, file id)` in the snapshot and opens the
//! [`FileEntry::disk_path`](crate::library::FileEntry::disk_path) the daemon
//! put there.
//!
//! # Request checks (in this order, before routing)
//!
//! 1. **Path**: a request whose path, after percent-decoding, contains `..`,
//!    a NUL byte or a backslash, or is not UTF-8, gets `400 Bad Request`.
//! 2. **Host** (DNS rebinding): the `Host` header must be an IP literal,
//!    `localhost`, the machine's host name or `<hostname>.local`, or one of
//!    [`WebConfig::extra_hosts`]; anything else (or no host at all) gets
//!    `421 Misdirected Request`. A web page on some other site that gets its
//!    own name re-pointed at the seedbox's address therefore cannot read the
//!    seedbox's pages, admin included. Set `extra_hosts` when patrons reach
//!    the box under a local DNS name (for example `library.lan`).
//! 3. **Origin**: any request other than GET/HEAD that carries an `Origin`
//!    header not equal to `http://<Host>` (or `https://<Host>`) gets
//!    `403 Forbidden` (cross-site form posts).
//! 4. **Admin** (`/admin`, `/admin/...`): allowed when the TCP peer is a
//!    loopback address, or when an admin token is configured and the request
//!    carries `Authorization: Bearer <token>` (compared in constant time).
//!    Without a configured token remote admin is always refused. There are no
//!    default credentials. The peer address comes from
//!    [`axum::extract::ConnectInfo`]; when the router is served without it
//!    (not through [`serve`]) every peer counts as remote.
//! 5. **Methods**: only GET and HEAD exist, and POST for the (admin)
//!    upload form (`/admin/upload/{collection}`, see `upload`); anything
//!    else gets `405`.
//!
//! Every response carries `Content-Security-Policy: default-src 'self';
//! script-src 'self'`, `Referrer-Policy: no-referrer` and
//! `X-Content-Type-Options: nosniff`. Every piece of text that comes from a
//! file name or a title is escaped (HTML or XML) before it is written out.

mod address;
mod admin;
mod conn;
mod covers;
mod listing;
mod opds;
mod patron;
mod upload;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::DefaultBodyLimit;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::library::Library;

pub use address::{page_urls, qr_svg};
pub use admin::admin_allowed;
pub use conn::ConnLimits;

/// Settings of the web page.
#[derive(Clone, Debug)]
pub struct WebConfig {
    /// Shown in page titles and the OPDS catalogue.
    pub site_title: String,
    /// When set, remote (non-loopback) clients may use the admin page and
    /// API with `Authorization: Bearer <token>`. When unset, admin is
    /// loopback-only.
    pub admin_token: Option<String>,
    /// Host names patrons and admins may use, besides IP literals,
    /// `localhost`, the machine's host name and `<hostname>.local`.
    pub extra_hosts: Vec<String>,
    /// Bounds on connections (used by [`serve`]).
    pub limits: ConnLimits,
    /// The addresses patrons reach the page at (see [`page_urls`]), shown
    /// on the admin page with a QR code of the first, to print and pin up.
    pub page_urls: Vec<String>,
    /// Most bytes of one upload from the admin page (see `upload`).
    pub max_upload: u64,
}

impl Default for WebConfig {
    fn default() -> WebConfig {
        WebConfig {
            site_title: String::new(),
            admin_token: None,
            extra_hosts: Vec::new(),
            limits: ConnLimits::default(),
            page_urls: Vec::new(),
            max_upload: crate::config::DEFAULT_MAX_UPLOAD_MB * 1024 * 1024,
        }
    }
}

/// What every handler shares.
pub(crate) struct AppState {
    pub(crate) lib: Arc<dyn Library>,
    pub(crate) cfg: WebConfig,
    /// Lowercase host names accepted in `Host` (IP literals are always).
    allowed_hosts: Vec<String>,
}

type Shared = Arc<AppState>;

/// Builds the web application (patron page, OPDS, admin) over `lib`.
///
/// Serve it with [`serve`], or with
/// `into_make_service_with_connect_info::<SocketAddr>()` so that the admin
/// check sees the peer address.
pub fn router(lib: Arc<dyn Library>, cfg: WebConfig) -> Router {
    let mut allowed_hosts = vec!["localhost".to_string()];
    if let Some(h) = machine_hostname() {
        allowed_hosts.push(format!("{h}.local"));
        allowed_hosts.push(h);
    }
    for h in &cfg.extra_hosts {
        let h = normalize_host_name(h);
        if !h.is_empty() {
            allowed_hosts.push(h);
        }
    }
    // The multipart framing around an upload's files, beyond their bytes.
    let upload_body =
        usize::try_from(cfg.max_upload.saturating_add(upload::FRAMING)).unwrap_or(usize::MAX);
    let state: Shared = Arc::new(AppState {
        lib,
        cfg,
        allowed_hosts,
    });
    Router::new()
        .route("/", get(patron::index))
        .route("/search", get(patron::search))
        .route("/c/{name}", get(patron::collection))
        .route("/c/{name}/", get(patron::collection))
        .route("/c/{name}/f/{id}", get(patron::download))
        .route("/c/{name}/cover/{id}", get(covers::cover))
        .route("/static/nocover.png", get(covers::placeholder))
        .route("/static/app.js", get(patron::app_js))
        .route("/static/style.css", get(patron::style_css))
        .route("/static/favicon.svg", get(patron::favicon))
        .route("/favicon.ico", get(patron::favicon))
        .route("/opds", get(opds::root))
        .route("/opds/", get(opds::root))
        .route("/opds/c/{name}", get(opds::collection))
        .route("/opds/search.xml", get(opds::search_description))
        .route("/opds/search", get(opds::search))
        .route("/admin", get(admin::page))
        .route("/admin/", get(admin::page))
        .route("/admin/api/status", get(admin::status_json))
        .route(
            "/admin/upload/{name}",
            post(upload::upload).layer(DefaultBodyLimit::max(upload_body)),
        )
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// Serves [`router`] on `listener` (with the peer address available to the
/// admin check) within [`WebConfig::limits`] until the task is dropped or
/// aborted.
pub async fn serve(
    listener: tokio::net::TcpListener,
    lib: Arc<dyn Library>,
    cfg: WebConfig,
) -> std::io::Result<()> {
    let limits = cfg.limits.clone();
    conn::serve(listener, router(lib, cfg), limits).await
}

/// The checks every request goes through before routing (see the module
/// documentation), plus the security headers on every response.
async fn guard(State(st): State<Shared>, req: Request, next: Next) -> Response {
    let mut resp = match refusal(&st, &req) {
        None => next.run(req).await,
        Some(refused) => refused,
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; script-src 'self'"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

/// The refusal for a request that fails a check, if any.
fn refusal(st: &AppState, req: &Request) -> Option<Response> {
    if !path_is_clean(req.uri().path()) {
        return Some(error(StatusCode::BAD_REQUEST, "Bad request: invalid path."));
    }
    let host = request_host(req.uri(), req.headers());
    let host = match host {
        Some(h) if host_allowed(&h, &st.allowed_hosts) => h,
        _ => {
            return Some(error(
                StatusCode::MISDIRECTED_REQUEST,
                "Unknown host name. Use the seedbox's address or one of its configured names.",
            ))
        }
    };
    let method = req.method();
    let safe = method == Method::GET || method == Method::HEAD;
    if !safe {
        if let Some(origin) = req.headers().get(header::ORIGIN) {
            if !origin_matches(origin, &host) {
                return Some(error(
                    StatusCode::FORBIDDEN,
                    "Forbidden: cross-origin request.",
                ));
            }
        }
    }
    let path = req.uri().path();
    if path == "/admin" || path.starts_with("/admin/") {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        let auth = req.headers().get(header::AUTHORIZATION);
        if !admin_allowed(peer, auth, st.cfg.admin_token.as_deref()) {
            return Some(error(
                StatusCode::FORBIDDEN,
                "Forbidden: the admin page is reachable from the seedbox itself, or with its token.",
            ));
        }
    }
    let upload = method == Method::POST && path.starts_with("/admin/upload/");
    if !(safe || upload) {
        let mut r = error(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed.");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Some(r);
    }
    None
}

/// Whether a raw request path is acceptable: after percent-decoding it is
/// UTF-8 and contains no `..`, NUL or backslash.
pub(crate) fn path_is_clean(raw: &str) -> bool {
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(raw).collect();
    let Ok(s) = std::str::from_utf8(&bytes) else {
        return false;
    };
    !(s.contains("..") || s.contains('\0') || s.contains('\\'))
}

/// The host name (without port) the request was addressed to.
fn request_host(uri: &axum::http::Uri, headers: &HeaderMap) -> Option<String> {
    if let Some(h) = uri.host() {
        return Some(h.to_string());
    }
    let v = headers.get(header::HOST)?.to_str().ok()?;
    Some(strip_port(v).to_string())
}

/// `host[:port]` or `[v6][:port]` → host (brackets kept for IPv6).
fn strip_port(v: &str) -> &str {
    let v = v.trim();
    if v.starts_with('[') {
        return match v.find(']') {
            Some(i) => &v[..=i],
            None => v,
        };
    }
    match v.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.contains(':') => h,
        _ => v,
    }
}

fn normalize_host_name(h: &str) -> String {
    h.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Whether `host` (no port) is an IP literal or one of `names`.
pub(crate) fn host_allowed(host: &str, names: &[String]) -> bool {
    let inner = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
    if let Some(v6) = inner {
        return v6.parse::<std::net::Ipv6Addr>().is_ok();
    }
    if host.parse::<IpAddr>().is_ok() {
        return true;
    }
    let h = normalize_host_name(host);
    !h.is_empty() && names.contains(&h)
}

/// Whether an `Origin` header names the same site as `host`.
fn origin_matches(origin: &HeaderValue, host: &str) -> bool {
    let Ok(o) = origin.to_str() else { return false };
    let rest = o
        .strip_prefix("http://")
        .or_else(|| o.strip_prefix("https://"));
    match rest {
        Some(r) => normalize_host_name(strip_port(r)) == normalize_host_name(host),
        None => false,
    }
}

/// This machine's host name, lowercase, when it can be read.
fn machine_hostname() -> Option<String> {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())?;
    let h = normalize_host_name(&raw);
    let h = h.strip_suffix(".local").unwrap_or(&h).to_string();
    (!h.is_empty()).then_some(h)
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Not found.")
}

/// A short plain-text error response.
pub(crate) fn error(status: StatusCode, msg: &str) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        format!("{msg}\n"),
    )
        .into_response()
}

/// Escapes text for HTML content and (double- or single-quoted) attributes.
pub(crate) fn esc(s: &str) -> String {
    html_escape::encode_quoted_attribute(s).into_owned()
}

/// Escapes text for XML content and attributes; characters XML 1.0 cannot
/// carry (most control characters) become U+FFFD.
pub(crate) fn xml_esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Whether `name` looks like a collection name (a URL-safe slug).
pub(crate) fn valid_collection_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Whether `id` looks like a file id (lowercase hex).
pub(crate) fn valid_file_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The MIME type served for a file, from its extension. HTML is served as
/// plain text so that a shared page never runs in the seedbox's origin.
pub(crate) fn mime_for(path: &str) -> &'static str {
    let base = path.rsplit('/').next().unwrap_or(path);
    let ext = match base.rsplit_once('.') {
        Some((_, e)) => e.to_ascii_lowercase(),
        None => String::new(),
    };
    match ext.as_str() {
        "pdf" => "application/pdf",
        "epub" => "application/epub+zip",
        "txt" | "md" | "html" | "htm" | "xhtml" => "text/plain; charset=utf-8",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "mobi" => "application/x-mobipocket-ebook",
        "azw3" => "application/vnd.amazon.ebook",
        "fb2" => "application/x-fictionbook+xml",
        "djvu" => "image/vnd.djvu",
        "cbz" => "application/vnd.comicbook+zip",
        "cbr" => "application/vnd.comicbook-rar",
        "zip" => "application/zip",
        "mp3" => "audio/mpeg",
        "ogg" | "oga" => "audio/ogg",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}

/// The last component of a collection path.
pub(crate) fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Human-readable size (binary units).
pub(crate) fn human_size(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}

/// UTC calendar fields of a time (clamped to the epoch).
fn civil(t: SystemTime) -> (i64, u32, u32, u32, u32, u32) {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let secs = i64::try_from(secs).unwrap_or(i64::MAX / 2);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = if m <= 2 { y + 1 } else { y };
    (
        y,
        m,
        d,
        (sod / 3600) as u32,
        ((sod % 3600) / 60) as u32,
        (sod % 60) as u32,
    )
}

/// RFC 3339 timestamp in UTC, e.g. `2026-12-01T08:28:27Z`.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = civil(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// HTTP date (RFC 9110 IMF-fixdate), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
pub(crate) fn http_date(t: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, mo, d, h, mi, s) = civil(t);
    let days = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    format!(
        "{}, {d:02} {} {y:04} {h:02}:{mi:02}:{s:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[(mo as usize - 1) % 12]
    )
}

/// Short human date in UTC, e.g. `2026-12-01 08:28 UTC`.
pub(crate) fn human_time(t: SystemTime) -> String {
    let (y, mo, d, h, mi, _) = civil(t);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02} UTC")
}

/// A 1-based page number from a query value (anything invalid → 1).
pub(crate) fn page_number(raw: Option<&str>) -> usize {
    raw.and_then(|p| p.trim().parse::<usize>().ok())
        .filter(|&p| p >= 1)
        .unwrap_or(1)
}

/// Clamps `page` to the pages of `total` items, `per` per page, and returns
/// (page, page count, item range).
pub(crate) fn paginate(
    total: usize,
    per: usize,
    page: usize,
) -> (usize, usize, std::ops::Range<usize>) {
    let pages = total.div_ceil(per).max(1);
    let page = page.clamp(1, pages);
    let start = (page - 1) * per;
    let end = (start + per).min(total);
    (page, pages, start..end)
}

/// The search term from a query, trimmed and bounded in length.
pub(crate) fn search_term(raw: Option<&str>) -> Option<String> {
    let q: String = raw?.trim().chars().take(200).collect();
    (!q.is_empty()).then_some(q)
}

/// Query parameters shared by the listing and search routes.
#[derive(serde::Deserialize, Default)]
pub(crate) struct ListQuery {
    pub(crate) q: Option<String>,
    pub(crate) page: Option<String>,
    /// The order of a patron page listing (see `listing::Sort`).
    pub(crate) sort: Option<String>,
}

/// Percent-encodes a query value.
pub(crate) fn query_enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1_795_767_707);
        assert_eq!(rfc3339(t), "2026-11-27T08:21:47Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let leap = UNIX_EPOCH + std::time::Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00Z");
        let t = UNIX_EPOCH + std::time::Duration::from_secs(784_111_777);
        assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
    }

    #[test]
    fn paths() {
        assert!(path_is_clean("/c/zines/f/abc"));
        assert!(!path_is_clean("/c/zines/f/..%2f..%2fetc%2fpasswd"));
        assert!(!path_is_clean("/c/%2e%2e/"));
        assert!(!path_is_clean("/c/zines%00/"));
        assert!(!path_is_clean("/c/a%5cb"));
        assert!(!path_is_clean("/c/%ff"));
    }

    #[test]
    fn hosts() {
        let names = vec!["localhost".to_string(), "box.local".to_string()];
        for ok in [
            "127.0.0.1",
            "192.168.1.9",
            "[::1]",
            "localhost",
            "BOX.local",
            "box.local.",
        ] {
            assert!(host_allowed(ok, &names), "{ok}");
        }
        for bad in [
            "evil.example",
            "",
            "[zz]",
            "127.0.0.1.evil.example",
            "localhost.evil",
        ] {
            assert!(!host_allowed(bad, &names), "{bad}");
        }
        assert_eq!(strip_port("127.0.0.1:8080"), "127.0.0.1");
        assert_eq!(strip_port("[::1]:80"), "[::1]");
        assert_eq!(strip_port("::1"), "::1");
        assert!(origin_matches(
            &HeaderValue::from_static("http://127.0.0.1:80"),
            "127.0.0.1"
        ));
        assert!(!origin_matches(
            &HeaderValue::from_static("http://evil.example"),
            "127.0.0.1"
        ));
        assert!(!origin_matches(
            &HeaderValue::from_static("null"),
            "127.0.0.1"
        ));
    }

    #[test]
    fn escaping() {
        assert_eq!(
            xml_esc("<a href='x'>&\u{1}"),
            "&lt;a href=&apos;x&apos;&gt;&amp;\u{FFFD}"
        );
        assert!(esc("<script>").starts_with("&lt;script&gt;"));
        assert_eq!(mime_for("a/b/Page.HTML"), "text/plain; charset=utf-8");
        assert_eq!(mime_for("x.epub"), "application/epub+zip");
        assert_eq!(mime_for("noext"), "application/octet-stream");
    }

    #[test]
    fn pages() {
        assert_eq!(paginate(0, 100, 5), (1, 1, 0..0));
        assert_eq!(paginate(120, 100, 2), (2, 2, 100..120));
        assert_eq!(paginate(120, 50, 9), (3, 3, 100..120));
        assert_eq!(page_number(Some("0")), 1);
        assert_eq!(page_number(Some("x")), 1);
        assert_eq!(page_number(Some("3")), 3);
    }
}
