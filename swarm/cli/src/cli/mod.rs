//! Subcommands of the `swarm` binary, and what they share.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use piece_core::metainfo::Metainfo;
use piece_core::{Layout, LayoutFile};

pub mod create;
pub mod get;
pub mod info;
pub mod ls;
pub mod share;
pub mod verify;

/// Largest .torrent file we read.
pub const MAX_TORRENT_FILE: u64 = 64 * 1024 * 1024;

/// An error and its causes on one line: "reading x.torrent: bad bencode at byte 12".
pub fn one_line(e: &anyhow::Error) -> String {
    let mut s = String::new();
    for (i, c) in e.chain().enumerate() {
        if i > 0 {
            s.push_str(": ");
        }
        s.push_str(&c.to_string());
    }
    s
}

/// Reads and parses a .torrent file, bounded in size.
pub fn load_torrent(path: &Path) -> anyhow::Result<Metainfo> {
    let ctx = || format!("reading {}", path.display());
    let f = std::fs::File::open(path).with_context(ctx)?;
    let len = f.metadata().with_context(ctx)?.len();
    if len > MAX_TORRENT_FILE {
        anyhow::bail!(
            "{}: {len} bytes is too large for a .torrent file",
            path.display()
        );
    }
    let bytes = std::fs::read(path).with_context(ctx)?;
    Metainfo::from_bytes(&bytes)
        .with_context(|| format!("{} is not a valid torrent", path.display()))
}

/// Writes a file through a temporary file and a rename, so that a crash
/// never leaves a half-written file under the final name.
pub fn write_atomically(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)?;
    tmp.write_all(data)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Works out where a torrent's data is, given either the folder that holds
/// it (what a download made) or the content itself. Returns the storage
/// root and a layout relative to it.
pub fn resolve_data(meta: &Metainfo, data: &Path) -> anyhow::Result<(PathBuf, Layout)> {
    let layout = meta.info.layout.clone();
    let md = std::fs::metadata(data).with_context(|| format!("reading {}", data.display()))?;
    let real: Vec<&LayoutFile> = layout.files().iter().filter(|f| !f.pad).collect();
    let single = real.len() == 1 && real[0].path.components().count() == 1;
    if md.is_file() {
        if !single {
            anyhow::bail!(
                "{} is a file but the torrent holds a folder of {} files",
                data.display(),
                real.len()
            );
        }
        // the content itself, whatever its name
        let name = data.file_name().context("data path has no file name")?;
        let root = data
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let files = layout
            .files()
            .iter()
            .map(|f| LayoutFile {
                path: if f.pad {
                    f.path.clone()
                } else {
                    PathBuf::from(name)
                },
                ..f.clone()
            })
            .collect();
        return Ok((root.to_path_buf(), Layout::new(*layout.lengths(), files)?));
    }
    // a folder: does it hold the content (DATA/NAME...) or is it the content?
    let first = real.first().and_then(|f| f.path.components().next());
    if let Some(first) = first {
        if data.join(first).exists() || single {
            return Ok((data.to_path_buf(), layout));
        }
    }
    if !single {
        // DATA is the torrent's top folder: strip the first component
        let files = layout
            .files()
            .iter()
            .map(|f| {
                let path = if f.pad {
                    f.path.clone()
                } else {
                    f.path.components().skip(1).collect()
                };
                LayoutFile { path, ..f.clone() }
            })
            .collect();
        return Ok((data.to_path_buf(), Layout::new(*layout.lengths(), files)?));
    }
    Ok((data.to_path_buf(), layout))
}

/// "1.5 MiB".
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// A progress bar on a terminal, nothing when stderr is not one.
pub fn progress_bar(len: u64, what: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}
