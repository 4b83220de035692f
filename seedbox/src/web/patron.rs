//! The patron page: collections, files, search, downloads (with ranges),
//! .torrent files and magnet links. Read-only, works without JavaScript.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncRead, AsyncSeekExt, ReadBuf};

use super::listing::{self, Sort};
use super::{
    basename, error, esc, human_size, human_time, mime_for, page_number, paginate, search_term,
    valid_collection_name, valid_file_id, ListQuery, Shared,
};
use crate::library::{CollectionSnapshot, FileEntry, FileIdentity, Origin};
use crate::search;

/// Files per page on the collection and search pages.
const PER_PAGE: usize = 100;
/// Bytes read from disk per body chunk.
const CHUNK: usize = 64 * 1024;

const APP_JS: &str = include_str!("app.js");
const STYLE_CSS: &str = include_str!("style.css");
const FAVICON_SVG: &str = include_str!("favicon.svg");

/// An HTML page with the common header (title, search box) and footer.
fn html_page(site: &str, title: &str, q: &str, body: &str) -> Response {
    let site = if site.is_empty() { "Seedbox" } else { site };
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title} · {site}</title>\
<link rel=\"stylesheet\" href=\"/static/style.css\">\
<link rel=\"icon\" href=\"/static/favicon.svg\" type=\"image/svg+xml\">\
<script src=\"/static/app.js\" defer></script></head>\n<body>\
<header><a class=\"site\" href=\"/\">{site}</a>\
<form class=\"search\" method=\"get\" action=\"/search\" role=\"search\">\
<input type=\"search\" name=\"q\" value=\"{q}\" placeholder=\"Search titles, authors and file names\" aria-label=\"Search\">\
<button type=\"submit\">Search</button></form></header>\n<main>\n{body}\n</main>\n\
<footer><a href=\"/opds\">OPDS catalogue</a> for e-readers</footer></body></html>\n",
        title = esc(title),
        site = esc(site),
        q = esc(q),
    );
    let mut r = html.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// `/`: every collection.
pub(super) async fn index(State(st): State<Shared>) -> Response {
    let snap = st.lib.snapshot();
    let mut body = String::from("<h1>Collections</h1>\n");
    if snap.collections.is_empty() {
        body.push_str("<p>No collections yet.</p>\n");
    } else {
        body.push_str(
            "<table class=\"collections cards\"><thead><tr><th>Collection</th><th>Files</th>\
<th>Size</th><th>Updated</th></tr></thead><tbody>\n",
        );
        for c in &snap.collections {
            collection_row(&mut body, c);
        }
        body.push_str("</tbody></table>\n");
    }
    html_page(&st.cfg.site_title, "Collections", "", &body)
}

fn collection_row(out: &mut String, c: &CollectionSnapshot) {
    out.push_str(&format!(
        "<tr><td><a href=\"/c/{n}\">{t}</a></td><td data-label=\"Files\">{f}</td>\
<td data-label=\"Size\">{s}</td><td data-label=\"Updated\">{u}</td></tr>\n",
        n = esc(&c.name),
        t = esc(&c.title),
        f = c.files.len(),
        s = human_size(c.total_size()),
        u = human_time(c.updated),
    ));
}

/// One row of a file table: cover, title, authors and path.
/// `with_collection` adds a column naming the collection.
fn file_row(out: &mut String, c: &CollectionSnapshot, f: &FileEntry, with_collection: bool) {
    let title = esc(f.title());
    let cover = super::covers::img(c, f);
    let by = if f.meta.authors.is_empty() {
        String::new()
    } else {
        format!(
            " <span class=\"author\">{}</span>",
            esc(&f.meta.authors.join(", "))
        )
    };
    let path = format!(" <span class=\"path\">{}</span>", esc(&f.path));
    let name = if f.complete {
        format!(
            "{cover}<a class=\"dl\" href=\"/c/{n}/f/{id}\"{how}>{title}</a>{by}{path}",
            n = esc(&c.name),
            id = esc(&f.id),
            how = link_target(&f.path),
        )
    } else {
        format!("<span class=\"incomplete\">{title}</span>{by}{path} <em>(still arriving)</em>")
    };
    let coll = if with_collection {
        format!(
            "<td><a href=\"/c/{}\">{}</a></td>",
            esc(&c.name),
            esc(&c.title)
        )
    } else {
        String::new()
    };
    out.push_str(&format!(
        "<tr><td>{name}</td>{coll}<td>{}</td></tr>\n",
        human_size(f.size)
    ));
}

