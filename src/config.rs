//! The validated configuration of one invocation: what [`crate::cli`] parses the
//! arguments into and [`crate::commands`] runs. Real types only (paths, durations, the
//! token as a secret); every check on the arguments has passed.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::ValueEnum;

use crate::check::CheckOptions;
use crate::cloudflare::ApiSettings;
use crate::controller::RunOptions;
use crate::output::OutputFormat;
use crate::plan::PlanOptions;
use crate::safety::Safety;
use crate::sim::{Seed, SimConfig};

/// What to do, validated.
#[derive(Debug)]
pub enum Command {
    /// `validate`.
    Validate {
        /// Manifest paths.
        files: Vec<PathBuf>,
    },
    /// `plan`, `reconcile`, and `apply` without a saved plan.
    Reconcile {
        /// Manifest paths.
        files: Vec<PathBuf>,
        /// Write nothing.
        dry_run: bool,
        /// Round limit.
        max_rounds: u32,
        /// `plan --out`: where to save the plan.
        out: Option<PathBuf>,
        /// `--convert-legacy` and the planner's other choices.
        plan: PlanOptions,
        /// `--adopt`: take hand-made grants over (or'ed with the manifest's `adopt`).
        adopt: bool,
    },
    /// `apply PLAN`.
    ApplySaved {
        /// The saved plan.
        plan: PathBuf,
        /// Manifests to check the plan against (may be empty).
        files: Vec<PathBuf>,
    },
    /// `demo`.
    Demo,
    /// `apps`.
    Apps {
        /// `--type`.
        app_type: Option<String>,
        /// `--output`.
        format: crate::apps::Format,
    },
    /// `import`.
    Import {
        /// `--out`: the file to write; stdout when `None`.
        out: Option<PathBuf>,
    },
    /// `check`.
    Check(CheckOptions),
    /// `run`.
    Run(RunOptions),
    /// `completions`.
    Completions {
        /// For which shell.
        shell: clap_complete::Shell,
        /// The command line to complete (this program's clap definition).
        cli: Box<clap::Command>,
    },
    /// `man`.
    Man {
        /// Where to write every page; `None`: print the main page.
        dir: Option<PathBuf>,
        /// The command line to document (this program's clap definition).
        cli: Box<clap::Command>,
    },
    /// `sim serve`.
    SimServe {
        /// Where to listen.
        listen: SocketAddr,
        /// How the simulator behaves.
        config: Box<SimConfig>,
        /// What the account holds at start.
        seed: Seed,
    },
}

/// The validated configuration of one invocation.
#[derive(Debug)]
pub struct Config {
    /// The command.
    pub command: Command,
    /// API access.
    pub api: ApiSettings,
    /// `--owner`.
    pub owner: Option<String>,
    /// `--exit-code`.
    pub exit_code: bool,
    /// Log level filter for our crate.
    pub log_level: tracing::Level,
    /// Log format.
    pub log_format: LogFormat,
    /// `--output`.
    pub output: OutputFormat,
    /// `--policy`, `--max-delete-percent`, `--force`, `--allow-empty`.
    pub safety: Safety,
    /// Scrubs the token from everything printed (plans, reports).
    pub redactor: crate::redact::Redactor,
    /// Said once on stderr when logging starts (a token file others can read).
    pub warnings: Vec<String>,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}
