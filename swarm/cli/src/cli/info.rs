//! `swarm info FILE.torrent [--json]`.

use std::path::PathBuf;
use std::process::ExitCode;

use piece_core::metainfo::Metainfo;

#[derive(clap::Args)]
pub struct Args {
    /// The .torrent file.
    pub torrent: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let meta = super::load_torrent(&a.torrent)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&to_json(&meta))?);
    } else {
        print_text(&meta);
    }
    Ok(ExitCode::SUCCESS)
}

fn real_files(meta: &Metainfo) -> impl Iterator<Item = &piece_core::metainfo::FileInfo> {
    meta.info.files.iter().filter(|f| !f.pad)
}

/// The `--json` document; its keys are a stable interface.
pub fn to_json(meta: &Metainfo) -> serde_json::Value {
    let files: Vec<_> = real_files(meta)
        .map(|f| serde_json::json!({ "path": f.path.join("/"), "length": f.length }))
        .collect();
    serde_json::json!({
        "name": meta.info.name,
        "info_hash_v1": meta.info_hashes.v1.map(|h| h.to_hex()),
        "info_hash_v2": meta.info_hashes.v2.map(|h| h.to_hex()),
        "version": format!("{:?}", meta.info.version).to_lowercase(),
        "piece_length": meta.info.piece_length,
        "num_pieces": meta.info.lengths.num_pieces(),
        "total_size": real_files(meta).map(|f| f.length).sum::<u64>(),
        "private": meta.info.private,
        "files": files,
        "trackers": meta.trackers,
        "comment": meta.comment,
        "created_by": meta.created_by,
        "creation_date": meta.creation_date,
        "magnet": meta.magnet(),
    })
}

fn print_text(meta: &Metainfo) {
    let total: u64 = real_files(meta).map(|f| f.length).sum();
    println!("name:         {}", meta.info.name);
    println!("version:      {:?}", meta.info.version);
    if let Some(h) = meta.info_hashes.v1 {
        println!("info-hash v1: {}", h.to_hex());
    }
    if let Some(h) = meta.info_hashes.v2 {
        println!("info-hash v2: {}", h.to_hex());
    }
    println!(
        "size:         {} in {} file(s)",
        super::human_bytes(total),
        real_files(meta).count()
    );
    println!(
        "pieces:       {} x {}",
        meta.info.lengths.num_pieces(),
        super::human_bytes(meta.info.piece_length as u64)
    );
    if let Some(c) = &meta.comment {
        println!("comment:      {c}");
    }
    println!("magnet:       {}", meta.magnet());
    let n = real_files(meta).count();
    for f in real_files(meta).take(50) {
        println!(
            "  {:>10}  {}",
            super::human_bytes(f.length),
            f.path.join("/")
        );
    }
    if n > 50 {
        println!("  ... and {} more", n - 50);
    }
}