/// Previous/next links for a listing at `base` (a path), keeping the
/// search term `q`.
fn pager(out: &mut String, base: &str, q: Option<&str>, sort: Sort, page: usize, pages: usize) {
    if pages <= 1 {
        return;
    }
    let qpart = listing::params(q, sort);
    let link = |rel: &str, p: usize, text: &str| {
        format!("<a rel=\"{rel}\" href=\"{base}?{qpart}page={p}\">{text}</a>")
    };
    out.push_str("<nav class=\"pager\">");
    if page > 1 {
        out.push_str(&link("prev", page - 1, "‹ Previous"));
        out.push(' ');
    }
    out.push_str(&format!("<span>Page {page} of {pages}</span>"));
    if page < pages {
        out.push(' ');
        out.push_str(&link("next", page + 1, "Next ›"));
    }
    out.push_str("</nav>\n");
}

/// The attribute of a file link: PDFs open in the browser (a new tab),
/// everything else is saved.
fn link_target(path: &str) -> &'static str {
    if opens_inline(path) {
        " target=\"_blank\" rel=\"noopener\""
    } else {
        " download"
    }
}

/// Whether a file is served `inline` (shown by the browser) rather than as
/// an attachment: PDFs, which every phone and desktop browser displays.
pub(super) fn opens_inline(path: &str) -> bool {
    mime_for(path) == "application/pdf"
}

/// `/c/{name}` (a collection's files, optionally filtered with `q`) and
/// `/c/{name}.torrent` (its .torrent file).
pub(super) async fn collection(
    State(st): State<Shared>,
    Path(name): Path<String>,
    Query(lq): Query<ListQuery>,
) -> Response {
    if let Some(stem) = name.strip_suffix(".v1.torrent") {
        return torrent(&st, stem, true);
    }
    if let Some(stem) = name.strip_suffix(".torrent") {
        return torrent(&st, stem, false);
    }
    if !valid_collection_name(&name) {
        return error(
            StatusCode::BAD_REQUEST,
            "Bad request: invalid collection name.",
        );
    }
    let snap = st.lib.snapshot();
    let Some(c) = snap.collection(&name) else {
        return error(StatusCode::NOT_FOUND, "No such collection.");
    };
    let q = search_term(lq.q.as_deref());
    let mut files: Vec<&FileEntry> = match q.as_deref().and_then(search::Query::parse) {
        Some(query) => search::filter(&query, c.files.iter()),
        None => c.files.iter().collect(),
    };
    let sort = Sort::parse(lq.sort.as_deref());
    listing::group_by_folder(&mut files, sort);
    let (page, pages, range) = paginate(files.len(), PER_PAGE, page_number(lq.page.as_deref()));
    let n = esc(&c.name);
    let mut body = format!("<h1>{}</h1>\n<p class=\"meta\">", esc(&c.title));
    body.push_str(&format!(
        "{} files, {}, version {}, updated {}{}.</p>\n",
        c.files.len(),
        human_size(c.total_size()),
        c.seq,
        human_time(c.updated),
        if c.origin == Origin::Mirror {
            ", mirrored from another seedbox"
        } else {
            ""
        },
    ));
    body.push_str(&format!(
        "<p class=\"share\">Whole collection: <a class=\"torrent\" href=\"/c/{n}.torrent\">.torrent file</a> · \
<a class=\"magnet\" href=\"{m}\">magnet link</a>{v1}</p>\n",
        m = esc(&c.magnet),
        v1 = if c.v1_compatible {
            format!(" · <a class=\"torrent-v1\" href=\"/c/{n}.v1.torrent\" title=\"For Transmission 3 and aria2: they cannot open the one above\">.torrent for older apps</a>")
        } else {
            String::new()
        }
    ));
    body.push_str(&format!(
        "<form class=\"filter\" method=\"get\" action=\"/c/{n}\"><input type=\"search\" name=\"q\" \
value=\"{}\" placeholder=\"Filter this collection\" aria-label=\"Filter this collection\" data-live=\"files\">\
<button type=\"submit\">Filter</button></form>\n",
        esc(q.as_deref().unwrap_or(""))
    ));
    listing::sort_links(&mut body, &format!("/c/{n}"), q.as_deref(), sort);
    if let Some(q) = &q {
        body.push_str(&format!(
            "<p>{} files match “{}”. <a href=\"/c/{n}\">Show all</a></p>\n",
            files.len(),
            esc(q)
        ));
    }
    if files.is_empty() {
        body.push_str("<p>No files.</p>\n");
    } else {
        body.push_str("<table class=\"files\" id=\"files\"><thead><tr><th>File</th><th>Size</th></tr></thead><tbody>\n");
        let mut folder = "";
        for f in &files[range] {
            let dir = listing::folder_of(&f.path);
            if dir != folder {
                body.push_str(&format!(
                    "<tr class=\"folder\"><th colspan=\"2\" scope=\"rowgroup\">{}/</th></tr>\n",
                    esc(dir)
                ));
                folder = dir;
            }
            file_row(&mut body, c, f, false);
        }
        body.push_str("</tbody></table>\n");
    }
    pager(
        &mut body,
        &format!("/c/{n}"),
        q.as_deref(),
        sort,
        page,
        pages,
    );
    html_page(&st.cfg.site_title, &c.title, "", &body)
}

