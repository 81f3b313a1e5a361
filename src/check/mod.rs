//! `mcp-access check`: who can reach what. From the account's apps and policies (any
//! policy, managed or not) and the resolved manifest, [`check`] works out, for each MCP
//! server and app, whether the app accepts a Linked App Token issued for that server,
//! through which policy, what could still block it, and whether the manifest declares
//! the link. It is pure: `commands::check` does the I/O, and [`output`] writes the
//! report.
//!
//! NOTE: Access evaluates each policy on its own: a request matches a policy when it
//! matches any `include` rule, every `require` rule and no `exclude` rule. A token is
//! issued for one app, so only `linked_app_token` rules naming the server (and
//! `everyone`) can be decided without the request; every other rule (emails, IPs,
//! countries, a linked token of another app...) is reported as "depends on the
//! request", never guessed.

pub mod html;
pub mod markdown;
pub mod output;
pub mod text;

use std::path::PathBuf;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::cloudflare::types::{App, NON_IDENTITY, linked_app_uids};
use crate::inventory::{AttachedPolicy, Inventory};
use crate::manifest::Desired;
use crate::plan::ownership::owner_of;

/// Output formats of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Lines for people.
    Text,
    /// One JSON document for machines.
    Json,
    /// Markdown with a mermaid access graph, for pull requests and wikis.
    Markdown,
    /// One self-contained HTML page (matrix, graph, filters) for an access review.
    Html,
}

/// The decision of a policy that lets a linked token in without a user login.
const BYPASS: &str = "bypass";

/// An app as a report names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct AppInfo {
    /// The app's name; empty when the uid names no app in the account.
    pub name: String,
    /// The uid a `linked_app_token` rule names.
    pub uid: String,
    /// `self_hosted`, `saas`, ...; `None` when the app is not in the account.
    pub app_type: Option<String>,
}

impl AppInfo {
    fn of(inventory: &Inventory, uid: &str) -> Self {
        match inventory.app(uid) {
            Some(app) => Self::from_app(app),
            None => Self {
                name: String::new(),
                uid: uid.to_owned(),
                app_type: None,
            },
        }
    }

    fn from_app(app: &App) -> Self {
        Self {
            name: app.name().to_owned(),
            uid: app.uid().to_owned(),
            app_type: Some(app.app_type().to_owned()),
        }
    }

    /// What kind of app it is, for people: `self-hosted app`, `Access for SaaS app`,
    /// `MCP server app`, `MCP server portal`, ...
    pub fn kind(&self) -> String {
        match self.app_type.as_deref() {
            Some("self_hosted") => "self-hosted app".to_owned(),
            Some("saas") => "Access for SaaS app".to_owned(),
            Some("mcp") => "MCP server app".to_owned(),
            Some("mcp_portal") => "MCP server portal".to_owned(),
            Some(other) => format!("{other} app"),
            None => "not in the account".to_owned(),
        }
    }

    /// The name, quoted, or the uid when the app is unknown.
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            format!("{} (no such app)", self.uid)
        } else {
            format!("{:?}", self.name)
        }
    }
}

/// Whether a token gets through: for one policy, or for a pair over all its policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Accepted, whatever else the request carries.
    Granted,
    /// Accepted only if the request meets rules that cannot be decided offline.
    DependsOnRequest,
    /// A policy names the server, but an exclude rule always rejects the token.
    Blocked,
    /// No attached policy names the server.
    NotGranted,
}

impl Access {
    /// Could a token get through?
    pub fn may_pass(self) -> bool {
        matches!(self, Access::Granted | Access::DependsOnRequest)
    }

    /// How the text and Markdown reports say it.
    pub fn describe(self) -> &'static str {
        match self {
            Access::Granted => "granted",
            Access::DependsOnRequest => "depends on the request",
            Access::Blocked => "blocked",
            Access::NotGranted => "not granted",
        }
    }
}

/// Which rule list a condition is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleList {
    /// Any match rejects the request.
    Exclude,
    /// Every rule must match.
    Require,
}

/// What one exclude or require rule does to a token from the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Always rejects it (an exclude rule naming the server, or `everyone`).
    Blocks,
    /// Always met (a require rule naming the server, or `everyone`).
    Satisfied,
    /// Decided by the request (who the user is, where from, ...).
    DependsOnRequest,
}

/// An exclude or require rule of a granting policy, and its effect.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Condition {
    /// `exclude` or `require`.
    pub list: RuleList,
    /// The rule as the API returned it.
    pub rule: Value,
    /// What it does to the server's token.
    pub effect: Effect,
}

