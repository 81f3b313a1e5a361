//! `mcp-access apps`: the account's Access apps, for writing a first manifest. For each
//! app: name, type, domain, uid, whether it can be an MCP server or a downstream app,
//! and the linked-token grants it already has (whose tokens it accepts, and where its
//! own tokens are accepted). Pure listing over an [`Inventory`]; text or JSON.

use std::collections::HashMap;
use std::io::{self, Write};

use serde::Serialize;

use crate::cloudflare::types::App;
use crate::grants;
use crate::inventory::Inventory;
use crate::plan::AppView;
use crate::plan::ownership::owner_of;

/// Output formats of `apps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// A table for people.
    #[default]
    Text,
    /// One JSON document for scripts.
    Json,
}

/// The listing: every app (of the type asked for), by name then uid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listing {
    /// The `--type` filter, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_type: Option<String>,
    /// The apps.
    pub apps: Vec<AppEntry>,
}

/// One app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppEntry {
    /// Its name (not unique in an account).
    pub name: String,
    /// `self_hosted`, `saas`, `ssh`, ...
    #[serde(rename = "type")]
    pub app_type: String,
    /// Its primary hostname, when it has one.
    pub domain: Option<String>,
    /// The uid a manifest (`{ uid: ... }`) and a `linked_app_token` rule name it by.
    pub uid: String,
    /// Whether it can issue Linked App Tokens (be a manifest's MCP server).
    pub can_be_server: bool,
    /// Whether a Linked App Token policy can be attached to it (be a downstream app).
    pub can_be_downstream: bool,
    /// Grants on this app: the servers whose tokens it accepts.
    pub accepts: Vec<GrantEntry>,
    /// Grants naming this app as the server: the apps that accept its tokens.
    pub reaches: Vec<GrantEntry>,
}

/// One grant, seen from one end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantEntry {
    /// The app at the other end (its name is empty when the uid names no app).
    pub app: AppView,
    /// The granting policy's id.
    pub policy_id: String,
    /// Its name.
    pub policy_name: String,
    /// `non_identity` or `bypass`.
    pub decision: String,
    /// The mcp-access owner in its name, when mcp-access manages it.
    pub managed_by: Option<String>,
}

/// Lists the apps of `inventory`, only those of `app_type` when given.
pub fn list(inventory: &Inventory, app_type: Option<&str>) -> Listing {
    let mut accepts: HashMap<&str, Vec<GrantEntry>> = HashMap::new();
    let mut reaches: HashMap<&str, Vec<GrantEntry>> = HashMap::new();
    for g in grants::grants(inventory) {
        let entry = |other: AppView| GrantEntry {
            app: other,
            policy_id: g.policy.id.to_owned(),
            policy_name: g.policy.name.to_owned(),
            decision: g.policy.decision.to_owned(),
            managed_by: owner_of(g.policy.name).map(str::to_owned),
        };
        let server = AppView {
            uid: g.server.to_owned(),
            name: inventory
                .app(g.server)
                .map(|a| a.name().to_owned())
                .unwrap_or_default(),
        };
        accepts.entry(g.app.uid()).or_default().push(entry(server));
        reaches.entry(g.server).or_default().push(entry(AppView {
            uid: g.app.uid().to_owned(),
            name: g.app.name().to_owned(),
        }));
    }
    let sort = |list: &mut Vec<GrantEntry>| {
        list.sort_by(|a, b| {
            (&a.app.name, &a.app.uid, &a.policy_name, &a.policy_id).cmp(&(
                &b.app.name,
                &b.app.uid,
                &b.policy_name,
                &b.policy_id,
            ))
        });
    };
    let mut apps: Vec<AppEntry> = inventory
        .apps()
        .iter()
        .filter(|a| app_type.is_none_or(|t| a.app_type() == t))
        .map(|a: &App| {
            let mut accepts = accepts.remove(a.uid()).unwrap_or_default();
            let mut reaches = reaches.remove(a.uid()).unwrap_or_default();
            sort(&mut accepts);
            sort(&mut reaches);
            AppEntry {
                name: a.name().to_owned(),
                app_type: a.app_type().to_owned(),
                domain: a
                    .domain()
                    .or_else(|| a.domains().first().copied())
                    .map(str::to_owned),
                uid: a.uid().to_owned(),
                can_be_server: grants::can_be_server(a).is_ok(),
                can_be_downstream: grants::can_be_downstream(a).is_ok(),
                accepts,
                reaches,
            }
        })
        .collect();
    apps.sort_by_cached_key(|a| (a.name.to_lowercase(), a.name.clone(), a.uid.clone()));
    Listing {
        app_type: app_type.map(str::to_owned),
        apps,
    }
}

/// Writes the listing in `format`.
pub fn render(listing: &Listing, format: Format, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, listing)?;
            writeln!(out)
        }
        Format::Text => render_text(listing, out),
    }
}

