//! The simulated account's state: apps and reusable policies, with the validation a
//! write goes through and the JSON shapes the API returns.
//!
//! Apps are stored with `policies` as links `[{id, precedence}]` sorted by precedence;
//! they are expanded to full policy objects only when rendered. Policies are stored
//! without a meaningful `app_count`; it is computed when rendered, so it is always right.

use std::collections::HashMap;

use serde_json::{Map, Value, json};
use uuid::Uuid;

/// An API failure: HTTP status, Cloudflare error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: u16,
    pub code: u32,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// NOTE: 12130 `access.api.error.invalid_request: <detail>` (400).
    pub fn invalid(detail: impl std::fmt::Display) -> Self {
        Self::new(
            400,
            12130,
            format!("access.api.error.invalid_request: {detail}"),
        )
    }

    /// NOTE: 12135 `access.api.error.not_found` (404) is the only proof of absence.
    pub fn not_found() -> Self {
        Self::new(404, 12135, "access.api.error.not_found")
    }
}

type Result<T> = std::result::Result<T, ApiError>;

/// Application types the API knows ("type" in the reference).
const APP_TYPES: &[&str] = &[
    "self_hosted",
    "saas",
    "ssh",
    "vnc",
    "rdp",
    "app_launcher",
    "warp",
    "biso",
    "bookmark",
    "dash_sso",
    "infrastructure",
    "mcp",
    "mcp_portal",
    "proxy_endpoint",
];
const DECISIONS: &[&str] = &["allow", "deny", "non_identity", "bypass"];
const RULE_LISTS: &[&str] = &["include", "exclude", "require"];
/// Fields the server owns; a client sending them in a body is ignored.
const APP_READ_ONLY: &[&str] = &["id", "uid", "aud", "created_at", "updated_at"];
const POLICY_READ_ONLY: &[&str] = &["id", "app_count", "reusable", "created_at", "updated_at"];

/// The current time as RFC 3339 with microseconds, like the API's timestamps.
pub(crate) fn now() -> String {
    humantime::format_rfc3339_micros(std::time::SystemTime::now()).to_string()
}

/// A fresh audience tag: 64 hex characters.
fn new_aud() -> String {
    format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

fn str_of<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str)
}

/// True when any rule list of the policy holds a `linked_app_token` rule.
fn has_linked_app_token(policy: &Map<String, Value>) -> bool {
    RULE_LISTS.iter().any(|list| {
        policy
            .get(*list)
            .and_then(Value::as_array)
            .is_some_and(|rules| rules.iter().any(|r| r.get("linked_app_token").is_some()))
    })
}

/// How the store treats writes, where a simulator can behave in more than one way.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Behaviour {
    /// Store rules normalised ([`normalise_stored_rules`]).
    pub normalise_rules: bool,
    /// Return write-only secrets on reads (by default they are never returned).
    pub reveal_secrets: bool,
    /// Reusable policies the account may have; `None`: no limit.
    pub policy_limit: Option<usize>,
}

impl Behaviour {
    /// The behaviour a simulator with `config` has.
    pub fn of(config: &super::SimConfig) -> Self {
        Self {
            normalise_rules: config.normalise_rules,
            reveal_secrets: config.reveal_secrets,
            policy_limit: config.policy_limit,
        }
    }
}

/// The account: apps and reusable policies, each in creation order.
#[derive(Debug, Default)]
pub(crate) struct Store {
    behaviour: Behaviour,
    /// App-scoped (legacy) policies by id: not in the policy list, expanded on their
    /// app only.
    legacy: HashMap<String, LegacyPolicy>,
    /// Reusable policies `GET /access/policies` leaves out (a misbehaving list).
    unlisted: std::collections::HashSet<String>,
    /// Changed only through [`Store::apps_mut`] (which drops `index`) or
    /// [`Store::push_app`] (which updates it).
    apps: Vec<Map<String, Value>>,
    /// Changed only through [`Store::policies_mut`] (which drops `index`) or
    /// [`Store::push_policy`] (which updates it).
    policies: Vec<Map<String, Value>>,
    /// Lookups for the read paths, built on first use after a change, so reading a page
    /// of a 10,000-app account costs the page, not the account.
    index: std::sync::OnceLock<ReadIndex>,
}

/// An app-scoped (legacy) policy and the app it belongs to.
#[derive(Debug, Clone)]
struct LegacyPolicy {
    app_id: String,
    policy: Map<String, Value>,
}

/// Positions by id and link counts, for the state the store had when it was built.
#[derive(Debug)]
struct ReadIndex {
    app_pos: HashMap<String, usize>,
    policy_pos: HashMap<String, usize>,
    app_counts: HashMap<String, usize>,
}

impl Store {
    /// An empty account that behaves as `behaviour` says.
    pub fn new(behaviour: Behaviour) -> Self {
        Self {
            behaviour,
            ..Self::default()
        }
    }

