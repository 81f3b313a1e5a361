//! The pure diff: Desired × Inventory → Plan. No I/O, deterministic for a given input.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::cloudflare::types::{App, Policy, linked_app_uids};
use crate::inventory::Inventory;
use crate::manifest::{Desired, DesiredServer};

use super::adopt::{Adoptable, adoptable};
use super::blocked::hold_back;
use super::ownership::owner_of;
use super::{
    AdoptPolicy, AppChange, AppView, Attach, Cause, CreatePolicy, DeletePolicy, Detach,
    OverPolicyLimit, Plan, PlanOptions, PolicyBody, PolicyRef, ServerView, Suspended,
    UnmanagedGrant, UpdatePolicy,
};

/// Computes what must change for `inventory` to match `desired`.
///
/// One managed policy per server is kept: when several serve the same server (two
/// concurrent runs, a copy made by hand), the oldest (by `created_at`, then id) is
/// kept and the rest are detached and deleted. Every run, whichever process makes it,
/// picks the same one, so concurrent reconcilers converge instead of fighting.
/// Policies without our marker are reported, never changed: see [`diff_adopting`].
///
/// A suspended server's managed policies (duplicates too) and their links are left
/// exactly as they are: no create, update, attach, detach or delete concerns them, and
/// none of its hand-made grants is adopted. Their links still count in
/// `managed_links`, so the safety rails see the same total before, during and after
/// the suspension.
pub fn diff(desired: &Desired, inventory: &Inventory) -> Plan {
    diff_with(desired, inventory, &PlanOptions::default())
}

/// [`diff`] with `options`: `--adopt` ([`diff_adopting`]), `--convert-legacy`, the
/// reusable-policy limit. App changes the account's apps do not allow (legacy
/// policies, write-only secrets; see [`super::blocked`]) are held back as blocked, and
/// a policy whose removal waits on a blocked app change is not deleted.
pub fn diff_with(desired: &Desired, inventory: &Inventory, options: &PlanOptions) -> Plan {
    if options.adopt {
        let adoptable = adoptable(&desired.owner, desired, inventory);
        plan(desired, inventory, &adoptable, options)
    } else {
        plan(desired, inventory, &Adoptable::default(), options)
    }
}

/// [`diff`] that also takes hand-made grants over (`--adopt`): an adoptable policy
/// (see the `adopt` module) counts as a managed policy of its server. When it is the
/// oldest, it is renamed into the managed name ([`AdoptPolicy`]); otherwise its links
/// move onto the one kept, in the same app PUTs, and it is deleted. Grants of manifest
/// servers that cannot be adopted are listed in [`Plan::not_adopted`], with why.
pub fn diff_adopting(desired: &Desired, inventory: &Inventory) -> Plan {
    diff_with(
        desired,
        inventory,
        &PlanOptions {
            adopt: true,
            ..PlanOptions::default()
        },
    )
}

fn plan(
    desired: &Desired,
    inventory: &Inventory,
    adoptable: &Adoptable<'_>,
    options: &PlanOptions,
) -> Plan {
    let owner = desired.owner.as_str();
    let servers: HashMap<&str, &DesiredServer> = desired
        .servers
        .iter()
        .map(|s| (s.uid.as_str(), s))
        .collect();
    let adopted = adoptable.ids();

    // Our policies and the adoptable ones, oldest first, each with the server uid it
    // serves (None: none).
    let mut managed: Vec<(&Policy, Option<&str>)> = inventory
        .policies()
        .iter()
        .filter(|p| owner_of(p.name()) == Some(owner))
        .map(|p| (p, serves(p, &servers)))
        .chain(adoptable.policies.iter().map(|(p, s)| (*p, Some(*s))))
        .collect();
    managed.sort_by(|(a, _), (b, _)| a.age_key().cmp(&b.age_key()));

    let keepers = Keepers::choose(owner, desired, &managed, &adopted);
    let doomed = doomed(&managed, &keepers, &servers, &adopted, inventory);
    let mut changes = AppChanges {
        managed_ids: managed.iter().map(|(p, _)| p.id()).collect(),
        keepers: &keepers,
        doomed: &doomed,
        servers: &servers,
        inventory,
        managed_links: 0,
    };
    let held = hold_back(changes.compute(desired), inventory, options.convert_legacy);
    let managed_links = changes.managed_links;
    // A policy an app still links because that app's change is blocked stays.
    let still_linked: HashSet<&str> = held
        .blocked
        .iter()
        .flat_map(|b| b.detach.iter().map(|d| d.policy_id.as_str()))
        .collect();
    let doomed: Doomed<'_> = doomed
        .into_iter()
        .filter(|(id, _)| !still_linked.contains(id))
        .collect();

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

    let over_policy_limit = OverPolicyLimit::check(
        inventory.policies().len(),
        keepers.creates.len(),
        held.converts.len(),
        options.policy_limit,
    );
    Plan {
        owner: owner.to_owned(),
        servers: desired.servers.iter().map(server_view).collect(),
        adoptions: keepers.adoptions,
        creates: keepers.creates,
        updates: keepers.updates,
        app_changes: held.made,
        deletes,
        unmanaged: unmanaged_grants(owner, inventory, &adopted),
        not_adopted: adoptable.not_adopted.clone(),
        managed_links,
        converts: held.converts,
        blocked: held.blocked,
        inventory_problems: inventory.problems().to_vec(),
        over_policy_limit,
        selection: super::SelectionView::default(),
    }
}