/// A table, one row per app, and under a row the grants of that app.
fn render_text(listing: &Listing, out: &mut dyn Write) -> io::Result<()> {
    if listing.apps.is_empty() {
        return match &listing.app_type {
            Some(t) => writeln!(out, "No apps of type `{}` in the account.", shown(t)),
            None => writeln!(out, "No apps in the account."),
        };
    }
    let yes = |b: bool| if b { "yes" } else { "no" };
    let rows: Vec<[String; 6]> = listing
        .apps
        .iter()
        .map(|a| {
            [
                shown(&a.name),
                shown(&a.app_type),
                a.domain.as_deref().map_or_else(|| "-".to_owned(), shown),
                shown(&a.uid),
                yes(a.can_be_server).to_owned(),
                yes(a.can_be_downstream).to_owned(),
            ]
        })
        .collect();
    let header = ["NAME", "TYPE", "DOMAIN", "UID", "SERVER", "DOWNSTREAM"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(cell);
                s.push_str(&" ".repeat(w - cell.chars().count() + 2));
            }
        }
        s
    };
    writeln!(out, "{}", line(&header.map(str::to_owned)))?;
    for (app, row) in listing.apps.iter().zip(&rows) {
        writeln!(out, "{}", line(row))?;
        for g in &app.accepts {
            writeln!(out, "    accepts tokens of {}{}", other_end(g), via(g))?;
        }
        for g in &app.reaches {
            writeln!(out, "    its tokens reach {}{}", other_end(g), via(g))?;
        }
    }
    let servers = listing.apps.iter().filter(|a| a.can_be_server).count();
    let downstream = listing.apps.iter().filter(|a| a.can_be_downstream).count();
    writeln!(
        out,
        "\n{} app(s): {servers} can be an MCP server, {downstream} can be a downstream app. Name them in a manifest by name (when unique), {{ domain: ... }} or {{ uid: ... }}.",
        listing.apps.len()
    )
}

fn other_end(g: &GrantEntry) -> String {
    if g.app.name.is_empty() {
        format!("app {} (not in the account)", shown(&g.app.uid))
    } else {
        format!("{:?}", g.app.name)
    }
}

fn via(g: &GrantEntry) -> String {
    let managed = g
        .managed_by
        .as_deref()
        .map_or_else(|| ", unmanaged".to_owned(), |o| format!(", managed by {o}"));
    format!(" via {:?} ({}{managed})", g.policy_name, shown(&g.decision))
}

/// Account text on a terminal: control characters escaped, so a name cannot move the
/// cursor or recolour the screen.
fn shown(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudflare::types::Policy;
    use serde_json::{Value, json};

    fn inventory() -> Inventory {
        let app = |id: &str, name: &str, kind: &str, policies: Value| {
            let mut v = json!({"id": id, "name": name, "type": kind,
                               "domain": format!("{id}.example.com"), "policies": policies});
            if kind == "saas" {
                v["saas_app"] = json!({"auth_type": "oidc"});
            }
            App::from_value(v).unwrap()
        };
        let grant =
            Policy::from_value(json!({"id": "p1", "name": "Allow requests from MCP server",
            "decision": "non_identity", "include": [{"linked_app_token": {"app_uid": "srv"}}]}))
            .unwrap();
        Inventory::new(
            vec![
                app("wiki", "Wiki", "self_hosted", json!(["p1"])),
                app("srv", "Support\u{1b}[31m", "saas", json!([])),
                app("ssh", "Bastion", "ssh", json!([])),
            ],
            vec![grant],
        )
    }

    #[test]
    fn apps_are_listed_with_roles_and_both_ends_of_each_grant() {
        let listing = list(&inventory(), None);
        let names: Vec<&str> = listing.apps.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["Bastion", "Support\u{1b}[31m", "Wiki"]);
        let [ssh, srv, wiki] = listing.apps.as_slice() else {
            panic!()
        };
        assert!(!ssh.can_be_server && !ssh.can_be_downstream);
        assert!(srv.can_be_server && !srv.can_be_downstream);
        assert!(wiki.can_be_server && wiki.can_be_downstream);
        assert_eq!(wiki.accepts[0].app.uid, "srv");
        assert_eq!(srv.reaches[0].app.name, "Wiki");
        assert_eq!(wiki.accepts[0].managed_by, None);

        let mut text = Vec::new();
        render(&listing, Format::Text, &mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(
            !text.contains('\u{1b}'),
            "control characters escaped: {text}"
        );
        assert!(
            text.contains("    accepts tokens of \"Support\\u{1b}[31m\" via \"Allow requests from MCP server\" (non_identity, unmanaged)"),
            "{text}"
        );
        assert!(text.contains("3 app(s): 2 can be an MCP server, 1 can be a downstream app"));

        let only = list(&inventory(), Some("ssh"));
        assert_eq!(only.apps.len(), 1);
        let mut none = Vec::new();
        render(&list(&inventory(), Some("mcp")), Format::Text, &mut none).unwrap();
        assert_eq!(
            String::from_utf8(none).unwrap(),
            "No apps of type `mcp` in the account.\n"
        );
    }
}
