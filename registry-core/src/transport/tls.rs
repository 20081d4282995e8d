//! The TLS configuration of a transport: trusted roots (webpki's, the system's and the user's), the server
//! certificate check, and the client identity for mutual TLS.
//!
//! A certificate the user trusts explicitly ([`TransportConfig::root_certificates`]) may also be the server's own
//! certificate, as a self-signed certificate made with `openssl req -x509` is (it says `CA:TRUE`, which WebPKI
//! refuses in a server certificate: `CaUsedAsEndEntity`). Such a certificate is accepted only when the server
//! presents exactly it (the same DER) and every other check passes: its validity period (WebPKI checks it before
//! the CA flag, so a refusal for the CA flag means the period is fine), the server name or IP address in its
//! subject alternative names, and the handshake signature made with its key.

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::config::TransportConfig;
use crate::error::{Error, Result};

/// The rustls client configuration for `config`: its roots, its certificate check (or none with
/// `tls_skip_verify`), its client identity, and ALPN for HTTP/2 and HTTP/1.1. Invalid PEM is `InvalidInput`,
/// without the PEM's content in the message.
pub(crate) fn client_config(config: &TransportConfig) -> Result<rustls::ClientConfig> {
    let provider =
        CryptoProvider::get_default().cloned().unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let explicit = explicit_roots(&config.root_certificates)?;
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::invalid_input(format!("cannot set up TLS: {e}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = if config.tls_skip_verify {
        Arc::new(AnyCertificate { provider })
    } else {
        let mut roots = RootCertStore::clone(system_roots());
        for (i, cert) in explicit.iter().enumerate() {
            roots.add(cert.clone()).map_err(|e| {
                Error::invalid_input(format!("root certificate #{} is not a valid certificate: {e}", i + 1))
            })?;
        }
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| Error::invalid_input(format!("cannot set up certificate verification: {e}")))?;
        Arc::new(ExplicitTrust { webpki, explicit })
    };
    let builder = builder.dangerous().with_custom_certificate_verifier(verifier);
    let mut tls = match &config.client_identity {
        None => builder.with_no_client_auth(),
        Some(identity) => {
            let (chain, key) = client_identity(identity.expose().as_bytes())?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                Error::invalid_input(format!("client identity: its private key cannot be used: {}", short(&e)))
            })?
        }
    };
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tls)
}

/// webpki's roots and the system's, read once per process: every client (one per registry host in a sync job)
/// shares them instead of reading and parsing the system store again (tens of milliseconds each time).
fn system_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let native = rustls_native_certs::load_native_certs();
        // Like reqwest: system stores often hold certificates WebPKI cannot parse; skip those.
        let (added, ignored) = roots.add_parsable_certificates(native.certs);
        tracing::trace!(added, ignored, "system root certificates");
        roots
    })
}

/// The certificates of each PEM in `pems`, in order; a PEM without any is an error.
fn explicit_roots(pems: &[Vec<u8>]) -> Result<Vec<CertificateDer<'static>>> {
    let mut out = Vec::new();
    for (i, pem) in pems.iter().enumerate() {
        let certs = CertificateDer::pem_slice_iter(pem).collect::<std::result::Result<Vec<_>, _>>().map_err(|e| {
            Error::invalid_input(format!("root certificate #{} is not valid PEM: {}", i + 1, short(&e)))
        })?;
        if certs.is_empty() {
            return Err(Error::invalid_input(format!("root certificate #{} holds no certificate", i + 1)));
        }
        out.extend(certs);
    }
    Ok(out)
}

/// The certificate chain and private key of a client identity PEM.
fn client_identity(pem: &[u8]) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let bad = |why: String| {
        Error::invalid_input(format!("client identity is not a PEM certificate with its PKCS#8 private key: {why}"))
    };
    let chain =
        CertificateDer::pem_slice_iter(pem).collect::<std::result::Result<Vec<_>, _>>().map_err(|e| bad(short(&e)))?;
    if chain.is_empty() {
        return Err(bad("no certificate".to_string()));
    }
    let key = PrivateKeyDer::from_pem_slice(pem).map_err(|e| bad(short(&e)))?;
    Ok((chain, key))
}

/// An error's message cut before anything that looks like PEM or base64 content, so no key material is shown.
fn short(e: &dyn std::fmt::Display) -> String {
    let message = e.to_string();
    let cut = message.find("-----").or_else(|| message.find('[')).unwrap_or(message.len());
    message[..cut].trim_end().trim_end_matches(':').to_string()
}

/// Whether `error` is WebPKI refusing a CA certificate as the server's certificate.
fn ca_used_as_end_entity(error: &rustls::Error) -> bool {
    match error {
        rustls::Error::InvalidCertificate(CertificateError::Other(other)) => {
            other.0.downcast_ref::<webpki::Error>().is_some_and(|e| matches!(e, webpki::Error::CaUsedAsEndEntity))
        }
        _ => false,
    }
}

/// The standard WebPKI check, plus: a certificate trusted explicitly is accepted as the server's own when the
/// server presents exactly it, even though it is a CA certificate, with its name and validity still checked.
#[derive(Debug)]
struct ExplicitTrust {
    webpki: Arc<WebPkiServerVerifier>,
    /// The certificates the user trusts explicitly, DER.
    explicit: Vec<CertificateDer<'static>>,
}

impl ServerCertVerifier for ExplicitTrust {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self.webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(e) if ca_used_as_end_entity(&e) && self.explicit.iter().any(|c| c.as_ref() == end_entity.as_ref()) => {
                // WebPKI checked the validity period before it refused the CA flag; the name is checked here.
                let parsed = ParsedCertificate::try_from(end_entity)?;
                rustls::client::verify_server_name(&parsed, server_name)?;
                tracing::debug!("server presented a certificate trusted explicitly");
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// `tls_skip_verify`: any server certificate is accepted; the handshake signature is still checked with the
/// certificate's key (it proves nothing about who the server is, but a broken handshake stays broken).
#[derive(Debug)]
struct AnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}
