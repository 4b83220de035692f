//! Disk jobs in the deterministic simulation: hash on receive (no
//! read-back), hash failures, a slow disk's backpressure, a failing disk.

use std::time::Duration;

use swarm::proto::{Event, PeerMisbehaved, TorrentConfig};
use swarm::sim::{content, make_v1, NodeId, NodeOpts, Sim, SimConfig};

const PIECE: u32 = 64 * 1024;

fn seed_opts() -> NodeOpts {
    NodeOpts {
        seed: true,
        ..Default::default()
    }
}

fn events_of(sim: &Sim, n: NodeId, f: impl Fn(&Event) -> bool) -> usize {
    sim.events(n).iter().filter(|(_, e)| f(e)).count()
}

/// Downloads `data` from `seeders` seeders; returns the leecher's bytes
/// read from its storage.
fn read_back(seeders: usize, data: &[u8]) -> u64 {
    let meta = make_v1("book.epub", data, PIECE);
    let mut sim = Sim::new(SimConfig::default());
    let seeds: Vec<NodeId> = (0..seeders)
        .map(|_| sim.add_node(&meta, data, seed_opts()))
        .collect();
    let l = sim.add_node(&meta, data, NodeOpts::default());
    sim.introduce(l, &seeds);
    assert!(sim.run_until(Duration::from_secs(120), |s| s.is_complete(l)));
    assert_eq!(sim.data(l), data);
    let pieces = meta.info.lengths.num_pieces() as usize;
    assert_eq!(
        events_of(&sim, l, |e| matches!(e, Event::PieceVerified(_))),
        pieces
    );
    sim.storage(l).unwrap().bytes_read()
}

#[test]
fn pieces_verify_without_reading_them_back() {
    let data = content(3 * 1024 * 1024 + 777, 11);
    // one peer sends each piece's blocks in order: every piece was hashed
    // as they arrived, nothing is read back
    assert_eq!(read_back(1, &data), 0);
    // from several peers a v1 block may arrive after a gap in its piece:
    // only the rest of that piece is read back
    let read = read_back(3, &data);
    assert!(read < data.len() as u64 / 16, "read back {read} bytes");
}

#[test]
fn hash_failures_still_ban_the_corrupt_peer_and_refetch() {
    let data = content(2 * 1024 * 1024, 12);
    let meta = make_v1("zine.pdf", &data, PIECE);
    let mut sim = Sim::new(SimConfig {
        seed: 5,
        ..Default::default()
    });
    let honest = sim.add_node(&meta, &data, seed_opts());
    let corrupt = sim.add_node(
        &meta,
        &data,
        NodeOpts {
            seed: true,
            corrupt: true,
            ..Default::default()
        },
    );
    let l = sim.add_node(&meta, &data, NodeOpts::default());
    sim.introduce(l, &[corrupt, honest]);
    assert!(sim.run_until(Duration::from_secs(300), |s| s.is_complete(l)));
    assert_eq!(sim.data(l), data);
    assert!(events_of(&sim, l, |e| matches!(e, Event::PieceFailed { .. })) > 0);
    let bans: Vec<_> = sim
        .events(l)
        .iter()
        .filter_map(|(_, e)| match e {
            Event::PeerBanned { addr, reason, .. } => Some((*addr, reason.clone())),
            _ => None,
        })
        .collect();
    assert!(!bans.is_empty(), "corrupt peer never banned");
    for (a, r) in bans {
        assert_eq!(a, sim.addr(corrupt), "honest peer banned: {r}");
        assert!(matches!(r, PeerMisbehaved::HashFailures { .. }));
    }
}

/// Peak of the leecher's disk queue over a download from a fast seeder
/// to a slow disk, and whether it completed.
fn slow_disk_peak(max_disk_queue: usize) -> (usize, bool, Vec<u8>, Vec<u8>) {
    let data = content(8 * 1024 * 1024, 13);
    let meta = make_v1("big.iso", &data, PIECE);
    let mut sim = Sim::new(SimConfig {
        seed: 3,
        latency: (Duration::from_millis(1), Duration::from_millis(2)),
        bandwidth: (100_000_000, 100_000_000),
        ..Default::default()
    });
    let s = sim.add_node(&meta, &data, seed_opts());
    let l = sim.add_node(
        &meta,
        &data,
        NodeOpts {
            disk_rate: Some(2_000_000),
            config: Some(TorrentConfig {
                max_disk_queue,
                max_request_queue: 32,
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    sim.introduce(l, &[s]);
    let mut peak = 0;
    let done = sim.run_until(Duration::from_secs(120), |s| {
        if let Some(t) = s.torrent(l) {
            peak = peak.max(t.stats().disk_queued);
        }
        s.is_complete(l)
    });
    (peak, done, sim.data(l), data)
}

#[test]
fn slow_disk_holds_memory_bounded() {
    let bound = 1024 * 1024;
    let (peak, done, got, want) = slow_disk_peak(bound);
    assert!(done, "download with a slow disk did not complete");
    assert_eq!(got, want);
    // at most the bound plus the requests in flight when it was reached
    let in_flight = 32 * 16 * 1024;
    assert!(peak <= bound + in_flight, "disk queue peaked at {peak}");
    // without the bound the same download queues most of the torrent
    let (unbounded, _, _, _) = slow_disk_peak(usize::MAX);
    assert!(unbounded > 4 * (bound + in_flight), "{unbounded}");
}

#[test]
fn failed_writes_pause_and_blame_no_peer() {
    let data = content(1024 * 1024, 14);
    let meta = make_v1("e.pdf", &data, PIECE);
    let mut sim = Sim::new(SimConfig {
        seed: 4,
        ..Default::default()
    });
    let s = sim.add_node(&meta, &data, seed_opts());
    let l = sim.add_node(
        &meta,
        &data,
        NodeOpts {
            capacity: Some(300 * 1024),
            ..Default::default()
        },
    );
    sim.introduce(l, &[s]);
    assert!(sim.run_until(Duration::from_secs(60), |sim| {
        events_of(sim, l, |e| matches!(e, Event::StorageFailed { .. })) > 0
    }));
    sim.run_until(Duration::from_secs(90), |_| false);
    assert!(sim.torrent(l).unwrap().stats().paused);
    assert_eq!(
        events_of(&sim, l, |e| matches!(
            e,
            Event::PieceFailed { .. } | Event::PeerBanned { .. }
        )),
        0
    );
    // only whole written pieces were verified: each of them is right
    let got = sim.data(l);
    for (_, e) in sim.events(l) {
        if let Event::PieceVerified(p) = e {
            let r = p.get() as usize * PIECE as usize..(p.get() as usize + 1) * PIECE as usize;
            assert_eq!(got[r.clone()], data[r]);
        }
    }
}
