//! `plan`, `reconcile` and `apply`: plan (filtered and checked by the safety rails),
//! save, apply, and report in the chosen format and to GitHub.

use std::io::Write;
use std::path::Path;

use tokio_util::sync::CancellationToken;

use super::Status;
use crate::Error;
use crate::cloudflare::Client;
use crate::config::Config;
use crate::manifest::Manifest;
use crate::output::{self, OutputFormat, Report, failure_markdown};
use crate::plan::json::PlanDocument;
use crate::reconcile::{self, ReconcileError, ReconcileOptions};
use crate::saved_plan::{self, SavedPlanError};
use crate::{error_report, github};

/// `plan`: read, diff, filter, check (a refusal is shown, not an error), save.
pub(super) async fn plan(
    config: &Config,
    client: &Client,
    manifest: &Manifest,
    options: &ReconcileOptions,
    out: Option<&Path>,
) -> Result<Status, Error> {
    let (inventory, plan) =
        reconcile::plan_once_with(client, manifest, &options.owner, &options.plan).await?;
    client.progress().finish_and_clear();
    let (plan, checked) = config.safety.guard(plan);
    let mut report = Report::new(plan, inventory.fingerprint(), manifest.digest.clone());
    report.account_id = Some(client.config().account_id.clone());
    report.refused = checked
        .err()
        .map(|why| format!("apply will refuse this plan: {why}"));
    if let Some(path) = out {
        let mut doc = report.document();
        doc.objects = inventory.object_fingerprints();
        doc.manifest_files = manifest_files(manifest);
        saved_plan::write(path, &doc)?;
    }
    let status = if config.exit_code && report.plan.differs() {
        Status::ChangesPending
    } else {
        Status::Ok
    };
    report.emit(config.output, exit_code(status), &config.redactor)?;
    Ok(status)
}

/// `reconcile` (and `apply` without a saved plan).
pub(super) async fn reconcile(
    config: &Config,
    client: &Client,
    manifest: &Manifest,
    options: &ReconcileOptions,
) -> Result<Status, Error> {
    let cancel = CancellationToken::new();
    let result =
        reconcile::reconcile_with(client, manifest, options, &config.safety, &cancel).await;
    client.progress().finish_and_clear();
    let account_id = Some(client.config().account_id.clone());
    match result {
        Ok(outcome) => {
            let mut report = Report::from_outcome(&outcome, manifest.digest.clone());
            report.account_id = account_id;
            if outcome.blocked().is_empty() {
                report.emit(config.output, 0, &config.redactor)?;
                return Ok(Status::Ok);
            }
            // Everything else was applied; the blocked links make it a failure.
            report.emit(config.output, 1, &config.redactor)?;
            Err(Error::Blocked(crate::plan::blocked::not_made(
                &outcome.final_plan.owner,
                outcome.blocked(),
            )))
        }
        Err(e) => {
            if let ReconcileError::Refused {
                message,
                plan,
                fingerprint,
            } = &e
            {
                // The refused plan is still shown, so the reviewer sees what was stopped.
                let mut report = Report::new(
                    (**plan).clone(),
                    fingerprint.clone(),
                    manifest.digest.clone(),
                );
                report.account_id = account_id;
                report.refused = Some(message.clone());
                report.emit(config.output, 1, &config.redactor)?;
            }
            Err(e.into())
        }
    }
}

/// Refuses a saved plan made from other manifests than the ones given: other files
/// (when the plan records them), or the same files changed since.
pub(super) fn check_manifest(doc: &PlanDocument, manifest: &Manifest) -> Result<(), Error> {
    if manifest.digest == doc.manifest_digest {
        return Ok(());
    }
    let given = manifest_files(manifest);
    if !doc.manifest_files.is_empty() && doc.manifest_files != given {
        return Err(SavedPlanError::OtherManifests {
            saved: doc.manifest_files.join(", "),
            given: given.join(", "),
        }
        .into());
    }
    Err(SavedPlanError::ManifestChanged {
        saved: short(&doc.manifest_digest),
        now: short(&manifest.digest),
    }
    .into())
}

/// The manifest's files as a saved plan records them: as given, without a leading `./`.
fn manifest_files(manifest: &Manifest) -> Vec<String> {
    manifest
        .files
        .iter()
        .map(|p| {
            let shown = p.display().to_string();
            shown
                .strip_prefix("./")
                .map_or(shown.clone(), str::to_owned)
        })
        .collect()
}

/// `apply PLAN`.
pub(super) async fn apply_saved(
    config: &Config,
    client: &Client,
    doc: &PlanDocument,
    path: &Path,
) -> Result<Status, Error> {
    let cancel = CancellationToken::new();
    let result = saved_plan::apply_saved(client, doc, &config.safety, &cancel).await;
    client.progress().finish_and_clear();
    let mut report = Report::new(
        doc.to_plan(),
        doc.inventory_fingerprint.clone(),
        doc.manifest_digest.clone(),
    );
    report.account_id.clone_from(&doc.account_id);
    match result {
        Ok((plan, applied)) => {
            report.plan = plan;
            let summary = format!(
                "Applied {} write(s) from the saved plan {}.",
                applied.done.len(),
                path.display()
            );
            report.applied(&[&applied], summary);
            if report.plan.blocked.is_empty() {
                report.emit(config.output, 0, &config.redactor)?;
                return Ok(Status::Ok);
            }
            report.emit(config.output, 1, &config.redactor)?;
            Err(Error::Blocked(crate::plan::blocked::not_made(
                &report.plan.owner,
                &report.plan.blocked,
            )))
        }
        Err(e) => {
            match &e {
                SavedPlanError::Refused { message, plan } => {
                    report.plan = (**plan).clone();
                    report.refused = Some(format!("Refusing to apply: {message}"));
                    report.emit(config.output, 1, &config.redactor)?;
                }
                SavedPlanError::Incomplete(applied) => {
                    report.applied(
                        &[applied],
                        "The saved plan was applied only in part.".into(),
                    );
                    report.emit(config.output, 1, &config.redactor)?;
                }
                _ => {}
            }
            Err(e.into())
        }
    }
}

/// Passes `result` through. A failure the command has not reported yet (every one but a
/// refused or partly applied plan, which were printed as plans) gets a short Markdown
/// report: on stdout with `--output markdown`, so the pull-request comment made from
/// it shows the error instead of going empty, and in `$GITHUB_STEP_SUMMARY`.
pub(super) fn report_failure(
    config: &Config,
    what: &str,
    result: Result<Status, Error>,
) -> Result<Status, Error> {
    let Err(error) = &result else {
        return result;
    };
    let reported = matches!(
        error,
        Error::Reconcile(ReconcileError::Refused { .. })
            | Error::SavedPlan(SavedPlanError::Refused { .. } | SavedPlanError::Incomplete(_))
    );
    if !reported {
        let heading = format!("mcp-access {what} failed");
        let rendered = error_report::render(error, false);
        let markdown = failure_markdown(&heading, &config.redactor.scrub(&rendered));
        // The error itself is what matters; failing to show it twice is no new error.
        if config.output == OutputFormat::Markdown {
            let mut out = output::stdout();
            let _ = out
                .write_all(markdown.as_bytes())
                .and_then(|()| out.flush());
        }
        let _ = github::publish(&markdown, None, 1, &config.redactor, &|k| {
            std::env::var(k).ok()
        });
    }
    result
}

fn exit_code(status: Status) -> u8 {
    match status {
        Status::Ok => 0,
        Status::ChangesPending => 2,
    }
}

fn short(digest: &str) -> String {
    digest.chars().take(12).collect()
}