    // ---- reads -------------------------------------------------------------------

    fn apps_mut(&mut self) -> &mut Vec<Map<String, Value>> {
        self.index.take();
        &mut self.apps
    }

    fn policies_mut(&mut self) -> &mut Vec<Map<String, Value>> {
        self.index.take();
        &mut self.policies
    }

    /// Appends an app, keeping a built index up to date (seeding 10,000 apps stays
    /// linear).
    fn push_app(&mut self, app: Map<String, Value>) {
        if let Some(index) = self.index.get_mut() {
            if let Some(id) = str_of(&app, "id") {
                index.app_pos.insert(id.to_owned(), self.apps.len());
            }
            for id in link_ids(&app) {
                *index.app_counts.entry(id.to_owned()).or_default() += 1;
            }
        }
        self.apps.push(app);
    }

    /// Appends a policy, keeping a built index up to date.
    fn push_policy(&mut self, policy: Map<String, Value>) {
        if let Some(index) = self.index.get_mut()
            && let Some(id) = str_of(&policy, "id")
        {
            index.policy_pos.insert(id.to_owned(), self.policies.len());
        }
        self.policies.push(policy);
    }

    fn index(&self) -> &ReadIndex {
        self.index.get_or_init(|| {
            let mut app_counts: HashMap<String, usize> = HashMap::new();
            for app in &self.apps {
                for id in link_ids(app) {
                    *app_counts.entry(id.to_owned()).or_default() += 1;
                }
            }
            let positions = |list: &[Map<String, Value>]| {
                list.iter()
                    .enumerate()
                    .filter_map(|(i, o)| Some((str_of(o, "id")?.to_owned(), i)))
                    .collect()
            };
            ReadIndex {
                app_pos: positions(&self.apps),
                policy_pos: positions(&self.policies),
                app_counts,
            }
        })
    }

    pub fn app_count(&self, policy_id: &str) -> usize {
        self.index().app_counts.get(policy_id).copied().unwrap_or(0)
    }

    fn policy_map(&self, id: &str) -> Option<&Map<String, Value>> {
        self.index().policy_pos.get(id).map(|&i| &self.policies[i])
    }

    fn app_map(&self, id: &str) -> Option<&Map<String, Value>> {
        self.index().app_pos.get(id).map(|&i| &self.apps[i])
    }

    /// A policy as the API returns it, `app_count` filled in.
    pub fn render_policy(&self, policy: &Map<String, Value>) -> Value {
        let mut out = policy.clone();
        let count = self.app_count(str_of(policy, "id").unwrap_or_default());
        out.insert("app_count".to_owned(), json!(count));
        Value::Object(out)
    }

    /// An app as the API returns it: `policies` expanded to full policy objects, each with
    /// its `precedence`, in ascending precedence.
    ///
    /// NOTE: "GET returns `policies` as full expanded policy objects, each with
    /// `precedence`" and "The list is in ascending order of precedence."
    pub fn render_app(&self, app: &Map<String, Value>) -> Value {
        let mut out = app.clone();
        if !self.behaviour.reveal_secrets {
            hide_secrets(&mut out);
        }
        let mut expanded: Vec<(u64, Value)> = links(app)
            .into_iter()
            .filter_map(|(id, precedence)| {
                let mut p = match self.policy_map(&id) {
                    Some(policy) => match self.render_policy(policy) {
                        Value::Object(p) => p,
                        _ => return None,
                    },
                    // NOTE: an app's own legacy policy is shown expanded on its GET,
                    // marked `reusable: false`.
                    None => match self.legacy_of(str_of(app, "id")?, &id) {
                        Some(legacy) => legacy.policy.clone(),
                        // A link to a policy that exists nowhere (only an out-of-band
                        // edit makes one): shown as the bare link. ASSUMED; what the
                        // real API shows is not known.
                        None => Map::from_iter([("id".to_owned(), json!(id))]),
                    },
                };
                p.insert("precedence".to_owned(), json!(precedence));
                Some((precedence, Value::Object(p)))
            })
            .collect();
        expanded.sort_by_key(|(precedence, _)| *precedence);
        out.insert(
            "policies".to_owned(),
            Value::Array(expanded.into_iter().map(|(_, p)| p).collect()),
        );
        Value::Object(out)
    }

    /// An app as stored, write-only secrets included (what no read returns).
    pub fn stored_app(&self, id: &str) -> Option<Value> {
        self.app_map(id).cloned().map(Value::Object)
    }

    /// The legacy policy `policy_id` of app `app_id`.
    fn legacy_of(&self, app_id: &str, policy_id: &str) -> Option<&LegacyPolicy> {
        self.legacy
            .get(policy_id)
            .filter(|legacy| legacy.app_id == app_id)
    }

