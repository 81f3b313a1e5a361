//! Writing a manifest: a [`Document`] (servers, app references, comments) rendered as
//! format-1 YAML that [`load`](super::load) reads back to the same declarations.
//!
//! Hand-written rather than through a serializer because the output is for people:
//! comments sit next to what they explain, and a name is plain when it can be and
//! double-quoted (with every character that could change the meaning escaped) when not.

use std::fmt::Write as _;

use super::AppRef;
use super::parse::VERSION;

/// A manifest to write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    /// Comment lines at the top of the file.
    pub header: Vec<String>,
    /// `owner:`, when set.
    pub owner: Option<String>,
    /// `account_id:`, when set.
    pub account_id: Option<String>,
    /// The servers, in the order given.
    pub servers: Vec<DocServer>,
}

/// One entry of `servers:`, or only a comment where a server cannot be declared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocServer {
    /// Comment lines above the entry.
    pub comments: Vec<String>,
    /// The server's app; `None` writes the comments only.
    pub app: Option<DocRef>,
    /// Its downstream apps.
    pub downstream: Vec<DocRef>,
}

/// An app reference with an optional comment at the end of its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocRef {
    /// How the manifest names the app.
    pub app: AppRef,
    /// A note for the reader (e.g. the name of an app referenced by uid).
    pub comment: Option<String>,
}

/// The YAML text of `doc`.
pub fn render(doc: &Document) -> String {
    let mut out = String::new();
    for line in &doc.header {
        comment(&mut out, "", line);
    }
    let _ = writeln!(out, "version: {VERSION}");
    if let Some(owner) = &doc.owner {
        let _ = writeln!(out, "owner: {}", scalar(owner));
    }
    if let Some(account_id) = &doc.account_id {
        let _ = writeln!(out, "account_id: {}", scalar(account_id));
    }
    if doc.servers.iter().all(|s| s.app.is_none()) {
        out.push_str("servers: []\n");
    } else {
        out.push_str("servers:\n");
    }
    for server in &doc.servers {
        for line in &server.comments {
            comment(&mut out, "  ", line);
        }
        let Some(app) = &server.app else { continue };
        out.push_str("  - app: ");
        reference(&mut out, app);
        if server.downstream.is_empty() {
            out.push_str("    downstream: []\n");
            continue;
        }
        out.push_str("    downstream:\n");
        for d in &server.downstream {
            out.push_str("      - ");
            reference(&mut out, d);
        }
    }
    out
}

/// One reference and its line end.
fn reference(out: &mut String, r: &DocRef) {
    match &r.app {
        AppRef::Name(name) => out.push_str(&scalar(name)),
        AppRef::Uid(uid) => {
            let _ = write!(out, "{{ uid: {} }}", scalar(uid));
        }
        AppRef::Domain(domain) => {
            let _ = write!(out, "{{ domain: {} }}", scalar(domain));
        }
    }
    if let Some(note) = &r.comment {
        out.push_str("  # ");
        out.push_str(&one_line(note));
    }
    out.push('\n');
}

/// A comment line (or several, when `text` has line breaks), indented.
fn comment(out: &mut String, indent: &str, text: &str) {
    for line in text.split('\n') {
        let line = one_line(line);
        if line.is_empty() {
            let _ = writeln!(out, "{indent}#");
        } else {
            let _ = writeln!(out, "{indent}# {line}");
        }
    }
}

/// `text` safe inside a comment: no line break (YAML's, or one a reader's editor
/// would show as such) and no character YAML does not allow in a file.
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if printable(c) && !breaks_line(c) {
            out.push(c);
        } else {
            escape(&mut out, c);
        }
    }
    out
}

/// A string value: plain when that cannot be misread, else double-quoted. Either way
/// `$` is doubled, because the loader expands `${VAR}` in every string and reads `$$`
/// as one `$`.
pub fn scalar(value: &str) -> String {
    let value = value.replace('$', "$$");
    if is_plain_safe(&value) {
        return value;
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if printable(c) && !breaks_line(c) => out.push(c),
            c => escape(&mut out, c),
        }
    }
    out.push('"');
    out
}

