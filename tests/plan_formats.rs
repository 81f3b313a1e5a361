//! The three plan formats for one plan with every action kind, made by the pure diff
//! from a fixed inventory, so the snapshots are deterministic; the JSON against its
//! shipped schema; Markdown truncation; the safety rails on pure plans.

use mcp_access::cloudflare::types::{App, Policy};
use mcp_access::inventory::Inventory;
use mcp_access::manifest::{Desired, DesiredApp, DesiredServer, ServerKind};
use mcp_access::plan::json::{self, PlanDocument};
use mcp_access::plan::markdown::{self, MARKER};
use mcp_access::plan::text::{self, Palette};
use mcp_access::plan::{self, Plan};
use mcp_access::safety::{Safety, SyncPolicy};
use serde_json::{Value, json};

const FINGERPRINT: &str = "f1f2f3";
const DIGEST: &str = "d1d2d3";

fn app(uid: &str, name: &str, kind: &str, policies: &[&str]) -> App {
    let links: Vec<Value> = policies
        .iter()
        .enumerate()
        .map(|(i, id)| json!({"id": id, "precedence": i + 1}))
        .collect();
    let mut raw = json!({"id": uid, "uid": uid, "name": name, "type": kind, "policies": links});
    if kind == "saas" {
        raw["saas_app"] = json!({"auth_type": "oidc"});
    }
    App::from_value(raw).unwrap()
}

fn policy(id: &str, name: &str, decision: &str, from_uid: &str) -> Policy {
    Policy::from_value(json!({
        "id": id, "name": name, "decision": decision,
        "include": [{"linked_app_token": {"app_uid": from_uid}}],
        "created_at": "2025-01-01T00:00:00Z"
    }))
    .unwrap()
}

fn desired_app(uid: &str, name: &str) -> DesiredApp {
    DesiredApp {
        uid: uid.into(),
        name: name.into(),
        domain: None,
    }
}

/// An account and a manifest whose plan has every action kind:
/// - `support-mcp` (OIDC SaaS) has no policy: create, attach to Internal API;
/// - `mcp-server-app`'s policy was widened by hand: update; it is linked to the wiki
///   (kept) and the status page (detach: not a downstream); attach to Internal API;
/// - `old-mcp` left the manifest: detach from the status page, delete;
/// - "Legacy CI token grant" is someone else's: an unmanaged grant.
fn every_kind() -> (Desired, Inventory) {
    let inventory = Inventory::new(
        vec![
            app("srv-a", "mcp-server-app", "self_hosted", &[]),
            app("srv-b", "support-mcp", "saas", &[]),
            app("srv-old", "old-mcp", "self_hosted", &[]),
            app("srv-ci", "ci-runner", "self_hosted", &[]),
            app("app-api", "Internal API", "self_hosted", &["pol-legacy"]),
            app("app-wiki", "Company wiki", "self_hosted", &["pol-a"]),
            app(
                "app-status",
                "Status page",
                "self_hosted",
                &["pol-a", "pol-old"],
            ),
        ],
        vec![
            policy(
                "pol-a",
                "[mcp-access:platform] MCP server mcp-server-app",
                "bypass",
                "srv-a",
            ),
            policy(
                "pol-old",
                "[mcp-access:platform] MCP server old-mcp",
                "non_identity",
                "srv-old",
            ),
            policy(
                "pol-legacy",
                "Legacy CI token grant",
                "non_identity",
                "srv-ci",
            ),
        ],
    );
    let desired = Desired {
        owner: "platform".into(),
        servers: vec![
            DesiredServer {
                uid: "srv-a".into(),
                name: "mcp-server-app".into(),
                kind: ServerKind::SelfHosted,
                downstream: vec![
                    desired_app("app-api", "Internal API"),
                    desired_app("app-wiki", "Company wiki"),
                ],
                suspended: None,
            },
            DesiredServer {
                uid: "srv-b".into(),
                name: "support-mcp".into(),
                kind: ServerKind::OidcSaas,
                downstream: vec![desired_app("app-api", "Internal API")],
                suspended: None,
            },
        ],
    };
    (desired, inventory)
}

fn every_kind_plan() -> Plan {
    let (desired, inventory) = every_kind();
    plan::diff(&desired, &inventory)
}

