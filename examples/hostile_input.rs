//! Hostile manifests against a 5,010-app account, through the release binary: how long
//! `plan` takes to refuse them, its peak memory and how much it prints. The numbers in
//! `BENCHMARKS.md` ("Hostile input").
//!
//! ```sh
//! cargo build --release --bins --example hostile_input
//! target/release/examples/hostile_input
//! ```
//!
//! Needs `/usr/bin/time` (GNU) for the peak RSS.

// Sizes in KB and MB for a table: f64 is exact enough.
#![allow(clippy::cast_precision_loss)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use mcp_access::sim::synthetic::{Shape, synthetic};
use mcp_access::sim::{SimConfig, Simulator};

struct Case {
    name: &'static str,
    manifest: String,
    env: Vec<(&'static str, String)>,
}

fn cases() -> Vec<Case> {
    let head = "owner: bench\nservers:\n  - app: server-1\n    downstream:\n";
    let mut many = head.to_owned();
    for i in 0..20_000 {
        let _ = writeln!(many, "      - no-such-app-{i:05}");
    }
    let mut bomb = head.to_owned();
    for _ in 0..8_000 {
        bomb.push_str("      - ${BIG}\n");
    }
    vec![
        Case {
            name: "one unknown name of 900 KB",
            manifest: format!("{head}      - \"{}\"\n", "q".repeat(900_000)),
            env: Vec::new(),
        },
        Case {
            name: "20,000 unknown names",
            manifest: many,
            env: Vec::new(),
        },
        Case {
            name: "8,000 references to a 120 KB variable",
            manifest: bomb,
            env: vec![("BIG", "v".repeat(120 * 1024))],
        },
    ]
}

/// Wall time, peak RSS in KB, stderr bytes and exit code of `plan -f path`.
fn plan(
    bin: &Path,
    sim: &Simulator,
    path: &Path,
    env: &[(&str, String)],
) -> (f64, u64, usize, i32) {
    let stats = tempfile::NamedTempFile::new().unwrap();
    let started = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(stats.path())
        .arg(bin)
        .env_clear()
        .env("CLOUDFLARE_API_BASE_URL", sim.base_url())
        .env("CLOUDFLARE_ACCOUNT_ID", sim.account_id())
        .env("CLOUDFLARE_API_TOKEN", sim.token())
        .env("NO_COLOR", "1")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .args(["plan", "-f"])
        .arg(path)
        .output()
        .expect("run /usr/bin/time");
    let wall = started.elapsed().as_secs_f64();
    let rss = std::fs::read_to_string(stats.path())
        .unwrap_or_default()
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    (wall, rss, out.stderr.len(), out.status.code().unwrap_or(-1))
}

#[tokio::main]
async fn main() {
    let bin = PathBuf::from(
        std::env::var("MCP_ACCESS_BIN").unwrap_or("target/release/mcp-access".into()),
    );
    let account = synthetic(Shape {
        apps: 5010,
        servers: 10,
        foreign_policies: 10,
        missing_apps: 0,
        double_apps: 0,
    });
    let sim = Simulator::start(SimConfig::default(), account.seed)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    println!("| `plan` against 5,010 apps | wall | peak RSS | stderr | exit |");
    println!("|---|---|---|---|---|");
    for case in cases() {
        let path = dir.path().join("hostile.yaml");
        std::fs::write(&path, &case.manifest).unwrap();
        let (wall, rss, stderr, code) = plan(&bin, &sim, &path, &case.env);
        println!(
            "| {} ({} KB file) | {wall:.2} s | {:.0} MB | {:.1} KB | {code} |",
            case.name,
            case.manifest.len() / 1024,
            rss as f64 / 1024.0,
            stderr as f64 / 1024.0
        );
    }
    sim.shutdown().await;
}
