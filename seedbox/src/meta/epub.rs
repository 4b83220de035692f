//! EPUB metadata: the package document (OPF) that
//! `META-INF/container.xml` points to gives `dc:title`, `dc:creator`,
//! `dc:language`, `dc:description` and `dc:subject`; the cover is the
//! manifest item with `properties="cover-image"` (EPUB 3) or the one named
//! by `<meta name="cover" content="ID"/>` (EPUB 2).
//!
//! Bounds: every member is read through `take` ([`super::MAX_OPF`] for the
//! XML, [`super::MAX_EPUB_ENTRY`] for the cover), so a zip bomb inflates no
//! further than that; archives of more than [`MAX_MEMBERS`] members are not
//! read. The XML is read as a stream of events (no tree, no recursion).

use std::io::{Read, Seek};

use quick_xml::events::Event;
use quick_xml::Reader;

use super::{Extracted, MAX_EPUB_ENTRY, MAX_OPF};

/// Most members an EPUB may have for its metadata to be read.
pub const MAX_MEMBERS: usize = 20_000;

/// The metadata of an EPUB (empty when it is not one, or is damaged).
pub fn read<R: Read + Seek>(r: R) -> Extracted {
    read_opt(r).unwrap_or_default()
}

fn read_opt<R: Read + Seek>(r: R) -> Option<Extracted> {
    let mut zip = zip::ZipArchive::new(r).ok()?;
    if zip.len() > MAX_MEMBERS {
        return None;
    }
    let container = member(&mut zip, "META-INF/container.xml", MAX_OPF)?;
    let opf_path = rootfile(&container)?;
    let opf = member(&mut zip, &opf_path, MAX_OPF)?;
    let (mut ex, cover_href) = parse_opf(&opf);
    if let Some(href) = cover_href {
        let dir = opf_path.rsplit_once('/').map_or("", |(d, _)| d);
        let full = join_href(dir, &href);
        ex.cover = member(&mut zip, &full, MAX_EPUB_ENTRY);
    }
    Some(ex)
}

/// A member's bytes, at most `max` of them (`None` if missing or larger).
fn member<R: Read + Seek>(zip: &mut zip::ZipArchive<R>, name: &str, max: u64) -> Option<Vec<u8>> {
    let f = zip.by_name(name).ok()?;
    let mut buf = Vec::new();
    f.take(max + 1).read_to_end(&mut buf).ok()?;
    (buf.len() as u64 <= max).then_some(buf)
}

/// The package document's path from `container.xml`.
fn rootfile(xml: &[u8]) -> Option<String> {
    let mut r = Reader::from_reader(xml);
    let mut buf = Vec::new();
    loop {
        match r.read_event_into(&mut buf).ok()? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == b"rootfile" => {
                return attr(&e, b"full-path");
            }
            Event::Eof => return None,
            _ => {}
        }
        buf.clear();
    }
}

fn attr(e: &quick_xml::events::BytesStart<'_>, name: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
}

