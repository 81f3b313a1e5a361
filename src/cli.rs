//! Command-line arguments in two stages: the raw clap structs, then a validated
//! [`Config`] of real types (token as a secret, durations parsed, URL checked) before
//! any work starts. Only the binary uses this module; everything else takes a
//! [`Config`] or the settings types it holds.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand};
use secrecy::SecretString;

use crate::cloudflare::{ApiSettings, DEFAULT_BASE_URL, Rate};
use crate::config::{Command, Config, LogFormat};
use crate::output::OutputFormat;
use crate::safety::{Safety, SafetyArgs};
use crate::sim::{Faults, RateLimit, Seed, SimConfig};

/// Reconcile Cloudflare Access "Linked App Token" policies: which MCP servers may call
/// which internal apps with the user's identity.
#[derive(Debug, Parser)]
#[command(name = "mcp-access", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: CommandArgs,
    #[command(flatten)]
    global: GlobalArgs,
}

#[derive(Debug, Args)]
struct GlobalArgs {
    /// Cloudflare account id (wins over the manifest's `account_id`).
    #[arg(long, env = "CLOUDFLARE_ACCOUNT_ID", global = true)]
    account_id: Option<String>,
    /// Read the API token from this file instead of `CLOUDFLARE_API_TOKEN`.
    #[arg(long, value_name = "PATH", global = true)]
    api_token_file: Option<PathBuf>,
    /// API base URL (point it at `mcp-access sim serve` to test).
    #[arg(long, env = "CLOUDFLARE_API_BASE_URL", default_value = DEFAULT_BASE_URL, global = true)]
    api_url: String,
    /// Ownership id; overrides the manifest's `owner`.
    #[arg(long, global = true)]
    owner: Option<String>,
    /// Exit 2 when a plan or dry run finds changes.
    #[arg(long, global = true)]
    exit_code: bool,
    /// More logs on stderr (-v debug, -vv trace).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    verbose: u8,
    /// Only warnings and errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    /// API requests in flight at most.
    #[arg(long, default_value_t = 4, global = true)]
    concurrency: usize,
    /// Timeout of one API request.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration, global = true)]
    request_timeout: Duration,
    /// Sustained client-side request rate, default 1000/300s (the account allows
    /// 1200/300s in total). For `sim serve`: the simulated account's limit, default
    /// 1200/300s.
    #[arg(long, value_name = "REQUESTS/DURATION", global = true)]
    rate_limit: Option<Rate>,
    /// Requests allowed in a burst before the sustained rate applies.
    #[arg(long, default_value_t = 200, global = true)]
    burst: u32,
    /// Total time one API request may spend retrying, waits included (long enough to
    /// wait out a 5-minute rate-limit block).
    #[arg(long, default_value = "6m", value_parser = humantime::parse_duration, global = true)]
    retry_deadline: Duration,
}

#[derive(Debug, Args)]
struct ManifestArgs {
    /// Manifest file or directory (every *.yaml / *.yml in it); repeatable.
    #[arg(short = 'f', long = "file", value_name = "PATH", required = true)]
    files: Vec<PathBuf>,
}

/// `--adopt`, for the commands that plan.
#[derive(Debug, Args)]
struct AdoptArgs {
    /// Take over hand-made grants of the manifest's servers instead of duplicating them
    /// (same as `adopt: true` in the manifest); see docs/adopting.md.
    #[arg(long)]
    adopt: bool,
}

/// How a plan is shown.
#[derive(Debug, Args)]
struct OutputArgs {
    /// Format of the plan on stdout (exit codes are the same in every format).
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
}

