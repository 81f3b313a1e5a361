//! Real accounts are messier than the one the client was written against (issue 10):
//! MCP app types, legacy (app-scoped) policies, write-only secrets, rules the API
//! normalises, the reusable-policy limit, and links to policies the read did not see.
//! Each behaviour is proven through the binary against a simulator that models it.

mod common;

use common::{cli, manifest_file, path, stderr, stdout};

use mcp_access::sim::{Seed, SimConfig, Simulator};
use serde_json::{Value, json};

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

// ---- Legacy (app-scoped) policies (issue 10.1) ------------------------------------------

/// A plain HTTP call to the simulator: (status, body).
async fn call(
    sim: &Simulator,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("{}/accounts/{}{path}", sim.base_url(), sim.account_id());
    let mut request = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(sim.token());
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

const WIKI_LEGACY: &str = "Wiki legacy allow";

/// The demo account with a legacy policy on "Company wiki" (which the demo manifest
/// gives both servers) at precedence 5. Returns the simulator and the policy id.
async fn demo_with_legacy_on_wiki() -> (Simulator, String) {
    let sim = demo_sim().await;
    let wiki = app_id(&sim, "Company wiki");
    let id = sim
        .add_legacy_policy(
            &wiki,
            &json!({"name": WIKI_LEGACY, "decision": "allow",
                    "include": [{"email_domain": {"domain": "example.com"}}]}),
            5,
        )
        .unwrap();
    (sim, id)
}

fn schema_validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schema/plan.schema.json"
    ))
    .unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_simulator_models_legacy_policies() {
    let (sim, legacy) = demo_with_legacy_on_wiki().await;
    let wiki = app_id(&sim, "Company wiki");
    let employees = "f1a2b3c4-0001-4000-8000-00000000a001";
    // Expanded on the app's GET, not in the policy list, not served by id.
    let (_, app) = call(
        &sim,
        reqwest::Method::GET,
        &format!("/access/apps/{wiki}"),
        None,
    )
    .await;
    let copy = app["result"]["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == legacy.as_str())
        .unwrap()
        .clone();
    assert_eq!(copy["reusable"], false);
    assert_eq!(copy["name"], WIKI_LEGACY);
    assert_eq!(copy["precedence"], 5);
    let (_, list) = call(&sim, reqwest::Method::GET, "/access/policies", None).await;
    assert!(
        !list["result"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == legacy.as_str())
    );
    let (status, _) = call(
        &sim,
        reqwest::Method::GET,
        &format!("/access/policies/{legacy}"),
        None,
    )
    .await;
    assert_eq!(status, 404);

    // Reusable and legacy policies cannot be mixed in an update.
    let mut body = app["result"].clone();
    for key in ["id", "uid", "aud", "created_at", "updated_at"] {
        body.as_object_mut().unwrap().remove(key);
    }
    body["policies"] = json!([{"id": legacy, "precedence": 5}, {"id": employees, "precedence": 6}]);
    let (status, answer) = call(
        &sim,
        reqwest::Method::PUT,
        &format!("/access/apps/{wiki}"),
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["errors"][0]["code"], 12130);

    // Converting keeps the id, rules and precedence; the policy is then listed.
    let (status, converted) = call(
        &sim,
        reqwest::Method::PUT,
        &format!("/access/apps/{wiki}/policies/{legacy}/make_reusable"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{converted}");
    let listed = sim.policy(&legacy).expect("listed after make_reusable");
    assert_eq!(listed["reusable"], true);
    assert_eq!(listed["name"], WIKI_LEGACY);
    assert_eq!(
        listed["include"],
        json!([{"email_domain": {"domain": "example.com"}}])
    );
    let after = sim.app(&wiki).unwrap();
    let link = after["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == legacy.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        (link["precedence"].clone(), link["reusable"].clone()),
        (json!(5), json!(true))
    );
    assert!(sim.legacy_policies().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn in_the_simulator_removing_a_legacy_policy_from_its_app_deletes_it() {
    let employees = "f1a2b3c4-0001-4000-8000-00000000a001";
    let (sim, legacy) = demo_with_legacy_on_wiki().await;
    let wiki = app_id(&sim, "Company wiki");
    let (_, app) = call(
        &sim,
        reqwest::Method::GET,
        &format!("/access/apps/{wiki}"),
        None,
    )
    .await;
    let mut body = app["result"].clone();
    for key in ["id", "uid", "aud", "created_at", "updated_at"] {
        body.as_object_mut().unwrap().remove(key);
    }
    body["policies"] = json!([{"id": employees, "precedence": 1}]);
    let (status, _) = call(
        &sim,
        reqwest::Method::PUT,
        &format!("/access/apps/{wiki}"),
        Some(body),
    )
    .await;
    assert_eq!(status, 200);
    assert!(sim.legacy_policies().is_empty(), "{legacy} should be gone");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_with_legacy_policies_is_never_written_and_the_rest_converges() {
    let (sim, legacy) = demo_with_legacy_on_wiki().await;
    let wiki = app_id(&sim, "Company wiki");
    let file = manifest_file(include_str!("../examples/demo.yaml"));

    // The plan shows the attaches as blocked, names the app and its legacy policy, and
    // gives the fix, in every format.
    let plan = cli(&sim)
        .args(["plan", "--exit-code", "-f", &path(&file)])
        .assert()
        .code(2);
    let text = stdout(&plan);
    assert!(
        text.contains("! attach to \"Company wiki\" BLOCKED (see below)"),
        "{text}"
    );
    assert!(text.contains("Blocked app changes"), "{text}");
    assert!(
        text.contains(&format!("\"{WIKI_LEGACY}\" {legacy}, precedence 5")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "PUT /accounts/{{account_id}}/access/apps/{wiki}/policies/{legacy}/make_reusable"
        )),
        "{text}"
    );
    assert!(text.contains("--convert-legacy"), "{text}");
    assert!(text.contains("2 link changes blocked"), "{text}");

    let json_out = cli(&sim)
        .args(["plan", "-o", "json", "-f", &path(&file)])
        .assert()
        .success();
    let doc: Value = serde_json::from_str(&stdout(&json_out)).unwrap();
    assert!(schema_validator().is_valid(&doc), "{doc:#}");
    let blocked = &doc["blocked"][0];
    assert_eq!(blocked["app"]["name"], "Company wiki");
    assert_eq!(blocked["attach"].as_array().unwrap().len(), 2);
    assert_eq!(blocked["blockers"][0]["kind"], "legacy_policies");
    assert_eq!(
        blocked["blockers"][0]["policies"][0]["policy_id"],
        legacy.as_str()
    );
    assert!(
        blocked["explained"][0]["fix"]
            .as_str()
            .unwrap()
            .contains("make_reusable")
    );
    assert_eq!(doc["summary"]["blocked"], 2);
    assert_eq!(doc["summary"]["has_changes"], true);
    assert!(
        !doc["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["app"]["name"] == "Company wiki"),
        "no action on the wiki: {doc:#}"
    );

    let md = cli(&sim)
        .args(["plan", "-o", "markdown", "-f", &path(&file)])
        .assert()
        .success();
    let md = stdout(&md);
    assert!(md.contains("#### Blocked app changes"), "{md}");
    assert!(md.contains("| Company wiki |"), "{md}");
    assert!(md.contains("make_reusable"), "{md}");
    // The diagram of the resulting access does not draw the blocked links as made.
    assert!(md.contains("-.->|\"blocked\"|"), "{md}");

    // Reconcile makes every other link, never writes the wiki, and exits 1 naming the
    // links it could not make.
    sim.clear_journal();
    let out = cli(&sim)
        .args(["reconcile", "-f", &path(&file)])
        .assert()
        .code(1);
    let err = stderr(&out);
    assert!(
        err.contains("could not make 2 link change(s) on 1 app(s)"),
        "{err}"
    );
    assert!(
        err.contains("attach \"[mcp-access:platform] MCP server mcp-server-app\""),
        "{err}"
    );
    assert!(err.contains("on \"Company wiki\""), "{err}");
    assert!(err.contains(WIKI_LEGACY), "{err}");
    assert!(
        !sim.writes().iter().any(|w| w.path.ends_with(&wiki)),
        "the wiki was written: {:?}",
        sim.writes()
    );
    assert_eq!(sim.legacy_policies().len(), 1, "the legacy policy is kept");
    assert!(
        linked_names(&sim, "Internal API")
            .contains(&"[mcp-access:platform] MCP server mcp-server-app".to_owned())
    );
    assert!(
        linked_names(&sim, "Status page")
            .contains(&"[mcp-access:platform] MCP server support-mcp".to_owned())
    );

    // Run again: nothing else to do, still blocked, still no write.
    sim.clear_journal();
    cli(&sim)
        .args(["reconcile", "-f", &path(&file)])
        .assert()
        .code(1);
    assert!(sim.writes().is_empty(), "{:?}", sim.writes());
}

#[tokio::test(flavor = "multi_thread")]
async fn convert_legacy_converts_before_the_attach_keeping_id_rules_and_precedence() {
    let (sim, legacy) = demo_with_legacy_on_wiki().await;
    let wiki = app_id(&sim, "Company wiki");
    let file = manifest_file(include_str!("../examples/demo.yaml"));

    let plan = cli(&sim)
        .args(["plan", "--convert-legacy", "-f", &path(&file)])
        .assert()
        .success();
    let text = stdout(&plan);
    assert!(
        text.contains(&format!(
            "* convert legacy policy \"{WIKI_LEGACY}\" on \"Company wiki\" to reusable ({legacy}, precedence 5)"
        )),
        "{text}"
    );
    assert!(text.contains("> attach to \"Company wiki\""), "{text}");
    assert!(!text.contains("BLOCKED"), "{text}");
    assert!(text.contains("1 legacy policy to convert"), "{text}");
    let json_out = cli(&sim)
        .args(["plan", "--convert-legacy", "-o", "json", "-f", &path(&file)])
        .assert()
        .success();
    let doc: Value = serde_json::from_str(&stdout(&json_out)).unwrap();
    assert!(schema_validator().is_valid(&doc), "{doc:#}");
    assert_eq!(doc["actions"][0]["kind"], "convert");
    assert_eq!(doc["actions"][0]["policy_id"], legacy.as_str());
    assert_eq!(doc["summary"]["convert"], 1);
    let md = cli(&sim)
        .args([
            "plan",
            "--convert-legacy",
            "-o",
            "markdown",
            "-f",
            &path(&file),
        ])
        .assert()
        .success();
    assert!(
        stdout(&md).contains("🔁 convert legacy policy Wiki legacy allow to reusable"),
        "{}",
        stdout(&md)
    );

    sim.clear_journal();
    cli(&sim)
        .args(["reconcile", "--convert-legacy", "-f", &path(&file)])
        .assert()
        .success();
    let converted = sim
        .policy(&legacy)
        .expect("the converted policy is reusable");
    assert_eq!(
        converted["name"], WIKI_LEGACY,
        "unmanaged: its name is kept"
    );
    assert_eq!(converted["decision"], "allow");
    assert_eq!(
        converted["include"],
        json!([{"email_domain": {"domain": "example.com"}}])
    );
    let app = sim.app(&wiki).unwrap();
    let link = app["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == legacy.as_str())
        .unwrap()
        .clone();
    assert_eq!(link["precedence"], 5);
    assert_eq!(
        linked_names(&sim, "Company wiki")
            .iter()
            .filter(|n| n.starts_with("[mcp-access:platform]"))
            .count(),
        2
    );
    // The conversion came before the wiki's update.
    let writes = sim.writes();
    let convert_at = writes
        .iter()
        .position(|w| w.path.ends_with("/make_reusable"))
        .expect("converted");
    let put_at = writes
        .iter()
        .position(|w| w.method == "PUT" && w.path.ends_with(&format!("/access/apps/{wiki}")))
        .expect("the wiki was updated");
    assert!(convert_at < put_at, "{writes:?}");

    // Converged: the converted policy stays as it is, unmanaged.
    cli(&sim)
        .args(["plan", "--exit-code", "-f", &path(&file)])
        .assert()
        .code(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_detach_from_an_app_with_legacy_policies_is_blocked_and_its_policy_kept() {
    let sim = demo_sim().await;
    let file = manifest_file(include_str!("../examples/demo.yaml"));
    cli(&sim)
        .args(["reconcile", "-f", &path(&file)])
        .assert()
        .success();
    let wiki = app_id(&sim, "Company wiki");
    sim.add_legacy_policy(
        &wiki,
        &json!({"name": WIKI_LEGACY, "decision": "allow",
                "include": [{"email_domain": {"domain": "example.com"}}]}),
        9,
    )
    .unwrap();
    // support-mcp leaves the manifest: its policy is detached everywhere but the wiki,
    // and not deleted, since the wiki still links it.
    let smaller = manifest_file(
        "owner: platform\nservers:\n  - app: mcp-server-app\n    downstream: [Internal API, Company wiki]\n",
    );
    let plan = cli(&sim)
        .args(["plan", "-f", &path(&smaller)])
        .assert()
        .success();
    let text = stdout(&plan);
    assert!(text.contains("! detach \"[mcp-access:platform] MCP server support-mcp\" from \"Company wiki\" BLOCKED"), "{text}");
    assert!(
        text.contains(
            "< detach \"[mcp-access:platform] MCP server support-mcp\" from \"Status page\""
        ),
        "{text}"
    );
    assert!(!text.contains("- delete policy"), "{text}");
    cli(&sim)
        .args(["reconcile", "-f", &path(&smaller)])
        .assert()
        .code(1);
    assert!(
        linked_names(&sim, "Company wiki")
            .contains(&"[mcp-access:platform] MCP server support-mcp".to_owned())
    );
    assert!(
        !linked_names(&sim, "Status page")
            .contains(&"[mcp-access:platform] MCP server support-mcp".to_owned())
    );
    assert_eq!(
        managed(&sim).len(),
        2,
        "the support-mcp policy is kept while the wiki links it"
    );
    assert_eq!(sim.legacy_policies().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_never_writes_an_app_whose_fresh_read_shows_a_legacy_policy() {
    use mcp_access::cloudflare::{Client, ClientConfig};
    use secrecy::SecretString;
    tokio::time::timeout(std::time::Duration::from_secs(60), async {
        let sim = demo_sim().await;
        let client = Client::new(ClientConfig::new(
            sim.base_url(),
            sim.account_id(),
            SecretString::from(sim.token().to_owned()),
        ))
        .unwrap();
        let manifest = mcp_access::manifest::parse_str(
            "demo.yaml",
            include_str!("../examples/demo.yaml"),
            &|_| None,
        )
        .unwrap();
        // Planned while the wiki had no legacy policy; one appears before the apply.
        let (_, plan) = mcp_access::reconcile::plan_once(&client, &manifest, "platform")
            .await
            .unwrap();
        assert!(plan.blocked.is_empty());
        let wiki = app_id(&sim, "Company wiki");
        sim.add_legacy_policy(
            &wiki,
            &json!({"name": WIKI_LEGACY, "decision": "allow",
                    "include": [{"everyone": {}}]}),
            7,
        )
        .unwrap();
        sim.clear_journal();
        let report =
            mcp_access::apply::apply(&client, &plan, &tokio_util::sync::CancellationToken::new())
                .await;
        let not_done: Vec<String> = report
            .not_done
            .iter()
            .map(|n| format!("{}: {}", n.what, n.why))
            .collect();
        assert!(
            not_done
                .iter()
                .any(|n| n.contains("Company wiki") && n.contains("legacy (app-scoped) policies")),
            "{not_done:#?}"
        );
        assert!(
            !sim.writes()
                .iter()
                .any(|w| w.method == "PUT" && w.path.ends_with(&wiki)),
            "{:?}",
            sim.writes()
        );
        assert_eq!(sim.legacy_policies().len(), 1);
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn run_once_reports_blocked_links_and_converts_with_convert_legacy() {
    let (sim, legacy) = demo_with_legacy_on_wiki().await;
    let file = manifest_file(include_str!("../examples/demo.yaml"));
    let out = cli(&sim)
        .args(["run", "--once", "-f", &path(&file)])
        .assert()
        .code(1);
    assert!(
        stderr(&out).contains("app change blocked"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("could not make 2 link change(s)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(sim.legacy_policies().len(), 1);
    cli(&sim)
        .args(["run", "--once", "--convert-legacy", "-f", &path(&file)])
        .assert()
        .success();
    assert!(sim.legacy_policies().is_empty());
    assert_eq!(sim.policy(&legacy).unwrap()["name"], WIKI_LEGACY);
}

// ---- Write-only secrets (issue 10.2) ----------------------------------------------------

const SCIM_PASSWORD: &str = "scim-password-d0-not-print";
const OIDC_SECRET: &str = "oidc-client-secret-d0-not-print";

/// The demo account with SCIM provisioning (and its password) on "Company wiki" and a
/// client secret on the OIDC SaaS app "support-mcp", stored as a write would.
async fn demo_with_secrets(config: SimConfig) -> Simulator {
    let sim = sim_with(config, Seed::demo()).await;
    sim.edit_app(&app_id(&sim, "Company wiki"), |app| {
        app.insert(
            "scim_config".into(),
            json!({"enabled": true, "remote_uri": "https://scim.example.com/v2",
                   "idp_uid": "idp-1",
                   "authentication": {"scheme": "httpbasic", "user": "scim",
                                      "password": SCIM_PASSWORD}}),
        );
    });
    sim.edit_app(&app_id(&sim, "support-mcp"), |app| {
        app["saas_app"]["client_secret"] = json!(OIDC_SECRET);
    });
    sim
}

#[tokio::test(flavor = "multi_thread")]
async fn the_simulator_never_returns_write_only_secrets_and_a_put_without_them_clears_them() {
    let sim = demo_with_secrets(SimConfig::default()).await;
    let wiki = app_id(&sim, "Company wiki");
    let (_, app) = call(
        &sim,
        reqwest::Method::GET,
        &format!("/access/apps/{wiki}"),
        None,
    )
    .await;
    let auth = &app["result"]["scim_config"]["authentication"];
    assert_eq!(auth["user"], "scim");
    assert!(auth.get("password").is_none(), "{auth}");
    let (_, list) = call(&sim, reqwest::Method::GET, "/access/apps", None).await;
    assert!(!list.to_string().contains(SCIM_PASSWORD));
    assert!(!list.to_string().contains(OIDC_SECRET));
    // A PUT of what was read: the stored password is gone.
    let mut body = app["result"].clone();
    for key in ["id", "uid", "aud", "created_at", "updated_at"] {
        body.as_object_mut().unwrap().remove(key);
    }
    body["policies"] = json!([]);
    let (status, _) = call(
        &sim,
        reqwest::Method::PUT,
        &format!("/access/apps/{wiki}"),
        Some(body),
    )
    .await;
    assert_eq!(status, 200);
    let stored = sim.stored_app(&wiki).unwrap();
    assert!(
        stored["scim_config"]["authentication"]
            .get("password")
            .is_none(),
        "{stored}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_with_a_write_only_secret_is_never_written_and_the_plan_says_how_to_attach_by_hand()
{
    let sim = demo_with_secrets(SimConfig::default()).await;
    let wiki = app_id(&sim, "Company wiki");
    let file = manifest_file(include_str!("../examples/demo.yaml"));
    let plan = cli(&sim)
        .args(["plan", "-f", &path(&file)])
        .assert()
        .success();
    let text = stdout(&plan);
    assert!(
        text.contains("! attach to \"Company wiki\" BLOCKED"),
        "{text}"
    );
    assert!(
        text.contains("write-only field (scim_config.authentication)"),
        "{text}"
    );
    assert!(
        text.contains("an app update replaces the whole app and could clear it"),
        "{text}"
    );
    assert!(
        text.contains("attach the policy by hand in the dashboard"),
        "{text}"
    );
    let json_out = cli(&sim)
        .args(["plan", "-o", "json", "-f", &path(&file)])
        .assert()
        .success();
    let doc: Value = serde_json::from_str(&stdout(&json_out)).unwrap();
    assert!(schema_validator().is_valid(&doc));
    assert_eq!(
        doc["blocked"][0]["blockers"][0],
        json!({"kind": "write_only_secrets", "fields": ["scim_config.authentication"]})
    );

    let out = cli(&sim)
        .args(["reconcile", "-f", &path(&file)])
        .assert()
        .code(1);
    let err = stderr(&out);
    assert!(err.contains("on \"Company wiki\""), "{err}");
    assert!(err.contains("scim_config.authentication"), "{err}");
    assert!(
        !sim.writes().iter().any(|w| w.path.ends_with(&wiki)),
        "{:?}",
        sim.writes()
    );
    let stored = sim.stored_app(&wiki).unwrap();
    assert_eq!(
        stored["scim_config"]["authentication"]["password"],
        SCIM_PASSWORD
    );
    assert!(
        linked_names(&sim, "Internal API")
            .contains(&"[mcp-access:platform] MCP server mcp-server-app".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_reaches_a_plan_a_log_or_an_error_even_when_the_api_returns_it() {
    // Here the API returns the secrets: mcp-access reads them, and must show none.
    let sim = demo_with_secrets(SimConfig {
        reveal_secrets: true,
        ..SimConfig::default()
    })
    .await;
    let (_, app) = call(
        &sim,
        reqwest::Method::GET,
        &format!("/access/apps/{}", app_id(&sim, "Company wiki")),
        None,
    )
    .await;
    assert_eq!(
        app["result"]["scim_config"]["authentication"]["password"],
        SCIM_PASSWORD
    );
    let file = manifest_file(include_str!("../examples/demo.yaml"));
    let mut seen = String::new();
    for args in [
        vec!["plan", "-vv"],
        vec!["plan", "-o", "json"],
        vec!["plan", "-o", "markdown"],
        vec!["check", "-vv"],
        vec!["check", "--output", "json"],
        vec!["reconcile", "-vv"],
        vec!["reconcile", "-vv", "--log-format", "json", "-o", "json"],
        vec!["run", "--once", "-vv"],
    ] {
        let mut all: Vec<&str> = args.clone();
        all.extend(["-f", path(&file).leak()]);
        let out = cli(&sim).args(&all).assert();
        let text = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            !text.contains(SCIM_PASSWORD),
            "{args:?} printed the SCIM password:\n{text}"
        );
        assert!(
            !text.contains(OIDC_SECRET),
            "{args:?} printed the client secret:\n{text}"
        );
        seen.push_str(&text);
    }
    // The runs did read and talk about that app, so the check above is not vacuous.
    assert!(seen.contains("scim_config.authentication"), "{seen}");
    assert!(seen.contains("GET"), "debug logs were on: {seen}");
}

// ---- Links to unknown policies (issue 11.1, the inventory part) -------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_linked_policy_the_list_missed_is_read_by_id_and_nothing_is_duplicated() {
    let sim = demo_sim().await;
    let file = manifest_file(include_str!("../examples/demo.yaml"));
    cli(&sim)
        .args(["reconcile", "-f", &path(&file)])
        .assert()
        .success();
    let ours = managed(&sim)[0]["id"].as_str().unwrap().to_owned();
    // The list now misses a managed policy (and a hand-made one) that apps link.
    sim.set_unlisted_policies(&[&ours, "f1a2b3c4-0001-4000-8000-00000000a001"]);
    sim.clear_journal();
    let plan = cli(&sim)
        .args(["plan", "--exit-code", "-f", &path(&file)])
        .assert()
        .code(0);
    assert!(stdout(&plan).contains("No changes."), "{}", stdout(&plan));
    let reads: Vec<String> = sim
        .journal()
        .into_iter()
        .filter(|e| e.method == "GET" && e.path.contains("/access/policies/"))
        .map(|e| e.path)
        .collect();
    assert_eq!(
        reads.len(),
        2,
        "each missing policy read once by id: {reads:?}"
    );
    cli(&sim)
        .args(["reconcile", "-f", &path(&file)])
        .assert()
        .success();
    assert!(
        sim.writes().is_empty(),
        "no duplicate, no re-attach: {:?}",
        sim.writes()
    );
    assert_eq!(managed(&sim).len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_link_to_a_policy_that_is_nowhere_stops_apply_with_nothing_written() {
    let sim = demo_sim().await;
    let api = app_id(&sim, "Internal API");
    let ghost = "deadbeef-0000-4000-8000-00000000dead";
    sim.edit_app(&api, |app| {
        if let Some(Value::Array(links)) = app.get_mut("policies") {
            links.push(json!({"id": ghost, "precedence": 42}));
        }
    });
    let file = manifest_file(include_str!("../examples/demo.yaml"));
    // The plan shows the problem, in every format, and that apply will refuse it.
    let plan = cli(&sim)
        .args(["plan", "-f", &path(&file)])
        .assert()
        .success();
    let text = stdout(&plan);
    assert!(text.contains("Inconsistent inventory"), "{text}");
    assert!(
        text.contains(&format!(
            "app \"Internal API\" ({api}) links policy {ghost}, which is neither in the reusable policy list nor an app-scoped policy on that app (GET /access/policies/{ghost}: not found)"
        )),
        "{text}"
    );
    assert!(text.contains("apply will refuse this plan"), "{text}");
    let json_out = cli(&sim)
        .args(["plan", "-o", "json", "-f", &path(&file)])
        .assert()
        .success();
    let doc: Value = serde_json::from_str(&stdout(&json_out)).unwrap();
    assert!(schema_validator().is_valid(&doc), "{doc:#}");
    assert_eq!(doc["inventory_problems"][0]["policy_id"], ghost);
    assert_eq!(doc["inventory_problems"][0]["app_uid"], api.as_str());
    let md = cli(&sim)
        .args(["plan", "-o", "markdown", "-f", &path(&file)])
        .assert()
        .success();
    assert!(
        stdout(&md).contains("inventory is inconsistent"),
        "{}",
        stdout(&md)
    );

    // Reconcile, apply and a saved plan all refuse, naming it; nothing is written.
    for args in [vec!["reconcile"], vec!["apply"], vec!["run", "--once"]] {
        let mut all = args.clone();
        all.extend(["-f", path(&file).leak()]);
        let out = cli(&sim).args(&all).assert().code(1);
        let err = stderr(&out);
        assert!(
            err.contains("inventory is inconsistent, so nothing was written"),
            "{args:?}: {err}"
        );
        assert!(err.contains(ghost), "{err}");
    }
    let saved = tempfile::NamedTempFile::new().unwrap();
    cli(&sim)
        .args([
            "plan",
            "--out",
            saved.path().to_str().unwrap(),
            "-f",
            &path(&file),
        ])
        .assert()
        .success();
    let out = cli(&sim)
        .args(["apply", saved.path().to_str().unwrap()])
        .assert()
        .code(1);
    assert!(stderr(&out).contains(ghost), "{}", stderr(&out));
    assert!(sim.writes().is_empty(), "{:?}", sim.writes());
}

#[tokio::test(flavor = "multi_thread")]
async fn too_many_unknown_links_are_not_read_one_by_one() {
    let sim = demo_sim().await;
    let api = app_id(&sim, "Internal API");
    sim.edit_app(&api, |app| {
        if let Some(Value::Array(links)) = app.get_mut("policies") {
            for i in 0..21 {
                links.push(json!({"id": format!("ghost-{i:02}"), "precedence": 100 + i}));
            }
        }
    });
    let file = manifest_file(include_str!("../examples/demo.yaml"));
    sim.clear_journal();
    let plan = cli(&sim)
        .args(["plan", "-f", &path(&file)])
        .assert()
        .success();
    assert!(
        stdout(&plan).contains(
            "with 21 such policies in all: too many to read one by one, the list looks incomplete"
        ),
        "{}",
        stdout(&plan)
    );
    assert!(
        !sim.journal()
            .iter()
            .any(|e| e.path.contains("/access/policies/")),
        "{:?}",
        sim.journal()
    );
}

// ---- The reusable-policy limit (issue 10.7) ---------------------------------------------

/// The demo account with reusable policies added until it holds `total`.
fn demo_with_policies(total: usize) -> Seed {
    let mut seed = Seed::demo();
    for i in 0..total - seed.policies.len() {
        seed.policies.push(json!({
            "id": format!("filler-{i:04}"),
            "name": format!("Filler {i}"),
            "decision": "allow",
            "include": [{"email": {"email": format!("user{i}@example.com")}}]
        }));
    }
    seed
}

#[tokio::test(flavor = "multi_thread")]
async fn the_simulator_refuses_a_reusable_policy_past_the_limit() {
    let sim = sim_with(SimConfig::default(), demo_with_policies(500)).await;
    assert_eq!(sim.policies().len(), 500);
    let body = json!({"name": "one too many", "decision": "allow",
                      "include": [{"everyone": {}}]});
    let (status, answer) = call(&sim, reqwest::Method::POST, "/access/policies", Some(body)).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["errors"][0]["code"], 12130);
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("limit of 500"),
        "{answer}"
    );
    // A conversion adds a reusable policy too.
    let wiki = app_id(&sim, "Company wiki");
    let legacy = sim
        .add_legacy_policy(
            &wiki,
            &json!({"name": "old", "decision": "allow", "include": [{"everyone": {}}]}),
            9,
        )
        .unwrap();
    let (status, _) = call(
        &sim,
        reqwest::Method::PUT,
        &format!("/access/apps/{wiki}/policies/{legacy}/make_reusable"),
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(sim.policies().len(), 500);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_that_would_create_past_the_limit_is_refused_before_any_write() {
    // 499 reusable policies: the demo manifest's two creates would make 501.
    let sim = sim_with(SimConfig::default(), demo_with_policies(499)).await;
    let file = manifest_file(include_str!("../examples/demo.yaml"));
    let plan = cli(&sim)
        .args(["plan", "-f", &path(&file)])
        .assert()
        .success();
    let text = stdout(&plan);
    assert!(
        text.contains("apply will refuse this plan: the plan creates 2 reusable policies, but the account has 499 and may have at most 500"),
        "{text}"
    );
    let json_out = cli(&sim)
        .args(["plan", "-o", "json", "-f", &path(&file)])
        .assert()
        .success();
    let doc: Value = serde_json::from_str(&stdout(&json_out)).unwrap();
    assert!(schema_validator().is_valid(&doc), "{doc:#}");
    assert_eq!(
        doc["over_policy_limit"],
        json!({"existing": 499, "creates": 2, "converts": 0, "limit": 500})
    );
    let out = cli(&sim)
        .args(["reconcile", "-f", &path(&file)])
        .assert()
        .code(1);
    let err = stderr(&out);
    assert!(err.contains("so nothing was written"), "{err}");
    assert!(err.contains("--policy-limit"), "{err}");
    assert!(sim.writes().is_empty(), "{:?}", sim.writes());

    // An account whose limit Cloudflare raised: say so, and it goes through.
    let raised = sim_with(
        SimConfig {
            policy_limit: Some(1000),
            ..SimConfig::default()
        },
        demo_with_policies(499),
    )
    .await;
    cli(&raised)
        .args(["reconcile", "--policy-limit", "1000", "-f", &path(&file)])
        .assert()
        .success();
    assert_eq!(managed(&raised).len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_converts_legacy_policies_with_the_flag_or_from_a_saved_plan() {
    let file = manifest_file(include_str!("../examples/demo.yaml"));
    // `apply` without a saved plan takes the flag, as `reconcile` does.
    let (sim, legacy) = demo_with_legacy_on_wiki().await;
    cli(&sim)
        .args(["apply", "--convert-legacy", "-f", &path(&file)])
        .assert()
        .success();
    assert_eq!(sim.policy(&legacy).unwrap()["reusable"], true);

    // A plan saved with --convert-legacy holds its conversions; applying it makes them.
    let (sim, legacy) = demo_with_legacy_on_wiki().await;
    let saved = tempfile::NamedTempFile::new().unwrap();
    let saved_path = saved.path().to_str().unwrap();
    cli(&sim)
        .args([
            "plan",
            "--convert-legacy",
            "--out",
            saved_path,
            "-f",
            &path(&file),
        ])
        .assert()
        .success();
    let out = cli(&sim).args(["apply", saved_path]).assert().success();
    assert!(
        stdout(&out).contains(&format!(
            "done: convert legacy policy \"{WIKI_LEGACY}\" ({legacy}) on app \"Company wiki\" to reusable"
        )),
        "{}",
        stdout(&out)
    );
    assert!(sim.legacy_policies().is_empty());
    cli(&sim)
        .args(["plan", "--exit-code", "-f", &path(&file)])
        .assert()
        .code(0);
}
