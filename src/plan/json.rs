//! The JSON plan for machines: one versioned document (`"format_version": 1`) that is
//! both what `--output json` prints and what `plan --out` saves for `apply`.
//!
//! Its JSON Schema is generated from these types ([`schema`]) and shipped as
//! `schema/plan.schema.json`; a test keeps the two equal. Additive changes (a new
//! optional field) keep version 1; anything a consumer could misread bumps it.

use std::collections::BTreeMap;
use std::io::{self, Write};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    AdoptPolicy, AppChange, AppView, Attach, BlockedAppChange, ByCause, Cause, ConvertLegacy,
    CreatePolicy, DeletePolicy, Detach, LegacyPolicy, NotAdopted, Plan, PolicyBody, PolicyRef,
    SelectionView, ServerView, UnmanagedGrant, UpdatePolicy, ownership,
};

/// The version of the document layout this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// A plan as JSON: the resolved servers, every action, the unmanaged grants, counts,
/// and what the plan was made from (inventory fingerprint, manifest digest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "mcp-access plan")]
pub struct PlanDocument {
    /// The layout version; 1 for this schema.
    pub format_version: u32,
    /// The mcp-access build that wrote the document (absent in documents of builds that
    /// predate the field). Informational: `apply` reads a plan written by any build of the same
    /// `format_version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<Generator>,
    /// The ownership id the plan manages (in every managed policy name).
    pub owner: String,
    /// The Cloudflare account the plan was made against, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Hex SHA-256 over the normalised apps-and-policies state the plan was made from.
    /// `apply` of a saved plan refuses when the account no longer has this fingerprint.
    pub inventory_fingerprint: String,
    /// Hex SHA-256 of the manifest files the plan was made from.
    pub manifest_digest: String,
    /// The manifest files the plan was made from, as given, written by `plan --out` so
    /// `apply` can tell other files from changed ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manifest_files: Vec<String>,
    /// The MCP servers of the manifest, resolved, with their downstream apps and the
    /// header each forwards downstream.
    pub servers: Vec<ServerView>,
    /// Every change, in the order apply makes them: legacy-policy conversions,
    /// adoptions, creates, updates, attaches and detaches (one app write per app),
    /// deletes.
    pub actions: Vec<Action>,
    /// App changes that are not made, with what blocks each and how to fix it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<BlockedChange>,
    /// Links the read cannot vouch for (to a policy neither in the reusable list nor
    /// app-scoped on that app); while there is one, apply refuses the plan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inventory_problems: Vec<crate::inventory::links::UnknownLink>,
    /// Set when applying the plan would take the account past its reusable-policy
    /// limit; apply refuses the plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over_policy_limit: Option<super::OverPolicyLimit>,
    /// Linked-token grants mcp-access reports but does not own.
    pub unmanaged: Vec<UnmanagedGrant>,
    /// With `--adopt`: hand-made grants of manifest servers that are not adopted, each
    /// with the reason, so a reviewer can fix them by hand.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_adopted: Vec<NotAdopted>,
    /// Counts.
    pub summary: Counts,
    /// What the manifest's selectors matched, skipped and warned about (absent when it
    /// has none and nothing was said).
    #[serde(default, skip_serializing_if = "SelectionView::is_empty")]
    pub selection: SelectionView,
    /// Per-object fingerprints (`app:<uid>`, `policy:<id>`), written by `plan --out` so
    /// a stale saved plan can say which objects changed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub objects: BTreeMap<String, String>,
    /// What an apply did, for `reconcile` and `apply`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<Applied>,
    /// Why the safety checks refused (or, for a plan, would refuse) to apply this plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// The program that wrote a plan document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Generator {
    /// Always `mcp-access`.
    pub name: String,
    /// Its version, e.g. `0.1.0`.
    pub version: String,
    /// The commit it was built from (12 hex digits), or `unknown`.
    pub commit: String,
}

impl Generator {
    /// This build.
    pub fn this_build() -> Self {
        Self {
            name: "mcp-access".to_owned(),
            version: crate::build_info::VERSION.to_owned(),
            commit: crate::build_info::COMMIT.to_owned(),
        }
    }
}

