//! Command-line arguments in two stages: the raw clap structs, then a validated
//! [`Config`] of real types (token as a secret, durations parsed, URL checked) before
//! any work starts. Only the binary uses this module; everything else takes a
//! [`Config`] or the settings types it holds.
//!
//! Each command takes only the flags it uses, in groups shared through
//! `#[command(flatten)]` and shown under one heading each in `--help`: "Manifest",
//! "Output", "Safety", "Cloudflare API", "API client", and the global "Logging" flags.
//! A new flag goes into the group whose heading describes it, so every command that
//! has the group gets it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, CommandFactory, Parser, Subcommand};

use crate::check::{CheckOptions, Format as CheckFormat};
use crate::cloudflare::{ApiSettings, DEFAULT_BASE_URL, Rate};
use crate::config::{Command, Config, LogFormat};
use crate::controller::settings_file::SettingsFile;
use crate::controller::{BACKOFF_BASE, Jitter, RunMode, RunOptions, api_retry_deadline};
use crate::notify::{Format as NotifyFormat, NotifySettings, Target};
use crate::output::OutputFormat;
use crate::plan::PlanOptions;
use crate::safety::{Safety, SyncPolicy};
use crate::sim::{Faults, RateLimit, Seed, SimConfig};

/// Reconcile Cloudflare Access "Linked App Token" policies: which MCP servers may call
/// which internal apps with the user's identity.
#[derive(Debug, Parser)]
#[command(name = "mcp-access", version = crate::build_info::VERSION_LINE, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: CommandArgs,
    #[command(flatten)]
    logging: LoggingArgs,
}

/// Where logs go and how many; every command has them.
#[derive(Debug, Args)]
#[command(next_help_heading = "Logging")]
struct LoggingArgs {
    /// More logs on stderr (-v debug, -vv trace).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    verbose: u8,
    /// Only warnings and errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Log format on stderr.
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
}

/// The manifests to read.
#[derive(Debug, Args)]
#[command(next_help_heading = "Manifest")]
struct ManifestArgs {
    /// Manifest file or directory (every *.yaml / *.yml in it); repeatable.
    #[arg(short = 'f', long = "file", value_name = "PATH", required = true)]
    files: Vec<PathBuf>,
}

/// Whose policies these are; for the commands that resolve the manifest against the
/// account.
#[derive(Debug, Args)]
#[command(next_help_heading = "Manifest")]
struct OwnerArgs {
    /// Ownership id; overrides the manifest's `owner`.
    #[arg(long, value_name = "ID")]
    owner: Option<String>,
}

/// Choices the planner takes beyond the manifest (`plan`, `reconcile`, `apply`, `run`).
#[derive(Debug, Args)]
#[command(next_help_heading = "Planning")]
struct PlanningArgs {
    /// Convert legacy (app-scoped) policies on the apps the plan changes to reusable
    /// ones first (same id, rules and precedence; they stay unmanaged). Without it,
    /// those app changes are blocked: an app update would delete legacy policies.
    #[arg(long)]
    convert_legacy: bool,
    /// Reusable policies the account may have; a plan that would create past it is
    /// refused before any write. Raise it only if Cloudflare raised your account's
    /// limit.
    #[arg(long, value_name = "N", default_value_t = crate::plan::POLICY_LIMIT)]
    policy_limit: usize,
}

impl From<PlanningArgs> for PlanOptions {
    fn from(a: PlanningArgs) -> Self {
        Self {
            convert_legacy: a.convert_legacy,
            policy_limit: a.policy_limit,
            // `--adopt` reaches the planner through the manifest (`Manifest::adopt`).
            adopt: false,
        }
    }
}

/// `--adopt`, for the commands that plan.
#[derive(Debug, Args)]
#[command(next_help_heading = "Manifest")]
struct AdoptArgs {
    /// Take over hand-made grants of the manifest's servers instead of duplicating them
    /// (same as `adopt: true` in the manifest); see docs/adopting.md.
    #[arg(long)]
    adopt: bool,
}

