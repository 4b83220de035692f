//! How the patron page orders and groups file listings: `?sort=` (title,
//! author, date, size) and folders as groups on a collection page.
//!
//! Every order is total (ties fall back to the path), so a listing split
//! into pages never shows a file twice or skips one.

use std::cmp::Ordering;

use super::query_enc;

use crate::library::FileEntry;

/// How a file listing is ordered (`?sort=`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Sort {
    /// By display title, A to Z (the default).
    #[default]
    Title,
    /// By first author, A to Z, then title (files with no known author
    /// last).
    Author,
    /// Newest file first.
    Date,
    /// Largest file first.
    Size,
}

impl Sort {
    /// Every order, as offered on the page.
    pub(super) const ALL: [Sort; 4] = [Sort::Title, Sort::Author, Sort::Date, Sort::Size];

    /// The order a query value names (anything else: the default).
    pub(super) fn parse(raw: Option<&str>) -> Sort {
        match raw.map(str::trim) {
            Some("author") => Sort::Author,
            Some("date") => Sort::Date,
            Some("size") => Sort::Size,
            _ => Sort::Title,
        }
    }

    /// The query value (`sort=...`).
    pub(super) fn key(self) -> &'static str {
        match self {
            Sort::Title => "title",
            Sort::Author => "author",
            Sort::Date => "date",
            Sort::Size => "size",
        }
    }

    /// The link text.
    pub(super) fn label(self) -> &'static str {
        match self {
            Sort::Title => "Title",
            Sort::Author => "Author",
            Sort::Date => "Newest",
            Sort::Size => "Largest",
        }
    }
}

/// The folder of a collection path (`""` at the top).
pub(super) fn folder_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

/// Orders `items` (or whatever holds a file: `file` finds it) by `sort`,
/// ties broken by path.
pub(super) fn sort_files<T>(items: &mut [T], sort: Sort, file: impl Fn(&T) -> &FileEntry) {
    match sort {
        Sort::Title => items.sort_by_cached_key(|t| {
            let f = file(t);
            let (title, _) = f.sort_key();
            (title.to_string(), f.path.clone())
        }),
        Sort::Author => items.sort_by_cached_key(|t| {
            let f = file(t);
            let (title, author) = f.sort_key();
            (
                f.first_author().is_none(),
                author,
                title.to_string(),
                f.path.clone(),
            )
        }),
        Sort::Date => items.sort_by(|a, b| {
            let (a, b) = (file(a), file(b));
            b.mtime.cmp(&a.mtime).then_with(|| a.path.cmp(&b.path))
        }),
        Sort::Size => items.sort_by(|a, b| {
            let (a, b) = (file(a), file(b));
            b.size.cmp(&a.size).then_with(|| a.path.cmp(&b.path))
        }),
    }
}

/// Orders `files` folder by folder (top-level files first, then folders A
/// to Z), by `sort` within each folder.
pub(super) fn group_by_folder(files: &mut [&FileEntry], sort: Sort) {
    sort_files(files, sort, |f| f);
    // A stable sort keeps the order within each folder.
    files.sort_by(|a, b| folder_cmp(folder_of(&a.path), folder_of(&b.path)));
}

fn folder_cmp(a: &str, b: &str) -> Ordering {
    (!a.is_empty(), a.to_lowercase(), a).cmp(&(!b.is_empty(), b.to_lowercase(), b))
}

/// The query of a listing link (`q=...&amp;sort=...&amp;`; empty for the
/// defaults), to which `page=` or `sort=` is appended.
pub(super) fn params(q: Option<&str>, sort: Sort) -> String {
    let mut p = q
        .map(|q| format!("q={}&amp;", query_enc(q)))
        .unwrap_or_default();
    if sort != Sort::default() {
        p.push_str(&format!("sort={}&amp;", sort.key()));
    }
    p
}

/// The "Sort by" links of a listing at `base`, keeping the search term.
pub(super) fn sort_links(out: &mut String, base: &str, q: Option<&str>, current: Sort) {
    let qpart = params(q, Sort::default());
    out.push_str("<nav class=\"sort\" aria-label=\"Sort\">Sort by: ");
    for (i, s) in Sort::ALL.into_iter().enumerate() {
        if i > 0 {
            out.push_str(" · ");
        }
        if s == current {
            out.push_str(&format!(
                "<strong aria-current=\"true\">{}</strong>",
                s.label()
            ));
        } else {
            out.push_str(&format!(
                "<a href=\"{base}?{qpart}sort={}\">{}</a>",
                s.key(),
                s.label()
            ));
        }
    }
    out.push_str("</nav>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn f(path: &str, size: u64, secs: u64) -> FileEntry {
        FileEntry {
            id: String::new(),
            path: path.into(),
            size,
            mtime: Some(UNIX_EPOCH + Duration::from_secs(secs)),
            complete: true,
            disk_path: Default::default(),
            identity: None,
            content_hash: None,
            meta: std::sync::Arc::new(crate::meta::FileMeta::from_path(path)),
        }
    }

    fn paths(v: &[&FileEntry]) -> Vec<String> {
        v.iter().map(|f| f.path.clone()).collect()
    }

    #[test]
    fn by_author_then_title_unknown_authors_last() {
        let mut a = f("z.pdf", 0, 0);
        let mut b = f("y.pdf", 0, 0);
        let c = f("a.pdf", 0, 0);
        std::sync::Arc::make_mut(&mut a.meta).authors = vec!["Émile Zola".into()];
        std::sync::Arc::make_mut(&mut b.meta).authors = vec!["emma goldman".into()];
        let mut v: Vec<&FileEntry> = vec![&c, &a, &b];
        sort_files(&mut v, Sort::Author, |f| f);
        // "emile zola" < "emma goldman": diacritics and case folded
        assert_eq!(paths(&v), ["z.pdf", "y.pdf", "a.pdf"]);
    }

    #[test]
    fn orders_and_groups() {
        let all = [
            f("zebra.pdf", 5, 100),
            f("b/Apple.pdf", 9, 300),
            f("aardvark-tales.epub", 1, 200),
            f("B/cherry.pdf", 3, 50),
        ];
        let mut v: Vec<&FileEntry> = all.iter().collect();
        sort_files(&mut v, Sort::Title, |f| f);
        assert_eq!(
            paths(&v),
            [
                "aardvark-tales.epub",
                "b/Apple.pdf",
                "B/cherry.pdf",
                "zebra.pdf"
            ]
        );
        sort_files(&mut v, Sort::Date, |f| f);
        assert_eq!(
            paths(&v),
            [
                "b/Apple.pdf",
                "aardvark-tales.epub",
                "zebra.pdf",
                "B/cherry.pdf"
            ]
        );
        sort_files(&mut v, Sort::Size, |f| f);
        assert_eq!(
            paths(&v),
            [
                "b/Apple.pdf",
                "zebra.pdf",
                "B/cherry.pdf",
                "aardvark-tales.epub"
            ]
        );
        group_by_folder(&mut v, Sort::Title);
        assert_eq!(
            paths(&v),
            [
                "aardvark-tales.epub",
                "zebra.pdf",
                "B/cherry.pdf",
                "b/Apple.pdf"
            ]
        );
        assert_eq!(Sort::parse(Some("date")), Sort::Date);
        assert_eq!(Sort::parse(Some("nonsense")), Sort::Title);
        assert_eq!(Sort::parse(None), Sort::Title);
    }
}
