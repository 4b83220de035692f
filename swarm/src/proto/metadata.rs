//! BEP 10 extension handshake and BEP 9 metadata exchange.
//!
//! Our extension handshake: `{"m": {"ut_metadata": 1}, "metadata_size": n
//! (when known), "p": TCP listen port (when listening), "reqq":
//! max_incoming_requests, "swarm_quic": QUIC port (when we have QUIC),
//! "v": client_version}`. A peer's `swarm_quic` (with its `p`) is
//! reported as [`Event::QuicOffered`].
//! ut_metadata messages are a bencoded dictionary `{"msg_type": 0 request /
//! 1 data / 2 reject, "piece": i, "total_size": n (data only)}`, followed,
//! for data, by the raw 16 KiB piece of the info dictionary.
//!
//! Fetching (magnet links): the size comes from the first peer that
//! advertises `metadata_size` (at most `max_metadata_size`); pieces are
//! requested from peers advertising the same size, at most two at a time
//! per peer, with a timeout; the whole is checked against the info-hash
//! (SHA-1 for v1, SHA-256 for v2) before [`Event::MetadataReceived`].

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sha1::Digest;

use super::bencode::{self, Writer};
use super::pacing::Paced;
use super::peer::MAX_METADATA_REQUESTS;
use super::{ConnId, Event, PeerMisbehaved, Torrent};
use crate::wire::ext::{port, SWARM_QUIC};
use crate::wire::Message;

/// Our extended message id for ut_metadata (what peers send to us).
pub(crate) const UT_METADATA_ID: u8 = 1;
const METADATA_PIECE: u32 = 16 * 1024;
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// Metadata being fetched for a magnet link.
#[derive(Debug)]
pub(crate) struct MetadataFetch {
    size: u32,
    buf: Vec<u8>,
    got: Vec<bool>,
    requested: Vec<Option<(ConnId, Instant)>>,
    sources: BTreeSet<SocketAddr>,
    /// Verified and handed to the glue: waiting for `handle_metadata`.
    done: bool,
}

impl MetadataFetch {
    fn new(size: u32) -> Self {
        let n = size.div_ceil(METADATA_PIECE) as usize;
        MetadataFetch {
            size,
            buf: vec![0; size as usize],
            got: vec![false; n],
            requested: vec![None; n],
            sources: BTreeSet::new(),
            done: false,
        }
    }
    pub(crate) fn peer_gone(&mut self, conn: ConnId) {
        for r in self.requested.iter_mut() {
            if r.is_some_and(|(c, _)| c == conn) {
                *r = None;
            }
        }
    }
}

impl Torrent {
    /// Our BEP 10 handshake payload.
    pub(crate) fn ext_handshake(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.dict()
            .bytes(b"m")
            .dict()
            .bytes(b"ut_metadata")
            .int(UT_METADATA_ID as i64)
            .end();
        if let Some(m) = &self.meta {
            w.bytes(b"metadata_size").int(m.info_bytes.len() as i64);
        }
        if let Some(p) = self.cfg.listen_port.filter(|&p| p != 0) {
            w.bytes(b"p").int(i64::from(p));
        }
        w.bytes(b"reqq").int(self.cfg.max_incoming_requests as i64);
        if let Some(q) = self.cfg.quic_port.filter(|&q| q != 0) {
            w.bytes(SWARM_QUIC.as_bytes()).int(i64::from(q));
        }
        w.bytes(b"v").bytes(self.cfg.client_version.as_bytes());
        w.end();
        w.0
    }

