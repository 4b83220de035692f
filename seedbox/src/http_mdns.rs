//! Announce the patron web page on the LAN as a DNS-SD `_http._tcp`
//! service, so that phones and laptops list it ("Infoshop library on
//! pi-3f2a") without typing an address.

use swarm::discovery::mdns::{Advertiser, MdnsError};

/// The DNS-SD service type of the web page.
pub const HTTP_SERVICE: &str = "_http._tcp.local.";

/// Register `title` on port `port` (path `/`); dropping the returned
/// advertiser says goodbye.
pub fn advertise(title: &str, port: u16) -> Result<Advertiser, MdnsError> {
    Advertiser::start_service(HTTP_SERVICE, title, port, &[("path".into(), "/".into())])
}
