//! The librarian's catalogue file: `catalogue.toml` at the top of a
//! collection folder sets the title, authors, tags, language or
//! description of any file, over what the file itself says.
//!
//! ```toml
//! [[file]]
//! path = "zines/bike-repair-basics.pdf"
//! title = "Bike Repair Basics"
//! authors = ["Ana Pérez"]
//! tags = ["bikes", "repair"]
//! ```
//!
//! It is shared with the collection like any other file (so a mirror gets
//! the librarian's catalogue too, signed with the rest), and read when a
//! version is listed; it is not listed as a file itself. A file that is too
//! large ([`MAX_BYTES`]) or not valid is ignored with a warning.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

/// The catalogue file's name, at the top of a collection folder.
pub const FILE_NAME: &str = "catalogue.toml";
/// Largest catalogue file read.
pub const MAX_BYTES: u64 = 4 << 20;

/// What the catalogue file says about one file.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The file's path in the collection (`/`-separated).
    pub path: String,
    #[serde(default)]
    pub title: Option<String>,
    /// One author (`author = "..."`) or several (`authors = [...]`).
    #[serde(default, alias = "author", deserialize_with = "one_or_many")]
    pub authors: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Deserialize)]
struct FileToml {
    #[serde(default)]
    file: Vec<Entry>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// A collection's catalogue file, by file path.
#[derive(Clone, Debug, Default)]
pub struct Sidecar {
    by_path: HashMap<String, Entry>,
}

/// A catalogue file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SidecarError {
    #[error("{FILE_NAME} is larger than {MAX_BYTES} bytes")]
    TooLarge,
    #[error("{FILE_NAME}: {0}")]
    Invalid(#[from] toml::de::Error),
}

impl Sidecar {
    /// Parses a catalogue file's text.
    pub fn parse(text: &str) -> Result<Sidecar, SidecarError> {
        if text.len() as u64 > MAX_BYTES {
            return Err(SidecarError::TooLarge);
        }
        let f: FileToml = toml::from_str(text)?;
        let by_path = f
            .file
            .into_iter()
            .map(|e| (e.path.trim_start_matches("./").to_string(), e))
            .collect();
        Ok(Sidecar { by_path })
    }

    /// The catalogue file of the collection in `folder` (empty when there
    /// is none; a bad one is logged and ignored).
    pub fn load(folder: &Path) -> Sidecar {
        let p = folder.join(FILE_NAME);
        if !p.exists() {
            return Sidecar::default();
        }
        let parsed = match super::read_bounded(&p, MAX_BYTES) {
            None => Err(SidecarError::TooLarge),
            Some(b) => Sidecar::parse(&String::from_utf8_lossy(&b)),
        };
        parsed.unwrap_or_else(|e| {
            tracing::warn!("{}: ignored: {e}", p.display());
            Sidecar::default()
        })
    }

    /// What it says about the file at `path`.
    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.by_path.get(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entries() {
        let s = Sidecar::parse(
            "[[file]]\npath = \"a/b.pdf\"\ntitle = \"B\"\nauthor = \"Ana\"\ntags = [\"x\"]\n\
             [[file]]\npath = \"./c.epub\"\nauthors = [\"P\", \"Q\"]\n",
        )
        .unwrap();
        let b = s.get("a/b.pdf").unwrap();
        assert_eq!(b.title.as_deref(), Some("B"));
        assert_eq!(b.authors, ["Ana"]);
        assert_eq!(b.tags, ["x"]);
        assert_eq!(s.get("c.epub").unwrap().authors, ["P", "Q"]);
        assert!(Sidecar::parse("[[file]]\ntitle = \"no path\"\n").is_err());
        assert!(Sidecar::parse("[[file]]\npath = \"x\"\ntitel = \"typo\"\n").is_err());
    }

    #[test]
    fn the_config_template_example_parses() {
        let example: String = crate::config::TEMPLATE
            .lines()
            .filter_map(|l| l.strip_prefix("#   "))
            .map(|l| format!("{l}\n"))
            .collect();
        let s = Sidecar::parse(&example).unwrap();
        let e = s.get("zines/bike-repair-basics.pdf").unwrap();
        assert_eq!(e.authors, ["Ana Pérez"]);
        assert_eq!(e.language.as_deref(), Some("en"));
    }
}
