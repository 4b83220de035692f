//! Self-signed identities and the rustls verifiers used by the QUIC
//! transport.
//!
//! Every swarm node makes a fresh self-signed certificate (rcgen, ECDSA
//! P-256) when it starts. There is no certificate authority: a peer is
//! identified by the SHA-256 **fingerprint** of its certificate's DER
//! bytes. Both sides present a certificate (mutual TLS), so each side
//! learns the other's fingerprint. The verifiers here accept any
//! well-formed certificate whose handshake signature checks out (which
//! proves the peer holds the private key), and can optionally *pin* an
//! expected fingerprint: a certificate with another fingerprint is then
//! refused.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CipherSuite, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use sha2::{Digest, Sha256};

/// SHA-256 of a certificate's DER encoding.
pub type Fingerprint = [u8; 32];

/// Fingerprint of a DER certificate.
pub fn fingerprint(cert: &[u8]) -> Fingerprint {
    Sha256::digest(cert).into()
}

/// Why making an identity failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// Generating the self-signed certificate failed.
    #[error("generating a self-signed certificate")]
    Generate(#[from] rcgen::Error),
    /// Building the TLS configuration failed.
    #[error("setting up TLS")]
    Tls(#[from] rustls::Error),
}

/// Our certificate and its private key.
pub struct Identity {
    cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
    fingerprint: Fingerprint,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("fingerprint", &hex::encode(self.fingerprint))
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// A fresh self-signed certificate for the name `swarm`.
    pub fn generate() -> Result<Self, CertError> {
        let ck = rcgen::generate_simple_self_signed(vec!["swarm".to_string()])?;
        let cert = ck.cert.der().clone();
        let key = PrivatePkcs8KeyDer::from(ck.key_pair.serialize_der());
        let fingerprint = fingerprint(&cert);
        Ok(Identity {
            cert,
            key,
            fingerprint,
        })
    }
    /// Our fingerprint, as peers see it.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }
    pub(crate) fn cert_chain(&self) -> Vec<CertificateDer<'static>> {
        vec![self.cert.clone()]
    }
    pub(crate) fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key.clone_key())
    }
}

/// Does this CPU have AES instructions, with the carry-less multiply that
/// AES-GCM's GHASH needs (x86: AES-NI and PCLMULQDQ; ARMv8: AES and PMULL)?
/// Without them ring computes AES-GCM in constant-time software, several
/// times slower than ChaCha20-Poly1305; the Raspberry Pi 4's Cortex-A72 is
/// such a CPU (the Pi 5's Cortex-A76 has them).
pub fn aes_hardware() -> bool {
    #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
    {
        std::arch::is_x86_feature_detected!("aes")
            && std::arch::is_x86_feature_detected!("pclmulqdq")
    }
    #[cfg(target_arch = "aarch64")]
    {
        // Rust's "aes" feature on aarch64 is FEAT_AES together with PMULL.
        std::arch::is_aarch64_feature_detected!("aes")
    }
    #[cfg(all(target_arch = "arm", target_os = "linux"))]
    {
        // ARMv8 in AArch32 state (a 32-bit OS on a Pi 3/4/5): the kernel's
        // hwcaps; AT_HWCAP2 bit 0 is AES, bit 1 PMULL.
        // SAFETY: getauxval has no preconditions.
        let caps = unsafe { libc::getauxval(libc::AT_HWCAP2) };
        caps & 0b11 == 0b11
    }
    #[cfg(not(any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64",
        all(target_arch = "arm", target_os = "linux")
    )))]
    {
        false
    }
}

/// The ring crypto provider (never aws-lc-rs) for this CPU; see
/// [`provider_for`].
pub(crate) fn provider() -> Arc<CryptoProvider> {
    provider_for(aes_hardware())
}

/// The ring provider with its TLS 1.3 suites in our order of preference:
/// AES-256-GCM, AES-128-GCM, ChaCha20-Poly1305 (ring's default) when the
/// CPU has AES instructions, ChaCha20-Poly1305 first when it has not.
/// AES-128-GCM stays in the list either way: QUIC's Initial packets use it.
pub(crate) fn provider_for(aes_hardware: bool) -> Arc<CryptoProvider> {
    let mut p = rustls::crypto::ring::default_provider();
    if !aes_hardware {
        // stable: the AES suites keep their order behind ChaCha20
        p.cipher_suites
            .sort_by_key(|s| s.suite() != CipherSuite::TLS13_CHACHA20_POLY1305_SHA256);
    }
    Arc::new(p)
}

/// Accepts any self-signed certificate (optionally only one with a pinned
/// fingerprint), checking handshake signatures with ring.
#[derive(Debug)]
pub(crate) struct SelfSignedVerifier {
    provider: Arc<CryptoProvider>,
    pin: Option<Fingerprint>,
}

impl SelfSignedVerifier {
    pub(crate) fn new(pin: Option<Fingerprint>) -> Arc<Self> {
        Arc::new(SelfSignedVerifier {
            provider: provider(),
            pin,
        })
    }
    fn check(&self, end_entity: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        match self.pin {
            Some(pin) if fingerprint(end_entity) != pin => Err(rustls::Error::General(format!(
                "peer certificate fingerprint {} is not the expected {}",
                hex::encode(fingerprint(end_entity)),
                hex::encode(pin)
            ))),
            _ => Ok(()),
        }
    }
    fn sig12(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn sig13(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

impl ServerCertVerifier for SelfSignedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity)?;
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.sig12(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.sig13(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes()
    }
}

impl ClientCertVerifier for SelfSignedVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }
    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity)?;
        Ok(ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.sig12(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.sig13(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_differ_and_fingerprint_is_sha256_of_der() {
        let a = Identity::generate().unwrap();
        let b = Identity::generate().unwrap();
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint(), fingerprint(&a.cert_chain()[0]));
    }

    #[test]
    fn pin_refuses_other_certificates() {
        let a = Identity::generate().unwrap();
        let b = Identity::generate().unwrap();
        let v = SelfSignedVerifier::new(Some(a.fingerprint()));
        assert!(v.check(&a.cert_chain()[0]).is_ok());
        let err = v.check(&b.cert_chain()[0]).unwrap_err();
        assert!(err.to_string().contains("not the expected"), "{err}");
        assert!(SelfSignedVerifier::new(None)
            .check(&b.cert_chain()[0])
            .is_ok());
    }
}
