//! Reconcile against a misbehaving API: every injected fault mode and all at once,
//! rate limiting with Retry-After, lost create responses, DELETE answered 404, partial
//! applies, two reconcilers racing on one account, the errors left when retries run
//! out, and `sim serve` driven through the binary.
//!
//! Every run checks the same end state: exactly one managed policy per server, linked
//! to exactly that server's downstream apps; every other app field as it was; every
//! unmanaged policy and link untouched. Faults are seeded, so a failure reproduces.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use mcp_access::apply;
use mcp_access::cloudflare::{ApiObserver, Client, ClientConfig};
use mcp_access::manifest::{self, Manifest};
use mcp_access::reconcile::{self, Outcome, ReconcileError, ReconcileOptions};
use mcp_access::sim::{Faults, RateLimit, Seed, SimConfig, Simulator};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const TIMEOUT: Duration = Duration::from_secs(120);
const OWNER: &str = "platform";

/// The demo manifest: two servers, four links (one app shared).
const DEMO: &str = include_str!("../examples/demo.yaml");

/// Server app name -> names of the apps its managed policy must be linked to.
fn expected_links() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    BTreeMap::from([
        (
            "mcp-server-app",
            BTreeSet::from(["Internal API", "Company wiki"]),
        ),
        (
            "support-mcp",
            BTreeSet::from(["Company wiki", "Status page"]),
        ),
    ])
}

async fn within<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(TIMEOUT, f)
        .await
        .expect("test timed out")
}

fn demo_manifest() -> Manifest {
    manifest::parse_str("demo.yaml", DEMO, &|_| None).expect("manifest parses")
}

fn faults(spec: &str) -> Faults {
    spec.parse().expect("fault spec parses")
}

async fn sim_with(faults: Faults, rate_limit: Option<RateLimit>) -> Simulator {
    let config = SimConfig {
        faults,
        rate_limit,
        ..SimConfig::default()
    };
    Simulator::start(config, Seed::demo())
        .await
        .expect("simulator starts")
}

/// A client with a short per-request timeout (the `slow` fault holds responses for 1s).
fn client_for(sim: &Simulator, request_timeout: Duration, retry_deadline: Duration) -> Client {
    Client::new(config_for(sim, request_timeout, retry_deadline)).unwrap()
}

fn config_for(
    sim: &Simulator,
    request_timeout: Duration,
    retry_deadline: Duration,
) -> ClientConfig {
    let mut cc = ClientConfig::new(
        sim.base_url(),
        sim.account_id(),
        SecretString::from(sim.token().to_owned()),
    );
    cc.request_timeout = request_timeout;
    cc.retry_deadline = retry_deadline;
    cc
}

fn fast_client(sim: &Simulator) -> Client {
    client_for(sim, Duration::from_millis(300), Duration::from_secs(30))
}

async fn run(client: &Client, max_rounds: u32) -> Result<Outcome, ReconcileError> {
    let options = ReconcileOptions {
        owner: OWNER.to_owned(),
        dry_run: false,
        max_rounds,
        plan: mcp_access::plan::PlanOptions::default(),
    };
    reconcile::reconcile(
        client,
        &demo_manifest(),
        &options,
        &CancellationToken::new(),
    )
    .await
}

fn is_managed(policy: &Value) -> bool {
    policy["name"]
        .as_str()
        .is_some_and(|n| n.starts_with("[mcp-access:platform]"))
}

/// What must survive any reconcile: apps without their policy lists and timestamps,
/// unmanaged policies whole, and each app's unmanaged links with their precedence.
#[derive(Debug, PartialEq)]
struct Untouchable {
    app_fields: Vec<Value>,
    unmanaged_policies: Vec<Value>,
    unmanaged_links: Vec<(String, Vec<(String, u64)>)>,
}

