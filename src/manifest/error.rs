//! Manifest errors: every problem found, each with its place, a snippet and a hint.

use std::fmt;

use miette::{Diagnostic, LabeledSpan, SourceCode};

use super::location::Location;

/// Problems shown by [`ManifestError`]'s output; the rest are counted. (All are in
/// [`ManifestError::problems`].) Twenty thousand unknown names must not print
/// megabytes.
pub const MAX_SHOWN_PROBLEMS: usize = 50;

/// Characters of a user's value quoted in a message; longer ones are cut, with their
/// length.
pub const MAX_QUOTED_CHARS: usize = 200;

/// Source text around a problem shown as a snippet at most; a problem on a longer line
/// is shown by file, line and column only.
const MAX_SNIPPET_BYTES: usize = 4096;

/// `text` as it can be quoted in a message: whole when short, else its first
/// [`MAX_QUOTED_CHARS`] characters, `…` and its length; control characters escaped
/// (`\r`, `\u{1b}`), so a quoted value is one line and cannot drive the terminal.
pub fn shorten(text: &str) -> std::borrow::Cow<'_, str> {
    let cut = text.char_indices().nth(MAX_QUOTED_CHARS).map(|(i, _)| i);
    let head = &text[..cut.unwrap_or(text.len())];
    let head: std::borrow::Cow<'_, str> = if head.chars().any(char::is_control) {
        head.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect::<String>()
            .into()
    } else {
        head.into()
    };
    match cut {
        None => head,
        Some(_) => format!("{head}… ({} characters)", text.chars().count()).into(),
    }
}

/// What kind of problem a [`Problem`] is, for callers and tests that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// A path that cannot be read, or a directory without manifests.
    Io,
    /// Broken YAML (including duplicate keys).
    Syntax,
    /// A file over the size, nesting or alias-expansion limits.
    Limit,
    /// A key the format does not know.
    UnknownField,
    /// A value of the wrong shape or content (version, owner, app reference, ...).
    Invalid,
    /// `${VAR}` without a value.
    Env,
    /// The same thing declared twice, or owner/account id disagreeing between files.
    Conflict,
    /// No app matches a reference.
    NotFound,
    /// Several apps match a reference.
    Ambiguous,
    /// An app of a type that cannot play the role it is given.
    WrongType,
    /// A selector that matches no app: a warning, an error under `--strict`.
    NoMatch,
}

/// One problem in the manifest.
#[derive(Debug, Clone)]
pub struct Problem {
    kind: ProblemKind,
    message: String,
    /// Where it is; `None` for problems with a path but no position in it.
    at: Option<Location>,
    /// The path, for problems without a position (e.g. a missing file).
    path: Option<String>,
    label: String,
    help: Option<String>,
    /// A second place involved (the first declaration of a duplicate).
    other: Option<Location>,
}

impl Problem {
    pub(crate) fn at(kind: ProblemKind, at: &Location, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            at: Some(at.clone()),
            path: None,
            label: "here".to_owned(),
            help: None,
            other: None,
        }
    }

    pub(crate) fn in_path(
        kind: ProblemKind,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            message: message.into(),
            at: None,
            path: Some(path.into()),
            label: String::new(),
            help: None,
            other: None,
        }
    }

    pub(crate) fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub(crate) fn set_label(&mut self, label: impl Into<String>) -> &mut Self {
        self.label = label.into();
        self
    }

    pub(crate) fn set_help(&mut self, help: impl Into<String>) -> &mut Self {
        self.help = Some(help.into());
        self
    }

    pub(crate) fn other(mut self, other: &Location) -> Self {
        self.other = Some(other.clone());
        self
    }

    /// What kind of problem this is.
    pub fn kind(&self) -> ProblemKind {
        self.kind
    }

    /// The message, without the location.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Where the problem is, when it has a position in a file.
    pub fn location(&self) -> Option<&Location> {
        self.at.as_ref()
    }

    /// The other place involved, for duplicates and conflicts.
    pub fn other_location(&self) -> Option<&Location> {
        self.other.as_ref()
    }

    /// How to fix it, when we know.
    pub fn help_text(&self) -> Option<&str> {
        self.help.as_deref()
    }

    /// The location, when a snippet of it is short enough to show: the lines around
    /// a value of a megabyte are not.
    fn snippet_at(&self) -> Option<&Location> {
        let at = self.at.as_ref()?;
        let text = at.source_text();
        let (offset, len) = at.span();
        let (start, end) = (offset.min(text.len()), (offset + len).min(text.len()));
        // The snippet shows the line before and the line after too.
        let mut from = text[..start].rfind('\n').unwrap_or(0);
        from = text[..from].rfind('\n').unwrap_or(0);
        let mut to = text[end..].find('\n').map_or(text.len(), |i| end + i + 1);
        to = text[to..].find('\n').map_or(text.len(), |i| to + i);
        (to - from <= MAX_SNIPPET_BYTES).then_some(at)
    }
}

