//! What the controller shows about itself on `/` (a page) and `/status.json` (the same
//! data): its mode, the last reconciles (result, duration, drift, changes, error), the
//! drift still pending, and who can reach what, drawn with the building blocks of the
//! `check` report ([`crate::html`]).
//!
//! Read-only and nothing secret: it holds counts, plans and the account's names, never
//! a request or the token; the ops server passes every body through the token
//! redactor before it leaves.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::apply::ApplyReport;
use crate::html::access::AccessData;
use crate::html::{Document, Meta, text};
use crate::plan::Plan;

/// Reconciles kept for the page, newest first.
pub const KEPT: usize = 20;

/// Writes one reconcile made, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    /// Hand-made grants taken over (`--adopt`).
    pub adopted: usize,
    /// Policies created.
    pub created: usize,
    /// Policies updated.
    pub updated: usize,
    /// Links added to apps.
    pub attached: usize,
    /// Links removed from apps.
    pub detached: usize,
    /// Policies deleted.
    pub deleted: usize,
}

impl Changes {
    /// Adds what an apply did.
    pub fn add(&mut self, report: &ApplyReport) {
        self.adopted += report.count("adopt");
        self.created += report.count("create");
        self.updated += report.count("update");
        self.attached += report.attached;
        self.detached += report.detached;
        self.deleted += report.count("delete");
    }

    /// `created 2, attached 4`, or `none`.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = [
            ("adopted", self.adopted),
            ("created", self.created),
            ("updated", self.updated),
            ("attached", self.attached),
            ("detached", self.detached),
            ("deleted", self.deleted),
        ]
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(what, n)| format!("{what} {n}"))
        .collect();
        if parts.is_empty() {
            "none".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

/// One reconcile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Run {
    /// When it started (RFC 3339, UTC).
    pub started_at: String,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// `success`, or the failure, as the `reconcile_total` metric labels it.
    pub result: &'static str,
    /// Changes the first plan of the reconcile held (the drift it found); `None` when
    /// it failed before planning.
    pub drift: Option<usize>,
    /// Writes made.
    pub changes: Changes,
    /// Why it failed.
    pub error: Option<String>,
}

/// Drift the last reconcile left: a plan not applied (refused by the safety rails,
/// or not converged).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pending {
    /// When it was found.
    pub as_of: String,
    /// Why it is still pending.
    pub why: String,
    /// Changes it holds.
    pub changes: usize,
    /// The plan, as `plan` prints it.
    pub plan: String,
}

/// Who could reach what at a reconcile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccessView {
    /// When the account was read.
    pub as_of: String,
    /// The view's data (shared: every request reads the same).
    #[serde(serialize_with = "shared")]
    pub data: Arc<AccessData>,
}

fn shared<S: serde::Serializer>(data: &Arc<AccessData>, s: S) -> Result<S::Ok, S::Error> {
    data.as_ref().serialize(s)
}

/// What the ops server shows, kept by the loop.
#[derive(Debug, Clone)]
pub struct StatusLog {
    started_at: SystemTime,
    runs: VecDeque<Run>,
    pending: Option<Pending>,
    /// Whether the last reconcile that planned found the account matching.
    matched_at: Option<String>,
    access: Option<AccessView>,
    manifest_digest: Option<String>,
    account_id: Option<String>,
    owner: Option<String>,
    /// `heal` or `observe` (`run --mode`).
    mode: &'static str,
}

impl Default for StatusLog {
    fn default() -> Self {
        Self::new()
    }
}

