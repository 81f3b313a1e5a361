//! The access view: who can reach what. [`AccessData`] is the compact form the page's
//! script reads (apps, policies and pairs by index, so 10,000 pairs stay a few hundred
//! kilobytes) to draw, on demand and only what is on screen, the matrix of MCP servers
//! × apps, the list, the graph and the details of a pair, with filters by server, app,
//! access and declared. [`section`] writes it with the parts that read without the
//! script: the summary, undeclared grants first.
//!
//! The meaning of each pair (its access, whether it is undeclared or missing) is
//! worked out by `check` and carried here as codes and flags; this module and the
//! script only show it.

use std::fmt::Write as _;

use serde::Serialize;

use super::{json, text};

/// Access codes, index into [`Labels::access`]: granted.
pub const GRANTED: u8 = 0;
/// Depends on the request.
pub const DEPENDS_ON_REQUEST: u8 = 1;
/// Blocked: a policy names the server, an exclude rule always rejects it.
pub const BLOCKED: u8 = 2;
/// No attached policy names the server.
pub const NOT_GRANTED: u8 = 3;

/// Pair flag: the manifest declares the link.
pub const DECLARED: u8 = 1;
/// Pair flag: let through but not declared.
pub const UNDECLARED: u8 = 2;
/// Pair flag: declared but not let through.
pub const MISSING: u8 = 4;
/// Pair flag: drawn solid (a policy managed as this owner carries it, or it is the
/// manifest's link and none does).
pub const MANAGED_LINK: u8 = 8;

/// Rule list codes, first index of [`Labels::effects`]: exclude.
pub const EXCLUDE: u8 = 0;
/// Require.
pub const REQUIRE: u8 = 1;

/// Everything the view shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccessData {
    /// What the pairs cover, as a sentence ("Every linked-token grant ...").
    pub scope: String,
    /// The ownership id that counts as managed.
    pub owner: String,
    /// The numbers of the summary.
    pub counts: Counts,
    /// The words for codes.
    pub labels: Labels,
    /// Every app a pair names, sorted by name then uid (so an index order is a name
    /// order).
    pub apps: Vec<AppRow>,
    /// Every policy behind a pair.
    pub policies: Vec<PolicyRow>,
    /// The pairs, sorted by server, then app.
    pub pairs: Vec<PairRow>,
}

/// Counts for the summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Pairs.
    pub pairs: usize,
    /// Distinct MCP servers among them.
    pub servers: usize,
    /// Distinct receiving apps among them.
    pub apps: usize,
    /// Granted outright.
    pub granted: usize,
    /// Granted only if the request meets other rules.
    pub depends_on_request: usize,
    /// Named by a policy but always excluded.
    pub blocked: usize,
    /// Declared but not let through.
    pub missing: usize,
    /// Let through but not declared.
    pub undeclared: usize,
}

/// How codes read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Labels {
    /// By access code.
    pub access: [String; 4],
    /// By rule list code, then effect code (blocks, satisfied, depends on the request).
    pub effects: [[String; 3]; 2],
}

/// An app: name (empty when the uid names no app in the account), uid, type (`None`
/// when not in the account). Written as a JSON array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppRow(pub String, pub String, pub Option<String>);

impl AppRow {
    /// The name, or the uid when the app has none.
    pub fn display(&self) -> &str {
        if self.0.is_empty() { &self.1 } else { &self.0 }
    }
}

/// A policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyRow {
    /// The policy id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// `non_identity` or `bypass`.
    pub decision: String,
    /// False for an app-scoped legacy policy.
    pub reusable: bool,
    /// Managed as this owner?
    pub managed: bool,
    /// Who manages it, in words ("managed by platform", "unmanaged", ...).
    pub management: String,
    /// Its exclude and require rules: the list code and the rule in one line.
    pub rules: Vec<(u8, String)>,
}

/// One (MCP server, app) answer: server index, app index, access code, flags, grants.
/// Written as a JSON array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PairRow(pub u32, pub u32, pub u8, pub u8, pub Vec<GrantRow>);

