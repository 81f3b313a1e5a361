//! Reconcile end to end against the simulator, through the library API: creates,
//! idempotence, dry runs, every drift case, ownership, field preservation, bad input,
//! pagination, and a property test of convergence.

use std::time::Duration;

use mcp_access::cloudflare::{Client, ClientConfig};
use mcp_access::manifest::{self, Manifest};
use mcp_access::reconcile::{self, Outcome, ReconcileError, ReconcileOptions};
use mcp_access::sim::{Seed, SimConfig, Simulator};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const TIMEOUT: Duration = Duration::from_secs(60);

/// The demo manifest: two servers, four links (one app shared).
const DEMO: &str = include_str!("../examples/demo.yaml");

/// A simulator and a client pointed at it.
struct Account {
    sim: Simulator,
    client: Client,
}

impl Account {
    async fn demo() -> Self {
        Self::start(SimConfig::default(), Seed::demo()).await
    }

    async fn start(config: SimConfig, seed: Seed) -> Self {
        let sim = Simulator::start(config, seed)
            .await
            .expect("simulator starts");
        let mut cc = ClientConfig::new(
            sim.base_url(),
            sim.account_id(),
            SecretString::from(sim.token().to_owned()),
        );
        cc.request_timeout = Duration::from_secs(5);
        cc.retry_deadline = Duration::from_secs(20);
        let client = Client::new(cc).unwrap();
        Self { sim, client }
    }

    async fn reconcile(
        &self,
        manifest: &Manifest,
        dry_run: bool,
    ) -> Result<Outcome, ReconcileError> {
        let options = ReconcileOptions {
            owner: manifest.owner.clone().unwrap_or_else(|| "default".into()),
            dry_run,
            max_rounds: 3,
            plan: mcp_access::plan::PlanOptions::default(),
        };
        reconcile::reconcile(&self.client, manifest, &options, &CancellationToken::new()).await
    }

    fn app_id(&self, name: &str) -> String {
        self.sim
            .apps()
            .into_iter()
            .find(|a| a["name"] == name)
            .and_then(|a| a["id"].as_str().map(str::to_owned))
            .unwrap_or_else(|| panic!("no app {name}"))
    }

    fn app(&self, name: &str) -> Value {
        self.sim.app(&self.app_id(name)).unwrap()
    }