/// `v1`: the collection's v1-only companion ([`crate::compat`]).
fn torrent(st: &Shared, name: &str, v1: bool) -> Response {
    if !valid_collection_name(name) {
        return error(
            StatusCode::BAD_REQUEST,
            "Bad request: invalid collection name.",
        );
    }
    let snap = st.lib.snapshot();
    let Some(c) = snap.collection(name) else {
        return error(StatusCode::NOT_FOUND, "No such collection.");
    };
    let (torrent, file) = match v1 {
        false => (c.torrent.clone(), format!("{name}.torrent")),
        true => match st.lib.v1_torrent(name) {
            Some(t) => (t, format!("{name}.v1.torrent")),
            None => return error(StatusCode::NOT_FOUND, "No v1 .torrent for this collection."),
        },
    };
    let bytes = Bytes::from(torrent.as_ref().clone());
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-bittorrent"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// `/search?q=...`: collections whose title
/// or name matches, and files whose path matches.
pub(super) async fn search(State(st): State<Shared>, Query(lq): Query<ListQuery>) -> Response {
    let Some(q) = search_term(lq.q.as_deref()) else {
        return index(State(st)).await;
    };
    let snap = st.lib.snapshot();
    let (title_hits, mut file_hits): (Vec<&CollectionSnapshot>, _) = match search::Query::parse(&q)
    {
        Some(query) => (
            snap.collections
                .iter()
                .filter(|c| query.matches_text(&c.title) || query.matches_text(&c.name))
                .collect(),
            search::library(&query, &snap, false),
        ),
        None => (Vec::new(), Vec::new()),
    };
    // Best matches first unless the patron picked an order.
    let sort = Sort::parse(lq.sort.as_deref());
    if lq.sort.is_some() {
        listing::sort_files(&mut file_hits, sort, |(_, f)| f);
    }
    let (page, pages, range) = paginate(file_hits.len(), PER_PAGE, page_number(lq.page.as_deref()));
    let mut body = format!("<h1>Search: {}</h1>\n", esc(&q));
    if !title_hits.is_empty() {
        body.push_str(
            "<h2>Collections</h2>\n<table class=\"collections cards\"><thead><tr><th>Collection</th>\
<th>Files</th><th>Size</th><th>Updated</th></tr></thead><tbody>\n",
        );
        for c in &title_hits {
            collection_row(&mut body, c);
        }
        body.push_str("</tbody></table>\n");
    }
    body.push_str(&format!(
        "<h2>Files</h2>\n<p>{} files match.</p>\n",
        file_hits.len()
    ));
    if !file_hits.is_empty() {
        listing::sort_links(&mut body, "/search", Some(&q), sort);
        body.push_str(
            "<table class=\"files\" id=\"files\"><thead><tr><th>File</th><th>Collection</th>\
<th>Size</th></tr></thead><tbody>\n",
        );
        for (c, f) in &file_hits[range] {
            file_row(&mut body, c, f, true);
        }
        body.push_str("</tbody></table>\n");
    }
    pager(&mut body, "/search", Some(&q), sort, page, pages);
    html_page(&st.cfg.site_title, &format!("Search: {q}"), &q, &body)
}

/// `/c/{name}/f/{id}`: one file, looked up by id in the snapshot.
pub(super) async fn download(
    State(st): State<Shared>,
    Path((name, id)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    if !valid_collection_name(&name) || !valid_file_id(&id) {
        return error(
            StatusCode::BAD_REQUEST,
            "Bad request: invalid collection or file id.",
        );
    }
    let snap = st.lib.snapshot();
    let Some(c) = snap.collection(&name) else {
        return error(StatusCode::NOT_FOUND, "No such collection.");
    };
    let Some(f) = c.file(&id) else {
        return error(StatusCode::NOT_FOUND, "No such file in this collection.");
    };
    if !f.complete {
        return error(
            StatusCode::CONFLICT,
            "This file is still being downloaded by the seedbox. Try again later.",
        );
    }
    let size = f.size;
    let mut file = match open_listed(f).await {
        Ok(Some(file)) => file,
        Ok(None) => {
            return error(
                StatusCode::CONFLICT,
                "This file changed on disk; the seedbox will publish a new version shortly.",
            )
        }
        Err(e) => {
            tracing::warn!(path = %f.disk_path.display(), "open for download: {e}");
            return error(
                StatusCode::NOT_FOUND,
                "This file is not available right now.",
            );
        }
    };
    // A strong validator of this file's content: a resumed download never
    // mixes two contents, and another file's change does not restart it.
    let etag = file_etag(&c.key, c.seq, f);
    // If-Range: honour Range only when the client's copy is this one
    // (a date, or another tag, gets the whole file: RFC 9110 13.1.5).
    let range = match headers.get(header::IF_RANGE) {
        Some(v) if v.as_bytes() != etag.as_bytes() => ByteRange::Full,
        _ => parse_range(headers.get(header::RANGE), size),
    };
    let (status, start, len) = match range {
        ByteRange::Full => (StatusCode::OK, 0, size),
        ByteRange::Partial(a, b) => (StatusCode::PARTIAL_CONTENT, a, b - a + 1),
        ByteRange::Unsatisfiable => {
            let mut r = error(StatusCode::RANGE_NOT_SATISFIABLE, "Range not satisfiable.");
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            r.headers_mut()
                .insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            return r;
        }
    };
    let body = if method == Method::HEAD || len == 0 {
        Body::empty()
    } else {
        if start > 0 {
            if let Err(e) = file.seek(io::SeekFrom::Start(start)).await {
                tracing::warn!(path = %f.disk_path.display(), "seek for download: {e}");
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Could not read the file.",
                );
            }
        }
        Body::new(FileBody {
            file,
            remaining: len,
        })
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(mime_for(&f.path)),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if status == StatusCode::PARTIAL_CONTENT {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{size}", start + len - 1)) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    let inline = opens_inline(&f.path);
    if let Ok(v) = HeaderValue::from_str(&content_disposition(basename(&f.path), inline)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    r
}

/// Opens the file the snapshot lists, and only that file: the last path
/// component is opened without following a symlink (a fifo put in its
/// place does not block), and the opened file must be a regular file with
/// the device, inode, size and modification time the daemon saw when it
/// listed the version. Anything else (a symlink to the seedbox's key, a
/// file renamed over it, a rewrite) is `Ok(None)`: nothing is served.
async fn open_listed(f: &FileEntry) -> io::Result<Option<tokio::fs::File>> {
    let Some(want) = f.identity else {
        return Ok(None);
    };
    let file = match tokio::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(&f.disk_path)
        .await
    {
        Ok(file) => file,
        // ELOOP: the last component is a symlink.
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Ok(None),
        Err(e) => return Err(e),
    };
    let md = file.metadata().await?;
    let same = md.is_file() && md.len() == f.size && FileIdentity::of(&md) == want;
    Ok(same.then_some(file))
}

/// The strong entity tag of a file of a collection version: its content
/// hash (`"<v2 pieces root, hex>"`) when the torrent has one; otherwise
/// `"<first 16 hex of the publisher key>-<seq>-<file id>"`.
pub(super) fn file_etag(key: &str, seq: u64, f: &FileEntry) -> String {
    if let Some(h) = &f.content_hash {
        return format!("\"{h}\"");
    }
    let id = &f.id;
    let k: String = key
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(16)
        .collect();
    format!("\"{k}-{seq}-{id}\"")
}

/// `attachment; filename="<ascii>"; filename*=UTF-8''<pct-encoded>`
/// (`inline; ...` when `inline`: shown by the browser, saved under that
/// name).
pub(super) fn content_disposition(name: &str, inline: bool) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    // RFC 8187 attr-char: ALPHA / DIGIT / "!#$&+-.^_`|~"
    const ATTR: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'!')
        .remove(b'#')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'-')
        .remove(b'.')
        .remove(b'^')
        .remove(b'_')
        .remove(b'`')
        .remove(b'|')
        .remove(b'~');
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let ascii = if ascii.trim().is_empty() {
        "download".to_string()
    } else {
        ascii
    };
    format!(
        "{}; filename=\"{ascii}\"; filename*=UTF-8''{}",
        if inline { "inline" } else { "attachment" },
        utf8_percent_encode(name, ATTR)
    )
}

/// What a `Range` header asks for, given the file size.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ByteRange {
    /// No (usable) range: send the whole file.
    Full,
    /// Inclusive byte range, within the file.
    Partial(u64, u64),
    /// A syntactically valid range that does not overlap the file.
    Unsatisfiable,
}

