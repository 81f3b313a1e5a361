//! Operating the controller (issue 16): `run --mode observe` never writes, a
//! `suspend: true` server is left alone across cycles and resumes cleanly, and
//! notifications reach a local receiver in the documented schema without ever holding
//! up the loop or leaking the token or the URL's secret path. Through the library's
//! controller (short intervals) and through the binary.

// Metric values here are small whole numbers, exact in an f64.
#![allow(clippy::float_cmp)]

mod common;
#[path = "common/controller.rs"]
mod harness;

use std::time::Duration;

use harness::{
    Answer, DEMO, Receiver, Running, Scrape, eventually, managed_policies, server_policy, within,
};
use mcp_access::controller::RunMode;
use mcp_access::notify::{Delivery, Format, NotifySettings, Target};
use mcp_access::sim::{Faults, Seed, SimConfig, Simulator};
use serde_json::{Value, json};

/// The demo manifest with `support-mcp` suspended.
const SUSPENDED: &str = "
owner: platform
servers:
  - app: mcp-server-app
    downstream:
      - Internal API
      - Company wiki
  - app: { name: support-mcp }
    suspend: true
    reason: incident 4711, links edited by hand
    downstream:
      - Company wiki
      - { domain: status.internal.example.com }
";

fn event_validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schema/event.schema.json"
    ))
    .expect("schema/event.schema.json is committed");
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