/// Who manages a policy, from the ownership marker in its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "owner", rename_all = "snake_case")]
pub enum Management {
    /// Ours: the marker with the owner this check runs as.
    Managed(String),
    /// Another mcp-access owner's: reconcile as this owner never touches it.
    OtherOwner(String),
    /// Made by hand or by another tool.
    Unmanaged,
}

impl Management {
    fn of(policy_name: &str, owner: &str) -> Self {
        match owner_of(policy_name) {
            Some(o) if o == owner => Management::Managed(o.to_owned()),
            Some(o) => Management::OtherOwner(o.to_owned()),
            None => Management::Unmanaged,
        }
    }

    /// Ours?
    pub fn is_managed(&self) -> bool {
        matches!(self, Management::Managed(_))
    }

    /// How the text and Markdown reports say it.
    pub fn describe(&self) -> String {
        match self {
            Management::Managed(o) => format!("managed by {o}"),
            Management::OtherOwner(o) => format!("managed by another owner, {o}"),
            Management::Unmanaged => "unmanaged".to_owned(),
        }
    }
}

/// One attached policy whose include names the server in a `linked_app_token` rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Grant {
    /// The policy id.
    pub policy_id: String,
    /// Its name.
    pub policy_name: String,
    /// `non_identity` or `bypass`.
    pub decision: String,
    /// Its precedence on the app (lower is evaluated first).
    pub precedence: u32,
    /// False for an app-scoped legacy policy (read from the app's expanded copy).
    pub reusable: bool,
    /// Who manages it.
    pub management: Management,
    /// What this policy alone does to the token.
    pub access: Access,
    /// Its exclude and require rules, each with its effect.
    pub conditions: Vec<Condition>,
}

/// The answer for one MCP server and one app.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pair {
    /// The app whose tokens are presented (the MCP server).
    pub from: AppInfo,
    /// The app that receives them.
    pub to: AppInfo,
    /// Over every granting policy: the best outcome.
    pub access: Access,
    /// Whether the manifest lists `to` as a downstream app of `from`.
    pub declared: bool,
    /// The selectors that declare the link, when no exact reference does ("declared
    /// by selector").
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub declared_by: Vec<String>,
    /// The policies that name the server, in precedence order.
    pub grants: Vec<Grant>,
}

impl Pair {
    /// The account lets the server in, but the manifest does not say it should.
    pub fn is_undeclared(&self) -> bool {
        !self.declared && self.access.may_pass()
    }

    /// The manifest says the server may call the app, but no policy lets it.
    pub fn is_missing(&self) -> bool {
        self.declared && !self.access.may_pass()
    }

    /// Whether a graph draws the link solid: a managed policy carries it, or no policy
    /// does and it is the manifest's link (missing: reconcile would make it managed).
    pub fn drawn_solid(&self) -> bool {
        if self.access.may_pass() {
            self.via_managed()
        } else {
            self.grants.is_empty() || self.grants.iter().any(|g| g.management.is_managed())
        }
    }

    /// A managed policy lets the token through (or would, request permitting).
    pub fn via_managed(&self) -> bool {
        self.grants
            .iter()
            .any(|g| g.management.is_managed() && g.access.may_pass())
    }
}

/// Counts for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Pairs reported.
    pub pairs: usize,
    /// Granted outright.
    pub granted: usize,
    /// Granted only if the request meets other rules.
    pub depends_on_request: usize,
    /// Named by a policy but always excluded.
    pub blocked: usize,
    /// Declared but not let through.
    pub missing: usize,
    /// Let through but not declared.
    pub undeclared: usize,
}

/// Which pairs to report: everything, or those from one server and/or to one app.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Only tokens of this app (uid).
    pub from: Option<String>,
    /// Only this receiving app (uid).
    pub to: Option<String>,
}

/// What `check` was asked, validated.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Manifest paths.
    pub files: Vec<PathBuf>,
    /// `--from`: an app name, uid or domain.
    pub from: Option<String>,
    /// `--to`: an app name, uid or domain.
    pub to: Option<String>,
    /// `--output`.
    pub format: Format,
    /// `--fail-on-undeclared`.
    pub fail_on_undeclared: bool,
}

impl CheckOptions {
    /// Resolves `--from` and `--to` to uids.
    pub fn query(&self, inventory: &Inventory) -> Result<Query, CheckError> {
        let find = |flag, given: &Option<String>| {
            given
                .as_deref()
                .map(|g| find_app(inventory, flag, g).map(|a| a.uid().to_owned()))
                .transpose()
        };
        Ok(Query {
            from: find("--from", &self.from)?,
            to: find("--to", &self.to)?,
        })
    }
}

