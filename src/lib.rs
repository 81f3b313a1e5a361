//! mcp-access: reconcile Cloudflare Access "Linked App Token" policies from a manifest
//! of MCP servers and the internal apps they may call with the user's identity.
//!
//! The pure core is [`manifest`] (desired state) and [`plan`] (the diff and its
//! renderers); [`cloudflare`], [`apply`] and [`sim`] are the I/O edges.
//!
//! Dependencies point one way: the binary parses arguments with [`cli`] into a
//! [`config::Config`]; [`commands`] runs it with the library below; nothing below the
//! command layer imports `cli` or `commands` (`tests/layout.rs` checks it).

pub mod apply;
pub mod apps;
pub mod build_info;
pub mod check;
pub mod cli;
pub mod cloudflare;
pub mod commands;
pub mod config;
pub mod controller;
pub mod error_report;
pub mod forward;
#[doc(hidden)]
pub mod fuzzing;
pub mod github;
pub mod grants;
pub mod html;
pub mod import;
pub mod inventory;
pub mod manifest;
pub mod notify;
pub mod output;
pub mod plan;
pub mod reconcile;
pub mod redact;
pub mod safety;
pub mod saved_plan;
pub mod sim;
pub mod token;

pub use commands::{Status, run};

/// Everything that can end an invocation with an error. The binary renders it with
/// miette: manifest problems with file, line and snippet; API errors with the request
/// and the Cloudflare code.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    /// The manifest is invalid or does not resolve; nothing was written.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Manifest(#[from] manifest::ManifestError),
    /// A Cloudflare API call failed.
    #[error(transparent)]
    Api(#[from] cloudflare::Error),
    /// Reconcile could not converge, or was cancelled.
    #[error(transparent)]
    Reconcile(reconcile::ReconcileError),
    /// A saved plan could not be applied (stale, refused, unreadable); nothing was
    /// written unless it says so.
    #[error(transparent)]
    SavedPlan(#[from] saved_plan::SavedPlanError),
    /// Bad arguments or environment.
    #[error("{0}")]
    Config(String),
    /// `check --fail-on-undeclared` found access the manifest does not declare.
    #[error("{0}")]
    UndeclaredAccess(String),
    /// Everything else was applied, but some app changes are blocked (legacy
    /// policies, write-only secrets): the message names the links not made.
    #[error("{0}")]
    Blocked(String),
    /// Writing output failed.
    #[error("output: {0}")]
    Io(#[from] std::io::Error),
}

impl From<cloudflare::MissingSetting> for Error {
    fn from(e: cloudflare::MissingSetting) -> Self {
        Error::Config(e.to_string())
    }
}

impl From<reconcile::ReconcileError> for Error {
    fn from(e: reconcile::ReconcileError) -> Self {
        match e {
            reconcile::ReconcileError::Manifest(m) => Error::Manifest(m),
            reconcile::ReconcileError::Read(a) => Error::Api(a),
            other => Error::Reconcile(other),
        }
    }
}
