//! The YAML boundary: parses one manifest file into a tree of located nodes.
//!
//! This is the only place that knows serde-saphyr. We deserialize into a generic tree
//! (not straight into typed structs) so that validation can report *every* unknown key
//! and bad value of a file, not just the first one serde trips over.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{MessageFormatter, Spanned};

/// Largest manifest file we read; real manifests are a few KiB.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;
/// Deepest nesting we accept; the format needs 5 levels.
const MAX_DEPTH: usize = 16;
/// Cap on YAML events, nodes and alias replays: a manifest of a thousand servers fits
/// comfortably, a "billion laughs" does not.
const MAX_EVENTS: usize = 200_000;
const MAX_NODES: usize = 100_000;
const MAX_ALIASES: usize = 1_000;
const MAX_REPLAYED_EVENTS: usize = 10_000;

/// A YAML node with the byte span of its source text.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    /// 1-based line and column.
    pub line: usize,
    pub column: usize,
    /// Byte offset and length in the source, when known.
    pub span: Option<(usize, usize)>,
}

/// A YAML value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// What a human calls this kind of value, for "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a map",
        }
    }
}

/// A YAML syntax error or a refused (over-limit) document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    /// 1-based line and column, and byte offset, when the parser knew them.
    pub line: usize,
    pub column: usize,
    pub offset: Option<usize>,
    /// The document was refused for exceeding a limit (size, depth, aliases), not for
    /// broken syntax.
    pub over_limit: bool,
    /// The document uses an explicit tag YAML itself does not define (`!Ref`,
    /// `!include`, `!secret`): its spelling.
    pub unknown_tag: Option<String>,
}

/// Parses one YAML document. An empty document is `Null`.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(SyntaxError {
            message: format!(
                "file is {} bytes, larger than the {MAX_FILE_BYTES}-byte limit for a manifest",
                text.len()
            ),
            line: 0,
            column: 0,
            offset: None,
            over_limit: true,
            unknown_tag: None,
        });
    }
    let mut budget = serde_saphyr::Budget::default();
    budget.max_reader_input_bytes = Some(MAX_FILE_BYTES);
    budget.max_depth = MAX_DEPTH;
    budget.max_events = MAX_EVENTS;
    budget.max_nodes = MAX_NODES;
    budget.max_aliases = MAX_ALIASES;
    budget.max_anchors = MAX_ALIASES;
    budget.max_documents = 1;
    budget.max_total_scalar_bytes = MAX_FILE_BYTES;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = MAX_REPLAYED_EVENTS;
    options.alias_limits.max_replay_stack_depth = MAX_DEPTH;
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    // By default an application tag is dropped and its value kept: `app: !Ref x` would
    // read as `app: x`. A manifest that means something else than it says is an error.
    options.reject_unsupported_tags = true;
    options.with_snippet = false;

    if text.trim().is_empty() {
        return Ok(Node {
            value: Value::Null,
            line: 1,
            column: 1,
            span: None,
        });
    }
    let parsed: Result<Option<Spanned<Value>>, _> =
        serde_saphyr::from_str_with_options(text, options);
    match parsed {
        Ok(Some(node)) => Ok(node_from(node)),
        Ok(None) => Ok(Node {
            value: Value::Null,
            line: 1,
            column: 1,
            span: None,
        }),
        Err(err) => {
            let (mut message, over_limit) = if let Some(message) = limit_message(&err) {
                (message, true)
            } else {
                let mut message = serde_saphyr::DefaultMessageFormatter
                    .format_message(&err)
                    .into_owned();
                // The library's hint is for programmers, not manifest authors.
                if let Some(i) = message.find(", set DuplicateKeyPolicy") {
                    message.truncate(i);
                }
                (message, false)
            };
            let unknown_tag = unknown_tag(&err);
            if let Some(tag) = &unknown_tag {
                message = format!("unknown YAML tag `{tag}`");
            }
            let at = err.location();
            Err(SyntaxError {
                unknown_tag,
                message,
                line: at.map_or(0, |l| usize::try_from(l.line()).unwrap_or(0)),
                column: at.map_or(0, |l| usize::try_from(l.column()).unwrap_or(0)),
                offset: at
                    .and_then(|l| l.span().byte_offset())
                    .and_then(|o| usize::try_from(o).ok()),
                over_limit,
            })
        }
    }
}

/// The tag's spelling, when `err` is an explicit tag YAML does not define.
fn unknown_tag(err: &serde_saphyr::Error) -> Option<String> {
    use serde_saphyr::Error as E;
    let mut err = err;
    while let E::AliasError { error, .. } | E::WithSnippet { error, .. } = err {
        err = error;
    }
    match err {
        E::UnsupportedTag { tag, .. } => Some(tag.clone()),
        _ => None,
    }
}

