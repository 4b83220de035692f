//! BEP 10 extension handshake and BEP 9 metadata exchange. The messages
//! are read and written by the wire codec ([`crate::wire::ext`],
//! [`crate::wire::metadata`], where their formats are documented).
//!
//! Our extension handshake: `m: {ut_metadata: 1}`, `metadata_size` (when
//! known), `p` (TCP listen port, when listening), `reqq`
//! (max_incoming_requests), `swarm_quic` (QUIC port, when we have QUIC),
//! `v` (client_version). A peer's `swarm_quic` (with its `p`) is reported
//! as [`Event::QuicOffered`].
//!
//! Fetching (magnet links): the size comes from the first peer that
//! advertises `metadata_size` (at most `max_metadata_size`); pieces are
//! requested from peers advertising the same size, at most two at a time
//! per peer, with a timeout; a [`MetadataAssembler`] checks the whole
//! against every info-hash of the torrent (SHA-1 for v1, SHA-256 for v2)
//! before [`Event::MetadataReceived`].

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::pacing::Paced;
use super::peer::MAX_METADATA_REQUESTS;
use super::{ConnId, Event, PeerMisbehaved, Torrent};
use crate::wire::ext::{ExtHandshake, UT_METADATA};
use crate::wire::metadata::{metadata_piece, MetadataAssembler, MetadataMsg};
use crate::wire::{Message, MetadataMsgError};

/// Our extended message id for ut_metadata (what peers send to us).
pub(crate) const UT_METADATA_ID: u8 = 1;
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// Metadata being fetched for a magnet link.
#[derive(Debug)]
pub(crate) struct MetadataFetch {
    asm: MetadataAssembler,
    requested: Vec<Option<(ConnId, Instant)>>,
    sources: BTreeSet<SocketAddr>,
    /// Verified and handed to the glue: waiting for `handle_metadata`.
    done: bool,
}

impl MetadataFetch {
    fn new(asm: MetadataAssembler) -> Self {
        MetadataFetch {
            requested: vec![None; asm.num_pieces() as usize],
            asm,
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
        ExtHandshake {
            m: BTreeMap::from([(UT_METADATA.to_owned(), UT_METADATA_ID)]),
            metadata_size: self
                .meta
                .as_ref()
                .and_then(|m| u32::try_from(m.info_bytes.len()).ok()),
            p: self.cfg.listen_port.filter(|&p| p != 0),
            reqq: Some(self.cfg.max_incoming_requests),
            swarm_quic: self.cfg.quic_port.filter(|&q| q != 0),
            v: Some(self.cfg.client_version.clone()),
            ..ExtHandshake::default()
        }
        .encode()
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
                let hs = ExtHandshake::decode(payload)?;
                let quic = hs.swarm_quic;
                let tcp_port = hs.p;
                let max_md = self.cfg.max_metadata_size;
                let Some(p) = self.peers.get_mut(&conn) else {
                    return Ok(());
                };
                if let Some(&ut) = hs.m.get(UT_METADATA) {
                    p.ut_metadata = (ut != 0).then_some(ut);
                }
                if let Some(s) = hs.metadata_size {
                    p.metadata_size = (1..=max_md).contains(&s).then_some(s);
                }
                if let Some(q) = hs.reqq {
                    p.reqq = q.clamp(1, 2000);
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
                        self.md = MetadataAssembler::new(s.into(), self.info_hashes)
                            .ok()
                            .map(MetadataFetch::new);
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
        let msg = match MetadataMsg::decode(payload) {
            Ok(m) => m,
            // BEP 9: messages of an unknown type are ignored.
            Err(MetadataMsgError::UnknownType(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let their_id = self.peers.get(&conn).and_then(|p| p.ut_metadata);
        match msg {
            MetadataMsg::Request { piece } => {
                if their_id.is_some() {
                    self.pace(conn, Paced::Metadata(piece));
                }
            }
            MetadataMsg::Data {
                piece,
                total_size,
                data,
            } => {
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
                md.asm.add_piece(piece, total_size, data)?;
                md.requested[i] = None;
                if let Some(p) = self.peers.get(&conn) {
                    md.sources.insert(p.key);
                }
                if let Some(p) = self.peers.get_mut(&conn) {
                    p.md_requests.retain(|(x, _)| *x != piece);
                }
                self.metadata_check();
            }
            MetadataMsg::Reject { piece } => {
                if let Some(p) = self.peers.get_mut(&conn) {
                    p.md_requests.retain(|(x, _)| *x != piece);
                    // do not ask this peer again
                    p.metadata_size = None;
                }
                if let Some(md) = self.md.as_mut() {
                    md.peer_gone(conn);
                }
            }
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
        let info = self.meta.as_ref().map(|m| m.info_bytes.as_slice());
        let data = info
            .filter(|_| serve && !busy)
            .and_then(|info| Some((metadata_piece(info, piece)?, info.len())));
        let reply = match data {
            Some((data, total)) => {
                self.metadata_copied += data.len() as u64;
                MetadataMsg::Data {
                    piece,
                    total_size: total as u32,
                    data,
                }
            }
            None => MetadataMsg::Reject { piece },
        };
        let payload = reply.encode();
        self.send(
            conn,
            Message::Extended {
                id: their_id,
                payload: &payload,
            },
        );
    }

    fn metadata_check(&mut self) {
        let Some(md) = self.md.as_mut() else { return };
        if !md.asm.is_complete() {
            return;
        }
        match md.asm.finish() {
            Ok(bytes) => {
                md.done = true;
                self.events.push_back(Event::MetadataReceived(bytes));
            }
            Err(e) => {
                // The assembler marked every piece missing again: start over.
                let sources: Vec<SocketAddr> = md.sources.iter().copied().collect();
                md.requested.iter_mut().for_each(|r| *r = None);
                md.sources.clear();
                if let [only] = sources[..] {
                    self.ban(only, PeerMisbehaved::BadMetadata(e));
                }
                for p in self.peers.values_mut() {
                    p.md_requests.clear();
                }
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
            if p.metadata_size != Some(md.asm.size()) {
                continue;
            }
            while p.md_requests.len() < MAX_METADATA_REQUESTS {
                let Some(i) = md
                    .asm
                    .missing()
                    .find(|&i| md.requested[i as usize].is_none())
                else {
                    break;
                };
                md.requested[i as usize] = Some((p.conn, now));
                p.md_requests.push((i, now));
                sends.push((p.conn, id, i));
            }
        }
        for (c, id, piece) in sends {
            let payload = MetadataMsg::Request { piece }.encode();
            self.send(
                c,
                Message::Extended {
                    id,
                    payload: &payload,
                },
            );
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
