//! The controller's Prometheus metrics: one struct owning its own registry (no global
//! one), fed by the loop after every reconcile and by the API client through
//! [`ApiObserver`].

use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::apply::ApplyReport;
use crate::cloudflare::ApiObserver;
use crate::notify::DeliveryObserver;
use crate::plan::{Cause, Plan};
use crate::reconcile::Outcome;

/// `Content-Type` of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabel {
    action: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CauseLabel {
    cause: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    endpoint: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabel {
    version: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModeLabel {
    mode: &'static str,
}

/// Every metric the controller exports, and the registry they are exported from.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ResultLabel, Counter>,
    reconcile_duration: Histogram,
    last_success: Gauge<f64, AtomicU64>,
    changes_applied: Family<ActionLabel, Counter>,
    pending_changes: Family<CauseLabel, Gauge>,
    managed_links: Gauge,
    unmanaged_grants: Gauge,
    manifest_valid: Gauge,
    api_requests: Family<RequestLabels, Counter>,
    api_retries: Counter,
    consecutive_failures: Gauge,
    mode: Family<ModeLabel, Gauge>,
    interval: Gauge<f64, AtomicU64>,
    drift_repaired: Counter,
    notifications: Family<ResultLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Every `result` label of `mcp_access_reconcile_total`, in the order its help lists
/// them. The controller's `classify` picks one of these for each failure.
pub const RESULTS: &[&str] = &[
    "success",
    "manifest_error",
    "api_error",
    "not_converged",
    "refused",
    "config_error",
    "cancelled",
];

impl Metrics {
    /// Creates the metrics and registers them under the `mcp_access_` prefix.
    // One registration per metric, in the order `/metrics` lists them: long, not complex.
    #[allow(clippy::too_many_lines)]
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("mcp_access");
        let reconciles = Family::<ResultLabel, Counter>::default();
        // Counters get `_total` appended by the encoder.
        registry.register(
            "reconcile",
            format!("Reconciles run, by result ({})", RESULTS.join(", ")),
            reconciles.clone(),
        );
        let reconcile_duration = Histogram::new(exponential_buckets(0.05, 2.0, 12));
        registry.register(
            "reconcile_duration_seconds",
            "Time one reconcile took, manifest read to last write",
            reconcile_duration.clone(),
        );
        let last_success = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "last_success_timestamp_seconds",
            "Unix time of the last successful reconcile",
            last_success.clone(),
        );
        let changes_applied = Family::<ActionLabel, Counter>::default();
        registry.register(
            "changes_applied",
            "Changes written to the account, by action (adopt, create, update, attach, detach, delete)",
            changes_applied.clone(),
        );
        let pending_changes = Family::<CauseLabel, Gauge>::default();
        registry.register(
            "pending_changes",
            "Changes the last reconcile found between the manifest and the account, by cause (manifest: its servers and exact references; membership: which apps its selectors match)",
            pending_changes.clone(),
        );
        for cause in [Cause::Manifest, Cause::Membership] {
            pending_changes
                .get_or_create(&CauseLabel {
                    cause: cause.label(),
                })
                .set(0);
        }
        let managed_links = Gauge::default();
        registry.register(
            "managed_links",
            "Server-to-app links managed by mcp-access, after the last successful reconcile",
            managed_links.clone(),
        );
        let unmanaged_grants = Gauge::default();
        registry.register(
            "unmanaged_grants",
            "Linked App Token grants mcp-access reports but does not own",
            unmanaged_grants.clone(),
        );
        let manifest_valid = Gauge::default();
        registry.register(
            "manifest_valid",
            "1 when the manifest last read was valid and resolved against the account, else 0",
            manifest_valid.clone(),
        );
        let api_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "api_requests",
            "Cloudflare API attempts, by method, endpoint and status (0: no response)",
            api_requests.clone(),
        );
        let api_retries = Counter::default();
        registry.register(
            "api_retries",
            "Cloudflare API attempts retried by the client",
            api_retries.clone(),
        );
        let consecutive_failures = Gauge::default();
        registry.register(
            "consecutive_failures",
            "Reconciles failed in a row; 0 after a success",
            consecutive_failures.clone(),
        );
        let mode = Family::<ModeLabel, Gauge>::default();
        registry.register(
            "mode",
            "Always 1; the mode label says whether the controller heals drift or only observes it",
            mode.clone(),
        );
        let interval = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "reconcile_interval_seconds",
            "The configured time between two reconciles (--interval)",
            interval.clone(),
        );
        let drift_repaired = Counter::default();
        registry.register(
            "drift_repaired",
            "Reconciles that found the account changed under an unchanged manifest and put it back",
            drift_repaired.clone(),
        );
        let notifications = Family::<ResultLabel, Counter>::default();
        registry.register(
            "notifications",
            "Notifications by result (delivered, failed: given up after retries, dropped: queue full), per target",
            notifications.clone(),
        );
        let build_info = Family::<VersionLabel, Gauge>::default();
        registry.register(
            "build_info",
            "Always 1; the version label says which build runs",
            build_info.clone(),
        );
        build_info
            .get_or_create(&VersionLabel {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        Self {
            registry,
            reconciles,
            reconcile_duration,
            last_success,
            changes_applied,
            pending_changes,
            managed_links,
            unmanaged_grants,
            manifest_valid,
            api_requests,
            api_retries,
            consecutive_failures,
            mode,
            interval,
            drift_repaired,
            notifications,
        }
    }

    /// Records the controller's settings: its mode and interval.
    pub(super) fn configure(&self, mode: &'static str, interval: Duration) {
        self.mode.get_or_create(&ModeLabel { mode }).set(1);
        self.interval.set(interval.as_secs_f64());
    }

    /// Counts a reconcile that repaired drift made in the account.
    pub(super) fn drift_repaired(&self) {
        self.drift_repaired.inc();
    }

    /// The metrics in the Prometheus text format (version 0.0.4).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry);
        text
    }

    /// Records a successful reconcile.
    pub(super) fn success(&self, outcome: &Outcome, took: Duration) {
        self.finished("success", took);
        self.manifest_valid.set(1);
        self.consecutive_failures.set(0);
        self.pending(&outcome.first_plan);
        self.managed_links
            .set(gauge_value(outcome.final_plan.managed_links));
        self.unmanaged_grants
            .set(gauge_value(outcome.final_plan.unmanaged.len()));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        self.last_success.set(now.as_secs_f64());
    }

    /// Sets `pending_changes` from a plan, by cause. A refused plan counts too: its
    /// changes are still pending.
    pub(super) fn pending(&self, plan: &Plan) {
        let by = plan.by_cause();
        for (cause, n) in [
            (Cause::Manifest, by.manifest),
            (Cause::Membership, by.membership),
        ] {
            self.pending_changes
                .get_or_create(&CauseLabel {
                    cause: cause.label(),
                })
                .set(gauge_value(n));
        }
    }

    /// Records a failed reconcile; `manifest_valid` is false for a manifest problem.
    pub(super) fn failure(&self, result: &'static str, manifest_valid: bool, took: Duration) {
        self.finished(result, took);
        if !manifest_valid {
            self.manifest_valid.set(0);
        }
        self.consecutive_failures.inc();
    }

    /// Counts the writes an apply made, by action.
    pub(super) fn applied(&self, report: &ApplyReport) {
        for (action, n) in [
            ("adopt", report.count("adopt")),
            ("create", report.count("create")),
            ("update", report.count("update")),
            ("attach", report.attached),
            ("detach", report.detached),
            ("delete", report.count("delete")),
        ] {
            self.changes_applied
                .get_or_create(&ActionLabel { action })
                .inc_by(n as u64);
        }
    }

    fn finished(&self, result: &'static str, took: Duration) {
        self.reconciles.get_or_create(&ResultLabel { result }).inc();
        self.reconcile_duration.observe(took.as_secs_f64());
    }
}

