//! Live acceptance tests: the real binary against a real Cloudflare account, in the way
//! Terraform providers' acceptance tests work. They are `#[ignore]`d, so `cargo test`
//! reports them as ignored and never as passed. Run them with
//!
//! ```sh
//! MCP_ACCESS_LIVE=1 CLOUDFLARE_API_TOKEN=... CLOUDFLARE_ACCOUNT_ID=... \
//! MCP_ACCESS_LIVE_DOMAIN=test.example.com \
//!   cargo test --test live -- --ignored --nocapture --test-threads 1
//! ```
//!
//! Without all of those variables, each live test fails saying which are missing: run
//! with `--ignored`, a live test never passes without having run.
//!
//! Each test creates throwaway Access apps named with a unique prefix
//! (`mcpaccess-live-<random>`) under the test domain, and removes everything it made
//! when it ends, failed or not (a drop guard): the apps, and every policy whose name
//! carries the prefix or the test's owner id. See docs/real-api.md.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

/// The variables a live run needs, and what each is for.
const REQUIRED: &[(&str, &str)] = &[
    (
        "MCP_ACCESS_LIVE",
        "set to 1 to allow writes to a real account",
    ),
    (
        "CLOUDFLARE_API_TOKEN",
        "an API token with \"Access: Apps and Policies Write\" on the account",
    ),
    (
        "CLOUDFLARE_ACCOUNT_ID",
        "the account to create throwaway apps in",
    ),
    (
        "MCP_ACCESS_LIVE_DOMAIN",
        "a hostname suffix in that account's zones for the throwaway apps, e.g. live.example.com",
    ),
];

/// How to reach the real account.
#[derive(Clone)]
struct LiveEnv {
    token: String,
    account_id: String,
    domain: String,
    base_url: String,
}

impl std::fmt::Debug for LiveEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveEnv")
            .field("account_id", &self.account_id)
            .field("domain", &self.domain)
            .field("base_url", &self.base_url)
            .field("token", &"(redacted)")
            .finish()
    }
}

impl LiveEnv {
    /// The environment of a live run, or what is missing from it.
    fn from(env: &dyn Fn(&str) -> Option<String>) -> Result<LiveEnv, String> {
        let value = |k: &str| {
            env(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let missing: Vec<String> = REQUIRED
            .iter()
            .filter(|(name, _)| match *name {
                "MCP_ACCESS_LIVE" => value(name).as_deref() != Some("1"),
                _ => value(name).is_none(),
            })
            .map(|(name, why)| format!("{name} ({why})"))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "this live test did not run: it needs {}. It is ignored by `cargo test`; run it with `cargo test --test live -- --ignored` and those variables set (docs/real-api.md, \"Live acceptance tests\").",
                missing.join(", ")
            ));
        }
        Ok(LiveEnv {
            token: value("CLOUDFLARE_API_TOKEN").unwrap_or_default(),
            account_id: value("CLOUDFLARE_ACCOUNT_ID").unwrap_or_default(),
            domain: value("MCP_ACCESS_LIVE_DOMAIN")
                .unwrap_or_default()
                .trim_start_matches('.')
                .to_owned(),
            base_url: value("CLOUDFLARE_API_BASE_URL")
                .unwrap_or_else(|| "https://api.cloudflare.com/client/v4".to_owned())
                .trim_end_matches('/')
                .to_owned(),
        })
    }

    /// The environment of this process; panics (fails the test) naming what is
    /// missing, so a live test never passes without having run.
    fn require() -> LiveEnv {
        match LiveEnv::from(&|k| std::env::var(k).ok()) {
            Ok(env) => env,
            Err(why) => panic!("{why}"),
        }
    }
}

/// One answer of the API: status, the headers that matter here, and the body.
struct Answer {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Value,
}

impl Answer {
    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    fn result(&self) -> &Value {
        &self.body["result"]
    }

    /// The status and the envelope's errors, for messages (never a secret: errors
    /// name fields, not values).
    fn describe(&self) -> String {
        format!("HTTP {} {}", self.status, self.body["errors"])
    }
}

/// A bare client of the real API, for setting up, probing and cleaning up.
#[derive(Clone)]
struct Cf {
    http: reqwest::Client,
    env: LiveEnv,
}

