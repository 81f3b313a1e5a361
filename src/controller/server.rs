//! The ops server on `--listen`: `/healthz` (the loop is alive), `/readyz` (the last
//! reconcile succeeded on a valid manifest; in observe mode, with the drift in the
//! body), `/metrics` (Prometheus text), and the status page `/` with its data at
//! `/status.json` ([`super::status`]). Every route is read-only (GET and HEAD).
//!
//! It is served with hyper directly rather than `axum::serve`, which has no header-read
//! timeout and no connection limit: a client that opens a connection and sends half a
//! request would otherwise hold a file descriptor forever and keep a graceful stop
//! waiting. Here every connection must send its request head within
//! [`HEADER_READ_TIMEOUT`], at most [`MAX_CONNECTIONS`] are open at once (more wait in
//! the kernel's accept queue, which is [`BACKLOG`] deep), and a stop closes idle and
//! half-open connections at once and every other one after a short drain.
//!
//! The server runs on a thread of its own with a single-threaded runtime ([`spawn`]):
//! a flood of ops requests competes with the reconcile loop for the CPU at most, never
//! for the loop's runtime and its task queues.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State as Extract;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::metrics::{self, Metrics};
use super::status::{StatusDocument, StatusLog};
use crate::redact::Redactor;

/// What the loop shares with the ops server.
#[derive(Debug)]
pub struct State {
    /// The metrics, also the API client's observer.
    pub metrics: Arc<Metrics>,
    interval: Duration,
    health: Mutex<Health>,
    status: Mutex<StatusLog>,
    /// Scrubs the token from the status page and document.
    redactor: Redactor,
}

#[derive(Debug)]
struct Health {
    last_tick: Instant,
    last: Last,
    stopping: bool,
    /// Shown under `ready` by `/readyz`: in observe mode, the drift.
    detail: String,
}

/// How the last reconcile ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Last {
    NotYet,
    Succeeded,
    Failed,
    InvalidManifest,
}

impl State {
    /// Fresh state for a loop ticking every `interval`: alive, not ready yet.
    /// `redactor` scrubs what the status routes serve.
    pub fn new(interval: Duration, redactor: Redactor) -> Self {
        Self {
            metrics: Arc::new(Metrics::new()),
            interval,
            health: Mutex::new(Health {
                last_tick: Instant::now(),
                last: Last::NotYet,
                stopping: false,
                detail: String::new(),
            }),
            status: Mutex::new(StatusLog::new()),
            redactor,
        }
    }

    /// What the status page shows, for the loop to update.
    pub(super) fn status(&self) -> MutexGuard<'_, StatusLog> {
        // As for `health`: each update leaves the log consistent.
        self.status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The `/status.json` document as of now.
    pub fn status_document(&self) -> StatusDocument {
        let live = self.live();
        let ready = self.ready();
        self.status().document(self.interval, live, ready)
    }

    fn health(&self) -> MutexGuard<'_, Health> {
        // The data stays consistent even if a holder panicked: every write is one field.
        self.health
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The loop is alive right now.
    pub(super) fn tick(&self) {
        self.health().last_tick = Instant::now();
    }

    /// A reconcile finished.
    pub(super) fn reconciled(&self, ok: bool, manifest_valid: bool) {
        let mut health = self.health();
        health.last_tick = Instant::now();
        health.last = match (ok, manifest_valid) {
            (true, _) => Last::Succeeded,
            (false, true) => Last::Failed,
            (false, false) => Last::InvalidManifest,
        };
    }

    /// What `/readyz` shows under `ready` until the next success (in observe mode, the
    /// drift found).
    pub(super) fn report(&self, detail: String) {
        self.health().detail = detail;
    }

    /// What `/readyz` shows under `ready`.
    pub fn detail(&self) -> String {
        self.health().detail.clone()
    }

    /// Shutdown began: not ready for anything new.
    pub(super) fn stopping(&self) {
        self.health().stopping = true;
    }

    /// `Ok` when the loop ticked within the last three intervals; else why not.
    pub fn live(&self) -> Result<(), String> {
        let since = self.health().last_tick.elapsed();
        let limit = self.interval.saturating_mul(3);
        if since <= limit {
            Ok(())
        } else {
            Err(format!(
                "the reconcile loop last ticked {} ago (limit: 3 intervals, {})",
                humantime::format_duration(round(since)),
                humantime::format_duration(limit)
            ))
        }
    }

    /// `Ok` when the last reconcile succeeded and the manifest is valid; else why not.
    pub fn ready(&self) -> Result<(), &'static str> {
        let health = self.health();
        if health.stopping {
            return Err("shutting down");
        }
        match health.last {
            Last::Succeeded => Ok(()),
            Last::NotYet => Err("no reconcile has finished yet"),
            Last::InvalidManifest => {
                Err("the manifest is invalid; nothing is applied until it is fixed (see the logs)")
            }
            Last::Failed => Err("the last reconcile failed (see the logs)"),
        }
    }
}

fn round(d: Duration) -> Duration {
    Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The ops routes.
pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/", get(status_page))
        .route("/status.json", get(status_json))
        .with_state(state)
}

