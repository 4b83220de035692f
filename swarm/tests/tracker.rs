//! HTTP tracker client against the test tracker and against hand-written
//! misbehaving servers on 127.0.0.1.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use swarm::tracker::server::{TrackerOptions, TrackerServer};
use swarm::tracker::{
    announce, announce_with, AnnounceOptions, AnnounceRequest, Event, TrackerError,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn req(id: u8, port: u16, left: u64, event: Event) -> AnnounceRequest {
    AnnounceRequest {
        info_hash: [0xab; 20],
        peer_id: [id; 20],
        port,
        uploaded: 0,
        downloaded: 0,
        left,
        event,
        numwant: None,
    }
}

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

#[tokio::test]
async fn announce_roundtrip() {
    let (server, url) = TrackerServer::bind(localhost()).await.unwrap();
    let a = announce(&url, &req(1, 1111, 0, Event::Started))
        .await
        .unwrap();
    assert_eq!(a.interval, 30);
    assert!(a.peers.is_empty(), "the announcer is not in its own list");
    assert_eq!(a.complete, Some(1));
    let b = announce(&url, &req(2, 2222, 100, Event::Started))
        .await
        .unwrap();
    assert_eq!(b.peers, vec!["127.0.0.1:1111".parse().unwrap()]);
    assert_eq!((b.complete, b.incomplete), (Some(1), Some(1)));
    assert_eq!(server.num_peers(&[0xab; 20]), 2);
    // another torrent is a separate swarm
    let mut other = req(3, 3333, 1, Event::Started);
    other.info_hash = [0xcd; 20];
    assert!(announce(&url, &other).await.unwrap().peers.is_empty());
    // stopped removes the peer
    announce(&url, &req(1, 1111, 0, Event::Stopped))
        .await
        .unwrap();
    let b = announce(&url, &req(2, 2222, 100, Event::None))
        .await
        .unwrap();
    assert!(b.peers.is_empty());
    assert_eq!(server.num_peers(&[0xab; 20]), 1);
}

#[tokio::test]
async fn peer_ip_override_and_numwant() {
    let opts = TrackerOptions {
        peer_ip: Some(IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1))),
        ..Default::default()
    };
    let (_server, url) = TrackerServer::bind_with(localhost(), opts).await.unwrap();
    for i in 1..=5u8 {
        announce(&url, &req(i, 1000 + i as u16, 1, Event::Started))
            .await
            .unwrap();
    }
    let mut r = req(9, 9, 1, Event::Started);
    r.numwant = Some(2);
    let a = announce(&url, &r).await.unwrap();
    assert_eq!(a.peers.len(), 2);
    assert!(a
        .peers
        .iter()
        .all(|p| p.ip() == IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1))));
}

#[tokio::test]
async fn failure_reason() {
    let (_server, url) = TrackerServer::bind(localhost()).await.unwrap();
    let bad_url = url.replace("/announce", "/scrape");
    match announce(&bad_url, &req(1, 1, 1, Event::None)).await {
        Err(TrackerError::Failure(m)) => assert!(m.contains("announce"), "{m}"),
        other => panic!("expected a failure reason, got {other:?}"),
    }
}

/// A server that answers every connection with `answer`, once per accept.
async fn canned(answer: Vec<u8>) -> String {
    let l = TcpListener::bind(localhost()).await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(&answer).await;
                let _ = s.shutdown().await;
            });
        }
    });
    format!("http://{addr}/announce")
}

fn http(body: &[u8]) -> Vec<u8> {
    let mut v = format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    v.extend_from_slice(body);
    v
}