    /// Names of the policies attached to an app, in precedence order.
    fn linked_names(&self, app: &str) -> Vec<String> {
        self.app(app)["policies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    }

    fn managed(&self) -> Vec<Value> {
        self.sim
            .policies()
            .into_iter()
            .filter(|p| {
                p["name"]
                    .as_str()
                    .unwrap()
                    .starts_with("[mcp-access:platform]")
            })
            .collect()
    }

    fn managed_id(&self, server: &str) -> String {
        let name = format!("[mcp-access:platform] MCP server {server}");
        self.managed()
            .into_iter()
            .find(|p| p["name"] == name.as_str())
            .and_then(|p| p["id"].as_str().map(str::to_owned))
            .unwrap_or_else(|| panic!("no managed policy for {server}"))
    }

    fn write_count(&self) -> usize {
        self.sim.writes().len()
    }
}

fn parse(yaml: &str) -> Manifest {
    manifest::parse_str("test.yaml", yaml, &|_| None).expect("manifest parses")
}

async fn timed<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(TIMEOUT, f)
        .await
        .expect("test timed out")
}

/// Apps with the fields reconcile may change (`policies`, `updated_at`) removed.
fn apps_without_policies(sim: &Simulator) -> Vec<Value> {
    sim.apps()
        .into_iter()
        .map(|mut a| {
            let o = a.as_object_mut().unwrap();
            o.remove("policies");
            o.remove("updated_at");
            a
        })
        .collect()
}

#[tokio::test]
async fn first_reconcile_creates_and_attaches_with_minimal_writes_then_converges() {
    timed(async {
        let account = Account::demo().await;
        let outcome = account.reconcile(&parse(DEMO), false).await.unwrap();
        assert!(outcome.converged());
        assert_eq!(outcome.rounds.len(), 1, "one apply suffices");
        let s = outcome.first_plan.summary();
        assert_eq!(
            (s.create, s.update, s.attach, s.detach, s.delete),
            (2, 0, 4, 0, 0)
        );

        // 2 POSTs + one PUT per changed app (wiki gets both servers in one PUT).
        let writes = account.sim.writes();
        let posts = writes.iter().filter(|w| w.method == "POST").count();
        let puts = writes.iter().filter(|w| w.method == "PUT").count();
        assert_eq!((posts, puts, writes.len()), (2, 3, 5), "{writes:#?}");

        let server = account.managed_id("mcp-server-app");
        let policy = account.sim.policy(&server).unwrap();
        assert_eq!(policy["decision"], "non_identity");
        assert_eq!(
            policy["include"],
            json!([{"linked_app_token": {"app_uid": account.app_id("mcp-server-app")}}])
        );
        // New links go after the existing ones, which keep their order.
        assert_eq!(
            account.linked_names("Internal API"),
            [
                "Block contractors",
                "Allow employees",
                "[mcp-access:platform] MCP server mcp-server-app"
            ]
        );
        assert_eq!(
            account.linked_names("Company wiki"),
            [
                "Allow employees",
                "[mcp-access:platform] MCP server mcp-server-app",
                "[mcp-access:platform] MCP server support-mcp"
            ]
        );
        let status = account.linked_names("Status page");
        assert_eq!(
            status.last().unwrap(),
            "[mcp-access:platform] MCP server support-mcp"
        );
    })
    .await;
}

#[tokio::test]
async fn second_reconcile_makes_zero_writes() {
    timed(async {
        let account = Account::demo().await;
        let manifest = parse(DEMO);
        account.reconcile(&manifest, false).await.unwrap();
        account.sim.clear_journal();
        let outcome = account.reconcile(&manifest, false).await.unwrap();
        assert!(outcome.first_plan.is_empty());
        assert!(outcome.rounds.is_empty());
        assert_eq!(account.write_count(), 0, "{:#?}", account.sim.writes());
    })
    .await;
}

#[tokio::test]
async fn dry_run_plans_but_writes_nothing() {
    timed(async {
        let account = Account::demo().await;
        let before = account.sim.apps();
        let outcome = account.reconcile(&parse(DEMO), true).await.unwrap();
        assert!(!outcome.first_plan.is_empty());
        assert_eq!(account.write_count(), 0);
        assert_eq!(account.sim.apps(), before);
    })
    .await;
}

#[tokio::test]
async fn unmanaged_and_other_owner_policies_and_every_app_field_are_untouched() {
    timed(async {
        let account = Account::demo().await;
        // Another team's mcp-access policy, attached to the wiki.
        let other = account.sim.insert_policy(json!({
            "name": "[mcp-access:security] MCP server mcp-server-app",
            "decision": "non_identity",
            "include": [{"linked_app_token": {"app_uid": account.app_id("mcp-server-app")}}]
        }));
        let wiki = account.app_id("Company wiki");
        account.sim.edit_app(&wiki, |app| {
            app["policies"]
                .as_array_mut()
                .unwrap()
                .push(json!({"id": other, "precedence": 9}));
        });
        // A field Cloudflare might add one day, on an app the reconcile PUTs.
        account
            .sim
            .edit_app(&account.app_id("Internal API"), |app| {
                app.insert(
                    "future_setting".into(),
                    json!({"enabled": true, "level": 3}),
                );
            });
        let policies_before: Vec<Value> = account
            .sim
            .policies()
            .into_iter()
            .filter(|p| {
                !p["name"]
                    .as_str()
                    .unwrap()
                    .starts_with("[mcp-access:platform]")
            })
            .collect();
        let apps_before = apps_without_policies(&account.sim);

        account.reconcile(&parse(DEMO), false).await.unwrap();

        for before in &policies_before {
            let after = account.sim.policy(before["id"].as_str().unwrap()).unwrap();
            // Byte for byte, app_count included: we never add or remove their links.
            assert_eq!(&after, before, "foreign policy changed");
        }
        assert_eq!(
            apps_without_policies(&account.sim),
            apps_before,
            "an app field changed"
        );
        // The unknown future field is still there.
        assert_eq!(
            account.app("Internal API")["future_setting"],
            json!({"enabled": true, "level": 3})
        );
        // The other owner's link keeps its place on the wiki.
        assert!(
            account
                .linked_names("Company wiki")
                .contains(&"[mcp-access:security] MCP server mcp-server-app".to_owned())
        );
        let outcome = account.reconcile(&parse(DEMO), true).await.unwrap();
        assert!(
            outcome
                .first_plan
                .unmanaged
                .iter()
                .any(|g| g.other_owner.as_deref() == Some("security"))
        );
    })
    .await;
}

#[tokio::test]
async fn hand_edited_managed_policy_is_put_back_keeping_added_settings() {
    timed(async {
        let account = Account::demo().await;
        let manifest = parse(DEMO);
        account.reconcile(&manifest, false).await.unwrap();
        let id = account.managed_id("support-mcp");
        account.sim.edit_policy(&id, |p| {
            p.insert(
                "name".into(),
                json!("[mcp-access:platform] renamed by hand"),
            );
            p.insert("decision".into(), json!("bypass"));
            p.insert(
                "require".into(),
                json!([{"email_domain": {"domain": "example.com"}}]),
            );
            p.insert("exclude".into(), json!([{"everyone": {}}]));
            p.insert("session_duration".into(), json!("8h"));
        });
        account.sim.clear_journal();
        let outcome = account.reconcile(&manifest, false).await.unwrap();
        let s = outcome.first_plan.summary();
        assert_eq!(
            (s.create, s.update, s.attach, s.detach, s.delete),
            (0, 1, 0, 0, 0)
        );
        let writes = account.sim.writes();
        assert_eq!(writes.len(), 1, "{writes:#?}");
        assert_eq!(writes[0].method, "PUT");
        let policy = account.sim.policy(&id).unwrap();
        assert_eq!(
            policy["name"],
            "[mcp-access:platform] MCP server support-mcp"
        );
        assert_eq!(policy["decision"], "non_identity");
        assert_eq!(policy["require"], json!([]));
        assert_eq!(policy["exclude"], json!([]));
        assert_eq!(
            policy["session_duration"], "8h",
            "a setting we do not decide is kept"
        );
    })
    .await;
}

#[tokio::test]
async fn detached_policy_is_reattached_and_stray_link_is_detached() {
    timed(async {
        let account = Account::demo().await;
        let manifest = parse(DEMO);
        account.reconcile(&manifest, false).await.unwrap();
        let server = account.managed_id("mcp-server-app");
        // Detached from Internal API by hand, and attached to Billing dashboard.
        account
            .sim
            .edit_app(&account.app_id("Internal API"), |app| {
                app["policies"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|l| l["id"] != server.as_str());
            });
        account
            .sim
            .edit_app(&account.app_id("Billing dashboard"), |app| {
                app["policies"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"id": server, "precedence": 50}));
            });
        let billing_before = account.linked_names("Billing dashboard");
        account.sim.clear_journal();
        let outcome = account.reconcile(&manifest, false).await.unwrap();
        let s = outcome.first_plan.summary();
        assert_eq!((s.attach, s.detach, s.delete), (1, 1, 0));
        assert_eq!(account.write_count(), 2);
        assert!(
            account
                .linked_names("Internal API")
                .contains(&"[mcp-access:platform] MCP server mcp-server-app".to_owned())
        );
        let billing = account.linked_names("Billing dashboard");
        assert_eq!(billing, billing_before[..billing_before.len() - 1]);
    })
    .await;
}