/// One change. Policy writes carry the decided policy fields before and after; app
/// writes name the link added or removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Convert a legacy (app-scoped) policy to a reusable one before that app's
    /// change (`--convert-legacy`); it keeps its id, rules and precedence, and stays
    /// unmanaged.
    Convert {
        /// The app that carries it.
        app: AppView,
        /// The policy id.
        policy_id: String,
        /// Its name.
        policy_name: String,
        /// Its precedence on the app.
        precedence: u32,
    },
    /// Take a hand-made grant over (`--adopt`): one PUT renames it into the managed
    /// name and keeps every other field. Who can reach what does not change.
    Adopt {
        /// The policy id.
        policy_id: String,
        /// Its (hand-made) name now.
        policy_name: String,
        /// The server whose tokens it accepts.
        server: AppView,
        /// Its decided fields now.
        before: PolicyBody,
        /// What they become: only the name differs.
        after: PolicyBody,
    },
    /// POST the managed policy of a server that has none.
    Create {
        /// The server whose tokens the policy accepts.
        server: AppView,
        /// The new policy's name.
        policy_name: String,
        /// The policy body to create.
        after: PolicyBody,
    },
    /// PUT a managed policy edited by hand back to what it should be.
    Update {
        /// The policy id.
        policy_id: String,
        /// Its name after the update.
        policy_name: String,
        /// The server it serves.
        server: AppView,
        /// Its decided fields now.
        before: PolicyBody,
        /// What they become.
        after: PolicyBody,
    },
    /// Link a server's managed policy to a downstream app.
    Attach {
        /// The app that will accept the server's tokens.
        app: AppView,
        /// The server.
        server: AppView,
        /// The policy linked: an existing id, or the one this plan creates.
        policy: PolicyRef,
        /// The policy's name.
        policy_name: String,
        /// `manifest` (an exact reference) or `membership` (selectors brought it).
        #[serde(default)]
        cause: Cause,
        /// The selectors that match the app, when no exact reference names it.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        selectors: Vec<String>,
    },
    /// Unlink a managed policy from an app.
    Detach {
        /// The app.
        app: AppView,
        /// The policy id.
        policy_id: String,
        /// Its name.
        policy_name: String,
        /// The server it serves, when it names one.
        server: Option<AppView>,
        /// Why.
        reason: String,
        /// `manifest`, or `membership` when the app no longer matches the server's
        /// selectors (or an `except` selector takes it out).
        #[serde(default)]
        cause: Cause,
        /// The selectors involved.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        selectors: Vec<String>,
        /// The managed policy that keeps the server's access to the app in the same
        /// app write (the link moves); absent when the detach takes access away.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        moved_to: Option<String>,
    },
    /// DELETE a managed policy nothing should use any more (after it is unlinked).
    Delete {
        /// The policy id.
        policy_id: String,
        /// Its name.
        policy_name: String,
        /// The server it served, when it names one.
        server: Option<AppView>,
        /// Why.
        reason: String,
    },
}

/// An app change that is not made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BlockedChange {
    /// The change and what blocks it.
    #[serde(flatten)]
    pub change: BlockedAppChange,
    /// Each blocker's reason and fix, for people.
    pub explained: Vec<Explained>,
}

/// Why a change is blocked and how to unblock it, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Explained {
    /// What blocks it.
    pub why: String,
    /// How to fix it.
    pub fix: String,
}

impl BlockedChange {
    /// The change with its blockers explained.
    pub fn new(change: &BlockedAppChange) -> Self {
        Self {
            explained: change
                .blockers
                .iter()
                .map(|b| Explained {
                    why: b.why(),
                    fix: b.fix(&change.app),
                })
                .collect(),
            change: change.clone(),
        }
    }
}

