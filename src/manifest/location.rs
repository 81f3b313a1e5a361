//! Where a manifest value came from: file, line, column and byte span, with the file's
//! text kept alive so an error can show a snippet long after loading.

use std::fmt;
use std::sync::Arc;

use miette::NamedSource;

/// One manifest file's name and text, shared by every [`Location`] in it.
pub type SourceFile = Arc<NamedSource<String>>;

/// A position in a manifest file. Displays as `path:line:col`.
#[derive(Clone)]
pub struct Location {
    source: SourceFile,
    line: usize,
    column: usize,
    offset: usize,
    len: usize,
}

impl Location {
    /// A position in `source`; `line` and `column` are 1-based, `offset`/`len` in bytes.
    /// A span that would cut a character in two is widened to whole characters: the
    /// parser's and its errors' positions are not always on a character boundary, and
    /// slicing there (a snippet, a label) would panic.
    pub fn new(source: SourceFile, line: usize, column: usize, offset: usize, len: usize) -> Self {
        let text = source.inner();
        let start = floor_char_boundary(text, offset.min(text.len()));
        let end = ceil_char_boundary(text, offset.saturating_add(len).clamp(start, text.len()));
        Self {
            source,
            line,
            column,
            offset: start,
            len: end - start,
        }
    }

    /// The location of byte `offset` (`len` bytes long) in `source`, with line and
    /// column computed from the text.
    pub fn at_offset(source: &SourceFile, offset: usize, len: usize) -> Self {
        let text = source.inner();
        let offset = floor_char_boundary(text, offset.min(text.len()));
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = text[line_start..offset].chars().count() + 1;
        Self::new(source.clone(), line, column, offset, len)
    }

    /// The file name as given to the loader.
    pub fn file(&self) -> &str {
        self.source.name()
    }

    /// 1-based line.
    pub fn line(&self) -> usize {
        self.line
    }

    /// 1-based column, in characters.
    pub fn column(&self) -> usize {
        self.column
    }

    /// Byte offset and length of the located text.
    pub fn span(&self) -> (usize, usize) {
        (self.offset, self.len)
    }

    /// The whole text of the file, for snippets.
    pub fn source_text(&self) -> &str {
        self.source.inner()
    }

    /// The located text itself.
    pub fn snippet(&self) -> &str {
        self.source_text()
            .get(self.offset..self.offset + self.len)
            .unwrap_or_default()
    }

    pub(crate) fn source(&self) -> &SourceFile {
        &self.source
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file(), self.line, self.column)
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Location({self})")
    }
}

impl PartialEq for Location {
    fn eq(&self, other: &Self) -> bool {
        self.file() == other.file()
            && (self.line, self.column, self.offset, self.len)
                == (other.line, other.column, other.offset, other.len)
    }
}

impl Eq for Location {}

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub at: Location,
}

impl<T> Located<T> {
    pub fn new(value: T, at: Location) -> Self {
        Self { value, at }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_one_based_lines_and_character_columns() {
        let src: SourceFile = Arc::new(NamedSource::new("m.yaml", "a: 1\nbé: ${X}\n".to_owned()));
        let at = Location::at_offset(&src, "a: 1\nbé: ".len(), 4);
        assert_eq!((at.line(), at.column()), (2, 5));
        assert_eq!(at.snippet(), "${X}");
        assert_eq!(at.to_string(), "m.yaml:2:5");
    }

    /// Found by the manifest fuzzer: a span ending inside a two-byte character made the
    /// error's snippet panic.
    #[test]
    fn a_span_that_cuts_a_character_is_widened_to_whole_characters() {
        let text = "k: ʜǙ\n";
        let src: SourceFile = Arc::new(NamedSource::new("m.yaml", text.to_owned()));
        // Starts inside `ʜ` and ends inside `Ǚ`.
        let at = Location::new(src.clone(), 1, 4, 4, 2);
        assert_eq!(at.span(), (3, 4));
        assert_eq!(at.snippet(), "ʜǙ");
        let past_the_end = Location::new(src, 1, 1, 100, 5);
        assert_eq!(past_the_end.span(), (text.len(), 0));
    }
}
