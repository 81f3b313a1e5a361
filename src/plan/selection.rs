//! What the selectors did, in a plan: which selector brought each attach, why a
//! selected app is detached, the apps selectors skipped, the selector warnings, and
//! the servers whose links no longer match their selectors.
//!
//! [`explain`] runs after [`super::diff`] and only annotates: the diff decides what
//! changes from [`Desired`](crate::manifest::Desired) alone; the
//! [`Selection`](crate::manifest::Selection) says why.
//!
//! There is no state between runs, so "a selector that matched apps last time and
//! matches none now" is read from the account: the server's managed policy is still
//! linked to apps that neither an exact reference nor a selector declares now, and
//! one of its selectors matches nothing.

use std::collections::{HashMap, HashSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{AppView, Attach, Cause, Detach, Plan};
use crate::manifest::{Except, Selection, ServerSelection};

/// What the selectors of a plan's servers matched, skipped and warned about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SelectionView {
    /// Every selector of the manifest, with the downstream apps it matches now.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selectors: Vec<SelectorView>,
    /// Apps a selector matched that cannot be downstream apps (not self-hosted, or the
    /// server itself), once per server.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedView>,
    /// Selector warnings, `path:line:col: message`; errors under `--strict`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Apps `except` takes out of a server's downstream apps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded: Vec<ExcludedView>,
    /// Servers whose managed policy is linked to apps their selectors no longer match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmatched: Vec<UnmatchedView>,
}

impl SelectionView {
    /// True when the manifest has no selector and nothing was said.
    pub fn is_empty(&self) -> bool {
        self.selectors.is_empty()
            && self.skipped.is_empty()
            && self.warnings.is_empty()
            && self.excluded.is_empty()
            && self.unmatched.is_empty()
    }
}

/// An app `except` takes out of a server's downstream apps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExcludedView {
    /// The server.
    pub server: AppView,
    /// The app taken out.
    pub app: AppView,
    /// The `except` entry, e.g. `tag pci` or `"Billing API"`.
    pub by: String,
}

/// One selector and what it matches now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SelectorView {
    /// The server it belongs to.
    pub server: AppView,
    /// The selector, e.g. `tag mcp-callable`, `domain *.internal.example.com`.
    pub selector: String,
    /// The downstream apps it matches now (before `except`).
    pub matches: usize,
}

/// An app a selector matched but that cannot be a downstream app of the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SkippedView {
    /// The server whose selector matched it.
    pub server: AppView,
    /// The app.
    pub app: AppView,
    /// Its type.
    pub app_type: String,
    /// Why it was skipped.
    pub why: String,
}

/// A server whose managed policy is linked to apps that its selectors (and exact
/// references) no longer declare.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UnmatchedView {
    /// The server.
    pub server: AppView,
    /// Its apps linked now that nothing in the manifest declares any more (detached by
    /// this plan unless `--policy upsert-only`).
    pub links: usize,
    /// Its selectors that bring in no app now: they match none, or only apps `except`
    /// takes out (the likeliest cause, e.g. a tag removed in the dashboard).
    pub empty_selectors: Vec<String>,
}

/// Annotates `plan` (just made by [`super::diff`] from the same resolution) with what
/// `selection` says: the cause and selectors of each attach and detach (blocked ones
/// too), and the [`SelectionView`].
pub fn explain(plan: &mut Plan, selection: &Selection) {
    let deleted: HashSet<String> = plan.deletes.iter().map(|d| d.policy_id.clone()).collect();
    let mut view = view_of(selection);
    let servers: HashMap<&str, &ServerSelection> = selection
        .servers
        .iter()
        .map(|s| (s.uid.as_str(), s))
        .collect();
    let mut unmatched: Vec<(&ServerSelection, usize)> = Vec::new();
    let mut explainer = Explainer {
        servers: &servers,
        deleted: &deleted,
        unmatched: &mut unmatched,
    };
    for change in &mut plan.app_changes {
        explainer.change(&change.app.uid, &mut change.attach, &mut change.detach);
    }
    // A blocked change says what it would have done, and why, the same way.
    for change in &mut plan.blocked {
        explainer.change(&change.app.uid, &mut change.attach, &mut change.detach);
    }
    for (server, links) in unmatched {
        view.unmatched.push(UnmatchedView {
            server: AppView {
                uid: server.uid.clone(),
                name: server.name.clone(),
            },
            links,
            empty_selectors: server.empty_selectors().map(str::to_owned).collect(),
        });
    }
    plan.selection = view;
}

