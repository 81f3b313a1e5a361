//! Selector resolution: the self-hosted apps each server's selectors match in the
//! account, what `except` takes out, which matched apps cannot be downstream apps,
//! and the warnings a reviewer should see. [`Selection`] says why each app is a
//! downstream app; [`super::Desired`] only says which.
//!
//! Selectors only ever pick apps that can be downstream apps (`self_hosted`, not the
//! server itself); the others they match are skipped and listed once per server. A
//! selector that matches no app is a warning (an error under `--strict`): a typo in a
//! tag, or a tag removed in the dashboard, must not pass unseen.

use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::error::{ManifestError, Problem, ProblemKind};
use super::location::Located;
use super::resolve::DesiredApp;
use super::selector::{Except, Selector, host_of};
use super::suggest::suggest;
use super::{AppRef, ServerDecl};
use crate::cloudflare::types::{App, MCP, MCP_PORTAL, SELF_HOSTED};
use crate::inventory::Inventory;

/// Why each server's downstream apps are what they are.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// One per resolved server, in manifest order.
    pub servers: Vec<ServerSelection>,
    /// Worth a reviewer's eye, not fatal: a selector that matches no app, an app both
    /// listed and excepted, a pattern equal to an app's literal name or domain. Each
    /// is an error under `--strict` ([`Selection::strict`]).
    pub warnings: Vec<Problem>,
}

impl Selection {
    /// The selection of the server with this uid.
    pub fn server(&self, uid: &str) -> Option<&ServerSelection> {
        self.servers.iter().find(|s| s.uid == uid)
    }

    /// `--strict`: every warning becomes an error.
    pub fn strict(self) -> Result<Self, ManifestError> {
        if self.warnings.is_empty() {
            return Ok(self);
        }
        let problems = self
            .warnings
            .into_iter()
            .map(|p| {
                let help = match p.help_text() {
                    Some(h) => format!("{h} (an error because of --strict)"),
                    None => "an error because of --strict".to_owned(),
                };
                p.help(help)
            })
            .collect();
        Err(ManifestError::new(problems))
    }

    /// The warnings as `path:line:col: message` lines.
    pub fn warning_lines(&self) -> Vec<String> {
        self.warnings.iter().map(ToString::to_string).collect()
    }
}

/// How one server's selectors and `except` resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerSelection {
    /// The server app's uid.
    pub uid: String,
    /// Its name.
    pub name: String,
    /// Each selector as plans say it (`tag mcp-callable`), with the number of
    /// downstream apps it matches now (before `except`).
    pub selectors: Vec<(String, usize)>,
    /// App uid -> the selectors that match it, for every app a selector made a
    /// downstream app candidate.
    pub matched: BTreeMap<String, Vec<String>>,
    /// The apps named by exact reference.
    pub listed: BTreeSet<String>,
    /// App uid -> the app `except` takes out, and the entry that does.
    pub excluded: BTreeMap<String, Excluded>,
    /// Apps a selector matched that cannot be downstream apps, each once.
    pub skipped: Vec<Skipped>,
}

impl ServerSelection {
    /// True when the server picks apps by selector.
    pub fn selects(&self) -> bool {
        !self.selectors.is_empty()
    }

    /// The selectors that bring in no downstream app now (they match none, or only
    /// apps `except` takes out).
    pub fn empty_selectors(&self) -> impl Iterator<Item = &str> {
        self.selectors.iter().map(|(s, _)| s.as_str()).filter(|s| {
            !self
                .matched
                .iter()
                .any(|(uid, by)| by.iter().any(|b| b == s) && !self.excluded.contains_key(uid))
        })
    }

    /// The selectors that brought `app_uid` in, when no exact reference did (empty
    /// when it is listed, or not a downstream app at all).
    pub fn brought_by(&self, app_uid: &str) -> &[String] {
        if self.listed.contains(app_uid) || self.excluded.contains_key(app_uid) {
            return &[];
        }
        self.matched.get(app_uid).map_or(&[], Vec::as_slice)
    }
}

