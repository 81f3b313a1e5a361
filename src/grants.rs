//! Linked-token grants as the account holds them: which attached policy lets which MCP
//! server's tokens into which app, and whether that policy is a *plain* grant.
//!
//! A plain grant is what a managed policy is: a reusable policy with the Service Auth
//! decision (`non_identity`) whose include is exactly one `linked_app_token` rule, with
//! no exclude or require rules. Only a plain grant can be written as a manifest link
//! (`import`) or taken over by `--adopt`; every other grant is explained, never
//! silently declared, because declaring it would widen or change who gets in.

use std::fmt;

use serde_json::Value;

use crate::cloudflare::types::{
    App, MCP, MCP_PORTAL, NON_IDENTITY, Policy, SAAS, SELF_HOSTED, linked_app_uids,
};
use crate::inventory::{AttachedPolicy, Inventory, PolicyScope};

/// The decision that lets a request in without any login: it also accepts linked
/// tokens, but a manifest link never creates one.
pub const BYPASS: &str = "bypass";

/// Why a granting policy is not a plain grant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum NotPlain {
    /// An app-scoped (legacy) policy: it lives on one app, not in the policy list.
    Legacy,
    /// A decision other than `non_identity` (`bypass`, or a decision that grants
    /// nothing to a token).
    Decision(String),
    /// The include names this many MCP servers.
    SeveralServers(usize),
    /// The include has rules besides `linked_app_token` ones (any of them lets in).
    OtherIncludeRules,
    /// The `linked_app_token` rule carries fields besides `app_uid`.
    UnusualRule,
    /// The include names the same server more than once.
    RepeatedRule,
    /// It has exclude rules.
    Exclude,
    /// It has require rules.
    Require,
}

impl fmt::Display for NotPlain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotPlain::Legacy => f.write_str("an app-scoped (legacy) policy"),
            NotPlain::Decision(d) => write!(f, "decision `{d}`, not `{NON_IDENTITY}`"),
            NotPlain::SeveralServers(n) => write!(f, "names {n} MCP servers"),
            NotPlain::OtherIncludeRules => f.write_str("its include has other rules"),
            NotPlain::UnusualRule => {
                f.write_str("its linked_app_token rule has fields besides app_uid")
            }
            NotPlain::RepeatedRule => f.write_str("its include repeats the linked_app_token rule"),
            NotPlain::Exclude => f.write_str("has exclude rules"),
            NotPlain::Require => f.write_str("has require rules"),
        }
    }
}

/// Every reason, joined for a sentence: `has exclude rules, has require rules`.
pub fn describe(reasons: &[NotPlain]) -> String {
    reasons
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether a policy with this decision lets a token its `linked_app_token` rule names
/// in: Service Auth (`non_identity`) and `bypass` do.
pub fn lets_tokens_in(decision: &str) -> bool {
    decision == NON_IDENTITY || decision == BYPASS
}

/// One attached policy letting one server's tokens into one app.
#[derive(Debug, Clone, Copy)]
pub struct Grant<'a> {
    /// The uid the `linked_app_token` rule names (the MCP server's app).
    pub server: &'a str,
    /// The app that accepts the tokens.
    pub app: &'a App,
    /// The policy, as attached to `app`.
    pub policy: AttachedPolicy<'a>,
}

/// Every grant in the account: each policy attached to an app whose decision is
/// `non_identity` or `bypass` and whose include has a `linked_app_token` rule, once per
/// server it names. In app order, then the app's policy order.
pub fn grants(inventory: &Inventory) -> Vec<Grant<'_>> {
    let mut out = Vec::new();
    for app in inventory.apps() {
        for policy in inventory.attached(app) {
            if !lets_tokens_in(policy.decision) {
                continue;
            }
            let mut servers = linked_app_uids(policy.include);
            servers.sort_unstable();
            servers.dedup();
            for server in servers {
                out.push(Grant {
                    server,
                    app,
                    policy,
                });
            }
        }
    }
    out
}

/// Whether `app` can issue Linked App Tokens, i.e. be a manifest's MCP server (the
/// types `manifest::resolve` accepts), and why not.
pub fn can_be_server(app: &App) -> Result<(), String> {
    match (app.app_type(), app.saas_auth_type()) {
        (SELF_HOSTED | MCP, _) | (SAAS, Some("oidc")) => Ok(()),
        (MCP_PORTAL, _) => {
            Err("an `mcp_portal` app fronts MCP servers; name the `mcp` app behind it".to_owned())
        }
        (SAAS, auth) => Err(format!(
            "a SaaS app with `{}` authentication cannot issue Linked App Tokens",
            auth.unwrap_or("saml")
        )),
        (other, _) => Err(format!("a `{other}` app cannot be an MCP server")),
    }
}

/// Whether a Linked App Token policy can be attached to `app`, i.e. it can be a
/// downstream app (the types `manifest::resolve` accepts), and why not.
///
/// NOTE (reference page, "The Linked App Token rule"): "a policy holding it is
/// attachable only to `self_hosted` apps".
pub fn can_be_downstream(app: &App) -> Result<(), String> {
    match app.app_type() {
        SELF_HOSTED => Ok(()),
        other => Err(format!("a `{other}` app cannot be a downstream app")),
    }
}

/// The server an attached policy plainly grants, or every reason it is not plain.
pub fn plain_server<'a>(policy: &AttachedPolicy<'a>) -> Result<&'a str, Vec<NotPlain>> {
    classify(
        policy.scope == PolicyScope::Reusable,
        policy.decision,
        policy.include,
        policy.exclude,
        policy.require,
    )
}

