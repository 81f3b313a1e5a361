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
}

impl App {
    /// Wraps an API object. Returns `None` when it is not an object with an id.
    pub fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Object(raw)
                if raw
                    .get("uid")
                    .or(raw.get("id"))
                    .is_some_and(Value::is_string) =>
            {
                Some(Self { raw })
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
        let Some(Value::Array(list)) = self.raw.get("policies") else {
            return Vec::new();
        };
        list.iter()
            .enumerate()
            .filter_map(|(i, p)| {
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
                Some(PolicyLink { id, precedence })
            })
            .collect()
    }

    /// The body of a PUT that changes only the policy list: every field as received,
    /// unknown ones included, minus the read-only ones, with `policies` as links.
    pub fn put_body(&self, links: &[PolicyLink]) -> Value {
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
    fn saml_is_the_default_saas_auth_type() {
        let app = App::from_value(json!({"id": "a", "type": "saas", "saas_app": {}})).unwrap();
        assert_eq!(app.saas_auth_type(), Some("saml"));
        assert_eq!(app.uid(), "a");
    }
}
