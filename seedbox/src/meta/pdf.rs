//! PDF metadata, read by a small bounded reader rather than a full PDF
//! parser: the title and author of the document information dictionary
//! (`/Info` in the trailer) or else of the XMP packet (`dc:title`,
//! `dc:creator`), and the page count (`/Count` of the page tree root).
//!
//! Only [`WINDOW`] bytes at the start and at the end of the file are
//! searched, plus [`WINDOW`] bytes at the offset the classic cross-reference
//! table gives for an object that is in neither (following at most
//! [`MAX_XREF_SECTIONS`] `/Prev` sections). Objects inside compressed
//! object streams are not read: such a PDF falls back to its XMP packet
//! (usually uncompressed) and the file name. Nothing recurses on the input.

use std::io::{Read, Seek, SeekFrom};

use quick_xml::events::Event;
use quick_xml::Reader;

use super::Extracted;

/// Bytes read at each place looked at.
pub const WINDOW: usize = 256 * 1024;
/// Cross-reference sections followed through `/Prev`.
pub const MAX_XREF_SECTIONS: usize = 8;

/// The metadata of a PDF (empty when it is not one, or is damaged).
pub fn read<R: Read + Seek>(mut r: R) -> Extracted {
    let Ok(len) = r.seek(SeekFrom::End(0)) else {
        return Extracted::default();
    };
    let head = read_at(&mut r, 0, WINDOW).unwrap_or_default();
    if !head.starts_with(b"%PDF-") {
        return Extracted::default();
    }
    let tail_at = len.saturating_sub(WINDOW as u64);
    let tail = if tail_at == 0 {
        head.clone()
    } else {
        read_at(&mut r, tail_at, WINDOW).unwrap_or_default()
    };
    let mut doc = Doc {
        r,
        head,
        tail,
        xref: None,
    };
    doc.extract()
}

fn read_at<R: Read + Seek>(r: &mut R, at: u64, n: usize) -> Option<Vec<u8>> {
    r.seek(SeekFrom::Start(at)).ok()?;
    let mut buf = Vec::with_capacity(n);
    r.take(n as u64).read_to_end(&mut buf).ok()?;
    Some(buf)
}

struct Doc<R> {
    r: R,
    head: Vec<u8>,
    tail: Vec<u8>,
    /// The offset of the last cross-reference section (`startxref`).
    xref: Option<u64>,
}

impl<R: Read + Seek> Doc<R> {
    fn extract(&mut self) -> Extracted {
        let mut ex = Extracted::default();
        self.xref = last_keyword_number(&self.tail, b"startxref");
        if let Some(info) = last_ref(&self.tail, b"/Info") {
            if let Some(obj) = self.object(info) {
                ex.title = dict_string(&obj, b"/Title");
                ex.authors = dict_string(&obj, b"/Author").into_iter().collect();
            }
        }
        if ex.title.is_none() || ex.authors.is_empty() {
            let (t, a) = xmp(&self.head)
                .or_else(|| xmp(&self.tail))
                .unwrap_or_default();
            ex.title = ex.title.or(t);
            if ex.authors.is_empty() {
                ex.authors = a;
            }
        }
        ex.pages = last_ref(&self.tail, b"/Root")
            .and_then(|root| self.object(root))
            .and_then(|cat| dict_ref(&cat, b"/Pages"))
            .and_then(|pages| self.object(pages))
            .and_then(|p| dict_number(&p, b"/Count"))
            .and_then(|n| u32::try_from(n).ok());
        ex
    }

    /// The bytes of object `num` (from `num 0 obj` to `endobj`).
    fn object(&mut self, num: u64) -> Option<Vec<u8>> {
        let tag = format!("{num} 0 obj");
        for buf in [&self.tail, &self.head] {
            if let Some(o) = find_object(buf, tag.as_bytes()) {
                return Some(o.to_vec());
            }
        }
        let at = self.xref_offset(num)?;
        let buf = read_at(&mut self.r, at, WINDOW)?;
        find_object(&buf, tag.as_bytes()).map(<[u8]>::to_vec)
    }

    /// Where object `num` starts, from the classic cross-reference tables.
    fn xref_offset(&mut self, num: u64) -> Option<u64> {
        let mut at = self.xref?;
        for _ in 0..MAX_XREF_SECTIONS {
            let buf = read_at(&mut self.r, at, WINDOW)?;
            let mut t = Tokens::new(&buf);
            if t.next()? != b"xref" {
                return None;
            }
            loop {
                let first = t.next()?;
                if first == b"trailer" {
                    break;
                }
                let start = number(first)?;
                let count = number(t.next()?)?;
                if (start..start.saturating_add(count)).contains(&num) {
                    // Entries are 20 bytes each, after the header line's EOL.
                    let base = t.pos + eol_len(&buf[t.pos..]);
                    let e = base.checked_add(usize::try_from((num - start) * 20).ok()?)?;
                    let entry = buf.get(e..e + 18)?;
                    let mut et = Tokens::new(entry);
                    let off = number(et.next()?)?;
                    let _gen = et.next()?;
                    return (et.next()? == b"n").then_some(off);
                }
                let skip = usize::try_from(count.checked_mul(20)?).ok()?;
                t.pos = t.pos + eol_len(&buf[t.pos..]) + skip;
                if t.pos >= buf.len() {
                    return None;
                }
            }
            at = dict_number(&buf[t.pos..], b"/Prev")?;
        }
        None
    }
}