fn json_doc(plan: &Plan) -> Value {
    let mut out = Vec::new();
    json::render(&PlanDocument::new(plan, FINGERPRINT, DIGEST), &mut out).unwrap();
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn the_fixture_has_every_action_kind() {
    let s = every_kind_plan().summary();
    assert_eq!(
        (s.create, s.update, s.attach, s.detach, s.delete),
        (1, 1, 2, 2, 1)
    );
    assert_eq!(every_kind_plan().unmanaged.len(), 1);
}

#[test]
fn text_snapshot() {
    let mut out = Vec::new();
    text::render(&every_kind_plan(), Palette::plain(), &mut out).unwrap();
    insta::assert_snapshot!(String::from_utf8(out).unwrap());
}

#[test]
fn json_snapshot() {
    let mut doc = json_doc(&every_kind_plan());
    // The build that wrote it changes with every commit; its shape is what matters here.
    assert_eq!(doc["generator"]["version"], env!("CARGO_PKG_VERSION"));
    doc["generator"]["version"] = "[version]".into();
    doc["generator"]["commit"] = "[commit]".into();
    insta::assert_json_snapshot!(doc);
}

#[test]
fn markdown_snapshot() {
    let md = markdown::render_to_string(&every_kind_plan(), &[], markdown::COMMENT_LIMIT);
    insta::assert_snapshot!(md);
}

#[test]
fn json_names_the_forward_header_of_each_server_kind() {
    let doc = json_doc(&every_kind_plan());
    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["inventory_fingerprint"], FINGERPRINT);
    let headers: Vec<(&str, &str, &str)> = doc["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap(),
                s["app_type"].as_str().unwrap(),
                s["forward_header"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        headers,
        [
            ("mcp-server-app", "self_hosted", "Cf-Access-Token"),
            ("support-mcp", "saas", "Authorization: Bearer")
        ]
    );
    let kinds: Vec<&str> = doc["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "create", "update", "attach", "attach", "detach", "detach", "delete"
        ]
    );
    assert_eq!(doc["summary"]["total"], 7);
    assert_eq!(doc["summary"]["has_changes"], true);
}

#[test]
fn json_round_trips_to_the_same_plan() {
    let plan = every_kind_plan();
    let text = serde_json::to_string(&PlanDocument::new(&plan, FINGERPRINT, DIGEST)).unwrap();
    let back: PlanDocument = serde_json::from_str(&text).unwrap();
    assert_eq!(back.to_plan(), plan);
}

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schema/plan.schema.json"
    ))
    .expect("schema/plan.schema.json is committed");
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

#[test]
fn json_output_validates_against_the_shipped_schema() {
    let validator = validator();
    let empty = {
        let (mut desired, inventory) = every_kind();
        desired.servers.clear();
        plan::diff(&desired, &inventory)
    };
    for plan in [every_kind_plan(), empty] {
        let doc = json_doc(&plan);
        let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:#?}");
    }
    // The schema is not vacuous: a wrong action kind fails.
    let mut bad = json_doc(&every_kind_plan());
    bad["actions"][0]["kind"] = json!("explode");
    assert!(!validator.is_valid(&bad));
    bad = json_doc(&every_kind_plan());
    bad.as_object_mut().unwrap().remove("inventory_fingerprint");
    assert!(!validator.is_valid(&bad));
}

/// Run with `UPDATE_SCHEMA=1` to rewrite the shipped schema after changing the types.
#[test]
fn shipped_schema_equals_the_generated_one() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/plan.schema.json");
    let generated = serde_json::to_string_pretty(&json::schema()).unwrap() + "\n";
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::create_dir_all(concat!(env!("CARGO_MANIFEST_DIR"), "/schema")).unwrap();
        std::fs::write(path, &generated).unwrap();
    }
    let shipped = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        shipped == generated,
        "schema/plan.schema.json is out of date: run `UPDATE_SCHEMA=1 cargo test --test plan_formats`"
    );
}

/// A plan with `servers` servers, each attached to `apps` new apps.
fn huge_plan(servers: usize, apps: usize) -> Plan {
    let mut app_list = Vec::new();
    let mut desired = Vec::new();
    for s in 0..servers {
        let uid = format!("server-{s:04}");
        app_list.push(app(
            &uid,
            &format!("mcp server number {s}"),
            "self_hosted",
            &[],
        ));
        let mut downstream = Vec::new();
        for a in 0..apps {
            let app_uid = format!("app-{s:04}-{a:04}");
            let name = format!("Internal application {s}/{a} with a long name");
            app_list.push(app(&app_uid, &name, "self_hosted", &[]));
            downstream.push(desired_app(&app_uid, &name));
        }
        desired.push(DesiredServer {
            uid,
            name: format!("mcp server number {s}"),
            kind: ServerKind::SelfHosted,
            downstream,
            suspended: None,
        });
    }
    plan::diff(
        &Desired {
            owner: "platform".into(),
            servers: desired,
        },
        &Inventory::new(app_list, Vec::new()),
    )
}

#[test]
fn markdown_past_the_comment_limit_is_cut_and_says_what() {
    let plan = huge_plan(40, 25);
    let md = markdown::render_to_string(&plan, &[], markdown::COMMENT_LIMIT);
    assert!(
        md.len() <= markdown::COMMENT_LIMIT,
        "{} bytes over the limit",
        md.len()
    );
    assert!(md.starts_with(MARKER));
    assert!(md.contains("Plan: 40 to create, 0 to update, 1000 to attach"));
    assert!(md.contains("parts were cut"), "names the cut: {md}");
    // Which parts: the table is cut by rows; the rest did not fit at all.
    let note = md.lines().last().unwrap();
    assert!(note.contains("of 1040 table rows"), "{note}");
    assert!(note.contains("40 of 40 policy details"), "{note}");
    assert!(note.contains("1 of 1 access diagram"), "{note}");
    // Every fence that was opened is closed, and table rows are whole.
    assert_eq!(md.matches("```").count() % 2, 0);
    for line in md.lines().filter(|l| l.starts_with('|')) {
        assert!(line.ends_with('|'), "half a row: {line}");
    }

    // Under the limit nothing is cut, and the diagram has an edge per link.
    let small = huge_plan(3, 2);
    let md = markdown::render_to_string(&small, &[], markdown::COMMENT_LIMIT);
    assert!(!md.contains("parts were cut"));
    assert_eq!(md.matches(" --> ").count(), 6);
}