fn assert_valid_event(event: &Value) {
    let validator = event_validator();
    let errors: Vec<String> = validator
        .iter_errors(event)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{event:#}");
}

/// Links a policy to an app by hand, after its other links.
fn link(sim: &Simulator, app: &str, policy_id: &str) {
    sim.edit_app(&harness::app_id(sim, app), |app| {
        let links = app.get_mut("policies").unwrap().as_array_mut().unwrap();
        let precedence = links.len() + 1;
        links.push(json!({"id": policy_id, "precedence": precedence}));
    });
}

fn policy_id(sim: &Simulator, server: &str) -> String {
    managed_policies(sim)
        .into_iter()
        .find(|p| p["name"] == server_policy(server))
        .and_then(|p| p["id"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no managed policy for {server}"))
}

/// A controller that has made the demo account match the demo manifest, stopped; its
/// simulator keeps running.
async fn converged_demo() -> Simulator {
    let run = Running::start(DEMO, |_| {}).await;
    run.wait_ready().await;
    run.stop_keep_sim().await
}

// Observe mode.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observe_makes_zero_writes_over_a_drifting_account_across_cycles() {
    within(async {
        let sim = converged_demo().await;
        sim.clear_journal();
        let receiver = Receiver::start(Answer::Status(200)).await;
        let run = Running::start_on(sim, DEMO, |o| {
            o.mode = RunMode::Observe;
            o.notify = NotifySettings {
                targets: vec![Target::parse(&receiver.url("/observe"), Format::Json).unwrap()],
                ..NotifySettings::default()
            };
        })
        .await;
        run.wait_ready().await;
        let (status, body) = run.get("/readyz").await;
        assert_eq!(status, 200);
        assert!(body.contains("mode: observe"), "{body}");
        assert!(body.contains("drift: none"), "{body}");
        // The status page and its JSON say which mode runs.
        let (status, json) = run.get("/status.json").await;
        assert_eq!(status, 200);
        let doc: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(doc["mode"], "observe", "{doc:#}");
        let (_, page) = run.get("/").await;
        assert!(
            page.contains("Mode: <strong>observe</strong> (reports drift, never writes)"),
            "{page}"
        );

        // Drift made in the dashboard: the wiki loses both links, a policy is widened.
        run.detach_managed("Company wiki");
        let support = policy_id(&run.sim, "support-mcp");
        run.sim.edit_policy(&support, |p| {
            p.insert("decision".into(), json!("bypass"));
        });
        eventually("the drift is seen", || async {
            run.metrics().await.sum("mcp_access_pending_changes") == 3.0
        })
        .await;
        run.wait_cycles(3.0).await;
        let (status, body) = run.get("/readyz").await;
        assert_eq!(status, 200, "drift does not make observe mode unready");
        assert!(
            body.contains(
                "drift: 3 change(s) pending: 0 to create, 1 to update, 2 to attach, 0 to detach, 0 to delete"
            ),
            "{body}"
        );
        assert!(body.contains("> attach to \"Company wiki\""), "{body}");
        assert!(body.contains("~ update policy"), "{body}");
        let (_, json) = run.get("/status.json").await;
        let doc: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(doc["pending"]["changes"], 3, "the drift observed: {doc:#}");

        // More drift: the set of pending changes grows, still nothing is written.
        run.detach_managed("Internal API");
        eventually("the new drift is seen", || async {
            run.metrics().await.sum("mcp_access_pending_changes") == 4.0
        })
        .await;
        run.wait_cycles(3.0).await;
        assert_eq!(run.sim.writes(), [], "observe mode wrote to the account");
        assert!(run.managed_on("Company wiki").is_empty());
        assert_eq!(run.sim.policy(&support).unwrap()["decision"], "bypass");

        let scrape = run.metrics().await;
        assert_eq!(scrape.value("mcp_access_mode{mode=\"observe\"}"), 1.0);
        assert_eq!(scrape.value("mcp_access_drift_repaired_total"), 0.0);
        for action in ["create", "update", "attach", "detach", "delete"] {
            let series = format!("mcp_access_changes_applied_total{{action=\"{action}\"}}");
            assert_eq!(scrape.value(&series), 0.0, "{series}");
        }
        assert!(scrape.value("mcp_access_reconcile_total{result=\"success\"}") >= 6.0);

        // One event per new set of pending changes, not one per cycle.
        eventually("two drift events", || async { receiver.received().len() >= 2 }).await;
        run.wait_cycles(2.0).await;
        let events: Vec<Value> = receiver.received().into_iter().map(|r| r.body).collect();
        assert_eq!(events.len(), 2, "{events:#?}");
        for event in &events {
            assert_valid_event(event);
            assert_eq!(event["kind"], "drift_detected");
            assert_eq!(event["controller"]["mode"], "observe");
            assert_eq!(event["drift"]["by"], "unknown");
            assert_eq!(event["drift"]["cause"], "account");
        }
        assert_eq!(events[0]["drift"]["counts"]["total"], 3);
        assert_eq!(events[1]["drift"]["counts"]["total"], 4);
        run.stop().await;
        receiver.stop();
    })
    .await;
}

#[test]
fn observe_through_the_binary_logs_the_drift_and_writes_nothing() {
    let sim_runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = sim_runtime
        .block_on(Simulator::start(SimConfig::default(), Seed::demo()))
        .unwrap();
    let manifest = common::manifest_file(DEMO);
    let output = common::cli(&sim)
        .args([
            "run",
            "--once",
            "--mode",
            "observe",
            "--log-format",
            "json",
            "-f",
        ])
        .arg(manifest.path())
        .output()
        .unwrap();
    let logs = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{logs}");
    assert_eq!(sim.writes(), [], "{logs}");
    let line: Value = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["fields"]["message"] == "drift found, not repaired (observe mode)")
        .unwrap_or_else(|| panic!("no drift line in {logs}"));
    assert_eq!(line["level"], "WARN");
    let fields = &line["fields"];
    assert_eq!(fields["mode"], "observe");
    assert_eq!(fields["drift"], 6);
    assert_eq!(fields["pending_create"], 2);
    assert_eq!(fields["pending_attach"], 4);
    assert!(!logs.contains(sim.token()));
}

/// The hand-made grant the demo account has for support-mcp: `--adopt` takes it over.
const HAND_MADE: &str = "f1a2b3c4-0005-4000-8000-00000000a005";

/// The demo account with a legacy (app-scoped) policy on "Company wiki", which the demo
/// manifest gives both servers: that app's changes are blocked without
/// `--convert-legacy`. Returns the legacy policy's id.
fn add_legacy_on_wiki(sim: &Simulator) -> String {
    let wiki = harness::app_id(sim, "Company wiki");
    sim.add_legacy_policy(
        &wiki,
        &json!({"name": "Wiki legacy allow", "decision": "allow",
                "include": [{"email_domain": {"domain": "example.com"}}]}),
        5,
    )
    .unwrap()
}

/// `run --once` through the binary with `args`: its exit code, stderr, and the fields
/// of its `reconcile finished` or `drift found` line (JSON logs).
fn run_once(sim: &Simulator, manifest: &std::path::Path, args: &[&str]) -> (i32, String, Value) {
    let output = common::cli(sim)
        .args(["run", "--once", "--log-format", "json"])
        .args(args)
        .arg("-f")
        .arg(manifest)
        .output()
        .unwrap();
    let logs = String::from_utf8_lossy(&output.stderr).into_owned();
    let fields = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["fields"]["result"] == "success")
        .map_or(Value::Null, |l| l["fields"].clone());
    (output.status.code().unwrap_or(-1), logs, fields)
}