fn gauge_value(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl DeliveryObserver for Metrics {
    fn delivered(&self) {
        self.notified("delivered");
    }

    fn failed(&self) {
        self.notified("failed");
    }

    fn dropped(&self) {
        self.notified("dropped");
    }
}

impl Metrics {
    fn notified(&self, result: &'static str) {
        self.notifications
            .get_or_create(&ResultLabel { result })
            .inc();
    }
}

impl ApiObserver for Metrics {
    fn request(&self, method: &str, endpoint: &str, status: u16) {
        self.api_requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                endpoint: endpoint.to_owned(),
                status: status.to_string(),
            })
            .inc();
    }

    fn retry(&self) {
        self.api_retries.inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_issue_and_counters_end_in_total() {
        let metrics = Metrics::new();
        metrics.request("GET", "apps", 200);
        metrics.retry();
        metrics.failure("api_error", true, Duration::from_millis(20));
        let text = metrics.encode();
        for line in [
            "mcp_access_reconcile_total{result=\"api_error\"} 1",
            "mcp_access_api_requests_total{method=\"GET\",endpoint=\"apps\",status=\"200\"} 1",
            "mcp_access_api_retries_total 1",
            "mcp_access_consecutive_failures 1",
            "mcp_access_pending_changes{cause=\"manifest\"} 0",
            "mcp_access_pending_changes{cause=\"membership\"} 0",
            "mcp_access_reconcile_duration_seconds_count 1",
            "# TYPE mcp_access_reconcile_duration_seconds histogram",
            "# TYPE mcp_access_last_success_timestamp_seconds gauge",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
        let version = format!(
            "mcp_access_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        assert!(text.lines().any(|l| l == version), "{text}");
        assert!(
            text.lines().any(|l| l
                == "# HELP mcp_access_reconcile_total Reconciles run, by result (success, manifest_error, api_error, not_converged, refused, config_error, cancelled)."),
            "{text}"
        );
    }
}
