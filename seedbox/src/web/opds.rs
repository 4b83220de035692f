//! OPDS 1.2 catalogue for e-readers (KOReader and friends): a navigation
//! feed of collections, one paged acquisition feed per collection, and
//! OpenSearch.

use std::time::SystemTime;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{
    basename, error, human_size, mime_for, page_number, paginate, query_enc, rfc3339, search_term,
    valid_collection_name, xml_esc, ListQuery, Shared,
};
use crate::library::{CollectionSnapshot, FileEntry};

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

    /// Writes the feed with its links and the given entries.
    fn render(&self, entries: &str) -> Response {
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
        xml_response(x, self.kind)
    }
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
pub(super) async fn root(State(st): State<Shared>, Query(lq): Query<ListQuery>) -> Response {
    let snap = st.lib.snapshot();
    let colls = &snap.collections;
    let (page, pages, range) = paginate(colls.len(), PER_PAGE, page_number(lq.page.as_deref()));
    let updated = colls
        .iter()
        .map(|c| c.updated)
        .max()
        .unwrap_or_else(SystemTime::now);
    let mut entries = String::new();
    for c in &colls[range] {
        let complete = c.files.iter().filter(|f| f.complete).count();
        entries.push_str(&format!(
            "  <entry>\n    <title>{t}</title>\n    <id>urn:swarm:{k}</id>\n    <updated>{u}</updated>\n    \
<content type=\"text\">{n} files, {s}</content>\n    \
<link rel=\"subsection\" href=\"/opds/c/{name}\" type=\"{ACQ}\"/>\n  </entry>\n",
            t = xml_esc(&c.title),
            k = xml_esc(&c.key),
            u = rfc3339(c.updated),
            n = complete,
            s = human_size(c.total_size()),
            name = xml_esc(&c.name),
        ));
    }
    let feed = Feed {
        id: "urn:swarm:catalog".into(),
        title: site(&st).to_string(),
        updated,
        base: "/opds".into(),
        query: String::new(),
        kind: NAV,
        author: site(&st),
        up: None,
        total: colls.len(),
        page,
        pages,
    };
    feed.render(&entries)
}

fn file_entry(out: &mut String, c: &CollectionSnapshot, f: &FileEntry) {
    let mime = mime_for(&f.path);
    out.push_str(&format!(
        "  <entry>\n    <title>{t}</title>\n    <id>urn:swarm:{k}:{id}</id>\n    <updated>{u}</updated>\n    \
<author><name>{ct}</name></author>\n    <dc:format>{m}</dc:format>\n    \
<content type=\"text\">{p} ({s})</content>\n    \
<link rel=\"{ACQUISITION_REL}\" href=\"/c/{n}/f/{id}\" type=\"{m}\" length=\"{len}\"/>\n  </entry>\n",
        t = xml_esc(basename(&f.path)),
        k = xml_esc(&c.key),
        id = xml_esc(&f.id),
        u = rfc3339(f.mtime.unwrap_or(c.updated)),
        ct = xml_esc(&c.title),
        m = xml_esc(mime),
        p = xml_esc(&f.path),
        s = human_size(f.size),
        n = xml_esc(&c.name),
        len = f.size,
    ));
}

/// `/opds/c/{name}`: acquisition feed of a collection's complete files.
pub(super) async fn collection(
    State(st): State<Shared>,
    Path(name): Path<String>,
    Query(lq): Query<ListQuery>,
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
    let (page, pages, range) = paginate(files.len(), PER_PAGE, page_number(lq.page.as_deref()));
    let mut entries = String::new();
    for f in &files[range] {
        file_entry(&mut entries, c, f);
    }
    let feed = Feed {
        id: format!("urn:swarm:{}", c.key),
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
    feed.render(&entries)
}

/// `/opds/search?q=...`: acquisition feed of complete files whose path or
/// collection title matches.
pub(super) async fn search(State(st): State<Shared>, Query(lq): Query<ListQuery>) -> Response {
    let q = search_term(lq.q.as_deref()).unwrap_or_default();
    let needle = q.to_lowercase();
    let needle = needle.as_str();
    let snap = st.lib.snapshot();
    let hits: Vec<(&CollectionSnapshot, &FileEntry)> = if needle.is_empty() {
        Vec::new()
    } else {
        snap.collections
            .iter()
            .flat_map(|c| {
                let title_hit = super::patron::matches(&c.title, needle);
                c.files
                    .iter()
                    .filter(move |f| {
                        f.complete && (title_hit || super::patron::matches(&f.path, needle))
                    })
                    .map(move |f| (c, f))
            })
            .collect()
    };
    let (page, pages, range) = paginate(hits.len(), PER_PAGE, page_number(lq.page.as_deref()));
    let mut entries = String::new();
    for (c, f) in &hits[range] {
        file_entry(&mut entries, c, f);
    }
    let feed = Feed {
        id: format!("urn:swarm:search:{}", query_enc(&q)),
        title: format!("Search: {q}"),
        updated: SystemTime::now(),
        base: "/opds/search".into(),
        query: format!("q={}&", query_enc(&q)),
        kind: ACQ,
        author: site(&st),
        up: Some(("/opds", NAV)),
        total: hits.len(),
        page,
        pages,
    };
    feed.render(&entries)
}

/// `/opds/search.xml`: the OpenSearch description document.
pub(super) async fn search_description(State(st): State<Shared>) -> Response {
    let name: String = site(&st).chars().take(16).collect();
    let x = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<OpenSearchDescription xmlns=\"http://a9.com/-/spec/opensearch/1.1/\">\n  \
<ShortName>{short}</ShortName>\n  <LongName>{long}</LongName>\n  \
<Description>Search the files of {long} by title or file name.</Description>\n  \
<InputEncoding>UTF-8</InputEncoding>\n  <OutputEncoding>UTF-8</OutputEncoding>\n  \
<Url type=\"{ACQ}\" template=\"/opds/search?q={{searchTerms}}\"/>\n\
</OpenSearchDescription>\n",
        short = xml_esc(&name),
        long = xml_esc(site(&st)),
    );
    xml_response(x, OSD)
}
