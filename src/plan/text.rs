//! The text plan for people: one line per action with a symbol (`+` create, `~` update,
//! `-` delete, `>` attach, `<` detach, `*` convert a legacy policy, `!` blocked),
//! grouped by server, a diff for a changed policy, suspended servers (`=`), blocked app
//! changes with their fix and unmanaged grants in sections of their own, and a summary
//! line.

use std::fmt::Write as _;
use std::io::{self, Write};

use anstyle::{AnsiColor, Style};

use super::{AdoptPolicy, AppView, Plan, UpdatePolicy};

/// Styles used by the text renderer; [`Palette::plain`] writes no escape codes.
#[derive(Debug, Clone, Copy)]
pub struct Palette {
    create: Style,
    update: Style,
    delete: Style,
    heading: Style,
    dim: Style,
}

impl Palette {
    /// Colours for a terminal.
    pub fn colored() -> Self {
        Self {
            create: AnsiColor::Green.on_default(),
            update: AnsiColor::Yellow.on_default(),
            delete: AnsiColor::Red.on_default(),
            heading: Style::new().bold(),
            dim: Style::new().dimmed(),
        }
    }

    /// No colour at all (pipes, files, `NO_COLOR`, tests).
    pub fn plain() -> Self {
        Self {
            create: Style::new(),
            update: Style::new(),
            delete: Style::new(),
            heading: Style::new(),
            dim: Style::new(),
        }
    }
}

/// Writes the text plan.
pub fn render(plan: &Plan, palette: Palette, out: &mut dyn Write) -> io::Result<()> {
    let p = palette;
    let (groups, lines) = action_lines(plan, p);
    write_converts(plan, p, out)?;
    write_groups(plan, p, &groups, &lines, out)?;
    write_suspended(plan, p, out)?;
    write_blocked(plan, p, out)?;
    write_inventory_problems(plan, p, out)?;
    write_unmanaged(plan, p, out)?;
    write_not_adopted(plan, p, out)?;
    super::selection::write_text(&plan.selection, p.heading, out)?;
    if plan.differs() {
        writeln!(out, "{}.", plan.summary().sentence())?;
    } else {
        writeln!(out, "No changes. The account matches the manifest.")?;
    }
    super::selection::write_text_summary(plan, out)
}

/// The legacy policies converted before the app changes, under their own heading.
fn write_converts(plan: &Plan, p: Palette, out: &mut dyn Write) -> io::Result<()> {
    if plan.converts.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "{}Legacy policies converted to reusable first (same id, rules and precedence; they stay unmanaged){}",
        p.heading.render(),
        p.heading.render_reset()
    )?;
    for c in &plan.converts {
        writeln!(
            out,
            "  {}* convert legacy policy {:?} on {} to reusable{} {}({}, precedence {}){}",
            p.update.render(),
            c.policy.policy_name,
            describe(&c.app),
            p.update.render_reset(),
            p.dim.render(),
            c.policy.policy_id,
            c.policy.precedence,
            p.dim.render_reset()
        )?;
    }
    writeln!(out)
}

/// Links the read cannot vouch for; apply refuses the plan while there is one.
fn write_inventory_problems(plan: &Plan, p: Palette, out: &mut dyn Write) -> io::Result<()> {
    if plan.inventory_problems.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "{}Inconsistent inventory (apply refuses this plan; nothing is written){}",
        p.heading.render(),
        p.heading.render_reset()
    )?;
    for problem in &plan.inventory_problems {
        writeln!(
            out,
            "  {}? {problem}{}",
            p.delete.render(),
            p.delete.render_reset()
        )?;
    }
    writeln!(out)
}

/// The app changes that are not made: the links, why, and the fix.
fn write_blocked(plan: &Plan, p: Palette, out: &mut dyn Write) -> io::Result<()> {
    if plan.blocked.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "{}Blocked app changes (not made; mcp-access never writes an app a whole-app update could damage){}",
        p.heading.render(),
        p.heading.render_reset()
    )?;
    for b in &plan.blocked {
        writeln!(
            out,
            "  {}! {} ({}): {}{}",
            p.delete.render(),
            describe(&b.app),
            b.app.uid,
            b.links(&plan.owner).join(", "),
            p.delete.render_reset()
        )?;
        for blocker in &b.blockers {
            writeln!(out, "      why: {}", blocker.why())?;
            writeln!(out, "      fix: {}", blocker.fix(&b.app))?;
        }
    }
    writeln!(out)
}

/// The server (if any) each group of lines is about.
type Groups = Vec<(Option<AppView>, Vec<String>)>;

