//! `--adopt`: which hand-made grants a plan takes over instead of duplicating them, and
//! why the others are left alone.
//!
//! A policy is adoptable when renaming it is all it takes to make it the server's
//! managed policy, and taking it over cannot change who gets in: it is an unmanaged
//! reusable policy, a plain grant ([`crate::grants`]) for one manifest server, attached
//! only to apps the manifest lists as that server's downstream apps. The diff then
//! treats it like a managed policy of that server (the oldest one is kept and renamed,
//! the others are merged into it and deleted); nothing else is ever written.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;

use super::ownership::owner_of;
use super::{AppView, NotAdopted, PolicyBody};
use crate::cloudflare::types::{Policy, linked_app_uids};
use crate::grants::{self, NotPlain, lets_tokens_in};
use crate::inventory::{Inventory, PolicyScope};
use crate::manifest::{Desired, DesiredServer};

/// What `--adopt` may take over.
#[derive(Debug, Default)]
pub(super) struct Adoptable<'a> {
    /// Each adoptable policy and the uid of the server it grants.
    pub policies: Vec<(&'a Policy, &'a str)>,
    /// Hand-made grants naming a manifest server that stay as they are, by name.
    pub not_adopted: Vec<NotAdopted>,
}

impl Adoptable<'_> {
    /// The ids of the adoptable policies.
    pub fn ids(&self) -> HashSet<&str> {
        self.policies.iter().map(|(p, _)| p.id()).collect()
    }
}

/// How many app names a reason lists before "and N more".
const NAMES_SHOWN: usize = 5;

/// Sorts the unmanaged grants of manifest servers into adoptable and not.
pub(super) fn adoptable<'a>(
    owner: &str,
    desired: &'a Desired,
    inventory: &'a Inventory,
) -> Adoptable<'a> {
    let servers: HashMap<&str, &DesiredServer> = desired
        .servers
        .iter()
        .map(|s| (s.uid.as_str(), s))
        .collect();
    // Which apps link each reusable policy.
    let mut linked_on: HashMap<&str, Vec<&str>> = HashMap::new();
    for app in inventory.apps() {
        for policy in inventory.attached(app) {
            linked_on.entry(policy.id).or_default().push(app.uid());
        }
    }

    let mut out = Adoptable::default();
    let mut left: BTreeMap<(String, String), NotAdopted> = BTreeMap::new();
    for policy in inventory.policies() {
        if !lets_tokens_in(policy.decision()) {
            continue;
        }
        let named: BTreeSet<&str> = policy
            .linked_app_uids()
            .into_iter()
            .filter(|uid| servers.contains_key(uid))
            .collect();
        if named.is_empty() {
            continue;
        }
        let reason = match (owner_of(policy.name()), grants::plain_server_of(policy)) {
            (Some(o), _) if o == owner => continue,
            (Some(other), _) => format!("managed by mcp-access owner {other:?}"),
            (None, Err(reasons)) => grants::describe(&reasons),
            // A suspended server's grants are left exactly as they are, like its policy:
            // a rename or a merge would be a write for it.
            (None, Ok(uid)) if servers[uid].suspended.is_some() => format!(
                "{} is suspended in the manifest; adopt once it is resumed",
                servers[uid].name
            ),
            (None, Ok(uid)) => {
                let server = servers[uid];
                let apps = linked_on.get(policy.id()).map_or(&[][..], Vec::as_slice);
                match fits(policy, server, apps, inventory, owner) {
                    Ok(()) => {
                        out.policies.push((policy, &server.uid));
                        continue;
                    }
                    Err(why) => why,
                }
            }
        };
        left.insert(
            (policy.name().to_owned(), policy.id().to_owned()),
            NotAdopted {
                policy_id: policy.id().to_owned(),
                policy_name: policy.name().to_owned(),
                servers: named.iter().map(|uid| view(servers[uid])).collect(),
                reason,
            },
        );
    }
    // App-scoped policies are not in the policy list: read them where they are attached.
    for app in inventory.apps() {
        for policy in inventory.attached(app) {
            if policy.scope == PolicyScope::Reusable || !lets_tokens_in(policy.decision) {
                continue;
            }
            let named: BTreeSet<&str> = linked_app_uids(policy.include)
                .into_iter()
                .filter(|uid| servers.contains_key(uid))
                .collect();
            if named.is_empty() {
                continue;
            }
            left.entry((policy.name.to_owned(), policy.id.to_owned()))
                .or_insert_with(|| NotAdopted {
                    policy_id: policy.id.to_owned(),
                    policy_name: policy.name.to_owned(),
                    servers: named.iter().map(|uid| view(servers[uid])).collect(),
                    reason: format!("{} on {:?}", NotPlain::Legacy, app.name()),
                });
        }
    }
    out.not_adopted = left.into_values().collect();
    out
}

/// Whether a plain grant for `server` can be taken over: linked only to the server's
/// downstream apps, and the managed policy once renamed.
fn fits(
    policy: &Policy,
    server: &DesiredServer,
    apps: &[&str],
    inventory: &Inventory,
    owner: &str,
) -> Result<(), String> {
    let downstream: HashSet<&str> = server.downstream.iter().map(|d| d.uid.as_str()).collect();
    let mut outside: Vec<String> = apps
        .iter()
        .filter(|uid| !downstream.contains(*uid))
        .map(|uid| {
            let name = inventory.app(uid).map_or("", |a| a.name());
            if name.is_empty() {
                (*uid).to_owned()
            } else {
                format!("{name:?}")
            }
        })
        .collect();
    if !outside.is_empty() {
        outside.sort();
        outside.dedup();
        let more = outside.len().saturating_sub(NAMES_SHOWN);
        outside.truncate(NAMES_SHOWN);
        let mut list = outside.join(", ");
        if more > 0 {
            let _ = write!(list, " and {more} more");
        }
        return Err(format!(
            "also attached to {list}, not a downstream app of {} in the manifest",
            server.name
        ));
    }
    let want = PolicyBody::for_server(owner, &server.name, &server.uid);
    let renamed = PolicyBody {
        name: want.name.clone(),
        ..PolicyBody::of(policy)
    };
    if renamed != want {
        // Plain grants always match; kept so a rename can never change anything else.
        return Err("does not match a managed policy once renamed".to_owned());
    }
    Ok(())
}

fn view(server: &DesiredServer) -> AppView {
    AppView {
        uid: server.uid.clone(),
        name: server.name.clone(),
    }
}
