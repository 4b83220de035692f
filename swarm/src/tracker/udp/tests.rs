//! The UDP tracker exchange driven by hand: no socket, no clock.

use super::*;

fn req() -> AnnounceRequest {
    AnnounceRequest {
        info_hash: [7; 20],
        peer_id: [8; 20],
        port: 6881,
        uploaded: 1,
        downloaded: 2,
        left: 3,
        event: Event::Started,
        numwant: Some(10),
    }
}

fn opts() -> UdpOptions {
    UdpOptions {
        initial_timeout: Duration::from_secs(15),
        max_retransmits: 3,
        connection_ttl: Duration::from_secs(60),
    }
}

fn announce_query() -> Query {
    Query::Announce { req: req(), key: 9 }
}

fn txid_of(p: &[u8]) -> u32 {
    u32_at(p, 12)
}

fn connect_answer(txid: u32, id: u64) -> Vec<u8> {
    let mut a = CONNECT.to_be_bytes().to_vec();
    a.extend_from_slice(&txid.to_be_bytes());
    a.extend_from_slice(&id.to_be_bytes());
    a
}

fn announce_answer(txid: u32, peers: &[u8]) -> Vec<u8> {
    let mut a = ANNOUNCE.to_be_bytes().to_vec();
    for n in [txid, 1800, 4, 5] {
        a.extend_from_slice(&n.to_be_bytes());
    }
    a.extend_from_slice(peers);
    a
}

#[test]
fn connect_then_announce_with_transaction_checks() {
    let t0 = Instant::now();
    let mut x = Exchange::new(t0, announce_query(), false, None, opts());
    let c = x.poll_transmit().unwrap();
    assert_eq!(c.len(), 16);
    assert_eq!(u64_at(&c, 0), PROTOCOL_ID);
    assert_eq!(
        parse_request(&c),
        Ok(Request::Connect { txid: txid_of(&c) })
    );
    // a connect answer with another transaction id is ignored
    x.handle_datagram(t0, &connect_answer(txid_of(&c).wrapping_add(1), 42));
    assert!(x.poll_transmit().is_none() && x.connection().is_none());
    x.handle_datagram(t0, &connect_answer(txid_of(&c), 42));
    let a = x.poll_transmit().unwrap();
    assert_eq!(a.len(), 98);
    let Ok(Request::Query { conn, txid, query }) = parse_request(&a) else {
        panic!("not an announce")
    };
    assert_eq!((conn, query), (42, announce_query()));
    assert_ne!(txid, txid_of(&c), "each request has a fresh transaction id");
    let peers = [127, 0, 0, 1, 0x1a, 0xe1, 10, 0, 0, 2, 0, 80];
    x.handle_datagram(t0, &announce_answer(txid ^ 1, &peers));
    assert!(x.poll_result().is_none());
    x.handle_datagram(t0, &announce_answer(txid, &peers));
    let Some(Ok(Answer::Announce(r))) = x.poll_result() else {
        panic!("no answer")
    };
    assert_eq!(r.interval, 1800);
    assert_eq!((r.incomplete, r.complete), (Some(4), Some(5)));
    assert_eq!(
        r.peers,
        vec![
            "127.0.0.1:6881".parse().unwrap(),
            "10.0.0.2:80".parse().unwrap()
        ]
    );
    assert_eq!(x.connection().map(|c| c.id), Some(42));
    assert!(x.poll_timeout().is_none());
}

#[test]
fn retransmits_with_doubling_timeouts_then_gives_up() {
    let t0 = Instant::now();
    let mut x = Exchange::new(t0, announce_query(), false, None, opts());
    let first = x.poll_transmit().unwrap();
    let mut t = t0;
    for n in 0..3u32 {
        let due = x.poll_timeout().unwrap();
        assert_eq!(due - t, Duration::from_secs(15 << n));
        // not yet due: nothing happens
        x.handle_timeout(due - Duration::from_millis(1));
        assert!(x.poll_transmit().is_none());
        x.handle_timeout(due);
        let again = x.poll_transmit().unwrap();
        assert_eq!(again.len(), 16);
        assert_eq!(u64_at(&again, 0), u64_at(&first, 0));
        t = due;
    }
    let due = x.poll_timeout().unwrap();
    assert_eq!(due - t, Duration::from_secs(120));
    x.handle_timeout(due);
    assert!(matches!(
        x.poll_result(),
        Some(Err(TrackerError::UdpTimeout { attempts: 4 }))
    ));
    assert!(x.poll_transmit().is_none() && x.poll_timeout().is_none());
}

