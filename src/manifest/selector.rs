//! Downstream selectors: rules that pick apps from the account instead of naming one,
//! `{ tag: mcp-callable }`, `{ name: "wiki-*" }` and `{ domain: "*.internal.example.com" }`,
//! and the globs they use.
//!
//! A `name` or `domain` value with a `*` in it is a glob and makes a selector (zero or
//! more apps); without one it stays an exact reference (exactly one app). Only `*` is
//! special: `?`, `[` and every other character match themselves. `tag` is always a
//! selector and matches a tag exactly.
//!
//! - Names match case-sensitively; `*` matches any run of characters (`**` means the
//!   same).
//! - Domains match case-insensitively against every host an app answers on (its
//!   `domain`, `self_hosted_domains` and public `destinations`), without the path
//!   (`example.com/admin` is the host `example.com`). `*` matches any run of
//!   characters within one DNS label, so `*.example.com` matches `a.example.com` but
//!   not `a.b.example.com`; `**` matches across labels, so `**.example.com` matches
//!   both (and neither matches `example.com` itself).

use std::fmt;
use std::hash::{Hash, Hasher};

use super::AppRef;
use crate::cloudflare::types::App;

/// The one character that makes a `name` or `domain` value a pattern.
pub const WILDCARD: char = '*';

/// True when a `name` or `domain` value is a pattern (a selector), not an exact
/// reference.
pub fn is_pattern(value: &str) -> bool {
    value.contains(WILDCARD)
}

/// One step of a compiled glob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// This byte, exactly.
    Byte(u8),
    /// Any run of bytes but `.` (`*` in a domain pattern).
    InLabel,
    /// Any run of bytes (`**` in a domain pattern, `*` in a name pattern).
    Any,
}

impl Token {
    fn is_star(self) -> bool {
        !matches!(self, Token::Byte(_))
    }
}

/// A name or domain pattern, compiled. Equal when written the same.
#[derive(Debug, Clone)]
pub struct Glob {
    pattern: String,
    tokens: Vec<Token>,
    /// Literal bytes before the first wildcard and after the last one: most texts are
    /// told apart by these alone.
    prefix: usize,
    suffix: usize,
}

impl PartialEq for Glob {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

impl Eq for Glob {}

impl Hash for Glob {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.pattern.hash(state);
    }
}

impl Glob {
    /// A name pattern: case-sensitive, `*` (and `**`) match any run of characters.
    pub fn name(pattern: &str) -> Self {
        let mut tokens = Vec::with_capacity(pattern.len());
        for b in pattern.bytes() {
            match b {
                b'*' if tokens.last() == Some(&Token::Any) => {}
                b'*' => tokens.push(Token::Any),
                b => tokens.push(Token::Byte(b)),
            }
        }
        Self::compiled(pattern.to_owned(), tokens)
    }

    /// A domain pattern (stored lowercase): `*` within one label, `**` across labels.
    /// Refused: a path, spaces, an empty label, three stars in a row.
    pub fn domain(pattern: &str) -> Result<Self, String> {
        let pattern = pattern.to_ascii_lowercase();
        if pattern.contains('/') {
            return Err(format!(
                "domain pattern `{pattern}` has a `/`: patterns match an app's hosts, its path left out"
            ));
        }
        if let Some(c) = pattern
            .chars()
            .find(|c| c.is_whitespace() || c.is_control())
        {
            return Err(format!(
                "domain pattern `{pattern}` has {c:?}, which no hostname has"
            ));
        }
        if pattern.contains("***") {
            return Err(format!(
                "domain pattern `{pattern}` has `***`: write `*` (within one label) or `**` (across labels)"
            ));
        }
        if pattern.split('.').any(str::is_empty) {
            return Err(format!(
                "domain pattern `{pattern}` has an empty label (a leading, trailing or doubled `.`)"
            ));
        }
        let bytes = pattern.as_bytes();
        let mut tokens = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'*' if bytes.get(i + 1) == Some(&b'*') => {
                    tokens.push(Token::Any);
                    i += 2;
                }
                b'*' => {
                    tokens.push(Token::InLabel);
                    i += 1;
                }
                b => {
                    tokens.push(Token::Byte(b));
                    i += 1;
                }
            }
        }
        Ok(Self::compiled(pattern, tokens))
    }

    fn compiled(pattern: String, tokens: Vec<Token>) -> Self {
        let prefix = tokens.iter().take_while(|t| !t.is_star()).count();
        let suffix = if prefix == tokens.len() {
            0
        } else {
            tokens.iter().rev().take_while(|t| !t.is_star()).count()
        };
        Self {
            pattern,
            tokens,
            prefix,
            suffix,
        }
    }

    /// The pattern as written (a domain pattern lowercased).
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Does `text` match the whole pattern? (A domain pattern expects a lowercase
    /// host: see [`Glob::matches_host`].)
    pub fn matches(&self, text: &str) -> bool {
        let text = text.as_bytes();
        let pattern = self.pattern.as_bytes();
        if self.prefix == self.tokens.len() {
            return text == pattern;
        }
        // The literal ends are the pattern's own bytes, as no wildcard precedes or
        // follows them.
        let (prefix, suffix) = (
            &pattern[..self.prefix],
            &pattern[pattern.len() - self.suffix..],
        );
        if text.len() < prefix.len() + suffix.len()
            || !text.starts_with(prefix)
            || !text.ends_with(suffix)
        {
            return false;
        }
        let middle = &text[prefix.len()..text.len() - suffix.len()];
        let tokens = &self.tokens[self.prefix..self.tokens.len() - self.suffix];
        match tokens {
            [Token::Any] => true,
            [Token::InLabel] => !middle.contains(&b'.'),
            _ => run(tokens, middle),
        }
    }

    /// Does one of an app's hosts match? `domain` is taken without its path and
    /// compared case-insensitively.
    pub fn matches_host(&self, domain: &str) -> bool {
        self.matches(&host_of(domain))
    }
}

