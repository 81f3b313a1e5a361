//! What each command does, given a validated [`Config`]. Plans go to stdout (the
//! product); logs and progress go to stderr.

use std::io::Write;

use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::cli::{ApiSettings, Command, Config};
use crate::cloudflare::{Client, ClientConfig};
use crate::manifest::{self, Manifest};
use crate::output::{OutputFormat, Report};
use crate::reconcile::{self, Outcome, ReconcileOptions};
use crate::sim::{Seed, SimConfig, Simulator};

mod onboarding;
mod plans;

/// How a successful invocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Done; nothing pending.
    Ok,
    /// A plan or dry run found changes, and `--exit-code` asked to say so.
    ChangesPending,
}

/// The owner used when neither the manifest nor `--owner` names one.
pub const DEFAULT_OWNER: &str = "default";

/// Runs one command.
pub async fn run(config: Config) -> Result<Status, Error> {
    match &config.command {
        Command::Validate { files } => validate(files),
        Command::Reconcile {
            files,
            dry_run,
            max_rounds,
            out,
        } => {
            let manifest = manifest::load(files)?;
            let client = client_for(&config.api, &manifest)?;
            let options = ReconcileOptions {
                owner: owner(&config, &manifest),
                dry_run: *dry_run,
                max_rounds: *max_rounds,
            };
            if *dry_run {
                plans::plan(&config, &client, &manifest, &options.owner, out.as_deref()).await
            } else {
                plans::reconcile(&config, &client, &manifest, &options).await
            }
        }
        Command::ApplySaved { plan, files } => {
            let doc = crate::saved_plan::read(plan)?;
            if !files.is_empty() {
                plans::check_manifest(&doc, &manifest::load(files)?)?;
            }
            let client = client_for_account(&config.api, doc.account_id.clone())?;
            plans::apply_saved(&config, &client, &doc, plan).await
        }
        Command::Demo => demo().await,
        Command::Apps { app_type, format } => {
            onboarding::apps(&config, app_type.as_deref(), *format).await
        }
        Command::Import { out } => onboarding::import(&config, out.as_deref()).await,
        Command::Check(args) => crate::check::command::run(&config, args)
            .await
            .map(|()| Status::Ok),
        Command::Run(options) => {
            crate::controller::run(options, &config.api, config.owner.as_deref()).await
        }
        Command::SimServe {
            listen,
            config,
            seed,
        } => sim_serve(*listen, (**config).clone(), seed.clone()).await,
    }
}

/// `mcp-access sim serve`: a simulated account on `listen` until Ctrl-C (or SIGTERM).
async fn sim_serve(
    listen: std::net::SocketAddr,
    config: SimConfig,
    seed: Seed,
) -> Result<Status, Error> {
    let sim = Simulator::bind(config, seed, listen)
        .await
        .map_err(|e| Error::Config(format!("cannot start the simulator: {e}")))?;
    let mut out = anstream::stdout();
    writeln!(
        out,
        "Simulated Cloudflare Access API at {} ({} apps, {} policies). Point mcp-access at it:\n\
         export CLOUDFLARE_API_BASE_URL={}\n\
         export CLOUDFLARE_ACCOUNT_ID={}\n\
         export CLOUDFLARE_API_TOKEN={}\n\
         Press Ctrl-C to stop.",
        sim.base_url(),
        sim.apps().len(),
        sim.policies().len(),
        sim.base_url(),
        sim.account_id(),
        sim.token(),
    )?;
    out.flush()?;
    sim.run_until(shutdown_signal()).await;
    Ok(Status::Ok)
}

/// Resolves on Ctrl-C, or SIGTERM on Unix (how scripts and containers stop a server).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn validate(files: &[std::path::PathBuf]) -> Result<Status, Error> {
    let manifest = manifest::load(files)?;
    let downstream: usize = manifest.servers.iter().map(|s| s.downstream.len()).sum();
    let mut out = anstream::stdout();
    writeln!(
        out,
        "Manifest is valid: {} file(s), {} server(s), {} downstream link(s). Apps are resolved against the account by `plan`.",
        manifest.files.len(),
        manifest.servers.len(),
        downstream
    )?;
    Ok(Status::Ok)
}

