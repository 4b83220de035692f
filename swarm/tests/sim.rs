//! Deterministic swarm simulations of the protocol state machine.

use std::sync::Arc;
use std::time::Duration;

use swarm::proto::{DisconnectReason, Event, PeerMisbehaved, TorrentConfig};
use swarm::sim::{content, make_v1, NodeId, NodeOpts, Sim, SimConfig};

const PIECE: u32 = 32 * 1024;

fn seed_opts() -> NodeOpts {
    NodeOpts { seed: true, ..Default::default() }
}

fn banned(sim: &Sim, n: NodeId) -> Vec<(std::net::SocketAddr, PeerMisbehaved)> {
    sim.events(n)
        .iter()
        .filter_map(|(_, e)| match e {
            Event::PeerBanned { addr, reason } => Some((*addr, reason.clone())),
            _ => None,
        })
        .collect()
}

/// 1 seeder, 20 leechers, one corrupt seeder: everyone completes with the
/// right bytes and only the corrupt peer is banned.
fn big_swarm(seed: u64) -> (Sim, Vec<String>) {
    let data = content(6 * 1024 * 1024, 42);
    let meta = make_v1("zine.pdf", &data, PIECE);
    let mut sim = Sim::new(SimConfig { seed, ..Default::default() });
    let seeder = sim.add_node(&meta, &data, seed_opts());
    let corrupt = sim.add_node(&meta, &data, NodeOpts { seed: true, corrupt: true, ..Default::default() });
    let leechers: Vec<NodeId> = (0..20).map(|_| sim.add_node(&meta, &data, NodeOpts::default())).collect();
    for (k, &l) in leechers.iter().enumerate() {
        let mut peers = vec![seeder, corrupt];
        peers.extend(leechers[..k].iter().copied());
        sim.introduce(l, &peers);
    }
    let ls = leechers.clone();
    let ok = sim.run_until(Duration::from_secs(600), |s| ls.iter().all(|&l| s.is_complete(l)));
    if !ok {
        for l in sim.trace().iter().take(60) {
            eprintln!("{l}");
        }
    }
    assert!(ok, "swarm did not complete by {:?}", sim.elapsed());
    let corrupt_addr = sim.addr(corrupt);
    for &l in &leechers {
        assert!(sim.data(l) == data, "leecher {l:?} has wrong bytes");
        for (addr, reason) in banned(&sim, l) {
            assert_eq!(addr, corrupt_addr, "honest peer banned by {l:?}: {reason}");
            assert!(matches!(reason, PeerMisbehaved::HashFailures { .. }), "{reason:?}");
        }
    }
    assert!(banned(&sim, seeder).is_empty());
    let bans: usize = leechers.iter().map(|&l| banned(&sim, l).len()).sum();
    assert!(bans > 0, "no leecher noticed the corrupt peer");
    eprintln!("completed at {:?}; {bans} leechers banned the corrupt peer", sim.elapsed());
    let trace = sim.trace().to_vec();
    (sim, trace)
}

#[test]
fn swarm_with_corrupt_peer_completes_and_bans_only_it() {
    big_swarm(7);
}