/// How a plan is shown.
#[derive(Debug, Args)]
#[command(next_help_heading = "Output")]
struct OutputArgs {
    /// Format of the plan on stdout (exit codes are the same in every format).
    #[arg(short, long, value_name = "FORMAT", value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
}

/// `--exit-code`, for the commands that can stop at a plan.
#[derive(Debug, Args)]
#[command(next_help_heading = "Output")]
struct ExitCodeArgs {
    /// Exit 2 when the plan has changes (0 when it has none, 1 on any error).
    #[arg(long)]
    exit_code: bool,
}

/// The safety rails between a plan and the writes.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Safety")]
struct SafetyArgs {
    /// `sync` makes the account match; `upsert-only` never detaches and never deletes.
    #[arg(long, value_enum, default_value_t = SyncPolicy::Sync)]
    policy: SyncPolicy,
    /// Refuse a plan that detaches more than this share of the managed links (checked
    /// once at least 10 exist).
    #[arg(long, value_name = "PERCENT", default_value_t = 30, value_parser = clap::value_parser!(u8).range(0..=100))]
    max_delete_percent: u8,
    /// Apply a plan over --max-delete-percent anyway.
    #[arg(long)]
    force: bool,
    /// Allow a plan that removes every managed policy (the manifest names no server).
    #[arg(long)]
    allow_empty: bool,
    /// Refuse a plan that adds more than N links at once (default: no limit).
    #[arg(long, value_name = "N")]
    max_attach: Option<usize>,
    /// Make selector warnings errors: a selector that matches no app stops the plan.
    #[arg(long)]
    strict: bool,
}

impl From<SafetyArgs> for Safety {
    fn from(a: SafetyArgs) -> Self {
        Self {
            policy: a.policy,
            max_delete_percent: a.max_delete_percent,
            force: a.force,
            allow_empty: a.allow_empty,
            max_attach: a.max_attach,
            strict: a.strict,
        }
    }
}

/// Which account, with which token, at which URL; for the commands that read or write
/// the account.
///
/// NOTE: the environment variables are read in [`Cli::into_config`], not by clap: clap
/// would print a value taken from the environment in the usage line of an unrelated
/// error, as if the flag were required.
#[derive(Debug, Args)]
#[command(next_help_heading = "Cloudflare API")]
struct ApiArgs {
    // `help = ...` rather than doc comments: the `[env: ...]` notes follow clap's own
    // style, without Markdown.
    #[arg(
        long,
        value_name = "ID",
        help = "Cloudflare account id; wins over the manifest's `account_id` [env: CLOUDFLARE_ACCOUNT_ID]"
    )]
    account_id: Option<String>,
    #[arg(
        long,
        value_name = "PATH",
        help = "Read the API token from this file instead of the environment [env: CLOUDFLARE_API_TOKEN]"
    )]
    api_token_file: Option<PathBuf>,
    #[arg(
        long,
        value_name = "URL",
        help = "API base URL; point it at `mcp-access sim serve` to test [env: CLOUDFLARE_API_BASE_URL] [default: https://api.cloudflare.com/client/v4]"
    )]
    api_url: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