/// Counts of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Counts {
    /// Policies to create.
    pub create: usize,
    /// Policies to update.
    pub update: usize,
    /// Links to add.
    pub attach: usize,
    /// Links to remove.
    pub detach: usize,
    /// Policies to delete.
    pub delete: usize,
    /// Hand-made policies to adopt.
    #[serde(default)]
    pub adopt: usize,
    /// All changes.
    pub total: usize,
    /// API writes applying the plan takes.
    pub writes: usize,
    /// Managed links that exist and stay.
    pub managed_links: usize,
    /// True when the account does not match the manifest.
    pub has_changes: bool,
    /// Legacy policies to convert.
    #[serde(default)]
    pub convert: usize,
    /// Link changes that are blocked (not in `total`).
    #[serde(default)]
    pub blocked: usize,
    /// Changes by cause: the manifest, or which apps the selectors match.
    #[serde(default)]
    pub by_cause: ByCause,
    /// Servers the manifest suspends (`servers[].suspended`): no action concerns them.
    /// Absent when none is.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub suspended: usize,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde passes fields by reference
fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// What an apply did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Applied {
    /// Applies made (reconcile re-reads and applies again until converged).
    pub rounds: usize,
    /// Writes made, for people.
    pub done: Vec<String>,
    /// Writes that failed or were skipped, with why.
    pub not_done: Vec<String>,
    /// One sentence on the result.
    pub summary: String,
}

impl PlanDocument {
    /// The document of `plan`, made from the account state with `fingerprint` and the
    /// manifest with `manifest_digest`.
    pub fn new(plan: &Plan, fingerprint: &str, manifest_digest: &str) -> Self {
        let s = plan.summary();
        Self {
            format_version: FORMAT_VERSION,
            generator: Some(Generator::this_build()),
            owner: plan.owner.clone(),
            account_id: None,
            inventory_fingerprint: fingerprint.to_owned(),
            manifest_digest: manifest_digest.to_owned(),
            manifest_files: Vec::new(),
            servers: plan.servers.clone(),
            actions: actions(plan),
            blocked: plan.blocked.iter().map(BlockedChange::new).collect(),
            inventory_problems: plan.inventory_problems.clone(),
            over_policy_limit: plan.over_policy_limit,
            unmanaged: plan.unmanaged.clone(),
            not_adopted: plan.not_adopted.clone(),
            summary: Counts {
                create: s.create,
                update: s.update,
                attach: s.attach,
                detach: s.detach,
                delete: s.delete,
                adopt: s.adopt,
                total: s.total(),
                writes: plan.writes(),
                managed_links: plan.managed_links,
                has_changes: plan.differs(),
                convert: s.convert,
                blocked: s.blocked,
                by_cause: plan.by_cause(),
                suspended: plan.suspended().count(),
            },
            selection: plan.selection.clone(),
            objects: BTreeMap::new(),
            applied: None,
            refused: None,
        }
    }

    /// The plan this document describes, exactly as it was made.
    pub fn to_plan(&self) -> Plan {
        let mut plan = Plan {
            owner: self.owner.clone(),
            servers: self.servers.clone(),
            adoptions: Vec::new(),
            creates: Vec::new(),
            updates: Vec::new(),
            app_changes: Vec::new(),
            deletes: Vec::new(),
            unmanaged: self.unmanaged.clone(),
            not_adopted: self.not_adopted.clone(),
            managed_links: self.summary.managed_links,
            selection: self.selection.clone(),
            converts: Vec::new(),
            blocked: self.blocked.iter().map(|b| b.change.clone()).collect(),
            inventory_problems: self.inventory_problems.clone(),
            over_policy_limit: self.over_policy_limit,
        };
        for action in &self.actions {
            push_action(&mut plan, action.clone());
        }
        plan
    }
}

