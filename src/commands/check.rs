//! `mcp-access check`: load the manifest, read the account, resolve `--from` / `--to`,
//! run the pure [`check`](crate::check::check), write the report to stdout.

use std::io::Write;

use crate::Error;
use crate::check::html::Provenance;
use crate::check::output::{undeclared_error, write_report};
use crate::check::{CheckOptions, check};
use crate::config::Config;
use crate::inventory;
use crate::manifest;

/// Runs `check` against the account the config points at. With `--fail-on-undeclared`,
/// the report is written first, then an error names the undeclared grants.
pub(super) async fn run(config: &Config, options: &CheckOptions) -> Result<(), Error> {
    let manifest = manifest::load(&options.files)?;
    let client = super::client(
        config,
        manifest.account_id.as_deref(),
        crate::cloudflare::Permission::Read,
    )?;
    let owner = manifest.owner_or(config.owner.as_deref());
    let read_at = std::time::SystemTime::now();
    let inventory = inventory::fetch_with_tags(&client, manifest.uses_tags()).await?;
    let (desired, selection) = manifest::resolve_selecting(&manifest, &owner, &inventory)?;
    for warning in &selection.warnings {
        tracing::warn!("{warning}");
    }
    let query = options
        .query(&inventory)
        .map_err(|e| Error::Config(e.to_string()))?;
    let mut report = check(&inventory, &desired, &query);
    report.mark_selected(&selection);
    let provenance = Provenance {
        generated_at: read_at,
        account_id: client.config().account_id.clone(),
        manifest_digest: manifest.digest.clone(),
        inventory_fingerprint: inventory.fingerprint(),
    };
    let mut out = config.redactor.writer(crate::output::stdout());
    // anstream drops the styles when stdout is not a terminal or NO_COLOR is set.
    write_report(&report, options.format, true, &provenance, &mut out)?;
    out.flush()?;
    if options.fail_on_undeclared {
        undeclared_error(&report).map_or(Ok(()), Err)?;
    }
    Ok(())
}