/// One line per action, tagged with the index of its group.
fn action_lines(plan: &Plan, p: Palette) -> (Groups, Vec<(usize, String)>) {
    // Group actions by the server they concern: manifest servers first, in manifest
    // order, then servers that left the manifest, then policies naming no server.
    let mut groups: Vec<(Option<AppView>, Vec<String>)> = plan
        .servers
        .iter()
        .map(|s| {
            (
                Some(AppView {
                    uid: s.uid.clone(),
                    name: s.name.clone(),
                }),
                Vec::new(),
            )
        })
        .collect();
    let mut group_of = |server: Option<&AppView>| -> usize {
        let key = server.map(|s| s.uid.as_str());
        if let Some(i) = groups
            .iter()
            .position(|(g, _)| g.as_ref().map(|s| s.uid.as_str()) == key)
        {
            return i;
        }
        groups.push((server.cloned(), Vec::new()));
        groups.len() - 1
    };

    let mut lines: Vec<(usize, String)> = Vec::new();
    for a in &plan.adoptions {
        let g = group_of(Some(&a.server));
        lines.push((g, adopt_line(a, p)));
    }
    for c in &plan.creates {
        let g = group_of(Some(&c.server));
        lines.push((
            g,
            format!(
                "  {}+ create policy {:?}{}",
                p.create.render(),
                c.body.name,
                p.create.render_reset()
            ),
        ));
    }
    for u in &plan.updates {
        let g = group_of(Some(&u.server));
        lines.push((g, update_line(u, p)));
    }
    for change in &plan.app_changes {
        for a in &change.attach {
            let g = group_of(Some(&a.server));
            lines.push((
                g,
                format!(
                    "  {}> attach to {}{}{}",
                    p.create.render(),
                    describe(&change.app),
                    p.create.render_reset(),
                    matched(&a.selectors, p)
                ),
            ));
        }
        for d in &change.detach {
            let g = group_of(d.server.as_ref());
            lines.push((
                g,
                format!(
                    "  {}< detach {:?} from {}{} {}({}){}",
                    p.delete.render(),
                    d.policy_name,
                    describe(&change.app),
                    p.delete.render_reset(),
                    p.dim.render(),
                    d.reason,
                    p.dim.render_reset()
                ),
            ));
        }
    }
    blocked_lines(plan, p, &mut group_of, &mut lines);
    for d in &plan.deletes {
        let g = group_of(d.server.as_ref());
        lines.push((
            g,
            format!(
                "  {}- delete policy {:?}{} {}({}: {}){}",
                p.delete.render(),
                d.policy_name,
                p.delete.render_reset(),
                p.dim.render(),
                d.policy_id,
                d.reason,
                p.dim.render_reset()
            ),
        ));
    }

    (groups, lines)
}

/// A `!` line for each blocked link, in the group of its server.
fn blocked_lines(
    plan: &Plan,
    p: Palette,
    group_of: &mut dyn FnMut(Option<&AppView>) -> usize,
    lines: &mut Vec<(usize, String)>,
) {
    for b in &plan.blocked {
        for a in &b.attach {
            let g = group_of(Some(&a.server));
            lines.push((
                g,
                format!(
                    "  {}! attach to {} BLOCKED (see below){}{}",
                    p.delete.render(),
                    describe(&b.app),
                    p.delete.render_reset(),
                    matched(&a.selectors, p)
                ),
            ));
        }
        for d in &b.detach {
            let g = group_of(d.server.as_ref());
            lines.push((
                g,
                format!(
                    "  {}! detach {:?} from {} BLOCKED (see below){}",
                    p.delete.render(),
                    d.policy_name,
                    describe(&b.app),
                    p.delete.render_reset()
                ),
            ));
        }
    }
}

