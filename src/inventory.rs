//! Actual state: every Access app and reusable policy of the account, indexed for the
//! planner, with a fingerprint of the parts a plan depends on, and what about it is
//! inconsistent ([`links`]).

pub mod links;

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::cloudflare::types::{App, Policy};

/// Everything the planner reads from the account.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    apps: Vec<App>,
    policies: Vec<Policy>,
    app_by_uid: HashMap<String, usize>,
    policy_by_id: HashMap<String, usize>,
    /// Links the read cannot vouch for ([`links::settle`]).
    problems: Vec<links::UnknownLink>,
}

impl Inventory {
    /// Indexes apps and policies. Later duplicates of an id (a page repeated by a
    /// moving list) are dropped.
    pub fn new(apps: Vec<App>, policies: Vec<Policy>) -> Self {
        let mut inv = Self::default();
        for app in apps {
            if !inv.app_by_uid.contains_key(app.uid()) {
                inv.app_by_uid.insert(app.uid().to_owned(), inv.apps.len());
                inv.apps.push(app);
            }
        }
        for policy in policies {
            inv.add_policy(policy);
        }
        inv
    }

    /// Adds a policy read by id, unless one with its id is known.
    fn add_policy(&mut self, policy: Policy) {
        if !self.policy_by_id.contains_key(policy.id()) {
            self.policy_by_id
                .insert(policy.id().to_owned(), self.policies.len());
            self.policies.push(policy);
        }
    }

    /// Links to policies that are neither in the reusable list nor legacy policies on
    /// the linking app, even after reading them by id. A plan made from an inventory
    /// with any is refused.
    pub fn problems(&self) -> &[links::UnknownLink] {
        &self.problems
    }

    /// Every app, in the order the API listed them.
    pub fn apps(&self) -> &[App] {
        &self.apps
    }

    /// Every reusable policy, in the order the API listed them.
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    /// The app with this uid (or id).
    pub fn app(&self, uid: &str) -> Option<&App> {
        self.app_by_uid.get(uid).map(|&i| &self.apps[i])
    }

    /// The policy with this id.
    pub fn policy(&self, id: &str) -> Option<&Policy> {
        self.policy_by_id.get(id).map(|&i| &self.policies[i])
    }

    /// A hex SHA-256 over the normalised apps-and-policies state a plan depends on:
    /// each app's uid, name, type, domain, SaaS auth type and policy links, and each
    /// policy's id, name, decision and rules, sorted by id. Fields a plan never reads
    /// (session durations, CORS, timestamps) are left out, so unrelated edits do not
    /// make a saved plan stale.
    pub fn fingerprint(&self) -> String {
        // Hashed as `[[app, ...], [policy, ...]]`, streamed item by item so a large
        // account is never held twice in memory.
        let mut apps: Vec<&App> = self.apps.iter().collect();
        apps.sort_by(|a, b| a.uid().cmp(b.uid()));
        let mut policies: Vec<&Policy> = self.policies.iter().collect();
        policies.sort_by(|a, b| a.id().cmp(b.id()));
        let mut hasher = Sha256::new();
        let list = |hasher: &mut Sha256, states: &mut dyn Iterator<Item = Value>| {
            hasher.update(b"[");
            for (i, state) in states.enumerate() {
                if i > 0 {
                    hasher.update(b",");
                }
                hasher.update(state.to_string().as_bytes());
            }
            hasher.update(b"]");
        };
        hasher.update(b"[");
        list(&mut hasher, &mut apps.iter().map(|a| app_state(a)));
        hasher.update(b",");
        list(&mut hasher, &mut policies.iter().map(|p| policy_state(p)));
        hasher.update(b"]");
        format!("{:x}", hasher.finalize())
    }

    /// The same state per object, keyed `app:<uid>` and `policy:<id>`, each a short
    /// hash: what a stale saved plan compares to say which objects changed.
    pub fn object_fingerprints(&self) -> BTreeMap<String, String> {
        let short = |state: Value| {
            let digest = Sha256::digest(state.to_string());
            format!("{digest:x}")[..16].to_owned()
        };
        let apps = self
            .apps
            .iter()
            .map(|a| (format!("app:{}", a.uid()), short(app_state(a))));
        let policies = self
            .policies
            .iter()
            .map(|p| (format!("policy:{}", p.id()), short(policy_state(p))));
        apps.chain(policies).collect()
    }
}

