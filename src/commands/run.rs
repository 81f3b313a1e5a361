//! `mcp-access run`: install the signal handlers, bind the ops server (unless
//! `--once`), and run the [`Controller`] until a signal.

use crate::Error;
use crate::cloudflare::ApiSettings;
use crate::controller::{Controller, RunOptions, server, signals};

/// Runs the controller; returns when it stops (after one cycle with `--once`).
pub(super) async fn run(
    options: &RunOptions,
    api: &ApiSettings,
    owner: Option<&str>,
) -> Result<(), Error> {
    // The environment is read once: without a token no cycle could ever succeed.
    api.token()?;
    let shutdown = signals::shutdown_on_signals()?;
    let listener = if options.once {
        None
    } else {
        let listener = server::bind(options.listen).map_err(|e| {
            Error::Config(format!(
                "cannot listen on {} (--listen): {e}",
                options.listen
            ))
        })?;
        tracing::info!(
            addr = %listener.local_addr()?,
            "ops server listening: /healthz /readyz /metrics"
        );
        Some(listener)
    };
    let controller = Controller::new(options.clone(), api.clone(), owner.map(str::to_owned));
    controller.run(listener, shutdown).await
}