impl Cf {
    fn new(env: LiveEnv) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        Self { http, env }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Answer {
        let url = format!(
            "{}/accounts/{}{path}",
            self.env.base_url, self.env.account_id
        );
        let mut request = self.http.request(method, url).bearer_auth(&self.env.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let headers = response
                    .headers()
                    .iter()
                    .filter(|(name, _)| {
                        let name = name.as_str();
                        name.contains("ratelimit") || name == "retry-after"
                    })
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("?").to_owned()))
                    .collect();
                let body = response.json().await.unwrap_or(Value::Null);
                Answer {
                    status,
                    headers,
                    body,
                }
            }
            Err(e) => Answer {
                status: 0,
                headers: BTreeMap::new(),
                body: json!({"errors": [{"message": format!("no answer: {e}")}]}),
            },
        }
    }

    async fn get(&self, path: &str) -> Answer {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: &Value) -> Answer {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn put(&self, path: &str, body: Option<&Value>) -> Answer {
        self.call(reqwest::Method::PUT, path, body).await
    }

    async fn delete(&self, path: &str) -> Answer {
        self.call(reqwest::Method::DELETE, path, None).await
    }

    /// Every item of a list, 50 per page, until an empty page.
    async fn list(&self, path: &str) -> Vec<Value> {
        let mut items = Vec::new();
        for page in 1..=200 {
            let answer = self.get(&format!("{path}?page={page}&per_page=50")).await;
            let Some(list) = answer.result().as_array().filter(|l| !l.is_empty()) else {
                break;
            };
            items.extend(list.iter().cloned());
        }
        items
    }

    /// A self-hosted app for the test; returns its id.
    async fn create_app(&self, name: &str, host: &str) -> String {
        let answer = self
            .post(
                "/access/apps",
                &json!({"name": name, "type": "self_hosted", "domain": host,
                        "session_duration": "24h"}),
            )
            .await;
        assert!(answer.ok(), "creating app {name}: {}", answer.describe());
        answer.result()["id"].as_str().unwrap().to_owned()
    }

    /// The body of a PUT that sends back every field of a GET, minus read-only ones.
    fn put_body(app: &Value, links: Value) -> Value {
        let mut body = app.clone();
        if let Some(map) = body.as_object_mut() {
            for key in ["id", "uid", "aud", "created_at", "updated_at"] {
                map.remove(key);
            }
        }
        body["policies"] = links;
        body
    }
}

/// What a test made, removed when it ends, failed or not.
struct Cleanup {
    cf: Cf,
    prefix: String,
    owner: String,
}

impl Cleanup {
    async fn run(&self) {
        // Apps first: deleting an app unlinks its policies, so they can be deleted.
        for app in self.cf.list("/access/apps").await {
            let name = app["name"].as_str().unwrap_or_default();
            if name.starts_with(&self.prefix) {
                let id = app["id"].as_str().unwrap_or_default();
                let answer = self.cf.delete(&format!("/access/apps/{id}")).await;
                println!(
                    "cleanup: delete app {name:?} ({id}): HTTP {}",
                    answer.status
                );
            }
        }
        let marker = format!("[mcp-access:{}]", self.owner);
        for policy in self.cf.list("/access/policies").await {
            let name = policy["name"].as_str().unwrap_or_default();
            if name.contains(&self.prefix) || name.starts_with(&marker) {
                let id = policy["id"].as_str().unwrap_or_default();
                let answer = self.cf.delete(&format!("/access/policies/{id}")).await;
                println!(
                    "cleanup: delete policy {name:?} ({id}): HTTP {}",
                    answer.status
                );
            }
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        // A runtime of its own: the test's may be gone (or be the reason we are here).
        let cf = self.cf.clone();
        let me = Cleanup {
            cf,
            prefix: self.prefix.clone(),
            owner: self.owner.clone(),
        };
        let done = std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .map(|rt| rt.block_on(me.run()))
                .is_ok()
        })
        .join();
        if !matches!(done, Ok(true)) {
            eprintln!(
                "cleanup of {} did not finish: delete apps and policies named with it by hand",
                self.prefix
            );
        }
    }
}

