//! Long-running mode (`mcp-access run`): reconcile now, then every interval (± jitter),
//! re-reading the manifest each time; back off after failures; serve `/healthz`,
//! `/readyz`, `/metrics` and the status page (`/`, `/status.json`); notify webhooks of
//! drift, failing streaks and recoveries; stop gracefully on SIGTERM or SIGINT. In
//! [`RunMode::Observe`] it plans and reports but never writes.
//!
//! [`Controller::reconcile_once`] is one cycle and returns what it did and when to run
//! next; [`Controller::run`] is the loop, a `select!` between shutdown and the timer.

pub mod metrics;
mod notices;
pub mod server;
pub mod settings_file;
pub mod signals;
pub mod status;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use clap::ValueEnum;
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::check::{self, Query};
use crate::cloudflare::{ApiSettings, Client};
use crate::manifest::{self, Manifest};
use crate::notify::{Cause, Notifier, NotifySettings, Source};
use crate::plan::text::Palette;
use crate::reconcile::{self, Outcome, ReconcileError, ReconcileOptions};
use crate::redact::Redactor;
use crate::safety::Safety;
use notices::{Found, Notices};
use status::{Changes, Run};

pub use metrics::Metrics;
pub use server::State;

/// The first wait after a failure; it doubles with each failure in a row, up to the
/// interval.
pub const BACKOFF_BASE: Duration = Duration::from_secs(5);

/// Whether the controller repairs drift or only reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum RunMode {
    /// Reconcile: put back whatever drifted.
    #[default]
    Heal,
    /// Read, plan and report drift (logs, metrics, `/readyz`, notifications); never
    /// write.
    Observe,
}

impl RunMode {
    /// `heal` or `observe`, as the flag, logs, metrics and events spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            RunMode::Heal => "heal",
            RunMode::Observe => "observe",
        }
    }
}

/// How `run` runs, validated.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Repair drift, or only report it.
    pub mode: RunMode,
    /// Where notifications go.
    pub notify: NotifySettings,
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
    /// The manifest digest of the last success: drift under the same manifest is the
    /// account's doing.
    applied_digest: Option<String>,
    failures: u32,
    notices: Notices,
    notifier: Option<Notifier>,
    /// Scrubs the token from what leaves the process in events.
    redactor: Redactor,
    /// The owner and account of the last manifest read, for events.
    seen_owner: Option<String>,
    seen_account: Option<String>,
}

