//! The Markdown plan for pull-request comments and job summaries: a hidden marker line
//! (so a workflow can keep one sticky comment), the summary, a table of actions, the
//! policy bodies and diffs in `<details>` blocks, a mermaid flowchart of the access
//! that results, and the unmanaged grants.
//!
//! NOTE: GitHub rejects a comment body over 65,536 characters. Past that, whole table
//! rows, detail blocks and sections are dropped from the end (never half a code fence)
//! and a note says what was cut. Bytes are counted, which is never fewer than
//! characters, so the result always fits.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::json::{Action, actions};
use super::text::body_diff;
use super::{AppView, Plan};

/// The first line of every Markdown plan; workflows find their comment by it.
pub const MARKER: &str = "<!-- mcp-access plan -->";

/// GitHub's limit on a comment body.
pub const COMMENT_LIMIT: usize = 65_536;

/// Room kept for the truncation note.
const NOTE_ROOM: usize = 1_024;

/// Writes the Markdown plan, cut to fit a GitHub comment. `notes` are paragraphs shown
/// under the summary (a safety refusal, what an apply did).
pub fn render(plan: &Plan, notes: &[String], out: &mut dyn Write) -> io::Result<()> {
    out.write_all(render_to_string(plan, notes, COMMENT_LIMIT).as_bytes())
}

/// The Markdown plan in at most `limit` bytes (at least a couple of kilobytes).
pub fn render_to_string(plan: &Plan, notes: &[String], limit: usize) -> String {
    let head = head(plan, notes);
    let sections = sections(plan);
    let full: usize = head.len() + sections.iter().map(Section::len).sum::<usize>();
    let mut doc = head;
    if full <= limit {
        for section in &sections {
            section.write_all(&mut doc);
        }
        return doc;
    }
    let budget = limit.saturating_sub(NOTE_ROOM);
    let mut cut = Vec::new();
    for section in &sections {
        let room = budget.saturating_sub(doc.len() + section.header.len() + section.footer.len());
        let mut kept = 0;
        let mut used = 0;
        for chunk in &section.chunks {
            if used + chunk.len() > room {
                break;
            }
            used += chunk.len();
            kept += 1;
        }
        if kept > 0 {
            doc.push_str(&section.header);
            for chunk in &section.chunks[..kept] {
                doc.push_str(chunk);
            }
            doc.push_str(&section.footer);
        }
        let dropped = section.chunks.len() - kept;
        if dropped > 0 {
            cut.push(format!(
                "{dropped} of {} {}",
                section.chunks.len(),
                section.unit
            ));
        }
    }
    let _ = write!(
        doc,
        "> [!WARNING]\n> This plan is longer than a GitHub comment allows ({COMMENT_LIMIT} characters), so parts were cut: {}. The full plan is in the JSON output (`--output json`, or the plan artifact of the workflow).\n",
        cut.join(", ")
    );
    doc
}

/// A part of the document that can be cut chunk by chunk from its end.
struct Section {
    header: String,
    chunks: Vec<String>,
    footer: String,
    /// What a chunk is, for the truncation note: "table rows", ...
    unit: &'static str,
}

impl Section {
    fn len(&self) -> usize {
        self.header.len() + self.chunks.iter().map(String::len).sum::<usize>() + self.footer.len()
    }

    fn write_all(&self, doc: &mut String) {
        if self.chunks.is_empty() {
            return;
        }
        doc.push_str(&self.header);
        for chunk in &self.chunks {
            doc.push_str(chunk);
        }
        doc.push_str(&self.footer);
    }
}

fn head(plan: &Plan, notes: &[String]) -> String {
    let mut s = format!(
        "{MARKER}\n### mcp-access plan (owner `{}`)\n\n",
        cell(&plan.owner)
    );
    if plan.differs() {
        let _ = writeln!(s, "**{}.**\n", plan.summary().sentence());
    } else {
        s.push_str("**No changes.** The account matches the manifest.\n\n");
    }
    if !plan.inventory_problems.is_empty() {
        let listed: Vec<String> = plan
            .inventory_problems
            .iter()
            .map(|p| format!("> - {}", cell(&p.to_string())))
            .collect();
        let _ = writeln!(
            s,
            "> [!CAUTION]\n> The account's inventory is inconsistent; apply refuses this plan and writes nothing:\n{}\n",
            listed.join("\n")
        );
    }
    if !plan.blocked.is_empty() {
        let _ = writeln!(
            s,
            "> [!WARNING]\n> {} app change(s) are blocked and will not be made; see \"Blocked app changes\" below.\n",
            plan.blocked.len()
        );
    }
    for note in super::selection::markdown_notes(&plan.selection)
        .iter()
        .chain(notes)
    {
        s.push_str(note.trim_end());
        s.push_str("\n\n");
    }
    // In the head, never cut: a reviewer must see what the plan leaves alone.
    let mut suspended = plan.suspended().peekable();
    if suspended.peek().is_some() {
        s.push_str("#### Suspended servers\n\nLeft exactly as they are in the account: their policy and links are neither repaired nor removed until `suspend` is taken out of the manifest.\n\n| Server | Suspended because |\n| --- | --- |\n");
        for (server, why) in suspended {
            let reason = why
                .reason
                .as_deref()
                .map_or_else(|| "(no reason given)".to_owned(), cell);
            let _ = writeln!(
                s,
                "| {} | ⏸️ suspended: {reason} |",
                app(&AppView {
                    uid: server.uid.clone(),
                    name: server.name.clone(),
                })
            );
        }
        s.push('\n');
    }
    s
}

