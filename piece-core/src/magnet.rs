//! Magnet links (BEP 9, BEP 52 `btmh`, BEP 53 `so`).
//!
//! Format: `magnet:?` followed by `&`-separated `key=value` pairs, values
//! percent-encoded:
//! - `xt=urn:btih:<40 hex | 32 base32>`: v1 info-hash;
//! - `xt=urn:btmh:1220<64 hex>`: v2 info-hash as a sha2-256 multihash;
//!   a hybrid torrent's link carries both;
//! - `dn`: display name; `tr`: tracker (repeatable); `ws`: web seed
//!   (repeatable); `x.pe`: peer address `host:port` (repeatable);
//! - `so`: select-only file indices, e.g. `0,2,4-6`.
//!
//! Unknown keys are ignored. Input longer than [`MAX_MAGNET_LEN`] is
//! refused, which bounds every allocation.

use std::fmt;
use std::ops::RangeInclusive;

use crate::types::{InfoHashV1, InfoHashV2};

/// Longest magnet link accepted, in bytes.
pub const MAX_MAGNET_LEN: usize = 64 * 1024;
/// Most `so` ranges accepted.
const MAX_SO_RANGES: usize = 4096;

/// A parsed magnet link.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Magnet {
    /// `xt=urn:btih:` (v1 info-hash).
    pub v1: Option<InfoHashV1>,
    /// `xt=urn:btmh:1220...` (v2 info-hash).
    pub v2: Option<InfoHashV2>,
    /// `dn`.
    pub name: Option<String>,
    /// `tr`, in order.
    pub trackers: Vec<String>,
    /// `ws`, in order.
    pub web_seeds: Vec<String>,
    /// `x.pe`: peer addresses (`host:port`), in order.
    pub peers: Vec<String>,
    /// `so`: file index ranges to download.
    pub select_only: Vec<RangeInclusive<u32>>,
}

/// Why a magnet link was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MagnetError {
    /// It does not start with `magnet:?`.
    #[error("not a magnet link (must start with \"magnet:?\")")]
    NotMagnet,
    /// It is longer than [`MAX_MAGNET_LEN`].
    #[error("magnet link is longer than {MAX_MAGNET_LEN} bytes")]
    TooLong,
    /// It names no `urn:btih:` or `urn:btmh:` info-hash.
    #[error("magnet link has no btih or btmh info-hash")]
    NoInfoHash,
    /// An info-hash that is not 40 hex / 32 base32 (v1) or a SHA-256 multihash (v2).
    #[error("invalid info-hash {0:?}")]
    BadInfoHash(String),
    /// Two different info-hashes of the same version (`"v1"` or `"v2"`).
    #[error("two different {0} info-hashes in one magnet link")]
    ConflictingInfoHash(&'static str),
    /// A parameter with invalid percent-encoding.
    #[error("invalid percent-encoding in {0:?}")]
    BadEncoding(String),
    /// An `so` parameter that is not a list of indices and ranges.
    #[error("invalid select-only list {0:?}")]
    BadSelectOnly(String),
}

