//! Resolution: the manifest's app references checked against the account's apps,
//! giving the [`Desired`] state the planner diffs against the [`Inventory`].

use std::collections::HashMap;

use super::error::{ManifestError, Problem, ProblemKind};
use super::location::{Located, Location};
use super::parse::suggest;
use super::{AppRef, Manifest, ServerDecl, Suspension, validate_owner};
use crate::cloudflare::types::{App, SAAS, SELF_HOSTED};
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
}

impl ServerKind {
    /// The header the MCP server puts the token in on downstream requests.
    pub fn forward_header(&self) -> &'static str {
        match self {
            ServerKind::SelfHosted => "Cf-Access-Token",
            ServerKind::OidcSaas => "Authorization: Bearer",
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
    let mut problems = Vec::new();
    if let Err(why) = validate_owner(owner) {
        problems.push(Problem::in_path(ProblemKind::Invalid, "owner", why));
    }
    let index = Index::new(inventory);
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
                            app.name(),
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

        let downstream = resolve_downstream(&index, decl, server, &mut problems);
        if let (Some(app), Some(kind)) = (server, kind) {
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
    Ok(Desired {
        owner: owner.to_owned(),
        servers,
    })
}

/// The downstream apps of one server declaration, sorted by uid; problems for the
/// ones that are missing, duplicated, the server itself or not self-hosted.
fn resolve_downstream(
    index: &Index<'_>,
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
                        target.name(),
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
        downstream.push(DesiredApp {
            uid: target.uid().to_owned(),
            name: target.name().to_owned(),
            domain: target
                .domain()
                .or_else(|| target.domains().first().copied())
                .map(str::to_owned),
        });
    }
    downstream.sort_by(|a, b| a.uid.cmp(&b.uid));
    downstream
}

fn server_kind(app: &App, r: &Located<AppRef>, problems: &mut Vec<Problem>) -> Option<ServerKind> {
    match (app.app_type(), app.saas_auth_type()) {
        (SELF_HOSTED, _) => Some(ServerKind::SelfHosted),
        (SAAS, Some("oidc")) => Some(ServerKind::OidcSaas),
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
                        "server {} is a `{other}` app; an MCP server must be a `self_hosted` app or a `saas` app with OIDC",
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

/// The account's apps by name and by domain.
struct Index<'a> {
    inventory: &'a Inventory,
    by_name: HashMap<&'a str, Vec<&'a App>>,
    by_domain: HashMap<String, Vec<&'a App>>,
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
        }
    }

    /// The one app `r` names, or a problem (not found, with suggestions; ambiguous,
    /// with the candidates).
    fn find(&self, r: &Located<AppRef>, problems: &mut Vec<Problem>) -> Option<&'a App> {
        let found: Vec<&App> = match &r.value {
            AppRef::Uid(uid) => self.inventory.app(uid).into_iter().collect(),
            AppRef::Name(name) => self.by_name.get(name.as_str()).cloned().unwrap_or_default(),
            AppRef::Domain(domain) => self
                .by_domain
                .get(domain.as_str())
                .cloned()
                .unwrap_or_default(),
        };
        // Suggestions scan every app: only worth it for a reference that failed.
        let candidates = || -> Vec<&str> {
            match &r.value {
                AppRef::Uid(_) => self.inventory.apps().iter().map(App::uid).collect(),
                AppRef::Name(_) => self.by_name.keys().copied().collect(),
                AppRef::Domain(_) => self.by_domain.keys().map(String::as_str).collect(),
            }
        };
        match found.as_slice() {
            [one] => Some(*one),
            [] => {
                let typed = match &r.value {
                    AppRef::Name(s) | AppRef::Domain(s) | AppRef::Uid(s) => s,
                };
                let mut candidates = candidates();
                candidates.sort_unstable();
                // The suggestion goes in the message so plain-text output keeps it.
                let guess = suggest(typed, candidates).map(|s| match &r.value {
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
