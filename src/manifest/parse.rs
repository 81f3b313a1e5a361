//! One manifest file's YAML tree turned into declarations, collecting every problem.

use super::env::{interpolate, room};
use super::error::{Problem, ProblemKind, shorten};
use super::location::{Located, Location, SourceFile};
use super::selector::{Except, Glob, Selector, is_pattern};
use super::suggest::suggest;
use super::yaml::{self, Node, Value};
use super::{AppRef, ServerDecl, Suspension, validate_owner};

/// The only manifest format version.
pub const VERSION: i128 = 1;

const TOP_KEYS: &[&str] = &["version", "owner", "account_id", "adopt", "servers"];
const SERVER_KEYS: &[&str] = &["app", "downstream", "except", "suspend", "reason"];
const REF_KEYS: &[&str] = &["name", "domain", "uid"];
/// A downstream or `except` entry: an app reference or a selector.
const ENTRY_KEYS: &[&str] = &["name", "domain", "uid", "tag"];

/// A `downstream` or `except` entry as parsed.
enum Entry {
    App(Located<AppRef>),
    Selector(Located<Selector>),
}

/// What one file declares.
#[derive(Debug, Default)]
pub struct FileDecl {
    pub owner: Option<Located<String>>,
    pub account_id: Option<Located<String>>,
    pub adopt: Option<Located<bool>>,
    pub servers: Vec<ServerDecl>,
}

/// Parses one file. Returns what could be read and every problem found; with a YAML
/// syntax error nothing else of the file is checked.
pub fn parse_file(
    source: &SourceFile,
    env: &dyn Fn(&str) -> Option<String>,
) -> (FileDecl, Vec<Problem>) {
    let mut cx = Cx {
        source,
        env,
        problems: Vec::new(),
        room: room(source.inner().len()),
        expansion_refused: false,
    };
    let decl = match yaml::parse(source.inner()) {
        Ok(root) => cx.file(&root),
        Err(err) => {
            let at = match err.offset {
                Some(offset) => Location::at_offset(source, offset, 1),
                None if err.line > 0 => {
                    let mut at = line_col_location(source, err.line, err.column);
                    at = Location::new(source.clone(), err.line, err.column, at.span().0, 1);
                    at
                }
                None => Location::new(source.clone(), 1, 1, 0, 0),
            };
            let problem = if let Some(tag) = &err.unknown_tag {
                let at = tag_location(source, &at, tag);
                Problem::at(ProblemKind::Syntax, &at, err.message.clone())
                    .label("unknown tag")
                    .help(format!(
                        "a manifest is plain YAML and `{tag}` means nothing to mcp-access (tags of CloudFormation and other tools are not expanded); remove it and write the value itself"
                    ))
            } else if err.over_limit {
                Problem::at(ProblemKind::Limit, &at, format!("manifest refused: {}", err.message))
                    .label("limit exceeded here")
                    .help("manifests are plain YAML under 1 MiB, nested at most 16 levels, with few aliases")
            } else {
                Problem::at(
                    ProblemKind::Syntax,
                    &at,
                    format!("invalid YAML: {}", err.message),
                )
                .label("here")
                .help("fix the YAML syntax")
            };
            cx.problems.push(problem);
            FileDecl::default()
        }
    };
    (decl, cx.problems)
}

/// The tag itself, when only blanks separate it from the node the parser points at
/// (it points at the tagged value); else `at`.
fn tag_location(source: &SourceFile, at: &Location, tag: &str) -> Location {
    let text = source.inner();
    let before = &text[..at.span().0.min(text.len())];
    match before.rfind(tag) {
        Some(i) if before[i + tag.len()..].trim().is_empty() => {
            Location::at_offset(source, i, tag.len())
        }
        _ => at.clone(),
    }
}

fn line_col_location(source: &SourceFile, line: usize, column: usize) -> Location {
    let text = source.inner();
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let col_off: usize = text[line_start.min(text.len())..]
        .chars()
        .take(column.saturating_sub(1))
        .map(char::len_utf8)
        .sum();
    Location::at_offset(source, line_start + col_off, 1)
}