/// Parses a single `bytes=a-b`, `bytes=a-` or `bytes=-n` range. Anything
/// else (other units, several ranges, bad syntax) is ignored.
pub(super) fn parse_range(h: Option<&HeaderValue>, size: u64) -> ByteRange {
    let Some(v) = h.and_then(|h| h.to_str().ok()) else {
        return ByteRange::Full;
    };
    let v = v.trim();
    let Some(spec) = v
        .get(..6)
        .filter(|p| p.eq_ignore_ascii_case("bytes="))
        .map(|_| &v[6..])
    else {
        return ByteRange::Full;
    };
    if spec.contains(',') {
        return ByteRange::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return ByteRange::Full;
    };
    let num = |s: &str| -> Option<u64> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    match (a.trim().is_empty(), b.trim().is_empty()) {
        (true, true) => ByteRange::Full,
        (true, false) => match num(b) {
            Some(0) => ByteRange::Unsatisfiable,
            Some(_) if size == 0 => ByteRange::Unsatisfiable,
            Some(n) => ByteRange::Partial(size - n.min(size), size - 1),
            None => ByteRange::Full,
        },
        (false, true) => match num(a) {
            Some(a) if a >= size => ByteRange::Unsatisfiable,
            Some(a) => ByteRange::Partial(a, size - 1),
            None => ByteRange::Full,
        },
        (false, false) => match (num(a), num(b)) {
            (Some(a), Some(b)) if a <= b => {
                if a >= size {
                    ByteRange::Unsatisfiable
                } else {
                    ByteRange::Partial(a, b.min(size - 1))
                }
            }
            _ => ByteRange::Full,
        },
    }
}

