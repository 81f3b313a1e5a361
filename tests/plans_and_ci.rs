//! Plans as people review them, through the binary against the simulator: output
//! formats and exit codes, saved plans and their staleness check, the safety rails, and
//! GitHub's step summary and outputs.

mod common;

use common::{cli, manifest_file, path, stderr, stdout};
use std::path::Path;

use mcp_access::sim::{Seed, SimConfig, Simulator};
use serde_json::{Value, json};

const DEMO: &str = "
owner: platform
servers:
  - app: mcp-server-app
    downstream: [Internal API, Company wiki]
";

async fn demo_sim() -> Simulator {
    Simulator::start(SimConfig::default(), Seed::demo())
        .await
        .unwrap()
}

fn app_id(sim: &Simulator, name: &str) -> String {
    sim.apps()
        .into_iter()
        .find(|a| a["name"] == name)
        .and_then(|a| a["id"].as_str().map(str::to_owned))
        .unwrap()
}

/// (method, path) of every write, sorted.
fn writes(sim: &Simulator) -> Vec<(String, String)> {
    let mut w: Vec<(String, String)> = sim
        .writes()
        .into_iter()
        .map(|w| (w.method.clone(), w.path.clone()))
        .collect();
    w.sort();
    w
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
async fn exit_codes_are_the_same_in_every_format() {
    let sim = demo_sim().await;
    let file = manifest_file(DEMO);
    let validator = schema_validator();
    for format in ["text", "json", "markdown"] {
        let out = cli(&sim)
            .args([
                "plan",
                "--exit-code",
                "--output",
                format,
                "-f",
                &path(&file),
            ])
            .assert()
            .code(2);
        let text = stdout(&out);
        match format {
            "json" => {
                let doc: Value = serde_json::from_str(&text).unwrap();
                assert!(validator.is_valid(&doc), "{doc:#}");
                assert_eq!(doc["summary"]["attach"], 2);
                assert_eq!(doc["account_id"], sim.account_id());
            }
            "markdown" => {
                assert!(text.starts_with("<!-- mcp-access plan -->\n"), "{text}");
                assert!(text.contains("```mermaid"), "{text}");
            }
            _ => assert!(text.contains("Plan: 1 to create"), "{text}"),
        }
    }
    assert!(sim.writes().is_empty());
    let out = cli(&sim)
        .args(["reconcile", "--output", "json", "-f", &path(&file)])
        .assert()
        .code(0);
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(validator.is_valid(&doc), "{doc:#}");
    assert_eq!(doc["applied"]["done"].as_array().unwrap().len(), 3);
    for format in ["text", "json", "markdown"] {
        cli(&sim)
            .args([
                "plan",
                "--exit-code",
                "--output",
                format,
                "-f",
                &path(&file),
            ])
            .assert()
            .code(0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_is_refused_once_the_account_changed_and_writes_nothing() {
    let sim = demo_sim().await;
    let file = manifest_file(DEMO);
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("plan.json");
    let saved_arg = saved.to_str().unwrap();
    cli(&sim)
        .args(["plan", "--out", saved_arg, "-f", &path(&file)])
        .assert()
        .code(0);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert!(schema_validator().is_valid(&doc));
    assert!(doc["objects"].as_object().unwrap().len() > 5);

    // Someone attaches a policy to the wiki by hand.
    let wiki = app_id(&sim, "Company wiki");
    sim.edit_app(&wiki, |app| {
        let links = app["policies"].as_array_mut().unwrap();
        links.push(json!({"id": "f1a2b3c4-0002-4000-8000-00000000a002", "precedence": 9}));
    });
    sim.clear_journal();

    let out = cli(&sim).args(["apply", saved_arg]).assert().code(1);
    let err = stderr(&out);
    assert!(
        err.contains(
            "Saved plan is stale: the account changed since the plan was made (app \"Company wiki\""
        ),
        "{err}"
    );
    assert!(err.contains(&format!("({wiki}) changed")), "{err}");
    assert!(err.contains("Run plan again."), "{err}");
    assert!(sim.writes().is_empty(), "{:#?}", sim.writes());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_saved_plan_applies_exactly_its_actions() {
    let sim = demo_sim().await;
    let file = manifest_file(DEMO);
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("plan.json");
    let saved_arg = saved.to_str().unwrap();
    cli(&sim)
        .args(["plan", "--out", saved_arg, "-f", &path(&file)])
        .assert()
        .code(0);

    // The manifest grows after the plan was made: the saved plan does not.
    let grown = DEMO.replace("Company wiki]", "Company wiki, Status page]");
    std::fs::write(file.path(), grown).unwrap();
    cli(&sim)
        .args(["apply", saved_arg, "-f", &path(&file)])
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "Saved plan is stale: the manifest changed since the plan was made",
        ));
    assert!(sim.writes().is_empty());

    // Other files than the plan was made from: said as such, not as a change.
    let other = manifest_file(DEMO);
    cli(&sim)
        .args(["apply", saved_arg, "-f", &path(&other)])
        .assert()
        .code(1)
        .stderr(predicates::str::contains(format!(
            "error: the saved plan was made from other manifests ({}) than the ones given ({})",
            path(&file),
            path(&other)
        )));
    assert!(sim.writes().is_empty());

    let out = cli(&sim).args(["apply", saved_arg]).assert().code(0);
    assert!(
        stdout(&out).contains("Applied 3 write(s) from the saved plan"),
        "{}",
        stdout(&out)
    );
    // One POST for the policy, one PUT per app of the plan; nothing for the status page.
    let w = writes(&sim);
    let apps: Vec<&str> = w
        .iter()
        .filter(|(m, _)| m == "PUT")
        .map(|(_, p)| p.as_str())
        .collect();
    assert_eq!(w.iter().filter(|(m, _)| m == "POST").count(), 1, "{w:#?}");
    assert_eq!(apps.len(), 2, "{w:#?}");
    for name in ["Internal API", "Company wiki"] {
        let id = app_id(&sim, name);
        assert!(apps.iter().any(|p| p.ends_with(&id)), "{name}: {w:#?}");
    }
    // What is left is exactly the part the saved plan did not have.
    let out = cli(&sim)
        .args([
            "plan",
            "--exit-code",
            "--output",
            "json",
            "-f",
            &path(&file),
        ])
        .assert()
        .code(2);
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["summary"]["total"], 1);
    assert_eq!(doc["actions"][0]["kind"], "attach");
    assert_eq!(doc["actions"][0]["app"]["name"], "Status page");
}

/// An account with one MCP server and `n` self-hosted apps named `app 0`, `app 1`, ...
async fn many_apps_sim(n: usize) -> Simulator {
    let mut apps = vec![json!({"name": "mcp", "type": "self_hosted", "domain": "mcp.example.com"})];
    for i in 0..n {
        apps.push(json!({
            "name": format!("app {i}"),
            "type": "self_hosted",
            "domain": format!("app{i}.example.com")
        }));
    }
    let seed = Seed {
        apps,
        policies: Vec::new(),
    };
    Simulator::start(SimConfig::default(), seed).await.unwrap()
}

fn server_with(apps: std::ops::Range<usize>) -> String {
    let names: Vec<String> = apps.map(|i| format!("\"app {i}\"")).collect();
    format!(
        "owner: platform\nservers:\n  - app: mcp\n    downstream: [{}]\n",
        names.join(", ")
    )
}

fn managed_links(sim: &Simulator) -> usize {
    sim.apps()
        .iter()
        .flat_map(|a| a["policies"].as_array().cloned().unwrap_or_default())
        .filter(|p| {
            p["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("[mcp-access:platform]"))
        })
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn mass_removals_are_refused_unless_forced_and_the_plan_is_still_shown() {
    let sim = many_apps_sim(12).await;
    let all = manifest_file(&server_with(0..12));
    cli(&sim)
        .args(["reconcile", "-f", &path(&all)])
        .assert()
        .code(0);
    assert_eq!(managed_links(&sim), 12);
    sim.clear_journal();

    // Dropping 4 of 12 (33 %) is over the default 30 %.
    let fewer = manifest_file(&server_with(0..8));
    let out = cli(&sim)
        .args(["reconcile", "-f", &path(&fewer)])
        .assert()
        .code(1);
    let err = stderr(&out);
    assert!(
        err.contains("Refusing to apply: the plan detaches 4 of 12 managed links (33%), more than --max-delete-percent 30 allows"),
        "{err}"
    );
    assert!(err.contains("--force"), "{err}");
    assert!(stdout(&out).contains("< detach"), "the plan is shown");
    assert!(sim.writes().is_empty());

    // `plan` shows the plan and warns, without failing.
    let out = cli(&sim)
        .args(["plan", "--output", "markdown", "-f", &path(&fewer)])
        .assert()
        .code(0);
    assert!(stdout(&out).contains("apply will refuse this plan"));

    // upsert-only removes nothing, so there is nothing to refuse.
    cli(&sim)
        .args(["apply", "--policy", "upsert-only", "-f", &path(&fewer)])
        .assert()
        .code(0);
    assert!(sim.writes().is_empty());

    cli(&sim)
        .args(["reconcile", "--force", "-f", &path(&fewer)])
        .assert()
        .code(0);
    assert_eq!(managed_links(&sim), 8);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_manifest_never_removes_everything_without_allow_empty() {
    let sim = demo_sim().await;
    let file = manifest_file(DEMO);
    cli(&sim)
        .args(["reconcile", "-f", &path(&file)])
        .assert()
        .code(0);
    sim.clear_journal();

    let empty = manifest_file("owner: platform\nservers: []\n");
    let out = cli(&sim)
        .args(["apply", "--force", "-f", &path(&empty)])
        .assert()
        .code(1);
    let err = stderr(&out);
    assert!(err.contains("removes every managed policy"), "{err}");
    assert!(err.contains("--allow-empty"), "{err}");
    assert!(stdout(&out).contains("- delete policy"), "{}", stdout(&out));
    assert!(sim.writes().is_empty());

    cli(&sim)
        .args(["apply", "--allow-empty", "-f", &path(&empty)])
        .assert()
        .code(0);
    let deletes = sim.writes().iter().filter(|w| w.method == "DELETE").count();
    assert_eq!(deletes, 1);
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn github_step_summary_and_outputs_are_written_when_set() {
    let sim = demo_sim().await;
    let file = manifest_file(DEMO);
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    let outputs = dir.path().join("output.txt");
    std::fs::write(&outputs, "earlier=kept\n").unwrap();
    cli(&sim)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_OUTPUT", &outputs)
        .args(["plan", "--exit-code", "-f", &path(&file)])
        .assert()
        .code(2);

    let md = read(&summary);
    assert!(md.starts_with("<!-- mcp-access plan -->\n"), "{md}");
    assert!(
        md.contains("| mcp-server-app | Internal API | 🔗 attach |"),
        "{md}"
    );

    let text = read(&outputs);
    assert!(text.starts_with("earlier=kept\n"), "appends: {text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.contains(&"has-changes=true"), "{text}");
    assert!(lines.contains(&"exit-code=2"), "{text}");
    // plan-json<<DELIMITER, the JSON on one line, DELIMITER.
    let start = lines
        .iter()
        .position(|l| l.starts_with("plan-json<<"))
        .unwrap();
    let delimiter = lines[start].trim_start_matches("plan-json<<");
    assert_eq!(lines[start + 2], delimiter);
    let doc: Value = serde_json::from_str(lines[start + 1]).unwrap();
    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["summary"]["has_changes"], true);

    // Without the variables nothing is written anywhere else.
    let before = (read(&summary), read(&outputs));
    cli(&sim)
        .args(["plan", "-f", &path(&file)])
        .assert()
        .code(0);
    assert_eq!((read(&summary), read(&outputs)), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_plan_still_writes_a_report_with_the_comment_marker() {
    let sim = demo_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    let outputs = dir.path().join("output.txt");
    // A manifest error, then an app the account does not have: before and after the
    // account is read.
    let typo = manifest_file("servers:\n  - app: mcp-server-app\n    downstrem: [x]\n");
    let missing = manifest_file("servers:\n  - app: mcp-server-app\n    downstream: [Nope]\n");
    for (file, error) in [
        (&typo, "unknown field `downstrem`"),
        (&missing, "no app \"Nope\""),
    ] {
        for file_path in [&summary, &outputs] {
            let _ = std::fs::remove_file(file_path);
        }
        let out = cli(&sim)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_OUTPUT", &outputs)
            .args(["plan", "--exit-code", "-o", "markdown", "-f", &path(file)])
            .assert()
            .code(1);
        // stdout is what the action posts as the comment.
        let comment = stdout(&out);
        assert!(
            comment.starts_with("<!-- mcp-access plan -->\n### mcp-access plan failed\n"),
            "{comment}"
        );
        assert!(comment.contains(error), "{comment}");
        assert!(stderr(&out).contains(error));
        assert_eq!(read(&summary), format!("{comment}\n"));
        let lines = read(&outputs);
        assert_eq!(
            lines, "exit-code=1\n",
            "no plan, so no has-changes: {lines}"
        );
    }

    // In text format stdout stays empty; the summary still gets the report.
    let _ = std::fs::remove_file(&summary);
    let out = cli(&sim)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["plan", "-f", &path(&typo)])
        .assert()
        .code(1);
    assert_eq!(stdout(&out), "");
    assert!(read(&summary).contains("### mcp-access plan failed"));

    // A usage error in CI reaches the summary too.
    let _ = std::fs::remove_file(&summary);
    cli(&sim)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["plan", "--exti-code", "-f", &path(&typo)])
        .assert()
        .code(1);
    assert!(read(&summary).contains("unexpected argument '--exti-code'"));
}