impl PairRow {
    fn has(&self, flag: u8) -> bool {
        self.3 & flag != 0
    }
}

/// One policy naming the server: policy index, precedence, access code, and one effect
/// code per rule of the policy (`"02"`: the first rule blocks, the second depends on
/// the request). Written as a JSON array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantRow(pub u32, pub u32, pub u8, pub String);

/// Items a summary list shows; the filters find the rest.
const LISTED: usize = 100;

/// The section: the summary (undeclared grants, then missing links, then blocked
/// pairs), the filters, the three views, the details panel, and the data. A page holds
/// at most one (the script finds its parts by id).
pub fn section(data: &AccessData) -> String {
    let mut out = String::new();
    summary(data, &mut out);
    explorer(data, &mut out);
    let _ = writeln!(
        out,
        "<script type=\"application/json\" id=\"access-data\">{}</script>",
        json(data)
    );
    out
}

fn summary(data: &AccessData, out: &mut String) {
    let c = &data.counts;
    let _ = write!(
        out,
        "<section class=\"summary\" aria-labelledby=\"summary-h\">\n<h2 id=\"summary-h\">Summary</h2>\n\
         <p class=\"scope\">{}. Managed means owner <code>{}</code>.</p>\n<ul class=\"counts\">\n",
        text(&data.scope),
        text(&data.owner)
    );
    let count = |out: &mut String, class: &str, n: usize, what: &str| {
        let _ = writeln!(
            out,
            "<li class=\"{class}{}\"><strong>{n}</strong> {what}</li>",
            if n > 0 { " nonzero" } else { "" }
        );
    };
    count(out, "undeclared", c.undeclared, "granted but not declared");
    count(out, "missing", c.missing, "declared but missing");
    count(out, "a-granted", c.granted, &data.labels.access[0]);
    count(
        out,
        "a-depends",
        c.depends_on_request,
        &data.labels.access[1],
    );
    count(out, "a-blocked", c.blocked, &data.labels.access[2]);
    let _ = writeln!(
        out,
        "<li><strong>{}</strong> pairs of {} MCP server(s) and {} app(s)</li>\n</ul>",
        c.pairs, c.servers, c.apps
    );
    findings(
        data,
        out,
        "Undeclared grants",
        "undeclared",
        "The account lets these MCP servers' tokens in, but the manifest does not declare the link. Declare it under the server's <code>downstream</code>, or remove the policy from the app.",
        "No undeclared grants: every link the account lets through is declared.",
        |p| p.has(UNDECLARED),
    );
    findings(
        data,
        out,
        "Declared but missing",
        "missing",
        "The manifest declares these links, but no policy lets the server in. <code>mcp-access reconcile</code> adds them.",
        "No missing links.",
        |p| p.has(MISSING),
    );
    findings(
        data,
        out,
        "Blocked",
        "blocked",
        "A policy names these servers, but an exclude rule always rejects their tokens.",
        "No blocked pairs.",
        |p| p.2 == BLOCKED,
    );
    out.push_str("</section>\n");
}