    /// Every legacy (app-scoped) policy, as its app shows it, with its `app_id`.
    pub fn legacy_policies(&self) -> Vec<Value> {
        let mut out: Vec<Value> = self
            .legacy
            .values()
            .map(|l| {
                let mut p = l.policy.clone();
                p.insert("app_id".to_owned(), json!(l.app_id));
                Value::Object(p)
            })
            .collect();
        out.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        out
    }

    pub fn apps(&self) -> Vec<Value> {
        self.apps.iter().map(|a| self.render_app(a)).collect()
    }

    /// The apps in `range` (creation order), rendered, and the total number of apps.
    pub fn apps_page(&self, range: std::ops::Range<usize>) -> (Vec<Value>, usize) {
        let end = range.end.min(self.apps.len());
        let page = self.apps.get(range.start..end).unwrap_or_default();
        (
            page.iter().map(|a| self.render_app(a)).collect(),
            self.apps.len(),
        )
    }

    /// The policies in `range`, rendered, and the total number of policies.
    pub fn policies_page(&self, range: std::ops::Range<usize>) -> (Vec<Value>, usize) {
        if !self.unlisted.is_empty() {
            // A list that misses some policies, consistently: pages and total agree.
            let listed: Vec<&Map<String, Value>> = self
                .policies
                .iter()
                .filter(|p| !str_of(p, "id").is_some_and(|id| self.unlisted.contains(id)))
                .collect();
            let end = range.end.min(listed.len());
            let page = listed.get(range.start..end).unwrap_or_default();
            return (
                page.iter().map(|p| self.render_policy(p)).collect(),
                listed.len(),
            );
        }
        let end = range.end.min(self.policies.len());
        let page = self.policies.get(range.start..end).unwrap_or_default();
        (
            page.iter().map(|p| self.render_policy(p)).collect(),
            self.policies.len(),
        )
    }

    /// Leaves these policies out of `GET /access/policies` (they are still served by
    /// id and linked): a list that missed them.
    pub fn set_unlisted(&mut self, ids: impl IntoIterator<Item = String>) {
        self.unlisted = ids.into_iter().collect();
    }

    pub fn app(&self, id: &str) -> Option<Value> {
        self.app_map(id).map(|a| self.render_app(a))
    }

    pub fn policies(&self) -> Vec<Value> {
        self.policies
            .iter()
            .map(|p| self.render_policy(p))
            .collect()
    }

    pub fn policy(&self, id: &str) -> Option<Value> {
        self.policy_map(id).map(|p| self.render_policy(p))
    }

    // ---- app writes ---------------------------------------------------------------

    /// Validates an app body and returns the stored form, with server-owned fields taken
    /// from `meta` (id, uid, aud, `created_at`) and a new `updated_at`.
    ///
    /// NOTE: "PUT replaces the whole app ... an omitted field is reset": the stored app
    /// is the body, nothing of the previous version survives except read-only fields.
    fn build_app(&self, meta: &AppMeta, body: &Value, mode: Write) -> Result<Map<String, Value>> {
        let Value::Object(body) = body else {
            return Err(ApiError::invalid("request body must be a JSON object"));
        };
        let app_type = match body.get("type") {
            Some(Value::String(t)) if !t.is_empty() => t.as_str(),
            _ => return Err(ApiError::invalid("type is required")),
        };
        if !APP_TYPES.contains(&app_type) {
            return Err(ApiError::invalid(format!(
                "unknown application type {app_type:?}"
            )));
        }
        // NOTE: "Required in a self_hosted PUT: `type`, `domain`."
        if app_type == "self_hosted" && str_of(body, "domain").is_none_or(str::is_empty) {
            return Err(ApiError::invalid(
                "domain is required for self_hosted applications",
            ));
        }
        let links = self.validate_links(&meta.id, app_type, body.get("policies"), mode)?;

        let mut app = Map::new();
        app.insert("id".to_owned(), json!(meta.id));
        app.insert("uid".to_owned(), json!(meta.id));
        app.insert("aud".to_owned(), json!(meta.aud));
        app.insert("created_at".to_owned(), json!(meta.created_at));
        app.insert("updated_at".to_owned(), json!(meta.updated_at));
        for (key, value) in body {
            if !APP_READ_ONLY.contains(&key.as_str()) && key != "policies" {
                app.insert(key.clone(), value.clone());
            }
        }
        app.insert(
            "policies".to_owned(),
            Value::Array(
                links
                    .into_iter()
                    .map(|(id, precedence)| json!({"id": id, "precedence": precedence}))
                    .collect(),
            ),
        );
        Ok(app)
    }