fn sections(plan: &Plan) -> Vec<Section> {
    let actions = actions(plan);
    vec![
        Section {
            header: "| Server | Downstream | Action |\n| --- | --- | --- |\n".to_owned(),
            chunks: actions.iter().map(row).collect(),
            footer: "\n".to_owned(),
            unit: "table rows",
        },
        Section {
            header: "#### Blocked app changes\n\nNot made: mcp-access never writes an app that a whole-app update could damage. Fix them, then run again.\n\n| App | Not made | Why | Fix |\n| --- | --- | --- | --- |\n".to_owned(),
            chunks: plan
                .blocked
                .iter()
                .map(|b| {
                    let why: Vec<String> = b.blockers.iter().map(|x| cell(&x.why())).collect();
                    let fix: Vec<String> = b.blockers.iter().map(|x| cell(&x.fix(&b.app))).collect();
                    format!(
                        "| {} | {} | {} | {} |\n",
                        app(&b.app),
                        cell(&b.links(&plan.owner).join(", ")),
                        why.join("<br>"),
                        fix.join("<br>")
                    )
                })
                .collect(),
            footer: "\n".to_owned(),
            unit: "blocked app changes",
        },
        Section {
            header: String::new(),
            chunks: actions.iter().filter_map(details).collect(),
            footer: String::new(),
            unit: "policy details",
        },
        Section {
            header: "#### Resulting access\n\nSolid: managed by mcp-access. Dashed: unmanaged grants (reported, never changed).\n\n".to_owned(),
            chunks: flowchart(plan).into_iter().collect(),
            footer: String::new(),
            unit: "access diagram",
        },
        Section {
            header: "#### Selectors\n\n| Server | Selector | Apps it matches |\n| --- | --- | --- |\n".to_owned(),
            chunks: super::selection::markdown_rows(&plan.selection),
            footer: "\n".to_owned(),
            unit: "selector rows",
        },
        Section {
            header: "#### Unmanaged linked-token grants\n\nReported, never changed by mcp-access.\n\n| From | To | Policy | Decision |\n| --- | --- | --- | --- |\n".to_owned(),
            chunks: plan
                .unmanaged
                .iter()
                .map(|g| {
                    let owner = g
                        .other_owner
                        .as_deref()
                        .map(|o| format!(" (mcp-access owner `{}`)", cell(o)))
                        .unwrap_or_default();
                    format!(
                        "| {} | {} | {}{owner} | `{}` |\n",
                        app(&g.from),
                        app(&g.to),
                        cell(&g.policy_name),
                        cell(&g.decision)
                    )
                })
                .collect(),
            footer: "\n".to_owned(),
            unit: "unmanaged grants",
        },
        Section {
            header: "#### Not adopted\n\nHand-made grants of manifest servers that `--adopt` leaves alone; fix them by hand to adopt them.\n\n| Policy | Servers | Why |\n| --- | --- | --- |\n".to_owned(),
            chunks: plan
                .not_adopted
                .iter()
                .map(|n| {
                    let servers: Vec<String> = n.servers.iter().map(app).collect();
                    format!(
                        "| {} (`{}`) | {} | {} |\n",
                        cell(&n.policy_name),
                        cell(&n.policy_id),
                        servers.join(", "),
                        cell(&n.reason)
                    )
                })
                .collect(),
            footer: "\n".to_owned(),
            unit: "policies not adopted",
        },
    ]
}

fn row(action: &Action) -> String {
    let (server, downstream, what) = match action {
        Action::Convert {
            app: on,
            policy_name,
            ..
        } => (
            "—".to_owned(),
            app(on),
            format!(
                "🔁 convert legacy policy {} to reusable (same id, rules and precedence; stays unmanaged)",
                cell(policy_name)
            ),
        ),
        Action::Adopt {
            server,
            policy_id,
            policy_name,
            ..
        } => (
            app(server),
            "—".to_owned(),
            format!(
                "= adopt policy \"{}\" ({}) for server {}",
                cell(policy_name),
                cell(policy_id),
                cell(&server.name)
            ),
        ),
        Action::Create { server, .. } => {
            (app(server), "—".to_owned(), "➕ create policy".to_owned())
        }
        Action::Update { server, .. } => (
            app(server),
            "—".to_owned(),
            "✏️ update policy (put back edits made by hand)".to_owned(),
        ),
        Action::Attach {
            app: to,
            server,
            selectors,
            ..
        } if !selectors.is_empty() => (
            app(server),
            app(to),
            format!("🔗 attach (matched {})", cell(&selectors.join(", "))),
        ),
        Action::Attach {
            app: to, server, ..
        } => (app(server), app(to), "🔗 attach".to_owned()),
        Action::Detach {
            app: from,
            server,
            reason,
            ..
        } => (
            server.as_ref().map_or_else(|| "—".to_owned(), app),
            app(from),
            format!("✂️ detach ({})", cell(reason)),
        ),
        Action::Delete {
            server,
            policy_name,
            reason,
            ..
        } => (
            server.as_ref().map_or_else(|| "—".to_owned(), app),
            "—".to_owned(),
            format!("🗑️ delete policy {} ({})", cell(policy_name), cell(reason)),
        ),
    };
    format!("| {server} | {downstream} | {what} |\n")
}

