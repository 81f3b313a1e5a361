//! Long-running mode (`mcp-access run`): reconcile now, then every interval (± jitter),
//! re-reading the manifest each time; back off after failures; serve `/healthz`,
//! `/readyz`, `/metrics` and the status page (`/`, `/status.json`); stop gracefully on
//! SIGTERM or SIGINT.
//!
//! [`Controller::reconcile_once`] is one cycle and returns what it did and when to run
//! next; [`Controller::run`] is the loop, a `select!` between shutdown and the timer.

pub mod metrics;
pub mod server;
pub mod signals;
pub mod status;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::check::{self, Query};
use crate::cloudflare::{ApiSettings, Client};
use crate::manifest::{self, Manifest};
use crate::reconcile::{self, Outcome, ReconcileError, ReconcileOptions};
use crate::redact::Redactor;
use crate::safety::Safety;
use status::{Changes, Run};

pub use metrics::Metrics;
pub use server::State;

/// The first wait after a failure; it doubles with each failure in a row, up to the
/// interval.
pub const BACKOFF_BASE: Duration = Duration::from_secs(5);

/// How `run` runs, validated.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Manifest files or directories, re-read every cycle.
    pub files: Vec<PathBuf>,
    /// Time between the starts of two reconciles.
    pub interval: Duration,
    /// Random spread of the interval, so many controllers do not tick together.
    pub jitter: Jitter,
    /// Where the ops server listens.
    pub listen: SocketAddr,
    /// Reconcile once and exit with its result; no ops server.
    pub once: bool,
    /// How long a stop waits for writes in flight.
    pub grace_period: Duration,
    /// The first wait after a failure ([`BACKOFF_BASE`]; tests make it shorter).
    pub backoff_base: Duration,
    /// Total time one API request may spend retrying before the cycle fails and the
    /// controller's backoff takes over ([`api_retry_deadline`] of the interval).
    pub api_retry_deadline: Duration,
    /// `--adopt`: take hand-made grants over (or'ed with the manifest's `adopt`).
    pub adopt: bool,
    /// The same safety rails as `reconcile`: a manifest emptied or cut by mistake is
    /// refused, not applied, and the refusal shows in `/readyz` and the metrics.
    pub safety: Safety,
    /// `--convert-legacy` and the planner's other choices, as for `reconcile`.
    pub plan: crate::plan::PlanOptions,
}

/// The default retry budget of one API request in a cycle: the interval, at most a
/// minute. Longer, and one request would hold up the loop and hide an outage from
/// `/readyz` and the metrics; the controller's backoff handles long outages.
pub fn api_retry_deadline(interval: Duration) -> Duration {
    interval.min(Duration::from_secs(60))
}

/// A fraction of the interval, written `10%`; at most 50%.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Jitter(f64);

impl Jitter {
    /// No jitter.
    pub const NONE: Jitter = Jitter(0.0);

    /// `interval` moved by a random amount within ± this fraction.
    pub fn apply(self, interval: Duration) -> Duration {
        interval.mul_f64(1.0 + self.0 * (fastrand::f64() * 2.0 - 1.0))
    }
}

impl FromStr for Jitter {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let number = s.trim().trim_end_matches('%').trim();
        let percent: f64 = number
            .parse()
            .map_err(|_| format!("jitter {s:?} is not a percentage like `10%`"))?;
        if !(0.0..=50.0).contains(&percent) {
            return Err(format!("jitter {s:?} must be between 0% and 50%"));
        }
        Ok(Jitter(percent / 100.0))
    }
}

impl std::fmt::Display for Jitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}%", self.0 * 100.0)
    }
}

/// The wait after `failures` failures in a row: `base` doubled for each failure after
/// the first, never more than `cap` (the interval).
pub fn backoff(failures: u32, base: Duration, cap: Duration) -> Duration {
    let doublings = failures.saturating_sub(1).min(20);
    base.saturating_mul(1 << doublings).min(cap)
}

/// What one cycle did, and when the next should start.
#[derive(Debug)]
pub struct Tick {
    /// The reconcile's outcome.
    pub result: Result<Outcome, Error>,
    /// The wait before the next cycle, counted from this one's start.
    pub requeue_after: Duration,
}

/// The long-running reconciler: its options, its client, and what it shares with the
/// ops server.
#[derive(Debug)]
pub struct Controller {
    options: RunOptions,
    api: ApiSettings,
    owner: Option<String>,
    state: Arc<State>,
    client: Option<Client>,
    digest: Option<String>,
    failures: u32,
}