/// The host of an app domain: lowercase, without the path.
pub fn host_of(domain: &str) -> String {
    domain
        .split('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// Runs the pattern as a set of states over `text`: state `i` means the first `i`
/// tokens matched what has been read. Linear in `text` times the pattern, never
/// exponential.
fn run(tokens: &[Token], text: &[u8]) -> bool {
    let mut now = vec![false; tokens.len() + 1];
    let mut next = vec![false; tokens.len() + 1];
    now[0] = true;
    close(tokens, &mut now);
    for &c in text {
        next.fill(false);
        let mut alive = false;
        for (i, token) in tokens.iter().enumerate() {
            if !now[i] {
                continue;
            }
            match *token {
                Token::Byte(b) if b == c => next[i + 1] = true,
                Token::Byte(_) => continue,
                Token::InLabel if c == b'.' => continue,
                // A wildcard consumes the byte and stays.
                Token::InLabel | Token::Any => next[i] = true,
            }
            alive = true;
        }
        if !alive {
            return false;
        }
        close(tokens, &mut next);
        std::mem::swap(&mut now, &mut next);
    }
    now[tokens.len()]
}

/// A wildcard may match nothing: a state before one implies the state after it.
fn close(tokens: &[Token], states: &mut [bool]) {
    for (i, token) in tokens.iter().enumerate() {
        if states[i] && token.is_star() {
            states[i + 1] = true;
        }
    }
}

/// A rule that picks downstream apps from the account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Selector {
    /// Apps carrying this Access tag (exact).
    Tag(String),
    /// Apps whose name matches.
    Name(Glob),
    /// Apps with a host that matches.
    Domain(Glob),
}

impl Selector {
    /// Does `app` match? (Whether the app can be a downstream app is the caller's
    /// question.)
    pub fn matches(&self, app: &App) -> bool {
        match self {
            Selector::Tag(tag) => app.tags().any(|t| t == tag),
            Selector::Name(glob) => glob.matches(app.name()),
            Selector::Domain(glob) => app.domains().iter().any(|d| glob.matches_host(d)),
        }
    }

    /// How the manifest writes it: `{ tag: mcp-callable }`.
    pub fn as_yaml(&self) -> String {
        match self {
            Selector::Tag(t) => format!("{{ tag: {t} }}"),
            Selector::Name(g) => format!("{{ name: \"{}\" }}", g.as_str()),
            Selector::Domain(g) => format!("{{ domain: \"{}\" }}", g.as_str()),
        }
    }
}

/// `tag mcp-callable`, `name wiki-*`, `domain *.internal.example.com`: how plans say
/// which selector brought an app in.
impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Tag(t) => write!(f, "tag {t}"),
            Selector::Name(g) => write!(f, "name {}", g.as_str()),
            Selector::Domain(g) => write!(f, "domain {}", g.as_str()),
        }
    }
}

/// An entry of `except`: one app by exact reference, or every app a selector matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Except {
    /// Exactly one app; it must exist (a typo must not quietly exclude nothing).
    App(AppRef),
    /// Every app it matches, possibly none.
    Selector(Selector),
}

impl fmt::Display for Except {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Except::App(r) => write!(f, "{r}"),
            Except::Selector(s) => write!(f, "{s}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain(p: &str) -> Glob {
        Glob::domain(p).unwrap()
    }

