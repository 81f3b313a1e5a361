//! GitHub Actions' file commands, honoured by the binary itself so any CI that sets the
//! same variables gets them: a Markdown report is appended to `$GITHUB_STEP_SUMMARY`,
//! and `has-changes`, `exit-code` and `plan-json` to `$GITHUB_OUTPUT`.

use std::fs::OpenOptions;
use std::io::{self, Write};

use crate::plan::json::PlanDocument;
use crate::redact::Redactor;

/// Appends `markdown` to the file named by `GITHUB_STEP_SUMMARY`, and the outputs to
/// the one named by `GITHUB_OUTPUT` (both read through `env`), when set: `exit-code`
/// always, `has-changes` and `plan-json` when there is a plan (a failed run has none).
/// Does nothing when neither variable is set.
pub fn publish(
    markdown: &str,
    plan: Option<&PlanDocument>,
    exit_code: u8,
    redactor: &Redactor,
    env: &dyn Fn(&str) -> Option<String>,
) -> io::Result<()> {
    let var = |k| env(k).filter(|v: &String| !v.trim().is_empty());
    if let Some(path) = var("GITHUB_STEP_SUMMARY") {
        let mut file = OpenOptions::new().create(true).append(true).open(path)?;
        file.write_all(redactor.scrub(markdown).as_bytes())?;
        writeln!(file)?;
    }
    if let Some(path) = var("GITHUB_OUTPUT") {
        let mut file = OpenOptions::new().create(true).append(true).open(path)?;
        writeln!(file, "exit-code={exit_code}")?;
        if let Some(plan) = plan {
            let json = serde_json::to_string(plan).map_err(io::Error::other)?;
            let json = redactor.scrub(&json);
            // NOTE: GitHub's multi-line output syntax is `name<<DELIMITER`; a random
            // delimiter can never occur in the value.
            let delimiter = format!("MCP_ACCESS_{}", uuid::Uuid::new_v4().simple());
            write!(
                file,
                "has-changes={}\nplan-json<<{delimiter}\n{json}\n{delimiter}\n",
                plan.summary.has_changes
            )?;
        }
    }
    Ok(())
}