#[derive(Debug, Subcommand)]
enum CommandArgs {
    /// Check manifests without touching the network.
    Validate(ManifestArgs),
    /// Show what reconcile would change (same as `reconcile --dry-run`).
    Plan {
        #[command(flatten)]
        manifests: ManifestArgs,
        #[command(flatten)]
        output: OutputArgs,
        /// Also save the plan (JSON, with the account's fingerprint) for `apply`.
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
        #[command(flatten)]
        adopt: AdoptArgs,
        #[command(flatten)]
        safety: SafetyArgs,
    },
    /// Make the account match the manifests: plan, apply, re-read, until converged.
    Reconcile {
        #[command(flatten)]
        manifests: ManifestArgs,
        /// Plan only; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Give up when the account has not converged after this many applies.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
        max_rounds: u32,
        #[command(flatten)]
        output: OutputArgs,
        #[command(flatten)]
        adopt: AdoptArgs,
        #[command(flatten)]
        safety: SafetyArgs,
    },
    /// Apply a saved plan exactly (refused when the account changed since), or without
    /// one, reconcile the manifests.
    Apply {
        /// A plan saved by `plan --out`.
        #[arg(value_name = "PLAN")]
        plan: Option<PathBuf>,
        /// Manifests: with a saved plan, checked to be the ones it was made from.
        #[arg(
            short = 'f',
            long = "file",
            value_name = "PATH",
            required_unless_present = "plan"
        )]
        files: Vec<PathBuf>,
        #[command(flatten)]
        output: OutputArgs,
        /// Take over hand-made grants (without a saved plan; a saved plan already says
        /// what it adopts).
        #[arg(long, conflicts_with = "plan")]
        adopt: bool,
        #[command(flatten)]
        safety: SafetyArgs,
    },
    /// Run plan, reconcile and plan against a built-in simulated account.
    Demo,
    /// List the account's Access apps: name, type, domain, uid, whether each can be an
    /// MCP server or a downstream app, and the linked-token grants it already has.
    Apps {
        /// Only apps of this type (`self_hosted`, `saas`, `mcp`, `ssh`, ...).
        #[arg(long = "type", value_name = "TYPE")]
        app_type: Option<String>,
        /// Listing format.
        #[arg(short, long, value_enum, default_value_t = crate::apps::Format::Text)]
        output: crate::apps::Format,
    },
    /// Write a manifest that declares every linked-token grant in effect in the account
    /// (grants a plain link cannot express are explained in comments).
    Import {
        /// Write the manifest to this file instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Explain, from the live account, which MCP servers' tokens each app accepts and
    /// through which policy, managed or not, against what the manifest declares.
    Check {
        #[command(flatten)]
        manifests: ManifestArgs,
        /// Only tokens of this MCP server app (name, uid or domain).
        #[arg(long, value_name = "SERVER")]
        from: Option<String>,
        /// Only this receiving app (name, uid or domain).
        #[arg(long, value_name = "APP")]
        to: Option<String>,
        /// Report format.
        #[arg(long, value_enum, default_value_t = crate::check::Format::Text)]
        output: crate::check::Format,
        /// Exit 1 when the account grants access the manifest does not declare.
        #[arg(long)]
        fail_on_undeclared: bool,
    },
    /// Keep the account in sync: reconcile now and every interval, serving /healthz,
    /// /readyz and /metrics; stop gracefully on SIGTERM or SIGINT.
    Run(RunArgs),
    /// The Cloudflare Access API simulator.
    #[command(subcommand)]
    Sim(SimArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    manifests: ManifestArgs,
    /// Time between two reconciles (the manifest is re-read each time).
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    interval: Duration,
    /// Random spread of the interval, up to 50%.
    #[arg(long, default_value = "10%")]
    jitter: crate::controller::Jitter,
    /// Address of the /healthz, /readyz and /metrics server.
    #[arg(long, default_value = "0.0.0.0:9090")]
    listen: std::net::SocketAddr,
    /// Reconcile once and exit with its result (no server).
    #[arg(long)]
    once: bool,
    /// How long a stop waits for writes in flight.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    grace_period: Duration,
    #[command(flatten)]
    adopt: AdoptArgs,
    #[command(flatten)]
    safety: crate::safety::SafetyArgs,
}

#[derive(Debug, Subcommand)]
enum SimArgs {
    /// Serve a simulated account until Ctrl-C; point `--api-url` (or
    /// `CLOUDFLARE_API_BASE_URL`) at the URL it prints. `--account-id` and
    /// `--rate-limit` set the simulated account's id and limit.
    Serve(SimServeArgs),
}

#[derive(Debug, Args)]
struct SimServeArgs {
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// JSON fixture `{"apps": [...], "policies": [...]}`; default: the demo account.
    #[arg(long, value_name = "FILE")]
    seed: Option<PathBuf>,
    /// The bearer token the simulator accepts.
    #[arg(long, value_name = "T", default_value = "sim-token")]
    token: String,
    /// Added to every response (overrides `latency=` in `--faults`).
    #[arg(long, value_parser = humantime::parse_duration)]
    latency: Option<Duration>,
    /// Injected faults, e.g. `jitter=10ms,error=0.1,reset=0.05,lost=0.1,slow=0.02:40s,seed=7`.
    #[arg(long, value_name = "SPEC", default_value = "")]
    faults: String,
    /// Server-side maximum `per_page` when listing apps.
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    apps_page_cap: u32,
    /// Server-side maximum `per_page` when listing policies.
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    policies_page_cap: u32,
}

impl CommandArgs {
    /// The command, with the output format and safety settings of those that have them.
    fn into_command(self) -> (Command, OutputFormat, Safety) {
        let mut output = OutputFormat::Text;
        let mut safety = Safety::default();
        let command = match self {
            CommandArgs::Validate(m) => Command::Validate { files: m.files },
            CommandArgs::Plan {
                manifests,
                output: o,
                out,
                adopt,
                safety: s,
            } => {
                (output, safety) = (o.output, s.into());
                Command::Reconcile {
                    files: manifests.files,
                    dry_run: true,
                    max_rounds: 1,
                    out,
                    adopt: adopt.adopt,
                }
            }
            CommandArgs::Reconcile {
                manifests,
                dry_run,
                max_rounds,
                output: o,
                adopt,
                safety: s,
            } => {
                (output, safety) = (o.output, s.into());
                Command::Reconcile {
                    files: manifests.files,
                    dry_run,
                    max_rounds,
                    out: None,
                    adopt: adopt.adopt,
                }
            }
            CommandArgs::Apply {
                plan,
                files,
                output: o,
                adopt,
                safety: s,
            } => {
                (output, safety) = (o.output, s.into());
                match plan {
                    Some(plan) => Command::ApplySaved { plan, files },
                    None => Command::Reconcile {
                        files,
                        dry_run: false,
                        max_rounds: 3,
                        out: None,
                        adopt,
                    },
                }
            }
            CommandArgs::Demo => Command::Demo,
            CommandArgs::Apps { app_type, output } => Command::Apps {
                app_type,
                format: output,
            },
            CommandArgs::Import { out } => Command::Import { out },
            CommandArgs::Check {
                manifests,
                from,
                to,
                output,
                fail_on_undeclared,
            } => Command::Check(crate::check::CheckOptions {
                files: manifests.files,
                from,
                to,
                format: output,
                fail_on_undeclared,
            }),
            // Needs the global options; handled in `into_config`.
            CommandArgs::Sim(SimArgs::Serve(_)) => {
                unreachable!("sim serve is built in into_config")
            }
            CommandArgs::Run(r) => Command::Run(crate::controller::RunOptions {
                files: r.manifests.files,
                interval: r.interval,
                jitter: r.jitter,
                listen: r.listen,
                once: r.once,
                grace_period: r.grace_period,
                backoff_base: crate::controller::BACKOFF_BASE,
                api_retry_deadline: crate::controller::api_retry_deadline(r.interval),
                adopt: r.adopt.adopt,
                safety: r.safety.into(),
            }),
        };
        (command, output, safety)
    }
}

impl Cli {
    /// Validates the arguments. `env` gives `CLOUDFLARE_API_TOKEN` (injected for tests).
    pub fn into_config(self, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, String> {
        let g = self.global;
        let token = match &g.api_token_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read --api-token-file {}: {e}", path.display()))?;
                let token = text.trim();
                if token.is_empty() {
                    return Err(format!("--api-token-file {} is empty", path.display()));
                }
                Some(SecretString::from(token.to_owned()))
            }
            None => env("CLOUDFLARE_API_TOKEN")
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .map(SecretString::from),
        };
        let base_url = g.api_url.trim_end_matches('/').to_owned();
        if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
            return Err(format!(
                "--api-url {base_url:?} must start with https:// (or http:// for a local simulator)"
            ));
        }
        if g.concurrency == 0 {
            return Err("--concurrency must be at least 1".into());
        }
        if let Some(owner) = &g.owner {
            crate::manifest::validate_owner(owner).map_err(|e| format!("--owner: {e}"))?;
        }
        let (command, output, safety) = match self.command {
            CommandArgs::Sim(SimArgs::Serve(args)) => (
                sim_serve(args, g.account_id.as_deref(), g.rate_limit)?,
                OutputFormat::Text,
                Safety::default(),
            ),
            other => other.into_command(),
        };
        if let Command::Run(run) = &command {
            if run.interval < Duration::from_secs(1) {
                return Err("--interval must be at least 1s".into());
            }
        }
        let log_level = match (g.quiet, g.verbose) {
            // The demo prints its own story on stdout; logs would only interleave.
            (true, _) | (false, 0) if matches!(command, Command::Demo) => tracing::Level::WARN,
            (true, _) => tracing::Level::WARN,
            (false, 0) => tracing::Level::INFO,
            (false, 1) => tracing::Level::DEBUG,
            (false, _) => tracing::Level::TRACE,
        };
        Ok(Config {
            command,
            api: ApiSettings {
                base_url,
                account_id: g.account_id.filter(|a| !a.trim().is_empty()),
                token,
                concurrency: g.concurrency,
                request_timeout: g.request_timeout,
                rate: g.rate_limit.unwrap_or(Rate {
                    requests: 1000,
                    per: Duration::from_secs(300),
                }),
                burst: g.burst,
                retry_deadline: g.retry_deadline,
                progress: !g.quiet && g.log_format == LogFormat::Text,
            },
            owner: g.owner,
            exit_code: g.exit_code,
            log_level,
            log_format: g.log_format,
            output,
            safety,
        })
    }
}

