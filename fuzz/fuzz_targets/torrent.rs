//! Stateful fuzzing of the protocol state machine (as quinn fuzzes its
//! connection): one `swarm::proto::Torrent` (a seed, a leecher or a magnet
//! link) driven by a sequence of peer events: connects, handshakes, wire
//! messages (well-formed ones built from the input, and raw chunks), the
//! clock, verify results, dial results, closes, pause/resume.
//!
//! Checked after every event: no panic; every byte the torrent sends
//! decodes with the wire codec; served blocks carry the torrent's real data
//! (pieces are served only after their hash passed); counters stay in
//! range; a disconnected connection gets no more output.
#![no_main]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use piece_core::hash::PieceHashes;
use piece_core::metainfo::Metainfo;
use piece_core::storage::Storage;
use piece_core::Bitfield;
use swarm::proto::{
    ConnId, Direction, DiskDone, DiskJob, Event, Torrent, TorrentConfig, TransportKind,
};
use swarm::sim::{content, make_v1, verify_piece, MemStorage};
use swarm::wire::{self, Decoded, Handshake, HashRequest, Message, Reserved};

const PIECE: u32 = 32 * 1024;
const PIECES: u32 = 5;
const LEN: usize = (PIECE * PIECES - 1000) as usize;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Role {
    Seed,
    Leecher,
    Magnet,
}

#[derive(Arbitrary, Debug)]
struct Input {
    role: Role,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Connect {
        peer: u8,
        incoming: bool,
        quic: bool,
    },
    Handshake {
        peer: u8,
        right_hash: bool,
        id: u8,
        bits: u8,
    },
    Send {
        peer: u8,
        msg: Msg,
    },
    Raw {
        peer: u8,
        bytes: Vec<u8>,
    },
    Close {
        peer: u8,
    },
    Tick {
        ms: u16,
    },
    Verify {
        lie: bool,
    },
    Dial {
        ok: bool,
    },
    AddPeers {
        first: u8,
        n: u8,
    },
    Pause,
    Resume,
}

