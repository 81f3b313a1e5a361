//! The simulator's HTTP contract, exercised with a plain reqwest client: what a
//! Cloudflare Access API client sees, faults included.

use std::future::Future;
use std::time::{Duration, Instant};

use mcp_access::sim::{Faults, RateLimit, Seed, SimConfig, Simulator};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const TEST_TIMEOUT: Duration = Duration::from_secs(30);

// Fixed ids of the demo account.
const MCP_SERVER: &str = "0d5c8f7e-0001-4000-8000-0000000000a1";
const SUPPORT_MCP: &str = "0d5c8f7e-0002-4000-8000-0000000000a2";
const INTERNAL_API: &str = "0d5c8f7e-0004-4000-8000-0000000000a4";
const WIKI: &str = "0d5c8f7e-0005-4000-8000-0000000000a5";
const BILLING: &str = "0d5c8f7e-0006-4000-8000-0000000000a6";
const ALLOW_EMPLOYEES: &str = "f1a2b3c4-0001-4000-8000-00000000a001";
const BLOCK_CONTRACTORS: &str = "f1a2b3c4-0002-4000-8000-00000000a002";
const LEGACY_CI: &str = "f1a2b3c4-0003-4000-8000-00000000a003";

/// Runs a test body under a timeout, so a hung simulator fails instead of blocking CI.
async fn within_timeout(body: impl Future<Output = ()>) {
    tokio::time::timeout(TEST_TIMEOUT, body)
        .await
        .expect("test timed out");
}

/// A simulator plus a client that talks to it.
struct Api {
    sim: Simulator,
    client: reqwest::Client,
}

impl Api {
    async fn start(config: SimConfig) -> Api {
        Self::with_seed(config, Seed::demo()).await
    }

    async fn with_seed(config: SimConfig, seed: Seed) -> Api {
        let sim = Simulator::start(config, seed)
            .await
            .expect("simulator starts");
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Api { sim, client }
    }

    /// `{base}/accounts/{account}{path}`.
    fn url(&self, path: &str) -> String {
        format!(
            "{}/accounts/{}{path}",
            self.sim.base_url(),
            self.sim.account_id()
        )
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(self.sim.token())
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("a response");
        let status = response.status();
        (status, response.json().await.expect("a JSON body"))
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, None).await
    }

    async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::PUT, path, Some(body)).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::DELETE, path, None).await
    }
}

fn no_limits() -> SimConfig {
    SimConfig {
        rate_limit: None,
        ..SimConfig::default()
    }
}

/// Asserts a failure envelope with this status and code, and returns its message.
fn assert_error(response: &(StatusCode, Value), status: u16, code: u64) -> String {
    let (got, body) = response;
    assert_eq!(got.as_u16(), status, "{body}");
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["result"], Value::Null, "{body}");
    assert_eq!(body["errors"][0]["code"], code, "{body}");
    body["errors"][0]["message"].as_str().unwrap().to_owned()
}

fn new_policy(name: &str) -> Value {
    json!({"name": name, "decision": "allow", "include": [{"everyone": {}}]})
}

