//! Cloudflare Access API objects, kept as the JSON we received plus typed views.
//!
//! NOTE: an app PUT replaces the whole app ("the PUT request body should contain all
//! fields returned by the previous GET request"), and Cloudflare adds fields over time.
//! So an [`App`] keeps every field it arrived with in `raw` and only *reads* typed views
//! out of it; the PUT body is built from `raw` (see [`App::put_body`]).

use serde_json::{Map, Value};

/// Application `type` values that matter to this tool.
pub const SELF_HOSTED: &str = "self_hosted";
/// A SaaS application; an MCP server only when its `saas_app.auth_type` is `oidc`.
pub const SAAS: &str = "saas";
/// The Service Auth decision a Linked App Token policy carries.
pub const NON_IDENTITY: &str = "non_identity";

/// Fields the API computes; they are dropped from an app PUT body.
const APP_READ_ONLY: &[&str] = &["id", "uid", "aud", "created_at", "updated_at"];

/// One attachment of a policy to an app: the link an app PUT carries.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PolicyLink {
    /// The reusable policy's id.
    pub id: String,
    /// Unique within one app, >= 1; lower is evaluated first.
    pub precedence: u32,
}

/// An Access application as the API returned it.
#[derive(Debug, Clone, PartialEq)]
pub struct App {
    raw: Map<String, Value>,
    /// False for a listed summary (only the fields the planner reads): such an app
    /// must be fetched whole before a PUT.
    complete: bool,
}

impl App {
    /// Wraps an API object. Returns `None` when it is not an object with an id.
    pub fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Object(mut raw)
                if raw
                    .get("uid")
                    .or(raw.get("id"))
                    .is_some_and(Value::is_string) =>
            {
                slim_expanded_policies(&mut raw);
                Some(Self {
                    raw,
                    complete: true,
                })
            }
            _ => None,
        }
    }

    /// Every field as received.
    pub fn raw(&self) -> &Map<String, Value> {
        &self.raw
    }

    /// The app's id, for `/access/apps/{id}` paths.
    pub fn id(&self) -> &str {
        str_field(&self.raw, "id").unwrap_or_else(|| self.uid())
    }

    /// The uid a Linked App Token rule names (`uid` when present, else `id`).
    pub fn uid(&self) -> &str {
        str_field(&self.raw, "uid")
            .or_else(|| str_field(&self.raw, "id"))
            .unwrap_or_default()
    }

    /// Display name; not unique in an account.
    pub fn name(&self) -> &str {
        str_field(&self.raw, "name").unwrap_or_default()
    }

    /// `self_hosted`, `saas`, `ssh`, ...
    pub fn app_type(&self) -> &str {
        str_field(&self.raw, "type").unwrap_or_default()
    }

    /// The primary domain, when the app has one.
    pub fn domain(&self) -> Option<&str> {
        str_field(&self.raw, "domain")
    }

    /// Every hostname the app answers on: `domain`, `self_hosted_domains` and public
    /// `destinations[].uri`, without duplicates, in that order.
    pub fn domains(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        let self_hosted = match self.raw.get("self_hosted_domains") {
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let destinations = match self.raw.get("destinations") {
            Some(Value::Array(list)) => {
                list.iter().filter_map(|d| d.get("uri")?.as_str()).collect()
            }
            _ => Vec::new(),
        };
        for d in self
            .domain()
            .into_iter()
            .chain(self_hosted)
            .chain(destinations)
        {
            if !d.is_empty() && !out.contains(&d) {
                out.push(d);
            }
        }
        out
    }

    /// The app's Access tags (account-level tags, in its `tags` field), as the API
    /// spells them; none when the field is absent.
    pub fn tags(&self) -> impl Iterator<Item = &str> {
        let list = match self.raw.get("tags") {
            Some(Value::Array(list)) => list.as_slice(),
            _ => &[],
        };
        list.iter().filter_map(Value::as_str)
    }

    /// `saas_app.auth_type` of a SaaS app (`oidc` or `saml`); SAML when absent.
    pub fn saas_auth_type(&self) -> Option<&str> {
        if self.app_type() != SAAS {
            return None;
        }
        Some(
            self.raw
                .get("saas_app")
                .and_then(|s| s.get("auth_type"))
                .and_then(Value::as_str)
                .unwrap_or("saml"),
        )
    }

    /// The policies attached to this app, in the order received, as links.
    ///
    /// NOTE: GET returns `policies` as expanded policy objects with `precedence`; a link
    /// without a precedence gets its 1-based position, the way the API numbers a list
    /// of bare ids.
    pub fn policy_links(&self) -> Vec<PolicyLink> {
        self.attached_items().map(|(link, _)| link).collect()
    }

    /// Each attached policy as received (an id or an expanded object) with its link.
    pub fn attached_items(&self) -> impl Iterator<Item = (PolicyLink, &Value)> {
        let list = match self.raw.get("policies") {
            Some(Value::Array(list)) => list.as_slice(),
            _ => &[],
        };
        list.iter().enumerate().filter_map(|(i, p)| {
            let id = match p {
                Value::String(id) => id.clone(),
                Value::Object(o) => o.get("id")?.as_str()?.to_owned(),
                _ => return None,
            };
            let precedence = p
                .get("precedence")
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(u32::try_from(i + 1).unwrap_or(u32::MAX));
            Some((PolicyLink { id, precedence }, p))
        })
    }

    /// The body of a PUT that changes only the policy list: every field as received,
    /// unknown ones included, minus the read-only ones, with `policies` as links.
    ///
    /// # Panics
    /// On a listed summary ([`AppSummary`]): a PUT built from it would reset every
    /// field it left out. Apply always GETs the app fresh first.
    pub fn put_body(&self, links: &[PolicyLink]) -> Value {
        assert!(
            self.complete,
            "app {} is a list summary; GET it whole before a PUT",
            self.uid()
        );
        let mut body = self.raw.clone();
        for key in APP_READ_ONLY {
            body.remove(*key);
        }
        body.insert(
            "policies".to_owned(),
            serde_json::to_value(links).unwrap_or(Value::Array(Vec::new())),
        );
        Value::Object(body)
    }
}

