//! Resolution: the manifest's app references checked against the account's apps,
//! giving the [`Desired`] state the planner diffs against the [`Inventory`].

use std::collections::HashMap;

use super::error::{ManifestError, Problem, ProblemKind, shorten};
use super::location::{Located, Location};
use super::selection::{self, Candidates, Selection};
use super::suggest::Suggester;
use super::{AppRef, Manifest, ServerDecl, Suspension, validate_owner};
use crate::cloudflare::types::{App, MCP, MCP_PORTAL, SAAS, SELF_HOSTED};
use crate::inventory::Inventory;

/// What the account should look like: each MCP server and the apps it may call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    /// The ownership id our policies carry.
    pub owner: String,
    /// Sorted by uid.
    pub servers: Vec<DesiredServer>,
}

/// One MCP server app and its downstream apps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredServer {
    pub uid: String,
    pub name: String,
    pub kind: ServerKind,
    /// Sorted by uid, without duplicates.
    pub downstream: Vec<DesiredApp>,
    /// `suspend: true`: the plan leaves this server's managed policy and links as they
    /// are in the account.
    pub suspended: Option<Suspension>,
}

/// A self-hosted app a server may call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredApp {
    pub uid: String,
    pub name: String,
    /// The primary hostname, for humans.
    pub domain: Option<String>,
}

/// What kind of app an MCP server is, which decides how it forwards the user's
/// identity downstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerKind {
    /// A `self_hosted` app: it copies `Cf-Access-Jwt-Assertion` into `Cf-Access-Token`.
    SelfHosted,
    /// A `saas` app with OIDC: it sends its OAuth access token as a bearer token.
    OidcSaas,
    /// An `mcp` app (an MCP server application): like a self-hosted app, its origin
    /// copies `Cf-Access-Jwt-Assertion` into `Cf-Access-Token`.
    Mcp,
}

impl ServerKind {
    /// The header the MCP server puts the token in on downstream requests.
    pub fn forward_header(&self) -> &'static str {
        self.forward_mode().downstream_header_label()
    }

    /// How the server forwards the user's identity ([`crate::forward`]).
    pub fn forward_mode(&self) -> crate::forward::ForwardMode {
        match self {
            // NOTE (Managed OAuth docs): "the origin of a self-hosted app or an MCP
            // server app forwards Cf-Access-Jwt-Assertion as Cf-Access-Token".
            ServerKind::SelfHosted | ServerKind::Mcp => crate::forward::ForwardMode::SelfHosted,
            ServerKind::OidcSaas => crate::forward::ForwardMode::OidcSaas,
        }
    }

    /// The Access application `type` of such a server.
    pub fn app_type(&self) -> &'static str {
        match self {
            ServerKind::SelfHosted => SELF_HOSTED,
            ServerKind::OidcSaas => SAAS,
            ServerKind::Mcp => MCP,
        }
    }
}

/// Resolves every reference of `manifest` against `inventory` for `owner`, collecting
/// every problem. `owner` is the effective owner: `--owner` when given (it overrides
/// the manifest's, e.g. to move a manifest to a new owner id), else the manifest's.
pub fn resolve(
    manifest: &Manifest,
    owner: &str,
    inventory: &Inventory,
) -> Result<Desired, ManifestError> {
    resolve_selecting(manifest, owner, inventory).map(|(desired, _)| desired)
}

/// [`resolve`], and why each downstream app is one: the exact references and
/// selectors behind it, what `except` took out, and the selector warnings.
pub fn resolve_selecting(
    manifest: &Manifest,
    owner: &str,
    inventory: &Inventory,
) -> Result<(Desired, Selection), ManifestError> {
    let mut problems = Vec::new();
    let mut selection = Selection::default();
    let candidates = Candidates::new(inventory);
    if let Err(why) = validate_owner(owner) {
        problems.push(Problem::in_path(ProblemKind::Invalid, "owner", why));
    }
    let mut index = Index::new(inventory);
    let mut servers: Vec<DesiredServer> = Vec::new();
    let mut server_at: HashMap<&str, &Location> = HashMap::new();

    for decl in &manifest.servers {
        let server = index.find(&decl.app, &mut problems);
        let kind = server.and_then(|app| server_kind(app, &decl.app, &mut problems));
        if let Some(app) = server {
            if let Some(first) = server_at.get(app.uid()) {
                problems.push(
                    Problem::at(
                        ProblemKind::Conflict,
                        &decl.app.at,
                        format!(
                            "server {} is app `{}` ({}), already declared at {first}",
                            decl.app.value,
                            shorten(app.name()),
                            app.uid()
                        ),
                    )
                    .label("same app as an earlier server")
                    .help("declare each MCP server once, with all its downstream apps")
                    .other(first),
                );
                continue;
            }
            server_at.insert(app.uid(), &decl.app.at);
        }

        let mut downstream = resolve_downstream(&mut index, decl, server, &mut problems);
        let selected = selection::select(
            &candidates,
            decl,
            server,
            &mut downstream,
            &mut |r| index.find(r, &mut problems),
            &mut selection.warnings,
        );
        if let (Some(app), Some(kind)) = (server, kind) {
            selection.servers.push(selected);
            servers.push(DesiredServer {
                uid: app.uid().to_owned(),
                name: app.name().to_owned(),
                kind,
                downstream,
                suspended: decl.suspended.clone(),
            });
        }
    }
    if !problems.is_empty() {
        return Err(ManifestError::new(problems));
    }
    servers.sort_by(|a, b| a.uid.cmp(&b.uid));
    let desired = Desired {
        owner: owner.to_owned(),
        servers,
    };
    Ok((desired, selection))
}

