//! The patron page as a library catalogue over real HTTP: folders grouped,
//! listings sorted by title, date or size (pages keep the order), PDFs
//! shown in the browser, a favicon.

mod web_fixture;

use seedbox::web::WebConfig;
use web_fixture::*;

fn cfg() -> WebConfig {
    WebConfig {
        site_title: "Infoshop".into(),
        ..Default::default()
    }
}

/// Where `needle` is in `hay` (it must be there).
fn pos(hay: &str, needle: &str) -> usize {
    hay.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the page:\n{hay}"))
}

#[test]
fn collection_page_groups_folders() {
    let fx = Fixture::start(cfg());
    let t = fx.get("/c/zines").text();
    // Top-level files first, then each folder under its heading.
    let notes = pos(
        &t,
        "<tr class=\"folder\"><th colspan=\"2\" scope=\"rowgroup\">notes/</th></tr>",
    );
    let sub = pos(&t, "scope=\"rowgroup\">sub/</th>");
    assert!(pos(&t, PDF) < notes);
    assert!(notes < pos(&t, ">notes/readme.txt<") && pos(&t, ">notes/readme.txt<") < sub);
    assert!(sub < pos(&t, &format!(">{EPUB}<")));
    // One heading per folder.
    assert_eq!(t.matches("scope=\"rowgroup\">sub/</th>").count(), 1);
    // A flat collection has no headings.
    assert!(!fx.get("/c/books").text().contains("class=\"folder\""));
}

#[test]
fn listings_sort_by_title_date_and_size() {
    let fx = Fixture::start(cfg());
    // Title (the default), A to Z; the sort links keep the filter.
    let t = fx.get("/c/books").text();
    assert!(pos(&t, ">book-001.txt<") < pos(&t, ">book-002.txt<"));
    assert!(
        t.contains("<strong aria-current=\"true\">Title</strong>"),
        "{t}"
    );
    assert!(t.contains("href=\"/c/books?sort=size\""), "{t}");
    let t = fx.get("/c/books?q=book-0&sort=date").text();
    assert!(
        t.contains("href=\"/c/books?q=book%2D0&amp;sort=size\""),
        "{t}"
    );
    // Largest first (book-120 is the largest); the next page keeps the order.
    let t = fx.get("/c/books?sort=size").text();
    assert!(pos(&t, ">book-120.txt<") < pos(&t, ">book-119.txt<"));
    assert!(!t.contains(">book-001.txt<"), "the smallest is on page 2");
    assert!(t.contains("href=\"/c/books?sort=size&amp;page=2\""), "{t}");
    let t = fx.get("/c/books?sort=size&page=2").text();
    assert!(pos(&t, ">book-002.txt<") < pos(&t, ">book-001.txt<"));
    // Search results too.
    let t = fx.get("/search?q=book-00&sort=size").text();
    assert!(pos(&t, ">book-009.txt<") < pos(&t, ">book-001.txt<"));
    let t = fx.get("/search?q=book-00").text();
    assert!(pos(&t, ">book-001.txt<") < pos(&t, ">book-009.txt<"));
    // Date: newest first, ties by path (every fixture file has one date).
    let t = fx.get("/c/books?sort=date").text();
    assert!(pos(&t, ">book-001.txt<") < pos(&t, ">book-002.txt<"));
    // Nonsense is the default order, not an error.
    assert_eq!(fx.get("/c/books?sort=%3Cx%3E").status, 200);
}

#[test]
fn pdfs_open_in_the_browser_and_the_page_has_an_icon() {
    let fx = Fixture::start(cfg());
    let r = fx.get(&format!("/c/zines/f/{}", file_id("zines", PDF)));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/pdf"));
    assert_eq!(
        r.header("content-disposition"),
        Some("inline; filename=\"Anarchy in the UK.pdf\"; filename*=UTF-8''Anarchy%20in%20the%20UK.pdf")
    );
    // Other files are still saved.
    let r = fx.get(&format!("/c/zines/f/{}", file_id("zines", EPUB)));
    assert!(r
        .header("content-disposition")
        .unwrap()
        .starts_with("attachment;"));
    let t = fx.get("/c/zines").text();
    let epub_link = format!("href=\"/c/zines/f/{}\" download>", file_id("zines", EPUB));
    assert!(t.contains(&epub_link), "{t}");
    // The icon, linked from every page and where browsers look by default.
    for page in ["/", "/c/zines", "/search?q=x", "/admin"] {
        let t = fx.get(page).text();
        assert!(
            t.contains("<link rel=\"icon\" href=\"/static/favicon.svg\" type=\"image/svg+xml\">"),
            "{page}: {t}"
        );
    }
    for path in ["/static/favicon.svg", "/favicon.ico"] {
        let r = fx.get(path);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("image/svg+xml"));
        assert!(r.text().starts_with("<svg"), "{}", r.text());
    }
}
