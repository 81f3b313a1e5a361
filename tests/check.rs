//! `mcp-access check` against the simulator: through the library (inventory, resolve,
//! the pure check) for the semantics, and through the binary for flags, formats and
//! exit codes.

use std::future::Future;
use std::io::Write;
use std::time::Duration;

use mcp_access::check::CheckOptions;
use mcp_access::check::output::{undeclared_error, write_report};
use mcp_access::check::{Access, Effect, Format, Management, Pair, Query, Report, RuleList, check};
use mcp_access::cloudflare::{Client, ClientConfig};
use mcp_access::inventory;
use mcp_access::manifest;
use mcp_access::reconcile::{self, ReconcileOptions};
use mcp_access::sim::{Seed, SimConfig, Simulator};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const TIMEOUT: Duration = Duration::from_secs(60);

const MCP_SERVER: &str = "0d5c8f7e-0001-4000-8000-0000000000a1";
const SUPPORT_MCP: &str = "0d5c8f7e-0002-4000-8000-0000000000a2";
const INTERNAL_API: &str = "0d5c8f7e-0004-4000-8000-0000000000a4";
const WIKI: &str = "0d5c8f7e-0005-4000-8000-0000000000a5";
const BILLING: &str = "0d5c8f7e-0006-4000-8000-0000000000a6";
const STATUS: &str = "0d5c8f7e-0007-4000-8000-0000000000a7";
const CI_BOT: &str = "0d5c8f7e-0008-4000-8000-0000000000a8";
const LEGACY_CI: &str = "f1a2b3c4-0003-4000-8000-00000000a003";

/// The demo manifest: two servers, four links (one app shared).
const DEMO: &str = include_str!("../examples/demo.yaml");

async fn timed<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(TIMEOUT, f)
        .await
        .expect("test timed out")
}

/// A simulated account and a client pointed at it.
struct Account {
    sim: Simulator,
    client: Client,
}

impl Account {
    async fn demo() -> Self {
        Self::with(Seed::demo()).await
    }

    async fn with(seed: Seed) -> Self {
        let sim = Simulator::start(SimConfig::default(), seed)
            .await
            .expect("simulator starts");
        let mut cc = ClientConfig::new(
            sim.base_url(),
            sim.account_id(),
            SecretString::from(sim.token().to_owned()),
        );
        cc.request_timeout = Duration::from_secs(5);
        let client = Client::new(cc).unwrap();
        Self { sim, client }
    }

    /// The report `check` gives for `manifest` and `query`, as the command computes it.
    async fn check(&self, manifest: &str, query: Query) -> Report {
        let manifest = manifest::parse_str("test.yaml", manifest, &|_| None).unwrap();
        let inventory = inventory::fetch(&self.client).await.unwrap();
        let owner = manifest.owner.clone().unwrap_or_else(|| "default".into());
        let desired = manifest::resolve(&manifest, &owner, &inventory).unwrap();
        check(&inventory, &desired, &query)
    }

    /// Reconciles with `--adopt`, so the demo's hand-made `support-mcp` grant becomes the
    /// managed one.
    async fn reconcile(&self, text: &str) {
        let mut manifest = manifest::parse_str("test.yaml", text, &|_| None).unwrap();
        manifest.adopt = true;
        let options = ReconcileOptions {
            owner: manifest.owner.clone().unwrap(),
            dry_run: false,
            max_rounds: 3,
            plan: mcp_access::plan::PlanOptions::default(),
        };
        reconcile::reconcile(&self.client, &manifest, &options, &CancellationToken::new())
            .await
            .unwrap();
    }

    /// Adds a policy the way someone would in the dashboard and attaches it to `app`
    /// after the app's other policies.
    fn attach_new_policy(&self, app: &str, policy: &Value) -> String {
        let id = self.sim.insert_policy(policy.clone());
        let link = id.clone();
        self.sim.edit_app(app, move |a| {
            let links = a
                .entry("policies")
                .or_insert_with(|| json!([]))
                .as_array_mut()
                .unwrap();
            let next = links
                .iter()
                .filter_map(|l| l["precedence"].as_u64())
                .max()
                .unwrap_or(0)
                + 1;
            links.push(json!({"id": link, "precedence": next}));
        });
        id
    }
}

fn token_of(uid: &str) -> Value {
    json!({"linked_app_token": {"app_uid": uid}})
}