/// The downstream apps of one server declaration, sorted by uid; problems for the
/// ones that are missing, duplicated, the server itself or not self-hosted.
fn resolve_downstream(
    index: &mut Index<'_>,
    decl: &ServerDecl,
    server: Option<&App>,
    problems: &mut Vec<Problem>,
) -> Vec<DesiredApp> {
    let mut downstream: Vec<DesiredApp> = Vec::new();
    let mut down_at: HashMap<&str, &Location> = HashMap::new();
    for d in &decl.downstream {
        let Some(target) = index.find(d, problems) else {
            continue;
        };
        if let Some(first) = down_at.get(target.uid()) {
            problems.push(
                Problem::at(
                    ProblemKind::Conflict,
                    &d.at,
                    format!(
                        "downstream {} is app `{}` ({}), already listed at {first} under server {}",
                        d.value,
                        shorten(target.name()),
                        target.uid(),
                        decl.app.value
                    ),
                )
                .label("same app again")
                .help("remove one of them")
                .other(first),
            );
            continue;
        }
        down_at.insert(target.uid(), &d.at);
        if server.is_some_and(|s| s.uid() == target.uid()) {
            problems.push(
                Problem::at(
                    ProblemKind::Invalid,
                    &d.at,
                    format!("server {} lists itself as a downstream app", decl.app.value),
                )
                .label("the server itself")
                .help("an MCP server needs no token to call itself; remove this entry"),
            );
            continue;
        }
        if matches!(target.app_type(), MCP | MCP_PORTAL) {
            problems.push(mcp_downstream(d, target));
            continue;
        }
        if target.app_type() != SELF_HOSTED {
            problems.push(
                    Problem::at(
                        ProblemKind::WrongType,
                        &d.at,
                        format!(
                            "downstream {} is a `{}` app; a Linked App Token rule can only be attached to `self_hosted` apps",
                            d.value,
                            target.app_type()
                        ),
                    )
                    .label("not self-hosted")
                    .help("list only self-hosted Access applications as downstream apps"),
                );
            continue;
        }
        downstream.push(selection::desired_app(target));
    }
    downstream.sort_by(|a, b| a.uid.cmp(&b.uid));
    downstream
}

/// The problem for an `mcp` or `mcp_portal` app listed as a downstream app.
///
/// NOTE (reference page, "The Linked App Token rule"): a policy holding the rule "is
/// attachable only to `self_hosted` apps (400 otherwise)".
fn mcp_downstream(d: &Located<AppRef>, target: &App) -> Problem {
    let (what, help) = if target.app_type() == MCP {
        (
            "an MCP server app",
            "an `mcp` app is an MCP server itself: declare it under `servers:` with its own downstream apps, and list only self-hosted apps here",
        )
    } else {
        (
            "an MCP server portal",
            "a portal fronts MCP servers and does not accept Linked App Tokens; list only self-hosted apps here",
        )
    };
    Problem::at(
        ProblemKind::WrongType,
        &d.at,
        format!(
            "downstream {} is an `{}` app ({what}); a Linked App Token policy can only be attached to `self_hosted` apps",
            d.value,
            target.app_type()
        ),
    )
    .label(format!("`{}` app", target.app_type()))
    .help(help)
}

fn server_kind(app: &App, r: &Located<AppRef>, problems: &mut Vec<Problem>) -> Option<ServerKind> {
    match (app.app_type(), app.saas_auth_type()) {
        (SELF_HOSTED, _) => Some(ServerKind::SelfHosted),
        (MCP, _) => Some(ServerKind::Mcp),
        (SAAS, Some("oidc")) => Some(ServerKind::OidcSaas),
        (MCP_PORTAL, _) => {
            // NOTE: ASSUMED. No source says a portal's tokens can be linked; the Managed
            // OAuth docs name self-hosted and MCP server apps as the forwarding origins.
            problems.push(
                Problem::at(
                    ProblemKind::WrongType,
                    &r.at,
                    format!(
                        "server {} is an `mcp_portal` app (an MCP server portal); a portal fronts MCP servers, it is not the app whose tokens a downstream app accepts",
                        r.value
                    ),
                )
                .label("an MCP server portal")
                .help("name the `mcp` (or self-hosted) app of the MCP server behind the portal"),
            );
            None
        }
        (SAAS, auth) => {
            let auth = auth.unwrap_or("saml");
            problems.push(
                Problem::at(
                    ProblemKind::WrongType,
                    &r.at,
                    format!(
                        "server {} is a SaaS app with `{auth}` authentication; a {} app cannot issue Linked App Tokens",
                        r.value,
                        auth.to_uppercase()
                    ),
                )
                .label("cannot issue tokens")
                .help("use a self-hosted app or a SaaS app with OIDC (the MCP OAuth flow) as the MCP server"),
            );
            None
        }
        (other, _) => {
            problems.push(
                Problem::at(
                    ProblemKind::WrongType,
                    &r.at,
                    format!(
                        "server {} is a `{other}` app; an MCP server must be a `self_hosted` app, an `mcp` app or a `saas` app with OIDC",
                        r.value
                    ),
                )
                .label("not an MCP server app")
                .help("point `app` at the Access application that protects the MCP server"),
            );
            None
        }
    }
}

