//! `swarm verify FILE.torrent DATA_PATH`: exit 0 when every piece verifies,
//! 1 (and how many failed) otherwise.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use piece_core::hash::verify_metainfo_storage;
use piece_core::storage::{MmapStorage, OpenMode};

#[derive(clap::Args)]
pub struct Args {
    /// The .torrent file.
    pub torrent: PathBuf,
    /// The data: the folder that holds the torrent's content (as a download
    /// would have made it), or the content itself (the file, or the
    /// torrent's top folder).
    pub data: PathBuf,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let meta = super::load_torrent(&a.torrent)?;
    let (root, layout) = super::resolve_data(&meta, &a.data)?;
    let storage = MmapStorage::open(&root, layout, OpenMode::Existing)
        .with_context(|| format!("opening the data in {}", root.display()))?;
    let n = meta.info.lengths.num_pieces();
    let bar = super::progress_bar(n as u64, "verifying");
    let progress = |done: u32, _total: u32| bar.set_position(u64::from(done));
    let report =
        verify_metainfo_storage(&meta, &storage, 0, Some(&progress)).context("verifying")?;
    bar.finish_and_clear();
    let failed = report.failed.len();
    if failed == 0 {
        println!("ok: all {n} pieces verify");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("FAILED: {failed} of {n} pieces do not verify");
        Ok(ExitCode::from(1))
    }
}
