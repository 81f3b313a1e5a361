//! The plan: what must change for the account to match the manifest. [`diff`] computes
//! it without I/O; the renderers turn it into text for people and machines.

mod adopt;
pub mod blocked;
mod diff;
pub mod json;
pub mod markdown;
pub mod ownership;
pub mod selection;
pub mod text;

use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cloudflare::types::{NON_IDENTITY, Policy};
pub use blocked::{BlockedAppChange, Blocker, ConvertLegacy, LegacyPolicy};
pub use diff::{diff, diff_adopting, diff_with};
pub use selection::{SelectionView, explain};

/// Reusable policies an account may have.
///
/// NOTE (Cloudflare docs, Access account limits, 2026): "500 reusable policies" per
/// account; Enterprise accounts can ask for more (then pass `--policy-limit`).
pub const POLICY_LIMIT: usize = 500;

/// Choices that change what a plan does, beyond the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanOptions {
    /// Take hand-made grants of manifest servers over (`--adopt`; see
    /// [`diff_adopting`]).
    pub adopt: bool,
    /// Convert legacy (app-scoped) policies on apps the plan changes to reusable ones
    /// (`--convert-legacy`), instead of leaving those app changes blocked.
    pub convert_legacy: bool,
    /// Reusable policies the account may have (`--policy-limit`).
    pub policy_limit: usize,
}

impl Default for PlanOptions {
    fn default() -> Self {
        Self {
            adopt: false,
            convert_legacy: false,
            policy_limit: POLICY_LIMIT,
        }
    }
}

/// A plan that would take the account past its reusable-policy limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OverPolicyLimit {
    /// Reusable policies the account has.
    pub existing: usize,
    /// Policies the plan creates.
    pub creates: usize,
    /// Legacy policies it converts (each becomes a reusable policy).
    pub converts: usize,
    /// The limit.
    pub limit: usize,
}

impl OverPolicyLimit {
    /// The check: `None` while the account stays within `limit` (or the plan adds no
    /// reusable policy). Deletes do not count: they run after the creates.
    pub fn check(existing: usize, creates: usize, converts: usize, limit: usize) -> Option<Self> {
        let adds = creates + converts;
        (adds > 0 && existing + adds > limit).then_some(Self {
            existing,
            creates,
            converts,
            limit,
        })
    }
}

impl std::fmt::Display for OverPolicyLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let converts = if self.converts > 0 {
            format!(
                " (and converts {} legacy policies to reusable)",
                self.converts
            )
        } else {
            String::new()
        };
        write!(
            f,
            "the plan creates {} reusable polic{}{converts}, but the account has {} and may have at most {} (Access allows {POLICY_LIMIT} reusable policies per account), so nothing was written. Delete reusable policies nothing uses; or, if Cloudflare raised your account's limit, pass --policy-limit",
            self.creates,
            if self.creates == 1 { "y" } else { "ies" },
            self.existing,
            self.limit
        )
    }
}

/// The fields of a managed policy that mcp-access decides. Everything else a policy
/// carries (session duration, approval settings, ...) is left as the API keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PolicyBody {
    /// `[mcp-access:<owner>] MCP server <server name>`.
    pub name: String,
    /// Always `non_identity` for a managed policy.
    pub decision: String,
    /// `[{"linked_app_token": {"app_uid": <server uid>}}]` for a managed policy.
    pub include: Vec<Value>,
    /// Empty for a managed policy.
    pub exclude: Vec<Value>,
    /// Empty for a managed policy.
    pub require: Vec<Value>,
}

impl PolicyBody {
    /// The managed policy a server should have.
    pub fn for_server(owner: &str, server_name: &str, server_uid: &str) -> Self {
        Self {
            name: ownership::policy_name(owner, server_name),
            decision: NON_IDENTITY.to_owned(),
            include: vec![serde_json::json!({"linked_app_token": {"app_uid": server_uid}})],
            exclude: Vec::new(),
            require: Vec::new(),
        }
    }

    /// The decided fields of an existing policy, normalised (absent or null rule lists
    /// are empty), so API defaults never look like drift.
    pub fn of(policy: &Policy) -> Self {
        Self {
            name: policy.name().to_owned(),
            decision: policy.decision().to_owned(),
            include: policy.rules("include").to_vec(),
            exclude: policy.rules("exclude").to_vec(),
            require: policy.rules("require").to_vec(),
        }
    }