fn write_groups(
    plan: &Plan,
    p: Palette,
    groups: &Groups,
    lines: &[(usize, String)],
    out: &mut dyn Write,
) -> io::Result<()> {
    let in_manifest = plan.servers.len();
    for (i, (server, _)) in groups.iter().enumerate() {
        let mine: Vec<&String> = lines
            .iter()
            .filter(|(g, _)| *g == i)
            .map(|(_, l)| l)
            .collect();
        if mine.is_empty() {
            continue;
        }
        let title = match (server, i < in_manifest) {
            (Some(s), true) => {
                let header = plan.servers[i].forward_header.as_str();
                format!(
                    "MCP server {} ({}, forwards {header})",
                    quote(&s.name),
                    s.uid
                )
            }
            (Some(s), false) if s.name.is_empty() => format!("App {} (not in the manifest)", s.uid),
            (Some(s), false) => format!(
                "MCP server {} ({}, no longer in the manifest)",
                quote(&s.name),
                s.uid
            ),
            (None, _) => "Managed policies that name no MCP server".to_owned(),
        };
        writeln!(
            out,
            "{}{title}{}",
            p.heading.render(),
            p.heading.render_reset()
        )?;
        for line in mine {
            writeln!(out, "{line}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn write_suspended(plan: &Plan, p: Palette, out: &mut dyn Write) -> io::Result<()> {
    let mut suspended = plan.suspended().peekable();
    if suspended.peek().is_none() {
        return Ok(());
    }
    writeln!(
        out,
        "{}Suspended MCP servers (their policy and links are left exactly as they are){}",
        p.heading.render(),
        p.heading.render_reset()
    )?;
    for (server, why) in suspended {
        writeln!(
            out,
            "  = {} ({}) {}{}{}",
            quote(&server.name),
            server.uid,
            p.dim.render(),
            why.describe(),
            p.dim.render_reset()
        )?;
    }
    writeln!(out)
}

fn write_unmanaged(plan: &Plan, p: Palette, out: &mut dyn Write) -> io::Result<()> {
    if !plan.unmanaged.is_empty() {
        writeln!(
            out,
            "{}Unmanaged linked-token grants (reported, never changed by mcp-access){}",
            p.heading.render(),
            p.heading.render_reset()
        )?;
        for g in &plan.unmanaged {
            let owner = g
                .other_owner
                .as_deref()
                .map(|o| format!(", managed by mcp-access owner {o:?}"))
                .unwrap_or_default();
            writeln!(
                out,
                "  {} -> {} via {:?} ({}{owner})",
                describe(&g.from),
                describe(&g.to),
                g.policy_name,
                g.decision
            )?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn write_not_adopted(plan: &Plan, p: Palette, out: &mut dyn Write) -> io::Result<()> {
    if plan.not_adopted.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "{}Not adopted (hand-made grants of manifest servers that --adopt leaves alone){}",
        p.heading.render(),
        p.heading.render_reset()
    )?;
    for n in &plan.not_adopted {
        let servers: Vec<String> = n.servers.iter().map(describe).collect();
        writeln!(
            out,
            "  {:?} ({}) for {}: {}",
            n.policy_name,
            n.policy_id,
            servers.join(", "),
            n.reason
        )?;
    }
    writeln!(out)
}

/// `= adopt policy "<hand-made name>" (<id>) for server <server>`.
fn adopt_line(a: &AdoptPolicy, p: Palette) -> String {
    format!(
        "  {}= adopt policy {:?} ({}) for server {}{} {}(renamed {:?}; nothing else changes){}",
        p.update.render(),
        a.before.name,
        a.policy_id,
        a.server.name,
        p.update.render_reset(),
        p.dim.render(),
        a.after.name,
        p.dim.render_reset()
    )
}

/// `~ update policy ...` with the diff of its body.
fn update_line(u: &UpdatePolicy, p: Palette) -> String {
    let mut line = format!(
        "  {}~ update policy {:?}{} {}({}){}",
        p.update.render(),
        u.after.name,
        p.update.render_reset(),
        p.dim.render(),
        u.policy_id,
        p.dim.render_reset()
    );
    for diff_line in body_diff(&u.before.to_json(), &u.after.to_json()) {
        let style = match diff_line.chars().next() {
            Some('+') => p.create,
            Some('-') => p.delete,
            _ => p.dim,
        };
        let _ = write!(
            line,
            "\n      {}{diff_line}{}",
            style.render(),
            style.render_reset()
        );
    }
    line
}

/// A unified diff of two JSON bodies, pretty-printed, without headers.
pub fn body_diff(before: &serde_json::Value, after: &serde_json::Value) -> Vec<String> {
    let before = serde_json::to_string_pretty(before).unwrap_or_default();
    let after = serde_json::to_string_pretty(after).unwrap_or_default();
    let diff = similar::TextDiff::from_lines(&before, &after);
    let mut lines = Vec::new();
    for change in diff.iter_all_changes() {
        let sign = match change.tag() {
            similar::ChangeTag::Delete => '-',
            similar::ChangeTag::Insert => '+',
            similar::ChangeTag::Equal => ' ',
        };
        lines.push(format!("{sign} {}", change.value().trim_end_matches('\n')));
    }
    lines
}

/// ` (matched tag mcp-callable)` for an attach a selector brought, dimmed.
fn matched(selectors: &[String], p: Palette) -> String {
    if selectors.is_empty() {
        return String::new();
    }
    format!(
        " {}(matched {}){}",
        p.dim.render(),
        selectors.join(", "),
        p.dim.render_reset()
    )
}

pub(super) fn describe(app: &AppView) -> String {
    if app.name.is_empty() {
        format!("app {}", app.uid)
    } else {
        quote(&app.name)
    }
}

fn quote(name: &str) -> String {
    format!("{name:?}")
}
