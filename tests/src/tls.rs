//! A throwaway public-key infrastructure for TLS tests, made with `rcgen`.
//!
//! [`TestPki::new`] creates two certificate authorities, each with a fresh ECDSA P-256 key:
//! - the server CA, which signs the server certificate (for `127.0.0.1` and `localhost`): clients trust it with
//!   [`TestPki::ca_pem`];
//! - the client CA, which signs client identities for mutual TLS ([`TestPki::client_identity`]): a server requiring
//!   client certificates trusts it with [`TestPki::client_ca_pem`].
//!
//! Nothing is written to disk here; the registry harness writes what it needs into its temporary directory.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};

/// Numbers the CAs made by this process, so every CA has its own name, as distinct CAs do.
static CA_SERIAL: AtomicUsize = AtomicUsize::new(1);

/// The names the server certificate is valid for.
pub const SERVER_NAMES: &[&str] = &["127.0.0.1", "localhost"];

/// A certificate authority: its certificate and what it signs with.
struct Authority {
    name: String,
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Authority {
    fn new(name: &str) -> Authority {
        let key = KeyPair::generate().unwrap_or_else(|e| panic!("generate key of {name}: {e}"));
        let mut params =
            CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| panic!("params of {name}: {e}"));
        params.distinguished_name.push(DnType::CommonName, name);
        params.distinguished_name.push(DnType::OrganizationName, "registry-tests");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let cert = params.self_signed(&key).unwrap_or_else(|e| panic!("self-sign {name}: {e}"));
        Authority { name: name.to_owned(), cert_pem: cert.pem(), issuer: Issuer::new(params, key) }
    }

    /// A leaf certificate for `names` (subject alternative names) with extended key usage `usage`, and its key.
    fn sign(&self, common_name: &str, names: &[&str], usage: ExtendedKeyUsagePurpose) -> (String, String) {
        let key = KeyPair::generate().unwrap_or_else(|e| panic!("generate key of {common_name}: {e}"));
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap_or_else(|e| panic!("params of {common_name}: {e}"));
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        let cert = params
            .signed_by(&key, &self.issuer)
            .unwrap_or_else(|e| panic!("sign {common_name} with {}: {e}", self.name));
        (cert.pem(), key.serialize_pem())
    }
}

/// A server CA with a server certificate for `127.0.0.1` / `localhost`, and a client CA for mutual TLS.
///
/// Every `TestPki` is independent: a certificate from one is not trusted by another.
pub struct TestPki {
    ca: Authority,
    client_ca: Authority,
    server_cert_pem: String,
    server_key_pem: String,
}

impl fmt::Debug for TestPki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestPki")
            .field("ca", &self.ca.name)
            .field("client_ca", &self.client_ca.name)
            .field("server_names", &SERVER_NAMES)
            .finish_non_exhaustive()
    }
}

impl Default for TestPki {
    fn default() -> TestPki {
        TestPki::new()
    }
}

impl TestPki {
    /// Fresh CAs and a fresh server certificate (valid from 1975 to 4096, so clocks never matter).
    ///
    /// # Panics
    /// If `rcgen` fails to generate or sign (it does not with these fixed parameters).
    pub fn new() -> TestPki {
        let n = CA_SERIAL.fetch_add(1, Ordering::Relaxed);
        let ca = Authority::new(&format!("registry-tests CA {n}"));
        let client_ca = Authority::new(&format!("registry-tests client CA {n}"));
        let (server_cert_pem, server_key_pem) =
            ca.sign("registry-tests server", SERVER_NAMES, ExtendedKeyUsagePurpose::ServerAuth);
        TestPki { ca, client_ca, server_cert_pem, server_key_pem }
    }

    /// The server CA certificate (PEM): what a client adds with `root_certificate_pem`.
    pub fn ca_pem(&self) -> &str {
        &self.ca.cert_pem
    }

    /// The server certificate (PEM), signed by the server CA, for `127.0.0.1` and `localhost`.
    pub fn server_cert_pem(&self) -> &str {
        &self.server_cert_pem
    }

    /// The server's PKCS#8 private key (PEM).
    pub fn server_key_pem(&self) -> &str {
        &self.server_key_pem
    }

    /// A server certificate and key (PEM) for other `names`, signed by the same server CA.
    pub fn server_certificate_for(&self, names: &[&str]) -> (String, String) {
        self.ca.sign("registry-tests server", names, ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// The client CA certificate (PEM): what a server requiring client certificates trusts.
    pub fn client_ca_pem(&self) -> &str {
        &self.client_ca.cert_pem
    }

    /// A new client identity with common name `name`, signed by the client CA: the certificate followed by its
    /// PKCS#8 private key, both PEM, as `client_identity_pem` takes it.
    pub fn client_identity(&self, name: &str) -> String {
        let (cert, key) = self.client_ca.sign(name, &[], ExtendedKeyUsagePurpose::ClientAuth);
        format!("{cert}{key}")
    }
}

/// A self-signed server certificate as `openssl req -x509 -newkey ec ... -subj /CN=localhost -addext
/// subjectAltName=IP:127.0.0.1` makes it: `CA:TRUE` (basic constraints), no key usage or extended key usage, for
/// the subject alternative names `names` (IP addresses or DNS names). What a client trusts explicitly (the
/// certificate itself is the root) and the server serves.
#[derive(Debug)]
pub struct SelfSigned {
    /// The certificate (PEM).
    pub cert_pem: String,
    /// Its PKCS#8 private key (PEM).
    pub key_pem: String,
}

impl SelfSigned {
    /// A fresh key and certificate for `names`, valid from 1975 to 4096.
    ///
    /// # Panics
    /// If `rcgen` fails to generate or sign.
    pub fn new(names: &[&str]) -> SelfSigned {
        SelfSigned::valid_until(names, 4096)
    }

    /// Like [`SelfSigned::new`], but expired: valid from 2000 to the end of 2001.
    pub fn expired(names: &[&str]) -> SelfSigned {
        SelfSigned::valid_until(names, 2001)
    }

    fn valid_until(names: &[&str], last_year: i32) -> SelfSigned {
        let key = KeyPair::generate().unwrap_or_else(|e| panic!("generate self-signed key: {e}"));
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap_or_else(|e| panic!("self-signed params: {e}"));
        params.distinguished_name.push(DnType::CommonName, "localhost");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        if last_year < 4096 {
            params.not_before = rcgen::date_time_ymd(2000, 1, 1);
            params.not_after = rcgen::date_time_ymd(last_year, 12, 31);
        }
        let cert = params.self_signed(&key).unwrap_or_else(|e| panic!("self-sign: {e}"));
        SelfSigned { cert_pem: cert.pem(), key_pem: key.serialize_pem() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pems_have_the_expected_blocks() {
        let pki = TestPki::new();
        assert!(pki.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(pki.client_ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        assert_ne!(pki.ca_pem(), pki.client_ca_pem());
        assert!(pki.server_cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(pki.server_key_pem().starts_with("-----BEGIN PRIVATE KEY-----"));
        let identity = pki.client_identity("alice");
        assert_eq!(identity.matches("-----BEGIN CERTIFICATE-----").count(), 1);
        assert_eq!(identity.matches("-----BEGIN PRIVATE KEY-----").count(), 1);
        assert_ne!(identity, pki.client_identity("alice"), "every identity has its own key");
        let shown = format!("{pki:?}");
        assert!(!shown.contains("PRIVATE"), "{shown}");
    }
}