fn pair<'a>(report: &'a Report, from: &str, to: &str) -> &'a Pair {
    report
        .pairs
        .iter()
        .find(|p| p.from.uid == from && p.to.uid == to)
        .unwrap_or_else(|| panic!("no pair {from} -> {to} in {:#?}", report.pairs))
}

fn everything() -> Query {
    Query::default()
}

#[tokio::test]
async fn declared_links_are_missing_before_reconcile_and_granted_by_managed_policies_after() {
    timed(async {
        let account = Account::demo().await;
        let before = account.check(DEMO, everything()).await;
        let declared = [
            (MCP_SERVER, INTERNAL_API),
            (MCP_SERVER, WIKI),
            (SUPPORT_MCP, WIKI),
            (SUPPORT_MCP, STATUS),
        ];
        for (from, to) in &declared[..3] {
            let p = pair(&before, from, to);
            assert_eq!(p.access, Access::NotGranted);
            assert!(p.declared && p.is_missing() && p.grants.is_empty());
        }
        // The demo's hand-made grant (what `--adopt` takes over) lets support-mcp into
        // the status page before any reconcile.
        let made_by_hand = pair(&before, SUPPORT_MCP, STATUS);
        assert_eq!(made_by_hand.access, Access::Granted);
        assert_eq!(made_by_hand.grants[0].management, Management::Unmanaged);
        // The four declared links plus the demo's undeclared unmanaged grant.
        assert_eq!(before.summary.pairs, 5);
        assert_eq!(before.summary.missing, 3);
        assert_eq!(before.summary.granted, 2);
        assert_eq!(before.summary.undeclared, 1);
        assert!(account.sim.writes().is_empty(), "check never writes");

        account.reconcile(DEMO).await;
        let after = account.check(DEMO, everything()).await;
        assert_eq!(after.summary.missing, 0);
        for (from, to) in declared {
            let p = pair(&after, from, to);
            assert_eq!(p.access, Access::Granted, "{p:#?}");
            assert!(p.declared && p.via_managed() && !p.is_undeclared());
            let [grant] = p.grants.as_slice() else {
                panic!("one grant: {p:#?}")
            };
            assert_eq!(grant.management, Management::Managed("platform".into()));
            assert_eq!(grant.decision, "non_identity");
            assert!(grant.reusable && grant.conditions.is_empty());
            assert!(
                grant
                    .policy_name
                    .starts_with("[mcp-access:platform] MCP server ")
            );
        }
    })
    .await;
}

#[tokio::test]
async fn an_unmanaged_grant_is_reported_with_its_policy_and_as_undeclared() {
    timed(async {
        let account = Account::demo().await;
        let report = account.check(DEMO, everything()).await;
        let p = pair(&report, CI_BOT, BILLING);
        assert_eq!(p.from.name, "ci-bot");
        assert_eq!(p.to.name, "Billing dashboard");
        assert_eq!(p.access, Access::Granted);
        assert!(!p.declared && p.is_undeclared() && !p.via_managed());
        let [grant] = p.grants.as_slice() else {
            panic!("{p:#?}")
        };
        assert_eq!(grant.policy_id, LEGACY_CI);
        assert_eq!(grant.policy_name, "Legacy CI token grant");
        assert_eq!(grant.management, Management::Unmanaged);
        assert_eq!(grant.precedence, 2);

        // Another owner's policy is not ours either.
        account.attach_new_policy(
            STATUS,
            &json!({"name": "[mcp-access:security] MCP server ci-bot", "decision": "non_identity",
                    "include": [token_of(CI_BOT)]}),
        );
        let report = account.check(DEMO, everything()).await;
        let p = pair(&report, CI_BOT, STATUS);
        assert_eq!(
            p.grants[0].management,
            Management::OtherOwner("security".into())
        );
        assert!(p.is_undeclared());
    })
    .await;
}

