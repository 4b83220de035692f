//! Where patrons reach the page: the LAN addresses of a listening socket
//! (what `seedbox run` prints instead of `0.0.0.0`) and a QR code of one of
//! them for the admin page, to print and pin up.

use std::net::{IpAddr, SocketAddr};

/// The URLs of the page served on `bound`, best first: when it listens on
/// every address (`0.0.0.0` / `::`), one per LAN address of this machine
/// (IPv4 first, link-local IPv6 left out: it needs a zone to be reached),
/// and loopback only when there is nothing else; otherwise `bound` itself.
pub fn page_urls(bound: SocketAddr) -> Vec<String> {
    let ips = if bound.ip().is_unspecified() {
        let mut ips: Vec<IpAddr> = if_addrs::get_if_addrs()
            .unwrap_or_default()
            .into_iter()
            .map(|i| i.ip())
            .filter(|ip| bound.is_ipv6() || ip.is_ipv4())
            .collect();
        lan_first(&mut ips);
        ips
    } else {
        vec![bound.ip()]
    };
    ips.into_iter()
        .map(|ip| url(SocketAddr::new(ip, bound.port())))
        .collect()
}

/// Orders addresses for people to type or scan: usable LAN addresses
/// (IPv4 before IPv6) first; loopback and link-local IPv6 are dropped
/// unless nothing else is left, then loopback alone.
fn lan_first(ips: &mut Vec<IpAddr>) {
    let usable = |ip: &IpAddr| match ip {
        IpAddr::V4(v4) => !v4.is_loopback() && !v4.is_unspecified(),
        IpAddr::V6(v6) => {
            !v6.is_loopback() && !v6.is_unspecified() && (v6.segments()[0] & 0xffc0) != 0xfe80
        }
    };
    let any_usable = ips.iter().any(usable);
    ips.retain(|ip| {
        if any_usable {
            usable(ip)
        } else {
            ip.is_loopback()
        }
    });
    ips.sort_by_key(|ip| (ip.is_ipv6(), *ip));
    ips.dedup();
}

/// `http://ip:port/` (IPv6 in brackets, port 80 left out).
fn url(a: SocketAddr) -> String {
    let host = match a.ip() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    };
    if a.port() == 80 {
        format!("http://{host}/")
    } else {
        format!("http://{host}:{}/", a.port())
    }
}

/// A QR code of `text` as an inline SVG element (black on white, with
/// its quiet zone), or `None` if the text is too long for a QR code.
pub fn qr_svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    // Inline in HTML: without the XML declaration.
    let start = svg.find("<svg")?;
    Some(svg[start..].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let a: SocketAddr = "192.168.1.5:8080".parse().unwrap();
        assert_eq!(page_urls(a), ["http://192.168.1.5:8080/"]);
        let a: SocketAddr = "[fd00::5]:80".parse().unwrap();
        assert_eq!(page_urls(a), ["http://[fd00::5]/"]);
        // Every address: never 0.0.0.0; loopback only when alone.
        let a: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let urls = page_urls(a);
        assert!(!urls.is_empty());
        assert!(urls.iter().all(|u| !u.contains("0.0.0.0")), "{urls:?}");
        let mut ips: Vec<IpAddr> = ["127.0.0.1", "fe80::1", "10.0.0.2", "192.168.1.9", "::1"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        lan_first(&mut ips);
        assert_eq!(
            ips,
            [
                "10.0.0.2".parse::<IpAddr>().unwrap(),
                "192.168.1.9".parse().unwrap()
            ]
        );
        let mut ips: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap(), "fe80::1".parse().unwrap()];
        lan_first(&mut ips);
        assert_eq!(ips, ["127.0.0.1".parse::<IpAddr>().unwrap()]);
    }
}
