//! Runs the real `docker-registry` (distribution 2.8) for a test.
//!
//! [`DockerRegistry::start`] writes a config into a fresh temporary
//! directory, starts `docker-registry serve config.yml` on a free loopback
//! port, waits until `GET /v2/` answers, and kills the process on drop.
//! [`DockerRegistry::builder`] adds TLS (optionally requiring client
//! certificates), another loopback address, a storage directory chosen by
//! the test, and the storage `redirect` middleware.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::tls::TestPki;
use crate::token::{TokenAuth, TokenServer};

/// How long to wait for the registry to answer `GET /v2/`.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How many ports to try when another process takes the one chosen.
const START_ATTEMPTS: usize = 5;
/// How many lines of the registry log to show in panic messages.
const LOG_TAIL_LINES: usize = 40;

const REGISTRY_MISSING: &str = "docker-registry not found: install it with \
     `apt-get update && apt-get install -y docker-registry` (scripts/test.sh does this)";
const HTPASSWD_MISSING: &str = "htpasswd not found: install it with \
     `apt-get update && apt-get install -y apache2-utils` (scripts/test.sh does this)";

/// How the registry authenticates clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMode {
    /// No authentication: everything is allowed.
    Anonymous,
    /// HTTP Basic auth against these `(user, password)` pairs (bcrypt
    /// htpasswd file written with `htpasswd -Bbn`).
    Htpasswd(Vec<(String, String)>),
    /// Bearer tokens from a token server (see [`TokenServer::auth`]).
    Token(TokenAuth),
}

impl AuthMode {
    /// [`AuthMode::Htpasswd`] from borrowed pairs.
    pub fn htpasswd(users: &[(&str, &str)]) -> AuthMode {
        AuthMode::Htpasswd(users.iter().map(|(u, p)| ((*u).to_owned(), (*p).to_owned())).collect())
    }

    /// [`AuthMode::Token`] trusting `server`.
    pub fn token(server: &TokenServer) -> AuthMode {
        AuthMode::Token(server.auth())
    }
}

impl From<&TokenServer> for AuthMode {
    fn from(server: &TokenServer) -> AuthMode {
        AuthMode::token(server)
    }
}

/// The `auth` section as it goes into the config, with files written.
#[derive(Debug, Clone)]
enum AuthConfig {
    None,
    Htpasswd { path: PathBuf },
    Token { realm: String, service: String, issuer: String, cert_path: PathBuf },
}

/// The `http.tls` section, with files written.
#[derive(Debug, Clone)]
struct TlsConfig {
    cert_path: PathBuf,
    key_path: PathBuf,
    client_ca_path: Option<PathBuf>,
}

/// Everything the registry config is generated from.
#[derive(Debug)]
struct RegistryConfig {
    addr: SocketAddr,
    data_dir: PathBuf,
    secret: String,
    auth: AuthConfig,
    tls: Option<TlsConfig>,
    /// `baseurl` of the storage `redirect` middleware.
    redirect_to: Option<String>,
    /// `catalog.maxentries`: the largest catalog page (`n`) the registry accepts.
    catalog_max_entries: Option<usize>,
    /// Whether each request is logged (combined log format, on stdout, so in the log file).
    access_log: bool,
    /// `storage.delete.enabled`: whether manifests (and tags, through placeholders) may be deleted.
    deletes: bool,
}

