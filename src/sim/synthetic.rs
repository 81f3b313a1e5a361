//! Large synthetic accounts for benchmarks: thousands of self-hosted apps, MCP servers
//! with their managed policies, foreign policies, and a manifest that uses them.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::Seed;

/// The shape of a synthetic account.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Apps in all; the first `servers` of them are MCP servers.
    pub apps: usize,
    /// MCP servers, each with one managed policy (owner `bench`).
    pub servers: usize,
    /// Reusable policies that are not ours (allow rules), one attached to each app.
    pub foreign_policies: usize,
    /// Downstream apps (from the first) whose managed links are missing: the work an
    /// apply has to do.
    pub missing_apps: usize,
    /// Downstream apps (from the first) that two servers may call instead of one.
    pub double_apps: usize,
}

/// A synthetic account and the manifest that goes with it.
#[derive(Debug, Clone)]
pub struct Synthetic {
    /// The account.
    pub seed: Seed,
    /// A manifest (owner `bench`) naming every server and its downstreams by uid.
    pub manifest: String,
    /// Managed links the manifest asks for.
    pub links: usize,
    /// Managed links missing from the account.
    pub missing_links: usize,
}

fn app_id(i: usize) -> String {
    format!("a0000000-0000-4000-8000-{i:012}")
}

fn policy_id(i: usize) -> String {
    format!("b0000000-0000-4000-8000-{i:012}")
}

/// Builds the account. Downstream app `i` (after the servers) is called by server
/// `i % servers`, and for the first `double_apps` also by server `(i + 1) % servers`.
pub fn synthetic(shape: Shape) -> Synthetic {
    let servers = shape.servers.max(1);
    let foreign = shape.foreign_policies.max(1);
    let mut policies: Vec<Value> = (0..servers)
        .map(|s| {
            json!({
                "id": policy_id(s),
                "name": format!("[mcp-access:bench] MCP server server-{s}"),
                "decision": "non_identity",
                "include": [{"linked_app_token": {"app_uid": app_id(s)}}],
                "exclude": [], "require": [],
                "created_at": "2025-01-01T00:00:00Z",
            })
        })
        .collect();
    policies.extend((0..foreign).map(|f| {
        json!({
            "id": policy_id(servers + f),
            "name": format!("Allow team {f}"),
            "decision": "allow",
            "include": [{"email_domain": {"domain": format!("team-{f}.example.com")}}],
        })
    }));

    let mut wants: Vec<Vec<usize>> = vec![Vec::new(); servers];
    let mut apps = Vec::with_capacity(shape.apps);
    let (mut links, mut missing_links) = (0, 0);
    for i in 0..shape.apps {
        let mut app = json!({
            "id": app_id(i),
            "name": if i < servers { format!("server-{i}") } else { format!("app-{i}") },
            "type": "self_hosted",
            "domain": format!("app-{i}.internal.example.com"),
            "session_duration": "24h",
            "allowed_idps": ["00000000-1111-2222-3333-444444444444"],
            "auto_redirect_to_identity": false,
            "app_launcher_visible": true,
            "tags": ["bench"],
            "cors_headers": {"allowed_methods": ["GET", "POST"], "allow_all_origins": false},
        });
        let mut attached = vec![json!({"id": policy_id(servers + i % foreign), "precedence": 1})];
        if i >= servers {
            let d = i - servers;
            let mut callers = vec![i % servers];
            if d < shape.double_apps && servers > 1 {
                callers.push((i + 1) % servers);
            }
            for s in callers {
                wants[s].push(i);
                links += 1;
                if d < shape.missing_apps {
                    missing_links += 1;
                } else {
                    let precedence = attached.len() + 1;
                    attached.push(json!({"id": policy_id(s), "precedence": precedence}));
                }
            }
        }
        app["policies"] = Value::Array(attached);
        apps.push(app);
    }

    let mut manifest = String::from("owner: bench\nservers:\n");
    for (s, downstream) in wants.iter().enumerate() {
        let _ = writeln!(
            manifest,
            "  - app: {{ uid: {} }}\n    downstream:",
            app_id(s)
        );
        if downstream.is_empty() {
            manifest.push_str("      []\n");
        }
        for d in downstream {
            let _ = writeln!(manifest, "      - {{ uid: {} }}", app_id(*d));
        }
    }
    Synthetic {
        seed: Seed { apps, policies },
        manifest,
        links,
        missing_links,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_is_as_asked() {
        let s = synthetic(Shape {
            apps: 30,
            servers: 5,
            foreign_policies: 3,
            missing_apps: 4,
            double_apps: 6,
        });
        assert_eq!(s.seed.apps.len(), 30);
        assert_eq!(s.seed.policies.len(), 8);
        assert_eq!(s.links, 25 + 6);
        // The first 4 downstreams miss their links; all 4 are double apps.
        assert_eq!(s.missing_links, 8);
        assert!(s.seed.to_store().is_ok(), "the simulator accepts it");
    }
}
