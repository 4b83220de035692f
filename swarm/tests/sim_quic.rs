//! The QUIC policy (`proto::quic`) in the deterministic simulation: swarm
//! peers move to QUIC, and fall back to TCP when QUIC fails.

use std::collections::BTreeSet;
use std::time::Duration;

use swarm::proto::{DisconnectReason, Event};
use swarm::sim::{content, make_v1, NodeId, NodeOpts, Sim, SimConfig};

fn node(sim: &mut Sim, data: &[u8], seed: bool, quic: bool) -> NodeId {
    let meta = make_v1("zines.tar", data, 32 * 1024);
    sim.add_node(
        &meta,
        data,
        NodeOpts {
            seed,
            quic,
            ..Default::default()
        },
    )
}

/// Runs until `l` completes; returns every transport `l` had a
/// connection over.
fn run(sim: &mut Sim, l: NodeId) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let done = sim.run_until(Duration::from_secs(120), |s| {
        for k in s.transports(l) {
            seen.insert(format!("{k:?}"));
        }
        s.is_complete(l)
    });
    assert!(done, "did not complete");
    seen
}

fn duplicates_closed(sim: &Sim, n: NodeId) -> usize {
    sim.events(n)
        .iter()
        .filter(|(_, e)| {
            matches!(
                e,
                Event::Disconnect {
                    reason: DisconnectReason::Duplicate,
                    ..
                }
            )
        })
        .count()
}

#[test]
fn tcp_peer_moves_to_quic() {
    let data = content(1024 * 1024, 21);
    let mut sim = Sim::new(SimConfig::default());
    let s = node(&mut sim, &data, true, true);
    let l = node(&mut sim, &data, false, true);
    // a tracker-style hint: a TCP address
    sim.introduce(l, &[s]);
    let seen = run(&mut sim, l);
    assert_eq!(sim.data(l), data);
    assert!(seen.contains("Quic"), "{seen:?}");
    // the TCP link was closed as a duplicate of the QUIC one (by each
    // side at most once; no ban)
    let (dl, ds) = (duplicates_closed(&sim, l), duplicates_closed(&sim, s));
    assert!(dl + ds >= 1 && dl <= 1 && ds <= 1, "{dl} {ds}");
    assert!(sim
        .events(l)
        .iter()
        .all(|(_, e)| !matches!(e, Event::PeerBanned { .. })));
}

#[test]
fn swarm_peer_is_dialled_over_quic_first() {
    let data = content(512 * 1024, 22);
    let mut sim = Sim::new(SimConfig::default());
    let s = node(&mut sim, &data, true, true);
    let l = node(&mut sim, &data, false, true);
    sim.add_swarm_peer(l, s);
    let seen = run(&mut sim, l);
    assert_eq!(sim.data(l), data);
    // QUIC only: TCP was never dialled
    assert_eq!(seen, BTreeSet::from(["Quic".to_string()]));
    assert_eq!(duplicates_closed(&sim, l), 0);
}

#[test]
fn swarm_peer_falls_back_to_tcp_when_quic_fails() {
    let data = content(512 * 1024, 23);
    let mut sim = Sim::new(SimConfig::default());
    // the seeder has no QUIC endpoint: the QUIC dial fails
    let s = node(&mut sim, &data, true, false);
    let l = node(&mut sim, &data, false, true);
    sim.add_swarm_peer(l, s);
    let seen = run(&mut sim, l);
    assert_eq!(sim.data(l), data);
    assert_eq!(seen, BTreeSet::from(["Memory".to_string()]));
}

#[test]
fn without_quic_here_a_swarm_peer_is_dialled_over_tcp() {
    let data = content(256 * 1024, 24);
    let mut sim = Sim::new(SimConfig::default());
    let s = node(&mut sim, &data, true, true);
    let l = node(&mut sim, &data, false, false);
    sim.add_swarm_peer(l, s);
    let seen = run(&mut sim, l);
    assert_eq!(seen, BTreeSet::from(["Memory".to_string()]));
    // the seeder offered QUIC; the leecher has none and stays on TCP
    assert_eq!(duplicates_closed(&sim, l) + duplicates_closed(&sim, s), 0);
}