/// Streams `remaining` bytes of a file, in chunks; a file that ends early
/// is an error (the connection is cut rather than padded).
struct FileBody {
    file: tokio::fs::File,
    remaining: u64,
}

impl http_body::Body for FileBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, io::Error>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let want = usize::try_from(self.remaining).unwrap_or(CHUNK).min(CHUNK);
        let mut buf = vec![0u8; want];
        let mut rb = ReadBuf::new(&mut buf);
        match Pin::new(&mut self.file).poll_read(cx, &mut rb) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                if n == 0 {
                    self.remaining = 0;
                    tracing::warn!("file shorter than its snapshot size; download cut");
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "file shorter than expected",
                    ))));
                }
                self.remaining -= n as u64;
                buf.truncate(n);
                Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from(buf)))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.remaining)
    }
}

/// `/static/app.js`: optional live filtering of file tables.
pub(super) async fn app_js() -> Response {
    static_asset(APP_JS, "text/javascript; charset=utf-8")
}

/// `/static/favicon.svg` and `/favicon.ico` (browsers that ignore the
/// page's icon link ask there): the site icon.
pub(super) async fn favicon() -> Response {
    static_asset(FAVICON_SVG, "image/svg+xml")
}

/// `/static/style.css`.
pub(super) async fn style_css() -> Response {
    static_asset(STYLE_CSS, "text/css; charset=utf-8")
}

