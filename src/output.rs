//! What `plan`, `reconcile` and `apply` print: the plan, a safety refusal, and what
//! was applied, as text, JSON or Markdown. The exit code never depends on the format.
//! Also [`stdout`], where every command prints its product.

use std::io::{self, Write};

use clap::ValueEnum;

use crate::apply::ApplyReport;
use crate::plan::json::{Applied, PlanDocument};
use crate::plan::text::{self, Palette};
use crate::plan::{Plan, markdown};
use crate::redact::Redactor;

/// The format of the plan on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum OutputFormat {
    /// For people at a terminal.
    #[default]
    Text,
    /// The versioned JSON document (schema/plan.schema.json).
    Json,
    /// For pull-request comments and job summaries.
    Markdown,
}

/// A plan and what became of it.
#[derive(Debug, Clone)]
pub struct Report {
    /// The plan (after `--policy` filtering).
    pub plan: Plan,
    /// The fingerprint of the inventory it was made from.
    pub fingerprint: String,
    /// The digest of the manifest it was made from.
    pub manifest_digest: String,
    /// The account, when known.
    pub account_id: Option<String>,
    /// What an apply did.
    pub applied: Option<Applied>,
    /// Why the safety checks refuse it.
    pub refused: Option<String>,
}

impl Report {
    /// A plan nothing has happened to yet.
    pub fn new(plan: Plan, fingerprint: String, manifest_digest: String) -> Self {
        Self {
            plan,
            fingerprint,
            manifest_digest,
            account_id: None,
            applied: None,
            refused: None,
        }
    }

    /// What a reconcile did: its first plan and, when it applied, every round.
    pub fn from_outcome(outcome: &crate::reconcile::Outcome, manifest_digest: String) -> Self {
        let mut report = Self::new(
            outcome.first_plan.clone(),
            outcome.fingerprint.clone(),
            manifest_digest,
        );
        if !outcome.rounds.is_empty() {
            let reports: Vec<&ApplyReport> = outcome.rounds.iter().map(|r| &r.report).collect();
            let writes: usize = reports.iter().map(|r| r.done.len()).sum();
            let summary = if outcome.blocked().is_empty() {
                format!(
                    "Applied {writes} write(s) in {} round(s). The account matches the manifest.",
                    reports.len()
                )
            } else {
                format!(
                    "Applied {writes} write(s) in {} round(s). Everything else matches the manifest, but {} link change(s) are blocked (see above).",
                    reports.len(),
                    outcome.final_plan.summary().blocked
                )
            };
            report.applied(&reports, summary);
        }
        report
    }

    /// Records what the applies did; `summary` is the closing sentence.
    pub fn applied(&mut self, reports: &[&ApplyReport], summary: String) {
        self.applied = Some(Applied {
            rounds: reports.len(),
            done: reports
                .iter()
                .flat_map(|r| r.done.iter().map(|d| d.what.clone()))
                .collect(),
            not_done: reports
                .iter()
                .flat_map(|r| r.not_done.iter().map(|n| format!("{}: {}", n.what, n.why)))
                .collect(),
            summary,
        });
    }

    /// The JSON document.
    pub fn document(&self) -> PlanDocument {
        let mut doc = PlanDocument::new(&self.plan, &self.fingerprint, &self.manifest_digest);
        doc.account_id.clone_from(&self.account_id);
        doc.applied.clone_from(&self.applied);
        doc.refused.clone_from(&self.refused);
        doc
    }

    /// The Markdown plan.
    pub fn markdown(&self) -> String {
        let mut notes = Vec::new();
        if let Some(refused) = &self.refused {
            notes.push(format!("> [!CAUTION]\n> {refused}"));
        }
        if let Some(applied) = &self.applied {
            let mut note = applied.summary.clone();
            for n in &applied.not_done {
                note.push_str("\n- not done: ");
                note.push_str(n);
            }
            notes.push(note);
        }
        markdown::render_to_string(&self.plan, &notes, markdown::COMMENT_LIMIT)
    }

    /// Writes the report in `format`.
    pub fn print(&self, format: OutputFormat, out: &mut dyn Write) -> io::Result<()> {
        match format {
            OutputFormat::Json => crate::plan::json::render(&self.document(), out),
            OutputFormat::Markdown => out.write_all(self.markdown().as_bytes()),
            OutputFormat::Text => {
                text::render(&self.plan, Palette::colored(), out)?;
                if let Some(refused) = &self.refused {
                    writeln!(out, "\n{refused}")?;
                }
                if let Some(applied) = &self.applied {
                    writeln!(out)?;
                    for done in &applied.done {
                        writeln!(out, "  done: {done}")?;
                    }
                    for not_done in &applied.not_done {
                        writeln!(out, "  NOT done: {not_done}")?;
                    }
                    writeln!(out, "{}", applied.summary)?;
                }
                Ok(())
            }
        }
    }

    /// Prints to stdout, then to GitHub's files when their variables are set; the
    /// token is scrubbed from all of it.
    pub fn emit(&self, format: OutputFormat, exit_code: u8, redactor: &Redactor) -> io::Result<()> {
        let mut out = redactor.writer(stdout());
        self.print(format, &mut out)?;
        out.flush()?;
        crate::github::publish(
            &self.markdown(),
            Some(&self.document()),
            exit_code,
            redactor,
            &|k| std::env::var(k).ok(),
        )
    }
}

/// A short Markdown report of a failed command, for a pull-request comment and the job
/// summary: the plan comment's marker (so the same sticky comment is updated), what
/// failed (`heading`, e.g. "mcp-access plan failed"), and the error as printed on
/// stderr.
pub fn failure_markdown(heading: &str, error: &str) -> String {
    // Room for the heading and the note; an error longer than a comment is cut.
    let limit = markdown::COMMENT_LIMIT - 1_000;
    let mut error = error.trim_end().to_owned();
    if error.len() > limit {
        let mut cut = limit;
        while !error.is_char_boundary(cut) {
            cut -= 1;
        }
        error.truncate(cut);
        error.push_str("\n... (cut: the job log has the whole error)");
    }
    // A fence longer than any run of backticks in the error.
    let longest = error.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!(
        "{}\n### {heading}\n\n{fence}text\n{error}\n{fence}\n\nThe job log has the details.\n",
        markdown::MARKER
    )
}

/// Standard output, for what a command produces (plans, reports). Styles are dropped
/// when it is not a terminal or `NO_COLOR` is set.
///
/// A reader that stops early (`plan -o json | head`) closes the pipe. From then on the
/// output is dropped quietly, as ripgrep does, instead of failing the command with
/// "Broken pipe": the command still finishes, and exits with its own code.
pub fn stdout() -> impl Write {
    ClosedPipeIsFine {
        inner: anstream::stdout(),
        closed: false,
    }
}

/// A writer that turns a closed pipe into a sink.
struct ClosedPipeIsFine<W> {
    inner: W,
    closed: bool,
}

impl<W: Write> ClosedPipeIsFine<W> {
    fn absorb<T>(&mut self, result: io::Result<T>, done: T) -> io::Result<T> {
        match result {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(done)
            }
            other => other,
        }
    }
}

impl<W: Write> Write for ClosedPipeIsFine<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        let result = self.inner.write(buf);
        self.absorb(result, buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let result = self.inner.flush();
        self.absorb(result, ())
    }
}