    /// True when `other` decides the same: the same name and decision, and rule lists
    /// of the same meaning (order, repetition, key order and empty selectors aside; see
    /// [`crate::cloudflare::rules`]).
    pub fn same_meaning(&self, other: &PolicyBody) -> bool {
        use crate::cloudflare::rules::same_meaning;
        self.name == other.name
            && self.decision == other.decision
            && same_meaning(&self.include, &other.include)
            && same_meaning(&self.exclude, &other.exclude)
            && same_meaning(&self.require, &other.require)
    }

    /// The JSON of these fields, for a create body and for diffs.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The body of a PUT replacing `existing`: every field it had (so settings someone
    /// added survive), read-only ones dropped, the decided fields set.
    pub fn put_body(&self, existing: &Policy) -> Value {
        const READ_ONLY: &[&str] = &[
            "id",
            "created_at",
            "updated_at",
            "app_count",
            "reusable",
            "apps",
        ];
        let mut body = existing.raw().clone();
        for key in READ_ONLY {
            body.remove(*key);
        }
        if let Value::Object(decided) = self.to_json() {
            body.extend(decided);
        }
        Value::Object(body)
    }
}

/// The policy an attach links: one that exists, or the one this plan creates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PolicyRef {
    /// An existing policy.
    Existing {
        /// Its id.
        id: String,
    },
    /// The policy created for this server earlier in the same apply.
    New {
        /// The server's uid.
        server_uid: String,
    },
}

/// An MCP server named by the manifest, as resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ServerView {
    /// The server app's uid.
    pub uid: String,
    /// Its name.
    pub name: String,
    /// `self_hosted`, `saas` (OIDC) or `mcp`.
    pub app_type: String,
    /// The header the server forwards downstream.
    pub forward_header: String,
    /// Downstream apps: (uid, name).
    pub downstream: Vec<AppView>,
    /// Present when the manifest suspends the server (`suspend: true`): its managed
    /// policy and links are left exactly as they are in the account, and the plan has
    /// no action for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended: Option<Suspended>,
}

/// Why a server is suspended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Suspended {
    /// The manifest's `reason:`, when it gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Suspended {
    /// `suspended (reason)` or `suspended`, for people.
    pub fn describe(&self) -> String {
        match &self.reason {
            Some(reason) => format!("suspended: {reason}"),
            None => "suspended (no reason given)".to_owned(),
        }
    }
}

/// An app named in a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AppView {
    /// uid.
    pub uid: String,
    /// name.
    pub name: String,
}

/// Create the managed policy of a server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatePolicy {
    /// The server it serves.
    pub server: AppView,
    /// The body to POST.
    pub body: PolicyBody,
}

/// Put a managed policy back to what it should be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdatePolicy {
    /// The policy id.
    pub policy_id: String,
    /// The server it serves.
    pub server: AppView,
    /// Its decided fields now.
    pub before: PolicyBody,
    /// What they should be.
    pub after: PolicyBody,
}

/// What a link change follows: the manifest, or which apps its selectors match.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The manifest's servers and exact references (and hand edits put back to them).
    #[default]
    Manifest,
    /// Account membership: which apps a selector matches (an app was tagged, renamed,
    /// created or deleted), or an `except` selector.
    Membership,
}

impl Cause {
    /// `manifest` or `membership`, as metrics and logs label it.
    pub fn label(self) -> &'static str {
        match self {
            Cause::Manifest => "manifest",
            Cause::Membership => "membership",
        }
    }
}

/// Changes counted by [`Cause`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ByCause {
    /// Changes the manifest (and the planning flags) ask for: every policy adoption,
    /// conversion, create, update and delete, and the links of exact references.
    pub manifest: usize,
    /// Link changes that follow which apps the selectors match.
    pub membership: usize,
}

/// Link a server's managed policy to an app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Attach {
    /// The server whose tokens the app will accept.
    pub server: AppView,
    /// The policy to link.
    pub policy: PolicyRef,
    /// An exact reference, or selectors.
    #[serde(default)]
    pub cause: Cause,
    /// The selectors that match the app, when no exact reference names it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selectors: Vec<String>,
}

/// Unlink a managed policy from an app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Detach {
    /// The policy id.
    pub policy_id: String,
    /// Its name.
    pub policy_name: String,
    /// The server the policy serves, when it names one.
    pub server: Option<AppView>,
    /// Why.
    pub reason: String,
    /// The manifest, or the server's selectors no longer matching the app.
    #[serde(default)]
    pub cause: Cause,
    /// The server's selectors the app no longer matches (or the `except` selector
    /// that takes it out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selectors: Vec<String>,
    /// When the same app PUT leaves the server's managed policy linked (it attaches it,
    /// or it is there already), that policy's id: the link moves, access stays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_to: Option<String>,
}