pub(crate) fn owner(config: &Config, manifest: &Manifest) -> String {
    config
        .owner
        .clone()
        .or_else(|| manifest.owner.clone())
        .unwrap_or_else(|| DEFAULT_OWNER.to_owned())
}

/// Builds the API client; the account id from `--account-id` / the environment wins
/// over the manifest's.
pub(crate) fn client_for(api: &ApiSettings, manifest: &Manifest) -> Result<Client, Error> {
    client_for_account(api, manifest.account_id.clone())
}

/// Builds the API client for `--account-id`, else `fallback`.
pub(crate) fn client_for_account(
    api: &ApiSettings,
    fallback: Option<String>,
) -> Result<Client, Error> {
    let account_id = api
        .account_id
        .clone()
        .or(fallback)
        .ok_or_else(|| {
            Error::Config(
                "no Cloudflare account id: pass --account-id, set CLOUDFLARE_ACCOUNT_ID, or put account_id in the manifest".into(),
            )
        })?;
    let token = api.token.clone().ok_or_else(|| {
        Error::Config(
            "no API token: set CLOUDFLARE_API_TOKEN or pass --api-token-file (permission \"Access: Apps and Policies Read\" to plan, \"... Write\" to reconcile)".into(),
        )
    })?;
    Ok(Client::new(client_config(api, account_id, token))?)
}

pub(crate) fn client_config(
    api: &ApiSettings,
    account_id: String,
    token: SecretString,
) -> ClientConfig {
    let mut config = ClientConfig::new(api.base_url.clone(), account_id, token);
    config.concurrency = api.concurrency;
    config.request_timeout = api.request_timeout;
    config.rate = api.rate;
    config.burst = api.burst;
    config.retry_deadline = api.retry_deadline;
    config.progress = api.progress;
    config
}

/// Prints what a reconcile did, as `reconcile` prints it.
fn print_outcome(outcome: &Outcome, out: &mut dyn Write) -> Result<(), Error> {
    Report::from_outcome(outcome, String::new()).print(OutputFormat::Text, out)?;
    Ok(())
}

/// `mcp-access demo`: the whole product against a simulated account, no Cloudflare
/// account needed.
async fn demo() -> Result<Status, Error> {
    const MANIFEST: &str = include_str!("../examples/demo.yaml");
    let sim = Simulator::start(SimConfig::default(), Seed::demo())
        .await
        .map_err(|e| Error::Config(format!("cannot start the simulator: {e}")))?;
    let result = demo_steps(&sim, MANIFEST).await;
    sim.shutdown().await;
    result
}

async fn demo_steps(sim: &Simulator, manifest_text: &str) -> Result<Status, Error> {
    let mut out = anstream::stdout();
    let manifest = manifest::parse_str("examples/demo.yaml", manifest_text, &|_| None)?;
    // The client's defaults; no progress bar: the demo tells its own story on stdout.
    let client = Client::new(ClientConfig::new(
        sim.base_url(),
        sim.account_id(),
        SecretString::from(sim.token().to_owned()),
    ))?;
    let owner = manifest
        .owner
        .clone()
        .unwrap_or_else(|| DEFAULT_OWNER.to_owned());
    let cancel = CancellationToken::new();
    let run = |dry_run: bool| {
        let options = ReconcileOptions {
            owner: owner.clone(),
            dry_run,
            max_rounds: 3,
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

    step(&mut out, "1. mcp-access plan -f examples/demo.yaml")?;
    print_outcome(&run(true).await?, &mut out)?;

    step(&mut out, "2. mcp-access reconcile -f examples/demo.yaml")?;
    sim.clear_journal();
    print_outcome(&run(false).await?, &mut out)?;
    let writes = sim.writes();
    writeln!(
        out,
        "  ({} API writes, {} requests in all)",
        writes.len(),
        sim.journal().len()
    )?;

    step(&mut out, "3. mcp-access plan again: nothing to do")?;
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
    Ok(Status::Ok)
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
