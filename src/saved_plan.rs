//! Saved plans: `plan --out plan.json` writes the JSON plan with the manifest digest,
//! the inventory fingerprint and per-object fingerprints; `apply plan.json` re-reads the
//! account, refuses when it changed since, and otherwise applies exactly the saved
//! actions: what was reviewed is what is written.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;

use crate::apply::{ApplyReport, apply};
use crate::cloudflare::Client;
use crate::inventory::{self, Inventory};
use crate::plan::Plan;
use crate::plan::json::{FORMAT_VERSION, PlanDocument};
use crate::safety::Safety;

/// Why a saved plan was not applied.
#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    /// The file could not be read or written.
    #[error("saved plan {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not a plan this build understands.
    #[error("saved plan {}: not an mcp-access plan: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The account changed between plan and apply.
    #[error(
        "Saved plan is stale: the account changed since the plan was made ({changed}). Run plan again."
    )]
    Stale {
        /// Which objects changed.
        changed: String,
    },
    /// The manifests given to apply are other files than the plan was made from.
    #[error(
        "the saved plan was made from other manifests ({saved}) than the ones given ({given}). Pass the manifests it was made from, or none, or run plan again with these."
    )]
    OtherManifests {
        /// The files the plan was made from.
        saved: String,
        /// The files given to apply.
        given: String,
    },
    /// The manifest given to apply changed since the plan was made from it.
    #[error(
        "Saved plan is stale: the manifest changed since the plan was made (digest {saved} then, {now} now). Run plan again."
    )]
    ManifestChanged {
        /// The digest in the plan.
        saved: String,
        /// The digest of the files given now.
        now: String,
    },
    /// Reading the account failed.
    #[error("reading the account failed: {0}")]
    Read(#[from] crate::cloudflare::Error),
    /// The safety checks refused the plan; nothing was written.
    #[error("Refusing to apply: {message}")]
    Refused {
        /// Why.
        message: String,
        /// The refused plan, to show.
        plan: Box<Plan>,
    },
    /// Some writes failed; run plan again to see what is left.
    #[error(
        "the saved plan was applied only in part:\n{0}Run plan again: every step is safe to repeat."
    )]
    Incomplete(ApplyReport),
}

/// Writes `doc` to `path`, pretty-printed.
pub fn write(path: &Path, doc: &PlanDocument) -> Result<(), SavedPlanError> {
    let io = |source| SavedPlanError::Io {
        path: path.to_owned(),
        source,
    };
    let mut text = serde_json::to_string_pretty(doc).map_err(|e| io(std::io::Error::other(e)))?;
    text.push('\n');
    std::fs::write(path, text).map_err(io)
}

/// Reads a saved plan and checks its version.
pub fn read(path: &Path) -> Result<PlanDocument, SavedPlanError> {
    let text = std::fs::read_to_string(path).map_err(|source| SavedPlanError::Io {
        path: path.to_owned(),
        source,
    })?;
    let invalid = |reason: String| SavedPlanError::Invalid {
        path: path.to_owned(),
        reason,
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    match value
        .get("format_version")
        .and_then(serde_json::Value::as_u64)
    {
        Some(v) if v == u64::from(FORMAT_VERSION) => {}
        Some(v) => {
            return Err(invalid(format!(
                "format_version {v}; this mcp-access reads {FORMAT_VERSION}"
            )));
        }
        None => return Err(invalid("no format_version".into())),
    }
    serde_json::from_value(value).map_err(|e| invalid(e.to_string()))
}

/// Re-reads the account and applies the saved plan when nothing it depends on changed.
/// Writes nothing when the plan is stale or refused.
pub async fn apply_saved(
    client: &Client,
    doc: &PlanDocument,
    safety: &Safety,
    cancel: &CancellationToken,
) -> Result<(Plan, ApplyReport), SavedPlanError> {
    let inventory = inventory::fetch(client).await?;
    if !inventory.problems().is_empty() {
        let mut now = doc.to_plan();
        now.inventory_problems = inventory.problems().to_vec();
        return Err(SavedPlanError::Refused {
            message: now.refusal().unwrap_or_default(),
            plan: Box::new(now),
        });
    }
    if inventory.fingerprint() != doc.inventory_fingerprint {
        return Err(SavedPlanError::Stale {
            changed: changed_objects(&doc.objects, &inventory),
        });
    }
    let (plan, checked) = safety.guard(doc.to_plan());
    if let Err(message) = checked {
        return Err(SavedPlanError::Refused {
            message,
            plan: Box::new(plan),
        });
    }
    let report = apply(client, &plan, cancel).await;
    if !report.is_complete() {
        return Err(SavedPlanError::Incomplete(report));
    }
    Ok((plan, report))
}

/// Says which objects differ between the saved per-object fingerprints and now.
fn changed_objects(saved: &BTreeMap<String, String>, inventory: &Inventory) -> String {
    const SHOWN: usize = 10;
    if saved.is_empty() {
        return "the plan file has no per-object fingerprints to say which objects; it was not written by `plan --out`".to_owned();
    }
    let now = inventory.object_fingerprints();
    let describe = |key: &str| -> String {
        let (kind, id) = key.split_once(':').unwrap_or(("object", key));
        let name = match kind {
            "app" => inventory.app(id).map(|a| a.name().to_owned()),
            _ => inventory.policy(id).map(|p| p.name().to_owned()),
        };
        match name.filter(|n| !n.is_empty()) {
            Some(name) => format!("{kind} {name:?} ({id})"),
            None => format!("{kind} {id}"),
        }
    };
    let mut changes = Vec::new();
    for (key, hash) in &now {
        match saved.get(key) {
            None => changes.push(format!("{} added", describe(key))),
            Some(old) if old != hash => changes.push(format!("{} changed", describe(key))),
            Some(_) => {}
        }
    }
    for key in saved.keys().filter(|k| !now.contains_key(*k)) {
        changes.push(format!("{} removed", describe(key)));
    }
    let more = changes.len().saturating_sub(SHOWN);
    changes.truncate(SHOWN);
    let mut text = changes.join("; ");
    if more > 0 {
        let _ = write!(text, "; and {more} more");
    }
    text
}
