//! Fuzz the UDP tracker (BEP 15) parsers: the answer parser the client runs
//! (both peer-entry sizes), the exchange state machine fed the datagram as
//! an answer to its own request, and the request parser of the test
//! tracker. Never panics; at most one peer per 6 (or 18) bytes of input.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use swarm::tracker::udp::{
    parse_answer, parse_request, Answer, Body, ConnectionId, Exchange, Query, UdpOptions,
};
use swarm::tracker::{AnnounceRequest, Event};

fuzz_target!(|data: &[u8]| {
    for (v6, entry) in [(false, 6), (true, 18)] {
        if let Ok(p) = parse_answer(data, v6) {
            if let Body::Announce(r) = p.body {
                assert!(r.peers.len() <= data.len() / entry);
            }
        }
    }
    let _ = parse_request(data);
    // the datagram as the answer to an announce on a cached connection,
    // with its transaction id patched in so the parser is reached
    let now = Instant::now();
    let req = AnnounceRequest {
        info_hash: [1; 20],
        peer_id: [2; 20],
        port: 3,
        uploaded: 0,
        downloaded: 0,
        left: 0,
        event: Event::None,
        numwant: None,
    };
    let conn = ConnectionId {
        id: 7,
        received: now,
    };
    let mut x = Exchange::new(
        now,
        Query::Announce { req, key: 0 },
        false,
        Some(conn),
        UdpOptions::default(),
    );
    let sent = x.poll_transmit().expect("a request");
    let mut d = data.to_vec();
    if d.len() >= 8 {
        d[4..8].copy_from_slice(&sent[12..16]);
    }
    x.handle_datagram(now, &d);
    if let Some(Ok(Answer::Announce(r))) = x.poll_result() {
        assert!(r.peers.len() <= d.len() / 6);
    }
});
