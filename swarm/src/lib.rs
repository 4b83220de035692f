//! A BitTorrent engine to embed in an application: share and fetch files
//! and folders, verified piece by piece, with peers on the LAN or on the
//! Internet.
//!
//! It speaks BitTorrent v1, v2 (BEP 52) and hybrid torrents, magnet links
//! (BEP 9), the TCP peer wire with its extensions (BEP 6, 10), HTTP
//! trackers, and LAN discovery (mDNS and BEP 14); between two swarm peers it
//! also runs over QUIC. Other clients (libtorrent, Transmission, aria2,
//! rqbit) interoperate with it.
//!
//! # Start here
//!
//! A [`Session`] owns the listeners and runs any number of torrents; each
//! torrent is a [`TorrentHandle`] with [`TorrentEvent`]s, a [`Progress`]
//! snapshot and a completion wait:
//!
//! ```no_run
//! # async fn demo() -> Result<(), swarm::SessionError> {
//! use std::time::Duration;
//! use swarm::{AddOptions, Session, SessionConfig, TorrentEvent};
//!
//! let session = Session::new(SessionConfig::default()).await?;
//! let h = session
//!     .add_magnet("magnet:?xt=urn:btih:...", AddOptions::default())
//!     .await?;
//! let mut events = h.events();
//! tokio::spawn(async move {
//!     while let Ok(e) = events.recv().await {
//!         match e {
//!             TorrentEvent::PieceVerified(i) => println!("piece {i} done"),
//!             TorrentEvent::Error(e) => eprintln!("{}", swarm::ErrorChain(&e)),
//!             _ => {}
//!         }
//!     }
//! });
//! h.wait_complete_timeout(Duration::from_secs(600)).await?;
//! let p = h.progress();
//! println!("{} bytes at {} bytes/s", p.downloaded, p.download_rate);
//! session.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! - Sharing: [`Session::share_path`] hashes a file or folder and seeds
//!   it; [`Session::add_torrent_bytes`] with [`AddOptions::seed`] seeds
//!   existing data after checking it (data that is not all there is
//!   [`SessionError::IncompleteData`]).
//! - Your own storage: implement [`Storage`] (for example in memory or in a
//!   database) and pass a [`StorageFactory`] in [`AddOptions::storage`].
//! - The LAN: [`discovery`] (mDNS presence, the catalogue of what a host
//!   shares, BEP 14 local service discovery, finding a share by name).
//!
//! # Defaults that touch the network
//!
//! [`SessionConfig::default`] listens for TCP and QUIC on every interface
//! (`0.0.0.0`, ephemeral ports). For a session that only loopback can
//! reach (tests, a local helper), set `listen_tcp` and `listen_quic` to
//! `127.0.0.1:0`, or `None` to accept no connections at all. Nothing is
//! announced anywhere unless you ask: trackers are contacted only when the
//! torrent or [`AddOptions::trackers`] names them, and LAN announcements
//! only through [`discovery`].
//!
//! # Errors and events
//!
//! Errors are typed enums, one per operation ([`SessionError`],
//! [`TorrentError`], [`NetError`], ...); a peer that breaks the protocol is
//! reported with a [`PeerMisbehaved`]. An error's `Display` never repeats
//! its cause: print the whole chain with [`ErrorChain`].
//!
//! # Threads and the process
//!
//! Everything runs on the caller's tokio runtime (multi-threaded
//! recommended); hashing and disk work run on its blocking pool. Seeding
//! through memory maps installs a process-wide SIGBUS handler (see
//! [`piece_core::storage::MmapStorage`]; opt out with
//! [`SessionConfig::seed_with_mmap`]).
//!
//! # Layers
//!
//! - [`proto`]: the peer protocol as a state machine with no I/O inside
//!   (`handle_*` in, `poll_*` out), driven by the session or a simulator.
//! - [`wire`]: the peer wire codec. [`net`]: TCP and QUIC transports.
//! - [`tracker`]: HTTP tracker client. [`resume`]: resume files.
//! - With the `testkit` feature: `sim`, a deterministic simulation of many
//!   peers, and `tracker::server`, an in-memory tracker, for tests.
//!
//! The `swarm` command-line tool is the separate `swarm-cli` package.

// Every public item is documented (an app embeds this crate).
#![warn(missing_docs)]

pub mod discovery;
mod error;
pub mod net;
pub mod proto;
pub mod resume;
pub mod session;
#[cfg(any(test, feature = "testkit"))]
pub mod sim;
pub mod tracker;
pub mod wire;

pub use error::ErrorChain;
pub use net::{NetError, PeerAddr};
pub use piece_core;
pub use piece_core::metainfo::Metainfo;
pub use piece_core::storage::{Storage, StorageError};
pub use piece_core::InfoHashes;
pub use proto::{DisconnectReason, PeerMisbehaved, TorrentConfig, TransportKind};
pub use session::{
    AddOptions, PeerInfo, Progress, Session, SessionConfig, SessionError, StorageFactory,
    TorrentError, TorrentEvent, TorrentHandle,
};
