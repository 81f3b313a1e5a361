//! The converge loop: read the account, diff, apply, and again, until the plan is empty
//! or the round limit is reached.

use std::fmt::Write as _;

use tokio_util::sync::CancellationToken;

use crate::apply::{ApplyReport, apply};
use crate::cloudflare::Client;
use crate::inventory::{self, Inventory};
use crate::manifest::{self, Manifest};
use crate::plan::{self, BlockedAppChange, Plan, PlanOptions};
use crate::safety::Safety;

/// How a reconcile runs.
#[derive(Debug, Clone)]
pub struct ReconcileOptions {
    /// The ownership id (the manifest's, or `--owner`).
    pub owner: String,
    /// Plan only; write nothing.
    pub dry_run: bool,
    /// Apply at most this many times before giving up.
    pub max_rounds: u32,
    /// `--convert-legacy` and the other choices the planner takes.
    pub plan: PlanOptions,
}

/// One apply and the plan it carried out.
#[derive(Debug, Clone)]
pub struct Round {
    /// The plan applied.
    pub plan: Plan,
    /// What the apply did.
    pub report: ApplyReport,
}

/// What a reconcile did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The plan of the first read: what was (or, dry, would be) changed.
    pub first_plan: Plan,
    /// The fingerprint of the first inventory read.
    pub fingerprint: String,
    /// Each apply.
    pub rounds: Vec<Round>,
    /// The plan after the last read: empty when converged (always, unless dry-run).
    pub final_plan: Plan,
}

impl Outcome {
    /// True when nothing mcp-access may do was left at the last read. The account
    /// matches the manifest unless [`Self::blocked`] has something.
    pub fn converged(&self) -> bool {
        self.final_plan.is_empty()
    }

    /// The app changes left undone at the last read because they are blocked (legacy
    /// policies, write-only secrets): they wait for a fix by hand.
    pub fn blocked(&self) -> &[BlockedAppChange] {
        &self.final_plan.blocked
    }
}

/// A reconcile that could not finish.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The manifest does not resolve against the account; nothing was written.
    #[error(transparent)]
    Manifest(#[from] manifest::ManifestError),
    /// Reading the account failed.
    #[error("reading the account failed: {0}")]
    Read(#[from] crate::cloudflare::Error),
    /// The account still differs after the last round.
    #[error("{}", not_converged(.rounds, .remaining, .last_report.as_ref()))]
    NotConverged {
        /// Rounds applied.
        rounds: u32,
        /// What is still to do.
        remaining: Box<Plan>,
        /// The last apply's report.
        last_report: Option<ApplyReport>,
    },
    /// Stopped by a signal between rounds.
    #[error("cancelled")]
    Cancelled,
    /// The safety checks refused the plan; nothing was written in this round.
    #[error("{message}")]
    Refused {
        /// What the plan would do, the limit, and the flag that allows it.
        message: String,
        /// The refused plan, to show.
        plan: Box<Plan>,
        /// The fingerprint of the inventory it was made from.
        fingerprint: String,
    },
}

#[allow(clippy::trivially_copy_pass_by_ref)] // thiserror passes fields by reference
fn not_converged(rounds: &u32, remaining: &Plan, report: Option<&ApplyReport>) -> String {
    let s = remaining.summary();
    let mut msg = format!(
        "the account did not converge after {rounds} round(s): still {} to create, {} to update, {} to attach, {} to detach, {} to delete",
        s.create, s.update, s.attach, s.detach, s.delete
    );
    if s.adopt > 0 {
        let _ = write!(msg, ", {} to adopt", s.adopt);
    }
    if let Some(report) = report.filter(|r| !r.is_complete()) {
        msg.push_str("\nlast apply: ");
        msg.push_str(&report.to_string());
    }
    msg.push_str("\nRun again to retry; every step is safe to repeat.");
    msg
}

/// Reads the account and plans against it; with `adopt` in the manifest (or from
/// `--adopt`), hand-made grants of its servers are taken over.
pub async fn plan_once(
    client: &Client,
    manifest: &Manifest,
    owner: &str,
) -> Result<(Inventory, Plan), ReconcileError> {
    plan_once_with(client, manifest, owner, &PlanOptions::default()).await
}

/// [`plan_once`] with the planner's `options`.
pub async fn plan_once_with(
    client: &Client,
    manifest: &Manifest,
    owner: &str,
    options: &PlanOptions,
) -> Result<(Inventory, Plan), ReconcileError> {
    let inventory = inventory::fetch(client).await?;
    let desired = manifest::resolve(manifest, owner, &inventory)?;
    // `adopt: true` in the manifest (or `--adopt`, or'ed into it) takes grants over.
    let options = PlanOptions {
        adopt: options.adopt || manifest.adopt,
        ..*options
    };
    let plan = plan::diff_with(&desired, &inventory, &options);
    Ok((inventory, plan))
}

/// Plans, applies, re-reads and re-plans until the plan is empty, at most
/// `max_rounds` applies. A dry run stops after the first plan. No safety checks: see
/// [`reconcile_with`].
pub async fn reconcile(
    client: &Client,
    manifest: &Manifest,
    options: &ReconcileOptions,
    cancel: &CancellationToken,
) -> Result<Outcome, ReconcileError> {
    reconcile_with(client, manifest, options, &Safety::unchecked(), cancel).await
}

/// [`reconcile`] with every plan filtered by `safety` (`upsert-only`) and, before each
/// apply, checked against its thresholds. A dry run is filtered, never refused.
pub async fn reconcile_with(
    client: &Client,
    manifest: &Manifest,
    options: &ReconcileOptions,
    safety: &Safety,
    cancel: &CancellationToken,
) -> Result<Outcome, ReconcileError> {
    let (inventory, first_plan) =
        plan_once_with(client, manifest, &options.owner, &options.plan).await?;
    let first_plan = safety.filter(first_plan);
    let fingerprint = inventory.fingerprint();
    let mut outcome = Outcome {
        final_plan: first_plan.clone(),
        first_plan,
        fingerprint,
        rounds: Vec::new(),
    };
    if options.dry_run {
        return Ok(outcome);
    }
    let mut rounds = 0;
    while !outcome.final_plan.is_empty() {
        if rounds >= options.max_rounds {
            return Err(ReconcileError::NotConverged {
                rounds,
                remaining: Box::new(outcome.final_plan),
                last_report: outcome.rounds.pop().map(|r| r.report),
            });
        }
        if cancel.is_cancelled() {
            return Err(ReconcileError::Cancelled);
        }
        if let Err(message) = safety.check(&outcome.final_plan) {
            return Err(ReconcileError::Refused {
                message: format!("Refusing to apply: {message}"),
                plan: Box::new(outcome.final_plan),
                fingerprint: outcome.fingerprint,
            });
        }
        rounds += 1;
        let report = apply(client, &outcome.final_plan, cancel).await;
        if !report.is_complete() {
            tracing::warn!(round = rounds, "apply incomplete:\n{report}");
        }
        outcome.rounds.push(Round {
            plan: outcome.final_plan.clone(),
            report,
        });
        if cancel.is_cancelled() {
            return Err(ReconcileError::Cancelled);
        }
        outcome.final_plan = safety.filter(
            plan_once_with(client, manifest, &options.owner, &options.plan)
                .await?
                .1,
        );
    }
    Ok(outcome)
}
