//! QUIC transport (quinn 0.11, rustls with the ring provider).
//!
//! - ALPN `swarm/1`, TLS 1.3 only, mutual authentication with self-signed
//!   certificates (see [`super::cert`]): each side learns the other's
//!   certificate fingerprint.
//! - One bidirectional stream per peer connection, opened by the dialler,
//!   carrying exactly the BitTorrent byte protocol that TCP carries
//!   (68-byte handshake first, then length-prefixed messages). The
//!   dialler writes first, which is what makes the stream visible to the
//!   acceptor.
//! - Cipher: AES-GCM when both ends have AES instructions, otherwise
//!   ChaCha20-Poly1305 (a Raspberry Pi 4 has no AES instructions). Each
//!   side lists its suites in the order its CPU prefers
//!   (`cert::provider_for`); a server with AES follows the client's
//!   order, a server without insists on its own, so ChaCha20 is chosen
//!   whenever either end lacks AES.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::cert::{
    aes_hardware, fingerprint, provider_for, CertError, Fingerprint, Identity, SelfSignedVerifier,
};
use super::{NetError, PeerConn};
use crate::proto::TransportKind;

/// The ALPN protocol id of swarm over QUIC.
pub const ALPN: &[u8] = b"swarm/1";

/// A QUIC endpoint that both accepts and dials.
#[derive(Clone, Debug)]
pub struct QuicEndpoint {
    endpoint: quinn::Endpoint,
    identity: Arc<Identity>,
}

fn transport_config() -> Arc<quinn::TransportConfig> {
    let mut t = quinn::TransportConfig::default();
    t.max_idle_timeout(Some(
        Duration::from_secs(60)
            .try_into()
            .expect("60 s is a valid idle timeout"),
    ));
    t.keep_alive_interval(Some(Duration::from_secs(15)));
    // One peer connection uses one stream.
    t.max_concurrent_bidi_streams(4u32.into());
    t.max_concurrent_uni_streams(0u32.into());
    Arc::new(t)
}

/// The server's TLS config, for a CPU with or without AES instructions.
fn tls_server(id: &Identity, aes: bool) -> Result<rustls::ServerConfig, CertError> {
    let mut tls = rustls::ServerConfig::builder_with_provider(provider_for(aes))
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(SelfSignedVerifier::new(None))
        .with_single_cert(id.cert_chain(), id.key())?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    // Without AES instructions our own order (ChaCha20 first) wins.
    tls.ignore_client_order = !aes;
    Ok(tls)
}

/// The client's TLS config, for a CPU with or without AES instructions.
fn tls_client(
    id: &Identity,
    pin: Option<Fingerprint>,
    aes: bool,
) -> Result<rustls::ClientConfig, CertError> {
    let mut tls = rustls::ClientConfig::builder_with_provider(provider_for(aes))
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(SelfSignedVerifier::new(pin))
        .with_client_auth_cert(id.cert_chain(), id.key())?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    Ok(tls)
}

fn server_config(id: &Identity) -> Result<quinn::ServerConfig, CertError> {
    let tls = tls_server(id, aes_hardware())?;
    let q = quinn::crypto::rustls::QuicServerConfig::try_from(tls)
        .map_err(|e| CertError::Tls(rustls::Error::General(e.to_string())))?;
    let mut sc = quinn::ServerConfig::with_crypto(Arc::new(q));
    sc.transport_config(transport_config());
    Ok(sc)
}

fn client_config(
    id: &Identity,
    pin: Option<Fingerprint>,
) -> Result<quinn::ClientConfig, CertError> {
    let tls = tls_client(id, pin, aes_hardware())?;
    let q = quinn::crypto::rustls::QuicClientConfig::try_from(tls)
        .map_err(|e| CertError::Tls(rustls::Error::General(e.to_string())))?;
    let mut cc = quinn::ClientConfig::new(Arc::new(q));
    cc.transport_config(transport_config());
    Ok(cc)
}

fn peer_fingerprint(c: &quinn::Connection) -> Option<Fingerprint> {
    let any = c.peer_identity()?;
    let certs = any
        .downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>()
        .ok()?;
    certs.first().map(|c| fingerprint(c))
}

impl QuicEndpoint {
    /// Binds a UDP socket at `addr` (port 0: any free port).
    pub fn bind(addr: SocketAddr, identity: Arc<Identity>) -> Result<Self, NetError> {
        let sc = server_config(&identity)?;
        let endpoint = quinn::Endpoint::server(sc, addr).map_err(|e| NetError::Bind {
            addr,
            transport: "QUIC",
            source: e,
        })?;
        Ok(QuicEndpoint { endpoint, identity })
    }

    /// The bound UDP address.
    pub fn local_addr(&self) -> Result<SocketAddr, NetError> {
        self.endpoint.local_addr().map_err(NetError::Io)
    }