fn eol_len(b: &[u8]) -> usize {
    b.iter()
        .take_while(|c| matches!(c, b' ' | b'\r' | b'\n'))
        .count()
}

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' | b'\0')
}

fn is_delim(c: u8) -> bool {
    is_ws(c) || b"()<>[]{}/%".contains(&c)
}

/// Whitespace-separated tokens (delimiters start a new token).
struct Tokens<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Tokens<'a> {
    fn new(b: &'a [u8]) -> Tokens<'a> {
        Tokens { b, pos: 0 }
    }
    fn next(&mut self) -> Option<&'a [u8]> {
        while self.pos < self.b.len() && is_ws(self.b[self.pos]) {
            self.pos += 1;
        }
        let start = self.pos;
        while self.pos < self.b.len() && !is_ws(self.b[self.pos]) {
            self.pos += 1;
            if self.pos < self.b.len() && is_delim(self.b[self.pos]) {
                break;
            }
        }
        (self.pos > start).then(|| &self.b[start..self.pos])
    }
}

fn number(t: &[u8]) -> Option<u64> {
    if t.is_empty() || t.len() > 18 || !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(t).ok()?.parse().ok()
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

fn rfind(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).rposition(|w| w == n)
}

/// The number after the last `keyword` (e.g. `startxref 1234`).
fn last_keyword_number(b: &[u8], keyword: &[u8]) -> Option<u64> {
    let at = rfind(b, keyword)? + keyword.len();
    number(Tokens::new(&b[at..]).next()?)
}

/// The object number of the last `key N G R` in `b`.
fn last_ref(b: &[u8], key: &[u8]) -> Option<u64> {
    let mut end = b.len();
    while let Some(at) = rfind(&b[..end], key) {
        if let Some(n) = ref_after(&b[at + key.len()..]) {
            return Some(n);
        }
        end = at;
    }
    None
}

/// `N G R` at the start of `b`.
fn ref_after(b: &[u8]) -> Option<u64> {
    let mut t = Tokens::new(b);
    let n = number(t.next()?)?;
    number(t.next()?)?;
    (t.next()? == b"R").then_some(n)
}

/// `num 0 obj ... endobj` in `b`, starting at a token boundary.
fn find_object<'a>(b: &'a [u8], tag: &[u8]) -> Option<&'a [u8]> {
    let mut from = 0;
    while let Some(i) = find(&b[from..], tag) {
        let at = from + i;
        if at == 0 || is_ws(b[at - 1]) {
            let body = &b[at + tag.len()..];
            let end = find(body, b"endobj").unwrap_or(body.len());
            return Some(&body[..end]);
        }
        from = at + 1;
    }
    None
}

/// Where the value of `key` starts in a dictionary (the key followed by a
/// delimiter, so `/Count` does not match `/CountX`).
fn value_of<'a>(d: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let mut from = 0;
    while let Some(i) = find(&d[from..], key) {
        let after = from + i + key.len();
        if d.get(after).is_none_or(|&c| is_delim(c)) {
            let v = &d[after..];
            return Some(&v[v.iter().take_while(|&&c| is_ws(c)).count()..]);
        }
        from = after;
    }
    None
}

fn dict_ref(d: &[u8], key: &[u8]) -> Option<u64> {
    ref_after(value_of(d, key)?)
}

fn dict_number(d: &[u8], key: &[u8]) -> Option<u64> {
    number(Tokens::new(value_of(d, key)?).next()?)
}

/// A string value (literal or hexadecimal), decoded to text.
fn dict_string(d: &[u8], key: &[u8]) -> Option<String> {
    let v = value_of(d, key)?;
    let raw = match v.first()? {
        b'(' => literal(&v[1..]),
        b'<' if v.get(1) != Some(&b'<') => hex_string(&v[1..]),
        _ => return None,
    };
    Some(text(&raw))
}