/// The body of a create, or the diff of an update, folded away.
fn details(action: &Action) -> Option<String> {
    let (summary, lines) = match action {
        Action::Create {
            policy_name, after, ..
        } => (
            format!("Create policy {}", html(policy_name)),
            serde_json::to_string_pretty(after)
                .unwrap_or_default()
                .lines()
                .map(|l| format!("+ {l}"))
                .collect::<Vec<_>>(),
        ),
        Action::Update {
            policy_id,
            policy_name,
            before,
            after,
            ..
        } => (
            format!("Update policy {} ({})", html(policy_name), html(policy_id)),
            body_diff(&before.to_json(), &after.to_json()),
        ),
        Action::Adopt {
            policy_id,
            policy_name,
            before,
            after,
            ..
        } => (
            format!(
                "Adopt policy {} ({}): only its name changes",
                html(policy_name),
                html(policy_id)
            ),
            body_diff(&before.to_json(), &after.to_json()),
        ),
        _ => return None,
    };
    // A fence longer than any backtick run inside can never be closed early.
    let fence = "`".repeat(3.max(longest_backtick_run(&lines) + 1));
    Some(format!(
        "<details><summary>{summary}</summary>\n\n{fence}diff\n{}\n{fence}\n\n</details>\n\n",
        lines.join("\n")
    ))
}

fn longest_backtick_run(lines: &[String]) -> usize {
    lines
        .iter()
        .flat_map(|l| l.split(|c| c != '`'))
        .map(str::len)
        .max()
        .unwrap_or(0)
}

/// Servers to the apps they may call once the plan is applied (solid), and the
/// unmanaged grants (dashed, labelled with the policy). `None` when there is no edge.
fn flowchart(plan: &Plan) -> Option<String> {
    let mut nodes: Vec<(String, String, bool)> = Vec::new(); // (uid, name, is server)
    let mut node = |view: &AppView, server: bool| -> usize {
        if let Some(i) = nodes.iter().position(|(uid, _, _)| *uid == view.uid) {
            return i;
        }
        let name = if view.name.is_empty() {
            view.uid.clone()
        } else {
            view.name.clone()
        };
        nodes.push((view.uid.clone(), name, server));
        nodes.len() - 1
    };
    let mut edges = Vec::new();
    // A suspended server's access is whatever the account has; the manifest's list of
    // downstream apps says nothing about it.
    for server in plan.servers.iter().filter(|s| s.suspended.is_none()) {
        let from = node(
            &AppView {
                uid: server.uid.clone(),
                name: server.name.clone(),
            },
            true,
        );
        for d in &server.downstream {
            let blocked = plan
                .blocked
                .iter()
                .any(|b| b.app.uid == d.uid && b.attach.iter().any(|a| a.server.uid == server.uid));
            let to = node(d, false);
            if blocked {
                // Not made: an app change that is blocked does not result in access.
                edges.push(format!("  n{from} -.->|\"blocked\"| n{to}"));
            } else {
                edges.push(format!("  n{from} --> n{to}"));
            }
        }
    }
    for g in &plan.unmanaged {
        let from = node(&g.from, true);
        let to = node(&g.to, false);
        edges.push(format!(
            "  n{from} -.->|\"{}\"| n{to}",
            mermaid_text(&g.policy_name)
        ));
    }
    if edges.is_empty() {
        return None;
    }
    let mut s = String::from("```mermaid\nflowchart LR\n");
    for (i, (_, name, server)) in nodes.iter().enumerate() {
        let name = mermaid_text(name);
        if *server {
            let _ = writeln!(s, "  n{i}([\"{name}\"])");
        } else {
            let _ = writeln!(s, "  n{i}[\"{name}\"]");
        }
    }
    for edge in edges {
        s.push_str(&edge);
        s.push('\n');
    }
    s.push_str("```\n\n");
    Some(s)
}

/// Text inside a quoted mermaid label: quotes and markup as entity codes.
fn mermaid_text(s: &str) -> String {
    s.replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
        .replace('`', "#96;")
        .replace(['\n', '\r'], " ")
}

/// An app in a table cell: its name, or its uid when the name is unknown.
pub(super) fn app(view: &AppView) -> String {
    if view.name.is_empty() {
        format!("`{}`", cell(&view.uid))
    } else {
        cell(&view.name)
    }
}

/// Text that is safe in a table cell: no pipes, no HTML, one line.
pub(super) fn cell(s: &str) -> String {
    html(s).replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
