//! The binary's surface: exit codes, output streams, errors, the demo, and that the
//! token never shows.

mod common;

use common::{cli, manifest_file};
use std::time::Duration;

use assert_cmd::Command;
use mcp_access::sim::{Seed, SimConfig, Simulator};
use predicates::prelude::*;

const DEMO: &str = "
owner: platform
servers:
  - app: mcp-server-app
    downstream: [Internal API, Company wiki]
";

async fn sim() -> Simulator {
    Simulator::start(SimConfig::default(), Seed::demo())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_with_exit_code_exits_2_and_writes_nothing_then_reconcile_then_0() {
    let sim = sim().await;
    let file = manifest_file(DEMO);
    let path = file.path().to_str().unwrap().to_owned();

    let plan = cli(&sim)
        .args(["plan", "--exit-code", "-f", &path])
        .assert()
        .code(2);
    let out = String::from_utf8(plan.get_output().stdout.clone()).unwrap();
    assert!(
        out.contains("+ create policy \"[mcp-access:platform] MCP server mcp-server-app\""),
        "{out}"
    );
    assert!(out.contains("> attach to \"Internal API\""), "{out}");
    assert!(
        out.contains("Plan: 1 to create, 0 to update, 2 to attach, 0 to detach, 0 to delete."),
        "{out}"
    );
    assert!(out.contains("Unmanaged linked-token grants"), "{out}");
    assert!(
        !out.contains('\u{1b}'),
        "no colour with NO_COLOR or off a TTY"
    );
    assert!(sim.writes().is_empty());

    // Without --exit-code a pending plan is still success.
    cli(&sim).args(["plan", "-f", &path]).assert().code(0);
    cli(&sim)
        .args(["reconcile", "--dry-run", "--exit-code", "-f", &path])
        .assert()
        .code(2);
    assert!(sim.writes().is_empty());

    cli(&sim)
        .args(["reconcile", "-f", &path])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Applied 3 write(s)"));
    cli(&sim)
        .args(["plan", "--exit-code", "-f", &path])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "No changes. The account matches the manifest.",
        ));
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_exit_1_and_never_show_the_token() {
    let sim = sim().await;
    let file = manifest_file("servers:\n  - app: mcp-server-app\n    downstrem: [x]\n");
    let path = file.path().to_str().unwrap().to_owned();
    cli(&sim)
        .args(["validate", "-f", &path])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("did you mean `downstream`"));

    // A wrong token: the API refuses; the error names the request, not the token.
    let good = manifest_file(DEMO);
    let good = good.path().to_str().unwrap().to_owned();
    let out = cli(&sim)
        .env("CLOUDFLARE_API_TOKEN", "wrong-token-value-123")
        .args(["plan", "-v", "-f", &good])
        .assert()
        .code(1);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.get_output().stdout),
        String::from_utf8_lossy(&out.get_output().stderr)
    );
    assert!(all.contains("10000"), "names the Cloudflare code: {all}");
    assert!(
        !all.contains("wrong-token-value-123"),
        "token leaked: {all}"
    );
    assert!(sim.writes().is_empty());

    cli(&sim)
        .env_remove("CLOUDFLARE_API_TOKEN")
        .args(["plan", "-f", &good])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("CLOUDFLARE_API_TOKEN"));
}

#[test]
fn demo_runs_the_whole_story() {
    let out = Command::cargo_bin("mcp-access")
        .unwrap()
        .env("NO_COLOR", "1")
        .arg("demo")
        .timeout(Duration::from_secs(60))
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    // The demo account's hand-made grant is adopted, not duplicated.
    assert!(
        text.contains(
            "Plan: 1 to create, 0 to update, 3 to attach, 0 to detach, 0 to delete, 1 to adopt."
        ),
        "{text}"
    );
    assert!(
        text.contains("= adopt policy \"Allow requests from MCP server\" (f1a2b3c4-0005-4000-8000-00000000a005) for server support-mcp"),
        "{text}"
    );
    assert!(
        text.trim_end()
            .ends_with("No changes. The account matches the manifest."),
        "{text}"
    );
    assert!(text.contains("Legacy CI token grant"), "{text}");
    assert!(text.contains("Applied"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn owner_flag_overrides_the_manifests_owner() {
    let sim = sim().await;
    let file = manifest_file(DEMO);
    let path = file.path().to_str().unwrap().to_owned();
    cli(&sim)
        .args(["plan", "--owner", "security", "-f", &path])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "+ create policy \"[mcp-access:security] MCP server mcp-server-app\"",
        ));
    cli(&sim)
        .args(["plan", "--owner", "Not Valid", "-f", &path])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--owner"));
}
