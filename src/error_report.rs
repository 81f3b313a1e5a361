//! How an error is printed: one style for every error, the way clap prints a usage
//! error. Each problem starts with `error: ` and its message; a problem with a place in
//! a file follows with the snippet, the label and the help (drawn by miette). An error
//! made of several problems (a manifest with 30 mistakes) prints each problem once, then
//! one closing line that counts them.

use std::fmt::{self, Write as _};

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, SourceCode};

/// The error as text for stderr (or a Markdown code block): every problem once, in one
/// style. `color` styles it for a terminal.
pub fn render(error: &dyn Diagnostic, color: bool) -> String {
    let mut out = String::new();
    match error.related() {
        Some(related) => {
            for problem in related {
                problem_block(problem, color, &mut out);
                // A blank line after a problem drawn with its snippet, as rustc does.
                if out.lines().last().is_some_and(|l| !l.starts_with("error:")) {
                    out.push('\n');
                }
            }
            // The summary is the first line of the message; the rest of it lists the
            // problems, each already printed above.
            let message = error.to_string();
            let summary = message.lines().next().unwrap_or_default();
            header(summary.trim_end_matches(':'), color, &mut out);
        }
        None => problem_block(error, color, &mut out),
    }
    out
}

/// `error: <message>` and, when the problem has them, its snippet and help.
fn problem_block(problem: &dyn Diagnostic, color: bool, out: &mut String) {
    header(&problem.to_string(), color, out);
    if problem.source_code().is_none() && problem.help().is_none() {
        return;
    }
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let mut drawn = String::new();
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_wrap_lines(false)
        .without_cause_chain();
    if handler.render_report(&mut drawn, &Details(problem)).is_ok() {
        // miette's first line is its own header for the (empty) message: ours is above.
        for line in drawn.lines().skip(1) {
            out.push_str(line);
            out.push('\n');
        }
    }
}

fn header(message: &str, color: bool, out: &mut String) {
    let style = if color {
        anstyle::Style::new()
            .bold()
            .fg_color(Some(anstyle::AnsiColor::Red.into()))
    } else {
        anstyle::Style::new()
    };
    let _ = writeln!(
        out,
        "{}error:{} {message}",
        style.render(),
        style.render_reset()
    );
}

/// A problem's snippet, labels and help, without its message (printed as the header).
struct Details<'a>(&'a dyn Diagnostic);

impl fmt::Debug for Details<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Details")
    }
}

impl fmt::Display for Details<'_> {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        Ok(())
    }
}

impl std::error::Error for Details<'_> {}

impl Diagnostic for Details<'_> {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.0.help()
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.0.source_code()
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.0.labels()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_error_is_one_line() {
        let error = crate::Error::Config("no API token".into());
        assert_eq!(render(&error, false), "error: no API token\n");
    }

    #[test]
    fn every_problem_of_a_manifest_is_printed_once_then_counted() {
        let text = "servers:\n  - app: a\n    downstrem: [x]\n  - app: b\n    downstream: [y]\n    extra: 1\n";
        let error = crate::manifest::parse_str("access/a.yaml", text, &|_| None).unwrap_err();
        let error = crate::Error::from(error);
        let out = render(&error, false);
        assert!(
            out.starts_with("error: access/a.yaml:3:5: unknown field `downstrem`"),
            "{out}"
        );
        assert_eq!(out.matches("unknown field `downstrem`").count(), 1, "{out}");
        assert_eq!(out.matches("unknown field `extra`").count(), 1, "{out}");
        assert!(out.contains("did you mean `downstream`"), "{out}");
        assert!(out.contains("3 │     downstrem: [x]"), "the snippet: {out}");
        assert!(
            out.ends_with("error: the manifest has 2 problems\n"),
            "{out}"
        );
        assert!(!out.contains('×') && !out.contains("Error:"), "{out}");
    }
}
