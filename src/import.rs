//! `mcp-access import`: the manifest of an account as it is. Every linked-token grant
//! in effect becomes a server's downstream link when a plain link says exactly that
//! (see [`crate::grants`]), and a comment saying why not otherwise. Pure: it reads an
//! [`Inventory`] and returns a [`Document`]; the command writes it.
//!
//! The output is sorted (servers, apps and policies by name, then id), so importing the
//! same account twice gives the same bytes, and `plan --adopt` on it changes who can
//! reach what not at all: each declared link is granted today by a policy `--adopt`
//! can take over.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use crate::cloudflare::types::App;
use crate::grants::{self, plain_server};
use crate::inventory::Inventory;
use crate::manifest::AppRef;
use crate::manifest::write::{DocRef, DocServer, Document};
use crate::plan::ownership::owner_of;

/// What `import` found, and the manifest that declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The manifest.
    pub document: Document,
    /// Servers declared.
    pub servers: usize,
    /// Downstream links declared.
    pub links: usize,
    /// Grants explained in a comment instead of declared.
    pub not_declared: usize,
}

/// A policy as comments name it: by name, then id (the sort order too).
type PolicyKey<'a> = (&'a str, &'a str);
/// An app as comments name it, sorted by name (ignoring case), name, then uid.
type AppKey<'a> = (String, &'a str, &'a str);

fn app_key<'a>(name: &'a str, uid: &'a str) -> AppKey<'a> {
    (name.to_lowercase(), name, uid)
}

/// The grants of one server.
#[derive(Default)]
struct ServerGrants<'a> {
    /// Plain grants: each policy and the apps it is attached to.
    plain: BTreeMap<PolicyKey<'a>, BTreeSet<AppKey<'a>>>,
    /// Grants a link cannot express: policy, app, why.
    other: BTreeSet<(PolicyKey<'a>, AppKey<'a>, String)>,
}

/// The manifest declaring every plain grant of `inventory` for `owner`.
pub fn import(inventory: &Inventory, owner: &str, account_id: Option<&str>) -> Imported {
    let mut by_server: BTreeMap<AppKey<'_>, ServerGrants<'_>> = BTreeMap::new();
    for grant in grants::grants(inventory) {
        let policy = (grant.policy.name, grant.policy.id);
        let app = app_key(grant.app.name(), grant.app.uid());
        let server_name = inventory.app(grant.server).map_or("", App::name);
        let entry = by_server
            .entry(app_key(server_name, grant.server))
            .or_default();
        match link_problem(&grant, owner) {
            None => {
                entry.plain.entry(policy).or_default().insert(app);
            }
            Some(why) => {
                entry.other.insert((policy, app, why));
            }
        }
    }

    let names = name_counts(inventory);
    let mut imported = Imported {
        document: Document {
            header: header(account_id),
            owner: Some(owner.to_owned()),
            account_id: account_id.map(str::to_owned),
            servers: Vec::new(),
        },
        servers: 0,
        links: 0,
        not_declared: 0,
    };
    for ((_, _, uid), mut found) in by_server {
        let server = inventory.app(uid);
        let label = server.map_or_else(|| format!("app {uid}"), |a| describe_app(a, &names));
        if let Err(why) = server
            .map_or(Err("no app with this uid in the account".to_owned()), |a| {
                grants::can_be_server(a)
            })
        {
            // Nothing of this server can be declared: every grant is explained instead.
            for (policy, apps) in std::mem::take(&mut found.plain) {
                for app in apps {
                    found.other.insert((policy, app.clone(), why.clone()));
                }
            }
            let mut comments = vec![format!("{label}: not declared ({why}).")];
            comments.extend(not_declared_lines(&found.other));
            imported.not_declared += found.other.len();
            imported.document.servers.push(DocServer {
                comments,
                app: None,
                downstream: Vec::new(),
            });
            continue;
        }
        let server = server.expect("checked above");
        if found.plain.is_empty() {
            let mut comments = vec![format!(
                "{label}: not declared; none of its grants can be a plain link:"
            )];
            comments.extend(not_declared_lines(&found.other));
            imported.not_declared += found.other.len();
            imported.document.servers.push(DocServer {
                comments,
                app: None,
                downstream: Vec::new(),
            });
            continue;
        }
        let mut comments = vec![format!("{label}. Granted today by:")];
        let mut downstream: BTreeSet<AppKey<'_>> = BTreeSet::new();
        for ((name, id), apps) in &found.plain {
            let apps_list: Vec<&str> = apps.iter().map(|(_, n, u)| app_label(n, u)).collect();
            comments.push(format!("  {name:?} ({id}): {}", apps_list.join(", ")));
            downstream.extend(apps.iter().cloned());
        }
        if !found.other.is_empty() {
            comments.push("Not declared (a plain link cannot say it):".to_owned());
            comments.extend(not_declared_lines(&found.other));
        }
        imported.servers += 1;
        imported.links += downstream.len();
        imported.not_declared += found.other.len();
        imported.document.servers.push(DocServer {
            comments,
            app: Some(reference(server, &names)),
            downstream: downstream
                .into_iter()
                .filter_map(|(_, _, uid)| inventory.app(uid))
                .map(|a| reference(a, &names))
                .collect(),
        });
    }
    if imported.document.servers.is_empty() {
        imported
            .document
            .header
            .push("The account has no linked-token grants yet.".to_owned());
    }
    imported
}

