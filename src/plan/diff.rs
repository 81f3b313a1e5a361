//! The pure diff: Desired × Inventory → Plan. No I/O, deterministic for a given input.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::cloudflare::types::{Policy, linked_app_uids};
use crate::inventory::Inventory;
use crate::manifest::{Desired, DesiredServer, ServerKind};

use super::ownership::owner_of;
use super::{
    AppChange, AppView, Attach, CreatePolicy, DeletePolicy, Detach, Plan, PolicyBody, PolicyRef,
    ServerView, UnmanagedGrant, UpdatePolicy,
};

/// Computes what must change for `inventory` to match `desired`.
///
/// One managed policy per server is kept: when several serve the same server (two
/// concurrent runs, a copy made by hand), the oldest (by `created_at`, then id) is
/// kept and the rest are detached and deleted. Every run, whichever process makes it,
/// picks the same one, so concurrent reconcilers converge instead of fighting.
pub fn diff(desired: &Desired, inventory: &Inventory) -> Plan {
    let owner = desired.owner.as_str();
    let servers: HashMap<&str, &DesiredServer> = desired
        .servers
        .iter()
        .map(|s| (s.uid.as_str(), s))
        .collect();

    // Our policies, each with the server uid it serves (None: it names no app).
    let mut managed: Vec<(&Policy, Option<&str>)> = inventory
        .policies()
        .iter()
        .filter(|p| owner_of(p.name()) == Some(owner))
        .map(|p| (p, serves(p, &servers)))
        .collect();
    managed.sort_by(|(a, _), (b, _)| created_at(a).cmp(created_at(b)).then(a.id().cmp(b.id())));
    let managed_ids: HashSet<&str> = managed.iter().map(|(p, _)| p.id()).collect();

    let mut creates = Vec::new();
    let mut updates = Vec::new();
    // The policy each desired server ends up with.
    let mut keeper: HashMap<&str, PolicyRef> = HashMap::new();
    let mut keeper_ids: HashMap<&str, &str> = HashMap::new();
    for server in &desired.servers {
        let view = server_app_view(server);
        let want = PolicyBody::for_server(owner, &server.name, &server.uid);
        match managed
            .iter()
            .find(|(_, s)| *s == Some(server.uid.as_str()))
        {
            None => {
                creates.push(CreatePolicy {
                    server: view,
                    body: want,
                });
                keeper.insert(
                    &server.uid,
                    PolicyRef::New {
                        server_uid: server.uid.clone(),
                    },
                );
            }
            Some((policy, _)) => {
                let have = PolicyBody::of(policy);
                if have != want {
                    updates.push(UpdatePolicy {
                        policy_id: policy.id().to_owned(),
                        server: view,
                        before: have,
                        after: want,
                    });
                }
                keeper.insert(
                    &server.uid,
                    PolicyRef::Existing {
                        id: policy.id().to_owned(),
                    },
                );
                keeper_ids.insert(policy.id(), &server.uid);
            }
        }
    }

    // Why each managed policy that is not a keeper has to go.
    let mut doomed: BTreeMap<&str, (&Policy, Option<AppView>, String)> = BTreeMap::new();
    for (policy, serves) in &managed {
        if keeper_ids.contains_key(policy.id()) {
            continue;
        }
        let server = serves.map(|uid| app_view(inventory, uid));
        let reason = match serves {
            Some(uid) if servers.contains_key(uid) => {
                let kept = keeper.get(uid).map_or("", |k| match k {
                    PolicyRef::Existing { id } => id.as_str(),
                    PolicyRef::New { .. } => "",
                });
                format!("duplicate of managed policy {kept}")
            }
            Some(_) => "server no longer in the manifest".to_owned(),
            None => "names no MCP server (no linked_app_token rule)".to_owned(),
        };
        doomed.insert(policy.id(), (policy, server, reason));
    }

    // Which servers each downstream app should accept.
    let mut wanted: HashMap<&str, Vec<&DesiredServer>> = HashMap::new();
    for server in &desired.servers {
        for app in &server.downstream {
            wanted.entry(app.uid.as_str()).or_default().push(server);
        }
    }

    let mut app_changes = Vec::new();
    let mut managed_links = 0;
    for app in inventory.apps() {
        let links = app.policy_links();
        let linked: HashSet<&str> = links.iter().map(|l| l.id.as_str()).collect();
        let wants = wanted.get(app.uid()).map_or(&[][..], Vec::as_slice);
        let mut attach = Vec::new();
        let mut keep: HashSet<&str> = HashSet::new();
        for server in wants {
            let policy = &keeper[server.uid.as_str()];
            match policy {
                PolicyRef::Existing { id } if linked.contains(id.as_str()) => {
                    keep.insert(id.as_str());
                    managed_links += 1;
                }
                _ => attach.push(Attach {
                    server: server_app_view(server),
                    policy: policy.clone(),
                }),
            }
        }
        let mut detach = Vec::new();
        for link in &links {
            let id = link.id.as_str();
            if !managed_ids.contains(id) || keep.contains(id) {
                continue;
            }
            let (name, server, reason) = match (doomed.get(id), keeper_ids.get(id)) {
                (Some((policy, server, reason)), _) => {
                    (policy.name().to_owned(), server.clone(), reason.clone())
                }
                (None, Some(uid)) => {
                    let server = servers[uid];
                    (
                        inventory
                            .policy(id)
                            .map(Policy::name)
                            .unwrap_or_default()
                            .to_owned(),
                        Some(server_app_view(server)),
                        format!("not a downstream of {} in the manifest", server.name),
                    )
                }
                (None, None) => continue,
            };
            if keep.insert(id) {
                detach.push(Detach {
                    policy_id: id.to_owned(),
                    policy_name: name,
                    server,
                    reason,
                });
            }
        }
        if !attach.is_empty() || !detach.is_empty() {
            app_changes.push(AppChange {
                app: AppView {
                    uid: app.uid().to_owned(),
                    name: app.name().to_owned(),
                },
                attach,
                detach,
            });
        }
    }
    app_changes.sort_by(|a, b| a.app.name.cmp(&b.app.name).then(a.app.uid.cmp(&b.app.uid)));

    let mut deletes: Vec<DeletePolicy> = doomed
        .into_values()
        .map(|(policy, server, reason)| DeletePolicy {
            policy_id: policy.id().to_owned(),
            policy_name: policy.name().to_owned(),
            server,
            reason,
        })
        .collect();
    deletes.sort_by(|a, b| {
        a.policy_name
            .cmp(&b.policy_name)
            .then(a.policy_id.cmp(&b.policy_id))
    });

    Plan {
        owner: owner.to_owned(),
        servers: desired.servers.iter().map(server_view).collect(),
        creates,
        updates,
        app_changes,
        deletes,
        unmanaged: unmanaged_grants(owner, inventory),
        managed_links,
    }
}

