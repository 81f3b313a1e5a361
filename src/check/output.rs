//! `check`'s report in the chosen format, and the error `--fail-on-undeclared` ends
//! with.

use std::io::Write;

use super::html::Provenance;
use super::{Format, Report, html, markdown, text};
use crate::Error;

/// Writes the report in `format`; `color` styles the text format; the HTML page says
/// where the report comes from (`provenance`).
pub fn write_report(
    report: &Report,
    format: Format,
    color: bool,
    provenance: &Provenance,
    out: &mut dyn Write,
) -> Result<(), Error> {
    match format {
        Format::Text => text::render(report, color, out)?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, report).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        Format::Markdown => markdown::render(report, out)?,
        Format::Html => html::render(report, provenance, out)?,
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