/// Why this grant cannot be written as a link of the manifest for `owner`, if it can't.
fn link_problem(grant: &grants::Grant<'_>, owner: &str) -> Option<String> {
    if let Err(reasons) = plain_server(&grant.policy) {
        return Some(grants::describe(&reasons));
    }
    if let Some(other) = owner_of(grant.policy.name).filter(|o| *o != owner) {
        return Some(format!("managed by mcp-access owner {other:?}"));
    }
    if grant.app.uid() == grant.server {
        return Some("the server's own app".to_owned());
    }
    grants::can_be_downstream(grant.app).err()
}

fn not_declared_lines<'s>(
    other: &'s BTreeSet<(PolicyKey<'_>, AppKey<'_>, String)>,
) -> impl Iterator<Item = String> + 's {
    other.iter().map(|((name, id), (_, app, uid), why)| {
        format!("  {name:?} ({id}) -> {}: {why}", app_label(app, uid))
    })
}

fn app_label<'a>(name: &'a str, uid: &'a str) -> &'a str {
    if name.is_empty() { uid } else { name }
}

/// `support-mcp (saas, 0d5c…)`, for the comment above a server.
fn describe_app(app: &App, names: &HashMap<&str, usize>) -> String {
    let mut s = String::new();
    if app.name().is_empty() {
        let _ = write!(s, "app {}", app.uid());
    } else {
        let _ = write!(s, "{} ({}, {})", app.name(), app.app_type(), app.uid());
    }
    if names.get(app.name()).copied().unwrap_or(0) > 1 {
        s.push_str(", a name other apps share");
    }
    s
}

/// How many apps carry each name.
fn name_counts(inventory: &Inventory) -> HashMap<&str, usize> {
    let mut counts = HashMap::new();
    for app in inventory.apps() {
        *counts.entry(app.name()).or_insert(0) += 1;
    }
    counts
}

/// By name when exactly one app has it, else by uid with the name in a comment.
fn reference(app: &App, names: &HashMap<&str, usize>) -> DocRef {
    let name = app.name();
    match names.get(name).copied() {
        // The loader trims names, so a name with spaces around it cannot be matched.
        Some(1) if !name.is_empty() && name.trim() == name => DocRef {
            app: AppRef::Name(name.to_owned()),
            comment: None,
        },
        _ if name.trim().is_empty() => DocRef {
            app: AppRef::Uid(app.uid().to_owned()),
            comment: Some("an app without a name".to_owned()),
        },
        Some(1) => DocRef {
            app: AppRef::Uid(app.uid().to_owned()),
            comment: Some(format!("{name:?} (spaces around the name)")),
        },
        count => DocRef {
            app: AppRef::Uid(app.uid().to_owned()),
            comment: Some(format!(
                "{} ({} apps have this name)",
                app.name(),
                count.unwrap_or(0)
            )),
        },
    }
}