/// A fresh prefix, owner id and cleanup guard.
fn throwaway(env: &LiveEnv) -> Cleanup {
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    Cleanup {
        cf: Cf::new(env.clone()),
        prefix: format!("mcpaccess-live-{tag}"),
        owner: format!("live-{tag}"),
    }
}

/// The binary, pointed at the real account.
fn mcp_access(env: &LiveEnv) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("mcp-access").unwrap();
    cmd.env_clear()
        .env("CLOUDFLARE_API_BASE_URL", &env.base_url)
        .env("CLOUDFLARE_ACCOUNT_ID", &env.account_id)
        .env("CLOUDFLARE_API_TOKEN", &env.token)
        .env("NO_COLOR", "1")
        .timeout(Duration::from_secs(600));
    cmd
}

fn out(assert: &assert_cmd::assert::Assert) -> String {
    let o = assert.get_output();
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The names of the policies an app links, as its GET shows them.
async fn linked(cf: &Cf, app: &str) -> Vec<String> {
    let answer = cf.get(&format!("/access/apps/{app}")).await;
    answer.result()["policies"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|p| p["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Removes the link to the policy named `policy` from `app`, as a dashboard user would.
async fn unlink_by_hand(cf: &Cf, app: &str, policy: &str) {
    let read = cf.get(&format!("/access/apps/{app}")).await;
    let kept: Vec<Value> = read.result()["policies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] != policy)
        .map(|p| json!({"id": p["id"], "precedence": p["precedence"]}))
        .collect();
    let put = cf
        .put(
            &format!("/access/apps/{app}"),
            Some(&Cf::put_body(read.result(), Value::Array(kept))),
        )
        .await;
    assert!(put.ok(), "removing the link by hand: {}", put.describe());
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "live: needs a Cloudflare account (MCP_ACCESS_LIVE=1 ...); see docs/real-api.md"]
async fn live_reconcile_check_repair_drift_and_prune() {
    let env = LiveEnv::require();
    let guard = throwaway(&env);
    let (cf, prefix, owner) = (&guard.cf, &guard.prefix, &guard.owner);
    tokio::time::timeout(Duration::from_secs(1200), async {
        let host = |name: &str| format!("{prefix}-{name}.{}", env.domain);
        let server = cf.create_app(&format!("{prefix}-mcp"), &host("mcp")).await;
        let api = cf.create_app(&format!("{prefix}-api"), &host("api")).await;
        let wiki = cf
            .create_app(&format!("{prefix}-wiki"), &host("wiki"))
            .await;
        let ours = format!("[mcp-access:{owner}] MCP server {prefix}-mcp");
        let manifest = |downstream: &[&str]| {
            let list: Vec<String> = downstream
                .iter()
                .map(|d| format!("{{ uid: {d} }}"))
                .collect();
            common::manifest_file(&format!(
                "owner: {owner}\nservers:\n  - app: {{ uid: {server} }}\n    downstream: [{}]\n",
                list.join(", ")
            ))
        };
        let both = manifest(&[&api, &wiki]);
        let both_path = both.path().to_str().unwrap();

        let plan = mcp_access(&env)
            .args(["plan", "--exit-code", "-f", both_path])
            .assert()
            .code(2);
        println!("first plan:\n{}", out(&plan));

        let reconcile = mcp_access(&env)
            .args(["reconcile", "-f", both_path])
            .assert()
            .success();
        println!("reconcile:\n{}", out(&reconcile));
        assert!(linked(cf, &api).await.contains(&ours));
        assert!(linked(cf, &wiki).await.contains(&ours));

        // Converged on the real API: no perpetual update (rules compared by meaning).
        let again = mcp_access(&env)
            .args(["plan", "--exit-code", "-f", both_path])
            .assert();
        assert_eq!(again.get_output().status.code(), Some(0), "{}", out(&again));

        let check = mcp_access(&env)
            .args([
                "check",
                "--fail-on-undeclared",
                "--from",
                &server,
                "-f",
                both_path,
            ])
            .assert()
            .success();
        let text = out(&check);
        println!("check:\n{text}");
        assert!(text.contains("granted, declared"), "{text}");

        // Drift: the link is removed from one app by hand; reconcile puts it back.
        unlink_by_hand(cf, &api, &ours).await;
        assert!(!linked(cf, &api).await.contains(&ours));
        mcp_access(&env)
            .args(["reconcile", "-f", both_path])
            .assert()
            .success();
        assert!(linked(cf, &api).await.contains(&ours), "drift repaired");

        // Prune: a downstream leaves the manifest, then the server.
        let one = manifest(&[&wiki]);
        mcp_access(&env)
            .args(["reconcile", "-f", one.path().to_str().unwrap()])
            .assert()
            .success();
        assert!(!linked(cf, &api).await.contains(&ours));
        assert!(linked(cf, &wiki).await.contains(&ours));
        let none = common::manifest_file(&format!("owner: {owner}\nservers: []\n"));
        mcp_access(&env)
            .args([
                "reconcile",
                "--allow-empty",
                "-f",
                none.path().to_str().unwrap(),
            ])
            .assert()
            .success();
        let left: Vec<String> = cf
            .list("/access/policies")
            .await
            .iter()
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .filter(|n| *n == ours)
            .collect();
        assert!(left.is_empty(), "the managed policy was deleted: {left:?}");
    })
    .await
    .expect("the live test timed out");
}

/// Probes what the real API does where the simulator can only assume (issue 10, items
/// 1 to 4 and 8), and prints it, so the simulator can be corrected from facts. It
/// fails only when it cannot probe; what it finds is printed, not asserted.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "live: needs a Cloudflare account (MCP_ACCESS_LIVE=1 ...); see docs/real-api.md"]
async fn live_probe_what_the_real_api_does() {
    let env = LiveEnv::require();
    let guard = throwaway(&env);
    let (cf, prefix) = (&guard.cf, &guard.prefix);
    tokio::time::timeout(Duration::from_secs(900), async {
        let host = |name: &str| format!("{prefix}-{name}.{}", env.domain);
        let app = cf
            .create_app(&format!("{prefix}-probe"), &host("probe"))
            .await;
        probe_pagination(cf).await;
        probe_rate_limit_headers(cf).await;
        probe_rule_normalisation(cf, prefix, &app).await;
        probe_legacy_policies(cf, prefix, &app).await;
        probe_write_only_secrets(cf, prefix, &host("oidc")).await;
    })
    .await
    .expect("the live probe timed out");
}

/// Item 3: is `total_count` right, and which `per_page` is accepted?
async fn probe_pagination(cf: &Cf) {
    for list in ["/access/apps", "/access/policies"] {
        for per_page in [1000, 100, 50, 25] {
            let answer = cf.get(&format!("{list}?page=1&per_page={per_page}")).await;
            println!(
                "probe pagination: GET {list}?per_page={per_page}: HTTP {}, result_info {}, {} item(s), errors {}",
                answer.status,
                answer.body["result_info"],
                answer.result().as_array().map_or(0, Vec::len),
                answer.body["errors"]
            );
        }
        let first = cf.get(&format!("{list}?page=1&per_page=25")).await;
        let counted = cf.list(list).await.len();
        println!(
            "probe pagination: {list}: total_count says {}, walking to an empty page counted {counted}",
            first.body["result_info"]["total_count"]
        );
    }
}

/// Item 8: which rate-limit headers come back?
async fn probe_rate_limit_headers(cf: &Cf) {
    let answer = cf.get("/access/apps?page=1&per_page=1").await;
    println!(
        "probe rate limit: response headers about rate limits: {:?}",
        answer.headers
    );
}

/// Item 4: does the API store rules as sent?
async fn probe_rule_normalisation(cf: &Cf, prefix: &str, app: &str) {
    let sent = json!({
        "name": format!("{prefix} normalisation probe"),
        "decision": "non_identity",
        "include": [
            {"linked_app_token": {"app_uid": app}},
            {"email_domain": {"domain": "example.com"}}
        ],
        "exclude": [],
    });
    let created = cf.post("/access/policies", &sent).await;
    println!("probe rules: POST policy: {}", created.describe());
    let Some(id) = created.result()["id"].as_str() else {
        return;
    };
    let read = cf.get(&format!("/access/policies/{id}")).await;
    let got = read.result();
    for list in ["include", "exclude", "require"] {
        println!(
            "probe rules: {list}: sent {} read {} (same bytes: {})",
            sent.get(list)
                .map_or_else(|| "(absent)".to_owned(), Value::to_string),
            got.get(list)
                .map_or_else(|| "(absent)".to_owned(), Value::to_string),
            sent.get(list) == got.get(list)
        );
    }
    println!(
        "probe rules: the policy's `reusable`: {}",
        got.get("reusable")
            .map_or_else(|| "(absent)".to_owned(), Value::to_string)
    );
    let _ = cf.delete(&format!("/access/policies/{id}")).await;
}

/// Item 1: legacy policies: can one still be made, how does it look, is a mixed
/// update refused, and does `make_reusable` keep id and precedence?
async fn probe_legacy_policies(cf: &Cf, prefix: &str, app: &str) {
    let legacy = cf
        .post(
            &format!("/access/apps/{app}/policies"),
            &json!({"name": format!("{prefix} legacy probe"), "decision": "allow",
                    "include": [{"email_domain": {"domain": "example.com"}}], "precedence": 1}),
        )
        .await;
    println!(
        "probe legacy: POST an app-scoped policy: {}",
        legacy.describe()
    );
    let reusable = cf
        .post(
            "/access/policies",
            &json!({"name": format!("{prefix} reusable probe"), "decision": "allow",
                    "include": [{"email_domain": {"domain": "example.org"}}]}),
        )
        .await;
    let (Some(legacy_id), Some(reusable_id)) = (
        legacy.result()["id"].as_str(),
        reusable.result()["id"].as_str(),
    ) else {
        println!("probe legacy: could not make both policies; nothing more to probe");
        return;
    };
    let read = cf.get(&format!("/access/apps/{app}")).await;
    for copy in read.result()["policies"].as_array().into_iter().flatten() {
        println!(
            "probe legacy: the app's copy of {}: reusable = {}, keys {:?}",
            copy["id"],
            copy.get("reusable")
                .map_or_else(|| "(absent)".to_owned(), Value::to_string),
            copy.as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>())
        );
    }
    println!(
        "probe legacy: GET /access/policies/{legacy_id}: HTTP {}",
        cf.get(&format!("/access/policies/{legacy_id}"))
            .await
            .status
    );
    let mixed = cf
        .put(
            &format!("/access/apps/{app}"),
            Some(&Cf::put_body(
                read.result(),
                json!([{"id": legacy_id, "precedence": 1}, {"id": reusable_id, "precedence": 2}]),
            )),
        )
        .await;
    println!(
        "probe legacy: PUT the app with the legacy and a reusable link: {}",
        mixed.describe()
    );
    let converted = cf
        .put(
            &format!("/access/apps/{app}/policies/{legacy_id}/make_reusable"),
            None,
        )
        .await;
    println!(
        "probe legacy: make_reusable: {}; result is {}",
        converted.describe(),
        match converted.result() {
            Value::Array(_) => "a list",
            Value::Object(_) => "an object",
            Value::Null => "null",
            _ => "something else",
        }
    );
    let listed = cf.get(&format!("/access/policies/{legacy_id}")).await;
    let after = cf.get(&format!("/access/apps/{app}")).await;
    let link = after.result()["policies"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["id"] == legacy_id)
        .cloned();
    println!(
        "probe legacy: after make_reusable: GET by id HTTP {}, reusable {}; the app's link {}",
        listed.status,
        listed.result()["reusable"],
        link.map_or_else(
            || "(gone)".to_owned(),
            |l| format!("precedence {}", l["precedence"])
        )
    );
}

/// Item 2: is an OIDC client secret returned on GET, and does a PUT of what was read
/// keep it? Only whether a secret is there and whether it changed is printed, never
/// a value.
async fn probe_write_only_secrets(cf: &Cf, prefix: &str, host: &str) {
    let created = cf
        .post(
            "/access/apps",
            &json!({"name": format!("{prefix}-oidc"), "type": "saas",
                    "saas_app": {"auth_type": "oidc",
                                 "redirect_uris": [format!("https://{host}/callback")],
                                 "grant_types": ["authorization_code"],
                                 "scopes": ["openid", "email"]}}),
        )
        .await;
    println!(
        "probe secrets: POST an OIDC SaaS app: {}",
        created.describe()
    );
    let Some(id) = created.result()["id"].as_str().map(str::to_owned) else {
        return;
    };
    let secret = |answer: &Answer| {
        answer.result()["saas_app"]["client_secret"]
            .as_str()
            .map(str::to_owned)
    };
    let describe = |s: &Option<String>| match s {
        None => "absent".to_owned(),
        Some(s) if s.chars().all(|c| c == '*' || c == '•') => {
            format!("masked ({} chars)", s.len())
        }
        Some(s) => format!("present ({} chars)", s.len()),
    };
    let at_create = secret(&created);
    let read = cf.get(&format!("/access/apps/{id}")).await;
    let at_read = secret(&read);
    println!(
        "probe secrets: client_secret in the create answer: {}; in a GET: {}; the same: {}",
        describe(&at_create),
        describe(&at_read),
        at_create.is_some() && at_create == at_read
    );
    let links = read.result()["policies"].clone();
    let links = if links.is_array() { links } else { json!([]) };
    let put = cf
        .put(
            &format!("/access/apps/{id}"),
            Some(&Cf::put_body(read.result(), links)),
        )
        .await;
    let reread = cf.get(&format!("/access/apps/{id}")).await;
    let after = secret(&reread);
    println!(
        "probe secrets: PUT of what was read: {}; client_secret after it: {}; unchanged: {}",
        put.describe(),
        describe(&after),
        match (&at_read, &after) {
            (Some(a), Some(b)) => (a == b).to_string(),
            _ => "cannot tell from reads (check the app's secret in the dashboard)".to_owned(),
        }
    );
    println!("probe secrets: SCIM credentials need an identity provider; not probed");
}

// ---- The gating itself is tested, here and without an account ---------------------------

#[test]
fn the_gate_names_every_missing_variable() {
    let none = LiveEnv::from(&|_| None).unwrap_err();
    for (name, _) in REQUIRED {
        assert!(none.contains(name), "{none}");
    }
    assert!(none.contains("--ignored"), "{none}");

    let all = |k: &str| -> Option<String> {
        match k {
            "MCP_ACCESS_LIVE" => Some("1".into()),
            "CLOUDFLARE_API_TOKEN" => Some("t".into()),
            "CLOUDFLARE_ACCOUNT_ID" => Some("a".into()),
            "MCP_ACCESS_LIVE_DOMAIN" => Some(".live.example.com".into()),
            _ => None,
        }
    };
    let env = LiveEnv::from(&all).unwrap();
    assert_eq!(env.domain, "live.example.com");
    assert_eq!(env.base_url, "https://api.cloudflare.com/client/v4");
    assert!(
        !format!("{env:?}").contains("\"t\""),
        "the token is not shown"
    );

    // Opting in takes exactly `1`; a blank token counts as missing.
    let not_one = LiveEnv::from(&|k| {
        if k == "MCP_ACCESS_LIVE" {
            Some("yes".into())
        } else {
            all(k)
        }
    })
    .unwrap_err();
    assert!(
        not_one.contains("MCP_ACCESS_LIVE") && !not_one.contains("CLOUDFLARE_API_TOKEN ("),
        "{not_one}"
    );
    let blank = LiveEnv::from(&|k| {
        if k == "CLOUDFLARE_API_TOKEN" {
            Some("  ".into())
        } else {
            all(k)
        }
    })
    .unwrap_err();
    assert!(blank.contains("CLOUDFLARE_API_TOKEN"), "{blank}");
}

#[test]
fn run_with_ignored_and_no_account_a_live_test_fails_saying_why() {
    // This test binary, asked to run one live test, in an environment without the
    // variables: it must fail, not pass, and say what is missing.
    let exe = std::env::current_exe().unwrap();
    for test in [
        "live_reconcile_check_repair_drift_and_prune",
        "live_probe_what_the_real_api_does",
    ] {
        let mut cmd = std::process::Command::new(&exe);
        cmd.args([
            "--ignored",
            "--exact",
            test,
            "--nocapture",
            "--test-threads",
            "1",
        ]);
        for (name, _) in REQUIRED {
            cmd.env_remove(name);
        }
        let output = cmd.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            !output.status.success(),
            "{test} passed without an account:\n{text}"
        );
        assert!(text.contains("this live test did not run"), "{text}");
        assert!(text.contains("MCP_ACCESS_LIVE_DOMAIN"), "{text}");
        assert!(text.contains("1 failed"), "{text}");
    }
}