/// [`plain_server`] for a reusable policy from the policy list.
pub fn plain_server_of(policy: &Policy) -> Result<&str, Vec<NotPlain>> {
    classify(
        true,
        policy.decision(),
        policy.rules("include"),
        policy.rules("exclude"),
        policy.rules("require"),
    )
}

fn classify<'a>(
    reusable: bool,
    decision: &str,
    include: &'a [Value],
    exclude: &[Value],
    require: &[Value],
) -> Result<&'a str, Vec<NotPlain>> {
    let mut reasons = Vec::new();
    if !reusable {
        reasons.push(NotPlain::Legacy);
    }
    if decision != NON_IDENTITY {
        reasons.push(NotPlain::Decision(decision.to_owned()));
    }
    let mut servers = linked_app_uids(include);
    servers.sort_unstable();
    servers.dedup();
    if servers.len() > 1 {
        reasons.push(NotPlain::SeveralServers(servers.len()));
    }
    let linked = linked_app_uids(include).len();
    if include.len() > linked {
        reasons.push(NotPlain::OtherIncludeRules);
    }
    if linked > servers.len() {
        reasons.push(NotPlain::RepeatedRule);
    }
    // The managed form exactly: `{"linked_app_token": {"app_uid": <uid>}}`. Anything
    // more would not survive an adoption unchanged (the diff puts the managed form back).
    let unusual = include.iter().any(|rule| {
        rule.get("linked_app_token").is_some()
            && (rule.as_object().map_or(0, serde_json::Map::len) != 1
                || rule["linked_app_token"]
                    .as_object()
                    .map_or(0, serde_json::Map::len)
                    != 1)
    });
    if unusual {
        reasons.push(NotPlain::UnusualRule);
    }
    if !exclude.is_empty() {
        reasons.push(NotPlain::Exclude);
    }
    if !require.is_empty() {
        reasons.push(NotPlain::Require);
    }
    match (servers.as_slice(), reasons.is_empty()) {
        ([server], true) => Ok(server),
        _ => Err(reasons),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(body: &Value) -> Policy {
        let mut body = body.clone();
        body["id"] = json!("p");
        Policy::from_value(body).unwrap()
    }

    /// The roles follow `manifest::resolve`'s type rules: an `mcp` app is a server,
    /// never a downstream app; a portal is neither.
    #[test]
    fn app_types_decide_which_end_of_a_grant_an_app_can_be() {
        let app = |kind: &str, auth: Option<&str>| {
            let mut v = json!({"id": "a", "uid": "u", "name": "n", "type": kind});
            if let Some(auth) = auth {
                v["saas_app"] = json!({"auth_type": auth});
            }
            App::from_value(v).unwrap()
        };
        let roles = |a: &App| (can_be_server(a).is_ok(), can_be_downstream(a).is_ok());
        assert_eq!(roles(&app("self_hosted", None)), (true, true));
        assert_eq!(roles(&app("mcp", None)), (true, false));
        assert_eq!(roles(&app("mcp_portal", None)), (false, false));
        assert_eq!(roles(&app("saas", Some("oidc"))), (true, false));
        assert_eq!(roles(&app("saas", Some("saml"))), (false, false));
        assert_eq!(roles(&app("ssh", None)), (false, false));
    }

    #[test]
    fn the_managed_shape_is_plain_and_anything_more_says_why_not() {
        let lat = |uid: &str| json!({"linked_app_token": {"app_uid": uid}});
        let plain = policy(&json!({"decision": "non_identity", "include": [lat("s")],
                                   "exclude": [], "require": null, "session_duration": "30m"}));
        assert_eq!(plain_server_of(&plain), Ok("s"));

        let widened = policy(&json!({"decision": "bypass",
                                     "include": [lat("s"), lat("t"), {"everyone": {}}],
                                     "exclude": [{"ip": {"ip": "10.0.0.0/8"}}],
                                     "require": [{"email_domain": {"domain": "x.com"}}]}));
        let reasons = plain_server_of(&widened).unwrap_err();
        assert_eq!(
            reasons,
            [
                NotPlain::Decision("bypass".into()),
                NotPlain::SeveralServers(2),
                NotPlain::OtherIncludeRules,
                NotPlain::Exclude,
                NotPlain::Require
            ]
        );
        assert_eq!(
            describe(&reasons[..2]),
            "decision `bypass`, not `non_identity`, names 2 MCP servers"
        );

        let extra = policy(&json!({"decision": "non_identity",
                                   "include": [{"linked_app_token": {"app_uid": "s", "x": 1}}]}));
        assert_eq!(plain_server_of(&extra), Err(vec![NotPlain::UnusualRule]));
        // The same server named twice is one server, but not the managed shape.
        let twice = policy(&json!({"decision": "non_identity", "include": [lat("s"), lat("s")]}));
        assert_eq!(plain_server_of(&twice), Err(vec![NotPlain::RepeatedRule]));
    }

    #[test]
    fn legacy_policies_are_grants_but_never_plain() {
        let legacy = json!({"id": "l", "name": "Old", "decision": "non_identity", "precedence": 1,
                            "include": [{"linked_app_token": {"app_uid": "srv"}}]});
        let app = App::from_value(json!({"id": "api", "name": "api", "type": "self_hosted",
                                         "domain": "api.example.com", "policies": [legacy]}))
        .unwrap();
        let inventory = Inventory::new(vec![app], Vec::new());
        let found = grants(&inventory);
        let [grant] = found.as_slice() else {
            panic!("one grant expected")
        };
        assert_eq!((grant.server, grant.app.name()), ("srv", "api"));
        assert_eq!(plain_server(&grant.policy), Err(vec![NotPlain::Legacy]));
    }
}
