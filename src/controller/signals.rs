//! SIGTERM and SIGINT: the first asks for a graceful stop, the second ends the process
//! at once.

use tokio_util::sync::CancellationToken;

/// Exit code of a process ended by a second signal (128 + SIGINT, as shells report it).
pub const FORCED_EXIT: i32 = 130;

/// Installs the handlers and returns the token the first signal cancels. A second
/// signal exits the process with [`FORCED_EXIT`] without waiting for anything.
///
/// The handlers are installed before this returns, so a signal that arrives while the
/// first reconcile starts is never lost to the default action. Needs a Tokio runtime.
pub fn shutdown_on_signals() -> std::io::Result<CancellationToken> {
    let mut signals = Signals::install()?;
    let token = CancellationToken::new();
    let first = token.clone();
    tokio::spawn(async move {
        let name = signals.next().await;
        tracing::info!(
            signal = name,
            "stopping: no new reconcile; writes in flight finish (a second signal exits at once)"
        );
        first.cancel();
        let name = signals.next().await;
        tracing::warn!(signal = name, "second signal: exiting now");
        std::process::exit(FORCED_EXIT);
    });
    Ok(token)
}

#[cfg(unix)]
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    #[allow(clippy::unnecessary_wraps)]
    fn install() -> std::io::Result<Self> {
        Ok(Self)
    }

    async fn next(&mut self) -> &'static str {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}
