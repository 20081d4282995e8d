//! `regcli`: the command line for OCI / Docker registries: `sync` (mirror many images from a spec), `cp` (one
//! image between registries, layouts and archives), everyday reads (`ls`, `catalog`, `digest`, `manifest`,
//! `config`, `inspect`, `referrers`), image work (`export`, `extract`, `mutate`, `validate`), writes (`tag`,
//! `delete`), credentials (`login`, `logout`), `serve` (an in-process registry), `completion` and `demo`.
//!
//! Every command is a thin layer over `registry-client` in its own file under `commands/`; this file parses the
//! flags, sets up logging and the runtime, and is the one exit path: an error is printed once to stderr as
//! `regcli: <error>`, exit status 1 when the run failed (an image, a copy, a request), 2 for usage and spec
//! errors, 0 otherwise.

mod archives;
mod commands;
mod failure;
mod output;
mod progress;
mod refs;
mod sample;
mod settings;
mod signals;

use std::io::BufRead;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::failure::{Failure, EXIT_USAGE};
use crate::settings::{Format, Login, ProgressMode, Settings};

/// regcli: copy and mirror images between OCI / Docker registries, OCI layouts and archives.
#[derive(Debug, Parser)]
#[command(
    name = "regcli",
    version,
    about,
    propagate_version = true,
    after_help = "References (REF): host/repo:tag, host/repo@sha256:<hex>, host/repo (latest), oci:DIR[:TAG|@sha256:<hex>],
oci-archive:FILE[:TAG], docker-archive:FILE[:repo:tag].
Credentials: docker's config.json and credential helpers, podman's auth.json, or -u USER --password-stdin.
Exit status: 0 success, 1 failure (a request, an image), 2 usage (a bad flag, reference or spec)."
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Flags every command takes, before or after the command's name.
#[derive(Debug, Args)]
struct GlobalArgs {
    /// Every registry named is plain HTTP (per host in a sync spec: `registries: {HOST: {insecure: true}}`).
    #[arg(long, global = true)]
    insecure: bool,
    /// Do not verify TLS certificates (for tests; prefer `ca:` in a sync spec).
    #[arg(long, global = true)]
    tls_skip_verify: bool,
    /// More logs on stderr: -v info, -vv debug (default: warnings; RUST_LOG, when set, decides instead).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Progress on stderr: auto (bars when stderr is a terminal), always (bars on a terminal; lines otherwise: no
    /// bar can be drawn elsewhere), never (one line per finished image).
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto, global = true)]
    progress: ProgressMode,
    /// What stdout gets: text, or one JSON document (nothing else).
    #[arg(long, value_enum, default_value_t = Format::Text, global = true)]
    format: Format,
    /// Username (with --password-stdin) for the one registry the command names, instead of docker's / podman's
    /// config files; a command naming a second registry host is refused.
    #[arg(short, long, global = true)]
    username: Option<String>,
    /// Read the password (or token) for --username from stdin (one line; a trailing newline is dropped).
    #[arg(long, global = true)]
    password_stdin: bool,
}

