//! OPDS 1.2 catalogue for e-readers (KOReader, Thorium, calibre's client):
//! a navigation feed of collections, one paged acquisition feed per
//! collection, and OpenSearch.
//!
//! Ids (RFC 4287 `atom:id`, stable and unique across seedboxes): the
//! catalogue is `urn:swarm:<seedbox key>`, a collection (its navigation
//! entry and its feed) `urn:swarm:<seedbox key>:c:<name>`, a book
//! `urn:swarm:<seedbox key>:c:<name>:<file id>`, a search
//! `urn:swarm:<seedbox key>:search:<query>`. Entries carry the book's title
//! (never a file extension), authors, language, summary, subjects and
//! cover links. Feeds answer `If-None-Match` (an entity tag of the feed's
//! bytes) and `If-Modified-Since` (their `Last-Modified`, the newest version
//! listed) with `304`; a `page=` past the last page, or not a page number,
//! is `404`. Every feed validates against the OPDS 1.2 RELAX NG schema
//! (seedbox/tests/opds).

use std::time::SystemTime;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{
    error, human_size, mime_for, paginate, query_enc, rfc3339, search_term, valid_collection_name,
    xml_esc, ListQuery, Shared,
};
use crate::library::{CollectionSnapshot, FileEntry};
use crate::search::{self, Query as SearchQuery};

/// Entries per page of every feed.
const PER_PAGE: usize = 50;
/// MIME type of navigation feeds.
pub(super) const NAV: &str = "application/atom+xml;profile=opds-catalog;kind=navigation";
/// MIME type of acquisition feeds.
pub(super) const ACQ: &str = "application/atom+xml;profile=opds-catalog;kind=acquisition";
/// MIME type of the OpenSearch description.
const OSD: &str = "application/opensearchdescription+xml";
const ACQUISITION_REL: &str = "http://opds-spec.org/acquisition";

/// One feed being written.
struct Feed<'a> {
    id: String,
    title: String,
    updated: SystemTime,
    /// Path of the feed without the page parameter, e.g. `/opds/c/zines`.
    base: String,
    /// Extra query (already percent-encoded, `k=v&`), kept on paging links.
    query: String,
    kind: &'static str,
    author: &'a str,
    up: Option<(&'static str, &'static str)>,
    total: usize,
    page: usize,
    pages: usize,
}

impl Feed<'_> {
    fn href(&self, page: usize) -> String {
        format!("{}?{}page={page}", self.base, self.query)
    }

    /// Writes the feed with its links and the given entries (or `304`
    /// when the client's copy, named in `req`, is this one).
    fn render(&self, entries: &str, req: &HeaderMap) -> Response {
        let mut x = String::with_capacity(entries.len() + 2048);
        x.push_str(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" \
xmlns:opds=\"http://opds-spec.org/2010/catalog\" xmlns:dc=\"http://purl.org/dc/terms/\" \
xmlns:opensearch=\"http://a9.com/-/spec/opensearch/1.1/\">\n",
        );
        x.push_str(&format!("  <id>{}</id>\n", xml_esc(&self.id)));
        x.push_str(&format!("  <title>{}</title>\n", xml_esc(&self.title)));
        x.push_str(&format!("  <updated>{}</updated>\n", rfc3339(self.updated)));
        x.push_str(&format!(
            "  <author><name>{}</name></author>\n",
            xml_esc(self.author)
        ));
        let link = |x: &mut String, rel: &str, href: &str, ty: &str| {
            x.push_str(&format!(
                "  <link rel=\"{}\" href=\"{}\" type=\"{}\"/>\n",
                xml_esc(rel),
                xml_esc(href),
                xml_esc(ty)
            ));
        };
        link(&mut x, "self", &self.href(self.page), self.kind);
        link(&mut x, "start", "/opds", NAV);
        if let Some((href, ty)) = self.up {
            link(&mut x, "up", href, ty);
        }
        link(&mut x, "search", "/opds/search.xml", OSD);
        link(&mut x, "first", &self.href(1), self.kind);
        link(&mut x, "last", &self.href(self.pages), self.kind);
        if self.page > 1 {
            link(&mut x, "previous", &self.href(self.page - 1), self.kind);
        }
        if self.page < self.pages {
            link(&mut x, "next", &self.href(self.page + 1), self.kind);
        }
        x.push_str(&format!(
            "  <opensearch:totalResults>{}</opensearch:totalResults>\n  \
<opensearch:itemsPerPage>{PER_PAGE}</opensearch:itemsPerPage>\n  \
<opensearch:startIndex>{}</opensearch:startIndex>\n",
            self.total,
            (self.page - 1) * PER_PAGE + 1
        ));
        x.push_str(entries);
        x.push_str("</feed>\n");
        conditional(x, self.kind, self.updated, req)
    }
}