/// Adds one action of a document to the plan it describes.
fn push_action(plan: &mut Plan, action: Action) {
    match action {
        Action::Convert {
            app,
            policy_id,
            policy_name,
            precedence,
        } => plan.converts.push(ConvertLegacy {
            app,
            policy: LegacyPolicy {
                policy_id,
                policy_name,
                precedence,
            },
        }),
        Action::Adopt {
            policy_id,
            server,
            before,
            after,
            ..
        } => plan.adoptions.push(AdoptPolicy {
            policy_id,
            server,
            before,
            after,
        }),
        Action::Create { server, after, .. } => plan.creates.push(CreatePolicy {
            server,
            body: after,
        }),
        Action::Update {
            policy_id,
            server,
            before,
            after,
            ..
        } => plan.updates.push(UpdatePolicy {
            policy_id,
            server,
            before,
            after,
        }),
        Action::Attach {
            app,
            server,
            policy,
            cause,
            selectors,
            ..
        } => app_change(&mut plan.app_changes, app).attach.push(Attach {
            server,
            policy,
            cause,
            selectors,
        }),
        Action::Detach {
            app,
            policy_id,
            policy_name,
            server,
            reason,
            cause,
            selectors,
            moved_to,
        } => app_change(&mut plan.app_changes, app).detach.push(Detach {
            policy_id,
            policy_name,
            server,
            reason,
            cause,
            selectors,
            moved_to,
        }),
        Action::Delete {
            policy_id,
            policy_name,
            server,
            reason,
        } => plan.deletes.push(DeletePolicy {
            policy_id,
            policy_name,
            server,
            reason,
        }),
    }
}

fn app_change(changes: &mut Vec<AppChange>, app: AppView) -> &mut AppChange {
    let i = changes.iter().position(|c| c.app.uid == app.uid);
    let i = i.unwrap_or_else(|| {
        changes.push(AppChange {
            app,
            attach: Vec::new(),
            detach: Vec::new(),
        });
        changes.len() - 1
    });
    &mut changes[i]
}

/// Every action of `plan`, in apply order.
pub fn actions(plan: &Plan) -> Vec<Action> {
    let mut out = Vec::with_capacity(plan.summary().total());
    for c in &plan.converts {
        out.push(Action::Convert {
            app: c.app.clone(),
            policy_id: c.policy.policy_id.clone(),
            policy_name: c.policy.policy_name.clone(),
            precedence: c.policy.precedence,
        });
    }
    for a in &plan.adoptions {
        out.push(Action::Adopt {
            policy_id: a.policy_id.clone(),
            policy_name: a.before.name.clone(),
            server: a.server.clone(),
            before: a.before.clone(),
            after: a.after.clone(),
        });
    }
    for c in &plan.creates {
        out.push(Action::Create {
            server: c.server.clone(),
            policy_name: c.body.name.clone(),
            after: c.body.clone(),
        });
    }
    for u in &plan.updates {
        out.push(Action::Update {
            policy_id: u.policy_id.clone(),
            policy_name: u.after.name.clone(),
            server: u.server.clone(),
            before: u.before.clone(),
            after: u.after.clone(),
        });
    }
    for change in &plan.app_changes {
        for a in &change.attach {
            out.push(Action::Attach {
                app: change.app.clone(),
                server: a.server.clone(),
                policy: a.policy.clone(),
                policy_name: ownership::policy_name(&plan.owner, &a.server.name),
                cause: a.cause,
                selectors: a.selectors.clone(),
            });
        }
        for d in &change.detach {
            out.push(Action::Detach {
                app: change.app.clone(),
                policy_id: d.policy_id.clone(),
                policy_name: d.policy_name.clone(),
                server: d.server.clone(),
                reason: d.reason.clone(),
                cause: d.cause,
                selectors: d.selectors.clone(),
                moved_to: d.moved_to.clone(),
            });
        }
    }
    for d in &plan.deletes {
        out.push(Action::Delete {
            policy_id: d.policy_id.clone(),
            policy_name: d.policy_name.clone(),
            server: d.server.clone(),
            reason: d.reason.clone(),
        });
    }
    out
}

/// Writes the document, pretty-printed, with a final newline.
pub fn render(doc: &PlanDocument, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, doc)?;
    writeln!(out)
}

/// The JSON Schema of [`PlanDocument`], as shipped in `schema/plan.schema.json`.
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(PlanDocument)).unwrap_or_default()
}