    /// Our certificate fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        self.identity.fingerprint()
    }

    /// Dials `addr` and opens the peer stream. With `pin`, the server's
    /// certificate must have that fingerprint.
    pub async fn connect(
        &self,
        addr: SocketAddr,
        pin: Option<Fingerprint>,
    ) -> Result<PeerConn, NetError> {
        let cc = client_config(&self.identity, pin)?;
        let connecting =
            self.endpoint
                .connect_with(cc, addr, "swarm")
                .map_err(|e| NetError::Quic {
                    addr,
                    msg: e.to_string(),
                })?;
        let conn = connecting.await.map_err(|e| NetError::Quic {
            addr,
            msg: e.to_string(),
        })?;
        let (send, recv) = conn.open_bi().await.map_err(|e| NetError::Quic {
            addr,
            msg: e.to_string(),
        })?;
        Ok(PeerConn {
            reader: Box::new(recv),
            writer: Box::new(send),
            addr,
            transport: TransportKind::Quic,
            fingerprint: peer_fingerprint(&conn),
            quic: Some(conn),
        })
    }

    /// Waits for the next incoming connection attempt. Returns `None` once
    /// the endpoint is closed. Complete it with [`QuicIncoming::accept`]
    /// (in its own task, so a slow peer does not hold up the others).
    pub async fn accept(&self) -> Option<QuicIncoming> {
        self.endpoint
            .accept()
            .await
            .map(|incoming| QuicIncoming { incoming })
    }

    /// Closes every connection and the socket.
    pub fn close(&self) {
        self.endpoint.close(0u32.into(), b"shutdown");
    }
}

/// An incoming QUIC connection attempt.
#[derive(Debug)]
pub struct QuicIncoming {
    incoming: quinn::Incoming,
}

impl QuicIncoming {
    /// The remote address.
    pub fn remote_address(&self) -> SocketAddr {
        self.incoming.remote_address()
    }

    /// Completes the TLS handshake and waits for the peer's stream.
    pub async fn accept(self) -> Result<PeerConn, NetError> {
        let addr = self.incoming.remote_address();
        let err = |e: &dyn std::fmt::Display| NetError::Quic {
            addr,
            msg: e.to_string(),
        };
        let conn = self.incoming.await.map_err(|e| err(&e))?;
        let (send, recv) = conn.accept_bi().await.map_err(|e| err(&e))?;
        Ok(PeerConn {
            reader: Box::new(recv),
            writer: Box::new(send),
            addr,
            transport: TransportKind::Quic,
            fingerprint: peer_fingerprint(&conn),
            quic: Some(conn),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::quic::{ClientConnection, Connection, ServerConnection, Version};
    use rustls::CipherSuite;

    /// Moves handshake bytes from `from` to `to` up to the next key change.
    fn step(from: &mut Connection, to: &mut Connection) {
        let mut buf = Vec::new();
        loop {
            let before = buf.len();
            if from.write_hs(&mut buf).is_some() || buf.len() == before {
                break;
            }
        }
        if !buf.is_empty() {
            to.read_hs(&buf).expect("handshake bytes accepted");
        }
    }

    /// The suite a QUIC-TLS handshake between our two configs settles on,
    /// run in memory with the very configs quinn gets.
    fn negotiated(client_aes: bool, server_aes: bool) -> CipherSuite {
        let (a, b) = (Identity::generate().unwrap(), Identity::generate().unwrap());
        let params = b"transport parameters".to_vec();
        let client = tls_client(&a, Some(b.fingerprint()), client_aes).unwrap();
        let server = tls_server(&b, server_aes).unwrap();
        // quinn accepts both configs (AES-128-GCM is there for Initial packets)
        assert!(quinn::crypto::rustls::QuicClientConfig::try_from(client.clone()).is_ok());
        assert!(quinn::crypto::rustls::QuicServerConfig::try_from(server.clone()).is_ok());
        let name = rustls::pki_types::ServerName::try_from("swarm").unwrap();
        let mut c = Connection::Client(
            ClientConnection::new(Arc::new(client), Version::V1, name, params.clone()).unwrap(),
        );
        let mut s = Connection::Server(
            ServerConnection::new(Arc::new(server), Version::V1, params).unwrap(),
        );
        for _ in 0..16 {
            if !c.is_handshaking() && !s.is_handshaking() {
                break;
            }
            step(&mut c, &mut s);
            step(&mut s, &mut c);
        }
        assert!(
            !c.is_handshaking() && !s.is_handshaking(),
            "handshake stuck"
        );
        let (cs, ss) = (
            c.negotiated_cipher_suite().unwrap().suite(),
            s.negotiated_cipher_suite().unwrap().suite(),
        );
        assert_eq!(cs, ss);
        cs
    }

    #[test]
    fn chacha20_unless_both_ends_have_aes_instructions() {
        let chacha = CipherSuite::TLS13_CHACHA20_POLY1305_SHA256;
        let aes = negotiated(true, true);
        assert!(
            [
                CipherSuite::TLS13_AES_256_GCM_SHA384,
                CipherSuite::TLS13_AES_128_GCM_SHA256
            ]
            .contains(&aes),
            "{aes:?}"
        );
        assert_eq!(negotiated(false, true), chacha, "client without AES");
        assert_eq!(negotiated(true, false), chacha, "server without AES");
        assert_eq!(negotiated(false, false), chacha, "neither has AES");
    }

    #[test]
    fn provider_order_follows_the_cpu() {
        let first = |aes| provider_for(aes).cipher_suites[0].suite();
        assert_eq!(first(false), CipherSuite::TLS13_CHACHA20_POLY1305_SHA256);
        assert_ne!(first(true), CipherSuite::TLS13_CHACHA20_POLY1305_SHA256);
        // this machine: printed for the record (cargo test -- --nocapture)
        println!("this CPU has AES instructions: {}", aes_hardware());
    }
}