/// The feed, or `304 Not Modified` when `req` names this very copy: its
/// entity tag (a hash of its bytes) in `If-None-Match`, or else its
/// `Last-Modified` date, as sent, in `If-Modified-Since`.
fn conditional(
    body: String,
    ctype: &'static str,
    updated: SystemTime,
    req: &HeaderMap,
) -> Response {
    use sha2::{Digest, Sha256};
    let etag = format!(
        "\"{}\"",
        hex::encode(&Sha256::digest(body.as_bytes())[..16])
    );
    let modified = super::http_date(updated);
    let fresh = match req.get(header::IF_NONE_MATCH) {
        Some(inm) => inm.to_str().is_ok_and(|v| {
            v.split(',').any(|t| {
                let t = t.trim();
                t == "*" || t.trim_start_matches("W/") == etag
            })
        }),
        None => req
            .get(header::IF_MODIFIED_SINCE)
            .is_some_and(|v| v.as_bytes() == modified.as_bytes()),
    };
    let mut r = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        xml_response(body, ctype)
    };
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&modified) {
        h.insert(header::LAST_MODIFIED, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// The page a feed request asks for (1 without `page=`), or `None` when
/// it is not a page number or past the last page (a `404`: [`no_page`]).
fn page_of(raw: Option<&str>, total: usize) -> Option<(usize, usize, std::ops::Range<usize>)> {
    let want = match raw {
        None => 1,
        Some(p) => p.trim().parse::<usize>().ok().filter(|&n| n >= 1)?,
    };
    let (page, pages, range) = paginate(total, PER_PAGE, want);
    (page == want).then_some((page, pages, range))
}

fn no_page() -> Response {
    error(StatusCode::NOT_FOUND, "No such page.")
}

/// The catalogue's id: `urn:swarm:<seedbox key>`.
fn catalogue_id(st: &Shared) -> String {
    format!("urn:swarm:{}", st.lib.seedbox_key())
}

/// A collection's id on this seedbox.
fn collection_id(st: &Shared, c: &CollectionSnapshot) -> String {
    format!("{}:c:{}", catalogue_id(st), c.name)
}

fn xml_response(body: String, ctype: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    r
}

fn site(st: &Shared) -> &str {
    if st.cfg.site_title.is_empty() {
        "Seedbox"
    } else {
        &st.cfg.site_title
    }
}

/// `/opds`: navigation feed, one entry per collection.
pub(super) async fn root(
    State(st): State<Shared>,
    Query(lq): Query<ListQuery>,
    req: HeaderMap,
) -> Response {
    let snap = st.lib.snapshot();
    let colls = &snap.collections;
    let Some((page, pages, range)) = page_of(lq.page.as_deref(), colls.len()) else {
        return no_page();
    };
    let mut entries = String::new();
    for c in &colls[range] {
        let complete = c.files.iter().filter(|f| f.complete).count();
        entries.push_str(&format!(
            "  <entry>\n    <title>{t}</title>\n    <id>{id}</id>\n    <updated>{u}</updated>\n    \
<content type=\"text\">{n} files, {s}</content>\n    \
<link rel=\"subsection\" href=\"/opds/c/{name}\" type=\"{ACQ}\"/>\n  </entry>\n",
            t = xml_esc(&c.title),
            id = xml_esc(&collection_id(&st, c)),
            u = rfc3339(c.updated),
            n = complete,
            s = human_size(c.total_size()),
            name = xml_esc(&c.name),
        ));
    }
    let feed = Feed {
        id: catalogue_id(&st),
        title: site(&st).to_string(),
        updated: newest(colls.iter()),
        base: "/opds".into(),
        query: String::new(),
        kind: NAV,
        author: site(&st),
        up: None,
        total: colls.len(),
        page,
        pages,
    };
    feed.render(&entries, &req)
}

/// The newest version among `colls` (the epoch when there is none: a
/// stable date for an empty catalogue).
fn newest<'a>(colls: impl Iterator<Item = &'a CollectionSnapshot>) -> SystemTime {
    colls
        .map(|c| c.updated)
        .max()
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// The type an e-reader is told for a file: [`mime_for`] without
/// parameters (readers pick the file extension from it, and some do not
/// know `text/plain; charset=utf-8`).
fn reader_type(path: &str) -> &'static str {
    let m = mime_for(path);
    m.split(';').next().unwrap_or(m)
}

fn file_entry(out: &mut String, st: &Shared, c: &CollectionSnapshot, f: &FileEntry) {
    let m = &f.meta;
    let mime = reader_type(&f.path);
    let mut e = format!(
        "  <entry>\n    <title>{t}</title>\n    <id>{cid}:{id}</id>\n    <updated>{u}</updated>\n",
        t = xml_esc(f.title()),
        cid = xml_esc(&collection_id(st, c)),
        id = xml_esc(&f.id),
        u = rfc3339(f.mtime.unwrap_or(c.updated)),
    );
    for a in &m.authors {
        e.push_str(&format!(
            "    <author><name>{}</name></author>\n",
            xml_esc(a)
        ));
    }
    for t in &m.tags {
        e.push_str(&format!(
            "    <category term=\"{t}\" label=\"{t}\"/>\n",
            t = xml_esc(t)
        ));
    }
    if let Some(lang) = &m.language {
        e.push_str(&format!(
            "    <dc:language>{}</dc:language>\n",
            xml_esc(lang)
        ));
    }
    e.push_str(&format!("    <dc:format>{}</dc:format>\n", xml_esc(mime)));
    if let Some(d) = &m.description {
        e.push_str(&format!(
            "    <summary type=\"text\">{}</summary>\n",
            xml_esc(d)
        ));
    }
    let pages = m.pages.map(|p| format!(", {p} pages")).unwrap_or_default();
    e.push_str(&format!(
        "    <content type=\"text\">{p} ({s}{pages})</content>\n",
        p = xml_esc(&f.path),
        s = human_size(f.size),
    ));
    if let Some(cover) = super::covers::href(c, f) {
        for rel in [
            "http://opds-spec.org/image",
            "http://opds-spec.org/image/thumbnail",
        ] {
            e.push_str(&format!(
                "    <link rel=\"{rel}\" href=\"{}\" type=\"image/jpeg\"/>\n",
                xml_esc(&cover)
            ));
        }
    }
    e.push_str(&format!(
        "    <link rel=\"{ACQUISITION_REL}\" href=\"/c/{n}/f/{id}\" type=\"{m}\" length=\"{len}\" title=\"{file}\"/>\n  </entry>\n",
        n = xml_esc(&c.name),
        id = xml_esc(&f.id),
        m = xml_esc(mime),
        len = f.size,
        file = xml_esc(super::basename(&f.path)),
    ));
    out.push_str(&e);
}

/// `/opds/c/{name}`: acquisition feed of a collection's complete files.
pub(super) async fn collection(
    State(st): State<Shared>,
    Path(name): Path<String>,
    Query(lq): Query<ListQuery>,
    req: HeaderMap,
) -> Response {
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
    let files: Vec<&FileEntry> = c.files.iter().filter(|f| f.complete).collect();
    let Some((page, pages, range)) = page_of(lq.page.as_deref(), files.len()) else {
        return no_page();
    };
    let mut entries = String::new();
    for f in &files[range] {
        file_entry(&mut entries, &st, c, f);
    }
    let feed = Feed {
        id: collection_id(&st, c),
        title: c.title.clone(),
        updated: c.updated,
        base: format!("/opds/c/{}", c.name),
        query: String::new(),
        kind: ACQ,
        author: site(&st),
        up: Some(("/opds", NAV)),
        total: files.len(),
        page,
        pages,
    };
    feed.render(&entries, &req)
}

/// `/opds/search?q=...`: acquisition feed of the complete files that match
/// (see [`crate::search`]), then those of collections whose title matches.
pub(super) async fn search(
    State(st): State<Shared>,
    Query(lq): Query<ListQuery>,
    req: HeaderMap,
) -> Response {
    let q = search_term(lq.q.as_deref()).unwrap_or_default();
    let snap = st.lib.snapshot();
    let mut hits: Vec<(&CollectionSnapshot, &FileEntry)> = Vec::new();
    if let Some(query) = SearchQuery::parse(&q) {
        hits = search::library(&query, &snap, true);
        for c in &snap.collections {
            if query.matches_text(&c.title) {
                let more = c
                    .files
                    .iter()
                    .filter(|f| f.complete && query.rank(f).is_none());
                hits.extend(more.map(|f| (c, f)));
            }
        }
    }
    let Some((page, pages, range)) = page_of(lq.page.as_deref(), hits.len()) else {
        return no_page();
    };
    let mut entries = String::new();
    for (c, f) in &hits[range] {
        file_entry(&mut entries, &st, c, f);
    }
    let feed = Feed {
        id: format!("{}:search:{}", catalogue_id(&st), query_enc(&q)),
        title: format!("Search: {q}"),
        updated: newest(snap.collections.iter()),
        base: "/opds/search".into(),
        query: format!("q={}&", query_enc(&q)),
        kind: ACQ,
        author: site(&st),
        up: Some(("/opds", NAV)),
        total: hits.len(),
        page,
        pages,
    };
    feed.render(&entries, &req)
}

/// `/opds/search.xml`: the OpenSearch description document.
pub(super) async fn search_description(State(st): State<Shared>) -> Response {
    let name: String = site(&st).chars().take(16).collect();
    let x = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<OpenSearchDescription xmlns=\"http://a9.com/-/spec/opensearch/1.1/\">\n  \
<ShortName>{short}</ShortName>\n  <LongName>{long}</LongName>\n  \
<Description>Search the books of {long} by title, author, subject or file name.</Description>\n  \
<InputEncoding>UTF-8</InputEncoding>\n  <OutputEncoding>UTF-8</OutputEncoding>\n  \
<Url type=\"{ACQ}\" template=\"/opds/search?q={{searchTerms}}\"/>\n\
</OpenSearchDescription>\n",
        short = xml_esc(&name),
        long = xml_esc(site(&st)),
    );
    xml_response(x, OSD)
}