/// One app PUT: every attach and detach of that app together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppChange {
    /// The app's id (path) and name.
    pub app: AppView,
    /// Links to add.
    pub attach: Vec<Attach>,
    /// Links to remove.
    pub detach: Vec<Detach>,
}

/// Delete a managed policy nobody should use any more.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeletePolicy {
    /// The policy id.
    pub policy_id: String,
    /// Its name.
    pub policy_name: String,
    /// The server it served, when it names one.
    pub server: Option<AppView>,
    /// Why.
    pub reason: String,
}

/// Take over a hand-made grant (`--adopt`): rename it into the managed name, one
/// policy PUT that keeps every other field. From then on it is the server's managed
/// policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdoptPolicy {
    /// The policy id.
    pub policy_id: String,
    /// The server it grants.
    pub server: AppView,
    /// Its decided fields now (a plain grant under a hand-made name).
    pub before: PolicyBody,
    /// The same with the managed name.
    pub after: PolicyBody,
}

/// A hand-made grant naming a manifest server that `--adopt` leaves alone, and why: a
/// reviewer can fix it by hand (or leave it unmanaged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NotAdopted {
    /// The policy id.
    pub policy_id: String,
    /// Its name.
    pub policy_name: String,
    /// The manifest servers it names.
    pub servers: Vec<AppView>,
    /// Why it is not adopted.
    pub reason: String,
}

/// A linked-token grant mcp-access does not own: reported, never changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UnmanagedGrant {
    /// The policy id.
    pub policy_id: String,
    /// Its name.
    pub policy_name: String,
    /// Its decision.
    pub decision: String,
    /// The app whose tokens are accepted (uid; name when the app exists).
    pub from: AppView,
    /// The app that accepts them.
    pub to: AppView,
    /// The mcp-access owner id in the name, when another owner manages it.
    pub other_owner: Option<String>,
}

/// Counts for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
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
    /// Legacy policies to convert to reusable ones.
    #[serde(default)]
    pub convert: usize,
    /// Links to add or remove that are blocked (not counted in the total).
    #[serde(default)]
    pub blocked: usize,
}

impl Summary {
    /// Total number of changes to make (blocked ones are not).
    pub fn total(&self) -> usize {
        self.create
            + self.update
            + self.attach
            + self.detach
            + self.delete
            + self.adopt
            + self.convert
    }

    /// `Plan: 1 to create, 0 to update, ...`, without a full stop. Adoptions, legacy
    /// conversions and blocked links are named only when there are some, so other
    /// plans read as they always did.
    pub fn sentence(&self) -> String {
        let mut s = format!(
            "Plan: {} to create, {} to update, {} to attach, {} to detach, {} to delete",
            self.create, self.update, self.attach, self.detach, self.delete
        );
        if self.adopt > 0 {
            let _ = write!(s, ", {} to adopt", self.adopt);
        }
        if self.convert > 0 {
            let _ = write!(
                s,
                ", {} legacy polic{} to convert",
                self.convert,
                if self.convert == 1 { "y" } else { "ies" }
            );
        }
        if self.blocked > 0 {
            let _ = write!(
                s,
                "; {} link change{} blocked",
                self.blocked,
                if self.blocked == 1 { "" } else { "s" }
            );
        }
        s
    }
}

