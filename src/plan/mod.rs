//! The plan: what must change for the account to match the manifest. [`diff`] computes
//! it without I/O; the renderers turn it into text for people and machines.

mod diff;
pub mod json;
pub mod markdown;
pub mod ownership;
pub mod text;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cloudflare::types::{NON_IDENTITY, Policy};
pub use diff::diff;

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
    /// `self_hosted` or `saas`.
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

/// Link a server's managed policy to an app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attach {
    /// The server whose tokens the app will accept.
    pub server: AppView,
    /// The policy to link.
    pub policy: PolicyRef,
}

/// Unlink a managed policy from an app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detach {
    /// The policy id.
    pub policy_id: String,
    /// Its name.
    pub policy_name: String,
    /// The server the policy serves, when it names one.
    pub server: Option<AppView>,
    /// Why.
    pub reason: String,
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
}

impl Summary {
    /// Total number of changes.
    pub fn total(&self) -> usize {
        self.create + self.update + self.attach + self.detach + self.delete
    }
}

/// Everything that must change, in the order apply runs it: creates and updates, app
/// changes, deletes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The ownership id the plan manages.
    pub owner: String,
    /// The servers of the manifest, resolved.
    pub servers: Vec<ServerView>,
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
    /// Managed links that exist and stay (for safety thresholds and metrics).
    pub managed_links: usize,
}

impl Plan {
    /// True when the account already matches.
    pub fn is_empty(&self) -> bool {
        self.summary().total() == 0
    }

    /// The counts for the summary line.
    pub fn summary(&self) -> Summary {
        Summary {
            create: self.creates.len(),
            update: self.updates.len(),
            attach: self.app_changes.iter().map(|c| c.attach.len()).sum(),
            detach: self.app_changes.iter().map(|c| c.detach.len()).sum(),
            delete: self.deletes.len(),
        }
    }

    /// The servers the manifest suspends, in manifest order.
    pub fn suspended(&self) -> impl Iterator<Item = (&ServerView, &Suspended)> {
        self.servers
            .iter()
            .filter_map(|s| s.suspended.as_ref().map(|why| (s, why)))
    }

    /// The number of API writes applying this plan takes.
    pub fn writes(&self) -> usize {
        self.creates.len() + self.updates.len() + self.app_changes.len() + self.deletes.len()
    }
}