/// How hard the client may push the API.
#[derive(Debug, Args)]
#[command(next_help_heading = "API client")]
struct ClientArgs {
    /// API requests in flight at most.
    #[arg(long, value_name = "N", default_value_t = 4)]
    concurrency: usize,
    /// Timeout of one API request.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    request_timeout: Duration,
    /// The client's sustained request rate, under the account's limit of 1200/300s
    /// shared with the dashboard and other tools.
    #[arg(long, value_name = "REQUESTS/DURATION", default_value = "1000/300s")]
    rate_limit: Rate,
    /// Requests allowed in a burst before the sustained rate applies.
    #[arg(long, value_name = "N", default_value_t = 200)]
    burst: u32,
    /// Total time one API request may spend retrying, waits included (long enough to
    /// wait out a 5-minute rate-limit block). Connection failures get only ~10 s.
    #[arg(long, value_name = "DURATION", default_value = "6m", value_parser = humantime::parse_duration)]
    retry_deadline: Duration,
    /// Longest silence while waiting for or reading an API response; a stalled
    /// response is retried.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = humantime::parse_duration)]
    read_timeout: Duration,
    /// Largest API response read (e.g. 64MiB); a larger one is an error.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = crate::cloudflare::parse_size)]
    max_response_size: u64,
    /// Most items one API list (apps, policies) may hold. Cloudflare's standard limit
    /// is 500 of each; raise this for an account with more.
    #[arg(long, value_name = "N", default_value_t = crate::cloudflare::DEFAULT_MAX_LIST_ITEMS)]
    max_list_items: usize,
}

#[derive(Debug, Subcommand)]
enum CommandArgs {
    /// Check manifests offline, without calling the API.
    Validate(ManifestArgs),
    /// Show what reconcile would change, writing nothing.
    ///
    /// The same as `reconcile --dry-run`. `--out` saves the plan for `apply`.
    Plan(PlanArgs),
    /// Apply a saved plan, or reconcile.
    ///
    /// With PLAN (from `plan --out`): apply exactly that plan, refused when the account
    /// changed since it was made. Without: the same as `reconcile`.
    Apply(ApplyArgs),
    /// Make the account match the manifests.
    ///
    /// Plan, apply, re-read and plan again, until the plan is empty (at most
    /// --max-rounds applies).
    Reconcile(ReconcileArgs),
    /// Show which MCP servers can reach which apps, and through which policy.
    ///
    /// Read from the live account, managed or not, against what the manifest declares.
    Check(CheckArgs),
    /// Reconcile continuously, serving health and metrics.
    ///
    /// Reconcile now and every interval, serving /healthz, /readyz and /metrics; stop
    /// gracefully on SIGTERM or SIGINT.
    Run(RunArgs),
    /// List the account's apps, to write a first manifest.
    ///
    /// Each app's name, type, domain and uid, whether it can be an MCP server or a
    /// downstream app, and the linked-token grants it already has.
    Apps(AppsArgs),
    /// Write a manifest of every linked-token grant in effect in the account.
    ///
    /// Sorted YAML on stdout (or `--out`) that passes `validate`; grants a plain link
    /// cannot express are explained in comments. Then `plan --adopt` takes the
    /// hand-made policies over.
    Import(ImportArgs),
    /// Try it without a Cloudflare account: adopt, plan, reconcile, drift repair.
    ///
    /// Against a built-in simulated account with a grant made by hand: plan and
    /// reconcile with --adopt (the hand-made grant is taken over, not duplicated), plan
    /// again (nothing to do), then repair drift made as if in the dashboard (a detached
    /// policy, a policy edited by hand).
    Demo,
    /// Run the Cloudflare Access API simulator.
    #[command(subcommand)]
    Sim(SimArgs),
    /// Print a shell completion script.
    ///
    /// For bash, zsh, fish, PowerShell or elvish, e.g. `mcp-access completions bash >
    /// ~/.local/share/bash-completion/completions/mcp-access`.
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page.
    ///
    /// The main page in roff on stdout (`mcp-access man | man -l -`); with `--dir`, one
    /// page per command written there (`mcp-access.1`, `mcp-access-plan.1`, ...).
    Man {
        /// Directory to write every page to, instead of printing the main one.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
struct PlanArgs {
    #[command(flatten)]
    manifests: ManifestArgs,
    #[command(flatten)]
    owner: OwnerArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    exit_code: ExitCodeArgs,
    /// Also save the plan (JSON, with the account's fingerprint) for `apply`.
    #[arg(long, value_name = "PATH", help_heading = "Output")]
    out: Option<PathBuf>,
    #[command(flatten)]
    adopt: AdoptArgs,
    #[command(flatten)]
    safety: SafetyArgs,
    #[command(flatten)]
    planning: PlanningArgs,
    #[command(flatten)]
    api: ApiArgs,
}

#[derive(Debug, Args)]
struct ReconcileArgs {
    #[command(flatten)]
    manifests: ManifestArgs,
    #[command(flatten)]
    owner: OwnerArgs,
    /// Plan only; write nothing.
    #[arg(long, help_heading = None)]
    dry_run: bool,
    /// Give up when the account has not converged after this many applies.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..), help_heading = None)]
    max_rounds: u32,
    #[command(flatten)]
    adopt: AdoptArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    exit_code: ExitCodeArgs,
    #[command(flatten)]
    safety: SafetyArgs,
    #[command(flatten)]
    planning: PlanningArgs,
    #[command(flatten)]
    api: ApiArgs,
}

#[derive(Debug, Args)]
struct ApplyArgs {
    /// A plan saved by `plan --out`.
    #[arg(value_name = "PLAN", help_heading = None)]
    plan: Option<PathBuf>,
    /// Manifest file or directory; repeatable. With a saved plan, checked to be the
    /// ones it was made from.
    #[arg(
        short = 'f',
        long = "file",
        value_name = "PATH",
        required_unless_present = "plan",
        help_heading = "Manifest"
    )]
    files: Vec<PathBuf>,
    #[command(flatten)]
    owner: OwnerArgs,
    /// Take over hand-made grants of the manifest's servers (without PLAN; a saved
    /// plan already says what it adopts).
    #[arg(long, conflicts_with = "plan", help_heading = "Manifest")]
    adopt: bool,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    safety: SafetyArgs,
    #[command(flatten)]
    planning: PlanningArgs,
    #[command(flatten)]
    api: ApiArgs,
}

