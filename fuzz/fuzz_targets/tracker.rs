//! Fuzz the HTTP tracker client's parsers: the HTTP response (head, status,
//! content length, chunked bodies) and the bencoded announce answer. Never
//! panics; a body is never larger than the limit given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarm::tracker::{parse_http, parse_response};

fuzz_target!(|data: &[u8]| {
    let max = 4096;
    if let Ok(body) = parse_http(data, max) {
        assert!(body.len() <= max);
        let _ = parse_response(&body);
    }
    if let Ok(r) = parse_response(data) {
        // at most one address per 6 bytes of input
        assert!(r.peers.len() <= data.len() / 6);
    }
});