impl Controller {
    /// A controller that has not run yet. `owner` is `--owner`, which wins over the
    /// manifest's.
    pub fn new(options: RunOptions, api: ApiSettings, owner: Option<String>) -> Self {
        let redactor = Redactor::for_token(api.token.as_ref());
        let state = Arc::new(State::new(options.interval, redactor));
        Self {
            options,
            api,
            owner,
            state,
            client: None,
            digest: None,
            failures: 0,
        }
    }

    /// The health and metrics the ops server serves.
    pub fn state(&self) -> Arc<State> {
        Arc::clone(&self.state)
    }

    /// Runs cycles until `shutdown` fires (or once, with `--once`), serving the ops
    /// routes on `listener` meanwhile. After `shutdown`, no new write starts; writes in
    /// flight get the grace period to finish.
    pub async fn run(
        mut self,
        listener: Option<TcpListener>,
        shutdown: CancellationToken,
    ) -> Result<(), Error> {
        let (stop_server, server_stopped) = tokio::sync::oneshot::channel();
        let server = match listener {
            Some(listener) => Some(server::spawn(listener, self.state(), server_stopped)?),
            None => None,
        };
        // When the stop was asked for: the ops server's drain must end within the grace
        // period counted from then.
        let grace_ends = tokio::spawn({
            let shutdown = shutdown.clone();
            let grace = self.options.grace_period;
            async move {
                shutdown.cancelled().await;
                Instant::now() + grace
            }
        });
        tracing::info!(
            interval = %humantime::format_duration(self.options.interval),
            jitter = %self.options.jitter,
            files = ?self.options.files,
            "controller started"
        );
        let grace = self.options.grace_period;
        let result = loop {
            let started = Instant::now();
            let tick = tokio::select! {
                tick = self.reconcile_once(&shutdown) => tick,
                () = grace_over(&shutdown, grace) => {
                    tracing::warn!(
                        grace_period = %humantime::format_duration(grace),
                        "grace period over; exiting with requests possibly in flight"
                    );
                    break Ok(());
                }
            };
            if self.options.once {
                // Like `reconcile`: links left blocked make the one run a failure.
                break tick.result.and_then(|outcome| match outcome.blocked() {
                    [] => Ok(()),
                    blocked => Err(Error::Blocked(crate::plan::blocked::not_made(
                        &outcome.final_plan.owner,
                        blocked,
                    ))),
                });
            }
            tokio::select! {
                () = shutdown.cancelled() => break Ok(()),
                () = tokio::time::sleep_until(started + tick.requeue_after) => {}
            }
        };
        self.state.stopping();
        let drain = if grace_ends.is_finished() {
            grace_ends.await.map_or(Duration::ZERO, |end| {
                end.saturating_duration_since(Instant::now())
            })
        } else {
            // `--once`, or a loop that ended on its own: nothing to wait for.
            grace_ends.abort();
            server::DRAIN
        };
        let _ = stop_server.send(drain);
        if let Some(server) = server {
            let _ = server.await;
        }
        tracing::info!("controller stopped");
        result
    }

    /// One cycle: read the manifest, reconcile, record metrics and health, log one
    /// event. Never panics on a failure; the failure is in the result.
    pub async fn reconcile_once(&mut self, cancel: &CancellationToken) -> Tick {
        self.state.tick();
        let started = Instant::now();
        let started_at = SystemTime::now();
        let result = self.reconcile(cancel).await;
        let took = started.elapsed();
        let metrics = &self.state.metrics;
        let duration_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
        match &result {
            Ok(outcome) => {
                self.failures = 0;
                for round in &outcome.rounds {
                    metrics.applied(&round.report);
                }
                metrics.success(outcome, took);
                self.state.reconciled(true, true);
                log_success(outcome, duration_ms);
            }
            Err(error) => {
                // NOTE: a reconcile that did not converge keeps only its last apply's
                // report; writes of earlier rounds of that reconcile are not counted.
                if let Error::Reconcile(ReconcileError::NotConverged {
                    last_report: Some(report),
                    ..
                }) = error
                {
                    metrics.applied(report);
                }
                if let Error::Reconcile(ReconcileError::Refused { plan, .. }) = error {
                    metrics.pending(plan);
                }
                let (label, manifest_valid) = classify(error);
                if label != "cancelled" {
                    self.failures += 1;
                }
                metrics.failure(label, manifest_valid, took);
                self.state.reconciled(false, manifest_valid);
            }
        }
        self.show_run(&result, started_at, duration_ms);
        let requeue_after = if result.is_ok() {
            self.options.jitter.apply(self.options.interval)
        } else {
            backoff(
                self.failures,
                self.options.backoff_base,
                self.options.interval,
            )
        };
        if let Err(Error::Reconcile(ReconcileError::Cancelled)) = &result {
            tracing::info!(
                result = "cancelled",
                duration_ms,
                "reconcile stopped by shutdown: writes in flight finished, none started after"
            );
        } else if let Err(error @ Error::Reconcile(ReconcileError::Refused { plan, .. })) = &result
        {
            // Say what the refused plan would change, and why: a tag removed in the
            // dashboard shows as membership, a manifest cut by mistake as manifest.
            let by = plan.by_cause();
            tracing::warn!(
                result = "refused",
                duration_ms,
                pending_manifest = by.manifest,
                pending_membership = by.membership,
                consecutive_failures = self.failures,
                retry_in = %humantime::format_duration(requeue_after),
                "reconcile refused: {error}"
            );
        } else if let Err(error) = &result {
            tracing::warn!(
                result = classify(error).0,
                duration_ms,
                consecutive_failures = self.failures,
                retry_in = %humantime::format_duration(requeue_after),
                "reconcile failed: {error}"
            );
        }
        Tick {
            result,
            requeue_after,
        }
    }

