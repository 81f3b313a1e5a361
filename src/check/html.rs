//! `check --output html`: the report as one self-contained page for an access review.
//! It says when and from which account it was made (and the manifest's digest), then
//! the summary (undeclared grants first) and the matrix, list and graph of who can
//! reach what, drawn by the shared access view of [`crate::html`]. The controller's
//! status page shows the same view, from [`access_data`].

use std::cmp::Ordering;
use std::collections::HashMap;
use std::io::{self, Write};
use std::time::SystemTime;

use super::text::describe_effect;
use super::{Access, AppInfo, Effect, Grant, Report, RuleList, describe_rule};
use crate::html::access::{self, AccessData, AppRow, Counts, GrantRow, Labels, PairRow, PolicyRow};
use crate::html::{Document, Meta};

/// Where a report comes from, for its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// When the account was read.
    pub generated_at: SystemTime,
    /// The account.
    pub account_id: String,
    /// The manifest's digest (hex SHA-256 over its files).
    pub manifest_digest: String,
    /// The fingerprint of the account state the report was made from.
    pub inventory_fingerprint: String,
}

impl Provenance {
    /// The header lines of a page.
    pub fn meta(&self) -> Vec<Meta> {
        vec![
            Meta::text(
                "Generated",
                humantime::format_rfc3339_seconds(self.generated_at).to_string(),
            ),
            Meta::code("Account", &self.account_id),
            Meta::code("Manifest (SHA-256)", &self.manifest_digest),
            Meta::code("Account state (SHA-256)", &self.inventory_fingerprint),
            Meta::text(
                "By",
                format!("mcp-access {}", crate::build_info::VERSION_LINE),
            ),
        ]
    }
}

/// An app as the page names it: its name, or its uid when it has none.
fn display(app: &AppInfo) -> &str {
    if app.name.is_empty() {
        &app.uid
    } else {
        &app.name
    }
}

