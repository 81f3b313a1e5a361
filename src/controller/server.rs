//! The ops server on `--listen`: `/healthz` (the loop is alive), `/readyz` (the last
//! reconcile succeeded on a valid manifest; in observe mode, with the drift in the
//! body) and `/metrics` (Prometheus text).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State as Extract;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::metrics::{self, Metrics};

/// What the loop shares with the ops server.
#[derive(Debug)]
pub struct State {
    /// The metrics, also the API client's observer.
    pub metrics: Arc<Metrics>,
    interval: Duration,
    health: Mutex<Health>,
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
    pub fn new(interval: Duration) -> Self {
        Self {
            metrics: Arc::new(Metrics::new()),
            interval,
            health: Mutex::new(Health {
                last_tick: Instant::now(),
                last: Last::NotYet,
                stopping: false,
                detail: String::new(),
            }),
        }
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
        .with_state(state)
}

/// Serves the ops routes on `listener` until `stop` fires.
pub async fn serve(listener: TcpListener, state: Arc<State>, stop: CancellationToken) {
    let served = axum::serve(listener, router(state))
        .with_graceful_shutdown(stop.cancelled_owned())
        .await;
    if let Err(e) = served {
        tracing::error!(error = %e, "the ops server failed");
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