    /// Parses and checks an app's `policies`: ids (precedence = position) or
    /// `{id, precedence}` objects (extra fields, as in an expanded GET, are ignored).
    fn validate_links(
        &self,
        app_id: &str,
        app_type: &str,
        policies: Option<&Value>,
        mode: Write,
    ) -> Result<Vec<(String, u64)>> {
        let list = match policies {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(list)) => list,
            Some(_) => return Err(ApiError::invalid("policies must be a list")),
        };
        let mut out: Vec<(String, u64)> = Vec::with_capacity(list.len());
        for (i, item) in list.iter().enumerate() {
            let position = i as u64 + 1;
            let (id, precedence) = match item {
                Value::String(id) => (id.clone(), position),
                Value::Object(o) => {
                    let Some(id) = str_of(o, "id") else {
                        return Err(ApiError::invalid(format!("policies[{i}].id is required")));
                    };
                    // NOTE: ASSUMED: a link object without precedence takes its position,
                    // the way a list of bare ids is numbered.
                    let precedence = match o.get("precedence") {
                        None | Some(Value::Null) => position,
                        Some(p) => match p.as_u64() {
                            Some(n) if n >= 1 => n,
                            _ => {
                                // NOTE: "Precedence: integers >= 1 ... (400 / 12130 otherwise)".
                                return Err(ApiError::invalid(format!(
                                    "policies[{i}].precedence must be an integer >= 1, got {p}"
                                )));
                            }
                        },
                    };
                    (id.to_owned(), precedence)
                }
                _ => {
                    return Err(ApiError::invalid(format!(
                        "policies[{i}] must be a policy id or an object with id and precedence"
                    )));
                }
            };
            if out.iter().any(|(_, p)| *p == precedence) {
                return Err(ApiError::invalid("policy precedences must be unique"));
            }
            // NOTE: ASSUMED: the same policy linked twice is rejected.
            if out.iter().any(|(known, _)| *known == id) {
                return Err(ApiError::invalid(format!(
                    "policy {id} is linked more than once"
                )));
            }
            // A link to the app's own legacy policy keeps it.
            if let Some(legacy) = self.legacy_of(app_id, &id) {
                if app_type != "self_hosted" && has_linked_app_token(&legacy.policy) {
                    return Err(ApiError::invalid(format!(
                        "policy {id} has a linked_app_token rule and can only be attached to self_hosted applications, not {app_type}"
                    )));
                }
                out.push((id, precedence));
                continue;
            }
            // NOTE: a link to an unknown policy is "seen as 500 in the wild; ASSUMED 400 / 12130".
            let Some(policy) = self.policy_map(&id) else {
                return Err(ApiError::invalid(format!("policy {id} not found")));
            };
            // NOTE: a policy holding a linked_app_token rule "is attachable only to
            // `self_hosted` apps (400 otherwise)".
            if app_type != "self_hosted" && has_linked_app_token(policy) {
                return Err(ApiError::invalid(format!(
                    "policy {id} has a linked_app_token rule and can only be attached to self_hosted applications, not {app_type}"
                )));
            }
            out.push((id, precedence));
        }
        // NOTE (SDK `application_update_params.py`, self-hosted `policies`): reusable and
        // inline (app-scoped) policies are mutually exclusive in an update. The exact
        // answer is ASSUMED: 400 / 12130.
        let legacy = out
            .iter()
            .filter(|(id, _)| self.legacy_of(app_id, id).is_some())
            .count();
        if mode == Write::Api && legacy > 0 && legacy < out.len() {
            return Err(ApiError::invalid(
                "reusable policies and application-scoped (legacy) policies cannot be combined; convert the legacy policies with make_reusable first",
            ));
        }
        out.sort_by_key(|(_, p)| *p);
        Ok(out)
    }

    /// `POST /access/apps`.
    pub fn create_app(&mut self, body: &Value) -> Result<Value> {
        let now = now();
        let meta = AppMeta {
            id: Uuid::new_v4().to_string(),
            aud: new_aud(),
            created_at: now.clone(),
            updated_at: now,
        };
        let app = self.build_app(&meta, body, Write::Api)?;
        // NOTE: 11010 `application_already_exists` (409); ASSUMED to mean a second
        // self_hosted app on a domain that an existing app already has.
        if let Some(domain) =
            str_of(&app, "domain").filter(|_| str_of(&app, "type") == Some("self_hosted"))
            && self
                .apps
                .iter()
                .any(|a| str_of(a, "domain") == Some(domain))
        {
            return Err(ApiError::new(409, 11010, "application_already_exists"));
        }
        let out = self.render_app(&app);
        self.push_app(app);
        Ok(out)
    }

    /// `PUT /access/apps/{id}`.
    pub fn put_app(&mut self, id: &str, body: &Value) -> Result<Value> {
        let index = self.app_index(id).ok_or_else(ApiError::not_found)?;
        let old = &self.apps[index];
        let meta = AppMeta {
            id: id.to_owned(),
            aud: str_of(old, "aud").unwrap_or_default().to_owned(),
            created_at: str_of(old, "created_at").unwrap_or_default().to_owned(),
            updated_at: now(),
        };
        let app = self.build_app(&meta, body, Write::Api)?;
        // NOTE (Cloudflare docs, policy management): "Removing the legacy policy from
        // the application also deletes it."
        let kept: Vec<String> = links(&app).into_iter().map(|(id, _)| id).collect();
        self.legacy
            .retain(|pid, l| l.app_id != id || kept.contains(pid));
        let out = self.render_app(&app);
        self.apps_mut()[index] = app;
        Ok(out)
    }

    /// `DELETE /access/apps/{id}`.
    pub fn delete_app(&mut self, id: &str) -> Result<Value> {
        let index = self.app_index(id).ok_or_else(ApiError::not_found)?;
        self.apps_mut().remove(index);
        self.legacy.retain(|_, l| l.app_id != id);
        Ok(json!({"id": id}))
    }

    fn app_index(&self, id: &str) -> Option<usize> {
        self.index().app_pos.get(id).copied()
    }

    // ---- policy writes -------------------------------------------------------------

    /// Validates a policy body and returns the stored form, defaults applied.
    ///
    /// NOTE: "Create and update bodies require `name`, `decision`, `include`"; the API
    /// fills in defaults (`approval_required: false`, empty `exclude`, ...), and a PUT
    /// replaces the policy, so omitted optional fields get their defaults back.
    fn build_policy(
        behaviour: Behaviour,
        id: &str,
        created_at: &str,
        body: &Value,
    ) -> Result<Map<String, Value>> {
        let Value::Object(body) = body else {
            return Err(ApiError::invalid("request body must be a JSON object"));
        };
        let name = match body.get("name") {
            Some(Value::String(n)) if !n.trim().is_empty() => n.clone(),
            _ => return Err(ApiError::invalid("name is required")),
        };
        let decision = match body.get("decision") {
            Some(Value::String(d)) if DECISIONS.contains(&d.as_str()) => d.clone(),
            Some(d) => {
                return Err(ApiError::invalid(format!(
                    "decision must be one of allow, deny, non_identity, bypass; got {d}"
                )));
            }
            None => return Err(ApiError::invalid("decision is required")),
        };
        let mut rules = Map::new();
        for list in RULE_LISTS {
            let value = match body.get(*list) {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) => items.clone(),
                Some(_) => {
                    return Err(ApiError::invalid(format!("{list} must be a list of rules")));
                }
            };
            for (i, rule) in value.iter().enumerate() {
                validate_rule(list, i, rule)?;
            }
            rules.insert((*list).to_owned(), Value::Array(value));
        }
        if rules["include"].as_array().is_none_or(Vec::is_empty) {
            return Err(ApiError::invalid(
                "include is required and must hold at least one rule",
            ));
        }
        // NOTE: the Linked App Token rule is allowed "Only with decision `non_identity`
        // (or `bypass`)".
        if has_linked_app_token(&rules) && !matches!(decision.as_str(), "non_identity" | "bypass") {
            return Err(ApiError::invalid(format!(
                "linked_app_token rules require decision non_identity or bypass, not {decision}"
            )));
        }

        let mut policy = Map::new();
        policy.insert("id".to_owned(), json!(id));
        policy.insert("name".to_owned(), json!(name));
        policy.insert("decision".to_owned(), json!(decision));
        if behaviour.normalise_rules {
            normalise_stored_rules(&mut rules);
        }
        policy.extend(rules);
        policy.insert("reusable".to_owned(), json!(true));
        policy.insert("app_count".to_owned(), json!(0));
        let defaults = [
            ("session_duration", json!("24h")),
            ("approval_required", json!(false)),
            ("isolation_required", json!(false)),
            ("purpose_justification_required", json!(false)),
        ];
        for (key, default) in defaults {
            let value = match body.get(key) {
                None | Some(Value::Null) => default,
                Some(v) => v.clone(),
            };
            policy.insert(key.to_owned(), value);
        }
        // NOTE: ASSUMED: other fields the API knows (approval_groups, mfa_config, ...)
        // are kept as sent; the simulator does not know the full list, so it keeps all.
        for (key, value) in body {
            if !POLICY_READ_ONLY.contains(&key.as_str())
                && !RULE_LISTS.contains(&key.as_str())
                && !policy.contains_key(key)
            {
                policy.insert(key.clone(), value.clone());
            }
        }
        policy.insert("created_at".to_owned(), json!(created_at));
        policy.insert("updated_at".to_owned(), json!(now()));
        Ok(policy)
    }

    /// Refuses a write that would add a reusable policy past the account's limit.
    ///
    /// NOTE (Cloudflare docs, Access account limits): 500 reusable policies per
    /// account. The answer is ASSUMED: 400 / 12130 with a message naming the limit.
    fn check_policy_limit(&self) -> Result<()> {
        match self.behaviour.policy_limit {
            Some(limit) if self.policies.len() >= limit => Err(ApiError::invalid(format!(
                "the account has reached its limit of {limit} reusable policies"
            ))),
            _ => Ok(()),
        }
    }

    /// `POST /access/policies`.
    pub fn create_policy(&mut self, body: &Value) -> Result<Value> {
        self.check_policy_limit()?;
        let policy = Self::build_policy(self.behaviour, &Uuid::new_v4().to_string(), &now(), body)?;
        let out = self.render_policy(&policy);
        self.push_policy(policy);
        Ok(out)
    }

    /// `PUT /access/policies/{id}`.
    pub fn put_policy(&mut self, id: &str, body: &Value) -> Result<Value> {
        let index = self.policy_index(id).ok_or_else(ApiError::not_found)?;
        let created_at = str_of(&self.policies[index], "created_at")
            .unwrap_or_default()
            .to_owned();
        let policy = Self::build_policy(self.behaviour, id, &created_at, body)?;
        if has_linked_app_token(&policy)
            && let Some(app) = self.apps.iter().find(|a| {
                str_of(a, "type") != Some("self_hosted") && links(a).iter().any(|(p, _)| p == id)
            })
        {
            return Err(ApiError::invalid(format!(
                "policy {id} is attached to application {} of type {}, which cannot use linked_app_token rules",
                str_of(app, "id").unwrap_or_default(),
                str_of(app, "type").unwrap_or_default()
            )));
        }
        let out = self.render_policy(&policy);
        self.policies_mut()[index] = policy;
        Ok(out)
    }

    /// `DELETE /access/policies/{id}`.
    ///
    /// NOTE: "Deleting a policy that apps still use fails"; the exact answer is ASSUMED:
    /// 400 / 12130 "policy is in use by N applications".
    pub fn delete_policy(&mut self, id: &str) -> Result<Value> {
        let index = self.policy_index(id).ok_or_else(ApiError::not_found)?;
        let in_use = self.app_count(id);
        if in_use > 0 {
            return Err(ApiError::invalid(format!(
                "policy is in use by {in_use} applications"
            )));
        }
        self.policies_mut().remove(index);
        Ok(json!({"id": id}))
    }

    fn policy_index(&self, id: &str) -> Option<usize> {
        self.index().policy_pos.get(id).copied()
    }

    /// `PUT /access/apps/{app_id}/policies/{policy_id}/make_reusable`: the app's legacy
    /// policy becomes a reusable one with the same id, name, decision and rules; the app
    /// keeps linking it at the same precedence.
    ///
    /// NOTE (Cloudflare docs, policy management, "Convert a legacy policy"): the policy
    /// is then served by `/access/policies/{id}`. ASSUMED: an unknown app, or a policy
    /// that is not that app's legacy policy, is 404 / 12135; the answer is the policy
    /// as `GET /access/policies/{id}` returns it.
    pub fn make_reusable(&mut self, app_id: &str, policy_id: &str) -> Result<Value> {
        self.app_index(app_id).ok_or_else(ApiError::not_found)?;
        if self.legacy_of(app_id, policy_id).is_none() {
            return Err(ApiError::not_found());
        }
        self.check_policy_limit()?;
        let legacy = self
            .legacy
            .remove(policy_id)
            .ok_or_else(ApiError::not_found)?;
        let mut policy = legacy.policy;
        policy.insert("reusable".to_owned(), json!(true));
        policy.insert("updated_at".to_owned(), json!(now()));
        policy.remove("precedence");
        let out = self.render_policy(&policy);
        self.push_policy(policy);
        Ok(out)
    }

    /// Adds a legacy policy to an app out of band (such policies can no longer be
    /// created through the API on new apps), linked at `precedence`. Returns its id,
    /// or `None` for an unknown app or an invalid policy.
    pub fn add_legacy_policy(
        &mut self,
        app_id: &str,
        policy: &Value,
        precedence: u64,
    ) -> Option<String> {
        self.app_index(app_id)?;
        let id = self.store_legacy(app_id, policy).ok()?;
        self.edit_app(app_id, |app| {
            if let Some(Value::Array(list)) = app.get_mut("policies") {
                list.push(json!({"id": id, "precedence": precedence}));
            }
        });
        Some(id)
    }

    /// Validates an inline policy definition like a reusable one and stores it as
    /// `app_id`'s legacy policy. Returns its id.
    fn store_legacy(&mut self, app_id: &str, policy: &Value) -> Result<String> {
        let id = policy
            .get("id")
            .and_then(Value::as_str)
            .map_or_else(|| Uuid::new_v4().to_string(), str::to_owned);
        if self.policy_map(&id).is_some() || self.legacy.contains_key(&id) {
            return Err(ApiError::invalid(format!("policy id {id} appears twice")));
        }
        let created_at = policy
            .get("created_at")
            .and_then(Value::as_str)
            .map_or_else(now, str::to_owned);
        let mut stored = Self::build_policy(self.behaviour, &id, &created_at, policy)?;
        stored.insert("reusable".to_owned(), json!(false));
        stored.remove("app_count");
        self.legacy.insert(
            id.clone(),
            LegacyPolicy {
                app_id: app_id.to_owned(),
                policy: stored,
            },
        );
        Ok(id)
    }

    // ---- out-of-band edits (the dashboard, seeds) ------------------------------------

    /// Runs `f` on a stored app, then keeps its links sorted. Returns false when unknown.
    pub fn edit_app(&mut self, id: &str, f: impl FnOnce(&mut Map<String, Value>)) -> bool {
        let Some(index) = self.app_index(id) else {
            return false;
        };
        let app = &mut self.apps_mut()[index];
        app.insert("updated_at".to_owned(), json!(now()));
        f(app);
        if let Some(Value::Array(list)) = app.get_mut("policies") {
            list.sort_by_key(|l| {
                l.get("precedence")
                    .and_then(Value::as_u64)
                    .unwrap_or(u64::MAX)
            });
        }
        true
    }

    /// Runs `f` on a stored policy. Returns false when unknown.
    pub fn edit_policy(&mut self, id: &str, f: impl FnOnce(&mut Map<String, Value>)) -> bool {
        let Some(index) = self.policy_index(id) else {
            return false;
        };
        let policy = &mut self.policies_mut()[index];
        policy.insert("updated_at".to_owned(), json!(now()));
        f(policy);
        true
    }

    /// Stores a policy as given plus defaults for missing fields, without validation (the
    /// dashboard may hold things the API would refuse today). Returns its id.
    pub fn insert_policy(&mut self, policy: Value) -> String {
        let mut map = match policy {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        let id = str_of(&map, "id").map_or_else(|| Uuid::new_v4().to_string(), str::to_owned);
        map.insert("id".to_owned(), json!(id));
        let now = now();
        for (key, default) in [
            ("exclude", json!([])),
            ("require", json!([])),
            ("reusable", json!(true)),
            ("app_count", json!(0)),
            ("session_duration", json!("24h")),
            ("approval_required", json!(false)),
            ("isolation_required", json!(false)),
            ("purpose_justification_required", json!(false)),
            ("created_at", json!(now)),
            ("updated_at", json!(now)),
        ] {
            map.entry(key).or_insert(default);
        }
        match self.policy_index(&id) {
            // Replacing keeps the policy's links and its place in the list.
            Some(index) => self.policies_mut()[index] = map,
            None => self.push_policy(map),
        }
        id
    }

    /// Deletes a policy and unlinks it from every app.
    pub fn remove_policy(&mut self, id: &str) {
        self.policies_mut().retain(|p| str_of(p, "id") != Some(id));
        for app in self.apps_mut() {
            if let Some(Value::Array(list)) = app.get_mut("policies") {
                list.retain(|l| l.get("id").and_then(Value::as_str) != Some(id));
            }
        }
    }

    /// Adds a seed policy, validated like a POST but keeping its id and timestamps.
    pub fn seed_policy(&mut self, policy: &Value) -> Result<()> {
        let id = policy
            .get("id")
            .and_then(Value::as_str)
            .map_or_else(|| Uuid::new_v4().to_string(), str::to_owned);
        if self.policy_map(&id).is_some() {
            return Err(ApiError::invalid(format!("policy id {id} appears twice")));
        }
        let created_at = policy
            .get("created_at")
            .and_then(Value::as_str)
            .map_or_else(now, str::to_owned);
        let mut stored = Self::build_policy(self.behaviour, &id, &created_at, policy)?;
        if let Some(updated) = policy.get("updated_at").filter(|v| v.is_string()) {
            stored.insert("updated_at".to_owned(), updated.clone());
        }
        self.push_policy(stored);
        Ok(())
    }

    /// Adds a seed app, validated like a PUT but keeping its id, aud and timestamps.
    pub fn seed_app(&mut self, app: &Value) -> Result<()> {
        let given = |key: &str| app.get(key).and_then(Value::as_str).map(str::to_owned);
        let id = given("uid")
            .or_else(|| given("id"))
            .unwrap_or_else(|| Uuid::new_v4().to_string());
        if self.app_map(&id).is_some() {
            return Err(ApiError::invalid(format!("app id {id} appears twice")));
        }
        let created_at = given("created_at").unwrap_or_else(now);
        // An inline definition (an item with a `decision`) is the app's own legacy
        // policy, as older accounts have them; it is linked at its position.
        let mut app = app.clone();
        if let Some(Value::Array(items)) = app.get_mut("policies") {
            for (i, item) in items.iter_mut().enumerate() {
                if item.get("decision").is_some() {
                    let precedence = item
                        .get("precedence")
                        .and_then(Value::as_u64)
                        .unwrap_or(i as u64 + 1);
                    let policy_id = self.store_legacy(&id, item)?;
                    *item = json!({"id": policy_id, "precedence": precedence});
                }
            }
        }
        let meta = AppMeta {
            id,
            aud: given("aud").unwrap_or_else(new_aud),
            updated_at: given("updated_at").unwrap_or_else(|| created_at.clone()),
            created_at,
        };
        let stored = self.build_app(&meta, &app, Write::Seed)?;
        self.push_app(stored);
        Ok(())
    }
}