/// The commands; each one's help (summary, details, examples) is the doc comment and `after_help` of its Args
/// struct in `commands/<name>.rs`.
#[derive(Debug, Subcommand)]
enum Command {
    Sync(commands::sync::SyncArgs),
    Cp(commands::cp::CpArgs),
    Ls(commands::ls::LsArgs),
    Catalog(commands::catalog::CatalogArgs),
    Digest(commands::digest::DigestArgs),
    Manifest(commands::manifest::ManifestArgs),
    Config(commands::config::ConfigArgs),
    Inspect(commands::inspect::InspectArgs),
    Export(commands::export::ExportArgs),
    Extract(commands::extract::ExtractArgs),
    Mutate(commands::mutate::MutateArgs),
    Tag(commands::tag::TagArgs),
    Delete(commands::delete::DeleteArgs),
    Referrers(commands::referrers::ReferrersArgs),
    Validate(commands::validate::ValidateArgs),
    Login(commands::login::LoginArgs),
    Logout(commands::logout::LogoutArgs),
    Serve(commands::serve::ServeArgs),
    Completion(commands::completion::CompletionArgs),
    Demo(commands::demo::DemoArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            if !e.use_stderr() {
                // --help, --version.
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                // `regcli` alone, or a command missing its subcommand: the help, on stderr, exit 2.
                let _ = e.print();
                return ExitCode::from(EXIT_USAGE);
            }
            let text = e.render().to_string();
            eprintln!("regcli: {}", text.trim_start_matches("error: ").trim_end());
            return ExitCode::from(EXIT_USAGE);
        }
    };
    init_logging(cli.global.verbose);
    let login = match read_login(cli.global.username.as_deref(), cli.global.password_stdin) {
        Ok(login) => login,
        Err(failure) => return fail(&failure),
    };
    let settings = Settings {
        insecure: cli.global.insecure,
        tls_skip_verify: cli.global.tls_skip_verify,
        format: cli.global.format,
        progress: cli.global.progress,
        login,
    };
    if let Command::Completion(args) = cli.command {
        return match commands::completion::run(args, Cli::command()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(failure) => fail(&failure),
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&Failure::failed(format!("cannot start the async runtime: {e}"))),
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Sync(args) => commands::sync::run(args, settings).await,
            Command::Cp(args) => commands::cp::run(args, settings).await,
            Command::Ls(args) => commands::ls::run(args, settings).await,
            Command::Catalog(args) => commands::catalog::run(args, settings).await,
            Command::Digest(args) => commands::digest::run(args, settings).await,
            Command::Manifest(args) => commands::manifest::run(args, settings).await,
            Command::Config(args) => commands::config::run(args, settings).await,
            Command::Inspect(args) => commands::inspect::run(args, settings).await,
            Command::Export(args) => commands::export::run(args, settings).await,
            Command::Extract(args) => commands::extract::run(args, settings).await,
            Command::Mutate(args) => commands::mutate::run(args, settings).await,
            Command::Tag(args) => commands::tag::run(args, settings).await,
            Command::Delete(args) => commands::delete::run(args, settings).await,
            Command::Referrers(args) => commands::referrers::run(args, settings).await,
            Command::Validate(args) => commands::validate::run(args, settings).await,
            Command::Login(args) => commands::login::run(args, settings).await,
            Command::Logout(args) => commands::logout::run(args, settings).await,
            Command::Serve(args) => commands::serve::run(args, settings).await,
            Command::Demo(args) => commands::demo::run(args, settings).await,
            Command::Completion(_) => Ok(()),
        }
    });
    // Tasks still running (a copy cut short by a signal) are not waited for.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => fail(&failure),
    }
}

/// The one place an error is printed.
fn fail(failure: &Failure) -> ExitCode {
    eprintln!("regcli: {failure}");
    ExitCode::from(failure.code)
}

/// The longest password or token `--password-stdin` takes, in bytes (with its newline); registry tokens run to
/// a few KiB.
const MAX_PASSWORD_BYTES: u64 = 64 * 1024;

/// `--username` with `--password-stdin`: the password read from stdin (one line, its newline dropped). Either
/// without the other is a usage error, and so is an empty password.
fn read_login(username: Option<&str>, password_stdin: bool) -> Result<Option<Login>, Failure> {
    match (username, password_stdin) {
        (None, false) => Ok(None),
        (None, true) => Err(Failure::usage("--password-stdin needs --username")),
        (Some(_), false) => Err(Failure::usage("--username needs the password on stdin: add --password-stdin")),
        (Some(username), true) => {
            if username.is_empty() {
                return Err(Failure::usage("--username is empty"));
            }
            let mut password = String::new();
            let read = std::io::Read::take(std::io::stdin().lock(), MAX_PASSWORD_BYTES + 1)
                .read_line(&mut password)
                .map_err(|e| Failure::usage(format!("--password-stdin: cannot read stdin: {e}")))?;
            if read as u64 > MAX_PASSWORD_BYTES {
                return Err(Failure::usage(format!(
                    "--password-stdin: the first line of stdin is longer than {MAX_PASSWORD_BYTES} bytes: not a password"
                )));
            }
            let password = password.strip_suffix('\n').unwrap_or(&password);
            let password = password.strip_suffix('\r').unwrap_or(password).to_string();
            if password.is_empty() {
                return Err(Failure::usage("--password-stdin: stdin held no password"));
            }
            Ok(Some(Login::new(username.to_string(), password)))
        }
    }
}

/// Tracing to stderr: warnings by default, info with -v, debug with -vv; `RUST_LOG` wins when set. By default
/// the lines carry no timestamp or module path, and a request's retries are not shown (the final error says how
/// many attempts were made); -v shows them.
fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn,registry_core::transport::send=error",
        1 => "info",
        _ => "debug",
    };
    let filter = match std::env::var("RUST_LOG") {
        Ok(value) if !value.is_empty() => EnvFilter::try_new(value).unwrap_or_else(|_| EnvFilter::new(level)),
        _ => EnvFilter::new(level),
    };
    let plain = verbose == 0;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = if plain { builder.without_time().with_target(false).try_init() } else { builder.try_init() };
}
