//! BEP 6 fast extension helpers: the canonical allowed-fast set.
//!
//! The fast messages themselves (have all/none, suggest, reject, allowed
//! fast; ids 13-17) are framed by [`super::codec`].
//!
//! # Algorithm (BEP 6)
//!
//! ```text
//! x = (ip & 0xFFFFFF00) as 4 bytes BE ++ info_hash (20 bytes)
//! while |a| < k:
//!     x = SHA1(x)
//!     for i in 0..5 while |a| < k:
//!         index = u32_be(x[4i..4i+4]) % num_pieces
//!         if index not in a: a.push(index)
//! ```
//!
//! BEP 6 only defines IPv4. For IPv6 we use the /48 prefix (16 bytes, the
//! rest zeroed) the same way; the set is ours to choose, so this does not
//! affect interoperability.

use std::net::IpAddr;

use sha1::{Digest, Sha1};

/// Largest set [`allowed_fast_set`] computes.
pub const MAX_ALLOWED_FAST: u32 = 256;

/// The `k` pieces (in generation order) a peer at `ip` may request while
/// choked, per BEP 6. `k` is capped at `num_pieces` and
/// [`MAX_ALLOWED_FAST`]; an empty torrent gives an empty set.
///
/// Always terminates: the number of SHA-1 rounds is bounded, so for an
/// unlucky draw the set may (in theory) come out smaller than `k`.
pub fn allowed_fast_set(ip: IpAddr, info_hash: &[u8; 20], num_pieces: u32, k: u32) -> Vec<u32> {
    let k = k.min(num_pieces).min(MAX_ALLOWED_FAST) as usize;
    let mut out = Vec::with_capacity(k);
    if k == 0 {
        return out;
    }
    let mut x: Vec<u8> = match ip {
        IpAddr::V4(v4) => (u32::from(v4) & 0xFFFF_FF00).to_be_bytes().to_vec(),
        IpAddr::V6(v6) => {
            let mut b = v6.octets();
            b[6..].fill(0);
            b.to_vec()
        }
    };
    x.extend_from_slice(info_hash);
    // Each round yields 5 candidates; collecting k distinct out of n >= k
    // needs far fewer than this many rounds except with negligible
    // probability.
    let max_rounds = 64 + 64 * k;
    for _ in 0..max_rounds {
        let digest = Sha1::digest(&x);
        x.clear();
        x.extend_from_slice(&digest);
        for chunk in digest.chunks_exact(4) {
            if out.len() >= k {
                return out;
            }
            let y = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            let index = y % num_pieces;
            if !out.contains(&index) {
                out.push(index);
            }
        }
        if out.len() >= k {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const IP: IpAddr = IpAddr::V4(Ipv4Addr::new(80, 4, 4, 200));

    #[test]
    fn bep6_vectors() {
        let ih = [0xaa; 20];
        assert_eq!(
            allowed_fast_set(IP, &ih, 1313, 7),
            vec![1059, 431, 808, 1217, 287, 376, 1188]
        );
        assert_eq!(
            allowed_fast_set(IP, &ih, 1313, 9),
            vec![1059, 431, 808, 1217, 287, 376, 1188, 353, 508]
        );
        // Same /24 gives the same set.
        let same = IpAddr::V4(Ipv4Addr::new(80, 4, 4, 1));
        assert_eq!(
            allowed_fast_set(same, &ih, 1313, 9),
            allowed_fast_set(IP, &ih, 1313, 9)
        );
    }

    #[test]
    fn small_and_empty_torrents() {
        let ih = [1; 20];
        assert!(allowed_fast_set(IP, &ih, 0, 10).is_empty());
        assert!(allowed_fast_set(IP, &ih, 10, 0).is_empty());
        assert_eq!(allowed_fast_set(IP, &ih, 1, 10), vec![0]);
        let mut all = allowed_fast_set(IP, &ih, 5, 10);
        all.sort();
        assert_eq!(all, vec![0, 1, 2, 3, 4]);
        let big = allowed_fast_set(IP, &ih, u32::MAX, u32::MAX);
        assert_eq!(big.len(), MAX_ALLOWED_FAST as usize);
    }

    #[test]
    fn ipv6_prefix() {
        let ih = [2; 20];
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:2::1".parse().unwrap();
        let sa = allowed_fast_set(a, &ih, 100_000, 10);
        assert_eq!(sa.len(), 10);
        assert_eq!(sa, allowed_fast_set(b, &ih, 100_000, 10));
        assert_ne!(sa, allowed_fast_set(c, &ih, 100_000, 10));
    }
}
