//! The generic notification event: one JSON document per thing worth telling a person
//! or a pipeline (drift repaired or found, a failing streak, a recovery). Its JSON
//! Schema is generated from these types ([`schema`]) and shipped as
//! `schema/event.schema.json`; a test keeps the two equal and checks events a real
//! controller sends against it. Additive changes keep `format_version` 1.

use std::fmt::Write as _;
use std::time::SystemTime;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plan::Plan;
use crate::plan::json::{Action, actions};

/// The version of the event layout this build sends.
pub const FORMAT_VERSION: u32 = 1;

/// At most this many changes are listed in one event; the counts are always complete.
pub const MAX_CHANGES: usize = 100;

/// Who made a change in the account, when the controller cannot know.
pub const BY_UNKNOWN: &str = "unknown";

/// One notification, as the `json` format sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "mcp-access event")]
pub struct Event {
    /// The layout version; 1 for this schema.
    pub format_version: u32,
    /// What happened.
    pub kind: Kind,
    /// When the controller saw it: RFC 3339, UTC, whole seconds.
    pub time: String,
    /// One sentence for people, e.g. for a chat message or a ticket title.
    pub summary: String,
    /// The controller that sends it.
    pub controller: Source,
    /// The drift, for `drift_repaired` and `drift_detected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<Drift>,
    /// The failure, for `reconcile_failing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// The streak that ended, for `recovered`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<Recovery>,
}

/// The kinds of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Heal mode: the account differed from the manifest and was put back.
    DriftRepaired,
    /// Observe mode: the account differs from the manifest; nothing was written. Sent
    /// when the set of pending changes is new, not on every cycle.
    DriftDetected,
    /// Reconciles failed (or the safety rails refused them) this many times in a row
    /// (`--notify-after`). Sent once per streak.
    ReconcileFailing,
    /// A reconcile succeeded after a streak that sent `reconcile_failing`.
    Recovered,
}

impl Kind {
    /// The snake-case name, as in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::DriftRepaired => "drift_repaired",
            Kind::DriftDetected => "drift_detected",
            Kind::ReconcileFailing => "reconcile_failing",
            Kind::Recovered => "recovered",
        }
    }
}

/// Which controller sends an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Source {
    /// The ownership id it manages; absent before a manifest was ever read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The Cloudflare account; absent before it was known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// `heal` (repairs drift) or `observe` (reports it, writes nothing).
    pub mode: String,
    /// The mcp-access version, e.g. `0.1.0`.
    pub version: String,
}

/// What moved, when the account and the manifest differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The manifest is the one of the last successful reconcile: someone or something
    /// changed the account.
    Account,
    /// The manifest changed since the last successful reconcile: these are (at least
    /// partly) its changes.
    Manifest,
    /// The first reconcile since the controller started: either may have moved.
    Unknown,
}

impl Cause {
    /// The snake-case name, as in the JSON and the logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Account => "account",
            Cause::Manifest => "manifest",
            Cause::Unknown => "unknown",
        }
    }
}

/// The changes between the manifest and the account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Drift {
    /// What moved.
    pub cause: Cause,
    /// Who changed the account. mcp-access does not read the account's audit log, so
    /// this is `unknown`; Cloudflare's audit log has the answer.
    pub by: String,
    /// How many changes of each kind.
    pub counts: Counts,
    /// The changes, in the plan's JSON action format (`schema/plan.schema.json`), at
    /// most 100.
    pub changes: Vec<Action>,
    /// Changes left out of `changes` to keep the event small.
    pub omitted: usize,
    /// Observe mode: why heal mode's safety rails would refuse to make these changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// Changes by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Counts {
    /// Policies created (or to create).
    pub create: usize,
    /// Policies put back.
    pub update: usize,
    /// Links added.
    pub attach: usize,
    /// Links removed.
    pub detach: usize,
    /// Policies deleted.
    pub delete: usize,
    /// Hand-made grants taken over (`--adopt`). Absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub adopt: usize,
    /// Legacy policies converted to reusable ones (`--convert-legacy`). Absent when
    /// none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub convert: usize,
    /// All of them.
    pub total: usize,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde passes fields by reference
fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A failing streak.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Failure {
    /// The last failure's `mcp_access_reconcile_total` result: `manifest_error`,
    /// `api_error`, `not_converged`, `refused` or `config_error`.
    pub result: String,
    /// The last failure's message (the API token never appears in it).
    pub error: String,
    /// Reconciles failed in a row so far.
    pub consecutive_failures: u32,
    /// When the streak began (RFC 3339).
    pub since: String,
}