impl Magnet {
    /// Parses a magnet link.
    pub fn parse(s: &str) -> Result<Magnet, MagnetError> {
        if s.len() > MAX_MAGNET_LEN {
            return Err(MagnetError::TooLong);
        }
        let query = s
            .strip_prefix("magnet:?")
            .or_else(|| {
                s.get(..8)
                    .filter(|p| p.eq_ignore_ascii_case("magnet:?"))
                    .map(|_| &s[8..])
            })
            .ok_or(MagnetError::NotMagnet)?;
        let mut m = Magnet::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_decode(v)?;
            match k {
                "xt" => m.parse_xt(&v)?,
                "dn" => m.name = Some(v),
                "tr" => m.trackers.push(v),
                "ws" => m.web_seeds.push(v),
                "x.pe" => m.peers.push(v),
                "so" => m.select_only = parse_so(&v)?,
                _ => {}
            }
        }
        if m.v1.is_none() && m.v2.is_none() {
            return Err(MagnetError::NoInfoHash);
        }
        Ok(m)
    }

    fn parse_xt(&mut self, v: &str) -> Result<(), MagnetError> {
        let lower = v.to_ascii_lowercase();
        if let Some(h) = lower.strip_prefix("urn:btih:") {
            let hash = match h.len() {
                40 => InfoHashV1::from_hex(h),
                32 => base32_decode(h).map(InfoHashV1),
                _ => None,
            }
            .ok_or_else(|| MagnetError::BadInfoHash(v.to_string()))?;
            if self.v1.is_some_and(|x| x != hash) {
                return Err(MagnetError::ConflictingInfoHash("btih"));
            }
            self.v1 = Some(hash);
        } else if let Some(h) = lower.strip_prefix("urn:btmh:") {
            let hash = h
                .strip_prefix("1220")
                .filter(|h| h.len() == 64)
                .and_then(InfoHashV2::from_hex)
                .ok_or_else(|| MagnetError::BadInfoHash(v.to_string()))?;
            if self.v2.is_some_and(|x| x != hash) {
                return Err(MagnetError::ConflictingInfoHash("btmh"));
            }
            self.v2 = Some(hash);
        }
        Ok(())
    }
}

impl fmt::Display for Magnet {
    /// The canonical link: hex hashes, then `dn`, `tr`, `ws`, `x.pe`, `so`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "magnet:?")?;
        let mut sep = "";
        if let Some(h) = self.v1 {
            write!(f, "xt=urn:btih:{}", h.to_hex())?;
            sep = "&";
        }
        if let Some(h) = self.v2 {
            write!(f, "{sep}xt=urn:btmh:1220{}", h.to_hex())?;
            sep = "&";
        }
        if let Some(n) = &self.name {
            write!(f, "{sep}dn={}", percent_encode(n))?;
            sep = "&";
        }
        for (key, list) in [
            ("tr", &self.trackers),
            ("ws", &self.web_seeds),
            ("x.pe", &self.peers),
        ] {
            for v in list {
                write!(f, "{sep}{key}={}", percent_encode(v))?;
                sep = "&";
            }
        }
        if !self.select_only.is_empty() {
            write!(f, "{sep}so=")?;
            for (i, r) in self.select_only.iter().enumerate() {
                let c = if i > 0 { "," } else { "" };
                if r.start() == r.end() {
                    write!(f, "{c}{}", r.start())?;
                } else {
                    write!(f, "{c}{}-{}", r.start(), r.end())?;
                }
            }
        }
        Ok(())
    }
}

fn parse_so(v: &str) -> Result<Vec<RangeInclusive<u32>>, MagnetError> {
    let bad = || MagnetError::BadSelectOnly(v.to_string());
    let mut out = Vec::new();
    for part in v.split(',').filter(|p| !p.is_empty()) {
        if out.len() >= MAX_SO_RANGES {
            return Err(bad());
        }
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let a: u32 = a.parse().map_err(|_| bad())?;
        let b: u32 = b.parse().map_err(|_| bad())?;
        if a > b {
            return Err(bad());
        }
        out.push(a..=b);
    }
    Ok(out)
}

/// Decodes `%XX` escapes and `+` (as space); invalid UTF-8 is replaced.
fn percent_decode(s: &str) -> Result<String, MagnetError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .ok_or_else(|| MagnetError::BadEncoding(s.into()))?;
                let hi = (hex[0] as char).to_digit(16);
                let lo = (hex[1] as char).to_digit(16);
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push((h * 16 + l) as u8),
                    _ => return Err(MagnetError::BadEncoding(s.into())),
                }
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Percent-encodes everything but unreserved characters and a few that are
/// safe inside a query value (`:`, `/`, `@`, `,`).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        if c.is_ascii_alphanumeric() || b"-._~:/@,".contains(&c) {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