/// YAML's `\x`, `\u` and `\U` escapes (also read back by Rust's `{:?}` style readers).
fn escape(out: &mut String, c: char) {
    let n = u32::from(c);
    let _ = match n {
        0..=0xFF => write!(out, "\\x{n:02x}"),
        0x100..=0xFFFF => write!(out, "\\u{n:04x}"),
        _ => write!(out, "\\U{n:08x}"),
    };
}

/// YAML 1.2's `c-printable` set: what may appear in a file as is.
fn printable(c: char) -> bool {
    matches!(u32::from(c),
        0x09 | 0x0A | 0x0D | 0x20..=0x7E | 0x85 | 0xA0..=0xD7FF | 0xE000..=0xFFFD | 0x1_0000..=0x10_FFFF)
        && c != '\u{FEFF}'
}

/// Line breaks for YAML 1.1 readers and for editors, not only `\n` and `\r`.
fn breaks_line(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}') || c == '\t'
}

/// Plain scalars we write: a letter first, then letters, digits, spaces and a few
/// punctuation marks that mean nothing to YAML in the middle of a block value; no
/// trailing space, and never a word YAML 1.1 or 1.2 reads as a boolean or null.
fn is_plain_safe(value: &str) -> bool {
    const WORDS: &[&str] = &["true", "false", "yes", "no", "on", "off", "null", "y", "n"];
    let mut chars = value.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || " _-./()+@&".contains(c))
        && !value.ends_with(' ')
        && !value.contains("  ")
        && !WORDS.iter().any(|w| w.eq_ignore_ascii_case(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_when_safe_and_quoted_otherwise() {
        assert_eq!(scalar("Internal API"), "Internal API");
        assert_eq!(scalar("mcp-server-app"), "mcp-server-app");
        assert_eq!(scalar("Company wiki (v2)"), "Company wiki (v2)");
        assert_eq!(scalar("yes"), "\"yes\"");
        assert_eq!(scalar("No"), "\"No\"");
        assert_eq!(scalar("1234"), "\"1234\"");
        assert_eq!(scalar("a: b"), "\"a: b\"");
        assert_eq!(scalar("x #y"), "\"x #y\"");
        assert_eq!(scalar(""), "\"\"");
        assert_eq!(scalar("say \"hi\"\n"), "\"say \\\"hi\\\"\\x0a\"");
        assert_eq!(scalar("${HOME}"), "\"$${HOME}\"");
        assert_eq!(scalar("Café"), "\"Café\"");
        assert_eq!(scalar("a\u{2028}b"), "\"a\\u2028b\"");
    }

    #[test]
    fn a_document_renders_comments_refs_and_empty_lists() {
        let doc = Document {
            header: vec!["Imported.".into(), String::new()],
            owner: Some("platform".into()),
            account_id: Some("0123".into()),
            servers: vec![
                DocServer {
                    comments: vec!["granted by:\n  \"P\"".into()],
                    app: Some(DocRef {
                        app: AppRef::Name("srv".into()),
                        comment: None,
                    }),
                    downstream: vec![DocRef {
                        app: AppRef::Uid("u-1".into()),
                        comment: Some("Wiki (2 apps\nhave this name)".into()),
                    }],
                },
                DocServer {
                    comments: vec!["not declared".into()],
                    app: None,
                    downstream: Vec::new(),
                },
            ],
        };
        assert_eq!(
            render(&doc),
            "# Imported.\n#\nversion: 1\nowner: platform\naccount_id: \"0123\"\nservers:\n  # granted by:\n  #   \"P\"\n  - app: srv\n    downstream:\n      - { uid: u-1 }  # Wiki (2 apps\\x0ahave this name)\n  # not declared\n"
        );
        let empty = Document {
            servers: vec![DocServer {
                comments: vec!["x".into()],
                ..DocServer::default()
            }],
            ..Document::default()
        };
        assert_eq!(render(&empty), "version: 1\nservers: []\n  # x\n");
    }
}
