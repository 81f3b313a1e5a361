//! `mcp-access demo`: the whole story (a hand-made grant adopted, plan, reconcile,
//! plan, drift repair) against a built-in simulated account, no Cloudflare account
//! needed. It runs with `--adopt`: the demo account has a grant someone made by hand
//! following Cloudflare's guide, and the demo takes it over instead of duplicating it.

use std::io::Write;

use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use super::Status;
use crate::Error;
use crate::cloudflare::{Client, ClientConfig};
use crate::manifest;
use crate::output::{OutputFormat, Report};
use crate::reconcile::{self, Outcome, ReconcileOptions};
use crate::sim::{Seed, SimConfig, Simulator};

/// Prints what a reconcile did, as `reconcile` prints it.
fn print_outcome(outcome: &Outcome, out: &mut dyn Write) -> Result<(), Error> {
    Report::from_outcome(outcome, String::new()).print(OutputFormat::Text, out)?;
    Ok(())
}

/// Runs the demo against a simulator of its own, which it stops at the end.
pub(super) async fn run() -> Result<Status, Error> {
    const MANIFEST: &str = include_str!("../../examples/demo.yaml");
    let sim = Simulator::start(SimConfig::default(), Seed::demo())
        .await
        .map_err(|e| Error::Config(format!("cannot start the simulator: {e}")))?;
    let result = demo_steps(&sim, MANIFEST).await;
    sim.shutdown().await;
    result
}

async fn demo_steps(sim: &Simulator, manifest_text: &str) -> Result<Status, Error> {
    let mut out = crate::output::stdout();
    let mut manifest = manifest::parse_str("examples/demo.yaml", manifest_text, &|_| None)?;
    // `--adopt`: the demo account's hand-made grant becomes the managed policy.
    manifest.adopt = true;
    // The client's defaults; no progress bar: the demo tells its own story on stdout.
    let client = Client::new(ClientConfig::new(
        sim.base_url(),
        sim.account_id(),
        SecretString::from(sim.token().to_owned()),
    ))?;
    let owner = manifest.owner_or(None);
    let cancel = CancellationToken::new();
    let run = |dry_run: bool| {
        let options = ReconcileOptions {
            owner: owner.clone(),
            dry_run,
            max_rounds: 3,
            plan: crate::plan::PlanOptions::default(),
        };
        let client = client.clone();
        let manifest = &manifest;
        let cancel = cancel.clone();
        async move { reconcile::reconcile(&client, manifest, &options, &cancel).await }
    };
    let step = |out: &mut dyn Write, title: &str| -> std::io::Result<()> {
        let style = anstyle::Style::new().bold().underline();
        writeln!(out, "\n{}{title}{}\n", style.render(), style.render_reset())
    };

    intro(&mut out, sim, manifest_text)?;

    step(&mut out, "1. mcp-access plan --adopt -f examples/demo.yaml")?;
    print_outcome(&run(true).await?, &mut out)?;

    step(
        &mut out,
        "2. mcp-access reconcile --adopt -f examples/demo.yaml",
    )?;
    sim.clear_journal();
    print_outcome(&run(false).await?, &mut out)?;
    let writes = sim.writes();
    writeln!(
        out,
        "  ({} API writes, {} requests in all)",
        writes.len(),
        sim.journal().len()
    )?;

    step(&mut out, "3. mcp-access plan --adopt again: nothing to do")?;
    print_outcome(&run(true).await?, &mut out)?;

    step(
        &mut out,
        "4. Someone edits things in the dashboard; reconcile repairs the drift",
    )?;
    let wiki = sim
        .apps()
        .into_iter()
        .find(|a| a["name"] == "Company wiki")
        .and_then(|a| a["id"].as_str().map(str::to_owned));
    let managed = managed_ids(sim);
    if let Some(wiki) = &wiki {
        // Detach every managed policy from the wiki, as a click in the dashboard would.
        sim.edit_app(wiki, |app| {
            if let Some(serde_json::Value::Array(links)) = app.get_mut("policies") {
                links.retain(|l| {
                    let id = l.get("id").and_then(|v| v.as_str()).unwrap_or_default();
                    !managed.iter().any(|m| m == id)
                });
            }
        });
        writeln!(
            out,
            "  (detached the managed policies from \"Company wiki\" in the simulator)"
        )?;
    }
    if let Some(policy) = managed.first() {
        // Widen a managed policy by hand: the plan shows the diff and puts it back.
        sim.edit_policy(policy, |p| {
            p.insert("decision".into(), serde_json::json!("bypass"));
            p.insert("exclude".into(), serde_json::json!([{"everyone": {}}]));
        });
        writeln!(
            out,
            "  (changed a managed policy's decision and exclude rules by hand)"
        )?;
    }
    print_outcome(&run(false).await?, &mut out)?;

    step(&mut out, "5. mcp-access plan --adopt: back in line")?;
    print_outcome(&run(true).await?, &mut out)?;
    Ok(Status::Ok)
}

/// The account, the manifest, and the hand-made grant the demo adopts.
fn intro(out: &mut dyn Write, sim: &Simulator, manifest_text: &str) -> std::io::Result<()> {
    writeln!(
        out,
        "mcp-access demo: a simulated Cloudflare account at {} with {} apps and {} policies.",
        sim.base_url(),
        sim.apps().len(),
        sim.policies().len()
    )?;
    writeln!(out, "Manifest examples/demo.yaml:\n")?;
    for line in manifest_text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
    {
        writeln!(out, "    {line}")?;
    }

    writeln!(
        out,
        "\nThe account already has a grant made by hand, the way Cloudflare's guide shows: \
         \"Allow requests from MCP server\" lets support-mcp into the status page. \
         With --adopt, mcp-access takes it over (renames it into its managed name) \
         instead of creating a second policy next to it."
    )?;

    Ok(())
}

fn managed_ids(sim: &Simulator) -> Vec<String> {
    sim.policies()
        .iter()
        .filter(|p| {
            p["name"]
                .as_str()
                .and_then(crate::plan::ownership::owner_of)
                .is_some()
        })
        .filter_map(|p| p["id"].as_str().map(str::to_owned))
        .collect()
}
