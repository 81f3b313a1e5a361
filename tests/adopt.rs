//! `--adopt`: which hand-made grants a plan takes over and how (pure diff), how the
//! plan shows it (text, JSON against the schema, Markdown), what the safety rails make
//! of it, and through the binary against the simulator.

mod common;

use std::fmt::Write as _;
use std::time::Duration;

use common::{cli, effective_grants, manifest_file};
use mcp_access::cloudflare::types::{App, Policy};
use mcp_access::inventory::Inventory;
use mcp_access::manifest;
use mcp_access::plan::json::{self, PlanDocument};
use mcp_access::plan::text::{self, Palette};
use mcp_access::plan::{self, Plan, PolicyRef, markdown};
use mcp_access::safety::{Safety, SyncPolicy};
use mcp_access::sim::{Seed, SimConfig, Simulator};
use serde_json::{Value, json};

fn app(uid: &str, name: &str, kind: &str, policies: &Value) -> App {
    let mut raw = json!({"id": uid, "uid": uid, "name": name, "type": kind,
                         "domain": format!("{uid}.example.com"), "policies": policies});
    if kind == "saas" {
        raw["saas_app"] = json!({"auth_type": "oidc"});
    }
    App::from_value(raw).unwrap()
}

fn lat(uid: &str) -> Value {
    json!({"linked_app_token": {"app_uid": uid}})
}

fn policy(id: &str, name: &str, created: &str, body: &Value) -> Policy {
    let mut raw = json!({"id": id, "name": name, "created_at": created,
                         "decision": "non_identity", "session_duration": "30m"});
    raw.as_object_mut()
        .unwrap()
        .extend(body.as_object().unwrap().clone());
    Policy::from_value(raw).unwrap()
}

const MANIFEST: &str = "owner: platform
servers:
  - app: mcp-a
    downstream: [API, Wiki, Status]
  - app: mcp-b
    downstream: [Wiki]
";

/// Every case `--adopt` meets, on one account:
/// - mcp-a: two plain hand-made grants (`h1` older, on API; `h2` on Wiki and Status);
/// - mcp-b: our managed `m-b` on Wiki, and an older hand-made `hb` on Wiki;
/// - grants naming a manifest server that cannot be adopted, one per reason;
/// - a plain grant of a server the manifest does not name (`y-c`): none of our business.
fn account() -> Inventory {
    let legacy = json!({"id": "legacy", "name": "Old app rule", "decision": "non_identity",
                        "include": [lat("srv-a")], "precedence": 3});
    Inventory::new(
        vec![
            app("srv-a", "mcp-a", "self_hosted", &json!([])),
            app("srv-b", "mcp-b", "saas", &json!([])),
            app("srv-c", "mcp-c", "self_hosted", &json!([])),
            app(
                "api",
                "API",
                "self_hosted",
                &json!(["h1", "x-excl", "x-wide"]),
            ),
            app(
                "wiki",
                "Wiki",
                "self_hosted",
                &json!(["h2", "m-b", "hb", "x-two", "x-bypass"]),
            ),
            app("status", "Status", "self_hosted", &json!(["h2", "x-other"])),
            app(
                "billing",
                "Billing",
                "self_hosted",
                &json!(["x-wide", "y-c", legacy]),
            ),
        ],
        vec![
            policy(
                "h1",
                "Allow requests from MCP server",
                "2024-01-01T00:00:00Z",
                &json!({"include": [lat("srv-a")]}),
            ),
            policy(
                "h2",
                "mcp-a (copy)",
                "2024-06-01T00:00:00Z",
                &json!({"include": [lat("srv-a")], "exclude": []}),
            ),
            policy(
                "m-b",
                "[mcp-access:platform] MCP server mcp-b",
                "2025-01-01T00:00:00Z",
                &json!({"include": [lat("srv-b")]}),
            ),
            policy(
                "hb",
                "Hand-made b",
                "2024-02-01T00:00:00Z",
                &json!({"include": [lat("srv-b")]}),
            ),
            policy(
                "x-excl",
                "Staff only",
                "2023-01-01T00:00:00Z",
                &json!({"include": [lat("srv-a")], "exclude": [{"everyone": {}}]}),
            ),
            policy(
                "x-two",
                "Two servers",
                "2023-01-01T00:00:00Z",
                &json!({"include": [lat("srv-a"), lat("srv-b")]}),
            ),
            policy(
                "x-other",
                "[mcp-access:security] MCP server mcp-a",
                "2023-01-01T00:00:00Z",
                &json!({"include": [lat("srv-a")]}),
            ),
            policy(
                "x-wide",
                "Also billing",
                "2023-01-01T00:00:00Z",
                &json!({"include": [lat("srv-a")]}),
            ),
            policy(
                "x-bypass",
                "Open door",
                "2023-01-01T00:00:00Z",
                &json!({"decision": "bypass", "include": [lat("srv-b")]}),
            ),
            policy(
                "y-c",
                "Not ours to judge",
                "2023-01-01T00:00:00Z",
                &json!({"include": [lat("srv-c")]}),
            ),
        ],
    )
}

