//! `regcli serve`: the in-process registry (the `mocks` crate's server: the distribution API over one in-memory
//! store) on an address, until SIGINT or SIGTERM. Like `crane registry serve`, for tests and demos: nothing is
//! written to disk and everything is gone when it stops.

use std::net::SocketAddr;

use clap::{Args, ValueEnum};
use mocks::server::RegistryServer;
use tokio::signal::unix::{signal, SignalKind};

use crate::failure::Failure;
use crate::output::auth::{serving_text, ServingJson};
use crate::output::{print, print_json};
use crate::settings::Settings;

/// How the served registry asks for credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ServeAuth {
    /// Anyone may read and write.
    None,
    /// HTTP Basic with --username / --password-stdin.
    Basic,
    /// Bearer tokens from the server's own `/token` endpoint, issued for --username / --password-stdin.
    Bearer,
}

impl ServeAuth {
    fn as_str(self) -> &'static str {
        match self {
            ServeAuth::None => "none",
            ServeAuth::Basic => "basic",
            ServeAuth::Bearer => "bearer",
        }
    }
}

/// Serve an in-memory registry until SIGINT or SIGTERM (for tests and demos).
///
/// The distribution API over one in-memory store, as the tests use it; nothing is kept when it stops. The first line on stdout is `serving on http://ADDR` (with --format json: {"addr","url","auth"}); push to
/// it with `regcli cp --insecure SRC ADDR/repo:tag`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  regcli serve                                  # http://127.0.0.1:5000, anyone may push
  regcli serve --addr 127.0.0.1:0               # a free port, printed on stdout
  regcli serve --seed &                         # with sample images: regcli catalog 127.0.0.1:5000 --insecure
  echo secret | regcli serve -u admin --password-stdin --auth bearer")]
pub(crate) struct ServeArgs {
    /// Where to listen (port 0: a free port).
    #[arg(long, default_value = "127.0.0.1:5000")]
    pub(crate) addr: String,
    /// Ask for credentials: basic or bearer need --username and --password-stdin (default: basic when they are
    /// given, else none).
    #[arg(long, value_enum)]
    pub(crate) auth: Option<ServeAuth>,
    /// Start with the demo's sample images: demo/frontend and demo/backend (version tags and others sharing base
    /// layers) and demo/tools (two three-platform indexes), every layer a real tar.
    #[arg(long)]
    pub(crate) seed: bool,
}

/// A client of the served registry's root, with the credentials it was started with.
fn seed_client(
    server: &RegistryServer,
    settings: &Settings,
) -> Result<std::sync::Arc<dyn registry_client::Client>, Failure> {
    let builder = registry_client::RemoteClient::builder(server.host()).insecure(true);
    let builder = match &settings.login {
        Some(login) => builder.basic_auth(login.username.clone(), login.password.clone()),
        None => builder,
    };
    let client = builder.build().map_err(|e| Failure::failed(format!("a client of the served registry: {e}")))?;
    Ok(std::sync::Arc::new(client))
}

/// Run `regcli serve`.
pub(crate) async fn run(args: ServeArgs, settings: Settings) -> Result<(), Failure> {
    let addr: SocketAddr = args
        .addr
        .parse()
        .map_err(|e| Failure::usage(format!("--addr {:?}: {e} (use IP:PORT, e.g. 127.0.0.1:5000)", args.addr)))?;
    let auth = args.auth.unwrap_or(if settings.login.is_some() { ServeAuth::Basic } else { ServeAuth::None });
    let mut builder = RegistryServer::builder().addr(addr);
    match (auth, &settings.login) {
        (ServeAuth::None, None) => {}
        (ServeAuth::None, Some(_)) => {
            return Err(Failure::usage("--auth none takes no --username: drop it, or use --auth basic or bearer"))
        }
        (ServeAuth::Basic | ServeAuth::Bearer, None) => {
            return Err(Failure::usage(format!("--auth {} needs --username and --password-stdin", auth.as_str())))
        }
        (ServeAuth::Basic, Some(login)) => builder = builder.basic_auth(&login.username, &login.password),
        (ServeAuth::Bearer, Some(login)) => builder = builder.bearer_auth(&login.username, &login.password),
    }
    // Watch the signals before announcing the address, so a script that stops us right after reading it is heard.
    let (mut term, mut int) = match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(term), Ok(int)) => (term, int),
        (Err(e), _) | (_, Err(e)) => return Err(Failure::failed(format!("cannot watch SIGTERM / SIGINT: {e}"))),
    };
    let server =
        builder.build_and_start().await.map_err(|e| Failure::failed(format!("cannot listen on {addr}: {e}")))?;
    if args.seed {
        let root = seed_client(&server, &settings)?;
        let seeded = crate::sample::seed(&root)
            .await
            .map_err(|e| Failure::failed(format!("seeding the served registry: {e}")))?;
        eprintln!(
            "seeded {} repositories under {}/ with {} tags ({} of them indexes)",
            seeded.repositories,
            crate::sample::PREFIX,
            seeded.tags,
            seeded.indexes
        );
    }
    if !server.addr().ip().is_loopback() {
        eprintln!(
            "regcli: warning: serving on {} beyond loopback: an in-memory test registry, {}",
            server.addr(),
            if auth == ServeAuth::None { "anyone who reaches it may push" } else { "over plain HTTP" }
        );
    }
    if settings.json() {
        print_json(&ServingJson::new(&server.host(), &server.url(), auth.as_str()))?;
    } else {
        print(&serving_text(&server.url(), auth.as_str()))?;
    }
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    eprintln!("stopped after {} requests; the registry's content is gone", server.request_count());
    Ok(())
}