/// `path:line:col: message` (or `path: message` without a position).
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.at, &self.path) {
            (Some(at), _) => write!(f, "{at}: {}", self.message),
            (None, Some(path)) => write!(f, "{path}: {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Problem {}

impl Diagnostic for Problem {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        None
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.snippet_at().map(|at| at.source() as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let at = self.snippet_at()?;
        let (offset, len) = at.span();
        let mut labels = vec![LabeledSpan::new_primary_with_span(
            Some(self.label.clone()),
            (offset, len),
        )];
        if let Some(other) = self.other.as_ref().filter(|o| o.file() == at.file()) {
            let (offset, len) = other.span();
            labels.push(LabeledSpan::new_with_span(
                Some("first declared here".to_owned()),
                (offset, len),
            ));
        }
        Some(Box::new(labels.into_iter()))
    }
}

/// Everything wrong with a manifest, in file order. Displays as one
/// `path:line:col: message` line per problem; with miette, each problem is rendered
/// with its snippet, label and help. Either shows the first [`MAX_SHOWN_PROBLEMS`]
/// and counts the rest.
#[derive(Debug, Clone)]
pub struct ManifestError {
    problems: Vec<Problem>,
    more: Option<More>,
}

/// The line that stands for the problems not shown.
#[derive(Debug, Clone)]
struct More(usize);

impl fmt::Display for More {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "... and {} more problem{} (fix these first)",
            self.0,
            if self.0 == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for More {}
impl Diagnostic for More {}

impl ManifestError {
    pub(crate) fn new(problems: Vec<Problem>) -> Self {
        debug_assert!(!problems.is_empty());
        let hidden = problems.len().saturating_sub(MAX_SHOWN_PROBLEMS);
        Self {
            problems,
            more: (hidden > 0).then_some(More(hidden)),
        }
    }

    fn shown(&self) -> &[Problem] {
        &self.problems[..self.problems.len().min(MAX_SHOWN_PROBLEMS)]
    }

    /// Every problem found.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let [only] = self.problems.as_slice() {
            return write!(f, "{only}");
        }
        write!(f, "the manifest has {} problems:", self.problems.len())?;
        for p in self.shown() {
            write!(f, "\n  {p}")?;
        }
        if let Some(more) = &self.more {
            write!(f, "\n  {more}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ManifestError {}

/// One problem renders as itself; several render as a summary with each problem as a
/// related diagnostic.
impl Diagnostic for ManifestError {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        match self.problems.as_slice() {
            [only] => only.help(),
            _ => None,
        }
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        match self.problems.as_slice() {
            [only] => only.source_code(),
            _ => None,
        }
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        match self.problems.as_slice() {
            [only] => only.labels(),
            _ => None,
        }
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        match self.problems.as_slice() {
            [_] => None,
            _ => Some(Box::new(
                self.shown()
                    .iter()
                    .map(|p| p as &dyn Diagnostic)
                    .chain(self.more.iter().map(|m| m as &dyn Diagnostic)),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn long_values_are_quoted_cut_with_their_length() {
        assert_eq!(shorten("short"), "short");
        let long = "é".repeat(MAX_QUOTED_CHARS + 1);
        let quoted = shorten(&long);
        assert!(quoted.starts_with(&"é".repeat(MAX_QUOTED_CHARS)));
        assert!(quoted.ends_with("… (201 characters)"), "{quoted}");
    }

    /// Found by the manifest fuzzer: a key holding carriage returns made one problem
    /// print as dozens of lines.
    #[test]
    fn quoted_values_escape_control_characters() {
        assert_eq!(
            shorten("a\r\r\nb\u{1b}[31m\tc"),
            "a\\r\\r\\nb\\u{1b}[31m\\tc"
        );
        assert_eq!(shorten("wiki-é"), "wiki-é");
        let long = format!("{}\r", "x".repeat(MAX_QUOTED_CHARS));
        assert!(!shorten(&long).contains('\r'));
    }

    #[test]
    fn a_problem_on_a_huge_line_has_no_snippet_and_many_problems_are_counted() {
        let text = format!("a: 1\nz: 0\nq: 9\nb: {}\nc: 2\n", "x".repeat(10_000));
        let source = Arc::new(miette::NamedSource::new("m.yaml", text));
        let small = Problem::at(
            ProblemKind::Invalid,
            &Location::at_offset(&source, 0, 1),
            "m",
        );
        assert!(small.source_code().is_some());
        let huge = Problem::at(
            ProblemKind::Invalid,
            &Location::at_offset(&source, 18, 3),
            "m",
        );
        assert!(huge.source_code().is_none() && huge.labels().is_none());
        // Nor one next to it: the snippet would show that line as context.
        let next = Problem::at(
            ProblemKind::Invalid,
            &Location::at_offset(&source, 10, 1),
            "m",
        );
        assert!(next.source_code().is_none());

        let err = ManifestError::new(vec![small; MAX_SHOWN_PROBLEMS + 7]);
        let shown = err.to_string();
        assert_eq!(shown.lines().count(), 1 + MAX_SHOWN_PROBLEMS + 1, "{shown}");
        assert!(shown.ends_with("... and 7 more problems (fix these first)"));
        assert_eq!(err.related().unwrap().count(), MAX_SHOWN_PROBLEMS + 1);
        assert_eq!(err.problems().len(), MAX_SHOWN_PROBLEMS + 7);
    }
}
