//! A test token issuer for the distribution registry's token authentication.
//!
//! [`TokenIssuer`] holds an ECDSA P-256 key with a self-signed certificate
//! (give [`TokenIssuer::cert_pem`] to the registry as `rootcertbundle`) and a
//! list of users. [`TokenIssuer::start`] serves `GET /token` (Basic credentials:
//! a password, or an identity token as password) and the OAuth2 `POST /token`
//! password and refresh-token grants (unless told to refuse POST) on a
//! [`TestServer`], answering with ES256 JWTs whose `kid` is the libtrust key id
//! of the signing key.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::http::{parse_form, TestRequest, TestResponse, TestServer};

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `pull` on every repository.
    Pull,
    /// `pull` and `push` on every repository.
    PullPush,
    /// Everything: `pull`, `push`, `delete`, `*` on every repository, and
    /// `registry:catalog:*`.
    All,
}

impl Access {
    /// Whether `action` on a resource of `resource_type` is allowed.
    pub fn allows(self, resource_type: &str, action: &str) -> bool {
        match self {
            Access::All => true,
            Access::Pull => resource_type == "repository" && action == "pull",
            Access::PullPush => resource_type == "repository" && (action == "pull" || action == "push"),
        }
    }
}

/// One parsed scope: `type:name:action,action`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// Resource type, e.g. `repository` or `registry`.
    pub resource_type: String,
    /// Resource name, e.g. `library/alpine` or `catalog`.
    pub name: String,
    /// Requested (or granted) actions, e.g. `pull`, `push`, `*`.
    pub actions: Vec<String>,
}

impl Scope {
    /// Parses `type:name:actions`; the name may itself contain `:` (a
    /// registry host with a port), so the type ends at the first colon and
    /// the actions start after the last one.
    pub fn parse(text: &str) -> Option<Scope> {
        let (resource_type, rest) = text.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        if resource_type.is_empty() || name.is_empty() {
            return None;
        }
        Some(Scope {
            resource_type: resource_type.to_owned(),
            name: name.to_owned(),
            actions: actions.split(',').filter(|a| !a.is_empty()).map(str::to_owned).collect(),
        })
    }

    fn to_claim(&self) -> Value {
        json!({"type": self.resource_type, "name": self.name, "actions": self.actions})
    }
}

/// What the registry needs to trust an issuer: the `auth.token` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenAuth {
    /// The token endpoint URL (`auth.token.realm`).
    pub realm: String,
    /// The service name, used as JWT audience (`auth.token.service`).
    pub service: String,
    /// The issuer name, used as JWT `iss` (`auth.token.issuer`).
    pub issuer: String,
    /// PEM of the signing certificate (`auth.token.rootcertbundle`).
    pub cert_pem: String,
}

#[derive(Clone)]
struct User {
    name: String,
    password: String,
    access: Access,
}

/// A token issuer with its key, certificate and users; see the module docs.
pub struct TokenIssuer {
    service: String,
    issuer: String,
    expires_in: Duration,
    users: Vec<User>,
    key: EcdsaKeyPair,
    rng: SystemRandom,
    cert_pem: String,
    key_id: String,
    refresh_tokens: Vec<(String, String)>,
    refuse_post: Option<u16>,
    post_html: bool,
    jwt_exp_offset: Option<i64>,
    issued: std::sync::Mutex<Vec<String>>,
}

/// How long after its `exp` docker-registry (distribution 2.8) still accepts a JWT: it checks
/// `now > exp + 60 s` (and `now < nbf - 60 s`) at the start of every request.
pub const REGISTRY_JWT_LEEWAY: Duration = Duration::from_secs(60);