fn header(account_id: Option<&str>) -> Vec<String> {
    let mut lines =
        vec!["Written by `mcp-access import`: every linked-token grant in effect".to_owned()];
    if let Some(account) = account_id {
        lines.push(format!("in account {account},"));
    }
    lines.extend(
        [
            "as MCP servers and the apps they may call. Grants a plain link cannot",
            "express are explained in comments, not declared.",
            "Review it and commit it; `mcp-access plan --adopt` then shows the",
            "hand-made policies mcp-access would take over (docs/adopting.md).",
        ]
        .map(str::to_owned),
    );
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudflare::types::Policy;
    use crate::manifest::write::render;
    use serde_json::{Value, json};

    fn app(id: &str, name: &str, kind: &str, policies: &Value) -> App {
        let mut v = json!({"id": id, "name": name, "type": kind,
                           "domain": format!("{id}.example.com"), "policies": policies});
        if kind == "saas" {
            v["saas_app"] = json!({"auth_type": if id.contains("saml") { "saml" } else { "oidc" }});
        }
        App::from_value(v).unwrap()
    }

    fn policy(id: &str, name: &str, decision: &str, servers: &[&str], extra: &Value) -> Policy {
        let include: Vec<Value> = servers
            .iter()
            .map(|s| json!({"linked_app_token": {"app_uid": s}}))
            .collect();
        let mut v = json!({"id": id, "name": name, "decision": decision, "include": include});
        if let Value::Object(extra) = extra {
            v.as_object_mut().unwrap().extend(extra.clone());
        }
        Policy::from_value(v).unwrap()
    }

    /// Every kind of grant `import` meets, on a small account.
    fn account() -> Inventory {
        let legacy = json!({"id": "legacy", "name": "Old app rule", "decision": "non_identity",
                            "include": [{"linked_app_token": {"app_uid": "srv"}}]});
        Inventory::new(
            vec![
                app("srv", "support-mcp", "saas", &json!([])),
                app("bot", "ci-bot", "self_hosted", &json!([])),
                app("saml", "HR", "saas", &json!([])),
                app("wiki1", "Wiki", "self_hosted", &json!(["hand", "excl"])),
                app("wiki2", "Wiki", "self_hosted", &json!(["hand2"])),
                app(
                    "api",
                    "Internal API",
                    "self_hosted",
                    &json!(["hand", "both", "ours"]),
                ),
                app(
                    "billing",
                    "Billing",
                    "self_hosted",
                    &json!(["byp", legacy, "theirs", "fromsaml"]),
                ),
            ],
            vec![
                policy(
                    "hand",
                    "Allow requests from MCP server",
                    "non_identity",
                    &["srv"],
                    &json!({}),
                ),
                policy(
                    "hand2",
                    "Allow requests from MCP server",
                    "non_identity",
                    &["srv"],
                    &json!({"session_duration": "1h"}),
                ),
                policy(
                    "excl",
                    "Staff only",
                    "non_identity",
                    &["srv"],
                    &json!({"exclude": [{"everyone": {}}]}),
                ),
                policy(
                    "both",
                    "Two servers",
                    "non_identity",
                    &["srv", "bot"],
                    &json!({}),
                ),
                policy(
                    "ours",
                    "[mcp-access:platform] MCP server ci-bot",
                    "non_identity",
                    &["bot"],
                    &json!({}),
                ),
                policy("byp", "Open door", "bypass", &["bot"], &json!({})),
                policy(
                    "theirs",
                    "[mcp-access:other] MCP server ci-bot",
                    "non_identity",
                    &["bot"],
                    &json!({}),
                ),
                policy("fromsaml", "From HR", "non_identity", &["saml"], &json!({})),
            ],
        )
    }

    #[test]
    fn plain_grants_become_links_and_every_other_grant_a_comment() {
        let imported = import(&account(), "platform", Some("acct"));
        let yaml = render(&imported.document);
        let expected = r#"# Written by `mcp-access import`: every linked-token grant in effect
# in account acct,
# as MCP servers and the apps they may call. Grants a plain link cannot
# express are explained in comments, not declared.
# Review it and commit it; `mcp-access plan --adopt` then shows the
# hand-made policies mcp-access would take over (docs/adopting.md).
version: 1
owner: platform
account_id: acct
servers:
  # ci-bot (self_hosted, bot). Granted today by:
  #   "[mcp-access:platform] MCP server ci-bot" (ours): Internal API
  # Not declared (a plain link cannot say it):
  #   "Open door" (byp) -> Billing: decision `bypass`, not `non_identity`
  #   "Two servers" (both) -> Internal API: names 2 MCP servers
  #   "[mcp-access:other] MCP server ci-bot" (theirs) -> Billing: managed by mcp-access owner "other"
  - app: ci-bot
    downstream:
      - Internal API
  # HR (saas, saml): not declared (a SaaS app with `saml` authentication cannot issue Linked App Tokens).
  #   "From HR" (fromsaml) -> Billing: a SaaS app with `saml` authentication cannot issue Linked App Tokens
  # support-mcp (saas, srv). Granted today by:
  #   "Allow requests from MCP server" (hand): Internal API, Wiki
  #   "Allow requests from MCP server" (hand2): Wiki
  # Not declared (a plain link cannot say it):
  #   "Old app rule" (legacy) -> Billing: an app-scoped (legacy) policy
  #   "Staff only" (excl) -> Wiki: has exclude rules
  #   "Two servers" (both) -> Internal API: names 2 MCP servers
  - app: support-mcp
    downstream:
      - Internal API
      - { uid: wiki1 }  # Wiki (2 apps have this name)
      - { uid: wiki2 }  # Wiki (2 apps have this name)
"#;
        assert_eq!(yaml, expected);
        assert_eq!(
            (imported.servers, imported.links, imported.not_declared),
            (2, 4, 7)
        );
        // It loads, and resolves against the account it came from.
        let manifest = crate::manifest::parse_str("imported.yaml", &yaml, &|_| None).unwrap();
        let desired = crate::manifest::resolve(&manifest, "platform", &account()).unwrap();
        assert_eq!(desired.servers.len(), 2);
        // The same account gives the same bytes.
        assert_eq!(
            render(&import(&account(), "platform", Some("acct")).document),
            yaml
        );
    }

    #[test]
    fn names_a_manifest_cannot_match_are_written_as_uids() {
        let inventory = Inventory::new(
            vec![
                app("srv", " mcp ", "self_hosted", &json!([])),
                app("api", "", "self_hosted", &json!(["p"])),
            ],
            vec![policy("p", "Grant", "non_identity", &["srv"], &json!({}))],
        );
        let yaml = render(&import(&inventory, "platform", None).document);
        assert!(
            yaml.contains("  - app: { uid: srv }  # \" mcp \" (spaces around the name)\n"),
            "{yaml}"
        );
        assert!(
            yaml.contains("      - { uid: api }  # an app without a name\n"),
            "{yaml}"
        );
        let manifest = crate::manifest::parse_str("i.yaml", &yaml, &|_| None).unwrap();
        crate::manifest::resolve(&manifest, "platform", &inventory).unwrap();
    }

    #[test]
    fn an_account_without_grants_imports_as_no_servers() {
        let inventory = Inventory::new(vec![app("a", "A", "self_hosted", &json!([]))], Vec::new());
        let yaml = render(&import(&inventory, "platform", None).document);
        assert!(yaml.ends_with("# The account has no linked-token grants yet.\nversion: 1\nowner: platform\nservers: []\n"), "{yaml}");
        let manifest = crate::manifest::parse_str("empty.yaml", &yaml, &|_| None).unwrap();
        assert!(manifest.servers.is_empty());
    }
}
