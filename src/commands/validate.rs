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
    let selectors: usize = manifest.servers.iter().map(|s| s.selectors.len()).sum();
    let mut out = crate::output::stdout();
    writeln!(
        out,
        "Manifest is valid: {} file(s), {} server(s), {} downstream link(s). Apps are resolved against the account by `plan`.",
        manifest.files.len(),
        manifest.servers.len(),
        downstream
    )?;
    // NOTE: validate never calls the API, so it cannot know what a selector matches;
    // `plan` warns about a selector that matches no app (an error with `--strict`).
    if selectors > 0 {
        writeln!(
            out,
            "{selectors} selector(s) pick downstream apps by tag, name or domain; `plan` says what each matches and warns when one matches no app (an error with --strict)."
        )?;
    }
    Ok(Status::Ok)
}