/// Renders `config.yml`. The one place that knows the config format: TLS
/// (`http.tls`) and storage middleware go here.
fn render_config(config: &RegistryConfig) -> String {
    let mut yaml = String::new();
    yaml.push_str("version: 0.1\n");
    yaml.push_str("log:\n  level: warn\n  accesslog:\n");
    yaml.push_str(if config.access_log { "    disabled: false\n" } else { "    disabled: true\n" });
    yaml.push_str("storage:\n");
    yaml.push_str("  filesystem:\n");
    yaml.push_str(&format!("    rootdirectory: {}\n", yaml_str(&config.data_dir.to_string_lossy())));
    yaml.push_str(if config.deletes { "  delete:\n    enabled: true\n" } else { "  delete:\n    enabled: false\n" });
    yaml.push_str("  maintenance:\n    uploadpurging:\n      enabled: false\n");
    yaml.push_str("http:\n");
    yaml.push_str(&format!("  addr: {}\n", yaml_str(&config.addr.to_string())));
    yaml.push_str(&format!("  secret: {}\n", yaml_str(&config.secret)));
    if let Some(tls) = &config.tls {
        yaml.push_str("  tls:\n");
        yaml.push_str(&format!("    certificate: {}\n", yaml_str(&tls.cert_path.to_string_lossy())));
        yaml.push_str(&format!("    key: {}\n", yaml_str(&tls.key_path.to_string_lossy())));
        if let Some(ca) = &tls.client_ca_path {
            yaml.push_str("    clientcas:\n");
            yaml.push_str(&format!("      - {}\n", yaml_str(&ca.to_string_lossy())));
        }
    }
    if let Some(base) = &config.redirect_to {
        // distribution 2.8.2 redirects blob GET/HEAD to baseurl's scheme and host with the storage driver's path
        // (`/docker/registry/v2/blobs/sha256/ab/<hex>/data`), a file under `rootdirectory`.
        yaml.push_str("middleware:\n  storage:\n    - name: redirect\n      options:\n");
        yaml.push_str(&format!("        baseurl: {}\n", yaml_str(base)));
    }
    if let Some(n) = config.catalog_max_entries {
        yaml.push_str(&format!("catalog:\n  maxentries: {n}\n"));
    }
    match &config.auth {
        AuthConfig::None => {}
        AuthConfig::Htpasswd { path } => {
            yaml.push_str("auth:\n  htpasswd:\n    realm: registry-tests\n");
            yaml.push_str(&format!("    path: {}\n", yaml_str(&path.to_string_lossy())));
        }
        AuthConfig::Token { realm, service, issuer, cert_path } => {
            yaml.push_str("auth:\n  token:\n");
            yaml.push_str(&format!("    realm: {}\n", yaml_str(realm)));
            yaml.push_str(&format!("    service: {}\n", yaml_str(service)));
            yaml.push_str(&format!("    issuer: {}\n", yaml_str(issuer)));
            yaml.push_str(&format!("    rootcertbundle: {}\n", yaml_str(&cert_path.to_string_lossy())));
        }
    }
    yaml
}

/// A double-quoted YAML scalar.
fn yaml_str(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A running `docker-registry`; killed (and its directory removed) on drop.
pub struct DockerRegistry {
    child: Child,
    ip: IpAddr,
    port: u16,
    tls: bool,
    dir: TempDir,
    data_dir: PathBuf,
    log_path: PathBuf,
}

impl fmt::Debug for DockerRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DockerRegistry")
            .field("pid", &self.child.id())
            .field("ip", &self.ip)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("dir", &self.dir.path())
            .finish()
    }
}

impl DockerRegistry {
    /// Starts a registry with `auth` (plain HTTP on `127.0.0.1`) and waits (up to 10 s) until it answers.
    ///
    /// Blocks the calling thread while waiting; fine inside `#[tokio::test]`.
    ///
    /// # Panics
    /// If `docker-registry` (or, for htpasswd, `htpasswd`) is not installed,
    /// or the registry does not come up; the message has the log's tail.
    pub fn start(auth: AuthMode) -> DockerRegistry {
        DockerRegistry::builder().auth(auth).start()
    }

    /// Options for a registry: anonymous, plain HTTP on `127.0.0.1`, storage in its temporary directory, until
    /// told otherwise.
    pub fn builder() -> DockerRegistryBuilder {
        DockerRegistryBuilder {
            auth: AuthMode::Anonymous,
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            tls: None,
            client_ca: None,
            storage_dir: None,
            redirect_to: None,
            catalog_max_entries: None,
            access_log: false,
            deletes: true,
        }
    }

    /// `IP:PORT`, e.g. `127.0.0.1:5000`.
    pub fn host(&self) -> String {
        SocketAddr::new(self.ip, self.port).to_string()
    }

    /// `http://IP:PORT`, or `https://IP:PORT` when it serves TLS (no trailing slash).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.host())
    }

    /// Whether it serves HTTPS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The port the registry listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The filesystem storage root (`storage.filesystem.rootdirectory`).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The temporary directory holding config, auth and TLS files, the log, and the data unless
    /// [`DockerRegistryBuilder::storage_dir`] put it elsewhere.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The registry's whole log (stdout and stderr) so far.
    pub fn logs(&self) -> String {
        read_lossy(&self.log_path)
    }

    /// The last `lines` lines of the registry's log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.logs(), lines)
    }
}

impl Drop for DockerRegistry {
    fn drop(&mut self) {
        kill_and_wait(&mut self.child);
    }
}

