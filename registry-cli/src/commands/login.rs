//! `regcli login HOST`: credentials checked against the registry, then stored in docker's `config.json` (or its
//! credential helper), through `RemoteClient::check_credentials` and `CredentialStore::store`.

use clap::Args;
use registry_client::core::auth::{CredentialStore, Secret, StoredIn};
use registry_client::core::Registry;
use registry_client::RemoteClient;

use crate::failure::Failure;
use crate::output::auth::{login_text, LoginJson};
use crate::output::{print, print_json};
use crate::settings::Settings;

/// What `regcli login --help` shows after the options.
const HELP: &str =
    "Check credentials against HOST and store them in docker's config.json ($DOCKER_CONFIG/config.json, else
~/.docker/config.json), through its credsStore / credHelpers when configured; other commands then use them.
The password is read from stdin only (one line), never from the command line.

Examples:
  echo \"$TOKEN\" | regcli login registry.example.com -u ci --password-stdin
  regcli login --insecure 127.0.0.1:5000 -u admin --password-stdin < password.txt";

/// Check credentials and store them in docker's config.json.
#[derive(Debug, Args)]
#[command(after_help = HELP)]
pub(crate) struct LoginArgs {
    /// The registry host (host[:port]; `docker.io` for Docker Hub; a scheme or path is dropped).
    pub(crate) host: String,
}

/// The registry `text` names: `host[:port]`, also written as `https://host[:port][/path]` as `docker login`
/// accepts it. A bad host is a usage error.
pub(crate) fn registry_of(text: &str) -> Result<Registry, Failure> {
    let rest = text.strip_prefix("https://").or_else(|| text.strip_prefix("http://")).unwrap_or(text);
    let host = rest.split('/').next().unwrap_or(rest);
    if host.is_empty() || host.contains(['@', ' ']) {
        return Err(Failure::usage(format!("registry {text:?}: not a registry host: use HOST[:PORT]")));
    }
    Registry::parse(host).map_err(|e| Failure::usage(format!("registry {text:?}: {e}")))
}

/// Run `regcli login`.
pub(crate) async fn run(args: LoginArgs, settings: Settings) -> Result<(), Failure> {
    let Some(login) = &settings.login else {
        return Err(Failure::usage("login needs -u USER --password-stdin"));
    };
    let registry = registry_of(&args.host)?;
    let store = CredentialStore::from_env().map_err(Failure::from_input)?;
    let client = RemoteClient::builder(registry.as_str())
        .insecure(settings.insecure)
        .tls_skip_verify(settings.tls_skip_verify)
        .basic_auth(login.username.clone(), login.password.clone())
        .build()
        .map_err(|e| Failure::usage(format!("registry {registry}: {e}")))?;
    client.check_credentials().await.map_err(|e| Failure::failed(format!("login {registry}: {e}")))?;
    let stored = store
        .store(&registry, &login.username, &Secret::new(login.password.clone()))
        .await
        .map_err(|e| Failure::failed(format!("login {registry}: the credentials are good but not stored: {e}")))?;
    let (file, helper) = match &stored {
        StoredIn::File(path) => (path.display().to_string(), None),
        StoredIn::Helper(name) => (store.file().display().to_string(), Some(name.as_str())),
        other => (format!("{other:?}"), None),
    };
    if settings.json() {
        print_json(&LoginJson {
            registry: registry.as_str(),
            username: &login.username,
            file,
            stored_in: if helper.is_some() { "helper" } else { "file" },
            helper,
        })
    } else {
        print(&login_text(registry.as_str(), &file, helper))?;
        Ok(())
    }
}
