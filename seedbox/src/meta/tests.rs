use std::io::{Cursor, Write};

use super::samples::{epub, pdf as pdf_sample, png};
use super::*;

#[test]
fn titles_from_file_names() {
    assert_eq!(
        title_from_name("zines/bike-repair_basics.pdf"),
        "bike repair basics"
    );
    assert_eq!(title_from_name("README"), "README");
    assert_eq!(title_from_name(".pdf"), ".pdf");
    assert_eq!(
        title_from_name("a/Notes  on--things.tar.gz"),
        "Notes on things.tar"
    );
}

#[test]
fn folding_removes_case_and_diacritics() {
    assert_eq!(fold("Café CRÈME"), " cafe creme ");
    assert_eq!(fold("bike-repair-basics.pdf"), " bike repair basics pdf ");
    assert_eq!(fold("Łódź ﬁsh"), " łodz fish ");
    assert_eq!(fold(""), " ");
}

#[test]
fn sidecar_wins_then_file_then_name() {
    let ex = Extracted {
        title: Some("From File".into()),
        authors: vec!["File Author".into()],
        tags: vec!["a".into()],
        pages: Some(9),
        ..Extracted::default()
    };
    let side = sidecar::Entry {
        path: "x.pdf".into(),
        title: Some("From Librarian".into()),
        tags: vec!["b".into(), "a".into()],
        ..sidecar::Entry::default()
    };
    let m = FileMeta::resolve("x.pdf", Some(&ex), Some(&side), None);
    assert_eq!(m.title, "From Librarian");
    assert_eq!(m.authors, ["File Author"]);
    assert_eq!(m.tags, ["a", "b"]);
    assert_eq!(m.pages, Some(9));
    let m = FileMeta::resolve("dir/my_zine.pdf", Some(&Extracted::default()), None, None);
    assert_eq!(m.title, "my zine");
    assert!(m.haystack.contains(" my zine ") && m.haystack.contains(" dir "));
}

#[test]
fn epub_metadata_and_cover() {
    let book = epub(
        "<dc:title>Café Stories</dc:title><dc:creator>Ana Pérez</dc:creator>\
         <dc:language>fr</dc:language><dc:subject>Fiction</dc:subject>",
        Some(&png(600, 900)),
    );
    let mut ex = epub::read(Cursor::new(&book)).bounded();
    assert_eq!(ex.title.as_deref(), Some("Café Stories"));
    assert_eq!(ex.authors, ["Ana Pérez"]);
    assert_eq!(ex.language.as_deref(), Some("fr"));
    assert_eq!(ex.tags, ["Fiction"]);
    let thumb = thumbnail(&ex.cover.take().unwrap()).unwrap();
    let img = image::load_from_memory(&thumb).unwrap();
    assert_eq!((img.width(), img.height()), (THUMB_W, THUMB_H));
    // Not a zip, a truncated one, a cover that is not an image.
    assert_eq!(
        epub::read(Cursor::new(b"PK\x03\x04junk".to_vec())),
        Extracted::default()
    );
    assert_eq!(
        epub::read(Cursor::new(&book[..book.len() / 2])),
        Extracted::default()
    );
    assert!(thumbnail(b"not an image").is_none());
}

#[test]
fn epub_members_are_read_within_bounds() {
    // A package document past MAX_OPF (a deflated run of spaces inflates
    // far beyond its size on disk) is not read at all.
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opt = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    w.start_file("META-INF/container.xml", opt).unwrap();
    w.write_all(br#"<container><rootfiles><rootfile full-path="c.opf"/></rootfiles></container>"#)
        .unwrap();
    w.start_file("c.opf", opt).unwrap();
    w.write_all(b"<package><metadata><dc:title xmlns:dc=\"d\">T</dc:title>")
        .unwrap();
    let spaces = vec![b' '; 1 << 20];
    for _ in 0..(MAX_OPF >> 20) + 1 {
        w.write_all(&spaces).unwrap();
    }
    w.write_all(b"</metadata></package>").unwrap();
    let bomb = w.finish().unwrap().into_inner();
    assert!(bomb.len() < 64 * 1024, "{}", bomb.len());
    assert_eq!(epub::read(Cursor::new(bomb)), Extracted::default());
}

#[test]
fn catalogue_caches_across_restarts() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("b.epub");
    std::fs::write(&p, epub("<dc:title>Cached</dc:title>", Some(&png(40, 60)))).unwrap();
    let id = FileIdentity::of(&std::fs::metadata(&p).unwrap());
    let cat = Catalogue::open(state.path());
    let (ex, cover) = cat.describe(&p, "b.epub", Some("ab12"), &id);
    assert_eq!(ex.title.as_deref(), Some("Cached"));
    let cover = cover.unwrap();
    assert!(cover.starts_with(state.path()) && cover.is_file());
    cat.save();
    // After a restart the file is not read again (here: it is gone).
    std::fs::remove_file(&p).unwrap();
    let cat = Catalogue::open(state.path());
    let (ex, cover2) = cat.describe(&p, "b.epub", Some("ab12"), &id);
    assert_eq!(ex.title.as_deref(), Some("Cached"));
    assert_eq!(cover2, Some(cover));
    // Another content is another key.
    let (ex, _) = cat.describe(&p, "b.epub", Some("cd34"), &id);
    assert_eq!(ex.title, None);
}

#[test]
fn symlinks_and_changed_files_are_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.pdf");
    std::fs::write(&real, pdf_sample("Secret", "X", 1, 0)).unwrap();
    let id = FileIdentity::of(&std::fs::metadata(&real).unwrap());
    let link = dir.path().join("link.pdf");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    assert_eq!(extract_file(&link, "link.pdf", &id), Extracted::default());
    assert_eq!(
        extract_file(&real, "real.pdf", &id).title.as_deref(),
        Some("Secret")
    );
    let other = FileIdentity { size: 1, ..id };
    assert_eq!(
        extract_file(&real, "real.pdf", &other),
        Extracted::default()
    );
}
