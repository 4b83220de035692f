//! Helpers shared by the seedbox tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Every regular file under `dir`: (path relative to `dir`, bytes), sorted;
/// a mirror's marker file aside.
pub fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.file_name() == Some(seedbox::mirror_folder::MARKER.as_ref()) {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                v.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    v.sort();
    v
}

/// The `swarm` binary of this workspace (built if the workspace build did
/// not build it yet).
pub fn swarm_bin() -> PathBuf {
    let me = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test>-xxxx -> target/<profile>/swarm
    let p = me.parent().and_then(Path::parent).unwrap().join("swarm");
    if !p.exists() {
        let st = std::process::Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", "swarm", "--bin", "swarm"])
            .status()
            .unwrap();
        assert!(st.success(), "building swarm");
    }
    p
}
