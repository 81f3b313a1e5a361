//! Real accounts are messier than the one the client was written against (issue 10):
//! MCP app types, legacy (app-scoped) policies, write-only secrets, rules the API
//! normalises, the reusable-policy limit, and links to policies the read did not see.
//! Each behaviour is proven through the binary against a simulator that models it.

mod common;

use common::{cli, manifest_file};

use mcp_access::sim::{Seed, SimConfig, Simulator};
use serde_json::{Value, json};

fn path(f: &tempfile::NamedTempFile) -> String {
    f.path().to_str().unwrap().to_owned()
}

fn stdout(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(assert.get_output().stdout.clone()).unwrap()
}

fn stderr(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(assert.get_output().stderr.clone()).unwrap()
}

async fn demo_sim() -> Simulator {
    sim_with(SimConfig::default(), Seed::demo()).await
}

async fn sim_with(config: SimConfig, seed: Seed) -> Simulator {
    Simulator::start(config, seed).await.unwrap()
}

fn app_id(sim: &Simulator, name: &str) -> String {
    sim.apps()
        .into_iter()
        .find(|a| a["name"] == name)
        .and_then(|a| a["id"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no app {name}"))
}

/// Names of the policies an app links, in precedence order.
fn linked_names(sim: &Simulator, app: &str) -> Vec<String> {
    sim.app(&app_id(sim, app)).unwrap()["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn managed(sim: &Simulator) -> Vec<Value> {
    sim.policies()
        .into_iter()
        .filter(|p| {
            p["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("[mcp-access:platform]"))
        })
        .collect()
}

// ---- MCP application types (issue 10.5) ------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn an_mcp_app_is_a_server_forwarding_cf_access_token_end_to_end() {
    let sim = demo_sim().await;
    let docs_mcp = app_id(&sim, "docs-mcp");
    let file = manifest_file(
        "owner: platform\nservers:\n  - app: docs-mcp\n    downstream: [Internal API]\n",
    );
    let plan = cli(&sim)
        .args(["plan", "-f", &path(&file)])
        .assert()
        .success();
    let text = stdout(&plan);
    assert!(
        text.contains(&format!(
            "MCP server \"docs-mcp\" ({docs_mcp}, forwards Cf-Access-Token)"
        )),
        "{text}"
    );
    let json = cli(&sim)
        .args(["plan", "-o", "json", "-f", &path(&file)])
        .assert()
        .success();
    let doc: Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(doc["servers"][0]["app_type"], "mcp");
    assert_eq!(doc["servers"][0]["forward_header"], "Cf-Access-Token");

    cli(&sim)
        .args(["reconcile", "-f", &path(&file)])
        .assert()
        .success();
    let policies = managed(&sim);
    assert_eq!(policies.len(), 1, "{policies:#?}");
    assert_eq!(
        policies[0]["include"],
        json!([{"linked_app_token": {"app_uid": docs_mcp}}])
    );
    assert!(
        linked_names(&sim, "Internal API")
            .contains(&"[mcp-access:platform] MCP server docs-mcp".to_owned())
    );

    // `check` knows the type: the pair is granted, and the diagram says what it is.
    let check = cli(&sim)
        .args(["check", "--from", "docs-mcp", "-f", &path(&file)])
        .assert()
        .success();
    let text = stdout(&check);
    assert!(text.contains("-> \"Internal API\""), "{text}");
    assert!(text.contains("granted, declared"), "{text}");
    let md = cli(&sim)
        .args(["check", "--output", "markdown", "-f", &path(&file)])
        .assert()
        .success();
    assert!(
        stdout(&md).contains("docs-mcp <br> (MCP server app)"),
        "{}",
        stdout(&md)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn mcp_and_portal_apps_are_refused_as_downstreams_before_any_write() {
    let sim = demo_sim().await;
    for (downstream, kind) in [("docs-mcp", "mcp"), ("AI tools portal", "mcp_portal")] {
        let file = manifest_file(&format!(
            "owner: platform\nservers:\n  - app: mcp-server-app\n    downstream: [\"{downstream}\"]\n"
        ));
        let out = cli(&sim)
            .args(["reconcile", "-f", &path(&file)])
            .assert()
            .code(1);
        let err = stderr(&out);
        assert!(
            err.contains(&format!("is an `{kind}` app")),
            "{downstream}: {err}"
        );
        assert!(
            err.contains("can only be attached to `self_hosted` apps"),
            "{err}"
        );
    }
    let portal = manifest_file("owner: platform\nservers:\n  - app: AI tools portal\n");
    let out = cli(&sim)
        .args(["plan", "-f", &path(&portal)])
        .assert()
        .code(1);
    assert!(
        stderr(&out).contains("is an `mcp_portal` app"),
        "{}",
        stderr(&out)
    );
    assert!(sim.writes().is_empty(), "{:?}", sim.writes());
}

// ---- Rules compared by meaning (issue 10.4) ---------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_converged_account_plans_no_changes_when_the_api_normalises_rules() {
    let sim = sim_with(
        SimConfig {
            normalise_rules: true,
            ..SimConfig::default()
        },
        Seed::demo(),
    )
    .await;
    let file = manifest_file(include_str!("../examples/demo.yaml"));
    // A byte comparison would update every managed policy on every round and never
    // converge; by meaning, one round converges.
    let out = cli(&sim)
        .args(["reconcile", "--max-rounds", "1", "-f", &path(&file)])
        .assert()
        .success();
    assert!(
        stdout(&out).contains("The account matches the manifest."),
        "{}",
        stdout(&out)
    );
    // The simulator did store the rules in another shape than mcp-access sent.
    let stored = managed(&sim);
    assert_eq!(stored.len(), 2);
    for policy in &stored {
        assert_eq!(policy["exclude"], Value::Null, "{policy}");
        assert!(policy.get("require").is_none(), "{policy}");
        assert_eq!(policy["include"][0]["email"], Value::Null, "{policy}");
        assert!(
            policy["include"][0]
                .as_object()
                .unwrap()
                .contains_key("group"),
            "{policy}"
        );
    }
    sim.clear_journal();
    let plan = cli(&sim)
        .args(["plan", "--exit-code", "-f", &path(&file)])
        .assert()
        .code(0);
    assert!(
        stdout(&plan).contains("No changes. The account matches the manifest."),
        "{}",
        stdout(&plan)
    );
    // `check` reads the stored rules the same way: every declared link is granted.
    let check = cli(&sim)
        .args(["check", "-f", &path(&file)])
        .assert()
        .success();
    assert!(
        stdout(&check).contains("0 declared but missing"),
        "{}",
        stdout(&check)
    );
    assert!(sim.writes().is_empty(), "{:?}", sim.writes());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_managed_policy_edited_to_mean_something_else_is_still_put_back() {
    let sim = sim_with(
        SimConfig {
            normalise_rules: true,
            ..SimConfig::default()
        },
        Seed::demo(),
    )
    .await;
    let file = manifest_file(include_str!("../examples/demo.yaml"));
    cli(&sim)
        .args(["reconcile", "-f", &path(&file)])
        .assert()
        .success();
    let id = managed(&sim)[0]["id"].as_str().unwrap().to_owned();
    sim.edit_policy(&id, |p| {
        p.insert(
            "require".into(),
            json!([{"email_domain": {"domain": "example.com"}}]),
        );
    });
    let plan = cli(&sim)
        .args(["plan", "--exit-code", "-f", &path(&file)])
        .assert()
        .code(2);
    assert!(
        stdout(&plan).contains("~ update policy"),
        "{}",
        stdout(&plan)
    );
}
