//! `mcp-access sim serve`: the Cloudflare Access API simulator, standalone.

use std::io::Write;

use super::Status;
use crate::Error;
use crate::sim::{Seed, SimConfig, Simulator};

/// `mcp-access sim serve`: a simulated account on `listen` until Ctrl-C (or SIGTERM).
pub(super) async fn run(
    listen: std::net::SocketAddr,
    config: SimConfig,
    seed: Seed,
) -> Result<Status, Error> {
    let sim = Simulator::bind(config, seed, listen)
        .await
        .map_err(|e| Error::Config(format!("cannot start the simulator: {e}")))?;
    let mut out = crate::output::stdout();
    writeln!(
        out,
        "Simulated Cloudflare Access API at {} ({} apps, {} policies). Point mcp-access at it:\n\
         export CLOUDFLARE_API_BASE_URL={}\n\
         export CLOUDFLARE_ACCOUNT_ID={}\n\
         export CLOUDFLARE_API_TOKEN={}\n\
         Press Ctrl-C to stop.",
        sim.base_url(),
        sim.apps().len(),
        sim.policies().len(),
        sim.base_url(),
        sim.account_id(),
        sim.token(),
    )?;
    out.flush()?;
    sim.run_until(shutdown_signal()).await;
    Ok(Status::Ok)
}

/// Resolves on Ctrl-C, or SIGTERM on Unix (how scripts and containers stop a server).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
