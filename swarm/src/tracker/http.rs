//! HTTP tracker client (BEP 3, compact peers BEP 23, IPv6 peers BEP 7).
//!
//! # Wire format
//!
//! An announce is `GET <path>?info_hash=..&peer_id=..&port=..&uploaded=..
//! &downloaded=..&left=..&compact=1[&event=started|stopped|completed]
//! [&numwant=N]` over plain HTTP/1.0 (`Connection: close`). `info_hash` and
//! `peer_id` are the raw 20 bytes, percent-encoded. The answer is a
//! bencoded dictionary: `failure reason` (string) on error, else `interval`
//! (seconds), optional `min interval`, `complete`, `incomplete`,
//! `warning message`, and `peers` either compact (a string of 6-byte
//! entries: IPv4 address, port, big-endian) or a list of dictionaries with
//! `ip` and `port`, plus optional `peers6` (18-byte entries: IPv6, port).
//!
//! # Bounds
//!
//! Only `http://` (LAN/loopback use: no TLS; `https://` is refused with a
//! clear error). The whole exchange has a timeout; the response head is
//! limited to [`MAX_HEAD`] bytes and the body to
//! [`AnnounceOptions::max_response`]; chunked transfer encoding is decoded
//! within the same bound.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use piece_core::bencode::{self, Dict, Limits, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{AnnounceOptions, AnnounceRequest, AnnounceResponse, TrackerError};

/// Largest response head (status line + headers) accepted.
pub const MAX_HEAD: usize = 16 * 1024;

/// Bencode limits of an announce answer: keys in any order (real trackers
/// do not always sort them), nesting 16, 200,000 values; its length is
/// bounded by [`AnnounceOptions::max_response`] before it is decoded.
pub const LIMITS: Limits = Limits {
    max_depth: 16,
    max_tokens: 200_000,
    ..Limits::lenient()
};

/// Announces to an HTTP tracker: the whole exchange bounded by
/// [`AnnounceOptions::timeout`], the body by
/// [`AnnounceOptions::max_response`].
pub(super) async fn announce(
    url: &str,
    req: &AnnounceRequest,
    opts: &AnnounceOptions,
) -> Result<AnnounceResponse, TrackerError> {
    let target = parse_url(url)?;
    let request = build_request(&target, req);
    let raw = tokio::time::timeout(opts.timeout, exchange(&target, &request, opts.max_response))
        .await
        .map_err(|_| TrackerError::Timeout(opts.timeout))??;
    let body = parse_http(&raw, opts.max_response)?;
    parse_response(&body)
}

/// The parts of an `http://` URL we need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    pub(super) host: String,
    pub(super) port: u16,
    /// Path and query, starting with `/`.
    pub(super) path: String,
}

fn parse_url(url: &str) -> Result<Target, TrackerError> {
    parse_url_as(url, "http", Some(80))
}

/// Splits a `SCHEME://host[:port][/path]` URL; `default_port` is used when
/// the URL has none (`None`: a port is required).
pub(super) fn parse_url_as(
    url: &str,
    want_scheme: &str,
    default_port: Option<u16>,
) -> Result<Target, TrackerError> {
    let bad = || TrackerError::BadUrl(url.to_string());
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(bad());
    };
    if !scheme.eq_ignore_ascii_case(want_scheme) {
        return Err(TrackerError::UnsupportedScheme(url.to_string()));
    }
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_string()),
    };
    let path = path.split('#').next().unwrap_or("/").to_string();
    if authority.is_empty()
        || authority.contains('@')
        || path.bytes().any(|b| b <= b' ' || b == 0x7f)
    {
        return Err(bad());
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if after.is_empty() => default_port.ok_or_else(bad)?,
            None => return Err(bad()),
        };
        (h.to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().map_err(|_| bad())?),
            None => (authority.to_string(), default_port.ok_or_else(bad)?),
        }
    };
    if host.is_empty() {
        return Err(bad());
    }
    Ok(Target { host, port, path })
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn url_encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

