//! The check report for people: one block per MCP server, one line per app it can (or
//! should) reach, the policies behind each answer with their exclude and require rules,
//! and a summary line.

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};

use super::{Access, Condition, Effect, Grant, Pair, Report, RuleList, describe_rule};

/// Writes the text report. `color` adds ANSI styles (the caller's stream strips them
/// where colour is off).
pub fn render(report: &Report, color: bool, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{}", heading(report))?;
    if report.pairs.is_empty() {
        writeln!(out, "\nNo linked-token grants and no declared links match.")?;
    }
    let mut current: Option<&str> = None;
    for pair in &report.pairs {
        if current != Some(pair.from.uid.as_str()) {
            current = Some(pair.from.uid.as_str());
            writeln!(
                out,
                "\nMCP server {} ({})",
                pair.from.label(),
                pair.from.uid
            )?;
        }
        write_pair(pair, color, out)?;
    }
    let s = &report.summary;
    writeln!(
        out,
        "\n{} pair(s): {} granted, {} depending on the request, {} blocked; {} declared but missing, {} granted but not declared.",
        s.pairs, s.granted, s.depends_on_request, s.blocked, s.missing, s.undeclared
    )
}

fn heading(report: &Report) -> String {
    format!(
        "Access check ({}; managed means owner {:?})",
        report.scope(),
        report.owner
    )
}

fn write_pair(pair: &Pair, color: bool, out: &mut dyn Write) -> io::Result<()> {
    let style = if color {
        access_style(pair)
    } else {
        Style::new()
    };
    let declared = match (pair.declared, pair.access.may_pass()) {
        (true, true) if !pair.declared_by.is_empty() => {
            format!("declared by selector {}", pair.declared_by.join(", "))
        }
        (true, true) => "declared".to_owned(),
        (true, false) => "declared but missing: run `mcp-access reconcile`".to_owned(),
        (false, true) => "NOT DECLARED in the manifest".to_owned(),
        (false, false) => "not declared".to_owned(),
    };
    writeln!(
        out,
        "  -> {} ({}): {}{}{}, {declared}",
        pair.to.label(),
        pair.to.uid,
        style.render(),
        pair.access.describe(),
        style.render_reset()
    )?;
    for grant in &pair.grants {
        write_grant(grant, out)?;
    }
    Ok(())
}

fn write_grant(grant: &Grant, out: &mut dyn Write) -> io::Result<()> {
    let scope = if grant.reusable {
        ""
    } else {
        ", app-scoped legacy policy"
    };
    writeln!(
        out,
        "       via {:?} ({}, {}, precedence {}{scope}): {}",
        grant.policy_name,
        grant.decision,
        grant.management.describe(),
        grant.precedence,
        grant.access.describe()
    )?;
    for c in &grant.conditions {
        writeln!(out, "         {}", describe_condition(c))?;
    }
    Ok(())
}

/// `exclude email_domain contractors.example.com: depends on the request`.
pub fn describe_condition(c: &Condition) -> String {
    let list = match c.list {
        RuleList::Exclude => "exclude",
        RuleList::Require => "require",
    };
    format!(
        "{list} {}: {}",
        describe_rule(&c.rule),
        describe_effect(c.effect, c.list)
    )
}

/// What a rule does to the token, in words: `blocks the token`, ...
pub fn describe_effect(effect: Effect, list: RuleList) -> &'static str {
    match (effect, list) {
        (Effect::Blocks, _) => "blocks the token",
        (Effect::Satisfied, _) => "satisfied by the token",
        (Effect::DependsOnRequest, RuleList::Exclude) => {
            "depends on the request (rejects it when it matches)"
        }
        (Effect::DependsOnRequest, RuleList::Require) => "depends on the request (must also match)",
    }
}

fn access_style(pair: &Pair) -> Style {
    match pair.access {
        _ if pair.is_undeclared() || pair.is_missing() => AnsiColor::Red.on_default().bold(),
        Access::Granted => AnsiColor::Green.on_default(),
        Access::DependsOnRequest => AnsiColor::Yellow.on_default(),
        Access::Blocked | Access::NotGranted => Style::new().dimmed(),
    }
}
