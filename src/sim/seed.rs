//! The account a simulator starts with: apps and reusable policies from a JSON fixture,
//! and the built-in demo account.

use serde_json::Value;

use super::SimError;
use super::store::{Behaviour, Store};

/// Apps and policies to load at start. Apps link policies in their `policies` list by
/// id string or `{id, precedence}`; an item with a `decision` is an inline definition,
/// stored as that app's legacy (app-scoped) policy. Missing `id`, `uid`, `aud`,
/// `created_at`, `updated_at` are filled in, `app_count` is always computed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Seed {
    /// Access applications, in creation order.
    pub apps: Vec<Value>,
    /// Reusable policies, in creation order.
    pub policies: Vec<Value>,
}

const DEMO_ACCOUNT: &str = include_str!("demo_account.json");

impl Seed {
    /// Parses and validates a fixture `{"apps": [...], "policies": [...]}`.
    pub fn from_json(text: &str) -> Result<Seed, SimError> {
        let seed: Seed = serde_json::from_str(text)
            .map_err(|e| SimError::InvalidSeed(format!("not a seed fixture: {e}")))?;
        seed.to_store()?;
        Ok(seed)
    }

    /// The demo account: an MCP server app (self-hosted) and an `OIDC` `SaaS` MCP server,
    /// a `SAML` `SaaS` app, an `SSH` app, an `mcp` (MCP server) app and an `mcp_portal`
    /// (MCP server portal) app, self-hosted downstream apps with rich settings,
    /// reusable `Allow employees` / `Block contractors` policies and two unmanaged
    /// Linked App Token grants: `Legacy CI token grant` for `ci-bot`, on `Billing
    /// dashboard`, and `Allow requests from MCP server` for `support-mcp`, on `Status
    /// page`, made by hand the way Cloudflare's guide shows (what `--adopt` takes over).
    /// Every id is fixed, so demo output is reproducible.
    pub fn demo() -> Seed {
        // The fixture is part of the crate and covered by a unit test.
        Self::from_json(DEMO_ACCOUNT).unwrap_or_default()
    }

    /// Builds the store, validating every object the way a write would be validated.
    pub(crate) fn to_store(&self) -> Result<Store, SimError> {
        self.to_store_with(Behaviour::default())
    }

    /// [`Self::to_store`] for a simulator that behaves as `behaviour` says (seeded
    /// policies are stored the way that simulator stores a write).
    pub(crate) fn to_store_with(&self, behaviour: Behaviour) -> Result<Store, SimError> {
        let mut store = Store::new(behaviour);
        for (i, policy) in self.policies.iter().enumerate() {
            store
                .seed_policy(policy)
                .map_err(|e| SimError::InvalidSeed(format!("policies[{i}]: {}", e.message)))?;
        }
        for (i, app) in self.apps.iter().enumerate() {
            store
                .seed_app(app)
                .map_err(|e| SimError::InvalidSeed(format!("apps[{i}]: {}", e.message)))?;
        }
        Ok(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_account_loads_with_its_grants() {
        let store = Seed::from_json(DEMO_ACCOUNT).unwrap().to_store().unwrap();
        let apps = store.apps();
        assert_eq!(apps.len(), 11);
        assert_eq!(store.policies().len(), 5);
        let billing = apps
            .iter()
            .find(|a| a["name"] == "Billing dashboard")
            .unwrap();
        let names: Vec<&str> = billing["policies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"Legacy CI token grant"), "{names:?}");
        let ci = apps.iter().find(|a| a["name"] == "ci-bot").unwrap();
        let grant = store
            .policies()
            .into_iter()
            .find(|p| p["name"] == "Legacy CI token grant")
            .unwrap();
        assert_eq!(
            grant["include"][0]["linked_app_token"]["app_uid"],
            ci["uid"]
        );
        assert!(apps.iter().any(|a| a["type"] == "ssh"));
        assert!(apps.iter().any(|a| a["type"] == "mcp"));
        assert!(apps.iter().any(|a| a["type"] == "mcp_portal"));
    }

    #[test]
    fn seed_errors_name_the_object() {
        let err =
            Seed::from_json(r#"{"apps": [{"name": "x", "type": "self_hosted"}]}"#).unwrap_err();
        assert!(
            err.to_string().contains("apps[0]") && err.to_string().contains("domain"),
            "{err}"
        );
        let err = Seed::from_json(
            r#"{"apps": [{"type": "ssh", "domain": "s.example.com", "policies": ["nope"]}]}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
        assert!(Seed::from_json("42").is_err());
    }

    #[test]
    fn seed_fills_defaults() {
        let seed = Seed::from_json(
            r#"{"policies": [{"id": "p1", "name": "n", "decision": "allow", "include": [{"everyone": {}}]}],
                "apps": [{"name": "w", "type": "self_hosted", "domain": "w.example.com",
                          "policies": ["p1"]}]}"#,
        )
        .unwrap();
        let store = seed.to_store().unwrap();
        let app = &store.apps()[0];
        assert_eq!(app["id"], app["uid"]);
        assert_eq!(app["aud"].as_str().unwrap().len(), 64);
        assert_eq!(app["policies"][0]["precedence"], 1);
        assert_eq!(store.policy("p1").unwrap()["app_count"], 1);
        assert_eq!(
            store.policy("p1").unwrap()["exclude"],
            serde_json::json!([])
        );
    }
}