fn build_request(t: &Target, req: &AnnounceRequest) -> Vec<u8> {
    let mut q = format!(
        "info_hash={}&peer_id={}&port={}&uploaded={}&downloaded={}&left={}&compact=1",
        url_encode(&req.info_hash),
        url_encode(&req.peer_id),
        req.port,
        req.uploaded,
        req.downloaded,
        req.left
    );
    if let Some(e) = req.event.as_str() {
        q.push_str("&event=");
        q.push_str(e);
    }
    if let Some(n) = req.numwant {
        q.push_str(&format!("&numwant={n}"));
    }
    let sep = if t.path.contains('?') { '&' } else { '?' };
    let host = if t.host.contains(':') {
        format!("[{}]", t.host)
    } else {
        t.host.clone()
    };
    format!(
        "GET {}{}{} HTTP/1.0\r\nHost: {}:{}\r\nUser-Agent: swarm/{}\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n",
        t.path,
        sep,
        q,
        host,
        t.port,
        env!("CARGO_PKG_VERSION")
    )
    .into_bytes()
}

/// The addresses of `t`'s host.
pub(super) async fn resolve(t: &Target) -> Result<Vec<SocketAddr>, TrackerError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((t.host.as_str(), t.port))
        .await
        .map_err(|source| TrackerError::Resolve {
            host: t.host.clone(),
            source,
        })?
        .collect();
    if addrs.is_empty() {
        return Err(no_address(t));
    }
    Ok(addrs)
}

fn no_address(t: &Target) -> TrackerError {
    TrackerError::Resolve {
        host: t.host.clone(),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "no address"),
    }
}

/// Connects, sends, and reads until EOF, at most `MAX_HEAD + max_body`
/// bytes (plus room for chunk framing).
async fn exchange(t: &Target, request: &[u8], max_body: usize) -> Result<Vec<u8>, TrackerError> {
    let addrs = resolve(t).await?;
    let mut last = None;
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(source) => last = Some(TrackerError::Connect { addr, source }),
        }
    }
    let Some(mut stream) = stream else {
        return Err(last.unwrap_or_else(|| no_address(t)));
    };
    stream.write_all(request).await?;
    // chunk framing adds at most a few bytes per chunk; allow 1/8 extra
    let limit = MAX_HEAD + max_body + max_body / 8 + 64;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        if buf.len() + n > limit {
            return Err(TrackerError::ResponseTooLarge(max_body));
        }
        buf.extend_from_slice(&chunk[..n]);
        if is_complete(&buf) {
            // the server may keep the connection open despite
            // `Connection: close`: stop once the message is whole
            break;
        }
    }
    Ok(buf)
}

/// Whether `buf` holds a whole response as framed by its head
/// (`Content-Length`, or the last chunk of a chunked body). Without either,
/// the body ends at EOF.
fn is_complete(buf: &[u8]) -> bool {
    let Some(head_end) = buf.windows(4).take(MAX_HEAD).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let Ok(head) = std::str::from_utf8(&buf[..head_end]) else {
        return false;
    };
    for line in head.split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            return value
                .parse::<usize>()
                .is_ok_and(|len| buf.len() - (head_end + 4) >= len);
        }
        if name.eq_ignore_ascii_case("transfer-encoding") && value.eq_ignore_ascii_case("chunked") {
            return buf[head_end + 2..].ends_with(b"\r\n0\r\n\r\n");
        }
    }
    false
}

/// Splits an HTTP response, checks the status and returns the body (at
/// most `max_body` bytes, chunked transfer encoding decoded).
pub fn parse_http(raw: &[u8], max_body: usize) -> Result<Vec<u8>, TrackerError> {
    let bad = |m: &str| TrackerError::BadHttp(m.to_string());
    let head_end = match raw.windows(4).take(MAX_HEAD).position(|w| w == b"\r\n\r\n") {
        Some(i) => i,
        None if raw.len() >= MAX_HEAD => return Err(TrackerError::HeadTooLarge),
        None => return Err(bad("the response ended inside its head")),
    };
    let head = std::str::from_utf8(&raw[..head_end]).map_err(|_| bad("head is not text"))?;
    let body = &raw[head_end + 4..];
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or("");
    let mut parts = status.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(bad("no HTTP/1.x status line"));
    }
    let code: u16 = parts
        .next()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad("bad status code"))?;
    let reason = parts.next().unwrap_or("").to_string();
    let mut content_length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad("header line without ':'"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| bad("bad Content-Length"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            if value.eq_ignore_ascii_case("chunked") {
                chunked = true;
            } else if !value.eq_ignore_ascii_case("identity") {
                return Err(TrackerError::BadHttp(format!(
                    "unsupported Transfer-Encoding {value:?}"
                )));
            }
        } else if name.eq_ignore_ascii_case("content-encoding")
            && !value.eq_ignore_ascii_case("identity")
        {
            return Err(TrackerError::BadHttp(format!(
                "unsupported Content-Encoding {value:?}"
            )));
        }
    }
    if code != 200 {
        return Err(TrackerError::HttpStatus { code, reason });
    }
    let body = if chunked {
        dechunk(body, max_body)?
    } else if let Some(len) = content_length {
        if len > max_body {
            return Err(TrackerError::ResponseTooLarge(max_body));
        }
        if body.len() < len {
            return Err(bad("body shorter than its Content-Length"));
        }
        body[..len].to_vec()
    } else {
        body.to_vec()
    };
    if body.len() > max_body {
        return Err(TrackerError::ResponseTooLarge(max_body));
    }
    Ok(body)
}