/// A readable message for a refused document, when `err` is a limit breach.
fn limit_message(err: &serde_saphyr::Error) -> Option<String> {
    use serde_saphyr::Error as E;
    use serde_saphyr::budget::BudgetBreach as B;
    let mut err = err;
    while let E::AliasError { error, .. } | E::WithSnippet { error, .. } = err {
        err = error;
    }
    Some(match err {
        E::Budget {
            breach: B::Depth { .. },
            ..
        } => {
            format!("nesting deeper than {MAX_DEPTH} levels")
        }
        E::Budget {
            breach: B::Aliases { .. } | B::Anchors { .. },
            ..
        } => {
            format!("more than {MAX_ALIASES} anchors or aliases")
        }
        E::Budget {
            breach: B::Documents { .. },
            ..
        } => "more than one YAML document (`---`) in one file".to_owned(),
        E::Budget { breach, .. } => format!("document too large for a manifest ({breach:?})"),
        E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. }
        | E::AliasReplayCounterOverflow { .. } => format!(
            "aliases expand to more than {MAX_REPLAYED_EVENTS} YAML events (an alias bomb?)"
        ),
        _ => return None,
    })
}

fn node_from(spanned: Spanned<Value>) -> Node {
    let at = spanned.referenced;
    let span = at.span();
    Node {
        value: spanned.value,
        line: usize::try_from(at.line()).unwrap_or(0),
        column: usize::try_from(at.column()).unwrap_or(0),
        span: span
            .byte_offset()
            .zip(span.byte_len())
            .and_then(|(o, l)| Some((usize::try_from(o).ok()?, usize::try_from(l).ok()?))),
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(i128::from(v)))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Int(i128::from(v)))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        i128::try_from(v)
            .map(Value::Int)
            .map_err(|_| E::custom("integer out of range"))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Value>>()? {
            items.push(node_from(item));
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<Value>>()? {
            let value = map.next_value::<Spanned<Value>>()?;
            entries.push((node_from(key), node_from(value)));
        }
        Ok(Value::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_carry_lines_columns_and_byte_spans() {
        let text = "servers:\n  - app: mcp\n    downstream: [a, \"b c\"]\n";
        let root = parse(text).unwrap();
        let Value::Map(entries) = &root.value else {
            panic!("{root:?}")
        };
        assert_eq!(entries[0].0.value, Value::Str("servers".into()));
        assert_eq!((entries[0].0.line, entries[0].0.column), (1, 1));
        let Value::Seq(servers) = &entries[0].1.value else {
            panic!()
        };
        let Value::Map(server) = &servers[0].value else {
            panic!()
        };
        let (key, app) = &server[0];
        assert_eq!(key.value, Value::Str("app".into()));
        assert_eq!((app.line, app.column), (2, 10));
        let (o, l) = app.span.unwrap();
        assert_eq!(&text[o..o + l], "mcp");
        let Value::Seq(down) = &server[1].1.value else {
            panic!()
        };
        assert_eq!(down[1].value, Value::Str("b c".into()));
        assert_eq!((down[1].line, down[1].column), (3, 21));
    }

    #[test]
    fn scalars_keep_their_types() {
        let root = parse("a: 1\nb: true\nc: ~\nd: 1.5\n").unwrap();
        let Value::Map(e) = root.value else { panic!() };
        let kinds: Vec<_> = e.iter().map(|(_, v)| v.value.clone()).collect();
        assert_eq!(
            kinds,
            vec![
                Value::Int(1),
                Value::Bool(true),
                Value::Null,
                Value::Float(1.5)
            ]
        );
    }

    #[test]
    fn broken_yaml_has_a_location() {
        let err = parse("servers:\n  - app: [unclosed\n").unwrap_err();
        assert!(err.line >= 2, "{err:?}");
        assert!(!err.message.is_empty());
    }

    #[test]
    fn unknown_tags_are_errors_at_their_place_and_standard_ones_are_not() {
        let err = parse("servers:\n  - app: !Ref mcp-server-app\n").unwrap_err();
        assert_eq!(err.unknown_tag.as_deref(), Some("!Ref"), "{err:?}");
        assert_eq!(err.line, 2, "{err:?}");
        assert!(err.message.contains("`!Ref`"), "{err:?}");
        for text in [
            "a: !include other.yaml\n",
            "a: !secret TOKEN\n",
            "a: !<tag:example.com,2024:thing> x\n",
            "? !Key a\n: b\n",
            "a: !Ref [x]\n",
        ] {
            assert!(parse(text).unwrap_err().unknown_tag.is_some(), "{text}");
        }
        let ok = parse("a: !!str 123\nb: ! 5\nc: !!int 7\n").unwrap();
        let Value::Map(e) = ok.value else { panic!() };
        assert_eq!(e[0].1.value, Value::Str("123".into()));
        assert_eq!(e[2].1.value, Value::Int(7));
    }

    #[test]
    fn alias_bombs_are_refused() {
        use std::fmt::Write;
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (prev, cur) in "abcdefgh".chars().zip("bcdefghi".chars()) {
            let refs = vec![format!("*{prev}"); 10].join(", ");
            writeln!(text, "{cur}: &{cur} [{refs}]").unwrap();
        }
        let err = parse(&text).unwrap_err();
        assert!(err.over_limit, "{err:?}");
        assert!(err.message.contains("alias bomb"), "{err:?}");
    }

    #[test]
    fn deep_nesting_and_huge_files_are_refused() {
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        let err = parse(&deep).unwrap_err();
        assert!(err.over_limit && err.message.contains("nesting"), "{err:?}");
        let huge = format!("a: \"{}\"\n", "x".repeat(MAX_FILE_BYTES));
        assert!(parse(&huge).unwrap_err().message.contains("limit"));
    }
}