/// Everything that must change, in the order apply runs it: adoptions, creates and
/// updates, app changes, deletes. The default is the empty plan of no owner.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The ownership id the plan manages.
    pub owner: String,
    /// The servers of the manifest, resolved.
    pub servers: Vec<ServerView>,
    /// Hand-made grants to take over (`--adopt`), one per server at most.
    pub adoptions: Vec<AdoptPolicy>,
    /// Policies to create, one per server without one.
    pub creates: Vec<CreatePolicy>,
    /// Managed policies edited by hand, to put back.
    pub updates: Vec<UpdatePolicy>,
    /// App PUTs.
    pub app_changes: Vec<AppChange>,
    /// Managed policies to delete once unlinked.
    pub deletes: Vec<DeletePolicy>,
    /// Grants mcp-access reports but does not own.
    pub unmanaged: Vec<UnmanagedGrant>,
    /// With `--adopt`: hand-made grants of manifest servers left alone, with why.
    pub not_adopted: Vec<NotAdopted>,
    /// Managed links that exist and stay (for safety thresholds and metrics).
    pub managed_links: usize,
    /// Legacy policies to convert to reusable ones, before the app changes
    /// (`--convert-legacy`).
    #[serde(default)]
    pub converts: Vec<ConvertLegacy>,
    /// App changes that are not made, and why.
    #[serde(default)]
    pub blocked: Vec<BlockedAppChange>,
    /// Links in the account the read cannot vouch for: while there is one, the plan
    /// is refused (nothing is written).
    #[serde(default)]
    pub inventory_problems: Vec<crate::inventory::links::UnknownLink>,
    /// Set when applying the plan would take the account past its reusable-policy
    /// limit: the plan is refused (nothing is written).
    #[serde(default)]
    pub over_policy_limit: Option<OverPolicyLimit>,
    /// What the selectors matched, skipped and warned about.
    pub selection: SelectionView,
}

impl Plan {
    /// True when there is nothing left that mcp-access will do. Blocked changes do not
    /// count: they wait for a fix by hand (see [`Plan::blocked`]).
    pub fn is_empty(&self) -> bool {
        self.summary().total() == 0
    }

    /// True when the account does not match the manifest: something to do, or
    /// something blocked.
    pub fn differs(&self) -> bool {
        !self.is_empty() || !self.blocked.is_empty()
    }

    /// Why this plan must not be applied whatever the safety settings: it would take
    /// the account past its reusable-policy limit, or the read it was made from cannot
    /// be vouched for.
    pub fn refusal(&self) -> Option<String> {
        if let Some(over) = &self.over_policy_limit {
            return Some(over.to_string());
        }
        if self.inventory_problems.is_empty() {
            return None;
        }
        let listed: Vec<String> = self
            .inventory_problems
            .iter()
            .map(ToString::to_string)
            .collect();
        Some(format!(
            "the account's inventory is inconsistent, so nothing was written: {}. A plan made from it could create duplicates or remove the wrong links. Run again; if it stays, look at those apps in the dashboard",
            listed.join("; ")
        ))
    }

    /// The counts for the summary line.
    pub fn summary(&self) -> Summary {
        Summary {
            create: self.creates.len(),
            update: self.updates.len(),
            attach: self.app_changes.iter().map(|c| c.attach.len()).sum(),
            detach: self.app_changes.iter().map(|c| c.detach.len()).sum(),
            delete: self.deletes.len(),
            adopt: self.adoptions.len(),
            convert: self.converts.len(),
            blocked: self
                .blocked
                .iter()
                .map(|b| b.attach.len() + b.detach.len())
                .sum(),
        }
    }

    /// The changes by cause: policy writes (adoptions and legacy conversions too) and
    /// exact references are the manifest's; a link change a selector brought is
    /// membership. Blocked link changes are not counted, as in [`Summary::total`].
    pub fn by_cause(&self) -> ByCause {
        let mut out = ByCause {
            manifest: self.adoptions.len()
                + self.converts.len()
                + self.creates.len()
                + self.updates.len()
                + self.deletes.len(),
            membership: 0,
        };
        let causes = self.app_changes.iter().flat_map(|c| {
            c.attach
                .iter()
                .map(|a| a.cause)
                .chain(c.detach.iter().map(|d| d.cause))
        });
        for cause in causes {
            match cause {
                Cause::Manifest => out.manifest += 1,
                Cause::Membership => out.membership += 1,
            }
        }
        out
    }

    /// The servers the manifest suspends, in manifest order.
    pub fn suspended(&self) -> impl Iterator<Item = (&ServerView, &Suspended)> {
        self.servers
            .iter()
            .filter_map(|s| s.suspended.as_ref().map(|why| (s, why)))
    }

    /// The number of API writes applying this plan takes.
    pub fn writes(&self) -> usize {
        self.converts.len()
            + self.adoptions.len()
            + self.creates.len()
            + self.updates.len()
            + self.app_changes.len()
            + self.deletes.len()
    }

    /// Detaches that take access away: those whose server keeps no managed link on
    /// that app. A link moved onto the server's managed policy (an adoption, a
    /// duplicate folded into the one kept) is not a removal.
    pub fn removals(&self) -> usize {
        self.app_changes
            .iter()
            .flat_map(|c| &c.detach)
            .filter(|d| d.moved_to.is_none())
            .count()
    }
}