/// The one managed policy each desired server keeps, and the policy writes that takes.
struct Keepers<'a> {
    adoptions: Vec<AdoptPolicy>,
    creates: Vec<CreatePolicy>,
    updates: Vec<UpdatePolicy>,
    /// Server uid -> the policy it keeps.
    by_server: HashMap<&'a str, PolicyRef>,
    /// Kept policy id -> the server uid it serves.
    server_of: HashMap<&'a str, &'a str>,
    /// Policies of suspended servers: left as they are, links included.
    held: HashSet<&'a str>,
}

impl<'a> Keepers<'a> {
    fn choose(
        owner: &str,
        desired: &'a Desired,
        managed: &[(&'a Policy, Option<&'a str>)],
        adopted: &HashSet<&str>,
    ) -> Self {
        let mut keepers = Keepers {
            adoptions: Vec::new(),
            creates: Vec::new(),
            updates: Vec::new(),
            by_server: HashMap::new(),
            server_of: HashMap::new(),
            held: HashSet::new(),
        };
        for server in &desired.servers {
            if server.suspended.is_some() {
                keepers.held.extend(
                    managed
                        .iter()
                        .filter(|(_, s)| *s == Some(server.uid.as_str()))
                        .map(|(p, _)| p.id()),
                );
                continue;
            }
            let view = server_app_view(server);
            let want = PolicyBody::for_server(owner, &server.name, &server.uid);
            // `managed` is oldest first, so this finds the one every run agrees on.
            let Some((policy, _)) = managed
                .iter()
                .find(|(_, s)| *s == Some(server.uid.as_str()))
            else {
                keepers.creates.push(CreatePolicy {
                    server: view,
                    body: want,
                });
                keepers.by_server.insert(
                    &server.uid,
                    PolicyRef::New {
                        server_uid: server.uid.clone(),
                    },
                );
                continue;
            };
            let have = PolicyBody::of(policy);
            if adopted.contains(policy.id()) {
                keepers.adoptions.push(AdoptPolicy {
                    policy_id: policy.id().to_owned(),
                    server: view.clone(),
                    before: have,
                    after: want,
                });
            } else if !have.same_meaning(&want) {
                keepers.updates.push(UpdatePolicy {
                    policy_id: policy.id().to_owned(),
                    server: view,
                    before: have,
                    after: want,
                });
            }
            keepers.by_server.insert(
                &server.uid,
                PolicyRef::Existing {
                    id: policy.id().to_owned(),
                },
            );
            keepers.server_of.insert(policy.id(), &server.uid);
        }
        keepers
    }
}

/// A managed policy to remove: the policy, the server it names, and why.
type Doomed<'a> = BTreeMap<&'a str, (&'a Policy, Option<AppView>, String)>;

/// Every managed policy that is not a keeper, with the reason it has to go.
fn doomed<'a>(
    managed: &[(&'a Policy, Option<&'a str>)],
    keepers: &Keepers<'_>,
    servers: &HashMap<&str, &DesiredServer>,
    adopted: &HashSet<&str>,
    inventory: &Inventory,
) -> Doomed<'a> {
    let mut doomed = BTreeMap::new();
    for (policy, serves) in managed {
        if keepers.server_of.contains_key(policy.id()) || keepers.held.contains(policy.id()) {
            continue;
        }
        let server = serves.map(|uid| app_view(inventory, uid));
        let reason = match serves {
            Some(uid) if servers.contains_key(uid) => match keepers.by_server.get(uid) {
                Some(PolicyRef::Existing { id }) if adopted.contains(policy.id()) => {
                    format!("hand-made grant merged into managed policy {id}")
                }
                Some(PolicyRef::Existing { id }) => format!("duplicate of managed policy {id}"),
                _ => "duplicate managed policy".to_owned(),
            },
            Some(_) => "server no longer in the manifest".to_owned(),
            None => "names no MCP server (no linked_app_token rule)".to_owned(),
        };
        doomed.insert(policy.id(), (*policy, server, reason));
    }
    doomed
}

/// Works out the one policy-list change per app.
struct AppChanges<'a, 'b> {
    managed_ids: HashSet<&'a str>,
    keepers: &'b Keepers<'a>,
    doomed: &'b Doomed<'a>,
    servers: &'b HashMap<&'a str, &'a DesiredServer>,
    inventory: &'a Inventory,
    /// Managed links that exist and stay.
    managed_links: usize,
}

