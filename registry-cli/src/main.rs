//! `regcli`: the command line for OCI / Docker registries: `sync` (mirror many images from a spec), `cp` (one
//! image between registries, layouts and archives), `demo` (a sync between two embedded registries).
//!
//! Every command is a thin layer over `registry-client`; this file parses the flags, sets up logging and the
//! runtime, and is the one exit path: an error is printed once to stderr as `regcli: <error>`, exit status 1 when
//! the run failed (an image, a copy, a request), 2 for usage and spec errors, 0 otherwise.

mod archives;
mod commands;
mod failure;
mod output;
mod progress;
mod refs;
mod sample;
mod settings;
mod signals;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::failure::{Failure, EXIT_USAGE};
use crate::settings::{Format, ProgressMode, Settings};

/// regcli: copy and mirror images between OCI / Docker registries, OCI layouts and archives.
#[derive(Debug, Parser)]
#[command(name = "regcli", version, about, propagate_version = true)]
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
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Mirror the images a sync spec (YAML) names: plan, then copy what differs.
    Sync(commands::sync::SyncArgs),
    /// Copy one image (a whole index by default) between registries, OCI layouts and archives.
    Cp(commands::cp::CpArgs),
    /// The main job on two embedded registries: seed one, sync it into the other (cold, then warm).
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
            let text = e.render().to_string();
            eprintln!("regcli: {}", text.trim_start_matches("error: ").trim_end());
            return ExitCode::from(EXIT_USAGE);
        }
    };
    init_logging(cli.global.verbose);
    let settings = Settings {
        insecure: cli.global.insecure,
        tls_skip_verify: cli.global.tls_skip_verify,
        format: cli.global.format,
        progress: cli.global.progress,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&Failure::failed(format!("cannot start the async runtime: {e}"))),
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Sync(args) => commands::sync::run(args, settings).await,
            Command::Cp(args) => commands::cp::run(args, settings).await,
            Command::Demo(args) => commands::demo::run(args, settings).await,
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

/// Tracing to stderr: warnings by default, info with -v, debug with -vv; `RUST_LOG` wins when set.
fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = match std::env::var("RUST_LOG") {
        Ok(value) if !value.is_empty() => EnvFilter::try_new(value).unwrap_or_else(|_| EnvFilter::new(level)),
        _ => EnvFilter::new(level),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
