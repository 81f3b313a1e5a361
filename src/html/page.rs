//! The document around a page's content: the title, a line of provenance (when, from
//! which account, by which build), the inline stylesheet and script, and a
//! Content-Security-Policy that allows nothing but them: no request leaves the page,
//! whatever an app or policy name holds.

use std::fmt::Write as _;
use std::sync::LazyLock;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::text;

/// The stylesheet of every page.
const STYLE: &str = include_str!("assets/style.css");

/// The script of every page: the access view (filters, matrix, list, graph, details).
/// It does nothing on a page without access data.
const SCRIPT: &str = include_str!("assets/access.js");

/// `'sha256-...'` sources for the inline style and script, computed once.
static HASHES: LazyLock<(String, String)> = LazyLock::new(|| (csp_hash(STYLE), csp_hash(SCRIPT)));

fn csp_hash(code: &str) -> String {
    let digest = Sha256::digest(code.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The Content-Security-Policy of a page: only the page's own inline style and script
/// (by hash), images only as `data:` URLs, no frames, forms or base URL; with
/// `connect_self`, the script may fetch from the page's own origin (the status page
/// reads `/status.json`), else it may fetch nothing.
pub fn content_security_policy(connect_self: bool) -> String {
    let (style, script) = &*HASHES;
    let connect = if connect_self { "'self'" } else { "'none'" };
    format!(
        "default-src 'none'; style-src {style}; script-src {script}; img-src data:; connect-src {connect}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

/// One fact of the provenance line: a label and its value, shown as code when it is
/// an identifier (an account id, a digest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// What it is, e.g. "Account".
    pub label: String,
    /// Its value, as plain text.
    pub value: String,
    /// Shown in a monospace font.
    pub code: bool,
}

impl Meta {
    /// A plain fact.
    pub fn text(label: &str, value: impl Into<String>) -> Self {
        Self {
            label: label.to_owned(),
            value: value.into(),
            code: false,
        }
    }

    /// An identifier.
    pub fn code(label: &str, value: impl Into<String>) -> Self {
        Self {
            label: label.to_owned(),
            value: value.into(),
            code: true,
        }
    }
}

/// A whole page.
#[derive(Debug, Clone, Default)]
pub struct Document {
    /// The title, also the page's heading.
    pub title: String,
    /// Provenance, shown under the heading.
    pub meta: Vec<Meta>,
    /// The content (HTML).
    pub body: String,
    /// May the script fetch from the page's own origin? (See
    /// [`content_security_policy`].)
    pub connect_self: bool,
}

impl Document {
    /// The complete HTML document.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(self.body.len() + STYLE.len() + SCRIPT.len() + 2048);
        let title = text(&self.title);
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta name=\"referrer\" content=\"no-referrer\">\n\
             <meta name=\"generator\" content=\"mcp-access {version}\">\n\
             <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
             <a class=\"skip\" href=\"#main\">Skip to the content</a>\n\
             <header class=\"top\">\n<h1>{title}</h1>\n",
            csp = text(&content_security_policy(self.connect_self)),
            version = text(crate::build_info::VERSION_LINE),
        );
        if !self.meta.is_empty() {
            out.push_str("<dl class=\"meta\">\n");
            for m in &self.meta {
                let value = if m.code {
                    format!("<code>{}</code>", text(&m.value))
                } else {
                    text(&m.value)
                };
                let _ = writeln!(
                    out,
                    "<div><dt>{}</dt><dd>{value}</dd></div>",
                    text(&m.label)
                );
            }
            out.push_str("</dl>\n");
        }
        out.push_str("</header>\n<main id=\"main\">\n");
        out.push_str(&self.body);
        let _ = write!(
            out,
            "</main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_exactly_the_inline_style_and_script() {
        let csp = content_security_policy(false);
        assert!(csp.starts_with("default-src 'none';"));
        assert!(csp.contains(&csp_hash(STYLE)) && csp.contains(&csp_hash(SCRIPT)));
        assert!(csp.contains("connect-src 'none'"));
        assert!(content_security_policy(true).contains("connect-src 'self'"));
        assert!(!csp.contains("unsafe"));
    }

    #[test]
    fn titles_and_meta_are_escaped() {
        let page = Document {
            title: "<b>x</b>".into(),
            meta: vec![Meta::code("Account", "\"><script>")],
            body: String::new(),
            connect_self: false,
        }
        .render();
        assert!(page.contains("<title>&lt;b&gt;x&lt;/b&gt;</title>"));
        assert!(page.contains("<code>&quot;&gt;&lt;script&gt;</code>"));
        assert_eq!(
            page.matches("<script").count(),
            1,
            "only the page's own script"
        );
    }
}
