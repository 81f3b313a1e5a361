//! GitHub Actions' file commands, honoured by the binary itself so any CI that sets the
//! same variables gets them: the Markdown plan is appended to `$GITHUB_STEP_SUMMARY`,
//! and `has-changes`, `exit-code` and `plan-json` to `$GITHUB_OUTPUT`.

use std::fs::OpenOptions;
use std::io::{self, Write};

use crate::output::Report;
use crate::redact::Redactor;

/// Appends the report to the files named by `GITHUB_STEP_SUMMARY` and `GITHUB_OUTPUT`
/// (read through `env`), when set. Does nothing otherwise.
pub fn publish(
    report: &Report,
    exit_code: u8,
    redactor: &Redactor,
    env: &dyn Fn(&str) -> Option<String>,
) -> io::Result<()> {
    let var = |k| env(k).filter(|v: &String| !v.trim().is_empty());
    if let Some(path) = var("GITHUB_STEP_SUMMARY") {
        let mut file = OpenOptions::new().create(true).append(true).open(path)?;
        file.write_all(redactor.scrub(&report.markdown()).as_bytes())?;
        writeln!(file)?;
    }
    if let Some(path) = var("GITHUB_OUTPUT") {
        let json = serde_json::to_string(&report.document()).map_err(io::Error::other)?;
        let json = redactor.scrub(&json);
        // NOTE: GitHub's multi-line output syntax is `name<<DELIMITER`; a random
        // delimiter can never occur in the value.
        let delimiter = format!("MCP_ACCESS_{}", uuid::Uuid::new_v4().simple());
        let mut file = OpenOptions::new().create(true).append(true).open(path)?;
        write!(
            file,
            "has-changes={}\nexit-code={exit_code}\nplan-json<<{delimiter}\n{json}\n{delimiter}\n",
            !report.plan.is_empty()
        )?;
    }
    Ok(())
}