impl Untouchable {
    fn of(sim: &Simulator) -> Self {
        let unmanaged_policies: Vec<Value> = sim
            .policies()
            .into_iter()
            .filter(|p| !is_managed(p))
            .collect();
        let unmanaged_ids: BTreeSet<String> = unmanaged_policies
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect();
        let mut app_fields = Vec::new();
        let mut unmanaged_links = Vec::new();
        for mut app in sim.apps() {
            let id = app["id"].as_str().unwrap().to_owned();
            let links = app["policies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| unmanaged_ids.contains(p["id"].as_str().unwrap()))
                .map(|p| {
                    (
                        p["id"].as_str().unwrap().to_owned(),
                        p["precedence"].as_u64().unwrap(),
                    )
                })
                .collect();
            unmanaged_links.push((id, links));
            let fields = app.as_object_mut().unwrap();
            fields.remove("policies");
            fields.remove("updated_at");
            app_fields.push(app);
        }
        Self {
            app_fields,
            unmanaged_policies,
            unmanaged_links,
        }
    }
}

/// Asserts the converged end state (see the module doc).
fn assert_converged(sim: &Simulator, before: &Untouchable, context: &str) {
    let apps = sim.apps();
    let uid_of = |name: &str| {
        apps.iter()
            .find(|a| a["name"] == name)
            .and_then(|a| a["uid"].as_str())
            .unwrap_or_else(|| panic!("no app {name}"))
            .to_owned()
    };
    let managed: Vec<Value> = sim.policies().into_iter().filter(is_managed).collect();
    let expected = expected_links();
    assert_eq!(
        managed.len(),
        expected.len(),
        "{context}: one managed policy per server, got {managed:#?}"
    );
    for (server, downstream) in &expected {
        let uid = uid_of(server);
        let serving: Vec<&Value> = managed
            .iter()
            .filter(|p| p["include"] == json!([{"linked_app_token": {"app_uid": uid}}]))
            .collect();
        assert_eq!(serving.len(), 1, "{context}: policies serving {server}");
        let id = serving[0]["id"].as_str().unwrap();
        assert_eq!(serving[0]["decision"], "non_identity", "{context}");
        let linked: BTreeSet<&str> = apps
            .iter()
            .filter(|a| {
                a["policies"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["id"] == id)
            })
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            &linked, downstream,
            "{context}: apps linking {server}'s policy"
        );
    }
    assert_eq!(
        &Untouchable::of(sim),
        before,
        "{context}: app fields, unmanaged policies or unmanaged links changed"
    );
}