#[tokio::test]
async fn an_exclude_rule_naming_the_server_blocks_it_and_other_rules_depend_on_the_request() {
    timed(async {
        let account = Account::demo().await;
        account.attach_new_policy(
            STATUS,
            &json!({"name": "Self-cancelling grant", "decision": "non_identity",
                    "include": [token_of(CI_BOT)], "exclude": [token_of(CI_BOT)]}),
        );
        account.attach_new_policy(
            INTERNAL_API,
            &json!({"name": "Closed to all", "decision": "bypass",
                    "include": [token_of(CI_BOT)], "exclude": [{"everyone": {}}]}),
        );
        account.attach_new_policy(
            WIKI,
            &json!({"name": "Not from contractors", "decision": "non_identity",
                    "include": [token_of(CI_BOT)],
                    "exclude": [{"email_domain": {"domain": "contractors.example.com"}}, token_of(SUPPORT_MCP)]}),
        );
        let report = account.check(DEMO, everything()).await;

        let blocked = pair(&report, CI_BOT, STATUS);
        assert_eq!(blocked.access, Access::Blocked);
        assert!(!blocked.is_undeclared(), "a blocked grant lets nothing in");
        assert_eq!(blocked.grants[0].conditions[0].list, RuleList::Exclude);
        assert_eq!(blocked.grants[0].conditions[0].effect, Effect::Blocks);

        let everyone = pair(&report, CI_BOT, INTERNAL_API);
        assert_eq!(everyone.access, Access::Blocked);
        assert_eq!(everyone.grants[0].decision, "bypass");

        let depends = pair(&report, CI_BOT, WIKI);
        assert_eq!(depends.access, Access::DependsOnRequest);
        let effects: Vec<Effect> = depends.grants[0]
            .conditions
            .iter()
            .map(|c| c.effect)
            .collect();
        // Neither the email nor another app's token can be decided without the request.
        assert_eq!(
            effects,
            [Effect::DependsOnRequest, Effect::DependsOnRequest]
        );
        assert!(depends.is_undeclared(), "it may let the token in");
        assert_eq!(report.summary.blocked, 2);
        assert_eq!(report.summary.depends_on_request, 1);
    })
    .await;
}