/// What kind of policy an app links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyScope {
    /// A reusable policy the account's policy list holds.
    Reusable,
    /// An app-scoped legacy policy: not in the policy list, expanded on the app (its
    /// copy says `reusable: false`, or carries its own rules without a `reusable` mark).
    ///
    /// NOTE (Cloudflare docs, policy management, "Legacy policies"): legacy policies
    /// "are scoped to a specific application"; they are not served by
    /// `/access/policies` until converted with `make_reusable`.
    Legacy,
    /// Neither: a link to an id the policy list did not hold and that the app does not
    /// expand as its own policy. An inventory that has one cannot be vouched for.
    Unknown,
}

/// A policy as attached to an app: read from the reusable policy when the account
/// lists it (its current state), else from the copy the app carries (an app-scoped
/// legacy policy, which the policy list does not hold).
#[derive(Debug, Clone, Copy)]
pub struct AttachedPolicy<'a> {
    /// The policy id.
    pub id: &'a str,
    /// Its name.
    pub name: &'a str,
    /// Its decision.
    pub decision: &'a str,
    /// Its precedence on this app (its position when the API gave none).
    pub precedence: u32,
    /// Reusable, legacy (read from the app's copy), or unknown.
    pub scope: PolicyScope,
    /// Its include rules.
    pub include: &'a [Value],
    /// Its exclude rules.
    pub exclude: &'a [Value],
    /// Its require rules.
    pub require: &'a [Value],
}

impl Inventory {
    /// The policies attached to `app`, in the order the app lists them.
    pub fn attached<'a>(&'a self, app: &'a App) -> Vec<AttachedPolicy<'a>> {
        app.attached_items()
            .map(|(link, item)| {
                let id = match item {
                    Value::String(id) => id.as_str(),
                    other => other.get("id").and_then(Value::as_str).unwrap_or_default(),
                };
                if let Some(p) = self.policy(id) {
                    return AttachedPolicy {
                        id,
                        name: p.name(),
                        decision: p.decision(),
                        precedence: link.precedence,
                        scope: PolicyScope::Reusable,
                        include: p.rules("include"),
                        exclude: p.rules("exclude"),
                        require: p.rules("require"),
                    };
                }
                let field = |key: &str| item.get(key).and_then(Value::as_str).unwrap_or_default();
                let rules = |key: &str| {
                    item.get(key)
                        .and_then(Value::as_array)
                        .map_or(&[][..], Vec::as_slice)
                };
                let scope = if crate::cloudflare::types::is_app_scoped(item) {
                    PolicyScope::Legacy
                } else {
                    PolicyScope::Unknown
                };
                AttachedPolicy {
                    id,
                    name: field("name"),
                    decision: field("decision"),
                    precedence: link.precedence,
                    scope,
                    include: rules("include"),
                    exclude: rules("exclude"),
                    require: rules("require"),
                }
            })
            .collect()
    }
}

impl Inventory {
    /// The app-scoped legacy policies `app` carries, in the order it lists them.
    pub fn legacy_policies<'a>(&'a self, app: &'a App) -> Vec<AttachedPolicy<'a>> {
        self.attached(app)
            .into_iter()
            .filter(|p| p.scope == PolicyScope::Legacy)
            .collect()
    }
}

/// The fields of an app a plan depends on.
fn app_state(a: &App) -> Value {
    serde_json::json!([
        a.uid(),
        a.name(),
        a.app_type(),
        a.domains(),
        a.saas_auth_type(),
        a.policy_links()
    ])
}

/// The fields of a policy a plan depends on, its rules by meaning (so a store that
/// reorders rules does not make a saved plan stale).
fn policy_state(p: &Policy) -> Value {
    use crate::cloudflare::rules::canonical;
    serde_json::json!([
        p.id(),
        p.name(),
        p.decision(),
        canonical(p.rules("include")),
        canonical(p.rules("exclude")),
        canonical(p.rules("require"))
    ])
}

/// Reads every app and every reusable policy, both lists at once, then checks that
/// every link is to a known policy ([`links::settle`]).
pub async fn fetch(
    client: &crate::cloudflare::Client,
) -> Result<Inventory, crate::cloudflare::Error> {
    let (apps, policies) = tokio::try_join!(client.list_apps(), client.list_policies())?;
    let mut inventory = Inventory::new(apps, policies);
    links::settle(client, &mut inventory).await?;
    Ok(inventory)
}