/// Reconciles the demo account under `spec` once per seed; each run must converge.
async fn converges_under(spec: &str, seeds: &[u64]) {
    for seed in seeds {
        let spec = format!("{spec},seed={seed}");
        let sim = sim_with(faults(&spec), None).await;
        let before = Untouchable::of(&sim);
        let outcome = run(&fast_client(&sim), 6)
            .await
            .unwrap_or_else(|e| panic!("{spec}: {e}"));
        assert!(outcome.converged(), "{spec}");
        assert_converged(&sim, &before, &spec);
        // Converged means converged: a clean read finds nothing to do.
        sim.set_faults(Faults::default());
        let again = run(&fast_client(&sim), 1).await.unwrap();
        assert!(again.first_plan.is_empty(), "{spec}: a second run had work");
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn converges_under_server_errors() {
    within(converges_under("error=0.3", &[1, 2])).await;
}

#[tokio::test]
async fn converges_under_connection_resets() {
    within(converges_under("reset=0.3", &[3, 4])).await;
}

#[tokio::test]
async fn converges_under_lost_write_responses() {
    within(converges_under("lost=0.4", &[5, 6])).await;
}

#[tokio::test]
async fn converges_when_responses_outlast_the_client_timeout() {
    within(converges_under("slow=0.25:1s", &[7, 8])).await;
}

#[tokio::test]
async fn converges_under_latency_and_jitter() {
    within(converges_under("latency=20ms,jitter=30ms", &[9])).await;
}

#[tokio::test]
async fn converges_under_every_fault_at_once() {
    within(converges_under(
        "latency=2ms,jitter=8ms,error=0.15,reset=0.1,lost=0.15,slow=0.1:1s",
        &[10, 11, 12, 13],
    ))
    .await;
}

/// Counts retries, as the controller's metrics do.
#[derive(Default)]
struct Retries(AtomicU32);

impl ApiObserver for Retries {
    fn request(&self, _method: &str, _endpoint: &str, _status: u16) {}
    fn retry(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[tokio::test]
async fn waits_out_retry_after_on_429() {
    within(async {
        let limit = RateLimit {
            requests: 30,
            window: Duration::from_secs(2),
        };
        let sim = sim_with(Faults::default(), Some(limit)).await;
        let before = Untouchable::of(&sim);
        // Someone else spends the whole window first, unknown to our client: its
        // first requests get 429s with Retry-After, and must wait them out.
        let other = reqwest::Client::new();
        let apps = format!(
            "{}/accounts/{}/access/apps",
            sim.base_url(),
            sim.account_id()
        );
        for _ in 0..30 {
            let response = other
                .get(&apps)
                .bearer_auth(sim.token())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        }
        sim.clear_journal();
        let retries = Arc::new(Retries::default());
        let client = Client::with_observer(
            config_for(&sim, Duration::from_secs(5), Duration::from_secs(30)),
            retries.clone(),
        )
        .unwrap();
        let started = Instant::now();
        let outcome = run(&client, 3).await.expect("converges despite 429s");
        let elapsed = started.elapsed();
        assert!(outcome.converged());
        assert_converged(&sim, &before, "rate limited");

        let journal = sim.journal();
        let limited = journal.iter().filter(|e| e.status == 429).count();
        assert!(limited >= 1, "the limit was hit: {journal:#?}");
        // Every refused request was retried, each after the window reopened: the
        // first 2s window was waited out.
        assert!(
            retries.0.load(Ordering::Relaxed) as usize >= limited,
            "every 429 was retried"
        );
        assert!(
            elapsed >= Duration::from_millis(1900),
            "waited for Retry-After: {elapsed:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_lost_create_response_makes_no_duplicate() {
    within(async {
        // Every write is applied and its answer lost: the client cannot know whether
        // its POST happened.
        let sim = sim_with(faults("lost=1.0"), None).await;
        let before = Untouchable::of(&sim);
        let client = client_for(&sim, Duration::from_secs(5), Duration::from_secs(1));
        let outcome = run(&client, 3).await.expect("converges");
        assert!(outcome.converged());
        assert_converged(&sim, &before, "lost responses");

        let journal = sim.journal();
        let posts: Vec<_> = journal.iter().filter(|e| e.method == "POST").collect();
        assert_eq!(
            posts.len(),
            2,
            "one POST per server, never repeated: {journal:#?}"
        );
        assert!(posts.iter().all(|p| p.status == 0), "{posts:#?}");
        // After each lost POST the client looked before anything else was created.
        let first_post = journal.iter().position(|e| e.method == "POST").unwrap();
        assert!(
            journal[first_post..]
                .iter()
                .any(|e| e.method == "GET" && e.path.ends_with("/access/policies")),
            "{journal:#?}"
        );
        let created = outcome.rounds[0].report.count("create");
        assert_eq!(created, 2, "{}", outcome.rounds[0].report);
    })
    .await;
}

/// Clears the faults as soon as one write has lost its response (the client's retry
/// waits at least 250 ms, so it finds the faults gone).
async fn lose_first_write_only(sim: &Simulator) {
    while !sim.writes().iter().any(|e| e.status == 0) {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    sim.set_faults(Faults::default());
}

#[tokio::test]
async fn a_delete_answered_404_counts_as_done() {
    within(async {
        let sim = sim_with(Faults::default(), None).await;
        let client = fast_client(&sim);
        run(&client, 3).await.expect("converges");
        let before = Untouchable::of(&sim);
        // A managed policy for a server no longer in the manifest, linked nowhere.
        let orphan = sim.insert_policy(json!({
            "name": "[mcp-access:platform] MCP server retired-mcp",
            "decision": "non_identity",
            "include": [{"linked_app_token": {"app_uid": "00000000-0000-4000-8000-000000000000"}}],
        }));
        sim.clear_journal();
        // The DELETE lands but its answer is lost; the retry is answered 404.
        sim.set_faults(faults("lost=1.0"));
        let (outcome, ()) = tokio::join!(run(&client, 3), lose_first_write_only(&sim));
        let outcome = outcome.expect("converges");
        let deletes: Vec<u16> = sim
            .writes()
            .iter()
            .filter(|e| e.method == "DELETE")
            .map(|e| e.status)
            .collect();
        assert_eq!(deletes, [0, 404]);
        assert!(sim.policy(&orphan).is_none());
        assert_eq!(outcome.rounds.len(), 1);
        assert_eq!(outcome.rounds[0].report.count("delete"), 1);
        assert!(outcome.rounds[0].report.is_complete());
        assert_converged(&sim, &before, "after the orphan's delete");
        // And directly: deleting what is not there is not an error.
        client
            .delete_policy("does-not-exist")
            .await
            .expect("404 is done");
    })
    .await;
}

#[tokio::test]
async fn a_partial_apply_reports_both_halves_and_the_next_run_completes_it() {
    within(async {
        let sim = sim_with(Faults::default(), None).await;
        let before = Untouchable::of(&sim);
        let (_, plan) = reconcile::plan_once(&fast_client(&sim), &demo_manifest(), OWNER)
            .await
            .unwrap();
        // Half the requests fail and this client does not retry: the apply stops midway.
        sim.set_faults(faults("error=0.5,seed=21"));
        let no_retry = client_for(&sim, Duration::from_secs(5), Duration::ZERO);
        let report = apply::apply(&no_retry, &plan, &CancellationToken::new()).await;
        assert!(!report.done.is_empty(), "something was done: {report}");
        assert!(!report.is_complete(), "something was not: {report}");
        let text = report.to_string();
        assert!(
            text.contains("done: ") && text.contains("NOT done: "),
            "{text}"
        );
        assert!(text.contains("HTTP 50"), "the reason is given: {text}");

        sim.set_faults(Faults::default());
        let outcome = run(&fast_client(&sim), 3).await.expect("completes");
        assert!(outcome.converged());
        assert!(!outcome.first_plan.is_empty(), "the rest was still to do");
        assert_converged(&sim, &before, "after the partial apply");
    })
    .await;
}

#[tokio::test]
async fn two_concurrent_reconciles_converge_to_one_policy_per_server() {
    within(Box::pin(async {
        let mut raced = 0;
        for seed in [31, 32, 33, 34, 35] {
            let spec = format!("latency=1ms,jitter=20ms,error=0.1,lost=0.1,seed={seed}");
            let sim = sim_with(faults(&spec), None).await;
            let before = Untouchable::of(&sim);
            // Two processes: two clients, nothing shared but the account.
            let (a, b) = (fast_client(&sim), fast_client(&sim));
            let (ra, rb) = tokio::join!(run(&a, 5), run(&b, 5));
            raced += usize::from(sim.writes().iter().filter(|e| e.method == "POST").count() > 2);
            let ra = ra.unwrap_or_else(|e| panic!("{spec}: run A: {e}"));
            let rb = rb.unwrap_or_else(|e| panic!("{spec}: run B: {e}"));
            assert!(ra.converged() && rb.converged(), "{spec}");
            assert_converged(&sim, &before, &spec);
            sim.shutdown().await;
        }
        // The race this test is about happened: both runs created a policy for the same
        // server, and the duplicates were resolved.
        assert!(raced >= 1, "no run raced to create");
    }))
    .await;
}

#[tokio::test]
async fn errors_after_retries_name_request_status_and_cloudflare_code() {
    within(async {
        // Every request fails with a 5xx: retries run out at the deadline.
        let sim = sim_with(faults("error=1.0,seed=41"), None).await;
        let client = client_for(&sim, Duration::from_secs(5), Duration::from_secs(1));
        let err = client.list_apps().await.unwrap_err().to_string();
        let request = format!("GET /accounts/{}/access/apps", sim.account_id());
        assert!(err.contains(&request), "{err}");
        assert!(err.contains("gave up after"), "{err}");
        assert!(err.contains("HTTP 50"), "{err}");
        assert!(err.contains("Cloudflare error 10001: access.api.error."), "{err}");
        // Through reconcile, the same error says it was the read that failed (apps and
        // policies are read at once: either may be the one reported).
        let err = run(&client, 1).await.unwrap_err().to_string();
        let read = format!("GET /accounts/{}/access/", sim.account_id());
        assert!(err.contains("reading the account failed") && err.contains(&read), "{err}");
        assert!(err.contains("Cloudflare error 10001"), "{err}");

        // A Retry-After beyond the deadline is not waited for.
        sim.set_faults(Faults::default());
        sim.set_misbehaviour("always-429=60".parse().unwrap());
        let started = Instant::now();
        let err = client.list_policies().await.unwrap_err().to_string();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(
            err.contains("HTTP 429") && err.contains("Cloudflare error 971"),
            "{err}"
        );
        sim.set_misbehaviour(mcp_access::sim::Misbehaviour::default());

        // Nor is a budget that the API says is spent: the client does not spend the
        // rest (it would block everyone sharing it) and says so.
        sim.set_rate_limit(Some(RateLimit {
            requests: 1,
            window: Duration::from_secs(60),
        }));
        let fresh = client_for(&sim, Duration::from_secs(5), Duration::from_secs(1));
        fresh.list_policies().await.unwrap();
        let started = Instant::now();
        let err = fresh.list_policies().await.unwrap_err().to_string();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(err.contains("budget is nearly spent"), "{err}");

        // A refusal is not retried, and says why.
        sim.set_rate_limit(None);
        let err = client
            .put_policy("f1a2b3c4-0001-4000-8000-00000000a001", &json!({"decision": "allow"}))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("PUT /accounts/"), "{err}");
        assert!(
            err.contains("HTTP 400, Cloudflare error 12130: access.api.error.invalid_request: name is required"),
            "{err}"
        );
        assert_eq!(
            sim.journal().iter().filter(|e| e.method == "PUT").count(),
            1,
            "a 400 is not retried"
        );
    })
    .await;
}

/// A `sim serve` process, killed when dropped.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `mcp-access sim serve ARGS` and reads the `export NAME=value` lines it prints.
fn sim_serve(args: &[&str]) -> (Server, BTreeMap<String, String>) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    use assert_cmd::cargo::CommandCargoExt;

    let mut child = Command::cargo_bin("mcp-access")
        .unwrap()
        .args(["sim", "serve"])
        .args(args)
        .env_clear()
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let server = Server(child);
    let mut env = BTreeMap::new();
    let mut line = String::new();
    while env.len() < 3 {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "sim serve exited early"
        );
        if let Some((k, v)) = line
            .trim()
            .strip_prefix("export ")
            .and_then(|kv| kv.split_once('='))
        {
            env.insert(k.to_owned(), v.to_owned());
        }
    }
    (server, env)
}

/// `mcp-access sim serve` through the binary: it prints where it listens, serves the
/// API with its page cap and faults, and the CLI reconciles against it.
#[test]
fn sim_serve_runs_standalone_and_the_cli_reconciles_against_it() {
    let (mut server, env) = sim_serve(&[
        "--listen",
        "127.0.0.1:0",
        "--apps-page-cap",
        "2",
        "--faults",
        "error=0.1,seed=5",
        "--latency",
        "1ms",
        "--token",
        "test-token",
        "--account-id",
        "a0c0c0a0b0b0c0c0d0d0e0e0f0f0a1b2",
    ]);
    assert_eq!(
        env["CLOUDFLARE_ACCOUNT_ID"],
        "a0c0c0a0b0b0c0c0d0d0e0e0f0f0a1b2"
    );
    assert_eq!(env["CLOUDFLARE_API_TOKEN"], "test-token");
    let base = env["CLOUDFLARE_API_BASE_URL"].clone();
    assert!(
        base.starts_with("http://127.0.0.1:") && base.ends_with("/client/v4"),
        "{base}"
    );

    // A plain request: the page cap holds.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let page: Value = runtime.block_on(within(async {
        let http = reqwest::Client::new();
        loop {
            let response = http
                .get(format!(
                    "{base}/accounts/a0c0c0a0b0b0c0c0d0d0e0e0f0f0a1b2/access/apps?per_page=50"
                ))
                .bearer_auth("test-token")
                .send()
                .await
                .unwrap();
            // The injected 5xx are part of the deal; a client retries them.
            if response.status().is_success() {
                break response.json().await.unwrap();
            }
        }
    }));
    assert_eq!(page["result_info"]["per_page"], 2);
    assert_eq!(page["result_info"]["total_count"], 11);

    // The CLI, configured only by what sim serve printed.
    let manifest = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    std::fs::write(manifest.path(), DEMO).unwrap();
    let reconcile = assert_cmd::Command::cargo_bin("mcp-access")
        .unwrap()
        .env_clear()
        .envs(&env)
        .env("NO_COLOR", "1")
        .args(["reconcile", "-q", "--retry-deadline", "30s", "-f"])
        .arg(manifest.path())
        .timeout(TIMEOUT)
        .assert()
        .success();
    let out = String::from_utf8_lossy(&reconcile.get_output().stdout).into_owned();
    assert!(out.contains("The account matches the manifest"), "{out}");
    assert_cmd::Command::cargo_bin("mcp-access")
        .unwrap()
        .env_clear()
        .envs(&env)
        .args(["plan", "-q", "--exit-code", "-f"])
        .arg(manifest.path())
        .timeout(TIMEOUT)
        .assert()
        .code(0);
    let _ = server.0.kill();
    assert!(server.0.wait().is_ok());
}

#[test]
fn sim_serve_loads_a_seed_file_and_refuses_bad_input() {
    let seed = tempfile::Builder::new().suffix(".json").tempfile().unwrap();
    std::fs::write(
        seed.path(),
        r#"{"apps": [{"name": "only", "type": "self_hosted", "domain": "only.example.com"}]}"#,
    )
    .unwrap();
    let (_server, env) = sim_serve(&[
        "--listen",
        "127.0.0.1:0",
        "--seed",
        seed.path().to_str().unwrap(),
    ]);
    let base = &env["CLOUDFLARE_API_BASE_URL"];
    let account = &env["CLOUDFLARE_ACCOUNT_ID"];
    let apps: Value = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(within(async {
            reqwest::Client::new()
                .get(format!("{base}/accounts/{account}/access/apps"))
                .bearer_auth(&env["CLOUDFLARE_API_TOKEN"])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        }));
    assert_eq!(apps["result"][0]["name"], "only");
    assert_eq!(apps["result_info"]["total_count"], 1);

    std::fs::write(
        seed.path(),
        r#"{"apps": [{"name": "x", "type": "self_hosted"}]}"#,
    )
    .unwrap();
    for (args, needle) in [
        (vec!["--seed", seed.path().to_str().unwrap()], "domain"),
        (vec!["--faults", "error=2"], "--faults"),
        (vec!["--rate-limit", "often"], "rate"),
        (vec!["--account-id", "my-account"], "32 hexadecimal"),
        (vec!["--misbehave", "page-as=apps:0:1"], "--misbehave"),
    ] {
        assert_cmd::Command::cargo_bin("mcp-access")
            .unwrap()
            .env_clear()
            .args(["sim", "serve", "--listen", "127.0.0.1:0"])
            .args(&args)
            .timeout(Duration::from_secs(30))
            .assert()
            .failure()
            .stderr(predicates::str::contains(needle));
    }
}