#[test]
fn observe_never_adopts_or_converts_and_reports_what_heal_mode_would() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = runtime
        .block_on(Simulator::start(SimConfig::default(), Seed::demo()))
        .unwrap();
    let legacy = add_legacy_on_wiki(&sim);
    let hand_made = sim.policy(HAND_MADE).unwrap();
    let manifest = common::manifest_file(DEMO);

    // Asked to adopt and to convert, observe mode does neither: it only reports them.
    let (code, logs, fields) = run_once(
        &sim,
        manifest.path(),
        &["--mode", "observe", "--adopt", "--convert-legacy"],
    );
    assert_eq!(code, 0, "{logs}");
    assert_eq!(sim.writes(), [], "{logs}");
    assert_eq!(
        fields["message"], "drift found, not repaired (observe mode)",
        "{logs}"
    );
    assert_eq!(fields["pending_adopt"], 1, "{logs}");
    assert_eq!(fields["pending_convert"], 1, "{logs}");
    assert_eq!(fields["blocked"], 0, "{logs}");
    assert_eq!(sim.legacy_policies().len(), 1);
    assert_eq!(sim.policy(HAND_MADE).unwrap(), hand_made);

    // Without --convert-legacy the wiki's changes are blocked. Heal mode fails on them;
    // observe mode, which makes nothing, reports them and succeeds.
    let (code, logs, fields) = run_once(&sim, manifest.path(), &["--mode", "observe"]);
    assert_eq!(code, 0, "{logs}");
    assert_eq!(sim.writes(), [], "{logs}");
    assert_eq!(fields["blocked"], 2, "{logs}");
    assert!(logs.contains("app change blocked"), "{logs}");

    // The contrast: heal mode with the same flags adopts and converts.
    let (code, logs, _) = run_once(&sim, manifest.path(), &["--adopt", "--convert-legacy"]);
    assert_eq!(code, 0, "{logs}");
    assert!(sim.legacy_policies().is_empty(), "{logs}");
    assert_eq!(sim.policy(&legacy).unwrap()["name"], "Wiki legacy allow");
    assert_eq!(
        sim.policy(HAND_MADE).unwrap()["name"],
        server_policy("support-mcp")
    );
}