/// Decodes a chunked body (RFC 9112 §7.1), ignoring extensions and trailers.
fn dechunk(mut data: &[u8], max_body: usize) -> Result<Vec<u8>, TrackerError> {
    let bad = |m: &str| TrackerError::BadHttp(format!("bad chunked encoding: {m}"));
    let mut out = Vec::new();
    loop {
        let eol = data
            .windows(2)
            .take(64)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| bad("chunk size line"))?;
        let line = std::str::from_utf8(&data[..eol]).map_err(|_| bad("chunk size"))?;
        let size_str = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_str, 16).map_err(|_| bad("chunk size"))?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if out.len().saturating_add(size) > max_body {
            return Err(TrackerError::ResponseTooLarge(max_body));
        }
        if data.len() < size + 2 || &data[size..size + 2] != b"\r\n" {
            return Err(bad("truncated chunk"));
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

fn int_field(d: &Dict<'_>, key: &'static str) -> Result<Option<u32>, TrackerError> {
    match d.get(key.as_bytes()) {
        None => Ok(None),
        Some(Value::Int(n)) => u32::try_from(*n)
            .map(Some)
            .map_err(|_| TrackerError::BadField(key)),
        Some(_) => Err(TrackerError::BadField(key)),
    }
}

/// Parses the bencoded announce answer.
pub fn parse_response(body: &[u8]) -> Result<AnnounceResponse, TrackerError> {
    let v = bencode::decode_with(body, LIMITS)?;
    let d = v.as_dict().ok_or(TrackerError::NotADict)?;
    if let Some(f) = d.get(b"failure reason") {
        let msg = match f {
            Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            _ => "(unreadable failure reason)".to_string(),
        };
        return Err(TrackerError::Failure(msg));
    }
    let interval = int_field(d, "interval")?.ok_or(TrackerError::BadField("interval"))?;
    let mut resp = AnnounceResponse {
        interval,
        min_interval: int_field(d, "min interval")?,
        complete: int_field(d, "complete")?,
        incomplete: int_field(d, "incomplete")?,
        warning: match d.get(b"warning message") {
            Some(Value::Bytes(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        },
        peers: Vec::new(),
    };
    match d.get(b"peers") {
        None => {}
        Some(Value::Bytes(b)) => {
            if b.len() % 6 != 0 {
                return Err(TrackerError::BadField("peers"));
            }
            for e in b.chunks_exact(6) {
                let ip = Ipv4Addr::new(e[0], e[1], e[2], e[3]);
                resp.peers.push(SocketAddr::new(
                    IpAddr::V4(ip),
                    u16::from_be_bytes([e[4], e[5]]),
                ));
            }
        }
        Some(Value::List(list)) => {
            for item in list {
                // skip unusable entries rather than failing the announce
                let Value::Dict(p) = item else { continue };
                let ip = match p.get(b"ip") {
                    Some(Value::Bytes(b)) => std::str::from_utf8(b)
                        .ok()
                        .and_then(|s| s.parse::<IpAddr>().ok()),
                    _ => None,
                };
                let port = match p.get(b"port") {
                    Some(Value::Int(n)) => u16::try_from(*n).ok(),
                    _ => None,
                };
                if let (Some(ip), Some(port)) = (ip, port) {
                    resp.peers.push(SocketAddr::new(ip, port));
                }
            }
        }
        Some(_) => return Err(TrackerError::BadField("peers")),
    }
    match d.get(b"peers6") {
        None => {}
        Some(Value::Bytes(b)) if b.len() % 18 == 0 => {
            for e in b.chunks_exact(18) {
                let mut a = [0u8; 16];
                a.copy_from_slice(&e[..16]);
                let port = u16::from_be_bytes([e[16], e[17]]);
                resp.peers
                    .push(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(a)), port));
            }
        }
        Some(_) => return Err(TrackerError::BadField("peers6")),
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::Event;

    #[test]
    fn urls() {
        let t = parse_url("http://127.0.0.1:6969/announce").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("127.0.0.1", 6969, "/announce")
        );
        let t = parse_url("http://[::1]/a?k=v").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("::1", 80, "/a?k=v")
        );
        let t = parse_url("HTTP://host?x=1").unwrap();
        assert_eq!(t.path, "/?x=1");
        assert!(matches!(
            parse_url("https://x/announce"),
            Err(TrackerError::UnsupportedScheme(_))
        ));
        assert!(matches!(
            parse_url("udp://x:1/announce"),
            Err(TrackerError::UnsupportedScheme(_))
        ));
        for bad in [
            "x",
            "http://",
            "http://:80/",
            "http://h:99999/",
            "http://u@h/",
            "http://[::1/",
            "http://h/a b",
        ] {
            assert!(
                matches!(parse_url(bad), Err(TrackerError::BadUrl(_))),
                "{bad}"
            );
        }
        let t = parse_url("http://h/announce?key=1").unwrap();
        let req = AnnounceRequest {
            info_hash: [0xff; 20],
            peer_id: *b"-SW0001-abcdefghijkl",
            port: 1,
            uploaded: 0,
            downloaded: 0,
            left: 5,
            event: Event::Started,
            numwant: Some(3),
        };
        let r = String::from_utf8(build_request(&t, &req)).unwrap();
        assert!(r.starts_with("GET /announce?key=1&info_hash=%FF%FF"), "{r}");
        assert!(r.contains("&event=started&numwant=3 HTTP/1.0\r\n"), "{r}");
    }

    #[test]
    fn http_parsing() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef";
        assert_eq!(parse_http(ok, 100).unwrap(), b"abc");
        let ch = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_http(ch, 100).unwrap(), b"abcde");
        assert!(matches!(
            parse_http(ch, 4),
            Err(TrackerError::ResponseTooLarge(4))
        ));
        let nf = b"HTTP/1.0 404 Not Found\r\n\r\n";
        assert!(matches!(
            parse_http(nf, 100),
            Err(TrackerError::HttpStatus { code: 404, .. })
        ));
        for bad in [
            &b"garbage"[..],
            b"HTTP/1.1 2x0 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nbroken\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
        ] {
            assert!(parse_http(bad, 100).is_err(), "{bad:?}");
        }
        let big = vec![b'a'; MAX_HEAD + 10];
        assert!(matches!(
            parse_http(&big, 100),
            Err(TrackerError::HeadTooLarge)
        ));
    }

    #[test]
    fn responses() {
        let r = parse_response(b"d8:completei1e8:intervali60e5:peers12:\x7f\x00\x00\x01\x1a\xe1\x0a\x00\x00\x02\x00\x50e").unwrap();
        assert_eq!(r.interval, 60);
        assert_eq!(r.complete, Some(1));
        assert_eq!(
            r.peers,
            vec![
                "127.0.0.1:6881".parse().unwrap(),
                "10.0.0.2:80".parse().unwrap()
            ]
        );
        let r = parse_response(
            b"d8:intervali5e5:peersld2:ip9:127.0.0.14:porti7eed2:ip3:bad4:porti1eeee",
        )
        .unwrap();
        assert_eq!(r.peers, vec!["127.0.0.1:7".parse().unwrap()]);
        let mut v6 = b"d8:intervali5e6:peers618:".to_vec();
        v6.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        v6.extend_from_slice(&[0, 9, b'e']);
        assert_eq!(
            parse_response(&v6).unwrap().peers,
            vec!["[::1]:9".parse().unwrap()]
        );
        assert!(
            matches!(parse_response(b"d14:failure reason4:nopee"), Err(TrackerError::Failure(m)) if m == "nope")
        );
        assert!(matches!(
            parse_response(b"d5:peers5:abcdee"),
            Err(TrackerError::BadField("interval"))
        ));
        assert!(matches!(
            parse_response(b"d8:intervali-1ee"),
            Err(TrackerError::BadField("interval"))
        ));
        assert!(matches!(
            parse_response(b"d8:intervali1e5:peers5:abcdee"),
            Err(TrackerError::BadField("peers"))
        ));
        assert!(matches!(parse_response(b"le"), Err(TrackerError::NotADict)));
        assert!(matches!(
            parse_response(b"d8:intervali5e"),
            Err(TrackerError::BadBencode(_))
        ));
        // Unsorted keys, as some trackers send them, are read.
        let r = parse_response(b"d5:peers0:8:intervali7ee").unwrap();
        assert_eq!(r.interval, 7);
    }
}