/// How to start a [`DockerRegistry`]; made by [`DockerRegistry::builder`], consumed by
/// [`DockerRegistryBuilder::start`].
#[must_use]
#[derive(Clone)]
pub struct DockerRegistryBuilder {
    auth: AuthMode,
    ip: IpAddr,
    /// Server certificate (chain) and key, PEM.
    tls: Option<(String, String)>,
    /// CA certificates (PEM) client certificates must chain to.
    client_ca: Option<String>,
    storage_dir: Option<PathBuf>,
    redirect_to: Option<String>,
    catalog_max_entries: Option<usize>,
    access_log: bool,
    deletes: bool,
}

impl fmt::Debug for DockerRegistryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DockerRegistryBuilder")
            .field("auth", &self.auth)
            .field("ip", &self.ip)
            .field("tls", &self.tls.is_some())
            .field("client_ca", &self.client_ca.is_some())
            .field("storage_dir", &self.storage_dir)
            .field("redirect_to", &self.redirect_to)
            .field("catalog_max_entries", &self.catalog_max_entries)
            .field("access_log", &self.access_log)
            .field("deletes", &self.deletes)
            .finish()
    }
}

impl DockerRegistryBuilder {
    /// How clients authenticate (default: anonymous).
    pub fn auth(mut self, auth: AuthMode) -> DockerRegistryBuilder {
        self.auth = auth;
        self
    }

    /// Listen on this loopback address instead of `127.0.0.1`, e.g. `127.0.0.2`.
    pub fn listen_ip(mut self, ip: IpAddr) -> DockerRegistryBuilder {
        self.ip = ip;
        self
    }

    /// Serve HTTPS with `pki`'s server certificate (valid for `127.0.0.1` and `localhost`).
    pub fn tls(self, pki: &TestPki) -> DockerRegistryBuilder {
        self.tls_pem(pki.server_cert_pem(), pki.server_key_pem())
    }

    /// Serve HTTPS with this certificate (chain) and private key, both PEM.
    pub fn tls_pem(mut self, cert_pem: impl Into<String>, key_pem: impl Into<String>) -> DockerRegistryBuilder {
        self.tls = Some((cert_pem.into(), key_pem.into()));
        self
    }

    /// Require a client certificate chaining to one of the CA certificates in `ca_pem` (mutual TLS,
    /// `http.tls.clientcas`). Needs [`DockerRegistryBuilder::tls`].
    pub fn client_ca(mut self, ca_pem: impl Into<String>) -> DockerRegistryBuilder {
        self.client_ca = Some(ca_pem.into());
        self
    }

    /// Keep the storage (`storage.filesystem.rootdirectory`) in `dir` instead of the registry's temporary
    /// directory: the caller owns it and it outlives the registry, so two registries can share it, or a
    /// test server can serve its files.
    pub fn storage_dir(mut self, dir: impl Into<PathBuf>) -> DockerRegistryBuilder {
        self.storage_dir = Some(dir.into());
        self
    }

    /// Enable the storage `redirect` middleware: blob GET and HEAD answer `307` to `base_url`'s scheme and host
    /// with the storage path, e.g. `http://127.0.0.2:PORT/docker/registry/v2/blobs/sha256/ab/<hex>/data`
    /// (a file under the storage directory).
    pub fn redirect_to(mut self, base_url: impl Into<String>) -> DockerRegistryBuilder {
        self.redirect_to = Some(base_url.into());
        self
    }

    /// Cap catalog pages at `n` repositories (`catalog.maxentries`): a larger `n` is answered 400
    /// `PAGINATION_NUMBER_INVALID`. Default: distribution's own (1000).
    pub fn catalog_max_entries(mut self, n: usize) -> DockerRegistryBuilder {
        self.catalog_max_entries = Some(n);
        self
    }

    /// Log every request (distribution's access log, Apache combined format: `IP - - [time] "GET /v2/... HTTP/1.1"
    /// 200 SIZE "referer" "user-agent"`, request URI with its query) into [`DockerRegistry::logs`], so a test or
    /// benchmark counts the requests a client made. Default: off.
    pub fn access_log(mut self, on: bool) -> DockerRegistryBuilder {
        self.access_log = on;
        self
    }

    /// Whether deletes are enabled (`storage.delete.enabled`); when off, every DELETE is answered 405
    /// `UNSUPPORTED`. Default: on.
    pub fn deletes(mut self, on: bool) -> DockerRegistryBuilder {
        self.deletes = on;
        self
    }