fn static_asset(body: &'static str, ctype: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=3600"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str, size: u64) -> ByteRange {
        parse_range(Some(&HeaderValue::from_str(s).unwrap()), size)
    }

    #[test]
    fn ranges() {
        assert_eq!(r("bytes=0-9", 100), ByteRange::Partial(0, 9));
        assert_eq!(r("bytes=5-", 100), ByteRange::Partial(5, 99));
        assert_eq!(r("bytes=-3", 100), ByteRange::Partial(97, 99));
        assert_eq!(r("bytes=-300", 100), ByteRange::Partial(0, 99));
        assert_eq!(r("bytes=90-200", 100), ByteRange::Partial(90, 99));
        assert_eq!(r("bytes=100-", 100), ByteRange::Unsatisfiable);
        assert_eq!(r("bytes=100-200", 100), ByteRange::Unsatisfiable);
        assert_eq!(r("bytes=-0", 100), ByteRange::Unsatisfiable);
        assert_eq!(r("bytes=0-", 0), ByteRange::Unsatisfiable);
        assert_eq!(r("bytes=9-3", 100), ByteRange::Full);
        assert_eq!(r("bytes=0-1,5-6", 100), ByteRange::Full);
        assert_eq!(r("items=0-1", 100), ByteRange::Full);
        assert_eq!(r("bytes=x-1", 100), ByteRange::Full);
        assert_eq!(r("bytes=+1-2", 100), ByteRange::Full);
        assert_eq!(r("bytes=99999999999999999999999-", 100), ByteRange::Full);
        assert_eq!(parse_range(None, 10), ByteRange::Full);
    }

    #[tokio::test]
    async fn body_streams_and_cuts_short_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.bin");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let open = || async { tokio::fs::File::open(&path).await.unwrap() };
        let body = Body::new(FileBody {
            file: open().await,
            remaining: data.len() as u64,
        });
        let got = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        assert_eq!(&got[..], &data[..]);
        // The file is shorter than announced: an error, not padding.
        let body = Body::new(FileBody {
            file: open().await,
            remaining: data.len() as u64 + 1,
        });
        assert!(axum::body::to_bytes(body, usize::MAX).await.is_err());
        // Only the announced length is sent when the file is longer.
        let body = Body::new(FileBody {
            file: open().await,
            remaining: 70_000,
        });
        let got = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        assert_eq!(&got[..], &data[..70_000]);
    }

    #[test]
    fn disposition() {
        assert_eq!(
            content_disposition("Zine \"1\" é.pdf", false),
            "attachment; filename=\"Zine _1_ _.pdf\"; filename*=UTF-8''Zine%20%221%22%20%C3%A9.pdf"
        );
        assert_eq!(
            content_disposition("é", false),
            "attachment; filename=\"_\"; filename*=UTF-8''%C3%A9"
        );
        assert_eq!(
            content_disposition("a.pdf", true),
            "inline; filename=\"a.pdf\"; filename*=UTF-8''a.pdf"
        );
    }
}