/// The bytes of a literal string (after its `(`), escapes resolved.
fn literal(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut depth = 0u32;
    let mut i = 0;
    while i < b.len() && out.len() < 64 * 1024 {
        let c = b[i];
        i += 1;
        match c {
            b'\\' => {
                let Some(&e) = b.get(i) else { break };
                i += 1;
                match e {
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'\r' | b'\n' => {}
                    b'0'..=b'7' => {
                        let mut v = u32::from(e - b'0');
                        for _ in 0..2 {
                            match b.get(i) {
                                Some(&d @ b'0'..=b'7') => {
                                    v = v * 8 + u32::from(d - b'0');
                                    i += 1;
                                }
                                _ => break,
                            }
                        }
                        out.push(v as u8);
                    }
                    other => out.push(other),
                }
            }
            b'(' => {
                depth += 1;
                out.push(c);
            }
            b')' if depth == 0 => break,
            b')' => {
                depth -= 1;
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

fn hex_string(b: &[u8]) -> Vec<u8> {
    let digits: Vec<u8> = b
        .iter()
        .take_while(|&&c| c != b'>')
        .take(128 * 1024)
        .filter_map(|&c| (c as char).to_digit(16).map(|d| d as u8))
        .collect();
    digits
        .chunks(2)
        .map(|p| (p[0] << 4) | p.get(1).copied().unwrap_or(0))
        .collect()
}

/// A PDF text string: UTF-16BE with a byte order mark, UTF-8 with one
/// (PDF 2.0), or PDFDocEncoding (read as Latin-1, which it matches for
/// letters).
fn text(b: &[u8]) -> String {
    if let Some(u) = b.strip_prefix(&[0xFE, 0xFF]) {
        let units: Vec<u16> = u
            .chunks_exact(2)
            .map(|p| u16::from_be_bytes([p[0], p[1]]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    if let Some(u) = b.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return String::from_utf8_lossy(u).into_owned();
    }
    b.iter().map(|&c| c as char).collect()
}

/// Title and creators of the first XMP packet in `b`.
fn xmp(b: &[u8]) -> Option<(Option<String>, Vec<String>)> {
    let start = find(b, b"<x:xmpmeta")?;
    let end = find(&b[start..], b"</x:xmpmeta>")? + start + 12;
    let mut r = Reader::from_reader(&b[start..end]);
    let mut buf = Vec::new();
    let (mut in_title, mut in_creator, mut in_li) = (false, false, false);
    let mut title = None;
    let mut authors = Vec::new();
    loop {
        match r.read_event_into(&mut buf).ok()? {
            Event::Start(e) => match e.local_name().as_ref() {
                b"title" if e.name().prefix().is_some_and(|p| p.as_ref() == b"dc") => {
                    in_title = true
                }
                b"creator" if e.name().prefix().is_some_and(|p| p.as_ref() == b"dc") => {
                    in_creator = true
                }
                b"li" => in_li = true,
                _ => {}
            },
            Event::End(e) => match e.local_name().as_ref() {
                b"title" => in_title = false,
                b"creator" => in_creator = false,
                b"li" => in_li = false,
                _ => {}
            },
            Event::Text(t) if in_li => {
                let s = t.unescape().ok()?.into_owned();
                if in_title && title.is_none() {
                    title = Some(s);
                } else if in_creator && authors.len() < 64 {
                    authors.push(s);
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Some((title, authors))
}

#[cfg(test)]
mod tests {
    use super::super::samples::pdf as sample;
    use super::*;
    use std::io::Cursor;

    #[test]
    fn info_and_pages() {
        let ex = read(Cursor::new(sample("Bike Repair (2nd)", "Zoë Roy", 3, 0)));
        assert_eq!(ex.title.as_deref(), Some("Bike Repair (2nd)"));
        assert_eq!(ex.authors, ["Zoë Roy"]);
        assert_eq!(ex.pages, Some(3));
    }

    #[test]
    fn objects_found_through_the_xref_table() {
        // Info, catalogue and page tree in neither the head nor the tail.
        let ex = read(Cursor::new(sample("Far", "Away", 2, WINDOW + 10)));
        assert_eq!(ex.title.as_deref(), Some("Far"));
        assert_eq!(ex.authors, ["Away"]);
        assert_eq!(ex.pages, Some(2));
    }

    #[test]
    fn xmp_when_no_info() {
        let pdf = b"%PDF-1.7\n1 0 obj\n<< /Type /Metadata >>\nstream\n<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><rdf:Description xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:title><rdf:Alt><rdf:li xml:lang=\"x-default\">Caf&#233;</rdf:li></rdf:Alt></dc:title><dc:creator><rdf:Seq><rdf:li>A. Author</rdf:li></rdf:Seq></dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>\nendstream\nendobj\n%%EOF\n";
        let ex = read(Cursor::new(pdf.to_vec()));
        assert_eq!(ex.title.as_deref(), Some("Café"));
        assert_eq!(ex.authors, ["A. Author"]);
    }

    #[test]
    fn garbage_is_no_metadata() {
        for b in [
            &b""[..],
            b"%PDF-",
            b"%PDF-1.4 /Info 99999999999999999999 0 R startxref 5 xref 0 999999999999",
        ] {
            let ex = read(Cursor::new(b.to_vec()));
            assert_eq!(ex.title, None);
        }
    }
}