fn adopting_plan() -> Plan {
    let inventory = account();
    let m = manifest::parse_str("m.yaml", MANIFEST, &|_| None).unwrap();
    let desired = manifest::resolve(&m, "platform", &inventory).unwrap();
    plan::diff_adopting(&desired, &inventory)
}

/// An app change: (app, policies attached, (policy detached, where its link moves)).
type Change<'a> = (&'a str, Vec<String>, Vec<(String, Option<String>)>);

#[test]
fn the_oldest_plain_grant_is_renamed_and_the_others_merged_into_it() {
    let plan = adopting_plan();
    let adopted: Vec<(&str, &str, &str)> = plan
        .adoptions
        .iter()
        .map(|a| {
            (
                a.policy_id.as_str(),
                a.server.name.as_str(),
                a.after.name.as_str(),
            )
        })
        .collect();
    assert_eq!(
        adopted,
        [
            ("h1", "mcp-a", "[mcp-access:platform] MCP server mcp-a"),
            ("hb", "mcp-b", "[mcp-access:platform] MCP server mcp-b")
        ]
    );
    for a in &plan.adoptions {
        // Only the name changes.
        assert_eq!(
            plan::PolicyBody {
                name: a.after.name.clone(),
                ..a.before.clone()
            },
            a.after
        );
    }
    assert!(plan.creates.is_empty() && plan.updates.is_empty());

    // Wiki and Status get h1 and lose h2 in the same PUT; Wiki also loses our younger
    // m-b, whose link moves onto hb. API already has h1; Billing is not touched.
    let changes: Vec<Change<'_>> = plan
        .app_changes
        .iter()
        .map(|c| {
            (
                c.app.name.as_str(),
                c.attach
                    .iter()
                    .map(|a| match &a.policy {
                        PolicyRef::Existing { id } => id.clone(),
                        PolicyRef::New { server_uid } => format!("new:{server_uid}"),
                    })
                    .collect(),
                c.detach
                    .iter()
                    .map(|d| (d.policy_id.clone(), d.moved_to.clone()))
                    .collect(),
            )
        })
        .collect();
    let some = |s: &str| Some(s.to_owned());
    assert_eq!(
        changes,
        [
            (
                "Status",
                vec!["h1".to_owned()],
                vec![("h2".to_owned(), some("h1"))]
            ),
            (
                "Wiki",
                vec!["h1".to_owned()],
                vec![
                    ("h2".to_owned(), some("h1")),
                    ("m-b".to_owned(), some("hb"))
                ]
            ),
        ]
    );
    assert_eq!(plan.removals(), 0, "every detach moves a link");
    let deletes: Vec<(&str, &str)> = plan
        .deletes
        .iter()
        .map(|d| (d.policy_id.as_str(), d.reason.as_str()))
        .collect();
    assert_eq!(
        deletes,
        [
            ("m-b", "duplicate of managed policy hb"),
            ("h2", "hand-made grant merged into managed policy h1")
        ]
    );
    // Taken over: no longer reported as unmanaged.
    let unmanaged: std::collections::BTreeSet<&str> = plan
        .unmanaged
        .iter()
        .map(|g| g.policy_id.as_str())
        .collect();
    assert!(!unmanaged.contains("h1") && !unmanaged.contains("h2") && !unmanaged.contains("hb"));
    assert!(unmanaged.contains("y-c") && unmanaged.contains("x-wide"));
}