#[test]
fn markdown_escapes_names_in_tables_and_diagrams() {
    let inventory = Inventory::new(
        vec![
            app("s", "evil | <b>\"mcp\"</b>", "self_hosted", &[]),
            app("d", "a|b", "self_hosted", &[]),
        ],
        Vec::new(),
    );
    let desired = Desired {
        owner: "platform".into(),
        servers: vec![DesiredServer {
            uid: "s".into(),
            name: "evil | <b>\"mcp\"</b>".into(),
            kind: ServerKind::SelfHosted,
            downstream: vec![desired_app("d", "a|b")],
            suspended: None,
        }],
    };
    let md = markdown::render_to_string(&plan::diff(&desired, &inventory), &[], 65_536);
    assert!(
        md.contains("| evil \\| &lt;b&gt;\"mcp\"&lt;/b&gt; | a\\|b | 🔗 attach |"),
        "{md}"
    );
    assert!(
        md.contains("([\"evil | #lt;b#gt;#quot;mcp#quot;#lt;/b#gt;\"])"),
        "{md}"
    );
    // Raw HTML only ever appears inside code fences, where GitHub shows it as text.
    let mut fenced = false;
    for line in md.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        }
        assert!(fenced || !line.contains("<b>"), "unescaped: {line}");
    }
}

// Safety rails, on pure plans.

/// `links` managed links of one server exist; the manifest keeps `keep` of them.
fn links_plan(links: usize, keep: usize) -> Plan {
    let ids: Vec<String> = (0..links).map(|i| format!("app-{i}")).collect();
    let mut apps = vec![app("srv", "mcp", "self_hosted", &[])];
    apps.extend(ids.iter().map(|id| app(id, id, "self_hosted", &["pol"])));
    let inventory = Inventory::new(
        apps,
        vec![policy(
            "pol",
            "[mcp-access:platform] MCP server mcp",
            "non_identity",
            "srv",
        )],
    );
    let desired = Desired {
        owner: "platform".into(),
        servers: if keep == 0 {
            Vec::new()
        } else {
            vec![DesiredServer {
                uid: "srv".into(),
                name: "mcp".into(),
                kind: ServerKind::SelfHosted,
                downstream: ids[..keep].iter().map(|id| desired_app(id, id)).collect(),
                suspended: None,
            }]
        },
    };
    plan::diff(&desired, &inventory)
}

#[test]
fn removing_more_than_the_threshold_is_refused_unless_forced() {
    let plan = links_plan(12, 8); // detaches 4 of 12: 33 %
    assert_eq!((plan.managed_links, plan.summary().detach), (8, 4));
    let why = Safety::default().check(&plan).unwrap_err();
    assert!(
        why.contains("detaches 4 of 12 managed links (33%)"),
        "{why}"
    );
    assert!(why.contains("--max-delete-percent 30"), "{why}");
    assert!(why.contains("--force"), "{why}");

    let forced = Safety {
        force: true,
        ..Safety::default()
    };
    assert!(forced.check(&plan).is_ok());
    let raised = Safety {
        max_delete_percent: 40,
        ..Safety::default()
    };
    assert!(raised.check(&plan).is_ok());
    // 3 of 12 is 25 %: under the limit.
    assert!(Safety::default().check(&links_plan(12, 9)).is_ok());
    // Fewer than 10 links: not checked (5 of 9 would be 55 %).
    assert!(Safety::default().check(&links_plan(9, 4)).is_ok());
}

#[test]
fn removing_every_managed_policy_needs_allow_empty_even_with_force() {
    let plan = links_plan(3, 0);
    assert_eq!(plan.summary().delete, 1);
    let forced = Safety {
        force: true,
        ..Safety::default()
    };
    let why = forced.check(&plan).unwrap_err();
    assert!(why.contains("removes every managed policy"), "{why}");
    assert!(why.contains("--allow-empty"), "{why}");
    let allowed = Safety {
        allow_empty: true,
        ..Safety::default()
    };
    assert!(allowed.check(&plan).is_ok());
}

#[test]
fn upsert_only_never_detaches_or_deletes() {
    let upsert = Safety {
        policy: SyncPolicy::UpsertOnly,
        ..Safety::default()
    };
    let plan = upsert.filter(every_kind_plan());
    let s = plan.summary();
    assert_eq!(
        (s.create, s.update, s.attach, s.detach, s.delete),
        (1, 1, 2, 0, 0)
    );
    assert!(plan.app_changes.iter().all(|c| !c.attach.is_empty()));
    // Removing everything is nothing to remove under upsert-only.
    let (plan, checked) = upsert.guard(links_plan(12, 0));
    assert!(plan.is_empty());
    assert!(checked.is_ok());
}