    async fn reconcile(&mut self, cancel: &CancellationToken) -> Result<Outcome, Error> {
        let mut manifest = manifest::load(&self.options.files)?;
        manifest.adopt |= self.options.adopt;
        if self.digest.as_deref() != Some(manifest.digest.as_str()) {
            tracing::info!(
                digest = %manifest.digest,
                previous = self.digest.as_deref().unwrap_or("none"),
                servers = manifest.servers.len(),
                "manifest loaded"
            );
            self.digest = Some(manifest.digest.clone());
        }
        let client = self.client(&manifest)?;
        let owner = manifest.owner_or(self.owner.as_deref());
        self.state
            .status()
            .running_with(&manifest.digest, &client.config().account_id, &owner);
        let options = ReconcileOptions {
            owner,
            dry_run: false,
            max_rounds: 3,
            plan: self.options.plan,
        };
        let outcome =
            reconcile::reconcile_with(&client, &manifest, &options, &self.options.safety, cancel)
                .await?;
        self.show_access(&manifest, &options.owner, &outcome);
        Ok(outcome)
    }

    /// Puts who can reach what, as the reconcile last read the account, on the status
    /// page: `check`'s answer for every grant and declared link.
    fn show_access(&self, manifest: &Manifest, owner: &str, outcome: &Outcome) {
        // It resolved a moment ago against the same read; if not, the page keeps the
        // previous view, with its time.
        let Ok(desired) = manifest::resolve(manifest, owner, &outcome.account) else {
            return;
        };
        let report = check::check(&outcome.account, &desired, &Query::default());
        let data = check::html::access_data(&report);
        self.state.status().set_access(SystemTime::now(), data);
    }

    /// Records a cycle for the status page: the run, and the drift it left.
    fn show_run(&self, result: &Result<Outcome, Error>, started_at: SystemTime, duration_ms: u64) {
        let mut changes = Changes::default();
        let mut status = self.state.status();
        let (label, drift, error) = match result {
            Ok(outcome) => {
                for round in &outcome.rounds {
                    changes.add(&round.report);
                }
                status.planned(Some((
                    &outcome.final_plan,
                    "the account changed again".into(),
                )));
                ("success", Some(outcome.first_plan.summary().total()), None)
            }
            Err(error) => {
                match error {
                    Error::Reconcile(ReconcileError::Refused { message, plan, .. }) => {
                        status.planned(Some((plan, message.clone())));
                    }
                    Error::Reconcile(ReconcileError::NotConverged {
                        remaining,
                        last_report,
                        ..
                    }) => {
                        if let Some(report) = last_report {
                            changes.add(report);
                        }
                        status.planned(Some((remaining, error.to_string())));
                    }
                    _ => {}
                }
                let drift = match error {
                    Error::Reconcile(ReconcileError::Refused { plan, .. }) => {
                        Some(plan.summary().total())
                    }
                    _ => None,
                };
                (classify(error).0, drift, Some(error.to_string()))
            }
        };
        status.record(Run {
            started_at: status::timestamp(started_at),
            duration_ms,
            result: label,
            drift,
            changes,
            error,
        });
    }