#[tokio::test]
async fn require_rules_for_the_same_server_are_satisfied_and_others_depend_on_the_request() {
    timed(async {
        let account = Account::demo().await;
        let satisfied = account.attach_new_policy(
            STATUS,
            &json!({"name": "Belt and braces", "decision": "non_identity",
                    "include": [token_of(CI_BOT)], "require": [token_of(CI_BOT)]}),
        );
        account.attach_new_policy(
            WIKI,
            &json!({"name": "Employees via CI", "decision": "non_identity",
                    "include": [token_of(CI_BOT)],
                    "require": [token_of(CI_BOT), {"email_domain": {"domain": "example.com"}}]}),
        );
        let report = account.check(DEMO, everything()).await;

        let p = pair(&report, CI_BOT, STATUS);
        assert_eq!(p.access, Access::Granted);
        assert_eq!(p.grants[0].policy_id, satisfied);
        assert_eq!(p.grants[0].conditions[0].effect, Effect::Satisfied);

        let p = pair(&report, CI_BOT, WIKI);
        assert_eq!(p.access, Access::DependsOnRequest);
        let effects: Vec<(RuleList, Effect)> = p.grants[0]
            .conditions
            .iter()
            .map(|c| (c.list, c.effect))
            .collect();
        assert_eq!(
            effects,
            [
                (RuleList::Require, Effect::Satisfied),
                (RuleList::Require, Effect::DependsOnRequest)
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn any_unconditional_policy_grants_the_pair_and_only_service_auth_or_bypass_grant() {
    timed(async {
        let account = Account::demo().await;
        // A blocked policy first, then an open one on the same app: the open one wins.
        account.attach_new_policy(
            BILLING,
            &json!({"name": "Blocked copy", "decision": "non_identity",
                    "include": [token_of(CI_BOT)], "exclude": [token_of(CI_BOT)]}),
        );
        // `allow` and `deny` policies never accept a linked token.
        account.attach_new_policy(
            STATUS,
            &json!({"name": "Wrong decision", "decision": "allow", "include": [token_of(CI_BOT)]}),
        );
        // Not attached to any app: grants nothing.
        account
            .sim
            .insert_policy(json!({"name": "Unattached", "decision": "non_identity",
                                  "include": [token_of(MCP_SERVER)]}));
        let report = account.check(DEMO, everything()).await;
        let p = pair(&report, CI_BOT, BILLING);
        assert_eq!(p.access, Access::Granted);
        let accesses: Vec<Access> = p.grants.iter().map(|g| g.access).collect();
        assert_eq!(
            accesses,
            [Access::Granted, Access::Blocked],
            "precedence order"
        );
        assert!(
            !report
                .pairs
                .iter()
                .any(|p| p.from.uid == CI_BOT && p.to.uid == STATUS)
        );
        assert_eq!(report.summary.pairs, 5);
    })
    .await;
}

#[tokio::test]
async fn from_and_to_filter_by_name_uid_or_domain_and_bad_names_are_errors() {
    timed(async {
        let mut seed = Seed::demo();
        seed.apps
            .push(json!({"name": "Company wiki", "type": "self_hosted",
                              "domain": "wiki2.example.com"}));
        let account = Account::with(seed).await;
        // The manifest names the wiki by domain now that its name is ambiguous.
        let manifest = DEMO.replace("Company wiki", "{ domain: wiki.example.com }");
        let inventory = inventory::fetch(&account.client).await.unwrap();
        let args = |from: Option<&str>, to: Option<&str>| CheckOptions {
            files: Vec::new(),
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
            format: Format::Text,
            fail_on_undeclared: false,
        };

        let q = args(Some("ci-bot"), None).query(&inventory).unwrap();
        assert_eq!(q.from.as_deref(), Some(CI_BOT));
        let report = account.check(&manifest, q).await;
        assert_eq!(report.pairs.len(), 1);
        assert_eq!(report.pairs[0].to.uid, BILLING);

        let q = args(None, Some(WIKI)).query(&inventory).unwrap();
        let report = account.check(&manifest, q).await;
        let froms: Vec<&str> = report.pairs.iter().map(|p| p.from.uid.as_str()).collect();
        assert_eq!(froms, [MCP_SERVER, SUPPORT_MCP]);

        // Both given: that one pair is answered even with no grant and no declaration.
        let q = args(Some("mcp-server-app"), Some("billing.example.com"))
            .query(&inventory)
            .unwrap();
        let report = account.check(&manifest, q).await;
        assert_eq!(report.pairs.len(), 1);
        assert_eq!(report.pairs[0].access, Access::NotGranted);
        assert!(!report.pairs[0].declared);

        let ambiguous = args(None, Some("Company wiki"))
            .query(&inventory)
            .unwrap_err()
            .to_string();
        assert!(
            ambiguous.contains("--to \"Company wiki\" matches 2 apps"),
            "{ambiguous}"
        );
        assert!(ambiguous.contains(WIKI) && ambiguous.contains("wiki2.example.com"));

        let typo = args(Some("ci-bto"), None)
            .query(&inventory)
            .unwrap_err()
            .to_string();
        assert!(typo.contains("--from \"ci-bto\": no app"), "{typo}");
        assert!(typo.contains("did you mean \"ci-bot\"?"), "{typo}");
    })
    .await;
}

/// The demo account with a hand-made wiki policy that lets `ci-bot` in for
/// `@example.com` users only, after reconcile: every kind of edge in one report. (The
/// account docs/check.md's example runs against: `seed_for` in tests/docs.rs.)
async fn reconciled_with_conditional_ci_grant() -> Report {
    let account = Account::demo().await;
    account.attach_new_policy(
        WIKI,
        &json!({"name": "Employees via CI", "decision": "non_identity",
                "include": [token_of(CI_BOT)],
                "require": [{"email_domain": {"domain": "example.com"}}]}),
    );
    account.reconcile(DEMO).await;
    account.check(DEMO, everything()).await
}

fn render(report: &Report, format: Format) -> String {
    let mut out = Vec::new();
    write_report(report, format, false, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn the_text_report_groups_by_server_and_names_policies_and_conditions() {
    timed(async {
        let report = reconciled_with_conditional_ci_grant().await;
        let text = render(&report, Format::Text);
        assert!(text.contains("MCP server \"ci-bot\""), "{text}");
        assert!(
            text.contains("-> \"Billing dashboard\""),
            "{text}"
        );
        assert!(text.contains("granted"), "{text}");
        assert!(text.contains("NOT DECLARED in the manifest"), "{text}");
        assert!(text.contains(
            "via \"Legacy CI token grant\" (non_identity, unmanaged, precedence 2): granted"
        ));
        assert!(text.contains("managed by platform"), "{text}");
        assert!(text.contains(
            "require email_domain example.com: depends on the request (must also match)"
        ));
        assert!(text.contains(
            "6 pair(s): 5 granted, 1 depending on the request, 0 blocked; 0 declared but missing, 2 granted but not declared."
        ), "{text}");

        // The examples in docs/check.md are this report, verbatim.
        let docs = include_str!("../docs/check.md");
        let block = |start: &str| {
            let start = docs.find(start).expect("docs/check.md has the example") + start.len();
            docs[start..start + docs[start..].find("```").unwrap()].to_owned()
        };
        let shown = block("$ mcp-access check -f examples/demo.yaml\n");
        assert_eq!(shown.trim_end(), text.trim_end(), "docs/check.md text example");
        let md_example = block("```mermaid\n");
        assert!(
            render(&report, Format::Markdown).contains(&md_example),
            "README check mermaid example:\n{md_example}"
        );

    })
    .await;
}

#[tokio::test]
async fn the_json_report_carries_every_field() {
    timed(async {
        let report = reconciled_with_conditional_ci_grant().await;
        let json: Value = serde_json::from_str(&render(&report, Format::Json)).unwrap();
        assert_eq!(json["owner"], "platform");
        assert_eq!(json["summary"]["undeclared"], 2);
        let ci = json["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["from"]["uid"] == CI_BOT && p["to"]["uid"] == BILLING)
            .unwrap();
        assert_eq!(ci["access"], "granted");
        assert_eq!(ci["declared"], false);
        assert_eq!(ci["grants"][0]["management"], json!({"kind": "unmanaged"}));
        let wiki = json["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["from"]["uid"] == CI_BOT && p["to"]["uid"] == WIKI)
            .unwrap();
        assert_eq!(wiki["access"], "depends_on_request");
        assert_eq!(
            wiki["grants"][0]["conditions"][0],
            json!({"list": "require", "rule": {"email_domain": {"domain": "example.com"}},
                   "effect": "depends_on_request"})
        );
    })
    .await;
}

#[tokio::test]
async fn the_markdown_report_draws_managed_edges_solid_and_others_dashed() {
    timed(async {
        let report = reconciled_with_conditional_ci_grant().await;
        let md = render(&report, Format::Markdown);
        assert!(md.contains("```mermaid\nflowchart LR\n"), "{md}");
        // Nodes in report order: servers first, then the apps they reach.
        assert!(md.contains("n0[\"ci-bot <br> (self-hosted app)\"]"), "{md}");
        assert!(md.contains("[\"support-mcp <br> (Access for SaaS app)\"]"), "{md}");
        let node = |name: &str| {
            md.lines()
                .find(|l| l.contains(&format!("[\"{name} <br>")))
                .and_then(|l| l.split('[').next())
                .unwrap()
                .to_owned()
        };
        let (ci_bot, billing, mcp, api, wiki) = (
            node("ci-bot"),
            node("Billing dashboard"),
            node("mcp-server-app"),
            node("Internal API"),
            node("Company wiki"),
        );
        // Managed grants solid, unmanaged dashed, with what needs a look on the label.
        assert!(md.contains(&format!("{mcp} --> {api}\n")), "{md}");
        assert!(
            md.contains(&format!("{ci_bot} -.->|\"undeclared\"| {billing}\n")),
            "{md}"
        );
        assert!(
            md.contains(&format!(
                "{ci_bot} -.->|\"depends on the request, undeclared\"| {wiki}\n"
            )),
            "{md}"
        );
        assert!(md.contains("| MCP server | App | Access | Declared | Policy | Managed | Conditions |"));
        assert!(md.contains(
            "| ci-bot | Billing dashboard | granted | **no** | Legacy CI token grant (non_identity, granted) | unmanaged |  |"
        ), "{md}");
    })
    .await;
}

#[tokio::test]
async fn markdown_marks_missing_and_blocked_links_with_a_cross() {
    timed(async {
        let account = Account::demo().await;
        account.attach_new_policy(
            STATUS,
            &json!({"name": "Self-cancelling grant", "decision": "non_identity",
                    "include": [token_of(CI_BOT)], "exclude": [token_of(CI_BOT)]}),
        );
        let report = account.check(DEMO, everything()).await;
        let mut out = Vec::new();
        write_report(&report, Format::Markdown, false, &mut out).unwrap();
        let md = String::from_utf8(out).unwrap();
        // Three of the four declared links: the demo's hand-made grant lets support-mcp
        // into the status page already.
        assert_eq!(md.matches("--x|\"missing\"|").count(), 3, "{md}");
        assert_eq!(md.matches("-.-x|\"blocked\"|").count(), 1, "{md}");
    })
    .await;
}

#[tokio::test]
async fn fail_on_undeclared_names_every_undeclared_grant() {
    timed(async {
        let account = Account::demo().await;
        let report = account.check(DEMO, everything()).await;
        let error = undeclared_error(&report)
            .expect("the legacy CI grant")
            .to_string();
        assert!(error.contains("1 link(s)"), "{error}");
        assert!(
            error.contains("\"ci-bot\" -> \"Billing dashboard\" (via \"Legacy CI token grant\")"),
            "{error}"
        );

        let declared = format!("{DEMO}  - app: ci-bot\n    downstream: [Billing dashboard]\n");
        let report = account.check(&declared, everything()).await;
        assert!(undeclared_error(&report).is_none());
        assert!(pair(&report, CI_BOT, BILLING).declared);
    })
    .await;
}

// ---- the binary ---------------------------------------------------------------------

fn manifest_file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

/// Runs the binary against the simulator off the runtime's threads, so the test's
/// timeout covers it.
async fn run_cli(sim: &Simulator, args: &[&str]) -> (i32, String, String) {
    let mut cmd = assert_cmd::Command::cargo_bin("mcp-access").unwrap();
    cmd.env_clear()
        .env("CLOUDFLARE_API_BASE_URL", sim.base_url())
        .env("CLOUDFLARE_ACCOUNT_ID", sim.account_id())
        .env("CLOUDFLARE_API_TOKEN", sim.token())
        .env("NO_COLOR", "1")
        .args(args)
        .timeout(TIMEOUT);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_fails_on_undeclared_access_only_when_asked() {
    timed(async {
        let account = Account::demo().await;
        let file = manifest_file(DEMO);
        let path = file.path().to_str().unwrap();

        let (code, out, _) = run_cli(&account.sim, &["check", "-f", path]).await;
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("NOT DECLARED"), "{out}");
        assert!(!out.contains('\u{1b}'), "no colour with NO_COLOR");

        let (code, out, err) =
            run_cli(&account.sim, &["check", "-f", path, "--fail-on-undeclared"]).await;
        assert_eq!(code, 1, "{out}{err}");
        assert!(
            out.contains("Legacy CI token grant"),
            "the report is still written: {out}"
        );
        assert!(
            err.contains(
                "--fail-on-undeclared: the account grants 1 link(s) the manifest does not declare"
            ),
            "{err}"
        );
        assert!(!err.contains(account.sim.token()));

        let declared = manifest_file(&format!(
            "{DEMO}  - app: ci-bot\n    downstream: [Billing dashboard]\n"
        ));
        let (code, _, err) = run_cli(
            &account.sim,
            &[
                "check",
                "-f",
                declared.path().to_str().unwrap(),
                "--fail-on-undeclared",
            ],
        )
        .await;
        assert_eq!(code, 0, "{err}");
        assert!(account.sim.writes().is_empty(), "check never writes");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_filters_and_writes_json_and_markdown() {
    timed(async {
        let account = Account::demo().await;
        let file = manifest_file(DEMO);
        let path = file.path().to_str().unwrap();

        let (code, out, err) = run_cli(
            &account.sim,
            &[
                "check", "-f", path, "--from", "ci-bot", "--to", BILLING, "--output", "json",
            ],
        )
        .await;
        assert_eq!(code, 0, "{err}");
        let json: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(json["from"]["name"], "ci-bot");
        assert_eq!(json["to"]["uid"], BILLING);
        assert_eq!(json["pairs"].as_array().unwrap().len(), 1);
        assert_eq!(
            json["pairs"][0]["grants"][0]["policy_name"],
            "Legacy CI token grant"
        );

        let (code, out, _) = run_cli(
            &account.sim,
            &[
                "check",
                "-f",
                path,
                "--to",
                "Company wiki",
                "--output",
                "markdown",
            ],
        )
        .await;
        assert_eq!(code, 0);
        assert!(out.starts_with("## MCP access check\n"), "{out}");
        assert!(out.contains("Tokens accepted by `Company wiki`"), "{out}");
        assert_eq!(out.matches("--x|\"missing\"|").count(), 2, "{out}");
        assert!(!out.contains("Billing"), "filtered out: {out}");

        let (code, _, err) =
            run_cli(&account.sim, &["check", "-f", path, "--from", "nobody"]).await;
        assert_eq!(code, 1);
        assert!(err.contains("--from \"nobody\": no app"), "{err}");
    })
    .await;
}