/// Where an app body comes from: an API write is held to every rule; a seed is the
/// account as it is, which the dashboard may have put in states the API refuses today
/// (an app with both legacy and reusable policies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    Api,
    Seed,
}

/// Server-owned fields of an app.
struct AppMeta {
    id: String,
    aud: String,
    created_at: String,
    updated_at: String,
}

/// The `(policy id, precedence)` links stored on an app.
/// The policy ids an app links, borrowed.
fn link_ids(app: &Map<String, Value>) -> impl Iterator<Item = &str> {
    app.get("policies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|l| l.get("id")?.as_str())
}

fn links(app: &Map<String, Value>) -> Vec<(String, u64)> {
    let Some(Value::Array(list)) = app.get("policies") else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|l| {
            Some((
                l.get("id")?.as_str()?.to_owned(),
                l.get("precedence").and_then(Value::as_u64).unwrap_or(0),
            ))
        })
        .collect()
}

/// Stores rule lists the way an API that normalises them might, keeping their meaning
/// (Access ORs include rules, ANDs require rules and rejects on any exclude rule, so
/// order and key order do not matter, and a null-valued key carries nothing).
///
/// NOTE: ASSUMED, the worst plausible case, not an observed one: an empty `exclude`
/// comes back as `null` and an empty `require` not at all; rules come back in reverse
/// order with their keys reverse-sorted; each rule gains the "empty selectors"
/// `email: null` and `group: null` that a serialiser without `omitempty` would add.
fn normalise_stored_rules(rules: &mut Map<String, Value>) {
    fn reverse_keys(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort_by(|a, b| b.cmp(a));
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), reverse_keys(&map[k])))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(reverse_keys).collect()),
            other => other.clone(),
        }
    }
    for list in RULE_LISTS {
        let Some(Value::Array(items)) = rules.get(*list) else {
            continue;
        };
        if items.is_empty() {
            match *list {
                "require" => {
                    rules.remove(*list);
                }
                _ => {
                    rules.insert((*list).to_owned(), Value::Null);
                }
            }
            continue;
        }
        let normalised: Vec<Value> = items
            .iter()
            .rev()
            .map(|rule| {
                let mut rule = rule.clone();
                if let Value::Object(map) = &mut rule {
                    for empty in ["email", "group"] {
                        map.entry(empty).or_insert(Value::Null);
                    }
                }
                reverse_keys(&rule)
            })
            .collect();
        rules.insert((*list).to_owned(), Value::Array(normalised));
    }
}

