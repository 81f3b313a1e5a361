//! The inventory's link invariant: every policy id an app links is either in the
//! reusable policy list or an expanded legacy policy on that app. A link to anything
//! else means the read cannot be vouched for (a page of the list went missing, a
//! policy was deleted under a link), and a plan made from it could create duplicates
//! or detach the wrong thing.
//!
//! What can be settled is settled by reading the policy by id
//! (`GET /access/policies/{id}`): found, it is a reusable policy the list missed and is
//! added; not found, a copy the app expands as its own is a legacy policy. What cannot
//! be settled is kept as an [`UnknownLink`]: the plan shows it and apply refuses.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Inventory;
use crate::cloudflare::types::is_app_scoped;
use crate::cloudflare::{Client, Error};

/// Reading more policies one by one than this is not settling a few odd links: the
/// list itself is incomplete.
pub const MAX_LOOKUPS: usize = 20;

/// A link the inventory cannot vouch for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UnknownLink {
    /// The app that links it (uid).
    pub app_uid: String,
    /// The app's name.
    pub app_name: String,
    /// The linked policy id.
    pub policy_id: String,
    /// What is inconsistent about it.
    pub why: String,
}

impl std::fmt::Display for UnknownLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "app {:?} ({}) links policy {}, which {}",
            self.app_name, self.app_uid, self.policy_id, self.why
        )
    }
}

/// One app's link to an id the list lacks.
struct Link {
    app_uid: String,
    app_name: String,
    /// The app expands it as its own policy (rules, no `reusable: true`).
    looks_app_scoped: bool,
}

/// The links to ids the policy list lacks and that no app marks `reusable: false`,
/// by policy id.
fn unsettled(inventory: &Inventory) -> BTreeMap<String, Vec<Link>> {
    let mut out: BTreeMap<String, Vec<Link>> = BTreeMap::new();
    for app in inventory.apps() {
        for (link, item) in app.attached_items() {
            if inventory.policy(&link.id).is_some()
                || item.get("reusable") == Some(&Value::Bool(false))
            {
                continue;
            }
            out.entry(link.id).or_default().push(Link {
                app_uid: app.uid().to_owned(),
                app_name: app.name().to_owned(),
                looks_app_scoped: is_app_scoped(item),
            });
        }
    }
    out
}

/// Checks the invariant on `inventory`, reading by id what that settles, and records
/// what stays inconsistent in [`Inventory::problems`]. Fails only when a read fails.
pub async fn settle(client: &Client, inventory: &mut Inventory) -> Result<(), Error> {
    let unsettled = unsettled(inventory);
    if unsettled.is_empty() {
        return Ok(());
    }
    let problem = |id: &str, link: &Link, why: String| UnknownLink {
        app_uid: link.app_uid.clone(),
        app_name: link.app_name.clone(),
        policy_id: id.to_owned(),
        why,
    };
    if unsettled.len() > MAX_LOOKUPS {
        let count = unsettled.len();
        for (id, links) in &unsettled {
            for link in links {
                inventory.problems.push(problem(
                    id,
                    link,
                    format!(
                        "the reusable policy list does not hold, with {count} such policies in all: too many to read one by one, the list looks incomplete"
                    ),
                ));
            }
        }
        return Ok(());
    }
    for (id, links) in &unsettled {
        match client.get_policy(id).await {
            Ok(policy) => {
                tracing::warn!(
                    policy = %id,
                    app = %links[0].app_uid,
                    "the reusable policy list did not hold a policy an app links; read it by id"
                );
                inventory.add_policy(policy);
            }
            Err(e) if e.is_not_found() => {
                for link in links.iter().filter(|l| !l.looks_app_scoped) {
                    inventory.problems.push(problem(
                        id,
                        link,
                        "is neither in the reusable policy list nor an app-scoped policy on that app (GET /access/policies/{id}: not found)".replace("{id}", id),
                    ));
                }
            }
            Err(e) => return Err(e),
        }
    }
    for p in &inventory.problems {
        tracing::warn!("inconsistent inventory: {p}");
    }
    Ok(())
}
