//! Run the in-process registry server until killed.
//!
//! ```text
//! cargo run -p mocks --example serve -- [ADDR] [--basic USER:PASS | --bearer USER:PASS]
//! cargo run -p mocks --example serve -- 127.0.0.1:5000
//! ```
//!
//! `ADDR` defaults to `127.0.0.1:5000`. Content lives in memory and is gone when the process ends.

use std::net::SocketAddr;

use mocks::server::RegistryServer;

const USAGE: &str = "usage: serve [ADDR] [--basic USER:PASS | --bearer USER:PASS]";

fn credentials(value: Option<String>) -> Result<(String, String), String> {
    let value = value.ok_or(USAGE)?;
    let (user, pass) = value.split_once(':').ok_or_else(|| format!("expected USER:PASS, got {value:?}"))?;
    Ok((user.to_string(), pass.to_string()))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut addr: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 5000));
    let mut builder = RegistryServer::builder();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--basic" => {
                let (user, pass) = credentials(args.next())?;
                builder = builder.basic_auth(user, pass);
            }
            "--bearer" => {
                let (user, pass) = credentials(args.next())?;
                builder = builder.bearer_auth(user, pass);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => addr = other.parse().map_err(|e| format!("invalid address {other:?}: {e}\n{USAGE}"))?,
        }
    }
    let server = builder.addr(addr).build_and_start().await?;
    println!("registry listening on {} (host {})", server.url(), server.host());
    std::future::pending::<()>().await;
    Ok(())
}
