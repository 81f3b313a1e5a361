//! Property test: for random manifests and random starting accounts (foreign policies,
//! stale, duplicated, hand-edited and stray managed policies, other owners), one
//! reconcile converges in a single round, the next plan is empty, and nothing that is
//! not ours changes.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Duration;

use mcp_access::cloudflare::{Client, ClientConfig};
use mcp_access::manifest;
use mcp_access::reconcile::{self, ReconcileOptions};
use mcp_access::sim::{Seed, SimConfig, Simulator};
use proptest::prelude::*;
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const OWNER: &str = "platform";

#[derive(Debug, Clone, Copy)]
enum Kind {
    SelfHosted,
    Oidc,
    Saml,
    Ssh,
}

#[derive(Debug, Clone)]
struct Account {
    kinds: Vec<Kind>,
    /// Managed policies already there: (server app index, edited by hand?, other owner?).
    managed: Vec<(usize, bool, bool)>,
    /// For each app, which policy indexes (managed, then one foreign) are attached.
    links: Vec<Vec<usize>>,
}

#[derive(Debug, Clone)]
struct Scenario {
    account: Account,
    /// (server app index, downstream app indexes).
    servers: Vec<(usize, Vec<usize>)>,
}

fn app_id(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

fn policy_id(i: usize) -> String {
    format!("11111111-0000-4000-8000-{i:012}")
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        6 => Just(Kind::SelfHosted),
        2 => Just(Kind::Oidc),
        1 => Just(Kind::Saml),
        1 => Just(Kind::Ssh),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    prop::collection::vec(kind(), 2..10)
        .prop_flat_map(|kinds| {
            let n = kinds.len();
            let managed =
                prop::collection::vec((0..n, any::<bool>(), prop::bool::weighted(0.2)), 0..6);
            (Just(kinds), managed)
        })
        .prop_flat_map(|(kinds, managed)| {
            let n = kinds.len();
            let policies = managed.len() + 1;
            let links = prop::collection::vec(prop::collection::vec(0..policies, 0..3), n);
            let servers = prop::collection::vec((0..n, prop::collection::vec(0..n, 0..4)), 0..4);
            (Just(kinds), Just(managed), links, servers)
        })
        .prop_map(|(kinds, managed, links, servers)| {
            // Keep only valid manifests: eligible, unique servers; self-hosted,
            // unique downstreams that are not the server itself.
            let mut seen = BTreeSet::new();
            let servers = servers
                .into_iter()
                .filter(|(s, _)| {
                    matches!(kinds[*s], Kind::SelfHosted | Kind::Oidc) && seen.insert(*s)
                })
                .map(|(s, down)| {
                    let down: BTreeSet<usize> = down
                        .into_iter()
                        .filter(|d| *d != s && matches!(kinds[*d], Kind::SelfHosted))
                        .collect();
                    (s, down.into_iter().collect())
                })
                .collect();
            Scenario {
                account: Account {
                    kinds,
                    managed,
                    links,
                },
                servers,
            }
        })
}

fn seed(account: &Account) -> Seed {
    let foreign = account.managed.len();
    let mut policies: Vec<Value> = account
        .managed
        .iter()
        .enumerate()
        .map(|(i, (server, edited, other_owner))| {
            let owner = if *other_owner { "someone-else" } else { OWNER };
            json!({
                "id": policy_id(i),
                "name": format!("[mcp-access:{owner}] MCP server app-{server}"),
                "decision": if *edited { "bypass" } else { "non_identity" },
                "include": [{"linked_app_token": {"app_uid": app_id(*server)}}],
                "exclude": if *edited { json!([{"everyone": {}}]) } else { json!([]) },
                "created_at": format!("2025-01-01T00:00:{i:02}Z")
            })
        })
        .collect();
    policies.push(json!({
        "id": policy_id(foreign),
        "name": "Allow employees",
        "decision": "allow",
        "include": [{"email_domain": {"domain": "example.com"}}]
    }));
    let apps = account
        .kinds
        .iter()
        .enumerate()
        .map(|(i, kind)| {
            let mut app = json!({
                "id": app_id(i),
                "name": format!("app-{i}"),
                "domain": format!("app-{i}.example.com"),
                "session_duration": "24h",
                "future_field": {"i": i},
            });
            let o = app.as_object_mut().unwrap();
            match kind {
                Kind::SelfHosted => {
                    o.insert("type".into(), json!("self_hosted"));
                }
                Kind::Oidc | Kind::Saml => {
                    o.insert("type".into(), json!("saas"));
                    let auth = if matches!(kind, Kind::Oidc) {
                        "oidc"
                    } else {
                        "saml"
                    };
                    o.insert("saas_app".into(), json!({"auth_type": auth}));
                }
                Kind::Ssh => {
                    o.insert("type".into(), json!("ssh"));
                }
            }
            // Linked-token policies may only sit on self-hosted apps.
            let allowed: BTreeSet<usize> = account.links[i]
                .iter()
                .copied()
                .filter(|p| *p == foreign || matches!(kind, Kind::SelfHosted))
                .collect();
            let links: Vec<Value> = allowed
                .iter()
                .enumerate()
                .map(|(n, p)| json!({"id": policy_id(*p), "precedence": n + 1}))
                .collect();
            o.insert("policies".into(), Value::Array(links));
            app
        })
        .collect();
    Seed { apps, policies }
}

fn manifest_yaml(servers: &[(usize, Vec<usize>)]) -> String {
    let mut out = format!("owner: {OWNER}\nservers:\n");
    if servers.is_empty() {
        out = format!("owner: {OWNER}\nservers: []\n");
    }
    for (s, down) in servers {
        let _ = write!(out, "  - app: {{ uid: {} }}\n    downstream:\n", app_id(*s));
        if down.is_empty() {
            out.push_str("      []\n");
        }
        for d in down {
            let _ = writeln!(out, "      - {{ uid: {} }}", app_id(*d));
        }
    }
    out
}

/// Everything that is not ours: apps without their policy lists, foreign policies.
fn not_ours(sim: &Simulator) -> (Vec<Value>, Vec<Value>) {
    let apps = sim
        .apps()
        .into_iter()
        .map(|mut a| {
            let o = a.as_object_mut().unwrap();
            o.remove("policies");
            o.remove("updated_at");
            a
        })
        .collect();
    let policies = sim
        .policies()
        .into_iter()
        .filter(|p| {
            !p["name"]
                .as_str()
                .unwrap()
                .starts_with("[mcp-access:platform]")
        })
        .collect();
    (apps, policies)
}

async fn check(scenario: Scenario) -> Result<(), TestCaseError> {
    let sim = Simulator::start(
        SimConfig {
            apps_page_cap: 3,
            ..SimConfig::default()
        },
        seed(&scenario.account),
    )
    .await
    .map_err(|e| TestCaseError::fail(format!("seed rejected: {e}")))?;
    let client = Client::new(ClientConfig::new(
        sim.base_url(),
        sim.account_id(),
        SecretString::from(sim.token().to_owned()),
    ))
    .unwrap();
    let yaml = manifest_yaml(&scenario.servers);
    let manifest = manifest::parse_str("prop.yaml", &yaml, &|_| None)
        .map_err(|e| TestCaseError::fail(format!("{e}\n{yaml}")))?;
    let options = ReconcileOptions {
        owner: OWNER.into(),
        dry_run: false,
        max_rounds: 3,
        plan: mcp_access::plan::PlanOptions::default(),
    };
    let before = not_ours(&sim);
    let outcome = reconcile::reconcile(&client, &manifest, &options, &CancellationToken::new())
        .await
        .map_err(|e| TestCaseError::fail(format!("{e}\n{yaml}")))?;
    prop_assert!(outcome.converged());
    prop_assert!(
        outcome.rounds.len() <= 1,
        "took {} rounds",
        outcome.rounds.len()
    );
    let (_, again) = reconcile::plan_once(&client, &manifest, OWNER)
        .await
        .unwrap();
    prop_assert!(again.is_empty(), "next plan not empty: {again:#?}");
    prop_assert_eq!(not_ours(&sim), before);

    // Exactly one managed policy per server, linked to exactly its downstreams.
    let managed: Vec<Value> = sim
        .policies()
        .into_iter()
        .filter(|p| {
            p["name"]
                .as_str()
                .unwrap()
                .starts_with("[mcp-access:platform]")
        })
        .collect();
    prop_assert_eq!(managed.len(), scenario.servers.len());
    for (s, down) in &scenario.servers {
        let policy = managed
            .iter()
            .find(|p| p["include"][0]["linked_app_token"]["app_uid"] == app_id(*s).as_str())
            .expect("a policy for each server");
        let id = policy["id"].as_str().unwrap();
        let linked: BTreeSet<String> = sim
            .apps()
            .into_iter()
            .filter(|a| {
                a["policies"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["id"] == id)
            })
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect();
        let want: BTreeSet<String> = down.iter().map(|d| app_id(*d)).collect();
        prop_assert_eq!(linked, want);
    }
    sim.shutdown().await;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn reconcile_converges_in_one_round(scenario in scenario()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(30), check(scenario))
                .await
                .map_err(|_| TestCaseError::fail("timed out"))?
        })?;
    }
}