/// Everything `check` found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The ownership id that counts as managed.
    pub owner: String,
    /// `--from`, resolved.
    pub from: Option<AppInfo>,
    /// `--to`, resolved.
    pub to: Option<AppInfo>,
    /// Counts.
    pub summary: Summary,
    /// Sorted by server name, then app name.
    pub pairs: Vec<Pair>,
}

impl Report {
    /// What the report covers, as the reports say it: `every linked-token grant in the
    /// account and every declared link`, `tokens from "ci-bot"`, ...
    pub fn scope(&self) -> String {
        match (&self.from, &self.to) {
            (None, None) => {
                "every linked-token grant in the account and every declared link".to_owned()
            }
            (Some(f), None) => format!("tokens from {}", f.label()),
            (None, Some(t)) => format!("tokens accepted by {}", t.label()),
            (Some(f), Some(t)) => format!("tokens from {} to {}", f.label(), t.label()),
        }
    }

    /// Marks each declared pair a selector brought in (no exact reference) with the
    /// selectors behind it.
    pub fn mark_selected(&mut self, selection: &crate::manifest::Selection) {
        for pair in self.pairs.iter_mut().filter(|p| p.declared) {
            if let Some(server) = selection.server(&pair.from.uid) {
                pair.declared_by = server.brought_by(&pair.to.uid).to_vec();
            }
        }
    }

    /// The pairs the account lets through and the manifest does not declare.
    pub fn undeclared(&self) -> impl Iterator<Item = &Pair> {
        self.pairs.iter().filter(|p| p.is_undeclared())
    }
}

/// `check`'s own errors: a `--from` / `--to` that names no app, or several.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// No app has this name or uid.
    #[error("{flag} {given:?}: no app with this name, uid or domain in the account{hint}")]
    NotFound {
        /// `--from` or `--to`.
        flag: &'static str,
        /// What was given.
        given: String,
        /// `, did you mean ...?` or empty.
        hint: String,
    },
    /// Several apps have this name.
    #[error("{flag} {given:?} matches {} apps: {}; pass one uid instead", candidates.len(), candidates.join(", "))]
    Ambiguous {
        /// `--from` or `--to`.
        flag: &'static str,
        /// What was given.
        given: String,
        /// `<uid> (<type>, <domain>)` of each.
        candidates: Vec<String>,
    },
}

/// The one app `given` names, by uid, else by exact name, else by domain, the way the
/// manifest resolves references. `flag` names the option in errors.
pub fn find_app<'a>(
    inventory: &'a Inventory,
    flag: &'static str,
    given: &str,
) -> Result<&'a App, CheckError> {
    if let Some(app) = inventory.app(given) {
        return Ok(app);
    }
    let by_name: Vec<&App> = inventory
        .apps()
        .iter()
        .filter(|a| a.name() == given)
        .collect();
    let found = if by_name.is_empty() {
        let host = given.to_ascii_lowercase();
        inventory
            .apps()
            .iter()
            .filter(|a| a.domains().iter().any(|d| d.eq_ignore_ascii_case(&host)))
            .collect()
    } else {
        by_name
    };
    match found.as_slice() {
        [one] => Ok(one),
        [] => {
            let lower = given.to_lowercase();
            let hint = inventory
                .apps()
                .iter()
                .map(App::name)
                .map(|n| (strsim::jaro_winkler(&lower, &n.to_lowercase()), n))
                .filter(|(score, _)| *score > 0.85)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, n)| format!(", did you mean {n:?}?"))
                .unwrap_or_default();
            Err(CheckError::NotFound {
                flag,
                given: given.to_owned(),
                hint,
            })
        }
        many => Err(CheckError::Ambiguous {
            flag,
            given: given.to_owned(),
            candidates: many
                .iter()
                .map(|a| {
                    format!(
                        "{} ({}, {})",
                        a.uid(),
                        a.app_type(),
                        a.domains().first().copied().unwrap_or("no domain")
                    )
                })
                .collect(),
        }),
    }
}