/// RFC 4648 base32 (no padding) of exactly 20 bytes; case-insensitive.
fn base32_decode(s: &str) -> Option<[u8; 20]> {
    if s.len() != 32 {
        return None;
    }
    let mut out = [0u8; 20];
    let mut acc: u64 = 0;
    let mut bits = 0;
    let mut n = 0;
    for c in s.bytes() {
        let v = match c.to_ascii_uppercase() {
            c @ b'A'..=b'Z' => c - b'A',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        acc = (acc << 5) | v as u64;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out[n] = (acc >> bits) as u8;
            acc &= (1 << bits) - 1;
            n += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";

    #[test]
    fn parses_v1_hex_and_base32() {
        let m = Magnet::parse(&format!(
            "magnet:?xt=urn:btih:{HEX}&dn=My+Zine%20%231&tr=http%3A%2F%2Ft%2Fa&tr=udp://u:1"
        ))
        .unwrap();
        assert_eq!(m.v1.unwrap().to_hex(), HEX);
        assert_eq!(m.name.as_deref(), Some("My Zine #1"));
        assert_eq!(m.trackers, vec!["http://t/a", "udp://u:1"]);
        // base32 of the same hash
        let b32 = "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK";
        let m2 = Magnet::parse(&format!("magnet:?xt=urn:btih:{b32}")).unwrap();
        assert_eq!(m2.v1, m.v1);
        assert_eq!(
            Magnet::parse(&format!("magnet:?xt=urn:btih:{}", b32.to_lowercase()))
                .unwrap()
                .v1,
            m.v1
        );
    }

    #[test]
    fn parses_hybrid_peers_and_so() {
        let v2 = "a".repeat(64);
        let s = format!("magnet:?xt=urn:btih:{HEX}&xt=urn:btmh:1220{v2}&x.pe=127.0.0.1:6881&x.pe=[::1]:5&so=0,2,4-6&foo=bar");
        let m = Magnet::parse(&s).unwrap();
        assert_eq!(m.v2.unwrap().to_hex(), v2);
        assert_eq!(m.peers, vec!["127.0.0.1:6881", "[::1]:5"]);
        assert_eq!(m.select_only, vec![0..=0, 2..=2, 4..=6]);
        let again = Magnet::parse(&m.to_string()).unwrap();
        assert_eq!(again, m);
    }

    #[test]
    fn round_trips_display() {
        let m = Magnet {
            v1: InfoHashV1::from_hex(HEX),
            v2: None,
            name: Some("a&b=c%d é".into()),
            trackers: vec!["http://x/announce?a=1&b=2".into()],
            web_seeds: vec!["http://w/f".into()],
            peers: vec![],
            select_only: vec![1..=3],
        };
        let s = m.to_string();
        assert!(s.starts_with(&format!("magnet:?xt=urn:btih:{HEX}&dn=")));
        assert_eq!(Magnet::parse(&s).unwrap(), m);
    }

    #[test]
    fn rejects_bad_links() {
        assert_eq!(Magnet::parse("http://x"), Err(MagnetError::NotMagnet));
        assert_eq!(Magnet::parse("magnet:?dn=x"), Err(MagnetError::NoInfoHash));
        assert!(matches!(
            Magnet::parse("magnet:?xt=urn:btih:abc"),
            Err(MagnetError::BadInfoHash(_))
        ));
        assert!(matches!(
            Magnet::parse(&format!("magnet:?xt=urn:btmh:1221{}", "a".repeat(64))),
            Err(MagnetError::BadInfoHash(_))
        ));
        assert!(matches!(
            Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&dn=%4")),
            Err(MagnetError::BadEncoding(_))
        ));
        assert!(matches!(
            Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&dn=%zz")),
            Err(MagnetError::BadEncoding(_))
        ));
        assert!(matches!(
            Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&so=5-2")),
            Err(MagnetError::BadSelectOnly(_))
        ));
        assert!(matches!(
            Magnet::parse(&format!(
                "magnet:?xt=urn:btih:{HEX}&xt=urn:btih:{}",
                "0".repeat(40)
            )),
            Err(MagnetError::ConflictingInfoHash(_))
        ));
        assert_eq!(
            Magnet::parse(&"x".repeat(MAX_MAGNET_LEN + 1)),
            Err(MagnetError::TooLong)
        );
    }
}