impl fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("service", &self.service)
            .field("issuer", &self.issuer)
            .field("expires_in", &self.expires_in)
            .field("jwt_exp_offset", &self.jwt_exp_offset)
            .field("users", &self.users.iter().map(|u| (&u.name, u.access)).collect::<Vec<_>>())
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl TokenIssuer {
    /// A new issuer for registry `service` (JWT audience) named `issuer`
    /// (JWT `iss`), with a fresh P-256 key, no users, tokens valid 300 s.
    ///
    /// # Panics
    /// If key or certificate generation fails.
    pub fn new(service: &str, issuer: &str) -> TokenIssuer {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .unwrap_or_else(|e| panic!("generate P-256 key: {e}"));
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap_or_else(|e| panic!("load P-256 key: {e}"));
        let cert_key =
            rcgen::KeyPair::try_from(pkcs8.as_ref()).unwrap_or_else(|e| panic!("rcgen key from PKCS#8: {e}"));
        let mut params =
            rcgen::CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| panic!("certificate params: {e}"));
        params.distinguished_name.push(rcgen::DnType::CommonName, issuer);
        let cert = params.self_signed(&cert_key).unwrap_or_else(|e| panic!("self-sign certificate: {e}"));
        let key_id = libtrust_key_id(&p256_spki_der(key.public_key().as_ref()));
        TokenIssuer {
            service: service.to_owned(),
            issuer: issuer.to_owned(),
            expires_in: Duration::from_secs(300),
            users: Vec::new(),
            key,
            rng,
            cert_pem: cert.pem(),
            key_id,
            refresh_tokens: Vec::new(),
            refuse_post: None,
            post_html: false,
            jwt_exp_offset: None,
            issued: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Adds a user with a password and access rule.
    pub fn user(mut self, name: &str, password: &str, access: Access) -> TokenIssuer {
        self.users.push(User { name: name.to_owned(), password: password.to_owned(), access });
        self
    }

    /// Accepts `token` as an identity (OAuth2 refresh) token of user `name` (`POST grant_type=refresh_token`).
    pub fn identity_token(mut self, name: &str, token: &str) -> TokenIssuer {
        self.refresh_tokens.push((token.to_owned(), name.to_owned()));
        self
    }

    /// Answers every `POST /token` with `status` and a JSON error body, like realms without OAuth2 support (404,
    /// 405).
    pub fn refuse_post(mut self, status: u16) -> TokenIssuer {
        self.refuse_post = Some(status);
        self.post_html = false;
        self
    }

    /// Has no `POST /token` endpoint at all: every POST is answered with `status` and an HTML page (as a web server
    /// or proxy in front of a GET-only token server answers, e.g. `501 Not Implemented`).
    pub fn refuse_post_html(mut self, status: u16) -> TokenIssuer {
        self.refuse_post = Some(status);
        self.post_html = true;
        self
    }

    /// Every token issued by the endpoint so far.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.issued.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// Sets the lifetime of issued tokens (`expires_in`, and `exp - iat` unless [`TokenIssuer::jwt_exp_offset`]
    /// sets it apart).
    pub fn expires_in(mut self, lifetime: Duration) -> TokenIssuer {
        self.expires_in = lifetime;
        self
    }

    /// Puts the JWT's `exp` claim `seconds` after its issue time (negative: before it), whatever `expires_in`
    /// the token answer tells the client; by default `exp` is `expires_in` after issue. With docker-registry's
    /// [`REGISTRY_JWT_LEEWAY`] of 60 s, `-58` makes tokens the registry refuses 1 to 2 s after they were issued
    /// (`exp` has whole seconds) while the client, told `expires_in`, keeps using them: a token that expires
    /// early, as after a revocation or a clock jump.
    pub fn jwt_exp_offset(mut self, seconds: i64) -> TokenIssuer {
        self.jwt_exp_offset = Some(seconds);
        self
    }

    /// The PEM certificate of the signing key (for `rootcertbundle`).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The libtrust key id put in the JWT `kid` header.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The service name (JWT audience).
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The issuer name (JWT `iss`).
    pub fn issuer_name(&self) -> &str {
        &self.issuer
    }

    /// The token lifetime.
    pub fn lifetime(&self) -> Duration {
        self.expires_in
    }

    /// Signs arbitrary `claims` as an ES256 JWT with this issuer's key and
    /// `kid` (for crafting expired, foreign-audience or otherwise odd tokens).
    ///
    /// # Panics
    /// If signing fails.
    pub fn sign_claims(&self, claims: &Value) -> String {
        let header = json!({"typ": "JWT", "alg": "ES256", "kid": self.key_id});
        let signing_input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature =
            self.key.sign(&self.rng, signing_input.as_bytes()).unwrap_or_else(|e| panic!("ES256 sign: {e}"));
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }

    /// The standard claims for a token for `subject` (empty = anonymous)
    /// granting `access`, issued now.
    pub fn claims(&self, subject: &str, access: &[Scope]) -> Value {
        let now = unix_now();
        let exp = match self.jwt_exp_offset {
            Some(offset) => now.saturating_add_signed(offset),
            None => now + self.expires_in.as_secs(),
        };
        json!({
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": exp,
            "nbf": now,
            "iat": now,
            "jti": self.random_hex(16),
            "access": access.iter().map(Scope::to_claim).collect::<Vec<_>>(),
        })
    }

    /// What `user` (`None` = anonymous, which gets nothing) is granted of the
    /// requested `scopes`: the intersection with the user's [`Access`];
    /// scopes with no granted action are left out.
    pub fn grant(&self, user: Option<&str>, scopes: &[Scope]) -> Vec<Scope> {
        let Some(access) = user.and_then(|name| self.find_user(name)).map(|u| u.access) else {
            return Vec::new();
        };
        scopes
            .iter()
            .filter_map(|scope| {
                let mut actions: Vec<String> = Vec::new();
                for action in &scope.actions {
                    if access.allows(&scope.resource_type, action) && !actions.contains(action) {
                        actions.push(action.clone());
                    }
                }
                (!actions.is_empty()).then(|| Scope { actions, ..scope.clone() })
            })
            .collect()
    }

    /// A token for `user` (no password check; `None` = anonymous) for the
    /// scope strings `scopes` (e.g. `repository:foo:pull`), granted as the
    /// token endpoint would.
    pub fn token_for(&self, user: Option<&str>, scopes: &[&str]) -> String {
        let parsed: Vec<Scope> = scopes.iter().filter_map(|s| Scope::parse(s)).collect();
        let granted = self.grant(user, &parsed);
        self.sign_claims(&self.claims(user.unwrap_or(""), &granted))
    }

    /// Serves the token endpoint on a [`TestServer`] at `127.0.0.1`.
    pub fn start(self) -> TokenServer {
        let issuer = Arc::new(self);
        let handler_issuer = Arc::clone(&issuer);
        let server = TestServer::start(move |req| handler_issuer.handle(req));
        TokenServer { issuer, server }
    }

    fn find_user(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.name == name)
    }

    fn random_hex(&self, len: usize) -> String {
        let mut bytes = vec![0u8; len];
        self.rng.fill(&mut bytes).unwrap_or_else(|e| panic!("random bytes: {e}"));
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn handle(&self, req: &TestRequest) -> TestResponse {
        if req.path() != "/token" {
            return error_response(404, "NOT_FOUND", "no such endpoint");
        }
        let (params, credentials) = match req.method.as_str() {
            "GET" => {
                let credentials = match req.header("authorization") {
                    None => None,
                    Some(value) => match parse_basic(value) {
                        Some(c) => Some(c),
                        None => {
                            return error_response(401, "UNAUTHORIZED", "unsupported or malformed Authorization header")
                        }
                    },
                };
                (req.query_pairs(), credentials)
            }
            "POST" => {
                if let Some(status) = self.refuse_post {
                    if self.post_html {
                        let page = format!(
                            "<!DOCTYPE html><html><head><title>{status}</title></head>\
                             <body><h1>{status} Not Implemented</h1><p>POST is not supported here.</p></body></html>"
                        );
                        return TestResponse::new(status).header("Content-Type", "text/html; charset=utf-8").body(page);
                    }
                    return error_response(status, "UNSUPPORTED", "no OAuth2 here");
                }
                let params = parse_form(&req.body_text());
                let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
                let credentials = match get("grant_type").as_deref() {
                    Some("password") => get("username").map(|u| (u, get("password").unwrap_or_default())),
                    Some("refresh_token") => {
                        let token = get("refresh_token").unwrap_or_default();
                        match self.refresh_tokens.iter().find(|(t, _)| *t == token) {
                            Some((_, name)) => self.find_user(name).map(|u| (u.name.clone(), u.password.clone())),
                            None => return error_response(401, "UNAUTHORIZED", "invalid refresh token"),
                        }
                    }
                    _ => return error_response(400, "UNSUPPORTED", "grant_type must be password or refresh_token"),
                };
                if get("client_id").is_none_or(|c| c.is_empty()) {
                    return error_response(400, "INVALID_REQUEST", "client_id is required");
                }
                (params, credentials)
            }
            _ => return error_response(405, "UNSUPPORTED", "method not allowed"),
        };

        if let Some((_, service)) = params.iter().find(|(k, _)| k == "service") {
            if service != &self.service {
                return error_response(
                    400,
                    "INVALID_REQUEST",
                    &format!("unknown service {service:?}, expected {:?}", self.service),
                );
            }
        }

        let user = match &credentials {
            None => None,
            // An identity token as the Basic password (any user name, e.g. `<token>`), as docker sends it to GET.
            Some((_, password)) if self.refresh_tokens.iter().any(|(t, _)| t == password) => {
                let name = self.refresh_tokens.iter().find(|(t, _)| t == password).map(|(_, n)| n.as_str());
                name.and_then(|n| self.find_user(n)).map(|u| u.name.as_str())
            }
            Some((name, password)) => match self.find_user(name) {
                Some(u) if &u.password == password => Some(u.name.as_str()),
                _ => {
                    return error_response(401, "UNAUTHORIZED", "invalid username or password")
                        .header("WWW-Authenticate", "Basic realm=\"token\"")
                }
            },
        };

        let mut scopes = Vec::new();
        for (key, value) in &params {
            if key != "scope" {
                continue;
            }
            for text in value.split(' ').filter(|s| !s.is_empty()) {
                match Scope::parse(text) {
                    Some(scope) => scopes.push(scope),
                    None => return error_response(400, "INVALID_REQUEST", &format!("invalid scope {text:?}")),
                }
            }
        }

        let granted = self.grant(user, &scopes);
        let token = self.sign_claims(&self.claims(user.unwrap_or(""), &granted));
        if let Ok(mut issued) = self.issued.lock() {
            issued.push(token.clone());
        }
        TestResponse::json(
            200,
            &json!({
                "token": token,
                "access_token": token,
                "expires_in": self.expires_in.as_secs(),
                "issued_at": rfc3339(unix_now()),
            }),
        )
    }
}

/// A running token endpoint; stops when dropped.
#[derive(Debug)]
pub struct TokenServer {
    issuer: Arc<TokenIssuer>,
    server: TestServer,
}

impl TokenServer {
    /// The token endpoint URL (`<url>/token`), the `realm` of challenges.
    pub fn realm(&self) -> String {
        format!("{}/token", self.server.url())
    }

    /// The server's base URL.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The issuer (key, users, and token minting helpers).
    pub fn issuer(&self) -> &TokenIssuer {
        &self.issuer
    }

    /// The service name (JWT audience).
    pub fn service(&self) -> &str {
        self.issuer.service()
    }

    /// The PEM certificate of the signing key.
    pub fn cert_pem(&self) -> &str {
        self.issuer.cert_pem()
    }

    /// The `auth.token` settings a registry needs to trust this server.
    pub fn auth(&self) -> TokenAuth {
        TokenAuth {
            realm: self.realm(),
            service: self.issuer.service.clone(),
            issuer: self.issuer.issuer.clone(),
            cert_pem: self.issuer.cert_pem.clone(),
        }
    }

    /// The requests the token endpoint received so far.
    pub fn requests(&self) -> Vec<TestRequest> {
        self.server.requests()
    }

    /// How many requests the token endpoint received so far.
    pub fn request_count(&self) -> usize {
        self.server.request_count()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.server.clear_requests();
    }

    /// The underlying HTTP server.
    pub fn server(&self) -> &TestServer {
        &self.server
    }
}

fn error_response(status: u16, code: &str, message: &str) -> TestResponse {
    TestResponse::json(status, &json!({"errors": [{"code": code, "message": message}], "details": message}))
}

fn parse_basic(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// The (year, month 1-12, day 1-31) of `days` since 1970-01-01, proleptic Gregorian (era-based civil-from-days).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Formats Unix seconds as RFC 3339 UTC, e.g. `2024-02-29T12:00:00Z`.
pub fn rfc3339(unix_secs: u64) -> String {
    let (year, month, day) = civil_from_days((unix_secs / 86_400) as i64);
    let secs = unix_secs % 86_400;
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3_600, secs / 60 % 60, secs % 60)
}

/// The DER SubjectPublicKeyInfo of an uncompressed P-256 public key point
/// (65 bytes), as Go's `x509.MarshalPKIXPublicKey` produces it.
fn p256_spki_der(point: &[u8]) -> Vec<u8> {
    // SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (0 unused bits) }
    const PREFIX: [u8; 26] = [
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
        0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ];
    let mut der = PREFIX.to_vec();
    der.extend_from_slice(point);
    der
}

/// The libtrust key id of a public key given as DER SubjectPublicKeyInfo:
/// SHA-256, first 240 bits, base32 (no padding), 12 groups of 4 joined by `:`.
pub fn libtrust_key_id(spki_der: &[u8]) -> String {
    let digest = Sha256::digest(spki_der);
    let encoded = base32_encode(&digest[..30]);
    encoded.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(":")
}

/// RFC 4648 base32 (upper-case alphabet) without padding.
pub fn base32_encode(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &byte in data {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_rfc4648_vectors() {
        assert_eq!(base32_encode(b""), "");
        assert_eq!(base32_encode(b"f"), "MY");
        assert_eq!(base32_encode(b"fo"), "MZXQ");
        assert_eq!(base32_encode(b"foo"), "MZXW6");
        assert_eq!(base32_encode(b"foob"), "MZXW6YQ");
        assert_eq!(base32_encode(b"fooba"), "MZXW6YTB");
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
    }

    #[test]
    fn key_id_shape() {
        let id = libtrust_key_id(b"anything");
        assert_eq!(id.len(), 48 + 11);
        assert_eq!(id.split(':').count(), 12);
        assert!(id.split(':').all(|g| g.len() == 4));
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_709_208_000), "2024-02-29T12:00:00Z");
        assert_eq!(rfc3339(1_735_689_599), "2024-12-31T23:59:59Z");
    }

    #[test]
    fn scope_parsing() {
        assert_eq!(
            Scope::parse("repository:localhost:5000/a/b:pull,push"),
            Some(Scope {
                resource_type: "repository".into(),
                name: "localhost:5000/a/b".into(),
                actions: vec!["pull".into(), "push".into()],
            })
        );
        assert_eq!(Scope::parse("registry:catalog:*").map(|s| s.actions), Some(vec!["*".into()]));
        assert_eq!(Scope::parse("nonsense"), None);
    }

    #[test]
    fn grants_intersect() {
        let issuer = TokenIssuer::new("svc", "iss").user("p", "x", Access::Pull).user("a", "x", Access::All);
        let scopes =
            vec![Scope::parse("repository:r:pull,push,delete").unwrap(), Scope::parse("registry:catalog:*").unwrap()];
        let pulled = issuer.grant(Some("p"), &scopes);
        assert_eq!(pulled.len(), 1);
        assert_eq!(pulled[0].actions, vec!["pull".to_owned()]);
        assert_eq!(issuer.grant(Some("a"), &scopes), scopes);
        assert!(issuer.grant(None, &scopes).is_empty());
        assert!(issuer.grant(Some("nobody"), &scopes).is_empty());
    }

    #[test]
    fn spki_matches_certificate_key() {
        let issuer = TokenIssuer::new("svc", "iss");
        let spki = p256_spki_der(issuer.key.public_key().as_ref());
        assert_eq!(spki.len(), 91);
        // The certificate PEM embeds the same SPKI.
        let body: String = issuer.cert_pem().lines().filter(|l| !l.starts_with("-----")).collect();
        let der = STANDARD.decode(body).unwrap();
        assert!(der.windows(spki.len()).any(|w| w == spki.as_slice()));
    }

    #[test]
    fn jwt_exp_offset_is_apart_from_expires_in() {
        let claims_of = |issuer: &TokenIssuer| issuer.claims("a", &[]);
        let plain = TokenIssuer::new("svc", "iss").expires_in(Duration::from_secs(300));
        let c = claims_of(&plain);
        assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 300);
        let early = TokenIssuer::new("svc", "iss").expires_in(Duration::from_secs(300)).jwt_exp_offset(-58);
        let c = claims_of(&early);
        assert_eq!(c["iat"].as_u64().unwrap() - c["exp"].as_u64().unwrap(), 58);
        assert_eq!(early.lifetime(), Duration::from_secs(300), "the token answer still says 300 s");
    }

    #[test]
    fn jwt_verifies_with_public_key() {
        let issuer = TokenIssuer::new("svc", "iss").user("a", "x", Access::Pull);
        let jwt = issuer.token_for(Some("a"), &["repository:r:pull,push"]);
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"], issuer.key_id());
        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["aud"], "svc");
        assert_eq!(claims["access"], json!([{"type": "repository", "name": "r", "actions": ["pull"]}]));
        let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        assert_eq!(sig.len(), 64);
        let public = ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            issuer.key.public_key().as_ref().to_vec(),
        );
        public.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig).unwrap();
    }
}