/// The time in the format the page and the JSON use.
pub fn timestamp(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

impl StatusLog {
    /// Nothing reconciled yet.
    pub fn new() -> Self {
        Self {
            started_at: SystemTime::now(),
            runs: VecDeque::new(),
            pending: None,
            matched_at: None,
            access: None,
            manifest_digest: None,
            account_id: None,
            owner: None,
            mode: "heal",
        }
    }

    /// A reconcile finished.
    pub fn record(&mut self, run: Run) {
        self.runs.push_front(run);
        self.runs.truncate(KEPT);
    }

    /// The last reconcile planned and left nothing (`None`) or `plan` pending.
    pub fn planned(&mut self, pending: Option<(&Plan, String)>) {
        let now = timestamp(SystemTime::now());
        match pending {
            Some((plan, why)) if !plan.is_empty() => {
                let mut text = Vec::new();
                let _ =
                    crate::plan::text::render(plan, crate::plan::text::Palette::plain(), &mut text);
                self.pending = Some(Pending {
                    as_of: now,
                    why,
                    changes: plan.summary().total(),
                    plan: String::from_utf8_lossy(&text).into_owned(),
                });
                self.matched_at = None;
            }
            _ => {
                self.pending = None;
                self.matched_at = Some(now);
            }
        }
    }

    /// Which manifest, account and owner the loop runs with.
    pub fn running_with(&mut self, digest: &str, account_id: &str, owner: &str) {
        self.manifest_digest = Some(digest.to_owned());
        self.account_id = Some(account_id.to_owned());
        self.owner = Some(owner.to_owned());
    }

    /// The controller's mode, as `run --mode` spells it.
    pub fn set_mode(&mut self, mode: &'static str) {
        self.mode = mode;
    }

    /// Who could reach what in the account as read at `as_of`.
    pub fn set_access(&mut self, as_of: SystemTime, data: AccessData) {
        self.access = Some(AccessView {
            as_of: timestamp(as_of),
            data: Arc::new(data),
        });
    }

    /// The `/status.json` document; `live` and `ready` are the health checks' answers.
    pub fn document(
        &self,
        interval: Duration,
        live: Result<(), String>,
        ready: Result<(), &str>,
    ) -> StatusDocument {
        StatusDocument {
            version: crate::build_info::VERSION_LINE,
            mode: self.mode,
            started_at: timestamp(self.started_at),
            interval_seconds: interval.as_secs(),
            live: Check::of(live),
            ready: Check::of(ready.map_err(str::to_owned)),
            owner: self.owner.clone(),
            account_id: self.account_id.clone(),
            manifest_digest: self.manifest_digest.clone(),
            reconciles: self.runs.iter().cloned().collect(),
            matched_at: self.matched_at.clone(),
            pending: self.pending.clone(),
            access: self.access.clone(),
        }
    }
}

/// A health check's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Passing?
    pub ok: bool,
    /// Why not.
    pub reason: Option<String>,
}

impl Check {
    fn of(result: Result<(), String>) -> Self {
        match result {
            Ok(()) => Self {
                ok: true,
                reason: None,
            },
            Err(why) => Self {
                ok: false,
                reason: Some(why),
            },
        }
    }
}

/// `/status.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusDocument {
    /// The build: `0.1.0 (commit ...)`.
    pub version: &'static str,
    /// `heal` (repairs drift) or `observe` (reports it, never writes).
    pub mode: &'static str,
    /// When the controller started.
    pub started_at: String,
    /// `--interval`, in seconds.
    pub interval_seconds: u64,
    /// `/healthz`.
    pub live: Check,
    /// `/readyz`.
    pub ready: Check,
    /// The ownership id of the last reconcile.
    pub owner: Option<String>,
    /// Its account.
    pub account_id: Option<String>,
    /// Its manifest's digest.
    pub manifest_digest: Option<String>,
    /// The last reconciles, newest first (at most [`KEPT`]).
    pub reconciles: Vec<Run>,
    /// When the last reconcile that planned found nothing left to do.
    pub matched_at: Option<String>,
    /// Drift the last reconcile that planned left.
    pub pending: Option<Pending>,
    /// Who can reach what, as of the last successful reconcile.
    pub access: Option<AccessView>,
}

impl StatusDocument {
    /// The page.
    pub fn page(&self) -> String {
        let mut meta = vec![Meta::text("Running since", &self.started_at)];
        if let Some(account) = &self.account_id {
            meta.push(Meta::code("Account", account));
        }
        if let Some(digest) = &self.manifest_digest {
            meta.push(Meta::code("Manifest (SHA-256)", digest));
        }
        meta.push(Meta::text("By", format!("mcp-access {}", self.version)));
        let mut body = String::new();
        self.state(&mut body);
        self.runs(&mut body);
        self.pending(&mut body);
        match &self.access {
            Some(access) => {
                let _ = writeln!(
                    body,
                    "<p class=\"shown\">Who can reach what, as read at {}.</p>",
                    text(&access.as_of)
                );
                body.push_str(&crate::html::access::section(&access.data));
            }
            None => body.push_str(
                "<h2>Who can reach what</h2>\n<p>Shown after the first successful reconcile.</p>\n",
            ),
        }
        Document {
            title: "mcp-access controller".to_owned(),
            meta,
            body,
            connect_self: false,
        }
        .render()
    }