#[test]
fn grants_that_cannot_be_adopted_are_listed_with_why_and_never_written() {
    let plan = adopting_plan();
    let left: Vec<(&str, Vec<&str>, &str)> = plan
        .not_adopted
        .iter()
        .map(|n| {
            (
                n.policy_id.as_str(),
                n.servers.iter().map(|s| s.name.as_str()).collect(),
                n.reason.as_str(),
            )
        })
        .collect();
    assert_eq!(
        left,
        [
            (
                "x-wide",
                vec!["mcp-a"],
                "also attached to \"Billing\", not a downstream app of mcp-a in the manifest"
            ),
            (
                "legacy",
                vec!["mcp-a"],
                "an app-scoped (legacy) policy on \"Billing\""
            ),
            (
                "x-bypass",
                vec!["mcp-b"],
                "decision `bypass`, not `non_identity`"
            ),
            ("x-excl", vec!["mcp-a"], "has exclude rules"),
            ("x-two", vec!["mcp-a", "mcp-b"], "names 2 MCP servers"),
            (
                "x-other",
                vec!["mcp-a"],
                "managed by mcp-access owner \"security\""
            ),
        ]
    );
    // None of them, nor the other server's grant, is in any write of the plan.
    let written = written_ids(&plan);
    for id in [
        "x-wide", "legacy", "x-bypass", "x-excl", "x-two", "x-other", "y-c",
    ] {
        assert!(!written.contains(id), "{id} is written: {written:?}");
    }
}

/// Every policy id a plan writes to (adopts, updates, links, unlinks or deletes).
fn written_ids(plan: &Plan) -> std::collections::BTreeSet<String> {
    let mut ids: std::collections::BTreeSet<String> = plan
        .adoptions
        .iter()
        .map(|a| a.policy_id.clone())
        .chain(plan.updates.iter().map(|u| u.policy_id.clone()))
        .chain(plan.deletes.iter().map(|d| d.policy_id.clone()))
        .collect();
    for change in &plan.app_changes {
        ids.extend(change.detach.iter().map(|d| d.policy_id.clone()));
        ids.extend(change.attach.iter().filter_map(|a| match &a.policy {
            PolicyRef::Existing { id } => Some(id.clone()),
            PolicyRef::New { .. } => None,
        }));
    }
    ids
}

#[test]
fn without_adopt_hand_made_grants_are_only_reported() {
    let inventory = account();
    let m = manifest::parse_str("m.yaml", MANIFEST, &|_| None).unwrap();
    let desired = manifest::resolve(&m, "platform", &inventory).unwrap();
    let plan = plan::diff(&desired, &inventory);
    assert!(plan.adoptions.is_empty() && plan.not_adopted.is_empty());
    assert_eq!(
        plan.creates.len(),
        1,
        "mcp-a gets a policy next to the hand-made ones"
    );
    let written = written_ids(&plan);
    assert!(
        !written.contains("h1") && !written.contains("hb"),
        "{written:?}"
    );
}