// Suspend.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_server_is_untouched_across_cycles_and_resumes_cleanly() {
    within(async {
        let run = Running::start(DEMO, |_| {}).await;
        run.wait_ready().await;
        assert_eq!(run.metric("mcp_access_managed_links").await, 4.0);
        run.edit_manifest(SUSPENDED);
        run.wait_cycles(2.0).await;
        run.wait_ready().await;

        // During the incident, support-mcp's policy and links are edited by hand.
        let support = policy_id(&run.sim, "support-mcp");
        run.sim.edit_policy(&support, |p| {
            p.insert("decision".into(), json!("bypass"));
        });
        run.sim.edit_app(&run.app_id("Company wiki"), |app| {
            let links = app.get_mut("policies").unwrap().as_array_mut().unwrap();
            links.retain(|l| l["id"] != support.as_str());
        });
        link(&run.sim, "Billing dashboard", &support);
        // A duplicate made by hand is left alone too.
        let duplicate = run.sim.insert_policy(json!({
            "name": server_policy("support-mcp"),
            "decision": "non_identity",
            "include": [{"linked_app_token": {"app_uid": run.app_id("support-mcp")}}],
        }));
        // mcp-server-app is not suspended: its drift is repaired as always.
        let api = run.app_id("Internal API");
        let server = policy_id(&run.sim, "mcp-server-app");
        run.sim.edit_app(&api, |app| {
            let links = app.get_mut("policies").unwrap().as_array_mut().unwrap();
            links.retain(|l| l["id"] != server.as_str());
        });
        run.sim.clear_journal();
        eventually("mcp-server-app is repaired", || async {
            run.managed_on("Internal API") == [server_policy("mcp-server-app")]
        })
        .await;
        run.wait_cycles(3.0).await;

        assert_eq!(run.sim.policy(&support).unwrap()["decision"], "bypass");
        assert!(run.sim.policy(&duplicate).is_some());
        assert_eq!(
            run.managed_on("Company wiki"),
            [server_policy("mcp-server-app")]
        );
        assert_eq!(
            run.managed_on("Billing dashboard"),
            [server_policy("support-mcp")]
        );
        assert_eq!(
            run.managed_on("Status page"),
            [server_policy("support-mcp")]
        );
        // The only write was the Internal API repair.
        let writes = run.sim.writes();
        assert!(
            writes
                .iter()
                .all(|w| w.method == "PUT" && w.path.ends_with(&api)),
            "{writes:#?}"
        );
        let scrape = run.metrics().await;
        // mcp-server-app's 2 links and support-mcp's 2 (status page, billing), held.
        assert_eq!(scrape.value("mcp_access_managed_links"), 4.0);
        assert_eq!(scrape.sum("mcp_access_pending_changes"), 0.0);

        // Resume: taking `suspend` out repairs everything, the duplicate included.
        run.edit_manifest(DEMO);
        eventually("support-mcp is repaired", || async {
            run.managed_on("Company wiki").len() == 2
                && run.managed_on("Billing dashboard").is_empty()
                && managed_policies(&run.sim).len() == 2
        })
        .await;
        run.wait_ready().await;
        assert_eq!(
            run.sim.policy(&support).unwrap()["decision"],
            "non_identity"
        );
        assert!(run.sim.policy(&duplicate).is_none());
        assert_eq!(run.metric("mcp_access_managed_links").await, 4.0);
        assert_eq!(
            run.metric("mcp_access_reconcile_total{result=\"refused\"}")
                .await,
            0.0
        );
        run.stop().await;
    })
    .await;
}