fn findings(
    data: &AccessData,
    out: &mut String,
    title: &str,
    class: &str,
    about: &str,
    none: &str,
    pick: impl Fn(&PairRow) -> bool,
) {
    let picked: Vec<&PairRow> = data.pairs.iter().filter(|p| pick(p)).collect();
    let _ = writeln!(
        out,
        "<div class=\"finding {class}\">\n<h3>{title} ({})</h3>",
        picked.len()
    );
    if picked.is_empty() {
        let _ = writeln!(out, "<p>{none}</p>\n</div>");
        return;
    }
    let _ = writeln!(out, "<p>{about}</p>\n<ul>");
    for pair in picked.iter().take(LISTED) {
        let from = &data.apps[pair.0 as usize];
        let to = &data.apps[pair.1 as usize];
        let _ = write!(
            out,
            "<li><a href=\"#pair={}\">{} → {}</a>: {}",
            text(&pair_key(from, to)),
            text(from.display()),
            text(to.display()),
            text(&data.labels.access[usize::from(pair.2.min(NOT_GRANTED))])
        );
        let via: Vec<String> = pair
            .4
            .iter()
            .map(|g| {
                let policy = &data.policies[g.0 as usize];
                let blocking: Vec<String> = policy
                    .rules
                    .iter()
                    .zip(g.3.chars())
                    .filter(|((list, _), effect)| *list == EXCLUDE && *effect == '0')
                    .map(|((_, rule), _)| format!("exclude <code>{}</code>", text(rule)))
                    .collect();
                let mut s = format!("“{}” ({})", text(&policy.name), text(&policy.management));
                if !blocking.is_empty() {
                    let _ = write!(s, ", {}", blocking.join(", "));
                }
                s
            })
            .collect();
        if !via.is_empty() {
            let _ = write!(out, " via {}", via.join("; "));
        }
        out.push_str("</li>\n");
    }
    out.push_str("</ul>\n");
    if picked.len() > LISTED {
        let _ = writeln!(
            out,
            "<p>… and {} more: filter the list below to see them all.</p>",
            picked.len() - LISTED
        );
    }
    out.push_str("</div>\n");
}

/// How a link names a pair in the page's address (`#pair=<server uid>><app uid>`).
fn pair_key(from: &AppRow, to: &AppRow) -> String {
    format!("{}>{}", from.1, to.1)
}

