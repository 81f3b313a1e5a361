//! App changes mcp-access will not make, and why: an app PUT replaces the whole app, so
//! an app whose PUT would lose something the API does not give back is never written.
//! The plan shows such a change as blocked, names the app and what blocks it, and says
//! how to fix it; everything else is still applied.
//!
//! Two things block an app change today:
//!
//! - **Legacy (app-scoped) policies.** NOTE (reference page, "Added after the first
//!   release"; Cloudflare's policy-management docs): reusable and inline policies are
//!   mutually exclusive in an app update, and "removing the legacy policy from the
//!   application also deletes it". A PUT with our links next to a legacy policy is
//!   refused, or without it deletes it. With `--convert-legacy` the plan instead
//!   converts each one (`make_reusable`, same id, rules and precedence) first.
//! - **Write-only secrets.** NOTE (reference page; Terraform provider
//!   `zero_trust_access_application/normalizations.go`): `scim_config.authentication`
//!   and a SaaS app's OIDC `client_secret` are accepted on writes but may not come
//!   back on reads, and a PUT without them may clear them. Until a live test shows the
//!   real behaviour, such an app is not written.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{AppChange, AppView, Attach, Detach};

/// A legacy (app-scoped) policy an app carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LegacyPolicy {
    /// The policy id (kept when converted).
    pub policy_id: String,
    /// Its name.
    pub policy_name: String,
    /// Its precedence on the app (kept when converted).
    pub precedence: u32,
}

/// Why an app change is not made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Blocker {
    /// The app carries legacy (app-scoped) policies.
    LegacyPolicies {
        /// Them, in the app's order.
        policies: Vec<LegacyPolicy>,
    },
    /// The app's configuration carries a secret the API may not return on a read.
    WriteOnlySecrets {
        /// The fields, e.g. `scim_config.authentication`; never their values.
        fields: Vec<String>,
    },
}