/// An app `except` takes out of a server's downstream apps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excluded {
    /// The app's name.
    pub name: String,
    /// The `except` entry that takes it out.
    pub by: Except,
}

/// An app a selector matched but that cannot be a downstream app of the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Its uid.
    pub uid: String,
    /// Its name.
    pub name: String,
    /// Its type.
    pub app_type: String,
    /// Why: "the server itself", "a `saas` app", "an `mcp` app (an MCP server)", ...
    pub why: String,
}

/// The account's apps, indexed for selectors on first use: by tag, and their names
/// and hosts read once (an app's fields are looked up in its JSON map, which costs
/// more than matching a glob).
pub(super) struct Candidates<'a> {
    inventory: &'a Inventory,
    by_tag: OnceCell<HashMap<&'a str, Vec<usize>>>,
    names: OnceCell<Vec<&'a str>>,
    hosts: OnceCell<Vec<Vec<String>>>,
}

impl<'a> Candidates<'a> {
    pub(super) fn new(inventory: &'a Inventory) -> Self {
        Self {
            inventory,
            by_tag: OnceCell::new(),
            names: OnceCell::new(),
            hosts: OnceCell::new(),
        }
    }

    fn names(&self) -> &Vec<&'a str> {
        self.names
            .get_or_init(|| self.apps().iter().map(App::name).collect())
    }

    fn apps(&self) -> &'a [App] {
        self.inventory.apps()
    }

    fn by_tag(&self) -> &HashMap<&'a str, Vec<usize>> {
        self.by_tag.get_or_init(|| {
            let mut index: HashMap<&str, Vec<usize>> = HashMap::new();
            for (i, app) in self.apps().iter().enumerate() {
                for tag in app.tags() {
                    let apps = index.entry(tag).or_default();
                    // An app listing a tag twice is one match.
                    if apps.last() != Some(&i) {
                        apps.push(i);
                    }
                }
            }
            index
        })
    }

    fn hosts(&self) -> &Vec<Vec<String>> {
        self.hosts.get_or_init(|| {
            self.apps()
                .iter()
                .map(|a| a.domains().into_iter().map(host_of).collect())
                .collect()
        })
    }

    /// Every app `selector` matches, any type, in account order.
    pub(super) fn matching(&self, selector: &Selector) -> Vec<&'a App> {
        let apps = self.apps();
        match selector {
            Selector::Tag(tag) => self
                .by_tag()
                .get(tag.as_str())
                .map(|ids| ids.iter().map(|&i| &apps[i]).collect())
                .unwrap_or_default(),
            Selector::Name(glob) => apps
                .iter()
                .zip(self.names())
                .filter(|(_, name)| glob.matches(name))
                .map(|(a, _)| a)
                .collect(),
            Selector::Domain(glob) => apps
                .iter()
                .zip(self.hosts())
                .filter(|(_, hosts)| hosts.iter().any(|h| glob.matches(h)))
                .map(|(a, _)| a)
                .collect(),
        }
    }

    /// Every tag the account is known to have: its tag list when it was read, else
    /// the tags its apps carry.
    fn known_tags(&self) -> Vec<&'a str> {
        let mut tags: Vec<&str> = match self.inventory.account_tags() {
            Some(tags) => tags.iter().map(String::as_str).collect(),
            None => self.by_tag().keys().copied().collect(),
        };
        tags.sort_unstable();
        tags
    }
}