#[derive(Arbitrary, Debug)]
enum Msg {
    KeepAlive,
    Choke,
    Unchoke,
    Interested,
    NotInterested,
    Have(u8),
    Bitfield(Vec<u8>),
    Request {
        piece: u8,
        block: u8,
        len: Len,
    },
    Cancel {
        piece: u8,
        block: u8,
        len: Len,
    },
    /// A block: the real data unless `junk`.
    Piece {
        piece: u8,
        block: u8,
        len: Len,
        junk: bool,
    },
    Port(u16),
    Suggest(u8),
    HaveAll,
    HaveNone,
    Reject {
        piece: u8,
        block: u8,
        len: Len,
    },
    AllowedFast(u8),
    Ext(Ext),
    HashRequest {
        base: u8,
        index: u8,
        length: u8,
        proof: u8,
    },
    Hashes {
        base: u8,
        index: u8,
        count: u8,
    },
    HashReject {
        base: u8,
        index: u8,
        length: u8,
    },
    /// A frame with any id and payload.
    Other {
        id: u8,
        payload: Vec<u8>,
    },
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Len {
    Block,
    Small(u16),
    Any(u32),
}

impl Len {
    fn get(self) -> u32 {
        match self {
            Len::Block => 16384,
            Len::Small(n) => u32::from(n),
            Len::Any(n) => n,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Ext {
    /// A BEP 10 handshake; `size` is the real metadata size unless `Some`.
    Handshake {
        ut_metadata: u8,
        size: Option<u32>,
        quic: Option<u16>,
        reqq: Option<u32>,
    },
    MetadataRequest(u8),
    /// Piece `piece` of the real metadata, with the real total size unless
    /// `total` is given.
    MetadataData {
        piece: u8,
        total: Option<u32>,
    },
    MetadataReject(u8),
    Payload {
        id: u8,
        bytes: Vec<u8>,
    },
}

struct Peer {
    conn: ConnId,
    /// What the torrent sent, not yet decoded.
    out: Vec<u8>,
    /// Whether the handshake at the front of `out` was consumed.
    shook: bool,
    closed: bool,
}

struct World {
    t: Torrent,
    now: Instant,
    meta: Arc<Metainfo>,
    data: Vec<u8>,
    hashes: PieceHashes,
    storage: Option<Arc<MemStorage>>,
    peers: BTreeMap<u8, Peer>,
    next_conn: u64,
    dials: Vec<SocketAddr>,
    verifies: Vec<u32>,
    /// A verify result was falsified: served data may be wrong.
    lied: bool,
}

fn addr(peer: u8) -> SocketAddr {
    SocketAddr::from(([10, 0, peer / 16, peer % 16 + 1], 6881))
}

fn hash_request(base: u8, index: u8, length: u8, proof: u8) -> HashRequest {
    HashRequest {
        pieces_root: [0xab; 32],
        base_layer: u32::from(base % 4),
        index: u32::from(index),
        length: u32::from(length),
        proof_layers: u32::from(proof % 8),
    }
}

impl World {
    fn new(role: Role) -> World {
        // Built once: hashing the content every run would dominate.
        static TORRENT: OnceLock<(Vec<u8>, Arc<Metainfo>, PieceHashes)> = OnceLock::new();
        let (data, meta, hashes) = TORRENT.get_or_init(|| {
            let data = content(LEN, 3);
            let meta = make_v1("f.bin", &data, PIECE);
            let hashes = PieceHashes::new(&meta).expect("hashes");
            (data, meta, hashes)
        });
        let (data, meta, hashes) = (data.clone(), meta.clone(), hashes.clone());
        let n = meta.info.lengths.num_pieces();
        let (storage, have) = match role {
            Role::Seed => (
                Some(Arc::new(MemStorage::with_data(
                    meta.info.layout.clone(),
                    data.clone(),
                ))),
                Bitfield::full(n),
            ),
            Role::Leecher => (
                Some(Arc::new(MemStorage::new(meta.info.layout.clone()))),
                Bitfield::new(n),
            ),
            Role::Magnet => (None, Bitfield::new(0)),
        };
        let now = Instant::now();
        let cfg = TorrentConfig {
            max_peers: 8,
            listen_port: Some(6881),
            quic_port: Some(6882),
            ..TorrentConfig::default()
        };
        let t = Torrent::new(
            cfg,
            meta.info_hashes,
            (!matches!(role, Role::Magnet)).then(|| meta.clone()),
            have,
            [0x55; 20],
            now,
        );
        World {
            t,
            now,
            meta,
            data,
            hashes,
            storage,
            peers: BTreeMap::new(),
            next_conn: 1,
            dials: Vec::new(),
            verifies: Vec::new(),
            lied: false,
        }
    }

    fn conn(&self, peer: u8) -> Option<ConnId> {
        self.peers.get(&peer).filter(|p| !p.closed).map(|p| p.conn)
    }

    fn data_of(&self, piece: u32, offset: u32, len: u32) -> Vec<u8> {
        let start = (piece as usize * PIECE as usize + offset as usize).min(self.data.len());
        let end = start.saturating_add(len as usize).min(self.data.len());
        self.data[start..end].to_vec()
    }

    fn encode(&self, msg: &Msg) -> Vec<u8> {
        let mut b = Vec::new();
        let blk = |block: u8| u32::from(block % 4) * 16384;
        let info = &self.meta.info_bytes;
        let ext_payload: Vec<u8>;
        let m = match msg {
            Msg::KeepAlive => Message::KeepAlive,
            Msg::Choke => Message::Choke,
            Msg::Unchoke => Message::Unchoke,
            Msg::Interested => Message::Interested,
            Msg::NotInterested => Message::NotInterested,
            Msg::Have(p) => Message::Have {
                piece: u32::from(*p),
            },
            Msg::Bitfield(bits) => Message::Bitfield(bits),
            Msg::Request { piece, block, len } => Message::Request {
                piece: u32::from(*piece),
                offset: blk(*block),
                len: len.get(),
            },
            Msg::Cancel { piece, block, len } => Message::Cancel {
                piece: u32::from(*piece),
                offset: blk(*block),
                len: len.get(),
            },
            Msg::Piece {
                piece,
                block,
                len,
                junk,
            } => {
                let (piece, offset) = (u32::from(*piece), blk(*block));
                let mut d = self.data_of(piece, offset, len.get().min(32 * 1024));
                if *junk {
                    d.iter_mut().for_each(|x| *x ^= 0x5a);
                }
                wire::encode(
                    &Message::Piece {
                        piece,
                        offset,
                        data: &d,
                    },
                    &mut b,
                )
                .ok();
                return b;
            }
            Msg::Port(p) => Message::Port(*p),
            Msg::Suggest(p) => Message::SuggestPiece {
                piece: u32::from(*p),
            },
            Msg::HaveAll => Message::HaveAll,
            Msg::HaveNone => Message::HaveNone,
            Msg::Reject { piece, block, len } => Message::RejectRequest {
                piece: u32::from(*piece),
                offset: blk(*block),
                len: len.get(),
            },
            Msg::AllowedFast(p) => Message::AllowedFast {
                piece: u32::from(*p),
            },
            Msg::Ext(e) => {
                let (id, payload) = match e {
                    Ext::Handshake {
                        ut_metadata,
                        size,
                        quic,
                        reqq,
                    } => {
                        let hs = wire::ExtHandshake {
                            m: [(wire::ext::UT_METADATA.to_owned(), *ut_metadata)].into(),
                            metadata_size: Some(size.unwrap_or(info.len() as u32)),
                            swarm_quic: *quic,
                            reqq: *reqq,
                            ..Default::default()
                        };
                        (0, hs.encode())
                    }
                    Ext::MetadataRequest(p) => (
                        1,
                        wire::MetadataMsg::Request {
                            piece: u32::from(*p),
                        }
                        .encode(),
                    ),
                    Ext::MetadataData { piece, total } => {
                        let piece = u32::from(*piece % 4);
                        let d = wire::metadata::metadata_piece(info, piece).unwrap_or(&[]);
                        let total_size = total.unwrap_or(info.len() as u32);
                        (
                            1,
                            wire::MetadataMsg::Data {
                                piece,
                                total_size,
                                data: d,
                            }
                            .encode(),
                        )
                    }
                    Ext::MetadataReject(p) => (
                        1,
                        wire::MetadataMsg::Reject {
                            piece: u32::from(*p),
                        }
                        .encode(),
                    ),
                    Ext::Payload { id, bytes } => (*id, bytes.clone()),
                };
                ext_payload = payload;
                Message::Extended {
                    id,
                    payload: &ext_payload,
                }
            }
            Msg::HashRequest {
                base,
                index,
                length,
                proof,
            } => Message::HashRequest(hash_request(*base, *index, *length, *proof)),
            Msg::Hashes { base, index, count } => {
                let hashes = vec![0x11; 32 * usize::from(*count % 16)];
                let req = hash_request(*base, *index, *count % 16, 0);
                wire::encode(
                    &Message::Hashes {
                        req,
                        hashes: &hashes,
                    },
                    &mut b,
                )
                .ok();
                return b;
            }
            Msg::HashReject {
                base,
                index,
                length,
            } => Message::HashReject(hash_request(*base, *index, *length, 0)),
            Msg::Other { id, payload } => {
                b.extend_from_slice(&(payload.len() as u32 + 1).to_be_bytes());
                b.push(*id);
                b.extend_from_slice(payload);
                return b;
            }
        };
        wire::encode(&m, &mut b).ok();
        b
    }

    fn step(&mut self, op: &Op) {
        match op {
            Op::Connect {
                peer,
                incoming,
                quic,
            } => {
                if self.conn(*peer).is_some() {
                    return;
                }
                let conn = ConnId(self.next_conn);
                self.next_conn += 1;
                let dir = if *incoming {
                    Direction::Incoming
                } else {
                    Direction::Outgoing
                };
                let kind = if *quic {
                    TransportKind::Quic
                } else {
                    TransportKind::Tcp
                };
                self.peers.insert(
                    *peer,
                    Peer {
                        conn,
                        out: Vec::new(),
                        shook: false,
                        closed: false,
                    },
                );
                self.t
                    .handle_connected(self.now, conn, addr(*peer), dir, kind);
            }
            Op::Handshake {
                peer,
                right_hash,
                id,
                bits,
            } => {
                let Some(conn) = self.conn(*peer) else { return };
                let hs = Handshake {
                    reserved: Reserved {
                        extended: bits & 1 != 0,
                        fast: bits & 2 != 0,
                        v2: bits & 4 != 0,
                    },
                    info_hash: if *right_hash {
                        self.t.info_hashes().wire_id()
                    } else {
                        [9; 20]
                    },
                    peer_id: [*id; 20],
                };
                let mut b = Vec::new();
                wire::encode_handshake(&hs, &mut b);
                self.t.handle_data(self.now, conn, &b);
            }
            Op::Send { peer, msg } => {
                let Some(conn) = self.conn(*peer) else { return };
                let b = self.encode(msg);
                self.t.handle_data(self.now, conn, &b);
            }
            Op::Raw { peer, bytes } => {
                let Some(conn) = self.conn(*peer) else { return };
                self.t.handle_data(self.now, conn, bytes);
            }
            Op::Close { peer } => {
                let Some(conn) = self.conn(*peer) else { return };
                if let Some(p) = self.peers.get_mut(peer) {
                    p.closed = true;
                }
                self.t.handle_closed(self.now, conn);
            }
            Op::Tick { ms } => {
                self.now += Duration::from_millis(u64::from(*ms) * 16);
                self.t.handle_timeout(self.now);
            }
            Op::Verify { lie } => {
                let Some(piece) = self.verifies.pop() else {
                    return;
                };
                let p = self.t.metainfo().and_then(|m| m.info.lengths.piece(piece));
                let (Some(p), Some(st)) = (p, self.storage.as_ref()) else {
                    return;
                };
                let ok = verify_piece(&self.hashes, st.as_ref(), p);
                self.lied |= *lie;
                let result = Ok(ok != *lie);
                self.t
                    .handle_disk(self.now, DiskDone::Verified { piece: p, result });
            }
            Op::Dial { ok } => {
                let Some(a) = self.dials.pop() else { return };
                // Dialled addresses come from AddPeers: back to the peer
                // number, so later events can talk on the connection.
                let peer = match a.ip() {
                    std::net::IpAddr::V4(ip) => {
                        let o = ip.octets();
                        o[2].wrapping_mul(16).wrapping_add(o[3].wrapping_sub(1))
                    }
                    std::net::IpAddr::V6(_) => return,
                };
                if !*ok || self.conn(peer).is_some() {
                    self.t.handle_connect_failed(self.now, a);
                    return;
                }
                let conn = ConnId(self.next_conn);
                self.next_conn += 1;
                self.peers.insert(
                    peer,
                    Peer {
                        conn,
                        out: Vec::new(),
                        shook: false,
                        closed: false,
                    },
                );
                self.t
                    .handle_connected(self.now, conn, a, Direction::Outgoing, TransportKind::Tcp);
            }
            Op::AddPeers { first, n } => {
                let addrs: Vec<SocketAddr> =
                    (0..*n % 16).map(|i| addr(first.wrapping_add(i))).collect();
                self.t.add_peers(self.now, &addrs);
            }
            Op::Pause => self.t.pause(self.now),
            Op::Resume => self.t.resume(self.now),
        }
        self.drain();
    }

    /// Takes every output of the torrent and checks it.
    fn drain(&mut self) {
        while let Some(a) = self.t.poll_connect() {
            self.dials.push(a);
        }
        // Writes and reads run at once; hash checks wait for Op::Verify.
        while let Some(job) = self.t.poll_disk() {
            let st = self.storage.clone().expect("disk jobs only with metadata");
            let done = match job {
                DiskJob::Write { block, data } => DiskDone::Written {
                    block,
                    result: st.write(block.piece, block.offset, &data).map_err(Arc::new),
                },
                DiskJob::Read { conn, block } => {
                    let mut buf = vec![0; block.len as usize];
                    let result = st
                        .read(block.piece, block.offset, &mut buf)
                        .map(|_| buf.into())
                        .map_err(Arc::new);
                    DiskDone::Read {
                        conn,
                        block,
                        result,
                    }
                }
                DiskJob::Verify { piece } => {
                    self.verifies.push(piece.get());
                    continue;
                }
                _ => continue,
            };
            self.t.handle_disk(self.now, done);
        }
        while let Some(ev) = self.t.poll_event() {
            match ev {
                Event::Disconnect { conn, .. } => {
                    for p in self.peers.values_mut().filter(|p| p.conn == conn) {
                        p.closed = true;
                    }
                }
                Event::MetadataReceived(bytes) => {
                    assert_eq!(
                        bytes, self.meta.info_bytes,
                        "metadata verified against the info-hash"
                    );
                    let st = Arc::new(MemStorage::new(self.meta.info.layout.clone()));
                    self.storage = Some(st);
                    let n = self.meta.info.lengths.num_pieces();
                    self.t
                        .handle_metadata(self.now, self.meta.clone(), Bitfield::new(n));
                }
                _ => {}
            }
        }
        while let Some(tx) = self.t.poll_transmit() {
            let p = self
                .peers
                .values_mut()
                .find(|p| p.conn == tx.conn)
                .expect("output only for connections we opened");
            assert!(!p.closed, "output for a closed connection");
            p.out.extend_from_slice(&tx.data);
        }
        let lied = self.lied;
        for p in self.peers.values_mut() {
            if !p.shook {
                match wire::decode_handshake(&p.out) {
                    Ok(Some((_, n))) => {
                        p.out.drain(..n);
                        p.shook = true;
                    }
                    Ok(None) => continue,
                    Err(e) => panic!("we sent a bad handshake: {e}"),
                }
            }
            let mut pos = 0;
            loop {
                match wire::decode(&p.out[pos..]) {
                    Ok(Decoded::Message(m, n)) => {
                        if let Message::Piece {
                            piece,
                            offset,
                            data,
                        } = m
                        {
                            let start = piece as usize * PIECE as usize + offset as usize;
                            assert!(
                                lied || self.data.get(start..start + data.len()) == Some(data),
                                "served data that is not the torrent's"
                            );
                        }
                        pos += n;
                    }
                    Ok(Decoded::Incomplete { .. }) => break,
                    other => panic!("we sent something the codec refuses: {other:?}"),
                }
            }
            p.out.drain(..pos);
        }
        let s = self.t.stats();
        assert!(s.have_pieces <= s.num_pieces);
        assert!(s.peers <= 8);
        assert_eq!(
            s.complete,
            s.num_pieces > 0 && s.have_pieces == s.num_pieces
        );
    }
}

fuzz_target!(|input: Input| {
    let mut w = World::new(input.role);
    for op in input.ops.iter().take(200) {
        w.step(op);
    }
});