    /// The client for the manifest's account, kept between cycles (its rate limiter
    /// remembers) and rebuilt only when the account changes.
    fn client(&mut self, manifest: &Manifest) -> Result<Client, Error> {
        let account_id = self.api.account_id(manifest.account_id.as_deref())?;
        if let Some(client) = self.client.as_ref()
            && client.config().account_id == account_id
        {
            return Ok(client.clone());
        }
        let mut config = self.api.client_config(
            account_id,
            self.api.token()?,
            crate::cloudflare::Permission::Write,
        );
        config.retry_deadline = self.options.api_retry_deadline;
        // A daemon's stderr is a log, not a terminal to draw on.
        config.progress = false;
        let client = Client::with_observer(config, self.state.metrics.clone())?;
        self.client = Some(client.clone());
        Ok(client)
    }
}

/// The `reconcile_total` result label of a failure, and whether the manifest is still
/// valid after it.
fn classify(error: &Error) -> (&'static str, bool) {
    match error {
        Error::Manifest(_) => ("manifest_error", false),
        Error::Api(_) => ("api_error", true),
        Error::Reconcile(ReconcileError::Cancelled) => ("cancelled", true),
        // The safety rails stopped a plan: nothing is wrong with the API or the loop.
        Error::Reconcile(ReconcileError::Refused { .. }) => ("refused", true),
        Error::Reconcile(_) => ("not_converged", true),
        _ => ("config_error", true),
    }
}

fn log_success(outcome: &Outcome, duration_ms: u64) {
    let count = |kind: &str| -> usize { outcome.rounds.iter().map(|r| r.report.count(kind)).sum() };
    let attached: usize = outcome.rounds.iter().map(|r| r.report.attached).sum();
    let detached: usize = outcome.rounds.iter().map(|r| r.report.detached).sum();
    let by = outcome.first_plan.by_cause();
    tracing::info!(
        result = "success",
        duration_ms,
        drift = outcome.first_plan.summary().total(),
        drift_manifest = by.manifest,
        drift_membership = by.membership,
        rounds = outcome.rounds.len(),
        adopted = count("adopt"),
        created = count("create"),
        updated = count("update"),
        attached,
        detached,
        deleted = count("delete"),
        managed_links = outcome.final_plan.managed_links,
        unmanaged_grants = outcome.final_plan.unmanaged.len(),
        "reconcile finished"
    );
    for blocked in outcome.blocked() {
        let why: Vec<String> = blocked
            .blockers
            .iter()
            .map(crate::plan::Blocker::why)
            .collect();
        tracing::warn!(
            app = %blocked.app.uid,
            app_name = %blocked.app.name,
            links = %blocked.links(&outcome.final_plan.owner).join(", "),
            why = %why.join("; "),
            "app change blocked: not written (run `mcp-access plan` for the fix)"
        );
    }
}

/// Fires `grace` after `shutdown`.
async fn grace_over(shutdown: &CancellationToken, grace: Duration) {
    shutdown.cancelled().await;
    tokio::time::sleep(grace).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_interval() {
        let base = Duration::from_secs(5);
        let cap = Duration::from_secs(60);
        let waits: Vec<u64> = (1..=6).map(|n| backoff(n, base, cap).as_secs()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 60, 60]);
        assert_eq!(backoff(1000, base, cap), cap);
        // An interval shorter than the base caps the very first wait.
        assert_eq!(
            backoff(1, base, Duration::from_secs(1)),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn every_failure_result_is_one_the_metric_help_lists() {
        let refused = ReconcileError::Refused {
            message: "too many".into(),
            plan: Box::new(crate::plan::Plan {
                owner: "platform".into(),
                ..crate::plan::Plan::default()
            }),
            fingerprint: String::new(),
        };
        let errors = [
            Error::Config("x".into()),
            Error::Io(std::io::Error::other("x")),
            Error::Reconcile(ReconcileError::Cancelled),
            Error::Reconcile(refused),
            Error::UndeclaredAccess("x".into()),
        ];
        for error in &errors {
            let (label, _) = classify(error);
            assert!(metrics::RESULTS.contains(&label), "{label} for {error}");
        }
    }

    #[test]
    fn jitter_is_a_percentage_and_stays_within_it() {
        assert_eq!("10%".parse::<Jitter>(), Ok(Jitter(0.1)));
        assert_eq!("0".parse::<Jitter>(), Ok(Jitter::NONE));
        assert!("60%".parse::<Jitter>().is_err());
        assert!("ten".parse::<Jitter>().is_err());
        let jitter: Jitter = "10%".parse().unwrap();
        for _ in 0..1000 {
            let d = jitter.apply(Duration::from_secs(100));
            assert!(d >= Duration::from_secs(90) && d <= Duration::from_secs(110));
        }
        assert_eq!(
            Jitter::NONE.apply(Duration::from_secs(7)),
            Duration::from_secs(7)
        );
    }
}