/// Adds the apps `decl`'s selectors pick to `downstream` (its exact references,
/// resolved) and takes out what `except` names. `find` resolves an exact reference
/// (recording a problem when it names no app, or several); `server` is `None` when the
/// server itself did not resolve (problems are still collected).
pub(super) fn select<'a>(
    candidates: &Candidates<'a>,
    decl: &ServerDecl,
    server: Option<&App>,
    downstream: &mut Vec<DesiredApp>,
    find: &mut dyn FnMut(&Located<AppRef>) -> Option<&'a App>,
    warnings: &mut Vec<Problem>,
) -> ServerSelection {
    let server_uid = server.map_or("", App::uid);
    let mut out = ServerSelection {
        uid: server_uid.to_owned(),
        name: server.map_or("", App::name).to_owned(),
        listed: downstream.iter().map(|d| d.uid.clone()).collect(),
        ..ServerSelection::default()
    };
    let mut picked: BTreeMap<&str, &App> = BTreeMap::new();
    // Per selector: what it matched, and how many it skipped, for the warnings.
    let mut outcomes: Vec<(Vec<&str>, usize)> = Vec::new();
    for selector in &decl.selectors {
        let said = selector.value.to_string();
        let mut count = 0;
        let mut skipped_here = 0;
        let mut matched_here = Vec::new();
        for app in candidates.matching(&selector.value) {
            let why = if app.uid() == server_uid {
                Some("the server itself".to_owned())
            } else if app.app_type() != SELF_HOSTED {
                // The same rule as an exact reference: only self-hosted apps take a
                // Linked App Token policy (an MCP server app is a server itself).
                Some(match app.app_type() {
                    MCP => "an `mcp` app (an MCP server)".to_owned(),
                    MCP_PORTAL => "an `mcp_portal` app (an MCP server portal)".to_owned(),
                    other => format!("a `{other}` app"),
                })
            } else {
                None
            };
            if let Some(why) = why {
                skipped_here += 1;
                if !out.skipped.iter().any(|s| s.uid == app.uid()) {
                    out.skipped.push(Skipped {
                        uid: app.uid().to_owned(),
                        name: app.name().to_owned(),
                        app_type: app.app_type().to_owned(),
                        why,
                    });
                }
                continue;
            }
            count += 1;
            out.matched
                .entry(app.uid().to_owned())
                .or_default()
                .push(said.clone());
            picked.insert(app.uid(), app);
            matched_here.push(app.uid());
        }
        if let Some(literal) = literal_match(candidates, &selector.value) {
            warnings.push(literal_warning(selector, literal, count));
        }
        out.selectors.push((said, count));
        outcomes.push((matched_here, skipped_here));
    }
    for (uid, app) in &picked {
        if !out.listed.contains(*uid) {
            downstream.push(desired_app(app));
        }
    }

    except(candidates, decl, &picked, &mut out, find, warnings);
    downstream.retain(|d| !out.excluded.contains_key(&d.uid));
    downstream.sort_by(|a, b| a.uid.cmp(&b.uid));
    for (selector, (matched, skipped)) in decl.selectors.iter().zip(outcomes) {
        if matched.iter().all(|uid| out.excluded.contains_key(*uid)) {
            let miss = Miss {
                skipped,
                excepted: matched.len(),
            };
            warnings.push(no_match(candidates, decl, selector, &miss));
        }
    }
    out
}

/// Records in `out.excluded` the listed and `picked` apps that `decl`'s `except`
/// entries take out.
fn except<'a>(
    candidates: &Candidates<'a>,
    decl: &ServerDecl,
    picked: &BTreeMap<&str, &App>,
    out: &mut ServerSelection,
    find: &mut dyn FnMut(&Located<AppRef>) -> Option<&'a App>,
    warnings: &mut Vec<Problem>,
) {
    for entry in &decl.except {
        let taken: Vec<&App> = match &entry.value {
            Except::App(r) => find(&Located::new(r.clone(), entry.at.clone()))
                .into_iter()
                .collect(),
            Except::Selector(s) => candidates.matching(s),
        };
        for app in taken {
            let uid = app.uid();
            if out.excluded.contains_key(uid)
                || !(out.listed.contains(uid) || picked.contains_key(uid))
            {
                continue;
            }
            out.excluded.insert(
                uid.to_owned(),
                Excluded {
                    name: app.name().to_owned(),
                    by: entry.value.clone(),
                },
            );
            if out.listed.contains(uid) {
                warnings.push(
                    Problem::at(
                        ProblemKind::Conflict,
                        &entry.at,
                        format!(
                            "app `{}` is listed as a downstream app of server {} and excluded by `except` {}; it is excluded",
                            app.name(),
                            decl.app.value,
                            entry.value
                        ),
                    )
                    .label("excludes a listed app")
                    .help("remove the app from `downstream` or from `except`"),
                );
            }
        }
    }
}

