//! What the binary-level tests share: a manifest on disk and the binary pointed at a
//! simulator. (Each test binary uses part of it.)
#![allow(dead_code)]

use std::io::Write;
use std::time::Duration;

use assert_cmd::Command;
use mcp_access::sim::Simulator;

/// A temporary `*.yaml` holding `text`.
pub fn manifest_file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

/// A temporary file's path, as a command-line argument.
pub fn path(f: &tempfile::NamedTempFile) -> String {
    f.path().to_str().unwrap().to_owned()
}

/// What a finished command wrote to stdout.
pub fn stdout(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(assert.get_output().stdout.clone()).unwrap()
}

/// What a finished command wrote to stderr.
pub fn stderr(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(assert.get_output().stderr.clone()).unwrap()
}

/// The binary, pointed at the simulator, with a clean environment (no GitHub
/// variables, no colour).
pub fn cli(sim: &Simulator) -> Command {
    let mut cmd = Command::cargo_bin("mcp-access").unwrap();
    cmd.env_clear()
        .env("CLOUDFLARE_API_BASE_URL", sim.base_url())
        .env("CLOUDFLARE_ACCOUNT_ID", sim.account_id())
        .env("CLOUDFLARE_API_TOKEN", sim.token())
        .env("NO_COLOR", "1")
        .timeout(Duration::from_secs(60));
    cmd
}

/// Who can reach what in the simulator now: `(server uid, app uid)` for each policy an
/// app links whose decision lets a linked token in (`non_identity`, `bypass`) and whose
/// include names the server. Read from the apps as the API returns them (policies
/// expanded), so app-scoped policies count too.
pub fn effective_grants(sim: &Simulator) -> std::collections::BTreeSet<(String, String)> {
    effective_grants_of(&sim.apps())
}

/// [`effective_grants`] of apps as `GET /access/apps` returns them.
pub fn effective_grants_of(
    apps: &[serde_json::Value],
) -> std::collections::BTreeSet<(String, String)> {
    let mut out = std::collections::BTreeSet::new();
    for app in apps {
        let uid = app["uid"]
            .as_str()
            .or(app["id"].as_str())
            .unwrap()
            .to_owned();
        for policy in app["policies"].as_array().into_iter().flatten() {
            if !matches!(policy["decision"].as_str(), Some("non_identity" | "bypass")) {
                continue;
            }
            for rule in policy["include"].as_array().into_iter().flatten() {
                if let Some(server) = rule["linked_app_token"]["app_uid"].as_str() {
                    out.insert((server.to_owned(), uid.clone()));
                }
            }
        }
    }
    out
}