fn explorer(data: &AccessData, out: &mut String) {
    let labels = &data.labels.access;
    let _ = write!(
        out,
        r#"<section id="access" class="access" aria-labelledby="access-h">
<h2 id="access-h">Who can reach what</h2>
<noscript><p class="note">The matrix, list and graph are drawn by the page's script, which is off. The summary above does not need it.</p></noscript>
<form class="filters" role="search" aria-label="Filter the pairs" hidden>
<div class="field"><label for="f-server">MCP server</label><input id="f-server" name="server" type="search" list="dl-servers" autocomplete="off" spellcheck="false" placeholder="name or uid"></div>
<div class="field"><label for="f-app">App</label><input id="f-app" name="app" type="search" list="dl-apps" autocomplete="off" spellcheck="false" placeholder="name or uid"></div>
<fieldset class="field"><legend>Access</legend><div class="checks">
<label><input type="checkbox" name="access" value="0" checked> <span class="chip a-granted">✓</span> {}</label>
<label><input type="checkbox" name="access" value="1" checked> <span class="chip a-depends">?</span> {}</label>
<label><input type="checkbox" name="access" value="2" checked> <span class="chip a-blocked">⊘</span> {}</label>
<label><input type="checkbox" name="access" value="3" checked> <span class="chip a-none">–</span> {}</label>
</div></fieldset>
<div class="field"><label for="f-declared">Declared</label><select id="f-declared" name="declared">
<option value="">any</option><option value="yes">declared</option><option value="no">not declared</option>
</select></div>
<div class="field"><button type="reset">Clear the filter</button></div>
</form>
<datalist id="dl-servers"></datalist><datalist id="dl-apps"></datalist>
<p id="shown" class="shown" role="status" aria-live="polite"></p>
<div class="tabs" role="tablist" aria-label="View" hidden>
<button type="button" role="tab" id="tab-matrix" aria-controls="view-matrix" aria-selected="true">Matrix</button><button type="button" role="tab" id="tab-list" aria-controls="view-list" aria-selected="false" tabindex="-1">List</button><button type="button" role="tab" id="tab-graph" aria-controls="view-graph" aria-selected="false" tabindex="-1">Graph</button>
</div>
<div class="views">
<div class="view" id="view-matrix" role="tabpanel" aria-labelledby="tab-matrix" hidden>
<p class="legend"><span class="chip a-granted">✓</span> {} <span class="chip a-depends">?</span> {} <span class="chip a-blocked">⊘</span> {} <span class="chip a-none">–</span> {} <span class="chip undeclared">!</span> not declared <span class="chip missing">–</span> declared but missing. Arrow keys move, Enter shows the policies, Enter on a name filters to it.</p>
<div class="matrix-scroll" id="matrix-scroll"><div class="sizer" id="matrix-sizer"><table id="matrix" class="matrix" role="grid" aria-label="MCP servers (rows) and the apps (columns) that accept their tokens"></table></div></div>
</div>
<div class="view" id="view-list" role="tabpanel" aria-labelledby="tab-list" hidden>
<table class="list" id="list"><caption class="sr">Pairs that match the filter, with the policies behind each</caption>
<thead><tr><th scope="col">MCP server</th><th scope="col">App</th><th scope="col">Access</th><th scope="col">Declared</th><th scope="col">Policies and rules</th></tr></thead><tbody></tbody></table>
<p><button type="button" id="list-more" hidden></button></p>
</div>
<div class="view" id="view-graph" role="tabpanel" aria-labelledby="tab-graph" hidden>
<p class="legend">MCP servers on the left, the apps that accept their tokens on the right. Solid: a policy managed as owner <code>{}</code>; dashed: any other policy; <span class="x">×</span> head: no access. Click an arrow for its policies, a name to filter to it. The list has the same data as a table.</p>
<div class="graph-scroll" id="graph-scroll"><div class="sizer" id="graph-sizer"><svg id="graph" class="graph" role="img" aria-labelledby="graph-title"><title id="graph-title">Access graph</title><defs><marker id="head-ok" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto"><path d="M0 0L10 5L0 10z"/></marker><marker id="head-x" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="11" markerHeight="11" orient="auto"><path d="M1 1L9 9M9 1L1 9" stroke-width="2.2"/></marker></defs><g id="graph-content"></g></svg></div></div>
</div>
<aside class="details" id="details" aria-labelledby="details-h" tabindex="-1">
<h3 id="details-h">Details</h3>
<div id="details-body" aria-live="polite"><p>Select a cell of the matrix, a row of the list or an arrow of the graph to see the policies behind it.</p></div>
</aside>
</div>
</section>
"#,
        text(&labels[0]),
        text(&labels[1]),
        text(&labels[2]),
        text(&labels[3]),
        text(&labels[0]),
        text(&labels[1]),
        text(&labels[2]),
        text(&labels[3]),
        text(&data.owner),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Labels {
        Labels {
            access: [
                "granted".into(),
                "depends on the request".into(),
                "blocked".into(),
                "not granted".into(),
            ],
            effects: Default::default(),
        }
    }

    #[test]
    fn the_summary_lists_undeclared_grants_first_and_escapes_names() {
        let data = AccessData {
            scope: "Everything".into(),
            owner: "platform".into(),
            counts: Counts {
                pairs: 2,
                undeclared: 1,
                blocked: 1,
                ..Counts::default()
            },
            labels: labels(),
            apps: vec![
                AppRow("<bot>".into(), "u1".into(), Some("self_hosted".into())),
                AppRow("wiki".into(), "u2".into(), Some("self_hosted".into())),
            ],
            policies: vec![PolicyRow {
                id: "p".into(),
                name: "Hand-made".into(),
                decision: "non_identity".into(),
                reusable: true,
                managed: false,
                management: "unmanaged".into(),
                rules: vec![(EXCLUDE, "linked_app_token u1".into())],
            }],
            pairs: vec![
                PairRow(
                    0,
                    1,
                    GRANTED,
                    UNDECLARED,
                    vec![GrantRow(0, 1, 0, "2".into())],
                ),
                PairRow(1, 0, BLOCKED, 0, vec![GrantRow(0, 1, 2, "0".into())]),
            ],
        };
        let html = section(&data);
        let undeclared = html.find("Undeclared grants (1)").unwrap();
        let blocked = html.find("Blocked (1)").unwrap();
        assert!(undeclared < blocked);
        assert!(html.contains("&lt;bot&gt; → wiki</a>: granted via “Hand-made” (unmanaged)"));
        assert!(html.contains(
            "wiki → &lt;bot&gt;</a>: blocked via “Hand-made” (unmanaged), exclude <code>linked_app_token u1</code>"
        ));
        assert!(html.contains("No missing links."));
        assert!(!html.contains("<bot>"));
    }
}
