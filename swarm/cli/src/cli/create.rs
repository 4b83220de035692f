//! `swarm create PATH [-o OUT.torrent] [--v1|--v2|--hybrid] [--piece-size BYTES]`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use piece_core::create::{create_torrent, CreateOptions};
use piece_core::metainfo::Version;

#[derive(clap::Args)]
pub struct Args {
    /// File or folder to describe.
    pub path: PathBuf,
    /// Where to write the .torrent (default: NAME.torrent in the current folder).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// v1 only (SHA-1 pieces).
    #[arg(long, group = "version")]
    pub v1: bool,
    /// v2 only (BEP 52, SHA-256 merkle trees).
    #[arg(long, group = "version")]
    pub v2: bool,
    /// v1 and v2 together (the default).
    #[arg(long, group = "version")]
    pub hybrid: bool,
    /// Piece size in bytes (a power of two, at least 16384); chosen automatically when absent.
    #[arg(long, value_name = "BYTES")]
    pub piece_size: Option<u32>,
    /// Tracker announce URL (repeatable).
    #[arg(long = "tracker", value_name = "URL")]
    pub trackers: Vec<String>,
    /// Comment stored in the torrent.
    #[arg(long)]
    pub comment: Option<String>,
    /// Mark the torrent private (BEP 27).
    #[arg(long)]
    pub private: bool,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let version = if a.v1 {
        Version::V1
    } else if a.v2 {
        Version::V2
    } else {
        Version::Hybrid
    };
    if let Some(ps) = a.piece_size {
        if ps < 16384 || !ps.is_power_of_two() {
            anyhow::bail!("--piece-size {ps}: must be a power of two of at least 16384");
        }
    }
    let opts = CreateOptions {
        version,
        piece_length: a.piece_size,
        trackers: a.trackers,
        comment: a.comment,
        private: a.private,
        created_by: Some(format!("swarm/{}", env!("CARGO_PKG_VERSION"))),
        ..Default::default()
    };
    let created = create_torrent(&a.path, &opts, None)
        .with_context(|| format!("creating a torrent of {}", a.path.display()))?;
    let meta = piece_core::metainfo::Metainfo::from_bytes(&created.bytes)
        .context("the torrent just made does not parse back (a bug)")?;
    let out = a
        .output
        .unwrap_or_else(|| PathBuf::from(format!("{}.torrent", meta.info.name)));
    super::write_atomically(&out, &created.bytes)
        .with_context(|| format!("writing {}", out.display()))?;
    println!("{}", out.display());
    println!("{}", meta.magnet());
    Ok(ExitCode::SUCCESS)
}
