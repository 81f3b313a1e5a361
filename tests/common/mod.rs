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
