//! `seedbox`: the infoshop daemon. It shares configured collection folders on
//! the LAN (as v2/hybrid torrents announced through mDNS and BEP 14), publishes
//! a new signed version when a folder changes, mirrors other seedboxes'
//! collections and serves a read-only patron web page (plus OPDS) and a
//! loopback-only admin page.
//!
//! The daemon side and the web side meet in [`library`]: the daemon keeps a
//! [`library::LibrarySnapshot`] up to date, the web reads it.

pub mod compat;
pub mod config;
pub mod daemon;
pub mod http_mdns;
pub mod library;
pub mod local;
pub mod meta;
pub mod mirror;
pub mod mirror_folder;
pub mod push;
pub mod scan;
pub mod search;
pub mod shared;
pub mod staging;
pub mod store;
pub mod web;