#[test]
fn the_plan_formats_show_adoption_as_its_own_action() {
    let plan = adopting_plan();
    let mut out = Vec::new();
    text::render(&plan, Palette::plain(), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    insta::assert_snapshot!("adopt_text", text);
    assert!(text.contains(
        "  = adopt policy \"Allow requests from MCP server\" (h1) for server mcp-a (renamed \"[mcp-access:platform] MCP server mcp-a\"; nothing else changes)\n"
    ));
    assert!(text.contains(
        "Plan: 0 to create, 0 to update, 2 to attach, 3 to detach, 2 to delete, 2 to adopt.\n"
    ));

    let md = markdown::render_to_string(&plan, &[], markdown::COMMENT_LIMIT);
    insta::assert_snapshot!("adopt_markdown", md);
    assert!(md.contains(
        "| mcp-a | — | = adopt policy \"Allow requests from MCP server\" (h1) for server mcp-a |"
    ));
    assert!(md.contains("#### Not adopted"));

    let doc = PlanDocument::new(&plan, "fp", "digest");
    let value = serde_json::to_value(&doc).unwrap();
    assert_eq!(value["actions"][0]["kind"], "adopt");
    assert_eq!(
        value["actions"][0]["policy_name"],
        "Allow requests from MCP server"
    );
    assert_eq!(value["summary"]["adopt"], 2);
    assert_eq!(value["not_adopted"].as_array().unwrap().len(), 6);
    let moved: Vec<&Value> = value["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "detach")
        .map(|a| &a["moved_to"])
        .collect();
    assert_eq!(moved, [&json!("h1"), &json!("h1"), &json!("hb")]);
    // The committed schema describes it, and a saved plan reads back the same.
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schema/plan.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let back: PlanDocument = serde_json::from_value(value).unwrap();
    assert_eq!(back.to_plan(), plan);
    let _ = json::schema();
}

// Safety rails.

/// One server whose `links` apps each link a younger hand-made copy of its grant (and
/// the oldest copy links none): adopting moves every link.
fn moving_plan(links: usize, drop: usize) -> Plan {
    let mut apps = vec![app("srv", "mcp", "self_hosted", &json!([]))];
    let mut policies = vec![policy(
        "keeper",
        "Allow requests from MCP server",
        "2024-01-01T00:00:00Z",
        &json!({"include": [lat("srv")]}),
    )];
    let mut yaml = "owner: platform\nservers:\n  - app: mcp\n    downstream:\n".to_owned();
    for i in 0..links {
        let id = format!("copy-{i}");
        policies.push(policy(
            &id,
            "MCP copy",
            "2024-06-01T00:00:00Z",
            &json!({"include": [lat("srv")]}),
        ));
        apps.push(app(
            &format!("app-{i}"),
            &format!("app-{i}"),
            "self_hosted",
            &json!([id]),
        ));
    }
    // Our own managed policy, linked to `drop` apps the manifest no longer lists.
    policies.push(policy(
        "ours",
        "[mcp-access:platform] MCP server mcp",
        "2025-01-01T00:00:00Z",
        &json!({"include": [lat("srv")]}),
    ));
    for i in 0..links + drop {
        if i < links {
            let _ = writeln!(yaml, "      - app-{i}");
        } else {
            apps.push(app(
                &format!("gone-{i}"),
                &format!("gone-{i}"),
                "self_hosted",
                &json!(["ours"]),
            ));
        }
    }
    let inventory = Inventory::new(apps, policies);
    let m = manifest::parse_str("m.yaml", &yaml, &|_| None).unwrap();
    let desired = manifest::resolve(&m, "platform", &inventory).unwrap();
    plan::diff_adopting(&desired, &inventory)
}

#[test]
fn moving_links_is_not_a_removal_for_max_delete_percent() {
    let plan = moving_plan(20, 0);
    assert_eq!(plan.summary().detach, 20);
    assert_eq!(plan.removals(), 0);
    assert!(
        Safety::default().check(&plan).is_ok(),
        "{:?}",
        Safety::default().check(&plan)
    );

    // Real removals still count: the 12 links of our policy the manifest dropped.
    let plan = moving_plan(20, 12);
    assert_eq!(plan.removals(), 12);
    let why = Safety::default().check(&plan).unwrap_err();
    assert!(why.contains("detaches 12 of"), "{why}");
}

#[test]
fn upsert_only_still_adopts_but_removes_nothing() {
    let safety = Safety {
        policy: SyncPolicy::UpsertOnly,
        ..Safety::default()
    };
    let plan = safety.filter(adopting_plan());
    assert_eq!(plan.adoptions.len(), 2);
    assert!(plan.deletes.is_empty());
    assert!(plan.app_changes.iter().all(|c| c.detach.is_empty()));
    assert_eq!(plan.summary().attach, 2);
}

// Through the binary, against the demo account (its hand-made grant lets support-mcp
// into the status page).

const DEMO: &str = include_str!("../examples/demo.yaml");
const HAND_MADE: &str = "f1a2b3c4-0005-4000-8000-00000000a005";

async fn demo_sim() -> Simulator {
    Simulator::start(SimConfig::default(), Seed::demo())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_and_reconcile_adopt_through_the_binary_and_the_manifest_can_ask_for_it() {
    tokio::time::timeout(Duration::from_secs(120), async {
        let sim = demo_sim().await;
        let file = manifest_file(DEMO);
        let out = cli(&sim)
            .args(["plan", "--adopt", "-f"])
            .arg(file.path())
            .assert()
            .success();
        let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
        assert!(text.contains(&format!(
            "  = adopt policy \"Allow requests from MCP server\" ({HAND_MADE}) for server support-mcp"
        )), "{text}");
        assert!(text.contains("Plan: 1 to create, 0 to update, 3 to attach, 0 to detach, 0 to delete, 1 to adopt."), "{text}");

        // `adopt: true` in the manifest is the same as the flag.
        let with_key = manifest_file(&DEMO.replace("owner: platform", "owner: platform\nadopt: true"));
        let out = cli(&sim)
            .args(["plan", "-o", "markdown", "-f"])
            .arg(with_key.path())
            .assert()
            .success();
        let md = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
        assert!(md.contains(&format!(
            "= adopt policy \"Allow requests from MCP server\" ({HAND_MADE}) for server support-mcp"
        )), "{md}");

        // Without it, the hand-made grant is only reported.
        let out = cli(&sim).args(["plan", "-f"]).arg(file.path()).assert().success();
        let plain = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
        assert!(!plain.contains("adopt"), "{plain}");
        assert!(plain.contains("Plan: 2 to create"), "{plain}");

        let before = effective_grants(&sim);
        let hand_made_before = sim.policy(HAND_MADE).unwrap();
        cli(&sim)
            .args(["reconcile", "--adopt", "-f"])
            .arg(file.path())
            .assert()
            .success();
        let after = effective_grants(&sim);
        assert!(after.is_superset(&before), "access only grows");
        let adopted = sim.policy(HAND_MADE).unwrap();
        assert_eq!(adopted["name"], "[mcp-access:platform] MCP server support-mcp");
        // Every other field kept: the session duration someone set by hand, the rules.
        for key in ["session_duration", "decision", "include", "created_at"] {
            assert_eq!(adopted[key], hand_made_before[key], "{key}");
        }
        // One managed policy per server: the adopted one serves support-mcp.
        let managed: Vec<Value> = sim
            .policies()
            .into_iter()
            .filter(|p| p["name"].as_str().unwrap().starts_with("[mcp-access:platform]"))
            .collect();
        assert_eq!(managed.len(), 2);
        cli(&sim).args(["plan", "--exit-code", "-f"]).arg(file.path()).assert().code(0);
        sim.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_adopting_plan_applies_and_refuses_when_the_grant_changed_since() {
    tokio::time::timeout(Duration::from_secs(120), async {
        let sim = demo_sim().await;
        let file = manifest_file(DEMO);
        let dir = tempfile::tempdir().unwrap();
        let saved = dir.path().join("plan.json");
        cli(&sim)
            .args(["plan", "--adopt", "--out"])
            .arg(&saved)
            .arg("-f")
            .arg(file.path())
            .assert()
            .success();
        cli(&sim)
            .args(["apply", "--adopt"])
            .arg(&saved)
            .assert()
            .code(1)
            .stderr(predicates::str::contains("--adopt"));

        // Unchanged account: the saved plan applies exactly, adoption included.
        let fresh = demo_sim().await;
        let saved_fresh = dir.path().join("fresh.json");
        cli(&fresh)
            .args(["plan", "--adopt", "--out"])
            .arg(&saved_fresh)
            .arg("-f")
            .arg(file.path())
            .assert()
            .success();
        let out = cli(&fresh)
            .arg("apply")
            .arg(&saved_fresh)
            .assert()
            .success();
        let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
        assert!(
            text.contains(&format!(
                "done: adopt policy \"Allow requests from MCP server\" ({HAND_MADE})"
            )),
            "{text}"
        );
        assert_eq!(
            fresh.policy(HAND_MADE).unwrap()["name"],
            "[mcp-access:platform] MCP server support-mcp"
        );
        fresh.shutdown().await;

        // Someone narrows the grant by hand after the review: it is no longer the
        // grant that was reviewed, so apply (stale) and reconcile (not adoptable) both
        // leave it alone.
        sim.edit_policy(HAND_MADE, |p| {
            p.insert("exclude".into(), json!([{"ip": {"ip": "10.0.0.0/8"}}]));
        });
        let edited = sim.policy(HAND_MADE).unwrap();
        cli(&sim).arg("apply").arg(&saved).assert().code(1);
        assert!(sim.writes().is_empty(), "{:?}", sim.writes());
        let out = cli(&sim)
            .args(["reconcile", "--adopt", "-f"])
            .arg(file.path())
            .assert()
            .success();
        let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
        assert!(text.contains("Not adopted"), "{text}");
        assert!(text.contains("has exclude rules"), "{text}");
        assert_eq!(sim.policy(HAND_MADE).unwrap(), edited, "never written");
        let path = format!("/access/policies/{HAND_MADE}");
        assert!(
            !sim.writes().iter().any(|w| w.path.ends_with(&path)),
            "{:?}",
            sim.writes()
        );
        sim.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_checks_the_grant_again_right_before_adopting_it() {
    tokio::time::timeout(Duration::from_secs(120), async {
        // The plan is made, then the grant is edited before the apply reads it: the
        // library's apply refuses the rename and skips the app writes that need it.
        let sim = demo_sim().await;
        let client =
            mcp_access::cloudflare::Client::new(mcp_access::cloudflare::ClientConfig::new(
                sim.base_url(),
                sim.account_id(),
                secrecy::SecretString::from(sim.token().to_owned()),
            ))
            .unwrap();
        let mut m = manifest::parse_str("demo.yaml", DEMO, &|_| None).unwrap();
        m.adopt = true;
        let (_, plan) = mcp_access::reconcile::plan_once(&client, &m, "platform")
            .await
            .unwrap();
        assert_eq!(plan.adoptions.len(), 1);
        sim.edit_policy(HAND_MADE, |p| {
            p.insert(
                "require".into(),
                json!([{"email_domain": {"domain": "example.com"}}]),
            );
        });
        let report =
            mcp_access::apply::apply(&client, &plan, &tokio_util::sync::CancellationToken::new())
                .await;
        assert!(
            report
                .not_done
                .iter()
                .any(|n| n.what.contains(HAND_MADE) && n.why.contains("changed since the plan")),
            "{report}"
        );
        assert!(
            !sim.writes()
                .iter()
                .any(|w| w.method == "PUT" && w.path.ends_with(HAND_MADE)),
            "{:?}",
            sim.writes()
        );
        // The wiki would have linked it under its hand-made name: that write is skipped.
        let wiki = sim.app("0d5c8f7e-0005-4000-8000-0000000000a5").unwrap();
        assert!(
            !wiki["policies"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["id"] == HAND_MADE),
            "{wiki:#}"
        );
        sim.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn run_once_and_apply_without_a_saved_plan_take_the_adopt_flag() {
    tokio::time::timeout(Duration::from_secs(120), async {
        for args in [&["run", "--once", "--adopt"][..], &["apply", "--adopt"][..]] {
            let sim = demo_sim().await;
            let file = manifest_file(DEMO);
            cli(&sim)
                .args(args)
                .arg("-f")
                .arg(file.path())
                .assert()
                .success();
            assert_eq!(
                sim.policy(HAND_MADE).unwrap()["name"],
                "[mcp-access:platform] MCP server support-mcp",
                "{args:?}"
            );
            sim.shutdown().await;
        }
    })
    .await
    .unwrap();
}