/// An app read from a list page, keeping only the fields the planner, `resolve` and
/// `check` read. Parsed straight from the page, so a 10,000-app account is never held
/// as a full JSON tree; its [`App`] refuses to build a PUT body.
#[derive(Debug, Clone)]
pub struct AppSummary(pub App);

/// Top-level app fields a summary keeps.
const SUMMARY_FIELDS: &[&str] = &[
    "id",
    "uid",
    "name",
    "type",
    "domain",
    "self_hosted_domains",
    "destinations",
    "policies",
    // Tag selectors read them.
    "tags",
];

impl<'de> serde::Deserialize<'de> for AppSummary {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = AppSummary;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an Access application object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<AppSummary, A::Error> {
                let mut raw = Map::new();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "saas_app" {
                        // Only its auth type matters: OIDC apps can issue the tokens.
                        let saas: Value = map.next_value()?;
                        let mut kept = Map::new();
                        if let Some(auth) = saas.get("auth_type") {
                            kept.insert("auth_type".to_owned(), auth.clone());
                        }
                        raw.insert(key, Value::Object(kept));
                    } else if SUMMARY_FIELDS.contains(&key.as_str()) {
                        let value: Value = map.next_value()?;
                        raw.insert(key, value);
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                if !raw
                    .get("uid")
                    .or(raw.get("id"))
                    .is_some_and(Value::is_string)
                {
                    return Err(serde::de::Error::custom("an app without an id"));
                }
                slim_expanded_policies(&mut raw);
                Ok(AppSummary(App {
                    raw,
                    complete: false,
                }))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// A reusable Access policy as the API returned it.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    raw: Map<String, Value>,
}

impl Policy {
    /// Wraps an API object. Returns `None` when it is not an object with an id.
    pub fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Object(raw) if raw.get("id").is_some_and(Value::is_string) => Some(Self { raw }),
            _ => None,
        }
    }

    /// Every field as received.
    pub fn raw(&self) -> &Map<String, Value> {
        &self.raw
    }

    /// The policy id.
    pub fn id(&self) -> &str {
        str_field(&self.raw, "id").unwrap_or_default()
    }

    /// The name; where our ownership marker lives.
    pub fn name(&self) -> &str {
        str_field(&self.raw, "name").unwrap_or_default()
    }

    /// `allow`, `deny`, `non_identity` or `bypass`.
    pub fn decision(&self) -> &str {
        str_field(&self.raw, "decision").unwrap_or_default()
    }

    /// When it was created (RFC 3339, so it sorts as text); empty when absent.
    pub fn created_at(&self) -> &str {
        str_field(&self.raw, "created_at").unwrap_or_default()
    }

    /// Oldest first, then by id: the order that picks the one managed policy every
    /// process keeps when several serve the same server.
    pub fn age_key(&self) -> (&str, &str) {
        (self.created_at(), self.id())
    }