#[derive(Debug, Args)]
struct CheckArgs {
    #[command(flatten)]
    manifests: ManifestArgs,
    #[command(flatten)]
    owner: OwnerArgs,
    /// Only tokens of this MCP server app (name, uid or domain).
    #[arg(long, value_name = "SERVER", help_heading = None)]
    from: Option<String>,
    /// Only this receiving app (name, uid or domain).
    #[arg(long, value_name = "APP", help_heading = None)]
    to: Option<String>,
    /// Format of the report on stdout.
    #[arg(short, long, value_name = "FORMAT", value_enum, default_value_t = CheckFormat::Text, help_heading = "Output")]
    output: CheckFormat,
    /// Exit 1 when the account grants access the manifest does not declare.
    #[arg(long, help_heading = "Output")]
    fail_on_undeclared: bool,
    #[command(flatten)]
    api: ApiArgs,
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    manifests: ManifestArgs,
    #[command(flatten)]
    owner: OwnerArgs,
    #[command(flatten)]
    adopt: AdoptArgs,
    #[command(flatten)]
    controller: ControllerArgs,
    #[command(flatten)]
    notify: NotifyArgs,
    #[command(flatten)]
    safety: SafetyArgs,
    #[command(flatten)]
    planning: PlanningArgs,
    #[command(flatten)]
    api: ApiArgs,
}

#[derive(Debug, Args)]
struct AppsArgs {
    /// Only apps of this type (`self_hosted`, `saas`, `mcp`, `ssh`, ...).
    #[arg(long = "type", value_name = "TYPE", help_heading = None)]
    app_type: Option<String>,
    /// Format of the listing on stdout.
    #[arg(short, long, value_name = "FORMAT", value_enum, default_value_t = crate::apps::Format::Text, help_heading = "Output")]
    output: crate::apps::Format,
    #[command(flatten)]
    api: ApiArgs,
}

#[derive(Debug, Args)]
struct ImportArgs {
    /// Ownership id written into the manifest (default: `default`).
    #[arg(long, value_name = "ID", help_heading = "Manifest")]
    owner: Option<String>,
    /// Write the manifest to this file instead of stdout.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    out: Option<PathBuf>,
    #[command(flatten)]
    api: ApiArgs,
}

