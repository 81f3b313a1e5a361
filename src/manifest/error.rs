//! Manifest errors: every problem found, each with its place, a snippet and a hint.

use std::fmt;

use miette::{Diagnostic, LabeledSpan, SourceCode};

use super::location::Location;

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
        self.at.as_ref().map(|at| at.source() as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let at = self.at.as_ref()?;
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
/// with its snippet, label and help.
#[derive(Debug, Clone)]
pub struct ManifestError {
    problems: Vec<Problem>,
}

impl ManifestError {
    pub(crate) fn new(problems: Vec<Problem>) -> Self {
        debug_assert!(!problems.is_empty());
        Self { problems }
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
        for p in &self.problems {
            write!(f, "\n  {p}")?;
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
            many => Some(Box::new(many.iter().map(|p| p as &dyn Diagnostic))),
        }
    }
}