#[tokio::test]
async fn garbage_is_a_typed_error() {
    let r = req(1, 1, 1, Event::None);
    type Check = fn(&TrackerError) -> bool;
    let cases: Vec<(Vec<u8>, Check)> = vec![
        (b"not http at all".to_vec(), |e| {
            matches!(e, TrackerError::BadHttp(_))
        }),
        (b"HTTP/1.0 500 Oops\r\n\r\n".to_vec(), |e| {
            matches!(e, TrackerError::HttpStatus { code: 500, .. })
        }),
        (http(b"d8:intervali3e5:peers5:abcdee"), |e| {
            matches!(e, TrackerError::BadField("peers"))
        }),
        (http(b"\xff\x00garbage"), |e| {
            matches!(e, TrackerError::BadBencode(_))
        }),
        (http(b"d8:interval"), |e| {
            matches!(e, TrackerError::BadBencode(_))
        }),
        (Vec::new(), |e| matches!(e, TrackerError::BadHttp(_))),
    ];
    for (answer, check) in cases {
        let url = canned(answer.clone()).await;
        let e = announce(&url, &r).await.unwrap_err();
        assert!(
            check(&e),
            "answer {:?} gave {e:?}",
            String::from_utf8_lossy(&answer)
        );
        assert!(!e.to_string().is_empty());
    }
    // a chunked answer is decoded
    let url = canned(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nd8:in\r\n9\r\ntervali7e\r\n1\r\ne\r\n0\r\n\r\n".to_vec()).await;
    assert_eq!(announce(&url, &r).await.unwrap().interval, 7);
}

#[tokio::test]
async fn keep_alive_server_does_not_stall() {
    // answers, then holds the connection open
    let l = TcpListener::bind(localhost()).await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut s, _)) = l.accept().await {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(&http(b"d8:intervali9ee")).await;
            held.push(s);
        }
    });
    let opts = AnnounceOptions {
        timeout: Duration::from_secs(5),
        ..Default::default()
    };
    let url = format!("http://{addr}/announce");
    let a = announce_with(&url, &req(1, 1, 1, Event::None), &opts)
        .await
        .unwrap();
    assert_eq!(a.interval, 9);
}

#[tokio::test]
async fn oversize_response_is_refused() {
    let r = req(1, 1, 1, Event::None);
    let opts = AnnounceOptions {
        max_response: 1000,
        timeout: Duration::from_secs(5),
        ..Default::default()
    };
    // declared too large
    let mut big = b"d8:intervali3e5:peers6000:".to_vec();
    big.extend(std::iter::repeat_n(1u8, 6000));
    big.push(b'e');
    let url = canned(http(&big)).await;
    assert!(matches!(
        announce_with(&url, &r, &opts).await,
        Err(TrackerError::ResponseTooLarge(1000))
    ));
    // no length, streams far past the limit
    let mut endless = b"HTTP/1.0 200 OK\r\n\r\n".to_vec();
    endless.extend(std::iter::repeat_n(b'x', 200_000));
    let url = canned(endless).await;
    assert!(matches!(
        announce_with(&url, &r, &opts).await,
        Err(TrackerError::ResponseTooLarge(1000))
    ));
}

#[tokio::test]
async fn silent_server_times_out_and_https_is_refused() {
    let l = TcpListener::bind(localhost()).await.unwrap();
    let addr = l.local_addr().unwrap();
    let _keep = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s); // never answer
        }
    });
    let opts = AnnounceOptions {
        timeout: Duration::from_millis(200),
        ..Default::default()
    };
    let url = format!("http://{addr}/announce");
    assert!(matches!(
        announce_with(&url, &req(1, 1, 1, Event::None), &opts).await,
        Err(TrackerError::Timeout(_))
    ));
    let e = announce("https://127.0.0.1:1/announce", &req(1, 1, 1, Event::None))
        .await
        .unwrap_err();
    assert!(matches!(e, TrackerError::UnsupportedScheme(_)));
    assert!(e.to_string().contains("http://"));
    // nothing listening
    let l = TcpListener::bind(localhost()).await.unwrap();
    let dead = l.local_addr().unwrap();
    drop(l);
    let e = announce(
        &format!("http://{dead}/announce"),
        &req(1, 1, 1, Event::None),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, TrackerError::Connect { .. }), "{e:?}");
}
