//! The checks that keep a config from losing or leaking a file. Each
//! refusal names the line to change and why.
//!
//! Folders are compared as the system resolves them (symlinks followed as
//! far as the path exists), so a symlink cannot hide an overlap:
//!
//! - `state_dir` inside a collection or mirror folder (its private key and
//!   state would be shared), or a shared folder inside `state_dir`;
//! - a collection inside (or the same as) another one;
//! - a mirror inside, around or the same as a collection or another mirror
//!   (a mirror writes and deletes in its folder, which must be its own);
//! - the config file inside a shared folder (it can hold the admin token);
//! - the web page and BitTorrent on the same TCP port.
//!
//! - a mirror folder that is neither new, empty nor already the seedbox's
//!   (see [`crate::mirror_folder::inspect`]).

use std::path::{Path, PathBuf};

use super::{Network, Web};

/// A collection or mirror folder, for the overlap checks.
pub(super) struct Folder {
    what: String,
    mirror: bool,
    /// As written (made absolute).
    path: PathBuf,
    /// As resolved.
    real: PathBuf,
    line: usize,
}

impl Folder {
    pub(super) fn collection(name: &str, path: &Path, line: usize) -> Folder {
        Folder::new(format!("collection {name:?}"), false, path, line)
    }

    pub(super) fn mirror(name: &str, path: &Path, line: usize) -> Folder {
        Folder::new(format!("mirror {name:?}"), true, path, line)
    }

    fn new(what: String, mirror: bool, path: &Path, line: usize) -> Folder {
        Folder {
            what,
            mirror,
            path: path.to_path_buf(),
            real: resolved(path),
            line,
        }
    }
}

/// `p` with symlinks resolved as far as it exists; the part that does not
/// exist yet is appended as written.
fn resolved(p: &Path) -> PathBuf {
    let mut rest = Vec::new();
    let mut cur = p;
    loop {
        if let Ok(real) = std::fs::canonicalize(cur) {
            return rest.iter().rev().fold(real, |acc, n| acc.join(n));
        }
        match (cur.parent(), cur.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                cur = parent;
            }
            _ => return p.to_path_buf(),
        }
    }
}

/// A refusal: the line to change and the message.
type Refusal = (usize, String);

/// The overlap rules (see the module docs).
pub(super) fn folders(
    config_file: &Path,
    (state_dir, state_line): (&Path, usize),
    folders: &[Folder],
) -> Result<(), Refusal> {
    let state = resolved(state_dir);
    for f in folders {
        if state.starts_with(&f.real) {
            return Err((
                state_line,
                format!(
                    "state_dir {} is inside {} ({}, line {}): the seedbox's private key and \
                     state would be shared; put state_dir outside every shared folder, \
                     for example /var/lib/seedbox",
                    state_dir.display(),
                    f.what,
                    f.path.display(),
                    f.line
                ),
            ));
        }
        if f.real.starts_with(&state) {
            return Err((
                f.line,
                format!(
                    "{}: {} is inside state_dir {} (line {state_line}); use a folder outside it",
                    f.what,
                    f.path.display(),
                    state_dir.display()
                ),
            ));
        }
    }
    for (i, f) in folders.iter().enumerate() {
        for g in &folders[..i] {
            let how = if f.real == g.real {
                "is the same folder as"
            } else if f.real.starts_with(&g.real) {
                "is inside"
            } else if g.real.starts_with(&f.real) {
                "contains"
            } else {
                continue;
            };
            let why = if f.mirror || g.mirror {
                "a mirror writes and deletes files in its folder, which must be its own"
            } else {
                "its files would be shared twice; keep collection folders side by side"
            };
            return Err((
                f.line,
                format!(
                    "{}: {} {how} {} ({}, line {}): {why}",
                    f.what,
                    f.path.display(),
                    g.what,
                    g.path.display(),
                    g.line
                ),
            ));
        }
    }
    let config = resolved(config_file);
    if let Some(f) = folders.iter().find(|f| config.starts_with(&f.real)) {
        return Err((
            f.line,
            format!(
                "{}: {} holds this config file, which would then be shared (it can hold the \
                 admin token); keep the config elsewhere, for example /etc/seedbox/seedbox.toml",
                f.what,
                f.path.display()
            ),
        ));
    }
    for f in folders.iter().filter(|f| f.mirror) {
        crate::mirror_folder::inspect(&f.path).map_err(|e| (f.line, format!("{}: {e}", f.what)))?;
    }
    Ok(())
}

/// The web page and BitTorrent need a TCP port each.
pub(super) fn ports(
    network: &Network,
    network_line: Option<usize>,
    web: &Web,
    web_line: Option<usize>,
) -> Result<(), Refusal> {
    let (Some(w), n) = (web.listen, network.listen) else {
        return Ok(());
    };
    let overlap = w.ip() == n.ip() || w.ip().is_unspecified() || n.ip().is_unspecified();
    if w.port() == 0 || w.port() != n.port() || !overlap {
        return Ok(());
    }
    Err((
        web_line.or(network_line).unwrap_or(1),
        format!(
            "web.listen {w} and network.listen {n} use the same TCP port {}: the web page \
             and BitTorrent each need their own (for example 8080 and 6881)",
            w.port()
        ),
    ))
}
