//! The `seedbox` daemon.
//!
//! ```text
//! seedbox init  [--config FILE] [--force]   write a commented config
//! seedbox check [--config FILE]             read the config, report problems
//! seedbox run   [--config FILE]             run in the foreground
//! ```
//!
//! The config defaults to `$SEEDBOX_CONFIG`, else `/etc/seedbox.toml`.
//! Logs go to stderr through `tracing` (`RUST_LOG=debug` for more).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use seedbox::config::{Config, TEMPLATE};
use seedbox::daemon::Daemon;

#[derive(Parser)]
#[command(
    name = "seedbox",
    version,
    about = "Shares an infoshop's collections on the LAN"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Args)]
struct ConfigArg {
    /// Config file [default: $SEEDBOX_CONFIG or /etc/seedbox.toml]
    #[arg(long, short, value_name = "FILE")]
    config: Option<PathBuf>,
}

impl ConfigArg {
    fn path(&self) -> PathBuf {
        self.config
            .clone()
            .or_else(|| std::env::var_os("SEEDBOX_CONFIG").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("/etc/seedbox.toml"))
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Write a commented example config (edit it, then `seedbox run`).
    Init {
        #[command(flatten)]
        config: ConfigArg,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Read the config and report the first problem, with its line.
    Check {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Run the daemon in the foreground until SIGINT or SIGTERM.
    Run {
        #[command(flatten)]
        config: ConfigArg,
    },
}

/// Keeps glibc's allocator from holding on to memory the daemon has freed,
/// so that a 1 GiB Pi keeps it (scripts/seedbox-memory.py: a collection of
/// 10,000 files peaked at 76 MiB resident on x86-64, 49 MiB with this).
/// Publishing a version is a burst (hashing buffers, the torrent, its parse)
/// on whichever threads run it; by default every thread gets its own arena
/// and glibc's mmap threshold grows with the largest block freed, so the
/// burst stayed resident. Two arenas and a fixed 256 KiB threshold (large
/// blocks are mapped and unmapped, so they go back to the system when
/// freed) cost nothing measurable for a daemon that mostly waits on the
/// network and the disk.
fn limit_malloc_retention() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

fn main() -> ExitCode {
    limit_malloc_retention();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    swarm::session::raise_file_limit();
    match run(Cli::parse()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("seedbox: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.cmd {
        Cmd::Init { config, force } => {
            let path = config.path();
            if path.exists() && !force {
                anyhow::bail!("{} exists; use --force to overwrite it", path.display());
            }
            if let Some(d) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(d).with_context(|| d.display().to_string())?;
            }
            write_private(&path, TEMPLATE).with_context(|| path.display().to_string())?;
            println!(
                "wrote {}; edit the [[collection]] entries, then: seedbox run --config {}",
                path.display(),
                path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Check { config } => {
            let c = Config::load(&config.path())?;
            println!(
                "{}: ok ({} collections, {} mirrors)",
                config.path().display(),
                c.collections.len(),
                c.mirrors.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Run { config } => {
            let c = Config::load(&config.path())?;
            let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            rt.block_on(serve(c))
        }
    }
}

/// Write `text` to `path` readable by its owner only (0600), as the config
/// can hold the admin token; an existing file is made 0600 too.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

async fn serve(c: Config) -> anyhow::Result<ExitCode> {
    let daemon = Daemon::start(c).await?;
    if let Some(a) = daemon.tcp_addr() {
        println!("peers: tcp {a}");
    }
    if let Some(a) = daemon.quic_addr() {
        println!("peers: quic://{a}");
    }
    for url in daemon.page_urls() {
        println!("web page: {url}");
    }
    println!("publisher key: {}", daemon.key());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
        _ = term.recv() => {}
    }
    tracing::info!("stopping");
    daemon.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