impl Blocker {
    /// What blocks the change, in one sentence.
    pub fn why(&self) -> String {
        match self {
            Blocker::LegacyPolicies { policies } => format!(
                "the app carries {} legacy (app-scoped) polic{} ({}); an app update may not mix reusable and app-scoped policies, and one that leaves a legacy policy out deletes it",
                policies.len(),
                if policies.len() == 1 { "y" } else { "ies" },
                policies
                    .iter()
                    .map(|p| format!(
                        "{:?} {}, precedence {}",
                        p.policy_name, p.policy_id, p.precedence
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Blocker::WriteOnlySecrets { fields } => format!(
                "the app's configuration carries {} ({}), a secret the API may not return on a read; an app update replaces the whole app and could clear it",
                if fields.len() == 1 {
                    "a write-only field"
                } else {
                    "write-only fields"
                },
                fields.join(", ")
            ),
        }
    }

    /// How to get the change made.
    pub fn fix(&self, app: &AppView) -> String {
        match self {
            Blocker::LegacyPolicies { policies } => {
                let calls: Vec<String> = policies
                    .iter()
                    .map(|p| {
                        format!(
                            "PUT /accounts/{{account_id}}/access/apps/{}/policies/{}/make_reusable",
                            app.uid, p.policy_id
                        )
                    })
                    .collect();
                format!(
                    "convert each legacy policy to a reusable one (it keeps its id, rules and precedence): {} (or the dashboard's convert button), or run again with --convert-legacy to let mcp-access convert them",
                    calls.join(", ")
                )
            }
            Blocker::WriteOnlySecrets { .. } => format!(
                "attach the policy by hand in the dashboard (Access > Applications > {} > Policies), where the secret is kept; mcp-access writes such apps once the live tests show a PUT keeps it",
                if app.name.is_empty() {
                    &app.uid
                } else {
                    &app.name
                }
            ),
        }
    }
}

/// An app change that is not made: the links it would add and remove, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BlockedAppChange {
    /// The app.
    pub app: AppView,
    /// Links it would add.
    pub attach: Vec<Attach>,
    /// Links it would remove.
    pub detach: Vec<Detach>,
    /// What blocks it (at least one).
    pub blockers: Vec<Blocker>,
}

impl BlockedAppChange {
    /// The change, blocked by `blockers`.
    pub fn new(change: AppChange, blockers: Vec<Blocker>) -> Self {
        Self {
            app: change.app,
            attach: change.attach,
            detach: change.detach,
            blockers,
        }
    }

    /// The links it would make and remove, for people: `attach "<policy>"`, ...
    pub fn links(&self, owner: &str) -> Vec<String> {
        let attach = self.attach.iter().map(|a| {
            format!(
                "attach {:?}",
                super::ownership::policy_name(owner, &a.server.name)
            )
        });
        let detach = self
            .detach
            .iter()
            .map(|d| format!("detach {:?}", d.policy_name));
        attach.chain(detach).collect()
    }
}

/// The error a run that applied everything else ends with: which links were not
/// made, on which apps, why, and what to do.
pub fn not_made(owner: &str, blocked: &[BlockedAppChange]) -> String {
    let links: usize = blocked
        .iter()
        .map(|b| b.attach.len() + b.detach.len())
        .sum();
    let apps: Vec<String> = blocked
        .iter()
        .map(|b| {
            let why: Vec<String> = b.blockers.iter().map(Blocker::why).collect();
            let fix: Vec<String> = b.blockers.iter().map(|x| x.fix(&b.app)).collect();
            format!(
                "{} on {:?} ({}): {}. Fix: {}",
                b.links(owner).join(", "),
                b.app.name,
                b.app.uid,
                why.join("; "),
                fix.join("; ")
            )
        })
        .collect();
    format!(
        "could not make {links} link change(s) on {} app(s); everything else matches the manifest.\n{}",
        blocked.len(),
        apps.join("\n")
    )
}

/// Convert a legacy policy on an app to a reusable one, before that app's change.
/// The policy keeps its id, rules and precedence, and stays unmanaged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConvertLegacy {
    /// The app that carries it.
    pub app: AppView,
    /// The policy.
    pub policy: LegacyPolicy,
}

/// What becomes of the app changes of a plan: those made, the conversions they need
/// first, and those blocked.
pub(super) struct Held {
    pub made: Vec<AppChange>,
    pub converts: Vec<ConvertLegacy>,
    pub blocked: Vec<BlockedAppChange>,
}

/// Splits `changes` into the ones made and the ones blocked, by what each app carries
/// in `inventory`. With `convert_legacy`, an app blocked only by legacy policies is
/// changed after its legacy policies are converted.
pub(super) fn hold_back(
    changes: Vec<AppChange>,
    inventory: &crate::inventory::Inventory,
    convert_legacy: bool,
) -> Held {
    let mut held = Held {
        made: Vec::new(),
        converts: Vec::new(),
        blocked: Vec::new(),
    };
    for change in changes {
        let Some(app) = inventory.app(&change.app.uid) else {
            held.made.push(change);
            continue;
        };
        let legacy: Vec<LegacyPolicy> = inventory
            .legacy_policies(app)
            .iter()
            .map(|p| LegacyPolicy {
                policy_id: p.id.to_owned(),
                policy_name: p.name.to_owned(),
                precedence: p.precedence,
            })
            .collect();
        let mut blockers = Vec::new();
        if !legacy.is_empty() && !convert_legacy {
            blockers.push(Blocker::LegacyPolicies {
                policies: legacy.clone(),
            });
        }
        let secrets = app.write_only_secrets();
        if !secrets.is_empty() {
            blockers.push(Blocker::WriteOnlySecrets {
                fields: secrets.into_iter().map(str::to_owned).collect(),
            });
        }
        if blockers.is_empty() {
            held.converts
                .extend(legacy.into_iter().map(|policy| ConvertLegacy {
                    app: change.app.clone(),
                    policy,
                }));
            held.made.push(change);
        } else {
            held.blocked.push(BlockedAppChange::new(change, blockers));
        }
    }
    held
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudflare::types::App;
    use crate::inventory::Inventory;
    use serde_json::json;

    fn change(uid: &str) -> AppChange {
        AppChange {
            app: AppView {
                uid: uid.into(),
                name: uid.into(),
            },
            attach: Vec::new(),
            detach: Vec::new(),
        }
    }

    fn inventory() -> Inventory {
        let legacy = json!({"id": "old", "name": "Old", "decision": "allow",
                            "reusable": false, "precedence": 3, "include": [{"everyone": {}}]});
        let app = |uid: &str, extra: serde_json::Value| {
            let mut a = json!({"id": uid, "type": "self_hosted", "domain": format!("{uid}.example.com"),
                               "policies": []});
            a.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            App::from_value(a).unwrap()
        };
        Inventory::new(
            vec![
                app("plain", json!({})),
                app("legacy", json!({"policies": [legacy.clone()]})),
                app("scim", json!({"scim_config": {"enabled": true}})),
                app("both", json!({"policies": [legacy], "scim_config": {}})),
            ],
            Vec::new(),
        )
    }

    fn uids<'a>(changes: impl Iterator<Item = &'a AppView>) -> Vec<&'a str> {
        changes.map(|a| a.uid.as_str()).collect()
    }

    #[test]
    fn legacy_policies_block_unless_converted_and_secrets_always_block() {
        let inv = inventory();
        let all = || ["plain", "legacy", "scim", "both"].map(change).to_vec();

        let held = hold_back(all(), &inv, false);
        assert_eq!(uids(held.made.iter().map(|c| &c.app)), ["plain"]);
        assert_eq!(
            uids(held.blocked.iter().map(|b| &b.app)),
            ["legacy", "scim", "both"]
        );
        assert!(held.converts.is_empty());
        let both = &held.blocked[2].blockers;
        assert!(matches!(both[0], Blocker::LegacyPolicies { .. }));
        assert_eq!(
            both[1],
            Blocker::WriteOnlySecrets {
                fields: vec!["scim_config.authentication".into()]
            }
        );

        // Converting unblocks the legacy-only app; an app with a secret stays blocked
        // and nothing of it is converted.
        let held = hold_back(all(), &inv, true);
        assert_eq!(uids(held.made.iter().map(|c| &c.app)), ["plain", "legacy"]);
        assert_eq!(uids(held.blocked.iter().map(|b| &b.app)), ["scim", "both"]);
        assert_eq!(
            held.converts,
            [ConvertLegacy {
                app: change("legacy").app,
                policy: LegacyPolicy {
                    policy_id: "old".into(),
                    policy_name: "Old".into(),
                    precedence: 3
                }
            }]
        );
    }
}