#[tokio::test]
async fn server_removed_from_manifest_is_detached_everywhere_then_deleted() {
    timed(async {
        let account = Account::demo().await;
        account.reconcile(&parse(DEMO), false).await.unwrap();
        let gone = account.managed_id("support-mcp");
        let smaller = "
owner: platform
servers:
  - app: mcp-server-app
    downstream: [Internal API, Company wiki]
";
        account.sim.clear_journal();
        let outcome = account.reconcile(&parse(smaller), false).await.unwrap();
        let s = outcome.first_plan.summary();
        assert_eq!((s.create, s.attach, s.detach, s.delete), (0, 0, 2, 1));
        assert!(account.sim.policy(&gone).is_none());
        let writes = account.sim.writes();
        // Two app PUTs, then the DELETE last.
        assert_eq!(writes.len(), 3);
        assert_eq!(writes.last().unwrap().method, "DELETE");
        for app in account.sim.apps() {
            assert!(
                !app.to_string().contains(&gone),
                "{} still links it",
                app["name"]
            );
        }
    })
    .await;
}

#[tokio::test]
async fn duplicate_managed_policies_are_merged_onto_the_oldest() {
    timed(async {
        let account = Account::demo().await;
        let manifest = parse(DEMO);
        account.reconcile(&manifest, false).await.unwrap();
        let keeper = account.managed_id("mcp-server-app");
        // A second copy, attached to one downstream, as a concurrent run could leave.
        let copy = account.sim.insert_policy(json!({
            "name": "[mcp-access:platform] MCP server mcp-server-app",
            "decision": "non_identity",
            "include": [{"linked_app_token": {"app_uid": account.app_id("mcp-server-app")}}],
            "created_at": "2099-01-01T00:00:00Z"
        }));
        account
            .sim
            .edit_app(&account.app_id("Internal API"), |app| {
                app["policies"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"id": copy, "precedence": 77}));
            });
        let outcome = account.reconcile(&manifest, false).await.unwrap();
        let s = outcome.first_plan.summary();
        assert_eq!((s.detach, s.delete), (1, 1));
        assert!(account.sim.policy(&copy).is_none());
        assert!(account.sim.policy(&keeper).is_some());
        assert_eq!(account.managed().len(), 2);
    })
    .await;
}

