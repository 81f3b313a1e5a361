//! `mcp-access validate`: load and check the manifests, without the network.

use std::io::Write;
use std::path::PathBuf;

use super::Status;
use crate::Error;
use crate::manifest;

/// Loads the manifests and says what they hold.
pub(super) fn run(files: &[PathBuf]) -> Result<Status, Error> {
    let manifest = manifest::load(files)?;
    let downstream: usize = manifest.servers.iter().map(|s| s.downstream.len()).sum();
    let mut out = crate::output::stdout();
    writeln!(
        out,
        "Manifest is valid: {} file(s), {} server(s), {} downstream link(s). Apps are resolved against the account by `plan`.",
        manifest.files.len(),
        manifest.servers.len(),
        downstream
    )?;
    Ok(Status::Ok)
}