/// A streak that ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Recovery {
    /// Reconciles that failed in a row before this success.
    pub failed_reconciles: u32,
    /// When the streak began (RFC 3339).
    pub since: String,
    /// Seconds from the first failure to this success.
    pub duration_seconds: u64,
}

/// The time as events write it.
pub fn timestamp(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

impl Event {
    fn new(kind: Kind, at: SystemTime, summary: String, controller: Source) -> Self {
        Self {
            format_version: FORMAT_VERSION,
            kind,
            time: timestamp(at),
            summary,
            controller,
            drift: None,
            failure: None,
            recovery: None,
        }
    }

    /// Drift repaired (`plans`: each apply's plan) or, in observe mode, found (`plans`:
    /// the one pending plan; `refused`: why heal mode would not apply it).
    pub fn drift(
        repaired: bool,
        cause: Cause,
        plans: &[&Plan],
        refused: Option<String>,
        at: SystemTime,
        controller: Source,
    ) -> Self {
        let all: Vec<Action> = plans.iter().flat_map(|p| actions(p)).collect();
        let mut counts = Counts {
            create: 0,
            update: 0,
            attach: 0,
            detach: 0,
            delete: 0,
            adopt: 0,
            convert: 0,
            total: all.len(),
        };
        for action in &all {
            match action {
                Action::Create { .. } => counts.create += 1,
                Action::Update { .. } => counts.update += 1,
                Action::Attach { .. } => counts.attach += 1,
                Action::Detach { .. } => counts.detach += 1,
                Action::Delete { .. } => counts.delete += 1,
                Action::Adopt { .. } => counts.adopt += 1,
                Action::Convert { .. } => counts.convert += 1,
            }
        }
        let mut tally = format!(
            "{} to create, {} to update, {} to attach, {} to detach, {} to delete",
            counts.create, counts.update, counts.attach, counts.detach, counts.delete
        );
        // Named only when there are some, as in the plan's summary line.
        if counts.adopt > 0 {
            let _ = write!(tally, ", {} to adopt", counts.adopt);
        }
        if counts.convert > 0 {
            let _ = write!(tally, ", {} to convert", counts.convert);
        }
        let whose = match cause {
            Cause::Account => "the account changed",
            Cause::Manifest => "the manifest changed",
            Cause::Unknown => "first reconcile since start",
        };
        let (kind, summary) = if repaired {
            (
                Kind::DriftRepaired,
                format!(
                    "mcp-access repaired {} change(s) ({whose}): {}",
                    counts.total,
                    tally.replace(" to ", " ")
                ),
            )
        } else {
            (
                Kind::DriftDetected,
                format!(
                    "mcp-access found {} change(s) pending ({whose}; observe mode, nothing written): {tally}",
                    counts.total
                ),
            )
        };
        let omitted = all.len().saturating_sub(MAX_CHANGES);
        let mut changes = all;
        changes.truncate(MAX_CHANGES);
        let mut event = Self::new(kind, at, summary, controller);
        event.drift = Some(Drift {
            cause,
            by: BY_UNKNOWN.to_owned(),
            counts,
            changes,
            omitted,
            refused,
        });
        event
    }

    /// `consecutive` reconciles failed in a row, the last with `result` and `error`.
    pub fn failing(
        result: &str,
        error: &str,
        consecutive: u32,
        since: SystemTime,
        at: SystemTime,
        controller: Source,
    ) -> Self {
        let summary = format!(
            "mcp-access reconciles are failing: {consecutive} in a row, the last with {result}"
        );
        let mut event = Self::new(Kind::ReconcileFailing, at, summary, controller);
        event.failure = Some(Failure {
            result: result.to_owned(),
            error: error.to_owned(),
            consecutive_failures: consecutive,
            since: timestamp(since),
        });
        event
    }

    /// A success after `failed` failures in a row that began at `since`.
    pub fn recovered(failed: u32, since: SystemTime, at: SystemTime, controller: Source) -> Self {
        let duration = at.duration_since(since).unwrap_or_default();
        let summary = format!(
            "mcp-access recovered: a reconcile succeeded after {failed} failure(s) over {}",
            humantime::format_duration(std::time::Duration::from_secs(duration.as_secs()))
        );
        let mut event = Self::new(Kind::Recovered, at, summary, controller);
        event.recovery = Some(Recovery {
            failed_reconciles: failed,
            since: timestamp(since),
            duration_seconds: duration.as_secs(),
        });
        event
    }
}

/// The JSON Schema of [`Event`], as shipped in `schema/event.schema.json`.
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Event)).unwrap_or_default()
}
