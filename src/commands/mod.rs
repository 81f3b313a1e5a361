//! The command layer: what each command does, given a validated [`Config`]. One file
//! per command; they use the library below and never the argument parser. Plans go to
//! stdout (the product); logs and progress go to stderr.

mod apps;
mod check;
mod demo;
mod import;
mod plans;
mod reference;
mod run;
mod sim_serve;
mod validate;

use crate::Error;
use crate::cloudflare::{Client, Permission};
use crate::config::{Command, Config};
use crate::manifest;
use crate::reconcile::ReconcileOptions;

/// How a successful invocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Done; nothing pending.
    Ok,
    /// A plan or dry run found changes, and `--exit-code` asked to say so.
    ChangesPending,
}

/// Runs one command.
pub async fn run(config: Config) -> Result<Status, Error> {
    match &config.command {
        Command::Validate { files } => validate::run(files),
        Command::Reconcile {
            files,
            dry_run,
            max_rounds,
            out,
            plan,
            adopt,
        } => {
            let what = if *dry_run { "plan" } else { "apply" };
            let result = async {
                let mut manifest = manifest::load(files)?;
                manifest.adopt |= *adopt;
                let permission = if *dry_run {
                    Permission::Read
                } else {
                    Permission::Write
                };
                let client = client(&config, manifest.account_id.as_deref(), permission)?;
                let options = ReconcileOptions {
                    owner: manifest.owner_or(config.owner.as_deref()),
                    dry_run: *dry_run,
                    max_rounds: *max_rounds,
                    plan: *plan,
                };
                if *dry_run {
                    plans::plan(&config, &client, &manifest, &options, out.as_deref()).await
                } else {
                    plans::reconcile(&config, &client, &manifest, &options).await
                }
            }
            .await;
            plans::report_failure(&config, what, result)
        }
        Command::ApplySaved { plan, files } => {
            let result = async {
                let doc = crate::saved_plan::read(plan)?;
                if !files.is_empty() {
                    plans::check_manifest(&doc, &manifest::load(files)?)?;
                }
                let client = client(&config, doc.account_id.as_deref(), Permission::Write)?;
                plans::apply_saved(&config, &client, &doc, plan).await
            }
            .await;
            plans::report_failure(&config, "apply", result)
        }
        Command::Demo => demo::run().await,
        Command::Apps { app_type, format } => {
            apps::run(&config, app_type.as_deref(), *format).await
        }
        Command::Import { out } => import::run(&config, out.as_deref()).await,
        Command::Completions { shell, cli } => {
            reference::completions(cli, *shell, &mut std::io::stdout().lock()).map(|()| Status::Ok)
        }
        Command::Man { dir, cli } => {
            reference::man(cli, dir.as_deref(), &mut std::io::stdout().lock()).map(|()| Status::Ok)
        }
        Command::Check(options) => check::run(&config, options).await.map(|()| Status::Ok),
        Command::Run(options) => run::run(options, &config.api, config.owner.as_deref())
            .await
            .map(|()| Status::Ok),
        Command::SimServe {
            listen,
            config,
            seed,
        } => sim_serve::run(*listen, (**config).clone(), seed.clone()).await,
    }
}

/// The API client for `--account-id`, else `fallback` (the manifest's account, or a
/// saved plan's), for a command that needs `permission`.
fn client(
    config: &Config,
    fallback: Option<&str>,
    permission: Permission,
) -> Result<Client, Error> {
    let api = &config.api;
    let account_id = api.account_id(fallback)?;
    Ok(Client::new(api.client_config(
        account_id,
        api.token()?,
        permission,
    ))?)
}