#[test]
fn every_plan_format_shows_the_suspension_and_its_reason() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = runtime.block_on(converged_demo());
    let manifest = common::manifest_file(SUSPENDED);
    let plan = |format: &str| {
        let output = common::cli(&sim)
            .args(["plan", "-o", format, "-f"])
            .arg(manifest.path())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let text = plan("text");
    assert!(
        text.contains(
            "Suspended MCP servers (their policy and links are left exactly as they are)"
        ),
        "{text}"
    );
    assert!(
        text.contains("= \"support-mcp\"")
            && text.contains("suspended: incident 4711, links edited by hand"),
        "{text}"
    );
    assert!(
        text.contains("No changes. The account matches the manifest."),
        "{text}"
    );

    let markdown = plan("markdown");
    assert!(markdown.contains("#### Suspended servers"), "{markdown}");
    assert!(
        markdown.contains("| support-mcp | ⏸️ suspended: incident 4711, links edited by hand |"),
        "{markdown}"
    );

    let json: Value = serde_json::from_str(&plan("json")).unwrap();
    let support = json["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "support-mcp")
        .unwrap();
    assert_eq!(
        support["suspended"],
        json!({"reason": "incident 4711, links edited by hand"})
    );
    assert_eq!(json["summary"]["suspended"], 1);
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schema/plan.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(validator.is_valid(&json));
    let mut bad = json.clone();
    bad["servers"][0]["suspended"] = json!({"reason": 7});
    assert!(
        !validator.is_valid(&bad),
        "the schema describes `suspended`"
    );
}

#[test]
fn suspend_and_reason_are_checked_like_every_other_field() {
    let env = |_: &str| None;
    let parse = |text: &str| mcp_access::manifest::parse_str("access.yaml", text, &env);
    let ok = parse("servers:\n  - app: a\n    suspend: true\n    reason: maintenance\n").unwrap();
    assert_eq!(
        ok.servers[0].suspended.as_ref().unwrap().reason.as_deref(),
        Some("maintenance")
    );
    // `suspend: false` and a leftover reason: an ordinary server.
    let resumed = parse("servers:\n  - app: a\n    suspend: false\n    reason: done\n").unwrap();
    assert!(resumed.servers[0].suspended.is_none());
    let bare = parse("servers:\n  - app: a\n    suspend: true\n").unwrap();
    assert_eq!(bare.servers[0].suspended.as_ref().unwrap().reason, None);

    let quoted = parse("servers:\n  - app: a\n    suspend: \"true\"\n").unwrap_err();
    assert!(
        quoted
            .to_string()
            .contains("`suspend` must be `true` or `false`")
            || format!("{quoted:?}").contains("`suspend` must be `true` or `false`"),
        "{quoted:?}"
    );
    let typo = parse("servers:\n  - app: a\n    suspended: true\n").unwrap_err();
    assert!(
        format!("{typo:?}").contains("did you mean `suspend`"),
        "{typo:?}"
    );
}

#[test]
fn a_suspension_keeps_the_safety_rails_verdict_on_the_rest_of_the_plan() {
    use mcp_access::cloudflare::types::{App, Policy};
    use mcp_access::inventory::Inventory;
    use mcp_access::manifest::{Desired, DesiredApp, DesiredServer, ServerKind, Suspension};
    use mcp_access::safety::Safety;

    // Server A has 12 links; server B has 6 and the manifest drops 4 of them.
    let a_apps: Vec<String> = (0..12).map(|i| format!("a-{i}")).collect();
    let b_apps: Vec<String> = (0..6).map(|i| format!("b-{i}")).collect();
    let app = |uid: &str, policy: Option<&str>| {
        let links: Vec<Value> = policy
            .map(|p| json!({"id": p, "precedence": 1}))
            .into_iter()
            .collect();
        App::from_value(
            json!({"id": uid, "uid": uid, "name": uid, "type": "self_hosted", "policies": links}),
        )
        .unwrap()
    };
    let policy = |id: &str, server: &str| {
        Policy::from_value(
            json!({"id": id, "name": format!("[mcp-access:platform] MCP server {server}"),
            "decision": "non_identity", "include": [{"linked_app_token": {"app_uid": server}}]}),
        )
        .unwrap()
    };
    let mut apps = vec![app("A", None), app("B", None)];
    apps.extend(a_apps.iter().map(|u| app(u, Some("pa"))));
    apps.extend(b_apps.iter().map(|u| app(u, Some("pb"))));
    let inventory = Inventory::new(apps, vec![policy("pa", "A"), policy("pb", "B")]);
    let server = |uid: &str, downstream: &[String], suspended: bool| DesiredServer {
        uid: uid.into(),
        name: uid.into(),
        kind: ServerKind::SelfHosted,
        downstream: downstream
            .iter()
            .map(|d| DesiredApp {
                uid: d.clone(),
                name: d.clone(),
                domain: None,
            })
            .collect(),
        suspended: suspended.then_some(Suspension { reason: None }),
    };
    let plan = |a_suspended: bool| {
        mcp_access::plan::diff(
            &Desired {
                owner: "platform".into(),
                servers: vec![
                    server("A", &a_apps, a_suspended),
                    server("B", &b_apps[..2], false),
                ],
            },
            &inventory,
        )
    };
    let (running, suspended) = (plan(false), plan(true));
    assert_eq!(running.managed_links, suspended.managed_links);
    assert_eq!(suspended.managed_links, 14);
    assert_eq!(suspended.summary().detach, 4);
    let safety = Safety::default();
    assert_eq!(safety.check(&running), safety.check(&suspended));
    assert!(safety.check(&suspended).is_ok());

    // Every server suspended is not an empty manifest: nothing is removed, nothing
    // refused.
    let all = mcp_access::plan::diff(
        &Desired {
            owner: "platform".into(),
            servers: vec![server("A", &[], true), server("B", &[], true)],
        },
        &inventory,
    );
    assert!(all.is_empty(), "{all:#?}");
    assert_eq!(all.managed_links, 18);
    assert!(safety.check(&all).is_ok());
}

#[test]
fn a_suspended_server_is_not_adopted_for_and_coexists_with_blocked_changes() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = runtime
        .block_on(Simulator::start(SimConfig::default(), Seed::demo()))
        .unwrap();
    let legacy = add_legacy_on_wiki(&sim);
    let hand_made = sim.policy(HAND_MADE).unwrap();
    let manifest = common::manifest_file(SUSPENDED);

    let output = common::cli(&sim)
        .args(["plan", "--adopt", "-o", "json", "-f"])
        .arg(manifest.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let plan: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(plan["summary"]["suspended"], 1, "{plan:#}");
    assert_eq!(plan["summary"]["adopt"], 0, "{plan:#}");
    // The suspended server's hand-made grant stays as it is, and the plan says why.
    let left = plan["not_adopted"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["policy_id"] == HAND_MADE)
        .unwrap_or_else(|| panic!("{plan:#}"));
    assert!(
        left["reason"]
            .as_str()
            .unwrap()
            .contains("support-mcp is suspended"),
        "{left:#}"
    );
    // mcp-server-app's wiki link is blocked by the legacy policy; the rest is planned.
    assert_eq!(plan["summary"]["blocked"], 1, "{plan:#}");
    assert_eq!(plan["summary"]["create"], 1, "{plan:#}");
    assert_eq!(plan["summary"]["attach"], 1, "{plan:#}");

    // Applied: only mcp-server-app's policy and its Internal API link are written.
    sim.clear_journal();
    let output = common::cli(&sim)
        .args(["reconcile", "--adopt", "-f"])
        .arg(manifest.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "blocked links fail it: {stderr}"
    );
    let api = harness::app_id(&sim, "Internal API");
    let writes = sim.writes();
    assert_eq!(writes.len(), 2, "{writes:#?}");
    assert!(
        writes.iter().any(|w| w.method == "POST")
            && writes
                .iter()
                .any(|w| w.method == "PUT" && w.path.ends_with(&api)),
        "{writes:#?}"
    );
    assert_eq!(sim.policy(HAND_MADE).unwrap(), hand_made);
    assert_eq!(sim.legacy_policies().len(), 1);

    // Resumed, with both flags: the grant is adopted, the legacy policy converted.
    let demo = common::manifest_file(DEMO);
    let output = common::cli(&sim)
        .args(["reconcile", "--adopt", "--convert-legacy", "-f"])
        .arg(demo.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        sim.policy(HAND_MADE).unwrap()["name"],
        server_policy("support-mcp")
    );
    assert!(sim.legacy_policies().is_empty());
    assert!(sim.policy(&legacy).is_some());
}

// Notifications.

fn notify_to(receiver: &Receiver, after: u32) -> NotifySettings {
    NotifySettings {
        targets: vec![
            Target::parse(&receiver.url("/json/T0/secret-json"), Format::Json).unwrap(),
            Target::parse(&receiver.url("/slack/T0/secret-slack"), Format::Slack).unwrap(),
        ],
        after,
        delivery: Delivery {
            backoff: Duration::from_millis(50),
            ..Delivery::default()
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_failures_and_recovery_reach_a_local_receiver_in_both_formats() {
    within(async {
        let receiver = Receiver::start(Answer::Status(200)).await;
        let run = Running::start(DEMO, |o| {
            o.notify = notify_to(&receiver, 2);
            o.interval = Duration::from_millis(300);
        })
        .await;
        run.wait_ready().await;
        // Drift by hand: repaired, and said so.
        run.detach_managed("Company wiki");
        eventually("the drift event", || async {
            receiver
                .received()
                .iter()
                .any(|r| r.path.starts_with("/json") && r.body["drift"]["cause"] == "account")
        })
        .await;
        // The API goes down: one `reconcile_failing` at the second failure.
        run.sim.set_faults(Faults {
            error_rate: 1.0,
            ..Faults::default()
        });
        eventually("failures pile up", || async {
            run.metric("mcp_access_consecutive_failures").await >= 4.0
        })
        .await;
        run.sim.set_faults(Faults::default());
        run.wait_ready().await;
        // Each target has its own queue: wait for the recovery to reach both.
        eventually("the recovery event, in both formats", || async {
            let deliveries = receiver.received();
            let slack = deliveries
                .iter()
                .filter(|r| r.path.starts_with("/slack"))
                .any(|r| {
                    r.body["text"]
                        .as_str()
                        .unwrap_or_default()
                        .contains("recovered")
                });
            let json = deliveries
                .iter()
                .any(|r| r.path.starts_with("/json") && r.body["kind"] == "recovered");
            slack && json
        })
        .await;

        let deliveries = receiver.received();
        let json: Vec<&Value> = deliveries
            .iter()
            .filter(|r| r.path == "/json/T0/secret-json")
            .map(|r| &r.body)
            .collect();
        let kinds: Vec<&str> = json.iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "drift_repaired",
                "drift_repaired",
                "reconcile_failing",
                "recovered"
            ],
            "{json:#?}"
        );
        for event in &json {
            assert_valid_event(event);
            assert_eq!(event["controller"]["owner"], "platform");
            assert_eq!(event["controller"]["mode"], "heal");
        }
        // The first reconcile made the demo account match: cause unknown.
        let first = &json[0]["drift"];
        assert_eq!(first["cause"], "unknown");
        assert_eq!(first["counts"]["create"], 2);
        let drift = &json[1]["drift"];
        assert_eq!(drift["cause"], "account");
        assert_eq!(drift["by"], "unknown");
        assert_eq!(drift["counts"]["attach"], 2);
        assert_eq!(drift["changes"][0]["kind"], "attach");
        assert_eq!(drift["changes"][0]["app"]["name"], "Company wiki");
        let failure = &json[2]["failure"];
        assert_eq!(failure["result"], "api_error");
        assert_eq!(failure["consecutive_failures"], 2);
        assert!(json[3]["recovery"]["failed_reconciles"].as_u64().unwrap() >= 4);

        let slack: Vec<&Value> = deliveries
            .iter()
            .filter(|r| r.path == "/slack/T0/secret-slack")
            .map(|r| &r.body)
            .collect();
        assert_eq!(slack.len(), 4);
        check_slack(&slack);
        for r in &deliveries {
            assert_eq!(r.content_type, "application/json");
            assert!(!r.body.to_string().contains(run.sim.token()));
        }
        let scrape = run.metrics().await;
        assert_eq!(
            scrape.value("mcp_access_notifications_total{result=\"delivered\"}"),
            8.0
        );
        assert_eq!(scrape.value("mcp_access_drift_repaired_total"), 1.0);
        run.stop().await;
        receiver.stop();
    })
    .await;
}

/// Slack incoming-webhook messages: a non-empty `text`, only section and context blocks,
/// each under Slack's 3,000-character limit; the drift message lists the change.
fn check_slack(slack: &[&Value]) {
    for message in slack {
        assert!(!message["text"].as_str().unwrap().is_empty());
        let blocks = message["blocks"].as_array().unwrap();
        for block in blocks {
            assert!(["section", "context"].contains(&block["type"].as_str().unwrap()));
            let text = block["text"]["text"]
                .as_str()
                .or_else(|| block["elements"][0]["text"].as_str())
                .unwrap();
            assert!(text.chars().count() <= 3000);
        }
    }
    let drift = slack[1]["blocks"][1]["text"]["text"].as_str().unwrap();
    assert!(
        drift.contains("attach `mcp-server-app` → `Company wiki`"),
        "{drift}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_or_hanging_receiver_never_stalls_the_loop_or_the_stop() {
    within(async {
        let hanging = Receiver::start(Answer::Hang).await;
        // A port nothing listens on: connections are refused.
        let dead = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap()
        };
        let run = Running::start(DEMO, |o| {
            o.interval = Duration::from_millis(100);
            o.notify = NotifySettings {
                targets: vec![
                    Target::parse(&hanging.url("/hang"), Format::Json).unwrap(),
                    Target::parse(&format!("http://{dead}/dead"), Format::Slack).unwrap(),
                ],
                after: 1,
                delivery: Delivery {
                    timeout: Duration::from_secs(30),
                    attempts: 10,
                    backoff: Duration::from_secs(1),
                    max_backoff: Duration::from_secs(30),
                    queue: 2,
                },
            };
        })
        .await;
        run.wait_ready().await;
        // Drift on every cycle: an event each time, far more than the receivers take.
        let started = tokio::time::Instant::now();
        let mut repaired = 0.0;
        while repaired < 10.0 {
            run.detach_managed("Company wiki");
            eventually("the repair", || async {
                run.managed_on("Company wiki").len() == 2
            })
            .await;
            repaired = run.metric("mcp_access_drift_repaired_total").await;
        }
        // A loop waiting on the hanging receiver would take 30 s per event.
        assert!(
            started.elapsed() < Duration::from_secs(25),
            "{:?}",
            started.elapsed()
        );
        let scrape: Scrape = run.metrics().await;
        assert!(scrape.value("mcp_access_notifications_total{result=\"dropped\"}") >= 10.0);
        assert!(hanging.attempts() >= 1);
        assert!(hanging.received().is_empty());
        // The stop waits for the notifications a few seconds at most, not 30.
        let stopping = tokio::time::Instant::now();
        run.stop().await;
        assert!(
            stopping.elapsed() < Duration::from_secs(15),
            "{:?}",
            stopping.elapsed()
        );
        hanging.stop();
    })
    .await;
}

#[test]
fn the_token_and_the_url_path_never_reach_the_logs_or_the_receiver() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = runtime
        .block_on(Simulator::start(SimConfig::default(), Seed::demo()))
        .unwrap();
    let receiver = runtime.block_on(Receiver::start(Answer::Status(200)));
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    // An app named by the token: the manifest error quotes it.
    let manifest = common::manifest_file("servers:\n  - app: ${CLOUDFLARE_API_TOKEN}\n");
    let output = common::cli(&sim)
        .args(["run", "--once", "-vv", "--notify-after", "1", "-f"])
        .arg(manifest.path())
        .args(["--notify", &receiver.url("/hooks/T0/B0/secret-path-1")])
        .args(["--notify", &format!("http://{dead}/hooks/secret-path-2")])
        .output()
        .unwrap();
    let logs = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{logs}");
    assert!(!logs.contains("secret-path"), "{logs}");
    assert!(!logs.contains(sim.token()), "{logs}");
    assert!(logs.contains(&format!("http://{dead}/…")), "{logs}");
    assert!(logs.contains("notification not delivered"), "{logs}");
    let deliveries = receiver.received();
    assert_eq!(deliveries.len(), 1, "{deliveries:#?}");
    let event = &deliveries[0].body;
    assert_valid_event(event);
    assert_eq!(event["kind"], "reconcile_failing");
    assert_eq!(event["failure"]["result"], "manifest_error");
    let error = event["failure"]["error"].as_str().unwrap();
    assert!(
        !error.contains(sim.token()) && error.contains("[redacted]"),
        "{error}"
    );
}

#[test]
fn the_event_schema_shipped_is_the_generated_one() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/event.schema.json");
    let generated =
        serde_json::to_string_pretty(&mcp_access::notify::event::schema()).unwrap() + "\n";
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let shipped = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        shipped == generated,
        "schema/event.schema.json is out of date: run `UPDATE_SCHEMA=1 cargo test --test operating`"
    );
}
