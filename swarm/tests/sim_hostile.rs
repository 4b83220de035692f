//! Deterministic simulations of resource attacks on the protocol state
//! machine (issue 14): peers that request and never read, peers that hold
//! connection slots, hints that would poison bans.

use std::time::Duration;

use bytes::BytesMut;
use swarm::proto::{DisconnectReason, Event, TorrentConfig};
use swarm::sim::{content, make_v1, NodeId, NodeOpts, Sim, SimConfig};
use swarm::wire::{self, Handshake, Message, Reserved};

const PIECE: u32 = 32 * 1024;

fn seed_opts() -> NodeOpts {
    NodeOpts {
        seed: true,
        ..Default::default()
    }
}

/// A raw peer's handshake for `info_hash` with peer id `id`.
fn handshake(info_hash: [u8; 20], id: u8) -> Vec<u8> {
    let mut b = BytesMut::new();
    wire::encode_handshake(
        &Handshake {
            reserved: Reserved {
                extended: false,
                fast: true,
                v2: false,
            },
            info_hash,
            peer_id: [id; 20],
        },
        &mut b,
    );
    b.to_vec()
}

fn enc(msgs: &[Message<'_>]) -> Vec<u8> {
    let mut b = BytesMut::new();
    for m in msgs {
        wire::encode(m, &mut b).unwrap();
    }
    b.to_vec()
}

fn disconnects(sim: &Sim, n: NodeId, want: &DisconnectReason) -> usize {
    sim.events(n)
        .iter()
        .filter(|(_, e)| matches!(e, Event::Disconnect { reason, .. } if reason == want))
        .count()
}

/// Finding 3: 20 peers ask for everything and read nothing. The seeder's
/// queued bytes stay within its bound the whole time, the readers are
/// choked then dropped, and an honest leecher completes meanwhile.
#[test]
fn peers_that_do_not_read_are_bounded_choked_and_dropped() {
    let data = content(64 * PIECE as usize, 3);
    let meta = make_v1("big.pdf", &data, PIECE);
    let mut sim = Sim::new(SimConfig {
        seed: 5,
        ..Default::default()
    });
    let cfg = TorrentConfig {
        upload_slots: 4,
        max_send_buffer: 256 * 1024,
        max_send_buffer_total: 2 * 1024 * 1024,
        ..Default::default()
    };
    // one block past the bound, and small messages (rejects, haves)
    let bound = cfg.max_send_buffer_total + 64 * 1024;
    let s = sim.add_node(
        &meta,
        &data,
        NodeOpts {
            config: Some(cfg),
            ..seed_opts()
        },
    );
    let ih = meta.info_hashes.v1.unwrap().0;
    let mut asks = Vec::new();
    for p in 0..64 {
        for o in [0, 16384] {
            asks.push(Message::Request {
                piece: p,
                offset: o,
                len: 16384,
            });
        }
    }
    let mut links = Vec::new();
    for i in 0..20u8 {
        let raw = sim.add_raw();
        let link = sim.connect_raw(raw, s);
        let mut b = handshake(ih, 100 + i);
        b.extend(enc(&[Message::HaveNone, Message::Interested]));
        b.extend(enc(&asks));
        sim.raw_send(raw, link, &b);
        sim.stop_reading(raw, link);
        links.push((raw, link));
    }
    // an honest leecher arrives with them
    let l = sim.add_node(&meta, &data, NodeOpts::default());
    sim.introduce(l, &[s]);
    let mut peak = 0;
    let mut done = false;
    // they keep asking (requests while choked are rejected: asked again)
    for round in 1..=30 {
        done = sim.run_until(Duration::from_secs(round * 10), |sim| {
            peak = peak.max(sim.torrent(s).unwrap().stats().queued);
            sim.is_complete(l) && links.iter().all(|&(_, k)| !sim.link_open(k))
        });
        if done {
            break;
        }
        for &(raw, link) in &links {
            sim.raw_send(raw, link, &enc(&asks));
        }
    }
    assert!(peak <= bound, "{peak} bytes queued, bound {bound}");
    assert!(
        done,
        "leecher or drops did not happen by {:?}",
        sim.elapsed()
    );
    assert!(sim.data(l) == data);
    assert_eq!(
        disconnects(&sim, s, &DisconnectReason::NotReading),
        20,
        "every reader dropped for not reading"
    );
    assert_eq!(sim.torrent(s).unwrap().stats().banned, 0);
}

/// Finding 4: 50 peers that dialled the seeder, handshook and then said
/// nothing hold all of its `max_peers` slots (they would for the 180 s of
/// the peer timeout). A leecher that arrives later still gets in (an idle
/// one is evicted for it) and completes.
#[test]
fn silent_peers_do_not_hold_every_slot() {
    let data = content(16 * PIECE as usize, 6);
    let meta = make_v1("z.pdf", &data, PIECE);
    let mut sim = Sim::new(SimConfig {
        seed: 7,
        ..Default::default()
    });
    let cfg = TorrentConfig {
        max_peers: 50,
        ..Default::default()
    };
    let s = sim.add_node(
        &meta,
        &data,
        NodeOpts {
            config: Some(cfg),
            ..seed_opts()
        },
    );
    let ih = meta.info_hashes.v1.unwrap().0;
    let mut links = Vec::new();
    for i in 0..50u8 {
        let raw = sim.add_raw();
        let link = sim.connect_raw(raw, s);
        sim.raw_send(raw, link, &handshake(ih, 100 + i));
        links.push(link);
    }
    sim.run_until(Duration::from_secs(2), |_| false);
    assert_eq!(sim.torrent(s).unwrap().stats().peers, 50, "all slots held");
    // once they have been idle for `idle_evict_after` (10 s)
    sim.run_until(Duration::from_secs(12), |_| false);
    let l = sim.add_node(&meta, &data, NodeOpts::default());
    sim.introduce(l, &[s]);
    // well within the 180 s peer timeout that used to free the slots
    assert!(
        sim.run_until(Duration::from_secs(60), |sim| sim.is_complete(l)),
        "leecher did not get a slot"
    );
    assert!(sim.data(l) == data);
    assert!(disconnects(&sim, s, &DisconnectReason::Evicted) >= 1);
    assert_eq!(sim.torrent(s).unwrap().stats().banned, 0);
}
