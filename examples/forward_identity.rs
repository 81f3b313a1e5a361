//! A reverse proxy for the MCP-server side of a Linked App Token setup: every request it
//! receives is forwarded to one downstream app with the user's identity, in the header the
//! downstream's Access policy expects.
//!
//! ```text
//! cargo run --example forward_identity -- \
//!     --mode self-hosted --listen 127.0.0.1:8080 --downstream https://api.internal.example/
//! ```
//!
//! Every flag can also come from the environment (`FORWARD_MODE`, `FORWARD_LISTEN`,
//! `FORWARD_DOWNSTREAM`); `RUST_LOG` sets the log level (default `info`).

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use mcp_access::forward::{ForwardMode, ProxyConfig, proxy_router};
use reqwest::Url;
use tracing_subscriber::EnvFilter;

/// Forward the user's Cloudflare Access identity from an MCP server to a downstream app.
#[derive(Debug, Parser)]
struct Cli {
    /// How the MCP server is deployed: `self-hosted` (identity from Cf-Access-Jwt-Assertion,
    /// sent as Cf-Access-Token) or `oidc-saas` (Authorization: Bearer, sent as is).
    #[arg(long, env = "FORWARD_MODE")]
    mode: ForwardMode,

    /// Address to listen on.
    #[arg(long, env = "FORWARD_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,

    /// Base URL of the downstream app; request paths are appended to its path.
    #[arg(long, env = "FORWARD_DOWNSTREAM")]
    downstream: Url,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let config = ProxyConfig::new(cli.mode, cli.downstream)?;
    let listener = tokio::net::TcpListener::bind(cli.listen).await?;
    tracing::info!(
        listen = %listener.local_addr()?,
        downstream = %config.downstream_base(),
        mode = %config.mode(),
        "forwarding identity from {} to {}",
        config.mode().incoming_header(),
        config.mode().downstream_header(),
    );
    axum::serve(listener, proxy_router(config))
        .with_graceful_shutdown(async {
            // If the signal handler cannot be installed, run until killed.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
        .await?;
    Ok(())
}
