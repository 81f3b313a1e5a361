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
/// An MCP server application (SDK `application_type`: `mcp`). NOTE (Managed OAuth docs,
/// `http-apps/managed-oauth.mdx`): its origin gets the user's JWT in
/// `Cf-Access-Jwt-Assertion` and forwards it as `Cf-Access-Token`, as a self-hosted
/// app's origin does.
pub const MCP: &str = "mcp";
/// An MCP server portal (SDK `application_type`: `mcp_portal`), which fronts several
/// MCP servers.
pub const MCP_PORTAL: &str = "mcp_portal";
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

/// An Access application as the API returned it. Its `Debug` shows every field but
/// the values of write-only secrets (see [`App::write_only_secrets`]).
#[derive(Clone, PartialEq)]
pub struct App {
    raw: Map<String, Value>,
    /// False for a listed summary (only the fields the planner reads): such an app
    /// must be fetched whole before a PUT.
    complete: bool,
}

/// The fields of `scim_config.authentication` that hold a secret.
const SCIM_SECRETS: &[&str] = &["password", "token", "client_secret"];

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shown = self.raw.clone();
        redact_secrets(&mut shown);
        f.debug_struct("App")
            .field("raw", &shown)
            .field("complete", &self.complete)
            .finish()
    }
}

/// Replaces the value of every write-only secret in an app object with `(redacted)`.
fn redact_secrets(app: &mut Map<String, Value>) {
    let redacted = || Value::String("(redacted)".to_owned());
    if let Some(Value::Object(saas)) = app.get_mut("saas_app")
        && let Some(secret) = saas.get_mut("client_secret")
    {
        *secret = redacted();
    }
    if let Some(Value::Object(scim)) = app.get_mut("scim_config") {
        let methods: Vec<&mut Value> = match scim.get_mut("authentication") {
            Some(Value::Array(list)) => list.iter_mut().collect(),
            Some(one @ Value::Object(_)) => vec![one],
            _ => Vec::new(),
        };
        for method in methods {
            if let Value::Object(method) = method {
                for key in SCIM_SECRETS {
                    if let Some(secret) = method.get_mut(*key) {
                        *secret = redacted();
                    }
                }
            }
        }
    }
}

impl App {
    /// The sections of this app's configuration that hold a write-only secret, by
    /// field path (never their values): `scim_config.authentication` for an app with
    /// SCIM provisioning, `saas_app.client_secret` for an OIDC SaaS app.
    ///
    /// NOTE (reference page, "Write-only secrets"; Terraform provider
    /// `zero_trust_access_application/normalizations.go`): these are accepted on writes
    /// and may not be returned by reads; whether a PUT without them clears them is not
    /// known. Assuming the worst, any `scim_config` counts (a read may hide the whole
    /// `authentication`), and every OIDC SaaS app has a client secret.
    pub fn write_only_secrets(&self) -> Vec<&'static str> {
        let mut fields = Vec::new();
        if self.raw.get("scim_config").is_some_and(Value::is_object) {
            fields.push("scim_config.authentication");
        }
        let saas = self.raw.get("saas_app");
        let oidc = self.saas_auth_type() == Some("oidc")
            || saas.is_some_and(|s| s.get("client_secret").is_some());
        if oidc {
            fields.push("saas_app.client_secret");
        }
        fields
    }

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

    /// The ids of the policies this app's own copies mark `reusable: false`: its
    /// legacy (app-scoped) policies, by the app's word alone.
    ///
    /// Only the explicit mark counts here: this is the last check before a PUT, made
    /// without the policy list, and a copy without a mark may well be a reusable
    /// policy. The planner decides unmarked copies with the list and a read by id
    /// ([`crate::inventory::links`]).
    pub fn marked_legacy_policy_ids(&self) -> Vec<&str> {
        self.attached_items()
            .filter(|(_, item)| item.get("reusable") == Some(&Value::Bool(false)))
            .filter_map(|(_, item)| item.get("id").and_then(Value::as_str))
            .collect()
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
                        if saas.get("client_secret").is_some() {
                            kept.insert("client_secret".to_owned(), Value::Null);
                        }
                        raw.insert(key, Value::Object(kept));
                    } else if key == "scim_config" {
                        // Only that there is one: it may hold a write-only secret.
                        let scim: Value = map.next_value()?;
                        if scim.is_object() {
                            raw.insert(key, Value::Object(Map::new()));
                        }
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
    ///
    /// Rule lists are read without the keys that carry nothing (`null` values, see
    /// [`super::rules::without_nulls`]), so an empty selector the API adds is never
    /// taken for a rule.
    pub fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Object(mut raw) if raw.get("id").is_some_and(Value::is_string) => {
                strip_null_rules(&mut raw);
                Some(Self { raw })
            }
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

/// True when an item of an app's `policies` is the app's own (legacy, app-scoped)
/// policy rather than a link to a reusable one: its copy says `reusable: false`, or,
/// without a `reusable` mark, carries its own rules.
///
/// NOTE: ASSUMED that an app's expanded copy of a reusable policy says
/// `reusable: true`, as a reusable policy itself does (API schema
/// `access_reusable_policy_resp`: `reusable` is `true`). The live tests print what the
/// real API sends; the inventory only trusts this mark for ids the policy list lacks.
pub fn is_app_scoped(item: &Value) -> bool {
    match item.get("reusable") {
        Some(Value::Bool(reusable)) => !reusable,
        Some(_) => false,
        None => item.get("decision").is_some() || item.get("include").is_some(),
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
                strip_null_rules(policy);
            }
        }
    }
}