    #[test]
    fn a_star_in_a_domain_stays_within_one_label() {
        let g = domain("*.example.com");
        assert!(g.matches("a.example.com"));
        assert!(g.matches("wiki-2.example.com"));
        assert!(!g.matches("a.b.example.com"));
        assert!(!g.matches("example.com"));
        assert!(!g.matches("aexample.com"));
        assert!(!g.matches("a.example.com.evil.net"));
        // A wildcard app's own domain is one label `*`.
        assert!(g.matches("*.example.com"));
    }

    #[test]
    fn a_double_star_crosses_labels() {
        let g = domain("**.example.com");
        assert!(g.matches("a.example.com"));
        assert!(g.matches("a.b.c.example.com"));
        assert!(!g.matches("example.com"));
        assert!(!g.matches("badexample.com"));
        let g = domain("api.**");
        assert!(g.matches("api.internal.example.com"));
        assert!(!g.matches("api"));
        assert!(domain("**").matches("anything.at.all"));
    }

    #[test]
    fn stars_inside_labels_and_in_the_middle() {
        let g = domain("wiki-*.internal.example.com");
        assert!(g.matches("wiki-prod.internal.example.com"));
        assert!(g.matches("wiki-.internal.example.com"));
        assert!(!g.matches("wiki-a.b.internal.example.com"));
        let g = domain("api.*.example.com");
        assert!(g.matches("api.eu.example.com"));
        assert!(!g.matches("api.eu.west.example.com"));
        assert!(!g.matches("api.example.com"));
        let g = domain("a*b*c.example.com");
        assert!(g.matches("abc.example.com"));
        assert!(g.matches("axxbyyc.example.com"));
        assert!(!g.matches("axx.byyc.example.com"));
        assert!(!g.matches("acb.example.com"));
        let g = domain("*.**.example.com");
        assert!(g.matches("a.b.example.com"));
        assert!(g.matches("a.b.c.example.com"));
        assert!(!g.matches("a.example.com"));
    }

    #[test]
    fn domain_patterns_ignore_case_and_paths() {
        let g = domain("*.Internal.EXAMPLE.com");
        assert_eq!(g.as_str(), "*.internal.example.com");
        assert!(g.matches_host("Wiki.Internal.Example.COM"));
        assert!(g.matches_host("wiki.internal.example.com/admin/*"));
        assert!(!g.matches_host("internal.example.com/wiki.internal.example.com"));
    }

    #[test]
    fn bad_domain_patterns_say_why() {
        assert!(
            Glob::domain("*.example.com/admin")
                .unwrap_err()
                .contains('/')
        );
        assert!(
            Glob::domain("***.example.com")
                .unwrap_err()
                .contains("`**`")
        );
        assert!(
            Glob::domain("*..example.com")
                .unwrap_err()
                .contains("empty label")
        );
        assert!(
            Glob::domain(".*.example.com")
                .unwrap_err()
                .contains("empty label")
        );
        assert!(Glob::domain("* .example.com").is_err());
    }

    #[test]
    fn names_are_case_sensitive_and_stars_match_anything() {
        let g = Glob::name("wiki-*");
        assert!(g.matches("wiki-"));
        assert!(g.matches("wiki-prod.eu (old)"));
        assert!(!g.matches("Wiki-prod"));
        assert!(!g.matches("old wiki-prod"));
        let g = Glob::name("*API*");
        assert!(g.matches("API"));
        assert!(g.matches("Internal API v2"));
        assert!(!g.matches("Internal api"));
        assert_eq!(Glob::name("a**b").tokens, Glob::name("a*b").tokens);
        assert!(Glob::name("*").matches(""));
        assert!(Glob::name("*").matches("any name"));
        // Only `*` is special.
        assert!(Glob::name("what?[x]*").matches("what?[x] else"));
        assert!(!Glob::name("what?*").matches("whatX"));
        // Non-ASCII names match character for character.
        assert!(Glob::name("Café *").matches("Café crème"));
        assert!(!Glob::name("Cafe *").matches("Café crème"));
    }

    #[test]
    fn many_stars_do_not_blow_up() {
        let g = Glob::name(&"a*".repeat(30));
        let text = "a".repeat(200) + "b";
        assert!(!Glob::name(&format!("{}c", "a*".repeat(30))).matches(&text));
        assert!(g.matches(&text));
    }

    #[test]
    fn patterns_are_told_by_their_star() {
        assert!(is_pattern("wiki-*"));
        assert!(!is_pattern("Internal API"));
        assert!(!is_pattern("what?"));
    }

    #[test]
    fn selectors_read_the_way_plans_say_them() {
        assert_eq!(
            Selector::Tag("mcp-callable".into()).to_string(),
            "tag mcp-callable"
        );
        assert_eq!(
            Selector::Name(Glob::name("wiki-*")).to_string(),
            "name wiki-*"
        );
        assert_eq!(
            Selector::Domain(domain("*.Example.com")).as_yaml(),
            "{ domain: \"*.example.com\" }"
        );
    }
}