    pub(crate) fn on_extended(
        &mut self,
        conn: ConnId,
        id: u8,
        payload: &[u8],
    ) -> Result<(), PeerMisbehaved> {
        if !self.peers.get(&conn).is_some_and(|p| p.ext) {
            return Err(PeerMisbehaved::ProtocolViolation(
                "extended message without BEP 10",
            ));
        }
        match id {
            0 => {
                let (v, _) = bencode::parse(payload).ok_or(PeerMisbehaved::ProtocolViolation(
                    "malformed extension handshake",
                ))?;
                let ut = v
                    .get("m")
                    .and_then(|m| m.get("ut_metadata"))
                    .and_then(|x| x.int());
                let size = v.get("metadata_size").and_then(|x| x.int());
                let reqq = v.get("reqq").and_then(|x| x.int());
                let quic = v.get(SWARM_QUIC).and_then(|x| x.int()).and_then(port);
                let tcp_port = v.get("p").and_then(|x| x.int()).and_then(port);
                let max_md = self.cfg.max_metadata_size as i64;
                let Some(p) = self.peers.get_mut(&conn) else {
                    return Ok(());
                };
                if let Some(ut) = ut {
                    p.ut_metadata = (1..=255).contains(&ut).then_some(ut as u8);
                }
                if let Some(s) = size {
                    p.metadata_size = (1..=max_md).contains(&s).then_some(s as u32);
                }
                if let Some(q) = reqq {
                    p.reqq = q.clamp(1, 2000) as u32;
                }
                if quic.is_some() && quic != p.quic_port {
                    p.quic_port = quic;
                    if let Some(port) = quic {
                        let addr = p.addr;
                        self.events.push_back(Event::QuicOffered {
                            conn,
                            addr,
                            port,
                            tcp_port,
                        });
                    }
                }
                if self.meta.is_none() && self.md.is_none() {
                    if let Some(s) = p.metadata_size {
                        self.md = Some(MetadataFetch::new(s));
                    }
                }
                self.listen_port_learned(conn, tcp_port);
                Ok(())
            }
            UT_METADATA_ID => self.on_ut_metadata(conn, payload),
            _ => Ok(()),
        }
    }

