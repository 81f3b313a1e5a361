//! `mcp-access import` and `mcp-access apps`: through the binary against the simulator,
//! and the manifest writer's quoting under random names.

mod common;

use common::{cli, effective_grants};
use mcp_access::manifest::write::{DocRef, DocServer, Document, render};
use mcp_access::manifest::{self, AppRef};
use mcp_access::sim::{Seed, SimConfig, Simulator};
use proptest::prelude::*;
use serde_json::Value;

async fn demo_sim() -> Simulator {
    Simulator::start(SimConfig::default(), Seed::demo())
        .await
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Whatever an app is called, the written manifest reads back to the same name:
    /// quoting, escapes, `$` (the loader expands `${VAR}`), YAML keywords, comments.
    #[test]
    fn any_name_round_trips_through_the_writer(
        server in "\\PC{1,24}|[ -~]{1,24}|(true|no|null|~|-|1e3|0x1F|\\$\\{HOME\\}|a: b| #c)",
        // The loader trims names; import writes such names as uids.
        downstream in prop::collection::vec(any::<String>().prop_filter("trimmed", |s| !s.is_empty() && s.trim() == s), 1..4),
        note in any::<String>(),
    ) {
        prop_assume!(!server.is_empty() && server.trim() == server);
        let mut unique = downstream.clone();
        unique.sort();
        unique.dedup();
        let doc = Document {
            header: vec![note.clone()],
            owner: Some("platform".into()),
            account_id: None,
            servers: vec![DocServer {
                comments: vec![note.clone()],
                app: Some(DocRef { app: AppRef::Name(server.clone()), comment: Some(note.clone()) }),
                downstream: unique
                    .iter()
                    .map(|d| DocRef { app: AppRef::Name(d.clone()), comment: Some(note.clone()) })
                    .collect(),
            }],
        };
        let yaml = render(&doc);
        let parsed = manifest::parse_str("w.yaml", &yaml, &|_| None)
            .map_err(|e| TestCaseError::fail(format!("{e:?}\n{yaml}")))?;
        prop_assert_eq!(&parsed.servers[0].app.value, &AppRef::Name(server));
        let got: Vec<AppRef> = parsed.servers[0].downstream.iter().map(|d| d.value.clone()).collect();
        let want: Vec<AppRef> = unique.into_iter().map(AppRef::Name).collect();
        prop_assert_eq!(got, want);
    }
}

/// The servers and downstream apps a manifest declares, as written.
fn declarations(yaml: &str) -> Vec<(AppRef, Vec<AppRef>)> {
    let manifest = manifest::parse_str("i.yaml", yaml, &|_| None).unwrap();
    manifest
        .servers
        .iter()
        .map(|s| {
            (
                s.app.value.clone(),
                s.downstream.iter().map(|d| d.value.clone()).collect(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn import_then_adopt_changes_nothing_anyone_can_reach_and_imports_the_same_again() {
    tokio::time::timeout(std::time::Duration::from_secs(120), async {
        let sim = demo_sim().await;
        let before = effective_grants(&sim);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("imported.yaml");
        let out = cli(&sim)
            .args(["import", "--owner", "platform", "--out"])
            .arg(&path)
            .assert()
            .success();
        let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(
            stderr.contains("Imported 2 server(s) and 2 downstream link(s) into"),
            "{stderr}"
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("  - app: ci-bot\n    downstream:\n      - Billing dashboard\n"),
            "{text}"
        );
        assert!(
            text.contains("  - app: support-mcp\n    downstream:\n      - Status page\n"),
            "{text}"
        );
        assert!(text.contains("owner: platform\n"), "{text}");

        // stdout gives the same bytes, and nothing was written to the account.
        let stdout = cli(&sim)
            .args(["import", "--owner", "platform"])
            .assert()
            .success();
        assert_eq!(String::from_utf8_lossy(&stdout.get_output().stdout), text);
        assert!(sim.writes().is_empty(), "{:?}", sim.writes());
        cli(&sim)
            .args(["validate", "-f"])
            .arg(&path)
            .assert()
            .success();

        // plan --adopt: both hand-made grants are taken over; nobody gains or loses.
        let plan = cli(&sim)
            .args(["plan", "--adopt", "-o", "json", "-f"])
            .arg(&path)
            .assert()
            .success();
        let doc: Value = serde_json::from_slice(&plan.get_output().stdout).unwrap();
        let kinds: Vec<&str> = doc["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["adopt", "adopt"], "{doc:#}");
        assert_eq!(doc["unmanaged"], serde_json::json!([]), "{doc:#}");

        cli(&sim)
            .args(["reconcile", "--adopt", "-f"])
            .arg(&path)
            .assert()
            .success();
        assert_eq!(effective_grants(&sim), before);
        cli(&sim)
            .args(["plan", "--exit-code", "-f"])
            .arg(&path)
            .assert()
            .code(0);
        // Importing again declares the same links (the comments name the new names).
        let again = cli(&sim)
            .args(["import", "--owner", "platform"])
            .assert()
            .success();
        let again = String::from_utf8_lossy(&again.get_output().stdout).into_owned();
        assert_eq!(declarations(&again), declarations(&text));
        assert!(
            again.contains("[mcp-access:platform] MCP server support-mcp"),
            "{again}"
        );
        sim.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn apps_lists_the_account_with_roles_grants_and_a_type_filter() {
    tokio::time::timeout(std::time::Duration::from_secs(120), async {
        let sim = demo_sim().await;
        let out = cli(&sim).arg("apps").assert().success();
        let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("NAME") && lines[0].ends_with("SERVER  DOWNSTREAM"), "{text}");
        assert!(text.contains("Billing dashboard  self_hosted  billing.example.com"), "{text}");
        assert!(
            text.contains("    accepts tokens of \"ci-bot\" via \"Legacy CI token grant\" (non_identity, unmanaged)"),
            "{text}"
        );
        assert!(text.contains("    its tokens reach \"Billing dashboard\" via \"Legacy CI token grant\""), "{text}");
        assert_eq!(text.lines().filter(|l| !l.starts_with(' ')).count(), 1 + sim.apps().len() + 2, "{text}");

        let out = cli(&sim).args(["apps", "--type", "saas", "-o", "json"]).assert().success();
        let doc: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
        let apps = doc["apps"].as_array().unwrap();
        let names: Vec<&str> = apps.iter().map(|a| a["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["HR portal", "support-mcp"]);
        // A SAML app cannot issue tokens; an OIDC one can. Neither can be a downstream.
        assert_eq!(apps[0]["can_be_server"], false);
        assert_eq!(apps[1]["can_be_server"], true);
        assert!(apps.iter().all(|a| a["can_be_downstream"] == false));
        assert_eq!(doc["app_type"], "saas");
        sim.shutdown().await;
    })
    .await
    .unwrap();
}
