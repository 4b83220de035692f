//! Announce the patron web page on the LAN as a DNS-SD `_http._tcp`
//! service, so that phones and laptops list it ("Infoshop library on
//! pi-3f2a") without typing an address.

use std::time::Duration;

use mdns_sd::{ServiceDaemon, ServiceInfo};

/// The DNS-SD service type of the web page.
pub const HTTP_SERVICE: &str = "_http._tcp.local.";

/// A registered `_http._tcp` service; dropping it says goodbye.
pub struct HttpAdvert {
    daemon: ServiceDaemon,
    fullname: String,
}

/// Why the service could not be announced.
#[derive(Debug, thiserror::Error)]
#[error("mDNS: {0}")]
pub struct AdvertError(#[from] mdns_sd::Error);

fn host_label() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is writable for its length.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let name = if ok {
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        String::new()
    };
    let clean: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' })
        .take(40)
        .collect();
    if clean.is_empty() {
        "seedbox".into()
    } else {
        clean
    }
}

impl HttpAdvert {
    /// Register `title` on port `port` (path `/`).
    pub fn start(title: &str, port: u16) -> Result<HttpAdvert, AdvertError> {
        let daemon = ServiceDaemon::new()?;
        let host = host_label();
        let suffix = hex::encode(rand::random::<[u8; 2]>());
        let label: String = title
            .chars()
            .map(|c| if c.is_control() || c == '.' { '-' } else { c })
            .take(40)
            .collect();
        let instance = format!("{label} on {host}-{suffix}");
        let hostname = format!("{host}-{suffix}.local.");
        let props = [("path", "/")];
        let info = ServiceInfo::new(HTTP_SERVICE, &instance, &hostname, "", port, &props[..])?
            .enable_addr_auto();
        let fullname = info.get_fullname().to_string();
        daemon.register(info)?;
        Ok(HttpAdvert { daemon, fullname })
    }

    /// The full service name.
    pub fn fullname(&self) -> &str {
        &self.fullname
    }
}

impl Drop for HttpAdvert {
    fn drop(&mut self) {
        if let Ok(rx) = self.daemon.unregister(&self.fullname) {
            let _ = rx.recv_timeout(Duration::from_millis(500));
        }
        let _ = self.daemon.shutdown();
    }
}