struct Cx<'a> {
    source: &'a SourceFile,
    env: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<Problem>,
    /// Bytes the file may still grow by through `${VAR}` expansion: expanded, it may
    /// not pass the limit of a file read from disk.
    room: usize,
    /// An expansion passed the limit: later ones are not tried.
    expansion_refused: bool,
}

impl Cx<'_> {
    fn loc(&self, node: &Node) -> Location {
        match node.span {
            Some((offset, len)) => {
                Location::new(self.source.clone(), node.line, node.column, offset, len)
            }
            None => line_col_location(self.source, node.line.max(1), node.column.max(1)),
        }
    }

    fn problem(
        &mut self,
        kind: ProblemKind,
        node: &Node,
        message: impl Into<String>,
    ) -> &mut Problem {
        let at = self.loc(node);
        self.problems.push(Problem::at(kind, &at, message));
        self.problems.last_mut().expect("just pushed")
    }

    fn file(&mut self, root: &Node) -> FileDecl {
        let mut decl = FileDecl::default();
        let entries = match &root.value {
            Value::Null => return decl,
            Value::Map(entries) => entries,
            other => {
                let kind = other.kind();
                let p = self.problem(
                    ProblemKind::Invalid,
                    root,
                    format!("a manifest must be a map, found {kind}"),
                );
                p.set_help("start with `servers:`");
                return decl;
            }
        };
        if let Some(problem) = self.not_a_manifest(entries) {
            self.problems.push(problem);
            return decl;
        }
        for (key, value) in entries {
            let Some(name) = self.key(key, TOP_KEYS) else {
                continue;
            };
            match name {
                "version" => self.version(value),
                "owner" => {
                    if let Some(owner) = self.string(value, "owner") {
                        if let Err(why) = validate_owner(&owner.value) {
                            let at = owner.at.clone();
                            self.problems.push(Problem::at(ProblemKind::Invalid, &at, why).help(
                                "an owner is 1 to 32 lowercase letters, digits or `-`, e.g. `platform`",
                            ));
                        } else {
                            decl.owner = Some(owner);
                        }
                    }
                }
                "account_id" => {
                    // An empty value (`${CLOUDFLARE_ACCOUNT_ID:-}`) means "not set here".
                    decl.account_id = self
                        .string(value, "account_id")
                        .filter(|a| !a.value.is_empty());
                }
                "adopt" => decl.adopt = self.boolean(value, "adopt"),
                "servers" => decl.servers = self.servers(value),
                _ => unreachable!("key() only returns known keys"),
            }
        }
        decl
    }

    /// One problem for a whole file that is a Kubernetes object (`apiVersion` and `kind`,
    /// none of our keys) rather than one unknown field per key: the likely mistake is
    /// `-f` pointing at a deployment folder.
    fn not_a_manifest(&self, entries: &[(Node, Node)]) -> Option<Problem> {
        fn text(node: &Node) -> Option<&str> {
            match &node.value {
                Value::Str(s) => Some(s.as_str()),
                _ => None,
            }
        }
        let find = |name: &str| entries.iter().find(|(k, _)| text(k) == Some(name));
        let ours = entries
            .iter()
            .any(|(k, _)| text(k).is_some_and(|k| TOP_KEYS.contains(&k)));
        let (api_version, _) = find("apiVersion")?;
        let (_, kind) = find("kind")?;
        if ours {
            return None;
        }
        let kind = text(kind).unwrap_or("object");
        Some(
            Problem::at(
                ProblemKind::Invalid,
                &self.loc(api_version),
                format!("this file is a Kubernetes {kind}, not an mcp-access manifest"),
            )
            .label("Kubernetes")
            .help("point -f at your access manifests (e.g. `access/`); an mcp-access manifest has `servers:`"),
        )
    }

    /// The key's name when it is one of `known`; otherwise records an unknown-field
    /// problem with a suggestion.
    fn key<'k>(&mut self, key: &Node, known: &[&'k str]) -> Option<&'k str> {
        let name = match &key.value {
            Value::Str(s) => s.clone(),
            other => {
                scalar_text(key, self.source.inner()).unwrap_or_else(|| other.kind().to_owned())
            }
        };
        if let Some(k) = known.iter().find(|k| **k == name) {
            return Some(k);
        }
        let expected = known
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let shown = shorten(&name);
        let message = match suggest(&name, known.iter().copied()) {
            Some(s) => format!("unknown field `{shown}`, did you mean `{s}`?"),
            None => format!("unknown field `{shown}`"),
        };
        let p = self.problem(ProblemKind::UnknownField, key, message);
        p.set_label("unknown field")
            .set_help(format!("expected one of {expected}"));
        None
    }

    fn version(&mut self, value: &Node) {
        if value.value != Value::Int(VERSION) {
            let shown = scalar_text(value, self.source.inner())
                .unwrap_or_else(|| value.value.kind().to_owned());
            let p = self.problem(
                ProblemKind::Invalid,
                value,
                format!("unsupported manifest version `{}`", shorten(&shown)),
            );
            p.set_help(format!("this mcp-access reads `version: {VERSION}`"));
        }
    }

    /// A `true` / `false` value.
    fn boolean(&mut self, node: &Node, what: &str) -> Option<Located<bool>> {
        if let Value::Bool(b) = node.value {
            return Some(Located::new(b, self.loc(node)));
        }
        let shown =
            scalar_text(node, self.source.inner()).unwrap_or_else(|| node.value.kind().to_owned());
        let p = self.problem(
            ProblemKind::Invalid,
            node,
            format!("`{what}` must be `true` or `false`, found `{shown}`"),
        );
        p.set_help(format!("write `{what}: true` or leave it out"));
        None
    }

    /// A string value, interpolated. Numbers and booleans are taken as written.
    fn string(&mut self, node: &Node, what: &str) -> Option<Located<String>> {
        let text = match &node.value {
            Value::Str(s) => s.clone(),
            Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
                scalar_text(node, self.source.inner())?
            }
            other => {
                let kind = other.kind();
                self.problem(
                    ProblemKind::Invalid,
                    node,
                    format!("`{what}` must be a string, found {kind}"),
                );
                return None;
            }
        };
        let at = self.loc(node);
        if self.expansion_refused && text.contains('$') {
            // Reported once, at the reference that passed the limit.
            return None;
        }
        let max_len = text.len() + self.room;
        match interpolate(&text, self.env, max_len) {
            Ok(value) => {
                self.room = max_len - value.len();
                Some(Located::new(value, at))
            }
            Err(err) => {
                let reference = &text[err.start..err.start + err.len];
                // Point at the reference itself when it appears verbatim in the source.
                let (offset, len) = at.span();
                let raw = at
                    .source_text()
                    .get(offset..offset + len)
                    .unwrap_or_default();
                let here = match raw.find(reference) {
                    Some(i) => Location::at_offset(self.source, offset + i, reference.len()),
                    None => at,
                };
                self.expansion_refused |= err.over_limit;
                let mut p = if err.over_limit {
                    Problem::at(ProblemKind::Limit, &here, err.message).label("too large")
                } else {
                    Problem::at(ProblemKind::Env, &here, err.message).label("needs a value")
                };
                if let Some(help) = err.help {
                    p = p.help(help);
                }
                self.problems.push(p);
                None
            }
        }
    }

    fn servers(&mut self, node: &Node) -> Vec<ServerDecl> {
        let items = match &node.value {
            Value::Null => return Vec::new(),
            Value::Seq(items) => items,
            other => {
                let kind = other.kind();
                let p = self.problem(
                    ProblemKind::Invalid,
                    node,
                    format!("`servers` must be a list, found {kind}"),
                );
                p.set_help("write `servers:` followed by `- app: ...` items");
                return Vec::new();
            }
        };
        items.iter().filter_map(|item| self.server(item)).collect()
    }

    fn server(&mut self, node: &Node) -> Option<ServerDecl> {
        let Value::Map(entries) = &node.value else {
            let kind = node.value.kind();
            let p = self.problem(
                ProblemKind::Invalid,
                node,
                format!("a server must be a map with `app` and `downstream`, found {kind}"),
            );
            p.set_help("write `- app: <MCP server app>` and `downstream: [<app>, ...]`");
            return None;
        };
        let mut app = None;
        let mut downstream = Vec::new();
        let mut selectors = Vec::new();
        let mut except = Vec::new();
        let mut suspend = false;
        let mut reason = None;
        let mut ok = true;
        for (key, value) in entries {
            match self.key(key, SERVER_KEYS) {
                Some("app") => {
                    app = self.server_app(value);
                    ok &= app.is_some();
                }
                Some("suspend") => match self.boolean(value, "suspend") {
                    Some(b) => suspend = b.value,
                    None => ok = false,
                },
                Some("reason") => match self.string(value, "reason") {
                    Some(text) => reason = Some(text.value.trim().to_owned()),
                    None => ok = false,
                },
                Some(list @ ("downstream" | "except")) => match &value.value {
                    Value::Null => {}
                    Value::Seq(items) => {
                        for item in items {
                            match (list, self.entry(item)) {
                                (_, None) => ok = false,
                                ("downstream", Some(Entry::App(r))) => downstream.push(r),
                                ("downstream", Some(Entry::Selector(s))) => selectors.push(s),
                                (_, Some(Entry::App(r))) => {
                                    except.push(Located::new(Except::App(r.value), r.at));
                                }
                                (_, Some(Entry::Selector(s))) => {
                                    except.push(Located::new(Except::Selector(s.value), s.at));
                                }
                            }
                        }
                    }
                    other => {
                        let kind = other.kind();
                        let p = self.problem(
                            ProblemKind::Invalid,
                            value,
                            format!("`{list}` must be a list of apps, found {kind}"),
                        );
                        p.set_help(format!(
                            "write `{list}: [Internal API, {{ domain: wiki.example.com }}, {{ tag: mcp-callable }}]`"
                        ));
                        ok = false;
                    }
                },
                _ => ok = false,
            }
        }
        if app.is_none() && ok {
            let p = self.problem(
                ProblemKind::Invalid,
                node,
                "a server needs `app`, the MCP server's Access application",
            );
            p.set_label("no `app` in this server")
                .set_help("add `app: <app name>` (or `{ domain: ... }`, `{ uid: ... }`)");
        }
        // A `reason` without `suspend: true` is kept out of the plan: it is what is left
        // after a resume, and says nothing about the server any more.
        let suspended = suspend.then(|| Suspension {
            reason: reason.filter(|r| !r.is_empty()),
        });
        Some(ServerDecl {
            app: app?,
            downstream,
            selectors,
            except,
            suspended,
        })
        .filter(|_| ok)
    }

    /// A server's `app`: one app, so never a pattern.
    fn server_app(&mut self, node: &Node) -> Option<Located<AppRef>> {
        let r = self.app_ref(node)?;
        let (AppRef::Name(text) | AppRef::Domain(text)) = &r.value else {
            return Some(r);
        };
        if !is_pattern(text) {
            return Some(r);
        }
        let at = r.at.clone();
        self.problems.push(
            Problem::at(
                ProblemKind::Invalid,
                &at,
                format!(
                    "server {} has a `*`, which makes it a pattern; an MCP server is one app",
                    r.value
                ),
            )
            .label("a pattern")
            .help("name the server's app by uid, `{ uid: ... }` (also for an app whose name has a `*`)"),
        );
        None
    }

    /// A `downstream` or `except` entry: `{ tag: ... }`, a `name` or `domain` with a
    /// `*` (a selector), or an exact app reference.
    fn entry(&mut self, node: &Node) -> Option<Entry> {
        let (kind, value, at) = self.reference(node, ENTRY_KEYS)?;
        let text = value.value;
        let selector = match kind {
            "tag" if text.contains(super::selector::WILDCARD) => {
                self.problems.push(
                    Problem::at(
                        ProblemKind::Invalid,
                        &value.at,
                        format!("tag `{text}` has a `*`; tags match exactly"),
                    )
                    .label("not a tag")
                    .help("write the tag as Zero Trust > Access > Tags shows it"),
                );
                return None;
            }
            "tag" => Selector::Tag(text),
            "name" if is_pattern(&text) => Selector::Name(Glob::name(&text)),
            "domain" if is_pattern(&text) => match Glob::domain(&text) {
                Ok(glob) => Selector::Domain(glob),
                Err(why) => {
                    self.problems.push(
                        Problem::at(ProblemKind::Invalid, &value.at, why)
                            .label("bad pattern")
                            .help("e.g. `*.internal.example.com` (one label) or `**.example.com` (any depth)"),
                    );
                    return None;
                }
            },
            _ => return Some(Entry::App(Located::new(exact(kind, text), at))),
        };
        Some(Entry::Selector(Located::new(selector, at)))
    }

    fn app_ref(&mut self, node: &Node) -> Option<Located<AppRef>> {
        let (kind, value, at) = self.reference(node, REF_KEYS)?;
        Some(Located::new(exact(kind, value.value), at))
    }

    /// The kind (one of `keys`), trimmed non-empty value and place of a reference: a
    /// bare name, or a map with exactly one of `keys`.
    fn reference(
        &mut self,
        node: &Node,
        keys: &[&'static str],
    ) -> Option<(&'static str, Located<String>, Location)> {
        let at = self.loc(node);
        let (kind, value) = match &node.value {
            Value::Map(entries) => {
                let mut found: Vec<(&'static str, &Node)> = Vec::new();
                let mut ok = true;
                for (key, value) in entries {
                    match self.key(key, keys) {
                        Some(k) => found.push((k, value)),
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                if let [(k, v)] = found.as_slice() {
                    (*k, self.string(v, k)?)
                } else {
                    let one_of = keys
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let p = self.problem(
                        ProblemKind::Invalid,
                        node,
                        format!(
                            "an app reference needs exactly one of {one_of}; found {}",
                            found.len()
                        ),
                    );
                    p.set_help("write `{ uid: <app uid> }`, `{ domain: <hostname> }` or `{ name: <app name> }`");
                    return None;
                }
            }
            Value::Str(_) | Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
                ("name", self.string(node, "app")?)
            }
            other => {
                let kind = other.kind();
                let p = self.problem(
                    ProblemKind::Invalid,
                    node,
                    format!("expected an app reference, found {kind}"),
                );
                p.set_help(
                    "write an app name, or `{ name: ... }`, `{ domain: ... }`, `{ uid: ... }`",
                );
                return None;
            }
        };
        let text = value.value.trim().to_owned();
        if text.is_empty() {
            self.problems.push(Problem::at(
                ProblemKind::Invalid,
                &value.at,
                format!("empty app {kind}"),
            ));
            return None;
        }
        Some((kind, Located::new(text, value.at), at))
    }
}

/// An exact reference of `kind` (`name`, `domain` or `uid`).
fn exact(kind: &str, text: String) -> AppRef {
    match kind {
        "name" => AppRef::Name(text),
        "domain" => AppRef::Domain(text.to_ascii_lowercase()),
        _ => AppRef::Uid(text),
    }
}

/// A scalar's text as written (for numbers and booleans used as names).
fn scalar_text(node: &Node, source: &str) -> Option<String> {
    // A value replayed from an alias spans the alias (`*d`), not the value: never
    // take that for the text (`*` would even make it a selector).
    let from_source = node
        .span
        .and_then(|(o, l)| source.get(o..o + l))
        .filter(|text| !text.starts_with('*'))
        .map(str::to_owned);
    match &node.value {
        Value::Str(s) => Some(s.clone()),
        Value::Int(i) => Some(from_source.unwrap_or_else(|| i.to_string())),
        Value::Float(f) => Some(from_source.unwrap_or_else(|| f.to_string())),
        Value::Bool(b) => Some(from_source.unwrap_or_else(|| b.to_string())),
        Value::Null | Value::Seq(_) | Value::Map(_) => None,
    }
}