    /// Starts the registry and waits (up to 10 s) until it answers.
    ///
    /// Blocks the calling thread while waiting; fine inside `#[tokio::test]`.
    ///
    /// # Panics
    /// If `docker-registry` (or, for htpasswd, `htpasswd`) is not installed, if
    /// [`DockerRegistryBuilder::client_ca`] is set without TLS, or the registry does not come up; the message
    /// has the log's tail.
    pub fn start(self) -> DockerRegistry {
        assert!(self.client_ca.is_none() || self.tls.is_some(), "client_ca (mutual TLS) needs tls");
        let binary = find_registry_binary().unwrap_or_else(|| panic!("{REGISTRY_MISSING}"));
        let dir = tempfile::Builder::new()
            .prefix("docker-registry-")
            .tempdir()
            .unwrap_or_else(|e| panic!("create temp dir: {e}"));
        let data_dir = self.storage_dir.clone().unwrap_or_else(|| dir.path().join("data"));
        fs::create_dir_all(&data_dir).unwrap_or_else(|e| panic!("create data dir {}: {e}", data_dir.display()));
        let auth = write_auth_files(dir.path(), &self.auth);
        let tls = self.write_tls_files(dir.path());
        let config_path = dir.path().join("config.yml");
        let log_path = dir.path().join("registry.log");

        let mut last_failure = String::new();
        for attempt in 1..=START_ATTEMPTS {
            let port = free_port(self.ip);
            let config = RegistryConfig {
                addr: SocketAddr::new(self.ip, port),
                data_dir: data_dir.clone(),
                secret: format!("registry-tests-secret-{port}"),
                auth: auth.clone(),
                tls: tls.clone(),
                redirect_to: self.redirect_to.clone(),
                catalog_max_entries: self.catalog_max_entries,
                access_log: self.access_log,
                deletes: self.deletes,
            };
            fs::write(&config_path, render_config(&config))
                .unwrap_or_else(|e| panic!("write {}: {e}", config_path.display()));
            let log = File::create(&log_path).unwrap_or_else(|e| panic!("create {}: {e}", log_path.display()));
            let log_for_stdout = log.try_clone().unwrap_or_else(|e| panic!("clone log handle: {e}"));
            let mut child = Command::new(&binary)
                .arg("serve")
                .arg(&config_path)
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::from(log_for_stdout))
                .stderr(Stdio::from(log))
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
            match wait_ready(&mut child, config.addr, &log_path) {
                Ok(()) => {
                    return DockerRegistry { child, ip: self.ip, port, tls: tls.is_some(), dir, data_dir, log_path }
                }
                Err(failure) => {
                    kill_and_wait(&mut child);
                    last_failure = failure.message;
                    if !(failure.port_taken && attempt < START_ATTEMPTS) {
                        break;
                    }
                }
            }
        }
        panic!("{last_failure}");
    }

    fn write_tls_files(&self, dir: &Path) -> Option<TlsConfig> {
        let (cert, key) = self.tls.as_ref()?;
        let write = |name: &str, content: &str| {
            let path = dir.join(name);
            fs::write(&path, content).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
            path
        };
        Some(TlsConfig {
            cert_path: write("tls-cert.pem", cert),
            key_path: write("tls-key.pem", key),
            client_ca_path: self.client_ca.as_deref().map(|ca| write("tls-client-ca.pem", ca)),
        })
    }
}

#[derive(Debug)]
struct StartFailure {
    port_taken: bool,
    message: String,
}

fn kill_and_wait(child: &mut Child) {
    // Killing an already exited child fails harmlessly.
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits until the registry at `addr` answers. A TLS registry answers the plain-HTTP probe too: Go's server
/// replies `400 Client sent an HTTP request to an HTTPS server` before any handshake.
fn wait_ready(child: &mut Child, addr: SocketAddr, log_path: &Path) -> Result<(), StartFailure> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    let host = addr.to_string();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let log = read_lossy(log_path);
            return Err(StartFailure {
                port_taken: log.contains("address already in use"),
                message: format!(
                    "docker-registry exited during startup ({status}); log tail:\n{}",
                    tail(&log, LOG_TAIL_LINES)
                ),
            });
        }
        if probe_v2(addr, &host) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(StartFailure {
                port_taken: false,
                message: format!(
                    "docker-registry did not answer GET /v2/ on {addr} within {STARTUP_TIMEOUT:?}; log tail:\n{}",
                    tail(&read_lossy(log_path), LOG_TAIL_LINES)
                ),
            });
        }
        sleep(Duration::from_millis(50));
    }
}