/// How long a client has to send a request head (the request line and headers), from
/// the moment the connection is open or idle between two requests. Probes and scrapers
/// send theirs at once; a client slower than this is dropped.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections served at once. The ops port has a handful of legitimate clients (the
/// kubelet's probes, one or two Prometheus scrapers); further connections wait in the
/// kernel's accept queue until one closes, so a flood costs no file descriptors.
pub const MAX_CONNECTIONS: usize = 256;

/// Connections the kernel queues for us beyond [`MAX_CONNECTIONS`] (capped by
/// `net.core.somaxconn`). Deep enough that a burst of a few thousand connections waits
/// instead of having SYNs dropped and retried a second later.
pub const BACKLOG: u32 = 4096;

/// Binds the ops port with a [`BACKLOG`]-deep accept queue. Needs a Tokio runtime.
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As std's `TcpListener::bind` does on Unix: a restarted controller can bind again
    // while old connections linger in TIME_WAIT.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Starts [`serve`] on a thread of its own, with its own single-threaded runtime.
/// The returned handle finishes when the server has stopped.
pub fn spawn(
    listener: TcpListener,
    state: Arc<State>,
    stop: oneshot::Receiver<Duration>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = listener.into_std()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("ops-server")
        .build()?;
    // A blocking-pool thread: awaitable from the loop's runtime, and the runtime waits
    // for it at exit.
    Ok(tokio::task::spawn_blocking(move || {
        runtime.block_on(async move {
            match TcpListener::from_std(listener) {
                Ok(listener) => serve(listener, state, stop).await,
                Err(e) => tracing::error!(error = %e, "the ops server cannot start"),
            }
        });
    }))
}

/// After a stop, how long connections with a request in flight get to finish before
/// they are dropped (never beyond the grace period).
pub const DRAIN: Duration = Duration::from_secs(1);

/// Serves the ops routes on `listener` until `stop` delivers the time left to drain
/// (or is dropped: no time). Then it stops accepting, closes idle connections, gives
/// the others that long (at most [`DRAIN`]) and drops whatever is still open.
pub async fn serve(listener: TcpListener, state: Arc<State>, stop: oneshot::Receiver<Duration>) {
    let router = router(state);
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let closing = CancellationToken::new();
    let mut connections = JoinSet::new();
    let mut stop = std::pin::pin!(stop);
    let drain = loop {
        // Wait for a free slot before accepting, so the limit holds fds too.
        let permit = tokio::select! {
            drain = &mut stop => break drain.unwrap_or_default(),
            permit = Arc::clone(&limit).acquire_owned() => permit.expect("never closed"),
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let accepted = tokio::select! {
            drain = &mut stop => break drain.unwrap_or_default(),
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _peer)) => {
                connections.spawn(connection(stream, router.clone(), permit, closing.clone()));
            }
            Err(e) => {
                // Out of fds, or a connection reset before it was accepted: do not spin.
                tracing::warn!(error = %e, "the ops server cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    drop(listener);
    closing.cancel();
    let drained = tokio::time::timeout(drain.min(DRAIN), async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::debug!(
            open = connections.len(),
            "ops server: dropping connections still open after the drain"
        );
        connections.shutdown().await;
    }
}

/// Serves one connection (HTTP/1.1, keep-alive) until the client closes it, it breaks
/// a timeout, or `closing` fires (then it ends after its request in flight, if any).
async fn connection(
    stream: TcpStream,
    router: Router,
    _permit: OwnedSemaphorePermit,
    closing: CancellationToken,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(router));
    let mut conn = std::pin::pin!(conn);
    let served = tokio::select! {
        served = conn.as_mut() => served,
        () = closing.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = served {
        // Timeouts and clients that hang up are routine on a port anyone can reach.
        tracing::debug!(error = %e, "ops server connection ended");
    }
}

async fn healthz(Extract(state): Extract<Arc<State>>) -> impl IntoResponse {
    match state.live() {
        Ok(()) => (StatusCode::OK, "ok\n".to_owned()),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")),
    }
}

async fn readyz(Extract(state): Extract<Arc<State>>) -> impl IntoResponse {
    match state.ready() {
        // Observe mode: still ready while drift is pending; the body says what drifted.
        Ok(()) => (StatusCode::OK, format!("ready\n{}", state.detail())),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        ),
    }
}

async fn metrics(Extract(state): Extract<Arc<State>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        state.metrics.encode(),
    )
}

/// Headers of the status routes: never cached, never sniffed or framed; the page may
/// run only its own inline code.
fn status_headers(content_type: &'static str) -> [(header::HeaderName, String); 5] {
    [
        (header::CONTENT_TYPE, content_type.to_owned()),
        (header::CACHE_CONTROL, "no-store".to_owned()),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        (header::REFERRER_POLICY, "no-referrer".to_owned()),
        (
            header::CONTENT_SECURITY_POLICY,
            crate::html::page::content_security_policy(false),
        ),
    ]
}

async fn status_page(Extract(state): Extract<Arc<State>>) -> impl IntoResponse {
    let page = state.status_document().page();
    (
        status_headers("text/html; charset=utf-8"),
        state.redactor.scrub(&page).into_owned(),
    )
}

async fn status_json(Extract(state): Extract<Arc<State>>) -> impl IntoResponse {
    let mut json =
        serde_json::to_string_pretty(&state.status_document()).expect("plain data serialises");
    json.push('\n');
    (
        status_headers("application/json"),
        state.redactor.scrub(&json).into_owned(),
    )
}
