//! The `swarm` command-line tool.
//!
//! Every failure prints one clear line on stderr and exits non-zero; no
//! panic or backtrace reaches the user.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

#[derive(Parser)]
#[command(
    name = "swarm",
    version,
    about = "Share and fetch collections over BitTorrent, on the LAN"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Make a .torrent from a file or folder.
    Create(cli::create::Args),
    /// Show what a .torrent holds.
    Info(cli::info::Args),
    /// Check data on disk against a .torrent.
    Verify(cli::verify::Args),
    /// Share a file or folder (prints its magnet link, seeds until Ctrl-C).
    Share(cli::share::Args),
    /// Download a magnet link, .torrent or LAN share name.
    Get(cli::get::Args),
    /// List what the LAN shares (name, size, peers, magnet).
    Ls(cli::ls::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    swarm::session::raise_file_limit();
    let res = match cli.cmd {
        Cmd::Create(a) => cli::create::run(a),
        Cmd::Info(a) => cli::info::run(a),
        Cmd::Verify(a) => cli::verify::run(a),
        Cmd::Share(a) => cli::share::run(a),
        Cmd::Get(a) => cli::get::run(a),
        Cmd::Ls(a) => cli::ls::run(a),
    };
    match res {
        Ok(code) => code,
        Err(e) => {
            eprintln!("swarm: {}", cli::one_line(&e));
            ExitCode::from(2)
        }
    }
}