    fn on_ut_metadata(&mut self, conn: ConnId, payload: &[u8]) -> Result<(), PeerMisbehaved> {
        let bad = PeerMisbehaved::BadMetadata("malformed ut_metadata message");
        let (v, used) = bencode::parse(payload).ok_or(bad.clone())?;
        let ty = v.get("msg_type").and_then(|x| x.int()).ok_or(bad.clone())?;
        let piece = v.get("piece").and_then(|x| x.int()).ok_or(bad.clone())?;
        let piece = u32::try_from(piece).map_err(|_| bad.clone())?;
        let their_id = self.peers.get(&conn).and_then(|p| p.ut_metadata);
        match ty {
            0 if their_id.is_some() => self.pace(conn, Paced::Metadata(piece)),
            1 => {
                let data = &payload[used..];
                let Some(md) = self.md.as_mut() else {
                    return Ok(());
                };
                let i = piece as usize;
                let asked = md
                    .requested
                    .get(i)
                    .is_some_and(|r| r.is_some_and(|(c, _)| c == conn));
                if !asked || md.done {
                    return Ok(());
                }
                let start = i * METADATA_PIECE as usize;
                let expect = (md.size as usize - start).min(METADATA_PIECE as usize);
                if data.len() != expect {
                    return Err(PeerMisbehaved::BadMetadata(
                        "metadata piece of the wrong size",
                    ));
                }
                md.buf[start..start + expect].copy_from_slice(data);
                md.got[i] = true;
                md.requested[i] = None;
                if let Some(p) = self.peers.get(&conn) {
                    md.sources.insert(p.key);
                }
                if let Some(p) = self.peers.get_mut(&conn) {
                    p.md_requests.retain(|(x, _)| *x != piece);
                }
                self.metadata_check();
            }
            2 => {
                if let Some(p) = self.peers.get_mut(&conn) {
                    p.md_requests.retain(|(x, _)| *x != piece);
                    // do not ask this peer again
                    p.metadata_size = None;
                }
                if let Some(md) = self.md.as_mut() {
                    md.peer_gone(conn);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Answers a metadata request (paced by [`super::pacing`]): the piece,
    /// or a reject when `serve` is false, the piece does not exist or the
    /// peer is not reading what we send. Only the piece is copied.
    pub(crate) fn send_metadata_piece(&mut self, conn: ConnId, piece: u32, serve: bool) {
        let Some(p) = self.peers.get(&conn) else {
            return;
        };
        let Some(their_id) = p.ut_metadata else {
            return;
        };
        let busy = !self.send_room(conn);
        let mut w = Writer::default();
        let info = self.meta.as_ref().map(|m| m.info_bytes.as_slice());
        let start = piece as usize * METADATA_PIECE as usize;
        match info {
            Some(info) if serve && start < info.len() && !busy => {
                let end = (start + METADATA_PIECE as usize).min(info.len());
                w.dict()
                    .bytes(b"msg_type")
                    .int(1)
                    .bytes(b"piece")
                    .int(piece as i64);
                w.bytes(b"total_size").int(info.len() as i64).end();
                w.0.extend_from_slice(&info[start..end]);
                self.metadata_copied += (end - start) as u64;
            }
            _ => {
                w.dict()
                    .bytes(b"msg_type")
                    .int(2)
                    .bytes(b"piece")
                    .int(piece as i64)
                    .end();
            }
        }
        self.send(
            conn,
            Message::Extended {
                id: their_id,
                payload: &w.0,
            },
        );
    }

    fn metadata_check(&mut self) {
        let Some(md) = self.md.as_mut() else { return };
        if !md.got.iter().all(|g| *g) {
            return;
        }
        let ok = match (self.info_hashes.v1, self.info_hashes.v2) {
            (Some(v1), _) => sha1::Sha1::digest(&md.buf).as_slice() == v1.0,
            (None, Some(v2)) => sha2::Sha256::digest(&md.buf).as_slice() == v2.0,
            _ => false,
        };
        if ok {
            md.done = true;
            let bytes = std::mem::take(&mut md.buf);
            self.events.push_back(Event::MetadataReceived(bytes));
        } else {
            let sources: Vec<SocketAddr> = md.sources.iter().copied().collect();
            let size = md.size;
            self.md = Some(MetadataFetch::new(size));
            if let [only] = sources[..] {
                self.ban(
                    only,
                    PeerMisbehaved::BadMetadata("metadata does not match the info-hash"),
                );
            }
            for p in self.peers.values_mut() {
                p.md_requests.clear();
            }
        }
    }

    /// Requests missing metadata pieces from peers that have them.
    pub(crate) fn fill_metadata_requests(&mut self) {
        let Some(md) = self.md.as_mut() else { return };
        if md.done || self.meta.is_some() {
            return;
        }
        let now = self.now;
        let mut sends = Vec::new();
        for p in self.peers.values_mut() {
            let Some(id) = p.ut_metadata else { continue };
            if p.metadata_size != Some(md.size) {
                continue;
            }
            while p.md_requests.len() < MAX_METADATA_REQUESTS {
                let Some(i) = (0..md.got.len()).find(|&i| !md.got[i] && md.requested[i].is_none())
                else {
                    break;
                };
                md.requested[i] = Some((p.conn, now));
                p.md_requests.push((i as u32, now));
                sends.push((p.conn, id, i as u32));
            }
        }
        for (c, id, i) in sends {
            let mut w = Writer::default();
            w.dict()
                .bytes(b"msg_type")
                .int(0)
                .bytes(b"piece")
                .int(i as i64)
                .end();
            self.send(c, Message::Extended { id, payload: &w.0 });
        }
    }

    /// Frees metadata requests that went unanswered.
    pub(crate) fn metadata_timeouts(&mut self) {
        let now = self.now;
        let Some(md) = self.md.as_mut() else { return };
        for r in md.requested.iter_mut() {
            if r.is_some_and(|(_, t)| now.saturating_duration_since(t) >= METADATA_TIMEOUT) {
                *r = None;
            }
        }
        for p in self.peers.values_mut() {
            p.md_requests
                .retain(|(_, t)| now.saturating_duration_since(*t) < METADATA_TIMEOUT);
        }
    }
}