impl Controller {
    /// A controller that has not run yet. `owner` is `--owner`, which wins over the
    /// manifest's.
    pub fn new(options: RunOptions, api: ApiSettings, owner: Option<String>) -> Self {
        let redactor = Redactor::for_token(api.token.as_ref());
        let state = Arc::new(State::new(options.interval, redactor.clone()));
        state
            .metrics
            .configure(options.mode.as_str(), options.interval);
        state.status().set_mode(options.mode.as_str());
        Self {
            notices: Notices::new(options.notify.after),
            options,
            api,
            owner,
            state,
            client: None,
            digest: None,
            applied_digest: None,
            failures: 0,
            notifier: None,
            redactor,
            seen_owner: None,
            seen_account: None,
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
        let targets: Vec<String> = self
            .options
            .notify
            .targets
            .iter()
            .map(|t| format!("{} ({})", t.redacted(), t.format.as_str()))
            .collect();
        tracing::info!(
            mode = self.options.mode.as_str(),
            interval = %humantime::format_duration(self.options.interval),
            jitter = %self.options.jitter,
            files = ?self.options.files,
            notify = ?targets,
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
                // Like `reconcile`: links left blocked make the one run a failure. Observe
                // mode makes no link at all: the blocked ones are in its report.
                let observing = self.options.mode == RunMode::Observe;
                break tick.result.and_then(|outcome| match outcome.blocked() {
                    [] => Ok(()),
                    _ if observing => Ok(()),
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
        if let Some(notifier) = self.notifier.take() {
            // Events of the last cycles get a moment to go out, never the whole grace
            // period: a dead receiver must not hold up a stop.
            notifier.close(NOTIFY_FLUSH.min(grace)).await;
        }
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
        self.start_notifier();
        let started = Instant::now();
        let started_at = SystemTime::now();
        let result = self.reconcile(cancel).await;
        let took = started.elapsed();
        let now = SystemTime::now();
        let metrics = &self.state.metrics;
        let duration_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
        let mut events = Vec::new();
        match &result {
            Ok(outcome) => {
                self.failures = 0;
                let mode = self.options.mode;
                let cause = match &self.applied_digest {
                    None => Cause::Unknown,
                    Some(before) if Some(before) == self.digest.as_ref() => Cause::Account,
                    Some(_) => Cause::Manifest,
                };
                self.applied_digest.clone_from(&self.digest);
                for round in &outcome.rounds {
                    metrics.applied(&round.report);
                }
                if !outcome.rounds.is_empty() && cause == Cause::Account {
                    metrics.drift_repaired();
                }
                metrics.success(outcome, took);
                // Observe mode: what heal mode would do with this plan, safety rails
                // included.
                let refused = (mode == RunMode::Observe && !outcome.first_plan.is_empty())
                    .then(|| self.options.safety.check(&outcome.first_plan).err())
                    .flatten();
                self.state.reconciled(true, true);
                self.state
                    .report(observed(mode, outcome, refused.as_deref()));
                log_success(outcome, duration_ms, mode, cause, refused.as_deref());
                let found = Found {
                    outcome,
                    mode,
                    cause,
                    refused,
                };
                events = self.notices.succeeded(&found, now, &self.source());
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
                    let message = self.redactor.scrub(&error.to_string()).into_owned();
                    events.extend(self.notices.failed(
                        label,
                        &cut(&message, MAX_ERROR_CHARS),
                        now,
                        &self.source(),
                    ));
                }
                metrics.failure(label, manifest_valid, took);
                self.state.reconciled(false, manifest_valid);
            }
        }
        self.show_run(&result, started_at, duration_ms);
        if let Some(notifier) = &self.notifier {
            for event in events {
                notifier.send(event);
            }
        }
        let requeue_after = if result.is_ok() {
            self.options.jitter.apply(self.options.interval)
        } else {
            backoff(
                self.failures,
                self.options.backoff_base,
                self.options.interval,
            )
        };
        if let Err(error) = &result {
            log_failure(error, duration_ms, self.failures, requeue_after);
        }
        Tick {
            result,
            requeue_after,
        }
    }

    /// Starts the notification tasks, once, from within the runtime.
    fn start_notifier(&mut self) {
        let settings = &self.options.notify;
        if self.notifier.is_some() || settings.targets.is_empty() {
            return;
        }
        match Notifier::start(
            &settings.targets,
            &settings.delivery,
            &self.redactor,
            self.state.metrics.clone(),
        ) {
            Ok(notifier) => self.notifier = Some(notifier),
            Err(why) => tracing::error!("notifications are off: {why}"),
        }
    }

    /// The controller as events name it.
    fn source(&self) -> Source {
        Source {
            owner: self.seen_owner.clone(),
            account_id: self.seen_account.clone(),
            mode: self.options.mode.as_str().to_owned(),
            version: crate::build_info::VERSION.to_owned(),
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
        let owner = manifest.owner_or(self.owner.as_deref());
        self.seen_owner = Some(owner.clone());
        let client = self.client(&manifest)?;
        self.seen_account = Some(client.config().account_id.clone());
        self.state
            .status()
            .running_with(&manifest.digest, &client.config().account_id, &owner);
        let options = ReconcileOptions {
            owner,
            // Observe mode plans (upsert-only filtering included) and stops there.
            dry_run: self.options.mode == RunMode::Observe,
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

/// How long the notifications queued at a stop get to go out.
const NOTIFY_FLUSH: Duration = Duration::from_secs(5);

/// An error message in an event is cut to this many characters.
const MAX_ERROR_CHARS: usize = 2_000;

/// `/readyz` shows at most this much of a pending plan.
const MAX_READYZ_PLAN: usize = 16 * 1024;

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max).collect();
    out.push_str("… (cut)");
    out
}

/// What `/readyz` says below `ready` after a success: nothing in heal mode; in observe
/// mode, the drift and the plan that would repair it.
fn observed(mode: RunMode, outcome: &Outcome, refused: Option<&str>) -> String {
    if mode == RunMode::Heal {
        return String::new();
    }
    let plan = &outcome.first_plan;
    let s = plan.summary();
    let mut detail =
        String::from("mode: observe (drift is reported, never repaired: nothing is written)\n");
    if !plan.differs() {
        detail.push_str("drift: none, the account matches the manifest\n");
        return detail;
    }
    let _ = write!(
        detail,
        "drift: {} change(s) pending: {} to create, {} to update, {} to attach, {} to detach, {} to delete",
        s.total(),
        s.create,
        s.update,
        s.attach,
        s.detach,
        s.delete
    );
    // Named only when there are some, as in the plan's summary line.
    if s.adopt > 0 {
        let _ = write!(detail, ", {} to adopt", s.adopt);
    }
    if s.convert > 0 {
        let _ = write!(detail, ", {} legacy to convert", s.convert);
    }
    if s.blocked > 0 {
        let _ = write!(
            detail,
            "; {} link change(s) blocked (heal mode could not make them either)",
            s.blocked
        );
    }
    detail.push('\n');
    if let Some(why) = refused {
        let _ = writeln!(detail, "heal mode would refuse them: {why}");
    }
    let mut text = Vec::new();
    let _ = crate::plan::text::render(plan, Palette::plain(), &mut text);
    detail.push('\n');
    detail.push_str(&cut(&String::from_utf8_lossy(&text), MAX_READYZ_PLAN));
    detail
}

/// The log line of a cycle that failed, was refused or was stopped by shutdown.
fn log_failure(error: &Error, duration_ms: u64, failures: u32, requeue_after: Duration) {
    if let Error::Reconcile(ReconcileError::Cancelled) = error {
        tracing::info!(
            result = "cancelled",
            duration_ms,
            "reconcile stopped by shutdown: writes in flight finished, none started after"
        );
    } else if let Error::Reconcile(ReconcileError::Refused { plan, .. }) = error {
        // Say what the refused plan would change, and why: a tag removed in the
        // dashboard shows as membership, a manifest cut by mistake as manifest.
        let by = plan.by_cause();
        tracing::warn!(
            result = "refused",
            duration_ms,
            pending_manifest = by.manifest,
            pending_membership = by.membership,
            consecutive_failures = failures,
            retry_in = %humantime::format_duration(requeue_after),
            "reconcile refused: {error}"
        );
    } else {
        tracing::warn!(
            result = classify(error).0,
            duration_ms,
            consecutive_failures = failures,
            retry_in = %humantime::format_duration(requeue_after),
            "reconcile failed: {error}"
        );
    }
}

fn log_success(
    outcome: &Outcome,
    duration_ms: u64,
    mode: RunMode,
    cause: Cause,
    refused: Option<&str>,
) {
    let drift = outcome.first_plan.summary();
    let by = outcome.first_plan.by_cause();
    let cause = cause.as_str();
    if mode == RunMode::Observe {
        // One event per cycle, as in heal mode: a warning while drift is pending.
        macro_rules! observe_event {
            ($lvl:ident, $msg:literal) => {
                tracing::$lvl!(
                    result = "success",
                    mode = "observe",
                    duration_ms,
                    drift = drift.total(),
                    drift_manifest = by.manifest,
                    drift_membership = by.membership,
                    cause,
                    pending_create = drift.create,
                    pending_update = drift.update,
                    pending_attach = drift.attach,
                    pending_detach = drift.detach,
                    pending_delete = drift.delete,
                    pending_adopt = drift.adopt,
                    pending_convert = drift.convert,
                    blocked = drift.blocked,
                    refused = refused.unwrap_or(""),
                    managed_links = outcome.final_plan.managed_links,
                    unmanaged_grants = outcome.final_plan.unmanaged.len(),
                    $msg
                )
            };
        }
        if outcome.first_plan.differs() {
            observe_event!(warn, "drift found, not repaired (observe mode)");
        } else {
            observe_event!(info, "reconcile finished");
        }
        log_blocked(outcome);
        return;
    }
    let count = |kind: &str| -> usize { outcome.rounds.iter().map(|r| r.report.count(kind)).sum() };
    let attached: usize = outcome.rounds.iter().map(|r| r.report.attached).sum();
    let detached: usize = outcome.rounds.iter().map(|r| r.report.detached).sum();
    tracing::info!(
        result = "success",
        mode = "heal",
        duration_ms,
        drift = drift.total(),
        drift_manifest = by.manifest,
        drift_membership = by.membership,
        cause,
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
    log_blocked(outcome);
}

/// One warning per app change left blocked (legacy policies, write-only secrets).
fn log_blocked(outcome: &Outcome) {
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
