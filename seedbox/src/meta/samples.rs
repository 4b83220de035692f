//! Small sample files with metadata, as tests and the catalogue benchmark
//! need them: an EPUB (with an optional cover), a PDF with a document
//! information dictionary and a classic cross-reference table, a PNG.

use std::io::{Cursor, Write};

/// An EPUB 3 whose package document has the given `<metadata>` content
/// (Dublin Core elements, `dc:` bound) and, with `cover`, a cover image at
/// `OEBPS/img/cover.png`.
pub fn epub(metadata: &str, cover: Option<&[u8]>) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opt =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let manifest = if cover.is_some() {
        r#"<item id="cov" href="img/cover.png" media-type="image/png" properties="cover-image"/>"#
    } else {
        ""
    };
    let opf = format!(
        r#"<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/">{metadata}</metadata><manifest>{manifest}</manifest></package>"#
    );
    let container = br#"<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>"#;
    let mut members: Vec<(&str, &[u8])> = vec![
        ("mimetype", b"application/epub+zip"),
        ("META-INF/container.xml", container),
        ("OEBPS/content.opf", opf.as_bytes()),
    ];
    if let Some(c) = cover {
        members.push(("OEBPS/img/cover.png", c));
    }
    for (name, data) in members {
        // Writing to memory: these cannot fail.
        let _ = w.start_file(name, opt);
        let _ = w.write_all(data);
    }
    w.finish().map(Cursor::into_inner).unwrap_or_default()
}

/// A PDF of `pages` empty pages with `/Title` and `/Author` in its
/// information dictionary, and a `pad`-byte comment before and after its
/// objects (to place them beyond a reader's first and last bytes).
pub fn pdf(title: &str, author: &str, pages: u32, pad: usize) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n".to_vec();
    let comment = |out: &mut Vec<u8>| {
        if pad > 0 {
            out.push(b'%');
            out.extend(std::iter::repeat_n(b'x', pad));
            out.push(b'\n');
        }
    };
    comment(&mut out);
    let kids: Vec<String> = (0..pages).map(|i| format!("{} 0 R", 4 + i)).collect();
    let mut objs = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {pages} >>",
            kids.join(" ")
        ),
        format!(
            "<< /Title {} /Author {} >>",
            pdf_string(title),
            pdf_string(author)
        ),
    ];
    objs.extend((0..pages).map(|_| "<< /Type /Page /Parent 2 0 R >>".to_string()));
    let mut offs = Vec::new();
    for (i, o) in objs.iter().enumerate() {
        offs.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    comment(&mut out);
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objs.len() + 1).as_bytes());
    for o in offs {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R /Info 3 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objs.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// A PDF text string: a literal for ASCII, else UTF-16BE hex with a BOM.
fn pdf_string(s: &str) -> String {
    if s.is_ascii() {
        let esc: String = s
            .chars()
            .flat_map(|c| match c {
                '(' | ')' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        format!("({esc})")
    } else {
        let hex: String = s.encode_utf16().map(|u| format!("{u:04X}")).collect();
        format!("<FEFF{hex}>")
    }
}

/// A `w`×`h` PNG with a gradient.
pub fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 90]));
    let mut out = Cursor::new(Vec::new());
    let _ = img.write_to(&mut out, image::ImageFormat::Png);
    out.into_inner()
}