    /// The rules of one of `include`, `exclude`, `require` (empty when absent or null).
    pub fn rules(&self, kind: &str) -> &[Value] {
        match self.raw.get(kind) {
            Some(Value::Array(list)) => list,
            _ => &[],
        }
    }

    /// The app uids of every `linked_app_token` rule in `include`.
    pub fn linked_app_uids(&self) -> Vec<&str> {
        linked_app_uids(self.rules("include"))
    }
}

/// The `app_uid`s of the `linked_app_token` rules in a rule list.
pub fn linked_app_uids(rules: &[Value]) -> Vec<&str> {
    rules
        .iter()
        .filter_map(|r| r.get("linked_app_token")?.get("app_uid")?.as_str())
        .collect()
}

/// The fields of an app's expanded policy copies that anything reads.
const EXPANDED_POLICY_FIELDS: &[&str] = &[
    "id",
    "precedence",
    "name",
    "decision",
    "include",
    "exclude",
    "require",
    "reusable",
];

/// Drops the other fields of the expanded policy objects in an app's `policies`.
///
/// NOTE: GET returns `policies` as full expanded policy objects, but a PUT takes links
/// (`{id, precedence}`), so [`App::put_body`] never sends these copies back. Keeping
/// only what the planner and `check` read cuts the memory of a large inventory: the
/// link of a reusable policy (whose rules come from the policy list), and the rules of
/// an app-scoped legacy policy (which is not in that list).
fn slim_expanded_policies(raw: &mut Map<String, Value>) {
    if let Some(Value::Array(list)) = raw.get_mut("policies") {
        for item in list {
            if let Value::Object(policy) = item {
                // A reusable policy is read from the policy list; its copy only links.
                let reusable = policy.get("reusable") == Some(&Value::Bool(true));
                let keep = |k: &str| {
                    if reusable {
                        k == "id" || k == "precedence"
                    } else {
                        EXPANDED_POLICY_FIELDS.contains(&k)
                    }
                };
                // A new map, not `retain`: that would keep the full map's capacity.
                *policy = std::mem::take(policy)
                    .into_iter()
                    .filter(|(k, _)| keep(k))
                    .collect();
            }
        }
    }
}

fn str_field<'a>(raw: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    raw.get(key).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn put_body_keeps_unknown_fields_and_drops_read_only_ones() {
        let app = App::from_value(json!({
            "id": "a", "uid": "a", "aud": "x", "created_at": "t", "updated_at": "t",
            "name": "wiki", "type": "self_hosted", "domain": "wiki.example.com",
            "future_field": {"nested": [1, 2]},
            "policies": [{"id": "p1", "precedence": 1, "name": "expanded"}]
        }))
        .unwrap();
        let body = app.put_body(&[PolicyLink {
            id: "p1".into(),
            precedence: 1,
        }]);
        assert_eq!(
            body,
            json!({
                "name": "wiki", "type": "self_hosted", "domain": "wiki.example.com",
                "future_field": {"nested": [1, 2]},
                "policies": [{"id": "p1", "precedence": 1}]
            })
        );
    }

    #[test]
    fn a_summary_keeps_what_the_planner_reads_and_refuses_to_build_a_put() {
        let listed: AppSummary = serde_json::from_value(json!({
            "id": "a", "name": "wiki", "type": "saas", "domain": "w.example.com",
            "saas_app": {"auth_type": "oidc", "client_secret": "s", "redirect_uris": ["x"]},
            "cors_headers": {"allow_all_origins": true},
            "policies": [{"id": "p", "precedence": 2, "name": "n", "decision": "allow",
                          "include": [], "session_duration": "24h"}]
        }))
        .unwrap();
        let app = listed.0;
        assert_eq!(
            (app.uid(), app.name(), app.app_type()),
            ("a", "wiki", "saas")
        );
        assert_eq!(app.saas_auth_type(), Some("oidc"));
        assert_eq!(app.domains(), ["w.example.com"]);
        assert_eq!(
            app.policy_links(),
            [PolicyLink {
                id: "p".into(),
                precedence: 2
            }]
        );
        assert!(app.raw().get("cors_headers").is_none());
        assert_eq!(app.raw()["policies"][0].get("session_duration"), None);
        let put = std::panic::catch_unwind(|| app.put_body(&[]));
        assert!(put.is_err(), "a summary must never become a PUT body");
    }

    #[test]
    fn saml_is_the_default_saas_auth_type() {
        let app = App::from_value(json!({"id": "a", "type": "saas", "saas_app": {}})).unwrap();
        assert_eq!(app.saas_auth_type(), Some("saml"));
        assert_eq!(app.uid(), "a");
    }
}