/// The rule lists of a policy object, read without null-valued keys.
fn strip_null_rules(policy: &mut Map<String, Value>) {
    for kind in ["include", "exclude", "require"] {
        if let Some(Value::Array(rules)) = policy.get_mut(kind) {
            *rules = super::rules::without_nulls(rules);
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
    fn write_only_secrets_are_named_by_field_and_never_shown_by_debug() {
        let app = App::from_value(json!({
            "id": "a", "type": "self_hosted", "domain": "w.example.com",
            "scim_config": {"enabled": true, "remote_uri": "https://scim.example.com",
                            "authentication": {"scheme": "httpbasic", "user": "u",
                                               "password": "hunter2-scim"}}
        }))
        .unwrap();
        assert_eq!(app.write_only_secrets(), ["scim_config.authentication"]);
        let shown = format!("{app:?}");
        assert!(!shown.contains("hunter2-scim"), "{shown}");
        assert!(shown.contains("(redacted)"), "{shown}");

        let oidc = App::from_value(json!({
            "id": "b", "type": "saas",
            "saas_app": {"auth_type": "oidc", "client_secret": "oidc-secret-value"},
            "scim_config": {"authentication": [{"scheme": "oauthbearertoken", "token": "tok-value"}]}
        }))
        .unwrap();
        assert_eq!(
            oidc.write_only_secrets(),
            ["scim_config.authentication", "saas_app.client_secret"]
        );
        let shown = format!("{oidc:?}");
        assert!(
            !shown.contains("oidc-secret-value") && !shown.contains("tok-value"),
            "{shown}"
        );

        // A listed summary keeps that there is a secret, not the secret.
        let listed: AppSummary = serde_json::from_value(json!({
            "id": "c", "type": "self_hosted", "domain": "c.example.com",
            "scim_config": {"authentication": {"password": "p4ss"}}
        }))
        .unwrap();
        assert_eq!(
            listed.0.write_only_secrets(),
            ["scim_config.authentication"]
        );
        assert!(!format!("{:?}", listed.0.raw()).contains("p4ss"));
        let plain = App::from_value(json!({"id": "d", "type": "self_hosted"})).unwrap();
        assert!(plain.write_only_secrets().is_empty());
    }

    #[test]
    fn saml_is_the_default_saas_auth_type() {
        let app = App::from_value(json!({"id": "a", "type": "saas", "saas_app": {}})).unwrap();
        assert_eq!(app.saas_auth_type(), Some("saml"));
        assert_eq!(app.uid(), "a");
    }
}
