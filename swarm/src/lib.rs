#![doc = include_str!("../../README.md")]
//!
//! # This crate
//!
//! `swarm` is the BitTorrent engine on top of `piece-core`: the peer wire
//! protocol as a state machine with no I/O inside, the tokio glue for TCP
//! and QUIC, the embedding API and LAN discovery.

pub mod discovery;
pub mod net;
pub mod proto;
pub mod resume;
pub mod session;
pub mod sim;
pub mod tracker;
pub mod wire;