/// Orders names as people do: runs of digits by their value (`server-2` before
/// `server-10`), the rest case-insensitively.
fn natural_cmp(left: &str, right: &str) -> Ordering {
    fn chunks(s: &str) -> impl Iterator<Item = (bool, &str)> {
        let mut rest = s;
        std::iter::from_fn(move || {
            let first = rest.chars().next()?;
            let digits = first.is_ascii_digit();
            let end = rest
                .find(|c: char| c.is_ascii_digit() != digits)
                .unwrap_or(rest.len());
            let (chunk, tail) = rest.split_at(end);
            rest = tail;
            Some((digits, chunk))
        })
    }
    let (mut lefts, mut rights) = (chunks(left), chunks(right));
    loop {
        let order = match (lefts.next(), rights.next()) {
            (None, None) => return left.cmp(right),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some((true, l)), Some((true, r))) => {
                let (l, r) = (l.trim_start_matches('0'), r.trim_start_matches('0'));
                l.len().cmp(&r.len()).then_with(|| l.cmp(r))
            }
            (Some((_, l)), Some((_, r))) => l.to_lowercase().cmp(&r.to_lowercase()),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
}

/// Writes the report as an HTML page.
pub fn render(report: &Report, provenance: &Provenance, out: &mut dyn Write) -> io::Result<()> {
    let page = Document {
        title: "MCP access review".to_owned(),
        meta: provenance.meta(),
        body: crate::html::access::section(&access_data(report)),
        connect_self: false,
    };
    out.write_all(page.render().as_bytes())
}

/// The report in the access view's compact form.
pub fn access_data(report: &Report) -> AccessData {
    let mut apps: Vec<&AppInfo> = report.pairs.iter().flat_map(|p| [&p.from, &p.to]).collect();
    apps.sort_by(|a, b| a.uid.cmp(&b.uid));
    apps.dedup_by(|a, b| a.uid == b.uid);
    // As people sort: server-2 before server-10.
    apps.sort_by(|a, b| natural_cmp(display(a), display(b)).then_with(|| a.uid.cmp(&b.uid)));
    let app_index: HashMap<&str, u32> = apps
        .iter()
        .enumerate()
        .map(|(i, a)| (a.uid.as_str(), index(i)))
        .collect();
    let mut policies = Policies::default();
    let mut pairs: Vec<PairRow> = report
        .pairs
        .iter()
        .map(|p| {
            let mut flags = 0;
            if p.declared {
                flags |= access::DECLARED;
            }
            if p.is_undeclared() {
                flags |= access::UNDECLARED;
            }
            if p.is_missing() {
                flags |= access::MISSING;
            }
            if p.drawn_solid() {
                flags |= access::MANAGED_LINK;
            }
            PairRow(
                app_index[p.from.uid.as_str()],
                app_index[p.to.uid.as_str()],
                code(p.access),
                flags,
                p.grants.iter().map(|g| policies.grant(g)).collect(),
            )
        })
        .collect();
    pairs.sort_by_key(|p| (p.0, p.1));
    let s = &report.summary;
    let servers = {
        let mut uids: Vec<&str> = report.pairs.iter().map(|p| p.from.uid.as_str()).collect();
        uids.sort_unstable();
        uids.dedup();
        uids.len()
    };
    let receivers = {
        let mut uids: Vec<&str> = report.pairs.iter().map(|p| p.to.uid.as_str()).collect();
        uids.sort_unstable();
        uids.dedup();
        uids.len()
    };
    let mut scope = report.scope();
    if let Some(first) = scope.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    AccessData {
        scope,
        owner: report.owner.clone(),
        counts: Counts {
            pairs: s.pairs,
            servers,
            apps: receivers,
            granted: s.granted,
            depends_on_request: s.depends_on_request,
            blocked: s.blocked,
            missing: s.missing,
            undeclared: s.undeclared,
        },
        labels: labels(),
        apps: apps
            .into_iter()
            .map(|a| AppRow(a.name.clone(), a.uid.clone(), a.app_type.clone()))
            .collect(),
        policies: policies.rows,
        pairs,
    }
}

fn labels() -> Labels {
    let access = [
        Access::Granted,
        Access::DependsOnRequest,
        Access::Blocked,
        Access::NotGranted,
    ]
    .map(|a| a.describe().to_owned());
    let effects = [RuleList::Exclude, RuleList::Require].map(|list| {
        [Effect::Blocks, Effect::Satisfied, Effect::DependsOnRequest]
            .map(|e| describe_effect(e, list).to_owned())
    });
    Labels { access, effects }
}

fn code(access: Access) -> u8 {
    match access {
        Access::Granted => access::GRANTED,
        Access::DependsOnRequest => access::DEPENDS_ON_REQUEST,
        Access::Blocked => access::BLOCKED,
        Access::NotGranted => access::NOT_GRANTED,
    }
}

fn effect_code(effect: Effect) -> char {
    match effect {
        Effect::Blocks => '0',
        Effect::Satisfied => '1',
        Effect::DependsOnRequest => '2',
    }
}

fn index(i: usize) -> u32 {
    u32::try_from(i).expect("fewer than 4 billion apps and policies")
}

/// The policies behind the grants, each once. A policy is the same one when every
/// field shown is the same: an app-scoped legacy copy that differs from another of the
/// same id stays apart.
#[derive(Default)]
struct Policies {
    rows: Vec<PolicyRow>,
    by_content: HashMap<String, u32>,
}

impl Policies {
    fn grant(&mut self, grant: &Grant) -> GrantRow {
        let row = PolicyRow {
            id: grant.policy_id.clone(),
            name: grant.policy_name.clone(),
            decision: grant.decision.clone(),
            reusable: grant.reusable,
            managed: grant.management.is_managed(),
            management: grant.management.describe(),
            rules: grant
                .conditions
                .iter()
                .map(|c| {
                    let list = match c.list {
                        RuleList::Exclude => access::EXCLUDE,
                        RuleList::Require => access::REQUIRE,
                    };
                    (list, describe_rule(&c.rule))
                })
                .collect(),
        };
        let key = serde_json::to_string(&row).expect("plain data serialises");
        let policy = *self.by_content.entry(key).or_insert_with(|| {
            self.rows.push(row);
            index(self.rows.len() - 1)
        });
        GrantRow(
            policy,
            grant.precedence,
            code(grant.access),
            grant
                .conditions
                .iter()
                .map(|c| effect_code(c.effect))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_as_people_read_them() {
        let mut names = [
            "server-10",
            "Server-2",
            "server-1",
            "api",
            "server-02b",
            "Wiki",
        ];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            [
                "api",
                "server-1",
                "Server-2",
                "server-02b",
                "server-10",
                "Wiki"
            ]
        );
    }
}