/// What a selector that brings in no app did match.
struct Miss {
    /// Apps it matched that cannot be downstream apps.
    skipped: usize,
    /// Downstream apps it matched that `except` took out.
    excepted: usize,
}

/// A downstream app as `Desired` holds it.
pub(super) fn desired_app(app: &App) -> DesiredApp {
    DesiredApp {
        uid: app.uid().to_owned(),
        name: app.name().to_owned(),
        domain: app
            .domain()
            .or_else(|| app.domains().first().copied())
            .map(str::to_owned),
    }
}

/// The warning for a selector that matches no downstream app, with what is known
/// about why.
fn no_match(
    candidates: &Candidates<'_>,
    decl: &ServerDecl,
    selector: &Located<Selector>,
    miss: &Miss,
) -> Problem {
    let mut help = "check the selector; mcp-access detaches what it brought in before (--max-delete-percent still applies)";
    let why = match &selector.value {
        _ if miss.excepted > 0 => format!(
            " that `except` leaves in ({} matched, all taken out)",
            miss.excepted
        ),
        _ if miss.skipped > 0 => format!(
            " that can be a downstream app ({} matched, none self-hosted)",
            miss.skipped
        ),
        Selector::Tag(tag) => {
            let known = candidates.known_tags();
            if known.iter().any(|t| t == tag) {
                format!("; tag `{tag}` exists but no app carries it")
            } else if let Some(close) = suggest(tag, known.iter().copied()) {
                // In the message, so the plan's one-line warnings keep it.
                help = "tags match exactly, as Zero Trust > Access > Tags shows them";
                format!("; the account has no tag `{tag}`, did you mean `{close}`?")
            } else {
                format!("; the account has no tag `{tag}`")
            }
        }
        _ => String::new(),
    };
    Problem::at(
        ProblemKind::NoMatch,
        &selector.at,
        format!(
            "selector {} of server {} matches no app{why}",
            selector.value.as_yaml(),
            decl.app.value
        ),
    )
    .label("matches nothing")
    .help(help)
}

/// An app whose name (or host) is the selector's pattern itself: a manifest written
/// before selectors existed meant that one app.
fn literal_match<'a>(candidates: &Candidates<'a>, selector: &Selector) -> Option<&'a App> {
    match selector {
        Selector::Tag(_) => None,
        Selector::Name(glob) => candidates
            .apps()
            .iter()
            .zip(candidates.names())
            .find(|(_, name)| **name == glob.as_str())
            .map(|(a, _)| a),
        Selector::Domain(glob) => candidates
            .apps()
            .iter()
            .zip(candidates.hosts())
            .find(|(_, hosts)| hosts.iter().any(|h| h == glob.as_str()))
            .map(|(a, _)| a),
    }
}

fn literal_warning(selector: &Located<Selector>, app: &App, count: usize) -> Problem {
    Problem::at(
        ProblemKind::Ambiguous,
        &selector.at,
        format!(
            "{} is a pattern (it has a `*`) and matches {count} app(s), not only app `{}` whose {} it is",
            selector.value.as_yaml(),
            app.name(),
            if matches!(selector.value, Selector::Name(_)) {
                "name"
            } else {
                "domain"
            }
        ),
    )
    .label("a pattern, not a name")
    .help(format!(
        "to name only that app, write `{{ uid: {} }}`",
        app.uid()
    ))
}
