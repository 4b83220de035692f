//! Conformance against libtorrent's test torrents.
//!
//! Reads `EXPECTED.tsv` from `tests/data/libtorrent-test-torrents` (a vendored copy of `shared/conformance/libtorrent-test-torrents`)
//! (next to the repository, or `$SWARM_CONFORMANCE_DIR`): every `load` row
//! must parse (with safe paths), every `fail` row must be refused with a
//! typed, readable error. Fails if the folder is missing.

use std::path::{Component, PathBuf};

use piece_core::layout::is_safe_relative;
use piece_core::metainfo::{Metainfo, Version};

fn conformance_dir() -> PathBuf {
    if let Ok(d) = std::env::var("SWARM_CONFORMANCE_DIR") {
        return PathBuf::from(d);
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        // vendored copy (libtorrent's test torrents, BSD licence, see its LICENSE)
        manifest.join("tests/data/libtorrent-test-torrents"),
        manifest.join("../../shared/conformance/libtorrent-test-torrents"),
        manifest.join("../shared/conformance/libtorrent-test-torrents"),
        manifest.join("../../../shared/conformance/libtorrent-test-torrents"),
    ];
    candidates
        .iter()
        .find(|p| p.join("EXPECTED.tsv").is_file())
        .cloned()
        .unwrap_or_else(|| candidates[0].clone())
}

fn check_loaded(m: &Metainfo) -> Result<(), String> {
    let info = &m.info;
    for (i, f) in info.layout.files().iter().enumerate() {
        if f.pad {
            continue;
        }
        if !is_safe_relative(&f.path) {
            return Err(format!("file {i} has unsafe path {:?}", f.path));
        }
        if f.path
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return Err(format!("file {i} has a non-normal component: {:?}", f.path));
        }
        let s = f.path.to_string_lossy();
        if s.split(['/', '\\']).any(|c| c == ".." || c.is_empty()) {
            return Err(format!(
                "file {i} path {s:?} has '..' or an empty component"
            ));
        }
    }
    for f in &info.files {
        if let Some(t) = &f.symlink {
            if t.iter()
                .any(|c| c == ".." || c == "." || c.is_empty() || c.contains(['/', '\\']))
            {
                return Err(format!("symlink target {t:?} is unsafe"));
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    for f in info.files.iter().filter(|f| !f.pad) {
        if !seen.insert(f.path.join("/").to_lowercase()) {
            return Err(format!("duplicate path {:?}", f.path));
        }
    }
    if info.has_v1() != m.info_hashes.v1.is_some() || info.has_v2() != m.info_hashes.v2.is_some() {
        return Err("info-hashes do not match the version".into());
    }
    if info.version != Version::V2 {
        let n = info.pieces_v1.as_ref().map(Vec::len).unwrap_or(0);
        if n != info.lengths.num_pieces() as usize {
            return Err("v1 piece count mismatch".into());
        }
    }
    Ok(())
}

#[test]
fn libtorrent_test_torrents() {
    let dir = conformance_dir();
    let table = std::fs::read_to_string(dir.join("EXPECTED.tsv")).unwrap_or_else(|e| {
        panic!(
            "conformance table missing at {} ({e}); set SWARM_CONFORMANCE_DIR",
            dir.display()
        )
    });
    let mut rows = 0;
    let mut failures = Vec::new();
    let mut report = Vec::new();
    for line in table.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, expect) = (cols[0], cols.get(1).copied().unwrap_or(""));
        let lt_err = cols.get(2).copied().unwrap_or("");
        rows += 1;
        let bytes = match std::fs::read(dir.join(file)) {
            Ok(b) => b,
            Err(e) => {
                failures.push(format!("{file}: cannot read: {e}"));
                continue;
            }
        };
        let res = Metainfo::from_bytes(&bytes);
        match (expect, res) {
            ("load", Ok(m)) => {
                if let Err(e) = check_loaded(&m) {
                    failures.push(format!("{file}: loaded but {e}"));
                }
                let paths: Vec<String> = m
                    .info
                    .files
                    .iter()
                    .filter(|f| !f.pad)
                    .take(4)
                    .map(|f| f.path.join("/"))
                    .collect();
                report.push(format!(
                    "{file:45} load  ok ({:?}, {} files) {paths:?}",
                    m.info.version,
                    m.info.files.len()
                ));
            }
            ("load", Err(e)) => {
                failures.push(format!("{file}: expected load, got error: {e}"));
            }
            ("fail", Ok(_)) => failures.push(format!(
                "{file}: expected failure ({lt_err}), but it loaded"
            )),
            ("fail", Err(e)) => {
                let msg = e.to_string();
                if msg.len() < 10 || !msg.contains(' ') {
                    failures.push(format!("{file}: error message not readable: {msg:?}"));
                }
                report.push(format!("{file:45} fail  {lt_err:35} ours: {msg}"));
            }
            (other, _) => failures.push(format!("{file}: unknown expectation {other:?}")),
        }
    }
    for r in &report {
        println!("{r}");
    }
    assert!(rows > 100, "only {rows} rows in EXPECTED.tsv");
    assert!(
        failures.is_empty(),
        "{} of {rows} conformance rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