    fn state(&self, out: &mut String) {
        let check = |name: &str, check: &Check| {
            let (class, said) = match (&check.ok, &check.reason) {
                (true, _) => ("good", "yes".to_owned()),
                (false, Some(why)) => ("bad", format!("no: {why}")),
                (false, None) => ("bad", "no".to_owned()),
            };
            format!("<li class=\"{class}\">{name}: {}</li>", text(&said))
        };
        let _ = write!(
            out,
            "<section aria-labelledby=\"state-h\">\n<h2 id=\"state-h\">Controller</h2>\n<ul class=\"state\" id=\"state\">\n\
             {}\n{}\n<li>Mode: <strong>{}</strong> ({})</li>\n<li>Interval: {}</li>\n",
            check("Ready", &self.ready),
            check("Live", &self.live),
            text(self.mode),
            if self.mode == "observe" {
                "reports drift, never writes"
            } else {
                "repairs drift"
            },
            text(
                &humantime::format_duration(Duration::from_secs(self.interval_seconds)).to_string()
            ),
        );
        if let Some(owner) = &self.owner {
            let _ = writeln!(out, "<li>Owner: <code>{}</code></li>", text(owner));
        }
        out.push_str("</ul>\n</section>\n");
    }

    fn runs(&self, out: &mut String) {
        out.push_str(
            "<section aria-labelledby=\"runs-h\">\n<h2 id=\"runs-h\">Last reconciles</h2>\n",
        );
        if self.reconciles.is_empty() {
            out.push_str("<p id=\"reconciles\">None has finished yet.</p>\n</section>\n");
            return;
        }
        out.push_str(
            "<table class=\"runs\" id=\"reconciles\"><caption class=\"sr\">The last reconciles, newest first</caption>\n\
             <thead><tr><th scope=\"col\">Started</th><th scope=\"col\">Result</th><th scope=\"col\">Duration</th>\
             <th scope=\"col\">Drift found</th><th scope=\"col\">Changes made</th><th scope=\"col\">Error</th></tr></thead>\n<tbody>\n",
        );
        for run in &self.reconciles {
            let class = if run.result == "success" {
                "result-ok"
            } else {
                "result-bad"
            };
            let drift = run
                .drift
                .map_or_else(|| "not planned".to_owned(), |n| format!("{n} change(s)"));
            let _ = writeln!(
                out,
                "<tr><th scope=\"row\">{}</th><td class=\"{class}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                text(&run.started_at),
                text(run.result),
                text(
                    &humantime::format_duration(Duration::from_millis(run.duration_ms)).to_string()
                ),
                text(&drift),
                text(&run.changes.describe()),
                run.error
                    .as_deref()
                    .map_or_else(String::new, |e| format!("<code>{}</code>", text(e))),
            );
        }
        out.push_str("</tbody></table>\n</section>\n");
    }

    fn pending(&self, out: &mut String) {
        out.push_str(
            "<section aria-labelledby=\"pending-h\">\n<h2 id=\"pending-h\">Pending drift</h2>\n",
        );
        match (&self.pending, &self.matched_at) {
            (Some(p), _) => {
                let _ = writeln!(
                    out,
                    "<p id=\"pending\">{} change(s) found at {} and not applied: {}</p>\n<pre class=\"plan\">{}</pre>",
                    p.changes,
                    text(&p.as_of),
                    text(&p.why),
                    text(&p.plan)
                );
            }
            (None, Some(at)) => {
                let _ = writeln!(
                    out,
                    "<p id=\"pending\">None: the account matched the manifest at {}.</p>",
                    text(at)
                );
            }
            (None, None) => {
                out.push_str("<p id=\"pending\">Not known yet: no reconcile has planned.</p>\n");
            }
        }
        out.push_str("</section>\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_read_as_the_nonzero_counts() {
        let changes = Changes {
            created: 2,
            attached: 4,
            ..Changes::default()
        };
        assert_eq!(changes.describe(), "created 2, attached 4");
        assert_eq!(Changes::default().describe(), "none");
    }

    #[test]
    fn the_log_keeps_the_newest_runs_and_escapes_errors() {
        let mut log = StatusLog::new();
        for i in 0..(KEPT + 5) {
            log.record(Run {
                started_at: format!("t{i}"),
                duration_ms: 1,
                result: "api_error",
                drift: None,
                changes: Changes::default(),
                error: Some("<b>no</b>".into()),
            });
        }
        let doc = log.document(Duration::from_secs(60), Ok(()), Err("not yet"));
        assert_eq!(doc.reconciles.len(), KEPT);
        assert_eq!(doc.reconciles[0].started_at, format!("t{}", KEPT + 4));
        let page = doc.page();
        assert!(page.contains("<code>&lt;b&gt;no&lt;/b&gt;</code>"));
        assert!(page.contains("Ready: no: not yet"));
        assert!(page.contains("Not known yet"));
    }
}
