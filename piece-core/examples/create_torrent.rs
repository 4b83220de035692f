//! Creates a .torrent: `create_torrent PATH OUT.torrent [v1|v2|hybrid] [PIECE_BYTES]`.
//! Used by benches/scripts/create-compare.sh.

use piece_core::create::{create_torrent, CreateOptions};
use piece_core::metainfo::Version;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 3 {
        eprintln!("usage: create_torrent PATH OUT.torrent [v1|v2|hybrid] [PIECE_BYTES]");
        std::process::exit(2);
    }
    let version = match a.get(3).map(String::as_str) {
        Some("v1") => Version::V1,
        Some("v2") => Version::V2,
        _ => Version::Hybrid,
    };
    let opts = CreateOptions {
        version,
        piece_length: a.get(4).and_then(|p| p.parse().ok()),
        ..Default::default()
    };
    match create_torrent(a[1].as_ref(), &opts, None) {
        Ok(t) => {
            if let Err(e) = std::fs::write(&a[2], &t.bytes) {
                eprintln!("{}: {e}", a[2]);
                std::process::exit(1);
            }
            println!(
                "pieces={} v1={} v2={}",
                t.num_pieces,
                t.info_hashes.v1.map(|h| h.to_hex()).unwrap_or("-".into()),
                t.info_hashes.v2.map(|h| h.to_hex()).unwrap_or("-".into())
            );
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