fn link_ids(app: &Value) -> Vec<(String, u64)> {
    app["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_owned(),
                p["precedence"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn auth_errors_and_unknown_routes() {
    within_timeout(async {
        let api = Api::start(no_limits()).await;
        let apps = api.url("/access/apps");

        let missing = api.client.get(&apps).send().await.unwrap();
        let missing = (missing.status(), missing.json::<Value>().await.unwrap());
        assert_eq!(
            assert_error(&missing, 400, 9106),
            "Missing X-Auth-Key, X-Auth-Email or Authorization headers"
        );

        // A malformed token: 400 / 6003 with the cause in `error_chain`.
        let malformed = api
            .client
            .get(&apps)
            .bearer_auth("not a token!")
            .send()
            .await
            .unwrap();
        let malformed = (malformed.status(), malformed.json::<Value>().await.unwrap());
        assert_eq!(
            assert_error(&malformed, 400, 6003),
            "Invalid request headers"
        );
        assert_eq!(malformed.1["errors"][0]["error_chain"][0]["code"], 6111);

        let wrong = api
            .client
            .get(&apps)
            .bearer_auth("nope")
            .send()
            .await
            .unwrap();
        assert_error(&(wrong.status(), wrong.json().await.unwrap()), 403, 10000);

        let other_account = format!(
            "{}/accounts/ffffffffffffffffffffffffffffffff/access/apps",
            api.sim.base_url()
        );
        let other = api
            .client
            .get(other_account)
            .bearer_auth(api.sim.token())
            .send()
            .await
            .unwrap();
        assert_error(&(other.status(), other.json().await.unwrap()), 403, 9109);

        assert_error(&api.get("/access/groups").await, 404, 7003);
        assert_error(
            &api.send(
                Method::PATCH,
                &format!("/access/apps/{WIKI}"),
                Some(json!({})),
            )
            .await,
            404,
            7003,
        );

        for verify in [
            format!("{}/user/tokens/verify", api.sim.base_url()),
            api.url("/tokens/verify"),
        ] {
            let response = api
                .client
                .get(verify)
                .bearer_auth(api.sim.token())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["success"], true);
            assert_eq!(body["result"]["status"], "active");
            assert!(
                body["result"]["id"]
                    .as_str()
                    .is_some_and(|id| !id.is_empty())
            );
        }
    })
    .await;
}

#[tokio::test]
async fn envelopes_and_status_codes() {
    within_timeout(async {
        let api = Api::start(no_limits()).await;

        let (status, body) = api.get(&format!("/access/apps/{WIKI}")).await;
        assert_eq!(status, 200);
        assert_eq!(body["success"], true);
        assert_eq!(body["errors"], json!([]));
        assert_eq!(body["messages"], json!([]));
        assert_eq!(body["result"]["name"], "Company wiki");

        let (status, created) = api.post("/access/policies", new_policy("fresh")).await;
        assert_eq!(status, 201, "{created}");
        let id = created["result"]["id"].as_str().unwrap().to_owned();
        assert_eq!(created["result"]["reusable"], true);
        assert_eq!(created["result"]["app_count"], 0);
        assert_eq!(created["result"]["exclude"], json!([]));
        assert_eq!(created["result"]["require"], json!([]));
        assert_eq!(created["result"]["session_duration"], "24h");
        assert_eq!(created["result"]["approval_required"], false);
        assert_eq!(created["result"]["isolation_required"], false);
        assert_eq!(created["result"]["purpose_justification_required"], false);
        assert!(created["result"]["created_at"].is_string());

        let (status, got) = api.get(&format!("/access/policies/{id}")).await;
        assert_eq!(status, 200);
        assert_eq!(got["result"], created["result"]);

        let (status, deleted) = api.delete(&format!("/access/policies/{id}")).await;
        assert_eq!(status, 202);
        assert_eq!(deleted["result"]["id"], id.as_str());
        assert_error(
            &api.get(&format!("/access/policies/{id}")).await,
            404,
            12135,
        );

        let (status, _) = api.delete(&format!("/access/apps/{WIKI}")).await;
        assert_eq!(status, 202);
        let message = assert_error(&api.get(&format!("/access/apps/{WIKI}")).await, 404, 12135);
        assert_eq!(message, "access.api.error.not_found");
        assert!(api.sim.app(WIKI).is_none());
    })
    .await;
}

#[tokio::test]
async fn pagination_caps_per_page_and_ends_with_an_empty_page() {
    within_timeout(async {
        let api = Api::start(SimConfig {
            apps_page_cap: 3,
            ..no_limits()
        })
        .await;
        let mut seen = Vec::new();
        for page in 1.. {
            let (status, body) = api
                .get(&format!("/access/apps?page={page}&per_page=5"))
                .await;
            assert_eq!(status, 200);
            let info = &body["result_info"];
            assert_eq!(info["page"], page);
            assert_eq!(info["per_page"], 3, "the cap wins over the request");
            assert_eq!(info["total_count"], 11);
            assert_eq!(info["total_pages"], 4);
            let result = body["result"].as_array().unwrap();
            assert_eq!(info["count"], result.len());
            if result.is_empty() {
                assert_eq!(page, 5, "the page past the end is empty");
                break;
            }
            assert!(result.len() <= 3);
            seen.extend(result.iter().map(|a| a["id"].as_str().unwrap().to_owned()));
        }
        let expected: Vec<String> = api
            .sim
            .apps()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(seen, expected, "every app once, in creation order");
        assert_eq!(seen[0], MCP_SERVER);

        let (_, far) = api.get("/access/apps?page=99").await;
        assert_eq!(far["result"], json!([]));

        // Policies: default per_page is 100.
        let (_, policies) = api.get("/access/policies").await;
        assert_eq!(policies["result_info"]["per_page"], 100);
        assert_eq!(policies["result"].as_array().unwrap().len(), 5);

        assert_error(&api.get("/access/apps?per_page=0").await, 400, 12130);
    })
    .await;
}

#[tokio::test]
async fn get_expands_policies_with_precedence_in_ascending_order() {
    within_timeout(async {
        let api = Api::start(no_limits()).await;
        let (_, body) = api.get(&format!("/access/apps/{INTERNAL_API}")).await;
        let policies = body["result"]["policies"].as_array().unwrap();
        assert_eq!(policies.len(), 2);
        assert_eq!(policies[0]["id"], BLOCK_CONTRACTORS);
        assert_eq!(policies[0]["precedence"], 1);
        assert_eq!(policies[0]["decision"], "deny");
        assert_eq!(policies[1]["id"], ALLOW_EMPLOYEES);
        assert_eq!(policies[1]["precedence"], 2);
        assert_eq!(policies[1]["name"], "Allow employees");
        assert_eq!(policies[1]["include"], json!([{"email_domain": {"domain": "example.com"}}]));
        let expected_count = api
            .sim
            .apps()
            .iter()
            .filter(|a| link_ids(a).iter().any(|(id, _)| id == ALLOW_EMPLOYEES))
            .count();
        assert!(expected_count > 1);
        assert_eq!(policies[1]["app_count"], expected_count);

        // A PUT with the links out of order is stored and returned sorted.
        let mut app = body["result"].clone();
        app["policies"] = json!([{"id": ALLOW_EMPLOYEES, "precedence": 5}, {"id": BLOCK_CONTRACTORS, "precedence": 2}]);
        let (status, put) = api.put(&format!("/access/apps/{INTERNAL_API}"), app).await;
        assert_eq!(status, 200, "{put}");
        assert_eq!(
            link_ids(&put["result"]),
            vec![(BLOCK_CONTRACTORS.to_owned(), 2), (ALLOW_EMPLOYEES.to_owned(), 5)]
        );
    })
    .await;
}

#[tokio::test]
async fn put_replaces_the_whole_app() {
    within_timeout(async {
        let api = Api::start(no_limits()).await;
        let before = api.sim.app(BILLING).unwrap();
        assert_eq!(before["future_setting"], json!({"enabled": true}));

        let body = json!({
            "name": "Billing",
            "type": "self_hosted",
            "domain": "billing.example.com",
            "future_setting": {"enabled": false},
            "brand_new_field": [1, 2],
            "id": "ignored", "aud": "ignored", "created_at": "ignored",
            "policies": [ALLOW_EMPLOYEES, LEGACY_CI],
        });
        let (status, put) = api.put(&format!("/access/apps/{BILLING}"), body).await;
        assert_eq!(status, 200, "{put}");
        let after = api.sim.app(BILLING).unwrap();
        assert_eq!(put["result"], after);
        assert_eq!(after["name"], "Billing");
        assert_eq!(after["future_setting"], json!({"enabled": false}));
        assert_eq!(
            after["brand_new_field"],
            json!([1, 2]),
            "an unknown field sent is kept"
        );
        for omitted in [
            "tags",
            "session_duration",
            "allowed_idps",
            "self_hosted_domains",
        ] {
            assert!(
                after.get(omitted).is_none(),
                "{omitted} was omitted, so it is gone"
            );
        }
        for read_only in ["id", "uid", "aud", "created_at"] {
            assert_eq!(
                after[read_only], before[read_only],
                "{read_only} is server-owned"
            );
        }
        assert_ne!(after["updated_at"], before["updated_at"]);
        assert_eq!(
            link_ids(&after),
            vec![(ALLOW_EMPLOYEES.to_owned(), 1), (LEGACY_CI.to_owned(), 2)],
            "bare ids take their position as precedence"
        );

        // Omitting policies detaches them all.
        let (status, _) = api
            .put(
                &format!("/access/apps/{BILLING}"),
                json!({"type": "self_hosted", "domain": "billing.example.com"}),
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(api.sim.app(BILLING).unwrap()["policies"], json!([]));
        assert_eq!(api.sim.policy(LEGACY_CI).unwrap()["app_count"], 0);
    })
    .await;
}

#[tokio::test]
async fn put_app_validation_errors() {
    within_timeout(async {
        let api = Api::start(no_limits()).await;
        let wiki = format!("/access/apps/{WIKI}");
        let before = api.sim.app(WIKI).unwrap();
        let base = json!({"name": "wiki", "type": "self_hosted", "domain": "wiki.example.com"});
        let with = |key: &str, value: Value| {
            let mut body = base.clone();
            body[key] = value;
            body
        };

        let cases: Vec<(Value, &str)> = vec![
            (json!({"name": "wiki", "domain": "wiki.example.com"}), "type is required"),
            (json!({"name": "wiki", "type": "self_hosted"}), "domain is required"),
            (with("type", json!("teleporter")), "unknown application type"),
            (with("policies", json!([{"id": ALLOW_EMPLOYEES, "precedence": 0}])), "precedence must be an integer >= 1"),
            (
                with("policies", json!([{"id": ALLOW_EMPLOYEES, "precedence": 1}, {"id": BLOCK_CONTRACTORS, "precedence": 1}])),
                "policy precedences must be unique",
            ),
            (with("policies", json!(["00000000-0000-0000-0000-000000000000"])), "not found"),
            (with("policies", json!("not-a-list")), "policies must be a list"),
        ];
        for (body, needle) in cases {
            let message = assert_error(&api.put(&wiki, body.clone()).await, 400, 12130);
            assert!(message.starts_with("access.api.error.invalid_request: "), "{message}");
            assert!(message.contains(needle), "{body}: {message}");
        }
        let response = api.request(Method::PUT, &wiki).body("{not json").send().await.unwrap();
        assert_error(&(response.status(), response.json().await.unwrap()), 400, 12130);
        assert_eq!(api.sim.app(WIKI).unwrap(), before, "a refused PUT changes nothing");

        // A Linked App Token policy only attaches to self_hosted apps.
        let support = api.sim.app(SUPPORT_MCP).unwrap();
        let body = json!({"type": "saas", "saas_app": support["saas_app"], "policies": [LEGACY_CI]});
        let message = assert_error(&api.put(&format!("/access/apps/{SUPPORT_MCP}"), body).await, 400, 12130);
        assert!(message.contains("linked_app_token"), "{message}");
        // ...and is fine on a self_hosted one.
        let (status, _) = api.put(&wiki, with("policies", json!([LEGACY_CI]))).await;
        assert_eq!(status, 200);

        let missing = "/access/apps/00000000-0000-0000-0000-000000000000";
        assert_error(&api.put(missing, base.clone()).await, 404, 12135);
        assert_error(&api.delete(missing).await, 404, 12135);
    })
    .await;
}

#[tokio::test]
async fn policy_validation() {
    within_timeout(async {
        let api = Api::start(no_limits()).await;
        let count_before = api.sim.policies().len();
        let lat = json!([{"linked_app_token": {"app_uid": MCP_SERVER}}]);
        let cases: Vec<(Value, &str)> = vec![
            (json!({"decision": "allow", "include": [{"everyone": {}}]}), "name is required"),
            (json!({"name": "x", "include": [{"everyone": {}}]}), "decision is required"),
            (json!({"name": "x", "decision": "maybe", "include": [{"everyone": {}}]}), "decision must be one of"),
            (json!({"name": "x", "decision": "allow"}), "include is required"),
            (json!({"name": "x", "decision": "allow", "include": []}), "include is required"),
            (json!({"name": "x", "decision": "allow", "include": lat}), "non_identity or bypass"),
            (json!({"name": "x", "decision": "non_identity", "include": [{"linked_app_token": {}}]}), "app_uid is required"),
            (json!({"name": "x", "decision": "allow", "include": ["everyone"]}), "must be a rule object"),
        ];
        for (body, needle) in cases {
            let message = assert_error(&api.post("/access/policies", body.clone()).await, 400, 12130);
            assert!(message.contains(needle), "{body}: {message}");
        }
        assert_eq!(api.sim.policies().len(), count_before, "nothing was created");

        let (status, _) = api
            .post("/access/policies", json!({"name": "ok", "decision": "non_identity", "include": lat}))
            .await;
        assert_eq!(status, 201);
        let (status, _) = api
            .post("/access/policies", json!({"name": "ok", "decision": "bypass", "include": lat}))
            .await;
        assert_eq!(status, 201, "names are not unique; bypass may hold the rule too");

        // PUT replaces: omitted optional fields get their defaults back.
        let path = format!("/access/policies/{ALLOW_EMPLOYEES}");
        let (_, before) = api.get(&path).await;
        let mut body = new_policy("Allow everyone");
        body["session_duration"] = json!("2h");
        body["exclude"] = json!([{"email": {"email": "x@example.com"}}]);
        let (status, put) = api.put(&path, body).await;
        assert_eq!(status, 200, "{put}");
        assert_eq!(put["result"]["session_duration"], "2h");
        let (status, put) = api.put(&path, new_policy("Allow everyone")).await;
        assert_eq!(status, 200);
        assert_eq!(put["result"]["session_duration"], "24h");
        assert_eq!(put["result"]["exclude"], json!([]));
        assert_eq!(put["result"]["created_at"], before["result"]["created_at"]);
        assert_eq!(put["result"]["app_count"], before["result"]["app_count"]);

        // Allow employees is attached to SaaS and SSH apps: it cannot become a grant.
        let grant = json!({"name": "x", "decision": "non_identity", "include": lat});
        let message = assert_error(&api.put(&path, grant).await, 400, 12130);
        assert!(message.contains("cannot use linked_app_token"), "{message}");
        assert_eq!(api.sim.policy(ALLOW_EMPLOYEES).unwrap()["name"], "Allow everyone");

        assert_error(&api.put("/access/policies/nope", new_policy("x")).await, 404, 12135);
    })
    .await;
}

#[tokio::test]
async fn deleting_a_policy_in_use_is_refused_and_app_count_follows_links() {
    within_timeout(async {
        let api = Api::start(no_limits()).await;
        assert_eq!(api.sim.policy(LEGACY_CI).unwrap()["app_count"], 1);
        let path = format!("/access/policies/{LEGACY_CI}");
        let message = assert_error(&api.delete(&path).await, 400, 12130);
        assert!(
            message.contains("policy is in use by 1 applications"),
            "{message}"
        );
        assert!(api.sim.policy(LEGACY_CI).is_some());

        // Attach it to a second app: app_count follows.
        let mut wiki = api.sim.app(WIKI).unwrap();
        wiki["policies"] =
            json!([{"id": ALLOW_EMPLOYEES, "precedence": 1}, {"id": LEGACY_CI, "precedence": 2}]);
        assert_eq!(api.put(&format!("/access/apps/{WIKI}"), wiki).await.0, 200);
        assert_eq!(api.get(&path).await.1["result"]["app_count"], 2);
        let message = assert_error(&api.delete(&path).await, 400, 12130);
        assert!(message.contains("in use by 2 applications"), "{message}");

        // Unlink everywhere, then delete.
        for app in [WIKI, BILLING] {
            let mut body = api.sim.app(app).unwrap();
            body["policies"] = json!([{"id": ALLOW_EMPLOYEES, "precedence": 1}]);
            assert_eq!(api.put(&format!("/access/apps/{app}"), body).await.0, 200);
        }
        assert_eq!(api.sim.policy(LEGACY_CI).unwrap()["app_count"], 0);
        assert_eq!(api.delete(&path).await.0, 202);
        assert!(api.sim.policy(LEGACY_CI).is_none());

        // Deleting an app lowers the counts of its policies.
        let before = api.sim.policy(BLOCK_CONTRACTORS).unwrap()["app_count"]
            .as_u64()
            .unwrap();
        assert_eq!(
            api.delete(&format!("/access/apps/{INTERNAL_API}")).await.0,
            202
        );
        assert_eq!(
            api.sim.policy(BLOCK_CONTRACTORS).unwrap()["app_count"],
            before - 1
        );
    })
    .await;
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    within_timeout(async {
        let api = Api::start(SimConfig {
            rate_limit: Some("3/60s".parse().unwrap()),
            ..SimConfig::default()
        })
        .await;
        for remaining in (0..3).rev() {
            let response = api
                .request(Method::GET, "/access/policies")
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let header = response.headers()["ratelimit"].to_str().unwrap().to_owned();
            assert!(
                header.starts_with(&format!("\"default\";r={remaining};t=")),
                "{header}"
            );
            assert_eq!(
                response.headers()["ratelimit-policy"],
                "\"default\";q=3;w=60"
            );
        }
        let response = api
            .request(Method::GET, "/access/policies")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 429);
        let retry_after: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        let body = (response.status(), response.json::<Value>().await.unwrap());
        let message = assert_error(&body, 429, 971);
        assert_eq!(
            message,
            "Please wait and consider throttling your request speed"
        );

        // A window short enough to wait out.
        api.sim.set_rate_limit(Some(RateLimit {
            requests: 1,
            window: Duration::from_millis(300),
        }));
        assert_eq!(api.get("/access/policies").await.0, 200);
        assert_eq!(api.get("/access/policies").await.0, 429);
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert_eq!(api.get("/access/policies").await.0, 200);

        api.sim.set_rate_limit(None);
        for _ in 0..5 {
            assert_eq!(api.get("/access/policies").await.0, 200);
        }
        let statuses: Vec<u16> = api.sim.journal().iter().map(|e| e.status).collect();
        assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 2);
    })
    .await;
}

#[tokio::test]
async fn error_fault_answers_5xx_without_touching_state() {
    within_timeout(async {
        let api = Api::start(no_limits()).await;
        api.sim.set_faults(Faults {
            error_rate: 1.0,
            seed: Some(1),
            ..Faults::default()
        });
        let count = api.sim.policies().len();
        let mut statuses = Vec::new();
        for _ in 0..12 {
            let response = api.post("/access/policies", new_policy("never")).await;
            let status = response.0.as_u16();
            assert!([500, 502, 503].contains(&status), "{status}");
            assert_error(&response, status, 10001);
            statuses.push(status);
        }
        assert_eq!(api.sim.policies().len(), count, "no write landed");
        assert!(statuses.contains(&500), "{statuses:?}");
        assert_eq!(
            api.sim
                .journal()
                .iter()
                .map(|e| e.status)
                .collect::<Vec<_>>(),
            statuses
        );

        api.sim.set_faults(Faults::default());
        assert_eq!(api.post("/access/policies", new_policy("now")).await.0, 201);
    })
    .await;
}

#[tokio::test]
async fn reset_fault_is_a_transport_error_and_applies_nothing() {
    within_timeout(async {
        let api = Api::start(no_limits()).await;
        api.sim.set_faults("reset=1".parse().unwrap());
        let count = api.sim.policies().len();

        let err = api
            .request(Method::GET, "/access/apps")
            .send()
            .await
            .unwrap_err();
        assert!(!err.is_status() && !err.is_timeout(), "{err:?}");
        let err = api
            .request(Method::POST, "/access/policies")
            .json(&new_policy("never"))
            .send()
            .await
            .unwrap_err();
        assert!(err.status().is_none(), "{err:?}");
        assert_eq!(api.sim.policies().len(), count);
        assert!(api.sim.journal().iter().all(|e| e.status == 0));
        assert_eq!(api.sim.journal().len(), 2);
    })
    .await;
}

#[tokio::test]
async fn lost_response_applies_the_write_but_the_client_errors() {
    within_timeout(async {
        let api = Api::start(no_limits()).await;
        api.sim.set_faults("lost=1".parse().unwrap());

        let err = api
            .request(Method::POST, "/access/policies")
            .json(&new_policy("ambiguous"))
            .send()
            .await
            .unwrap_err();
        assert!(err.status().is_none(), "{err:?}");
        let created: Vec<Value> = api
            .sim
            .policies()
            .into_iter()
            .filter(|p| p["name"] == "ambiguous")
            .collect();
        assert_eq!(
            created.len(),
            1,
            "the POST landed although its response was lost"
        );

        let mut wiki = api.sim.app(WIKI).unwrap();
        wiki["name"] = json!("Wiki (renamed)");
        assert!(
            api.request(Method::PUT, &format!("/access/apps/{WIKI}"))
                .json(&wiki)
                .send()
                .await
                .is_err()
        );
        assert_eq!(api.sim.app(WIKI).unwrap()["name"], "Wiki (renamed)");

        // Reads are answered: only writes lose their response.
        assert_eq!(api.get(&format!("/access/apps/{WIKI}")).await.0, 200);
        let statuses: Vec<(String, u16)> = api
            .sim
            .journal()
            .into_iter()
            .map(|e| (e.method, e.status))
            .collect();
        assert_eq!(
            statuses,
            vec![
                ("POST".to_owned(), 0),
                ("PUT".to_owned(), 0),
                ("GET".to_owned(), 200)
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn slow_fault_outlasts_a_short_client_timeout() {
    within_timeout(async {
        let api = Api::start(no_limits()).await;
        api.sim.set_faults("slow=1:5s".parse().unwrap());
        let started = Instant::now();
        let err = api
            .request(Method::GET, "/access/apps")
            .timeout(Duration::from_millis(300))
            .send()
            .await
            .unwrap_err();
        assert!(err.is_timeout(), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(4));

        // A slow write has been applied by the time the client gives up.
        let result = api
            .request(Method::POST, "/access/policies")
            .timeout(Duration::from_millis(300))
            .json(&new_policy("slow"))
            .send()
            .await;
        assert!(result.unwrap_err().is_timeout());
        assert!(api.sim.policies().iter().any(|p| p["name"] == "slow"));
    })
    .await;
}

#[tokio::test]
async fn latency_delays_every_response() {
    within_timeout(async {
        let api = Api::start(no_limits()).await;
        api.sim
            .set_faults("latency=200ms,jitter=50ms".parse().unwrap());
        let started = Instant::now();
        assert_eq!(api.get("/access/policies").await.0, 200);
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    })
    .await;
}

#[tokio::test]
async fn a_seed_makes_faults_reproducible() {
    within_timeout(async {
        let api = Api::start(no_limits()).await;
        let faults: Faults = "error=0.5,seed=7".parse().unwrap();
        let mut runs = Vec::new();
        for _ in 0..2 {
            api.sim.set_faults(faults.clone());
            let mut statuses = Vec::new();
            for _ in 0..20 {
                statuses.push(api.get("/access/policies").await.0.as_u16());
            }
            runs.push(statuses);
        }
        assert_eq!(runs[0], runs[1]);
        assert!(
            runs[0].contains(&200) && runs[0].iter().any(|s| *s >= 500),
            "{:?}",
            runs[0]
        );
    })
    .await;
}

#[tokio::test]
async fn journal_records_every_request() {
    within_timeout(async {
        let api = Api::start(no_limits()).await;
        api.get("/access/apps?page=2&per_page=3").await;
        api.put(
            &format!("/access/apps/{WIKI}"),
            json!({"type": "self_hosted"}),
        )
        .await;
        api.post("/access/policies", new_policy("j")).await;

        let acct = format!("/client/v4/accounts/{}", api.sim.account_id());
        let journal = api.sim.journal();
        assert_eq!(journal.len(), 3);
        assert_eq!(journal[0].method, "GET");
        assert_eq!(journal[0].path, format!("{acct}/access/apps"));
        assert_eq!(journal[0].query.as_deref(), Some("page=2&per_page=3"));
        assert_eq!(journal[0].status, 200);
        assert_eq!(journal[1].method, "PUT");
        assert_eq!(journal[1].path, format!("{acct}/access/apps/{WIKI}"));
        assert_eq!(journal[1].query, None);
        assert_eq!(journal[1].status, 400);
        assert_eq!(journal[2].status, 201);

        let writes = api.sim.writes();
        assert_eq!(
            writes.iter().map(|w| w.method.as_str()).collect::<Vec<_>>(),
            ["PUT", "POST"]
        );

        // Out-of-band edits are not requests.
        api.sim.edit_app(WIKI, |app| {
            app.insert("name".into(), json!("edited in the dashboard"));
        });
        assert_eq!(api.sim.journal().len(), 3);
        api.sim.clear_journal();
        assert!(api.sim.journal().is_empty());
    })
    .await;
}

#[tokio::test]
async fn out_of_band_edits_show_through_the_api() {
    within_timeout(async {
        let api = Api::start(no_limits()).await;
        api.sim.edit_app(WIKI, |app| {
            app.insert("name".into(), json!("Wiki 2"));
            app.insert("policies".into(), json!([{"id": BLOCK_CONTRACTORS, "precedence": 3}, {"id": ALLOW_EMPLOYEES, "precedence": 1}]));
        });
        let (_, wiki) = api.get(&format!("/access/apps/{WIKI}")).await;
        assert_eq!(wiki["result"]["name"], "Wiki 2");
        assert_eq!(
            link_ids(&wiki["result"]),
            vec![(ALLOW_EMPLOYEES.to_owned(), 1), (BLOCK_CONTRACTORS.to_owned(), 3)]
        );

        let id = api.sim.insert_policy(json!({"name": "clicked", "decision": "allow", "include": [{"everyone": {}}]}));
        let (status, body) = api.get(&format!("/access/policies/{id}")).await;
        assert_eq!(status, 200);
        assert_eq!(body["result"]["exclude"], json!([]));
        assert_eq!(body["result"]["reusable"], true);

        api.sim.edit_policy(&id, |p| {
            p.insert("name".into(), json!("renamed"));
        });
        assert_eq!(api.sim.policy(&id).unwrap()["name"], "renamed");

        let count = api.sim.policy(LEGACY_CI).unwrap()["app_count"].clone();
        let replaced = api.sim.insert_policy(json!({"id": LEGACY_CI, "name": "replaced", "decision": "allow", "include": [{"everyone": {}}]}));
        assert_eq!(replaced, LEGACY_CI);
        assert_eq!(api.sim.policy(LEGACY_CI).unwrap()["name"], "replaced");
        assert_eq!(api.sim.policy(LEGACY_CI).unwrap()["app_count"], count, "links survive a replace");

        api.sim.remove_policy(ALLOW_EMPLOYEES);
        assert!(api.sim.policy(ALLOW_EMPLOYEES).is_none());
        assert!(
            api.sim.apps().iter().all(|a| link_ids(a).iter().all(|(p, _)| p != ALLOW_EMPLOYEES)),
            "removed policies are unlinked everywhere"
        );
        assert_eq!(link_ids(&api.sim.app(WIKI).unwrap()), vec![(BLOCK_CONTRACTORS.to_owned(), 3)]);
    })
    .await;
}

#[tokio::test]
async fn fixtures_seed_the_account() {
    within_timeout(async {
        let seed = Seed::from_json(
            r#"{"policies": [{"id": "p1", "name": "p", "decision": "allow", "include": [{"everyone": {}}]}],
                "apps": [{"id": "a1", "name": "one", "type": "self_hosted", "domain": "one.example.com",
                          "policies": [{"id": "p1", "precedence": 4}]}]}"#,
        )
        .unwrap();
        let api = Api::with_seed(no_limits(), seed).await;
        let (_, body) = api.get("/access/apps").await;
        assert_eq!(body["result"][0]["uid"], "a1");
        assert_eq!(body["result"][0]["policies"][0]["precedence"], 4);
        assert_eq!(body["result"][0]["policies"][0]["app_count"], 1);

        let bad = Seed::from_json(r#"{"apps": [{"type": "saas", "policies": [{"id": "x", "precedence": 0}]}]}"#);
        assert!(bad.is_err());
    })
    .await;
}

#[tokio::test]
async fn shutdown_and_run_until_stop_the_server() {
    within_timeout(async {
        let sim = Simulator::start(no_limits(), Seed::default())
            .await
            .unwrap();
        let url = format!("{}/user/tokens/verify", sim.base_url());
        let client = reqwest::Client::new();
        assert_eq!(
            client
                .get(&url)
                .bearer_auth("sim-token")
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        // A slow request in flight does not hold shutdown up.
        sim.set_faults("slow=1:60s".parse().unwrap());
        let pending = tokio::spawn({
            let (client, url) = (client.clone(), url.clone());
            async move { client.get(url).bearer_auth("sim-token").send().await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        sim.shutdown().await;
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(pending.await.unwrap().is_err());
        assert!(
            client.get(&url).send().await.is_err(),
            "nothing listens any more"
        );

        let sim = Simulator::start(no_limits(), Seed::default())
            .await
            .unwrap();
        let url = format!("{}/user/tokens/verify", sim.base_url());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(sim.run_until(async {
            let _ = stopped.await;
        }));
        assert_eq!(
            client
                .get(&url)
                .bearer_auth("sim-token")
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        stop.send(()).unwrap();
        server.await.unwrap();
        assert!(client.get(&url).send().await.is_err());
    })
    .await;
}

#[tokio::test]
async fn a_get_then_put_round_trip_through_the_crate_types_changes_nothing() {
    use mcp_access::cloudflare::types::{App, Policy};
    within_timeout(async {
        let api = Api::start(no_limits()).await;
        for before in api.sim.apps() {
            let id = before["id"].as_str().unwrap().to_owned();
            let app = App::from_value(before.clone()).unwrap();
            let body = app.put_body(&app.policy_links());
            let (status, put) = api.put(&format!("/access/apps/{id}"), body).await;
            assert_eq!(status, 200, "{}: {put}", app.name());
            let mut after = api.sim.app(&id).unwrap();
            assert_ne!(after["updated_at"], before["updated_at"]);
            after["updated_at"] = before["updated_at"].clone();
            assert_eq!(after, before, "{} drifted", app.name());
        }
        for before in api.sim.policies() {
            let policy = Policy::from_value(before.clone()).unwrap();
            let (status, put) = api
                .put(&format!("/access/policies/{}", policy.id()), before.clone())
                .await;
            assert_eq!(status, 200, "{}: {put}", policy.name());
            let mut after = put["result"].clone();
            after["updated_at"] = before["updated_at"].clone();
            assert_eq!(after, before, "{} drifted", policy.name());
        }
    })
    .await;
}

#[tokio::test]
async fn create_app_refuses_a_second_self_hosted_app_on_a_domain() {
    within_timeout(async {
        let api = Api::start(no_limits()).await;
        let body = json!({"name": "docs", "type": "self_hosted", "domain": "docs2.example.com", "policies": [ALLOW_EMPLOYEES]});
        let (status, created) = api.post("/access/apps", body.clone()).await;
        assert_eq!(status, 201, "{created}");
        let id = created["result"]["id"].as_str().unwrap();
        assert_eq!(created["result"]["uid"], id);
        assert_eq!(created["result"]["aud"].as_str().unwrap().len(), 64);
        assert_eq!(created["result"]["policies"][0]["id"], ALLOW_EMPLOYEES);
        assert_eq!(api.sim.apps().last().unwrap()["id"], id, "new apps list last");
        let (status, again) = api.post("/access/apps", body).await;
        assert_eq!(status, 409, "{again}");
        assert_eq!(again["errors"][0]["code"], 11010);
    })
    .await;
}

#[tokio::test]
async fn concurrent_writes_under_faults_keep_the_account_consistent() {
    within_timeout(async {
        let api = std::sync::Arc::new(Api::start(no_limits()).await);
        api.sim.set_faults("error=0.2,reset=0.2,lost=0.2,seed=3".parse().unwrap());
        let mut tasks = Vec::new();
        for i in 0..24 {
            let api = std::sync::Arc::clone(&api);
            tasks.push(tokio::spawn(async move {
                let name = format!("p{i}");
                let _ = api.request(Method::POST, "/access/policies").json(&new_policy(&name)).send().await;
                let mut wiki = api.sim.app(WIKI).unwrap();
                wiki["policies"] = json!([{"id": ALLOW_EMPLOYEES, "precedence": 1}, {"id": BLOCK_CONTRACTORS, "precedence": 2 + i}]);
                let _ = api.request(Method::PUT, &format!("/access/apps/{WIKI}")).json(&wiki).send().await;
                let _ = api.request(Method::GET, "/access/apps").send().await;
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        api.sim.set_faults(Faults::default());

        let journal = api.sim.journal();
        assert_eq!(journal.len(), 72);
        let landed_posts = journal.iter().filter(|e| e.method == "POST" && e.status == 201).count();
        let created = api.sim.policies().iter().filter(|p| p["name"].as_str().unwrap().starts_with('p')).count();
        let dropped_posts = journal.iter().filter(|e| e.method == "POST" && e.status == 0).count();
        assert!(created >= landed_posts && created <= landed_posts + dropped_posts, "{created} {landed_posts} {dropped_posts}");
        assert!(journal.iter().any(|e| e.status == 0) && journal.iter().any(|e| e.status >= 500));

        // Every link points at a policy, and every app_count matches the links.
        let apps = api.sim.apps();
        for policy in api.sim.policies() {
            let id = policy["id"].as_str().unwrap();
            let users = apps.iter().filter(|a| link_ids(a).iter().any(|(p, _)| p == id)).count();
            assert_eq!(policy["app_count"], users, "{id}");
        }
        let (status, _) = api.get("/access/apps").await;
        assert_eq!(status, 200, "still serving");
    })
    .await;
}
