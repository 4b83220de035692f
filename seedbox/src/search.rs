//! Search that finds books: every word of the query must match, in any
//! order, somewhere in a file's title, authors, tags or path; case and
//! diacritics do not matter ("cafe" finds "Café"); a word matches the
//! start of a word of the text ("repair" finds "bike-repair-basics.pdf",
//! "rep" too, "pair" does not). Files whose title holds every word come
//! first, then those whose title holds some, then the rest, each group in
//! listing order.
//!
//! The text searched is folded once per version ([`crate::meta::fold`],
//! kept in [`FileMeta`](crate::meta::FileMeta)), so a query costs one
//! substring scan per word and file.

use crate::library::{CollectionSnapshot, FileEntry, LibrarySnapshot};
use crate::meta::fold;

/// Most words of a query that are used.
pub const MAX_WORDS: usize = 12;

/// A parsed query: folded words, each with a leading space (word start).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    words: Vec<String>,
}

impl Query {
    /// The words of `q`; `None` when it has none.
    pub fn parse(q: &str) -> Option<Query> {
        let folded = fold(q);
        let mut words: Vec<String> = Vec::new();
        for w in folded.split_whitespace() {
            let w = format!(" {w}");
            if !words.contains(&w) && words.len() < MAX_WORDS {
                words.push(w);
            }
        }
        (!words.is_empty()).then_some(Query { words })
    }

    /// Whether every word is in `folded` (text from [`fold`]).
    fn all_in(&self, folded: &str) -> bool {
        self.words.iter().all(|w| folded.contains(w.as_str()))
    }

    /// Whether every word matches plain text (a collection's title, say).
    pub fn matches_text(&self, text: &str) -> bool {
        self.all_in(&fold(text))
    }

    /// How well a file matches: `None` when some word is missing, else its
    /// rank (0: every word in the title, 1: some, 2: none).
    pub fn rank(&self, f: &FileEntry) -> Option<u8> {
        if !self.all_in(&f.meta.haystack) {
            return None;
        }
        let in_title = self
            .words
            .iter()
            .filter(|w| f.meta.title_folded.contains(w.as_str()))
            .count();
        Some(match in_title {
            n if n == self.words.len() => 0,
            0 => 2,
            _ => 1,
        })
    }
}

/// The files of `files` that match, best first (stable within a rank).
pub fn filter<'a>(q: &Query, files: impl Iterator<Item = &'a FileEntry>) -> Vec<&'a FileEntry> {
    let mut hits: Vec<(u8, &FileEntry)> = files.filter_map(|f| Some((q.rank(f)?, f))).collect();
    hits.sort_by_key(|(r, _)| *r);
    hits.into_iter().map(|(_, f)| f).collect()
}

/// The matching files of every collection, best first; `complete_only`
/// leaves out files still arriving (OPDS lists only what can be fetched).
pub fn library<'a>(
    q: &Query,
    snap: &'a LibrarySnapshot,
    complete_only: bool,
) -> Vec<(&'a CollectionSnapshot, &'a FileEntry)> {
    let mut hits: Vec<(u8, &CollectionSnapshot, &FileEntry)> = snap
        .collections
        .iter()
        .flat_map(|c| c.files.iter().map(move |f| (c, f)))
        .filter(|(_, f)| f.complete || !complete_only)
        .filter_map(|(c, f)| Some((q.rank(f)?, c, f)))
        .collect();
    hits.sort_by_key(|(r, _, _)| *r);
    hits.into_iter().map(|(_, c, f)| (c, f)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::{Extracted, FileMeta};

    fn file(path: &str, title: Option<&str>, author: Option<&str>) -> FileEntry {
        let ex = Extracted {
            title: title.map(Into::into),
            authors: author.into_iter().map(Into::into).collect(),
            ..Extracted::default()
        };
        FileEntry {
            id: path.into(),
            path: path.into(),
            size: 1,
            mtime: None,
            complete: true,
            disk_path: path.into(),
            identity: None,
            content_hash: None,
            meta: std::sync::Arc::new(FileMeta::resolve(path, Some(&ex), None, None)),
        }
    }

    fn find<'a>(q: &str, files: &'a [FileEntry]) -> Vec<&'a str> {
        let q = Query::parse(q).unwrap();
        filter(&q, files.iter())
            .into_iter()
            .map(|f| f.path.as_str())
            .collect()
    }

    #[test]
    fn words_in_any_order_folded_across_fields() {
        let files = vec![
            file("zines/bike-repair-basics.pdf", None, None),
            file("b.epub", Some("Le Café des Amis"), Some("Zoë Durand")),
            file("c.pdf", Some("Cafeteria Menus"), None),
            file("d/cafe-notes.txt", Some("Notes"), None),
        ];
        assert_eq!(
            find("bike repair", &files),
            ["zines/bike-repair-basics.pdf"]
        );
        assert_eq!(
            find("REPAIR bike", &files),
            ["zines/bike-repair-basics.pdf"]
        );
        assert_eq!(find("zoe", &files), ["b.epub"]);
        assert_eq!(find("durand café", &files), ["b.epub"]);
        // Title matches first; word starts only ("pair" is not a word start).
        assert_eq!(
            find("cafe", &files),
            ["b.epub", "c.pdf", "d/cafe-notes.txt"]
        );
        assert!(find("pair", &files).is_empty());
        assert!(find("bike zoe", &files).is_empty());
        assert_eq!(Query::parse(" -- "), None);
        assert!(Query::parse("infoshop")
            .unwrap()
            .matches_text("The Infoshop"));
    }
}
