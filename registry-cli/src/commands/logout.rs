//! `regcli logout HOST`: credentials removed from docker's `config.json` (and its credential helper), through
//! `CredentialStore::erase`.

use clap::Args;
use registry_client::core::auth::CredentialStore;

use crate::commands::login::registry_of;
use crate::failure::Failure;
use crate::output::auth::{logout_text, LogoutJson};
use crate::output::{print, print_json};
use crate::settings::Settings;

/// What `regcli logout --help` shows after the options.
const HELP: &str =
    "Remove HOST's credentials from docker's config.json (every `auths` entry naming the host) and from its
credential helper when configured. Nothing stored for HOST is no error: it says so, as docker logout does.

Examples:
  regcli logout registry.example.com
  regcli logout 127.0.0.1:5000 --format json";

/// Remove a registry's stored credentials.
#[derive(Debug, Args)]
#[command(after_help = HELP)]
pub(crate) struct LogoutArgs {
    /// The registry host (host[:port]; `docker.io` for Docker Hub).
    pub(crate) host: String,
}

/// Run `regcli logout`.
pub(crate) async fn run(args: LogoutArgs, settings: Settings) -> Result<(), Failure> {
    let registry = registry_of(&args.host)?;
    let store = CredentialStore::from_env().map_err(Failure::from_input)?;
    let erased = store.erase(&registry).await.map_err(|e| Failure::failed(format!("logout {registry}: {e}")))?;
    let file = store.file().display().to_string();
    let helper = erased.helper.as_deref();
    if settings.json() {
        print_json(&LogoutJson {
            registry: registry.as_str(),
            file,
            was_logged_in: erased.was_logged_in(),
            keys_removed: &erased.keys,
            helper,
        })
    } else {
        print(&logout_text(registry.as_str(), &file, erased.was_logged_in(), helper))?;
        Ok(())
    }
}
