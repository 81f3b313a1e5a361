//! The check report as Markdown, for a pull request comment or a wiki page: a mermaid
//! access graph drawn like the reference page's diagrams (MCP servers on the left, the
//! apps that accept their tokens on the right) and a table with the policy behind each
//! answer.
//!
//! In the graph a solid arrow is a grant through a policy mcp-access manages as this
//! owner, a dashed arrow a grant through any other policy; an `x` head means no access
//! (blocked, or declared but missing); a label says what needs a look.

use std::collections::BTreeMap;
use std::io::{self, Write};

use super::text::describe_condition;
use super::{Access, AppInfo, Pair, Report};

/// Writes the Markdown report.
pub fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "## MCP access check\n")?;
    let scope = match (&report.from, &report.to) {
        (None, None) => {
            "Every linked-token grant in the account and every link the manifest declares"
                .to_owned()
        }
        (Some(f), None) => format!("Tokens from {}", code(&f.name, &f.uid)),
        (None, Some(t)) => format!("Tokens accepted by {}", code(&t.name, &t.uid)),
        (Some(f), Some(t)) => format!(
            "Tokens from {} to {}",
            code(&f.name, &f.uid),
            code(&t.name, &t.uid)
        ),
    };
    writeln!(
        out,
        "{scope}. Solid arrows: policies managed by owner `{}`; dashed arrows: any other policy; `x` heads: no access.\n",
        report.owner
    )?;
    if report.pairs.is_empty() {
        writeln!(out, "No linked-token grants and no declared links match.")?;
        return Ok(());
    }
    write_graph(report, out)?;
    write_table(report, out)?;
    let s = &report.summary;
    writeln!(
        out,
        "\n**{} pair(s)**: {} granted, {} depending on the request, {} blocked; {} declared but missing, {} granted but not declared.",
        s.pairs, s.granted, s.depends_on_request, s.blocked, s.missing, s.undeclared
    )
}

fn write_graph(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    // One node per app, servers first, numbered in report order.
    let mut nodes: BTreeMap<&str, (usize, &AppInfo)> = BTreeMap::new();
    let mut order: Vec<&AppInfo> = Vec::new();
    for app in report
        .pairs
        .iter()
        .map(|p| &p.from)
        .chain(report.pairs.iter().map(|p| &p.to))
    {
        if !nodes.contains_key(app.uid.as_str()) {
            nodes.insert(&app.uid, (order.len(), app));
            order.push(app);
        }
    }
    writeln!(out, "```mermaid\nflowchart LR")?;
    writeln!(
        out,
        "accTitle: MCP servers and the apps that accept their Linked App Tokens"
    )?;
    for (i, app) in order.iter().enumerate() {
        writeln!(out, "n{i}[\"{}\"]", node_label(app))?;
    }
    for pair in &report.pairs {
        let from = nodes[pair.from.uid.as_str()].0;
        let to = nodes[pair.to.uid.as_str()].0;
        let arrow = match (pair.access.may_pass(), solid(pair)) {
            (true, true) => "-->",
            (true, false) => "-.->",
            (false, true) => "--x",
            (false, false) => "-.-x",
        };
        match edge_label(pair) {
            Some(label) => writeln!(out, "n{from} {arrow}|\"{label}\"| n{to}")?,
            None => writeln!(out, "n{from} {arrow} n{to}")?,
        }
    }
    writeln!(out, "```\n")
}

/// Solid when a managed policy carries the edge, or when no policy does and the link
/// is the manifest's (missing: reconcile would make it managed).
fn solid(pair: &Pair) -> bool {
    if pair.access.may_pass() {
        pair.via_managed()
    } else {
        pair.grants.is_empty() || pair.grants.iter().any(|g| g.management.is_managed())
    }
}

fn edge_label(pair: &Pair) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    match pair.access {
        Access::DependsOnRequest => parts.push("depends on the request"),
        Access::Blocked => parts.push("blocked"),
        Access::Granted | Access::NotGranted => {}
    }
    if pair.is_undeclared() {
        parts.push("undeclared");
    }
    if pair.is_missing() {
        parts.push("missing");
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

fn node_label(app: &AppInfo) -> String {
    let kind = app.kind();
    let name = if app.name.is_empty() {
        &app.uid
    } else {
        &app.name
    };
    format!("{} <br> ({kind})", mermaid_escape(name))
}

/// Quotes and angle brackets as mermaid entities, so a name cannot end the label or
/// inject HTML.
fn mermaid_escape(s: &str) -> String {
    s.replace('#', "#35;")
        .replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

fn write_table(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "| MCP server | App | Access | Declared | Policy | Managed | Conditions |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|")?;
    for pair in &report.pairs {
        let declared = match (pair.declared, pair.access.may_pass()) {
            (true, true) => "yes",
            (true, false) => "yes, **missing**",
            (false, true) => "**no**",
            (false, false) => "no",
        };
        let rows: Vec<[String; 3]> = if pair.grants.is_empty() {
            vec![["none".to_owned(), String::new(), String::new()]]
        } else {
            pair.grants
                .iter()
                .map(|g| {
                    [
                        format!(
                            "{} ({}, {})",
                            cell(&g.policy_name),
                            g.decision,
                            g.access.describe()
                        ),
                        g.management.describe(),
                        g.conditions
                            .iter()
                            .map(|c| cell(&describe_condition(c)))
                            .collect::<Vec<_>>()
                            .join("<br>"),
                    ]
                })
                .collect()
        };
        for [policy, managed, conditions] in rows {
            writeln!(
                out,
                "| {} | {} | {} | {declared} | {policy} | {managed} | {conditions} |",
                cell(&display(&pair.from)),
                cell(&display(&pair.to)),
                pair.access.describe(),
            )?;
        }
    }
    Ok(())
}

fn display(app: &AppInfo) -> String {
    if app.name.is_empty() {
        app.uid.clone()
    } else {
        app.name.clone()
    }
}

/// Text safe inside a table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\n', " ")
}

fn code(name: &str, uid: &str) -> String {
    if name.is_empty() {
        format!("`{uid}`")
    } else {
        format!("`{}`", name.replace('`', "'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_break_out_of_a_mermaid_label_or_a_table_cell() {
        let app = AppInfo {
            name: "Ops \"<b>x</b>\" #1".into(),
            uid: "u".into(),
            app_type: Some("ssh".into()),
        };
        assert_eq!(
            node_label(&app),
            "Ops #quot;#lt;b#gt;x#lt;/b#gt;#quot; #35;1 <br> (ssh app)"
        );
        assert_eq!(cell("a|b<c>"), "a\\|b&lt;c&gt;");
    }
}