/// The schedule and the ops server of `run`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Controller")]
struct ControllerArgs {
    /// `heal` repairs drift; `observe` only reports it (logs, metrics, /readyz,
    /// notifications) and never writes.
    #[arg(long, value_enum, default_value_t = RunMode::Heal)]
    mode: RunMode,
    /// Controller settings file (YAML, `${VAR}` expanded): `notify:` targets.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Time between two reconciles (the manifest is re-read each time); at least 1s.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = humantime::parse_duration)]
    interval: Duration,
    /// Random spread of the interval, up to 50%.
    #[arg(long, value_name = "PERCENT", default_value = "10%")]
    jitter: Jitter,
    /// Address of the /healthz, /readyz and /metrics server.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:9090")]
    listen: SocketAddr,
    /// Reconcile once and exit with its result (no server).
    #[arg(long)]
    once: bool,
    /// How long a stop waits for writes in flight.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    grace_period: Duration,
}

/// Where `run` sends notifications (drift, failing streaks, recoveries).
#[derive(Debug, Args)]
#[command(next_help_heading = "Notifications")]
struct NotifyArgs {
    /// Webhook to POST events to; repeatable. A URL with a secret path is better
    /// given in --config through an environment variable.
    #[arg(long, value_name = "URL")]
    notify: Vec<String>,
    /// Body sent to the --notify URLs: the generic JSON event or a Slack message.
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = NotifyFormat::Json)]
    notify_format: NotifyFormat,
    /// Failures in a row (refusals included) before a `reconcile_failing` event
    /// [default: 3, or the --config file's `notify.after`]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    notify_after: Option<u32>,
}