/// Every (server, app) answer the query asks for: each pair some attached policy names
/// in a `linked_app_token` include rule (whatever its owner), plus each pair the
/// manifest declares. With both `from` and `to`, that one pair is always answered.
pub fn check(inventory: &Inventory, desired: &Desired, query: &Query) -> Report {
    let mut grants = account_grants(inventory, &desired.owner);
    let declared: BTreeSet<(&str, &str)> = desired
        .servers
        .iter()
        .flat_map(|s| {
            s.downstream
                .iter()
                .map(|d| (s.uid.as_str(), d.uid.as_str()))
        })
        .collect();
    let mut keys: BTreeSet<(String, String)> = grants.keys().cloned().collect();
    keys.extend(
        declared
            .iter()
            .map(|(s, a)| ((*s).to_owned(), (*a).to_owned())),
    );
    if let (Some(from), Some(to)) = (&query.from, &query.to) {
        keys.insert((from.clone(), to.clone()));
    }
    let mut pairs: Vec<Pair> = keys
        .into_iter()
        .filter(|(from, to)| {
            query.from.as_ref().is_none_or(|f| f == from)
                && query.to.as_ref().is_none_or(|t| t == to)
        })
        .map(|(from, to)| {
            let mut list = grants
                .remove(&(from.clone(), to.clone()))
                .unwrap_or_default();
            list.sort_by(|a, b| {
                a.precedence
                    .cmp(&b.precedence)
                    .then(a.policy_id.cmp(&b.policy_id))
            });
            let access = list
                .iter()
                .map(|g| g.access)
                .min()
                .unwrap_or(Access::NotGranted);
            Pair {
                declared: declared.contains(&(from.as_str(), to.as_str())),
                declared_by: Vec::new(),
                from: AppInfo::of(inventory, &from),
                to: AppInfo::of(inventory, &to),
                access,
                grants: list,
            }
        })
        .collect();
    pairs.sort_by(|a, b| (&a.from, &a.to).cmp(&(&b.from, &b.to)));
    let summary = Summary {
        pairs: pairs.len(),
        granted: count(&pairs, |p| p.access == Access::Granted),
        depends_on_request: count(&pairs, |p| p.access == Access::DependsOnRequest),
        blocked: count(&pairs, |p| p.access == Access::Blocked),
        missing: count(&pairs, Pair::is_missing),
        undeclared: count(&pairs, Pair::is_undeclared),
    };
    Report {
        owner: desired.owner.clone(),
        from: query.from.as_deref().map(|u| AppInfo::of(inventory, u)),
        to: query.to.as_deref().map(|u| AppInfo::of(inventory, u)),
        summary,
        pairs,
    }
}

fn count(pairs: &[Pair], f: impl Fn(&Pair) -> bool) -> usize {
    pairs.iter().filter(|p| f(p)).count()
}

/// Every grant attached to an app, by (server uid, app uid).
fn account_grants(inventory: &Inventory, owner: &str) -> BTreeMap<(String, String), Vec<Grant>> {
    let mut out: BTreeMap<(String, String), Vec<Grant>> = BTreeMap::new();
    for app in inventory.apps() {
        for policy in inventory.attached(app) {
            if policy.decision != NON_IDENTITY && policy.decision != BYPASS {
                continue;
            }
            let servers: BTreeSet<&str> = linked_app_uids(policy.include).into_iter().collect();
            for server in servers {
                let conditions = conditions(&policy, server);
                let access = if conditions.iter().any(|c| c.effect == Effect::Blocks) {
                    Access::Blocked
                } else if conditions
                    .iter()
                    .any(|c| c.effect == Effect::DependsOnRequest)
                {
                    Access::DependsOnRequest
                } else {
                    Access::Granted
                };
                out.entry((server.to_owned(), app.uid().to_owned()))
                    .or_default()
                    .push(Grant {
                        policy_id: policy.id.to_owned(),
                        policy_name: policy.name.to_owned(),
                        decision: policy.decision.to_owned(),
                        precedence: policy.precedence,
                        reusable: policy.scope == crate::inventory::PolicyScope::Reusable,
                        management: Management::of(policy.name, owner),
                        access,
                        conditions,
                    });
            }
        }
    }
    out
}

/// What the exclude and require rules of `policy` do to a token from `server`.
fn conditions(policy: &AttachedPolicy<'_>, server: &str) -> Vec<Condition> {
    let names_server = |rule: &Value| linked_app_uids(std::slice::from_ref(rule)) == [server];
    let everyone = |rule: &Value| rule.get("everyone").is_some();
    let exclude = policy.exclude.iter().map(|rule| Condition {
        list: RuleList::Exclude,
        rule: rule.clone(),
        effect: if names_server(rule) || everyone(rule) {
            Effect::Blocks
        } else {
            Effect::DependsOnRequest
        },
    });
    let require = policy.require.iter().map(|rule| Condition {
        list: RuleList::Require,
        rule: rule.clone(),
        effect: if names_server(rule) || everyone(rule) {
            Effect::Satisfied
        } else {
            Effect::DependsOnRequest
        },
    });
    exclude.chain(require).collect()
}