/// Removes write-only secrets from an app about to be returned.
///
/// NOTE (reference page, "Write-only secrets"): `scim_config.authentication`
/// (`password`, `token`, `client_secret`) and a SaaS app's OIDC `client_secret` are
/// accepted on writes; whether reads return them is not known. The simulator assumes
/// the worst: never. And since a PUT replaces the whole app, a PUT that does not send
/// one back clears it.
fn hide_secrets(app: &mut Map<String, Value>) {
    if let Some(Value::Object(saas)) = app.get_mut("saas_app") {
        saas.remove("client_secret");
    }
    if let Some(Value::Object(scim)) = app.get_mut("scim_config") {
        let methods: Vec<&mut Value> = match scim.get_mut("authentication") {
            Some(Value::Array(list)) => list.iter_mut().collect(),
            Some(one @ Value::Object(_)) => vec![one],
            _ => Vec::new(),
        };
        for method in methods {
            if let Value::Object(method) = method {
                for key in ["password", "token", "client_secret"] {
                    method.remove(key);
                }
            }
        }
    }
}

/// A rule is an object naming its kind; a `linked_app_token` rule needs an `app_uid`.
fn validate_rule(list: &str, i: usize, rule: &Value) -> Result<()> {
    let Value::Object(rule) = rule else {
        return Err(ApiError::invalid(format!(
            "{list}[{i}] must be a rule object"
        )));
    };
    if rule.is_empty() {
        return Err(ApiError::invalid(format!("{list}[{i}] is an empty rule")));
    }
    if let Some(linked) = rule.get("linked_app_token") {
        // NOTE: rule shape `{"linked_app_token": {"app_uid": "<uid>"}}`. ASSUMED: the
        // uid is not checked against existing apps.
        if linked
            .get("app_uid")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(ApiError::invalid(format!(
                "{list}[{i}].linked_app_token.app_uid is required"
            )));
        }
    }
    Ok(())
}
