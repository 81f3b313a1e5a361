//! The I/O of `mcp-access check`: load the manifest, read the account, resolve
//! `--from` / `--to`, run the pure [`check`](super::check), write the report to stdout.

use std::io::Write;
use std::path::PathBuf;

use super::{CheckError, Format, Query, Report, check, find_app, markdown, text};
use crate::Error;
use crate::inventory::{self, Inventory};
use crate::manifest;

/// What `check` was asked, validated.
#[derive(Debug, Clone)]
pub struct CheckArgs {
    /// Manifest paths.
    pub files: Vec<PathBuf>,
    /// `--from`: an app name, uid or domain.
    pub from: Option<String>,
    /// `--to`: an app name, uid or domain.
    pub to: Option<String>,
    /// `--output`.
    pub format: Format,
    /// `--fail-on-undeclared`.
    pub fail_on_undeclared: bool,
}

/// Runs `check` against the account the config points at. With `--fail-on-undeclared`,
/// the report is written first, then an error names the undeclared grants.
pub async fn run(config: &crate::cli::Config, args: &CheckArgs) -> Result<(), Error> {
    let manifest = manifest::load(&args.files)?;
    let client =
        crate::commands::client_for(&config.api, &manifest, crate::cloudflare::Permission::Read)?;
    let owner = crate::commands::owner(config, &manifest);
    let inventory = inventory::fetch(&client).await?;
    let desired = manifest::resolve(&manifest, &owner, &inventory)?;
    let query = query(&inventory, args).map_err(|e| Error::Config(e.to_string()))?;
    let report = check(&inventory, &desired, &query);
    let mut out = config.redactor.writer(anstream::stdout());
    // anstream drops the styles when stdout is not a terminal or NO_COLOR is set.
    write_report(&report, args.format, true, &mut out)?;
    out.flush()?;
    if args.fail_on_undeclared {
        undeclared_error(&report).map_or(Ok(()), Err)?;
    }
    Ok(())
}

/// Resolves `--from` and `--to` to uids.
pub fn query(inventory: &Inventory, args: &CheckArgs) -> Result<Query, CheckError> {
    let find = |flag, given: &Option<String>| {
        given
            .as_deref()
            .map(|g| find_app(inventory, flag, g).map(|a| a.uid().to_owned()))
            .transpose()
    };
    Ok(Query {
        from: find("--from", &args.from)?,
        to: find("--to", &args.to)?,
    })
}

/// Writes the report in `format`; `color` styles the text format.
pub fn write_report(
    report: &Report,
    format: Format,
    color: bool,
    out: &mut dyn Write,
) -> Result<(), Error> {
    match format {
        Format::Text => text::render(report, color, out)?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, report).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        Format::Markdown => markdown::render(report, out)?,
    }
    Ok(())
}

/// The error `--fail-on-undeclared` ends with, when the account grants access the
/// manifest does not declare.
pub fn undeclared_error(report: &Report) -> Option<Error> {
    let undeclared: Vec<String> = report
        .undeclared()
        .map(|p| {
            let via: Vec<String> = p
                .grants
                .iter()
                .filter(|g| g.access.may_pass())
                .map(|g| format!("{:?}", g.policy_name))
                .collect();
            format!(
                "{} -> {} (via {})",
                p.from.label(),
                p.to.label(),
                via.join(", ")
            )
        })
        .collect();
    (!undeclared.is_empty()).then(|| {
        Error::UndeclaredAccess(format!(
            "--fail-on-undeclared: the account grants {} link(s) the manifest does not declare: {}. Declare them in the manifest, or remove the policies from those apps.",
            undeclared.len(),
            undeclared.join("; ")
        ))
    })
}