/// What [`explain`] reads, and the servers whose links the selectors no longer match.
struct Explainer<'s, 'a> {
    servers: &'s HashMap<&'a str, &'a ServerSelection>,
    deleted: &'s HashSet<String>,
    unmatched: &'s mut Vec<(&'a ServerSelection, usize)>,
}

impl Explainer<'_, '_> {
    /// Annotates the attaches and detaches of one app change.
    fn change(&mut self, app: &str, attaches: &mut [Attach], detaches: &mut [Detach]) {
        for attach in attaches {
            let Some(server) = self.servers.get(attach.server.uid.as_str()) else {
                continue;
            };
            let by = server.brought_by(app);
            if !by.is_empty() {
                attach.cause = Cause::Membership;
                attach.selectors = by.to_vec();
            }
        }
        for detach in detaches {
            let Some(server) = detach
                .server
                .as_ref()
                .and_then(|s| self.servers.get(s.uid.as_str()))
            else {
                continue;
            };
            // A policy that goes away says so itself (duplicate, server removed), and a
            // link that moves onto the server's managed policy takes no access away.
            if self.deleted.contains(&detach.policy_id) || detach.moved_to.is_some() {
                continue;
            }
            if let Some(excluded) = server.excluded.get(app) {
                detach.reason = format!("excluded by except {}", excluded.by);
                if let Except::Selector(s) = &excluded.by {
                    detach.cause = Cause::Membership;
                    detach.selectors = vec![s.to_string()];
                }
            } else if server.selects() && !server.matched.contains_key(app) {
                let selectors: Vec<String> =
                    server.selectors.iter().map(|(s, _)| s.clone()).collect();
                detach.reason = match selectors.as_slice() {
                    [one] => format!("no longer matches {one}"),
                    many => format!("no longer matches any of {}", many.join(", ")),
                };
                detach.cause = Cause::Membership;
                detach.selectors = selectors;
                match self.unmatched.iter_mut().find(|(s, _)| s.uid == server.uid) {
                    Some((_, n)) => *n += 1,
                    None => self.unmatched.push((server, 1)),
                }
            }
        }
    }
}

/// What each server's selectors match, exclude and skip, and the warnings.
fn view_of(selection: &Selection) -> SelectionView {
    let mut view = SelectionView {
        warnings: selection.warning_lines(),
        ..SelectionView::default()
    };
    for server in &selection.servers {
        let me = AppView {
            uid: server.uid.clone(),
            name: server.name.clone(),
        };
        for (selector, matches) in &server.selectors {
            view.selectors.push(SelectorView {
                server: me.clone(),
                selector: selector.clone(),
                matches: *matches,
            });
        }
        for (uid, excluded) in &server.excluded {
            view.excluded.push(ExcludedView {
                server: me.clone(),
                app: AppView {
                    uid: uid.clone(),
                    name: excluded.name.clone(),
                },
                by: excluded.by.to_string(),
            });
        }
        for s in &server.skipped {
            view.skipped.push(SkippedView {
                server: me.clone(),
                app: AppView {
                    uid: s.uid.clone(),
                    name: s.name.clone(),
                },
                app_type: s.app_type.clone(),
                why: s.why.clone(),
            });
        }
    }
    view
}

// ---- text ---------------------------------------------------------------------------