impl<'a> AppChanges<'a, '_> {
    fn compute(&mut self, desired: &'a Desired) -> Vec<AppChange> {
        // Which servers each downstream app should accept.
        let mut wanted: HashMap<&str, Vec<&DesiredServer>> = HashMap::new();
        for server in desired.servers.iter().filter(|s| s.suspended.is_none()) {
            for app in &server.downstream {
                wanted.entry(app.uid.as_str()).or_default().push(server);
            }
        }
        let mut changes = Vec::new();
        for app in self.inventory.apps() {
            let wants = wanted.get(app.uid()).map_or(&[][..], Vec::as_slice);
            if let Some(change) = self.for_app(app, wants) {
                changes.push(change);
            }
        }
        changes.sort_by(|a, b| a.app.name.cmp(&b.app.name).then(a.app.uid.cmp(&b.app.uid)));
        changes
    }

    fn for_app(&mut self, app: &App, wants: &[&DesiredServer]) -> Option<AppChange> {
        let links = app.policy_links();
        let linked: HashSet<&str> = links.iter().map(|l| l.id.as_str()).collect();
        let mut attach = Vec::new();
        // Managed policy ids this app keeps, or already detaches.
        let mut settled: HashSet<&str> = HashSet::new();
        for server in wants {
            let policy = &self.keepers.by_server[server.uid.as_str()];
            match policy {
                PolicyRef::Existing { id } if linked.contains(id.as_str()) => {
                    settled.insert(id.as_str());
                    self.managed_links += 1;
                }
                _ => attach.push(Attach {
                    server: server_app_view(server),
                    policy: policy.clone(),
                    cause: Cause::Manifest,
                    selectors: Vec::new(),
                }),
            }
        }
        let mut detach = Vec::new();
        for link in &links {
            let id = link.id.as_str();
            if !self.managed_ids.contains(id) || !settled.insert(id) {
                continue;
            }
            if self.keepers.held.contains(id) {
                self.managed_links += 1;
                continue;
            }
            let (name, server, reason, moved_to) =
                match (self.doomed.get(id), self.keepers.server_of.get(id)) {
                    (Some((policy, server, reason)), _) => {
                        // The server's managed policy stays linked here when the app
                        // wants the server: this PUT attaches it, or it is there.
                        let moved_to = server
                            .as_ref()
                            .filter(|s| wants.iter().any(|w| w.uid == s.uid))
                            .and_then(|s| match self.keepers.by_server.get(s.uid.as_str()) {
                                Some(PolicyRef::Existing { id }) => Some(id.clone()),
                                _ => None,
                            });
                        (
                            policy.name().to_owned(),
                            server.clone(),
                            reason.clone(),
                            moved_to,
                        )
                    }
                    (None, Some(uid)) => {
                        let server = self.servers[uid];
                        (
                            self.inventory
                                .policy(id)
                                .map(Policy::name)
                                .unwrap_or_default()
                                .to_owned(),
                            Some(server_app_view(server)),
                            format!("not a downstream of {} in the manifest", server.name),
                            None,
                        )
                    }
                    (None, None) => continue,
                };
            detach.push(Detach {
                policy_id: id.to_owned(),
                policy_name: name,
                server,
                reason,
                cause: Cause::Manifest,
                selectors: Vec::new(),
                moved_to,
            });
        }
        (!attach.is_empty() || !detach.is_empty()).then(|| AppChange {
            app: AppView {
                uid: app.uid().to_owned(),
                name: app.name().to_owned(),
            },
            attach,
            detach,
        })
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

fn server_view(server: &DesiredServer) -> ServerView {
    ServerView {
        uid: server.uid.clone(),
        name: server.name.clone(),
        app_type: server.kind.app_type().to_owned(),
        forward_header: server.kind.forward_header().to_owned(),
        suspended: server.suspended.as_ref().map(|s| Suspended {
            reason: s.reason.clone(),
        }),
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

/// Every linked-token grant attached to an app that is not ours (nor adopted by this
/// plan), from the policies as each app carries them (so app-scoped legacy policies
/// count too).
fn unmanaged_grants(
    owner: &str,
    inventory: &Inventory,
    adopted: &HashSet<&str>,
) -> Vec<UnmanagedGrant> {
    let mut grants = Vec::new();
    for app in inventory.apps() {
        for policy in inventory.attached(app) {
            let other_owner = owner_of(policy.name);
            if other_owner == Some(owner) || adopted.contains(policy.id) {
                continue;
            }
            for from in linked_app_uids(policy.include) {
                grants.push(UnmanagedGrant {
                    policy_id: policy.id.to_owned(),
                    policy_name: policy.name.to_owned(),
                    decision: policy.decision.to_owned(),
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