/// Validates `sim serve`: reads the seed, parses the faults.
fn sim_serve(
    args: SimServeArgs,
    account_id: Option<&str>,
    rate: Option<Rate>,
) -> Result<Command, String> {
    let seed = match &args.seed {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read --seed {}: {e}", path.display()))?;
            Seed::from_json(&text).map_err(|e| format!("--seed {}: {e}", path.display()))?
        }
        None => Seed::demo(),
    };
    let mut faults: Faults = args.faults.parse().map_err(|e| format!("--faults: {e}"))?;
    if let Some(latency) = args.latency {
        faults.latency = latency;
    }
    if args.token.trim().is_empty() {
        return Err("--token must not be empty".into());
    }
    let mut config = SimConfig {
        token: args.token,
        apps_page_cap: args.apps_page_cap as usize,
        policies_page_cap: args.policies_page_cap as usize,
        faults,
        ..SimConfig::default()
    };
    if let Some(account_id) = account_id.map(str::trim).filter(|a| !a.is_empty()) {
        account_id.clone_into(&mut config.account_id);
    }
    if let Some(rate) = rate {
        config.rate_limit = Some(RateLimit {
            requests: rate.requests,
            window: rate.per,
        });
    }
    Ok(Command::SimServe {
        listen: args.listen,
        config: Box::new(config),
        seed,
    })
}