/// The server a managed policy serves: the first `linked_app_token` uid in its include
/// that the manifest names, else the first one at all.
fn serves<'a>(policy: &'a Policy, servers: &HashMap<&str, &DesiredServer>) -> Option<&'a str> {
    let uids = policy.linked_app_uids();
    uids.iter()
        .find(|uid| servers.contains_key(*uid))
        .or(uids.first())
        .copied()
}

fn created_at(policy: &Policy) -> &str {
    policy
        .raw()
        .get("created_at")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
}

fn server_view(server: &DesiredServer) -> ServerView {
    ServerView {
        uid: server.uid.clone(),
        name: server.name.clone(),
        app_type: match server.kind {
            ServerKind::SelfHosted => "self_hosted",
            ServerKind::OidcSaas => "saas",
        }
        .to_owned(),
        forward_header: server.kind.forward_header().to_owned(),
        downstream: server
            .downstream
            .iter()
            .map(|d| AppView {
                uid: d.uid.clone(),
                name: d.name.clone(),
            })
            .collect(),
    }
}

fn server_app_view(server: &DesiredServer) -> AppView {
    AppView {
        uid: server.uid.clone(),
        name: server.name.clone(),
    }
}

fn app_view(inventory: &Inventory, uid: &str) -> AppView {
    AppView {
        uid: uid.to_owned(),
        name: inventory
            .app(uid)
            .map(|a| a.name().to_owned())
            .unwrap_or_default(),
    }
}

/// Every linked-token grant attached to an app that is not ours, from the policies as
/// each app carries them (so app-scoped legacy policies count too).
fn unmanaged_grants(owner: &str, inventory: &Inventory) -> Vec<UnmanagedGrant> {
    let mut grants = Vec::new();
    for app in inventory.apps() {
        let Some(serde_json::Value::Array(expanded)) = app.raw().get("policies") else {
            continue;
        };
        for item in expanded {
            let Some(id) = item.get("id").and_then(serde_json::Value::as_str) else {
                continue;
            };
            // Prefer the reusable policy's current state; fall back to the expanded copy.
            let listed = inventory.policy(id);
            let (name, decision, include) = match listed {
                Some(p) => (p.name(), p.decision(), p.rules("include")),
                None => (
                    item.get("name")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or_default(),
                    item.get("decision")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or_default(),
                    item.get("include")
                        .and_then(serde_json::Value::as_array)
                        .map_or(&[][..], Vec::as_slice),
                ),
            };
            let other_owner = owner_of(name);
            if other_owner == Some(owner) {
                continue;
            }
            for from in linked_app_uids(include) {
                grants.push(UnmanagedGrant {
                    policy_id: id.to_owned(),
                    policy_name: name.to_owned(),
                    decision: decision.to_owned(),
                    from: app_view(inventory, from),
                    to: AppView {
                        uid: app.uid().to_owned(),
                        name: app.name().to_owned(),
                    },
                    other_owner: other_owner.map(str::to_owned),
                });
            }
        }
    }
    grants.sort_by(|a, b| {
        (
            a.from.name.as_str(),
            a.to.name.as_str(),
            a.policy_id.as_str(),
        )
            .cmp(&(
                b.from.name.as_str(),
                b.to.name.as_str(),
                b.policy_id.as_str(),
            ))
    });
    grants
}