/// The account's apps by name and by domain, and the suggestions for references that
/// match none.
struct Index<'a> {
    inventory: &'a Inventory,
    by_name: HashMap<&'a str, Vec<&'a App>>,
    by_domain: HashMap<String, Vec<&'a App>>,
    /// Sorted uids, names and domains (in that order), built on the first miss.
    sorted: [Option<Vec<String>>; 3],
    suggester: Suggester,
}

impl<'a> Index<'a> {
    fn new(inventory: &'a Inventory) -> Self {
        let mut by_name: HashMap<&str, Vec<&App>> = HashMap::new();
        let mut by_domain: HashMap<String, Vec<&App>> = HashMap::new();
        for app in inventory.apps() {
            by_name.entry(app.name()).or_default().push(app);
            for domain in app.domains() {
                by_domain
                    .entry(domain.to_ascii_lowercase())
                    .or_default()
                    .push(app);
            }
        }
        Self {
            inventory,
            by_name,
            by_domain,
            sorted: [None, None, None],
            suggester: Suggester::default(),
        }
    }

    /// The known uid, name or domain closest to what `r` says, if one is close.
    fn guess(&mut self, r: &AppRef) -> Option<String> {
        let (kind, typed) = match r {
            AppRef::Uid(s) => (0, s),
            AppRef::Name(s) => (1, s),
            AppRef::Domain(s) => (2, s),
        };
        let (inventory, by_name, by_domain) = (self.inventory, &self.by_name, &self.by_domain);
        let candidates = self.sorted[kind].get_or_insert_with(|| {
            let mut all: Vec<String> = match kind {
                0 => inventory
                    .apps()
                    .iter()
                    .map(|a| a.uid().to_owned())
                    .collect(),
                1 => by_name.keys().map(|&n| n.to_owned()).collect(),
                _ => by_domain.keys().cloned().collect(),
            };
            // Sorted, so equally close candidates give the same suggestion every run.
            all.sort_unstable();
            all
        });
        self.suggester
            .suggest(typed, candidates.iter().map(String::as_str))
            .map(str::to_owned)
    }

    /// The one app `r` names, or a problem (not found, with suggestions; ambiguous,
    /// with the candidates).
    fn find(&mut self, r: &Located<AppRef>, problems: &mut Vec<Problem>) -> Option<&'a App> {
        let found: Vec<&App> = match &r.value {
            AppRef::Uid(uid) => self.inventory.app(uid).into_iter().collect(),
            AppRef::Name(name) => self.by_name.get(name.as_str()).cloned().unwrap_or_default(),
            AppRef::Domain(domain) => self
                .by_domain
                .get(domain.as_str())
                .cloned()
                .unwrap_or_default(),
        };
        match found.as_slice() {
            [one] => Some(*one),
            [] => {
                // The suggestion goes in the message so plain-text output keeps it.
                let guess = self.guess(&r.value).map(|s| match &r.value {
                    AppRef::Name(_) => format!(", did you mean `{s}`?"),
                    AppRef::Domain(_) => format!(", did you mean `{{ domain: {s} }}`?"),
                    AppRef::Uid(_) => format!(", did you mean `{{ uid: {s} }}`?"),
                });
                let p = Problem::at(
                    ProblemKind::NotFound,
                    &r.at,
                    format!(
                        "no app {} in the account{}",
                        r.value,
                        guess.unwrap_or_default()
                    ),
                )
                .label("no such app")
                .help("check the app's name, domain or uid in Zero Trust > Access > Applications");
                problems.push(p);
                None
            }
            many => {
                let list = many
                    .iter()
                    .map(|a| {
                        format!(
                            "`{}` ({}, {})",
                            a.uid(),
                            a.app_type(),
                            a.domain()
                                .or_else(|| a.domains().first().copied())
                                .unwrap_or("no domain")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                problems.push(
                    Problem::at(
                        ProblemKind::Ambiguous,
                        &r.at,
                        format!("{} matches {} apps: {list}", r.value, many.len()),
                    )
                    .label("ambiguous")
                    .help(format!(
                        "name one app by uid, e.g. `{{ uid: {} }}`",
                        many[0].uid()
                    )),
                );
                None
            }
        }
    }
}