/// The "Selectors" section of the text plan: what each selector matches, what was
/// skipped (once per server), and the warnings. Nothing when the manifest has no
/// selector.
pub(super) fn write_text(
    view: &SelectionView,
    heading: anstyle::Style,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    if view.selectors.is_empty() && view.warnings.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "{}Selectors{}",
        heading.render(),
        heading.render_reset()
    )?;
    let mut servers: Vec<&AppView> = Vec::new();
    for s in &view.selectors {
        if !servers.contains(&&s.server) {
            servers.push(&s.server);
        }
    }
    for server in servers {
        let counts: Vec<String> = view
            .selectors
            .iter()
            .filter(|s| s.server == *server)
            .map(|s| format!("{} ({})", s.selector, apps(s.matches)))
            .collect();
        writeln!(
            out,
            "  {}: {}",
            super::text::describe(server),
            counts.join(", ")
        )?;
        let skipped: Vec<String> = view
            .skipped
            .iter()
            .filter(|s| s.server == *server)
            .map(|s| format!("{} ({})", super::text::describe(&s.app), s.why))
            .collect();
        let excluded: Vec<String> = view
            .excluded
            .iter()
            .filter(|e| e.server == *server)
            .map(|e| format!("{} (except {})", super::text::describe(&e.app), e.by))
            .collect();
        if !excluded.is_empty() {
            writeln!(
                out,
                "  {} excludes {}",
                super::text::describe(server),
                excluded.join(", ")
            )?;
        }
        if !skipped.is_empty() {
            writeln!(
                out,
                "  {} skips what cannot be a downstream app: {}",
                super::text::describe(server),
                skipped.join(", ")
            )?;
        }
    }
    for warning in &view.warnings {
        writeln!(out, "  warning: {warning}")?;
    }
    writeln!(out)
}

/// The summary line about links the selectors no longer match, under the plan's
/// summary: the change a reviewer should look at twice.
pub(super) fn write_text_summary(plan: &Plan, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    for u in &plan.selection.unmatched {
        writeln!(
            out,
            "Selectors: {}",
            unmatched_sentence(u, &super::text::describe(&u.server))
        )?;
    }
    Ok(())
}

/// `"support-mcp" is linked to 30 apps its selectors no longer match (tag x matches
/// no app now).`
pub(super) fn unmatched_sentence(u: &UnmatchedView, server: &str) -> String {
    let empty = match u.empty_selectors.as_slice() {
        [] => String::new(),
        [one] => format!(" ({one} brings in no app now)"),
        many => format!(" ({} bring in no app now)", many.join(", ")),
    };
    format!(
        "{server} is linked to {} that its selectors no longer match{empty}.",
        apps(u.links)
    )
}

/// `1 app`, `3 apps`.
fn apps(n: usize) -> String {
    if n == 1 {
        "1 app".to_owned()
    } else {
        format!("{n} apps")
    }
}

// ---- Markdown -----------------------------------------------------------------------

/// Notes under the Markdown plan's summary: links the selectors no longer match, and
/// the selector warnings.
pub(super) fn markdown_notes(view: &SelectionView) -> Vec<String> {
    let mut notes = Vec::new();
    if !view.unmatched.is_empty() {
        let lines: Vec<String> = view
            .unmatched
            .iter()
            .map(|u| {
                format!(
                    "> {}",
                    unmatched_sentence(u, &super::markdown::app(&u.server))
                )
            })
            .collect();
        notes.push(format!(
            "> [!IMPORTANT]\n> **Selectors no longer match linked apps.**\n{}",
            lines.join("\n>\n")
        ));
    }
    if !view.warnings.is_empty() {
        let lines: Vec<String> = view
            .warnings
            .iter()
            .map(|w| format!("> - {}", super::markdown::cell(w)))
            .collect();
        notes.push(format!(
            "> [!WARNING]\n> Selector warnings (errors with `--strict`):\n{}",
            lines.join("\n")
        ));
    }
    notes
}

/// The rows of the Markdown plan's selector table, then one row per server listing
/// the apps its selectors skipped.
pub(super) fn markdown_rows(view: &SelectionView) -> Vec<String> {
    use super::markdown::{app, cell};
    let mut rows: Vec<String> = view
        .selectors
        .iter()
        .map(|s| {
            format!(
                "| {} | `{}` | {} |\n",
                app(&s.server),
                cell(&s.selector).replace('`', "'"),
                s.matches
            )
        })
        .collect();
    let mut servers: Vec<&AppView> = Vec::new();
    for s in &view.skipped {
        if !servers.contains(&&s.server) {
            servers.push(&s.server);
        }
    }
    for server in servers {
        let skipped: Vec<String> = view
            .skipped
            .iter()
            .filter(|s| s.server == *server)
            .map(|s| format!("{} ({})", app(&s.app), cell(&s.why)))
            .collect();
        rows.push(format!(
            "| {} | skipped, cannot be downstream apps | {} |\n",
            app(server),
            skipped.join(", ")
        ));
    }
    for e in &view.excluded {
        rows.push(format!(
            "| {} | `except {}` takes out | {} |\n",
            app(&e.server),
            cell(&e.by).replace('`', "'"),
            app(&e.app)
        ));
    }
    rows
}