#[test]
fn connection_id_reused_until_it_expires() {
    let t0 = Instant::now();
    let cached = ConnectionId {
        id: 5,
        received: t0,
    };
    // fresh: the announce goes out at once on the cached id
    let mut x = Exchange::new(
        t0 + Duration::from_secs(59),
        announce_query(),
        false,
        Some(cached),
        opts(),
    );
    let p = x.poll_transmit().unwrap();
    assert_eq!((p.len(), u64_at(&p, 0)), (98, 5));
    // it expires while the announce is retransmitted: connect again
    x.handle_timeout(x.poll_timeout().unwrap());
    let p = x.poll_transmit().unwrap();
    assert_eq!((p.len(), u64_at(&p, 0)), (16, PROTOCOL_ID));
    assert!(x.connection().is_none());
    // stale: connects first
    let mut x = Exchange::new(
        t0 + Duration::from_secs(60),
        announce_query(),
        false,
        Some(cached),
        opts(),
    );
    assert_eq!(x.poll_transmit().unwrap().len(), 16);
}

#[test]
fn error_answers_and_malformed_answers_are_typed() {
    let t0 = Instant::now();
    let cached = Some(ConnectionId {
        id: 5,
        received: t0,
    });
    let mut x = Exchange::new(t0, announce_query(), false, cached, opts());
    let txid = txid_of(&x.poll_transmit().unwrap());
    let mut e = ERROR.to_be_bytes().to_vec();
    e.extend_from_slice(&txid.to_be_bytes());
    e.extend_from_slice(b"torrent not registered");
    x.handle_datagram(t0, &e);
    assert!(
        matches!(x.poll_result(), Some(Err(TrackerError::Failure(m))) if m == "torrent not registered")
    );
    assert!(x.connection().is_none(), "an error drops the connection id");

    let cases: Vec<(Vec<u8>, UdpError)> = vec![
        (
            announce_answer(0, &[1, 2, 3]),
            UdpError::BadPeerList { len: 3, entry: 6 },
        ),
        (
            announce_answer(0, &[])[..12].to_vec(),
            UdpError::TooShort {
                action: ANNOUNCE,
                len: 12,
            },
        ),
        (
            connect_answer(0, 1),
            UdpError::UnexpectedAction {
                expected: ANNOUNCE,
                got: CONNECT,
            },
        ),
        (
            [&[0, 0, 0, 9][..], &[0; 4]].concat(),
            UdpError::UnknownAction(9),
        ),
    ];
    for (mut answer, want) in cases {
        let mut x = Exchange::new(t0, announce_query(), false, cached, opts());
        let txid = txid_of(&x.poll_transmit().unwrap());
        answer[4..8].copy_from_slice(&txid.to_be_bytes());
        x.handle_datagram(t0, &answer);
        match x.poll_result() {
            Some(Err(TrackerError::BadUdp(e))) => assert_eq!(e, want),
            other => panic!("{answer:?}: {other:?}"),
        }
    }
}

#[test]
fn ipv6_peers_and_scrape() {
    let mut peers = std::net::Ipv6Addr::LOCALHOST.octets().to_vec();
    peers.extend_from_slice(&[0, 9]);
    let Parsed { body, .. } = parse_answer(&announce_answer(1, &peers), true).unwrap();
    let Body::Announce(r) = body else { panic!() };
    assert_eq!(r.peers, vec!["[::1]:9".parse().unwrap()]);
    // the same 18 bytes over IPv4 are three IPv4 peers
    let Parsed { body, .. } = parse_answer(&announce_answer(1, &peers), false).unwrap();
    let Body::Announce(r) = body else { panic!() };
    assert_eq!(r.peers.len(), 3);

    let t0 = Instant::now();
    let cached = Some(ConnectionId {
        id: 5,
        received: t0,
    });
    let q = Query::Scrape(vec![[1; 20], [2; 20]]);
    let mut x = Exchange::new(t0, q.clone(), false, cached, opts());
    let p = x.poll_transmit().unwrap();
    assert_eq!(p.len(), 16 + 40);
    let Ok(Request::Query { txid, query, .. }) = parse_request(&p) else {
        panic!()
    };
    assert_eq!(query, q);
    let mut a = SCRAPE.to_be_bytes().to_vec();
    a.extend_from_slice(&txid.to_be_bytes());
    for n in [1u32, 2, 3, 4, 5, 6] {
        a.extend_from_slice(&n.to_be_bytes());
    }
    x.handle_datagram(t0, &a);
    let Some(Ok(Answer::Scrape(s))) = x.poll_result() else {
        panic!()
    };
    assert_eq!(
        s[1],
        ScrapeStats {
            seeders: 4,
            completed: 5,
            leechers: 6
        }
    );
}

#[test]
fn request_parser_refuses_garbage() {
    for bad in [&[][..], &[0; 15], &[0; 16], &[0; 97]] {
        assert!(parse_request(bad).is_err());
    }
    assert!(parse_answer(&[0; 7], false).is_err());
    let long = [&ERROR.to_be_bytes()[..], &[0; 4], &[b'x'; 2000]].concat();
    let Body::Error(m) = parse_answer(&long, false).unwrap().body else {
        panic!()
    };
    assert_eq!(m.len(), MAX_ERROR_MESSAGE);
}