/// Metadata and the cover's href (relative to the OPF) from a package
/// document.
pub fn parse_opf(xml: &[u8]) -> (Extracted, Option<String>) {
    let mut ex = Extracted::default();
    let mut r = Reader::from_reader(xml);
    let mut buf = Vec::new();
    // The Dublin Core element whose text is being read.
    let mut field: Option<Vec<u8>> = None;
    let mut text = String::new();
    let mut cover_id: Option<String> = None;
    let mut cover_href: Option<String> = None;
    let mut items: Vec<(String, String)> = Vec::new();
    while let Ok(ev) = r.read_event_into(&mut buf) {
        match ev {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_vec();
                if matches!(
                    name.as_slice(),
                    b"title" | b"creator" | b"language" | b"description" | b"subject"
                ) && field.is_none()
                {
                    field = Some(name);
                    text.clear();
                }
            }
            Event::Empty(e) => match e.local_name().as_ref() {
                b"meta" if attr(&e, b"name").as_deref() == Some("cover") => {
                    cover_id = attr(&e, b"content");
                }
                b"item" => {
                    let (Some(id), Some(href)) = (attr(&e, b"id"), attr(&e, b"href")) else {
                        continue;
                    };
                    let props = attr(&e, b"properties").unwrap_or_default();
                    if props.split_whitespace().any(|p| p == "cover-image") {
                        cover_href = Some(href.clone());
                    }
                    if items.len() < super::epub::MAX_MEMBERS {
                        items.push((id, href));
                    }
                }
                _ => {}
            },
            Event::Text(t) if field.is_some() && text.len() < 64 * 1024 => {
                if let Ok(s) = t.unescape() {
                    text.push_str(&s);
                }
            }
            Event::CData(t) if field.is_some() && text.len() < 64 * 1024 => {
                text.push_str(&String::from_utf8_lossy(&t));
            }
            Event::End(e) if field.as_deref() == Some(e.local_name().as_ref()) => {
                let v = std::mem::take(&mut text);
                match field.take().as_deref() {
                    Some(b"title") if ex.title.is_none() => ex.title = Some(v),
                    Some(b"creator") => ex.authors.push(v),
                    Some(b"language") if ex.language.is_none() => ex.language = Some(v),
                    Some(b"description") if ex.description.is_none() => ex.description = Some(v),
                    Some(b"subject") => ex.tags.push(v),
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
        if ex.authors.len() > 64 || ex.tags.len() > 64 {
            break;
        }
        buf.clear();
    }
    let href = cover_href.or_else(|| {
        let id = cover_id?;
        items.into_iter().find(|(i, _)| *i == id).map(|(_, h)| h)
    });
    (ex, href)
}

/// A manifest href (percent-encoded, relative to the OPF's folder) as a
/// member name; `..` components go up.
fn join_href(dir: &str, href: &str) -> String {
    let href = href.split(['#', '?']).next().unwrap_or("");
    let decoded = percent_encoding::percent_decode_str(href).decode_utf8_lossy();
    let mut parts: Vec<&str> = if decoded.starts_with('/') {
        Vec::new()
    } else {
        dir.split('/').filter(|s| !s.is_empty()).collect()
    };
    for p in decoded.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs() {
        assert_eq!(
            join_href("OEBPS", "images/c%20v.jpg"),
            "OEBPS/images/c v.jpg"
        );
        assert_eq!(join_href("OEBPS/text", "../img/c.png#x"), "OEBPS/img/c.png");
        assert_eq!(join_href("", "cover.jpg"), "cover.jpg");
        assert_eq!(join_href("a", "../../../x"), "x");
    }

    #[test]
    fn opf_fields_and_cover() {
        let opf = br#"<?xml version="1.0"?>
<package xmlns="http://www.idpf.org/2007/opf" version="2.0">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
<dc:title>Caf&#233; Stories</dc:title><dc:creator opf:role="aut">Ana P&#233;rez</dc:creator>
<dc:creator>Bo Li</dc:creator><dc:language>fr</dc:language>
<dc:description>&lt;p&gt;Short &lt;b&gt;tales&lt;/b&gt;.&lt;/p&gt;</dc:description>
<dc:subject>Fiction</dc:subject><meta name="cover" content="c1"/></metadata>
<manifest><item id="c1" href="img/cover.jpg" media-type="image/jpeg"/></manifest></package>"#;
        let (ex, href) = parse_opf(opf);
        let ex = ex.bounded();
        assert_eq!(ex.title.as_deref(), Some("Café Stories"));
        assert_eq!(ex.authors, ["Ana Pérez", "Bo Li"]);
        assert_eq!(ex.language.as_deref(), Some("fr"));
        assert_eq!(ex.description.as_deref(), Some("Short tales ."));
        assert_eq!(ex.tags, ["Fiction"]);
        assert_eq!(href.as_deref(), Some("img/cover.jpg"));
    }
}