/// A rule in one line: `email_domain example.com`, `linked_app_token <uid>`, or its
/// JSON when it is not of the usual one-key shape.
pub fn describe_rule(rule: &Value) -> String {
    let Some((kind, body)) = rule
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.iter().next())
    else {
        return rule.to_string();
    };
    match body {
        Value::Object(fields) if fields.is_empty() => kind.clone(),
        Value::Object(fields) if fields.len() == 1 => match fields.values().next() {
            Some(Value::String(s)) => format!("{kind} {s}"),
            Some(other) => format!("{kind} {other}"),
            None => kind.clone(),
        },
        other => format!("{kind} {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudflare::types::Policy;
    use crate::manifest::{DesiredApp, DesiredServer, ServerKind};
    use serde_json::json;

    fn app(uid: &str, name: &str, policies: &Value) -> App {
        App::from_value(
            json!({"id": uid, "uid": uid, "name": name, "type": "self_hosted",
                               "domain": format!("{name}.example.com"), "policies": policies}),
        )
        .unwrap()
    }

    fn nobody_declares() -> Desired {
        Desired {
            owner: "platform".into(),
            servers: Vec::new(),
        }
    }

    #[test]
    fn app_scoped_legacy_policies_are_read_from_the_apps_copy() {
        let legacy = json!({"id": "legacy-1", "name": "Old app policy", "decision": "non_identity",
                            "precedence": 1, "include": [{"linked_app_token": {"app_uid": "srv"}}],
                            "require": [{"ip": {"ip": "10.0.0.0/8"}}]});
        let inventory = Inventory::new(
            vec![
                app("srv", "srv", &json!([])),
                app("api", "api", &json!([legacy])),
            ],
            Vec::new(),
        );
        let report = check(&inventory, &nobody_declares(), &Query::default());
        let [pair] = report.pairs.as_slice() else {
            panic!("{report:#?}")
        };
        let grant = &pair.grants[0];
        assert!(!grant.reusable);
        assert_eq!(grant.policy_name, "Old app policy");
        assert_eq!(grant.access, Access::DependsOnRequest);
        assert_eq!(describe_rule(&grant.conditions[0].rule), "ip 10.0.0.0/8");
    }

    #[test]
    fn the_reusable_policy_wins_over_a_stale_expanded_copy() {
        // The app's copy still grants; the policy itself was since changed to `allow`.
        let stale = json!({"id": "p1", "name": "Grant", "decision": "non_identity", "precedence": 1,
                           "include": [{"linked_app_token": {"app_uid": "srv"}}]});
        let now = Policy::from_value(json!({"id": "p1", "name": "Grant", "decision": "allow",
                                            "include": [{"linked_app_token": {"app_uid": "srv"}}]}))
        .unwrap();
        let inventory = Inventory::new(vec![app("api", "api", &json!([stale]))], vec![now]);
        assert!(
            check(&inventory, &nobody_declares(), &Query::default())
                .pairs
                .is_empty()
        );
    }

    #[test]
    fn bare_links_and_servers_missing_from_the_account_are_still_reported() {
        let policy = Policy::from_value(json!({"id": "p1", "name": "Ghost grant", "decision": "bypass",
                                               "include": [{"linked_app_token": {"app_uid": "gone"}}]}))
        .unwrap();
        let inventory = Inventory::new(vec![app("api", "api", &json!(["p1"]))], vec![policy]);
        let mut desired = nobody_declares();
        desired.servers.push(DesiredServer {
            uid: "gone".into(),
            name: "gone".into(),
            kind: ServerKind::SelfHosted,
            downstream: vec![DesiredApp {
                uid: "api".into(),
                name: "api".into(),
                domain: None,
            }],
            suspended: None,
        });
        let report = check(&inventory, &desired, &Query::default());
        let [pair] = report.pairs.as_slice() else {
            panic!("{report:#?}")
        };
        assert_eq!(pair.from.label(), "gone (no such app)");
        assert_eq!(pair.from.app_type, None);
        assert_eq!(pair.grants[0].precedence, 1);
        assert!(pair.declared && pair.access == Access::Granted);
        assert_eq!(report.summary.undeclared, 0);
    }

    #[test]
    fn rules_read_in_one_line() {
        assert_eq!(describe_rule(&json!({"everyone": {}})), "everyone");
        assert_eq!(
            describe_rule(&json!({"email_domain": {"domain": "example.com"}})),
            "email_domain example.com"
        );
        assert_eq!(
            describe_rule(&json!({"group": {"id": "g", "x": 1}})),
            "group {\"id\":\"g\",\"x\":1}"
        );
    }
}