impl NotifyArgs {
    /// The flags and the settings file together; the flags' targets come first.
    fn into_settings(self, file: SettingsFile) -> Result<NotifySettings, String> {
        let mut targets = self
            .notify
            .iter()
            .map(|url| Target::parse(url, self.notify_format).map_err(|e| format!("--notify: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        targets.extend(file.targets);
        Ok(NotifySettings {
            targets,
            after: self
                .notify_after
                .or(file.after)
                .unwrap_or(crate::notify::DEFAULT_AFTER),
            ..NotifySettings::default()
        })
    }
}

#[derive(Debug, Subcommand)]
enum SimArgs {
    /// Serve a simulated account until Ctrl-C; point `--api-url` (or
    /// `CLOUDFLARE_API_BASE_URL`) at the URL it prints.
    Serve(SimServeArgs),
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Simulator")]
struct SimServeArgs {
    /// Address to listen on (port 0: any free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// JSON fixture `{"apps": [...], "policies": [...]}`; default: the demo account.
    #[arg(long, value_name = "FILE")]
    seed: Option<PathBuf>,
    /// The account id the simulator serves (requests for others get 403).
    #[arg(
        long,
        value_name = "ID",
        default_value = "0123456789abcdef0123456789abcdef"
    )]
    account_id: String,
    /// The bearer token the simulator accepts.
    #[arg(long, value_name = "TOKEN", default_value = "sim-token")]
    token: String,
    /// The simulated account's limit per token and window, as Cloudflare's; over it,
    /// 429 with Retry-After.
    #[arg(long, value_name = "REQUESTS/DURATION", default_value = "1200/300s")]
    rate_limit: Rate,
    /// Added to every response (overrides `latency=` in `--faults`).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
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
    /// Store policy rules normalised, as an API might: empty lists as null, rules and
    /// keys reordered, empty selectors added (same meaning, other bytes).
    #[arg(long)]
    normalise_rules: bool,
    /// Return write-only secrets (SCIM credentials, an OIDC SaaS app's client secret)
    /// on reads; by default they are never returned, the worst case.
    #[arg(long)]
    reveal_secrets: bool,
    /// Leave this reusable policy out of the policy list (still linked and served by
    /// id), as a list that missed it would; repeatable.
    #[arg(long, value_name = "ID")]
    unlisted_policy: Vec<String>,
    /// Reusable policies the simulated account may have (Cloudflare's limit is 500);
    /// 0: no limit.
    #[arg(long, value_name = "N", default_value_t = 500)]
    policy_limit: usize,
    /// Requests another client of the same user spends at the start of every
    /// rate-limit window (the budget is shared, as Cloudflare's is).
    #[arg(long, value_name = "N", default_value_t = 0)]
    rate_limit_spent: u32,
    /// Deliberate misbehaviour, never the real API's: e.g.
    /// `repeat-last-page=policies,total=apps:1000000000,always-429=0` (every item is
    /// listed in docs/simulator.md).
    #[arg(long, value_name = "SPEC", default_value = "")]
    misbehave: String,
}

/// The parts of a [`Config`] that only some commands set; the rest keep their
/// defaults.
#[derive(Default)]
struct Parts {
    api: Option<ApiArgs>,
    owner: Option<String>,
    exit_code: bool,
    output: OutputFormat,
    safety: Safety,
}

impl Cli {
    /// Validates the arguments. `env` gives the environment (`CLOUDFLARE_API_TOKEN`,
    /// `CLOUDFLARE_ACCOUNT_ID`, `CLOUDFLARE_API_BASE_URL`); tests inject it.
    pub fn into_config(self, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, String> {
        let (command, parts) = self.command.into_command(env)?;
        let logging = self.logging;
        if let Some(owner) = &parts.owner {
            crate::manifest::validate_owner(owner).map_err(|e| format!("--owner: {e}"))?;
        }
        let progress = !logging.quiet && logging.log_format == LogFormat::Text;
        let mut warnings = Vec::new();
        let api = match parts.api {
            Some(api) => {
                let (api, warning) = api.into_settings(env, progress)?;
                warnings.extend(warning);
                api
            }
            None => ApiSettings::default(),
        };
        let log_level = match (logging.quiet, logging.verbose) {
            // The demo prints its own story on stdout; logs would only interleave.
            (true, _) | (false, 0) if matches!(command, Command::Demo) => tracing::Level::WARN,
            (true, _) => tracing::Level::WARN,
            (false, 0) => tracing::Level::INFO,
            (false, 1) => tracing::Level::DEBUG,
            (false, _) => tracing::Level::TRACE,
        };
        // Besides the token: the notification URLs' secret paths never reach a log.
        let mut secrets: Vec<String> = api
            .token
            .iter()
            .map(|t| secrecy::ExposeSecret::expose_secret(t).to_owned())
            .collect();
        if let Command::Run(options) = &command {
            secrets.extend(options.notify.targets.iter().flat_map(Target::secrets));
        }
        Ok(Config {
            redactor: crate::redact::Redactor::new(secrets),
            command,
            api,
            owner: parts.owner,
            exit_code: parts.exit_code,
            log_level,
            log_format: logging.log_format,
            output: parts.output,
            safety: parts.safety,
            warnings,
        })
    }
}

impl CommandArgs {
    /// The command, and the settings of the groups it has. `env` expands `${VAR}` in a
    /// controller settings file.
    fn into_command(
        self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(Command, Parts), String> {
        Ok(match self {
            CommandArgs::Validate(m) => (Command::Validate { files: m.files }, Parts::default()),
            CommandArgs::Plan(a) => (
                Command::Reconcile {
                    files: a.manifests.files,
                    dry_run: true,
                    max_rounds: 1,
                    out: a.out,
                    plan: a.planning.into(),
                    adopt: a.adopt.adopt,
                },
                Parts {
                    api: Some(a.api),
                    owner: a.owner.owner,
                    exit_code: a.exit_code.exit_code,
                    output: a.output.output,
                    safety: a.safety.into(),
                },
            ),
            CommandArgs::Reconcile(a) => (
                Command::Reconcile {
                    files: a.manifests.files,
                    dry_run: a.dry_run,
                    max_rounds: a.max_rounds,
                    out: None,
                    plan: a.planning.into(),
                    adopt: a.adopt.adopt,
                },
                Parts {
                    api: Some(a.api),
                    owner: a.owner.owner,
                    exit_code: a.exit_code.exit_code,
                    output: a.output.output,
                    safety: a.safety.into(),
                },
            ),
            CommandArgs::Apply(a) => (
                match a.plan {
                    Some(plan) => Command::ApplySaved {
                        plan,
                        files: a.files,
                    },
                    None => Command::Reconcile {
                        files: a.files,
                        dry_run: false,
                        max_rounds: 3,
                        out: None,
                        plan: a.planning.into(),
                        adopt: a.adopt,
                    },
                },
                Parts {
                    api: Some(a.api),
                    owner: a.owner.owner,
                    output: a.output.output,
                    safety: a.safety.into(),
                    ..Parts::default()
                },
            ),
            CommandArgs::Check(a) => (
                Command::Check(CheckOptions {
                    files: a.manifests.files,
                    from: a.from,
                    to: a.to,
                    format: a.output,
                    fail_on_undeclared: a.fail_on_undeclared,
                }),
                Parts {
                    api: Some(a.api),
                    owner: a.owner.owner,
                    ..Parts::default()
                },
            ),
            CommandArgs::Run(a) => a.into_command(env)?,
            CommandArgs::Apps(a) => a.into_command(),
            CommandArgs::Import(a) => a.into_command(),
            CommandArgs::Demo => (Command::Demo, Parts::default()),
            CommandArgs::Completions { shell } => {
                reference(|cli| Command::Completions { shell, cli })
            }
            CommandArgs::Man { dir } => reference(|cli| Command::Man { dir, cli }),
            CommandArgs::Sim(SimArgs::Serve(a)) => (a.into_command()?, Parts::default()),
        })
    }
}

impl RunArgs {
    /// `run`: the schedule, the mode, the notification targets (flags and settings
    /// file).
    fn into_command(
        self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(Command, Parts), String> {
        let c = self.controller;
        if c.interval < Duration::from_secs(1) {
            return Err("--interval must be at least 1s".into());
        }
        let file = match &c.config {
            Some(path) => SettingsFile::read(path, env)?,
            None => SettingsFile::default(),
        };
        Ok((
            Command::Run(RunOptions {
                mode: c.mode,
                notify: self.notify.into_settings(file)?,
                files: self.manifests.files,
                interval: c.interval,
                jitter: c.jitter,
                listen: c.listen,
                once: c.once,
                grace_period: c.grace_period,
                backoff_base: BACKOFF_BASE,
                api_retry_deadline: api_retry_deadline(c.interval),
                adopt: self.adopt.adopt,
                safety: self.safety.into(),
                plan: self.planning.into(),
            }),
            Parts {
                api: Some(self.api),
                owner: self.owner.owner,
                ..Parts::default()
            },
        ))
    }
}

impl AppsArgs {
    fn into_command(self) -> (Command, Parts) {
        let command = Command::Apps {
            app_type: self.app_type,
            format: self.output,
        };
        let parts = Parts {
            api: Some(self.api),
            ..Parts::default()
        };
        (command, parts)
    }
}

impl ImportArgs {
    fn into_command(self) -> (Command, Parts) {
        let parts = Parts {
            api: Some(self.api),
            owner: self.owner,
            ..Parts::default()
        };
        (Command::Import { out: self.out }, parts)
    }
}

/// `completions` and `man`: a command that documents this command line, and no
/// settings.
fn reference(command: impl FnOnce(Box<clap::Command>) -> Command) -> (Command, Parts) {
    (command(Box::new(Cli::command())), Parts::default())
}

impl ApiArgs {
    /// Validates the API flags, the environment filling in what they leave out. Also
    /// returns a warning to log once (a token file others can read).
    fn into_settings(
        self,
        env: &dyn Fn(&str) -> Option<String>,
        progress: bool,
    ) -> Result<(ApiSettings, Option<String>), String> {
        let env = |name| env(name).filter(|v: &String| !v.trim().is_empty());
        let token = match &self.api_token_file {
            Some(path) => Some(crate::token::from_file(path)?),
            None => crate::token::from_env(env("CLOUDFLARE_API_TOKEN"))?,
        };
        let (token, warning) = match token {
            Some(t) => (Some(t.secret), t.warning),
            None => (None, None),
        };
        let base_url = self
            .api_url
            .or_else(|| env("CLOUDFLARE_API_BASE_URL"))
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        let base_url = base_url.trim().trim_end_matches('/').to_owned();
        if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
            return Err(format!(
                "--api-url {base_url:?} must start with https:// (or http:// for a local simulator)"
            ));
        }
        let client = self.client;
        if client.concurrency == 0 {
            return Err("--concurrency must be at least 1".into());
        }
        if client.max_list_items == 0 || client.read_timeout.is_zero() {
            return Err("--max-list-items and --read-timeout must be above zero".into());
        }
        Ok((
            ApiSettings {
                base_url,
                account_id: self
                    .account_id
                    .filter(|a| !a.trim().is_empty())
                    .or_else(|| env("CLOUDFLARE_ACCOUNT_ID"))
                    .map(|a| a.trim().to_owned()),
                token,
                concurrency: client.concurrency,
                request_timeout: client.request_timeout,
                rate: client.rate_limit,
                burst: client.burst,
                retry_deadline: client.retry_deadline,
                read_timeout: client.read_timeout,
                max_response_bytes: client.max_response_size,
                max_list_items: client.max_list_items,
                progress,
            },
            warning,
        ))
    }
}

impl SimServeArgs {
    /// Validates `sim serve`: reads the seed, parses the faults.
    fn into_command(self) -> Result<Command, String> {
        let seed = match &self.seed {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read --seed {}: {e}", path.display()))?;
                Seed::from_json(&text).map_err(|e| format!("--seed {}: {e}", path.display()))?
            }
            None => Seed::demo(),
        };
        let mut faults: Faults = self.faults.parse().map_err(|e| format!("--faults: {e}"))?;
        if let Some(latency) = self.latency {
            faults.latency = latency;
        }
        if self.token.trim().is_empty() {
            return Err("--token must not be empty".into());
        }
        let account_id = self.account_id.trim();
        if account_id.is_empty() {
            return Err("--account-id must not be empty".into());
        }
        let misbehave = self
            .misbehave
            .parse()
            .map_err(|e| format!("--misbehave: {e}"))?;
        if !crate::cloudflare::is_account_id(account_id) {
            return Err(format!(
                "--account-id {account_id:?}: a Cloudflare account id is 32 hexadecimal characters"
            ));
        }
        // New simulator switches keep their defaults here until they get a flag.
        #[allow(clippy::needless_update)]
        let config = SimConfig {
            token: self.token,
            rate_limit_spent: self.rate_limit_spent,
            misbehave,
            account_id: account_id.to_owned(),
            apps_page_cap: self.apps_page_cap as usize,
            policies_page_cap: self.policies_page_cap as usize,
            faults,
            normalise_rules: self.normalise_rules,
            reveal_secrets: self.reveal_secrets,
            unlisted_policies: self.unlisted_policy,
            policy_limit: (self.policy_limit > 0).then_some(self.policy_limit),
            rate_limit: Some(RateLimit {
                requests: self.rate_limit.requests,
                window: self.rate_limit.per,
            }),
            ..SimConfig::default()
        };
        Ok(Command::SimServe {
            listen: self.listen,
            config: Box::new(config),
            seed,
        })
    }
}