#[tokio::test]
async fn bad_references_are_all_reported_and_nothing_is_written() {
    timed(async {
        let account = Account::demo().await;
        let bad = "
owner: platform
servers:
  - app: HR portal
    downstream: [Internal API]
  - app: mcp-server-app
    downstream:
      - Internal AP
      - Bastion SSH
      - mcp-server-app
";
        let err = account.reconcile(&parse(bad), false).await.unwrap_err();
        let text = err.to_string() + &format!("{err:?}");
        let manifest_err = match err {
            ReconcileError::Manifest(m) => m,
            other => panic!("expected a manifest error, got {other}"),
        };
        assert!(manifest_err.problems().len() >= 4, "{text}");
        let all = format!("{manifest_err}");
        assert!(all.contains("SAML"), "{all}");
        assert!(
            all.contains("Internal API"),
            "suggests the close name: {all}"
        );
        assert!(
            all.contains("self_hosted") || all.contains("self-hosted"),
            "{all}"
        );
        assert_eq!(account.write_count(), 0);
    })
    .await;
}

#[tokio::test]
async fn pagination_reads_every_page_under_a_small_server_cap() {
    timed(async {
        let mut seed = Seed::demo();
        for i in 0..23 {
            seed.apps.push(json!({
                "name": format!("extra-{i:02}"), "type": "self_hosted",
                "domain": format!("extra-{i:02}.example.com")
            }));
        }
        for i in 0..7 {
            seed.policies.push(json!({
                "name": format!("filler-{i}"), "decision": "allow",
                "include": [{"everyone": {}}]
            }));
        }
        let config = SimConfig {
            apps_page_cap: 4,
            policies_page_cap: 3,
            ..SimConfig::default()
        };
        let account = Account::start(config, seed).await;
        let manifest = parse(
            "
owner: platform
servers:
  - app: mcp-server-app
    downstream: [extra-22, extra-00]
",
        );
        let outcome = account.reconcile(&manifest, false).await.unwrap();
        assert!(outcome.converged());
        let gets: Vec<_> = account
            .sim
            .journal()
            .into_iter()
            .filter(|e| e.method == "GET" && e.path.ends_with("/access/apps"))
            .collect();
        // 34 apps at 4 per page: 9 pages per read, the last one short (a short page
        // ends a walk); two reads (plan, verify).
        assert_eq!(gets.len(), 18, "{gets:#?}");
        assert!(
            account
                .linked_names("extra-22")
                .contains(&"[mcp-access:platform] MCP server mcp-server-app".to_owned())
        );
    })
    .await;
}

#[tokio::test]
async fn every_example_manifest_resolves_against_the_demo_account_and_converges() {
    timed(async {
        for path in [
            "examples/demo.yaml",
            "examples/self-hosted-server.yaml",
            "examples/oidc-saas-server.yaml",
            "examples/shared-downstreams",
        ] {
            let account = Account::demo().await;
            let env = |name: &str| {
                (name == "CLOUDFLARE_ACCOUNT_ID").then(|| account.sim.account_id().to_owned())
            };
            let manifest = manifest::load_with_env(&[path.into()], &env)
                .unwrap_or_else(|e| panic!("{path}: {e}"));
            let outcome = account
                .reconcile(&manifest, false)
                .await
                .unwrap_or_else(|e| panic!("{path}: {e}"));
            assert!(outcome.converged(), "{path}");
            assert!(!outcome.first_plan.is_empty(), "{path} changes something");
        }
    })
    .await;
}