fn write_auth_files(dir: &Path, auth: &AuthMode) -> AuthConfig {
    match auth {
        AuthMode::Anonymous => AuthConfig::None,
        AuthMode::Htpasswd(users) => {
            let mut content = String::new();
            for (user, password) in users {
                content.push_str(&htpasswd_line(user, password));
                content.push('\n');
            }
            let path = dir.join("htpasswd");
            fs::write(&path, content).unwrap_or_else(|e| panic!("write htpasswd: {e}"));
            AuthConfig::Htpasswd { path }
        }
        AuthMode::Token(token) => {
            let cert_path = dir.join("token-ca.pem");
            fs::write(&cert_path, &token.cert_pem).unwrap_or_else(|e| panic!("write token cert: {e}"));
            AuthConfig::Token {
                realm: token.realm.clone(),
                service: token.service.clone(),
                issuer: token.issuer.clone(),
                cert_path,
            }
        }
    }
}

/// One bcrypt htpasswd entry, from `htpasswd -Bbn`.
fn htpasswd_line(user: &str, password: &str) -> String {
    let output = match Command::new("htpasswd").args(["-Bbn", user, password]).stdin(Stdio::null()).output() {
        Ok(output) => output,
        Err(e) if e.kind() == io::ErrorKind::NotFound => panic!("{HTPASSWD_MISSING}"),
        Err(e) => panic!("run htpasswd: {e}"),
    };
    assert!(
        output.status.success(),
        "htpasswd -Bbn {user} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn find_registry_binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|dir| dir.join("docker-registry")).find(|candidate| candidate.is_file())
    });
    on_path.or_else(|| {
        let fallback = PathBuf::from("/usr/bin/docker-registry");
        fallback.is_file().then_some(fallback)
    })
}

/// A port on `ip` that was free a moment ago (bind to port 0, read it, release it).
fn free_port(ip: IpAddr) -> u16 {
    let listener = TcpListener::bind((ip, 0)).unwrap_or_else(|e| panic!("bind {ip}:0: {e}"));
    listener.local_addr().unwrap_or_else(|e| panic!("local_addr: {e}")).port()
}

/// Whether `GET /v2/` gets any HTTP response.
fn probe_v2(addr: SocketAddr, host: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /v2/ HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    let mut filled = 0;
    while filled < head.len() {
        match stream.read(&mut head[filled..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => filled += n,
        }
    }
    head[..filled].starts_with(b"HTTP/1.")
}

fn read_lossy(path: &Path) -> String {
    fs::read(path).map(|bytes| String::from_utf8_lossy(&bytes).into_owned()).unwrap_or_default()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_has_required_settings() {
        let config = RegistryConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 5000)),
            data_dir: PathBuf::from("/tmp/x y/data"),
            secret: "s".into(),
            auth: AuthConfig::Token {
                realm: "http://127.0.0.1:1/token".into(),
                service: "svc".into(),
                issuer: "iss".into(),
                cert_path: PathBuf::from("/tmp/c.pem"),
            },
            tls: None,
            redirect_to: None,
            catalog_max_entries: Some(100),
            access_log: false,
            deletes: true,
        };
        let yaml = render_config(&config);
        assert!(yaml.contains("rootdirectory: \"/tmp/x y/data\""));
        assert!(yaml.contains("  delete:\n    enabled: true\n"));
        assert!(yaml.contains("  addr: \"127.0.0.1:5000\"\n"));
        assert!(yaml.contains("    rootcertbundle: \"/tmp/c.pem\"\n"));
        assert!(yaml.contains("level: warn"));
        assert!(yaml.contains("catalog:\n  maxentries: 100\n"));
        assert!(yaml.contains("  accesslog:\n    disabled: true\n"));
        assert!(!yaml.contains("tls:") && !yaml.contains("middleware:"));
    }

    #[test]
    fn config_with_tls_and_redirect() {
        let config = RegistryConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 5000)),
            data_dir: PathBuf::from("/d"),
            secret: "s".into(),
            auth: AuthConfig::None,
            tls: Some(TlsConfig {
                cert_path: PathBuf::from("/t/cert.pem"),
                key_path: PathBuf::from("/t/key.pem"),
                client_ca_path: Some(PathBuf::from("/t/ca.pem")),
            }),
            redirect_to: Some("http://127.0.0.2:9/".into()),
            catalog_max_entries: None,
            access_log: true,
            deletes: true,
        };
        let yaml = render_config(&config);
        assert!(yaml.contains("  accesslog:\n    disabled: false\n"));
        assert!(yaml.contains(
            "  tls:\n    certificate: \"/t/cert.pem\"\n    key: \"/t/key.pem\"\n    clientcas:\n      - \"/t/ca.pem\"\n"
        ));
        assert!(yaml.contains(
            "middleware:\n  storage:\n    - name: redirect\n      options:\n        baseurl: \"http://127.0.0.2:9/\"\n"
        ));
        assert!(!yaml.contains("auth:"));
    }

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }
}
